//! The five seed endpoints, field for field: integrations computed from their
//! connector, flow refresh, and the flat package restore.

use serde_json::{json, Value};

use crate::common::*;

const CONNECTOR_YAML: &str = r##"
key: hubspot
name: HubSpot
logoUri: https://example.com/hubspot.png
baseUri: https://api.hubapi.com
appUri: https://www.hubspot.com
auth:
  type: oauth2
parametersSchema:
  type: object
  required: [clientId, clientSecret]
  properties:
    clientId: {type: string}
    clientSecret: {type: string}
operations:
  - key: get-contact
    name: Get contact
  - key: list-deals
    name: List deals
data:
  contacts: {name: Contacts, list: {}}
  companies: {name: Companies}
  deals: {name: Deals}
events:
  contact-created: {name: Contact created}
globalWebhooks:
  main: {}
udm:
  contacts: {fields: [email]}
docs: "# HubSpot"
test:
  type: rest-api-mapping
  mapping: {path: /me, method: GET}
"##;

async fn connector(s: &Server) -> Value {
    let resp = s
        .http
        .post(format!("{}/connectors", s.url))
        .bearer_auth(s.admin())
        .header("content-type", "application/yaml")
        .body(CONNECTOR_YAML)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test]
async fn integrations_compute_their_fields_from_the_connector() {
    let s = Server::start().await;
    let admin = s.admin();
    let c = connector(&s).await;
    assert_eq!(
        c["type"], "oauth2",
        "the YAML auth block sets the connector's auth type: {c}"
    );
    assert_eq!(c["dataCollectionsCount"], 3);
    let v = s
        .create(
            "integrations",
            json!({"key": "hubspot", "name": "HubSpot", "connectorKey": "hubspot"}),
        )
        .await;
    assert_eq!(v["connectorId"], c["id"]);
    assert_eq!(v["authType"], "oauth2");
    assert_eq!(v["logoUri"], "https://example.com/hubspot.png");
    assert_eq!(
        (v["hasOperations"].clone(), v["operationsCount"].clone()),
        (json!(true), json!(2))
    );
    assert_eq!(
        (v["hasData"].clone(), v["dataCollectionsCount"].clone()),
        (json!(true), json!(3))
    );
    assert_eq!(
        (v["hasEvents"].clone(), v["eventsCount"].clone()),
        (json!(true), json!(1))
    );
    assert_eq!(v["hasGlobalWebhooks"], true);
    assert_eq!(v["hasUdm"], true);
    assert_eq!(v["hasDocumentation"], true);
    assert_eq!(v["hasMissingParameters"], true);
    assert_eq!(v["isTest"], false);
    assert_eq!(v["appUri"], "https://www.hubspot.com");
    assert_eq!(v["isConnected"], false);
    assert_eq!(v["oAuthCallbackUri"], format!("{}/oauth-callback", s.url));
    assert_eq!(v["spec"]["key"], "hubspot");
    assert!(v["spec"]["data"]["contacts"].is_object());
    assert!(
        v.get("parameters").is_none(),
        "parameters hold secrets: not shown without includeSecrets"
    );
    // Setting the required parameters clears hasMissingParameters.
    let (status, p) = s.patch("/integrations/hubspot", &admin, json!({"parameters": {"clientId": "id", "clientSecret": "shh"}, "oAuthCallbackUri": "https://my.app/cb"})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["hasMissingParameters"], false);
    assert_eq!(p["oAuthCallbackUri"], "https://my.app/cb");
    assert!(p.get("parameters").is_none());
    let (_, secret) = s
        .get("/integrations/hubspot?includeSecrets=true", &admin)
        .await;
    assert_eq!(
        secret["parameters"],
        json!({"clientId": "id", "clientSecret": "shh"})
    );
    let customer = s.customer("c1");
    assert_error(
        &s.get("/integrations/hubspot?includeSecrets=true", &customer)
            .await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_error(
        &s.get("/integrations/hubspot/parameters", &customer).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_eq!(
        s.get("/integrations/hubspot/parameters", &admin).await.1["clientSecret"],
        "shh"
    );
    // Connector views through the integration.
    let (_, spec) = s
        .get("/integrations/hubspot/connector-spec", &customer)
        .await;
    assert_eq!(spec["name"], "HubSpot");
    let (_, ops) = s.get("/integrations/hubspot/operations", &customer).await;
    assert_eq!(ops.as_array().unwrap().len(), 2);
    let (_, data) = s.get("/integrations/hubspot/data", &customer).await;
    assert_eq!(
        data[0],
        json!({"key": "contacts", "name": "Contacts", "type": "collection"})
    );
    assert_eq!(
        s.get("/integrations/hubspot/data/deals", &customer).await.1["type"],
        "collection"
    );
    assert_error(
        &s.get("/integrations/hubspot/data/nope", &customer).await,
        404,
        "bad_request",
        "not_found",
    );
    s.finish().await;
}

#[tokio::test]
async fn integrations_without_a_connector_still_answer_every_field() {
    let s = Server::start().await;
    let v = s
        .create(
            "integrations",
            json!({"name": "Bare", "logoBase64": "iVBORw0KGgoAAAANSUhEUgAAAAE="}),
        )
        .await;
    assert_eq!(
        v["logoUri"],
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAE="
    );
    for k in [
        "hasOperations",
        "hasData",
        "hasEvents",
        "hasGlobalWebhooks",
        "hasUdm",
        "hasDocumentation",
        "hasMissingParameters",
        "isTest",
        "isConnected",
    ] {
        assert_eq!(v[k], false, "{k}");
    }
    for k in ["operationsCount", "dataCollectionsCount", "eventsCount"] {
        assert_eq!(v[k], 0, "{k}");
    }
    assert!(v.get("logoBase64").is_none());
    s.finish().await;
}

#[tokio::test]
async fn flow_refresh_sets_state_and_errors_from_nodes_and_dependencies() {
    let s = Server::start().await;
    let admin = s.admin();
    s.create("integrations", json!({"key": "hub"})).await;
    s.create("actions", json!({"key": "create-contact"})).await;
    let good = json!({
        "trigger": {"type": "api-trigger", "links": [{"key": "act"}]},
        "act": {"type": "run-action", "config": {"action": {"key": "create-contact"}}, "links": [{"key": "loop"}]},
        "loop": {"type": "for-each-v2", "config": {"rootNodeKey": "body"}},
        "body": {"type": "transform-data"}
    });
    let f = s
        .create(
            "flows",
            json!({"key": "f", "integrationKey": "hub", "nodes": good}),
        )
        .await;
    assert_eq!(f["state"], "READY", "{f}");
    let deps = f["dependencies"].as_array().unwrap();
    assert!(
        deps.iter().any(|d| d["elementType"] == "action"),
        "{deps:?}"
    );
    let (status, r) = s
        .call(
            "POST",
            "/flows/f/refresh?layer=integration&integrationKey=hub",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["state"], "READY");
    assert_eq!(
        r["revision"], f["revision"],
        "nothing changed, nothing written"
    );
    assert_eq!(r["integration"]["key"], "hub");
    // Archiving a dependency shows up on the next refresh.
    s.call("DELETE", "/actions/create-contact", Some(&admin), None)
        .await;
    let (_, r) = s
        .call(
            "POST",
            "/flows/f/refresh?integrationKey=hub",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r["state"], "CONFIGURATION_ERROR");
    assert_eq!(r["errors"][0]["type"], "dependency_error");
    assert_ne!(r["revision"], f["revision"]);
    // Graph problems: unknown type, dangling link, cycle.
    for (nodes, needle) in [
        (json!({"t": {"type": "teleport"}}), "unknown type"),
        (
            json!({"t": {"type": "api-trigger", "links": [{"key": "ghost"}]}}),
            "does not exist",
        ),
        (
            json!({"t": {"type": "api-trigger", "links": [{"key": "a"}]}, "a": {"type": "filter", "links": [{"key": "b"}]}, "b": {"type": "filter", "links": [{"key": "a"}]}}),
            "cycle",
        ),
    ] {
        let (status, bad) = s
            .patch("/integrations/hub/flows/f", &admin, json!({"nodes": nodes}))
            .await;
        assert_eq!(status, 200, "{bad}");
        assert_eq!(bad["state"], "CONFIGURATION_ERROR", "{nodes}");
        let messages: Vec<&str> = bad["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["message"].as_str().unwrap())
            .collect();
        assert!(
            messages.iter().any(|m| m.contains(needle)),
            "{needle}: {messages:?}"
        );
    }
    // Malformed nodes are refused outright.
    for nodes in [
        json!([]),
        json!({"t": "x"}),
        json!({"t": {}}),
        json!({"t": {"type": "api-trigger", "links": "a"}}),
    ] {
        assert_error(
            &s.patch("/integrations/hub/flows/f", &admin, json!({"nodes": nodes}))
                .await,
            400,
            "bad_request",
            "invalid_field",
        );
    }
    assert_error(
        &s.call("POST", "/flows/nope/refresh", Some(&admin), None)
            .await,
        404,
        "bad_request",
        "not_found",
    );
    s.finish().await;
}

#[tokio::test]
async fn packages_hold_element_references_and_restore_through_the_flat_selector() {
    let s = Server::start().await;
    let admin = s.admin();
    let flow = s.create("flows", json!({"key": "f1"})).await;
    let act = s.create("actions", json!({"key": "a1"})).await;
    let p = s.create("packages", json!({"key": "pk", "name": "Starter", "elements": [{"type": "flow", "key": "f1"}, {"type": "action", "id": act["id"]}]})).await;
    assert_eq!(p["elements"][0]["id"], flow["id"]);
    assert_eq!(p["elements"][0]["element"]["key"], "f1");
    assert_eq!(p["elements"][1]["type"], "action");
    assert_eq!(p["isUniversal"], true);
    for bad in [
        json!([{"type": "customer", "id": "x"}]),
        json!([{"type": "flow"}]),
        json!([{"type": "flow", "key": "missing"}]),
    ] {
        let r = s.post("/packages", &admin, json!({"elements": bad})).await;
        assert_eq!(r.1["type"], "bad_request", "{bad}: {}", r.1);
    }
    s.call("DELETE", "/packages/pk", Some(&admin), None).await;
    let (status, restored) = s
        .call(
            "POST",
            "/packages/pk/restore?layer=universal",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    assert!(restored.get("archivedAt").is_none());
    assert_eq!(restored["elements"].as_array().unwrap().len(), 2);
    // Integration-level packages are restored through their integration's layer.
    s.create("integrations", json!({"key": "hub"})).await;
    s.create(
        "packages",
        json!({"key": "pk", "integrationKey": "hub", "parentKey": "pk"}),
    )
    .await;
    s.call(
        "DELETE",
        "/packages/pk?layer=integration&integrationKey=hub",
        Some(&admin),
        None,
    )
    .await;
    let (status, r) = s
        .call(
            "POST",
            "/packages/pk/restore?layer=integration&integrationKey=hub",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["parentId"], p["id"]);
    s.finish().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route_that_exists() {
    let s = Server::start().await;
    let (status, doc) = s.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    for t in osmosis_model::ElementType::ALL {
        assert!(
            paths.contains_key(&format!("/{}", t.spec().api_path)),
            "{t:?}"
        );
    }
    // Every documented operation is routed: none answers the router's fallback.
    let admin = s.admin();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{selector}", "some-selector");
            let r = s
                .call(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&admin),
                    if method == "get" || method == "delete" {
                        None
                    } else {
                        Some(json!({}))
                    },
                )
                .await;
            let fallback = r.1["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("No route for"));
            assert!(!fallback && r.0 != 405, "{method} {path}: {} {}", r.0, r.1);
            assert!(r.0 < 500, "{method} {path}: {} {}", r.0, r.1);
        }
    }
    s.finish().await;
}
