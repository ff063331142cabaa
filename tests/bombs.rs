//! Decompression bombs and the largest inputs the default limits let in: each kind goes through the
//! real binary alone, and the kernel's count of its peak resident memory (`getrusage` of the only child
//! of a small Python wrapper) must stay under 512 MiB whatever the file claims or inflates to. Every
//! file also ends with exactly one outcome, and a refused one with the reason a clerk can act on.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::*;
use flate2::Compression;
use flate2::write::ZlibEncoder;

/// The peak memory no single input may take the process past.
const PEAK_LIMIT_MIB: u64 = 512;

/// Runs the binary under a Python wrapper whose only child it is, and gives the exit code and the
/// child's peak resident memory in MiB (Linux reports `ru_maxrss` in KiB).
fn peak_of(data: &Path, args: &[&str]) -> (Option<i32>, u64, String) {
    const WRAP: &str = "import resource, subprocess, sys\n\
r = subprocess.run(sys.argv[1:], capture_output=True)\n\
sys.stdout.write(r.stdout.decode('utf-8', 'replace') + r.stderr.decode('utf-8', 'replace'))\n\
sys.stderr.write('%d' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n\
sys.exit(r.returncode)\n";
    let plain = command(data);
    let mut c = std::process::Command::new("python3");
    c.args(["-c", WRAP]).arg(plain.get_program()).args(plain.get_args()).args(args);
    for (k, v) in plain.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    let o = c.output().expect("python3 runs the wrapper");
    let kib: u64 = String::from_utf8_lossy(&o.stderr).trim().parse().unwrap_or(u64::MAX);
    (o.status.code(), kib / 1024, String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `head`, then `n` bytes of `byte`, then `tail`, through zlib a mebibyte at a time (the test itself
/// stays small).
fn deflated(head: &[u8], byte: u8, n: usize, tail: &[u8]) -> Vec<u8> {
    let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
    z.write_all(head).unwrap();
    let chunk = vec![byte; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len());
        z.write_all(&chunk[..k]).unwrap();
        left -= k;
    }
    z.write_all(tail).unwrap();
    z.finish().unwrap()
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], body: &[u8]) {
    out.extend((body.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(body);
    out.extend(kind);
    out.extend(body);
    out.extend(crc.sum().to_be_bytes());
}

/// A PNG of `w`×`h` zero pixels: colour type 0 gray, 2 RGB or 6 RGBA, at `bits` 8 or 16, its rows
/// streamed through zlib — only the first `rows` of them when given (the header alone is what a size
/// check reads) — after the chunks in `extra`.
fn png_of_zeros(w: u32, h: u32, colour: u8, bits: u8, rows: Option<u32>, extra: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([bits, colour, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    for (kind, body) in extra {
        png_chunk(&mut out, kind, body);
    }
    let channels = match colour {
        2 => 3,
        6 => 4,
        _ => 1,
    };
    let row = 1 + w as usize * channels * usize::from(bits / 8);
    png_chunk(&mut out, b"IDAT", &deflated(b"", 0, row * rows.unwrap_or(h) as usize, b""));
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// An `iCCP` chunk whose profile inflates to `n` bytes.
fn colour_profile_of(n: usize) -> Vec<u8> {
    let mut body = b"icc\0\0".to_vec();
    body.extend(deflated(b"", 0, n, b""));
    body
}

/// A little-endian TIFF of one strip of `count` bytes: `tags` as (tag, type, count, value or offset),
/// the strip at 8, `extra` after it, then the directory.
fn tiff(strip: &[u8], count: u32, mut tags: Vec<(u16, u16, u32, u32)>, extra: &[u8]) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    let ifd = 8 + strip.len() + extra.len();
    out.extend((ifd as u32).to_le_bytes());
    out.extend(strip);
    out.extend(extra);
    tags.push((273, 4, 1, 8)); // StripOffsets
    tags.push((279, 4, 1, count)); // StripByteCounts
    tags.sort();
    out.extend((tags.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in tags {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(count.to_le_bytes());
        if kind == 3 && count == 1 {
            out.extend((value as u16).to_le_bytes());
            out.extend([0, 0]);
        } else {
            out.extend(value.to_le_bytes());
        }
    }
    out.extend([0, 0, 0, 0]);
    out
}

/// An 8-bit TIFF page of `w`×`h` whose one strip (Deflate, or LZW) inflates to `inflated` bytes; a
/// palette page when `palette`.
fn tiff_bomb(w: u32, h: u32, inflated: usize, palette: bool, lzw: bool) -> Vec<u8> {
    let mut strip = if lzw {
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(&vec![0u8; inflated]).unwrap()
    } else {
        deflated(b"", 0, inflated, b"")
    };
    let count = strip.len() as u32;
    // What follows the strip starts at an even offset, as TIFF wants.
    if strip.len() % 2 == 1 {
        strip.push(0);
    }
    // The colour map (three runs of 256 shorts) sits between the strip and the directory.
    let map: Vec<u8> = (0..768u32).flat_map(|i| (((i % 256) * 257) as u16).to_le_bytes()).collect();
    let map_at = 8 + strip.len() as u32;
    let mut tags = vec![
        (256, 4, 1, w),
        (257, 4, 1, h),
        (258, 3, 1, 8),
        (259, 3, 1, if lzw { 5 } else { 8 }),
        (262, 3, 1, if palette { 3 } else { 1 }),
        (277, 3, 1, 1),
        (278, 4, 1, h),
    ];
    if palette {
        tags.push((320, 3, 768, map_at));
    }
    tiff(&strip, count, tags, if palette { &map } else { &[] })
}

/// A JPEG whose frame header claims `w`×`h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut b = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut b).encode(&[128u8; 64], 8, 8, image::ExtendedColorType::L8).unwrap();
    // Walk the segments to the frame header: its height, then its width, after length and precision.
    let mut at = 2;
    while b[at + 1] != 0xC0 {
        at += 2 + u16::from_be_bytes([b[at + 2], b[at + 3]]) as usize;
    }
    b[at + 5..at + 7].copy_from_slice(&h.to_be_bytes());
    b[at + 7..at + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// A PDF of these objects (numbered from 1, the catalog first), with its cross-reference table.
fn raw_pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    let trailer = format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1);
    out.extend(trailer.as_bytes());
    out
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend(data);
    s.extend(b"\nendstream");
    s
}

/// A one-page PDF whose page is one 1000×1000 gray image behind `filter`.
fn one_image(catalog: Vec<u8>, pages: Vec<u8>, page: impl Fn(&str) -> Vec<u8>, filter: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "/Type /XObject /Subtype /Image /Width 1000 /Height 1000 /ColorSpace /DeviceGray /BitsPerComponent 8 \
         /Filter {filter}"
    );
    raw_pdf(&[
        catalog,
        pages,
        page("/XObject << /Im0 5 0 R >>"),
        stream("", b"q 612 0 0 792 0 0 cm /Im0 Do Q"),
        stream(&dict, data),
    ])
}

/// A scanner's PDF of `pages` A4 300-dpi colour JPEG pages of about 3.5 MB each (noise compresses
/// badly): the largest files the default `output.max_bytes` lets in are made of such pages.
fn scanner_pdf(pages: usize) -> Vec<u8> {
    let (w, h) = (2480u32, 3508u32);
    let mut seed = 7u32;
    let small = image::RgbImage::from_fn(248, 351, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        image::Rgb([(seed >> 24) as u8, (seed >> 16) as u8, (seed >> 8) as u8])
    });
    let big = image::imageops::resize(&small, w, h, image::imageops::FilterType::Triangle);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92).encode_image(&big).unwrap();
    let kids: Vec<String> = (0..pages).map(|k| format!("{} 0 R", 3 + 3 * k)).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!("<< /Type /Pages /Kids [{}] /Count {pages} >>", kids.join(" ")).into_bytes(),
    ];
    for k in 0..pages {
        let (content, image) = (4 + 3 * k, 5 + 3 * k);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.2 841.92] /Contents {content} 0 R \
                 /Resources << /XObject << /Im0 {image} 0 R >> >> >>"
            )
            .into_bytes(),
        );
        objects.push(stream("", b"q 595.2 0 0 841.92 0 0 cm /Im0 Do Q"));
        // A comment segment of its own after the start marker: no two pages are the same bytes.
        let mut own = jpeg[..2].to_vec();
        own.extend([0xFF, 0xFE, 0x00, 0x06]);
        own.extend((k as u32).to_be_bytes());
        own.extend(&jpeg[2..]);
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode"),
            &own,
        ));
    }
    raw_pdf(&objects)
}

