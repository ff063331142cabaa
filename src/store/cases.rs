//! What the one-stop system knows about a case — procedure, unit, dates, status, applicant — and the
//! procedure catalogue that says what a complete dossier holds.
//!
//! Cases arrive from two sides: scans routed to a code (which creates a bare case) and the one-stop
//! system's export (which fills in the fields, and brings the cases nobody scanned — without them a
//! digitization rate has no honest denominator). Both meet here, idempotent by case code.

use serde::{Deserialize, Serialize};

use super::Records;
use super::db::{on_pool, on_tx};
use super::jobs::{JobKind, run_again};
use super::records::{insert_event, new_id};
use crate::error::Result;
use crate::profile::DocRole;

/// A procedure (thủ tục hành chính) in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Procedure {
    /// The national procedure code, e.g. `1.001234`.
    pub code: String,
    /// Its name, e.g. `Đăng ký khai sinh`.
    pub name: String,
    /// The agency that handles it.
    #[serde(default)]
    pub unit: String,
    /// Document types (thành phần hồ sơ) a complete dossier must hold as inputs.
    #[serde(default)]
    pub required_inputs: Vec<String>,
    /// Whether it ends in a written result (a decision, certificate, licence). Only these count in the
    /// electronic-result rate.
    #[serde(default = "yes")]
    pub issues_result: bool,
}

fn yes() -> bool {
    true
}

stored_words! {
    /// Where a case's record came from: a scan filed to a code the records did not know yet, or the
    /// one-stop system's export.
    #[derive(Default)]
    pub enum Origin {
        /// Created by filing a scan.
        #[default]
        Scan = "scan",
        /// Reported by the one-stop system.
        Import = "import",
    }
}

/// A case's lifecycle as the one-stop systems report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Received, not yet worked on.
    #[default]
    Received,
    /// Being handled.
    Processing,
    /// Waiting for documents the applicant was asked to add (yêu cầu bổ sung).
    Supplement,
    /// Finished with a result.
    Resolved,
    /// Returned to the applicant without a result.
    Returned,
    /// Refused: the applicant does not qualify (từ chối).
    Rejected,
    /// Withdrawn by the applicant (rút hồ sơ): left out of every 766 figure.
    Withdrawn,
    /// Cancelled (hủy): left out of every 766 figure.
    Cancelled,
}

/// Every status, with the words exports write for it, folded ([`crate::util::text::fold`]): the
/// stored English word first, then English and Vietnamese variants.
const STATUS_WORDS: [(Status, &[&str]); 8] = [
    (Status::Received, &["received", "new", "da tiep nhan", "tiep nhan", "moi tiep nhan", "cho xu ly"]),
    (Status::Processing, &["processing", "in progress", "dang xu ly", "dang giai quyet", "dang thu ly"]),
    (
        Status::Supplement,
        &[
            "supplement",
            "additional documents requested",
            "supplement requested",
            "yeu cau bo sung",
            "cho bo sung",
            "bo sung ho so",
            "dang bo sung",
        ],
    ),
    (
        Status::Resolved,
        &["resolved", "completed", "da giai quyet", "da tra ket qua", "hoan thanh", "da co ket qua", "da xu ly xong"],
    ),
    (Status::Returned, &["returned", "tra lai", "tra lai ho so", "da tra lai ho so"]),
    (Status::Rejected, &["rejected", "tu choi", "da tu choi", "tu choi giai quyet", "khong du dieu kien"]),
    (Status::Withdrawn, &["withdrawn", "rut ho so", "da rut ho so", "cong dan rut ho so"]),
    (Status::Cancelled, &["cancelled", "canceled", "huy", "da huy", "huy ho so", "da huy ho so"]),
];

