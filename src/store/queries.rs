//! Read-only questions people ask of the records: listings and one case in full.

use serde::Serialize;

use super::Records;
use super::db::on_pool;
use super::documents::DocState;
use crate::error::{Code, Result, explained};
use crate::pages::{Colour, DpiSource};
use crate::profile::DocRole;

/// One line of `sohoa case list`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseSummary {
    /// Case code.
    pub code: String,
    /// Documents attached.
    pub documents: i64,
    /// Documents not attached yet.
    pub pending: i64,
    /// Pages in attached documents.
    pub pages: i64,
}

/// A document of a case, with its file.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDocument {
    /// `<code>.<NNN>.pdf`.
    pub name: String,
    /// 1-based.
    pub ordinal: i64,
    /// Input or result.
    pub role: DocRole,
    /// Document type.
    pub doc_type: Option<String>,
    /// Where it is in its life.
    pub state: DocState,
    /// Pages.
    pub pages: i64,
    /// PDF hash.
    pub sha256: Option<String>,
    /// PDF size.
    pub bytes: Option<i64>,
    /// Where an input declared reused was digitized before (a case, or `case.NNN`).
    pub reused_from: Option<String>,
}

/// A page of a case, with where it came from and what was done to it.
#[derive(Debug, Clone, Serialize)]
pub struct CasePage {
    /// Document ordinal.
    pub ordinal: Option<i64>,
    /// Page number in the document.
    pub page_no: Option<i64>,
    /// Source file (relative to the inbox).
    pub source: String,
    /// Source file hash.
    pub source_sha256: String,
    /// Index within the source.
    pub page_index: i64,
    /// Pixels.
    pub width: i64,
    /// Pixels.
    pub height: i64,
    /// Resolution used.
    pub dpi: f64,
    /// Where the resolution came from.
    pub dpi_source: DpiSource,
    /// Colour as stored.
    pub colour: Colour,
    /// What went into the PDF.
    pub encoding: Option<String>,
    /// Flags for the clerk.
    pub flags: Vec<String>,
    /// What normalization found and did (turns, deskew, crop, blank verdict, mode, resampling, with
    /// confidences), when any step ran.
    pub normalization: Option<serde_json::Value>,
    /// A clerk's quarter turns clockwise, on top of the automatic ones.
    pub clerk_turn: i64,
}

/// An audit event.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// When.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub kind: String,
    /// Which bytes.
    pub sha256: Option<String>,
    /// Details (JSON).
    pub detail: serde_json::Value,
}

/// `sohoa case show`.
#[derive(Debug, Clone, Serialize)]
pub struct CaseDetail {
    /// Case code.
    pub code: String,
    /// Documents in ordinal order.
    pub documents: Vec<CaseDocument>,
    /// Pages in document order.
    pub pages: Vec<CasePage>,
    /// Inputs routed to this case that were refused.
    pub quarantined: Vec<super::quarantine::Quarantined>,
    /// Audit events.
    pub events: Vec<EventRow>,
}

