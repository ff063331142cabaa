//! The end report of an ingest run: what the clerk needs to check a stack of thousands of pages —
//! how many pages, dossiers and documents came out, the blank pages and separator sheets taken out of
//! the PDFs, the inputs refused and why, the sheets whose dossier could not be told, the time taken.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::separate::{Sheet, StackNote};
use crate::store::assembly::PageState;
use crate::store::queries::PageFate;

/// A refused input or an unreadable sheet, with the reason.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The file (relative to the folder ingested).
    pub file: String,
    /// Why, in detail (English).
    pub reason: String,
    /// What it means and what to do, in Vietnamese.
    pub reason_vi: String,
    /// The quarantine reason's stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<crate::error::Code>,
}

impl Problem {
    /// A quarantined input: its code's explanation is the Vietnamese.
    pub fn quarantined(file: String, code: Option<crate::error::Code>, reason: String) -> Problem {
        let reason_vi = code.map(|c| crate::error::explained(c).vi.to_string()).unwrap_or_default();
        Problem { file, reason, reason_vi, code }
    }
}

/// The end report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// Files found in the folder.
    pub files: usize,
    /// Captured by this run.
    pub captured: usize,
    /// Captured before (an earlier, interrupted run of the same folder).
    pub already_captured: usize,
    /// Gone before they could be read.
    pub vanished: usize,
    /// Pages in the files.
    pub pages: usize,
    /// Cases the pages went to.
    pub dossiers: usize,
    /// Documents they make up.
    pub documents: usize,
    /// Blank pages left out of the PDFs (kept in the record).
    pub blanks_removed: usize,
    /// Separator sheets found (readable or not).
    pub separators: usize,
    /// Sheets whose dossier could not be told: their pages are unfiled.
    pub unrecognised: Vec<Problem>,
    /// Pages without a case.
    pub unfiled_pages: usize,
    /// Inputs refused, with the reason.
    pub quarantined: Vec<Problem>,
    /// Documents whose PDF could not be made (a page that was read at capture cannot be decoded after
    /// all): set aside, with the reason; their pages wait in the record, nothing is attached.
    pub set_aside: Vec<Problem>,
    /// Wall time.
    pub seconds: f64,
    /// Cases and documents counted so far, while the pages are counted a part at a time.
    #[serde(skip)]
    seen: (BTreeSet<String>, BTreeSet<String>),
    /// Documents whose pages are filed but were never attached, with the file of their first page.
    #[serde(skip)]
    pub not_made: std::collections::BTreeMap<String, String>,
    /// Pages per second over the whole run.
    pub pages_per_second: f64,
    /// Seconds spent per stage in this process, summed over the workers (they overlap: the sum may
    /// exceed the wall time).
    pub stage_seconds: std::collections::BTreeMap<String, f64>,
    /// Text recognition, run after every page was attached and timed apart (`[ocr] enabled`): the
    /// wall time and pages/s above are the attach path's alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ocr: Option<OcrRun>,
}

/// What text recognition did in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OcrRun {
    /// Documents given a text layer (or found to need none).
    pub documents: usize,
    /// Pages read.
    pub pages: usize,
    /// Wall time.
    pub seconds: f64,
    /// Pages read per second.
    pub pages_per_second: f64,
    /// Documents attached but still without text: recognition failed for a reason outside them.
    pub waiting: usize,
    /// Why recognition stopped (a missing program, say): the run does not wait a fault out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
}

