//! A clerk's decisions about quarantined inputs, applied to the records and to the quarantine folder
//! view together: a retried input goes back to its split job, a discarded one leaves the list. Both
//! are audited by the store.

use std::path::PathBuf;

use super::Pipeline;
use crate::error::Result;
use crate::route::Hints;
use crate::route::manifest::{self, ManifestEntry};
use crate::store::quarantine::{Refusal, Retry, RetryRoute};
use crate::store::records::IntakeRow;
use crate::util::lang::Said;

/// What a retry went by, for the clerk to read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetriedWith {
    /// What was known at capture.
    AsCaptured,
    /// The case the clerk named.
    Clerk(String),
    /// A manifest read again from this path.
    Manifest(PathBuf),
}

impl RetriedWith {
    /// One line for the clerk, in both languages.
    pub fn said(&self) -> Said {
        match self {
            RetriedWith::AsCaptured => Said::new(
                "xử lý lại với thông tin lúc tiếp nhận (không có manifest mới)",
                "retried with what was known at capture (no new manifest)",
            ),
            RetriedWith::Clerk(case) => {
                Said::new(format!("xử lý lại vào hồ sơ {case}"), format!("retried into case {case}"))
            }
            RetriedWith::Manifest(p) => Said::new(
                format!("xử lý lại theo manifest đã sửa: {}", p.display()),
                format!("retried with the corrected manifest {}", p.display()),
            ),
        }
    }

    /// The stable word for tools (`as-captured`, `clerk`, `manifest`).
    pub fn word(&self) -> &'static str {
        match self {
            RetriedWith::AsCaptured => "as-captured",
            RetriedWith::Clerk(_) => "clerk",
            RetriedWith::Manifest(_) => "manifest",
        }
    }
}

