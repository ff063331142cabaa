//! The digitization figures of Decision 766/QĐ-TTg, per unit and procedure, with the cases behind
//! every shortfall.
//!
//! The rules, as computed here (SPEC.md):
//! - **Received** cases are those received in the period, except withdrawn and cancelled ones: nothing
//!   is left to digitize for them, so they are counted apart (`left_out`) and in no denominator.
//! - **Electronic-result rate** = cases with a result document attached ÷ cases resolved in the period
//!   whose procedure issues a written result. A case falls in the period by its resolved date.
//! - **Digitization rate** = received cases with an input document attached *and*, once the case is
//!   resolved with a written result, a result document attached ÷ received cases. A case not yet
//!   resolved (or returned, rejected) is judged on its inputs: it cannot have a result yet. The two
//!   parts are shown too: **inputs digitized** (an input attached ÷ received) and **results digitized**
//!   (a result attached ÷ received cases resolved with a written result).
//! - **Reuse rate** = cases with an attached input whose bytes had already been digitized for another
//!   case ÷ received cases.
//! - **Score**: a rate of 80% or more earns the full points; below, points = full × rate ÷ 80%.
//!
//! Dates are local dates in Asia/Ho_Chi_Minh (UTC+7 all year), as stored. A case whose procedure the
//! catalogue does not know (or that names none) counts in no procedure-dependent figure — the
//! digitization rate and its parts, the electronic-result rate — until the catalogue knows it; it is
//! listed under data quality instead, with the cases no export mentions and those with no unit.

pub mod run;
pub mod xlsx;

use crate::util::lang::say;
use std::collections::BTreeMap;

use futures_util::TryStreamExt;
use serde::Serialize;

use crate::error::Result;
use crate::store::Records;
use crate::store::db::on_pool;

/// The rate at or above which an indicator earns its full points.
pub const FULL_POINTS_AT: f64 = 0.8;

/// Which cases a report covers.
#[derive(Debug, Clone, Default)]
pub struct Period {
    /// First local date, `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// Last local date, inclusive.
    pub to: String,
    /// Only this unit and the units under it (`H15.50.05` includes `H15.50.05.13`).
    pub unit: Option<String>,
    /// Only this procedure.
    pub procedure: Option<String>,
}

/// One indicator: numerator, denominator, rate and score.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rate {
    /// Cases that meet it.
    pub numerator: i64,
    /// Cases it is measured over.
    pub denominator: i64,
    /// numerator ÷ denominator; `None` when there is nothing to measure.
    pub rate: Option<f64>,
    /// Share of the full points earned (1.0 = full); `None` with the rate.
    pub score: Option<f64>,
    /// Points earned: the score times the indicator's full points, when the report was given them
    /// (`--points`); the index's point scale is set by the province's scoring guide, not here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
}

impl Rate {
    fn count(&mut self, meets: bool) {
        self.denominator += 1;
        self.numerator += i64::from(meets);
    }

    fn finish(&mut self) {
        self.rate = (self.denominator > 0).then(|| self.numerator as f64 / self.denominator as f64);
        self.score = self.rate.map(score);
    }
}

/// Points earned under the 80% rule, as a share of the full points.
pub fn score(rate: f64) -> f64 {
    if rate >= FULL_POINTS_AT { 1.0 } else { rate / FULL_POINTS_AT }
}

/// The cases behind each shortfall, so a supervisor can act on them (listed per group; the total
/// carries none).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Shortfalls {
    /// Received in the period, no input document attached.
    pub missing_inputs: Vec<String>,
    /// Received in the period, resolved, the procedure issues a result, none attached.
    pub missing_result: Vec<String>,
    /// Resolved in the period with a written result, none attached (the electronic-result shortfall).
    pub resolved_without_result: Vec<String>,
}

impl Shortfalls {
    /// Each list with what it means, in the reader's language (the table and the workbook say the same).
    pub fn labelled(&self) -> [(String, &Vec<String>); 3] {
        [
            (say("chưa gắn thành phần hồ sơ", "no input attached"), &self.missing_inputs),
            (say("đã giải quyết, chưa gắn kết quả", "resolved, no result attached"), &self.missing_result),
            (
                say("giải quyết trong kỳ, chưa có tệp kết quả", "resolved in the period, no result file"),
                &self.resolved_without_result,
            ),
        ]
    }
}

