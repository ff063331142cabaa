//! `sohoa unfiled …`: scans that no manifest, folder name or file name tied to a case, and filing
//! them — what the clerk page's unfiled view does, for a terminal or a script.

use crate::util::lang::say;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Subcommand;

use crate::pipeline::Pipeline;
use crate::profile::DocRole;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Every unfiled scan: its input id (what `unfiled file` takes), when and where it was captured, and
    /// its pages (`--json` for tools).
    List {
        /// Only the scans this unit's stations captured.
        #[arg(long)]
        unit: Option<String>,
        /// One JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// File every unfiled page of a scan into a case; its document is built and attached now.
    File {
        /// The input's id, from `unfiled list`.
        id: String,
        /// The case code, e.g. H15.50.05.13-261008-0975.
        #[arg(long)]
        case: String,
        /// input or result (default: what the scan's manifest said, else input).
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
        /// The document type, e.g. "Đơn đề nghị" (default: what the scan's manifest said).
        #[arg(long = "type")]
        doc_type: Option<String>,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    match c {
        Command::List { unit, json } => {
            let unit = unit.map(|u| crate::util::text::nfc(u.trim()));
            let mut pages = d.records.unfiled(unit.as_deref()).await?;
            Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf()).explain_unfiled(&mut pages).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&pages)?);
                return Ok(0);
            }
            // One line per scan, with its page count: a clerk files scans, not pages.
            let mut scans: Vec<(&crate::store::queries::UnfiledPage, usize)> = Vec::new();
            for p in &pages {
                match scans.last_mut() {
                    Some((first, n)) if first.intake == p.intake => *n += 1,
                    _ => scans.push((p, 1)),
                }
            }
            for (p, n) in &scans {
                let unit =
                    p.unit.as_deref().map(|u| say(format!("  đơn vị {u}"), format!("  unit {u}"))).unwrap_or_default();
                let pages = say(format!("{n} trang"), format!("{n} page(s)"));
                println!("{}  {}  {}  {}  {pages}{unit}", p.intake, p.captured_at, p.station, p.source);
                let why = say(
                    p.why_vi.as_deref().map(|w| format!("    lý do: {w}")).unwrap_or_default(),
                    p.why.as_deref().map(|w| format!("    why: {w}")).unwrap_or_default(),
                );
                if !why.is_empty() {
                    println!("{why}");
                }
            }
            let (n, pages) = (scans.len(), pages.len());
            eprintln!(
                "{}",
                say(
                    format!(
                        "{n} bản quét chưa phân loại, {pages} trang; `sohoa unfiled file ID --case MÃ` gắn một bản vào hồ sơ"
                    ),
                    format!("{n} unfiled scan(s), {pages} page(s); `sohoa unfiled file ID --case CODE` files one"),
                )
            );
            Ok(0)
        }
        Command::File { id, case, role, doc_type } => {
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let case = codes.validate(&case).map_err(super::said_code_problem)?;
            let doc_type = doc_type.map(|t| crate::util::text::nfc(t.trim())).filter(|t| !t.is_empty());
            let id = id.trim();
            // A mistyped code makes a new case: filed all the same (the scan is safe and can be
            // detached), but said, so the clerk checks it.
            let known = d.records.case_record(&case).await?;
            let unknown_case = known.as_ref().is_none_or(|c| c.origin != crate::store::cases::Origin::Import);
            let filed = d
                .records
                .file_unfiled(
                    id,
                    &case,
                    role.as_deref().and_then(DocRole::parse),
                    doc_type.as_deref(),
                    &super::actor(),
                    &super::now(),
                )
                .await?;
            let Some(ordinal) = filed else {
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "tệp {id} không có trang nào chưa phân loại; `sohoa unfiled list` liệt kê các bản quét"
                        ),
                        format!("input {id} has no unfiled page; `sohoa unfiled list` lists them"),
                    )
                );
            };
            let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            pipeline.drain(1, Arc::new(AtomicBool::new(false))).await?;
            println!(
                "{}",
                say(
                    format!("đã gắn tệp {id} thành {case}.{ordinal:03}.pdf; `sohoa case show {case}` cho xem"),
                    format!("input {id} filed as {case}.{ordinal:03}.pdf; `sohoa case show {case}` shows it"),
                )
            );
            if unknown_case {
                let (created_vi, created_en) = if known.is_none() {
                    ("; hồ sơ vừa được tạo", "; it was created now")
                } else {
                    ("", "")
                };
                eprintln!(
                    "{}",
                    say(
                        format!(
                            "lưu ý: chưa có dữ liệu một cửa nào có hồ sơ {case}{created_vi}. Nếu gõ nhầm mã, `sohoa case \
                             detach {case} {ordinal:03} --reason …` đưa bản quét về chưa phân loại"
                        ),
                        format!(
                            "note: no one-stop export names case {case} yet{created_en}. If the code is mistyped, `sohoa \
                             case detach {case} {ordinal:03} --reason …` unfiles the scan again"
                        ),
                    )
                );
            }
            Ok(0)
        }
    }
}
