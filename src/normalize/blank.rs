//! Blank-page detection that is not fooled by scanner noise, punch holes, staples or bleed-through.
//!
//! Measured on the luminance at a quarter of the resolution (each sample a 4×4 block's second darkest pixel), inside a margin of 9% at the sides and 6% top and bottom (punch holes and
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
    let gray = r.gray();
    let luma = &gray.data;
    // Each sample is the second darkest pixel of a 4×4 block: an isolated speck of noise is ignored, a
    // stroke of ink — even faint print — is not diluted. Rows are read in order, a block row at a time.
    let mut small = vec![0u8; sw * sh];
    let (mut first, mut second) = (vec![255u8; sw], vec![255u8; sw]);
    for by in 0..sh {
        first.fill(255);
        second.fill(255);
        for y in by * step..(by + 1) * step {
            let row = &luma[y * w..y * w + sw * step];
            for (bx, block) in row.chunks_exact(step).enumerate() {
                let (f, s) = (&mut first[bx], &mut second[bx]);
                for v in block {
                    if *v < *f {
                        (*f, *s) = (*v, *f);
                    } else if *v < *s {
                        *s = *v;
                    }
                }
            }
        }
        small[by * sw..(by + 1) * sw].copy_from_slice(&second);
    }
    let mut sorted = small.clone();
    sorted.sort_unstable();
    let paper = sorted[sorted.len() * 3 / 4] as i32;
    // Ink differs from the paper by a lot, either way: dark on white, or light on a dark (negative) scan.
    // Faint print sits ~75 below the paper, bleed-through ~30.
    let dark = |v: u8| (v as i32 - paper).abs() > 60;
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
