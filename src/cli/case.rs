//! `sohoa case …`: list, show, import from the one-stop system, set fields.

use crate::util::lang::say;
use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::normalize::PageNormalization;
use crate::store::cases::Upsert;
use crate::util::text::nfc;

#[derive(Subcommand)]
pub(super) enum Command {
    /// Every case with its documents and pages.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One case: fields, completeness, documents, pages, hashes, quarantined inputs, events. The
    /// viewing is recorded in the audit log.
    Show {
        /// The case code, e.g. H15.50.05.13-261008-0975.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show the applicant's name, ID number and contact (personal data; hidden by default).
        #[arg(long)]
        personal: bool,
    },
    /// Import the one-stop system's export of cases: CSV with a header row (code, procedure, unit,
    /// received, due, status, resolved, applicant_name, applicant_id, applicant_contact, channel — or the
    /// Vietnamese ma_ho_so, ma_thu_tuc, ngay_tiep_nhan, …), JSON (an array) or JSON Lines. Idempotent by
    /// case code: re-importing updates status and dates. Bad rows are listed and skipped; exits 1 then.
    Import {
        /// The export file.
        file: PathBuf,
    },
    /// Fetch the one-stop system's export from the profile's [connector] pull_url (what `sohoa serve`
    /// does every pull_minutes) and import it as `case import` would. Exits 1 when rows were refused.
    Pull {
        /// The profile whose [connector] names the export's address and credentials.
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
    },
    /// Set fields of one case (creating it when new).
    Set(Box<SetArgs>),
    /// Put a page that was left out of its document as blank back in (the detector missed faint
    /// content): the document's PDF is made again with the page; the previous PDF stays stored.
    KeepPage {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// The page's number in the document, from `sohoa case show` (the 3 of 001/3).
        page: i64,
    },
    /// Render again a document that was set aside because rendering it stopped the service (its case
    /// record shows a `set-aside` event): once the cause is fixed, its PDF is built from the same pages.
    Render {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
    },
    /// Take an attached document off a case (filed to the wrong case, say). The PDF is kept and the
    /// detachment audited; its pages become unfiled, ready to be filed again.
    Detach {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// Why, for the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Set an attached document's type (and role): counter scans carry no type, and completeness
    /// counts a required input only by its type. The PDF is rendered again from the same pages; the
    /// change is audited. `sohoa case show CODE` lists the types the case's procedure requires.
    Retype {
        /// The case code.
        code: String,
        /// The document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// The document type, e.g. "Tờ khai" (one of the procedure's required inputs to count).
        #[arg(long = "type")]
        doc_type: Option<String>,
        /// input or result.
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
    },
    /// Mark an attached input as taken from earlier digitized data (the citizen's ID card already
    /// digitized for another case, say): the reuse rate of the 766 report counts it. A scan that is
    /// byte-identical to an earlier one is counted without this; a new scan of the same paper is not.
    /// A manifest can say the same with "reused_from". Audited.
    Reuse {
        /// The case code.
        code: String,
        /// The input document's ordinal (the NNN of CODE.NNN.pdf).
        ordinal: i64,
        /// Where it was digitized before: a case code, or CODE.NNN for one of its documents.
        #[arg(long, required_unless_present = "clear")]
        from: Option<String>,
        /// Take the mark off.
        #[arg(long, conflicts_with = "from")]
        clear: bool,
    },
}

#[derive(clap::Args)]
pub(super) struct SetArgs {
    /// The case code.
    code: String,
    #[command(flatten)]
    fields: crate::import::FieldsText,
}

/// Rows an import commits per transaction.
const IMPORT_BATCH: usize = 500;

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    // An import or a case's first fields set a station up; everything else needs records already there.
    // A file that is not there is said before anything is created.
    if let Command::Import { file } = &c {
        anyhow::ensure!(file.is_file(), "cannot read {}: there is no such file", file.display());
    }
    let d = if matches!(c, Command::Import { .. } | Command::Set(_) | Command::Pull { .. }) {
        super::create_data(data).await?
    } else {
        super::open_data(data).await?
    };
    match c {
        Command::Import { file } => {
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let rows = crate::import::read_cases(&file, &codes)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let (actor, at) = (super::actor(), super::now());
            let (mut created, mut updated, mut same) = (0, 0, 0);
            for batch in rows.cases.chunks(IMPORT_BATCH) {
                for u in d.records.upsert_cases(batch, &actor, &at).await? {
                    match u {
                        Upsert::Created => created += 1,
                        Upsert::Updated => updated += 1,
                        Upsert::Unchanged => same += 1,
                    }
                }
            }
            for e in rows.errors.iter().chain(&rows.warnings) {
                eprintln!("{}: {} {}: {}", file.display(), say("dòng", "row"), e.row, e.reason);
            }
            let name = file.file_name().map(|n| nfc(&n.to_string_lossy())).unwrap_or_default();
            d.records.record_refusals(&name, &at, &rows.refusals()).await?;
            print!("{}", import_summary(&rows, &d.records.procedures().await?));
            let (n, refused) = (rows.cases.len(), rows.errors.len());
            println!(
                "{}",
                say(
                    format!(
                        "đã nhập {n} hồ sơ: {created} mới, {updated} cập nhật, {same} không đổi; {refused} dòng bị từ chối"
                    ),
                    format!(
                        "{n} case(s) imported: {created} new, {updated} updated, {same} unchanged; {refused} row(s) refused"
                    ),
                )
            );
            Ok(u8::from(!rows.errors.is_empty()))
        }
        Command::Pull { profile } => {
            let profile = crate::profile::Profile::load(&profile)?;
            let Some(connector) = profile.settings.connector.as_ref() else {
                anyhow::bail!(
                    "{}",
                    say(
                        format!("hồ sơ cấu hình {} không có mục [connector] với pull_url", profile.name()),
                        format!("profile {} has no [connector] section with a pull_url", profile.name())
                    )
                );
            };
            let Some(puller) = crate::deliver::pull::Puller::new(connector, &profile.settings.routing, data)? else {
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "mục [connector] của hồ sơ cấu hình {} không có pull_url: thêm địa chỉ lấy dữ liệu một cửa",
                            profile.name()
                        ),
                        format!("profile {}'s [connector] has no pull_url: add the export's address", profile.name())
                    )
                );
            };
            let p = puller.pull(&d.records).await?;
            for (row, why) in &p.refused {
                eprintln!("{} {row}: {why}", say("dòng", "row"));
            }
            println!(
                "{}",
                say(
                    format!(
                        "đã lấy từ hệ thống một cửa: {} mới, {} cập nhật, {} không đổi; {} dòng bị từ chối",
                        p.created,
                        p.updated,
                        p.unchanged,
                        p.refused.len()
                    ),
                    format!(
                        "pulled from the one-stop system: {} new, {} updated, {} unchanged; {} row(s) refused",
                        p.created,
                        p.updated,
                        p.unchanged,
                        p.refused.len()
                    )
                )
            );
            Ok(u8::from(!p.refused.is_empty()))
        }
        Command::Reuse { code, ordinal, from, clear: _ } => {
            let code = nfc(code.trim());
            let from = match from {
                Some(f) => {
                    let profile = super::load_profile(None)?;
                    let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
                    let f = nfc(f.trim());
                    crate::route::reuse_source_for(&codes, &code, &f).map_err(|e| anyhow::anyhow!("--from: {e}"))?;
                    Some(f)
                }
                None => None,
            };
            if !d.records.mark_reused(&code, ordinal, from.as_deref(), &super::actor(), &super::now()).await? {
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "hồ sơ {code} không có thành phần hồ sơ số {ordinal:03} đã gắn (chỉ thành phần hồ sơ mới được đánh dấu tái sử dụng); `sohoa case show {code}` liệt kê các tài liệu"
                        ),
                        format!(
                            "case {code} has no attached input {ordinal:03} (only inputs can be marked reused); `sohoa case show {code}` lists its documents"
                        ),
                    )
                );
            }
            match &from {
                Some(f) => println!(
                    "{}",
                    say(
                        format!("{code}.{ordinal:03}: đánh dấu tái sử dụng từ {f}"),
                        format!("{code}.{ordinal:03}: marked as reused from {f}")
                    )
                ),
                None => println!(
                    "{}",
                    say(
                        format!("{code}.{ordinal:03}: bỏ đánh dấu tái sử dụng"),
                        format!("{code}.{ordinal:03}: reuse mark taken off")
                    )
                ),
            }
            Ok(0)
        }
        Command::Retype { code, ordinal, doc_type, role } => {
            let code = nfc(code.trim());
            let op = super::doc::retype(doc_type, role)?;
            if d.records.case_record(&code).await?.is_none() {
                anyhow::bail!(
                    "{}",
                    say(
                        format!("không có hồ sơ {code}; `sohoa case list` liệt kê các hồ sơ"),
                        format!("there is no case {code}; `sohoa case list` lists the cases"),
                    )
                );
            }
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            let doc_type = match &op {
                crate::pipeline::correct::Operation::Retype { doc_type, .. } => doc_type.clone(),
                _ => None,
            };
            super::doc::correct(&pipeline, &super::doc::Which::new(code.clone(), ordinal), op).await?;
            // A type the case's procedure does not list is kept, but counts for no required input.
            if let Some(t) = &doc_type {
                let record = d.records.case_record(&code).await?;
                let c = d.records.completeness(&code, record.and_then(|r| r.procedure_code).as_deref()).await?;
                if !c.required.is_empty() && !c.required.iter().any(|r| crate::store::cases::same_type(&r.doc_type, t))
                {
                    let listed: Vec<&str> = c.required.iter().map(|r| r.doc_type.as_str()).collect();
                    let listed = listed.join(", ");
                    eprintln!(
                        "{}",
                        say(
                            format!(
                                "lưu ý: `{t}` không phải loại giấy tờ thủ tục của hồ sơ yêu cầu ({listed}); nó không được tính cho loại nào"
                            ),
                            format!(
                                "note: `{t}` is not a type the case's procedure requires ({listed}); it counts for none of them"
                            ),
                        )
                    );
                }
            }
            Ok(0)
        }
        Command::Detach { code, ordinal, reason } => {
            let code = nfc(code.trim());
            let reason = nfc(reason.trim());
            if reason.is_empty() {
                anyhow::bail!(
                    "{}",
                    say(
                        "hãy ghi lý do bằng --reason: nhật ký lưu lại lý do",
                        "say why with --reason: the audit log keeps it"
                    )
                );
            }
            let Some((name, sha)) =
                d.records.detach_document(&code, ordinal, &reason, &super::actor(), &super::now()).await?
            else {
                anyhow::bail!("{}", no_document(&code, ordinal));
            };
            let views = crate::view::Views::new(data.to_path_buf());
            views.removed(&code, &name);
            views.removed(&code, &format!("{code}.pdf"));
            println!(
                "{}",
                say(
                    format!("đã gỡ {name} (sha256 {sha}); các trang của nó trở về chưa phân loại"),
                    format!("detached {name} (sha256 {sha}); its pages are unfiled"),
                )
            );
            Ok(0)
        }
        Command::Render { code, ordinal } => {
            let code = nfc(code.trim());
            if !d.records.render_again(&code, ordinal, &super::actor(), &super::now()).await? {
                anyhow::bail!(
                    "case {code} has no document {ordinal:03} set aside; `sohoa case show {code}` lists its \
                     documents (one set aside is closed, with a set-aside event)"
                );
            }
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            pipeline.drain(1, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false))).await?;
            println!("{code}.{ordinal:03}.pdf rendered again");
            Ok(0)
        }
        Command::KeepPage { code, ordinal, page } => {
            let code = nfc(code.trim());
            let pipeline = crate::pipeline::Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
            let blank = pipeline
                .doc_view(&code, ordinal)
                .await?
                .and_then(|v| v.pages.into_iter().find(|p| p.page == page))
                .is_some_and(|p| p.state == "blank-omitted");
            if !blank {
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "hồ sơ {code} không có trang {ordinal:03}/{page} bị để ra ngoài vì trắng; `sohoa case show {code}` liệt kê các trang (trang để ra ngoài ghi blank-omitted)"
                        ),
                        format!(
                            "case {code} has no page {ordinal:03}/{page} left out as blank; `sohoa case show {code}` lists the pages (those left out say blank-omitted)"
                        ),
                    )
                );
            }
            let op = crate::pipeline::correct::Operation::Restore { page };
            super::doc::correct(&pipeline, &super::doc::Which::new(code.clone(), ordinal), op).await?;
            println!(
                "{}",
                say(
                    format!("trang {ordinal:03}/{page} đã được đưa lại vào {code}.{ordinal:03}.pdf"),
                    format!("page {ordinal:03}/{page} is back in {code}.{ordinal:03}.pdf"),
                )
            );
            Ok(0)
        }
        Command::Set(args) => {
            let SetArgs { code, fields } = *args;
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let code = codes.validate(&code).map_err(super::said_code_problem)?;
            let fields = fields.parse().map_err(anyhow::Error::msg)?;
            let what = d.records.upsert_case(&code, &fields, false, &super::actor(), &super::now()).await?;
            println!("case {code}: {}", serde_json::to_value(what)?.as_str().unwrap_or(""));
            Ok(0)
        }
        Command::List { json } => {
            let cases = d.records.case_summaries().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&cases)?);
                return Ok(0);
            }
            let heads = [
                say("HỒ SƠ", "CASE"),
                say("TÀI LIỆU", "DOCUMENTS"),
                say("ĐANG XỬ LÝ", "PENDING"),
                say("TRANG", "PAGES"),
            ];
            println!("{:<32} {:>10} {:>10} {:>6}", heads[0], heads[1], heads[2], heads[3]);
            for c in &cases {
                println!("{:<32} {:>10} {:>10} {:>6}", c.code, c.documents, c.pending, c.pages);
            }
            let (n, unfiled, quarantined) =
                (cases.len(), d.records.unfiled(None).await?.len(), d.records.quarantine_list(None).await?.len());
            println!(
                "{}",
                say(
                    format!("{n} hồ sơ; {unfiled} trang chưa phân loại; {quarantined} tệp bị cách ly"),
                    format!("{n} case(s); {unfiled} unfiled page(s); {quarantined} quarantined input(s)"),
                )
            );
            Ok(0)
        }
        Command::Show { code, json, personal } => {
            let code = nfc(code.trim());
            let Some(detail) = d.records.case_detail(&code).await? else {
                // A code that is not one at all is said so, not looked for in vain.
                let rule = crate::route::CaseCodeRule::from_profile(&super::load_profile(None)?.settings.routing)?;
                if let Err(e) = rule.validate(&code) {
                    return Err(super::said_code_problem(e));
                }
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "không có hồ sơ `{code}` trong {}; `sohoa case list` liệt kê các hồ sơ đã có",
                            data.display()
                        ),
                        format!("no case `{code}` in {}; `sohoa case list` shows the known ones", data.display()),
                    )
                );
            };
            let mut record = d.records.case_record(&code).await?.unwrap_or_default();
            if !personal {
                for f in [&mut record.applicant_name, &mut record.applicant_id, &mut record.applicant_contact] {
                    if f.is_some() {
                        *f = Some(say("(ẩn; --personal để xem)", "(hidden; --personal shows it)"));
                    }
                }
            }
            let completeness = d.records.completeness(&code, record.procedure_code.as_deref()).await?;
            let seen = serde_json::json!({ "personal": personal });
            d.records.log_access(&super::actor(), "view", Some(&code), None, &seen, &super::now()).await?;
            let min = super::load_profile(None).map(|p| p.settings.ocr.min_confidence).unwrap_or(70.0);
            let unreliable = d.records.unreliable_pages(&code, min).await?;
            if json {
                let mut v = serde_json::to_value(&detail)?;
                v["record"] = serde_json::to_value(&record)?;
                v["completeness"] = serde_json::to_value(&completeness)?;
                v["unreliable_text"] = serde_json::to_value(&unreliable)?;
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(0);
            }
            print!("{}", show_text(&detail, &record, &completeness)?);
            if !unreliable.is_empty() {
                let pages: Vec<String> = unreliable
                    .iter()
                    .map(|u| {
                        let c = u
                            .confidence
                            .map_or_else(|| say("không đọc được chữ nào", "no words read"), |c| format!("{c:.0}"));
                        say(
                            format!("{:03} trang {} ({c})", u.ordinal, u.page_no),
                            format!("{:03} page {} ({c})", u.ordinal, u.page_no),
                        )
                    })
                    .collect();
                println!(
                    "{}",
                    say(
                        format!(
                            "Chữ nhận dạng có thể không chính xác (độ tin cậy dưới {min:.0}), nên quét lại: {}",
                            pages.join(", ")
                        ),
                        format!(
                            "Recognised text may be unreliable (confidence below {min:.0}); consider scanning again: {}",
                            pages.join(", ")
                        )
                    )
                );
            }
            Ok(0)
        }
    }
}