/// The figures of one unit and procedure (or of everything, for the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Group {
    /// Unit code; `*` in the total.
    pub unit: String,
    /// Unit name from the units list (`sohoa unit import`).
    pub unit_name: Option<String>,
    /// Procedure code; `*` in the total.
    pub procedure: String,
    /// Procedure name from the catalogue.
    pub procedure_name: Option<String>,
    /// Whether the catalogue knows the procedure; when not, only `received`, `resolved`, `left_out`
    /// and reuse are counted.
    pub procedure_known: bool,
    /// Cases received in the period (withdrawn and cancelled ones not included).
    pub received: i64,
    /// Cases resolved in the period.
    pub resolved: i64,
    /// Cases received in the period, then withdrawn or cancelled: in no figure.
    pub left_out: i64,
    /// The electronic-result rate.
    pub electronic_result: Rate,
    /// The digitization rate.
    pub digitization: Rate,
    /// Its first part: received cases with an input attached.
    pub inputs_digitized: Rate,
    /// Its second part: received cases resolved with a written result that have it attached.
    pub results_digitized: Rate,
    /// Digitized cases whose attached documents have all reached the one-stop system (the outbox
    /// delivered each at its current version): the index is computed there, so only these count.
    pub delivered: Rate,
    /// The reuse rate.
    pub reuse: Rate,
    /// Received cases submitted online ÷ received cases (a case whose channel no export gave counts as
    /// not online).
    pub online: Rate,
    /// Received cases by how they were submitted.
    pub channels: Channels,
    /// The on-time rate: cases resolved in the period by their due date ÷ cases resolved in the period
    /// that have one (by resolved date; a case with no due date is in neither).
    pub on_time: Rate,
    /// The cases behind each shortfall.
    pub shortfalls: Shortfalls,
}

/// Received cases per submission channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Channels {
    /// Through the public service portal.
    pub online: i64,
    /// At the one-stop counter.
    pub counter: i64,
    /// By post.
    pub post: i64,
    /// No export said.
    pub unknown: i64,
}

impl Channels {
    fn count(&mut self, channel: &str) {
        match channel {
            "online" => self.online += 1,
            "counter" => self.counter += 1,
            "post" => self.post += 1,
            _ => self.unknown += 1,
        }
    }
}

/// Full points per indicator, as the province's scoring guide sets them: the report then gives the
/// points earned beside the share.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FullPoints {
    /// Electronic-result rate.
    pub electronic_result: Option<f64>,
    /// Digitization rate.
    pub digitization: Option<f64>,
    /// Reuse rate.
    pub reuse: Option<f64>,
}

