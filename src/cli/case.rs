//! `sohoa case …`: list, show, import from the one-stop system, set fields.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::normalize::PageNormalization;
use crate::profile::DocRole;
use crate::store::cases::Upsert;
use crate::util::text::nfc;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Every case with its documents and pages.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One case: fields, completeness, documents, pages, hashes, quarantined inputs, events. The
    /// viewing is recorded in the audit log.
    Show {
        /// The case code, e.g. H15.50.05.13-261008-0975.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show the applicant's name, ID number and contact (personal data; hidden by default).
        #[arg(long)]
        personal: bool,
    },
    /// Import the one-stop system's export of cases: CSV with a header row (code, procedure, unit,
    /// received, due, status, resolved, applicant_name, applicant_id, applicant_contact — or the
    /// Vietnamese ma_ho_so, ma_thu_tuc, ngay_tiep_nhan, …), JSON (an array) or JSON Lines. Idempotent by
    /// case code: re-importing updates status and dates. Bad rows are listed and skipped; exits 1 then.
    Import {
        /// The export file.
        file: PathBuf,
    },
    /// Set fields of one case (creating it when new).
    Set(Box<SetArgs>),
    /// Put a page that was left out of its document as blank back in (the detector missed faint
    /// content): the document's PDF is made again with the page; the previous PDF stays stored.
    KeepPage {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// The page's number in the document, from `sohoa case show` (the 3 of 001/3).
        page: i64,
    },
    /// Render again a document that was set aside because rendering it stopped the service (its case
    /// record shows a `set-aside` event): once the cause is fixed, its PDF is built from the same pages.
    Render {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
    },
    /// Take an attached document off a case (filed to the wrong case, say). The PDF is kept and the
    /// detachment audited; its pages become unfiled, ready to be filed again.
    Detach {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Set an attached document's type (and role): counter scans carry no type, and completeness
    /// counts a required input only by its type. The PDF is rendered again from the same pages; the
    /// change is audited. `sohoa case show CODE` lists the types the case's procedure requires.
    Retype {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// The document type, e.g. "Tờ khai" (one of the procedure's required inputs to count).
        #[arg(long = "type")]
        doc_type: Option<String>,
        /// input or result.
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
    },
}

#[derive(clap::Args)]
pub(super) struct SetArgs {
    /// The case code.
    code: String,
    #[command(flatten)]
    fields: crate::import::FieldsText,
}

