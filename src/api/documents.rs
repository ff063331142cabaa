//! Downloading a case's PDF or a stored original, with HTTP range requests (PDF viewers fetch pages by
//! range), streamed from the blob store without holding the file in memory; page thumbnails.

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
    let ordinal = super::ordinal_param(&file)?;

    let record = api.records.case_record(&code).await?.ok_or_else(|| ApiError::no_case(&code))?;
    caller.may_see_unit(record.unit.as_deref())?;
    let detail = api.records.case_detail(&code).await?.ok_or_else(|| ApiError::no_case(&code))?;
    let doc = detail
        .documents
        .iter()
        .find(|d| d.ordinal == ordinal && d.state == crate::store::documents::DocState::Attached)
        .ok_or_else(|| ApiError::no_document(&code, ordinal))?;
    let (Some(sha), Some(size)) = (doc.sha256.clone(), doc.bytes) else {
        return Err(ApiError::not_found(
            format!("tài liệu {ordinal:03} của hồ sơ {code} chưa có PDF"),
            format!("document {ordinal:03} of {code} has no PDF yet"),
        ));
    };
    let range = match requested_range(&headers, size as u64) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let detail = serde_json::json!({ "document": doc.name, "range": range_header(&headers) });
    api.records.log_access(&caller.actor(), "download", Some(&code), Some(&sha), &detail, &now()).await?;
    serve_blob(&api, &sha, size as u64, range, "application/pdf", &doc.name).await
}

/// `GET /api/v1/files/{sha256}`: a stored original as it was captured, for readers who may see a case
/// it went into (or, for tokens of every unit, any captured input).
pub(super) async fn original(
    caller: Caller,
    State(api): State<Api>,
    Path(sha): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.may_read_cases()?;
    let input = visible_input(&api, &caller, &sha).await?;
    let range = match requested_range(&headers, input.bytes) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let detail = serde_json::json!({ "original": input.source_name, "range": range_header(&headers) });
    let case = input.case.as_deref();
    api.records.log_access(&caller.actor(), "download", case, Some(&input.sha256), &detail, &now()).await?;
    use crate::pages::Format;
    let kind = match input.format {
        Some(Format::Jpeg) => "image/jpeg",
        Some(Format::Png) => "image/png",
        Some(Format::Tiff) => "image/tiff",
        Some(Format::Pdf) => "application/pdf",
        None => "application/octet-stream",
    };
    serve_blob(&api, &input.sha256, input.bytes, range, kind, &input.source_name).await
}

/// How large a page image is asked for.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageSize {
    /// `small` (the default, for lists) or `large` (to read the page).
    size: Option<String>,
}

