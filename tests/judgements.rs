//! Every automatic judgement measured on pages it was not built on: `fixtures/evalgen` (an
//! independent generator — other fonts, layouts, languages, stamps, photos, tables, ID cards, maps,
//! A4/A5/Letter, 150–600 dpi, JPEG 50–95, all four orientations, skew −7…+7° — sharing no code
//! with the code it judges) and the real scans of `../shared/corpus`. The truth is the generator's: how the
//! page was turned and skewed, where its photos are. Each test prints right / wrong / abstained and
//! asserts the rule: a page is never turned the wrong way, never taken for a separator sheet, never
//! made more askew, and a picture on a text page is never thresholded away.
//!
//! `SOHOA_EVAL_DIR=DIR` judges a set generated elsewhere (`python3 fixtures/evalgen/gen.py DIR --n N
//! --seed S`), e.g. a fresh 1,000-page one; by default a fixed 60-page set is drawn once per
//! generator version.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use sohoa::normalize::{self, PageNormalization, Steps};
use sohoa::pages::{self, Limits, PageImage, Raster};

use common::*;

const ALL: Steps = Steps { borders: true, blank: true, orientation: true, deskew: true, tesseract: true };
const LIMITS: Limits = Limits { max_pixels: 200_000_000, max_inflate: 256 << 20 };

fn eval_set() -> &'static (PathBuf, Vec<Value>) {
    static SET: OnceLock<(PathBuf, Vec<Value>)> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = match std::env::var_os("SOHOA_EVAL_DIR") {
            Some(d) => PathBuf::from(d),
            None => drawn_once(
                "fixtures/evalgen/gen.py",
                &["--n", "60", "--seed", "20261202", "--jobs", "2", "--pdf"],
                "truth.jsonl",
            ),
        };
        let truth = std::fs::read_to_string(dir.join("truth.jsonl")).unwrap();
        (dir, truth.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
    })
}

/// A page's pixels as the pipeline decodes them (sohoa's own readers: JPEG, PNG, TIFF with G4,
/// scanner PDFs).
fn decode(path: &Path, index: u32) -> Option<Raster> {
    let bytes = std::fs::read(path).unwrap();
    let image = pages::load(&bytes, index, LIMITS).ok()??;
    match image {
        PageImage::G4 { data, width, height, black_is_1 } => sohoa::encode::decode_g4(&data, width, height, black_is_1),
        other => sohoa::encode::pixels(&other),
    }
}

struct Judged {
    id: String,
    truth: Value,
    norm: PageNormalization,
    sheet: bool,
}

fn judged() -> &'static Vec<Judged> {
    static DONE: OnceLock<Vec<Judged>> = OnceLock::new();
    DONE.get_or_init(|| {
        let (dir, truth) = eval_set();
        let work: Vec<&Value> = truth.iter().collect();
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let chunk = work.len().div_ceil(cores).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = work
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .filter_map(|t| {
                                let dpi = t["dpi"].as_f64().unwrap();
                                let index = t["page"].as_u64().map(|p| p as u32 - 1).unwrap_or(0);
                                let Some(r) = decode(&dir.join(t["file"].as_str().unwrap()), index) else {
                                    eprintln!("UNREAD {} {} page {index}", t["id"], t["file"]);
                                    return None;
                                };
                                let norm = normalize::analyse(&r, dpi, ALL);
                                let sheet = sohoa::separate::detect(&r, dpi).is_some_and(|m| {
                                    !matches!(m, sohoa::separate::Mark::Code { ref text, .. } if !text.starts_with("SOHOA-SEP") && !looks_like_case(text))
                                });
                                Some(Judged { id: t["id"].as_str().unwrap().to_string(), truth: (*t).clone(), norm, sheet })
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        })
    })
}

/// A bare code that would be taken for a sheet: one that is a case code.
fn looks_like_case(text: &str) -> bool {
    regex::Regex::new(r"^[A-Z0-9]+(\.[A-Z0-9]+)*-[0-9]{6}-[0-9]{4,7}$").unwrap().is_match(text.trim())
}

