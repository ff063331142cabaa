//! Reading what the one-stop system exports: its cases (CSV or JSON) and a procedure catalogue (TOML).
//!
//! Every row is checked on its own; a bad row is reported with its line and what to fix, and the good
//! rows still go in. Re-importing the same file changes nothing (cases are keyed by their code), so a
//! clerk fixes the bad rows and imports the file again.

use std::path::Path;

use serde::Deserialize;

use crate::route::CaseCodeRule;
use crate::store::cases::{CaseFields, Channel, Procedure, Status};
use std::collections::BTreeMap;

use crate::util::text::{fold, nfc};
use crate::util::time::{DateForm, local_date, read_local_date};

/// A row that could not be read, with where it is and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based line (CSV) or element (JSON).
    pub row: u64,
    /// The case code the row gave, if any.
    pub code: Option<String>,
    /// What is wrong and what to write instead.
    pub reason: String,
}

impl CaseRows {
    /// The refused rows as the records keep them: (line, code, reason).
    pub fn refusals(&self) -> Vec<(u64, Option<String>, String)> {
        self.errors.iter().map(|e| (e.row, e.code.clone(), e.reason.clone())).collect()
    }
}

/// The cases of an export file.
#[derive(Debug, Default)]
pub struct CaseRows {
    /// Good rows: code and fields, one per code (the last good row of a code wins).
    pub cases: Vec<(String, CaseFields)>,
    /// Bad rows.
    pub errors: Vec<RowError>,
    /// Codes on more than one good row, with the rows: the last is the one imported.
    pub duplicates: Vec<(String, Vec<u64>)>,
    /// Rows imported with a field left out because it could not be read (a submission channel no
    /// word names): the case counts, the field is said.
    pub warnings: Vec<RowError>,
    /// Each column of the file and the field it was read as (`None`: not used).
    pub columns: Vec<(String, Option<&'static str>)>,
    /// Per date field, how many values were read in each form.
    pub date_forms: BTreeMap<&'static str, BTreeMap<DateForm, u64>>,
}

/// The fields of a case row and the column names exports use for them, folded
/// ([`crate::util::text::fold`]) and without spaces: `Mã hồ sơ`, `MA_HO_SO`, `MaHoSo` and `ma ho so` are
/// all `mahoso`. English names, the Vietnamese of common exports and the national portal's field
/// names (`MaHoSo`, `NgayTiepNhan`, …).
const COLUMNS: [(&str, &[&str]); 11] = [
    ("code", &["code", "case", "casecode", "caseid", "dossiercode", "mahoso", "sohoso", "mahs", "sohs", "sobiennhan"]),
    ("procedure", &["procedure", "procedurecode", "mathutuc", "matthc", "mathutuchanhchinh"]),
    (
        "unit",
        &["unit", "unitcode", "donvi", "madonvi", "coquan", "donvixuly", "donvitiepnhan", "coquantiepnhan", "madvxl"],
    ),
    (
        "received",
        &["received", "receiveddate", "receivedat", "ngaytiepnhan", "ngaynhan", "thoigiantiepnhan", "ngaynop"],
    ),
    ("due", &["due", "duedate", "hanxuly", "ngayhentra", "hangiaiquyet", "hantraketqua", "ngayhen"]),
    ("status", &["status", "trangthai", "tinhtrang", "trangthaihoso", "tinhtranghoso"]),
    (
        "resolved",
        &[
            "resolved",
            "resolveddate",
            "resolvedat",
            "ngaygiaiquyet",
            "ngaytraketqua",
            "ngaytra",
            "ngayhoanthanh",
            "ngaycoketqua",
            "ngayketthuc",
        ],
    ),
    (
        "applicant_name",
        &[
            "applicantname",
            "applicant",
            "chuhoso",
            "hoten",
            "hovaten",
            "tennguoinop",
            "nguoinop",
            "tencongdan",
            "nguoidangky",
            "hotennguoinop",
            "tenchuhoso",
            "hotenchuhoso",
            "hotencongdan",
        ],
    ),
    ("applicant_id", &["applicantid", "socccd", "cccd", "socmnd", "cmnd", "sogiayto", "sodinhdanh", "madinhdanh"]),
    ("applicant_contact", &["applicantcontact", "contact", "lienhe", "sodienthoai", "dienthoai", "diachi"]),
    (
        "channel",
        &[
            "channel",
            "submissionchannel",
            "kenh",
            "kenhnop",
            "kenhtiepnhan",
            "hinhthucnop",
            "hinhthucnophoso",
            "hinhthuctiepnhan",
        ],
    ),
];

/// The field a column name stands for, if any.
pub fn column_field(header: &str) -> Option<&'static str> {
    let key: String = fold(header).chars().filter(|c| *c != ' ').collect();
    COLUMNS.iter().find(|(_, names)| names.contains(&key.as_str())).map(|(field, _)| *field)
}

