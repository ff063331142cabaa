//! A clerk's corrections: turn, reorder, remove, restore, undo straightening, split, merge, move,
//! retype. Each one plans the new state of every document it touches from the page records, renders
//! the new PDFs from the stored originals (never by editing the previous PDF), and writes everything
//! in one transaction as a new version — refused when someone else changed a document first.

use sha2::{Digest, Sha256};

use crate::error::{Failure, Result};
use crate::pages::SourceEncoding;
use crate::profile::DocRole;
use crate::store::assembly::{GroupKey, NewPage};
use crate::store::corrections::{Applied, Changed, Correction, NewScan, PlacedPage, Revise, Revised};
use crate::store::documents::{DocState, DocumentRow, PageRow};
use crate::store::records::NewIntake;
use crate::util::lang::Said;
use crate::util::time;

use super::Pipeline;
use super::render::doc_info;

/// A page number checked against the document, or the refusal returned.
macro_rules! try_page {
    ($e:expr) => {
        match $e {
            Ok(i) => i,
            Err(r) => return Ok(Err(r)),
        }
    };
}

/// A new scan of a page, as read from where the clerk put it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rescan {
    /// Its path, as given.
    pub path: String,
    /// Its file name.
    pub name: String,
    /// Its modification time (ISO 8601).
    pub mtime: String,
    /// Its bytes.
    pub bytes: std::sync::Arc<Vec<u8>>,
}

/// What a clerk asks of a document (pages numbered as `doc show` lists them, from 1; pages left out
/// of the PDF keep their number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Turn a page clockwise by 90, 180 or 270 degrees.
    Turn {
        /// Page number.
        page: i64,
        /// 90, 180 or 270.
        degrees: i64,
    },
    /// Undo the automatic straightening and crop of a page (or put them back).
    AsScanned {
        /// Page number.
        page: i64,
        /// `true`: as scanned; `false`: straightened and cropped again.
        on: bool,
    },
    /// Put the pages in this order (every page number once).
    Order {
        /// The new order.
        pages: Vec<i64>,
    },
    /// Take a page out of the PDF (it stays in the record).
    Remove {
        /// Page number.
        page: i64,
    },
    /// Put back a page a clerk removed or the blank detector left out.
    Restore {
        /// Page number.
        page: i64,
    },
    /// Split the document in two: pages from `at` on become a new document of the case.
    Split {
        /// The first page of the new document.
        at: i64,
    },
    /// Append another document of the case to this one (the other is taken off the case).
    Merge {
        /// The other document's ordinal.
        other: i64,
    },
    /// Replace a page with a new scan: the scan is captured, its page(s) take the page's place, and the
    /// old page stays in the record (shown as replaced).
    ReplacePage {
        /// Page number.
        page: i64,
        /// The new scan.
        scan: Rescan,
    },
    /// Set the document's role and/or type (a new version of the same document).
    Retype {
        /// The new role; unchanged when `None`.
        role: Option<DocRole>,
        /// The new type; unchanged when `None`.
        doc_type: Option<String>,
    },
    /// Move the document (or some of its pages) to a case as a new document there, with a role and type.
    Move {
        /// Pages to move; `None`: the whole document (taken off this case).
        pages: Option<Vec<i64>>,
        /// The case (the same case: the pages become a document of their own).
        to: String,
        /// The role there; unchanged when `None`.
        role: Option<DocRole>,
        /// The document type there; unchanged when `None`.
        doc_type: Option<String>,
    },
}

impl Operation {
    /// The name versions and audit events keep.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Turn { .. } => "turn",
            Operation::AsScanned { .. } => "as-scanned",
            Operation::Order { .. } => "order",
            Operation::Remove { .. } => "remove",
            Operation::Restore { .. } => "restore",
            Operation::Split { .. } => "split",
            Operation::Merge { .. } => "merge",
            Operation::Retype { .. } => "retype",
            Operation::ReplacePage { .. } => "replace-page",
            Operation::Move { .. } => "move",
        }
    }

    /// What was asked, as JSON for the version list and the audit event.
    fn detail(&self) -> serde_json::Value {
        match self {
            Operation::Turn { page, degrees } => serde_json::json!({ "page": page, "degrees": degrees }),
            Operation::AsScanned { page, on } => serde_json::json!({ "page": page, "as_scanned": on }),
            Operation::Order { pages } => serde_json::json!({ "order": pages }),
            Operation::Remove { page } | Operation::Restore { page } => serde_json::json!({ "page": page }),
            Operation::Split { at } => serde_json::json!({ "at": at }),
            Operation::Merge { other } => serde_json::json!({ "other": other }),
            Operation::Retype { role, doc_type } => {
                serde_json::json!({ "role": role.map(|r| r.as_str()), "type": doc_type })
            }
            Operation::ReplacePage { page, scan } => serde_json::json!({
                "page": page, "source": scan.path, "sha256": hex::encode(Sha256::digest(scan.bytes.as_slice())),
            }),
            Operation::Move { pages, to, role, doc_type } => serde_json::json!({
                "pages": pages, "to": to, "role": role.map(|r| r.as_str()), "type": doc_type,
            }),
        }
    }
}

