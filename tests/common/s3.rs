//! An S3-compatible server on loopback for the tests: the one `scripts/test.sh` started
//! (`SOHOA_TEST_S3`, its endpoint), or else a moto server of the test's own, stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The bucket every test writes into, each data folder under a prefix of its own.
pub const BUCKET: &str = "sohoa-test";

/// A running S3 server.
pub struct S3 {
    pub endpoint: String,
    child: Option<Child>,
}

impl Drop for S3 {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl S3 {
    /// The suite's server, or a new one.
    pub fn start() -> S3 {
        if let Some(endpoint) = std::env::var("SOHOA_TEST_S3").ok().filter(|e| !e.is_empty()) {
            ensure_bucket(&endpoint);
            return S3 { endpoint, child: None };
        }
        S3::own()
    }

    /// A server of the test's own, stopped when dropped.
    pub fn own() -> S3 {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server runs (pip install 'moto[server]'; scripts/test.sh installs it)");
        let s3 = S3 { endpoint: format!("http://127.0.0.1:{port}"), child: Some(child) };
        let start = Instant::now();
        while ureq::get(&s3.endpoint).call().is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "moto_server did not answer in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        ensure_bucket(&s3.endpoint);
        s3
    }

    /// The environment that points the binary (or the library) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        env_for(&self.endpoint)
    }

    /// Sets this server's environment in the test process itself (for the library's own calls).
    pub fn enter(&self) {
        for (k, v) in self.env() {
            // SAFETY: the test binaries that call this set the same values in every thread.
            unsafe { std::env::set_var(k, v) };
        }
    }

    /// An object's bytes, fetched without the product.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        object(&self.endpoint, key)
    }

    /// Writes an object behind the product's back.
    pub fn put_object(&self, key: &str, bytes: &[u8]) {
        put_object(&self.endpoint, key, bytes);
    }

    /// Every key under `prefix`.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        keys(&self.endpoint, prefix)
    }
}

pub fn env_for(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

fn ensure_bucket(endpoint: &str) {
    // Creating a bucket that exists is answered with an error; either way it is there after.
    let _ = ureq::put(&format!("{endpoint}/{BUCKET}")).call();
}

/// A client of the bucket that is not the product's: object_store's own S3 client, on a runtime of
/// the call's own.
fn raw<T>(endpoint: &str, f: impl AsyncFnOnce(&object_store::aws::AmazonS3) -> T) -> T {
    let client = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(BUCKET)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(f(&client))
}

pub fn object(endpoint: &str, key: &str) -> Option<Vec<u8>> {
    use object_store::ObjectStoreExt;
    raw(endpoint, async |c| {
        let got = c.get(&object_store::path::Path::from(key)).await.ok()?;
        got.bytes().await.ok().map(|b| b.to_vec())
    })
}

pub fn put_object(endpoint: &str, key: &str, bytes: &[u8]) {
    use object_store::ObjectStoreExt;
    let bytes = bytes.to_vec();
    raw(endpoint, async |c| c.put(&object_store::path::Path::from(key), bytes.into()).await.map(|_| ()))
        .expect("PUT object");
}

pub fn delete_object(endpoint: &str, key: &str) {
    use object_store::ObjectStoreExt;
    raw(endpoint, async |c| c.delete(&object_store::path::Path::from(key)).await).expect("DELETE object");
}

pub fn keys(endpoint: &str, prefix: &str) -> Vec<String> {
    use futures_util::StreamExt;
    raw(endpoint, async |c| {
        let prefix = object_store::path::Path::from(prefix.trim_end_matches('/'));
        let mut listed = object_store::ObjectStore::list(c, Some(&prefix));
        let mut out = Vec::new();
        while let Some(meta) = listed.next().await {
            out.push(meta.expect("list objects").location.to_string());
        }
        out
    })
}

/// The prefix a data folder's blobs get in the suite's bucket: one per folder, so tests running at
/// once never see each other's objects.
pub fn prefix_for(data: &Path) -> String {
    let full = std::path::absolute(data).unwrap_or_else(|_| data.to_path_buf());
    format!("t{}", &hex::encode(Sha256::digest(full.to_string_lossy().as_bytes()))[..16])
}

/// The key a data folder's blob has in the suite's bucket.
pub fn blob_key(data: &Path, sha: &str) -> String {
    format!("{}/sha256/{}/{sha}", prefix_for(data), &sha[..2])
}

/// When the suite runs on S3 (`SOHOA_TEST_STORE=s3` and `SOHOA_TEST_S3`), the environment that
/// puts `data`'s blobs in the bucket.
pub fn store_env(data: &Path) -> Option<Vec<(&'static str, String)>> {
    if std::env::var("SOHOA_TEST_STORE").ok().as_deref() != Some("s3") {
        return None;
    }
    let endpoint = std::env::var("SOHOA_TEST_S3").ok().filter(|e| !e.is_empty())?;
    ensure_bucket(&endpoint);
    let mut env = env_for(&endpoint);
    env.push(("SOHOA_STORE", format!("s3://{BUCKET}/{}", prefix_for(data))));
    Some(env)
}

/// A stored blob's bytes, from the data folder's store whichever it is.
pub fn stored_blob(data: &Path, sha: &str) -> Option<Vec<u8>> {
    match store_env(data) {
        Some(_) => {
            let endpoint = std::env::var("SOHOA_TEST_S3").ok()?;
            object(&endpoint, &blob_key(data, sha))
        }
        None => std::fs::read(data.join("blobs/sha256").join(&sha[..2]).join(sha)).ok(),
    }
}

/// Whether `data`'s blobs are in the suite's bucket.
pub fn on_s3(data: &Path) -> bool {
    store_env(data).is_some()
}

/// Replaces (or adds) a stored blob's bytes behind the product's back, whichever the store.
pub fn tamper_blob(data: &Path, sha: &str, bytes: &[u8]) {
    if on_s3(data) {
        let endpoint = std::env::var("SOHOA_TEST_S3").unwrap();
        put_object(&endpoint, &blob_key(data, sha), bytes);
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let p = data.join("blobs/sha256").join(&sha[..2]).join(sha);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    // Stored bytes are read-only; tampering starts by making them writable.
    if p.exists() {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
}

/// Deletes a stored blob behind the product's back, whichever the store.
pub fn delete_blob(data: &Path, sha: &str) {
    if on_s3(data) {
        let endpoint = std::env::var("SOHOA_TEST_S3").unwrap();
        delete_object(&endpoint, &blob_key(data, sha));
        return;
    }
    std::fs::remove_file(data.join("blobs/sha256").join(&sha[..2]).join(sha)).unwrap();
}
