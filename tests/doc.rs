//! A clerk's corrections (`sohoa doc …`): each operation makes a new version from the stored
//! originals, what poppler renders is what the operation says, earlier versions stay and verify, and
//! a change made on a version someone else replaced is refused.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::doc::*;
use common::*;

const OTHER: &str = "H15.50.05.13-261008-0976";

fn json(data: &Path, args: &[&str]) -> serde_json::Value {
    let o = sohoa(data, args);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn ok(data: &Path, args: &[&str]) -> String {
    let o = sohoa(data, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    text(&o)
}

#[test]
fn each_correction_is_a_new_version_made_from_the_originals_and_the_old_ones_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let pdf = data.join("cases").join(CODE).join(format!("{CODE}.001.pdf"));
    let out = tmp.path();
    assert_eq!(pages_seen(&pdf, out), [(1, "tl"), (2, "tl"), (4, "tl")], "as scanned, the blank page left out");
    let v1 = sha256_file(&pdf);

    let show = json(&data, &["doc", "show", CODE, "1", "--json"]);
    assert_eq!(show["version"], 1);
    let states: Vec<&str> = show["pages"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["in", "in", "blank-omitted", "in"]);

    // Reorder, turn, restore the blank page, remove one: what poppler shows is what was asked.
    ok(&data, &["doc", "order", CODE, "1", "2,1,3,4"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tl"), (1, "tl"), (4, "tl")]);
    ok(&data, &["doc", "turn", CODE, "1", "1", "90"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tr"), (1, "tl"), (4, "tl")], "page 1 turned a quarter clockwise");
    ok(&data, &["doc", "restore", CODE, "1", "3"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tr"), (1, "tl"), (3, ""), (4, "tl")], "the blank page is back");
    ok(&data, &["doc", "remove", CODE, "1", "2"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tr"), (3, ""), (4, "tl")]);
    qpdf_check(&pdf);

    // A change made on a version that is no longer current is refused, and changes nothing.
    let before = sha256_file(&pdf);
    let o = sohoa(&data, &["doc", "turn", CODE, "1", "1", "180", "--if-version", "3"]);
    assert!(!o.status.success() && text(&o).contains("changed by someone else"), "{}", text(&o));
    assert_eq!(sha256_file(&pdf), before);

    // Every version is listed with who, when and how, and each earlier PDF is kept as it was.
    let versions = json(&data, &["doc", "versions", CODE, "1", "--json"]);
    let ops: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["operation"].as_str().unwrap()).collect();
    assert_eq!(ops, ["scan", "order", "turn", "restore", "remove"]);
    assert_eq!(versions[0]["pdf_sha256"], v1.as_str());
    assert_eq!(versions[4]["pdf_sha256"], before.as_str());
    let first = tmp.path().join("v1.pdf");
    ok(&data, &["doc", "get", CODE, "1", "--version", "1", "--out", first.to_str().unwrap()]);
    assert_eq!(sha256_file(&first), v1);
    assert_eq!(pages_seen(&first, out), [(1, "tl"), (2, "tl"), (4, "tl")]);
    let kinds: Vec<(String,)> =
        query(&data, "SELECT kind FROM events WHERE kind IN ('order', 'turn', 'restore', 'remove') ORDER BY id");
    assert_eq!(kinds, [("order".into(),), ("turn".into(),), ("restore".into(),), ("remove".into(),)], "one event each");
    let detail: Vec<(String,)> = query(&data, "SELECT detail FROM events WHERE kind = 'remove'");
    let detail: serde_json::Value = serde_json::from_str(&detail[0].0).unwrap();
    assert_eq!(detail["documents"][0]["sha256_before"], versions[3]["pdf_sha256"], "{detail}");
    assert_eq!(detail["documents"][0]["sha256"], before.as_str(), "{detail}");
    ok(&data, &["verify"]);

    // Split, merge back, move a page to another case as its result.
    ok(&data, &["doc", "split", CODE, "1", "3"]);
    let second = data.join("cases").join(CODE).join(format!("{CODE}.002.pdf"));
    assert_eq!(pages_seen(&pdf, out), [(2, "tr")]);
    assert_eq!(pages_seen(&second, out), [(3, ""), (4, "tl")]);
    ok(&data, &["doc", "merge", CODE, "1", "2"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tr"), (3, ""), (4, "tl")]);
    assert!(!second.exists(), "the merged document leaves the case folder");
    ok(&data, &["doc", "move", CODE, "1", "--pages", "4", "--to", OTHER, "--role", "result"]);
    assert_eq!(pages_seen(&pdf, out), [(2, "tr"), (3, "")]);
    let moved = data.join("cases").join(OTHER).join(format!("{OTHER}.001.pdf"));
    assert_eq!(pages_seen(&moved, out), [(4, "tl")]);
    let other = json(&data, &["case", "show", OTHER, "--json"]);
    assert_eq!(other["documents"][0]["role"], "result", "{other}");
    assert_eq!(other["documents"][0]["state"], "attached", "{other}");
    let states: Vec<(i64, String)> = query(&data, "SELECT ordinal, state FROM documents ORDER BY case_code, ordinal");
    assert_eq!(states, [(1, "attached".into()), (2, "detached".into()), (1, "attached".into())]);
    for p in [&pdf, &moved] {
        qpdf_check(p);
    }
    ok(&data, &["verify"]);
}

#[test]
fn two_clerks_correcting_the_same_version_one_wins_and_the_other_is_told() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let run = |args: &[&str]| command(&data).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let a = run(&["doc", "turn", CODE, "1", "1", "90", "--if-version", "1"]);
    let b = run(&["doc", "order", CODE, "1", "4,3,2,1", "--if-version", "1"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() != b.status.success(), "one wins: {} / {}", text(&a), text(&b));
    let lost = if a.status.success() { &b } else { &a };
    assert!(text(lost).contains("changed by someone else"), "{}", text(lost));
    let versions = json(&data, &["doc", "versions", CODE, "1", "--json"]);
    assert_eq!(versions.as_array().unwrap().len(), 2, "{versions}");
    // The refused one left nothing behind: every stored file is a recorded one.
    ok(&data, &["verify"]);
    // Without a version named, corrections meeting each other are made one after the other.
    // (Page 3 is the blank one left out, which has nothing to turn; which page is where depends on who won.)
    let shown: Vec<String> = json(&data, &["doc", "show", CODE, "1", "--json"])["pages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["shown"] == true)
        .map(|p| p["page"].to_string())
        .collect();
    let runs: Vec<_> =
        shown.iter().chain(&shown[..1]).map(|p| run(&["doc", "turn", CODE, "1", p.as_str(), "90"])).collect();
    for r in runs {
        let o = r.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let versions = json(&data, &["doc", "versions", CODE, "1", "--json"]);
    assert_eq!(versions.as_array().unwrap().len(), 6, "{versions}");
    ok(&data, &["verify"]);
    // A refusal in Vietnamese says the same.
    let o = command(&data)
        .env("SOHOA_LANG", "vi")
        .args(["doc", "remove", CODE, "1", "1", "--if-version", "1"])
        .output()
        .unwrap();
    assert!(text(&o).contains("đã được người khác sửa"), "{}", text(&o));
}

#[test]
fn the_api_shows_the_pages_makes_corrections_on_the_version_seen_and_serves_every_version() {
    use common::http::{get, start, token};
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let first = sha256_file(&data.join("cases").join(CODE).join(format!("{CODE}.001.pdf")));
    let clerk = token(&data, &["--role", "clerk", "--label", "quầy 2"]);
    let supervisor = token(&data, &["--role", "supervisor"]);
    let other_unit = token(&data, &["--role", "clerk", "--unit", "H15.50.05.14"]);
    let (_server, base) = start(tmp.path(), &data);
    let doc = format!("/api/v1/cases/{CODE}/documents/001");
    let post = |token: &str, body: serde_json::Value| -> (u16, serde_json::Value) {
        let r = common::http::post(
            &base,
            &format!("{doc}/corrections"),
            token,
            "application/json",
            body.to_string().as_bytes(),
        );
        (r.status, serde_json::from_slice(&r.body).unwrap_or_default())
    };

    let pages = get(&base, &format!("{doc}/pages"), Some(&clerk), None).json();
    assert_eq!(pages["version"], 1, "{pages}");
    assert_eq!(pages["pages"].as_array().unwrap().len(), 4);
    assert_eq!(pages["pages"][2]["state"], "blank-omitted");
    assert_eq!(get(&base, &format!("{doc}/pages"), Some(&other_unit), None).status, 403);

    let turn = serde_json::json!({ "operation": "turn", "version": 1, "page": 2, "degrees": 270 });
    assert_eq!(post(&supervisor, turn.clone()).0, 403, "a supervisor reads, never corrects");
    assert_eq!(post(&other_unit, turn.clone()).0, 403);
    let (status, done) = post(&clerk, turn.clone());
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["documents"][0]["version"], 2, "{done}");
    // The same change sent again on the version it was made on: someone else's change comes first.
    let (status, refused) = post(&clerk, turn);
    assert_eq!((status, refused["code"].as_str()), (409, Some("stale")), "{refused}");
    assert!(refused["error_vi"].as_str().unwrap().contains("người khác"), "{refused}");
    let (status, refused) =
        post(&clerk, serde_json::json!({ "operation": "turn", "version": 2, "page": 9, "degrees": 90 }));
    assert_eq!((status, refused["code"].as_str()), (400, Some("no-page")), "{refused}");
    let (status, _) = post(&clerk, serde_json::json!({ "operation": "fold", "version": 2 }));
    assert_eq!(status, 400);

    // A page replaced by a new scan sent as the body.
    let put = |token: &str, path: &str, body: Vec<u8>| -> (u16, serde_json::Value) {
        match ureq::put(&format!("{base}{path}")).set("Authorization", &format!("Bearer {token}")).send_bytes(&body) {
            Ok(r) => (r.status(), serde_json::from_str(&r.into_string().unwrap()).unwrap_or_default()),
            Err(ureq::Error::Status(c, r)) => (c, serde_json::from_str(&r.into_string().unwrap()).unwrap_or_default()),
            Err(e) => panic!("{e}"),
        }
    };
    let page4 = std::fs::read(tmp.path().join("src").join(CODE).join("p4.jpg")).unwrap();
    let mut rescan = page4.clone();
    rescan.extend_from_slice(b"rescanned"); // other bytes, the same pixels
    let (status, refused) = put(&clerk, &format!("{doc}/pages/1?version=2"), b"not a scan".to_vec());
    assert_eq!((status, refused["code"].as_str()), (400, Some("bad-scan")), "{refused}");
    assert_eq!(put(&supervisor, &format!("{doc}/pages/1?version=2"), rescan.clone()).0, 403);
    let (status, done) = put(&clerk, &format!("{doc}/pages/1?version=2&name=trang1.jpg"), rescan);
    assert_eq!(status, 200, "{done}");
    let pages = get(&base, &format!("{doc}/pages"), Some(&clerk), None).json();
    assert_eq!(
        (pages["pages"][0]["state"].as_str(), pages["pages"][1]["source"].as_str()),
        (Some("replaced"), Some("trang1.jpg"))
    );

    let versions = get(&base, &format!("{doc}/versions"), Some(&clerk), None).json();
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{versions}");
    assert_eq!(list[1]["actor"].as_str().map(|a| a.starts_with("quầy 2")), Some(true), "{versions}");
    let old = get(&base, &format!("{doc}/versions/1.pdf"), Some(&clerk), None);
    assert_eq!(old.status, 200);
    assert_eq!(sha256_hex(&old.body), first, "version 1 is served as it was made");
    assert!(old.header("content-security-policy").is_some_and(|h| h.contains("sandbox")));
    assert_eq!(get(&base, &format!("{doc}/versions/7.pdf"), Some(&clerk), None).status, 404);
    let n = count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'turn' AND actor LIKE 'quầy 2 (token:%'");
    assert_eq!(n, 1);
}

#[test]
fn a_page_replaced_by_a_new_scan_is_captured_and_the_old_page_stays_in_the_record() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let pdf = data.join("cases").join(CODE).join(format!("{CODE}.001.pdf"));
    // The new scan of page 2, drawn with (nearly) the shade of page 1 so it is told from the old one.
    let rescan = tmp.path().join("trang 2 quét lại.jpg");
    draw(&format!(
        "from PIL import ImageDraw\nimg = Image.new('L', (850, 1100), 250)\nd = ImageDraw.Draw(img)\n\
         d.rectangle([40, 40, 200, 200], fill=0)\nd.rectangle([150, 450, 700, 650], fill=45)\n\
         img.save({:?}, quality=92, dpi=(100, 100))\n",
        rescan.display().to_string()
    ));
    ok(&data, &["doc", "replace-page", CODE, "1", "2", rescan.to_str().unwrap()]);
    assert_eq!(pages_seen(&pdf, tmp.path()), [(1, "tl"), (1, "tl"), (4, "tl")]);
    let show = json(&data, &["doc", "show", CODE, "1", "--json"]);
    let states: Vec<&str> = show["pages"].as_array().unwrap().iter().map(|p| p["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["in", "replaced", "in", "blank-omitted", "in"], "{show}");
    assert_eq!(show["pages"][2]["source"], "trang 2 quét lại.jpg");
    // Captured like any scan: its bytes stored by hash, an intake and a capture event, audited.
    let sha = sha256_file(&rescan);
    let stored: Vec<(String, String)> =
        query(&data, "SELECT sha256, state FROM intakes WHERE source_name = 'trang 2 quét lại.jpg'");
    assert_eq!(stored, [(sha.clone(), "split".to_string())]);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'replace-page'"), 1);
    ok(&data, &["verify"]);
    // The same file again is not a new scan; a file that is no image is refused; nothing changes.
    let before = sha256_file(&pdf);
    let o = sohoa(&data, &["doc", "replace-page", CODE, "1", "3", rescan.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("already captured"), "{}", text(&o));
    let junk = tmp.path().join("junk.jpg");
    std::fs::write(&junk, b"not a scan").unwrap();
    let o = sohoa(&data, &["doc", "replace-page", CODE, "1", "3", junk.to_str().unwrap()]);
    assert!(!o.status.success() && text(&o).contains("cannot be used"), "{}", text(&o));
    assert_eq!(sha256_file(&pdf), before);
}
