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

use crate::error::{Code, Failure, Result};

/// Bytes that were streamed into the store but are not durable yet.
#[derive(Debug)]
pub struct Staged {
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
    /// Length in bytes.
    pub bytes: u64,
    token: String,
}

impl Staged {
    /// The temporary's name in the store that staged it.
    pub(super) fn token(&self) -> &str {
        &self.token
    }
}

/// A writer whose bytes become a staged blob; used by stages that produce output (PDFs).
pub trait StageWrite: Write + Send {
    /// Flushes and returns the staged blob.
    fn finish(self: Box<Self>) -> Result<Staged>;
    /// Appends the whole of stored blob `sha256`, whose bytes the caller holds as `data`, by reference
    /// instead of copying it (the hash is taken over `data`, not read back from the store).
    /// Returns false when this writer cannot refer (the caller then writes the bytes).
    fn reference(&mut self, _sha256: &str, _data: &[u8]) -> Result<bool> {
        Ok(false)
    }
}

/// Storage of immutable, content-addressed bytes.
pub trait BlobStore: Send + Sync {
    /// Streams `reader` into a temporary object, hashing on the way.
    fn stage(&self, reader: &mut dyn Read) -> Result<Staged>;
    /// Stages an inbox file that leaves the inbox once it is captured (`after_capture = "remove"`).
    /// A store on the inbox's file system takes the file itself, by a second name, instead of copying
    /// its bytes: capture then writes nothing but names, and a scan already on disk is not written
    /// twice. `file` is `path` opened for reading. The default streams a copy, as [`BlobStore::stage`].
    fn stage_leaving(&self, path: &Path, file: &mut File) -> Result<Staged> {
        let _ = path;
        self.stage(file)
    }
    /// A writer for bytes produced by the pipeline itself.
    fn stage_writer(&self) -> Result<Box<dyn StageWrite>>;
    /// A writer that can also refer to stored blobs: the result is stored as a recipe (its own bytes plus
    /// references) and read back as the full byte sequence. A PDF that embeds a scan as it is then costs
    /// its headers, not a second copy of the scan. Stores that cannot do this give a plain writer.
    fn stage_composite_writer(&self) -> Result<Box<dyn StageWrite>> {
        self.stage_writer()
    }
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
        read_blob(self.open(sha256)?, sha256)
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
        Ok(self.root.join("sha256").join(shard(sha256)?).join(sha256))
    }

    pub(super) fn tmp_path(&self, token: &str) -> PathBuf {
        self.root.join("tmp").join(token)
    }

    fn new_temp(&self) -> Result<(String, File)> {
        self.new_temp_named("")
    }

    fn new_temp_named(&self, suffix: &str) -> Result<(String, File)> {
        let token = format!("{}{suffix}", uuid::Uuid::now_v7().simple());
        let path = self.tmp_path(&token);
        let f = File::create(&path).map_err(|e| ctx("creating a temporary blob", &path, e))?;
        Ok((token, f))
    }
}

/// The two-character folder a blob is kept in (`sha256/ab/abcd…`), once `sha256` is known to be a
/// SHA-256 in lower-case hex: no other name ever reaches a store's paths or keys.
pub(super) fn shard(sha256: &str) -> Result<&str> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(Failure::bad(Code::BadHash, format!("`{sha256}` is not a SHA-256 in lower-case hex")));
    }
    Ok(&sha256[..2])
}

/// True when no process has `file` open for writing: a read lease is granted only then (it is
/// given back at once). False where leases are not supported, which makes the caller copy.
#[cfg(unix)]
fn no_writers(file: &File) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: a valid open descriptor; F_SETLEASE only sets or clears a lease on it.
        let granted = unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_RDLCK) } == 0;
        if granted {
            // SAFETY: as above.
            unsafe { libc::fcntl(fd, libc::F_SETLEASE, libc::F_UNLCK) };
        }
        granted
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        false
    }
}

