//! A streaming PDF writer: each page's image, content and page object go to the output as soon as they
//! are produced; only object locations (a few bytes each), page ids and at most one pack of small
//! objects stay in memory, so a 2,000-page file costs what one page costs. lopdf serializes the objects;
//! this file owns the layout, which keeps the output deterministic and ready for an incremental update
//! (a signature) without rewriting anything.
//!
//! Two layouts: PDF/A-1b (TCVN 14159-1) gets a classic xref table and every object at top level, as
//! PDF/A-1 requires; PDF/A-2b and plain PDF pack the small dictionaries (pages, page tree, catalog,
//! Info, bookmarks) into compressed object streams and end with a compressed xref stream, which is
//! what makes a lossless file no larger than img2pdf's despite the PDF/A metadata. Pages that show
//! their image the same way share one content stream in both layouts.

use std::collections::HashMap;
use std::io::{self, Write};

use lopdf::{Dictionary, Object, StringFormat, Writer};
use sha2::{Digest, Sha256};

use super::xmp;
use crate::encode::{ColourSpace, EncodedImage, EncodedPage, Filter};
use crate::error::{Code, Failure, Result};
use crate::profile::PdfKind;

/// The sRGB profile of the PDF/A output intent (ICC v2, from icc-profiles-free; zlib licence).
pub const SRGB_ICC: &[u8] = include_bytes!("sRGB.icc");

/// Document information written into the Info dictionary and, for PDF/A, the XMP metadata.
#[derive(Debug, Clone)]
pub struct DocInfo {
    /// PDF/A-2b, PDF/A-1b or plain.
    pub kind: PdfKind,
    /// Title, e.g. the case code and document type (Vietnamese as UTF-16BE).
    pub title: String,
    /// Subject.
    pub subject: String,
    /// Creator: the station or unit.
    pub creator: String,
    /// Keywords.
    pub keywords: String,
    /// The creation date as RFC 3339 with offset, derived from the record, never from the clock.
    pub date: Option<time::OffsetDateTime>,
    /// 16 bytes identifying the document, derived from its content in the record.
    pub id: [u8; 16],
    /// Archival fields (Nghị định 30/2020, Thông tư 02/2019) in the sohoa XMP namespace.
    pub archival: Vec<(&'static str, String)>,
    /// `name sha256` of each source file.
    pub sources: Vec<String>,
    /// Bookmarks: title and 0-based page index.
    pub outline: Vec<(String, usize)>,
}

impl DocInfo {
    /// Empty information for a document of `kind`.
    pub fn new(kind: PdfKind) -> DocInfo {
        DocInfo {
            kind,
            title: String::new(),
            subject: String::new(),
            creator: String::new(),
            keywords: String::new(),
            date: None,
            id: [0; 16],
            archival: Vec::new(),
            sources: Vec::new(),
            outline: Vec::new(),
        }
    }
}

/// Where a PDF goes. A sink that can refer to stored blobs lets a passed-through scan be stored once.
pub trait PdfSink: Write {
    /// Appends stored blob `sha256`, whose bytes are `data`, by reference; false when the sink cannot.
    fn refer(&mut self, _sha256: &str, _data: &[u8]) -> io::Result<bool> {
        Ok(false)
    }
}

impl PdfSink for Vec<u8> {}

struct Counting<W> {
    inner: W,
    pos: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

const CATALOG: u32 = 1;
const PAGES: u32 = 2;
/// Objects per object stream: enough to compress well, few enough to keep a pack small in memory.
const PACK: usize = 100;
/// Distinct content streams remembered for sharing; scans of one size and geometry need one.
const SHARED_CONTENTS: usize = 64;

/// Where an object lives, for the cross-reference section.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Allocated, not written yet.
    Pending,
    /// At this byte offset of the file.
    At(u64),
    /// Entry `index` of object stream `stream`.
    Packed { stream: u32, index: u16 },
}

/// Writes one PDF, page by page.
pub struct PdfWriter<W: Write> {
    out: Counting<W>,
    kind: PdfKind,
    slots: Vec<Slot>,
    pages: Vec<u32>,
    output_icc: Option<u32>,
    image_icc: HashMap<[u8; 32], u32>,
    /// Serialized small objects waiting for their object stream (PDF/A-2b and plain only).
    pack: Vec<(u32, Vec<u8>)>,
    contents: HashMap<String, u32>,
}

fn io_err(e: impl Into<anyhow::Error>) -> Failure {
    Failure::transient("writing a PDF", e)
}

fn name(n: &str) -> Object {
    Object::Name(n.as_bytes().to_vec())
}

/// The sRGB profile, compressed: the output intent of every PDF/A, compressed once per process.
fn packed_srgb() -> Result<&'static [u8]> {
    static PACKED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    if let Some(p) = PACKED.get() {
        return Ok(p);
    }
    let p = crate::encode::flate(SRGB_ICC, 6)?;
    Ok(PACKED.get_or_init(|| p))
}

