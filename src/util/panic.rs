//! Panics turned into words for the log: a panic is a bug, and the alarm must say what it said.

/// The text of a panic payload (`panic!("…")` gives a `&str` or a `String`).
pub fn message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// What a task that did not finish left behind: its panic message, or that it was cancelled.
pub fn of_join_error(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => message(p.as_ref()),
        Err(_) => "cancelled".into(),
    }
}
