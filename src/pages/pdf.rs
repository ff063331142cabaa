//! PDF inputs. A scanner's PDF (one image per page, no text) gives up its page images: DCT and CCITT
//! streams are kept byte for byte, Flate pixels are decoded. A PDF with text or vector content is
//! born digital: it is attached as it is and never rasterized.

use lopdf::{Document, Object, ObjectId};

use super::{Colour, Limits, PageImage, PageInfo, Raster, RasterKind, SourceEncoding};
use crate::error::{Code, Failure, Result};

/// Opens a PDF, each object or cross-reference stream inflated within a quarter of the profile's
/// `max_inflate_mb`: real ones hold a few thousand small objects (a few megabytes); a bomb holds
/// gigabytes of nothing.
fn open(b: &[u8], limits: Limits) -> Result<Document> {
    let each = limits.max_inflate / 4;
    let options = lopdf::LoadOptions::with_max_decompressed_size(each);
    let doc = Document::load_mem_with_options(b, options).map_err(|e| match e {
        lopdf::Error::Decompress(lopdf::DecompressError::MemoryLimitExceeded { .. }) => Failure::bad(
            Code::PdfBomb,
            format!(
                "an object or cross-reference stream of the PDF inflates to more than {} MiB (a decompression bomb); it was not opened",
                each >> 20
            ),
        ),
        e => Failure::bad(Code::BrokenPdf, format!("the PDF cannot be read ({e}); it is damaged or incomplete")),
    })?;
    if doc.was_encrypted() || doc.is_encrypted() {
        return Err(Failure::bad(
            Code::EncryptedPdf,
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
        [b"DCTDecode"] => (embedded_jpeg(&p)?, SourceEncoding::Jpeg),
        [b"CCITTFaxDecode"] => (Colour::Bitonal, SourceEncoding::G4),
        [b"JBIG2Decode"] => (Colour::Bitonal, SourceEncoding::Raw),
        [] | [b"FlateDecode"] if cs == b"Indexed" => match indexed(doc, p.dict) {
            Some(ix) if ix.base_gray => (Colour::Gray, SourceEncoding::Raw),
            Some(_) => (Colour::Rgb, SourceEncoding::Raw),
            None => return Ok(None),
        },
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
                Code::PdfGroup3,
                "the PDF's pages are CCITT Group 3 (fax) images, which sohoa does not take; scan to Group 4 or JPEG",
            ));
        }
    }
    if encoding == SourceEncoding::Raw && f.first().map(Vec::as_slice) == Some(b"FlateDecode".as_slice()) {
        // Inflated here, counted and not kept, as the render will inflate it: a bomb or a page image cut
        // short is refused now, with the file, never found later by a render that cannot finish.
        let l = layout(doc, &p, colour);
        match super::inflated_count(p.content, l.inflated) {
            n if n > l.inflated => return Err(image_bomb()),
            n if n < l.need => {
                return Err(Failure::bad(
                    Code::BrokenPdf,
                    "the PDF's page image has fewer pixels than it claims (the file is cut short or damaged)",
                ));
            }
            _ => {}
        }
    }
    let (dx, dy) = (p.width as f64 * 72.0 / p.media.0, p.height as f64 * 72.0 / p.media.1);
    let dpi = (dx.is_finite() && dy.is_finite() && dx >= 10.0).then_some((
        (dx * 10.0).round() / 10.0,
        (dy * 10.0).round() / 10.0,
        super::DpiSource::Placement,
    ));
    Ok(Some(PageInfo { width: p.width, height: p.height, dpi, colour, encoding }))
}

/// A PDF that is cut short or damaged, with what was found: one wording for every way it shows.
fn damaged(what: impl std::fmt::Display) -> Failure {
    Failure::bad(
        Code::DamagedPdf,
        format!("the PDF is damaged or cut short ({what}); ask for the file again or save it again from its source"),
    )
}

