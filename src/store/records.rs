//! The case database at the level of the domain: capture, claim a job, file pages, attach documents.
//!
//! Callers never write SQL; they call these operations, each one transaction. This is the seam where a
//! PostgreSQL implementation slots in beside SQLite with the same behaviour.

use std::time::Duration;

use super::db::{Location, Pool, Tx, on_pool, on_tx};

use crate::error::{Failure, Result};
use crate::pages::{Colour, DpiSource, SourceEncoding};
use crate::profile::{DocRole, Profile};
use crate::route::names_case;

/// An input whose bytes are durable in the blob store, ready to be recorded.
#[derive(Debug, Clone)]
pub struct NewIntake {
    /// SHA-256 of the input bytes.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Where it came from, relative to the inbox (NFC).
    pub source_path: String,
    /// Its file name (NFC).
    pub source_name: String,
    /// Its modification time, ISO 8601 with offset: the scan time, which PDFs carry.
    pub source_mtime: String,
    /// Capturing station.
    pub station: String,
    /// Operator when known.
    pub operator: Option<String>,
    /// When the capture was committed.
    pub captured_at: String,
    /// The case the file-level routing chose, or `""` when none: with the hash, the duplicate key.
    pub route_key: String,
    /// Routing hints (JSON) for the split job.
    pub hints: String,
    /// The unit of the station (or unit-limited token) that captured it: who may file it unfiled.
    pub unit: Option<String>,
}

/// What recording one capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// A new intake row and its split job.
    Captured { intake_id: String, reused: bool },
    /// The same bytes were already captured for the same case: nothing was added.
    Duplicate { intake_id: String, state: String },
}

/// A page found by the split job, with the case routing chose for it.
#[derive(Debug, Clone)]
pub struct NewPage {
    /// 0-based index within its input.
    pub page_index: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Horizontal resolution.
    pub dpi_x: f64,
    /// Vertical resolution.
    pub dpi_y: f64,
    /// Where the resolution came from.
    pub dpi_source: DpiSource,
    /// The page's colour as stored.
    pub colour: Colour,
    /// How the page's pixels are stored in the input.
    pub source_encoding: SourceEncoding,
    /// The case, or `None` for unfiled.
    pub case_code: Option<String>,
    /// Input or result.
    pub role: DocRole,
    /// Document type when known.
    pub doc_type: Option<String>,
    /// Pages sharing a group key (and case) go into one document.
    pub group_key: GroupKey,
    /// Flags for the clerk (`no-dpi`, `low-dpi`).
    pub flags: Vec<String>,
    /// For a stacked profile: the profile's split rule and the separator sheet this page is, if any.
    pub stack: Option<crate::separate::StackNote>,
}

/// What the split job found about one input.
#[derive(Debug, Clone)]
pub enum SplitOutcome {
    /// Its pages, each routed.
    Pages {
        /// `jpeg`, `png`, `tiff`, `pdf`.
        format: String,
        /// In page order.
        pages: Vec<NewPage>,
    },
    /// It cannot be used.
    Quarantined {
        /// Stable reason code.
        code: String,
        /// The clerk's reason.
        reason: String,
    },
}

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
}

/// The kinds of job this version runs. A job row of any other kind (written by a newer version sharing
/// the database) is never claimed here: it waits for a worker that knows it, instead of failing for
/// ever in one that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Read a captured input, split it into pages and route each page.
    Split,
    /// Build a document's PDF from its pages.
    Render,
}

impl JobKind {
    /// Every kind, for the claim's filter.
    pub const ALL: [JobKind; 2] = [JobKind::Split, JobKind::Render];

    /// The word stored in `jobs.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Split => "split",
            JobKind::Render => "render",
        }
    }

    /// Reads a stored word; `None` for a kind this version does not know.
    pub fn parse(word: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which pages belong in one document (with the same case and role). Stored as text whose prefix the
/// assembly and closing statements read (`folder:` documents close when their folder is filed,
/// `stack:` ones when a separator sheet or the stack's end says so); built here only, so that every
/// writer spells them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// Each input is its own document.
    File {
        /// The intake's id.
        intake: String,
    },
    /// The inputs of one inbox folder (closed when idle or by a marker file).
    Folder {
        /// The folder's NFC path relative to the inbox (`""` for the inbox itself).
        path: String,
    },
    /// A station's stack of pages split by separator sheets (segments are added by assembly).
    Stack {
        /// The station.
        station: String,
        /// The folder the stack arrives in.
        path: String,
    },
}

impl GroupKey {
    /// Group keys of stacked pages start with this.
    pub const STACK_PREFIX: &'static str = "stack:";

    /// The stored text.
    pub fn to_stored(&self) -> String {
        match self {
            GroupKey::File { intake } => format!("file:{intake}"),
            GroupKey::Folder { path } => format!("folder:{path}"),
            GroupKey::Stack { station, path } => format!("{}{station}:{path}", GroupKey::STACK_PREFIX),
        }
    }
}

