//! The console's connections (`/console/connections`): the filtered list, one
//! connection's health and its buttons (test, refresh credentials, disconnect,
//! each doing what the API's route does), its external API calls with secrets
//! masked, and that another workspace, an archived connection, a forged form or
//! hostile input changes and reveals nothing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::console::Console;
use crate::common::mock_api::{connect, connector, install, start_mock, MockApi, API_KEY};
use crate::common::*;

struct Fixture {
    s: Server,
    mock: MockApi,
    integration: String,
    alice_id: String,
    conn: String,
    console: Console,
}

/// Alice's working connection to the mock API (its credentials hold
/// [`API_KEY`]), and a signed-in console.
async fn fixture() -> Fixture {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = install(&s, connector(&mock.url, "crm")).await;
    let alice = s.customer("alice");
    let conn = connect(&s, &alice, &integration).await;
    let (_, me) = s.get("/self", &alice).await;
    let console = Console::sign_in(&s).await;
    Fixture {
        integration: integration["id"].as_str().unwrap().to_owned(),
        alice_id: me["id"].as_str().unwrap().to_owned(),
        conn: conn["id"].as_str().unwrap().to_owned(),
        s,
        mock,
        console,
    }
}

/// The connection's API logs once at least `n` are written (asynchronously).
async fn logs_at_least(s: &Server, conn: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (_, page) = s
            .get(
                &format!("/external-api-logs?connectionId={conn}"),
                &s.admin(),
            )
            .await;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} logs");
}