/// Seconds since a stored file was last written or given a name, whichever is later: a scan taken
/// into the store by a second name keeps the scanner's old modification time, but its change time
/// is the moment it was taken.
fn age_of(m: &fs::Metadata) -> u64 {
    let mut last = m.modified().ok();
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let changed = std::time::UNIX_EPOCH + std::time::Duration::new(m.ctime().max(0) as u64, m.ctime_nsec() as u32);
        last = Some(last.map_or(changed, |t| t.max(changed)));
    }
    last.and_then(|t| std::time::SystemTime::now().duration_since(t).ok()).map(|d| d.as_secs()).unwrap_or(0)
}

/// SHA-256 (lower-case hex) and length of everything a reader yields.
pub fn hash_reader(r: &mut dyn Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    pump(r, |block| {
        hasher.update(block);
        bytes += block.len() as u64;
        Ok(())
    })
    .map_err(|(Pumped::Reading(e) | Pumped::Writing(e))| e)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Which side of a [`pump`] failed.
enum Pumped {
    Reading(io::Error),
    Writing(io::Error),
}

/// Hands everything `r` yields to `sink`, a block at a time, through this thread's read buffer (256 KiB,
/// allocated once per thread): streaming a file through a hash or into the store then costs no
/// allocation and no zeroing per file.
fn pump(r: &mut dyn Read, mut sink: impl FnMut(&[u8]) -> io::Result<()>) -> std::result::Result<(), Pumped> {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let mut run = |buf: &mut [u8]| loop {
        match r.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]).map_err(Pumped::Writing)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Pumped::Reading(e)),
        }
    };
    BUFFER.with(|b| match b.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.is_empty() {
                buf.resize(256 << 10, 0);
            }
            run(&mut buf)
        }
        // Only a pump inside a sink finds it lent out; it gets a buffer of its own.
        Err(_) => run(&mut vec![0u8; 256 << 10]),
    })
}

