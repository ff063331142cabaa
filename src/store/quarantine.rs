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
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Unknown => write!(f, "no input has that id; `sohoa quarantine list` shows the ids"),
            Refusal::NotQuarantined => write!(f, "that input is not in quarantine (retried or discarded already?)"),
            Refusal::AlreadyCaptured { intake } => {
                write!(f, "the same bytes are already captured for that case (input {intake}); discard this one")
            }
        }
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
        route: Option<&RetryRoute>,
        actor: &str,
        at: &str,
    ) -> Result<std::result::Result<(), Refusal>> {
        let mut tx = self.pool().begin_write().await?;
        type Row = (String, String, String, String, Option<String>);
        let row: Option<Row> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT state, sha256, route_key, hints, discarded_at FROM intakes WHERE id = $1"
        )
        .bind(intake_id)
        .fetch_optional(&mut *c)
        .await?);
        let Some((state, sha, old_route, hints_text, discarded)) = row else {
            tx.rollback().await?;
            return Ok(Err(Refusal::Unknown));
        };
        if state != "quarantined" || discarded.is_some() {
            tx.rollback().await?;
            return Ok(Err(Refusal::NotQuarantined));
        }
        let mut hints: Hints = serde_json::from_str(&hints_text).unwrap_or_default();
        let mut route_key = old_route.clone();
        if let Some(r) = route {
            let taken: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
                "SELECT id FROM intakes WHERE sha256 = $1 AND route_key = $2 AND id <> $3"
            )
            .bind(&sha)
            .bind(&r.case)
            .bind(intake_id)
            .fetch_optional(&mut *c)
            .await?);
            if let Some(intake) = taken {
                tx.rollback().await?;
                return Ok(Err(Refusal::AlreadyCaptured { intake }));
            }
            let operator = hints.manifest.as_ref().and_then(|m| m.operator.clone());
            hints.manifest = Some(ManifestEntry {
                case: Some(r.case.clone()),
                role: Some(r.role),
                document_type: r.doc_type.clone(),
                operator,
            });
            hints.manifest_error = None;
            route_key = r.case.clone();
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
        let detail = serde_json::json!({
            "was_case": crate::route::names_case(&old_route).then_some(&old_route),
            "case": route.map(|r| &r.case),
            "role": route.map(|r| r.role.as_str()),
            "type": route.and_then(|r| r.doc_type.as_ref()),
        });
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
