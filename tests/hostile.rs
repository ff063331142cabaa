//! Nothing wrong gets in: damaged and active born-digital PDFs, identical files whose routing failed,
//! case-folder copies that no longer match the record, files the watcher passes over — each with the
//! real binary on real files, judged by what is recorded and on disk.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A born-digital PDF with text (a separator sheet, printed by sohoa itself: fonts and a text layer).
fn text_pdf(dir: &Path) -> Vec<u8> {
    let out = dir.join("sheet.pdf");
    let o = sohoa(&dir.join("scratch"), &["separator", "print", CODE, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    fs::read(out).unwrap()
}

/// The same PDF with a catalog entry added (an open action, a name tree), saved anew.
fn with_catalog_entry(pdf: &[u8], key: &str, value: lopdf::Object) -> Vec<u8> {
    let mut doc = lopdf::Document::load_mem(pdf).unwrap();
    let root = doc.trailer.get(b"Root").unwrap().as_reference().unwrap();
    doc.get_object_mut(root).unwrap().as_dict_mut().unwrap().set(key, value);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn damaged_and_active_born_digital_pdfs_are_quarantined_and_a_whole_one_is_attached_as_it_is() {
    use lopdf::{Object, dictionary};
    let tmp = tempfile::tempdir().unwrap();
    let good = text_pdf(tmp.path());
    let src = tmp.path().join("src");
    let case = src.join(CODE);
    fs::create_dir_all(&case).unwrap();
    fs::write(case.join("a-good.pdf"), &good).unwrap();
    fs::write(case.join("b-cut-half.pdf"), &good[..good.len() / 2]).unwrap();
    let mut cut = good[..good.len() * 9 / 10].to_vec();
    cut.extend_from_slice(b"\n%%EOF\n");
    fs::write(case.join("c-cut-eof.pdf"), &cut).unwrap();
    // The same file linearized (its first cross-reference at the front, as web-optimized PDFs are):
    // cut short, a reader still finds a table to start from.
    let lin = tmp.path().join("lin.pdf");
    let st = std::process::Command::new("qpdf")
        .arg("--linearize")
        .arg(tmp.path().join("sheet.pdf"))
        .arg(&lin)
        .status()
        .unwrap();
    assert!(st.success());
    let lin = fs::read(&lin).unwrap();
    fs::write(case.join("g-linear-cut-half.pdf"), &lin[..lin.len() / 2]).unwrap();
    let mut cut = lin[..lin.len() * 9 / 10].to_vec();
    cut.extend_from_slice(b"\n%%EOF\n");
    fs::write(case.join("h-linear-cut-eof.pdf"), &cut).unwrap();
    let js = dictionary! { "S" => "JavaScript", "JS" => Object::string_literal("app.alert('x')") };
    fs::write(case.join("d-script.pdf"), with_catalog_entry(&good, "OpenAction", Object::Dictionary(js))).unwrap();
    let launch = dictionary! { "S" => "Launch", "F" => Object::string_literal("calc.exe") };
    fs::write(case.join("e-launch.pdf"), with_catalog_entry(&good, "OpenAction", Object::Dictionary(launch))).unwrap();
    let files = dictionary! { "EmbeddedFiles" => dictionary! { "Names" => Object::Array(vec![]) } };
    fs::write(case.join("f-attachment.pdf"), with_catalog_entry(&good, "Names", Object::Dictionary(files))).unwrap();

    let (data, rows) = ingest_quarantining(tmp.path(), &src);
    let got: Vec<(&str, &str)> = rows.iter().map(|(n, c, _)| (n.as_str(), c.as_str())).collect();
    println!("{rows:#?}");
    assert_eq!(got.len(), 7, "{rows:#?}");
    for (name, code, reason) in &rows {
        match name.as_str() {
            "b-cut-half.pdf" | "c-cut-eof.pdf" | "g-linear-cut-half.pdf" | "h-linear-cut-eof.pdf" => {
                assert!(code == "damaged-pdf" || code == "broken-pdf", "{name}: {code}");
                assert!(reason.contains("damaged") || reason.contains("cut short"), "{name}: {reason}");
                assert!(!reason.contains("no pages"), "{name}: {reason}");
            }
            _ => assert_eq!(code, "active-pdf", "{name}: {reason}"),
        }
    }
    // The whole one is the case's document, byte for byte; qpdf agrees it is whole.
    let attached = pdfs(&data, CODE);
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(fs::read(&attached[0]).unwrap(), good);
    qpdf_check(&attached[0]);
    // What qpdf says of the refused ones: each cut file is damaged in its eyes too (an independent judge).
    for name in ["b-cut-half.pdf", "c-cut-eof.pdf", "g-linear-cut-half.pdf", "h-linear-cut-eof.pdf"] {
        let view = data.join("quarantine").join(CODE).join(name);
        let q = std::process::Command::new("qpdf").arg("--check").arg(&view).output().unwrap();
        assert!(!q.status.success() || String::from_utf8_lossy(&q.stderr).contains("WARNING"), "qpdf: {name} is fine?");
    }
}

#[test]
fn identical_files_whose_routing_failed_keep_a_record_and_a_reason_each() {
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("g"), "good");
    let scan = tmp.path().join("g/a4_300.jpg");
    let src = tmp.path().join("src");
    // The same bytes: in a folder whose manifest is not JSON, in one whose manifest names no case
    // code, and loose in an unsorted folder.
    let a = src.join("H15.50.05.13-261008-0976");
    let b = src.join("H15.50.05.13-261008-0977");
    let c = src.join("unsorted");
    for d in [&a, &b, &c] {
        fs::create_dir_all(d).unwrap();
        fs::copy(&scan, d.join("p1.jpg")).unwrap();
    }
    fs::write(a.join("manifest.json"), "{ case: oops").unwrap();
    fs::write(b.join("manifest.json"), r#"{"case": "not a case code"}"#).unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let mut rows: Vec<(String, String, Option<String>)> =
        query(&data, "SELECT source_path, state, reason_code FROM intakes ORDER BY source_path");
    rows.sort();
    assert_eq!(
        rows,
        vec![
            ("H15.50.05.13-261008-0976/p1.jpg".into(), "quarantined".into(), Some("bad-manifest".into())),
            ("H15.50.05.13-261008-0977/p1.jpg".into(), "quarantined".into(), Some("bad-case-code".into())),
            ("unsorted/p1.jpg".into(), "split".into(), None),
        ]
    );
    // One blob for the three records; each left the inbox only once recorded.
    assert_eq!(count(&data, "SELECT COUNT(DISTINCT sha256) FROM intakes"), 1);
    for d in [&a, &b, &c] {
        assert!(!d.join("p1.jpg").exists(), "{}", d.display());
    }
    // Each quarantined copy has its own view and its own reason.
    for (dir, code) in [("H15.50.05.13-261008-0976", "bad-manifest"), ("H15.50.05.13-261008-0977", "bad-case-code")] {
        let side = data.join("quarantine").join(dir).join("p1.jpg.error.json");
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&side).unwrap()).unwrap();
        assert_eq!(v["code"], code);
    }
    // A second run over the same (now empty) inbox adds nothing; the same files dropped again are
    // recognised as the records they already have.
    for d in [&a, &b, &c] {
        fs::copy(&scan, d.join("p1.jpg")).unwrap();
    }
    let _ = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 3);
}

