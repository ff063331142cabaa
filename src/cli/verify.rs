//! `sohoa verify`.

use crate::util::lang::say;
use std::path::Path;

use crate::fixity::{self, Problem};
use crate::store::s3::BucketUrl;
use crate::util::time::local_date;

#[derive(clap::Args)]
pub(super) struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Check an exported package against its manifest-sha256.txt and, when the data folder is at hand,
    /// against the records of its case (a PDF changed together with its manifest line shows there); the
    /// check is recorded as a fixity event of the case.
    #[arg(long, value_name = "DIR")]
    package: Option<std::path::PathBuf>,
    /// Only files stored on or after this date (2026-07-01 or 01/07/2026).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only files stored on or before this date.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Continue the last interrupted run over the same dates instead of starting again.
    #[arg(long)]
    resume: bool,
    /// Only walk the audit log's hash chain (every event re-hashed, the head the last full run saw
    /// still there); no files are read. A full `verify` does this too.
    #[arg(long, conflicts_with_all = ["package", "since", "until", "resume"])]
    events: bool,
    /// Check the second copy kept by `sohoa replicate --to URL` (s3://bucket/prefix or a folder)
    /// against the records instead of the primary store.
    #[arg(long, value_name = "URL", conflicts_with_all = ["package", "since", "until", "resume", "events"])]
    replica: Option<String>,
}

