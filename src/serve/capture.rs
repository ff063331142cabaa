//! The capture loop: what the watchers found, committed in batches, then the workers woken.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Notify, mpsc, watch};

use crate::intake::{Candidate, Capturer};
use crate::store::Records;
use crate::store::assembly::GroupKey;
use crate::util::{retry, time};
use crate::watch::Found;

/// Files a capture batch holds at most: one transaction each, so a burst of scans is a few commits.
const BATCH: usize = 32;

/// Takes what every station's watcher found, captures files in batches (one transaction per station
/// and batch), then honours the marker files seen after them — a marker closes its folder's document
/// only once the files before it are recorded.
pub struct CaptureLoop {
    /// What the watchers found, with the index of the station (into `capturers`).
    pub found: mpsc::Receiver<(usize, Found)>,
    /// One capturer per station, in the order of the profiles.
    pub capturers: Vec<Capturer>,
    /// Where a marker's close request is recorded.
    pub records: Records,
    /// Notified after every batch, so idle workers look for the new jobs at once.
    pub wake: Arc<Notify>,
}

impl CaptureLoop {
    /// Runs until the stop signal or until every watcher is gone.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            let first = tokio::select! {
                f = self.found.recv() => f,
                _ = stop.changed() => None,
            };
            let Some(first) = first else { return };
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match self.found.try_recv() {
                    Ok(f) => batch.push(f),
                    Err(_) => break,
                }
            }
            let mut files: HashMap<usize, Vec<Candidate>> = HashMap::new();
            let mut markers = Vec::new();
            for (station, f) in batch {
                match f {
                    Found::File(c) => files.entry(station).or_default().push(c),
                    Found::Marker { path, folder_path } => markers.push((path, folder_path)),
                }
            }
            for (station, cands) in files {
                let Some(c) = self.capturers.get(station) else { continue };
                if let Err(e) = c.capture(&cands).await {
                    tracing::error!(alarm = true, error = %e, "capture failed");
                }
            }
            self.wake.notify_waiters();
            for (path, folder_path) in markers {
                self.close_marked(&path, folder_path).await;
            }
        }
    }

    /// Records a marker's close request (retried until it lands: the marker stays until then), then
    /// removes the marker.
    async fn close_marked(&self, marker: &std::path::Path, folder_path: String) {
        let now = time::now_iso(::time::UtcOffset::UTC);
        let key = GroupKey::Folder { path: folder_path };
        if retry::until_done("closing a marked folder", || self.records.request_close(&key, &now)).await.is_ok() {
            if let GroupKey::Folder { path } = &key {
                tracing::info!(folder = %path, "marker seen: the folder's document is closed");
            }
            let _ = tokio::fs::remove_file(marker).await;
            self.wake.notify_waiters();
        }
    }
}