#[test]
fn verify_checks_the_case_folders_and_views_repair_puts_them_right() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "p1.jpg"), ("bitonal.png", "p2.png")]);
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let views = pdfs(&data, CODE);
    assert_eq!(views.len(), 2);
    assert!(sohoa(&data, &["verify"]).status.success());

    // A flipped bit in the copy a clerk opens, and a copy deleted.
    let mut bytes = fs::read(&views[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let _ = fs::set_permissions(&views[0], fs::Permissions::from_mode(0o644));
    fs::remove_file(&views[0]).unwrap();
    fs::write(&views[0], &bytes).unwrap();
    fs::remove_file(&views[1]).unwrap();
    let v = sohoa(&data, &["verify"]);
    assert_eq!(v.status.code(), Some(1), "{}", text(&v));
    let out = text(&v);
    assert!(out.contains("VIEW CHANGED") && out.contains("VIEW MISSING"), "{out}");
    let v = sohoa(&data, &["verify", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    let kinds: Vec<&str> =
        report["problems"].as_array().unwrap().iter().filter_map(|p| p["problem"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "view-changed").count(), 1, "{report}");
    assert_eq!(kinds.iter().filter(|k| **k == "view-missing").count(), 1, "{report}");
    assert!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'fixity-problem'") >= 2);

    let r = sohoa(&data, &["views", "repair"]);
    assert!(r.status.success(), "{}", text(&r));
    assert!(text(&r).contains("2 view(s) put right"), "{}", text(&r));
    let v = sohoa(&data, &["verify"]);
    assert!(v.status.success(), "{}", text(&v));
    for p in &views {
        let recorded: Vec<(String,)> = query(&data, "SELECT pdf_sha256 FROM documents WHERE state = 'attached'");
        assert!(recorded.iter().any(|(s,)| *s == sha256_file(p)), "{}", p.display());
    }
}

#[test]
fn files_the_walk_passes_over_are_said_once_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "p1.jpg"), ("a4_300.jpg", "..jpg")]);
    fs::write(src.join(CODE).join("Thumbs.db"), b"x").unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("..jpg") && out.contains("hidden file"), "{out}");
    assert_eq!(out.matches("hidden file").count(), 1, "said once: {out}");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 1);
}

