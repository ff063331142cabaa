//! JPEG: a marker walk that proves the stream is whole and reads what the PDF needs, without decoding.
//! The bytes then go into the PDF unchanged (DCTDecode passthrough).

use super::{Colour, Limits, PageImage, PageInfo, SourceEncoding};
use crate::error::{Code, Failure, Result};

/// What the marker walk found.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Header {
    pub width: u32,
    pub height: u32,
    pub components: u8,
    pub adobe: bool,
    pub dpi: Option<(f64, f64)>,
    /// The embedded ICC profile, reassembled from its APP2 chunks.
    pub icc: Option<Vec<u8>>,
    /// EXIF orientation, 1–8.
    pub orientation: u8,
    /// Each component's sampling factors (horizontal, vertical).
    pub sampling: Vec<(u32, u32)>,
    /// Whether the frame is progressive (or hierarchical) rather than sequential.
    pub progressive: bool,
    /// Bytes from the first scan to the first end marker: the coded image data.
    pub scan_bytes: usize,
}

impl Header {
    /// Refuses a JPEG whose coded data is too short for the pixels its header gives (see
    /// [`least_scan_bytes`]). Checked after the size limits, so a huge claim is refused as too large.
    pub fn holds_its_pixels(&self) -> Result<()> {
        let (w, h) = (self.width, self.height);
        if (self.scan_bytes as u64) < least_scan_bytes(w, h, &self.sampling, self.progressive) {
            return Err(Failure::bad(
                Code::TruncatedJpeg,
                format!(
                    "the JPEG holds less image data than its {w}×{h} pixels need at the least (its header claims \
                     more than the file has): it is damaged or cut short; scan again"
                ),
            ));
        }
        Ok(())
    }
}

fn truncated() -> Failure {
    Failure::bad(
        Code::TruncatedJpeg,
        "the JPEG is cut short (no end marker): the scan or the copy did not finish; scan again",
    )
}

