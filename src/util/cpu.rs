//! Where threads run: the coordination threads (the async runtime, the database connections' own
//! threads) share a few cores, and CPU work (hashing, decoding, PDF writing) may run on every core.
//!
//! Filing a page takes a few dozen database statements, each a hand-off between a runtime thread and
//! the connection's thread. When the two sit on different cores of a virtual machine, each hand-off
//! wakes an idle core through the hypervisor: 85–140 µs a statement was measured on a 2-core VM,
//! against 12–24 µs when both threads share a core. A 500-page ingest took 2.4–2.6 s confined against
//! 3.0–3.1 s without.

#[cfg(target_os = "linux")]
pub use linux::{confine_coordination, cores, spread};
#[cfg(not(target_os = "linux"))]
pub use other::{confine_coordination, cores, spread};

/// `tokio::task::spawn_blocking` for CPU and file work: the thread runs on every core.
pub fn blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        spread();
        f()
    })
}

#[cfg(not(target_os = "linux"))]
mod other {
    /// Every core: nothing is confined here.
    pub fn cores() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
    /// Nothing to do off Linux.
    pub fn confine_coordination() {}
    /// Nothing to do off Linux.
    pub fn spread() {}
}

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::OnceLock;

    /// The cores this process may use, as it started.
    static ALL: OnceLock<Option<Cpus>> = OnceLock::new();

    /// The cores the process started with, whatever the calling thread is confined to: what worker
    /// counts are sized by.
    pub fn cores() -> usize {
        match *ALL.get_or_init(current) {
            Some(all) => all.members().len().max(1),
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        }
    }

    #[derive(Clone, Copy)]
    struct Cpus(libc::cpu_set_t);

    impl Cpus {
        /// The core numbers in the set.
        fn members(&self) -> Vec<usize> {
            // SAFETY: reading bits of a plain set, each index below its size.
            (0..libc::CPU_SETSIZE as usize).filter(|c| unsafe { libc::CPU_ISSET(*c, &self.0) }).collect()
        }
    }

    fn current() -> Option<Cpus> {
        // SAFETY: the set is plain data, zeroed before the call fills it in for the calling thread.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            (libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0).then_some(Cpus(set))
        }
    }

    fn set(cpus: &Cpus) {
        // SAFETY: a valid set for the calling thread; failure leaves the thread where it was.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &cpus.0);
        }
    }

    /// Confines the calling thread, and every thread it starts from now on, to the coordination cores:
    /// one core in eight of those allowed, at least one. Call it before the runtime is built. Nothing
    /// happens with a single core, or when `SOHOA_PIN=0`.
    pub fn confine_coordination() {
        let Some(all) = *ALL.get_or_init(current) else { return };
        if std::env::var("SOHOA_PIN").is_ok_and(|v| v == "0") {
            return;
        }
        let allowed = all.members();
        if allowed.len() < 2 {
            return;
        }
        // SAFETY: a zeroed set with bits of allowed cores set.
        let mut few: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for c in allowed.iter().take(allowed.len().div_ceil(8)) {
            unsafe { libc::CPU_SET(*c, &mut few) };
        }
        set(&Cpus(few));
    }

    /// Lets the calling thread run on every core the process started with (a thread about to do CPU work).
    pub fn spread() {
        thread_local!(static SPREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        if SPREAD.with(|s| s.replace(true)) {
            return;
        }
        if let Some(Some(all)) = ALL.get() {
            set(all);
        }
    }
}
