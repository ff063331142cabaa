//! Delivery to the one-stop system, against a real HTTP receiver on loopback started here: it keeps
//! what it accepted by idempotency key (a repeat gets 409), follows every signed link and hashes what
//! it downloads, and answers 5xx, times out, refuses or holds its answer when the test says so.

mod common;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const OTHER: &str = "H15.50.05.13-261008-0976";

/// How the receiver answers the next request.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// 503.
    Fail,
    /// Waits this long, then 503 (the sender has given up by then: a timeout).
    Slow(Duration),
    /// Accepts, then waits this long before answering 200 (a crash falls in between).
    Hold(Duration),
}

#[derive(Default)]
struct Seen {
    /// Every request: key, body (JSON, or the multipart's metadata), file parts' SHA-256.
    requests: Vec<(String, serde_json::Value)>,
    /// What was accepted, by key.
    accepted: HashMap<String, serde_json::Value>,
    /// Every download made by following a link: the SHA-256 the link names, that of the bytes, status.
    downloads: Vec<(String, String, u16)>,
    script: VecDeque<Mode>,
    /// Cases whose next requests are refused (422), with how many.
    refuse: HashMap<String, u32>,
    /// Multipart deliveries: the metadata part, the file part's SHA-256, the Authorization header.
    multipart: Vec<(serde_json::Value, Option<String>, String)>,
    /// Token calls: the form as sent.
    token_calls: Vec<String>,
    /// Deliveries being answered now, and the most there were at once.
    in_flight: u32,
    most_at_once: u32,
}

/// Counts a delivery as in flight while it lives.
struct InFlight(Shared);

impl InFlight {
    fn new(seen: &Shared) -> InFlight {
        let mut s = seen.lock().unwrap();
        s.in_flight += 1;
        s.most_at_once = s.most_at_once.max(s.in_flight);
        InFlight(seen.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

type Shared = Arc<Mutex<Seen>>;

struct Receiver {
    url: String,
    seen: Shared,
    _rt: tokio::runtime::Runtime,
}

fn receiver() -> Receiver {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let seen: Shared = Arc::default();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}/dvcqg", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/dvcqg", axum::routing::post(take))
        .route("/http", axum::routing::post(take_multipart))
        .route("/token", axum::routing::post(token))
        .route("/export", axum::routing::get(export))
        .with_state(seen.clone());
    rt.spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, seen, _rt: rt }
}

