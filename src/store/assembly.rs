//! Assembly: what the split job found is committed, and pages are filed into documents strictly in
//! capture order — so ordinals follow input order whatever order the split jobs finish in — and
//! documents are closed (by file, by idle folder, by marker, by separator sheet), queueing their PDFs.

use std::time::Duration;

use super::Records;
use super::db::{Tx, on_tx};
use super::records::{actor, insert_event, new_id, now_ms};

use crate::error::{Code, Result};
use crate::pages::{Colour, DpiSource, SourceEncoding};
use crate::profile::DocRole;

/// A page found by the split job, with the case routing chose for it.
#[derive(Debug, Clone)]
pub struct NewPage {
    /// 0-based index within its input.
    pub page_index: u32,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Horizontal resolution.
    pub dpi_x: f64,
    /// Vertical resolution.
    pub dpi_y: f64,
    /// Where the resolution came from.
    pub dpi_source: DpiSource,
    /// The page's colour as stored.
    pub colour: Colour,
    /// How the page's pixels are stored in the input.
    pub source_encoding: SourceEncoding,
    /// The case, or `None` for unfiled.
    pub case_code: Option<crate::route::CaseCode>,
    /// Input or result.
    pub role: DocRole,
    /// Document type when known.
    pub doc_type: Option<String>,
    /// Pages sharing a group key (and case) go into one document.
    pub group_key: GroupKey,
    /// Flags for the clerk (`no-dpi`, `low-dpi`).
    pub flags: Vec<String>,
    /// For a stacked profile: the profile's split rule and the separator sheet this page is, if any.
    pub stack: Option<crate::separate::StackNote>,
}

/// What the split job found about one input.
#[derive(Debug, Clone)]
pub enum SplitOutcome {
    /// Its pages, each routed.
    Pages {
        /// The input's format.
        format: crate::pages::Format,
        /// In page order.
        pages: Vec<NewPage>,
    },
    /// A split finished again (a job that ran twice): nothing to record; the job is marked done.
    Again,
    /// It cannot be used.
    Quarantined {
        /// Stable reason code.
        code: Code,
        /// The clerk's reason.
        reason: String,
    },
}

/// Which pages belong in one document (with the same case and role). Stored as text whose prefix the
/// assembly and closing statements read (`folder:` documents close when their folder is filed,
/// `stack:` ones when a separator sheet or the stack's end says so); built here only, so that every
/// writer spells them alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    /// Each input is its own document.
    File {
        /// The intake's id.
        intake: String,
    },
    /// The inputs of one inbox folder (closed when idle or by a marker file).
    Folder {
        /// The folder's NFC path relative to the inbox (`""` for the inbox itself).
        path: String,
    },
    /// A station's stack of pages split by separator sheets (segments are added by assembly).
    Stack {
        /// The station.
        station: String,
        /// The folder the stack arrives in.
        path: String,
    },
}

impl GroupKey {
    /// Group keys of stacked pages start with this.
    pub const STACK_PREFIX: &'static str = "stack:";

    /// The stored text.
    pub fn to_stored(&self) -> String {
        match self {
            GroupKey::File { intake } => format!("file:{intake}"),
            GroupKey::Folder { path } => format!("folder:{path}"),
            GroupKey::Stack { station, path } => format!("{}{station}:{path}", GroupKey::STACK_PREFIX),
        }
    }
}

impl Records {
    /// Commits what the split job found — the input's pages, or why it is quarantined — and then files
    /// every input that is now next in capture order. One transaction.
    pub async fn finish_split(
        &self,
        job_id: &str,
        intake_id: &str,
        outcome: &SplitOutcome,
        at: &str,
        close_each_file: bool,
    ) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        // The state moves on only from `captured`: a split finished again (a re-run job) changes nothing.
        let mut last_error = None;
        match outcome {
            SplitOutcome::Pages { format, pages } => {
                let moved = on_tx!(&mut tx, |c| {
                    sqlx::query(
                    "UPDATE intakes SET state = 'split', format = $1, page_count = $2 WHERE id = $3 AND state = 'captured'"
                )
                .bind(format.as_str())
                .bind(pages.len() as i64)
                .bind(intake_id)
                .execute(&mut *c)
                .await?
                .rows_affected()
                });
                if moved > 0 {
                    for p in pages {
                        insert_page(&mut tx, &new_id(), intake_id, p).await?;
                    }
                }
            }
            SplitOutcome::Again => {}
            SplitOutcome::Quarantined { code, reason } => {
                type Captured = (String, String, String, Option<String>);
                let moved: Option<Captured> = on_tx!(&mut tx, |c| sqlx::query_as(
                    "UPDATE intakes SET state = 'quarantined', reason_code = $1, reason = $2 \
                     WHERE id = $3 AND state = 'captured' RETURNING sha256, route_key, station, operator"
                )
                .bind(code.as_str())
                .bind(reason)
                .bind(intake_id)
                .fetch_optional(&mut *c)
                .await?);
                if let Some((sha, route, station, operator)) = moved {
                    let detail = serde_json::json!({ "code": code, "reason": reason });
                    let case = (!route.is_empty()).then_some(route.as_str());
                    let who = actor(&station, operator.as_deref());
                    insert_event(&mut tx, at, &who, "quarantine", case, Some(intake_id), None, Some(&sha), &detail)
                        .await?;
                    last_error = Some(reason.clone());
                }
            }
        }
        super::jobs::finish_job(&mut tx, job_id, last_error.as_deref()).await?;
        assemble(&mut tx, at, close_each_file).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes every open document (the end of a one-shot run) and queues their PDFs.
    pub async fn close_open_documents(&self, at: &str) -> Result<u64> {
        // The run is over: so are its stacks (the next run's first pages do not join its last dossier).
        self.close_selected("SELECT id FROM documents WHERE state = 'open' ORDER BY case_code, ordinal", None, at, true)
            .await
    }

