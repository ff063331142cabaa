//! An invisible text layer added to a finished PDF as an incremental update: the recognised words are
//! appended after the file's last byte — a content stream per page drawn in text render mode 3
//! (invisible), the pages that show them, one embedded font and a cross-reference section pointing
//! back at the original's — so every byte of the original, its page images first of all, stays where
//! it was. A reader shows the same pages; `pdftotext` and a search box find the words.
//!
//! The font is Tesseract's GlyphLessFont: one blank glyph half an em wide for every character,
//! addressed by the character's UTF-16 code (`Identity-H`) and mapped back to it by a ToUnicode
//! table, so Vietnamese copies out as the text that was recognised (in NFC). Each word is stretched
//! (`Tz`) to the box the recogniser found, so a selection covers the word on the image.

use std::io::Write;

use lopdf::{Dictionary, Object, Stream, Writer, xref::XrefType};
use sha2::{Digest, Sha256};

use crate::error::{Code, Failure, Result};

/// The font program (Apache-2.0, see `GlyphLessFont.ttf.LICENSE`).
const GLYPHLESS_TTF: &[u8] = include_bytes!("GlyphLessFont.ttf");

/// The font's advance, in thousandths of the font size: every glyph is half an em wide.
const ADVANCE: f64 = 0.5;

/// A recognised word on a page as it is shown (after its `/Rotate`): the text in NFC and its box in
/// points from the shown page's top-left corner (left, top, right, bottom).
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Its box on the shown page, in points: left, top, right, bottom.
    pub bbox: [f64; 4],
}

/// A finished PDF read once: how many pages it has (what recognition needs to know first), then the
/// update that gives them their words.
pub struct Finished<'a> {
    bytes: &'a [u8],
    doc: lopdf::Document,
}

fn damaged(what: &str) -> Failure {
    Failure::bad(Code::PdfLayout, format!("the PDF cannot take a text layer: {what}"))
}

