//! `sohoa ingest` end to end: real binary, real files, real validators.

mod common;

use std::fs;
use std::path::Path;

use common::*;

fn good_case(tmp: &Path) -> std::path::PathBuf {
    let src = tmp.join("src");
    generate(&src.join(CODE), "good");
    src
}

#[test]
fn every_kind_of_input_becomes_a_valid_pdf_attached_in_input_order() {
    let tmp = tempfile::tempdir().unwrap();
    let src = good_case(tmp.path());
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", keep_profile(tmp.path()).to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let pdfs = pdfs(&data, CODE);
    let names: Vec<String> = pdfs.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 14, "{names:?}");
    for (i, n) in names.iter().enumerate() {
        assert_eq!(n, &format!("{CODE}.{:03}.pdf", i + 1));
    }
    for p in &pdfs {
        qpdf_check(p);
        if !p.to_string_lossy().ends_with(".014.pdf") {
            let problems = common::pdfa::check(p, common::pdfa::Part::A2b);
            assert!(problems.is_empty(), "{}: {problems:?}", p.display());
        }
    }
    let inputs = src.join(CODE);
    let pdf = |n: usize| pdfs[n - 1].clone();
    // Natural order of names: a4_300, bitonal, cmyk.jpg, cmyk.tif, g4, gray16, gray_200, multi, nodpi,
    // page, palette, rgba, scan.pdf, text.pdf.
    assert_eq!(image_encodings(&pdf(1)), ["jpeg"]);
    assert_eq!(image_encodings(&pdf(2)), ["ccitt"]);
    assert_eq!(image_encodings(&pdf(3)), ["jpeg"]);
    assert_eq!(image_encodings(&pdf(5)), ["ccitt"]);
    assert_eq!(image_encodings(&pdf(8)), ["ccitt", "image", "image"]);
    assert_eq!(image_encodings(&pdf(13)), ["jpeg", "jpeg"]);

    // Passthrough: the embedded JPEG is the input, byte for byte.
    let got = extract_jpegs(&pdf(1), &tmp.path().join("x1"));
    assert_eq!(got, vec![fs::read(inputs.join("a4_300.jpg")).unwrap()]);
    let got = extract_jpegs(&pdf(7), &tmp.path().join("x7"));
    assert_eq!(got, vec![fs::read(inputs.join("gray_200.jpg")).unwrap()]);
    // A scanner PDF gives up its DCT streams unchanged.
    assert_eq!(
        extract_jpegs(&pdf(13), &tmp.path().join("x13")),
        extract_jpegs(&inputs.join("scan.pdf"), &tmp.path().join("xs"))
    );
    // A born-digital PDF is attached as it is.
    assert_eq!(fs::read(pdf(14)).unwrap(), fs::read(inputs.join("text.pdf")).unwrap());

    // Page size = pixels ÷ dpi: A4 at 300 dpi and at 200 dpi.
    for n in [1, 7] {
        let (w, h) = page_size(&pdf(n));
        assert!((w - 595.0).abs() <= 1.0 && (h - 842.0).abs() <= 1.0, "page {n}: {w}×{h}");
    }

    // Lossless pages: the embedded pixels equal the input's exactly (poppler decodes them) …
    let src_png = image::open(inputs.join("page.png")).unwrap().to_rgb8();
    assert_eq!(extract_png(&pdf(10), &tmp.path().join("e10")).to_rgb8(), src_png);
    let src_bw = image::open(inputs.join("bitonal.png")).unwrap().to_luma8();
    assert_eq!(extract_png(&pdf(2), &tmp.path().join("e2")).to_luma8(), src_bw);
    let src_16 = image::open(inputs.join("gray16.png")).unwrap().to_luma8();
    let got = extract_png(&pdf(6), &tmp.path().join("e6")).to_luma8();
    assert!(mean_abs_diff(got.as_raw(), src_16.as_raw()) < 0.51, "16-bit gray is rounded to 8 bits, no more");
    // … and the rendered page matches the input at its own resolution, within rendering tolerance.
    let r = render(&pdf(10), 300, false, tmp.path()).to_rgb8();
    assert_eq!(r.dimensions(), src_png.dimensions());
    let d = mean_abs_diff(r.as_raw(), src_png.as_raw());
    assert!(d < 6.0, "png page renders {d} off");
    let src_jpg = image::open(inputs.join("a4_300.jpg")).unwrap().to_rgb8();
    let r = render(&pdf(1), 300, false, tmp.path()).to_rgb8();
    assert_eq!(r.dimensions(), src_jpg.dimensions());
    let d = mean_abs_diff(r.as_raw(), src_jpg.as_raw());
    assert!(d < 6.0, "jpeg page renders {d} off");

    // The records: every input hashed as it is on disk, every PDF hashed as it is stored.
    let recorded: Vec<(String, String)> = query(&data, "SELECT source_name, sha256 FROM intakes ORDER BY seq");
    assert_eq!(recorded.len(), 14);
    for (name, sha) in &recorded {
        assert_eq!(sha, &sha256_file(&inputs.join(name)), "{name}");
    }
    let docs: Vec<(i64, String, i64)> = query(
        &data,
        "SELECT d.ordinal, d.pdf_sha256, f.bytes FROM documents d JOIN files f ON f.sha256 = d.pdf_sha256 ORDER BY d.ordinal",
    );
    assert_eq!(docs.len(), 14);
    for (ord, sha, bytes) in &docs {
        let p = pdf(*ord as usize);
        assert_eq!(&sha256_file(&p), sha);
        assert_eq!(fs::metadata(&p).unwrap().len() as i64, *bytes);
    }
    assert_eq!(count(&data, "SELECT COUNT(*) FROM pages WHERE state = 'attached'"), 17);
    let flagged: Vec<(String, String, String)> = query(
        &data,
        "SELECT i.source_name, p.dpi_source, p.flags FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.flags <> '[]' ORDER BY i.seq, p.page_index",
    );
    assert_eq!(
        flagged,
        [
            ("nodpi.jpg".into(), "default".into(), "[\"no-dpi\"]".into()),
            ("scan.pdf".into(), "placement".into(), "[\"low-dpi\"]".into()),
            ("scan.pdf".into(), "placement".into(), "[\"low-dpi\"]".into()),
        ]
    );
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'capture'"), 14);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'attach'"), 14);

    let show = sohoa(&data, &["case", "show", CODE]);
    assert!(show.status.success());
    let s = String::from_utf8_lossy(&show.stdout);
    assert!(s.contains(&format!("{CODE}.014.pdf")) && s.contains("no-dpi") && s.contains("jpeg-passthrough"), "{s}");
    let v = sohoa(&data, &["verify"]);
    assert!(v.status.success(), "{}", text(&v));
}