impl Status {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        STATUS_WORDS.iter().find(|(s, _)| *s == self).map_or("received", |(_, words)| words[0])
    }

    /// Reads a status word as people and one-stop exports write it: English or Vietnamese, any case,
    /// with or without tone marks (`Đã rút hồ sơ`, `Hủy`, `Huỷ`, `withdrawn`).
    pub fn parse(s: &str) -> Option<Status> {
        let s = crate::util::text::fold(s);
        STATUS_WORDS.iter().find(|(_, words)| words.contains(&s.as_str())).map(|(status, _)| *status)
    }

    /// Whether the case is left out of the 766 figures (withdrawn or cancelled: nothing to digitize).
    pub fn left_out(self) -> bool {
        matches!(self, Status::Withdrawn | Status::Cancelled)
    }

    /// The stored words, for messages that list what is accepted.
    pub fn words() -> String {
        STATUS_WORDS.iter().map(|(_, w)| w[0]).collect::<Vec<_>>().join(", ")
    }
}

/// Decoded where case rows are read: a stored status is always one of the words above.
impl TryFrom<String> for Status {
    type Error = String;
    fn try_from(word: String) -> Result<Self, Self::Error> {
        Status::parse(&word).ok_or_else(|| format!("`{word}` is not one of {}", Status::words()))
    }
}

/// How a dossier reached the center: the index scores online dossiers apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Submitted through the public service portal.
    Online,
    /// Handed in at the one-stop counter.
    Counter,
    /// Sent by post (the public postal service).
    Post,
}

/// Every channel with the words exports write for it, folded: the stored word first.
const CHANNEL_WORDS: [(Channel, &[&str]); 3] = [
    (
        Channel::Online,
        &[
            "online",
            "truc tuyen",
            "nop truc tuyen",
            "qua mang",
            "dvc truc tuyen",
            "dich vu cong truc tuyen",
            "cong dvc",
        ],
    ),
    (
        Channel::Counter,
        &["counter", "in person", "truc tiep", "nop truc tiep", "tai quay", "tai bo phan mot cua", "mot cua"],
    ),
    (
        Channel::Post,
        &["post", "by post", "mail", "buu chinh", "qua buu chinh", "buu chinh cong ich", "buu dien", "qua buu dien"],
    ),
];

impl Channel {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        CHANNEL_WORDS.iter().find(|(c, _)| *c == self).map_or("counter", |(_, words)| words[0])
    }

    /// Reads a channel as exports write it, English or Vietnamese, with or without tone marks
    /// (`Trực tuyến`, `Bưu chính công ích`, `online`). A word not listed is refused, never guessed.
    pub fn parse(s: &str) -> Option<Channel> {
        let s = crate::util::text::fold(s);
        CHANNEL_WORDS.iter().find(|(_, words)| words.contains(&s.as_str())).map(|(c, _)| *c)
    }

    /// The stored words, for messages that list what is accepted.
    pub fn words() -> String {
        CHANNEL_WORDS.iter().map(|(_, w)| w[0]).collect::<Vec<_>>().join(", ")
    }
}

/// Fields of a case to set; `None` leaves a field as it is, so an export that lacks a column does not
/// erase what another source recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseFields {
    /// Procedure code.
    pub procedure: Option<String>,
    /// Receiving office (unit code).
    pub unit: Option<String>,
    /// Local date received, `YYYY-MM-DD`.
    pub received: Option<String>,
    /// Local due date.
    pub due: Option<String>,
    /// Lifecycle.
    pub status: Option<Status>,
    /// Local date resolved.
    pub resolved: Option<String>,
    /// Applicant's full name (personal data).
    pub applicant_name: Option<String>,
    /// Applicant's ID-card number (personal data).
    pub applicant_id: Option<String>,
    /// Applicant's phone or address (personal data).
    pub applicant_contact: Option<String>,
    /// How the dossier was submitted.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// The stored fields of one case.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct CaseRecord {
    /// Case code.
    pub code: String,
    /// Procedure code.
    pub procedure_code: Option<String>,
    /// Receiving office.
    pub unit: Option<String>,
    /// Local date received.
    pub received_date: Option<String>,
    /// Local due date.
    pub due_date: Option<String>,
    /// `received`, `processing`, `resolved`, `returned`.
    #[sqlx(try_from = "String")]
    pub status: Status,
    /// Local date resolved.
    pub resolved_date: Option<String>,
    /// Personal data.
    pub applicant_name: Option<String>,
    /// Personal data.
    pub applicant_id: Option<String>,
    /// Personal data.
    pub applicant_contact: Option<String>,
    /// `online`, `counter` or `post`, when an export or a clerk said.
    pub channel: Option<String>,
    /// `import` (from the one-stop system) or `scan` (only scans named it).
    #[sqlx(try_from = "String")]
    pub origin: Origin,
}

