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
.error.json saying why. Exit status: 0 all attached or unfiled, 1 something was quarantined, set aside or a
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
    // Text recognition waits until every page is attached, and is timed on its own.
    pipeline.pause_ocr();
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

    let mut report = run_report(&d.records, &mut walked, started).await?;
    if profile.settings.ocr.enabled {
        report.ocr = Some(recognise(&pipeline, &profile, workers, &a).await?);
    }
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
    let ocr_failed = report.ocr.as_ref().is_some_and(|o| o.failed.is_some());
    Ok(u8::from(
        !report.quarantined.is_empty() || !report.unrecognised.is_empty() || !report.set_aside.is_empty() || ocr_failed,
    ))
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
    /// Of those, pages done: encoded for their PDF (or attached whole, as a born-digital PDF's), or
    /// left unfiled.
    done: i64,
    /// Seconds the workers spent splitting files (all workers added up).
    split_secs: f64,
    /// Seconds the workers spent on pages: decoding, normalizing, encoding, writing, attaching.
    page_secs: f64,
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
    /// The share of the run's work done, 0 to 1: each kind weighed by what one of it has cost so far.
    share: f64,
    /// Seconds left (`None` until both kinds of work that remain have a measured cost, and once all
    /// is done).
    eta: Option<f64>,
}

/// When each kind of work first got done, and how much of it then: rates are measured from there, so
/// the capture before (and, for pages, the splitting) does not dilute them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Firsts {
    /// Seconds and files split when a file was first split.
    split: Option<(f64, u64)>,
    /// Seconds and pages done when a page was first done.
    page: Option<(f64, u64)>,
}

