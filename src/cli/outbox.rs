//! `sohoa outbox …`: what the one-stop system is still owed, what it refused and why, a clerk's retry,
//! and a one-shot send.

use std::path::{Path, PathBuf};

use clap::{Args as ClapArgs, Subcommand};

use crate::deliver::said_of;
use crate::store::outbox::{Listing, OutboxEntry};
use crate::util::lang::say;

/// `sohoa outbox [--failed] [--case CODE] [--json]`, or one of its subcommands.
#[derive(ClapArgs)]
#[command(args_conflicts_with_subcommands = true)]
pub(super) struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(ClapArgs, Default)]
struct ListArgs {
    /// Only entries the one-stop system refused, or that failed and wait to be tried again.
    #[arg(long)]
    failed: bool,
    /// Only entries not delivered yet.
    #[arg(long, conflicts_with = "failed")]
    undelivered: bool,
    /// Only this case's entries.
    #[arg(long)]
    case: Option<String>,
    /// At most this many, newest first.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// One JSON array instead of lines.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Send again an entry the one-stop system refused, once what it complained of is fixed (the case's
    /// data imported, the document retyped, the profile's mapping completed). The rest of the case's
    /// entries follow it.
    Retry {
        /// The entry's number, from `sohoa outbox --failed`.
        id: i64,
    },
    /// Deliver now, once, every entry that is due, through the profile's [connector], then stop (a
    /// station without `sohoa serve`). Download links in a dvcqg delivery point at the API of a running
    /// `sohoa serve --listen`. Exits 1 when any entry is left refused or waiting.
    Send {
        /// The profile whose [connector] to use.
        #[arg(long, value_name = "FILE")]
        profile: PathBuf,
    },
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    match a.command {
        None => list(data, a.list).await,
        Some(Command::Retry { id }) => retry(data, id).await,
        Some(Command::Send { profile }) => send(data, &profile).await,
    }
}

fn state_word(e: &OutboxEntry) -> String {
    match (e.state.as_str(), e.error.is_some()) {
        ("delivered", _) => say("đã gửi", "delivered"),
        ("rejected", _) => say("bị từ chối", "refused"),
        (_, true) if e.error.as_deref().is_some_and(crate::deliver::is_held) => {
            say("chờ thông tin hồ sơ", "waiting for the case's data")
        }
        (_, true) => say("chờ gửi lại", "retrying"),
        _ => say("chờ gửi", "pending"),
    }
}

fn operation_word(op: &str) -> String {
    match op {
        "attach" => say("gắn", "attach"),
        "detach" => say("gỡ", "detach"),
        "correct" => say("sửa", "correction"),
        other => other.to_string(),
    }
}

async fn list(data: &Path, a: ListArgs) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let which = if a.failed {
        Listing::Failed
    } else if a.undelivered {
        Listing::Undelivered
    } else {
        Listing::All
    };
    let case = a.case.map(|c| crate::util::text::nfc(c.trim()));
    let entries = d.records.outbox_list(which, case.as_deref(), a.limit.max(1)).await?;
    if a.json {
        let shown: Vec<serde_json::Value> = entries.iter().map(crate::deliver::shown).collect();
        println!("{}", serde_json::to_string_pretty(&shown)?);
        return Ok(0);
    }
    for e in &entries {
        println!(
            "{:>6}  {}  {}  {} v{}  {}  [{}]",
            e.id,
            e.at,
            e.file_name(),
            operation_word(&e.operation),
            e.version,
            state_word(e),
            e.attempts
        );
        if let Some(m) = e.remote_message.as_deref().filter(|_| e.state == "rejected") {
            let status = e.remote_status.unwrap_or(0);
            let by = match status {
                0 => say("sohoa", "sohoa"),
                crate::store::outbox::RECEIPT_FILE => say("biên nhận của bên nhận", "the receiver's receipt"),
                _ => format!("HTTP {status}"),
            };
            println!("        {by}: {}", said_of(m));
            println!(
                "        {}",
                say(
                    format!("sửa nguyên nhân rồi chạy: sohoa outbox retry {}", e.id),
                    format!("fix the cause, then run: sohoa outbox retry {}", e.id)
                )
            );
        } else if let Some(err) = e.error.as_deref().filter(|_| e.state == "pending") {
            println!("        {}", said_of(err));
        } else if let Some(id) = e.remote_id.as_deref() {
            println!("        {}: {id}", say("mã bên nhận", "remote id"));
        }
    }
    let c = d.records.outbox_counts().await?;
    eprintln!(
        "{}",
        say(
            format!(
                "{} chờ gửi (lâu nhất {} giây), {} đã gửi, {} bị từ chối",
                c.pending,
                c.oldest_pending_ms / 1000,
                c.delivered,
                c.rejected
            ),
            format!(
                "{} pending (oldest {} s), {} delivered, {} refused",
                c.pending,
                c.oldest_pending_ms / 1000,
                c.delivered,
                c.rejected
            )
        )
    );
    Ok(0)
}

