//! Background jobs are claimed through the database: with several nodes claiming
//! at once each due job goes to exactly one, an expired lease hands a job to
//! another node, and a reschedule made while a job ran is not lost.

use std::collections::BTreeMap;

use osmosis_store::{Job, JobQueueKind, Lease, Stores};
use serde_json::json;

use crate::common::*;

const JOBS: usize = 400;

fn job(ws: &str, key: &str, run_at: i64) -> Job {
    Job {
        id: format!("job_{}", osmosis_model::ids::object_id()),
        workspace_id: ws.to_string(),
        kind: "test".into(),
        dedupe_key: key.to_string(),
        payload: json!({"key": key}),
        run_at,
        attempts: 0,
        last_error: None,
    }
}

/// Two nodes on one fresh database (each with its own pool).
async fn two_nodes() -> (Stores, Stores, TestDb) {
    let db = TestDb::new().await;
    (db.node().await, db.node().await, db)
}

#[tokio::test]
async fn every_due_job_is_claimed_exactly_once_across_nodes() {
    let (a, b, db) = two_nodes().await;
    for i in 0..JOBS {
        a.jobs
            .schedule_job(&job(WS, &format!("k{i}"), 1_000), 0)
            .await
            .unwrap();
    }
    // A job due later is left alone.
    a.jobs
        .schedule_job(&job(WS, "later", 10_000), 0)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), a.clone(), b.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            let node = format!("node-{n}");
            let mut mine = Vec::new();
            // Every round claims one job at least: more rounds than jobs means
            // finished jobs came back.
            for _ in 0..=JOBS {
                let claimed = store
                    .jobs
                    .claim_jobs(
                        &node,
                        Lease {
                            now_ms: 2_000,
                            duration_ms: 60_000,
                        },
                        7,
                    )
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                for j in claimed {
                    store.jobs.finish_job(&j, &node).await.unwrap();
                    mine.push(j.dedupe_key);
                }
            }
            panic!("{node} still found due jobs after {JOBS} rounds");
        }));
    }
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        for key in t.await.unwrap() {
            *counts.entry(key).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), JOBS);
    assert!(counts.values().all(|c| *c == 1), "a job was claimed twice");
    let later = b
        .jobs
        .claim_jobs(
            "x",
            Lease {
                now_ms: 20_000,
                duration_ms: 1,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].dedupe_key, "later");
    db.finish().await;
}