#[test]
fn scanner_g4_pdfs_palette_and_16_bit_tiffs_and_misnamed_files_are_read_right() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src.join(CODE), "more");
    let inputs = src.join(CODE);
    let originals: Vec<(String, Vec<u8>)> = ["gray16.tif", "palette.tif", "png-named.jpg", "scan-g4.pdf"]
        .iter()
        .map(|n| (n.to_string(), fs::read(inputs.join(n)).unwrap()))
        .collect();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", keep_profile(tmp.path()).to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let pdfs = pdfs(&data, CODE);
    assert_eq!(pdfs.len(), 4);
    for p in &pdfs {
        qpdf_check(p);
        assert!(common::pdfa::check(p, common::pdfa::Part::A2b).is_empty());
    }
    let enc: Vec<(String, String, String, f64)> = query(
        &data,
        "SELECT i.source_name, p.colour, p.output_encoding, p.dpi_x FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.seq",
    );
    let got: Vec<(&str, &str, &str, f64)> =
        enc.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), *d)).collect();
    assert_eq!(
        got,
        [
            ("gray16.tif", "gray", "flate", 300.0),
            ("palette.tif", "rgb", "flate", 300.0),
            ("png-named.jpg", "rgb", "png-passthrough", 300.0),
            ("scan-g4.pdf", "bitonal", "g4-passthrough", 300.0),
        ]
    );
    // The scanner's G4 stream is in the PDF byte for byte; pixels of the palette TIFF are exact.
    let raw = fs::read(&pdfs[3]).unwrap();
    let src_pdf = lopdf::Document::load_mem(&originals[3].1).unwrap();
    let g4 =
        src_pdf.objects.values().filter_map(|o| o.as_stream().ok()).find(|s| s.dict.get(b"Width").is_ok()).unwrap();
    assert!(raw.windows(g4.content.len()).any(|w| w == g4.content.as_slice()), "G4 stream not kept as it is");
    // The reference decode of the palette TIFF comes from Pillow (the image crate cannot read it).
    let reference = tmp.path().join("palette-ref.png");
    fs::write(tmp.path().join("palette.tif"), &originals[1].1).unwrap();
    let st = std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('RGB').save(sys.argv[2])")
        .arg(tmp.path().join("palette.tif"))
        .arg(&reference)
        .status()
        .unwrap();
    assert!(st.success());
    let want = image::open(&reference).unwrap().to_rgb8();
    assert_eq!(extract_png(&pdfs[1], &tmp.path().join("e")).to_rgb8(), want);
    let want16 = image::load_from_memory(&originals[0].1).unwrap().to_luma8();
    let got16 = extract_png(&pdfs[0], &tmp.path().join("e16")).to_luma8();
    assert!(mean_abs_diff(got16.as_raw(), want16.as_raw()) < 0.51);
}