/// Walks a page's JPEG as a JPEG file is walked (whole, and holding the pixels it promises) and
/// checks it against the image's dictionary: a JPEG whose own size differs from the page image's is
/// a damaged file, shown stretched or cut by one reader and refused by the next. The JPEG's own
/// component count says the colour (a gray JPEG in an ICC-based colour space is still gray).
fn embedded_jpeg(p: &ScanPage<'_>) -> Result<Colour> {
    let h = super::jpeg::scan(p.content).and_then(|h| h.holds_its_pixels().map(|()| h)).map_err(|e| match e {
        Failure::BadInput { reason, .. } => damaged(format!("a page image: {reason}")),
        e => e,
    })?;
    if (h.width, h.height) != (p.width, p.height) {
        return Err(damaged(format!(
            "a page image is {}×{} pixels by its JPEG header and {}×{} by the PDF",
            h.width, h.height, p.width, p.height
        )));
    }
    Ok(match h.components {
        1 => Colour::Gray,
        4 => Colour::Cmyk,
        _ => Colour::Rgb,
    })
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
    let doc = open(b, limits)?;
    page_tree(&doc)?;
    let pages = doc.get_pages();
    if pages.is_empty() {
        // A page tree that leads nowhere is a file cut short far more often than an empty document.
        dangling(&doc)?;
        if let Some(n) = claimed_pages(&doc) {
            return Err(damaged(format!("its page tree says {n} page(s) and leads to none: a loop or a broken link")));
        }
        return Err(Failure::bad(Code::NoPages, "the PDF has no pages"));
    }
    if pages.len() > super::MAX_PAGES {
        return Err(Failure::bad(
            Code::TooManyPages,
            format!(
                "the PDF has {} pages, more than the {} one file may hold; split it",
                pages.len(),
                super::MAX_PAGES
            ),
        ));
    }
    let mut scans = Vec::with_capacity(pages.len());
    for id in pages.values() {
        match page_info(&doc, *id, limits)? {
            Some(info) => scans.push(info),
            None => {
                whole(&doc, pages.len(), limits)?;
                return Ok(native_pages(&doc));
            }
        }
    }
    Ok(scans)
}

/// Reads a born-digital PDF whole before it may be attached as it is: every object it refers to is
/// there, every page has its content, every compressed stream inflates (within a bound), and it
/// carries nothing active. A PDF cut short (a copy that stopped, a download that broke), even with
/// `%%EOF` put back at its end, fails here with a reason that says so — never attached as good.
/// All its streams together inflate within `limits.max_inflate` (the profile's `max_inflate_mb`): a few
/// hundred pages of text and vector drawings need tens of megabytes; a content-stream bomb gigabytes.
fn whole(doc: &Document, pages: usize, limits: Limits) -> Result<()> {
    dangling(doc)?;
    if doc.get_pages().len() != pages {
        return Err(damaged("its page tree is incomplete"));
    }
    // Every stream inflates, within a bound for all of them together.
    let mut budget = limits.max_inflate;
    for ((n, g), obj) in &doc.objects {
        let Object::Stream(st) = obj else { continue };
        let f = filters(&st.dict);
        if f.is_empty() {
            continue;
        }
        // An image may inflate to what its size says and no more (a reader decodes it to show the
        // page); content streams, forms and object streams share the budget.
        let image = matches!(st.dict.get(b"Subtype").and_then(Object::as_name), Ok(b"Image"));
        let own = if image { image_bytes(doc, &st.dict) } else { None };
        if let Some(size) = own
            && size as u64 > limits.decode_bytes()
        {
            return Err(Failure::bad(
                Code::TooLarge,
                format!(
                    "an image in the PDF needs {} MB to show, over this station's {} MB for one page; save the PDF \
                     again with its images at a lower resolution",
                    size >> 20,
                    limits.decode_bytes() >> 20
                ),
            ));
        }
        let n_out = match decoded_size(&st.content, &f, own.unwrap_or(budget)) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(why) => return Err(damaged(format!("stream {n} {g} cannot be decoded: {why}"))),
        };
        if let Some(size) = own {
            if n_out > size {
                return Err(image_bomb());
            }
            continue;
        }
        if n_out > budget {
            return Err(Failure::bad(
                Code::PdfBomb,
                format!(
                    "the PDF's streams inflate to more than {} MiB (a decompression bomb); it was not opened",
                    limits.max_inflate >> 20
                ),
            ));
        }
        budget -= n_out;
    }
    for (k, id) in doc.get_pages().values().enumerate() {
        if doc.get_page_contents(*id).iter().any(|c| doc.get_object(*c).is_err()) {
            return Err(damaged(format!("page {} has lost its content", k + 1)));
        }
    }
    // Nothing that runs or carries files (PDF/A forbids both; a case file must not act on a clerk's
    // computer).
    for obj in doc.objects.values() {
        let mut active = None;
        walk(obj, &mut |o| {
            if let Object::Dictionary(d) = o {
                if d.has(b"JS") || matches!(d.get(b"S").and_then(Object::as_name), Ok(b"JavaScript" | b"Launch")) {
                    active.get_or_insert("a script or a launch action");
                }
                if d.has(b"EmbeddedFiles") || matches!(d.get(b"Type").and_then(Object::as_name), Ok(b"EmbeddedFile")) {
                    active.get_or_insert("embedded files");
                }
            }
        });
        if let Some(what) = active {
            return Err(Failure::bad(
                Code::ActivePdf,
                format!(
                    "the PDF carries {what}, which an archive copy may not (PDF/A forbids them); save it again as \
                     PDF/A or print it to PDF, then file it"
                ),
            ));
        }
    }
    Ok(())
}

