//! The dark scanner border: a black lid or bed showing around the paper as solid dark bands along the
//! image's edges. Only whole bands are taken off — rows or columns that are dark from one end to the
//! other and that end where paper begins — so a crop never reaches into content; a page skewed on the
//! bed keeps its dark wedges rather than lose a corner of text.

use crate::pages::Raster;

/// A rectangle of source pixels kept: `x0..x1`, `y0..y1`.
pub type Rect = [u32; 4];

/// The widest band taken off one side, as a share of the page's size: beyond that it is content.
const MAX_BAND: f64 = 0.2;

/// The paper's rectangle inside dark edge bands, or `None` when no side has a band.
pub fn find(r: &Raster) -> Option<Rect> {
    let (w, h) = (r.width as usize, r.height as usize);
    if w < 64 || h < 64 {
        return None;
    }
    let step = 2usize;
    let lum = |x: usize, y: usize| super::luma_at(r, x, y) as i32;
    // The paper's level: the 75th percentile of the centre's luminance.
    let mut centre: Vec<i32> = (h / 4..h * 3 / 4)
        .step_by(8)
        .flat_map(|y| (w / 4..w * 3 / 4).step_by(8).map(move |x| (x, y)))
        .map(|(x, y)| lum(x, y))
        .collect();
    centre.sort_unstable();
    let paper = centre[centre.len() * 3 / 4];
    if paper < 110 {
        return None; // a dark page: no contrast to tell the lid from the paper
    }
    let dark_level = paper * 45 / 100;
    // Share of samples along a line that are dark.
    let dark_row = |y: usize| {
        let n = (0..w).step_by(step).filter(|x| lum(*x, y) < dark_level).count();
        n as f64 / w.div_ceil(step) as f64
    };
    let dark_col = |x: usize| {
        let n = (0..h).step_by(step).filter(|y| lum(x, *y) < dark_level).count();
        n as f64 / h.div_ceil(step) as f64
    };
    // A band: lines dark along ≥ 85% of their length, from the edge inwards; it counts only when the
    // line just inside it is mostly light (paper begins there).
    let band = |len: usize, dark: &dyn Fn(usize) -> f64| -> usize {
        let limit = (len as f64 * MAX_BAND) as usize;
        let mut k = 0;
        while k < limit && dark(k) >= 0.85 {
            k += 1;
        }
        if k == 0 || k >= limit {
            return 0;
        }
        // Through the soft edge (shadow, grain) to where paper clearly begins.
        let mut e = k;
        while e < limit && dark(e) > 0.3 {
            e += 1;
        }
        if e >= limit { 0 } else { e }
    };
    let top = band(h, &|k| dark_row(k));
    let bottom = band(h, &|k| dark_row(h - 1 - k));
    let left = band(w, &|k| dark_col(k));
    let right = band(w, &|k| dark_col(w - 1 - k));
    if top + bottom + left + right == 0 {
        return None;
    }
    Some([left as u32, top as u32, (w - right) as u32, (h - bottom) as u32])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::RasterKind;

    #[test]
    fn bands_go_content_stays() {
        let (w, h) = (600usize, 800usize);
        let mut d = vec![240u8; w * h];
        for y in 0..h {
            for x in 0..w {
                if x < 30 || y >= h - 50 {
                    d[y * w + x] = 25;
                }
                // Text right against the band's edge.
                if (40..500).contains(&x) && y % 20 < 4 && (60..700).contains(&y) {
                    d[y * w + x] = 10;
                }
            }
        }
        let r = Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: d };
        assert_eq!(find(&r), Some([30, 0, 600, 750]));
        let plain = Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: vec![240; w * h] };
        assert_eq!(find(&plain), None);
    }
}
