//! The two kinds of failure, kept apart because they are handled in opposite ways.
//!
//! A [`Failure::BadInput`] is the file's fault: retrying can never help, so the input is quarantined
//! with a reason a clerk can act on. A [`Failure::Transient`] is the weather's fault (disk full, database
//! locked, share gone): quarantining would misfile a good scan, so the work is retried with back-off and
//! an alarm is raised instead.

use std::fmt;

/// Why a piece of work did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The input itself is unusable. `code` is a stable key for machines (tests, the API); `reason` is
    /// written for the clerk at the counter and says what to do.
    BadInput { code: &'static str, reason: String },
    /// Something outside the input failed; the same work may succeed later.
    Transient { context: String, source: anyhow::Error },
}

impl Failure {
    /// Rejects an input with a stable code and a clerk-readable reason.
    pub fn bad(code: &'static str, reason: impl Into<String>) -> Self {
        Failure::BadInput { code, reason: reason.into() }
    }

    /// Wraps an environmental error with what was being attempted, so the alarm names the step.
    pub fn transient(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        Failure::Transient { context: context.into(), source: source.into() }
    }

    /// True when retrying may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Transient { .. })
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::BadInput { code, reason } => write!(f, "{reason} [{code}]"),
            Failure::Transient { context, source } => write!(f, "{context}: {source:#}"),
        }
    }
}

impl std::error::Error for Failure {}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::transient("file system", e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::transient("database", e)
    }
}

/// Shorthand for results whose error is a [`Failure`].
pub type Result<T, E = Failure> = std::result::Result<T, E>;
