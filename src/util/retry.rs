//! Retrying work that failed for the weather (disk full, database locked, share gone).

use std::future::Future;
use std::time::Duration;

use crate::error::Failure;

/// 250 ms doubling to 30 s.
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_millis((250u64 << attempt.min(7).saturating_sub(1)).min(30_000))
}

/// Runs `op` until it succeeds or fails for a bad input. Every transient failure raises a loud
/// alarm in the log and is retried with back-off; nothing is given up on, because giving up would
/// mean quarantining a good file or losing one.
pub async fn until_done<T, F, Fut>(what: &str, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempt = 0u32;
    loop {
        match op().await {
            Ok(v) => {
                if attempt > 0 {
                    crate::util::alarm::cleared(what);
                }
                return Ok(v);
            }
            Err(e) if e.is_transient() => {
                attempt += 1;
                let wait = backoff(attempt);
                crate::util::alarm::raise(
                    what,
                    format!("lỗi tạm thời, đang thử lại ({what}): {e}"),
                    format!("{what}: {e}"),
                );
                tracing::error!(
                    alarm = true, attempt, retry_in_ms = wait.as_millis() as u64, error = %e,
                    "{what} failed for a reason outside the files; nothing was lost, retrying"
                );
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}
