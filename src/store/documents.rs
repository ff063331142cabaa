//! Documents as the render job sees them: a document and its pages in order, the PDF attached in
//! one transaction with each page's normalization record, and the case bundle.

use super::Records;
use super::db::{on_pool, on_tx};
use super::records::insert_event;

use crate::error::Result;
use crate::pages::SourceEncoding;
use crate::profile::DocRole;

stored_words! {
    /// Where a document is in its life: `open` while pages may still join it, `closed` once complete
    /// and waiting for its PDF, `attached` with its PDF recorded, `detached` by a clerk (kept, counted
    /// nowhere).
    pub enum DocState {
        /// Pages may still join.
        Open = "open",
        /// Complete; its render job builds the PDF.
        Closed = "closed",
        /// Its PDF is recorded and counts.
        Attached = "attached",
        /// Taken off the case by a clerk.
        Detached = "detached",
    }
}

/// A page as the render job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageRow {
    /// Page id.
    pub id: String,
    /// Its input.
    pub intake_id: String,
    /// The input's blob.
    pub sha256: String,
    /// Index within the input.
    #[sqlx(try_from = "i64")]
    pub page_index: u32,
    /// Pixels, as the input's header says.
    #[sqlx(try_from = "i64")]
    pub width: u32,
    /// Pixels, as the input's header says.
    #[sqlx(try_from = "i64")]
    pub height: u32,
    /// The page's colour as stored: with the size, what decoding it will take.
    #[sqlx(try_from = "String")]
    pub colour: crate::pages::Colour,
    /// Resolution.
    pub dpi_x: f64,
    /// Resolution.
    pub dpi_y: f64,
    /// `jpeg`, `g4`, `raw`, `pdf`.
    #[sqlx(try_from = "String")]
    pub source_encoding: SourceEncoding,
    /// The input's scan time.
    pub source_mtime: String,
    /// The input's file name.
    pub source_name: String,
    /// Whether the page is a separator sheet (left out of the PDF unless the profile keeps them).
    pub separator: bool,
    /// A clerk put the page back after it was left out as blank: it stays in the PDF.
    pub keep: bool,
    /// A clerk took the page out (removed, or replaced by a new scan): kept in the record, not in the PDF.
    pub removed: bool,
    /// A clerk undid the automatic straightening and crop: the page goes in as scanned (turns kept).
    pub as_scanned: bool,
    /// A clerk's quarter turns clockwise, on top of the automatic ones.
    pub clerk_turn: i64,
    /// What the first render found (`PageNormalization` as JSON), reused when the document is made
    /// again: a correction never re-judges a page behind the clerk's back. `None` before that render,
    /// or when no step found anything (then `rendered` tells the two apart).
    pub normalization: Option<String>,
    /// Whether the page has been rendered before (its record is the judgement to keep).
    pub rendered: bool,
    /// Left out of the current PDF as blank (a clerk's `keep` puts it back at the next render).
    pub blank_omitted: bool,
    /// The page's flags as stored (JSON list), for a correction to change.
    pub flags: String,
}

/// A document as the render job needs it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DocumentRow {
    /// Document id.
    pub id: String,
    /// Its case.
    pub case_code: String,
    /// 1-based ordinal within the case.
    pub ordinal: i64,
    /// `input` or `result`.
    #[sqlx(try_from = "String")]
    pub role: DocRole,
    /// Document type.
    pub doc_type: Option<String>,
    /// Lifecycle.
    #[sqlx(try_from = "String")]
    pub state: DocState,
    /// The attached PDF.
    pub pdf_sha256: Option<String>,
    /// Pages.
    pub page_count: i64,
    /// The current version: 1 as scanned, one more for each clerk's correction.
    pub version: i64,
}

/// What rendering did to one page: its output encoding (with `+blank`, `+deskew(…)`, `+turn(…)`,
/// `+crop` marks) and the normalization record as JSON.
#[derive(Debug, Clone)]
pub struct PageOutcome {
    /// The page.
    pub page_id: String,
    /// How it went into the PDF.
    pub encoding: String,
    /// `PageNormalization` as JSON; `None` when no step ran.
    pub normalization: Option<String>,
}

