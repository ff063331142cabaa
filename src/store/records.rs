//! The case database at the level of the domain: capture, claim a job, file pages, attach documents.
//!
//! Callers never write SQL; they call these operations, each one transaction. This is the seam where a
//! PostgreSQL implementation slots in beside SQLite with the same behaviour.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::{Failure, Result};
use crate::profile::Profile;

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
    /// `file`, `placement` or `default`.
    pub dpi_source: &'static str,
    /// `bitonal`, `gray`, `rgb`, `cmyk`.
    pub colour: &'static str,
    /// `jpeg`, `g4`, `raw`, `pdf`.
    pub source_encoding: &'static str,
    /// The case, or `None` for unfiled.
    pub case_code: Option<String>,
    /// `input` or `result`.
    pub role: String,
    /// Document type when known.
    pub doc_type: Option<String>,
    /// Pages sharing a group key (and case) go into one document.
    pub group_key: String,
    /// Flags for the clerk (`no-dpi`, `low-dpi`).
    pub flags: Vec<String>,
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
    /// `split` or `render`.
    pub kind: String,
    /// Intake id (split) or document id (render).
    pub subject: String,
    /// How many times it was claimed, this time included.
    pub attempts: i64,
    /// The profile it was queued under.
    pub profile_sha256: String,
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
}

/// A page as the render job needs it.
#[derive(Debug, Clone)]
pub struct PageRow {
    /// Page id.
    pub id: String,
    /// Its input.
    pub intake_id: String,
    /// The input's blob.
    pub sha256: String,
    /// Index within the input.
    pub page_index: u32,
    /// Resolution.
    pub dpi_x: f64,
    /// Resolution.
    pub dpi_y: f64,
    /// `jpeg`, `g4`, `raw`, `pdf`.
    pub source_encoding: String,
    /// The input's scan time.
    pub source_mtime: String,
    /// The input's file name.
    pub source_name: String,
}

/// A document as the render job needs it.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    /// Document id.
    pub id: String,
    /// Its case.
    pub case_code: String,
    /// 1-based ordinal within the case.
    pub ordinal: i64,
    /// `input` or `result`.
    pub role: String,
    /// Document type.
    pub doc_type: Option<String>,
    /// Lifecycle.
    pub state: String,
    /// The attached PDF.
    pub pdf_sha256: Option<String>,
    /// Pages.
    pub page_count: i64,
}

