//! Encoding page images for the PDF, lossless first.
//!
//! A JPEG or G4 stream that needs no pixel change goes through byte for byte; 1-bit pixels become
//! CCITT G4; other pixels become Flate at a fast level or JPEG, as the profile says. The result names
//! its encoding so the page record can say what happened to it.

mod g4;
pub mod jbig2;
pub mod jpeg_optimize;

pub use g4::decode_g4;

use std::io::Write;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use crate::error::{Code, Failure, Result};
use crate::normalize::ColourMode;
use crate::pages::{PageImage, Raster, RasterKind};
use crate::profile::{ColourPolicy, ContoneEncoding, Output, PdfKind};
use crate::util::metrics::{self, Stage};

pub use g4::encode_g4;

/// PDF colour spaces sohoa writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourSpace {
    /// DeviceGray (also 1-bit pages).
    Gray,
    /// DeviceRGB.
    Rgb,
    /// DeviceCMYK (plain PDF only: it conflicts with PDF/A's sRGB output intent).
    Cmyk,
    /// `[/Indexed /DeviceRGB …]` with these RGB triples.
    Indexed(Vec<u8>),
    /// `[/ICCBased …]`: the profile a JPEG carried, kept with it.
    Icc {
        /// Components (1 or 3).
        components: u8,
        /// The ICC profile bytes.
        profile: Vec<u8>,
    },
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
    /// Lossless JBIG2 (a generic region, embedded organization, no globals).
    Jbig2,
    /// zlib over PNG-predicted rows (a PNG's own IDAT data).
    FlatePng {
        /// Samples per pixel.
        colors: u8,
    },
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
    /// What happened, for the page record: `jpeg-passthrough`, `g4-passthrough`, `png-passthrough`, `g4`,
    /// `flate`, `jpeg`, `jpeg-from-cmyk`, `jpeg-optimized` (the same coefficients, fitted tables).
    pub label: &'static str,
    /// When `data` is a whole stored blob (a JPEG passed through), its hash: the PDF can refer to the
    /// stored bytes instead of holding a second copy.
    pub source_blob: Option<String>,
}

/// A page ready for the PDF writer: one image, or a 1-bit text layer with colour regions over it.
#[derive(Debug, Clone)]
pub enum EncodedPage {
    /// One image filling the page.
    Single(EncodedImage),
    /// A full-page G4 text layer and colour images at pixel positions (x, y from the top-left).
    Layered {
        /// The text layer.
        base: EncodedImage,
        /// Colour regions.
        overlays: Vec<(u32, u32, EncodedImage)>,
    },
}

impl EncodedPage {
    /// What happened, for the page record.
    pub fn label(&self) -> &'static str {
        match self {
            EncodedPage::Single(i) => i.label,
            EncodedPage::Layered { .. } => "mixed",
        }
    }
}

/// What the encoder decided beyond the stream itself, for the page's record.
#[derive(Debug, Default, Clone, Copy)]
pub struct Facts {
    /// The colour mode, when the page was classified.
    pub mode: Option<ColourMode>,
    /// Scanner specks taken off the 1-bit layer.
    pub specks: Option<u32>,
    /// The 1-bit layer was straightened in pixels (the PDF must not turn it again).
    pub deskewed: bool,
}

/// A turn the encoder may do in pixels when a page becomes 1-bit anyway: degrees clockwise and the
/// margins that keep the content on the page.
#[derive(Debug, Clone, Copy)]
pub struct PixelTurn {
    /// Degrees clockwise.
    pub degrees: f64,
    /// Margins added (left, top, right, bottom).
    pub grow: [usize; 4],
}

