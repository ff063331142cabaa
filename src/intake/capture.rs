//! Capture: inbox file → durable blob → intake row, in that order, a batch at a time.

use std::fs::File;
use std::sync::Arc;

use crate::error::{Failure, Result};
use crate::intake::scan::Candidate;
use crate::profile::{AfterCapture, Profile};
use crate::route::{Hints, Router, manifest};
use crate::store::records::{CaptureOutcome, NewIntake};
use crate::store::{BlobStore, Records, Staged};
use crate::util::text::nfc;
use crate::util::time;

/// What happened to one candidate.
#[derive(Debug, Clone)]
pub struct CaptureReport {
    /// Its path relative to the inbox.
    pub rel: String,
    /// The recorded outcome; `None` when the file vanished before it could be read.
    pub outcome: Option<CaptureOutcome>,
}

/// Captures inbox files under one profile.
pub struct Capturer {
    blobs: Arc<dyn BlobStore>,
    records: Records,
    profile: Profile,
    router: Router,
    station: String,
    operator: Option<String>,
    unit: Option<String>,
}

impl Capturer {
    /// A capturer for one station.
    pub fn new(
        blobs: Arc<dyn BlobStore>,
        records: Records,
        profile: Profile,
        station: Option<String>,
        operator: Option<String>,
    ) -> Result<Capturer> {
        let router = Router::new(&profile.settings)?;
        let station = station.unwrap_or_else(|| profile.settings.station.id.clone());
        let operator = operator.or_else(|| profile.settings.station.operator.clone());
        let unit = profile.settings.station.unit.clone();
        Ok(Capturer { blobs, records, profile, router, station, operator, unit })
    }

    /// The same capturer for a unit other than its station's (an upload by a token limited to a unit).
    pub fn for_unit(mut self, unit: Option<String>) -> Capturer {
        if unit.is_some() {
            self.unit = unit;
        }
        self
    }

    /// Captures a batch: stream each file into the store, make the batch durable with one round of
    /// fsyncs, record it in one transaction, and only then let the files leave the inbox. A transient
    /// failure is retried with back-off, loudly, until it clears; the inbox files stay put meanwhile.
    pub async fn capture(&self, batch: &[Candidate]) -> Result<Vec<CaptureReport>> {
        let started = std::time::Instant::now();
        let reports = crate::util::retry::until_done("capture", || self.try_capture(batch)).await?;
        // One histogram sample per file: the batch's time shared among its files.
        let each = started.elapsed() / (batch.len().max(1) as u32);
        for _ in batch {
            crate::util::metrics::observe(crate::util::metrics::Stage::Capture, each);
        }
        Ok(reports)
    }

