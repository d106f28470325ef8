//! Connector-level global webhooks (docs/spec/semantics.md §2.4 `connector-event`,
//! §5.6 "Global webhooks"): a `connector-event-trigger` on an enabled instance
//! makes a subscription whose key and selector come from the connector event's
//! `getEventSelector` on the connection; the app posts the events of every
//! customer to one URL per workspace, connector and key; the connector's global
//! `handle` turns each delivery into `{selector, payload}` events, and each
//! reaches only the subscriptions whose key and selector match, then their flow
//! runs.
//!
//! The test server runs no job worker: the tests run the due jobs themselves.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::mock_api::API_KEY;
use crate::common::{now, token, Server};
use crate::external_events::{
    finished_runs, instance, leave_created, log_records, of_type, outputs, settle_jobs,
    subscriptions,
};

fn js(code: &str) -> Value {
    json!({"type": "javascript", "code": code})
}

/// The mock app's API: only what connecting tests.
async fn start_app() -> String {
    let app = Router::new().route("/me", get(|| async { Json(json!({"id": "me"})) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The `globe` connector: event `deal-won`, selected per account (the
/// connection's `accountId`) on global webhook `all`, whose `handle` reads a
/// batch `{events: [{type, account, deal}]}`.
fn globe_connector(base: &str) -> Value {
    json!({
        "key": "globe", "name": "Globe", "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base,
            "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}}},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}},
        "events": {"deal-won": {
            "name": "Deal won",
            "getEventSelector": js("export default async ({input, credentials}) => ({globalWebhookKey: 'all', globalWebhookEventSelector: {type: input.parameters.type || 'deal.won', account: credentials.accountId}})"),
        }, "polled-only": {
            "name": "Not served by a global webhook",
            "getEventConfig": js("export default async () => ({eventKey: 'polled-only'})"),
        }},
        "globalWebhooks": {"all": {
            "name": "All events",
            "handle": js("export default async ({input}) => input.data.bad ? (() => { throw new Error('bad delivery'); })() : ({events: (input.data.events || []).map(e => ({selector: {account: e.account, type: e.type}, payload: e.deal})), response: {status: 200}})"),
        }},
    })
}

async fn incoming(s: &Server, id: &str) -> Value {
    let (status, d) = s.get(&format!("/incoming-webhooks/{id}"), &s.admin()).await;
    assert_eq!(status, 200, "{d}");
    d
}

/// A customer connected to the globe integration with `account`.
async fn connect(
    s: &Server,
    integration: &Value,
    customer: &str,
    account: &str,
) -> (String, String) {
    let who = s.customer(customer);
    let (status, conn) = s
        .post(
            "/connections",
            &who,
            json!({"integrationId": integration["id"], "input": {"apiKey": API_KEY, "accountId": account}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    (who, conn["id"].as_str().unwrap().to_owned())
}

async fn post(s: &Server, uri: &str, body: Value) -> (u16, Value) {
    let r = s.http.post(uri).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Alice's and Bob's connections (accounts `acct-a`, `acct-b`) through the
/// global-webhook connector, each with an enabled instance of `on-deal`, whose
/// `connector-event-trigger` takes `deal-won`; subscribed.
struct Deals {
    s: Server,
    alice: String,
    conn_a: String,
    conn_b: String,
    flow_a: String,
    flow_b: String,
}

async fn deals() -> Deals {
    let s = Server::start().await;
    let base = start_app().await;
    let (_, integration) = crate::common::mock_api::install(&s, globe_connector(&base)).await;
    s.create(
        "flows",
        json!({"key": "on-deal", "integrationId": integration["id"], "nodes": {
            "t": {"type": "connector-event-trigger", "config": {"eventKey": "deal-won"},
                  "links": [{"key": "out"}]},
            "out": {"type": "transform-data", "config": {"output": {"deals": {"$var": "$.input.t"}}}}
        }}),
    )
    .await;
    let (alice, conn_a) = connect(&s, &integration, "alice", "acct-a").await;
    let (bob, conn_b) = connect(&s, &integration, "bob", "acct-b").await;
    let flow_a = instance(&s, &conn_a, &alice, "on-deal").await;
    let flow_b = instance(&s, &conn_b, &bob, "on-deal").await;
    settle_jobs(&s).await;
    Deals {
        s,
        alice,
        conn_a,
        conn_b,
        flow_a,
        flow_b,
    }
}

#[tokio::test]
async fn one_global_url_routes_each_customers_events_to_their_own_runs() {
    let Deals {
        s,
        alice,
        conn_a,
        conn_b,
        flow_a,
        flow_b,
    } = deals().await;

    let sub_a = of_type(&subscriptions(&s, &conn_a).await, "connector-event").clone();
    let sub_b = of_type(&subscriptions(&s, &conn_b).await, "connector-event").clone();
    for (sub, account) in [(&sub_a, "acct-a"), (&sub_b, "acct-b")] {
        assert_eq!(sub["status"], "subscribed", "{sub}");
        assert_eq!(sub["isRealTime"], true, "{sub}");
        assert_eq!(sub["requiresPull"], false, "{sub}");
        assert_eq!(sub["globalWebhookKey"], "all", "{sub}");
        assert_eq!(
            sub["globalWebhookEventSelector"],
            json!({"type": "deal.won", "account": account}),
            "{sub}"
        );
    }
    // One URL for both customers.
    let uri = sub_a["webhookUri"].as_str().unwrap().to_owned();
    assert_eq!(sub_b["webhookUri"], uri.as_str());
    assert!(
        uri.starts_with(&format!("{}/webhooks/global/", s.url)),
        "{uri}"
    );
    let key = uri.rsplit('/').next().unwrap().to_owned();
    let ws = uri.rsplit('/').nth(1).unwrap().to_owned();
    assert_eq!(key.len(), 32, "{uri}");

    // One delivery with both customers' events: each reaches its own runs.
    let (status, answer) = post(
        &s,
        &uri,
        json!({"events": [
            {"type": "deal.won", "account": "acct-a", "deal": {"id": "d1", "amount": 10}},
            {"type": "deal.won", "account": "acct-b", "deal": {"id": "d2", "amount": 20}},
        ]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let delivery = answer["incomingWebhookId"].as_str().unwrap().to_owned();
    assert_eq!(incoming(&s, &delivery).await["status"], "received");
    settle_jobs(&s).await;
    for (sub, flow, deal) in [(&sub_a, &flow_a, "d1"), (&sub_b, &flow_b, "d2")] {
        let events = log_records(&s, sub["id"].as_str().unwrap()).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["payload"]["payload"]["id"], deal, "{events:?}");
        assert_eq!(events[0]["payload"]["eventKey"], "deal-won", "{events:?}");
        assert_eq!(events[0]["status"], "success", "{events:?}");
        let runs = finished_runs(&s, flow).await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(
            runs[0]["launchedBy"],
            json!({"type": "external-event", "ids": [events[0]["id"]]})
        );
        let out = outputs(&s, &runs[0], "t").await;
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0][0]["payload"]["id"], deal, "{out:?}");
    }
    let d = incoming(&s, &delivery).await;
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["collectedEventIds"].as_array().unwrap().len(), 2, "{d}");
    // A customer sees only their own events.
    let (_, page) = s.get("/external-event-log-records", &alice).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["items"][0]["payload"]["payload"]["id"], "d1");

    // A selector no subscription has: logged, nothing runs.
    let (status, answer) = post(
        &s,
        &uri,
        json!({"events": [{"type": "deal.lost", "account": "acct-a", "deal": {"id": "d3"}}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    settle_jobs(&s).await;
    let d = incoming(&s, answer["incomingWebhookId"].as_str().unwrap()).await;
    assert_eq!(d["status"], "success", "{d}");
    assert_eq!(d["collectedEventIds"], json!([]), "{d}");
    assert_eq!(
        d["request"]["unmatchedSelectors"],
        json!([{"type": "deal.lost", "account": "acct-a"}]),
        "{d}"
    );
    assert_eq!(finished_runs(&s, &flow_a).await.len(), 1);
    assert_eq!(finished_runs(&s, &flow_b).await.len(), 1);

    // A delivery the handle refuses: logged as an error, nothing runs.
    let (status, answer) = post(&s, &uri, json!({"bad": true})).await;
    assert_eq!(status, 200, "{answer}");
    settle_jobs(&s).await;
    let d = incoming(&s, answer["incomingWebhookId"].as_str().unwrap()).await;
    assert_eq!(d["status"], "error", "{d}");
    assert!(d["error"].to_string().contains("bad delivery"), "{d}");
    assert_eq!(finished_runs(&s, &flow_a).await.len(), 1);

    // Unknown keys and other workspaces reach nothing.
    let other = s
        .engine
        .create_workspace(
            "Other",
            Some("other-ws".into()),
            Some("other-secret-0123456789".into()),
        )
        .await
        .unwrap();
    for path in [
        format!("/webhooks/global/{ws}/nope"),
        format!("/webhooks/global/{ws}/{}", "k".repeat(5000)),
        format!("/webhooks/global/{}/{key}", other.id),
        format!("/webhooks/external-events/{ws}/{key}"),
    ] {
        let (status, v) = s
            .call("POST", &path, None, Some(json!({"events": []})))
            .await;
        assert_eq!(status, 404, "{path}: {v}");
    }
    let other_admin = token(
        json!({"iss": "other-ws", "isAdmin": true, "exp": now() + 3600}),
        "other-secret-0123456789",
        jsonwebtoken::Algorithm::HS256,
    );
    // The other workspace's token on this URL is not its: the delivery is this
    // workspace's, and the other workspace sees none of it.
    let (status, answer) = s
        .call(
            "POST",
            &format!("/webhooks/global/{ws}/{key}"),
            Some(&other_admin),
            Some(json!({"events": [{"type": "deal.won", "account": "acct-zz", "deal": {"id": "d4"}}]})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    settle_jobs(&s).await;
    for path in [
        "/external-event-log-records",
        "/external-event-subscriptions",
        "/incoming-webhooks",
    ] {
        let (status, page) = s.get(path, &other_admin).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["items"], json!([]), "{path}: {page}");
    }
    assert_eq!(finished_runs(&s, &flow_a).await.len(), 1);
    assert_eq!(finished_runs(&s, &flow_b).await.len(), 1);
    s.finish().await;
}

/// An event a global webhook's claim left `created` (the node died before
/// recording its runs) is launched by the worker's sweep with no new delivery to
/// the app-wide URL, and starts no run twice.
#[tokio::test]
async fn the_sweep_launches_an_event_a_global_claim_left_created() {
    let Deals {
        s,
        conn_a,
        flow_a,
        flow_b,
        ..
    } = deals().await;
    let sub_a = of_type(&subscriptions(&s, &conn_a).await, "connector-event").clone();
    let sid = sub_a["id"].as_str().unwrap().to_owned();
    let uri = sub_a["webhookUri"].as_str().unwrap().to_owned();
    let (status, answer) = post(
        &s,
        &uri,
        json!({"events": [{"type": "deal.won", "account": "acct-a", "deal": {"id": "d1"}}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let run = events[0]["launchedFlowRunIds"].clone();
    assert_eq!(run.as_array().unwrap().len(), 1, "{events:?}");
    leave_created(&s, events[0]["id"].as_str().unwrap()).await;

    let mut cursor = 0;
    let later = osmosis_engine::clock::now_ms() + 61_000;
    assert_eq!(
        s.engine
            .sweep_stranded_external_events(later, &mut cursor)
            .await,
        1
    );
    settle_jobs(&s).await;
    let events = log_records(&s, &sid).await;
    assert_eq!(events[0]["status"], "success", "{events:?}");
    assert_eq!(events[0]["launchedFlowRunIds"], run, "{events:?}");
    let runs = finished_runs(&s, &flow_a).await;
    assert_eq!(runs.len(), 1, "the run started once: {runs:?}");
    assert_eq!(finished_runs(&s, &flow_b).await.len(), 0);
    assert_eq!(
        s.engine
            .sweep_stranded_external_events(later, &mut cursor)
            .await,
        0
    );
    s.finish().await;
}

#[tokio::test]
async fn a_connector_event_without_a_selector_is_an_error() {
    let s = Server::start().await;
    let base = start_app().await;
    let (_, integration) = crate::common::mock_api::install(&s, globe_connector(&base)).await;
    s.create(
        "flows",
        json!({"key": "on-polled", "integrationId": integration["id"], "nodes": {
            "t": {"type": "connector-event-trigger", "config": {"eventKey": "polled-only"}}
        }}),
    )
    .await;
    let (alice, conn) = connect(&s, &integration, "alice", "acct-a").await;
    instance(&s, &conn, &alice, "on-polled").await;
    settle_jobs(&s).await;
    let sub = of_type(&subscriptions(&s, &conn).await, "connector-event").clone();
    assert_eq!(sub["status"], "error", "{sub}");
    assert!(
        sub["error"]["message"]
            .as_str()
            .unwrap()
            .contains("getEventSelector"),
        "{sub}"
    );
    assert!(sub.get("globalWebhookKey").is_none(), "{sub}");
    s.finish().await;
}
