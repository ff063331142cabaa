//! Pipeline profiles: the data that tells the pipeline what to do at one kind of station.
//!
//! A profile is a TOML file in `pipelines/`, read at run time, so a center changes behaviour by editing
//! a file rather than the code. Its SHA-256 is recorded with every capture and job, and its text is kept in
//! the database, so a job is always re-run with the exact profile it was queued under.

mod check;
mod connector;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use check::{ProfileError, line_of};
pub use connector::{Connector, ConnectorAuth, ConnectorKind};

/// The counter profile, built into the binary so that `sohoa` runs with no files around it.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../pipelines/counter.toml");

/// One loaded profile together with the text it came from.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The parsed settings.
    pub settings: Settings,
    /// The exact source text, kept so jobs can be re-run under it.
    pub text: String,
    /// Lower-case hex SHA-256 of `text`.
    pub sha256: String,
}

impl Profile {
    /// Parses and validates profile text; every problem is returned, each with its line.
    pub fn parse(text: &str) -> Result<Profile, Vec<ProfileError>> {
        let settings = check::parse_and_validate(text)?;
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        Ok(Profile { settings, text: text.to_string(), sha256 })
    }

    /// Reads a profile from disk. The error lists every problem, formatted `file:line: message`.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read profile {}: {e}", path.display()))?;
        Profile::parse(&text).map_err(|errors| {
            let lines: Vec<String> =
                errors.iter().map(|e| format!("{}:{}: {}", path.display(), e.line, e.message)).collect();
            anyhow::anyhow!("profile {} is invalid:\n{}", path.display(), lines.join("\n"))
        })
    }

    /// The built-in counter profile.
    pub fn embedded_default() -> Profile {
        match Profile::parse(EMBEDDED_DEFAULT) {
            Ok(p) => p,
            // The embedded text is checked by a unit test; reaching this is a build defect.
            Err(errors) => panic!("embedded counter profile is invalid: {errors:?}"),
        }
    }

    /// The profile's name, as recorded with each capture.
    pub fn name(&self) -> &str {
        &self.settings.name
    }
}

/// Everything a profile can say. Every section is optional; defaults suit a counter station.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Short name, recorded with every capture (e.g. `counter`).
    pub name: String,
    /// Free text for people reading the file.
    #[serde(default)]
    pub description: String,
    /// Who is capturing.
    #[serde(default)]
    pub station: Station,
    /// Where scans arrive and what happens to them after capture.
    #[serde(default)]
    pub inbox: Inbox,
    /// How a page finds its case.
    #[serde(default)]
    pub routing: Routing,
    /// How pages are grouped into documents.
    #[serde(default)]
    pub grouping: Grouping,
    /// Separator sheets between the dossiers of a scanned stack.
    #[serde(default)]
    pub separators: Separators,
    /// How pages are encoded and checked.
    #[serde(default)]
    pub output: Output,
    /// Where the folder view of quarantined inputs goes.
    #[serde(default)]
    pub quarantine: Quarantine,
    /// How the service runs.
    #[serde(default)]
    pub service: Service,
    /// A searchable text layer added to attached PDFs, after attach.
    #[serde(default)]
    pub ocr: Ocr,
    /// Where attached documents are delivered (the one-stop system); none, they stay in the outbox.
    #[serde(default)]
    pub connector: Option<Connector>,
}

/// Text recognition after attach: a background job per attached document gives its PDF an invisible
/// text layer in a new version and stores each page's text for search. Off by default: it costs
/// seconds of a core per page, and the counter never waits for it either way.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ocr {
    /// Recognise the text of attached documents.
    pub enabled: bool,
    /// Tesseract's languages, `+` between them (Debian packages `tesseract-ocr-vie`, `-eng`).
    pub languages: String,
    /// Only documents of these roles (`input`, `result`); empty: both.
    pub roles: Vec<DocRole>,
    /// Only documents of these types (as the catalogue spells them); empty: every type.
    pub types: Vec<String>,
    /// The resolution pages are drawn at for recognition: 300 is what Tesseract reads best.
    pub dpi: u32,
    /// A page whose words' mean confidence (0–100) is below this is flagged "text may be unreliable"
    /// on the case page, so a clerk can scan it again.
    pub min_confidence: f64,
    /// The share of the cores OCR may use at once (each OCR job takes one); at least one job runs.
    pub cores: f64,
}

impl Default for Ocr {
    fn default() -> Self {
        Ocr {
            enabled: false,
            languages: "vie+eng".into(),
            roles: Vec::new(),
            types: Vec::new(),
            dpi: 300,
            min_confidence: 70.0,
            cores: 0.5,
        }
    }
}

