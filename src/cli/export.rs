//! `sohoa export CODE --out DIR`.

use std::path::{Path, PathBuf};

use crate::util::text::nfc;

#[derive(clap::Args)]
pub(super) struct Args {
    /// The case code.
    code: String,
    /// Where the package folder `<code>/` is created.
    #[arg(long)]
    out: PathBuf,
    /// The retention period to write as the dossier's Maintenance, as the center's retention schedule
    /// gives it, e.g. "Vĩnh viễn" or "10 năm".
    #[arg(long)]
    maintenance: Option<String>,
    /// The dossier's Rights, e.g. "Hạn chế" (personal data).
    #[arg(long)]
    rights: Option<String>,
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let code = nfc(a.code.trim());
    let given = crate::export::CaseMeta {
        maintenance: a.maintenance.map(|m| nfc(m.trim())).filter(|m| !m.is_empty()),
        rights: a.rights.map(|r| nfc(r.trim())).filter(|r| !r.is_empty()),
        ..Default::default()
    };
    let r = crate::export::export_case(&d.records, d.blobs.clone(), &code, &a.out, given).await?;
    let metadata: serde_json::Map<String, serde_json::Value> =
        r.metadata.iter().map(|(n, sha)| (n.clone(), serde_json::Value::from(sha.clone()))).collect();
    let detail = serde_json::json!({ "case": code, "dir": r.dir.display().to_string(), "files": r.files,
        "bytes": r.bytes, "metadata": metadata });
    d.records.log_access(&super::actor(), "export", Some(&code), None, &detail, &super::now()).await?;
    let (dir, files, mb) = (r.dir.display(), r.files, r.bytes as f64 / 1e6);
    println!(
        "{}",
        crate::util::lang::say(
            format!("đã xuất {code} vào {dir}: {files} tệp, {mb:.1} MB, liệt kê trong manifest-sha256.txt"),
            format!("exported {code} to {dir}: {files} files, {mb:.1} MB, listed in manifest-sha256.txt")
        )
    );
    Ok(0)
}
