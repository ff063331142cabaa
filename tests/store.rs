//! The case database in process, without the binary: capture, duplicates, ordinals, assembly,
//! quarantine and completeness, each a few milliseconds — on SQLite, and on PostgreSQL when
//! `SOHOA_TEST_DATABASE` names a server (`scripts/test.sh` runs these both ways). The end-to-end
//! tests show the same rules through real files; these pin them down where a change to the SQL breaks
//! them, with the rows read back through the store's own typed readers.

mod common;

use std::path::Path;

use sohoa::error::Code;
use sohoa::pages::{Colour, DpiSource, Format, SourceEncoding};
use sohoa::profile::{DocRole, Profile};
use sohoa::route::{CaseCode, CaseCodeRule};
use sohoa::store::Records;
use sohoa::store::assembly::{GroupKey, NewPage, SplitOutcome};
use sohoa::store::cases::{CaseFields, InputState, Procedure};
use sohoa::store::db::Location;
use sohoa::store::documents::{DocState, PageOutcome};
use sohoa::store::jobs::{Job, JobKind};
use sohoa::store::records::{CaptureOutcome, IntakeState, NewIntake};

const CASE: &str = "H15.50.05.13-261008-0975";
const OTHER: &str = "H15.50.05.13-261008-0976";
const AT: &str = "2026-10-08T09:00:00+07:00";

/// The records of a fresh temporary folder: its own SQLite file, or its own PostgreSQL database.
async fn open(dir: &Path) -> Records {
    let d = dir.to_path_buf();
    let url = tokio::task::spawn_blocking(move || common::database_for(&d)).await.expect("database_for");
    let location = match url {
        Some(url) => Location::parse(&url),
        None => Location::Sqlite(dir.join("sohoa.db")),
    };
    Records::open(&location).await.expect("the test database opens")
}

fn intake(sha: char, route: &str, name: &str) -> NewIntake {
    NewIntake {
        sha256: sha.to_string().repeat(64),
        bytes: 1000,
        source_path: format!("{route}/{name}"),
        source_name: name.to_string(),
        source_mtime: AT.to_string(),
        station: "quay-1".into(),
        operator: Some("Nguyễn Văn A".into()),
        captured_at: AT.to_string(),
        route_key: route.to_string(),
        hints: "{}".into(),
        unit: None,
    }
}

/// A case code as routing makes one: through the profile's rule.
fn code(c: &str) -> CaseCode {
    let rule = CaseCodeRule::from_profile(&Profile::embedded_default().settings.routing).expect("the default rule");
    rule.validate(c).expect("a valid code")
}

fn page(index: u32, case: Option<&str>, role: DocRole, doc_type: Option<&str>, group: GroupKey) -> NewPage {
    NewPage {
        page_index: index,
        width: 2480,
        height: 3508,
        dpi_x: 300.0,
        dpi_y: 300.0,
        dpi_source: DpiSource::File,
        colour: Colour::Gray,
        source_encoding: SourceEncoding::Jpeg,
        case_code: case.map(code),
        role,
        doc_type: doc_type.map(str::to_string),
        group_key: group,
        flags: Vec::new(),
        stack: None,
    }
}

fn pages(n: u32, case: &str, doc_type: Option<&str>, group: GroupKey) -> SplitOutcome {
    SplitOutcome::Pages {
        format: Format::Jpeg,
        pages: (0..n).map(|i| page(i, Some(case), DocRole::Input, doc_type, group.clone())).collect(),
    }
}

fn captured_id(o: &CaptureOutcome) -> String {
    match o {
        CaptureOutcome::Captured { intake_id, .. } => intake_id.clone(),
        other => panic!("expected a capture, got {other:?}"),
    }
}

/// Opens a fresh database and records captures of `files` (hash letter, case, name) in one batch;
/// their intake ids in order.
async fn with_captures(dir: &Path, files: &[(char, &str, &str)]) -> (Records, Vec<String>) {
    let r = open(dir).await;
    let batch: Vec<NewIntake> = files.iter().map(|&(sha, case, name)| intake(sha, case, name)).collect();
    let out = r.record_captures(&Profile::embedded_default(), &batch).await.expect("captures recorded");
    (r, out.iter().map(captured_id).collect())
}