/// Encodes one page per the profile: with `colour_mode = "auto"` a page is classified first (text pages
/// to G4, seals kept as colour images), otherwise as scanned, lossless first. `decoded` is the page's
/// pixels when the caller has them already (a JPEG is then not decoded a second time), `gray` their
/// lightness when the caller has it; `dpi` scales the binarization window and the despeckle; `turn`
/// straightens a page that becomes 1-bit.
pub fn encode_page(
    page: PageImage,
    decoded: Option<Raster>,
    gray: Option<Raster>,
    policy: &Output,
    dpi: f64,
    turn: Option<PixelTurn>,
) -> Result<(EncodedPage, Facts)> {
    let mut facts = Facts::default();
    if !policy.colour_mode.decides() {
        let _encoding = metrics::time(Stage::Encode);
        return Ok((encode(page, policy).map(EncodedPage::Single)?, facts));
    }
    // A G4 page stays G4 (it is 1-bit already): decoding it here would only be thrown away.
    let raster = decoded.or_else(|| if matches!(page, PageImage::G4 { .. }) { None } else { pixels(&page) });
    let Some(raster) = raster.filter(|r| matches!(r.kind, RasterKind::Gray | RasterKind::Rgb)) else {
        let _encoding = metrics::time(Stage::Encode);
        return Ok((encode(page, policy).map(EncodedPage::Single)?, facts));
    };
    let binarizing = metrics::time(Stage::Binarize);
    let luma =
        gray.as_ref().filter(|g| (g.width, g.height) == (raster.width, raster.height)).map(|g| g.data.as_slice());
    let (mode, layers, raster) = match policy.colour_mode {
        ColourPolicy::Gray => {
            // Forced gray: the page's lightness, encoded as a contone page.
            let gray = match gray.filter(|g| (g.width, g.height) == (raster.width, raster.height)) {
                Some(g) => g,
                None => raster.gray().into_owned(),
            };
            (ColourMode::Gray, None, gray)
        }
        forced => {
            let (mode, layers) = crate::normalize::classify(&raster, luma, dpi, forced == ColourPolicy::Bitonal);
            (mode, layers, raster)
        }
    };
    drop(binarizing);
    facts.mode = Some(mode);
    facts.specks = layers.as_ref().map(|l| l.specks);
    let encoded = match (mode, layers) {
        (ColourMode::Bitonal, Some(l)) => {
            let mut text = l.text;
            if let Some(t) = turn {
                let _rotating = metrics::time(Stage::Rotate);
                let bits = crate::normalize::binarize::Bits {
                    width: text.width as usize,
                    height: text.height as usize,
                    data: text.data,
                };
                let turned = crate::normalize::geometry::rotate_bits(&bits, t.degrees, t.grow);
                text = Raster {
                    width: turned.width as u32,
                    height: turned.height as u32,
                    kind: RasterKind::Bitonal,
                    data: turned.data,
                };
                facts.deskewed = true;
            }
            let _encoding = metrics::time(Stage::Encode);
            let g4 = encode_g4(&text);
            EncodedPage::Single(raw_image(
                &text,
                ColourSpace::Gray,
                1,
                Filter::Ccitt { black_is_1: false },
                g4,
                "bitonal-g4",
            ))
        }
        (ColourMode::Mixed, Some(l)) => {
            let _encoding = metrics::time(Stage::Encode);
            let base = bitonal(&l.text, policy, "mixed", "mixed");
            let quality = policy.jpeg_quality.max(85);
            let overlays = l
                .regions
                .iter()
                .map(|(x, y, r)| {
                    let j = jpeg(r, jpeg_encoder::ColorType::Rgb, quality)?;
                    Ok((*x, *y, raw_image(r, ColourSpace::Rgb, 8, Filter::Dct, j, "jpeg")))
                })
                .collect::<Result<Vec<_>>>()?;
            EncodedPage::Layered { base, overlays }
        }
        // Photos and gray art: a JPEG source is kept (unless the profile forces gray), pixels become JPEG.
        _ if matches!(page, PageImage::Jpeg { .. }) && policy.colour_mode != ColourPolicy::Gray => {
            let _encoding = metrics::time(Stage::Encode);
            encode(page, policy).map(EncodedPage::Single)?
        }
        _ => {
            let _encoding = metrics::time(Stage::Encode);
            let lossy =
                Output { contone: ContoneEncoding::Jpeg, jpeg_quality: policy.jpeg_quality.max(85), ..policy.clone() };
            encode_raster(&raster, &lossy).map(EncodedPage::Single)?
        }
    };
    Ok((encoded, facts))
}

