//! The clerks' web page in a real browser: headless Chromium driven over WebDriver (chromedriver)
//! signs in with a token, lists a case, files an unfiled scan into it from the form, and sees the
//! completeness badge turn complete. A screenshot is kept as a test artifact.
//!
//! Needs Debian's `chromium` and `chromium-driver` (the test command installs them). Without them the
//! test says so and passes, unless `SOHOA_REQUIRE_BROWSER` is set (CI sets it).

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::*;
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};

const A: &str = "H15.50.05.13-261008-0001";

/// chromedriver on a free loopback port in a process group of its own, stopped with every browser it
/// started when dropped (also when a step fails).
struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: signalling a process group we created; no memory is touched.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = tool("chromium").or_else(|| tool("chromium-browser"))?;
    Some((chromium, tool("chromedriver")?))
}

async fn session(driver_url: &str, chromium: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium.to_str().unwrap(),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--lang=vi"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let t = Instant::now();
    loop {
        match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(driver_url).await {
            Ok(c) => return c,
            Err(e) if t.elapsed() < Duration::from_secs(30) => {
                eprintln!("waiting for chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("cannot start a browser session: {e}"),
        }
    }
}

/// Waits until an element is on the page.
async fn present(c: &Client, css: &str) {
    text_until(c, css, |_| true).await;
}

/// Waits until the element's text satisfies `ok`, returning it.
async fn text_until(c: &Client, css: &str, ok: impl Fn(&str) -> bool) -> String {
    let t = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(s) = e.text().await
            && ok(&s)
        {
            return s;
        }
        if t.elapsed() > Duration::from_secs(45) {
            let page = c.source().await.unwrap_or_default();
            panic!("`{css}` never showed the expected text; page:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The English words of the page's own text (the translation table's English side) and of the
/// service's messages, found in what a reader sees (`innerText`: collapsed technical detail and
/// hidden elements are not seen). Record data — codes, file names, numbers — is no word of these.
const ENGLISH_WORDS: &str = r#"
const words = ["the", "and", "cannot", "case", "cases", "file", "files", "page", "pages", "report", "quarantine",
  "quarantined", "unfiled", "retry", "discard", "error", "token", "scan", "scans", "type", "role", "input", "inputs",
  "result", "results", "sign", "signed", "out", "received", "resolved", "status", "state", "attached", "documents",
  "complete", "incomplete", "procedure", "unit", "time", "station", "reason", "search", "from", "show", "events",
  "total", "score", "missing", "digitization", "reuse", "none", "not", "yet", "open", "detail"];
const seen = document.body.innerText.toLowerCase();
// (Backslashes doubled: in a JS string "\p" would be a plain "p".)
return words.filter((w) => new RegExp("(^|[^\\p{L}])" + w + "($|[^\\p{L}])", "u").test(seen));
"#;

#[test]
fn a_clerk_files_a_scan_in_the_browser_and_the_badge_turns_complete() {
    let Some((chromium, chromedriver)) = browser() else {
        assert!(
            std::env::var_os("SOHOA_REQUIRE_BROWSER").is_none(),
            "chromium and chromedriver are required (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: chromium and chromedriver are not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    std::fs::create_dir_all(&src).unwrap();
    draw(&format!(
        "generate.page((620, 877)).save({f:?}, dpi=(75, 75), quality=80)",
        f = src.join("giấy tờ.jpg").display().to_string()
    ));
    // A second unfiled scan (to open large) and a file that is no image at all (for the quarantine view).
    draw(&format!(
        "generate.page((620, 877), seed=7).save({f:?}, dpi=(75, 75), quality=80)",
        f = src.join("trang rời.jpg").display().to_string()
    ));
    std::fs::write(src.join("hỏng.jpg"), b"not an image at all").unwrap();
    assert_eq!(sohoa(&data, &["ingest", src.to_str().unwrap()]).status.code(), Some(1));
    let catalogue = repo().join("fixtures/procedures.toml");
    assert!(sohoa(&data, &["procedure", "import", catalogue.to_str().unwrap()]).status.success());
    let o = sohoa(&data, &["case", "set", A, "--procedure", "2.000908", "--received", "2026-10-08"]);
    assert!(o.status.success(), "{}", text(&o));
    let clerk = token(&data, &["--role", "clerk", "--label", "Chị Lan"]);
    let admin = token(&data, &["--role", "admin", "--label", "Anh Tùng"]);
    let (_server, base) = start(tmp.path(), &data);

    let (_driver, port) = driver(&chromedriver);
    let artifacts = artifacts();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = session(&format!("http://127.0.0.1:{port}"), &chromium).await;
        let result = async {
            // Signing in: a token, kept by the server in an HttpOnly cookie.
            c.goto(&base).await?;
            present(&c, "#token").await;
            c.find(Locator::Css("#token")).await?.send_keys("sohoa_wrong").await?;
            c.find(Locator::Id("login")).await?.click().await?;
            text_until(&c, "#login-error", |s| s.contains("mã truy cập không đúng")).await;
            let input = c.find(Locator::Css("#token")).await?;
            input.clear().await?;
            input.send_keys(&clerk).await?;
            c.find(Locator::Id("login")).await?.click().await?;
            text_until(&c, "main h1", |s| s.contains("Trạm quét")).await;
            let cookies = c.get_all_cookies().await?;
            let session = cookies.iter().find(|k| k.name() == "sohoa_session").expect("a session cookie");
            assert_eq!(session.http_only(), Some(true));
            let script_sees: serde_json::Value = c.execute("return document.cookie", vec![]).await?;
            assert!(!script_sees.as_str().unwrap_or("").contains("sohoa_session"), "scripts must not read the token");

            // The case is listed, incomplete.
            c.goto(&format!("{base}/#/cases")).await?;
            let badge = text_until(&c, &format!("tr[data-case='{A}'] [data-testid=completeness]"), |s| !s.is_empty()).await;
            assert_eq!(badge, "Chưa đủ");

            // The unfiled scan, with its thumbnail, filed into the case from the form.
            c.goto(&format!("{base}/#/unfiled")).await?;
            present(&c, "form[data-intake]").await;
            let loaded: serde_json::Value = c
                .execute(
                    "const i = document.querySelector('.thumb img'); return !!i && i.complete && i.naturalWidth > 0",
                    vec![],
                )
                .await?;
            let t = Instant::now();
            let mut thumb_ok = loaded.as_bool() == Some(true);
            while !thumb_ok && t.elapsed() < Duration::from_secs(20) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let v: serde_json::Value = c
                    .execute("const i = document.querySelector('.thumb img'); return !!i && i.complete && i.naturalWidth > 0", vec![])
                    .await?;
                thumb_ok = v.as_bool() == Some(true);
            }
            assert!(thumb_ok, "the unfiled page's thumbnail shows");
            c.find(Locator::Css("[data-testid=attach-case]")).await?.send_keys(A).await?;
            c.find(Locator::Css("[data-testid=attach-type]")).await?.send_keys("Bản chính").await?;
            c.find(Locator::Css("form[data-intake] button[type=submit]")).await?.click().await?;

            // The case page: the badge turns complete by itself once the PDF is attached.
            text_until(&c, "main h1 [data-testid=completeness]", |s| s == "Đầy đủ").await;
            present(&c, "iframe#viewer[src$='001.pdf']").await;
            let png = c.screenshot().await?;
            std::fs::write(artifacts.join("case-complete.png"), &png).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot");

            // Dates as a Vietnamese clerk reads them; a document's type is picked from the types the
            // case's procedure requires, not typed.
            text_until(&c, "dl.fields", |s| s.contains("08/10/2026")).await;
            let options: serde_json::Value = c
                .execute(
                    "return [...document.querySelectorAll('[data-testid=retype-1] option')].map(o => o.textContent)",
                    vec![],
                )
                .await?;
            assert!(options.as_array().is_some_and(|o| o.iter().any(|x| x == "Bản chính")), "{options}");

            // English on request.
            c.find(Locator::Id("lang")).await?.click().await?;
            text_until(&c, "main h1 [data-testid=completeness]", |s| s == "Complete").await;
            // A clerk token cannot read the report: said in the reader's language.
            c.find(Locator::Id("lang")).await?.click().await?;
            c.goto(&format!("{base}/#/report?from=2026-10-01&to=2026-10-31")).await?;
            let refused = text_until(&c, "#page-error", |s| !s.is_empty()).await;
            assert!(refused.contains("không được xem báo cáo"), "{refused}");

            // Signed out, the sign-in page offers no "sign out"; signed in as an administrator, the
            // case, unfiled, quarantine and report views show no English in Vietnamese.
            c.find(Locator::Id("signout")).await?.click().await?;
            present(&c, "#token").await;
            // Not merely marked hidden: not shown (a stylesheet rule could override the attribute).
            let shown: serde_json::Value = c.execute("return document.body.innerText", vec![]).await?;
            let shown = shown.as_str().unwrap_or_default();
            assert!(!shown.contains("Đăng xuất") && shown.contains("Đăng nhập"), "the sign-in page: {shown}");
            c.find(Locator::Css("#token")).await?.send_keys(&admin).await?;
            c.find(Locator::Id("login")).await?.click().await?;
            text_until(&c, "main h1", |s| s.contains("Trạm quét")).await;
            for (view, ready, shot) in [
                (format!("#/case/{A}"), "main h1 [data-testid=completeness]", "case-vi.png"),
                ("#/unfiled".to_string(), "form[data-intake]", "unfiled-vi.png"),
                ("#/quarantine".to_string(), "[data-testid=quarantine-why]", "quarantine-vi.png"),
                ("#/outbox".to_string(), "[data-testid=outbox-counts]", "outbox-vi.png"),
                ("#/report?from=2026-10-01&to=2026-10-31".to_string(), "main table", "report-vi.png"),
            ] {
                c.goto(&format!("{base}/{view}")).await?;
                present(&c, ready).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                let english: serde_json::Value = c.execute(ENGLISH_WORDS, vec![]).await?;
                assert_eq!(english, serde_json::json!([]), "{view}: English on the Vietnamese page");
                std::fs::write(artifacts.join(shot), c.screenshot().await?).unwrap();
            }

            // A page opened large, to read it, zoomed in and closed again.
            c.goto(&format!("{base}/#/unfiled")).await?;
            present(&c, ".thumb button.enlarge").await;
            c.find(Locator::Css(".thumb button.enlarge")).await?.click().await?;
            let t = Instant::now();
            loop {
                let w: serde_json::Value = c
                    .execute("const i = document.querySelector('[data-testid=page-large]'); return i && i.complete ? i.naturalWidth : 0", vec![])
                    .await?;
                if w.as_u64().unwrap_or(0) > 256 {
                    break;
                }
                assert!(t.elapsed() < Duration::from_secs(20), "the large page never loaded");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let fitted: serde_json::Value =
                c.execute("return document.querySelector('[data-testid=page-large]').clientWidth", vec![]).await?;
            c.find(Locator::Css("[data-testid=page-large]")).await?.click().await?;
            let zoomed: serde_json::Value =
                c.execute("return document.querySelector('[data-testid=page-large]').clientWidth", vec![]).await?;
            assert!(zoomed.as_f64() > fitted.as_f64(), "a click zooms in: {fitted} → {zoomed}");
            std::fs::write(artifacts.join("page-large.png"), c.screenshot().await?).unwrap();
            c.find(Locator::Css("[data-testid=page-close]")).await?.click().await?;
            // The dialog's `close` event, which takes it away, comes a moment after the click.
            let t = Instant::now();
            while c.execute("return !!document.querySelector('dialog.enlarged')", vec![]).await? != serde_json::json!(false)
            {
                assert!(t.elapsed() < Duration::from_secs(10), "the large page stays open after ✕");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<(), fantoccini::error::CmdError>(())
        }
        .await;
        let _ = c.close().await;
        result.expect("browser steps");
    });

    let rows: Vec<(String, Option<String>, String)> =
        query(&data, "SELECT state, doc_type, role FROM documents WHERE case_code = 'H15.50.05.13-261008-0001'");
    assert_eq!(rows, vec![("attached".to_string(), Some("Bản chính".to_string()), "input".to_string())]);
    let filed = count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'file' AND actor LIKE 'Chị Lan (token:%'");
    assert_eq!(filed, 1, "the attach is audited with the token's label");
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'sign-in'"), 2, "two good sign-ins");
    assert!(artifacts.join("case-complete.png").is_file());
    eprintln!("screenshot: {}", artifacts.join("case-complete.png").display());
}

/// chromedriver started on a free loopback port, and the port.
fn driver(chromedriver: &Path) -> (Driver, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    (Driver(child), port)
}

/// Where screenshots are kept.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Drags page `from` onto page `to` the way a browser does (dragstart, dragover, drop with one
/// DataTransfer), through the page's own handlers.
const DRAG: &str = r#"
const [from, to] = arguments;
const a = document.querySelector(`[data-testid=page-${from}]`), b = document.querySelector(`[data-testid=page-${to}]`);
const dt = new DataTransfer();
a.dispatchEvent(new DragEvent("dragstart", { bubbles: true, dataTransfer: dt }));
b.dispatchEvent(new DragEvent("dragover", { bubbles: true, cancelable: true, dataTransfer: dt }));
b.dispatchEvent(new DragEvent("drop", { bubbles: true, cancelable: true, dataTransfer: dt }));
a.dispatchEvent(new DragEvent("dragend", { bubbles: true, dataTransfer: dt }));
"#;

#[test]
fn a_clerk_reorders_turns_and_restores_pages_in_the_browser_and_the_pdf_shows_exactly_that() {
    let Some((chromium, chromedriver)) = browser() else {
        assert!(std::env::var_os("SOHOA_REQUIRE_BROWSER").is_none(), "chromium and chromedriver are required");
        eprintln!("skipped: chromium and chromedriver are not installed");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = common::doc::ingested(tmp.path());
    let clerk = token(&data, &["--role", "clerk", "--label", "Chị Mai"]);
    let (_server, base) = start(tmp.path(), &data);
    let (_driver, port) = driver(&chromedriver);
    let artifacts = artifacts();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = session(&format!("http://127.0.0.1:{port}"), &chromium).await;
        let result = async {
            c.goto(&base).await?;
            present(&c, "#token").await;
            c.find(Locator::Css("#token")).await?.send_keys(&clerk).await?;
            c.find(Locator::Id("login")).await?.click().await?;
            text_until(&c, "main h1", |s| s.contains("Trạm quét")).await;
            // From the case page to its document's pages.
            c.goto(&format!("{base}/#/case/{CODE}")).await?;
            present(&c, "[data-testid=edit-1]").await;
            c.find(Locator::Css("[data-testid=edit-1]")).await?.click().await?;
            text_until(&c, "[data-testid=doc-version]", |s| s == "phiên bản 1").await;
            // Two pages dragged into the other order, one turned, the blank one restored.
            c.execute(DRAG, vec![1.into(), 2.into()]).await?;
            text_until(&c, "[data-testid=doc-version]", |s| s == "phiên bản 2").await;
            c.find(Locator::Css("[data-testid=turn-1]")).await?.click().await?;
            text_until(&c, "[data-testid=doc-version]", |s| s == "phiên bản 3").await;
            c.find(Locator::Css("[data-testid=restore-3]")).await?.click().await?;
            text_until(&c, "[data-testid=doc-version]", |s| s == "phiên bản 4").await;
            // The turned page's thumbnail is shown turned, as the PDF shows it.
            let turned: serde_json::Value =
                c.execute("return document.querySelector('[data-testid=page-1] img').style.transform", vec![]).await?;
            assert_eq!(turned, serde_json::json!("rotate(90deg)"));
            // Every control has a Vietnamese name; nothing on the page is in English.
            let english: serde_json::Value = c.execute(ENGLISH_WORDS, vec![]).await?;
            assert_eq!(english, serde_json::json!([]), "English on the document page");
            let unnamed: serde_json::Value = c
                .execute(
                    "return [...document.querySelectorAll('main button, main select, main input')]\
                     .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim() || e.closest('label'))).length",
                    vec![],
                )
                .await?;
            assert_eq!(unnamed, serde_json::json!(0), "every control is labelled");
            present(&c, "[data-testid=version-1]").await;
            std::fs::write(artifacts.join("document-corrected.png"), c.screenshot().await?).unwrap();
            Ok::<(), fantoccini::error::CmdError>(())
        }
        .await;
        let _ = c.close().await;
        result.expect("browser steps");
    });
    // The PDF downloaded now shows exactly what the clerk did.
    let pdf = get(&base, &format!("/api/v1/cases/{CODE}/documents/001.pdf"), Some(&clerk), None);
    assert_eq!(pdf.status, 200);
    let file = tmp.path().join("now.pdf");
    std::fs::write(&file, &pdf.body).unwrap();
    assert_eq!(common::doc::pages_seen(&file, tmp.path()), [(2, "tr"), (1, "tl"), (3, ""), (4, "tl")]);
    let kinds: Vec<(String,)> = query(
        &data,
        "SELECT kind FROM events WHERE actor LIKE 'Chị Mai (token:%' AND kind IN ('order', 'turn', 'restore') ORDER BY id",
    );
    assert_eq!(kinds, [("order".into(),), ("turn".into(),), ("restore".into(),)]);
}
