//! `sohoa doc …`: a clerk's corrections to one attached document — turn, reorder, remove, restore,
//! undo straightening, split, merge, move, retype — each a new version, and the versions listed.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use crate::pipeline::Pipeline;
use crate::pipeline::correct::{DocView, Operation, Rescan};
use crate::profile::DocRole;
use crate::util::lang::say;
use crate::util::text::nfc;

/// Which document: the case code and the document's ordinal (the NNN of CODE.NNN.pdf).
#[derive(clap::Args, Clone)]
pub(super) struct Which {
    /// The case code, e.g. H15.50.05.13-261008-0975.
    code: String,
    /// The document's ordinal (the NNN of CODE.NNN.pdf).
    ordinal: i64,
    /// Refuse unless the document is still at this version (the one you looked at with `doc show`):
    /// a change someone else made meanwhile is never overwritten unseen.
    #[arg(long = "if-version", value_name = "V", global = true)]
    if_version: Option<i64>,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// The document's version, state and every page it holds, numbered as the other `doc` commands
    /// take them (pages left out of the PDF keep their number).
    Show {
        #[command(flatten)]
        which: Which,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Turn a page clockwise by 90, 180 or 270 degrees (on top of any automatic turn).
    Turn {
        #[command(flatten)]
        which: Which,
        /// The page number, from `doc show`.
        page: i64,
        /// 90, 180 or 270 (clockwise).
        degrees: i64,
    },
    /// Undo the automatic straightening and crop of a page (`--undo` puts them back).
    AsScanned {
        #[command(flatten)]
        which: Which,
        /// The page number.
        page: i64,
        /// Straighten and crop the page again, as first judged.
        #[arg(long)]
        undo: bool,
    },
    /// Put the pages in a new order: every page number once, e.g. `3,1,2`.
    Order {
        #[command(flatten)]
        which: Which,
        /// The page numbers in their new order, separated by commas.
        #[arg(value_delimiter = ',', num_args = 1..)]
        pages: Vec<i64>,
    },
    /// Take a page out of the PDF. It stays in the record (and its original in the store) and can be
    /// restored.
    Remove {
        #[command(flatten)]
        which: Which,
        /// The page number.
        page: i64,
    },
    /// Put back a page that was removed, or that was left out as blank.
    Restore {
        #[command(flatten)]
        which: Which,
        /// The page number.
        page: i64,
    },
    /// Split the document in two: pages from AT on become a new document of the same case.
    Split {
        #[command(flatten)]
        which: Which,
        /// The first page of the new document.
        at: i64,
    },
    /// Append another document of the case to this one; the other is taken off the case (kept).
    Merge {
        #[command(flatten)]
        which: Which,
        /// The other document's ordinal.
        other: i64,
    },
    /// Move the document, or some of its pages, to a case (or to a document of their own in this
    /// case), with a role and type there.
    Move {
        #[command(flatten)]
        which: Which,
        /// Only these pages (comma-separated); the whole document when left out.
        #[arg(long, value_delimiter = ',')]
        pages: Option<Vec<i64>>,
        /// The case to move to.
        #[arg(long)]
        to: String,
        /// input or result there (unchanged when left out).
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
        /// The document type there.
        #[arg(long = "type")]
        doc_type: Option<String>,
    },
    /// Replace a page with a new scan of one page (an image or a one-page scanner PDF): the scan is
    /// captured and comes right after the old page, which stays in the record, shown as replaced — so
    /// the pages after it are numbered one more (see `doc show`).
    ReplacePage {
        #[command(flatten)]
        which: Which,
        /// The page number.
        page: i64,
        /// The new scan.
        file: PathBuf,
    },
    /// Set the document's role and/or type: a new version of the same document.
    Retype {
        #[command(flatten)]
        which: Which,
        /// The document type, e.g. "Tờ khai".
        #[arg(long = "type")]
        doc_type: Option<String>,
        /// input or result.
        #[arg(long, value_parser = ["input", "result"])]
        role: Option<String>,
    },
    /// Every version of the document: who made it, when, how, and its PDF's hash.
    Versions {
        #[command(flatten)]
        which: Which,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Save a version's PDF (the current one unless `--version`) to a file.
    Get {
        #[command(flatten)]
        which: Which,
        /// Which version.
        #[arg(long)]
        version: Option<i64>,
        /// Where to write it.
        #[arg(long, short)]
        out: PathBuf,
    },
}

pub(super) async fn run(data: &Path, c: Command) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), data.to_path_buf());
    let (which, op) = match c {
        Command::Show { which, json } => {
            let view = view(&pipeline, &which).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
            } else {
                print!("{}", show_text(&view));
            }
            return Ok(0);
        }
        Command::Versions { which, json } => {
            let view = view(&pipeline, &which).await?;
            let id = d.records.document_id(&view.case, view.ordinal).await?.unwrap_or_default();
            let versions = d.records.document_versions(&id).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&versions)?);
                return Ok(0);
            }
            println!(
                "{} — {}",
                view.name,
                say(format!("phiên bản hiện tại: {}", view.version), format!("current version: {}", view.version))
            );
            for v in versions {
                let sha =
                    v.pdf_sha256.as_deref().map_or_else(|| say("(chưa có PDF)", "(no PDF)"), |s| s[..16].to_string());
                println!(
                    "  {:>3}  {}  {}  {}  {}{}",
                    v.version,
                    v.at,
                    super::case::said_word(&v.operation),
                    sha,
                    v.actor,
                    asked(&v.detail.0)
                );
            }
            return Ok(0);
        }
        Command::Get { which, version, out } => {
            let view = view(&pipeline, &which).await?;
            let id = d.records.document_id(&view.case, view.ordinal).await?.unwrap_or_default();
            let want = version.unwrap_or(view.version);
            let versions = d.records.document_versions(&id).await?;
            let Some(sha) = versions.iter().find(|v| v.version == want).and_then(|v| v.pdf_sha256.clone()) else {
                anyhow::bail!(
                    "{}",
                    say(
                        format!(
                            "{} không có phiên bản {want} có PDF; `sohoa doc versions` liệt kê các phiên bản",
                            view.name
                        ),
                        format!("{} has no version {want} with a PDF; `sohoa doc versions` lists them", view.name),
                    )
                );
            };
            // A file already there is never overwritten unseen.
            anyhow::ensure!(
                !out.exists(),
                "{}",
                say(
                    format!("đã có {}: chọn tên khác hoặc xóa tệp đó trước", out.display()),
                    format!("{} already exists: choose another name or remove it first", out.display())
                )
            );
            let bytes = d.blobs.read_all(&sha)?;
            std::fs::write(&out, &bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{}: {e}",
                    say(format!("không ghi được {}", out.display()), format!("cannot write {}", out.display()))
                )
            })?;
            println!("{} v{want} → {} (sha256 {sha})", view.name, out.display());
            return Ok(0);
        }
        Command::Turn { which, page, degrees } => (which, Operation::Turn { page, degrees }),
        Command::AsScanned { which, page, undo } => (which, Operation::AsScanned { page, on: !undo }),
        Command::Order { which, pages } => (which, Operation::Order { pages }),
        Command::Remove { which, page } => (which, Operation::Remove { page }),
        Command::Restore { which, page } => (which, Operation::Restore { page }),
        Command::Split { which, at } => (which, Operation::Split { at }),
        Command::Merge { which, other } => (which, Operation::Merge { other }),
        Command::Move { which, pages, to, role, doc_type } => {
            let profile = super::load_profile(None)?;
            let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
            let to = codes.validate(&nfc(to.trim())).map_err(super::said_code_problem)?.into_string();
            // A mistyped code makes a new case: done all the same (the pages are safe and can be moved
            // again), but said.
            if d.records.case_record(&to).await?.is_none() {
                eprintln!(
                    "{}",
                    say(
                        format!(
                            "lưu ý: chưa có hồ sơ {to} — hồ sơ mới được tạo; nếu gõ nhầm mã, chuyển lại bằng `sohoa doc move`"
                        ),
                        format!(
                            "note: there is no case {to} yet — a new one is made; if the code is mistyped, move the pages again with `sohoa doc move`"
                        ),
                    )
                );
            }
            let role = role.as_deref().and_then(DocRole::parse);
            let doc_type = doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
            (which, Operation::Move { pages, to, role, doc_type })
        }
        Command::Retype { which, doc_type, role } => (which, retype(doc_type, role)?),
        Command::ReplacePage { which, page, file } => (which, Operation::ReplacePage { page, scan: rescan(&file)? }),
    };
    correct(&pipeline, &which, op).await
}

