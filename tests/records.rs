//! Case records: the procedure catalogue, the one-stop import, completeness, the 766 report, the audit
//! trail of edits and views, and fixity windows — on SQLite, and on PostgreSQL when
//! `SOHOA_TEST_DATABASE` names a server (`scripts/test.sh` runs the suite both ways).

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::*;

const U13: &str = "H15.50.05.13";
const U14: &str = "H15.50.05.14";
const BIRTH: &str = "1.001193"; // issues a result; requires Tờ khai + Giấy chứng sinh
const BUILD: &str = "1.004227"; // issues a result; requires Đơn đề nghị
const COPY: &str = "2.000908"; // no written result; requires Bản chính
const CASES: u32 = 360;

/// The dataset, case by case. Everything depends on `i mod 60`, so every 60 consecutive cases hold
/// every combination once; the expected figures below are counted by hand from these rules.
///
/// - unit: U13 for even `i`, U14 for odd; procedure: BIRTH if `i%3==0`, BUILD if 1, COPY if 2;
/// - received 2026-07-01 + `i/4` days (4 a day: cases 0‥359 span 1 July – 28 September);
/// - resolved (15 days after receipt) unless `i%4==3` (then still processing);
/// - an input scan is attached unless `i%5==0`;
/// - a result scan is attached when resolved, the procedure issues one, `i%5!=4`, and not (BUILD and
///   `i%5==2`);
/// - when `i%5==3`, a second input carries the same bytes as case `i-2`'s input (a reuse).
struct Case {
    i: u32,
}

impl Case {
    fn unit(&self) -> &'static str {
        if self.i.is_multiple_of(2) { U13 } else { U14 }
    }
    fn procedure(&self) -> &'static str {
        [BIRTH, BUILD, COPY][(self.i % 3) as usize]
    }
    fn day(&self) -> u32 {
        self.i / 4
    }
    fn received(&self) -> String {
        date(self.day())
    }
    fn resolved(&self) -> Option<String> {
        (self.i % 4 != 3).then(|| date(self.day() + 15))
    }
    /// Due 15 days after receipt for even `i` (resolved on the day: on time), 14 for odd (a day late).
    fn due(&self) -> String {
        date(self.day() + if self.i.is_multiple_of(2) { 15 } else { 14 })
    }
    fn code(&self) -> String {
        let d = date(self.day());
        format!("{}-{}{}{}-{:04}", self.unit(), &d[2..4], &d[5..7], &d[8..10], self.i)
    }
    fn has_input(&self) -> bool {
        !self.i.is_multiple_of(5)
    }
    fn has_result(&self) -> bool {
        self.resolved().is_some()
            && self.procedure() != COPY
            && self.i % 5 != 4
            && !(self.procedure() == BUILD && self.i % 5 == 2)
    }
    fn reuses(&self) -> bool {
        self.i % 5 == 3
    }
    fn input_type(&self) -> &'static str {
        match self.procedure() {
            BIRTH => "Tờ khai",
            BUILD => "Đơn đề nghị",
            _ => "Bản chính",
        }
    }
}

/// `2026-07-01` plus `days`.
fn date(days: u32) -> String {
    let months = [(7, 31), (8, 31), (9, 30), (10, 31)];
    let mut d = days;
    for (m, len) in months {
        if d < len {
            return format!("2026-{m:02}-{:02}", d + 1);
        }
        d -= len;
    }
    panic!("date out of range")
}

