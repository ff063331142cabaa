//! Separator sheets: the pages that say where a scanned stack splits into dossiers. `detect` reads a
//! page's pixels for a QR code, Code 128 or DataMatrix (rxing) or a PATCH-T bar pattern; `print`
//! makes the sheets (`sohoa separator print`). What a sheet *means* for the stack — which pages go to
//! which case — is decided at assembly, in capture order (`store::records`).

mod font;
mod patch;
pub mod print;

use std::collections::HashSet;

use rxing::{BarcodeFormat, DecodeHints};
use serde::{Deserialize, Serialize};

use crate::pages::Raster;

/// The first line of the payload our sheets carry; the lines after it are the case code, the role
/// and the document type. A code without this header is taken as a bare case code (sheets from other
/// tools, a Code 128 label).
pub const HEADER: &str = "SOHOA-SEP";

/// What a page says about the stack, before the case code is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// A code was read.
    Code {
        /// The symbology (`qr`, `code128`, `datamatrix`).
        symbology: &'static str,
        /// The decoded text.
        text: String,
    },
    /// A PATCH-T sheet: a new document begins, the dossier stays.
    PatchT,
    /// A QR code is there (its finder patterns were found) but could not be read.
    Unreadable,
}

/// What a sheet tells the stack, as recorded with the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Sheet {
    /// A dossier (or, with a role or type, a document of it) begins.
    Code {
        /// The case (validated, NFC).
        case: String,
        /// `input` or `result`, when the sheet says.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<crate::profile::DocRole>,
        /// The document type, when the sheet says.
        #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
        doc_type: Option<String>,
    },
    /// A new document of the same dossier (PATCH-T).
    Split,
    /// A sheet whose dossier cannot be told: its pages stay unfiled until the next sheet.
    Unreadable {
        /// Why, for the clerk.
        why: String,
    },
}

/// What the split job records with each page of a stacked profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackNote {
    /// The profile's `separators.every` (0 = off).
    #[serde(default)]
    pub every: u32,
    /// The sheet this page is, if it is one.
    #[serde(default)]
    pub sheet: Option<Sheet>,
}

impl Mark {
    /// The sheet this mark makes, with the case code checked by `valid` (which returns the NFC code
    /// or why it is not one); `None` when the page only carries some other code (an ID card's QR, an
    /// invoice's bar code): it is an ordinary page, and what its code says is not copied anywhere.
    pub fn sheet(&self, valid: impl Fn(&str) -> Result<String, String>) -> Option<Sheet> {
        match self {
            Mark::PatchT => Some(Sheet::Split),
            Mark::Unreadable => Some(Sheet::Unreadable { why: "the sheet's QR code could not be read".into() }),
            Mark::Code { symbology, text } => {
                if !text.starts_with(HEADER) {
                    // A bare code is a sheet only when it is a case code (a Code 128 label, another tool's sheet).
                    return valid(text.trim()).ok().map(|case| Sheet::Code { case, role: None, doc_type: None });
                }
                let mut lines = text.lines().map(str::trim).skip(1);
                let raw = lines.next().unwrap_or_default();
                let role = lines.next().and_then(crate::profile::DocRole::parse);
                let doc_type = lines.next().filter(|t| !t.is_empty()).map(crate::util::text::nfc);
                Some(match valid(raw) {
                    Ok(case) => Sheet::Code { case, role, doc_type },
                    Err(e) => Sheet::Unreadable {
                        why: format!(
                            "the {symbology} of a separator sheet says `{raw}`, which is not a case code: {e}"
                        ),
                    },
                })
            }
        }
    }
}

/// Looks at a page for a separator sheet. `dpi` is the page's resolution (large pages are read at
/// half scale: codes on a sheet are big, and it is three times faster).
pub fn detect(raster: &Raster, dpi: f64) -> Option<Mark> {
    let (mut luma, mut w, mut h) = (raster.luma(), raster.width, raster.height);
    if dpi >= 250.0 && w >= 400 && h >= 400 {
        (luma, w, h) = half(&luma, w, h);
    }
    let read = |formats: &[BarcodeFormat]| {
        let mut hints = DecodeHints {
            TryHarder: Some(true),
            PossibleFormats: Some(formats.iter().copied().collect::<HashSet<_>>()),
            ..Default::default()
        };
        rxing::helpers::detect_in_luma_slice_with_hints(&luma, w, h, None, &mut hints)
    };
    let px_per_mm = f64::from(w) / (f64::from(raster.width) / dpi * 25.4);
    if let Ok(r) = read(&[BarcodeFormat::QR_CODE]) {
        return Some(Mark::Code { symbology: "qr", text: r.getText().to_string() });
    }
    if let Ok(r) = read(&[BarcodeFormat::CODE_128, BarcodeFormat::DATA_MATRIX]) {
        let symbology = if *r.getBarcodeFormat() == BarcodeFormat::CODE_128 { "code128" } else { "datamatrix" };
        return Some(Mark::Code { symbology, text: r.getText().to_string() });
    }
    if patch::is_patch_t(&luma, w, h, px_per_mm) {
        return Some(Mark::PatchT);
    }
    // A code that is there but says nothing readable is a damaged sheet only with a sheet's evidence:
    // a QR code of sheet size, where our sheets print it, on a page with little else on it. Square
    // blobs in text, a table's corners or an ID card's small QR are ordinary pages.
    sheet_sized_qr(&luma, w, h, px_per_mm).then_some(Mark::Unreadable)
}