impl FullPoints {
    /// Reads `electronic_result=2,digitization=2,reuse=1` (any of them, in any order).
    pub fn parse(s: &str) -> std::result::Result<FullPoints, String> {
        let mut p = FullPoints::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or_else(|| format!("`{part}` is not INDICATOR=POINTS"))?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{v}` is not a number of points"))?;
            let slot = match k.trim() {
                "electronic_result" => &mut p.electronic_result,
                "digitization" => &mut p.digitization,
                "reuse" => &mut p.reuse,
                other => {
                    return Err(format!("`{other}` is not an indicator: electronic_result, digitization or reuse"));
                }
            };
            *slot = Some(v);
        }
        Ok(p)
    }
}

/// A whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// First date.
    pub from: String,
    /// Last date.
    pub to: String,
    /// Unit filter.
    pub unit: Option<String>,
    /// Procedure filter.
    pub procedure: Option<String>,
    /// Per unit and procedure, sorted.
    pub groups: Vec<Group>,
    /// Per unit, all its procedures together (procedure `*`), sorted: the subtotals of a roll-up.
    pub units: Vec<Group>,
    /// All groups together.
    pub total: Group,
    /// What the figures could not count, and why.
    pub data_quality: DataQuality,
    /// The full points the points were computed from, when given.
    pub full_points: FullPoints,
}

impl Report {
    /// Gives every group's indicators their points earned.
    pub fn with_points(mut self, full: &FullPoints) -> Report {
        for g in self.groups.iter_mut().chain(self.units.iter_mut()).chain(std::iter::once(&mut self.total)) {
            for (rate, full) in [
                (&mut g.electronic_result, full.electronic_result),
                (&mut g.digitization, full.digitization),
                (&mut g.reuse, full.reuse),
            ] {
                rate.points = full.and_then(|f| rate.score.map(|s| (s * f * 100.0).round() / 100.0));
            }
        }
        self.full_points = full.clone();
        self
    }
}

/// Cases the figures leave out or cannot place, so a supervisor can get the records fixed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataQuality {
    /// Received or resolved in the period with a procedure the catalogue does not know (or none).
    pub unknown_procedure: Vec<String>,
    /// Received in the period with no unit.
    pub no_unit: Vec<String>,
    /// Cases no export mentions (a code from scans only) whose code's date or a document's attach
    /// date falls in the period: not counted until the one-stop system's export names the case.
    pub not_in_export: Vec<String>,
    /// Received in the period, then withdrawn or cancelled: in no figure (`left_out` counts them).
    pub withdrawn_or_cancelled: Vec<String>,
    /// Imported without a received date: in no period, so in no figure, until an export gives one.
    pub no_received_date: Vec<String>,
    /// Rows the last imports refused (file, line, reason), newest first: cases the figures may be
    /// missing.
    pub refused_rows: Vec<RefusedRow>,
}

/// One row a case import refused, kept so the report can say the figures may lack it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow)]
pub struct RefusedRow {
    /// When the import ran.
    pub at: String,
    /// The export's file name.
    pub file: String,
    /// Its line (1 = the header).
    pub line: i64,
    /// The case code, when the row named one.
    pub code: Option<String>,
    /// Why it was refused.
    pub reason: String,
}

#[derive(sqlx::FromRow)]
struct CaseFacts {
    code: String,
    unit: String,
    unit_name: Option<String>,
    procedure: String,
    procedure_name: Option<String>,
    channel: String,
    received_date: Option<String>,
    resolved_date: Option<String>,
    due_date: Option<String>,
    #[sqlx(try_from = "String")]
    status: crate::store::cases::Status,
    known: i64,
    issues_result: i64,
    inputs: i64,
    results: i64,
    reused: i64,
    undelivered: i64,
}

/// Computes the report for a period.
pub async fn compute(records: &Records, period: &Period) -> Result<Report> {
    let in_period =
        |d: &Option<String>| d.as_deref().is_some_and(|d| d >= period.from.as_str() && d <= period.to.as_str());
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    let mut total = Group { unit: "*".into(), procedure: "*".into(), ..Default::default() };
    // Each unit's subtotal over its procedures (the shortfall lists stay with the groups).
    let mut units: BTreeMap<String, Group> = BTreeMap::new();
    // Cases are streamed and counted one at a time: memory holds the groups and the shortfall lists
    // (what the report prints), not the period's cases.
    let mut quality = DataQuality::default();
    let mut add = |f: CaseFacts| {
        let g = groups.entry((f.unit.clone(), f.procedure.clone())).or_insert_with(|| Group {
            unit: f.unit.clone(),
            unit_name: f.unit_name.clone(),
            procedure: f.procedure.clone(),
            procedure_name: f.procedure_name.clone(),
            procedure_known: f.known != 0,
            ..Default::default()
        });
        let u = units.entry(f.unit.clone()).or_insert_with(|| Group {
            unit: f.unit.clone(),
            unit_name: f.unit_name.clone(),
            procedure: "*".into(),
            procedure_known: true,
            ..Default::default()
        });
        let known = f.known != 0;
        let issues = known && f.issues_result != 0;
        let resolved = f.status == crate::store::cases::Status::Resolved;
        let left_out = f.status.left_out();
        let received = in_period(&f.received_date);
        let resolved_here = resolved && in_period(&f.resolved_date);
        if !known && ((received && !left_out) || resolved_here) {
            quality.unknown_procedure.push(f.code.clone());
        }
        if received && left_out {
            for g in [&mut *g, &mut *u, &mut total] {
                g.left_out += 1;
            }
            quality.withdrawn_or_cancelled.push(f.code.clone());
        } else if received {
            if f.unit.is_empty() {
                quality.no_unit.push(f.code.clone());
            }
            // Judged on its result only once it is resolved with one.
            let result_due = resolved && issues;
            let digitized = f.inputs > 0 && (f.results > 0 || !result_due);
            for g in [&mut *g, &mut *u, &mut total] {
                g.received += 1;
                g.reuse.count(f.reused > 0);
                g.online.count(f.channel == "online");
                g.channels.count(&f.channel);
                if known {
                    g.digitization.count(digitized);
                    g.delivered.count(digitized && f.undelivered == 0);
                    g.inputs_digitized.count(f.inputs > 0);
                    if result_due {
                        g.results_digitized.count(f.results > 0);
                    }
                }
            }
            if known && f.inputs == 0 {
                g.shortfalls.missing_inputs.push(f.code.clone());
            }
            if result_due && f.results == 0 {
                g.shortfalls.missing_result.push(f.code.clone());
            }
        }
        if resolved_here {
            // Dates are local `YYYY-MM-DD`: compared as text, a case resolved on its due day is on time.
            let on_time = f.due_date.as_deref().map(|due| f.resolved_date.as_deref().is_some_and(|r| r <= due));
            for g in [&mut *g, &mut *u, &mut total] {
                if let Some(on_time) = on_time {
                    g.on_time.count(on_time);
                }
                g.resolved += 1;
                if issues {
                    g.electronic_result.count(f.results > 0);
                }
            }
            if issues && f.results == 0 {
                g.shortfalls.resolved_without_result.push(f.code);
            }
        }
    };
    on_pool!(records.pool(), |p| {
        let mut rows = sqlx::query_as::<_, CaseFacts>(
            "SELECT c.code, COALESCE(c.unit, '') AS unit, un.name AS unit_name, \
           COALESCE(c.procedure_code, '') AS procedure, pr.name AS procedure_name, \
           COALESCE(c.channel, '') AS channel, c.received_date, c.resolved_date, c.due_date, c.status, \
           CAST(CASE WHEN pr.code IS NULL THEN 0 ELSE 1 END AS BIGINT) AS known, \
           COALESCE(pr.issues_result, 0) AS issues_result, \
           (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached' \
              AND d.role = 'input') AS inputs, \
           (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached' \
              AND d.role = 'result') AS results, \
           (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached' \
              AND d.role = 'input' AND (d.reused_from IS NOT NULL OR EXISTS (SELECT 1 FROM pages pg \
              JOIN intakes i ON i.id = pg.intake_id WHERE pg.document_id = d.id AND i.reused = 1))) AS reused, \
           (SELECT COUNT(*) FROM documents d WHERE d.case_code = c.code AND d.state = 'attached' \
              AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.document_id = d.id AND o.version = d.version \
                              AND o.state = 'delivered')) AS undelivered \
         FROM cases c LEFT JOIN procedures pr ON pr.code = c.procedure_code LEFT JOIN units un ON un.code = c.unit \
         WHERE ((c.received_date >= $1 AND c.received_date <= $2) \
             OR (c.status = 'resolved' AND c.resolved_date >= $1 AND c.resolved_date <= $2)) \
           AND ($3 IS NULL OR c.unit = $3 OR c.unit LIKE $3 || '.%') AND ($4 IS NULL OR c.procedure_code = $4) \
         ORDER BY c.code",
        )
        .bind(&period.from)
        .bind(&period.to)
        .bind(&period.unit)
        .bind(&period.procedure)
        .fetch(p);
        while let Some(f) = rows.try_next().await? {
            add(f);
        }
    });
    // Cases no export mentions (origin `scan`) with a document attached: in the period by the date in
    // their code (the day the counter received them) or by the day a document was attached.
    let scanned: Vec<(String, Option<String>)> = on_pool!(records.pool(), |p| sqlx::query_as(
        "SELECT c.code, MAX(substr(d.attached_at, 1, 10)) FROM cases c \
           JOIN documents d ON d.case_code = c.code AND d.state = 'attached' \
         WHERE c.origin = 'scan' AND ($1 IS NULL OR c.code LIKE $1 || '-%' OR c.code LIKE $1 || '.%') \
           AND CAST($2 AS TEXT) IS NULL \
         GROUP BY c.code ORDER BY c.code"
    )
    .bind(&period.unit)
    .bind(&period.procedure)
    .fetch_all(p)
    .await?);
    quality.not_in_export = scanned
        .into_iter()
        .filter(|(code, attached)| {
            let code_date = code
                .split('-')
                .nth(1)
                .filter(|d| d.len() == 6)
                .map(|d| format!("20{}-{}-{}", &d[..2], &d[2..4], &d[4..6]));
            code_date.is_some_and(|d| in_period(&Some(d))) || in_period(attached)
        })
        .map(|(code, _)| code)
        .collect();
    quality.no_received_date = on_pool!(records.pool(), |p| sqlx::query_scalar::<_, String>(
        "SELECT code FROM cases WHERE origin = 'import' AND received_date IS NULL \
           AND ($1 IS NULL OR unit = $1 OR unit LIKE $1 || '.%') AND ($2 IS NULL OR procedure_code = $2) ORDER BY code"
    )
    .bind(&period.unit)
    .bind(&period.procedure)
    .fetch_all(p)
    .await?);
    let mut groups: Vec<Group> = groups.into_values().collect();
    let mut units: Vec<Group> = units.into_values().collect();
    for g in groups.iter_mut().chain(units.iter_mut()).chain(std::iter::once(&mut total)) {
        for r in [
            &mut g.electronic_result,
            &mut g.digitization,
            &mut g.inputs_digitized,
            &mut g.results_digitized,
            &mut g.delivered,
            &mut g.reuse,
            &mut g.online,
            &mut g.on_time,
        ] {
            r.finish();
        }
    }
    // No points rule is known here for timeliness: its rate is given, not a score.
    for g in groups.iter_mut().chain(units.iter_mut()).chain(std::iter::once(&mut total)) {
        g.on_time.score = None;
        g.online.score = None;
    }
    quality.refused_rows = on_pool!(records.pool(), |p| sqlx::query_as::<_, RefusedRow>(
        "SELECT at, file, line, code, reason FROM import_refusals ORDER BY at DESC, file, line LIMIT 1000"
    )
    .fetch_all(p)
    .await?);
    // Within a unit, the rows whose code names another unit are not its concern (a row with no
    // readable code may be anyone's and stays).
    if let Some(unit) = &period.unit {
        quality.refused_rows.retain(|r| {
            r.code.as_deref().is_none_or(|c| c.starts_with(&format!("{unit}-")) || c.starts_with(&format!("{unit}.")))
        });
    }
    total.procedure_known = true;
    Ok(Report {
        from: period.from.clone(),
        to: period.to.clone(),
        unit: period.unit.clone(),
        procedure: period.procedure.clone(),
        groups,
        units,
        total,
        data_quality: quality,
        full_points: FullPoints::default(),
    })
}

fn pct(r: Option<f64>) -> String {
    r.map(|r| format!("{:.1}%", r * 100.0)).unwrap_or_else(|| "—".into())
}

fn frac(r: &Rate) -> String {
    format!("{}/{}", r.numerator, r.denominator)
}

/// The report as a table for a terminal, with the shortfall cases and the data-quality lists under it.
pub fn to_table(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}",
        say(
            format!("Báo cáo số hóa (Quyết định 766) từ {} đến {}", r.from, r.to),
            format!("Digitization report (Decision 766) for {} … {}", r.from, r.to),
        )
    );
    let row = |s: &mut String, cells: [&str; 20]| {
        let _ = writeln!(
            s,
            "{:<16} {:<12} {:>5} {:>5} {:>4}  {:>9} {:>7} {:>6}  {:>9} {:>7} {:>6} {:>9} {:>9} {:>9}  {:>9} {:>7} {:>6}  {:>9} {:>7}  {:>9}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            cells[6],
            cells[7],
            cells[8],
            cells[9],
            cells[10],
            cells[11],
            cells[12],
            cells[13],
            cells[14],
            cells[15],
            cells[16],
            cells[17],
            cells[18],
            cells[19]
        );
    };
    let heads: Vec<String> = [
        ("ĐƠN VỊ", "UNIT"),
        ("THỦ TỤC", "PROCEDURE"),
        ("NHẬN", "RECV"),
        ("GQ", "RESLV"),
        ("RÚT", "OUT"),
        ("KQ ĐT", "E-RESULT"),
        ("TỶ LỆ", "RATE"),
        ("ĐIỂM", "SCORE"),
        ("SỐ HÓA", "DIGITIZED"),
        ("TỶ LỆ", "RATE"),
        ("ĐIỂM", "SCORE"),
        ("TP", "INPUTS"),
        ("KQ", "RESULTS"),
        ("ĐÃ GỬI", "DELIVERED"),
        ("TÁI SD", "REUSED"),
        ("TỶ LỆ", "RATE"),
        ("ĐIỂM", "SCORE"),
        ("ĐÚNG HẠN", "ON TIME"),
        ("TỶ LỆ", "RATE"),
        ("TRỰC TUYẾN", "ONLINE"),
    ]
    .iter()
    .map(|(vi, en)| say(*vi, *en))
    .collect();
    let head: [&str; 20] = std::array::from_fn(|i| heads[i].as_str());
    row(&mut s, head);
    // Unit subtotals, when they add something: a unit with several procedures.
    let subtotals: &[Group] = if r.groups.len() > r.units.len() { &r.units } else { &[] };
    for g in r.groups.iter().chain(subtotals).chain(std::iter::once(&r.total)) {
        let procedure = if g.procedure_known { g.procedure.clone() } else { format!("{}?", g.procedure) };
        row(
            &mut s,
            [
                &g.unit,
                &procedure,
                &g.received.to_string(),
                &g.resolved.to_string(),
                &g.left_out.to_string(),
                &frac(&g.electronic_result),
                &pct(g.electronic_result.rate),
                &pct(g.electronic_result.score),
                &frac(&g.digitization),
                &pct(g.digitization.rate),
                &pct(g.digitization.score),
                &frac(&g.inputs_digitized),
                &frac(&g.results_digitized),
                &frac(&g.delivered),
                &frac(&g.reuse),
                &pct(g.reuse.rate),
                &pct(g.reuse.score),
                &frac(&g.on_time),
                &pct(g.on_time.rate),
                &frac(&g.online),
            ],
        );
    }
    let named: Vec<&Group> = r.units.iter().filter(|u| u.unit_name.is_some()).collect();
    if !named.is_empty() {
        let _ = writeln!(s, "\n{}", say("Đơn vị", "Units"));
        for u in named {
            let _ = writeln!(s, "  {}  {}", u.unit, u.unit_name.as_deref().unwrap_or(""));
        }
    }
    let full = &r.full_points;
    if full != &FullPoints::default() {
        let _ = writeln!(s, "\n{}", say("Điểm đạt được (trên điểm tối đa)", "Points earned (of the full points)"));
        for g in r.units.iter().chain(std::iter::once(&r.total)) {
            let mut line = format!("  {:<16}", g.unit);
            for (name, rate, f) in [
                (say("KQ ĐT", "E-RESULT"), &g.electronic_result, full.electronic_result),
                (say("SỐ HÓA", "DIGITIZED"), &g.digitization, full.digitization),
                (say("TÁI SD", "REUSED"), &g.reuse, full.reuse),
            ] {
                if let (Some(f), Some(p)) = (f, rate.points) {
                    line.push_str(&format!("  {name} {p:.2}/{f}"));
                }
            }
            let _ = writeln!(s, "{line}");
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        say(
            "ĐIỂM: phần điểm tối đa đạt được (đủ điểm khi tỷ lệ từ 80% trở lên). GQ: đã giải quyết. RÚT: hồ sơ đã rút \
             hoặc hủy, không tính vào chỉ tiêu nào. KQ ĐT: trả kết quả điện tử. TP / KQ: hai phần của SỐ HÓA (thành \
             phần hồ sơ và kết quả; hồ sơ đã giải quyết có kết quả được xét theo kết quả). ĐÃ GỬI: hồ sơ đã số hóa mà mọi \
             tài liệu đã gửi tới hệ thống một cửa (chỉ những hồ sơ này được tính ở đó). TÁI SD: tái sử dụng. `?`: \
             thủ tục chưa có trong danh mục, không tính vào chỉ tiêu số hóa. TRỰC TUYẾN: hồ sơ nộp trực tuyến.",
            "Score: share of the full points (full at a rate of 80% or more). OUT: withdrawn or cancelled, in no \
             figure. INPUTS / RESULTS: the two parts of DIGITIZED (a case is judged on its result once resolved \
             with one). DELIVERED: digitized cases whose every document reached the one-stop \
             system (only these count there). `?`: a procedure the catalogue does not know, counted in no digitization figure. \
             ONLINE: cases submitted online.",
        )
    );
    for g in &r.groups {
        let f = &g.shortfalls;
        if f.missing_inputs.is_empty() && f.missing_result.is_empty() && f.resolved_without_result.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "\n{} / {}{}",
            g.unit,
            g.procedure,
            g.procedure_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
        );
        for (what, list) in f.labelled() {
            if !list.is_empty() {
                let _ = writeln!(s, "  {what} ({}): {}", list.len(), list.join(", "));
            }
        }
    }
    let q = &r.data_quality;
    if [&q.unknown_procedure, &q.no_unit, &q.not_in_export, &q.withdrawn_or_cancelled, &q.no_received_date]
        .iter()
        .any(|l| !l.is_empty())
        || !q.refused_rows.is_empty()
    {
        let _ = writeln!(s, "\n{}", say("Dữ liệu cần xem lại", "Data quality"));
        for (what, list) in [
            (
                say(
                    "thủ tục chưa có trong danh mục (không tính; `sohoa procedure import`)",
                    "procedure not in the catalogue (not counted; `sohoa procedure import`)",
                ),
                &q.unknown_procedure,
            ),
            (say("không có đơn vị", "no unit"), &q.no_unit),
            (
                say(
                    "đã quét nhưng dữ liệu một cửa không có hồ sơ này (không tính)",
                    "scanned, but no export names the case (not counted)",
                ),
                &q.not_in_export,
            ),
            (say("đã rút hoặc hủy (không tính)", "withdrawn or cancelled (not counted)"), &q.withdrawn_or_cancelled),
            (
                say(
                    "nhập không có ngày tiếp nhận (không thuộc kỳ nào)",
                    "imported with no received date (in no period)",
                ),
                &q.no_received_date,
            ),
        ] {
            if !list.is_empty() {
                let _ = writeln!(s, "  {what} ({}): {}", list.len(), list.join(", "));
            }
        }
        if !q.refused_rows.is_empty() {
            let _ = writeln!(
                s,
                "  {} ({}):",
                say(
                    "dòng nhập bị từ chối (hồ sơ có thể chưa được tính; sửa và nhập lại)",
                    "import rows refused (cases the figures may lack; fix and import again)"
                ),
                q.refused_rows.len()
            );
            for f in &q.refused_rows {
                let code = f.code.as_deref().map(|c| format!(" {c}")).unwrap_or_default();
                let _ = writeln!(s, "    {} {} {}{code}: {}", f.file, say("dòng", "line"), f.line, f.reason);
            }
        }
    }
    s
}

/// One CSV line per group and indicator, with a byte-order mark so a spreadsheet opens the Vietnamese
/// text as UTF-8.
pub fn to_csv(r: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "from",
        "to",
        "unit",
        "unit_name",
        "procedure",
        "indicator",
        "numerator",
        "denominator",
        "rate",
        "score",
        "points",
    ]);
    let num = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    for g in r.groups.iter().chain(&r.units).chain(std::iter::once(&r.total)) {
        for (name, rate) in [
            ("electronic_result", &g.electronic_result),
            ("digitization", &g.digitization),
            ("inputs_digitized", &g.inputs_digitized),
            ("results_digitized", &g.results_digitized),
            ("delivered", &g.delivered),
            ("reuse", &g.reuse),
            ("on_time", &g.on_time),
            ("online", &g.online),
            ("channel_online", &Rate { numerator: g.channels.online, denominator: g.received, ..Default::default() }),
            ("channel_counter", &Rate { numerator: g.channels.counter, denominator: g.received, ..Default::default() }),
            ("channel_post", &Rate { numerator: g.channels.post, denominator: g.received, ..Default::default() }),
            ("channel_unknown", &Rate { numerator: g.channels.unknown, denominator: g.received, ..Default::default() }),
        ] {
            let _ = w.write_record([
                r.from.as_str(),
                r.to.as_str(),
                g.unit.as_str(),
                g.unit_name.as_deref().unwrap_or(""),
                g.procedure.as_str(),
                name,
                &rate.numerator.to_string(),
                &rate.denominator.to_string(),
                &num(rate.rate),
                &num(rate.score),
                &num(rate.points),
            ]);
        }
    }
    format!("\u{feff}{}", String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default())
}