impl Ocr {
    /// Whether a document of this role and type is recognised.
    pub fn wants(&self, role: DocRole, doc_type: Option<&str>) -> bool {
        let fold = |t: &str| crate::util::text::fold(t);
        self.enabled
            && (self.roles.is_empty() || self.roles.contains(&role))
            && (self.types.is_empty() || doc_type.is_some_and(|t| self.types.iter().any(|w| fold(w) == fold(t))))
    }

    /// How many OCR jobs may run at once on a machine with `cores` cores.
    pub fn jobs_at_once(&self, cores: usize) -> usize {
        ((cores as f64 * self.cores.clamp(0.0, 1.0)).floor() as usize).max(1)
    }
}

/// Identity of the capturing station.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Station {
    /// Station id recorded with each capture (e.g. `quay-01`).
    pub id: String,
    /// Operator recorded when no manifest names one.
    pub operator: Option<String>,
    /// Offset used for dates written into records and PDFs, e.g. `+07:00`.
    pub utc_offset: String,
    /// The unit this station serves (e.g. `H15.50.05.13`): a scan it captures without a case belongs
    /// to that unit, and only that unit's clerks (or unlimited ones) see and file it.
    pub unit: Option<String>,
}

impl Default for Station {
    fn default() -> Self {
        Station { id: "station-1".into(), operator: None, utc_offset: "+07:00".into(), unit: None }
    }
}

/// What happens to an inbox file once its capture is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterCapture {
    /// Delete it from the inbox (scanner stations: the inbox empties itself).
    Remove,
    /// Leave it where it is (archive runs over a tree the clerk owns).
    Keep,
}

/// The inbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Inbox {
    /// Folder scanned by `serve`; `ingest` takes its folder from the command line.
    pub path: PathBuf,
    /// What to do with an input after its capture is committed.
    pub after_capture: AfterCapture,
    /// Extra file-name patterns to ignore (`*` matches any run of characters), e.g. scanner partials.
    pub ignore: Vec<String>,
    /// `native` (inotify: local disks) or `poll` (network shares, which deliver no events).
    pub watch: WatchMode,
    /// How often `poll` mode looks at the folder, in milliseconds.
    pub poll_interval_ms: u64,
    /// A full rescan of the folder every this many seconds, whatever the mode: the safety net for
    /// missed events.
    pub rescan_seconds: u64,
    /// A file its writer has not been seen to close is taken once its size and modification time have
    /// not changed for this long (milliseconds).
    pub stable_ms: u64,
}

/// How an inbox notices new files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// File-system events (inotify), plus the periodic rescan.
    Native,
    /// Looking at the folder every `poll_interval_ms`: for SMB/NFS shares.
    Poll,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            path: "inbox".into(),
            after_capture: AfterCapture::Keep,
            ignore: Vec::new(),
            watch: WatchMode::Native,
            poll_interval_ms: 1000,
            rescan_seconds: 60,
            stable_ms: 2000,
        }
    }
}

stored_words! {
    /// Whether a document is an input (thành phần hồ sơ) or a result (kết quả).
    #[derive(Default)]
    pub enum DocRole {
        /// A document the citizen brought.
        #[default]
        Input = "input",
        /// A document the office issued.
        Result = "result",
    }
}

/// How a page finds its case.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Regular expression a case code must match (after NFC normalization and trimming).
    pub case_code_pattern: String,
    /// Check that the `yymmdd` part of a code is a real date.
    pub check_code_date: bool,
    /// Take the case from the parent folder's name when it is a valid code.
    pub folder_names: bool,
    /// Regular expression with a named group `code` applied to the file name, tried after folders.
    pub filename_pattern: Option<String>,
    /// Role of documents when no manifest says otherwise.
    pub role: DocRole,
    /// Document type when no manifest says otherwise.
    pub document_type: Option<String>,
}

/// The one-stop system's code form: `{unit}-{yymmdd}-{sequence}`.
pub const DEFAULT_CASE_CODE_PATTERN: &str = r"^[A-Z0-9]+(\.[A-Z0-9]+)*-[0-9]{6}-[0-9]{4,7}$";

impl Default for Routing {
    fn default() -> Self {
        Routing {
            case_code_pattern: DEFAULT_CASE_CODE_PATTERN.into(),
            check_code_date: true,
            folder_names: true,
            filename_pattern: None,
            role: DocRole::Input,
            document_type: None,
        }
    }
}

/// When a group of pages is closed into one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentRule {
    /// Every input file is one document (multi-page TIFF/PDF from the scanner).
    File,
    /// All files of one folder and case form one document, closed after `idle_seconds` without a new
    /// file (and at the end of an `ingest` run).
    Folder,
    /// Like `folder`, but the document closes when the marker file (e.g. `.done`) appears.
    Marker,
}

