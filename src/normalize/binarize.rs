//! Text to 1-bit: Sauvola's adaptive threshold and a despeckle that spares tone marks.
//!
//! One global threshold loses faint print and turns the dark side of an unevenly lit page black.
//! Sauvola's threshold follows the paper: `T = m · (1 + k · (s / 128 − 1))` over a window around each
//! pixel (mean `m`, standard deviation `s`). The sums come from 16-px blocks and an integral over the
//! block grid, and the thresholds are interpolated between block centres: a few operations per pixel,
//! no per-pixel integral image (which would cost 100 MB on an A4 page at 300 dpi).
//!
//! Scanner specks become isolated black dots; a despeckle takes off tiny components that have no other
//! ink near them. The dot of `ạ` or `ộ` is as small as a speck at 200 dpi, but it sits right by its
//! letter, so it stays.

/// Sauvola's `k`: 0.2 keeps faint print (ink at 165 on paper at 240) and drops bleed-through.
const K: f64 = 0.2;
/// Sauvola's dynamic range of the standard deviation.
const R: f64 = 128.0;
const BLOCK: usize = 16;

/// A 1-bit page, packed MSB first, `1` = black, rows padded to whole bytes.
#[derive(Debug, Clone)]
pub struct Bits {
    /// Pixels across.
    pub width: usize,
    /// Pixels down.
    pub height: usize,
    /// `height` rows of `width.div_ceil(8)` bytes.
    pub data: Vec<u8>,
}

impl Bits {
    /// An all-white page.
    pub fn white(width: usize, height: usize) -> Bits {
        Bits { width, height, data: vec![0; width.div_ceil(8) * height] }
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width.div_ceil(8)
    }

    /// Whether (x, y) is black.
    pub fn get(&self, x: usize, y: usize) -> bool {
        self.data[y * self.stride() + x / 8] & (0x80 >> (x % 8)) != 0
    }

    /// Makes (x, y) black.
    pub fn set(&mut self, x: usize, y: usize) {
        let s = self.stride();
        self.data[y * s + x / 8] |= 0x80 >> (x % 8);
    }

    /// Makes (x, y) white.
    pub fn clear(&mut self, x: usize, y: usize) {
        let s = self.stride();
        self.data[y * s + x / 8] &= !(0x80 >> (x % 8));
    }
}

