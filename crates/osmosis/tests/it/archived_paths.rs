//! Archiving takes a connection out of service at once: after the connection,
//! its integration, its connector or its customer is archived, every route that
//! would call the external app answers `not_found` and nothing reaches the app —
//! through runners cached before the archive too, and on another node of a shared
//! database. Restoring brings the calls back.

use serde_json::{json, Value};

use crate::common;
use crate::common::mock_api::{connector, install, start_mock, MockApi, API_KEY};
use crate::common::*;

struct Fixture {
    s: Server,
    mock: MockApi,
    alice: String,
    alice_id: String,
    conn: String,
    integration: String,
    connector: String,
}

/// A connector with an operation and a data collection besides the proxy, and
/// Alice's working connection through it.
async fn fixture() -> Fixture {
    let s = Server::start().await;
    let mock = start_mock().await;
    let mut definition = connector(&mock.url, "crm");
    definition["operations"] = json!([{"key": "whoami", "name": "Who am I",
        "run": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}}]);
    definition["data"] = json!({"things": {"name": "Things",
        "list": {"type": "rest-api-mapping", "mapping": {"path": "/echo/things", "method": "GET",
            "responseMapping": {"records": []}}}}});
    let (c, i) = install(&s, definition).await;
    let alice = s.customer("alice");
    let conn = common::mock_api::connect(&s, &alice, &i).await;
    let (_, me) = s.get("/self", &alice).await;
    Fixture {
        alice_id: me["id"].as_str().expect("customer id").to_owned(),
        s,
        mock,
        alice,
        conn: conn["id"].as_str().unwrap().to_owned(),
        integration: i["id"].as_str().unwrap().to_owned(),
        connector: c["id"].as_str().unwrap().to_owned(),
    }
}

/// Every route that calls the external app through connection `c`.
fn calling_routes(c: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", format!("/connections/{c}/proxy/echo/p?q=1"), None),
        (
            "POST",
            format!("/connections/{c}/api/echo/a"),
            Some(json!({"x": 1})),
        ),
        (
            "POST",
            format!("/connections/{c}/operations/whoami/run"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/connections/{c}/data/things/list"),
            Some(json!({})),
        ),
        ("POST", format!("/connections/{c}/test"), Some(json!({}))),
        (
            "POST",
            format!("/connections/{c}/refresh-credentials"),
            Some(json!({})),
        ),
        ("POST", format!("/connections/{c}/refresh"), Some(json!({}))),
        (
            "POST",
            "/act".to_owned(),
            Some(json!({"connectionId": c, "api": {"path": "/echo/act"}})),
        ),
    ]
}

/// Each calling route answers `not_found` to `token`, and the app hears nothing.
async fn assert_out_of_service(s: &Server, mock: &MockApi, token: &str, c: &str) {
    let before = mock.request_count();
    for (method, path, body) in calling_routes(c) {
        let r = s.call(method, &path, Some(token), body).await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    assert_eq!(
        mock.request_count(),
        before,
        "the app was called: {:?}",
        mock.requests.lock().unwrap()[before..].to_vec()
    );
}

/// The proxy and the test reach the app again.
async fn assert_in_service(s: &Server, mock: &MockApi, token: &str, c: &str) {
    let before = mock.request_count();
    let (status, body) = s
        .get(&format!("/connections/{c}/proxy/echo/back"), token)
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .post(&format!("/connections/{c}/test"), token, json!({}))
        .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    assert_eq!(mock.request_count(), before + 2);
}

#[tokio::test]
async fn an_archived_connection_calls_nothing() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    // A call first, so a runner for the connection is cached.
    assert_in_service(s, &f.mock, a, c).await;
    let (_, live) = s.get(&format!("/connections/{c}"), &s.admin()).await;
    let (status, archived) = s
        .call("DELETE", &format!("/connections/{c}"), Some(a), None)
        .await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archivedAt"].is_string());

    assert_out_of_service(s, &f.mock, a, c).await;
    assert_out_of_service(s, &f.mock, &s.admin(), c).await;
    // Nothing was written into the archived row (refresh-credentials above).
    let (_, after) = s.get(&format!("/connections/{c}"), &s.admin()).await;
    assert_eq!(after["updatedAt"], archived["updatedAt"], "{after}");
    assert_ne!(after["updatedAt"], live["updatedAt"]);

    let (status, _) = s
        .post(&format!("/connections/{c}/restore"), a, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_in_service(s, &f.mock, a, c).await;
    f.s.finish().await;
}

#[tokio::test]
async fn an_archived_integration_or_connector_takes_its_connections_out_of_service() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let admin = s.admin();
    for (plural, id) in [
        ("integrations", &f.integration),
        ("connectors", &f.connector),
    ] {
        assert_in_service(s, &f.mock, a, c).await;
        let (status, body) = s
            .call("DELETE", &format!("/{plural}/{id}"), Some(&admin), None)
            .await;
        assert_eq!(status, 200, "{plural}: {body}");
        assert_out_of_service(s, &f.mock, a, c).await;
        assert_out_of_service(s, &f.mock, &admin, c).await;
        // Nor can anyone connect anew through it.
        let made = s
            .post(
                "/connections",
                a,
                json!({"integrationId": f.integration, "input": {"apiKey": API_KEY}}),
            )
            .await;
        assert!(made.0 == 404 || made.0 == 400, "{plural}: {:?}", made);
        let (status, body) = s
            .post(&format!("/{plural}/{id}/restore"), &admin, json!({}))
            .await;
        assert_eq!(status, 200, "{plural}: {body}");
    }
    assert_in_service(s, &f.mock, a, c).await;
    f.s.finish().await;
}