/// The most bytes an image stream may inflate to: its rows at the size its dictionary gives (a filter
/// byte more per row, for a PNG predictor). `None` when the dictionary does not say.
fn image_bytes(doc: &Document, dict: &lopdf::Dictionary) -> Option<usize> {
    let int = |k: &[u8]| dict.get(k).ok().and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_i64().ok());
    let (w, h) = (usize::try_from(int(b"Width")?).ok()?, usize::try_from(int(b"Height")?).ok()?);
    let mask = dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
    let bpc = if mask { 1 } else { usize::try_from(int(b"BitsPerComponent").unwrap_or(8)).ok()?.clamp(1, 16) };
    let components = if mask { 1 } else { colour_components(doc, dict) };
    w.checked_mul(components)?.checked_mul(bpc)?.div_ceil(8).checked_add(1)?.checked_mul(h)
}

/// Colour components of an image's colour space; 4, the most a page image has, when it cannot be told.
fn colour_components(doc: &Document, dict: &lopdf::Dictionary) -> usize {
    let Some((_, cs)) = dict.get(b"ColorSpace").ok().and_then(|o| doc.dereference(o).ok()) else { return 4 };
    let name = match cs {
        Object::Name(n) => n.as_slice(),
        Object::Array(a) => match a.first().and_then(|o| o.as_name().ok()) {
            Some(b"ICCBased") => {
                let n = a.get(1).and_then(|o| doc.dereference(o).ok()).and_then(|(_, o)| o.as_stream().ok());
                return n
                    .and_then(|s| s.dict.get(b"N").and_then(Object::as_i64).ok())
                    .map_or(4, |n| n.clamp(1, 4) as usize);
            }
            Some(b"DeviceN") => return a.get(1).and_then(|o| o.as_array().ok()).map_or(4, |v| v.len().clamp(1, 32)),
            Some(n) => n,
            None => return 4,
        },
        _ => return 4,
    };
    match name {
        b"DeviceGray" | b"G" | b"CalGray" | b"Indexed" | b"I" | b"Separation" | b"Pattern" => 1,
        b"DeviceRGB" | b"RGB" | b"CalRGB" | b"Lab" => 3,
        _ => 4,
    }
}

/// How many bytes a stream's filters decode to, counted and not kept (memory stays flat whatever the
/// stream claims), stopping just past `budget`: the text filters (`ASCIIHexDecode`, `ASCII85Decode`,
/// no larger than the stream itself) are undone in memory, then the first compression filter
/// (`FlateDecode`, `LZWDecode`, `RunLengthDecode`) is counted through. `None` for what is not decoded
/// here: image codecs (DCT, JPX, JBIG2, CCITT) and names no reader knows.
fn decoded_size(content: &[u8], filters: &[Vec<u8>], budget: usize) -> std::result::Result<Option<usize>, String> {
    use std::io::Read;
    let limit = budget as u64 + 1;
    let mut data = std::borrow::Cow::Borrowed(content);
    for f in filters {
        match f.as_slice() {
            b"ASCIIHexDecode" | b"AHx" => data = std::borrow::Cow::Owned(ascii_hex(&data)?),
            b"ASCII85Decode" | b"A85" => data = std::borrow::Cow::Owned(ascii85(&data)?),
            b"FlateDecode" | b"Fl" => {
                let mut z = flate2::read::ZlibDecoder::new(&*data).take(limit);
                return std::io::copy(&mut z, &mut std::io::sink())
                    .map(|n| Some(n as usize))
                    .map_err(|_| "its compressed data ends early or is corrupt".into());
            }
            b"LZWDecode" | b"LZW" => {
                // PDF's default EarlyChange 1 is TIFF's size switch.
                let mut d = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
                let mut out = Counted { n: 0, limit };
                let r = d.into_stream(&mut out).decode_all(&*data);
                return match r.status {
                    Ok(()) => Ok(Some(out.n as usize)),
                    Err(_) if out.n >= limit => Ok(Some(out.n as usize)),
                    Err(e) => Err(format!("its LZW data is corrupt ({e})")),
                };
            }
            b"RunLengthDecode" | b"RL" => return run_length_size(&data, limit).map(|n| Some(n as usize)),
            _ => return Ok(None),
        }
    }
    Ok(Some(data.len()))
}

