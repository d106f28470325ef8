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
