//! PNG: header and pHYs read from the chunks (the image crate drops the resolution), pixels decoded by
//! the image crate.

use std::io::Cursor;

use image::{DynamicImage, ImageReader};

use super::{Limits, PageInfo, Raster, RasterKind, SourceEncoding};
use crate::error::{Code, Failure, Result};

struct Header {
    width: u32,
    height: u32,
    dpi: Option<(f64, f64)>,
    bits: u8,
    colour_type: u8,
    interlaced: bool,
    transparency: bool,
    palette: Option<Vec<u8>>,
    idat: Vec<u8>,
}

/// The most bytes a PNG's colour profile may inflate to: real ones are a few kilobytes to a megabyte.
const MAX_PROFILE: usize = 16 << 20;

fn header(b: &[u8]) -> Result<Header> {
    let mut i = 8;
    let (mut size, mut dpi, mut end) = (None, None, false);
    let (mut bits, mut colour_type, mut interlaced, mut transparency) = (8, 0, false, false);
    let (mut palette, mut idat) = (None, Vec::new());
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let kind = &b[i + 4..i + 8];
        let Some(data) = b.get(i + 8..i + 8 + len) else {
            break;
        };
        match kind {
            b"IHDR" if len >= 13 => {
                size = Some((
                    u32::from_be_bytes([data[0], data[1], data[2], data[3]]),
                    u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
                ));
                (bits, colour_type, interlaced) = (data[8], data[9], data[12] != 0);
            }
            b"PLTE" => palette = Some(data.to_vec()),
            // The decoder inflates a colour profile whole before the pixels: one that inflates past
            // what any profile needs is a bomb, refused before it is opened.
            b"iCCP" => {
                let packed = data.iter().position(|b| *b == 0).and_then(|nul| data.get(nul + 2..)).unwrap_or(&[]);
                if super::inflated_count(packed, MAX_PROFILE) > MAX_PROFILE {
                    return Err(Failure::bad(
                        Code::TooLarge,
                        "the PNG's colour profile inflates to more than 16 MB (a decompression bomb); it was not \
                         opened",
                    ));
                }
            }
            b"tRNS" => transparency = true,
            b"IDAT" => idat.extend_from_slice(data),
            b"pHYs" if len >= 9 && data[8] == 1 => {
                let x = u32::from_be_bytes([data[0], data[1], data[2], data[3]]) as f64 * 0.0254;
                let y = u32::from_be_bytes([data[4], data[5], data[6], data[7]]) as f64 * 0.0254;
                if x >= 10.0 && y >= 10.0 {
                    dpi = Some(((x * 100.0).round() / 100.0, (y * 100.0).round() / 100.0));
                }
            }
            b"IEND" => {
                end = true;
                break;
            }
            _ => {}
        }
        i += 12 + len;
    }
    let Some((width, height)) = size else {
        return Err(Failure::bad(Code::BrokenPng, "the PNG has no image header; the file is damaged"));
    };
    if !end {
        return Err(Failure::bad(
            Code::TruncatedPng,
            "the PNG is cut short (no end chunk): the copy did not finish; scan again",
        ));
    }
    Ok(Header { width, height, dpi, bits, colour_type, interlaced, transparency, palette, idat })
}

fn decode(b: &[u8], limits: Limits) -> Result<(Header, Raster)> {
    let h = header(b)?;
    limits.check(h.width, h.height)?;
    // What the decoder holds: palettes expand to colour, 16-bit samples take two bytes.
    let channels = match h.colour_type {
        0 => 1,
        2 | 3 => 3 + u64::from(h.colour_type == 3 && h.transparency),
        4 => 2,
        _ => 4,
    };
    limits.check_decoded(h.width, h.height, channels * if h.bits == 16 { 2 } else { 1 })?;
    let mut reader = ImageReader::with_format(Cursor::new(b), image::ImageFormat::Png);
    let mut l = image::Limits::default();
    // Everything the decoder allocates (an ICC profile or text chunk that inflates too) within one page.
    l.max_alloc = Some(limits.decode_bytes() + (16 << 20));
    reader.limits(l);
    let img = reader
        .decode()
        .map_err(|e| Failure::bad(Code::BrokenPng, format!("the PNG cannot be decoded ({e}); the file is damaged")))?;
    Ok((h, from_dynamic(img)))
}

