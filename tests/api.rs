//! The HTTP API through real HTTP on loopback: tokens and roles, unit scopes, personal data, range
//! downloads, refusals of bad paths, audit events, the OpenAPI document.

mod common;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

const A: &str = "H15.50.05.13-261008-0001";
const B: &str = "H15.50.05.14-261008-0002";

struct Reply {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {} {:?} {}", self.status, self.headers, String::from_utf8_lossy(&self.body))
        })
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn get(base: &str, path: &str, token: Option<&str>, range: Option<&str>) -> Reply {
    let mut req = ureq::get(&format!("{base}{path}"));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    if let Some(r) = range {
        req = req.set("Range", r);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let headers =
        resp.headers_names().into_iter().map(|n| (n.clone(), resp.header(&n).unwrap_or("").to_string())).collect();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    Reply { status, body, headers }
}

fn token(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let o = sohoa(data, &all);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A running service with its API on a free loopback port, killed when dropped.
struct Server(std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(root: &Path, data: &Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(root.join("serve.log")).unwrap();
    let child = command(data)
        .args(["serve", "--inbox", root.join("inbox").to_str().unwrap()])
        .env("SOHOA_LISTEN", &addr)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Server(child);
    let base = format!("http://{addr}");
    let t = Instant::now();
    while ureq::get(&format!("{base}/health")).call().is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{}",
            std::fs::read_to_string(root.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, base)
}

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
        format!("code,unit,received,applicant_name\n{A},H15.50.05.13,2026-10-08,Nguyễn Văn A\n{B},H15.50.05.14,2026-10-08,Trần Thị B\n"),
    )
    .unwrap();
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
    for p in ["/api/v1/cases", "/api/v1/cases/{code}", "/api/v1/cases/{code}/documents/{file}", "/api/v1/report"] {
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