/// What inflates in a one-page PDF bomb.
enum PdfBomb {
    /// The page's content stream (born digital: read whole before it is attached).
    Content,
    /// An object stream, inflated while the file is opened.
    ObjectStream,
    /// The page's one image (a scanner's PDF: its pixels are decoded).
    Image,
    /// The page's one image behind ASCIIHex and Flate, filters no scanner writes: the file is read as
    /// born digital, and its image must be measured all the same.
    HexImage,
}

fn pdf_bomb(kind: PdfBomb, inflated: usize) -> Vec<u8> {
    let catalog = b"<< /Type /Catalog /Pages 2 0 R >>".to_vec();
    let pages = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec();
    let page = |resources: &str| {
        format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << {resources} >> >>")
            .into_bytes()
    };
    match kind {
        PdfBomb::Content => {
            let content = deflated(b"", b' ', inflated, b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET");
            raw_pdf(&[
                catalog,
                pages,
                page("/Font << /F1 5 0 R >>"),
                stream("/Filter /FlateDecode", &content),
                b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
            ])
        }
        PdfBomb::ObjectStream => raw_pdf(&[
            catalog,
            pages,
            page(""),
            stream("", b"0 0 m 10 10 l S"),
            // Object 900 of the stream is a number; the spaces after it are what inflates.
            stream("/Type /ObjStm /N 1 /First 6 /Filter /FlateDecode", &deflated(b"900 0 42", b' ', inflated, b"")),
        ]),
        PdfBomb::HexImage => {
            let mut hex: Vec<u8> =
                deflated(b"", 0, inflated, b"").iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
            hex.push(b'>');
            one_image(catalog, pages, page, "[/ASCIIHexDecode /FlateDecode]", &hex)
        }
        PdfBomb::Image => one_image(catalog, pages, page, "/FlateDecode", &deflated(b"", 0, inflated, b"")),
    }
}

#[test]
fn no_single_input_takes_the_process_past_512_mib() {
    const GIB: usize = 1 << 30;
    // (name, bytes, the reason it is refused with; None when it may be taken: its pixels are what the
    // header says, within the limits).
    let kinds: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("png-claims-3600-megapixels.png", png_of_zeros(60_000, 60_000, 0, 8, Some(4), &[]), Some("too-large")),
        ("png-gray-144-megapixels.png", png_of_zeros(12_000, 12_000, 0, 8, None, &[]), None),
        ("png-rgb-144-megapixels.png", png_of_zeros(12_000, 12_000, 2, 8, None, &[]), None),
        // 64 megapixels, within the limit, at 8 bytes a pixel: 512 MB to decode.
        ("png-rgba16-64-megapixels.png", png_of_zeros(8_000, 8_000, 6, 16, None, &[]), Some("too-large")),
        (
            "png-colour-profile-1gib.png",
            png_of_zeros(100, 100, 0, 8, None, &[(b"iCCP", colour_profile_of(GIB))]),
            Some("too-large"),
        ),
        ("jpeg-claims-4000-megapixels.jpg", jpeg_claiming(65_000, 65_000), Some("too-large")),
        ("tiff-palette-deflate-1gib.tif", tiff_bomb(1000, 1000, GIB, true, false), None),
        ("tiff-palette-lzw-256mib.tif", tiff_bomb(1000, 1000, GIB / 4, true, true), None),
        ("tiff-gray-deflate-1gib.tif", tiff_bomb(1000, 1000, GIB, false, false), None),
        ("pdf-content-1gib.pdf", pdf_bomb(PdfBomb::Content, GIB), Some("pdf-bomb")),
        ("pdf-object-stream-1gib.pdf", pdf_bomb(PdfBomb::ObjectStream, GIB), Some("pdf-bomb")),
        ("pdf-image-1gib.pdf", pdf_bomb(PdfBomb::Image, GIB), Some("pdf-bomb")),
        ("pdf-hex-flate-image-1gib.pdf", pdf_bomb(PdfBomb::HexImage, GIB), Some("pdf-bomb")),
        // Just under the default `output.max_bytes` (100 MiB): read whole at split and at render.
        ("pdf-scanner-97-mib.pdf", scanner_pdf(28), None),
        // Over it: refused by its recorded size, never read into memory.
        ("pdf-over-max-bytes.pdf", [b"%PDF-1.4\n".as_slice(), &vec![b' '; 300 << 20]].concat(), Some("too-large")),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (name, bytes, refused) in kinds {
        let (data, src) = (tmp.path().join(format!("data-{name}")), tmp.path().join(format!("src-{name}")));
        fs::create_dir_all(src.join(CODE)).unwrap();
        fs::write(src.join(CODE).join(name), &bytes).unwrap();
        let (code, peak, out) = peak_of(&data, &["ingest", src.to_str().unwrap()]);
        let rows: Vec<(String, Option<String>)> = query(&data, "SELECT state, reason_code FROM intakes");
        println!("{name}: {} KiB on disk, peak {peak} MiB, exit {code:?}, {rows:?}", bytes.len() / 1024);
        if peak >= PEAK_LIMIT_MIB {
            wrong.push(format!("{name}: peak {peak} MiB\n{out}"));
        }
        let ended = match refused {
            Some(why) => rows == [("quarantined".to_string(), Some(why.to_string()))],
            None => rows == [("split".to_string(), None)],
        };
        if !ended {
            wrong.push(format!("{name}: ended as {rows:?}, expected {refused:?}\n{out}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// Many large pages at once share the page budget (`output.page_memory_mb`, 384 MiB by default)
/// instead of adding up: eight 49-megapixel colour pages (147 MB of pixels each, 1.2 GB together) in
/// four dossiers, checked and made by every worker at once, keep the process under 512 MiB.
#[test]
fn large_pages_at_once_wait_for_room_instead_of_adding_up() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    for k in 0..8u32 {
        let dir = src.join(format!("H15.50.05.13-261008-{:04}", 976 + k / 2));
        fs::create_dir_all(&dir).unwrap();
        // A text chunk of its own, so that no two files are the same bytes.
        let own = format!("Comment\0page {k}").into_bytes();
        fs::write(dir.join(format!("p{k}.png")), png_of_zeros(7_000, 7_000, 2, 8, None, &[(b"tEXt", own)])).unwrap();
    }
    let data = tmp.path().join("data");
    let (code, peak, out) = peak_of(&data, &["ingest", src.to_str().unwrap()]);
    let rows: Vec<(String,)> = query(&data, "SELECT state FROM pages");
    println!("eight 49-megapixel colour pages: peak {peak} MiB, exit {code:?}");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(rows.len(), 8, "{out}");
    assert!(rows.iter().all(|(s,)| s == "attached"), "{rows:?}");
    assert_eq!(pdfs(&data, "H15.50.05.13-261008-0976").len(), 2, "a document per file");
    assert!(peak < PEAK_LIMIT_MIB, "peak {peak} MiB\n{out}");
}
