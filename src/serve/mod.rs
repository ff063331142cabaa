//! The hot-folder service: one watcher per station inbox, one capture loop, a pool of job workers,
//! and housekeeping (closing idle or marked documents, the orphan sweep, the status file).
//!
//! ```text
//! watcher (station 1) ─┐  bounded queue   ┌─ capture ─► records + blobs ─► notify ─► workers ×N
//! watcher (station 2) ─┴───────────────►──┘                                 (split, render)
//! ```
//!
//! Shutdown (SIGINT/SIGTERM): watchers stop, the capture batch in hand is committed, workers finish
//! the job in hand; whatever is still running after a few seconds is abandoned — it is a recorded,
//! idempotent job and the next start resumes it before taking new work.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

use crate::intake::Capturer;
use crate::pipeline::Pipeline;
use crate::profile::{DocumentRule, Profile};
use crate::store::DataDir;
use crate::util::{retry, time};
use crate::watch::{Found, InboxWatcher};

/// What `sohoa serve` runs.
pub struct Config {
    /// One profile per station inbox.
    pub profiles: Vec<Profile>,
    /// The data directory.
    pub data: PathBuf,
    /// The records' database URL when not the data directory's SQLite file.
    pub database: Option<String>,
    /// Where the HTTP API listens, if at all.
    pub listen: Option<std::net::SocketAddr>,
    /// Workers; `None` means the first profile's `service.workers`, 0 meaning one per core.
    pub workers: Option<usize>,
}

/// Runs until `stop` resolves.
/// How often the service walks the audit log's hash chain and records a new anchor.
const AUDIT_CHECK_EVERY: Duration = Duration::from_secs(3600);

