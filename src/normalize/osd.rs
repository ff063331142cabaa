//! Tesseract's orientation detector, asked only about pages whose letters left the orientation unsure.
//!
//! The letter count in `orientation` is fast and, measured on pages it was not built on, never wrong;
//! but it abstains on about one turned page in six (short pages, few ascenders, tables of digits).
//! Tesseract's detector (`tesseract --psm 0`, Debian `tesseract-ocr`) reads letter shapes and settles
//! most of those, at about half a second to a few seconds a page, so it is asked only then, and its
//! answer is taken only when it is strong ([`MIN_CONFIDENCE`]), names a Latin script, and agrees with
//! the line direction the letters found when they found one. Anything else leaves the page as scanned
//! with both reasons in its record. The page (its ink's box) goes to the detector as a gray PGM at
//! no more than [`MAX_DPI`] in a scratch file that is deleted after; a detector that fails, is
//! missing or hangs (stopped after a minute) leaves the page as scanned and is said once in the log.
//! Pages dithered to dots are never shown to it (`orientation::dithered`): it is sure of wrong turns
//! there.

use std::io::Write;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::border::Rect;
use crate::pages::{Raster, RasterKind};
use crate::util::child::{self, NoAnswer};

/// The detector's confidence a turn needs. Measured: on `fixtures/evalgen` pages the letters left
/// unsure, every wrong answer came below 0.3 and 31 of 37 right ones above 5; on a 150-dpi gray page
/// from elsewhere it was wrong at 2.32 (and gave 0.5–4.8 across the page's four turns). Below 5 the
/// page stays as scanned. (On pages dithered to dots it was wrong at 6.4: those are never shown to it.)
pub const MIN_CONFIDENCE: f64 = 5.0;

/// Pages are shown to the detector at no more than this resolution: it reads letters at 300 dpi and
/// takes longer, not better, on more.
pub const MAX_DPI: f64 = 300.0;

/// A detector that has not answered by then is stopped and the page left as scanned.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What the detector said about a page.
#[derive(Debug, Clone, PartialEq)]
pub struct Osd {
    /// Clockwise quarter turns that make the page upright (0–3).
    pub turns: u8,
    /// The detector's orientation confidence (0 – about 50; its own scale).
    pub confidence: f64,
    /// The script it read the letters as (`Latin` for Vietnamese, English and French).
    pub script: String,
}

impl Osd {
    /// The turn to make, or why none is: a weak answer, another script, or one that contradicts the
    /// line direction the letters found (`sideways`, when they found it) is not acted on.
    pub fn verdict(&self, sideways: Option<bool>) -> Result<u8, String> {
        if self.confidence < MIN_CONFIDENCE {
            return Err(format!("Tesseract unsure too (confidence {:.2})", self.confidence));
        }
        if self.script != "Latin" {
            return Err(format!("Tesseract read the letters as {} script, not Latin", self.script));
        }
        if let Some(side) = sideways
            && side != (self.turns % 2 == 1)
        {
            return Err(format!(
                "Tesseract's answer, {}°, disagrees with the direction of the lines",
                90 * u32::from(self.turns)
            ));
        }
        Ok(self.turns)
    }
}

/// Asks the detector about a gray page scanned at `dpi`, shown only the part `ink` of it (the box of
/// its ink, in its pixels, with a margin added here): the detector's time grows with the pixels it
/// is given, and paper around the text tells it nothing. `Err` says why there is no answer (not
/// installed, too few letters, stopped after a minute) in words for the page's record.
pub fn ask(page: &Raster, dpi: f64, ink: Option<Rect>) -> Result<Osd, String> {
    let margin = (dpi / 4.0) as u32;
    let whole = [0, 0, page.width, page.height];
    let [x0, y0, x1, y1] = ink.unwrap_or(whole);
    let region = [
        x0.saturating_sub(margin),
        y0.saturating_sub(margin),
        (x1 + margin).min(page.width),
        (y1 + margin).min(page.height),
    ];
    let region = if region[0] < region[2] && region[1] < region[3] { region } else { whole };
    let (pgm, shown_dpi) = reduced_pgm(page, dpi, region);
    // The page goes in a scratch file, not down a pipe: a detector that quits (or hangs) without
    // reading it can neither block this worker on a full pipe nor stop the process with SIGPIPE.
    let mut file = tempfile::Builder::new()
        .prefix("sohoa-osd-")
        .suffix(".pgm")
        .tempfile()
        .map_err(|e| format!("Tesseract failed: no scratch file for the page ({e})"))?;
    file.write_all(&pgm).map_err(|e| format!("Tesseract failed: the page could not be written for it ({e})"))?;
    let run = child::run(
        Command::new("tesseract")
            .arg(file.path())
            .args(["stdout", "--psm", "0", "--dpi"])
            .arg(format!("{}", shown_dpi.round().max(70.0)))
            // One thread each: pages are already worked on in parallel.
            .env("OMP_THREAD_LIMIT", "1"),
        TIMEOUT,
    );
    let done = match run {
        Ok(done) => done,
        Err(NoAnswer::NotStarted(e)) => {
            warn_once(&format!(
                "Tesseract could not be started ({e}): pages the letters leave unsure stay as scanned; install the \
                 tesseract-ocr package or set output.orientation_tesseract = false"
            ));
            return Err("Tesseract is not installed".into());
        }
        Err(NoAnswer::TimedOut) => {
            warn_once("Tesseract gave no answer within a minute and was stopped: the page stays as scanned");
            return Err("Tesseract gave no answer within a minute".into());
        }
        Err(e) => return Err(format!("Tesseract {e}")),
    };
    match parse(&done.stdout) {
        Some(osd) if done.status.success() => Ok(osd),
        _ if done.stderr.contains("Too few characters") => Err("Tesseract found too few letters".into()),
        _ => {
            let said = done.said();
            warn_once(&format!(
                "Tesseract failed ({said}): pages the letters leave unsure stay as scanned; check that the \
                 tesseract-ocr package and its osd model are installed"
            ));
            Err(format!("Tesseract failed: {said}"))
        }
    }
}

