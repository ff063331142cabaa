//! What a clerk does with a quarantined input: send it through the pipeline again once the cause is
//! fixed (a newer release, a case code given by hand), or discard it (a test scan, a sheet sent twice).
//! Neither forgets anything: the input's bytes stay stored, and each decision is an audit event.

use serde::Serialize;

use super::Records;
use super::db::{on_pool, on_tx};
use super::jobs::{JobKind, run_again};
use super::records::insert_event;
use crate::error::Result;
use crate::profile::DocRole;
use crate::route::Hints;
use crate::route::manifest::ManifestEntry;

/// Where a retried input should go when its own route was the problem.
#[derive(Debug, Clone)]
pub struct RetryRoute {
    /// The case code (validated and NFC by the caller).
    pub case: String,
    /// `input` or `result`.
    pub role: DocRole,
    /// Document type.
    pub doc_type: Option<String>,
}

/// How a quarantined input is sent through the pipeline again.
#[derive(Debug, Clone)]
pub enum Retry {
    /// With what was known at capture: the cause was fixed elsewhere (a newer release, a profile).
    AsCaptured,
    /// To the case a clerk named.
    To(RetryRoute),
    /// With a manifest entry read again after its manifest was corrected; `route_key` is what the
    /// profile's routing makes of it (a case code, or `""` when it names none).
    Manifest {
        /// The corrected entry.
        entry: ManifestEntry,
        /// The duplicate key it routes to.
        route_key: String,
        /// Where it was read, for the audit log.
        from: String,
    },
}

/// Why a retry or discard was not done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Refusal {
    /// No input has that id.
    Unknown,
    /// The input is not (or no longer) in quarantine.
    NotQuarantined,
    /// The same bytes are already captured for the case asked for.
    AlreadyCaptured {
        /// The intake that has them.
        intake: String,
    },
    /// Retrying the same bytes cannot succeed (an empty or cut-short file, one that is no scan): only a
    /// new scan helps.
    ScanAgain {
        /// Why the input was refused.
        code: crate::error::Code,
    },
    /// The input's manifest is still unusable: the corrected one cannot be read or names a bad code,
    /// or none was put beside the file.
    ManifestStillBad {
        /// Why, in both languages.
        why: crate::util::lang::Said,
    },
}

impl Refusal {
    /// What to tell the clerk, in both languages.
    pub fn said(&self) -> crate::util::lang::Said {
        use crate::util::lang::Said;
        match self {
            Refusal::Unknown => Said::new(
                "không có tệp nào mang mã này; `sohoa quarantine list` cho biết các mã",
                "no input has that id; `sohoa quarantine list` shows the ids",
            ),
            Refusal::NotQuarantined => Said::new(
                "tệp này không còn trong danh sách cách ly (đã xử lý lại hoặc loại bỏ?)",
                "that input is not in quarantine (retried or discarded already?)",
            ),
            Refusal::AlreadyCaptured { intake } => Said::new(
                format!("cùng nội dung này đã được tiếp nhận cho hồ sơ đó (tệp {intake}); hãy loại bỏ tệp này"),
                format!("the same bytes are already captured for that case (input {intake}); discard this one"),
            ),
            Refusal::ManifestStillBad { why } => why.clone(),
            Refusal::ScanAgain { code } => {
                let e = crate::error::explained(*code);
                Said::new(
                    format!("xử lý lại không giúp được: {} Sau khi quét lại, hãy loại bỏ tệp này.", e.vi),
                    format!("retrying cannot help: {} Once it is scanned again, discard this one.", e.en),
                )
            }
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.said().pick())
    }
}

/// A quarantined input still waiting for a clerk.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Quarantined {
    /// Intake id.
    pub intake: String,
    /// Source path.
    pub source: String,
    /// Hash of its bytes.
    pub sha256: String,
    /// Station that captured it.
    pub station: String,
    /// When.
    pub captured_at: String,
    /// The case its route named, if any.
    pub case_code: Option<String>,
    /// Stable reason code.
    #[sqlx(try_from = "String")]
    pub code: crate::error::Code,
    /// The clerk's reason, in detail (English).
    pub reason: String,
    /// What the code means and what to do, in Vietnamese ([`crate::error::explained`]).
    #[sqlx(default)]
    pub reason_vi: String,
    /// The same in English, without the input's detail.
    #[sqlx(default)]
    pub summary: String,
    /// Only a new scan helps: a retry of the same bytes cannot succeed.
    #[sqlx(default)]
    pub scan_again: bool,
}

