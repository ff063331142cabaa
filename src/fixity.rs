//! Fixity: re-reads every stored blob, recomputes its SHA-256 and compares with the records.
//!
//! Fails closed: a blob that cannot be read is a problem, never a pass.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

use crate::error::Result;
use crate::store::{BlobStore, Records};

pub use crate::store::verify_runs::Problem;

/// The outcome of a fixity run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Blobs whose hash was recomputed.
    pub checked: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Audit events whose chain was walked (a run over everything, or `--events`).
    pub events: u64,
    /// The last event of an intact chain, `event N sha256 H`: kept by the run, and worth keeping
    /// elsewhere too.
    pub chain_head: Option<String>,
    /// Everything that is wrong.
    pub problems: Vec<Problem>,
}

/// The file beside the database where each check of the audit log appends its anchor (`event ID
/// sha256 HASH at TIME`): a third copy, outside the database.
pub const ANCHORS_FILE: &str = "audit-anchors.txt";

/// Walks the audit log's hash chain ([`crate::store::chain`]) and checks that the anchors earlier
/// checks kept — in the records and in `data_dir`'s [`ANCHORS_FILE`] — are still there unchanged (so a
/// log cut short shows). Returns the walk and the problems.
pub async fn check_events(
    records: &Records,
    data_dir: Option<&std::path::Path>,
) -> Result<(crate::store::chain::ChainCheck, Vec<Problem>)> {
    let chain = records.check_event_chain().await?;
    let mut problems = Vec::new();
    if let Some((event, what)) = &chain.broken {
        problems.push(Problem::EventChain { event: *event, what: format!("event {event} {what}") });
    }
    let mut anchors = records.chain_anchors().await?;
    anchors.extend(data_dir.and_then(|d| file_anchor(&d.join(ANCHORS_FILE))));
    anchors.sort();
    anchors.dedup();
    for (id, hash) in anchors {
        if !records.event_has_hash(id, &hash).await?
            && !problems.iter().any(|p| matches!(p, Problem::EventChain { event, .. } if *event == id))
        {
            problems.push(Problem::EventChain {
                event: id,
                what: format!(
                    "event {id}, kept as an anchor by an earlier check, is gone or changed: the log was cut short \
                     or rewritten"
                ),
            });
        }
    }
    Ok((chain, problems))
}

/// Checks the audit log alone and, when it is intact, records the check as a `fixity` event that
/// becomes the newest anchor (kept in the records and appended to [`ANCHORS_FILE`]). What `verify
/// --events` and the service's hourly check run. Returns the walk, the problems and the new anchor.
pub async fn check_and_anchor_events(
    records: &Records,
    data_dir: &std::path::Path,
    actor: &str,
) -> Result<(crate::store::chain::ChainCheck, Vec<Problem>, Option<(i64, String)>)> {
    let (chain, problems) = check_events(records, Some(data_dir)).await?;
    if !problems.is_empty() {
        return Ok((chain, problems, None));
    }
    let at = crate::util::time::now_iso(crate::util::time::VIETNAM);
    let mut detail = serde_json::json!({ "events": chain.events, "audit_log_only": true });
    if let Some((id, hash)) = &chain.head {
        detail["chain_head"] = serde_json::json!({ "id": id, "hash": hash });
    }
    let anchor = records.record_events_check(actor, &detail, &at).await?;
    append_anchor(data_dir, &anchor, &at);
    Ok((chain, problems, Some(anchor)))
}

/// Appends an anchor line to the data folder's [`ANCHORS_FILE`]; a failure is logged, not fatal (the
/// records keep the anchor too).
pub fn append_anchor(data_dir: &std::path::Path, (id, hash): &(i64, String), at: &str) {
    use std::io::Write;
    let path = data_dir.join(ANCHORS_FILE);
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "event {id} sha256 {hash} at {at}").and_then(|_| f.sync_all()));
    if let Err(e) = written {
        tracing::warn!(file = %path.display(), error = %e, "could not keep the audit log's anchor in the file");
    }
}

/// The newest anchor in an anchors file.
fn file_anchor(path: &std::path::Path) -> Option<(i64, String)> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().rev().find(|l| l.starts_with("event "))?;
    let mut words = line.split_whitespace();
    let id = words.nth(1)?.parse().ok()?;
    let hash = words.nth(1)?.to_string();
    Some((id, hash))
}

