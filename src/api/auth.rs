//! Who is calling: the bearer token's role and unit scope, and what each role may do.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::{Api, ApiError};
use crate::store::tokens::AccessRole;

/// The caller of an API request, from its token.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's id (never the secret).
    pub token: String,
    /// What it may do.
    pub role: AccessRole,
    /// The one unit it may see, when limited.
    pub unit: Option<String>,
    /// The token's label.
    pub label: String,
    /// The page's anti-forgery value for this session: what a state-changing request made with the
    /// session cookie must carry in `X-CSRF-Token` (derived from the token, so nothing is stored).
    pub csrf: String,
}

/// The header the page sends its anti-forgery value in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The anti-forgery value of a session: a hash of its token under a label of its own, so it says
/// nothing about the token and no other page can know it.
fn csrf_for(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(format!("sohoa-csrf\0{secret}").as_bytes())[..16])
}

/// Refuses a state-changing request made with the session cookie from another site: the browser
/// sends a cookie with any request to our host, so a page on another port or host could otherwise
/// post as the clerk. Checks what browsers say of the request's origin (`Sec-Fetch-Site`, `Origin`)
/// and the page's anti-forgery header.
fn check_forgery(parts: &Parts, csrf: &str) -> Result<(), ApiError> {
    use axum::http::Method;
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let forbidden = |vi: &str, en: &str| Err(ApiError::new(StatusCode::FORBIDDEN, "cross-site", vi, en));
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return forbidden(
            "yêu cầu từ trang khác không được dùng phiên đăng nhập của cán bộ; hãy mở chính trang sohoa",
            "a request from another site cannot use the clerk's session; open the page itself",
        );
    }
    if let Some(origin) = header("origin") {
        let host = header("host").unwrap_or_default();
        let from = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
        if from != host {
            return forbidden(
                "yêu cầu từ nguồn khác không được dùng phiên đăng nhập của cán bộ; hãy mở chính trang sohoa",
                "a request from another origin cannot use the clerk's session; open the page itself",
            );
        }
    }
    if header(CSRF_HEADER) != Some(csrf) {
        return forbidden(
            "mã chống giả mạo của trang bị thiếu hoặc đã cũ; hãy tải lại trang và đăng nhập lại",
            "the page's anti-forgery value is missing or stale; reload the page and sign in again",
        );
    }
    Ok(())
}

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Caller, ApiError> {
        let unauthorized = |vi: &str, en: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", vi, en);
        let by_cookie = parts.headers.get(axum::http::header::AUTHORIZATION).is_none();
        let secret = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(h) => h
                .to_str()
                .ok()
                .and_then(|h| h.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    unauthorized(
                        "tiêu đề Authorization phải có dạng `Bearer <mã truy cập>`",
                        "the Authorization header must be `Bearer <token>`",
                    )
                })?
                .to_string(),
            // The web page's session: the token, in a cookie scripts cannot read.
            None => session_cookie(&parts.headers).ok_or_else(|| {
                unauthorized(
                    "chưa đăng nhập: hãy nhập mã truy cập; quản trị viên cấp mã bằng `sohoa token create --role clerk`",
                    "send `Authorization: Bearer <token>`; `sohoa token create --role clerk` makes one",
                )
            })?,
        };
        let secret = secret.as_str();
        let csrf = csrf_for(secret);
        if by_cookie {
            check_forgery(parts, &csrf)?;
        }
        let row = api.records.find_token(secret, &super::now()).await?.ok_or_else(|| {
            unauthorized(
                "mã truy cập không đúng, đã hết hạn hoặc đã bị thu hồi; hãy xin quản trị viên mã mới",
                "unknown, expired or revoked token; ask an administrator for a new one",
            )
        })?;
        Ok(Caller { token: row.id, role: row.role, unit: row.unit, label: row.label, csrf })
    }
}

/// The name of the web page's session cookie.
pub const SESSION_COOKIE: &str = "sohoa_session";