#[test]
fn bad_inputs_are_quarantined_with_reasons_and_the_batch_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src.join("misc"), "bad");
    generate(&tmp.path().join("g"), "good");
    fs::create_dir_all(src.join(CODE)).unwrap();
    fs::copy(tmp.path().join("g/a4_300.jpg"), src.join(CODE).join("p1.jpg")).unwrap();
    // A manifest that is not JSON, and one that names an invalid case code.
    let m1 = src.join("H15.50.05.13-261008-0976");
    fs::create_dir_all(&m1).unwrap();
    fs::copy(tmp.path().join("g/a4_300.jpg"), m1.join("p1.jpg")).unwrap();
    fs::write(m1.join("manifest.json"), "{ case: oops").unwrap();
    let m2 = src.join("loose");
    fs::create_dir_all(&m2).unwrap();
    fs::copy(tmp.path().join("g/gray_200.jpg"), m2.join("p2.jpg")).unwrap();
    fs::write(m2.join("p2.json"), r#"{"case": "H15/../../etc-261008-0001"}"#).unwrap();

    let data = tmp.path().join("data");
    // In the clerk's language, the default.
    let o = command(&data).env("SOHOA_LANG", "vi").args(["ingest", src.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let expected = [
        ("misc/arithmetic.jpg", "arithmetic-jpeg"),
        ("misc/bomb.png", "too-large"),
        ("misc/broken.pdf", "broken-pdf"),
        ("misc/empty.jpg", "empty-file"),
        ("misc/encrypted.pdf", "encrypted-pdf"),
        ("misc/fax.tif", "tiff-group3"),
        ("misc/notes.jpg", "not-a-scan"),
        ("misc/truncated.jpg", "truncated-jpeg"),
        ("H15.50.05.13-261008-0976/p1.jpg", "bad-manifest"),
        ("loose/p2.jpg", "bad-case-code"),
    ];
    let mut rows: Vec<(String, String, String)> =
        query(&data, "SELECT source_path, reason_code, reason FROM intakes WHERE state = 'quarantined'");
    rows.sort();
    let mut want: Vec<(&str, &str)> = expected.to_vec();
    want.sort();
    assert_eq!(rows.iter().map(|(p, c, _)| (p.as_str(), c.as_str())).collect::<Vec<_>>(), want);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Đã tiếp nhận") && out.contains("tệp bị cách ly"), "{out}");
    for (path, code) in expected {
        // What it means, in Vietnamese, from the same catalogue as the folder view; the detail under it.
        let vi = sohoa::error::Code::parse(code).map(|c| sohoa::error::explained(c).vi).unwrap();
        assert!(out.contains(&format!("BỊ CÁCH LY {path}: {vi}")), "summary lacks {path}:\n{out}");
        let detail = out.lines().skip_while(|l| !l.starts_with(&format!("BỊ CÁCH LY {path}:"))).nth(1);
        assert!(detail.is_some_and(|d| d.trim().starts_with("chi tiết: ")), "{out}");
        // The folder view: the original and a sidecar that says why.
        let view = data.join("quarantine").join(path);
        assert!(view.is_file(), "{}", view.display());
        let side: serde_json::Value =
            serde_json::from_slice(&fs::read(format!("{}.error.json", view.display())).unwrap()).unwrap();
        assert_eq!(side["code"], code);
        assert!(side["reason"].as_str().unwrap().len() > 20);
        // What the station officer reads first is Vietnamese, keyed by the code; English beside it.
        let vi = side["ly_do"].as_str().unwrap();
        assert!(vi.chars().any(|c| "ảạắấệịộờủừ".contains(c)) && side["summary"].as_str().is_some(), "{code}: {side}");
        assert!(side["quet_lai"].is_boolean(), "{side}");
        assert_eq!(side["sha256"].as_str().unwrap(), sha256_file(&view));
    }
    // The good file in the same run is attached, and nothing panicked.
    assert_eq!(pdfs(&data, CODE).len(), 1);
    assert!(!text(&o).contains("panicked"));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'quarantine'"), 10);

    // A file only a new scan can fix is not retried: the clerk is told to scan it again.
    let ids: Vec<(String, String)> = query(&data, "SELECT source_path, id FROM intakes");
    let id_of = |path: &str| -> String { ids.iter().find(|r| r.0 == path).map(|r| r.1.clone()).unwrap() };
    let o = sohoa(&data, &["quarantine", "retry", &id_of("misc/empty.jpg")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("retrying cannot help: The file is empty"), "{}", text(&o));
    let o = command(&data)
        .env("SOHOA_LANG", "vi")
        .args(["quarantine", "retry", &id_of("misc/empty.jpg")])
        .output()
        .unwrap();
    assert!(text(&o).contains("xử lý lại không giúp được: Tệp rỗng"), "{}", text(&o));

    // The broken manifest, retried with nothing fixed: refused with the fault, still in quarantine.
    let bad = "H15.50.05.13-261008-0976/p1.jpg";
    let o = sohoa(&data, &["quarantine", "retry", &id_of(bad)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // The manifest it read again is the one still broken in the folder it was ingested from.
    let read_again = src.join("H15.50.05.13-261008-0976").join("manifest.json");
    assert!(
        text(&o).contains("still unusable") && text(&o).contains(&read_again.display().to_string()),
        "{}",
        text(&o)
    );
    // The station officer puts a corrected manifest beside the file in the quarantine folder: the
    // retry reads it, says so, and the scan is attached to the case it names.
    let fixed = data.join("quarantine").join("H15.50.05.13-261008-0976").join("manifest.json");
    fs::write(&fixed, r#"{"case": "H15.50.05.13-261008-0976", "document_type": "Đơn đề nghị"}"#).unwrap();
    let o = sohoa(&data, &["quarantine", "retry", &id_of(bad)]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("retried with the corrected manifest") && text(&o).contains("manifest.json"),
        "{}",
        text(&o)
    );
    assert_eq!(pdfs(&data, "H15.50.05.13-261008-0976").len(), 1);
    let typed: Vec<(String,)> =
        query(&data, "SELECT doc_type FROM documents WHERE case_code = 'H15.50.05.13-261008-0976'");
    assert_eq!(typed, [("Đơn đề nghị".to_string(),)]);
    let used: Vec<(String,)> = query(&data, "SELECT detail FROM events WHERE kind = 'retry'");
    assert!(used.iter().any(|(d,)| d.contains("\"used\":\"manifest\"")), "{used:?}");
    // The other, whose sidecar named an impossible code, is filed by the clerk instead.
    let o = sohoa(&data, &["quarantine", "retry", &id_of("loose/p2.jpg"), "--case", CODE]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("retried into case {CODE}")), "{}", text(&o));
}

#[test]
fn a_second_ingest_attaches_nothing_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let src = good_case(tmp.path());
    let data = tmp.path().join("data");
    let profile = keep_profile(tmp.path());
    let args = ["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap()];
    assert!(sohoa(&data, &args).status.success());
    let before = count(&data, "SELECT COUNT(*) FROM documents");
    let o = sohoa(&data, &args);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 file(s) captured, 14 already captured"), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("14 file(s) held bytes already captured, by an earlier run"),
        "a second run says its figures are the folder's: {}",
        text(&o)
    );
    assert!(text(&o).contains("already captured for this case; nothing added"));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM documents"), before);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 14);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'capture'"), 14);
    assert_eq!(pdfs(&data, CODE).len(), 14);
}

#[test]
fn the_same_scan_twice_in_one_folder_is_captured_once() {
    // Both copies land in one capture batch: the second is found among the batch's own new rows.
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("cmyk.jpg", "a.jpg"), ("cmyk.jpg", "b.jpg")]);
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", keep_profile(tmp.path()).to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 file(s) captured, 1 already captured"), "{}", text(&o));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 1);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes WHERE reused = 1"), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'capture'"), 1);
    assert_eq!(pdfs(&data, CODE).len(), 1);
}