impl Records {
    /// Every case with counts.
    pub async fn case_summaries(&self) -> Result<Vec<CaseSummary>> {
        let rows: Vec<(String, i64, i64, i64)> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT c.code, \
               (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached'), \
               (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state IN ('open', 'closed')), \
               (SELECT CAST(COALESCE(SUM(page_count), 0) AS BIGINT) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached') \
             FROM cases c ORDER BY c.code",
        )
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .map(|(code, documents, pending, pages)| CaseSummary { code, documents, pending, pages })
            .collect())
    }

    /// One case in full; `None` when the code is unknown.
    pub async fn case_detail(&self, code: &str) -> Result<Option<CaseDetail>> {
        let known: i64 = on_pool!(self.pool(), |p| {
            sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM cases WHERE code = $1) + (SELECT COUNT(*) FROM intakes WHERE route_key = $1)",
        )
        .bind(code)
        .fetch_one(p)
        .await?
        });
        if known == 0 {
            return Ok(None);
        }
        #[derive(sqlx::FromRow)]
        struct DocumentListed {
            ordinal: i64,
            #[sqlx(try_from = "String")]
            role: DocRole,
            doc_type: Option<String>,
            #[sqlx(try_from = "String")]
            state: DocState,
            pages: i64,
            sha256: Option<String>,
            bytes: Option<i64>,
            reused_from: Option<String>,
        }
        let documents_rows: Vec<DocumentListed> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT d.ordinal, d.role, d.doc_type, d.state, d.page_count AS pages, d.pdf_sha256 AS sha256, f.bytes, \
             d.reused_from FROM documents d LEFT JOIN files f ON f.sha256 = d.pdf_sha256 WHERE d.case_code = $1 ORDER BY d.ordinal",
        )
        .bind(code)
        .fetch_all(p)
        .await?
        });
        let documents = documents_rows
            .into_iter()
            .map(|d| CaseDocument {
                name: format!("{code}.{:03}.pdf", d.ordinal),
                ordinal: d.ordinal,
                role: d.role,
                doc_type: d.doc_type,
                state: d.state,
                pages: d.pages,
                sha256: d.sha256,
                bytes: d.bytes,
                reused_from: d.reused_from,
            })
            .collect();
        #[derive(sqlx::FromRow)]
        struct PageRow {
            ordinal: Option<i64>,
            page_no: Option<i64>,
            source: String,
            source_sha256: String,
            page_index: i64,
            width: i64,
            height: i64,
            dpi: f64,
            #[sqlx(try_from = "String")]
            dpi_source: DpiSource,
            #[sqlx(try_from = "String")]
            colour: Colour,
            encoding: Option<String>,
            flags: String,
            normalization: Option<String>,
            clerk_turn: i64,
        }
        let pages_rows: Vec<PageRow> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT d.ordinal, p.page_no, i.source_path AS source, i.sha256 AS source_sha256, p.page_index, p.width, \
                    p.height, p.dpi_x AS dpi, p.dpi_source, p.colour, p.output_encoding AS encoding, p.flags, \
                    p.normalization, p.clerk_turn \
             FROM pages p JOIN intakes i ON i.id = p.intake_id LEFT JOIN documents d ON d.id = p.document_id \
             WHERE p.case_code = $1 ORDER BY d.ordinal, p.page_no, i.seq, p.page_index",
        )
        .bind(code)
        .fetch_all(p)
        .await?
        });
        let pages = pages_rows
            .into_iter()
            .map(|r| CasePage {
                ordinal: r.ordinal,
                page_no: r.page_no,
                source: r.source,
                source_sha256: r.source_sha256,
                page_index: r.page_index,
                width: r.width,
                height: r.height,
                dpi: r.dpi,
                dpi_source: r.dpi_source,
                colour: r.colour,
                encoding: r.encoding,
                flags: serde_json::from_str(&r.flags).unwrap_or_default(),
                normalization: r.normalization.and_then(|n| serde_json::from_str(&n).ok()),
                clerk_turn: r.clerk_turn,
            })
            .collect();
        let quarantined = self.quarantine_list(Some(code)).await?;
        type EventTuple = (String, String, String, Option<String>, String);
        let events_rows: Vec<EventTuple> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT at, actor, kind, sha256, detail FROM events WHERE case_code = $1 \
               OR intake_id IN (SELECT id FROM intakes WHERE route_key = $2) \
               OR document_id IN (SELECT id FROM documents WHERE case_code = $3) ORDER BY id",
        )
        .bind(code)
        .bind(code)
        .bind(code)
        .fetch_all(p)
        .await?);
        let events = events_rows
            .into_iter()
            .map(|(at, actor, kind, sha256, detail)| EventRow {
                at,
                actor,
                kind,
                sha256,
                detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
            })
            .collect();
        Ok(Some(CaseDetail { code: code.to_string(), documents, pages, quarantined, events }))
    }

    /// What became of given intakes after a run.
    pub async fn intake_fates(&self, ids: &[String]) -> Result<Vec<IntakeFate>> {
        let mut out = Vec::with_capacity(ids.len());
        let bad = |e: String| crate::error::Failure::transient("reading a run's inputs", anyhow::anyhow!(e));
        for id in ids {
            type Row = (String, String, Option<String>, Option<String>);
            let r: Option<Row> = on_pool!(self.pool(), |p| sqlx::query_as(
                "SELECT source_path, state, reason, reason_code FROM intakes WHERE id = $1"
            )
            .bind(id)
            .fetch_optional(p)
            .await?);
            if let Some((source, state, reason, code)) = r {
                let state = super::records::IntakeState::try_from(state).map_err(bad)?;
                let code = code.map(Code::try_from).transpose().map_err(bad)?;
                out.push(IntakeFate { source, state, reason, code });
            }
        }
        Ok(out)
    }

    /// Pages without a case, in capture order.
    ///
    /// With `unit`, only the scans that unit's stations captured: an unfiled scan belongs to the unit
    /// that scanned it until a clerk files it (a scan with no unit is for unlimited clerks alone).
    pub async fn unfiled(&self, unit: Option<&str>) -> Result<Vec<UnfiledPage>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT i.id AS intake, i.source_path AS source, p.page_index, i.sha256, i.captured_at, i.station, i.unit, \
             i.route_key, i.hints, i.profile_sha256 \
             FROM pages p JOIN intakes i ON i.id = p.intake_id \
             WHERE p.state = 'unfiled' AND ($1 IS NULL OR i.unit = $1) ORDER BY i.seq, p.page_index",
        )
        .bind(unit)
        .fetch_all(p)
        .await?))
    }

    /// The unit an input was captured for (`None` for an unknown input or one without a unit).
    pub async fn intake_unit(&self, intake_id: &str) -> Result<Option<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar::<_, Option<String>>("SELECT unit FROM intakes WHERE id = $1")
            .bind(intake_id)
            .fetch_optional(p)
            .await?)
        .flatten())
    }
}

