//! The HTTP API, served by `sohoa serve` beside the watchers: cases, documents, unfiled pages,
//! quarantine, the 766 report, health and metrics — for clerks' and supervisors' tools and the web page.
//!
//! Every `/api/` call carries `Authorization: Bearer <token>`; a token has a role and may be limited to
//! one unit (`auth.rs`). Errors are JSON `{"error": "…", "code": "…"}` with a message that says what to
//! do. The OpenAPI document is served at `/openapi.json`.

mod auth;
mod corrections;
mod documents;
mod outbox;
mod search;
pub(crate) mod upload;
mod web;

use crate::util::lang::Said;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

pub use auth::Caller;

use crate::report::Period;
use crate::route::CaseCodeRule;
use crate::store::{BlobStore, Records};
use crate::util::text::nfc;

/// What every handler needs.
#[derive(Clone)]
pub struct Api {
    records: Records,
    blobs: Arc<dyn BlobStore>,
    codes: Arc<CaseCodeRule>,
    /// The profile uploads are captured under (the service's first station).
    profile: Arc<crate::profile::Profile>,
    /// The data folder (uploads are spooled under it).
    data: PathBuf,
    /// Wakes the pipeline's workers after an upload.
    wake: Option<Arc<tokio::sync::Notify>>,
    /// Page thumbnails, cached on disk.
    thumbnails: crate::view::thumbnail::Thumbnails,
    /// How many thumbnails are decoded at once (each holds a page's pixels).
    thumbnail_turns: Arc<tokio::sync::Semaphore>,
    /// Applies clerks' quarantine decisions (records and folder view together).
    pipeline: crate::pipeline::Pipeline,
}

impl Api {
    /// The API over a records store and blob store, capturing uploads under `profile`.
    pub fn new(
        records: Records,
        blobs: Arc<dyn BlobStore>,
        profile: crate::profile::Profile,
        data: PathBuf,
        wake: Option<Arc<tokio::sync::Notify>>,
    ) -> Result<Api, crate::error::Failure> {
        let codes = CaseCodeRule::from_profile(&profile.settings.routing).map_err(|e| {
            crate::error::Failure::bad(crate::error::Code::BadProfile, format!("routing.case_code_pattern: {e}"))
        })?;
        let pipeline = crate::pipeline::Pipeline::new(records.clone(), blobs.clone(), data.clone());
        let thumbnails = crate::view::thumbnail::Thumbnails::new(&data);
        let cores = crate::util::cpu::cores();
        Ok(Api {
            records,
            blobs,
            codes: Arc::new(codes),
            profile: Arc::new(profile),
            data,
            wake,
            pipeline,
            thumbnails,
            thumbnail_turns: Arc::new(tokio::sync::Semaphore::new(cores)),
        })
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(web::index))
            .route("/static/app.js", get(web::script))
            .route("/static/style.css", get(web::style))
            .route("/api/v1/session", get(web::session).post(web::sign_in).delete(web::sign_out))
            .route("/api/v1/stations", get(web::stations))
            .route("/health", get(health))
            .route("/openapi.json", get(openapi))
            .route("/metrics", get(metrics))
            .route("/api/v1/cases", get(list_cases))
            .route("/api/v1/cases/{code}", get(get_case).put(put_case))
            .route("/api/v1/cases/{code}/documents/{file}", get(documents::download).put(retype_document))
            .route("/api/v1/cases/{code}/documents/{file}/pages", get(corrections::pages))
            .route("/api/v1/cases/{code}/documents/{file}/pages/{page}/shown.jpg", get(search::shown_page))
            .route("/api/v1/search", get(search::search))
            .route("/api/v1/cases/{code}/documents/{file}/reuse", axum::routing::put(mark_reused))
            .route(
                "/api/v1/cases/{code}/documents/{file}/pages/{page}",
                axum::routing::put(corrections::replace_page)
                    .layer(axum::extract::DefaultBodyLimit::max(corrections::RESCAN_LIMIT)),
            )
            .route("/api/v1/cases/{code}/documents/{file}/versions", get(corrections::versions))
            .route("/api/v1/cases/{code}/documents/{file}/versions/{version}", get(documents::version))
            .route("/api/v1/cases/{code}/documents/{file}/corrections", axum::routing::post(corrections::correct))
            .route("/api/v1/files/{sha256}", get(outbox::file))
            .route("/api/v1/outbox", get(outbox::list))
            .route("/api/v1/outbox/{id}/retry", axum::routing::post(outbox::retry))
            .route("/api/v1/files/{sha256}/pages/{page}/thumbnail.jpg", get(documents::thumbnail))
            .route("/api/v1/unfiled", get(unfiled))
            .route("/api/v1/unfiled/{intake}/file", axum::routing::post(file_unfiled))
            .route("/api/v1/quarantine", get(quarantine))
            .route("/api/v1/quarantine/{intake}/retry", axum::routing::post(retry_quarantined))
            .route("/api/v1/quarantine/{intake}/discard", axum::routing::post(discard_quarantined))
            .route("/api/v1/report", get(report))
            // The upload enforces its own limit while streaming (service.upload_max_mb).
            .route(
                "/api/v1/upload",
                axum::routing::post(upload::upload).layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .fallback(not_found)
            .layer(axum::middleware::map_response(json_errors))
            .with_state(self)
    }

