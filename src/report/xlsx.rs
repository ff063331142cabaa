//! The report as a spreadsheet: what a supervisor files with the province. One sheet of figures (a
//! row per period, unit and procedure, the unit subtotals and the total, with names, counts, rates as
//! percentages, the share of full points and the points), one of every shortfall case, one of the data
//! to review.

use std::path::Path;

use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use super::{Group, Rate, Report};
use crate::util::lang::say;

/// Writes the reports (one per period of a series, or one) to an `.xlsx` file.
pub fn write(reports: &[Report], path: &Path) -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.0%");
    let points = Format::new().set_num_format("0.00");

    let sheet = book.add_worksheet();
    sheet.set_name(say("Chỉ tiêu", "Figures"))?;
    let mut head = said(&[
        ("Từ ngày", "From"),
        ("Đến ngày", "To"),
        ("Mã đơn vị", "Unit"),
        ("Tên đơn vị", "Unit name"),
        ("Mã thủ tục", "Procedure"),
        ("Tên thủ tục", "Procedure name"),
        ("Tiếp nhận", "Received"),
        ("Đã giải quyết", "Resolved"),
        ("Rút / hủy", "Withdrawn or cancelled"),
    ]);
    for (vi, en, scored) in INDICATORS {
        for (pv, pe) in [("đạt", "met"), ("trên", "of"), ("tỷ lệ", "rate")] {
            head.push(say(format!("{vi}: {pv}"), format!("{en}: {pe}")));
        }
        if scored {
            head.push(say(format!("{vi}: phần điểm"), format!("{en}: share of points")));
            head.push(say(format!("{vi}: điểm"), format!("{en}: points")));
        }
    }
    for ch in
        [("Trực tuyến", "Online"), ("Trực tiếp", "At the counter"), ("Bưu chính", "By post"), ("Không rõ", "Unknown")]
    {
        head.push(say(format!("Kênh nộp: {}", ch.0), format!("Channel: {}", ch.1)));
    }
    write_row_strings(sheet, 0, &head, &bold)?;
    let mut row = 1;
    for r in reports {
        let subtotals: &[Group] = if r.groups.len() > r.units.len() { &r.units } else { &[] };
        for g in r.groups.iter().chain(subtotals).chain(std::iter::once(&r.total)) {
            let unit_name = g.unit_name.clone().unwrap_or_default();
            let proc_name = g.procedure_name.clone().unwrap_or_default();
            let texts = [&r.from, &r.to, &g.unit, &unit_name, &g.procedure, &proc_name];
            for (c, t) in texts.iter().enumerate() {
                sheet.write_string(row, c as u16, t.as_str())?;
            }
            let mut col = texts.len() as u16;
            for n in [g.received, g.resolved, g.left_out] {
                sheet.write_number(row, col, n as f64)?;
                col += 1;
            }
            for (i, rate) in rates(g).into_iter().enumerate() {
                sheet.write_number(row, col, rate.numerator as f64)?;
                sheet.write_number(row, col + 1, rate.denominator as f64)?;
                if let Some(v) = rate.rate {
                    sheet.write_number_with_format(row, col + 2, v, &percent)?;
                }
                col += 3;
                if INDICATORS[i].2 {
                    if let Some(s) = rate.score {
                        sheet.write_number_with_format(row, col, s, &percent)?;
                    }
                    if let Some(p) = rate.points {
                        sheet.write_number_with_format(row, col + 1, p, &points)?;
                    }
                    col += 2;
                }
            }
            for n in [g.channels.online, g.channels.counter, g.channels.post, g.channels.unknown] {
                sheet.write_number(row, col, n as f64)?;
                col += 1;
            }
            row += 1;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();

    let sheet = book.add_worksheet();
    sheet.set_name(say("Hồ sơ thiếu", "Shortfalls"))?;
    let head = said(&[
        ("Từ ngày", "From"),
        ("Đến ngày", "To"),
        ("Mã đơn vị", "Unit"),
        ("Mã thủ tục", "Procedure"),
        ("Mã hồ sơ", "Case"),
        ("Thiếu", "Shortfall"),
    ]);
    write_row_strings(sheet, 0, &head, &bold)?;
    let mut row = 1;
    for r in reports {
        for g in &r.groups {
            for (what, list) in g.shortfalls.labelled() {
                for code in list {
                    write_row_strings(
                        sheet,
                        row,
                        &[&r.from, &r.to, &g.unit, &g.procedure, code, &what],
                        &Format::new(),
                    )?;
                    row += 1;
                }
            }
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();

    let sheet = book.add_worksheet();
    sheet.set_name(say("Dữ liệu cần xem lại", "Data quality"))?;
    let head = said(&[
        ("Từ ngày", "From"),
        ("Đến ngày", "To"),
        ("Vấn đề", "Problem"),
        ("Mã hồ sơ", "Case"),
        ("Chi tiết", "Detail"),
    ]);
    write_row_strings(sheet, 0, &head, &bold)?;
    let mut row = 1;
    for r in reports {
        let q = &r.data_quality;
        for (list, what) in [
            (&q.unknown_procedure, say("thủ tục chưa có trong danh mục", "procedure not in the catalogue")),
            (&q.no_unit, say("không có đơn vị", "no unit")),
            (&q.not_in_export, say("đã quét, dữ liệu một cửa không có", "scanned, no export names it")),
            (&q.withdrawn_or_cancelled, say("đã rút hoặc hủy", "withdrawn or cancelled")),
            (&q.no_received_date, say("không có ngày tiếp nhận", "no received date")),
        ] {
            for code in list {
                write_row_strings(sheet, row, &[&r.from, &r.to, &what, code, ""], &Format::new())?;
                row += 1;
            }
        }
        for f in &q.refused_rows {
            let what = say("dòng nhập bị từ chối", "import row refused");
            let detail = format!("{} {}: {}", f.file, f.line, f.reason);
            write_row_strings(
                sheet,
                row,
                &[&r.from, &r.to, &what, f.code.as_deref().unwrap_or(""), &detail],
                &Format::new(),
            )?;
            row += 1;
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.autofit();
    book.save(path)
}

/// The indicators in sheet order: Vietnamese and English names, and whether the 80% rule scores it.
const INDICATORS: [(&str, &str, bool); 8] = [
    ("KQ điện tử", "Electronic result", true),
    ("Số hóa", "Digitization", true),
    ("Thành phần", "Inputs digitized", false),
    ("Kết quả", "Results digitized", false),
    ("Đã gửi", "Delivered", false),
    ("Tái sử dụng", "Reuse", true),
    ("Trực tuyến", "Online", false),
    ("Đúng hạn", "On time", false),
];

fn rates(g: &Group) -> [&Rate; 8] {
    [
        &g.electronic_result,
        &g.digitization,
        &g.inputs_digitized,
        &g.results_digitized,
        &g.delivered,
        &g.reuse,
        &g.online,
        &g.on_time,
    ]
}

/// Column headings in the reader's language.
fn said(cells: &[(&str, &str)]) -> Vec<String> {
    cells.iter().map(|(vi, en)| say(*vi, *en)).collect()
}

fn write_row_strings<S: AsRef<str>>(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[S],
    format: &Format,
) -> Result<(), XlsxError> {
    for (c, t) in cells.iter().enumerate() {
        sheet.write_string_with_format(row, c as u16, t.as_ref(), format)?;
    }
    Ok(())
}