#[tokio::test]
async fn a_connection_of_an_archived_customer_calls_nothing_even_for_an_admin() {
    let f = fixture().await;
    let (s, c) = (&f.s, &f.conn);
    let admin = s.admin();
    assert_in_service(s, &f.mock, &admin, c).await;
    let (status, body) = s
        .call(
            "DELETE",
            &format!("/customers/{}", f.alice_id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_out_of_service(s, &f.mock, &admin, c).await;
    let (status, _) = s
        .post(
            &format!("/customers/{}/restore", f.alice_id),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_in_service(s, &f.mock, &f.alice, c).await;
    f.s.finish().await;
}

/// Hostile selectors on the calling routes: another customer's connection, ids
/// that do not exist, traversal and NUL in the path — all `not_found` or a clear
/// `bad_request`, none reaching the app.
#[tokio::test]
async fn hostile_selectors_reach_nothing() {
    let f = fixture().await;
    let s = &f.s;
    let bob = s.customer("bob");
    assert_out_of_service(s, &f.mock, &bob, &f.conn).await;
    let before = f.mock.request_count();
    for sel in [
        "conn_000000000000000000000000",
        "..%2F..%2Fadmin",
        "%00",
        "%20",
    ] {
        for (method, path, body) in calling_routes(sel) {
            let r = s.call(method, &path, Some(&f.alice), body).await;
            assert!(
                (400..500).contains(&r.0) && r.1["type"] == "bad_request",
                "{method} {path}: {r:?}"
            );
        }
    }
    assert_eq!(f.mock.request_count(), before);
    f.s.finish().await;
}

/// On a shared database another node, whose runner for the connection is cached,
/// refuses as soon as the first node archived the integration.
#[tokio::test]
async fn another_node_stops_calling_at_once() {
    if backend() != "postgres" {
        return;
    }
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let other = s.another_node().await;
    assert_in_service(&other, &f.mock, a, c).await;
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/integrations/{}", f.integration),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_out_of_service(&other, &f.mock, a, c).await;
    other.finish().await;
    f.s.finish().await;
}

/// The other node's element cache hears of an archive a moment after it
/// committed; a call in that moment must not go out. Archived here in the
/// database with no notice at all — a notice that never arrives — so every read
/// the other node caches stays stale: only the uncached check of the path stops
/// the calls, for each element on it.
#[tokio::test]
async fn a_late_cache_notice_opens_no_window() {
    if backend() != "postgres" {
        return;
    }
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let other = s.another_node().await;
    let db = sqlx_pg_pool(&s.database_url).await;
    for id in [&f.integration, &f.connector, &f.alice_id, &f.conn] {
        assert_in_service(&other, &f.mock, a, c).await;
        db.execute_sql(&format!(
            "UPDATE elements SET archived_at = '2026-01-01T00:00:00.000Z' WHERE id = '{id}'"
        ))
        .await;
        assert_out_of_service(&other, &f.mock, a, c).await;
        db.execute_sql(&format!(
            "UPDATE elements SET archived_at = NULL WHERE id = '{id}'"
        ))
        .await;
    }
    assert_in_service(&other, &f.mock, a, c).await;
    other.finish().await;
    f.s.finish().await;
}