/// What setting a case's fields did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsert {
    /// A new case.
    Created,
    /// Some fields changed.
    Updated,
    /// Nothing changed.
    Unchanged,
}

/// Where a required input stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputState {
    /// A readable document of this type is attached.
    Attached,
    /// Something of this type arrived but cannot be read: every page blank, or the scan quarantined.
    Unreadable,
    /// Nothing of this type.
    Missing,
}

/// One required input of a case.
#[derive(Debug, Clone, Serialize)]
pub struct RequiredInput {
    /// Document type.
    pub doc_type: String,
    /// Where it stands.
    pub state: InputState,
    /// The PDFs of that type (`<code>.<NNN>.pdf`).
    pub documents: Vec<String>,
}

/// How complete a case's dossier is.
#[derive(Debug, Clone, Serialize)]
pub struct Completeness {
    /// The procedure, when the case names one the catalogue knows.
    pub procedure: Option<String>,
    /// Each required input in catalogue order.
    pub required: Vec<RequiredInput>,
    /// Input documents attached, of any type.
    pub inputs_attached: i64,
    /// Whether the procedure issues a written result (unknown procedure: assumed yes).
    pub result_required: bool,
    /// Result documents attached.
    pub results_attached: i64,
    /// Every required input attached and, when one is issued, the result too; never for a case whose
    /// procedure the catalogue does not know (or that names none): what it needs cannot be told.
    pub complete: bool,
    /// Whether completeness could be judged: the case names a procedure the catalogue knows.
    pub judged: bool,
}

/// Personal fields never go into events or logs, only the fact that they changed.
const PERSONAL: [&str; 3] = ["applicant_name", "applicant_id", "applicant_contact"];

impl Records {
    /// Adds or replaces a procedure in the catalogue; returns what it did.
    pub async fn put_procedure(&self, p: &Procedure, actor: &str, at: &str) -> Result<Upsert> {
        let mut tx = self.pool().begin_write().await?;
        let old: Option<Procedure> = read_procedure(&mut tx, &p.code).await?;
        let required = serde_json::to_string(&p.required_inputs).unwrap_or_else(|_| "[]".into());
        let outcome = match &old {
            None => Upsert::Created,
            Some(o) if o == p => Upsert::Unchanged,
            Some(_) => Upsert::Updated,
        };
        if outcome != Upsert::Unchanged {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO procedures (code, name, unit, required_inputs, issues_result, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 unit = excluded.unit, required_inputs = excluded.required_inputs, \
                 issues_result = excluded.issues_result, updated_at = excluded.updated_at",
            )
            .bind(&p.code)
            .bind(&p.name)
            .bind(&p.unit)
            .bind(&required)
            .bind(i64::from(p.issues_result))
            .bind(at)
            .execute(&mut *c)
            .await?
            .rows_affected());
            let detail = serde_json::json!({ "procedure": p, "was": old });
            insert_event(&mut tx, at, actor, "edit", None, None, None, None, &detail).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Removes a procedure from the catalogue (cases keep its code); false when it was not there.
    pub async fn remove_procedure(&self, code: &str, actor: &str, at: &str) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let old = read_procedure(&mut tx, code).await?;
        if let Some(old) = &old {
            on_tx!(&mut tx, |c| sqlx::query("DELETE FROM procedures WHERE code = $1")
                .bind(code)
                .execute(&mut *c)
                .await?
                .rows_affected());
            let detail = serde_json::json!({ "procedure": old });
            insert_event(&mut tx, at, actor, "delete", None, None, None, None, &detail).await?;
        }
        tx.commit().await?;
        Ok(old.is_some())
    }