/// The page's pixels, decoding a JPEG or a G4 stream (1-bit, for the page's judgements and readers)
/// when needed; `None` for a stream the decoder cannot read at the size its header gives.
pub fn pixels(page: &PageImage) -> Option<Raster> {
    match page {
        PageImage::Raster(r) => Some(r.clone()),
        PageImage::Png { raster, .. } => Some(raster.clone()),
        PageImage::Jpeg { data, width, height, .. } => {
            let pixels = image::load_from_memory_with_format(data, image::ImageFormat::Jpeg).ok()?;
            // A decoder that finds another size than the header said has not read what was walked.
            if (pixels.width(), pixels.height()) != (*width, *height) {
                return None;
            }
            Some(match pixels.color() {
                image::ColorType::L8 => Raster {
                    width: *width,
                    height: *height,
                    kind: RasterKind::Gray,
                    data: pixels.into_luma8().into_raw(),
                },
                _ => Raster {
                    width: *width,
                    height: *height,
                    kind: RasterKind::Rgb,
                    data: pixels.into_rgb8().into_raw(),
                },
            })
        }
        PageImage::G4 { data, width, height, black_is_1 } => decode_g4(data, *width, *height, *black_is_1),
    }
}

/// Encodes one page image per the profile's output policy, lossless first: a source stream that needs no
/// pixel change is used as it is; a re-encoding is used only when it is smaller or the policy asks for it.
pub fn encode(page: PageImage, policy: &Output) -> Result<EncodedImage> {
    let archival = policy.pdf != PdfKind::Plain;
    Ok(match page {
        PageImage::Jpeg { data, width, height, components: 4, .. } if archival => {
            // DeviceCMYK conflicts with the sRGB output intent: re-encode as RGB (exempt from never-larger).
            let rgb = image::load_from_memory_with_format(&data, image::ImageFormat::Jpeg)
                .map_err(|e| Failure::bad(Code::BrokenJpeg, format!("the CMYK JPEG cannot be decoded ({e})")))?
                .to_rgb8();
            let r = Raster { width, height, kind: RasterKind::Rgb, data: rgb.into_raw() };
            let jpeg = jpeg(&r, jpeg_encoder::ColorType::Rgb, policy.jpeg_quality.max(90))?;
            raw_image(&r, ColourSpace::Rgb, 8, Filter::Dct, jpeg, "jpeg-from-cmyk")
        }
        PageImage::Jpeg { data, width, height, components, inverted, icc } => {
            // With `optimize_jpeg`, the same coefficients coded with tables fitted to the page.
            let (data, label) = match policy.optimize_jpeg.then(|| jpeg_optimize::optimize(&data)).flatten() {
                Some(smaller) => (smaller, "jpeg-optimized"),
                None => (data, "jpeg-passthrough"),
            };
            EncodedImage {
                width,
                height,
                colour_space: match (components, icc) {
                    (1 | 3, Some(profile)) if icc_allowed(&profile, components, policy.pdf) => {
                        ColourSpace::Icc { components, profile }
                    }
                    (1, _) => ColourSpace::Gray,
                    (4, _) => ColourSpace::Cmyk,
                    _ => ColourSpace::Rgb,
                },
                bits: 8,
                filter: Filter::Dct,
                inverted,
                data,
                label,
                source_blob: None,
            }
        }
        PageImage::G4 { data, width, height, black_is_1 } => {
            // With `jbig2`, the same pixels as lossless JBIG2 when that is smaller.
            let smaller = policy
                .jbig2
                .then(|| decode_g4(&data, width, height, black_is_1))
                .flatten()
                .map(|r| (jbig2::encode(r.width, r.height, &r.data), r))
                .filter(|(j, _)| j.len() < data.len());
            match smaller {
                Some((j, r)) => raw_image(&r, ColourSpace::Gray, 1, Filter::Jbig2, j, "jbig2"),
                None => EncodedImage {
                    width,
                    height,
                    colour_space: ColourSpace::Gray,
                    bits: 1,
                    filter: Filter::Ccitt { black_is_1 },
                    inverted: false,
                    data,
                    label: "g4-passthrough",
                    source_blob: None,
                },
            }
        }
        PageImage::Png { raster, idat, bits, colors, palette } => {
            let lossy = policy.contone == ContoneEncoding::Jpeg && raster.kind != RasterKind::Bitonal;
            if lossy {
                return encode_raster(&raster, policy);
            }
            if raster.kind == RasterKind::Bitonal {
                let coded = bitonal(&raster, policy, "g4", "jbig2");
                if coded.data.len() <= idat.len() {
                    return Ok(coded);
                }
            }
            let space = match (palette, colors) {
                (Some(p), _) => ColourSpace::Indexed(p),
                (None, 1) => ColourSpace::Gray,
                _ => ColourSpace::Rgb,
            };
            raw_image(&raster, space, bits, Filter::FlatePng { colors }, idat, "png-passthrough")
        }
        PageImage::Raster(r) if r.kind == RasterKind::Cmyk && archival => encode_raster(&cmyk_to_rgb(&r), policy)?,
        PageImage::Raster(r) => encode_raster(&r, policy)?,
    })
}

