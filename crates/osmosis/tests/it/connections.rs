//! Connections made headless against a mock API: the connector's test runs against
//! the API, credentials are sealed at rest, secrets show only to admins, a customer
//! reaches only its own connections, and the proxy passes requests through the
//! connection's API client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::common;
use crate::common::mock_api::{connector, install, mock_api, start_mock, API_KEY};
use crate::common::*;

struct Fixture {
    s: Server,
    integration: Value,
    revoked: Arc<AtomicUsize>,
}

async fn fixture() -> Fixture {
    let s = Server::start().await;
    let (base, revoked) = mock_api().await;
    let (_, integration) = install(&s, connector(&base, "mock")).await;
    Fixture {
        s,
        integration,
        revoked,
    }
}

async fn connect(f: &Fixture, token: &str, key: &str) -> (u16, Value) {
    f.s.post(
        "/connections",
        token,
        json!({
            "integrationId": f.integration["id"],
            "name": "My mock",
            "input": {"apiKey": key}
        }),
    )
    .await
}

#[tokio::test]
async fn customer_connects_headless_and_secrets_stay_sealed() {
    let f = fixture().await;
    let s = &f.s;
    let alice = s.customer("alice");
    let (status, conn) = connect(&f, &alice, API_KEY).await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["state"], "READY");
    assert_eq!(conn["connected"], true);
    assert_eq!(conn["integrationId"], f.integration["id"]);
    assert!(conn.get("credentials").is_none(), "{conn}");
    assert!(conn.get("input").is_none(), "{conn}");
    assert!(!conn.to_string().contains(API_KEY));
    let id = conn["id"].as_str().unwrap().to_owned();

    // The integration now shows the customer's connection.
    let (_, i) = s.get("/integrations/mock", &alice).await;
    assert_eq!(i["isConnected"], true, "{i}");
    assert_eq!(i["connection"]["id"], id.as_str());

    // At rest the key is sealed: not in the stored document.
    let ws = s
        .stores
        .workspaces
        .workspace_by_key(WS_KEY)
        .await
        .unwrap()
        .unwrap();
    let stored = s
        .stores
        .elements
        .element_by_id(&ws.id, &id)
        .await
        .unwrap()
        .expect("stored");
    let doc = serde_json::to_string(&stored.doc).unwrap();
    assert!(!doc.contains(API_KEY), "plaintext key in {doc}");
    assert!(stored.doc["sealedCredentials"].is_string(), "{doc}");
    // Nor anywhere in a SQLite database file.
    if backend() == "sqlite" {
        let path = s.database_url.trim_start_matches("sqlite://");
        s.stores.database.close().await;
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        assert!(
            !bytes
                .windows(API_KEY.len())
                .any(|w| w == API_KEY.as_bytes()),
            "plaintext key in the database file"
        );
    }
    f.s.finish().await;
}

#[tokio::test]
async fn secrets_show_to_admins_only_and_other_customers_see_nothing() {
    let f = fixture().await;
    let s = &f.s;
    let alice = s.customer("alice");
    let bob = s.customer("bob");
    let (status, conn) = connect(&f, &alice, API_KEY).await;
    assert_eq!(status, 200, "{conn}");
    let id = conn["id"].as_str().unwrap().to_owned();

    let refused = s
        .get(&format!("/connections/{id}?includeSecrets=true"), &alice)
        .await;
    assert_error(&refused, 403, "bad_request", "access_denied");
    let (status, with) = s
        .get(
            &format!("/connections/{id}?includeSecrets=true"),
            &s.admin(),
        )
        .await;
    assert_eq!(status, 200, "{with}");
    assert_eq!(with["credentials"]["apiKey"], API_KEY);
    assert_eq!(with["input"]["apiKey"], API_KEY);
    let (_, plain) = s.get(&format!("/connections/{id}"), &s.admin()).await;
    assert!(plain.get("credentials").is_none(), "{plain}");

    // Bob cannot get, proxy through, or delete Alice's connection.
    let get = s.get(&format!("/connections/{id}"), &bob).await;
    assert_error(&get, 404, "bad_request", "not_found");
    let proxied = s
        .get(&format!("/connections/{id}/proxy/echo/x"), &bob)
        .await;
    assert_error(&proxied, 404, "bad_request", "not_found");
    let deleted = s
        .call("DELETE", &format!("/connections/{id}"), Some(&bob), None)
        .await;
    assert_error(&deleted, 404, "bad_request", "not_found");
    let (_, i) = s.get("/integrations/mock", &bob).await;
    assert_eq!(i["isConnected"], false);
    let (_, list) = s.get("/connections", &bob).await;
    assert_eq!(list["items"], json!([]));

    assert_eq!(f.revoked.load(Ordering::SeqCst), 0);

    // Alice deletes it: the connector's disconnect revokes it upstream, the
    // connection is archived, and the integration is no longer connected.
    let (status, archived) = s
        .call("DELETE", &format!("/connections/{id}"), Some(&alice), None)
        .await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archivedAt"].is_string(), "{archived}");
    assert_eq!(archived["connected"], false, "{archived}");
    assert_eq!(f.revoked.load(Ordering::SeqCst), 1);
    let (_, i) = s.get("/integrations/mock", &alice).await;
    assert_eq!(i["isConnected"], false, "{i}");
    f.s.finish().await;
}

