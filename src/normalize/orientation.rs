//! Which way up a page is, from its letters (no OCR), and when to say "not judged".
//!
//! Two questions, each answered only on strong evidence — a page turned the wrong way looks like
//! success and is not, so every doubt leaves the page as scanned:
//!
//! 1. **Which way the lines run.** Letters of one line sit side by side with their tops or bottoms at
//!    the same height; letters of successive lines rarely line up edge to edge. Pairs of letter-sized
//!    components close to each other and aligned along rows are counted against pairs aligned along
//!    columns; one direction must win by [`AXIS_RATIO`].
//! 2. **Which way up.** Along a line, most letters fill the band between the x-line and the baseline;
//!    Latin letters stick out above it far more often than below (ascenders, capitals, the dot of `i`),
//!    and Vietnamese even more (tone marks over the vowels; only the dot of `ạ` and a few descenders go
//!    below). Each letter is compared with the band of its neighbours on the same line; marks above are
//!    counted against marks below. Upside down, the counts swap. A verdict needs
//!    [`MIN_MARKS`] marks and one side [`DIRECTION_RATIO`] times the other.
//!
//! Both counts are local (a letter against its neighbours), so ruled tables, underlines, stamps and
//! photos — which are not letter-sized — do not vote, and skew up to the deskew limit does not matter
//! (positions are straightened by the skew the line profile found before comparing).
//!
//! Measured on pages this module was not built on (`fixtures/evalgen`, see ARCHITECTURE.md), the
//! thresholds give no wrong turn; pages without enough letters (a photo, a table of digits, a
//! signature) are left as scanned, and their record says why.

use super::InkGrid;
use super::deskew::{self, Skew};

/// How the page must be turned, and how sure that is.
#[derive(Debug, Clone, PartialEq)]
pub struct Upright {
    /// Clockwise quarter turns that make the page upright (0–3), when judged.
    pub turns: Option<u8>,
    /// The share of the counted marks that agree with the verdict (0.5 – 1).
    pub confidence: f64,
    /// Marks counted (above + below the letters' band).
    pub marks: u32,
    /// Why the page was not judged, when it was not.
    pub abstained: Option<&'static str>,
    /// The skew of the lines, judged in the upright frame (the same angle in the page's own frame).
    pub skew: Option<Skew>,
    /// Whether the lines run down the page (a quarter turn), when their direction was found.
    pub sideways: Option<bool>,
}

/// Aligned letter pairs along one axis must outnumber those along the other this many times.
pub const AXIS_RATIO: f64 = 2.0;
/// Marks (above + below the band) a page needs before its direction is judged.
pub const MIN_MARKS: u32 = 20;
/// Marks on the winning side over marks on the other (each plus one).
pub const DIRECTION_RATIO: f64 = 1.7;
/// Small components (dots) within about three letter heights of a mark or letter beyond which the
/// place is a picture's dither or noise, not text: dense Vietnamese text has some 30 marks there.
const CROWDED_DOTS: usize = 60;