    /// Serves on `addr` until `stop` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(stop).await
    }

    /// The unit a case belongs to: as recorded, or the unit part of its code for a case not known yet.
    async fn case_unit(&self, code: &str) -> Result<Option<String>, ApiError> {
        Ok(match self.records.case_record(code).await? {
            Some(r) => r.unit,
            None => code.split_once('-').map(|(u, _)| u.to_string()),
        })
    }

    /// The unit of the case a quarantined input was routed to (`None` when it names no case): a
    /// unit-scoped clerk deals with the inputs of the unit's cases only.
    async fn quarantined_unit(&self, intake: &str) -> Result<Option<String>, ApiError> {
        self.route_unit(self.records.intake_route(intake).await?.as_deref()).await
    }

    /// The unit of the case an input's routing named, if it named one.
    async fn route_unit(&self, route: Option<&str>) -> Result<Option<String>, ApiError> {
        match route.filter(|r| crate::route::names_case(r)) {
            Some(code) => self.case_unit(code).await,
            None => Ok(None),
        }
    }

    fn code(&self, raw: &str) -> Result<String, ApiError> {
        self.codes.validate(raw).map(String::from).map_err(|e| {
            ApiError::bad_request(
                format!("{}; mã hồ sơ có dạng H15.50.05.13-261008-0975", e.vi().trim_end_matches('.')),
                format!("{e}; case codes look like H15.50.05.13-261008-0975"),
            )
        })
    }
}

/// Binds the API's address; a clear message when it is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen on {addr}: {e}; choose another address with --listen (or --listen off)")
    })
}

/// An error as the API reports it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    /// In Vietnamese (`error_vi`, what the clerk's page shows) and English (`error`).
    said: Said,
}

