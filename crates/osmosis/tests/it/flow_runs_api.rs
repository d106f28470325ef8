//! The flow run API (api-surface §2.10, §6.4–6.6): every filter of
//! `GET /flow-runs` and its cursor, a run's output, node runs (the SDK's
//! `runs/cursor=N` form included) and outputs, repeating a run, `launchedBy`,
//! the `flowRun.*` workspace webhooks, customer isolation on every route,
//! archived elements on the path, and hostile input answered with a clean 4xx.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;
use crate::flow_nodes::{
    finished, flow, id_of, instance_id, node_runs, output, outputs, run_flow, start, var, Probe,
};

/// `GET /flow-runs?{query}` as `token`: the ids listed, in order.
async fn listed(s: &Server, token: &str, query: &str) -> Vec<String> {
    let (status, page) = s.get(&format!("/flow-runs?{query}"), token).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("a run id").to_owned())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

fn set_of(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// A transform-only flow: start → done.
fn simple() -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "done"}]},
        "done": {"type": "transform-data", "config": {"output": {"got": var("$.input.start")}}}
    })
}

/// A flow whose only node fails at once (the app answers 422).
fn failing() -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "bad"}]},
        "bad": {"type": "api-request-to-external-app", "config": {"request": {"path": "/status/422"}}}
    })
}

