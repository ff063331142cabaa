//! `sohoa ingest DIR`: one pass over a folder, from capture to attached PDFs.

use crate::util::lang::say;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::intake::{Candidate, Capturer, Entry, Walk};
use crate::pipeline::Pipeline;
use crate::report::run::{Problem, RunReport};
use crate::store::records::{CaptureOutcome, IntakeState};

pub(super) const LONG_ABOUT: &str = "\
Capture every scan under DIR, then split, route, bundle and attach it.

Each file (JPEG, PNG, TIFF, PDF; recognised by content) is hashed into the blob store and recorded
before anything else; re-running on the same folder attaches nothing twice. A page's case comes from a
sidecar manifest (<scan>.json or manifest.json), else the folder's name when it is a case code, else the
profile's file-name pattern, else it is kept as unfiled.

Results: PDFs named <case>.<NNN>.pdf under <data>/cases/, refused inputs under <data>/quarantine/ with a
.error.json saying why. Exit status: 0 all attached or unfiled, 1 something was quarantined or a
separator sheet could not be read (its pages wait unfiled), 2 the run could not complete.";

#[derive(clap::Args)]
pub(super) struct Args {
    /// Folder to ingest, recursively, in natural name order.
    dir: PathBuf,
    /// Pipeline profile (TOML); the built-in counter profile when omitted.
    #[arg(long, short)]
    profile: Option<PathBuf>,
    /// Station id recorded with each capture (overrides the profile).
    #[arg(long, env = "SOHOA_STATION")]
    station: Option<String>,
    /// Operator recorded with each capture (a manifest may name another).
    #[arg(long, env = "SOHOA_OPERATOR")]
    operator: Option<String>,
    /// Worker count; default: two per core (a job waits on the disk and the database part of its time).
    #[arg(long)]
    jobs: Option<usize>,
    /// Print the end report as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the end report to this file: JSON, or CSV when the name ends in .csv.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The order files are taken in (it is the order of a stack's pages): by name, naturally (`2`
    /// before `10`), or by the time the scanner wrote them (which lists the whole run before its first
    /// capture).
    #[arg(long, value_enum, default_value = "name")]
    order: Order,
    /// How progress is shown: a bar on a terminal (auto: only when stderr is one), JSON lines on
    /// stdout for tools, or none.
    #[arg(long, value_enum, default_value = "auto")]
    progress: Progress,
}

/// The order of a run's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Order {
    /// Natural order of the relative paths.
    Name,
    /// Modification time, then name.
    Time,
}

/// How `ingest` shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Progress {
    /// A bar when stderr is a terminal, nothing otherwise.
    Auto,
    /// JSON lines on stdout, about three a second: files, pages, rate, ETA, dossier, counts.
    Json,
    /// Nothing.
    None,
}

/// A capture batch closes at this many files or bytes: one fsync round and one transaction each.
const BATCH_FILES: usize = 32;
const BATCH_BYTES: u64 = 64 << 20;