    /// Closes the documents a query selects (its one optional parameter bound to `param`), in one
    /// transaction, queueing their render jobs.
    async fn close_selected(
        &self,
        select: &'static str,
        param: Option<i64>,
        at: &str,
        end_stacks: bool,
    ) -> Result<u64> {
        let mut tx = self.jobs.begin_write().await?;
        let ids: Vec<String> = on_tx!(&mut tx, |c| {
            let mut q = sqlx::query_scalar(select);
            if let Some(p) = param {
                q = q.bind(p);
            }
            q.fetch_all(&mut *c).await?
        });
        for id in &ids {
            close_document(&mut tx, id, at).await?;
        }
        if end_stacks {
            // A stack ends with its last segment's documents, and only when every capture is filed.
            on_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM stacks WHERE NOT EXISTS (SELECT 1 FROM intakes WHERE assembled = 0) \
                 AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.state = 'open' \
                   AND substr(d.group_key, 1, length(stacks.key) + 1) = stacks.key || '|')"
            )
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Asks for the open documents of `group_key` to close once every input captured so far is filed
    /// (a marker file such as `.done` in a case folder).
    pub async fn request_close(&self, group_key: &GroupKey, at: &str) -> Result<()> {
        let mut tx = self.jobs.begin_write().await?;
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO close_requests (group_key, up_to_seq, requested_at) \
             SELECT $1, COALESCE(MAX(seq), 0), $2 FROM intakes WHERE true ON CONFLICT DO NOTHING",
        )
        .bind(group_key.to_stored())
        .bind(at)
        .execute(&mut *c)
        .await?
        .rows_affected());
        honour_close_requests(&mut tx, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes open documents that have had no new page for `idle` and whose folder has no input
    /// waiting to be filed.
    pub async fn close_idle_documents(&self, idle: Duration, at: &str) -> Result<u64> {
        // A stack's segment closes the same way, once nothing captured is waiting to be filed; the stack
        // ends with it (a later scan into the folder starts a new one).
        let select = "SELECT d.id FROM documents d WHERE d.state = 'open' AND d.updated_ms < $1 \
             AND ((d.group_key LIKE 'folder:%' AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.assembled = 0 \
                 AND (i.source_path LIKE substr(d.group_key, 8) || '/%' OR substr(d.group_key, 8) = ''))) \
               OR (d.group_key LIKE 'stack:%' AND NOT EXISTS (SELECT 1 FROM intakes i WHERE i.assembled = 0)))";
        self.close_selected(select, Some(now_ms() - idle.as_millis() as i64), at, true).await
    }
}

