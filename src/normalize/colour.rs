//! Colour-mode classification and the mixed layout.
//!
//! A scanned text page in colour costs ten times what it needs: the text is black and white, and only a
//! seal (con dấu) or a signature needs colour — which is the legal proof and must stay colour. So a page
//! is split: a 1-bit text layer (CCITT G4) over the whole page, and small colour images for the regions
//! whose pixels are saturated. Photos and gray artwork (many mid-tones) stay contone.

use crate::pages::{Raster, RasterKind};

/// What a page is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColourMode {
    /// Black text on paper, no colour worth keeping.
    Bitonal,
    /// Text with colour regions (seal, signature).
    Mixed,
    /// Gray artwork or photo.
    Gray,
    /// A colour photo or mostly colour page.
    Colour,
}

impl ColourMode {
    /// The word stored in records.
    pub fn as_str(self) -> &'static str {
        match self {
            ColourMode::Bitonal => "bitonal",
            ColourMode::Mixed => "mixed",
            ColourMode::Gray => "gray",
            ColourMode::Colour => "colour",
        }
    }
}

/// A page split into a text layer and colour regions.
#[derive(Debug, Clone)]
pub struct Layered {
    /// The whole page, 1-bit (`1` = black).
    pub text: Raster,
    /// Colour regions: pixel rectangle (x, y from the top-left) and its RGB pixels.
    pub regions: Vec<(u32, u32, Raster)>,
    /// Scanner specks taken off the text layer.
    pub specks: u32,
}

const BLOCK: usize = 16;
/// A pixel is "colour" when its channels differ this much (a red seal: ~150; gray paper: < 20).
const CHROMA: i32 = 70;
/// Share of mid-tone samples (neither ink nor paper, against the local paper) above which a page is
/// artwork or a photo rather than text.
const MID_TONES: f64 = 0.12;
/// A block of a text page is a picture (kept in tone, never thresholded) when this share of its
/// samples are mid-tones: text, even bold, has a few percent at its strokes' edges.
const CONTONE_MIDS: f64 = 0.4;
/// …or when this share is tinted: paler colour than a seal's, like a map's area fill.
const CONTONE_TINT: f64 = 0.5;
/// Chroma from which a sample counts as tinted (scanner noise on white paper stays under 12).
const TINT: i32 = 18;
/// Contone blocks a region needs to be a picture (about 4 × 4 mm at 300 dpi).
const MIN_PICTURE_BLOCKS: usize = 8;
/// How far (in levels) a block's nearby brightest pixel may fall below the fitted paper surface and
/// still be taken for the paper there, when measuring a page's mid-tones.
const SURFACE_SLACK: f64 = 8.0;
/// How far (in levels, at least) under the paper surface a block's brightest pixel must be for the
/// block to hold no paper at all (four times the paper's own spread around the surface when that is
/// more): a map's pale lot is some 25 levels under, a clean page's paper within a few.
const NO_PAPER_MARGIN: f64 = 12.0;
/// …or, in a block with no paper in it, when this share is lighter than ink (a map's grey lot, a
/// photo's smooth wall; a bold stroke is ink through and through).
const CONTONE_LIGHT: f64 = 0.6;

