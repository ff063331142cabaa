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
//!
//! Each of those is a named task ([`Tasks`]): [`CaptureLoop`], [`Housekeeper`], the watchers, the
//! workers (`Pipeline::work`, the claim loop `ingest` runs too) and the API. `run` only wires them. A
//! task that ends before the stop signal — a panic — stops the service with an alarm naming it, so
//! that its supervisor restarts it whole; a panic inside one job is caught by the worker instead, and
//! the job retried with back-off.

mod capture;
mod housekeeper;
pub mod tasks;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};

pub use capture::CaptureLoop;
pub use housekeeper::Housekeeper;
pub use tasks::Tasks;

use crate::intake::Capturer;
use crate::pipeline::{Pipeline, Until};
use crate::profile::{DocumentRule, Profile};
use crate::store::DataDir;
use crate::util::retry;
use crate::watch::InboxWatcher;

/// What one `sohoa serve` process does. Split roles let a deployment put stations at the counters,
/// workers where the cores are and the API behind a proxy, all sharing one PostgreSQL and one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything in one process: the embedded default.
    All,
    /// Watches inboxes and captures into the shared store and records; a file leaves its inbox once its
    /// capture commits, whether or not a worker has taken it. Writes its quarantine views and status
    /// file from the records, since the worker that refused a file may be on another machine.
    Station,
    /// Claims jobs and runs the pipeline; woken by the database's notifications, polling as fallback.
    Worker,
    /// Serves the HTTP API and the web page only.
    Api,
}

impl Role {
    fn captures(self) -> bool {
        matches!(self, Role::All | Role::Station)
    }
    fn works(self) -> bool {
        matches!(self, Role::All | Role::Worker)
    }
    fn answers(self) -> bool {
        matches!(self, Role::All | Role::Api)
    }
}

/// What `sohoa serve` runs.
pub struct Config {
    /// One profile per station inbox.
    pub profiles: Vec<Profile>,
    /// The data directory.
    pub data: PathBuf,
    /// The records' database URL when not the data directory's SQLite file.
    pub database: Option<String>,
    /// The blob store (`s3://bucket/prefix` or a folder) when not the data directory's `blobs/`.
    pub store: Option<String>,
    /// Where the HTTP API listens, if at all.
    pub listen: Option<std::net::SocketAddr>,
    /// Workers; `None` means the first profile's `service.workers`, 0 meaning one per core.
    pub workers: Option<usize>,
    /// Which parts run in this process.
    pub role: Role,
    /// A second store (`s3://bucket/prefix` or a folder) kept in step with the records.
    pub replica: Option<String>,
}