fn hash(blobs: &dyn BlobStore, sha: &str) -> std::result::Result<(String, u64), String> {
    let r = blobs.open(sha).map_err(|e| e.to_string())?;
    hash_stream(r)
}

/// SHA-256 and length of everything a reader yields.
fn hash_stream(mut r: impl Read) -> std::result::Result<(String, u64), String> {
    crate::store::blob::hash_reader(&mut r).map_err(|e| e.to_string())
}

/// Which recorded files a fixity run covers: those stored between two local dates (inclusive), or all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    /// First date, `YYYY-MM-DD`.
    pub since: Option<String>,
    /// Last date.
    pub until: Option<String>,
}

/// Files hashed between checkpoints: what an interrupted run re-does at most.
const CHECKPOINT_FILES: usize = 256;

/// A fixity run over a window, in hash order, checkpointed in the records every few hundred files so
/// that `resume` continues an interrupted run of the same window where it stopped. Every problem is
/// also recorded as an event the moment it is found; a resumed run reports the earlier part's problems
/// from there. Returns the report and how many files an earlier, interrupted part had checked.
pub async fn verify_run(
    records: &Records,
    blobs: std::sync::Arc<dyn BlobStore>,
    threads: usize,
    window: &Window,
    resume: bool,
    actor: &str,
    data_dir: Option<&std::path::Path>,
) -> Result<(Report, u64)> {
    let at = crate::util::time::now_iso(crate::util::time::VIETNAM);
    let run = records.start_verify_run(window.since.as_deref(), window.until.as_deref(), resume, &at).await?;
    let mut report = Report { problems: records.verify_run_problems(&run.id).await?, ..Default::default() };
    let earlier = run.checked as u64;
    let files = records.files_stored(window.since.as_deref(), window.until.as_deref(), &run.last_sha256).await?;
    let stored = stored_hashes(&blobs).await?;
    let mut checked_total = run.checked;
    let mut failures = run.failures;
    for batch in files.chunks(CHECKPOINT_FILES) {
        let part: Vec<String> = batch.to_vec();
        let (blobs, stored) = (blobs.clone(), stored.clone());
        let results = crate::util::cpu::blocking(move || hash_all(blobs.as_ref(), &stored, &part, threads))
            .await
            .map_err(|e| crate::error::Failure::transient("fixity task", e))?;
        let found = classify(results, &mut report);
        checked_total += batch.len() as i64;
        failures += found.len() as i64;
        let last = batch.last().cloned().unwrap_or_default();
        records.checkpoint_verify_run(&run.id, &last, checked_total, failures, &found, actor, &at).await?;
        report.problems.extend(found);
    }
    // Blobs nobody recorded are looked for over the whole store, whatever the window.
    let known: HashSet<String> = records.files().await?.into_iter().map(|(s, _, _)| s).collect();
    let mut extra: Vec<&String> = stored.iter().filter(|s| !known.contains(s.as_str())).collect();
    extra.sort();
    let extra: Vec<Problem> = extra.into_iter().map(|s| Problem::Unexpected { sha256: s.clone() }).collect();
    records
        .checkpoint_verify_run(&run.id, "", checked_total, failures + extra.len() as i64, &extra, actor, &at)
        .await?;
    let failures = failures + extra.len() as i64;
    report.problems.extend(extra);
    // The case folders, on a run over everything: the copies a clerk opens must be the records' bytes.
    if let (Some(dir), None, None) = (data_dir.map(|d| d.join("cases")), &window.since, &window.until) {
        let attached = records.attached_documents().await?;
        let dir = dir.to_path_buf();
        let views = crate::util::cpu::blocking(move || check_views(&dir, &attached))
            .await
            .map_err(|e| crate::error::Failure::transient("fixity task", e))?;
        let n = failures + views.len() as i64;
        records.checkpoint_verify_run(&run.id, "", checked_total, n, &views, actor, &at).await?;
        report.problems.extend(views);
    }
    // The audit log, on a run over everything: its chain walked, and its head recorded in this run's
    // own event for the next run to find.
    let mut head = serde_json::Value::Null;
    if window.since.is_none() && window.until.is_none() {
        let (chain, problems) = check_events(records, data_dir).await?;
        report.events = chain.events;
        if problems.is_empty()
            && let Some((id, hash)) = &chain.head
        {
            head = serde_json::json!({ "id": id, "hash": hash });
        }
        report.problems.extend(problems);
    }
    let mut detail = serde_json::json!({
        "run": run.id, "checked": checked_total, "bytes_this_part": report.bytes, "problems": report.problems.len(),
        "since": window.since, "until": window.until, "resumed_after": earlier, "events": report.events,
    });
    if !head.is_null() {
        detail["chain_head"] = head;
    }
    let anchor = records.finish_verify_run(&run.id, actor, &detail, &at).await?;
    if let Some(anchor) = &anchor {
        if let Some(dir) = data_dir {
            append_anchor(dir, anchor, &at);
        }
        report.chain_head = Some(format!("event {} sha256 {}", anchor.0, anchor.1));
    }
    report.checked += earlier;
    Ok((report, earlier))
}