pub(super) async fn run(data: &Path, a: Args) -> anyhow::Result<u8> {
    let profile = super::load_profile(a.profile.as_deref())?;
    if !a.dir.is_dir() {
        anyhow::bail!("{} is not a folder; give the folder that holds the scans", a.dir.display());
    }
    let d = super::create_data(data).await?;
    let started = std::time::Instant::now();
    let recovered = crate::util::retry::until_done("resuming jobs", || d.records.recover_running_jobs()).await?;
    if recovered > 0 {
        tracing::warn!(jobs = recovered, "resuming jobs an interrupted run left unfinished");
    }
    let quarantine_view = data.join(profile.settings.quarantine.path.clone().unwrap_or_else(|| "quarantine".into()));
    let (expected, candidates) = listing(&a, &profile.settings.inbox.ignore, &[data, &quarantine_view])?;
    tracing::info!(files = expected, dir = %a.dir.display(), profile = profile.name(), "ingest started");

    let pipeline = Pipeline::new(d.records.clone(), d.blobs.clone(), d.root.clone());
    if let Err(e) = pipeline.repair_views(profile.settings.output.case_folder_view, None).await {
        tracing::warn!(error = %e, "could not check the folder views; they will be checked at the next start");
    }
    let workers = a.jobs.unwrap_or_else(|| 2 * crate::util::cpu::cores());
    let more = Arc::new(AtomicBool::new(true));
    let drain = {
        let (p, m) = (pipeline.clone(), more.clone());
        tokio::spawn(async move { p.drain(workers, m).await })
    };
    // Ctrl-C, SIGTERM, a closed terminal: the jobs in hand go back as they are (an interruption is not
    // a crash: it never counts towards a poison job), and the same command continues where this one
    // stopped.
    {
        use tokio::signal::unix::{SignalKind, signal};
        let p = pipeline.clone();
        let mut signals = Vec::new();
        for kind in [SignalKind::interrupt(), SignalKind::terminate(), SignalKind::hangup()] {
            signals.push(signal(kind)?);
        }
        tokio::spawn(async move {
            let any = futures_util::future::select_all(signals.iter_mut().map(|s| Box::pin(s.recv())));
            any.await;
            p.release_in_hand().await;
            eprintln!("\ninterrupted: what was captured is kept; run the same command again to continue");
            std::process::exit(130);
        });
    }
    let (bars, bar, processed_bar) = progress_bars(expected as u64, a.progress == Progress::Auto);
    let files_done = Arc::new(AtomicUsize::new(0));
    let ticker = Ticker {
        records: d.records.clone(),
        bar: processed_bar.clone(),
        files_done: files_done.clone(),
        expected,
        json: a.progress == Progress::Json,
        started,
    };
    let ticker = tokio::spawn(ticker.run());
    let capture = CaptureWalk {
        capturer: Capturer::new(
            d.blobs.clone(),
            d.records.clone(),
            profile.clone(),
            a.station.clone(),
            a.operator.clone(),
        )?,
        bar: bar.clone(),
        files_done,
    };
    let mut walked = capture.run(candidates).await?;
    more.store(false, Ordering::SeqCst);
    bar.finish();
    drain.await??;
    // The pass is over: documents grouped by folder are complete.
    let now = crate::util::time::now_iso(::time::UtcOffset::UTC);
    let closed = crate::util::retry::until_done("closing documents", || d.records.close_open_documents(&now)).await?;
    if closed > 0 {
        pipeline.drain(workers, Arc::new(AtomicBool::new(false))).await?;
    }
    ticker.abort();
    processed_bar.finish_and_clear();
    bar.finish_and_clear();
    bars.clear().ok();

    let report = run_report(&d.records, &mut walked, started).await?;
    show_report(&a, &report)?;
    if let Some(e) = walked.walk_error.take() {
        anyhow::bail!(
            "cannot read a folder under {}: {e}; the files found before it were captured, those after it are \
             still in the inbox: run ingest again once it can be read",
            a.dir.display()
        );
    }
    // An unreadable sheet leaves pages unfiled that belong to a dossier: as much a clerk's task as a
    // quarantined file, so the run says so in its status too.
    Ok(u8::from(!report.quarantined.is_empty() || !report.unrecognised.is_empty()))
}

/// The files of a run, in the order they are captured: how many (for the progress bar) and the
/// iterator that yields them. The folder is walked twice — once to count (and to find a folder that
/// cannot be read before anything is captured), then again as files are captured — so that a run
/// holds the listings of the folders on its current path, not the list of the whole run; except in
/// time order, which needs every file's time before the first capture.
type Files = Box<dyn Iterator<Item = std::io::Result<Candidate>> + Send>;