use std::os::unix::fs::PermissionsExt;

/// Ingests `src` into a new data folder under `tmp`; the run exits 1, since something is quarantined.
/// The data folder, and the quarantined intakes by name with their reason codes and reasons.
fn ingest_quarantining(tmp: &Path, src: &Path) -> (PathBuf, Vec<(String, String, String)>) {
    let data = tmp.join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rows = query(
        &data,
        "SELECT source_name, reason_code, reason FROM intakes WHERE state = 'quarantined' ORDER BY source_name",
    );
    (data, rows)
}

/// ASCII85 as PDF writes it (`~>` at the end), for the test's own streams.
fn ascii85(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in data.chunks(4) {
        let mut g = [0u8; 4];
        g[..chunk.len()].copy_from_slice(chunk);
        let mut v = u32::from_be_bytes(g);
        if chunk.len() == 4 && v == 0 {
            out.push(b'z');
            continue;
        }
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = (v % 85) as u8 + b'!';
            v /= 85;
        }
        out.extend_from_slice(&digits[..chunk.len() + 1]);
    }
    out.extend_from_slice(b"~>");
    out
}

#[test]
fn a_damaged_stream_behind_a_text_or_lzw_filter_is_found_too() {
    use lopdf::Object;
    let tmp = tempfile::tempdir().unwrap();
    let good = text_pdf(tmp.path());
    // Each page content stream of the sheet re-encoded behind another filter chain, whole or cut short.
    /// A content stream's new bytes and the filters that undo them.
    type Encode<'a> = &'a dyn Fn(&[u8]) -> (Vec<u8>, Vec<&str>);
    let reencode = |encode: Encode| -> Vec<u8> {
        let mut doc = lopdf::Document::load_mem(&good).unwrap();
        let pages: Vec<lopdf::ObjectId> = doc.get_pages().values().copied().collect();
        let contents: Vec<lopdf::ObjectId> = pages.iter().flat_map(|p| doc.get_page_contents(*p)).collect();
        for id in contents {
            let Ok(Object::Stream(st)) = doc.get_object_mut(id) else { continue };
            st.decompress().unwrap();
            let (bytes, filters) = encode(&st.content);
            let names = filters.iter().map(|f| Object::Name(f.as_bytes().to_vec())).collect();
            st.dict.set("Filter", Object::Array(names));
            st.set_content(bytes);
        }
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    };
    let zlib = |raw: &[u8]| {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, raw).unwrap();
        z.finish().unwrap()
    };
    let lzw = |raw: &[u8]| weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8).encode(raw).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>().into_bytes();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a-hex-flate-whole.pdf", reencode(&|raw| (hex(&zlib(raw)), vec!["ASCIIHexDecode", "FlateDecode"]))),
        (
            "b-hex-flate-cut.pdf",
            reencode(&|raw| {
                let z = zlib(raw);
                (hex(&z[..z.len() / 2]), vec!["ASCIIHexDecode", "FlateDecode"])
            }),
        ),
        (
            "c-a85-flate-cut.pdf",
            reencode(&|raw| {
                let z = zlib(raw);
                (ascii85(&z[..z.len() / 2]), vec!["ASCII85Decode", "FlateDecode"])
            }),
        ),
        (
            "d-lzw-corrupt.pdf",
            reencode(&|raw| {
                let mut l = lzw(raw);
                let n = l.len();
                for b in &mut l[n / 3..n / 3 + 8] {
                    *b = 0xff;
                }
                (l, vec!["LZWDecode"])
            }),
        ),
        (
            "e-a85-bad-char.pdf",
            reencode(&|raw| {
                let mut a = ascii85(&zlib(raw));
                a[3] = b'{';
                (a, vec!["ASCII85Decode", "FlateDecode"])
            }),
        ),
    ];
    let src = tmp.path().join("src");
    let case = src.join(CODE);
    fs::create_dir_all(&case).unwrap();
    for (name, bytes) in &files {
        fs::write(case.join(name), bytes).unwrap();
    }
    // The whole one reads in poppler (an independent judge) before sohoa sees it.
    let text_of = |p: &Path| {
        let o = std::process::Command::new("pdftotext").arg(p).arg("-").output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (ok, words) = text_of(&case.join("a-hex-flate-whole.pdf"));
    assert!(ok && words.contains(CODE), "poppler reads the re-encoded sheet: {words}");

    let (data, rows) = ingest_quarantining(tmp.path(), &src);
    let names: Vec<&str> = rows.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["b-hex-flate-cut.pdf", "c-a85-flate-cut.pdf", "d-lzw-corrupt.pdf", "e-a85-bad-char.pdf"],
        "{rows:#?}"
    );
    for (name, code, reason) in &rows {
        assert_eq!(code, "damaged-pdf", "{name}: {reason}");
        assert!(reason.contains("cannot be decoded"), "{name}: {reason}");
    }
    let attached = pdfs(&data, CODE);
    assert_eq!(attached.len(), 1, "{attached:?}");
    assert_eq!(fs::read(&attached[0]).unwrap(), files[0].1, "attached as it is");
}