/// One connected run of ink samples: its box (inclusive) and its size.
#[derive(Debug, Clone, Copy)]
struct Comp {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Comp {
    fn h(&self) -> f64 {
        self.y1 - self.y0 + 1.0
    }
    fn w(&self) -> f64 {
        self.x1 - self.x0 + 1.0
    }
    fn cx(&self) -> f64 {
        (self.x0 + self.x1) / 2.0
    }
    fn cy(&self) -> f64 {
        (self.y0 + self.y1) / 2.0
    }
    /// The same box with x and y swapped (a mirror: fine for counts of marks, which never look left
    /// or right).
    fn transposed(self) -> Comp {
        Comp { x0: self.y0, y0: self.x0, x1: self.y1, y1: self.x1 }
    }
    /// Letter-sized: half to twice a letter's height, no wider than a short word (not a mark, a
    /// rule or a picture).
    fn is_letter(&self, letter: f64) -> bool {
        self.h() >= letter * 0.5 && self.h() <= letter * 2.2 && self.w() <= letter * 6.0
    }
    /// Moved so that a line skewed by `tan` (rise per run, y down) lies flat.
    fn flattened(self, tan: f64) -> Comp {
        let dy = -self.cx() * tan;
        Comp { x0: self.x0, y0: self.y0 + dy, x1: self.x1, y1: self.y1 + dy }
    }
}

/// Judges a page's orientation from an ink grid of about 150 samples an inch (`letters`) and its skew
/// from the line grid (`lines`, about 100 an inch). `None` when there is no ink to read at all.
pub fn judge(letters: &InkGrid, lines: &InkGrid) -> Option<Upright> {
    let comps = components(letters);
    let abstain = |why: &'static str, skew: Option<Skew>, sideways: Option<bool>| {
        Some(Upright { turns: None, confidence: 0.0, marks: 0, abstained: Some(why), skew, sideways })
    };
    let straight = || skew_of(lines, false);
    let Some(letter) = letter_height(&comps) else {
        return abstain("no letters to read", straight(), None);
    };
    let core: Vec<Comp> = comps.iter().copied().filter(|c| c.is_letter(letter)).collect();
    if core.len() < 30 {
        return abstain("too few letters to read", straight(), None);
    }
    let (rows, cols) =
        (aligned_pairs(&core, letter), aligned_pairs(&core.iter().map(|c| c.transposed()).collect::<Vec<_>>(), letter));
    let sideways = if rows as f64 >= cols as f64 * AXIS_RATIO && rows >= 20 {
        false
    } else if cols as f64 >= rows as f64 * AXIS_RATIO && cols >= 20 {
        true
    } else {
        return abstain("the lines' direction is not clear", straight(), None);
    };
    let skew = skew_of(lines, sideways);
    // Marks are counted with lines across: a sideways page is transposed (x ↔ y), where "above" is
    // the page's left. The skew (clockwise-positive in the upright frame) flattens the lines.
    let tan = skew.map(|s| s.degrees.to_radians().tan()).unwrap_or(0.0);
    let frame: Vec<Comp> = comps
        .iter()
        .map(|c| if sideways { c.transposed() } else { *c })
        .map(|c| c.flattened(if sideways { tan } else { -tan }))
        .collect();
    let (above, below) = marks(&frame, letter);
    let n = above + below;
    if n < MIN_MARKS {
        return abstain("too few letters with ascenders or marks to tell which way up", skew, Some(sideways));
    }
    let ratio = (above as f64 + 1.0) / (below as f64 + 1.0);
    let up = if ratio >= DIRECTION_RATIO {
        true
    } else if 1.0 / ratio >= DIRECTION_RATIO {
        false
    } else {
        return abstain("marks above and below the letters are too even to tell which way up", skew, Some(sideways));
    };
    let confidence = above.max(below) as f64 / n as f64;
    // Sideways with marks "above" in the transposed frame: the text's top is at the page's left, so
    // it was turned counter-clockwise and one clockwise quarter turn sets it right.
    let turns = match (sideways, up) {
        (false, true) => 0,
        (false, false) => 2,
        (true, true) => 1,
        (true, false) => 3,
    };
    Some(Upright { turns: Some(turns), confidence, marks: n, abstained: None, skew, sideways: Some(sideways) })
}

/// Share of a page's pixels that are dark dots with no dark neighbour, beyond which the page is a
/// dither (halftone dots over the paper or a photo in 1-bit): text, even 1-bit at 150 dpi, has almost
/// none (its strokes touch), a dithered paper tint has several in a hundred.
pub const DITHER_SHARE: f64 = 0.01;

/// Whether the page is dithered to dots ([`DITHER_SHARE`]), read on every third row of its lightness.
pub fn dithered(r: &crate::pages::Raster) -> bool {
    let (w, h) = (r.width as usize, r.height as usize);
    if w < 3 || h < 3 {
        return false;
    }
    let dark = |x: usize, y: usize| super::luma_at(r, x, y) < 128;
    let (mut seen, mut dots) = (0u64, 0u64);
    for y in (1..h - 1).step_by(3) {
        for x in 1..w - 1 {
            seen += 1;
            if dark(x, y) && !(y - 1..=y + 1).any(|ny| (x - 1..=x + 1).any(|nx| (nx, ny) != (x, y) && dark(nx, ny))) {
                dots += 1;
            }
        }
    }
    seen > 0 && dots as f64 > seen as f64 * DITHER_SHARE
}