/// A page waiting for a clerk to file it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct UnfiledPage {
    /// Its input (what a clerk files: every unfiled page of it).
    pub intake: String,
    /// Source path.
    pub source: String,
    /// Index within the input.
    pub page_index: i64,
    /// The input's hash.
    pub sha256: String,
    /// Capture time.
    pub captured_at: String,
    /// Capturing station.
    pub station: String,
    /// The unit it was captured for, when its station or token has one.
    pub unit: Option<String>,
    /// Why no case was found, for the clerk ([`crate::pipeline::Pipeline::explain_unfiled`]).
    #[sqlx(default)]
    pub why: Option<String>,
    /// The same in Vietnamese.
    #[sqlx(default)]
    pub why_vi: Option<String>,
    /// What capture recorded about its route (to say why).
    #[serde(skip)]
    pub route_key: String,
    /// The evidence capture gathered (JSON [`crate::route::Hints`]).
    #[serde(skip)]
    pub hints: String,
    /// The profile it was captured under.
    #[serde(skip)]
    pub profile_sha256: String,
}

stored_words! {
    /// What became of a capture, as the counter sees it.
    pub enum CaptureFate {
        /// Every page is in an attached document.
        Attached = "attached",
        /// Its pages found no case: a clerk files them.
        Unfiled = "unfiled",
        /// Not finished yet.
        Processing = "processing",
        /// Refused, with a reason.
        Quarantined = "quarantined",
    }
}

/// One recent capture, as the counter officer sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RecentIntake {
    /// Capture time.
    pub captured_at: String,
    /// Station.
    pub station: String,
    /// Source path.
    pub source: String,
    /// Case, when routing found one.
    pub case_code: Option<String>,
    /// Pages found (when split).
    pub pages: Option<i64>,
    /// What became of it.
    pub state: CaptureFate,
    /// Why, when quarantined (in detail, English).
    pub reason: Option<String>,
    /// What that means and what to do, in Vietnamese.
    pub reason_vi: Option<String>,
    /// PDFs the pages are in.
    pub documents: Vec<String>,
}

impl Records {
    /// The last `limit` captures, newest first, optionally of one station.
    pub async fn recent_intakes(&self, station: Option<&str>, limit: i64) -> Result<Vec<RecentIntake>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            captured_at: String,
            station: String,
            source_path: String,
            case_code: Option<String>,
            page_count: Option<i64>,
            #[sqlx(try_from = "String")]
            state: super::records::IntakeState,
            reason: Option<String>,
            reason_code: Option<String>,
            attached: i64,
            unfiled: i64,
            documents: Option<String>,
        }
        let rows: Vec<Row> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT i.captured_at, i.station, i.source_path, CASE WHEN i.route_key LIKE '?%' THEN NULL ELSE NULLIF(i.route_key, '') END AS case_code, i.page_count, \
               i.state, i.reason, i.reason_code, \
               (SELECT COUNT(*) FROM pages p WHERE p.intake_id = i.id AND p.state = 'attached') AS attached, \
               (SELECT COUNT(*) FROM pages p WHERE p.intake_id = i.id AND p.state = 'unfiled') AS unfiled, \
               (SELECT string_agg(doc, ',') FROM (SELECT DISTINCT d.case_code || ':' || CAST(d.ordinal AS TEXT) AS doc \
                  FROM pages p JOIN documents d ON d.id = p.document_id \
                  WHERE p.intake_id = i.id AND d.state = 'attached') AS docs) AS documents \
             FROM intakes i WHERE ($1 IS NULL OR i.station = $1) ORDER BY i.seq DESC LIMIT $2",
        )
        .bind(station)
        .bind(limit)
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| {
                use super::records::IntakeState;
                let shown = match r.state {
                    IntakeState::Quarantined => CaptureFate::Quarantined,
                    IntakeState::Split if r.page_count.is_some_and(|n| n > 0 && r.attached == n) => {
                        CaptureFate::Attached
                    }
                    IntakeState::Split if r.unfiled > 0 && r.attached + r.unfiled == r.page_count.unwrap_or(0) => {
                        CaptureFate::Unfiled
                    }
                    _ => CaptureFate::Processing,
                };
                let reason_vi = r.reason_code.as_deref().and_then(Code::parse).map(|c| explained(c).vi.to_string());
                let mut documents: Vec<String> = r
                    .documents
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|d| d.rsplit_once(':'))
                    .map(|(code, n)| format!("{code}.{:03}.pdf", n.parse::<u32>().unwrap_or(0)))
                    .collect();
                documents.sort();
                RecentIntake {
                    captured_at: r.captured_at,
                    station: r.station,
                    source: r.source_path,
                    case_code: r.case_code,
                    pages: r.page_count,
                    state: shown,
                    reason: r.reason,
                    reason_vi,
                    documents,
                }
            })
            .collect())
    }
}