/// Claims every pending job, in the order the queue hands them out.
async fn claim_all(r: &Records) -> Vec<Job> {
    let mut out = Vec::new();
    while let Some(job) = r.claim_job(true).await.expect("claim") {
        out.push(job);
    }
    out
}

/// Renders nothing: attaches a made-up PDF to every closed document whose render job is pending.
async fn attach_all(r: &Records) {
    for job in claim_all(r).await {
        assert_eq!(job.kind, JobKind::Render, "only render jobs are left");
        let (doc, rows) = r.document_for_render(&job.subject).await.expect("read").expect("the document exists");
        let sha = format!("{:0>64}", doc.ordinal);
        let outcomes: Vec<PageOutcome> = rows
            .iter()
            .map(|p| PageOutcome { page_id: p.id.clone(), encoding: "jpeg".into(), normalization: None })
            .collect();
        r.attach_pdf(&job.id, &doc.id, &sha, 4096, &outcomes, false, AT).await.expect("attach");
    }
}

#[tokio::test]
async fn a_capture_is_recorded_with_its_split_job_in_capture_order() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "1.jpg"), ('b', CASE, "2.jpg"), ('c', "", "3.jpg")]).await;
    let profile = Profile::embedded_default();
    let tally = r.tally().await.unwrap();
    assert_eq!((tally.intakes, tally.jobs_pending, tally.documents), (3, 3, 0));
    let jobs = claim_all(&r).await;
    assert_eq!(jobs.iter().map(|j| j.kind).collect::<Vec<_>>(), [JobKind::Split; 3]);
    assert_eq!(jobs.iter().map(|j| j.subject.clone()).collect::<Vec<_>>(), ids, "oldest capture first");
    assert!(jobs.iter().all(|j| j.attempts == 1 && j.profile_sha256 == profile.sha256));
    let first = r.intake(&ids[0]).await.unwrap().expect("recorded");
    assert_eq!((first.sha256.as_str(), first.source_name.as_str()), ("a".repeat(64).as_str(), "1.jpg"));
    assert_eq!(r.profile_text(&profile.sha256).await.unwrap().as_deref(), Some(profile.text.as_str()));
    // A claimed job is not handed out twice until it is given back.
    assert!(r.claim_job(true).await.unwrap().is_none());
    assert_eq!(r.requeue(&jobs[0].id).await.unwrap(), 1);
    let again = r.claim_job(true).await.unwrap().expect("requeued");
    assert_eq!((again.id.as_str(), again.attempts), (jobs[0].id.as_str(), 2));
}

#[tokio::test]
async fn the_same_bytes_for_the_same_case_are_one_capture_and_for_another_case_a_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let r = open(dir.path()).await;
    let profile = Profile::embedded_default();
    let first =
        r.record_captures(&profile, &[intake('a', CASE, "1.jpg"), intake('a', CASE, "copy.jpg")]).await.unwrap();
    let id = captured_id(&first[0]);
    assert_eq!(first[1], CaptureOutcome::Duplicate { intake_id: id.clone(), state: IntakeState::Captured });
    let later = r
        .record_captures(
            &profile,
            &[intake('a', CASE, "again.jpg"), intake('a', OTHER, "1.jpg"), intake('a', "", "x.jpg")],
        )
        .await
        .unwrap();
    assert_eq!(later[0], CaptureOutcome::Duplicate { intake_id: id.clone(), state: IntakeState::Captured });
    assert!(matches!(later[1], CaptureOutcome::Captured { reused: true, .. }), "{:?}", later[1]);
    assert!(matches!(later[2], CaptureOutcome::Captured { reused: false, .. }), "{:?}", later[2]);
    assert_eq!(r.tally().await.unwrap().intakes, 3);
    // One file row for the bytes, however many captures share them.
    let files = r.files().await.unwrap();
    assert_eq!(files, vec![("a".repeat(64), 1000, "original".to_string())]);
}

