//! The clerks' web page: three static files compiled into the binary (no build step, nothing fetched
//! at run time) that talk to the JSON API, and the session that lets a browser use a token without
//! scripts ever holding it (an HttpOnly, same-site cookie set by `POST /api/v1/session`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::SESSION_COOKIE;
use super::{Api, ApiError, ApiResult, Caller, now};

const INDEX: &str = include_str!("web/index.html");
const SCRIPT: &str = include_str!("web/app.js");
const STYLE: &str = include_str!("web/style.css");

/// How long a browser session lasts: a working day and a half.
const SESSION_SECONDS: u32 = 12 * 3600;

/// Headers every page response carries: scripts and frames from this server only.
fn page_headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 4] {
    [
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-src 'self'; object-src 'self'; frame-ancestors 'self'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-cache"),
    ]
}

/// `GET /`: the page.
pub(super) async fn index() -> Response {
    (page_headers("text/html; charset=utf-8"), INDEX).into_response()
}

/// `GET /static/app.js`.
pub(super) async fn script() -> Response {
    (page_headers("text/javascript; charset=utf-8"), SCRIPT).into_response()
}

/// `GET /static/style.css`.
pub(super) async fn style() -> Response {
    (page_headers("text/css; charset=utf-8"), STYLE).into_response()
}

/// The token a person signs in with.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SignIn {
    token: String,
}

/// What the page needs to know about who is signed in.
fn whoami(caller: &Caller) -> serde_json::Value {
    use crate::store::tokens::AccessRole;
    let r = caller.role;
    serde_json::json!({
        "role": r.as_str(),
        "unit": caller.unit,
        "label": caller.label,
        "csrf": caller.csrf,
        "may": {
            "read": matches!(r, AccessRole::Clerk | AccessRole::Supervisor | AccessRole::Admin),
            "file": matches!(r, AccessRole::Clerk | AccessRole::Admin),
            "report": matches!(r, AccessRole::Supervisor | AccessRole::Admin),
            "upload": matches!(r, AccessRole::Station | AccessRole::Clerk | AccessRole::Admin),
            "personal": caller.sees_personal_data(),
        }
    })
}

/// `POST /api/v1/session`: checks a token and keeps it in the session cookie.
pub(super) async fn sign_in(State(api): State<Api>, headers: HeaderMap, Json(s): Json<SignIn>) -> ApiResult<Response> {
    let token = s.token.trim().to_string();
    let mut parts = axum::http::Request::builder()
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .map_err(|_| {
            ApiError::bad_request("mã truy cập có ký tự không hợp lệ", "the token has characters a header cannot carry")
        })?
        .into_parts()
        .0;
    let caller = <Caller as axum::extract::FromRequestParts<Api>>::from_request_parts(&mut parts, &api).await?;
    api.records
        .log_access(&caller.actor(), "sign-in", None, None, &serde_json::json!({ "via": "web" }), &now())
        .await?;
    // `Secure` when the page is reached over HTTPS (a proxy in front says so).
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={SESSION_SECONDS}{}",
        if https { "; Secure" } else { "" }
    );
    Ok(([(header::SET_COOKIE, cookie)], Json(whoami(&caller))).into_response())
}

/// `GET /api/v1/session`: who the token or session belongs to.
pub(super) async fn session(caller: Caller) -> Json<serde_json::Value> {
    Json(whoami(&caller))
}

/// `DELETE /api/v1/session`: forgets the session cookie.
pub(super) async fn sign_out() -> Response {
    let cookie = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()
}

/// `GET /api/v1/stations`: what each station just did, for the live view.
pub(super) async fn stations(caller: Caller, State(api): State<Api>) -> ApiResult<Json<serde_json::Value>> {
    caller.may_read_cases()?;
    let stations = crate::watch::status::read_status(&api.data);
    let mut recent = Vec::new();
    for r in api.records.recent_intakes(None, 40).await? {
        if caller.unit.is_some() {
            let unit = match r.case_code.as_deref() {
                Some(code) => api.case_unit(code).await?,
                None => None,
            };
            if unit != caller.unit {
                continue;
            }
        }
        recent.push(r);
    }
    Ok(Json(serde_json::json!({ "stations": stations, "recent": recent })))
}