/// A writer that counts, and refuses once past its limit.
struct Counted {
    n: u64,
    limit: u64,
}

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.n += buf.len() as u64;
        if self.n > self.limit {
            return Err(std::io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn ascii_hex(data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut high: Option<u8> = None;
    for &b in data {
        let v = match b {
            b'>' => break,
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ if b.is_ascii_whitespace() => continue,
            _ => return Err(format!("its ASCIIHex data holds `{}`", b as char)),
        };
        match high.take() {
            Some(h) => out.push(h << 4 | v),
            None => high = Some(v),
        }
    }
    if let Some(h) = high {
        out.push(h << 4);
    }
    Ok(out)
}

fn ascii85(data: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len() * 4 / 5);
    let (mut group, mut n) = (0u64, 0usize);
    let body = data.strip_prefix(b"<~").unwrap_or(data);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        match b {
            // The end marker; a writer that leaves it out is read to the end (what follows shows damage).
            b'~' => break,
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group = group * 85 + u64::from(b - b'!');
                n += 1;
                if n == 5 {
                    if group > u64::from(u32::MAX) {
                        return Err("its ASCII85 data holds a group out of range".into());
                    }
                    out.extend_from_slice(&(group as u32).to_be_bytes());
                    (group, n) = (0, 0);
                }
            }
            _ if b.is_ascii_whitespace() => {}
            _ => return Err(format!("its ASCII85 data holds `{}`", b as char)),
        }
    }
    if n == 1 {
        return Err("its ASCII85 data ends with a lone character".into());
    }
    if n > 1 {
        for _ in n..5 {
            group = group * 85 + 84;
        }
        if group > u64::from(u32::MAX) {
            return Err("its ASCII85 data holds a group out of range".into());
        }
        out.extend_from_slice(&(group as u32).to_be_bytes()[..n - 1]);
    }
    Ok(out)
}

fn run_length_size(data: &[u8], limit: u64) -> std::result::Result<u64, String> {
    let (mut i, mut n) = (0usize, 0u64);
    while i < data.len() && n <= limit {
        let len = data[i];
        i += 1;
        match len {
            128 => return Ok(n),
            0..=127 => {
                let run = usize::from(len) + 1;
                if i + run > data.len() {
                    return Err("its run-length data ends early".into());
                }
                i += run;
                n += run as u64;
            }
            _ => {
                if i >= data.len() {
                    return Err("its run-length data ends early".into());
                }
                i += 1;
                n += 257 - u64::from(len);
            }
        }
    }
    // Read to the end without its end marker, as readers do.
    Ok(n)
}

/// Walks the page tree from the catalog before the pages are listed, as qpdf does: each node reached
/// once (a node reached twice is a loop or a shared branch, which a lister expands without end — 40
/// levels of `Kids [n n]` make a trillion pages out of 3 KB), each kid a page or a node, and the root's
/// `Count` the pages found. A tree that fails is damaged; one with more than `MAX_PAGES` pages is
/// refused before they are listed. Gives the number of pages.
fn page_tree(doc: &Document) -> Result<usize> {
    let damaged = |what: String| damaged(format!("its page tree {what}"));
    let Some(root) = doc.catalog().ok().and_then(|c| c.get(b"Pages").ok()).and_then(|o| o.as_reference().ok()) else {
        return Err(damaged("has no root".into()));
    };
    let dict = |id: ObjectId| doc.get_object(id).ok().and_then(|o| o.as_dict().ok());
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root];
    let mut leaves = 0usize;
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            return Err(damaged(format!("reaches object {} {} twice: a loop or a shared branch", id.0, id.1)));
        }
        let Some(d) = dict(id) else {
            return Err(damaged(format!("holds object {} {}, which is not a page", id.0, id.1)));
        };
        let kind = d.get(b"Type").and_then(Object::as_name).ok();
        let node = kind == Some(b"Pages".as_slice()) || (kind.is_none() && d.has(b"Kids"));
        if !node {
            let page_like = d.has(b"Contents") || d.has(b"Resources") || d.has(b"MediaBox");
            if kind == Some(b"Page".as_slice()) || (kind.is_none() && page_like) {
                leaves += 1;
                if leaves > super::MAX_PAGES {
                    return Err(Failure::bad(
                        Code::TooManyPages,
                        format!("the PDF has more than the {} pages one file may hold; split it", super::MAX_PAGES),
                    ));
                }
                continue;
            }
            return Err(damaged(format!("holds object {} {}, which is not a page", id.0, id.1)));
        }
        let Ok(kids) = d.get(b"Kids").and_then(Object::as_array) else {
            return Err(damaged(format!("node {} {} has no list of pages", id.0, id.1)));
        };
        for kid in kids.iter().rev() {
            match kid.as_reference() {
                Ok(k) => stack.push(k),
                Err(_) => return Err(damaged(format!("node {} {} lists something that is not a page", id.0, id.1))),
            }
        }
    }
    match dict(root).and_then(|d| d.get(b"Count").ok()).and_then(|o| o.as_i64().ok()) {
        Some(n) if usize::try_from(n).ok() == Some(leaves) => Ok(leaves),
        Some(n) => Err(damaged(format!("says {n} page(s) and holds {leaves}"))),
        None => Err(damaged(format!("gives no page count for its {leaves} page(s)"))),
    }
}

