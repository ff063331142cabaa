//! The jobs that turn captured inputs into attached documents, and the workers that run them.
//!
//! Three job kinds, all deterministic functions of stored bytes and the profile recorded with them:
//! - `split` reads one input, finds its pages, routes each page to a case (or unfiled) and records
//!   them; the database then files pages into documents strictly in capture order;
//! - `render` writes one document's PDF into the blob store and attaches it;
//! - `ocr` (when the profile's `[ocr]` wants the document) reads an attached PDF's text and adds it
//!   as an invisible layer in a new version, claimed only when nothing else waits.
//!
//! A job that fails for a bad input quarantines it; a job that fails for the weather goes back to the
//! queue with back-off and an alarm. A crash mid-job leaves it `running`; recovery puts it back.

pub mod correct;
mod ocr;
mod place;
mod quarantine;
mod render;
mod split;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::Instrument;

use crate::error::{Code, Failure, Result};
use crate::profile::Profile;
use crate::route::Router;
use crate::store::jobs::{Job, JobKind};
use crate::store::records::IntakeRow;
use crate::store::{BlobStore, Records};
use crate::util::retry::{self, backoff};
use crate::view::Views;

/// A profile as jobs use it.
pub(crate) struct Loaded {
    pub profile: Profile,
    pub router: Router,
    pub offset: ::time::UtcOffset,
}

/// Runs jobs against one data directory.
#[derive(Clone)]
pub struct Pipeline {
    records: Records,
    blobs: Arc<dyn BlobStore>,
    views: Views,
    profiles: Arc<Mutex<HashMap<String, Arc<Loaded>>>>,
    in_hand: Arc<Mutex<std::collections::HashSet<String>>>,
    suspects: Arc<Mutex<(std::time::Instant, std::collections::HashSet<String>)>>,
    last_heartbeat: Arc<Mutex<std::time::Instant>>,
    /// Set when the process is stopping: a job claimed from then on goes straight back to the queue.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    /// A job that was running when the process died before (a suspect) runs alone in this process: if
    /// it stops the process again, no innocent job beside it is counted with it.
    alone: Arc<tokio::sync::RwLock<()>>,
    /// OCR jobs this process may run at once (`ocr.cores` of the cores), and how many it runs.
    ocr_slots: Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>,
}

/// An OCR job's place among the few this process may run at once, given back when dropped.
struct OcrSlot(Option<Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>>);

impl OcrSlot {
    /// Takes a place when one is free.
    fn take(slots: &Arc<(std::sync::atomic::AtomicUsize, std::sync::atomic::AtomicUsize)>) -> OcrSlot {
        use std::sync::atomic::Ordering::SeqCst;
        let (cap, running) = (&slots.0, &slots.1);
        let taken = running.fetch_update(SeqCst, SeqCst, |n| (n < cap.load(SeqCst)).then_some(n + 1)).is_ok();
        OcrSlot(taken.then(|| slots.clone()))
    }

