//! `sohoa quarantine …`: the inputs that were refused, and what a clerk decides about each.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Subcommand;

use crate::pipeline::Pipeline;
use crate::profile::DocRole;
use crate::store::quarantine::RetryRoute;

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
    /// Send an input through the pipeline again once the cause is fixed (a newer release, or the case
    /// it belongs to given with --case). The jobs run here, now; a running `sohoa serve` would take
    /// them up as well.
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
                println!("{}  {}  {}  [{}] {}", q.intake, q.captured_at, q.source, q.code, q.reason);
                println!("    {}", q.reason_vi);
            }
            eprintln!("{} input(s) in quarantine", list.len());
            Ok(0)
        }
        Command::Retry { id, case, role, doc_type } => {
            let route = match case {
                Some(case) => {
                    let profile = super::load_profile(None)?;
                    let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
                    let case = codes.validate(&case).map_err(anyhow::Error::msg)?;
                    let role = role.as_deref().and_then(DocRole::parse).unwrap_or_default();
                    let doc_type =
                        doc_type.map(|t| crate::util::text::nfc(t.trim())).filter(|t: &String| !t.is_empty());
                    Some(RetryRoute { case: case.into_string(), role, doc_type })
                }
                None => None,
            };
            let id = id.trim();
            pipeline
                .retry_quarantined(id, route.as_ref(), &super::actor(), &super::now())
                .await?
                .map_err(|r| anyhow::anyhow!("input {id}: {r}"))?;
            pipeline.drain(1, Arc::new(AtomicBool::new(false))).await?;
            let intake = d.records.intake(id).await?;
            match intake.map(|i| i.state) {
                Some(crate::store::records::IntakeState::Quarantined) => {
                    let again = d.records.quarantine_list(None).await?;
                    let why = again.iter().find(|q| q.intake == id).map(|q| q.reason.clone()).unwrap_or_default();
                    println!("input {id} was quarantined again: {why}");
                    Ok(1)
                }
                _ => {
                    println!("input {id} went through; `sohoa case show` or `sohoa case list` shows where");
                    Ok(0)
                }
            }
        }
        Command::Discard { id, reason } => {
            let reason = crate::util::text::nfc(reason.trim());
            anyhow::ensure!(!reason.is_empty(), "say why with --reason; the audit log keeps it");
            let id = id.trim();
            pipeline
                .discard_quarantined(id, &reason, &super::actor(), &super::now())
                .await?
                .map_err(|r| anyhow::anyhow!("input {id}: {r}"))?;
            println!("input {id} discarded; its record and bytes are kept");
            Ok(0)
        }
    }
}
