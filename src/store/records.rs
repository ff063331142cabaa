//! The case database at the level of the domain: the [`Records`] handle, capture, and the audit events
//! every operation appends.
//!
//! Callers never write SQL; they call operations, each one transaction, on SQLite and PostgreSQL
//! alike. The operations live by concern beside this file: [`super::jobs`] (the queue and its
//! leases), [`super::assembly`] (pages filed into documents in capture order), [`super::documents`]
//! (rendering and attaching), [`super::cases`] (case fields, completeness, clerk corrections).

use super::db::{Location, Pool, Tx, on_pool, on_tx};

use crate::error::{Failure, Result};
use crate::profile::Profile;
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

stored_words! {
    /// Where an input is in its life: captured (its bytes and row committed, its split job queued),
    /// split into routed pages, or quarantined with a reason.
    pub enum IntakeState {
        /// Recorded; the split job has not committed yet.
        Captured = "captured",
        /// Its pages are recorded.
        Split = "split",
        /// Refused with a reason.
        Quarantined = "quarantined",
    }
}

/// What recording one capture did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    /// A new intake row and its split job.
    Captured { intake_id: String, reused: bool },
    /// The same bytes were already captured for the same case: nothing was added.
    Duplicate { intake_id: String, state: IntakeState },
}

/// An intake as the split job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IntakeRow {
    /// Intake id.
    pub id: String,
    /// Blob hash.
    pub sha256: String,
    /// The file's size: checked against the profile's limit before the file is read.
    #[sqlx(try_from = "i64")]
    pub bytes: u64,
    /// Path relative to the inbox.
    pub source_path: String,
    /// File name.
    pub source_name: String,
    /// Scan time.
    pub source_mtime: String,
    /// Routing hints.
    pub hints: String,
    /// Lifecycle state.
    #[sqlx(try_from = "String")]
    pub state: IntakeState,
    /// Capture time.
    pub captured_at: String,
    /// Station.
    pub station: String,
    /// The profile it was captured under.
    pub profile_sha256: String,
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
    /// Inputs captured whose split has not finished: the work a run still has in hand.
    pub intakes_waiting: i64,
    /// Pages recorded, whatever their state.
    pub pages_total: i64,
}

/// The case database.
#[derive(Clone)]
pub struct Records {
    pub(super) pool: Pool,
    /// Where job results are committed. On SQLite, connections that commit without waiting for the
    /// disk (`synchronous=NORMAL`): a power cut may lose the last of them, and the jobs simply run
    /// again. Captures never use these. On PostgreSQL, the same pool as `pool`.
    pub(super) jobs: Pool,
    /// Who this process is in job leases: host and data folder, the same across restarts, so a
    /// restarted worker takes back its predecessor's jobs at once while others wait for the lease.
    pub(super) worker: std::sync::Arc<str>,
}

/// `host:place#pid`, the name of a worker in job leases: a later process of the same host and data
/// folder tells a dead predecessor's jobs (its pid is gone) from a live neighbour's ([`super::jobs`]).
pub(super) fn worker_name(place: &str) -> std::sync::Arc<str> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into());
    format!("{}:{place}#{}", host.trim(), std::process::id()).into()
}

pub(super) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_millis() as i64
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
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
        let mut known: std::collections::HashMap<String, Vec<(String, String, IntakeState)>> = Default::default();
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
                let state = IntakeState::try_from(state)
                    .map_err(|e| Failure::transient("reading earlier captures", anyhow::anyhow!(e)))?;
                known.entry(sha).or_default().push((route, id, state));
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        let mut fresh: Vec<(&NewIntake, String, i64, bool)> = Vec::new();
        for n in batch {
            let seen = known.entry(n.sha256.clone()).or_default();
            if let Some((_, id, state)) = seen.iter().find(|(route, _, _)| *route == n.route_key) {
                out.push(CaptureOutcome::Duplicate { intake_id: id.clone(), state: *state });
                continue;
            }
            // The same bytes already filed under another case: legitimate reuse (an ID card copy).
            let reused = names_case(&n.route_key) && seen.iter().any(|(route, _, _)| names_case(route));
            seq += 1;
            let id = new_id();
            seen.push((n.route_key.clone(), id.clone(), IntakeState::Captured));
            out.push(CaptureOutcome::Captured { intake_id: id.clone(), reused });
            fresh.push((n, id, seq, reused));
        }
        for part in fresh.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO files (sha256, bytes, stored_at, kind, stored_ms) VALUES {} ON CONFLICT DO NOTHING",
                placeholders_then(part.len(), 3, &format!("'original', {}", now_ms()))
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
            "SELECT id, sha256, bytes, source_path, source_name, source_mtime, hints, state, captured_at, station, \
                    profile_sha256 \
             FROM intakes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?))
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
                    (SELECT COUNT(*) FROM jobs WHERE state <> 'done') AS jobs_pending, \
                    (SELECT COUNT(*) FROM intakes WHERE state = 'captured') AS intakes_waiting, \
                    (SELECT COUNT(*) FROM pages) AS pages_total",
        )
        .fetch_one(p)
        .await?
        }))
    }

    /// The recorded size of a stored file.
    pub async fn file_bytes(&self, sha256: &str) -> Result<Option<u64>> {
        let bytes: Option<i64> =
            on_pool!(&self.pool, |p| sqlx::query_scalar("SELECT bytes FROM files WHERE sha256 = $1")
                .bind(sha256)
                .fetch_optional(p)
                .await?);
        Ok(bytes.map(|b| b.max(0) as u64))
    }

    /// Every recorded file and its kind, for fixity checks.
    pub async fn files(&self) -> Result<Vec<(String, i64, String)>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_as("SELECT sha256, bytes, kind FROM files ORDER BY sha256")
            .fetch_all(p)
            .await?))
    }

    /// Up to `limit` recorded files' hashes after `after`, in hash order: walks over every stored file
    /// a page at a time.
    pub async fn files_page(&self, after: &str, limit: i64) -> Result<Vec<String>> {
        Ok(on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT sha256 FROM files WHERE sha256 > $1 ORDER BY sha256 LIMIT $2"
        )
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await?))
    }

    /// The underlying pool, for read-only views (case listings) and tests.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

pub(super) fn actor(station: &str, operator: Option<&str>) -> String {
    match operator {
        Some(op) if !op.is_empty() => format!("{station}/{op}"),
        _ => station.to_string(),
    }
}

/// Records a PDF written into the blob store (already durable) in the caller's transaction; once.
pub(crate) async fn record_pdf(tx: &mut Tx, sha256: &str, bytes: u64, at: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO files (sha256, bytes, kind, stored_at, stored_ms) VALUES ($1, $2, 'pdf', $3, $4) \
         ON CONFLICT DO NOTHING"
    )
    .bind(sha256)
    .bind(bytes as i64)
    .bind(at)
    .bind(now_ms())
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
pub(super) const ROWS_PER_STATEMENT: usize = 100;

/// `($1, $2), ($3, $4)` for `rows` rows of `cols` parameters (one row is an `IN` list).
pub(super) fn placeholders(rows: usize, cols: usize) -> String {
    placeholders_then(rows, cols, "")
}

/// Like [`placeholders`], each row ending with the same SQL literals (`'pending'`).
pub(super) fn placeholders_then(rows: usize, cols: usize, literals: &str) -> String {
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