/// Records a page of an input, waiting to be filed (`id`: its row's id).
pub(crate) async fn insert_page(tx: &mut Tx, id: &str, intake_id: &str, p: &NewPage) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO pages (id, intake_id, page_index, width, height, dpi_x, dpi_y, dpi_source, colour, \
         source_encoding, case_code, role, doc_type, group_key, flags, stack, state) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'pending')",
    )
    .bind(id)
    .bind(intake_id)
    .bind(p.page_index as i64)
    .bind(p.width as i64)
    .bind(p.height as i64)
    .bind(p.dpi_x)
    .bind(p.dpi_y)
    .bind(p.dpi_source.as_str())
    .bind(p.colour.as_str())
    .bind(p.source_encoding.as_str())
    .bind(p.case_code.as_deref())
    .bind(p.role.as_str())
    .bind(&p.doc_type)
    .bind(p.group_key.to_stored())
    .bind(serde_json::to_string(&p.flags).unwrap_or_else(|_| "[]".into()))
    .bind(p.stack.as_ref().and_then(|n| serde_json::to_string(n).ok()))
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// Files pages into documents strictly in capture order, so ordinals follow input order whatever order
/// the split jobs finish in. Stops at the first input not split yet.
async fn assemble(tx: &mut Tx, at: &str, close_each_file: bool) -> Result<()> {
    /// Inputs looked up at a time: usually the one just split is the only one ready.
    const AHEAD: i64 = 16;
    loop {
        let next: Vec<(String, String)> =
            on_tx!(tx, |c| sqlx::query_as("SELECT id, state FROM intakes WHERE assembled = 0 ORDER BY seq LIMIT $1")
                .bind(AHEAD)
                .fetch_all(&mut *c)
                .await?);
        let more = next.len() as i64 == AHEAD;
        for (intake_id, state) in next {
            if state == "captured" {
                return honour_close_requests(tx, at).await;
            }
            file_pages(tx, &intake_id, at, close_each_file).await?;
        }
        if !more {
            return honour_close_requests(tx, at).await;
        }
    }
}

stored_words! {
    /// Where a page is in its life: `pending` until assembly files it (in capture order), then `filed`
    /// into an open document or `unfiled` (no case), and `attached` once its document's PDF is.
    pub enum PageState {
        /// Recorded by the split job, not filed yet.
        Pending = "pending",
        /// In a document that has no PDF yet.
        Filed = "filed",
        /// No case: waits for a clerk.
        Unfiled = "unfiled",
        /// In an attached document.
        Attached = "attached",
    }
}

/// Where a page goes: its case (none: unfiled), role, document type and the group it joins.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(super) struct PageRoute {
    /// The case, or `None` while unfiled.
    pub case_code: Option<String>,
    /// Input or result.
    #[sqlx(try_from = "String")]
    pub role: DocRole,
    /// The document type when known.
    pub doc_type: Option<String>,
    /// The stored group key (a stack's pages add their segment to it).
    pub group_key: String,
}

/// A page of a split input waiting to be filed.
#[derive(Debug, sqlx::FromRow)]
struct PendingPage {
    id: String,
    #[sqlx(flatten)]
    route: PageRoute,
    #[sqlx(try_from = "String")]
    source_encoding: SourceEncoding,
    /// The page's `StackNote` as JSON, for a stacked profile.
    stack: Option<String>,
}

/// Files the pages of one split (or quarantined) input into documents and marks it assembled.
async fn file_pages(tx: &mut Tx, intake_id: &str, at: &str, close_each_file: bool) -> Result<()> {
    let pages: Vec<PendingPage> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, case_code, role, doc_type, group_key, source_encoding, stack FROM pages \
         WHERE intake_id = $1 AND state = 'pending' ORDER BY page_index",
    )
    .bind(intake_id)
    .fetch_all(&mut *c)
    .await?);
    let mut touched: Vec<String> = Vec::new();
    for PendingPage { id: page_id, route, source_encoding, stack } in pages {
        let note = stack.as_deref().and_then(|n| serde_json::from_str::<crate::separate::StackNote>(n).ok());
        let mut route = route;
        if let Some(note) = note
            && let Some(r) = super::stacks::route(tx, &page_id, &route, &note, at).await?
        {
            route = r;
            on_tx!(tx, |c| sqlx::query(
                "UPDATE pages SET case_code = $1, role = $2, doc_type = $3, group_key = $4 WHERE id = $5"
            )
            .bind(&route.case_code)
            .bind(route.role.as_str())
            .bind(&route.doc_type)
            .bind(&route.group_key)
            .bind(&page_id)
            .execute(&mut *c)
            .await?
            .rows_affected());
        }
        let PageRoute { case_code, role, doc_type, group_key } = route;
        let role = role.as_str();
        let Some(code) = case_code else {
            on_tx!(tx, |c| sqlx::query("UPDATE pages SET state = 'unfiled' WHERE id = $1")
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
            continue;
        };
        // A born-digital PDF is its own document; it is never merged with scanned pages.
        let key = if source_encoding == SourceEncoding::Pdf { format!("pdf:{intake_id}") } else { group_key };
        let open: Option<String> = on_tx!(tx, |c| sqlx::query_scalar(
            "SELECT id FROM documents WHERE state = 'open' AND case_code = $1 AND group_key = $2 AND role = $3 \
             AND doc_type IS NOT DISTINCT FROM $4",
        )
        .bind(&code)
        .bind(&key)
        .bind(role)
        .bind(&doc_type)
        .fetch_optional(&mut *c)
        .await?);
        let doc_id = match open {
            Some(id) => {
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'filed', document_id = $1, \
                     page_no = (SELECT page_count + 1 FROM documents WHERE id = $2) WHERE id = $3",
                )
                .bind(&id)
                .bind(&id)
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE documents SET page_count = page_count + 1, updated_ms = $1 WHERE id = $2"
                )
                .bind(now_ms())
                .bind(&id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                id
            }
            None => {
                bare_case(tx, &code, at).await?;
                // The next ordinal of the case, taken under the writers' lock, with this page its first.
                let id = new_id();
                on_tx!(tx, |c| sqlx::query(
                    "INSERT INTO documents (id, case_code, ordinal, role, doc_type, group_key, state, created_at, \
                       page_count, updated_ms) \
                     SELECT $1, $2, COALESCE(MAX(ordinal), 0) + 1, $3, $4, $5, 'open', $6, 1, $7 \
                     FROM documents WHERE case_code = $2",
                )
                .bind(&id)
                .bind(&code)
                .bind(role)
                .bind(&doc_type)
                .bind(&key)
                .bind(at)
                .bind(now_ms())
                .execute(&mut *c)
                .await?
                .rows_affected());
                on_tx!(tx, |c| sqlx::query(
                    "UPDATE pages SET state = 'filed', document_id = $1, page_no = 1 WHERE id = $2"
                )
                .bind(&id)
                .bind(&page_id)
                .execute(&mut *c)
                .await?
                .rows_affected());
                id
            }
        };
        // A stack's documents close at its next sheet (or the end of the run), not per file.
        if !touched.contains(&doc_id) && !key.starts_with(GroupKey::STACK_PREFIX) {
            touched.push(doc_id);
        }
    }
    on_tx!(tx, |c| sqlx::query("UPDATE intakes SET assembled = 1 WHERE id = $1")
        .bind(intake_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    if close_each_file {
        for d in touched {
            close_document(tx, &d, at).await?;
        }
    }
    Ok(())
}

/// Records a case the records do not know yet, with nothing but its code (a scan names it before any
/// import does). The unit code is the first part of a one-stop case code; an import may correct it.
pub(crate) async fn bare_case(tx: &mut Tx, code: &str, at: &str) -> Result<()> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO cases (id, code, unit, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
    )
    .bind(new_id())
    .bind(code)
    .bind(code.split_once('-').map(|(u, _)| u))
    .bind(at)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}

