//! Archival PDF: PDF/A-2b and 1b structure, colour spaces, never-larger, Vietnamese metadata,
//! incremental updates, and memory on a 2,000-page document.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::pdfa::{Part, check};
use common::*;

fn profile_with(dir: &Path, name: &str, output: &str, grouping: &str) -> PathBuf {
    let p = dir.join(format!("{name}.toml"));
    fs::write(
        &p,
        format!("name = \"{name}\"\n[station]\nid = \"kho-01\"\n[inbox]\nafter_capture = \"keep\"\n[grouping]\ndocument = \"{grouping}\"\n[output]\n{output}\n"),
    )
    .unwrap();
    p
}

/// Ingests `tmp/src` under `profile` into `data`; the run must succeed.
fn ingest_src(tmp: &Path, profile: &Path, data: &Path) {
    let src = tmp.join("src");
    let o = sohoa(data, &["ingest", src.to_str().unwrap(), "--profile", profile.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}

fn ingest_good(tmp: &Path, profile: &Path, data: &Path) -> PathBuf {
    let src = tmp.join("src");
    if !src.exists() {
        generate(&src.join(CODE), "good");
    }
    ingest_src(tmp, profile, data);
    src.join(CODE)
}

#[test]
fn pdfa_2b_and_1b_files_pass_qpdf_and_the_structural_checker() {
    let tmp = tempfile::tempdir().unwrap();
    for (kind, part, version) in [("pdfa-2b", Part::A2b, "1.7"), ("pdfa-1b", Part::A1b, "1.4")] {
        let data = tmp.path().join(kind);
        let prof = profile_with(tmp.path(), kind, &format!("pdf = \"{kind}\""), "file");
        ingest_good(tmp.path(), &prof, &data);
        let pdfs = pdfs(&data, CODE);
        assert_eq!(pdfs.len(), 14);
        for p in &pdfs {
            qpdf_check(p);
            if p.to_string_lossy().ends_with(".014.pdf") {
                continue; // the born-digital input, attached as it is
            }
            let problems = check(p, part);
            assert!(problems.is_empty(), "{} is not {kind}: {problems:#?}", p.display());
            let info = pdfinfo(p);
            assert!(info.contains(&format!("PDF version:     {version}")), "{info}");
            assert!(info.contains("Title:           H15.50.05.13-261008-0975."), "{info}");
            assert!(info.contains("Subject:         Hồ sơ H15.50.05.13-261008-0975 — Thành phần hồ sơ"), "{info}");
        }
        // No CMYK survives into PDF/A: the CMYK JPEG and the CMYK TIFF come out RGB.
        assert_eq!(image_colours(&pdfs[2]), ["rgb"]);
        assert_eq!(image_colours(&pdfs[3]), ["rgb"]);
    }
    // Plain PDF keeps CMYK as it is and carries no PDF/A metadata.
    let data = tmp.path().join("plain");
    let prof = profile_with(tmp.path(), "plain", "pdf = \"plain\"", "file");
    ingest_good(tmp.path(), &prof, &data);
    let p = &pdfs(&data, CODE)[2];
    assert_eq!(image_colours(p), ["cmyk"]);
    assert!(!String::from_utf8_lossy(&fs::read(p).unwrap()).contains("pdfaid"));
}

fn image_colours(p: &Path) -> Vec<String> {
    let o = Command::new("pdfimages").arg("-list").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(5).map(str::to_string))
        .collect()
}

#[test]
fn a_cmyk_scan_comes_out_rgb_with_its_colours() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "a2b", "", "file");
    let src = ingest_good(tmp.path(), &prof, &data);
    let pdf = &pdfs(&data, CODE)[2];
    assert_eq!(image_encodings(pdf), ["jpeg"]);
    // Compared with an independent decoder's idea of the source colours (Pillow's).
    let reference = tmp.path().join("cmyk-ref.png");
    let st = Command::new("python3")
        .arg("-c")
        .arg("import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('RGB').save(sys.argv[2])")
        .arg(src.join("cmyk.jpg"))
        .arg(&reference)
        .status()
        .unwrap();
    assert!(st.success());
    let want = image::open(&reference).unwrap().to_rgb8();
    let got = extract_png(pdf, &tmp.path().join("cmyk-out")).to_rgb8();
    assert_eq!(got.dimensions(), want.dimensions());
    let d = mean_abs_diff(got.as_raw(), want.as_raw());
    assert!(d < 4.0, "CMYK page colours drifted by {d}");
    let enc: Vec<(String,)> = query(
        &data,
        "SELECT p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE i.source_name = 'cmyk.jpg'",
    );
    assert_eq!(enc, vec![("jpeg-from-cmyk".to_string(),)]);
}

