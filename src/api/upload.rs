//! Stations that push scans over HTTP instead of a folder: `POST /api/v1/upload` with a multipart
//! `file` part. The body is streamed to a file under the data folder — never held in memory — with a
//! size limit from the profile, then captured exactly like a dropped file (hashed into the store and
//! recorded in one transaction) and left to the same pipeline.

use axum::Json;
use axum::extract::{Multipart, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use std::path::Path;
use tokio::io::AsyncWriteExt;

use super::{Api, ApiError, ApiResult, Caller};
use crate::intake::Candidate;
use crate::intake::capture::Capturer;
use crate::store::records::CaptureOutcome;

/// Where the upload goes.
#[derive(Debug, Deserialize)]
pub(super) struct Target {
    /// The case, when the station knows it (else the scan's routing decides, or it stays unfiled).
    case: Option<String>,
    /// `input` (default) or `result`.
    role: Option<String>,
    /// Document type.
    #[serde(rename = "type")]
    doc_type: Option<String>,
}

/// Removes an upload's folder when the request ends, whatever happened.
struct Scratch(std::path::PathBuf);
impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `POST /api/v1/upload?case=…&role=…&type=…`
pub(super) async fn upload(
    caller: Caller,
    State(api): State<Api>,
    Query(t): Query<Target>,
    mut form: Multipart,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let limit = api.profile.settings.service.upload_max_mb * 1024 * 1024;
    let result = receive(caller, &api, t, &mut form, limit).await;
    if result.is_err() {
        // A refusal is answered after the rest of the body is read (up to the limit): a station still
        // sending when the answer comes would see its connection reset and never read why.
        discard(&mut form, limit).await;
    }
    result
}

/// Reads and throws away what is left of a form, up to `limit` bytes.
async fn discard(form: &mut Multipart, limit: u64) {
    let mut read = 0u64;
    while let Ok(Some(mut field)) = form.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            read += chunk.len() as u64;
            if read > limit {
                return;
            }
        }
    }
}

/// Checks, streams and captures one upload.
async fn receive(
    caller: Caller,
    api: &Api,
    t: Target,
    form: &mut Multipart,
    limit: u64,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    caller.may_upload()?;
    let case = t.case.as_deref().map(|c| api.code(c)).transpose()?;
    if let Some(code) = &case {
        caller.may_see_unit(api.case_unit(code).await?.as_deref())?;
    }
    let role = super::role_param(t.role.as_deref())?;
    let scratch = Scratch(api.data.join("uploads").join(uuid::Uuid::now_v7().to_string()));
    let folder = match &case {
        Some(code) => scratch.0.join(code),
        None => scratch.0.clone(),
    };
    tokio::fs::create_dir_all(&folder).await.map_err(crate::error::Failure::from)?;

    let (name, bytes) = save_file_part(form, &folder, limit).await?;
    let path = folder.join(&name);
    // The sidecar manifest carries what the station said, exactly as a folder station's would.
    let manifest = serde_json::json!({
        "case": case, "role": role.as_str(), "document_type": t.doc_type, "operator": caller.label,
    });
    tokio::fs::write(folder.join(format!("{name}.json")), manifest.to_string())
        .await
        .map_err(crate::error::Failure::from)?;

    let station =
        format!("api:{}", if caller.label.is_empty() { caller.token.as_str() } else { caller.label.as_str() });
    let capturer = Capturer::new(api.blobs.clone(), api.records.clone(), (*api.profile).clone(), Some(station), None)?
        .for_unit(caller.unit.clone());
    let candidate = Candidate::at(&scratch.0, &path)
        .ok_or_else(|| ApiError::bad_request("tên tệp không dùng được", "unusable file name"))?;
    let report = capturer.capture(&[candidate]).await?;
    if let Some(w) = &api.wake {
        w.notify_waiters();
    }
    let (status, body) = match report.into_iter().next().and_then(|r| r.outcome) {
        Some(CaptureOutcome::Captured { intake_id, reused }) => (
            StatusCode::ACCEPTED,
            serde_json::json!({ "intake": intake_id, "bytes": bytes, "reused": reused, "state": "captured" }),
        ),
        Some(CaptureOutcome::Duplicate { intake_id, state }) => (
            StatusCode::OK,
            serde_json::json!({ "intake": intake_id, "bytes": bytes, "state": state, "duplicate": true }),
        ),
        None => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "chưa tiếp nhận được bản quét; hãy gửi lại",
                "the upload could not be captured; send it again",
            ));
        }
    };
    Ok((status, Json(body)))
}

/// Finds the form's `file` part and streams it into `folder` under its own (checked) name, refusing
/// more than `limit` bytes or none: the name and how many bytes came. Everything a station sends is
/// read here, so this is what the `upload_form` fuzz target runs.
pub(crate) async fn save_file_part(form: &mut Multipart, folder: &Path, limit: u64) -> ApiResult<(String, u64)> {
    let bad_form = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(
            format!("dữ liệu gửi lên không đọc được ({e}); hãy gửi bản quét trong phần tên `file`"),
            format!("the upload is not a readable multipart form ({e}); send the scan as a part named `file`"),
        )
    };
    let mut field = loop {
        match form.next_field().await.map_err(bad_form)? {
            Some(f) if f.name() == Some("file") => break f,
            Some(_) => continue,
            None => {
                return Err(ApiError::bad_request(
                    "biểu mẫu không có phần tên `file`",
                    "no part named `file` in the form",
                ));
            }
        }
    };
    let name = file_name(field.file_name().unwrap_or(""))?;
    let mut out = tokio::fs::File::create(folder.join(&name)).await.map_err(crate::error::Failure::from)?;
    let mut bytes = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
        bytes += chunk.len() as u64;
        if bytes > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                format!("bản quét vượt {} MB, giới hạn của trạm này (service.upload_max_mb)", limit / 1024 / 1024),
                format!("the scan is over {} MB, this station's limit (service.upload_max_mb)", limit / 1024 / 1024),
            ));
        }
        out.write_all(&chunk).await.map_err(crate::error::Failure::from)?;
    }
    out.flush().await.map_err(crate::error::Failure::from)?;
    if bytes == 0 {
        return Err(ApiError::bad_request("phần `file` rỗng", "the `file` part is empty"));
    }
    Ok((name, bytes))
}

/// An uploaded file's name in NFC: a plain name, never a path.
fn file_name(raw: &str) -> ApiResult<String> {
    let name = crate::util::text::nfc(raw.trim());
    if name.is_empty()
        || name.starts_with('.')
        || name.contains(['/', '\\'])
        || name.chars().any(char::is_control)
        || name.len() > 200
    {
        return Err(ApiError::bad_request(
            format!("`{raw}` không dùng được làm tên bản quét; hãy gửi tên đơn giản như trang-1.jpg"),
            format!("`{raw}` cannot be a scan's file name; send a plain name such as trang-1.jpg"),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn names_are_never_paths() {
        assert!(file_name("../../etc/passwd").is_err());
        assert!(file_name("C:\\scans\\trang 1.jpg").is_err());
        assert_eq!(file_name(" trang 1.jpg").unwrap(), "trang 1.jpg");
        assert!(file_name("..").is_err());
        assert!(file_name("").is_err());
        assert!(file_name(".hidden").is_err());
        assert!(file_name("a\u{0}b").is_err());
    }
}
