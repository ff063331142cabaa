//! Lossless JBIG2 for 1-bit pages: one generic region (template 0, the standard adaptive pixels),
//! arithmetic-coded, as a PDF `JBIG2Decode` stream in the embedded organization (a page information
//! segment and an immediate lossless generic region; no globals). Every pixel is coded: there is no
//! symbol matching, so no character can be swapped for a look-alike — the reason lossy JBIG2 is never
//! used. A text page comes out about a fifth smaller than CCITT G4.

/// The JBIG2 stream of a 1-bit page (`1` = black, rows packed MSB first, padded to bytes).
pub fn encode(width: u32, height: u32, bits: &[u8]) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let stride = w.div_ceil(8);
    let px = |x: isize, y: isize| -> u32 {
        if x < 0 || y < 0 || x as usize >= w {
            0
        } else {
            ((bits[y as usize * stride + x as usize / 8] >> (7 - x as usize % 8)) & 1) as u32
        }
    };
    let mut mq = Mq::new();
    let mut contexts = vec![Context::default(); 1 << 16];
    for y in 0..h as isize {
        for x in 0..w as isize {
            // Template 0 with the adaptive pixels at their nominal places (3,-1), (-3,-1), (2,-2), (-2,-2).
            let cx = px(x - 1, y)
                | px(x - 2, y) << 1
                | px(x - 3, y) << 2
                | px(x - 4, y) << 3
                | px(x + 3, y - 1) << 4
                | px(x + 2, y - 1) << 5
                | px(x + 1, y - 1) << 6
                | px(x, y - 1) << 7
                | px(x - 1, y - 1) << 8
                | px(x - 2, y - 1) << 9
                | px(x - 3, y - 1) << 10
                | px(x + 2, y - 2) << 11
                | px(x + 1, y - 2) << 12
                | px(x, y - 2) << 13
                | px(x - 1, y - 2) << 14
                | px(x - 2, y - 2) << 15;
            mq.encode(&mut contexts[cx as usize], px(x, y) as u8);
        }
    }
    let coded = mq.finish();
    let mut out = Vec::with_capacity(coded.len() + 64);
    // Page information (type 48): size, unknown resolution, no flags, no striping.
    let mut page = Vec::new();
    page.extend_from_slice(&width.to_be_bytes());
    page.extend_from_slice(&height.to_be_bytes());
    page.extend_from_slice(&[0; 8]);
    page.push(0);
    page.extend_from_slice(&[0, 0]);
    segment(&mut out, 0, 48, &page);
    // Immediate lossless generic region (type 39): region info, flags (arithmetic, template 0, no
    // typical prediction), the four adaptive pixels, then the coded data.
    let mut region = Vec::new();
    region.extend_from_slice(&width.to_be_bytes());
    region.extend_from_slice(&height.to_be_bytes());
    region.extend_from_slice(&[0; 8]);
    region.push(0);
    region.push(0);
    region.extend_from_slice(&[3, 0xFF, 0xFD, 0xFF, 2, 0xFE, 0xFE, 0xFE]);
    region.extend_from_slice(&coded);
    segment(&mut out, 1, 39, &region);
    out
}

/// A segment header (number, type, no referred-to segments, page 1) and its data.
fn segment(out: &mut Vec<u8>, number: u32, kind: u8, data: &[u8]) {
    out.extend_from_slice(&number.to_be_bytes());
    out.push(kind);
    out.push(0);
    out.push(1);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
}

#[derive(Clone, Copy, Default)]
struct Context {
    index: u8,
    mps: u8,
}

