//! Page normalization: what a profile asks to be done to a page's pixels — dark borders off, blank
//! pages judged, pages turned upright and straightened, the colour mode chosen (bitonal text, gray,
//! colour, or mixed: bitonal text with the regions where colour matters kept as small colour images),
//! text binarized and despeckled, resolution brought down to the profile's target.
//!
//! `analyse` looks at a page and says what it found (`PageNormalization`, the page's record);
//! `colour::classify` builds the layers; `geometry` does crops and turns in pixels for pages that are
//! re-encoded anyway. Nothing here writes files or knows about PDFs.

pub mod analyse;
pub mod binarize;
pub mod blank;
pub mod border;
pub mod colour;
pub mod deskew;
pub mod geometry;
pub mod orientation;
pub mod osd;

pub use analyse::{PageNormalization, Steps, analyse};
pub use blank::is_blank;
pub use colour::{ColourMode, Layered, classify};

use crate::pages::{Raster, RasterKind};

/// Luminance (0 black – 255 white) of one pixel of any raster layout (analysis converts a page to
/// gray once, `Raster::gray`, and then this is one index).
#[inline]
pub fn luma_at(r: &Raster, x: usize, y: usize) -> u8 {
    let w = r.width as usize;
    let i = y * w + x;
    match r.kind {
        RasterKind::Gray => r.data[i],
        RasterKind::Rgb => crate::pages::rgb_luma(&r.data[i * 3..i * 3 + 3]),
        RasterKind::Bitonal => {
            if r.data[y * w.div_ceil(8) + x / 8] & (0x80 >> (x % 8)) != 0 {
                0
            } else {
                255
            }
        }
        RasterKind::Cmyk => crate::pages::cmyk_luma(&r.data[i * 4..i * 4 + 4]),
    }
}

/// Where the ink is, sampled at about 100 dpi: what skew and orientation read text lines from.
pub struct InkGrid {
    /// Samples across.
    pub width: usize,
    /// Samples down.
    pub height: usize,
    /// Pixels per sample.
    pub step: usize,
    /// Row-major: clearly darker than the paper around it (below 70% of the local paper level, so
    /// faint print and an unevenly lit page still show their lines, bleed-through does not).
    pub ink: Vec<bool>,
}

impl InkGrid {
    /// `None` for pages too small, with almost no ink, or mostly ink (photos): nothing to read lines from.
    pub fn of(r: &Raster, dpi: f64) -> Option<InkGrid> {
        InkGrid::sampled(r, dpi, 100.0)
    }

    /// The same, sampled at about `per_inch` samples an inch (orientation reads letters, which need
    /// finer samples than lines do).
    pub fn sampled(r: &Raster, dpi: f64, per_inch: f64) -> Option<InkGrid> {
        let (w, h) = (r.width as usize, r.height as usize);
        let step = ((dpi / per_inch).round() as usize).clamp(1, 8).min(w / 64).max(1);
        let (sw, sh) = (w / step, h / step);
        if sw < 32 || sh < 32 {
            return None;
        }
        let mut small = Vec::with_capacity(sw * sh);
        for y in 0..sh {
            for x in 0..sw {
                small.push(luma_at(r, x * step, y * step));
            }
        }
        // The local paper: the brightest sample of each 16×16 cell and its neighbours.
        const CELL: usize = 16;
        let (cw, ch) = (sw.div_ceil(CELL), sh.div_ceil(CELL));
        let mut cell_max = vec![0u8; cw * ch];
        for y in 0..sh {
            for x in 0..sw {
                let c = &mut cell_max[(y / CELL) * cw + x / CELL];
                *c = (*c).max(small[y * sw + x]);
            }
        }
        let mut paper = vec![0u8; cw * ch];
        for cy in 0..ch {
            for cx in 0..cw {
                let mut m = 0u8;
                for ny in cy.saturating_sub(1)..(cy + 2).min(ch) {
                    for nx in cx.saturating_sub(1)..(cx + 2).min(cw) {
                        m = m.max(cell_max[ny * cw + nx]);
                    }
                }
                paper[cy * cw + cx] = m;
            }
        }
        let ink: Vec<bool> = (0..sw * sh)
            .map(|i| {
                let (x, y) = (i % sw, i / sw);
                (small[i] as u32) * 10 < paper[(y / CELL) * cw + x / CELL] as u32 * 7
            })
            .collect();
        let share = ink.iter().filter(|b| **b).count() as f64 / ink.len() as f64;
        (0.002..0.4).contains(&share).then_some(InkGrid { width: sw, height: sh, step, ink })
    }

    /// The ink samples as (x, y).
    pub fn points(&self) -> Vec<(f64, f64)> {
        self.ink
            .iter()
            .enumerate()
            .filter(|(_, v)| **v)
            .map(|(i, _)| ((i % self.width) as f64, (i / self.width) as f64))
            .collect()
    }
}
