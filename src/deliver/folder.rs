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
    /// Opens the connector's exchange folder, which must be there: a share that is not mounted would
    /// otherwise become a local folder nobody imports from. Its `receipts-read/` is made when missing.
    pub fn open(c: &Connector) -> crate::error::Result<ExchangeFolder> {
        let root = c.folder.clone().unwrap_or_default();
        if !root.is_dir() {
            return Err(crate::error::Failure::transient(
                crate::util::lang::say(
                    format!("thư mục trao đổi {} không có (ổ chia sẻ đã được gắn chưa?)", root.display()),
                    format!("the exchange folder {} (is the share mounted?)", root.display()),
                ),
                std::io::Error::new(std::io::ErrorKind::NotFound, crate::util::lang::say("không thấy", "not there")),
            ));
        }
        std::fs::create_dir_all(root.join(READ)).map_err(|e| {
            crate::error::Failure::transient(format!("making {} in the exchange folder {}", READ, root.display()), e)
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
            // Never made here: a share gone since the start is waited for, not replaced.
            if !root.is_dir() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    crate::util::lang::say(
                        format!("thư mục trao đổi {} không có (ổ chia sẻ đã được gắn chưa?)", root.display()),
                        format!("the exchange folder {} is not there (is the share mounted?)", root.display()),
                    ),
                ));
            }
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
            Ok(Err(e)) => local_failure("ghi vào thư mục trao đổi", "writing to the exchange folder", e),
            Err(e) => local_failure("ghi vào thư mục trao đổi", "writing to the exchange folder", e),
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
                    status: crate::store::outbox::RECEIPT_FILE,
                    remote_id: text("id"),
                    message: text("message"),
                };
                records.outbox_receipt(entry.id, &receipt, refused).await?;
                n += 1;
            } else {
                tracing::warn!(receipt = %path.display(), "a receipt in the exchange folder names no entry sohoa sent; moved aside");
            }
            set_aside(&self.root, &path, "");
        }
        Ok(n)
    }
}

/// Moves a receipt into `receipts-read/`, never over an earlier one of the same name.
fn set_aside(root: &Path, path: &Path, suffix: &str) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let read = root.join(READ);
    let mut to = read.join(format!("{name}{suffix}"));
    if to.exists() {
        let stamp = crate::util::time::now_iso(crate::util::time::VIETNAM).replace(':', "");
        to = read.join(format!("{name}.{stamp}.{}{suffix}", uuid::Uuid::new_v4().simple()));
    }
    let _ = std::fs::rename(path, to);
}

/// How long a receipt may stay unreadable (the remote still writing it) before it is set aside.
const UNREADABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// The receipts waiting in the folder, parsed. An unreadable one is left for the next look (the remote
/// may still be writing it) until it is a minute old, then moved aside with a warning.
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
                Err(e) => {
                    let old = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > UNREADABLE_AFTER);
                    if old {
                        tracing::warn!(receipt = %path.display(), error = %e,
                            "a receipt in the exchange folder is not JSON; moved aside to receipts-read/ as .unreadable");
                        set_aside(root, &path, ".unreadable");
                    }
                }
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