/// Rows an import commits per transaction.
const IMPORT_BATCH: usize = 500;

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    // An import or a case's first fields set a station up; everything else needs records already there.
    // A file that is not there is said before anything is created.
    if let Command::Import { file } = &c {
        anyhow::ensure!(file.is_file(), "cannot read {}: there is no such file", file.display());
    }
    let d = if matches!(c, Command::Import { .. } | Command::Set(_)) {
        super::create_data(data).await?
    } else {
        super::open_data(data).await?
    };
    match c {
        Command::Import { file } => {
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let rows = crate::import::read_cases(&file, &codes)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let (actor, at) = (super::actor(), super::now());
            let (mut created, mut updated, mut same) = (0, 0, 0);
            for batch in rows.cases.chunks(IMPORT_BATCH) {
                for u in d.records.upsert_cases(batch, &actor, &at).await? {
                    match u {
                        Upsert::Created => created += 1,
                        Upsert::Updated => updated += 1,
                        Upsert::Unchanged => same += 1,
                    }
                }
            }
            for e in &rows.errors {
                eprintln!("{}: row {}: {}", file.display(), e.row, e.reason);
            }
            print!("{}", import_summary(&rows, &d.records.procedures().await?));
            println!(
                "{} case(s) imported: {created} new, {updated} updated, {same} unchanged; {} row(s) refused",
                rows.cases.len(),
                rows.errors.len()
            );
            Ok(u8::from(!rows.errors.is_empty()))
        }
        Command::Retype { code, ordinal, doc_type, role } => {
            let code = nfc(code.trim());
            let doc_type = doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
            anyhow::ensure!(doc_type.is_some() || role.is_some(), "say what to set: --type T, --role R or both");
            let changed = d
                .records
                .set_document_type(
                    &code,
                    ordinal,
                    doc_type.as_deref(),
                    role.as_deref().and_then(DocRole::parse),
                    &super::actor(),
                    &super::now(),
                )
                .await?;
            let Some(changed) = changed else {
                if d.records.case_record(&code).await?.is_none() {
                    anyhow::bail!("there is no case {code}; `sohoa case list` lists the cases");
                }
                anyhow::bail!("case {code} has no attached document {ordinal:03}; `sohoa case show {code}` lists them");
            };
            if !changed {
                println!("{code}.{ordinal:03}.pdf already has that type and role; nothing changed");
                return Ok(0);
            }
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            pipeline.drain(1, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))).await?;
            println!("{code}.{ordinal:03}.pdf is now {}", doc_type.as_deref().or(role.as_deref()).unwrap_or_default());
            // A type the case's procedure does not list is kept, but counts for no required input.
            if let Some(t) = &doc_type {
                let record = d.records.case_record(&code).await?;
                let c = d.records.completeness(&code, record.and_then(|r| r.procedure_code).as_deref()).await?;
                if !c.required.is_empty() && !c.required.iter().any(|r| crate::store::cases::same_type(&r.doc_type, t))
                {
                    let listed: Vec<&str> = c.required.iter().map(|r| r.doc_type.as_str()).collect();
                    eprintln!(
                        "note: `{t}` is not a type the case's procedure requires ({}); it counts for none of them",
                        listed.join(", ")
                    );
                }
            }
            Ok(0)
        }
        Command::Detach { code, ordinal, reason } => {
            let code = nfc(code.trim());
            let reason = nfc(reason.trim());
            if reason.is_empty() {
                anyhow::bail!("say why with --reason: the audit log keeps it");
            }
            let Some((name, sha)) =
                d.records.detach_document(&code, ordinal, &reason, &super::actor(), &super::now()).await?
            else {
                anyhow::bail!("case {code} has no attached document {ordinal:03}; `sohoa case show {code}` lists them");
            };
            let views = crate::view::Views::new(data.to_path_buf());
            views.removed(&code, &name);
            views.removed(&code, &format!("{code}.pdf"));
            println!("detached {name} (sha256 {sha}); its pages are unfiled");
            Ok(0)
        }
        Command::Render { code, ordinal } => {
            let code = nfc(code.trim());
            if !d.records.render_again(&code, ordinal, &super::actor(), &super::now()).await? {
                anyhow::bail!(
                    "case {code} has no document {ordinal:03} set aside; `sohoa case show {code}` lists its \
                     documents (one set aside is closed, with a set-aside event)"
                );
            }
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            pipeline.drain(1, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))).await?;
            println!("{code}.{ordinal:03}.pdf rendered again");
            Ok(0)
        }
        Command::KeepPage { code, ordinal, page } => {
            let code = nfc(code.trim());
            if !d.records.keep_blank_page(&code, ordinal, page, &super::actor(), &super::now()).await? {
                anyhow::bail!(
                    "case {code} has no page {ordinal:03}/{page} left out as blank; `sohoa case show {code}` lists \
                     the pages (those left out say blank-omitted)"
                );
            }
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            pipeline.drain(1, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))).await?;
            println!("page {ordinal:03}/{page} is back in {code}.{ordinal:03}.pdf");
            Ok(0)
        }
        Command::Set(args) => {
            let SetArgs { code, fields } = *args;
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let code = codes.validate(&code).map_err(anyhow::Error::msg)?;
            let fields = fields.parse().map_err(anyhow::Error::msg)?;
            let what = d.records.upsert_case(&code, &fields, false, &super::actor(), &super::now()).await?;
            println!("case {code}: {}", serde_json::to_value(what)?.as_str().unwrap_or(""));
            Ok(0)
        }
        Command::List { json } => {
            let cases = d.records.case_summaries().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cases)?);
                return Ok(0);
            }
            println!("{:<32} {:>9} {:>7} {:>6}", "CASE", "DOCUMENTS", "PENDING", "PAGES");
            for c in &cases {
                println!("{:<32} {:>9} {:>7} {:>6}", c.code, c.documents, c.pending, c.pages);
            }
            let unfiled = d.records.unfiled(None).await?;
            let quarantined = d.records.quarantine_list(None).await?;
            println!(
                "{} case(s); {} unfiled page(s); {} quarantined input(s)",
                cases.len(),
                unfiled.len(),
                quarantined.len()
            );
            Ok(0)
        }
        Command::Show { code, json, personal } => {
            let code = nfc(code.trim());
            let Some(detail) = d.records.case_detail(&code).await? else {
                // A code that is not one at all is said so, not looked for in vain.
                let rule = crate::route::CaseCodeRule::from_profile(&super::load_profile(None)?.settings.routing)?;
                if let Err(e) = rule.validate(&code) {
                    anyhow::bail!("{e}");
                }
                anyhow::bail!("no case `{code}` in {}; `sohoa case list` shows the known ones", data.display());
            };
            let mut record = d.records.case_record(&code).await?.unwrap_or_default();
            if !personal {
                for f in [&mut record.applicant_name, &mut record.applicant_id, &mut record.applicant_contact] {
                    if f.is_some() {
                        *f = Some("(hidden; --personal shows it)".into());
                    }
                }
            }
            let completeness = d.records.completeness(&code, record.procedure_code.as_deref()).await?;
            let seen = serde_json::json!({ "personal": personal });
            d.records.log_access(&super::actor(), "view", Some(&code), None, &seen, &super::now()).await?;
            if json {
                let mut v = serde_json::to_value(&detail)?;
                v["record"] = serde_json::to_value(&record)?;
                v["completeness"] = serde_json::to_value(&completeness)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(0);
            }
            println!("Case {}", detail.code);
            println!(
                "  procedure {}  unit {}  status {}  received {}  due {}  resolved {}",
                record.procedure_code.as_deref().unwrap_or("-"),
                record.unit.as_deref().unwrap_or("-"),
                record.status.as_str(),
                record.received_date.as_deref().unwrap_or("-"),
                record.due_date.as_deref().unwrap_or("-"),
                record.resolved_date.as_deref().unwrap_or("-"),
            );
            if let Some(name) = &record.applicant_name {
                println!(
                    "  applicant {name}  ID {}  contact {}",
                    record.applicant_id.as_deref().unwrap_or("-"),
                    record.applicant_contact.as_deref().unwrap_or("-")
                );
            }
            println!(
                "\nCompleteness: {}",
                if !completeness.judged {
                    "NOT JUDGED: the case names no procedure the catalogue knows (`sohoa case set CODE --procedure P`)"
                } else if completeness.complete {
                    "complete"
                } else {
                    "INCOMPLETE"
                }
            );
            for r in &completeness.required {
                let state = serde_json::to_value(r.state)?;
                println!("  {:<10} {}  {}", state.as_str().unwrap_or(""), r.doc_type, r.documents.join(", "));
            }
            println!(
                "  inputs attached: {}; result: {}",
                completeness.inputs_attached,
                match (completeness.result_required, completeness.results_attached) {
                    (false, _) => "not issued by this procedure".to_string(),
                    (true, 0) => "MISSING".to_string(),
                    (true, n) => format!("{n} attached"),
                }
            );
            println!("\nDocuments");
            for doc in &detail.documents {
                println!(
                    "  {}  {:<6} {:<8} {:>3} page(s)  {}  {}",
                    doc.name,
                    doc.role,
                    doc.state,
                    doc.pages,
                    doc.bytes.map(|b| format!("{b} bytes")).unwrap_or_default(),
                    doc.sha256.as_deref().unwrap_or("-"),
                );
                if let Some(t) = &doc.doc_type {
                    println!("      type: {t}");
                }
            }
            println!("\nPages");
            for p in &detail.pages {
                println!(
                    "  {:03}/{:<3} {} #{}  {}×{} @ {:.0} dpi ({})  {}  {}{}",
                    p.ordinal.unwrap_or(0),
                    p.page_no.unwrap_or(0),
                    p.source,
                    p.page_index + 1,
                    p.width,
                    p.height,
                    p.dpi,
                    p.dpi_source,
                    p.colour,
                    p.encoding.as_deref().unwrap_or("pending"),
                    if p.flags.is_empty() { String::new() } else { format!("  [{}]", p.flags.join(", ")) }
                );
                println!("      source sha256 {}", p.source_sha256);
                let norm = p.normalization.clone().and_then(|v| serde_json::from_value::<PageNormalization>(v).ok());
                if let Some(text) = norm.map(|n| n.describe()).filter(|t| !t.is_empty()) {
                    println!("      normalized: {text}");
                }
            }
            if !detail.quarantined.is_empty() {
                println!("\nQuarantined");
                for q in &detail.quarantined {
                    println!("  {}: {} [{}]", q.source, q.reason, q.code);
                }
            }
            println!("\nEvents");
            for e in &detail.events {
                println!("  {}  {:<10} {:<16} {}", e.at, e.kind, e.actor, e.sha256.as_deref().unwrap_or(""));
            }
            Ok(0)
        }
    }
}

