//! Recognising the text of an attached PDF's pages, as the PDF shows them: poppler's `pdftoppm` draws a
//! few pages at a time into a scratch folder (gray, at the profile's resolution), Tesseract reads them
//! in one call per batch (the language models load once a batch, not once a page) and writes a TSV of
//! words with their boxes and confidences. Both run as child processes (`util::child`): stopped when
//! they overrun, never able to take the service down with them.
//!
//! Why the programs and not a binding of the C library: the same Debian packages serve both, the
//! binding adds a C++ tool chain and bindgen to the build, and the measured cost of the program per
//! batch (start-up and model loading, about 0.3 s for `vie+eng`) is a small share of the seconds a page
//! takes to read. Nothing here knows about cases or the database: PDF bytes in, words out.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use unicode_normalization::UnicodeNormalization;

use crate::bundle::text_layer::Word;
use crate::error::{Failure, Result};
use crate::util::child::{self, NoAnswer};

/// Pages drawn and read per batch: the scratch folder holds this many page images at a time (about
/// 9 MB each at 300 dpi), however long the document.
const BATCH: usize = 8;

/// Time allowed to draw a batch, and to read each page of it.
const PER_PAGE: Duration = Duration::from_secs(120);

/// What to recognise with.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Tesseract's languages, e.g. `vie+eng`.
    pub languages: String,
    /// The resolution the pages are drawn at for it.
    pub dpi: u32,
}

/// One page's recognised text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageText {
    /// The words with their boxes on the shown page, in points.
    pub words: Vec<Word>,
    /// The page's text in reading order: words by spaces, lines by newlines, blocks by a blank line;
    /// NFC.
    pub text: String,
    /// The mean of the words' confidences (0–100), or none when no word was found.
    pub confidence: Option<f64>,
    /// The shown page's width and height in points, as drawn.
    pub size: (f64, f64),
}

/// Recognises the pages of `pdf` (which has `pages` pages) but those `skip` names by 0-based index (a
/// page flagged blank: noise takes Tesseract minutes and gives nothing), which come back empty;
/// `progress` is told after each batch how many pages are done. A missing or failing program is
/// transient: the document stays attached without text, and the job is tried again once it works.
pub fn recognise(
    pdf: &[u8],
    pages: usize,
    reading: &Reading,
    skip: impl Fn(usize) -> bool,
    mut progress: impl FnMut(usize),
) -> Result<Vec<PageText>> {
    let scratch = |e: std::io::Error| Failure::transient("making a scratch folder for OCR", e);
    let dir = tempfile::Builder::new().prefix("sohoa-ocr-").tempdir().map_err(scratch)?;
    let source = dir.path().join("document.pdf");
    std::fs::write(&source, pdf).map_err(scratch)?;
    let mut out = Vec::with_capacity(pages);
    let mut first = 1;
    while first <= pages {
        let last = (first + BATCH - 1).min(pages);
        let batch = tempfile::Builder::new().prefix("batch-").tempdir_in(dir.path()).map_err(scratch)?;
        let images = draw(&source, first, last, reading.dpi, batch.path())?;
        if images.len() != last + 1 - first {
            return Err(Failure::transient(
                "drawing pages for OCR",
                anyhow::anyhow!("pdftoppm drew {} of pages {first}–{last}", images.len()),
            ));
        }
        let wanted: Vec<(usize, std::path::PathBuf)> =
            images.into_iter().enumerate().filter(|(i, _)| !skip(first - 1 + i)).collect();
        let mut batch_out = vec![PageText::default(); last + 1 - first];
        if !wanted.is_empty() {
            let paths: Vec<std::path::PathBuf> = wanted.iter().map(|(_, p)| p.clone()).collect();
            let mut read = read(&paths, reading, batch.path())?;
            read.resize(paths.len(), PageText::default());
            for ((i, _), text) in wanted.iter().zip(read) {
                batch_out[*i] = text;
            }
        }
        out.extend(batch_out);
        progress(last);
        first = last + 1;
    }
    Ok(out)
}

/// The text a born-digital PDF already holds, page by page, with its words' boxes (poppler's
/// `pdftotext -tsv`, in points): what makes it searchable without reading its pixels.
pub fn born_digital_text(pdf: &[u8]) -> Result<Vec<PageText>> {
    let scratch = |e: std::io::Error| Failure::transient("making a scratch file for a PDF's text", e);
    let mut file = tempfile::Builder::new().prefix("sohoa-text-").suffix(".pdf").tempfile().map_err(scratch)?;
    std::io::Write::write_all(&mut file, pdf).map_err(scratch)?;
    let done = child::run(Command::new("pdftotext").arg("-tsv").arg(file.path()).arg("-"), PER_PAGE)
        .map_err(|e| failed("reading a PDF's text", "pdftotext", "poppler-utils", e))?;
    if !done.status.success() {
        return Err(Failure::transient("reading a PDF's text", anyhow::anyhow!("pdftotext failed: {}", done.said())));
    }
    Ok(parse_tsv(&done.stdout, 1.0))
}

