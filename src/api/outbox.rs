//! The outbox seen from the API: what is owed to the one-stop system and what it refused, a clerk's
//! retry, and the signed download links the one-stop system follows to fetch each PDF.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{Api, ApiError, ApiResult, Caller, now};
use crate::deliver::links::{self, LinkRefusal};
use crate::deliver::shown;
use crate::store::outbox::Listing;

/// A signed link's parameters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Signed {
    expires: Option<i64>,
    signature: Option<String>,
}

/// `GET /api/v1/files/{sha256}`: a stored original for a caller with a token, or — with `expires` and
/// `signature` — a PDF sohoa made, for the one-stop system following a link the outbox sent (no token:
/// the signature is the permission, for that file only, until it expires).
pub(super) async fn file(
    caller: Result<Caller, ApiError>,
    state: State<Api>,
    Path(sha): Path<String>,
    Query(link): Query<Signed>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (Some(expires), Some(signature)) = (link.expires, link.signature.as_deref()) else {
        return super::documents::original(caller?, state, Path(sha), headers).await;
    };
    let api = state.0;
    let sha = sha.trim().to_ascii_lowercase();
    let key = api.records.link_secret().await?;
    let now_s = time::OffsetDateTime::now_utc().unix_timestamp();
    match links::check(&key, &sha, expires, signature, now_s) {
        Ok(()) => {}
        Err(LinkRefusal::Expired) => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "link-expired",
                "liên kết tải tệp đã hết hạn; hệ thống một cửa nhận liên kết mới khi hồ sơ được gửi lại",
                "the download link has expired; the one-stop system gets a new one when the case is sent again",
            ));
        }
        Err(LinkRefusal::Forged) => {
            tracing::warn!(sha256 = %sha, "a download link with a wrong signature was refused");
            return Err(ApiError::forbidden(
                "liên kết tải tệp không hợp lệ (chữ ký sai)",
                "the download link is not valid (wrong signature)",
            ));
        }
    }
    let Some((bytes, case, ordinal)) = api.records.made_pdf(&sha).await? else {
        return Err(ApiError::not_found(
            format!("không có PDF nào có sha256 {sha}"),
            format!("no PDF has sha256 {sha}"),
        ));
    };
    let name = format!("{case}.{ordinal:03}.pdf");
    let range = match super::documents::requested_range(&headers, bytes as u64) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let detail = serde_json::json!({ "document": name, "signed_link": true, "expires": expires });
    api.records.log_access("signed-link", "download", Some(&case), Some(&sha), &detail, &now()).await?;
    super::documents::serve_blob(&api, &sha, bytes as u64, range, "application/pdf", &name).await
}

/// The outbox listing's filters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct OutboxFilter {
    /// `all` (default), `undelivered` or `failed`.
    state: Option<String>,
    /// One case.
    case: Option<String>,
    /// At most this many (default 200).
    limit: Option<i64>,
}

/// `GET /api/v1/outbox[?state=failed&case=…]`: entries newest first, within the caller's unit.
pub(super) async fn list(
    caller: Caller,
    State(api): State<Api>,
    Query(f): Query<OutboxFilter>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let which = match f.state.as_deref().unwrap_or("all") {
        "all" => Listing::All,
        "undelivered" | "pending" => Listing::Undelivered,
        "failed" | "rejected" => Listing::Failed,
        other => {
            return Err(ApiError::bad_request(
                format!("state `{other}` không hợp lệ: dùng all, undelivered hoặc failed"),
                format!("state `{other}` is not one of all, undelivered, failed"),
            ));
        }
    };
    let case = match f.case.as_deref() {
        Some(c) => Some(api.code(c)?),
        None => None,
    };
    let entries = api.records.outbox_list(which, case.as_deref(), f.limit.unwrap_or(200).clamp(1, 2000)).await?;
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        if caller.unit.is_some() && api.case_unit(&e.case_code).await?.as_deref() != caller.unit.as_deref() {
            continue;
        }
        out.push(shown(e));
    }
    let counts = api.records.outbox_counts().await?;
    Ok(Json(serde_json::json!({ "counts": counts, "entries": out })))
}

/// `POST /api/v1/outbox/{id}/retry`: a clerk sends a refused entry again, once the cause is fixed.
pub(super) async fn retry(
    caller: Caller,
    State(api): State<Api>,
    Path(id): Path<i64>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_retry_delivery()?;
    let no_entry = || ApiError::not_found(format!("không có mục gửi số {id}"), format!("no outbox entry {id}"));
    let entry = api.records.outbox_entry(id).await?.ok_or_else(no_entry)?;
    caller.may_see_unit(api.case_unit(&entry.case_code).await?.as_deref())?;
    if entry.state != "rejected" {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-rejected",
            format!(
                "mục gửi {id} không bị từ chối ({}); không cần gửi lại",
                match entry.state.as_str() {
                    "delivered" => "đã gửi",
                    _ => "đang chờ gửi",
                }
            ),
            format!("outbox entry {id} was not refused (it is {}); nothing to retry", entry.state),
        ));
    }
    api.records.outbox_retry(id, &caller.actor(), &now()).await?;
    let after = api.records.outbox_entry(id).await?.ok_or_else(no_entry)?;
    Ok(Json(shown(&after)))
}
