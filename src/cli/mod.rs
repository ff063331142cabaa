//! The command line: argument parsing, logging set-up, and one module per command.

mod case;
mod doc;
mod export;
mod ingest;
mod outbox;
mod procedure;
mod profile;
mod quarantine;
mod report;
mod search;
mod separator;
mod serve;
mod token;
mod unfiled;
mod unit;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const ABOUT: &str = "Turns scanned paper into verified digital case files.";

const LONG_ABOUT: &str = "\
Turns scanned paper into verified digital case files.

Every input is first captured: hashed (SHA-256) into a content-addressed store and recorded in the case
database in one transaction. Only then is it split into pages, routed to its case, bundled into PDF and
attached. Bad inputs are quarantined with a reason; transient failures (disk full, database busy) are
retried, never quarantined.

Quick start:
  sohoa serve                         watch ./inbox; drop a folder named by its case code into it
  sohoa status --follow               what each station just scanned
  sohoa ingest scans/                 one pass over a folder (archive runs)
  sohoa case list                     what is attached
  sohoa case show H15.50.05.13-261008-0975
  sohoa verify                        re-hash every stored file

Data lives in ./sohoa-data (database, blobs, and the folder views cases/ and quarantine/) unless
--data or SOHOA_DATA says otherwise.";

#[derive(Parser)]
#[command(name = "sohoa", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    /// Data directory: case database, blob store and folder views.
    #[arg(long, env = "SOHOA_DATA", default_value = "sohoa-data", global = true)]
    data: PathBuf,
    /// Where the case records live: a PostgreSQL URL (postgres://user@host:5432/db) shared by several
    /// workers, or a SQLite file. Default: sohoa.db inside the data directory.
    #[arg(long, env = "SOHOA_DATABASE", global = true, value_name = "URL")]
    database: Option<String>,
    /// Where stored files (originals and PDFs) live: s3://bucket/prefix for an S3-compatible bucket
    /// shared by several machines (endpoint, region and keys from AWS_ENDPOINT_URL, AWS_REGION,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), or a folder. Default: blobs/ inside the data directory.
    #[arg(long, env = "SOHOA_STORE", global = true, value_name = "URL", value_parser = store_address)]
    store: Option<String>,
    /// Who is acting, for the audit log (default: the login name).
    #[arg(long, env = "SOHOA_ACTOR", global = true)]
    actor: Option<String>,
    /// The language of messages, lists and errors: vi (Tiếng Việt, the default) or en. JSON output,
    /// stable codes and log fields are the same in both.
    #[arg(long, env = "SOHOA_LANG", global = true, default_value = "vi", value_name = "vi|en", value_parser = lang_word)]
    lang: crate::util::lang::Lang,
    /// More log detail (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only warnings and errors in the log.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// `sohoa views …`.
#[derive(Subcommand)]
enum ViewsCommand {
    /// Write back every case-folder copy that is missing or differs from the recorded PDF.
    Repair,
}

