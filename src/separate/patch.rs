//! PATCH-T, the Kodak transfer patch: four parallel bars, narrow–wide–narrow–wide (2.03 mm and
//! 5.08 mm, narrow spaces of 2.03 mm between), at least 50 mm long. Found by crossing the bars along
//! sampled lines of the page, in both directions, and asking that the same pattern, at about the same
//! place, shows on lines spread over 40 mm or more.

/// Narrow bar and space, in millimetres.
const NARROW: f64 = 2.03;
/// Wide bar, in millimetres.
const WIDE: f64 = 5.08;
/// How far a run may be off, in millimetres.
const TOLERANCE: f64 = 0.75;
/// Sampled lines are this far apart, in millimetres.
const STEP: f64 = 2.0;
/// The bars must be crossed on lines spanning at least this, in millimetres.
const LENGTH: f64 = 40.0;

/// Whether the page (8-bit luma, `px_per_mm` pixels per millimetre) carries a PATCH-T.
pub fn is_patch_t(luma: &[u8], w: u32, h: u32, px_per_mm: f64) -> bool {
    let (w, h) = (w as usize, h as usize);
    if px_per_mm <= 0.0 || luma.len() < w * h {
        return false;
    }
    let across_columns = found(w, h, px_per_mm, |line, i| luma[i * w + line]);
    across_columns || found(h, w, px_per_mm, |line, i| luma[line * w + i])
}

/// Looks along `lines` lines of `len` samples each (`at(line, i)`) for the pattern.
fn found(lines: usize, len: usize, px_per_mm: f64, at: impl Fn(usize, usize) -> u8) -> bool {
    let step = ((STEP * px_per_mm).round() as usize).max(1);
    let needed = (LENGTH / STEP).ceil() as usize;
    // Where (in mm along the line) the pattern starts, for every sampled line that has it.
    let mut starts: Vec<f64> = Vec::new();
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for line in (0..lines).step_by(step) {
        runs.clear();
        for i in 0..len {
            let dark = at(line, i) < 128;
            match runs.last_mut() {
                Some((d, _, n)) if *d == dark => *n += 1,
                _ => runs.push((dark, i, 1)),
            }
        }
        let mm = |n: usize| n as f64 / px_per_mm;
        let near = |n: usize, want: f64| (mm(n) - want).abs() <= TOLERANCE;
        for k in 0..runs.len().saturating_sub(6) {
            let r = &runs[k..k + 7];
            if r[0].0
                && near(r[0].2, NARROW)
                && near(r[1].2, NARROW)
                && near(r[2].2, WIDE)
                && near(r[3].2, NARROW)
                && near(r[4].2, NARROW)
                && near(r[5].2, NARROW)
                && near(r[6].2, WIDE)
            {
                starts.push(mm(r[0].1));
                break;
            }
        }
    }
    // The lines that agree on where the bars are (a skewed sheet drifts a few millimetres).
    starts.sort_by(f64::total_cmp);
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..starts.len() {
        while starts[hi] - starts[lo] > 6.0 {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best >= needed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page at 4 px/mm with a patch whose bars run along x, starting at y = 40 mm.
    fn page(bars: &[(f64, f64)], bar_len_mm: f64) -> (Vec<u8>, u32, u32) {
        let (w, h) = (840u32, 1188u32);
        let mut luma = vec![255u8; (w * h) as usize];
        for &(from, width) in bars {
            for y in (from * 4.0) as u32..((from + width) * 4.0) as u32 {
                for x in 160..(160 + (bar_len_mm * 4.0) as u32) {
                    luma[(y * w + x) as usize] = 10;
                }
            }
        }
        (luma, w, h)
    }

    #[test]
    fn narrow_wide_narrow_wide_is_patch_t_and_nothing_else_is() {
        let t = [(40.0, NARROW), (44.06, WIDE), (51.17, NARROW), (55.23, WIDE)];
        let (l, w, h) = page(&t, 60.0);
        assert!(is_patch_t(&l, w, h, 4.0));
        // Patch 2 (wide–narrow–narrow–wide) is not T.
        let two = [(40.0, WIDE), (47.11, NARROW), (51.17, NARROW), (55.23, WIDE)];
        let (l, w, h) = page(&two, 60.0);
        assert!(!is_patch_t(&l, w, h, 4.0));
        // Bars too short to be a patch.
        let (l, w, h) = page(&t, 20.0);
        assert!(!is_patch_t(&l, w, h, 4.0));
        // A blank page.
        let (l, w, h) = page(&[], 0.0);
        assert!(!is_patch_t(&l, w, h, 4.0));
    }
}
