//! Connector conformance: each shipped connector against a mock of its API that
//! enforces what the real API enforces — where the credential goes, the headers it
//! requires, how bodies are encoded, which parameter carries the page cursor, the
//! scopes each call needs, the validation a create goes through — so a connector the
//! real app would refuse is refused here, in CI, rather than by a customer's app.
//!
//! `catalog.rs` (beside this file) pins the exact requests each connector sends; this test pins
//! the rules those requests must satisfy, which is what still holds when a connector
//! is rewritten. Each rule in the mocks cites the vendor's reference.

mod airtable;
mod github;
mod google_sheets;
mod graphql;
mod hubspot;
mod intercom;
mod jira;
mod linear;
mod notion;
mod rules_bite;
mod runner;
mod salesforce;
mod slack;
mod stripe;
mod wire;
mod zendesk;

use std::sync::Arc;

use osmosis_connectors::catalog;
use osmosis_connectors::definition::{AuthFunction, Connector};
use osmosis_connectors::function::FunctionRunner;
use osmosis_connectors::http::USER_AGENT;
use serde_json::{json, Value};

use self::runner::{check_shipped, Spec};
use self::wire::{ok, serve, Api, Reply, Req};

/// One spec per shipped connector, in key order; a connector added without one fails
/// `every_shipped_connector_has_a_spec`. `demo-app` has none: its API is Osmosis's own
/// demo app, which `crates/demo-app/tests/connector.rs` runs it against instead of a
/// mock.
fn specs() -> Vec<Spec> {
    vec![
        airtable::spec(),
        github::spec(),
        google_sheets::spec(),
        hubspot::spec(),
        intercom::spec(),
        jira::spec(),
        linear::spec(),
        notion::spec(),
        salesforce::spec(),
        slack::spec(),
        stripe::spec(),
        zendesk::spec(),
    ]
}

#[test]
fn every_shipped_connector_has_a_spec() {
    let keys: Vec<&str> = specs().iter().map(|s| s.key).collect();
    let mut shipped = catalog::keys();
    shipped.retain(|k| *k != "demo-app");
    assert_eq!(keys, shipped);
}

/// Answers with the `User-Agent` headers it received.
struct EchoUserAgent;

impl Api for EchoUserAgent {
    fn answer(&self, req: &Req) -> Reply {
        let agents: Vec<&str> = req
            .headers
            .get_all("user-agent")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        ok(json!({ "userAgents": agents }))
    }
}

/// The `User-Agent` headers a connector whose `makeApiClient` sets `headers` sends,
/// on the engine's client.
async fn user_agents_sent(headers: Value) -> Vec<String> {
    let (base, _) = serve(Arc::new(EchoUserAgent)).await;
    let connector = Connector::from_value(&json!({
        "key": "user-agent-check",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base, "headers": headers}},
        "test": {"type": "rest-api-mapping", "mapping": {
            "path": "/whoami", "method": "GET", "responseMapping": {"$var": "$.response.data.userAgents"}}}
    }))
    .unwrap();
    let output = FunctionRunner::new(Arc::new(connector), crate::mock::outbound())
        .run_auth_function(AuthFunction::Test, json!({}))
        .await
        .unwrap()
        .unwrap()
        .output;
    serde_json::from_value(output).unwrap()
}

/// Some APIs refuse a request without a `User-Agent` (GitHub), and one naming the
/// product lets an API owner see who calls; a connector may still name itself.
#[tokio::test]
async fn requests_carry_the_osmosis_user_agent_unless_the_connector_sets_its_own() {
    assert_eq!(USER_AGENT, format!("Osmosis/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(user_agents_sent(json!({})).await, [USER_AGENT]);
    let own = "Acme-Sync/2.0 (ops@acme.example)";
    assert_eq!(user_agents_sent(json!({ "User-Agent": own })).await, [own]);
}

#[tokio::test]
async fn airtable() {
    check_shipped(&airtable::spec()).await.assert_clean();
}

#[tokio::test]
async fn github() {
    check_shipped(&github::spec()).await.assert_clean();
}

#[tokio::test]
async fn google_sheets() {
    check_shipped(&google_sheets::spec()).await.assert_clean();
}

#[tokio::test]
async fn hubspot() {
    check_shipped(&hubspot::spec()).await.assert_clean();
}

#[tokio::test]
async fn intercom() {
    check_shipped(&intercom::spec()).await.assert_clean();
}

#[tokio::test]
async fn jira() {
    check_shipped(&jira::spec()).await.assert_clean();
}

#[tokio::test]
async fn linear() {
    check_shipped(&linear::spec()).await.assert_clean();
}

#[tokio::test]
async fn notion() {
    check_shipped(&notion::spec()).await.assert_clean();
}

#[tokio::test]
async fn salesforce() {
    check_shipped(&salesforce::spec()).await.assert_clean();
}

#[tokio::test]
async fn slack() {
    check_shipped(&slack::spec()).await.assert_clean();
}

#[tokio::test]
async fn stripe() {
    check_shipped(&stripe::spec()).await.assert_clean();
}

#[tokio::test]
async fn zendesk() {
    check_shipped(&zendesk::spec()).await.assert_clean();
}