/// The second copy's store: a bucket's bytes in flight are spooled under `replica/` in the data folder.
pub(super) fn open_replica(data: &Path, url: &str) -> anyhow::Result<std::sync::Arc<dyn crate::store::BlobStore>> {
    let url = super::store_address(url).map_err(|e| anyhow::anyhow!("--replica / --to: {e}"))?;
    let same = |a: &str, b: &str| match (BucketUrl::parse(a), BucketUrl::parse(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    };
    let primary = super::store();
    let is_primary = match primary.as_deref() {
        Some(p) => same(p, &url) || (!url.starts_with("s3://") && same_folder(Path::new(p), Path::new(&url))),
        None => !url.starts_with("s3://") && same_folder(&data.join("blobs"), Path::new(&url)),
    };
    if is_primary {
        anyhow::bail!("{url} is the primary store itself: a second copy must be another bucket, prefix or folder");
    }
    crate::store::open_blobs(&data.join("replica"), Some(&url))
        .map_err(|e| anyhow::anyhow!("cannot open the replica at {url}: {e}"))
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    if let Some(dir) = &a.package {
        let started = std::time::Instant::now();
        if !dir.join("manifest-sha256.txt").is_file() {
            // `export --out DIR` writes DIR/<CODE>/: name the package folder for the user.
            let inside: Vec<String> = std::fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.path().join("manifest-sha256.txt").is_file())
                .map(|e| e.path().display().to_string())
                .collect();
            let hint = match inside.first() {
                Some(p) => say(format!("; gói hồ sơ có lẽ là {p}"), format!("; the package is perhaps {p}")),
                None => String::new(),
            };
            anyhow::bail!(
                "{}",
                say(
                    format!(
                        "{} không có manifest-sha256.txt: đó không phải thư mục của một gói hồ sơ{hint}",
                        dir.display()
                    ),
                    format!("{} has no manifest-sha256.txt: it is not a package folder{hint}", dir.display())
                )
            );
        }
        let mut report = fixity::verify_package(dir);
        // With the data folder at hand, the package is also held against the records.
        if data.join("sohoa.db").exists() || std::env::var_os("SOHOA_DATABASE").is_some() {
            let d = super::open_data(data).await?;
            let (code, found) = fixity::compare_package(&d.records, dir, &super::actor(), &super::now()).await?;
            if !a.json {
                println!(
                    "{}",
                    say(
                        format!("đối chiếu với dữ liệu của hồ sơ {code} trong {}", data.display()),
                        format!("held against the records of {code} in {}", data.display())
                    )
                );
            }
            report.problems.extend(found);
        } else if !a.json {
            println!(
                "{}",
                say(
                    format!(
                        "chỉ kiểm tra theo manifest-sha256.txt: không có dữ liệu ở {} để đối chiếu (--data) — một tệp bị sửa cùng dòng manifest của nó sẽ không lộ ra",
                        data.display()
                    ),
                    format!(
                        "checked against manifest-sha256.txt only: no records at {} to hold it against (--data) — a file changed together with its manifest line would not show",
                        data.display()
                    )
                )
            );
        }
        return Ok(print(&report, started.elapsed().as_secs_f64(), a.json));
    }
    let d = super::open_data(data).await?;
    if a.events {
        let started = std::time::Instant::now();
        let (chain, problems, anchor) = fixity::check_and_anchor_events(&d.records, data, &super::actor()).await?;
        if !a.json {
            println!(
                "audit log: {} event(s) walked{}",
                chain.events,
                if chain.unchained > 0 {
                    format!(", the first {} from before the chain began (not chained)", chain.unchained)
                } else {
                    String::new()
                }
            );
        }
        let chain_head = anchor.map(|(id, h)| format!("event {id} sha256 {h}"));
        let report = fixity::Report { events: chain.events, problems, chain_head, ..Default::default() };
        return Ok(print(&report, started.elapsed().as_secs_f64(), a.json));
    }
    let threads = crate::util::cpu::cores();
    let started = std::time::Instant::now();
    if let Some(url) = &a.replica {
        if !url.starts_with("s3://") && !Path::new(url).join("sha256").is_dir() {
            anyhow::bail!("there is no copy at {url}: make one with `sohoa replicate --to {url}`");
        }
        let replica = open_replica(data, url)?;
        let report = fixity::verify_copy(&d.records, replica, threads).await?;
        if !a.json {
            println!("replica {url}:");
        }
        return Ok(print(&report, started.elapsed().as_secs_f64(), a.json));
    }
    let date = |v: &Option<String>, what: &str| -> anyhow::Result<Option<String>> {
        v.as_deref().map(|d| local_date(d).map_err(|e| anyhow::anyhow!("--{what}: {e}"))).transpose()
    };
    let window = fixity::Window { since: date(&a.since, "since")?, until: date(&a.until, "until")? };
    let (report, earlier) =
        fixity::verify_run(&d.records, d.blobs.clone(), threads, &window, a.resume, &super::actor(), Some(data))
            .await?;
    if earlier > 0 && !a.json {
        println!("resumed: {earlier} file(s) were checked before the interruption");
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(print(&report, secs, a.json))
}

/// `sohoa views repair`: every attached document's case-folder copy made the recorded PDF again.
pub(super) async fn repair_views(data: &Path) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let attached = d.records.attached_documents().await?;
    let views = crate::view::Views::new(data.to_path_buf());
    let blobs = d.blobs.clone();
    let done = crate::util::cpu::blocking(move || {
        attached
            .into_iter()
            .filter_map(|(case, name, sha)| {
                views.repair(blobs.as_ref(), &case, &name, &sha).map(|what| format!("{what} cases/{case}/{name}"))
            })
            .collect::<Vec<_>>()
    })
    .await?;
    for line in &done {
        println!("{line}");
    }
    let failed = done.iter().filter(|l| l.starts_with("NOT REPAIRED")).count();
    println!(
        "{} view(s) put right{}; every other case-folder copy is the recorded PDF",
        done.len() - failed,
        if failed > 0 { format!(", {failed} could not be") } else { String::new() }
    );
    Ok(u8::from(failed > 0))
}

