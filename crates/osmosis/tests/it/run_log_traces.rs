//! What an action run's trace keeps of large bodies: a preview, with the whole body
//! in the external API log the trace entry names.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;

#[tokio::test]
async fn a_large_response_is_a_preview_in_the_trace_and_whole_in_the_api_log() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 100).await;
    s.create(
        "actions",
        json!({"key": "everyone", "name": "Everyone", "type": "list-data-records",
               "config": {"dataSource": {"collectionKey": "contacts"}}}),
    )
    .await;
    let (status, run) = s
        .post(
            "/act",
            &f.alice,
            json!({"key": "everyone", "connectionId": f.alice_conn}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert!(!run["output"]["records"].as_array().unwrap().is_empty());
    let id = run["actionRunId"].as_str().unwrap();
    let (_, one) = s
        .get(&format!("/action-run-logs/{id}/details"), &f.alice)
        .await;
    let call = &one["details"]["externalApiCalls"][0];
    let body = &call["response"]["body"];
    assert_eq!(body["truncated"], true, "{call}");
    let bytes = body["bytes"].as_u64().unwrap();
    let preview = body["preview"].as_str().unwrap();
    assert!(bytes > 4096 && preview.len() <= 4096, "{body}");
    assert_eq!(call["request"]["body"], Value::Null, "{call}");

    // The external API log, written in the background, holds the whole page.
    let log_id = call["externalApiLogId"].as_str().unwrap();
    let mut whole = Value::Null;
    for _ in 0..100 {
        let (status, log) = s
            .get(&format!("/external-api-logs/{log_id}"), &f.alice)
            .await;
        if status == 200 {
            whole = log;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let full = whole["response"]["body"].to_string();
    assert_eq!(full.len() as u64, bytes, "{whole}");
    assert!(full.starts_with(preview));
    // Bob sees neither.
    let r = s.get(&format!("/external-api-logs/{log_id}"), &f.bob).await;
    assert_error(&r, 404, "bad_request", "not_found");
}
