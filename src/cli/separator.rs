//! `sohoa separator print`: the sheets a clerk puts in front of each dossier of a stack.

use std::path::PathBuf;

use clap::Subcommand;

use crate::separate::print::{SheetSpec, Symbology, sheets};

#[derive(Subcommand)]
pub(super) enum Command {
    /// Print one A4 separator sheet per case code into a PDF. A profile with `[separators] detect =
    /// true` (the archive profile) splits a scanned stack at each sheet: the pages after it go to its
    /// case, the sheet itself is kept in the record and left out of the PDF.
    Print {
        /// Case codes, one sheet each (none with --symbology patch-t).
        codes: Vec<String>,
        /// Where to write the PDF.
        #[arg(long, short)]
        out: PathBuf,
        /// The mark on the sheet: qr (code, role and type), code128 (the code only), datamatrix, or
        /// patch-t (a new document, no code).
        #[arg(long, value_enum, default_value = "qr")]
        symbology: Symbology,
        /// The documents that follow are inputs or results.
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
        /// The document type that follows, e.g. "Đơn đề nghị".
        #[arg(long = "type")]
        doc_type: Option<String>,
        /// With patch-t: how many sheets.
        #[arg(long, default_value_t = 1)]
        count: usize,
    },
}

pub(super) fn run(c: Command) -> anyhow::Result<u8> {
    let Command::Print { codes, out, symbology, role, doc_type, count } = c;
    let doc_type = doc_type.map(|t| crate::util::text::nfc(t.trim())).filter(|t| !t.is_empty());
    let specs: Vec<SheetSpec> = if symbology == Symbology::PatchT {
        anyhow::ensure!(codes.is_empty(), "a PATCH-T sheet carries no case code; leave the codes out");
        vec![SheetSpec::default(); count.max(1)]
    } else {
        anyhow::ensure!(!codes.is_empty(), "name at least one case code, e.g. H15.50.05.13-261008-0975");
        let profile = super::load_profile(None)?;
        let rule = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
        codes
            .iter()
            .map(|c| {
                let case = rule.validate(c).map_err(super::said_code_problem)?;
                Ok(SheetSpec { case: Some(case.into_string()), role: role.clone(), doc_type: doc_type.clone() })
            })
            .collect::<anyhow::Result<_>>()?
    };
    let pdf = sheets(&specs, symbology)?;
    std::fs::write(&out, pdf).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    eprintln!("{} sheet(s) written to {}", specs.len(), out.display());
    Ok(0)
}
