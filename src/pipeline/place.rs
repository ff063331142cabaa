//! From a page's normalization record to an encoded page and its placement on the PDF page: geometry
//! goes into pixels only when the page is re-encoded anyway (a text page made 1-bit is straightened
//! in its bits, its crop taken before binarization); every other page keeps its bytes and gets the
//! crop, turn and straightening in the PDF (`Placement`).

use crate::bundle::Placement;
use crate::encode::{self, EncodedPage, Facts, PixelTurn};
use crate::error::Result;
use crate::normalize::{PageNormalization, geometry};
use crate::pages::{PageImage, Raster, RasterKind};
use crate::profile::Output;
use crate::util::metrics::{self, Stage};

/// A page ready for `PdfWriter::add_placed_page`.
pub struct Placed {
    /// The images.
    pub encoded: EncodedPage,
    /// Its geometry in the PDF.
    pub placement: Placement,
    /// The resolution the images are placed at (changed when downsampled).
    pub dpi: (f64, f64),
    /// What the encoder decided.
    pub facts: Facts,
    /// Where each part of the geometry was done, for the record: `pixels` or `pdf` when all of it went
    /// one way, else e.g. `crop in pixels, deskew in pdf`; `None` without geometry.
    pub geometry: Option<String>,
}

/// Clockwise quarter turns and mirror of an EXIF orientation (1–8).
pub fn exif_turns(orientation: u8) -> u8 {
    match orientation {
        3 | 4 => 2,
        6 | 7 => 1,
        5 | 8 => 3,
        _ => 0,
    }
}

/// Encodes a page and places it: `raster` is its decoded pixels (when any step needed them), `gray` their
/// lightness when the page is in colour (computed once for analysis), `norm` what analysis found (in
/// the scan's pixels).
pub fn place_page(
    image: PageImage,
    raster: Option<Raster>,
    gray: Option<Raster>,
    norm: &PageNormalization,
    (dpi_x, dpi_y): (f64, f64),
    output: &Output,
    exif: u8,
) -> Result<Placed> {
    let (full_w, full_h) = image_size(&image, raster.as_ref());
    let mut dpi = (dpi_x, dpi_y);
    let mut crop = norm.crop;
    // Packed 1-bit pixels are neither cropped nor resampled here: their geometry goes into the PDF.
    let pixels = raster.as_ref().is_some_and(|r| matches!(r.kind, RasterKind::Gray | RasterKind::Rgb));
    let resample = pixels && output.resamples(dpi_x);
    let reencoded = pixels && (resample || output.colour_mode.decides());
    let pixel_crop = if reencoded { norm.crop } else { None };
    let (mut image, mut raster, mut gray) = (image, raster, gray);
    // Pixels are cropped (and downsampled) here only when the page is re-encoded anyway.
    if let (true, Some(r)) = (reencoded, raster.take()) {
        let _rotating = metrics::time(Stage::Rotate);
        let mut r = match crop.take() {
            Some(c) => {
                gray = gray.map(|g| geometry::crop(&g, c));
                geometry::crop(&r, c)
            }
            None => r,
        };
        if resample {
            gray = None;
            let scale = output.target_dpi as f64 / dpi_x;
            r = geometry::downsample(&r, scale);
            dpi = (output.target_dpi as f64, dpi_y * scale);
            image = PageImage::Raster(r.clone());
        }
        raster = Some(r);
    }
    // The page keeps its paper size when straightened: corners turned out of it are cut off, corners
    // turned into it are painted the paper's colour (no wedge, no page grown past A4).
    let grow = [0; 4];
    let paper = (norm.deskew != 0.0).then(|| raster.as_ref().map(paper_colour)).flatten();
    let turn =
        (norm.deskew != 0.0 && !matches!(exif, 2 | 4 | 5 | 7)).then_some(PixelTurn { degrees: norm.deskew, grow });
    let (encoded, facts) = encode::encode_page(image, raster, gray, output, dpi.0, turn)?;
    let in_pixels = facts.deskewed;
    // A photo page whose JPEG was kept as it is: its crop goes back into the PDF.
    let base = match &encoded {
        EncodedPage::Single(i) => (i.width, i.height),
        EncodedPage::Layered { base, .. } => (base.width, base.height),
    };
    let cropped_in_pixels = pixel_crop.is_some() && base != (full_w, full_h);
    if pixel_crop.is_some() && !cropped_in_pixels {
        crop = pixel_crop;
    }
    let placement = Placement {
        crop: crop.map(|c| c.map(|v| v as f64)),
        grow: if in_pixels { [0.0; 4] } else { grow.map(|v| v as f64) },
        degrees: if in_pixels { 0.0 } else { norm.deskew },
        turns: norm.turns,
        mirror: matches!(exif, 2 | 4 | 5 | 7),
        paper: if in_pixels { None } else { paper },
    };
    let mut parts = Vec::new();
    if norm.crop.is_some() {
        parts.push(("crop", if cropped_in_pixels { "pixels" } else { "pdf" }));
    }
    if norm.deskew != 0.0 {
        parts.push(("deskew", if in_pixels { "pixels" } else { "pdf" }));
    }
    if norm.turns != 0 {
        parts.push(("turn", "pdf"));
    }
    let geometry = match parts.first() {
        None => None,
        Some((_, way)) if parts.iter().all(|(_, w)| w == way) => Some(way.to_string()),
        Some(_) => Some(parts.iter().map(|(what, way)| format!("{what} in {way}")).collect::<Vec<_>>().join(", ")),
    };
    Ok(Placed { encoded, placement, dpi, facts, geometry })
}

/// The paper's colour: the mean of the brightest fifth of a sparse sample of the page.
fn paper_colour(r: &Raster) -> [u8; 3] {
    let (w, h) = (r.width as usize, r.height as usize);
    let mut samples: Vec<[u8; 3]> = Vec::new();
    for y in (0..h).step_by(7) {
        for x in (0..w).step_by(7) {
            let i = y * w + x;
            samples.push(match r.kind {
                RasterKind::Rgb => [r.data[i * 3], r.data[i * 3 + 1], r.data[i * 3 + 2]],
                RasterKind::Gray => [r.data[i]; 3],
                _ => [255; 3],
            });
        }
    }
    if samples.is_empty() {
        return [255; 3];
    }
    samples.sort_by_key(|p| std::cmp::Reverse(crate::pages::rgb_luma(p)));
    let top = &samples[..samples.len().div_ceil(5)];
    let mean = |k: usize| (top.iter().map(|p| u32::from(p[k])).sum::<u32>() / top.len() as u32) as u8;
    [mean(0), mean(1), mean(2)]
}

fn image_size(image: &PageImage, raster: Option<&Raster>) -> (u32, u32) {
    if let Some(r) = raster {
        return (r.width, r.height);
    }
    match image {
        PageImage::Raster(r) | PageImage::Png { raster: r, .. } => (r.width, r.height),
        PageImage::Jpeg { width, height, .. } | PageImage::G4 { width, height, .. } => (*width, *height),
    }
}
