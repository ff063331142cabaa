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
  reuse rate              cases with an input already digitized for another case (the same bytes, or
                          marked by a manifest's reused_from or `sohoa case reuse`) ÷ cases received
  online                  cases submitted online ÷ cases received (the export's channel column)

each with numerator and denominator, and the score: full points at 80% or more, else rate ÷ 80%
(--points gives the points earned from each indicator's full points).
Cases come from `sohoa case import` (the one-stop system's export); a case nobody scanned counts as
not digitized. Dates are local dates in Asia/Ho_Chi_Minh. The cases behind every shortfall are listed.

A unit includes the units under it: --unit H15.50.05 counts its communes H15.50.05.*, with a subtotal
per unit. --by month (or quarter) gives one report per calendar month (quarter) of the period, in one
run: one table each, one CSV with every period's rows, or a JSON list.

Examples:
  sohoa report --from 2026-07-01 --to 2026-09-30 --unit H15.50.05.13 --format csv > q3.csv
  sohoa report --from 2026-01-01 --to 2026-12-31 --unit H15.50.05 --by month --format csv > 2026.csv
  sohoa report --from 2026-07-01 --to 2026-09-30 --format xlsx --out q3.xlsx --points digitization=2";

#[derive(clap::Args)]
pub(super) struct Args {
    /// First day of the period (2026-07-01 or 01/07/2026), inclusive.
    #[arg(long)]
    from: String,
    /// Last day of the period, inclusive.
    #[arg(long)]
    to: String,
    /// Only cases received by this unit or a unit under it (H15.50.05 includes H15.50.05.13).
    #[arg(long)]
    unit: Option<String>,
    /// Only cases of this procedure.
    #[arg(long)]
    procedure: Option<String>,
    /// table (for reading), csv (one line per indicator), json (everything, with the shortfall cases)
    /// or xlsx (a workbook: the figures with names and percentages, every shortfall case, the data to
    /// review; needs --out).
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json", "xlsx"])]
    format: String,
    /// Where to write the xlsx workbook.
    #[arg(long, short, value_name = "FILE")]
    out: Option<std::path::PathBuf>,
    /// The full points of each scored indicator, as the province's scoring guide sets them, e.g.
    /// `electronic_result=2,digitization=2,reuse=1`: the points earned are then given beside the share.
    #[arg(long, value_name = "INDICATOR=POINTS,…", value_parser = report::FullPoints::parse)]
    points: Option<report::FullPoints>,
    /// One report per calendar month or quarter of the period (the first and last may be partial).
    #[arg(long, value_enum)]
    by: Option<Series>,
}

/// The periods of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Series {
    /// Calendar months.
    Month,
    /// Calendar quarters (January–March, …).
    Quarter,
}

/// The periods `from ..= to` falls into, each cut to the range: calendar months or quarters.
fn periods(from: &str, to: &str, by: Option<Series>) -> Vec<(String, String)> {
    let Some(by) = by else { return vec![(from.to_string(), to.to_string())] };
    let months = if by == Series::Month { 1 } else { 3 };
    let ym = |d: &str| -> (i32, u32) { (d[..4].parse().unwrap_or(2000), d[5..7].parse().unwrap_or(1)) };
    let (mut year, mut month) = ym(from);
    // A quarter begins in January, April, July or October.
    month -= (month - 1) % months;
    let mut out = Vec::new();
    loop {
        let start = format!("{year:04}-{month:02}-01");
        let (ny, nm) = if month + months > 12 { (year + 1, month + months - 12) } else { (year, month + months) };
        let next = format!("{ny:04}-{nm:02}-01");
        let end = last_day_before(&next);
        let (a, b) = (start.as_str().max(from), end.as_str().min(to));
        if a > to {
            break;
        }
        out.push((a.to_string(), b.to_string()));
        (year, month) = (ny, nm);
    }
    out
}

/// The day before `YYYY-MM-01`.
fn last_day_before(first: &str) -> String {
    let (y, m): (i32, u32) = (first[..4].parse().unwrap_or(2000), first[5..7].parse().unwrap_or(1));
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let leap = (py % 4 == 0 && py % 100 != 0) || py % 400 == 0;
    let days = match pm {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    format!("{py:04}-{pm:02}-{days:02}")
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    let from = local_date(&a.from).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
    let to = local_date(&a.to).map_err(|e| anyhow::anyhow!("--to: {e}"))?;
    if to < from {
        anyhow::bail!(
            "{}",
            crate::util::lang::say(
                format!("--to {to} trước --from {from}: ngày cuối kỳ không được trước ngày đầu kỳ"),
                format!("--to {to} is before --from {from}")
            )
        );
    }
    if a.format == "xlsx" && a.out.is_none() {
        anyhow::bail!(
            "{}",
            crate::util::lang::say(
                "--format xlsx cần --out TỆP.xlsx (nơi ghi bảng tính)",
                "--format xlsx needs --out FILE.xlsx (where to write the workbook)"
            )
        );
    }
    let d = super::open_data(data).await?;
    let (unit, procedure) = (a.unit.map(|u| nfc(u.trim())), a.procedure.map(|p| nfc(p.trim())));
    let mut reports = Vec::new();
    for (from, to) in periods(&from, &to, a.by) {
        let period = Period { from, to, unit: unit.clone(), procedure: procedure.clone() };
        let r = report::compute(&d.records, &period).await?;
        reports.push(match &a.points {
            Some(p) => r.with_points(p),
            None => r,
        });
    }
    match (a.format.as_str(), a.by) {
        ("xlsx", _) => {
            let out = a.out.clone().unwrap_or_default();
            report::xlsx::write(&reports, &out).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
            eprintln!(
                "{}",
                crate::util::lang::say(format!("đã ghi {}", out.display()), format!("wrote {}", out.display()))
            );
        }
        ("json", None) => println!("{}", serde_json::to_string_pretty(&reports[0])?),
        ("json", Some(_)) => println!("{}", serde_json::to_string_pretty(&reports)?),
        ("csv", _) => {
            // One header and one BOM: the periods' rows one after the other (each row names its period).
            for (i, r) in reports.iter().enumerate() {
                let csv = report::to_csv(r);
                let body = if i == 0 { csv.as_str() } else { csv.split_once('\n').map_or("", |(_, rows)| rows) };
                print!("{body}");
            }
        }
        _ => {
            for r in &reports {
                print!("{}", report::to_table(r));
            }
        }
    }
    let detail = serde_json::json!({ "from": from, "to": to, "unit": unit, "procedure": procedure, "by": a.by.map(|b| format!("{b:?}").to_lowercase()) });
    d.records.log_access(&super::actor(), "report", None, None, &detail, &super::now()).await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn a_period_is_cut_into_calendar_months_or_quarters() {
        assert_eq!(periods("2026-07-15", "2026-09-10", None), [p("2026-07-15", "2026-09-10")]);
        assert_eq!(
            periods("2026-07-15", "2026-09-10", Some(Series::Month)),
            [p("2026-07-15", "2026-07-31"), p("2026-08-01", "2026-08-31"), p("2026-09-01", "2026-09-10")]
        );
        assert_eq!(
            periods("2027-11-20", "2028-03-01", Some(Series::Month)),
            [
                p("2027-11-20", "2027-11-30"),
                p("2027-12-01", "2027-12-31"),
                p("2028-01-01", "2028-01-31"),
                p("2028-02-01", "2028-02-29"),
                p("2028-03-01", "2028-03-01")
            ]
        );
        assert_eq!(
            periods("2026-02-10", "2026-07-05", Some(Series::Quarter)),
            [p("2026-02-10", "2026-03-31"), p("2026-04-01", "2026-06-30"), p("2026-07-01", "2026-07-05")]
        );
        assert_eq!(periods("2026-12-31", "2026-12-31", Some(Series::Quarter)), [p("2026-12-31", "2026-12-31")]);
    }
}