async fn take(
    axum::extract::State(seen): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let mode = {
        let mut s = seen.lock().unwrap();
        s.requests.push((key.clone(), json.clone()));
        s.script.pop_front()
    };
    let _counted = InFlight::new(&seen);
    match mode {
        Some(Mode::Fail) => return (StatusCode::SERVICE_UNAVAILABLE, "busy".into()),
        Some(Mode::Slow(d)) => {
            tokio::time::sleep(d).await;
            return (StatusCode::SERVICE_UNAVAILABLE, "too late".into());
        }
        _ => {}
    }
    let case = json["data"][0]["MaHoSo"].as_str().unwrap_or("").to_string();
    {
        let mut s = seen.lock().unwrap();
        if let Some(n) = s.refuse.get_mut(&case).filter(|n| **n > 0) {
            *n -= 1;
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                r#"{"message":"MaThanhPhanHoSo không hợp lệ cho thủ tục này"}"#.into(),
            );
        }
        if s.accepted.contains_key(&key) {
            return (StatusCode::CONFLICT, r#"{"message":"đã nhận"}"#.into());
        }
    }
    // Every file is fetched by its link, with no token, and hashed.
    let mut links = Vec::new();
    for d in json["data"].as_array().into_iter().flatten() {
        for f in d["TaiLieuNop"].as_array().into_iter().flatten() {
            links.push(f["DuongDanTaiTepTin"].as_str().unwrap_or("").to_string());
        }
        for f in d["DanhSachGiayToKetQua"].as_array().into_iter().flatten() {
            links.push(f["DuongDanTepTinKetQua"].as_str().unwrap_or("").to_string());
        }
    }
    let fetched =
        tokio::task::spawn_blocking(move || links.iter().map(|l| fetch(l)).collect::<Vec<_>>()).await.unwrap();
    let n = {
        let mut s = seen.lock().unwrap();
        s.downloads.extend(fetched);
        s.accepted.insert(key, json);
        s.accepted.len()
    };
    if let Some(Mode::Hold(d)) = mode {
        tokio::time::sleep(d).await;
    }
    (StatusCode::OK, format!(r#"{{"id":"R-{n}","error_code":"0"}}"#))
}

/// The one-stop system's export, as a CSV with Vietnamese headers, for a caller with the token.
async fn export(headers: axum::http::HeaderMap) -> (axum::http::StatusCode, [(&'static str, &'static str); 1], String) {
    let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer tk-pull");
    if !ok {
        return (axum::http::StatusCode::UNAUTHORIZED, [("content-type", "text/plain")], "no".into());
    }
    let csv = format!(
        "ma_ho_so,ma_thu_tuc,don_vi,ngay_tiep_nhan,trang_thai\n{CODE},1.001234,H15.50,2026-10-08,đang xử lý\n\
         {OTHER},1.001234,H15.50,08/10/2026,đã tiếp nhận\nkhông-phải-mã,1.001234,H15.50,2026-10-08,mới\n"
    );
    (axum::http::StatusCode::OK, [("content-type", "text/csv; charset=utf-8")], csv)
}

async fn token(axum::extract::State(seen): axum::extract::State<Shared>, form: String) -> String {
    seen.lock().unwrap().token_calls.push(form);
    r#"{"access_token":"T-1","token_type":"bearer","expires_in":3600}"#.into()
}

async fn take_multipart(
    axum::extract::State(seen): axum::extract::State<Shared>,
    headers: axum::http::HeaderMap,
    mut form: axum::extract::Multipart,
) -> (axum::http::StatusCode, String) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if auth != "Bearer T-1" {
        return (axum::http::StatusCode::UNAUTHORIZED, "who are you".into());
    }
    let (mut meta, mut file) = (serde_json::Value::Null, None);
    while let Ok(Some(part)) = form.next_field().await {
        let name = part.name().unwrap_or("").to_string();
        let bytes = part.bytes().await.unwrap();
        match name.as_str() {
            "thongTin" => meta = serde_json::from_slice(&bytes).unwrap(),
            "tep" => file = Some(sha256_hex(&bytes)),
            other => panic!("unexpected part {other}"),
        }
    }
    seen.lock().unwrap().multipart.push((meta, file, auth));
    (axum::http::StatusCode::CREATED, r#"{"id":"M-1"}"#.into())
}

/// Downloads a link: the SHA-256 its path names, that of the bytes, the status.
fn fetch(link: &str) -> (String, String, u16) {
    let named = link.split("/files/").nth(1).and_then(|r| r.split('?').next()).unwrap_or("").to_string();
    let r = http::get(link, "", None, None);
    (named, sha256_hex(&r.body), r.status)
}

/// A data folder with `CODE` (one input document of three pages, its case data set) and `OTHER` (the
/// same scans, a case only the scans named).
fn two_cases(dir: &Path) -> PathBuf {
    let data = doc::ingested(dir);
    let src2 = dir.join("src2").join(OTHER);
    std::fs::create_dir_all(&src2).unwrap();
    for e in std::fs::read_dir(dir.join("src").join(CODE)).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, src2.join(p.file_name().unwrap())).unwrap();
    }
    let profile = dir.join("doc.toml");
    let o = sohoa(&data, &["ingest", dir.join("src2").to_str().unwrap(), "--profile", profile.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    set_case(&data, CODE);
    data
}

fn set_case(data: &Path, code: &str) {
    let args = [
        "case",
        "set",
        code,
        "--procedure",
        "1.001234",
        "--unit",
        "H15.50",
        "--received",
        "2026-10-08",
        "--due",
        "2026-10-15",
    ];
    let o = sohoa(data, &args);
    assert!(o.status.success(), "{}", text(&o));
}

/// A profile delivering to `url`, its links pointing at `public`.
fn connector_profile(dir: &Path, url: &str, public: &str, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(dir.join("doc.toml")).unwrap();
    let p = dir.join("deliver.toml");
    std::fs::write(
        &p,
        format!(
            "{base}[connector]\nkind = \"dvcqg\"\nurl = \"{url}\"\npublic_url = \"{public}\"\ntimeout_seconds = 2\n\
             retry_base_ms = 200\nretry_max_ms = 800\n{extra}"
        ),
    )
    .unwrap();
    p
}

/// `sohoa serve` with the profile, its API on `port`; the log in `dir/serve-N.log`.
fn serve(dir: &Path, data: &Path, profile: &Path, port: u16, n: u32) -> Child {
    std::fs::create_dir_all(dir.join("inbox")).unwrap();
    let log = std::fs::File::create(dir.join(format!("serve-{n}.log"))).unwrap();
    let child = command(data)
        .args(["serve", "--profile", profile.to_str().unwrap(), "--inbox", dir.join("inbox").to_str().unwrap()])
        .env("SOHOA_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let t = Instant::now();
    while ureq::get(&format!("http://127.0.0.1:{port}/health")).call().is_err() {
        assert!(t.elapsed() < Duration::from_secs(20), "{}", logs(dir));
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn logs(dir: &Path) -> String {
    let mut all = String::new();
    for n in 1..4 {
        all += &std::fs::read_to_string(dir.join(format!("serve-{n}.log"))).unwrap_or_default();
    }
    all
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The outbox as `sohoa outbox --json` lists it, oldest first.
fn outbox(data: &Path) -> Vec<serde_json::Value> {
    let o = sohoa(data, &["outbox", "--json", "--limit", "1000"]);
    assert!(o.status.success(), "{}", text(&o));
    let mut v: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    v.reverse();
    v
}

/// Waits until `done` holds of the outbox.
fn wait_for(
    dir: &Path,
    data: &Path,
    what: &str,
    done: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let t = Instant::now();
    loop {
        let o = outbox(data);
        if done(&o) {
            return o;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "{what}: {o:#?}\n{}", logs(dir));
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn state_of<'a>(o: &'a [serde_json::Value], case: &str, operation: &str) -> Vec<&'a str> {
    o.iter()
        .filter(|e| e["case_code"] == case && e["operation"] == operation)
        .map(|e| e["state"].as_str().unwrap_or(""))
        .collect()
}

#[test]
fn every_change_reaches_the_receiver_once_through_failures_refusals_and_signed_links() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = two_cases(dir);
    let rx = receiver();
    // The first attempt meets a 503, the second a receiver that does not answer in time.
    rx.seen.lock().unwrap().script.extend([Mode::Fail, Mode::Slow(Duration::from_millis(3500))]);
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let profile = connector_profile(dir, &rx.url, &public, "");
    let mut server = serve(dir, &data, &profile, port, 1);

    // The attach of CODE is delivered on the third attempt; OTHER waits for its case data.
    let o = wait_for(dir, &data, "CODE's attach delivered", |o| state_of(o, CODE, "attach") == ["delivered"]);
    let first = o.iter().find(|e| e["case_code"] == CODE).unwrap();
    // A receiver slow to fetch the links may time out the third attempt too: the fourth then meets
    // its own earlier acceptance (409).
    assert!(first["attempts"].as_i64().unwrap() >= 3, "{first}");
    assert!(first["remote_status"] == 200 || first["remote_status"] == 409, "{first}");
    let other = o.iter().find(|e| e["case_code"] == OTHER).unwrap();
    assert_eq!(other["state"], "pending");
    assert!(other["error"]["en"].as_str().unwrap().contains("procedure code"), "{other}");
    assert_eq!(other["waits_for_case_data"], true, "{other}");
    // Waiting for the case's data is not a failure: listed, said so, and not under --failed.
    let all = text(&sohoa(&data, &["outbox"]));
    assert!(all.contains(&format!("{OTHER}.001.pdf")) && all.contains("waiting for the case's data"), "{all}");
    let failed = text(&sohoa(&data, &["outbox", "--failed"]));
    assert!(!failed.contains(&format!("{OTHER}.001.pdf")), "{failed}");

    // Once the one-stop system's data arrives, OTHER goes by itself.
    set_case(&data, OTHER);
    wait_for(dir, &data, "OTHER delivered", |o| state_of(o, OTHER, "attach") == ["delivered"]);

    // A correction the receiver refuses stops its case; the next one waits behind it.
    rx.seen.lock().unwrap().refuse.insert(CODE.into(), 1);
    assert!(sohoa(&data, &["doc", "turn", CODE, "1", "1", "90"]).status.success());
    let o = wait_for(dir, &data, "the correction refused", |o| state_of(o, CODE, "correct") == ["rejected"]);
    let refused = o.iter().find(|e| e["state"] == "rejected").unwrap().clone();
    assert_eq!(refused["remote_status"], 422);
    assert!(refused["remote_message"]["en"].as_str().unwrap().contains("MaThanhPhanHoSo"));
    assert!(sohoa(&data, &["doc", "turn", CODE, "1", "2", "180"]).status.success());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(state_of(&outbox(&data), CODE, "correct"), ["rejected", "pending"]);
    let listed = sohoa(&data, &["--lang", "vi", "outbox", "--failed"]);
    let listed = text(&listed);
    assert!(listed.contains("bị từ chối") && listed.contains("MaThanhPhanHoSo không hợp lệ"), "{listed}");
    assert!(listed.contains(&format!("sohoa outbox retry {}", refused["id"])), "{listed}");

    // The API lists the refusal for a clerk of the case's unit, not for one of another unit.
    let clerk = http::token(&data, &["--role", "clerk", "--unit", "H15.50"]);
    let stranger = http::token(&data, &["--role", "clerk", "--unit", "H15.99"]);
    let listed = http::get(&public, "/api/v1/outbox?state=failed", Some(&clerk), None).json();
    let mine = listed["entries"].as_array().unwrap();
    assert!(
        mine.iter().any(
            |e| e["id"] == refused["id"] && e["remote_message"]["vi"].as_str().unwrap().contains("MaThanhPhanHoSo")
        ),
        "{listed}"
    );
    assert_eq!(listed["counts"]["rejected"], 1);
    let theirs = http::get(&public, "/api/v1/outbox?state=failed", Some(&stranger), None).json();
    assert_eq!(theirs["entries"].as_array().unwrap().len(), 0, "{theirs}");
    let id = refused["id"].to_string();
    assert_eq!(
        http::post(&public, &format!("/api/v1/outbox/{id}/retry"), &stranger, "application/json", b"").status,
        403
    );

    // The clerk's retry delivers both, in order.
    let r = http::post(&public, &format!("/api/v1/outbox/{id}/retry"), &clerk, "application/json", b"");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["state"], "pending");
    wait_for(dir, &data, "both corrections delivered", |o| state_of(o, CODE, "correct") == ["delivered", "delivered"]);

    // A detach tells the receiver the file is gone.
    assert!(sohoa(&data, &["case", "detach", CODE, "1", "--reason", "nhầm hồ sơ"]).status.success());
    let o = wait_for(dir, &data, "the detach delivered", |o| state_of(o, CODE, "detach") == ["delivered"]);
    let detach_key = o.iter().find(|e| e["operation"] == "detach").unwrap()["idem_key"].as_str().unwrap().to_string();

    let seen = rx.seen.lock().unwrap();
    // Every entry's key was accepted exactly once, and nothing else was.
    let keys: Vec<String> = o.iter().map(|e| e["idem_key"].as_str().unwrap().to_string()).collect();
    let mut accepted: Vec<String> = seen.accepted.keys().cloned().collect();
    accepted.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(accepted, want);
    let gone = &seen.accepted[&detach_key]["data"][0]["TaiLieuNop"];
    assert_eq!(gone[0]["IsDeleted"], true, "{gone}");
    assert_eq!(seen.accepted[&keys[0]]["isUpdating"], false);
    assert!(seen.accepted.values().filter(|b| b["isUpdating"] == true).count() >= 3);
    // Every link was followed with no token and gave the bytes it names.
    assert!(seen.downloads.len() >= keys.len());
    for (named, got, status) in &seen.downloads {
        assert_eq!((*status, got), (200, named), "a link gave other bytes");
    }
    let pdf_now = &seen.accepted[&keys[keys.len() - 2]]["data"][0]["TaiLieuNop"][0]["DuongDanTaiTepTin"];
    let link = pdf_now.as_str().unwrap().to_string();
    let bodies: Vec<serde_json::Value> = seen.requests.iter().map(|(_, b)| b.clone()).collect();
    drop(seen);

    // Every body sent is valid against the schema written from the portal's field list.
    let all = dir.join("bodies.json");
    std::fs::write(&all, serde_json::to_vec(&bodies).unwrap()).unwrap();
    let check = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1]))\n\
             for b in json.load(open(sys.argv[2])):\n    jsonschema.validate(b, schema)\n\
             print('valid', len(json.load(open(sys.argv[2]))))",
        )
        .arg(repo().join("fixtures/dvcqg.schema.json"))
        .arg(&all)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check));

    // An altered or expired link is refused; the link as sent still works.
    assert_eq!(http::get(&link, "", None, None).status, 200);
    let (front, sig) = link.rsplit_once("signature=").unwrap();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    assert_eq!(http::get(&format!("{front}signature={flipped}{}", &sig[1..]), "", None, None).status, 403);
    let later = link.replacen("expires=", "expires=9", 1);
    assert_eq!(http::get(&later, "", None, None).status, 403);
    let key: Vec<(String,)> = query(&data, "SELECT value FROM secrets WHERE name = 'links'");
    let sha = link.split("/files/").nth(1).unwrap().split('?').next().unwrap();
    let old = sohoa::deliver::links::Links::new(hex::decode(&key[0].0).unwrap(), &public, 1);
    let expired = old.url(sha, time::OffsetDateTime::now_utc().unix_timestamp() - 7200);
    assert_eq!(http::get(&expired, "", None, None).status, 410);
    assert_eq!(http::get(&format!("{public}/api/v1/files/{sha}"), "", None, None).status, 401);

    // /metrics counts them.
    let m = String::from_utf8(http::get(&public, "/metrics", None, None).body).unwrap();
    assert!(m.contains("outbox_pending 0") && m.contains("outbox_rejected 0"), "{m}");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_receiver_that_hangs_on_one_case_does_not_hold_back_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = two_cases(dir);
    set_case(&data, OTHER);
    let rx = receiver();
    // The first delivery hangs past the timeout; the other case's goes meanwhile, not after it.
    rx.seen.lock().unwrap().script.push_back(Mode::Slow(Duration::from_secs(4)));
    let port = free_port();
    let profile = connector_profile(dir, &rx.url, &format!("http://127.0.0.1:{port}"), "");
    let mut server = serve(dir, &data, &profile, port, 1);
    wait_for(dir, &data, "both delivered", |o| {
        state_of(o, CODE, "attach") == ["delivered"] && state_of(o, OTHER, "attach") == ["delivered"]
    });
    let seen = rx.seen.lock().unwrap();
    assert_eq!(seen.most_at_once, 2, "both cases were in the receiver's hands at once");
    assert_eq!(seen.accepted.len(), 2);
    drop(seen);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_kill_between_send_and_receipt_loses_nothing_and_the_receiver_keeps_one_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = doc::ingested(dir);
    set_case(&data, CODE);
    let o = sohoa(&data, &["procedure", "set", "1.001234", "--name", "Đăng ký khai sinh", "--issues-result", "false"]);
    assert!(o.status.success(), "{}", text(&o));
    let delivered = |data: &Path| {
        let o = sohoa(data, &["report", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "json"]);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let t = &r["total"];
        (
            t["digitization"]["numerator"].as_i64(),
            t["delivered"]["numerator"].as_i64(),
            t["delivered"]["denominator"].as_i64(),
        )
    };
    // Digitized, not yet delivered: the 766 report says so.
    assert_eq!(delivered(&data), (Some(1), Some(0), Some(1)));
    let rx = receiver();
    // The receiver takes the dossier, then holds its answer: the service is killed meanwhile.
    rx.seen.lock().unwrap().script.push_back(Mode::Hold(Duration::from_secs(30)));
    let port = free_port();
    let profile = connector_profile(dir, &rx.url, &format!("http://127.0.0.1:{port}"), "");
    let profile_text =
        std::fs::read_to_string(&profile).unwrap().replace("timeout_seconds = 2", "timeout_seconds = 20");
    std::fs::write(&profile, profile_text).unwrap();
    let mut first = serve(dir, &data, &profile, port, 1);
    let t = Instant::now();
    while rx.seen.lock().unwrap().accepted.is_empty() {
        assert!(t.elapsed() < Duration::from_secs(30), "{}", logs(dir));
        std::thread::sleep(Duration::from_millis(50));
    }
    first.kill().unwrap(); // SIGKILL: no receipt recorded
    first.wait().unwrap();
    assert_eq!(state_of(&outbox(&data), CODE, "attach"), ["pending"]);

    let mut second = serve(dir, &data, &profile, port, 2);
    let o = wait_for(dir, &data, "delivered after the restart", |o| state_of(o, CODE, "attach") == ["delivered"]);
    let e = &o[0];
    assert_eq!(e["remote_status"], 409, "the repeat is known by its key: {e}");
    let seen = rx.seen.lock().unwrap();
    let key = e["idem_key"].as_str().unwrap();
    assert_eq!(seen.requests.iter().filter(|(k, _)| k == key).count(), 2);
    assert_eq!(seen.accepted.len(), 1);
    drop(seen);
    assert_eq!(delivered(&data), (Some(1), Some(1), Some(1)));
    let _ = second.kill();
    let _ = second.wait();
}

