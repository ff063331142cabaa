//! TIFF: every page of a multi-page file, 1/8/16-bit, palette and CMYK, with the resolution tags.

use std::io::Cursor;

use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

use super::{Limits, PageInfo, Raster, RasterKind, SourceEncoding};
use crate::error::{Code, Failure, Result};

use super::MAX_PAGES;

fn bad(e: TiffError) -> Failure {
    match e {
        TiffError::IoError(_) => {
            Failure::bad(Code::TruncatedTiff, "the TIFF is cut short: the scan or the copy did not finish; scan again")
        }
        TiffError::LimitsExceeded => Failure::bad(
            Code::TooLarge,
            "the TIFF needs more memory to read than this station allows for one page (a very large page, or \
             a tag or strip far larger than a page needs); save it as 8-bit gray or colour, or scan at a lower \
             resolution",
        ),
        TiffError::UnsupportedError(u) => Failure::bad(
            Code::TiffUnsupported,
            format!(
                "the TIFF uses a feature sohoa does not read ({u}); save as uncompressed, LZW, Deflate or Group 4 TIFF"
            ),
        ),
        other => Failure::bad(Code::BrokenTiff, format!("the TIFF is damaged ({other})")),
    }
}

/// Opens a TIFF whose decoder may hold one page's pixels (`Limits::decode_bytes`), not the tiff
/// crate's default 256 MiB, which refused colour pages well within `max_pixels`.
fn open(b: &[u8], limits: Limits) -> Result<Decoder<Cursor<&[u8]>>> {
    let mut l = tiff::decoder::Limits::default();
    l.decoding_buffer_size = usize::try_from(limits.decode_bytes()).unwrap_or(usize::MAX);
    Ok(Decoder::new(Cursor::new(b)).map_err(bad)?.with_limits(l))
}

fn tag_u32(d: &mut Decoder<Cursor<&[u8]>>, tag: Tag) -> Option<u32> {
    d.find_tag(tag).ok().flatten().and_then(|v| v.into_u32().ok())
}

fn tag_f64(d: &mut Decoder<Cursor<&[u8]>>, tag: Tag) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    fn num(v: Value) -> Option<f64> {
        match v {
            Value::Rational(n, q) if q != 0 => Some(n as f64 / q as f64),
            Value::Float(f) => Some(f as f64),
            Value::Double(f) => Some(f),
            Value::Short(s) => Some(s as f64),
            Value::Unsigned(u) => Some(u as f64),
            Value::List(mut l) if !l.is_empty() => num(l.swap_remove(0)),
            _ => None,
        }
    }
    d.find_tag(tag).ok().flatten().and_then(num)
}