/// Why a correction was not made; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Stable code for the API (`no-document`, `not-attached`, `stale`, `no-page`, …).
    pub code: &'static str,
    /// What to tell the clerk.
    pub said: Said,
}

impl Refused {
    fn new(code: &'static str, vi: impl Into<String>, en: impl Into<String>) -> Refused {
        Refused { code, said: Said::new(vi, en) }
    }

    /// Whether it is a conflict with someone else's change (HTTP 409) rather than a bad request.
    pub fn is_conflict(&self) -> bool {
        matches!(self.code, "stale" | "not-attached")
    }
}

/// A correction made: every document it changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Corrected {
    /// The operation's name.
    pub operation: &'static str,
    /// The documents changed, the named one first.
    pub documents: Vec<Changed>,
}

/// A document as a plan starts from.
struct Current {
    doc: DocumentRow,
    pages: Vec<PageRow>,
}

impl Current {
    fn born_digital(&self) -> bool {
        self.pages.first().is_some_and(|p| p.source_encoding == SourceEncoding::Pdf)
    }

    /// The index of page `n` (1-based, as listed).
    fn index(&self, n: i64) -> std::result::Result<usize, Refused> {
        if n >= 1 && (n as usize) <= self.pages.len() {
            return Ok(n as usize - 1);
        }
        let (name, count) = (name(&self.doc.case_code, self.doc.ordinal), self.pages.len());
        Err(Refused::new(
            "no-page",
            format!("{name} không có trang {n}: tài liệu có {count} trang (xem `sohoa doc show`)"),
            format!("{name} has no page {n}: it has {count} pages (see `sohoa doc show`)"),
        ))
    }
}

/// `CODE.NNN.pdf`.
fn name(code: &str, ordinal: i64) -> String {
    format!("{code}.{ordinal:03}.pdf")
}

/// A page planned into a document: its row (what render reads) with the clerk's changes.
#[derive(Clone)]
struct Planned {
    row: PageRow,
    flags: Vec<String>,
}

impl Planned {
    fn of(row: &PageRow) -> Planned {
        Planned { row: row.clone(), flags: serde_json::from_str(&row.flags).unwrap_or_default() }
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn set(&mut self, flag: &str, on: bool) {
        self.flags.retain(|f| f != flag);
        if on {
            self.flags.push(flag.to_string());
        }
        self.row.keep = self.has("keep");
        self.row.removed = self.has("removed") || self.has("replaced");
        self.row.as_scanned = self.has("as-scanned");
    }

    /// In the PDF: not removed, not a blank page left out.
    fn shown(&self) -> bool {
        !(self.row.removed || self.row.blank_omitted && !self.row.keep)
    }
}

/// One document's plan: where it goes and its pages.
struct Plan {
    target: Revise,
    case_code: String,
    ordinal: i64,
    role: DocRole,
    doc_type: Option<String>,
    pages: Vec<Planned>,
    detach_reason: Option<String>,
}

impl Pipeline {
    /// Makes a correction to document `ordinal` of case `code`. `expected` is the version the clerk
    /// saw (`None`: the current one); a document changed since is refused, as is anything the
    /// document cannot take. `Ok(Err(_))` is a refusal; `Err(_)` a fault of the stores.
    pub async fn correct(
        &self,
        code: &str,
        ordinal: i64,
        expected: Option<i64>,
        op: Operation,
        actor: &str,
    ) -> Result<std::result::Result<Corrected, Refused>> {
        // Without a version named, a correction that met someone else's is made again on the new
        // version (a few times); with one, it is refused, so nothing is changed unseen.
        let tries = if expected.is_some() { 1 } else { 4 };
        let mut last = None;
        for _ in 0..tries {
            match self.correct_once(code, ordinal, expected, &op, actor).await? {
                Err(r) if r.code == "stale" => last = Some(r),
                done => return Ok(done),
            }
        }
        Ok(Err(last.unwrap_or_else(|| stale(code, ordinal, 0, 0))))
    }

