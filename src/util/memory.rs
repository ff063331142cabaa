//! One memory budget for the pages being decoded at once, across every document the process is
//! making: each page asks for what its pixels will take before it decodes them, and waits while the
//! pages already in hand hold the budget. Without it, two workers each preparing a page per core add
//! up their largest pages — four 600-dpi colour pages at once are well over a gigabyte — and memory
//! depends on what happens to arrive together. With it, peak memory is the budget (or one page, when a
//! single page needs more), whatever the mix.
//!
//! A page that needs more than the whole budget still runs, alone: refusing it is the page limits' job
//! (`output.max_pixels`), not this one's.

use std::sync::{Condvar, Mutex, OnceLock};

/// The budget in MiB when no profile sets one: two 600-dpi A4 colour pages with their working copies,
/// or ten at 300 dpi — more than two cores keep busy — while the process stays within 512 MiB.
pub const DEFAULT_MB: u64 = 384;

/// A budget of bytes, held by pages while they are decoded and worked on.
#[derive(Debug)]
pub struct Budget {
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Debug)]
struct State {
    /// `None` until a profile sets it; [`DEFAULT_MB`] meanwhile.
    total: Option<u64>,
    held: u64,
}

/// Part of a budget, given back when dropped.
#[derive(Debug)]
#[must_use = "the bytes are given back when this is dropped"]
pub struct Held<'a> {
    budget: &'a Budget,
    bytes: u64,
}

impl Budget {
    /// A budget of `total` bytes; `None` for [`DEFAULT_MB`] until [`Budget::at_least`] sets one.
    pub fn new(total: Option<u64>) -> Budget {
        Budget { state: Mutex::new(State { total: total.map(|t| t.max(1)), held: 0 }), freed: Condvar::new() }
    }

    /// Sets the budget to `total` bytes the first time, then raises it when `total` is larger: the
    /// largest any loaded profile asks for.
    pub fn at_least(&self, total: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.total.is_none_or(|t| total > t) {
            s.total = Some(total.max(1));
            self.freed.notify_all();
        }
    }

    /// Takes `bytes` of the budget, waiting while other pages hold too much of it. More than the whole
    /// budget is taken as the whole budget: such a page waits until it is alone.
    pub fn take(&self, bytes: u64) -> Held<'_> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let total = |s: &State| s.total.unwrap_or(DEFAULT_MB << 20);
        let bytes = bytes.min(total(&s));
        while s.held > 0 && s.held + bytes > total(&s) {
            s = self.freed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.held += bytes;
        Held { budget: self, bytes }
    }

    /// Bytes held now, for `/metrics` and the tests.
    pub fn held(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).held
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut s = self.budget.state.lock().unwrap_or_else(|e| e.into_inner());
        s.held -= self.bytes;
        self.budget.freed.notify_all();
    }
}

/// The process's budget for pages in hand.
pub fn pages() -> &'static Budget {
    static PAGES: OnceLock<Budget> = OnceLock::new();
    PAGES.get_or_init(|| Budget::new(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn what_is_held_at_once_stays_within_the_budget_and_a_large_page_runs_alone() {
        let budget = Arc::new(Budget::new(Some(100)));
        let peak = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = [30u64, 60, 50, 250, 40, 70, 10, 90]
            .into_iter()
            .map(|want| {
                let (budget, peak) = (budget.clone(), peak.clone());
                std::thread::spawn(move || {
                    let held = budget.take(want);
                    let now = budget.held();
                    peak.fetch_max(now, Ordering::SeqCst);
                    assert!(now <= 100, "{now} held");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    drop(held);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(budget.held(), 0);
        assert!(peak.load(Ordering::SeqCst) <= 100);
        // Raised, the budget lets more in at once; it is never lowered again.
        budget.at_least(200);
        budget.at_least(50);
        let (a, b) = (budget.take(150), budget.take(50));
        assert_eq!(budget.held(), 200);
        drop((a, b));
    }
}
