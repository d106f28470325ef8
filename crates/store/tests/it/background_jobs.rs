//! Background jobs (a workspace export a client polls for): read back as created
//! within their workspace only, settled once — completed with a result and a file,
//! or failed — and purged with their files once finished long enough ago.

use osmosis_store::{BackgroundJob, BackgroundJobStatus, BackgroundJobStore};
use serde_json::json;

use crate::common::*;

/// A running export job of `ws` created at `created_ms`.
fn job(ws: &str, id: &str, created_ms: i64) -> BackgroundJob {
    BackgroundJob {
        id: id.into(),
        workspace_id: ws.into(),
        kind: "export".into(),
        status: BackgroundJobStatus::Running,
        params: json!({"types": ["flows", "integrations"], "include": {"secrets": false}}),
        result: None,
        error: None,
        created_ms,
        finished_ms: None,
    }
}

/// The job as stored, which must exist.
async fn stored_job(jobs: &dyn BackgroundJobStore, ws: &str, id: &str) -> BackgroundJob {
    jobs.background_job(ws, id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("job {ws}/{id} exists"))
}

#[test]
fn a_status_reads_back_from_its_name() {
    for status in [
        BackgroundJobStatus::Running,
        BackgroundJobStatus::Completed,
        BackgroundJobStatus::Failed,
    ] {
        assert_eq!(BackgroundJobStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(BackgroundJobStatus::Completed.as_str(), "completed");
    assert_eq!(BackgroundJobStatus::parse("done"), None);
}

#[tokio::test]
async fn a_background_job_reads_back_as_created_within_its_workspace_only() {
    let db = TestDb::new().await;
    let jobs = db.node().await.background_jobs;
    let created = job(WS, "bgj_1", 1_000);
    jobs.create_background_job(&created, None).await.unwrap();
    assert_eq!(stored_job(&*jobs, WS, "bgj_1").await, created);
    // Another workspace's id, and an id never created, find nothing.
    assert_eq!(jobs.background_job("ws_2", "bgj_1").await.unwrap(), None);
    assert_eq!(jobs.background_job(WS, "bgj_2").await.unwrap(), None);
    // The same id in another workspace is another job.
    let other = BackgroundJob {
        kind: "import".into(),
        ..job("ws_2", "bgj_1", 2_000)
    };
    jobs.create_background_job(&other, None).await.unwrap();
    assert_eq!(stored_job(&*jobs, "ws_2", "bgj_1").await, other);
    assert_eq!(stored_job(&*jobs, WS, "bgj_1").await, created);
    // An id is created once in its workspace.
    assert!(jobs.create_background_job(&created, None).await.is_err());
    // A running job has produced no file.
    assert_eq!(jobs.background_job_file(WS, "bgj_1").await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn a_completed_job_keeps_its_result_and_file_and_settles_once() {
    let db = TestDb::new().await;
    let jobs = db.node().await.background_jobs;
    jobs.create_background_job(&job(WS, "bgj_1", 1_000), None)
        .await
        .unwrap();
    let result = json!({"elements": 42, "bytes": 5});
    let file: &[u8] = b"PK\x03\x04\x00";
    // Not another workspace's job, nor one that does not exist.
    assert!(!jobs
        .complete_background_job("ws_2", "bgj_1", &result, Some(file), 1_500)
        .await
        .unwrap());
    assert!(!jobs
        .complete_background_job(WS, "bgj_2", &result, Some(file), 1_500)
        .await
        .unwrap());
    assert_eq!(
        jobs.background_job_file("ws_2", "bgj_1").await.unwrap(),
        None
    );
    assert_eq!(jobs.background_job_file(WS, "bgj_2").await.unwrap(), None);
    assert_eq!(
        stored_job(&*jobs, WS, "bgj_1").await.status,
        BackgroundJobStatus::Running
    );

    assert!(jobs
        .complete_background_job(WS, "bgj_1", &result, Some(file), 2_000)
        .await
        .unwrap());
    let completed = stored_job(&*jobs, WS, "bgj_1").await;
    assert_eq!(
        completed,
        BackgroundJob {
            status: BackgroundJobStatus::Completed,
            result: Some(result.clone()),
            finished_ms: Some(2_000),
            ..job(WS, "bgj_1", 1_000)
        }
    );
    assert_eq!(
        jobs.background_job_file(WS, "bgj_1")
            .await
            .unwrap()
            .as_deref(),
        Some(file)
    );
    // The file is its workspace's alone.
    assert_eq!(
        jobs.background_job_file("ws_2", "bgj_1").await.unwrap(),
        None
    );

    // Settling it again, either way, answers false and changes nothing.
    assert!(!jobs
        .complete_background_job(WS, "bgj_1", &json!({"again": true}), Some(b"other"), 3_000)
        .await
        .unwrap());
    assert!(!jobs
        .complete_background_job(WS, "bgj_1", &json!({"again": true}), None, 3_000)
        .await
        .unwrap());
    assert!(!jobs
        .fail_background_job(WS, "bgj_1", "too late", 3_000)
        .await
        .unwrap());
    assert_eq!(stored_job(&*jobs, WS, "bgj_1").await, completed);
    assert_eq!(
        jobs.background_job_file(WS, "bgj_1")
            .await
            .unwrap()
            .as_deref(),
        Some(file)
    );

    // A job may complete without a file.
    jobs.create_background_job(&job(WS, "bgj_3", 1_000), None)
        .await
        .unwrap();
    assert!(jobs
        .complete_background_job(WS, "bgj_3", &json!([]), None, 2_000)
        .await
        .unwrap());
    assert_eq!(
        stored_job(&*jobs, WS, "bgj_3").await.result,
        Some(json!([]))
    );
    assert_eq!(jobs.background_job_file(WS, "bgj_3").await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn a_failed_job_keeps_its_error_has_no_file_and_settles_once() {
    let db = TestDb::new().await;
    let jobs = db.node().await.background_jobs;
    jobs.create_background_job(&job(WS, "bgj_1", 1_000), None)
        .await
        .unwrap();
    assert!(!jobs
        .fail_background_job("ws_2", "bgj_1", "export failed", 2_000)
        .await
        .unwrap());
    assert!(!jobs
        .fail_background_job(WS, "bgj_2", "export failed", 2_000)
        .await
        .unwrap());
    assert!(jobs
        .fail_background_job(WS, "bgj_1", "export failed", 2_000)
        .await
        .unwrap());
    let failed = stored_job(&*jobs, WS, "bgj_1").await;
    assert_eq!(
        failed,
        BackgroundJob {
            status: BackgroundJobStatus::Failed,
            error: Some("export failed".into()),
            finished_ms: Some(2_000),
            ..job(WS, "bgj_1", 1_000)
        }
    );
    assert_eq!(jobs.background_job_file(WS, "bgj_1").await.unwrap(), None);

    // A late completion writes neither its result nor its file.
    assert!(!jobs
        .complete_background_job(WS, "bgj_1", &json!({"ok": true}), Some(b"late"), 3_000)
        .await
        .unwrap());
    assert!(!jobs
        .fail_background_job(WS, "bgj_1", "again", 3_000)
        .await
        .unwrap());
    assert_eq!(stored_job(&*jobs, WS, "bgj_1").await, failed);
    assert_eq!(jobs.background_job_file(WS, "bgj_1").await.unwrap(), None);
    db.finish().await;
}

#[tokio::test]
async fn purge_deletes_jobs_finished_before_the_cutoff_with_their_files_and_keeps_the_rest() {
    let db = TestDb::new().await;
    let jobs = db.node().await.background_jobs;
    for (ws, id) in [
        (WS, "running_old"),
        (WS, "completed_old"),
        (WS, "failed_old"),
        (WS, "completed_at_cutoff"),
        (WS, "completed_recent"),
        ("ws_2", "completed_old"),
    ] {
        jobs.create_background_job(&job(ws, id, 0), None)
            .await
            .unwrap();
    }
    let result = json!({"ok": true});
    for (ws, id, finished_ms) in [
        (WS, "completed_old", 100),
        (WS, "completed_at_cutoff", 500),
        (WS, "completed_recent", 900),
        ("ws_2", "completed_old", 200),
    ] {
        let file = format!("file of {ws}/{id}");
        assert!(jobs
            .complete_background_job(ws, id, &result, Some(file.as_bytes()), finished_ms)
            .await
            .unwrap());
    }
    assert!(jobs
        .fail_background_job(WS, "failed_old", "boom", 300)
        .await
        .unwrap());

    // Finished before 500: the two old completed jobs and the failed one.
    assert_eq!(jobs.purge_background_jobs(500).await.unwrap(), 3);
    for (ws, id) in [
        (WS, "completed_old"),
        (WS, "failed_old"),
        ("ws_2", "completed_old"),
    ] {
        assert_eq!(
            jobs.background_job(ws, id).await.unwrap(),
            None,
            "{ws}/{id}"
        );
        assert_eq!(
            jobs.background_job_file(ws, id).await.unwrap(),
            None,
            "{ws}/{id}"
        );
    }
    // A running job stays whatever its age; jobs finished at or after the cutoff
    // stay with their files.
    assert_eq!(
        stored_job(&*jobs, WS, "running_old").await.status,
        BackgroundJobStatus::Running
    );
    for id in ["completed_at_cutoff", "completed_recent"] {
        assert_eq!(
            stored_job(&*jobs, WS, id).await.status,
            BackgroundJobStatus::Completed
        );
        assert_eq!(
            jobs.background_job_file(WS, id).await.unwrap(),
            Some(format!("file of {WS}/{id}").into_bytes())
        );
    }
    assert_eq!(jobs.purge_background_jobs(500).await.unwrap(), 0);

    // Later, the rest of the finished ones go; the running one still stays.
    assert_eq!(jobs.purge_background_jobs(i64::MAX).await.unwrap(), 2);
    assert_eq!(
        jobs.background_job_file(WS, "completed_recent")
            .await
            .unwrap(),
        None
    );
    assert!(jobs
        .background_job(WS, "running_old")
        .await
        .unwrap()
        .is_some());
    // It can still complete, and its file stays until it is purged in its turn.
    assert!(jobs
        .complete_background_job(WS, "running_old", &result, Some(b"x"), 1_000)
        .await
        .unwrap());
    assert_eq!(jobs.purge_background_jobs(1_000).await.unwrap(), 0);
    assert_eq!(
        jobs.background_job_file(WS, "running_old").await.unwrap(),
        Some(b"x".to_vec())
    );
    assert_eq!(jobs.purge_background_jobs(1_001).await.unwrap(), 1);
    assert_eq!(
        jobs.background_job_file(WS, "running_old").await.unwrap(),
        None
    );
    db.finish().await;
}
