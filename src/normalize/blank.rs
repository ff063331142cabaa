//! Blank-page detection that is not fooled by scanner noise, punch holes, staples or bleed-through.
//!
//! Measured on the luminance at a quarter of the resolution, inside a margin of 9% at the sides and 6% top and bottom (punch holes and
//! staples live at the edges): a pixel counts as ink only when it differs much from the paper (faint
//! bleed-through is not) and a neighbour is dark too (isolated specks are not). A page is blank when the
//! ink covers less than 0.002% of that area (a few connected dark dots are content). Blank pages are never deleted: the verdict is recorded and the
//! profile decides whether the page is left out of the PDF.

use crate::pages::Raster;

/// Ink coverage below which a page is blank.
pub const BLANK_COVERAGE: f64 = 0.00002;

/// Fraction of the inner page covered by ink.
pub fn ink_coverage(r: &Raster) -> f64 {
    let (w, h) = (r.width as usize, r.height as usize);
    let step = 4usize;
    let (sw, sh) = (w / step, h / step);
    if sw < 8 || sh < 8 {
        return 1.0;
    }
    let lum = |x: usize, y: usize| super::luma_at(r, x, y);
    // Each sample is the mean of a 4×4 block: an isolated speck of noise fades into the paper, a stroke
    // of ink does not.
    let small: Vec<u8> = (0..sh)
        .flat_map(|y| (0..sw).map(move |x| (x, y)))
        .map(|(x, y)| {
            let mut sum = 0u32;
            for dy in 0..step {
                for dx in 0..step {
                    sum += lum(x * step + dx, y * step + dy) as u32;
                }
            }
            (sum / (step * step) as u32) as u8
        })
        .collect();
    let mut sorted = small.clone();
    sorted.sort_unstable();
    let paper = sorted[sorted.len() * 3 / 4] as i32;
    // Ink differs from the paper by a lot, either way: dark on white, or light on a dark (negative) scan.
    let dark = |v: u8| (v as i32 - paper).abs() > 90;
    // Punch holes sit about 12 mm from the edge (7% of A4 width): 9% at the sides, 6% top and bottom.
    let (mx, my) = (sw * 9 / 100, sh * 6 / 100);
    let (mut ink, mut area) = (0u64, 0u64);
    for y in my.max(1)..(sh - my).min(sh - 1) {
        for x in mx.max(1)..(sw - mx).min(sw - 1) {
            area += 1;
            let i = y * sw + x;
            if dark(small[i])
                && (dark(small[i - 1]) || dark(small[i + 1]) || dark(small[i - sw]) || dark(small[i + sw]))
            {
                ink += 1;
            }
        }
    }
    if area == 0 { 1.0 } else { ink as f64 / area as f64 }
}

/// Whether a page has no content.
pub fn is_blank(r: &Raster) -> bool {
    ink_coverage(r) < BLANK_COVERAGE
}
