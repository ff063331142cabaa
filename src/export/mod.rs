//! Export: a case as a self-describing package another system (or a second archive copy) can take in
//! and check without sohoa — the PDFs `<code>.<NNN>.pdf`, the originals, `manifest-sha256.txt` (BagIt's
//! form: `<sha256>  <path>`), and the dossier and document metadata of Nghị định 30/2020 as JSON and
//! XML. Every byte copied is hashed on the way and compared with the record: the export fails closed.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Code, Failure, Result};
use crate::store::{BlobStore, Records};

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The package folder.
    pub dir: PathBuf,
    /// Files written (the manifest not counted).
    pub files: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The metadata files written and their SHA-256 (kept with the export's event, so a package's
    /// metadata can be held against what was exported).
    pub metadata: Vec<(String, String)>,
}

#[derive(Serialize)]
struct DocumentMeta {
    #[serde(rename = "DocOrdinal")]
    ordinal: i64,
    #[serde(rename = "TypeName")]
    type_name: String,
    #[serde(rename = "Role")]
    role: String,
    #[serde(rename = "PageAmount")]
    pages: i64,
    #[serde(rename = "File")]
    file: String,
    #[serde(rename = "Sha256")]
    sha256: String,
    #[serde(rename = "Bytes")]
    bytes: i64,
}

#[derive(Serialize)]
struct SourceMeta {
    #[serde(rename = "File")]
    file: String,
    #[serde(rename = "SourcePath")]
    source: String,
    #[serde(rename = "Sha256")]
    sha256: String,
}

/// The dossier fields of Nghị định 30/2020 (Annex VI) and the case's one-stop data, where known.
#[derive(Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct CaseMeta {
    /// Retention period (`Vĩnh viễn`, `10 năm`), as the center's retention schedule gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<String>,
    /// Access rights (`Hạn chế` for a dossier with personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights: Option<String>,
    /// The unit that made the dossier: its name, else its code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// The day the case was received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// The day it was resolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
    /// Procedure code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure: Option<String>,
    /// Procedure name from the catalogue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub procedure_name: Option<String>,
    /// Unit code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Case status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Due date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// How the dossier was submitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl CaseMeta {
    /// The fields in order, for the XML.
    fn fields(&self) -> [(&'static str, &Option<String>); 11] {
        [
            ("Maintenance", &self.maintenance),
            ("Rights", &self.rights),
            ("Creator", &self.creator),
            ("StartDate", &self.start_date),
            ("EndDate", &self.end_date),
            ("Procedure", &self.procedure),
            ("ProcedureName", &self.procedure_name),
            ("Unit", &self.unit),
            ("Status", &self.status),
            ("DueDate", &self.due_date),
            ("Channel", &self.channel),
        ]
    }
}

#[derive(Serialize)]
struct DossierMeta {
    #[serde(rename = "FileCode")]
    code: String,
    #[serde(rename = "Title")]
    title: String,
    #[serde(flatten)]
    case: CaseMeta,
    #[serde(rename = "Language")]
    language: &'static str,
    #[serde(rename = "DocTotal")]
    doc_total: usize,
    #[serde(rename = "PageTotal")]
    page_total: i64,
    #[serde(rename = "Documents")]
    documents: Vec<DocumentMeta>,
    #[serde(rename = "Sources")]
    sources: Vec<SourceMeta>,
}