#[test]
fn every_page_and_every_scanner_pdf_page_is_read() {
    // JPEG, PNG, G4 TIFF, and the pages of image-only PDFs (DCT, palette over Flate, CCITT).
    assert_eq!(judged().len(), eval_set().1.len(), "pages that could not be read are listed above as UNREAD");
}

#[test]
fn orientation_on_pages_never_seen_is_never_wrong() {
    let all = judged();
    assert!(!all.is_empty());
    let (mut upright, mut kept, mut turned, mut righted, mut abstained, mut wrong) = (0, 0, 0, 0, 0, Vec::new());
    for j in all {
        // The generator turned the upright page `turns` quarters clockwise; undoing it takes the rest.
        let applied = j.truth["turns"].as_u64().unwrap() as u8;
        let want = (4 - applied) % 4;
        let got = j.norm.turns;
        if want == 0 {
            upright += 1;
            if got == 0 {
                kept += 1;
            } else {
                wrong.push(format!("{} upright, turned {got} ({:?})", j.id, j.norm.turn_confidence));
            }
        } else {
            turned += 1;
            if got == want {
                righted += 1;
            } else if got == 0 {
                abstained += 1;
                println!(
                    "  left as scanned: {} ({}, {} {}pt, {} dpi, {}): {:?}",
                    j.id,
                    j.truth["layout"],
                    j.truth["font"],
                    j.truth["font_pt"],
                    j.truth["dpi"],
                    j.truth["mode"],
                    j.norm.orientation_not_judged
                );
                assert!(
                    j.norm.orientation_not_judged.is_some() || j.norm.blank == Some(true),
                    "{}: {:?}",
                    j.id,
                    j.norm
                );
            } else {
                wrong.push(format!("{} needed {want}, turned {got} ({:?})", j.id, j.norm.turn_confidence));
            }
        }
    }
    println!(
        "orientation: upright {kept} of {upright} kept; turned {turned}: {righted} set upright, {abstained} left as \
         scanned; {} wrong",
        wrong.len()
    );
    for w in &wrong {
        println!("  WRONG {w}");
    }
    // Tesseract was asked about the pages the letters left unsure.
    let asked = all.iter().filter(|j| j.norm.tesseract_confidence.is_some() || j.norm.letters_unsure.is_some()).count()
        + all
            .iter()
            .filter(|j| j.norm.orientation_not_judged.as_deref().is_some_and(|w| w.contains("Tesseract")))
            .count();
    let by_tesseract = all.iter().filter(|j| j.norm.tesseract_confidence.is_some()).count();
    println!("  Tesseract asked about {asked} pages, turned {by_tesseract} (each checked above like every turn)");
    assert!(wrong.is_empty(), "{wrong:#?}");
    // At least the letters' own share, and Tesseract settles most of what they leave.
    assert!(righted * 100 >= turned * 85, "only {righted} of {turned} turned pages set upright");
}

#[test]
fn skew_on_pages_never_seen_is_never_made_worse() {
    let (mut n, mut within, mut abstained, mut worse) = (0, 0, 0, Vec::new());
    for j in judged() {
        if j.norm.blank == Some(true) {
            continue;
        }
        let skew = j.truth["skew_deg"].as_f64().unwrap();
        let residual = skew - j.norm.deskew;
        n += 1;
        if residual.abs() <= 0.15 {
            within += 1;
        } else if j.norm.deskew == 0.0 {
            abstained += 1;
        }
        if residual.abs() > skew.abs() + 0.1 {
            worse.push(format!("{}: skew {skew:+.2}, straightened {:+.2}", j.id, j.norm.deskew));
        }
    }
    println!(
        "deskew: {within} of {n} within 0.15° of straight, {abstained} left as scanned, {} made worse",
        worse.len()
    );
    for w in &worse {
        println!("  WORSE {w}");
    }
    assert!(worse.is_empty(), "{worse:#?}");
}

