//! Blobs in an S3-compatible bucket, for workers on several machines sharing one store.
//!
//! The same promise as the folder store: a final key only ever holds complete bytes named by their
//! SHA-256. The name is known only once every byte has been hashed, so bytes are first spooled to a
//! local temporary (hashing on the way) and uploaded at [`BlobStore::persist`] straight to their final
//! key: a single PUT with `If-None-Match: *` (never an overwrite), or for large files a multipart
//! upload, which the server makes visible only when it completes. A killed upload therefore leaves no
//! final key — at most a local spool file (swept like any temporary) or an unfinished multipart upload
//! the server never shows (a bucket lifecycle rule reclaims its parts). Recipes (PDFs that refer to
//! originals) are a folder-store saving only: here every PDF is a plain object.
//!
//! [`BlobStore`] is synchronous (its callers run on the blocking pool), so requests run on a small
//! runtime of this module's own and the caller waits for the answer.

use std::fs::{self, File};
use std::future::Future;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};

use super::blob::{BlobStore, LocalBlobStore, StageWrite, Staged, shard};
use crate::error::{Failure, Result};

/// Files up to this size are uploaded in one conditional PUT; larger ones in parts of this size.
const SINGLE_PUT: u64 = 32 << 20;

/// Where a bucket store lives, parsed from `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    /// The bucket.
    pub bucket: String,
    /// Keys are written under this prefix (no leading or trailing slash; may be empty).
    pub prefix: String,
}

impl BucketUrl {
    /// Parses `s3://bucket` or `s3://bucket/some/prefix`; None for anything else.
    pub fn parse(url: &str) -> Option<BucketUrl> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        // `a//b/` is `a/b`: object keys have no empty segments, so both name the same objects.
        let prefix: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
        Some(BucketUrl { bucket: bucket.to_string(), prefix: prefix.join("/") })
    }
}

/// Blobs in an S3-compatible bucket; see the module documentation for the guarantees.
pub struct S3BlobStore {
    store: Arc<dyn ObjectStore>,
    url: String,
    prefix: String,
    /// Local staging: bytes wait here, hashed, until they are persisted.
    spool: LocalBlobStore,
}

impl S3BlobStore {
    /// Opens a bucket store. Endpoint, region and credentials come from the usual `AWS_*` variables
    /// (`AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); requests use
    /// path-style addressing, which on-premises servers expect. `spool` is a local folder for bytes in
    /// flight. Fails at once, saying what to check, when the bucket cannot be reached.
    pub fn open(url: &BucketUrl, spool: &Path) -> Result<S3BlobStore> {
        // Without a key the client would ask a cloud's instance metadata service, which an on-premises
        // network does not have, and fail only after its timeouts.
        let keyed = [
            "AWS_ACCESS_KEY_ID",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        ]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
        if !keyed {
            return Err(Failure::transient(
                format!("opening the bucket store {}", show(url)),
                anyhow::anyhow!(
                    "no key is set: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to a key of the bucket"
                ),
            ));
        }
        // A few quick retries only: a server that stays away is sohoa's own retry loop's to wait out,
        // with an alarm, instead of a request hanging for minutes inside the client.
        let retry = object_store::RetryConfig {
            max_retries: 3,
            retry_timeout: std::time::Duration::from_secs(20),
            ..Default::default()
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&url.bucket).with_retry(retry);
        let endpoint = std::env::var("AWS_ENDPOINT_URL").or_else(|_| std::env::var("AWS_ENDPOINT")).ok();
        if let Some(endpoint) = endpoint.filter(|e| e.starts_with("http://")) {
            builder = builder.with_endpoint(endpoint).with_allow_http(true);
        }
        if std::env::var("AWS_REGION").is_err() && std::env::var("AWS_DEFAULT_REGION").is_err() {
            builder = builder.with_region("us-east-1");
        }
        let store = builder
            .build()
            .map_err(|e| Failure::transient(format!("configuring the bucket store {}", show(url)), e))?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        // Reached before anything is made on disk, so a wrong setting leaves nothing behind.
        reachable(&store, &show(url), &key_in(&url.prefix, "sha256"))?;
        Ok(S3BlobStore { store, url: show(url), prefix: url.prefix.clone(), spool: LocalBlobStore::open(spool)? })
    }

    fn key(&self, rest: &str) -> Key {
        key_in(&self.prefix, rest)
    }

    fn blob_key(&self, sha256: &str) -> Result<Key> {
        Ok(self.key(&format!("sha256/{}/{sha256}", shard(sha256)?)))
    }

