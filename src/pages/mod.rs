//! Reading stored inputs as pages: what each page is (size, resolution, colour, encoding) and, on
//! demand, its image ready for the PDF writer.
//!
//! Nothing here touches the inbox or the database: every function takes the stored bytes of one input.
//! Every way an input can be unusable comes back as [`Failure::BadInput`] with a reason for the clerk;
//! no decoder panic escapes (decoders run behind [`guard`]).

mod jpeg;

pub use jpeg::orientation as jpeg_orientation;
mod pdf;
mod png;
mod tiff;

use crate::error::{Code, Failure, Result};

stored_words! {
    /// File formats sohoa takes, recognised by content, never by extension.
    pub enum Format {
        /// JPEG (JFIF/EXIF).
        Jpeg = "jpeg",
        /// PNG.
        Png = "png",
        /// TIFF, possibly multi-page.
        Tiff = "tiff",
        /// PDF from a scanner (image-only) or born digital.
        Pdf = "pdf",
    }
}

stored_words! {
    /// Colour of a page as stored.
    pub enum Colour {
        /// Black and white, 1 bit per pixel.
        Bitonal = "bitonal",
        /// 8-bit gray.
        Gray = "gray",
        /// RGB.
        Rgb = "rgb",
        /// CMYK.
        Cmyk = "cmyk",
        /// A born-digital PDF page, not an image.
        Native = "native",
    }
}

stored_words! {
    /// How a page's image is encoded in the input.
    pub enum SourceEncoding {
        /// A JPEG stream, which can go into the PDF byte for byte.
        Jpeg = "jpeg",
        /// CCITT Group 4 (from a scanner PDF), kept as it is.
        G4 = "g4",
        /// Pixels that must be encoded.
        Raw = "raw",
        /// A born-digital PDF page.
        Pdf = "pdf",
    }
}

stored_words! {
    /// Where a page's resolution came from: the file's own header, the PDF's placement of the image,
    /// or the profile's default (the page is flagged `no-dpi` then).
    pub enum DpiSource {
        /// The file's resolution tags.
        File = "file",
        /// The size a scanner PDF places the image at.
        Placement = "placement",
        /// Nothing said: the profile's `default_dpi`.
        Default = "default",
    }
}

/// What the split job learns about one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageInfo {
    /// Pixels (points for born-digital pages).
    pub width: u32,
    /// Pixels (points for born-digital pages).
    pub height: u32,
    /// Resolution found in the file, and where: `file` or `placement`.
    pub dpi: Option<(f64, f64, DpiSource)>,
    /// Colour as stored.
    pub colour: Colour,
    /// Encoding as stored.
    pub encoding: SourceEncoding,
}

/// How many bytes zlib data inflates to, counted and not kept, stopping just past `limit`; data that
/// ends early or is corrupt counts what came before.
pub(super) fn inflated_count(data: &[u8], limit: usize) -> usize {
    use std::io::Read;
    let mut z = flate2::read::ZlibDecoder::new(data).take(limit as u64 + 1);
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0;
    while let Ok(k) = z.read(&mut buf) {
        if k == 0 {
            break;
        }
        n += k;
    }
    n
}

/// The most pages one file may hold: a scanner never sends this many in one file, and a file that
/// claims it is damaged or hostile (ten thousand pages of one shared image would hold a worker for
/// a quarter of an hour).
pub(crate) const MAX_PAGES: usize = 5000;

/// Limits checked before anything is decoded: from headers (pixels), and while inflating (bytes).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest page, in pixels.
    pub max_pixels: u64,
    /// Most bytes a born-digital PDF's streams may inflate to, all together (a quarter of it per object
    /// stream while the PDF is opened).
    pub max_inflate: usize,
}

impl Limits {
    /// Refuses a page whose decoder would need more memory than an 8-bit colour page at the pixel limit
    /// (16-bit samples, alpha or CMYK at the largest sizes), so that one page stays within a few
    /// hundred megabytes whatever its layout.
    fn check_decoded(&self, width: u32, height: u32, bytes_per_pixel: u64) -> Result<()> {
        let need = width as u64 * height as u64 * bytes_per_pixel;
        let most = self.decode_bytes();
        if need > most {
            return Err(Failure::bad(
                Code::TooLarge,
                format!(
                    "the page is {width}×{height} pixels at {bytes_per_pixel} bytes a pixel: decoding it needs {} MB, \
                     over this station's {} MB for one page; save it as 8-bit gray or colour without transparency, \
                     or scan at a lower resolution",
                    need >> 20,
                    most >> 20
                ),
            ));
        }
        Ok(())
    }

    /// The most bytes one page's decoded pixels may take: an 8-bit colour page at `max_pixels`.
    fn decode_bytes(&self) -> u64 {
        self.max_pixels.saturating_mul(3)
    }

    /// The limits a profile sets: `output.max_pixels` and `output.max_inflate_mb`.
    pub fn new(max_pixels: u64, max_inflate_mb: u64) -> Limits {
        let mib = usize::try_from(max_inflate_mb).unwrap_or(usize::MAX >> 20);
        Limits { max_pixels, max_inflate: mib.saturating_mul(1 << 20) }
    }