#[tokio::test]
async fn proxy_passes_requests_through_the_connection() {
    let f = fixture().await;
    let s = &f.s;
    let alice = s.customer("alice");
    let (_, conn) = connect(&f, &alice, API_KEY).await;
    let id = conn["id"].as_str().unwrap().to_owned();

    let (status, got) = s
        .get(
            &format!("/connections/{id}/proxy/echo/items/7?a=1&b=two"),
            &alice,
        )
        .await;
    assert_eq!(status, 201, "{got}");
    assert_eq!(got["method"], "GET");
    assert_eq!(got["path"], "items/7");
    assert_eq!(got["query"], json!([["a", "1"], ["b", "two"]]));

    let (status, posted) = s
        .post(
            &format!("/connections/{id}/proxy/echo/items"),
            &alice,
            json!({"name": "new item", "n": 3}),
        )
        .await;
    assert_eq!(status, 201, "{posted}");
    assert_eq!(posted["method"], "POST");
    assert_eq!(posted["body"], json!({"name": "new item", "n": 3}));

    // Upstream errors come back as the upstream said them.
    let (status, failed) = s
        .get(&format!("/connections/{id}/proxy/status/404"), &alice)
        .await;
    assert_eq!(status, 404, "{failed}");
    assert_eq!(failed["message"], "as asked");
    f.s.finish().await;
}

#[tokio::test]
async fn a_failing_test_refuses_the_connection_and_stores_nothing() {
    let f = fixture().await;
    let s = &f.s;
    let alice = s.customer("alice");
    let refused = connect(&f, &alice, "wrong-key").await;
    // A refused test is the customer's input, not a server error: 400 with the
    // `connection` type the SDK reads (the app answered 403).
    assert_eq!(refused.1["type"], "connection", "{}", refused.1);
    assert_eq!(refused.0, 400, "{}", refused.1);
    assert_eq!(
        refused.1["data"]["response"]["status"], 403,
        "{}",
        refused.1
    );
    let (_, list) = s.get("/connections", &s.admin()).await;
    assert_eq!(list["items"], json!([]));
    let (_, i) = s.get("/integrations/mock", &alice).await;
    assert_eq!(i["isConnected"], false);
    f.s.finish().await;
}

#[tokio::test]
async fn admins_name_the_customer_and_interactive_connectors_are_refused() {
    let f = fixture().await;
    let s = &f.s;
    let alice = s.customer("alice");
    let (_, me) = s.get("/self", &alice).await;

    // An admin must say whose connection it is.
    let body = json!({"integrationId": f.integration["id"], "input": {"apiKey": API_KEY}});
    let anonymous = s.post("/connections", &s.admin(), body.clone()).await;
    assert_error(&anonymous, 400, "bad_request", "invalid_field");
    let mut named = body.clone();
    named["userId"] = json!("alice");
    let (status, conn) = s.post("/connections", &s.admin(), named).await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["userId"], me["id"]);
    let (_, i) = s.get("/integrations/mock", &alice).await;
    assert_eq!(i["isConnected"], true);

    // Changing the credentials in place is reconnecting: they are tested first,
    // and keys the API refuses change nothing.
    let id = conn["id"].as_str().unwrap();
    let patched = s
        .patch(
            &format!("/connections/{id}"),
            &alice,
            json!({"credentials": {"apiKey": "other"}}),
        )
        .await;
    assert_eq!(patched.1["type"], "connection", "{}", patched.1);
    let (_, still) = s.get(&format!("/connections/{id}"), &s.admin()).await;
    assert_eq!(still["revision"], conn["revision"]);

    // OAuth connectors need the connect flow.
    let oauth = s
        .create(
            "connectors",
            json!({"key": "oauthy", "name": "OAuthy", "type": "oauth2"}),
        )
        .await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "oauthy", "name": "OAuthy", "connectorId": oauth["id"]}),
        )
        .await;
    let refused = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"], "input": {}}),
        )
        .await;
    assert_error(&refused, 400, "bad_request", "not_supported");
    assert!(refused.1["message"]
        .as_str()
        .unwrap()
        .contains("connect flow"));
    f.s.finish().await;
}