impl Records {
    /// Every attached document's (and case bundle's) view name and PDF: `(case, name, sha256)`.
    pub async fn attached_documents(&self) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, i64, String)> = on_pool!(self.pool(), |p| {
            sqlx::query_as(
            "SELECT case_code, ordinal, pdf_sha256 FROM documents WHERE state = 'attached' AND pdf_sha256 IS NOT NULL \
             UNION ALL SELECT code, -1, bundle_sha256 FROM cases WHERE bundle_sha256 IS NOT NULL",
        )
        .fetch_all(p)
        .await?
        });
        Ok(rows
            .into_iter()
            .map(|(c, o, s)| {
                let name = if o < 0 { format!("{c}.pdf") } else { format!("{c}.{o:03}.pdf") };
                (c, name, s)
            })
            .collect())
    }

    /// Every quarantined intake nobody discarded, with its reason code and reason.
    pub async fn quarantined_intakes(&self) -> Result<Vec<(super::records::IntakeRow, Code, String)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            intake: super::records::IntakeRow,
            #[sqlx(try_from = "String")]
            reason_code: Code,
            reason: String,
        }
        let rows: Vec<Row> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT id, sha256, bytes, source_path, source_name, source_mtime, hints, state, captured_at, station, \
                    profile_sha256, COALESCE(reason_code, '') AS reason_code, COALESCE(reason, '') AS reason \
             FROM intakes WHERE state = 'quarantined' AND discarded_at IS NULL ORDER BY seq",
        )
        .fetch_all(p)
        .await?);
        Ok(rows.into_iter().map(|r| (r.intake, r.reason_code, r.reason)).collect())
    }
}

/// Filters of a case listing.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// Codes starting with this.
    pub code_prefix: Option<String>,
    /// One unit.
    pub unit: Option<String>,
    /// One procedure.
    pub procedure: Option<String>,
    /// One status.
    pub status: Option<String>,
    /// Received on or after.
    pub from: Option<String>,
    /// Received on or before.
    pub to: Option<String>,
    /// Applicant names containing this (NFC, as typed).
    pub applicant: Option<String>,
    /// At most this many, by code.
    pub limit: i64,
}

/// One line of a case listing.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CaseListItem {
    /// Case code.
    pub code: String,
    /// Procedure code.
    pub procedure_code: Option<String>,
    /// Receiving unit.
    pub unit: Option<String>,
    /// Lifecycle.
    #[sqlx(try_from = "String")]
    pub status: super::cases::Status,
    /// Local date received.
    pub received_date: Option<String>,
    /// Local date resolved.
    pub resolved_date: Option<String>,
    /// Documents attached.
    pub documents: i64,
    /// Pages in attached documents.
    pub pages: i64,
}

