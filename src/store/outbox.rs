//! The outbox: what the one-stop system is still owed. Every attach, detach and correction writes an
//! entry in the transaction of the change itself, so a change the records hold is never one the
//! one-stop system will not hear of. The sender ([`crate::deliver`]) takes entries case by case in
//! order and records each receipt here.
//!
//! An entry is `pending` until delivered. A transient failure (a 5xx, a timeout, a refused connection)
//! puts it back with a later `next_ms`; a rejection (a 4xx, or an entry that cannot be built) sets it
//! `rejected` with the remote's message, and the rest of its case waits behind it until a clerk has
//! fixed the cause and retried it. Delivery is at least once: an entry sent again after a crash carries
//! the same idempotency key, by which the receiver knows it.

use serde::Serialize;

use super::Records;
use super::db::{Tx, on_pool, on_tx};
use super::records::{insert_event, now_ms};
use crate::error::Result;

/// How a removal's key differs from the attach of the same version.
const REMOVED: &str = "/removed";

/// Writes the outbox entry for a change to document `doc_id`, from its row as the transaction now has
/// it. `operation` is `attach`, `detach` or `correct`.
pub(crate) async fn enqueue(tx: &mut Tx, at: &str, doc_id: &str, operation: &str) -> Result<()> {
    let suffix = if operation == "detach" { REMOVED } else { "" };
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO outbox (at, case_code, document_id, ordinal, operation, role, doc_type, pdf_sha256, version, idem_key) \
         SELECT $1, case_code, id, ordinal, $2, role, doc_type, pdf_sha256, version, \
                case_code || '/' || ordinal || '/' || COALESCE(pdf_sha256, '') || '/v' || version || $3 \
         FROM documents WHERE id = $4"
    )
    .bind(at)
    .bind(operation)
    .bind(suffix)
    .bind(doc_id)
    .execute(&mut *c)
    .await?
    .rows_affected()
    });
    Ok(())
}

/// The `remote_status` of a receipt the remote wrote into an exchange folder (no HTTP involved).
pub const RECEIPT_FILE: i64 = 1;

/// One outbox entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxEntry {
    /// Its number, in the order the changes were committed.
    pub id: i64,
    /// When the change was made.
    pub at: String,
    /// The case.
    pub case_code: String,
    /// The document.
    pub document_id: String,
    /// The document's ordinal in its case.
    pub ordinal: i64,
    /// `attach`, `detach` or `correct`.
    pub operation: String,
    /// `input` or `result`.
    pub role: String,
    /// The document's type.
    pub doc_type: Option<String>,
    /// The PDF the change is about.
    pub pdf_sha256: Option<String>,
    /// The document's version.
    pub version: i64,
    /// The idempotency key the receiver sees.
    pub idem_key: String,
    /// `pending`, `delivered` or `rejected`.
    pub state: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due (ms since the epoch).
    pub next_ms: i64,
    /// The last transient failure, while it is retried.
    pub error: Option<String>,
    /// The remote's HTTP status (0 for a refusal made here: the entry could not be built).
    pub remote_status: Option<i64>,
    /// The remote's id for what it received.
    pub remote_id: Option<String>,
    /// The remote's message: why it refused, or what it said on receipt.
    pub remote_message: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<String>,
}

impl OutboxEntry {
    /// Whether the entry tells the remote that a document is gone.
    pub fn removes(&self) -> bool {
        self.operation == "detach"
    }

    /// The document's file name, as everywhere else: `<code>.<NNN>.pdf`.
    pub fn file_name(&self) -> String {
        format!("{}.{:03}.pdf", self.case_code, self.ordinal)
    }
}

const COLUMNS: &str = "id, at, case_code, document_id, ordinal, operation, role, doc_type, pdf_sha256, version, \
     idem_key, state, attempts, next_ms, error, remote_status, remote_id, remote_message, delivered_at";

/// What the receiver said about an entry it took.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Receipt {
    /// HTTP status ([`RECEIPT_FILE`] for a receipt file in an exchange folder).
    pub status: i64,
    /// The remote's id for it, when it said one.
    pub remote_id: Option<String>,
    /// What it said.
    pub message: Option<String>,
}