/// Where a document is in its life: `open` while pages may still join it, `closed` once complete and
/// waiting for its PDF, `attached` with its PDF recorded, `detached` by a clerk (kept, counted nowhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocState {
    /// Pages may still join.
    Open,
    /// Complete; its render job builds the PDF.
    Closed,
    /// Its PDF is recorded and counts.
    Attached,
    /// Taken off the case by a clerk.
    Detached,
}

impl DocState {
    /// The word stored in `documents.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            DocState::Open => "open",
            DocState::Closed => "closed",
            DocState::Attached => "attached",
            DocState::Detached => "detached",
        }
    }
}

impl TryFrom<String> for DocState {
    type Error = String;
    fn try_from(word: String) -> Result<Self, Self::Error> {
        [DocState::Open, DocState::Closed, DocState::Attached, DocState::Detached]
            .into_iter()
            .find(|s| s.as_str() == word)
            .ok_or_else(|| format!("unknown document state `{word}`"))
    }
}

/// An intake as the split job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntakeRow {
    /// Intake id.
    pub id: String,
    /// Blob hash.
    pub sha256: String,
    /// Path relative to the inbox.
    pub source_path: String,
    /// File name.
    pub source_name: String,
    /// Scan time.
    pub source_mtime: String,
    /// Routing hints.
    pub hints: String,
    /// Lifecycle state.
    pub state: String,
    /// Capture time.
    pub captured_at: String,
    /// Station.
    pub station: String,
    /// The profile it was captured under.
    pub profile_sha256: String,
}

/// A page as the render job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageRow {
    /// Page id.
    pub id: String,
    /// Its input.
    pub intake_id: String,
    /// The input's blob.
    pub sha256: String,
    /// Index within the input.
    #[sqlx(try_from = "i64")]
    pub page_index: u32,
    /// Resolution.
    pub dpi_x: f64,
    /// Resolution.
    pub dpi_y: f64,
    /// `jpeg`, `g4`, `raw`, `pdf`.
    #[sqlx(try_from = "String")]
    pub source_encoding: SourceEncoding,
    /// The input's scan time.
    pub source_mtime: String,
    /// The input's file name.
    pub source_name: String,
    /// Whether the page is a separator sheet (left out of the PDF unless the profile keeps them).
    pub separator: bool,
    /// A clerk put the page back after it was left out as blank: it stays in the PDF.
    pub keep: bool,
}

/// A document as the render job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    /// Document id.
    pub id: String,
    /// Its case.
    pub case_code: String,
    /// 1-based ordinal within the case.
    pub ordinal: i64,
    /// `input` or `result`.
    #[sqlx(try_from = "String")]
    pub role: DocRole,
    /// Document type.
    pub doc_type: Option<String>,
    /// Lifecycle.
    #[sqlx(try_from = "String")]
    pub state: DocState,
    /// The attached PDF.
    pub pdf_sha256: Option<String>,
    /// Pages.
    pub page_count: i64,
}

/// Per-state counts of a run's intakes, for summaries.
#[derive(Debug, Clone, Default, serde::Serialize, sqlx::FromRow)]
pub struct Tally {
    /// Inputs captured.
    pub intakes: i64,
    /// Inputs quarantined.
    pub quarantined: i64,
    /// Pages in attached documents.
    pub pages_attached: i64,
    /// Pages without a case.
    pub pages_unfiled: i64,
    /// Documents attached.
    pub documents: i64,
    /// Jobs still pending.
    pub jobs_pending: i64,
}

/// The case database.
#[derive(Clone)]
pub struct Records {
    pool: Pool,
    /// Where job results are committed. On SQLite, connections that commit without waiting for the
    /// disk (`synchronous=NORMAL`): a power cut may lose the last of them, and the jobs simply run
    /// again. Captures never use these. On PostgreSQL, the same pool as `pool`.
    jobs: Pool,
    /// Who this process is in job leases: host and data folder, the same across restarts, so a
    /// restarted worker takes back its predecessor's jobs at once while others wait for the lease.
    worker: std::sync::Arc<str>,
}

/// How long a running job's lease lasts without a heartbeat before another worker may take it.
pub const LEASE: Duration = Duration::from_secs(120);

/// `host:place`, the name of a worker in job leases.
fn worker_name(place: &str) -> std::sync::Arc<str> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{}:{place}", host.trim()).into()
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_millis() as i64
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// What rendering did to one page: its output encoding (with `+blank`, `+deskew(…)`, `+turn(…)`,
/// `+crop` marks) and the normalization record as JSON.
#[derive(Debug, Clone)]
pub struct PageOutcome {
    /// The page.
    pub page_id: String,
    /// How it went into the PDF.
    pub encoding: String,
    /// `PageNormalization` as JSON; `None` when no step ran.
    pub normalization: Option<String>,
}

impl Records {
    /// Opens the database a `--database` value names: a SQLite file (created when needed) or a
    /// PostgreSQL URL; migrations are applied either way.
    pub async fn open(location: &Location) -> Result<Records> {
        match location {
            Location::Sqlite(path) => {
                let (pool, jobs) = Pool::sqlite(path).await?;
                Ok(Records { pool, jobs, worker: worker_name(&path.display().to_string()) })
            }
            Location::Postgres(url) => {
                let pool = Pool::postgres(url).await?;
                Ok(Records { jobs: pool.clone(), pool, worker: worker_name("") })
            }
        }
    }

