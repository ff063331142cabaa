//! TIFF: every page of a multi-page file, 1/8/16-bit, palette and CMYK, with the resolution tags.

use std::io::Cursor;

use tiff::decoder::{Decoder, DecodingResult};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

use super::{Limits, PageInfo, Raster, RasterKind, SourceEncoding};
use crate::error::{Failure, Result};

/// A scanner never sends this many pages in one file; a file that claims it is damaged.
const MAX_PAGES: usize = 5000;

fn bad(e: TiffError) -> Failure {
    match e {
        TiffError::IoError(_) => {
            Failure::bad("truncated-tiff", "the TIFF is cut short: the scan or the copy did not finish; scan again")
        }
        TiffError::LimitsExceeded => Failure::bad("too-large", "the TIFF page is larger than this station accepts"),
        TiffError::UnsupportedError(u) => Failure::bad(
            "tiff-unsupported",
            format!(
                "the TIFF uses a feature sohoa does not read ({u}); save as uncompressed, LZW, Deflate or Group 4 TIFF"
            ),
        ),
        other => Failure::bad("broken-tiff", format!("the TIFF is damaged ({other})")),
    }
}

fn open(b: &[u8]) -> Result<Decoder<Cursor<&[u8]>>> {
    Decoder::new(Cursor::new(b)).map_err(bad)
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
    match tag_u32(d, Tag::Compression) {
        Some(2) | Some(3) => {
            return Err(Failure::bad(
                "tiff-group3",
                "the TIFF is compressed with CCITT Group 3 (fax), which sohoa does not read; set the scanner to \
                 Group 4 or uncompressed TIFF",
            ));
        }
        Some(7) | Some(6) => {
            return Err(Failure::bad(
                "tiff-jpeg",
                "the TIFF holds JPEG-compressed data, which sohoa does not read; save the page as a .jpg instead",
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
    let colortype = d.colortype().map_err(bad)?;
    let palette = if matches!(colortype, ColorType::Palette(_)) {
        match d.find_tag(Tag::ColorMap).ok().flatten().and_then(|v| v.into_u16_vec().ok()) {
            Some(map) => Some(map),
            None => {
                return Err(Failure::bad("broken-tiff", "the palette TIFF has no colour map"));
            }
        }
    } else {
        None
    };
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
                DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
                _ => return Err(Failure::bad("broken-tiff", "the TIFF's gray samples do not match its header")),
            };
            if white_is_zero {
                v.iter_mut().for_each(|b| *b = !*b);
            }
            Raster { width: w, height: h, kind: RasterKind::Gray, data: v }.into_bitonal_if_two_level()
        }
        (ColorType::RGB(8), DecodingResult::U8(v)) => Raster { width: w, height: h, kind: RasterKind::Rgb, data: v },
        (ColorType::RGB(16), DecodingResult::U16(v)) => {
            Raster { width: w, height: h, kind: RasterKind::Rgb, data: v.into_iter().map(|s| (s >> 8) as u8).collect() }
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
        (ColorType::Palette(bits @ (1 | 2 | 4 | 8)), DecodingResult::U8(v)) => {
            let map = palette.unwrap_or_default();
            let n = 1usize << bits;
            if map.len() < 3 * n {
                return Err(Failure::bad("broken-tiff", "the palette TIFF's colour map is too short"));
            }
            let stride = (wu * bits as usize).div_ceil(8);
            let mut data = Vec::with_capacity(wu * hu * 3);
            for y in 0..hu {
                let row = v.get(y * stride..(y + 1) * stride).unwrap_or(&[]);
                for x in 0..wu {
                    let bit = x * bits as usize;
                    let byte = row.get(bit / 8).copied().unwrap_or(0);
                    let idx = ((byte >> (8 - bits as usize - bit % 8)) as usize) & (n - 1);
                    data.extend([(map[idx] >> 8) as u8, (map[n + idx] >> 8) as u8, (map[2 * n + idx] >> 8) as u8]);
                }
            }
            Raster { width: w, height: h, kind: RasterKind::Rgb, data }
        }
        (ct, _) => {
            return Err(Failure::bad(
                "tiff-unsupported",
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
        return Err(Failure::bad("truncated-tiff", "the TIFF page has fewer pixels than its header says"));
    }
    let info = PageInfo {
        width: w,
        height: h,
        dpi: dpi.map(|(x, y)| (x, y, "file")),
        colour: raster.colour(),
        encoding: SourceEncoding::Raw,
    };
    Ok((info, raster))
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

pub(super) fn inspect(b: &[u8], limits: Limits) -> Result<Vec<PageInfo>> {
    let mut d = open(b)?;
    let mut pages = Vec::new();
    loop {
        let (info, _) = read_page(&mut d, limits)?;
        pages.push(info);
        if !d.more_images() {
            break;
        }
        if pages.len() >= MAX_PAGES {
            return Err(Failure::bad("too-many-pages", format!("the TIFF claims more than {MAX_PAGES} pages")));
        }
        d.next_image().map_err(bad)?;
    }
    Ok(pages)
}

pub(super) fn load(b: &[u8], index: u32, limits: Limits) -> Result<Raster> {
    let mut d = open(b)?;
    d.seek_to_image(index as usize).map_err(bad)?;
    read_page(&mut d, limits).map(|(_, r)| r)
}