/// Reads a whole stored blob from `r`.
fn read_blob(mut r: impl Read, sha256: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    r.read_to_end(&mut buf).map_err(|e| Failure::transient(format!("reading blob {sha256}"), e))?;
    Ok(buf)
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

/// Asks the kernel to start writing a staged file out now, without waiting: by the time the batch's
/// fsyncs come, most of its bytes are on the way, and hashing the next file overlaps the disk.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; the call only schedules writeback of its dirty pages.
        unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

impl StageWrite for LocalStageWriter {
    fn finish(mut self: Box<Self>) -> Result<Staged> {
        self.out.flush().map_err(|e| Failure::transient("writing a blob", e))?;
        start_writeback(self.out.get_ref());
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(Staged { sha256, bytes: self.bytes, token: self.token.clone() })
    }
}

/// Small writes (PDF objects, recipe records) are gathered up to this size; larger ones, such as the
/// read buffer's blocks or a page image, go to the file without a copy.
const WRITE_BUFFER: usize = 64 << 10;

/// Recipe format: `SOHOA-PARTS-1\n`, then records: `B` + u64 length + bytes, or `R` + 64-byte hash + u64
/// length (the whole referenced blob).
const PARTS_MAGIC: &[u8] = b"SOHOA-PARTS-1\n";

struct LocalCompositeWriter {
    token: String,
    out: BufWriter<File>,
    hasher: Sha256,
    bytes: u64,
    pending: Vec<u8>,
    root: PathBuf,
}

impl LocalCompositeWriter {
    fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.out.write_all(b"B")?;
        self.out.write_all(&(self.pending.len() as u64).to_le_bytes())?;
        self.out.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

impl Write for LocalCompositeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        self.hasher.update(buf);
        self.bytes += buf.len() as u64;
        if self.pending.len() >= 1 << 20 {
            self.flush_pending()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flush_pending()?;
        self.out.flush()
    }
}

impl StageWrite for LocalCompositeWriter {
    fn finish(mut self: Box<Self>) -> Result<Staged> {
        self.flush().map_err(|e| Failure::transient("writing a blob", e))?;
        start_writeback(self.out.get_ref());
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        Ok(Staged { sha256, bytes: self.bytes, token: self.token.clone() })
    }

    fn reference(&mut self, sha256: &str, data: &[u8]) -> Result<bool> {
        // Only whole, plain blobs are referred to: a recipe never points at another recipe. A recipe
        // (a PDF that refers to its scans, given a text layer) is copied as its records instead, so
        // the new one still refers to the same plain blobs.
        let store = LocalBlobStore { root: self.root.clone() };
        let p = store.final_path(sha256)?;
        let len = data.len() as u64;
        if fs::metadata(&p).ok().filter(|m| m.is_file()).map(|m| m.len()) != Some(len) {
            let Some(records) = fs::read(store.parts_path(sha256)?)
                .ok()
                .and_then(|r| r.strip_prefix(PARTS_MAGIC).map(<[u8]>::to_vec))
                .filter(|r| recipe_len(r) == Some(len))
            else {
                return Ok(false);
            };
            self.hasher.update(data);
            self.flush_pending().map_err(|e| Failure::transient("writing a blob", e))?;
            self.out.write_all(&records).map_err(|e| Failure::transient("writing a blob", e))?;
            self.bytes += len;
            return Ok(true);
        }
        // The hash covers the referenced bytes too: the recipe's name is the hash of what it reads as.
        // `data` was read from that blob for this page, so it need not be read again.
        self.hasher.update(data);
        self.flush_pending().map_err(|e| Failure::transient("writing a blob", e))?;
        let w = &mut self.out;
        w.write_all(b"R")
            .and_then(|_| w.write_all(sha256.as_bytes()))
            .and_then(|_| w.write_all(&len.to_le_bytes()))
            .map_err(|e| Failure::transient("writing a blob", e))?;
        self.bytes += len;
        Ok(true)
    }
}

/// The length of the bytes a recipe's records stand for; `None` when they are not well formed.
fn recipe_len(mut records: &[u8]) -> Option<u64> {
    let mut total = 0u64;
    while let Some((&kind, rest)) = records.split_first() {
        let (skip, n) = match kind {
            b'B' => {
                let n = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
                (8 + usize::try_from(n).ok()?, n)
            }
            b'R' => (72, u64::from_le_bytes(rest.get(64..72)?.try_into().ok()?)),
            _ => return None,
        };
        records = rest.get(skip..)?;
        total = total.checked_add(n)?;
    }
    Some(total)
}

/// Reads a recipe back as the byte sequence it stands for.
struct PartsReader {
    recipe: Vec<u8>,
    at: usize,
    root: PathBuf,
    current: Option<Box<dyn Read + Send>>,
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(r) = self.current.as_mut() {
                let n = r.read(buf)?;
                if n > 0 {
                    return Ok(n);
                }
                self.current = None;
            }
            if self.at >= self.recipe.len() {
                return Ok(0);
            }
            let bad = || io::Error::new(io::ErrorKind::InvalidData, "damaged composite blob recipe");
            let u64_at = |at: usize| -> io::Result<u64> {
                let b: [u8; 8] = self.recipe.get(at..at + 8).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
                Ok(u64::from_le_bytes(b))
            };
            match self.recipe[self.at] {
                b'B' => {
                    let n = u64_at(self.at + 1)? as usize;
                    let start = self.at + 9;
                    let data = self.recipe.get(start..start + n).ok_or_else(bad)?.to_vec();
                    self.at = start + n;
                    self.current = Some(Box::new(io::Cursor::new(data)));
                }
                b'R' => {
                    let sha = self.recipe.get(self.at + 1..self.at + 65).ok_or_else(bad)?;
                    let sha = std::str::from_utf8(sha).map_err(|_| bad())?.to_string();
                    let n = u64_at(self.at + 65)?;
                    self.at += 73;
                    let p = self.root.join("sha256").join(&sha[..2]).join(&sha);
                    self.current = Some(Box::new(File::open(p)?.take(n)));
                }
                _ => return Err(bad()),
            }
        }
    }
}

