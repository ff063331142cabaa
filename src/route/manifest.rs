//! Sidecar manifests: `<scan>.json` beside a scan, or `manifest.json` for a whole folder.
//!
//! ```json
//! { "case": "H15.50.05.13-261008-0975", "role": "input", "document_type": "Đơn đề nghị",
//!   "operator": "Trần Thị B", "files": { "p3.jpg": { "role": "result" },
//!   "cccd.jpg": { "reused_from": "H15.50.05.13-250301-0012.002" } } }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::profile::DocRole;
use crate::util::text::nfc;

/// What a manifest says about one scan. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestEntry {
    /// Case code.
    #[serde(default)]
    pub case: Option<String>,
    /// `input` or `result`.
    #[serde(default)]
    pub role: Option<DocRole>,
    /// Document type (thành phần hồ sơ), e.g. `Đơn đề nghị`.
    #[serde(default)]
    pub document_type: Option<String>,
    /// Who scanned it.
    #[serde(default)]
    pub operator: Option<String>,
    /// The input is taken from earlier digitized data: the case (or `case.NNN` document) it was
    /// digitized for. The reuse rate counts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FolderManifest {
    #[serde(flatten)]
    all: ManifestEntry,
    #[serde(default)]
    files: std::collections::BTreeMap<String, ManifestEntry>,
}

/// Whether a file name is a manifest rather than a scan.
pub fn is_manifest_name(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".json")
}

/// Finds the manifest entry for the scan at `path`: its sidecar first, then the folder's
/// `manifest.json` (a per-file entry overriding the folder's fields). `Err` carries a clerk-readable
/// reason; `Ok(None)` means there is no manifest.
pub fn entry_for(path: &Path) -> Result<Option<ManifestEntry>, String> {
    let Some(file) = file_for(path) else {
        return Ok(None);
    };
    if file.file_name().is_some_and(|n| n != "manifest.json") {
        return read::<ManifestEntry>(&file).map(|e| Some(normalize(e)));
    }
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let m: FolderManifest = read(&file)?;
    let nfc_name = nfc(&name);
    let mut e = m.all;
    if let Some(f) = m.files.iter().find(|(k, _)| nfc(k) == nfc_name).map(|(_, v)| v.clone()) {
        e = ManifestEntry {
            case: f.case.or(e.case),
            role: f.role.or(e.role),
            document_type: f.document_type.or(e.document_type),
            operator: f.operator.or(e.operator),
            reused_from: f.reused_from.or(e.reused_from),
        };
    }
    Ok(Some(normalize(e)))
}

/// The manifest file that applies to the scan at `path`: its sidecar (`<name>.json`, then
/// `<stem>.json`), else its folder's `manifest.json`; `None` when there is none.
pub fn file_for(path: &Path) -> Option<std::path::PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let stem = path.file_stem()?.to_string_lossy().into_owned();
    let dir = path.parent().unwrap_or(Path::new("."));
    [dir.join(format!("{name}.json")), dir.join(format!("{stem}.json")), dir.join("manifest.json")]
        .into_iter()
        .find(|p| p.is_file())
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let shown = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = std::fs::read(path).map_err(|e| format!("the manifest {shown} cannot be read: {e}"))?;
    serde_json::from_slice(&text).map_err(|e| {
        format!("the manifest {shown} is not valid: {e}. Fix the JSON (see README, “How a page finds its case”)")
    })
}

fn normalize(e: ManifestEntry) -> ManifestEntry {
    ManifestEntry {
        case: e.case.map(|s| nfc(s.trim())),
        role: e.role,
        document_type: e.document_type.map(|s| nfc(s.trim())),
        operator: e.operator.map(|s| nfc(s.trim())),
        reused_from: e.reused_from.map(|s| nfc(s.trim())).filter(|s| !s.is_empty()),
    }
}
