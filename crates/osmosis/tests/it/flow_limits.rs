//! The limits of flow runs (semantics §4.5): the queue cap per connection, the
//! node output cap, the run time limit, stopping running and queued runs, one run
//! at a time per connection, and retention. Slow nodes wait at the probe's gate
//! or meet at its barrier, so nothing here depends on how fast anything runs.

use std::time::Duration;

use osmosis_engine::flows::FlowLimits;
use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;
use crate::flow_nodes::{finished, flow, id_of, node_runs, run_flow, start, var, Probe};

/// `start → wait` (at the probe's gate) `→ after`.
fn held(probe: &Probe) -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "wait"}]},
        "wait": {"type": "custom-http-request", "config": probe.request("/gate", json!({"tag": "held"})),
                 "links": [{"key": "after"}]},
        "after": {"type": "transform-data", "config": {"output": {"after": true}}}
    })
}

fn plain() -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "done"}]},
        "done": {"type": "transform-data", "config": {"output": {"done": true}}}
    })
}

/// The ids of every run the admin can list.
async fn all_runs(s: &Server) -> Vec<String> {
    let (status, page) = s.get("/flow-runs?limit=1000", &s.admin()).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn flow_queue_cap_refuses_runs_past_it_and_stores_nothing_for_them() {
    let s = Server::start_with_flow_limits(FlowLimits {
        queue_cap: 3,
        ..FlowLimits::default()
    })
    .await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    flow(&s, &f.integration_id, "plain", plain()).await;
    let running = id_of(&start(&s, &f.alice, &f.alice_conn, "held", json!({})).await);
    probe.wait_at_gate(1).await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        let run = start(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
        assert_eq!(run["state"], "queued", "{run}");
        queued.push(id_of(&run));
    }
    let before = all_runs(&s).await;
    assert_eq!(before.len(), 4);
    for (path, body) in [
        (
            format!("/connections/{}/flows/plain/run", f.alice_conn),
            json!({}),
        ),
        (
            "/flow-runs".to_owned(),
            json!({"flowInstanceId": crate::flow_nodes::instance_id(&s, &f.alice, &f.alice_conn, "plain").await}),
        ),
    ] {
        let r = s.post(&path, &f.alice, body).await;
        assert_error(&r, 429, "bad_request", "rate_limit_exceeded");
    }
    assert_eq!(
        all_runs(&s).await,
        before,
        "nothing stored for the refused runs"
    );
    // Another connection has a queue of its own.
    let his = run_flow(&s, &f.bob, &f.bob_conn, "plain", json!({})).await;
    assert_eq!(his["state"], "completed", "{his}");
    probe.open_gate();
    assert_eq!(finished(&s, &f.alice, &running).await["state"], "completed");
    for id in &queued {
        assert_eq!(finished(&s, &f.alice, id).await["state"], "completed");
    }
    // Room again.
    let run = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(run["state"], "completed", "{run}");
    s.finish().await;
}

#[tokio::test]
async fn flow_node_output_over_the_limit_fails_the_node() {
    let s = Server::start_with_flow_limits(FlowLimits {
        max_output_bytes: 1_000,
        ..FlowLimits::default()
    })
    .await;
    let f = crm_fixture(&s, 0).await;
    flow(
        &s,
        &f.integration_id,
        "big",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "make"}]},
            "make": {"type": "run-javascript",
                     "config": {"code": "export default async ({input}) => ({text: 'x'.repeat(input.start.n)})"},
                     "links": [{"key": "after"}]},
            "after": {"type": "transform-data", "config": {"output": {"length": var("$.input.make.text.length")}}}
        }),
    )
    .await;
    let small = run_flow(&s, &f.alice, &f.alice_conn, "big", json!({"n": 100})).await;
    assert_eq!(small["state"], "completed", "{small}");
    let run = run_flow(&s, &f.alice, &f.alice_conn, "big", json!({"n": 5_000})).await;
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["errors"][0]["key"], "node_output_too_large", "{run}");
    assert_eq!(run["nodes"]["make"]["erroredRuns"], 1, "{run}");
    assert!(run["nodes"].get("after").is_none(), "{run}");
    let make = &node_runs(&s, &f.alice, &id_of(&run), "make").await[0];
    assert_eq!(make["status"], "failed", "{make}");
    assert_eq!(make["errors"][0]["key"], "node_output_too_large", "{make}");
    assert_eq!(make["outputs"], json!([]), "the output is not kept: {make}");
    s.finish().await;
}

#[tokio::test]
async fn flow_run_past_its_time_limit_fails() {
    let s = Server::start_with_flow_limits(FlowLimits {
        max_run: Duration::from_secs(1),
        ..FlowLimits::default()
    })
    .await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "held", json!({})).await;
    probe.open_gate();
    assert_eq!(run["state"], "failed", "{run}");
    assert_eq!(run["errors"][0]["key"], "flow_run_timeout", "{run}");
    assert!(
        run["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 second"),
        "{run}"
    );
    assert!(run["nodes"].get("after").is_none(), "{run}");
    assert!(run["endTime"].is_string(), "{run}");
    s.finish().await;
}