/// The session cookie's value, when the request carries one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, v)| *k == SESSION_COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

impl Caller {
    /// The actor audit events name: the token's label and id.
    pub fn actor(&self) -> String {
        if self.label.is_empty() {
            format!("token:{}", self.token)
        } else {
            format!("{} (token:{})", self.label, self.token)
        }
    }

    fn require(&self, allowed: &[AccessRole], vi: &str, en: &str) -> Result<(), ApiError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                format!("mã truy cập {} không được {vi}", role_vi(self.role)),
                format!("a {} token cannot {en}", self.role.as_str()),
            ))
        }
    }

    /// Reading cases and documents: clerks, supervisors, administrators.
    pub fn may_read_cases(&self) -> Result<(), ApiError> {
        self.require(&[AccessRole::Clerk, AccessRole::Supervisor, AccessRole::Admin], "xem hồ sơ", "read cases")
    }

    /// Filing work (unfiled pages, quarantine): clerks and administrators.
    pub fn may_file(&self) -> Result<(), ApiError> {
        self.require(
            &[AccessRole::Clerk, AccessRole::Admin],
            "xem hoặc phân loại bản quét chưa phân loại và bị cách ly",
            "see or file unfiled and quarantined scans",
        )
    }

    /// Sending a refused outbox entry again: clerks and administrators.
    pub fn may_retry_delivery(&self) -> Result<(), ApiError> {
        self.require(
            &[AccessRole::Clerk, AccessRole::Admin],
            "gửi lại tài liệu sang hệ thống một cửa",
            "send documents to the one-stop system again",
        )
    }

    /// Correcting documents (turn, reorder, remove, split, merge, move, replace a page): clerks and
    /// administrators.
    pub fn may_correct(&self) -> Result<(), ApiError> {
        self.require(&[AccessRole::Clerk, AccessRole::Admin], "sửa tài liệu của hồ sơ", "correct a case's documents")
    }

    /// Uploading scans: stations, clerks and administrators.
    pub fn may_upload(&self) -> Result<(), ApiError> {
        self.require(&[AccessRole::Station, AccessRole::Clerk, AccessRole::Admin], "gửi bản quét lên", "upload scans")
    }

    /// The 766 report: supervisors and administrators.
    pub fn may_report(&self) -> Result<(), ApiError> {
        self.require(&[AccessRole::Supervisor, AccessRole::Admin], "xem báo cáo", "read the report")
    }

    /// Applicant data: clerks (who serve the citizen) and administrators.
    pub fn sees_personal_data(&self) -> bool {
        matches!(self.role, AccessRole::Clerk | AccessRole::Admin)
    }

    /// Refuses a case outside the token's unit.
    pub fn may_see_unit(&self, unit: Option<&str>) -> Result<(), ApiError> {
        match &self.unit {
            Some(mine) if unit != Some(mine.as_str()) => Err(limited_to(mine)),
            _ => Ok(()),
        }
    }

    /// The unit a listing is limited to: the token's own, or the one asked for (refused when it is
    /// another unit than the token's).
    pub fn scope_unit(&self, asked: Option<String>) -> Result<Option<String>, ApiError> {
        match (&self.unit, asked) {
            (Some(mine), Some(asked)) if &asked != mine => Err(limited_to(mine)),
            (Some(mine), _) => Ok(Some(mine.clone())),
            (None, asked) => Ok(asked),
        }
    }
}

/// A token limited to another unit than the one asked about.
fn limited_to(unit: &str) -> ApiError {
    ApiError::forbidden(
        format!("mã truy cập này chỉ dùng cho đơn vị {unit}"),
        format!("this token is limited to unit {unit}"),
    )
}

/// A token's role as a clerk says it.
fn role_vi(role: AccessRole) -> &'static str {
    match role {
        AccessRole::Station => "của trạm quét",
        AccessRole::Clerk => "của cán bộ một cửa",
        AccessRole::Supervisor => "của lãnh đạo",
        AccessRole::Admin => "của quản trị viên",
    }
}
