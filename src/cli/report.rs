//! `sohoa report`: the Decision 766 digitization figures for a period.

use std::path::Path;

use crate::report::{self, Period};
use crate::util::text::nfc;
use crate::util::time::local_date;

pub(super) const LONG_ABOUT: &str = "\
The digitization figures of Decision 766/QĐ-TTg for a period, per unit and procedure:

  electronic-result rate  cases with a result file ÷ cases resolved in the period whose procedure
                          issues a written result (by resolved date)
  digitization rate       cases with input AND result files (result only when one is issued) ÷ cases
                          received in the period (by received date)
  reuse rate              cases with an input already digitized for another case ÷ cases received

each with numerator and denominator, and the score: full points at 80% or more, else rate ÷ 80%.
Cases come from `sohoa case import` (the one-stop system's export); a case nobody scanned counts as
not digitized. Dates are local dates in Asia/Ho_Chi_Minh. The cases behind every shortfall are listed.

Example:
  sohoa report --from 2026-07-01 --to 2026-09-30 --unit H15.50.05.13 --format csv > q3.csv";

#[derive(clap::Args)]
pub(super) struct Args {
    /// First day of the period (2026-07-01 or 01/07/2026), inclusive.
    #[arg(long)]
    from: String,
    /// Last day of the period, inclusive.
    #[arg(long)]
    to: String,
    /// Only cases received by this unit.
    #[arg(long)]
    unit: Option<String>,
    /// Only cases of this procedure.
    #[arg(long)]
    procedure: Option<String>,
    /// table (for reading), csv (for a spreadsheet) or json (everything, with the shortfall cases).
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    let from = local_date(&a.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = local_date(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if to < from {
        anyhow::bail!("--to {to} is before --from {from}");
    }
    let d = super::open_data(data).await?;
    let period =
        Period { from, to, unit: a.unit.map(|u| nfc(u.trim())), procedure: a.procedure.map(|p| nfc(p.trim())) };
    let r = report::compute(&d.records, &period).await?;
    match a.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&r)?),
        "csv" => print!("{}", report::to_csv(&r)),
        _ => print!("{}", report::to_table(&r)),
    }
    let detail = serde_json::json!({ "from": r.from, "to": r.to, "unit": r.unit, "procedure": r.procedure });
    d.records.log_access(&super::actor(), "report", None, None, &detail, &super::now()).await?;
    Ok(0)
}
