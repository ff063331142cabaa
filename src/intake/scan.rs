//! Walking an inbox: what counts as an input, in which order, and what is refused.

use std::fs;
use std::path::{Path, PathBuf};

use crate::route::manifest::is_manifest_name;
use crate::util::text::{natural_cmp, nfc, wildcard_match};

/// A file in the inbox that looks like an input.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it is.
    pub path: PathBuf,
    /// Its path relative to the inbox, `/`-separated, NFC.
    pub rel: String,
    /// The parent folder's path relative to the inbox (NFC), `""` at the top.
    pub folder_path: String,
    /// The parent folder's name (NFC), when inside one.
    pub folder: Option<String>,
    /// The file name (NFC).
    pub name: String,
}

/// Names scanners, file managers and copy tools leave behind; never inputs.
const JUNK: &[&str] =
    &[".DS_Store", "._*", "Thumbs.db", "desktop.ini", "@eaDir", "*.tmp", "~*", ".*", "*.part", "*.error.json"];

/// True for names that are never inputs.
pub fn is_junk(name: &str, extra: &[String]) -> bool {
    JUNK.iter().any(|p| wildcard_match(p, name)) || extra.iter().any(|p| wildcard_match(p, name))
}

/// A marker file (e.g. `.done`) that closes its folder's document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Where it is.
    pub path: PathBuf,
    /// Its folder relative to the inbox (NFC), `""` at the top.
    pub folder_path: String,
}

/// What a walk of the inbox found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Inputs, in natural order of their relative paths.
    pub files: Vec<Candidate>,
    /// Marker files.
    pub markers: Vec<Marker>,
}

impl Candidate {
    /// Describes the file at `path` inside the (canonical) inbox `root`; `None` when it is outside.
    pub fn at(root: &Path, path: &Path) -> Option<Candidate> {
        let rel_path = path.strip_prefix(root).ok()?;
        let rel = nfc(&rel_path.to_string_lossy().replace('\\', "/"));
        let name = rel.rsplit('/').next().unwrap_or("").to_string();
        let folder_path = rel.rsplit_once('/').map(|(f, _)| f.to_string()).unwrap_or_default();
        let folder = (!folder_path.is_empty()).then(|| folder_path.rsplit('/').next().unwrap_or("").to_string());
        Some(Candidate { path: path.to_path_buf(), rel, folder_path, folder, name })
    }
}

/// Why a path in the inbox is not an input, or `None` when it is one. Symlinks, devices and sockets
/// are refused; junk is passed over (both said once in the log by [`say_once`]); manifests, read
/// beside their scans, and paths gone since they were seen are passed over with `""`.
pub fn refusal(path: &Path, name: &str, ignore: &[String]) -> Option<&'static str> {
    if is_manifest_name(name) {
        return Some("");
    }
    if name.starts_with('.') && !JUNK.iter().take(2).any(|p| wildcard_match(p, name)) {
        return Some("passed over: a hidden file (its name begins with a dot); rename it to have it captured");
    }
    if is_junk(name, ignore) {
        return Some(
            "passed over: a name that scanners, copy tools and file managers leave behind (temporary, \
             partial or system file, or the station's ignore list)",
        );
    }
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            Some("refused: a symbolic link is never followed (it could point outside the inbox)")
        }
        Ok(m) if !m.is_file() && !m.is_dir() => Some("refused: not a regular file (device, socket or pipe)"),
        Ok(_) => None,
        Err(_) => Some(""),
    }
}

/// Logs why a file is not taken, once per path for the life of the process (a watcher rescans the
/// same inbox again and again). Remembers at most a few thousand paths; past that it starts afresh.
pub fn say_once(path: &Path, why: &str) {
    use std::collections::HashSet;
    use std::sync::{LazyLock, Mutex};
    static SAID: LazyLock<Mutex<HashSet<PathBuf>>> = LazyLock::new(Default::default);
    let Ok(mut said) = SAID.lock() else { return };
    if said.len() >= 4096 {
        said.clear();
    }
    if said.insert(path.to_path_buf()) {
        // Refusals and hidden files (which may be real scans under a wrong name) warn; junk informs.
        if why.starts_with("refused") || why.contains("hidden") {
            tracing::warn!(file = %path.display(), "{why}");
        } else {
            tracing::info!(file = %path.display(), "{why}");
        }
    }
}

/// Lists the inputs under `root` in natural order of their relative paths (`2` before `10`).
/// Symlinks, devices, sockets and anything outside the tree are refused with a logged reason; junk and
/// manifests are passed over; files named `marker` are reported apart.
pub fn scan_inbox(root: &Path, ignore: &[String], marker: Option<&str>) -> std::io::Result<Scan> {
    let mut out = Scan::default();
    for entry in Walk::new(root, ignore, marker)? {
        match entry? {
            Entry::File(c) => out.files.push(c),
            Entry::Marker(m) => out.markers.push(m),
        }
    }
    Ok(out)
}

/// One thing a walk found.
#[derive(Debug, Clone)]
pub enum Entry {
    /// An input.
    File(Candidate),
    /// A marker file.
    Marker(Marker),
}

/// The inbox walked lazily, in the order [`scan_inbox`] lists it. Only the listings of the folders on
/// the current path are held, so a run over any number of files walks in the memory of one path's
/// folders, not of the whole tree. A folder that cannot be listed ends the walk with its error.
pub struct Walk {
    root: PathBuf,
    ignore: Vec<String>,
    marker: Option<String>,
    /// Per open folder: its path and the entries still to visit (NFC name for order and rules, the
    /// name as it is on disk for the path).
    open: Vec<(PathBuf, std::vec::IntoIter<(String, std::ffi::OsString)>)>,
    /// Folders passed over with all they hold (canonical paths).
    pruned: Vec<PathBuf>,
}

