//! Where things are kept: the case database ([`Records`]) and the content-addressed blob store
//! ([`BlobStore`]). Both live under one data directory by default.

pub mod blob;
pub mod queries;
pub mod records;
pub mod sweep;

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
    /// Opens (creating when needed) a data directory.
    pub async fn open(root: &Path) -> Result<DataDir> {
        std::fs::create_dir_all(root)
            .map_err(|e| crate::error::Failure::transient(format!("creating the data folder {}", root.display()), e))?;
        let records = Records::open_sqlite(&root.join("sohoa.db")).await?;
        let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(&root.join("blobs"))?);
        Ok(DataDir { root: root.to_path_buf(), records, blobs })
    }
}