impl<'a> Finished<'a> {
    /// Reads `pdf`.
    pub fn open(pdf: &'a [u8]) -> Result<Finished<'a>> {
        let doc = lopdf::Document::load_mem(pdf).map_err(|e| damaged(&e.to_string()))?;
        Ok(Finished { bytes: pdf, doc })
    }

    /// How many pages it has.
    pub fn page_count(&self) -> usize {
        self.doc.get_pages().len()
    }

    /// The bytes that, appended to the PDF, give each page the invisible `words` of the same index
    /// (a page with none is left as it is). Deterministic: the same PDF and words give the same bytes.
    pub fn text_layer_update(&self, words: &[Vec<Word>]) -> Result<Vec<u8>> {
        update(&self.doc, self.bytes, words)
    }
}

/// Reads `pdf` and gives the update of [`Finished::text_layer_update`].
pub fn text_layer_update(pdf: &[u8], words: &[Vec<Word>]) -> Result<Vec<u8>> {
    Finished::open(pdf)?.text_layer_update(words)
}

fn update(doc: &lopdf::Document, pdf: &[u8], words: &[Vec<Word>]) -> Result<Vec<u8>> {
    let pages = doc.get_pages();
    if pages.len() != words.len() {
        return Err(damaged(&format!("{} pages read, {} recognised", pages.len(), words.len())));
    }
    let mut next = doc.max_id.max(doc.reference_table.size.saturating_sub(1)) + 1;
    let mut alloc = || {
        let id = next;
        next += 1;
        id
    };
    let mut objects: Vec<(u32, Object)> = Vec::new();
    let font = alloc();
    let open = alloc();
    let mut font_objects = glyphless_font(font, &mut alloc)?;
    objects.append(&mut font_objects);
    objects.push((open, Object::Stream(Stream::new(Dictionary::new(), b"q\n".to_vec()))));
    for ((_, &page_id), page_words) in pages.iter().zip(words) {
        if page_words.is_empty() {
            continue;
        }
        let page = doc.get_dictionary(page_id).map_err(|e| damaged(&e.to_string()))?;
        let media = media_box(doc, page).ok_or_else(|| damaged("a page has no MediaBox"))?;
        let rotate = inherited(doc, page, b"Rotate").and_then(|o| o.as_i64().ok()).unwrap_or(0).rem_euclid(360);
        let text_id = alloc();
        let content = page_text(page_words, media, rotate);
        let mut stream = Stream::new(Dictionary::new(), content);
        stream.compress().map_err(|e| damaged(&e.to_string()))?;
        objects.push((text_id, Object::Stream(stream)));
        let mut updated = page.clone();
        let mut contents = vec![Object::Reference((open, 0))];
        match page.get(b"Contents") {
            Ok(Object::Array(a)) => contents.extend(a.iter().cloned()),
            Ok(c @ Object::Reference(_)) => contents.push(c.clone()),
            _ => {}
        }
        contents.push(Object::Reference((text_id, 0)));
        updated.set("Contents", Object::Array(contents));
        let mut resources = match inherited(doc, page, b"Resources") {
            Some(Object::Dictionary(d)) => d.clone(),
            Some(Object::Reference(r)) => doc.get_dictionary(*r).map_err(|e| damaged(&e.to_string()))?.clone(),
            _ => Dictionary::new(),
        };
        let mut fonts = match resources.get(b"Font") {
            Ok(Object::Dictionary(d)) => d.clone(),
            Ok(Object::Reference(r)) => doc.get_dictionary(*r).map_err(|e| damaged(&e.to_string()))?.clone(),
            _ => Dictionary::new(),
        };
        fonts.set("SohoaOcr", Object::Reference((font, 0)));
        resources.set("Font", Object::Dictionary(fonts));
        updated.set("Resources", Object::Dictionary(resources));
        objects.push((page_id.0, Object::Dictionary(updated)));
    }
    write_update(doc, pdf, objects, alloc())
}

/// A page's words as a content stream: closes the `q` put before the page's own content, then draws
/// each word invisible, in the shown page's coordinates turned back to the page's own.
fn page_text(words: &[Word], [x0, y0, x1, y1]: [f64; 4], rotate: i64) -> Vec<u8> {
    let (w, h) = (x1 - x0, y1 - y0);
    // From the shown page (origin bottom-left, y up) to the page's own space.
    let (shown_h, cm) = match rotate {
        90 => (w, [0.0, 1.0, -1.0, 0.0, x0 + w, y0]),
        180 => (h, [-1.0, 0.0, 0.0, -1.0, x0 + w, y0 + h]),
        270 => (w, [0.0, -1.0, 1.0, 0.0, x0, y0 + h]),
        _ => (h, [1.0, 0.0, 0.0, 1.0, x0, y0]),
    };
    let mut s = String::from("Q\nq ");
    for v in cm {
        s.push_str(&format!("{} ", num(v)));
    }
    s.push_str("cm\nBT 3 Tr\n");
    for word in words {
        let units: Vec<u16> = word.text.encode_utf16().collect();
        let [l, t, r, b] = word.bbox;
        let (bw, bh) = (r - l, b - t);
        if units.is_empty() || bw <= 0.0 || bh <= 0.0 {
            continue;
        }
        let size = bh.max(1.0);
        let stretch = 100.0 * bw / (units.len() as f64 * ADVANCE * size);
        let hex: String = units.iter().map(|u| format!("{u:04X}")).collect();
        // The baseline a fifth of the box above its bottom: where letters without descenders sit.
        let y = shown_h - b + bh * 0.2;
        s.push_str(&format!(
            "/SohoaOcr {} Tf {} Tz 1 0 0 1 {} {} Tm <{hex}> Tj\n",
            num(size),
            num(stretch),
            num(l),
            num(y)
        ));
    }
    s.push_str("ET Q\n");
    s.into_bytes()
}

/// A number as PDF content writes it: at most three decimals, no exponent.
fn num(v: f64) -> String {
    let r = (v * 1000.0).round() / 1000.0;
    let s = format!("{r:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A page attribute, looked up the page tree if the page does not set it.
fn inherited<'a>(doc: &'a lopdf::Document, page: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    let mut d = page;
    for _ in 0..32 {
        if let Ok(v) = d.get(key) {
            return Some(v);
        }
        let parent = d.get(b"Parent").ok()?.as_reference().ok()?;
        d = doc.get_dictionary(parent).ok()?;
    }
    None
}

fn media_box(doc: &lopdf::Document, page: &Dictionary) -> Option<[f64; 4]> {
    let b = match inherited(doc, page, b"MediaBox")? {
        Object::Array(a) => a.clone(),
        Object::Reference(r) => doc.get_object(*r).ok()?.as_array().ok()?.clone(),
        _ => return None,
    };
    let v: Vec<f64> = b.iter().filter_map(|o| o.as_float().ok().map(f64::from)).collect();
    (v.len() == 4).then(|| [v[0].min(v[2]), v[1].min(v[3]), v[0].max(v[2]), v[1].max(v[3])])
}

/// The font's objects: the Type0 font `id`, its CIDFont, descriptor, program, CID-to-glyph map (every
/// code to the one glyph) and ToUnicode table (every code to the character it is).
fn glyphless_font(id: u32, alloc: &mut impl FnMut() -> u32) -> Result<Vec<(u32, Object)>> {
    let (cid, descriptor, program, gid_map, to_unicode) = (alloc(), alloc(), alloc(), alloc(), alloc());
    let name = |n: &str| Object::Name(n.as_bytes().to_vec());
    let compressed = |dict: Dictionary, data: Vec<u8>| -> Result<Object> {
        let mut s = Stream::new(dict, data);
        s.compress().map_err(|e| Failure::transient("writing a text layer", e))?;
        Ok(Object::Stream(s))
    };
    let mut type0 = Dictionary::new();
    type0.set("Type", name("Font"));
    type0.set("Subtype", name("Type0"));
    type0.set("BaseFont", name("GlyphLessFont"));
    type0.set("Encoding", name("Identity-H"));
    type0.set("DescendantFonts", Object::Array(vec![Object::Reference((cid, 0))]));
    type0.set("ToUnicode", Object::Reference((to_unicode, 0)));
    let mut info = Dictionary::new();
    info.set("Registry", Object::string_literal("Adobe"));
    info.set("Ordering", Object::string_literal("Identity"));
    info.set("Supplement", 0);
    let mut cidfont = Dictionary::new();
    cidfont.set("Type", name("Font"));
    cidfont.set("Subtype", name("CIDFontType2"));
    cidfont.set("BaseFont", name("GlyphLessFont"));
    cidfont.set("CIDSystemInfo", Object::Dictionary(info));
    cidfont.set("FontDescriptor", Object::Reference((descriptor, 0)));
    cidfont.set("DW", (ADVANCE * 1000.0) as i64);
    cidfont.set("CIDToGIDMap", Object::Reference((gid_map, 0)));
    let mut desc = Dictionary::new();
    desc.set("Type", name("FontDescriptor"));
    desc.set("FontName", name("GlyphLessFont"));
    desc.set("Flags", 5);
    desc.set("FontBBox", Object::Array(vec![0.into(), 0.into(), 500.into(), 1000.into()]));
    desc.set("ItalicAngle", 0);
    desc.set("Ascent", 1000);
    desc.set("Descent", 0);
    desc.set("CapHeight", 1000);
    desc.set("StemV", 80);
    desc.set("FontFile2", Object::Reference((program, 0)));
    let mut prog = Dictionary::new();
    prog.set("Length1", GLYPHLESS_TTF.len() as i64);
    // Every two-byte code to glyph 1, the blank one.
    let map: Vec<u8> = std::iter::repeat_n([0u8, 1u8], 1 << 16).flatten().collect();
    let mut cmap = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    // Code n is character n; the surrogate block (no character on its own) is left out, 100 ranges a block.
    let rows: Vec<u16> = (0u16..=0xFF).filter(|r| !(0xD8..=0xDF).contains(r)).collect();
    for chunk in rows.chunks(100) {
        cmap.push_str(&format!("{} beginbfrange\n", chunk.len()));
        for r in chunk {
            cmap.push_str(&format!("<{r:02X}00> <{r:02X}FF> <{r:02X}00>\n"));
        }
        cmap.push_str("endbfrange\n");
    }
    cmap.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    Ok(vec![
        (id, Object::Dictionary(type0)),
        (cid, Object::Dictionary(cidfont)),
        (descriptor, Object::Dictionary(desc)),
        (program, compressed(prog, GLYPHLESS_TTF.to_vec())?),
        (gid_map, compressed(Dictionary::new(), map)?),
        (to_unicode, compressed(Dictionary::new(), cmap.into_bytes())?),
    ])
}

/// Serializes `objects` and a cross-reference section of the kind the original ends with (a table,
/// or a stream numbered `xref_id`), chained to it by `/Prev`.
fn write_update(doc: &lopdf::Document, pdf: &[u8], mut objects: Vec<(u32, Object)>, xref_id: u32) -> Result<Vec<u8>> {
    let io = |e: std::io::Error| Failure::transient("writing a text layer", e);
    let lo = |e: lopdf::Error| Failure::transient("writing a text layer", e);
    let base = pdf.len() as u64 + u64::from(!pdf.ends_with(b"\n"));
    let mut out: Vec<u8> = Vec::new();
    if !pdf.ends_with(b"\n") {
        out.push(b'\n');
    }
    objects.sort_by_key(|(id, _)| *id);
    let mut offsets: Vec<(u32, u64)> = Vec::with_capacity(objects.len() + 1);
    for (id, obj) in &objects {
        offsets.push((*id, base + out.len() as u64));
        let _ = writeln!(out, "{id} 0 obj");
        Writer::write_object(&mut out, obj).map_err(io)?;
        out.extend_from_slice(b"\nendobj\n");
    }
    let original_id = match doc.trailer.get(b"ID") {
        Ok(Object::Array(a)) => a.first().cloned(),
        _ => None,
    };
    let mut h = Sha256::new();
    h.update(pdf.len().to_be_bytes());
    h.update(&out);
    let new_id = Object::String(h.finalize()[..16].to_vec(), lopdf::StringFormat::Hexadecimal);
    let mut trailer = Dictionary::new();
    for key in [&b"Root"[..], b"Info"] {
        if let Ok(v) = doc.trailer.get(key) {
            trailer.set(key.to_vec(), v.clone());
        }
    }
    trailer.set("ID", Object::Array(vec![original_id.unwrap_or_else(|| new_id.clone()), new_id]));
    trailer.set("Prev", doc.xref_start as i64);
    let highest = objects.iter().map(|(id, _)| *id).max().unwrap_or(0).max(doc.max_id);
    let size = |with: u32| i64::from(highest.max(with) + 1);
    let xref_at = base + out.len() as u64;
    if matches!(doc.reference_table.cross_reference_type, XrefType::CrossReferenceTable) {
        out.extend_from_slice(b"xref\n");
        for run in runs(&offsets) {
            let _ = writeln!(out, "{} {}", run[0].0, run.len());
            for (_, at) in run {
                let _ = writeln!(out, "{at:010} 00000 n ");
            }
        }
        // No object for the table itself: the highest number written is the last.
        trailer.set("Size", size(0));
        out.extend_from_slice(b"trailer\n");
        Writer::write_object(&mut out, &Object::Dictionary(trailer)).map_err(io)?;
    } else {
        offsets.push((xref_id, xref_at));
        offsets.sort_by_key(|(id, _)| *id);
        let width = ((64 - xref_at.leading_zeros()) as usize).div_ceil(8).max(1);
        let mut rows = Vec::new();
        let mut index = Vec::new();
        for run in runs(&offsets) {
            index.push(Object::Integer(i64::from(run[0].0)));
            index.push(Object::Integer(run.len() as i64));
            for (_, at) in run {
                rows.push(1u8);
                rows.extend_from_slice(&at.to_be_bytes()[8 - width..]);
                rows.extend_from_slice(&[0, 0]);
            }
        }
        trailer.set("Type", Object::Name(b"XRef".to_vec()));
        trailer.set("Size", size(xref_id));
        trailer.set("Index", Object::Array(index));
        trailer.set("W", Object::Array(vec![1.into(), (width as i64).into(), 2.into()]));
        let mut stream = Stream::new(trailer, rows);
        stream.compress().map_err(lo)?;
        let _ = writeln!(out, "{xref_id} 0 obj");
        Writer::write_object(&mut out, &Object::Stream(stream)).map_err(io)?;
        out.extend_from_slice(b"\nendobj\n");
    }
    let _ = write!(out, "\nstartxref\n{xref_at}\n%%EOF\n");
    Ok(out)
}

/// Runs of consecutive object numbers, for the cross-reference subsections.
fn runs(sorted: &[(u32, u64)]) -> Vec<&[(u32, u64)]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.len() {
        if i == sorted.len() || sorted[i].0 != sorted[i - 1].0 + 1 {
            out.push(&sorted[start..i]);
            start = i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{DocInfo, PdfWriter, Placement};
    use crate::profile::PdfKind;

    fn one_page(kind: PdfKind, turns: u8) -> Vec<u8> {
        let data = crate::encode::flate(&[200u8; 40 * 20], 6).expect("flate");
        let img = crate::encode::EncodedImage {
            width: 40,
            height: 20,
            colour_space: crate::encode::ColourSpace::Gray,
            bits: 8,
            filter: crate::encode::Filter::Flate,
            inverted: false,
            data,
            label: "flate",
            source_blob: None,
        };
        let page = crate::encode::EncodedPage::Single(img);
        let mut w = PdfWriter::new(Vec::new(), kind).expect("writer");
        w.add_placed_page(&page, 72.0, 72.0, &Placement { turns, ..Default::default() }).expect("page");
        w.finish(&DocInfo::new(kind)).expect("finish")
    }

    #[test]
    fn the_update_keeps_every_original_byte_and_reads_back_as_the_words() {
        for kind in [PdfKind::PdfA2b, PdfKind::PdfA1b] {
            for turns in [0, 1] {
                let pdf = one_page(kind, turns);
                let words = vec![vec![Word { text: "quyền sử dụng đất".into(), bbox: [2.0, 2.0, 30.0, 8.0] }]];
                let update = text_layer_update(&pdf, &words).expect("update");
                let mut whole = pdf.clone();
                whole.extend_from_slice(&update);
                let doc = lopdf::Document::load_mem(&whole).expect("reads back");
                assert_eq!(doc.get_pages().len(), 1);
                let size = doc.trailer.get(b"Size").and_then(|s| s.as_i64()).expect("a Size");
                assert_eq!(size, i64::from(doc.max_id) + 1, "{kind:?}: Size is one more than the highest object");
                let text = doc.extract_text(&[1]).expect("text");
                assert!(text.contains("quyền sử dụng đất"), "{kind:?} {turns}: {text:?}");
                assert_eq!(text_layer_update(&pdf, &words).expect("again"), update, "deterministic");
            }
        }
    }

    #[test]
    fn numbers_are_written_plainly() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.0001), "0");
        assert_eq!(num(595.2756), "595.276");
    }
}