/// What an import read and how: the columns used and ignored, how each date column was written, the
/// codes listed more than once, and the procedures the catalogue does not know (such cases count in no
/// digitization figure until it does).
fn import_summary(rows: &crate::import::CaseRows, catalogue: &[crate::store::cases::Procedure]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let used: Vec<String> = rows
        .columns
        .iter()
        .filter_map(|(h, f)| f.map(|f| if h == f { h.clone() } else { format!("{h} → {f}") }))
        .collect();
    let unused: Vec<&str> = rows.columns.iter().filter(|(_, f)| f.is_none()).map(|(h, _)| h.as_str()).collect();
    let _ = writeln!(s, "{}: {}", say("cột đã đọc", "columns read"), used.join(", "));
    if !unused.is_empty() {
        let _ = writeln!(s, "{}: {}", say("cột không dùng", "columns not used"), unused.join(", "));
    }
    for (field, forms) in &rows.date_forms {
        let forms: Vec<String> = forms
            .iter()
            .map(|(f, n)| say(format!("{n} theo {}", f.describe()), format!("{n} as {}", f.describe())))
            .collect();
        let field_vi = match *field {
            "received" => "tiếp nhận",
            "due" => "hẹn trả",
            "resolved" => "giải quyết",
            other => other,
        };
        let _ = writeln!(s, "{}: {}", say(format!("ngày {field_vi}"), format!("dates {field}")), forms.join("; "));
    }
    if !rows.duplicates.is_empty() {
        let list: Vec<String> = rows
            .duplicates
            .iter()
            .map(|(code, lines)| {
                let lines = lines.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
                say(format!("{code} (dòng {lines})"), format!("{code} (rows {lines})"))
            })
            .collect();
        let (n, list) = (rows.duplicates.len(), list.join(", "));
        let _ = writeln!(
            s,
            "{}",
            say(
                format!("{n} mã xuất hiện nhiều lần; đã nhập dòng cuối cùng của mỗi mã: {list}"),
                format!("{n} code(s) listed more than once; the last row of each was imported: {list}"),
            )
        );
    }
    let known: std::collections::HashSet<&str> = catalogue.iter().map(|p| p.code.as_str()).collect();
    let mut unknown: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    let mut without = 0;
    for (_, f) in &rows.cases {
        match f.procedure.as_deref() {
            Some(p) if !known.contains(p) => *unknown.entry(p).or_default() += 1,
            None => without += 1,
            _ => {}
        }
    }
    if !unknown.is_empty() {
        let list: Vec<String> =
            unknown.iter().map(|(p, n)| say(format!("{p} ({n} hồ sơ)"), format!("{p} ({n} case(s))"))).collect();
        let list = list.join(", ");
        let _ = writeln!(
            s,
            "{}",
            say(
                format!(
                    "thủ tục chưa có trong danh mục: {list}; các hồ sơ này không được tính vào chỉ tiêu số hóa cho đến \
                     khi `sohoa procedure import` thêm thủ tục"
                ),
                format!(
                    "procedures the catalogue does not know: {list}; these cases count in no digitization figure until \
                     `sohoa procedure import` adds them"
                ),
            )
        );
    }
    // (A file without a procedure column leaves each case's procedure as it was.)
    if without > 0 && rows.columns.iter().any(|(_, f)| *f == Some("procedure")) {
        let _ = writeln!(
            s,
            "{}",
            say(
                format!("{without} hồ sơ không có thủ tục: không được tính vào chỉ tiêu số hóa"),
                format!("{without} case(s) name no procedure: they count in no digitization figure"),
            )
        );
    }
    s
}