    /// The catalogue, by code.
    pub async fn procedures(&self) -> Result<Vec<Procedure>> {
        let rows: Vec<ProcedureRow> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT code, name, unit, required_inputs, issues_result FROM procedures ORDER BY code"
        )
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(ProcedureRow::into_procedure).collect())
    }

    /// Creates a case or updates the fields given, in one transaction with an `edit` event naming
    /// what changed (personal fields by name only). `origin_import` marks a case the one-stop system
    /// reported.
    pub async fn upsert_case(
        &self,
        code: &str,
        fields: &CaseFields,
        origin_import: bool,
        actor: &str,
        at: &str,
    ) -> Result<Upsert> {
        let mut tx = self.pool().begin_write().await?;
        let out = upsert_case_in(&mut tx, code, fields, origin_import, actor, at).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Many upserts in one transaction (an import batch); the outcomes in order.
    pub async fn upsert_cases(&self, cases: &[(String, CaseFields)], actor: &str, at: &str) -> Result<Vec<Upsert>> {
        let mut tx = self.pool().begin_write().await?;
        let mut out = Vec::with_capacity(cases.len());
        for (code, fields) in cases {
            out.push(upsert_case_in(&mut tx, code, fields, true, actor, at).await?);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The stored fields of a case.
    pub async fn case_record(&self, code: &str) -> Result<Option<CaseRecord>> {
        let mut tx = self.pool().begin().await?;
        let r = read_case(&mut tx, code).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Which required inputs of a case are attached, missing or unreadable, and whether the result is;
    /// `procedure` is the case's procedure code, as the caller already read it with the case.
    pub async fn completeness(&self, code: &str, procedure: Option<&str>) -> Result<Completeness> {
        let procedure = match procedure {
            Some(code) => {
                let mut tx = self.pool().begin().await?;
                let p = read_procedure(&mut tx, code).await?;
                tx.commit().await?;
                p
            }
            None => None,
        };
        // (role, type, ordinal, pages, blank pages) of attached documents.
        type Doc = (String, Option<String>, i64, i64, i64);
        let docs: Vec<Doc> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT d.role, d.doc_type, d.ordinal, d.page_count, \
               (SELECT COUNT(*) FROM pages p WHERE p.document_id = d.id AND p.flags LIKE '%\"blank\"%') \
             FROM documents d WHERE d.case_code = $1 AND d.state = 'attached' ORDER BY d.ordinal",
        )
        .bind(code)
        .fetch_all(p)
        .await?);
        // Document types of scans routed to this case but quarantined.
        let refused: Vec<String> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT hints FROM intakes WHERE route_key = $1 AND state = 'quarantined'"
        )
        .bind(code)
        .fetch_all(p)
        .await?);
        let refused_types: Vec<String> = refused
            .iter()
            .filter_map(|h| serde_json::from_str::<crate::route::Hints>(h).ok())
            .filter_map(|h| h.manifest.and_then(|m| m.document_type))
            .map(|t| crate::util::text::nfc(&t))
            .collect();
        let wanted = procedure.as_ref().map(|p| p.required_inputs.clone()).unwrap_or_default();
        let required: Vec<RequiredInput> = wanted
            .iter()
            .map(|t| {
                let of_type: Vec<&Doc> =
                    docs.iter().filter(|d| d.0 == "input" && d.1.as_deref().is_some_and(|x| same_type(x, t))).collect();
                let readable = of_type.iter().any(|d| d.3 > d.4);
                let state = if readable {
                    InputState::Attached
                } else if !of_type.is_empty() || refused_types.iter().any(|r| same_type(r, t)) {
                    InputState::Unreadable
                } else {
                    InputState::Missing
                };
                RequiredInput {
                    doc_type: t.clone(),
                    state,
                    documents: of_type.iter().map(|d| format!("{code}.{:03}.pdf", d.2)).collect(),
                }
            })
            .collect();
        let inputs_attached = docs.iter().filter(|d| d.0 == "input").count() as i64;
        let results_attached = docs.iter().filter(|d| d.0 == "result").count() as i64;
        let result_required = procedure.as_ref().is_none_or(|p| p.issues_result);
        let judged = procedure.is_some();
        let complete = judged
            && inputs_attached > 0
            && required.iter().all(|r| r.state == InputState::Attached)
            && (!result_required || results_attached > 0);
        Ok(Completeness {
            judged,
            procedure: procedure.map(|p| p.code),
            required,
            inputs_attached,
            result_required,
            results_attached,
            complete,
        })
    }

    /// Takes an attached document off its case (filed to the wrong case, say): the document keeps its
    /// row, ordinal and PDF, marked detached with the reason; its pages become unfiled, ready to be
    /// filed again; the case bundle is dropped until the next attach rebuilds it. Returns the PDF's
    /// view name and hash, or `None` when no attached document has that ordinal.
    pub async fn detach_document(
        &self,
        code: &str,
        ordinal: i64,
        reason: &str,
        actor: &str,
        at: &str,
    ) -> Result<Option<(String, String)>> {
        let mut tx = self.pool().begin_write().await?;
        let doc: Option<(String, Option<String>)> = on_tx!(&mut tx, |c| sqlx::query_as(
            "SELECT id, pdf_sha256 FROM documents WHERE case_code = $1 AND ordinal = $2 AND state = 'attached'"
        )
        .bind(code)
        .bind(ordinal)
        .fetch_optional(&mut *c)
        .await?);
        let Some((id, sha)) = doc else {
            tx.rollback().await?;
            return Ok(None);
        };
        on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE documents SET state = 'detached', detached_at = $1, detach_reason = $2 WHERE id = $3"
        )
        .bind(at)
        .bind(reason)
        .bind(&id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let pages = on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE pages SET state = 'unfiled', case_code = NULL, document_id = NULL, page_no = NULL \
             WHERE document_id = $1"
        )
        .bind(&id)
        .execute(&mut *c)
        .await?
        .rows_affected());
        on_tx!(&mut tx, |c| sqlx::query("UPDATE cases SET bundle_sha256 = NULL, bundle_documents = 0 WHERE code = $1")
            .bind(code)
            .execute(&mut *c)
            .await?
            .rows_affected());
        super::outbox::enqueue(&mut tx, at, &id, "detach").await?;
        let detail = serde_json::json!({ "ordinal": ordinal, "reason": reason, "pages_unfiled": pages });
        insert_event(&mut tx, at, actor, "detach", Some(code), None, Some(&id), sha.as_deref(), &detail).await?;
        tx.commit().await?;
        Ok(Some((format!("{code}.{ordinal:03}.pdf"), sha.unwrap_or_default())))
    }

    /// Marks an attached input as taken from earlier digitized data (`from`: the source case or
    /// `case.NNN`), or clears the mark (`None`), with a `reuse` event; the reuse rate counts marked
    /// inputs beside byte-identical captures. `Ok(false)` when the case has no attached input of that
    /// ordinal (a result is never reused data).
    pub async fn mark_reused(
        &self,
        code: &str,
        ordinal: i64,
        from: Option<&str>,
        actor: &str,
        at: &str,
    ) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let id: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
            "UPDATE documents SET reused_from = $1 WHERE case_code = $2 AND ordinal = $3 AND state = 'attached' \
             AND role = 'input' RETURNING id"
        )
        .bind(from)
        .bind(code)
        .bind(ordinal)
        .fetch_optional(&mut *c)
        .await?);
        let Some(id) = id else {
            tx.rollback().await?;
            return Ok(false);
        };
        let detail = serde_json::json!({ "ordinal": ordinal, "reused_from": from });
        insert_event(&mut tx, at, actor, "reuse", Some(code), None, Some(&id), None, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Keeps the rows an import of `file` refused (replacing what its last import left), so the report
    /// can name the cases its figures may lack.
    /// Each row is (line, case code if any, reason).
    pub async fn record_refusals(&self, file: &str, at: &str, rows: &[(u64, Option<String>, String)]) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query("DELETE FROM import_refusals WHERE file = $1")
            .bind(file)
            .execute(&mut *c)
            .await?
            .rows_affected());
        for r in rows {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO import_refusals (at, file, line, code, reason) VALUES ($1, $2, $3, $4, $5)"
            )
            .bind(at)
            .bind(file)
            .bind(r.0 as i64)
            .bind(&r.1)
            .bind(&r.2)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds or renames units (code, name); returns how many changed.
    pub async fn put_units(&self, units: &[(String, String)], actor: &str, at: &str) -> Result<u64> {
        let mut tx = self.pool().begin_write().await?;
        let mut changed = 0;
        for (code, name) in units {
            let n = on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO units (code, name, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at \
                 WHERE units.name <> excluded.name"
            )
            .bind(code)
            .bind(name)
            .bind(at)
            .execute(&mut *c)
            .await?
            .rows_affected());
            changed += n;
        }
        if changed > 0 {
            let detail = serde_json::json!({ "units": units.len(), "changed": changed });
            insert_event(&mut tx, at, actor, "units", None, None, None, None, &detail).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Every unit with its name, by code.
    pub async fn units(&self) -> Result<Vec<(String, String)>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as("SELECT code, name FROM units ORDER BY code").fetch_all(p).await?))
    }

    /// Queues again the render of a document that was set aside as a poison job (it stopped the
    /// service): from nothing, its crash count forgotten, with a `render-again` event. `false` when the
    /// case has no document of that ordinal waiting for its PDF.
    pub async fn render_again(&self, code: &str, ordinal: i64, actor: &str, at: &str) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let doc: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT d.id FROM documents d JOIN jobs j ON j.kind = 'render' AND j.subject = d.id \
             WHERE d.case_code = $1 AND d.ordinal = $2 AND d.state = 'closed' AND j.state = 'done'"
        )
        .bind(code)
        .bind(ordinal)
        .fetch_optional(&mut *c)
        .await?);
        let Some(doc_id) = doc else {
            tx.rollback().await?;
            return Ok(false);
        };
        run_again(&mut tx, JobKind::Render, &doc_id).await?;
        let detail = serde_json::json!({ "ordinal": ordinal });
        insert_event(&mut tx, at, actor, "render-again", Some(code), None, Some(&doc_id), None, &detail).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A document type as a case's procedure spells it: a type the procedure requires is stored in the
    /// catalogue's spelling however it was typed (`tờ  KHAI` → `Tờ khai`); any other as given.
    pub async fn type_as_catalogued(&self, code: &str, doc_type: &str) -> Result<String> {
        let mut tx = self.pool().begin().await?;
        let required = match read_case(&mut tx, code).await?.and_then(|c| c.procedure_code) {
            Some(p) => read_procedure(&mut tx, &p).await?.map(|p| p.required_inputs).unwrap_or_default(),
            None => Vec::new(),
        };
        tx.rollback().await?;
        Ok(required.iter().find(|r| same_type(r, doc_type)).cloned().unwrap_or_else(|| doc_type.to_string()))
    }

    /// Files an input's unfiled pages into a new document of a case (a clerk's decision), closes it so
    /// its PDF is rendered and attached like any other, and records a `file` event. Returns the
    /// document's ordinal, or `None` when the input has no unfiled page.
    #[allow(clippy::too_many_arguments)]
    pub async fn file_unfiled(
        &self,
        intake_id: &str,
        code: &str,
        role: Option<DocRole>,
        doc_type: Option<&str>,
        actor: &str,
        at: &str,
    ) -> Result<Option<i64>> {
        let mut tx = self.pool().begin_write().await?;
        let pages: Vec<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT id FROM pages WHERE intake_id = $1 AND state = 'unfiled' ORDER BY page_index"
        )
        .bind(intake_id)
        .fetch_all(&mut *c)
        .await?);
        if pages.is_empty() {
            tx.rollback().await?;
            return Ok(None);
        }
        let intake: Option<(String, String)> =
            on_tx!(&mut tx, |c| sqlx::query_as("SELECT sha256, hints FROM intakes WHERE id = $1")
                .bind(intake_id)
                .fetch_optional(&mut *c)
                .await?);
        let sha = intake.as_ref().map(|(s, _)| s.clone());
        // What the scan's own manifest said (a role, a type, with no case) applies unless the clerk says
        // otherwise.
        let said = intake
            .and_then(|(_, h)| serde_json::from_str::<crate::route::Hints>(&h).ok())
            .and_then(|h| h.manifest)
            .unwrap_or_default();
        let doc_type = doc_type.map(str::to_string).or(said.document_type);
        let doc_type = doc_type.as_deref();
        let role = role.or(said.role).unwrap_or_default().as_str();
        super::assembly::bare_case(&mut tx, code, at).await?;
        let ordinal = super::assembly::next_ordinal(&mut tx, code).await?;
        let doc_id = new_id();
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO documents (id, case_code, ordinal, role, doc_type, group_key, state, page_count, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8)"
        )
        .bind(&doc_id)
        .bind(code)
        .bind(ordinal)
        .bind(role)
        .bind(doc_type)
        .bind(format!("filed:{doc_id}"))
        .bind(pages.len() as i64)
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
        for (n, page) in pages.iter().enumerate() {
            on_tx!(&mut tx, |c| sqlx::query(
                "UPDATE pages SET state = 'filed', case_code = $1, role = $2, doc_type = $3, document_id = $4, \
                 page_no = $5 WHERE id = $6"
            )
            .bind(code)
            .bind(role)
            .bind(doc_type)
            .bind(&doc_id)
            .bind(n as i64 + 1)
            .bind(page)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        super::assembly::close_document(&mut tx, &doc_id, at).await?;
        let detail = serde_json::json!({ "ordinal": ordinal, "role": role, "type": doc_type, "pages": pages.len() });
        insert_event(&mut tx, at, actor, "file", Some(code), Some(intake_id), Some(&doc_id), sha.as_deref(), &detail)
            .await?;
        tx.commit().await?;
        Ok(Some(ordinal))
    }

    /// Records that someone looked at or downloaded something (the audit trail of access).
    pub async fn log_access(
        &self,
        actor: &str,
        kind: &str,
        case: Option<&str>,
        sha256: Option<&str>,
        detail: &serde_json::Value,
        at: &str,
    ) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        insert_event(&mut tx, at, actor, kind, case, None, None, sha256, detail).await?;
        tx.commit().await
    }
}

