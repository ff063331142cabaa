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
        let (from, to) = (from.clone(), to.clone());
        let done =
            crate::util::cpu::blocking(move || page.into_iter().map(|sha| copy_one(&*from, &*to, sha)).collect())
                .await
                .map_err(|e| Failure::transient("replication task", e))?;
        let done: Vec<(String, std::result::Result<Option<u64>, String>)> = done;
        for (sha, r) in done {
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

/// Copies one file unless the replica has it: `Some(bytes)` copied, `None` already there.
fn copy_one(
    from: &dyn BlobStore,
    to: &dyn BlobStore,
    sha: String,
) -> (String, std::result::Result<Option<u64>, String>) {
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
