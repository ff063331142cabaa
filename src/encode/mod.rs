//! Encoding page images for the PDF, lossless first.
//!
//! A JPEG or G4 stream that needs no pixel change goes through byte for byte; 1-bit pixels become
//! CCITT G4; other pixels become Flate at a fast level or JPEG, as the profile says. The result names
//! its encoding so the page record can say what happened to it.

mod g4;

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::error::{Failure, Result};
use crate::pages::{PageImage, Raster, RasterKind};
use crate::profile::{ContoneEncoding, Output};

pub use g4::encode_g4;

/// PDF colour spaces sohoa writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourSpace {
    /// DeviceGray (also 1-bit pages).
    Gray,
    /// DeviceRGB.
    Rgb,
    /// DeviceCMYK.
    Cmyk,
}

/// PDF stream filters sohoa writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// JPEG.
    Dct,
    /// CCITT Group 4 (`K = -1`).
    Ccitt {
        /// The stream's `/BlackIs1`.
        black_is_1: bool,
    },
    /// zlib.
    Flate,
}

/// An image ready to become a PDF image XObject.
#[derive(Debug, Clone)]
pub struct EncodedImage {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Colour space.
    pub colour_space: ColourSpace,
    /// Bits per component.
    pub bits: u8,
    /// How `data` is encoded.
    pub filter: Filter,
    /// `/Decode [1 0 …]` for inverted Adobe CMYK JPEGs.
    pub inverted: bool,
    /// The stream bytes.
    pub data: Vec<u8>,
    /// What happened, for the page record: `jpeg-passthrough`, `g4-passthrough`, `g4`, `flate`, `jpeg`.
    pub label: &'static str,
}

/// Encodes one page image per the profile's output policy.
pub fn encode(page: PageImage, policy: &Output) -> Result<EncodedImage> {
    Ok(match page {
        PageImage::Jpeg { data, width, height, components, inverted } => EncodedImage {
            width,
            height,
            colour_space: match components {
                1 => ColourSpace::Gray,
                4 => ColourSpace::Cmyk,
                _ => ColourSpace::Rgb,
            },
            bits: 8,
            filter: Filter::Dct,
            inverted,
            data,
            label: "jpeg-passthrough",
        },
        PageImage::G4 { data, width, height, black_is_1 } => EncodedImage {
            width,
            height,
            colour_space: ColourSpace::Gray,
            bits: 1,
            filter: Filter::Ccitt { black_is_1 },
            inverted: false,
            data,
            label: "g4-passthrough",
        },
        PageImage::Raster(r) => encode_raster(&r, policy)?,
    })
}

fn encode_raster(r: &Raster, policy: &Output) -> Result<EncodedImage> {
    let base = |colour_space, bits, filter, data, label| EncodedImage {
        width: r.width,
        height: r.height,
        colour_space,
        bits,
        filter,
        inverted: false,
        data,
        label,
    };
    Ok(match (r.kind, policy.contone) {
        (RasterKind::Bitonal, _) => base(ColourSpace::Gray, 1, Filter::Ccitt { black_is_1: false }, encode_g4(r), "g4"),
        (RasterKind::Gray, ContoneEncoding::Jpeg) => base(
            ColourSpace::Gray,
            8,
            Filter::Dct,
            jpeg(r, jpeg_encoder::ColorType::Luma, policy.jpeg_quality)?,
            "jpeg",
        ),
        (RasterKind::Rgb, ContoneEncoding::Jpeg) => {
            base(ColourSpace::Rgb, 8, Filter::Dct, jpeg(r, jpeg_encoder::ColorType::Rgb, policy.jpeg_quality)?, "jpeg")
        }
        (RasterKind::Gray, _) => {
            base(ColourSpace::Gray, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate")
        }
        (RasterKind::Rgb, _) => base(ColourSpace::Rgb, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate"),
        (RasterKind::Cmyk, _) => {
            base(ColourSpace::Cmyk, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate")
        }
    })
}

/// zlib at the given level (6 by default: level 9 costs seconds per page for a few percent).
pub fn flate(data: &[u8], level: u32) -> Result<Vec<u8>> {
    let mut e = ZlibEncoder::new(Vec::with_capacity(data.len() / 4), Compression::new(level.min(9)));
    e.write_all(data).map_err(|e| Failure::transient("compressing a page", e))?;
    e.finish().map_err(|e| Failure::transient("compressing a page", e))
}

fn jpeg(r: &Raster, ct: jpeg_encoder::ColorType, quality: u8) -> Result<Vec<u8>> {
    let (w, h) = match (u16::try_from(r.width), u16::try_from(r.height)) {
        (Ok(w), Ok(h)) => (w, h),
        _ => {
            return Err(Failure::bad("too-large", "the page is over 65,535 pixels on a side, too large for JPEG"));
        }
    };
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&r.data, w, h, ct)
        .map_err(|e| Failure::bad("encode-failed", format!("the page could not be encoded as JPEG ({e})")))?;
    Ok(out)
}