#[test]
fn a_jpeg_with_an_icc_profile_passes_through_as_iccbased() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    let icc_jpeg = dir.join("icc.jpg");
    draw(&format!(
        "generate.page((800, 1000), seed=77).save({:?}, quality=85, dpi=(300, 300), icc_profile=open({:?}, 'rb').read())",
        icc_jpeg.display().to_string(),
        repo().join("src/bundle/sRGB.icc").display().to_string()
    ));
    let source = fs::read(&icc_jpeg).unwrap();
    let data = tmp.path().join("data");
    let o = sohoa(&data, &["ingest", tmp.path().join("src").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let pdf = &pdfs(&data, CODE)[0];
    assert_eq!(image_colours(pdf), ["icc"]);
    assert_eq!(extract_jpegs(pdf, &tmp.path().join("x")), vec![source]);
    assert!(check(pdf, Part::A2b).is_empty(), "{:?}", check(pdf, Part::A2b));
}

#[test]
fn lossless_pages_are_never_larger_than_their_source() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "a2b", "", "file");
    let src = ingest_good(tmp.path(), &prof, &data);
    let pdfs = pdfs(&data, CODE);
    // PDF/A overhead: the sRGB profile (~4 KB packed), XMP (~6 KB), objects.
    let overhead = 14_000;
    for (n, source) in
        [(2, "bitonal.png"), (10, "page.png"), (11, "palette.png"), (1, "a4_300.jpg"), (7, "gray_200.jpg")]
    {
        let (pdf, input) = (fs::metadata(&pdfs[n - 1]).unwrap().len(), fs::metadata(src.join(source)).unwrap().len());
        assert!(pdf <= input + overhead, "{source}: {input} bytes became a {pdf}-byte PDF");
    }
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id \
         WHERE i.source_name IN ('page.png', 'palette.png', 'bitonal.png') ORDER BY i.source_name",
    );
    assert_eq!(
        enc,
        [("bitonal.png", "g4"), ("page.png", "png-passthrough"), ("palette.png", "png-passthrough")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn an_incremental_update_keeps_the_file_valid_for_a_later_signature() {
    // A signer appends to the file in the layout it found: an xref stream after PDF/A-2b's xref
    // stream, a classic section after PDF/A-1b's table.
    let tmp = tempfile::tempdir().unwrap();
    for (kind, xref_stream) in [("pdfa-2b", true), ("pdfa-1b", false)] {
        let data = tmp.path().join(kind);
        let prof = profile_with(tmp.path(), kind, &format!("pdf = \"{kind}\""), "file");
        ingest_good(tmp.path(), &prof, &data);
        let original = fs::read(&pdfs(&data, CODE)[0]).unwrap();
        let text = String::from_utf8_lossy(&original).to_string();
        assert_eq!(text.contains("/Type /XRef") || text.contains("/Type/XRef"), xref_stream, "{kind}: xref layout");
        let startxref: usize =
            text.rsplit("startxref").next().unwrap().split_whitespace().next().unwrap().parse().unwrap();
        let size: usize =
            text.split("/Size ").nth(1).unwrap().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
        let id = text.split("/ID").nth(1).unwrap().split(']').next().unwrap().to_string() + "]";
        // Append one new object (a new Info) with its own cross-reference section pointing back.
        let mut out = original.clone();
        let obj_at = out.len();
        out.extend_from_slice(
            format!("{size} 0 obj\n<< /Title (Signed later) /Producer (sohoa) >>\nendobj\n").as_bytes(),
        );
        let xref_at = out.len();
        if xref_stream {
            let mut rows = Vec::new();
            for at in [obj_at, xref_at] {
                rows.push(1u8);
                rows.extend_from_slice(&(at as u32).to_be_bytes());
                rows.extend_from_slice(&[0, 0]);
            }
            out.extend_from_slice(
                format!(
                    "{} 0 obj\n<< /Type /XRef /Size {} /Index [{size} 2] /W [1 4 2] /Root 1 0 R /Info {size} 0 R /Prev {startxref} /ID {id} /Length {} >>\nstream\n",
                    size + 1,
                    size + 2,
                    rows.len()
                )
                .as_bytes(),
            );
            out.extend_from_slice(&rows);
            out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
        } else {
            out.extend_from_slice(
                format!("xref\n0 1\n0000000000 65535 f \n{size} 1\n{obj_at:010} 00000 n \n").as_bytes(),
            );
            out.extend_from_slice(
                format!(
                    "trailer\n<< /Size {} /Root 1 0 R /Info {size} 0 R /Prev {startxref} /ID {id} >>\nstartxref\n{xref_at}\n%%EOF\n",
                    size + 1
                )
                .as_bytes(),
            );
        }
        let updated = tmp.path().join(format!("{kind}-updated.pdf"));
        fs::write(&updated, &out).unwrap();
        qpdf_check(&updated);
        assert!(pdfinfo(&updated).contains("Title:           Signed later"), "{kind}");
    }
}

#[test]
fn a_two_thousand_page_document_is_written_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    for i in 0..2000u32 {
        // Each page unique (its number in the first row), or they would be duplicates of each other.
        let img = image::GrayImage::from_fn(200, 280, |x, y| {
            let v = if y == 0 && x < 16 { ((i >> (x % 16)) & 1) as u8 * 255 } else { ((x * 7 + y * 3) % 256) as u8 };
            image::Luma([v])
        });
        img.save(dir.join(format!("p{i:04}.png"))).unwrap();
    }
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "folder", "default_dpi = 72\nmin_dpi = 50", "folder");
    // Peak RSS of the child, as the kernel counts it.
    let o = Command::new("python3")
        .arg("-c")
        .arg(
            "import resource, subprocess, sys\nr = subprocess.run(sys.argv[1:], capture_output=True)\n\
             print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
        )
        .arg(env!("CARGO_BIN_EXE_sohoa"))
        .args(["--data", data.to_str().unwrap(), "-q", "ingest", tmp.path().join("src").to_str().unwrap()])
        .env("SOHOA_DATABASE", database_for(&data).unwrap_or_default())
        .args(["--profile", prof.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let mut it = out.split_whitespace();
    let (code, rss_kb): (i32, u64) = (it.next().unwrap().parse().unwrap(), it.next().unwrap().parse().unwrap());
    assert_eq!(code, 0, "{out}");
    eprintln!("peak RSS for a 2,000-page document: {} MiB", rss_kb / 1024);
    assert!(rss_kb < 256 * 1024, "peak RSS {} MiB", rss_kb / 1024);
    let pdf = &pdfs(&data, CODE)[0];
    let info = pdfinfo(pdf);
    assert!(info.contains("Pages:           2000"), "{info}");
    assert!(check(pdf, Part::A2b).is_empty());
}

#[test]
fn a_case_bundle_has_every_scanned_document_and_a_vietnamese_bookmark_each() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "bundle", "case_bundle = true", "file");
    let src = tmp.path().join("src").join(CODE);
    generate(&src, "good");
    fs::write(src.join("manifest.json"), r#"{"files": {"a4_300.jpg": {"document_type": "Đơn đề nghị"}}}"#).unwrap();
    ingest_src(tmp.path(), &prof, &data);
    let bundle = data.join("cases").join(CODE).join(format!("{CODE}.pdf"));
    qpdf_check(&bundle);
    assert!(check(&bundle, Part::A2b).is_empty(), "{:?}", check(&bundle, Part::A2b));
    let info = pdfinfo(&bundle);
    assert!(
        info.contains("Pages:           16"),
        "13 scanned documents, 16 pages (the born-digital one stays apart):\n{info}"
    );
    assert!(info.contains(&format!("Title:           Hồ sơ {CODE}")), "{info}");
    let json = Command::new("qpdf").args(["--json", "--json-key=outlines"]).arg(&bundle).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let titles: Vec<String> =
        v["outlines"].as_array().unwrap().iter().map(|o| o["title"].as_str().unwrap().to_string()).collect();
    assert_eq!(titles.len(), 13, "{titles:?}");
    assert_eq!(titles[0], "001 — Đơn đề nghị");
    assert_eq!(titles[1], "002 — Thành phần hồ sơ");
    assert_eq!(count(&data, "SELECT bundle_documents FROM cases"), 13);
}

#[test]
fn archive_mode_makes_text_pages_bitonal_and_keeps_seals_in_colour() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "auto", "colour_mode = \"auto\"\njpeg_quality = 85", "file");
    let src = ingest_good(tmp.path(), &prof, &data);
    let pdfs = pdfs(&data, CODE);
    for p in pdfs.iter().filter(|p| !p.to_string_lossy().ends_with(".014.pdf")) {
        qpdf_check(p);
        assert!(check(p, Part::A2b).is_empty(), "{}: {:?}", p.display(), check(p, Part::A2b));
    }
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id \
         WHERE i.source_name IN ('a4_300.jpg', 'gray_200.jpg', 'page.png', 'bitonal.png') ORDER BY i.source_name",
    );
    assert_eq!(
        enc,
        [("a4_300.jpg", "mixed"), ("bitonal.png", "g4"), ("gray_200.jpg", "bitonal-g4"), ("page.png", "mixed")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // The stamped A4 page: a G4 text layer and a small colour image; a tenth of the scan or less.
    let stamped = &pdfs[0];
    assert_eq!(image_encodings(stamped), ["ccitt", "jpeg"]);
    let (pdf, jpg) = (fs::metadata(stamped).unwrap().len(), fs::metadata(src.join("a4_300.jpg")).unwrap().len());
    assert!(pdf * 3 < jpg, "{pdf} bytes for a {jpg}-byte scan");
    // The seal is still red where it was: the ring around (0.7 w, 0.86 h).
    let r = render(stamped, 50, false, tmp.path()).to_rgb8();
    let (w, h) = r.dimensions();
    let (cx, cy) = (w as f64 * 0.7, h as f64 * 0.86);
    let red = r
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            let d = ((*x as f64 - cx).powi(2) + (*y as f64 - cy).powi(2)).sqrt();
            d < w as f64 * 0.12 && p.0[0] > 150 && p.0[1] < 110 && p.0[2] < 110
        })
        .count();
    assert!(red > 50, "only {red} red pixels where the seal is");
    // The text is black and white now.
    assert_eq!(image_encodings(&pdfs[6]), ["ccitt"]);
    // A multi-page TIFF: bitonal, gray text, colour text with a seal.
    assert_eq!(image_encodings(&pdfs[7]), ["ccitt", "ccitt", "ccitt", "jpeg"]);
}