/// The paper's brightness as a smooth surface over the page, per block: a quadratic in the block
/// coordinates fitted to the blocks' brightest pixels, refitted twice without the blocks that fall well
/// below it (photos, fills, bold headings). Light falling off across a page — a gutter, a tired lamp —
/// is smooth and the surface follows it; a photo is not smooth against the paper around it and stays
/// below. Falls back to the page's bright level when too few blocks are paper to fit.
fn paper_surface(block_max: &[u8], bw: usize, bh: usize) -> Vec<f64> {
    let n = block_max.len();
    let mut sorted = block_max.to_vec();
    sorted.sort_unstable();
    let bright = sorted[(n * 9 / 10).min(n - 1)] as f64;
    let median = sorted[n / 2] as f64;
    let coords = |b: usize| -> [f64; 6] {
        let x = if bw > 1 { (b % bw) as f64 / (bw - 1) as f64 * 2.0 - 1.0 } else { 0.0 };
        let y = if bh > 1 { (b / bw) as f64 / (bh - 1) as f64 * 2.0 - 1.0 } else { 0.0 };
        [1.0, x, y, x * x, y * y, x * y]
    };
    let flat = vec![bright; n];
    let mut fit = vec![median; n];
    let threshold = |b: usize, fit: &[f64]| fit[b] - 12.0;
    for round in 0..3 {
        // Normal equations of least squares over the blocks taken for paper this round.
        let (mut a, mut r, mut used) = ([[0f64; 6]; 6], [0f64; 6], 0usize);
        for (b, z) in block_max.iter().enumerate() {
            let z = *z as f64;
            if (round == 0 && z < median) || (round > 0 && z < threshold(b, &fit)) {
                continue;
            }
            let c = coords(b);
            for (i, ci) in c.iter().enumerate() {
                for (j, cj) in c.iter().enumerate() {
                    a[i][j] += ci * cj;
                }
                r[i] += ci * z;
            }
            used += 1;
        }
        let Some(k) = (used >= 24).then(|| solve6(a, r)).flatten() else {
            return if round == 0 { flat } else { fit };
        };
        fit = (0..n).map(|b| coords(b).iter().zip(&k).map(|(c, k)| c * k).sum::<f64>()).collect();
    }
    fit
}

/// Solves a 6 × 6 linear system by Gaussian elimination with partial pivoting; `None` when singular.
fn solve6(mut a: [[f64; 6]; 6], mut r: [f64; 6]) -> Option<[f64; 6]> {
    for col in 0..6 {
        let pivot = (col..6).max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))?;
        if a[pivot][col].abs() < 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        r.swap(col, pivot);
        let (pivot_row, pivot_r) = (a[col], r[col]);
        for (row, rr) in a.iter_mut().zip(r.iter_mut()).skip(col + 1) {
            let f = row[col] / pivot_row[col];
            for (v, p) in row.iter_mut().zip(pivot_row.iter()).skip(col) {
                *v -= f * p;
            }
            *rr -= f * pivot_r;
        }
    }
    let mut x = [0f64; 6];
    for row in (0..6).rev() {
        let s: f64 = (row + 1..6).map(|k| a[row][k] * x[k]).sum();
        x[row] = (r[row] - s) / a[row][row];
    }
    Some(x)
}

/// How far apart an RGB pixel's channels are: 0 for gray, ~150 for a red seal.
#[inline]
fn chroma_of(p: &[u8]) -> i32 {
    p[0].max(p[1]).max(p[2]) as i32 - p[0].min(p[1]).min(p[2]) as i32
}

fn otsu(hist: &[u64; 256]) -> u8 {
    let total: u64 = hist.iter().sum();
    let sum: f64 = hist.iter().enumerate().map(|(i, c)| i as f64 * *c as f64).sum();
    let (mut sum_b, mut w_b, mut best, mut threshold) = (0f64, 0u64, 0f64, 128u8);
    for (t, c) in hist.iter().enumerate() {
        w_b += c;
        if w_b == 0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0 {
            break;
        }
        sum_b += t as f64 * *c as f64;
        let (m_b, m_f) = (sum_b / w_b as f64, (sum - sum_b) / w_f as f64);
        let between = w_b as f64 * w_f as f64 * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            threshold = t as u8;
        }
    }
    threshold
}