/// Where a run stands at `secs`. The bar's share weighs the files left to split and the pages left to
/// do by the worker time one of each has taken so far; the time left is each kind left at the pace
/// it has gone since it first got done.
fn standing(c: Counts, secs: f64, firsts: Firsts) -> Standing {
    let waiting = usize::try_from(c.waiting.max(0)).unwrap_or(usize::MAX);
    let split = c.captured.saturating_sub(waiting);
    let recorded = c.pages.max(0) as f64;
    let per_file = if split > 0 { (recorded / split as f64).max(1.0) } else { 1.0 };
    let unsplit = c.expected.saturating_sub(c.captured) + waiting;
    let pages = (recorded + unsplit as f64 * per_file).round() as u64;
    let pages_done = (c.done.max(0) as u64).min(pages);
    let (files_left, pages_left) = (c.expected.saturating_sub(split) as f64, (pages - pages_done) as f64);
    // What one file's split and one page have cost; unknown until one was done.
    let per_split = (split > 0).then(|| c.split_secs / split as f64);
    let per_page = (pages_done > 0).then(|| c.page_secs / pages_done as f64);
    let left = match (per_split, per_page) {
        (_, _) if files_left == 0.0 && pages_left == 0.0 => Some(0.0),
        (Some(s), Some(p)) => Some(files_left * s + pages_left * p),
        (Some(s), None) if pages_left == 0.0 => Some(files_left * s),
        _ => None,
    };
    let worked = c.split_secs + c.page_secs;
    let share = match left {
        Some(l) if worked + l > 0.0 => worked / (worked + l),
        _ => (split as f64 + pages_done as f64) / (c.expected as f64 + pages as f64).max(1.0),
    };
    // A pace needs a second of it and one more done than at its first.
    let pace = |first: Option<(f64, u64)>, now: u64| match first {
        Some((t0, n0)) if secs - t0 >= 1.0 && now > n0 => Some((now - n0) as f64 / (secs - t0)),
        _ => None,
    };
    let time_for = |left: f64, pace: Option<f64>| if left == 0.0 { Some(0.0) } else { pace.map(|p| left / p) };
    let eta = match (
        time_for(files_left, pace(firsts.split, split as u64)),
        time_for(pages_left, pace(firsts.page, pages_done)),
    ) {
        (Some(a), Some(b)) if a + b > 0.0 => Some(a + b),
        _ => None,
    };
    Standing { split: split as u64, files: c.expected as u64, pages_done, pages, share, eta }
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
        // Pages this process has encoded for their PDF: the work of a document of many pages shows page
        // by page, long before the document is attached whole.
        // And the worker time each kind of work took: this process's own, as it does the run's jobs.
        let measured = || {
            use crate::util::metrics::Stage;
            let (mut decoded, mut split_secs, mut page_secs) = (0i64, 0.0, 0.0);
            for (stage, n, secs) in crate::util::metrics::totals() {
                match stage {
                    Stage::Capture => {}
                    Stage::Split => split_secs += secs,
                    // Every page made for a PDF ends in the encoder: its count is pages done.
                    Stage::Encode => {
                        decoded = i64::try_from(n).unwrap_or(i64::MAX);
                        page_secs += secs;
                    }
                    _ => page_secs += secs,
                }
            }
            (decoded, split_secs, page_secs)
        };
        let base = (base, measured());
        let mut firsts = Firsts::default();
        loop {
            if let Ok(t) = self.records.tally().await {
                let dossier = self.records.latest_case().await.ok().flatten().unwrap_or_default();
                let files = self.files_done.load(Ordering::Relaxed);
                let secs = self.started.elapsed().as_secs_f64();
                let ((b, (b_decoded, b_split, b_page)), (decoded, split_secs, page_secs)) = (&base, measured());
                let counts = Counts {
                    expected: self.expected,
                    captured: files,
                    waiting: t.intakes_waiting,
                    pages: t.pages_total - b.pages_total,
                    done: (decoded - b_decoded).max(t.pages_attached - b.pages_attached)
                        + (t.pages_unfiled - b.pages_unfiled),
                    split_secs: split_secs - b_split,
                    page_secs: page_secs - b_page,
                };
                let st = standing(counts, secs, firsts);
                if firsts.split.is_none() && st.split > 0 {
                    firsts.split = Some((secs, st.split));
                }
                if firsts.page.is_none() && st.pages_done > 0 {
                    firsts.page = Some((secs, st.pages_done));
                }
                self.bar.set_position((st.share * 1000.0).round() as u64);
                let all_done = st.split >= st.files && st.pages_done >= st.pages;
                let left = match st.eta {
                    Some(e) => say(format!("còn khoảng {}", duration_words(e)), format!("ETA {}", duration_words(e))),
                    None if all_done && t.jobs_pending > 0 => say("đang ghi PDF", "writing the PDFs"),
                    None if !all_done => say("còn: đang ước tính", "ETA: estimating"),
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

/// Runs the text recognition the attached documents wait for, with its own progress bar, after the
/// attach path: its time and pages are reported apart, so the attach path's pages/s stays its own.
async fn recognise(
    pipeline: &Pipeline,
    profile: &crate::profile::Profile,
    workers: usize,
    a: &Args,
) -> anyhow::Result<crate::report::run::OcrRun> {
    use crate::store::jobs::JobKind;
    let records = pipeline.records().clone();
    records.retry_now(JobKind::Ocr).await?;
    let documents = records.unfinished_of(JobKind::Ocr).await?;
    let pages_before = crate::util::metrics::recognised();
    let started = std::time::Instant::now();
    tracing::info!(documents, "recognising text");
    let bar = if a.progress == Progress::Auto && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(documents.max(0) as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(&say(
            "nhận dạng chữ {bar:30} {pos}/{len} tài liệu, còn {eta}",
            "OCR {bar:30} {pos}/{len} documents, {eta} left",
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // A one-shot run does not wait out a fault: the first OCR job that fails for a reason outside its
    // document (Tesseract missing, say) holds the rest back, and the run says what to check.
    let failed: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let since_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let ticker = {
        let (bar, records, p, failed) = (bar.clone(), records.clone(), pipeline.clone(), failed.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if let Ok(left) = records.unfinished_of(JobKind::Ocr).await {
                    bar.set_position((documents - left).max(0) as u64);
                }
                if let Ok(Some(why)) = records.failing(JobKind::Ocr, since_ms).await {
                    *failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                    p.pause_ocr();
                    return;
                }
            }
        })
    };
    pipeline.set_ocr_share(std::slice::from_ref(profile));
    pipeline.drain(workers, Arc::new(AtomicBool::new(false))).await?;
    ticker.abort();
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let pages = crate::util::metrics::recognised() - pages_before;
    let failed = failed.lock().unwrap_or_else(|e| e.into_inner()).take();
    let waiting = if failed.is_some() { records.unfinished_of(JobKind::Ocr).await?.max(0) as usize } else { 0 };
    Ok(crate::report::run::OcrRun {
        documents: (documents.max(0) as usize).saturating_sub(waiting),
        pages: pages as usize,
        seconds,
        pages_per_second: pages as f64 / seconds.max(0.001),
        waiting,
        failed,
    })
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
    for (doc, file) in std::mem::take(&mut report.not_made) {
        let (reason, vi) = records.set_aside_reason(&doc).await?.unwrap_or_else(|| {
            ("its PDF was not made; see `sohoa status`".into(), "chưa làm được tệp PDF; xem `sohoa status`".into())
        });
        report.set_aside.push(Problem { file, reason, reason_vi: vi, code: None });
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
    let processed = multi.add(indicatif::ProgressBar::new(1000));
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
    fn the_eta_takes_each_kind_of_work_at_its_own_pace() {
        // Written from the rule, not from the code: 40 one-page files all split (0.5 s of worker time
        // each, 20 s); the first page done at 25 s, 10 at 47 s (7 s of worker time each, 70 s): 9 pages
        // in 22 s, and 30 left take about 73 s.
        let c =
            Counts { expected: 40, captured: 40, waiting: 0, pages: 40, done: 10, split_secs: 20.0, page_secs: 70.0 };
        let firsts = Firsts { split: Some((2.0, 1)), page: Some((25.0, 1)) };
        let st = standing(c, 47.0, firsts);
        assert_eq!((st.split, st.pages_done, st.pages), (40, 10, 40));
        assert!((st.eta.unwrap() - 30.0 / (9.0 / 22.0)).abs() < 1e-9, "{st:?}");
        // The bar weighs each kind by its cost: 90 s of work done of 90 + 30 × 7 = 300.
        assert!((st.share - 90.0 / 300.0).abs() < 1e-9, "{st:?}");
        // No page done yet while pages remain: no estimate — never one from the cheap splits alone.
        let c = Counts { expected: 40, captured: 40, waiting: 0, pages: 40, done: 0, split_secs: 20.0, page_secs: 0.0 };
        assert_eq!(standing(c, 12.0, Firsts { split: Some((2.0, 1)), page: None }).eta, None);
        // Files still to split and pages to do: the two times add up. 20 of 40 split in 10 s since the
        // first, 10 pages in 10 s since theirs: 20 files (10 s) and 30 pages (30 s).
        let c =
            Counts { expected: 40, captured: 40, waiting: 20, pages: 20, done: 11, split_secs: 10.0, page_secs: 11.0 };
        let eta = standing(c, 12.0, Firsts { split: Some((2.0, 0)), page: Some((2.0, 1)) }).eta.unwrap();
        assert!((eta - (20.0 / 2.0 + 29.0 / 1.0)).abs() < 1e-9, "{eta}");
        // 10 of 100 files split into 30 pages (3 each), 90 still to come: 300 pages expected.
        let c = Counts { expected: 100, captured: 40, waiting: 30, pages: 30, done: 15, ..Counts::default() };
        assert_eq!(standing(c, 5.0, Firsts::default()).pages, 300);
        // All done: no estimate, the whole share.
        let all = Counts { expected: 5, captured: 5, waiting: 0, pages: 7, done: 7, split_secs: 1.0, page_secs: 3.0 };
        let st = standing(all, 9.0, Firsts { split: Some((1.0, 1)), page: Some((2.0, 1)) });
        assert_eq!((st.eta, st.share), (None, 1.0));
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