impl<W: PdfSink> PdfWriter<W> {
    /// Starts a PDF (1.4 for PDF/A-1b, else 1.7); the binary comment marks it as binary for transfer
    /// tools, as PDF/A requires. For PDF/A the output intent's ICC profile is written first.
    pub fn new(out: W, kind: PdfKind) -> Result<PdfWriter<W>> {
        let mut w = PdfWriter {
            out: Counting { inner: out, pos: 0 },
            kind,
            slots: vec![Slot::Pending, Slot::Pending],
            pages: Vec::new(),
            output_icc: None,
            image_icc: HashMap::new(),
            pack: Vec::new(),
            contents: HashMap::new(),
        };
        let version: &[u8] = if kind == PdfKind::PdfA1b { b"%PDF-1.4\n" } else { b"%PDF-1.7\n" };
        w.out.write_all(version).map_err(io_err)?;
        w.out.write_all(b"%\xE2\xE3\xCF\xD3\n").map_err(io_err)?;
        if kind != PdfKind::Plain {
            let id = w.icc_stream(SRGB_ICC, 3)?;
            w.output_icc = Some(id);
        }
        Ok(w)
    }

    fn alloc(&mut self) -> u32 {
        self.slots.push(Slot::Pending);
        self.slots.len() as u32
    }

    fn begin(&mut self, id: u32) -> Result<()> {
        self.slots[(id - 1) as usize] = Slot::At(self.out.pos);
        writeln!(self.out, "{id} 0 obj").map_err(io_err)
    }

    /// Object streams and an xref stream: everywhere but PDF/A-1, which forbids both.
    fn packs(&self) -> bool {
        self.kind != PdfKind::PdfA1b
    }

    /// Writes a non-stream object: into the current object stream where the layout packs, else at top level.
    fn object(&mut self, id: u32, obj: Object) -> Result<()> {
        if self.packs() {
            let mut bytes = Vec::new();
            Writer::write_object(&mut bytes, &obj).map_err(io_err)?;
            self.pack.push((id, bytes));
            if self.pack.len() >= PACK {
                self.flush_pack()?;
            }
            return Ok(());
        }
        self.begin(id)?;
        Writer::write_object(&mut self.out, &obj).map_err(io_err)?;
        self.out.write_all(b"\nendobj\n").map_err(io_err)
    }

    /// Writes the waiting small objects as one compressed object stream.
    fn flush_pack(&mut self) -> Result<()> {
        if self.pack.is_empty() {
            return Ok(());
        }
        let stream = self.alloc();
        let pack = std::mem::take(&mut self.pack);
        let mut header = String::new();
        let mut body = Vec::new();
        for (index, (id, bytes)) in pack.iter().enumerate() {
            header.push_str(&format!("{id} {} ", body.len()));
            body.extend_from_slice(bytes);
            body.push(b'\n');
            self.slots[(id - 1) as usize] = Slot::Packed { stream, index: index as u16 };
        }
        let first = header.len();
        let mut data = header.into_bytes();
        data.extend_from_slice(&body);
        let mut d = Dictionary::new();
        d.set("Type", name("ObjStm"));
        d.set("N", pack.len() as i64);
        d.set("First", first as i64);
        d.set("Filter", name("FlateDecode"));
        let packed = crate::encode::flate(&data, 6)?;
        self.stream(stream, d, &packed)
    }

    fn stream(&mut self, id: u32, mut dict: Dictionary, data: &[u8]) -> Result<()> {
        dict.set("Length", data.len() as i64);
        self.begin(id)?;
        Writer::write_object(&mut self.out, &Object::Dictionary(dict)).map_err(io_err)?;
        self.out.write_all(b"\nstream\n").map_err(io_err)?;
        self.out.write_all(data).map_err(io_err)?;
        self.out.write_all(b"\nendstream\nendobj\n").map_err(io_err)
    }