/// Qe, next index after an MPS, after an LPS, and whether an LPS switches the MPS (T.88 Table E.1).
const QE: [(u32, u8, u8, bool); 47] = [
    (0x5601, 1, 1, true),
    (0x3401, 2, 6, false),
    (0x1801, 3, 9, false),
    (0x0AC1, 4, 12, false),
    (0x0521, 5, 29, false),
    (0x0221, 38, 33, false),
    (0x5601, 7, 6, true),
    (0x5401, 8, 14, false),
    (0x4801, 9, 14, false),
    (0x3801, 10, 14, false),
    (0x3001, 11, 17, false),
    (0x2401, 12, 18, false),
    (0x1C01, 13, 20, false),
    (0x1601, 29, 21, false),
    (0x5601, 15, 14, true),
    (0x5401, 16, 14, false),
    (0x5101, 17, 15, false),
    (0x4801, 18, 16, false),
    (0x3801, 19, 17, false),
    (0x3401, 20, 18, false),
    (0x3001, 21, 19, false),
    (0x2801, 22, 19, false),
    (0x2401, 23, 20, false),
    (0x2201, 24, 21, false),
    (0x1C01, 25, 22, false),
    (0x1801, 26, 23, false),
    (0x1601, 27, 24, false),
    (0x1401, 28, 25, false),
    (0x1201, 29, 26, false),
    (0x1101, 30, 27, false),
    (0x0AC1, 31, 28, false),
    (0x09C1, 32, 29, false),
    (0x08A1, 33, 30, false),
    (0x0521, 34, 31, false),
    (0x0441, 35, 32, false),
    (0x02A1, 36, 33, false),
    (0x0221, 37, 34, false),
    (0x0141, 38, 35, false),
    (0x0111, 39, 36, false),
    (0x0085, 40, 37, false),
    (0x0049, 41, 38, false),
    (0x0025, 42, 39, false),
    (0x0015, 43, 40, false),
    (0x0009, 44, 41, false),
    (0x0005, 45, 42, false),
    (0x0001, 45, 43, false),
    (0x5601, 46, 46, false),
];

/// The MQ arithmetic encoder of T.88 Annex E.2.
struct Mq {
    a: u32,
    c: u32,
    ct: u32,
    /// The byte being built (`B`); `None` before the first one (the encoder's virtual byte at BPST − 1).
    b: Option<u8>,
    out: Vec<u8>,
}

impl Mq {
    fn new() -> Mq {
        Mq { a: 0x8000, c: 0, ct: 12, b: None, out: Vec::new() }
    }

    fn encode(&mut self, cx: &mut Context, d: u8) {
        let (qe, nmps, nlps, switch) = QE[cx.index as usize];
        self.a -= qe;
        if d == cx.mps {
            if self.a & 0x8000 == 0 {
                if self.a < qe {
                    self.a = qe;
                } else {
                    self.c += qe;
                }
                cx.index = nmps;
                self.renorm();
            } else {
                self.c += qe;
            }
        } else {
            if self.a < qe {
                self.c += qe;
            } else {
                self.a = qe;
            }
            if switch {
                cx.mps = 1 - cx.mps;
            }
            cx.index = nlps;
            self.renorm();
        }
    }

    fn renorm(&mut self) {
        loop {
            self.a <<= 1;
            self.c <<= 1;
            self.ct -= 1;
            if self.ct == 0 {
                self.byte_out();
            }
            if self.a & 0x8000 != 0 {
                break;
            }
        }
    }

    fn emit(&mut self, byte: u8) {
        if let Some(b) = self.b {
            self.out.push(b);
        }
        self.b = Some(byte);
    }

    fn byte_out(&mut self) {
        let b = self.b.unwrap_or(0);
        if b == 0xFF {
            self.emit((self.c >> 20) as u8);
            self.c &= 0xFFFFF;
            self.ct = 7;
        } else if self.c < 0x800_0000 {
            self.emit((self.c >> 19) as u8);
            self.c &= 0x7FFFF;
            self.ct = 8;
        } else {
            let carried = b.wrapping_add(1);
            self.b = Some(carried);
            if carried == 0xFF {
                self.c &= 0x7FF_FFFF;
                self.emit((self.c >> 20) as u8);
                self.c &= 0xFFFFF;
                self.ct = 7;
            } else {
                self.emit((self.c >> 19) as u8);
                self.c &= 0x7FFFF;
                self.ct = 8;
            }
        }
    }

    /// FLUSH (E.2.9): the final bits, then the 0xFF 0xAC end marker.
    fn finish(mut self) -> Vec<u8> {
        let temp = self.c + self.a;
        self.c |= 0xFFFF;
        if self.c >= temp {
            self.c -= 0x8000;
        }
        self.c <<= self.ct;
        self.byte_out();
        self.c <<= self.ct;
        self.byte_out();
        if self.b != Some(0xFF) {
            self.emit(0xFF);
        }
        self.emit(0xAC);
        if let Some(b) = self.b.take() {
            self.out.push(b);
        }
        // The first byte written is the virtual one before the buffer; it was never pushed.
        self.out
    }
}