#[test]
fn a_data_folder_inside_the_ingested_folder_is_never_taken_for_scans() {
    // `sohoa --data inbox/sohoa-data ingest inbox`: the PDFs, case views and blobs of the first run sit
    // inside the folder the second run walks.
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("cmyk.jpg", "a.jpg")]);
    let data = src.join("sohoa-data");
    let profile = keep_profile(tmp.path());
    for run in 0..2 {
        let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        let want =
            if run == 0 { "1 file(s) captured, 0 already captured" } else { "0 file(s) captured, 1 already captured" };
        assert!(String::from_utf8_lossy(&o.stdout).contains(want), "run {run}: {}", text(&o));
    }
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 1);
    assert_eq!(pdfs(&data, CODE).len(), 1);
}

#[test]
fn the_same_file_in_two_cases_is_stored_once_and_attached_to_both() {
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("g"), "good");
    let src = tmp.path().join("src");
    let other = "H15.50.05.13-261009-0001";
    for code in [CODE, other] {
        fs::create_dir_all(src.join(code)).unwrap();
        fs::copy(tmp.path().join("g/cmyk.jpg"), src.join(code).join("cccd.jpg")).unwrap();
    }
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let sha = sha256_file(&tmp.path().join("g/cmyk.jpg"));
    let files: Vec<(String,)> = query(&data, "SELECT sha256 FROM files WHERE kind = 'original'");
    assert_eq!(files, vec![(sha.clone(),)]);
    assert_eq!(common::s3::stored_blob(&data, &sha).map(|b| sha256_hex(&b)), Some(sha.clone()));
    assert_eq!(pdfs(&data, CODE).len(), 1);
    assert_eq!(pdfs(&data, other).len(), 1);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes WHERE reused = 1"), 1);
    // The counter profile empties the inbox once captures are committed.
    assert!(walk(&src).is_empty(), "{:?}", walk(&src));
}