impl LocalBlobStore {
    fn parts_path(&self, sha256: &str) -> Result<PathBuf> {
        let p = self.final_path(sha256)?;
        Ok(p.with_file_name(format!("{sha256}.parts")))
    }

    /// The path a blob's bytes or recipe lives at, whichever exists.
    fn existing(&self, sha256: &str) -> Result<Option<PathBuf>> {
        let raw = self.final_path(sha256)?;
        if raw.is_file() {
            return Ok(Some(raw));
        }
        let parts = self.parts_path(sha256)?;
        Ok(parts.is_file().then_some(parts))
    }
}

impl LocalBlobStore {
    /// Gives an inbox file a temporary name in the store (a hard link) and hashes it through `file`.
    /// `None` when the file cannot be taken so, and is copied instead: another file system, a file
    /// someone else owns (it could not be made read-only), with other names (they could change it),
    /// replaced since it was opened, or open for writing somewhere (a scanner not done with it). A
    /// taken file is made read-only before it is hashed, and its size and time stamps must not move
    /// while it is read. The inbox name goes once the capture commits; from then on the store's name
    /// is the only one.
    #[cfg(unix)]
    fn adopt(&self, path: &Path, file: &mut File) -> Result<Option<Staged>> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let before = file.metadata().map_err(|e| ctx("reading", path, e))?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if before.nlink() != 1 || before.uid() != me {
            return Ok(None);
        }
        let token = uuid::Uuid::now_v7().simple().to_string();
        let tmp = self.tmp_path(&token);
        if fs::hard_link(path, &tmp).is_err() {
            return Ok(None);
        }
        let drop_link = |why: Option<Failure>| -> Result<Option<Staged>> {
            let _ = fs::remove_file(&tmp);
            why.map_or(Ok(None), Err)
        };
        match fs::metadata(&tmp) {
            Ok(m) if (m.dev(), m.ino(), m.nlink()) == (before.dev(), before.ino(), 2) => {}
            _ => return drop_link(None),
        }
        let readonly = fs::Permissions::from_mode(before.mode() & 0o444);
        if file.set_permissions(readonly).is_err() || !no_writers(file) {
            return drop_link(None);
        }
        let stamp = |m: &fs::Metadata| (m.len(), m.mtime(), m.mtime_nsec(), m.ctime(), m.ctime_nsec());
        let Ok(held) = file.metadata() else { return drop_link(None) };
        let (sha256, bytes) = match hash_reader(file) {
            Ok(h) => h,
            Err(e) => return drop_link(Some(Failure::transient("reading the input", e))),
        };
        match file.metadata() {
            Ok(after) if stamp(&after) == stamp(&held) && bytes == held.len() => {}
            _ => {
                return drop_link(Some(Failure::transient(
                    format!("capturing {}", path.display()),
                    anyhow::anyhow!("the file changed while it was read; it is captured again once it stays still"),
                )));
            }
        }
        Ok(Some(Staged { sha256, bytes, token }))
    }

    #[cfg(not(unix))]
    fn adopt(&self, _path: &Path, _file: &mut File) -> Result<Option<Staged>> {
        Ok(None)
    }
}

impl BlobStore for LocalBlobStore {
    fn stage(&self, reader: &mut dyn Read) -> Result<Staged> {
        let (token, file) = self.new_temp()?;
        let mut w = Box::new(LocalStageWriter {
            token,
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            bytes: 0,
        });
        if let Err(e) = pump(reader, |block| w.write_all(block)) {
            let _ = fs::remove_file(self.tmp_path(&w.token));
            return Err(match e {
                Pumped::Reading(e) => Failure::transient("reading the input", e),
                Pumped::Writing(e) => Failure::transient("writing into the blob store", e),
            });
        }
        w.finish()
    }

    fn stage_leaving(&self, path: &Path, file: &mut File) -> Result<Staged> {
        match self.adopt(path, file)? {
            Some(staged) => Ok(staged),
            None => self.stage(file),
        }
    }

