//! Where things are kept: the case database ([`Records`]) and the content-addressed blob store
//! ([`BlobStore`]). Both live under one data directory by default.

pub mod assembly;
pub mod blob;
pub mod cases;
pub mod chain;
pub mod db;
pub mod documents;
pub mod jobs;
pub mod quarantine;
pub mod queries;
pub mod records;
pub mod stacks;
pub mod sweep;
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
        DataDir::open_with(root, None).await
    }

    /// Opens a data directory whose records live in `database` (a PostgreSQL URL or a SQLite path)
    /// when given, else in `sohoa.db` inside it.
    pub async fn open_with(root: &Path, database: Option<&str>) -> Result<DataDir> {
        std::fs::create_dir_all(root)
            .map_err(|e| crate::error::Failure::transient(format!("creating the data folder {}", root.display()), e))?;
        let location = match database {
            Some(url) if !url.is_empty() => db::Location::parse(url),
            _ => db::Location::Sqlite(root.join("sohoa.db")),
        };
        let mut records = Records::open(&location).await?;
        records.set_worker(&root.canonicalize().unwrap_or_else(|_| root.to_path_buf()).display().to_string());
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(&root.join("blobs"))?);
        Ok(DataDir { root: root.to_path_buf(), records, blobs })
    }
}