/// Sauvola thresholds of a luminance plane, with the window scaled to the page's resolution (about
/// 6 mm across). `skip(i)` marks pixels that are not text (colour kept elsewhere): they stay white.
pub fn sauvola(luma: &[u8], width: usize, height: usize, dpi: f64, skip: &dyn Fn(usize) -> bool) -> Bits {
    let (bw, bh) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
    // Block sums and sums of squares.
    let mut sum = vec![0u64; bw * bh];
    let mut sq = vec![0u64; bw * bh];
    let mut count = vec![0u32; bw * bh];
    for y in 0..height {
        let row = &luma[y * width..(y + 1) * width];
        let by = y / BLOCK;
        for (bx, chunk) in row.chunks(BLOCK).enumerate() {
            let i = by * bw + bx;
            let (mut s, mut q) = (0u64, 0u64);
            for v in chunk {
                let v = *v as u64;
                s += v;
                q += v * v;
            }
            sum[i] += s;
            sq[i] += q;
            count[i] += chunk.len() as u32;
        }
    }
    // Window radius in blocks: about 3 mm each side of the block.
    let radius = ((dpi / 25.4 * 3.0) / BLOCK as f64).round().max(1.0) as usize;
    let integral = |v: &[u64]| {
        let mut out = vec![0u64; (bw + 1) * (bh + 1)];
        for y in 0..bh {
            let mut run = 0u64;
            for x in 0..bw {
                run += v[y * bw + x];
                out[(y + 1) * (bw + 1) + x + 1] = out[y * (bw + 1) + x + 1] + run;
            }
        }
        out
    };
    let (isum, isq) = (integral(&sum), integral(&sq));
    let icount = integral(&count.iter().map(|c| *c as u64).collect::<Vec<_>>());
    let window = |t: &[u64], x0: usize, y0: usize, x1: usize, y1: usize| {
        t[y1 * (bw + 1) + x1] + t[y0 * (bw + 1) + x0] - t[y0 * (bw + 1) + x1] - t[y1 * (bw + 1) + x0]
    };
    // Threshold at each block centre.
    let mut thr = vec![0f32; bw * bh];
    for by in 0..bh {
        for bx in 0..bw {
            let (x0, y0) = (bx.saturating_sub(radius), by.saturating_sub(radius));
            let (x1, y1) = ((bx + radius + 1).min(bw), (by + radius + 1).min(bh));
            let n = window(&icount, x0, y0, x1, y1) as f64;
            let m = window(&isum, x0, y0, x1, y1) as f64 / n;
            let var = (window(&isq, x0, y0, x1, y1) as f64 / n - m * m).max(0.0);
            thr[by * bw + bx] = (m * (1.0 + K * (var.sqrt() / R - 1.0))) as f32;
        }
    }
    // Per pixel: bilinear between block centres. Most of a page is paper well above every threshold
    // near it: such 16-px runs are skipped whole, and only pixels between the nearby thresholds'
    // extremes are interpolated.
    let mut out = Bits::white(width, height);
    let stride = out.stride();
    let half = BLOCK as f32 / 2.0;
    let mut row_thr = vec![0f32; bw];
    for y in 0..height {
        let fy = ((y as f32 - half) / BLOCK as f32).clamp(0.0, (bh - 1) as f32);
        let (b0, t) = (fy.floor() as usize, fy - fy.floor());
        let b1 = (b0 + 1).min(bh - 1);
        for (bx, rt) in row_thr.iter_mut().enumerate() {
            *rt = (thr[b0 * bw + bx] * (1.0 - t) + thr[b1 * bw + bx] * t).clamp(0.0, 255.0);
        }
        let src = &luma[y * width..(y + 1) * width];
        let dst = &mut out.data[y * stride..(y + 1) * stride];
        for bx in 0..bw {
            let (x0, x1) = (bx * BLOCK, ((bx + 1) * BLOCK).min(width));
            let near = &row_thr[bx.saturating_sub(1)..(bx + 2).min(bw)];
            let tmax = near.iter().fold(0f32, |a, b| a.max(*b));
            let tmin = near.iter().fold(255f32, |a, b| a.min(*b));
            let seg = &src[x0..x1];
            if seg.iter().all(|v| *v as f32 > tmax) {
                continue;
            }
            for (k, v) in seg.iter().enumerate() {
                let v = *v as f32;
                if v > tmax {
                    continue;
                }
                let x = x0 + k;
                let dark = v <= tmin || {
                    let fx = ((x as f32 - half) / BLOCK as f32).clamp(0.0, (bw - 1) as f32);
                    let (a0, s) = (fx as usize, fx - (fx as usize) as f32);
                    let a1 = (a0 + 1).min(bw - 1);
                    v <= row_thr[a0] * (1.0 - s) + row_thr[a1] * s
                };
                if dark && !skip(y * width + x) {
                    dst[x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
    }
    out
}

/// Takes off black components of at most `max_area` pixels that have no other ink within `reach`
/// pixels (specks); returns how many. Tone marks and the dots of `i` sit within reach of their letter.
pub fn despeckle(bits: &mut Bits, max_area: usize, reach: usize) -> u32 {
    let (w, h, stride) = (bits.width, bits.height, bits.stride());
    // Runs of black per row, labelled by union-find over 8-connected runs of the row above.
    struct Run {
        y: usize,
        x0: usize,
        x1: usize,
    }
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    fn find(p: &mut [u32], mut i: u32) -> u32 {
        while p[i as usize] != i {
            p[i as usize] = p[p[i as usize] as usize];
            i = p[i as usize];
        }
        i
    }
    let mut prev = 0..0;
    for y in 0..h {
        let row = &bits.data[y * stride..(y + 1) * stride];
        let start = runs.len();
        let mut x = 0;
        while x < w {
            if row[x / 8] == 0 && x % 8 == 0 {
                x += 8;
                continue;
            }
            if row[x / 8] & (0x80 >> (x % 8)) == 0 {
                x += 1;
                continue;
            }
            let x0 = x;
            while x < w && row[x / 8] & (0x80 >> (x % 8)) != 0 {
                x += 1;
            }
            let id = runs.len() as u32;
            runs.push(Run { y, x0, x1: x });
            parent.push(id);
            for k in prev.clone() {
                let above: &Run = &runs[k];
                if above.x1 + 1 > x0 && above.x0 < x + 1 {
                    let (a, b) = (find(&mut parent, k as u32), find(&mut parent, id));
                    if a != b {
                        parent[a.max(b) as usize] = a.min(b);
                    }
                }
            }
        }
        prev = start..runs.len();
    }
    // Area and box of each component.
    let n = runs.len();
    let mut area = vec![0usize; n];
    let mut bbox = vec![[usize::MAX, usize::MAX, 0usize, 0usize]; n];
    for (i, r) in runs.iter().enumerate() {
        let root = find(&mut parent, i as u32) as usize;
        area[root] += r.x1 - r.x0;
        let b = &mut bbox[root];
        *b = [b[0].min(r.x0), b[1].min(r.y), b[2].max(r.x1), b[3].max(r.y + 1)];
    }
    // A small component is a speck when its neighbourhood holds no other black pixel.
    let mut speck = vec![false; n];
    let mut removed = 0;
    for root in 0..n {
        if area[root] == 0 || area[root] > max_area {
            continue;
        }
        let [x0, y0, x1, y1] = bbox[root];
        let (wx0, wy0) = (x0.saturating_sub(reach), y0.saturating_sub(reach));
        let (wx1, wy1) = ((x1 + reach).min(w), (y1 + reach).min(h));
        let mut black = 0usize;
        'count: for y in wy0..wy1 {
            for x in wx0..wx1 {
                if bits.data[y * stride + x / 8] & (0x80 >> (x % 8)) != 0 {
                    black += 1;
                    if black > area[root] {
                        break 'count;
                    }
                }
            }
        }
        if black == area[root] {
            speck[root] = true;
            removed += 1;
        }
    }
    for (i, r) in runs.iter().enumerate() {
        if speck[find(&mut parent, i as u32) as usize] {
            for x in r.x0..r.x1 {
                bits.clear(x, r.y);
            }
        }
    }
    removed
}

/// Largest speck and how far a speck must be from other ink, at a resolution: a speck is at most
/// about 0.25 mm across; tone marks sit within 0.85 mm of their letter.
pub fn speck_limits(dpi: f64) -> (usize, usize) {
    let px_per_mm = dpi / 25.4;
    let side = (0.25 * px_per_mm).max(1.0);
    ((side * side).round() as usize, (0.85 * px_per_mm).round().max(2.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faint_print_on_uneven_paper_comes_out_black_and_the_paper_white() {
        let (w, h) = (400usize, 300usize);
        let mut luma = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                // Paper from 245 on the left to 140 on the right; faint strokes at 68% of the paper.
                let paper = 245.0 - 105.0 * x as f64 / w as f64;
                let ink = (y % 30) < 4 && (x / 12) % 3 != 2;
                luma[y * w + x] = if ink { (paper * 0.68) as u8 } else { paper as u8 };
            }
        }
        let bits = sauvola(&luma, w, h, 300.0, &|_| false);
        let (mut wrong, mut total) = (0, 0);
        for y in 0..h {
            for x in 0..w {
                let ink = (y % 30) < 4 && (x / 12) % 3 != 2;
                total += 1;
                if bits.get(x, y) != ink {
                    wrong += 1;
                }
            }
        }
        assert!(wrong * 100 < total, "{wrong} of {total} pixels wrong");
    }

    #[test]
    fn isolated_specks_go_a_dot_by_its_letter_stays() {
        let mut b = Bits::white(100, 100);
        // A letter: a 3×12 bar; its dot 3 px above; a lone speck far away.
        for y in 40..52 {
            for x in 20..23 {
                b.set(x, y);
            }
        }
        for (x, y) in [(21, 36), (22, 36), (21, 37), (22, 37)] {
            b.set(x, y);
        }
        b.set(70, 70);
        b.set(71, 70);
        let (area, reach) = speck_limits(200.0);
        assert_eq!(despeckle(&mut b, area, reach), 1);
        assert!(b.get(21, 36) && b.get(20, 45));
        assert!(!b.get(70, 70) && !b.get(71, 70));
    }
}
