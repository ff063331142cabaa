//! Alarms: transient failures the people at a station must see (disk full, database locked, share
//! gone). Logged loudly where they happen and kept here for `/health` and `sohoa status`. Each alarm is
//! about something — an operation, an inbox, the delivery — named by a key: once that works again
//! ([`cleared`]), its alarms stop making the service "degraded", so both say the fault is over as soon
//! as it is, not a minute later.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::util::lang::Said;

/// The recent alarms, each with its key, and when each key last worked.
struct Alarms {
    recent: VecDeque<(SystemTime, String, Said)>,
    cleared: BTreeMap<String, SystemTime>,
}

static ALARMS: Mutex<Alarms> = Mutex::new(Alarms { recent: VecDeque::new(), cleared: BTreeMap::new() });
const KEEP: usize = 50;

/// Records an alarm about `about` (what failed: an operation's name, an inbox), in Vietnamese for the
/// station officer and in English; the detail a system gave (an operating-system or database error)
/// stays as it was said.
pub fn raise(about: &str, vi: impl Into<String>, en: impl Into<String>) {
    if let Ok(mut a) = ALARMS.lock() {
        a.recent.push_back((SystemTime::now(), about.to_string(), Said::new(vi, en)));
        while a.recent.len() > KEEP {
            a.recent.pop_front();
        }
    }
}

/// Says that what `about` names works again: the alarms raised about it so far are over.
pub fn cleared(about: &str) {
    if let Ok(mut a) = ALARMS.lock()
        && a.recent.iter().any(|(_, k, _)| k == about)
    {
        a.cleared.insert(about.to_string(), SystemTime::now());
    }
}

/// Alarms raised within `window` whose cause has not worked since, oldest first.
pub fn recent(window: Duration) -> Vec<(SystemTime, Said)> {
    let now = SystemTime::now();
    ALARMS
        .lock()
        .map(|a| {
            a.recent
                .iter()
                .filter(|(t, _, _)| now.duration_since(*t).unwrap_or_default() <= window)
                .filter(|(t, k, _)| a.cleared.get(k).is_none_or(|c| c < t))
                .map(|(t, _, s)| (*t, s.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_is_over_once_what_it_is_about_works_again() {
        let window = Duration::from_secs(60);
        let about = "alarm-test: capture";
        raise(about, "đĩa đầy", "disk full");
        raise("alarm-test: other", "khác", "other");
        let shown = |en: &str| recent(window).iter().any(|(_, s)| s.en == en);
        assert!(shown("disk full") && shown("other"));
        cleared(about);
        assert!(!shown("disk full"), "cleared");
        assert!(shown("other"), "another cause is still alarmed");
        std::thread::sleep(Duration::from_millis(5));
        raise(about, "đĩa đầy lần nữa", "disk full again");
        assert!(shown("disk full again"), "a new failure after the clear is shown");
    }
}