#[test]
fn no_ordinary_page_is_taken_for_a_separator_sheet() {
    let false_sheets: Vec<&str> = judged().iter().filter(|j| j.sheet).map(|j| j.id.as_str()).collect();
    println!("separator sheets: {} false among {} ordinary pages", false_sheets.len(), judged().len());
    assert!(false_sheets.is_empty(), "{false_sheets:?}");
}

#[test]
fn real_scans_from_the_corpus_are_never_turned_or_taken_for_sheets() {
    let corpus = repo().join("../shared/corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("skipped: no ../shared/corpus here");
        return;
    };
    let mut seen = 0;
    for e in entries.flatten() {
        let p = e.path();
        if !matches!(p.extension().and_then(|x| x.to_str()), Some("png" | "jpg")) {
            continue;
        }
        let Some(r) = decode(&p, 0) else { continue };
        // Every corpus page is upright (Tesseract's orientation detector agrees: see benches/judgements.sh).
        let n = normalize::analyse(&r, 300.0, ALL);
        println!("{}: turns {} ({:?}), deskew {:+.2}", p.display(), n.turns, n.orientation_not_judged, n.deskew);
        assert_eq!(n.turns, 0, "{}: an upright real scan turned", p.display());
        assert!(sohoa::separate::detect(&r, 300.0).is_none(), "{}: taken for a sheet", p.display());
        seen += 1;
    }
    assert!(seen >= 5);
}

/// A photo, a map's fill or a picture's gradient is never thresholded away: on every page with
/// pictures (scanned in gray or colour), the page is kept in tone whole, or its picture regions cover
/// at least the pictures' area. The truth is the generator's: where it drew its pictures. ID cards
/// are counted apart: the generator's box there is the whole card, whose background is a tint some
/// ten levels off the paper, which is not yet told from paper (printed, not asserted).
#[test]
fn pictures_on_pages_never_seen_are_never_thresholded_away() {
    let (dir, truth) = eval_set();
    let (mut whole, mut regions, mut lost, mut card_tints) = (0, 0, Vec::new(), Vec::new());
    for t in truth.iter().filter(|t| t["mode"] != "bitonal") {
        let Some(boxes) = t["photo_boxes"].as_array().filter(|b| !b.is_empty()) else { continue };
        let dpi = t["dpi"].as_f64().unwrap();
        let index = t["page"].as_u64().map(|p| p as u32 - 1).unwrap_or(0);
        let Some(r) = decode(&dir.join(t["file"].as_str().unwrap()), index) else { continue };
        // Box coordinates are of the upright reference at 50 dpi.
        let scale = (dpi / 50.0).powi(2);
        let pictures: f64 = boxes
            .iter()
            .map(|b| {
                let v: Vec<f64> = b.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
                (v[2] - v[0]) * (v[3] - v[1]) * scale
            })
            .sum();
        let (mode, layers) = normalize::classify(&r, None, dpi, false);
        match mode {
            normalize::ColourMode::Gray | normalize::ColourMode::Colour => whole += 1,
            _ => {
                let kept: f64 = layers
                    .map(|l| l.regions.iter().map(|(_, _, reg)| reg.width as f64 * reg.height as f64).sum())
                    .unwrap_or(0.0);
                let what =
                    format!("{} ({}: {:.0}% of the picture area kept)", t["id"], t["layout"], kept / pictures * 100.0);
                if kept >= pictures * 0.9 {
                    regions += 1;
                } else if t["layout"] == "id_card" {
                    card_tints.push(what);
                } else {
                    lost.push(what);
                }
            }
        }
    }
    println!(
        "pictures: {whole} page(s) kept whole in tone, {regions} with picture regions, {} lost: {lost:?}; ID cards whose \
         background tint was not kept: {card_tints:?}",
        lost.len()
    );
    assert!(whole + regions > 0, "the set has pages with pictures");
    assert!(lost.is_empty(), "pictures thresholded away: {lost:?}");
}
