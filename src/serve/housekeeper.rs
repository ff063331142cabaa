//! The housekeeper: the periodic chores of the service, each on a task of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::pipeline::Pipeline;
use crate::store::{BlobStore, Records};
use crate::util::time;
use crate::watch::status;

use super::Tasks;

/// How often the service walks the audit log's hash chain and records a new anchor.
const AUDIT_CHECK_EVERY: Duration = Duration::from_secs(3600);
/// The first chain check, after start: not at once, so a restart loop does not walk the log each time.
const AUDIT_FIRST_CHECK: Duration = Duration::from_secs(60);

/// Closes documents whose folder went quiet, puts back jobs no worker holds, writes each station's
/// status file, checks and anchors the audit log every hour, and sweeps orphaned blobs. Every chore
/// that fails is logged and tried again at the next tick; none stops the service.
pub struct Housekeeper {
    /// The records.
    pub records: Records,
    /// The blob store, for the orphan sweep.
    pub blobs: Arc<dyn BlobStore>,
    /// The workers' pipeline: its record of jobs in hand tells abandoned jobs from running ones.
    pub pipeline: Pipeline,
    /// Notified when documents close, so their PDFs are rendered at once.
    pub wake: Arc<Notify>,
    /// How long a folder's document may sit without a new page before it closes; `None` when no
    /// station groups by folder.
    pub idle: Option<Duration>,
    /// One status file per station.
    pub statuses: Vec<status::Writer>,
    /// How old an unreferenced blob or temporary must be before the sweep removes it.
    pub grace: Duration,
    /// The data folder, where the audit log's anchors are written.
    pub data_dir: PathBuf,
    /// On a station alone (`--role station`): its profiles. The files its workers refuse are shown in
    /// its quarantine folder from the records, every few seconds, since a worker on another machine
    /// cannot write there.
    pub station_views: Option<Vec<String>>,
    /// A second store kept in step with the records (`serve --replica`): its address and the store.
    pub replica: Option<(String, Arc<dyn BlobStore>)>,
}

/// How often the replica is brought up to the records.
const REPLICA_EVERY: Duration = Duration::from_secs(5);

/// How often a station alone brings its quarantine views up to date from the records.
const STATION_VIEWS_EVERY: Duration = Duration::from_secs(5);

impl Housekeeper {
    /// Starts the chores, each on a named task of its own: one that takes long — a replica catching
    /// up on thousands of files, the hourly audit check, a sweep of a large bucket — never holds back
    /// another, above all putting back the jobs of a worker that died and showing a station its
    /// refused files.
    pub fn spawn(self, tasks: &mut Tasks, stop: &watch::Receiver<bool>) {
        let me = Arc::new(self);
        tasks.spawn("housekeeper", me.clone().every_second(stop.clone()));
        if let Some(only) = me.station_views.clone() {
            tasks.spawn("station views", me.clone().station_views(only, stop.clone()));
        }
        if me.replica.is_some() {
            tasks.spawn("replica", me.clone().follow_replica(stop.clone()));
        }
        tasks.spawn("audit and sweep", me.audit_and_sweep(stop.clone()));
    }

    /// Closes idle documents, puts back abandoned jobs and writes the status files, once a second.
    async fn every_second(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while wait(Duration::from_secs(1), &mut stop).await {
            self.close_idle().await;
            if let Err(e) = self.pipeline.requeue_abandoned().await {
                tracing::warn!(error = %e, "could not check for abandoned jobs; will retry");
            }
            let jobs = self.records.unfinished_jobs().await.ok();
            let ocr = self.records.unfinished_of(crate::store::jobs::JobKind::Ocr).await.ok();
            for st in &self.statuses {
                st.write(jobs, ocr);
            }
        }
        for st in &self.statuses {
            st.write_stopped();
        }
    }

    /// On a station alone: brings its quarantine views up to date from the records.
    async fn station_views(self: Arc<Self>, only: Vec<String>, mut stop: watch::Receiver<bool>) {
        while wait(STATION_VIEWS_EVERY, &mut stop).await {
            if let Err(e) = self.pipeline.repair_views(false, Some(&only)).await {
                tracing::warn!(error = %e, "could not bring the quarantine views up to date; will retry");
            }
        }
    }

    /// Brings the second store (`serve --replica`) up to the records.
    async fn follow_replica(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let Some((target, replica)) = &self.replica else { return };
        while wait(REPLICA_EVERY, &mut stop).await {
            match crate::store::replica::follow(&self.records, self.blobs.clone(), replica.clone(), target).await {
                Ok(r) if r.copied > 0 => {
                    tracing::info!(replica = %target, copied = r.copied, bytes = r.bytes, "replica brought up to the records")
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(replica = %target, error = %e, "could not bring the replica up to the records; will retry")
                }
            }
        }
    }

    /// Checks and anchors the audit log every hour and sweeps orphaned blobs once per grace period.
    async fn audit_and_sweep(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut last_sweep = Instant::now();
        let mut next_chain = Instant::now() + AUDIT_FIRST_CHECK;
        while wait(Duration::from_secs(1), &mut stop).await {
            if Instant::now() >= next_chain {
                next_chain = Instant::now() + AUDIT_CHECK_EVERY;
                self.check_audit_log().await;
            }
            if last_sweep.elapsed() >= self.grace.max(Duration::from_secs(60)) {
                last_sweep = Instant::now();
                if let Err(e) = crate::store::sweep::sweep(&self.records, self.blobs.clone(), self.grace).await {
                    tracing::warn!(error = %e, "orphan sweep failed; will try again later");
                }
            }
        }
    }

    async fn close_idle(&self) {
        let Some(idle) = self.idle else { return };
        match self.records.close_idle_documents(idle, &time::now_iso(::time::UtcOffset::UTC)).await {
            Ok(n) if n > 0 => self.wake.notify_waiters(),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "closing idle documents failed; will retry"),
        }
    }

    /// Walks the audit log's chain and anchors it, so events cannot be removed unseen for long.
    async fn check_audit_log(&self) {
        match crate::fixity::check_and_anchor_events(&self.records, &self.data_dir, "sohoa").await {
            Ok((_, problems, _)) if !problems.is_empty() => {
                for p in &problems {
                    if let crate::fixity::Problem::EventChain { what, .. } = p {
                        crate::util::alarm::raise(
                            "audit log",
                            format!("nhật ký kiểm toán bị thay đổi: {what}"),
                            format!("audit log: {what}"),
                        );
                        tracing::error!(alarm = true, "audit log: {what}; `sohoa verify --events` shows it");
                    }
                }
            }
            Ok((chain, _, anchor)) => {
                tracing::info!(events = chain.events, anchor = ?anchor.map(|a| a.0), "audit log checked: intact")
            }
            Err(e) => tracing::warn!(error = %e, "could not check the audit log; will try again"),
        }
    }
}

/// Sleeps `period`; false when the stop signal came first (or its sender is gone).
pub(super) async fn wait(period: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(period) => !*stop.borrow(),
        r = stop.changed() => r.is_ok() && !*stop.borrow(),
    }
}
