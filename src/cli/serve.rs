//! `sohoa serve`, `sohoa status` and `sohoa sweep`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::lang::say;

pub(super) const LONG_ABOUT: &str = "\
Watch station inboxes and attach every scan dropped into them, until Ctrl-C or SIGTERM.

With no --profile, the built-in counter profile watches ./inbox: drop a case folder (named by its case
code, e.g. H15.50.05.13-261008-0975/) with scans in it, and each file becomes <case>.<NNN>.pdf under
<data>/cases/ within a second. Give --profile once per station to watch several inboxes.

Files are noticed three ways at once — file-system events (or polling, for network shares: set
inbox.watch = \"poll\"), and a full rescan at start-up and every inbox.rescan_seconds — and taken only
when their writer has closed them (or they stopped changing for inbox.stable_ms) and they are whole. A
file leaves the inbox only once its capture is committed. Refused files go to the quarantine folder
with a .error.json; a full disk or a locked database is waited out, with alarms in the log and in
`sohoa status`.";

#[derive(clap::Args)]
pub(super) struct Args {
    /// A station's profile (TOML); repeat for several stations. Default: the built-in counter profile.
    #[arg(long, short)]
    profile: Vec<PathBuf>,
    /// The inbox to watch, overriding the profile's (only with one profile).
    #[arg(long)]
    inbox: Option<PathBuf>,
    /// Job workers in this process; default: the profile's service.workers, else two per core.
    #[arg(long)]
    workers: Option<usize>,
    /// Where the HTTP API listens (loopback by default; `off` for none). Calls need a token from
    /// `sohoa token create`.
    #[arg(long, env = "SOHOA_LISTEN", default_value = "127.0.0.1:8765")]
    listen: String,
    /// What this process does. `all` (default): everything, as one station on one machine. For several
    /// machines sharing a PostgreSQL --database and an s3:// --store: `station` watches the inboxes and
    /// captures (a file leaves the inbox once captured, whichever worker processes it); `worker` claims
    /// and runs jobs; `api` answers HTTP only. Run as many of each as the work needs.
    #[arg(long, env = "SOHOA_ROLE", value_enum, default_value_t = RoleArg::All)]
    role: RoleArg,
    /// Keep a second copy of every stored file in step, a few seconds behind: another folder or
    /// s3://bucket/prefix (AWS_* variables as for --store). `sohoa status` and /metrics show how far
    /// behind it is; `sohoa verify --replica URL` checks it.
    #[arg(long, env = "SOHOA_REPLICA", value_name = "URL", value_parser = super::store_address)]
    replica: Option<String>,
}

/// `--role`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    All,
    Station,
    Worker,
    Api,
}

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    // Registered before anything else, so a stop request during start-up is honoured, not fatal.
    let stop = shutdown_signal()?;
    let mut profiles = Vec::new();
    if a.profile.is_empty() {
        profiles.push(crate::profile::Profile::embedded_default());
    }
    for p in &a.profile {
        profiles.push(crate::profile::Profile::load(p)?);
    }
    if let Some(inbox) = a.inbox {
        if profiles.len() != 1 {
            anyhow::bail!("--inbox goes with a single profile; set inbox.path in each profile instead");
        }
        profiles[0].settings.inbox.path = inbox;
    }
    let mut seen = std::collections::HashSet::new();
    for p in &profiles {
        if !seen.insert(p.settings.inbox.path.clone()) {
            anyhow::bail!("two profiles watch {}; give each station its own inbox", p.settings.inbox.path.display());
        }
    }
    let listen = match a.listen.as_str() {
        "off" | "" => None,
        addr => Some(addr.parse::<std::net::SocketAddr>().map_err(|e| {
            anyhow::anyhow!("--listen {addr}: {e}; write an address and port such as 127.0.0.1:8765, or off")
        })?),
    };
    let cfg = crate::serve::Config {
        profiles,
        data: data.to_path_buf(),
        database: super::database(),
        store: super::store(),
        workers: a.workers,
        listen,
        role: match a.role {
            RoleArg::All => crate::serve::Role::All,
            RoleArg::Station => crate::serve::Role::Station,
            RoleArg::Worker => crate::serve::Role::Worker,
            RoleArg::Api => crate::serve::Role::Api,
        },
        replica: a.replica,
    };
    crate::serve::run(cfg, stop).await?;
    Ok(0)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when awaited.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[derive(clap::Args)]