    fn icc_stream(&mut self, profile: &[u8], components: u8) -> Result<u32> {
        let id = self.alloc();
        let mut d = Dictionary::new();
        d.set("N", components as i64);
        d.set("Alternate", name(if components == 1 { "DeviceGray" } else { "DeviceRGB" }));
        d.set("Filter", name("FlateDecode"));
        let packed: std::borrow::Cow<[u8]> =
            if profile == SRGB_ICC { packed_srgb()?.into() } else { crate::encode::flate(profile, 6)?.into() };
        self.stream(id, d, &packed)?;
        Ok(id)
    }

    fn colour_space(&mut self, cs: &ColourSpace) -> Result<Object> {
        Ok(match cs {
            ColourSpace::Gray => name("DeviceGray"),
            ColourSpace::Rgb => name("DeviceRGB"),
            ColourSpace::Cmyk => name("DeviceCMYK"),
            ColourSpace::Indexed(palette) => Object::Array(vec![
                name("Indexed"),
                name("DeviceRGB"),
                Object::Integer((palette.len() / 3).saturating_sub(1) as i64),
                Object::String(palette.clone(), StringFormat::Hexadecimal),
            ]),
            ColourSpace::Icc { components, profile } => {
                let key: [u8; 32] = Sha256::digest(profile).into();
                let id = match self.image_icc.get(&key) {
                    Some(id) => *id,
                    None => {
                        let id = self.icc_stream(profile, *components)?;
                        self.image_icc.insert(key, id);
                        id
                    }
                };
                Object::Array(vec![name("ICCBased"), Object::Reference((id, 0))])
            }
        })
    }

    /// Adds a page: one image, or a text layer with colour regions over it. Page size = pixels ÷ dpi.
    pub fn add_page(&mut self, page: &EncodedPage, dpi_x: f64, dpi_y: f64) -> Result<()> {
        self.add_placed_page(page, dpi_x, dpi_y, &Placement::default())
    }

    /// Adds a page with its geometry in the PDF rather than in its pixels: the image bytes stay as they
    /// are (a scan cropped, deskewed and turned upright without re-encoding).
    pub fn add_placed_page(&mut self, page: &EncodedPage, dpi_x: f64, dpi_y: f64, at: &Placement) -> Result<()> {
        match page {
            EncodedPage::Single(img) => self.add_layers(img, &[], dpi_x, dpi_y, at),
            EncodedPage::Layered { base, overlays } => self.add_layers(base, overlays, dpi_x, dpi_y, at),
        }
    }

    fn image_object(&mut self, img: &EncodedImage) -> Result<u32> {
        if img.colour_space == ColourSpace::Cmyk && self.kind != PdfKind::Plain {
            return Err(Failure::bad(Code::CmykInPdfa, "a CMYK image cannot go into PDF/A with an sRGB output intent"));
        }
        let cs = self.colour_space(&img.colour_space)?;
        let image_id = self.alloc();
        let mut d = Dictionary::new();
        d.set("Type", name("XObject"));
        d.set("Subtype", name("Image"));
        d.set("Width", img.width as i64);
        d.set("Height", img.height as i64);
        d.set("BitsPerComponent", img.bits as i64);
        d.set("ColorSpace", cs);
        match img.filter {
            Filter::Dct => d.set("Filter", name("DCTDecode")),
            Filter::Flate => d.set("Filter", name("FlateDecode")),
            Filter::FlatePng { colors } => {
                d.set("Filter", name("FlateDecode"));
                let mut p = Dictionary::new();
                p.set("Predictor", 15);
                p.set("Colors", colors as i64);
                p.set("BitsPerComponent", img.bits as i64);
                p.set("Columns", img.width as i64);
                d.set("DecodeParms", Object::Dictionary(p));
            }
            Filter::Jbig2 => d.set("Filter", name("JBIG2Decode")),
            Filter::Ccitt { black_is_1 } => {
                d.set("Filter", name("CCITTFaxDecode"));
                let mut p = Dictionary::new();
                p.set("K", -1);
                p.set("Columns", img.width as i64);
                p.set("Rows", img.height as i64);
                if black_is_1 {
                    p.set("BlackIs1", true);
                }
                d.set("DecodeParms", Object::Dictionary(p));
            }
        }
        if img.inverted {
            d.set("Decode", Object::Array([1, 0, 1, 0, 1, 0, 1, 0].map(Object::Integer).to_vec()));
        }
        d.set("Length", img.data.len() as i64);
        self.begin(image_id)?;
        Writer::write_object(&mut self.out, &Object::Dictionary(d)).map_err(io_err)?;
        self.out.write_all(b"\nstream\n").map_err(io_err)?;
        let referred = match &img.source_blob {
            Some(sha) => self.out.inner.refer(sha, &img.data).map_err(io_err)?,
            None => false,
        };
        if referred {
            self.out.pos += img.data.len() as u64;
        } else {
            self.out.write_all(&img.data).map_err(io_err)?;
        }
        self.out.write_all(b"\nendstream\nendobj\n").map_err(io_err)?;
        Ok(image_id)
    }