impl ApiError {
    pub(super) fn new(
        status: StatusCode,
        code: &'static str,
        vi: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError { status, code, said: Said::new(vi, en) }
    }
    /// A correction refused: 404 for no such document, 409 when someone else changed it first or it is
    /// not attached (yet), 400 for anything the document cannot take.
    fn refused(r: crate::pipeline::correct::Refused) -> ApiError {
        let status = match r.code {
            "no-document" => StatusCode::NOT_FOUND,
            _ if r.is_conflict() => StatusCode::CONFLICT,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError { status, code: r.code, said: r.said }
    }
    fn bad_request(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", vi, en)
    }
    fn not_found(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", vi, en)
    }
    fn forbidden(vi: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", vi, en)
    }
    /// No case has this code (or the caller may not know it has).
    fn no_case(code: &str) -> ApiError {
        ApiError::not_found(format!("không có hồ sơ {code}"), format!("no case {code}"))
    }
    /// The case has no attached document with this ordinal.
    fn no_document(code: &str, ordinal: i64) -> ApiError {
        ApiError::not_found(
            format!("hồ sơ {code} không có tài liệu {ordinal:03} đang gắn"),
            format!("case {code} has no attached document {ordinal:03}"),
        )
    }
}

/// A failure keeps its meaning at the API: what was asked for is unusable (422, with the failure's
/// stable code and its reason), or the records or files cannot be reached just now (503, alarmed).
impl From<crate::error::Failure> for ApiError {
    fn from(e: crate::error::Failure) -> Self {
        match e {
            crate::error::Failure::BadInput { code, reason } => {
                tracing::warn!(code = code.as_str(), reason = %reason, "API call refused");
                let vi = format!("{} Chi tiết: {reason}", crate::error::explained(code).vi);
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code.as_str(), vi, reason)
            }
            transient => {
                tracing::error!(alarm = true, error = %transient, "API call failed");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "tạm thời không truy cập được cơ sở dữ liệu; hãy thử lại sau ít phút",
                    "the records are not reachable right now; try again shortly",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.said.en, "error_vi": self.said.vi, "code": self.code });
        (self.status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Every error the API gives is `{"error", "code"}`: axum's own refusals — a body that is not the JSON
/// a route takes, a query string that does not parse, a method a route does not have — come as plain
/// text or nothing, and are rewritten here with the same words, so a client reads every error one way.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    let plain = res
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    // A refusal is a sentence; anything longer is not one of axum's and is cut, not buffered whole.
    let text = axum::body::to_bytes(body, 4096).await.map(|b| String::from_utf8_lossy(&b).trim().to_string());
    let message = match text {
        Ok(t) if !t.is_empty() => t,
        _ => status.canonical_reason().unwrap_or("refused").to_string(),
    };
    let (code, vi) = match status {
        StatusCode::BAD_REQUEST => ("bad-request", "Yêu cầu không hợp lệ"),
        StatusCode::METHOD_NOT_ALLOWED => ("method-not-allowed", "Địa chỉ này không nhận phương thức đó"),
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "Dữ liệu gửi lên quá lớn"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported-media-type", "Kiểu dữ liệu gửi lên không được nhận"),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid-body", "Nội dung gửi lên không đúng mẫu"),
        s if s.is_server_error() => ("unavailable", "Dịch vụ tạm thời không trả lời được; hãy thử lại"),
        _ => ("refused", "Yêu cầu bị từ chối"),
    };
    let json = ApiError::new(status, code, format!("{vi}: {message}"), message).into_response();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.remove(axum::http::header::CONTENT_TYPE);
    let (json_parts, json_body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, json_body)
}

/// A document role parameter: `input` (the default) or `result`.
fn role_param(raw: Option<&str>) -> ApiResult<crate::profile::DocRole> {
    match raw {
        None => Ok(crate::profile::DocRole::Input),
        Some(word) => crate::profile::DocRole::parse(word).ok_or_else(|| {
            ApiError::bad_request(
                format!("vai trò `{word}`: dùng input (thành phần) hoặc result (kết quả)"),
                format!("role `{word}`: use input or result"),
            )
        }),
    }
}

/// A date query parameter as a local date.
fn date_param(value: &str, name: &str) -> ApiResult<String> {
    crate::util::time::local_date(value).map_err(|e| {
        ApiError::bad_request(
            format!("{name}: `{value}` không phải ngày hợp lệ; hãy viết dd/mm/yyyy hoặc yyyy-mm-dd"),
            format!("{name}: {e}"),
        )
    })
}

fn now() -> String {
    crate::util::time::now_iso(crate::util::time::VIETNAM)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(
        format!("không có địa chỉ {}; /openapi.json liệt kê các địa chỉ có", uri.path()),
        format!("no such page: {}; /openapi.json lists what there is", uri.path()),
    )
}

/// How long an alarm keeps the service "degraded" on `/health` after it was last raised: a fault
/// retried every few seconds keeps raising it; one that went away stops.
const DEGRADED_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// `GET /health`: `ok`, or `degraded` with why and since when while a transient fault (a full disk, a
/// database that refuses writes, a share gone) is being waited out — until what failed works again;
/// 503, still `degraded` with why, when the records cannot be read at all.
async fn health(State(api): State<Api>) -> Response {
    let unfinished = api.records.unfinished_jobs().await;
    let mut alarms = crate::util::alarm::recent(DEGRADED_FOR);
    let code = match &unfinished {
        Ok(_) => StatusCode::OK,
        Err(e) => {
            alarms.push((
                std::time::SystemTime::now(),
                Said::new(
                    format!("không đọc được cơ sở dữ liệu hồ sơ: {e}"),
                    format!("the records cannot be read: {e}"),
                ),
            ));
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    let unfinished = unfinished.ok();
    if alarms.is_empty() {
        return Json(serde_json::json!({ "status": "ok", "jobs_waiting": unfinished })).into_response();
    }
    let since =
        alarms.first().map(|(t, _)| crate::util::time::iso(time::OffsetDateTime::from(*t), crate::util::time::VIETNAM));
    let mut why: Vec<&Said> = Vec::new();
    for (_, said) in alarms.iter().rev() {
        if !why.iter().any(|w| w.en == said.en) && why.len() < 5 {
            why.push(said);
        }
    }
    let body = serde_json::json!({ "status": "degraded", "since": since, "why": why, "jobs_waiting": unfinished });
    (code, Json(body)).into_response()
}

async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics(State(api): State<Api>) -> ApiResult<Response> {
    use crate::util::metrics::{Figure, render};
    let t = api.records.tally().await?;
    let (verify_total, verify_last) = api.records.verify_failures().await?;
    let replica_lag = api.records.replicas().await?.iter().map(|r| r.behind).max().unwrap_or(0);
    let outbox = api.records.outbox_counts().await?;
    let figure = |name, help, counter, value| Figure { name, help, counter, value };
    let body = render(&[
        figure("intakes", "Inputs captured", true, t.intakes),
        figure("quarantined", "Inputs in quarantine, waiting for a clerk", false, t.quarantined),
        figure("verify_failures", "Fixity failures found by all verify runs", true, verify_total),
        figure("verify_failures_last_run", "Fixity failures found by the last finished verify run", false, verify_last),
        figure("pages_attached", "Pages in attached documents", false, t.pages_attached),
        figure("pages_unfiled", "Pages without a case", false, t.pages_unfiled),
        figure("documents_attached", "Documents attached", false, t.documents),
        figure("queue_depth", "Jobs not finished", false, t.jobs_pending),
        figure(
            "ocr_backlog",
            "Attached documents waiting for text recognition (OCR runs after every other job)",
            false,
            api.records.unfinished_of(crate::store::jobs::JobKind::Ocr).await?,
        ),
        figure(
            "pages_recognised",
            "Pages given a text layer by this process",
            true,
            crate::util::metrics::recognised() as i64,
        ),
        figure(
            "replica_lag_files",
            "Recorded files the second copy (serve --replica) lacks, the most behind replica",
            false,
            replica_lag,
        ),
        figure("outbox_pending", "Changes not yet delivered to the one-stop system", false, outbox.pending),
        figure(
            "outbox_rejected",
            "Deliveries the one-stop system refused, waiting for a clerk",
            false,
            outbox.rejected,
        ),
        figure("outbox_delivered", "Changes delivered to the one-stop system", false, outbox.delivered),
        figure(
            "outbox_oldest_pending_seconds",
            "Age of the oldest change not yet delivered",
            false,
            outbox.oldest_pending_ms / 1000,
        ),
    ]);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response())
}

/// Filters of the case list.
#[derive(Debug, Default, Deserialize)]
struct CaseFilter {
    code: Option<String>,
    unit: Option<String>,
    procedure: Option<String>,
    status: Option<String>,
    from: Option<String>,
    to: Option<String>,
    complete: Option<bool>,
    applicant: Option<String>,
    limit: Option<i64>,
}

async fn list_cases(
    caller: Caller,
    State(api): State<Api>,
    Query(f): Query<CaseFilter>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let date = |v: &Option<String>, what: &str| v.as_deref().map(|d| date_param(d, what)).transpose();
    let filter = crate::store::queries::CaseQuery {
        code_prefix: f.code.map(|c| nfc(c.trim())),
        unit: caller.scope_unit(f.unit.map(|u| nfc(u.trim())))?,
        procedure: f.procedure.map(|p| nfc(p.trim())),
        status: f.status,
        from: date(&f.from, "from")?,
        to: date(&f.to, "to")?,
        applicant: match f.applicant.map(|a| nfc(a.trim())).filter(|a| !a.is_empty()) {
            Some(_) if !caller.sees_personal_data() => {
                return Err(ApiError::forbidden(
                    "chỉ cán bộ một cửa được tìm theo người nộp (dữ liệu cá nhân)",
                    "only clerks search by applicant (personal data)",
                ));
            }
            a => a,
        },
        limit: f.limit.unwrap_or(100).clamp(1, 500),
    };
    let mut out = Vec::new();
    for c in api.records.case_list(&filter).await? {
        let completeness = api.records.completeness(&c.code, c.procedure_code.as_deref()).await?;
        if f.complete.is_some_and(|want| want != completeness.complete) {
            continue;
        }
        let mut v = serde_json::to_value(&c).unwrap_or_default();
        v["complete"] = serde_json::json!(completeness.complete);
        v["judged"] = serde_json::json!(completeness.judged);
        out.push(v);
    }
    Ok(Json(serde_json::json!({ "cases": out })))
}

async fn get_case(
    caller: Caller,
    State(api): State<Api>,
    Path(code): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    let Some(mut record) = api.records.case_record(&code).await? else {
        return Err(ApiError::no_case(&code));
    };
    caller.may_see_unit(record.unit.as_deref())?;
    // Completeness first: a document attached in between then shows in the list as attached, and the
    // badge never runs ahead of the documents it is about.
    let completeness = api.records.completeness(&code, record.procedure_code.as_deref()).await?;
    let detail = api.records.case_detail(&code).await?.ok_or_else(|| ApiError::no_case(&code))?;
    if !caller.sees_personal_data() {
        record.applicant_name = None;
        record.applicant_id = None;
        record.applicant_contact = None;
    }
    let seen = serde_json::json!({ "via": "api", "personal": caller.sees_personal_data() });
    api.records.log_access(&caller.actor(), "view", Some(&code), None, &seen, &now()).await?;
    let mut v = serde_json::to_value(&detail).unwrap_or_default();
    v["record"] = serde_json::to_value(&record).unwrap_or_default();
    v["completeness"] = serde_json::to_value(&completeness).unwrap_or_default();
    // Pages whose recognised text may be unreliable, for a clerk to scan again.
    let min = api.profile.settings.ocr.min_confidence;
    v["unreliable_text"] = serde_json::to_value(api.records.unreliable_pages(&code, min).await?).unwrap_or_default();
    v["text_confidence_min"] = serde_json::json!(min);
    Ok(Json(v))
}

async fn put_case(
    caller: Caller,
    State(api): State<Api>,
    Path(code): Path<String>,
    Json(e): Json<crate::import::FieldsText>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    if e.unit.is_some() {
        caller.may_see_unit(e.unit.as_deref())?;
    }
    let fields = e.parse().map_err(|m| ApiError::bad_request(format!("thông tin hồ sơ không hợp lệ: {m}"), m))?;
    let what = api.records.upsert_case(&code, &fields, false, &caller.actor(), &now()).await?;
    Ok(Json(serde_json::json!({ "case": code, "result": what })))
}

/// A clerk's correction of an attached document: its type, its role, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Retype {
    #[serde(rename = "type")]
    doc_type: Option<String>,
    role: Option<String>,
    /// The version the clerk saw; a document changed since is refused (409).
    version: Option<i64>,
}

/// A document's ordinal from the path: `001`, `1` or `001.pdf`.
fn ordinal_param(file: &str) -> Result<i64, ApiError> {
    file.strip_suffix(".pdf").unwrap_or(file).parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(
            format!("`{file}` không phải số tài liệu; dùng 001, 002 …"),
            format!("`{file}` is not a document number; use 001, 002 …"),
        )
    })
}

