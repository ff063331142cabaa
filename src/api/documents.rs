//! Downloading a case's PDF, with HTTP range requests (PDF viewers fetch pages by range), streamed
//! from the blob store without holding the file in memory.

use std::io::Read;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{Api, ApiError, ApiResult, Caller, now};

/// Bytes read from the store per chunk sent.
const CHUNK: usize = 64 * 1024;

/// `GET /api/v1/cases/{code}/documents/{NNN}.pdf`
pub(super) async fn download(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    let ordinal: i64 = file.strip_suffix(".pdf").unwrap_or(&file).parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(format!("`{file}` is not a document number; ask for 001.pdf, 002.pdf …"))
    })?;
    let record = api.records.case_record(&code).await?.ok_or_else(|| ApiError::not_found(format!("no case {code}")))?;
    caller.may_see_unit(record.unit.as_deref())?;
    let detail = api.records.case_detail(&code).await?.ok_or_else(|| ApiError::not_found(format!("no case {code}")))?;
    let doc = detail
        .documents
        .iter()
        .find(|d| d.ordinal == ordinal && d.state == "attached")
        .ok_or_else(|| ApiError::not_found(format!("case {code} has no attached document {ordinal:03}")))?;
    let (Some(sha), Some(size)) = (doc.sha256.clone(), doc.bytes) else {
        return Err(ApiError::not_found(format!("document {ordinal:03} of {code} has no PDF yet")));
    };
    let size = size as u64;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(r) => match parse_range(r, size) {
            Some(r) => Some(r),
            None => {
                return Ok((
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                    axum::Json(serde_json::json!({ "error": format!("range `{r}` is outside the {size} bytes"), "code": "bad-range" })),
                )
                    .into_response());
            }
        },
    };
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let len = if size == 0 { 0 } else { end - start + 1 };
    let detail = serde_json::json!({ "document": doc.name, "range": range.map(|(s, e)| format!("{s}-{e}")) });
    api.records.log_access(&caller.actor(), "download", Some(&code), Some(&sha), &detail, &now()).await?;

    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let blobs = api.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let send = |r| tx.blocking_send(r).is_ok();
        let mut reader = match blobs.open(&sha) {
            Ok(r) => r,
            Err(e) => {
                send(Err(std::io::Error::other(e.to_string())));
                return;
            }
        };
        if let Err(e) = std::io::copy(&mut (&mut reader).take(start), &mut std::io::sink()) {
            send(Err(e));
            return;
        }
        let mut left = len;
        while left > 0 {
            let mut buf = vec![0u8; CHUNK.min(left as usize)];
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if !send(Ok(buf)) {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    send(Err(e));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_DISPOSITION, format!("inline; filename=\"{}\"", doc.name))
        .header("x-sha256", doc.sha256.clone().unwrap_or_default());
    if let Some((s, e)) = range {
        response =
            response.status(StatusCode::PARTIAL_CONTENT).header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{size}"));
    }
    response
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))
}

/// One `bytes=` range within `size` bytes, as (first, last) inclusive; `None` when unsatisfiable or
/// not understood (several ranges are not served).
fn parse_range(header: &str, size: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return None;
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { size - 1 } else { b.parse::<u64>().ok()?.min(size - 1) };
        (start, end)
    };
    (start <= end && start < size).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 99)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 999)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 999)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
