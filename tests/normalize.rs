//! Page normalization against ground truth: pages drawn by `fixtures/truth.py` with known skew,
//! rotation, borders, blankness, seals, faint print, uneven light and Vietnamese tone marks. Each test
//! prints its figures (the accuracy the issue asks for) and asserts them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use sohoa::normalize::{self, ColourMode, Steps, geometry};
use sohoa::pages::{Raster, RasterKind};

use common::*;

/// The truth set, drawn once per generator version into the target directory.
fn truth() -> &'static (PathBuf, BTreeMap<String, Value>) {
    static SET: OnceLock<(PathBuf, BTreeMap<String, Value>)> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = drawn_once("fixtures/truth.py", &[], "truth.json");
        let t: BTreeMap<String, Value> =
            serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
        (dir, t)
    })
}

fn load(path: &Path) -> Raster {
    let img = image::open(path).unwrap();
    let (w, h) = (img.width(), img.height());
    match img {
        image::DynamicImage::ImageLuma8(g) => {
            Raster { width: w, height: h, kind: RasterKind::Gray, data: g.into_raw() }
        }
        other => Raster { width: w, height: h, kind: RasterKind::Rgb, data: other.into_rgb8().into_raw() },
    }
}

const ALL: Steps = Steps { borders: true, blank: true, orientation: true, deskew: true, tesseract: false };

