//! Archive stacks split at separator sheets: sheets printed by `sohoa separator print`, rendered at
//! 300 dpi by poppler, "scanned" skewed 0–4° in colour, gray and 1-bit, with ordinary pages between
//! them; QR, Code 128, DataMatrix, PATCH-T and one sheet whose code cannot be read. And a run killed
//! half-way, then re-run, ends with the same records as a run never interrupted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn case(n: u32) -> String {
    format!("H15.50.05.13-261008-{n:04}")
}

/// Prints sheets with our command and renders them as a 300-dpi scanner would see them.
fn sheets(dir: &Path, data: &Path) -> PathBuf {
    let out = dir.join("sheets");
    std::fs::create_dir_all(&out).unwrap();
    let qr: Vec<String> = (1..=10).map(case).collect();
    let mut args = vec!["separator", "print", "--out"];
    let qr_pdf = out.join("qr.pdf");
    args.push(qr_pdf.to_str().unwrap());
    args.extend(qr.iter().map(String::as_str));
    let o = sohoa(data, &args);
    assert!(o.status.success(), "{}", text(&o));
    let c128 = out.join("c128.pdf");
    let dm = out.join("dm.pdf");
    let patch = out.join("patch.pdf");
    let (c11, c12) = (case(11), case(12));
    let other = [
        vec!["separator", "print", "--symbology", "code128", "--out", c128.to_str().unwrap(), &c11],
        vec!["separator", "print", "--symbology", "datamatrix", "--out", dm.to_str().unwrap(), &c12],
        vec!["separator", "print", "--symbology", "patch-t", "--out", patch.to_str().unwrap()],
    ];
    for a in other {
        let o = sohoa(data, &a);
        assert!(o.status.success(), "{}", text(&o));
    }
    for (pdf, stem) in [(&qr_pdf, "qr"), (&c128, "c128"), (&dm, "dm"), (&patch, "patch")] {
        qpdf_check(pdf);
        let st = Command::new("pdftoppm")
            .args(["-r", "300", "-gray", pdf.to_str().unwrap(), out.join(stem).to_str().unwrap()])
            .status()
            .expect("pdftoppm runs");
        assert!(st.success());
    }
    out
}

fn profile(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("stack.toml");
    std::fs::write(
        &p,
        format!(
            "name = \"stack\"\n[station]\nid = \"luu-tru-01\"\n[inbox]\nafter_capture = \"keep\"\n\
             [routing]\nfolder_names = true\n[grouping]\ndocument = \"folder\"\n[separators]\n{extra}\n"
        ),
    )
    .unwrap();
    p
}

/// Writes a stack with `fixtures/generate.py`'s `stack`; returns how many files.
fn stack(out: &Path, sheets: &Path, plan: &str) -> usize {
    let count = out.with_extension("count");
    draw(&format!(
        "n = generate.stack({out:?}, {sheets:?}, {plan})\nopen({count:?}, 'w').write(str(n))",
        out = out.join("batch-01").display().to_string(),
        sheets = sheets.display().to_string(),
        count = count.display().to_string(),
    ));
    std::fs::read_to_string(count).unwrap().trim().parse().unwrap()
}

/// What a data folder holds, in a form two runs can be compared by: every document (case, ordinal,
/// pages, PDF hash) and every page (source file, case, state).
type Documents = Vec<(String, i64, i64, String)>;
type Pages = Vec<(String, Option<String>, String)>;

fn records(data: &Path) -> (Documents, Pages) {
    let docs = query(
        data,
        "SELECT case_code, ordinal, page_count, COALESCE(pdf_sha256, '') FROM documents ORDER BY case_code, ordinal",
    );
    let pages = query(
        data,
        "SELECT i.source_name, p.case_code, p.state FROM pages p JOIN intakes i ON i.id = p.intake_id \
         ORDER BY i.source_name, p.page_index",
    );
    (docs, pages)
}

