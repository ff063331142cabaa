//! The entry points the fuzz targets (`fuzz/`) and their regression test (`tests/fuzzed.rs`) share:
//! each takes bytes from outside the way sohoa does in service, so an input the fuzzer found is
//! replayed by the test suite on exactly the same path. None of them may panic; each returns nothing,
//! because a clean refusal is as good an outcome as a parse.

use std::path::PathBuf;

use crate::pages::{Format, Limits};
use crate::route::case_code::CaseCodeRule;

/// One target: bytes in, nothing out.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` calls it.
pub const TARGETS: &[(&str, Target)] = &[
    ("image_pages", image_pages),
    ("pdf_pages", pdf_pages),
    ("manifest", manifest),
    ("profile", profile),
    ("case_import", case_import),
    ("separator", separator),
    ("upload_form", upload_form),
];

/// 16 megapixels (the default profile allows 150): every format's paths are reached, and each run
/// stays fast.
const LIMITS: Limits = Limits { max_pixels: 16_000_000, max_inflate: 64 << 20 };

/// A JPEG, PNG or TIFF scan (PDFs are `pdf_pages`'s).
pub fn image_pages(data: &[u8]) {
    if !matches!(crate::pages::sniff(data), Ok(Format::Pdf)) {
        pages(data)
    }
}

/// A scanner PDF (page images) or a born-digital one (read whole before it is attached as it is).
pub fn pdf_pages(data: &[u8]) {
    if matches!(crate::pages::sniff(data), Ok(Format::Pdf)) {
        pages(data)
    }
}

/// A scan inspected, then its first pages loaded as the render does.
fn pages(data: &[u8]) {
    let Ok((_, infos)) = crate::pages::inspect(data, LIMITS) else { return };
    for i in 0..infos.len().min(4) {
        let _ = crate::pages::load(data, i as u32, LIMITS);
    }
}

/// A manifest: a scan's sidecar (`scan.jpg.json`) when the first byte is even, else its folder's
/// `manifest.json` with per-file entries.
pub fn manifest(data: &[u8]) {
    let Some((&how, body)) = data.split_first() else { return };
    let sidecar = how % 2 == 0;
    let dir = scratch("manifest");
    let name = if sidecar { "scan.jpg.json" } else { "manifest.json" };
    let _ = std::fs::remove_file(dir.join("scan.jpg.json"));
    if std::fs::write(dir.join(name), body).is_ok() {
        let _ = crate::route::manifest::entry_for(&dir.join("scan.jpg"));
    }
}

/// A pipeline profile (TOML): parsed and checked, or refused with its reasons.
pub fn profile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::profile::Profile::parse(text);
    }
}

/// A case export (CSV, JSON or JSON Lines, by the first byte), a units list and a procedure
/// catalogue, read from the same bytes.
pub fn case_import(data: &[u8]) {
    let Some((&how, body)) = data.split_first() else { return };
    let ext = ["csv", "json", "jsonl"][usize::from(how % 3)];
    let dir = scratch("import");
    let file = dir.join(format!("export.{ext}"));
    if std::fs::write(&file, body).is_err() {
        return;
    }
    let _ = crate::import::read_cases(&file, rule());
    let _ = crate::import::read_units(&file);
    let _ = crate::import::read_procedures(&file);
}

/// A separator sheet: the bytes read as a decoded code's text, and as a small gray raster
/// (first two bytes its width and height) looked at for a mark.
pub fn separator(data: &[u8]) {
    let rule = rule();
    let valid = |s: &str| rule.validate(s).map(|c| c.into_string()).map_err(|e| e.to_string());
    let text = String::from_utf8_lossy(data).into_owned();
    for symbology in ["qr", "code128", "datamatrix"] {
        let _ = crate::separate::Mark::Code { symbology, text: text.clone() }.sheet(valid);
    }
    if let [w, h, rest @ ..] = data {
        let (w, h) = (u32::from(*w).max(1), u32::from(*h).max(1));
        let mut pixels = rest.to_vec();
        pixels.resize((w * h) as usize, 255);
        let raster = crate::pages::Raster { width: w, height: h, kind: crate::pages::RasterKind::Gray, data: pixels };
        if let Some(mark) = crate::separate::detect(&raster, 300.0) {
            let _ = mark.sheet(valid);
        }
    }
}

/// The boundary of the fuzzed upload forms: the body is the fuzzer's, the header the station's.
pub const UPLOAD_BOUNDARY: &str = "sohoa-fuzz";

/// A `POST /api/v1/upload` body, read as the API reads it: the multipart form parsed, its `file`
/// part found, its name checked and its bytes streamed to a file within a limit.
pub fn upload_form(data: &[u8]) {
    use axum::extract::FromRequest;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
    rt.block_on(async {
        let request = axum::http::Request::builder()
            .method("POST")
            .header("content-type", format!("multipart/form-data; boundary={UPLOAD_BOUNDARY}"))
            .body(axum::body::Body::from(data.to_vec()));
        let Ok(request) = request else { return };
        let Ok(mut form) = axum::extract::Multipart::from_request(request, &()).await else { return };
        let dir = scratch("upload");
        let _ = crate::api::upload::save_file_part(&mut form, &dir, 64 * 1024).await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The embedded profile's case-code rule, built once (parsing the profile each run would be most of a
/// run's time).
fn rule() -> &'static CaseCodeRule {
    static RULE: std::sync::OnceLock<CaseCodeRule> = std::sync::OnceLock::new();
    RULE.get_or_init(|| {
        match CaseCodeRule::from_profile(&crate::profile::Profile::embedded_default().settings.routing) {
            Ok(r) => r,
            Err(e) => panic!("the embedded profile's case-code pattern does not compile: {e}"),
        }
    })
}

/// A folder of this process's own under the system's temporary folder.
fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sohoa-fuzz-{what}-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}