/// The pages the root of the page tree says it holds (its `Count`, or failing that its `Kids`), when it
/// says any: a tree that says so and yields none is damaged, not empty.
fn claimed_pages(doc: &Document) -> Option<i64> {
    let root = doc.catalog().ok()?.get(b"Pages").ok()?;
    let (_, root) = doc.dereference(root).ok()?;
    let root = root.as_dict().ok()?;
    let count = root.get(b"Count").ok().and_then(|o| o.as_i64().ok()).unwrap_or(0);
    let kids = root.get(b"Kids").ok().and_then(|o| o.as_array().ok()).map_or(0, Vec::len);
    let n = if count > 0 { count } else { kids as i64 };
    (n > 0).then_some(n)
}

/// Refuses a PDF some of whose references lead nowhere (the trailer's included): the objects they
/// name were in the part of the file that is missing.
fn dangling(doc: &Document) -> Result<()> {
    let mut missing = 0usize;
    let mut first_missing = None;
    let mut check = |o: &Object| {
        if let Object::Reference(id) = o
            && doc.get_object(*id).is_err()
        {
            missing += 1;
            first_missing.get_or_insert(*id);
        }
    };
    for obj in doc.objects.values() {
        walk(obj, &mut check);
    }
    for (_, o) in doc.trailer.iter() {
        walk(o, &mut check);
    }
    match first_missing {
        Some((n, g)) => {
            Err(damaged(format!("{missing} object reference(s) lead nowhere, the first to object {n} {g}")))
        }
        None => Ok(()),
    }
}

/// Calls `f` on an object and everything inside it (not following references).
fn walk(o: &Object, f: &mut impl FnMut(&Object)) {
    f(o);
    match o {
        Object::Array(a) => a.iter().for_each(|x| walk(x, f)),
        Object::Dictionary(d) => d.iter().for_each(|(_, x)| walk(x, f)),
        Object::Stream(s) => s.dict.iter().for_each(|(_, x)| walk(x, f)),
        _ => {}
    }
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
                dpi: Some((72.0, 72.0, super::DpiSource::Placement)),
                colour: Colour::Native,
                encoding: SourceEncoding::Pdf,
            }
        })
        .collect()
}

pub(super) fn load(b: &[u8], index: u32, limits: Limits) -> Result<Option<PageImage>> {
    Opened::new(b, limits)?.load(index, limits)
}

/// A PDF parsed once, for reading many of its pages: a scanner's 1,000-page PDF read page by page
/// would otherwise be parsed 1,000 times.
pub struct Opened {
    doc: Document,
    pages: Vec<ObjectId>,
}

impl Opened {
    pub(super) fn new(b: &[u8], limits: Limits) -> Result<Opened> {
        let doc = open(b, limits)?;
        let pages = doc.get_pages().into_values().collect();
        Ok(Opened { doc, pages })
    }

    pub(super) fn load(&self, index: u32, limits: Limits) -> Result<Option<PageImage>> {
        page_image(&self.doc, &self.pages, index, limits)
    }
}

fn page_image(doc: &Document, pages: &[ObjectId], index: u32, limits: Limits) -> Result<Option<PageImage>> {
    let Some(id) = pages.get(index as usize) else {
        return Err(Failure::bad(Code::NoPages, format!("the PDF has no page {}", index + 1)));
    };
    let Some(info) = page_info(doc, *id, limits)? else {
        return Ok(None);
    };
    let Some(p) = scan_page(doc, *id) else {
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
            black_is_1: ccitt_bool(doc, p.dict, b"BlackIs1"),
        },
        _ => PageImage::Raster(raw_pixels(doc, *id, &p, info.colour)?),
    }))
}