impl Records {
    /// A document and its pages in order, for rendering.
    pub async fn document_for_render(&self, id: &str) -> Result<Option<(DocumentRow, Vec<PageRow>)>> {
        let Some(doc) = self.document(id).await? else {
            return Ok(None);
        };
        let pages = on_pool!(&self.pool, |p| {
            sqlx::query_as(
            "SELECT p.id, p.intake_id, i.sha256, p.page_index, p.width, p.height, p.colour, p.dpi_x, p.dpi_y, p.source_encoding, i.source_mtime, i.source_name, \
                    (p.stack IS NOT NULL AND p.stack LIKE '%\"sheet\":{%') AS separator, \
                    (p.flags LIKE '%\"keep\"%') AS keep, \
                    (p.flags LIKE '%\"removed\"%' OR p.flags LIKE '%\"replaced\"%') AS removed, \
                    (p.flags LIKE '%\"as-scanned\"%') AS as_scanned, p.clerk_turn, p.normalization, \
                    (p.output_encoding IS NOT NULL) AS rendered, \
                    (COALESCE(p.output_encoding, '') = 'blank-omitted') AS blank_omitted, p.flags \
             FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.document_id = $1 ORDER BY p.page_no",
        )
        .bind(id)
        .fetch_all(p)
        .await?
        });
        Ok(Some((doc, pages)))
    }