#[tokio::test]
async fn ordinals_follow_capture_order_whatever_order_the_splits_finish_in() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "1.jpg"), ('b', CASE, "2.jpg"), ('c', CASE, "3.jpg")]).await;
    let jobs = claim_all(&r).await;
    let file = |i: usize| GroupKey::File { intake: ids[i].clone() };
    // The last capture finishes first, then the second: nothing is filed until the first is split.
    r.finish_split(&jobs[2].id, &ids[2], &pages(1, CASE, None, file(2)), AT, true).await.unwrap();
    r.finish_split(&jobs[1].id, &ids[1], &pages(3, CASE, None, file(1)), AT, true).await.unwrap();
    assert!(r.case_documents_for_bundle(CASE).await.unwrap().is_empty());
    assert!(claim_all(&r).await.is_empty(), "no document is closed before its turn");
    r.finish_split(&jobs[0].id, &ids[0], &pages(2, CASE, None, file(0)), AT, true).await.unwrap();
    attach_all(&r).await;
    let docs = r.case_documents_for_bundle(CASE).await.unwrap();
    let seen: Vec<(i64, i64, String)> =
        docs.iter().map(|(d, p)| (d.ordinal, d.page_count, p[0].sha256.clone())).collect();
    let expect: Vec<(i64, i64, String)> =
        [(1, 2, 'a'), (2, 3, 'b'), (3, 1, 'c')].iter().map(|&(o, n, c)| (o, n, c.to_string().repeat(64))).collect();
    assert_eq!(seen, expect);
    assert!(docs.iter().all(|(d, _)| d.state == DocState::Attached && d.role == DocRole::Input));
    // Page numbers run in page order inside each document.
    assert_eq!(docs[1].1.iter().map(|p| p.page_index).collect::<Vec<_>>(), [0, 1, 2]);
    // A split finished again (a job run twice) changes nothing.
    r.finish_split(&jobs[0].id, &ids[0], &pages(2, CASE, None, file(0)), AT, true).await.unwrap();
    assert_eq!(r.tally().await.unwrap().pages_attached, 6);
}

#[tokio::test]
async fn a_folder_is_one_document_until_it_is_closed_and_unrouted_pages_stay_unfiled() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "1.jpg"), ('b', CASE, "2.jpg"), ('c', "", "3.jpg")]).await;
    let jobs = claim_all(&r).await;
    let folder = GroupKey::Folder { path: CASE.into() };
    r.finish_split(&jobs[0].id, &ids[0], &pages(1, CASE, Some("Đơn đề nghị"), folder.clone()), AT, false)
        .await
        .unwrap();
    r.finish_split(&jobs[1].id, &ids[1], &pages(2, CASE, Some("Đơn đề nghị"), folder.clone()), AT, false)
        .await
        .unwrap();
    let unrouted = SplitOutcome::Pages {
        format: Format::Jpeg,
        pages: vec![page(0, None, DocRole::Input, None, GroupKey::Folder { path: String::new() })],
    };
    r.finish_split(&jobs[2].id, &ids[2], &unrouted, AT, false).await.unwrap();
    assert!(claim_all(&r).await.is_empty(), "a folder's document stays open");
    r.request_close(&folder, AT).await.unwrap();
    attach_all(&r).await;
    let docs = r.case_documents_for_bundle(CASE).await.unwrap();
    assert_eq!(docs.len(), 1, "both files of the folder in one document");
    assert_eq!((docs[0].0.page_count, docs[0].0.doc_type.as_deref()), (3, Some("Đơn đề nghị")));
    let t = r.tally().await.unwrap();
    assert_eq!((t.pages_attached, t.pages_unfiled, t.documents, t.jobs_pending), (3, 1, 1, 0));
}