/// Walks the markers from SOI to EOI.
pub(super) fn scan(b: &[u8]) -> Result<Header> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err(Failure::bad(Code::NotAJpeg, "the file does not start like a JPEG"));
    }
    let mut i = 2;
    let mut sof: Option<(u32, u32, u8)> = None;
    // Each component's sampling factors, and whether the scans are progressive.
    let mut sampling: Vec<(u32, u32)> = Vec::new();
    let mut progressive = false;
    let scan_bytes;
    // The frame's components (id, quantization table), and the tables defined so far.
    let mut components: Vec<(u8, u8)> = Vec::new();
    let (mut huffman, mut quant) = (Vec::<(u8, u8)>::new(), Vec::<u8>::new());
    let (mut jfif, mut exif, mut adobe, mut orientation) = (None, None, false, 1u8);
    let mut icc_chunks: Vec<(u8, Vec<u8>)> = Vec::new();
    loop {
        // Find the next marker, skipping fill bytes.
        while i < b.len() && b[i] != 0xFF {
            i += 1;
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = b.get(i) else {
            return Err(truncated());
        };
        i += 1;
        match m {
            0xD9 => {
                return Err(Failure::bad(
                    Code::EmptyImage,
                    "the JPEG ends before any image data (no scan); the scanner wrote only its header",
                ));
            }
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = match (b.get(i), b.get(i + 1)) {
            (Some(h), Some(l)) => ((*h as usize) << 8) | *l as usize,
            _ => return Err(truncated()),
        };
        if len < 2 || i + len > b.len() {
            return Err(truncated());
        }
        let seg = &b[i + 2..i + len];
        match m {
            0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(Failure::bad(
                    Code::ArithmeticJpeg,
                    "the JPEG uses arithmetic coding, which PDF readers and sohoa do not support; set the \
                     scanner to standard (Huffman) JPEG",
                ));
            }
            0xC3 | 0xC7 => {
                return Err(Failure::bad(
                    Code::LosslessJpeg,
                    "the JPEG uses the lossless process, which PDF does not support; save as PNG or TIFF",
                ));
            }
            0xC0..=0xC2 | 0xC5 | 0xC6 => {
                if seg.len() < 6 {
                    return Err(truncated());
                }
                let h = u16::from_be_bytes([seg[1], seg[2]]) as u32;
                let w = u16::from_be_bytes([seg[3], seg[4]]) as u32;
                sof = Some((w, h, seg[5]));
                progressive = m != 0xC0 && m != 0xC1;
                sampling = seg[6..].chunks_exact(3).map(|c| (u32::from(c[1] >> 4), u32::from(c[1] & 15))).collect();
                components = seg[6..].chunks_exact(3).map(|c| (c[0], c[2])).collect();
            }
            0xC4 => {
                // Huffman tables: class and id, 16 code counts, the symbols.
                let mut at = 0;
                while let Some(&which) = seg.get(at) {
                    let counts = seg.get(at + 1..at + 17).ok_or_else(truncated)?;
                    huffman.push((which >> 4, which & 15));
                    at += 17 + counts.iter().map(|c| *c as usize).sum::<usize>();
                }
            }
            0xDB => {
                // Quantization tables: precision and id, then 64 values of 1 or 2 bytes.
                let mut at = 0;
                while let Some(&which) = seg.get(at) {
                    quant.push(which & 15);
                    at += 1 + if which >> 4 == 0 { 64 } else { 128 };
                }
            }
            0xE0 if seg.starts_with(b"JFIF\0") && seg.len() >= 12 => {
                let unit = seg[7];
                let (x, y) =
                    (u16::from_be_bytes([seg[8], seg[9]]) as f64, u16::from_be_bytes([seg[10], seg[11]]) as f64);
                jfif = match unit {
                    1 if x > 0.0 && y > 0.0 => Some((x, y)),
                    2 if x > 0.0 && y > 0.0 => Some((x * 2.54, y * 2.54)),
                    _ => None,
                };
            }
            0xE1 if seg.starts_with(b"Exif\0\0") => {
                let tags = exif_tags(&seg[6..]);
                exif = tags.as_ref().and_then(|t| t.0);
                orientation = tags.map(|t| t.1).unwrap_or(1);
            }
            0xEE if seg.starts_with(b"Adobe") => adobe = true,
            0xE2 if seg.starts_with(b"ICC_PROFILE\0") && seg.len() > 14 => {
                icc_chunks.push((seg[12], seg[14..].to_vec()))
            }
            0xDA => {
                // Everything the header needs comes before the first scan; what follows only has to
                // be complete. Entropy-coded data never holds 0xFF 0xD9 (a 0xFF there is stuffed as
                // 0xFF00 or starts a restart marker), so the file is whole when that pair appears
                // after this point: searched from the end, it is found at once rather than after
                // megabytes of stuffed bytes. (Only a segment between progressive scans — a table,
                // a comment — could hold the pair by chance and let a file cut short after it through.)
                if memchr::memmem::rfind(&b[i + len..], &[0xFF, 0xD9]).is_none() {
                    return Err(truncated());
                }
                undefined_tables(seg, &components, &huffman, &quant, progressive)?;
                // The coded data runs to the first end marker: what follows it is not image data.
                let end = memchr::memmem::find(&b[i + len..], &[0xFF, 0xD9]).map_or(b.len(), |e| i + len + e);
                scan_bytes = end - i;
                break;
            }
            _ => {}
        }
        i += len;
    }
    let Some((width, height, components)) = sof else {
        return Err(Failure::bad(Code::NotAJpeg, "the JPEG has no image header (SOF)"));
    };
    if !matches!(components, 1 | 3 | 4) {
        return Err(Failure::bad(
            Code::JpegComponents,
            format!("the JPEG has {components} colour components; PDF takes 1, 3 or 4"),
        ));
    }
    // A density of 1×1 or 72×72 with no unit information is a placeholder, not a measurement.
    let dpi = jfif.or(exif).filter(|(x, y)| *x >= 10.0 && *y >= 10.0);
    icc_chunks.sort_by_key(|(n, _)| *n);
    let icc = (!icc_chunks.is_empty()).then(|| icc_chunks.into_iter().flat_map(|(_, d)| d).collect());
    Ok(Header { width, height, components, adobe, dpi, icc, orientation, sampling, progressive, scan_bytes })
}

