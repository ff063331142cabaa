//! Splitting a scanned stack at its separator sheets, page by page in capture order, inside the
//! assembly transaction. The state of each stack (the segment it is in and the case that segment
//! belongs to) is a row of `stacks`, so an interrupted run, resumed, splits exactly where an
//! uninterrupted one would have.
//!
//! A stack's key is `stack:<station>:<folder>` (set by the split job); the documents of one segment
//! share the group key `<stack key>|<id of the segment's first page>`, so each segment is its own
//! document and no page ever joins a neighbouring segment's.

use super::assembly::{PageRoute, close_document};
use super::db::{Tx, on_tx};
use crate::error::Result;
use crate::profile::DocRole;
use crate::separate::{Sheet, StackNote};

/// One stack's state.
#[derive(Debug, sqlx::FromRow)]
struct Stack {
    case_code: Option<String>,
    role: Option<String>,
    doc_type: Option<String>,
    segment: String,
    pages: i64,
    sheet: i64,
}

/// The route of one page of a stack, given the route its own hints gave (`own`, whose group key is
/// the stack's), or `None` when the stack has no say (no sheet seen yet and no `every` rule): the page
/// keeps its own.
pub(super) async fn route(
    tx: &mut Tx,
    page_id: &str,
    own: &PageRoute,
    note: &StackNote,
    at: &str,
) -> Result<Option<PageRoute>> {
    let stack_key = own.group_key.as_str();
    let state: Option<Stack> = on_tx!(tx, |c| sqlx::query_as(
        "SELECT case_code, role, doc_type, segment, pages, sheet FROM stacks WHERE key = $1"
    )
    .bind(stack_key)
    .fetch_optional(&mut *c)
    .await?);
    let next = match (&note.sheet, state) {
        // A sheet: the segment before it ends here; a new one begins with this page.
        (Some(sheet), before) => {
            close_segment(tx, stack_key, at).await?;
            let (case, role, doc_type, sheet) = match sheet {
                Sheet::Code { case, role, doc_type } => {
                    (Some(case.clone()), role.map(|r| r.as_str().to_string()), doc_type.clone(), 1)
                }
                // PATCH-T: a new document of the same dossier — the one a code sheet named, or, before
                // any, the one each page's own name or folder gives.
                Sheet::Split => before.map(|b| (b.case_code, b.role, b.doc_type, b.sheet)).unwrap_or_default(),
                // Nobody can tell whose pages follow: they stay unfiled until the next sheet.
                Sheet::Unreadable { .. } => (None, None, None, 1),
            };
            Stack { case_code: case, role, doc_type, segment: page_id.to_string(), pages: 1, sheet }
        }
        (None, None) if note.every == 0 => return Ok(None),
        (None, None) => Stack {
            case_code: own.case_code.clone(),
            role: None,
            doc_type: None,
            segment: page_id.to_string(),
            pages: 1,
            sheet: 0,
        },
        (None, Some(mut s)) => {
            if note.every > 0 && s.pages >= i64::from(note.every) {
                close_segment(tx, stack_key, at).await?;
                s.segment = page_id.to_string();
                s.pages = 0;
            }
            s.pages += 1;
            s
        }
    };
    on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO stacks (key, case_code, role, doc_type, segment, pages, sheet) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (key) DO UPDATE SET case_code = excluded.case_code, role = excluded.role, \
           doc_type = excluded.doc_type, segment = excluded.segment, pages = excluded.pages, sheet = excluded.sheet"
    )
    .bind(stack_key)
    .bind(&next.case_code)
    .bind(&next.role)
    .bind(&next.doc_type)
    .bind(&next.segment)
    .bind(next.pages)
    .bind(next.sheet)
    .execute(&mut *c)
    .await?
    .rows_affected()
    });
    // After a sheet, its case is every page's (an unreadable sheet's: none); before any sheet, each
    // page keeps the case its own name or folder gave it.
    let case_code = if next.sheet == 1 { next.case_code } else { own.case_code.clone() };
    Ok(Some(PageRoute {
        case_code,
        role: next.role.as_deref().and_then(DocRole::parse).unwrap_or(own.role),
        doc_type: next.doc_type.or_else(|| own.doc_type.clone()),
        group_key: format!("{stack_key}|{}", next.segment),
    }))
}

/// Closes the open documents of a stack's current segment (their PDFs are queued).
async fn close_segment(tx: &mut Tx, stack_key: &str, at: &str) -> Result<()> {
    let prefix = format!("{stack_key}|");
    let open: Vec<String> = on_tx!(tx, |c| sqlx::query_scalar(
        "SELECT id FROM documents WHERE state = 'open' AND substr(group_key, 1, length($1)) = $1"
    )
    .bind(&prefix)
    .fetch_all(&mut *c)
    .await?);
    for id in open {
        close_document(tx, &id, at).await?;
    }
    Ok(())
}
