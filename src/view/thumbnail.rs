//! Page thumbnails for the web page: a small JPEG of one page of a stored original, made on first
//! request and cached under `<data>/thumbnails/` (derived data: deleting the folder only costs time).

use std::fs;
use std::path::{Path, PathBuf};

use image::{DynamicImage, GrayImage, RgbImage};

use crate::error::{Code, Failure, Result};
use crate::pages::{self, Limits, PageImage, Raster, RasterKind};
use crate::store::BlobStore;

/// The longest edge of a thumbnail, in pixels: a page readable enough to recognise, small enough that
/// a case page with fifty of them loads at once.
pub const EDGE: u32 = 256;

/// The longest edge of a page opened large, in pixels: an A4 page at about 140 dpi, enough to read
/// ordinary print and handwriting when deciding which case a scan belongs to.
pub const LARGE_EDGE: u32 = 1600;

/// The longest edge of a page drawn for a search hit: the words marked on it can be read.
pub const SHOWN_EDGE: u32 = 720;

/// Makes and caches thumbnails.
#[derive(Clone)]
pub struct Thumbnails {
    dir: PathBuf,
}

impl Thumbnails {
    /// Thumbnails cached under `<data_dir>/thumbnails`.
    pub fn new(data_dir: &Path) -> Thumbnails {
        Thumbnails { dir: data_dir.join("thumbnails") }
    }

    /// The JPEG of page `index` (0-based) of the stored file `sha256`, its longest edge at most `edge`
    /// ([`EDGE`] for a thumbnail, [`LARGE_EDGE`] to read it); `None` for a page of a born-digital PDF,
    /// which is never rasterized. Blocking: call from a blocking thread.
    pub fn get(
        &self,
        blobs: &dyn BlobStore,
        sha256: &str,
        index: u32,
        edge: u32,
        limits: Limits,
    ) -> Result<Option<Vec<u8>>> {
        let shard = sha256.get(..2).unwrap_or("00");
        let name = if edge == EDGE { format!("{sha256}-{index}.jpg") } else { format!("{sha256}-{index}-{edge}.jpg") };
        let path = self.dir.join(shard).join(name);
        if let Ok(cached) = fs::read(&path) {
            return Ok(Some(cached));
        }
        let bytes = blobs.read_all(sha256)?;
        let Some(page) = pages::load(&bytes, index, limits)? else { return Ok(None) };
        drop(bytes);
        let jpeg = thumbnail(&page, edge)?;
        cache(&path, &jpeg);
        Ok(Some(jpeg))
    }
}

impl Thumbnails {
    /// The JPEG of page `page_no` (1-based) of the stored PDF `sha256` as a reader shows it — turned,
    /// cropped and straightened as the PDF places its scan — with its longest edge at most
    /// [`SHOWN_EDGE`]: what a search hit's boxes (shares of the shown page) are drawn on. Drawn by poppler's
    /// `pdftoppm`, the program OCR draws pages with. Blocking.
    pub fn pdf_page(&self, blobs: &dyn BlobStore, sha256: &str, page_no: u32) -> Result<Vec<u8>> {
        let shard = sha256.get(..2).unwrap_or("00");
        let path = self.dir.join(shard).join(format!("{sha256}-p{page_no}-{SHOWN_EDGE}.jpg"));
        if let Ok(cached) = fs::read(&path) {
            return Ok(cached);
        }
        let scratch = |e: std::io::Error| Failure::transient("drawing a page thumbnail", e);
        let dir = tempfile::Builder::new().prefix("sohoa-thumb-").tempdir().map_err(scratch)?;
        let pdf = dir.path().join("document.pdf");
        fs::write(&pdf, blobs.read_all(sha256)?).map_err(scratch)?;
        let out = dir.path().join("page");
        let done = crate::util::child::run(
            std::process::Command::new("pdftoppm")
                .args(["-jpeg", "-jpegopt", "quality=80", "-singlefile", "-scale-to"])
                .arg(SHOWN_EDGE.to_string())
                .args(["-f", &page_no.to_string(), "-l", &page_no.to_string()])
                .arg(&pdf)
                .arg(&out),
            std::time::Duration::from_secs(60),
        )
        .map_err(|e| Failure::transient("drawing a page thumbnail", anyhow::anyhow!("pdftoppm {e} (poppler-utils)")))?;
        let jpeg = fs::read(out.with_extension("jpg")).map_err(|_| {
            Failure::bad(Code::Thumbnail, format!("the PDF has no page {page_no} to draw ({})", done.said()))
        })?;
        cache(&path, &jpeg);
        Ok(jpeg)
    }
}

/// Keeps a thumbnail for the next request. The cache is an optimisation: failing to write it is not
/// the caller's problem.
fn cache(path: &Path, jpeg: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = path
        .parent()
        .map(fs::create_dir_all)
        .unwrap_or(Ok(()))
        .and_then(|_| fs::write(&tmp, jpeg))
        .and_then(|_| fs::rename(&tmp, path));
    if let Err(e) = written {
        tracing::debug!(path = %path.display(), error = %e, "thumbnail not cached");
        let _ = fs::remove_file(&tmp);
    }
}

/// A page image as a JPEG whose longest edge is at most `edge`.
fn thumbnail(page: &PageImage, edge: u32) -> Result<Vec<u8>> {
    let raster = crate::encode::pixels(page)
        .ok_or_else(|| Failure::bad(Code::Undecodable, "the page's image could not be decoded for a thumbnail"))?;
    let full = raster_image(raster)?;
    let (w, h) = (full.width().max(1), full.height().max(1));
    let scale = f64::from(edge) / f64::from(w.max(h));
    let (tw, th) = if scale < 1.0 {
        (((f64::from(w) * scale).round() as u32).max(1), ((f64::from(h) * scale).round() as u32).max(1))
    } else {
        (w, h)
    };
    let small = match full {
        DynamicImage::ImageLuma8(g) => DynamicImage::ImageLuma8(image::imageops::thumbnail(&g, tw, th)),
        other => DynamicImage::ImageRgb8(image::imageops::thumbnail(&other.into_rgb8(), tw, th)),
    };
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode_image(&small)
        .map_err(|e| Failure::bad(Code::Thumbnail, format!("could not encode the thumbnail: {e}")))?;
    Ok(out)
}

fn raster_image(r: Raster) -> Result<DynamicImage> {
    let (w, h) = (r.width, r.height);
    let bad = || Failure::bad(Code::Undecodable, "the page's pixels do not match its size");
    Ok(match r.kind {
        RasterKind::Gray => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, r.data).ok_or_else(bad)?),
        RasterKind::Rgb => DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, r.data).ok_or_else(bad)?),
        RasterKind::Cmyk => {
            let rgb: Vec<u8> = r
                .data
                .chunks_exact(4)
                .flat_map(|p| {
                    let k = 255 - u16::from(p[3]);
                    [0, 1, 2].map(|i| ((255 - u16::from(p[i])) * k / 255) as u8)
                })
                .collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, rgb).ok_or_else(bad)?)
        }
        RasterKind::Bitonal => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, r.luma()).ok_or_else(bad)?),
    })
}
