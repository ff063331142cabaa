//! The text layer and search by content (`[ocr]`): Vietnamese pages with known text, drawn in several
//! fonts by `fixtures/ocrgen`, come out of an ingest with an invisible text layer that poppler reads
//! back in NFC with a character error rate under 3%; the new version keeps every byte of the one it
//! was made from (so its page images too) and passes qpdf and the PDF/A checks; a search without
//! tone marks finds the pages, on the command line and over HTTP, and a clerk of another unit finds
//! nothing. Needs Tesseract with its Vietnamese model and poppler (the test command installs them).

mod common;

use std::path::Path;
use std::process::Command;

use common::http::*;
use common::*;

const PROFILE: &str = "name = \"ocr\"\n[station]\nid = \"ocr-test\"\n[inbox]\nafter_capture = \"keep\"\n\
                       [ocr]\nenabled = true\nmin_confidence = 70\n";

fn tools_present() -> bool {
    let vie = Path::new("/usr/share/tesseract-ocr/5/tessdata/vie.traineddata").exists()
        || Command::new("tesseract")
            .arg("--list-langs")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("vie"));
    let ok = vie && Command::new("pdftoppm").arg("-v").output().is_ok();
    if !ok {
        assert!(std::env::var_os("SOHOA_REQUIRE_TOOLS").is_none(), "tesseract-ocr-vie and poppler-utils are required");
        eprintln!("skipped: tesseract with the vie model, or pdftoppm, is not installed");
    }
    ok
}

/// `n` pages of known Vietnamese text (`fixtures/ocrgen`) under `out`, with `out/truth.json`.
fn draw_pages(out: &Path, n: u32, seed: u32, lines: u32) {
    let st = Command::new("python3")
        .arg(repo().join("fixtures/ocrgen/gen.py"))
        .arg(out)
        .args(["--n", &n.to_string(), "--seed", &seed.to_string(), "--lines", &lines.to_string()])
        .status()
        .expect("python3 runs");
    assert!(st.success(), "the page generator failed");
}

/// Levenshtein distance over characters.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + usize::from(ca != cb)));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn collapsed(s: &str) -> Vec<char> {
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
}

fn pdftotext(pdf: &Path) -> String {
    let o = Command::new("pdftotext").arg(pdf).arg("-").output().expect("pdftotext runs");
    assert!(o.status.success(), "pdftotext {}: {}", pdf.display(), text(&o));
    String::from_utf8(o.stdout).expect("UTF-8")
}

