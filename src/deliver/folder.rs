//! An exchange folder another system imports from (a share the one-stop system polls): each entry
//! writes `<code>.<NNN>.pdf`, then `<code>.<NNN>.json` with its metadata. Each file is written under a
//! hidden temporary name, flushed to disk and renamed into place, so an importer never sees half a
//! file, and the JSON (the signal to import) comes after the PDF it describes. When the remote writes
//! `<code>.<NNN>.receipt.json` back, the receipt is recorded with the entry (a refusal puts the entry
//! among the rejected for a clerk) and the receipt file moved to `receipts-read/`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{Delivery, Outcome, local_failure};
use crate::profile::Connector;
use crate::store::outbox::Receipt;
use crate::store::{BlobStore, Records};

/// Delivers into an exchange folder.
pub struct ExchangeFolder {
    root: PathBuf,
}

/// Where read receipts are moved.
const READ: &str = "receipts-read";

impl ExchangeFolder {
    /// Opens (creating) the connector's exchange folder.
    pub fn open(c: &Connector) -> crate::error::Result<ExchangeFolder> {
        let root = c.folder.clone().unwrap_or_default();
        std::fs::create_dir_all(root.join(READ)).map_err(|e| {
            crate::error::Failure::transient(format!("creating the exchange folder {}", root.display()), e)
        })?;
        Ok(ExchangeFolder { root })
    }

    /// Writes the entry's PDF (not for a removal) and then its metadata.
    pub async fn deliver(&self, d: &Delivery, blobs: &Arc<dyn BlobStore>) -> Outcome {
        let (root, blobs) = (self.root.clone(), blobs.clone());
        let stem = format!("{}.{:03}", d.entry.case_code, d.entry.ordinal);
        let pdf = (!d.entry.removes()).then(|| d.entry.pdf_sha256.clone()).flatten();
        let meta: serde_json::Map<String, serde_json::Value> = super::http::metadata(d).into_iter().collect();
        let meta = serde_json::to_vec_pretty(&serde_json::Value::Object(meta)).unwrap_or_default();
        let written = crate::util::cpu::blocking(move || -> std::io::Result<()> {
            if let Some(sha) = pdf {
                let mut reader = blobs.open(&sha).map_err(std::io::Error::other)?;
                write_atomically(&root, &format!("{stem}.pdf"), |f| std::io::copy(&mut reader, f).map(|_| ()))?;
            }
            write_atomically(&root, &format!("{stem}.json"), |f| f.write_all(&meta))?;
            crate::store::blob::sync_dir(&root).map_err(std::io::Error::other)
        })
        .await;
        match written {
            Ok(Ok(())) => Outcome::Delivered(Receipt {
                status: 0,
                remote_id: None,
                message: Some(format!("written to {}", self.root.display())),
            }),
            Ok(Err(e)) => local_failure("ghi vào thư mục trao đổi", e),
            Err(e) => local_failure("ghi vào thư mục trao đổi", e),
        }
    }

    /// Records every receipt the remote wrote, then moves it aside.
    pub async fn read_receipts(&self, records: &Records) -> crate::error::Result<u64> {
        let root = self.root.clone();
        let found = crate::util::cpu::blocking(move || receipts(&root))
            .await
            .map_err(|e| crate::error::Failure::transient("reading the exchange folder", e))?
            .map_err(|e| crate::error::Failure::transient("reading the exchange folder", e))?;
        let mut n = 0;
        for (path, r) in found {
            let entry = match r.get("key").and_then(|k| k.as_str()) {
                Some(k) => records.outbox_by_key(k).await?,
                None => None,
            };
            if let Some(entry) = entry {
                let text = |k: &str| r.get(k).and_then(|v| v.as_str()).map(str::to_string);
                let refused = matches!(text("status").as_deref(), Some("rejected" | "refused" | "error"));
                let receipt = Receipt {
                    status: if refused { 422 } else { 200 },
                    remote_id: text("id"),
                    message: text("message"),
                };
                records.outbox_receipt(entry.id, &receipt, refused).await?;
                n += 1;
            } else {
                tracing::warn!(receipt = %path.display(), "a receipt in the exchange folder names no entry sohoa sent; moved aside");
            }
            if let Some(name) = path.file_name() {
                let _ = std::fs::rename(&path, self.root.join(READ).join(name));
            }
        }
        Ok(n)
    }
}

/// The receipts waiting in the folder, parsed (an unreadable one is left for the next look: the remote
/// may still be writing it).
fn receipts(root: &Path) -> std::io::Result<Vec<(PathBuf, serde_json::Value)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        let is_receipt = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".receipt.json"));
        if !is_receipt {
            continue;
        }
        if let Ok(v) = std::fs::read(&path).map(|b| serde_json::from_slice::<serde_json::Value>(&b)) {
            match v {
                Ok(v) => out.push((path, v)),
                Err(_) => continue,
            }
        }
    }
    Ok(out)
}

/// Writes `name` in `dir` through a hidden temporary file, flushed before the rename.
fn write_atomically(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.{}.part", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(name))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