    async fn correct_once(
        &self,
        code: &str,
        ordinal: i64,
        expected: Option<i64>,
        op: &Operation,
        actor: &str,
    ) -> Result<std::result::Result<Corrected, Refused>> {
        let cur = match self.current(code, ordinal).await? {
            Ok(c) => c,
            Err(r) => return Ok(Err(r)),
        };
        if let Some(v) = expected.filter(|v| *v > cur.doc.version) {
            let (n, now) = (name(code, ordinal), cur.doc.version);
            return Ok(Err(Refused::new(
                "no-version",
                format!("{n} chưa có phiên bản {v}: hiện là phiên bản {now} (xem `sohoa doc show`)"),
                format!("{n} has no version {v} yet: it is at version {now} (see `sohoa doc show`)"),
            )));
        }
        if let Some(v) = expected.filter(|v| *v != cur.doc.version) {
            return Ok(Err(stale(code, ordinal, v, cur.doc.version)));
        }
        let first = cur.pages.first().map(|p| p.intake_id.clone()).unwrap_or_default();
        let intake = self.records.intake(&first).await?;
        let (station, profile_sha) = intake.map(|i| (i.station, i.profile_sha256)).unwrap_or_default();
        let l = self.loaded(&profile_sha).await?;
        let at = time::now_iso(l.offset);
        let scan = match op {
            Operation::ReplacePage { page, scan } => match cur.index(*page) {
                Err(r) => return Ok(Err(r)),
                Ok(_) => match self.capture_rescan(&cur, scan, &station, &l).await? {
                    Ok(s) => Some(s),
                    Err(r) => return Ok(Err(r)),
                },
            },
            _ => None,
        };
        let mut staged: Vec<crate::store::blob::Staged> = Vec::new();
        let scan = scan.map(|(new, rows, blob)| {
            staged.push(blob);
            (new, rows)
        });
        let plans = match self.plan(&cur, op, scan.as_ref().map(|s| &s.1[..]).unwrap_or(&[])).await? {
            Ok(p) => p,
            Err(r) => {
                for s in staged {
                    let _ = self.blobs.discard(s);
                }
                return Ok(Err(r));
            }
        };
        // A new scan is rendered from memory: its bytes become durable with the correction.
        let known = match op {
            Operation::ReplacePage { scan: r, .. } => {
                scan.as_ref().map(|s| (s.0.intake.sha256.clone(), r.bytes.clone()))
            }
            _ => None,
        };
        let mut documents = Vec::with_capacity(plans.len());
        for plan in plans {
            let rows: Vec<PageRow> = plan.pages.iter().map(|p| p.row.clone()).collect();
            let (pdf, outcomes) = if plan.detach_reason.is_some() {
                (None, Vec::new())
            } else if rows.first().is_some_and(|p| p.source_encoding == SourceEncoding::Pdf) {
                // A born-digital PDF is its own bytes, whatever case or type it is filed under.
                let sha = rows[0].sha256.clone();
                let bytes = self.records.file_bytes(&sha).await?.unwrap_or(0);
                (Some((sha, bytes)), Vec::new())
            } else {
                let doc = DocumentRow {
                    case_code: plan.case_code.clone(),
                    ordinal: plan.ordinal,
                    role: plan.role,
                    doc_type: plan.doc_type.clone(),
                    page_count: rows.len() as i64,
                    ..cur.doc.clone()
                };
                let kind = l.profile.settings.output.pdf;
                let info = doc_info(&doc, &rows, &station, &profile_sha, l.offset, kind);
                let drop_sheets = !l.profile.settings.separators.keep_in_pdf;
                let (pdf, outcomes) =
                    self.stage_pdf(rows, l.profile.settings.output.clone(), drop_sheets, info, known.clone()).await?;
                let made = (pdf.sha256.clone(), pdf.bytes);
                staged.push(pdf);
                (Some(made), outcomes)
            };
            let mut pages: Vec<PlacedPage> = plan
                .pages
                .iter()
                .map(|p| PlacedPage { page_id: p.row.id.clone(), clerk_turn: p.row.clerk_turn, flags: p.flags.clone() })
                .collect();
            // A page the render found blank carries the verdict where the clerk sees it.
            for (page, o) in pages.iter_mut().zip(&outcomes) {
                if o.encoding.contains("blank") && !page.flags.iter().any(|f| f == "blank") {
                    page.flags.push("blank".into());
                }
            }
            // Its pages as a scan's document counts them (blank pages and sheets left out of the PDF
            // included), less those a clerk took out or replaced.
            let shown = plan.pages.iter().filter(|p| !p.row.removed).count();
            documents.push(Revised {
                page_count: shown as i64,
                target: plan.target,
                role: plan.role,
                doc_type: plan.doc_type,
                pages,
                pdf,
                outcomes,
                detach_reason: plan.detach_reason,
            });
        }
        let correction = Correction {
            operation: op.name().to_string(),
            actor: actor.to_string(),
            at,
            detail: op.detail(),
            documents,
            scan: scan.map(|s| s.0),
        };
        // The new files become durable only inside the correction's transaction, once it is sure to
        // be written; a refused or failed one takes its staged files back.
        let pending = std::sync::Arc::new(std::sync::Mutex::new(staged));
        let persist = {
            let (blobs, pending) = (self.blobs.clone(), pending.clone());
            async move {
                let files = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
                crate::util::cpu::blocking(move || blobs.persist(files))
                    .await
                    .map_err(|e| Failure::transient("storing a corrected PDF", e))??;
                Ok(())
            }
        };
        let applied = self.records.apply_correction(&correction, persist).await;
        let left = std::mem::take(&mut *pending.lock().unwrap_or_else(|e| e.into_inner()));
        for s in left {
            let _ = self.blobs.discard(s);
        }
        let changed = match applied? {
            Applied::Done(c) => c,
            Applied::Stale { ordinal: o, version } => {
                return Ok(Err(stale(code, if o == 0 { ordinal } else { o }, cur.doc.version, version)));
            }
        };
        self.show_corrected(&changed, &l.profile, &station, l.offset).await?;
        tracing::info!(
            case = %code, document = ordinal, operation = op.name(), actor,
            documents = changed.len(), "corrected"
        );
        Ok(Ok(Corrected { operation: op.name(), documents: changed }))
    }