#[test]
fn a_scan_leaving_the_inbox_is_taken_by_the_store_without_a_copy() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let src = good_case(tmp.path());
    // A file with a second name outside the inbox could still be changed through it: it is copied.
    let elsewhere = tmp.path().join("elsewhere.jpg");
    fs::hard_link(src.join(CODE).join("a4_300.jpg"), &elsewhere).unwrap();
    // A file someone else owns could not be made read-only: copied (only root can set this up).
    let foreign = src.join(CODE).join("page.png");
    let foreign_too = std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).is_ok();
    let before: Vec<(String, u64, bool)> = walk(&src)
        .iter()
        .map(|p| {
            let m = fs::metadata(p).unwrap();
            (sha256_file(p), m.ino(), m.nlink() > 1 || (foreign_too && *p == foreign))
        })
        .collect();
    let distinct: std::collections::HashSet<&String> = before.iter().map(|b| &b.0).collect();
    assert_eq!(distinct.len(), before.len(), "every fixture differs, so each has its own blob");
    let data = tmp.path().join("data");
    if common::s3::on_s3(&data) {
        return; // a bucket holds copies: there is no second name to take
    }
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(walk(&src).is_empty(), "the counter profile empties the inbox: {:?}", walk(&src));
    for (sha, ino, shared) in &before {
        let blob = data.join("blobs/sha256").join(&sha[..2]).join(sha);
        assert_eq!(&sha256_file(&blob), sha, "{}", blob.display());
        let m = fs::metadata(&blob).unwrap();
        assert!(m.permissions().readonly(), "stored bytes are read-only, also through folder views");
        if *shared {
            assert_ne!(m.ino(), *ino, "a file with another name or owner is copied");
        } else {
            // (A born-digital PDF's case-folder view is one more name of the same blob.)
            assert_eq!(m.ino(), *ino, "the scan itself, now under its hash");
        }
    }
    let a4 = before.iter().find(|b| b.0 == sha256_file(&elsewhere)).unwrap();
    assert!(a4.2, "the file with a second name kept its bytes and was copied");
    assert_eq!(pdfs(&data, CODE).len(), 14);
    for p in pdfs(&data, CODE) {
        qpdf_check(&p);
    }
    assert!(fs::read_dir(data.join("blobs/tmp")).unwrap().next().is_none(), "no temporary names are left");

    // A kept inbox stays the clerk's: the store holds copies.
    let kept = tmp.path().join("kept");
    generate(&kept.join(CODE), "good");
    let data = tmp.path().join("data-kept");
    let o = sohoa(&data, &["ingest", kept.to_str().unwrap(), "--profile", keep_profile(tmp.path()).to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    for p in walk(&kept) {
        let sha = sha256_file(&p);
        let blob = data.join("blobs/sha256").join(&sha[..2]).join(&sha);
        assert_ne!(fs::metadata(&blob).unwrap().ino(), fs::metadata(&p).unwrap().ino());
        assert_eq!(fs::metadata(&p).unwrap().nlink(), 1);
    }
}

#[test]
fn the_same_inputs_give_byte_identical_pdfs_in_fresh_data_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let src = good_case(tmp.path());
    let profile = keep_profile(tmp.path());
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    for d in [&a, &b] {
        let o = sohoa(d, &["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap(), "--jobs", "3"]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let (pa, pb) = (pdfs(&a, CODE), pdfs(&b, CODE));
    assert_eq!(pa.len(), 14);
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(fs::read(x).unwrap(), fs::read(y).unwrap(), "{} differs", x.display());
    }
}

#[test]
fn vietnamese_names_are_stored_in_nfc_and_shown_right_in_pdf_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    generate(&tmp.path().join("g"), "good");
    let src = tmp.path().join("src");
    let dir = src.join(CODE);
    fs::create_dir_all(&dir).unwrap();
    // As macOS and some SMB servers deliver it: decomposed (NFD).
    let nfd_name = "Đơn đe\u{302}\u{300} nghi\u{323}.jpg";
    fs::copy(tmp.path().join("g/a4_300.jpg"), dir.join(nfd_name)).unwrap();
    fs::write(
        dir.join("manifest.json"),
        "{\"document_type\": \"Đơn đe\u{302}\u{300} nghi\u{323}\", \"role\": \"input\"}",
    )
    .unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<(String, Option<String>)> =
        query(&data, "SELECT i.source_name, p.doc_type FROM intakes i JOIN pages p ON p.intake_id = i.id");
    assert_eq!(names, vec![("Đơn đề nghị.jpg".to_string(), Some("Đơn đề nghị".to_string()))]);
    let info = pdfinfo(&pdfs(&data, CODE)[0]);
    assert!(info.contains(&format!("Title:           {CODE}.001 — Đơn đề nghị")), "{info}");
    assert!(info.contains("Hồ sơ"), "{info}");
}

#[test]
fn real_scans_from_the_shared_corpus_are_attached() {
    let corpus = repo().join("../shared/corpus");
    if !corpus.is_dir() {
        eprintln!("skipped: {} is not here", corpus.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    for e in fs::read_dir(&corpus).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "png" || x == "jpg") {
            fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", tmp.path().join("src").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let pdfs = pdfs(&data, CODE);
    assert_eq!(pdfs.len(), 8);
    for p in &pdfs {
        qpdf_check(p);
        let problems = common::pdfa::check(p, common::pdfa::Part::A2b);
        assert!(problems.is_empty(), "{}: {problems:?}", p.display());
    }
    // epson-1bit.png is a 1-bit scan: it must come out as G4, not as 8-bit pixels.
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.seq",
    );
    assert!(enc.contains(&("epson-1bit.png".into(), "g4".into())), "{enc:?}");
    assert!(enc.contains(&("c02-22.jpg".into(), "jpeg-passthrough".into())), "{enc:?}");
    // Files without a resolution are flagged, never silently 96 dpi.
    assert_eq!(count(&data, "SELECT COUNT(*) FROM pages WHERE flags LIKE '%no-dpi%'"), 6);
}

#[test]
fn a_file_whose_processing_stopped_the_run_twice_is_set_aside_not_run_a_third_time() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dir = src.join(CODE);
    fs::create_dir_all(&dir).unwrap();
    // Eight dense A4 pages, each read whole for a separator sheet: a split that takes a while.
    draw(&format!(
        r#"
from PIL import ImageDraw
pages = []
for n in range(8):
    im = Image.new('L', (2480, 3508), 255)
    d = ImageDraw.Draw(im)
    for y in range(200, 3300, 60):
        d.text((200, y), ('Dong %d trang %d ' % (y, n)) * 8, fill=0)
    pages.append(im.convert('1'))
pages[0].save({:?}, save_all=True, append_images=pages[1:], compression='group4', dpi=(300, 300))
"#,
        dir.join("stack.tif").display().to_string()
    ));
    let profile = tmp.path().join("slow.toml");
    fs::write(&profile, "name = \"slow\"\n[inbox]\nafter_capture = \"keep\"\n[separators]\ndetect = true\n").unwrap();
    let data = tmp.path().join("data");
    let args = ["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap()];
    // Twice the run dies (SIGKILL, as an out-of-memory kill would) while the split job is running.
    for crashes in 0..2 {
        let mut child = command(&data)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let running = if crashes == 0 {
            "SELECT COUNT(*) FROM jobs WHERE kind = 'split' AND state = 'running' AND crashes = 0"
        } else {
            "SELECT COUNT(*) FROM jobs WHERE kind = 'split' AND state = 'running' AND crashes = 1"
        };
        let t = std::time::Instant::now();
        while try_count(&data, running).unwrap_or(0) == 0 {
            assert!(t.elapsed() < std::time::Duration::from_secs(120), "the split never ran");
            assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // The third run sets it aside instead of running it again: quarantined, and said why.
    let o = sohoa(&data, &args);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let rows: Vec<(String, String, String)> = query(&data, "SELECT state, reason_code, reason FROM intakes");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!((rows[0].0.as_str(), rows[0].1.as_str()), ("quarantined", "crashed"), "{rows:?}");
    assert!(rows[0].2.contains("stopped the service 2 times"), "{rows:?}");
    let side: serde_json::Value =
        serde_json::from_slice(&fs::read(data.join("quarantine").join(CODE).join("stack.tif.error.json")).unwrap())
            .unwrap();
    assert_eq!(side["code"], "crashed");
    assert!(side["ly_do"].as_str().unwrap().contains("nhiều lần làm dịch vụ dừng"), "{side}");
    assert!(text(&o).contains("QUARANTINED") && text(&o).contains("stopped the service"), "{}", text(&o));
}

#[test]
fn progress_lines_count_pages_done_apart_from_files_captured() {
    let tmp = tempfile::tempdir().unwrap();
    let src = good_case(tmp.path());
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--progress", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let progress: Vec<&serde_json::Value> = lines.iter().filter(|l| l["event"] == "progress").collect();
    assert!(!progress.is_empty(), "{}", text(&o));
    for p in &progress {
        let (files, total) = (p["files"].as_u64(), p["total"].as_u64());
        let (done, expected) = (p["pages_done"].as_u64(), p["pages_expected"].as_u64());
        assert!(files <= total && done <= expected, "{p}");
        // No estimate before anything is done or once everything is; a non-negative one between.
        assert!(p["eta_seconds"].is_null() || p["eta_seconds"].as_f64().is_some_and(|e| e >= 0.0), "{p}");
        if done == expected {
            assert!(p["eta_seconds"].is_null(), "{p}");
        }
    }
    assert_eq!(lines.last().map(|l| &l["event"]), Some(&serde_json::json!("done")), "{}", text(&o));
}
