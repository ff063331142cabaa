//! A small PDF/A structural checker: what veraPDF would look at first, written against lopdf so the
//! tests need nothing that cannot be installed here. Returns every problem found.

use std::path::Path;

use lopdf::{Document, Object};

/// Which PDF/A part a file claims to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    A1b,
    A2b,
}

fn xmp_tag<'a>(xmp: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xmp.find(&open)? + open.len();
    let end = xmp[start..].find(&format!("</{tag}>"))? + start;
    Some(&xmp[start..end])
}

fn xmp_alt(xmp: &str, tag: &str) -> Option<String> {
    let inner = xmp_tag(xmp, tag)?;
    let start = inner.find('>').map(|i| i + 1)?;
    let li = &inner[inner.find("<rdf:li")?..];
    let _ = start;
    let body_start = li.find('>')? + 1;
    let body_end = li.find("</rdf:li>")?;
    Some(unescape(&li[body_start..body_end]))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

fn info_text(doc: &Document, info: &lopdf::Dictionary, key: &[u8]) -> Option<String> {
    let o = info.get(key).ok()?;
    let o = doc.dereference(o).ok()?.1;
    lopdf::decode_text_string(o).ok()
}

/// PDF date `D:20260921211320+07'00'` → `2026-09-21T21:13:20+07:00`.
fn pdf_date_to_iso(d: &str) -> Option<String> {
    let d = d.strip_prefix("D:")?;
    if d.len() < 14 {
        return None;
    }
    let tz = &d[14..];
    let tz = if tz.starts_with('Z') || tz.is_empty() {
        "Z".to_string()
    } else {
        let t = tz.replace('\'', "");
        format!("{}:{}", &t[..3], &t[3..5])
    };
    Some(format!("{}-{}-{}T{}:{}:{}{}", &d[0..4], &d[4..6], &d[6..8], &d[8..10], &d[10..12], &d[12..14], tz))
}

/// Checks a file against the PDF/A rules sohoa promises; an empty list means it passed.
pub fn check(path: &Path, part: Part) -> Vec<String> {
    let mut p = Vec::new();
    let raw = std::fs::read(path).unwrap();
    let doc = match Document::load_mem(&raw) {
        Ok(d) => d,
        Err(e) => return vec![format!("not loadable: {e}")],
    };
    let header = String::from_utf8_lossy(&raw[..raw.len().min(9)]).to_string();
    match part {
        Part::A1b if !header.starts_with("%PDF-1.4") => p.push(format!("PDF/A-1 needs PDF 1.4, header is {header:?}")),
        Part::A2b if !header.starts_with("%PDF-1.") => p.push(format!("bad header {header:?}")),
        _ => {}
    }
    if raw.len() < 15 || raw[9..15].iter().filter(|b| **b >= 128).count() < 4 {
        p.push("no binary comment after the header".into());
    }
    if doc.trailer.get(b"Encrypt").is_ok() {
        p.push("encrypted".into());
    }
    match doc.trailer.get(b"ID") {
        Ok(Object::Array(a)) if a.len() == 2 => {}
        _ => p.push("trailer has no /ID of two strings".into()),
    }
    if part == Part::A1b {
        let text = String::from_utf8_lossy(&raw);
        if !text.contains("\nxref\n") {
            p.push("PDF/A-1 needs a classic xref table".into());
        }
        if text.contains("/XRef") {
            p.push("PDF/A-1 forbids cross-reference streams".into());
        }
    }
    for (id, obj) in &doc.objects {
        if let Ok(s) = obj.as_stream() {
            let filters: Vec<Vec<u8>> = match s.dict.get(b"Filter") {
                Ok(Object::Name(n)) => vec![n.clone()],
                Ok(Object::Array(a)) => a.iter().filter_map(|o| o.as_name().ok().map(<[u8]>::to_vec)).collect(),
                _ => vec![],
            };
            if filters.iter().any(|f| f == b"LZWDecode") {
                p.push(format!("object {id:?} uses LZW"));
            }
            if s.dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"ObjStm") && part == Part::A1b {
                p.push("PDF/A-1 forbids object streams".into());
            }
            if s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image") {
                if s.dict.get(b"SMask").is_ok() {
                    p.push(format!("image {id:?} has a soft mask (transparency)"));
                }
                if s.dict.get(b"Interpolate").and_then(Object::as_bool).unwrap_or(false) {
                    p.push(format!("image {id:?} asks for interpolation"));
                }
                let cs = s
                    .dict
                    .get(b"ColorSpace")
                    .ok()
                    .map(|o| doc.dereference(o).map(|x| x.1.clone()).unwrap_or(Object::Null));
                let ok = match &cs {
                    Some(Object::Name(n)) => n == b"DeviceGray" || n == b"DeviceRGB",
                    Some(Object::Array(a)) => match a.first().and_then(|o| o.as_name().ok()) {
                        Some(b"ICCBased") => true,
                        Some(b"Indexed") => {
                            matches!(a.get(1), Some(Object::Name(b)) if b == b"DeviceRGB" || b == b"DeviceGray")
                        }
                        _ => false,
                    },
                    _ => s.dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false),
                };
                if !ok {
                    p.push(format!("image {id:?} has a colour space not allowed under an sRGB intent: {cs:?}"));
                }
                if let Some(Object::Array(a)) = &cs {
                    let icc = a.get(1).and_then(|o| o.as_reference().ok()).and_then(|r| doc.get_object(r).ok());
                    if let (Some(b"ICCBased"), Some(Ok(s))) =
                        (a.first().and_then(|o| o.as_name().ok()), icc.map(Object::as_stream))
                    {
                        let bytes = s.decompressed_content().unwrap_or_else(|_| s.content.clone());
                        if bytes.get(36..40) != Some(b"acsp") {
                            p.push(format!("image {id:?}: ICCBased stream is not an ICC profile"));
                        }
                        if part == Part::A1b && bytes.get(8).copied().unwrap_or(0) > 2 {
                            p.push(format!("image {id:?}: PDF/A-1 allows only ICC v2 profiles"));
                        }
                    }
                }
            }
        }
    }
    let Ok(catalog) = doc.catalog() else { return vec!["no catalog".into()] };
    // Output intent with an embedded ICC profile.
    match catalog.get(b"OutputIntents").and_then(|o| doc.dereference(o).map(|x| x.1)) {
        Ok(Object::Array(a)) if !a.is_empty() => {
            let intent = doc.dereference(&a[0]).ok().and_then(|(_, o)| o.as_dict().ok().cloned());
            match intent {
                Some(d) => {
                    if d.get(b"S").and_then(Object::as_name).ok() != Some(b"GTS_PDFA1") {
                        p.push("output intent is not GTS_PDFA1".into());
                    }
                    let icc = d
                        .get(b"DestOutputProfile")
                        .and_then(Object::as_reference)
                        .and_then(|r| doc.get_object(r))
                        .and_then(Object::as_stream);
                    match icc {
                        Ok(s) => {
                            let bytes = s.decompressed_content().unwrap_or_else(|_| s.content.clone());
                            if bytes.get(36..40) != Some(b"acsp") {
                                p.push("DestOutputProfile is not an ICC profile".into());
                            }
                            if part == Part::A1b && bytes.get(8).copied().unwrap_or(0) >= 4 {
                                p.push("PDF/A-1 needs an ICC v2 profile".into());
                            }
                            if s.dict.get(b"N").and_then(Object::as_i64).ok() != Some(3) {
                                p.push("output profile is not RGB (N 3)".into());
                            }
                        }
                        Err(_) => p.push("output intent has no embedded profile".into()),
                    }
                }
                None => p.push("output intent is not a dictionary".into()),
            }
        }
        _ => p.push("no /OutputIntents".into()),
    }
    // XMP metadata.
    let xmp = catalog
        .get(b"Metadata")
        .and_then(Object::as_reference)
        .and_then(|r| doc.get_object(r))
        .and_then(Object::as_stream);
    let Ok(xmp) = xmp else {
        p.push("no XMP metadata stream".into());
        return p;
    };
    if xmp.dict.get(b"Filter").is_ok() && part == Part::A1b {
        p.push("PDF/A-1 metadata stream must not be filtered".into());
    }
    let xmp = match String::from_utf8(xmp.content.clone()) {
        Ok(s) => s,
        Err(_) => {
            p.push("XMP is not UTF-8".into());
            return p;
        }
    };
    let want_part = if part == Part::A1b { "1" } else { "2" };
    if xmp_tag(&xmp, "pdfaid:part") != Some(want_part) {
        p.push(format!("pdfaid:part is {:?}, want {want_part}", xmp_tag(&xmp, "pdfaid:part")));
    }
    if xmp_tag(&xmp, "pdfaid:conformance") != Some("B") {
        p.push("pdfaid:conformance is not B".into());
    }
    // Every property of our namespace must be declared by an extension schema.
    let ns = xmp.split("xmlns:sohoa=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    if !ns.is_empty() {
        if !xmp.contains(&format!("<pdfaSchema:namespaceURI>{ns}</pdfaSchema:namespaceURI>")) {
            p.push("the sohoa namespace has no pdfaExtension schema".into());
        }
        for used in xmp.split("<sohoa:").skip(1).filter_map(|r| r.split(['>', ' ']).next()) {
            if !xmp.contains(&format!("<pdfaProperty:name>{used}</pdfaProperty:name>")) {
                p.push(format!("sohoa:{used} is not declared in the extension schema"));
            }
        }
    }
    // Info and XMP agree.
    if let Ok(info) = doc.trailer.get(b"Info").and_then(Object::as_reference).and_then(|r| doc.get_dictionary(r)) {
        let pairs = [
            (b"Title".as_slice(), xmp_alt(&xmp, "dc:title")),
            (b"Subject".as_slice(), xmp_alt(&xmp, "dc:description")),
            (b"Keywords".as_slice(), xmp_tag(&xmp, "pdf:Keywords").map(unescape)),
            (b"Creator".as_slice(), xmp_tag(&xmp, "xmp:CreatorTool").map(unescape)),
            (b"Producer".as_slice(), xmp_tag(&xmp, "pdf:Producer").map(unescape)),
        ];
        for (k, x) in pairs {
            let i = info_text(&doc, info, k);
            if i != x {
                p.push(format!("Info /{} {:?} ≠ XMP {:?}", String::from_utf8_lossy(k), i, x));
            }
        }
        for (k, tag) in [(b"CreationDate".as_slice(), "xmp:CreateDate"), (b"ModDate".as_slice(), "xmp:ModifyDate")] {
            let i = info_text(&doc, info, k).and_then(|d| pdf_date_to_iso(&d));
            let x = xmp_tag(&xmp, tag).map(str::to_string);
            if i != x {
                p.push(format!("Info /{} {:?} ≠ XMP {tag} {:?}", String::from_utf8_lossy(k), i, x));
            }
        }
    } else {
        p.push("no Info dictionary".into());
    }
    p
}