/// `PUT /api/v1/cases/{code}/documents/{NNN}`: sets the document's type and/or role; its PDF is
/// rendered again from the same pages, and the change audited.
async fn retype_document(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
    Json(r): Json<Retype>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = ordinal_param(&file)?;

    let doc_type = r.doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
    let role = r.role.as_deref().map(|r| role_param(Some(r))).transpose()?;
    if doc_type.is_none() && role.is_none() {
        return Err(ApiError::bad_request(
            "hãy cho biết cần đổi gì: `type`, `role` hoặc cả hai",
            "say what to set: `type`, `role` or both",
        ));
    }
    let op = crate::pipeline::correct::Operation::Retype { role, doc_type };
    let changed = match api.pipeline.correct(&code, ordinal, r.version, op, &caller.actor()).await? {
        Ok(_) => true,
        Err(refused) if refused.code == "unchanged" => false,
        Err(refused) => return Err(ApiError::refused(refused)),
    };
    Ok(Json(serde_json::json!({ "case": code, "ordinal": ordinal, "changed": changed })))
}

/// Where an input was digitized before, or `null` to take the mark off.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reuse {
    from: Option<String>,
}

/// `PUT /api/v1/cases/{code}/documents/{NNN}/reuse`: marks an attached input as taken from earlier
/// digitized data (a case code, or `case.NNN`), which the reuse rate counts; `from: null` takes the
/// mark off. Audited.
async fn mark_reused(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
    Json(r): Json<Reuse>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_correct()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = ordinal_param(&file)?;
    let from = r.from.map(|f| nfc(f.trim())).filter(|f| !f.is_empty());
    if let Some(f) = &from {
        crate::route::reuse_source_for(&api.codes, &code, f).map_err(|e| {
            ApiError::bad_request(
                format!("`from` phải là mã hồ sơ hoặc mã hồ sơ kèm số tài liệu (.NNN): {e}"),
                format!("`from`: {e}"),
            )
        })?;
    }
    if !api.records.mark_reused(&code, ordinal, from.as_deref(), &caller.actor(), &now()).await? {
        return Err(ApiError::not_found(
            format!("hồ sơ {code} không có thành phần hồ sơ {ordinal:03} đã gắn"),
            format!("case {code} has no attached input {ordinal:03}"),
        ));
    }
    Ok(Json(serde_json::json!({ "case": code, "ordinal": ordinal, "reused_from": from })))
}

