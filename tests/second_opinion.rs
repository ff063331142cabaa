//! Tesseract's orientation detector as the second opinion, end to end through `ingest`, with a stand-in
//! `tesseract` first on PATH so that each answer it can give is tried: a strong answer is acted on (the
//! PDF page turned, the record naming Tesseract), one that contradicts the lines is refused, and a
//! detector that fails without reading the page leaves the page as scanned and the run whole.
//!
//! The page is text-like lines with no ascenders or marks: the letters' own check finds the lines
//! running across but cannot tell which way up, so the detector is asked.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;

const CODE: &str = "H99.01-261208-0001";

/// Lines of x-height "letters" only, 150 dpi, A5-sized.
fn page_without_marks(path: &Path) {
    let (w, h) = (874u32, 1240u32);
    let mut img = image::GrayImage::from_pixel(w, h, image::Luma([245]));
    for line in 0..30u32 {
        let base = 120 + line * 34;
        let mut x = 90 + (line % 3) * 7;
        let mut k = line * 5;
        while x < 760 {
            k = (k * 13 + 5) % 17;
            let cw = 9 + k % 5;
            for y in base - 12..base {
                for xx in x..x + cw {
                    img.put_pixel(xx, y, image::Luma([20]));
                }
            }
            x += cw + 3 + if k % 6 == 0 { 9 } else { 0 };
        }
    }
    img.save(path).unwrap();
}

/// Ingests the page with `answer` as the stand-in detector's script; returns the data folder.
fn ingest_with(dir: &Path, answer: &str) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("tesseract");
    std::fs::write(&fake, format!("#!/bin/sh\n{answer}\n")).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let inbox = dir.join("inbox");
    std::fs::create_dir_all(inbox.join(CODE)).unwrap();
    page_without_marks(&inbox.join(CODE).join("page.png"));
    let data = dir.join("data");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = command(&data)
        .env("PATH", path)
        .args(["ingest", "--progress", "none", "--profile"])
        .arg(repo().join("pipelines/archive.toml"))
        .arg(&inbox)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    data
}

fn record(data: &Path) -> serde_json::Value {
    let rows: Vec<(String,)> = query(data, "SELECT normalization FROM pages");
    assert_eq!(rows.len(), 1);
    serde_json::from_str(&rows[0].0).unwrap()
}

fn page_rotation(data: &Path) -> String {
    let pdf = pdfs(data, CODE);
    assert_eq!(pdf.len(), 1, "the document is attached");
    qpdf_check(&pdf[0]);
    pdfinfo(&pdf[0]).lines().find(|l| l.starts_with("Page rot")).unwrap_or("").to_string()
}

#[test]
fn a_strong_answer_turns_the_page_and_the_record_names_tesseract() {
    let dir = tempfile::tempdir().unwrap();
    // It must be shown a readable image file.
    let data = ingest_with(
        dir.path(),
        "test -s \"$1\" || exit 3\nprintf 'Page number: 0\\nRotate: 180\\nOrientation confidence: 9.50\\nScript: Latin\\n'",
    );
    let n = record(&data);
    assert_eq!(n["turns"], 2, "{n}");
    assert_eq!(n["tesseract_confidence"], 9.5, "{n}");
    assert!(n["letters_unsure"].as_str().unwrap().contains("which way up"), "{n}");
    assert!(n.get("orientation_not_judged").is_none(), "{n}");
    assert!(page_rotation(&data).contains("180"));
    let shown = text(&sohoa(&data, &["case", "show", CODE]));
    assert!(shown.contains("turned 180° by Tesseract's orientation detector"), "{shown}");
}

#[test]
fn an_answer_against_the_lines_or_a_failing_detector_leaves_the_page_as_scanned() {
    for (answer, why) in [
        // Lines run across: a quarter turn cannot be right.
        (
            "printf 'Rotate: 90\\nOrientation confidence: 12\\nScript: Latin\\n'",
            "disagrees with the direction of the lines",
        ),
        ("printf 'Rotate: 180\\nOrientation confidence: 4.9\\nScript: Latin\\n'", "Tesseract unsure too"),
        ("printf 'Rotate: 180\\nOrientation confidence: 9\\nScript: Cyrillic\\n'", "Cyrillic script, not Latin"),
        // Quits before reading the page (a missing model): the run goes on.
        ("echo \"Failed loading language 'osd'\" >&2\nexit 1", "Tesseract failed: Failed loading language 'osd'"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let data = ingest_with(dir.path(), answer);
        let n = record(&data);
        assert_eq!(n["turns"], 0, "{answer}: {n}");
        let said = n["orientation_not_judged"].as_str().unwrap_or_default();
        assert!(said.contains(why), "{answer}: {said}");
        assert!(page_rotation(&data).ends_with(" 0"), "{answer}");
    }
}