impl Records {
    /// Inputs in quarantine that nobody has discarded, oldest first; of one case when given.
    pub async fn quarantine_list(&self, case: Option<&str>) -> Result<Vec<Quarantined>> {
        let mut list: Vec<Quarantined> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT id AS intake, source_path AS source, sha256, station, captured_at, \
                    CASE WHEN route_key LIKE '?%' THEN NULL ELSE NULLIF(route_key, '') END AS case_code, reason_code AS code, \
                    COALESCE(reason, '') AS reason \
             FROM intakes WHERE state = 'quarantined' AND discarded_at IS NULL \
               AND ($1 IS NULL OR route_key = $1) ORDER BY seq",
        )
        .bind(case)
        .fetch_all(p)
        .await?
        });
        for q in &mut list {
            let e = crate::error::explained(q.code);
            (q.reason_vi, q.summary, q.scan_again) = (e.vi.to_string(), e.en.to_string(), e.scan_again);
        }
        Ok(list)
    }

    /// The case an input's own routing named (`""` for none), or `None` for an unknown input.
    pub async fn intake_route(&self, intake_id: &str) -> Result<Option<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar("SELECT route_key FROM intakes WHERE id = $1")
            .bind(intake_id)
            .fetch_optional(p)
            .await?))
    }

    /// Puts a quarantined input back at the start of the pipeline: its split job runs again under the
    /// profile it was captured with. With `route`, the input goes to that case (as if a manifest had
    /// named it).
    pub async fn retry_quarantined(
        &self,
        intake_id: &str,
        how: &Retry,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<(), Refusal>> {
        let mut tx = self.pool().begin_write().await?;
        type Row = (String, String, String, String, Option<String>, Option<String>);
        let row: Option<Row> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT state, sha256, route_key, hints, discarded_at, reason_code FROM intakes WHERE id = $1"
        )
        .bind(intake_id)
        .fetch_optional(&mut *c)
        .await?);
        let Some((state, sha, old_route, hints_text, discarded, code)) = row else {
            tx.rollback().await?;
            return Ok(Err(Refusal::Unknown));
        };
        if state != "quarantined" || discarded.is_some() {
            tx.rollback().await?;
            return Ok(Err(Refusal::NotQuarantined));
        }
        if let Some(code) = code.as_deref().and_then(crate::error::Code::parse)
            && crate::error::explained(code).scan_again
        {
            tx.rollback().await?;
            return Ok(Err(Refusal::ScanAgain { code }));
        }
        let mut hints: Hints = serde_json::from_str(&hints_text).unwrap_or_default();
        let operator = hints.manifest.as_ref().and_then(|m| m.operator.clone());
        let (entry, route_key) = match how {
            Retry::AsCaptured => (None, old_route.clone()),
            Retry::To(r) => {
                let entry = ManifestEntry {
                    case: Some(r.case.clone()),
                    role: Some(r.role),
                    document_type: r.doc_type.clone(),
                    operator,
                    reused_from: None,
                };
                (Some(entry), r.case.clone())
            }
            Retry::Manifest { entry, route_key, .. } => {
                let mut entry = entry.clone();
                entry.operator = entry.operator.or(operator);
                (Some(entry), route_key.clone())
            }
        };
        if let Some(entry) = entry {
            if crate::route::names_case(&route_key) {
                let taken: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
                    "SELECT id FROM intakes WHERE sha256 = $1 AND route_key = $2 AND id <> $3"
                )
                .bind(&sha)
                .bind(&route_key)
                .bind(intake_id)
                .fetch_optional(&mut *c)
                .await?);
                if let Some(intake) = taken {
                    tx.rollback().await?;
                    return Ok(Err(Refusal::AlreadyCaptured { intake }));
                }
            }
            hints.manifest = Some(entry);
            hints.manifest_error = None;
        }
        let hints_text = serde_json::to_string(&hints).unwrap_or(hints_text);
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE intakes SET state = 'captured', reason_code = NULL, reason = NULL, assembled = 0, \
             route_key = $1, hints = $2 WHERE id = $3"
        )
        .bind(&route_key)
        .bind(&hints_text)
        .bind(intake_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        run_again(&mut tx, JobKind::Split, intake_id).await?;
        let detail = match how {
            Retry::AsCaptured => serde_json::json!({
                "was_case": crate::route::names_case(&old_route).then_some(&old_route),
                "used": "as-captured",
            }),
            Retry::To(r) => serde_json::json!({
                "was_case": crate::route::names_case(&old_route).then_some(&old_route),
                "used": "clerk", "case": r.case, "role": r.role.as_str(), "type": r.doc_type,
            }),
            Retry::Manifest { entry, from, .. } => serde_json::json!({
                "was_case": crate::route::names_case(&old_route).then_some(&old_route),
                "used": "manifest", "manifest": from, "case": entry.case,
                "role": entry.role.map(|r| r.as_str()), "type": entry.document_type,
            }),
        };
        let case = crate::route::names_case(&route_key).then_some(route_key.as_str());
        insert_event(&mut tx, at, actor, "retry", case, Some(intake_id), None, Some(&sha), &detail).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Takes a quarantined input off the quarantine list for `reason`. Its record and bytes stay.
    pub async fn discard_quarantined(
        &self,
        intake_id: &str,
        reason: &str,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<(), Refusal>> {
        let mut tx = self.pool().begin_write().await?;
        let row: Option<(String, String, String, Option<String>)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT state, sha256, route_key, discarded_at FROM intakes WHERE id = $1"
        )
        .bind(intake_id)
        .fetch_optional(&mut *c)
        .await?);
        let Some((state, sha, route, discarded)) = row else {
            tx.rollback().await?;
            return Ok(Err(Refusal::Unknown));
        };
        if state != "quarantined" || discarded.is_some() {
            tx.rollback().await?;
            return Ok(Err(Refusal::NotQuarantined));
        }
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE intakes SET discarded_at = $1, discarded_by = $2, discard_reason = $3 WHERE id = $4"
        )
        .bind(at)
        .bind(actor)
        .bind(reason)
        .bind(intake_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let case = (!route.is_empty()).then_some(route.as_str());
        let detail = serde_json::json!({ "reason": reason });
        insert_event(&mut tx, at, actor, "discard", case, Some(intake_id), None, Some(&sha), &detail).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}