/// How long the work in hand may take to finish after the stop signal before it is abandoned (it is
/// recorded, and resumes at the next start).
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs the service until `stop` resolves, or until one of its tasks ends early (then with an error
/// naming it, after stopping the others).
pub async fn run(cfg: Config, stop: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let first = cfg.profiles.first().ok_or_else(|| anyhow::anyhow!("no profile to serve"))?.settings.clone();
    tokio::pin!(stop);
    // A stop request while the stores are still out of reach (waited out with alarms) is honoured.
    let opening = retry::until_done("opening the data folder", || {
        DataDir::open_with(&cfg.data, cfg.database.as_deref(), cfg.store.as_deref())
    });
    let d = tokio::select! {
        d = opening => d?,
        _ = &mut stop => {
            tracing::info!("stopped before the records and the store could be reached; nothing was taken");
            return Ok(());
        }
    };
    let role = cfg.role;
    let embedded = cfg.database.as_deref().is_none_or(|d| !d.starts_with("postgres"))
        || cfg.store.as_deref().is_none_or(|s| !s.starts_with("s3://"));
    if role != Role::All && embedded {
        tracing::warn!(
            role = ?role,
            "a split role shares work only through a PostgreSQL --database and an s3:// --store; with this \
             process's own database or folder, no other process sees what it does"
        );
    }
    if role.works() {
        let recovered = retry::until_done("resuming jobs", || d.records.recover_running_jobs()).await?;
        if recovered > 0 {
            tracing::warn!(jobs = recovered, "resuming jobs a stopped service left unfinished, before new work");
        }
    }
    let grace = Duration::from_secs(first.service.sweep_grace_seconds);
    if role != Role::Api {
        match crate::store::sweep::sweep(&d.records, d.blobs.clone(), grace).await {
            Ok(r) if r.orphans + r.temporaries > 0 => {
                tracing::info!(orphans = r.orphans, temporaries = r.temporaries, "swept")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "orphan sweep failed; will try again later"),
        }
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), d.root.clone());
    pipeline.set_ocr_share(&cfg.profiles);
    // A station alone shows only its own stations' refused files; the case folders are the workers'.
    let station_views = (role == Role::Station).then(|| cfg.profiles.iter().map(|p| p.sha256.clone()).collect());
    let cases = role != Role::Station && cfg.profiles.iter().any(|p| p.settings.output.case_folder_view);
    if role != Role::Api
        && let Err(e) = pipeline.repair_views(cases, station_views.as_deref()).await
    {
        tracing::warn!(error = %e, "could not check the folder views; they will be checked at the next start");
    }
    let replica = match cfg.replica.as_deref().filter(|_| role != Role::Api) {
        Some(url) => {
            let (root, u) = (d.root.join("replica"), url.to_string());
            let store = retry::until_done("opening the replica", || {
                let (root, u) = (root.clone(), u.clone());
                async move {
                    crate::util::cpu::blocking(move || crate::store::open_blobs(&root, Some(&u)))
                        .await
                        .map_err(|e| crate::error::Failure::transient("opening the replica", e))?
                }
            })
            .await?;
            Some((url.trim_end_matches('/').to_string(), store))
        }
        None => None,
    };
    let wake = Arc::new(Notify::new());
    let mut tasks = Tasks::default();
    if role == Role::Api && cfg.listen.is_none() {
        anyhow::bail!("--role api serves HTTP only: give it an address with --listen (or SOHOA_LISTEN)");
    }
    if let Some(addr) = cfg.listen.filter(|_| role.answers()) {
        // Bound before the watchers start, so a taken port is reported at once, not after a scan.
        let listener = crate::api::bind(addr).await?;
        let profile = cfg.profiles.first().cloned().ok_or_else(|| anyhow::anyhow!("no profile to serve"))?;
        let api =
            crate::api::Api::new(d.records.clone(), d.blobs.clone(), profile, d.root.clone(), Some(wake.clone()))?;
        let mut s = stop_rx.clone();
        tracing::info!(address = %addr, "HTTP API listening");
        tasks.spawn("api", async move {
            let stop = async move {
                let _ = s.changed().await;
            };
            if let Err(e) = api.serve(listener, stop).await {
                tracing::error!(alarm = true, error = %e, "the HTTP API stopped");
            }
        });
    }
    let workers = match cfg.workers.unwrap_or(first.service.workers) {
        _ if !role.works() => 0,
        0 => crate::util::cpu::cores() * 2,
        n => n,
    };
    if role.works() {
        let (records, w, s) = (d.records.clone(), wake.clone(), stop_rx.clone());
        tasks.spawn("job notifications", async move { records.relay_job_notifications(w, s).await });
    }
    for n in 0..workers {
        let (p, w, s) = (pipeline.clone(), wake.clone(), stop_rx.clone());
        tasks.spawn(format!("worker {}", n + 1), async move { p.work(Some(w), Until::Stopped(s)).await });
    }

    let (found_tx, found_rx) = mpsc::channel(first.service.queue.max(1));
    let mut capturers = Vec::new();
    let mut statuses = Vec::new();
    for (i, profile) in cfg.profiles.iter().enumerate().filter(|_| role.captures()) {
        let pending = Arc::new(AtomicUsize::new(0));
        let watcher = InboxWatcher::new(&profile.settings, pending.clone())
            .map_err(|e| anyhow::anyhow!("cannot watch {}: {e}", profile.settings.inbox.path.display()))?;
        statuses.push(crate::watch::status::Writer::new(&d.root, profile, watcher.root(), pending));
        let name = format!("watcher {}", profile.settings.inbox.path.display());
        tasks.spawn(name, watcher.run(i, found_tx.clone(), stop_rx.clone()));
        capturers.push(Capturer::new(d.blobs.clone(), d.records.clone(), profile.clone(), None, None)?);
    }
    drop(found_tx);
    let capture = CaptureLoop { found: found_rx, capturers, records: d.records.clone(), wake: wake.clone() };
    if role.captures() {
        tasks.spawn("capture", capture.run(stop_rx.clone()));
    }
    let house = Housekeeper {
        records: d.records.clone(),
        blobs: d.blobs.clone(),
        pipeline: pipeline.clone(),
        wake: wake.clone(),
        idle: cfg
            .profiles
            .iter()
            .filter(|p| {
                // A folder's document, or a stack's last segment (no sheet comes after it), closes on idle.
                let s = &p.settings;
                s.grouping.document == DocumentRule::Folder || s.separators.detect || s.separators.every > 0
            })
            .map(|p| Duration::from_secs(p.settings.grouping.idle_seconds))
            .min(),
        statuses,
        grace,
        data_dir: d.root.clone(),
        station_views,
        replica,
    };
    if role != Role::Api {
        house.spawn(&mut tasks, &stop_rx);
    }
    // Leases are renewed on a task of their own: a housekeeper busy with a long audit check or sweep
    // must not let them expire (another worker would take the jobs over while they run).
    if role.works() {
        let (records, mut s) = (d.records.clone(), stop_rx.clone());
        tasks.spawn("heartbeat", async move {
            while housekeeper::wait(crate::pipeline::HEARTBEAT, &mut s).await {
                if let Err(e) = records.heartbeat().await {
                    tracing::warn!(error = %e, "could not renew job leases; will retry");
                }
            }
        });
    }

    // Delivery to the one-stop system: with the workers, from the outbox the records keep.
    match crate::deliver::connector_of(&cfg.profiles)? {
        Some(connector) if role.works() => {
            // Opened in its own task: a share or receiver that is not there yet delays delivery, never
            // the service's start or a stop asked for meanwhile.
            let (records, blobs, stop) = (d.records.clone(), d.blobs.clone(), stop_rx.clone());
            let conn = connector.clone();
            tasks.spawn("sender", async move {
                let open = || crate::deliver::Sender::open(records.clone(), blobs.clone(), &conn);
                let mut stopping = stop.clone();
                let opened = tokio::select! {
                    s = retry::until_done("opening the connector", open) => s,
                    _ = stopping.wait_for(|s| *s) => return,
                };
                match opened {
                    Ok(sender) => {
                        tracing::info!(kind = ?conn.kind, "delivering attached documents to the one-stop system");
                        sender.run(stop).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "the [connector] cannot be opened; fix the profile and restart")
                    }
                }
            });
            if let Some(puller) = crate::deliver::pull::Puller::new(&connector, &first.routing, &d.root)? {
                tasks.spawn("pull", puller.run(d.records.clone(), stop_rx.clone()));
            }
        }
        Some(_) => {}
        None if role.works() => match d.records.outbox_counts().await {
            Ok(c) if c.pending > 0 => tracing::info!(
                pending = c.pending,
                "no [connector] in the profiles: attached documents wait in the outbox until one is set"
            ),
            _ => {}
        },
        None => {}
    }

    let stations = if role.captures() { cfg.profiles.len() } else { 0 };
    tracing::info!(role = ?role, stations, workers, data = %d.root.display(), "sohoa is serving; Ctrl-C to stop");
    let ended = tokio::select! {
        _ = &mut stop => None,
        ended = tasks.first_to_end() => Some(ended),
    };
    match &ended {
        None => tracing::info!("stopping: no new file or job is taken; the jobs in hand finish"),
        Some(e) => {
            crate::util::alarm::raise("service", format!("{e}; dịch vụ dừng"), format!("{e}; the service stops"));
            tracing::error!(alarm = true, "{e}; stopping the service so that it is restarted whole");
        }
    }
    let _ = stop_tx.send(true);
    if tokio::time::timeout(STOP_GRACE, tasks.join_all()).await.is_err() {
        // Not a crash: the jobs go back as they are, so a clean stop never counts towards a poison job.
        pipeline.release_in_hand().await;
        tracing::warn!("work in hand did not finish in 5 s; it is recorded and resumes at the next start");
    }
    match d.records.unfinished_jobs().await {
        Ok(0) => tracing::info!("stopped; no job is waiting"),
        Ok(n) => tracing::info!(jobs = n, "stopped; the jobs waiting are recorded and run at the next start"),
        Err(_) => tracing::info!("stopped"),
    }
    match ended {
        None => Ok(()),
        Some(e) => Err(anyhow::anyhow!("{e}; the service stopped (the log above says why)")),
    }
}
