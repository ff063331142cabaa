//! The job queue: claiming the next runnable job, leases renewed by heartbeats, back-off after a
//! transient failure, and recovery of jobs a dead worker left `running`.
//!
//! Every job is an idempotent function of stored bytes whose result commits in one transaction, so a
//! job run twice (a lease that expired under a slow worker, a crash before the commit) does no harm.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::Records;
use super::db::{Tx, on_pool, on_tx};
use super::records::{now_ms, worker_name};

use crate::error::{Failure, Result};

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job id.
    pub id: String,
    /// What to do.
    pub kind: JobKind,
    /// Intake id (split) or document id (render).
    pub subject: String,
    /// How many times it was claimed, this time included.
    pub attempts: i64,
    /// The profile it was queued under.
    pub profile_sha256: String,
    /// How many times it was running when its process died or it panicked.
    pub crashes: i64,
}

stored_words! {
    /// The kinds of job this version runs. A job row of any other kind (written by a newer version
    /// sharing the database) is never claimed here: it waits for a worker that knows it, instead of
    /// failing for ever in one that does not.
    pub enum JobKind {
        /// Read a captured input, split it into pages and route each page.
        Split = "split",
        /// Build a document's PDF from its pages.
        Render = "render",
        /// Recognise an attached document's text: a new version of its PDF with a text layer, and its
        /// pages' text for search. Claimed after every other kind, and only as many at once as the
        /// profile's share of the cores allows.
        Ocr = "ocr",
    }
}

/// How long a running job's lease lasts without a heartbeat before another worker may take it.
/// Long enough for a few missed heartbeats (`pipeline::HEARTBEAT`), short enough that a worker killed on
/// another machine holds up its jobs for under a minute.
pub const LEASE: Duration = Duration::from_secs(45);