/// Per-state counts of a run's intakes, for summaries.
#[derive(Debug, Clone, Default, serde::Serialize)]
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
    pool: SqlitePool,
    /// Connections that commit without waiting for the disk (`synchronous=NORMAL`), for job results: a
    /// power cut may lose the last of them, and the jobs simply run again. Captures never use these.
    jobs: SqlitePool,
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    d.as_millis() as i64
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Records {
    /// Opens (creating when needed) the SQLite database at `path` and applies migrations.
    ///
    /// WAL with `synchronous=FULL`: a commit is on disk when it returns, which is what lets the inbox
    /// file be removed right after it.
    pub async fn open_sqlite(path: &Path) -> Result<Records> {
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|e| Failure::transient("database options", e))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(500))
            // 1 MiB of page cache per connection: enough for the hot rows, flat whatever the archive size.
            .pragma("cache_size", "-1024");
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.clone())
            .await
            .map_err(|e| Failure::transient(format!("opening the database {}", path.display()), e))?;
        sqlx::migrate!("migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|e| Failure::transient("applying database migrations", e))?;
        let jobs = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts.synchronous(SqliteSynchronous::Normal))
            .await
            .map_err(|e| Failure::transient(format!("opening the database {}", path.display()), e))?;
        Ok(Records { pool, jobs })
    }

    /// Records a batch of captures in one transaction, with their split jobs and capture events.
    pub async fn record_captures(&self, profile: &Profile, batch: &[NewIntake]) -> Result<Vec<CaptureOutcome>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let first_seen = batch.first().map(|b| b.captured_at.clone()).unwrap_or_default();
        sqlx::query("INSERT OR IGNORE INTO profiles (sha256, name, text, first_seen) VALUES (?, ?, ?, ?)")
            .bind(&profile.sha256)
            .bind(profile.name())
            .bind(&profile.text)
            .bind(&first_seen)
            .execute(&mut *tx)
            .await?;
        let mut seq: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM intakes").fetch_one(&mut *tx).await?;
        let mut out = Vec::with_capacity(batch.len());
        for n in batch {
            let existing = sqlx::query("SELECT id, state FROM intakes WHERE sha256 = ? AND route_key = ?")
                .bind(&n.sha256)
                .bind(&n.route_key)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                out.push(CaptureOutcome::Duplicate { intake_id: row.get(0), state: row.get(1) });
                continue;
            }
            sqlx::query("INSERT OR IGNORE INTO files (sha256, bytes, kind, stored_at) VALUES (?, ?, 'original', ?)")
                .bind(&n.sha256)
                .bind(n.bytes as i64)
                .bind(&n.captured_at)
                .execute(&mut *tx)
                .await?;
            let reused: bool = !n.route_key.is_empty()
                && sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM intakes WHERE sha256 = ? AND route_key <> '' AND route_key <> ?",
                )
                .bind(&n.sha256)
                .bind(&n.route_key)
                .fetch_one(&mut *tx)
                .await?
                    > 0;
            seq += 1;
            let id = new_id();
            sqlx::query(
                "INSERT INTO intakes (id, seq, sha256, bytes, source_path, source_name, source_mtime, station, \
                 operator, profile_name, profile_sha256, captured_at, route_key, hints, state, reused) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'captured', ?)",
            )
            .bind(&id)
            .bind(seq)
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
            .bind(reused)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO jobs (id, seq, kind, subject, state, profile_sha256, created_at) \
                 VALUES (?, ?, 'split', ?, 'pending', ?, ?)",
            )
            .bind(new_id())
            .bind(seq)
            .bind(&id)
            .bind(&profile.sha256)
            .bind(&n.captured_at)
            .execute(&mut *tx)
            .await?;
            let detail = serde_json::json!({
                "source": n.source_path, "bytes": n.bytes, "profile": profile.name(),
                "profile_sha256": profile.sha256, "reused": reused,
            });
            insert_event(
                &mut tx,
                &n.captured_at,
                &actor(&n.station, n.operator.as_deref()),
                "capture",
                (!n.route_key.is_empty()).then_some(n.route_key.as_str()),
                Some(&id),
                None,
                Some(&n.sha256),
                &detail,
            )
            .await?;
            out.push(CaptureOutcome::Captured { intake_id: id, reused });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Puts jobs a crashed process left `running` back in the queue. Safe because every job is an
    /// idempotent function of stored bytes and its commit is one transaction.
    pub async fn recover_running_jobs(&self) -> Result<u64> {
        let r = sqlx::query("UPDATE jobs SET state = 'pending' WHERE state = 'running'").execute(&self.jobs).await?;
        Ok(r.rows_affected())
    }

    /// Ids of jobs recorded as running.
    pub async fn running_jobs(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT id FROM jobs WHERE state = 'running'").fetch_all(&self.pool).await?)
    }

    /// Puts one running job back in the queue; 0 when it was not running any more.
    pub async fn requeue(&self, job_id: &str) -> Result<u64> {
        let r = sqlx::query("UPDATE jobs SET state = 'pending' WHERE id = ? AND state = 'running'")
            .bind(job_id)
            .execute(&self.jobs)
            .await?;
        Ok(r.rows_affected())
    }

    /// Claims the next runnable job, oldest input first.
    pub async fn claim_job(&self) -> Result<Option<Job>> {
        let row = sqlx::query(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1 WHERE id = (\
               SELECT id FROM jobs WHERE state = 'pending' AND not_before_ms <= ? \
               ORDER BY kind = 'render' DESC, seq LIMIT 1) \
             RETURNING id, kind, subject, attempts, profile_sha256",
        )
        .bind(now_ms())
        .fetch_optional(&self.jobs)
        .await?;
        Ok(row.map(|r| Job {
            id: r.get(0),
            kind: r.get(1),
            subject: r.get(2),
            attempts: r.get(3),
            profile_sha256: r.get(4),
        }))
    }

    /// Jobs not finished yet (pending, waiting for back-off, or running).
    pub async fn unfinished_jobs(&self) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE state <> 'done'").fetch_one(&self.pool).await?)
    }

    /// Sends a job back to the queue after a transient failure, not before `delay`.
    pub async fn retry_later(&self, job_id: &str, delay: Duration, error: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET state = 'pending', not_before_ms = ?, last_error = ? WHERE id = ?")
            .bind(now_ms() + delay.as_millis() as i64)
            .bind(error)
            .bind(job_id)
            .execute(&self.jobs)
            .await?;
        Ok(())
    }

    /// The text of a profile recorded with a capture.
    pub async fn profile_text(&self, sha256: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT text FROM profiles WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Loads an intake.
    pub async fn intake(&self, id: &str) -> Result<Option<IntakeRow>> {
        Ok(sqlx::query_as(
            "SELECT id, sha256, source_path, source_name, source_mtime, hints, state, captured_at, station \
             FROM intakes WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
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
        let mut tx = self.jobs.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("SELECT state, sha256, route_key, station, operator FROM intakes WHERE id = ?")
            .bind(intake_id)
            .fetch_optional(&mut *tx)
            .await?;
        let mut last_error = None;
        if let Some(r) = row.filter(|r| r.get::<String, _>(0) == "captured") {
            let (sha, route, station, operator): (String, String, String, Option<String>) =
                (r.get(1), r.get(2), r.get(3), r.get(4));
            match outcome {
                SplitOutcome::Pages { format, pages } => {
                    for p in pages {
                        insert_page(&mut tx, intake_id, p).await?;
                    }
                    sqlx::query("UPDATE intakes SET state = 'split', format = ?, page_count = ? WHERE id = ?")
                        .bind(format)
                        .bind(pages.len() as i64)
                        .bind(intake_id)
                        .execute(&mut *tx)
                        .await?;
                }
                SplitOutcome::Quarantined { code, reason } => {
                    sqlx::query("UPDATE intakes SET state = 'quarantined', reason_code = ?, reason = ? WHERE id = ?")
                        .bind(code)
                        .bind(reason)
                        .bind(intake_id)
                        .execute(&mut *tx)
                        .await?;
                    let detail = serde_json::json!({ "code": code, "reason": reason });
                    let case = (!route.is_empty()).then_some(route.as_str());
                    let who = actor(&station, operator.as_deref());
                    insert_event(&mut tx, at, &who, "quarantine", case, Some(intake_id), None, Some(&sha), &detail)
                        .await?;
                    last_error = Some(reason.clone());
                }
            }
        }
        sqlx::query("UPDATE jobs SET state = 'done', last_error = ? WHERE id = ?")
            .bind(last_error)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        assemble(&mut tx, at, close_each_file).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every open document (the end of a one-shot run) and queues their PDFs.
    pub async fn close_open_documents(&self, at: &str) -> Result<u64> {
        self.close_selected("SELECT id FROM documents WHERE state = 'open' ORDER BY case_code, ordinal", None, at).await
    }

    /// Closes the documents a query selects (its one optional parameter bound to `param`), in one
    /// transaction, queueing their render jobs.
    async fn close_selected(&self, select: &'static str, param: Option<i64>, at: &str) -> Result<u64> {
        let mut tx = self.jobs.begin_with("BEGIN IMMEDIATE").await?;
        let mut q = sqlx::query_scalar(select);
        if let Some(p) = param {
            q = q.bind(p);
        }
        let ids: Vec<String> = q.fetch_all(&mut *tx).await?;
        for id in &ids {
            close_document(&mut tx, id, at).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Asks for the open documents of `group_key` to close once every input captured so far is filed
    /// (a marker file such as `.done` in a case folder).
    pub async fn request_close(&self, group_key: &str, at: &str) -> Result<()> {
        let mut tx = self.jobs.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "INSERT OR IGNORE INTO close_requests (group_key, up_to_seq, requested_at) \
             SELECT ?, COALESCE(MAX(seq), 0), ? FROM intakes",
        )
        .bind(group_key)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        honour_close_requests(&mut tx, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes open documents that have had no new page for `idle` and whose folder has no input
    /// waiting to be filed.
    pub async fn close_idle_documents(&self, idle: Duration, at: &str) -> Result<u64> {
        let select = "SELECT d.id FROM documents d WHERE d.state = 'open' AND d.updated_ms < ? \
             AND d.group_key LIKE 'folder:%' AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.assembled = 0 \
                 AND (i.source_path LIKE substr(d.group_key, 8) || '/%' OR substr(d.group_key, 8) = ''))";
        self.close_selected(select, Some(now_ms() - idle.as_millis() as i64), at).await
    }

    /// A document and its pages in order, for rendering.
    pub async fn document_for_render(&self, id: &str) -> Result<Option<(DocumentRow, Vec<PageRow>)>> {
        let Some(doc) = self.document(id).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT p.id, p.intake_id, i.sha256, p.page_index, p.dpi_x, p.dpi_y, p.source_encoding, i.source_mtime, i.source_name \
             FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.document_id = ? ORDER BY p.page_no",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let pages = rows
            .into_iter()
            .map(|r| PageRow {
                id: r.get(0),
                intake_id: r.get(1),
                sha256: r.get(2),
                page_index: r.get::<i64, _>(3) as u32,
                dpi_x: r.get(4),
                dpi_y: r.get(5),
                source_encoding: r.get(6),
                source_mtime: r.get(7),
                source_name: r.get(8),
            })
            .collect();
        Ok(Some((doc, pages)))
    }

    /// Attached scanned documents of a case in ordinal order, with their pages, for the case bundle.
    pub async fn case_documents_for_bundle(&self, code: &str) -> Result<Vec<(DocumentRow, Vec<PageRow>)>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT d.id FROM documents d WHERE d.case_code = ? AND d.state = 'attached' \
             AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.document_id = d.id AND p.source_encoding = 'pdf') \
             ORDER BY d.ordinal",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
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
        let mut tx = self.jobs.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("INSERT OR IGNORE INTO files (sha256, bytes, kind, stored_at) VALUES (?, ?, 'pdf', ?)")
            .bind(sha256)
            .bind(bytes as i64)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        let r = sqlx::query(
            "UPDATE cases SET bundle_sha256 = ?, bundle_documents = ? WHERE code = ? AND bundle_documents <= ?",
        )
        .bind(sha256)
        .bind(documents)
        .bind(code)
        .bind(documents)
        .execute(&mut *tx)
        .await?;
        let recorded = r.rows_affected() > 0;
        if recorded {
            let detail = serde_json::json!({ "documents": documents, "bytes": bytes });
            insert_event(&mut tx, at, "sohoa", "bundle", Some(code), None, None, Some(sha256), &detail).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// One document.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        let row = sqlx::query(
            "SELECT id, case_code, ordinal, role, doc_type, state, pdf_sha256, page_count FROM documents WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(doc_from_row))
    }

    /// Attaches a rendered PDF (already durable in the blob store) to its document.
    pub async fn attach_pdf(
        &self,
        job_id: &str,
        doc_id: &str,
        pdf_sha256: &str,
        bytes: u64,
        encodings: &[(String, String)],
        at: &str,
    ) -> Result<()> {
        let mut tx = self.jobs.begin_with("BEGIN IMMEDIATE").await?;
        let state: Option<(String, String)> = sqlx::query_as("SELECT state, case_code FROM documents WHERE id = ?")
            .bind(doc_id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some((state, case_code)) = state.filter(|(s, _)| s == "closed") {
            let _ = state;
            sqlx::query("INSERT OR IGNORE INTO files (sha256, bytes, kind, stored_at) VALUES (?, ?, 'pdf', ?)")
                .bind(pdf_sha256)
                .bind(bytes as i64)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE documents SET state = 'attached', pdf_sha256 = ?, attached_at = ? WHERE id = ?")
                .bind(pdf_sha256)
                .bind(at)
                .bind(doc_id)
                .execute(&mut *tx)
                .await?;
            for (page_id, enc) in encodings {
                // The blank verdict goes into the page's flags, where the clerk sees it.
                sqlx::query(
                    "UPDATE pages SET state = 'attached', output_encoding = ?, \
                     flags = CASE WHEN ? THEN json_insert(flags, '$[#]', 'blank') ELSE flags END WHERE id = ?",
                )
                .bind(enc)
                .bind(enc.contains("blank"))
                .bind(page_id)
                .execute(&mut *tx)
                .await?;
            }
            let detail = serde_json::json!({ "bytes": bytes, "pages": encodings.len() });
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
        sqlx::query("UPDATE jobs SET state = 'done', last_error = NULL WHERE id = ?")
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts for a summary.
    pub async fn tally(&self) -> Result<Tally> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM intakes), \
                    (SELECT COUNT(*) FROM intakes WHERE state = 'quarantined'), \
                    (SELECT COUNT(*) FROM pages WHERE state = 'attached'), \
                    (SELECT COUNT(*) FROM pages WHERE state = 'unfiled'), \
                    (SELECT COUNT(*) FROM documents WHERE state = 'attached'), \
                    (SELECT COUNT(*) FROM jobs WHERE state <> 'done')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Tally {
            intakes: r.get(0),
            quarantined: r.get(1),
            pages_attached: r.get(2),
            pages_unfiled: r.get(3),
            documents: r.get(4),
            jobs_pending: r.get(5),
        })
    }

    /// Every recorded file and its kind, for fixity checks.
    pub async fn files(&self) -> Result<Vec<(String, i64, String)>> {
        Ok(sqlx::query_as("SELECT sha256, bytes, kind FROM files ORDER BY sha256").fetch_all(&self.pool).await?)
    }

    /// Appends an audit event outside any other operation (e.g. a fixity run).
    pub async fn log_event(&self, actor: &str, kind: &str, detail: &serde_json::Value, at: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        insert_event(&mut tx, at, actor, kind, None, None, None, None, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The underlying pool, for read-only views (case listings) and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

fn doc_from_row(r: sqlx::sqlite::SqliteRow) -> DocumentRow {
    DocumentRow {
        id: r.get(0),
        case_code: r.get(1),
        ordinal: r.get(2),
        role: r.get(3),
        doc_type: r.get(4),
        state: r.get(5),
        pdf_sha256: r.get(6),
        page_count: r.get(7),
    }
}

fn actor(station: &str, operator: Option<&str>) -> String {
    match operator {
        Some(op) if !op.is_empty() => format!("{station}/{op}"),
        _ => station.to_string(),
    }
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Sqlite>;

async fn insert_page(tx: &mut Tx<'_>, intake_id: &str, p: &NewPage) -> Result<()> {
    sqlx::query(
        "INSERT INTO pages (id, intake_id, page_index, width, height, dpi_x, dpi_y, dpi_source, colour, \
         source_encoding, case_code, role, doc_type, group_key, flags, state) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
    )
    .bind(new_id())
    .bind(intake_id)
    .bind(p.page_index as i64)
    .bind(p.width as i64)
    .bind(p.height as i64)
    .bind(p.dpi_x)
    .bind(p.dpi_y)
    .bind(p.dpi_source)
    .bind(p.colour)
    .bind(p.source_encoding)
    .bind(&p.case_code)
    .bind(&p.role)
    .bind(&p.doc_type)
    .bind(&p.group_key)
    .bind(serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_event(
    tx: &mut Tx<'_>,
    at: &str,
    actor: &str,
    kind: &str,
    case_code: Option<&str>,
    intake_id: Option<&str>,
    document_id: Option<&str>,
    sha256: Option<&str>,
    detail: &serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (at, actor, kind, case_code, intake_id, document_id, sha256, detail) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(actor)
    .bind(kind)
    .bind(case_code)
    .bind(intake_id)
    .bind(document_id)
    .bind(sha256)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Files pages into documents strictly in capture order, so ordinals follow input order whatever order
/// the split jobs finish in. Stops at the first input not split yet.
async fn assemble(tx: &mut Tx<'_>, at: &str, close_each_file: bool) -> Result<()> {
    loop {
        let next: Option<(String, String, i64)> =
            sqlx::query_as("SELECT id, state, seq FROM intakes WHERE assembled = 0 ORDER BY seq LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?;
        let Some((intake_id, state, _seq)) = next else {
            return honour_close_requests(tx, at).await;
        };
        if state == "captured" {
            return honour_close_requests(tx, at).await;
        }
        type PendingPage = (String, Option<String>, String, Option<String>, String, String);
        let pages: Vec<PendingPage> = sqlx::query_as(
            "SELECT id, case_code, role, doc_type, group_key, source_encoding FROM pages \
             WHERE intake_id = ? AND state = 'pending' ORDER BY page_index",
        )
        .bind(&intake_id)
        .fetch_all(&mut **tx)
        .await?;
        let mut touched: Vec<String> = Vec::new();
        for (page_id, case_code, role, doc_type, group_key, encoding) in pages {
            let Some(code) = case_code else {
                sqlx::query("UPDATE pages SET state = 'unfiled' WHERE id = ?")
                    .bind(&page_id)
                    .execute(&mut **tx)
                    .await?;
                continue;
            };
            sqlx::query("INSERT OR IGNORE INTO cases (id, code, created_at) VALUES (?, ?, ?)")
                .bind(new_id())
                .bind(&code)
                .bind(at)
                .execute(&mut **tx)
                .await?;
            // A born-digital PDF is its own document; it is never merged with scanned pages.
            let key = if encoding == "pdf" { format!("pdf:{intake_id}") } else { group_key };
            let open: Option<String> = sqlx::query_scalar(
                "SELECT id FROM documents WHERE state = 'open' AND case_code = ? AND group_key = ? AND role = ? \
                 AND doc_type IS ?",
            )
            .bind(&code)
            .bind(&key)
            .bind(&role)
            .bind(&doc_type)
            .fetch_optional(&mut **tx)
            .await?;
            let doc_id = match open {
                Some(id) => id,
                None => {
                    let id = new_id();
                    let ordinal: i64 =
                        sqlx::query_scalar("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM documents WHERE case_code = ?")
                            .bind(&code)
                            .fetch_one(&mut **tx)
                            .await?;
                    sqlx::query(
                        "INSERT INTO documents (id, case_code, ordinal, role, doc_type, group_key, state, created_at) \
                         VALUES (?, ?, ?, ?, ?, ?, 'open', ?)",
                    )
                    .bind(&id)
                    .bind(&code)
                    .bind(ordinal)
                    .bind(&role)
                    .bind(&doc_type)
                    .bind(&key)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                    id
                }
            };
            sqlx::query(
                "UPDATE pages SET state = 'filed', document_id = ?, \
                 page_no = (SELECT page_count + 1 FROM documents WHERE id = ?) WHERE id = ?",
            )
            .bind(&doc_id)
            .bind(&doc_id)
            .bind(&page_id)
            .execute(&mut **tx)
            .await?;
            sqlx::query("UPDATE documents SET page_count = page_count + 1, updated_ms = ? WHERE id = ?")
                .bind(now_ms())
                .bind(&doc_id)
                .execute(&mut **tx)
                .await?;
            if !touched.contains(&doc_id) {
                touched.push(doc_id);
            }
        }
        sqlx::query("UPDATE intakes SET assembled = 1 WHERE id = ?").bind(&intake_id).execute(&mut **tx).await?;
        if close_each_file {
            for d in touched {
                close_document(tx, &d, at).await?;
            }
        }
    }
}

/// Closes the groups whose close was requested once every input captured before the request is filed.
async fn honour_close_requests(tx: &mut Tx<'_>, at: &str) -> Result<()> {
    let filed_up_to: i64 = sqlx::query_scalar(
        "SELECT COALESCE((SELECT MIN(seq) - 1 FROM intakes WHERE assembled = 0), (SELECT COALESCE(MAX(seq), 0) FROM intakes))",
    )
    .fetch_one(&mut **tx)
    .await?;
    let due: Vec<(String, i64)> =
        sqlx::query_as("SELECT group_key, up_to_seq FROM close_requests WHERE up_to_seq <= ?")
            .bind(filed_up_to)
            .fetch_all(&mut **tx)
            .await?;
    for (group, up_to) in due {
        let docs: Vec<String> = sqlx::query_scalar("SELECT id FROM documents WHERE state = 'open' AND group_key = ?")
            .bind(&group)
            .fetch_all(&mut **tx)
            .await?;
        for d in docs {
            close_document(tx, &d, at).await?;
        }
        sqlx::query("DELETE FROM close_requests WHERE group_key = ? AND up_to_seq = ?")
            .bind(&group)
            .bind(up_to)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn close_document(tx: &mut Tx<'_>, doc_id: &str, at: &str) -> Result<()> {
    let r = sqlx::query("UPDATE documents SET state = 'closed' WHERE id = ? AND state = 'open'")
        .bind(doc_id)
        .execute(&mut **tx)
        .await?;
    if r.rows_affected() == 0 {
        return Ok(());
    }
    // The render job runs under the profile of the document's first input.
    let (profile, seq): (String, i64) = sqlx::query_as(
        "SELECT i.profile_sha256, i.seq FROM pages p JOIN intakes i ON i.id = p.intake_id \
         WHERE p.document_id = ? ORDER BY p.page_no LIMIT 1",
    )
    .bind(doc_id)
    .fetch_one(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT OR IGNORE INTO jobs (id, seq, kind, subject, state, profile_sha256, created_at) \
         VALUES (?, ?, 'render', ?, 'pending', ?, ?)",
    )
    .bind(new_id())
    .bind(seq)
    .bind(doc_id)
    .bind(profile)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
