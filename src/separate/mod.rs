//! Separator sheets: the pages that say where a scanned stack splits into dossiers. `detect` reads a
//! page's pixels for a QR code, Code 128 or DataMatrix (rxing) or a PATCH-T bar pattern; `print`
//! makes the sheets (`sohoa separator print`). What a sheet *means* for the stack — which pages go to
//! which case — is decided at assembly, in capture order (`store::records`).

mod patch;
pub mod print;

use std::collections::HashSet;

use rxing::{BarcodeFormat, DecodeHints, Exceptions};
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
        role: Option<String>,
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
                let role = lines.next().filter(|r| *r == "input" || *r == "result").map(str::to_string);
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
    let mut damaged = false;
    match read(&[BarcodeFormat::QR_CODE]) {
        Ok(r) => return Some(Mark::Code { symbology: "qr", text: r.getText().to_string() }),
        Err(Exceptions::ChecksumException(_) | Exceptions::FormatException(_)) => damaged = true,
        Err(_) => {}
    }
    if let Ok(r) = read(&[BarcodeFormat::CODE_128, BarcodeFormat::DATA_MATRIX]) {
        let symbology = if *r.getBarcodeFormat() == BarcodeFormat::CODE_128 { "code128" } else { "datamatrix" };
        return Some(Mark::Code { symbology, text: r.getText().to_string() });
    }
    let mm = f64::from(w) / (f64::from(raster.width) / dpi * 25.4);
    if patch::is_patch_t(&luma, w, h, mm) {
        return Some(Mark::PatchT);
    }
    // A QR code that is there (its three finder patterns are) but says nothing readable: a damaged
    // sheet, not a page of the dossier.
    (damaged || qr_present(&luma, w, h)).then_some(Mark::Unreadable)
}

/// Whether the three finder patterns of a QR code are on the page.
fn qr_present(luma: &[u8], w: u32, h: u32) -> bool {
    use rxing::common::HybridBinarizer;
    let Ok(source) = rxing::Luma8LuminanceSource::new(luma.to_vec(), w, h) else { return false };
    let bitmap = rxing::BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = DecodeHints { TryHarder: Some(true), ..Default::default() };
    rxing::qrcode::detector::FinderPatternFinder::new(bitmap.get_black_matrix()).find(&hints).is_ok()
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
                role: Some("result".into()),
                doc_type: Some("Quyết định".into())
            })
        );
        // Our sheet with a code that is not a case code: a sheet, unreadable.
        assert!(matches!(code("SOHOA-SEP\nnonsense").sheet(valid), Some(Sheet::Unreadable { .. })));
        assert_eq!(Mark::PatchT.sheet(valid), Some(Sheet::Split));
    }
}
