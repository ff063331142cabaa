//! Other programs run as child processes (Tesseract, poppler's `pdftoppm`): started in a process group
//! of their own, their output read as it comes, stopped — the whole group, so a wrapper script's
//! children go too — when they overrun their time.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a program that ran to its end printed.
#[derive(Debug)]
pub struct Finished {
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Finished {
    /// The last line it printed on standard error, or how it ended: what a log line quotes.
    pub fn said(&self) -> String {
        let said = self.stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        if said.is_empty() { self.status.to_string() } else { said }
    }
}

/// Why a program gave no answer.
#[derive(Debug)]
pub enum NoAnswer {
    /// It could not be started (most often: not installed).
    NotStarted(std::io::Error),
    /// It ran past its time and was stopped.
    TimedOut,
    /// It could not be waited for.
    Lost(std::io::Error),
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAnswer::NotStarted(e) => write!(f, "could not be started ({e})"),
            NoAnswer::TimedOut => write!(f, "gave no answer in time and was stopped"),
            NoAnswer::Lost(e) => write!(f, "could not be waited for ({e})"),
        }
    }
}

/// Runs `cmd` with no input and waits for it, at most `timeout`; its output is read in threads of its
/// own (its warnings could fill a pipe), so the wait can stop a program that hangs.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Finished, NoAnswer> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child =
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(NoAnswer::NotStarted)?;
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > timeout => {
                #[cfg(unix)]
                // SAFETY: a plain system call on the group this child leads (it was started in its own).
                unsafe {
                    libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(NoAnswer::TimedOut);
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(NoAnswer::Lost(e)),
        }
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    Ok(Finished { status, stdout, stderr })
}

/// Reads a child's output to its end in a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_hangs_is_stopped_with_its_children() {
        let started = Instant::now();
        let r = run(Command::new("sh").args(["-c", "sleep 30 & sleep 30; wait"]), Duration::from_millis(200));
        assert!(matches!(r, Err(NoAnswer::TimedOut)), "{r:?}");
        // The grandchild held the pipes: had it survived, the drain threads would still be waiting.
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_and_the_last_complaint_are_kept() {
        let r = run(
            Command::new("sh").args(["-c", "echo out; echo first >&2; echo last >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .expect("sh runs");
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.said(), "last");
        assert!(!r.status.success());
        assert!(matches!(
            run(&mut Command::new("/nonexistent/program"), Duration::from_secs(1)),
            Err(NoAnswer::NotStarted(_))
        ));
    }
}
