//! A clerk's decisions about quarantined inputs, applied to the records and to the quarantine folder
//! view together: a retried input goes back to its split job, a discarded one leaves the list. Both
//! are audited by the store.

use std::path::PathBuf;

use super::Pipeline;
use crate::error::Result;
use crate::store::quarantine::{Refusal, RetryRoute};

impl Pipeline {
    /// Sends a quarantined input through its split job again (to `route`'s case when given) and takes
    /// its quarantine view away. A worker picks the job up as usual.
    pub async fn retry_quarantined(
        &self,
        intake_id: &str,
        route: Option<&RetryRoute>,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<(), Refusal>> {
        let before = self.records.intake(intake_id).await?;
        let done = self.records.retry_quarantined(intake_id, route, actor, at).await?;
        if let (Ok(()), Some(intake)) = (&done, before) {
            tracing::info!(file = %intake.source_path, intake = intake_id, actor, "quarantined input sent back");
            self.views.unquarantined(&intake, self.quarantine_dir(&intake.profile_sha256).await.as_deref());
        }
        Ok(done)
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
        if let (Ok(()), Some(intake)) = (&done, before) {
            tracing::info!(file = %intake.source_path, intake = intake_id, actor, reason, "quarantined input discarded");
            self.views.unquarantined(&intake, self.quarantine_dir(&intake.profile_sha256).await.as_deref());
        }
        Ok(done)
    }

    /// The station's own quarantine folder, when its profile names one.
    pub(super) async fn quarantine_dir(&self, profile_sha256: &str) -> Option<PathBuf> {
        self.loaded(profile_sha256).await.ok().and_then(|l| l.profile.settings.quarantine.path.clone())
    }
}