#[tokio::test]
async fn flow_stop_ends_a_running_run_at_its_next_node_and_a_queued_one_at_once() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    flow(&s, &f.integration_id, "plain", plain()).await;
    let running = id_of(&start(&s, &f.alice, &f.alice_conn, "held", json!({})).await);
    probe.wait_at_gate(1).await;
    let queued = id_of(&start(&s, &f.alice, &f.alice_conn, "plain", json!({})).await);

    // Queued: stopped at once, and never runs.
    let (status, stopped) = s
        .post(&format!("/flow-runs/{queued}/stop"), &f.alice, json!({}))
        .await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    assert!(stopped["endTime"].is_string(), "{stopped}");
    // Running: it goes on with the node it is in, and stops before the next.
    let (status, asked) = s
        .post(&format!("/flow-runs/{running}/stop"), &f.alice, json!({}))
        .await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["state"], "running", "{asked}");
    probe.open_gate();
    let run = finished(&s, &f.alice, &running).await;
    assert_eq!(run["state"], "stopped", "{run}");
    assert_eq!(run["nodes"]["wait"]["runs"], 1, "{run}");
    assert!(run["nodes"].get("after").is_none(), "{run}");
    assert_eq!(
        node_runs(&s, &f.alice, &running, "wait").await[0]["status"],
        "completed"
    );
    let (_, again) = s.get(&format!("/flow-runs/{queued}"), &f.alice).await;
    assert_eq!(again["state"], "stopped", "{again}");
    assert!(
        again["nodes"].as_object().is_none_or(|n| n.is_empty()),
        "{again}"
    );
    // Stopping a run that ended changes nothing.
    let (status, same) = s
        .post(&format!("/flow-runs/{running}/stop"), &f.alice, json!({}))
        .await;
    assert_eq!((status, &same["state"]), (200, &json!("stopped")), "{same}");
    // The connection runs again.
    let next = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(next["state"], "completed", "{next}");
    s.finish().await;
}

#[tokio::test]
async fn flow_runs_of_one_connection_never_overlap_but_two_connections_may() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    flow(
        &s,
        &f.integration_id,
        "tagged",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "slow"}]},
            "slow": {"type": "custom-http-request",
                     "config": probe.request("/slow", json!({"tag": var("$.connection.id"), "ms": "100"}))}
        }),
    )
    .await;
    flow(
        &s,
        &f.integration_id,
        "meet",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "slow"}]},
            // Each run waits here until a run of the other connection is here too.
            "slow": {"type": "custom-http-request", "config": probe.request("/slow", json!({"tag": "meet", "n": "2"}))}
        }),
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(
            &start(&s, &f.alice, &f.alice_conn, "tagged", json!({})).await,
        ));
    }
    let mut runs = Vec::new();
    for id in &ids {
        let run = finished(&s, &f.alice, id).await;
        assert_eq!(run["state"], "completed", "{run}");
        runs.push(run);
    }
    assert_eq!(probe.max_inflight(&f.alice_conn), 1);
    // The records agree: each run began executing after the one before ended,
    // in the order they were made.
    for pair in runs.windows(2) {
        let began =
            node_runs(&s, &f.alice, &id_of(&pair[1]), "start").await[0]["startTime"].clone();
        let ended = pair[0]["endTime"].as_str().unwrap();
        assert!(
            began.as_str().unwrap() >= ended,
            "{} began {began}, before {ended}",
            pair[1]["id"]
        );
    }
    let hers = start(&s, &f.alice, &f.alice_conn, "meet", json!({})).await;
    let his = start(&s, &f.bob, &f.bob_conn, "meet", json!({})).await;
    for (token, run) in [(&f.alice, &hers), (&f.bob, &his)] {
        assert_eq!(finished(&s, token, &id_of(run)).await["state"], "completed");
    }
    assert_eq!(
        probe.max_inflight("meet"),
        2,
        "the two connections' runs ran at once"
    );
    s.finish().await;
}

#[tokio::test]
async fn flow_retention_purges_finished_runs_only() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    flow(&s, &f.integration_id, "plain", plain()).await;
    let done = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(done["state"], "completed", "{done}");
    let done_id = id_of(&done);
    let running = id_of(&start(&s, &f.alice, &f.alice_conn, "held", json!({})).await);
    probe.wait_at_gate(1).await;
    let queued = id_of(&start(&s, &f.alice, &f.alice_conn, "plain", json!({})).await);
    let workspace = s.workspace_id().await;
    let runs = &s.stores.flow_runs;
    let ended = runs
        .flow_run_by_id(&workspace, &done_id)
        .await
        .unwrap()
        .expect("stored")
        .ended_ms
        .expect("an end");
    // Ended after the retention's start: kept.
    assert_eq!(runs.purge_flow_runs(ended).await.unwrap(), 0);
    assert_eq!(
        s.get(&format!("/flow-runs/{done_id}"), &f.alice).await.0,
        200
    );
    // Ended before: gone with its node runs; the running and queued runs stay.
    let now = osmosis_engine::clock::now_ms();
    assert_eq!(runs.purge_flow_runs(now + 1).await.unwrap(), 1);
    let r = s.get(&format!("/flow-runs/{done_id}"), &f.alice).await;
    assert_error(&r, 404, "bad_request", "not_found");
    let left = runs
        .find_node_runs(&workspace, &done_id, None, None, 100)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    for id in [&running, &queued] {
        let (status, run) = s.get(&format!("/flow-runs/{id}"), &f.alice).await;
        assert_eq!(status, 200, "{run}");
        assert!(
            ["queued", "running"].contains(&run["state"].as_str().unwrap()),
            "{run}"
        );
    }
    probe.open_gate();
    for id in [&running, &queued] {
        assert_eq!(finished(&s, &f.alice, id).await["state"], "completed");
    }
    let now = osmosis_engine::clock::now_ms();
    assert_eq!(runs.purge_flow_runs(now + 1).await.unwrap(), 2);
    assert!(all_runs(&s).await.is_empty());
    s.finish().await;
}
