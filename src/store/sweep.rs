//! The orphan sweep: bytes written but never committed (a crash between the blob write and the
//! transaction) are removed once they are older than a grace period, so `verify` never counts them.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::{BlobStore, Records};
use crate::error::Result;

/// What a sweep removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    /// Temporaries of interrupted writes.
    pub temporaries: u64,
    /// Stored blobs that no record names.
    pub orphans: u64,
}

/// Removes temporaries and unrecorded blobs older than `grace`. The grace period protects writes in
/// flight: a blob is persisted a moment before the transaction that records it commits.
pub async fn sweep(records: &Records, blobs: Arc<dyn BlobStore>, grace: Duration) -> Result<SweepReport> {
    let recorded: HashSet<String> = records.files().await?.into_iter().map(|(s, _, _)| s).collect();
    let grace = grace.as_secs();
    crate::util::cpu::blocking(move || {
        let mut report = SweepReport::default();
        for (token, age) in blobs.stale_temporaries()? {
            if age >= grace {
                blobs.remove_temporary(&token)?;
                report.temporaries += 1;
            }
        }
        for sha in blobs.list()? {
            if !recorded.contains(&sha) && blobs.age(&sha)? >= grace {
                tracing::info!(sha256 = %sha, "removing a blob no record names (written before a crash, never committed)");
                blobs.remove(&sha)?;
                report.orphans += 1;
            }
        }
        Ok(report)
    })
    .await
    .map_err(|e| crate::error::Failure::transient("sweep task", e))?
}