    fn add_layers(
        &mut self,
        base: &EncodedImage,
        overlays: &[(u32, u32, EncodedImage)],
        dpi_x: f64,
        dpi_y: f64,
        at: &Placement,
    ) -> Result<()> {
        let (sx, sy) = (72.0 / dpi_x, 72.0 / dpi_y);
        let (wpt, hpt) = (round2(base.width as f64 * sx), round2(base.height as f64 * sy));
        // The page: the crop (or the whole image), grown where turning would push content off it.
        let [x0, y0, x1, y1] = at.crop.unwrap_or([0.0, 0.0, base.width as f64, base.height as f64]);
        let [gl, gt, gr, gb] = at.grow;
        let page_w = round2((x1 - x0 + gl + gr) * sx);
        let page_h = round2((y1 - y0 + gt + gb) * sy);
        // Where the image's lower-left corner lands on the page (PDF's y axis points up).
        let (ox, oy) = (round2((gl - x0) * sx), round2(page_h - (gt - y0) * sy - hpt));
        let mut xobjects = Dictionary::new();
        let base_id = self.image_object(base)?;
        xobjects.set("Im0", Object::Reference((base_id, 0)));
        let mut content = String::new();
        let mut opened = 0;
        if let (Some([r, g, b]), true) = (at.paper, at.degrees != 0.0) {
            let v = |c: u8| f64::from(c) / 255.0;
            content.push_str(&format!("q {:.3} {:.3} {:.3} rg 0 0 {page_w} {page_h} re f Q ", v(r), v(g), v(b)));
        }
        if at.mirror {
            content.push_str(&format!("q -1 0 0 1 {page_w} 0 cm "));
            opened += 1;
        }
        if at.degrees != 0.0 {
            // Turn about the centre of the crop (the grown margins are uneven when the ink is off
            // centre), clockwise as seen.
            let (s, c) = at.degrees.to_radians().sin_cos();
            let (cx, cy) = ((gl + (x1 - x0) / 2.0) * sx, page_h - (gt + (y1 - y0) / 2.0) * sy);
            let (e, f) = (cx - c * cx - s * cy, cy + s * cx - c * cy);
            content.push_str(&format!("q {c:.6} {:.6} {s:.6} {c:.6} {e:.3} {f:.3} cm ", -s));
            opened += 1;
        }
        content.push_str(&format!("q {wpt} 0 0 {hpt} {ox} {oy} cm /Im0 Do Q"));
        for (k, (x, y, img)) in overlays.iter().enumerate() {
            let id = self.image_object(img)?;
            xobjects.set(format!("Im{}", k + 1), Object::Reference((id, 0)));
            let (w, h) = (round2(img.width as f64 * sx), round2(img.height as f64 * sy));
            let (px, py) = (round2(ox + *x as f64 * sx), round2(oy + hpt - (*y as f64 + img.height as f64) * sy));
            content.push_str(&format!(" q {w} 0 0 {h} {px} {py} cm /Im{} Do Q", k + 1));
        }
        for _ in 0..opened {
            content.push_str(" Q");
        }
        let content_id = match self.contents.get(&content) {
            Some(id) => *id,
            None => {
                let id = self.alloc();
                self.stream(id, Dictionary::new(), content.as_bytes())?;
                if self.contents.len() >= SHARED_CONTENTS {
                    self.contents.clear();
                }
                self.contents.insert(content, id);
                id
            }
        };
        let page_id = self.alloc();
        let mut resources = Dictionary::new();
        resources.set("XObject", Object::Dictionary(xobjects));
        let mut page = Dictionary::new();
        page.set("Type", name("Page"));
        page.set("Parent", Object::Reference((PAGES, 0)));
        page.set(
            "MediaBox",
            Object::Array(vec![0.into(), 0.into(), Object::Real(page_w as f32), Object::Real(page_h as f32)]),
        );
        page.set("Resources", Object::Dictionary(resources));
        page.set("Contents", Object::Reference((content_id, 0)));
        if !at.turns.is_multiple_of(4) {
            page.set("Rotate", 90 * (at.turns % 4) as i64);
        }
        self.object(page_id, Object::Dictionary(page))?;
        self.pages.push(page_id);
        Ok(())
    }

