//! External events under SIGKILL, with the real binary
//! (`crates/engine/src/events/external/pull.rs`: `launch`, `launch_stranded`).
//!
//! A pull stores the events it found, then starts their runs (one per group of
//! 100 events), then records on each event the runs it launched. The server is
//! killed while the events are stored and unrecorded, their runs started — the
//! window where a node dying leaves them `created`. To hold the server in that
//! window deterministically, the test puts a trigger in the database (as someone
//! with database access could) that refuses every update of the event log
//! records: the pull stores its events and starts their runs, and recording them
//! fails. The test then kills the server (SIGKILL), drops the trigger and starts
//! it again on the same database: the subscription's next pull launches the
//! stranded events — and each event ends `success` with exactly one run, the one
//! started before the kill, its group's events as its `launchedBy` ids; no run is
//! started twice. On SQLite and, in its pass, PostgreSQL.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;
use crate::external_events::{feed_connector, start_feed};

/// Events the pull finds: three groups (100, 100, 10), three runs.
const EVENTS: usize = 210;
const GROUPS: usize = 3;

/// Runs `sql` on the test's database, past the server.
async fn database_sql(db: &str, sql: &str) {
    if backend() == "postgres" {
        sqlx_pg_pool(db).await.execute_sql(sql).await;
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect(db)
            .await
            .expect("the SQLite database");
        sqlx::query(sql)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        pool.close().await;
    }
}

/// A trigger refusing every update of an event log record: what the pull stores
/// stays as stored (`created`).
async fn refuse_settling(db: &str) {
    if backend() == "postgres" {
        database_sql(
            db,
            "CREATE FUNCTION test_refuse_settling() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'the test keeps external events unsettled'; END $$",
        )
        .await;
        database_sql(
            db,
            "CREATE TRIGGER test_refuse_settling BEFORE UPDATE ON external_event_log_records \
             FOR EACH ROW EXECUTE FUNCTION test_refuse_settling()",
        )
        .await;
    } else {
        database_sql(
            db,
            "CREATE TRIGGER test_refuse_settling BEFORE UPDATE ON external_event_log_records \
             BEGIN SELECT RAISE(ABORT, 'the test keeps external events unsettled'); END",
        )
        .await;
    }
}

async fn allow_settling(db: &str) {
    if backend() == "postgres" {
        database_sql(
            db,
            "DROP TRIGGER test_refuse_settling ON external_event_log_records",
        )
        .await;
    } else {
        database_sql(db, "DROP TRIGGER test_refuse_settling").await;
    }
}

/// `POST …/pull-events` until it pulls (the subscription's own job may be pulling).
async fn pull(node: &Running, sub: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = node
            .call(
                "POST",
                &format!("/external-event-subscriptions/{sub}/pull-events"),
                &admin_token(),
                Some(json!({})),
            )
            .await;
        if status == 200 {
            return body;
        }
        assert!(Instant::now() < deadline, "never pulled: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_storing_and_settling_events_launches_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let port = free_port();
    let node = Running::serve_workspace(&db, port, dir.path(), &[]).await;
    let (url, feed) = start_feed().await;
    let connector = node.create("connectors", feed_connector(&url)).await;
    let integration = node
        .create(
            "integrations",
            json!({"key": connector["key"], "name": connector["name"], "connectorId": connector["id"]}),
        )
        .await;
    let alice = customer_token("alice");
    let (status, conn) = node
        .call(
            "POST",
            "/connections",
            &alice,
            Some(json!({"integrationId": integration["id"],
                        "input": {"apiKey": crate::common::mock_api::API_KEY}})),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    node.create(
        "flows",
        json!({"key": "on-created", "integrationId": integration["id"], "nodes": {
            "t": {"type": "data-record-created-trigger",
                  "config": {"dataSource": {"collectionKey": "tickets"}},
                  "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {
                "id": {"$var": "$.input.t.record.id"}}}}
        }}),
    )
    .await;
    let (status, inst) = node
        .call(
            "GET",
            &format!("/connections/{conn}/flows/on-created?autoCreate=true"),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    let inst = inst["id"].as_str().unwrap().to_owned();
    let (status, subs) = node
        .call(
            "GET",
            &format!("/external-event-subscriptions?connectionId={conn}"),
            &admin_token(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{subs}");
    let subs = subs["items"].as_array().unwrap();
    assert_eq!(subs.len(), 1, "{subs:?}");
    let sub = subs[0]["id"].as_str().unwrap().to_owned();
    // The baseline (the subscription's job may have taken it already).
    pull(&node, &sub).await;

    refuse_settling(&db).await;
    for i in 0..EVENTS {
        feed.push(json!({"id": format!("t{i}"), "subject": format!("Ticket {i}")}));
    }
    pull(&node, &sub).await;
    let records_path = format!("/external-event-log-records?externalEventSubscriptionId={sub}");
    let runs_path = format!("/flow-runs?connectionFlowId={inst}");
    // Stored, their runs started, none recorded: the window.
    let stranded = node.all_items(&format!("{records_path}&limit=100")).await;
    assert_eq!(stranded.len(), EVENTS);
    assert!(
        stranded.iter().all(|r| r["status"] == "created"),
        "{stranded:?}"
    );
    let before = node.all_items(&format!("{runs_path}&limit=100")).await;
    assert_eq!(before.len(), GROUPS, "{before:?}");
    assert!(node.kill().code().is_none(), "killed by the signal");

    allow_settling(&db).await;
    let node = Running::serve_workspace(&db, port, dir.path(), &[]).await;
    pull(&node, &sub).await;
    let records = node.all_items(&format!("{records_path}&limit=100")).await;
    assert_eq!(records.len(), EVENTS);
    let runs = node.all_items(&format!("{runs_path}&limit=100")).await;
    let ids = |v: &[Value]| {
        v.iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&runs), ids(&before), "no run started after the restart");
    let mut launched_by: std::collections::HashMap<String, Vec<String>> = Default::default();
    for run in &runs {
        let (status, run) = node
            .call(
                "GET",
                &format!("/flow-runs/{}", run["id"].as_str().unwrap()),
                &admin_token(),
                None,
            )
            .await;
        assert_eq!(status, 200, "{run}");
        assert_eq!(run["launchedBy"]["type"], "external-event", "{run}");
        for id in run["launchedBy"]["ids"].as_array().unwrap() {
            let prior = launched_by.insert(
                id.as_str().unwrap().to_owned(),
                vec![run["id"].as_str().unwrap().to_owned()],
            );
            assert!(prior.is_none(), "event {id} in two runs");
        }
    }
    for record in &records {
        assert_eq!(record["status"], "success", "{record}");
        let id = record["id"].as_str().unwrap();
        assert_eq!(
            record["launchedFlowRunIds"],
            json!(launched_by.get(id).expect("every event in a run")),
            "{record}"
        );
    }
    node.stop();
    drop_database(pg).await;
}