/// Compares each attached document's case-folder view (`<cases>/<code>/<name>`) with its recorded
/// hash. Nothing is checked when the folder of views does not exist (a profile that shows none).
pub fn check_views(cases: &std::path::Path, attached: &[(String, String, String)]) -> Vec<Problem> {
    if !cases.is_dir() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (case, name, sha) in attached {
        let path = cases.join(case).join(name);
        let view = format!("cases/{case}/{name}");
        match std::fs::File::open(&path) {
            Ok(f) => match hash_stream(f) {
                Ok((actual, _)) if actual != *sha => {
                    out.push(Problem::ViewChanged { view, sha256: sha.clone(), actual })
                }
                Ok(_) => {}
                Err(error) => out.push(Problem::Unreadable { sha256: sha.clone(), error: format!("{view}: {error}") }),
            },
            Err(_) => out.push(Problem::ViewMissing { view, sha256: sha.clone() }),
        }
    }
    out
}

/// A file's name and its hash and size, or why it could not be hashed.
type Hashed = (String, std::result::Result<(String, u64), String>);

/// Hashes `files` on `threads` threads; a file the store does not list is `Err("missing")`.
/// Every hash a store holds, listed on the blocking pool.
async fn stored_hashes(blobs: &std::sync::Arc<dyn BlobStore>) -> Result<std::sync::Arc<HashSet<String>>> {
    let blobs = blobs.clone();
    let listed = crate::util::cpu::blocking(move || blobs.list())
        .await
        .map_err(|e| crate::error::Failure::transient("listing the blob store", e))??;
    Ok(std::sync::Arc::new(listed.into_iter().collect()))
}

/// Counts what was hashed into `report` and returns what is wrong with it.
fn classify(results: Vec<Hashed>, report: &mut Report) -> Vec<Problem> {
    let mut found = Vec::new();
    for (sha, r) in results {
        match r {
            Ok((actual, n)) => {
                report.checked += 1;
                report.bytes += n;
                if actual != sha {
                    found.push(Problem::Changed { sha256: sha, actual });
                }
            }
            Err(e) if e == "missing" => found.push(Problem::Missing { sha256: sha }),
            Err(error) => found.push(Problem::Unreadable { sha256: sha, error }),
        }
    }
    found
}

/// Re-hashes a second copy (`sohoa verify --replica`) against the records: every recorded file must be
/// there with its bytes, and nothing else. The primary store's runs and checkpoints are left alone (a
/// `--resume` of the primary's run never continues a check of the copy).
pub async fn verify_copy(records: &Records, blobs: std::sync::Arc<dyn BlobStore>, threads: usize) -> Result<Report> {
    let mut report = Report::default();
    let stored = stored_hashes(&blobs).await?;
    let mut known = HashSet::new();
    let mut after = String::new();
    loop {
        let page = records.files_page(&after, CHECKPOINT_FILES as i64).await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        known.extend(page.iter().cloned());
        let (blobs, stored) = (blobs.clone(), stored.clone());
        let results = crate::util::cpu::blocking(move || hash_all(blobs.as_ref(), &stored, &page, threads))
            .await
            .map_err(|e| crate::error::Failure::transient("fixity task", e))?;
        let found = classify(results, &mut report);
        report.problems.extend(found);
    }
    let mut extra: Vec<&String> = stored.iter().filter(|s| !known.contains(s.as_str())).collect();
    extra.sort();
    report.problems.extend(extra.into_iter().map(|s| Problem::Unexpected { sha256: s.clone() }));
    Ok(report)
}

