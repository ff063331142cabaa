//! A generic HTTP receiver: one multipart request per entry, a JSON metadata part and the PDF (none for
//! a removal), field and part names mapped in `[connector.fields]` to what the receiver expects. The PDF
//! is streamed from the store, never held whole in memory.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use super::auth::Credentials;
use super::{Delivery, Outcome, classify, local_failure, unreachable};
use crate::profile::Connector;
use crate::store::BlobStore;

/// Bytes read from the store per chunk sent.
const CHUNK: usize = 64 * 1024;

/// The HTTP client every adapter uses: the connector's timeout on the whole request.
pub fn client(c: &Connector) -> crate::error::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(c.timeout_seconds))
        .connect_timeout(Duration::from_secs(c.timeout_seconds.min(10)))
        .user_agent(concat!("sohoa/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| crate::error::Failure::transient("starting the connector's HTTP client", e))
}

/// Delivers to a generic HTTP receiver.
pub struct HttpPost {
    client: reqwest::Client,
    url: String,
    credentials: Credentials,
    connector: Connector,
}

impl HttpPost {
    /// The adapter for a `kind = "http"` connector.
    pub fn new(c: &Connector) -> crate::error::Result<HttpPost> {
        Ok(HttpPost {
            client: client(c)?,
            url: c.url.clone().unwrap_or_default(),
            credentials: Credentials::new(c),
            connector: c.clone(),
        })
    }

    fn name<'a>(&'a self, field: &'a str) -> &'a str {
        self.connector.fields.get(field).map(String::as_str).unwrap_or(field)
    }

    /// Sends the entry's metadata and PDF.
    pub async fn deliver(&self, d: &Delivery, blobs: &Arc<dyn BlobStore>) -> Outcome {
        let meta = metadata(d);
        let mapped: serde_json::Map<String, serde_json::Value> =
            meta.into_iter().map(|(k, v)| (self.name(&k).to_string(), v)).collect();
        let json = serde_json::Value::Object(mapped).to_string();
        let mut form = reqwest::multipart::Form::new().part(
            self.name("metadata").to_string(),
            reqwest::multipart::Part::text(json).mime_str("application/json").unwrap_or_else(|_| {
                reqwest::multipart::Part::text(String::new()) // unreachable: a fixed, valid MIME type
            }),
        );
        if let (false, Some(sha)) = (d.entry.removes(), d.entry.pdf_sha256.as_deref()) {
            let body = match blob_body(blobs, sha).await {
                Ok(b) => b,
                Err(o) => return o,
            };
            let part = reqwest::multipart::Part::stream_with_length(body, d.pdf_bytes)
                .file_name(d.entry.file_name())
                .mime_str("application/pdf");
            match part {
                Ok(p) => form = form.part(self.name("file").to_string(), p),
                Err(e) => return local_failure("chuẩn bị tệp gửi", "preparing the file to send", e),
            }
        }
        let req = self.client.post(&self.url).multipart(form);
        send(req, &self.client, &self.credentials, d, self.connector.timeout_seconds).await
    }
}

/// Sends a request with the entry's idempotency key and the connector's credentials, and reads the
/// answer; a 401 forgets a cached token, so the next attempt asks for a new one.
pub async fn send(
    req: reqwest::RequestBuilder,
    client: &reqwest::Client,
    credentials: &Credentials,
    d: &Delivery,
    timeout_s: u64,
) -> Outcome {
    let auth = match credentials.header(client).await {
        Ok(a) => a,
        Err(o) => return o,
    };
    let mut req = req.header("Idempotency-Key", &d.entry.idem_key);
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            if status == 401 {
                credentials.forget().await;
            }
            classify(status, &text)
        }
        Err(e) => unreachable(&e, timeout_s),
    }
}

/// What an entry says about its document, under sohoa's own field names (mapped by the adapters).
pub fn metadata(d: &Delivery) -> Vec<(String, serde_json::Value)> {
    use serde_json::json;
    let e = &d.entry;
    let case = d.case.as_ref();
    vec![
        ("case_code".into(), json!(e.case_code)),
        ("ordinal".into(), json!(e.ordinal)),
        ("file_name".into(), json!(e.file_name())),
        ("operation".into(), json!(e.operation)),
        ("deleted".into(), json!(e.removes())),
        ("role".into(), json!(e.role)),
        ("doc_type".into(), json!(e.doc_type.as_deref().map(crate::util::text::nfc))),
        ("sha256".into(), json!(e.pdf_sha256)),
        ("version".into(), json!(e.version)),
        ("key".into(), json!(e.idem_key)),
        ("procedure".into(), json!(case.and_then(|c| c.procedure_code.clone()))),
        ("unit".into(), json!(case.and_then(|c| c.unit.clone()))),
        ("at".into(), json!(e.at)),
    ]
}

/// A stored file as a request body, read from the store a chunk at a time.
pub async fn blob_body(blobs: &Arc<dyn BlobStore>, sha: &str) -> Result<reqwest::Body, Outcome> {
    let (store, name) = (blobs.clone(), sha.to_string());
    let opened = crate::util::cpu::blocking(move || store.open(&name)).await;
    let mut reader = match opened {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Err(local_failure("đọc tệp từ kho", "reading the file from the store", e)),
        Err(e) => return Err(local_failure("đọc tệp từ kho", "reading the file from the store", e)),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut buf = vec![0u8; CHUNK];
            match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    Ok(reqwest::Body::wrap_stream(stream))
}