    /// The case's attached document and its pages, or why a correction cannot start.
    async fn current(&self, code: &str, ordinal: i64) -> Result<std::result::Result<Current, Refused>> {
        let n = name(code, ordinal);
        let Some(id) = self.records.document_id(code, ordinal).await? else {
            return Ok(Err(Refused::new(
                "no-document",
                format!("hồ sơ {code} không có tài liệu số {ordinal} (xem `sohoa case show {code}`)"),
                format!("case {code} has no document {ordinal} (see `sohoa case show {code}`)"),
            )));
        };
        let Some((doc, pages)) = self.records.document_for_render(&id).await? else {
            return Ok(Err(Refused::new("no-document", format!("không thấy {n}"), format!("{n} is not recorded"))));
        };
        match doc.state {
            DocState::Attached => Ok(Ok(Current { doc, pages })),
            DocState::Detached => Ok(Err(Refused::new(
                "not-attached",
                format!("{n} đã được gỡ khỏi hồ sơ: không sửa được nữa"),
                format!("{n} was taken off the case: it can no longer be corrected"),
            ))),
            DocState::Open | DocState::Closed => Ok(Err(Refused::new(
                "not-attached",
                format!("{n} đang được tạo PDF: thử lại sau ít giây"),
                format!("{n} is still having its PDF made: try again in a few seconds"),
            ))),
        }
    }