#[derive(Subcommand)]
enum Command {
    /// Watch station inboxes and attach every scan dropped into them (the main job).
    #[command(long_about = serve::LONG_ABOUT)]
    Serve(serve::Args),
    /// What each station just scanned: case, pages, state, queue and alarms.
    Status(serve::StatusArgs),
    /// Capture every scan under a folder, then split, route, bundle and attach; exits 1 if anything
    /// was quarantined.
    #[command(long_about = ingest::LONG_ABOUT)]
    Ingest(ingest::Args),
    /// Cases: `case list`, `case show CODE`, `case import FILE` (the one-stop system's export),
    /// `case set CODE --status resolved …`.
    #[command(subcommand)]
    Case(case::Command),
    /// A clerk's corrections to one document, each a new version (the earlier ones kept): `doc show
    /// CODE NNN`, `doc turn CODE NNN PAGE 90`, `doc order CODE NNN 3,1,2`, `doc remove`, `doc restore`,
    /// `doc as-scanned`, `doc split CODE NNN AT`, `doc merge CODE NNN MMM`, `doc move … --to CODE`,
    /// `doc retype`, `doc versions`, `doc get`.
    #[command(subcommand)]
    Doc(doc::Command),
    /// The procedure catalogue: `procedure import FILE`, `procedure list`, `procedure set`, `procedure remove`.
    #[command(subcommand)]
    Procedure(procedure::Command),
    /// Unit names for the report: `unit import units.csv`, `unit set CODE --name N`, `unit list`.
    #[command(subcommand)]
    Unit(unit::Command),
    /// The digitization figures of Decision 766 for a period, per unit and procedure, with the cases
    /// behind every shortfall. Exits 0.
    #[command(long_about = report::LONG_ABOUT)]
    Report(report::Args),
    /// Re-hash every stored file and compare with the records: changed, missing, unexpected.
    /// Exits 1 on any problem.
    Verify(verify::Args),
    /// Bring a second copy (another folder, or s3://bucket/prefix) up to the records: every missing file
    /// copied and re-hashed on the way. Safe to repeat or interrupt. Check it with `verify --replica`.
    Replicate(verify::ReplicateArgs),
    /// Write a case as a self-describing package: PDFs, originals, manifest-sha256.txt, metadata
    /// (JSON and XML). `sohoa verify --package DIR` checks one.
    Export(export::Args),
    /// Work with pipeline profiles: `profile check FILE…`.
    #[command(subcommand)]
    Profile(profile::Command),
    /// Remove blobs a crash left unrecorded, and temporaries of interrupted writes.
    Sweep(serve::SweepArgs),
    /// The case folders (copies of the attached PDFs for file-manager users): `views repair` writes
    /// back every copy that is missing or no longer the recorded PDF (`sohoa verify` finds them).
    #[command(subcommand)]
    Views(ViewsCommand),
    /// Bearer tokens for the HTTP API: `token create --role clerk [--unit U]`, `token list`, `token revoke ID`.
    #[command(subcommand)]
    Token(token::Command),
    /// Refused inputs: `quarantine list`, `quarantine retry ID [--case CODE]`, `quarantine discard ID
    /// --reason WHY`.
    #[command(subcommand)]
    Quarantine(quarantine::Command),
    /// Separator sheets for archive stacks: `separator print CODE… --out sheets.pdf`.
    #[command(subcommand)]
    Separator(separator::Command),
    /// Scans no manifest, folder or file name tied to a case: `unfiled list`, `unfiled file ID --case
    /// CODE [--role result] [--type T]`.
    #[command(subcommand)]
    Unfiled(unfiled::Command),
    /// Delivery to the one-stop system: `outbox [--failed]` lists what is owed, delivered and refused
    /// (with the remote's reason), `outbox retry ID` sends a refused entry again, `outbox send --profile
    /// FILE` delivers what is due now.
    Outbox(outbox::Args),
    /// Find pages by their recognised text, tone marks optional: `search "quyen su dung dat" [--unit U]
    /// [--from D --to D]`.
    #[command(long_about = search::LONG_ABOUT)]
    Search(search::Args),
}

/// Runs the command line and returns the process exit code: 0 all well, 1 the work found problems
/// (quarantined inputs, fixity failures, invalid profiles), 2 the command could not run.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::util::lang::set(cli.lang);
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_broken_pipe();
    }
    let _ = DATABASE.set(cli.database.clone());
    let _ = STORE.set(cli.store.clone());
    let _ = ACTOR.set(cli.actor.clone().unwrap_or_else(login_name));
    // On a terminal, a one-shot ingest shows a progress bar; per-file lines stay behind -v.
    use std::io::IsTerminal;
    // The clerk's own commands print what they did in the reader's language; the log's English lines
    // (what `serve` and `ingest` say file by file) are behind -v there.
    let clerks = matches!(
        cli.command,
        Command::Quarantine(_)
            | Command::Unfiled(_)
            | Command::Case(_)
            | Command::Doc(_)
            | Command::Outbox(_)
            | Command::Search(_)
    );
    let quiet = cli.quiet || clerks || (matches!(cli.command, Command::Ingest(_)) && std::io::stderr().is_terminal());
    init_logging(cli.verbose, quiet && cli.verbose == 0);
    // CPU and file work runs on blocking threads; a few per core keep the cores busy, and a bounded
    // number keeps memory flat (each thread's allocator arena holds on to the pages it has decoded).
    let cores = crate::util::cpu::cores();
    // The runtime and database threads share a core; CPU work spreads (see `util::cpu`).
    crate::util::cpu::confine_coordination();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores * 2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Serve(a) => serve::run(&cli.data, a).await,
            Command::Status(a) => serve::status(&cli.data, a).await,
            Command::Sweep(a) => serve::sweep(&cli.data, a).await,
            Command::Views(ViewsCommand::Repair) => verify::repair_views(&cli.data).await,
            Command::Ingest(a) => ingest::run(&cli.data, a).await,
            Command::Export(a) => export::run(&cli.data, a).await,
            Command::Case(c) => case::run(&cli.data, c).await,
            Command::Doc(c) => doc::run(&cli.data, c).await,
            Command::Procedure(c) => procedure::run(&cli.data, c).await,
            Command::Unit(c) => unit::run(&cli.data, c).await,
            Command::Report(a) => report::run(&cli.data, a).await,
            Command::Verify(a) => verify::run(&cli.data, a).await,
            Command::Replicate(a) => verify::replicate(&cli.data, a).await,
            Command::Profile(c) => profile::run(c),
            Command::Token(c) => token::run(&cli.data, c).await,
            Command::Quarantine(c) => quarantine::run(&cli.data, c).await,
            Command::Separator(c) => separator::run(c),
            Command::Unfiled(c) => unfiled::run(&cli.data, c).await,
            Command::Outbox(a) => outbox::run(&cli.data, a).await,
            Command::Search(a) => search::run(&cli.data, a).await,
        }
    });
    // A blocking task stuck on a share that stopped answering must not keep the process alive after
    // its work is committed (every step is recorded; the next start resumes it).
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}: {e:#}", crate::util::lang::say("lỗi", "error"));
            ExitCode::from(2)
        }
    }
}

