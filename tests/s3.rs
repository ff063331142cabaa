//! The S3-compatible blob store against a real server on loopback (moto): the blob-store contract on a
//! folder and a bucket alike, a bucket-backed ingest end to end, and uploads killed at random instants.

mod common;

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::s3::{BUCKET, S3};
use common::*;
use sohoa::store::BlobStore;

/// The library's own calls read the server from the process environment: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn stores(s3: &S3, root: &Path, prefix: &str) -> Vec<(&'static str, Arc<dyn BlobStore>)> {
    s3.enter();
    let url = format!("s3://{BUCKET}/{prefix}");
    vec![
        ("folder", sohoa::store::open_blobs(&root.join("local"), None).unwrap()),
        ("bucket", sohoa::store::open_blobs(&root.join("s3"), Some(&url)).unwrap()),
    ]
}

fn put(store: &dyn BlobStore, bytes: &[u8]) -> (String, bool) {
    let staged = store.stage(&mut &bytes[..]).unwrap();
    let sha = staged.sha256.clone();
    assert_eq!(staged.bytes, bytes.len() as u64);
    let fresh = store.persist(vec![staged]).unwrap();
    (sha, fresh[0])
}

fn read(store: &dyn BlobStore, sha: &str) -> Vec<u8> {
    let mut out = Vec::new();
    store.open(sha).unwrap().read_to_end(&mut out).unwrap();
    out
}

/// Bytes that differ at every seed and do not compress.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn the_blob_store_contract_holds_on_a_folder_and_a_bucket() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = common::s3::prefix_for(tmp.path());
    for (name, store) in stores(&s3, tmp.path(), &prefix) {
        let store = store.as_ref();
        // Named by the hash of exactly the bytes; read back whole, streamed or at once.
        let small = noise(100_000, 1);
        let (sha, fresh) = put(store, &small);
        assert_eq!(sha, sha256_hex(&small), "{name}");
        assert!(fresh, "{name}");
        assert_eq!(read(store, &sha), small, "{name}");
        assert_eq!(store.read_all(&sha).unwrap(), small, "{name}");
        assert!(store.contains(&sha).unwrap(), "{name}");
        // Larger than one request: uploaded in parts, read back the same.
        let large = noise(40 << 20, 2);
        let (big, fresh) = put(store, &large);
        assert!(fresh, "{name}");
        assert_eq!(sha256_hex(&read(store, &big)), sha256_hex(&large), "{name}");
        // A writer's bytes (the pipeline's PDFs).
        let mut w = store.stage_writer().unwrap();
        std::io::Write::write_all(&mut w, b"%PDF-1.7 written by a stage").unwrap();
        let staged = w.finish().unwrap();
        let pdf = staged.sha256.clone();
        store.persist(vec![staged]).unwrap();
        assert_eq!(read(store, &pdf), b"%PDF-1.7 written by a stage", "{name}");
        // The same bytes again: not new, and the stored object is not written again.
        assert_eq!(put(store, &small), (sha.clone(), false), "{name}");
        // Staged and dropped: nothing under a final name, the temporary gone.
        let lost = noise(5000, 3);
        let staged = store.stage(&mut &lost[..]).unwrap();
        let lost_sha = staged.sha256.clone();
        assert_eq!(store.stale_temporaries().unwrap().len(), 1, "{name}");
        store.discard(staged).unwrap();
        assert!(!store.contains(&lost_sha).unwrap(), "{name}");
        assert!(store.stale_temporaries().unwrap().is_empty(), "{name}");
        // Listing, age, removal (the orphan sweep's calls).
        let mut listed = store.list().unwrap();
        listed.sort();
        let mut want = vec![sha.clone(), big.clone(), pdf.clone()];
        want.sort();
        assert_eq!(listed, want, "{name}");
        assert!(store.age(&sha).unwrap() < 600, "{name}");
        store.remove(&pdf).unwrap();
        assert!(!store.contains(&pdf).unwrap(), "{name}");
        assert!(store.open(&pdf).is_err(), "{name}");
        // A name that is not a hash is refused before any request.
        assert!(store.open("../../etc/passwd").is_err(), "{name}");
    }
    // Put-if-absent means never an overwrite: an object already under the name stays as it is, even
    // when (damaged behind the store's back) it no longer holds those bytes — `verify` reports it.
    let bytes = noise(2000, 4);
    let sha = sha256_hex(&bytes);
    let key = format!("{prefix}/sha256/{}/{sha}", &sha[..2]);
    s3.put_object(&key, b"damaged");
    let bucket = sohoa::store::open_blobs(&tmp.path().join("s3"), Some(&format!("s3://{BUCKET}/{prefix}"))).unwrap();
    assert_eq!(put(bucket.as_ref(), &bytes), (sha, false));
    assert_eq!(s3.object(&key).as_deref(), Some(&b"damaged"[..]));
}