/// An embedded profile is kept when it is a whole ICC profile of the image's colour model, and of
/// version 2 when the file is PDF/A-1 (PDF 1.4 knows no later ICC version); otherwise the device space
/// is used, the JPEG bytes untouched either way.
fn icc_allowed(profile: &[u8], components: u8, pdf: PdfKind) -> bool {
    let space: &[u8] = if components == 1 { b"GRAY" } else { b"RGB " };
    profile.len() > 128
        && profile.get(36..40) == Some(b"acsp")
        && profile.get(16..20) == Some(space)
        && (pdf != PdfKind::PdfA1b || profile.get(8).is_some_and(|v| *v <= 2))
}

/// A 1-bit page as CCITT G4, or — with the profile's `jbig2` — as lossless JBIG2 when that is smaller.
fn bitonal(r: &Raster, policy: &Output, g4_label: &'static str, jbig2_label: &'static str) -> EncodedImage {
    let g4 = encode_g4(r);
    if policy.jbig2 {
        let j = jbig2::encode(r.width, r.height, &r.data);
        if j.len() < g4.len() {
            return raw_image(r, ColourSpace::Gray, 1, Filter::Jbig2, j, jbig2_label);
        }
    }
    raw_image(r, ColourSpace::Gray, 1, Filter::Ccitt { black_is_1: false }, g4, g4_label)
}

fn raw_image(
    r: &Raster,
    colour_space: ColourSpace,
    bits: u8,
    filter: Filter,
    data: Vec<u8>,
    label: &'static str,
) -> EncodedImage {
    EncodedImage {
        width: r.width,
        height: r.height,
        colour_space,
        bits,
        filter,
        inverted: false,
        data,
        label,
        source_blob: None,
    }
}

/// Naive CMYK → RGB (no ICC): enough for scans, whose CMYK is rare and already device-dependent.
fn cmyk_to_rgb(r: &Raster) -> Raster {
    let data = r
        .data
        .chunks_exact(4)
        .flat_map(|p| {
            let k = 255 - p[3] as u32;
            [0, 1, 2].map(|i| ((255 - p[i] as u32) * k / 255) as u8)
        })
        .collect();
    Raster { width: r.width, height: r.height, kind: RasterKind::Rgb, data }
}

fn encode_raster(r: &Raster, policy: &Output) -> Result<EncodedImage> {
    Ok(match (r.kind, policy.contone) {
        (RasterKind::Bitonal, _) => bitonal(r, policy, "g4", "jbig2"),
        (RasterKind::Gray, ContoneEncoding::Jpeg) => raw_image(
            r,
            ColourSpace::Gray,
            8,
            Filter::Dct,
            jpeg(r, jpeg_encoder::ColorType::Luma, policy.jpeg_quality)?,
            "jpeg",
        ),
        (RasterKind::Rgb, ContoneEncoding::Jpeg) => raw_image(
            r,
            ColourSpace::Rgb,
            8,
            Filter::Dct,
            jpeg(r, jpeg_encoder::ColorType::Rgb, policy.jpeg_quality)?,
            "jpeg",
        ),
        (RasterKind::Gray, _) => {
            raw_image(r, ColourSpace::Gray, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate")
        }
        (RasterKind::Rgb, _) => {
            raw_image(r, ColourSpace::Rgb, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate")
        }
        (RasterKind::Cmyk, _) => {
            raw_image(r, ColourSpace::Cmyk, 8, Filter::Flate, flate(&r.data, policy.flate_level)?, "flate")
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
            return Err(Failure::bad(Code::TooLarge, "the page is over 65,535 pixels on a side, too large for JPEG"));
        }
    };
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(&r.data, w, h, ct)
        .map_err(|e| Failure::bad(Code::EncodeFailed, format!("the page could not be encoded as JPEG ({e})")))?;
    Ok(out)
}