    fn failed(&self, what: &str, key: &Key, e: object_store::Error) -> Failure {
        Failure::transient(format!("{what} {key} in {}", self.url), anyhow::anyhow!(said(&e)))
    }

    /// Uploads one spooled file to its final key; false when the key already held it.
    fn upload(&self, staged: &Staged) -> Result<bool> {
        let key = self.blob_key(&staged.sha256)?;
        let path = self.spool.tmp_path(staged.token());
        // One request: the conditional create itself says whether the object was there.
        if staged.bytes <= SINGLE_PUT {
            let bytes = fs::read(&path).map_err(|e| Failure::transient(format!("reading {}", path.display()), e))?;
            let (store, k) = (self.store.clone(), key.clone());
            let put = run(async move { store.put_opts(&k, PutPayload::from(bytes), PutMode::Create.into()).await })?;
            return match put {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(self.failed("uploading", &key, e)),
            };
        }
        // A multipart upload becomes visible only when it completes, with all its parts; two workers
        // racing on the same bytes write the same content.
        if self.contains(&staged.sha256)? {
            return Ok(false);
        }
        let (store, k) = (self.store.clone(), key.clone());
        let mut upload =
            run(async move { store.put_multipart(&k).await })?.map_err(|e| self.failed("uploading", &key, e))?;
        let mut file = File::open(&path).map_err(|e| Failure::transient(format!("reading {}", path.display()), e))?;
        loop {
            let mut part = Vec::with_capacity(SINGLE_PUT as usize);
            (&mut file)
                .take(SINGLE_PUT)
                .read_to_end(&mut part)
                .map_err(|e| Failure::transient(format!("reading {}", path.display()), e))?;
            if part.is_empty() {
                break;
            }
            let sent = run(upload.put_part(PutPayload::from(part)))?;
            if let Err(e) = sent {
                let _ = run(async move { upload.abort().await });
                return Err(self.failed("uploading", &key, e));
            }
        }
        run(async move { upload.complete().await })?.map_err(|e| self.failed("uploading", &key, e))?;
        Ok(true)
    }
}

fn key_in(prefix: &str, rest: &str) -> Key {
    if prefix.is_empty() { Key::from(rest) } else { Key::from(format!("{prefix}/{rest}")) }
}

/// One listing request, so that a wrong endpoint, bucket or key is said at start-up.
fn reachable(store: &Arc<dyn ObjectStore>, url: &str, prefix: &Key) -> Result<()> {
    let (store, prefix) = (store.clone(), prefix.clone());
    run(async move { store.list_with_delimiter(Some(&prefix)).await.map(|_| ()) })?.map_err(|e| {
        Failure::transient(
            format!(
                "reaching the bucket store {url} (check AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, and that the bucket exists)"
            ),
            anyhow::anyhow!(said(&e)),
        )
    })
}

/// What the server said, in a line: its error code when it gave one (`NoSuchBucket`, `AccessDenied`,
/// `InvalidAccessKeyId` …), else the client's message cut short — never the whole XML body, repeated.
fn said(e: &object_store::Error) -> String {
    let text = e.to_string();
    let code = text.split("<Code>").nth(1).and_then(|rest| rest.split("</Code>").next());
    match (e, code) {
        (object_store::Error::NotFound { .. }, None) => "not found".to_string(),
        (_, Some(code)) => format!("the server answered {code}"),
        _ => text.chars().take(300).collect(),
    }
}

fn show(url: &BucketUrl) -> String {
    if url.prefix.is_empty() { format!("s3://{}", url.bucket) } else { format!("s3://{}/{}", url.bucket, url.prefix) }
}

/// The runtime the bucket requests run on: one per process, never dropped (dropping a runtime inside
/// another one's task is not allowed, and a store may be dropped anywhere).
fn io_runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("sohoa-s3")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
        .ok_or_else(|| Failure::transient("starting the bucket client", anyhow::anyhow!("no runtime")))
}

/// Runs a request on the bucket runtime and waits for it, from any thread.
fn run<F>(fut: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    io_runtime()?.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|e| Failure::transient("a bucket request", e))
}

