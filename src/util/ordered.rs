//! Work on items in parallel, results consumed in order, with a bounded window: a document's pages are
//! decoded, normalized and encoded on every core while the PDF is written page by page, and no more
//! than `window` pages are ever in memory at once, however long the document.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};

/// Runs `work(i)` for `i` in `0..count` on `workers` threads and hands each result to `sink` in index
/// order. An item is started only when it is fewer than `window` items ahead of the last one consumed.
/// The first error — from `work` (in index order) or from `sink` — stops the run and is returned; a
/// panic in `work` stops the run and is raised again here.
pub fn for_each_ordered<T, E, W, S>(count: usize, workers: usize, window: usize, work: W, mut sink: S) -> Result<(), E>
where
    T: Send,
    E: Send,
    W: Fn(usize) -> Result<T, E> + Sync,
    S: FnMut(usize, T) -> Result<(), E>,
{
    let workers = workers.clamp(1, count.max(1));
    let window = window.max(workers);
    if workers == 1 {
        for i in 0..count {
            sink(i, work(i)?)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // How many results the sink has taken; workers wait on it to stay within the window.
    let consumed = Mutex::new(0usize);
    let moved = Condvar::new();
    // A worker's panic travels to the consumer as a value, so nobody waits forever for its result.
    let (tx, rx) = mpsc::channel::<(usize, std::thread::Result<Result<T, E>>)>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (next, stop, consumed, moved, work) = (&next, &stop, &consumed, &moved, &work);
            scope.spawn(move || {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        return;
                    }
                    {
                        let mut done = consumed.lock().unwrap_or_else(|e| e.into_inner());
                        while i >= *done + window && !stop.load(Ordering::Relaxed) {
                            done = moved.wait(done).unwrap_or_else(|e| e.into_inner());
                        }
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(i)));
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let halt = || {
            stop.store(true, Ordering::Relaxed);
            let _guard = consumed.lock().unwrap_or_else(|e| e.into_inner());
            moved.notify_all();
        };
        let mut waiting: BTreeMap<usize, Result<T, E>> = BTreeMap::new();
        let mut expected = 0;
        while expected < count {
            let Ok((i, r)) = rx.recv() else { break };
            let r = match r {
                Ok(r) => r,
                Err(panic) => {
                    halt();
                    std::panic::resume_unwind(panic);
                }
            };
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&expected) {
                let outcome = r.and_then(|t| sink(expected, t));
                if let Err(e) = outcome {
                    halt();
                    return Err(e);
                }
                expected += 1;
                *consumed.lock().unwrap_or_else(|e| e.into_inner()) = expected;
                moved.notify_all();
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_order_within_the_window() {
        let ahead = AtomicUsize::new(0);
        let consumed = AtomicUsize::new(0);
        let mut seen = Vec::new();
        let r: Result<(), ()> = for_each_ordered(
            200,
            4,
            8,
            |i| {
                // Items finish out of order; none starts more than the window ahead of the sink.
                let lead = i - consumed.load(Ordering::SeqCst).min(i);
                ahead.fetch_max(lead, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_micros(((i * 7919) % 13) as u64 * 50));
                Ok(i * 2)
            },
            |i, v| {
                assert_eq!(v, i * 2);
                seen.push(i);
                consumed.store(i + 1, Ordering::SeqCst);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert!(ahead.load(Ordering::SeqCst) < 8 + 1, "ran {} ahead", ahead.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panicking_item_stops_the_run_instead_of_hanging_it() {
        let r = std::panic::catch_unwind(|| {
            for_each_ordered(500, 2, 4, |i| if i == 3 { panic!("page {i}") } else { Ok::<usize, ()>(i) }, |_, _| Ok(()))
        });
        assert!(r.is_err());
    }

    #[test]
    fn the_first_error_in_order_stops_the_run() {
        let started = AtomicUsize::new(0);
        let r = for_each_ordered(
            1000,
            3,
            6,
            |i| {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 10 { Err(format!("page {i}")) } else { Ok(i) }
            },
            |_, _| Ok(()),
        );
        assert_eq!(r, Err("page 10".to_string()));
        assert!(started.load(Ordering::SeqCst) < 30, "{} started", started.load(Ordering::SeqCst));
    }
}