#[tokio::test]
async fn a_quarantined_input_is_listed_with_its_reason_and_does_not_hold_up_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "cut.jpg"), ('b', CASE, "2.jpg")]).await;
    let jobs = claim_all(&r).await;
    let bad = SplitOutcome::Quarantined { code: Code::TruncatedJpeg, reason: "the JPEG is cut short".into() };
    r.finish_split(&jobs[0].id, &ids[0], &bad, AT, true).await.unwrap();
    r.finish_split(&jobs[1].id, &ids[1], &pages(1, CASE, None, GroupKey::File { intake: ids[1].clone() }), AT, true)
        .await
        .unwrap();
    attach_all(&r).await;
    let listed = r.quarantine_list(Some(CASE)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].intake.as_str(), listed[0].code), (ids[0].as_str(), Code::TruncatedJpeg));
    assert_eq!(listed[0].reason, "the JPEG is cut short");
    assert!(listed[0].reason_vi.contains("cắt cụt"), "{}", listed[0].reason_vi);
    let docs = r.case_documents_for_bundle(CASE).await.unwrap();
    assert_eq!(docs.iter().map(|(d, _)| d.ordinal).collect::<Vec<_>>(), [1], "the good input is attached as 001");
    let t = r.tally().await.unwrap();
    assert_eq!((t.quarantined, t.documents), (1, 1));
}

#[tokio::test]
async fn completeness_counts_the_required_inputs_and_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let r = open(dir.path()).await;
    let profile = Profile::embedded_default();
    let birth = Procedure {
        code: "1.001193".into(),
        name: "Đăng ký khai sinh".into(),
        unit: String::new(),
        required_inputs: vec!["Tờ khai".into(), "Giấy chứng sinh".into()],
        issues_result: true,
    };
    r.put_procedure(&birth, "test", AT).await.unwrap();
    let fields = CaseFields { procedure: Some(birth.code.clone()), ..Default::default() };
    r.upsert_case(CASE, &fields, true, "test", AT).await.unwrap();
    let judge = || async { r.completeness(CASE, Some(&birth.code)).await.unwrap() };
    let c = judge().await;
    assert!(c.judged && !c.complete);
    assert_eq!(c.required.iter().map(|i| i.state).collect::<Vec<_>>(), [InputState::Missing; 2]);

    let out = r
        .record_captures(&profile, &[intake('a', CASE, "to-khai.jpg"), intake('b', CASE, "chung-sinh.jpg")])
        .await
        .unwrap();
    let ids: Vec<String> = out.iter().map(captured_id).collect();
    let jobs = claim_all(&r).await;
    // Types written the way a manifest might: decomposed and in another case still match.
    let nfd = "Tờ khai".chars().flat_map(|c| match c {
        'ờ' => vec!['o', '\u{031B}', '\u{0300}'],
        c => vec![c],
    });
    let to_khai: String = nfd.collect();
    r.finish_split(
        &jobs[0].id,
        &ids[0],
        &pages(1, CASE, Some(&to_khai), GroupKey::File { intake: ids[0].clone() }),
        AT,
        true,
    )
    .await
    .unwrap();
    r.finish_split(
        &jobs[1].id,
        &ids[1],
        &pages(1, CASE, Some("giấy chứng sinh"), GroupKey::File { intake: ids[1].clone() }),
        AT,
        true,
    )
    .await
    .unwrap();
    attach_all(&r).await;
    let c = judge().await;
    assert_eq!(c.required.iter().map(|i| i.state).collect::<Vec<_>>(), [InputState::Attached; 2], "{c:?}");
    assert_eq!(c.required[0].documents, [format!("{CASE}.001.pdf")]);
    assert!(c.result_required && c.results_attached == 0 && !c.complete, "no result yet");

    let out = r.record_captures(&profile, &[intake('c', CASE, "ket-qua.jpg")]).await.unwrap();
    let id = captured_id(&out[0]);
    let job = claim_all(&r).await.remove(0);
    let result = SplitOutcome::Pages {
        format: Format::Jpeg,
        pages: vec![page(0, Some(CASE), DocRole::Result, None, GroupKey::File { intake: id.clone() })],
    };
    r.finish_split(&job.id, &id, &result, AT, true).await.unwrap();
    attach_all(&r).await;
    let c = judge().await;
    assert!(c.complete, "{c:?}");
    assert_eq!((c.inputs_attached, c.results_attached), (2, 1));
}