pub(super) struct StatusArgs {
    /// Only this station.
    #[arg(long)]
    station: Option<String>,
    /// Keep the display up to date (every second) until Ctrl-C.
    #[arg(long, short)]
    follow: bool,
    /// How many recent files to show.
    #[arg(long, default_value_t = 10)]
    last: i64,
}

pub(super) async fn status(data: &Path, a: StatusArgs) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    loop {
        let width = terminal_width();
        let mut out = String::new();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let stations = crate::watch::status::read_status(data);
        for s in stations.iter().filter(|s| a.station.as_ref().is_none_or(|w| w == &s.station)) {
            let age = now.saturating_sub(s.updated);
            let alive = if s.running {
                say(format!("dịch vụ đang chạy (pid {})", s.pid), format!("service up (pid {})", s.pid))
            } else if s.stopped {
                say(format!("DỊCH VỤ ĐÃ DỪNG ({age} giây trước)"), format!("SERVICE STOPPED ({age} s ago)"))
            } else {
                say(
                    format!("DỊCH VỤ KHÔNG CHẠY (thấy lần cuối {age} giây trước)"),
                    format!("SERVICE NOT RUNNING (last seen {age} s ago)"),
                )
            };
            let jobs = s.jobs.map(|j| j.to_string()).unwrap_or_else(|| "?".into());
            let (ocr_vi, ocr_en) = match s.ocr_waiting.filter(|n| *n > 0) {
                Some(n) => {
                    (format!(" (trong đó {n} tài liệu chờ nhận dạng chữ)"), format!(" ({n} documents waiting for OCR)"))
                }
                None => (String::new(), String::new()),
            };
            let line = say(
                format!(
                    "Trạm {} — {} ({}) — {alive} — chờ {}, việc chưa xong {jobs}{ocr_vi}",
                    s.station, s.inbox, s.mode, s.waiting
                ),
                format!(
                    "Station {} — {} ({}) — {alive} — waiting {}, jobs {jobs}{ocr_en}",
                    s.station, s.inbox, s.mode, s.waiting
                ),
            );
            out.push_str(&cut(&line, width));
            out.push('\n');
            let alarms = if crate::util::lang::current() == crate::util::lang::Lang::Vi && !s.alarms_vi.is_empty() {
                &s.alarms_vi
            } else {
                &s.alarms
            };
            for (t, m) in alarms {
                let ago = now.saturating_sub(*t);
                let line = say(format!("CẢNH BÁO {ago} giây trước: {m}"), format!("ALARM {ago} s ago: {m}"));
                for l in wrap(&line, width.saturating_sub(2)) {
                    out.push_str(&format!("  {l}\n"));
                }
            }
        }
        let recent = d.records.recent_intakes(a.station.as_deref(), a.last).await?;
        // Fixed columns, then the file name takes what the terminal leaves (at least 12), and the state
        // the rest: a line never wraps. On a narrow terminal the time is the clock alone and the
        // station column goes. A quarantine reason gets its own line under the file.
        let narrow = width < 100;
        let (time_w, station_w, case_w, pages_w) = (if narrow { 8 } else { 14 }, if narrow { 0 } else { 10 }, 24, 5);
        let fixed = 2 + time_w + 1 + if narrow { 0 } else { station_w + 1 } + 1 + case_w + 1 + pages_w + 2;
        let file_w = width.saturating_sub(fixed + if narrow { 16 } else { 24 }).clamp(12, 40);
        let state_w = width.saturating_sub(fixed + file_w).max(8);
        let station_col = |s: &str| if narrow { String::new() } else { format!("{} ", pad(s, station_w)) };
        let heads = [
            say("LÚC", "CAPTURED"),
            say("TRẠM", "STATION"),
            say("TỆP", "FILE"),
            say("HỒ SƠ", "CASE"),
            say("TRANG", "PAGES"),
            say("TÌNH TRẠNG", "STATE"),
        ];
        out.push_str(&format!(
            "  {} {}{} {} {}  {}\n",
            pad(&heads[0], time_w),
            station_col(&heads[1]),
            pad(&heads[2], file_w),
            pad(&heads[3], case_w),
            pad_left(&heads[4], pages_w),
            cut(&heads[5], state_w)
        ));
        for r in &recent {
            use crate::store::queries::CaptureFate;
            // The case is in its own column: its documents are named by their number alone.
            let prefix = r.case_code.as_deref().map(|c| format!("{c}.")).unwrap_or_default();
            let docs: Vec<&str> = r
                .documents
                .iter()
                .map(|d| d.strip_prefix(prefix.as_str()).filter(|_| !prefix.is_empty()).unwrap_or(d))
                .collect();
            let state = match r.state {
                CaptureFate::Attached => {
                    say(format!("đã gắn {}", docs.join(" ")), format!("attached {}", docs.join(" ")))
                }
                CaptureFate::Quarantined => say("BỊ CÁCH LY", "QUARANTINED"),
                CaptureFate::Unfiled => say("chưa phân loại", "unfiled"),
                CaptureFate::Processing => say("đang xử lý", "processing"),
            };
            let pages = r.pages.map(|p| p.to_string()).unwrap_or_else(|| "…".into());
            let time = short_time(&r.captured_at);
            let time = if narrow { time.get(6..).unwrap_or(&time).to_string() } else { time };
            out.push_str(&format!(
                "  {} {}{} {} {}  {}\n",
                pad(&time, time_w),
                station_col(&r.station),
                // A file in its case's folder: the case is in its own column, the file name is enough.
                pad(
                    r.case_code.as_deref().and_then(|c| r.source.strip_prefix(&format!("{c}/"))).unwrap_or(&r.source),
                    file_w
                ),
                pad(r.case_code.as_deref().unwrap_or("-"), case_w),
                pad_left(&pages, pages_w),
                cut(&state, state_w),
            ));
            if r.state == CaptureFate::Quarantined {
                // The whole reason, wrapped to the terminal under the file, never cut.
                let why = say(r.reason_vi.clone().unwrap_or_default(), r.reason.clone().unwrap_or_default());
                for line in wrap(&why, width.saturating_sub(6)) {
                    out.push_str(&format!("    ↳ {line}\n"));
                }
            }
        }
        for r in d.records.replicas().await? {
            let line = if r.updated_ms > 0 {
                let ago = (now * 1000).saturating_sub(r.updated_ms.max(0) as u64) / 1000;
                say(
                    format!("Bản sao thứ hai {}: còn {} tệp chưa sao (bước cuối {ago} giây trước)", r.target, r.behind),
                    format!(
                        "Replica {}: {} recorded file(s) not copied yet (last step {ago} s ago)",
                        r.target, r.behind
                    ),
                )
            } else {
                say(
                    format!("Bản sao thứ hai {}: còn {} tệp chưa sao (chưa chạy lần nào)", r.target, r.behind),
                    format!("Replica {}: {} recorded file(s) not copied yet (never run)", r.target, r.behind),
                )
            };
            out.push_str(&cut(&line, width));
            out.push('\n');
        }
        let o = d.records.outbox_counts().await?;
        if o.pending + o.rejected > 0 {
            let line = say(
                format!(
                    "Gửi sang hệ thống một cửa: {} chờ gửi (lâu nhất {} giây), {} bị từ chối — `sohoa outbox --failed`",
                    o.pending,
                    o.oldest_pending_ms / 1000,
                    o.rejected
                ),
                format!(
                    "Delivery to the one-stop system: {} pending (oldest {} s), {} refused — `sohoa outbox --failed`",
                    o.pending,
                    o.oldest_pending_ms / 1000,
                    o.rejected
                ),
            );
            out.push_str(&cut(&line, width));
            out.push('\n');
        }
        if a.follow {
            use std::io::IsTerminal;
            if std::io::stdout().is_terminal() {
                print!("\x1b[2J\x1b[H");
            }
        }
        print!("{out}");
        if !a.follow {
            return Ok(0);
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(0),
        }
    }
}

