//! Lossless JPEG size reduction: the same DCT coefficients, coded with Huffman tables made for this image
//! (what `jpegtran -optimize` does). Scanners write the example tables of the JPEG standard; tables
//! fitted to the page save several percent without changing one pixel.
//!
//! Only sequential Huffman JPEGs with one scan are rewritten (what scanners produce); anything else —
//! progressive, arithmetic, several scans, damaged data — is left alone (`None`), and the caller keeps
//! the original bytes.

/// The rewritten JPEG when it is smaller than `jpeg`; `None` when the file is not one this rewrites or
/// nothing would be gained.
pub fn optimize(jpeg: &[u8]) -> Option<Vec<u8>> {
    let parsed = Parsed::of(jpeg)?;
    // Pass 1: how often each symbol occurs, per table.
    let mut freq = [[[0u32; 257]; 4]; 2];
    walk(&parsed, jpeg, &mut |class, table, symbol, _, _| {
        if class != RESTART {
            freq[class][table][symbol as usize] += 1;
        }
    })?;
    let mut tables: [[Option<Table>; 4]; 2] = Default::default();
    for class in 0..2 {
        for id in 0..4 {
            if freq[class][id].iter().any(|f| *f > 0) {
                tables[class][id] = Some(Table::optimal(&freq[class][id])?);
            }
        }
    }
    // Pass 2: the same symbols and extra bits, coded with the new tables.
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[..parsed.header_end_without_dht_start]);
    for seg in &parsed.kept {
        out.extend_from_slice(&jpeg[seg.0..seg.1]);
    }
    // One DHT segment with every table.
    let mut dht = Vec::new();
    for (class, row) in tables.iter().enumerate() {
        for (id, t) in row.iter().enumerate() {
            if let Some(t) = t {
                dht.push(((class as u8) << 4) | id as u8);
                dht.extend_from_slice(&t.bits);
                dht.extend_from_slice(&t.values);
            }
        }
    }
    out.extend_from_slice(&[0xFF, 0xC4]);
    out.extend_from_slice(&((dht.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&dht);
    out.extend_from_slice(&jpeg[parsed.sos.0..parsed.sos.1]);
    let mut w = BitWriter { out, acc: 0, n: 0 };
    let mut restart = 0u8;
    walk(&parsed, jpeg, &mut |class, table, symbol, bits, nbits| {
        if class == RESTART {
            w.restart(restart);
            restart = (restart + 1) % 8;
            return;
        }
        if let Some(t) = &tables[class][table] {
            let (code, len) = t.codes[symbol as usize];
            w.put(code as u32, len);
            if nbits > 0 {
                w.put(bits as u32, nbits);
            }
        }
    })?;
    w.flush();
    let mut out = w.out;
    out.extend_from_slice(&jpeg[parsed.scan_end..]);
    (out.len() < jpeg.len()).then_some(out)
}

/// `walk` reports a restart marker with this class.
const RESTART: usize = 2;

struct Component {
    id: u8,
    h: usize,
    v: usize,
}

struct Parsed {
    /// Bytes up to the first segment that is not copied as it is.
    header_end_without_dht_start: usize,
    /// Segments after that, copied (every one but the DHTs).
    kept: Vec<(usize, usize)>,
    /// The SOS segment.
    sos: (usize, usize),
    /// Where the entropy-coded data ends (a marker that is not RST).
    scan_end: usize,
    width: usize,
    height: usize,
    components: Vec<Component>,
    /// Per scan component: index into `components`, DC table, AC table.
    scan: Vec<(usize, usize, usize)>,
    restart_interval: usize,
    /// Source tables: [class][id].
    tables: [[Option<Decoder>; 4]; 2],
}

impl Parsed {
    fn of(b: &[u8]) -> Option<Parsed> {
        if !b.starts_with(&[0xFF, 0xD8]) {
            return None;
        }
        let mut i = 2;
        let mut kept = Vec::new();
        let mut first_dht = None;
        let mut tables: [[Option<Decoder>; 4]; 2] = Default::default();
        let (mut width, mut height, mut components) = (0, 0, Vec::new());
        let mut restart_interval = 0;
        loop {
            if b.get(i) != Some(&0xFF) {
                return None;
            }
            while b.get(i) == Some(&0xFF) {
                i += 1;
            }
            let marker = *b.get(i)?;
            i += 1;
            let len = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize;
            let seg = b.get(i + 2..i + len)?;
            let whole = (i - 2, i + len);
            match marker {
                0xC4 => {
                    first_dht.get_or_insert(whole.0);
                    let mut k = 0;
                    while k < seg.len() {
                        let (class, id) = ((seg[k] >> 4) as usize, (seg[k] & 15) as usize);
                        if class > 1 || id > 3 {
                            return None;
                        }
                        let bits: [u8; 16] = seg.get(k + 1..k + 17)?.try_into().ok()?;
                        let n: usize = bits.iter().map(|v| *v as usize).sum();
                        let values = seg.get(k + 17..k + 17 + n)?;
                        tables[class][id] = Some(Decoder::new(&bits, values)?);
                        k += 17 + n;
                    }
                }
                0xC0 | 0xC1 => {
                    if seg.first() != Some(&8) {
                        return None;
                    }
                    height = u16::from_be_bytes([*seg.get(1)?, *seg.get(2)?]) as usize;
                    width = u16::from_be_bytes([*seg.get(3)?, *seg.get(4)?]) as usize;
                    let n = *seg.get(5)? as usize;
                    for c in 0..n {
                        let s = seg.get(6 + c * 3..9 + c * 3)?;
                        let (h, v) = ((s[1] >> 4) as usize, (s[1] & 15) as usize);
                        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
                            return None;
                        }
                        components.push(Component { id: s[0], h, v });
                    }
                }
                // Progressive, lossless, hierarchical, arithmetic: not rewritten.
                0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
                0xDD => restart_interval = u16::from_be_bytes([*seg.first()?, *seg.get(1)?]) as usize,
                0xDA => {
                    let ns = *seg.first()? as usize;
                    let mut scan = Vec::new();
                    for c in 0..ns {
                        let s = seg.get(1 + c * 2..3 + c * 2)?;
                        let idx = components.iter().position(|k| k.id == s[0])?;
                        let (dc, ac) = ((s[1] >> 4) as usize, (s[1] & 15) as usize);
                        if dc > 3 || ac > 3 || tables[0][dc].is_none() || tables[1][ac].is_none() {
                            return None;
                        }
                        scan.push((idx, dc, ac));
                    }
                    // Baseline: the whole spectrum, no successive approximation.
                    if seg.get(1 + ns * 2..4 + ns * 2)? != [0, 63, 0] || width == 0 || height == 0 {
                        return None;
                    }
                    let scan_end = scan_end(b, whole.1)?;
                    // One scan only: another SOS after this one is not rewritten.
                    if b.get(scan_end..scan_end + 2)? != [0xFF, 0xD9] {
                        return None;
                    }
                    let header_end = first_dht?;
                    return Some(Parsed {
                        header_end_without_dht_start: header_end,
                        kept,
                        sos: whole,
                        scan_end,
                        width,
                        height,
                        components,
                        scan,
                        restart_interval,
                        tables,
                    });
                }
                0xD9 => return None,
                _ => {}
            }
            if first_dht.is_some() && marker != 0xC4 {
                kept.push(whole);
            }
            i = whole.1;
        }
    }
}