/// Grouping of pages into documents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grouping {
    /// The rule that closes a document.
    pub document: DocumentRule,
    /// With `folder`: seconds without a new file after which the document closes.
    pub idle_seconds: u64,
    /// With `marker`: the file name that closes the folder's document; it is removed once honoured.
    pub marker: String,
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping { document: DocumentRule::File, idle_seconds: 30, marker: ".done".into() }
    }
}

/// Separator sheets: a page with a QR code, Code 128 or DataMatrix carrying a case code starts that
/// case's dossier; a PATCH-T sheet starts a new document of the same dossier; a sheet whose code
/// cannot be read starts a stretch of unfiled pages (never merged into a neighbour). With any of this
/// on, the pages of one folder form one stack, in file-name order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Separators {
    /// Look at every page for a separator sheet.
    pub detect: bool,
    /// Keep the sheets in the PDFs (they are always kept in the record).
    pub keep_in_pdf: bool,
    /// Start a new document every this many pages (stacks without sheets); 0 = never.
    pub every: u32,
}

impl Separators {
    /// Whether pages of this profile form stacks.
    pub fn stacked(&self) -> bool {
        self.detect || self.every > 0
    }
}

/// How `sohoa serve` runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Service {
    /// Job workers; 0 means two per core (a job waits on the disk and the database part of its time).
    pub workers: usize,
    /// Files detected but not yet captured, at most; the watcher waits when the queue is full.
    pub queue: usize,
    /// Blobs written but never recorded (a crash between write and commit) are removed after this long.
    pub sweep_grace_seconds: u64,
    /// The largest scan a station may upload over HTTP, in megabytes; larger uploads are refused (413)
    /// and nothing of them is kept.
    pub upload_max_mb: u64,
    /// A job that was running this many times when the service died (or that panicked as often) is a
    /// poison job: its input is quarantined (`crashed`) instead of being run again. 0 never sets one
    /// aside (a test that kills the service at random, where the deaths are not the jobs' doing).
    pub poison_after: u32,
}

impl Default for Service {
    fn default() -> Self {
        Service { workers: 0, queue: 256, sweep_grace_seconds: 600, upload_max_mb: 200, poison_after: 2 }
    }
}

/// What to do with a page below the minimum resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LowDpi {
    /// Keep it, with a flag in its record.
    Flag,
    /// Quarantine the whole input.
    Quarantine,
}

/// How pages that need re-encoding (not JPEG, not 1-bit) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContoneEncoding {
    /// Lossless Flate at a fast level.
    Flate,
    /// JPEG at `jpeg_quality`.
    Jpeg,
}

/// The kind of PDF written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PdfKind {
    /// PDF/A-2b (ISO 19005-2, level B): the archival default.
    #[serde(rename = "pdfa-2b")]
    PdfA2b,
    /// PDF/A-1b (ISO 19005-1, TCVN 14159-1): PDF 1.4, classic xref table, an ICC v2 output intent.
    #[serde(rename = "pdfa-1b")]
    PdfA1b,
    /// Plain PDF 1.7, no archival constraints (CMYK kept as it is).
    #[serde(rename = "plain")]
    Plain,
}

