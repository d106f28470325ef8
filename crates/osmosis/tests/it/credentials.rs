//! Keeping credentials fresh against a mock OAuth 2 provider and API: 100
//! concurrent proxy calls on an expired token refresh it once; a token endpoint
//! that is down leaves the connection connected and it recovers when the endpoint
//! returns; a revoked refresh token makes the connection defunct
//! (CLIENT_ACTION_REQUIRED) without losing it; webhook notifications are retried
//! until the receiver accepts them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

use crate::common::*;

/// The provider and its API: the API accepts only the current access token.
#[derive(Default)]
struct Provider {
    current: Mutex<String>,
    refreshes: AtomicUsize,
    /// The token endpoint answers 503.
    down: AtomicBool,
    /// The refresh token was revoked: the grant answers `invalid_grant`.
    revoked: AtomicBool,
    webhook_failures_left: AtomicUsize,
    webhooks: Mutex<Vec<Value>>,
}

async fn token(
    State(p): State<Arc<Provider>>,
    Form(form): Form<Vec<(String, String)>>,
) -> axum::response::Response {
    if p.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let grant = form
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    if grant != Some("refresh_token") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if p.revoked.load(Ordering::SeqCst) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    // Slow enough that concurrent callers pile up behind the first refresh.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let n = p.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
    let fresh = format!("at-{n}");
    *p.current.lock().unwrap() = fresh.clone();
    Json(json!({"access_token": fresh, "refresh_token": "rt-1", "expires_in": 3600}))
        .into_response()
}

async fn me(State(p): State<Arc<Provider>>, headers: HeaderMap) -> axum::response::Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if given == format!("Bearer {}", p.current.lock().unwrap()) {
        Json(json!({"id": "u-1", "name": "Ada"})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "expired"})),
        )
            .into_response()
    }
}

async fn hook(State(p): State<Arc<Provider>>, Json(body): Json<Value>) -> StatusCode {
    if p.webhook_failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    p.webhooks.lock().unwrap().push(body);
    StatusCode::OK
}

