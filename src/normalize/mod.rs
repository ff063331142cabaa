//! Page normalization: decisions about a page's pixels that a profile asks for. Today: the colour
//! mode — bitonal text, gray, colour, or mixed (bitonal text with the regions where colour matters, a red
//! seal or a signature, kept as small colour images).

pub mod colour;
pub mod deskew;

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
