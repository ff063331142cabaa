//! Skew estimation by projection profiles: the angle at which rows of ink line up best.
//!
//! Works on an ink mask sampled at about 100 dpi, searches ±7° in 0.5° steps and then refines to 0.05°.
//! Text lines make the horizontal projection spiky at the right angle; photos and blank pages do not,
//! and then the estimate abstains (`None`): a page is never rotated on a guess.

use crate::pages::Raster;

/// The widest skew looked for, in degrees.
pub const MAX_DEGREES: f64 = 7.0;

/// How much better the best angle must score than the median angle for the estimate to count.
pub const MIN_CONFIDENCE: f64 = 1.3;

/// A skew found in text lines.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skew {
    /// Degrees, positive when the content is turned counter-clockwise (and is turned clockwise back).
    pub degrees: f64,
    /// The best angle's score over the median angle's: 1 means no lines at all.
    pub confidence: f64,
}

/// The page's skew, or `None` when the page has no reliable lines.
pub fn estimate(r: &Raster, dpi: f64) -> Option<Skew> {
    let grid = super::InkGrid::of(r, dpi)?;
    estimate_points(&grid.points(), grid.width, grid.height)
}

/// The skew of ink samples on a `width`×`height` grid whose lines run across.
pub fn estimate_points(ink: &[(f64, f64)], width: usize, height: usize) -> Option<Skew> {
    let score =
        |deg: f64| -> f64 { row_profile(ink, width, height, deg).iter().map(|b| (*b as f64) * (*b as f64)).sum() };
    let mut best = (0.0, f64::MIN);
    let mut all = Vec::new();
    let mut a = -MAX_DEGREES;
    while a <= MAX_DEGREES + 1e-9 {
        let s = score(a);
        all.push(s);
        if s > best.1 {
            best = (a, s);
        }
        a += 0.5;
    }
    let mut fine = best;
    let mut a = best.0 - 0.5;
    while a <= best.0 + 0.5 + 1e-9 {
        let s = score(a);
        if s > fine.1 {
            fine = (a, s);
        }
        a += 0.05;
    }
    // Confidence: lines make one angle stand out; without them every angle scores about the same.
    all.sort_by(|x, y| x.total_cmp(y));
    let median = all[all.len() / 2];
    if median <= 0.0 {
        return None;
    }
    let confidence = fine.1 / median;
    // The best row angle is the skew with the opposite sign (rows are found by turning the page back).
    (confidence >= MIN_CONFIDENCE).then(|| Skew { degrees: -(fine.0 * 20.0).round() / 20.0 + 0.0, confidence })
}

/// Ink per row once the samples are turned by `row_degrees` (the negative of the skew).
pub fn row_profile(ink: &[(f64, f64)], width: usize, height: usize, row_degrees: f64) -> Vec<u32> {
    let (s, c) = row_degrees.to_radians().sin_cos();
    let mut bins = vec![0u32; height + width + 2];
    for (x, y) in ink {
        let yr = y * c - x * s + width as f64;
        if let Some(b) = bins.get_mut(yr.max(0.0) as usize) {
            *b += 1;
        }
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::RasterKind;

    /// A page of text lines turned by `deg` degrees (counter-clockwise positive), drawn directly.
    fn page(deg: f64) -> Raster {
        let (w, h) = (1240usize, 1754usize);
        let mut data = vec![245u8; w * h];
        let (s, c) = deg.to_radians().sin_cos();
        let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
        for line in 0..40 {
            let y0 = 150.0 + line as f64 * 36.0;
            let mut x0 = 140.0;
            let mut k = line;
            while x0 < 1080.0 {
                k = (k * 7 + 3) % 11;
                let len = 30.0 + (k as f64) * 9.0;
                for yy in 0..7 {
                    let mut xx = 0.0;
                    while xx < len {
                        let (px, py) = (x0 + xx - cx, y0 + yy as f64 - cy);
                        // Counter-clockwise on screen (y down) is (x cos + y sin, -x sin + y cos).
                        let (rx, ry) = (px * c + py * s + cx, -px * s + py * c + cy);
                        if rx >= 0.0 && ry >= 0.0 && (rx as usize) < w && (ry as usize) < h {
                            data[ry as usize * w + rx as usize] = 20;
                        }
                        xx += 0.7;
                    }
                }
                x0 += len + 18.0;
            }
        }
        Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data }
    }

    #[test]
    fn finds_known_skews_within_a_fifth_of_a_degree() {
        let mut errors = Vec::new();
        for deg in [-6.8, -3.3, -0.8, 0.0, 1.7, 4.2, 6.9] {
            let got = estimate(&page(deg), 150.0).map(|s| s.degrees).unwrap_or(f64::NAN);
            errors.push((deg, got, (got - deg).abs()));
        }
        let mean = errors.iter().map(|e| e.2).sum::<f64>() / errors.len() as f64;
        assert!(errors.iter().all(|e| e.2 <= 0.2), "{errors:?}");
        assert!(mean <= 0.1, "mean error {mean}: {errors:?}");
    }

    #[test]
    fn abstains_without_lines() {
        let blank = Raster { width: 800, height: 1000, kind: RasterKind::Gray, data: vec![240; 800 * 1000] };
        assert_eq!(estimate(&blank, 150.0), None);
        let photo: Vec<u8> = (0..800 * 1000).map(|i| ((i % 800) * 255 / 800) as u8 ^ ((i / 800) % 256) as u8).collect();
        assert_eq!(estimate(&Raster { width: 800, height: 1000, kind: RasterKind::Gray, data: photo }, 150.0), None);
    }
}
