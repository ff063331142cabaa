//! Alarms: transient failures the people at a station must see (disk full, database locked, share
//! gone). Logged loudly where they happen and kept here for `sohoa status`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::util::lang::Said;

static RECENT: Mutex<VecDeque<(SystemTime, Said)>> = Mutex::new(VecDeque::new());
const KEEP: usize = 50;

/// Records an alarm, in Vietnamese for the station officer and in English; the detail a system gave
/// (an operating-system or database error) stays as it was said.
pub fn raise(vi: impl Into<String>, en: impl Into<String>) {
    if let Ok(mut q) = RECENT.lock() {
        q.push_back((SystemTime::now(), Said::new(vi, en)));
        while q.len() > KEEP {
            q.pop_front();
        }
    }
}

/// Alarms raised within `window`, oldest first.
pub fn recent(window: Duration) -> Vec<(SystemTime, Said)> {
    let now = SystemTime::now();
    RECENT
        .lock()
        .map(|q| q.iter().filter(|(t, _)| now.duration_since(*t).unwrap_or_default() <= window).cloned().collect())
        .unwrap_or_default()
}
