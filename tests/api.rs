//! The HTTP API through real HTTP on loopback: tokens and roles, unit scopes, personal data, range
//! downloads, refusals of bad paths, audit events, the OpenAPI document.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::http::*;
use common::*;

const A: &str = "H15.50.05.13-261008-0001";
const B: &str = "H15.50.05.14-261008-0002";

#[test]
fn every_role_and_scope_gets_what_it_may_and_nothing_more() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    for code in [A, B] {
        draw(&format!(
            "import os\nos.makedirs({dir:?}, exist_ok=True)\ngenerate.page((620, 877)).save({f:?}, dpi=(75, 75), quality=80)",
            dir = src.join(code).display().to_string(),
            f = src.join(code).join("don.jpg").display().to_string()
        ));
    }
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let csv = tmp.path().join("cases.csv");
    std::fs::write(
        &csv,
        format!(
            "code,procedure,unit,received,applicant_name\n{A},1.001193,H15.50.05.13,2026-10-08,Nguyễn Văn A\n\
             {B},1.001193,H15.50.05.14,2026-10-08,Trần Thị B\n"
        ),
    )
    .unwrap();
    let catalogue = repo().join("fixtures/procedures.toml");
    assert!(sohoa(&data, &["procedure", "import", catalogue.to_str().unwrap()]).status.success());
    assert!(sohoa(&data, &["case", "import", csv.to_str().unwrap()]).status.success());
    let clerk = token(&data, &["--role", "clerk", "--label", "quầy 1"]);
    let supervisor = token(&data, &["--role", "supervisor"]);
    let station = token(&data, &["--role", "station"]);
    let district = token(&data, &["--role", "clerk", "--unit", "H15.50.05.14"]);
    let expired = token(&data, &["--role", "admin", "--days", "0"]);
    let (_server, base) = start(tmp.path(), &data);

    // No token, a wrong one, an expired one: 401 with a message that says what to do.
    assert_eq!(get(&base, "/health", None, None).status, 200);
    let r = get(&base, "/api/v1/cases", None, None);
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap().contains("Bearer"), "{}", r.json());
    assert_eq!(get(&base, "/api/v1/cases", Some("sohoa_nonsense"), None).status, 401);
    assert_eq!(get(&base, "/api/v1/cases", Some(&expired), None).status, 401);

    // Roles.
    let r = get(&base, "/api/v1/cases", Some(&clerk), None);
    assert_eq!(r.status, 200);
    let codes: Vec<String> =
        r.json()["cases"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_string()).collect();
    assert_eq!(codes, [A, B]);
    assert_eq!(get(&base, "/api/v1/cases", Some(&station), None).status, 403);
    assert_eq!(get(&base, "/api/v1/report?from=2026-10-01&to=2026-10-31", Some(&clerk), None).status, 403);
    let r = get(&base, "/api/v1/report?from=2026-10-01&to=2026-10-31", Some(&supervisor), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total"]["digitization"]["denominator"], 2);
    assert_eq!(get(&base, "/api/v1/unfiled", Some(&supervisor), None).status, 403);
    assert_eq!(get(&base, "/api/v1/unfiled", Some(&clerk), None).status, 200);
    assert_eq!(get(&base, "/api/v1/quarantine", Some(&clerk), None).status, 200);

    // Personal data: the clerk sees the applicant, the supervisor does not.
    let path = format!("/api/v1/cases/{A}");
    assert_eq!(get(&base, &path, Some(&clerk), None).json()["record"]["applicant_name"], "Nguyễn Văn A");
    assert!(get(&base, &path, Some(&supervisor), None).json()["record"]["applicant_name"].is_null());

    // A district token sees its own unit only.
    let r = get(&base, "/api/v1/cases", Some(&district), None);
    assert_eq!(r.json()["cases"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["cases"][0]["code"], B);
    assert_eq!(get(&base, &path, Some(&district), None).status, 403);
    assert_eq!(get(&base, &format!("/api/v1/cases/{A}/documents/001.pdf"), Some(&district), None).status, 403);
    assert_eq!(get(&base, "/api/v1/cases?unit=H15.50.05.13", Some(&district), None).status, 403);
    assert_eq!(get(&base, &format!("/api/v1/cases/{B}"), Some(&district), None).status, 200);

    // Downloads, whole and by range, equal the stored PDF.
    let pdf = std::fs::read(data.join("cases").join(A).join(format!("{A}.001.pdf"))).unwrap();
    let doc = format!("/api/v1/cases/{A}/documents/001.pdf");
    let r = get(&base, &doc, Some(&clerk), None);
    assert_eq!((r.status, r.body.len()), (200, pdf.len()));
    assert!(r.body == pdf);
    assert_eq!(r.header("x-sha256"), Some(sha256_hex(&pdf).as_str()));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    let r = get(&base, &doc, Some(&clerk), Some("bytes=0-99"));
    assert_eq!(r.status, 206);
    assert!(r.body == pdf[..100]);
    assert_eq!(r.header("content-range"), Some(format!("bytes 0-99/{}", pdf.len()).as_str()));
    let r = get(&base, &doc, Some(&clerk), Some("bytes=-10"));
    assert!(r.status == 206 && r.body == pdf[pdf.len() - 10..]);
    assert_eq!(get(&base, &doc, Some(&clerk), Some("bytes=99999999-")).status, 416);
    assert_eq!(get(&base, &format!("/api/v1/cases/{A}/documents/002.pdf"), Some(&clerk), None).status, 404);

    // Paths that try to leave the case.
    for bad in [
        "/api/v1/cases/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/cases/%2E%2E",
        "/api/v1/cases/H15.50.05.13-261008-0001%2F..%2F..%2Fsohoa.db",
        &format!("/api/v1/cases/{A}/documents/..%2F..%2Fsohoa.db"),
        &format!("/api/v1/cases/{A}/documents/-1.pdf"),
    ] {
        let r = get(&base, bad, Some(&clerk), None);
        assert!(r.status == 400 || r.status == 404, "{bad}: {}", r.status);
        assert!(r.json()["error"].is_string());
    }

    // Every read is on the audit log, with the token as actor.
    let views = count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'view' AND actor LIKE 'quầy 1 (token:%'");
    assert!(views >= 1, "views by the clerk's token: {views}");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'download'"), 3, "two ranges and one whole file");

    // The OpenAPI document names every route; metrics are Prometheus text.
    let spec = get(&base, "/openapi.json", None, None).json();
    assert_eq!(spec["openapi"], "3.0.3");
    for p in [
        "/api/v1/cases",
        "/api/v1/cases/{code}",
        "/api/v1/cases/{code}/documents/{file}",
        "/api/v1/files/{sha256}",
        "/api/v1/files/{sha256}/pages/{page}/thumbnail.jpg",
        "/api/v1/unfiled",
        "/api/v1/unfiled/{intake}/file",
        "/api/v1/quarantine",
        "/api/v1/quarantine/{intake}/retry",
        "/api/v1/quarantine/{intake}/discard",
        "/api/v1/upload",
        "/api/v1/report",
        "/api/v1/session",
        "/api/v1/stations",
    ] {
        assert!(spec["paths"][p].is_object(), "{p}");
    }
    let m = String::from_utf8(get(&base, "/metrics", None, None).body).unwrap();
    assert!(m.contains("sohoa_intakes_total 2"), "{m}");

    // A revoked token stops working at once.
    let list = sohoa(&data, &["token", "list"]);
    let id = String::from_utf8_lossy(&list.stdout)
        .lines()
        .find(|l| l.contains("quầy 1"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_string();
    assert!(sohoa(&data, &["token", "revoke", &id]).status.success());
    assert_eq!(get(&base, "/api/v1/cases", Some(&clerk), None).status, 401);
}

fn jpeg(seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(300, 400, |x, y| image::Rgb([(x + seed) as u8, (y * 2) as u8, 200]));
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85).encode_image(&img).unwrap();
    out
}

/// A PNG that declares 50,000 × 50,000 pixels in a few hundred bytes.
fn png_bomb() -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &vec![0u8; 1 << 20]).unwrap();
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn stations_upload_over_http_into_the_same_pipeline() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let profile = tmp.path().join("upload.toml");
    std::fs::write(&profile, "name = \"upload\"\n[service]\nupload_max_mb = 1\n").unwrap();
    assert!(sohoa(&data, &["case", "set", A, "--received", "2026-10-08"]).status.success());
    let station = token(&data, &["--role", "station", "--label", "máy quét 2"]);
    let district = token(&data, &["--role", "station", "--unit", "H15.50.05.14"]);
    let clerk = token(&data, &["--role", "clerk"]);
    let supervisor = token(&data, &["--role", "supervisor"]);
    let (_server, base) = start_with(tmp.path(), &data, &["--profile", profile.to_str().unwrap()]);
    let uploads = data.join("uploads");
    let leftovers = || std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);

    // A scan for case A, as an input of a given type.
    let scan = jpeg(1);
    let (ct, body) = multipart("trang-1.jpg", &scan);
    let path = format!("/api/v1/upload?case={A}&role=input&type=%C4%90%C6%A1n");
    let r = post(&base, &path, &station, &ct, &body);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["bytes"], scan.len());
    let c = wait_until_attached(&base, A, &clerk, Duration::from_secs(30));
    assert_eq!(c["documents"][0]["doc_type"], "Đơn");
    let rows: Vec<(String, String)> = query(&data, "SELECT station, sha256 FROM intakes");
    assert_eq!(rows, vec![("api:máy quét 2".to_string(), sha256_hex(&scan))]);
    assert_eq!(leftovers(), 0, "the spooled upload is gone once captured");
    // The same bytes again: recognised, nothing added.
    let r = post(&base, &path, &station, &ct, &body);
    assert_eq!((r.status, r.json()["duplicate"].clone()), (200, serde_json::json!(true)));

    // Refusals leave nothing behind.
    let (ct2, big) = multipart("big.jpg", &vec![7u8; 1_500_000]);
    let r = post(&base, &format!("/api/v1/upload?case={A}"), &station, &ct2, &big);
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].as_str().unwrap().contains("1 MB"));
    assert_eq!(post(&base, &path, &district, &ct, &body).status, 403, "another unit's case");
    assert_eq!(post(&base, &path, &supervisor, &ct, &body).status, 403, "supervisors do not upload");
    let (ct3, evil) = multipart("../../sohoa.db", &scan);
    assert_eq!(post(&base, &path, &station, &ct3, &evil).status, 400);
    let r = post(&base, &path, &station, &ct, b"--nonsense\r\nthis is not a form");
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(post(&base, "/api/v1/upload?case=..%2F..%2Fetc", &station, &ct, &body).status, 400);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 1);
    assert_eq!(leftovers(), 0);

    // A decompression bomb is taken (its bytes are what they are) and quarantined with a reason.
    let (ct4, bomb) = multipart("bomb.png", &png_bomb());
    let r = post(&base, "/api/v1/upload", &station, &ct4, &bomb);
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    let t = Instant::now();
    loop {
        let q = get(&base, "/api/v1/quarantine", Some(&clerk), None).json();
        if let Some(i) = q["inputs"].as_array().and_then(|a| a.first()) {
            assert!(i["reason"].as_str().is_some_and(|r| !r.is_empty()), "{q}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "bomb not quarantined: {q}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_large_upload_is_streamed_not_held_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let profile = tmp.path().join("big.toml");
    std::fs::write(&profile, "name = \"big\"\n[service]\nupload_max_mb = 300\n").unwrap();
    let clerk = token(&data, &["--role", "clerk"]);
    let (server, base) = start_with(tmp.path(), &data, &["--profile", profile.to_str().unwrap()]);
    // A large upload is streamed to disk, not held in memory: the server's resident memory, sampled
    // while the body streams in, barely moves.
    let server_pid = server.0.id();
    let rss = move || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{server_pid}/status")).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB").to_string();
        line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) / 1024
    };
    let before = rss();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                max = max.max(rss());
                std::thread::sleep(Duration::from_millis(5));
            }
            max
        })
    };
    let size: u64 = 64 << 20;
    let boundary = "sohoa-large-upload";
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"large.tif\"\r\n\r\n");
    let tail = format!("\r\n--{boundary}--\r\n");
    // Sampling stops when the last byte of the body has been handed to the socket: before the server
    // captures the file and the pipeline reads it.
    struct UntilEnd<R>(R, std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl<R: Read> Read for UntilEnd<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.read(buf)?;
            if n == 0 {
                self.1.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(n)
        }
    }
    let stream = UntilEnd(
        std::io::Cursor::new(head.into_bytes())
            .chain(std::io::repeat(0x49).take(size))
            .chain(std::io::Cursor::new(tail.into_bytes())),
        done.clone(),
    );
    let r = ureq::post(&format!("{base}/api/v1/upload"))
        .set("Authorization", &format!("Bearer {clerk}"))
        .set("Content-Type", &format!("multipart/form-data; boundary={boundary}"))
        .send(stream);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let during = sampler.join().unwrap();
    let status = match r {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(c, _)) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 202);
    let grew = during.saturating_sub(before);
    eprintln!("server RSS {before} MiB before, at most {during} MiB during a {} MiB upload", size >> 20);
    assert!(grew < 32, "RSS grew by {grew} MiB while {} MiB streamed in", size >> 20);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM files WHERE bytes = 67108864"), 1, "stored whole");
    assert_eq!(std::fs::read_dir(data.join("uploads")).map(|d| d.count()).unwrap_or(0), 0);
}

