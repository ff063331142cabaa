//! Watching an inbox: native events, polling for network shares, and a periodic full rescan, feeding a
//! stability gate. What passes the gate goes, in natural name order, into a bounded queue; when the
//! queue is full the watcher waits (back-pressure), it never drops.
//!
//! A file is taken when its writer closed it (inotify close-write, or a rename into place) or its size
//! and modification time have not changed for the profile's `stable_ms` — **and** it is structurally
//! whole ([`gate::is_whole`]) — **and** its folder has been quiet for `stable_ms` too: people and
//! scanner software copy a folder's files in any order, and a `manifest.json` that arrives just after
//! the scans must still apply to them (a folder that never goes quiet delays a file at most five times
//! the delay). A manifest that arrives after scans of its folder were taken is reported in the log. A file that never becomes whole is taken anyway after ten times the delay,
//! so a truncated scan is quarantined with a reason instead of sitting in the inbox forever.

pub mod gate;
pub mod status;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::{mpsc, watch};

use crate::intake::scan::{Candidate, refusal, scan_inbox};
use crate::profile::{DocumentRule, Settings, WatchMode};
use crate::util::text::natural_cmp;

/// How long after an event that asked for a rescan (a new folder, lost events) the inbox is rescanned
/// once more.
const RESCAN_AGAIN_MS: u64 = 750;

/// How long a look at the inbox (a rescan, the stability checks) may take before the share alarm is
/// raised; it is raised again each time this much more has passed.
const SHARE_TIMEOUT: Duration = Duration::from_secs(10);

/// Something the watcher hands to capture.
#[derive(Debug, Clone)]
pub enum Found {
    /// A stable, whole input.
    File(Candidate),
    /// A marker file: every file of its folder found before it has been handed over already.
    Marker {
        /// The marker's path.
        path: PathBuf,
        /// Its folder relative to the inbox.
        folder_path: String,
    },
}

#[derive(Debug, Clone)]
struct Track {
    size: u64,
    mtime: Option<SystemTime>,
    changed_at: Instant,
    first_seen: Instant,
    closed: Option<(u64, Option<SystemTime>)>,
    sent: bool,
}

/// Watches one inbox for one station.
pub struct InboxWatcher {
    root: PathBuf,
    settings: Settings,
    tracked: BTreeMap<PathBuf, Track>,
    markers: BTreeMap<PathBuf, (String, bool)>,
    pending: Arc<AtomicUsize>,
    /// When something last changed in each folder (a file created, written, renamed or removed).
    folder_changed: std::collections::HashMap<PathBuf, Instant>,
    /// How many files each folder has handed over, and when last: a manifest that arrives later is
    /// reported once; `true` once the folder had a manifest when it handed files over, or was reported.
    sent_from: std::collections::HashMap<PathBuf, (usize, Instant, bool)>,
}

impl InboxWatcher {
    /// A watcher for the inbox a profile names (created when missing). `pending` counts files seen but
    /// not yet handed over, for status displays.
    pub fn new(settings: &Settings, pending: Arc<AtomicUsize>) -> std::io::Result<InboxWatcher> {
        std::fs::create_dir_all(&settings.inbox.path)?;
        let root = settings.inbox.path.canonicalize()?;
        Ok(InboxWatcher {
            root,
            settings: settings.clone(),
            tracked: BTreeMap::new(),
            markers: BTreeMap::new(),
            pending,
            folder_changed: Default::default(),
            sent_from: Default::default(),
        })
    }