/// The pixels of a page image that is not passed through: 1-bit (Flate or JBIG2), palette, gray or RGB.
/// Every inflation is bounded by the size the image says it has.
fn raw_pixels(doc: &Document, page: ObjectId, p: &ScanPage<'_>, colour: Colour) -> Result<Raster> {
    let broken = |what: String| Failure::bad(Code::BrokenPdf, format!("the PDF's page image {what}"));
    let stream = doc
        .get_object(doc.get_page_images(page).ok().and_then(|v| v.first().map(|i| i.id)).unwrap_or((0, 0)))
        .and_then(Object::as_stream)
        .map_err(|e| broken(format!("cannot be read ({e})")))?;
    let (w, h) = (p.width as usize, p.height as usize);
    let f = filters(&stream.dict);
    if f.first().map(Vec::as_slice) == Some(b"JBIG2Decode".as_slice()) {
        return jbig2(doc, p, &stream.content);
    }
    let ix = indexed(doc, p.dict);
    let RawLayout { samples, bpc, stride, need, inflated, predicted } = layout(doc, p, colour);
    let data = match (f.is_empty(), predicted) {
        (true, _) => stream.content.clone(),
        (false, false) => inflate_bounded(&stream.content, inflated)?,
        // PNG predictors: a filter byte before each row.
        (false, true) => {
            let raw = inflate_bounded(&stream.content, inflated)?;
            unpredict(&raw, stride, (samples * bpc).div_ceil(8), h)
                .ok_or_else(|| broken("has rows its predictor cannot undo (the file is damaged)".into()))?
        }
    };
    if data.len() < need {
        return Err(broken("has fewer pixels than it claims (the file is cut short or damaged)".into()));
    }
    if let Some(ix) = ix {
        // Palette indices to colours.
        let mut out = Vec::with_capacity(w * h * if ix.base_gray { 1 } else { 3 });
        let (n, lut) = (if ix.base_gray { 1 } else { 3 }, &ix.lookup);
        for y in 0..h {
            let row = &data[y * stride..(y + 1) * stride];
            for x in 0..w {
                let bit = x * bpc;
                let v = match bpc {
                    8 => row[x] as usize,
                    1 | 2 | 4 => ((row[bit / 8] >> (8 - bpc - bit % 8)) & ((1 << bpc) - 1) as u8) as usize,
                    _ => return Err(broken(format!("uses {bpc}-bit palette indices, which sohoa does not read"))),
                };
                let at = v.min(ix.hival) * n;
                match lut.get(at..at + n) {
                    Some(c) => out.extend_from_slice(c),
                    None => out.extend(std::iter::repeat_n(255, n)),
                }
            }
        }
        let kind = if ix.base_gray { RasterKind::Gray } else { RasterKind::Rgb };
        return Ok(Raster { width: p.width, height: p.height, kind, data: out });
    }
    let kind = match colour {
        Colour::Bitonal => RasterKind::Bitonal,
        Colour::Gray => RasterKind::Gray,
        _ => RasterKind::Rgb,
    };
    let mut data = data[..need].to_vec();
    if kind == RasterKind::Bitonal {
        // PDF 1-bit gray: 0 = black; ours: 1 = black. An image mask paints 1s, already ours.
        let mask = p.dict.get(b"ImageMask").and_then(Object::as_bool).unwrap_or(false);
        if !mask {
            data.iter_mut().for_each(|b| *b = !*b);
        }
    }
    Ok(Raster { width: p.width, height: p.height, kind, data })
}

/// The PNG predictor a Flate image stream says it uses (`/DecodeParms /Predictor` 10–15), if any.
fn predictor(doc: &Document, dict: &lopdf::Dictionary) -> Option<i64> {
    let (_, parms) = doc.dereference(dict.get(b"DecodeParms").ok()?).ok()?;
    let parms = match parms {
        Object::Dictionary(d) => d,
        Object::Array(a) => a.first()?.as_dict().ok()?,
        _ => return None,
    };
    parms.get(b"Predictor").and_then(Object::as_i64).ok().filter(|p| *p >= 10)
}

/// How a page image's pixels lie once inflated, from its dictionary.
struct RawLayout {
    /// Samples per pixel: 1 (palette, gray, 1-bit) or 3.
    samples: usize,
    /// Bits per sample.
    bpc: usize,
    /// Bytes per row.
    stride: usize,
    /// Bytes of all rows: what the image's size says it holds.
    need: usize,
    /// The most its compressed data may inflate to: `need`, and a filter byte per row under a PNG
    /// predictor. Anything past it is a bomb.
    inflated: usize,
    /// Whether a PNG predictor is on its rows.
    predicted: bool,
}

fn layout(doc: &Document, p: &ScanPage<'_>, colour: Colour) -> RawLayout {
    let (w, h) = (p.width as usize, p.height as usize);
    let bpc = p.dict.get(b"BitsPerComponent").and_then(Object::as_i64).unwrap_or(8).clamp(1, 16) as usize;
    let samples = if indexed(doc, p.dict).is_some() || colour != Colour::Rgb { 1 } else { 3 };
    let stride = (w * samples * bpc).div_ceil(8);
    let predicted = predictor(doc, p.dict).is_some();
    let need = stride * h;
    RawLayout { samples, bpc, stride, need, inflated: need + if predicted { h } else { 0 }, predicted }
}

fn image_bomb() -> Failure {
    Failure::bad(
        Code::PdfBomb,
        "the PDF's page image inflates to more than its size says (a decompression bomb); it was not opened",
    )
}