/// `GET /api/v1/files/{sha256}/pages/{n}/thumbnail.jpg[?size=large]`: page `n` (from 1) of a stored
/// original, small for lists or large enough to read (a clerk deciding which case a scan is for).
pub(super) async fn thumbnail(
    caller: Caller,
    State(api): State<Api>,
    Path((sha, page)): Path<(String, String)>,
    axum::extract::Query(size): axum::extract::Query<PageSize>,
) -> ApiResult<Response> {
    let edge = match size.size.as_deref() {
        None | Some("small") => crate::view::thumbnail::EDGE,
        Some("large") => crate::view::thumbnail::LARGE_EDGE,
        Some(other) => {
            return Err(ApiError::bad_request(
                format!("cỡ ảnh `{other}`: dùng small hoặc large"),
                format!("size `{other}`: use small or large"),
            ));
        }
    };
    caller.may_read_cases()?;
    let input = visible_input(&api, &caller, &sha).await?;
    let n: u32 = page.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::bad_request(
            format!("`{page}` không phải số trang; trang đánh số từ 1"),
            format!("`{page}` is not a page number; pages count from 1"),
        )
    })?;
    if input.pages.is_some_and(|p| i64::from(n) > p) {
        let has = input.pages.unwrap_or(0);
        return Err(ApiError::not_found(
            format!("tệp có {has} trang, không có trang {n}"),
            format!("the file has {has} page(s), not {n}"),
        ));
    }
    let limits =
        crate::pages::Limits::new(api.profile.settings.output.max_pixels, api.profile.settings.output.max_inflate_mb);
    let (blobs, thumbs, sha) = (api.blobs.clone(), api.thumbnails.clone(), input.sha256.clone());
    // One thumbnail at a time per request thread; decoding a page is the costly part.
    let _turn = api
        .thumbnail_turns
        .acquire()
        .await
        .map_err(|_| ApiError::from(crate::error::Failure::transient("thumbnails", anyhow::anyhow!("closed"))))?;
    let made = crate::util::cpu::blocking(move || thumbs.get(blobs.as_ref(), &sha, n - 1, edge, limits))
        .await
        .map_err(|e| crate::error::Failure::transient("thumbnail task", e))?;
    match made {
        Ok(Some(jpeg)) => Ok((
            [
                (header::CONTENT_TYPE, "image/jpeg"),
                (header::CACHE_CONTROL, "private, max-age=86400, immutable"),
                (header::CONTENT_SECURITY_POLICY, "sandbox"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            jpeg,
        )
            .into_response()),
        Ok(None) => Err(ApiError::not_found(
            format!("trang {n} là trang PDF gốc điện tử; hãy mở PDF"),
            format!("page {n} is a born-digital PDF page; open the PDF instead"),
        )),
        Err(crate::error::Failure::BadInput { reason, .. }) => Err(ApiError::not_found(
            format!("không tạo được ảnh thu nhỏ của trang {n}: {reason}"),
            format!("no thumbnail for page {n}: {reason}"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// A captured input the caller may see.
struct VisibleInput {
    sha256: String,
    bytes: u64,
    source_name: String,
    format: Option<crate::pages::Format>,
    pages: Option<i64>,
    case: Option<String>,
}

async fn visible_input(api: &Api, caller: &Caller, sha: &str) -> ApiResult<VisibleInput> {
    let sha = sha.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            "tệp được gọi bằng mã SHA-256: 64 chữ số thập lục phân",
            "a file is named by its SHA-256: 64 hexadecimal digits",
        ));
    }
    let Some(found) = api.records.input_file(&sha).await? else {
        return Err(ApiError::not_found(
            format!("không có tệp đã tiếp nhận nào có sha256 {sha}"),
            format!("no captured input has sha256 {sha}"),
        ));
    };
    if caller.unit.is_some() {
        // A file whose pages went to several cases (a scanned stack) is only whole for a token that
        // may see every one of them.
        let mut allowed = !found.cases.is_empty();
        for code in &found.cases {
            allowed &= api.case_unit(code).await?.as_deref() == caller.unit.as_deref();
        }
        if !allowed {
            caller.may_see_unit(None)?;
        }
    }
    Ok(VisibleInput {
        sha256: sha,
        bytes: found.bytes as u64,
        source_name: found.source_name,
        format: found.format,
        pages: found.pages,
        case: found.cases.into_iter().next(),
    })
}

/// The byte range a request asks for within `size` bytes (`None`: all of it), or the 416 response
/// for one that cannot be served. Checked before anything is logged or read.
pub(super) fn requested_range(headers: &HeaderMap, size: u64) -> Result<Option<(u64, u64)>, Box<Response>> {
    let Some(r) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ok(None) };
    parse_range(r, size).map(Some).ok_or_else(|| {
        Box::new(
            (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{size}"))],
            axum::Json(serde_json::json!({ "error": format!("range `{r}` is outside the {size} bytes"), "code": "bad-range" })),
        )
            .into_response(),
        )
    })
}

/// The Range header as sent, for the audit log.
fn range_header(headers: &HeaderMap) -> Option<String> {
    headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Streams `size` bytes of a blob (or the range the request asks for) from the store without holding
/// the file in memory.
pub(super) async fn serve_blob(
    api: &Api,
    sha: &str,
    size: u64,
    range: Option<(u64, u64)>,
    content_type: &str,
    filename: &str,
) -> ApiResult<Response> {
    // A file the records name but the store has lost is a fixity failure, not a short download.
    let (blobs, sha_owned) = (api.blobs.clone(), sha.to_string());
    let present = crate::util::cpu::blocking(move || blobs.contains(&sha_owned))
        .await
        .map_err(|e| crate::error::Failure::transient("looking for a stored file", e))??;
    if !present {
        tracing::error!(alarm = true, sha256 = sha, "a recorded file is missing from the store");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "missing",
            "tệp lưu trữ bị mất hoặc kho lưu trữ không truy cập được; quản trị viên cần chạy `sohoa verify`",
            "the stored file is missing or the store is not reachable; an administrator should run `sohoa verify`",
        ));
    }
    let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
    let len = if size == 0 { 0 } else { end - start + 1 };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let blobs = api.blobs.clone();
    let sha_owned = sha.to_string();
    crate::util::cpu::blocking(move || {
        let sha = sha_owned;
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
    // Non-ASCII names (Vietnamese) go in filename* (RFC 6266); the plain filename is an ASCII fallback.
    let ascii: String =
        filename.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        // A stored file is the citizen's or the scanner's bytes, never our page: the browser may show
        // it, never run what it carries (a PDF's scripts, an HTML file named .jpg) with the page's rights.
        .header(header::CONTENT_SECURITY_POLICY, "sandbox")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, len)
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{ascii}\"; filename*=UTF-8''{}", percent_encode(filename)),
        )
        .header("x-sha256", sha);
    if let Some((s, e)) = range {
        response =
            response.status(StatusCode::PARTIAL_CONTENT).header(header::CONTENT_RANGE, format!("bytes {s}-{e}/{size}"));
    }
    response.body(Body::from_stream(stream)).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("lỗi nội bộ: {e}"), e.to_string())
    })
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

