//! Helpers for tests that run the real binary on real files and ask real tools about the results.
#![allow(dead_code)]

pub mod pdfa;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

pub const CODE: &str = "H15.50.05.13-261008-0975";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `fixtures/generate.py OUT SET [ARGS]`.
pub fn generate(out: &Path, set: &str) {
    let st = Command::new("python3")
        .arg(repo().join("fixtures/generate.py"))
        .arg(out)
        .arg(set)
        .status()
        .expect("python3 runs");
    assert!(st.success(), "fixture generation failed");
}

/// Runs a Python snippet with Pillow's `Image` and `fixtures/generate.py` (as `generate`) imported:
/// fixtures that are easiest to draw with the generator's pages.
pub fn draw(script: &str) {
    let full = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport generate\nfrom PIL import Image\n{script}",
        repo().join("fixtures").display().to_string()
    );
    let st = Command::new("python3").arg("-c").arg(full).status().expect("python3 runs");
    assert!(st.success(), "drawing fixtures failed");
}

pub fn sohoa(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sohoa"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "sohoa=info,warn")
        .output()
        .expect("sohoa runs")
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A profile that leaves the source files in place (archive behaviour) with file = document.
pub fn keep_profile(dir: &Path) -> PathBuf {
    let p = dir.join("keep.toml");
    std::fs::write(
        &p,
        "name = \"test-keep\"\n[station]\nid = \"test\"\n[inbox]\nafter_capture = \"keep\"\n[grouping]\ndocument = \"file\"\n",
    )
    .unwrap();
    p
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(p).unwrap()))
}

pub fn pdfs(data: &Path, code: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("cases").join(code))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

pub fn qpdf_check(p: &Path) {
    let o = Command::new("qpdf").arg("--check").arg(p).output().expect("qpdf installed");
    assert!(o.status.success(), "qpdf --check {} failed:\n{}", p.display(), text(&o));
}

/// The `enc` column of `pdfimages -list`.
pub fn image_encodings(p: &Path) -> Vec<String> {
    let o = Command::new("pdfimages").arg("-list").arg(p).output().expect("poppler-utils installed");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().nth(8).map(str::to_string))
        .collect()
}

/// `pdfimages -j`: DCT images are written out byte for byte.
pub fn extract_jpegs(p: &Path, out: &Path) -> Vec<Vec<u8>> {
    std::fs::create_dir_all(out).unwrap();
    let st = Command::new("pdfimages").arg("-j").arg(p).arg(out.join("img")).status().unwrap();
    assert!(st.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// `pdfimages -png`: the first image's decoded pixels.
pub fn extract_png(p: &Path, out: &Path) -> image::DynamicImage {
    std::fs::create_dir_all(out).unwrap();
    let st = Command::new("pdfimages")
        .arg("-png")
        .arg("-f")
        .arg("1")
        .arg("-l")
        .arg("1")
        .arg(p)
        .arg(out.join("img"))
        .status()
        .unwrap();
    assert!(st.success());
    image::open(out.join("img-000.png")).unwrap()
}

pub fn pdfinfo(p: &Path) -> String {
    let o = Command::new("pdfinfo").arg(p).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Page size in points from `pdfinfo`.
pub fn page_size(p: &Path) -> (f64, f64) {
    let info = pdfinfo(p);
    let line = info.lines().find(|l| l.starts_with("Page size:")).unwrap().to_string();
    let parts: Vec<&str> = line.split_whitespace().collect();
    (parts[2].parse().unwrap(), parts[4].parse().unwrap())
}

/// Renders page 1 with pdftoppm at `dpi` as gray or RGB.
pub fn render(p: &Path, dpi: u32, gray: bool, out: &Path) -> image::DynamicImage {
    let prefix = out.join(format!("r{dpi}"));
    let mut c = Command::new("pdftoppm");
    c.arg("-r").arg(dpi.to_string()).arg("-f").arg("1").arg("-l").arg("1").arg("-singlefile").arg("-png");
    if gray {
        c.arg("-gray");
    }
    let st = c.arg(p).arg(&prefix).status().unwrap();
    assert!(st.success());
    image::open(prefix.with_extension("png")).unwrap()
}

/// Mean absolute difference per sample.
pub fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (*x as i32 - *y as i32).unsigned_abs() as u64).sum::<u64>() as f64 / a.len() as f64
}

/// Runs a query against a data folder's database.
pub fn query<T>(data: &Path, sql: &'static str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data.join("sohoa.db"))
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
        let rows = sqlx::query_as::<_, T>(sql).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    })
}

/// A count, or `None` while the database is not ready (a service still starting).
pub fn try_count(data: &Path, sql: &'static str) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(data.join("sohoa.db"))
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = sqlx::SqlitePool::connect_with(opts).await.ok()?;
        let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.ok();
        pool.close().await;
        n
    })
}

pub fn count(data: &Path, sql: &'static str) -> i64 {
    query::<(i64,)>(data, sql)[0].0
}