#[test]
fn recognised_pages_carry_a_vietnamese_text_layer_and_are_found_without_tone_marks() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    // Six pages, one per font the generator has, two to a dossier.
    draw_pages(&src, 6, 24, 8);
    let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(src.join("truth.json")).unwrap()).unwrap();
    std::fs::remove_file(src.join("truth.json")).unwrap();
    // A born-digital PDF with Vietnamese text of its own (a printed separator sheet): its text is
    // recorded for search as it is, the file left alone.
    let born = src.join("H15.50.05.13-261208-0999");
    std::fs::create_dir_all(&born).unwrap();
    let o = command(&data)
        .args(["separator", "print", "H15.50.05.13-261208-0999", "--type", "Tờ khai thừa kế", "--out"])
        .arg(born.join("to-khai.pdf"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let born_sha = sha256_file(&born.join("to-khai.pdf"));
    let profile = tmp.path().join("ocr.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let out = sohoa(&data, &["ingest", "--profile", profile.to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("OCR (after attach; not in the time above): 7 document(s), 6 page(s)"),
        "the run reports OCR apart:\n{said}"
    );

    let (mut errors, mut chars) = (0usize, 0usize);
    for (rel, entry) in truth.as_object().unwrap() {
        let (case, name) = rel.split_once('/').unwrap();
        let n: u32 = name.trim_start_matches("trang-").trim_end_matches(".png").parse().unwrap();
        let pdf = data.join("cases").join(case).join(format!("{case}.{n:03}.pdf"));
        qpdf_check(&pdf);
        let problems = common::pdfa::check(&pdf, common::pdfa::Part::A2b);
        assert!(problems.is_empty(), "{}: {problems:?}", pdf.display());
        let got = pdftotext(&pdf);
        assert_eq!(sohoa::util::text::nfc(&got), got, "{rel}: the text layer reads back in NFC");
        let want = collapsed(entry["text"].as_str().unwrap());
        let e = distance(&want, &collapsed(&got));
        eprintln!("{rel} ({}): CER {:.4}", entry["font"], e as f64 / want.len() as f64);
        (errors, chars) = (errors + e, chars + want.len());
    }
    let cer = errors as f64 / chars as f64;
    eprintln!("all pages: CER {cer:.4} over {chars} characters");
    assert!(cer < 0.03, "character error rate {cer:.4} is 3% or more");

    // The new version is the old one's bytes and the update after them: every page image unchanged.
    let versions: Vec<(String, i64, String)> = query(
        &data,
        "SELECT d.case_code, v.version, v.operation FROM document_versions v \
         JOIN documents d ON d.id = v.document_id ORDER BY d.case_code, d.ordinal, v.version",
    );
    assert_eq!(versions.iter().filter(|v| v.2 == "ocr").count(), 6, "{versions:?}");
    let first = &versions[0];
    assert_eq!((first.1, first.2.as_str()), (1, "scan"));
    let (v1, v2) = (version(&data, &first.0, 1), version(&data, &first.0, 2));
    assert!(v2.len() > v1.len() && v2.starts_with(&v1), "version 2 appends to version 1");
    let images = |p: &[u8]| {
        let f = tmp.path().join("v.pdf");
        std::fs::write(&f, p).unwrap();
        let o = Command::new("pdfimages").arg("-list").arg(&f).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(images(&v1), images(&v2), "the same images, placed the same");

    // Search: without tone marks, by CLI (JSON) and with the words as written.
    let found = sohoa(&data, &["search", "quyen su dung dat", "--json"]);
    assert!(found.status.success(), "{}", text(&found));
    let hits: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    let with_phrase = truth
        .as_object()
        .unwrap()
        .values()
        .filter(|e| e["text"].as_str().unwrap().contains("quyền sử dụng đất"))
        .count();
    let hits = hits["hits"].as_array().unwrap();
    assert!(with_phrase > 0, "the generator drew the phrase on some page");
    assert!(
        hits.len() >= with_phrase.saturating_sub(1) && !hits.is_empty(),
        "{with_phrase} pages hold it, {} found",
        hits.len()
    );
    for h in hits {
        let words = sohoa::util::text::folded_words(h["text"].as_str().unwrap());
        assert!(
            ["quyen", "su", "dung", "dat"].iter().all(|w| words.iter().any(|x| x == w)),
            "every word asked is on the page: {h}"
        );
    }
    let found = sohoa(&data, &["search", "to khai thua ke", "--json"]);
    let born_found: serde_json::Value = serde_json::from_slice(&found.stdout).unwrap();
    let born_hits: Vec<&serde_json::Value> = born_found["hits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["case_code"] == "H15.50.05.13-261208-0999")
        .collect();
    assert_eq!(born_hits.len(), 1, "the born-digital PDF's own text is found: {born_found}");
    assert_eq!(born_hits[0]["version"], 1, "at its version as it is");
    let pdfs = pdfs(&data, "H15.50.05.13-261208-0999");
    assert_eq!(sha256_file(&pdfs[0]), born_sha, "the born-digital PDF is left alone");
    let none = sohoa(&data, &["search", "khongcotunay"]);
    assert_eq!(none.status.code(), Some(1), "nothing found exits 1: {}", text(&none));

    // Over HTTP, within the caller's unit.
    // The generator's cases are of unit H15.50.05.13 (their codes say so).
    let code = hits[0]["case_code"].as_str().unwrap().to_string();
    let units: Vec<(Option<String>,)> = query(&data, "SELECT unit FROM cases");
    assert!(units.iter().all(|u| u.0.as_deref() == Some("H15.50.05.13")), "{units:?}");
    let mine = token(&data, &["--role", "clerk", "--unit", "H15.50.05.13"]);
    let other = token(&data, &["--role", "clerk", "--unit", "H15.50.05.14"]);
    let (_server, base) = start(tmp.path(), &data);
    let q = "/api/v1/search?q=Quyen%20su%20dung%20dat";
    let r = get(&base, q, Some(&mine), None);
    assert_eq!(r.status, 200);
    let body = r.json();
    let hits = body["hits"].as_array().unwrap();
    assert!(hits.iter().any(|h| h["case_code"] == code.as_str()), "{body}");
    assert!(hits[0]["marks"].as_array().is_some_and(|m| !m.is_empty()), "the matching words are marked: {body}");
    let picture = get(&base, hits[0]["picture"].as_str().unwrap(), Some(&mine), None);
    assert_eq!(picture.status, 200);
    assert!(picture.body.starts_with(&[0xFF, 0xD8]), "a JPEG of the page as shown");
    let r = get(&base, q, Some(&other), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["hits"].as_array().map(Vec::len), Some(0), "a clerk of another unit finds nothing");
    let r = get(&base, "/api/v1/search?q=%20%22%20", Some(&mine), None);
    assert_eq!(r.status, 400, "a query with no word is refused");
}

/// A version of a case's first document, as `doc get` writes it (from a plain blob, a recipe or S3).
fn version(data: &Path, code: &str, v: i64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(format!("v{v}.pdf"));
    let o =
        command(data).args(["doc", "get", code, "1", "--version", &v.to_string(), "--out"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "doc get {code} 1 --version {v}: {}", text(&o));
    std::fs::read(&out).unwrap()
}

#[test]
fn a_missing_tesseract_leaves_documents_attached_and_the_run_says_what_to_install() {
    if !tools_present() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, data, bin) = (tmp.path().join("src"), tmp.path().join("data"), tmp.path().join("bin"));
    draw_pages(&src, 2, 31, 4);
    std::fs::remove_file(src.join("truth.json")).unwrap();
    // A Tesseract without its Vietnamese model, first on the PATH.
    std::fs::create_dir_all(&bin).unwrap();
    let fake = bin.join("tesseract");
    std::fs::write(&fake, "#!/bin/sh\necho 'Error opening data file vie.traineddata' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let profile = tmp.path().join("ocr.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let started = std::time::Instant::now();
    let out = command(&data)
        .env("PATH", &path)
        .args(["ingest", "--profile", profile.to_str().unwrap(), src.to_str().unwrap()])
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "a one-shot run does not wait the fault out:\n{said}");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "it stops at once");
    assert!(said.contains("OCR COULD NOT RUN") && said.contains("vie.traineddata"), "{said}");
    assert!(said.contains("tesseract-ocr-vie"), "it names what to install:\n{said}");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM documents WHERE state = 'attached'"), 2, "attached all the same");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM page_text"), 0);
    // Installed (the real one back on the PATH): the same command adds the text, once.
    let out = sohoa(&data, &["ingest", "--profile", profile.to_str().unwrap(), src.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM document_versions WHERE operation = 'ocr'"), 2);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM page_text"), 2);
}