#[test]
fn blank_pages_are_found_despite_noise_holes_and_bleed_through_and_never_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    generate(&src.join(CODE), "blanks");
    for (policy, pages_in_pdf) in [("omit", 2), ("flag", 5)] {
        let data = tmp.path().join(policy);
        let prof = profile_with(tmp.path(), policy, &format!("blank_pages = \"{policy}\"\nmin_dpi = 100"), "folder");
        let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", prof.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        let pdf = &pdfs(&data, CODE)[0];
        qpdf_check(pdf);
        assert!(pdfinfo(pdf).contains(&format!("Pages:           {pages_in_pdf}")), "{policy}: {}", pdfinfo(pdf));
        let verdicts: Vec<(String, String, String)> = query(
            &data,
            "SELECT i.source_name, p.flags, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.seq",
        );
        let blank: Vec<&str> =
            verdicts.iter().filter(|(_, f, _)| f.contains("blank")).map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(blank, ["p1-blank-noise.png", "p2-blank-holes.png", "p3-blank-bleed.png"], "{policy}: {verdicts:?}");
        // Left out of the PDF, the blank pages are still recorded, with their originals stored.
        assert_eq!(count(&data, "SELECT COUNT(*) FROM pages"), 5);
        if policy == "omit" {
            assert_eq!(count(&data, "SELECT COUNT(*) FROM pages WHERE output_encoding = 'blank-omitted'"), 3);
            // A clerk puts the first one back: the document is made again with it; the old PDF stays.
            let before = sha256_file(pdf);
            let o = sohoa(&data, &["case", "keep-page", CODE, "1", "1"]);
            assert!(o.status.success(), "{}", text(&o));
            assert!(pdfinfo(pdf).contains("Pages:           3"), "{}", pdfinfo(pdf));
            qpdf_check(pdf);
            assert_ne!(sha256_file(pdf), before);
            let kept: Vec<(String, String)> = query(
                &data,
                "SELECT p.output_encoding, p.flags FROM pages p JOIN intakes i ON i.id = p.intake_id \
                 WHERE i.source_name = 'p1-blank-noise.png'",
            );
            assert!(kept[0].0.ends_with("+blank+kept") && kept[0].1.contains("keep"), "{kept:?}");
            assert_eq!(count(&data, "SELECT COUNT(*) FROM files WHERE kind = 'pdf'"), 2, "the first PDF is kept");
            assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'restore'"), 1);
            // A page that is in the PDF cannot be put back; the message says where to look.
            let o = sohoa(&data, &["case", "keep-page", CODE, "1", "1"]);
            assert!(!o.status.success() && text(&o).contains("sohoa case show"), "{}", text(&o));
        }
    }
}