    /// Records a batch of captures in one transaction, with their split jobs and capture events. The
    /// batch is looked up and written with a few statements for all its files, not a few for each.
    pub async fn record_captures(&self, profile: &Profile, batch: &[NewIntake]) -> Result<Vec<CaptureOutcome>> {
        let mut tx = self.pool.begin_write().await?;
        let first_seen = batch.first().map(|b| b.captured_at.clone()).unwrap_or_default();
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO profiles (sha256, name, text, first_seen) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
        )
        .bind(&profile.sha256)
        .bind(profile.name())
        .bind(&profile.text)
        .bind(&first_seen)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let mut seq: i64 = on_tx!(&mut tx, |c| sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM intakes")
            .fetch_one(&mut *c)
            .await?);
        // Every capture of these bytes so far, by hash: (route key, intake id, state).
        let mut known: std::collections::HashMap<String, Vec<(String, String, String)>> = Default::default();
        for part in batch.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT sha256, route_key, id, state FROM intakes WHERE sha256 IN {}",
                placeholders(1, part.len())
            );
            let rows: Vec<(String, String, String, String)> = on_tx!(&mut tx, |c| {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()));
                for n in part {
                    q = q.bind(&n.sha256);
                }
                q.fetch_all(&mut *c).await?
            });
            for (sha, route, id, state) in rows {
                known.entry(sha).or_default().push((route, id, state));
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        let mut fresh: Vec<(&NewIntake, String, i64, bool)> = Vec::new();
        for n in batch {
            let seen = known.entry(n.sha256.clone()).or_default();
            if let Some((_, id, state)) = seen.iter().find(|(route, _, _)| *route == n.route_key) {
                out.push(CaptureOutcome::Duplicate { intake_id: id.clone(), state: state.clone() });
                continue;
            }
            // The same bytes already filed under another case: legitimate reuse (an ID card copy).
            let reused = names_case(&n.route_key) && seen.iter().any(|(route, _, _)| names_case(route));
            seq += 1;
            let id = new_id();
            seen.push((n.route_key.clone(), id.clone(), "captured".into()));
            out.push(CaptureOutcome::Captured { intake_id: id.clone(), reused });
            fresh.push((n, id, seq, reused));
        }
        for part in fresh.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO files (sha256, bytes, stored_at, kind) VALUES {} ON CONFLICT DO NOTHING",
                placeholders_then(part.len(), 3, "'original'")
            );
            on_tx!(&mut tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (n, ..) in part {
                    q = q.bind(&n.sha256).bind(n.bytes as i64).bind(&n.captured_at);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
            let sql = format!(
                "INSERT INTO intakes (id, seq, sha256, bytes, source_path, source_name, source_mtime, station, \
                 operator, profile_name, profile_sha256, captured_at, route_key, hints, reused, unit, state) VALUES {}",
                placeholders_then(part.len(), 16, "'captured'")
            );
            on_tx!(&mut tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (n, id, seq, reused) in part {
                    q = q
                        .bind(id)
                        .bind(*seq)
                        .bind(&n.sha256)
                        .bind(n.bytes as i64)
                        .bind(&n.source_path)
                        .bind(&n.source_name)
                        .bind(&n.source_mtime)
                        .bind(&n.station)
                        .bind(&n.operator)
                        .bind(profile.name())
                        .bind(&profile.sha256)
                        .bind(&n.captured_at)
                        .bind(&n.route_key)
                        .bind(&n.hints)
                        .bind(*reused as i64)
                        .bind(&n.unit);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
            let sql = format!(
                "INSERT INTO jobs (id, seq, subject, profile_sha256, created_at, kind, state) VALUES {}",
                placeholders_then(part.len(), 5, "'split', 'pending'")
            );
            on_tx!(&mut tx, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for (n, id, seq, _) in part {
                    q = q.bind(new_id()).bind(*seq).bind(id).bind(&profile.sha256).bind(&n.captured_at);
                }
                q.execute(&mut *c).await?.rows_affected()
            });
            let events: Vec<NewEvent> = part
                .iter()
                .map(|(n, id, _, reused)| NewEvent {
                    at: n.captured_at.clone(),
                    actor: actor(&n.station, n.operator.as_deref()),
                    kind: "capture".into(),
                    case_code: (!n.route_key.is_empty()).then(|| n.route_key.clone()),
                    intake_id: Some(id.clone()),
                    document_id: None,
                    sha256: Some(n.sha256.clone()),
                    detail: serde_json::json!({
                        "source": n.source_path, "bytes": n.bytes, "profile": profile.name(),
                        "profile_sha256": profile.sha256, "reused": reused,
                    }),
                })
                .collect();
            insert_events(&mut tx, &events).await?;
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Names this process in job leases (the service calls it with the data folder).
    pub fn set_worker(&mut self, place: &str) {
        self.worker = worker_name(place);
    }

    /// Puts back in the queue the jobs a crashed predecessor of this worker left `running`, and those
    /// whose lease expired (a worker elsewhere that died). Safe because every job is an idempotent
    /// function of stored bytes and its commit is one transaction.
    pub async fn recover_running_jobs(&self) -> Result<u64> {
        let mut w = self.jobs.autocommit().await?;
        let r = on_tx!(&mut w, |c| {
            sqlx::query(
            "UPDATE jobs SET state = 'pending' WHERE state = 'running' AND (worker IS NULL OR worker = $1 OR heartbeat_ms < $2)"
        )
        .bind(&*self.worker)
        .bind(now_ms() - LEASE.as_millis() as i64)
        .execute(&mut *c)
        .await?
        .rows_affected()
        });
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

    /// Claims the next runnable job, oldest input first.
    pub async fn claim_job(&self) -> Result<Option<Job>> {
        // PostgreSQL: workers on several machines claim at once; SKIP LOCKED hands each a different job.
        // SQLite: one writer at a time, so the plain sub-select is already exclusive.
        const CLAIM: &str = "UPDATE jobs SET state = 'running', attempts = attempts + 1, heartbeat_ms = $1, \
               worker = $2 WHERE id = (\
               SELECT id FROM jobs WHERE state = 'pending' AND not_before_ms <= $1 \
               AND kind IN ({KINDS}) ORDER BY kind = 'render' DESC, seq LIMIT 1";
        const RETURNING: &str = ") RETURNING id, kind, subject, attempts, profile_sha256";
        type Claimed = (String, String, String, i64, String);
        let lock = if self.jobs.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        let kinds: Vec<String> = JobKind::ALL.iter().map(|k| format!("'{}'", k.as_str())).collect();
        let sql = format!("{CLAIM}{lock}{RETURNING}").replace("{KINDS}", &kinds.join(", "));
        let mut w = self.jobs.autocommit().await?;
        let row: Option<Claimed> = on_tx!(&mut w, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now_ms())
            .bind(&*self.worker)
            .fetch_optional(&mut *c)
            .await?);
        let Some((id, kind, subject, attempts, profile_sha256)) = row else { return Ok(None) };
        // The claim's filter names exactly `JobKind::ALL`, so this is a corrupted row, not a new kind.
        let kind = JobKind::parse(&kind).ok_or_else(|| {
            Failure::transient("claiming a job", anyhow::anyhow!("claimed job {id} of unknown kind `{kind}`"))
        })?;
        Ok(Some(Job { id, kind, subject, attempts, profile_sha256 }))
    }

    /// Jobs not finished yet (pending, waiting for back-off, or running).
    pub async fn unfinished_jobs(&self) -> Result<i64> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'done'")
            .fetch_one(p)
            .await?))
    }

    /// Sends a job back to the queue after a transient failure, not before `delay`.
    pub async fn retry_later(&self, job_id: &str, delay: Duration, error: &str) -> Result<()> {
        let mut w = self.jobs.autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "UPDATE jobs SET state = 'pending', not_before_ms = $1, last_error = $2 WHERE id = $3"
        )
        .bind(now_ms() + delay.as_millis() as i64)
        .bind(error)
        .bind(job_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The text of a profile recorded with a capture.
    pub async fn profile_text(&self, sha256: &str) -> Result<Option<String>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar("SELECT text FROM profiles WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(p)
            .await?))
    }

    /// Loads an intake.
    pub async fn intake(&self, id: &str) -> Result<Option<IntakeRow>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(
            "SELECT id, sha256, source_path, source_name, source_mtime, hints, state, captured_at, station, \
                    profile_sha256 \
             FROM intakes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    /// Commits what the split job found — the input's pages, or why it is quarantined — and then files
    /// every input that is now next in capture order. One transaction.
    pub async fn finish_split(
        &self,
        job_id: &str,
        intake_id: &str,
        outcome: &SplitOutcome,
        at: &str,
        close_each_file: bool,
    ) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        // The state moves on only from `captured`: a split finished again (a re-run job) changes nothing.
        let mut last_error = None;
        match outcome {
            SplitOutcome::Pages { format, pages } => {
                let moved = on_tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE intakes SET state = 'split', format = $1, page_count = $2 WHERE id = $3 AND state = 'captured'"
                )
                .bind(format)
                .bind(pages.len() as i64)
                .bind(intake_id)
                .execute(&mut *c)
                .await?
                .rows_affected()
                });
                if moved > 0 {
                    for p in pages {
                        insert_page(&mut tx, intake_id, p).await?;
                    }
                }
            }
            SplitOutcome::Quarantined { code, reason } => {
                type Captured = (String, String, String, Option<String>);
                let moved: Option<Captured> = on_tx!(&mut tx, |c| sqlx::query_as(
                    "UPDATE intakes SET state = 'quarantined', reason_code = $1, reason = $2 \
                     WHERE id = $3 AND state = 'captured' RETURNING sha256, route_key, station, operator"
                )
                .bind(code)
                .bind(reason)
                .bind(intake_id)
                .fetch_optional(&mut *c)
                .await?);
                if let Some((sha, route, station, operator)) = moved {
                    let detail = serde_json::json!({ "code": code, "reason": reason });
                    let case = (!route.is_empty()).then_some(route.as_str());
                    let who = actor(&station, operator.as_deref());
                    insert_event(&mut tx, at, &who, "quarantine", case, Some(intake_id), None, Some(&sha), &detail)
                        .await?;
                    last_error = Some(reason.clone());
                }
            }
        }
        on_tx!(&mut tx, |c| sqlx::query("UPDATE jobs SET state = 'done', last_error = $1 WHERE id = $2")
            .bind(last_error)
            .bind(job_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        assemble(&mut tx, at, close_each_file).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every open document (the end of a one-shot run) and queues their PDFs.
    pub async fn close_open_documents(&self, at: &str) -> Result<u64> {
        // The run is over: so are its stacks (the next run's first pages do not join its last dossier).
        self.close_selected("SELECT id FROM documents WHERE state = 'open' ORDER BY case_code, ordinal", None, at, true)
            .await
    }

    /// Closes the documents a query selects (its one optional parameter bound to `param`), in one
    /// transaction, queueing their render jobs.
    async fn close_selected(
        &self,
        select: &'static str,
        param: Option<i64>,
        at: &str,
        end_stacks: bool,
    ) -> Result<u64> {
        let mut tx = self.jobs.begin_write().await?;
        let ids: Vec<String> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_scalar(select);
            if let Some(p) = param {
                q = q.bind(p);
            }
            q.fetch_all(&mut *c).await?
        });
        for id in &ids {
            close_document(&mut tx, id, at).await?;
        }
        if end_stacks {
            // A stack ends with its last segment's documents, and only when every capture is filed.
            on_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM stacks WHERE NOT EXISTS (SELECT 1 FROM intakes WHERE assembled = 0) \
                 AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.state = 'open' \
                   AND substr(d.group_key, 1, length(stacks.key) + 1) = stacks.key || '|')"
            )
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Asks for the open documents of `group_key` to close once every input captured so far is filed
    /// (a marker file such as `.done` in a case folder).
    pub async fn request_close(&self, group_key: &GroupKey, at: &str) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO close_requests (group_key, up_to_seq, requested_at) \
             SELECT $1, COALESCE(MAX(seq), 0), $2 FROM intakes WHERE true ON CONFLICT DO NOTHING",
        )
        .bind(group_key.to_stored())
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
        honour_close_requests(&mut tx, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes open documents that have had no new page for `idle` and whose folder has no input
    /// waiting to be filed.
    pub async fn close_idle_documents(&self, idle: Duration, at: &str) -> Result<u64> {
        // A stack's segment closes the same way, once nothing captured is waiting to be filed; the stack
        // ends with it (a later scan into the folder starts a new one).
        let select = "SELECT d.id FROM documents d WHERE d.state = 'open' AND d.updated_ms < $1 \
             AND ((d.group_key LIKE 'folder:%' AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.assembled = 0 \
                 AND (i.source_path LIKE substr(d.group_key, 8) || '/%' OR substr(d.group_key, 8) = ''))) \
               OR (d.group_key LIKE 'stack:%' AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.assembled = 0)))";
        self.close_selected(select, Some(now_ms() - idle.as_millis() as i64), at, true).await
    }

    /// A document and its pages in order, for rendering.
    pub async fn document_for_render(&self, id: &str) -> Result<Option<(DocumentRow, Vec<PageRow>)>> {
        let Some(doc) = self.document(id).await? else {
            return Ok(None);
        };
        let pages = on_pool!(&self.pool, |p| {
            sqlx::query_as(
            "SELECT p.id, p.intake_id, i.sha256, p.page_index, p.dpi_x, p.dpi_y, p.source_encoding, i.source_mtime, i.source_name, \
                    (p.stack IS NOT NULL AND p.stack LIKE '%\"sheet\":{%') AS separator, \
                    (p.flags LIKE '%\"keep\"%') AS keep \
             FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.document_id = $1 ORDER BY p.page_no",
        )
        .bind(id)
        .fetch_all(p)
        .await?
        });
        Ok(Some((doc, pages)))
    }

    /// Attached scanned documents of a case in ordinal order, with their pages, for the case bundle.
    pub async fn case_documents_for_bundle(&self, code: &str) -> Result<Vec<(DocumentRow, Vec<PageRow>)>> {
        let ids: Vec<String> = on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT d.id FROM documents d WHERE d.case_code = $1 AND d.state = 'attached' \
             AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.document_id = d.id AND p.source_encoding = 'pdf') \
             ORDER BY d.ordinal",
        )
        .bind(code)
        .fetch_all(p)
        .await?);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.document_for_render(&id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Records a rebuilt case bundle unless a bundle of at least as many documents is already recorded
    /// (two rebuilds racing: the fuller one wins). Returns whether it was recorded.
    pub async fn record_case_bundle(
        &self,
        code: &str,
        sha256: &str,
        bytes: u64,
        documents: i64,
        at: &str,
    ) -> Result<bool> {
        let mut tx = self.jobs.begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO files (sha256, bytes, kind, stored_at) VALUES ($1, $2, 'pdf', $3) ON CONFLICT DO NOTHING"
        )
        .bind(sha256)
        .bind(bytes as i64)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let r = on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE cases SET bundle_sha256 = $1, bundle_documents = $2 WHERE code = $3 AND bundle_documents <= $4",
        )
        .bind(sha256)
        .bind(documents)
        .bind(code)
        .bind(documents)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let recorded = r > 0;
        if recorded {
            let detail = serde_json::json!({ "documents": documents, "bytes": bytes });
            insert_event(&mut tx, at, "sohoa", "bundle", Some(code), None, None, Some(sha256), &detail).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// One document.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as(
            "SELECT id, case_code, ordinal, role, doc_type, state, pdf_sha256, page_count FROM documents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
    }

    /// Attaches a rendered PDF (already durable in the blob store) to its document.
    pub async fn attach_pdf(
        &self,
        job_id: &str,
        doc_id: &str,
        pdf_sha256: &str,
        bytes: u64,
        outcomes: &[PageOutcome],
        at: &str,
    ) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        // Only a closed document takes its PDF: an attach done again (a re-run job) changes nothing. The
        // file is recorded first (the document refers to it), and only for a document that takes it.
        let closed: Option<String> = if pdf_sha256.is_empty() {
            None
        } else {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO files (sha256, bytes, kind, stored_at) SELECT $1, $2, 'pdf', $3 \
                 WHERE EXISTS (SELECT 1 FROM documents WHERE id = $4 AND state = 'closed') ON CONFLICT DO NOTHING"
            )
            .bind(pdf_sha256)
            .bind(bytes as i64)
            .bind(at)
            .bind(doc_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
            on_tx!(&mut tx, |c| sqlx::query_scalar(
                "UPDATE documents SET state = 'attached', pdf_sha256 = $1, attached_at = $2 \
                 WHERE id = $3 AND state = 'closed' RETURNING case_code"
            )
            .bind(pdf_sha256)
            .bind(at)
            .bind(doc_id)
            .fetch_optional(&mut *c)
            .await?)
        };
        if let Some(case_code) = closed {
            for o in outcomes {
                // The blank verdict goes into the page's flags, where the clerk sees it.
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'attached', output_encoding = $1, normalization = $4, \
                     flags = CASE WHEN NOT $2 OR flags LIKE '%\"blank\"%' THEN flags \
                     WHEN flags = '[]' THEN '[\"blank\"]' \
                     ELSE substr(flags, 1, length(flags) - 1) || ',\"blank\"]' END WHERE id = $3",
                )
                .bind(&o.encoding)
                .bind(o.encoding.contains("blank"))
                .bind(&o.page_id)
                .bind(&o.normalization)
                .execute(&mut *c)
                .await?
                .rows_affected());
            }
            let detail = serde_json::json!({ "bytes": bytes, "pages": outcomes.len() });
            insert_event(
                &mut tx,
                at,
                "sohoa",
                "attach",
                Some(&case_code),
                None,
                Some(doc_id),
                Some(pdf_sha256),
                &detail,
            )
            .await?;
        }
        on_tx!(&mut tx, |c| sqlx::query("UPDATE jobs SET state = 'done', last_error = NULL WHERE id = $1")
            .bind(job_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        tx.commit().await?;
        Ok(())
    }

    /// Counts for a summary.
    pub async fn tally(&self) -> Result<Tally> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM intakes) AS intakes, \
                    (SELECT COUNT(*) FROM intakes WHERE state = 'quarantined' AND discarded_at IS NULL) AS quarantined, \
                    (SELECT COUNT(*) FROM pages WHERE state = 'attached') AS pages_attached, \
                    (SELECT COUNT(*) FROM pages WHERE state = 'unfiled') AS pages_unfiled, \
                    (SELECT COUNT(*) FROM documents WHERE state = 'attached') AS documents, \
                    (SELECT COUNT(*) FROM jobs WHERE state <> 'done') AS jobs_pending",
        )
        .fetch_one(p)
        .await?
        }))
    }

    /// Every recorded file and its kind, for fixity checks.
    pub async fn files(&self) -> Result<Vec<(String, i64, String)>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as("SELECT sha256, bytes, kind FROM files ORDER BY sha256")
            .fetch_all(p)
            .await?))
    }

    /// The underlying pool, for read-only views (case listings) and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