/// Where the entropy-coded data that starts at `from` ends.
fn scan_end(b: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    loop {
        j += memchr::memchr(0xFF, b.get(j..)?)?;
        let next = *b.get(j + 1)?;
        if next != 0x00 && !(0xD0..=0xD7).contains(&next) && next != 0xFF {
            return Some(j);
        }
        j += 1;
    }
}

/// Calls `f(class, table, symbol, extra bits, their count)` for every Huffman symbol of the scan in
/// order, and `f(RESTART, …)` where a restart marker stands. `None` on damaged data.
fn walk(p: &Parsed, b: &[u8], f: &mut dyn FnMut(usize, usize, u16, u16, u8)) -> Option<()> {
    let hmax = p.components.iter().map(|c| c.h).max()?;
    let vmax = p.components.iter().map(|c| c.v).max()?;
    let (mcus, blocks): (usize, Vec<(usize, usize, usize)>) = if p.scan.len() == 1 {
        // One component: its blocks one at a time.
        let c = &p.components[p.scan[0].0];
        let (cw, ch) = ((p.width * c.h).div_ceil(hmax), (p.height * c.v).div_ceil(vmax));
        (cw.div_ceil(8) * ch.div_ceil(8), vec![p.scan[0]])
    } else {
        let per =
            p.scan.iter().flat_map(|s| std::iter::repeat_n(*s, p.components[s.0].h * p.components[s.0].v)).collect();
        (p.width.div_ceil(8 * hmax) * p.height.div_ceil(8 * vmax), per)
    };
    let mut r = BitReader { b, pos: p.sos.1, end: p.scan_end, acc: 0, n: 0 };
    for m in 0..mcus {
        if p.restart_interval > 0 && m > 0 && m % p.restart_interval == 0 {
            r.restart()?;
            f(RESTART, 0, 0, 0, 0);
        }
        for (_, dc, ac) in &blocks {
            let dct = p.tables[0][*dc].as_ref()?;
            let s = dct.decode(&mut r)?;
            if s > 11 {
                return None;
            }
            let bits = r.bits(s)?;
            f(0, *dc, s as u16, bits, s);
            let act = p.tables[1][*ac].as_ref()?;
            let mut k = 1;
            while k < 64 {
                let rs = act.decode(&mut r)?;
                let (run, size) = (rs >> 4, rs & 15);
                let bits = r.bits(size)?;
                f(1, *ac, rs as u16, bits, size);
                if size == 0 {
                    if run == 15 {
                        k += 16;
                        continue;
                    }
                    break;
                }
                k += run as usize + 1;
            }
            if k > 64 {
                return None;
            }
        }
    }
    Some(())
}