/// What a correction asked, as `key value` pairs (empty fields left out), after a separator.
fn asked(detail: &serde_json::Value) -> String {
    let parts: Vec<String> = detail
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k} {s}"),
                    serde_json::Value::Array(a) => {
                        format!("{k} {}", a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(","))
                    }
                    other => format!("{k} {other}"),
                })
                .collect()
        })
        .unwrap_or_default();
    if parts.is_empty() { String::new() } else { format!(" — {}", parts.join(", ")) }
}

/// A new scan read from where the clerk saved it.
fn rescan(file: &Path) -> anyhow::Result<Rescan> {
    let cannot = |e: std::io::Error| {
        anyhow::anyhow!(
            "{}",
            say(
                format!("không đọc được {}: {e}; kiểm tra đường dẫn tệp quét", file.display()),
                format!("cannot read {}: {e}; check the scan's path", file.display())
            )
        )
    };
    let meta = std::fs::metadata(file).map_err(cannot)?;
    anyhow::ensure!(
        meta.is_file(),
        "{}",
        say(format!("{} không phải là tệp", file.display()), format!("{} is not a file", file.display()))
    );
    let bytes = std::fs::read(file).map_err(cannot)?;
    let mtime = meta
        .modified()
        .ok()
        .map(::time::OffsetDateTime::from)
        .map(|t| crate::util::time::iso(t, crate::util::time::VIETNAM))
        .unwrap_or_default();
    Ok(Rescan {
        path: nfc(&file.to_string_lossy()),
        name: nfc(&file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()),
        mtime,
        bytes: std::sync::Arc::new(bytes),
    })
}