    fn stage_writer(&self) -> Result<Box<dyn StageWrite>> {
        let (token, file) = self.new_temp()?;
        Ok(Box::new(LocalStageWriter {
            token,
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            bytes: 0,
        }))
    }

    fn stage_composite_writer(&self) -> Result<Box<dyn StageWrite>> {
        let (token, file) = self.new_temp_named(".parts")?;
        let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
        out.write_all(PARTS_MAGIC).map_err(|e| Failure::transient("writing a blob", e))?;
        Ok(Box::new(LocalCompositeWriter {
            token,
            out,
            hasher: Sha256::new(),
            bytes: 0,
            pending: Vec::new(),
            root: self.root.clone(),
        }))
    }

    fn persist(&self, staged: Vec<Staged>) -> Result<Vec<bool>> {
        // One round of data fsyncs for the group, then the renames, then one fsync per directory. The
        // data sync carries what reading the bytes back needs (size, blocks); the names are made durable
        // by the directory syncs, so an adopted file already on disk costs no journal commit of its own.
        // Stored bytes are read-only, also through the folder views that are hard links to them.
        for s in &staged {
            let p = self.tmp_path(&s.token);
            File::open(&p)
                .and_then(|f| {
                    f.sync_data()?;
                    let mut perms = f.metadata()?.permissions();
                    if !perms.readonly() {
                        perms.set_readonly(true);
                        f.set_permissions(perms)?;
                    }
                    Ok(())
                })
                .map_err(|e| ctx("syncing a blob", &p, e))?;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut fresh = Vec::with_capacity(staged.len());
        for s in staged {
            let dst =
                if s.token.ends_with(".parts") { self.parts_path(&s.sha256)? } else { self.final_path(&s.sha256)? };
            let tmp = self.tmp_path(&s.token);
            if self.existing(&s.sha256)?.is_some() {
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
        let raw = self.final_path(sha256)?;
        match File::open(&raw) {
            Ok(f) => Ok(Box::new(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let p = self.parts_path(sha256)?;
                let recipe = fs::read(&p).map_err(|_| ctx("opening a blob", &raw, e))?;
                if !recipe.starts_with(PARTS_MAGIC) {
                    return Err(Failure::transient(
                        format!("reading {}", p.display()),
                        anyhow::anyhow!("not a recipe"),
                    ));
                }
                Ok(Box::new(PartsReader { recipe, at: PARTS_MAGIC.len(), root: self.root.clone(), current: None }))
            }
            Err(e) => Err(ctx("opening a blob", &raw, e)),
        }
    }

    fn read_all(&self, sha256: &str) -> Result<Vec<u8>> {
        // A plain blob is read in one call into a buffer of its size; a recipe is put together part by part.
        match fs::read(self.final_path(sha256)?) {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => read_blob(self.open(sha256)?, sha256),
            Err(e) => Err(Failure::transient(format!("reading blob {sha256}"), e)),
        }
    }

    fn export(&self, sha256: &str, dest: &Path) -> Result<()> {
        let src = self.final_path(sha256)?;
        if fs::hard_link(&src, dest).is_ok() {
            return Ok(());
        }
        // A composite (or another file system): the bytes are written out.
        let mut r = self.open(sha256)?;
        let mut f = File::create(dest).map_err(|e| ctx("writing a view", dest, e))?;
        io::copy(&mut r, &mut f).map_err(|e| ctx("writing a view", dest, e))?;
        Ok(())
    }

    fn contains(&self, sha256: &str) -> Result<bool> {
        Ok(self.existing(sha256)?.is_some())
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
                let name = f.file_name().to_string_lossy().into_owned();
                out.push(name.strip_suffix(".parts").map(str::to_string).unwrap_or(name));
            }
        }
        Ok(out)
    }

    fn age(&self, sha256: &str) -> Result<u64> {
        let p = self.existing(sha256)?.unwrap_or(self.final_path(sha256)?);
        let m = fs::metadata(&p).map_err(|e| ctx("reading a blob's age", &p, e))?;
        Ok(age_of(&m))
    }

    fn remove(&self, sha256: &str) -> Result<()> {
        let p = self.existing(sha256)?.unwrap_or(self.final_path(sha256)?);
        fs::remove_file(&p).map_err(|e| ctx("removing an orphan blob", &p, e))
    }

    fn stale_temporaries(&self) -> Result<Vec<(String, u64)>> {
        let dir = self.root.join("tmp");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(|e| ctx("listing temporaries", &dir, e))? {
            let e = e.map_err(|e| ctx("listing temporaries", &dir, e))?;
            let age = e.metadata().map(|m| age_of(&m)).unwrap_or(0);
            out.push((e.file_name().to_string_lossy().into_owned(), age));
        }
        Ok(out)
    }

    fn remove_temporary(&self, token: &str) -> Result<()> {
        if token.contains('/') || token.contains("..") {
            return Err(Failure::bad(Code::BadToken, "temporary names never contain a path"));
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

    #[cfg(target_os = "linux")]
    #[test]
    fn a_leaving_file_is_taken_read_only_and_aged_from_when_it_was_taken() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(&dir.path().join("blobs")).unwrap();
        let scan = dir.path().join("scan.jpg");
        fs::write(&scan, b"scanned two days ago").unwrap();
        let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        File::options().write(true).open(&scan).unwrap().set_modified(two_days).unwrap();
        let ino = fs::metadata(&scan).unwrap().ino();

        let staged = store.stage_leaving(&scan, &mut File::open(&scan).unwrap()).unwrap();
        let sha = staged.sha256.clone();
        store.persist(vec![staged]).unwrap();
        let blob = store.final_path(&sha).unwrap();
        let m = fs::metadata(&blob).unwrap();
        assert_eq!(m.ino(), ino, "taken, not copied");
        assert!(m.permissions().readonly(), "stored bytes are read-only");
        assert!(store.age(&sha).unwrap() < 60, "a sweep must not take it for an old orphan");
        assert_eq!(store.read_all(&sha).unwrap(), b"scanned two days ago");

        // Open for writing elsewhere (a scanner not done with it): copied.
        let busy = dir.path().join("busy.jpg");
        fs::write(&busy, b"still being written").unwrap();
        let _writer = File::options().append(true).open(&busy).unwrap();
        let staged = store.stage_leaving(&busy, &mut File::open(&busy).unwrap()).unwrap();
        let sha = staged.sha256.clone();
        store.persist(vec![staged]).unwrap();
        assert_ne!(fs::metadata(store.final_path(&sha).unwrap()).unwrap().ino(), fs::metadata(&busy).unwrap().ino());
        assert!(store.stale_temporaries().unwrap().is_empty());
    }

    #[test]
    fn a_composite_reads_back_as_its_bytes_and_is_named_by_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        let inner = store.stage(&mut &b"-scan bytes-"[..]).unwrap();
        let inner_sha = inner.sha256.clone();
        store.persist(vec![inner]).unwrap();
        let mut w = store.stage_composite_writer().unwrap();
        w.write_all(b"head").unwrap();
        assert!(w.reference(&inner_sha, b"-scan bytes-").unwrap());
        assert!(!w.reference(&inner_sha, b"-scan bytes").unwrap(), "a wrong length is not referred to");
        w.write_all(b"tail").unwrap();
        let staged = w.finish().unwrap();
        let want = b"head-scan bytes-tail";
        assert_eq!(staged.sha256, hex::encode(Sha256::digest(want)));
        assert_eq!(staged.bytes, want.len() as u64);
        let sha = staged.sha256.clone();
        store.persist(vec![staged]).unwrap();
        assert_eq!(store.read_all(&sha).unwrap(), want);
        assert!(store.contains(&sha).unwrap());
        assert_eq!(store.list().unwrap().len(), 2);
        let view = dir.path().join("view.pdf");
        store.export(&sha, &view).unwrap();
        assert_eq!(std::fs::read(&view).unwrap(), want);
    }
}
