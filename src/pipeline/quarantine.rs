//! A clerk's decisions about quarantined inputs, applied to the records and to the quarantine folder
//! view together: a retried input goes back to its split job, a discarded one leaves the list. Both
//! are audited by the store.

use std::path::PathBuf;

use super::Pipeline;
use crate::error::Result;
use crate::store::quarantine::{Refusal, RetryRoute};
use crate::store::records::IntakeRow;

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
        self.decided(before, &done, actor, "quarantined input sent back").await;
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
