//! The OpenAPI document is valid and true: schemathesis loads it (validating it), generates requests
//! from it for every operation — path, query, headers, bodies, including hostile strings — and checks
//! the running server never answers with a server error.
//!
//! Needs schemathesis (`st`; the test command installs it). Without it the test says so and passes,
//! unless `SOHOA_REQUIRE_TOOLS` is set (CI sets it).

mod common;

use std::process::Command;

use common::http::*;
use common::*;

#[test]
fn every_operation_survives_generated_requests_without_a_server_error() {
    if Command::new("st").arg("--version").output().is_err() {
        assert!(std::env::var_os("SOHOA_REQUIRE_TOOLS").is_none(), "schemathesis (`st`) is required");
        eprintln!("skipped: schemathesis is not installed (pip install schemathesis)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (src, data) = (tmp.path().join("src"), tmp.path().join("data"));
    let code = "H15.50.05.13-261008-0001";
    draw(&format!(
        "import os\nos.makedirs({dir:?}, exist_ok=True)\ngenerate.page((620, 877)).save({f:?}, dpi=(75, 75), quality=80)",
        dir = src.join(code).display().to_string(),
        f = src.join(code).join("don.jpg").display().to_string()
    ));
    std::fs::write(src.join("junk.jpg"), b"not an image").unwrap();
    assert_eq!(sohoa(&data, &["ingest", src.to_str().unwrap()]).status.code(), Some(1));
    let admin = token(&data, &["--role", "admin", "--label", "schemathesis"]);
    let (_server, base) = start(tmp.path(), &data);

    let out = Command::new("st")
        .current_dir(tmp.path())
        .args(["run", &format!("{base}/openapi.json"), "--checks", "not_a_server_error", "--no-color"])
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args(["--max-examples", "25", "--seed", "20261127", "--request-timeout", "30"])
        .output()
        .expect("st runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "schemathesis found problems:\n{report}");
    assert!(report.contains("passed"), "{report}");
    let log = std::fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
    assert!(!log.contains("panicked"), "the server panicked:\n{log}");
}
