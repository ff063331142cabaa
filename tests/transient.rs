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

/// Writes `path` until its disk has not a byte left.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    for size in [64 * 1024, 1024, 1] {
        let chunk = vec![0u8; size];
        while f.write_all(&chunk).is_ok() {}
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
    fill(&filler);

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

#[test]
fn a_database_that_fails_its_writes_mid_service_recovers_without_a_restart() {
    if on_postgres() {
        eprintln!("skipped: the embedded database's own disk is what fills here");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(sohoa(&data, &["ingest", empty.to_str().unwrap()]).status.success());
    // The records on a disk of their own, which will fill while the blobs' disk has room: SQLite's
    // writes fail ("database or disk is full") in the middle of a running service.
    let small = tmp.path().join("dbfs");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(&small).status();
    if !mounted.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipped: cannot mount a small tmpfs here (needs root)");
        return;
    }
    let _guard = Mount(small.clone());
    for f in ["sohoa.db-wal", "sohoa.db-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::copy(data.join("sohoa.db"), small.join("sohoa.db")).unwrap();
    std::fs::remove_file(data.join("sohoa.db")).unwrap();
    std::os::unix::fs::symlink(small.join("sohoa.db"), data.join("sohoa.db")).unwrap();

    // Fill the records' disk to the last byte while the service runs, then make room again.
    let filler = small.join("filler");
    fault_and_recovery(tmp.path(), &data, None, || fill(&filler), || std::fs::remove_file(&filler).unwrap());
}

/// Runs `serve` on `data` (on `database` when given), brings on a fault once it is healthy, drops three
/// scans, and checks what must hold meanwhile — nothing leaves the inbox unrecorded, `/health` says
/// degraded, why and since when — then lifts the fault and checks that the running service captures
/// and attaches everything by itself, nothing quarantined, with the fault alarmed in its log.
fn fault_and_recovery(tmp: &Path, data: &Path, database: Option<&str>, fault: impl FnOnce(), lift: impl FnOnce()) {
    let inbox = tmp.join("inbox");
    std::fs::create_dir_all(inbox.join(CODE)).unwrap();
    generate(&tmp.join("g"), "good");
    let log = std::fs::File::create(tmp.join("serve.log")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut serve = command(data);
    serve.args(["serve", "--inbox", inbox.to_str().unwrap()]).env("SOHOA_LISTEN", format!("127.0.0.1:{port}"));
    if let Some(url) = database {
        serve.env("SOHOA_DATABASE", url);
    }
    let child = serve.stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    let _service = KillOnDrop(Some(child));
    // The body, whatever the status (503 when the records cannot be read).
    let health = || -> serde_json::Value {
        match ureq::get(&format!("http://127.0.0.1:{port}/health")).call() {
            Ok(r) | Err(ureq::Error::Status(_, r)) => {
                r.into_string().ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
            }
            Err(_) => serde_json::Value::Null,
        }
    };
    let started = Instant::now();
    while health()["status"] != "ok" {
        assert!(started.elapsed() < Duration::from_secs(30), "the service did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }

    fault();
    for (i, name) in ["a4_300.jpg", "gray_200.jpg", "bitonal.png"].iter().enumerate() {
        std::fs::copy(tmp.join("g").join(name), inbox.join(CODE).join(format!("p{i}-{name}"))).unwrap();
    }
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(std::fs::read_dir(inbox.join(CODE)).unwrap().count(), 3, "nothing leaves the inbox unrecorded");
    // /health tells the truth meanwhile: degraded, why, since when.
    let h = health();
    assert_eq!(h["status"], "degraded", "{h}");
    assert!(h["since"].is_string() && !h["why"][0]["en"].as_str().unwrap_or("").is_empty(), "{h}");
    println!("while the fault lasted: {h}");

    // The cause gone: the running service captures and attaches everything by itself.
    lift();
    let lifted = Instant::now();
    let attached = || try_count(data, "SELECT COUNT(*) FROM documents WHERE state = 'attached'").unwrap_or(0);
    while attached() < 3 {
        let log = std::fs::read_to_string(tmp.join("serve.log")).unwrap_or_default();
        assert!(lifted.elapsed() < Duration::from_secs(30), "not recovered 30 s after the fault went:\n{log}");
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("recovered {:.1} s after the fault went", lifted.elapsed().as_secs_f64());
    assert_eq!(count(data, "SELECT COUNT(*) FROM intakes WHERE state = 'quarantined'"), 0);
    assert_eq!(count(data, "SELECT COUNT(*) FROM intakes"), 3);
    assert!(std::fs::read_dir(inbox.join(CODE)).unwrap().next().is_none(), "inbox emptied after commit");
    let h = health();
    assert_eq!(h["status"], "ok", "{h}");
    let log = std::fs::read_to_string(tmp.join("serve.log")).unwrap_or_default();
    assert!(log.contains("alarm"), "the fault was alarmed:\n{log}");
    for l in log.lines().filter(|l| l.contains("alarm")).take(4) {
        println!("{l}");
    }
}

/// Runs SQL on the PostgreSQL server as its administrator, in database `db`.
fn admin_sql(db: &str, sql: &str) {
    let server = std::env::var("SOHOA_TEST_DATABASE").unwrap_or_default();
    let base = server.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(server);
    // Writable whatever the database's default (the read-only test sets it).
    let o = Command::new("psql")
        .env("PGOPTIONS", "-c default_transaction_read_only=off")
        .args([format!("{base}/{db}").as_str(), "-qAt", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .unwrap();
    assert!(o.status.success(), "{sql}: {}", String::from_utf8_lossy(&o.stderr));
}

/// Ends every session a login has open on the server (as a failover or an administrator would).
fn end_sessions_of(db: &str, user: &str) {
    admin_sql(
        db,
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{user}' AND pid <> pg_backend_pid()"
        ),
    );
}

/// A login of its own that owns this test's database, so that it can be refused without touching the
/// other tests'; returns its address for the service and a name to revoke.
fn own_login(data: &Path) -> (String, String, String) {
    let url = database_for(data).expect("on PostgreSQL");
    let (base, db) = url.rsplit_once('/').map(|(b, d)| (b.to_string(), d.to_string())).unwrap();
    let user = db.replacen("sohoa_t_", "sohoa_r_", 1);
    admin_sql(
        &db,
        &format!("CREATE ROLE {user} LOGIN; ALTER DATABASE {db} OWNER TO {user}; GRANT ALL ON SCHEMA public TO {user}"),
    );
    let host = base.rsplit_once('@').map(|(_, h)| h.to_string()).unwrap_or(base.clone());
    (format!("postgres://{user}@{host}/{db}"), db, user)
}

/// A fault on PostgreSQL for a login of its own: the `fault` statement, then every session of the login
/// ended (as an administrator or a failover would); later the `lift` statement. Each is given the
/// database's and the login's names.
fn on_own_login(fault: fn(&str, &str) -> String, lift: fn(&str, &str) -> String) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (url, db, user) = own_login(&data);
    fault_and_recovery(
        tmp.path(),
        &data,
        Some(&url),
        || {
            admin_sql(&db, &fault(&db, &user));
            end_sessions_of(&db, &user);
        },
        || admin_sql(&db, &lift(&db, &user)),
    );
}

#[test]
fn a_revoked_database_login_is_waited_out_and_nothing_is_lost() {
    if !on_postgres() {
        eprintln!("skipped: logins are PostgreSQL's");
        return;
    }
    // The login taken away (an administrator's mistake, a rotated password), then given back.
    on_own_login(|_, user| format!("ALTER ROLE {user} NOLOGIN"), |_, user| format!("ALTER ROLE {user} LOGIN"));
}

#[test]
fn a_database_turned_read_only_is_waited_out_and_nothing_is_lost() {
    if !on_postgres() {
        eprintln!(
            "skipped: a running SQLite file cannot be made read-only under the process (the disk-full test covers \
             its failing writes)"
        );
        return;
    }
    // Every new session read-only, as on a standby after a failover; then writable again, with the
    // sessions opened meanwhile left as they are.
    on_own_login(
        |db, _| format!("ALTER DATABASE {db} SET default_transaction_read_only = on"),
        |db, _| format!("ALTER DATABASE {db} RESET default_transaction_read_only"),
    );
}