#[test]
fn a_skewed_scan_is_straightened_in_the_placement_matrix_without_touching_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    draw(&format!(
        "p = generate.page((1240, 1754), seed=90, stamp=False)\n\
         p.rotate(3.0, resample=Image.BICUBIC, fillcolor=(246, 244, 238)).save({:?}, quality=90, dpi=(150, 150))\n\
         p.save({:?}, quality=90, dpi=(150, 150))",
        dir.join("p1-skewed.jpg").display().to_string(),
        dir.join("p2-straight.jpg").display().to_string()
    ));
    let skewed = fs::read(dir.join("p1-skewed.jpg")).unwrap();
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "deskew", "deskew = true\nmin_dpi = 100", "file");
    ingest_src(tmp.path(), &prof, &data);
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.seq",
    );
    assert!(enc[0].1.starts_with("jpeg-passthrough+deskew(3."), "{enc:?}");
    assert_eq!(enc[1].1, "jpeg-passthrough", "a straight page is left alone");
    let pdf = &pdfs(&data, CODE)[0];
    // The scan's bytes are in the PDF unchanged…
    assert_eq!(extract_jpegs(pdf, &tmp.path().join("x")), vec![skewed]);
    // …and the page as shown is straight.
    let left = skew_shown(render(pdf, 150, true, tmp.path()).to_luma8(), 150.0);
    assert!(left.abs() <= 0.2, "still {left}° askew after deskew");
}