impl Walk {
    /// Starts a walk of `root`; fails when `root` cannot be resolved or listed.
    pub fn new(root: &Path, ignore: &[String], marker: Option<&str>) -> std::io::Result<Walk> {
        let root = root.canonicalize()?;
        let first = listing(&root)?;
        Ok(Walk {
            open: vec![(root.clone(), first)],
            root,
            ignore: ignore.to_vec(),
            marker: marker.map(str::to_string),
            pruned: Vec::new(),
        })
    }

    /// Passes over `dir` and everything in it, when it lies inside the inbox: sohoa's own data folder
    /// or quarantine view placed there is never taken for scans.
    pub fn pruning(mut self, dir: &Path) -> Walk {
        if let Ok(dir) = dir.canonicalize() {
            self.pruned.push(dir);
        }
        self
    }
}

impl Iterator for Walk {
    type Item = std::io::Result<Entry>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (dir, entries) = self.open.last_mut()?;
            let Some((name, on_disk)) = entries.next() else {
                self.open.pop();
                continue;
            };
            let path = dir.join(on_disk);
            if self.marker.as_deref() == Some(name.as_str()) {
                if let Some(c) = Candidate::at(&self.root, &path) {
                    return Some(Ok(Entry::Marker(Marker { path, folder_path: c.folder_path })));
                }
                continue;
            }
            match refusal(&path, &name, &self.ignore) {
                Some("") => continue,
                Some(why) => {
                    say_once(&path, why);
                    continue;
                }
                None => {}
            }
            if path.is_dir() {
                if self.pruned.iter().any(|p| p.as_path() == path) {
                    tracing::info!(folder = %path.display(), "passed over: it holds sohoa's own files");
                    continue;
                }
                match listing(&path) {
                    Ok(l) => self.open.push((path, l)),
                    Err(e) => {
                        self.open.clear();
                        return Some(Err(e));
                    }
                }
                continue;
            }
            match Candidate::at(&self.root, &path) {
                Some(c) => return Some(Ok(Entry::File(c))),
                None => tracing::warn!(file = %path.display(), "refused: outside the inbox"),
            }
        }
    }
}

/// A folder's entries in natural order of their NFC names.
fn listing(dir: &Path) -> std::io::Result<std::vec::IntoIter<(String, std::ffi::OsString)>> {
    let mut entries = Vec::new();
    for e in fs::read_dir(dir)? {
        match e {
            Ok(e) => {
                let on_disk = e.file_name();
                entries.push((nfc(&on_disk.to_string_lossy()), on_disk));
            }
            Err(err) => {
                tracing::warn!(folder = %dir.display(), error = %err, "cannot list an entry; it is left for the next pass");
            }
        }
    }
    entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    Ok(entries.into_iter())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_and_order() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("H15-261008-0001");
        fs::create_dir(&c).unwrap();
        for n in ["p10.jpg", "p2.jpg", ".DS_Store", "Thumbs.db", "~lock.jpg", "x.tmp", "p2.json", "manifest.json"] {
            fs::write(c.join(n), b"x").unwrap();
        }
        std::os::unix::fs::symlink("/etc/passwd", c.join("evil.jpg")).unwrap();
        let got: Vec<String> = scan_inbox(d.path(), &[], None).unwrap().files.into_iter().map(|c| c.rel).collect();
        assert_eq!(got, ["H15-261008-0001/p2.jpg", "H15-261008-0001/p10.jpg"]);
    }

    #[test]
    fn a_walk_goes_folder_by_folder_in_natural_order_and_finds_decomposed_names() {
        let d = tempfile::tempdir().unwrap();
        for dir in ["b", "a10", "a2", "a2/sub"] {
            fs::create_dir(d.path().join(dir)).unwrap();
        }
        // "Hồ sơ" stored decomposed (NFD), as copies from some systems arrive: listed NFC, opened as stored.
        let nfd = "Ho\u{302}\u{300} so\u{31b}.jpg";
        for f in ["a2/p10.jpg", "a2/p9.jpg", "a2/sub/x.jpg", "a10/p1.jpg", "b/.done", "top.jpg"] {
            fs::write(d.path().join(f), b"x").unwrap();
        }
        fs::write(d.path().join("b").join(nfd), b"x").unwrap();
        let got: Vec<(String, bool)> = Walk::new(d.path(), &[], Some(".done"))
            .unwrap()
            .map(|e| match e.unwrap() {
                Entry::File(c) => (c.rel, c.path.is_file()),
                Entry::Marker(m) => (format!("marker {}", m.folder_path), m.path.is_file()),
            })
            .collect();
        let want = ["a2/p9.jpg", "a2/p10.jpg", "a2/sub/x.jpg", "a10/p1.jpg", "marker b", "b/Hồ sơ.jpg", "top.jpg"];
        let pruned: Vec<String> = Walk::new(d.path(), &[], None)
            .unwrap()
            .pruning(&d.path().join("a2"))
            .pruning(&d.path().join("not-there"))
            .filter_map(|e| match e.unwrap() {
                Entry::File(c) => Some(c.rel),
                Entry::Marker(_) => None,
            })
            .collect();
        assert_eq!(pruned, ["a10/p1.jpg", "b/Hồ sơ.jpg", "top.jpg"]);
        assert_eq!(got.iter().map(|g| g.0.as_str()).collect::<Vec<_>>(), want);
        assert!(got.iter().all(|g| g.1), "every path names the file as it is stored: {got:?}");
    }
}