impl Records {
    /// Wakes `wake` whenever a job turns pending in the database — whichever process queued it — until
    /// `stop`: PostgreSQL's LISTEN/NOTIFY (migration 0009), so workers on other machines start at once
    /// instead of at their next poll. The poll stays the fallback: a lost connection is retried every
    /// few seconds, with a wake-up after each reconnection in case a notification fell in between. On
    /// SQLite every writer is in this process, which wakes its workers itself: this only waits.
    pub async fn relay_job_notifications(&self, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        let super::db::Pool::Postgres(pool) = self.pool() else {
            let _ = stop.changed().await;
            return;
        };
        loop {
            tokio::select! {
                Err(e) = relay(pool, &wake) => {
                    tracing::warn!(error = %e, "job notifications are not arriving; polling until they do");
                }
                _ = stop.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Names this process in job leases (the service calls it with the data folder).
    pub fn set_worker(&mut self, place: &str) {
        self.worker = worker_name(place);
    }

    /// Puts back in the queue, one crash more, the jobs a dead process of this host and data folder
    /// left `running` (at once), and those whose lease expired (a worker elsewhere that died). A live
    /// neighbour's jobs (an `ingest` beside a `serve` on the same folder) are left to it. Safe because
    /// every job is an idempotent function of stored bytes and its commit is one transaction.
    pub async fn recover_running_jobs(&self) -> Result<u64> {
        let mut w = self.jobs.autocommit().await?;
        let workers: Vec<String> = on_tx!(&mut w, |c| sqlx::query_scalar(
            "SELECT DISTINCT worker FROM jobs WHERE state = 'running' AND worker IS NOT NULL"
        )
        .fetch_all(&mut *c)
        .await?);
        let mut r = on_tx!(&mut w, |c| sqlx::query(
            "UPDATE jobs SET state = 'pending', crashes = crashes + 1 \
             WHERE state = 'running' AND (worker IS NULL OR heartbeat_ms < $1)",
        )
        .bind(now_ms() - LEASE.as_millis() as i64)
        .execute(&mut *c)
        .await?
        .rows_affected());
        for dead in workers.iter().filter(|name| is_dead_neighbour(&self.worker, name)) {
            r += on_tx!(&mut w, |c| sqlx::query(
                "UPDATE jobs SET state = 'pending', crashes = crashes + 1 WHERE state = 'running' AND worker = $1",
            )
            .bind(dead)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        Ok(r)
    }

    /// Ids of running jobs this worker holds, or whose lease expired.
    pub async fn running_jobs(&self) -> Result<Vec<String>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT id FROM jobs WHERE state = 'running' AND (worker IS NULL OR worker = $1 OR heartbeat_ms < $2)"
        )
        .bind(&*self.worker)
        .bind(now_ms() - LEASE.as_millis() as i64)
        .fetch_all(p)
        .await?))
    }

    /// Renews the leases of this worker's running jobs.
    pub async fn heartbeat(&self) -> Result<()> {
        let mut w = self.jobs.autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query("UPDATE jobs SET heartbeat_ms = $1 WHERE state = 'running' AND worker = $2")
            .bind(now_ms())
            .bind(&*self.worker)
            .execute(&mut *c)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Puts one running job back in the queue; 0 when it was not running any more.
    pub async fn requeue(&self, job_id: &str) -> Result<u64> {
        let mut w = self.jobs.autocommit().await?;
        let r =
            on_tx!(&mut w, |c| sqlx::query("UPDATE jobs SET state = 'pending' WHERE id = $1 AND state = 'running'")
                .bind(job_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
        Ok(r)
    }

    /// Claims the next runnable job: documents to render first, then inputs to split, oldest input
    /// first, and text to recognise only when nothing else is runnable and `ocr` allows one more.
    pub async fn claim_job(&self, ocr: bool) -> Result<Option<Job>> {
        // PostgreSQL: workers on several machines claim at once; SKIP LOCKED hands each a different job.
        // SQLite: one writer at a time, so the plain sub-select is already exclusive.
        const CLAIM: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, heartbeat_ms = $1, \
               worker = $2 WHERE id = (\
               SELECT id FROM jobs WHERE state = 'pending' AND not_before_ms <= $1 \
               AND kind IN ({KINDS}) ORDER BY kind = 'ocr', kind = 'render' DESC, seq LIMIT 1";
        const RETURNING: &str = ") RETURNING id, kind, subject, attempts, profile_sha256, crashes";
        type Claimed = (String, String, String, i64, String, i64);
        let lock = if self.jobs.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let kinds: Vec<String> =
            JobKind::ALL.iter().filter(|k| ocr || **k != JobKind::Ocr).map(|k| format!("'{}'", k.as_str())).collect();
        let sql = format!("{CLAIM}{lock}{RETURNING}").replace("{KINDS}", &kinds.join(", "));
        let mut w = self.jobs.autocommit().await?;
        let row: Option<Claimed> = on_tx!(&mut w, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now_ms())
            .bind(&*self.worker)
            .fetch_optional(&mut *c)
            .await?);
        let Some((id, kind, subject, attempts, profile_sha256, crashes)) = row else { return Ok(None) };
        // The claim's filter names exactly `JobKind::ALL`, so this is a corrupted row, not a new kind.
        let kind = JobKind::parse(&kind).ok_or_else(|| {
            Failure::transient("claiming a job", anyhow::anyhow!("claimed job {id} of unknown kind `{kind}`"))
        })?;
        Ok(Some(Job { id, kind, subject, attempts, profile_sha256, crashes }))
    }

    /// The last error recorded for a job.
    pub async fn last_error(&self, job_id: &str) -> Result<Option<String>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar("SELECT last_error FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(p)
            .await?)
        .flatten())
    }

    /// Jobs of `kind` not finished yet: the OCR backlog `status` and `/metrics` show.
    pub async fn unfinished_of(&self, kind: JobKind) -> Result<i64> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE state <> 'done' AND kind = $1"
        )
        .bind(kind.as_str())
        .fetch_one(p)
        .await?))
    }

    /// Why a job of `kind` claimed at `since_ms` (Unix ms) or later failed and waits to be tried again,
    /// if one did: what a one-shot command stops waiting on and says.
    pub async fn failing(&self, kind: JobKind, since_ms: i64) -> Result<Option<String>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT last_error FROM jobs WHERE kind = $1 AND state = 'pending' AND last_error IS NOT NULL \
             AND heartbeat_ms >= $2 LIMIT 1"
        )
        .bind(kind.as_str())
        .bind(since_ms)
        .fetch_optional(p)
        .await?)
        .flatten())
    }

    /// Makes the waiting jobs of `kind` runnable now, their back-off forgotten: a one-shot command run
    /// again once its cause is fixed tries them at once.
    pub async fn retry_now(&self, kind: JobKind) -> Result<u64> {
        let mut w = self.jobs.autocommit().await?;
        Ok(on_tx!(&mut w, |c| sqlx::query("UPDATE jobs SET not_before_ms = 0 WHERE kind = $1 AND state = 'pending'")
            .bind(kind.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected()))
    }

    /// Jobs not finished yet (pending, waiting for back-off, or running).
    pub async fn unfinished_jobs(&self) -> Result<i64> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'done'")
            .fetch_one(p)
            .await?))
    }

    /// Sends a job back to the queue after a transient failure, not before `delay`; `crashed` when it
    /// panicked (it counts towards a poison job).
    pub async fn retry_later(&self, job_id: &str, delay: Duration, error: &str, crashed: bool) -> Result<()> {
        let mut w = self.jobs.autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "UPDATE jobs SET state = 'pending', not_before_ms = $1, last_error = $2, crashes = crashes + $3 \
             WHERE id = $4"
        )
        .bind(now_ms() + delay.as_millis() as i64)
        .bind(error)
        .bind(i64::from(crashed))
        .bind(job_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }
}