/// Encoding and acceptance rules for pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Resolution assumed when a file carries none (the page is flagged, never silently 96 dpi).
    pub default_dpi: u32,
    /// Pages below this resolution are flagged or quarantined.
    pub min_dpi: u32,
    /// What to do below `min_dpi`.
    pub below_min_dpi: LowDpi,
    /// Largest page accepted, in pixels; checked from headers before any decode (decompression bombs).
    pub max_pixels: u64,
    /// Largest input file accepted, in bytes.
    pub max_bytes: u64,
    /// Most mebibytes a born-digital PDF's compressed streams may inflate to, all together, when it is
    /// read whole before it is attached; a quarter of it bounds any one object or cross-reference
    /// stream while the PDF is opened. Past it the file is a decompression bomb (`pdf-bomb`).
    pub max_inflate_mb: u64,
    /// Most mebibytes the pages being decoded at once may take, across every document the process is
    /// making (`util::memory`): pages wait for room rather than add up. The largest value among the
    /// profiles a process loads applies. A single page needing more still runs, alone.
    pub page_memory_mb: u64,
    /// Encoding of gray and colour pages that are not JPEG already.
    pub contone: ContoneEncoding,
    /// JPEG quality (1–100) when `contone = "jpeg"`.
    pub jpeg_quality: u8,
    /// Flate level (1–9); 6 is the sweet spot, 9 costs seconds per page for little gain.
    pub flate_level: u32,
    /// `pdfa-2b` (default), `pdfa-1b` or `plain`.
    pub pdf: PdfKind,
    /// Also write one PDF per case (`<code>.pdf`) with a bookmark per document, rebuilt as documents
    /// are attached.
    pub case_bundle: bool,
    /// `keep`: pages go in as scanned (lossless first). `auto`: each page is classified — text pages
    /// become 1-bit G4, text with a seal or signature becomes G4 plus small colour images, photos stay
    /// contone — for archive copies a tenth of the size with seals still in colour. `bitonal` or `gray`
    /// force that mode on every page.
    pub colour_mode: ColourPolicy,
    /// `keep` (no detection), `flag` (detect and record), `omit` (detect, record, and leave blank pages out
    /// of the PDF — never deleted: the image and the verdict stay in the record).
    pub blank_pages: BlankPolicy,
    /// Store a PDF that embeds a scan as it is as a recipe referring to the stored original: the scan's
    /// bytes are written (and fsynced) once, not twice. Reading the PDF gives the same bytes.
    pub reference_originals: bool,
    /// Show attached PDFs as files under `<data>/cases/<code>/`. A PDF that refers to its original is
    /// written out in full for the view (a hard link otherwise): bulk runs can turn this off and use
    /// `sohoa export` instead.
    pub case_folder_view: bool,
    /// Straighten pages scanned askew (up to ±7°, only when text lines make the angle certain), by
    /// turning them in the PDF's placement matrix: the scan's bytes are not touched.
    pub deskew: bool,
    /// Show pages upright: a JPEG's EXIF orientation first; otherwise pages scanned sideways (90°/270°)
    /// or upside down (180°), judged from their text lines (the 180° judgement abstains when unsure);
    /// the page's image is not touched (PDF /Rotate).
    pub orientation: bool,
    /// With `orientation`: a page whose letters leave its orientation unsure is shown to Tesseract's
    /// orientation detector (the `tesseract-ocr` package), and turned only on its strong answer.
    /// Costs about a second for such a page (one in six); without Tesseract the page stays as scanned.
    pub orientation_tesseract: bool,
    /// Take the dark scanner border (a black lid showing around the paper) off: whole dark bands along
    /// the edges only, never into content.
    pub borders: bool,
    /// Bring pages scanned above this resolution down to it (they are re-encoded); 0 keeps every
    /// page's resolution.
    pub target_dpi: u32,
    /// Code a JPEG that goes in unchanged with Huffman tables fitted to it (`jpegtran -optimize`): the
    /// same pixels, several percent smaller, but no longer the scan's own bytes (the original stays
    /// stored and referenced in the record).
    pub optimize_jpeg: bool,
    /// Code 1-bit pages as lossless JBIG2 (every pixel coded, no symbol matching) when that is smaller
    /// than CCITT G4 — about a fifth smaller for text. PDF/A-1 and -2 both allow it.
    pub jbig2: bool,
}

/// What to do with blank pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlankPolicy {
    /// No detection (the counter's fast path: no decoding of JPEGs).
    Keep,
    /// Detected and flagged in the page record; kept in the PDF.
    Flag,
    /// Detected, flagged, and left out of the PDF.
    Omit,
}

/// What to do with a page's colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourPolicy {
    /// As scanned.
    Keep,
    /// Classified per page (bitonal, mixed, gray, colour).
    Auto,
    /// Every page 1-bit (Sauvola, despeckled, G4): colour and gray are not kept.
    Bitonal,
    /// Every page gray (contone pages as gray JPEG).
    Gray,
}

impl Output {
    /// Whether a page at `dpi` is brought down to `target_dpi` (more than 10% above it).
    pub fn resamples(&self, dpi: f64) -> bool {
        self.target_dpi > 0 && dpi > self.target_dpi as f64 * 1.1
    }
}

impl ColourPolicy {
    /// Whether pages are looked at (and re-encoded when their mode calls for it).
    pub fn decides(self) -> bool {
        self != ColourPolicy::Keep
    }
}

impl Default for Output {
    fn default() -> Self {
        Output {
            default_dpi: 300,
            min_dpi: 200,
            below_min_dpi: LowDpi::Flag,
            max_pixels: 150_000_000,
            max_bytes: 100 * 1024 * 1024,
            max_inflate_mb: 256,
            page_memory_mb: crate::util::memory::DEFAULT_MB,
            contone: ContoneEncoding::Flate,
            jpeg_quality: 85,
            flate_level: 6,
            pdf: PdfKind::PdfA2b,
            case_bundle: false,
            colour_mode: ColourPolicy::Keep,
            blank_pages: BlankPolicy::Keep,
            reference_originals: true,
            case_folder_view: true,
            deskew: false,
            orientation: false,
            orientation_tesseract: true,
            borders: false,
            target_dpi: 0,
            optimize_jpeg: false,
            jbig2: false,
        }
    }
}

/// The folder view of quarantined inputs.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Quarantine {
    /// Folder that receives a copy of each quarantined input and its `.error.json`; default
    /// `<data dir>/quarantine`. A relative path is inside the data folder.
    pub path: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let p = Profile::embedded_default();
        assert_eq!(p.name(), "counter");
    }
}