/// The terminal's width in columns (`COLUMNS` when set, else what the terminal says, else 120 for a
/// file or a pipe).
fn terminal_width() -> usize {
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()) {
        return n.max(60);
    }
    // SAFETY: TIOCGWINSZ writes one `winsize` into the struct we own; nothing else is touched.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let asked = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if asked == 0 && ws.ws_col > 0 { usize::from(ws.ws_col).max(60) } else { 120 }
}

/// `2026-10-08T14:30:05+07:00` as `08/10 14:30:05`: the day and time, in the offset recorded.
fn short_time(iso: &str) -> String {
    match (iso.get(5..7), iso.get(8..10), iso.get(11..19)) {
        (Some(m), Some(d), Some(t)) => format!("{d}/{m} {t}"),
        _ => iso.to_string(),
    }
}

/// `s` cut to `width` characters, the cut shown by `…` (in the middle, so a path keeps both ends).
fn fit(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    let keep = width.saturating_sub(1);
    let head = keep / 2;
    let tail = keep - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// `s` cut at its end to `width` characters, the cut shown by `…`: for words, which read from the
/// start.
fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let kept: String = s.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `s` in lines of at most `width` characters, broken between words (a word longer than a line is
/// cut into pieces).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(10);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let n = line.chars().count();
        if n > 0 && n + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `s` fitted and padded to exactly `width` characters.
fn pad(s: &str, width: usize) -> String {
    let s = fit(s, width);
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width - n))
}