/// Classifies a page and, for bitonal and mixed pages, builds the layers (text by Sauvola's threshold,
/// despeckled). `gray` is the page's lightness when the caller has it already. `None` for pages that stay
/// contone (gray or colour), or that are already bitonal. `force_bitonal` makes every page a 1-bit page
/// with no colour regions (a profile that forces the mode).
pub fn classify(r: &Raster, gray: Option<&[u8]>, dpi: f64, force_bitonal: bool) -> (ColourMode, Option<Layered>) {
    let (w, h) = (r.width as usize, r.height as usize);
    let channels = match r.kind {
        RasterKind::Gray => 1,
        RasterKind::Rgb => 3,
        RasterKind::Bitonal => return (ColourMode::Bitonal, None),
        RasterKind::Cmyk => return (ColourMode::Colour, None),
    };
    if w < BLOCK || h < BLOCK {
        return (ColourMode::Gray, None);
    }
    let chroma = |i: usize| -> i32 { if channels == 1 { 0 } else { chroma_of(&r.data[i * 3..i * 3 + 3]) } };
    // One pass: lightness (kept for the threshold), colour pixels per block, and each block's
    // brightest pixel — the local paper (light falling off across the page is not mid-tone).
    let (bw, bh) = (w.div_ceil(BLOCK), h.div_ceil(BLOCK));
    let mut block_max = vec![0u8; bw * bh];
    let mut colour_blocks = vec![0u16; bw * bh];
    let mut colour_px = 0u64;
    let given = gray.filter(|g| g.len() == w * h && channels == 3);
    let mut own = vec![0u8; if channels == 3 && given.is_none() { w * h } else { 0 }];
    for y in 0..h {
        let brow = (y / BLOCK) * bw;
        let (maxes, colours) = (&mut block_max[brow..brow + bw], &mut colour_blocks[brow..brow + bw]);
        if let Some(g) = given {
            let src = &r.data[y * w * 3..(y + 1) * w * 3];
            for (bx, (px, ls)) in src.chunks(BLOCK * 3).zip(g[y * w..(y + 1) * w].chunks(BLOCK)).enumerate() {
                let mut n = 0u16;
                for p in px.chunks_exact(3) {
                    if chroma_of(p) > CHROMA {
                        n += 1;
                    }
                }
                maxes[bx] = ls.iter().fold(maxes[bx], |a, b| a.max(*b));
                colours[bx] += n;
                colour_px += n as u64;
            }
        } else if channels == 3 {
            let src = &r.data[y * w * 3..(y + 1) * w * 3];
            let dst = &mut own[y * w..(y + 1) * w];
            for (bx, (px, ls)) in src.chunks(BLOCK * 3).zip(dst.chunks_mut(BLOCK)).enumerate() {
                let (mut m, mut n) = (maxes[bx], 0u16);
                for (p, l) in px.chunks_exact(3).zip(ls.iter_mut()) {
                    *l = crate::pages::rgb_luma(p);
                    m = m.max(*l);
                    if chroma_of(p) > CHROMA {
                        n += 1;
                    }
                }
                maxes[bx] = m;
                colours[bx] += n;
                colour_px += n as u64;
            }
        } else {
            for (bx, ls) in r.data[y * w..(y + 1) * w].chunks(BLOCK).enumerate() {
                maxes[bx] = ls.iter().fold(maxes[bx], |a, b| a.max(*b));
            }
        }
    }
    let luma: &[u8] = match given {
        Some(g) => g,
        None if channels == 3 => &own,
        None => &r.data,
    };
    // The paper under each block: the brightest pixel nearby (light falling off across the page is
    // not mid-tone).
    let paper: Vec<u8> = (0..bw * bh)
        .map(|b| {
            let (bx, by) = (b % bw, b / bw);
            let mut m = 0;
            for ny in by.saturating_sub(1)..(by + 2).min(bh) {
                for nx in bx.saturating_sub(1)..(bx + 2).min(bw) {
                    m = m.max(block_max[ny * bw + nx]);
                }
            }
            m.max(1)
        })
        .collect();
    // And the page's smooth paper surface. Inside a photo's sky, a wall or a map's grey lot the
    // brightest pixel nearby is the picture itself: measured against it alone a picture looks like
    // paper and would be thresholded away. Measured against the surface it does not.
    let surface = paper_surface(&block_max, bw, bh);
    let floored: Vec<u8> =
        paper.iter().zip(&surface).map(|(p, s)| (*p).max((s - SURFACE_SLACK).clamp(1.0, 255.0) as u8)).collect();
    // A block with no paper in it at all: its brightest pixel well under the surface (by more than
    // the paper's own spread around the surface). Text always has paper between its strokes.
    let no_paper: Vec<bool> = {
        let residual: Vec<f64> = block_max.iter().zip(&surface).map(|(m, s)| *m as f64 - s).collect();
        let mut paperish: Vec<f64> = residual.iter().copied().filter(|r| *r >= -20.0).map(f64::abs).collect();
        paperish.sort_by(f64::total_cmp);
        let mad = paperish.get(paperish.len() / 2).copied().unwrap_or(0.0);
        let margin = (4.0 * mad).max(NO_PAPER_MARGIN);
        residual.iter().map(|r| *r < -margin).collect()
    };
    let total = (w * h) as u64;
    if colour_px * 3 > total && !force_bitonal {
        return (ColourMode::Colour, None);
    }
    // Luminance against the local paper (and against the floored paper), sampled every other pixel.
    let mut hist = [0u64; 256];
    let mut hist_floored = [0u64; 256];
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let b = (y / BLOCK) * bw + x / BLOCK;
            let l = luma[y * w + x] as u32;
            hist[((l * 255 / paper[b] as u32).min(255)) as usize] += 1;
            hist_floored[((l * 255 / floored[b] as u32).min(255)) as usize] += 1;
        }
    }
    let samples: u64 = hist.iter().sum();
    let t = otsu(&hist) as usize;
    // The ink's level: the median of what is below the threshold.
    let dark: u64 = hist[..=t].iter().sum();
    let mut acc = 0;
    let ink = hist[..=t]
        .iter()
        .position(|c| {
            acc += c;
            acc * 2 >= dark
        })
        .unwrap_or(0) as f64;
    let contrast = 255.0 - ink;
    let (lo, hi) = ((ink + 0.3 * contrast) as usize, (255.0 - 0.3 * contrast) as usize);
    let mid_of = |h: &[u64; 256]| -> u64 { if lo < hi { h[lo..=hi].iter().sum() } else { 0 } };
    // Artwork or a photo over the page, by either measure: kept whole in tone.
    let mid = mid_of(&hist).max(mid_of(&hist_floored));
    if !force_bitonal && (contrast < 40.0 || mid as f64 > samples as f64 * MID_TONES) {
        return (if channels == 3 && colour_px * 20 > total { ColourMode::Colour } else { ColourMode::Gray }, None);
    }
    // Contone blocks: a photo, a picture's gradients, a pale coloured fill — mostly neither ink nor
    // paper, or tinted, or with no paper in them and mostly not ink. They are never thresholded: they
    // become image regions over the text layer.
    let mut contone = vec![false; bw * bh];
    if !force_bitonal {
        let (mut mids, mut tints, mut seen_px) = (vec![0u16; bw * bh], vec![0u16; bw * bh], vec![0u16; bw * bh]);
        let mut light = vec![0u16; bw * bh];
        for y in (0..h).step_by(2) {
            let brow = (y / BLOCK) * bw;
            for x in (0..w).step_by(2) {
                let b = brow + x / BLOCK;
                let rel = (luma[y * w + x] as usize * 255 / paper[b] as usize).min(255);
                seen_px[b] += 1;
                if rel >= lo && rel <= hi {
                    mids[b] += 1;
                }
                if rel >= lo {
                    light[b] += 1;
                }
                let c = chroma(y * w + x);
                if rel > lo && c > TINT && c <= CHROMA {
                    tints[b] += 1;
                }
            }
        }
        for b in 0..bw * bh {
            let n = seen_px[b].max(1) as f64;
            contone[b] = mids[b] as f64 >= n * CONTONE_MIDS
                || tints[b] as f64 >= n * CONTONE_TINT
                || (no_paper[b] && light[b] as f64 >= n * CONTONE_LIGHT);
        }
    }
    // Text layer: Sauvola; colour pixels are left to the colour regions.
    let skip = |i: usize| !force_bitonal && channels == 3 && chroma(i) > CHROMA;
    let mut bits = super::binarize::sauvola(luma, w, h, dpi, &skip);
    let (area, reach) = super::binarize::speck_limits(dpi);
    let specks = super::binarize::despeckle(&mut bits, area, reach);
    let text = Raster { width: r.width, height: r.height, kind: RasterKind::Bitonal, data: bits.data };
    // Regions: blocks with enough colour pixels, or contone, grouped into connected rectangles.
    let coloured: Vec<bool> =
        colour_blocks.iter().map(|n| !force_bitonal && *n as usize >= BLOCK * BLOCK / 32).collect();
    let dense: Vec<bool> = coloured.iter().zip(&contone).map(|(a, b)| *a || *b).collect();
    let mut seen = vec![false; dense.len()];
    let mut regions = Vec::new();
    for start in 0..dense.len() {
        if !dense[start] || seen[start] {
            continue;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        let (mut tone_blocks, mut colour_blocks_in) = (0usize, 0usize);
        let mut stack = vec![start];
        seen[start] = true;
        while let Some(b) = stack.pop() {
            let (bx, by) = (b % bw, b / bw);
            (x0, y0, x1, y1) = (x0.min(bx), y0.min(by), x1.max(bx), y1.max(by));
            tone_blocks += usize::from(contone[b]);
            colour_blocks_in += usize::from(coloured[b]);
            // 8-neighbours within two blocks: strokes of a seal with gaps stay one region.
            for dy in -2i32..=2 {
                for dx in -2i32..=2 {
                    let (nx, ny) = (bx as i32 + dx, by as i32 + dy);
                    if nx < 0 || ny < 0 || nx >= bw as i32 || ny >= bh as i32 {
                        continue;
                    }
                    let n = ny as usize * bw + nx as usize;
                    if dense[n] && !seen[n] {
                        seen[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        // A picture keeps every pixel; a few contone blocks alone are bold print, not a picture.
        let picture = tone_blocks >= MIN_PICTURE_BLOCKS;
        if !picture && colour_blocks_in == 0 {
            continue;
        }
        // One block of margin around the region, clipped to the page.
        let px0 = x0.saturating_sub(1) * BLOCK;
        let py0 = y0.saturating_sub(1) * BLOCK;
        let px1 = ((x1 + 2) * BLOCK).min(w);
        let py1 = ((y1 + 2) * BLOCK).min(h);
        let (rw, rh) = (px1 - px0, py1 - py0);
        let mut data = Vec::with_capacity(rw * rh * 3);
        let text_bits = &text.data;
        let stride = w.div_ceil(8);
        for y in py0..py1 {
            for x in px0..px1 {
                let i = y * w + x;
                let black = text_bits[y * stride + x / 8] & (0x80 >> (x % 8)) != 0;
                if !picture && chroma(i) <= CHROMA && !black {
                    // Paper: pure white, so the region meets the text layer without a visible edge.
                    data.extend([255; 3]);
                } else if channels == 3 {
                    data.extend_from_slice(&r.data[i * 3..i * 3 + 3]);
                } else {
                    data.extend([r.data[i]; 3]);
                }
            }
        }
        regions.push((
            px0 as u32,
            py0 as u32,
            Raster { width: rw as u32, height: rh as u32, kind: RasterKind::Rgb, data },
        ));
    }
    let mode = if regions.is_empty() { ColourMode::Bitonal } else { ColourMode::Mixed };
    (mode, Some(Layered { text, regions, specks }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(seal: bool, photo: bool) -> Raster {
        let (w, h) = (400usize, 560usize);
        let mut data = vec![245u8; w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) * 3;
                if photo {
                    let v = ((x * 255 / w + y * 255 / h) / 2) as u8;
                    data[i..i + 3].copy_from_slice(&[v, v / 2, 255 - v]);
                } else if (y / 12) % 2 == 0 && y % 12 < 3 && (x / 30) % 4 != 3 && y > 40 && y < 480 {
                    data[i..i + 3].copy_from_slice(&[20, 20, 25]);
                }
                let (dx, dy) = (x as i32 - 300, y as i32 - 500);
                let d = dx * dx + dy * dy;
                if seal && (30 * 30..=36 * 36).contains(&d) {
                    data[i..i + 3].copy_from_slice(&[200, 30, 30]);
                }
            }
        }
        Raster { width: w as u32, height: h as u32, kind: RasterKind::Rgb, data }
    }

    #[test]
    fn text_is_bitonal_a_seal_makes_it_mixed_a_photo_stays_colour() {
        assert_eq!(classify(&page(false, false), None, 150.0, false).0, ColourMode::Bitonal);
        let (mode, layers) = classify(&page(true, false), None, 150.0, false);
        assert_eq!(mode, ColourMode::Mixed);
        let layers = layers.unwrap();
        assert_eq!(layers.regions.len(), 1);
        let (x, y, r) = &layers.regions[0];
        // The whole seal (centre 300,500, radius 36) is inside the region.
        assert!(
            *x <= 264 && *y <= 464 && x + r.width >= 336 && y + r.height >= 536,
            "{x},{y} {}x{}",
            r.width,
            r.height
        );
        assert_eq!(classify(&page(false, true), None, 150.0, false).0, ColourMode::Colour);
    }
}