/// A retype as the clerk typed it: the type in NFC, trimmed; one of the two at least.
pub(super) fn retype(doc_type: Option<String>, role: Option<String>) -> anyhow::Result<Operation> {
    let doc_type = doc_type.map(|t| nfc(t.trim())).filter(|t| !t.is_empty());
    anyhow::ensure!(
        doc_type.is_some() || role.is_some(),
        "{}",
        say("hãy cho biết cần đổi gì: --type T, --role R hoặc cả hai", "say what to set: --type T, --role R or both")
    );
    Ok(Operation::Retype { role: role.as_deref().and_then(DocRole::parse), doc_type })
}

/// Makes a correction and says what it did; a refusal is an error with the clerk's reason.
pub(super) async fn correct(pipeline: &Pipeline, which: &Which, op: Operation) -> anyhow::Result<u8> {
    let code = checked(&which.code)?;
    let done = pipeline.correct(&code, which.ordinal, which.if_version, op, &super::actor()).await?;
    let done = match done {
        Ok(d) => d,
        Err(r) if r.code == "unchanged" => {
            println!("{}", r.said.pick());
            return Ok(0);
        }
        Err(r) => anyhow::bail!("{}", r.said.pick()),
    };
    for ch in &done.documents {
        let n = format!("{}.{:03}.pdf", ch.case_code, ch.ordinal);
        let sha = ch.sha256.as_deref().unwrap_or_default();
        if ch.detached {
            println!(
                "{}",
                say(
                    format!("{n}: gỡ khỏi hồ sơ (các trang đã chuyển đi)"),
                    format!("{n}: taken off the case (its pages went elsewhere)")
                )
            );
        } else if ch.version_before.is_none() {
            println!(
                "{}",
                say(
                    format!("{n}: tài liệu mới, phiên bản 1 (sha256 {sha})"),
                    format!("{n}: new document, version 1 (sha256 {sha})")
                )
            );
        } else {
            println!(
                "{}",
                say(
                    format!("{n}: phiên bản {} (sha256 {sha}); phiên bản trước vẫn được lưu", ch.version),
                    format!("{n}: version {} (sha256 {sha}); the previous version is kept", ch.version)
                )
            );
        }
    }
    Ok(0)
}

impl Which {
    /// The document named by a case code and ordinal, at any version.
    pub(super) fn new(code: String, ordinal: i64) -> Which {
        Which { code, ordinal, if_version: None }
    }
}

/// A case code as typed, checked against the case-code rule: a code that is none is said as such,
/// not as a case without documents.
fn checked(code: &str) -> anyhow::Result<String> {
    let profile = super::load_profile(None)?;
    let codes = crate::route::CaseCodeRule::from_profile(&profile.settings.routing)?;
    Ok(codes.validate(&nfc(code.trim())).map_err(super::said_code_problem)?.into_string())
}

async fn view(pipeline: &Pipeline, which: &Which) -> anyhow::Result<DocView> {
    let code = checked(&which.code)?;
    pipeline.doc_view(&code, which.ordinal).await?.ok_or_else(|| {
        anyhow::anyhow!(
            "{}",
            say(
                format!(
                    "hồ sơ {code} không có tài liệu {:03}; `sohoa case show {code}` liệt kê các tài liệu",
                    which.ordinal
                ),
                format!("case {code} has no document {:03}; `sohoa case show {code}` lists them", which.ordinal),
            )
        )
    })
}

/// `doc show` as text, in the reader's language.
fn show_text(v: &DocView) -> String {
    let mut out = String::new();
    let role = super::case::said_word(v.role);
    let kind = v.doc_type.as_deref().map_or_else(|| role.to_string(), |t| format!("{role}, {t}"));
    out.push_str(&format!(
        "{} — {kind} — {} — {}\n",
        v.name,
        say(format!("phiên bản {}", v.version), format!("version {}", v.version)),
        super::case::said_word(v.state),
    ));
    if let Some(sha) = &v.pdf_sha256 {
        out.push_str(&format!("  PDF sha256 {sha}\n"));
    }
    if v.born_digital {
        out.push_str(&say("  PDF gốc điện tử, lưu nguyên vẹn\n", "  born-digital PDF, kept as it is\n"));
    }
    for p in &v.pages {
        let mut notes = Vec::new();
        if p.turns != 0 {
            notes.push(say(format!("xoay {}°", p.turns * 90), format!("turned {}°", p.turns * 90)));
        }
        if p.deskew != 0.0 {
            notes.push(say(format!("nắn thẳng {:.2}°", p.deskew), format!("straightened {:.2}°", p.deskew)));
        }
        if p.cropped {
            notes.push(say("đã cắt lề", "cropped"));
        }
        if p.as_scanned {
            notes.push(say("giữ như bản quét", "as scanned"));
        }
        out.push_str(&format!(
            "  {:>3}  {:<26}  {} #{}  {}\n",
            p.page,
            p.state_said(),
            p.source,
            p.page_index + 1,
            notes.join(", ")
        ));
    }
    out
}
