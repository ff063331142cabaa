//! Fixity runs in the records: where a run stands (so an interrupted one resumes), and every problem
//! it found as an audit event.

use super::Records;
use super::db::{on_pool, on_tx};
use super::records::{insert_event, new_id};
use crate::error::Result;

/// A fixity run as recorded.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VerifyRun {
    /// Run id.
    pub id: String,
    /// The last file checked, in hash order (`""` before the first).
    pub last_sha256: String,
    /// Files checked so far.
    pub checked: i64,
    /// Problems found so far.
    pub failures: i64,
}

impl Records {
    /// Starts a run over a window, or with `resume`, continues the newest unfinished run of the same
    /// window (a new run when there is none).
    pub async fn start_verify_run(
        &self,
        since: Option<&str>,
        until: Option<&str>,
        resume: bool,
        at: &str,
    ) -> Result<VerifyRun> {
        if resume {
            let open: Option<VerifyRun> = on_pool!(self.pool(), |p| {
                sqlx::query_as(
                "SELECT id, last_sha256, checked, failures FROM verify_runs WHERE finished_at IS NULL \
                 AND since IS NOT DISTINCT FROM $1 AND until IS NOT DISTINCT FROM $2 ORDER BY started_at DESC, id DESC LIMIT 1",
            )
            .bind(since)
            .bind(until)
            .fetch_optional(p)
            .await?
            });
            if let Some(run) = open {
                return Ok(run);
            }
        }
        let id = new_id();
        let mut w = self.pool().autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "INSERT INTO verify_runs (id, started_at, since, until) VALUES ($1, $2, $3, $4)"
        )
        .bind(&id)
        .bind(at)
        .bind(since)
        .bind(until)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(VerifyRun { id, last_sha256: String::new(), checked: 0, failures: 0 })
    }

    /// Records progress and the problems just found, in one transaction. `last` empty keeps the
    /// position.
    #[allow(clippy::too_many_arguments)]
    pub async fn checkpoint_verify_run(
        &self,
        id: &str,
        last: &str,
        checked: i64,
        failures: i64,
        found: &[Problem],
        actor: &str,
        at: &str,
    ) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE verify_runs SET last_sha256 = CASE WHEN $1 = '' THEN last_sha256 ELSE $1 END, \
             checked = $2, failures = $3 WHERE id = $4",
        )
        .bind(last)
        .bind(checked)
        .bind(failures)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        for p in found {
            let sha = match p {
                Problem::Changed { sha256, .. }
                | Problem::Missing { sha256 }
                | Problem::Unexpected { sha256 }
                | Problem::Unreadable { sha256, .. }
                | Problem::ViewChanged { sha256, .. }
                | Problem::ViewMissing { sha256, .. }
                | Problem::PackageDiffers { sha256, .. } => Some(sha256.as_str()),
                Problem::EventChain { .. } => None,
            };
            let detail = serde_json::json!({ "run": id, "found": p });
            insert_event(&mut tx, at, actor, "fixity-problem", None, None, None, sha, &detail).await?;
        }
        tx.commit().await
    }

    /// Problems a run recorded so far, in the order found.
    pub async fn verify_run_problems(&self, id: &str) -> Result<Vec<Problem>> {
        let rows: Vec<String> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT detail FROM events WHERE kind = 'fixity-problem' ORDER BY id"
        )
        .fetch_all(p)
        .await?);
        Ok(rows
            .iter()
            .filter_map(|d| serde_json::from_str::<serde_json::Value>(d).ok())
            .filter(|v| v["run"] == id)
            .filter_map(|v| serde_json::from_value(v["found"].clone()).ok())
            .collect())
    }

    /// Marks a run finished and records the `fixity` event that sums it up. When `detail` carries a
    /// `chain_head` (the audit log was intact), the run keeps its own event as the chain's anchor and
    /// returns it (id, hash): removing that event, or anything before it, then shows.
    pub async fn finish_verify_run(
        &self,
        id: &str,
        actor: &str,
        detail: &serde_json::Value,
        at: &str,
    ) -> Result<Option<(i64, String)>> {
        let mut tx = self.pool().begin_write().await?;
        insert_event(&mut tx, at, actor, "fixity", None, None, None, None, detail).await?;
        let anchor = if detail.get("chain_head").is_some() { Some(last_event(&mut tx).await?) } else { None };
        let (head_id, head_hash) = (anchor.as_ref().map(|a| a.0), anchor.as_ref().map(|a| a.1.clone()));
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE verify_runs SET finished_at = $1, chain_head_id = $2, chain_head = $3 WHERE id = $4"
        )
        .bind(at)
        .bind(head_id)
        .bind(&head_hash)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        tx.commit().await?;
        Ok(anchor)
    }

    /// Records a check of the audit log alone (`verify --events`) as a `fixity` event, and returns that
    /// event (id, hash) as the chain's new anchor.
    pub async fn record_events_check(
        &self,
        actor: &str,
        detail: &serde_json::Value,
        at: &str,
    ) -> Result<(i64, String)> {
        let mut tx = self.pool().begin_write().await?;
        insert_event(&mut tx, at, actor, "fixity", None, None, None, None, detail).await?;
        let anchor = last_event(&mut tx).await?;
        tx.commit().await?;
        Ok(anchor)
    }

    /// Recorded files stored between two local dates (inclusive; either end open), after `after` in
    /// hash order.
    pub async fn files_stored(&self, since: Option<&str>, until: Option<&str>, after: &str) -> Result<Vec<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT sha256 FROM files WHERE sha256 > $1 \
             AND ($2 IS NULL OR substr(stored_at, 1, 10) >= $2) AND ($3 IS NULL OR substr(stored_at, 1, 10) <= $3) \
             ORDER BY sha256",
        )
        .bind(after)
        .bind(since)
        .bind(until)
        .fetch_all(p)
        .await?))
    }
}

