//! Reading what the one-stop system exports: its cases (CSV or JSON) and a procedure catalogue (TOML).
//!
//! Every row is checked on its own; a bad row is reported with its line and what to fix, and the good
//! rows still go in. Re-importing the same file changes nothing (cases are keyed by their code), so a
//! clerk fixes the bad rows and imports the file again.

use std::path::Path;

use serde::Deserialize;

use crate::route::CaseCodeRule;
use crate::store::cases::{CaseFields, Procedure, Status};
use crate::util::text::nfc;
use crate::util::time::local_date;

/// A row that could not be read, with where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based line (CSV) or element (JSON).
    pub row: u64,
    /// What is wrong and what to write instead.
    pub reason: String,
}

/// The cases of an export file.
#[derive(Debug, Default)]
pub struct CaseRows {
    /// Good rows: code and fields.
    pub cases: Vec<(String, CaseFields)>,
    /// Bad rows.
    pub errors: Vec<RowError>,
}

/// One case as an export writes it. Column names in English, or the Vietnamese of common exports.
#[derive(Debug, Default, Deserialize)]
struct RawCase {
    #[serde(alias = "ma_ho_so", alias = "case", alias = "case_code")]
    code: Option<String>,
    #[serde(alias = "ma_thu_tuc", alias = "procedure_code")]
    procedure: Option<String>,
    #[serde(alias = "don_vi", alias = "co_quan")]
    unit: Option<String>,
    #[serde(alias = "ngay_tiep_nhan", alias = "received_date")]
    received: Option<String>,
    #[serde(alias = "han_xu_ly", alias = "due_date")]
    due: Option<String>,
    #[serde(alias = "trang_thai")]
    status: Option<String>,
    #[serde(alias = "ngay_giai_quyet", alias = "ngay_tra_ket_qua", alias = "resolved_date")]
    resolved: Option<String>,
    #[serde(alias = "chu_ho_so", alias = "ho_ten")]
    applicant_name: Option<String>,
    #[serde(alias = "so_cccd", alias = "cccd")]
    applicant_id: Option<String>,
    #[serde(alias = "lien_he", alias = "so_dien_thoai")]
    applicant_contact: Option<String>,
}

fn clean(v: Option<String>) -> Option<String> {
    v.map(|s| nfc(s.trim())).filter(|s| !s.is_empty())
}

/// Case fields as people and exports write them: text, dates in any accepted form, statuses in English
/// or Vietnamese. One reading for the import, `sohoa case set` and the API.
#[derive(Debug, Default, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct FieldsText {
    /// Procedure code.
    #[arg(long)]
    pub procedure: Option<String>,
    /// Receiving unit.
    #[arg(long)]
    pub unit: Option<String>,
    /// Date received (2026-10-08 or 08/10/2026).
    #[arg(long)]
    pub received: Option<String>,
    /// Due date.
    #[arg(long)]
    pub due: Option<String>,
    /// Status: received, processing, resolved or returned (or the Vietnamese words).
    #[arg(long)]
    pub status: Option<String>,
    /// Date resolved.
    #[arg(long)]
    pub resolved: Option<String>,
    /// Applicant's name.
    #[arg(long)]
    pub applicant_name: Option<String>,
    /// Applicant's ID-card number.
    #[arg(long)]
    pub applicant_id: Option<String>,
    /// Applicant's phone or address.
    #[arg(long)]
    pub applicant_contact: Option<String>,
}

impl FieldsText {
    /// The fields in stored form (NFC, local dates), or what is wrong with them.
    pub fn parse(self) -> Result<CaseFields, String> {
        let date = |v: Option<String>, what: &str| -> Result<Option<String>, String> {
            clean(v).map(|d| local_date(&d).map_err(|e| format!("{what}: {e}"))).transpose()
        };
        let status = match clean(self.status) {
            Some(s) => Some(
                Status::parse(&s)
                    .ok_or_else(|| format!("status `{s}` is not one of received, processing, resolved, returned"))?,
            ),
            None => None,
        };
        Ok(CaseFields {
            procedure: clean(self.procedure),
            unit: clean(self.unit),
            received: date(self.received, "received")?,
            due: date(self.due, "due")?,
            resolved: date(self.resolved, "resolved")?,
            status,
            applicant_name: clean(self.applicant_name),
            applicant_id: clean(self.applicant_id),
            applicant_contact: clean(self.applicant_contact),
        })
    }
}

impl RawCase {
    fn check(self, codes: &CaseCodeRule) -> Result<(String, CaseFields), String> {
        let code = clean(self.code).ok_or("no case code (column `code` or `ma_ho_so`)")?;
        let code = codes.validate(&code)?;
        let fields = FieldsText {
            procedure: self.procedure,
            unit: self.unit,
            received: self.received,
            due: self.due,
            status: self.status,
            resolved: self.resolved,
            applicant_name: self.applicant_name,
            applicant_id: self.applicant_id,
            applicant_contact: self.applicant_contact,
        }
        .parse()?;
        // A whole record from the one-stop system must also be consistent in itself.
        if fields.status == Some(Status::Resolved) && fields.resolved.is_none() {
            return Err("status is resolved but there is no resolved date".into());
        }
        if let (Some(r), Some(d)) = (&fields.received, &fields.resolved)
            && d < r
        {
            return Err(format!("resolved {d} is before received {r}"));
        }
        Ok((code, fields))
    }
}

