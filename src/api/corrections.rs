//! A clerk's corrections over HTTP: a document's pages as they are now, its versions, and one endpoint
//! that makes any correction (`POST …/corrections`), refused with 409 when the document is no longer
//! at the version the clerk saw.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::{Api, ApiError, ApiResult, Caller, role_param};
use crate::pipeline::correct::{Corrected, DocView, Operation};
use crate::util::text::nfc;

/// `GET /api/v1/cases/{code}/documents/{NNN}/pages`: the document's version and every page it holds.
pub(super) async fn pages(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
) -> ApiResult<Json<DocView>> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = super::ordinal_param(&file)?;
    let view = api.pipeline.doc_view(&code, ordinal).await?.ok_or_else(|| ApiError::no_document(&code, ordinal))?;
    Ok(Json(view))
}

/// `GET /api/v1/cases/{code}/documents/{NNN}/versions`: who made each version, when and how.
pub(super) async fn versions(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = super::ordinal_param(&file)?;
    let id = api.records.document_id(&code, ordinal).await?.ok_or_else(|| ApiError::no_document(&code, ordinal))?;
    let versions = api.records.document_versions(&id).await?;
    Ok(Json(serde_json::json!({ "case": code, "ordinal": ordinal, "versions": versions })))
}

/// One correction, as the page and other clients send it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Asked {
    /// `turn`, `as-scanned`, `order`, `remove`, `restore`, `split`, `merge`, `move`, `retype`.
    operation: String,
    /// The version the clerk saw (required: a correction is never made on a document unseen).
    version: i64,
    page: Option<i64>,
    degrees: Option<i64>,
    /// For `as-scanned`: `false` puts the straightening and crop back.
    on: Option<bool>,
    order: Option<Vec<i64>>,
    at: Option<i64>,
    other: Option<i64>,
    pages: Option<Vec<i64>>,
    to: Option<String>,
    role: Option<String>,
    #[serde(rename = "type")]
    doc_type: Option<String>,
}

/// `POST /api/v1/cases/{code}/documents/{NNN}/corrections`: makes one correction, a new version.
pub(super) async fn correct(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
    Json(a): Json<Asked>,
) -> ApiResult<Json<Corrected>> {
    caller.may_correct()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = super::ordinal_param(&file)?;
    let need = |v: Option<i64>, field: &str| {
        v.ok_or_else(|| {
            ApiError::bad_request(
                format!("thao tác `{}` cần trường `{field}`", a.operation),
                format!("operation `{}` needs the field `{field}`", a.operation),
            )
        })
    };
    let doc_type = a.doc_type.as_deref().map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
    let role = a.role.as_deref().map(|r| role_param(Some(r))).transpose()?;
    let op = match a.operation.as_str() {
        "turn" => Operation::Turn { page: need(a.page, "page")?, degrees: need(a.degrees, "degrees")? },
        "as-scanned" => Operation::AsScanned { page: need(a.page, "page")?, on: a.on.unwrap_or(true) },
        "order" => Operation::Order { pages: a.order.clone().unwrap_or_default() },
        "remove" => Operation::Remove { page: need(a.page, "page")? },
        "restore" => Operation::Restore { page: need(a.page, "page")? },
        "split" => Operation::Split { at: need(a.at, "at")? },
        "merge" => Operation::Merge { other: need(a.other, "other")? },
        "retype" => Operation::Retype { role, doc_type },
        "move" => {
            let to = api.code(a.to.as_deref().unwrap_or_default())?;
            caller.may_see_unit(api.case_unit(&to).await?.as_deref())?;
            // An empty list is the whole document, as an absent one.
            Operation::Move { pages: a.pages.clone().filter(|p| !p.is_empty()), to, role, doc_type }
        }
        other => {
            return Err(ApiError::bad_request(
                format!(
                    "không có thao tác `{other}`; dùng turn, as-scanned, order, remove, restore, split, merge, move hoặc retype"
                ),
                format!(
                    "there is no operation `{other}`; use turn, as-scanned, order, remove, restore, split, merge, move or retype"
                ),
            ));
        }
    };
    match api.pipeline.correct(&code, ordinal, Some(a.version), op, &caller.actor()).await? {
        Ok(done) => Ok(Json(done)),
        Err(refused) => Err(ApiError::refused(refused)),
    }
}

/// `?version=V` on a page replaced by a new scan.
#[derive(Debug, Deserialize)]
pub(super) struct Seen {
    version: i64,
    /// The scan's file name, for the record (`trang-N-quet-lai` when not given).
    name: Option<String>,
}

/// The largest new scan of one page taken over HTTP (a 600-dpi A4 colour page is well under it).
pub(super) const RESCAN_LIMIT: usize = 64 << 20;

/// `PUT /api/v1/cases/{code}/documents/{NNN}/pages/{page}?version=V`: the body (an image or a scanner
/// PDF) is a new scan of the page: captured, it takes the page's place in a new version; the old page
/// stays in the record.
pub(super) async fn replace_page(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file, page)): Path<(String, String, i64)>,
    axum::extract::Query(seen): axum::extract::Query<Seen>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Corrected>> {
    caller.may_correct()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = super::ordinal_param(&file)?;
    let at = super::now();
    let scan = crate::pipeline::correct::Rescan {
        path: format!("api:{}", caller.actor()),
        name: seen
            .name
            .map(|n| nfc(n.trim()))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("trang-{page}-quet-lai")),
        mtime: at,
        bytes: std::sync::Arc::new(body.to_vec()),
    };
    let op = Operation::ReplacePage { page, scan };
    match api.pipeline.correct(&code, ordinal, Some(seen.version), op, &caller.actor()).await? {
        Ok(done) => Ok(Json(done)),
        Err(refused) => Err(ApiError::refused(refused)),
    }
}
