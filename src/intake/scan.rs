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
/// are refused (and logged by the caller); junk and manifests are passed over silently.
pub fn refusal(path: &Path, name: &str, ignore: &[String]) -> Option<&'static str> {
    if is_junk(name, ignore) || is_manifest_name(name) {
        return Some("");
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

/// Lists the inputs under `root` in natural order of their relative paths (`2` before `10`).
/// Symlinks, devices, sockets and anything outside the tree are refused with a logged reason; junk and
/// manifests are passed over; files named `marker` are reported apart.
pub fn scan_inbox(root: &Path, ignore: &[String], marker: Option<&str>) -> std::io::Result<Scan> {
    let root = root.canonicalize()?;
    let mut out = Scan::default();
    walk(&root, &root, ignore, marker, &mut out)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, ignore: &[String], marker: Option<&str>, out: &mut Scan) -> std::io::Result<()> {
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(folder = %dir.display(), error = %err, "cannot list an entry; it is left for the next pass");
                continue;
            }
        };
        entries.push((nfc(&e.file_name().to_string_lossy()), e.path()));
    }
    entries.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    for (name, path) in entries {
        if marker == Some(name.as_str()) {
            if let Some(c) = Candidate::at(root, &path) {
                out.markers.push(Marker { path, folder_path: c.folder_path });
            }
            continue;
        }
        match refusal(&path, &name, ignore) {
            Some("") => continue,
            Some(why) => {
                tracing::warn!(file = %path.display(), "{why}");
                continue;
            }
            None => {}
        }
        if path.is_dir() {
            walk(root, &path, ignore, marker, out)?;
            continue;
        }
        match Candidate::at(root, &path) {
            Some(c) => out.files.push(c),
            None => tracing::warn!(file = %path.display(), "refused: outside the inbox"),
        }
    }
    Ok(())
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
}