#[test]
fn the_exchange_folder_never_shows_a_half_written_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = doc::ingested(dir);
    // A burst: twelve corrections, each a new version to deliver.
    for n in 0..12 {
        let page = ["1", "2", "4"][n % 3];
        assert!(sohoa(&data, &["doc", "turn", CODE, "1", page, "90"]).status.success());
    }
    let exchange = dir.join("exchange");
    let base = std::fs::read_to_string(dir.join("doc.toml")).unwrap();
    let profile = dir.join("folder.toml");
    std::fs::write(
        &profile,
        format!("{base}[connector]\nkind = \"folder\"\nfolder = {:?}\n", exchange.display().to_string()),
    )
    .unwrap();
    std::fs::create_dir_all(&exchange).unwrap();

    // A reader polls the folder the whole time: every visible PDF parses whole and every JSON reads.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ex, st) = (exchange.clone(), stop.clone());
    let reader = std::thread::spawn(move || {
        let mut looks = 0u64;
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            for e in std::fs::read_dir(&ex).unwrap() {
                let p = e.unwrap().path();
                let name = p.file_name().unwrap().to_string_lossy().to_string();
                let Ok(bytes) = std::fs::read(&p) else { continue };
                if name.ends_with(".pdf") {
                    assert!(
                        bytes.starts_with(b"%PDF-") && bytes.windows(5).rev().take(64).any(|w| w == b"%%EOF"),
                        "{name} half-written"
                    );
                    looks += 1;
                } else if name.ends_with(".json") {
                    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(v["case_code"], CODE);
                    looks += 1;
                }
            }
        }
        looks
    });
    let o = sohoa(&data, &["outbox", "send", "--profile", profile.to_str().unwrap()]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let looks = reader.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(looks > 0);
    let entries = outbox(&data);
    assert_eq!(entries.len(), 13);
    assert!(entries.iter().all(|e| e["state"] == "delivered"), "{entries:#?}");
    // What is there at the end is the last version, whole, and its metadata says which.
    let pdf = exchange.join(format!("{CODE}.001.pdf"));
    qpdf_check(&pdf);
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(exchange.join(format!("{CODE}.001.json"))).unwrap()).unwrap();
    assert_eq!(meta["version"], 13);
    assert_eq!(meta["sha256"].as_str().unwrap(), sha256_file(&pdf));
    assert!(!walk(&exchange).iter().any(|p| p.to_string_lossy().contains(".part")));

    // A refusal the remote writes back puts the entry among the failed, with its message.
    let receipt = serde_json::json!({ "key": meta["key"], "status": "rejected", "message": "thiếu chữ ký số" });
    std::fs::write(exchange.join(format!("{CODE}.001.receipt.json")), receipt.to_string()).unwrap();
    let o = sohoa(&data, &["outbox", "send", "--profile", profile.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a refusal left is said by the exit code: {}", text(&o));
    let failed = text(&sohoa(&data, &["outbox", "--failed"]));
    assert!(failed.contains("thiếu chữ ký số") && failed.contains("the receiver's receipt"), "{failed}");
    assert!(!failed.contains("HTTP"), "no HTTP in a folder exchange: {failed}");
    assert!(exchange.join("receipts-read").join(format!("{CODE}.001.receipt.json")).exists());
    // A second receipt of the same name never overwrites the first in receipts-read/.
    std::fs::write(exchange.join(format!("{CODE}.001.receipt.json")), receipt.to_string()).unwrap();
    let _ = sohoa(&data, &["outbox", "send", "--profile", profile.to_str().unwrap()]);
    let read = std::fs::read_dir(exchange.join("receipts-read")).unwrap().count();
    assert_eq!(read, 2);
    // An exchange folder that is not there (a share not mounted) is never made: nothing is delivered.
    let gone = dir.join("not-mounted");
    let p2 = dir.join("gone.toml");
    std::fs::write(
        &p2,
        format!("name = \"gone\"\n[connector]\nkind = \"folder\"\nfolder = {:?}\n", gone.display().to_string()),
    )
    .unwrap();
    let o = sohoa(&data, &["outbox", "send", "--profile", p2.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("is the share mounted?"), "{}", text(&o));
    assert!(!gone.exists());
}

#[test]
fn the_http_adapter_sends_the_metadata_under_the_receivers_names_and_the_pdf_with_a_called_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = doc::ingested(dir);
    let rx = receiver();
    let root = rx.url.trim_end_matches("/dvcqg").to_string();
    let base = std::fs::read_to_string(dir.join("doc.toml")).unwrap();
    let profile = dir.join("http.toml");
    std::fs::write(
        &profile,
        format!(
            "{base}[connector]\nkind = \"http\"\nurl = \"{root}/http\"\nauth = \"token-call\"\ntoken_url = \"{root}/token\"\n\
             client_id = \"sohoa-kho\"\n[connector.fields]\nmetadata = \"thongTin\"\nfile = \"tep\"\ncase_code = \"maHoSo\"\n"
        ),
    )
    .unwrap();
    // No secret in the environment: nothing is sent with an empty one; the entry fails for now (a
    // failure, not a wait for the case's data) and says what to set.
    let o = command(&data)
        .args(["outbox", "send", "--profile", profile.to_str().unwrap()])
        .env_remove("SOHOA_CONNECTOR_SECRET")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(rx.seen.lock().unwrap().token_calls.is_empty());
    let e = &outbox(&data)[0];
    assert_eq!((e["state"].as_str(), e["waits_for_case_data"].as_bool()), (Some("pending"), Some(false)), "{e}");
    assert!(e["error"]["en"].as_str().unwrap().contains("SOHOA_CONNECTOR_SECRET"), "{e}");
    assert!(text(&sohoa(&data, &["outbox", "--failed"])).contains(&format!("{CODE}.001.pdf")));
    execute(&data, "UPDATE outbox SET next_ms = 0").unwrap();
    let o = command(&data)
        .args(["outbox", "send", "--profile", profile.to_str().unwrap()])
        .env("SOHOA_CONNECTOR_SECRET", "bí-mật")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let e = &outbox(&data)[0];
    assert_eq!(
        (e["state"].as_str(), e["remote_status"].as_i64(), e["remote_id"].as_str()),
        (Some("delivered"), Some(201), Some("M-1"))
    );
    let seen = rx.seen.lock().unwrap();
    assert_eq!(seen.token_calls.len(), 1);
    assert!(
        seen.token_calls[0].contains("grant_type=client_credentials")
            && seen.token_calls[0].contains("client_id=sohoa-kho")
    );
    let (meta, file, _) = &seen.multipart[0];
    assert_eq!(meta["maHoSo"], CODE);
    assert!(meta.get("case_code").is_none());
    assert_eq!(meta["version"], 1);
    assert_eq!(file.as_deref(), e["pdf_sha256"].as_str(), "the PDF sent is the one recorded");
    assert_eq!(file.as_deref().unwrap(), sha256_file(&pdfs(&data, CODE)[0]));
}

#[test]
fn cases_are_pulled_from_the_one_stop_systems_export_with_the_connectors_token() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    let rx = receiver();
    let root = rx.url.trim_end_matches("/dvcqg").to_string();
    let profile = dir.join("pull.toml");
    std::fs::write(
        &profile,
        format!("name = \"pull\"\n[connector]\nkind = \"folder\"\nfolder = \"{}\"\nauth = \"bearer\"\npull_url = \"{root}/export\"\n",
            dir.join("x").display()),
    )
    .unwrap();
    let without = command(&data).args(["case", "pull", "--profile", profile.to_str().unwrap()]).output().unwrap();
    assert_eq!(without.status.code(), Some(2), "{}", text(&without));
    assert!(text(&without).contains("SOHOA_CONNECTOR_TOKEN"), "{}", text(&without));
    let o = command(&data)
        .args(["case", "pull", "--profile", profile.to_str().unwrap()])
        .env("SOHOA_CONNECTOR_TOKEN", "tk-pull")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "one row refused: {}", text(&o));
    assert!(text(&o).contains("2 new"), "{}", text(&o));
    let rows: Vec<(String, Option<String>, Option<String>, String)> =
        query(&data, "SELECT code, procedure_code, received_date, status FROM cases ORDER BY code");
    assert_eq!(
        rows,
        [
            (CODE.to_string(), Some("1.001234".to_string()), Some("2026-10-08".to_string()), "processing".to_string()),
            (OTHER.to_string(), Some("1.001234".to_string()), Some("2026-10-08".to_string()), "received".to_string()),
        ]
    );
    // Pulled again, nothing changes.
    let again = command(&data)
        .args(["case", "pull", "--profile", profile.to_str().unwrap()])
        .env("SOHOA_CONNECTOR_TOKEN", "tk-pull")
        .output()
        .unwrap();
    assert!(text(&again).contains("0 new, 0 updated, 2 unchanged"), "{}", text(&again));
}

#[test]
fn serve_stops_when_asked_while_its_exchange_folder_is_not_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = doc::ingested(dir);
    let gone = dir.join("not-mounted");
    let base = std::fs::read_to_string(dir.join("doc.toml")).unwrap();
    let profile = dir.join("gone.toml");
    let section = format!("[connector]\nkind = \"folder\"\nfolder = {:?}\n", gone.display().to_string());
    std::fs::write(&profile, format!("{base}{section}")).unwrap();
    let port = free_port();
    let mut server = serve(dir, &data, &profile, port, 1);
    // The service is up (serve() waited for /health) while the connector waits for its share.
    let t = Instant::now();
    while !logs(dir).contains("opening the connector") {
        assert!(t.elapsed() < Duration::from_secs(30), "{}", logs(dir));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill").arg("-TERM").arg(server.id().to_string()).status();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(30) {
            let _ = server.kill();
            panic!("serve did not stop on SIGTERM while its connector waited: {}", logs(dir));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}: {}", logs(dir));
    assert!(!gone.exists(), "the missing exchange folder is never made");
}