#[test]
fn a_page_scanned_sideways_is_shown_upright_and_its_image_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    // A page of Vietnamese text (which way up is told from its letters); PIL turns counter-clockwise
    // for positive angles.
    let truth = repo().join("fixtures/truth.py");
    draw(&format!(
        "import importlib.util\n\
         spec = importlib.util.spec_from_file_location('truth', {truth:?})\n\
         t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n\
         p, _ = t.text_page(150, 91, mode='RGB')\n\
         p.rotate(90, expand=True).save({:?}, quality=90, dpi=(150, 150))\n\
         p.rotate(-90, expand=True).save({:?}, quality=90, dpi=(150, 150))\n\
         p.save({:?}, quality=90, dpi=(150, 150))",
        dir.join("p1-ccw.jpg").display().to_string(),
        dir.join("p2-cw.jpg").display().to_string(),
        dir.join("p3-upright.jpg").display().to_string()
    ));
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "orient", "orientation = true\ndeskew = true\nmin_dpi = 100", "file");
    ingest_src(tmp.path(), &prof, &data);
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.seq",
    );
    assert_eq!(
        enc,
        [
            ("p1-ccw.jpg", "jpeg-passthrough+turn(90)"),
            ("p2-cw.jpg", "jpeg-passthrough+turn(270)"),
            ("p3-upright.jpg", "jpeg-passthrough")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for (n, rot) in [(0, "90"), (1, "270"), (2, "0")] {
        let pdf = &pdfs(&data, CODE)[n];
        qpdf_check(pdf);
        assert!(pdfinfo(pdf).contains(&format!("Page rot:        {rot}")), "{}", pdfinfo(pdf));
        // Shown upright: portrait, as the page was before it was scanned sideways.
        let shown = render(pdf, 30, true, tmp.path());
        assert!(shown.height() > shown.width(), "page {n} is shown {}×{}", shown.width(), shown.height());
    }
}

/// Every normalization step of the archive chain on pages whose truth is known: the record of each page
/// says what was done, the PDF shows it, and the page as shown is right.
#[test]
fn the_archive_chain_records_what_it_did_to_each_page_and_the_pdf_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    let truth = repo().join("fixtures/truth.py");
    draw(&format!(
        "import importlib.util\n\
         spec = importlib.util.spec_from_file_location('truth', {truth:?})\n\
         t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)\n\
         d = {dir:?}\n\
         img, _ = t.text_page(200, 1)\n\
         t.skewed(img, 2.5, t.PAPER).save(d + '/p1-skewed.png', dpi=(200, 200))\n\
         img, _ = t.text_page(200, 2)\n\
         img.transpose(Image.ROTATE_180).save(d + '/p2-upside-down.png', dpi=(200, 200))\n\
         img, _ = t.text_page(200, 3)\n\
         t.bordered(img, 200, 60)[0].save(d + '/p3-border.png', dpi=(200, 200))\n\
         img, _ = t.text_page(200, 4, mode='RGB')\n\
         t.seal(img, 200, 1100, 1950)\n\
         img.save(d + '/p4-seal.png', dpi=(200, 200))\n\
         t.blank(200, 5, 'noise holes').save(d + '/p5-blank.png', dpi=(200, 200))\n\
         img, _ = t.text_page(400, 6)\n\
         img.save(d + '/p6-400dpi.png', dpi=(400, 400))\n\
         img, _ = t.text_page(150, 7, mode='RGB')\n\
         e = Image.Exif(); e[0x0112] = 6\n\
         img.transpose(Image.ROTATE_90).save(d + '/p7-exif.jpg', dpi=(150, 150), quality=90, exif=e)",
        truth = truth.display().to_string(),
        dir = dir.display().to_string()
    ));
    let data = tmp.path().join("data");
    let prof = profile_with(
        tmp.path(),
        "chain",
        "colour_mode = \"auto\"\nblank_pages = \"omit\"\ndeskew = true\norientation = true\nborders = true\n\
         target_dpi = 300\nmin_dpi = 100\ncontone = \"jpeg\"",
        "folder",
    );
    ingest_src(tmp.path(), &prof, &data);
    let rows: Vec<(String, String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding, COALESCE(p.normalization, '{}') FROM pages p \
         JOIN intakes i ON i.id = p.intake_id ORDER BY i.source_name",
    );
    let rec: Vec<(String, String, serde_json::Value)> =
        rows.into_iter().map(|(n, e, j)| (n, e, serde_json::from_str(&j).unwrap())).collect();
    for r in &rec {
        println!("{} {} {}", r.0, r.1, r.2);
    }
    let get = |name: &str| rec.iter().find(|r| r.0 == name).unwrap_or_else(|| panic!("{name} not recorded"));
    let (_, enc, n) = get("p1-skewed.png");
    assert_eq!(enc, "bitonal-g4+deskew(2.50)");
    assert_eq!(
        (n["deskew"].as_f64(), n["geometry"].as_str(), n["mode"].as_str()),
        (Some(2.5), Some("pixels"), Some("bitonal"))
    );
    assert!(n["skew_confidence"].as_f64().unwrap() >= 1.3, "{n}");
    let (_, enc, n) = get("p2-upside-down.png");
    assert_eq!(enc, "bitonal-g4+turn(180)");
    assert!(n["turn_confidence"].as_f64().unwrap() >= 0.66, "{n}");
    let (_, enc, n) = get("p3-border.png");
    assert_eq!(enc, "bitonal-g4+crop");
    let crop = n["crop"].as_array().unwrap();
    assert_eq!(crop.len(), 4);
    let (_, enc, n) = get("p4-seal.png");
    assert_eq!((enc.as_str(), n["mode"].as_str()), ("mixed", Some("mixed")));
    let (_, enc, n) = get("p5-blank.png");
    assert_eq!((enc.as_str(), n["blank"].as_bool()), ("blank-omitted", Some(true)));
    assert!(n["ink"].as_f64().is_some());
    let (_, enc, n) = get("p6-400dpi.png");
    assert_eq!((enc.as_str(), n["resampled"].clone()), ("bitonal-g4", serde_json::json!([400.0, 300.0])));
    let (_, enc, n) = get("p7-exif.jpg");
    assert!(enc.ends_with("+turn(90)"), "{enc}");
    assert_eq!(n["exif_orientation"].as_u64(), Some(6));

    // The PDF: 6 pages (the blank one left out), G4 text (the seal page's text layer too), the seal as a
    // colour image.
    let pdf = &pdfs(&data, CODE)[0];
    qpdf_check(pdf);
    let info = pdfinfo(pdf);
    assert!(info.contains("Pages:           6"), "{info}");
    let encs = image_encodings(pdf);
    assert_eq!(encs.iter().filter(|e| *e == "ccitt").count(), 6, "{encs:?}");
    assert!(encs.iter().any(|e| e == "jpeg"), "{encs:?}");
    // Page 1 as shown is straight; page 3 has no dark band left; page 5 (400 dpi) is A4 at 300 dpi.
    let page = |n: u32, dpi: u32| {
        let prefix = tmp.path().join(format!("page{n}"));
        let st = std::process::Command::new("pdftoppm")
            .args(["-r", &dpi.to_string(), "-f", &n.to_string(), "-l", &n.to_string(), "-singlefile", "-gray", "-png"])
            .arg(pdf)
            .arg(&prefix)
            .status()
            .unwrap();
        assert!(st.success());
        image::open(prefix.with_extension("png")).unwrap().to_luma8()
    };
    let left = skew_shown(page(1, 100), 100.0);
    assert!(left.abs() <= 0.2, "still {left}° askew");
    let bordered = page(3, 50);
    let edge_dark = |img: &image::GrayImage| {
        let (w, h) = img.dimensions();
        let edge: Vec<u8> = (0..w).flat_map(|x| [img.get_pixel(x, 0).0[0], img.get_pixel(x, h - 1).0[0]]).collect();
        edge.iter().filter(|v| **v < 100).count() as f64 / edge.len() as f64
    };
    assert!(edge_dark(&bordered) < 0.05, "a dark band is still shown");
    let (w, h) = page_size_of(pdf, 5);
    assert!((w - 595.0).abs() < 2.0 && (h - 842.0).abs() < 2.0, "{w}×{h}");
}