fn actor(station: &str, operator: Option<&str>) -> String {
    match operator {
        Some(op) if !op.is_empty() => format!("{station}/{op}"),
        _ => station.to_string(),
    }
}

async fn insert_page(tx: &mut Tx, intake_id: &str, p: &NewPage) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO pages (id, intake_id, page_index, width, height, dpi_x, dpi_y, dpi_source, colour, \
         source_encoding, case_code, role, doc_type, group_key, flags, stack, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'pending')",
    )
    .bind(new_id())
    .bind(intake_id)
    .bind(p.page_index as i64)
    .bind(p.width as i64)
    .bind(p.height as i64)
    .bind(p.dpi_x)
    .bind(p.dpi_y)
    .bind(p.dpi_source.as_str())
    .bind(p.colour.as_str())
    .bind(p.source_encoding.as_str())
    .bind(&p.case_code)
    .bind(p.role.as_str())
    .bind(&p.doc_type)
    .bind(p.group_key.to_stored())
    .bind(serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into()))
    .bind(p.stack.as_ref().and_then(|n| serde_json::to_string(n).ok()))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Puts a job back on the queue from the start, in the caller's transaction (a clerk's decision made
/// the earlier run's result stale).
pub(crate) async fn run_again(tx: &mut Tx, kind: JobKind, subject: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE jobs SET state = 'pending', attempts = 0, not_before_ms = 0, last_error = NULL, worker = NULL \
         WHERE kind = $1 AND subject = $2"
    )
    .bind(kind.as_str())
    .bind(subject)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    tx: &mut Tx,
    at: &str,
    actor: &str,
    kind: &str,
    case_code: Option<&str>,
    intake_id: Option<&str>,
    document_id: Option<&str>,
    sha256: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    let event = NewEvent {
        at: at.to_string(),
        actor: actor.to_string(),
        kind: kind.to_string(),
        case_code: case_code.map(str::to_string),
        intake_id: intake_id.map(str::to_string),
        document_id: document_id.map(str::to_string),
        sha256: sha256.map(str::to_string),
        detail: detail.clone(),
    };
    insert_events(tx, std::slice::from_ref(&event)).await
}