#[tokio::test]
async fn flow_run_list_filters_by_every_field_and_pages_with_a_cursor() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let admin = s.admin();
    let alpha = flow(&s, &f.integration_id, "alpha", simple()).await;
    let beta = flow(&s, &f.integration_id, "beta", failing()).await;
    // A universal flow and the integration's copy of it.
    let uni = s
        .create(
            "flows",
            json!({"key": "uni", "name": "Uni", "nodes": simple()}),
        )
        .await;
    s.create(
            "flows",
            json!({"key": "uni", "name": "Uni", "integrationId": f.integration_id, "universalFlowId": uni["id"]}),
        )
        .await;
    // A second integration of the same connector, and Alice's connection to it.
    let other = s
        .create(
            "integrations",
            json!({"key": "crm2", "name": "CRM 2", "connectorId": f.connector_id}),
        )
        .await;
    let other_id = other["id"].as_str().unwrap().to_owned();
    let other_conn =
        crate::common::mock_crm::crm_connect(&s, &f.alice, &other_id, "Alice CRM 2").await;
    flow(&s, &other_id, "gamma", simple()).await;

    let a1 = id_of(&run_flow(&s, &f.alice, &f.alice_conn, "alpha", json!({"n": 1})).await);
    let a2 = id_of(&run_flow(&s, &f.alice, &f.alice_conn, "alpha", json!({"n": 2})).await);
    let b1 = id_of(&run_flow(&s, &f.alice, &f.alice_conn, "beta", json!({})).await);
    // A moment between the early runs and the later ones.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let split = osmosis_engine::clock::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let bob1 = id_of(&run_flow(&s, &f.bob, &f.bob_conn, "alpha", json!({})).await);
    let u1 = run_flow(&s, &f.alice, &f.alice_conn, "uni", json!({})).await;
    assert_eq!(u1["state"], "completed", "{u1}");
    let u1_id = id_of(&u1);
    let g1 = id_of(&run_flow(&s, &f.alice, &other_conn, "gamma", json!({})).await);
    let all = set(&[&a1, &a2, &b1, &bob1, &u1_id, &g1]);
    let alice_alpha = instance_id(&s, &f.alice, &f.alice_conn, "alpha").await;
    let (_, alice_self) = s.get("/self", &f.alice).await;
    let (_, bob_self) = s.get("/self", &f.bob).await;
    let alice_id = alice_self["id"].as_str().unwrap().to_owned();
    let bob_id = bob_self["id"].as_str().unwrap().to_owned();

    assert_eq!(set_of(listed(&s, &admin, "").await), all);
    // Newest first by default, oldest first when asked.
    let newest = listed(&s, &admin, "").await;
    assert_eq!(newest.first(), Some(&g1));
    assert_eq!(listed(&s, &admin, "sortOrder=asc").await.first(), Some(&a1));
    let alpha_id = alpha["id"].as_str().unwrap();
    for (query, expected) in [
        (format!("flowId={alpha_id}"), set(&[&a1, &a2, &bob1])),
        (
            format!("integrationFlowId={alpha_id}"),
            set(&[&a1, &a2, &bob1]),
        ),
        (
            format!("integrationFlowId={}", beta["id"].as_str().unwrap()),
            set(&[&b1]),
        ),
        (format!("connectionFlowId={alice_alpha}"), set(&[&a1, &a2])),
        (format!("flowInstanceId={alice_alpha}"), set(&[&a1, &a2])),
        (format!("tenantId={bob_id}"), set(&[&bob1])),
        (format!("userId={bob_id}"), set(&[&bob1])),
        ("tenantId=bob".to_owned(), set(&[&bob1])),
        (
            format!("tenantId={alice_id}"),
            set(&[&a1, &a2, &b1, &u1_id, &g1]),
        ),
        ("state=failed".to_owned(), set(&[&b1])),
        (
            "state=completed".to_owned(),
            set(&[&a1, &a2, &bob1, &u1_id, &g1]),
        ),
        ("state=queued".to_owned(), set(&[])),
        (format!("integrationId={other_id}"), set(&[&g1])),
        ("integrationId=crm2".to_owned(), set(&[&g1])),
        (
            "integrationId=crm".to_owned(),
            set(&[&a1, &a2, &b1, &bob1, &u1_id]),
        ),
        (format!("connectionId={}", f.bob_conn), set(&[&bob1])),
        (format!("connectionId={other_conn}"), set(&[&g1])),
        (
            format!("connectionId={}&flowId={alpha_id}", f.alice_conn),
            set(&[&a1, &a2]),
        ),
        (
            format!("from={}", osmosis_engine::clock::iso_of_ms(split)),
            set(&[&bob1, &u1_id, &g1]),
        ),
        (
            format!("to={}", osmosis_engine::clock::iso_of_ms(split)),
            set(&[&a1, &a2, &b1]),
        ),
        (
            format!(
                "from={}&to={}",
                osmosis_engine::clock::iso_of_ms(split - 3_600_000),
                osmosis_engine::clock::iso_of_ms(split + 3_600_000)
            ),
            all.clone(),
        ),
        ("from=2000-01-01&to=2000-01-02".to_owned(), set(&[])),
    ] {
        assert_eq!(
            set_of(listed(&s, &admin, &query).await),
            expected,
            "{query}"
        );
    }
    // A customer sees her own runs only, whatever she asks for.
    assert_eq!(
        set_of(listed(&s, &f.alice, "").await),
        set(&[&a1, &a2, &b1, &u1_id, &g1])
    );
    assert_eq!(
        listed(&s, &f.alice, "tenantId=bob").await,
        Vec::<String>::new()
    );
    assert_eq!(set_of(listed(&s, &f.bob, "").await), set(&[&bob1]));

    // Pages of two through the cursor: every run once, in order.
    for order in ["asc", "desc"] {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for page_number in 0.. {
            assert!(page_number < 10, "the pages must end");
            let after = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let (status, page) = s
                .get(
                    &format!("/flow-runs?limit=2&sortOrder={order}{after}"),
                    &admin,
                )
                .await;
            assert_eq!(status, 200, "{page}");
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2, "{page}");
            ids.extend(items.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
            cursor = page["cursor"].as_str().map(str::to_owned);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(ids.len(), 6, "{order}: {ids:?}");
        assert_eq!(set_of(ids.clone()), all, "{order}");
        let mut expected = listed(&s, &admin, &format!("sortOrder={order}")).await;
        expected.truncate(6);
        assert_eq!(ids, expected, "{order}");
    }
    s.finish().await;
}