    /// The new state of every document the operation touches, or why it cannot be done.
    async fn plan(
        &self,
        cur: &Current,
        op: &Operation,
        rescanned: &[PageRow],
    ) -> Result<std::result::Result<Vec<Plan>, Refused>> {
        let (code, ordinal) = (cur.doc.case_code.clone(), cur.doc.ordinal);
        let n = name(&code, ordinal);
        let same = |pages: Vec<Planned>| Plan {
            target: Revise::Existing { id: cur.doc.id.clone(), version: cur.doc.version },
            case_code: code.clone(),
            ordinal,
            role: cur.doc.role,
            doc_type: cur.doc.doc_type.clone(),
            pages,
            detach_reason: None,
        };
        let mut pages: Vec<Planned> = cur.pages.iter().map(Planned::of).collect();
        let page_op = !matches!(op, Operation::Move { pages: None, .. } | Operation::Retype { .. });
        if page_op && cur.born_digital() {
            return Ok(Err(Refused::new(
                "born-digital",
                format!(
                    "{n} là PDF gốc điện tử, được lưu nguyên vẹn: không xoay, sắp xếp hay tách trang được; chỉ chuyển hoặc đổi loại cả tài liệu"
                ),
                format!(
                    "{n} is a born-digital PDF kept as it is: its pages cannot be turned, reordered or split; only the whole document can be moved or retyped"
                ),
            )));
        }
        let plan = match op {
            Operation::Turn { page, degrees } => {
                if ![90, 180, 270].contains(degrees) {
                    return Ok(Err(Refused::new(
                        "bad-turn",
                        format!("xoay {degrees}°: chỉ xoay được 90, 180 hoặc 270 độ (theo chiều kim đồng hồ)"),
                        format!("turn {degrees}°: a page turns by 90, 180 or 270 degrees (clockwise)"),
                    )));
                }
                let i = try_page!(cur.index(*page));
                if !pages[i].shown() {
                    return Ok(Err(not_shown(&n, *page)));
                }
                pages[i].row.clerk_turn = (pages[i].row.clerk_turn + degrees / 90) % 4;
                vec![same(pages)]
            }
            Operation::AsScanned { page, on } => {
                let i = try_page!(cur.index(*page));
                let straightened = pages[i]
                    .row
                    .normalization
                    .as_deref()
                    .and_then(|n| serde_json::from_str::<crate::normalize::PageNormalization>(n).ok())
                    .is_some_and(|n| n.deskew != 0.0 || n.crop.is_some());
                if !pages[i].shown() {
                    return Ok(Err(not_shown(&n, *page)));
                }
                if pages[i].row.as_scanned == *on || !straightened {
                    return Ok(Err(unchanged(&n)));
                }
                pages[i].set("as-scanned", *on);
                vec![same(pages)]
            }
            Operation::Order { pages: order } => {
                let mut seen = order.clone();
                seen.sort_unstable();
                if seen != (1..=pages.len() as i64).collect::<Vec<_>>() {
                    let count = pages.len();
                    return Ok(Err(Refused::new(
                        "bad-order",
                        format!("thứ tự mới phải kể mỗi trang từ 1 đến {count} đúng một lần, ví dụ 2,1,3"),
                        format!("the new order must name each page from 1 to {count} exactly once, e.g. 2,1,3"),
                    )));
                }
                if order.iter().enumerate().all(|(i, p)| *p == i as i64 + 1) {
                    return Ok(Err(unchanged(&n)));
                }
                let reordered = order.iter().map(|p| pages[*p as usize - 1].clone()).collect();
                vec![same(reordered)]
            }
            Operation::Remove { page } => {
                let i = try_page!(cur.index(*page));
                if pages[i].row.removed {
                    return Ok(Err(unchanged(&n)));
                }
                pages[i].set("removed", true);
                if !pages.iter().any(Planned::shown) {
                    return Ok(Err(Refused::new(
                        "last-page",
                        format!(
                            "không bỏ được trang {page}: {n} sẽ không còn trang nào; muốn bỏ cả tài liệu thì gỡ nó (`sohoa case detach`)"
                        ),
                        format!(
                            "cannot remove page {page}: {n} would have no page left; to take the whole document off, detach it (`sohoa case detach`)"
                        ),
                    )));
                }
                vec![same(pages)]
            }
            Operation::Restore { page } => {
                let i = try_page!(cur.index(*page));
                let p = &mut pages[i];
                if p.has("replaced") {
                    return Ok(Err(Refused::new(
                        "replaced",
                        format!(
                            "trang {page} của {n} đã được thay bằng bản quét mới (trang ngay sau nó): không khôi phục được; muốn dùng lại bản cũ thì bỏ trang mới và thay lại"
                        ),
                        format!(
                            "page {page} of {n} was replaced by a new scan (the page after it): it cannot be restored; to use the old scan again, remove the new page and replace it again"
                        ),
                    )));
                }
                if p.has("removed") {
                    p.set("removed", false);
                } else if p.row.blank_omitted && !p.row.keep {
                    p.set("keep", true);
                } else {
                    return Ok(Err(Refused::new(
                        "not-removed",
                        format!("trang {page} của {n} đang có trong PDF: không có gì để khôi phục"),
                        format!("page {page} of {n} is in the PDF: there is nothing to restore"),
                    )));
                }
                vec![same(pages)]
            }
            Operation::ReplacePage { page, .. } => {
                let i = try_page!(cur.index(*page));
                if pages[i].row.removed {
                    return Ok(Err(not_shown(&n, *page)));
                }
                pages[i].set("replaced", true);
                let new = rescanned.iter().map(|r| Planned { row: r.clone(), flags: Vec::new() });
                pages.splice(i + 1..i + 1, new);
                vec![same(pages)]
            }
            Operation::Split { at } => {
                let i = try_page!(cur.index(*at));
                let tail = pages.split_off(i);
                if pages.is_empty() || !pages.iter().any(Planned::shown) || !tail.iter().any(Planned::shown) {
                    return Ok(Err(Refused::new(
                        "bad-split",
                        format!("tách tại trang {at}: mỗi phần phải còn ít nhất một trang trong PDF"),
                        format!("split at page {at}: each part must keep at least one page in its PDF"),
                    )));
                }
                let next = self.records.next_ordinal(&code).await?;
                vec![
                    same(pages),
                    Plan {
                        target: Revise::New { case_code: code.clone(), ordinal: next },
                        case_code: code.clone(),
                        ordinal: next,
                        role: cur.doc.role,
                        doc_type: cur.doc.doc_type.clone(),
                        pages: tail,
                        detach_reason: None,
                    },
                ]
            }
            Operation::Merge { other } => {
                let o = match self.current(&code, *other).await? {
                    Ok(o) if o.doc.role != cur.doc.role => {
                        return Ok(Err(Refused::new(
                            "bad-merge",
                            format!(
                                "không gộp được {} vào {n}: một bên là thành phần hồ sơ, một bên là kết quả; đổi vai trò của một bên trước (`sohoa doc retype --role`)",
                                name(&code, *other)
                            ),
                            format!(
                                "cannot merge {} into {n}: one is an input, the other a result; change one's role first (`sohoa doc retype --role`)",
                                name(&code, *other)
                            ),
                        )));
                    }
                    Ok(o) if *other != ordinal && !o.born_digital() => o,
                    Ok(_) => {
                        return Ok(Err(Refused::new(
                            "bad-merge",
                            format!(
                                "không gộp được {} vào {n}: phải là một tài liệu quét khác của cùng hồ sơ",
                                name(&code, *other)
                            ),
                            format!(
                                "cannot merge {} into {n}: it must be another scanned document of the same case",
                                name(&code, *other)
                            ),
                        )));
                    }
                    Err(r) => return Ok(Err(r)),
                };
                pages.extend(o.pages.iter().map(Planned::of));
                vec![
                    same(pages),
                    Plan {
                        target: Revise::Existing { id: o.doc.id.clone(), version: o.doc.version },
                        case_code: code.clone(),
                        ordinal: *other,
                        role: o.doc.role,
                        doc_type: o.doc.doc_type.clone(),
                        pages: Vec::new(),
                        detach_reason: Some(format!("merged into {n}")),
                    },
                ]
            }
            Operation::Retype { role, doc_type } => {
                let doc_type = match doc_type {
                    Some(t) => Some(self.records.type_as_catalogued(&code, t).await?),
                    None => cur.doc.doc_type.clone(),
                };
                let role = role.unwrap_or(cur.doc.role);
                if role == cur.doc.role && doc_type == cur.doc.doc_type {
                    return Ok(Err(unchanged(&n)));
                }
                vec![Plan { role, doc_type, ..same(pages) }]
            }
            Operation::Move { pages: which, to, role, doc_type } => {
                let doc_type = match doc_type {
                    Some(t) => Some(self.records.type_as_catalogued(to, t).await?),
                    None => cur.doc.doc_type.clone(),
                };
                let role = role.unwrap_or(cur.doc.role);
                let chosen: Vec<i64> = match which {
                    Some(list) => list.clone(),
                    None => (1..=pages.len() as i64).collect(),
                };
                let mut idx = Vec::with_capacity(chosen.len());
                for p in &chosen {
                    let i = try_page!(cur.index(*p));
                    if idx.contains(&i) {
                        return Ok(Err(Refused::new(
                            "bad-move",
                            format!("trang {p} được kể hai lần: kể mỗi trang cần chuyển một lần"),
                            format!("page {p} is named twice: name each page to move once"),
                        )));
                    }
                    idx.push(i);
                }
                idx.sort_unstable();
                if *to == code && idx.len() == pages.len() {
                    return Ok(Err(Refused::new(
                        "bad-move",
                        format!("{n} đã ở hồ sơ {code}: để đổi vai trò hay loại, dùng `sohoa doc retype`"),
                        format!("{n} is already in case {code}: to change its role or type, use `sohoa doc retype`"),
                    )));
                }
                let moved: Vec<Planned> = idx.iter().map(|i| pages[*i].clone()).collect();
                let left: Vec<Planned> =
                    (0..pages.len()).filter(|i| !idx.contains(i)).map(|i| pages[i].clone()).collect();
                if !moved.iter().any(Planned::shown) {
                    return Ok(Err(Refused::new(
                        "bad-move",
                        "các trang được chọn không có trang nào trong PDF: chọn ít nhất một trang đang hiển thị",
                        "none of the chosen pages is in the PDF: choose at least one page that is shown",
                    )));
                }
                if !left.is_empty() && !left.iter().any(Planned::shown) {
                    return Ok(Err(Refused::new(
                        "bad-move",
                        format!("{n} sẽ chỉ còn trang bị bỏ ra: chuyển cả tài liệu thay vì từng trang"),
                        format!("{n} would keep only pages left out: move the whole document instead"),
                    )));
                }
                let next = self.records.next_ordinal(to).await?;
                let target = Plan {
                    target: Revise::New { case_code: to.clone(), ordinal: next },
                    case_code: to.clone(),
                    ordinal: next,
                    role,
                    doc_type,
                    pages: moved,
                    detach_reason: None,
                };
                let source = if left.is_empty() {
                    Plan { detach_reason: Some(format!("moved to {}", name(to, next))), ..same(Vec::new()) }
                } else {
                    same(left)
                };
                vec![source, target]
            }
        };
        Ok(Ok(plan))
    }