#[test]
fn killed_during_ocr_and_run_again_every_document_gets_its_text_exactly_once() {
    if !tools_present() {
        return;
    }
    use std::io::BufRead;
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    draw_pages(&src, 4, 47, 6);
    std::fs::remove_file(src.join("truth.json")).unwrap();
    let profile = tmp.path().join("ocr.toml");
    std::fs::write(&profile, PROFILE).unwrap();
    let args = ["ingest", "--profile", profile.to_str().unwrap(), src.to_str().unwrap()];
    // Killed (SIGKILL, no clean stop) while a document's text is being read, twice.
    for _ in 0..2 {
        let mut child = command(&data).args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
        let lines = std::io::BufReader::new(child.stderr.take().unwrap());
        for line in lines.lines().map_while(Result::ok) {
            if line.contains("recognising text document=") {
                break;
            }
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let out = sohoa(&data, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let documents = count(&data, "SELECT COUNT(*) FROM documents WHERE state = 'attached'");
    assert_eq!(documents, 4);
    assert_eq!(
        count(&data, "SELECT COUNT(*) FROM document_versions WHERE operation = 'ocr'"),
        4,
        "one text version each"
    );
    assert_eq!(count(&data, "SELECT COUNT(*) FROM documents WHERE version = 2"), 4);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM page_text"), 4, "one text row a page");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM jobs WHERE state <> 'done'"), 0);
    assert_eq!(
        count(&data, "SELECT COUNT(*) FROM jobs WHERE kind = 'ocr' AND last_error IS NOT NULL"),
        0,
        "none set aside"
    );
}
