//! CCITT Group 4 for 1-bit pages: lossless, about a tenth of the raw size on text.

use fax::{Color, VecWriter, encoder::Encoder};

use crate::pages::Raster;

/// Encodes a bitonal raster (rows packed MSB first, `1` = black) as a G4 stream with `/BlackIs1 false`.
pub fn encode_g4(r: &Raster) -> Vec<u8> {
    let w = r.width as usize;
    let stride = w.div_ceil(8);
    let mut enc = Encoder::new(VecWriter::with_capacity(r.data.len() / 8));
    for row in r.data.chunks_exact(stride).take(r.height as usize) {
        let pels = (0..w).map(|x| if row[x / 8] & (0x80 >> (x % 8)) != 0 { Color::Black } else { Color::White });
        // VecWriter cannot fail: its error type is Infallible.
        let Ok(()) = enc.encode_line(pels, r.width);
    }
    match enc.finish() {
        Ok(w) => w.finish(),
        Err(never) => match never {},
    }
}

/// Decodes a G4 stream (as a scanner PDF stores a black-and-white page) into a bitonal raster, for the
/// readers that need pixels (separator sheets, thumbnails); `None` when the stream is damaged.
pub fn decode_g4(data: &[u8], width: u32, height: u32, black_is_1: bool) -> Option<Raster> {
    let stride = (width as usize).div_ceil(8);
    let mut out = vec![0u8; stride * height as usize];
    let mut y = 0usize;
    let black = if black_is_1 { Color::White } else { Color::Black };
    fax::decoder::decode_g4(data.iter().copied(), width, Some(height), |line| {
        if let Some(row) = out.get_mut(y * stride..(y + 1) * stride) {
            for (x, px) in fax::decoder::pels(line, width).enumerate().take(width as usize) {
                if px == black {
                    row[x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        y += 1;
    })?;
    Some(Raster { width, height, kind: crate::pages::RasterKind::Bitonal, data: out })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::RasterKind;

    #[test]
    fn round_trips_through_the_decoder() {
        let (w, h) = (37u32, 20u32);
        let stride = (w as usize).div_ceil(8);
        let mut data = vec![0u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                if (x * 7 + y * 3) % 11 < 4 {
                    data[y * stride + x / 8] |= 0x80 >> (x % 8);
                }
            }
        }
        let r = Raster { width: w, height: h, kind: RasterKind::Bitonal, data: data.clone() };
        let g4 = encode_g4(&r);
        let mut rows = Vec::new();
        fax::decoder::decode_g4(g4.iter().copied(), w, Some(h), |line| {
            let mut packed = vec![0u8; stride];
            for (x, px) in fax::decoder::pels(line, w).enumerate() {
                if px == Color::Black {
                    packed[x / 8] |= 0x80 >> (x % 8);
                }
            }
            rows.extend(packed);
        });
        assert_eq!(rows, data);
    }
}