impl RunReport {
    /// Adds to the page figures what became of these pages; called a part of the run at a time, so
    /// the report never holds every page of a long run.
    pub fn count_pages(&mut self, fates: &[PageFate]) {
        let (mut cases, mut documents) = std::mem::take(&mut self.seen);
        for p in fates {
            self.pages += 1;
            if let Some(c) = &p.case_code
                && p.state != PageState::Unfiled
            {
                cases.insert(c.clone());
            }
            if let Some(d) = &p.document_id {
                documents.insert(d.clone());
            }
            if p.encoding.as_deref().is_some_and(|e| e.contains("blank-omitted")) {
                self.blanks_removed += 1;
            }
            if p.state == PageState::Unfiled {
                self.unfiled_pages += 1;
            }
            if p.state == PageState::Filed
                && let Some(d) = &p.document_id
            {
                self.not_made.entry(d.clone()).or_insert_with(|| p.source.clone());
            }
            let note: Option<StackNote> = p.stack.as_deref().and_then(|s| serde_json::from_str(s).ok());
            if let Some(sheet) = note.and_then(|n| n.sheet) {
                self.separators += 1;
                if let Sheet::Unreadable { why } = sheet {
                    self.unrecognised.push(Problem {
                        file: p.source.clone(),
                        reason: why,
                        reason_vi: "Không đọc được tờ phân cách: các trang sau nó chưa được phân loại, cho đến tờ \
                                    phân cách kế tiếp. Hãy quét lại tờ này hoặc xếp các trang vào hồ sơ."
                            .into(),
                        code: None,
                    });
                }
            }
        }
        self.dossiers = cases.len();
        self.documents = documents.len();
        self.seen = (cases, documents);
    }

