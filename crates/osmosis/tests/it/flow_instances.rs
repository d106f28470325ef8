//! Flow instances per connection (docs/spec/semantics.md §4.4, §8): made for
//! every connection of a flow with `autoCreateInstances`, customised per part,
//! brought up to date with `update-to-latest-flow`, enabled by default, and
//! their parameters checked against the flow's `parametersSchema`.

use serde_json::{json, Value};

use crate::common::mock_crm::{crm_connect, crm_fixture};
use crate::common::{assert_error, Server};

/// The live instances of flow `flow_id` (admin view), keyed by connection.
async fn instances_of(s: &Server, flow_id: &str) -> Vec<Value> {
    let (status, page) = s
        .get(&format!("/flow-instances?flowId={flow_id}"), &s.admin())
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

fn on_connection<'a>(items: &'a [Value], conn: &str) -> Vec<&'a Value> {
    items.iter().filter(|i| i["connectionId"] == conn).collect()
}

/// The customer id behind a customer token.
async fn customer_id(s: &Server, token: &str) -> Value {
    s.get("/self", token).await.1["id"].clone()
}

/// Runs the instance `id` from its api-trigger and answers the finished run.
async fn run(s: &Server, token: &str, id: &str) -> Value {
    let (status, run) = s
        .post(
            &format!("/flow-instances/{id}/run"),
            token,
            json!({"input": {}}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let (_, done) = s
        .get(
            &format!("/flow-runs/{}?wait=20", run["id"].as_str().unwrap()),
            token,
        )
        .await;
    assert_eq!(done["state"], "completed", "{done}");
    let (_, output) = s
        .get(
            &format!("/flow-runs/{}/output", run["id"].as_str().unwrap()),
            token,
        )
        .await;
    output
}

#[tokio::test]
async fn a_flow_with_auto_create_instances_gets_one_on_every_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    // A third customer whose connection is archived gets none.
    let carol = s.customer("carol");
    let carol_conn = crm_connect(&s, &carol, &f.integration_id, "Carol CRM").await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/connections/{carol_conn}"),
            Some(&carol),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let nodes = json!({"t": {"type": "api-trigger"}});
    let flow = s
        .create(
            "flows",
            json!({"key": "sync", "integrationId": f.integration_id, "nodes": nodes, "autoCreateInstances": true}),
        )
        .await;
    let flow_id = flow["id"].as_str().unwrap();
    // Existing connections, each with its own customer; enabled by default.
    let items = instances_of(&s, flow_id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    for (conn, token) in [(&f.alice_conn, &f.alice), (&f.bob_conn, &f.bob)] {
        let mine = on_connection(&items, conn);
        assert_eq!(mine.len(), 1, "{items:?}");
        assert_eq!(mine[0]["userId"], customer_id(&s, token).await);
        assert_eq!(mine[0]["enabled"], true);
        assert_eq!(mine[0]["isCustomized"], false);
        assert_eq!(mine[0]["nodes"], nodes);
        assert_eq!(mine[0]["flowRevision"], flow["revision"]);
        // The customer sees it as theirs.
        let (status, got) = s
            .get(&format!("/connections/{conn}/flows/sync"), token)
            .await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["id"], mine[0]["id"]);
    }
    assert!(on_connection(&items, &carol_conn).is_empty());
    // A connection made later gets one as it is made.
    let dave = s.customer("dave");
    let dave_conn = crm_connect(&s, &dave, &f.integration_id, "Dave CRM").await;
    let items = instances_of(&s, flow_id).await;
    assert_eq!(items.len(), 3, "{items:?}");
    let daves = on_connection(&items, &dave_conn);
    assert_eq!(daves.len(), 1);
    assert_eq!(daves[0]["userId"], customer_id(&s, &dave).await);
    s.finish().await;
}

#[tokio::test]
async fn switching_auto_create_on_later_and_universal_flows_cover_every_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let nodes = json!({"t": {"type": "api-trigger"}});
    let flow = s
        .create(
            "flows",
            json!({"key": "later", "integrationId": f.integration_id, "nodes": nodes}),
        )
        .await;
    let flow_id = flow["id"].as_str().unwrap();
    assert!(instances_of(&s, flow_id).await.is_empty());
    let (status, patched) = s
        .patch(
            &format!("/flows/{flow_id}"),
            &s.admin(),
            json!({"autoCreateInstances": true}),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let items = instances_of(&s, flow_id).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_ne!(items[0]["userId"], items[1]["userId"]);
    // A universal flow reaches the connections of every integration.
    let uni = s
        .create(
            "flows",
            json!({"key": "everywhere", "nodes": nodes, "autoCreateInstances": true}),
        )
        .await;
    let items = instances_of(&s, uni["id"].as_str().unwrap()).await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(on_connection(&items, &f.alice_conn).len(), 1);
    assert_eq!(on_connection(&items, &f.bob_conn).len(), 1);
    assert_eq!(items[0]["universalFlowId"], uni["id"]);
    s.finish().await;
}

#[tokio::test]
async fn customising_is_tracked_per_part_and_update_to_latest_keeps_it() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let admin = s.admin();
    let flow = s
        .create(
            "flows",
            json!({"key": "calc", "name": "Calc", "integrationId": f.integration_id, "nodes": {
                "t": {"type": "api-trigger", "links": [{"key": "a"}]},
                "a": {"type": "transform-data", "config": {"output": {"a": 1}}, "links": [{"key": "b"}]},
                "b": {"type": "transform-data", "config": {"output": {"a": {"$var": "$.input.a.a"}, "b": 1}}}
            }}),
        )
        .await;
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    let (status, inst) = s
        .get(
            &format!("/connections/{}/flows/calc?autoCreate=true", f.alice_conn),
            &f.alice,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    let id = inst["id"].as_str().unwrap().to_owned();
    let path = format!("/flow-instances/{id}");
    // Enabling and disabling, or setting parameters, customises nothing.
    for body in [json!({"enabled": false}), json!({"enabled": true})] {
        let (status, got) = s.patch(&path, &f.alice, body.clone()).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["enabled"], body["enabled"]);
        assert_eq!(got["isCustomized"], false, "{got}");
        assert!(got.get("customized").is_none(), "{got}");
    }
    // Changing one node customises that node only; the others stay as they are.
    let (status, edited) = s
        .patch(
            &path,
            &f.alice,
            json!({"nodes": {"a": {"config": {"output": {"a": 2}}}}}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["isCustomized"], true);
    assert_eq!(edited["customized"], json!({"nodes": {"a": true}}));
    assert_eq!(edited["nodes"]["a"]["isCustomized"], true);
    assert_eq!(edited["nodes"]["a"]["type"], "transform-data");
    assert_eq!(edited["nodes"]["a"]["links"], json!([{"key": "b"}]));
    assert!(edited["nodes"]["b"].get("isCustomized").is_none());
    assert_eq!(edited["nodes"]["b"], flow["nodes"]["b"]);
    let (status, named) = s.patch(&path, &f.alice, json!({"name": "Mine"})).await;
    assert_eq!(status, 200, "{named}");
    assert_eq!(
        named["customized"],
        json!({"name": true, "nodes": {"a": true}})
    );
    // The flow changes: the customised instance keeps what it has until it is
    // brought up to date.
    let (status, changed) = s
        .patch(
            &format!("/flows/{flow_id}"),
            &admin,
            json!({"name": "Calc 2", "nodes": {
                "t": {"type": "api-trigger", "links": [{"key": "a"}]},
                "a": {"type": "transform-data", "config": {"output": {"a": 10}}, "links": [{"key": "b"}]},
                "b": {"type": "transform-data", "config": {"output": {"a": {"$var": "$.input.a.a"}, "b": 20}}}
            }}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(run(&s, &f.alice, &id).await, json!({"a": 2, "b": 1}));
    let (_, still) = s.get(&path, &f.alice).await;
    assert_eq!(still["flowRevision"], flow["revision"]);
    let (status, latest) = s
        .post(
            &format!("{path}/update-to-latest-flow"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["id"], id);
    assert_eq!(latest["name"], "Mine", "a customised name is kept");
    assert_eq!(latest["nodes"]["a"]["config"], json!({"output": {"a": 2}}));
    assert_eq!(latest["nodes"]["b"], changed["nodes"]["b"]);
    assert_eq!(latest["flowRevision"], changed["revision"]);
    assert_eq!(
        latest["customized"],
        json!({"name": true, "nodes": {"a": true}})
    );
    assert_eq!(run(&s, &f.alice, &id).await, json!({"a": 2, "b": 20}));
    // A selective reset makes the node follow its flow again; the name stays.
    let (status, reset) = s
        .post(
            &format!("{path}/reset"),
            &f.alice,
            json!({"nodes": {"a": true}}),
        )
        .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["customized"], json!({"name": true}));
    assert_eq!(reset["nodes"], changed["nodes"]);
    assert_eq!(reset["isCustomized"], true);
    // A full reset takes the flow's definition; the instance's own settings stay.
    let (status, _) = s
        .patch(
            &path,
            &f.alice,
            json!({"enabled": false, "parameters": {"p": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, all) = s.post(&format!("{path}/reset"), &f.alice, json!({})).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["name"], "Calc 2");
    assert_eq!(all["isCustomized"], false);
    assert_eq!(all["enabled"], false, "{all}");
    assert_eq!(all["parameters"], json!({"p": 1}), "{all}");
    let (status, _) = s.patch(&path, &f.alice, json!({"enabled": true})).await;
    assert_eq!(status, 200);
    assert_eq!(run(&s, &f.alice, &id).await, json!({"a": 10, "b": 20}));
    // The SDK's setup() on the id path; another customer cannot reach it.
    let (status, setup) = s.post(&format!("{path}/setup"), &f.alice, json!({})).await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup["state"], "READY");
    assert_error(
        &s.post(&format!("{path}/update-to-latest-flow"), &f.bob, json!({}))
            .await,
        404,
        "bad_request",
        "not_found",
    );
    s.finish().await;
}

#[tokio::test]
async fn a_non_customised_instance_edited_starts_from_its_flows_current_nodes() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let flow = s
        .create(
            "flows",
            json!({"key": "calc", "integrationId": f.integration_id, "nodes": {
                "t": {"type": "api-trigger", "links": [{"key": "a"}]},
                "a": {"type": "transform-data", "config": {"output": {"v": 1}}}
            }}),
        )
        .await;
    let (_, inst) = s
        .get(
            &format!("/connections/{}/flows/calc?autoCreate=true", f.alice_conn),
            &f.alice,
        )
        .await;
    let id = inst["id"].as_str().unwrap();
    // The flow moves on; the instance follows it without being touched.
    let (status, changed) = s
        .patch(
            &format!("/flows/{}", flow["id"].as_str().unwrap()),
            &s.admin(),
            json!({"nodes": {
                "t": {"type": "api-trigger", "links": [{"key": "a"}]},
                "a": {"type": "transform-data", "config": {"output": {"v": 2}}},
                "extra": {"type": "api-trigger"}
            }}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    // A node's userConfig is the customer's setting, not a customisation.
    let (status, edited) = s
        .patch(
            &format!("/flow-instances/{id}"),
            &f.alice,
            json!({"nodes": {"a": {"userConfig": {"x": 1}}}}),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["isCustomized"], false, "{edited}");
    assert_eq!(edited["nodes"]["a"]["config"], json!({"output": {"v": 2}}));
    assert_eq!(edited["nodes"]["a"]["userConfig"], json!({"x": 1}));
    assert!(edited["nodes"].get("extra").is_some());
    assert_eq!(edited["flowRevision"], changed["revision"]);
    // Removing a node customises it.
    let (status, removed) = s
        .patch(
            &format!("/flow-instances/{id}"),
            &f.alice,
            json!({"nodes": {"extra": null}}),
        )
        .await;
    assert_eq!(status, 200, "{removed}");
    assert!(removed["nodes"].get("extra").is_none(), "{removed}");
    assert_eq!(removed["customized"], json!({"nodes": {"extra": true}}));
    assert_eq!(removed["isCustomized"], true);
    s.finish().await;
}

#[tokio::test]
async fn instance_parameters_are_checked_against_the_flows_schema() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 1).await;
    let flow = s
        .create(
            "flows",
            json!({
                "key": "param",
                "integrationId": f.integration_id,
                "parametersSchema": {"type": "object", "properties": {"limit": {"type": "number"}}},
                "parameters": {"limit": 10},
                "nodes": {
                    "t": {"type": "api-trigger", "links": [{"key": "out"}]},
                    "out": {"type": "transform-data", "config": {"output": {"limit": {"$var": "$.flowInstance.parameters.limit"}}}}
                }
            }),
        )
        .await;
    let (_, inst) = s
        .get(
            &format!("/connections/{}/flows/param?autoCreate=true", f.alice_conn),
            &f.alice,
        )
        .await;
    let id = inst["id"].as_str().unwrap().to_owned();
    let path = format!("/flow-instances/{id}");
    // Without parameters of its own, the flow's.
    assert!(inst.get("parameters").is_none(), "{inst}");
    assert_eq!(run(&s, &f.alice, &id).await, json!({"limit": 10}));
    let refused = s
        .patch(&path, &f.alice, json!({"parameters": {"limit": "many"}}))
        .await;
    assert_error(&refused, 400, "bad_request", "invalid_field");
    assert_eq!(
        refused.1["data"]["field"], "parameters.limit",
        "{}",
        refused.1
    );
    let (status, set) = s
        .patch(&path, &f.alice, json!({"parameters": {"limit": 5}}))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["isCustomized"], false);
    assert_eq!(run(&s, &f.alice, &id).await, json!({"limit": 5}));
    // The flow's schema changes under it: the instance shows why it is wrong.
    let (status, _) = s
        .patch(
            &format!("/flows/{}", flow["id"].as_str().unwrap()),
            &s.admin(),
            json!({"parametersSchema": {"type": "object", "properties": {"limit": {"type": "string"}}}}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, setup) = s.post(&format!("{path}/setup"), &f.alice, json!({})).await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup["state"], "CONFIGURATION_ERROR", "{setup}");
    assert!(
        setup["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("parametersSchema"),
        "{setup}"
    );
    s.finish().await;
}