/// Streams an object's bytes; each read that finds the buffer empty waits for the next chunk.
struct ObjectReader {
    stream: Option<futures_util::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>>,
    chunk: bytes::Bytes,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            let Some(mut stream) = self.stream.take() else { return Ok(0) };
            let (next, stream) =
                run(async move { (stream.next().await, stream) }).map_err(|e| io::Error::other(e.to_string()))?;
            match next {
                None => return Ok(0),
                Some(Err(e)) => return Err(io::Error::other(e)),
                Some(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.stream = Some(stream);
                }
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}

impl BlobStore for S3BlobStore {
    fn stage(&self, reader: &mut dyn Read) -> Result<Staged> {
        self.spool.stage(reader)
    }

    fn stage_writer(&self) -> Result<Box<dyn StageWrite>> {
        self.spool.stage_writer()
    }

    fn persist(&self, staged: Vec<Staged>) -> Result<Vec<bool>> {
        // Each upload is durable when the server answers; a spool file goes only after its upload.
        // On a failure every spool file of the group goes too: the caller stages its bytes again when it
        // retries, so a long outage does not pile up copies.
        let mut fresh = Vec::with_capacity(staged.len());
        let mut staged = staged.into_iter();
        while let Some(s) = staged.next() {
            let uploaded = self.upload(&s);
            let _ = self.spool.remove_temporary(s.token());
            match uploaded {
                Ok(new) => fresh.push(new),
                Err(e) => {
                    for rest in staged {
                        let _ = self.spool.remove_temporary(rest.token());
                    }
                    return Err(e);
                }
            }
        }
        Ok(fresh)
    }

    fn open(&self, sha256: &str) -> Result<Box<dyn Read + Send>> {
        let key = self.blob_key(sha256)?;
        let (store, k) = (self.store.clone(), key.clone());
        let got = run(async move { store.get(&k).await })?.map_err(|e| self.failed("opening", &key, e))?;
        Ok(Box::new(ObjectReader { stream: Some(got.into_stream()), chunk: bytes::Bytes::new() }))
    }

    fn read_all(&self, sha256: &str) -> Result<Vec<u8>> {
        let key = self.blob_key(sha256)?;
        let (store, k) = (self.store.clone(), key.clone());
        let bytes = run(async move {
            match store.get(&k).await {
                Ok(got) => got.bytes().await,
                Err(e) => Err(e),
            }
        })?
        .map_err(|e| self.failed("reading", &key, e))?;
        Ok(bytes.to_vec())
    }

    fn contains(&self, sha256: &str) -> Result<bool> {
        let key = self.blob_key(sha256)?;
        let (store, k) = (self.store.clone(), key.clone());
        match run(async move { store.head(&k).await })? {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("looking up", &key, e)),
        }
    }

    fn list(&self) -> Result<Vec<String>> {
        let prefix = self.key("sha256");
        let store = self.store.clone();
        let listed = run(async move {
            let mut out = Vec::new();
            let mut stream = store.list(Some(&prefix));
            while let Some(meta) = stream.next().await {
                out.push(meta?.location.filename().map(str::to_string));
            }
            Ok::<_, object_store::Error>(out)
        })?
        .map_err(|e| Failure::transient(format!("listing {}", self.url), e))?;
        Ok(listed.into_iter().flatten().collect())
    }

    fn age(&self, sha256: &str) -> Result<u64> {
        let key = self.blob_key(sha256)?;
        let (store, k) = (self.store.clone(), key.clone());
        let meta = run(async move { store.head(&k).await })?.map_err(|e| self.failed("looking up", &key, e))?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Ok(now.saturating_sub(u64::try_from(meta.last_modified.timestamp()).unwrap_or(0)))
    }

    fn remove(&self, sha256: &str) -> Result<()> {
        let key = self.blob_key(sha256)?;
        let (store, k) = (self.store.clone(), key.clone());
        run(async move { store.delete(&k).await })?.map_err(|e| self.failed("removing", &key, e))
    }

    fn stale_temporaries(&self) -> Result<Vec<(String, u64)>> {
        self.spool.stale_temporaries()
    }

    fn remove_temporary(&self, token: &str) -> Result<()> {
        self.spool.remove_temporary(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls() {
        assert_eq!(
            BucketUrl::parse("s3://archive/hcm/q1/"),
            Some(BucketUrl { bucket: "archive".into(), prefix: "hcm/q1".into() })
        );
        assert_eq!(
            BucketUrl::parse("s3://archive"),
            Some(BucketUrl { bucket: "archive".into(), prefix: String::new() })
        );
        assert_eq!(BucketUrl::parse("s3:///x"), None);
        assert_eq!(BucketUrl::parse("s3://b//r6/"), BucketUrl::parse("s3://b/r6"));
        assert_eq!(BucketUrl::parse("/srv/blobs"), None);
    }
}
