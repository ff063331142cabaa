//! One page through the profile's normalization steps: what each step found, kept as the page's record.
//!
//! Analysis only looks; it never changes pixels. The renderer then carries the decisions out — in the
//! PDF's placement for pages whose bytes are kept, in pixels for pages re-encoded anyway — and stores
//! this record with the page, so a clerk sees what was done and a correction can undo it.

use serde::{Deserialize, Serialize};

use super::border::{self, Rect};
use super::{InkGrid, blank, geometry, orientation, osd};
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
    /// Ask Tesseract's orientation detector about pages the letters leave unsure (`osd`).
    pub tesseract: bool,
}

/// Samples an inch for reading letters (orientation): 150 resolves the ascenders of 8-pt text.
const LETTER_SAMPLES: f64 = 150.0;

/// Why a dithered page's orientation is not judged.
const DITHERED: &str = "the page is a dither of dots (a halftone): its letters cannot be read reliably";

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
    /// The confidence of Tesseract's orientation detector, when the turn is its answer (the letters
    /// had left the page unsure; their reason is `letters_unsure`). On the detector's own scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tesseract_confidence: Option<f64>,
    /// Why the letters alone did not judge the page, when Tesseract was asked instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letters_unsure: Option<String>,
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

    /// One line for a clerk: what was done to the page and how sure each judgement was (English).
    pub fn describe(&self) -> String {
        self.describe_in(false)
    }

    /// The same line in Vietnamese, for a clerk reading `case show` (the reasons are translated too).
    pub fn describe_vi(&self) -> String {
        self.describe_in(true)
    }

    fn describe_in(&self, vi: bool) -> String {
        let say = |v: String, e: String| if vi { v } else { e };
        let reason = |why: &str| if vi { reason_vi(why) } else { why.to_string() };
        let mut parts = Vec::new();
        if self.blank == Some(true) {
            let ink = self.ink.unwrap_or(0.0) * 100.0;
            parts.push(say(format!("trang trắng (mực {ink:.4}%)"), format!("blank (ink {ink:.4}%)")));
        }
        let degrees = 90 * self.turns as u32;
        if let Some(o) = self.exif_orientation {
            parts.push(say(
                format!("xoay {degrees}° (hướng EXIF {o})"),
                format!("turned {degrees}° (EXIF orientation {o})"),
            ));
        } else if let Some(c) = self.tesseract_confidence {
            let unsure = reason(self.letters_unsure.as_deref().unwrap_or("unsure"));
            let (done_vi, done_en) = match self.turns {
                0 => ("đúng chiều".to_string(), "upright".to_string()),
                _ => (format!("xoay {degrees}°"), format!("turned {degrees}°")),
            };
            parts.push(say(
                format!("{done_vi} theo bộ nhận hướng của Tesseract (độ tin cậy {c:.2}; chỉ xét nét chữ: {unsure})"),
                format!("{done_en} by Tesseract's orientation detector (confidence {c:.2}; letters alone: {unsure})"),
            ));
        } else if self.turns != 0 {
            let c = self.turn_confidence.unwrap_or(0.0);
            parts.push(say(
                format!("xoay {degrees}° (độ tin cậy {c:.2})"),
                format!("turned {degrees}° (confidence {c:.2})"),
            ));
        }
        if let Some(why) = &self.orientation_not_judged {
            let why = reason(why);
            parts.push(say(
                format!("chưa xác định được chiều trang ({why}): để nguyên như khi quét"),
                format!("orientation not judged ({why}): left as scanned"),
            ));
        }
        if self.deskew != 0.0 {
            let (d, c) = (self.deskew, self.skew_confidence.unwrap_or(0.0));
            parts.push(say(
                format!("nắn thẳng {d:.2}° (độ tin cậy {c:.2})"),
                format!("straightened {d:.2}° (confidence {c:.2})"),
            ));
        }
        if let Some([x0, y0, x1, y1]) = self.crop {
            parts.push(say(
                format!("cắt viền tối còn {x0},{y0}–{x1},{y1}"),
                format!("dark border cropped to {x0},{y0}–{x1},{y1}"),
            ));
        }
        if let Some(m) = &self.mode {
            let vi_mode = match m.as_str() {
                "bitonal" => "đen trắng",
                "mixed" => "đen trắng + vùng màu",
                "gray" => "thang xám",
                "colour" => "màu",
                other => other,
            };
            parts.push(say(vi_mode.to_string(), m.clone()));
        }
        if let Some(n) = self.specks {
            parts.push(say(format!("bỏ {n} đốm bẩn"), format!("{n} specks removed")));
        }
        if let Some([a, b]) = self.resampled {
            parts.push(format!("{a:.0} → {b:.0} dpi"));
        }
        if let Some(g) = &self.geometry {
            parts.push(match g.as_str() {
                "pixels" => say("xoay, cắt trên điểm ảnh".into(), "geometry in the pixels".into()),
                _ => say(
                    "xoay, cắt trong PDF, giữ nguyên ảnh quét".into(),
                    "geometry in the PDF, scan bytes kept".into(),
                ),
            });
        }
        parts.join(", ")
    }
}