/// Undoes PNG row filters (None, Sub, Up, Average, Paeth): `rows` rows of `stride` bytes, each after
/// its filter byte, `bpp` bytes per pixel. `None` when a row's filter is unknown.
fn unpredict(raw: &[u8], stride: usize, bpp: usize, rows: usize) -> Option<Vec<u8>> {
    let bpp = bpp.max(1);
    let whole = rows.min(raw.len() / (stride + 1));
    let mut out = vec![0u8; stride * whole];
    for y in 0..whole {
        let Some(src) = raw.get(y * (stride + 1)..(y + 1) * (stride + 1)) else { break };
        let (kind, src) = (src[0], &src[1..]);
        let (done, rest) = out.split_at_mut(y * stride);
        let prev = if y > 0 { &done[(y - 1) * stride..] } else { &[][..] };
        let row = &mut rest[..stride];
        for x in 0..stride {
            let a = if x >= bpp { row[x - bpp] as i16 } else { 0 };
            let b = prev.get(x).copied().unwrap_or(0) as i16;
            let c = if x >= bpp { prev.get(x - bpp).copied().unwrap_or(0) as i16 } else { 0 };
            let add = match kind {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                _ => return None,
            };
            row[x] = src[x].wrapping_add(add as u8);
        }
    }
    Some(out)
}

/// Inflates a Flate stream, refusing one that inflates past `limit` bytes (a decompression bomb): an
/// image never needs more than its width × height says.
fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(limit.min(64 << 20));
    let mut z = flate2::read::ZlibDecoder::new(data).take(limit as u64 + 1);
    match z.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(image_bomb()),
        Ok(_) => Ok(out),
        // A stream cut short still gives its first rows; the length check after says whether enough came.
        Err(_) if !out.is_empty() => Ok(out),
        Err(e) => Err(Failure::bad(Code::BrokenPdf, format!("the PDF's page image cannot be decoded ({e})"))),
    }
}

/// A palette image's colour space: `[/Indexed base hival lookup]`.
struct Indexed {
    base_gray: bool,
    hival: usize,
    lookup: Vec<u8>,
}

fn indexed(doc: &Document, dict: &lopdf::Dictionary) -> Option<Indexed> {
    let (_, cs) = doc.dereference(dict.get(b"ColorSpace").ok()?).ok()?;
    let Object::Array(a) = cs else { return None };
    if a.len() != 4 || a[0].as_name().ok()? != b"Indexed" {
        return None;
    }
    let base = match doc.dereference(&a[1]).ok()?.1 {
        Object::Name(n) => n.clone(),
        // [/ICCBased stream]: its number of components says gray or RGB.
        Object::Array(b) if b.first().and_then(|o| o.as_name().ok()) == Some(b"ICCBased".as_slice()) => {
            let icc = doc.dereference(b.get(1)?).ok()?.1.as_stream().ok()?;
            match icc.dict.get(b"N").and_then(Object::as_i64).ok()? {
                1 => b"DeviceGray".to_vec(),
                3 => b"DeviceRGB".to_vec(),
                _ => return None,
            }
        }
        _ => return None,
    };
    let base_gray = match base.as_slice() {
        b"DeviceGray" | b"CalGray" => true,
        b"DeviceRGB" | b"CalRGB" => false,
        _ => return None,
    };
    let hival = usize::try_from(a[2].as_i64().ok()?).ok()?.min(255);
    let lookup = match doc.dereference(&a[3]).ok()?.1 {
        Object::String(s, _) => s.clone(),
        Object::Stream(st) => {
            let n = (hival + 1) * if base_gray { 1 } else { 3 };
            if filters(&st.dict).is_empty() { st.content.clone() } else { inflate_bounded(&st.content, n).ok()? }
        }
        _ => return None,
    };
    Some(Indexed { base_gray, hival, lookup })
}

