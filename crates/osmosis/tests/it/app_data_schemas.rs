//! App data schemas over HTTP: a static schema, a customer-specific one computed by
//! its code from "your app's" API (a local mock) as each customer, both used as a
//! field mapping's `appSchema`, and the customer's instance kept to itself.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::*;

/// "Your app": `GET /fields?who=…` answers that customer's fields, and says whether
/// the request carried the workspace-signed token.
async fn your_app() -> String {
    async fn fields(headers: HeaderMap, Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
        let who = q.get("who").cloned().unwrap_or_default();
        let signed = headers
            .get("x-membrane-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.split('.').count() == 3);
        Json(
            json!({format!("{who}_field"): {"type": "string"}, "signed": {"type": "boolean", "const": signed}}),
        )
    }
    let app = Router::new().route("/fields", get(fields));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn schema_ref(key: &str) -> Value {
    json!({"$dataSchemaRef": {"type": "internal-data-schema", "key": key}})
}

#[tokio::test]
async fn static_and_customer_specific_schemas_feed_field_mappings() {
    let s = Server::start().await;
    let app = your_app().await;
    let (alice, bob) = (s.customer("alice"), s.customer("bob"));
    s.create(
        "app-data-schemas",
        json!({"key": "contact", "name": "Contact",
        "schema": {"type": "object", "properties": {"email": {"type": "string"}}}}),
    )
    .await;
    s.create("app-data-schemas", json!({"key": "deal", "name": "Deal", "code": format!(
        "export default async ({{user, internalApiClient}}) => ({{type: 'object', properties: await internalApiClient.get('{app}/fields', {{who: user.internalId}})}})")}))
        .await;
    s.create(
        "field-mappings",
        json!({"key": "contact-map", "name": "Contact map", "appSchema": schema_ref("contact")}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "deal-map", "name": "Deal map", "appSchema": schema_ref("deal")}),
    )
    .await;

    let (status, contact) = s
        .get("/field-mappings/contact-map/app-schema", &alice)
        .await;
    assert_eq!(status, 200, "{contact}");
    assert_eq!(
        contact["properties"]["email"]["type"], "string",
        "{contact}"
    );

    let (status, hers) = s.get("/field-mappings/deal-map/app-schema", &alice).await;
    assert_eq!(status, 200, "{hers}");
    assert_eq!(
        hers["properties"]["alice_field"]["type"], "string",
        "{hers}"
    );
    assert_eq!(
        hers["properties"]["signed"]["const"], true,
        "as the customer: {hers}"
    );
    let (_, his) = s.get("/field-mappings/deal-map/app-schema", &bob).await;
    assert!(his["properties"]["bob_field"].is_object(), "{his}");
    assert!(his["properties"].get("alice_field").is_none(), "{his}");

    // Alice's instance keeps her schema; Bob cannot reach it.
    let (status, instance) = s
        .get("/app-data-schema-instance?appDataSchemaKey=deal", &alice)
        .await;
    assert_eq!(status, 200, "{instance}");
    assert!(
        instance["schema"]["properties"]["alice_field"].is_object(),
        "{instance}"
    );
    let id = instance["id"].as_str().unwrap();
    let r = s
        .get(&format!("/app-data-schema-instances/{id}"), &bob)
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    let r = s
        .post(
            &format!("/app-data-schema-instances/{id}/setup"),
            &bob,
            json!({}),
        )
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    let (status, again) = s
        .post(
            &format!("/app-data-schema-instances/{id}/setup"),
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["schema"], instance["schema"]);
}

#[tokio::test]
async fn code_that_fails_leaves_its_error_on_the_instance() {
    let s = Server::start().await;
    let alice = s.customer("alice");
    s.create(
        "app-data-schemas",
        json!({"key": "broken", "name": "Broken",
        "code": "export default async () => { throw new Error('no schema today') }"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "broken-map", "name": "Broken map", "appSchema": schema_ref("broken")}),
    )
    .await;
    let r = s.get("/field-mappings/broken-map/app-schema", &alice).await;
    assert_eq!(r.0, 400, "{}", r.1);
    assert!(
        r.1["message"].as_str().unwrap().contains("no schema today"),
        "{}",
        r.1
    );
    let (status, instance) = s
        .post(
            "/app-data-schema-instance/setup?appDataSchemaKey=broken&autoCreate=true",
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{instance}");
    assert!(
        instance["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no schema today"),
        "{instance}"
    );
    assert!(instance.get("schema").is_none(), "{instance}");
}