async fn retry(data: &Path, id: i64) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let at = crate::util::time::now_iso(crate::util::time::VIETNAM);
    match d.records.outbox_retry(id, &super::actor(), &at).await? {
        None => {
            eprintln!("{}", say(format!("không có mục gửi số {id}"), format!("no outbox entry {id}")));
            Ok(2)
        }
        Some(e) if e.state != "rejected" => {
            eprintln!(
                "{}",
                say(
                    format!("mục {id} ({}) không bị từ chối ({}): không cần gửi lại", e.file_name(), state_word(&e)),
                    format!("entry {id} ({}) was not refused ({}): nothing to retry", e.file_name(), state_word(&e))
                )
            );
            Ok(1)
        }
        Some(e) => {
            println!(
                "{}",
                say(
                    format!(
                        "mục {id} ({}) sẽ được gửi lại ngay khi dịch vụ chạy (hoặc `sohoa outbox send`)",
                        e.file_name()
                    ),
                    format!(
                        "entry {id} ({}) is sent again as soon as the service runs (or `sohoa outbox send`)",
                        e.file_name()
                    )
                )
            );
            Ok(0)
        }
    }
}

async fn send(data: &Path, profile: &Path) -> anyhow::Result<u8> {
    let profile = crate::profile::Profile::load(profile)?;
    let Some(connector) = profile.settings.connector.clone() else {
        anyhow::bail!(
            "{}",
            say(
                format!(
                    "hồ sơ cấu hình {} không có mục [connector]: thêm một mục (kind = \"dvcqg\", \"http\" hoặc \"folder\") để gửi",
                    profile.name()
                ),
                format!(
                    "profile {} has no [connector] section: add one (kind = \"dvcqg\", \"http\" or \"folder\") to deliver",
                    profile.name()
                )
            )
        );
    };
    let d = super::open_data(data).await?;
    let sender = crate::deliver::Sender::open(d.records.clone(), d.blobs.clone(), &connector).await?;
    let round = sender.round().await?;
    let c = d.records.outbox_counts().await?;
    println!(
        "{}",
        say(
            format!(
                "đã gửi {}, chờ gửi lại {}, bị từ chối {}; còn {} chờ gửi, tổng {} bị từ chối",
                round.delivered, round.deferred, round.rejected, c.pending, c.rejected
            ),
            format!(
                "delivered {}, to retry {}, refused {}; {} still pending, {} refused in all",
                round.delivered, round.deferred, round.rejected, c.pending, c.rejected
            )
        )
    );
    // Whatever is left — refused here or by a receipt, waiting in back-off or for case data — is said.
    if round.deferred + round.rejected > 0 || c.pending > 0 || c.rejected > 0 {
        eprintln!("{}", say("xem lý do: sohoa outbox --failed", "see why: sohoa outbox --failed"));
        return Ok(1);
    }
    Ok(0)
}