    /// The inbox being watched.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs until `shutdown` turns true, sending what passes the gate to `out`, tagged with `station`.
    pub async fn run(self, station: usize, out: mpsc::Sender<(usize, Found)>, mut shutdown: watch::Receiver<bool>) {
        let mut w = self;
        let inbox = w.settings.inbox.clone();
        let (etx, mut erx) = mpsc::unbounded_channel::<notify::Result<notify::Event>>();
        let root = w.root.clone();
        let mut _native = None;
        if inbox.watch == WatchMode::Native {
            let watcher = notify::recommended_watcher(move |ev| {
                let _ = etx.send(ev);
            })
            .and_then(|mut n| n.watch(&root, RecursiveMode::Recursive).map(|_| n));
            match watcher {
                Ok(n) => _native = Some(n),
                Err(e) => tracing::error!(
                    alarm = true, inbox = %root.display(), error = %e,
                    "native events unavailable; falling back to polling"
                ),
            }
        }
        let polling = _native.is_none();
        let tick = if polling { Duration::from_millis(inbox.poll_interval_ms) } else { Duration::from_millis(100) };
        let rescan_every = Duration::from_secs(inbox.rescan_seconds);
        let mut last_rescan: Option<Instant> = None;
        // A folder just created may have received files before its watch was in place (`cp -r`):
        // the rescan its event asks for is repeated a moment later to catch those.
        let mut again_at: Option<Instant> = None;
        tracing::info!(
            station = %w.settings.station.id, inbox = %w.root.display(),
            mode = if polling { "poll" } else { "native" }, "watching"
        );
        loop {
            let mut rescan = last_rescan.is_none_or(|t| t.elapsed() >= rescan_every) || polling;
            if again_at.is_some_and(|t| Instant::now() >= t) {
                again_at = None;
                rescan = true;
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                ev = erx.recv() => {
                    if let Some(ev) = ev {
                        let mut asked = w.on_event(ev);
                        while let Ok(ev) = erx.try_recv() {
                            asked |= w.on_event(ev);
                        }
                        if asked {
                            rescan = true;
                            again_at = Some(Instant::now() + Duration::from_millis(RESCAN_AGAIN_MS));
                        }
                    }
                }
                _ = tokio::time::sleep(tick) => {}
            }
            if *shutdown.borrow() {
                return;
            }
            // The file system is looked at on the blocking pool: a share that stops answering stalls
            // this inbox (and raises its alarm), never the runtime that serves the other stations.
            let mut step = tokio::task::spawn_blocking(move || {
                if rescan {
                    w.rescan();
                }
                let found = w.ready();
                (w, found)
            });
            let mut waited = Duration::ZERO;
            let (back, ready) = loop {
                tokio::select! {
                    r = &mut step => match r {
                        Ok(done) => {
                            if !waited.is_zero() {
                                crate::util::alarm::cleared(&inbox_alarm(&root));
                            }
                            break done;
                        }
                        Err(e) => {
                            tracing::error!(alarm = true, error = %e, "the inbox watcher stopped");
                            return;
                        }
                    },
                    _ = tokio::time::sleep(SHARE_TIMEOUT) => {
                        waited += SHARE_TIMEOUT;
                        let msg = format!("inbox {} has not answered for {} s (share gone?)", root.display(), waited.as_secs());
                        crate::util::alarm::raise(
                            &inbox_alarm(&root),
                            format!(
                                "thư mục quét {} không trả lời đã {} giây (mất kết nối thư mục chia sẻ?)",
                                root.display(),
                                waited.as_secs()
                            ),
                            msg.clone(),
                        );
                        tracing::error!(alarm = true, inbox = %root.display(), "{msg}; still waiting");
                    }
                    _ = shutdown.changed() => return,
                }
            };
            w = back;
            if rescan {
                last_rescan = Some(Instant::now());
            }
            for found in ready {
                tokio::select! {
                    r = out.send((station, found)) => if r.is_err() { return },
                    _ = shutdown.changed() => return,
                }
            }
            w.pending.store(w.tracked.values().filter(|t| !t.sent).count(), Ordering::Relaxed);
        }
    }