impl Records {
    /// Cases matching a filter, by code.
    pub async fn case_list(&self, q: &CaseQuery) -> Result<Vec<CaseListItem>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT c.code, c.procedure_code, c.unit, c.status, c.received_date, c.resolved_date, \
               (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached') AS documents, \
               (SELECT CAST(COALESCE(SUM(page_count), 0) AS BIGINT) FROM documents d \
                  WHERE d.case_code = c.code AND d.state = 'attached') AS pages \
             FROM cases c WHERE ($1 IS NULL OR substr(c.code, 1, length($1)) = $1) AND ($2 IS NULL OR c.unit = $2) \
               AND ($3 IS NULL OR c.procedure_code = $3) AND ($4 IS NULL OR c.status = $4) \
               AND ($5 IS NULL OR c.received_date >= $5) AND ($6 IS NULL OR c.received_date <= $6) \
               AND ($7 IS NULL OR c.applicant_name LIKE '%' || $7 || '%') \
             ORDER BY c.code LIMIT $8",
        )
        .bind(&q.code_prefix)
        .bind(&q.unit)
        .bind(&q.procedure)
        .bind(&q.status)
        .bind(&q.from)
        .bind(&q.to)
        .bind(&q.applicant)
        .bind(q.limit)
        .fetch_all(p)
        .await?))
    }
}

/// A captured input file, found by its hash.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Its size.
    pub bytes: i64,
    /// The name it arrived under (the first capture's).
    pub source_name: String,
    /// Its format, once split.
    pub format: Option<crate::pages::Format>,
    /// Its pages, once split.
    pub pages: Option<i64>,
    /// The cases its pages went into (or its route named), for scope checks.
    pub cases: Vec<String>,
}

impl Records {
    /// The captured input with these bytes, if any (a PDF we wrote is not an input).
    pub async fn input_file(&self, sha256: &str) -> Result<Option<InputFile>> {
        let first: Option<(i64, String, Option<String>, Option<i64>)> = on_pool!(self.pool(), |p| sqlx::query_as(
            "SELECT bytes, source_name, format, page_count FROM intakes WHERE sha256 = $1 \
             ORDER BY page_count IS NULL, seq LIMIT 1"
        )
        .bind(sha256)
        .fetch_optional(p)
        .await?);
        let Some((bytes, source_name, format, pages)) = first else { return Ok(None) };
        let format = format
            .map(crate::pages::Format::try_from)
            .transpose()
            .map_err(|e| crate::error::Failure::transient("reading an input", anyhow::anyhow!(e)))?;
        let cases: Vec<String> = on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT DISTINCT p.case_code FROM pages p JOIN intakes i ON i.id = p.intake_id \
             WHERE i.sha256 = $1 AND p.case_code IS NOT NULL \
             UNION SELECT route_key FROM intakes WHERE sha256 = $1 AND route_key <> '' AND route_key NOT LIKE '?%'"
        )
        .bind(sha256)
        .fetch_all(p)
        .await?);
        Ok(Some(InputFile { bytes, source_name, format, pages, cases }))
    }
}

/// What became of one input of a run, for the end report.
#[derive(Debug, Clone)]
pub struct IntakeFate {
    /// Its file, relative to the inbox.
    pub source: String,
    /// Where it is.
    pub state: super::records::IntakeState,
    /// Why it was quarantined, when it was.
    pub reason: Option<String>,
    /// The reason's stable code, when it was.
    pub code: Option<Code>,
}

/// What became of one page of a run, for the end report.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageFate {
    /// Its input's file.
    pub source: String,
    /// Its case, when it has one.
    pub case_code: Option<String>,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub state: super::assembly::PageState,
    /// What went into the PDF (`…+blank`, `blank-omitted`, `separator-omitted` …).
    pub encoding: Option<String>,
    /// The stack note (separator sheet), when stacked.
    pub stack: Option<String>,
    /// Its document.
    pub document_id: Option<String>,
}

impl Records {
    /// Every page of the given inputs (asked in chunks: a run may be thousands of files).
    pub async fn page_fates(&self, intakes: &[String]) -> Result<Vec<PageFate>> {
        let mut out = Vec::new();
        for chunk in intakes.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT i.source_path AS source, p.case_code, p.state, p.output_encoding AS encoding, p.stack, \
                   p.document_id FROM pages p JOIN intakes i ON i.id = p.intake_id \
                 WHERE p.intake_id IN ({}) ORDER BY i.seq, p.page_index",
                marks.join(", ")
            );
            let rows: Vec<PageFate> = on_pool!(self.pool(), |p| {
                // Only `$n` placeholders are spliced in; the ids are bound.
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    q = q.bind(id);
                }
                q.fetch_all(p).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    /// The case of the document most recently begun: the dossier a run is at.
    pub async fn latest_case(&self) -> Result<Option<String>> {
        Ok(on_pool!(self.pool(), |p| sqlx::query_scalar(
            "SELECT case_code FROM documents ORDER BY created_at DESC, ordinal DESC LIMIT 1"
        )
        .fetch_optional(p)
        .await?))
    }
}