/// A profile can force the colour mode: every page 1-bit (the seal and the photo too), or every page gray.
#[test]
fn a_profile_can_force_every_page_bitonal_or_gray() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    draw(&format!(
        "generate.page((1240, 1754), seed=70).save({:?}, quality=90, dpi=(150, 150))\n\
         import random\n\
         r = random.Random(7)\n\
         img = Image.new('RGB', (600, 800))\n\
         img.putdata([(r.randrange(256), r.randrange(256), r.randrange(256)) for _ in range(600 * 800)])\n\
         img.save({:?}, quality=90, dpi=(150, 150))",
        dir.join("p1-sealed.jpg").display().to_string(),
        dir.join("p2-photo.jpg").display().to_string()
    ));
    for (mode, colours) in [("bitonal", ["gray", "gray"]), ("gray", ["gray", "gray"])] {
        let data = tmp.path().join(mode);
        let prof = profile_with(tmp.path(), mode, &format!("colour_mode = \"{mode}\"\nmin_dpi = 100"), "file");
        let o =
            sohoa(&data, &["ingest", tmp.path().join("src").to_str().unwrap(), "--profile", prof.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
        for (pdf, colour) in pdfs(&data, CODE).iter().zip(colours) {
            qpdf_check(pdf);
            assert!(check(pdf, Part::A2b).is_empty(), "{:?}", check(pdf, Part::A2b));
            let list = Command::new("pdfimages").arg("-list").arg(pdf).output().unwrap();
            let line = String::from_utf8_lossy(&list.stdout).lines().nth(2).unwrap_or_default().to_string();
            let cols: Vec<&str> = line.split_whitespace().collect();
            // page num type width height color comp bpc enc …
            assert_eq!(cols.get(5), Some(&colour), "{mode}: {line}");
            let want = if mode == "bitonal" { ("1", "ccitt") } else { ("8", "jpeg") };
            assert_eq!((cols[7], cols[8]), want, "{mode}: {line}");
        }
        let modes: Vec<(String,)> = query(&data, "SELECT COALESCE(normalization, '') FROM pages ORDER BY id");
        assert!(modes.iter().all(|(n,)| n.contains(&format!("\"mode\":\"{mode}\""))), "{mode}: {modes:?}");
    }
}

/// `optimize_jpeg`: real scans and a generated one go in recoded with fitted Huffman tables — smaller,
/// and decoding to exactly the scan's pixels.
#[test]
fn optimized_jpegs_are_smaller_and_pixel_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    let corpus = repo().join("../shared/corpus");
    let mut names = Vec::new();
    for name in ["c02-22.jpg", "francais.jpg"] {
        if corpus.join(name).exists() {
            fs::copy(corpus.join(name), dir.join(name)).unwrap();
            names.push(name.to_string());
        }
    }
    draw(&format!(
        "generate.noisy(generate.page((1240, 1754), seed=71), 72).save({:?}, quality=85, dpi=(150, 150))",
        dir.join("scan.jpg").display().to_string()
    ));
    names.push("scan.jpg".into());
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "optimize", "optimize_jpeg = true\nmin_dpi = 50", "file");
    ingest_src(tmp.path(), &prof, &data);
    let enc: Vec<(String, String)> = query(
        &data,
        "SELECT i.source_name, p.output_encoding FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY i.source_name",
    );
    for (name, e) in &enc {
        assert_eq!(e, "jpeg-optimized", "{name}");
    }
    names.sort();
    for (k, name) in names.iter().enumerate() {
        let pdf = &pdfs(&data, CODE)[k];
        qpdf_check(pdf);
        assert!(check(pdf, Part::A2b).is_empty(), "{:?}", check(pdf, Part::A2b));
        let original = fs::read(dir.join(name)).unwrap();
        let embedded = extract_jpegs(pdf, &tmp.path().join(format!("x{k}")));
        assert_eq!(embedded.len(), 1);
        assert!(embedded[0].len() < original.len(), "{name}: {} ≥ {}", embedded[0].len(), original.len());
        let a = image::load_from_memory(&original).unwrap().into_rgb8();
        let b = image::load_from_memory(&embedded[0]).unwrap().into_rgb8();
        assert_eq!(a.as_raw(), b.as_raw(), "{name}: pixels differ");
        println!("{name}: {} → {} bytes", original.len(), embedded[0].len());
    }
}