fn listing(a: &Args, ignore: &[String], pruned: &[&Path]) -> anyhow::Result<(usize, Files)> {
    let cannot_read = |e: std::io::Error| anyhow::anyhow!("cannot read {}: {e}", a.dir.display());
    let walk = || -> anyhow::Result<Files> {
        let mut walk = Walk::new(&a.dir, ignore, None).map_err(cannot_read)?;
        for p in pruned {
            walk = walk.pruning(p);
        }
        let files = walk.filter_map(|e| match e {
            Ok(Entry::File(c)) => Some(Ok(c)),
            Ok(Entry::Marker(_)) => None,
            Err(e) => Some(Err(e)),
        });
        Ok(Box::new(files))
    };
    if a.order == Order::Time {
        // A stable sort: files written in the same instant keep their natural order.
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut keyed = Vec::new();
        for c in walk()? {
            let c = c.map_err(cannot_read)?;
            keyed.push((mtime(&c.path), c));
        }
        keyed.sort_by_key(|k| k.0);
        return Ok((keyed.len(), Box::new(keyed.into_iter().map(|(_, c)| Ok(c)))));
    }
    let mut n = 0usize;
    for c in walk()? {
        c.map_err(cannot_read)?;
        n += 1;
    }
    Ok((n, walk()?))
}

/// Shows how the run is going, about three times a second: two bars — files captured, and pages
/// done (attached or left unfiled) out of the pages the run is expected to hold — with an ETA from the
/// rate pages get done, the slower half: the run is not "done" while its pages still wait to be
/// normalized and bundled. Or a JSON line on stdout for tools.
struct Ticker {
    /// Where the counts are read.
    records: crate::store::Records,
    /// Pages done.
    bar: indicatif::ProgressBar,
    /// Files captured (or found captured already) so far.
    files_done: Arc<AtomicUsize>,
    /// Files the listing found.
    expected: usize,
    /// JSON lines instead of the bar's message.
    json: bool,
    /// When the run began, for the rate and the ETA.
    started: std::time::Instant,
}

/// The counts a run's progress is read from, relative to where the records stood when it began.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Counts {
    /// Files the listing found.
    expected: usize,
    /// Files captured (or found captured already).
    captured: usize,
    /// Captured files not split into pages yet.
    waiting: i64,
    /// Pages recorded by this run.
    pages: i64,
    /// Of those, pages done: decoded for their PDF (or attached whole, as a born-digital PDF's), or
    /// left unfiled.
    done: i64,
}

/// Where a run stands, in the two kinds of work a run does after capture: files split into pages
/// (where an archive profile looks for separator sheets) and pages done.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    /// Files split (or found captured already, or refused).
    split: u64,
    /// Files the listing found.
    files: u64,
    /// Pages done.
    pages_done: u64,
    /// Pages the run is expected to hold: those recorded, and for files not split yet as many as the
    /// files split so far held on average (at least one each).
    pages: u64,
    /// Seconds left at the rate work got done since `first` (`None` until there is a rate, and once
    /// all is done).
    eta: Option<f64>,
}

impl Standing {
    /// Work done and to do: files split plus pages done, out of files plus pages.
    fn units(&self) -> (u64, u64) {
        (self.split + self.pages_done, self.files + self.pages)
    }
}

/// Where a run stands at `secs`; `first` is the time and work done when work first got done, so the
/// rate leaves out the capture before it.
fn standing(c: Counts, secs: f64, first: Option<(f64, u64)>) -> Standing {
    let waiting = usize::try_from(c.waiting.max(0)).unwrap_or(usize::MAX);
    let split = c.captured.saturating_sub(waiting);
    let recorded = c.pages.max(0) as f64;
    let per_file = if split > 0 { (recorded / split as f64).max(1.0) } else { 1.0 };
    let unsplit = c.expected.saturating_sub(c.captured) + waiting;
    let pages = (recorded + unsplit as f64 * per_file).round() as u64;
    let mut s = Standing {
        split: split as u64,
        files: c.expected as u64,
        pages_done: (c.done.max(0) as u64).min(pages),
        pages,
        eta: None,
    };
    let (done, total) = s.units();
    let rate = match first {
        Some((t0, d0)) if secs - t0 >= 2.0 && done > d0 => (done - d0) as f64 / (secs - t0),
        _ => done as f64 / secs.max(0.001),
    };
    s.eta = (done > 0 && done < total && rate > 0.0).then(|| (total - done) as f64 / rate);
    s
}