/// An audit event to append.
pub(crate) struct NewEvent {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub case_code: Option<String>,
    pub intake_id: Option<String>,
    pub document_id: Option<String>,
    pub sha256: Option<String>,
    pub detail: serde_json::Value,
}

/// Appends audit events, many to a statement, each chained to the one before
/// ([`super::chain`]): rows go in in the order given, so ids follow the chain.
pub(crate) async fn insert_events(tx: &mut Tx, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut prev = super::chain::head_for_append(tx).await?;
    for part in events.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO events (at, actor, kind, case_code, intake_id, document_id, sha256, detail, prev_hash, \
             hash) VALUES {}",
            placeholders(part.len(), 10)
        );
        let mut links = Vec::with_capacity(part.len());
        for e in part {
            let detail = e.detail.to_string();
            let hash = super::chain::event_hash(&prev, e, &detail);
            links.push((detail, std::mem::replace(&mut prev, hash.clone()), hash));
        }
        on_tx!(tx, |c| {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (e, (detail, prev_hash, hash)) in part.iter().zip(&links) {
                q = q
                    .bind(&e.at)
                    .bind(&e.actor)
                    .bind(&e.kind)
                    .bind(&e.case_code)
                    .bind(&e.intake_id)
                    .bind(&e.document_id)
                    .bind(&e.sha256)
                    .bind(detail)
                    .bind(prev_hash)
                    .bind(hash);
            }
            q.execute(&mut *c).await?.rows_affected()
        });
    }
    Ok(())
}

