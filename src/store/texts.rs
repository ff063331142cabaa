//! Recognised text: a document's new version with its text layer recorded in one transaction with
//! each page's text (migrations sqlite 0017 / postgres 0014), and search over it — SQLite FTS5 or
//! PostgreSQL full-text search, both over the text folded without case or tone marks, so what a clerk
//! types without them finds what was written with them. Only the current version of an attached
//! document is ever found.

use serde::Serialize;

use super::Records;
use super::db::{on_pool, on_tx};
use super::records::{insert_event, now_ms};
use crate::error::Result;
use crate::util::text::fold;

/// What the OCR job needs to know of a document.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OcrSubject {
    /// Its case.
    pub case_code: String,
    /// Its ordinal in the case.
    pub ordinal: i64,
    /// The current version.
    pub version: i64,
    /// `attached` when there is a PDF to read.
    pub state: String,
    /// The current version's PDF.
    pub pdf_sha256: Option<String>,
    /// How the current version was made: `ocr` when it already carries text.
    pub operation: Option<String>,
    /// Whether any page is a born-digital PDF's (it has its own text and is left alone).
    pub born_digital: bool,
}

/// One page's recognised text, as recorded.
#[derive(Debug, Clone)]
pub struct PageTextRow {
    /// 1-based page of the PDF.
    pub page_no: i64,
    /// The page record it shows, when known.
    pub page_id: Option<String>,
    /// NFC text.
    pub text: String,
    /// Mean word confidence (0–100).
    pub confidence: Option<f64>,
    /// JSON `[[word, left, top, right, bottom], …]`, boxes as shares of the shown page.
    pub words: String,
}

/// What a search asks.
#[derive(Debug, Clone, Default)]
pub struct TextQuery {
    /// What was typed: every word must be on the page, with or without tone marks.
    pub text: String,
    /// Cases of this unit only (a unit-limited caller's own).
    pub unit: Option<String>,
    /// Cases received on or after this local date (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// Cases received on or before this local date.
    pub to: Option<String>,
    /// At most this many pages.
    pub limit: i64,
}

/// A page that matched.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TextHit {
    /// The case.
    pub case_code: String,
    /// Its unit.
    pub unit: Option<String>,
    /// The document's ordinal in the case.
    pub ordinal: i64,
    /// The document.
    pub document_id: String,
    /// The document's type.
    pub doc_type: Option<String>,
    /// `input` or `result`.
    pub role: String,
    /// The version whose PDF holds the text.
    pub version: i64,
    /// 1-based page of that PDF.
    pub page_no: i64,
    /// The page record it shows, when known (its thumbnail).
    pub page_id: Option<String>,
    /// The page's mean word confidence.
    pub confidence: Option<f64>,
    /// The page's whole text (NFC).
    pub text: String,
    /// JSON of the page's words with their boxes (shares of the page).
    pub words: String,
}

/// A page whose text may be unreliable.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct PageConfidence {
    /// The document's ordinal.
    pub ordinal: i64,
    /// 1-based page of its PDF.
    pub page_no: i64,
    /// Mean word confidence (0–100), none when no word was found.
    pub confidence: Option<f64>,
}