async fn unfiled(caller: Caller, State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let unit = caller.scope_unit(None)?;
    let mut pages = api.records.unfiled(unit.as_deref()).await?;
    api.pipeline.explain_unfiled(&mut pages).await;
    Ok(Json(serde_json::json!({ "pages": pages })))
}

/// Where a clerk files an unfiled scan.
#[derive(Debug, Deserialize)]
struct FileTo {
    case: String,
    role: Option<String>,
    #[serde(rename = "type")]
    doc_type: Option<String>,
}

async fn file_unfiled(
    caller: Caller,
    State(api): State<Api>,
    Path(intake): Path<String>,
    Json(to): Json<FileTo>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let code = api.code(&to.case)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    // The scan itself must be the clerk's unit's too (or a unit-limited clerk could take another
    // unit's scan into a case of their own, and then read it).
    if caller.unit.is_some() {
        caller
            .may_see_unit(api.records.intake_unit(intake.trim()).await?.as_deref())
            .map_err(|_| no_unfiled(&intake))?;
    }
    let role = to.role.as_deref().map(|r| role_param(Some(r))).transpose()?;
    let doc_type = to.doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
    let filed =
        api.records.file_unfiled(intake.trim(), &code, role, doc_type.as_deref(), &caller.actor(), &now()).await?;
    let Some(ordinal) = filed else {
        return Err(no_unfiled(&intake));
    };
    if let Some(w) = &api.wake {
        w.notify_waiters();
    }
    Ok(Json(serde_json::json!({ "case": code, "document": format!("{code}.{ordinal:03}.pdf"), "ordinal": ordinal })))
}