    /// Reads a new scan of a page, checks it as a split would, and makes its bytes durable in the blob
    /// store; its intake and pages are recorded with the correction. A refusal when the file is not a
    /// usable scan or was already captured for this case.
    async fn capture_rescan(
        &self,
        cur: &Current,
        scan: &Rescan,
        station: &str,
        l: &super::Loaded,
    ) -> Result<std::result::Result<(NewScan, Vec<PageRow>, crate::store::blob::Staged), Refused>> {
        let code = &cur.doc.case_code;
        let sha = hex::encode(Sha256::digest(scan.bytes.as_slice()));
        if let Some(earlier) = self.records.captured_for(&sha, code).await? {
            return Ok(Err(Refused::new(
                "already-captured",
                format!("tệp {} đã được tiếp nhận cho hồ sơ {code} (từ {earlier}): không phải bản quét mới", scan.name),
                format!("{} was already captured for case {code} (from {earlier}): it is not a new scan", scan.name),
            )));
        }
        let output = &l.profile.settings.output;
        let limits = crate::pages::Limits::new(output.max_pixels, output.max_inflate_mb);
        let bytes = scan.bytes.clone();
        let inspected = crate::util::cpu::blocking(move || crate::pages::inspect(&bytes, limits))
            .await
            .map_err(|e| Failure::transient("reading a new scan", e))?;
        let (format, infos) = match inspected {
            Ok(x) => x,
            Err(Failure::BadInput { code: c, reason }) => {
                return Ok(Err(Refused::new(
                    "bad-scan",
                    format!(
                        "{} không dùng được làm bản quét ({}): cần một ảnh JPEG, PNG, TIFF hoặc PDF của máy quét, đọc được trọn vẹn",
                        scan.name,
                        c.as_str()
                    ),
                    format!("{} cannot be used as a scan: {reason}", scan.name),
                )));
            }
            Err(e) => return Err(e),
        };
        if infos.len() > 1 {
            return Ok(Err(Refused::new(
                "bad-scan",
                format!("{} có {} trang: bản quét thay cho một trang phải có đúng một trang", scan.name, infos.len()),
                format!("{} holds {} pages: a new scan of one page must hold exactly one", scan.name, infos.len()),
            )));
        }
        if infos.iter().any(|p| p.encoding == SourceEncoding::Pdf) {
            return Ok(Err(Refused::new(
                "bad-scan",
                format!("{} là PDF gốc điện tử, không phải bản quét: thay trang bằng một ảnh quét", scan.name),
                format!("{} is a born-digital PDF, not a scan: replace the page with a scanned image", scan.name),
            )));
        }
        let (blobs, bytes) = (self.blobs.clone(), scan.bytes.clone());
        let blob = crate::util::cpu::blocking(move || blobs.stage(&mut bytes.as_slice()))
            .await
            .map_err(|e| Failure::transient("storing a new scan", e))??;
        let intake_id = crate::store::records::new_id();
        let default = output.default_dpi as f64;
        let pages: Vec<(String, NewPage)> = infos
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let (dpi_x, dpi_y, dpi_source) = p.dpi.unwrap_or((default, default, crate::pages::DpiSource::Default));
                let page = NewPage {
                    page_index: i as u32,
                    width: p.width,
                    height: p.height,
                    dpi_x,
                    dpi_y,
                    dpi_source,
                    colour: p.colour,
                    source_encoding: p.encoding,
                    case_code: None,
                    role: cur.doc.role,
                    doc_type: cur.doc.doc_type.clone(),
                    group_key: GroupKey::File { intake: intake_id.clone() },
                    flags: if p.dpi.is_none() { vec!["no-dpi".into()] } else { Vec::new() },
                    stack: None,
                };
                (crate::store::records::new_id(), page)
            })
            .collect();
        let rows = pages
            .iter()
            .map(|(id, p)| PageRow {
                id: id.clone(),
                intake_id: intake_id.clone(),
                sha256: sha.clone(),
                page_index: p.page_index,
                width: p.width,
                height: p.height,
                colour: p.colour,
                dpi_x: p.dpi_x,
                dpi_y: p.dpi_y,
                source_encoding: p.source_encoding,
                source_mtime: scan.mtime.clone(),
                source_name: scan.name.clone(),
                separator: false,
                keep: false,
                removed: false,
                as_scanned: false,
                clerk_turn: 0,
                normalization: None,
                rendered: false,
                blank_omitted: false,
                flags: "[]".into(),
            })
            .collect();
        let new = NewScan {
            intake_id,
            intake: NewIntake {
                sha256: sha,
                bytes: scan.bytes.len() as u64,
                source_path: scan.path.clone(),
                source_name: scan.name.clone(),
                source_mtime: scan.mtime.clone(),
                station: station.to_string(),
                operator: None,
                captured_at: time::now_iso(l.offset),
                route_key: code.clone(),
                hints: "{}".into(),
                unit: None,
            },
            profile_name: l.profile.name().to_string(),
            profile_sha256: l.profile.sha256.clone(),
            format: format.as_str().to_string(),
            pages,
        };
        Ok(Ok((new, rows, blob)))
    }

    /// Updates the case folders and rebuilds the case bundles after a correction.
    async fn show_corrected(
        &self,
        changed: &[Changed],
        profile: &crate::profile::Profile,
        station: &str,
        offset: ::time::UtcOffset,
    ) -> Result<()> {
        let output = &profile.settings.output;
        let mut cases: Vec<&str> = Vec::new();
        for ch in changed {
            let file = name(&ch.case_code, ch.ordinal);
            if output.case_folder_view {
                let (views, blobs) = (self.views.clone(), self.blobs.clone());
                let (case, sha, detached) = (ch.case_code.clone(), ch.sha256.clone(), ch.detached);
                let _ = crate::util::cpu::blocking(move || match (detached, sha) {
                    (false, Some(sha)) => views.replace(blobs.as_ref(), &case, &file, &sha),
                    _ => views.removed(&case, &file),
                })
                .await;
            }
            if !cases.contains(&ch.case_code.as_str()) {
                cases.push(&ch.case_code);
            }
        }
        if output.case_bundle {
            for code in cases {
                self.bundle_case(code, profile, station, offset).await?;
            }
        }
        Ok(())
    }
}