/// Decodes a JBIG2 page image (with its globals) into 1-bit pixels, `1` = black.
fn jbig2(doc: &Document, p: &ScanPage<'_>, data: &[u8]) -> Result<Raster> {
    let broken = |e: hayro_jbig2::DecodeError| {
        Failure::bad(Code::BrokenPdf, format!("the PDF's JBIG2 page image cannot be decoded ({e:?})"))
    };
    let settings = hayro_jbig2::DecodeSettings::default();
    let globals_bytes = p
        .dict
        .get(b"DecodeParms")
        .ok()
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_dict().ok())
        .and_then(|d| d.get(b"JBIG2Globals").ok())
        .and_then(|o| doc.dereference(o).ok())
        .and_then(|(_, o)| o.as_stream().ok())
        .map(
            |s| if filters(&s.dict).is_empty() { Ok(s.content.clone()) } else { inflate_bounded(&s.content, 16 << 20) },
        )
        .transpose()?;
    let globals =
        globals_bytes.as_deref().map(|g| hayro_jbig2::Globals::new(g, &settings)).transpose().map_err(broken)?;
    let page = hayro_jbig2::Page::new_embedded(data, globals.as_ref(), &settings).map_err(broken)?;
    if (page.width(), page.height()) != (p.width, p.height) {
        return Err(Failure::bad(
            Code::BrokenPdf,
            format!(
                "the PDF's JBIG2 page image is {}×{} pixels where the page says {}×{}",
                page.width(),
                page.height(),
                p.width,
                p.height
            ),
        ));
    }
    let mut bits = Packed::new(p.width as usize, p.height as usize);
    page.decode(&mut bits).map_err(broken)?;
    let inverted =
        matches!(p.dict.get(b"Decode"), Ok(Object::Array(a)) if a.first().and_then(|o| o.as_i64().ok()) == Some(1));
    if inverted {
        bits.data.iter_mut().for_each(|b| *b = !*b);
    }
    Ok(Raster { width: p.width, height: p.height, kind: RasterKind::Bitonal, data: bits.data })
}

/// 1-bit rows packed MSB first as the JBIG2 decoder pushes them.
struct Packed {
    stride: usize,
    data: Vec<u8>,
    x: usize,
    y: usize,
}

impl Packed {
    fn new(w: usize, h: usize) -> Packed {
        Packed { stride: w.div_ceil(8), data: vec![0; w.div_ceil(8) * h], x: 0, y: 0 }
    }
}

impl hayro_jbig2::Decoder for Packed {
    fn push_pixel(&mut self, black: bool) {
        if black && let Some(b) = self.data.get_mut(self.y * self.stride + self.x / 8) {
            *b |= 0x80 >> (self.x % 8);
        }
        self.x += 1;
    }

    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        let n = chunk_count as usize;
        if black {
            let at = self.y * self.stride + self.x / 8;
            if let Some(s) = self.data.get_mut(at..(at + n).min(self.y * self.stride + self.stride)) {
                s.fill(0xFF);
            }
        }
        self.x += 8 * n;
    }

    fn next_line(&mut self) {
        self.x = 0;
        self.y += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values written from the PDF reference's descriptions of the filters, not from this code.
    #[test]
    fn the_text_filters_decode_as_the_reference_describes() {
        assert_eq!(ascii_hex(b"48 65 6C6c 6F>").unwrap(), b"Hello");
        assert_eq!(ascii_hex(b"7>").unwrap(), [0x70], "an odd last digit is followed by 0");
        assert!(ascii_hex(b"4G>").is_err());
        assert_eq!(ascii85(b"<~9jqo^BlbD-BleB1DJ+*+F(f,q~>").unwrap(), b"Man is distinguished");
        assert_eq!(ascii85(b"z9jqo^~>").unwrap(), b"\0\0\0\0Man ");
        assert_eq!(ascii85(b"9jqo~>").unwrap(), b"Man", "a final partial group");
        assert!(ascii85(b"s8W-\"~>").is_err(), "s8W-\" is 2^32, one past the largest group");
        assert!(ascii85(b"9jqo^B~>").is_err(), "a lone final character");
        assert!(ascii85(b"9j{o^~>").is_err());
    }

    #[test]
    fn run_length_counts_literals_and_repeats_and_stops_at_its_end_marker() {
        // 2 literal bytes, a run of 5 (257 − 252), then the end marker and bytes after it.
        assert_eq!(run_length_size(&[1, b'a', b'b', 252, b'x', 128, 9, 9], 100), Ok(7));
        assert!(run_length_size(&[3, b'a'], 100).is_err(), "a literal run cut short");
        assert!(run_length_size(&[200], 100).is_err(), "a repeat without its byte");
    }

    #[test]
    fn a_stream_is_counted_through_its_filter_chain_and_an_image_codec_is_left_alone() {
        let raw = vec![b'q'; 5000];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &raw).unwrap();
        let z = z.finish().unwrap();
        let hex: Vec<u8> = z.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
        let names = |n: &[&str]| n.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        assert_eq!(decoded_size(&hex, &names(&["AHx", "Fl"]), 1 << 20), Ok(Some(5000)));
        assert_eq!(decoded_size(&z, &names(&["FlateDecode"]), 100), Ok(Some(101)), "stops just past the budget");
        assert!(decoded_size(&z[..z.len() / 2], &names(&["FlateDecode"]), 1 << 20).is_err());
        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(&raw).unwrap();
        assert_eq!(decoded_size(&lzw, &names(&["LZWDecode"]), 1 << 20), Ok(Some(5000)));
        assert_eq!(decoded_size(b"\xff\xd8", &names(&["DCTDecode"]), 1 << 20), Ok(None));
    }
}