async fn quarantine(caller: Caller, State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let mut inputs = Vec::new();
    for q in api.records.quarantine_list(None).await? {
        // The list carries each input's route already: no second lookup per input.
        if caller.unit.is_none() || api.route_unit(q.case_code.as_deref()).await? == caller.unit {
            inputs.push(q);
        }
    }
    Ok(Json(serde_json::json!({ "inputs": inputs })))
}

/// Where a retried input should go, when its own route was the problem. Everything optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryTo {
    case: Option<String>,
    role: Option<String>,
    #[serde(rename = "type")]
    doc_type: Option<String>,
}

/// An input with no unfiled page (or one the caller may not see).
fn no_unfiled(intake: &str) -> ApiError {
    ApiError::not_found(
        format!("tệp {intake} không có trang nào chưa phân loại; GET /api/v1/unfiled liệt kê các trang"),
        format!("input {intake} has no unfiled page; GET /api/v1/unfiled lists them"),
    )
}

/// A refused retry or discard, as the API says it.
fn refusal(intake: &str, r: crate::store::quarantine::Refusal) -> ApiError {
    use crate::store::quarantine::Refusal;
    let said = r.said();
    let (vi, en) = (format!("tệp {intake}: {}", said.vi), format!("input {intake}: {}", said.en));
    match r {
        Refusal::Unknown => ApiError::not_found(vi, en),
        Refusal::NotQuarantined | Refusal::AlreadyCaptured { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", vi, en)
        }
        Refusal::ScanAgain { .. } => ApiError::new(StatusCode::CONFLICT, "scan-again", vi, en),
        Refusal::ManifestStillBad { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad-manifest", vi, en),
    }
}

async fn retry_quarantined(
    caller: Caller,
    State(api): State<Api>,
    Path(intake): Path<String>,
    body: Option<Json<RetryTo>>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let to = body.map(|Json(b)| b).unwrap_or_default();
    let route = match to.case {
        Some(case) => {
            let case = api.code(&case)?;
            caller.may_see_unit(api.case_unit(&case).await?.as_deref())?;
            let role = role_param(to.role.as_deref())?;
            let doc_type = to.doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
            Some(crate::store::quarantine::RetryRoute { case, role, doc_type })
        }
        None => None,
    };
    let intake = intake.trim();
    caller.may_see_unit(api.quarantined_unit(intake).await?.as_deref())?;
    let with = api
        .pipeline
        .retry_quarantined(intake, route.as_ref(), &caller.actor(), &now())
        .await?
        .map_err(|r| refusal(intake, r))?;
    if let Some(w) = &api.wake {
        w.notify_waiters();
    }
    let said = with.said();
    Ok(Json(serde_json::json!({
        "intake": intake, "result": "queued", "used": with.word(), "said": said.en, "said_vi": said.vi,
    })))
}

/// Why a quarantined input is discarded.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscardWhy {
    reason: String,
}