fn hash_all(blobs: &dyn BlobStore, stored: &HashSet<String>, files: &[String], threads: usize) -> Vec<Hashed> {
    let chunk = files.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|sha| {
                            let r = if stored.contains(sha) { hash(blobs, sha) } else { Err("missing".into()) };
                            (sha.clone(), r)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A checker thread that died reports each of its files as unreadable: fail closed.
        handles
            .into_iter()
            .zip(files.chunks(chunk))
            .flat_map(|(h, part)| {
                h.join().unwrap_or_else(|_| {
                    part.iter().map(|sha| (sha.clone(), Err("the checker thread failed".to_string()))).collect()
                })
            })
            .collect()
    })
}

/// Checks an exported package against its `manifest-sha256.txt`: every listed file present and
/// unchanged, nothing unlisted. A manifest line that cannot be read is a problem, never a pass.
/// Compares a package with the records of its case, when the data folder is at hand: each PDF must be
/// the document's recorded current file and each original a recorded source of the case — a file
/// changed together with its manifest line passes the manifest, never this. The check is recorded as a
/// `fixity` event of the case. Returns the case code the package names, and the problems.
pub async fn compare_package(
    records: &Records,
    dir: &std::path::Path,
    actor: &str,
    at: &str,
) -> Result<(String, Vec<Problem>)> {
    let manifest = std::fs::read_to_string(dir.join("manifest-sha256.txt")).unwrap_or_default();
    let code = std::fs::read(dir.join("metadata.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m["FileCode"].as_str().map(str::to_string))
        .or_else(|| dir.file_name().map(|n| crate::util::text::nfc(&n.to_string_lossy())))
        .unwrap_or_default();
    let mut problems = Vec::new();
    let Some(detail) = records.case_detail(&code).await? else {
        problems.push(Problem::PackageDiffers { path: "metadata.json".into(), sha256: String::new(), recorded: None });
        return Ok((code, problems));
    };
    let documents: std::collections::HashMap<&str, Option<&str>> = detail
        .documents
        .iter()
        .filter(|d| d.state == crate::store::documents::DocState::Attached)
        .map(|d| (d.name.as_str(), d.sha256.as_deref()))
        .collect();
    let sources: HashSet<&str> =
        detail.pages.iter().filter(|p| p.ordinal.is_some()).map(|p| p.source_sha256.as_str()).collect();
    // The metadata files each export of the case wrote, by name: the package's must be one of them.
    let mut exported: std::collections::HashMap<String, HashSet<String>> = std::collections::HashMap::new();
    for e in detail.events.iter().filter(|e| e.kind == "export") {
        for (name, sha) in e.detail["metadata"].as_object().into_iter().flatten() {
            exported.entry(name.clone()).or_default().insert(sha.as_str().unwrap_or("").to_string());
        }
    }
    let mut checked = 0u64;
    let mut listed_pdfs = HashSet::new();
    let mut listed_sources = HashSet::new();
    for (sha, path) in manifest.lines().filter_map(|l| l.split_once("  ")) {
        let path = crate::util::text::nfc(path);
        let recorded = if path.starts_with("originals/") {
            listed_sources.insert(sha.to_string());
            Some(sources.contains(sha).then(|| sha.to_string()))
        } else if path.ends_with(".pdf") {
            listed_pdfs.insert(path.clone());
            Some(documents.get(path.as_str()).copied().flatten().map(str::to_string))
        } else {
            // Metadata files written by an export: held against what the export recorded, when it did.
            exported.get(&path).map(|shas| shas.contains(sha).then(|| sha.to_string()))
        };
        if let Some(recorded) = recorded {
            checked += 1;
            if recorded.as_deref() != Some(sha) {
                problems.push(Problem::PackageDiffers { path, sha256: sha.to_string(), recorded });
            }
        }
    }
    // What the records hold and the package lacks, manifest line and all.
    for (name, sha) in &documents {
        if !listed_pdfs.contains(*name) {
            problems.push(Problem::PackageDiffers {
                path: name.to_string(),
                sha256: String::new(),
                recorded: sha.map(str::to_string),
            });
        }
    }
    for p in detail.pages.iter().filter(|p| p.ordinal.is_some()) {
        if listed_sources.insert(p.source_sha256.clone()) {
            problems.push(Problem::PackageDiffers {
                path: format!("originals/ ({})", p.source),
                sha256: String::new(),
                recorded: Some(p.source_sha256.clone()),
            });
        }
    }
    let detail = serde_json::json!({ "package": dir.display().to_string(), "checked": checked, "found": problems });
    records.log_access(actor, "fixity", Some(&code), None, &detail, at).await?;
    Ok((code, problems))
}

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