/// Seconds as a clerk reads a wait: `45s`, `3m 20s`, `1h 05m`.
fn duration_words(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s / 60 % 60),
    }
}

impl Ticker {
    async fn run(self) {
        // The records may hold earlier runs: this run's pages are those beyond the counts at its start.
        let base = self.records.tally().await.unwrap_or_default();
        // Pages this process has decoded for their PDF: the work of a document of many pages shows page
        // by page, long before the document is attached whole.
        let decoded = || {
            crate::util::metrics::totals()
                .into_iter()
                .find(|(stage, _, _)| *stage == crate::util::metrics::Stage::Decode)
                .map_or(0, |(_, n, _)| i64::try_from(n).unwrap_or(i64::MAX))
        };
        let base_decoded = decoded();
        let mut first: Option<(f64, u64)> = None;
        loop {
            if let Ok(t) = self.records.tally().await {
                let dossier = self.records.latest_case().await.ok().flatten().unwrap_or_default();
                let files = self.files_done.load(Ordering::Relaxed);
                let secs = self.started.elapsed().as_secs_f64();
                let counts = Counts {
                    expected: self.expected,
                    captured: files,
                    waiting: t.intakes_waiting,
                    pages: t.pages_total - base.pages_total,
                    done: (decoded() - base_decoded).max(t.pages_attached - base.pages_attached)
                        + (t.pages_unfiled - base.pages_unfiled),
                };
                let st = standing(counts, secs, first);
                let (done, total) = st.units();
                if first.is_none() && done > 0 {
                    first = Some((secs, done));
                }
                self.bar.set_length(total.max(done).max(1));
                self.bar.set_position(done);
                let left = match st.eta {
                    Some(e) => say(format!("còn khoảng {}", duration_words(e)), format!("ETA {}", duration_words(e))),
                    None if done >= total && t.jobs_pending > 0 => say("đang ghi PDF", "writing the PDFs"),
                    None if done < total => say("còn: đang ước tính", "ETA: estimating"),
                    None => String::new(),
                };
                let (split, files, pd, pages) = (st.split, st.files, st.pages_done, st.pages);
                self.bar.set_message(say(
                    format!(
                        "{split}/{files} tệp đã tách, {pd}/{pages} trang · {left} · {dossier} {} tài liệu, {} cách ly",
                        t.documents, t.quarantined
                    ),
                    format!(
                        "{split}/{files} files split, {pd}/{pages} pages · {left} · {dossier} {} documents, {} quarantined",
                        t.documents, t.quarantined
                    ),
                ));
                if self.json {
                    let rate = files as f64 / secs.max(0.001);
                    let line = serde_json::json!({
                        "event": "progress", "files": files, "total": self.expected, "files_split": st.split,
                        "pages_done": st.pages_done, "pages_expected": st.pages, "seconds": secs,
                        "files_per_second": rate, "eta_seconds": st.eta,
                        "dossier": dossier, "documents": t.documents, "pages_attached": t.pages_attached,
                        "pages_unfiled": t.pages_unfiled, "quarantined": t.quarantined, "jobs_waiting": t.jobs_pending,
                    });
                    println!("{line}");
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
}

/// The capture half of a run: walks the listing on the blocking pool, a bounded channel ahead of
/// capture — a folder slow to list (a share) never stalls the workers' runtime, and no more than two
/// batches wait in memory — and captures in batches of [`BATCH_FILES`] files or [`BATCH_BYTES`].
struct CaptureWalk {
    /// Captures a batch in one transaction.
    capturer: Capturer,
    /// Its position is the files done.
    bar: indicatif::ProgressBar,
    /// The same count, for the ticker.
    files_done: Arc<AtomicUsize>,
}

/// What the capture half of a run did.
#[derive(Default)]
struct Walked {
    total: usize,
    captured: usize,
    duplicates: usize,
    vanished: usize,
    /// This run's inputs, for the end report.
    ids: RunInputs,
    /// A folder that could not be listed once capture had begun (its rights changed, say) ended the
    /// walk: what was found before it is captured and filed, the report is written, and the run fails.
    walk_error: Option<std::io::Error>,
}

impl CaptureWalk {
    async fn run(self, candidates: Files) -> anyhow::Result<Walked> {
        let (found, mut listed) = tokio::sync::mpsc::channel::<std::io::Result<(Candidate, u64)>>(2 * BATCH_FILES);
        let walker = tokio::task::spawn_blocking(move || {
            for c in candidates {
                let item = c.map(|c| {
                    let bytes = std::fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0);
                    (c, bytes)
                });
                let failed = item.is_err();
                if found.blocking_send(item).is_err() || failed {
                    break;
                }
            }
        });
        let mut w = Walked::default();
        let mut batch = Vec::new();
        let mut batch_bytes = 0u64;
        let mut next = listed.recv().await;
        while let Some(item) = next {
            let (c, bytes) = match item {
                Ok(found) => found,
                Err(e) => {
                    w.walk_error = Some(e);
                    break;
                }
            };
            w.total += 1;
            batch_bytes += bytes;
            batch.push(c);
            next = listed.recv().await;
            let last = !matches!(next, Some(Ok(_)));
            if batch.len() >= BATCH_FILES || batch_bytes >= BATCH_BYTES || last {
                self.capture(&batch, &mut w).await?;
                batch.clear();
                batch_bytes = 0;
            }
        }
        drop(listed);
        walker.await?;
        Ok(w)
    }

    async fn capture(&self, batch: &[Candidate], w: &mut Walked) -> anyhow::Result<()> {
        for r in self.capturer.capture(batch).await? {
            match r.outcome {
                Some(CaptureOutcome::Captured { intake_id, .. }) => {
                    w.captured += 1;
                    w.ids.push(intake_id);
                }
                Some(CaptureOutcome::Duplicate { intake_id, .. }) => {
                    w.duplicates += 1;
                    w.ids.push(intake_id);
                }
                None => w.vanished += 1,
            }
        }
        let done = w.captured + w.duplicates + w.vanished;
        self.bar.set_position(done as u64);
        self.files_done.store(done, Ordering::Relaxed);
        Ok(())
    }
}

/// The end report, read back a part of the run at a time: it holds counts and problems, not every
/// page of the run.
async fn run_report(
    records: &crate::store::Records,
    w: &mut Walked,
    started: std::time::Instant,
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::default();
    (report.files, report.captured, report.already_captured, report.vanished) =
        (w.total, w.captured, w.duplicates, w.vanished);
    for part in std::mem::take(&mut w.ids).parts(RUN_PART)? {
        let part = part?;
        let fates = records.intake_fates(&part).await?;
        report.quarantined.extend(
            fates
                .into_iter()
                .filter(|f| f.state == IntakeState::Quarantined)
                .map(|f| Problem::quarantined(f.source, f.code, f.reason.unwrap_or_default())),
        );
        let pages = records.page_fates(&part).await?;
        report.count_pages(&pages);
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.pages_per_second = report.pages as f64 / report.seconds.max(0.001);
    report.stage_seconds = crate::util::metrics::totals()
        .into_iter()
        .filter(|(_, n, _)| *n > 0)
        .map(|(stage, _, secs)| (stage.as_str().to_string(), secs))
        .collect();
    Ok(report)
}

/// Prints the end report as the options say, and writes it to `--report`.
fn show_report(a: &Args, report: &RunReport) -> anyhow::Result<()> {
    if let Some(path) = &a.report {
        let body = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
            report.to_csv()
        } else {
            serde_json::to_string_pretty(report)?
        };
        std::fs::write(path, body)
            .map_err(|e| anyhow::anyhow!("cannot write the report to {}: {e}", path.display()))?;
    }
    if a.progress == Progress::Json {
        let mut done = serde_json::to_value(report)?;
        done["event"] = "done".into();
        println!("{done}");
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// The intake ids of a run, for its end report: written out 500 at a time to an anonymous temporary
/// file (gone when the run ends) and read back a part at a time, so a run of any size reports in the
/// memory of one part. Should the temporary file fail (no room, say), the ids from then on are kept in
/// memory instead: the run goes on and its report stays whole.
struct RunInputs {
    file: Option<std::fs::File>,
    /// Whether ids still go to the file (until a write fails).
    writing: bool,
    /// Bytes of the file holding whole parts.
    written: u64,
    /// Ids not in the file, in order.
    held: Vec<String>,
}

/// Ids written to the temporary file at a time.
const RUN_PART: usize = 500;

impl Default for RunInputs {
    fn default() -> RunInputs {
        RunInputs::new()
    }
}

impl RunInputs {
    fn new() -> RunInputs {
        let file = tempfile::tempfile()
            .map_err(
                |e| tracing::warn!(error = %e, "no temporary file for the run's report; its ids are kept in memory"),
            )
            .ok();
        RunInputs { writing: file.is_some(), file, written: 0, held: Vec::new() }
    }

    fn push(&mut self, id: String) {
        use std::io::Write;
        self.held.push(id);
        if !self.writing || self.held.len() < RUN_PART {
            return;
        }
        let Some(file) = self.file.as_mut() else { return };
        let mut text = self.held.join("\n");
        text.push('\n');
        match file.write_all(text.as_bytes()) {
            Ok(()) => {
                self.written += text.len() as u64;
                self.held.clear();
            }
            Err(e) => {
                // Whatever part of these reached the file lies past `written` and is never read back.
                tracing::warn!(error = %e, "cannot write the run's ids to a temporary file; the rest are kept in memory");
                self.writing = false;
            }
        }
    }

    /// The ids in order, `size` at a time.
    fn parts(self, size: usize) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Vec<String>>>> {
        use std::io::{BufRead, Read, Seek};
        let from_file: Box<dyn Iterator<Item = std::io::Result<String>>> = match self.file {
            Some(mut file) if self.written > 0 => {
                file.rewind().map_err(|e| anyhow::anyhow!("cannot read back the run's inputs: {e}"))?;
                Box::new(std::io::BufReader::new(file.take(self.written)).lines())
            }
            _ => Box::new(std::iter::empty()),
        };
        let mut ids = from_file.chain(self.held.into_iter().map(Ok));
        Ok(std::iter::from_fn(move || {
            let mut part = Vec::with_capacity(size);
            for id in ids.by_ref() {
                match id {
                    Ok(id) => part.push(id),
                    Err(e) => return Some(Err(anyhow::anyhow!("cannot read back the run's inputs: {e}"))),
                }
                if part.len() == size {
                    break;
                }
            }
            (!part.is_empty()).then_some(Ok(part))
        }))
    }
}

/// Two bars on the terminal (nothing when stderr is not one): files captured (the fast half: read,
/// hashed, recorded) and pages done (normalized, bundled and attached, or left unfiled), whose rate
/// gives the ETA; the second's message says what the workers have attached so far, cut to the
/// terminal's width.
fn progress_bars(
    total: u64,
    shown: bool,
) -> (indicatif::MultiProgress, indicatif::ProgressBar, indicatif::ProgressBar) {
    let multi = indicatif::MultiProgress::new();
    if !shown {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        return (multi, indicatif::ProgressBar::hidden(), indicatif::ProgressBar::hidden());
    }
    let style = |template: &str| {
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ")
    };
    let files = say("tệp", "files");
    let captured = multi.add(indicatif::ProgressBar::new(total));
    captured.set_style(style(&format!("{{prefix:>10}} [{{bar:30}}] {{pos}}/{{len}} {files}")));
    captured.set_prefix(say("tiếp nhận", "captured"));
    // The length is the pages the run is expected to hold, known better as files are split.
    let processed = multi.add(indicatif::ProgressBar::new(total));
    processed.set_style(style("{prefix:>10} [{bar:30}] {percent:>3}% {wide_msg}"));
    processed.set_prefix(say("xong", "done"));
    (multi, captured, processed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(ids: RunInputs) -> Vec<Vec<String>> {
        ids.parts(RUN_PART).unwrap().map(|p| p.unwrap()).collect()
    }

    #[test]
    fn the_eta_comes_from_files_split_and_pages_done_not_files_captured() {
        // Written from the rule, not from the code: 240 one-page files, all captured and split after
        // 111 s, 40 pages done: 280 of 480 units done, 200 left at 280 per 111 s, about 79 s — not
        // "done" because capture is.
        let c = Counts { expected: 240, captured: 240, waiting: 0, pages: 240, done: 40 };
        let st = standing(c, 111.0, None);
        assert_eq!((st.split, st.pages_done, st.pages, st.units()), (240, 40, 240, (280, 480)));
        assert!((st.eta.unwrap() - 200.0 / (280.0 / 111.0)).abs() < 1e-6, "{st:?}");
        // The same, work having first got done at 21 s (one file split): 279 more in 90 s.
        let eta = standing(c, 111.0, Some((21.0, 1))).eta.unwrap();
        assert!((eta - 200.0 / (279.0 / 90.0)).abs() < 1e-6, "{eta}");
        // 10 of 100 files split into 30 pages (3 each), 90 still to come: 300 pages expected.
        let c = Counts { expected: 100, captured: 40, waiting: 30, pages: 30, done: 15 };
        assert_eq!(standing(c, 5.0, None).pages, 300);
        // Nothing done yet: no rate, no ETA; all done: none either.
        let none = Counts { expected: 5, captured: 5, waiting: 5, ..Counts::default() };
        assert_eq!(standing(none, 1.0, None).eta, None);
        let all = Counts { expected: 5, captured: 5, waiting: 0, pages: 7, done: 7 };
        let st = standing(all, 9.0, Some((2.0, 1)));
        assert_eq!((st.units(), st.eta), ((12, 12), None));
        assert_eq!(duration_words(3.4), "3s");
        assert_eq!(duration_words(200.0), "3m 20s");
        assert_eq!(duration_words(3900.0), "1h 05m");
    }

    #[test]
    fn a_runs_ids_come_back_in_order_a_part_at_a_time() {
        let mut ids = RunInputs::new();
        for i in 0..1234 {
            ids.push(format!("id-{i}"));
        }
        // Two whole parts went to the file; the last 234 wait in memory.
        assert_eq!(ids.written, (0..1000).map(|i| format!("id-{i}\n").len() as u64).sum::<u64>());
        assert_eq!(ids.held.len(), 234);
        let parts = read_back(ids);
        assert_eq!(parts.iter().map(Vec::len).collect::<Vec<_>>(), [500, 500, 234]);
        let all: Vec<String> = parts.concat();
        assert_eq!(all, (0..1234).map(|i| format!("id-{i}")).collect::<Vec<_>>());
    }

    #[test]
    fn ids_stay_whole_in_memory_when_the_temporary_file_cannot_be_written() {
        // A file opened for reading only: the first write of a part fails, as on a full disk.
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ids"), b"").unwrap();
        let read_only = std::fs::File::open(d.path().join("ids")).unwrap();
        let mut ids = RunInputs { file: Some(read_only), writing: true, written: 0, held: Vec::new() };
        for i in 0..700 {
            ids.push(format!("id-{i}"));
        }
        assert!(!ids.writing);
        let all: Vec<String> = read_back(ids).concat();
        assert_eq!(all, (0..700).map(|i| format!("id-{i}")).collect::<Vec<_>>());
    }
}