/// `jbig2`: 1-bit pages (G4 TIFF passed through, a 1-bit PNG) go in as lossless JBIG2 — smaller, and
/// poppler decodes exactly the scan's pixels.
#[test]
fn lossless_jbig2_pages_are_smaller_and_decode_to_the_same_pixels() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("src").join(CODE);
    fs::create_dir_all(&dir).unwrap();
    draw(&format!(
        "p = generate.page((1240, 1754), '1', seed=80)\n\
         p.save({:?}, compression='group4', dpi=(150, 150))\n\
         generate.page((1240, 1754), '1', seed=81).save({:?}, dpi=(150, 150))",
        dir.join("p1.tif").display().to_string(),
        dir.join("p2.png").display().to_string()
    ));
    let data = tmp.path().join("data");
    let prof = profile_with(tmp.path(), "jbig2", "jbig2 = true\nmin_dpi = 100", "folder");
    ingest_src(tmp.path(), &prof, &data);
    let pdf = &pdfs(&data, CODE)[0];
    qpdf_check(pdf);
    assert!(check(pdf, Part::A2b).is_empty(), "{:?}", check(pdf, Part::A2b));
    assert_eq!(image_encodings(pdf), ["jbig2", "jbig2"]);
    let enc: Vec<(String,)> = query(&data, "SELECT output_encoding FROM pages ORDER BY page_no");
    assert_eq!(enc, [("jbig2".to_string(),), ("jbig2".to_string(),)]);
    let out = tmp.path().join("x");
    fs::create_dir_all(&out).unwrap();
    let st = Command::new("pdfimages").arg("-png").arg(pdf).arg(out.join("img")).status().unwrap();
    assert!(st.success());
    for (k, name) in ["p1.tif", "p2.png"].iter().enumerate() {
        let shown = image::open(out.join(format!("img-{k:03}.png"))).unwrap().into_luma8();
        let scan = image::open(dir.join(name)).unwrap().into_luma8();
        assert_eq!(shown.dimensions(), scan.dimensions());
        assert!(shown.as_raw() == scan.as_raw(), "{name}: pixels differ");
    }
    // Smaller than the same pages as G4.
    let g4 = tmp.path().join("g4");
    let prof = profile_with(tmp.path(), "g4", "min_dpi = 100", "folder");
    let o = sohoa(&g4, &["ingest", tmp.path().join("src").to_str().unwrap(), "--profile", prof.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let (j, g) = (fs::metadata(pdf).unwrap().len(), fs::metadata(&pdfs(&g4, CODE)[0]).unwrap().len());
    println!("two 1-bit pages: JBIG2 {j} bytes, G4 {g} bytes");
    assert!(j < g, "JBIG2 {j} ≥ G4 {g}");
}

/// The skew left on a page as poppler shows it (0 when no lines stand out).
fn skew_shown(shown: image::GrayImage, dpi: f64) -> f64 {
    let r = sohoa::pages::Raster {
        width: shown.width(),
        height: shown.height(),
        kind: sohoa::pages::RasterKind::Gray,
        data: shown.into_raw(),
    };
    sohoa::normalize::deskew::estimate(&r, dpi).map(|s| s.degrees).unwrap_or(0.0)
}

fn page_size_of(pdf: &Path, n: u32) -> (f64, f64) {
    let o = std::process::Command::new("pdfinfo")
        .args(["-f", &n.to_string(), "-l", &n.to_string()])
        .arg(pdf)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = out.lines().find(|l| l.starts_with(&format!("Page {n:>4} size:"))).unwrap().to_string();
    let parts: Vec<&str> = line.split_whitespace().collect();
    (parts[3].parse().unwrap(), parts[5].parse().unwrap())
}