/// Prints a fixity report; returns the exit code (1 when anything is wrong).
fn print(report: &fixity::Report, secs: f64, json: bool) -> u8 {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
    } else {
        for p in &report.problems {
            match p {
                Problem::Changed { sha256, actual } => {
                    let vi = format!("ĐÃ BỊ THAY ĐỔI  {sha256} (nay có mã băm {actual})");
                    println!("{}", say(vi, format!("CHANGED     {sha256} (now hashes to {actual})")))
                }
                Problem::Missing { sha256 } => {
                    println!("{}", say(format!("BỊ MẤT      {sha256}"), format!("MISSING     {sha256}")))
                }
                Problem::Unexpected { sha256 } => {
                    println!("{}", say(format!("KHÔNG CÓ TRONG HỒ SƠ  {sha256}"), format!("UNEXPECTED  {sha256}")))
                }
                Problem::Unreadable { sha256, error } => println!(
                    "{}",
                    say(format!("KHÔNG ĐỌC ĐƯỢC  {sha256}: {error}"), format!("UNREADABLE  {sha256}: {error}"))
                ),
                Problem::ViewChanged { view, sha256, actual } => println!(
                    "{}",
                    say(
                        format!(
                            "BẢN TRONG THƯ MỤC HỒ SƠ ĐÃ BỊ ĐỔI  {view} (đã ghi {sha256}, nay {actual}); `sohoa views repair` sửa lại"
                        ),
                        format!(
                            "VIEW CHANGED  {view} (recorded {sha256}, now {actual}); `sohoa views repair` puts it right"
                        ),
                    )
                ),
                Problem::ViewMissing { view, sha256 } => println!(
                    "{}",
                    say(
                        format!(
                            "BẢN TRONG THƯ MỤC HỒ SƠ BỊ MẤT  {view} (đã ghi {sha256}); `sohoa views repair` đặt lại"
                        ),
                        format!("VIEW MISSING  {view} (recorded {sha256}); `sohoa views repair` puts it back"),
                    )
                ),
                Problem::PackageDiffers { path, sha256, recorded } if sha256.is_empty() => {
                    let rec = recorded.clone().unwrap_or_default();
                    println!(
                        "{}",
                        say(
                            format!("THIẾU TRONG GÓI  {path} (dữ liệu ghi {rec})"),
                            format!("NOT IN PACKAGE  {path} (records {rec})")
                        )
                    )
                }
                Problem::PackageDiffers { path, sha256, recorded } => {
                    let rec = recorded.clone().unwrap_or_else(|| say("không có", "nothing"));
                    println!(
                        "{}",
                        say(
                            format!("KHÁC DỮ LIỆU GỐC  {path} (trong gói {sha256}, dữ liệu ghi {rec})"),
                            format!("NOT AS RECORDED  {path} (package {sha256}, records {rec})")
                        )
                    )
                }
                Problem::EventChain { what, .. } => {
                    println!("{}", say(format!("NHẬT KÝ KIỂM TOÁN  {what}"), format!("AUDIT LOG   {what}")))
                }
            }
        }
        if let Some(head) = &report.chain_head {
            println!(
                "{}",
                say(
                    format!(
                        "đầu chuỗi nhật ký kiểm toán: {head} (đã lưu cùng lần kiểm tra này; hãy lưu thêm ở nơi khác: nhật ký bị cắt sẽ lộ ra)"
                    ),
                    format!(
                        "audit log head: {head} (kept with this run; keep it elsewhere too: a log cut short shows)"
                    ),
                )
            );
        }
        let (files, events, mb) = (report.checked, report.events, report.bytes as f64 / 1e6);
        let rate = mb / secs.max(1e-9);
        let problems = report.problems.len();
        println!(
            "{}",
            say(
                format!(
                    "đã kiểm tra {files} tệp và {events} sự kiện nhật ký, {mb:.1} MB trong {secs:.2} giây ({rate:.0} MB/giây): {}",
                    if problems == 0 {
                        "tất cả nguyên vẹn".to_string()
                    } else {
                        format!("{problems} vấn đề")
                    }
                ),
                format!(
                    "verified {files} files and {events} audit event(s), {mb:.1} MB in {secs:.2} s ({rate:.0} MB/s): {}",
                    if problems == 0 { "all intact".to_string() } else { format!("{problems} problem(s)") }
                ),
            )
        );
    }
    u8::from(!report.problems.is_empty())
}

#[derive(clap::Args)]
pub(super) struct ReplicateArgs {
    /// Where the second copy lives: s3://bucket/prefix (AWS_* variables as for --store) or a folder.
    #[arg(long, value_name = "URL")]
    to: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// `sohoa replicate --to URL`: exit 0 when the copy holds every recorded file, 1 when some could not
/// be copied (each named, with why).
pub(super) async fn replicate(data: &Path, a: ReplicateArgs) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let replica = open_replica(data, &a.to)?;
    let started = std::time::Instant::now();
    let report = crate::store::replica::replicate(&d.records, d.blobs.clone(), replica, |r| {
        tracing::info!(checked = r.checked, copied = r.copied, failed = r.failed.len(), "replicating")
    })
    .await?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        for (sha, why) in &report.failed {
            println!("NOT COPIED  {sha}  {why}");
        }
        println!(
            "replica {}: {} recorded file(s) checked, {} copied ({:.1} MB), {} not copied, in {:.1} s",
            a.to,
            report.checked,
            report.copied,
            report.bytes as f64 / 1e6,
            report.failed.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(if report.failed.is_empty() { 0 } else { 1 })
}

/// Whether two paths name the same folder (both resolved when they exist).
fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
