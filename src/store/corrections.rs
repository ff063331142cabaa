//! A clerk's corrections to attached documents, written as new versions. The pipeline plans each
//! affected document's whole new state (its pages in order, each page's turn and flags, its role and
//! type) and renders the new PDFs; this module writes all of it in one transaction, refusing when a
//! document is no longer at the version the clerk saw. Earlier versions keep their rows and PDFs.

use super::Records;
use super::db::{Tx, on_pool, on_tx};
use super::documents::PageOutcome;
use super::records::{insert_event, new_id, now_ms};

use crate::error::Result;
use crate::profile::DocRole;

/// Which document a revision writes.
#[derive(Debug, Clone)]
pub enum Revise {
    /// An attached document, at the version the clerk saw.
    Existing {
        /// Document id.
        id: String,
        /// The version the plan was made on; another version now refuses the whole correction.
        version: i64,
    },
    /// A new document (a split's second half, pages moved into a case), given the next ordinal.
    New {
        /// Its case: created bare when the records do not know it yet, as a scan would.
        case_code: String,
        /// The ordinal the PDF was made for (the case's next); taken meanwhile, the correction is refused.
        ordinal: i64,
    },
}

/// A page in a revised document, in order.
#[derive(Debug, Clone)]
pub struct PlacedPage {
    /// Page id.
    pub page_id: String,
    /// The clerk's quarter turns clockwise.
    pub clerk_turn: i64,
    /// Its flags (`blank`, `keep`, `removed`, `replaced`, `as-scanned`, …).
    pub flags: Vec<String>,
}

/// One document's new state.
#[derive(Debug, Clone)]
pub struct Revised {
    /// Which document.
    pub target: Revise,
    /// Input or result.
    pub role: DocRole,
    /// Document type.
    pub doc_type: Option<String>,
    /// Its pages in order; empty when the document is taken off the case (`detach_reason`).
    pub pages: Vec<PlacedPage>,
    /// Its pages, less those a clerk removed or replaced (kept as it was when the document is taken off
    /// the case).
    pub page_count: i64,
    /// The new PDF, durable in the blob store: hash and size. `None` with `detach_reason`.
    pub pdf: Option<(String, u64)>,
    /// What the render did to each page.
    pub outcomes: Vec<PageOutcome>,
    /// Why the document leaves the case when all its pages went elsewhere (merged, moved).
    pub detach_reason: Option<String>,
}

/// A new scan that takes the place of a page, captured in the correction's own transaction (its bytes
/// are made durable in it): an intake row already split, its pages, a `capture` event.
#[derive(Debug, Clone)]
pub struct NewScan {
    /// The intake's id (its pages' rows name it).
    pub intake_id: String,
    /// The input as any capture records it (its route key: the case).
    pub intake: super::records::NewIntake,
    /// The profile it is rendered under (the document's).
    pub profile_name: String,
    /// That profile's hash.
    pub profile_sha256: String,
    /// `jpeg`, `png`, `tiff`, `pdf`.
    pub format: String,
    /// Its pages, each with its row's id (the plan places them).
    pub pages: Vec<(String, super::assembly::NewPage)>,
}

/// A whole correction: its operation's name and what the clerk asked, and every document it changes.
#[derive(Debug, Clone)]
pub struct Correction {
    /// `turn`, `order`, `remove`, `restore`, `as-scanned`, `split`, `merge`, `move`, `replace-page`, `retype`.
    pub operation: String,
    /// Who.
    pub actor: String,
    /// When (ISO 8601 with offset).
    pub at: String,
    /// What was asked, for the version list and the audit event.
    pub detail: serde_json::Value,
    /// The documents changed, the one the clerk named first.
    pub documents: Vec<Revised>,
    /// A new scan captured with it (`replace-page`).
    pub scan: Option<NewScan>,
}

/// What a correction did to one document.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Changed {
    /// Its case.
    pub case_code: String,
    /// Its ordinal.
    pub ordinal: i64,
    /// The version before (`None` for a new document).
    pub version_before: Option<i64>,
    /// The version now.
    pub version: i64,
    /// The PDF before.
    pub sha256_before: Option<String>,
    /// The PDF now (`None` when taken off the case).
    pub sha256: Option<String>,
    /// Taken off the case (its pages all went elsewhere).
    pub detached: bool,
}

/// Whether a correction was written.
#[derive(Debug, Clone)]
pub enum Applied {
    /// Written, one transaction.
    Done(Vec<Changed>),
    /// A document is no longer at the version the plan was made on (someone else changed it first),
    /// or no longer attached: nothing written.
    Stale {
        /// The document's ordinal.
        ordinal: i64,
        /// Its version now.
        version: i64,
    },
}

