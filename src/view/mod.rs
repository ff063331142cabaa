//! Folder views of recorded states, for people who work in a file manager: `cases/<code>/<code>.NNN.pdf`
//! for attached documents and `quarantine/<path>` + `.error.json` for refused inputs.
//!
//! Views are derived from the records and never read back; failing to write one is logged, not fatal.

use std::fs;
use std::path::{Path, PathBuf};

use crate::store::BlobStore;
use crate::store::records::IntakeRow;

/// Writes the folder views under a data directory.
#[derive(Clone)]
pub struct Views {
    cases: PathBuf,
    quarantine: PathBuf,
}

impl Views {
    /// Views under `data_dir`; the quarantine view may live elsewhere (a station's shared folder).
    pub fn new(data_dir: PathBuf, quarantine: Option<PathBuf>) -> Views {
        Views { cases: data_dir.join("cases"), quarantine: quarantine.unwrap_or_else(|| data_dir.join("quarantine")) }
    }

    /// The quarantine folder.
    pub fn quarantine_dir(&self) -> &Path {
        &self.quarantine
    }

    /// Shows an attached PDF as `cases/<code>/<name>`.
    pub fn attached(&self, blobs: &dyn BlobStore, case_code: &str, name: &str, sha256: &str) {
        let dir = self.cases.join(case_code);
        let dest = dir.join(name);
        let r = fs::create_dir_all(&dir).map_err(crate::error::Failure::from).and_then(|_| {
            let _ = fs::remove_file(&dest);
            blobs.export(sha256, &dest)
        });
        if let Err(e) = r {
            tracing::warn!(view = %dest.display(), error = %e, "could not write the case folder view");
        }
    }

    /// Shows a quarantined input beside a `.error.json` that says why.
    pub fn quarantined(&self, blobs: &dyn BlobStore, intake: &IntakeRow, code: &str, reason: &str) {
        let rel = Path::new(&intake.source_path);
        let safe: PathBuf = rel.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
        let mut dest = self.quarantine.join(&safe);
        if dest.exists() {
            let name = format!("{}-{}", &intake.id[..8.min(intake.id.len())], intake.source_name);
            dest = dest.with_file_name(name);
        }
        let sidecar = PathBuf::from(format!("{}.error.json", dest.display()));
        let body = serde_json::json!({
            "file": intake.source_path,
            "sha256": intake.sha256,
            "code": code,
            "reason": reason,
            "intake": intake.id,
            "captured_at": intake.captured_at,
            "station": intake.station,
        });
        let r = dest
            .parent()
            .map(fs::create_dir_all)
            .unwrap_or(Ok(()))
            .map_err(crate::error::Failure::from)
            .and_then(|_| blobs.export(&intake.sha256, &dest))
            .and_then(|_| {
                fs::write(&sidecar, serde_json::to_vec_pretty(&body).unwrap_or_default()).map_err(Into::into)
            });
        if let Err(e) = r {
            tracing::warn!(view = %dest.display(), error = %e, "could not write the quarantine folder view");
        }
    }
}
