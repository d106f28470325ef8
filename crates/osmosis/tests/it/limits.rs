//! Field limits over HTTP: names, keys, descriptions, whole elements and the
//! customer id of a token are capped with a `bad_request` that names what is wrong,
//! and a refused write leaves nothing behind.

use serde_json::{json, Value};

use crate::common::mock_api::{connector, install, mock_api, API_KEY};
use crate::common::*;

const MIB: usize = 1024 * 1024;

/// Asserts a 400 `invalid_field` about `field` whose message says `says`.
#[track_caller]
fn assert_invalid_field(resp: &(u16, Value), field: &str, says: &str) {
    assert_error(resp, 400, "bad_request", "invalid_field");
    assert_eq!(resp.1["data"]["field"], field, "{}", resp.1["message"]);
    let message = resp.1["message"].as_str().unwrap();
    assert!(message.contains(says), "{message}");
}

async fn count(s: &Server, plural: &str) -> usize {
    let (status, list) = s.get(&format!("/{plural}"), &s.admin()).await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_huge_name_is_refused_on_create_and_on_patch() {
    let s = Server::start().await;
    let admin = s.admin();
    let huge = "n".repeat(5 * MIB);
    let refused = s
        .post("/flows", &admin, json!({"key": "big", "name": huge}))
        .await;
    assert_invalid_field(&refused, "name", "at most 1000 characters");
    assert_eq!(count(&s, "flows").await, 0);

    let flow = s.create("flows", json!({"key": "f", "name": "Flow"})).await;
    let longest = "é".repeat(1000);
    let (status, renamed) = s.patch("/flows/f", &admin, json!({"name": longest})).await;
    assert_eq!(status, 200, "{renamed}");
    let refused = s.patch("/flows/f", &admin, json!({"name": huge})).await;
    assert_invalid_field(&refused, "name", "at most 1000 characters");
    let (_, now) = s.get("/flows/f", &admin).await;
    assert_eq!(now["name"], longest);
    assert_eq!(now["revision"], renamed["revision"]);
    assert_ne!(now["revision"], flow["revision"]);
    s.finish().await;
}

#[tokio::test]
async fn control_characters_are_refused_in_names_and_keys() {
    let s = Server::start().await;
    let admin = s.admin();
    let refused = s
        .post("/flows", &admin, json!({"key": "f", "name": "a\u{0}b"}))
        .await;
    assert_invalid_field(&refused, "name", "control characters");
    let refused = s
        .post("/flows", &admin, json!({"key": "a\u{0}b", "name": "F"}))
        .await;
    assert_invalid_field(&refused, "key", "control characters");
    let refused = s
        .post("/customers", &admin, json!({"internalId": "c\u{0}1"}))
        .await;
    assert_invalid_field(&refused, "internalId", "control characters");
    // Checked before any reference is looked up.
    let refused = s
        .post(
            "/flow-instances",
            &admin,
            json!({"flowKey": "f", "connectionId": "conn_x", "instanceKey": "i\u{0}"}),
        )
        .await;
    assert_invalid_field(&refused, "instanceKey", "control characters");
    let refused = s
        .post(
            "/flow-instances",
            &admin,
            json!({"flowKey": "f\u{0}", "connectionId": "conn_x"}),
        )
        .await;
    assert_invalid_field(&refused, "flowKey", "control characters");
    assert_eq!(count(&s, "flows").await, 0);
    assert_eq!(count(&s, "customers").await, 0);

    s.create("flows", json!({"key": "f", "name": "F"})).await;
    let refused = s
        .patch("/flows/f", &admin, json!({"name": "tab\there"}))
        .await;
    assert_invalid_field(&refused, "name", "control characters");
    let (_, now) = s.get("/flows/f", &admin).await;
    assert_eq!(now["name"], "F");
    s.finish().await;
}

#[tokio::test]
async fn a_description_over_64_kib_is_refused() {
    let s = Server::start().await;
    let admin = s.admin();
    let at_limit = "d".repeat(64 * 1024);
    s.create("flows", json!({"key": "f", "description": at_limit}))
        .await;
    let refused = s
        .patch(
            "/flows/f",
            &admin,
            json!({"description": format!("{at_limit}!")}),
        )
        .await;
    assert_invalid_field(&refused, "description", "at most 64 KiB");
    let (_, now) = s.get("/flows/f", &admin).await;
    assert_eq!(now["description"], at_limit);
    s.finish().await;
}

#[tokio::test]
async fn an_element_over_4_mib_is_refused() {
    let s = Server::start().await;
    let admin = s.admin();
    let blob = "m".repeat(4 * MIB + 1);
    let refused = s
        .post(
            "/flows",
            &admin,
            json!({"key": "f", "meta": {"blob": blob}}),
        )
        .await;
    assert_error(&refused, 400, "bad_request", "invalid_body");
    let message = refused.1["message"].as_str().unwrap();
    assert!(message.contains("at most 4194304 bytes"), "{message}");
    assert!(refused.1["data"]["size"].as_u64().unwrap() > (4 * MIB) as u64);
    assert_eq!(count(&s, "flows").await, 0);

    // Nodes of a flow count as much as anything else in the document.
    let flow = s.create("flows", json!({"key": "f"})).await;
    let nodes: serde_json::Map<String, Value> = (0..5)
        .map(|i| {
            let code = "x".repeat(MIB);
            (
                format!("n{i}"),
                json!({"type": "run-javascript", "config": {"code": code}}),
            )
        })
        .collect();
    let refused = s.patch("/flows/f", &admin, json!({"nodes": nodes})).await;
    assert_error(&refused, 400, "bad_request", "invalid_body");
    let (_, now) = s.get("/flows/f", &admin).await;
    assert_eq!(now["revision"], flow["revision"]);
    s.finish().await;
}

#[tokio::test]
async fn customer_tokens_with_unusable_ids_are_refused() {
    let s = Server::start().await;
    for id in ["c".repeat(300), "alice\u{0}".to_string()] {
        let refused = s.get("/integrations", &s.customer(&id)).await;
        assert_invalid_field(&refused, "id", "the access token's customer id");
    }
    assert_eq!(count(&s, "customers").await, 0);
    let (status, _) = s.get("/integrations", &s.customer(&"c".repeat(200))).await;
    assert_eq!(status, 200);
    assert_eq!(count(&s, "customers").await, 1);
    s.finish().await;
}

#[tokio::test]
async fn a_connection_with_a_huge_name_is_refused() {
    let s = Server::start().await;
    let (base, _) = mock_api().await;
    let (_, integration) = install(&s, connector(&base, "mock")).await;
    let alice = s.customer("alice");
    let body = |name: &str| json!({"integrationId": integration["id"], "name": name, "input": {"apiKey": API_KEY}});
    let huge = "n".repeat(5 * MIB);
    let refused = s.post("/connections", &alice, body(&huge)).await;
    assert_invalid_field(&refused, "name", "at most 1000 characters");
    assert_eq!(count(&s, "connections").await, 0);

    let (status, conn) = s.post("/connections", &alice, body("Mine")).await;
    assert_eq!(status, 200, "{conn}");
    let path = format!("/connections/{}", conn["id"].as_str().unwrap());
    // A rename that comes with new credentials is a reconnect: refused before it.
    let refused = s
        .patch(
            &path,
            &alice,
            json!({"name": huge, "input": {"apiKey": API_KEY}}),
        )
        .await;
    assert_invalid_field(&refused, "name", "at most 1000 characters");
    let (_, now) = s.get(&path, &alice).await;
    assert_eq!(now["name"], "Mine");
    assert_eq!(now["revision"], conn["revision"]);
    s.finish().await;
}

/// A NUL anywhere in a document is refused with its path, on both backends: on
/// PostgreSQL one stored NUL would break every list filtering on document fields
/// (`?enabled=`), which casts each row of the workspace to `jsonb`.
#[tokio::test]
async fn a_nul_inside_a_document_is_refused_and_lists_keep_working() {
    let s = Server::start().await;
    let admin = s.admin();
    let refused = s
        .post(
            "/flows",
            &admin,
            json!({"key": "f", "name": "F", "meta": {"note": ["ok", "bad\u{0}"]}}),
        )
        .await;
    assert_invalid_field(&refused, "meta.note[1]", "NUL");
    s.create(
        "flows",
        json!({"key": "f", "name": "F", "meta": {"note": "\\u0000 as text is fine"}}),
    )
    .await;
    let refused = s
        .patch(
            "/flows/f",
            &admin,
            json!({"nodes": {"n1": {"type": "api-request", "config": {"x\u{0}": 1}}}}),
        )
        .await;
    assert_error(&refused, 400, "bad_request", "invalid_field");
    assert!(
        refused.1["message"].as_str().unwrap().contains("NUL"),
        "{}",
        refused.1
    );
    let (status, list) = s.get("/flows?isTest=false", &admin).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (_, flow) = s.get("/flows/f", &admin).await;
    assert_eq!(flow["meta"]["note"], "\\u0000 as text is fine");
    s.finish().await;
}
