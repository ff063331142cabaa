//! One page through the profile's normalization steps: what each step found, kept as the page's record.
//!
//! Analysis only looks; it never changes pixels. The renderer then carries the decisions out — in the
//! PDF's placement for pages whose bytes are kept, in pixels for pages re-encoded anyway — and stores
//! this record with the page, so a clerk sees what was done and a correction can undo it.

use serde::{Deserialize, Serialize};

use super::border::{self, Rect};
use super::{InkGrid, blank, geometry, orientation};
use crate::pages::Raster;

/// Which steps a profile turns on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Steps {
    /// Take dark scanner borders off.
    pub borders: bool,
    /// Judge blank pages.
    pub blank: bool,
    /// Turn pages upright (90°, 180°, 270°).
    pub orientation: bool,
    /// Straighten skewed pages.
    pub deskew: bool,
}

/// Samples an inch for reading letters (orientation): 150 resolves the ascenders of 8-pt text.
const LETTER_SAMPLES: f64 = 150.0;

/// Skews smaller than this are left alone (a tenth of a degree is within the estimate's error).
pub const MIN_SKEW: f64 = 0.1;

/// What normalization found and did for one page, stored with the page as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageNormalization {
    /// The EXIF orientation (1–8) a JPEG carried, when not 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exif_orientation: Option<u8>,
    /// Clockwise quarter turns shown (from EXIF, or from the text lines).
    pub turns: u8,
    /// How sure the letters' judgement of the turn was: the share of the marks counted that agree
    /// with it (see `orientation`; a verdict needs two to one or more).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_confidence: Option<f64>,
    /// Why the page's orientation was not judged (it was left as scanned), when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orientation_not_judged: Option<String>,
    /// Degrees the content was turned clockwise to straighten it (the skew found).
    pub deskew: f64,
    /// The skew estimate's confidence (best angle's score over the median's; ≥ 1.3 to act).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skew_confidence: Option<f64>,
    /// The part of the scan kept inside its dark border: x0, y0, x1, y1 in the scan's pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crop: Option<Rect>,
    /// The box of the ink, in the scan's pixels (what a crop or turn must keep).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Rect>,
    /// The blank verdict, when judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blank: Option<bool>,
    /// Share of the inner page covered by ink (what the blank verdict rests on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ink: Option<f64>,
    /// `bitonal`, `mixed`, `gray` or `colour`, when classified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Resolution before and after downsampling to the profile's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resampled: Option<[f64; 2]>,
    /// Scanner specks taken off a 1-bit page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specks: Option<u32>,
    /// Where the geometry was applied: `pdf` (placement matrix, bytes kept) or `pixels` (re-encoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geometry: Option<String>,
}

impl PageNormalization {
    /// Whether any step found anything to record.
    pub fn is_empty(&self) -> bool {
        *self == PageNormalization::default()
    }

    /// One line for a clerk: what was done to the page and how sure each judgement was.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.blank == Some(true) {
            parts.push(format!("blank (ink {:.4}%)", self.ink.unwrap_or(0.0) * 100.0));
        }
        if let Some(o) = self.exif_orientation {
            parts.push(format!("turned {}° (EXIF orientation {o})", 90 * self.turns as u32));
        } else if self.turns != 0 {
            parts.push(format!(
                "turned {}° (confidence {:.2})",
                90 * self.turns as u32,
                self.turn_confidence.unwrap_or(0.0)
            ));
        }
        if let Some(why) = &self.orientation_not_judged {
            parts.push(format!("orientation not judged ({why}): left as scanned"));
        }
        if self.deskew != 0.0 {
            parts.push(format!(
                "straightened {:.2}° (confidence {:.2})",
                self.deskew,
                self.skew_confidence.unwrap_or(0.0)
            ));
        }
        if let Some([x0, y0, x1, y1]) = self.crop {
            parts.push(format!("dark border cropped to {x0},{y0}–{x1},{y1}"));
        }
        if let Some(m) = &self.mode {
            parts.push(m.clone());
        }
        if let Some(n) = self.specks {
            parts.push(format!("{n} specks removed"));
        }
        if let Some([a, b]) = self.resampled {
            parts.push(format!("{a:.0} → {b:.0} dpi"));
        }
        if let Some(g) = &self.geometry {
            parts.push(format!("geometry in the {}", if g == "pixels" { "pixels" } else { "PDF, scan bytes kept" }));
        }
        parts.join(", ")
    }
}

/// Looks at a page's pixels (at `dpi`) with the steps asked for.
pub fn analyse(r: &Raster, dpi: f64, steps: Steps) -> PageNormalization {
    let mut out = PageNormalization::default();
    if !(steps.borders || steps.blank || steps.orientation || steps.deskew) {
        return out;
    }
    // Every step reads lightness only: convert once.
    let gray = r.gray();
    let r = gray.as_ref();
    out.crop = if steps.borders { border::find(r) } else { None };
    let cropped = out.crop.map(|c| geometry::crop(r, c));
    let page = cropped.as_ref().unwrap_or(r);
    let [ox, oy] = out.crop.map(|c| [c[0], c[1]]).unwrap_or([0, 0]);
    if steps.blank {
        let ink = blank::ink_coverage(page);
        out.ink = Some((ink * 1e6).round() / 1e6);
        out.blank = Some(ink < blank::BLANK_COVERAGE);
        if ink < blank::BLANK_COVERAGE {
            return out;
        }
    }
    let Some(grid) = InkGrid::of(page, dpi) else { return out };
    out.content = ink_box(&grid).map(|[x0, y0, x1, y1]| [x0 + ox, y0 + oy, x1 + ox, y1 + oy]);
    if !(steps.orientation || steps.deskew) {
        return out;
    }
    let judged = if steps.orientation {
        InkGrid::sampled(page, dpi, LETTER_SAMPLES).and_then(|letters| orientation::judge(&letters, &grid))
    } else {
        None
    };
    let judged = judged.or_else(|| {
        // Only straightening (or no letters): lines are taken to run across.
        let skew = super::deskew::estimate_points(&grid.points(), grid.width, grid.height);
        Some(orientation::Upright { turns: None, confidence: 0.0, marks: 0, abstained: None, skew })
    });
    if let Some(u) = judged {
        if steps.orientation {
            match (u.turns, u.abstained) {
                (Some(t), _) => {
                    out.turns = t;
                    if t != 0 {
                        out.turn_confidence = Some(round3(u.confidence));
                    }
                }
                (None, Some(why)) => out.orientation_not_judged = Some(why.to_string()),
                (None, None) => out.orientation_not_judged = Some("no letters to read".to_string()),
            }
        }
        if let Some(s) = u.skew.filter(|s| steps.deskew && s.degrees.abs() >= MIN_SKEW) {
            out.deskew = s.degrees;
            out.skew_confidence = Some(round3(s.confidence));
        }
    }
    out
}

/// The box of the ink samples that touch another (strokes, not specks), in pixels.
fn ink_box(g: &InkGrid) -> Option<Rect> {
    let (w, h) = (g.width, g.height);
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for (i, v) in g.ink.iter().enumerate() {
        let (x, y) = (i % w, i / w);
        let touching = || {
            (y.saturating_sub(1)..(y + 2).min(h))
                .any(|ny| (x.saturating_sub(1)..(x + 2).min(w)).any(|nx| (nx, ny) != (x, y) && g.ink[ny * w + nx]))
        };
        if *v && touching() {
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    (x0 <= x1).then(|| [x0 * g.step, y0 * g.step, (x1 + 1) * g.step, (y1 + 1) * g.step].map(|v| v as u32))
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