/// Decodes the current page.
fn read_page(d: &mut Decoder<Cursor<&[u8]>>, limits: Limits) -> Result<(PageInfo, Raster)> {
    let (w, h) = d.dimensions().map_err(bad)?;
    limits.check(w, h)?;
    let samples = tag_u32(d, Tag::SamplesPerPixel).unwrap_or(1).max(1) as u64;
    let bits = tag_vec(d, Tag::BitsPerSample).and_then(|v| v.into_iter().max()).unwrap_or(1).max(1);
    // A palette page is held as colour; other samples as the file stores them, at least a byte each.
    let palette = tag_u32(d, Tag::PhotometricInterpretation) == Some(3);
    let bytes_per_pixel = if palette { 3 } else { samples * bits.div_ceil(8) };
    limits.check_decoded(w, h, bytes_per_pixel)?;
    match tag_u32(d, Tag::Compression) {
        Some(2) | Some(3) => {
            return Err(Failure::bad(
                Code::TiffGroup3,
                "the TIFF is compressed with CCITT Group 3 (fax), which sohoa does not read; set the scanner to \
                 Group 4 or uncompressed TIFF",
            ));
        }
        // Old-style JPEG (6) is ambiguous by design; new-style JPEG strips (7) are decoded.
        Some(6) => {
            return Err(Failure::bad(
                Code::TiffJpeg,
                "the TIFF holds old-style JPEG data (compression 6), which sohoa does not read; save the page as \
                 a .jpg or as a TIFF with new-style JPEG, LZW or Deflate compression",
            ));
        }
        _ => {}
    }
    let white_is_zero = tag_u32(d, Tag::PhotometricInterpretation) == Some(0);
    let unit = tag_u32(d, Tag::ResolutionUnit).unwrap_or(2);
    let dpi = match (tag_f64(d, Tag::XResolution), tag_f64(d, Tag::YResolution), unit) {
        (Some(x), Some(y), 2) => Some((x, y)),
        (Some(x), Some(y), 3) => Some((x * 2.54, y * 2.54)),
        _ => None,
    }
    .filter(|(x, y)| *x >= 10.0 && *y >= 10.0);
    if tag_u32(d, Tag::PhotometricInterpretation) == Some(3) {
        // Palette images: read here, as the tiff crate does not take every palette layout.
        return Ok(with_info(read_palette(d, w, h)?, dpi));
    }
    let colortype = d.colortype().map_err(bad)?;
    let data = d.read_image().map_err(bad)?;
    let (wu, hu) = (w as usize, h as usize);
    let raster = match (colortype, data) {
        (ColorType::Gray(1), DecodingResult::U8(mut v)) => {
            // Stored: 1 = white unless WhiteIsZero. Ours: 1 = black.
            if !white_is_zero {
                v.iter_mut().for_each(|b| *b = !*b);
            }
            clear_padding(&mut v, wu, hu);
            Raster { width: w, height: h, kind: RasterKind::Bitonal, data: v }
        }
        (ColorType::Gray(bits @ (8 | 16)), data) => {
            let mut v: Vec<u8> = match data {
                DecodingResult::U8(v) if bits == 8 => v,
                DecodingResult::U16(v) => v.into_iter().map(to8).collect(),
                _ => return Err(Failure::bad(Code::BrokenTiff, "the TIFF's gray samples do not match its header")),
            };
            if white_is_zero {
                v.iter_mut().for_each(|b| *b = !*b);
            }
            Raster { width: w, height: h, kind: RasterKind::Gray, data: v }.into_bitonal_if_two_level()
        }
        (ColorType::RGB(8), DecodingResult::U8(v)) => Raster { width: w, height: h, kind: RasterKind::Rgb, data: v },
        (ColorType::RGB(16), DecodingResult::U16(v)) => {
            Raster { width: w, height: h, kind: RasterKind::Rgb, data: v.into_iter().map(to8).collect() }
        }
        (ColorType::RGBA(8), DecodingResult::U8(v)) => {
            let data = v
                .chunks_exact(4)
                .flat_map(|p| {
                    let a = p[3] as u32;
                    [0, 1, 2].map(|c| ((p[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8)
                })
                .collect();
            Raster { width: w, height: h, kind: RasterKind::Rgb, data }
        }
        (ColorType::CMYK(8), DecodingResult::U8(v)) => Raster { width: w, height: h, kind: RasterKind::Cmyk, data: v },
        // Gray with alpha (a scan saved with a transparency channel): flattened over white paper.
        (ColorType::GrayA(bits @ (8 | 16)), data) => {
            let v: Vec<u8> = match data {
                DecodingResult::U8(v) if bits == 8 => v,
                DecodingResult::U16(v) => v.into_iter().map(to8).collect(),
                _ => return Err(Failure::bad(Code::BrokenTiff, "the TIFF's gray samples do not match its header")),
            };
            let data = v
                .chunks_exact(2)
                .map(|p| {
                    let (g, a) = (if white_is_zero { 255 - p[0] } else { p[0] } as u32, p[1] as u32);
                    ((g * a + 255 * (255 - a) + 127) / 255) as u8
                })
                .collect();
            Raster { width: w, height: h, kind: RasterKind::Gray, data }.into_bitonal_if_two_level()
        }
        (ColorType::RGBA(16), DecodingResult::U16(v)) => {
            let data = v
                .chunks_exact(4)
                .flat_map(|p| {
                    let a = u32::from(to8(p[3]));
                    [0, 1, 2].map(|c| ((u32::from(to8(p[c])) * a + 255 * (255 - a) + 127) / 255) as u8)
                })
                .collect();
            Raster { width: w, height: h, kind: RasterKind::Rgb, data }
        }
        (ct, _) => {
            return Err(Failure::bad(
                Code::TiffUnsupported,
                format!("the TIFF's pixel layout ({ct:?}) is not one sohoa reads; save as 1-bit, gray or RGB"),
            ));
        }
    };
    let expected = match raster.kind {
        RasterKind::Bitonal => wu.div_ceil(8) * hu,
        RasterKind::Gray => wu * hu,
        RasterKind::Rgb => wu * hu * 3,
        RasterKind::Cmyk => wu * hu * 4,
    };
    if raster.data.len() < expected {
        return Err(Failure::bad(Code::TruncatedTiff, "the TIFF page has fewer pixels than its header says"));
    }
    Ok(with_info(raster, dpi))
}

/// A decoded page with what the split job records about it.
fn with_info(raster: Raster, dpi: Option<(f64, f64)>) -> (PageInfo, Raster) {
    let info = PageInfo {
        width: raster.width,
        height: raster.height,
        dpi: dpi.map(|(x, y)| (x, y, super::DpiSource::File)),
        colour: raster.colour(),
        encoding: SourceEncoding::Raw,
    };
    (info, raster)
}

/// 16-bit sample to 8-bit, rounded (the same mapping as the image crate's).
fn to8(s: u16) -> u8 {
    ((s as u32 + 128) / 257) as u8
}

fn tag_vec(d: &mut Decoder<Cursor<&[u8]>>, tag: Tag) -> Option<Vec<u64>> {
    d.find_tag(tag).ok().flatten().and_then(|v| v.into_u64_vec().ok())
}

/// A palette page: strips decompressed here (none, LZW, Deflate, PackBits; horizontal predictor),
/// indices looked up in the colour map.
fn read_palette(d: &mut Decoder<Cursor<&[u8]>>, w: u32, h: u32) -> Result<Raster> {
    let broken = |why: &str| Failure::bad(Code::BrokenTiff, format!("the palette TIFF is damaged: {why}"));
    let bits = tag_u32(d, Tag::BitsPerSample).unwrap_or(1) as usize;
    if !matches!(bits, 1 | 2 | 4 | 8) {
        return Err(Failure::bad(
            Code::TiffUnsupported,
            format!("the palette TIFF has {bits}-bit samples; save as 8-bit"),
        ));
    }
    let map = d
        .find_tag(Tag::ColorMap)
        .ok()
        .flatten()
        .and_then(|v| v.into_u16_vec().ok())
        .ok_or_else(|| broken("no colour map"))?;
    let n = 1usize << bits;
    if map.len() < 3 * n {
        return Err(broken("the colour map is too short"));
    }
    let (offsets, counts) = match (tag_vec(d, Tag::StripOffsets), tag_vec(d, Tag::StripByteCounts)) {
        (Some(o), Some(c)) if o.len() == c.len() => (o, c),
        _ => return Err(Failure::bad(Code::TiffUnsupported, "the palette TIFF is tiled; save it in strips")),
    };
    let compression = tag_u32(d, Tag::Compression).unwrap_or(1);
    let predictor = tag_u32(d, Tag::Predictor).unwrap_or(1);
    let file = d.inner().get_ref();
    let (wu, hu) = (w as usize, h as usize);
    let stride = (wu * bits).div_ceil(8);
    // Every strip is decoded straight into the page's own buffer, never past its end: a strip that
    // inflates to more than the page holds (a decompression bomb in a small file) is cut where the
    // page is full, so memory stays what the header's size, checked against the limits, allows.
    let need = stride * hu;
    let mut idx = vec![0u8; need];
    let mut filled = 0;
    for (o, c) in offsets.iter().zip(&counts) {
        if filled == need {
            break;
        }
        let raw = o
            .checked_add(*c)
            .and_then(|end| file.get(usize::try_from(*o).ok()?..usize::try_from(end).ok()?))
            .ok_or_else(|| broken("a strip lies outside the file"))?;
        let room = &mut idx[filled..];
        filled += match compression {
            1 => {
                let k = raw.len().min(room.len());
                room[..k].copy_from_slice(&raw[..k]);
                k
            }
            5 => lzw_into(raw, room).map_err(|e| broken(&format!("LZW data: {e}")))?,
            8 | 32946 => inflate_into(raw, room).map_err(|e| broken(&format!("Deflate data: {e}")))?,
            32773 => unpack_bits_into(raw, room),
            other => {
                return Err(Failure::bad(
                    Code::TiffUnsupported,
                    format!("the palette TIFF uses compression {other}; save as uncompressed, LZW or Deflate"),
                ));
            }
        };
    }
    if filled < need {
        return Err(Failure::bad(Code::TruncatedTiff, "the TIFF page has fewer pixels than its header says"));
    }
    if predictor == 2 && bits == 8 {
        for row in idx.chunks_exact_mut(stride).take(hu) {
            for x in 1..row.len() {
                row[x] = row[x].wrapping_add(row[x - 1]);
            }
        }
    }
    let mut data = Vec::with_capacity(wu * hu * 3);
    for y in 0..hu {
        let row = &idx[y * stride..(y + 1) * stride];
        for x in 0..wu {
            let bit = x * bits;
            let i = ((row[bit / 8] >> (8 - bits - bit % 8)) as usize) & (n - 1);
            data.extend([(map[i] >> 8) as u8, (map[n + i] >> 8) as u8, (map[2 * n + i] >> 8) as u8]);
        }
    }
    Ok(Raster { width: w, height: h, kind: RasterKind::Rgb, data })
}

/// TIFF LZW decoding into `out`, stopping when it is full; the bytes written.
fn lzw_into(src: &[u8], out: &mut [u8]) -> std::result::Result<usize, weezl::LzwError> {
    let mut dec = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
    let (mut read, mut written) = (0, 0);
    while written < out.len() {
        let r = dec.decode_bytes(&src[read..], &mut out[written..]);
        read += r.consumed_in;
        written += r.consumed_out;
        match r.status? {
            weezl::LzwStatus::Ok if r.consumed_in + r.consumed_out > 0 => {}
            _ => break,
        }
    }
    Ok(written)
}

/// Deflate (zlib) decoding into `out`, stopping when it is full; the bytes written. A stream cut
/// short gives what it holds; the caller's length check says whether that was enough.
fn inflate_into(src: &[u8], out: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut z = flate2::read::ZlibDecoder::new(src);
    let mut written = 0;
    while written < out.len() {
        match z.read(&mut out[written..]) {
            Ok(0) => break,
            Ok(k) => written += k,
            Err(_) if written > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// PackBits run-length decoding into `out`, stopping when it is full; the bytes written.
fn unpack_bits_into(src: &[u8], out: &mut [u8]) -> usize {
    let mut written = 0;
    let mut i = 0;
    while i < src.len() && written < out.len() {
        let n = src[i] as i8;
        i += 1;
        let room = out.len() - written;
        if n >= 0 {
            let lit = &src[i.min(src.len())..(i + n as usize + 1).min(src.len())];
            let k = lit.len().min(room);
            out[written..written + k].copy_from_slice(&lit[..k]);
            written += k;
            i += n as usize + 1;
        } else if n != -128 {
            if let Some(b) = src.get(i) {
                let k = ((1 - n as isize) as usize).min(room);
                out[written..written + k].fill(*b);
                written += k;
            }
            i += 1;
        }
    }
    written
}

/// Zeroes the bits past the last pixel of each row, so padding never prints as ink.
fn clear_padding(v: &mut [u8], w: usize, h: usize) {
    let stride = w.div_ceil(8);
    let rem = w % 8;
    if rem == 0 {
        return;
    }
    let mask = 0xFFu8 << (8 - rem);
    for y in 0..h {
        if let Some(b) = v.get_mut(y * stride + stride - 1) {
            *b &= mask;
        }
    }
}

/// The bytes the first page's decoded pixels take, from its directory alone: one sample a pixel for gray
/// and black-and-white, three for the rest (colour, palette).
pub(super) fn decoded_size(b: &[u8], limits: Limits) -> Option<u64> {
    let mut d = open(b, limits).ok()?;
    let (w, h) = d.dimensions().ok()?;
    let samples = match d.colortype().ok()? {
        tiff::ColorType::Gray(_) | tiff::ColorType::GrayA(_) => 1,
        _ => 3,
    };
    Some(u64::from(w) * u64::from(h) * samples)
}

pub(super) fn inspect(b: &[u8], limits: Limits) -> Result<Vec<PageInfo>> {
    let mut d = open(b, limits)?;
    let mut pages = Vec::new();
    loop {
        let (info, _) = read_page(&mut d, limits)?;
        pages.push(info);
        if !d.more_images() {
            break;
        }
        if pages.len() >= MAX_PAGES {
            return Err(Failure::bad(Code::TooManyPages, format!("the TIFF claims more than {MAX_PAGES} pages")));
        }
        d.next_image().map_err(bad)?;
    }
    Ok(pages)
}

pub(super) fn load(b: &[u8], index: u32, limits: Limits) -> Result<Raster> {
    let mut d = open(b, limits)?;
    d.seek_to_image(index as usize).map_err(bad)?;
    read_page(&mut d, limits).map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::{inflate_into, lzw_into, unpack_bits_into};

    #[test]
    fn packbits() {
        // Literal run of 3, then a byte repeated 4 times, then the no-op code.
        let mut out = [0u8; 16];
        let n = unpack_bits_into(&[2, 1, 2, 3, 0xFD, 9, 0x80], &mut out);
        assert_eq!(&out[..n], &[1, 2, 3, 9, 9, 9, 9]);
        // A run longer than the room left is cut where the page is full.
        let mut small = [0u8; 5];
        assert_eq!(unpack_bits_into(&[2, 1, 2, 3, 0x81, 9, 0x81, 9], &mut small), 5);
        assert_eq!(small, [1, 2, 3, 9, 9]);
    }

    #[test]
    fn strips_never_decode_past_the_page() {
        let big = vec![7u8; 10 << 20];
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut z, &big).unwrap();
        let deflated = z.finish().unwrap();
        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(&big).unwrap();
        for (name, n) in [
            ("deflate", inflate_into(&deflated, &mut [0u8; 1000]).unwrap()),
            ("lzw", lzw_into(&lzw, &mut [0u8; 1000]).unwrap()),
        ] {
            assert_eq!(n, 1000, "{name}");
        }
        // Shorter data fills what it holds, and says how much.
        let mut out = vec![0u8; 20 << 20];
        assert_eq!(inflate_into(&deflated, &mut out).unwrap(), 10 << 20);
        assert_eq!(lzw_into(&lzw, &mut out).unwrap(), 10 << 20);
        assert!(out[..10 << 20].iter().all(|b| *b == 7));
    }
}