/// Refuses a first scan that uses a component the frame does not have, or a table never defined: a
/// reader cannot decode it (qpdf: "Huffman table 0x03 was not defined"). A file with no Huffman
/// tables at all may use tables 0 and 1, the standard ones (as motion-JPEG frames do).
fn undefined_tables(
    sos: &[u8],
    components: &[(u8, u8)],
    huffman: &[(u8, u8)],
    quant: &[u8],
    progressive: bool,
) -> Result<()> {
    let broken = |what: &str| {
        Failure::bad(
            Code::BrokenJpeg,
            format!("the JPEG's image data uses {what} it never defines: the file is damaged; scan again"),
        )
    };
    let n = usize::from(*sos.first().ok_or_else(truncated)?);
    let list = sos.get(1..1 + 2 * n).ok_or_else(truncated)?;
    let (ss, ah) = (sos.get(1 + 2 * n).copied().unwrap_or(0), sos.get(3 + 2 * n).map_or(0, |a| a >> 4));
    let defined = |class: u8, id: u8| huffman.contains(&(class, id)) || (huffman.is_empty() && id <= 1);
    for c in list.chunks_exact(2) {
        let Some(&(_, tq)) = components.iter().find(|(id, _)| *id == c[0]) else {
            return Err(broken("a colour component"));
        };
        if !quant.contains(&tq) {
            return Err(broken("a quantization table"));
        }
        let (dc, ac) = (c[1] >> 4, c[1] & 15);
        let needs_dc = !progressive || (ss == 0 && ah == 0);
        let needs_ac = !progressive || ss > 0;
        if (needs_dc && !defined(0, dc)) || (needs_ac && !defined(1, ac)) {
            return Err(broken("a Huffman table"));
        }
    }
    Ok(())
}

/// The fewest bytes the coded scans of a JPEG this size can take, whatever the content: in sequential
/// Huffman coding every 8×8 block of every component spends at least one bit on its DC difference and
/// one on its end-of-block code; in progressive coding the first (DC) scan of the first component at
/// least one bit per block. A file with less cannot hold the pixels its header promises (a header
/// copied onto a smaller image, a file cut short with its end marker put back) — and a reader would
/// show grey where the page should be. A lower bound, never an estimate: a real scan of a blank page
/// is still far above it.
fn least_scan_bytes(width: u32, height: u32, sampling: &[(u32, u32)], progressive: bool) -> u64 {
    let hmax = sampling.iter().map(|s| s.0).max().unwrap_or(1).max(1);
    let vmax = sampling.iter().map(|s| s.1).max().unwrap_or(1).max(1);
    let blocks = |&(h, v): &(u32, u32)| {
        let cols = (u64::from(width) * u64::from(h)).div_ceil(u64::from(hmax)).div_ceil(8);
        let rows = (u64::from(height) * u64::from(v)).div_ceil(u64::from(vmax)).div_ceil(8);
        cols * rows
    };
    let bits = if progressive {
        sampling.first().map(blocks).unwrap_or(0)
    } else {
        2 * sampling.iter().map(blocks).sum::<u64>()
    };
    bits / 8
}

/// Reads the resolution (XResolution/YResolution/ResolutionUnit) and the Orientation (1–8) from IFD0
/// of an EXIF block.
fn exif_tags(t: &[u8]) -> Option<(Option<(f64, f64)>, u8)> {
    let le = match t.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |o: usize| -> Option<u32> {
        let s = t.get(o..o + 2)?;
        Some(if le { u16::from_le_bytes([s[0], s[1]]) } else { u16::from_be_bytes([s[0], s[1]]) } as u32)
    };
    let u32_at = |o: usize| -> Option<u32> {
        let s = t.get(o..o + 4)?;
        let a = [s[0], s[1], s[2], s[3]];
        Some(if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) })
    };
    let ifd = u32_at(4)? as usize;
    let n = u16_at(ifd)? as usize;
    let (mut x, mut y, mut unit, mut orientation) = (None, None, 2u32, 1u8);
    for k in 0..n.min(256) {
        let e = ifd + 2 + k * 12;
        let tag = u16_at(e)?;
        let rational = |e: usize| -> Option<f64> {
            let off = u32_at(e + 8)? as usize;
            let (num, den) = (u32_at(off)?, u32_at(off + 4)?);
            (den != 0).then(|| num as f64 / den as f64)
        };
        match tag {
            0x011A => x = rational(e),
            0x011B => y = rational(e),
            0x0128 => unit = u16_at(e + 8)?,
            0x0112 => orientation = u16_at(e + 8).filter(|o| (1..=8).contains(o)).unwrap_or(1) as u8,
            _ => {}
        }
    }
    let f = match unit {
        2 => Some(1.0),
        3 => Some(2.54),
        _ => None,
    };
    let dpi = match (x, y, f) {
        (Some(x), Some(y), Some(f)) => Some((x * f, y * f)),
        _ => None,
    };
    Some((dpi, orientation))
}