#[tokio::test]
async fn the_connections_list_filters_by_integration_customer_and_state() {
    let f = fixture().await;
    let (c, conn) = (&f.console, &f.conn);
    let row = format!(r#"<a href="/console/connections/{conn}">"#);
    let list = c.get("/console/connections").await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert!(list.body.contains(&row), "{}", list.body);
    assert!(list.body.contains("healthy"));
    assert!(
        list.body.contains("Mock API"),
        "the integration: {}",
        list.body
    );
    assert!(
        list.body
            .contains(&format!(r#"<a href="/console/customers/{}">"#, f.alice_id)),
        "{}",
        list.body
    );
    for (query, listed) in [
        (format!("integration={}", f.integration), true),
        ("integration=crm".to_owned(), true),
        (format!("customer={}", f.alice_id), true),
        ("customer=cus-nobody".to_owned(), false),
        ("state=healthy".to_owned(), true),
        ("state=disconnected".to_owned(), false),
    ] {
        let page = c.get(&format!("/console/connections?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(page.body.contains(&row), listed, "{query}: {}", page.body);
    }
    assert_eq!(c.get("/console/connections?state=odd").await.status, 400);
    let hostile = c
        .get("/console/connections?customer=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await;
    assert_eq!(hostile.status, 200);
    assert!(!hostile.body.contains("<script>alert(1)"));
    assert!(hostile.body.contains("&lt;script&gt;alert(1)"));
    // The integration page counts it.
    let integration = c
        .get(&format!("/console/integrations/{}", f.integration))
        .await;
    assert!(
        integration.body.contains(&format!(
            r#"href="/console/connections?integration={}">1</a>"#,
            f.integration
        )),
        "{}",
        integration.body
    );
    f.s.finish().await;
}

#[tokio::test]
async fn a_connection_shows_its_health_and_its_calls_without_secrets() {
    let f = fixture().await;
    let (s, c, conn) = (&f.s, &f.console, &f.conn);
    // Two calls, the second with the key in its query.
    let alice = s.customer("alice");
    let (status, _) = s
        .get(&format!("/connections/{conn}/proxy/me"), &alice)
        .await;
    assert_eq!(status, 200);
    let _ = logs_at_least(s, conn, 1).await;
    let (status, _) = s
        .get(
            &format!("/connections/{conn}/proxy/echo/x?api_key={API_KEY}&page=2"),
            &alice,
        )
        .await;
    assert_eq!(status, 201);
    let logs = logs_at_least(s, conn, 2).await;

    let page = c.get(&format!("/console/connections/{conn}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let b = &page.body;
    assert!(b.contains(r#"<dl class="facts">"#), "{b}");
    assert!(b.contains("healthy"), "{b}");
    assert!(b.contains("Mock API"), "{b}");
    assert!(b.contains("alice"), "the customer: {b}");
    assert!(b.contains("Last error"), "{b}");
    assert!(b.contains(r#"data-confirm="#), "{b}");
    assert!(b.contains(&format!(r#"action="/console/connections/{conn}/test""#)));
    assert!(b.contains(&format!(r#"action="/console/connections/{conn}/refresh""#)));
    assert!(b.contains(&format!(
        r#"action="/console/connections/{conn}/disconnect""#
    )));
    // The calls, newest first: the echo, then `/me`.
    let echo_at = b.find("/echo/x").expect("the echo call");
    let me_at = b.find("/me</code>").expect("the test call");
    assert!(echo_at < me_at, "{b}");
    assert!(b.contains("<td>GET</td>"), "{b}");
    assert!(b.contains("201"), "{b}");
    assert!(b.contains(" ms</td>"), "{b}");
    assert!(!b.contains(API_KEY), "{b}");

    let echo = logs
        .iter()
        .find(|l| l["requestUrl"].as_str().unwrap().contains("/echo/x"))
        .unwrap();
    let log_id = echo["id"].as_str().unwrap();
    let detail = c
        .get(&format!("/console/connections/{conn}/logs/{log_id}"))
        .await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let d = &detail.body;
    assert!(d.contains("x-api-key"), "the request's headers: {d}");
    assert!(d.contains("***"), "masked: {d}");
    assert!(d.contains("Response"), "{d}");
    assert!(d.contains("201"), "{d}");
    assert!(!d.contains(API_KEY), "{d}");
    let (_, api) = s
        .get(&format!("/external-api-logs/{log_id}"), &s.admin())
        .await;
    assert_eq!(api["request"]["headers"]["x-api-key"], "***");

    // A log under another connection's path is not found.
    let mock2 = start_mock().await;
    let (_, other_integration) = install(&f.s, connector(&mock2.url, "crm2")).await;
    let conn2 = connect(s, &alice, &other_integration).await;
    let conn2 = conn2["id"].as_str().unwrap();
    assert_eq!(
        c.get(&format!("/console/connections/{conn2}/logs/{log_id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        c.get(&format!("/console/connections/{conn}/logs/..%2F.."))
            .await
            .status,
        404
    );
    f.s.finish().await;
}

#[tokio::test]
async fn test_refresh_and_disconnect_do_what_they_say() {
    let f = fixture().await;
    let (s, c, conn) = (&f.s, &f.console, &f.conn);
    let before = f.mock.request_count();
    let tested = c
        .post(&format!("/console/connections/{conn}/test"), &[])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(
        tested.body.contains("The connection works."),
        "{}",
        tested.body
    );
    assert_eq!(f.mock.request_count(), before + 1);
    assert_eq!(f.mock.last().uri, "/me");

    let never = c.get(&format!("/console/connections/{conn}")).await;
    assert!(
        never.body.contains("not refreshed since it was connected"),
        "{}",
        never.body
    );
    let refreshed = c
        .post(&format!("/console/connections/{conn}/refresh"), &[])
        .await;
    assert_eq!(refreshed.status, 303, "{}", refreshed.body);
    assert_eq!(
        refreshed.location,
        format!("/console/connections/{conn}?done=refreshed")
    );
    let page = c.get(&refreshed.location).await.body;
    assert!(page.contains("Credentials refreshed."));
    // This connector's credentials never expire: nothing was renewed (a real
    // refresh shows its time: credentials.rs).
    assert!(
        page.contains("not refreshed since it was connected"),
        "{page}"
    );

    let disconnected = c
        .post(&format!("/console/connections/{conn}/disconnect"), &[])
        .await;
    assert_eq!(disconnected.status, 303, "{}", disconnected.body);
    assert_eq!(
        disconnected.location,
        "/console/connections?done=disconnected"
    );
    assert_eq!(f.mock.revoked.load(Ordering::SeqCst), 1, "revoked first");
    let (status, archived) = s.get(&format!("/connections/{conn}"), &s.admin()).await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archivedAt"].is_string(), "{archived}");
    assert_eq!(archived["connected"], false, "{archived}");
    let list = c.get(&disconnected.location).await;
    assert!(list.body.contains("The connection was disconnected."));
    assert!(!list
        .body
        .contains(&format!("/console/connections/{conn}\"")));
    f.s.finish().await;
}

#[tokio::test]
async fn a_failing_test_shows_why() {
    let f = fixture().await;
    let (s, c, conn) = (&f.s, &f.console, &f.conn);
    // The connector's test now asks a path the mock refuses.
    let (_, connectors) = s.get("/connectors?search=crm", &s.admin()).await;
    let cid = connectors["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .patch(
            &format!("/connectors/{cid}"),
            &s.admin(),
            json!({"test": {"type": "rest-api-mapping", "mapping": {"path": "/status/404", "method": "GET"}}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let tested = c
        .post(&format!("/console/connections/{conn}/test"), &[])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(tested.body.contains("The test failed"), "{}", tested.body);
    f.s.finish().await;
}

#[tokio::test]
async fn connections_refuse_other_workspaces_archives_and_forged_posts() {
    let f = fixture().await;
    let (s, c, conn) = (&f.s, &f.console, &f.conn);
    let live = || async { s.get(&format!("/connections/{conn}"), &s.admin()).await.0 };
    let alice = s.customer("alice");
    s.get(&format!("/connections/{conn}/proxy/me"), &alice)
        .await;
    let _ = logs_at_least(s, conn, 1).await;
    let (_, logs) = s
        .get(
            &format!("/external-api-logs?connectionId={conn}"),
            &s.admin(),
        )
        .await;
    let log_id = logs["items"][0]["id"].as_str().unwrap().to_owned();

    s.other_workspace_admin().await;
    let other = Console::sign_in_as(&s.url, "other-ws", "other-secret").await;
    for path in [
        format!("/console/connections/{conn}"),
        format!("/console/connections/{conn}/logs/{log_id}"),
    ] {
        assert_eq!(other.get(&path).await.status, 404, "{path}");
    }
    assert!(!other
        .get("/console/connections")
        .await
        .body
        .contains(conn.as_str()));
    let requests = f.mock.request_count();
    for action in ["test", "refresh", "disconnect"] {
        let answer = other
            .post(&format!("/console/connections/{conn}/{action}"), &[])
            .await;
        assert_eq!(answer.status, 404, "{action}: {}", answer.body);
    }
    assert_eq!(f.mock.request_count(), requests, "nothing reached the API");

    // Forged: no token, or another session's.
    let requests = f.mock.request_count();
    for action in ["test", "refresh", "disconnect"] {
        for fields in [vec![], vec![("csrf", other.csrf.as_str())]] {
            let answer = c
                .post_raw(&format!("/console/connections/{conn}/{action}"), &fields)
                .await;
            assert_eq!(answer.status, 403, "{action}");
        }
    }
    assert_eq!(f.mock.request_count(), requests, "nothing reached the API");
    let big = "x".repeat(2 * 1024 * 1024);
    let huge = c
        .post(
            &format!("/console/connections/{conn}/disconnect"),
            &[("padding", big.as_str())],
        )
        .await;
    assert!(huge.status == 400 || huge.status == 413, "{}", huge.status);
    assert_eq!(live().await, 200);
    assert_eq!(f.mock.revoked.load(Ordering::SeqCst), 0);

    for path in [
        "/console/connections/..%2F..",
        "/console/connections/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let answer = c.get(path).await;
        assert!(answer.status == 404 || answer.status == 400, "{path}");
        assert!(!answer.body.contains("<script>alert"), "{path}");
    }

    // Archived through the API: its page says so (410), and no button reaches
    // the API.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/connections/{conn}"),
            Some(&s.admin()),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let revoked = f.mock.revoked.load(Ordering::SeqCst);
    let api_status = 410;
    for path in [
        format!("/console/connections/{conn}"),
        format!("/console/connections/{conn}/logs/{log_id}"),
    ] {
        assert_eq!(c.get(&path).await.status, api_status, "{path}");
    }
    let requests = f.mock.request_count();
    for action in ["test", "refresh", "disconnect"] {
        let answer = c
            .post(&format!("/console/connections/{conn}/{action}"), &[])
            .await;
        assert_eq!(answer.status, api_status, "{action}: {}", answer.body);
    }
    assert_eq!(f.mock.request_count(), requests);
    assert_eq!(f.mock.revoked.load(Ordering::SeqCst), revoked);
    f.s.finish().await;
}

/// A provider whose token endpoint refuses every refresh (`invalid_grant`) and
/// whose API accepts the one token it gave.
async fn revoking_provider() -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/token",
            post(|| async {
                (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
            }),
        )
        .route(
            "/api/me",
            get(|headers: axum::http::HeaderMap| async move {
                let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
                    == Some("Bearer at-0");
                if ok {
                    (axum::http::StatusCode::OK, axum::Json(json!({"id": "u-1"})))
                } else {
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        axum::Json(json!({"message": "expired"})),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test]
async fn a_refused_refresh_shows_why_and_the_connection_as_disconnected() {
    let s = Server::start().await;
    let base = revoking_provider().await;
    let connector = s.create("connectors", oauth2_connector(&base)).await;
    s.create(
        "integrations",
        json!({"key": "oauthapi", "name": "OAuth API", "connectorId": connector["id"]}),
    )
    .await;
    s.get("/self", &s.customer("alice")).await;
    let (status, conn) = s
        .post(
            "/connections",
            &s.admin(),
            json!({"integrationKey": "oauthapi", "userId": "alice", "name": "Alice's",
                   "credentials": {"access_token": "at-0", "refresh_token": "rt-0"}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    let console = Console::sign_in(&s).await;
    let row = format!(r#"<a href="/console/connections/{conn}">"#);
    assert!(console
        .get("/console/connections?state=healthy")
        .await
        .body
        .contains(&row));

    let refused = console
        .post(&format!("/console/connections/{conn}/refresh"), &[])
        .await;
    assert!(refused.status >= 400, "{}", refused.status);
    assert!(
        refused.body.contains(r#"class="error""#),
        "{}",
        refused.body
    );

    let page = console.get(&format!("/console/connections/{conn}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("disconnected"), "{}", page.body);
    assert!(
        page.body.contains("reconnect"),
        "the customer's action: {}",
        page.body
    );
    assert!(!page.body.contains("rt-0"), "{}", page.body);
    let (_, api) = s.get(&format!("/connections/{conn}"), &s.admin()).await;
    assert_eq!(api["connected"], false, "{api}");
    assert!(console
        .get("/console/connections?state=disconnected")
        .await
        .body
        .contains(&row));
    assert!(!console
        .get("/console/connections?state=healthy")
        .await
        .body
        .contains(&row));
    // The test reports the failure rather than failing the page.
    let tested = console
        .post(&format!("/console/connections/{conn}/test"), &[])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(tested.body.contains("The test failed"), "{}", tested.body);
    s.finish().await;
}

#[tokio::test]
async fn a_connections_calls_page_by_25() {
    let f = fixture().await;
    let (s, c, conn) = (&f.s, &f.console, &f.conn);
    let alice = s.customer("alice");
    for n in 0..26 {
        s.get(&format!("/connections/{conn}/proxy/echo/call-{n}"), &alice)
            .await;
    }
    let _ = logs_at_least(s, conn, 26).await;
    let first = c.get(&format!("/console/connections/{conn}")).await;
    assert!(first.body.contains("/echo/call-25"), "newest first");
    assert!(!first.body.contains("/echo/call-0<"), "{}", first.body);
    let marker = r#"<a rel="next" href=""#;
    let at = first.body.find(marker).expect("a next page") + marker.len();
    let next = &first.body[at..at + first.body[at..].find('"').unwrap()];
    let second = c.get(&next.replace("&amp;", "&")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(second.body.contains("/echo/call-0<"), "{}", second.body);
    assert!(!second.body.contains("/echo/call-25"));
    f.s.finish().await;
}