/// The skew of the lines, in the frame where they run across: a sideways page's points are turned a
/// quarter clockwise first.
pub fn skew_of(lines: &InkGrid, sideways: bool) -> Option<Skew> {
    if !sideways {
        return deskew::estimate_points(&lines.points(), lines.width, lines.height);
    }
    let sh = lines.height;
    let canon: Vec<(f64, f64)> = lines.points().iter().map(|(x, y)| ((sh - 1) as f64 - y, *x)).collect();
    deskew::estimate_points(&canon, lines.height, lines.width)
}

/// 8-connected components of the ink, without the specks (fewer than 3 samples).
fn components(g: &InkGrid) -> Vec<Comp> {
    let (w, h) = (g.width, g.height);
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..w * h {
        if !g.ink[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0usize);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            n += 1;
            for ny in y.saturating_sub(1)..(y + 2).min(h) {
                for nx in x.saturating_sub(1)..(x + 2).min(w) {
                    let j = ny * w + nx;
                    if g.ink[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if n >= 3 {
            out.push(Comp { x0: x0 as f64, y0: y0 as f64, x1: x1 as f64, y1: y1 as f64 });
        }
    }
    out
}

/// The typical height of a letter: the median height of components that are neither specks nor
/// marks nor rules nor pictures (5 to 80 samples high — dotted leaders and dither dots are smaller —,
/// no wider than tall by 8).
fn letter_height(comps: &[Comp]) -> Option<f64> {
    let mut hs: Vec<f64> =
        comps.iter().filter(|c| (5.0..=80.0).contains(&c.h()) && c.w() <= c.h() * 8.0).map(Comp::h).collect();
    if hs.len() < 30 {
        return None;
    }
    hs.sort_by(f64::total_cmp);
    Some(hs[hs.len() / 2])
}

/// Buckets of components by cell, for neighbour look-ups.
struct Cells {
    size: f64,
    map: std::collections::HashMap<(i64, i64), Vec<usize>>,
}

impl Cells {
    fn of(comps: &[Comp], size: f64) -> Cells {
        let mut map: std::collections::HashMap<(i64, i64), Vec<usize>> = std::collections::HashMap::new();
        for (i, c) in comps.iter().enumerate() {
            map.entry(((c.cx() / size) as i64, (c.cy() / size) as i64)).or_default().push(i);
        }
        Cells { size, map }
    }

    /// Indices of components whose centre lies within one cell of `c`'s.
    fn near(&self, c: &Comp) -> impl Iterator<Item = usize> + '_ {
        let (cx, cy) = ((c.cx() / self.size) as i64, (c.cy() / self.size) as i64);
        (cy - 1..=cy + 1)
            .flat_map(move |y| (cx - 1..=cx + 1).map(move |x| (x, y)))
            .filter_map(|k| self.map.get(&k))
            .flatten()
            .copied()
    }
}

/// Pairs of letters side by side along rows (within three letter heights, overlapping in height,
/// with tops or bottoms level): what the lines of text make, counted once per pair.
fn aligned_pairs(core: &[Comp], letter: f64) -> usize {
    let cells = Cells::of(core, letter * 3.0);
    let tol = (letter * 0.12).max(1.0);
    let mut n = 0;
    for (i, a) in core.iter().enumerate() {
        for j in cells.near(a) {
            if j <= i {
                continue;
            }
            let b = &core[j];
            let gap = (b.x0 - a.x1).max(a.x0 - b.x1);
            let overlap = a.y1.min(b.y1) - a.y0.max(b.y0);
            if gap >= 0.0 && gap <= letter * 3.0 && overlap >= 0.5 * a.h().min(b.h()) {
                n += usize::from((a.y0 - b.y0).abs() <= tol || (a.y1 - b.y1).abs() <= tol);
            }
        }
    }
    n
}

/// Marks above and below the letters' band, with lines running across (y down): for every letter,
/// the band is the median top and bottom of the letters beside it on its line; a letter reaching
/// above the band by a third of its height counts above (an ascender, a capital), below it counts
/// below (a descender); a small mark wholly over a letter's band counts above (a tone mark, the dot of
/// `i`), wholly under it below (the dot of `ạ`) — one touching the band (a period, a dotted leader)
/// counts for neither.
fn marks(frame: &[Comp], letter: f64) -> (u32, u32) {
    let small: Vec<Comp> = frame.iter().copied().filter(|c| c.h() < letter * 0.5 && c.w() < letter * 1.5).collect();
    let small_cells = Cells::of(&small, letter * 2.0);
    // Where dots crowd — a dithered picture, a screened photo, heavy scanner noise — nothing is a
    // letter's mark, and letter-sized clumps of dots are no letters: they would vote at random, and
    // in numbers. Vietnamese text, marks and all, has far fewer dots around any letter.
    let crowded = |c: &Comp| small_cells.near(c).nth(CROWDED_DOTS).is_some();
    let core: Vec<Comp> = frame.iter().copied().filter(|c| c.is_letter(letter) && !crowded(c)).collect();
    let cells = Cells::of(&core, letter * 4.0);
    // Each letter's band from its line neighbours.
    let mut bands: Vec<Option<(f64, f64)>> = vec![None; core.len()];
    let (mut above, mut below) = (0u32, 0u32);
    for (i, a) in core.iter().enumerate() {
        let mut tops = Vec::new();
        let mut bottoms = Vec::new();
        for j in cells.near(a) {
            let b = &core[j];
            if (b.cy() - a.cy()).abs() <= letter * 0.6 && (b.cx() - a.cx()).abs() <= letter * 8.0 {
                tops.push(b.y0);
                bottoms.push(b.y1);
            }
        }
        if tops.len() < 5 {
            continue;
        }
        tops.sort_by(f64::total_cmp);
        bottoms.sort_by(f64::total_cmp);
        let (top, bottom) = (tops[tops.len() / 2], bottoms[bottoms.len() / 2]);
        let x = bottom - top;
        if x < 2.0 {
            continue;
        }
        bands[i] = Some((top, bottom));
        let reach = (x * 0.3).max(1.5);
        match (a.y0 < top - reach, a.y1 > bottom + reach) {
            (true, false) => above += 1,
            (false, true) => below += 1,
            _ => {}
        }
    }
    // Small marks: over or under the band of the letter they sit on — but not the dots of a leader
    // (`Họ và tên: ..........`): a run of like dots level with each other, under the words written on it.
    let leader = |c: &Comp| {
        small_cells
            .near(c)
            .filter(|&j| {
                let d = &small[j];
                (d.y0 - c.y0).abs() <= 1.0
                    && (d.h() - c.h()).abs() <= 1.0
                    && (d.w() - c.w()).abs() <= 1.0
                    && (d.cx() - c.cx()).abs() > 0.5
            })
            .count()
            >= 3
    };
    for c in small.iter().filter(|c| !leader(c) && !crowded(c)) {
        let mut best: Option<(f64, usize)> = None;
        for j in cells.near(c) {
            let b = &core[j];
            if c.cx() < b.x0 - 1.0 || c.cx() > b.x1 + 1.0 {
                continue;
            }
            let d = (b.cy() - c.cy()).abs();
            if d <= letter * 1.2 && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, j));
            }
        }
        let Some((_, j)) = best else { continue };
        let Some((top, bottom)) = bands[j] else { continue };
        // Wholly over the x-line, or wholly under the baseline: a period, a comma's head or a dotted
        // leader sits on the baseline and says nothing.
        if c.y1 < top {
            above += 1;
        } else if c.y0 > bottom {
            below += 1;
        }
    }
    (above, below)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::{Raster, RasterKind};

    /// Lines of "letters": x-height boxes, some with ascenders, fewer with descenders, some with a
    /// mark above — the shape of Latin and Vietnamese text.
    fn upright() -> Raster {
        let (w, h) = (1240usize, 1754usize);
        let mut d = vec![245u8; w * h];
        let mut fill = |x0: usize, y0: usize, x1: usize, y1: usize| {
            for y in y0..y1 {
                for x in x0..x1 {
                    d[y * w + x] = 20;
                }
            }
        };
        for line in 0..40 {
            let base = 150 + line * 38;
            let mut x = 120 + (line % 3) * 10;
            let mut k = line * 7;
            while x < 1000 + (line * 53) % 120 {
                k = (k * 13 + 5) % 17;
                let cw = 10 + k % 5;
                fill(x, base - 14, x + cw, base);
                if k % 4 == 0 {
                    fill(x + cw - 3, base - 24, x + cw, base - 14); // ascender
                } else if k % 9 == 1 {
                    fill(x, base, x + 3, base + 8); // descender
                } else if k % 5 == 2 {
                    fill(x + 3, base - 22, x + 8, base - 18); // a mark above
                }
                x += cw + 3 + if k % 6 == 0 { 10 } else { 0 };
            }
        }
        Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: d }
    }

    /// The page turned clockwise by `quarters` quarter turns.
    fn turned(r: &Raster, quarters: u8) -> Raster {
        let mut out = r.clone();
        for _ in 0..quarters {
            let (w, h) = (out.width as usize, out.height as usize);
            let mut d = vec![0u8; w * h];
            for y in 0..h {
                for x in 0..w {
                    // Clockwise: (x, y) → (h − 1 − y, x) on an h-wide page.
                    d[x * h + (h - 1 - y)] = out.data[y * w + x];
                }
            }
            out = Raster { width: h as u32, height: w as u32, kind: RasterKind::Gray, data: d };
        }
        out
    }

    fn verdict(r: &Raster) -> Option<u8> {
        let letters = InkGrid::sampled(r, 150.0, 150.0).unwrap();
        let lines = InkGrid::of(r, 150.0).unwrap();
        judge(&letters, &lines).and_then(|u| u.turns)
    }

    #[test]
    fn each_quarter_turn_is_found_and_undone() {
        let page = upright();
        assert_eq!(verdict(&page), Some(0));
        // Scanned turned clockwise by q: q more clockwise quarters make a whole turn.
        for q in 1..4u8 {
            assert_eq!(verdict(&turned(&page, q)), Some((4 - q) % 4), "scanned turned {q} quarters");
        }
    }

    #[test]
    fn a_dithered_page_is_told_from_text() {
        assert!(!dithered(&upright()));
        // Paper tint dithered to dots: one dark pixel in every 3×2 on a quarter of the page.
        let mut page = upright();
        let w = page.width as usize;
        for y in (0..page.height as usize / 2).step_by(2) {
            for x in (0..w / 2).step_by(3) {
                page.data[y * w + x] = 0;
            }
        }
        assert!(dithered(&page));
    }

    #[test]
    fn a_page_without_letters_is_not_judged() {
        let (w, h) = (1240usize, 1754usize);
        // A ruled table with no text: lines, but no letters.
        let mut d = vec![245u8; w * h];
        for y in (100..1600).step_by(60) {
            for x in 100..1100 {
                d[y * w + x] = 20;
            }
        }
        for x in (100..1100).step_by(200) {
            for y in 100..1600 {
                d[y * w + x] = 20;
            }
        }
        let r = Raster { width: w as u32, height: h as u32, kind: RasterKind::Gray, data: d };
        let letters = InkGrid::sampled(&r, 150.0, 150.0).unwrap();
        let lines = InkGrid::of(&r, 150.0).unwrap();
        let u = judge(&letters, &lines).unwrap();
        assert_eq!(u.turns, None);
        assert!(u.abstained.is_some());
    }
}
