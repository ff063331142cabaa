//! Fixity: re-reads every stored blob, recomputes its SHA-256 and compares with the records.
//!
//! Fails closed: a blob that cannot be read is a problem, never a pass.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::store::{BlobStore, Records};

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "lowercase")]
pub enum Problem {
    /// The bytes no longer hash to their name.
    Changed {
        /// Recorded hash.
        sha256: String,
        /// What the bytes hash to now.
        actual: String,
    },
    /// Recorded, but not in the store.
    Missing {
        /// Recorded hash.
        sha256: String,
    },
    /// In the store, but not recorded.
    Unexpected {
        /// Name in the store.
        sha256: String,
    },
    /// Could not be read.
    Unreadable {
        /// Recorded hash.
        sha256: String,
        /// Why.
        error: String,
    },
}

/// The outcome of a fixity run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Blobs whose hash was recomputed.
    pub checked: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Everything that is wrong.
    pub problems: Vec<Problem>,
}

fn hash(blobs: &dyn BlobStore, sha: &str) -> std::result::Result<(String, u64), String> {
    let r = blobs.open(sha).map_err(|e| e.to_string())?;
    hash_stream(r)
}

/// SHA-256 and length of everything a reader yields, read in 1 MiB blocks.
fn hash_stream(mut r: impl Read) -> std::result::Result<(String, u64), String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Checks every recorded file against the store, on `threads` threads.
pub async fn verify(records: &Records, blobs: std::sync::Arc<dyn BlobStore>, threads: usize) -> Result<Report> {
    let recorded: Vec<String> = records.files().await?.into_iter().map(|(s, _, _)| s).collect();
    tokio::task::spawn_blocking(move || {
        let stored: HashSet<String> = blobs.list()?.into_iter().collect();
        let known: HashSet<&str> = recorded.iter().map(String::as_str).collect();
        let mut report = Report::default();
        let chunk = recorded.len().div_ceil(threads.max(1)).max(1);
        type Checked = (String, std::result::Result<(String, u64), String>);
        let results: Vec<Vec<Checked>> = std::thread::scope(|s| {
            let handles: Vec<_> = recorded
                .chunks(chunk)
                .map(|part| {
                    let blobs = blobs.as_ref();
                    let stored = &stored;
                    s.spawn(move || {
                        part.iter()
                            .map(|sha| {
                                let r = if stored.contains(sha) { hash(blobs, sha) } else { Err("missing".into()) };
                                (sha.clone(), r)
                            })
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        });
        let mut seen = 0usize;
        for (sha, r) in results.into_iter().flatten() {
            seen += 1;
            match r {
                Ok((actual, n)) => {
                    report.checked += 1;
                    report.bytes += n;
                    if actual != sha {
                        report.problems.push(Problem::Changed { sha256: sha, actual });
                    }
                }
                Err(e) if e == "missing" => report.problems.push(Problem::Missing { sha256: sha }),
                Err(error) => report.problems.push(Problem::Unreadable { sha256: sha, error }),
            }
        }
        if seen != recorded.len() {
            report
                .problems
                .push(Problem::Unreadable { sha256: String::new(), error: "a checker thread failed".into() });
        }
        let mut extra: Vec<&String> = stored.iter().filter(|s| !known.contains(s.as_str())).collect();
        extra.sort();
        for s in extra {
            report.problems.push(Problem::Unexpected { sha256: s.clone() });
        }
        Ok(report)
    })
    .await
    .map_err(|e| crate::error::Failure::transient("fixity task", e))?
}

/// Checks an exported package against its `manifest-sha256.txt`: every listed file present and
/// unchanged, nothing unlisted. A manifest line that cannot be read is a problem, never a pass.
pub fn verify_package(dir: &std::path::Path) -> Report {
    let mut report = Report::default();
    let manifest = match std::fs::read_to_string(dir.join("manifest-sha256.txt")) {
        Ok(m) => m,
        Err(e) => {
            report
                .problems
                .push(Problem::Unreadable { sha256: String::new(), error: format!("manifest-sha256.txt: {e}") });
            return report;
        }
    };
    let mut listed = HashSet::new();
    for (i, line) in manifest.lines().enumerate() {
        let Some((sha, path)) =
            line.split_once("  ").filter(|(s, p)| s.len() == 64 && !p.is_empty() && !p.contains(".."))
        else {
            report.problems.push(Problem::Unreadable {
                sha256: String::new(),
                error: format!("manifest line {} is not `<sha256>  <path>`", i + 1),
            });
            continue;
        };
        let norm = crate::util::text::nfc(path);
        listed.insert(norm.clone());
        match std::fs::File::open(dir.join(path)) {
            Ok(f) => match hash_stream(f) {
                Ok((actual, n)) => {
                    report.checked += 1;
                    report.bytes += n;
                    if actual != sha {
                        report.problems.push(Problem::Changed { sha256: format!("{sha}  {path}"), actual });
                    }
                }
                Err(error) => {
                    report.problems.push(Problem::Unreadable { sha256: sha.into(), error: format!("{path}: {error}") })
                }
            },
            Err(_) => report.problems.push(Problem::Missing { sha256: format!("{sha}  {path}") }),
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir).map(|r| crate::util::text::nfc(&r.to_string_lossy())).unwrap_or_default();
            if rel != "manifest-sha256.txt" && !listed.contains(&rel) {
                report.problems.push(Problem::Unexpected { sha256: rel });
            }
        }
    }
    report
}