/// A stored word (a status, role, state or event kind) as the reader says it; the word itself in
/// English, and any word this table does not know.
pub(super) fn said_word(word: &str) -> &str {
    if crate::util::lang::current() == crate::util::lang::Lang::En {
        return word;
    }
    match word {
        "received" => "đã tiếp nhận",
        "processing" => "đang giải quyết",
        "supplement" => "yêu cầu bổ sung",
        "resolved" => "đã giải quyết",
        "returned" => "trả lại",
        "rejected" => "từ chối",
        "withdrawn" => "đã rút",
        "cancelled" => "đã hủy",
        "input" => "thành phần",
        "result" => "kết quả",
        "attached" => "đã gắn",
        "open" => "đang mở",
        "closed" => "đang tạo PDF",
        "detached" => "đã gỡ",
        "missing" => "còn thiếu",
        "unreadable" => "không đọc được",
        "capture" => "tiếp nhận",
        "attach" => "gắn tài liệu",
        "file" => "phân loại vào hồ sơ",
        "detach" => "gỡ tài liệu",
        "quarantine" => "cách ly",
        "retry" => "xử lý lại",
        "discard" => "loại bỏ",
        "keep-page" => "giữ trang trắng",
        "bundle" => "ghép hồ sơ",
        "view" => "xem",
        "download" => "tải về",
        "sign-in" => "đăng nhập",
        "report" => "xem báo cáo",
        "edit" => "sửa thông tin",
        "delete" => "xóa",
        "export" => "xuất hồ sơ",
        "fixity" => "kiểm tra toàn vẹn",
        "fixity-problem" => "lỗi toàn vẹn",
        "retype" => "đổi loại giấy tờ",
        "set-aside" => "tạm gác",
        "deliver" => "đã gửi sang một cửa",
        "deliver-rejected" => "một cửa từ chối",
        "deliver-unsendable" => "chưa gửi được sang một cửa (thiếu thông tin)",
        "reuse" => "đánh dấu tái sử dụng",
        "units" => "cập nhật tên đơn vị",
        "outbox-retry" => "gửi lại sang một cửa",
        "render-again" => "tạo lại PDF",
        "scan" => "quét",
        "turn" => "xoay trang",
        "as-scanned" => "bỏ/đặt lại nắn thẳng",
        "order" => "đổi thứ tự trang",
        "remove" => "bỏ trang",
        "restore" => "khôi phục trang",
        "split" => "tách tài liệu",
        "merge" => "gộp tài liệu",
        "move" => "chuyển trang",
        "replace-page" => "thay trang bằng bản quét mới",
        other => other,
    }
}