fn copy_checked(blobs: &dyn BlobStore, sha: &str, dest: &Path) -> Result<u64> {
    let mut r = blobs.open(sha)?;
    let mut f = File::create(dest).map_err(|e| Failure::transient(format!("writing {}", dest.display()), e))?;
    let (mut h, mut n, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 20]);
    loop {
        let k = r.read(&mut buf).map_err(|e| Failure::transient(format!("reading blob {sha}"), e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        f.write_all(&buf[..k]).map_err(|e| Failure::transient(format!("writing {}", dest.display()), e))?;
        n += k as u64;
    }
    f.sync_all().map_err(|e| Failure::transient(format!("syncing {}", dest.display()), e))?;
    let got = hex::encode(h.finalize());
    if got != sha {
        return Err(Failure::bad(
            Code::Fixity,
            format!("stored file {sha} now hashes to {got}: run `sohoa verify`; nothing damaged is exported"),
        ));
    }
    Ok(n)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn to_xml(m: &DossierMeta) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Dossier>\n");
    for (k, v) in [("FileCode", &m.code), ("Title", &m.title)] {
        x.push_str(&format!("  <{k}>{}</{k}>\n", xml_escape(v)));
    }
    for (k, v) in m.case.fields() {
        if let Some(v) = v {
            x.push_str(&format!("  <{k}>{}</{k}>\n", xml_escape(v)));
        }
    }
    x.push_str(&format!(
        "  <Language>{}</Language>\n  <DocTotal>{}</DocTotal>\n  <PageTotal>{}</PageTotal>\n",
        m.language, m.doc_total, m.page_total
    ));
    x.push_str("  <Documents>\n");
    for d in &m.documents {
        x.push_str(&format!(
            "    <Document>\n      <DocOrdinal>{}</DocOrdinal>\n      <TypeName>{}</TypeName>\n      <Role>{}</Role>\n      \
             <PageAmount>{}</PageAmount>\n      <File>{}</File>\n      <Sha256>{}</Sha256>\n      <Bytes>{}</Bytes>\n    </Document>\n",
            d.ordinal, xml_escape(&d.type_name), d.role, d.pages, xml_escape(&d.file), d.sha256, d.bytes
        ));
    }
    x.push_str("  </Documents>\n  <Sources>\n");
    for s in &m.sources {
        x.push_str(&format!(
            "    <Source>\n      <File>{}</File>\n      <SourcePath>{}</SourcePath>\n      <Sha256>{}</Sha256>\n    </Source>\n",
            xml_escape(&s.file), xml_escape(&s.source), s.sha256
        ));
    }
    x.push_str("  </Sources>\n</Dossier>\n");
    x
}

/// Writes the package of case `code` into `out/<code>/`, which must not exist yet. `given` carries what
/// the records do not know (retention, rights); the case's own data fills the rest.
pub async fn export_case(
    records: &Records,
    blobs: Arc<dyn BlobStore>,
    code: &str,
    out: &Path,
    given: CaseMeta,
) -> Result<ExportReport> {
    let Some(detail) = records.case_detail(code).await? else {
        return Err(Failure::bad(Code::NoCase, format!("no case `{code}`; `sohoa case list` shows the known ones")));
    };
    let root = out.join(&detail.code);
    if root.exists() {
        return Err(Failure::bad(
            Code::Exists,
            format!("{} exists already; export into an empty place", root.display()),
        ));
    }
    let docs: Vec<crate::store::queries::CaseDocument> = detail
        .documents
        .iter()
        .filter(|d| d.state == crate::store::documents::DocState::Attached && d.sha256.is_some())
        .cloned()
        .collect();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    for p in &detail.pages {
        if p.ordinal.is_some() {
            sources.entry(p.source_sha256.clone()).or_insert_with(|| p.source.clone());
        }
    }
    let mut case = given;
    if let Some(r) = records.case_record(&detail.code).await? {
        let units = records.units().await?;
        let unit_name = r.unit.as_ref().and_then(|u| units.iter().find(|(c, _)| c == u).map(|(_, n)| n.clone()));
        let procedure_name = match &r.procedure_code {
            Some(p) => records.procedures().await?.into_iter().find(|x| &x.code == p).map(|x| x.name),
            None => None,
        };
        case.creator = case.creator.or(unit_name).or(r.unit.clone());
        case.start_date = r.received_date;
        case.end_date = r.resolved_date;
        case.procedure = r.procedure_code;
        case.procedure_name = procedure_name;
        case.unit = r.unit;
        case.status = Some(r.status.as_str().to_string());
        case.due_date = r.due_date;
        case.channel = r.channel;
    }
    let root2 = root.clone();
    let code2 = detail.code.clone();
    crate::util::cpu::blocking(move || -> Result<ExportReport> {
        let io = |what: &str, e: std::io::Error| Failure::transient(what.to_string(), e);
        fs::create_dir_all(root2.join("originals")).map_err(|e| io("creating the package", e))?;
        let mut manifest: Vec<(String, String)> = Vec::new();
        let mut bytes = 0u64;
        let mut documents = Vec::new();
        for d in &docs {
            let sha = d.sha256.clone().unwrap_or_default();
            bytes += copy_checked(blobs.as_ref(), &sha, &root2.join(&d.name))?;
            manifest.push((sha.clone(), d.name.clone()));
            let role_name = if d.role == crate::profile::DocRole::Result {
                "Kết quả giải quyết"
            } else {
                "Thành phần hồ sơ"
            };
            documents.push(DocumentMeta {
                ordinal: d.ordinal,
                type_name: d.doc_type.clone().unwrap_or_else(|| role_name.into()),
                role: d.role.as_str().to_string(),
                pages: d.pages,
                file: d.name.clone(),
                sha256: sha,
                bytes: d.bytes.unwrap_or(0),
            });
        }
        let mut used = std::collections::HashSet::new();
        let mut source_meta = Vec::new();
        for (sha, source) in &sources {
            let base = source.rsplit('/').next().unwrap_or(source).to_string();
            let name = if used.insert(base.clone()) { base } else { format!("{}-{base}", &sha[..12]) };
            let rel = format!("originals/{name}");
            bytes += copy_checked(blobs.as_ref(), sha, &root2.join(&rel))?;
            manifest.push((sha.clone(), rel.clone()));
            source_meta.push(SourceMeta { file: rel, source: source.clone(), sha256: sha.clone() });
        }
        let page_total = documents.iter().map(|d| d.pages).sum();
        let meta = DossierMeta {
            code: code2.clone(),
            title: match &case.procedure_name {
                Some(p) => format!("Hồ sơ {code2}: {p}"),
                None => format!("Hồ sơ {code2}"),
            },
            case,
            language: "vi",
            doc_total: documents.len(),
            page_total,
            documents,
            sources: source_meta,
        };
        let mut metadata = Vec::new();
        for (name, body) in [
            ("metadata.json", serde_json::to_vec_pretty(&meta).unwrap_or_default()),
            ("metadata.xml", to_xml(&meta).into_bytes()),
        ] {
            fs::write(root2.join(name), &body).map_err(|e| io("writing metadata", e))?;
            let sha = hex::encode(Sha256::digest(&body));
            manifest.push((sha.clone(), name.to_string()));
            metadata.push((name.to_string(), sha));
            bytes += body.len() as u64;
        }
        manifest.sort_by(|a, b| a.1.cmp(&b.1));
        let text: String = manifest.iter().map(|(s, p)| format!("{s}  {p}\n")).collect();
        fs::write(root2.join("manifest-sha256.txt"), text).map_err(|e| io("writing the manifest", e))?;
        crate::store::blob::sync_dir(&root2.join("originals"))?;
        crate::store::blob::sync_dir(&root2)?;
        Ok(ExportReport { dir: root2, files: manifest.len(), bytes, metadata })
    })
    .await
    .map_err(|e| Failure::transient("export task", e))?
}
