//! `sohoa quarantine …`: the inputs that were refused, and what a clerk decides about each.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Subcommand;

use crate::pipeline::Pipeline;
use crate::profile::DocRole;
use crate::store::quarantine::RetryRoute;
use crate::util::lang::say;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Every input in quarantine, with its id and the reason (`--json` for tools).
    List {
        /// Only the inputs routed to this case.
        #[arg(long)]
        case: Option<String>,
        /// One JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Send an input through the pipeline again once the cause is fixed: the case it belongs to given
    /// with --case, or a corrected manifest put beside the file in the quarantine folder (or in its
    /// inbox folder), which is read again; says which it went by. An empty or cut-short file is not
    /// retried: scan the paper again. The jobs run here, now; a running `sohoa serve` would take them
    /// up as well.
    Retry {
        /// The input's id, from `quarantine list`.
        id: String,
        /// File it to this case (when its name or manifest gave a wrong or no case code).
        #[arg(long)]
        case: Option<String>,
        /// With --case: input (the default) or result.
        #[arg(long, value_parser = ["input", "result"], requires = "case")]
        role: Option<String>,
        /// With --case: the document type, e.g. "Đơn đề nghị".
        #[arg(long = "type", requires = "case")]
        doc_type: Option<String>,
    },
    /// Take an input off the quarantine list (a test scan, a sheet sent twice). Its record and bytes
    /// stay; the reason is on the audit log.
    Discard {
        /// The input's id, from `quarantine list`.
        id: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
    match c {
        Command::List { case, json } => {
            let case = case.map(|c| crate::util::text::nfc(c.trim()));
            let list = d.records.quarantine_list(case.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            for q in &list {
                let then =
                    if q.scan_again { say("  → cần quét lại", "  → scan it again") } else { String::new() };
                println!("{}  {}  {}  [{}]{then}", q.intake, q.captured_at, q.source, q.code);
                match crate::util::lang::current() {
                    crate::util::lang::Lang::Vi => println!("    {}\n    chi tiết: {}", q.reason_vi, q.reason),
                    crate::util::lang::Lang::En => println!("    {}", q.reason),
                }
            }
            eprintln!(
                "{}",
                say(format!("{} tệp đang bị cách ly", list.len()), format!("{} input(s) in quarantine", list.len()))
            );
            Ok(0)
        }
        Command::Retry { id, case, role, doc_type } => {
            let route = match case {
                Some(case) => {
                    let profile = super::load_profile(None)?;
                    let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
                    let case = codes.validate(&case).map_err(super::said_code_problem)?;
                    let role = role.as_deref().and_then(DocRole::parse).unwrap_or_default();
                    let doc_type =
                        doc_type.map(|t| crate::util::text::nfc(t.trim())).filter(|t: &String| !t.is_empty());
                    Some(RetryRoute { case: case.into_string(), role, doc_type })
                }
                None => None,
            };
            let id = id.trim();
            let with = pipeline
                .retry_quarantined(id, route.as_ref(), &super::actor(), &super::now())
                .await?
                .map_err(|r| anyhow::anyhow!("{}", say(format!("tệp {id}: {r}"), format!("input {id}: {r}"))))?;
            println!("{}", with.said());
            pipeline.drain(1, Arc::new(AtomicBool::new(false))).await?;
            let intake = d.records.intake(id).await?;
            match intake.map(|i| i.state) {
                Some(crate::store::records::IntakeState::Quarantined) => {
                    let again = d.records.quarantine_list(None).await?;
                    let q = again.iter().find(|q| q.intake == id);
                    let why = q.map(|q| say(q.reason_vi.clone(), q.reason.clone())).unwrap_or_default();
                    println!(
                        "{}",
                        say(
                            format!("tệp {id} lại bị cách ly: {why}"),
                            format!("input {id} was quarantined again: {why}")
                        )
                    );
                    Ok(1)
                }
                _ => {
                    println!(
                        "{}",
                        say(
                            format!(
                                "tệp {id} đã qua xử lý; `sohoa case show` hoặc `sohoa case list` cho biết nó ở đâu"
                            ),
                            format!("input {id} went through; `sohoa case show` or `sohoa case list` shows where"),
                        )
                    );
                    Ok(0)
                }
            }
        }
        Command::Discard { id, reason } => {
            let reason = crate::util::text::nfc(reason.trim());
            anyhow::ensure!(
                !reason.is_empty(),
                "{}",
                say(
                    "hãy ghi lý do bằng --reason; nhật ký lưu lại lý do",
                    "say why with --reason; the audit log keeps it"
                )
            );
            let id = id.trim();
            pipeline
                .discard_quarantined(id, &reason, &super::actor(), &super::now())
                .await?
                .map_err(|r| anyhow::anyhow!("{}", say(format!("tệp {id}: {r}"), format!("input {id}: {r}"))))?;
            println!(
                "{}",
                say(
                    format!("đã loại bỏ tệp {id}; hồ sơ ghi nhận và nội dung tệp vẫn được giữ"),
                    format!("input {id} discarded; its record and bytes are kept")
                )
            );
            Ok(0)
        }
    }
}
