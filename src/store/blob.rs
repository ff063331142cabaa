//! Content-addressed blob storage: every original and every PDF lives here under its SHA-256.
//!
//! The interface streams and never hands out paths, so an object store can replace the local folder.
//! Writing is two-step on purpose: [`BlobStore::stage`] streams bytes into a temporary object while
//! hashing them, [`BlobStore::persist`] makes a whole group durable at once (one round of fsyncs for a
//! batch, not one per file) and only then gives the objects their final names. A final name therefore
//! always holds complete, durable bytes; a crash leaves at most unnamed temporaries, which are swept.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Failure, Result};

/// Bytes that were streamed into the store but are not durable yet.
#[derive(Debug)]
pub struct Staged {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Length in bytes.
    pub bytes: u64,
    token: String,
}

/// A writer whose bytes become a staged blob; used by stages that produce output (PDFs).
pub trait StageWrite: Write + Send {
    /// Flushes and returns the staged blob.
    fn finish(self: Box<Self>) -> Result<Staged>;
}

/// Storage of immutable, content-addressed bytes.
pub trait BlobStore: Send + Sync {
    /// Streams `reader` into a temporary object, hashing on the way.
    fn stage(&self, reader: &mut dyn Read) -> Result<Staged>;
    /// A writer for bytes produced by the pipeline itself.
    fn stage_writer(&self) -> Result<Box<dyn StageWrite>>;
    /// Makes staged blobs durable and visible under their hash; a blob already present is kept and the
    /// new copy dropped (put-if-absent). Returns, per blob, whether it was new.
    fn persist(&self, staged: Vec<Staged>) -> Result<Vec<bool>>;
    /// Drops staged bytes that will not be persisted (the batch failed).
    fn discard(&self, staged: Staged) -> Result<()> {
        self.remove_temporary(&staged.token)
    }
    /// Opens a stored blob for reading.
    fn open(&self, sha256: &str) -> Result<Box<dyn Read + Send>>;
    /// Whether a blob is stored.
    fn contains(&self, sha256: &str) -> Result<bool>;
    /// Every stored hash, for fixity checks (the order is unspecified).
    fn list(&self) -> Result<Vec<String>>;
    /// Seconds since a stored blob was written.
    fn age(&self, sha256: &str) -> Result<u64>;
    /// Deletes a stored blob. Only the orphan sweep calls this, for blobs no record names.
    fn remove(&self, sha256: &str) -> Result<()>;
    /// Age in seconds of each temporary left by an interrupted write, by token.
    fn stale_temporaries(&self) -> Result<Vec<(String, u64)>>;
    /// Deletes a temporary left by an interrupted write.
    fn remove_temporary(&self, token: &str) -> Result<()>;

    /// Places a copy of a blob at `dest` for folder views (a hard link where the store is local, so it
    /// costs no bytes). The view is a convenience: the blob store stays the record.
    fn export(&self, sha256: &str, dest: &Path) -> Result<()> {
        let mut r = self.open(sha256)?;
        let mut f = File::create(dest).map_err(|e| ctx("writing a view", dest, e))?;
        io::copy(&mut r, &mut f).map_err(|e| ctx("writing a view", dest, e))?;
        Ok(())
    }

    /// Reads a whole blob; for inputs that decoders need in memory.
    fn read_all(&self, sha256: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        self.open(sha256)?
            .read_to_end(&mut buf)
            .map_err(|e| Failure::transient(format!("reading blob {sha256}"), e))?;
        Ok(buf)
    }
}

/// Blobs in a local folder: `sha256/ab/abcdef…` plus `tmp/` for staging.
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// Opens (creating when needed) a store rooted at `root`.
    pub fn open(root: &Path) -> Result<LocalBlobStore> {
        fs::create_dir_all(root.join("tmp")).map_err(|e| ctx("creating the blob store", root, e))?;
        fs::create_dir_all(root.join("sha256")).map_err(|e| ctx("creating the blob store", root, e))?;
        Ok(LocalBlobStore { root: root.to_path_buf() })
    }

    fn final_path(&self, sha256: &str) -> Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(Failure::bad("bad-hash", format!("`{sha256}` is not a SHA-256 in lower-case hex")));
        }
        Ok(self.root.join("sha256").join(&sha256[..2]).join(sha256))
    }

    fn tmp_path(&self, token: &str) -> PathBuf {
        self.root.join("tmp").join(token)
    }

    fn new_temp(&self) -> Result<(String, File)> {
        let token = uuid::Uuid::now_v7().simple().to_string();
        let path = self.tmp_path(&token);
        let f = File::create(&path).map_err(|e| ctx("creating a temporary blob", &path, e))?;
        Ok((token, f))
    }
}

fn ctx(what: &str, path: &Path, e: io::Error) -> Failure {
    Failure::transient(format!("{what} at {}", path.display()), e)
}

struct LocalStageWriter {
    token: String,
    out: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
}

impl Write for LocalStageWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl StageWrite for LocalStageWriter {
    fn finish(mut self: Box<Self>) -> Result<Staged> {
        self.out.flush().map_err(|e| Failure::transient("writing a blob", e))?;
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(Staged { sha256, bytes: self.bytes, token: self.token.clone() })
    }
}

