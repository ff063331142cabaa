//! `sohoa serve`, `sohoa status` and `sohoa sweep`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let mut out = String::new();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let stations = crate::watch::status::read_status(data);
        for s in stations.iter().filter(|s| a.station.as_ref().is_none_or(|w| w == &s.station)) {
            let age = now.saturating_sub(s.updated);
            let alive = if s.running {
                format!("service up (pid {})", s.pid)
            } else if s.stopped {
                format!("SERVICE STOPPED ({age} s ago)")
            } else {
                format!("SERVICE NOT RUNNING (last seen {age} s ago)")
            };
            out.push_str(&format!(
                "Station {} — {} ({}) — {alive} — waiting {}, jobs {}\n",
                s.station,
                s.inbox,
                s.mode,
                s.waiting,
                s.jobs.map(|j| j.to_string()).unwrap_or_else(|| "?".into())
            ));
            for (t, m) in &s.alarms {
                out.push_str(&format!("  ALARM {} s ago: {m}\n", now.saturating_sub(*t)));
            }
        }
        let recent = d.records.recent_intakes(a.station.as_deref(), a.last).await?;
        out.push_str(&format!(
            "  {:<25} {:<10} {:<40} {:<26} {:>5}  STATE\n",
            "CAPTURED", "STATION", "FILE", "CASE", "PAGES"
        ));
        for r in &recent {
            use crate::store::queries::CaptureFate;
            let state = match r.state {
                CaptureFate::Attached => format!("attached {}", r.documents.join(" ")),
                CaptureFate::Quarantined => format!(
                    "QUARANTINED: {} — {}",
                    r.reason.as_deref().unwrap_or(""),
                    r.reason_vi.as_deref().unwrap_or("")
                ),
                other => other.to_string(),
            };
            out.push_str(&format!(
                "  {:<25} {:<10} {:<40} {:<26} {:>5}  {state}\n",
                r.captured_at,
                r.station,
                r.source,
                r.case_code.as_deref().unwrap_or("-"),
                r.pages.map(|p| p.to_string()).unwrap_or_else(|| "…".into()),
            ));
        }
        for r in d.records.replicas().await? {
            let when = if r.updated_ms > 0 {
                format!("{} s ago", (now * 1000).saturating_sub(r.updated_ms.max(0) as u64) / 1000)
            } else {
                "never".to_string()
            };
            out.push_str(&format!(
                "Replica {}: {} recorded file(s) not copied yet (last step {when}) — bản sao thứ hai: còn {} tệp chưa sao\n",
                r.target, r.behind, r.behind
            ));
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