/// What an import read and how: the columns used and ignored, how each date column was written, the
/// codes listed more than once, and the procedures the catalogue does not know (such cases count in no
/// digitization figure until it does).
fn import_summary(rows: &crate::import::CaseRows, catalogue: &[crate::store::cases::Procedure]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let used: Vec<String> = rows
        .columns
        .iter()
        .filter_map(|(h, f)| f.map(|f| if h == f { h.clone() } else { format!("{h} → {f}") }))
        .collect();
    let unused: Vec<&str> = rows.columns.iter().filter(|(_, f)| f.is_none()).map(|(h, _)| h.as_str()).collect();
    let _ = writeln!(s, "columns read: {}", used.join(", "));
    if !unused.is_empty() {
        let _ = writeln!(s, "columns not used: {}", unused.join(", "));
    }
    for (field, forms) in &rows.date_forms {
        let forms: Vec<String> = forms.iter().map(|(f, n)| format!("{n} as {}", f.describe())).collect();
        let _ = writeln!(s, "dates {field}: {}", forms.join("; "));
    }
    if !rows.duplicates.is_empty() {
        let list: Vec<String> = rows
            .duplicates
            .iter()
            .map(|(code, lines)| {
                format!("{code} (rows {})", lines.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
            })
            .collect();
        let _ = writeln!(
            s,
            "{} code(s) listed more than once; the last row of each was imported: {}",
            rows.duplicates.len(),
            list.join(", ")
        );
    }
    let known: std::collections::HashSet<&str> = catalogue.iter().map(|p| p.code.as_str()).collect();
    let mut unknown: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut without = 0;
    for (_, f) in &rows.cases {
        match f.procedure.as_deref() {
            Some(p) if !known.contains(p) => *unknown.entry(p).or_default() += 1,
            None => without += 1,
            _ => {}
        }
    }
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(|(p, n)| format!("{p} ({n} case(s))")).collect();
        let _ = writeln!(
            s,
            "procedures the catalogue does not know: {}; these cases count in no digitization figure until \
             `sohoa procedure import` adds them",
            list.join(", ")
        );
    }
    // (A file without a procedure column leaves each case's procedure as it was.)
    if without > 0 && rows.columns.iter().any(|(_, f)| *f == Some("procedure")) {
        let _ = writeln!(s, "{without} case(s) name no procedure: they count in no digitization figure");
    }
    s
}