/// Nothing that authenticates a caller to Osmosis reaches the external app: an
/// access token in the proxied query string or headers, or in `/act`'s inline
/// request, is dropped (other values named `token` pass, they may be the app's
/// own); and the query-string token does not authenticate the proxy at all.
#[tokio::test]
async fn access_tokens_are_never_forwarded() {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = install(&s, connector(&mock.url, "mock")).await;
    let alice = s.customer("alice");
    let conn = common::mock_api::connect(&s, &alice, &integration).await;
    let id = conn["id"].as_str().unwrap();
    let bob = s.customer("bob");
    for (caller, smuggled) in [(&alice, &alice), (&alice, &bob), (&s.admin(), &s.admin())] {
        let (status, got) = s
            .call(
                "GET",
                &format!("/connections/{id}/proxy/echo/me?token={smuggled}&q=1&token=xoxb-app-own"),
                Some(caller),
                None,
            )
            .await;
        assert_eq!(status, 201, "{got}");
        assert_eq!(got["query"], json!([["q", "1"], ["token", "xoxb-app-own"]]));
        let seen = mock.last();
        assert!(!seen.uri.contains(smuggled.as_str()), "{seen:?}");
    }
    // Headers carrying a token are not forwarded; others are.
    let sent = s
        .http
        .get(format!("{}/connections/{id}/proxy/echo/h", s.url))
        .bearer_auth(&alice)
        .header("x-membrane-token", &alice)
        .header("x-forward-me", format!("Bearer {bob}"))
        .header("x-custom", "kept")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let seen = mock.last();
    let names: Vec<&str> = seen.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"x-custom"), "{names:?}");
    assert!(!names.contains(&"x-membrane-token"), "{names:?}");
    assert!(!names.contains(&"x-forward-me"), "{names:?}");
    assert!(!format!("{seen:?}").contains(&alice) && !format!("{seen:?}").contains(&bob));
    // `/act`'s inline request.
    let (status, out) = s
        .post(
            "/act",
            &alice,
            json!({"connectionId": id, "api": {"path": "/echo/act",
                "query": {"token": alice, "q": "2"}, "headers": {"x-token": alice, "x-ok": "yes"}}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["output"]["query"], json!([["q", "2"]]));
    let seen = mock.last();
    assert!(!format!("{seen:?}").contains(&alice), "{seen:?}");
    assert!(seen.headers.iter().any(|(n, v)| n == "x-ok" && v == "yes"));
    // A token in the query string alone does not authenticate the proxy.
    let before = mock.request_count();
    let r = s
        .call(
            "GET",
            &format!("/connections/{id}/proxy/echo/me?token={alice}"),
            None,
            None,
        )
        .await;
    assert_error(&r, 401, "bad_request", "not_authenticated");
    assert_eq!(mock.request_count(), before);
    s.finish().await;
}

/// Every call Osmosis makes names itself (`User-Agent: Osmosis/<version>`): GitHub and
/// others refuse requests without one, and the engine must use the shared outbound
/// client rather than a bare one.
#[tokio::test]
async fn outbound_calls_carry_the_osmosis_user_agent() {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = install(&s, connector(&mock.url, "mock")).await;
    let alice = s.customer("alice");
    let conn = common::mock_api::connect(&s, &alice, &integration).await;
    let user_agent = |seen: &common::mock_api::Seen| {
        seen.headers
            .iter()
            .find(|(n, _)| n == "user-agent")
            .map(|(_, v)| v.clone())
    };
    // The connection test made at connect time.
    assert_eq!(
        user_agent(&mock.last()).as_deref(),
        Some(osmosis_connectors::http::USER_AGENT)
    );
    let (status, out) = s
        .post(
            "/act",
            &alice,
            json!({"connectionId": conn["id"], "api": {"path": "/echo/act"}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        user_agent(&mock.last()).as_deref(),
        Some(concat!("Osmosis/", env!("CARGO_PKG_VERSION")))
    );
    s.finish().await;
}
