//! Alarms: transient failures the people at a station must see (disk full, database locked, share
//! gone). Logged loudly where they happen and kept here for `sohoa status`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

static RECENT: Mutex<VecDeque<(SystemTime, String)>> = Mutex::new(VecDeque::new());
const KEEP: usize = 50;

/// Records an alarm.
pub fn raise(message: impl Into<String>) {
    if let Ok(mut q) = RECENT.lock() {
        q.push_back((SystemTime::now(), message.into()));
        while q.len() > KEEP {
            q.pop_front();
        }
    }
}

/// Alarms raised within `window`, oldest first.
pub fn recent(window: Duration) -> Vec<(SystemTime, String)> {
    let now = SystemTime::now();
    RECENT
        .lock()
        .map(|q| q.iter().filter(|(t, _)| now.duration_since(*t).unwrap_or_default() <= window).cloned().collect())
        .unwrap_or_default()
}