/// How a test PDF's page tree is drawn.
enum Tree {
    /// One page under the root.
    Whole,
    /// The root lists itself and nothing else.
    Loop,
    /// The root lists the page and itself.
    LoopBesideAPage,
    /// Every level lists the next one twice: a 3 KB file of 2^41 pages to a lister.
    Shared,
}

/// A one-page scanner PDF: the JPEG as the page image, its size in the image dictionary as given, the
/// page 300 dpi for a 600 × 800 image, its page tree as `tree` says.
fn scanner_pdf(jpeg: &[u8], (w, h): (i64, i64), tree: Tree) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.4");
    let pages = doc.new_object_id();
    let image = dictionary! {
        "Type" => "XObject", "Subtype" => "Image", "Width" => w, "Height" => h,
        "ColorSpace" => "DeviceGray", "BitsPerComponent" => 8, "Filter" => "DCTDecode",
    };
    let image = doc.add_object(Stream::new(image, jpeg.to_vec()));
    let content = doc.add_object(Stream::new(dictionary! {}, b"q 144 0 0 192 0 0 cm /Im0 Do Q".to_vec()));
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages, "Contents" => content,
        "MediaBox" => vec![0.into(), 0.into(), 144.into(), 192.into()],
        "Resources" => dictionary! { "XObject" => dictionary! { "Im0" => image } },
    });
    let kids: Vec<Object> = match tree {
        Tree::Whole => vec![page.into()],
        Tree::Loop => vec![pages.into()],
        Tree::LoopBesideAPage => vec![page.into(), pages.into()],
        Tree::Shared => {
            let mut below = page;
            for level in 0..40 {
                let kids: Vec<Object> = vec![below.into(), below.into()];
                below = doc.add_object(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => 2i64 << level });
            }
            vec![below.into(), below.into()]
        }
    };
    let count = if matches!(tree, Tree::Shared) { 1i64 << 41 } else { 1 };
    doc.objects.insert(pages, Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => count }));
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages });
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