async fn discard_quarantined(
    caller: Caller,
    State(api): State<Api>,
    Path(intake): Path<String>,
    Json(why): Json<DiscardWhy>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    let reason = nfc(why.reason.trim());
    if reason.is_empty() {
        return Err(ApiError::bad_request(
            "hãy ghi lý do vào `reason`; nhật ký lưu lại lý do",
            "say why in `reason`; the audit log keeps it",
        ));
    }
    let intake = intake.trim();
    caller.may_see_unit(api.quarantined_unit(intake).await?.as_deref())?;
    api.pipeline
        .discard_quarantined(intake, &reason, &caller.actor(), &now())
        .await?
        .map_err(|r| refusal(intake, r))?;
    Ok(Json(serde_json::json!({ "intake": intake, "result": "discarded" })))
}

#[derive(Debug, Deserialize)]
struct ReportQuery {
    from: String,
    to: String,
    unit: Option<String>,
    procedure: Option<String>,
}

async fn report(
    caller: Caller,
    State(api): State<Api>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<crate::report::Report>> {
    caller.may_report()?;
    let (from, to) = (date_param(&q.from, "from")?, date_param(&q.to, "to")?);
    if to < from {
        return Err(ApiError::bad_request(
            format!("to {to} trước from {from}: ngày cuối kỳ không được trước ngày đầu kỳ"),
            format!("to {to} is before from {from}"),
        ));
    }
    let period = Period {
        from,
        to,
        unit: caller.scope_unit(q.unit.map(|u| nfc(u.trim())))?,
        procedure: q.procedure.map(|p| nfc(p.trim())),
    };
    let r = crate::report::compute(&api.records, &period).await?;
    let detail =
        serde_json::json!({ "from": r.from, "to": r.to, "unit": r.unit, "procedure": r.procedure, "via": "api" });
    api.records.log_access(&caller.actor(), "report", None, None, &detail, &now()).await?;
    Ok(Json(r))
}