/// How far delivery has come, for `status`, `/metrics` and the clerk page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxCounts {
    /// Waiting to be delivered (including those backing off).
    pub pending: i64,
    /// Delivered.
    pub delivered: i64,
    /// Refused by the remote, waiting for a clerk.
    pub rejected: i64,
    /// Milliseconds since the oldest pending entry was written (0 when none waits).
    pub oldest_pending_ms: i64,
}

/// Which entries a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Every entry, newest first.
    All,
    /// Not delivered yet (pending or rejected).
    Undelivered,
    /// Rejected, or pending after a failure.
    Failed,
}

impl Records {
    /// Pending entries due now, each the first undelivered one of its case (a case's changes reach the
    /// remote in the order they were made; a rejected entry holds back the rest of its case).
    pub async fn outbox_due(&self, now: i64, limit: i64) -> Result<Vec<OutboxEntry>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox o WHERE o.state = 'pending' AND o.next_ms <= $1 AND o.claimed_ms < $1 \
             AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.case_code = o.case_code AND e.id < o.id \
                             AND e.state <> 'delivered') \
             ORDER BY o.id LIMIT $2"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(now)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// When the next pending entry is due (ms since the epoch), if any waits.
    pub async fn outbox_next_due(&self) -> Result<Option<i64>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT MIN(CASE WHEN next_ms > claimed_ms THEN next_ms ELSE claimed_ms END) FROM outbox \
             WHERE state = 'pending'"
        )
        .fetch_one(p)
        .await?))
    }

    /// Takes an entry for delivery until `until` (ms): `false` when another sender has it, or it is no
    /// longer pending. A sender that dies holding it lets it go at `until`.
    pub async fn claim_outbox(&self, id: i64, now: i64, until: i64) -> Result<bool> {
        let mut w = self.pool().autocommit().await?;
        let n = on_tx!(&mut w, |c| sqlx::query(
            "UPDATE outbox SET claimed_ms = $1, attempts = attempts + 1, claimed_by = $4 \
             WHERE id = $2 AND state = 'pending' AND claimed_ms < $3"
        )
        .bind(until)
        .bind(id)
        .bind(now)
        .bind(&*self.worker)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Lets go of the entries a dead process of this host and data folder held (killed between send and
    /// receipt): they are due again at once instead of when the claim runs out. The receiver knows a
    /// repeat by its idempotency key.
    pub async fn release_dead_claims(&self) -> Result<u64> {
        let holders: Vec<String> = on_pool!(self.pool(), |p| {
            sqlx::query_scalar(
            "SELECT DISTINCT claimed_by FROM outbox WHERE state = 'pending' AND claimed_ms > 0 AND claimed_by IS NOT NULL"
        )
        .fetch_all(p)
        .await?
        });
        let mut n = 0;
        for dead in holders.iter().filter(|h| super::jobs::is_dead_neighbour(&self.worker, h)) {
            let mut w = self.pool().autocommit().await?;
            n += on_tx!(&mut w, |c| sqlx::query(
                "UPDATE outbox SET claimed_ms = 0 WHERE state = 'pending' AND claimed_by = $1"
            )
            .bind(dead)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        Ok(n)
    }

    /// Records a delivery with its receipt, and a `deliver` event on the case.
    pub async fn outbox_delivered(&self, e: &OutboxEntry, receipt: &Receipt, at: &str) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        let n = on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE outbox SET state = 'delivered', delivered_at = $1, remote_status = $2, remote_id = $3, \
             remote_message = $4, error = NULL, claimed_ms = 0 WHERE id = $5 AND state = 'pending'"
        )
        .bind(at)
        .bind(receipt.status)
        .bind(&receipt.remote_id)
        .bind(&receipt.message)
        .bind(e.id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        if n == 1 {
            let detail = serde_json::json!({ "outbox": e.id, "key": e.idem_key, "operation": e.operation,
                "ordinal": e.ordinal, "version": e.version, "receipt": receipt });
            let sha = e.pdf_sha256.as_deref();
            insert_event(&mut tx, at, "sohoa", "deliver", Some(&e.case_code), None, Some(&e.document_id), sha, &detail)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Puts an entry back after a transient failure, due again at `next_ms`.
    pub async fn outbox_retry_later(&self, id: i64, error: &str, next_ms: i64) -> Result<()> {
        let mut w = self.pool().autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "UPDATE outbox SET error = $1, next_ms = $2, claimed_ms = 0 WHERE id = $3 AND state = 'pending'"
        )
        .bind(error)
        .bind(next_ms)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Sets an entry rejected with the remote's status and message, and a `deliver-rejected` event: it
    /// and the rest of its case wait for a clerk.
    pub async fn outbox_rejected(&self, e: &OutboxEntry, status: i64, message: &str, at: &str) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        let n = on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE outbox SET state = 'rejected', remote_status = $1, remote_message = $2, error = NULL, \
             claimed_ms = 0 WHERE id = $3 AND state = 'pending'"
        )
        .bind(status)
        .bind(message)
        .bind(e.id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        if n == 1 {
            let detail = serde_json::json!({ "outbox": e.id, "key": e.idem_key, "status": status, "message": message });
            let sha = e.pdf_sha256.as_deref();
            // A refusal made here (the entry could not be built) is not the remote's.
            let kind = if status == 0 { "deliver-unsendable" } else { "deliver-rejected" };
            insert_event(&mut tx, at, "sohoa", kind, Some(&e.case_code), None, Some(&e.document_id), sha, &detail)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A clerk sends a rejected entry again (after fixing what the remote complained of): pending, due
    /// now, with an `outbox-retry` event. `None` when no entry has that number; the entry as it was
    /// otherwise (a delivered or pending one is left alone).
    pub async fn outbox_retry(&self, id: i64, actor: &str, at: &str) -> Result<Option<OutboxEntry>> {
        let mut tx = self.pool().begin_write().await?;
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        let entry: Option<OutboxEntry> = on_tx!(&mut tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(&mut *c)
            .await?);
        let Some(entry) = entry else {
            tx.rollback().await?;
            return Ok(None);
        };
        if entry.state == "rejected" {
            on_tx!(&mut tx, |c| sqlx::query(
                "UPDATE outbox SET state = 'pending', next_ms = 0, claimed_ms = 0, attempts = 0 WHERE id = $1"
            )
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected());
            let detail = serde_json::json!({ "outbox": id, "key": entry.idem_key,
                "was": { "status": entry.remote_status, "message": entry.remote_message } });
            insert_event(
                &mut tx,
                at,
                actor,
                "outbox-retry",
                Some(&entry.case_code),
                None,
                Some(&entry.document_id),
                None,
                &detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(entry))
    }

    /// Entries for `sohoa outbox`, the API and the clerk page, newest first, at most `limit`.
    pub async fn outbox_list(&self, which: Listing, case: Option<&str>, limit: i64) -> Result<Vec<OutboxEntry>> {
        let filter = match which {
            Listing::All => "TRUE",
            Listing::Undelivered => "state <> 'delivered'",
            // An entry waiting for its case's data (a `"held":true` reason) has not failed.
            Listing::Failed => {
                "(state = 'rejected' OR (state = 'pending' AND error IS NOT NULL AND error NOT LIKE '%\"held\":true%'))"
            }
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM outbox WHERE {filter} AND ($1 IS NULL OR case_code = $1) ORDER BY id DESC LIMIT $2"
        );
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(case)
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// One entry by its number.
    pub async fn outbox_entry(&self, id: i64) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE id = $1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(p)
            .await?))
    }

    /// How many entries wait, were delivered, were refused; how old the oldest waiting one is.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts> {
        let (pending, delivered, rejected, oldest): (i64, i64, i64, Option<String>) =
            on_pool!(self.pool(), |p| sqlx::query_as(
                "SELECT COALESCE(SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END), 0), \
                        COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0), \
                        COALESCE(SUM(CASE WHEN state = 'rejected' THEN 1 ELSE 0 END), 0), \
                        (SELECT at FROM outbox WHERE state = 'pending' ORDER BY id LIMIT 1) FROM outbox"
            )
            .fetch_one(p)
            .await?);
        let oldest_pending_ms = oldest
            .and_then(|at| crate::util::time::parse_iso(&at))
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
            .map(|ms| (now_ms() - ms).max(0))
            .unwrap_or(0);
        Ok(OutboxCounts { pending, delivered, rejected, oldest_pending_ms })
    }

    /// Whether an entry of the case before `id` was delivered: the remote knows the case already
    /// (`isUpdating`).
    pub async fn case_delivered_before(&self, case: &str, id: i64) -> Result<bool> {
        let n: i64 = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE case_code = $1 AND id < $2 AND state = 'delivered'"
        )
        .bind(case)
        .bind(id)
        .fetch_one(p)
        .await?);
        Ok(n > 0)
    }

    /// The entry with an idempotency key (the newest, if a key was written twice), for a receipt read
    /// back from an exchange folder.
    pub async fn outbox_by_key(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let sql = format!("SELECT {COLUMNS} FROM outbox WHERE idem_key = $1 ORDER BY id DESC LIMIT 1");
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(key)
            .fetch_optional(p)
            .await?))
    }

    /// Replaces a delivered entry's receipt with what the remote wrote later (a folder's receipt file);
    /// a refusal sets it rejected, for a clerk to see and retry.
    pub async fn outbox_receipt(&self, id: i64, receipt: &Receipt, refused: bool) -> Result<()> {
        let mut w = self.pool().autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "UPDATE outbox SET remote_status = $1, remote_id = $2, remote_message = $3, \
             state = CASE WHEN $4 THEN 'rejected' ELSE state END WHERE id = $5"
        )
        .bind(receipt.status)
        .bind(&receipt.remote_id)
        .bind(&receipt.message)
        .bind(refused)
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    /// A case's documents the remote may know of (attached, or detached after it was told), by ordinal.
    pub async fn case_documents_for_delivery(&self, code: &str) -> Result<Vec<super::documents::DocumentRow>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id, case_code, ordinal, role, doc_type, state, pdf_sha256, page_count, version FROM documents \
             WHERE case_code = $1 AND state IN ('attached', 'detached') AND pdf_sha256 IS NOT NULL ORDER BY ordinal"
        )
        .bind(code)
        .fetch_all(p)
        .await?))
    }

    /// A PDF sohoa made, by hash: its size and the case and file name it was made for (a signed link's
    /// download; `None` for any other file).
    pub async fn made_pdf(&self, sha256: &str) -> Result<Option<(i64, String, i64)>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT f.bytes, d.case_code, d.ordinal FROM files f \
             JOIN document_versions v ON v.pdf_sha256 = f.sha256 JOIN documents d ON d.id = v.document_id \
             WHERE f.sha256 = $1 AND f.kind = 'pdf' ORDER BY v.version DESC LIMIT 1"
        )
        .bind(sha256)
        .fetch_optional(p)
        .await?))
    }

    /// The key that signs download links, made on first use and shared by every process of the service
    /// (they all read it from the records).
    pub async fn link_secret(&self) -> Result<Vec<u8>> {
        let read = || async {
            let v: Option<String> =
                on_pool!(self.pool(), |p| sqlx::query_scalar("SELECT value FROM secrets WHERE name = 'links'")
                    .fetch_optional(p)
                    .await?);
            Ok::<_, crate::error::Failure>(v)
        };
        if let Some(v) = read().await? {
            return Ok(hex::decode(v).unwrap_or_default());
        }
        let fresh = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut w = self.pool().autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ('links', $1) ON CONFLICT DO NOTHING"
        )
        .bind(&fresh)
        .execute(&mut *c)
        .await?
        .rows_affected());
        drop(w);
        Ok(hex::decode(read().await?.unwrap_or(fresh)).unwrap_or_default())
    }
}