#[tokio::test]
async fn leases_expire_retries_wait_and_reschedules_survive() {
    let (a, b, db) = two_nodes().await;
    a.jobs.schedule_job(&job(WS, "crashy", 0), 0).await.unwrap();
    let first = a
        .jobs
        .claim_jobs(
            "node-a",
            Lease {
                now_ms: 100,
                duration_ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    // Node A dies holding it: no one else may take it during the lease…
    assert!(b
        .jobs
        .claim_jobs(
            "node-b",
            Lease {
                now_ms: 500,
                duration_ms: 1_000
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
    // …and after the lease, node B does.
    let taken = b
        .jobs
        .claim_jobs(
            "node-b",
            Lease {
                now_ms: 1_200,
                duration_ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].attempts, 2);
    // A late finish by the dead node's claim changes nothing.
    a.jobs.finish_job(&first[0], "node-a").await.unwrap();
    // A retry is not due before its time, and keeps the reason.
    b.jobs
        .retry_job(&taken[0], "node-b", 5_000, "provider down")
        .await
        .unwrap();
    assert!(b
        .jobs
        .claim_jobs(
            "node-b",
            Lease {
                now_ms: 4_000,
                duration_ms: 1_000
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
    let again = b
        .jobs
        .claim_jobs(
            "node-b",
            Lease {
                now_ms: 5_000,
                duration_ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(again[0].last_error.as_deref(), Some("provider down"));
    // Rescheduled while running: finishing the old run keeps the new one.
    a.jobs
        .schedule_job(&job(WS, "crashy", 9_000), 0)
        .await
        .unwrap();
    b.jobs.finish_job(&again[0], "node-b").await.unwrap();
    let next = a
        .jobs
        .claim_jobs(
            "node-a",
            Lease {
                now_ms: 9_000,
                duration_ms: 1_000,
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(next.len(), 1, "the reschedule survived");
    a.jobs.finish_job(&next[0], "node-a").await.unwrap();
    assert!(a
        .jobs
        .claim_jobs(
            "node-a",
            Lease {
                now_ms: 99_000,
                duration_ms: 1_000
            },
            10
        )
        .await
        .unwrap()
        .is_empty());
    db.finish().await;
}

/// The lease a connection's refresh takes on a shared database: one holder at a
/// time across nodes, taken over once it expired.
#[tokio::test]
async fn a_refresh_lease_has_one_holder_across_nodes_until_it_expires() {
    let (a, b, db) = two_nodes().await;
    let lease = |expires_at: i64| osmosis_store::ConnectRecord {
        workspace_id: WS.into(),
        kind: "refresh-lease".into(),
        id: "cnn_1".into(),
        customer_id: String::new(),
        doc: json!({}),
        expires_at,
        used_at: None,
        created_at: 0,
    };
    assert!(a
        .connect_records
        .take_lease(&lease(1_030), 1_000)
        .await
        .unwrap());
    assert!(
        !b.connect_records
            .take_lease(&lease(1_040), 1_010)
            .await
            .unwrap(),
        "held by a"
    );
    assert!(
        !a.connect_records
            .take_lease(&lease(1_040), 1_010)
            .await
            .unwrap(),
        "not reentrant"
    );
    assert!(
        b.connect_records
            .take_lease(&lease(1_070), 1_031)
            .await
            .unwrap(),
        "expired: b takes over"
    );
    assert!(!a
        .connect_records
        .take_lease(&lease(1_080), 1_050)
        .await
        .unwrap());
    // Released (expired at once): the next taker gets it.
    a.connect_records
        .put_connect_record(&lease(1_051))
        .await
        .unwrap();
    assert!(a
        .connect_records
        .take_lease(&lease(1_090), 1_060)
        .await
        .unwrap());
    db.finish().await;
}

#[tokio::test]
async fn the_job_queue_counts_waiting_and_running_jobs_by_kind() {
    let (a, _b, db) = two_nodes().await;
    assert_eq!(a.jobs.job_queue(5_000).await.unwrap(), vec![]);
    for (key, run_at) in [("a", 1_000), ("b", 3_000), ("later", 10_000)] {
        a.jobs.schedule_job(&job(WS, key, run_at), 0).await.unwrap();
    }
    let mut other = job(WS, "x", 4_000);
    other.kind = "other".into();
    a.jobs.schedule_job(&other, 0).await.unwrap();
    let lease = Lease {
        now_ms: 5_000,
        duration_ms: 1_000,
    };
    // The longest-waiting job (`a`, due at 1 000) is claimed; the queue is
    // read within its lease.
    let claimed = a.jobs.claim_jobs("node-a", lease, 1).await.unwrap();
    assert_eq!(claimed[0].dedupe_key, "a");
    let queue = a.jobs.job_queue(5_500).await.unwrap();
    assert_eq!(
        queue,
        vec![
            JobQueueKind {
                kind: "other".into(),
                waiting: 1,
                oldest_due_ms: Some(4_000),
                running: 0,
            },
            JobQueueKind {
                kind: "test".into(),
                waiting: 1,
                oldest_due_ms: Some(3_000),
                running: 1,
            },
        ]
    );
    // Past its lease the claimed job waits again.
    let queue = a.jobs.job_queue(7_000).await.unwrap();
    assert_eq!(queue[1].waiting, 2);
    assert_eq!(queue[1].oldest_due_ms, Some(1_000));
    assert_eq!(queue[1].running, 0);
    db.finish().await;
}
