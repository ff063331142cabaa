//! The service's long-lived tasks, by name, so that one that ends early is never lost silently.

use std::collections::HashMap;
use std::future::Future;

use tokio::task::{Id, JoinSet};

/// The named tasks of a running service. Each is meant to run until the stop signal; one that ends
/// before it — a panic, or a loop that returned — is reported by [`Tasks::first_to_end`], and the
/// service stops with an alarm naming it, so that its supervisor (systemd, the container runtime)
/// restarts it whole, instead of it running on without, say, its capture loop. Captures are
/// committed before files leave the inbox and jobs are recorded, so a restart loses nothing.
#[derive(Default)]
pub struct Tasks {
    set: JoinSet<()>,
    names: HashMap<Id, String>,
}

/// How a task ended early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// The task's name (`capture`, `worker 2`, `watcher quay-1` …).
    pub name: String,
    /// The panic message, when it panicked; `None` when it returned.
    pub panic: Option<String>,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.panic {
            Some(p) => write!(f, "the {} task panicked: {p}", self.name),
            None => write!(f, "the {} task stopped before the service did", self.name),
        }
    }
}

impl Tasks {
    /// Starts a task under a name.
    pub fn spawn(&mut self, name: impl Into<String>, task: impl Future<Output = ()> + Send + 'static) {
        let id = self.set.spawn(task).id();
        self.names.insert(id, name.into());
    }

    /// The first task to end, and how; waits for ever when there is none (the service has no tasks).
    pub async fn first_to_end(&mut self) -> Ended {
        let Some(done) = self.set.join_next_with_id().await else {
            return std::future::pending().await;
        };
        match done {
            Ok((id, ())) => Ended { name: self.name_of(id), panic: None },
            Err(e) => {
                let name = self.name_of(e.id());
                Ended { name, panic: Some(crate::util::panic::of_join_error(e)) }
            }
        }
    }

    fn name_of(&mut self, id: Id) -> String {
        self.names.remove(&id).unwrap_or_else(|| "unnamed".into())
    }

    /// Waits for every task to finish (after the stop signal).
    pub async fn join_all(mut self) {
        while let Some(done) = self.set.join_next_with_id().await {
            if let Err(e) = done
                && e.is_panic()
            {
                let name = self.name_of(e.id());
                let msg = crate::util::panic::of_join_error(e);
                tracing::error!(alarm = true, task = %name, panic = %msg, "a task panicked while stopping");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_panics_is_reported_by_name_with_its_message() {
        let mut tasks = Tasks::default();
        tasks.spawn("quiet", std::future::pending());
        tasks.spawn("capture", async { panic!("boom at file 7") });
        let ended = tasks.first_to_end().await;
        assert_eq!(ended, Ended { name: "capture".into(), panic: Some("boom at file 7".into()) });
        assert_eq!(ended.to_string(), "the capture task panicked: boom at file 7");
    }

    #[tokio::test]
    async fn a_task_that_returns_early_is_reported_too() {
        let mut tasks = Tasks::default();
        tasks.spawn("watcher quay-1", async {});
        assert_eq!(tasks.first_to_end().await, Ended { name: "watcher quay-1".into(), panic: None });
    }
}
