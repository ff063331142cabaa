//! `sohoa search "…"`: pages whose recognised text holds every word asked, with or without tone marks.

use std::path::Path;

use crate::store::texts::{TextHit, TextQuery};
use crate::util::lang::say;
use crate::util::text::{fold, nfc};

/// `sohoa search`.
#[derive(clap::Args)]
pub(super) struct Args {
    /// The words to find, e.g. "quyen su dung dat" (tone marks optional: it finds "quyền sử dụng đất").
    #[arg(allow_hyphen_values = true)]
    pub query: String,
    /// Cases of this unit only.
    #[arg(long)]
    pub unit: Option<String>,
    /// Cases received on or after this date (dd/mm/yyyy or yyyy-mm-dd).
    #[arg(long)]
    pub from: Option<String>,
    /// Cases received on or before this date.
    #[arg(long)]
    pub to: Option<String>,
    /// At most this many pages (1–1000).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..=1000))]
    pub limit: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub(super) const LONG_ABOUT: &str = "Finds pages by their text. Only documents whose text was recognised \
    (a profile with [ocr] enabled = true) can be found; every word asked must be on the page, and tone \
    marks, case and đ/d do not matter: `sohoa search \"quyen su dung dat\"` finds \"Quyền sử dụng đất\". \
    Prints case, document, page and the line that matched. Exits 0 when something was found, 1 when \
    nothing was.";

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let date = |v: &Option<String>, name: &str| -> anyhow::Result<Option<String>> {
        v.as_deref()
            .map(|d| {
                crate::util::time::local_date(d).map_err(|_| {
                    anyhow::anyhow!(
                        "{}",
                        say(
                            format!("{name} {d}: hãy viết ngày dạng dd/mm/yyyy hoặc yyyy-mm-dd"),
                            format!("{name} {d}: write the date as dd/mm/yyyy or yyyy-mm-dd")
                        )
                    )
                })
            })
            .transpose()
    };
    let (from, to) = (date(&a.from, "--from")?, date(&a.to, "--to")?);
    let q = TextQuery { text: nfc(a.query.trim()), unit: a.unit.map(|u| nfc(u.trim())), from, to, limit: a.limit };
    if fold(&q.text).is_empty() {
        anyhow::bail!("{}", say("cần ít nhất một từ để tìm", "give at least one word to find"));
    }
    let hits = d.records.search_text(&q).await?;
    if a.json {
        // The words' boxes as JSON, not as a string of JSON.
        let listed: Vec<serde_json::Value> = hits
            .iter()
            .map(|h| {
                let mut v = serde_json::to_value(h).unwrap_or_default();
                v["words"] = serde_json::from_str(&h.words).unwrap_or_default();
                v
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "query": q.text, "hits": listed }))?);
    } else if hits.is_empty() {
        println!(
            "{}",
            say(
                format!("Không trang nào có: {} (chỉ tìm được tài liệu đã nhận dạng chữ)", q.text),
                format!("No page holds: {} (only documents whose text was recognised can be found)", q.text)
            )
        );
    } else {
        for h in &hits {
            println!(
                "{}",
                say(
                    format!("{}.{:03} trang {} — {}", h.case_code, h.ordinal, h.page_no, matching_line(h, &q.text)),
                    format!("{}.{:03} page {} — {}", h.case_code, h.ordinal, h.page_no, matching_line(h, &q.text)),
                )
            );
        }
        if hits.len() as i64 == q.limit {
            println!(
                "{}",
                say(
                    format!("(chỉ hiện {} trang đầu; --limit để xem thêm)", q.limit),
                    format!("(the first {} pages only; --limit shows more)", q.limit)
                )
            );
        }
    }
    Ok(u8::from(hits.is_empty()))
}

/// The line of the page where the first word asked is, or its first line.
pub fn matching_line(hit: &TextHit, query: &str) -> String {
    let first = fold(query).split(' ').next().unwrap_or("").to_string();
    let line = hit
        .text
        .lines()
        .find(|l| fold(l).split(' ').any(|w| w == first))
        .or_else(|| hit.text.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("");
    line.chars().take(160).collect()
}
