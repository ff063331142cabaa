//! 90°/270° orientation from text-line structure (no OCR): text lines make the projection across them
//! spiky; a page scanned sideways has its spiky projection along the other axis. Which of 90° and 270°
//! follows from the aligned margin: lines start at a straight left edge and end ragged. Abstains when
//! either signal is weak.

use crate::pages::Raster;

/// Clockwise quarter turns that make the page upright (1 = turn 90° clockwise, 3 = 270°), or `None`
/// when the page is upright or the evidence is weak. Upside-down pages (180°) are not judged.
pub fn quarter_turns(r: &Raster) -> Option<u8> {
    let grid = super::InkGrid::of(r)?;
    let (sw, sh, ink) = (grid.width, grid.height, grid.ink);
    // Peakiness: sum of squared projections, normalized by the projection length.
    let mut rows = vec![0f64; sh];
    let mut cols = vec![0f64; sw];
    for y in 0..sh {
        for x in 0..sw {
            if ink[y * sw + x] {
                rows[y] += 1.0;
                cols[x] += 1.0;
            }
        }
    }
    let peaky = |v: &[f64]| {
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        if mean <= 0.0 { 0.0 } else { v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n / (mean * mean) }
    };
    let (pr, pc) = (peaky(&rows), peaky(&cols));
    if pc < pr * 1.5 {
        return None; // lines run across: upright (or upside down), or no clear lines
    }
    // Lines run top to bottom. For each text column (a line), where does the ink start from the top and
    // from the bottom? The straight margin is the line starts.
    let mut from_top = Vec::new();
    let mut from_bottom = Vec::new();
    for x in 0..sw {
        if cols[x] < 3.0 {
            continue;
        }
        let first = (0..sh).find(|y| ink[y * sw + x]);
        let last = (0..sh).rev().find(|y| ink[y * sw + x]);
        if let (Some(a), Some(b)) = (first, last) {
            from_top.push(a as f64);
            from_bottom.push((sh - 1 - b) as f64);
        }
    }
    if from_top.len() < 5 {
        return None;
    }
    let spread = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        s[s.len() * 3 / 4] - s[s.len() / 4]
    };
    let (st, sb) = (spread(&from_top), spread(&from_bottom));
    if sb * 2.0 < st {
        // Line starts at the bottom: the page's left edge is down, it was turned counter-clockwise.
        Some(1)
    } else if st * 2.0 < sb {
        // Line starts at the top: turned clockwise.
        Some(3)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::RasterKind;

    /// Left-aligned, ragged-right text lines.
    fn upright() -> (usize, usize, Vec<u8>) {
        let (w, h) = (800usize, 1100usize);
        let mut d = vec![245u8; w * h];
        for line in 0..30 {
            let y0 = 80 + line * 30;
            let len = 400 + (line * 97) % 280;
            for y in y0..y0 + 8 {
                for x in 80..80 + len {
                    if (x / 23) % 5 != 4 {
                        d[y * w + x] = 20;
                    }
                }
            }
        }
        (w, h, d)
    }

    /// Turns the page 90° counter-clockwise (`ccw`) or clockwise.
    fn turned(ccw: bool) -> Raster {
        let (w, h, d) = upright();
        let mut out = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                // New image is h wide and w tall.
                let (nx, ny) = if ccw { (y, w - 1 - x) } else { (h - 1 - y, x) };
                out[ny * h + nx] = d[y * w + x];
            }
        }
        Raster { width: h as u32, height: w as u32, kind: RasterKind::Gray, data: out }
    }

    #[test]
    fn sideways_pages_are_found_and_upright_ones_left_alone() {
        let (w, h, d) = upright();
        assert_eq!(quarter_turns(&Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: d }), None);
        assert_eq!(quarter_turns(&turned(true)), Some(1));
        assert_eq!(quarter_turns(&turned(false)), Some(3));
    }
}
