//! The service's own measurements for `/metrics`: how long each stage takes (histograms), pages and
//! bytes through this process. Figures that live in the records (queue depth, quarantined inputs,
//! verify failures) are read from the database at each scrape and added by the API, so they agree
//! across every worker sharing the database.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A stage of the pipeline whose latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Reading an input once, hashing and storing it, recording the intake (per file).
    Capture,
    /// Finding an input's pages and routing each (per input).
    Split,
    /// Decoding one page's image.
    Decode,
    /// Looking at one page: border, blank, orientation and skew decisions.
    Normalize,
    /// Colour classification, adaptive threshold and despeckle of one page.
    Binarize,
    /// Pixel geometry of one re-encoded page: crop, downsampling, a 1-bit turn.
    Rotate,
    /// Compressing one page for the PDF.
    Encode,
    /// Finishing one PDF and making it durable in the blob store.
    Write,
    /// Recording a PDF as the document's file (one transaction).
    Attach,
    /// Recognising one document's text and adding its text layer (after attach, in the background).
    Ocr,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 10] = [
        Stage::Capture,
        Stage::Split,
        Stage::Decode,
        Stage::Normalize,
        Stage::Binarize,
        Stage::Rotate,
        Stage::Encode,
        Stage::Write,
        Stage::Attach,
        Stage::Ocr,
    ];

    /// Its name in metrics and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Capture => "capture",
            Stage::Split => "split",
            Stage::Decode => "decode",
            Stage::Normalize => "normalize",
            Stage::Binarize => "binarize",
            Stage::Rotate => "rotate",
            Stage::Encode => "encode",
            Stage::Write => "write",
            Stage::Attach => "attach",
            Stage::Ocr => "ocr",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StageLabel {
    stage: &'static str,
}

type Histograms = Family<StageLabel, Histogram, fn() -> Histogram>;

struct Metrics {
    stages: Histograms,
    /// Per stage (in `Stage::ALL` order): how many times, and nanoseconds in all — for the end report.
    totals: [(std::sync::atomic::AtomicU64, std::sync::atomic::AtomicU64); Stage::ALL.len()],
    pages: Counter,
    bytes: Counter,
}

fn stage_histogram() -> Histogram {
    // 1 ms … ~33 s: a page decision is milliseconds, a 300-page PDF tens of seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| Metrics {
    stages: Family::new_with_constructor(stage_histogram as fn() -> Histogram),
    totals: Default::default(),
    pages: Counter::default(),
    bytes: Counter::default(),
});

/// Records that `stage` took `took`.
pub fn observe(stage: Stage, took: Duration) {
    METRICS.stages.get_or_create(&StageLabel { stage: stage.as_str() }).observe(took.as_secs_f64());
    if let Some(i) = Stage::ALL.iter().position(|s| *s == stage) {
        use std::sync::atomic::Ordering::Relaxed;
        METRICS.totals[i].0.fetch_add(1, Relaxed);
        METRICS.totals[i].1.fetch_add(took.as_nanos().min(u128::from(u64::MAX)) as u64, Relaxed);
    }
}

/// How many times each stage ran in this process and the seconds it took in all (summed over
/// workers running at once): where a run's time went.
pub fn totals() -> Vec<(Stage, u64, f64)> {
    use std::sync::atomic::Ordering::Relaxed;
    Stage::ALL
        .iter()
        .zip(&METRICS.totals)
        .map(|(s, (n, ns))| (*s, n.load(Relaxed), ns.load(Relaxed) as f64 / 1e9))
        .collect()
}

/// Times a stage from now until the returned guard is dropped.
pub fn time(stage: Stage) -> Timer {
    Timer { stage, started: Instant::now() }
}

/// Observes its stage's duration when dropped (see [`time`]).
pub struct Timer {
    stage: Stage,
    started: Instant,
}

impl Drop for Timer {
    fn drop(&mut self) {
        observe(self.stage, self.started.elapsed());
    }
}

/// Counts pages written into PDFs.
pub fn pages_written(n: u64) {
    METRICS.pages.inc_by(n);
}

static RECOGNISED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Counts pages given a text layer.
pub fn pages_recognised(n: u64) {
    RECOGNISED.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Pages given a text layer by this process.
pub fn recognised() -> u64 {
    RECOGNISED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Counts input bytes captured.
pub fn bytes_captured(n: u64) {
    METRICS.bytes.inc_by(n);
}

/// A figure read from the records at scrape time.
pub struct Figure {
    /// Metric name without the `sohoa_` prefix (counters without `_total`: it is added).
    pub name: &'static str,
    /// Its help line.
    pub help: &'static str,
    /// Counter (only grows) or gauge.
    pub counter: bool,
    /// The value.
    pub value: i64,
}

/// Everything, in the OpenMetrics text format.
pub fn render(figures: &[Figure]) -> String {
    let mut registry = Registry::with_prefix("sohoa");
    registry.register(
        "stage_seconds",
        "Time spent per pipeline stage (capture per file, split per input, decode/normalize/encode per page, write/attach per PDF)",
        METRICS.stages.clone(),
    );
    registry.register("pages_written", "Pages written into PDFs by this process", METRICS.pages.clone());
    registry.register("captured_bytes", "Input bytes captured by this process", METRICS.bytes.clone());
    for f in figures {
        if f.counter {
            let c: Counter = Counter::default();
            c.inc_by(f.value.max(0) as u64);
            registry.register(f.name, f.help, c);
        } else {
            let g: prometheus_client::metrics::gauge::Gauge = Default::default();
            g.set(f.value);
            registry.register(f.name, f.help, g);
        }
    }
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
        out = "# EOF\n".into();
    }
    out
}
