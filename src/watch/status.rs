//! The live status of each station, written by the service every second to
//! `<data>/status/<station>.json` and read by `sohoa status`. A file, not a table, so that it still
//! says something when the database is the thing that is failing. It lives with the watcher, below both
//! the service that writes it and the API that shows it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::profile::{Profile, WatchMode};

/// What the service says about one station.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StationStatus {
    /// Station id.
    pub station: String,
    /// Profile name.
    pub profile: String,
    /// The inbox watched.
    pub inbox: String,
    /// `native` or `poll`.
    pub mode: String,
    /// The service's process id.
    pub pid: u32,
    /// When this was written (Unix seconds).
    pub updated: u64,
    /// Files seen in the inbox, not yet captured.
    pub waiting: usize,
    /// Jobs not finished (all stations).
    pub jobs: Option<i64>,
    /// Of those, documents waiting for text recognition (OCR runs behind the rest).
    #[serde(default)]
    pub ocr_waiting: Option<i64>,
    /// Alarms of the last ten minutes: (Unix seconds, message).
    pub alarms: Vec<(u64, String)>,
    /// The same alarms in Vietnamese, for the station officer.
    #[serde(default)]
    pub alarms_vi: Vec<(u64, String)>,
    /// Written by a service that stopped cleanly: its last word.
    #[serde(default)]
    pub stopped: bool,
    /// Whether the service is running now, judged when read: written in the last few seconds, not
    /// its last word, and by a process that still exists.
    #[serde(default)]
    pub running: bool,
}

/// A status older than this means the service is not running (it writes every second).
const FRESH_SECONDS: u64 = 5;

impl StationStatus {
    fn judge_running(&mut self, now: u64) {
        // Where /proc exists, a pid that is gone settles it at once (a service killed outright).
        let proc_fs = Path::new("/proc/self").exists();
        let alive = !proc_fs || Path::new("/proc").join(self.pid.to_string()).exists();
        self.running = !self.stopped && alive && now.saturating_sub(self.updated) <= FRESH_SECONDS;
    }
}

/// Writes one station's status file, each time from the counts it is given.
pub struct Writer {
    path: PathBuf,
    base: StationStatus,
    pending: Arc<AtomicUsize>,
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Writer {
    /// A writer for the station `profile` describes, watching `inbox`; `pending` is the watcher's count of
    /// files seen and not yet captured.
    pub fn new(data: &Path, profile: &Profile, inbox: &Path, pending: Arc<AtomicUsize>) -> Writer {
        let s = &profile.settings;
        let base = StationStatus {
            station: s.station.id.clone(),
            profile: s.name.clone(),
            inbox: inbox.display().to_string(),
            mode: if s.inbox.watch == WatchMode::Poll { "poll" } else { "native" }.into(),
            pid: std::process::id(),
            updated: 0,
            waiting: 0,
            jobs: None,
            ocr_waiting: None,
            alarms: Vec::new(),
            alarms_vi: Vec::new(),
            stopped: false,
            running: false,
        };
        Writer { path: status_path(data, &s.station.id), base, pending }
    }

    /// Replaces the file atomically (write, then rename), so a reader never sees half of it.
    pub fn write(&self, jobs: Option<i64>, ocr_waiting: Option<i64>) {
        self.write_as(jobs, ocr_waiting, false);
    }

    /// The service's last word when it stops cleanly: readers say "stopped" at once, not after the
    /// file has aged.
    pub fn write_stopped(&self) {
        self.write_as(None, None, true);
    }

    fn write_as(&self, jobs: Option<i64>, ocr_waiting: Option<i64>, stopped: bool) {
        let mut s = self.base.clone();
        s.stopped = stopped;
        s.updated = unix(SystemTime::now());
        s.waiting = self.pending.load(Ordering::Relaxed);
        s.jobs = jobs;
        s.ocr_waiting = ocr_waiting;
        let recent = crate::util::alarm::recent(Duration::from_secs(600));
        s.alarms = recent.iter().map(|(t, m)| (unix(*t), m.en.clone())).collect();
        s.alarms_vi = recent.into_iter().map(|(t, m)| (unix(t), m.vi)).collect();
        let tmp = self.path.with_extension("json.tmp");
        let r = self
            .path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|_| std::fs::write(&tmp, serde_json::to_vec_pretty(&s).unwrap_or_default()))
            .and_then(|_| std::fs::rename(&tmp, &self.path));
        if let Err(e) = r {
            tracing::debug!(error = %e, "status file not written");
        }
    }
}

fn status_path(data: &Path, station: &str) -> PathBuf {
    let safe: String =
        station.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    data.join("status").join(format!("{safe}.json"))
}

/// Every station's last status under a data directory.
pub fn read_status(data: &Path) -> Vec<StationStatus> {
    let mut out: Vec<StationStatus> = std::fs::read_dir(data.join("status"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .filter_map(|e| std::fs::read(e.path()).ok())
                .filter_map(|b| serde_json::from_slice(&b).ok())
                .collect()
        })
        .unwrap_or_default();
    let now = unix(SystemTime::now());
    for s in &mut out {
        s.judge_running(now);
    }
    out.sort_by(|a: &StationStatus, b| a.station.cmp(&b.station));
    out
}
