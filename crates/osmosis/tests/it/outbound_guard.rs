//! The outbound address guard through the API: a connection whose input points
//! its connector's base URI at a metadata or private address is refused with a
//! clear `ErrorData`; the operator's allow list opens the private network where a
//! team's own API lives; a webhook URI at such an address is refused when set.

use crate::common::mock_api::{start_mock, API_KEY};
use crate::common::{self, assert_error, Server};
use osmosis_connectors::http::AllowList;
use serde_json::{json, Value};

/// A client-credentials connector whose base URI is part of the connection input,
/// as for self-hosted products (a Jira or GitLab server at the customer's own URL).
fn self_hosted_connector() -> Value {
    json!({
        "key": "selfhosted",
        "name": "Self-hosted API",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": {"$var": "$.credentials.baseUri"},
            "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}
        }},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
    })
}

async fn connect_to(s: &Server, integration: &Value, base_uri: &str) -> (u16, Value) {
    s.post(
        "/connections",
        &s.customer("alice"),
        json!({"integrationId": integration["id"], "input": {"apiKey": API_KEY, "baseUri": base_uri}}),
    )
    .await
}

#[tokio::test]
async fn a_connection_input_pointing_at_metadata_or_a_private_network_is_refused() {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = common::mock_api::install(&s, self_hosted_connector()).await;

    let metadata = connect_to(&s, &integration, "http://169.254.169.254/latest").await;
    assert_error(&metadata, 400, "connection", "outbound_address_refused");
    let message = metadata.1["message"].as_str().unwrap();
    assert!(message.contains("`169.254.169.254`"), "{message}");
    assert!(!message.contains(API_KEY), "{message}");
    assert_eq!(metadata.1["data"]["reason"], "cloud_metadata");

    // The test server allows loopback only: another private network stays closed.
    let private = connect_to(&s, &integration, "http://10.20.30.40:8080").await;
    assert_error(&private, 400, "connection", "outbound_address_refused");
    assert_eq!(private.1["data"]["reason"], "private");
    assert!(private.1["message"]
        .as_str()
        .unwrap()
        .contains("OSMOSIS_OUTBOUND_ALLOW"));

    // The mock on 127.0.0.1 is covered by the allow list.
    let (status, connection) = connect_to(&s, &integration, &mock.url).await;
    assert_eq!(status, 200, "{connection}");
    assert_eq!(
        mock.request_count(),
        1,
        "the connection test reached the mock"
    );
    s.finish().await;
}

#[tokio::test]
async fn without_the_allow_list_the_mock_on_this_machine_is_unreachable() {
    let s = Server::start_with_outbound(AllowList::default()).await;
    let mock = start_mock().await;
    let (_, integration) = common::mock_api::install(&s, self_hosted_connector()).await;

    let refused = connect_to(&s, &integration, &mock.url).await;
    assert_error(&refused, 400, "connection", "outbound_address_refused");
    assert_eq!(refused.1["data"]["reason"], "loopback");
    assert_eq!(mock.request_count(), 0, "nothing was sent");
    s.finish().await;
}

#[tokio::test]
async fn a_webhook_uri_at_a_refused_address_is_refused_when_set() {
    let s = Server::start().await;
    let admin = s.admin();
    for uri in [
        "http://169.254.169.254/hook",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/hook",
        "http://192.168.1.10/hook",
    ] {
        let refused = s
            .patch("/settings", &admin, json!({"webhookUri": uri}))
            .await;
        assert_error(&refused, 400, "bad_request", "invalid_field");
        assert_eq!(refused.1["data"]["field"], "webhookUri", "{uri}");
        assert!(
            refused.1["message"].as_str().unwrap().contains("refused"),
            "{}",
            refused.1
        );
    }
    for uri in [
        "https://hooks.example.com/osmosis",
        "http://127.0.0.1:9/hook",
    ] {
        let (status, body) = s
            .patch("/settings", &admin, json!({"webhookUri": uri}))
            .await;
        assert_eq!(status, 200, "{uri}: {body}");
    }
    s.finish().await;
}