/// Marks a job done in the caller's transaction — the one that commits its result — with the error
/// it leaves on record (a quarantine reason, why it was set aside), or none.
pub(crate) async fn finish_job(tx: &mut Tx, job_id: &str, last_error: Option<&str>) -> Result<()> {
    on_tx!(tx, |c| sqlx::query("UPDATE jobs SET state = 'done', last_error = $1 WHERE id = $2")
        .bind(last_error)
        .bind(job_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(())
}

/// Listens for job notifications and passes each on as a wake-up; returns only when the connection
/// fails for good.
async fn relay(pool: &sqlx::PgPool, wake: &Notify) -> std::result::Result<std::convert::Infallible, sqlx::Error> {
    let mut l = sqlx::postgres::PgListener::connect_with(pool).await?;
    l.listen("sohoa_jobs").await?;
    wake.notify_waiters();
    loop {
        // `None`: the connection dropped and is re-established at the next call.
        if l.try_recv().await?.is_none() {
            tracing::debug!("job notifications: reconnecting");
        }
        wake.notify_waiters();
    }
}

/// Whether the worker named `name` in a lease is a dead process of the same host and place as `me`
/// (`host:place#pid`): a name without a pid (written before pids were) or one whose process is gone.
pub(super) fn is_dead_neighbour(me: &str, name: &str) -> bool {
    let base = |n: &str| n.rsplit_once('#').map_or(n.to_string(), |(b, _)| b.to_string());
    if base(me) != base(name) {
        return false;
    }
    match name.rsplit_once('#').and_then(|(_, pid)| pid.parse::<u32>().ok()) {
        None => true,
        // This process has only just started: a job of its pid is a dead one's whose pid came round.
        Some(pid) if pid == std::process::id() => true,
        // Without /proc there is no telling: a neighbour is taken for dead, as before pids were kept.
        Some(pid) => {
            !std::path::Path::new("/proc/self").exists() || !std::path::Path::new(&format!("/proc/{pid}")).exists()
        }
    }
}

/// Queues text recognition of an attached document in the caller's transaction (the attach's), under
/// the profile and in the place of the job `after` (its render); again from the start when it ran
/// before (the document was rendered again).
pub(crate) async fn queue_ocr(tx: &mut Tx, after: &str, doc_id: &str, at: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO jobs (id, seq, kind, subject, state, profile_sha256, created_at) \
         SELECT $1, seq, 'ocr', $2, 'pending', profile_sha256, $3 FROM jobs WHERE id = $4 \
         ON CONFLICT (kind, subject) DO UPDATE SET state = 'pending', attempts = 0, crashes = 0, \
         not_before_ms = 0, last_error = NULL, worker = NULL"
    )
    .bind(super::records::new_id())
    .bind(doc_id)
    .bind(at)
    .bind(after)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Puts a job back on the queue from the start, in the caller's transaction (a clerk's decision made
/// the earlier run's result stale).
pub(crate) async fn run_again(tx: &mut Tx, kind: JobKind, subject: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'pending', attempts = 0, crashes = 0, not_before_ms = 0, last_error = NULL, \
         worker = NULL WHERE kind = $1 AND subject = $2"
    )
    .bind(kind.as_str())
    .bind(subject)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_of_the_same_place_is_told_from_a_live_one_and_from_other_places() {
        let me = format!("host:/data#{}", std::process::id());
        assert!(is_dead_neighbour(&me, "host:/data"), "a name from before pids");
        assert!(is_dead_neighbour(&me, "host:/data#4294967294"), "a pid that does not run");
        assert!(!is_dead_neighbour(&me, "host:/data#1"), "pid 1 runs: a live neighbour");
        assert!(!is_dead_neighbour(&me, "host:/other#4294967294"), "another data folder: its lease decides");
        assert!(!is_dead_neighbour(&me, "elsewhere:/data#4294967294"), "another host: its lease decides");
    }
}