/// The ordinal the case's next document takes (under the writers' lock, inside the transaction that
/// creates it).
pub(crate) async fn next_ordinal(tx: &mut Tx, code: &str) -> Result<i64> {
    Ok(on_tx!(tx, |c| sqlx::query_scalar("SELECT COALESCE(MAX(ordinal), 0) + 1 FROM documents WHERE case_code = $1")
        .bind(code)
        .fetch_one(&mut *c)
        .await?))
}

/// Closes the groups whose close was requested once every input captured before the request is filed.
async fn honour_close_requests(tx: &mut Tx, at: &str) -> Result<()> {
    let due: Vec<(String, i64)> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT group_key, up_to_seq FROM close_requests WHERE up_to_seq <= COALESCE(\
           (SELECT MIN(seq) - 1 FROM intakes WHERE assembled = 0), (SELECT COALESCE(MAX(seq), 0) FROM intakes))"
    )
    .fetch_all(&mut *c)
    .await?);
    for (group, up_to) in due {
        let docs: Vec<String> =
            on_tx!(tx, |c| sqlx::query_scalar("SELECT id FROM documents WHERE state = 'open' AND group_key = $1")
                .bind(&group)
                .fetch_all(&mut *c)
                .await?);
        for d in docs {
            close_document(tx, &d, at).await?;
        }
        on_tx!(tx, |c| sqlx::query("DELETE FROM close_requests WHERE group_key = $1 AND up_to_seq = $2")
            .bind(&group)
            .bind(up_to)
            .execute(&mut *c)
            .await?
            .rows_affected());
    }
    Ok(())
}

pub(crate) async fn close_document(tx: &mut Tx, doc_id: &str, at: &str) -> Result<()> {
    let r = on_tx!(tx, |c| sqlx::query("UPDATE documents SET state = 'closed' WHERE id = $1 AND state = 'open'")
        .bind(doc_id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    if r == 0 {
        return Ok(());
    }
    // The render job runs under the profile of the document's first input, in its capture order.
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO jobs (id, seq, kind, subject, state, profile_sha256, created_at) \
         SELECT $1, i.seq, 'render', $2, 'pending', i.profile_sha256, $3 \
         FROM pages p JOIN intakes i ON i.id = p.intake_id WHERE p.document_id = $2 \
         ORDER BY p.page_no LIMIT 1 ON CONFLICT DO NOTHING",
    )
    .bind(new_id())
    .bind(doc_id)
    .bind(at)
    .execute(&mut *c)
    .await?
    .rows_affected());
    Ok(())
}