#[test]
fn a_wrong_bucket_is_said_at_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "a.jpg")]);
    let o = command(&data)
        .envs(s3.env())
        .env("SOHOA_STORE", "s3://no-such-bucket/x")
        .args(["ingest", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let said = text(&o);
    assert!(said.contains("s3://no-such-bucket/x") && said.contains("AWS_ENDPOINT_URL"), "{said}");
    assert!(said.contains("NoSuchBucket") && !said.contains("<?xml"), "the server's answer, in a line: {said}");
    assert!(walk(&src).len() == 1, "nothing left the inbox");
    assert!(!data.exists(), "nothing was made on disk");
    // No key: said at once, without asking a cloud's metadata service.
    let o = command(&data)
        .envs(s3.env())
        .env_remove("AWS_ACCESS_KEY_ID")
        .env("SOHOA_STORE", format!("s3://{BUCKET}/x"))
        .args(["ingest", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("AWS_ACCESS_KEY_ID"), "{}", text(&o));
    let o = command(&data).env("SOHOA_STORE", "s3:///x").args(["verify"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("names no bucket"), "{}", text(&o));
}

/// `sohoa` with this test's data folder in the bucket (whatever the suite's own store is).
fn in_bucket(s3: &S3, data: &Path) -> std::process::Command {
    let mut c = command(data);
    c.envs(s3.env()).env("SOHOA_STORE", format!("s3://{BUCKET}/{}", common::s3::prefix_for(data)));
    c
}

#[test]
fn a_bucket_backed_ingest_keeps_every_byte_in_the_bucket_and_verifies() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "a.jpg"), ("bitonal.png", "b.png"), ("cmyk.jpg", "c.jpg")]);
    let originals: Vec<String> = walk(&src).iter().map(|p| sha256_file(p)).collect();
    let data = tmp.path().join("data");
    let o = in_bucket(&s3, &data).args(["ingest", src.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Every recorded file is an object named by the hash of its bytes, and nothing else is there.
    let prefix = common::s3::prefix_for(&data);
    let files: Vec<(String,)> = query(&data, "SELECT sha256 FROM files");
    let mut keys = s3.keys(&format!("{prefix}/"));
    keys.sort();
    let mut want: Vec<String> = files.iter().map(|(s,)| format!("{prefix}/sha256/{}/{s}", &s[..2])).collect();
    want.sort();
    assert_eq!(keys, want);
    for (sha,) in &files {
        let bytes = s3.object(&format!("{prefix}/sha256/{}/{sha}", &sha[..2])).unwrap();
        assert_eq!(&sha256_hex(&bytes), sha);
    }
    for sha in &originals {
        assert!(files.iter().any(|(s,)| s == sha), "original {sha} kept");
    }
    assert!(!data.join("blobs/sha256").exists(), "no blob is kept in the data folder");
    assert!(fs::read_dir(data.join("spool/tmp")).unwrap().next().is_none(), "the spool is empty");
    // The case folder views are written out from the bucket and open as PDFs.
    let pdfs = pdfs(&data, CODE);
    assert_eq!(pdfs.len(), 3, "one document a file at the counter");
    for p in &pdfs {
        qpdf_check(p);
    }
    let ok = in_bucket(&s3, &data).arg("verify").output().unwrap();
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&format!("verified {} files", files.len())), "{}", text(&ok));
    // An export reads from the bucket too, and qpdf accepts what it wrote.
    let out = tmp.path().join("export");
    let o = in_bucket(&s3, &data).args(["export", CODE, "--out", out.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let exported: Vec<_> = walk(&out).into_iter().filter(|p| p.extension().is_some_and(|e| e == "pdf")).collect();
    assert!(!exported.is_empty(), "{:?}", walk(&out));
    for p in exported {
        qpdf_check(&p);
    }
    // The same files again: already captured, nothing new stored.
    let o = in_bucket(&s3, &data).args(["ingest", src.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(s3.keys(&format!("{prefix}/")).len(), keys.len());
}

#[test]
fn uploads_killed_at_random_instants_leave_no_partial_object_and_nothing_lost() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    // Three inputs too large for one request (uploaded in parts) beside ordinary scans.
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "a.jpg"), ("cmyk.jpg", "c.jpg")]);
    for i in 0..3u64 {
        fs::write(src.join(CODE).join(format!("large-{i}.tif")), noise(40 << 20, 10 + i)).unwrap();
    }
    let inputs: Vec<String> = walk(&src).iter().map(|p| sha256_file(p)).collect();
    let data = tmp.path().join("data");
    let prefix = common::s3::prefix_for(&data);
    let keep = keep_profile(tmp.path());
    // Kill instants spread over the run (fixed, so a failure can be replayed).
    let mut killed = 0;
    for wait_ms in [150u64, 400, 700, 1000, 1300, 1700, 2200, 2800, 3500, 4500] {
        let mut child = in_bucket(&s3, &data)
            .args(["ingest", src.to_str().unwrap(), "--profile", keep.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(wait_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        child.wait().unwrap();
        // Whatever instant it died at, every object under a final name holds exactly its bytes.
        for key in s3.keys(&format!("{prefix}/sha256/")) {
            let bytes = s3.object(&key).unwrap();
            assert!(key.ends_with(&sha256_hex(&bytes)), "{key} holds other bytes after a kill at {wait_ms} ms");
        }
    }
    assert!(killed >= 3, "the runs were killed while working ({killed})");
    let o = in_bucket(&s3, &data)
        .args(["ingest", src.to_str().unwrap(), "--profile", keep.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success() || o.status.code() == Some(1), "{}", text(&o));
    // Every input captured exactly once, its bytes in the bucket.
    assert_eq!(count(&data, "SELECT COUNT(*) FROM intakes"), inputs.len() as i64);
    for sha in &inputs {
        assert_eq!(
            common::s3::object(&s3.endpoint, &format!("{prefix}/sha256/{}/{sha}", &sha[..2])).map(|b| sha256_hex(&b)),
            Some(sha.clone())
        );
    }
    // The sweep leaves only what records name; verify agrees.
    let o = in_bucket(&s3, &data).args(["sweep", "--grace", "0"]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let files: Vec<(String,)> = query(&data, "SELECT sha256 FROM files");
    assert_eq!(s3.keys(&format!("{prefix}/sha256/")).len(), files.len());
    let ok = in_bucket(&s3, &data).arg("verify").output().unwrap();
    assert!(ok.status.success(), "{}", text(&ok));
}

#[test]
fn a_second_copy_is_kept_in_step_from_the_records_rehashed_and_verified() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let src = case_folder(tmp.path(), &[("a4_300.jpg", "a.jpg"), ("bitonal.png", "b.png"), ("cmyk.jpg", "c.jpg")]);
    let data = tmp.path().join("data");
    // The primary is the suite's store (a folder, or a bucket on the PostgreSQL pass).
    let o = command(&data).args(["ingest", src.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let files: Vec<(String,)> = query(&data, "SELECT sha256 FROM files");
    let prefix = common::s3::prefix_for(&tmp.path().join("replica"));
    let url = format!("s3://{BUCKET}/{prefix}");
    let run = |args: &[&str]| command(&data).envs(s3.env()).args(args).output().unwrap();

    // The primary itself is not a second copy.
    let own = match common::s3::store_env(&data) {
        Some(env) => env.into_iter().find(|(k, _)| *k == "SOHOA_STORE").map(|(_, v)| v).unwrap(),
        None => data.join("blobs").display().to_string(),
    };
    let doubled = own.replacen("s3://sohoa-test/", "s3://sohoa-test//", 1);
    for primary in [format!("{own}/"), doubled] {
        let o = run(&["replicate", "--to", &primary]);
        assert_eq!(o.status.code(), Some(2), "{primary}: {}", text(&o));
        assert!(text(&o).contains("is the primary store itself"), "{}", text(&o));
    }
    let o = run(&["replicate", "--to", "S3://sohoa-test/x"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!Path::new("S3:").exists(), "no folder named like a bucket");
    let o = run(&["verify", "--replica", tmp.path().join("never-made").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!tmp.path().join("never-made").exists(), "a check makes nothing");

    let o = run(&["replicate", "--to", &url]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains(&format!("{n} recorded file(s) checked, {n} copied", n = files.len())), "{}", text(&o));
    let keys = s3.keys(&format!("{prefix}/sha256/"));
    assert_eq!(keys.len(), files.len());
    for key in &keys {
        assert!(key.ends_with(&sha256_hex(&s3.object(key).unwrap())), "{key} holds its bytes");
    }
    // Again: nothing to do.
    let o = run(&["replicate", "--to", &url]);
    assert!(text(&o).contains(", 0 copied"), "{}", text(&o));
    let o = run(&["verify", "--replica", &url]);
    assert!(o.status.success(), "{}", text(&o));

    // The copy damaged behind sohoa's back: every kind of problem is named.
    let originals: Vec<(String,)> = query(&data, "SELECT sha256 FROM files WHERE kind = 'original' ORDER BY sha256");
    let changed = &originals[0].0;
    let gone = &files.iter().find(|(s,)| s != changed).unwrap().0;
    let key = |sha: &str| format!("{prefix}/sha256/{}/{sha}", &sha[..2]);
    common::s3::delete_object(&s3.endpoint, &key(gone));
    s3.put_object(&key(changed), b"not the bytes");
    let stray = "f".repeat(64);
    s3.put_object(&key(&stray), b"stray");
    let o = run(&["verify", "--replica", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("MISSING     {gone}")), "{out}");
    assert!(out.contains(&format!("CHANGED     {changed}")), "{out}");
    assert!(out.contains(&format!("UNEXPECTED  {stray}")), "{out}");
    // A pass puts back what is missing and never overwrites: the changed object is reported, not hidden.
    let o = run(&["replicate", "--to", &url]);
    assert!(text(&o).contains(", 1 copied"), "{}", text(&o));
    assert_eq!(s3.object(&key(gone)).map(|b| sha256_hex(&b)).as_deref(), Some(gone.as_str()));

    // A damaged primary never spreads: the file is not copied, and said.
    let folder = tmp.path().join("copy");
    common::s3::tamper_blob(&data, changed, b"damaged in the primary");
    let o = run(&["replicate", "--to", folder.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains(&format!("NOT COPIED  {changed}")), "{}", text(&o));
    assert!(!folder.join("sha256").join(&changed[..2]).join(changed).exists());
    let o = run(&["verify", "--replica", folder.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("MISSING     {changed}")), "{}", text(&o));
}

#[test]
fn a_store_that_goes_away_keeps_no_spooled_copies_behind() {
    // Bytes spooled for an upload that fails are dropped with it: the caller stages them again when it
    // retries, so an outage does not pile copies up on the local disk.
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let bucket = {
        let own = common::s3::S3::own();
        own.enter();
        let store = sohoa::store::open_blobs(&tmp.path().join("s3"), Some(&format!("s3://{BUCKET}/gone"))).unwrap();
        drop(own); // the server stops
        store
    };
    for round in 0..3u64 {
        let staged = bucket.stage(&mut &noise(50_000, 20 + round)[..]).unwrap();
        assert!(bucket.persist(vec![staged]).is_err(), "the upload fails while the server is away");
        assert!(bucket.stale_temporaries().unwrap().is_empty(), "round {round}: no spool file left");
    }
}

#[test]
fn the_service_keeps_a_second_copy_in_step_and_says_how_far_behind_it_is() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let s3 = S3::start();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let inbox = tmp.path().join("inbox");
    let prefix = common::s3::prefix_for(&tmp.path().join("replica"));
    let url = format!("s3://{BUCKET}/{prefix}");
    let log = std::fs::File::create(tmp.path().join("serve.log")).unwrap();
    let child = command(&data)
        .envs(s3.env())
        .args(["serve", "--inbox", inbox.to_str().unwrap(), "--replica", &url])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let _service = common::http::Server(child);
    generate(&tmp.path().join("g"), "good");
    fs::create_dir_all(inbox.join(CODE)).unwrap();
    for name in ["a4_300.jpg", "bitonal.png", "cmyk.jpg"] {
        fs::copy(tmp.path().join("g").join(name), inbox.join(CODE).join(name)).unwrap();
    }
    // Every recorded file reaches the copy, a few seconds behind, and `status` says nothing is left.
    let t = std::time::Instant::now();
    loop {
        let files = try_count(&data, "SELECT COUNT(*) FROM files").unwrap_or(0) as usize;
        let copied = s3.keys(&format!("{prefix}/sha256/")).len();
        let status = text(&command(&data).envs(s3.env()).arg("status").output().unwrap());
        if files >= 6 && copied == files && status.contains(&format!("Replica {url}: 0 recorded file(s)")) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "{copied} of {files} files copied; status:\n{status}\n{}",
            fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let o = command(&data).envs(s3.env()).args(["verify", "--replica", &url]).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));

    // A file whose stored bytes are damaged before the copy reaches it is not copied: the round stops
    // there, the lag says so, and the log names it.
    let before = try_count(&data, "SELECT COUNT(*) FROM files").unwrap_or(0);
    let bytes = fs::read(tmp.path().join("g/page.png")).unwrap();
    let sha = sha256_hex(&bytes);
    fs::write(inbox.join(CODE).join("page.png"), &bytes).unwrap();
    let t = std::time::Instant::now();
    while try_count(&data, "SELECT COUNT(*) FROM files").unwrap_or(0) == before {
        assert!(t.elapsed() < Duration::from_secs(30), "the new scan was never recorded");
        std::thread::sleep(Duration::from_millis(50));
    }
    common::s3::tamper_blob(&data, &sha, b"damaged before the copy");
    std::thread::sleep(Duration::from_secs(20));
    let status = text(&command(&data).envs(s3.env()).arg("status").output().unwrap());
    assert!(!status.contains(&format!("Replica {url}: 0 recorded file(s)")), "{status}");
    assert!(s3.object(&format!("{prefix}/sha256/{}/{sha}", &sha[..2])).is_none(), "the damaged file was not copied");
    let log = fs::read_to_string(tmp.path().join("serve.log")).unwrap_or_default();
    assert!(log.contains("could not copy a file to the replica") && log.contains(&sha), "{log}");
}