struct BitReader<'a> {
    b: &'a [u8],
    pos: usize,
    end: usize,
    acc: u32,
    n: u8,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Option<u16> {
        if self.n == 0 {
            if self.pos >= self.end {
                return None;
            }
            let v = self.b[self.pos];
            self.pos += 1;
            if v == 0xFF {
                // A stuffed zero follows a data 0xFF; anything else is a marker inside the MCUs: damaged.
                if self.b.get(self.pos) != Some(&0) {
                    return None;
                }
                self.pos += 1;
            }
            self.acc = v as u32;
            self.n = 8;
        }
        self.n -= 1;
        Some(((self.acc >> self.n) & 1) as u16)
    }

    fn bits(&mut self, n: u8) -> Option<u16> {
        let mut v = 0u16;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }

    /// Skips to the byte boundary and over the RSTn marker.
    fn restart(&mut self) -> Option<()> {
        self.n = 0;
        if self.b.get(self.pos) == Some(&0xFF) && self.b.get(self.pos + 1).is_some_and(|m| (0xD0..=0xD7).contains(m)) {
            self.pos += 2;
            Some(())
        } else {
            None
        }
    }
}

struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl BitWriter {
    fn put(&mut self, v: u32, len: u8) {
        for k in (0..len).rev() {
            self.acc = (self.acc << 1) | ((v >> k) & 1);
            self.n += 1;
            if self.n == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                (self.acc, self.n) = (0, 0);
            }
        }
    }

    /// Pads the last byte with 1 bits.
    fn flush(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
    }

    fn restart(&mut self, k: u8) {
        self.flush();
        self.out.extend_from_slice(&[0xFF, 0xD0 + k]);
    }
}

/// A source table, for decoding (JPEG F.2.2.3).
struct Decoder {
    maxcode: [i32; 17],
    valptr: [i32; 17],
    mincode: [i32; 17],
    values: Vec<u8>,
}

impl Decoder {
    fn new(bits: &[u8; 16], values: &[u8]) -> Option<Decoder> {
        let (mut maxcode, mut valptr, mut mincode) = ([-1i32; 17], [0i32; 17], [0i32; 17]);
        let (mut code, mut k) = (0i32, 0i32);
        for l in 1..=16 {
            let n = bits[l - 1] as i32;
            if n > 0 {
                valptr[l] = k;
                mincode[l] = code;
                code += n;
                k += n;
                maxcode[l] = code - 1;
            }
            if code > 1 << l {
                return None;
            }
            code <<= 1;
        }
        Some(Decoder { maxcode, valptr, mincode, values: values.to_vec() })
    }

    fn decode(&self, r: &mut BitReader) -> Option<u8> {
        let mut code = 0i32;
        for l in 1..=16 {
            code = (code << 1) | r.bit()? as i32;
            if code <= self.maxcode[l] {
                return self.values.get((self.valptr[l] + code - self.mincode[l]) as usize).copied();
            }
        }
        None
    }
}

/// A table made for the symbols' frequencies: `bits`/`values` for DHT, `codes[symbol]` for writing.
struct Table {
    bits: [u8; 16],
    values: Vec<u8>,
    codes: Vec<(u16, u8)>,
}

