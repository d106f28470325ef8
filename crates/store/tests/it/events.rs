//! Incoming webhooks and app events on the backend under test: retention deletes
//! what is older than the cutoff, except deliveries still waiting to be processed
//! and events still waiting to be dispatched, whatever their age.

use osmosis_store::{AppEventRow, EventLogQuery, IncomingWebhook};
use serde_json::json;

use crate::common::*;

fn delivery(id: &str, status: &str, created_ms: i64) -> IncomingWebhook {
    IncomingWebhook {
        seq: 0,
        id: id.into(),
        workspace_id: WS.into(),
        target_kind: "app-event-type".into(),
        target_id: "aet_1".into(),
        customer_id: None,
        status: status.into(),
        error: None,
        event_ids: Vec::new(),
        request: json!({"body": {"n": id}}),
        created_ms,
        processed_ms: None,
    }
}

fn event(id: &str, status: &str, created_ms: i64) -> AppEventRow {
    AppEventRow {
        seq: 0,
        id: id.into(),
        workspace_id: WS.into(),
        target_id: "aet_1".into(),
        customer_id: "cus_1".into(),
        app_event_type_id: "aet_1".into(),
        app_event_subscription_id: None,
        incoming_webhook_id: "old_done".into(),
        fingerprint: format!("fp_{id}"),
        status: status.into(),
        error: None,
        event: json!({"n": id}),
        launched_flow_run_ids: Vec::new(),
        created_ms,
    }
}

fn query() -> EventLogQuery {
    EventLogQuery {
        workspace_id: WS.into(),
        limit: 100,
        ..Default::default()
    }
}

#[tokio::test]
async fn purging_keeps_what_is_newer_or_still_in_work() {
    let db = TestDb::new().await;
    let store = db.node().await.events;
    let deliveries = [
        delivery("old_waiting", "received", 1_000),
        delivery("old_done", "success", 1_000),
        delivery("old_failed", "error", 1_500),
        delivery("new_done", "success", 5_000),
    ];
    let events = [
        event("ev_old_waiting", "created", 1_000),
        event("ev_old_done", "success", 1_000),
        event("ev_new_done", "success", 5_000),
    ];
    store
        .store_deliveries(&deliveries, &events, &[], 1_000)
        .await
        .unwrap();
    assert_eq!(store.purge_events(1_000).await.unwrap(), 0, "nothing older");
    assert_eq!(store.purge_events(3_000).await.unwrap(), 3);
    let kept: Vec<String> = store
        .find_incoming_webhooks(&query())
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(kept, ["old_waiting", "new_done"]);
    let kept: Vec<String> = store
        .find_app_events(&query())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(kept, ["ev_old_waiting", "ev_new_done"]);
    assert_eq!(store.purge_events(3_000).await.unwrap(), 0);
    db.finish().await;
}

/// A group of deliveries is stored whole or not at all: when its last statement
/// fails (a delivery id already taken), the events inserted before it in the same
/// transaction are gone too, and the writer goes on with the next group. On
/// SQLite the group is one script sent to the writer's thread
/// (`SqlStore::write_all`); a script stopped half way must still roll back.
#[tokio::test]
async fn a_group_whose_last_statement_fails_stores_nothing_and_the_next_is_stored() {
    let db = TestDb::new().await;
    let store = db.node().await.events;
    store
        .store_deliveries(&[delivery("taken", "success", 1_000)], &[], &[], 1_000)
        .await
        .unwrap();
    let refused = store
        .store_deliveries(
            &[
                delivery("fresh", "success", 2_000),
                delivery("taken", "success", 2_000),
            ],
            &[event("ev_refused", "success", 2_000)],
            &[],
            2_000,
        )
        .await;
    assert!(refused.is_err(), "a delivery id stored twice");
    let ids = |events: bool| {
        let store = store.clone();
        async move {
            if events {
                let found = store.find_app_events(&query()).await.unwrap();
                found.into_iter().map(|e| e.id).collect::<Vec<_>>()
            } else {
                let found = store.find_incoming_webhooks(&query()).await.unwrap();
                found.into_iter().map(|d| d.id).collect::<Vec<_>>()
            }
        }
    };
    assert_eq!(
        ids(true).await,
        Vec::<String>::new(),
        "the event went with its group"
    );
    assert_eq!(ids(false).await, ["taken"], "the group's new delivery too");
    store
        .store_deliveries(
            &[delivery("next", "success", 3_000)],
            &[event("ev_next", "success", 3_000)],
            &[],
            3_000,
        )
        .await
        .unwrap();
    assert_eq!(ids(true).await, ["ev_next"]);
    let mut deliveries = ids(false).await;
    deliveries.sort();
    assert_eq!(deliveries, ["next", "taken"]);
    db.finish().await;
}

/// On SQLite the WAL is copied into the database file by a task of its own, not
/// by the writer once the WAL is large (`sqlite.rs`): a few megabytes written
/// reach the database file within moments, far below the writer's own
/// threshold.
#[tokio::test]
async fn the_wal_reaches_the_database_file_without_the_writer_checkpointing() {
    if is_postgres() {
        return;
    }
    let db = TestDb::new().await;
    let store = db.node().await.events;
    let file = std::path::PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    let size = || std::fs::metadata(&file).unwrap().len();
    let before = size();
    let big = "x".repeat(10_000);
    for batch in 0..20 {
        let deliveries: Vec<IncomingWebhook> = (0..20)
            .map(|i| {
                let mut d = delivery(&format!("d_{batch}_{i}"), "success", 1_000);
                d.request = json!({"body": {"pad": big}});
                d
            })
            .collect();
        store
            .store_deliveries(&deliveries, &[], &[], 1_000)
            .await
            .unwrap();
    }
    let started = std::time::Instant::now();
    while size() < before + 3_000_000 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "4 MB written, the database file grew by only {} bytes",
            size() - before
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    db.finish().await;
}
