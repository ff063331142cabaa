//! A second copy of every stored byte, in another folder or bucket (Decree 02/2019's two independent
//! copies), kept in step from the records.
//!
//! The records say which files exist; the replica is brought up to them, never the other way round.
//! Each missing file is read from the primary store and streamed into the replica, hashed on the way:
//! a copy whose hash is not its name is dropped and reported, never stored, so a damaged primary never
//! spreads to the replica. Files already there are left alone, so a run can be repeated or interrupted
//! and run again at no cost but a look-up per file.

use std::sync::Arc;

use serde::Serialize;

use super::db::{on_pool, on_tx};
use super::records::now_ms;
use super::{BlobStore, Records};
use crate::error::{Failure, Result};

/// Files taken from the records per round trip: the run's memory does not grow with the store.
const PAGE: i64 = 500;

/// What a replication pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaReport {
    /// Recorded files looked at.
    pub checked: u64,
    /// Files copied in this pass.
    pub copied: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// Files that could not be copied, with why: the replica lags by these.
    pub failed: Vec<(String, String)>,
}

/// Copies to `to` every file recorded after `after` (a SHA-256; "" for all) that it lacks, in hash
/// order, calling `progress(checked, copied)` after each page.
pub async fn replicate(
    records: &Records,
    from: Arc<dyn BlobStore>,
    to: Arc<dyn BlobStore>,
    mut progress: impl FnMut(&ReplicaReport),
) -> Result<ReplicaReport> {
    let mut report = ReplicaReport::default();
    let mut after = String::new();
    loop {
        let page = records.files_page(&after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        for (sha, r) in copy_page(&from, &to, page).await? {
            report.checked += 1;
            match r {
                Ok(Some(n)) => {
                    report.copied += 1;
                    report.bytes += n;
                }
                Ok(None) => {}
                Err(why) => {
                    tracing::error!(alarm = true, sha256 = %sha, error = %why, "could not copy a file to the replica");
                    report.failed.push((sha, why));
                }
            }
        }
        progress(&report);
    }
    Ok(report)
}

/// How old a file's record must be before the service copies it. A row whose transaction committed
/// late, or written by a machine whose clock runs a little behind, can carry an earlier `stored_ms` than
/// one already copied; leaving the youngest files for the next round keeps the cursor from passing them.
const SETTLE_MS: i64 = 10_000;

/// How far a replica the service keeps in step has come.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ReplicaState {
    /// The replica's address, as the service was given it.
    pub target: String,
    /// Recorded files not copied yet.
    pub behind: i64,
    /// When the cursor last moved (ms since the epoch); 0 when it never has.
    pub updated_ms: i64,
}

impl Records {
    async fn replica_cursor(&self, target: &str) -> Result<(i64, String)> {
        let row: Option<(i64, String)> =
            on_pool!(self.pool(), |p| sqlx::query_as("SELECT stored_ms, sha256 FROM replicas WHERE target = $1")
                .bind(target)
                .fetch_optional(p)
                .await?);
        Ok(row.unwrap_or((0, String::new())))
    }

    /// Files recorded after the cursor and before `before_ms`, in the order they were stored.
    async fn files_after(&self, cursor: &(i64, String), before_ms: i64) -> Result<Vec<(i64, String)>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT stored_ms, sha256 FROM files WHERE (stored_ms > $1 OR (stored_ms = $1 AND sha256 > $2)) \
             AND stored_ms < $3 ORDER BY stored_ms, sha256 LIMIT $4"
        )
        .bind(cursor.0)
        .bind(&cursor.1)
        .bind(before_ms)
        .bind(PAGE)
        .fetch_all(p)
        .await?))
    }

    /// Moves a replica's cursor forward (never back: two processes keeping the same replica only ever
    /// agree on the further point).
    async fn advance_replica(&self, target: &str, cursor: &(i64, String)) -> Result<()> {
        let mut w = self.jobs.autocommit().await?;
        on_tx!(&mut w, |c| sqlx::query(
            "INSERT INTO replicas (target, stored_ms, sha256, updated_ms) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (target) DO UPDATE SET stored_ms = excluded.stored_ms, sha256 = excluded.sha256, \
             updated_ms = excluded.updated_ms \
             WHERE replicas.stored_ms < excluded.stored_ms \
                OR (replicas.stored_ms = excluded.stored_ms AND replicas.sha256 <= excluded.sha256)"
        )
        .bind(target)
        .bind(cursor.0)
        .bind(&cursor.1)
        .bind(now_ms())
        .execute(&mut *c)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Every replica the service keeps, with how many recorded files it lacks (`status`, `/metrics`).
    pub async fn replicas(&self) -> Result<Vec<ReplicaState>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT r.target, (SELECT COUNT(*) FROM files f WHERE f.stored_ms > r.stored_ms \
                 OR (f.stored_ms = r.stored_ms AND f.sha256 > r.sha256)) AS behind, r.updated_ms \
             FROM replicas r ORDER BY r.target"
        )
        .fetch_all(p)
        .await?))
    }
}