impl Records {
    /// A document as the OCR job sees it.
    pub async fn ocr_subject(&self, doc_id: &str) -> Result<Option<OcrSubject>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT d.case_code, d.ordinal, d.version, d.state, d.pdf_sha256, \
               (SELECT v.operation FROM document_versions v WHERE v.document_id = d.id AND v.version = d.version) \
                 AS operation, \
               EXISTS (SELECT 1 FROM pages p WHERE p.document_id = d.id AND p.source_encoding = 'pdf') AS born_digital \
             FROM documents d WHERE d.id = $1"
        )
        .bind(doc_id)
        .fetch_optional(p)
        .await?))
    }

    /// The page records a document's PDF shows, in its order — not removed or replaced, not left out
    /// as blank or as a separator sheet — each with whether it is flagged blank (kept in the PDF).
    pub async fn shown_pages(&self, doc_id: &str) -> Result<Vec<(String, bool)>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id, (flags LIKE '%\"blank\"%') AS blank FROM pages WHERE document_id = $1 \
             AND output_encoding IS NOT NULL \
             AND output_encoding NOT LIKE '%-omitted' AND flags NOT LIKE '%\"removed\"%' \
             AND flags NOT LIKE '%\"replaced\"%' ORDER BY page_no"
        )
        .bind(doc_id)
        .fetch_all(p)
        .await?))
    }

    /// Ends an OCR job that had nothing to do, saying why.
    pub async fn skip_job(&self, job_id: &str, why: &str) -> Result<()> {
        let mut tx = self.pool().begin_write().await?;
        super::jobs::finish_job(&mut tx, job_id, Some(why)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a document's text layer: the new PDF (already durable) as version `from + 1`, its pages'
    /// text, an outbox entry (the one-stop system gets the searchable file) and an `ocr` event, with
    /// the job done — all in one transaction, and only when the document is still attached at version
    /// `from` (false otherwise: a correction came first, and queued recognition again).
    ///
    /// `pdf` none: the text of a born-digital PDF, recorded at its version as it is (no new file, no
    /// outbox entry).
    pub async fn attach_text(
        &self,
        job_id: &str,
        doc_id: &str,
        from: i64,
        pdf: Option<(&str, u64)>,
        pages: &[PageTextRow],
        at: &str,
    ) -> Result<bool> {
        let mut tx = self.pool().begin_write().await?;
        let case_code: Option<String> = on_tx!(&mut tx, |c| sqlx::query_scalar(
            "SELECT case_code FROM documents WHERE id = $1 AND version = $2 AND state = 'attached'"
        )
        .bind(doc_id)
        .bind(from)
        .fetch_optional(&mut *c)
        .await?);
        let Some(case_code) = case_code else {
            super::jobs::finish_job(&mut tx, job_id, Some("the document changed while its text was read")).await?;
            tx.commit().await?;
            return Ok(false);
        };
        let version = if pdf.is_some() { from + 1 } else { from };
        if let Some((pdf_sha256, bytes)) = pdf {
            super::records::record_pdf(&mut tx, pdf_sha256, bytes, at).await?;
            on_tx!(&mut tx, |c| sqlx::query(
                "UPDATE documents SET version = $1, pdf_sha256 = $2, updated_ms = $3 WHERE id = $4"
            )
            .bind(version)
            .bind(pdf_sha256)
            .bind(now_ms())
            .bind(doc_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        let confident: Vec<f64> = pages.iter().filter_map(|p| p.confidence).collect();
        let mean = (!confident.is_empty()).then(|| confident.iter().sum::<f64>() / confident.len() as f64);
        let detail = serde_json::json!({
            "pages": pages.len(),
            "pages_with_text": pages.iter().filter(|p| !p.text.is_empty()).count(),
            "confidence": mean.map(|m| (m * 10.0).round() / 10.0),
            "born_digital": pdf.is_none(),
        });
        if let Some((pdf_sha256, bytes)) = pdf {
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO document_versions (document_id, version, at, actor, operation, detail, pdf_sha256, bytes) \
             VALUES ($1, $2, $3, 'sohoa', 'ocr', $4, $5, $6)"
            )
            .bind(doc_id)
            .bind(version)
            .bind(at)
            .bind(detail.to_string())
            .bind(pdf_sha256)
            .bind(bytes as i64)
            .execute(&mut *c)
            .await?
            .rows_affected());
            super::outbox::enqueue(&mut tx, at, doc_id, "correct").await?;
        }
        for p in pages {
            on_tx!(&mut tx, |c| {
                sqlx::query(
                "INSERT INTO page_text (document_id, version, page_no, page_id, case_code, text, folded, confidence, words) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING"
            )
            .bind(doc_id)
            .bind(version)
            .bind(p.page_no)
            .bind(&p.page_id)
            .bind(&case_code)
            .bind(&p.text)
            .bind(fold(&p.text))
            .bind(p.confidence)
            .bind(&p.words)
            .execute(&mut *c)
            .await?
            .rows_affected()
            });
        }
        let sha = pdf.map(|(s, _)| s);
        insert_event(&mut tx, at, "sohoa", "ocr", Some(&case_code), None, Some(doc_id), sha, &detail).await?;
        super::jobs::finish_job(&mut tx, job_id, None).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Pages of current, attached versions whose text holds every word of the query (folded), best
    /// matches first on PostgreSQL, in case order on SQLite; empty for a query with no word.
    pub async fn search_text(&self, q: &TextQuery) -> Result<Vec<TextHit>> {
        let words = crate::util::text::folded_words(&q.text);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        const COLUMNS: &str = "t.case_code, c.unit, d.ordinal, d.id AS document_id, d.doc_type, d.role, t.version, \
             t.page_no, t.page_id, t.confidence, t.text, t.words";
        const SCOPE: &str = "JOIN documents d ON d.id = t.document_id AND d.version = t.version AND d.state = 'attached' \
             JOIN cases c ON c.code = t.case_code \
             WHERE ($2 IS NULL OR c.unit = $2) AND ($3 IS NULL OR c.received_date >= $3) \
             AND ($4 IS NULL OR c.received_date <= $4)";
        let hits = if self.pool().is_postgres() {
            let sql = format!(
                "SELECT {COLUMNS} FROM page_text t {SCOPE} AND t.search @@ to_tsquery('simple', $1) \
                 ORDER BY ts_rank(t.search, to_tsquery('simple', $1)) DESC, t.case_code, d.ordinal, t.page_no LIMIT $5"
            );
            // Words joined by AND, each a literal (quoted) lexeme.
            let query: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(query.join(" & "))
                .bind(&q.unit)
                .bind(&q.from)
                .bind(&q.to)
                .bind(q.limit)
                .fetch_all(p)
                .await?)
        } else {
            let sql = format!(
                "SELECT {COLUMNS} FROM page_text_fts f JOIN page_text t ON t.rowid = f.rowid {SCOPE} \
                 AND page_text_fts MATCH $1 ORDER BY f.rank, t.case_code, d.ordinal, t.page_no LIMIT $5"
            );
            // Each word a quoted string: FTS5's own syntax (AND, NEAR, *) is never read from a query.
            let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
            on_pool!(self.pool(), |p| sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(query.join(" "))
                .bind(&q.unit)
                .bind(&q.from)
                .bind(&q.to)
                .bind(q.limit)
                .fetch_all(p)
                .await?)
        };
        Ok(hits)
    }

    /// The recognised pages of a case's current attached documents whose words' mean confidence is
    /// below `min` (or that had no word), by document and page; pages flagged blank are meant to have
    /// none.
    pub async fn unreliable_pages(&self, code: &str, min: f64) -> Result<Vec<PageConfidence>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT d.ordinal, t.page_no, t.confidence FROM page_text t \
             JOIN documents d ON d.id = t.document_id AND d.version = t.version AND d.state = 'attached' \
             LEFT JOIN pages p ON p.id = t.page_id \
             WHERE t.case_code = $1 AND (t.confidence IS NULL OR t.confidence < $2) \
             AND COALESCE(p.flags, '') NOT LIKE '%\"blank\"%' ORDER BY d.ordinal, t.page_no"
        )
        .bind(code)
        .bind(min)
        .fetch_all(p)
        .await?))
    }
}