/// `s` fitted and right-aligned in `width` characters.
fn pad_left(s: &str, width: usize) -> String {
    let s = fit(s, width);
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(width - n))
}

#[derive(clap::Args)]
pub(super) struct SweepArgs {
    /// Only blobs and temporaries older than this many seconds. Use 0 only when no service is running:
    /// a write in flight is a few milliseconds from being recorded.
    #[arg(long, default_value_t = 600)]
    grace: u64,
}

pub(super) async fn sweep(data: &Path, a: SweepArgs) -> anyhow::Result<u8> {
    let d = super::open_data(data).await?;
    let r = crate::store::sweep::sweep(&d.records, d.blobs.clone(), Duration::from_secs(a.grace)).await?;
    println!("removed {} orphan blob(s) and {} temporary file(s)", r.orphans, r.temporaries);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_columns_never_wrap_and_keep_both_ends_of_a_path() {
        assert_eq!(fit("H15.50.05.13-261008-0975/trang-01.jpg", 20), "H15.50.05…ang-01.jpg");
        assert_eq!(fit("đơn.jpg", 20), "đơn.jpg");
        // Counted in characters, not bytes: Vietnamese names pad like any other.
        assert_eq!(pad("hồ sơ", 7), "hồ sơ  ");
        assert_eq!(pad_left("12", 5), "   12");
        assert_eq!(short_time("2026-10-08T14:30:05+07:00"), "08/10 14:30:05");
        assert_eq!(short_time("?"), "?");
        assert_eq!(cut("QUARANTINED", 6), "QUARA…");
        assert_eq!(wrap("một hai ba bốn năm", 10), ["một hai ba", "bốn năm"]);
        assert_eq!(wrap("abcdefghijklmnop", 10), ["abcdefghij", "klmnop"]);
    }
}
