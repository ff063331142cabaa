//! Folder views of recorded states, for people who work in a file manager: `cases/<code>/<code>.NNN.pdf`
//! for attached documents and `quarantine/<path>` + `.error.json` for refused inputs.
//!
//! Views are derived from the records and never read back; failing to write one is logged, not fatal.

pub mod thumbnail;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::Code;
use crate::store::BlobStore;
use crate::store::records::IntakeRow;

/// Writes the folder views under a data directory.
#[derive(Clone)]
pub struct Views {
    cases: PathBuf,
    quarantine: PathBuf,
}

impl Views {
    /// Views under `data_dir`.
    pub fn new(data_dir: PathBuf) -> Views {
        Views { cases: data_dir.join("cases"), quarantine: data_dir.join("quarantine") }
    }

    /// Shows an attached PDF as `cases/<code>/<name>`; does nothing when the view is already there.
    /// Written beside and renamed into place: a process killed while copying leaves no half view under
    /// the name (a full copy of a PDF that refers to its originals takes a while).
    pub fn attached(&self, blobs: &dyn BlobStore, case_code: &str, name: &str, sha256: &str) {
        if !self.cases.join(case_code).join(name).exists() {
            self.replace(blobs, case_code, name, sha256);
        }
    }

    /// Puts a case folder view right: written when it is missing, replaced when its bytes are not the
    /// recorded PDF's (a clerk's edit, a disk error). Says what it did, `None` when the view was right.
    pub fn repair(&self, blobs: &dyn BlobStore, case_code: &str, name: &str, sha256: &str) -> Option<&'static str> {
        let dest = self.cases.join(case_code).join(name);
        let now = fs::File::open(&dest).ok().and_then(|mut f| crate::store::blob::hash_reader(&mut f).ok());
        let what = match now {
            Some((h, _)) if h == sha256 => return None,
            Some(_) => "replaced",
            None => "written",
        };
        self.replace(blobs, case_code, name, sha256);
        // The view of a file attached as it is shares its bytes with the stored file: when that is
        // what was damaged, no copy can put it right, and saying so is the repair's last word.
        let after = fs::File::open(&dest).ok().and_then(|mut f| crate::store::blob::hash_reader(&mut f).ok());
        if after.is_none_or(|(h, _)| h != sha256) {
            return Some(
                "NOT REPAIRED (the stored file itself is damaged: `sohoa verify` names it; restore it from the second copy)",
            );
        }
        Some(what)
    }

    /// Takes `cases/<code>/<name>` away (a detached document); the stored PDF stays.
    pub fn removed(&self, case_code: &str, name: &str) {
        let path = self.cases.join(case_code).join(name);
        if let Err(e) = std::fs::remove_file(&path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(view = %path.display(), error = %e, "could not remove a view");
        }
    }

    /// Shows a file as `cases/<code>/<name>`, replacing what was there (the case bundle, rebuilt as
    /// documents arrive). The new view is linked beside and renamed over, so it is never half there.
    pub fn replace(&self, blobs: &dyn BlobStore, case_code: &str, name: &str, sha256: &str) {
        let dir = self.cases.join(case_code);
        let (dest, tmp) = (dir.join(name), dir.join(format!(".{name}.new")));
        let _ = fs::remove_file(&tmp);
        let r = fs::create_dir_all(&dir)
            .map_err(crate::error::Failure::from)
            .and_then(|_| blobs.export(sha256, &tmp))
            .and_then(|_| fs::rename(&tmp, &dest).map_err(Into::into));
        if let Err(e) = r {
            tracing::warn!(view = %dest.display(), error = %e, "could not write the case folder view");
        }
    }

    /// Shows a quarantined input beside a `.error.json` that says why, under `<data>/quarantine` or the
    /// station's own folder (`dir`, from its profile). Does nothing when this intake's view is there.
    pub fn quarantined(&self, blobs: &dyn BlobStore, intake: &IntakeRow, code: Code, reason: &str, dir: Option<&Path>) {
        let [primary, alternate] = self.quarantine_places(intake, dir);
        if quarantine_view_of(&primary, intake) || quarantine_view_of(&alternate, intake) {
            return;
        }
        let dest = if primary.exists() { alternate } else { primary };
        // For the station officer who opens it in the file manager: what happened and what to do in
        // Vietnamese, the same in English, then the input's own detail.
        let explained = crate::error::explained(code);
        let body = serde_json::json!({
            "ly_do": explained.vi,
            "summary": explained.en,
            "quet_lai": explained.scan_again,
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
            .and_then(|_| if dest.exists() { Ok(()) } else { blobs.export(&intake.sha256, &dest) })
            .and_then(|_| {
                fs::write(sidecar(&dest), serde_json::to_vec_pretty(&body).unwrap_or_default()).map_err(Into::into)
            });
        if let Err(e) = r {
            tracing::warn!(view = %dest.display(), error = %e, "could not write the quarantine folder view");
        }
    }

    /// Takes an input's quarantine view away (it was retried or discarded). The view's files are copies;
    /// the input's bytes stay in the blob store.
    pub fn unquarantined(&self, intake: &IntakeRow, dir: Option<&Path>) {
        for place in self.quarantine_places(intake, dir) {
            if quarantine_view_of(&place, intake) {
                for f in [sidecar(&place), place.clone()] {
                    if let Err(e) = fs::remove_file(&f) {
                        tracing::warn!(view = %f.display(), error = %e, "could not remove a quarantine view file");
                    }
                }
            }
        }
    }

    /// Where this input's quarantine view is, when it is there: a station officer puts a corrected
    /// manifest beside it.
    pub fn quarantine_view(&self, intake: &IntakeRow, dir: Option<&Path>) -> Option<PathBuf> {
        self.quarantine_places(intake, dir).into_iter().find(|p| quarantine_view_of(p, intake))
    }

    /// The intake ids of the quarantine views in `<data>/quarantine` or `dir` (their `.error.json`s).
    pub fn quarantine_views(&self, dir: Option<&Path>) -> Vec<String> {
        let mut ids = Vec::new();
        let mut todo = vec![self.quarantine_base(dir)];
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.to_string_lossy().ends_with(".error.json")
                    && let Some(id) = fs::read(&p)
                        .ok()
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .and_then(|v| v["intake"].as_str().map(str::to_string))
                {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// The quarantine folder: `<data>/quarantine`, or the profile's own; a profile's relative folder lies
    /// in the data folder, wherever the command runs.
    fn quarantine_base(&self, dir: Option<&Path>) -> PathBuf {
        match (dir, self.quarantine.parent()) {
            (Some(d), Some(data)) => data.join(d),
            (Some(d), None) => d.to_path_buf(),
            (None, _) => self.quarantine.clone(),
        }
    }

    /// Where an input's quarantine view goes: its path under the quarantine folder, or — when another
    /// input of that name got there first — the same folder with the end of its intake id in front.
    fn quarantine_places(&self, intake: &IntakeRow, dir: Option<&Path>) -> [PathBuf; 2] {
        let rel = Path::new(&intake.source_path);
        let safe: PathBuf = rel.components().filter(|c| matches!(c, std::path::Component::Normal(_))).collect();
        let primary = self.quarantine_base(dir).join(&safe);
        let tail = &intake.id[intake.id.len().saturating_sub(8)..];
        let alternate = primary.with_file_name(format!("{tail}-{}", intake.source_name));
        [primary, alternate]
    }
}

/// The `.error.json` beside a quarantined file.
fn sidecar(p: &Path) -> PathBuf {
    PathBuf::from(format!("{}.error.json", p.display()))
}

/// Whether the view at `p` is this input's.
fn quarantine_view_of(p: &Path, intake: &IntakeRow) -> bool {
    fs::read_to_string(sidecar(p)).is_ok_and(|s| s.contains(&intake.id))
}