/// One round of the service's replica keeping: every file recorded since the replica's cursor (and
/// settled, see `SETTLE_MS`) is copied and the cursor moved past it. A file that cannot be copied
/// stops the round there, so it is tried again next round and the lag shows it meanwhile.
pub async fn follow(
    records: &Records,
    from: Arc<dyn BlobStore>,
    to: Arc<dyn BlobStore>,
    target: &str,
) -> Result<ReplicaReport> {
    let mut report = ReplicaReport::default();
    let mut cursor = records.replica_cursor(target).await?;
    loop {
        let page = records.files_after(&cursor, now_ms() - SETTLE_MS).await?;
        if page.is_empty() {
            break;
        }
        let done = copy_page(&from, &to, page.iter().map(|(_, s)| s.clone()).collect()).await?;
        let mut stopped = false;
        for ((ms, sha), (_, r)) in page.into_iter().zip(done) {
            report.checked += 1;
            match r {
                Ok(copied) => {
                    if let Some(n) = copied {
                        report.copied += 1;
                        report.bytes += n;
                    }
                    cursor = (ms, sha);
                }
                Err(why) => {
                    tracing::error!(alarm = true, sha256 = %sha, replica = target, error = %why, "could not copy a file to the replica; will try again");
                    report.failed.push((sha, why));
                    stopped = true;
                    break;
                }
            }
        }
        records.advance_replica(target, &cursor).await?;
        if stopped {
            break;
        }
    }
    Ok(report)
}

/// What copying one file came to: `Some(bytes)` copied, `None` already there, or why not.
type Copied = (String, std::result::Result<Option<u64>, String>);

/// Copies a page of files on the blocking pool, each unless the replica has it.
async fn copy_page(from: &Arc<dyn BlobStore>, to: &Arc<dyn BlobStore>, page: Vec<String>) -> Result<Vec<Copied>> {
    let (from, to) = (from.clone(), to.clone());
    crate::util::cpu::blocking(move || page.into_iter().map(|sha| copy_one(&*from, &*to, sha)).collect())
        .await
        .map_err(|e| Failure::transient("replication task", e))
}

/// Copies one file unless the replica has it: `Some(bytes)` copied, `None` already there.
fn copy_one(from: &dyn BlobStore, to: &dyn BlobStore, sha: String) -> Copied {
    let r = (|| {
        if to.contains(&sha).map_err(|e| e.to_string())? {
            return Ok(None);
        }
        let mut source = from.open(&sha).map_err(|e| format!("reading it from the primary store: {e}"))?;
        let staged = to.stage(&mut source).map_err(|e| format!("writing it to the replica: {e}"))?;
        if staged.sha256 != sha {
            let actual = staged.sha256.clone();
            let _ = to.discard(staged);
            return Err(format!(
                "the primary store's bytes hash to {actual}, not to their record: not copied (run `sohoa verify`)"
            ));
        }
        let n = staged.bytes;
        to.persist(vec![staged]).map_err(|e| format!("writing it to the replica: {e}"))?;
        Ok(Some(n))
    })();
    (sha, r)
}