fn pages(kind: Option<&str>) -> Vec<(String, Value)> {
    let (_, t) = truth();
    t.iter().filter(|(_, v)| kind.is_none_or(|k| v["kind"] == k)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn analysed() -> &'static Vec<(String, Value, normalize::PageNormalization)> {
    static DONE: OnceLock<Vec<(String, Value, normalize::PageNormalization)>> = OnceLock::new();
    DONE.get_or_init(|| {
        let (dir, _) = truth();
        pages(None)
            .into_iter()
            .map(|(name, t)| {
                let r = load(&dir.join(&name));
                let n = normalize::analyse(&r, t["dpi"].as_f64().unwrap(), ALL);
                (name, t, n)
            })
            .collect()
    })
}

#[test]
fn skew_is_found_within_a_tenth_of_a_degree_on_average_and_zero_without_lines() {
    let mut errors = Vec::new();
    for (name, t, n) in analysed() {
        match t["kind"].as_str().unwrap() {
            "text" | "stamp" => {
                let err = (n.deskew - t["skew"].as_f64().unwrap()).abs();
                println!(
                    "{name}: skew {} found {} (confidence {:?}) error {err:.2}",
                    t["skew"], n.deskew, n.skew_confidence
                );
                errors.push((name.clone(), err));
            }
            _ => assert_eq!(n.deskew, 0.0, "{name}: a page without lines is not turned: {n:?}"),
        }
    }
    let mean = errors.iter().map(|e| e.1).sum::<f64>() / errors.len() as f64;
    let worst = errors.iter().cloned().fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
    println!("deskew: {} text pages, mean error {mean:.3}°, worst {:.2}° ({})", errors.len(), worst.1, worst.0);
    assert!(mean <= 0.1, "mean deskew error {mean:.3}°");
    assert!(worst.1 <= 0.2, "worst deskew error {:.2}° on {}", worst.1, worst.0);
}

#[test]
fn no_page_is_ever_turned_wrongly_and_turned_pages_are_mostly_set_upright() {
    let (mut turned, mut righted, mut abstained) = (0, 0, 0);
    for (name, t, n) in analysed() {
        // `turns` in the truth: clockwise quarter turns that make the scan upright.
        let want = t["turns"].as_u64().unwrap() as u8;
        if want == 0 {
            assert_eq!(n.turns, 0, "{name}: an upright page is left as it is: {n:?}");
            continue;
        }
        turned += 1;
        assert!(n.turns == want || n.turns == 0, "{name}: turned {} where {want} was right ({n:?})", n.turns);
        if n.turns == want {
            righted += 1;
        } else {
            abstained += 1;
            assert!(n.orientation_not_judged.is_some(), "{name}: left as scanned without saying why: {n:?}");
        }
    }
    println!("orientation: {righted} of {turned} turned pages set upright, {abstained} left as scanned, 0 wrong");
    assert!(righted * 100 >= turned * MIN_RIGHTED, "{righted} of {turned} turned pages set upright");
}

/// Share of turned pages (in percent) the letters must set upright on this set.
const MIN_RIGHTED: usize = 80;

#[test]
fn borders_are_taken_off_without_touching_content() {
    for (name, t, n) in analysed() {
        if t["kind"] == "blank" || t["kind"] == "photo" {
            continue;
        }
        let content: Vec<u32> = t["content"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        if let Some(c) = n.crop {
            assert!(
                c[0] <= content[0] && c[1] <= content[1] && c[2] >= content[2] && c[3] >= content[3],
                "{name}: the crop {c:?} cuts into the content {content:?}"
            );
        }
        if t["border"] == true {
            let paper: Vec<u32> = t["paper"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            let c = n.crop.unwrap_or_else(|| panic!("{name}: border not found"));
            // The dark bands are gone (a few pixels of the soft edge may stay).
            for k in 0..4 {
                assert!(c[k].abs_diff(paper[k]) <= 6, "{name}: crop {c:?} vs paper {paper:?}");
            }
            println!("{name}: paper {paper:?}, crop {c:?}, content {content:?}");
        } else {
            assert_eq!(n.crop, None, "{name}: no border to take off");
        }
    }
}

#[test]
fn blank_pages_are_found_and_no_content_page_is_called_blank() {
    let (mut blanks, mut found) = (0, 0);
    for (name, t, n) in analysed() {
        if t["kind"] == "blank" {
            blanks += 1;
            found += (n.blank == Some(true)) as usize;
            println!("{name} ({}): blank {:?}, ink {:?}", t["noise"], n.blank, n.ink);
        } else {
            assert_eq!(n.blank, Some(false), "{name}: a content page called blank ({:?})", n.ink);
        }
    }
    println!("blank: {found} of {blanks} blank pages found");
    assert!(found * 100 >= blanks * 95, "{found} of {blanks} blank pages found");
}

/// The page as the renderer classifies it: cropped inside its border first.
fn classified(name: &str, t: &Value) -> (ColourMode, Option<normalize::Layered>, Raster) {
    let (dir, _) = truth();
    let r = load(&dir.join(name));
    let dpi = t["dpi"].as_f64().unwrap();
    let r = match normalize::border::find(&r) {
        Some(c) => geometry::crop(&r, c),
        None => r,
    };
    let (mode, layers) = normalize::classify(&r, None, dpi, false);
    (mode, layers, r)
}

#[test]
fn text_pages_become_bitonal_and_seals_stay_in_colour() {
    for (name, t) in pages(None) {
        let kind = t["kind"].as_str().unwrap();
        if kind == "blank" {
            continue;
        }
        let (mode, layers, r) = classified(&name, &t);
        match kind {
            "text" => assert_eq!(mode, ColourMode::Bitonal, "{name}"),
            "photo" => assert_eq!(mode, ColourMode::Colour, "{name}"),
            "stamp" => {
                assert_eq!(mode, ColourMode::Mixed, "{name}");
                let l = layers.unwrap();
                // Every clearly coloured pixel of the page lies inside a colour region.
                let (w, mut outside, mut coloured) = (r.width as usize, 0, 0);
                for (i, p) in r.data.chunks_exact(3).enumerate() {
                    let c = p.iter().max().unwrap() - p.iter().min().unwrap();
                    if c > 90 {
                        coloured += 1;
                        let (x, y) = ((i % w) as u32, (i / w) as u32);
                        let inside = l
                            .regions
                            .iter()
                            .any(|(rx, ry, reg)| x >= *rx && y >= *ry && x < rx + reg.width && y < ry + reg.height);
                        outside += (!inside) as usize;
                    }
                }
                println!("{name}: {} colour regions, {coloured} colour pixels, {outside} outside", l.regions.len());
                assert!(coloured > 1000 && outside == 0, "{name}: {outside} of {coloured} colour pixels left out");
            }
            _ => {}
        }
    }
}

#[test]
fn tone_marks_survive_binarization_and_despeckling() {
    let (dir, _) = truth();
    let (mut marks, mut kept, mut specks) = (0usize, 0usize, 0u32);
    for (name, t) in pages(Some("text")) {
        let Some(mask) = t["marks"].as_str() else { continue };
        let (mode, layers, r) = classified(&name, &t);
        assert_eq!(mode, ColourMode::Bitonal, "{name}");
        let l = layers.unwrap();
        specks += l.specks;
        let bits = &l.text;
        let stride = (bits.width as usize).div_ceil(8);
        let black = |x: usize, y: usize| bits.data[y * stride + x / 8] & (0x80 >> (x % 8)) != 0;
        let m = image::open(dir.join(mask)).unwrap().into_luma8();
        assert_eq!((m.width(), m.height()), (r.width, r.height));
        let (w, h) = (m.width() as usize, m.height() as usize);
        let on: Vec<bool> = m.pixels().map(|p| p.0[0] > 127).collect();
        let mut seen = vec![false; w * h];
        let (mut page_marks, mut page_kept) = (0, 0);
        for start in 0..w * h {
            if !on[start] || seen[start] {
                continue;
            }
            // One mark: its 8-connected pixels.
            let mut stack = vec![start];
            seen[start] = true;
            let mut px = Vec::new();
            while let Some(i) = stack.pop() {
                px.push(i);
                let (x, y) = ((i % w) as i64, (i / w) as i64);
                for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx >= 0 && ny >= 0 && (nx as usize) < w && (ny as usize) < h {
                        let n = ny as usize * w + nx as usize;
                        if on[n] && !seen[n] {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
            if px.len() < 3 {
                continue; // a sliver between two renderings, not a mark
            }
            page_marks += 1;
            let inked = px.iter().filter(|i| black(*i % w, *i / w)).count();
            page_kept += (inked * 2 >= px.len()) as usize;
        }
        println!("{name} ({} dpi): {page_kept} of {page_marks} tone marks kept, {} specks removed", t["dpi"], l.specks);
        marks += page_marks;
        kept += page_kept;
    }
    println!(
        "tone marks: {kept} of {marks} kept ({:.2}%); {specks} specks removed",
        kept as f64 * 100.0 / marks as f64
    );
    assert!(marks > 500, "only {marks} marks drawn");
    assert!(kept * 100 >= marks * 99, "{kept} of {marks} tone marks kept");
    assert!(specks > 1000, "the scanner specks were not removed ({specks})");
}

#[test]
fn faint_and_unevenly_lit_text_keeps_its_ink_and_loses_its_shadow() {
    for (name, t) in pages(Some("text")) {
        if t["faint"] != true && t["uneven"] != true {
            continue;
        }
        let (mode, layers, _) = classified(&name, &t);
        assert_eq!(mode, ColourMode::Bitonal, "{name}");
        let l = layers.unwrap();
        let black: u64 = l.text.data.iter().map(|b| b.count_ones() as u64).sum();
        let share = black as f64 / (l.text.width as f64 * l.text.height as f64);
        println!("{name}: {:.2}% black", share * 100.0);
        // Text covers a few percent of a page: none lost to a too-low threshold, no shadow gone black.
        assert!((0.01..0.12).contains(&share), "{name}: {:.2}% black", share * 100.0);
    }
}