    /// Notes what an event says; returns true when a full rescan is needed.
    fn on_event(&mut self, ev: notify::Result<notify::Event>) -> bool {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                tracing::warn!(error = %e, "watch error; rescanning the inbox");
                return true;
            }
        };
        if ev.need_rescan() {
            tracing::warn!(inbox = %self.root.display(), "events were lost (overflow); rescanning the inbox");
            return true;
        }
        // Reading a folder (our own rescans included) is reported as an open/close of it: acting on
        // that would rescan in a loop. Only a file closed after writing is news among access events.
        if matches!(ev.kind, EventKind::Access(a) if a != AccessKind::Close(AccessMode::Write)) {
            return false;
        }
        let closed = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
        );
        let paths: Vec<PathBuf> = match ev.kind {
            // A rename's destination is the last path.
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => ev.paths.last().cloned().into_iter().collect(),
            EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                for p in &ev.paths {
                    self.tracked.remove(p);
                    self.markers.remove(p);
                }
                return false;
            }
            _ => ev.paths,
        };
        let mut rescan = false;
        for p in paths {
            if p.is_dir() {
                // Files created in a new folder before its watch was added are found by scanning it.
                rescan = true;
                continue;
            }
            // Anything written in a folder, a manifest included, keeps its files waiting.
            self.touch_folder(&p);
            self.late_manifest(&p);
            self.observe(&p, closed);
        }
        rescan
    }

    /// Starts or refreshes tracking of one path.
    fn observe(&mut self, path: &Path, closed: bool) {
        let name = path.file_name().map(|n| crate::util::text::nfc(&n.to_string_lossy())).unwrap_or_default();
        if self.is_marker(&name) {
            // A late event for a marker capture already removed must not bring it back: it would stay
            // "sent" and hide the next marker written under the same name.
            if let Some(c) = Candidate::at(&self.root, path).filter(|_| path.exists()) {
                self.markers.entry(path.to_path_buf()).or_insert((c.folder_path, false));
            }
            return;
        }
        match refusal(path, &name, &self.settings.inbox.ignore) {
            None => {}
            Some("") => return,
            Some(why) => {
                crate::intake::scan::say_once(path, why);
                return;
            }
        }
        let Ok(meta) = std::fs::metadata(path) else { return };
        let (size, mtime) = (meta.len(), meta.modified().ok());
        let now = Instant::now();
        let existed = self.tracked.contains_key(path);
        let t = self.tracked.entry(path.to_path_buf()).or_insert(Track {
            size,
            mtime,
            changed_at: now,
            first_seen: now,
            closed: None,
            sent: false,
        });
        let changed = !existed || t.size != size || t.mtime != mtime;
        if t.size != size || t.mtime != mtime {
            *t = Track { size, mtime, changed_at: now, first_seen: t.first_seen, closed: None, sent: false };
        }
        if closed {
            t.closed = Some((size, mtime));
        }
        if changed {
            self.touch_folder(path);
        }
    }

    /// Notes that something changed in `path`'s folder now.
    fn touch_folder(&mut self, path: &Path) {
        if let Some(folder) = path.parent() {
            self.folder_changed.insert(folder.to_path_buf(), Instant::now());
        }
    }

    /// Says so, once, when a manifest arrives in a folder whose scans were already taken without one
    /// (a manifest rewritten in a folder that had one when its scans were taken is no news).
    fn late_manifest(&mut self, path: &Path) {
        let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        if !crate::route::manifest::is_manifest_name(&name) || !path.is_file() {
            return;
        }
        let Some((n, _, had)) = path.parent().and_then(|f| self.sent_from.get_mut(f)) else { return };
        if std::mem::replace(had, true) {
            return;
        }
        tracing::warn!(
            manifest = %path.display(), files_taken_before = *n,
            "a manifest arrived after {n} scan(s) of its folder were captured without it: it applies only to files \
             that arrive after it. Check where they went (`sohoa case show`, `sohoa unfiled list`): a wrong one is \
             detached and dropped again, an unfiled one filed with `sohoa unfiled file`; copy the manifest first \
             next time"
        );
    }

    /// Whether a folder holds a manifest now.
    fn has_manifest(folder: &Path) -> bool {
        std::fs::read_dir(folder).is_ok_and(|d| {
            d.flatten().any(|e| crate::route::manifest::is_manifest_name(&e.file_name().to_string_lossy()))
        })
    }

    fn is_marker(&self, name: &str) -> bool {
        self.settings.grouping.document == DocumentRule::Marker && name == self.settings.grouping.marker
    }

    fn rescan(&mut self) {
        let marker =
            (self.settings.grouping.document == DocumentRule::Marker).then_some(self.settings.grouping.marker.as_str());
        match scan_inbox(&self.root, &self.settings.inbox.ignore, marker) {
            Ok(scan) => {
                crate::util::alarm::cleared(&inbox_alarm(&self.root));
                let present: std::collections::HashSet<PathBuf> = scan.files.iter().map(|c| c.path.clone()).collect();
                self.tracked.retain(|p, _| present.contains(p));
                for c in scan.files {
                    self.observe(&c.path, false);
                }
                let old = std::mem::take(&mut self.markers);
                for m in scan.markers {
                    let sent = old.get(&m.path).is_some_and(|(_, s)| *s);
                    self.markers.insert(m.path, (m.folder_path, sent));
                }
            }
            Err(e) => {
                crate::util::alarm::raise(
                    &inbox_alarm(&self.root),
                    format!("không đọc được thư mục quét {}: {e}", self.root.display()),
                    format!("inbox {} cannot be read: {e}", self.root.display()),
                );
                tracing::error!(alarm = true, inbox = %self.root.display(), error = %e, "cannot read the inbox (share gone?); will retry");
            }
        }
    }

    /// What passes the gate now, in natural order, then markers whose folder has nothing left to send.
    fn ready(&mut self) -> Vec<Found> {
        let stable = Duration::from_millis(self.settings.inbox.stable_ms);
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut out: Vec<Candidate> = Vec::new();
        let paths: Vec<PathBuf> = self.tracked.iter().filter(|(_, t)| !t.sent).map(|(p, _)| p.clone()).collect();
        // Whether each folder holds a manifest, looked up once per folder per pass.
        let mut manifest_in: std::collections::HashMap<PathBuf, bool> = std::collections::HashMap::new();
        for p in paths {
            let Ok(meta) = std::fs::metadata(&p) else {
                self.tracked.remove(&p);
                continue;
            };
            let (size, mtime) = (meta.len(), meta.modified().ok());
            let Some(t) = self.tracked.get_mut(&p) else { continue };
            if t.size != size || t.mtime != mtime {
                *t = Track { size, mtime, changed_at: now, first_seen: t.first_seen, closed: None, sent: false };
                continue;
            }
            // The folder must be quiet too, so a manifest copied just after its scans applies to them;
            // a folder that never goes quiet (a busy top-level inbox) delays a file at most 5× the delay.
            let folder = p.parent().map(Path::to_path_buf).unwrap_or_default();
            let folder_quiet = self.folder_changed.get(&folder).is_none_or(|c| now.duration_since(*c) >= stable);
            if !folder_quiet && now.duration_since(t.first_seen) < stable * 5 {
                continue;
            }
            let closed = t.closed == Some((size, mtime));
            let quiet_for = now.duration_since(t.changed_at);
            let untouched_for = mtime.and_then(|m| wall.duration_since(m).ok()).unwrap_or_default();
            let settled =
                closed || quiet_for >= stable || (untouched_for >= stable && quiet_for >= Duration::from_millis(50));
            if !settled {
                continue;
            }
            let whole = gate::is_whole(&p).unwrap_or(false);
            if !whole && now.duration_since(t.first_seen) < stable * 10 + Duration::from_secs(5) {
                continue;
            }
            t.sent = true;
            let had = *manifest_in.entry(folder.clone()).or_insert_with(|| Self::has_manifest(&folder));
            let e = self.sent_from.entry(folder).or_insert((0, now, had));
            *e = (e.0 + 1, now, e.2 || had);
            if let Some(c) = Candidate::at(&self.root, &p) {
                out.push(c);
            }
        }
        // What is remembered per folder stays bounded: quiet folders are forgotten.
        self.folder_changed.retain(|_, c| now.duration_since(*c) < stable * 10);
        self.sent_from.retain(|_, (_, at, _)| now.duration_since(*at) < Duration::from_secs(600));
        out.sort_by(|a, b| natural_cmp(&a.rel, &b.rel));
        let mut found: Vec<Found> = out.into_iter().map(Found::File).collect();
        let busy: Vec<String> = self
            .tracked
            .iter()
            .filter(|(_, t)| !t.sent)
            .filter_map(|(p, _)| Candidate::at(&self.root, p).map(|c| c.folder_path))
            .collect();
        // A marker capture removed is forgotten here too, whatever the events said (they may be late);
        // not one whose folder cannot be seen either (a share that blinked: it is still there).
        self.markers.retain(|path, _| path.exists() || !path.parent().is_some_and(Path::exists));
        for (path, (folder_path, sent)) in self.markers.iter_mut() {
            if !*sent && !busy.contains(folder_path) {
                *sent = true;
                found.push(Found::Marker { path: path.clone(), folder_path: folder_path.clone() });
            }
        }
        found
    }
}