impl Pipeline {
    /// Sends a quarantined input through its split job again and takes its quarantine view away; a
    /// worker picks the job up as usual. It goes to `route`'s case when one is given; otherwise, when
    /// a manifest lies beside its quarantine view or its place in the inbox, that manifest is read
    /// again (the station officer corrected it), and an input whose manifest was unusable is not sent
    /// back with the same fault. Says which it went by.
    pub async fn retry_quarantined(
        &self,
        intake_id: &str,
        route: Option<&RetryRoute>,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<RetriedWith, Refusal>> {
        let before = self.records.intake(intake_id).await?;
        let (how, with) = match (route, &before) {
            (Some(r), _) => (Retry::To(r.clone()), RetriedWith::Clerk(r.case.clone())),
            (None, None) => (Retry::AsCaptured, RetriedWith::AsCaptured),
            (None, Some(intake)) => match self.manifest_again(intake).await? {
                Ok(Some((entry, route_key, from))) => {
                    let how = Retry::Manifest { entry, route_key, from: from.display().to_string() };
                    (how, RetriedWith::Manifest(from))
                }
                Ok(None) => (Retry::AsCaptured, RetriedWith::AsCaptured),
                Err(why) => return Ok(Err(Refusal::ManifestStillBad { why })),
            },
        };
        let done = self.records.retry_quarantined(intake_id, &how, actor, at).await?;
        self.decided(before, &done, actor, "quarantined input sent back").await;
        Ok(done.map(|()| with))
    }

    /// The manifest entry for a quarantined input, read again from beside its quarantine view (where a
    /// station officer sees it) or, failing that, from its place in the inbox: with the route it gives
    /// and where it was read. `Ok(None)` when there is none and none is needed; `Err` when it is still
    /// unusable, or is missing while the one captured was broken.
    async fn manifest_again(
        &self,
        intake: &IntakeRow,
    ) -> Result<std::result::Result<Option<(ManifestEntry, String, PathBuf)>, Said>> {
        let hints: Hints = serde_json::from_str(&intake.hints).unwrap_or_default();
        let loaded = self.loaded(&intake.profile_sha256).await?;
        let dir = loaded.profile.settings.quarantine.path.clone();
        // The inbox it came from (an `ingest` folder as much as a station's), else the profile's.
        let inbox =
            hints.inbox.clone().map(PathBuf::from).unwrap_or_else(|| loaded.profile.settings.inbox.path.clone());
        let views = self.views.clone();
        let row = intake.clone();
        let (places, found) = crate::util::cpu::blocking(move || {
            let mut places = Vec::new();
            places.extend(views.quarantine_view(&row, dir.as_deref()));
            places.push(inbox.join(&row.source_path));
            // The first place that holds a manifest for it, and what that manifest says.
            let found = places.iter().find_map(|p| {
                let found = manifest::file_for(p)?;
                Some((found, manifest::entry_for(p)))
            });
            (places, found)
        })
        .await
        .map_err(|e| crate::error::Failure::transient("reading a manifest again", e))?;
        let Some((from, read)) = found else {
            let looked: Vec<String> =
                places.iter().filter_map(|p| p.parent()).map(|d| d.display().to_string()).collect();
            let looked = looked.join(", ");
            return Ok(match &hints.manifest_error {
                Some(was) => Err(Said::new(
                    format!(
                        "manifest vẫn lỗi; không có manifest đã sửa ở {looked}. Hãy đặt manifest đã sửa cạnh tệp trong \
                         thư mục cách ly, hoặc chỉ định hồ sơ bằng --case (chi tiết: {was})"
                    ),
                    format!(
                        "the manifest is still unusable ({was}); no corrected manifest in {looked}. Put one beside the \
                         file in the quarantine folder, or name the case with --case"
                    ),
                )),
                None => Ok(None),
            });
        };
        let entry = match read {
            Ok(Some(entry)) => entry,
            Ok(None) => return Ok(Ok(None)),
            Err(reason) => {
                return Ok(Err(Said::new(
                    format!("manifest {} vẫn lỗi (chi tiết: {reason})", from.display()),
                    format!("the manifest {} is still unusable: {reason}", from.display()),
                )));
            }
        };
        // The manifest it was captured with, unchanged: nothing new to go by.
        if hints.manifest_error.is_none() && hints.manifest.as_ref() == Some(&entry) {
            return Ok(Ok(None));
        }
        let again = Hints { manifest: Some(entry.clone()), manifest_error: None, ..hints };
        match loaded.router.route_file(&again) {
            Ok(route) => Ok(Ok(Some((entry, route.case_code.map(String::from).unwrap_or_default(), from)))),
            Err(e) => Ok(Err(Said::new(
                format!("manifest {} vẫn lỗi (chi tiết: {e})", from.display()),
                format!("the manifest {} is still unusable: {}", from.display(), e),
            ))),
        }
    }

    /// Takes a quarantined input off the list for `reason`; its record and bytes stay.
    pub async fn discard_quarantined(
        &self,
        intake_id: &str,
        reason: &str,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<(), Refusal>> {
        let before = self.records.intake(intake_id).await?;
        let done = self.records.discard_quarantined(intake_id, reason, actor, at).await?;
        self.decided(before, &done, actor, "quarantined input discarded").await;
        Ok(done)
    }

    /// After a decision the records took: say so, and take the input's quarantine view away.
    async fn decided(
        &self,
        intake: Option<IntakeRow>,
        done: &std::result::Result<(), Refusal>,
        actor: &str,
        what: &str,
    ) {
        if let (Ok(()), Some(intake)) = (done, intake) {
            tracing::info!(file = %intake.source_path, intake = %intake.id, actor, "{what}");
            self.views.unquarantined(&intake, self.quarantine_dir(&intake.profile_sha256).await.as_deref());
        }
    }

    /// The station's own quarantine folder, when its profile names one.
    pub(super) async fn quarantine_dir(&self, profile_sha256: &str) -> Option<PathBuf> {
        self.loaded(profile_sha256).await.ok().and_then(|l| l.profile.settings.quarantine.path.clone())
    }
}