/// A reason the orientation was not judged, in Vietnamese: each phrase `orientation` and `osd` write
/// has its translation here; a number inside is carried over.
pub fn reason_vi(why: &str) -> String {
    const PHRASES: &[(&str, &str)] = &[
        ("no letters to read", "không có chữ để đọc"),
        (
            "no lines to read (the page is too small, or nearly all ink)",
            "không có dòng chữ để đọc (trang quá nhỏ, hoặc gần như toàn mực)",
        ),
        ("too few letters to read", "quá ít chữ để đọc"),
        ("the lines' direction is not clear", "không rõ dòng chữ chạy theo chiều nào"),
        (
            "too few letters with ascenders or marks to tell which way up",
            "quá ít chữ có nét trên hay dấu để biết chiều nào là đầu trang",
        ),
        (
            "marks above and below the letters are too even to tell which way up",
            "dấu trên và dưới chữ ngang nhau, không biết chiều nào là đầu trang",
        ),
        ("letters unsure", "nét chữ chưa đủ chắc"),
        ("Tesseract unsure too (confidence", "Tesseract cũng không chắc (độ tin cậy"),
        ("Tesseract is not installed", "chưa cài Tesseract"),
        ("Tesseract found too few letters", "Tesseract thấy quá ít chữ"),
        ("Tesseract gave no answer within a minute", "Tesseract không trả lời trong một phút"),
        ("Tesseract read the letters as", "Tesseract đọc chữ là chữ"),
        (" script, not Latin", ", không phải chữ Latinh"),
        ("Tesseract's answer,", "câu trả lời của Tesseract,"),
        ("disagrees with the direction of the lines", "không khớp với chiều dòng chữ"),
        ("the page is a dither of dots", "trang là các chấm rời (ảnh in lưới)"),
        ("letters cannot be read reliably", "không đọc chắc được nét chữ"),
        ("Tesseract failed:", "Tesseract lỗi:"),
        ("unsure", "chưa chắc"),
    ];
    let mut out = why.to_string();
    for (en, vi) in PHRASES {
        out = out.replace(en, vi);
    }
    out
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
    let Some(grid) = InkGrid::of(page, dpi) else {
        // Too small, or almost all ink or none: no lines to read, and the record says so.
        if steps.orientation {
            out.orientation_not_judged = Some("no lines to read (the page is too small, or nearly all ink)".into());
        }
        return out;
    };
    out.content = ink_box(&grid).map(|[x0, y0, x1, y1]| [x0 + ox, y0 + oy, x1 + ox, y1 + oy]);
    if !(steps.orientation || steps.deskew) {
        return out;
    }
    // A page dithered to dots (a halftone, or paper tint scanned in 1-bit) fools both letter readers
    // (sure of a wrong turn, measured): its orientation is not judged at all.
    let dithered = steps.orientation && orientation::dithered(page);
    let judged = if steps.orientation && !dithered {
        InkGrid::sampled(page, dpi, LETTER_SAMPLES).and_then(|letters| orientation::judge(&letters, &grid))
    } else {
        None
    };
    let judged = judged.or_else(|| {
        // Only straightening (or no letters): lines are taken to run across.
        let skew = super::deskew::estimate_points(&grid.points(), grid.width, grid.height);
        Some(orientation::Upright { turns: None, confidence: 0.0, marks: 0, abstained: None, skew, sideways: None })
    });
    if dithered {
        out.orientation_not_judged = Some(DITHERED.to_string());
    }
    if let Some(mut u) = judged {
        if steps.orientation && !dithered {
            match (u.turns, u.abstained) {
                (Some(t), _) => {
                    out.turns = t;
                    if t != 0 {
                        out.turn_confidence = Some(round3(u.confidence));
                    }
                }
                (None, Some(why)) if steps.tesseract => {
                    match osd::ask(page, dpi, ink_box(&grid))
                        .and_then(|o| o.verdict(u.sideways).map(|t| (t, o.confidence)))
                    {
                        Ok((t, c)) => {
                            out.turns = t;
                            out.tesseract_confidence = Some(round3(c));
                            out.letters_unsure = Some(why.to_string());
                            // The letters' skew was read with the lines across; a quarter turn
                            // they did not find reads it again with the lines down.
                            if t % 2 == 1 && u.sideways != Some(true) {
                                u.skew = orientation::skew_of(&grid, true);
                            }
                        }
                        Err(also) => out.orientation_not_judged = Some(format!("{why}; {also}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_orientation_reason_reads_in_vietnamese() {
        for why in [
            "no letters to read",
            "too few letters to read",
            "the lines' direction is not clear",
            "too few letters with ascenders or marks to tell which way up; Tesseract unsure too (confidence 1.20)",
            "marks above and below the letters are too even to tell which way up; Tesseract is not installed",
            "no letters to read; Tesseract found too few letters",
            "no letters to read; Tesseract gave no answer within a minute",
            "the lines' direction is not clear; Tesseract read the letters as Han script, not Latin",
            "too few letters to read; Tesseract's answer, 90°, disagrees with the direction of the lines",
            DITHERED,
            "no lines to read (the page is too small, or nearly all ink)",
        ] {
            let vi = reason_vi(why);
            for english in ["letters", "read", "lines", "marks", "unsure", "answer", "installed", "script", "minute"] {
                assert!(!vi.contains(english), "{why:?} → {vi:?} keeps {english:?}");
            }
        }
        let n = PageNormalization {
            turns: 1,
            tesseract_confidence: Some(6.4),
            letters_unsure: Some("too few letters to read".into()),
            ..Default::default()
        };
        assert!(n.describe().contains("turned 90° by Tesseract"));
        assert!(n.describe_vi().contains("xoay 90° theo bộ nhận hướng của Tesseract"), "{}", n.describe_vi());
    }
}
