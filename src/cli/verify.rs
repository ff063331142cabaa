//! `sohoa verify`.

use std::path::Path;

use crate::fixity::{self, Problem};

#[derive(clap::Args)]
pub(super) struct Args {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Check an exported package against its manifest-sha256.txt instead of the data folder.
    #[arg(long, value_name = "DIR")]
    package: Option<std::path::PathBuf>,
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    if let Some(dir) = &a.package {
        let started = std::time::Instant::now();
        let report = fixity::verify_package(dir);
        return Ok(print(&report, started.elapsed().as_secs_f64(), a.json));
    }
    let d = super::open_data(data).await?;
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let started = std::time::Instant::now();
    let report = fixity::verify(&d.records, d.blobs.clone(), threads).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let detail =
        serde_json::json!({ "checked": report.checked, "bytes": report.bytes, "problems": report.problems.len() });
    let _ = d.records.log_event("sohoa", "fixity", &detail, &crate::util::time::now_iso(::time::UtcOffset::UTC)).await;
    Ok(print(&report, secs, a.json))
}

/// Prints a fixity report; returns the exit code (1 when anything is wrong).
fn print(report: &fixity::Report, secs: f64, json: bool) -> u8 {
    if json {
        println!("{}", serde_json::to_string_pretty(report).unwrap_or_default());
    } else {
        for p in &report.problems {
            match p {
                Problem::Changed { sha256, actual } => {
                    println!("CHANGED     {sha256} (now hashes to {actual})")
                }
                Problem::Missing { sha256 } => println!("MISSING     {sha256}"),
                Problem::Unexpected { sha256 } => println!("UNEXPECTED  {sha256}"),
                Problem::Unreadable { sha256, error } => println!("UNREADABLE  {sha256}: {error}"),
            }
        }
        println!(
            "verified {} files, {:.1} MB in {:.2} s ({:.0} MB/s): {}",
            report.checked,
            report.bytes as f64 / 1e6,
            secs,
            report.bytes as f64 / 1e6 / secs.max(1e-9),
            if report.problems.is_empty() {
                "all intact".to_string()
            } else {
                format!("{} problem(s)", report.problems.len())
            }
        );
    }
    u8::from(!report.problems.is_empty())
}