/// The EXIF orientation of a JPEG (1 upright … 8), 1 when it carries none or is not a JPEG.
pub fn orientation(b: &[u8]) -> u8 {
    scan(b).map(|h| h.orientation).unwrap_or(1)
}

pub(super) fn inspect(b: &[u8], limits: Limits) -> Result<PageInfo> {
    let h = scan(b)?;
    limits.check(h.width, h.height)?;
    limits.check_decoded(h.width, h.height, u64::from(h.components))?;
    h.holds_its_pixels()?;
    let colour = match h.components {
        1 => Colour::Gray,
        3 => Colour::Rgb,
        _ => Colour::Cmyk,
    };
    Ok(PageInfo {
        width: h.width,
        height: h.height,
        dpi: h.dpi.map(|(x, y)| (x, y, super::DpiSource::File)),
        colour,
        encoding: SourceEncoding::Jpeg,
    })
}

pub(super) fn load(b: &[u8]) -> Result<PageImage> {
    let h = scan(b)?;
    Ok(PageImage::Jpeg {
        data: b.to_vec(),
        width: h.width,
        height: h.height,
        components: h.components,
        inverted: h.components == 4 && h.adobe,
        icc: h.icc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_jpeg(density: Option<(u8, u16, u16)>) -> Vec<u8> {
        let img = image::GrayImage::from_pixel(16, 8, image::Luma([200]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut out).encode_image(&img).unwrap();
        if let Some((unit, x, y)) = density {
            // Patch the JFIF density the encoder wrote.
            let p = out.windows(5).position(|w| w == b"JFIF\0").unwrap();
            out[p + 7] = unit;
            out[p + 8..p + 10].copy_from_slice(&x.to_be_bytes());
            out[p + 10..p + 12].copy_from_slice(&y.to_be_bytes());
        }
        out
    }

    #[test]
    fn reads_size_and_density() {
        let h = scan(&tiny_jpeg(Some((1, 300, 300)))).unwrap();
        assert_eq!((h.width, h.height, h.components), (16, 8, 1));
        assert_eq!(h.dpi, Some((300.0, 300.0)));
        assert_eq!(scan(&tiny_jpeg(Some((0, 1, 1)))).unwrap().dpi, None);
    }

    #[test]
    fn a_header_promising_more_pixels_than_the_data_holds_is_refused() {
        // A white page compresses to almost nothing, and still passes.
        let white = image::GrayImage::from_pixel(1240, 1754, image::Luma([255]));
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50).encode_image(&white).unwrap();
        let white = scan(&out).unwrap();
        assert_eq!((white.width, white.height), (1240, 1754));
        assert!(white.holds_its_pixels().is_ok());
        // The tiny page with its header claiming 4000 × 4000.
        let mut j = tiny_jpeg(None);
        let p = j.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        j[p + 5..p + 7].copy_from_slice(&4000u16.to_be_bytes());
        j[p + 7..p + 9].copy_from_slice(&4000u16.to_be_bytes());
        let claims = scan(&j).unwrap();
        assert!(matches!(claims.holds_its_pixels(), Err(Failure::BadInput { code: Code::TruncatedJpeg, .. })));
        assert_eq!(least_scan_bytes(4000, 4000, &[(2, 2), (1, 1), (1, 1)], false), 93_750);
        assert_eq!(least_scan_bytes(4000, 4000, &[(1, 1)], true), 31_250);
    }

    #[test]
    fn truncation_and_arithmetic_are_refused() {
        let j = tiny_jpeg(None);
        for cut in [j.len() - 2, j.len() / 2, 4] {
            assert!(matches!(scan(&j[..cut]), Err(Failure::BadInput { .. })), "cut at {cut}");
        }
        let mut a = j.clone();
        let p = a.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        a[p + 1] = 0xC9;
        assert!(matches!(scan(&a), Err(Failure::BadInput { code: Code::ArithmeticJpeg, .. })));
    }

    #[test]
    fn a_header_without_a_scan_is_refused_and_data_after_the_end_is_not() {
        let j = tiny_jpeg(None);
        let sos = j.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let mut header_only = j[..sos].to_vec();
        header_only.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(scan(&header_only), Err(Failure::BadInput { code: Code::EmptyImage, .. })));
        let mut trailing = j.clone();
        trailing.extend_from_slice(b"vendor trailer after the end marker");
        assert_eq!(scan(&trailing).unwrap().width, 16);
    }
}
