//! Talking to a running `sohoa serve` over real HTTP on loopback.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{command, sohoa, text};

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("{e}: {} {:?} {}", self.status, self.headers, String::from_utf8_lossy(&self.body))
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub fn get(base: &str, path: &str, token: Option<&str>, range: Option<&str>) -> Reply {
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

pub fn token(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let o = sohoa(data, &all);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// A running service with its API on a free loopback port, killed when dropped.
pub struct Server(pub std::process::Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn start(root: &Path, data: &Path) -> (Server, String) {
    start_with(root, data, &[])
}

pub fn start_with(root: &Path, data: &Path, extra: &[&str]) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let log = std::fs::File::create(root.join("serve.log")).unwrap();
    let child = command(data)
        .args(["serve", "--inbox", root.join("inbox").to_str().unwrap()])
        .args(extra)
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

/// A multipart body with one `file` part.
pub fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "sohoa-test-boundary-7d1f";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn post(base: &str, path: &str, token: &str, content_type: &str, body: &[u8]) -> Reply {
    let resp = match ureq::post(&format!("{base}{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", content_type)
        .send_bytes(body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("POST {path}: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    Reply { status, body, headers: Vec::new() }
}

/// Polls a case until one of its documents is attached (at most `limit`), and returns the case.
pub fn wait_until_attached(base: &str, code: &str, token: &str, limit: Duration) -> serde_json::Value {
    let t = Instant::now();
    loop {
        let c = get(base, &format!("/api/v1/cases/{code}"), Some(token), None).json();
        if c["documents"].as_array().is_some_and(|d| d.iter().any(|d| d["state"] == "attached")) {
            return c;
        }
        assert!(t.elapsed() < limit, "no document of {code} attached: {c}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
