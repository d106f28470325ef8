//! Connection-level instances: made from the integration-level or universal element
//! on demand (`autoCreate`, body-less PUT), selected by every SDK selector form, and
//! visible only to their customer. Connections are inserted through the store here;
//! creating them over HTTP belongs to the connections capability.

use osmosis_model::{Element, ElementType};
use serde_json::json;

use crate::common::*;

/// A connection of `customer` (internal id) to `integration` (id), as the
/// connections capability will store it.
async fn connection(s: &Server, customer_token: &str, integration_id: &str) -> String {
    let (_, me) = s.get("/self", customer_token).await;
    let ws = s
        .stores
        .workspaces
        .workspace_by_key(WS_KEY)
        .await
        .unwrap()
        .unwrap();
    let id = format!("cnn_{}", osmosis_model::ids::object_id());
    let el = Element {
        id: id.clone(),
        uuid: osmosis_model::ids::uuid_v4(),
        name: "Conn".into(),
        integration_id: Some(integration_id.to_string()),
        customer_id: me["id"].as_str().map(Into::into),
        ..Element::new(ws.id, ElementType::Connection, "2026-01-01T00:00:00.000Z")
    };
    s.stores
        .elements
        .insert_element(
            &el,
            &format!("{integration_id}|{}", el.customer_id.clone().unwrap()),
        )
        .await
        .unwrap();
    id
}

