//! Printing separator sheets: one A4 page per dossier, the code large enough to survive a 200-dpi
//! scan a few degrees askew, the case code written out for the people who handle the paper.

use lopdf::content::{Content, Operation};
use lopdf::{Dictionary, Document, Object, Stream, dictionary};
use rxing::Writer;

use super::HEADER;
use super::font::SheetFont;
use crate::error::{Code, Failure, Result};

/// Which mark a sheet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Symbology {
    /// A QR code with the case code, role and document type (the default).
    Qr,
    /// A Code 128 bar code with the case code alone.
    Code128,
    /// A DataMatrix with the case code, role and document type.
    Datamatrix,
    /// A PATCH-T (Kodak transfer patch): starts a new document, carries no code.
    PatchT,
}

/// One sheet to print.
#[derive(Debug, Clone, Default)]
pub struct SheetSpec {
    /// The case (none for a PATCH-T sheet).
    pub case: Option<String>,
    /// `input` or `result`.
    pub role: Option<String>,
    /// The document type.
    pub doc_type: Option<String>,
}

const A4: (f64, f64) = (595.276, 841.89);

fn mm(v: f64) -> f64 {
    v * 72.0 / 25.4
}

/// The PDF with one sheet per spec.
pub fn sheets(specs: &[SheetSpec], symbology: Symbology) -> Result<Vec<u8>> {
    let mut doc = Document::with_version("1.4");
    let pages_id = doc.new_object_id();
    let font_id = doc.new_object_id();
    let mut font = SheetFont::new()?;
    let mut kids = Vec::new();
    for spec in specs {
        let mut ops = Vec::new();
        let mut xobjects = Dictionary::new();
        let f = &mut font;
        text(&mut ops, f, 24.0, mm(20.0), A4.1 - mm(30.0), "SOHOA — TỜ TÁCH HỒ SƠ / SEPARATOR SHEET");
        match symbology {
            Symbology::PatchT => patch_t(&mut ops),
            _ => {
                let case =
                    spec.case.as_deref().ok_or_else(|| Failure::bad(Code::NoCase, "this sheet needs a case code"))?;
                let (format, payload, size) = match symbology {
                    Symbology::Code128 => (rxing::BarcodeFormat::CODE_128, case.to_string(), (150.0, 35.0)),
                    Symbology::Datamatrix => (rxing::BarcodeFormat::DATA_MATRIX, payload(spec, case), (60.0, 60.0)),
                    _ => (rxing::BarcodeFormat::QR_CODE, payload(spec, case), (70.0, 70.0)),
                };
                let matrix = rxing::MultiFormatWriter
                    .encode(&payload, &format, 0, 0)
                    .map_err(|e| Failure::bad(Code::BadCode, format!("cannot encode the sheet for `{case}`: {e}")))?;
                let (w, h) = (matrix.getWidth(), matrix.getHeight());
                let mut pixels = Vec::with_capacity((w * h) as usize);
                for y in 0..h {
                    for x in 0..w {
                        pixels.push(if matrix.get(x, y) { 0u8 } else { 255 });
                    }
                }
                let image = Stream::new(
                    dictionary! {
                        "Type" => "XObject", "Subtype" => "Image", "Width" => w as i64, "Height" => h as i64,
                        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Interpolate" => false,
                    },
                    pixels,
                );
                let id = doc.add_object(image);
                xobjects.set("Code", Object::Reference(id));
                let (bw, bh) = (mm(size.0), mm(size.1));
                let (x, y) = ((A4.0 - bw) / 2.0, A4.1 / 2.0 - bh / 2.0 + mm(20.0));
                ops.push(Operation::new("q", vec![]));
                ops.push(Operation::new(
                    "cm",
                    [bw, 0.0, 0.0, bh, x, y].iter().map(|v| Object::Real(*v as f32)).collect(),
                ));
                ops.push(Operation::new("Do", vec![Object::Name(b"Code".to_vec())]));
                ops.push(Operation::new("Q", vec![]));
                text(&mut ops, f, 22.0, mm(20.0), y - mm(18.0), case);
                let mut line = Vec::new();
                if let Some(r) = &spec.role {
                    line.push(if r == "result" {
                        "Kết quả giải quyết (result)"
                    } else {
                        "Thành phần hồ sơ (input)"
                    });
                }
                if let Some(t) = &spec.doc_type {
                    line.push(t);
                }
                if !line.is_empty() {
                    text(&mut ops, f, 16.0, mm(20.0), y - mm(28.0), &line.join(" — "));
                }
            }
        }
        text(
            &mut ops,
            f,
            10.0,
            mm(20.0),
            mm(21.0),
            "Đặt tờ này trước hồ sơ. Tờ tách không đưa vào tệp PDF, nhưng được ghi lại trong hồ sơ.",
        );
        text(
            &mut ops,
            f,
            9.0,
            mm(20.0),
            mm(15.0),
            "Place this sheet in front of the dossier. It is left out of the PDF and kept in the record.",
        );
        let content = Content { operations: ops }
            .encode()
            .map_err(|e| Failure::bad(Code::Pdf, format!("cannot write the sheet: {e}")))?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        let page = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "MediaBox" => vec![0.into(), 0.into(), Object::Real(A4.0 as f32), Object::Real(A4.1 as f32)],
            "Contents" => content_id,
            "Resources" => dictionary! {
                "Font" => dictionary! { "F1" => font_id },
                "XObject" => xobjects,
            },
        });
        kids.push(Object::Reference(page));
    }
    font.embed(&mut doc, font_id)?;
    let count = kids.len() as i64;
    doc.objects
        .insert(pages_id, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| Failure::bad(Code::Pdf, format!("cannot write the sheets: {e}")))?;
    Ok(out)
}

/// What our QR and DataMatrix sheets carry.
fn payload(spec: &SheetSpec, case: &str) -> String {
    let role = spec.role.as_deref().unwrap_or("");
    let doc_type = spec.doc_type.as_deref().unwrap_or("");
    format!("{HEADER}\n{case}\n{role}\n{doc_type}").trim_end().to_string()
}

/// The four bars of a PATCH-T, parallel to the top edge, near it (where scanners with patch readers
/// look), 150 mm long.
fn patch_t(ops: &mut Vec<Operation>) {
    let (narrow, wide) = (2.03, 5.08);
    let mut top = 55.0;
    for (i, height) in [narrow, wide, narrow, wide].into_iter().enumerate() {
        if i > 0 {
            top += narrow;
        }
        let y = A4.1 - mm(top + height);
        ops.push(Operation::new(
            "re",
            [mm(30.0), y, mm(150.0), mm(height)].iter().map(|v| Object::Real(*v as f32)).collect(),
        ));
        ops.push(Operation::new("f", vec![]));
        top += height;
    }
}

/// One line of text at (x, y), in the sheet font, made smaller when it would run past the right
/// margin (a long document type stays whole on the page).
fn text(ops: &mut Vec<Operation>, font: &mut SheetFont, size: f64, x: f64, y: f64, s: &str) {
    let room = A4.0 - 2.0 * x;
    let wide = font.width(s, size);
    let size = if wide > room { size * room / wide } else { size };
    ops.push(Operation::new("BT", vec![]));
    ops.push(Operation::new("Tf", vec![Object::Name(b"F1".to_vec()), Object::Real(size as f32)]));
    ops.push(Operation::new("Td", vec![Object::Real(x as f32), Object::Real(y as f32)]));
    ops.push(Operation::new("Tj", vec![Object::String(font.encode(s), lopdf::StringFormat::Hexadecimal)]));
    ops.push(Operation::new("ET", vec![]));
}