/// The universal flow a run's instance comes from is on the run and filters the
/// list; a flow with no universal flow gives none. Ignored until
/// `flows::new_row` reads the instance's `universalFlowId`: it reads
/// `universalParentId`, a field flow instances never have, so no run has a
/// universal flow. (Mind that an instance of an integration-level flow with no
/// universal parent stores that flow's own id as `universalFlowId`, so reading
/// the field as it is would move such runs' flow from `integrationFlowId` to
/// `universalFlowId`; `plain` below checks that.)
#[tokio::test]
async fn flow_run_list_filters_by_universal_flow() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let uni = s
        .create(
            "flows",
            json!({"key": "uni", "name": "Uni", "nodes": simple()}),
        )
        .await;
    let copy = s
        .create(
            "flows",
            json!({"key": "uni", "name": "Uni", "integrationId": f.integration_id, "universalFlowId": uni["id"]}),
        )
        .await;
    let plain = flow(&s, &f.integration_id, "plain", simple()).await;
    let u = run_flow(&s, &f.alice, &f.alice_conn, "uni", json!({})).await;
    let p = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(u["universalFlowId"], uni["id"], "{u}");
    assert_eq!(u["integrationFlowId"], copy["id"], "{u}");
    assert!(p.get("universalFlowId").is_none(), "no universal flow: {p}");
    assert_eq!(p["integrationFlowId"], plain["id"], "{p}");
    assert_eq!(
        listed(
            &s,
            &s.admin(),
            &format!("universalFlowId={}", uni["id"].as_str().unwrap())
        )
        .await,
        vec![id_of(&u)]
    );
    s.finish().await;
}

#[tokio::test]
async fn flow_run_output_node_runs_and_outputs_are_read_back() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    flow(
        &s,
        &f.integration_id,
        "each",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "list"}]},
            "list": {"type": "list-data-records", "config": {"dataSource": {"collectionKey": "contacts"}},
                     "links": [{"key": "each"}]},
            "each": {"type": "transform-data", "config": {"output": {"id": var("$.input.list.id")}}}
        }),
    )
    .await;
    let completed = [("state", "completed")];
    let runs = "osmosis_flow_run_duration_seconds_count";
    let before = crate::metrics::scrape(&s.url).await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "each", json!({})).await;
    assert_eq!(run["state"], "completed", "{run}");
    // Counted as its end is stored: a scrape may come a moment before.
    let counted = || async {
        let after = crate::metrics::scrape(&s.url).await;
        crate::metrics::value(&after, runs, &completed)
            - crate::metrics::value(&before, runs, &completed)
    };
    let mut moved = counted().await;
    for _ in 0..100 {
        if moved != 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        moved = counted().await;
    }
    assert_eq!(moved, 1.0, "the finished run is counted by its state");
    let id = id_of(&run);
    let a = &f.alice;
    // The run's output: the last node run that nothing followed.
    let (status, out) = s.get(&format!("/flow-runs/{id}/output"), a).await;
    assert_eq!((status, out), (200, json!({"id": "3"})));

    // Node runs: a list without the outputs' data, oldest first, with or without
    // the trailing slash the SDK sends.
    let base = format!("/flow-runs/{id}/nodes/each");
    let (status, page) = s.get(&format!("{base}/runs"), a).await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3, "{page}");
    assert!(page.get("cursor").is_none(), "{page}");
    for item in &items {
        let o = &item["outputs"][0];
        assert!(o["id"].is_string() && o.get("data").is_none(), "{item}");
        assert!(o["downstreamRuns"].is_array(), "{item}");
    }
    let (_, slashed) = s.get(&format!("{base}/runs/"), a).await;
    assert_eq!(slashed, page);
    // Paging: `?limit=` and the SDK's `runs/cursor=N` segment.
    let (_, first) = s.get(&format!("{base}/runs?limit=1"), a).await;
    assert_eq!(first["items"], json!([items[0]]), "{first}");
    let cursor = first["cursor"]
        .as_str()
        .expect("a cursor on a full page")
        .to_owned();
    let (status, rest) = s.get(&format!("{base}/runs/cursor={cursor}"), a).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["items"], json!(items[1..]), "{rest}");
    let (_, query_form) = s.get(&format!("{base}/runs?cursor={cursor}"), a).await;
    assert_eq!(query_form, rest);
    let (_, one_more) = s
        .get(&format!("{base}/runs/cursor={cursor}&limit=1"), a)
        .await;
    assert_eq!(one_more["items"], json!([items[1]]), "{one_more}");

    // One node run, whole.
    let node_run_id = items[0]["id"].as_str().unwrap();
    let (status, whole) = s.get(&format!("{base}/runs/{node_run_id}"), a).await;
    assert_eq!(status, 200, "{whole}");
    assert_eq!(whole["nodeKey"], "each");
    assert_eq!(whole["status"], "completed");
    assert_eq!(
        whole["outputs"][0]["data"],
        json!({"id": "1"}).to_string(),
        "{whole}"
    );
    assert_eq!(whole["upstreamRuns"][0]["nodeKey"], "list", "{whole}");
    // A node run of another node is not this node's.
    let (status, _) = s
        .get(&format!("/flow-runs/{id}/nodes/list/runs/{node_run_id}"), a)
        .await;
    assert_eq!(status, 404);

    // Outputs: `{id, data}`, paged; one output by id.
    let (status, outs) = s.get(&format!("{base}/outputs"), a).await;
    assert_eq!(status, 200, "{outs}");
    let outs = outs["items"].as_array().unwrap().clone();
    assert_eq!(outs.len(), 3);
    assert_eq!(
        outs[2],
        json!({"id": items[2]["outputs"][0]["id"], "data": json!({"id": "3"}).to_string()})
    );
    let (_, first) = s.get(&format!("{base}/outputs?limit=1"), a).await;
    assert_eq!(first["items"], json!([outs[0]]), "{first}");
    let cursor = first["cursor"].as_str().expect("a cursor").to_owned();
    let (_, rest) = s.get(&format!("{base}/outputs?cursor={cursor}"), a).await;
    assert_eq!(rest["items"], json!(outs[1..]), "{rest}");
    let output_id = outs[1]["id"].as_str().unwrap();
    let (status, one) = s.get(&format!("{base}/output/{output_id}"), a).await;
    assert_eq!((status, &one), (200, &outs[1]));
    assert_eq!(outputs(&s, a, &id, "list").await.len(), 3);
    // What is not there is not found.
    for path in [
        format!("{base}/output/{node_run_id}-9"),
        format!("{base}/output/nodash"),
        format!("{base}/runs/000000000000000000000000"),
        format!("/flow-runs/{id}/nodes/list/output/{output_id}"),
    ] {
        let r = s.get(&path, a).await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    s.finish().await;
}