/// What an inbox's alarms are about: that inbox.
fn inbox_alarm(root: &std::path::Path) -> String {
    format!("inbox {}", root.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, Event};

    fn marker_watcher(inbox: &Path) -> InboxWatcher {
        let text = format!(
            "name = \"t\"\n[inbox]\npath = {:?}\n[grouping]\ndocument = \"marker\"\nmarker = \".done\"\n",
            inbox.display().to_string()
        );
        let profile = crate::profile::Profile::parse(&text).expect("a valid profile");
        InboxWatcher::new(&profile.settings, Arc::new(AtomicUsize::new(0))).expect("the inbox is watched")
    }

    fn markers(found: Vec<Found>) -> usize {
        found.iter().filter(|f| matches!(f, Found::Marker { .. })).count()
    }

    #[test]
    fn a_marker_written_again_after_capture_removed_it_is_seen_again_whatever_events_come_late() {
        let tmp = tempfile::tempdir().unwrap();
        let mut w = marker_watcher(tmp.path());
        let folder = w.root().join("H15.50.05.13-261009-0003");
        std::fs::create_dir_all(&folder).unwrap();
        let done = folder.join(".done");
        std::fs::write(&done, b"").unwrap();
        w.on_event(Ok(Event::new(EventKind::Create(CreateKind::File)).add_path(done.clone())));
        assert_eq!(markers(w.ready()), 1);
        // Capture closes the folder and removes the marker; the write's close event arrives only now.
        std::fs::remove_file(&done).unwrap();
        let late = EventKind::Access(AccessKind::Close(AccessMode::Write));
        w.on_event(Ok(Event::new(late).add_path(done.clone())));
        assert_eq!(markers(w.ready()), 0, "a marker already handled is not handed over twice");
        // The Remove event itself may come later still: the next marker must be seen all the same.
        std::fs::write(&done, b"").unwrap();
        w.on_event(Ok(Event::new(EventKind::Create(CreateKind::File)).add_path(done.clone())));
        assert_eq!(markers(w.ready()), 1, "the folder's next marker closes its next document");
    }
}