/// Reads a case export: `.json` (an array of objects), `.jsonl` (one object a line), else CSV with a
/// header row. Fails only when the file itself cannot be read.
pub fn read_cases(path: &Path, codes: &CaseCodeRule) -> std::io::Result<CaseRows> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut out = CaseRows::default();
    let mut push = |row: u64, raw: Result<RawCase, String>| match raw.and_then(|r| r.check(codes)) {
        Ok(c) => out.cases.push(c),
        Err(reason) => out.errors.push(RowError { row, reason }),
    };
    match ext.as_str() {
        "json" => {
            let text = std::fs::read_to_string(path)?;
            let items: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a JSON array of cases: {e}"))
            })?;
            for (i, v) in items.into_iter().enumerate() {
                push(i as u64 + 1, serde_json::from_value(stringify(v)).map_err(|e| e.to_string()));
            }
        }
        "jsonl" | "ndjson" => {
            let text = std::fs::read_to_string(path)?;
            for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let v = serde_json::from_str::<serde_json::Value>(line).map_err(|e| e.to_string());
                push(i as u64 + 1, v.and_then(|v| serde_json::from_value(stringify(v)).map_err(|e| e.to_string())));
            }
        }
        _ => {
            let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_path(path)?;
            // Headers are matched without case and without a UTF-8 byte-order mark (Excel writes one).
            let headers: Vec<String> =
                r.headers()?.iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase()).collect();
            r.set_headers(csv::StringRecord::from(headers));
            for (i, rec) in r.deserialize::<RawCase>().enumerate() {
                push(i as u64 + 2, rec.map_err(|e| e.to_string()));
            }
        }
    }
    Ok(out)
}

/// JSON exports write numbers where we keep text (a sequence, an ID number): turn them into strings.
fn stringify(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::Number(n) => serde_json::Value::String(n.to_string()),
                        other => other,
                    };
                    (k.to_lowercase(), v)
                })
                .collect(),
        ),
        other => other,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    #[serde(default)]
    procedure: Vec<Procedure>,
}

/// Reads a procedure catalogue:
///
/// ```toml
/// [[procedure]]
/// code = "1.001193"
/// name = "Đăng ký khai sinh"
/// unit = "UBND cấp xã"
/// required_inputs = ["Tờ khai đăng ký khai sinh", "Giấy chứng sinh"]
/// issues_result = true
/// ```
pub fn read_procedures(path: &Path) -> Result<Vec<Procedure>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let c: Catalogue = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(c.procedure.len());
    for mut p in c.procedure {
        p.code = nfc(p.code.trim());
        p.name = nfc(p.name.trim());
        p.unit = nfc(p.unit.trim());
        p.required_inputs = p.required_inputs.iter().map(|t| nfc(t.trim())).filter(|t| !t.is_empty()).collect();
        if p.code.is_empty() || p.name.is_empty() {
            return Err(format!("{}: every [[procedure]] needs a code and a name", path.display()));
        }
        if !seen.insert(p.code.clone()) {
            return Err(format!("{}: procedure {} is listed twice", path.display(), p.code));
        }
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> CaseCodeRule {
        CaseCodeRule::from_profile(&crate::profile::Routing::default()).unwrap()
    }

    #[test]
    fn csv_rows_are_checked_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cases.csv");
        std::fs::write(
            &p,
            "\u{feff}Ma_Ho_So,ma_thu_tuc,ngay_tiep_nhan,trang_thai,ngay_giai_quyet,ho_ten\n\
             H15.50.05.13-261008-0975,1.001193,08/10/2026,Đã giải quyết,2026-10-20,Nguyễn Văn A\n\
             not-a-code,1.001193,2026-10-08,,,\n\
             H15.50.05.13-261008-0976,1.001193,2026-10-08,resolved,,\n\
             H15.50.05.13-261008-0977,1.001193,2026-10-08T20:00:00Z,weird,,\n",
        )
        .unwrap();
        let rows = read_cases(&p, &rule()).unwrap();
        assert_eq!(rows.cases.len(), 1);
        let (code, f) = &rows.cases[0];
        assert_eq!(code, "H15.50.05.13-261008-0975");
        assert_eq!(f.received.as_deref(), Some("2026-10-08"));
        assert_eq!(f.status, Some(Status::Resolved));
        assert_eq!(f.applicant_name.as_deref(), Some("Nguyễn Văn A"));
        let rows_in_error: Vec<u64> = rows.errors.iter().map(|e| e.row).collect();
        assert_eq!(rows_in_error, [3, 4, 5]);
        assert!(rows.errors[1].reason.contains("no resolved date"), "{:?}", rows.errors);
        assert!(rows.errors[2].reason.contains("weird"), "{:?}", rows.errors);
    }

    #[test]
    fn json_numbers_become_text() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cases.json");
        std::fs::write(
            &p,
            r#"[{"code": "H15.50.05.13-261008-0975", "applicant_id": 1234567890, "unit": "H15.50.05.13"}]"#,
        )
        .unwrap();
        let rows = read_cases(&p, &rule()).unwrap();
        assert_eq!(rows.cases[0].1.applicant_id.as_deref(), Some("1234567890"));
    }
}