async fn mock(provider: Arc<Provider>) -> String {
    let app = Router::new()
        .route("/token", post(token))
        .route("/api/me", get(me))
        .route("/hook", post(hook))
        .with_state(provider);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

struct Fixture {
    s: Server,
    p: Arc<Provider>,
    base: String,
    conn: String,
}

/// An OAuth 2 integration and a connection made with a working token.
async fn fixture() -> Fixture {
    let s = Server::start().await;
    let p = Arc::new(Provider::default());
    *p.current.lock().unwrap() = "at-0".into();
    let base = mock(p.clone()).await;
    let connector = s.create("connectors", oauth2_connector(&base)).await;
    s.create(
        "integrations",
        json!({"key": "oauthapi", "name": "OAuth API", "connectorId": connector["id"]}),
    )
    .await;
    let (status, conn) = s
        .post(
            "/connections",
            &s.admin(),
            json!({"integrationKey": "oauthapi", "userId": "alice", "name": "Alice's",
                   "credentials": {"access_token": "at-0", "refresh_token": "rt-0"}}),
        )
        .await;
    // Admin connections name their customer, who must exist: make alice first.
    let conn = if status == 200 {
        conn
    } else {
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
        conn
    };
    let conn = conn["id"].as_str().unwrap().to_owned();
    Fixture { s, p, base, conn }
}

/// The provider forgets the current token: the next call gets a 401.
fn expire(p: &Provider) {
    *p.current.lock().unwrap() = "nobody-has-this".into();
}

#[tokio::test]
async fn hundred_concurrent_calls_on_an_expired_token_refresh_once() {
    let f = fixture().await;
    expire(&f.p);
    let alice = f.s.customer("alice");
    let calls = (0..100).map(|_| {
        let (s, alice, conn) = (&f.s, alice.clone(), f.conn.clone());
        async move {
            s.get(&format!("/connections/{conn}/proxy/me"), &alice)
                .await
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["name"], "Ada");
    }
    assert_eq!(
        f.p.refreshes.load(Ordering::SeqCst),
        1,
        "exactly one refresh"
    );
    let (_, conn) =
        f.s.get(&format!("/connections/{}", f.conn), &f.s.admin())
            .await;
    assert_eq!(conn["connected"], true, "{conn}");
    assert!(conn["nextCredentialsRefreshAt"].is_string(), "{conn}");
    f.s.finish().await;
}

#[tokio::test]
async fn token_endpoint_down_then_back_recovers() {
    let f = fixture().await;
    let alice = f.s.customer("alice");
    expire(&f.p);
    f.p.down.store(true, Ordering::SeqCst);
    let (status, e) =
        f.s.get(&format!("/connections/{}/proxy/me", f.conn), &alice)
            .await;
    assert!(status >= 400, "{e}");
    assert_eq!(e["type"], "connection", "{e}");
    let (_, conn) =
        f.s.get(&format!("/connections/{}", f.conn), &f.s.admin())
            .await;
    assert_eq!(
        conn["connected"], true,
        "a transient failure keeps it connected: {conn}"
    );
    assert_eq!(conn["retryAttempts"], 1, "{conn}");
    assert_ne!(conn["state"], "CLIENT_ACTION_REQUIRED");
    f.p.down.store(false, Ordering::SeqCst);
    let (status, me) =
        f.s.get(&format!("/connections/{}/proxy/me", f.conn), &alice)
            .await;
    assert_eq!(status, 200, "{me}");
    let (_, conn) =
        f.s.get(&format!("/connections/{}", f.conn), &f.s.admin())
            .await;
    assert!(conn.get("retryAttempts").is_none(), "{conn}");
    f.s.finish().await;
}

#[tokio::test]
async fn revoked_refresh_token_needs_the_customer_and_loses_nothing() {
    let f = fixture().await;
    let alice = f.s.customer("alice");
    expire(&f.p);
    f.p.revoked.store(true, Ordering::SeqCst);
    let (status, e) =
        f.s.get(&format!("/connections/{}/proxy/me", f.conn), &alice)
            .await;
    assert!(status >= 400, "{e}");
    assert_eq!(e["key"], "connection_is_defunct", "{e}");
    let (_, conn) =
        f.s.get(
            &format!("/connections/{}?includeSecrets=true", f.conn),
            &f.s.admin(),
        )
        .await;
    assert_eq!(conn["state"], "CLIENT_ACTION_REQUIRED", "{conn}");
    assert_eq!(conn["connected"], false, "{conn}");
    assert_eq!(conn["clientAction"]["type"], "connect", "{conn}");
    assert_eq!(
        conn["credentials"]["refresh_token"], "rt-0",
        "the credentials are kept: {conn}"
    );
    // Refresh-credentials says the same; the test endpoint reports failure.
    let (status, _) =
        f.s.post(
            &format!("/connections/{}/refresh-credentials", f.conn),
            &alice,
            json!({}),
        )
        .await;
    assert!(status >= 400);
    let (_, t) =
        f.s.post(&format!("/connections/{}/test", f.conn), &alice, json!({}))
            .await;
    assert_eq!(t["success"], false, "{t}");
    f.s.finish().await;
}

#[tokio::test]
async fn refresh_credentials_endpoint_and_test_endpoint() {
    use crate::metrics::{scrape, value};
    let f = fixture().await;
    let alice = f.s.customer("alice");
    let ok = [("connector", "oauthapi"), ("result", "ok")];
    let before = scrape(&f.s.url).await;
    let (status, conn) =
        f.s.post(
            &format!("/connections/{}/refresh-credentials", f.conn),
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(f.p.refreshes.load(Ordering::SeqCst), 1);
    let after = scrape(&f.s.url).await;
    let refreshes = "osmosis_credential_refreshes_total";
    assert_eq!(
        value(&after, refreshes, &ok) - value(&before, refreshes, &ok),
        1.0,
        "the refresh is counted"
    );
    // The console says when; the API's connection does not carry the field.
    let console = crate::common::console::Console::sign_in(&f.s).await;
    let page = console
        .get(&format!("/console/connections/{}", f.conn))
        .await
        .body;
    assert!(page.contains("Last credentials refresh"), "{page}");
    assert!(
        !page.contains("not refreshed since it was connected"),
        "{page}"
    );
    let (_, api) =
        f.s.get(&format!("/connections/{}", f.conn), &f.s.admin())
            .await;
    assert!(api.get("credentialsRefreshedAt").is_none(), "{api}");
    let (_, t) =
        f.s.post(&format!("/connections/{}/test", f.conn), &alice, json!({}))
            .await;
    assert_eq!(t, json!({"success": true}));
    // Another customer reaches neither.
    let bob = f.s.customer("bob");
    for path in ["refresh-credentials", "test"] {
        let r =
            f.s.post(&format!("/connections/{}/{path}", f.conn), &bob, json!({}))
                .await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    f.s.finish().await;
}

#[tokio::test]
async fn webhook_notifications_are_retried_until_accepted() {
    let f = fixture().await;
    let admin = f.s.admin();
    let r =
        f.s.patch("/settings", &admin, json!({"webhookUri": "not a url"}))
            .await;
    assert_eq!(r.0, 400, "{:?}", r.1);
    let r = f
        .s
        .patch(
            "/settings",
            &admin,
            json!({"webhookUri": format!("{}/hook", f.base), "enabledWebhookEvents": ["connection.deleted", "connection.disconnected"]}),
        )
        .await;
    assert_eq!(r.0, 200, "{:?}", r.1);
    f.p.webhook_failures_left.store(2, Ordering::SeqCst);
    let before = crate::metrics::scrape(&f.s.url).await;
    let (status, _) =
        f.s.call(
            "DELETE",
            &format!("/connections/{}", f.conn),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Run the worker's due jobs until the receiver accepted (1 s, then 2 s backoff).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while f.p.webhooks.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "webhook never delivered"
        );
        f.s.engine.run_due_jobs("test-node").await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let got = f.p.webhooks.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "connection.deleted");
    assert_eq!(got[0]["data"]["id"], f.conn.as_str());
    assert_eq!(got[0]["data"]["integrationKey"], "oauthapi");
    assert_eq!(f.p.webhook_failures_left.load(Ordering::SeqCst), 0);
    // Each attempt is counted: two refused, then the one accepted.
    let after = crate::metrics::scrape(&f.s.url).await;
    let moved = |result: &str| {
        let labels = [("result", result)];
        let name = "osmosis_webhook_deliveries_total";
        crate::metrics::value(&after, name, &labels) - crate::metrics::value(&before, name, &labels)
    };
    assert_eq!((moved("failed"), moved("ok")), (2.0, 1.0));
    f.s.finish().await;
}

/// `PATCH /settings` is typed: a field left out is kept, `null` removes it, and a
/// wrong or unknown field is a 400 naming it that changes nothing.
#[tokio::test]
async fn workspace_settings_are_patched_field_by_field() {
    let f = fixture().await;
    let admin = f.s.admin();
    let hook = format!("{}/hook", f.base);
    let r =
        f.s.patch(
            "/settings",
            &admin,
            json!({"webhookUri": hook, "enabledWebhookEvents": ["connection.created"]}),
        )
        .await;
    assert_eq!(r.0, 200, "{:?}", r.1);
    let r =
        f.s.patch("/settings", &admin, json!({"enabledWebhookEvents": null}))
            .await;
    assert_eq!(r.0, 200, "{:?}", r.1);
    assert_eq!(
        r.1,
        json!({"webhookUri": hook}),
        "null removes, absent keeps"
    );
    for (body, field) in [
        (json!({"webhookUri": 7}), "webhookUri"),
        (
            json!({"enabledWebhookEvents": "connection.created"}),
            "enabledWebhookEvents",
        ),
        (
            json!({"enabledWebhookEvents": ["no.such.event"]}),
            "enabledWebhookEvents",
        ),
        (
            json!({"webhookUri": hook, "webhookSecret": "x"}),
            "webhookSecret",
        ),
    ] {
        let r = f.s.patch("/settings", &admin, body.clone()).await;
        assert_eq!(r.0, 400, "{body}: {:?}", r.1);
        assert!(
            r.1["message"].as_str().unwrap_or_default().contains(field),
            "{body}: the error names `{field}`: {:?}",
            r.1
        );
    }
    let (status, settings) = f.s.call("GET", "/settings", Some(&admin), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        settings,
        json!({"webhookUri": hook}),
        "refused patches changed nothing"
    );
    f.s.finish().await;
}