    /// As CSV: one `item,value,detail` line per figure, then one per problem.
    pub fn to_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(["item", "value", "detail", "detail_vi"]);
        let figures = [
            ("files", self.files.to_string()),
            ("captured", self.captured.to_string()),
            ("already_captured", self.already_captured.to_string()),
            ("vanished", self.vanished.to_string()),
            ("pages", self.pages.to_string()),
            ("dossiers", self.dossiers.to_string()),
            ("documents", self.documents.to_string()),
            ("blanks_removed", self.blanks_removed.to_string()),
            ("separators", self.separators.to_string()),
            ("unfiled_pages", self.unfiled_pages.to_string()),
            ("quarantined", self.quarantined.len().to_string()),
            ("set_aside", self.set_aside.len().to_string()),
            ("seconds", format!("{:.1}", self.seconds)),
            ("pages_per_second", format!("{:.1}", self.pages_per_second)),
        ];
        for (k, v) in figures {
            let _ = w.write_record([k, v.as_str(), "", ""]);
        }
        for p in &self.unrecognised {
            let _ = w.write_record(["unrecognised", p.file.as_str(), p.reason.as_str(), p.reason_vi.as_str()]);
        }
        for p in &self.quarantined {
            let _ = w.write_record(["quarantined", p.file.as_str(), p.reason.as_str(), p.reason_vi.as_str()]);
        }
        for p in &self.set_aside {
            let _ = w.write_record(["set_aside", p.file.as_str(), p.reason.as_str(), p.reason_vi.as_str()]);
        }
        String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// For the terminal.
    pub fn to_text(&self) -> String {
        use crate::util::lang::say;
        let vanished_en =
            if self.vanished > 0 { format!(", {} vanished before capture", self.vanished) } else { String::new() };
        let vanished_vi = if self.vanished > 0 {
            format!(", {} tệp biến mất trước khi tiếp nhận", self.vanished)
        } else {
            String::new()
        };
        let (captured, already, secs, rate) =
            (self.captured, self.already_captured, self.seconds, self.pages_per_second);
        let (pages, dossiers, documents, blanks) = (self.pages, self.dossiers, self.documents, self.blanks_removed);
        let (sheets, unfiled, quarantined) = (self.separators, self.unfiled_pages, self.quarantined.len());
        let mut s = say(
            format!(
                "Đã tiếp nhận {captured} tệp, {already} tệp đã có từ trước{vanished_vi}; cả lượt chạy {secs:.1} \
                 giây ({rate:.1} trang/giây)\n{pages} trang → {dossiers} hồ sơ, {documents} tài liệu; bỏ {blanks} trang \
                 trắng, {sheets} tờ tách hồ sơ, {unfiled} trang chưa phân loại, {quarantined} tệp bị cách ly\n"
            ),
            format!(
                "{captured} file(s) captured, {already} already captured{vanished_en}; the run took {secs:.1} s \
                 ({rate:.1} pages/s)\n{pages} page(s) → {dossiers} dossier(s), {documents} document(s); {blanks} blank page(s) \
                 left out, {sheets} separator sheet(s), {unfiled} unfiled page(s), {quarantined} quarantined input(s)\n"
            ),
        );
        if self.already_captured > 0 {
            // A run again over the same folder, or the same bytes twice in it: counted once.
            s.push_str(&say(
                format!(
                    "({} tệp có nội dung đã tiếp nhận trước đó, ở lần chạy trước hoặc trong chính lần này: số liệu \
                     tính theo kết quả khi đó; không có gì được thêm hai lần)\n",
                    self.already_captured
                ),
                format!(
                    "({} file(s) held bytes already captured, by an earlier run or earlier in this one: the figures \
                     include what became of them then; nothing was added twice)\n",
                    self.already_captured
                ),
            ));
        }
        if !self.stage_seconds.is_empty() {
            let parts: Vec<String> = self
                .stage_seconds
                .iter()
                .map(|(k, v)| say(format!("{} {v:.1} giây", stage_vi(k)), format!("{k} {v:.1} s")))
                .collect();
            // One stage to a line: the list is longer than a terminal is wide.
            s.push_str(&say("thời gian theo công đoạn (cộng mọi luồng):\n", "time by stage (all workers added up):\n"));
            for p in parts {
                s.push_str(&format!("  {p}\n"));
            }
        }
        if let Some(o) = &self.ocr {
            let (d, p, secs, rate) = (o.documents, o.pages, o.seconds, o.pages_per_second);
            let whole = self.seconds + secs;
            s.push_str(&say(
                format!(
                    "nhận dạng chữ (sau khi gắn; không tính trong thời gian trên): {d} tài liệu, {p} trang trong {secs:.1} \
                     giây ({rate:.2} trang/giây); cả hai {whole:.1} giây\n"
                ),
                format!(
                    "OCR (after attach; not in the time above): {d} document(s), {p} page(s) in {secs:.1} s ({rate:.2} \
                     pages/s); {whole:.1} s in all\n"
                ),
            ));
            if let Some(why) = &o.failed {
                let n = o.waiting;
                s.push_str(&say(
                    format!(
                        "NHẬN DẠNG CHỮ KHÔNG CHẠY ĐƯỢC: {why}\n    {n} tài liệu đã gắn vào hồ sơ nhưng chưa có lớp chữ; \
                         sửa lỗi trên (thường là cài tesseract-ocr, tesseract-ocr-vie, poppler-utils) rồi chạy lại \
                         lệnh này hoặc `sohoa serve` để thêm chữ\n"
                    ),
                    format!(
                        "OCR COULD NOT RUN: {why}\n    {n} document(s) are attached but have no text layer yet; fix the \
                         above (usually: install tesseract-ocr, tesseract-ocr-vie, poppler-utils), then run this command \
                         again or `sohoa serve` to add it\n"
                    ),
                ));
            }
        }
        let vi = crate::util::lang::current() == crate::util::lang::Lang::Vi;
        for p in &self.unrecognised {
            if vi {
                s.push_str(&format!(
                    "KHÔNG ĐỌC ĐƯỢC TỜ TÁCH {}: {} (các trang sau nó chưa phân loại)\n",
                    p.file, p.reason_vi
                ));
                s.push_str(&format!("    chi tiết: {}\n", p.reason));
            } else {
                s.push_str(&format!("UNRECOGNISED SHEET {}: {} (the pages after it are unfiled)\n", p.file, p.reason));
            }
        }
        let lists = [
            (&self.quarantined, "BỊ CÁCH LY", "QUARANTINED"),
            (&self.set_aside, "TẠM GÁC, CHƯA LÀM ĐƯỢC PDF TỪ", "SET ASIDE, no PDF made from"),
        ];
        for (problems, head_vi, head_en) in lists {
            for p in problems {
                if vi {
                    s.push_str(&format!("{head_vi} {}: {}\n", p.file, p.reason_vi));
                    s.push_str(&format!("    chi tiết: {}\n", p.reason));
                } else {
                    s.push_str(&format!("{head_en} {}: {}\n", p.file, p.reason));
                }
            }
        }
        s
    }
}

/// A pipeline stage's name as a clerk reads it.
fn stage_vi(stage: &str) -> &str {
    match stage {
        "capture" => "tiếp nhận",
        "split" => "tách trang",
        "decode" => "giải mã ảnh",
        "normalize" => "chuẩn hóa",
        "binarize" => "chuyển đen trắng",
        "rotate" => "xoay",
        "encode" => "nén",
        "write" => "ghi PDF",
        "attach" => "gắn vào hồ sơ",
        "ocr" => "nhận dạng chữ",
        other => other,
    }
}
