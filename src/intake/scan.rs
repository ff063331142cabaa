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

/// Lists the inputs under `root` in natural order of their relative paths (`2` before `10`).
/// Symlinks, devices, sockets and anything outside the tree are refused with a logged reason; junk and
/// manifests are passed over.
pub fn scan_inbox(root: &Path, ignore: &[String]) -> std::io::Result<Vec<Candidate>> {
    let root = root.canonicalize()?;
    let mut out = Vec::new();
    walk(&root, &root, ignore, &mut out)?;
    Ok(out)
}

fn walk(root: &Path, dir: &Path, ignore: &[String], out: &mut Vec<Candidate>) -> std::io::Result<()> {
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
        if is_junk(&name, ignore) {
            continue;
        }
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(file = %path.display(), error = %err, "cannot read; left for the next pass");
                continue;
            }
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            tracing::warn!(file = %path.display(), "refused: a symbolic link is never followed (it could point outside the inbox)");
            continue;
        }
        if ft.is_dir() {
            walk(root, &path, ignore, out)?;
            continue;
        }
        if !ft.is_file() {
            tracing::warn!(file = %path.display(), "refused: not a regular file (device, socket or pipe)");
            continue;
        }
        if is_manifest_name(&name) {
            continue;
        }
        let Ok(rel_path) = path.strip_prefix(root) else {
            tracing::warn!(file = %path.display(), "refused: outside the inbox");
            continue;
        };
        let rel = nfc(&rel_path.to_string_lossy().replace('\\', "/"));
        let folder_path = rel.rsplit_once('/').map(|(f, _)| f.to_string()).unwrap_or_default();
        let folder = (!folder_path.is_empty()).then(|| folder_path.rsplit('/').next().unwrap_or("").to_string());
        out.push(Candidate { path, rel, folder_path, folder, name });
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
        let got: Vec<String> = scan_inbox(d.path(), &[]).unwrap().into_iter().map(|c| c.rel).collect();
        assert_eq!(got, ["H15-261008-0001/p2.jpg", "H15-261008-0001/p10.jpg"]);
    }
}