    async fn try_capture(&self, batch: &[Candidate]) -> Result<Vec<CaptureReport>> {
        let offset = time::parse_offset(&self.profile.settings.station.utc_offset).unwrap_or(::time::UtcOffset::UTC);
        let blobs = self.blobs.clone();
        let owned: Vec<Candidate> = batch.to_vec();
        let leaving = self.profile.settings.inbox.after_capture == AfterCapture::Remove;
        // File I/O and hashing run off the async runtime.
        let staged: Vec<Option<(Staged, Hints, String)>> = crate::util::cpu::blocking(move || {
            let mut out = Vec::with_capacity(owned.len());
            for c in &owned {
                match stage_one(blobs.as_ref(), c, offset, leaving) {
                    Ok(s) => out.push(s),
                    Err(e) => {
                        for (s, _, _) in out.into_iter().flatten() {
                            let _ = blobs.discard(s);
                        }
                        return Err(e);
                    }
                }
            }
            Ok(out)
        })
        .await
        .map_err(|e| Failure::transient("capture task", e))??;

        let mut new = Vec::new();
        let mut to_persist = Vec::new();
        let now = time::now_iso(offset);
        for (c, s) in batch.iter().zip(&staged) {
            let Some((st, hints, mtime)) = s else {
                continue;
            };
            let (route_key, operator) = match self.router.route_file(hints) {
                Ok(r) => {
                    (r.case_code.map(String::from).unwrap_or_default(), r.operator.or_else(|| self.operator.clone()))
                }
                Err(_) => (format!("{}{}", crate::route::FAILED_ROUTE, c.rel), self.operator.clone()),
            };
            new.push(NewIntake {
                sha256: st.sha256.clone(),
                bytes: st.bytes,
                source_path: c.rel.clone(),
                source_name: c.name.clone(),
                source_mtime: mtime.clone(),
                station: self.station.clone(),
                operator,
                captured_at: now.clone(),
                route_key,
                hints: serde_json::to_string(hints).unwrap_or_else(|_| "{}".into()),
                unit: self.unit.clone(),
            });
        }
        for s in staged.into_iter().flatten() {
            to_persist.push(s.0);
        }
        let blobs = self.blobs.clone();
        crate::util::cpu::blocking(move || blobs.persist(to_persist))
            .await
            .map_err(|e| Failure::transient("capture task", e))??;
        let outcomes = self.records.record_captures(&self.profile, &new).await?;
        crate::util::metrics::bytes_captured(new.iter().map(|n| n.bytes).sum());

        // Committed: now, and only now, the inbox may let go of the files.
        let mut reports = Vec::with_capacity(batch.len());
        let mut it = outcomes.into_iter();
        for c in batch {
            let recorded = new.iter().any(|n| n.source_path == c.rel);
            let outcome = if recorded { it.next() } else { None };
            if let Some(o) = &outcome {
                match o {
                    CaptureOutcome::Captured { intake_id, reused } => {
                        tracing::info!(file = %c.rel, intake = %intake_id, reused, "captured")
                    }
                    CaptureOutcome::Duplicate { intake_id, state } => tracing::info!(
                        file = %c.rel, intake = %intake_id, state = %state,
                        "already captured for this case; nothing added"
                    ),
                }
                if self.profile.settings.inbox.after_capture == AfterCapture::Remove {
                    remove_from_inbox(c);
                }
            }
            reports.push(CaptureReport { rel: c.rel.clone(), outcome });
        }
        Ok(reports)
    }
}

fn stage_one(
    blobs: &dyn BlobStore,
    c: &Candidate,
    offset: ::time::UtcOffset,
    leaving: bool,
) -> Result<Option<(Staged, Hints, String)>> {
    let mut f = match File::open(&c.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(file = %c.rel, "vanished from the inbox before capture; skipped");
            return Ok(None);
        }
        Err(e) => return Err(Failure::transient(format!("opening {}", c.rel), e)),
    };
    let meta = f.metadata().map_err(|e| Failure::transient(format!("reading {}", c.rel), e))?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mtime =
        meta.modified().ok().map(::time::OffsetDateTime::from).map(|t| time::iso(t, offset)).unwrap_or_default();
    let (manifest, manifest_error) = match manifest::entry_for(&c.path) {
        Ok(m) => (m, None),
        Err(reason) => (None, Some(reason)),
    };
    // The inbox is the file's path less its path inside the inbox.
    let depth = c.rel.split('/').count();
    let inbox = c.path.ancestors().nth(depth).and_then(|p| std::path::absolute(p).ok());
    let hints = Hints {
        folder: c.folder.clone(),
        folder_path: c.folder_path.clone(),
        file_name: nfc(&c.name),
        manifest,
        manifest_error,
        inbox: inbox.map(|p| p.display().to_string()),
    };
    // A file that leaves the inbox may be taken by the store as it is rather than copied.
    let staged = if leaving { blobs.stage_leaving(&c.path, &mut f)? } else { blobs.stage(&mut f)? };
    Ok(Some((staged, hints, mtime)))
}

fn remove_from_inbox(c: &Candidate) {
    if let Err(e) = std::fs::remove_file(&c.path) {
        tracing::warn!(file = %c.rel, error = %e, "captured, but could not be removed from the inbox");
    }
    let name = c.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if let Some(dir) = c.path.parent() {
        let _ = std::fs::remove_file(dir.join(format!("{name}.json")));
    }
}