/// Converts decoded pixels to the layouts PDF takes: alpha is flattened onto white paper, 16-bit
/// samples become 8-bit, two-level gray becomes bitonal.
pub(super) fn from_dynamic(img: DynamicImage) -> Raster {
    let (width, height) = (img.width(), img.height());
    let r = match img {
        DynamicImage::ImageLuma8(g) => Raster { width, height, kind: RasterKind::Gray, data: g.into_raw() },
        DynamicImage::ImageRgb8(c) => Raster { width, height, kind: RasterKind::Rgb, data: c.into_raw() },
        DynamicImage::ImageLuma16(_) => {
            Raster { width, height, kind: RasterKind::Gray, data: img.into_luma8().into_raw() }
        }
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLumaA16(_) => {
            let la = img.into_luma_alpha8();
            let data = la.pixels().map(|p| over_white(p.0[0], p.0[1])).collect();
            Raster { width, height, kind: RasterKind::Gray, data }
        }
        DynamicImage::ImageRgba8(_) | DynamicImage::ImageRgba16(_) | DynamicImage::ImageRgba32F(_) => {
            let rgba = img.into_rgba8();
            let mut data = Vec::with_capacity(width as usize * height as usize * 3);
            for p in rgba.pixels() {
                data.extend([over_white(p.0[0], p.0[3]), over_white(p.0[1], p.0[3]), over_white(p.0[2], p.0[3])]);
            }
            Raster { width, height, kind: RasterKind::Rgb, data }
        }
        other => Raster { width, height, kind: RasterKind::Rgb, data: other.into_rgb8().into_raw() },
    };
    r.into_bitonal_if_two_level()
}

fn over_white(v: u8, a: u8) -> u8 {
    ((v as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8
}

/// The bytes the decoded pixels take, from the header alone: gray (with or without alpha) one sample a
/// pixel, colour and palette three, twice that for 16-bit samples.
pub(super) fn decoded_size(b: &[u8]) -> Option<u64> {
    let h = header(b).ok()?;
    let samples = if matches!(h.colour_type, 0 | 4) { 1 } else { 3 };
    let depth = if h.bits == 16 { 2 } else { 1 };
    Some(u64::from(h.width) * u64::from(h.height) * samples * depth)
}

pub(super) fn inspect(b: &[u8], limits: Limits) -> Result<PageInfo> {
    let (h, r) = decode(b, limits)?;
    Ok(PageInfo {
        width: r.width,
        height: r.height,
        dpi: h.dpi.map(|(x, y)| (x, y, super::DpiSource::File)),
        colour: r.colour(),
        encoding: SourceEncoding::Raw,
    })
}

pub(super) fn load(b: &[u8], limits: Limits) -> Result<super::PageImage> {
    let (h, raster) = decode(b, limits)?;
    // Gray, RGB or palette, not interlaced, nothing transparent: the compressed rows can go into the
    // PDF as they are, which is both lossless and the source's own size.
    let colors = match (h.colour_type, h.bits) {
        (0, 1 | 2 | 4 | 8) | (3, 1 | 2 | 4 | 8) => 1,
        (2, 8) => 3,
        _ => 0,
    };
    if colors == 0 || h.interlaced || h.transparency || (h.colour_type == 3 && h.palette.is_none()) {
        return Ok(super::PageImage::Raster(raster));
    }
    let palette = if h.colour_type == 3 { h.palette } else { None };
    Ok(super::PageImage::Png { raster, idat: h.idat, bits: h.bits, colors, palette })
}