/// A case code that is none, said in the reader's language (naming the code and every fault).
fn said_code_problem(e: crate::route::CodeProblem) -> anyhow::Error {
    anyhow::anyhow!("{}", crate::util::lang::say(e.vi(), e.to_string()))
}

/// `--lang`: the two languages and their usual spellings.
fn lang_word(word: &str) -> Result<crate::util::lang::Lang, String> {
    crate::util::lang::Lang::parse(word).ok_or_else(|| format!("`{word}`: say vi (Tiếng Việt) or en (English)"))
}

fn init_logging(verbose: u8, quiet: bool) {
    // lopdf's own complaints about a damaged PDF name no file; the quarantine line that follows does.
    let default = match (quiet, verbose) {
        (true, _) => "lopdf=off,warn",
        (false, 0) => "sohoa=info,lopdf=off,warn",
        (false, 1) => "sohoa=debug,lopdf=off,info",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    // Vietnam's local time with its offset (2026-10-08T14:30:05.123+07:00), as `status` and the page
    // show times: one clock for a station officer reading both.
    let timer = tracing_subscriber::fmt::time::OffsetTime::new(
        crate::util::time::VIETNAM,
        ::time::format_description::well_known::Rfc3339,
    );
    let _ = tracing_subscriber::fmt()
        .with_timer(timer)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Loads `--profile FILE`, or the built-in counter profile.
fn load_profile(path: Option<&std::path::Path>) -> anyhow::Result<crate::profile::Profile> {
    match path {
        Some(p) => crate::profile::Profile::load(p),
        None => Ok(crate::profile::Profile::embedded_default()),
    }
}

/// A one-shot command whose output is piped into `head` or a pager that quits stops quietly, as
/// other command-line tools do, instead of failing on its next line of output. (Not for `serve`, whose
/// sockets must see a broken pipe as an error, not a signal.)
fn quiet_broken_pipe() {
    // SAFETY: restores the default disposition of one signal before any thread is started; no
    // handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `--database`, once parsed.
static DATABASE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
/// `--store`, once parsed.
static STORE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
/// `--actor`, or the login name.
static ACTOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `--database`, when given.
fn database() -> Option<String> {
    DATABASE.get().cloned().flatten()
}

/// Checks a `--store` address as it is read: an `s3://` address must name a bucket.
pub(super) fn store_address(s: &str) -> Result<String, String> {
    if s.to_ascii_lowercase().starts_with("s3://") && !s.starts_with("s3://") {
        return Err(format!("`{s}`: write the scheme in lower case, s3://"));
    }
    if s.starts_with("s3://") && crate::store::s3::BucketUrl::parse(s).is_none() {
        return Err(format!("`{s}` names no bucket: write s3://bucket or s3://bucket/prefix"));
    }
    Ok(s.to_string())
}

/// `--store`, when given.
fn store() -> Option<String> {
    STORE.get().cloned().flatten().filter(|s| !s.is_empty())
}

/// Who is acting, for audit events.
fn actor() -> String {
    ACTOR.get().cloned().unwrap_or_else(login_name)
}

/// The person at the keyboard: `$USER` / `$LOGNAME`, else the account the process runs as (a service
/// or container often sets neither variable), else the numeric user id.
fn login_name() -> String {
    let name = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    if !name.trim().is_empty() {
        return crate::util::text::nfc(name.trim());
    }
    account_name().unwrap_or_else(|| format!("uid {}", process_uid()))
}

/// The process's user id.
fn process_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// The account name of the process's user, from the password database.
fn account_name() -> Option<String> {
    let uid = process_uid();
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is to live, correctly sized storage; the result is read only when
    // getpwuid_r reports success and a record.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut found) };
    if rc != 0 || found.is_null() || pw.pw_name.is_null() {
        return None;
    }
    // SAFETY: pw_name points into `buf`, NUL-terminated by getpwuid_r.
    let name = unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }.to_string_lossy().trim().to_string();
    (!name.is_empty()).then(|| crate::util::text::nfc(&name))
}

/// Now, as events record it.
fn now() -> String {
    crate::util::time::now_iso(crate::util::time::VIETNAM)
}

/// Opens an existing data folder, for the commands that read or change records already there: run
/// in the wrong folder, they say where they looked instead of creating an empty one.
async fn open_data(data: &std::path::Path) -> anyhow::Result<crate::store::DataDir> {
    let embedded = database().is_none_or(|d| d.is_empty());
    if embedded && !data.join("sohoa.db").exists() {
        let db = data.join("sohoa.db");
        anyhow::bail!(
            "{}",
            crate::util::lang::say(
                format!(
                    "ở đây không có dữ liệu: không có {}. Hãy chạy lệnh trong thư mục đã chạy `sohoa serve` hoặc \
                     `sohoa ingest` (thư mục chứa sohoa-data), hoặc chỉ thư mục dữ liệu bằng --data ĐƯỜNG_DẪN (hoặc \
                     cơ sở dữ liệu bằng --database URL)",
                    db.display()
                ),
                format!(
                    "there are no records here: {} does not exist. Run the command in the folder where `sohoa serve` or \
                     `sohoa ingest` ran (it holds sohoa-data), or name the data folder with --data PATH (or the \
                     database with --database URL)",
                    db.display()
                ),
            )
        );
    }
    create_data(data).await
}

/// Opens the data folder, creating it when there is none (`serve`, `ingest` and the imports that set
/// a station up), waiting out a locked database or a full disk rather than failing.
async fn create_data(data: &std::path::Path) -> anyhow::Result<crate::store::DataDir> {
    let embedded = database().is_none_or(|d| d.is_empty());
    if embedded && !data.join("sohoa.db").exists() {
        eprintln!(
            "{}",
            crate::util::lang::say(
                format!("tạo thư mục dữ liệu mới tại {}", data.display()),
                format!("creating a new data folder at {}", data.display())
            )
        );
    }
    let (db, store) = (database(), store());
    // The store is asked once: a bucket that is not there or a key it refuses will not mend in 8 s.
    let blobs = {
        let (data, store) = (data.to_path_buf(), store.clone());
        tokio::task::spawn_blocking(move || crate::store::open_blobs(&data, store.as_deref())).await?
    }
    .map_err(|e| match &store {
        Some(s) => anyhow::anyhow!("cannot use the store at {s}: {e}"),
        None => anyhow::anyhow!("cannot open the blob store in {}: {e}", data.display()),
    })?;
    let last = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let database_url = db.as_deref();
    let opening = crate::util::retry::until_done("opening the data folder", || {
        let (blobs, last) = (blobs.clone(), last.clone());
        async move {
            let r = crate::store::DataDir::open_records(data, database_url, blobs).await;
            if let (Err(e), Ok(mut l)) = (&r, last.lock()) {
                *l = e.to_string();
            }
            r
        }
    });
    // A one-shot command says what is wrong and stops; only `serve` waits a database out.
    match tokio::time::timeout(ONE_SHOT_WAIT, opening).await {
        Ok(r) => Ok(r?),
        Err(_) => {
            let shown = match db.as_deref().filter(|d| !d.is_empty()) {
                Some(url) => crate::store::db::Location::parse(url).display(),
                None => data.join("sohoa.db").display().to_string(),
            };
            let last = last.lock().map(|l| l.clone()).unwrap_or_default();
            anyhow::bail!(
                "cannot open the records at {shown}: no answer within {} s{}. Check that the database server runs \
                 and that --database (or SOHOA_DATABASE) names it, user and database included; for the embedded \
                 database, that no other program holds it locked",
                ONE_SHOT_WAIT.as_secs(),
                if last.is_empty() { String::new() } else { format!(" (the last answer: {last})") }
            )
        }
    }
}

/// How long a one-shot command waits for its records before it gives up (exit 2).
const ONE_SHOT_WAIT: std::time::Duration = std::time::Duration::from_secs(8);