pub async fn run(cfg: Config, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let first = cfg.profiles.first().ok_or_else(|| anyhow::anyhow!("no profile to serve"))?.settings.clone();
    let d =
        retry::until_done("opening the data folder", || DataDir::open_with(&cfg.data, cfg.database.as_deref())).await?;
    let recovered = retry::until_done("resuming jobs", || d.records.recover_running_jobs()).await?;
    if recovered > 0 {
        tracing::warn!(jobs = recovered, "resuming jobs a stopped service left unfinished, before new work");
    }
    let grace = Duration::from_secs(first.service.sweep_grace_seconds);
    match crate::store::sweep::sweep(&d.records, d.blobs.clone(), grace).await {
        Ok(r) if r.orphans + r.temporaries > 0 => {
            tracing::info!(orphans = r.orphans, temporaries = r.temporaries, "swept")
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "orphan sweep failed; will try again later"),
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), d.root.clone());
    let cases = cfg.profiles.iter().any(|p| p.settings.output.case_folder_view);
    if let Err(e) = pipeline.repair_views(cases).await {
        tracing::warn!(error = %e, "could not check the folder views; they will be checked at the next start");
    }
    let wake = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    if let Some(addr) = cfg.listen {
        // Bound before the watchers start, so a taken port is reported at once, not after a scan.
        let listener = crate::api::bind(addr).await?;
        let profile = cfg.profiles.first().cloned().ok_or_else(|| anyhow::anyhow!("no profile to serve"))?;
        let api =
            crate::api::Api::new(d.records.clone(), d.blobs.clone(), profile, d.root.clone(), Some(wake.clone()))?;
        let mut s = stop_rx.clone();
        tracing::info!(address = %addr, "HTTP API listening");
        tasks.push(tokio::spawn(async move {
            let stop = async move {
                let _ = s.changed().await;
            };
            if let Err(e) = api.serve(listener, stop).await {
                tracing::error!(alarm = true, error = %e, "the HTTP API stopped");
            }
        }));
    }
    let cores = crate::util::cpu::cores();
    let workers = match cfg.workers.unwrap_or(first.service.workers) {
        0 => cores * 2,
        n => n,
    };

    for _ in 0..workers {
        let (p, w, s) = (pipeline.clone(), wake.clone(), stop_rx.clone());
        tasks.push(tokio::spawn(async move { p.work(Some(w), crate::pipeline::Until::Stopped(s)).await }));
    }

    let (found_tx, mut found_rx) = mpsc::channel::<(usize, Found)>(first.service.queue.max(1));
    let mut capturers = Vec::new();
    let mut statuses = Vec::new();
    for (i, profile) in cfg.profiles.iter().enumerate() {
        let pending = Arc::new(AtomicUsize::new(0));
        let watcher = InboxWatcher::new(&profile.settings, pending.clone())
            .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", profile.settings.inbox.path.display()))?;
        statuses.push(crate::watch::status::Writer::new(&d.root, profile, watcher.root(), pending));
        tasks.push(tokio::spawn(watcher.run(i, found_tx.clone(), stop_rx.clone())));
        capturers.push(Capturer::new(d.blobs.clone(), d.records.clone(), profile.clone(), None, None)?);
    }
    drop(found_tx);

    // Capture: batches of whatever is queued, one transaction each; markers after the files before them.
    let capture = {
        let (records, wake, mut s) = (d.records.clone(), wake.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                let first = tokio::select! {
                    f = found_rx.recv() => f,
                    _ = s.changed() => None,
                };
                let Some(first) = first else { return };
                let mut batch = vec![first];
                while batch.len() < 32 {
                    match found_rx.try_recv() {
                        Ok(f) => batch.push(f),
                        Err(_) => break,
                    }
                }
                let mut files: HashMap<usize, Vec<crate::intake::Candidate>> = HashMap::new();
                let mut markers = Vec::new();
                for (station, f) in batch {
                    match f {
                        Found::File(c) => files.entry(station).or_default().push(c),
                        Found::Marker { path, folder_path } => markers.push((path, folder_path)),
                    }
                }
                for (station, cands) in files {
                    let Some(c) = capturers.get(station) else { continue };
                    if let Err(e) = c.capture(&cands).await {
                        tracing::error!(alarm = true, error = %e, "capture failed");
                    }
                }
                wake.notify_waiters();
                for (path, folder_path) in markers {
                    let now = time::now_iso(::time::UtcOffset::UTC);
                    let key = crate::store::records::GroupKey::Folder { path: folder_path.clone() };
                    if retry::until_done("closing a marked folder", || records.request_close(&key, &now)).await.is_ok()
                    {
                        tracing::info!(folder = %folder_path, "marker seen: the folder's document is closed");
                        let _ = std::fs::remove_file(&path);
                        wake.notify_waiters();
                    }
                }
            }
        })
    };

    // Housekeeping: idle documents, the sweep, the status files.
    let idle = cfg
        .profiles
        .iter()
        .filter(|p| p.settings.grouping.document == DocumentRule::Folder)
        .map(|p| Duration::from_secs(p.settings.grouping.idle_seconds))
        .min();
    let house = {
        let (records, blobs, wake, mut s) = (d.records.clone(), d.blobs.clone(), wake.clone(), stop_rx.clone());
        let janitor = pipeline.clone();
        let data_dir = d.root.clone();
        tokio::spawn(async move {
            let mut last_sweep = std::time::Instant::now();
            // The audit log's chain is checked and anchored a minute after start and then every hour, so
            // events cannot be removed unseen for long.
            let mut next_chain = std::time::Instant::now() + Duration::from_secs(60);
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = s.changed() => return,
                }
                if let Some(idle) = idle {
                    match records.close_idle_documents(idle, &time::now_iso(::time::UtcOffset::UTC)).await {
                        Ok(n) if n > 0 => wake.notify_waiters(),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "closing idle documents failed; will retry"),
                    }
                }
                if let Err(e) = janitor.requeue_abandoned().await {
                    tracing::warn!(error = %e, "could not check for abandoned jobs; will retry");
                }
                let jobs = records.unfinished_jobs().await.ok();
                for st in &statuses {
                    st.write(jobs);
                }
                if std::time::Instant::now() >= next_chain {
                    next_chain = std::time::Instant::now() + AUDIT_CHECK_EVERY;
                    match crate::fixity::check_and_anchor_events(&records, &data_dir, "sohoa").await {
                        Ok((_, problems, _)) if !problems.is_empty() => {
                            for p in &problems {
                                if let crate::fixity::Problem::EventChain { what, .. } = p {
                                    crate::util::alarm::raise(format!("audit log: {what}"));
                                    tracing::error!(
                                        alarm = true,
                                        "audit log: {what}; `sohoa verify --events` shows it"
                                    );
                                }
                            }
                        }
                        Ok((chain, _, anchor)) => tracing::info!(
                            events = chain.events, anchor = ?anchor.map(|a| a.0), "audit log checked: intact"
                        ),
                        Err(e) => tracing::warn!(error = %e, "could not check the audit log; will try again"),
                    }
                }
                if last_sweep.elapsed() >= grace.max(Duration::from_secs(60)) {
                    last_sweep = std::time::Instant::now();
                    if let Err(e) = crate::store::sweep::sweep(&records, blobs.clone(), grace).await {
                        tracing::warn!(error = %e, "orphan sweep failed; will try again later");
                    }
                }
            }
        })
    };

    tracing::info!(stations = cfg.profiles.len(), workers, data = %d.root.display(), "sohoa is serving; Ctrl-C to stop");
    stop.await;
    tracing::info!("stopping: no new files are taken; finishing the work in hand");
    let _ = stop_tx.send(true);
    let all = async {
        let _ = capture.await;
        let _ = house.await;
        for t in tasks {
            let _ = t.await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(5), all).await.is_err() {
        tracing::warn!("work in hand did not finish in 5 s; it is recorded and resumes at the next start");
    }
    tracing::info!("stopped");
    Ok(())
}
