//! Which way up a page is, from the structure of its text lines (no OCR).
//!
//! Text lines make the projection across them spiky: a page scanned sideways has its spiky projection
//! along the other axis. Which way up follows from the lines' profile: Latin — and Vietnamese even more,
//! with its tone marks — puts more ink above the x-height band (ascenders, capitals, marks) than below the
//! baseline (descenders, the dot of `ạ`). A page upside down shows the opposite. When that signal is weak
//! a sideways page falls back on its aligned margin (lines start at a straight left edge and end ragged);
//! an upright-or-upside-down page abstains.

use super::InkGrid;
use super::deskew::{self, Skew};

/// How the page must be turned, and how sure that is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Upright {
    /// Clockwise quarter turns that make the page upright (0–3).
    pub turns: u8,
    /// For the axis (sideways or not): how much spikier one projection is than the other; for the
    /// direction: |ln(ink above the x-height / ink below the baseline)|. The smaller of the two.
    pub confidence: f64,
    /// The skew of the lines, judged in the upright frame (the same angle in the page's own frame).
    pub skew: Option<Skew>,
}

/// Above/below ink ratio (as |ln|) under which the direction of a page is not judged.
pub const MIN_DIRECTION: f64 = 0.25;
/// How much spikier the across-lines projection must be to call a page sideways.
const SIDEWAYS: f64 = 1.5;

/// Judges a page's orientation and skew; `None` when there are no lines to read.
pub fn judge(grid: &InkGrid) -> Option<Upright> {
    let (sw, sh) = (grid.width, grid.height);
    let mut rows = vec![0f64; sh];
    let mut cols = vec![0f64; sw];
    let points = grid.points();
    for (x, y) in &points {
        rows[*y as usize] += 1.0;
        cols[*x as usize] += 1.0;
    }
    let (pr, pc) = (peakiness(&rows), peakiness(&cols));
    let sideways = pc >= pr * SIDEWAYS;
    // Lines across: turn a sideways page a quarter clockwise, (x, y) → (height − 1 − y, x).
    let (canon, cw, ch) = if sideways {
        (points.iter().map(|(x, y)| ((sh - 1) as f64 - y, *x)).collect::<Vec<_>>(), sh, sw)
    } else {
        (points, sw, sh)
    };
    let skew = deskew::estimate_points(&canon, cw, ch);
    let axis = if sideways { pc / pr.max(1e-9) } else { pr / pc.max(1e-9) };
    let profile = deskew::row_profile(&canon, cw, ch, -skew.map(|s| s.degrees).unwrap_or(0.0));
    let direction = above_below(&profile);
    let upside_down = match direction {
        Some(d) if d.abs() >= MIN_DIRECTION => Some((d < 0.0, d.abs())),
        _ => None,
    };
    let (turns, confidence) = match (sideways, upside_down) {
        (false, None) => (0, 0.0),
        (false, Some((flip, conf))) => (if flip { 2 } else { 0 }, conf.min(axis)),
        (true, Some((flip, conf))) => (if flip { 3 } else { 1 }, conf.min(axis)),
        (true, None) => {
            let turns = margin_side(grid, &cols)?;
            (turns, axis.min(MIN_DIRECTION))
        }
    };
    Some(Upright { turns, confidence, skew })
}

fn peakiness(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if mean <= 0.0 { 0.0 } else { v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n / (mean * mean) }
}

/// ln(ink above the lines' x-height bands / ink below their baselines), over the page's text lines;
/// positive for upright text. `None` with fewer than three lines.
fn above_below(profile: &[u32]) -> Option<f64> {
    let max = *profile.iter().max()? as f64;
    if max <= 0.0 {
        return None;
    }
    // Lines: runs of rows with ink, joined across gaps shorter than a third of the run (a row of tone
    // marks set apart from its letters belongs to them).
    let on: Vec<bool> = profile.iter().map(|v| *v as f64 > max * 0.04).collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut y = 0;
    while y < on.len() {
        if !on[y] {
            y += 1;
            continue;
        }
        let a = y;
        while y < on.len() && on[y] {
            y += 1;
        }
        runs.push((a, y));
    }
    let mut lines: Vec<(usize, usize)> = Vec::new();
    for r in runs {
        match lines.last_mut() {
            Some(last) if r.0 - last.1 <= (r.1 - r.0).max(last.1 - last.0) / 3 => last.1 = r.1,
            _ => lines.push(r),
        }
    }
    let (mut above, mut below, mut counted) = (0f64, 0f64, 0);
    for (a, b) in lines {
        let band = &profile[a..b];
        let peak = *band.iter().max().unwrap_or(&0) as f64;
        if b - a < 4 || peak < max * 0.15 {
            continue;
        }
        // The x-height band: rows at half the line's peak or more.
        let top = band.iter().position(|v| *v as f64 >= peak * 0.5).unwrap_or(0);
        let bottom = band.iter().rposition(|v| *v as f64 >= peak * 0.5).unwrap_or(band.len() - 1);
        above += band[..top].iter().map(|v| *v as f64).sum::<f64>();
        below += band[bottom + 1..].iter().map(|v| *v as f64).sum::<f64>();
        counted += 1;
    }
    (counted >= 3 && above + below > 0.0).then(|| ((above + 1.0) / (below + 1.0)).ln())
}

/// For a sideways page, which way from its aligned margin: lines start at a straight edge.
fn margin_side(grid: &InkGrid, cols: &[f64]) -> Option<u8> {
    let (sw, sh, ink) = (grid.width, grid.height, &grid.ink);
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
        Some(3)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::{Raster, RasterKind};

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
        let turns = |r: &Raster| InkGrid::of(r, 100.0).and_then(|g| judge(&g)).map(|u| u.turns);
        assert_eq!(turns(&Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: d }), Some(0));
        assert_eq!(turns(&turned(true)), Some(1));
        assert_eq!(turns(&turned(false)), Some(3));
    }
}