#[test]
fn scans_whose_headers_promise_more_than_they_hold_are_quarantined() {
    // A 600 × 800 gray page with lines of "text" on it, as a JPEG.
    let page = image::GrayImage::from_fn(600, 800, |x, y| {
        image::Luma([if y % 40 < 6 && (60..540).contains(&x) && (x / 7) % 5 != 0 { 30 } else { 245 }])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&page).unwrap();
    // The same bytes with the header saying 6000 × 8000: ten times the width and height, a hundred
    // times the pixels, the data for a hundredth of them.
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    let mut claims = jpeg.clone();
    claims[sof + 5..sof + 7].copy_from_slice(&8000u16.to_be_bytes());
    claims[sof + 7..sof + 9].copy_from_slice(&6000u16.to_be_bytes());

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let case = src.join(CODE);
    fs::create_dir_all(&case).unwrap();
    fs::write(case.join("a-scan-whole.pdf"), scanner_pdf(&jpeg, (600, 800), Tree::Whole)).unwrap();
    fs::write(case.join("b-claims-more.jpg"), &claims).unwrap();
    let mut undefined = jpeg.clone();
    let sos = undefined.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    undefined[sos + 6] = 0x33; // DC and AC table 3, never defined
    fs::write(case.join("b2-undefined-tables.jpg"), &undefined).unwrap();
    fs::write(case.join("c-pdf-claims-more.pdf"), scanner_pdf(&claims, (6000, 8000), Tree::Whole)).unwrap();
    fs::write(case.join("d-pdf-size-differs.pdf"), scanner_pdf(&jpeg, (600, 900), Tree::Whole)).unwrap();
    fs::write(case.join("e-pdf-jpeg-cut.pdf"), scanner_pdf(&jpeg[..jpeg.len() / 2], (600, 800), Tree::Whole)).unwrap();
    fs::write(case.join("f-pdf-tree-loop.pdf"), scanner_pdf(&jpeg, (600, 800), Tree::Loop)).unwrap();
    fs::write(case.join("g-pdf-loop-beside-a-page.pdf"), scanner_pdf(&jpeg, (600, 800), Tree::LoopBesideAPage))
        .unwrap();
    fs::write(case.join("h-pdf-shared-branches.pdf"), scanner_pdf(&jpeg, (600, 800), Tree::Shared)).unwrap();
    // What the independent judges make of them: qpdf finds the loop; poppler reads the whole one.
    let qpdf = |name: &str| {
        let o = std::process::Command::new("qpdf").arg("--check").arg(case.join(name)).output().unwrap();
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    let (ok, said) = qpdf("f-pdf-tree-loop.pdf");
    assert!(!ok && said.contains("Loop detected"), "{said}");
    assert!(qpdf("a-scan-whole.pdf").0);
    let info = std::process::Command::new("pdfinfo").arg(case.join("a-scan-whole.pdf")).output().unwrap();
    assert!(String::from_utf8_lossy(&info.stdout).contains("Pages:           1"));

    let (data, rows) = ingest_quarantining(tmp.path(), &src);
    let got: Vec<(&str, &str)> = rows.iter().map(|(n, c, _)| (n.as_str(), c.as_str())).collect();
    assert_eq!(
        got,
        [
            ("b-claims-more.jpg", "truncated-jpeg"),
            ("b2-undefined-tables.jpg", "broken-jpeg"),
            ("c-pdf-claims-more.pdf", "damaged-pdf"),
            ("d-pdf-size-differs.pdf", "damaged-pdf"),
            ("e-pdf-jpeg-cut.pdf", "damaged-pdf"),
            ("f-pdf-tree-loop.pdf", "damaged-pdf"),
            ("g-pdf-loop-beside-a-page.pdf", "damaged-pdf"),
            ("h-pdf-shared-branches.pdf", "damaged-pdf"),
        ],
        "{rows:#?}"
    );
    for (name, _, reason) in &rows {
        assert!(!reason.contains("no pages"), "{name}: {reason}");
    }
    assert!(rows[0].2.contains("6000×8000"), "{}", rows[0].2);
    assert!(rows[3].2.contains("600×800") && rows[3].2.contains("600×900"), "{}", rows[3].2);
    // The whole one is the case's document, one page.
    let attached = pdfs(&data, CODE);
    assert_eq!(attached.len(), 1, "{attached:?}");
    qpdf_check(&attached[0]);
    assert!(pdfinfo(&attached[0]).contains("Pages:           1"), "{}", pdfinfo(&attached[0]));
}

/// A JPEG whose markers are whole but one of whose Huffman tables is impossible: the capture's walk
/// takes it, the decoder cannot read it. On a profile that decodes pages (here: straightening
/// on) the render refuses it instead of passing the bytes through as a good page.
#[test]
fn a_jpeg_the_decoder_cannot_read_is_set_aside_not_attached() {
    let page = image::GrayImage::from_fn(600, 800, |x, y| image::Luma([if (x + y) % 50 < 4 { 20 } else { 240 }]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85).encode_image(&page).unwrap();
    // The first Huffman table claims three codes of length 1, where a prefix code has room for two.
    let dht = jpeg.windows(2).position(|w| w == [0xFF, 0xC4]).unwrap();
    jpeg[dht + 5] = 3;
    assert!(image::load_from_memory(&jpeg).is_err(), "the decoder (the judge here) cannot read it");

    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join(CODE)).unwrap();
    fs::write(src.join(CODE).join("unreadable.jpg"), &jpeg).unwrap();
    let profile = tmp.path().join("straighten.toml");
    let counter = fs::read_to_string(repo().join("pipelines/counter.toml")).unwrap();
    fs::write(&profile, counter.replace("[output]\n", "[output]\ndeskew = true\n")).unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", "--profile", profile.to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("SET ASIDE, no PDF made from H15.50.05.13-261008-0975/unreadable.jpg"), "{}", text(&o));
    assert!(pdfs(&data, CODE).is_empty(), "nothing attached");
    let states: Vec<(String,)> = query(&data, "SELECT state FROM documents");
    assert!(states.iter().all(|(s,)| s != "attached"), "{states:?}");
    let set_aside: Vec<(String,)> = query(&data, "SELECT detail FROM events WHERE kind = 'set-aside'");
    assert_eq!(set_aside.len(), 1, "{}", text(&o));
    assert!(set_aside[0].0.contains("cannot be decoded"), "{set_aside:?}");
}
