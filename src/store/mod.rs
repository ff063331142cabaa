//! Where things are kept: the case database ([`Records`]) and the content-addressed blob store
//! ([`BlobStore`]). Both live under one data directory by default.

pub mod assembly;
pub mod blob;
pub mod cases;
pub mod chain;
pub mod corrections;
pub mod db;
pub mod documents;
pub mod jobs;
pub mod outbox;
pub mod quarantine;
pub mod queries;
pub mod records;
pub mod replica;
pub mod s3;
pub mod stacks;
pub mod sweep;
pub mod texts;
pub mod tokens;
pub mod verify_runs;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use blob::{BlobStore, LocalBlobStore, Staged};
pub use records::Records;

use crate::error::Result;

/// The embedded default: `sohoa.db` and `blobs/` under one folder.
pub struct DataDir {
    /// The folder.
    pub root: PathBuf,
    /// The case database.
    pub records: Records,
    /// The blob store.
    pub blobs: Arc<dyn BlobStore>,
}

impl DataDir {
    /// Opens (creating when needed) a data directory with its own SQLite database.
    pub async fn open(root: &Path) -> Result<DataDir> {
        DataDir::open_with(root, None, None).await
    }

    /// Opens a data directory whose records live in `database` (a PostgreSQL URL or a SQLite path)
    /// when given, else in `sohoa.db` inside it, and whose blobs live in `store` (see [`open_blobs`]).
    pub async fn open_with(root: &Path, database: Option<&str>, store: Option<&str>) -> Result<DataDir> {
        let (root_owned, store) = (root.to_path_buf(), store.map(str::to_string));
        let blobs = crate::util::cpu::blocking(move || open_blobs(&root_owned, store.as_deref()))
            .await
            .map_err(|e| crate::error::Failure::transient("opening the blob store", e))??;
        DataDir::open_records(root, database, blobs).await
    }

    /// Opens a data directory's records beside a blob store already opened (a one-shot command opens
    /// the store once, to say at once what is wrong with it, and waits only for the records).
    pub async fn open_records(root: &Path, database: Option<&str>, blobs: Arc<dyn BlobStore>) -> Result<DataDir> {
        std::fs::create_dir_all(root)
            .map_err(|e| crate::error::Failure::transient(format!("creating the data folder {}", root.display()), e))?;
        let location = match database {
            Some(url) if !url.is_empty() => db::Location::parse(url),
            _ => db::Location::Sqlite(root.join("sohoa.db")),
        };
        let mut records = Records::open(&location).await?;
        records.set_worker(&root.canonicalize().unwrap_or_else(|_| root.to_path_buf()).display().to_string());
        Ok(DataDir { root: root.to_path_buf(), records, blobs })
    }
}

/// Opens the blob store `store` names: `s3://bucket/prefix` (an S3-compatible bucket; bytes in flight
/// are spooled in `spool/` under the data folder), a folder path, or — when None — `blobs/` in the
/// data folder, the embedded default.
pub fn open_blobs(root: &Path, store: Option<&str>) -> Result<Arc<dyn BlobStore>> {
    match store.filter(|s| !s.is_empty()) {
        Some(url) if url.starts_with("s3://") => {
            let bucket = s3::BucketUrl::parse(url).ok_or_else(|| {
                crate::error::Failure::transient(
                    format!("reading the store address {url}"),
                    anyhow::anyhow!("write it as s3://bucket or s3://bucket/prefix"),
                )
            })?;
            Ok(Arc::new(s3::S3BlobStore::open(&bucket, &root.join("spool"))?))
        }
        Some(folder) => Ok(Arc::new(LocalBlobStore::open(Path::new(folder))?)),
        None => Ok(Arc::new(LocalBlobStore::open(&root.join("blobs"))?)),
    }
}