fn not_shown(n: &str, page: i64) -> Refused {
    Refused::new(
        "not-shown",
        format!(
            "trang {page} của {n} không có trong PDF (đã bỏ ra, đã thay hoặc là trang trắng để ra ngoài): khôi phục nó trước, hoặc chọn một trang đang có trong PDF"
        ),
        format!(
            "page {page} of {n} is not in the PDF (removed, replaced, or blank and left out): restore it first, or choose a page that is in the PDF"
        ),
    )
}

fn unchanged(n: &str) -> Refused {
    Refused::new(
        "unchanged",
        format!("{n} đã đúng như vậy; không thay đổi gì"),
        format!("{n} is already so; nothing changed"),
    )
}

fn stale(code: &str, ordinal: i64, seen: i64, now: i64) -> Refused {
    let n = name(code, ordinal);
    Refused::new(
        "stale",
        format!(
            "{n} đã được người khác sửa (bạn xem phiên bản {seen}, hiện là phiên bản {now}): tải lại rồi sửa lại trên phiên bản mới"
        ),
        format!(
            "{n} was changed by someone else (you saw version {seen}, it is now version {now}): reload and make the change on the new version"
        ),
    )
}

/// A document as a clerk corrects it: its state, version and every page it ever held, in order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocView {
    /// The case.
    pub case: String,
    /// Its ordinal.
    pub ordinal: i64,
    /// `CODE.NNN.pdf`.
    pub name: String,
    /// `attached`, `closed` (its PDF being made), `detached`.
    pub state: &'static str,
    /// The current version (a correction names it to be sure nobody changed the document first).
    pub version: i64,
    /// Input or result.
    pub role: &'static str,
    /// Document type.
    pub doc_type: Option<String>,
    /// The current PDF.
    pub pdf_sha256: Option<String>,
    /// A born-digital PDF kept as it is (its pages cannot be corrected one by one).
    pub born_digital: bool,
    /// Pages in order.
    pub pages: Vec<PageView>,
}

