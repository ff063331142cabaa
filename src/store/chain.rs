//! The audit log as a hash chain. Each event's `hash` is the SHA-256 of the previous event's hash and
//! its own fields; `prev_hash` repeats the previous one. A trigger refuses UPDATE and DELETE on
//! `events`, but a person with database rights can drop it: the chain makes such an edit show, at the
//! first event that no longer hashes right or no longer follows its predecessor. Each `verify` (full,
//! or `--events`) keeps anchors — the head it saw, in its own event; its own event, in the runs table
//! and in `audit-anchors.txt` beside the database — so cutting the log short before the newest anchor
//! shows at the next run. Events written after the newest anchor can be removed unseen until the next
//! run anchors them: the service's hourly check does, and the printed head can be kept elsewhere.
//!
//! Writers serialise on the chain's head: SQLite has one writer at a time; on PostgreSQL a
//! transaction-scoped advisory lock is taken before the head is read and held to commit, so two
//! transactions never extend the same head.

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::Records;
use super::db::{Tx, on_pool, on_tx};
use super::records::NewEvent;
use crate::error::Result;

/// The advisory lock key that serialises event writers on PostgreSQL ("766" and "log").
const CHAIN_LOCK: i64 = 766_0106;

/// The hash of one event: SHA-256 over a JSON array of the previous hash and the fields as stored
/// (absent fields as `null`; `detail` as its stored text, whatever `e.detail` holds), so no two
/// different events share an encoding.
pub(crate) fn event_hash(prev: &str, e: &NewEvent, detail: &str) -> String {
    let fields =
        serde_json::json!([prev, e.at, e.actor, e.kind, e.case_code, e.intake_id, e.document_id, e.sha256, detail]);
    hex::encode(Sha256::digest(fields.to_string().as_bytes()))
}

/// Takes the chain for this transaction (PostgreSQL) and returns the head to extend: the last event's
/// hash, `""` before the first chained event.
pub(crate) async fn head_for_append(tx: &mut Tx) -> Result<String> {
    if let Tx::Postgres(t) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CHAIN_LOCK).execute(&mut *t.conn()).await?;
    }
    let head: Option<Option<String>> =
        on_tx!(tx, |c| sqlx::query_scalar("SELECT hash FROM events ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *c)
            .await?);
    Ok(head.flatten().unwrap_or_default())
}

/// What walking the chain found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ChainCheck {
    /// Events walked.
    pub events: u64,
    /// Events from before the chain began (written by an earlier release), at the start of the log.
    pub unchained: u64,
    /// The last event's id and hash.
    pub head: Option<(i64, String)>,
    /// The first broken link: the event's id and what is wrong with it.
    pub broken: Option<(i64, String)>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    at: String,
    actor: String,
    kind: String,
    case_code: Option<String>,
    intake_id: Option<String>,
    document_id: Option<String>,
    sha256: Option<String>,
    detail: String,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl Records {
    /// Walks the whole audit log in order, re-hashing every event, and reports the first broken link.
    /// Streams: memory does not grow with the log.
    pub async fn check_event_chain(&self) -> Result<ChainCheck> {
        let mut out = ChainCheck::default();
        let mut prev: Option<String> = None;
        let mut last_id = 0i64;
        let mut step = |e: EventRow, out: &mut ChainCheck| {
            out.events += 1;
            if out.broken.is_some() {
                return;
            }
            let (Some(stored_prev), Some(stored)) = (e.prev_hash.as_deref(), e.hash.as_deref()) else {
                if prev.is_none() {
                    out.unchained += 1;
                } else {
                    out.broken = Some((e.id, "has no chain hash: it was written around sohoa".into()));
                }
                last_id = e.id;
                return;
            };
            let expected_prev = prev.as_deref().unwrap_or("");
            let fields = NewEvent {
                at: e.at,
                actor: e.actor,
                kind: e.kind,
                case_code: e.case_code,
                intake_id: e.intake_id,
                document_id: e.document_id,
                sha256: e.sha256,
                detail: serde_json::Value::Null,
            };
            let own = event_hash(stored_prev, &fields, &e.detail);
            if own != stored {
                out.broken = Some((e.id, "was changed after it was written: its fields no longer hash to it".into()));
            } else if stored_prev != expected_prev {
                out.broken = Some((
                    e.id,
                    format!(
                        "does not follow event {last_id}: an event between them was removed, or one was inserted \
                         or changed"
                    ),
                ));
            }
            out.head = Some((e.id, stored.to_string()));
            prev = Some(stored.to_string());
            last_id = e.id;
        };
        on_pool!(self.pool(), |p| {
            let mut rows = sqlx::query_as::<_, EventRow>(
                "SELECT id, at, actor, kind, case_code, intake_id, document_id, sha256, detail, prev_hash, hash \
                 FROM events ORDER BY id",
            )
            .fetch(p);
            while let Some(e) = rows.try_next().await? {
                step(e, &mut out);
            }
        });
        Ok(out)
    }

    /// The anchors earlier runs kept in the records (event id and hash): the newest run's own event,
    /// and the head the newest `fixity` event saw.
    pub async fn chain_anchors(&self) -> Result<Vec<(i64, String)>> {
        let run: Option<(i64, String)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT chain_head_id, chain_head FROM verify_runs WHERE chain_head_id IS NOT NULL \
             ORDER BY chain_head_id DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await?);
        let detail: Option<String> = on_pool!(self.pool(), |p| {
            sqlx::query_scalar(
            "SELECT detail FROM events WHERE kind = 'fixity' AND detail LIKE '%chain_head%' ORDER BY id DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await?
        });
        let event = detail.and_then(|d| {
            let v: serde_json::Value = serde_json::from_str(&d).ok()?;
            let h = &v["chain_head"];
            Some((h["id"].as_i64()?, h["hash"].as_str()?.to_string()))
        });
        Ok(run.into_iter().chain(event).collect())
    }

    /// Whether event `id` is still in the log with this hash (an anchor a later run checks).
    pub async fn event_has_hash(&self, id: i64, hash: &str) -> Result<bool> {
        let stored: Option<Option<String>> =
            on_pool!(self.pool(), |p| sqlx::query_scalar("SELECT hash FROM events WHERE id = $1")
                .bind(id)
                .fetch_optional(p)
                .await?);
        Ok(stored.flatten().as_deref() == Some(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_and_the_predecessor_change_the_hash() {
        let e = |actor: &str, case: Option<&str>, intake: Option<&str>| NewEvent {
            at: "2026-10-08T08:00:00+07:00".into(),
            actor: actor.into(),
            kind: "edit".into(),
            case_code: case.map(str::to_string),
            intake_id: intake.map(str::to_string),
            document_id: None,
            sha256: None,
            detail: serde_json::Value::Null,
        };
        let base = event_hash("", &e("lan", Some("C"), None), "{}");
        assert_eq!(base.len(), 64);
        assert_ne!(base, event_hash("x", &e("lan", Some("C"), None), "{}"));
        assert_ne!(base, event_hash("", &e("lân", Some("C"), None), "{}"));
        assert_ne!(base, event_hash("", &e("lan", Some("C"), None), "{\"a\":1}"));
        // A field moved to its neighbour is another event.
        assert_ne!(base, event_hash("", &e("lan", None, Some("C")), "{}"));
    }
}
