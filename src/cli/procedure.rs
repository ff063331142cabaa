//! `sohoa procedure …`: the catalogue of procedures that makes "complete" and "digitized" measurable.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::store::cases::{Procedure, Upsert};
use crate::util::text::nfc;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Add or update every procedure of a catalogue file (TOML, `[[procedure]]` tables with code, name,
    /// unit, required_inputs, issues_result). Procedures not in the file are left alone.
    Import {
        /// The catalogue, e.g. fixtures/procedures.toml.
        file: PathBuf,
    },
    /// The catalogue.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add or change one procedure.
    Set {
        /// Procedure code, e.g. 1.001193.
        code: String,
        /// Its name (needed when the procedure is new).
        #[arg(long)]
        name: Option<String>,
        /// The agency that handles it.
        #[arg(long)]
        unit: Option<String>,
        /// A required input document type; repeat for several. Replaces the list when given.
        #[arg(long = "require", value_name = "TYPE")]
        require: Vec<String>,
        /// Whether it ends in a written result.
        #[arg(long, value_name = "true|false")]
        issues_result: Option<bool>,
    },
    /// Take a procedure out of the catalogue (cases keep its code; the removal is audited).
    Remove {
        /// Procedure code.
        code: String,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    // An import or a first token sets a station up; everything else needs records already there.
    let d = if matches!(c, Command::Import { .. }) {
        super::create_data(data).await?
    } else {
        super::open_data(data).await?
    };
    let (actor, at) = (super::actor(), super::now());
    match c {
        Command::Import { file } => {
            let list = crate::import::read_procedures(&file).map_err(anyhow::Error::msg)?;
            let (mut created, mut updated, mut same) = (0, 0, 0);
            for p in &list {
                match d.records.put_procedure(p, &actor, &at).await? {
                    Upsert::Created => created += 1,
                    Upsert::Updated => updated += 1,
                    Upsert::Unchanged => same += 1,
                }
            }
            println!(
                "{}",
                crate::util::lang::say(
                    format!("{} thủ tục: {created} mới, {updated} cập nhật, {same} không đổi", list.len()),
                    format!("{} procedure(s): {created} new, {updated} updated, {same} unchanged", list.len())
                )
            );
            Ok(0)
        }
        Command::List { json } => {
            let list = d.records.procedures().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            for p in &list {
                println!("{}  {}{}", p.code, p.name, if p.issues_result { "" } else { "  (no written result)" });
                if !p.unit.is_empty() {
                    println!("    unit: {}", p.unit);
                }
                if !p.required_inputs.is_empty() {
                    println!("    requires: {}", p.required_inputs.join("; "));
                }
            }
            println!("{} procedure(s)", list.len());
            Ok(0)
        }
        Command::Set { code, name, unit, require, issues_result } => {
            let code = nfc(code.trim());
            let old = d.records.procedures().await?.into_iter().find(|p| p.code == code);
            let Some(name) = name.map(|n| nfc(n.trim())).or(old.as_ref().map(|o| o.name.clone())) else {
                anyhow::bail!("procedure {code} is new: give it a --name");
            };
            let p = Procedure {
                code: code.clone(),
                name,
                unit: unit.map(|u| nfc(u.trim())).or(old.as_ref().map(|o| o.unit.clone())).unwrap_or_default(),
                required_inputs: if require.is_empty() {
                    old.as_ref().map(|o| o.required_inputs.clone()).unwrap_or_default()
                } else {
                    require.iter().map(|t| nfc(t.trim())).collect()
                },
                issues_result: issues_result.or(old.as_ref().map(|o| o.issues_result)).unwrap_or(true),
            };
            let what = d.records.put_procedure(&p, &actor, &at).await?;
            println!("procedure {code}: {}", serde_json::to_value(what)?.as_str().unwrap_or(""));
            Ok(0)
        }
        Command::Remove { code } => {
            let code = nfc(code.trim());
            if d.records.remove_procedure(&code, &actor, &at).await? {
                println!("procedure {code} removed");
                Ok(0)
            } else {
                anyhow::bail!("no procedure {code} in the catalogue; `sohoa procedure list` shows it")
            }
        }
    }
}
