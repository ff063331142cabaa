//! Helpers for tests that run the real binary on real files and ask real tools about the results.
#![allow(dead_code)]

pub mod doc;
pub mod http;
pub mod pdfa;
pub mod s3;

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

/// A folder to ingest: the "good" fixture set is generated under `dir/g`, and each `(fixture, name)`
/// is copied into `dir/src/<CODE>` under `name`. Returns `dir/src`.
pub fn case_folder(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    generate(&dir.join("g"), "good");
    let src = dir.join("src");
    std::fs::create_dir_all(src.join(CODE)).unwrap();
    for (fixture, name) in files {
        std::fs::copy(dir.join("g").join(fixture), src.join(CODE).join(name)).unwrap();
    }
    src
}

/// A fixture set drawn once per version of its generator, into the target directory: `script`
/// (relative to the repository) runs with a fresh folder and `args`, and the folder is kept once
/// `done` is in it.
pub fn drawn_once(script: &str, args: &[&str], done: &str) -> PathBuf {
    let script = repo().join(script);
    let version = sha256_file(&script);
    let stem = script.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{stem}-{}", &version[..12]));
    if !dir.join(done).exists() {
        let partial = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&partial);
        let st = Command::new("python3").arg(&script).arg(&partial).args(args).status().expect("python3 runs");
        assert!(
            st.success(),
            "drawing fixtures with {} failed (Pillow, numpy and the fonts installed?)",
            script.display()
        );
        std::fs::rename(&partial, &dir).unwrap();
    }
    dir
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
    command(data).args(args).output().expect("sohoa runs")
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

/// Every file under `d`, at any depth.
pub fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
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

/// The PostgreSQL server the suite runs against when `SOHOA_TEST_DATABASE` names one (a URL whose
/// database the tests may connect to); SQLite files otherwise.
pub fn pg_server() -> Option<String> {
    std::env::var("SOHOA_TEST_DATABASE").ok().filter(|s| !s.is_empty())
}

/// True when the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    pg_server().is_some()
}

/// The database URL of a data folder under test: on PostgreSQL, a database of its own (named after the
/// folder), created on first use, so tests running at once never share records.
pub fn database_for(data: &Path) -> Option<String> {
    let server = pg_server()?;
    let digest = hex::encode(Sha256::digest(data.to_string_lossy().as_bytes()));
    let name = format!("sohoa_t_{}", &digest[..20]);
    let base = server.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(server.clone());
    let url = format!("{base}/{name}");
    static CREATED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    if !created.contains(&name) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let admin = sqlx::PgPool::connect(&server).await.expect("the PostgreSQL test server answers");
            let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(&name)
                .fetch_optional(&admin)
                .await
                .unwrap();
            if exists.is_none() {
                let sql = format!("CREATE DATABASE {name}");
                let mut tries = 0;
                // Two CREATE DATABASE at the same instant can collide on the template; try again.
                while let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(&admin).await {
                    tries += 1;
                    assert!(tries < 20, "cannot create test database {name}: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * tries)).await;
                }
                // Test databases need no flush to disk at each commit (a machine crash loses the test
                // anyway); it keeps the suite's many small commits from queueing on a slow disk.
                let tune = format!("ALTER DATABASE {name} SET synchronous_commit = off");
                sqlx::query(sqlx::AssertSqlSafe(tune)).execute(&admin).await.unwrap();
            }
            admin.close().await;
        });
        created.push(name);
    }
    Some(url)
}

/// The binary, pointed at a data folder (and its test database on PostgreSQL).
pub fn command(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sohoa"));
    // No HTTP API unless a test asks for one: services of tests running at once would share a port.
    c.arg("--data")
        .arg(data)
        .env("RUST_LOG", "sohoa=info,warn")
        // The tests read the English messages; those in Vietnamese (the default) are asked for by name.
        .env("SOHOA_LANG", "en")
        .env_remove("SOHOA_DATABASE")
        .env("SOHOA_LISTEN", "off");
    if let Some(url) = database_for(data) {
        c.env("SOHOA_DATABASE", url);
    }
    c.env_remove("SOHOA_STORE");
    for (k, v) in s3::store_env(data).unwrap_or_default() {
        c.env(k, v);
    }
    c
}

/// A data folder's database, whichever backend.
pub enum TestDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

async fn connect(data: &Path) -> Result<TestDb, sqlx::Error> {
    Ok(match database_for(data) {
        Some(url) => TestDb::Postgres(sqlx::PgPool::connect(&url).await?),
        None => {
            let path = data.join("sohoa.db");
            if !path.exists() {
                return Err(sqlx::Error::Configuration("no database yet".into()));
            }
            let opts = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(std::time::Duration::from_secs(10));
            TestDb::Sqlite(sqlx::SqlitePool::connect_with(opts).await?)
        }
    })
}

/// Runs a query against a data folder's database (either backend: write SQL both understand).
pub fn query<T>(data: &Path, sql: &'static str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        match connect(data).await.unwrap() {
            TestDb::Sqlite(p) => {
                let rows = sqlx::query_as::<_, T>(sql).fetch_all(&p).await.unwrap();
                p.close().await;
                rows
            }
            TestDb::Postgres(p) => {
                let rows = sqlx::query_as::<_, T>(sql).fetch_all(&p).await.unwrap();
                p.close().await;
                rows
            }
        }
    })
}

/// Runs a statement outside the product (as a person with SQL access might); the error text when
/// the database refuses it.
pub fn execute(data: &Path, sql: &'static str) -> Result<u64, String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = match connect(data).await.map_err(|e| e.to_string())? {
            TestDb::Sqlite(p) => sqlx::raw_sql(sql).execute(&p).await.map(|r| r.rows_affected()),
            TestDb::Postgres(p) => sqlx::raw_sql(sql).execute(&p).await.map(|r| r.rows_affected()),
        };
        r.map_err(|e| e.to_string())
    })
}

/// A count, or `None` while the database is not ready (a service still starting).
pub fn try_count(data: &Path, sql: &'static str) -> Option<i64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        match connect(data).await.ok()? {
            TestDb::Sqlite(p) => {
                let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&p).await.ok();
                p.close().await;
                n
            }
            TestDb::Postgres(p) => {
                let n = sqlx::query_scalar::<_, i64>(sql).fetch_one(&p).await.ok();
                p.close().await;
                n
            }
        }
    })
}

pub fn count(data: &Path, sql: &'static str) -> i64 {
    query::<(i64,)>(data, sql)[0].0
}