/// Smallest module of a sheet's QR code, in millimetres: ours print at about 2 mm (70 mm across);
/// the QR codes on ID cards, invoices and letters are 0.3–0.6 mm.
const SHEET_MODULE_MM: f64 = 1.0;
/// Smallest distance between a sheet QR's finder patterns, in millimetres (ours: about 55 mm).
const SHEET_FINDERS_MM: f64 = 35.0;
/// Most ink a sheet carries outside its code, as a share of the page (its title, the case code and a
/// line of type: under 2%; a page of text: 5–15%).
const SHEET_OTHER_INK: f64 = 0.03;

/// Whether the page carries the finder patterns of a sheet-sized QR code in the middle of the page,
/// with little other ink: the evidence of a separator sheet whose data cannot be read.
fn sheet_sized_qr(luma: &[u8], w: u32, h: u32, px_per_mm: f64) -> bool {
    use rxing::common::HybridBinarizer;
    let Ok(source) = rxing::Luma8LuminanceSource::new(luma.to_vec(), w, h) else { return false };
    let bitmap = rxing::BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = DecodeHints { TryHarder: Some(true), ..Default::default() };
    let Ok(info) = rxing::qrcode::detector::FinderPatternFinder::new(bitmap.get_black_matrix()).find(&hints) else {
        return false;
    };
    let pats = [info.getTopLeft(), info.getTopRight(), info.getBottomLeft()];
    let module = pats.iter().map(|p| f64::from(p.getEstimatedModuleSize())).fold(f64::MAX, f64::min) / px_per_mm;
    let at: Vec<rxing::Point> = pats.iter().map(|p| rxing::Point::from(*p)).collect();
    let dist = |a: rxing::Point, b: rxing::Point| f64::from((a.x - b.x).hypot(a.y - b.y)) / px_per_mm;
    let side = dist(at[0], at[1]).min(dist(at[0], at[2]));
    let xs = at.iter().map(|p| f64::from(p.x));
    let ys = at.iter().map(|p| f64::from(p.y));
    let (x0, x1) = (xs.clone().fold(f64::MAX, f64::min), xs.fold(f64::MIN, f64::max));
    let (y0, y1) = (ys.clone().fold(f64::MAX, f64::min), ys.fold(f64::MIN, f64::max));
    let (fw, fh) = (f64::from(w), f64::from(h));
    let centred = (x0 + x1) / 2.0 > fw * 0.25
        && (x0 + x1) / 2.0 < fw * 0.75
        && (y0 + y1) / 2.0 > fh * 0.2
        && (y0 + y1) / 2.0 < fh * 0.8;
    if module < SHEET_MODULE_MM || side < SHEET_FINDERS_MM || !centred {
        return false;
    }
    // Ink outside the code (its box grown by a finder pattern's width on each side).
    let grow = 10.0 * px_per_mm;
    let (bx0, bx1, by0, by1) = (x0 - grow, x1 + grow, y0 - grow, y1 + grow);
    let (mut ink, mut total) = (0u64, 0u64);
    for y in (0..h as usize).step_by(2) {
        for x in (0..w as usize).step_by(2) {
            let (fx, fy) = (x as f64, y as f64);
            if fx >= bx0 && fx <= bx1 && fy >= by0 && fy <= by1 {
                continue;
            }
            total += 1;
            ink += u64::from(luma[y * w as usize + x] < 128);
        }
    }
    total > 0 && (ink as f64) < total as f64 * SHEET_OTHER_INK
}

/// A 2×2 box downscale.
fn half(luma: &[u8], w: u32, h: u32) -> (Vec<u8>, u32, u32) {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = Vec::with_capacity((hw * hh) as usize);
    for y in 0..hh as usize {
        let (r0, r1) = (2 * y * w as usize, (2 * y + 1) * w as usize);
        for x in 0..hw as usize {
            let s = u16::from(luma[r0 + 2 * x])
                + u16::from(luma[r0 + 2 * x + 1])
                + u16::from(luma[r1 + 2 * x])
                + u16::from(luma[r1 + 2 * x + 1]);
            out.push((s / 4) as u8);
        }
    }
    (out, hw, hh)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(raw: &str) -> Result<String, String> {
        if raw.starts_with("H15.") { Ok(raw.to_string()) } else { Err("not a case code".into()) }
    }

    #[test]
    fn only_our_sheets_and_bare_case_codes_split_a_stack() {
        let code = |text: &str| Mark::Code { symbology: "qr", text: text.into() };
        // An ID card's QR code on an ordinary page: no sheet, and nothing of it kept.
        assert_eq!(code("001234567890||Nguyễn Văn A|01011990").sheet(valid), None);
        // A bare case code (a Code 128 label).
        assert_eq!(
            code("H15.50.05.13-261008-0001").sheet(valid),
            Some(Sheet::Code { case: "H15.50.05.13-261008-0001".into(), role: None, doc_type: None })
        );
        // Our sheet, with role and type.
        assert_eq!(
            code("SOHOA-SEP\nH15.50.05.13-261008-0002\nresult\nQuyết định").sheet(valid),
            Some(Sheet::Code {
                case: "H15.50.05.13-261008-0002".into(),
                role: Some(crate::profile::DocRole::Result),
                doc_type: Some("Quyết định".into())
            })
        );
        // Our sheet with a code that is not a case code: a sheet, unreadable.
        assert!(matches!(code("SOHOA-SEP\nnonsense").sheet(valid), Some(Sheet::Unreadable { .. })));
        assert_eq!(Mark::PatchT.sheet(valid), Some(Sheet::Split));
    }
}