/// One case as an export writes it, its values by field.
#[derive(Debug, Default)]
struct RawCase {
    code: Option<String>,
    procedure: Option<String>,
    unit: Option<String>,
    received: Option<String>,
    due: Option<String>,
    status: Option<String>,
    resolved: Option<String>,
    applicant_name: Option<String>,
    applicant_id: Option<String>,
    applicant_contact: Option<String>,
    channel: Option<String>,
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
    /// Date received (2026-10-08 or 08/10/2026, with or without a local time).
    #[arg(long)]
    pub received: Option<String>,
    /// Due date.
    #[arg(long)]
    pub due: Option<String>,
    /// Status: received, processing, supplement, resolved, returned, rejected, withdrawn or cancelled
    /// (or the Vietnamese words: Đang xử lý, Yêu cầu bổ sung, Đã giải quyết, Đã rút hồ sơ, Hủy …).
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
    /// How the dossier was submitted: online, counter or post (or Trực tuyến, Trực tiếp, Bưu chính).
    #[arg(long)]
    pub channel: Option<String>,
}

impl FieldsText {
    /// The fields in stored form (NFC, local dates), or what is wrong with them.
    pub fn parse(self) -> Result<CaseFields, String> {
        let date = |v: Option<String>, what: &str| -> Result<Option<String>, String> {
            clean(v).map(|d| local_date(&d).map_err(|e| format!("{what}: {e}"))).transpose()
        };
        let said = |field_vi: &str, field: &str| crate::util::lang::say(field_vi, field);
        let status = match clean(self.status) {
            Some(s) => Some(Status::parse(&s).ok_or_else(|| {
                crate::util::lang::say(
                    format!(
                        "tình trạng `{s}` không rõ: dùng {} (hoặc các từ tiếng Việt như Đang xử lý, Đã giải quyết)",
                        Status::words()
                    ),
                    format!("status `{s}` is not one of {} (or the Vietnamese words)", Status::words()),
                )
            })?),
            None => None,
        };
        Ok(CaseFields {
            procedure: clean(self.procedure),
            unit: clean(self.unit),
            received: date(self.received, &said("ngày tiếp nhận", "received"))?,
            due: date(self.due, &said("hạn trả", "due"))?,
            resolved: date(self.resolved, &said("ngày giải quyết", "resolved"))?,
            status,
            applicant_name: clean(self.applicant_name),
            applicant_id: clean(self.applicant_id),
            applicant_contact: clean(self.applicant_contact),
            channel: match clean(self.channel) {
                Some(c) => Some(Channel::parse(&c).ok_or_else(|| {
                    format!("channel `{c}` is not one of {} (or the Vietnamese words)", Channel::words())
                })?),
                None => None,
            },
        })
    }
}

impl RawCase {
    fn set(&mut self, field: &str, value: String) {
        let slot = match field {
            "code" => &mut self.code,
            "procedure" => &mut self.procedure,
            "unit" => &mut self.unit,
            "received" => &mut self.received,
            "due" => &mut self.due,
            "status" => &mut self.status,
            "resolved" => &mut self.resolved,
            "applicant_name" => &mut self.applicant_name,
            "applicant_id" => &mut self.applicant_id,
            "channel" => &mut self.channel,
            _ => &mut self.applicant_contact,
        };
        *slot = Some(value);
    }

