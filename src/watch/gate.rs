//! The structural half of the stability gate: is this file whole, or is its writer still at it?
//!
//! Cheap checks that read only the ends of a file (and a TIFF's directories), so a scan still being
//! written is never captured half. A full decode happens later, in the pipeline, where it is needed anyway.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Whether the file looks complete. Unknown formats are "whole": the pipeline will say what they are.
pub fn is_whole(path: &Path) -> io::Result<bool> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut head = [0u8; 8];
    let n = read_up_to(&mut f, &mut head)?;
    let head = &head[..n];
    let tail = |f: &mut File, k: u64| -> io::Result<Vec<u8>> {
        let k = k.min(len);
        f.seek(SeekFrom::Start(len - k))?;
        let mut v = vec![0u8; k as usize];
        f.read_exact(&mut v)?;
        Ok(v)
    };
    if head.starts_with(&[0xFF, 0xD8]) {
        // EOI, possibly followed by a little padding.
        let t = tail(&mut f, 64)?;
        return Ok(t.windows(2).any(|w| w == [0xFF, 0xD9]));
    }
    if head.starts_with(b"\x89PNG") {
        return Ok(tail(&mut f, 12)? == b"\0\0\0\0IEND\xAE\x42\x60\x82");
    }
    if head.starts_with(b"%PDF") {
        let t = tail(&mut f, 1024)?;
        return Ok(t.windows(5).any(|w| w == b"%%EOF"));
    }
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        return tiff_whole(&mut f, len, head[0] == b'I');
    }
    Ok(true)
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Walks the IFD chain: every directory, and every strip or tile it points to, must lie inside the file.
fn tiff_whole(f: &mut File, len: u64, le: bool) -> io::Result<bool> {
    let rd = |f: &mut File, at: u64, n: usize| -> io::Result<Option<Vec<u8>>> {
        if at + n as u64 > len {
            return Ok(None);
        }
        f.seek(SeekFrom::Start(at))?;
        let mut v = vec![0u8; n];
        f.read_exact(&mut v)?;
        Ok(Some(v))
    };
    let u16_of = |b: &[u8]| if le { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) };
    let u32_of = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le { u32::from_le_bytes(a) } else { u32::from_be_bytes(a) }
    };
    let Some(h) = rd(f, 4, 4)? else { return Ok(false) };
    let mut ifd = u32_of(&h) as u64;
    for _ in 0..10_000 {
        if ifd == 0 {
            return Ok(true);
        }
        let Some(c) = rd(f, ifd, 2)? else { return Ok(false) };
        let count = u16_of(&c) as usize;
        let Some(entries) = rd(f, ifd + 2, count * 12 + 4)? else { return Ok(false) };
        let (mut offsets, mut counts) = (Vec::new(), Vec::new());
        for e in entries[..count * 12].chunks_exact(12) {
            let (tag, typ, n) = (u16_of(&e[0..2]), u16_of(&e[2..4]), u32_of(&e[4..8]) as usize);
            if !matches!(tag, 273 | 279 | 324 | 325) {
                continue;
            }
            let size = match typ {
                3 => 2,
                4 => 4,
                _ => continue,
            };
            let values = if size * n <= 4 {
                e[8..12].to_vec()
            } else {
                match rd(f, u32_of(&e[8..12]) as u64, size * n)? {
                    Some(v) => v,
                    None => return Ok(false),
                }
            };
            let vals: Vec<u64> = values
                .chunks_exact(size)
                .take(n)
                .map(|c| if size == 2 { u16_of(c) as u64 } else { u32_of(c) as u64 })
                .collect();
            if matches!(tag, 273 | 324) { offsets = vals } else { counts = vals }
        }
        if offsets.iter().zip(&counts).any(|(o, c)| o + c > len) {
            return Ok(false);
        }
        ifd = u32_of(&entries[count * 12..]) as u64;
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_written_files_are_not_whole() {
        let dir = tempfile::tempdir().unwrap();
        let img = image::RgbImage::from_pixel(64, 48, image::Rgb([200, 10, 10]));
        for (name, fmt) in [
            ("a.jpg", image::ImageFormat::Jpeg),
            ("a.png", image::ImageFormat::Png),
            ("a.tif", image::ImageFormat::Tiff),
        ] {
            let p = dir.path().join(name);
            img.save_with_format(&p, fmt).unwrap();
            assert!(is_whole(&p).unwrap(), "{name} whole");
            let bytes = std::fs::read(&p).unwrap();
            std::fs::write(&p, &bytes[..bytes.len() * 3 / 4]).unwrap();
            assert!(!is_whole(&p).unwrap(), "{name} cut");
        }
    }
}