/// Says once a run that the second opinion is not working, whatever the page: the records say it per page.
fn warn_once(what: &str) {
    static WARNED: OnceLock<()> = OnceLock::new();
    WARNED.get_or_init(|| tracing::warn!("{what}"));
}

/// Reads the detector's report (`Rotate: 90`, `Orientation confidence: 6.2`, `Script: Latin`).
fn parse(out: &str) -> Option<Osd> {
    let field = |name: &str| {
        out.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_string()))
    };
    // `Rotate` is the clockwise turn that sets the page right.
    let rotate: u32 = field("Rotate")?.parse().ok()?;
    if !rotate.is_multiple_of(90) {
        return None;
    }
    Some(Osd {
        turns: ((rotate / 90) % 4) as u8,
        confidence: field("Orientation confidence")?.parse().ok().filter(|c: &f64| c.is_finite())?,
        script: field("Script").unwrap_or_default(),
    })
}

/// The `region` (x0, y0, x1, y1) of the page as a binary PGM, averaged down by a whole factor to no
/// more than [`MAX_DPI`], and the resolution it then has.
fn reduced_pgm(page: &Raster, dpi: f64, region: Rect) -> (Vec<u8>, f64) {
    let gray = page.gray();
    let g = gray.as_ref();
    let k = if dpi > MAX_DPI { (dpi / MAX_DPI).ceil() as usize } else { 1 };
    let w = g.width as usize;
    let [rx, ry, rx1, ry1] = region.map(|v| v as usize);
    let (rw, rh) = (rx1.min(w) - rx.min(rx1), ry1.min(g.height as usize) - ry.min(ry1));
    let (sw, sh) = ((rw / k).max(1), (rh / k).max(1));
    let header = format!("P5\n{sw} {sh}\n255\n");
    let mut out = Vec::with_capacity(header.len() + sw * sh);
    out.extend_from_slice(header.as_bytes());
    debug_assert_eq!(g.kind, RasterKind::Gray);
    for y in 0..sh {
        for x in 0..sw {
            let mut sum = 0u32;
            let mut n = 0u32;
            for yy in ry + y * k..ry + ((y + 1) * k).min(rh) {
                for xx in rx + x * k..rx + ((x + 1) * k).min(rw) {
                    sum += u32::from(g.data[yy * w + xx]);
                    n += 1;
                }
            }
            out.push((sum / n.max(1)) as u8);
        }
    }
    (out, dpi / k as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_read_as_clockwise_quarter_turns() {
        let out = "Page number: 0\nOrientation in degrees: 90\nRotate: 270\nOrientation confidence: 6.41\n\
                   Script: Latin\nScript confidence: 2.10\n";
        let osd = parse(out).unwrap();
        assert_eq!(osd, Osd { turns: 3, confidence: 6.41, script: "Latin".into() });
        assert_eq!(osd.verdict(None), Ok(3));
        assert_eq!(osd.verdict(Some(true)), Ok(3));
        assert!(osd.verdict(Some(false)).is_err(), "lines across cannot need a quarter turn");
        assert!(parse("Rotate: 45\nOrientation confidence: 3\n").is_none());
        assert!(parse("garbage").is_none());
    }

    #[test]
    fn weak_or_foreign_answers_are_not_acted_on() {
        let weak = Osd { turns: 2, confidence: 4.8, script: "Latin".into() };
        assert!(weak.verdict(None).unwrap_err().contains("unsure"));
        let han = Osd { turns: 2, confidence: 9.0, script: "Han".into() };
        assert!(han.verdict(None).is_err());
    }

    #[test]
    fn a_600_dpi_page_is_shown_at_300() {
        let page = Raster { width: 10, height: 6, kind: RasterKind::Gray, data: (0..60).map(|v| v as u8).collect() };
        let (pgm, dpi) = reduced_pgm(&page, 600.0, [0, 0, 10, 6]);
        assert_eq!(dpi, 300.0);
        assert!(pgm.starts_with(b"P5\n5 3\n255\n"));
        // The first output pixel averages 0, 1, 10, 11.
        assert_eq!(pgm[b"P5\n5 3\n255\n".len()], 5);
        // Only the ink's region: from (2, 2), the first pixel averages 22, 23, 32, 33.
        let (pgm, _) = reduced_pgm(&page, 600.0, [2, 2, 8, 6]);
        assert!(pgm.starts_with(b"P5\n3 2\n255\n"));
        assert_eq!(pgm[b"P5\n3 2\n255\n".len()], 27);
    }
}