impl Records {
    /// Fixity failures found by every verify run, and by the last one that finished (for `/metrics`).
    pub async fn verify_failures(&self) -> Result<(i64, i64)> {
        let total: i64 = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(failures), 0) AS BIGINT) FROM verify_runs"
        )
        .fetch_one(p)
        .await?);
        let last: Option<i64> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT failures FROM verify_runs WHERE finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await?);
        Ok((total, last.unwrap_or(0)))
    }
}

/// The newest event's id and hash, inside the transaction that just wrote it.
async fn last_event(tx: &mut super::db::Tx) -> Result<(i64, String)> {
    let row: (i64, Option<String>) =
        on_tx!(tx, |c| sqlx::query_as("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1")
            .fetch_one(&mut *c)
            .await?);
    Ok((row.0, row.1.unwrap_or_default()))
}

/// One problem a fixity check found (`crate::fixity` runs the checks; the record of a run keeps them here,
/// below the checks, so that the store depends on nothing above it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// A case folder's copy of an attached PDF (what a clerk opens) is not the recorded file.
    #[serde(rename = "view-changed")]
    ViewChanged {
        /// The view, relative to the data folder.
        view: String,
        /// The recorded PDF's hash.
        sha256: String,
        /// What the view hashes to now.
        actual: String,
    },
    /// A case folder's copy of an attached PDF is not there.
    #[serde(rename = "view-missing")]
    ViewMissing {
        /// The view, relative to the data folder.
        view: String,
        /// The recorded PDF's hash.
        sha256: String,
    },
    /// A file of an exported package whose hash is not what the records hold for it (a PDF changed
    /// together with its manifest line), or that the records do not know.
    #[serde(rename = "package-differs")]
    PackageDiffers {
        /// The file, relative to the package.
        path: String,
        /// Its hash, in the package.
        sha256: String,
        /// What the records hold for it (`None`: nothing).
        recorded: Option<String>,
    },
    /// The audit log's hash chain is broken: an event was changed, removed or inserted around sohoa, or
    /// the log was cut short after the head an earlier run recorded.
    #[serde(rename = "event-chain")]
    EventChain {
        /// The first event where it shows.
        event: i64,
        /// What is wrong, in words.
        what: String,
    },
}