impl BlobStore for LocalBlobStore {
    fn stage(&self, reader: &mut dyn Read) -> Result<Staged> {
        let (token, file) = self.new_temp()?;
        let mut w = Box::new(LocalStageWriter {
            token,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        });
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = fs::remove_file(self.tmp_path(&w.token));
                    return Err(Failure::transient("reading the input", e));
                }
            };
            if let Err(e) = w.write_all(&buf[..n]) {
                let _ = fs::remove_file(self.tmp_path(&w.token));
                return Err(Failure::transient("writing into the blob store", e));
            }
        }
        w.finish()
    }

    fn stage_writer(&self) -> Result<Box<dyn StageWrite>> {
        let (token, file) = self.new_temp()?;
        Ok(Box::new(LocalStageWriter {
            token,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            bytes: 0,
        }))
    }

    fn persist(&self, staged: Vec<Staged>) -> Result<Vec<bool>> {
        // One round of data fsyncs for the group, then the renames, then one fsync per directory.
        for s in &staged {
            let p = self.tmp_path(&s.token);
            File::open(&p).and_then(|f| f.sync_all()).map_err(|e| ctx("syncing a blob", &p, e))?;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut fresh = Vec::with_capacity(staged.len());
        for s in staged {
            let dst = self.final_path(&s.sha256)?;
            let tmp = self.tmp_path(&s.token);
            if dst.exists() {
                fs::remove_file(&tmp).map_err(|e| ctx("dropping a duplicate blob", &tmp, e))?;
                fresh.push(false);
                continue;
            }
            let dir = dst.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
            if !dir.exists() {
                fs::create_dir_all(&dir).map_err(|e| ctx("creating a blob folder", &dir, e))?;
                sync_dir(&self.root.join("sha256"))?;
            }
            fs::rename(&tmp, &dst).map_err(|e| ctx("naming a blob", &dst, e))?;
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            fresh.push(true);
        }
        for d in dirs {
            sync_dir(&d)?;
        }
        Ok(fresh)
    }

    fn open(&self, sha256: &str) -> Result<Box<dyn Read + Send>> {
        let p = self.final_path(sha256)?;
        let f = File::open(&p).map_err(|e| ctx("opening a blob", &p, e))?;
        Ok(Box::new(f))
    }

    fn export(&self, sha256: &str, dest: &Path) -> Result<()> {
        let src = self.final_path(sha256)?;
        if fs::hard_link(&src, dest).is_ok() {
            return Ok(());
        }
        fs::copy(&src, dest).map(|_| ()).map_err(|e| ctx("writing a view", dest, e))
    }

    fn contains(&self, sha256: &str) -> Result<bool> {
        Ok(self.final_path(sha256)?.is_file())
    }

    fn list(&self) -> Result<Vec<String>> {
        let base = self.root.join("sha256");
        let mut out = Vec::new();
        for shard in fs::read_dir(&base).map_err(|e| ctx("listing blobs", &base, e))? {
            let shard = shard.map_err(|e| ctx("listing blobs", &base, e))?;
            if !shard.path().is_dir() {
                out.push(shard.file_name().to_string_lossy().into_owned());
                continue;
            }
            for f in fs::read_dir(shard.path()).map_err(|e| ctx("listing blobs", &shard.path(), e))? {
                let f = f.map_err(|e| ctx("listing blobs", &shard.path(), e))?;
                out.push(f.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }

    fn age(&self, sha256: &str) -> Result<u64> {
        let p = self.final_path(sha256)?;
        let m = fs::metadata(&p).and_then(|m| m.modified()).map_err(|e| ctx("reading a blob's age", &p, e))?;
        Ok(std::time::SystemTime::now().duration_since(m).map(|d| d.as_secs()).unwrap_or(0))
    }

    fn remove(&self, sha256: &str) -> Result<()> {
        let p = self.final_path(sha256)?;
        fs::remove_file(&p).map_err(|e| ctx("removing an orphan blob", &p, e))
    }

    fn stale_temporaries(&self) -> Result<Vec<(String, u64)>> {
        let dir = self.root.join("tmp");
        let mut out = Vec::new();
        let now = std::time::SystemTime::now();
        for e in fs::read_dir(&dir).map_err(|e| ctx("listing temporaries", &dir, e))? {
            let e = e.map_err(|e| ctx("listing temporaries", &dir, e))?;
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0);
            out.push((e.file_name().to_string_lossy().into_owned(), age));
        }
        Ok(out)
    }

    fn remove_temporary(&self, token: &str) -> Result<()> {
        if token.contains('/') || token.contains("..") {
            return Err(Failure::bad("bad-token", "temporary names never contain a path"));
        }
        let p = self.tmp_path(token);
        fs::remove_file(&p).map_err(|e| ctx("removing a temporary", &p, e))
    }
}

/// Fsyncs a directory so that the names created in it survive a power cut.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| ctx("syncing a folder", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_persist_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let a = store.stage(&mut &b"hello"[..]).unwrap();
        let b = store.stage(&mut &b"hello"[..]).unwrap();
        assert_eq!(a.sha256, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.persist(vec![a, b]).unwrap(), vec![true, false]);
        let back = store.read_all("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824").unwrap();
        assert_eq!(back, b"hello");
        assert_eq!(store.list().unwrap().len(), 1);
        assert!(store.stale_temporaries().unwrap().is_empty());
    }
}
