//! The HTTP API, served by `sohoa serve` beside the watchers: cases, documents, unfiled pages,
//! quarantine, the 766 report, health and metrics — for clerks' and supervisors' tools and the web page.
//!
//! Every `/api/` call carries `Authorization: Bearer <token>`; a token has a role and may be limited to
//! one unit (`auth.rs`). Errors are JSON `{"error": "…", "code": "…"}` with a message that says what to
//! do. The OpenAPI document is served at `/openapi.json`.

mod auth;
mod documents;
mod upload;

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
        let codes = CaseCodeRule::from_profile(&profile.settings.routing)
            .map_err(|e| crate::error::Failure::bad("bad-profile", format!("routing.case_code_pattern: {e}")))?;
        Ok(Api { records, blobs, codes: Arc::new(codes), profile: Arc::new(profile), data, wake })
    }

    /// The routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/health", get(health))
            .route("/openapi.json", get(openapi))
            .route("/metrics", get(metrics))
            .route("/api/v1/cases", get(list_cases))
            .route("/api/v1/cases/{code}", get(get_case).put(put_case))
            .route("/api/v1/cases/{code}/documents/{file}", get(documents::download))
            .route("/api/v1/unfiled", get(unfiled))
            .route("/api/v1/unfiled/{intake}/file", axum::routing::post(file_unfiled))
            .route("/api/v1/quarantine", get(quarantine))
            .route("/api/v1/report", get(report))
            // The upload enforces its own limit while streaming (service.upload_max_mb).
            .route(
                "/api/v1/upload",
                axum::routing::post(upload::upload).layer(axum::extract::DefaultBodyLimit::disable()),
            )
            .fallback(not_found)
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

    fn code(&self, raw: &str) -> Result<String, ApiError> {
        self.codes
            .validate(raw)
            .map_err(|e| ApiError::bad_request(format!("{e}; case codes look like H15.50.05.13-261008-0975")))
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
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }
    fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }
    fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
}

impl From<crate::error::Failure> for ApiError {
    fn from(e: crate::error::Failure) -> Self {
        tracing::error!(alarm = true, error = %e, "API call failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the records are not reachable right now; try again shortly",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message, "code": self.code }))).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// A document role parameter: `input` (the default) or `result`.
fn role_param(raw: Option<&str>) -> ApiResult<&'static str> {
    match raw {
        None | Some("input") => Ok("input"),
        Some("result") => Ok("result"),
        Some(other) => Err(ApiError::bad_request(format!("role `{other}`: use input or result"))),
    }
}

/// A date query parameter as a local date.
fn date_param(value: &str, name: &str) -> ApiResult<String> {
    crate::util::time::local_date(value).map_err(|e| ApiError::bad_request(format!("{name}: {e}")))
}

fn now() -> String {
    crate::util::time::now_iso(crate::util::time::VIETNAM)
}

async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such page: {}; /openapi.json lists what there is", uri.path()))
}

async fn health(State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    let unfinished = api.records.unfinished_jobs().await?;
    Ok(Json(serde_json::json!({ "status": "ok", "jobs_waiting": unfinished })))
}

async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], include_str!("openapi.json")).into_response()
}

async fn metrics(State(api): State<Api>) -> ApiResult<Response> {
    let t = api.records.tally().await?;
    let body = format!(
        "# HELP sohoa_intakes_total Inputs captured.\n# TYPE sohoa_intakes_total counter\nsohoa_intakes_total {}\n\
         # HELP sohoa_quarantined_total Inputs quarantined.\n# TYPE sohoa_quarantined_total counter\nsohoa_quarantined_total {}\n\
         # HELP sohoa_pages_attached Pages in attached documents.\n# TYPE sohoa_pages_attached gauge\nsohoa_pages_attached {}\n\
         # HELP sohoa_pages_unfiled Pages without a case.\n# TYPE sohoa_pages_unfiled gauge\nsohoa_pages_unfiled {}\n\
         # HELP sohoa_documents_attached Documents attached.\n# TYPE sohoa_documents_attached gauge\nsohoa_documents_attached {}\n\
         # HELP sohoa_queue_depth Jobs not finished.\n# TYPE sohoa_queue_depth gauge\nsohoa_queue_depth {}\n",
        t.intakes, t.quarantined, t.pages_attached, t.pages_unfiled, t.documents, t.jobs_pending
    );
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
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
        return Err(ApiError::not_found(format!("no case {code}")));
    };
    caller.may_see_unit(record.unit.as_deref())?;
    // Completeness first: a document attached in between then shows in the list as attached, and the
    // badge never runs ahead of the documents it is about.
    let completeness = api.records.completeness(&code, record.procedure_code.as_deref()).await?;
    let detail = api.records.case_detail(&code).await?.ok_or_else(|| ApiError::not_found(format!("no case {code}")))?;
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
    let fields = e.parse().map_err(ApiError::bad_request)?;
    let what = api.records.upsert_case(&code, &fields, false, &caller.actor(), &now()).await?;
    Ok(Json(serde_json::json!({ "case": code, "result": what })))
}

async fn unfiled(caller: Caller, State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    Ok(Json(serde_json::json!({ "pages": api.records.unfiled().await? })))
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
    let role = role_param(to.role.as_deref())?;
    let doc_type = to.doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
    let filed =
        api.records.file_unfiled(intake.trim(), &code, role, doc_type.as_deref(), &caller.actor(), &now()).await?;
    let Some(ordinal) = filed else {
        return Err(ApiError::not_found(format!("input {intake} has no unfiled page; GET /api/v1/unfiled lists them")));
    };
    if let Some(w) = &api.wake {
        w.notify_waiters();
    }
    Ok(Json(serde_json::json!({ "case": code, "document": format!("{code}.{ordinal:03}.pdf"), "ordinal": ordinal })))
}

async fn quarantine(caller: Caller, State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    caller.may_file()?;
    Ok(Json(serde_json::json!({ "inputs": api.records.quarantined(None).await? })))
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