fn failed(what: &str, program: &str, package: &str, e: NoAnswer) -> Failure {
    let hint = match e {
        NoAnswer::NotStarted(_) => format!("; install the {package} package"),
        _ => String::new(),
    };
    Failure::transient(what, anyhow::anyhow!("{program} {e}{hint}"))
}

/// Draws pages `first..=last` as gray PGM files into `dir`, in page order.
fn draw(pdf: &Path, first: usize, last: usize, dpi: u32, dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let done = child::run(
        Command::new("pdftoppm")
            .args(["-gray", "-r", &dpi.to_string(), "-f", &first.to_string(), "-l", &last.to_string()])
            .arg(pdf)
            .arg(dir.join("page")),
        PER_PAGE * (last + 1 - first) as u32,
    )
    .map_err(|e| failed("drawing pages for OCR", "pdftoppm", "poppler-utils", e))?;
    if !done.status.success() {
        return Err(Failure::transient("drawing pages for OCR", anyhow::anyhow!("pdftoppm failed: {}", done.said())));
    }
    let mut images: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Failure::transient("listing drawn pages", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pgm"))
        .collect();
    // pdftoppm pads the page numbers to one width, so the names sort in page order.
    images.sort();
    Ok(images)
}

/// Reads the drawn pages in one Tesseract call.
fn read(images: &[std::path::PathBuf], reading: &Reading, dir: &Path) -> Result<Vec<PageText>> {
    let list = dir.join("pages.txt");
    let names: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
    std::fs::write(&list, names.join("\n") + "\n").map_err(|e| Failure::transient("listing pages for OCR", e))?;
    let base = dir.join("words");
    let done = child::run(
        Command::new("tesseract")
            .arg(&list)
            .arg(&base)
            .args(["-l", &reading.languages, "--dpi", &reading.dpi.to_string(), "tsv"])
            // One thread: the share of cores OCR may use is set by how many OCR jobs run at once.
            .env("OMP_THREAD_LIMIT", "1"),
        PER_PAGE * images.len() as u32,
    )
    .map_err(|e| failed("recognising text", "tesseract", "tesseract-ocr and tesseract-ocr-vie", e))?;
    let tsv = std::fs::read_to_string(base.with_extension("tsv")).unwrap_or_default();
    if !done.status.success() || tsv.is_empty() {
        return Err(Failure::transient(
            "recognising text",
            anyhow::anyhow!(
                "tesseract failed ({}); check that it runs (`tesseract --version`) and that the languages {} are \
                 installed (tesseract-ocr-vie)",
                done.said(),
                reading.languages
            ),
        ));
    }
    Ok(parse_tsv(&tsv, 72.0 / f64::from(reading.dpi)))
}

/// Reads Tesseract's TSV (level, page, block, paragraph, line, word, left, top, width, height,
/// confidence, text): pages by their number; level-5 rows are words, boxes in pixels scaled by
/// `scale` to points.
pub fn parse_tsv(tsv: &str, scale: f64) -> Vec<PageText> {
    let mut pages: Vec<PageText> = Vec::new();
    let mut sums: Vec<(f64, usize)> = Vec::new();
    let mut current = usize::MAX;
    // What comes before the next word: 0 a space, 1 a new line, 2 a blank line (a new block or
    // paragraph). Rows of levels 2–4 say so, in Tesseract's TSV and in poppler's (`pdftotext -tsv`).
    let mut gap = 0u8;
    // The line a word is on: its words share the line's top and bottom, so they share a baseline in
    // the text layer and a reader takes them for one line.
    let mut line_box: Option<(f64, f64)> = None;
    for line in tsv.lines().skip(1) {
        let f: Vec<&str> = line.splitn(12, '\t').collect();
        if f.len() < 11 {
            continue;
        }
        let n = |i: usize| f[i].trim().parse::<f64>().unwrap_or(0.0);
        // Pages by their number in the call, 1-based: a page with no words may have no rows at all.
        let index = (n(1) as usize).clamp(1, 100_000) - 1;
        if pages.len() <= index {
            pages.resize(index + 1, PageText::default());
            sums.resize(index + 1, (0.0, 0));
        }
        if index != current {
            (current, gap, line_box) = (index, 0, None);
        }
        match f[0] {
            "1" => pages[index].size = (n(8) * scale, n(9) * scale),
            "2" | "3" => (gap, line_box) = (2, None),
            "4" => (gap, line_box) = (gap.max(1), Some((n(7), n(7) + n(9)))),
            _ => {}
        }
        if f[0] != "5" {
            continue;
        }
        let text: String = f.get(11).map(|t| t.trim()).unwrap_or("").nfc().collect();
        if text.is_empty() {
            continue;
        }
        let (page, sum) = (&mut pages[index], &mut sums[index]);
        if !page.text.is_empty() {
            page.text.push_str(match gap {
                0 => " ",
                1 => "\n",
                _ => "\n\n",
            });
        }
        gap = 0;
        page.text.push_str(&text);
        let (l, w) = (n(6), n(8));
        let (t, b) = line_box.unwrap_or((n(7), n(7) + n(9)));
        page.words.push(Word { text, bbox: [l * scale, t * scale, (l + w) * scale, b * scale] });
        let conf = n(10);
        if conf >= 0.0 {
            *sum = (sum.0 + conf, sum.1 + 1);
        }
    }
    for (page, (total, count)) in pages.iter_mut().zip(sums) {
        page.confidence = (count > 0).then(|| total / count as f64);
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_lines_and_pages_are_read_from_the_tsv() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t2480\t3508\t-1\t\n\
                   2\t1\t1\t0\t0\t0\t300\t290\t300\t200\t-1\t\n\
                   3\t1\t1\t1\t0\t0\t300\t290\t300\t200\t-1\t\n\
                   4\t1\t1\t1\t1\t0\t300\t290\t200\t70\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t300\t300\t100\t50\t90\tQuye\u{302}\u{300}n\n\
                   5\t1\t1\t1\t1\t2\t420\t300\t60\t50\t80\tsử\n\
                   4\t1\t1\t1\t2\t0\t300\t395\t90\t60\t-1\t\n\
                   5\t1\t1\t1\t2\t1\t300\t400\t90\t50\t70\tdụng\n\
                   2\t1\t2\t0\t0\t0\t300\t600\t90\t50\t-1\t\n\
                   5\t1\t2\t1\t1\t1\t300\t600\t90\t50\t60\tđất\n\
                   1\t3\t0\t0\t0\t0\t0\t0\t2480\t3508\t-1\t\n";
        let pages = parse_tsv(tsv, 72.0 / 300.0);
        assert_eq!(pages.len(), 3, "page 2 had no rows");
        assert_eq!(pages[0].text, "Quyền sử\ndụng\n\nđất");
        assert_eq!(pages[0].confidence, Some(75.0));
        let near = |a: [f64; 4], b: [f64; 4]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        assert!(near(pages[0].words[0].bbox, [72.0, 69.6, 96.0, 86.4]), "the line's top and bottom");
        assert!(near(pages[0].words[2].bbox, [72.0, 94.8, 93.6, 109.2]), "the second line's");
        assert!(near(pages[0].words[3].bbox, [72.0, 144.0, 93.6, 156.0]), "no line row: the word's own");
        assert!((pages[0].size.0 - 595.2).abs() < 1e-9 && (pages[0].size.1 - 841.92).abs() < 1e-9);
        assert_eq!(pages[1], PageText::default());
        assert!(pages[2].words.is_empty() && pages[2].confidence.is_none());
    }

    #[test]
    fn poppler_tsv_is_read_the_same_way() {
        let tsv = "level\tpage_num\tpar_num\tblock_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0.0\t0.0\t595.28\t841.89\t-1\t###PAGE###\n\
                   3\t1\t0\t0\t0\t0\t31.18\t32.15\t419.5\t13.97\t-1\t###FLOW###\n\
                   4\t1\t0\t0\t0\t0\t31.18\t32.15\t419.5\t13.97\t-1\t###LINE###\n\
                   5\t1\t0\t0\t0\t0\t31.18\t32.15\t26.56\t13.97\t100\tBiên\n\
                   5\t1\t0\t0\t0\t1\t61.55\t32.15\t22.58\t13.97\t100\tbản\n\
                   4\t1\t0\t0\t0\t0\t31.18\t50.0\t100.0\t14.0\t-1\t###LINE###\n\
                   5\t1\t0\t0\t0\t0\t31.18\t50.0\t30.0\t14.0\t100\tkiểm\n";
        let pages = parse_tsv(tsv, 1.0);
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].text, "Biên bản\nkiểm");
        assert_eq!(pages[0].size, (595.28, 841.89));
        assert_eq!(pages[0].confidence, Some(100.0));
    }
}