#[tokio::test]
async fn flow_runs_repeat_and_record_how_they_were_launched() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    flow(&s, &f.integration_id, "again", simple()).await;
    let instance = instance_id(&s, &f.alice, &f.alice_conn, "again").await;
    let (status, run) = s
        .post(
            "/flow-runs",
            &f.alice,
            json!({"flowInstanceId": instance, "startNodeKey": "start", "input": {"n": 1}, "meta": {"trace": "t1"}}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    // Queued, or already claimed by this node when its connection had nothing else.
    assert!(
        ["queued", "running"].contains(&run["state"].as_str().unwrap()),
        "{run}"
    );
    for field in [
        "id",
        "userId",
        "connectionFlowId",
        "startNodeKey",
        "state",
        "startTime",
    ] {
        assert!(run.get(field).is_some(), "{field}: {run}");
    }
    assert_eq!(run["launchedBy"], json!({"type": "api-trigger"}), "{run}");
    assert_eq!(run["meta"], json!({"trace": "t1"}), "{run}");
    let first = finished(&s, &f.alice, &id_of(&run)).await;
    assert_eq!(first["state"], "completed", "{first}");
    assert!(first["endTime"].is_string(), "{first}");
    // Repeat, as the SDK's `repeat()` does: a new run from the same node and input.
    let (status, again) = s
        .post(
            "/flow-runs",
            &f.alice,
            json!({"flowInstanceId": first["connectionFlowId"], "startNodeKey": first["startNodeKey"], "input": first["input"]}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_ne!(again["id"], first["id"]);
    let again = finished(&s, &f.alice, &id_of(&again)).await;
    assert_eq!(again["state"], "completed", "{again}");
    assert_eq!(
        (&again["input"], &again["startNodeKey"]),
        (&first["input"], &first["startNodeKey"])
    );
    assert_eq!(again["launchedBy"]["type"], "api-trigger");
    assert_eq!(
        output(&s, &f.alice, &id_of(&again), "done").await,
        output(&s, &f.alice, &id_of(&first), "done").await
    );
    // The deprecated names the SDK's `startRun` sends, and the legacy route.
    let (status, legacy) = s
        .post(
            "/flow-runs",
            &f.alice,
            json!({"flowInstanceId": first["flowInstanceId"], "nodeKey": "start", "input": {"n": 2}}),
        )
        .await;
    assert_eq!(status, 200, "{legacy}");
    let (status, old_route) = s
        .post(
            &format!("/flow-instances/{instance}/run"),
            &f.alice,
            json!({"input": {"n": 3}}),
        )
        .await;
    assert_eq!(status, 200, "{old_route}");
    for run in [legacy, old_route] {
        let run = finished(&s, &f.alice, &id_of(&run)).await;
        assert_eq!(run["state"], "completed", "{run}");
        assert_eq!(run["connectionFlowId"], instance.as_str());
    }
    s.finish().await;
}

/// A flow whose node waits at the probe's gate.
fn held(probe: &Probe) -> Value {
    json!({
        "start": {"type": "api-trigger", "links": [{"key": "wait"}]},
        "wait": {"type": "custom-http-request", "config": probe.request("/gate", json!({"tag": "held"}))}
    })
}

#[tokio::test]
async fn flow_run_events_reach_the_workspace_webhook() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    let r = s
        .patch(
            "/settings",
            &s.admin(),
            json!({"webhookUri": format!("{}/hook", probe.url)}),
        )
        .await;
    assert_eq!(r.0, 200, "{}", r.1);
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    flow(&s, &f.integration_id, "ok", simple()).await;
    flow(&s, &f.integration_id, "bad", failing()).await;
    let running = id_of(&start(&s, &f.alice, &f.alice_conn, "held", json!({})).await);
    probe.wait_at_gate(1).await;
    // Queued behind the running one, then stopped.
    let queued = id_of(&start(&s, &f.alice, &f.alice_conn, "ok", json!({})).await);
    let (status, stopped) = s
        .post(&format!("/flow-runs/{queued}/stop"), &f.alice, json!({}))
        .await;
    assert_eq!(
        (status, &stopped["state"]),
        (200, &json!("stopped")),
        "{stopped}"
    );
    probe.open_gate();
    assert_eq!(finished(&s, &f.alice, &running).await["state"], "completed");
    let failed = id_of(&run_flow(&s, &f.alice, &f.alice_conn, "bad", json!({})).await);

    let expected: BTreeSet<(String, String)> = [
        (&running, "queued"),
        (&running, "started"),
        (&running, "completed"),
        (&queued, "queued"),
        (&queued, "stopped"),
        (&failed, "queued"),
        (&failed, "started"),
        (&failed, "failed"),
    ]
    .into_iter()
    .map(|(id, e)| (id.clone(), format!("flowRun.{e}")))
    .collect();
    let got = || -> BTreeSet<(String, String)> {
        probe
            .hooks()
            .iter()
            .map(|h| {
                (
                    h["data"]["id"].as_str().unwrap_or("").to_owned(),
                    h["event"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while got() != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "webhooks: {:?}, expected {expected:?}",
            probe.hooks()
        );
        s.engine.run_due_jobs("n").await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for h in probe.hooks() {
        let event = h["event"].as_str().unwrap();
        let state = &h["data"]["state"];
        let expected_state = match event {
            "flowRun.queued" => "queued",
            "flowRun.started" => "running",
            other => other.trim_start_matches("flowRun."),
        };
        assert_eq!(state, expected_state, "{h}");
        assert!(
            h["data"].get("runningSince").is_none(),
            "engine fields stay inside: {h}"
        );
        assert_eq!(h["data"]["connectionId"], f.alice_conn.as_str(), "{h}");
    }
    s.finish().await;
}

#[tokio::test]
async fn flow_runs_of_another_customer_are_not_found_on_every_route() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 2).await;
    let admin = s.admin();
    flow(
        &s,
        &f.integration_id,
        "mine",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "list"}]},
            "list": {"type": "list-data-records", "config": {"dataSource": {"collectionKey": "contacts"}}}
        }),
    )
    .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "mine", json!({})).await;
    assert_eq!(run["state"], "completed", "{run}");
    let id = id_of(&run);
    let node_run = &node_runs(&s, &f.alice, &id, "list").await[0];
    let node_run_id = node_run["id"].as_str().unwrap();
    let output_id = node_run["outputs"][0]["id"].as_str().unwrap();
    let reads = [
        format!("/flow-runs/{id}"),
        format!("/flow-runs/{id}?wait=1"),
        format!("/flow-runs/{id}/output"),
        format!("/flow-runs/{id}/nodes/list/runs"),
        format!("/flow-runs/{id}/nodes/list/runs/"),
        format!("/flow-runs/{id}/nodes/list/runs/cursor=0"),
        format!("/flow-runs/{id}/nodes/list/runs/{node_run_id}"),
        format!("/flow-runs/{id}/nodes/list/outputs"),
        format!("/flow-runs/{id}/nodes/list/output/{output_id}"),
    ];
    for path in &reads {
        let r = s.get(path, &f.bob).await;
        assert_error(&r, 404, "bad_request", "not_found");
        let (status, body) = s.get(path, &f.alice).await;
        assert_eq!(status, 200, "{path}: {body}");
        let (status, body) = s.get(path, &admin).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let r = s
        .post(&format!("/flow-runs/{id}/stop"), &f.bob, json!({}))
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    assert!(listed(&s, &f.bob, "").await.is_empty());
    assert!(listed(&s, &f.bob, "tenantId=alice").await.is_empty());
    assert!(
        listed(&s, &f.bob, &format!("connectionId={}", f.alice_conn))
            .await
            .is_empty()
    );

    // Bob cannot start a run on her instance or connection; nothing is stored.
    let instance = instance_id(&s, &f.alice, &f.alice_conn, "mine").await;
    for (path, body) in [
        ("/flow-runs".to_owned(), json!({"flowInstanceId": instance})),
        (format!("/flow-instances/{instance}/run"), json!({})),
        (
            format!("/connections/{}/flows/mine/run", f.alice_conn),
            json!({}),
        ),
    ] {
        let r = s.post(&path, &f.bob, body).await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    assert_eq!(listed(&s, &admin, "").await, vec![id.clone()]);
    // An admin can, for her; the run is hers.
    let (status, by_admin) = s
        .post("/flow-runs", &admin, json!({"flowInstanceId": instance}))
        .await;
    assert_eq!(status, 200, "{by_admin}");
    assert_eq!(by_admin["userId"], run["userId"], "{by_admin}");
    let by_admin = finished(&s, &f.alice, &id_of(&by_admin)).await;
    assert_eq!(by_admin["state"], "completed", "{by_admin}");
    let (status, again) = s
        .post(
            &format!("/connections/{}/flows/mine/run", f.alice_conn),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    finished(&s, &admin, &id_of(&again)).await;
    let r = s
        .get(&format!("/flow-runs/{}", id_of(&again)), &f.bob)
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    s.finish().await;
}

#[tokio::test]
async fn flow_runs_refuse_to_start_when_something_on_their_path_is_archived() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let admin = s.admin();
    let probe = Probe::start().await;
    flow(&s, &f.integration_id, "plain", simple()).await;
    flow(&s, &f.integration_id, "held", held(&probe)).await;
    let instance = instance_id(&s, &f.alice, &f.alice_conn, "plain").await;
    // Each start answers `not_found`, saying the element is archived or naming it.
    let starts = |what: &'static str| {
        let (s, f, instance) = (&s, &f, instance.clone());
        let archived_id = match what {
            "flow instance" => instance.clone(),
            "connection" => f.alice_conn.clone(),
            _ => f.integration_id.clone(),
        };
        async move {
            let mut paths = vec![
                ("/flow-runs".to_owned(), json!({"flowInstanceId": instance})),
                (format!("/flow-instances/{instance}/run"), json!({})),
            ];
            if what != "flow instance" {
                // (An archived instance is missing there: see below.)
                paths.push((
                    format!("/connections/{}/flows/plain/run", f.alice_conn),
                    json!({}),
                ));
            }
            for (path, body) in paths {
                let r = s.post(&path, &f.alice, body).await;
                assert_error(&r, 404, "bad_request", "not_found");
                let message = r.1["message"].as_str().unwrap();
                assert!(
                    message.contains("archived") || message.contains(&archived_id),
                    "{what}: {path}: {message}"
                );
            }
        }
    };
    for (what, archive, restore) in [
        (
            "flow instance",
            format!("/flow-instances/{instance}"),
            format!("/flow-instances/{instance}/restore"),
        ),
        (
            "connection",
            format!("/connections/{}", f.alice_conn),
            format!("/connections/{}/restore", f.alice_conn),
        ),
        (
            "integration",
            format!("/integrations/{}", f.integration_id),
            format!("/integrations/{}/restore", f.integration_id),
        ),
    ] {
        let (status, body) = s.call("DELETE", &archive, Some(&admin), None).await;
        assert_eq!(status, 200, "archive {what}: {body}");
        starts(what).await;
        let (status, body) = s.post(&restore, &admin, json!({})).await;
        assert_eq!(status, 200, "restore {what}: {body}");
    }
    assert!(
        listed(&s, &admin, "").await.is_empty(),
        "refused starts stored nothing"
    );
    let run = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(run["state"], "completed", "restored: {run}");
    assert_eq!(run["connectionFlowId"], instance.as_str());

    // Run by connection and flow, an archived instance is missing, as with
    // `autoCreate` on every connection route: a fresh instance runs, and the
    // archived one still does not.
    let (status, body) = s
        .call(
            "DELETE",
            &format!("/flow-instances/{instance}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let fresh = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    assert_eq!(fresh["state"], "completed", "{fresh}");
    assert_ne!(fresh["connectionFlowId"], instance.as_str(), "{fresh}");
    starts("flow instance").await;

    // Archived while the run waits in the queue: it fails, saying why.
    let running = id_of(&start(&s, &f.alice, &f.alice_conn, "held", json!({})).await);
    probe.wait_at_gate(1).await;
    let queued = id_of(&start(&s, &f.alice, &f.alice_conn, "plain", json!({})).await);
    let (status, body) = s
        .call(
            "DELETE",
            &format!("/connections/{}", f.alice_conn),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    probe.open_gate();
    finished(&s, &admin, &running).await;
    let failed = finished(&s, &admin, &queued).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let message = failed["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&f.alice_conn) && message.contains("archived"),
        "{failed}"
    );
    assert!(failed["endTime"].is_string(), "{failed}");
    s.finish().await;
}

#[tokio::test]
async fn flow_run_routes_answer_hostile_input_with_a_clean_4xx() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    flow(&s, &f.integration_id, "plain", simple()).await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "plain", json!({})).await;
    let id = id_of(&run);
    let a = &f.alice;
    let huge = "k".repeat(20_000);
    let long = "k".repeat(2_000);
    // Node keys that are long, odd or out of the path.
    for key in [
        long.as_str(),
        huge.as_str(),
        "%2E%2E",
        "..%2F..%2Fetc",
        "a%20b",
        "%C3%BC%E2%9C%93",
        "%00",
        "'%3B%20DROP%20TABLE%20flow_runs%3B--",
    ] {
        for path in [
            format!("/flow-runs/{id}/nodes/{key}/runs"),
            format!("/flow-runs/{id}/nodes/{key}/outputs"),
            format!("/flow-runs/{id}/nodes/{key}/runs/{key}"),
            format!("/flow-runs/{id}/nodes/{key}/output/{key}"),
            format!("/flow-runs/{key}"),
            format!("/flow-runs/{key}/output"),
        ] {
            if path == "/flow-runs/%2E%2E" {
                // The client resolves the dot segment before sending: this asks
                // for `/`, which sends a browser to the console, not to a run.
                let answer = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap()
                    .get(format!("{}{path}", s.url))
                    .bearer_auth(a)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.url().path(), "/");
                assert_eq!(answer.status().as_u16(), 303);
                assert_eq!(answer.headers()["location"], "/console");
                continue;
            }
            let (status, body) = s.get(&path, a).await;
            let shown = &path[..path.len().min(120)];
            if path.ends_with("/runs") || path.ends_with("/outputs") {
                // A node that has no runs: an empty list.
                assert!(
                    status == 200 && body["items"] == json!([]) || (400..500).contains(&status),
                    "{shown}: {status} {body}"
                );
            } else {
                assert!((400..500).contains(&status), "{shown}: {status} {body}");
            }
        }
    }
    let (status, _) = s
        .post(&format!("/flow-runs/{huge}/stop"), a, json!({}))
        .await;
    assert!((400..500).contains(&status), "{status}");
    for (query, parameter) in [
        ("wait=abc", "wait"),
        ("wait=-1", "wait"),
        ("wait=61", "wait"),
        ("wait=NaN", "wait"),
        ("wait=inf", "wait"),
    ] {
        let r = s.get(&format!("/flow-runs/{id}?{query}"), a).await;
        assert_error(&r, 400, "bad_request", "invalid_query");
        assert_eq!(r.1["data"]["parameter"], parameter, "{query}: {}", r.1);
    }
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("cursor=abc", "cursor"),
        ("state=sleeping", "state"),
        ("sortOrder=sideways", "sortOrder"),
        ("from=yesterday", "from"),
        ("to=2024-13-45", "to"),
    ] {
        let r = s.get(&format!("/flow-runs?{query}"), a).await;
        assert_error(&r, 400, "bad_request", "invalid_query");
        assert_eq!(r.1["data"]["parameter"], parameter, "{query}: {}", r.1);
    }
    for path in [
        format!("/flow-runs/{id}/nodes/done/runs?limit=0"),
        format!("/flow-runs/{id}/nodes/done/runs?cursor=-1"),
        format!("/flow-runs/{id}/nodes/done/runs/limit=0"),
        format!("/flow-runs/{id}/nodes/done/runs/cursor=abc"),
        format!("/flow-runs/{id}/nodes/done/outputs?limit=5000"),
        format!("/flow-runs/{id}/nodes/done/outputs?cursor=x"),
    ] {
        let r = s.get(&path, a).await;
        assert_error(&r, 400, "bad_request", "invalid_query");
    }
    // Bodies that are not a run to start.
    for body in [
        json!({}),
        json!({"flowInstanceId": ""}),
        json!({"flowInstanceId": 5}),
        json!({"flowInstanceId": null}),
        json!([1, 2]),
        json!("text"),
    ] {
        let (status, answer) = s.post("/flow-runs", a, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let r = s
        .post(
            "/flow-runs",
            a,
            json!({"flowInstanceId": "000000000000000000000000"}),
        )
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    let (status, answer) = s.call("POST", "/flow-runs", Some(a), None).await;
    assert!((400..500).contains(&status), "{answer}");
    // None of it started anything.
    assert_eq!(listed(&s, &s.admin(), "").await, vec![id]);
    s.finish().await;
}

/// An access token in the query is not a credential on any flow route: only the
/// `Authorization` header is, so a token that leaks into a URL (logs, referrers)
/// opens nothing.
#[tokio::test]
async fn flow_routes_refuse_a_token_in_the_query() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let t = &f.alice;
    for (method, path) in [
        ("GET", format!("/flow-runs?token={t}")),
        ("GET", format!("/flow-runs/x?wait=1&token={t}")),
        ("POST", format!("/flow-runs?access_token={t}")),
        (
            "POST",
            format!("/connections/{}/flows/x/run?token={t}", f.alice_conn),
        ),
        ("POST", format!("/flow-instances/x/run?token={t}")),
        (
            "POST",
            format!("/flow-instances/x/update-to-latest-flow?token={t}"),
        ),
    ] {
        let r = s.call(method, &path, None, Some(json!({}))).await;
        assert_error(&r, 401, "bad_request", "not_authenticated");
    }
    s.finish().await;
}
