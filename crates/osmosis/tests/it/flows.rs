//! Flow runs end to end: started through every route, executed by the scheduler,
//! read back with their node runs (docs/spec/semantics.md §4).

use serde_json::{json, Value};

use crate::common::mock_crm::crm_fixture;
use crate::common::Server;

/// Creates the integration-level flow `key` with `nodes`.
async fn flow(s: &Server, integration_id: &str, key: &str, nodes: Value) -> Value {
    s.create(
        "flows",
        json!({"key": key, "name": key, "integrationId": integration_id, "nodes": nodes}),
    )
    .await
}

/// Waits for run `id` to end; the run.
async fn finished(s: &Server, token: &str, id: &str) -> Value {
    let (status, run) = s.get(&format!("/flow-runs/{id}?wait=20"), token).await;
    assert_eq!(status, 200, "{run}");
    run
}

#[tokio::test]
async fn a_flow_runs_its_nodes_and_records_each_node_run() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    flow(
        &s,
        &f.integration_id,
        "note",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "shape"}]},
            "shape": {"type": "transform-data",
                      "config": {"output": {"text": {"$var": "$.input.start.text"}, "who": {"$var": "$.connection.id"}}},
                      "links": [{"key": "send"}]},
            "send": {"type": "api-request-to-external-app",
                     "config": {"request": {"method": "POST", "path": "/echo/notes", "data": {"$var": "$.input.shape"}}}}
        }),
    )
    .await;
    let (status, run) = s
        .post(
            &format!("/connections/{}/flows/note/run", f.alice_conn),
            &f.alice,
            json!({"input": {"text": "hello"}}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    // Its connection had nothing else to run: the node that took it runs it at once.
    assert!(
        ["queued", "running"].contains(&run["state"].as_str().unwrap()),
        "{run}"
    );
    let id = run["id"].as_str().unwrap();
    let run = finished(&s, &f.alice, id).await;
    assert_eq!(run["state"], "completed", "{run}");
    assert_eq!(run["nodes"]["send"]["runs"], 1, "{run}");
    let (_, output) = s.get(&format!("/flow-runs/{id}/output"), &f.alice).await;
    assert_eq!(
        output["body"],
        json!({"text": "hello", "who": f.alice_conn}),
        "{output}"
    );
    let (_, runs) = s
        .get(&format!("/flow-runs/{id}/nodes/send/runs"), &f.alice)
        .await;
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{runs}");
    let node_run_id = items[0]["id"].as_str().unwrap();
    let (_, one) = s
        .get(
            &format!("/flow-runs/{id}/nodes/send/runs/{node_run_id}"),
            &f.alice,
        )
        .await;
    assert_eq!(one["status"], "completed", "{one}");
    assert_eq!(one["logs"][0]["type"], "api-request", "{one}");
    // Another customer sees none of it.
    let (status, _) = s.get(&format!("/flow-runs/{id}"), &f.bob).await;
    assert_eq!(status, 404);
    s.finish().await;
}