    /// Pages written so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Writes the page tree, outline, metadata, catalog, Info and the cross-reference section; returns
    /// the output.
    pub fn finish(mut self, info: &DocInfo) -> Result<W> {
        if self.pages.is_empty() {
            return Err(Failure::bad(Code::NoPages, "a PDF needs at least one page"));
        }
        let kids = self.pages.iter().map(|id| Object::Reference((*id, 0))).collect();
        let mut pages = Dictionary::new();
        pages.set("Type", name("Pages"));
        pages.set("Kids", Object::Array(kids));
        pages.set("Count", self.pages.len() as i64);
        self.object(PAGES, Object::Dictionary(pages))?;

        let mut catalog = Dictionary::new();
        catalog.set("Type", name("Catalog"));
        catalog.set("Pages", Object::Reference((PAGES, 0)));
        if let Some(outlines) = self.outline(&info.outline)? {
            catalog.set("Outlines", Object::Reference((outlines, 0)));
            catalog.set("PageMode", name("UseOutlines"));
        }
        if let Some(icc) = self.output_icc {
            let id = self.alloc();
            let mut d = Dictionary::new();
            d.set("Type", name("Metadata"));
            d.set("Subtype", name("XML"));
            self.stream(id, d, xmp::packet(info).as_bytes())?;
            catalog.set("Metadata", Object::Reference((id, 0)));
            let mut intent = Dictionary::new();
            intent.set("Type", name("OutputIntent"));
            intent.set("S", name("GTS_PDFA1"));
            intent.set("OutputConditionIdentifier", Object::string_literal("sRGB IEC61966-2.1"));
            intent.set("Info", Object::string_literal("sRGB IEC61966-2.1"));
            intent.set("DestOutputProfile", Object::Reference((icc, 0)));
            catalog.set("OutputIntents", Object::Array(vec![Object::Dictionary(intent)]));
        }
        self.object(CATALOG, Object::Dictionary(catalog))?;

        let info_id = self.alloc();
        let mut d = Dictionary::new();
        for (k, v) in [
            ("Title", &info.title),
            ("Subject", &info.subject),
            ("Creator", &info.creator),
            ("Keywords", &info.keywords),
        ] {
            if !v.is_empty() {
                d.set(k, lopdf::text_string(v));
            }
        }
        d.set("Producer", lopdf::text_string(xmp::PRODUCER));
        if let Some(t) = info.date {
            let date = crate::util::time::pdf_date(t);
            d.set("CreationDate", Object::String(date.as_bytes().to_vec(), StringFormat::Literal));
            d.set("ModDate", Object::String(date.into_bytes(), StringFormat::Literal));
        }
        self.object(info_id, Object::Dictionary(d))?;

        let id = Object::String(info.id.to_vec(), StringFormat::Hexadecimal);
        let mut trailer = Dictionary::new();
        trailer.set("Root", Object::Reference((CATALOG, 0)));
        trailer.set("Info", Object::Reference((info_id, 0)));
        trailer.set("ID", Object::Array(vec![id.clone(), id]));
        let xref_at = if self.packs() { self.xref_stream(trailer)? } else { self.xref_table(trailer)? };
        write!(self.out, "\nstartxref\n{xref_at}\n%%EOF\n").map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        Ok(self.out.inner)
    }

    fn offset(slot: Slot) -> Result<u64> {
        match slot {
            Slot::At(off) => Ok(off),
            _ => Err(Failure::bad(Code::PdfLayout, "an object of the PDF was allocated but never written")),
        }
    }