    /// Attached scanned documents of a case in ordinal order, with their pages, for the case bundle.
    pub async fn case_documents_for_bundle(&self, code: &str) -> Result<Vec<(DocumentRow, Vec<PageRow>)>> {
        let ids: Vec<String> = on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT d.id FROM documents d WHERE d.case_code = $1 AND d.state = 'attached' \
             AND NOT EXISTS (SELECT 1 FROM pages p WHERE p.document_id = d.id AND p.source_encoding = 'pdf') \
             ORDER BY d.ordinal",
        )
        .bind(code)
        .fetch_all(p)
        .await?);
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(d) = self.document_for_render(&id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Records a rebuilt case bundle unless a bundle of at least as many documents is already recorded
    /// (two rebuilds racing: the fuller one wins). Returns whether it was recorded.
    pub async fn record_case_bundle(
        &self,
        code: &str,
        sha256: &str,
        bytes: u64,
        documents: i64,
        at: &str,
    ) -> Result<bool> {
        let mut tx = self.jobs.begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO files (sha256, bytes, kind, stored_at, stored_ms) VALUES ($1, $2, 'pdf', $3, $4) \
             ON CONFLICT DO NOTHING"
        )
        .bind(sha256)
        .bind(bytes as i64)
        .bind(at)
        .bind(super::records::now_ms())
        .execute(&mut *c)
        .await?
        .rows_affected());
        let r = on_tx!(&mut tx, |c| sqlx::query(
            "UPDATE cases SET bundle_sha256 = $1, bundle_documents = $2 WHERE code = $3 AND bundle_documents <= $4",
        )
        .bind(sha256)
        .bind(documents)
        .bind(code)
        .bind(documents)
        .execute(&mut *c)
        .await?
        .rows_affected());
        let recorded = r > 0;
        if recorded {
            let detail = serde_json::json!({ "documents": documents, "bytes": bytes });
            insert_event(&mut tx, at, "sohoa", "bundle", Some(code), None, None, Some(sha256), &detail).await?;
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// One document.
    pub async fn document(&self, id: &str) -> Result<Option<DocumentRow>> {
        Ok(on_pool!(&self.pool, |p| {
            sqlx::query_as(
            "SELECT id, case_code, ordinal, role, doc_type, state, pdf_sha256, page_count, version FROM documents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
        }))
    }

    /// Attaches a rendered PDF (already durable in the blob store) to its document.
    #[allow(clippy::too_many_arguments)]
    pub async fn attach_pdf(
        &self,
        job_id: &str,
        doc_id: &str,
        pdf_sha256: &str,
        bytes: u64,
        outcomes: &[PageOutcome],
        ocr: bool,
        at: &str,
    ) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        // Only a closed document takes its PDF: an attach done again (a re-run job) changes nothing. The
        // file is recorded first (the document refers to it), and only for a document that takes it.
        let closed: Option<String> = if pdf_sha256.is_empty() {
            None
        } else {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO files (sha256, bytes, kind, stored_at, stored_ms) SELECT $1, $2, 'pdf', $3, $5 \
                 WHERE EXISTS (SELECT 1 FROM documents WHERE id = $4 AND state = 'closed') ON CONFLICT DO NOTHING"
            )
            .bind(pdf_sha256)
            .bind(bytes as i64)
            .bind(at)
            .bind(doc_id)
            .bind(super::records::now_ms())
            .execute(&mut *c)
            .await?
            .rows_affected());
            on_tx!(&mut tx, |c| sqlx::query_scalar(
                "UPDATE documents SET state = 'attached', pdf_sha256 = $1, attached_at = $2 \
                 WHERE id = $3 AND state = 'closed' RETURNING case_code"
            )
            .bind(pdf_sha256)
            .bind(at)
            .bind(doc_id)
            .fetch_optional(&mut *c)
            .await?)
        };
        if let Some(case_code) = closed {
            super::outbox::enqueue(&mut tx, at, doc_id, "attach").await?;
            if ocr {
                super::jobs::queue_ocr(&mut tx, job_id, doc_id, at).await?;
            }
            // The version the PDF is of: the first, as scanned (a correction records its own).
            on_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO document_versions (document_id, version, at, actor, operation, pdf_sha256, bytes) \
                 SELECT id, version, $1, 'sohoa', 'scan', $2, $3 FROM documents WHERE id = $4 \
                 ON CONFLICT (document_id, version) DO UPDATE SET pdf_sha256 = excluded.pdf_sha256, bytes = excluded.bytes"
            )
            .bind(at)
            .bind(pdf_sha256)
            .bind(bytes as i64)
            .bind(doc_id)
            .execute(&mut *c)
            .await?
            .rows_affected()
            });
            // A manifest that declared the scan taken from earlier digitized data marks its document.
            let hints: Vec<String> = on_tx!(&mut tx, |c| {
                sqlx::query_scalar(
                "SELECT DISTINCT i.hints FROM pages pg JOIN intakes i ON i.id = pg.intake_id WHERE pg.document_id = $1"
            )
            .bind(doc_id)
            .fetch_all(&mut *c)
            .await?
            });
            let declared =
                hints.iter().find_map(|h| serde_json::from_str::<crate::route::Hints>(h).ok()?.manifest?.reused_from);
            if let Some(from) = declared {
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE documents SET reused_from = $1 WHERE id = $2 AND reused_from IS NULL AND role = 'input'"
                )
                .bind(&from)
                .bind(doc_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
            }
            for o in outcomes {
                // The blank verdict goes into the page's flags, where the clerk sees it.
                on_tx!(&mut tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'attached', output_encoding = $1, normalization = $4, \
                     flags = CASE WHEN NOT $2 OR flags LIKE '%\"blank\"%' THEN flags \
                     WHEN flags = '[]' THEN '[\"blank\"]' \
                     ELSE substr(flags, 1, length(flags) - 1) || ',\"blank\"]' END WHERE id = $3",
                )
                .bind(&o.encoding)
                .bind(o.encoding.contains("blank"))
                .bind(&o.page_id)
                .bind(&o.normalization)
                .execute(&mut *c)
                .await?
                .rows_affected());
            }
            let detail = serde_json::json!({ "bytes": bytes, "pages": outcomes.len() });
            insert_event(
                &mut tx,
                at,
                "sohoa",
                "attach",
                Some(&case_code),
                None,
                Some(doc_id),
                Some(pdf_sha256),
                &detail,
            )
            .await?;
        }
        super::jobs::finish_job(&mut tx, job_id, None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a poison render job aside: done, with its reason, and a `set-aside` event on the document's
    /// case, so the case record says why the document has no PDF (it stays closed, its pages kept).
    pub async fn set_aside(&self, job_id: &str, doc_id: &str, reason: &str, reason_vi: &str, at: &str) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        let case: Option<String> =
            on_tx!(&mut tx, |c| sqlx::query_scalar("SELECT case_code FROM documents WHERE id = $1")
                .bind(doc_id)
                .fetch_optional(&mut *c)
                .await?);
        super::jobs::finish_job(&mut tx, job_id, Some(reason)).await?;
        let detail = serde_json::json!({ "job": job_id, "reason": reason, "reason_vi": reason_vi });
        insert_event(&mut tx, at, "sohoa", "set-aside", case.as_deref(), None, Some(doc_id), None, &detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Why a document was set aside, as its latest `set-aside` event says: (English, Vietnamese).
    pub async fn set_aside_reason(&self, doc_id: &str) -> Result<Option<(String, String)>> {
        let detail: Option<String> = on_pool!(&self.pool, |p| sqlx::query_scalar(
            "SELECT detail FROM events WHERE kind = 'set-aside' AND document_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(doc_id)
        .fetch_optional(p)
        .await?);
        Ok(detail.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()).map(|d| {
            let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
            (text("reason"), text("reason_vi"))
        }))
    }
}