impl Table {
    /// Code lengths by JPEG K.2: Huffman's merge with a reserved all-ones code, then lengths over 16
    /// folded back.
    fn optimal(freq: &[u32; 257]) -> Option<Table> {
        let mut f: Vec<u64> = freq.iter().map(|v| *v as u64).collect();
        f[256] = 1; // reserves the all-ones code
        let mut codesize = [0usize; 257];
        let mut others = [-1i32; 257];
        loop {
            // v1: least frequent (the larger index on ties); v2: the next.
            let mut v1: i32 = -1;
            let mut v2: i32 = -1;
            for i in 0..257 {
                if f[i] == 0 {
                    continue;
                }
                if v1 < 0 || f[i] <= f[v1 as usize] {
                    v2 = v1;
                    v1 = i as i32;
                } else if v2 < 0 || f[i] <= f[v2 as usize] {
                    v2 = i as i32;
                }
            }
            if v2 < 0 {
                break;
            }
            let (a, b) = (v1 as usize, v2 as usize);
            f[a] += f[b];
            f[b] = 0;
            let mut k = a;
            codesize[k] += 1;
            while others[k] >= 0 {
                k = others[k] as usize;
                codesize[k] += 1;
            }
            others[k] = b as i32;
            let mut k = b;
            codesize[k] += 1;
            while others[k] >= 0 {
                k = others[k] as usize;
                codesize[k] += 1;
            }
        }
        let mut bits = [0usize; 33];
        for c in codesize.iter().filter(|c| **c > 0) {
            if *c > 32 {
                return None;
            }
            bits[*c] += 1;
        }
        // Fold lengths over 16 (K.3).
        let mut i = 32;
        while i > 16 {
            while bits[i] > 0 {
                let mut j = i - 2;
                while bits[j] == 0 {
                    j -= 1;
                }
                bits[i] -= 2;
                bits[i - 1] += 1;
                bits[j + 1] += 2;
                bits[j] -= 1;
            }
            i -= 1;
        }
        // Take the reserved code off the longest length.
        while bits[i] == 0 {
            i -= 1;
        }
        bits[i] -= 1;
        // Symbols by code length, then by value.
        let mut values = Vec::new();
        for len in 1..=32 {
            for (sym, c) in codesize.iter().enumerate().take(256) {
                if *c == len {
                    values.push(sym as u8);
                }
            }
        }
        let mut out_bits = [0u8; 16];
        for l in 1..=16 {
            out_bits[l - 1] = bits[l] as u8;
        }
        // Canonical codes for the (folded) lengths, assigned in `values` order.
        let mut codes = vec![(0u16, 0u8); 256];
        let (mut code, mut k) = (0u32, 0usize);
        for l in 1..=16u8 {
            for _ in 0..out_bits[l as usize - 1] {
                codes[*values.get(k)? as usize] = (code as u16, l);
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        Some(Table { bits: out_bits, values, codes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(restart: u16, gray: bool) -> Vec<u8> {
        let (w, h) = (203u32, 157u32);
        let mut rgb = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let v = ((x * 7 + y * 3) % 251) as u8;
                rgb.extend([v, (x as u8).wrapping_mul(3), (y as u8) ^ v]);
            }
        }
        let mut out = Vec::new();
        let mut enc = jpeg_encoder::Encoder::new(&mut out, 85);
        if restart > 0 {
            enc.set_restart_interval(restart);
        }
        if gray {
            let g: Vec<u8> = rgb.chunks(3).map(|p| p[0]).collect();
            enc.encode(&g, w as u16, h as u16, jpeg_encoder::ColorType::Luma).unwrap();
        } else {
            enc.encode(&rgb, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        }
        out
    }

    #[test]
    fn the_rewritten_jpeg_is_smaller_and_decodes_to_the_same_pixels() {
        for (restart, gray) in [(0, false), (0, true), (7, false)] {
            let src = scan(restart, gray);
            let opt = optimize(&src).expect("smaller");
            assert!(opt.len() < src.len(), "{} ≥ {}", opt.len(), src.len());
            let a = image::load_from_memory(&src).unwrap().into_rgb8();
            let b = image::load_from_memory(&opt).unwrap().into_rgb8();
            assert_eq!(a.as_raw(), b.as_raw(), "restart {restart}, gray {gray}");
        }
    }

    #[test]
    fn what_it_does_not_rewrite_is_left_alone() {
        assert!(optimize(b"not a jpeg").is_none());
        let src = scan(0, false);
        assert!(optimize(&src[..src.len() / 2]).is_none(), "a truncated scan");
    }
}