    /// A classic xref table and trailer (PDF/A-1); returns where the table starts.
    fn xref_table(&mut self, mut trailer: Dictionary) -> Result<u64> {
        let xref_at = self.out.pos;
        let mut table = String::with_capacity(20 * (self.slots.len() + 1) + 32);
        table.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", self.slots.len() + 1));
        for slot in &self.slots {
            table.push_str(&format!("{:010} 00000 n \n", Self::offset(*slot)?));
        }
        self.out.write_all(table.as_bytes()).map_err(io_err)?;
        trailer.set("Size", self.slots.len() as i64 + 1);
        self.out.write_all(b"trailer\n").map_err(io_err)?;
        Writer::write_object(&mut self.out, &Object::Dictionary(trailer)).map_err(io_err)?;
        Ok(xref_at)
    }

    /// The last object stream, then a compressed xref stream carrying the trailer's keys; returns
    /// where the xref stream starts.
    fn xref_stream(&mut self, mut trailer: Dictionary) -> Result<u64> {
        self.flush_pack()?;
        let xref = self.alloc();
        let xref_at = self.out.pos;
        self.slots[(xref - 1) as usize] = Slot::At(xref_at);
        // Entries: type (1 byte), offset or object-stream number (as wide as the largest), index or
        // generation (2 bytes, for the free head's 65535).
        let widest = xref_at.max(self.slots.len() as u64);
        let width = (((64 - widest.leading_zeros()) as usize).div_ceil(8)).max(1);
        let mut rows = Vec::with_capacity((self.slots.len() + 1) * (width + 3));
        let mut row = |kind: u8, field: u64, last: u16| {
            rows.push(kind);
            rows.extend_from_slice(&field.to_be_bytes()[8 - width..]);
            rows.extend_from_slice(&last.to_be_bytes());
        };
        row(0, 0, 65535);
        for slot in &self.slots {
            match *slot {
                Slot::Packed { stream, index } => row(2, stream as u64, index),
                other => row(1, Self::offset(other)?, 0),
            }
        }
        let data = crate::encode::flate(&rows, 6)?;
        trailer.set("Type", name("XRef"));
        trailer.set("Size", self.slots.len() as i64 + 1);
        trailer.set("W", Object::Array(vec![1.into(), (width as i64).into(), 2.into()]));
        trailer.set("Filter", name("FlateDecode"));
        self.stream(xref, trailer, &data)?;
        Ok(xref_at)
    }

    /// Writes a flat outline (one bookmark per entry) and returns the Outlines object's id.
    fn outline(&mut self, entries: &[(String, usize)]) -> Result<Option<u32>> {
        let entries: Vec<&(String, usize)> = entries.iter().filter(|(_, p)| *p < self.pages.len()).collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let root = self.alloc();
        let ids: Vec<u32> = entries.iter().map(|_| self.alloc()).collect();
        for (i, (title, page)) in entries.iter().enumerate() {
            let mut d = Dictionary::new();
            d.set("Title", lopdf::text_string(title));
            d.set("Parent", Object::Reference((root, 0)));
            if i > 0 {
                d.set("Prev", Object::Reference((ids[i - 1], 0)));
            }
            if i + 1 < ids.len() {
                d.set("Next", Object::Reference((ids[i + 1], 0)));
            }
            d.set("Dest", Object::Array(vec![Object::Reference((self.pages[*page], 0)), name("Fit")]));
            self.object(ids[i], Object::Dictionary(d))?;
        }
        let mut d = Dictionary::new();
        d.set("Type", name("Outlines"));
        d.set("First", Object::Reference((ids[0], 0)));
        d.set("Last", Object::Reference((ids[ids.len() - 1], 0)));
        d.set("Count", ids.len() as i64);
        self.object(root, Object::Dictionary(d))?;
        Ok(Some(root))
    }
}

/// A page's geometry done in the PDF: what a scan needs to be shown cropped, straight and upright
/// without touching its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Placement {
    /// The part of the image shown, in its pixels: x0, y0 (from the top-left), x1, y1.
    pub crop: Option<[f64; 4]>,
    /// Pixels added around the crop (left, top, right, bottom) so turned content stays on the page.
    pub grow: [f64; 4],
    /// Clockwise turn of the content about the page centre, in degrees (deskew).
    pub degrees: f64,
    /// Clockwise quarter turns shown by the page's `/Rotate`.
    pub turns: u8,
    /// Mirrored left to right (an EXIF orientation of 2, 4, 5 or 7).
    pub mirror: bool,
    /// The paper's colour, painted under a straightened image so the corners it no longer covers
    /// look like paper, not like a white wedge.
    pub paper: Option<[u8; 3]>,
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