    fn check(&self, width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Failure::bad(Code::EmptyImage, "the image has no pixels (width or height is 0)"));
        }
        let px = width as u64 * height as u64;
        if px > self.max_pixels {
            return Err(Failure::bad(
                Code::TooLarge,
                format!(
                    "the page is {width}×{height} pixels ({} megapixels), over this station's limit of {} \
                     megapixels; scan at a lower resolution or raise output.max_pixels",
                    px / 1_000_000,
                    self.max_pixels / 1_000_000
                ),
            ));
        }
        Ok(())
    }
}

/// A page's image, ready for the PDF writer.
#[derive(Debug, Clone)]
pub enum PageImage {
    /// JPEG bytes to embed unchanged.
    Jpeg {
        /// The JPEG stream.
        data: Vec<u8>,
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// 1, 3 or 4.
        components: u8,
        /// An Adobe CMYK JPEG stores inverted values and needs a Decode array.
        inverted: bool,
        /// The ICC profile embedded in the JPEG (APP2), if any.
        icc: Option<Vec<u8>>,
    },
    /// CCITT G4 bytes taken from a scanner PDF, embedded unchanged.
    G4 {
        /// The CCITT stream.
        data: Vec<u8>,
        /// Pixels.
        width: u32,
        /// Pixels.
        height: u32,
        /// The source's /BlackIs1.
        black_is_1: bool,
    },
    /// Decoded pixels.
    Raster(Raster),
    /// A PNG whose compressed data can go into the PDF as it is (Flate with the PNG predictor), with its
    /// decoded pixels beside it for encoders that can do better (G4 for black and white).
    Png {
        /// The decoded page.
        raster: Raster,
        /// The concatenated IDAT data: a zlib stream of predictor-filtered rows.
        idat: Vec<u8>,
        /// Bits per sample (1, 2, 4, 8).
        bits: u8,
        /// Samples per pixel in the stream (1 for gray and palette, 3 for RGB).
        colors: u8,
        /// RGB triples of a palette image.
        palette: Option<Vec<u8>>,
    },
}

/// Decoded pixels.
#[derive(Debug, Clone)]
pub struct Raster {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Layout of `data`.
    pub kind: RasterKind,
    /// Row-major samples; for bitonal, rows packed MSB first, `1` = black, each row padded to a byte.
    pub data: Vec<u8>,
}

/// Sample layout of a [`Raster`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RasterKind {
    /// 1 bit per pixel.
    Bitonal,
    /// 1 byte per pixel.
    Gray,
    /// 3 bytes per pixel.
    Rgb,
    /// 4 bytes per pixel.
    Cmyk,
}

