//! Search by content: `GET /api/v1/search?q=…` over the recognised text of attached documents, within
//! the caller's unit, and the page a hit is on drawn as the PDF shows it, for its marks.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Caller;
use super::{Api, ApiError, ApiResult, date_param, ordinal_param};
use crate::store::texts::TextQuery;
use crate::util::text::{folded_words, nfc};

/// What `GET /api/v1/search` takes.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SearchParams {
    q: Option<String>,
    unit: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/search?q=quyen+su+dung+dat[&unit=U][&from=D&to=D][&limit=N]`: pages of current,
/// attached documents whose recognised text holds every word asked, tone marks optional. Each hit
/// names its case, document and page, the page's text and confidence, its words' boxes (shares of the
/// shown page) with the ones that match marked, and where its picture is. Readers of cases only;
/// a unit-limited token finds its unit's cases only.
pub(super) async fn search(
    caller: Caller,
    State(api): State<Api>,
    Query(p): Query<SearchParams>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let text = nfc(p.q.as_deref().unwrap_or("").trim());
    let wanted = folded_words(&text);
    if wanted.is_empty() {
        return Err(ApiError::bad_request("cần ít nhất một từ để tìm: ?q=…", "give at least one word to find: ?q=…"));
    }
    let date = |v: &Option<String>, what: &str| v.as_deref().map(|d| date_param(d, what)).transpose();
    let query = TextQuery {
        text,
        unit: caller.scope_unit(p.unit.map(|u| nfc(u.trim())))?,
        from: date(&p.from, "from")?,
        to: date(&p.to, "to")?,
        limit: p.limit.unwrap_or(50).clamp(1, 200),
    };
    let hits = api.records.search_text(&query).await?;
    let out: Vec<serde_json::Value> = hits
        .into_iter()
        .map(|h| {
            let words: Vec<serde_json::Value> = serde_json::from_str(&h.words).unwrap_or_default();
            let marks: Vec<&serde_json::Value> = words
                .iter()
                .filter(|w| {
                    folded_words(w.get(0).and_then(|t| t.as_str()).unwrap_or(""))
                        .iter()
                        .any(|part| wanted.contains(part))
                })
                .collect();
            let picture =
                format!("/api/v1/cases/{}/documents/{:03}/pages/{}/shown.jpg", h.case_code, h.ordinal, h.page_no);
            serde_json::json!({
                "case_code": h.case_code,
                "unit": h.unit,
                "document": format!("{:03}", h.ordinal),
                "type": h.doc_type,
                "role": h.role,
                "version": h.version,
                "page": h.page_no,
                "confidence": h.confidence,
                "text": h.text,
                "marks": marks,
                "picture": picture,
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "query": query.text, "hits": out })))
}

/// `GET /api/v1/cases/{code}/documents/{NNN}/pages/{N}/shown.jpg`: page N of the document's current PDF
/// as a reader shows it (turned, cropped, straightened), 720 pixels on its longest edge.
pub(super) async fn shown_page(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file, page)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = ordinal_param(&file)?;
    let n: u32 = page.strip_suffix(".jpg").unwrap_or(&page).parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(
            format!("`{page}` không phải số trang; trang đánh số từ 1"),
            format!("`{page}` is not a page number; pages count from 1"),
        )
    })?;
    let id = api.records.document_id(&code, ordinal).await?.ok_or_else(|| ApiError::no_document(&code, ordinal))?;
    let versions = api.records.document_versions(&id).await?;
    let Some(sha) = versions.iter().rev().find_map(|v| v.pdf_sha256.clone()) else {
        return Err(ApiError::no_document(&code, ordinal));
    };
    let (blobs, thumbs) = (api.blobs.clone(), api.thumbnails.clone());
    let _turn = api
        .thumbnail_turns
        .acquire()
        .await
        .map_err(|_| ApiError::from(crate::error::Failure::transient("thumbnails", anyhow::anyhow!("closed"))))?;
    let made = crate::util::cpu::blocking(move || thumbs.pdf_page(blobs.as_ref(), &sha, n))
        .await
        .map_err(|e| crate::error::Failure::transient("thumbnail task", e))?;
    match made {
        Ok(jpeg) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
                (header::CONTENT_SECURITY_POLICY, "sandbox"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            jpeg,
        )
            .into_response()),
        Err(crate::error::Failure::BadInput { reason, .. }) => Err(ApiError::not_found(
            format!("tài liệu {ordinal:03} của hồ sơ {code} không có trang {n}"),
            format!("document {ordinal:03} of {code} has no page {n}: {reason}"),
        )),
        Err(e) => Err(e.into()),
    }
}