/// `GET /api/v1/cases/{code}/documents/{NNN}/versions/{V}.pdf`: an earlier (or the current) version of
/// a document, as it was made; downloads are audited like the current one's.
pub(super) async fn version(
    caller: Caller,
    State(api): State<Api>,
    Path((code, file, version)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    caller.may_read_cases()?;
    let code = api.code(&code)?;
    caller.may_see_unit(api.case_unit(&code).await?.as_deref())?;
    let ordinal = super::ordinal_param(&file)?;
    let wanted: i64 = version.strip_suffix(".pdf").unwrap_or(&version).parse().map_err(|_| {
        ApiError::bad_request(
            format!("`{version}` không phải số phiên bản; hãy xin 1.pdf, 2.pdf …"),
            format!("`{version}` is not a version number; ask for 1.pdf, 2.pdf …"),
        )
    })?;
    let id = api.records.document_id(&code, ordinal).await?.ok_or_else(|| ApiError::no_document(&code, ordinal))?;
    let versions = api.records.document_versions(&id).await?;
    let Some((sha, size)) =
        versions.iter().find(|v| v.version == wanted).and_then(|v| v.pdf_sha256.clone().zip(v.bytes))
    else {
        return Err(ApiError::not_found(
            format!("tài liệu {ordinal:03} của hồ sơ {code} không có phiên bản {wanted} có PDF"),
            format!("document {ordinal:03} of {code} has no version {wanted} with a PDF"),
        ));
    };
    let range = match requested_range(&headers, size as u64) {
        Ok(r) => r,
        Err(refused) => return Ok(*refused),
    };
    let name = format!("{code}.{ordinal:03}.v{wanted}.pdf");
    let detail = serde_json::json!({ "document": name, "version": wanted, "range": range_header(&headers) });
    api.records.log_access(&caller.actor(), "download", Some(&code), Some(&sha), &detail, &now()).await?;
    serve_blob(&api, &sha, size as u64, range, "application/pdf", &name).await
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