#[derive(sqlx::FromRow)]
struct ProcedureRow {
    code: String,
    name: String,
    unit: String,
    required_inputs: String,
    issues_result: i64,
}

impl ProcedureRow {
    fn into_procedure(self) -> Procedure {
        Procedure {
            code: self.code,
            name: self.name,
            unit: self.unit,
            required_inputs: serde_json::from_str(&self.required_inputs).unwrap_or_default(),
            issues_result: self.issues_result != 0,
        }
    }
}

async fn read_procedure(tx: &mut super::db::Tx, code: &str) -> Result<Option<Procedure>> {
    let row: Option<ProcedureRow> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT code, name, unit, required_inputs, issues_result FROM procedures WHERE code = $1"
    )
    .bind(code)
    .fetch_optional(&mut *c)
    .await?);
    Ok(row.map(ProcedureRow::into_procedure))
}

async fn read_case(tx: &mut super::db::Tx, code: &str) -> Result<Option<CaseRecord>> {
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "SELECT code, procedure_code, unit, received_date, due_date, status, resolved_date, applicant_name, \
         applicant_id, applicant_contact, channel, origin FROM cases WHERE code = $1",
    )
    .bind(code)
    .fetch_optional(&mut *c)
    .await?))
}

async fn upsert_case_in(
    tx: &mut super::db::Tx,
    code: &str,
    f: &CaseFields,
    origin_import: bool,
    actor: &str,
    at: &str,
) -> Result<Upsert> {
    let old = read_case(tx, code).await?;
    let created = old.is_none();
    let mut new = old.clone().unwrap_or_else(|| CaseRecord {
        code: code.to_string(),
        status: Status::Received,
        origin: Origin::Scan,
        ..Default::default()
    });
    let set = |slot: &mut Option<String>, v: &Option<String>| {
        if let Some(v) = v {
            *slot = Some(v.clone());
        }
    };
    set(&mut new.procedure_code, &f.procedure);
    set(&mut new.unit, &f.unit);
    set(&mut new.received_date, &f.received);
    set(&mut new.due_date, &f.due);
    set(&mut new.resolved_date, &f.resolved);
    set(&mut new.applicant_name, &f.applicant_name);
    set(&mut new.applicant_id, &f.applicant_id);
    set(&mut new.applicant_contact, &f.applicant_contact);
    set(&mut new.channel, &f.channel.map(|c| c.as_str().to_string()));
    if let Some(s) = f.status {
        new.status = s;
    }
    if origin_import {
        new.origin = Origin::Import;
    }
    if new.unit.is_none() {
        // The unit code is the first part of a one-stop case code.
        new.unit = code.split_once('-').map(|(u, _)| u.to_string());
    }
    if old.as_ref() == Some(&new) {
        return Ok(Upsert::Unchanged);
    }
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO cases (id, code, created_at, procedure_code, unit, received_date, due_date, status, \
           resolved_date, applicant_name, applicant_id, applicant_contact, origin, updated_at, channel) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $3, $14) \
         ON CONFLICT (code) DO UPDATE SET procedure_code = excluded.procedure_code, unit = excluded.unit, \
           received_date = excluded.received_date, due_date = excluded.due_date, status = excluded.status, \
           resolved_date = excluded.resolved_date, applicant_name = excluded.applicant_name, \
           applicant_id = excluded.applicant_id, applicant_contact = excluded.applicant_contact, \
           origin = excluded.origin, updated_at = excluded.updated_at, channel = excluded.channel",
    )
    .bind(new_id())
    .bind(code)
    .bind(at)
    .bind(&new.procedure_code)
    .bind(&new.unit)
    .bind(&new.received_date)
    .bind(&new.due_date)
    .bind(new.status.as_str())
    .bind(&new.resolved_date)
    .bind(&new.applicant_name)
    .bind(&new.applicant_id)
    .bind(&new.applicant_contact)
    .bind(new.origin.as_str())
    .bind(&new.channel)
    .execute(&mut *c)
    .await?
    .rows_affected());
    let before = serde_json::to_value(old.unwrap_or_default()).unwrap_or_default();
    let after = serde_json::to_value(&new).unwrap_or_default();
    let mut changed = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in a {
            if k == "code" || b.get(k) == Some(v) {
                continue;
            }
            let shown = if PERSONAL.contains(&k.as_str()) { serde_json::json!("(changed)") } else { v.clone() };
            changed.insert(k.clone(), shown);
        }
    }
    let detail = serde_json::json!({ "created": created, "changed": changed });
    insert_event(tx, at, actor, "edit", Some(code), None, None, None, &detail).await?;
    Ok(if created { Upsert::Created } else { Upsert::Updated })
}

/// Whether two document type names are the same type: compared after NFC, case folding and with runs
/// of spaces made one (`Tờ khai`, `tờ khai`, `Tờ  khai` are one type; `To khai` is not — tone marks are
/// meaning in Vietnamese).
pub fn same_type(a: &str, b: &str) -> bool {
    let norm = |s: &str| crate::util::text::nfc(s).to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ");
    norm(a) == norm(b)
}