    fn check(
        self,
        codes: &CaseCodeRule,
        forms: &mut BTreeMap<&'static str, BTreeMap<DateForm, u64>>,
    ) -> Result<(String, CaseFields, Option<String>), String> {
        let code = clean(self.code).ok_or("no case code (a column such as `Mã hồ sơ` or `code`)")?;
        // A channel no word names leaves the channel unknown, never the case out of the figures.
        let (channel, warning) = match clean(self.channel.clone()) {
            Some(c) => match Channel::parse(&c) {
                Some(ch) => (Some(ch), None),
                None => (
                    None,
                    Some(crate::util::lang::say(
                        format!(
                            "kênh nộp `{c}` không rõ ({} hoặc Trực tuyến, Trực tiếp, Bưu chính): hồ sơ được nhập không có kênh nộp",
                            Channel::words()
                        ),
                        format!(
                            "channel `{c}` is not one of {} (or the Vietnamese words): imported without a channel",
                            Channel::words()
                        ),
                    )),
                ),
            },
            None => (None, None),
        };
        let code = codes.validate(&code).map_err(|e| e.to_string())?;
        // How each date column was written, counted only for rows that are read whole.
        let mut seen = Vec::new();
        for (field, v) in [("received", &self.received), ("due", &self.due), ("resolved", &self.resolved)] {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty())
                && let Ok((_, form)) = read_local_date(v)
            {
                seen.push((field, form));
            }
        }
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
            channel: None,
        }
        .parse()?;
        let fields = CaseFields { channel, ..fields };
        // A whole record from the one-stop system must also be consistent in itself.
        if fields.status == Some(Status::Resolved) && fields.resolved.is_none() {
            return Err(crate::util::lang::say(
                "tình trạng là đã giải quyết nhưng không có ngày giải quyết",
                "status is resolved but there is no resolved date",
            ));
        }
        if let (Some(r), Some(d)) = (&fields.received, &fields.resolved)
            && d < r
        {
            return Err(crate::util::lang::say(
                format!("ngày giải quyết {d} trước ngày tiếp nhận {r}"),
                format!("resolved {d} is before received {r}"),
            ));
        }
        for (field, form) in seen {
            *forms.entry(field).or_default().entry(form).or_default() += 1;
        }
        Ok((code.into_string(), fields, warning))
    }
}

/// Reads a case export: `.json` (an array of objects), `.jsonl` (one object a line), else CSV with a
/// header row. Column names are matched after NFC, case folding and with or without diacritics
/// ([`column_field`]). Within one file the last good row of a code wins, and the codes listed more than
/// once are reported. Fails only when the file itself cannot be read.
pub fn read_cases(path: &Path, codes: &CaseCodeRule) -> std::io::Result<CaseRows> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut out = CaseRows::default();
    let mut good: Vec<(u64, String, CaseFields)> = Vec::new();
    let mut columns: BTreeMap<String, Option<&'static str>> = BTreeMap::new();
    let mut check = |row: u64, raw: Result<RawCase, String>, out: &mut CaseRows| {
        let code = raw.as_ref().ok().and_then(|r| clean(r.code.clone()));
        match raw.and_then(|r| r.check(codes, &mut out.date_forms)) {
            Ok((code, fields, warning)) => {
                if let Some(reason) = warning {
                    out.warnings.push(RowError { row, code: Some(code.clone()), reason });
                }
                good.push((row, code, fields))
            }
            Err(reason) => out.errors.push(RowError { row, code, reason }),
        }
    };
    match ext.as_str() {
        "json" | "jsonl" | "ndjson" => {
            let text = std::fs::read_to_string(path)?;
            let items: Vec<(u64, Result<serde_json::Value, String>)> = if ext == "json" {
                let items: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a JSON array of cases: {e}"))
                })?;
                items.into_iter().enumerate().map(|(i, v)| (i as u64 + 1, Ok(v))).collect()
            } else {
                text.lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                    .map(|(i, l)| (i as u64 + 1, serde_json::from_str(l).map_err(|e| e.to_string())))
                    .collect()
            };
            for (row, v) in items {
                let raw = v.and_then(|v| match v {
                    serde_json::Value::Object(m) => {
                        let mut raw = RawCase::default();
                        for (k, v) in m {
                            let field = column_field(&k);
                            columns.entry(k).or_insert(field);
                            // Exports write numbers where we keep text (a sequence, an ID number).
                            let v = match v {
                                serde_json::Value::String(s) => s,
                                serde_json::Value::Null => continue,
                                other => other.to_string(),
                            };
                            if let Some(f) = field {
                                raw.set(f, v);
                            }
                        }
                        Ok(raw)
                    }
                    _ => Err("not a JSON object".to_string()),
                });
                check(row, raw, &mut out);
            }
        }
        _ => {
            let delimiter = sniff_delimiter(path)?;
            let mut r =
                csv::ReaderBuilder::new().delimiter(delimiter).trim(csv::Trim::All).flexible(true).from_path(path)?;
            // A UTF-8 byte-order mark (Excel writes one) is not part of the first name.
            let headers: Vec<String> =
                r.headers()?.iter().map(|h| h.trim_start_matches('\u{feff}').trim().to_string()).collect();
            let fields: Vec<Option<&'static str>> = headers.iter().map(|h| column_field(h)).collect();
            for (h, f) in headers.iter().zip(&fields) {
                columns.entry(h.clone()).or_insert(*f);
            }
            for (i, rec) in r.records().enumerate() {
                let width = headers.len();
                let raw = rec.map_err(|e| e.to_string()).and_then(|rec| {
                    if rec.len() < width {
                        let n = rec.len();
                        return Err(crate::util::lang::say(
                            format!(
                                "dòng có {n} trường trong khi dòng tiêu đề có {width}: bị cắt ngắn, hoặc có xuống dòng \
                                 trong một giá trị không đặt trong ngoặc kép"
                            ),
                            format!(
                                "the row has {n} field(s) where the header has {width}: cut short, or a line break \
                                 inside a value without quotes"
                            ),
                        ));
                    }
                    Ok(rec)
                });
                let raw = raw.map(|rec| {
                    let mut raw = RawCase::default();
                    for (v, f) in rec.iter().zip(&fields) {
                        if let Some(f) = f {
                            raw.set(f, v.to_string());
                        }
                    }
                    raw
                });
                check(i as u64 + 2, raw, &mut out);
            }
        }
    }
    // The last good row of each code wins; the codes seen more than once are reported.
    let mut rows_of: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut last: std::collections::HashMap<String, CaseFields> = std::collections::HashMap::new();
    let mut order = Vec::new();
    for (row, code, fields) in good {
        rows_of.entry(code.clone()).or_default().push(row);
        if last.insert(code.clone(), fields).is_none() {
            order.push(code);
        }
    }
    out.cases = order.into_iter().filter_map(|c| last.remove(&c).map(|f| (c, f))).collect();
    out.duplicates = rows_of.into_iter().filter(|(_, rows)| rows.len() > 1).collect();
    out.columns = columns.into_iter().collect();
    Ok(out)
}

