//! Bad weather is retried, never quarantined: a locked database and a full disk, with real processes.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn case_with_two_pages(tmp: &Path) -> std::path::PathBuf {
    generate(&tmp.join("g"), "good");
    let src = tmp.join("src");
    std::fs::create_dir_all(src.join(CODE)).unwrap();
    for f in ["a4_300.jpg", "bitonal.png"] {
        std::fs::copy(tmp.join("g").join(f), src.join(CODE).join(f)).unwrap();
    }
    src
}

#[test]
fn a_locked_database_is_waited_out_not_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_with_two_pages(tmp.path());
    let data = tmp.path().join("data");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(sohoa(&data, &["ingest", empty.to_str().unwrap()]).status.success());

    // Another process holds the write lock for 4 seconds: on SQLite an exclusive transaction, on
    // PostgreSQL a session that locks the intake table, as a long-running maintenance job might.
    let mut locker = match database_for(&data) {
        Some(url) => Command::new("psql")
            .args([url.as_str(), "-q", "-c", "BEGIN", "-c", "LOCK TABLE intakes IN ACCESS EXCLUSIVE MODE"])
            .args(["-c", "\\echo locked", "-c", "SELECT pg_sleep(4)", "-c", "COMMIT"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
        None => {
            let script = format!(
                "import sqlite3, time\nc = sqlite3.connect({:?}, isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(4)\nc.execute('COMMIT')\n",
                data.join("sohoa.db")
            );
            Command::new("python3").arg("-c").arg(script).stdout(Stdio::piped()).spawn().unwrap()
        }
    };
    let mut line = String::new();
    BufReader::new(locker.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");

    let started = Instant::now();
    let o = sohoa(&data, &["ingest", src.to_str().unwrap()]);
    let _ = locker.wait();
    assert!(o.status.success(), "{}", text(&o));
    assert!(started.elapsed() >= Duration::from_secs(3), "the lock was not in the way?");
    // SQLite answers "busy" and the capture is retried with an alarm; PostgreSQL queues the writer.
    if !on_postgres() {
        assert!(text(&o).contains("retrying"), "no alarm was raised:\n{}", text(&o));
    }
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes WHERE state = 'quarantined'"), 0);
    assert_eq!(pdfs(&data, CODE).len(), 2);
    assert!(std::fs::read_dir(src.join(CODE)).unwrap().next().is_none(), "inbox emptied after commit");
}

/// Kills the child if the test fails before it is waited for.
struct KillOnDrop(Option<std::process::Child>);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

struct Mount(std::path::PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_waited_out_and_nothing_is_lost() {
    let tmp = tempfile::tempdir().unwrap();
    let src = case_with_two_pages(tmp.path());
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"]).arg(&data).status();
    if !mounted.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let _guard = Mount(data.clone());
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(sohoa(&data, &["ingest", empty.to_str().unwrap()]).status.success());

    // Fill the disk to the last byte.
    let filler = data.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let mut small = vec![0u8; 1024];
    while f.write_all(&small).is_ok() {}
    small.truncate(1);
    while f.write_all(&small).is_ok() {}
    drop(f);

    let child = command(&data)
        .args(["ingest", src.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(Some(child));
    std::thread::sleep(Duration::from_secs(3));
    let running = guard.0.as_mut().map(|c| c.try_wait().unwrap().is_none()).unwrap_or(false);
    assert!(running, "ingest should be waiting for space, not finished");
    // Nothing may have left the inbox while the disk was full.
    assert_eq!(std::fs::read_dir(src.join(CODE)).unwrap().count(), 2);
    std::fs::remove_file(&filler).unwrap();
    let o = guard.0.take().unwrap().wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("alarm"), "{}", text(&o));
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes WHERE state = 'quarantined'"), 0);
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), 2);
    assert_eq!(pdfs(&data, CODE).len(), 2);
    let v = sohoa(&data, &["verify"]);
    assert!(v.status.success(), "{}", text(&v));
}