/// One page of a [`DocView`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct PageView {
    /// Its number, from 1 (what the operations name).
    pub page: i64,
    /// Whether it is in the PDF.
    pub shown: bool,
    /// `in`, `removed`, `replaced`, `blank-omitted`, `blank-kept`, `sheet`.
    pub state: &'static str,
    /// The scan it comes from.
    pub source: String,
    /// Its stored original.
    pub sha256: String,
    /// Index within the original (0-based; the thumbnail's page).
    pub page_index: u32,
    /// Quarter turns clockwise as shown: the automatic ones and the clerk's.
    pub turns: i64,
    /// The clerk's share of them.
    pub clerk_turn: i64,
    /// Straightened by this many degrees (0 when as scanned).
    pub deskew: f64,
    /// Cropped to its content.
    pub cropped: bool,
    /// A clerk undid the straightening and crop.
    pub as_scanned: bool,
}

impl PageView {
    /// The page's state in the reader's language.
    pub fn state_said(&self) -> String {
        let (vi, en) = match self.state {
            "removed" => ("đã bỏ ra", "removed"),
            "replaced" => ("đã thay bằng bản quét mới", "replaced by a new scan"),
            "blank-omitted" => ("trang trắng, để ra ngoài", "blank, left out"),
            "blank-kept" => ("trang trắng, giữ lại", "blank, kept"),
            "sheet" => ("tờ phân cách", "separator sheet"),
            _ => ("trong PDF", "in the PDF"),
        };
        crate::util::lang::say(vi, en)
    }
}

impl Pipeline {
    /// A case's document as a clerk corrects it; `None` when the case has no such document.
    pub async fn doc_view(&self, code: &str, ordinal: i64) -> Result<Option<DocView>> {
        let Some(id) = self.records.document_id(code, ordinal).await? else { return Ok(None) };
        let Some((doc, pages)) = self.records.document_for_render(&id).await? else { return Ok(None) };
        let born_digital = pages.first().is_some_and(|p| p.source_encoding == SourceEncoding::Pdf);
        let pages = pages
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let planned = Planned::of(p);
                let norm: crate::normalize::PageNormalization =
                    p.normalization.as_deref().and_then(|n| serde_json::from_str(n).ok()).unwrap_or_default();
                let state = if planned.has("replaced") {
                    "replaced"
                } else if p.removed {
                    "removed"
                } else if p.separator {
                    "sheet"
                } else if !planned.shown() {
                    "blank-omitted"
                } else if planned.has("blank") {
                    "blank-kept"
                } else {
                    "in"
                };
                PageView {
                    page: i as i64 + 1,
                    shown: planned.shown() && !p.separator,
                    state,
                    source: p.source_name.clone(),
                    sha256: p.sha256.clone(),
                    page_index: p.page_index,
                    turns: (i64::from(norm.turns) + p.clerk_turn).rem_euclid(4),
                    clerk_turn: p.clerk_turn,
                    deskew: if p.as_scanned { 0.0 } else { norm.deskew },
                    cropped: norm.crop.is_some() && !p.as_scanned,
                    as_scanned: p.as_scanned,
                }
            })
            .collect();
        Ok(Some(DocView {
            name: name(&doc.case_code, doc.ordinal),
            case: doc.case_code,
            ordinal: doc.ordinal,
            state: doc.state.as_str(),
            version: doc.version,
            role: doc.role.as_str(),
            doc_type: doc.doc_type,
            pdf_sha256: doc.pdf_sha256,
            born_digital,
            pages,
        }))
    }
}