/// One earlier or current version of a document.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct VersionRow {
    /// 1 as scanned, then one per correction.
    pub version: i64,
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// Which operation made it.
    pub operation: String,
    /// What was asked (JSON).
    #[sqlx(try_from = "String")]
    pub detail: Detail,
    /// Its PDF (`None` while being made).
    pub pdf_sha256: Option<String>,
    /// Its size.
    pub bytes: Option<i64>,
}

/// A version's detail, parsed from its stored JSON.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Detail(pub serde_json::Value);

impl TryFrom<String> for Detail {
    type Error = serde_json::Error;
    fn try_from(s: String) -> std::result::Result<Detail, Self::Error> {
        serde_json::from_str(&s).map(Detail)
    }
}

/// A document as a correction found it: case, ordinal, version, PDF.
type Before = (String, i64, i64, Option<String>);

impl Records {
    /// The id of a case's document by ordinal, with its state.
    pub async fn document_id(&self, code: &str, ordinal: i64) -> Result<Option<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT id FROM documents WHERE case_code = $1 AND ordinal = $2"
        )
        .bind(code)
        .bind(ordinal)
        .fetch_optional(p)
        .await?))
    }

    /// An input already captured for a case with these bytes (the duplicate rule: one record per bytes
    /// and case).
    pub async fn captured_for(&self, sha256: &str, code: &str) -> Result<Option<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT source_path FROM intakes WHERE sha256 = $1 AND route_key = $2"
        )
        .bind(sha256)
        .bind(code)
        .fetch_optional(p)
        .await?))
    }

    /// The ordinal a new document of the case would take.
    pub async fn next_ordinal(&self, code: &str) -> Result<i64> {
        let mut tx = self.pool().begin().await?;
        let n = super::assembly::next_ordinal(&mut tx, code).await?;
        tx.rollback().await?;
        Ok(n)
    }

    /// A document's versions, oldest first.
    pub async fn document_versions(&self, doc_id: &str) -> Result<Vec<VersionRow>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT version, at, actor, operation, detail, pdf_sha256, bytes FROM document_versions \
             WHERE document_id = $1 ORDER BY version"
        )
        .bind(doc_id)
        .fetch_all(p)
        .await?))
    }

    /// Writes a correction in one transaction: every document's pages, turns, flags and new PDF, a
    /// version row each, the case bundles made stale, and one event per case touched, of the operation's kind, with
    /// the versions and hashes before and after.
    pub async fn apply_correction(
        &self,
        c: &Correction,
        persist: impl std::future::Future<Output = Result<()>>,
    ) -> Result<Applied> {
        let mut tx = self.pool().begin_write().await?;
        // Every existing document still at the version the plan was made on, and attached.
        let mut before: Vec<Option<Before>> = Vec::new();
        for r in &c.documents {
            let (id, version) = match &r.target {
                Revise::Existing { id, version } => (id, version),
                Revise::New { case_code, ordinal } => {
                    // The ordinal the PDF was made for is still the case's next.
                    if super::assembly::next_ordinal(&mut tx, case_code).await? != *ordinal {
                        tx.rollback().await?;
                        return Ok(Applied::Stale { ordinal: 0, version: 0 });
                    }
                    before.push(None);
                    continue;
                }
            };
            let row: Option<(String, i64, i64, String, Option<String>)> = on_tx!(&mut tx, |c| sqlx::query_as(
                "SELECT case_code, ordinal, version, state, pdf_sha256 FROM documents WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(&mut *c)
            .await?);
            match row {
                Some((code, ordinal, v, state, sha)) if v == *version && state == "attached" => {
                    before.push(Some((code, ordinal, v, sha)));
                }
                Some((_, ordinal, v, ..)) => {
                    tx.rollback().await?;
                    return Ok(Applied::Stale { ordinal, version: v });
                }
                None => {
                    tx.rollback().await?;
                    return Ok(Applied::Stale { ordinal: 0, version: 0 });
                }
            }
        }
        // Every check passed: the new files are made durable now, under the writers' lock, so a
        // refused correction leaves nothing in the store.
        persist.await?;
        if let Some(scan) = &c.scan {
            let code = before.iter().flatten().next().map(|b| b.0.clone()).unwrap_or_default();
            capture_scan(&mut tx, scan, &code, &c.actor, &c.at).await?;
        }
        let mut changed = Vec::with_capacity(c.documents.len());
        for (r, was) in c.documents.iter().zip(before) {
            if let Some((sha, bytes)) = &r.pdf {
                super::records::record_pdf(&mut tx, sha, *bytes, &c.at).await?;
            }
            let sha = r.pdf.as_ref().map(|(s, _)| s.clone());
            let (doc_id, code, ordinal, version) = match &r.target {
                Revise::Existing { id, .. } => {
                    let Some((code, ordinal, v, _)) = &was else { continue };
                    let detached = r.detach_reason.is_some();
                    let version = if detached { *v } else { v + 1 };
                    on_tx!(&mut tx, |x| {
                        sqlx::query(
                        "UPDATE documents SET version = $1, role = $2, doc_type = $3, \
                         page_count = CASE WHEN $7 IS NULL THEN $4 ELSE page_count END, \
                         pdf_sha256 = COALESCE($5, pdf_sha256), attached_at = CASE WHEN $5 IS NULL THEN attached_at ELSE $6 END, \
                         state = CASE WHEN $7 IS NULL THEN state ELSE 'detached' END, \
                         detached_at = CASE WHEN $7 IS NULL THEN detached_at ELSE $6 END, \
                         detach_reason = COALESCE($7, detach_reason), updated_ms = $8 WHERE id = $9"
                    )
                    .bind(version)
                    .bind(r.role.as_str())
                    .bind(&r.doc_type)
                    .bind(r.page_count)
                    .bind(&sha)
                    .bind(&c.at)
                    .bind(&r.detach_reason)
                    .bind(now_ms())
                    .bind(id)
                    .execute(&mut *x)
                    .await?
                    .rows_affected()
                    });
                    (id.clone(), code.clone(), *ordinal, version)
                }
                Revise::New { case_code, ordinal } => {
                    let ordinal = *ordinal;
                    super::assembly::bare_case(&mut tx, case_code, &c.at).await?;
                    let id = new_id();
                    on_tx!(&mut tx, |x| sqlx::query(
                        "INSERT INTO documents (id, case_code, ordinal, role, doc_type, group_key, state, pdf_sha256, \
                         page_count, created_at, attached_at, updated_ms, version) \
                         VALUES ($1, $2, $3, $4, $5, $6, 'attached', $7, $8, $9, $9, $10, 1)"
                    )
                    .bind(&id)
                    .bind(case_code)
                    .bind(ordinal)
                    .bind(r.role.as_str())
                    .bind(&r.doc_type)
                    .bind(format!("corrected:{id}"))
                    .bind(&sha)
                    .bind(r.page_count)
                    .bind(&c.at)
                    .bind(now_ms())
                    .execute(&mut *x)
                    .await?
                    .rows_affected());
                    (id, case_code.clone(), ordinal, 1)
                }
            };
            place_pages(&mut tx, &doc_id, &code, r).await?;
            let told = match (&r.target, r.detach_reason.is_some()) {
                (_, true) => "detach",
                (Revise::New { .. }, false) => "attach",
                (Revise::Existing { .. }, false) => "correct",
            };
            super::outbox::enqueue(&mut tx, &c.at, &doc_id, told).await?;
            if r.detach_reason.is_none() {
                // The new PDF is made from the scans, without the text layer: a document whose text
                // was recognised is read again.
                super::jobs::run_again(&mut tx, super::jobs::JobKind::Ocr, &doc_id).await?;
                on_tx!(&mut tx, |x| {
                    sqlx::query(
                    "INSERT INTO document_versions (document_id, version, at, actor, operation, detail, pdf_sha256, bytes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                )
                .bind(&doc_id)
                .bind(version)
                .bind(&c.at)
                .bind(&c.actor)
                .bind(&c.operation)
                .bind(c.detail.to_string())
                .bind(&sha)
                .bind(r.pdf.as_ref().map(|(_, b)| *b as i64))
                .execute(&mut *x)
                .await?
                .rows_affected()
                });
            }
            // The case bundle no longer matches its documents: rebuilt after the commit.
            on_tx!(&mut tx, |x| sqlx::query(
                "UPDATE cases SET bundle_sha256 = NULL, bundle_documents = 0 WHERE code = $1"
            )
            .bind(&code)
            .execute(&mut *x)
            .await?
            .rows_affected());
            changed.push((
                doc_id,
                Changed {
                    case_code: code,
                    ordinal,
                    version_before: was.as_ref().map(|w| w.2),
                    version,
                    sha256_before: was.and_then(|w| w.3),
                    sha256: sha,
                    detached: r.detach_reason.is_some(),
                },
            ));
        }
        // One event per case the correction touched, naming every document it changed.
        let mut cases: Vec<&str> = Vec::new();
        for (_, ch) in &changed {
            if !cases.contains(&ch.case_code.as_str()) {
                cases.push(&ch.case_code);
            }
        }
        let documents: Vec<&Changed> = changed.iter().map(|(_, ch)| ch).collect();
        let detail = serde_json::json!({ "operation": c.operation, "asked": c.detail, "documents": documents });
        for code in cases {
            let first = changed.iter().find(|(_, ch)| ch.case_code == code);
            let (doc_id, sha) = first.map(|(id, ch)| (id.as_str(), ch.sha256.as_deref())).unwrap_or(("", None));
            insert_event(&mut tx, &c.at, &c.actor, &c.operation, Some(code), None, Some(doc_id), sha, &detail).await?;
        }
        tx.commit().await?;
        Ok(Applied::Done(changed.into_iter().map(|(_, ch)| ch).collect()))
    }
}

/// Records a new scan (bytes already durable) as an input already split, with its pages and a
/// `capture` event; the plan then places its pages.
async fn capture_scan(tx: &mut Tx, scan: &NewScan, code: &str, actor: &str, at: &str) -> Result<()> {
    on_tx!(tx, |x| sqlx::query(
        "INSERT INTO files (sha256, bytes, stored_at, kind, stored_ms) VALUES ($1, $2, $3, 'original', $4) \
         ON CONFLICT DO NOTHING"
    )
    .bind(&scan.intake.sha256)
    .bind(scan.intake.bytes as i64)
    .bind(at)
    .bind(now_ms())
    .execute(&mut *x)
    .await?
    .rows_affected());
    let n = &scan.intake;
    on_tx!(tx, |x| {
        sqlx::query(
        "INSERT INTO intakes (id, seq, sha256, bytes, source_path, source_name, source_mtime, station, operator, \
         profile_name, profile_sha256, captured_at, route_key, hints, unit, state, assembled, format, page_count) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'split', 1, $15, $16 \
         FROM intakes"
    )
    .bind(&scan.intake_id)
    .bind(&n.sha256)
    .bind(n.bytes as i64)
    .bind(&n.source_path)
    .bind(&n.source_name)
    .bind(&n.source_mtime)
    .bind(&n.station)
    .bind(&n.operator)
    .bind(&scan.profile_name)
    .bind(&scan.profile_sha256)
    .bind(&n.captured_at)
    .bind(&n.route_key)
    .bind(&n.hints)
    .bind(&n.unit)
    .bind(&scan.format)
    .bind(scan.pages.len() as i64)
    .execute(&mut *x)
    .await?
    .rows_affected()
    });
    for (id, p) in &scan.pages {
        super::assembly::insert_page(tx, id, &scan.intake_id, p).await?;
    }
    let detail = serde_json::json!({ "source": n.source_path, "bytes": n.bytes, "profile": scan.profile_name,
        "profile_sha256": scan.profile_sha256, "replaces_a_page": true });
    insert_event(tx, at, actor, "capture", Some(code), Some(&scan.intake_id), None, Some(&n.sha256), &detail).await?;
    Ok(())
}

/// Puts a revised document's pages in place: its case, role and type, their order, turns and flags,
/// and what the render did to each.
async fn place_pages(tx: &mut Tx, doc_id: &str, code: &str, r: &Revised) -> Result<()> {
    for (n, p) in r.pages.iter().enumerate() {
        let flags = serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into());
        on_tx!(tx, |x| sqlx::query(
            "UPDATE pages SET document_id = $1, page_no = $2, case_code = $3, role = $4, doc_type = $5, \
             clerk_turn = $6, flags = $7, state = 'attached' WHERE id = $8"
        )
        .bind(doc_id)
        .bind(n as i64 + 1)
        .bind(code)
        .bind(r.role.as_str())
        .bind(&r.doc_type)
        .bind(p.clerk_turn)
        .bind(flags)
        .bind(&p.page_id)
        .execute(&mut *x)
        .await?
        .rows_affected());
    }
    for o in &r.outcomes {
        on_tx!(tx, |x| sqlx::query("UPDATE pages SET output_encoding = $1, normalization = $2 WHERE id = $3")
            .bind(&o.encoding)
            .bind(&o.normalization)
            .bind(&o.page_id)
            .execute(&mut *x)
            .await?
            .rows_affected());
    }
    Ok(())
}
