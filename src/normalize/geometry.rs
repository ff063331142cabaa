//! Pixel geometry for pages that are re-encoded anyway: crop, a 1-bit rotate, downsampling. Pages that
//! keep their bytes get the same geometry in the PDF's placement matrix instead (`bundle::pdf`).

use crate::pages::{Raster, RasterKind};

use super::binarize::Bits;
use super::border::Rect;

/// The pixels of `rect` (clipped to the raster). Bitonal rasters are not cropped here (their bits are
/// packed); the caller crops them in the PDF.
pub fn crop(r: &Raster, rect: Rect) -> Raster {
    let channels = match r.kind {
        RasterKind::Gray => 1,
        RasterKind::Rgb => 3,
        RasterKind::Cmyk => 4,
        RasterKind::Bitonal => return r.clone(),
    };
    let [x0, y0, x1, y1] = rect.map(|v| v as usize);
    let (x1, y1) = (x1.min(r.width as usize), y1.min(r.height as usize));
    if x0 >= x1 || y0 >= y1 {
        return r.clone(); // an empty rectangle: nothing sensible to keep but the page
    }
    let w = r.width as usize;
    let mut data = Vec::with_capacity((x1 - x0) * (y1 - y0) * channels);
    for y in y0..y1 {
        data.extend_from_slice(&r.data[(y * w + x0) * channels..(y * w + x1) * channels]);
    }
    Raster { width: (x1 - x0) as u32, height: (y1 - y0) as u32, kind: r.kind, data }
}

/// Turns a 1-bit page clockwise by `degrees` about its centre onto a canvas grown by `grow` pixels
/// on each side (left, top, right, bottom) so no ink falls off; nearest neighbour, white outside.
pub fn rotate_bits(src: &Bits, degrees: f64, grow: [usize; 4]) -> Bits {
    let (w, h) = (src.width, src.height);
    let (ow, oh) = (w + grow[0] + grow[2], h + grow[1] + grow[3]);
    let mut out = Bits::white(ow, oh);
    let (s, c) = degrees.to_radians().sin_cos();
    // Centre of the source in output coordinates.
    let (cx, cy) = (grow[0] as f64 + w as f64 / 2.0, grow[1] as f64 + h as f64 / 2.0);
    let (scx, scy) = (w as f64 / 2.0, h as f64 / 2.0);
    const ONE: f64 = 65536.0;
    let ostride = out.stride();
    let sstride = src.stride();
    for oy in 0..oh {
        let dy = oy as f64 + 0.5 - cy;
        // Inverse map (turn back counter-clockwise): source = R(-θ)·(out − centre) + centre, with the
        // screen's y axis pointing down (clockwise on screen is (x cos − y sin, x sin + y cos)).
        let dx0 = 0.5 - cx;
        let mut sx = ((dx0 * c + dy * s + scx) * ONE) as i64;
        let mut sy = ((-dx0 * s + dy * c + scy) * ONE) as i64;
        let (ix, iy) = ((c * ONE) as i64, (-s * ONE) as i64);
        let row = &mut out.data[oy * ostride..(oy + 1) * ostride];
        for ox in 0..ow {
            let (x, y) = (sx >> 16, sy >> 16);
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                let (x, y) = (x as usize, y as usize);
                if src.data[y * sstride + x / 8] & (0x80 >> (x % 8)) != 0 {
                    row[ox / 8] |= 0x80 >> (ox % 8);
                }
            }
            sx += ix;
            sy += iy;
        }
    }
    out
}

/// Resamples a gray or colour page to `scale` (< 1) of its size; other rasters come back as they are.
pub fn downsample(r: &Raster, scale: f64) -> Raster {
    let (nw, nh) =
        (((r.width as f64) * scale).round().max(1.0) as u32, ((r.height as f64) * scale).round().max(1.0) as u32);
    let resized = match r.kind {
        RasterKind::Gray => image::GrayImage::from_raw(r.width, r.height, r.data.clone())
            .map(|img| image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle).into_raw()),
        RasterKind::Rgb => image::RgbImage::from_raw(r.width, r.height, r.data.clone())
            .map(|img| image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle).into_raw()),
        _ => None,
    };
    match resized {
        Some(data) => Raster { width: nw, height: nh, kind: r.kind, data },
        None => r.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turned_bar_keeps_its_length_and_its_ink_stays_on_the_page() {
        let mut b = Bits::white(200, 100);
        for x in 10..190 {
            for y in 48..52 {
                b.set(x, y);
            }
        }
        let grow = [0, 60, 0, 60];
        let r = rotate_bits(&b, 30.0, grow);
        let black: usize = r.data.iter().map(|v| v.count_ones() as usize).sum();
        assert!((black as i64 - 720).abs() < 60, "{black}");
        // Turned clockwise on screen: the right end goes down.
        let ys: Vec<usize> = (0..r.height).filter(|y| (0..r.width).any(|x| r.get(x, *y))).collect();
        assert!(ys.len() > 80, "spans {} rows", ys.len());
        let right_low = (0..r.height).rev().find(|y| (r.width - 40..r.width).any(|x| r.get(x, *y))).unwrap_or(0);
        let left_low = (0..r.height).rev().find(|y| (0..40).any(|x| r.get(x, *y))).unwrap_or(0);
        assert!(right_low > left_low);
    }
}
