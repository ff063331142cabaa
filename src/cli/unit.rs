//! `sohoa unit …`: the names of the receiving units, so the 766 report names each unit it counts.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::util::lang::say;
use crate::util::text::nfc;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Add or rename every unit of a CSV list with a header row: a code column (`code`, `Mã đơn vị`)
    /// and a name column (`name`, `Tên đơn vị`). Units not in the file are left alone.
    Import {
        /// The list, e.g. units.csv.
        file: PathBuf,
    },
    /// Add or rename one unit.
    Set {
        /// Unit code, e.g. H15.50.05.
        code: String,
        /// Its name, e.g. "UBND xã Tân Phú".
        #[arg(long)]
        name: String,
    },
    /// Every unit with its name.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    let d = if matches!(c, Command::List { .. }) {
        super::open_data(data).await?
    } else {
        super::create_data(data).await?
    };
    let (actor, at) = (super::actor(), super::now());
    match c {
        Command::Import { file } => {
            let units = crate::import::read_units(&file).map_err(anyhow::Error::msg)?;
            let changed = d.records.put_units(&units, &actor, &at).await?;
            println!(
                "{}",
                say(
                    format!("{} đơn vị: {changed} mới hoặc đổi tên", units.len()),
                    format!("{} unit(s): {changed} new or renamed", units.len())
                )
            );
            Ok(0)
        }
        Command::Set { code, name } => {
            let (code, name) = (nfc(code.trim()), nfc(name.trim()));
            anyhow::ensure!(
                !code.is_empty() && !name.is_empty(),
                "{}",
                say("cần mã đơn vị và --name", "a unit needs a code and a --name")
            );
            let changed = d.records.put_units(&[(code.clone(), name.clone())], &actor, &at).await?;
            let what = if changed > 0 { say("đã lưu", "saved") } else { say("không đổi", "unchanged") };
            println!("{code}  {name}: {what}");
            Ok(0)
        }
        Command::List { json } => {
            let units = d.records.units().await?;
            if json {
                let list: Vec<_> = units.iter().map(|(c, n)| serde_json::json!({ "code": c, "name": n })).collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(0);
            }
            for (c, n) in &units {
                println!("{c}  {n}");
            }
            println!("{}", say(format!("{} đơn vị", units.len()), format!("{} unit(s)", units.len())));
            Ok(0)
        }
    }
}
