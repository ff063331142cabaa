//! PDF inputs. A scanner's PDF (one image per page, no text) gives up its page images: DCT and CCITT
//! streams are kept byte for byte, Flate pixels are decoded. A PDF with text or vector content is
//! born digital: it is attached as it is and never rasterized.

use lopdf::{Document, Object, ObjectId};

use super::{Colour, Limits, PageImage, PageInfo, Raster, RasterKind, SourceEncoding};
use crate::error::{Failure, Result};

fn open(b: &[u8]) -> Result<Document> {
    let doc = Document::load_mem(b).map_err(|e| {
        Failure::bad("broken-pdf", format!("the PDF cannot be read ({e}); it is damaged or incomplete"))
    })?;
    if doc.was_encrypted() || doc.is_encrypted() {
        return Err(Failure::bad(
            "encrypted-pdf",
            "the PDF is encrypted (password or permissions): an archive copy must be readable by anyone; \
             save it without protection",
        ));
    }
    Ok(doc)
}

/// One page's single image, when the page is nothing but that image.
struct ScanPage<'a> {
    dict: &'a lopdf::Dictionary,
    content: &'a [u8],
    width: u32,
    height: u32,
    media: (f64, f64),
}

fn media_box(doc: &Document, page: ObjectId) -> Option<(f64, f64)> {
    let mut id = page;
    for _ in 0..32 {
        let d = doc.get_dictionary(id).ok()?;
        if let Ok(Object::Array(a)) = d.get(b"MediaBox").and_then(|o| doc.dereference(o).map(|(_, o)| o)) {
            let n: Vec<f64> = a
                .iter()
                .filter_map(|o| o.as_float().ok().map(|f| f as f64).or_else(|| o.as_i64().ok().map(|i| i as f64)))
                .collect();
            if n.len() == 4 {
                return Some(((n[2] - n[0]).abs(), (n[3] - n[1]).abs()));
            }
        }
        id = d.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

/// The page's image when the page is a plain scan; `None` when it has text, vectors or several images.
fn scan_page(doc: &Document, page: ObjectId) -> Option<ScanPage<'_>> {
    if doc.get_page_fonts(page).map(|f| !f.is_empty()).unwrap_or(false) {
        return None;
    }
    let content = doc.get_page_content(page);
    if has_text_ops(&content) {
        return None;
    }
    let images = doc.get_page_images(page).ok()?;
    let [img] = images.as_slice() else {
        return None;
    };
    let media = media_box(doc, page)?;
    Some(ScanPage {
        dict: img.origin_dict,
        content: img.content,
        width: u32::try_from(img.width).ok()?,
        height: u32::try_from(img.height).ok()?,
        media,
    })
}

fn has_text_ops(content: &[u8]) -> bool {
    content.split(|b| b.is_ascii_whitespace()).any(|t| t == b"BT" || t == b"Tj" || t == b"TJ")
}

fn filters(dict: &lopdf::Dictionary) -> Vec<Vec<u8>> {
    match dict.get(b"Filter") {
        Ok(Object::Name(n)) => vec![n.clone()],
        Ok(Object::Array(a)) => a.iter().filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec)).collect(),
        _ => Vec::new(),
    }
}

fn colour_space(doc: &Document, dict: &lopdf::Dictionary) -> Option<Vec<u8>> {
    let cs = dict.get(b"ColorSpace").ok()?;
    let (_, cs) = doc.dereference(cs).ok()?;
    match cs {
        Object::Name(n) => Some(n.clone()),
        Object::Array(a) => a.first().and_then(|o| o.as_name().ok()).map(<[u8]>::to_vec),
        _ => None,
    }
}

fn page_info(doc: &Document, page: ObjectId, limits: Limits) -> Result<Option<PageInfo>> {
    let Some(p) = scan_page(doc, page) else {
        return Ok(None);
    };
    limits.check(p.width, p.height)?;
    let f = filters(p.dict);
    let cs = colour_space(doc, p.dict).unwrap_or_default();
    let bpc = p.dict.get(b"BitsPerComponent").and_then(Object::as_i64).unwrap_or(8);
    let image_mask = p.dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
    let (colour, encoding) = match f.iter().map(Vec::as_slice).collect::<Vec<_>>().as_slice() {
        [b"DCTDecode"] => (
            match cs.as_slice() {
                b"DeviceGray" => Colour::Gray,
                b"DeviceCMYK" => Colour::Cmyk,
                _ => Colour::Rgb,
            },
            SourceEncoding::Jpeg,
        ),
        [b"CCITTFaxDecode"] => (Colour::Bitonal, SourceEncoding::G4),
        [] | [b"FlateDecode"] if bpc == 1 || image_mask => (Colour::Bitonal, SourceEncoding::Raw),
        [] | [b"FlateDecode"] if bpc == 8 && (cs == b"DeviceGray" || cs == b"DeviceRGB") => {
            (if cs == b"DeviceGray" { Colour::Gray } else { Colour::Rgb }, SourceEncoding::Raw)
        }
        _ => return Ok(None),
    };
    if encoding == SourceEncoding::G4 {
        let k = ccitt_param(doc, p.dict, b"K").unwrap_or(0);
        if k >= 0 {
            return Err(Failure::bad(
                "pdf-group3",
                "the PDF's pages are CCITT Group 3 (fax) images, which sohoa does not take; scan to Group 4 or JPEG",
            ));
        }
    }
    let (dx, dy) = (p.width as f64 * 72.0 / p.media.0, p.height as f64 * 72.0 / p.media.1);
    let dpi = (dx.is_finite() && dy.is_finite() && dx >= 10.0).then_some((
        (dx * 10.0).round() / 10.0,
        (dy * 10.0).round() / 10.0,
        "placement",
    ));
    Ok(Some(PageInfo { width: p.width, height: p.height, dpi, colour, encoding }))
}

