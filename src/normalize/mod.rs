//! Page normalization: decisions about a page's pixels that a profile asks for. Today: the colour
//! mode — bitonal text, gray, colour, or mixed (bitonal text with the regions where colour matters, a red
//! seal or a signature, kept as small colour images).

pub mod colour;
pub mod deskew;
pub mod orientation;

pub use colour::{ColourMode, Layered, classify};

pub mod blank;

pub use blank::is_blank;

use crate::pages::{Raster, RasterKind};

/// Luminance (0 black – 255 white) of one pixel of any raster layout; CMYK without a profile.
pub fn luma_at(r: &Raster, x: usize, y: usize) -> u8 {
    let w = r.width as usize;
    let i = y * w + x;
    match r.kind {
        RasterKind::Gray => r.data[i],
        RasterKind::Rgb => {
            let p = &r.data[i * 3..i * 3 + 3];
            ((p[0] as u32 * 299 + p[1] as u32 * 587 + p[2] as u32 * 114) / 1000) as u8
        }
        RasterKind::Bitonal => {
            if r.data[y * w.div_ceil(8) + x / 8] & (0x80 >> (x % 8)) != 0 {
                0
            } else {
                255
            }
        }
        RasterKind::Cmyk => {
            let p = &r.data[i * 4..i * 4 + 4];
            let k = 255 - p[3] as u32;
            let [c, m, yy] = [0, 1, 2].map(|n| (255 - p[n] as u32) * k / 255);
            ((c * 299 + m * 587 + yy * 114) / 1000) as u8
        }
    }
}

/// Where the ink is, at a quarter of the resolution: what skew and orientation read text lines from.
pub struct InkGrid {
    /// Samples across.
    pub width: usize,
    /// Samples down.
    pub height: usize,
    /// Row-major: clearly darker than the paper (the 75th percentile of the page).
    pub ink: Vec<bool>,
}

impl InkGrid {
    /// `None` for pages too small, with almost no ink, or mostly ink (photos): nothing to read lines from.
    pub fn of(r: &Raster) -> Option<InkGrid> {
        let (w, h) = (r.width as usize, r.height as usize);
        let step = 4usize.min(w / 64).max(1);
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
        let mut sorted = small.clone();
        sorted.sort_unstable();
        let paper = sorted[sorted.len() * 3 / 4] as i32;
        let ink: Vec<bool> = small.iter().map(|v| (*v as i32) < paper - 80).collect();
        let share = ink.iter().filter(|b| **b).count() as f64 / ink.len() as f64;
        (0.002..0.4).contains(&share).then_some(InkGrid { width: sw, height: sh, ink })
    }
}