#[test]
fn a_stack_with_separator_sheets_splits_into_exactly_the_expected_dossiers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sheets = sheets(tmp.path(), &data);
    let src = tmp.path().join("in");
    let plan = r#"[
        ("qr-01.pgm", 0, "RGB", 15), ("qr-02.pgm", 1.5, "L", 15), ("patch-1.pgm", 2, "1", 6),
        ("qr-03.pgm", -2.5, "1", 15), ("qr-04.pgm", 4, "RGB", 15), ("qr-05.pgm", -4, "L", 15),
        ("c128-1.pgm", 1, "L", 15), ("qr-06.pgm!", 0.5, "L", 10), ("qr-07.pgm", 3, "RGB", 15),
        ("dm-1.pgm", -1, "RGB", 15), ("qr-08.pgm", -3, "1", 15), ("qr-09.pgm", 2.5, "L", 15),
        ("qr-10.pgm", 0, "1", 15)]"#;
    let files = stack(&src, &sheets, plan);
    assert_eq!(files, 194);
    let prof = profile(tmp.path(), "detect = true");
    let report = tmp.path().join("report.json");
    let o = sohoa(
        &data,
        &["ingest", src.to_str().unwrap(), "--profile", prof.to_str().unwrap(), "--report", report.to_str().unwrap()],
    );
    // One sheet could not be read: its pages wait unfiled, and the run says so in its status.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("UNRECOGNISED SHEET"), "{}", text(&o));

    // Every readable sheet starts its case's dossier with exactly the pages behind it; the PDFs leave
    // the sheets out.
    let expected: Vec<(u32, Vec<u32>)> = vec![
        (1, vec![15]),
        (2, vec![15, 6]),
        (3, vec![15]),
        (4, vec![15]),
        (5, vec![15]),
        (7, vec![15]),
        (8, vec![15]),
        (9, vec![15]),
        (10, vec![15]),
        (11, vec![15]),
        (12, vec![15]),
    ];
    for (n, docs) in &expected {
        let found = pdfs(&data, &case(*n));
        assert_eq!(found.len(), docs.len(), "case {}: {found:?}", case(*n));
        for (pdf, pages) in found.iter().zip(docs) {
            qpdf_check(pdf);
            let info = pdfinfo(pdf);
            let n: u32 =
                info.lines().find_map(|l| l.strip_prefix("Pages:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
            assert_eq!(n, *pages, "{}", pdf.display());
        }
    }
    assert!(pdfs(&data, &case(6)).is_empty(), "the unreadable sheet's dossier is not guessed");

    // The unreadable sheet and its pages are unfiled, not merged into a neighbour.
    let unfiled: Vec<(String,)> = query(
        &data,
        "SELECT i.source_name FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.state = 'unfiled' \
         ORDER BY i.source_name",
    );
    let names: Vec<String> = unfiled.into_iter().map(|r| r.0).collect();
    assert_eq!(names.len(), 11, "{names:?}");
    assert_eq!(names.first().map(|n| &n[..4]), Some("0104"), "{names:?}");
    assert_eq!(names.last().map(|n| &n[..4]), Some("0114"), "{names:?}");

    // Every sheet is in the record, and no ordinary page was taken for one.
    let sheets_found = count(&data, "SELECT COUNT(*) FROM pages WHERE stack LIKE '%\"sheet\":{%'");
    assert_eq!(sheets_found, 13);
    let unreadable = count(&data, "SELECT COUNT(*) FROM pages WHERE stack LIKE '%\"unreadable\"%'");
    assert_eq!(unreadable, 1);
    let omitted = count(&data, "SELECT COUNT(*) FROM pages WHERE output_encoding = 'separator-omitted'");
    assert_eq!(omitted, 12);

    // The end report says the same.
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["pages"], 194);
    assert_eq!(r["separators"], 13);
    assert_eq!(r["dossiers"], 11);
    assert_eq!(r["documents"], 12);
    assert_eq!(r["unrecognised"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r["unfiled_pages"], 11);
}

#[test]
fn split_every_n_pages_makes_documents_of_n_pages_for_stacks_without_sheets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let src = tmp.path().join("in");
    let dir = src.join(case(20));
    draw(&format!(
        "import os\nos.makedirs({d:?}, exist_ok=True)\nfor i in range(7):\n    generate.page((620, 877), seed=i).save(os.path.join({d:?}, '%02d.jpg' % i), dpi=(75, 75), quality=70)",
        d = dir.display().to_string()
    ));
    let prof = profile(tmp.path(), "every = 3");
    let o = sohoa(&data, &["ingest", src.to_str().unwrap(), "--profile", prof.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let counts: Vec<(i64,)> = query(&data, "SELECT page_count FROM documents ORDER BY ordinal");
    assert_eq!(counts, vec![(3,), (3,), (1,)]);
}

#[test]
fn an_interrupted_run_re_run_ends_with_the_records_of_an_uninterrupted_one() {
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("scratch");
    let sheets = sheets(tmp.path(), &scratch);
    let src = tmp.path().join("in");
    let plan = r#"[
        ("qr-01.pgm", 1, "L", 8), ("qr-02.pgm", -2, "1", 8), ("patch-1.pgm", 0, "1", 4),
        ("qr-03.pgm", 3, "RGB", 8), ("qr-06.pgm!", 0, "L", 4), ("qr-04.pgm", -1, "L", 8)]"#;
    let files = stack(&src, &sheets, plan);
    let prof = profile(tmp.path(), "detect = true");
    let args = ["ingest", src.to_str().unwrap(), "--profile", prof.to_str().unwrap()];

    let whole = tmp.path().join("whole");
    let o = sohoa(&whole, &args);
    // The stack holds an unreadable sheet: the run says so in its status.
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // Killed at a point that differs from run to run: after a third to two thirds of the files.
    let cut = files / 3 + (std::process::id() as usize % (files / 3));
    let resumed = tmp.path().join("resumed");
    let mut child = command(&resumed)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while try_count(&resumed, "SELECT COUNT(*) FROM intakes").unwrap_or(0) < cut as i64 {
        assert!(t.elapsed() < Duration::from_secs(120), "the run never got to {cut} files");
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "killed after {} of {files} files were captured",
        try_count(&resumed, "SELECT COUNT(*) FROM intakes").unwrap_or(0)
    );
    let o = sohoa(&resumed, &args);
    // 1 when the unreadable sheet was captured by this run, 0 when by the killed one.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", text(&o));

    let (a, b) = (records(&whole), records(&resumed));
    assert_eq!(a.1.len(), files, "every page recorded once");
    assert_eq!(a.0, b.0, "the same documents, pages and PDF hashes");
    assert_eq!(a.1, b.1, "every page in the same place");
    assert_eq!(count(&resumed, "SELECT COUNT(*) FROM intakes"), files as i64, "each file captured once");
}

#[test]
fn a_stack_can_be_taken_in_the_order_the_scanner_wrote_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = tmp.path().join("in").join(case(21));
    draw(&format!(
        "import os\nos.makedirs({d:?}, exist_ok=True)\nfor i, n in enumerate(['c.jpg', 'a.jpg', 'b.jpg']):\n    generate.page((620, 877), seed=i).save(os.path.join({d:?}, n), dpi=(75, 75), quality=70)",
        d = dir.display().to_string()
    ));
    // Written c, a, b: names say a, b, c.
    let base = std::time::SystemTime::now() - Duration::from_secs(600);
    for (i, n) in ["c.jpg", "a.jpg", "b.jpg"].iter().enumerate() {
        let f = std::fs::File::options().write(true).open(dir.join(n)).unwrap();
        f.set_modified(base + Duration::from_secs(i as u64 * 10)).unwrap();
    }
    let prof = profile(tmp.path(), "every = 10");
    let o = sohoa(
        &data,
        &["ingest", tmp.path().join("in").to_str().unwrap(), "--profile", prof.to_str().unwrap(), "--order", "time"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let order: Vec<(String,)> =
        query(&data, "SELECT i.source_name FROM pages p JOIN intakes i ON i.id = p.intake_id ORDER BY p.page_no");
    assert_eq!(order, vec![("c.jpg".to_string(),), ("a.jpg".to_string(),), ("b.jpg".to_string(),)]);
}

/// The printed line says what the code says, tone marks and all: the sheet font (a subset of DejaVu
/// Sans, embedded) has every Vietnamese letter, and poppler reads the text back exactly.
#[test]
fn sheets_print_vietnamese_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pdf = tmp.path().join("sheet.pdf");
    let o = sohoa(
        &tmp.path().join("data"),
        &[
            "separator",
            "print",
            "--role",
            "result",
            "--type",
            "Giấy chứng nhận quyền sử dụng đất",
            "--out",
            pdf.to_str().unwrap(),
            &case(1),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    qpdf_check(&pdf);
    let words = Command::new("pdftotext").args([pdf.to_str().unwrap(), "-"]).output().unwrap();
    let words = String::from_utf8(words.stdout).unwrap();
    for want in [
        "TỜ TÁCH HỒ SƠ / SEPARATOR SHEET",
        "Giấy chứng nhận quyền sử dụng đất",
        "Kết quả giải quyết",
        "Đặt tờ này trước hồ sơ",
        &case(1),
    ] {
        assert!(words.contains(want), "`{want}` not in the printed text:\n{words}");
    }
    let fonts = Command::new("pdffonts").arg(&pdf).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    let line = fonts.lines().find(|l| l.contains("DejaVuSans-Bold")).unwrap_or_else(|| panic!("{fonts}"));
    assert!(line.contains("CID TrueType") && line.contains("yes yes yes"), "embedded, subset, with ToUnicode: {fonts}");
    // A subset: the sheet is far smaller than the whole font.
    assert!(std::fs::metadata(&pdf).unwrap().len() < 100_000);
}