fn ccitt_param(doc: &Document, dict: &lopdf::Dictionary, key: &[u8]) -> Option<i64> {
    let parms = dict.get(b"DecodeParms").ok()?;
    let (_, parms) = doc.dereference(parms).ok()?;
    let parms = match parms {
        Object::Dictionary(d) => d,
        Object::Array(a) => a.first()?.as_dict().ok()?,
        _ => return None,
    };
    parms.get(key).ok()?.as_i64().ok()
}

fn ccitt_bool(doc: &Document, dict: &lopdf::Dictionary, key: &[u8]) -> bool {
    let Ok(parms) = dict.get(b"DecodeParms") else {
        return false;
    };
    let Ok((_, parms)) = doc.dereference(parms) else {
        return false;
    };
    let d = match parms {
        Object::Dictionary(d) => Some(d),
        Object::Array(a) => a.first().and_then(|o| o.as_dict().ok()),
        _ => None,
    };
    d.and_then(|d| d.get(key).ok()).and_then(|o| o.as_bool().ok()).unwrap_or(false)
}

pub(super) fn inspect(b: &[u8], limits: Limits) -> Result<Vec<PageInfo>> {
    let doc = open(b)?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(Failure::bad("no-pages", "the PDF has no pages"));
    }
    let mut scans = Vec::with_capacity(pages.len());
    for id in pages.values() {
        match page_info(&doc, *id, limits)? {
            Some(info) => scans.push(info),
            None => return Ok(native_pages(&doc)),
        }
    }
    Ok(scans)
}

/// A born-digital PDF: one record per page, sized in points, attached as it is.
fn native_pages(doc: &Document) -> Vec<PageInfo> {
    doc.get_pages()
        .values()
        .map(|id| {
            let (w, h) = media_box(doc, *id).unwrap_or((595.0, 842.0));
            PageInfo {
                width: w.round() as u32,
                height: h.round() as u32,
                dpi: Some((72.0, 72.0, "placement")),
                colour: Colour::Native,
                encoding: SourceEncoding::Pdf,
            }
        })
        .collect()
}

pub(super) fn load(b: &[u8], index: u32, limits: Limits) -> Result<Option<PageImage>> {
    let doc = open(b)?;
    let pages = doc.get_pages();
    let Some(id) = pages.values().nth(index as usize) else {
        return Err(Failure::bad("no-pages", format!("the PDF has no page {}", index + 1)));
    };
    let Some(info) = page_info(&doc, *id, limits)? else {
        return Ok(None);
    };
    let Some(p) = scan_page(&doc, *id) else {
        return Ok(None);
    };
    Ok(Some(match info.encoding {
        SourceEncoding::Jpeg => PageImage::Jpeg {
            data: p.content.to_vec(),
            width: p.width,
            height: p.height,
            components: match info.colour {
                Colour::Gray => 1,
                Colour::Cmyk => 4,
                _ => 3,
            },
            inverted: matches!(p.dict.get(b"Decode"), Ok(Object::Array(a)) if a.first().and_then(|o| o.as_i64().ok()) == Some(1)),
            icc: None,
        },
        SourceEncoding::G4 => PageImage::G4 {
            data: p.content.to_vec(),
            width: p.width,
            height: p.height,
            black_is_1: ccitt_bool(&doc, p.dict, b"BlackIs1"),
        },
        _ => {
            let stream = doc
                .get_object(doc.get_page_images(*id).ok().and_then(|v| v.first().map(|i| i.id)).unwrap_or((0, 0)))
                .and_then(Object::as_stream)
                .map_err(|e| Failure::bad("broken-pdf", format!("the PDF's page image cannot be read ({e})")))?;
            let data = if filters(&stream.dict).is_empty() {
                stream.content.clone()
            } else {
                stream
                    .decompressed_content()
                    .map_err(|e| Failure::bad("broken-pdf", format!("the PDF's page image cannot be decoded ({e})")))?
            };
            let (w, h) = (p.width as usize, p.height as usize);
            let (kind, need) = match info.colour {
                Colour::Bitonal => (RasterKind::Bitonal, w.div_ceil(8) * h),
                Colour::Gray => (RasterKind::Gray, w * h),
                _ => (RasterKind::Rgb, w * h * 3),
            };
            if data.len() < need {
                return Err(Failure::bad("broken-pdf", "the PDF's page image has fewer pixels than it claims"));
            }
            let mut data = data[..need].to_vec();
            if kind == RasterKind::Bitonal {
                // PDF 1-bit gray: 0 = black; ours: 1 = black. An image mask paints 1s, already ours.
                let mask = p.dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
                if !mask {
                    data.iter_mut().for_each(|b| *b = !*b);
                }
            }
            PageImage::Raster(Raster { width: p.width, height: p.height, kind, data })
        }
    }))
}