    fn held(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for OcrSlot {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.1.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// How often a worker renews the leases of the jobs it runs (a lease lasts `jobs::LEASE`).
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// When a worker stops.
#[derive(Debug, Clone)]
pub enum Until {
    /// When the service's stop signal turns true (`serve`).
    Stopped(tokio::sync::watch::Receiver<bool>),
    /// When no more work will be queued (the flag turns false) and none is left unfinished (`ingest`).
    Drained(Arc<std::sync::atomic::AtomicBool>),
}

/// What one job did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// A job completed (including quarantining its input).
    Done,
    /// The job failed transiently and was re-queued.
    Retrying,
}

impl Pipeline {
    /// A pipeline over a records store and a blob store, with folder views under `data_dir`.
    pub fn new(records: Records, blobs: Arc<dyn BlobStore>, data_dir: PathBuf) -> Pipeline {
        let views = Views::new(data_dir);
        Pipeline {
            records,
            blobs,
            views,
            profiles: Arc::new(Mutex::new(HashMap::new())),
            in_hand: Arc::new(Mutex::new(std::collections::HashSet::new())),
            suspects: Arc::new(Mutex::new((std::time::Instant::now(), std::collections::HashSet::new()))),
            last_heartbeat: Arc::new(Mutex::new(std::time::Instant::now())),
            stopping: Arc::new(std::sync::atomic::AtomicBool::new(false)),
            alone: Arc::new(tokio::sync::RwLock::new(())),
            ocr_slots: Arc::new((
                std::sync::atomic::AtomicUsize::new(crate::profile::Ocr::default().jobs_at_once(cores())),
                std::sync::atomic::AtomicUsize::new(0),
            )),
        }
    }

    /// Holds text recognition back (`ingest` times the attach path on its own, then lets OCR run):
    /// no OCR job is claimed, and a draining worker stops without waiting for them.
    pub fn pause_ocr(&self) {
        self.ocr_slots.0.store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Jobs left for this process to wait for: OCR jobs only while OCR is not held back.
    async fn unfinished(&self) -> Result<i64> {
        let all = self.records.unfinished_jobs().await?;
        if self.ocr_slots.0.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            return Ok(all);
        }
        Ok(all - self.records.unfinished_of(JobKind::Ocr).await?)
    }

    /// Sets how many OCR jobs this process runs at once, from the profiles it serves (the largest
    /// share among those that turn OCR on).
    pub fn set_ocr_share(&self, profiles: &[Profile]) {
        let at_once = profiles
            .iter()
            .filter(|p| p.settings.ocr.enabled)
            .map(|p| p.settings.ocr.jobs_at_once(cores()))
            .max()
            .unwrap_or(1);
        self.ocr_slots.0.store(at_once, std::sync::atomic::Ordering::SeqCst);
    }

    /// The records store.
    pub fn records(&self) -> &Records {
        &self.records
    }

    async fn loaded(&self, sha256: &str) -> Result<Arc<Loaded>> {
        if let Some(l) = self.profiles.lock().ok().and_then(|m| m.get(sha256).cloned()) {
            return Ok(l);
        }
        let Some(text) = self.records.profile_text(sha256).await? else {
            return Err(Failure::transient(
                "loading a job's profile",
                anyhow::anyhow!("profile {sha256} is not recorded"),
            ));
        };
        let profile = Profile::parse(&text).map_err(|e| {
            Failure::transient("loading a job's profile", anyhow::anyhow!("recorded profile is invalid: {e:?}"))
        })?;
        let router = Router::new(&profile.settings)?;
        let offset =
            crate::util::time::parse_offset(&profile.settings.station.utc_offset).unwrap_or(::time::UtcOffset::UTC);
        let l = Arc::new(Loaded { profile, router, offset });
        if let Ok(mut m) = self.profiles.lock() {
            m.insert(sha256.to_string(), l.clone());
        }
        Ok(l)
    }

    /// Fills in why each unfiled page found no case, by the routing rules of the profile it was
    /// captured under.
    pub async fn explain_unfiled(&self, pages: &mut [crate::store::queries::UnfiledPage]) {
        for p in pages {
            let hints: crate::route::Hints = serde_json::from_str(&p.hints).unwrap_or_default();
            if let Ok(l) = self.loaded(&p.profile_sha256).await {
                let said = l.router.why_unfiled(&hints, &p.route_key);
                (p.why, p.why_vi) = (Some(said.en), Some(said.vi));
            }
        }
    }

    /// Shows an attached PDF in its case folder. Views are files, written on the blocking pool: a slow
    /// or stalled disk never holds up the runtime.
    async fn show_attached(&self, case: &str, name: &str, sha256: &str) {
        let (views, blobs) = (self.views.clone(), self.blobs.clone());
        let (case, name, sha) = (case.to_string(), name.to_string(), sha256.to_string());
        let _ = crate::util::cpu::blocking(move || views.attached(blobs.as_ref(), &case, &name, &sha)).await;
    }

    /// Shows a quarantined input with its `.error.json`, on the blocking pool like every view.
    async fn show_quarantined(&self, intake: &IntakeRow, code: Code, reason: &str, dir: Option<PathBuf>) {
        let (views, blobs, intake, reason) =
            (self.views.clone(), self.blobs.clone(), intake.clone(), reason.to_string());
        let _ = crate::util::cpu::blocking(move || {
            views.quarantined(blobs.as_ref(), &intake, code, &reason, dir.as_deref())
        })
        .await;
    }

    /// Rewrites folder views a crash kept from being written (between a commit and its view); the case
    /// folders only when `cases` (a profile in use shows them). Views already there are left alone, so
    /// this is cheap to run at every start. `only` limits the quarantine views to inputs captured under
    /// these profiles (a station alone shows its own refused files, not those of every station sharing
    /// the database) and also takes away the views of inputs a clerk has since retried or discarded
    /// elsewhere (the station did not see it done).
    pub async fn repair_views(&self, cases: bool, only: Option<&[String]>) -> Result<()> {
        if cases {
            for (case, name, sha) in self.records.attached_documents().await? {
                self.show_attached(&case, &name, &sha).await;
            }
        }
        let quarantined = self.records.quarantined_intakes().await?;
        let current: std::collections::HashSet<String> = quarantined.iter().map(|(i, _, _)| i.id.clone()).collect();
        for (intake, code, reason) in
            quarantined.into_iter().filter(|(i, _, _)| only.is_none_or(|o| o.contains(&i.profile_sha256)))
        {
            let dir = self.quarantine_dir(&intake.profile_sha256).await;
            self.show_quarantined(&intake, code, &reason, dir).await;
        }
        for profile in only.unwrap_or_default() {
            let dir = self.quarantine_dir(profile).await;
            let (views, d) = (self.views.clone(), dir.clone());
            let shown = crate::util::cpu::blocking(move || views.quarantine_views(d.as_deref()))
                .await
                .map_err(|e| crate::error::Failure::transient("listing the quarantine folder", e))?;
            for id in shown.into_iter().filter(|id| !current.contains(id)) {
                if let Some(intake) = self.records.intake(&id).await? {
                    let (views, d) = (self.views.clone(), dir.clone());
                    let _ = crate::util::cpu::blocking(move || views.unquarantined(&intake, d.as_deref())).await;
                }
            }
        }
        Ok(())
    }

    /// One worker: claims and runs jobs until `until` says stop. The one claim loop of the service and
    /// of `ingest`: a job done asks for the next at once; nothing runnable waits for a wake-up (a
    /// capture or a clerk's change) or the idle tick; a claim that fails (the database away) waits with
    /// back-off, 250 ms doubling to 30 s, so an outage is one alarm line per wait, not a flood.
    pub async fn work(&self, wake: Option<Arc<tokio::sync::Notify>>, until: Until) {
        let idle = match until {
            Until::Stopped(_) => Duration::from_millis(250),
            Until::Drained(_) => Duration::from_millis(20),
        };
        let mut failed = 0u32;
        loop {
            if let Until::Stopped(s) = &until
                && *s.borrow()
            {
                return;
            }
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            let wait = match self.run_one().await {
                Ok(Some(_)) => {
                    failed = 0;
                    continue;
                }
                Ok(None) => {
                    failed = 0;
                    if let Until::Drained(more) = &until {
                        let more = more.load(std::sync::atomic::Ordering::SeqCst);
                        if !more {
                            if self.unfinished().await.unwrap_or(1) == 0 {
                                return;
                            }
                            let _ = self.requeue_abandoned().await;
                        }
                    }
                    idle
                }
                Err(e) => {
                    failed = failed.saturating_add(1);
                    let wait = backoff(failed);
                    tracing::error!(
                        alarm = true, error = %e, retry_in_ms = wait.as_millis() as u64, "cannot claim a job"
                    );
                    wait
                }
            };
            let woken = async {
                match &wake {
                    Some(w) => w.notified().await,
                    None => std::future::pending().await,
                }
            };
            let mut stop = match &until {
                Until::Stopped(s) => Some(s.clone()),
                Until::Drained(_) => None,
            };
            let stopped = async {
                match stop.as_mut() {
                    Some(s) => {
                        let _ = s.changed().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = woken, if failed == 0 => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stopped => {}
            }
        }
    }

    /// Claims and runs one job; `None` when nothing is runnable now. The job runs as a task of its
    /// own, so that a panic in it (a bug an input set off) is caught here: logged, alarmed and the job
    /// retried with back-off like a transient failure, while the worker goes on.
    pub async fn run_one(&self) -> Result<Option<Ran>> {
        let slot = OcrSlot::take(&self.ocr_slots);
        let Some(job) = self.records.claim_job(slot.held()).await? else { return Ok(None) };
        // The place is kept only by an OCR job, for as long as it runs.
        let _slot = if job.kind == JobKind::Ocr { Some(slot) } else { None };
        let span = tracing::info_span!("job", kind = %job.kind, subject = %job.subject, attempt = job.attempts);
        let (id, kind, attempts) = (job.id.clone(), job.kind, job.attempts);
        // Under the lock `release_in_hand` takes: a job is either in hand when it snapshots, or claimed
        // after the stop began and put back here.
        let stopping = {
            let mut h = self.in_hand.lock().unwrap_or_else(|e| e.into_inner());
            let stopping = self.stopping.load(std::sync::atomic::Ordering::SeqCst);
            if !stopping {
                h.insert(id.clone());
            }
            stopping
        };
        if stopping {
            self.records.requeue(&id).await?;
            return Ok(None);
        }
        // Suspects alone, everything else side by side.
        let (_alone, _beside) = if job.crashes > 0 {
            (Some(self.alone.write().await), None)
        } else {
            (None, Some(self.alone.read().await))
        };
        let r = if self.is_poison(&job).await {
            self.set_aside(&job).instrument(span).await.map(|()| Some(Ran::Done))
        } else {
            let me = self.clone();
            match tokio::spawn(async move { me.run_job(job).await }.instrument(span)).await {
                Ok(r) => r.map(Some),
                Err(e) => {
                    let what = format!("panicked: {}", crate::util::panic::of_join_error(e));
                    self.retry_later(&id, kind, attempts, &what, true).await.map(Some)
                }
            }
        };
        if let Ok(mut h) = self.in_hand.lock() {
            h.remove(&id);
        }
        r
    }

    /// Puts back in the queue jobs recorded as running that no worker of this process has had in hand
    /// at two checks in a row (a worker that died mid-job). Only for a database this process alone works
    /// on (the embedded SQLite); call it about once a second.
    pub async fn requeue_abandoned(&self) -> Result<u64> {
        let due = self.suspects.lock().map(|s| s.0.elapsed() >= Duration::from_secs(1)).unwrap_or(false);
        if !due {
            return Ok(0);
        }
        // Renew this worker's leases now and then (a lease lasts minutes) while looking for jobs nobody holds.
        let beat = self.last_heartbeat.lock().map(|t| t.elapsed() >= HEARTBEAT).unwrap_or(true);
        if beat {
            self.records.heartbeat().await?;
            if let Ok(mut t) = self.last_heartbeat.lock() {
                *t = std::time::Instant::now();
            }
        }
        let running = self.records.running_jobs().await?;
        let in_hand = self.in_hand.lock().map(|h| h.clone()).unwrap_or_default();
        let now: std::collections::HashSet<String> = running.into_iter().filter(|id| !in_hand.contains(id)).collect();
        let before = self
            .suspects
            .lock()
            .map(|mut s| std::mem::replace(&mut *s, (std::time::Instant::now(), now.clone())).1)
            .unwrap_or_default();
        let mut n = 0;
        for id in now.intersection(&before) {
            n += self.records.requeue(id).await?;
        }
        if n > 0 {
            tracing::warn!(jobs = n, "re-queued jobs no worker had in hand");
        }
        Ok(n)
    }

    async fn run_job(&self, job: Job) -> Result<Ran> {
        let started = std::time::Instant::now();
        let result = match job.kind {
            JobKind::Split => self.split(&job).await,
            JobKind::Render => self.render(&job).await,
            JobKind::Ocr => self.ocr(&job).await,
        };
        match result {
            Ok(()) => {
                crate::util::alarm::cleared(&format!("job {}", job.kind));
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "job done");
                Ok(Ran::Done)
            }
            // The input was read at split, yet a page of it cannot be made after all: trying again
            // cannot help, and would try for ever.
            Err(e @ Failure::BadInput { code, .. }) => {
                let vi = format!("không xử lý được tệp đầu vào: {}", crate::error::explained(code).vi);
                let en = format!("its input cannot be processed: {e}; it is set aside so that the service goes on");
                self.set_aside_because(&job, vi, en).await.map(|()| Ran::Done)
            }
            Err(e) => self.retry_later(&job.id, job.kind, job.attempts, &e.to_string(), false).await,
        }
    }

    /// Sends a job that failed for a reason outside its input back to the queue, with back-off by its
    /// attempts, and raises the alarm; `crashed` when it panicked (towards a poison job).
    async fn retry_later(&self, id: &str, kind: JobKind, attempts: i64, error: &str, crashed: bool) -> Result<Ran> {
        let wait = backoff(attempts as u32);
        crate::util::alarm::raise(
            &format!("job {kind}"),
            format!("việc {kind} lỗi, sẽ thử lại: {error}"),
            format!("{kind} job: {error}"),
        );
        tracing::error!(
            alarm = true, error = %error, retry_in_ms = wait.as_millis() as u64,
            "job failed for a reason outside the input; it will be retried"
        );
        // The same weather may be in the way of this write: it is retried until it lands, or the job
        // would stay `running` — claimed by nobody — until the next start.
        retry::until_done("re-queueing a job", || self.records.retry_later(id, wait, error, crashed)).await?;
        Ok(Ran::Retrying)
    }

    /// Whether a job stopped the service (or panicked) as often as its profile's `service.poison_after`.
    async fn is_poison(&self, job: &Job) -> bool {
        // Text is read by child processes (Tesseract, pdftoppm), which cannot take the service down
        // with them: a service that died during an OCR job was killed, not by the job, and setting
        // the job aside would leave its document without text for good, silently. A panic in it is
        // retried with back-off and alarmed like any transient failure.
        if job.crashes == 0 || job.kind == JobKind::Ocr {
            return false;
        }
        match self.loaded(&job.profile_sha256).await {
            Ok(l) => {
                let after = i64::from(l.profile.settings.service.poison_after);
                after > 0 && job.crashes >= after
            }
            Err(_) => false,
        }
    }

    /// A poison job: it was running each of the last `service.poison_after` times the service stopped
    /// (or it panicked). Running it a third time would most likely stop the service again, so its input is
    /// quarantined (a split) or its document set aside with an event on the case (a render) — said in
    /// the record, alarmed, never retried automatically.
    async fn set_aside(&self, job: &Job) -> Result<()> {
        let reason = format!(
            "processing it stopped the service {} times (last error: {}); it is set aside so that the service \
             goes on",
            job.crashes,
            self.records.last_error(&job.id).await?.unwrap_or_else(|| "none recorded".into())
        );
        let vi = format!("đã làm dịch vụ dừng {} lần", job.crashes);
        self.set_aside_because(job, vi, reason).await
    }

    /// Sets a job aside for `reason` (`vi` the same for the station officer): its input quarantined (a split) or its document left unrendered
    /// with an event on the case (a render), alarmed, never retried automatically.
    async fn set_aside_because(&self, job: &Job, vi: String, reason: String) -> Result<()> {
        crate::util::alarm::raise(
            &format!("set aside {}", job.id),
            format!("việc {} {} bị tạm gác: {vi}", job.kind, job.subject),
            format!("{} job {} set aside: {reason}", job.kind, job.subject),
        );
        tracing::error!(alarm = true, kind = %job.kind, subject = %job.subject, reason = %reason, "job set aside");
        let l = self.loaded(&job.profile_sha256).await?;
        let now = crate::util::time::now_iso(l.offset);
        match job.kind {
            JobKind::Split => {
                let outcome = crate::store::assembly::SplitOutcome::Quarantined { code: Code::Crashed, reason };
                let close_each = l.profile.settings.grouping.document == crate::profile::DocumentRule::File;
                self.records.finish_split(&job.id, &job.subject, &outcome, &now, close_each).await?;
                if let (Some(intake), crate::store::assembly::SplitOutcome::Quarantined { code, reason }) =
                    (self.records.intake(&job.subject).await?, &outcome)
                {
                    let dir = l.profile.settings.quarantine.path.clone();
                    self.show_quarantined(&intake, *code, reason, dir).await;
                }
                Ok(())
            }
            JobKind::Render => self.records.set_aside(&job.id, &job.subject, &reason, &vi, &now).await,
            // The document stays attached as it was, without text; the reason stays on the job.
            JobKind::Ocr => self.records.skip_job(&job.id, &reason).await,
        }
    }

    /// Puts the jobs this process has in hand back in the queue as they are, at a clean stop: they did
    /// not stop the service, so they count no crash.
    pub async fn release_in_hand(&self) {
        {
            let _h = self.in_hand.lock().unwrap_or_else(|e| e.into_inner());
            self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        // A claim already on its way to the database puts its job back itself (`run_one`); give it the
        // moment it needs before the process ends.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let ids: Vec<String> = self.in_hand.lock().map(|h| h.iter().cloned().collect()).unwrap_or_default();
        for id in ids {
            if let Err(e) = self.records.requeue(&id).await {
                tracing::warn!(job = %id, error = %e, "could not put a job back; the next start resumes it");
            }
        }
    }

    /// Runs jobs until none is left unfinished and `more_coming` says no more will be queued.
    pub async fn drain(&self, workers: usize, more_coming: Arc<std::sync::atomic::AtomicBool>) -> Result<()> {
        let mut handles = Vec::new();
        for _ in 0..workers.max(1) {
            let p = self.clone();
            let until = Until::Drained(more_coming.clone());
            handles.push(tokio::spawn(async move { p.work(None, until).await }));
        }
        for h in handles {
            h.await.map_err(|e| Failure::transient("worker", e))?;
        }
        Ok(())
    }
}