#[tokio::test]
async fn instances_are_made_on_demand_from_the_most_specific_parent() {
    let s = Server::start().await;
    let admin = s.admin();
    let alice = s.customer("alice");
    let hub = s.create("integrations", json!({"key": "hub"})).await;
    let nodes = json!({"t": {"type": "api-trigger"}});
    let uni = s
        .create("flows", json!({"key": "sync", "nodes": nodes}))
        .await;
    let int_flow = s
        .create(
            "flows",
            json!({"key": "sync", "integrationKey": "hub", "parentKey": "sync"}),
        )
        .await;
    let conn = connection(&s, &alice, hub["id"].as_str().unwrap()).await;
    // Not there yet, and not made without autoCreate.
    assert_error(
        &s.get(&format!("/connections/{conn}/flows/sync"), &alice)
            .await,
        404,
        "bad_request",
        "not_found",
    );
    let (status, inst) = s
        .get(
            &format!("/connections/{conn}/flows/sync?autoCreate=true"),
            &alice,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    assert!(inst["id"].as_str().unwrap().starts_with("fli_"));
    assert_eq!(
        inst["flowId"], int_flow["id"],
        "made from the integration-level flow"
    );
    assert_eq!(inst["universalFlowId"], uni["id"]);
    assert_eq!(inst["connectionId"], conn);
    assert_eq!(inst["integrationId"], hub["id"]);
    assert_eq!(inst["nodes"], nodes);
    assert_eq!(inst["userId"], s.get("/self", &alice).await.1["id"]);
    assert_eq!(inst["flow"]["id"], int_flow["id"]);
    // The same instance through every selector form.
    let forms = [
        format!("/flow-instance?id={}", inst["id"].as_str().unwrap()),
        format!("/flow-instance?flowKey=sync&connectionId={conn}"),
        "/flow-instance?flowKey=sync&integrationKey=hub".to_string(),
        format!("/flow-instances/{}", inst["id"].as_str().unwrap()),
        format!("/flows/sync?layer=connection&connectionId={conn}"),
    ];
    for path in &forms {
        let (status, got) = s.get(path, &alice).await;
        assert_eq!(status, 200, "{path}: {got}");
        assert_eq!(got["id"], inst["id"], "{path}");
    }
    // A second instance key is a second instance; body-less PUT creates it once.
    let (status, second) = s
        .call(
            "PUT",
            &format!("/connections/{conn}/flows/sync?instanceKey=two"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["id"], inst["id"]);
    let (_, again) = s
        .call(
            "PUT",
            &format!("/connections/{conn}/flows/sync?instanceKey=two"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(again["id"], second["id"]);
    let (_, list) = s.get(&format!("/connections/{conn}/flows"), &alice).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // enable()/disable() patch `enabled` (instances are enabled by default),
    // which customises nothing; editing the name does.
    let (_, patched) = s
        .patch(
            &format!("/connections/{conn}/flows/sync"),
            &alice,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["isCustomized"], false);
    let (_, listed) = s.get("/flow-instances?enabled=true", &alice).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let (_, renamed) = s
        .patch(
            &format!("/connections/{conn}/flows/sync"),
            &alice,
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(renamed["isCustomized"], true);
    // Admins see all instances and may filter by customer.
    let (_, all) = s.get("/flow-instances", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    s.finish().await;
}

/// A connection has one instance of an element per instance key: creating it again
/// (a POST beside an on-demand PUT, or two racing autoCreates) must not add a second
/// one, which would make every selector of it ambiguous.
#[tokio::test]
async fn an_instance_cannot_be_created_twice() {
    let s = Server::start().await;
    let alice = s.customer("alice");
    let hub = s.create("integrations", json!({"key": "hub"})).await;
    let flow = s
        .create("flows", json!({"key": "sync", "integrationKey": "hub"}))
        .await;
    let conn = connection(&s, &alice, hub["id"].as_str().unwrap()).await;
    let (status, made) = s
        .call(
            "PUT",
            &format!("/connections/{conn}/flows/sync"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200, "{made}");
    let body = json!({"flowId": flow["id"], "connectionId": conn});
    let again = s.post("/flow-instances", &alice, body.clone()).await;
    assert_error(&again, 409, "bad_request", "already_exists");
    // Another instance key is another instance, once.
    let keyed = json!({"flowId": flow["id"], "connectionId": conn, "instanceKey": "two"});
    let (status, two) = s.post("/flow-instances", &alice, keyed.clone()).await;
    assert_eq!(status, 200, "{two}");
    assert_error(
        &s.post("/flow-instances", &alice, keyed).await,
        409,
        "bad_request",
        "already_exists",
    );
    let (status, got) = s
        .get(&format!("/connections/{conn}/flows/sync"), &alice)
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["id"], made["id"]);
    let (_, list) = s.get(&format!("/connections/{conn}/flows"), &alice).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    s.finish().await;
}

#[tokio::test]
async fn a_customer_cannot_see_or_touch_another_customers_instances() {
    let s = Server::start().await;
    let (alice, bob) = (s.customer("alice"), s.customer("bob"));
    let hub = s.create("integrations", json!({"key": "hub"})).await;
    s.create("actions", json!({"key": "a1", "integrationKey": "hub"}))
        .await;
    let conn = connection(&s, &alice, hub["id"].as_str().unwrap()).await;
    let (status, inst) = s
        .call(
            "PUT",
            &format!("/connections/{conn}/actions/a1"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(status, 200, "{inst}");
    let id = inst["id"].as_str().unwrap();
    for (method, path, body) in [
        ("GET", format!("/action-instance?id={id}"), None),
        ("GET", format!("/connections/{conn}/actions/a1"), None),
        (
            "PATCH",
            format!("/action-instance?id={id}"),
            Some(json!({"name": "mine now"})),
        ),
        ("DELETE", format!("/action-instance?id={id}"), None),
        ("PUT", format!("/connections/{conn}/actions/a1"), None),
    ] {
        let r = s.call(method, &path, Some(&bob), body).await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    let (_, list) = s.get("/action-instances", &bob).await;
    assert_eq!(list["items"], json!([]));
    // Bob cannot create an instance on Alice's connection either.
    let r = s
        .post(
            "/action-instances",
            &bob,
            json!({"parentKey": "a1", "connectionId": conn}),
        )
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    let (_, still) = s.get(&format!("/action-instance?id={id}"), &alice).await;
    assert_eq!(still["revision"], inst["revision"]);
    s.finish().await;
}

#[tokio::test]
async fn instance_reset_takes_the_parents_values_again() {
    let s = Server::start().await;
    let alice = s.customer("alice");
    let hub = s.create("integrations", json!({"key": "hub"})).await;
    let base = json!({"t": {"type": "api-trigger", "links": [{"key": "a"}]}, "a": {"type": "transform-data"}});
    s.create(
        "flows",
        json!({"key": "f", "integrationKey": "hub", "nodes": base}),
    )
    .await;
    let conn = connection(&s, &alice, hub["id"].as_str().unwrap()).await;
    let (_, inst) = s
        .get(
            &format!("/connections/{conn}/flows/f?autoCreate=true"),
            &alice,
        )
        .await;
    let id = inst["id"].as_str().unwrap();
    let changed =
        json!({"t": {"type": "api-trigger", "links": [{"key": "a"}]}, "a": {"type": "filter"}});
    let (_, edited) = s
        .patch(
            &format!("/flow-instance?id={id}"),
            &alice,
            json!({"name": "Mine", "nodes": changed}),
        )
        .await;
    assert_eq!(edited["name"], "Mine");
    // Selective reset: only node `a`.
    let (status, partly) = s
        .post(
            &format!("/flow-instances/{id}/reset"),
            &alice,
            json!({"nodes": {"a": true}}),
        )
        .await;
    assert_eq!(status, 200, "{partly}");
    assert_eq!(partly["nodes"], base);
    assert_eq!(partly["name"], "Mine");
    let (_, all) = s
        .call(
            "POST",
            &format!("/flow-instances/{id}/reset"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(all["name"], "f");
    assert_eq!(all["isCustomized"], false);
    s.finish().await;
}