#[tokio::test]
async fn a_job_running_when_its_process_died_counts_a_crash_and_a_clerks_retry_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "1.jpg")]).await;
    for died in 1..=2 {
        let job = r.claim_job(true).await.unwrap().expect("the split job");
        assert_eq!(job.crashes, died - 1);
        // The process dies with the job running; the next start puts it back, one crash more.
        assert_eq!(r.recover_running_jobs().await.unwrap(), 1);
    }
    let job = r.claim_job(true).await.unwrap().expect("the split job");
    assert_eq!((job.crashes, job.attempts), (2, 3));
    // A transient failure is no crash; a panic is.
    r.retry_later(&job.id, std::time::Duration::ZERO, "disk full", false).await.unwrap();
    let job = r.claim_job(true).await.unwrap().expect("again");
    assert_eq!(job.crashes, 2);
    r.retry_later(&job.id, std::time::Duration::ZERO, "panicked: index out of bounds", true).await.unwrap();
    let job = r.claim_job(true).await.unwrap().expect("again");
    assert_eq!(job.crashes, 3);
    assert_eq!(r.last_error(&job.id).await.unwrap().as_deref(), Some("panicked: index out of bounds"));
    // Set aside as a poison job, then retried by a clerk: it runs from nothing, no crash remembered.
    let reason = "processing it stopped the service".to_string();
    r.finish_split(&job.id, &ids[0], &SplitOutcome::Quarantined { code: Code::Crashed, reason }, AT, true)
        .await
        .unwrap();
    assert_eq!(r.quarantine_list(None).await.unwrap()[0].code, Code::Crashed);
    let again = r.retry_quarantined(&ids[0], &sohoa::store::quarantine::Retry::AsCaptured, "clerk", AT).await.unwrap();
    assert!(again.is_ok(), "{again:?}");
    let job = r.claim_job(true).await.unwrap().expect("the split job, queued again");
    assert_eq!((job.crashes, job.attempts), (0, 1));
}

#[tokio::test]
async fn a_render_set_aside_as_poison_is_rendered_again_only_when_a_clerk_asks() {
    let dir = tempfile::tempdir().unwrap();
    let (r, ids) = with_captures(dir.path(), &[('a', CASE, "1.jpg")]).await;
    let split = claim_all(&r).await.remove(0);
    r.finish_split(&split.id, &ids[0], &pages(1, CASE, None, GroupKey::File { intake: ids[0].clone() }), AT, true)
        .await
        .unwrap();
    let render = r.claim_job(true).await.unwrap().expect("the render job");
    assert_eq!(render.kind, JobKind::Render);
    // Nothing to render again while it is not set aside.
    assert!(!r.render_again(CASE, 1, "clerk", AT).await.unwrap());
    r.set_aside(
        &render.id,
        &render.subject,
        "processing it stopped the service 2 times",
        "làm tệp này đã làm dừng dịch vụ 2 lần",
        AT,
    )
    .await
    .unwrap();
    assert!(r.claim_job(true).await.unwrap().is_none(), "a set-aside job is never run again by itself");
    let doc = r.document(&render.subject).await.unwrap().expect("the document");
    assert_eq!(doc.state, DocState::Closed, "kept, waiting for its PDF");
    assert!(!r.render_again(CASE, 2, "clerk", AT).await.unwrap(), "no document 002");
    assert!(r.render_again(CASE, 1, "clerk", AT).await.unwrap());
    let again = r.claim_job(true).await.unwrap().expect("queued again");
    assert_eq!((again.id.as_str(), again.crashes, again.attempts), (render.id.as_str(), 0, 1));
}
