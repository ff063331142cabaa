//! `sohoa case list` and `sohoa case show`.

use std::path::Path;

use clap::Subcommand;

use crate::util::text::nfc;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Every case with its documents and pages.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One case: documents, pages, hashes, quarantined inputs, events.
    Show {
        /// The case code, e.g. H15.50.05.13-261008-0975.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    match c {
        Command::List { json } => {
            let cases = d.records.case_summaries().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cases)?);
                return Ok(0);
            }
            println!("{:<32} {:>9} {:>7} {:>6}", "CASE", "DOCUMENTS", "PENDING", "PAGES");
            for c in &cases {
                println!("{:<32} {:>9} {:>7} {:>6}", c.code, c.documents, c.pending, c.pages);
            }
            let unfiled = d.records.unfiled().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let quarantined = d.records.quarantined(None).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{} case(s); {} unfiled page(s); {} quarantined input(s)",
                cases.len(),
                unfiled.len(),
                quarantined.len()
            );
            Ok(0)
        }
        Command::Show { code, json } => {
            let code = nfc(code.trim());
            let Some(detail) = d.records.case_detail(&code).await.map_err(|e| anyhow::anyhow!("{e}"))? else {
                anyhow::bail!("no case `{code}` in {}; `sohoa case list` shows the known ones", data.display());
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&detail)?);
                return Ok(0);
            }
            println!("Case {}", detail.code);
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