/// Rows written by one multi-row statement: well under either backend's limit on parameters.
const ROWS_PER_STATEMENT: usize = 100;

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` parameters (one row is an `IN` list).
fn placeholders(rows: usize, cols: usize) -> String {
    placeholders_then(rows, cols, "")
}

/// Like [`placeholders`], each row ending with the same SQL literals (`'pending'`).
fn placeholders_then(rows: usize, cols: usize, literals: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..cols {
            let _ = write!(out, "{}${}", if c > 0 { ", " } else { "" }, r * cols + c + 1);
        }
        if !literals.is_empty() {
            out.push_str(", ");
            out.push_str(literals);
        }
        out.push(')');
    }
    out
}

/// Files pages into documents strictly in capture order, so ordinals follow input order whatever order
/// the split jobs finish in. Stops at the first input not split yet.
async fn assemble(tx: &mut Tx, at: &str, close_each_file: bool) -> Result<()> {
    /// Inputs looked up at a time: usually the one just split is the only one ready.
    const AHEAD: i64 = 16;
    loop {
        let next: Vec<(String, String)> =
            on_tx!(tx, |c| sqlx::query_as("SELECT id, state FROM intakes WHERE assembled = 0 ORDER BY seq LIMIT $1")
                .bind(AHEAD)
                .fetch_all(&mut *c)
                .await?);
        let more = next.len() as i64 == AHEAD;
        for (intake_id, state) in next {
            if state == "captured" {
                return honour_close_requests(tx, at).await;
            }
            file_pages(tx, &intake_id, at, close_each_file).await?;
        }
        if !more {
            return honour_close_requests(tx, at).await;
        }
    }
}

/// Files the pages of one split (or quarantined) input into documents and marks it assembled.
async fn file_pages(tx: &mut Tx, intake_id: &str, at: &str, close_each_file: bool) -> Result<()> {
    type PendingPage = (String, Option<String>, String, Option<String>, String, String, Option<String>);
    let pages: Vec<PendingPage> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, case_code, role, doc_type, group_key, source_encoding, stack FROM pages \
         WHERE intake_id = $1 AND state = 'pending' ORDER BY page_index",
    )
    .bind(intake_id)
    .fetch_all(&mut *c)
    .await?);
    let mut touched: Vec<String> = Vec::new();
    for (page_id, mut case_code, mut role, mut doc_type, mut group_key, encoding, stack) in pages {
        let note = stack.as_deref().and_then(|n| serde_json::from_str::<crate::separate::StackNote>(n).ok());
        if let Some(note) = note {
            let page = (case_code.clone(), role.clone(), doc_type.clone());
            if let Some(r) = super::stacks::route(tx, &page_id, &group_key, page, &note, at).await? {
                (case_code, role, doc_type, group_key) = r;
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE pages SET case_code = $1, role = $2, doc_type = $3, group_key = $4 WHERE id = $5"
                )
                .bind(&case_code)
                .bind(&role)
                .bind(&doc_type)
                .bind(&group_key)
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
            }
        }
        let Some(code) = case_code else {
            on_tx!(tx, |c| sqlx::query("UPDATE pages SET state = 'unfiled' WHERE id = $1")
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
            continue;
        };
        // A born-digital PDF is its own document; it is never merged with scanned pages.
        let key = if encoding == "pdf" { format!("pdf:{intake_id}") } else { group_key };
        let open: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT id FROM documents WHERE state = 'open' AND case_code = $1 AND group_key = $2 AND role = $3 \
             AND doc_type IS NOT DISTINCT FROM $4",
        )
        .bind(&code)
        .bind(&key)
        .bind(&role)
        .bind(&doc_type)
        .fetch_optional(&mut *c)
        .await?);
        let doc_id = match open {
            Some(id) => {
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'filed', document_id = $1, \
                     page_no = (SELECT page_count + 1 FROM documents WHERE id = $2) WHERE id = $3",
                )
                .bind(&id)
                .bind(&id)
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE documents SET page_count = page_count + 1, updated_ms = $1 WHERE id = $2"
                )
                .bind(now_ms())
                .bind(&id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                id
            }
            None => {
                on_tx!(tx, |c| sqlx::query(
                    "INSERT INTO cases (id, code, unit, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
                )
                .bind(new_id())
                .bind(&code)
                // The unit code is the first part of a one-stop case code; an import may correct it.
                .bind(code.split_once('-').map(|(u, _)| u))
                .bind(at)
                .execute(&mut *c)
                .await?
                .rows_affected());
                // The next ordinal of the case, taken under the writers' lock, with this page its first.
                let id = new_id();
                on_tx!(tx, |c| sqlx::query(
                    "INSERT INTO documents (id, case_code, ordinal, role, doc_type, group_key, state, created_at, \
                       page_count, updated_ms) \
                     SELECT $1, $2, COALESCE(MAX(ordinal), 0) + 1, $3, $4, $5, 'open', $6, 1, $7 \
                     FROM documents WHERE case_code = $2",
                )
                .bind(&id)
                .bind(&code)
                .bind(&role)
                .bind(&doc_type)
                .bind(&key)
                .bind(at)
                .bind(now_ms())
                .execute(&mut *c)
                .await?
                .rows_affected());
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'filed', document_id = $1, page_no = 1 WHERE id = $2"
                )
                .bind(&id)
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                id
            }
        };
        // A stack's documents close at its next sheet (or the end of the run), not per file.
        if !touched.contains(&doc_id) && !key.starts_with(GroupKey::STACK_PREFIX) {
            touched.push(doc_id);
        }
    }
    on_tx!(tx, |c| sqlx::query("UPDATE intakes SET assembled = 1 WHERE id = $1")
        .bind(intake_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    if close_each_file {
        for d in touched {
            close_document(tx, &d, at).await?;
        }
    }
    Ok(())
}

/// Closes the groups whose close was requested once every input captured before the request is filed.
async fn honour_close_requests(tx: &mut Tx, at: &str) -> Result<()> {
    let due: Vec<(String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT group_key, up_to_seq FROM close_requests WHERE up_to_seq <= COALESCE(\
           (SELECT MIN(seq) - 1 FROM intakes WHERE assembled = 0), (SELECT COALESCE(MAX(seq), 0) FROM intakes))"
    )
    .fetch_all(&mut *c)
    .await?);
    for (group, up_to) in due {
        let docs: Vec<String> =
            on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM documents WHERE state = 'open' AND group_key = $1")
                .bind(&group)
                .fetch_all(&mut *c)
                .await?);
        for d in docs {
            close_document(tx, &d, at).await?;
        }
        on_tx!(tx, |c| sqlx::query("DELETE FROM close_requests WHERE group_key = $1 AND up_to_seq = $2")
            .bind(&group)
            .bind(up_to)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

pub(crate) async fn close_document(tx: &mut Tx, doc_id: &str, at: &str) -> Result<()> {
    let r = on_tx!(tx, |c| sqlx::query("UPDATE documents SET state = 'closed' WHERE id = $1 AND state = 'open'")
        .bind(doc_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    if r == 0 {
        return Ok(());
    }
    // The render job runs under the profile of the document's first input, in its capture order.
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO jobs (id, seq, kind, subject, state, profile_sha256, created_at) \
         SELECT $1, i.seq, 'render', $2, 'pending', i.profile_sha256, $3 \
         FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.document_id = $2 \
         ORDER BY p.page_no LIMIT 1 ON CONFLICT DO NOTHING",
    )
    .bind(new_id())
    .bind(doc_id)
    .bind(at)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}