#[test]
fn a_clerk_files_an_unfiled_scan_and_the_case_becomes_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("loose.jpg"), jpeg(9)).unwrap();
    assert!(sohoa(&data, &["ingest", src.to_str().unwrap()]).status.success());
    let catalogue = repo().join("fixtures/procedures.toml");
    assert!(sohoa(&data, &["procedure", "import", catalogue.to_str().unwrap()]).status.success());
    assert!(sohoa(&data, &["case", "set", A, "--procedure", "2.000908", "--received", "2026-10-08"]).status.success());
    let clerk = token(&data, &["--role", "clerk", "--label", "quầy 3"]);
    let district = token(&data, &["--role", "clerk", "--unit", "H15.50.05.14"]);
    let own_unit = token(&data, &["--role", "clerk", "--unit", A.split('-').next().unwrap()]);
    let supervisor = token(&data, &["--role", "supervisor"]);
    let (_server, base) = start(tmp.path(), &data);

    // The scan was captured by a station of no unit: a clerk limited to a unit neither sees it nor
    // files it, even into a case of their own unit (and then reads it).
    assert_eq!(get(&base, "/api/v1/unfiled", Some(&own_unit), None).json()["pages"], serde_json::json!([]));

    let unfiled = get(&base, "/api/v1/unfiled", Some(&clerk), None).json();
    let pages = unfiled["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 1, "{unfiled}");
    assert_eq!(pages[0]["source"], "loose.jpg");
    let intake = pages[0]["intake"].as_str().unwrap().to_string();
    let case = format!("/api/v1/cases/{A}");
    assert_eq!(get(&base, &case, Some(&clerk), None).json()["completeness"]["complete"], false);

    let path = format!("/api/v1/unfiled/{intake}/file");
    let body = serde_json::json!({ "case": A, "type": "Bản chính" }).to_string();
    assert_eq!(post(&base, &path, &supervisor, "application/json", body.as_bytes()).status, 403);
    assert_eq!(post(&base, &path, &district, "application/json", body.as_bytes()).status, 403);
    assert_eq!(post(&base, &path, &own_unit, "application/json", body.as_bytes()).status, 404);
    let bad = serde_json::json!({ "case": "../../etc" }).to_string();
    assert_eq!(post(&base, &path, &clerk, "application/json", bad.as_bytes()).status, 400);
    let r = post(&base, &path, &clerk, "application/json", body.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["document"], format!("{A}.001.pdf"));

    // The badge turns complete once the PDF is rendered and attached.
    let t = Instant::now();
    loop {
        let c = get(&base, &case, Some(&clerk), None).json();
        if c["completeness"]["complete"] == true {
            assert_eq!(c["documents"][0]["state"], "attached");
            assert_eq!(c["documents"][0]["doc_type"], "Bản chính");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "not complete: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(data.join("cases").join(A).join(format!("{A}.001.pdf")).is_file());
    assert_eq!(get(&base, "/api/v1/unfiled", Some(&clerk), None).json()["pages"], serde_json::json!([]));
    assert_eq!(post(&base, &path, &clerk, "application/json", body.as_bytes()).status, 404, "filed once");
    let filed = count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'file' AND actor LIKE 'quầy 3 (token:%'");
    assert_eq!(filed, 1);

    // Case fields are edited through the API too, audited, within the token's unit.
    let put = |token: &str, code: &str, body: serde_json::Value| -> u16 {
        match ureq::put(&format!("{base}/api/v1/cases/{code}"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", "application/json")
            .send_string(&body.to_string())
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(c, _)) => c,
            Err(e) => panic!("{e}"),
        }
    };
    let edit = serde_json::json!({ "status": "resolved", "resolved": "20/10/2026" });
    assert_eq!(put(&supervisor, A, edit.clone()), 403);
    assert_eq!(put(&district, A, edit.clone()), 403);
    assert_eq!(put(&clerk, A, serde_json::json!({ "status": "lost" })), 400);
    assert_eq!(put(&clerk, A, serde_json::json!({ "colour": "red" })), 422, "unknown fields are refused");
    assert_eq!(put(&clerk, A, edit), 200);
    let c = get(&base, &case, Some(&clerk), None).json();
    assert_eq!(
        (c["record"]["status"].as_str(), c["record"]["resolved_date"].as_str()),
        (Some("resolved"), Some("2026-10-20"))
    );
    assert_eq!(put(&district, B, serde_json::json!({ "status": "processing" })), 200, "a new case in its own unit");
    assert_eq!(put(&district, B, serde_json::json!({ "unit": "H15.50.05.13" })), 403, "not moved out of its unit");

    // A clerk corrects the document's type: the PDF is made again and names it; the change is audited.
    let doc = format!("{A}/documents/001");
    assert_eq!(put(&supervisor, &doc, serde_json::json!({ "type": "Bản chính" })), 403);
    assert_eq!(put(&clerk, &format!("{A}/documents/abc"), serde_json::json!({ "type": "x" })), 400);
    assert_eq!(put(&clerk, &format!("{A}/documents/007"), serde_json::json!({ "type": "x" })), 404);
    assert_eq!(put(&clerk, &doc, serde_json::json!({ "role": "both" })), 400);
    assert_eq!(put(&clerk, &doc, serde_json::json!({})), 400, "nothing to set");
    let before = get(&base, &case, Some(&clerk), None).json()["documents"][0]["sha256"].clone();
    assert_eq!(put(&clerk, &doc, serde_json::json!({ "type": "Bản sao chứng thực" })), 200);
    let t = Instant::now();
    loop {
        let c = get(&base, &case, Some(&clerk), None).json();
        let d = &c["documents"][0];
        if d["state"] == "attached" && d["sha256"] != before {
            assert_eq!(d["doc_type"], "Bản sao chứng thực");
            // The procedure requires "Bản chính": no longer there.
            assert_eq!(c["completeness"]["complete"], false, "{c}");
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "not rendered again: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'retype' AND actor LIKE 'quầy 3 (token:%'"), 1);

    // The clerk marks the input as taken from an earlier case's document, then takes the mark off.
    let reuse = format!("{doc}/reuse");
    assert_eq!(put(&supervisor, &reuse, serde_json::json!({ "from": "H15.50.05.13-250301-0012.002" })), 403);
    assert_eq!(put(&clerk, &reuse, serde_json::json!({ "from": "giấy cũ" })), 400);
    assert_eq!(
        put(&clerk, &format!("{A}/documents/007/reuse"), serde_json::json!({ "from": "H15.50.05.13-250301-0012" })),
        404
    );
    assert_eq!(put(&clerk, &reuse, serde_json::json!({ "from": "H15.50.05.13-250301-0012.002" })), 200);
    let marked: Vec<(Option<String>,)> =
        query(&data, "SELECT reused_from FROM documents WHERE ordinal = 1 AND state = 'attached'");
    assert!(marked.iter().any(|(r,)| r.as_deref() == Some("H15.50.05.13-250301-0012.002")), "{marked:?}");
    assert_eq!(put(&clerk, &reuse, serde_json::json!({ "from": null })), 200);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM documents WHERE reused_from IS NOT NULL"), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'reuse'"), 2);
}