/// A small grey PNG whose bytes are unique to `seed`.
fn png(seed: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(48, 64, |x, y| {
        let v = (x * 7 + y * 13 + seed * 31) ^ (seed >> 3);
        image::Luma([(v % 200) as u8 + 20])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
    out
}

fn write_case_folder(inbox: &Path, code: &str, files: &[(&str, &str, &str, Vec<u8>)]) {
    let dir = inbox.join(code);
    std::fs::create_dir_all(&dir).unwrap();
    let mut entries = serde_json::Map::new();
    for (name, role, doc_type, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        entries.insert(name.to_string(), serde_json::json!({ "role": role, "document_type": doc_type }));
    }
    let manifest = serde_json::json!({ "case": code, "files": entries });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

/// Imports the catalogue and the cases, scans the inputs and results, then the reused inputs.
fn build_dataset(root: &Path) -> std::path::PathBuf {
    let data = root.join("data");
    let o = sohoa(&data, &["procedure", "import", repo().join("fixtures/procedures.toml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("3 procedure(s): 3 new"), "{}", text(&o));

    let mut csv = String::from("code,procedure,unit,received,status,resolved,applicant_name,applicant_id,due\n");
    for i in 0..CASES {
        let c = Case { i };
        let (status, resolved) = match c.resolved() {
            Some(r) => ("resolved", r),
            None => ("processing", String::new()),
        };
        // Dates written as the one-stop export writes them: day first.
        let received = c.received();
        let dmy = format!("{}/{}/{}", &received[8..10], &received[5..7], &received[0..4]);
        let _ = writeln!(
            csv,
            "{},{},{},{dmy},{status},{resolved},Nguyễn Văn {i},0790{i:08},{}",
            c.code(),
            c.procedure(),
            c.unit(),
            c.due()
        );
    }
    // A case of another period, with a blank page where its required input belongs.
    csv.push_str("H15.50.05.13-261001-9999,2.000908,H15.50.05.13,2026-10-01,received,,Trần Thị B,079000000001,\n");
    let export = root.join("cases.csv");
    std::fs::write(&export, &csv).unwrap();
    let o = sohoa(&data, &["case", "import", export.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("361 case(s) imported: 361 new, 0 updated, 0 unchanged; 0 row(s) refused"),
        "{}",
        text(&o)
    );

    let inbox = root.join("inbox");
    for i in 0..CASES {
        let c = Case { i };
        let mut files = Vec::new();
        if c.has_input() {
            files.push(("input.png", "input", c.input_type(), png(i)));
        }
        if c.has_result() {
            files.push(("result.png", "result", "Kết quả", png(100_000 + i)));
        }
        if !files.is_empty() {
            write_case_folder(&inbox, &c.code(), &files);
        }
    }
    let o = sohoa(&data, &["ingest", inbox.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // Reused inputs come later, as they would: the same certificate brought for another dossier.
    let again = root.join("inbox2");
    for i in (0..CASES).filter(|i| Case { i: *i }.reuses()) {
        let c = Case { i };
        write_case_folder(&again, &c.code(), &[("copy.png", "input", "Giấy chứng sinh", png(i - 2))]);
    }
    let o = sohoa(&data, &["ingest", again.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // And a required input that arrives as an empty sheet, with blank pages flagged.
    let again = root.join("inbox3");
    let blank = image::GrayImage::from_pixel(800, 1100, image::Luma([255u8]));
    let mut bytes = Vec::new();
    blank.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
    write_case_folder(&again, "H15.50.05.13-261001-9999", &[("blank.png", "input", "Bản chính", bytes)]);
    let profile = root.join("flag-blanks.toml");
    std::fs::write(&profile, "name = \"flag-blanks\"\n[output]\nblank_pages = \"flag\"\n").unwrap();
    let o = sohoa(&data, &["ingest", again.to_str().unwrap(), "--profile", profile.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    data
}

fn report(data: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["report", "--format", "json"];
    all.extend_from_slice(args);
    let o = sohoa(data, &all);
    assert!(o.status.success(), "{}", text(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// (numerator, denominator) of an indicator.
fn nd(g: &serde_json::Value, indicator: &str) -> (i64, i64) {
    (g[indicator]["numerator"].as_i64().unwrap(), g[indicator]["denominator"].as_i64().unwrap())
}

fn group<'a>(r: &'a serde_json::Value, unit: &str, procedure: &str) -> &'a serde_json::Value {
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["unit"] == unit && g["procedure"] == procedure)
        .unwrap_or_else(|| panic!("no group {unit}/{procedure} in {r}"))
}

fn close(a: &serde_json::Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn the_766_report_matches_the_figures_counted_by_hand() {
    let tmp = tempfile::tempdir().unwrap();
    let data = build_dataset(tmp.path());

    // July 1–30: cases 0‥119 received (two full cycles of 60), cases 0‥59 resolved (one cycle).
    //
    // Counted by hand per (unit, procedure) = class i mod 6, ten cases a cycle, i%5 taking each value
    // twice; even classes are all resolved, odd classes only when i%4==1 (half, one per i%5 value):
    //   U13 BIRTH (c=0): result unless i%5=4 → e-result 8/10; digitized needs i%5∉{0,4}: 6 a cycle → 12/20
    //   U13 BUILD (c=4): result unless i%5∈{2,4} → 6/10; digitized i%5∉{0,2,4}: 4 → 8/20
    //   U13 COPY  (c=2): no result issued → —; digitized = input attached, i%5≠0: 8 → 16/20
    //   U14 BIRTH (c=3): 5 resolved, one has i%5=4 → 4/5; digitized: resolved with i%5∉{0,4}: 3, and
    //     the 5 still processing (i%4=3: 3, 15, 27, 39, 51) are judged on their input, i%5≠0: 4 → 14/20
    //   U14 BUILD (c=1): 5 resolved, i%5∈{2,4} miss → 3/5; digitized: resolved, i%5∈{1,3}: 2, and
    //     processing (7, 19, 31, 43, 55) with an input: 4 → 12/20
    //   U14 COPY  (c=5): → —; 16/20
    //   reuse everywhere i%5=3: 2 a cycle → 4/20
    let r = report(&data, &["--from", "2026-07-01", "--to", "30/07/2026"]);
    let expected = [
        // unit, procedure, received, resolved, e-result, digitization, reuse
        (U13, BIRTH, 20, 10, (8, 10), (12, 20), (4, 20)),
        (U13, BUILD, 20, 10, (6, 10), (8, 20), (4, 20)),
        (U13, COPY, 20, 10, (0, 0), (16, 20), (4, 20)),
        (U14, BIRTH, 20, 5, (4, 5), (14, 20), (4, 20)),
        (U14, BUILD, 20, 5, (3, 5), (12, 20), (4, 20)),
        (U14, COPY, 20, 5, (0, 0), (16, 20), (4, 20)),
    ];
    assert_eq!(r["groups"].as_array().unwrap().len(), 6, "{r}");
    for (unit, procedure, received, resolved, e, d, u) in expected {
        let g = group(&r, unit, procedure);
        assert_eq!(g["received"], received, "{unit}/{procedure}");
        assert_eq!(g["resolved"], resolved, "{unit}/{procedure}");
        assert_eq!(nd(g, "electronic_result"), e, "{unit}/{procedure}");
        assert_eq!(nd(g, "digitization"), d, "{unit}/{procedure}");
        assert_eq!(nd(g, "reuse"), u, "{unit}/{procedure}");
    }
    // Rates and scores: 80% earns the full points, below it points = rate ÷ 80%.
    let g = group(&r, U13, BIRTH);
    assert!(close(&g["electronic_result"]["rate"], 0.8) && close(&g["electronic_result"]["score"], 1.0));
    assert!(close(&g["digitization"]["rate"], 0.6) && close(&g["digitization"]["score"], 0.75));
    let g = group(&r, U14, BUILD);
    assert!(close(&g["electronic_result"]["rate"], 0.6) && close(&g["electronic_result"]["score"], 0.75));
    assert!(close(&g["digitization"]["rate"], 0.6) && close(&g["digitization"]["score"], 0.75));
    // Its two parts: an input unless i%5=0 (25, 55) → 16/20; a result for the 3 of the 5 resolved a cycle
    // with i%5 ∉ {2, 4} (1, 13, 25).
    assert_eq!((nd(g, "inputs_digitized"), nd(g, "results_digitized")), ((16, 20), (6, 10)));
    let g = group(&r, U13, COPY);
    assert!(g["electronic_result"]["rate"].is_null() && g["electronic_result"]["score"].is_null());
    assert!(close(&g["digitization"]["score"], 1.0));
    // Totals: 8+6+4+3 = 21 of 10+10+5+5 = 30; 12+8+16+14+12+16 = 78 of 120; 24 of 120.
    let t = &r["total"];
    assert_eq!((nd(t, "electronic_result"), nd(t, "digitization"), nd(t, "reuse")), ((21, 30), (78, 120), (24, 120)));
    assert!(close(&t["electronic_result"]["rate"], 0.7) && close(&t["electronic_result"]["score"], 0.875));
    assert!(close(&t["digitization"]["rate"], 78.0 / 120.0) && close(&t["digitization"]["score"], 78.0 / 96.0));
    assert!(close(&t["reuse"]["rate"], 0.2) && close(&t["reuse"]["score"], 0.25));
    // The cases behind a shortfall: U14 BUILD resolved in July without a result are i = 37 and 49
    // (c=1, i%4=1 among 0‥59: 1, 13, 25, 37, 49; i%5 = 1, 3, 0, 2, 4).
    let g = group(&r, U14, BUILD);
    assert_eq!(
        g["shortfalls"]["resolved_without_result"],
        serde_json::json!(["H15.50.05.14-260710-0037", "H15.50.05.14-260713-0049"])
    );
    // U13 BIRTH without inputs in July: i ≡ 0 (mod 30) → 0, 30, 60, 90.
    assert_eq!(
        group(&r, U13, BIRTH)["shortfalls"]["missing_inputs"],
        serde_json::json!([
            "H15.50.05.13-260701-0000",
            "H15.50.05.13-260708-0030",
            "H15.50.05.13-260716-0060",
            "H15.50.05.13-260723-0090"
        ])
    );

    // The whole quarter: 360 received (six cycles); resolved 1 July – 28 September = received up to
    // 13 September = cases 0‥299 (five cycles).
    let r = report(&data, &["--from", "2026-07-01", "--to", "2026-09-28"]);
    let t = &r["total"];
    assert_eq!(nd(t, "electronic_result"), (105, 150));
    assert_eq!(nd(t, "digitization"), (234, 360));
    assert_eq!(nd(t, "reuse"), (72, 360));
    assert_eq!(nd(group(&r, U13, BUILD), "electronic_result"), (30, 50));
    assert_eq!(nd(group(&r, U14, COPY), "digitization"), (48, 60));
    // On time: 225 resolved (i ≢ 3 mod 4 among 0‥299), the even ones on their due day (150), the odd
    // ones a day late; so U13 (even i) all on time, U14 (odd i) none.
    assert_eq!(nd(t, "on_time"), (150, 225));
    assert!(t["on_time"]["score"].is_null(), "no points rule is claimed for timeliness");

    // A unit includes the units under it: both communes are in H15.50.05, so its report is the whole
    // quarter's, with a subtotal per commune that is that commune's own report.
    let parent = report(&data, &["--from", "2026-07-01", "--to", "2026-09-28", "--unit", "H15.50.05"]);
    let t = &parent["total"];
    assert_eq!(
        (nd(t, "electronic_result"), nd(t, "digitization"), nd(t, "reuse")),
        ((105, 150), (234, 360), (72, 360))
    );
    let units = parent["units"].as_array().unwrap();
    assert_eq!((nd(&units[0], "on_time"), nd(&units[1], "on_time")), ((150, 150), (0, 75)));
    assert_eq!(units.iter().map(|u| u["unit"].as_str().unwrap()).collect::<Vec<_>>(), [U13, U14]);
    for u in units {
        let own = report(&data, &["--from", "2026-07-01", "--to", "2026-09-28", "--unit", u["unit"].as_str().unwrap()]);
        for k in ["electronic_result", "digitization", "inputs_digitized", "results_digitized", "reuse"] {
            assert_eq!(nd(u, k), nd(&own["total"], k), "{k} of {}", u["unit"]);
        }
    }
    // A series: one report per month, each the month's own report; every case counts in exactly one
    // month (by its received or resolved date), so the months add up to the quarter counted by hand.
    let o =
        sohoa(&data, &["report", "--from", "2026-07-01", "--to", "2026-09-28", "--by", "month", "--format", "json"]);
    assert!(o.status.success(), "{}", text(&o));
    let series: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let spans: Vec<(&str, &str)> =
        series.iter().map(|m| (m["from"].as_str().unwrap(), m["to"].as_str().unwrap())).collect();
    assert_eq!(spans, [("2026-07-01", "2026-07-31"), ("2026-08-01", "2026-08-31"), ("2026-09-01", "2026-09-28")]);
    let mut sums = [(0, 0); 3];
    for m in &series {
        let own = report(&data, &["--from", m["from"].as_str().unwrap(), "--to", m["to"].as_str().unwrap()]);
        assert_eq!(m["total"], own["total"], "{}", m["from"]);
        for (sum, k) in sums.iter_mut().zip(["electronic_result", "digitization", "reuse"]) {
            let (n, d) = nd(&m["total"], k);
            *sum = (sum.0 + n, sum.1 + d);
        }
    }
    assert_eq!(sums, [(105, 150), (234, 360), (72, 360)]);
    let o =
        sohoa(&data, &["report", "--from", "2026-07-01", "--to", "2026-09-28", "--by", "quarter", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert_eq!(csv.matches("from,to,unit").count(), 1, "one header: {csv}");
    assert!(csv.contains("2026-07-01,2026-09-28,*,,*,digitization,234,360"), "{csv}");
    // A byte-order mark, once, so a spreadsheet opens the Vietnamese text as UTF-8.
    assert!(csv.starts_with('\u{feff}') && csv.matches('\u{feff}').count() == 1, "{csv}");

    // Filters: one unit and one procedure, July.
    let r = report(&data, &["--from", "2026-07-01", "--to", "2026-07-30", "--unit", U14, "--procedure", BIRTH]);
    assert_eq!(r["groups"].as_array().unwrap().len(), 1);
    let t = &r["total"];
    assert_eq!((nd(t, "electronic_result"), nd(t, "digitization"), nd(t, "reuse")), ((4, 5), (14, 20), (4, 20)));

    // CSV and table carry the same figures.
    let o = sohoa(&data, &["report", "--from", "2026-07-01", "--to", "2026-07-30", "--format", "csv"]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.contains("2026-07-01,2026-07-30,*,,*,digitization,78,120,0.6500,0.8125,"), "{csv}");
    let o = sohoa(&data, &["report", "--from", "2026-07-01", "--to", "2026-07-30"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("21/30") && table.contains("78/120") && table.contains("H15.50.05.14-260713-0049"),
        "{table}"
    );
    let o = sohoa(&data, &["report", "--from", "2026-07-01", "--to", "2026-09-28"]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("ON TIME") && table.contains("150/225"), "{table}");
}

#[test]
fn completeness_import_edits_and_views_are_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let data = build_dataset(tmp.path());

    let show = |code: &str, personal: bool| -> serde_json::Value {
        let mut args = vec!["case", "show", code, "--json"];
        if personal {
            args.push("--personal");
        }
        let o = sohoa(&data, &args);
        assert!(o.status.success(), "{}", text(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let state = |v: &serde_json::Value, t: &str| -> String {
        v["completeness"]["required"].as_array().unwrap().iter().find(|r| r["doc_type"] == t).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // i = 33 (U14 BIRTH, resolved, reused the certificate, result attached): complete.
    let c33 = show("H15.50.05.14-260709-0033", false);
    assert_eq!(c33["completeness"]["complete"], true, "{c33}");
    assert_eq!(state(&c33, "Tờ khai"), "attached");
    assert_eq!(state(&c33, "Giấy chứng sinh"), "attached");
    // i = 6 (U13 BIRTH): the birth certificate is missing.
    let c6 = show("H15.50.05.13-260702-0006", false);
    assert_eq!(c6["completeness"]["complete"], false);
    assert_eq!(state(&c6, "Giấy chứng sinh"), "missing");
    // i = 3 (U14 BIRTH, still processing): inputs complete, no result yet.
    let c3 = show("H15.50.05.14-260701-0003", false);
    assert_eq!(c3["completeness"]["results_attached"], 0);
    assert_eq!(c3["completeness"]["complete"], false);
    // A required input that arrived as a blank page is unreadable, not attached.
    let blank = show("H15.50.05.13-261001-9999", false);
    assert_eq!(state(&blank, "Bản chính"), "unreadable", "{blank}");
    // A document filed to the wrong case is detached: audited, its pages unfiled, the case incomplete.
    let unfiled_before = count(&data, "SELECT COUNT(*) FROM pages WHERE state = 'unfiled'");
    let view = data.join("cases/H15.50.05.14-260709-0033/H15.50.05.14-260709-0033.003.pdf");
    assert!(view.is_file());
    let o = sohoa(&data, &["case", "detach", "H15.50.05.14-260709-0033", "3", "--reason", "giấy của hồ sơ khác"]);
    assert!(o.status.success() && text(&o).contains("detached H15.50.05.14-260709-0033.003.pdf"), "{}", text(&o));
    assert!(!view.exists(), "the folder view follows the record");
    let c33 = show("H15.50.05.14-260709-0033", false);
    assert_eq!(state(&c33, "Giấy chứng sinh"), "missing");
    assert_eq!(c33["completeness"]["complete"], false);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM pages WHERE state = 'unfiled'"), unfiled_before + 1);
    let detach: Vec<(String, Option<String>, String)> =
        query(&data, "SELECT actor, sha256, detail FROM events WHERE kind = 'detach'");
    assert_eq!(detach.len(), 1);
    assert!(detach[0].1.is_some() && detach[0].2.contains("giấy của hồ sơ khác"), "{detach:?}");
    let again = sohoa(&data, &["case", "detach", "H15.50.05.14-260709-0033", "3", "--reason", "x"]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));

    // Personal data only on request.
    assert_eq!(c6["record"]["applicant_name"], "(hidden; --personal shows it)");
    assert_eq!(show("H15.50.05.13-260702-0006", true)["record"]["applicant_name"], "Nguyễn Văn 6");
    let o = sohoa(&data, &["case", "show", "H15.50.05.13-260702-0006"]);
    assert!(text(&o).contains("INCOMPLETE") && text(&o).contains("missing    Giấy chứng sinh"), "{}", text(&o));

    // Re-importing the same export changes nothing; an update changes only what changed.
    let export = tmp.path().join("cases.csv");
    let o = sohoa(&data, &["case", "import", export.to_str().unwrap()]);
    assert!(text(&o).contains("0 new, 0 updated, 361 unchanged"), "{}", text(&o));
    let update = tmp.path().join("update.json");
    std::fs::write(
        &update,
        r#"[{"ma_ho_so": "H15.50.05.14-260701-0003", "trang_thai": "Đã giải quyết", "ngay_giai_quyet": "2026-07-20T18:00:00Z", "chu_ho_so": "Nguyễn Văn Ba"},
            {"ma_ho_so": "../../etc/passwd"}]"#,
    )
    .unwrap();
    let o = sohoa(&data, &["case", "import", update.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a refused row makes the exit code 1");
    assert!(text(&o).contains("0 new, 1 updated") && text(&o).contains("row 2:"), "{}", text(&o));
    let c3 = show("H15.50.05.14-260701-0003", true);
    assert_eq!(c3["record"]["status"], "resolved");
    assert_eq!(c3["record"]["resolved_date"], "2026-07-21", "18:00 UTC is the next day in Vietnam");
    assert_eq!(c3["record"]["applicant_name"], "Nguyễn Văn Ba");

    // Every edit and view is an event with its actor; personal data is not copied into the log.
    let edits: Vec<(String, String)> = query(
        &data,
        "SELECT actor, detail FROM events WHERE kind = 'edit' AND case_code = 'H15.50.05.14-260701-0003' ORDER BY id",
    );
    assert_eq!(edits.len(), 2, "created by the import, then updated: {edits:?}");
    assert!(edits[1].1.contains("\"status\":\"resolved\"") && edits[1].1.contains("\"applicant_name\":\"(changed)\""));
    let leaked = count(&data, "SELECT COUNT(*) FROM events WHERE detail LIKE '%Nguyễn Văn%'");
    assert_eq!(leaked, 0, "applicant names in the audit log");
    let views =
        count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'view' AND case_code = 'H15.50.05.13-260702-0006'");
    assert_eq!(views, 3);

    // The catalogue is editable, and removal is audited.
    let o = sohoa(&data, &["procedure", "set", COPY, "--require", "Bản chính", "--require", "Bản sao"]);
    assert!(text(&o).contains("updated"), "{}", text(&o));
    let o = sohoa(&data, &["procedure", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list[2]["required_inputs"], serde_json::json!(["Bản chính", "Bản sao"]));
    assert!(sohoa(&data, &["procedure", "remove", COPY]).status.success());
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'delete'"), 1);
    assert!(!sohoa(&data, &["procedure", "remove", COPY]).status.success());

    // Nothing in the product can rewrite the trail, and neither can anyone with SQL.
    // An insert that replaces an event in place (SQLite's REPLACE deletes without DELETE triggers).
    let replace = if on_postgres() {
        "INSERT INTO events (id, at, actor, kind, detail) OVERRIDING SYSTEM VALUE SELECT id, at, 'x', kind, detail \
         FROM events WHERE kind = 'edit' ON CONFLICT (id) DO UPDATE SET actor = 'x'"
    } else {
        "INSERT OR REPLACE INTO events (id, at, actor, kind, detail) SELECT id, at, 'x', kind, detail FROM events \
         WHERE kind = 'edit'"
    };
    for sql in ["UPDATE events SET actor = 'x' WHERE kind = 'edit'", "DELETE FROM events WHERE kind = 'view'", replace]
    {
        let e = execute(&data, sql).expect_err("the audit log refuses it");
        assert!(e.contains("append-only"), "{e}");
    }
}

#[test]
fn verify_covers_a_window_and_resumes_an_interrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    for i in 0..12u32 {
        write_case_folder(&inbox, &format!("H15.50.05.13-261008-{:04}", i + 1), &[("p.png", "input", "Đơn", png(i))]);
    }
    let data = tmp.path().join("data");
    assert!(sohoa(&data, &["ingest", inbox.to_str().unwrap()]).status.success());
    let files = count(&data, "SELECT COUNT(*) FROM files");
    assert!(files >= 24, "12 originals and at least 12 PDFs");

    let o = sohoa(&data, &["verify", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(all["checked"], files);
    let o = sohoa(&data, &["verify", "--json", "--until", "2000-01-01"]);
    let none: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(none["checked"], 0, "nothing was stored before 2000");
    assert!(o.status.success());

    // An interrupted run had checked the first 10 files in hash order; resuming checks the rest.
    execute(
        &data,
        "INSERT INTO verify_runs (id, started_at, last_sha256, checked, failures) \
         SELECT 'interrupted', '2026-11-01T00:00:00+07:00', sha256, 10, 0 FROM files ORDER BY sha256 LIMIT 1 OFFSET 9",
    )
    .unwrap();
    let o = sohoa(&data, &["verify", "--resume"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("resumed: 10 file(s)"), "{}", text(&o));
    assert!(text(&o).contains(&format!("verified {files} files")), "{}", text(&o));
    let o = sohoa(&data, &["verify", "--resume"]);
    assert!(!text(&o).contains("resumed"), "a finished run is not resumed: {}", text(&o));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM verify_runs WHERE finished_at IS NULL"), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'fixity'"), 4);
}

#[test]
fn a_database_of_the_previous_release_is_upgraded_in_place() {
    if on_postgres() {
        return; // The PostgreSQL schema starts at this release.
    }
    // A data folder as the previous release left it: migrations 1–3 applied, a case with an attached
    // document and its page.
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let script = format!(
        r#"
import sqlite3, hashlib, glob, os
db = sqlite3.connect({db:?})
db.execute("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)")
for f in sorted(glob.glob({dir:?} + "/000[123]_*.sql")):
    sql = open(f, "rb").read()
    db.executescript(sql.decode())
    v, desc = os.path.basename(f)[:-4].split("_", 1)
    db.execute("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (?, ?, 1, ?, 0)", (int(v), desc.replace("_", " "), hashlib.sha384(sql).digest()))
db.execute("PRAGMA foreign_keys = ON")
db.execute("INSERT INTO profiles VALUES ('p', 'n', 't', 'x')")
db.execute("INSERT INTO files VALUES (?, 1, 'original', 'x')", ("a" * 64,))
db.execute("INSERT INTO intakes (id, seq, sha256, bytes, source_path, source_name, source_mtime, station, profile_name, profile_sha256, captured_at, route_key, hints, state) VALUES ('i1', 1, ?, 1, 's', 's', 'm', 'st', 'n', 'p', 'c', 'H15.50.05.13-261008-0975', '{{}}', 'split')", ("a" * 64,))
db.execute("INSERT INTO cases (id, code, created_at) VALUES ('c1', 'H15.50.05.13-261008-0975', 'x')")
db.execute("INSERT INTO documents (id, case_code, ordinal, role, group_key, state, page_count, created_at) VALUES ('d1', 'H15.50.05.13-261008-0975', 1, 'input', 'g', 'attached', 1, 'x')")
db.execute("INSERT INTO pages (id, intake_id, page_index, width, height, dpi_x, dpi_y, dpi_source, colour, source_encoding, role, group_key, document_id, page_no, state) VALUES ('pg1', 'i1', 0, 1, 1, 300, 300, 'file', 'rgb', 'jpeg', 'input', 'g', 'd1', 1, 'attached')")
db.commit()
"#,
        db = data.join("sohoa.db").display().to_string(),
        dir = repo().join("migrations/sqlite").display().to_string(),
    );
    let st = std::process::Command::new("python3").arg("-c").arg(script).status().unwrap();
    assert!(st.success());
    let o = sohoa(&data, &["case", "list"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("H15.50.05.13-261008-0975"), "{}", text(&o));
    let rows: Vec<(String, String, Option<String>)> =
        query(&data, "SELECT d.id, d.state, p.id FROM documents d LEFT JOIN pages p ON p.document_id = d.id");
    assert_eq!(rows, vec![("d1".to_string(), "attached".to_string(), Some("pg1".to_string()))]);
    assert!(query::<(String,)>(&data, "SELECT id FROM pages WHERE document_id IS NOT NULL").len() == 1);
    let problems: Vec<(String, i64, String, i64)> = query(&data, "PRAGMA foreign_key_check");
    assert!(problems.is_empty(), "{problems:?}");
}

/// A one-stop export as real ones are written (Vietnamese headers with diacritics, local times without
/// an offset, the statuses of withdrawn, cancelled and rejected cases, repeated and malformed rows,
/// procedures the catalogue does not know) and the figures for it counted by a separate script from
/// the rules (`fixtures/report766/compute.py`, which shares nothing with sohoa): the import and
/// the report must agree with it, per unit, per procedure and per month.
#[test]
fn a_real_export_gives_the_figures_computed_from_the_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let dir = repo().join("fixtures/report766");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let o = sohoa(&data, &["procedure", "import", dir.join("catalogue.toml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let export = dir.join("export.csv");
    let o = sohoa(&data, &["case", "import", export.to_str().unwrap()]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "refused rows make the import exit 1: {out}");
    let imported = &expected["imported"];
    let good = imported["good_codes"].as_u64().unwrap();
    assert!(out.contains(&format!("{good} case(s) imported: {good} new, 0 updated")), "{out}");
    for row in imported["refused_rows"].as_array().unwrap() {
        assert!(out.contains(&format!("row {row}: ")), "row {row} must be refused: {out}");
    }
    let refused = imported["refused_rows"].as_array().unwrap().len();
    assert!(out.contains(&format!("; {refused} row(s) refused")), "{out}");
    for code in imported["duplicated_codes"].as_array().unwrap() {
        assert!(out.contains(code.as_str().unwrap()), "duplicate {code} not reported: {out}");
    }
    for p in imported["unknown_procedures"].as_array().unwrap() {
        let line = out.lines().find(|l| l.starts_with("procedures the catalogue does not know")).unwrap_or("");
        assert!(line.contains(p.as_str().unwrap()), "unknown procedure {p} not reported: {out}");
    }
    assert!(out.contains("columns read: ") && out.contains("→ code"), "{out}");
    assert!(out.contains("read as local time (UTC+07:00)"), "how the dates were read: {out}");

    // Importing the same file again changes nothing: the last row of a repeated code wins each time.
    let o = sohoa(&data, &["case", "import", export.to_str().unwrap()]);
    assert!(text(&o).contains(&format!("{good} case(s) imported: 0 new, 0 updated, {good} unchanged")), "{}", text(&o));

    let rows: Vec<(String, String, Option<String>)> =
        query(&data, "SELECT code, status, received_date FROM cases WHERE origin = 'import'");
    assert_eq!(rows.len() as u64, good);
    for (code, status, received) in &rows {
        assert_eq!(expected["final_status"][code], status.as_str(), "status of {code}");
        assert_eq!(expected["final_received"][code], received.as_deref().unwrap_or(""), "received date of {code}");
    }

    // The scans: originals first, then the inputs that reuse earlier bytes.
    let scans: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("scans.json")).unwrap()).unwrap();
    let input_seed = |code: &str| -> u32 {
        scans.iter().find(|s| s["case"] == code && s["role"] == "input").unwrap()["seed"].as_u64().unwrap() as u32
    };
    for (pass, reused) in [false, true].into_iter().enumerate() {
        let inbox = tmp.path().join(format!("inbox{pass}"));
        let mut by_case: std::collections::BTreeMap<&str, Vec<ScanFile>> = Default::default();
        for s in scans.iter().filter(|s| s["reuse_of"].is_string() == reused) {
            let seed = match s["reuse_of"].as_str() {
                Some(of) => input_seed(of),
                None => s["seed"].as_u64().unwrap() as u32,
            };
            let kind = if s["role"] == "input" { "Tờ khai" } else { "Kết quả" };
            by_case.entry(s["case"].as_str().unwrap()).or_default().push((
                s["file"].as_str().unwrap(),
                s["role"].as_str().unwrap(),
                kind,
                png(seed),
            ));
        }
        for (code, files) in &by_case {
            write_case_folder(&inbox, code, files);
        }
        let o = sohoa(&data, &["ingest", inbox.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }

    let pair = |v: &serde_json::Value| (v[0].as_i64().unwrap(), v[1].as_i64().unwrap());
    let check = |got: &serde_json::Value, want: &serde_json::Value, what: &str| {
        for n in ["received", "resolved", "left_out"] {
            assert_eq!(got[n], want[n], "{what}: {n}");
        }
        for n in ["inputs_digitized", "results_digitized", "digitization", "electronic_result", "reuse"] {
            assert_eq!(nd(got, n), pair(&want[n]), "{what}: {n}");
        }
    };
    for p in expected["periods"].as_array().unwrap() {
        let (from, to) = (p["from"].as_str().unwrap(), p["to"].as_str().unwrap());
        let mut args = vec!["--from", from, "--to", to];
        if let Some(u) = p["unit"].as_str() {
            args.extend(["--unit", u]);
        }
        let r = report(&data, &args);
        let want = p["groups"].as_array().unwrap();
        assert_eq!(r["groups"].as_array().unwrap().len(), want.len(), "{from}…{to} {:?}: groups {r}", p["unit"]);
        for w in want {
            let (unit, procedure) = (w["unit"].as_str().unwrap(), w["procedure"].as_str().unwrap());
            check(group(&r, unit, procedure), w, &format!("{from}…{to} {unit}/{procedure}"));
        }
        check(&r["total"], &p["total"], &format!("{from}…{to} total"));
        // Every case of an unknown procedure is named under data quality.
        for g in r["groups"].as_array().unwrap().iter().filter(|g| g["procedure_known"] == false) {
            assert_eq!(g["digitization"]["denominator"], 0, "{g}");
        }
    }
    let r = report(&data, &["--from", "2026-09-01", "--to", "2026-10-31"]);
    let unknown = r["data_quality"]["unknown_procedure"].as_array().unwrap();
    assert_eq!(unknown.len(), 3, "{}", r["data_quality"]);
    // The bare cases (scans only, no export row) are named as not counted, in the month their code
    // says they were received and in the month they were scanned.
    let today = common_today();
    let r = report(&data, &["--from", &today, "--to", &today]);
    let bare = &r["data_quality"]["not_in_export"];
    assert_eq!(bare, &serde_json::json!(["H15.50.05.14-260815-0009", "H15.50.07.02-261101-0001"]), "{r}");
    let r = report(&data, &["--from", "2026-08-01", "--to", "2026-08-31"]);
    assert_eq!(r["data_quality"]["not_in_export"], serde_json::json!(["H15.50.05.14-260815-0009"]), "{r}");
    // Withdrawn and cancelled cases are named, as many as `left_out` counts.
    let r = report(&data, &["--from", "2026-09-01", "--to", "2026-10-31"]);
    let listed = r["data_quality"]["withdrawn_or_cancelled"].as_array().unwrap().len();
    assert_eq!(listed as i64, r["total"]["left_out"].as_i64().unwrap(), "{r}");
}

/// A file of a case folder: name, role, document type, bytes.
type ScanFile<'a> = (&'a str, &'a str, &'a str, Vec<u8>);

/// Today's local date in Vietnam, as the records write it.
fn common_today() -> String {
    let d = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+7)).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The audit log is a hash chain: someone with database rights who turns the append-only trigger off
/// and changes, removes or cuts off events is named by `verify`, at the first broken link.
#[test]
fn an_audit_log_edited_around_the_trigger_is_caught_by_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let code = "H15.50.05.13-261008-0975";
    for status in ["received", "processing", "supplement", "resolved"] {
        let mut args = vec!["case", "set", code, "--status", status];
        if status == "resolved" {
            args.extend(["--resolved", "2026-10-20"]);
        }
        let o = command(&data).args(&args).env("SOHOA_ACTOR", "tester").output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = sohoa(&data, &["verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("audit log head: event "), "{}", text(&o));
    let o = sohoa(&data, &["case", "set", code, "--due", "2026-10-30"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sohoa(&data, &["verify", "--events"]);
    assert!(o.status.success(), "{}", text(&o));

    let disable: &[&'static str] = if on_postgres() {
        &["ALTER TABLE events DISABLE TRIGGER events_no_update"]
    } else {
        &["DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete"]
    };
    for sql in disable {
        execute(&data, sql).unwrap();
    }
    let first_edit: Vec<(i64,)> = query(&data, "SELECT MIN(id) FROM events WHERE kind = 'edit'");
    let first_edit = first_edit[0].0;

    // An event changed.
    execute(
        &data,
        "UPDATE events SET actor = 'someone else' WHERE id = (SELECT MIN(id) FROM events WHERE kind = 'edit')",
    )
    .unwrap();
    let o = sohoa(&data, &["verify", "--events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("AUDIT LOG   event {first_edit} was changed")), "{}", text(&o));
    execute(&data, "UPDATE events SET actor = 'tester' WHERE actor = 'someone else'").unwrap();
    assert!(sohoa(&data, &["verify", "--events"]).status.success(), "put back, the chain holds again");

    // An event removed from the middle.
    execute(&data, "DELETE FROM events WHERE id = (SELECT MIN(id) + 1 FROM events WHERE kind = 'edit')").unwrap();
    let o = sohoa(&data, &["verify", "--events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("event {} does not follow event {first_edit}", first_edit + 2)), "{}", text(&o));
    let o = sohoa(&data, &["verify"]);
    assert_eq!(o.status.code(), Some(1), "a full verify says it too: {}", text(&o));
    assert!(text(&o).contains("AUDIT LOG"), "{}", text(&o));

    // The tail cut off, the anchoring run's own event with it: the intact prefix still chains, but the
    // anchor the run kept is gone — even with the runs table's copy wiped, the file beside the database
    // keeps one.
    let tmp2 = tempfile::tempdir().unwrap();
    let data = tmp2.path().join("data");
    for status in ["received", "processing"] {
        assert!(sohoa(&data, &["case", "set", code, "--status", status]).status.success());
    }
    assert!(sohoa(&data, &["verify"]).status.success());
    for sql in disable {
        execute(&data, sql).unwrap();
    }
    execute(&data, "DELETE FROM events WHERE id >= (SELECT MAX(id) FROM events WHERE kind = 'edit')").unwrap();
    execute(&data, "UPDATE verify_runs SET chain_head_id = NULL, chain_head = NULL").unwrap();
    let o = sohoa(&data, &["verify", "--events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("kept as an anchor by an earlier check, is gone"), "{}", text(&o));

    // Only the newest check's own event removed: shown too. `verify --events` anchors like a full run.
    let tmp3 = tempfile::tempdir().unwrap();
    let data = tmp3.path().join("data");
    assert!(sohoa(&data, &["case", "set", code, "--status", "received"]).status.success());
    let o = sohoa(&data, &["verify", "--events"]);
    assert!(o.status.success() && text(&o).contains("audit log head: event "), "{}", text(&o));
    for sql in disable {
        execute(&data, sql).unwrap();
    }
    execute(&data, "DELETE FROM events WHERE id = (SELECT MAX(id) FROM events WHERE kind = 'fixity')").unwrap();
    let o = sohoa(&data, &["verify", "--events"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("is gone or changed"), "{}", text(&o));
}

/// Channels, unit names, declared reuse, refused rows and the workbook, each against figures written
/// from the rules: four cases received in October (a fifth row refused), one per channel.
#[test]
fn channels_unit_names_declared_reuse_refused_rows_and_the_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, data) = (tmp.path(), tmp.path().join("data"));
    let o = sohoa(&data, &["procedure", "import", repo().join("fixtures/procedures.toml").to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let units = root.join("units.csv");
    std::fs::write(&units, "Mã đơn vị;Tên đơn vị\nH15.50.05.13;UBND xã Tân Phú\nH15.50.05.14;UBND xã Phú Lộc\n")
        .unwrap();
    let o = sohoa(&data, &["unit", "import", units.to_str().unwrap()]);
    assert!(o.status.success() && text(&o).contains("2 unit(s): 2 new or renamed"), "{}", text(&o));

    let code = |u: &str, d: &str, n: u32| format!("H15.50.05.{u}-2610{d}-{n:04}");
    let (a1, a2, a3, a4, a5) =
        (code("13", "05", 1), code("13", "05", 2), code("14", "06", 3), code("14", "06", 4), code("14", "06", 5));
    let a6 = code("14", "06", 6);
    let export = root.join("một cửa.csv");
    let rows = [
        format!("{a1},{COPY},H15.50.05.13,05/10/2026,Đang xử lý,Trực tuyến"),
        format!("{a2},{COPY},H15.50.05.13,05/10/2026,Đang xử lý,Trực tiếp"),
        format!("{a3},{COPY},H15.50.05.14,06/10/2026,Đang xử lý,Bưu chính công ích"),
        format!("{a4},{COPY},H15.50.05.14,06/10/2026,Đang xử lý,"),
        format!("{a5},{COPY},H15.50.05.14,06/10/2026,Đang xử lý,Fax"),
        format!("{a6},{COPY},H15.50.05.14,32/10/2026,Đang xử lý,Trực tuyến"),
    ];
    std::fs::write(
        &export,
        format!("Mã hồ sơ,Mã thủ tục,Đơn vị,Ngày tiếp nhận,Trạng thái,Hình thức nộp\n{}\n", rows.join("\n")),
    )
    .unwrap();
    for _ in 0..2 {
        // Imported twice: the refused row is kept once, not once per import.
        let o = sohoa(&data, &["case", "import", export.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        // A channel no word names leaves the case without one (it still counts); a bad date refuses the row.
        assert!(text(&o).contains("row 6: channel `Fax` is not one of online, counter, post"), "{}", text(&o));
        assert!(text(&o).contains("imported without a channel") && text(&o).contains("row 7:"), "{}", text(&o));
    }
    // A1's manifest declares its input taken from an earlier case's document; a bad source is refused.
    let inbox = root.join("inbox");
    for (c, seed, reused) in [(&a1, 1, Some("H15.50.05.13-250301-0012.002")), (&a2, 2, None), (&a3, 3, None)] {
        let dir = inbox.join(c);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("in.png"), png(seed)).unwrap();
        let mut m = serde_json::json!({ "case": c, "role": "input", "document_type": "Bản chính" });
        if let Some(r) = reused {
            m["reused_from"] = r.into();
        }
        std::fs::write(dir.join("manifest.json"), m.to_string()).unwrap();
    }
    let o = sohoa(&data, &["ingest", inbox.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    // A clerk marks A3's and A2's inputs, then takes A2's mark off; A4 has nothing to mark.
    for args in [
        vec!["case", "reuse", &a3, "1", "--from", "H15.50.05.14-250101-0007"],
        vec!["case", "reuse", &a2, "1", "--from", "H15.50.05.13-250301-0012"],
        vec!["case", "reuse", &a2, "1", "--clear"],
    ] {
        let o = sohoa(&data, &args);
        assert!(o.status.success(), "{}", text(&o));
    }
    let o = sohoa(&data, &["case", "reuse", &a4, "1", "--from", "H15.50.05.13-250301-0012"]);
    assert!(!o.status.success() && text(&o).contains("has no attached input 001"), "{}", text(&o));
    let o = sohoa(&data, &["case", "reuse", &a3, "1", "--from", "giấy cũ"]);
    assert!(!o.status.success() && text(&o).contains("neither a case code"), "{}", text(&o));
    let o = sohoa(&data, &["case", "reuse", &a3, "1", "--from", &a3]);
    assert!(!o.status.success() && text(&o).contains("the case itself"), "{}", text(&o));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM events WHERE kind = 'reuse'"), 3);

    let r = report(&data, &["--from", "2026-10-01", "--to", "2026-10-31", "--points", "digitization=2,reuse=1"]);
    let t = &r["total"];
    assert_eq!(t["received"], 5);
    assert_eq!(nd(t, "online"), (1, 5));
    assert_eq!(t["channels"], serde_json::json!({ "online": 1, "counter": 1, "post": 1, "unknown": 2 }));
    assert_eq!(nd(t, "reuse"), (2, 5), "A1 by its manifest, A3 by the clerk: {t}");
    assert_eq!(nd(t, "digitization"), (3, 5));
    // 3/5 = 60% → 0.75 of 2 points; 2/5 = 40% → 0.5 of 1 point.
    assert_eq!((t["digitization"]["points"].as_f64(), t["reuse"]["points"].as_f64()), (Some(1.5), Some(0.5)));
    let names: Vec<(String, String)> = r["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["unit"].as_str().unwrap().to_string(), u["unit_name"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("H15.50.05.13".to_string(), "UBND xã Tân Phú".to_string()),
            ("H15.50.05.14".into(), "UBND xã Phú Lộc".into())
        ]
    );
    let csv = text(&sohoa(&data, &["report", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "csv"]));
    assert!(csv.contains(",*,,*,channel_unknown,2,5,"), "{csv}");
    let u13 = report(&data, &["--from", "2026-10-01", "--to", "2026-10-31", "--unit", "H15.50.05.13"]);
    assert_eq!(u13["data_quality"]["refused_rows"], serde_json::json!([]), "another unit's row: {u13}");
    let refused = r["data_quality"]["refused_rows"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!((refused[0]["file"].as_str(), refused[0]["line"].as_i64()), (Some("một cửa.csv"), Some(7)));
    assert_eq!(refused[0]["code"].as_str(), Some(a6.as_str()));
    let o = sohoa(&data, &["report", "--from", "2026-10-01", "--to", "2026-10-31"]);
    let table = text(&o);
    assert!(
        table.contains("ONLINE") && table.contains("UBND xã Phú Lộc") && table.contains("import rows refused"),
        "{table}"
    );
    // `case show` says how the case came in, and where its input was digitized before.
    let o = sohoa(&data, &["--lang", "vi", "case", "show", &a1]);
    assert!(text(&o).contains("kênh nộp trực tuyến"), "{}", text(&o));
    assert!(text(&o).contains("tái sử dụng từ: H15.50.05.13-250301-0012.002"), "{}", text(&o));

    // The workbook, read back by Python's zip and XML readers, not by the crate that wrote it.
    let book = root.join("bao-cao.xlsx");
    let o = sohoa(
        &data,
        &[
            "--lang",
            "vi",
            "report",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-31",
            "--format",
            "xlsx",
            "--out",
            book.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let py = r#"
import sys, zipfile, re, json
z = zipfile.ZipFile(sys.argv[1])
wb = z.read("xl/workbook.xml").decode()
strings = re.findall(r"<t[^>]*>([^<]*)</t>", z.read("xl/sharedStrings.xml").decode())
sheet1 = z.read("xl/worksheets/sheet1.xml").decode()
print(json.dumps({"sheets": re.findall(r'<sheet name="([^"]+)"', wb), "strings": strings, "values": re.findall(r"<v>([^<]*)</v>", sheet1)}))
"#;
    let o = std::process::Command::new("python3").args(["-c", py, book.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let x: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(x["sheets"], serde_json::json!(["Chỉ tiêu", "Hồ sơ thiếu", "Dữ liệu cần xem lại"]));
    let strings: Vec<&str> = x["strings"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    for want in [
        "UBND xã Tân Phú",
        "Chứng thực bản sao",
        a4.as_str(),
        "chưa gắn thành phần hồ sơ",
        "dòng nhập bị từ chối",
        "Số hóa: tỷ lệ",
    ] {
        assert!(strings.iter().any(|s| s.contains(want)), "{want} not in {strings:?}");
    }
    let values: Vec<&str> = x["values"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    assert!(values.contains(&"0.6") && values.contains(&"0.2"), "{values:?}");
    let o = sohoa(&data, &["report", "--from", "2026-10-01", "--to", "2026-10-31", "--format", "xlsx"]);
    assert!(!o.status.success() && text(&o).contains("needs --out"), "{}", text(&o));
}