/// Lightness (0 black) of one RGB pixel (ITU-R BT.601 weights).
#[inline]
pub fn rgb_luma(p: &[u8]) -> u8 {
    ((u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000) as u8
}

/// Lightness of one CMYK pixel, without a colour profile.
#[inline]
pub fn cmyk_luma(p: &[u8]) -> u8 {
    let ink = (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
    ((255 - ink.min(255)) * (255 - u32::from(p[3])) / 255) as u8
}

impl Raster {
    /// The same page as one byte of lightness per pixel; a gray page is borrowed as it is.
    pub fn gray(&self) -> std::borrow::Cow<'_, Raster> {
        match self.kind {
            RasterKind::Gray => std::borrow::Cow::Borrowed(self),
            _ => std::borrow::Cow::Owned(Raster {
                width: self.width,
                height: self.height,
                kind: RasterKind::Gray,
                data: self.luma(),
            }),
        }
    }

    /// One byte of lightness per pixel (0 black), whatever the layout: what readers of marks and
    /// thumbnails work on.
    pub fn luma(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        match self.kind {
            RasterKind::Gray => self.data.clone(),
            RasterKind::Rgb => self.data.chunks_exact(3).map(rgb_luma).collect(),
            RasterKind::Cmyk => self.data.chunks_exact(4).map(cmyk_luma).collect(),
            RasterKind::Bitonal => {
                let stride = w.div_ceil(8);
                let mut out = vec![255u8; w * h];
                for y in 0..h {
                    let row = &self.data[y * stride..(y * stride + stride).min(self.data.len())];
                    for x in 0..w {
                        if row.get(x / 8).is_some_and(|b| b & (0x80 >> (x % 8)) != 0) {
                            out[y * w + x] = 0;
                        }
                    }
                }
                out
            }
        }
    }

    /// Its colour class.
    pub fn colour(&self) -> Colour {
        match self.kind {
            RasterKind::Bitonal => Colour::Bitonal,
            RasterKind::Gray => Colour::Gray,
            RasterKind::Rgb => Colour::Rgb,
            RasterKind::Cmyk => Colour::Cmyk,
        }
    }

    /// Gray pages holding only pure black and pure white are bitonal: they go to G4 losslessly.
    pub fn into_bitonal_if_two_level(self) -> Raster {
        if self.kind != RasterKind::Gray || !self.data.iter().all(|v| *v == 0 || *v == 255) {
            return self;
        }
        let (w, h) = (self.width as usize, self.height as usize);
        let stride = w.div_ceil(8);
        let mut packed = vec![0u8; stride * h];
        for y in 0..h {
            let row = &self.data[y * w..(y + 1) * w];
            let out = &mut packed[y * stride..(y + 1) * stride];
            for (x, v) in row.iter().enumerate() {
                if *v == 0 {
                    out[x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        Raster { width: self.width, height: self.height, kind: RasterKind::Bitonal, data: packed }
    }
}

/// Recognises a format from the first bytes.
pub fn sniff(bytes: &[u8]) -> Result<Format> {
    if bytes.is_empty() {
        return Err(Failure::bad(
            Code::EmptyFile,
            "the file is empty (0 bytes): the scan did not complete; scan again",
        ));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(Format::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(Format::Png);
    }
    if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        return Ok(Format::Tiff);
    }
    if bytes.len() >= 5 && bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-") {
        return Ok(Format::Pdf);
    }
    Err(Failure::bad(
        Code::NotAScan,
        "the file is not a JPEG, PNG, TIFF or PDF (its content was checked, not its name); \
         set the scanner to save one of these",
    ))
}

/// Examines every page of an input. For PNG and TIFF this decodes the pixels, so an input that passes
/// cannot fail later in rendering for a reason of its own.
pub fn inspect(bytes: &[u8], limits: Limits) -> Result<(Format, Vec<PageInfo>)> {
    let format = sniff(bytes)?;
    let pages = guard(|| match format {
        Format::Jpeg => jpeg::inspect(bytes, limits).map(|p| vec![p]),
        Format::Png => png::inspect(bytes, limits).map(|p| vec![p]),
        Format::Tiff => tiff::inspect(bytes, limits),
        Format::Pdf => pdf::inspect(bytes, limits),
    })?;
    if pages.is_empty() {
        return Err(Failure::bad(Code::NoPages, "the file holds no pages"));
    }
    Ok((format, pages))
}

/// Loads page `index` of an input for the PDF writer. `None` for a born-digital PDF page, which is
/// never rasterized.
pub fn load(bytes: &[u8], index: u32, limits: Limits) -> Result<Option<PageImage>> {
    let format = sniff(bytes)?;
    guard(|| match format {
        Format::Jpeg => jpeg::load(bytes).map(Some),
        Format::Png => png::load(bytes, limits).map(Some),
        Format::Tiff => tiff::load(bytes, index, limits).map(|r| Some(PageImage::Raster(r))),
        Format::Pdf => pdf::load(bytes, index, limits),
    })
}

/// A stored file read page by page: its bytes, and a PDF's parse kept for all its pages (parsed on the
/// first page asked for, once).
pub struct PageSource {
    bytes: std::sync::Arc<Vec<u8>>,
    pdf: std::sync::OnceLock<std::result::Result<pdf::Opened, (Code, String)>>,
}

impl PageSource {
    /// A file's bytes, not parsed yet.
    pub fn new(bytes: std::sync::Arc<Vec<u8>>) -> PageSource {
        PageSource { bytes, pdf: std::sync::OnceLock::new() }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &std::sync::Arc<Vec<u8>> {
        &self.bytes
    }

    /// Page `index`, as [`load`] reads it.
    pub fn load(&self, index: u32, limits: Limits) -> Result<Option<PageImage>> {
        if sniff(&self.bytes)? != Format::Pdf {
            return load(&self.bytes, index, limits);
        }
        let opened = self.pdf.get_or_init(|| {
            guard(|| pdf::Opened::new(&self.bytes, limits)).map_err(|e| match e {
                Failure::BadInput { code, reason } => (code, reason),
                other => (Code::BrokenPdf, other.to_string()),
            })
        });
        match opened {
            Ok(o) => guard(|| o.load(index, limits)),
            Err((code, reason)) => Err(Failure::bad(*code, reason.clone())),
        }
    }
}

/// What reading a file's pages at split may take in memory, from its header: a PNG is decoded whole to
/// prove it whole and a TIFF a page at a time; a JPEG only when `read_pixels` (separator sheets are
/// looked for), and a PDF's pages are counted, not kept. 0 when the header cannot be read: the file's
/// own check says why.
pub fn split_cost(bytes: &[u8], read_pixels: bool, limits: Limits) -> u64 {
    guard(|| {
        Ok(match sniff(bytes) {
            Ok(Format::Png) => png::decoded_size(bytes),
            Ok(Format::Tiff) => tiff::decoded_size(bytes, limits),
            Ok(Format::Jpeg) if read_pixels => {
                jpeg::scan(bytes).ok().map(|h| u64::from(h.width) * u64::from(h.height) * u64::from(h.components))
            }
            _ => None,
        })
    })
    .ok()
    .flatten()
    .unwrap_or(0)
}

/// Runs a decoder so that a panic inside a dependency becomes a quarantine reason, not a crash.
fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    // Under the fuzzer a panic must surface, so that it is found and fixed rather than hidden here.
    #[cfg(fuzzing)]
    return f();
    #[cfg(not(fuzzing))]
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => Err(Failure::bad(Code::DecoderFailure, "the file is damaged in a way the decoder could not handle")),
    }
}
