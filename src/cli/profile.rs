//! `sohoa profile check`.

use std::path::PathBuf;

use clap::Subcommand;

use crate::profile::Profile;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Validate profiles; prints every error as `file:line: message`. Exits 1 if any is invalid.
    Check {
        /// Profile files (e.g. pipelines/counter.toml).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub(super) fn run(c: Command) -> anyhow::Result<u8> {
    let Command::Check { files } = c;
    let mut bad = false;
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                println!("{}: cannot read: {e}", f.display());
                bad = true;
                continue;
            }
        };
        match Profile::parse(&text) {
            Ok(p) => println!("{}: ok (profile `{}`, sha256 {})", f.display(), p.name(), &p.sha256[..12]),
            Err(errors) => {
                bad = true;
                for e in errors {
                    println!("{}:{}: {}", f.display(), e.line, e.message);
                }
            }
        }
    }
    Ok(u8::from(bad))
}