#[test]
fn quarantined_inputs_are_retried_or_discarded_and_originals_and_thumbnails_are_served() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    let scan = jpeg(3);
    std::fs::write(src.join("đơn.jpg"), &scan).unwrap();
    std::fs::write(src.join("đơn.json"), "{ this is not json").unwrap();
    std::fs::write(src.join("junk.jpg"), b"not an image at all").unwrap();
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(data.join("quarantine/đơn.jpg.error.json").is_file());
    let clerk = token(&data, &["--role", "clerk", "--label", "quầy 5"]);
    let supervisor = token(&data, &["--role", "supervisor"]);
    let district = token(&data, &["--role", "clerk", "--unit", "H15.50.05.14"]);
    let (_server, base) = start(tmp.path(), &data);

    let list = get(&base, "/api/v1/quarantine", Some(&clerk), None).json();
    let inputs = list["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 2, "{list}");
    // Each says, in Vietnamese, what happened and whether only a new scan helps.
    let manifest = inputs.iter().find(|q| q["code"] == "bad-manifest").unwrap();
    assert!(
        manifest["reason_vi"].as_str().unwrap().contains("manifest") && manifest["scan_again"] == false,
        "{manifest}"
    );
    let junk = inputs.iter().find(|q| q["code"] != "bad-manifest").unwrap();
    assert_eq!(junk["scan_again"], true, "{junk}");
    let id_of = |name: &str| {
        inputs.iter().find(|i| i["source"] == name).map(|i| i["intake"].as_str().unwrap().to_string()).unwrap()
    };
    let (scan_id, junk_id) = (id_of("đơn.jpg"), id_of("junk.jpg"));
    assert!(inputs.iter().all(|i| i["reason"].as_str().is_some_and(|r| !r.is_empty())));

    // Retry, to the case the clerk names: the scan goes through and the quarantine view goes away.
    let json = "application/json";
    let retry = format!("/api/v1/quarantine/{scan_id}/retry");
    let to_a = serde_json::json!({ "case": A, "type": "Đơn" }).to_string();
    let r = post(&base, &retry, &supervisor, json, to_a.as_bytes());
    assert_eq!(r.status, 403);
    // Every refusal comes in both languages: what the clerk's page shows is Vietnamese.
    assert_eq!(
        r.json()["error_vi"],
        "mã truy cập của lãnh đạo không được xem hoặc phân loại bản quét chưa phân loại và bị cách ly"
    );
    assert!(r.json()["error"].as_str().is_some_and(|e| e.starts_with("a supervisor token cannot")), "{}", r.json());
    // A file only a new scan can fix is refused a retry, with that said.
    let r = post(&base, &format!("/api/v1/quarantine/{junk_id}/retry"), &clerk, json, b"{}");
    assert_eq!((r.status, r.json()["code"].as_str()), (409, Some("scan-again")), "{}", r.json());
    assert!(r.json()["error_vi"].as_str().is_some_and(|e| e.contains("không giúp được")), "{}", r.json());
    assert_eq!(post(&base, &retry, &clerk, json, br#"{"case": "../../etc"}"#).status, 400);
    assert_eq!(post(&base, &retry, &clerk, json, br#"{"colour": "red"}"#).status, 422);
    let r = post(&base, &retry, &clerk, json, to_a.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["used"], "clerk", "{}", r.json());
    let c = wait_until_attached(&base, A, &clerk, Duration::from_secs(60));
    assert_eq!(c["documents"][0]["doc_type"], "Đơn");
    assert!(!data.join("quarantine/đơn.jpg").exists() && !data.join("quarantine/đơn.jpg.error.json").exists());
    assert_eq!(post(&base, &retry, &clerk, json, to_a.as_bytes()).status, 409, "not in quarantine any more");
    assert_eq!(post(&base, "/api/v1/quarantine/no-such-input/retry", &clerk, json, b"{}").status, 404);

    // Discard: off the list, on the audit log; the record and the bytes stay.
    let discard = format!("/api/v1/quarantine/{junk_id}/discard");
    let r = post(&base, &discard, &clerk, json, b"{}");
    assert_eq!(r.status, 422, "a reason is required");
    // Refusals of a body or query that does not parse are JSON like every other error.
    assert_eq!(r.json()["code"], "invalid-body", "{}", String::from_utf8_lossy(&r.body));
    assert!(r.json()["error"].as_str().is_some_and(|e| e.contains("reason")), "{}", r.json());
    let r = post(&base, &discard, &clerk, json, b"garbage");
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("bad-request")));
    let r = get(&base, "/api/v1/cases?complete=maybe", Some(&clerk), None);
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("bad-request")));
    assert_eq!(post(&base, &discard, &clerk, json, br#"{"reason": "  "}"#).status, 400);
    assert_eq!(post(&base, &discard, &district, json, br#"{"reason": "x"}"#).status, 403, "not its unit's input");
    let r = post(&base, &discard, &clerk, json, r#"{"reason": "ảnh thử máy"}"#.as_bytes());
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(get(&base, "/api/v1/quarantine", Some(&clerk), None).json()["inputs"], serde_json::json!([]));
    assert!(!data.join("quarantine/junk.jpg").exists());
    let junk_sha = sha256_hex(b"not an image at all");
    let kept = count(&data, "SELECT COUNT(*) FROM intakes WHERE state = 'quarantined' AND discarded_at IS NOT NULL");
    assert_eq!(kept, 1, "the discarded input is still recorded");
    assert_eq!(common::s3::stored_blob(&data, &junk_sha).as_deref(), Some(&b"not an image at all"[..]), "bytes kept");
    let events: Vec<(String, String)> =
        query(&data, "SELECT kind, actor FROM events WHERE kind IN ('retry', 'discard') ORDER BY id");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|(_, actor)| actor.starts_with("quầy 5 (token:")), "{events:?}");
    let o = sohoa(&data, &["quarantine", "list"]);
    assert!(o.status.success() && String::from_utf8_lossy(&o.stdout).trim().is_empty(), "{}", text(&o));

    // The original, as captured, and a thumbnail of its page.
    let sha = sha256_hex(&scan);
    let r = get(&base, &format!("/api/v1/files/{sha}"), Some(&clerk), None);
    assert_eq!(r.status, 200);
    assert!(r.body == scan, "the original byte for byte");
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert!(r.header("content-disposition").is_some_and(|d| d.contains("filename*=UTF-8''%C4%91%C6%A1n.jpg")));
    let r = get(&base, &format!("/api/v1/files/{sha}"), Some(&clerk), Some("bytes=0-1"));
    assert!(r.status == 206 && r.body == scan[..2]);
    assert_eq!(get(&base, &format!("/api/v1/files/{sha}"), Some(&district), None).status, 403);
    assert_eq!(get(&base, "/api/v1/files/..%2F..%2Fsohoa.db", Some(&clerk), None).status, 400);
    assert_eq!(get(&base, &format!("/api/v1/files/{}", "0".repeat(64)), Some(&clerk), None).status, 404);
    let thumb = format!("/api/v1/files/{sha}/pages/1/thumbnail.jpg");
    let r = get(&base, &thumb, Some(&clerk), None);
    assert_eq!(r.status, 200);
    let img = image::load_from_memory(&r.body).expect("a JPEG");
    assert_eq!((img.width(), img.height()), (192, 256), "300×400 scaled to a 256-pixel edge");
    let cached = std::fs::read_dir(data.join("thumbnails").join(&sha[..2])).unwrap().count();
    assert_eq!(cached, 1);
    assert!(get(&base, &thumb, Some(&clerk), None).body == r.body, "served from the cache");
    // Large enough to read: a 1600-pixel edge at most, never enlarged past the scan itself.
    let r = get(&base, &format!("{thumb}?size=large"), Some(&clerk), None);
    assert_eq!(r.status, 200);
    let img = image::load_from_memory(&r.body).expect("a JPEG");
    assert_eq!((img.width(), img.height()), (300, 400));
    assert_eq!(std::fs::read_dir(data.join("thumbnails").join(&sha[..2])).unwrap().count(), 2, "cached apart");
    let r = get(&base, &format!("{thumb}?size=huge"), Some(&clerk), None);
    assert_eq!((r.status, r.json()["code"].as_str()), (400, Some("bad-request")));
    assert_eq!(get(&base, &format!("/api/v1/files/{sha}/pages/0/thumbnail.jpg"), Some(&clerk), None).status, 400);
    assert_eq!(get(&base, &format!("/api/v1/files/{sha}/pages/9/thumbnail.jpg"), Some(&clerk), None).status, 404);

    // What the service did is in /metrics: per-stage latency and the queue.
    let m = String::from_utf8(get(&base, "/metrics", None, None).body).unwrap();
    for stage in ["split", "decode", "encode", "write", "attach"] {
        assert!(m.contains(&format!("sohoa_stage_seconds_count{{stage=\"{stage}\"}}")), "{stage}: {m}");
    }
    assert!(m.contains("sohoa_quarantined 0"), "{m}");
    assert!(m.contains("sohoa_verify_failures_total 0"), "{m}");
    assert!(m.trim_end().ends_with("# EOF"), "OpenMetrics text");
}

#[test]
fn the_web_session_is_a_cookie_scripts_cannot_read_and_a_symlink_in_the_inbox_is_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let clerk = token(&data, &["--role", "clerk"]);
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // A file outside the inbox that a symlink points at: it must never be captured.
    let outside = tmp.path().join("secret.jpg");
    std::fs::write(&outside, jpeg(11)).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join("link.jpg")).unwrap();
    let (_server, base) = start(tmp.path(), &data);

    // The page itself needs no token; what it shows does.
    let page = get(&base, "/", None, None);
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("lang=\"vi\""));
    assert!(page.header("content-security-policy").is_some_and(|c| c.contains("default-src 'self'")));
    let sign_in = |body: &str| match ureq::post(&format!("{base}/api/v1/session"))
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.header("set-cookie").map(str::to_string)),
        Err(ureq::Error::Status(c, r)) => (c, r.header("set-cookie").map(str::to_string)),
        Err(e) => panic!("{e}"),
    };
    let (status, cookie) = sign_in(r#"{"token": "sohoa_not_a_token"}"#);
    assert_eq!((status, cookie), (401, None));
    let (status, cookie) = sign_in(&serde_json::json!({ "token": clerk }).to_string());
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let r = ureq::get(&format!("{base}/api/v1/session")).set("Cookie", &pair).call().unwrap();
    let me: serde_json::Value = serde_json::from_reader(r.into_reader()).unwrap();
    assert_eq!((me["role"].as_str(), me["may"]["file"].as_bool()), (Some("clerk"), Some(true)));
    assert_eq!(ureq::get(&format!("{base}/api/v1/stations")).set("Cookie", &pair).call().unwrap().status(), 200);
    let bad = ureq::get(&format!("{base}/api/v1/cases")).set("Cookie", "sohoa_session=forged").call();
    assert!(matches!(bad, Err(ureq::Error::Status(401, _))));

    // A change made with the cookie must come from the page itself: another origin (any other port
    // on this host is "same site" to the cookie), a cross-site fetch, or a request without the page's
    // anti-forgery value is refused before anything is done.
    let csrf = me["csrf"].as_str().expect("the session's anti-forgery value").to_string();
    let change = |headers: &[(&str, &str)]| {
        let mut req = ureq::post(&format!("{base}/api/v1/quarantine/nothing-here/discard"))
            .set("Cookie", &pair)
            .set("Content-Type", "application/json");
        for (k, v) in headers {
            req = req.set(k, v);
        }
        match req.send_string(r#"{"reason": "test"}"#) {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(c, _)) => c,
            Err(e) => panic!("{e}"),
        }
    };
    let host = base.trim_start_matches("http://").to_string();
    assert_eq!(change(&[("Origin", "http://evil.example"), ("X-CSRF-Token", &csrf)]), 403);
    assert_eq!(change(&[("Origin", "http://127.0.0.1:1"), ("X-CSRF-Token", &csrf)]), 403);
    assert_eq!(change(&[("Sec-Fetch-Site", "same-site"), ("X-CSRF-Token", &csrf)]), 403);
    assert_eq!(change(&[("Origin", &format!("http://{host}"))]), 403, "no anti-forgery value");
    assert_eq!(change(&[("X-CSRF-Token", "0123456789abcdef0123456789abcdef")]), 403, "a wrong one");
    // From the page: the request goes through to the route (which knows no such input).
    assert_eq!(
        change(&[("Origin", &format!("http://{host}")), ("Sec-Fetch-Site", "same-origin"), ("X-CSRF-Token", &csrf)]),
        404
    );
    // A bearer token is no ambient credential: no anti-forgery value needed.
    let r = post(&base, "/api/v1/quarantine/nothing-here/discard", &clerk, "application/json", br#"{"reason": "t"}"#);
    assert_eq!(r.status, 404);
    let out = ureq::delete(&format!("{base}/api/v1/session")).call().unwrap();
    assert!(out.header("set-cookie").is_some_and(|c| c.contains("Max-Age=0")));

    // A real scan dropped after the link is captured; the link never is.
    std::fs::write(inbox.join("real.jpg"), jpeg(12)).unwrap();
    let t = Instant::now();
    while count(&data, "SELECT COUNT(*) FROM intakes WHERE source_path = 'real.jpg'") == 0 {
        assert!(t.elapsed() < Duration::from_secs(60), "the real scan was not captured");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 1, "only the real scan");
    assert!(outside.is_file(), "the link's target is untouched");
    let log = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap();
    assert!(log.contains("symbolic link"), "the refusal is logged: {log}");
}