/// "Case … has no attached document …", said to the clerk.
fn no_document(code: &str, ordinal: i64) -> String {
    say(
        format!("hồ sơ {code} không có tài liệu {ordinal:03} đang gắn; `sohoa case show {code}` liệt kê các tài liệu"),
        format!("case {code} has no attached document {ordinal:03}; `sohoa case show {code}` lists them"),
    )
}

/// `case show` as text, in the reader's language: the record, completeness, documents, pages,
/// quarantined inputs and events.
fn show_text(
    detail: &crate::store::queries::CaseDetail,
    record: &crate::store::cases::CaseRecord,
    completeness: &crate::store::cases::Completeness,
) -> anyhow::Result<String> {
    use std::fmt::Write;
    let mut s = String::new();
    let dash = |v: Option<&str>| v.unwrap_or("-").to_string();
    writeln!(s, "{}", say(format!("Hồ sơ {}", detail.code), format!("Case {}", detail.code)))?;
    let (procedure, unit) = (dash(record.procedure_code.as_deref()), dash(record.unit.as_deref()));
    let status = said_word(record.status.as_str());
    let (received, due, resolved) = (
        dash(record.received_date.as_deref()),
        dash(record.due_date.as_deref()),
        dash(record.resolved_date.as_deref()),
    );
    writeln!(
        s,
        "{}",
        say(
            format!(
                "  thủ tục {procedure}  đơn vị {unit}  tình trạng {status}  tiếp nhận {received}  hẹn trả {due}  giải quyết {resolved}"
            ),
            format!(
                "  procedure {procedure}  unit {unit}  status {status}  received {received}  due {due}  resolved {resolved}"
            ),
        )
    )?;
    if let Some(channel) = record.channel.as_deref().and_then(crate::store::cases::Channel::parse) {
        use crate::store::cases::Channel;
        let vi = match channel {
            Channel::Online => "trực tuyến",
            Channel::Counter => "trực tiếp tại bộ phận một cửa",
            Channel::Post => "qua bưu chính",
        };
        writeln!(s, "{}", say(format!("  kênh nộp {vi}"), format!("  submitted {}", channel.as_str())))?;
    }
    if let Some(name) = &record.applicant_name {
        let (id, contact) = (dash(record.applicant_id.as_deref()), dash(record.applicant_contact.as_deref()));
        writeln!(
            s,
            "{}",
            say(
                format!("  người nộp {name}  giấy tờ {id}  liên hệ {contact}"),
                format!("  applicant {name}  ID {id}  contact {contact}"),
            )
        )?;
    }
    let verdict = if !completeness.judged {
        say(
            "CHƯA XÁC ĐỊNH: hồ sơ chưa có thủ tục trong danh mục (`sohoa case set MÃ --procedure P`)",
            "NOT JUDGED: the case names no procedure the catalogue knows (`sohoa case set CODE --procedure P`)",
        )
    } else if completeness.complete {
        say("đầy đủ", "complete")
    } else {
        say("CHƯA ĐỦ", "INCOMPLETE")
    };
    writeln!(s, "\n{}: {verdict}", say("Độ đầy đủ", "Completeness"))?;
    for r in &completeness.required {
        let state = serde_json::to_value(r.state)?;
        let state = said_word(state.as_str().unwrap_or(""));
        writeln!(s, "  {:<10} {}  {}", state, r.doc_type, r.documents.join(", "))?;
    }
    let result = match (completeness.result_required, completeness.results_attached) {
        (false, _) => say("thủ tục này không trả kết quả bằng giấy tờ", "not issued by this procedure"),
        (true, 0) => say("CÒN THIẾU", "MISSING"),
        (true, n) => say(format!("đã gắn {n}"), format!("{n} attached")),
    };
    let inputs = completeness.inputs_attached;
    writeln!(
        s,
        "{}",
        say(
            format!("  thành phần đã gắn: {inputs}; kết quả: {result}"),
            format!("  inputs attached: {inputs}; result: {result}")
        )
    )?;
    writeln!(s, "\n{}", say("Tài liệu", "Documents"))?;
    for doc in &detail.documents {
        let bytes = doc.bytes.map(|b| say(format!("{b} byte"), format!("{b} bytes"))).unwrap_or_default();
        let pages = say(format!("{:>3} trang", doc.pages), format!("{:>3} page(s)", doc.pages));
        writeln!(
            s,
            "  {}  {:<10} {:<12} {pages}  {bytes}  {}",
            doc.name,
            said_word(doc.role.as_str()),
            said_word(doc.state.as_str()),
            doc.sha256.as_deref().unwrap_or("-"),
        )?;
        if let Some(t) = &doc.doc_type {
            writeln!(s, "      {}: {t}", say("loại giấy tờ", "type"))?;
        }
        if let Some(from) = &doc.reused_from {
            writeln!(s, "      {}: {from}", say("tái sử dụng từ", "reused from"))?;
        }
    }
    writeln!(s, "\n{}", say("Các trang", "Pages"))?;
    for p in &detail.pages {
        writeln!(
            s,
            "  {:03}/{:<3} {} #{}  {}×{} @ {:.0} dpi ({})  {}  {}{}",
            p.ordinal.unwrap_or(0),
            p.page_no.unwrap_or(0),
            p.source,
            p.page_index + 1,
            p.width,
            p.height,
            p.dpi,
            p.dpi_source,
            p.colour,
            p.encoding.as_deref().unwrap_or("pending"),
            if p.flags.is_empty() { String::new() } else { format!("  [{}]", p.flags.join(", ")) }
        )?;
        writeln!(s, "      {} sha256 {}", say("bản gốc", "source"), p.source_sha256)?;
        let norm = p.normalization.clone().and_then(|v| serde_json::from_value::<PageNormalization>(v).ok());
        if let Some(text) = norm.map(|n| say(n.describe_vi(), n.describe())).filter(|t| !t.is_empty()) {
            writeln!(s, "      {}: {text}", say("đã chuẩn hóa", "normalized"))?;
        }
    }
    if !detail.quarantined.is_empty() {
        writeln!(s, "\n{}", say("Bị cách ly", "Quarantined"))?;
        for q in &detail.quarantined {
            let why = say(crate::error::explained(q.code).vi, q.reason.clone());
            writeln!(s, "  {}: {why} [{}]", q.source, q.code.as_str())?;
        }
    }
    writeln!(s, "\n{}", say("Nhật ký", "Events"))?;
    for e in &detail.events {
        writeln!(s, "  {}  {:<18} {:<16} {}", e.at, said_word(&e.kind), e.actor, e.sha256.as_deref().unwrap_or(""))?;
    }
    Ok(s)
}