/// The field separator of a CSV export, from its header line: a comma, or the semicolon a spreadsheet
/// writes where the decimal mark is a comma (Vietnamese Excel), or a tab.
fn sniff_delimiter(path: &Path) -> std::io::Result<u8> {
    use std::io::BufRead;
    let mut first = String::new();
    std::io::BufReader::new(std::fs::File::open(path)?).read_line(&mut first)?;
    let count = |c: char| first.chars().filter(|x| *x == c).count();
    let best = [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .filter(|(_, n)| *n > 0)
        .map_or(b',', |(d, _)| d);
    Ok(best)
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

/// Reads a units list: CSV with a header row naming the code and name columns (`code`, `Mã đơn vị`,
/// `name`, `Tên đơn vị`, … matched like case columns), comma, semicolon or tab separated. Every row needs
/// both; a code listed twice is refused, so a list never renames a unit by accident.
pub fn read_units(path: &Path) -> Result<Vec<(String, String)>, String> {
    let shown = path.display();
    let delimiter = sniff_delimiter(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut r = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("{shown}: {e}"))?;
    let headers: Vec<String> = r
        .headers()
        .map_err(|e| format!("{shown}: {e}"))?
        .iter()
        .map(|h| fold(h.trim_start_matches('\u{feff}')).chars().filter(|c| !matches!(c, ' ' | '_')).collect())
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let code = find(&["code", "unit", "unitcode", "madonvi", "donvi", "ma", "macoquan"]);
    let name = find(&["name", "unitname", "tendonvi", "ten", "tencoquan", "coquan"]);
    let (Some(code), Some(name)) = (code, name) else {
        return Err(format!(
            "{shown}: the header needs a code column (code, Mã đơn vị) and a name column (name, Tên đơn vị)"
        ));
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, row) in r.records().enumerate() {
        let row = row.map_err(|e| format!("{shown}: {e}"))?;
        let line = i + 2;
        let c = nfc(row.get(code).unwrap_or("").trim());
        let n = nfc(row.get(name).unwrap_or("").trim());
        if c.is_empty() && n.is_empty() {
            continue;
        }
        if c.is_empty() || n.is_empty() {
            return Err(format!("{shown}: line {line} needs both a unit code and a name"));
        }
        if out.iter().any(|(k, _)| *k == c) {
            return Err(format!("{shown}: unit {c} is listed twice (line {line})"));
        }
        out.push((c, n));
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
        let reason = &rows.errors[1].reason;
        assert!(
            reason.contains("no resolved date") || reason.contains("không có ngày giải quyết"),
            "{:?}",
            rows.errors
        );
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

    #[test]
    fn vietnamese_headers_local_times_statuses_and_repeated_codes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.csv");
        std::fs::write(
            &p,
            "\u{feff}STT, Mã hồ sơ ,Mã thủ tục,Đơn vị,Ngày tiếp nhận,Trạng thái,Ngày trả kết quả,Chủ hồ sơ\n\
             1,H15.50.05.13-260930-0001,1.001193,H15.50.05.13,30/09/2026 23:30:00,Đang xử lý,,Lê Thị C\n\
             2,H15.50.05.13-260930-0002,1.001193,H15.50.05.13,2026-09-30 23:30:00,Đã rút hồ sơ,,\n\
             3,H15.50.05.13-261031-0003,1.001193,H15.50.05.13,31/10/2026 23:30,Huỷ,,\n\
             4,H15.50.05.13-260930-0001,1.001193,H15.50.05.13,30/09/2026,Đã giải quyết,2026-10-02T08:00:00Z,Lê Thị C\n\
             5,H15.50.05.13-260930-0001,1.001193,H15.50.05.13,30/09/2026,đang ngủ,,\n\
             6,H15.50.05.13-261001-0004,1.001193,H15.50.05.13,01/10/2026,Yêu cầu bổ sung,,\n",
        )
        .unwrap();
        let rows = read_cases(&p, &rule()).unwrap();
        assert_eq!(rows.errors.iter().map(|e| e.row).collect::<Vec<_>>(), [6], "{:?}", rows.errors);
        assert_eq!(rows.cases.len(), 4);
        let get = |code: &str| &rows.cases.iter().find(|(c, _)| c == code).unwrap().1;
        // The last good row of a code wins; the refused one after it does not.
        let f = get("H15.50.05.13-260930-0001");
        assert_eq!((f.status, f.resolved.as_deref()), (Some(Status::Resolved), Some("2026-10-02")));
        assert_eq!(rows.duplicates, [("H15.50.05.13-260930-0001".to_string(), vec![2, 5])]);
        assert_eq!(get("H15.50.05.13-260930-0002").status, Some(Status::Withdrawn));
        assert_eq!(get("H15.50.05.13-260930-0002").received.as_deref(), Some("2026-09-30"));
        assert_eq!(get("H15.50.05.13-261031-0003").status, Some(Status::Cancelled));
        assert_eq!(get("H15.50.05.13-261031-0003").received.as_deref(), Some("2026-10-31"));
        assert_eq!(get("H15.50.05.13-261001-0004").status, Some(Status::Supplement));
        assert!(rows.columns.contains(&("Mã hồ sơ".to_string(), Some("code"))), "{:?}", rows.columns);
        assert!(rows.columns.contains(&("STT".to_string(), None)), "{:?}", rows.columns);
        let received = &rows.date_forms["received"];
        assert_eq!(received[&DateForm::DayFirstLocalTime], 2);
        assert_eq!(received[&DateForm::YearFirstLocalTime], 1);
        assert_eq!(rows.date_forms["resolved"][&DateForm::WithOffset], 1);
    }

    #[test]
    fn semicolons_and_the_portal_date_form() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.csv");
        std::fs::write(
            &p,
            "Số hồ sơ;Mã TTHC;Ngày nhận;Tình trạng\r\n\
             H15.50.05.13-261008-0001;1.001193;20261008143000;Đang xử lý\r\n\
             H15.50.05.13-261008-0002;1.001193;20261008;Hủy\r\n\
             H15.50.05.13-261008-0003;1.001193\r\n",
        )
        .unwrap();
        let rows = read_cases(&p, &rule()).unwrap();
        // A row cut short is refused, not read with its last fields empty.
        assert_eq!(rows.errors.iter().map(|e| e.row).collect::<Vec<_>>(), [4], "{:?}", rows.errors);
        let reason = &rows.errors[0].reason;
        assert!(reason.contains("cut short") || reason.contains("bị cắt ngắn"), "{:?}", rows.errors);
        assert_eq!(rows.cases.len(), 2);
        assert_eq!(rows.cases[0].1.received.as_deref(), Some("2026-10-08"));
        assert_eq!(rows.cases[1].1.status, Some(Status::Cancelled));
        assert_eq!(rows.date_forms["received"][&DateForm::Compact], 2);
    }

    #[test]
    fn column_names_with_and_without_diacritics() {
        for (h, f) in [
            ("Mã hồ sơ", "code"),
            ("MA_HO_SO", "code"),
            ("ma ho so", "code"),
            ("MaHoSo", "code"),
            ("Ngày tiếp nhận", "received"),
            ("NgayTiepNhan", "received"),
            ("Ngày hẹn trả", "due"),
            ("TRẠNG THÁI", "status"),
            ("Mã TTHC", "procedure"),
            ("Họ và tên", "applicant_name"),
            ("received_date", "received"),
        ] {
            assert_eq!(column_field(h), Some(f), "{h}");
        }
        assert_eq!(column_field("Ghi chú"), None);
    }
}
