//! SIGKILL in the middle of an OAuth 2 connect, with the real binary: no
//! connection is ever half-made. Killed while the customer is on the provider's
//! pages, the flow's state survives the restart and its callback completes exactly
//! one connection (a replay is refused). Killed during the code exchange, the state
//! was already taken: the callback is refused, there is no connection, and the
//! customer simply connects again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use osmosis_connectors::sealing::EncryptionKey;
use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;

/// The provider's token endpoint and API. Codes are single-use.
#[derive(Default)]
struct Provider {
    /// Requests that reached the token endpoint.
    token_calls: AtomicUsize,
    /// The token endpoint takes far longer than the test waits.
    slow: AtomicBool,
    used_codes: Mutex<Vec<String>>,
    issued: Mutex<Vec<String>>,
}

async fn token(
    State(p): State<Arc<Provider>>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    p.token_calls.fetch_add(1, Ordering::SeqCst);
    if p.slow.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let field = |k: &str| form.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let code = field("code").unwrap_or_default();
    if field("grant_type").as_deref() != Some("authorization_code")
        || code.is_empty()
        || p.used_codes.lock().unwrap().contains(&code)
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    }
    p.used_codes.lock().unwrap().push(code.clone());
    let access = format!("at-{code}");
    p.issued.lock().unwrap().push(access.clone());
    Json(json!({"access_token": access, "refresh_token": format!("rt-{code}"), "expires_in": 3600}))
        .into_response()
}

async fn me(State(p): State<Arc<Provider>>, headers: HeaderMap) -> Response {
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if p.issued.lock().unwrap().iter().any(|t| t == given) {
        Json(json!({"id": "u-1", "name": "Ada"})).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}

async fn provider() -> (String, Arc<Provider>) {
    let p = Arc::new(Provider::default());
    let app = Router::new()
        .route("/token", post(token))
        .route("/api/me", get(me))
        .with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, p)
}

/// A data dir and database, a fixed port and key, and the provider.
struct Setup {
    _dir: tempfile::TempDir,
    data: std::path::PathBuf,
    db: String,
    pg: Option<String>,
    port: u16,
    key: String,
    base: String,
    p: Arc<Provider>,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (db, pg) = fresh_database(dir.path()).await;
        let (base, p) = provider().await;
        Setup {
            data: dir.path().join("data"),
            _dir: dir,
            db,
            pg,
            port: free_port(),
            key: EncryptionKey::generate().to_base64(),
            base,
            p,
        }
    }

    /// `osmosis serve` on the same port, data dir, database and key each time.
    async fn serve(&self) -> Running {
        Running::serve_workspace(
            &self.db,
            self.port,
            &self.data,
            &[("OSMOSIS_ENCRYPTION_KEY", &self.key)],
        )
        .await
    }

    /// The OAuth 2 connector and its integration.
    async fn install(&self, node: &Running) {
        let c = node
            .create("connectors", oauth2_connector(&self.base))
            .await;
        node.create(
            "integrations",
            json!({"key": "oauthapi", "name": "OAuth API", "connectorId": c["id"]}),
        )
        .await;
    }

    async fn finish(self) {
        drop_database(self.pg).await;
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `POST /connect` as alice's browser: the 303 to the provider's authorize page;
/// returns the OAuth state it carries.
async fn begin(node: &Running, request_id: &str) -> String {
    let payload = json!({
        "token": customer_token("alice"),
        "integrationKey": "oauthapi",
        "requestId": request_id,
    });
    let resp = no_redirects()
        .post(format!("{}/connect", node.url))
        .form(&[("payload", payload.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303, "{:?}", resp.text().await);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let url = reqwest::Url::parse(&location).unwrap();
    assert_eq!(url.path(), "/authorize", "{location}");
    let query = |k: &str| {
        url.query_pairs()
            .find(|(f, _)| f == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        query("redirect_uri").as_deref(),
        Some(format!("{}/oauth-callback", node.url).as_str())
    );
    query("state").expect("the authorize URL carries a state")
}

/// The provider sends the browser back: `GET /oauth-callback?code=&state=`.
fn callback(node: &Running, code: &str, state: &str) -> reqwest::RequestBuilder {
    no_redirects()
        .get(format!("{}/oauth-callback", node.url))
        .query(&[("code", code), ("state", state)])
}

async fn answer(req: reqwest::RequestBuilder) -> (u16, String) {
    let resp = req.send().await.expect("the callback is answered");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Every connection of the workspace, archived ones too.
async fn connections(node: &Running) -> Vec<Value> {
    let (status, list) = node
        .call(
            "GET",
            "/connections?includeArchived=true&limit=100",
            &admin_token(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_customer_authorizes_the_state_survives_and_completes_once() {
    let s = Setup::new().await;
    let node = s.serve().await;
    s.install(&node).await;
    let state = begin(&node, "req-1").await;
    assert!(node.kill().code().is_none(), "killed by the signal");

    let node = s.serve().await;
    assert!(connections(&node).await.is_empty(), "nothing half-made");
    let (status, page) = answer(callback(&node, "code-1", &state)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("newConnectionCreated"), "{page}");
    let made = connections(&node).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["connected"], true, "{made:?}");
    // The connection works: its credentials came from the exchange.
    let (status, me) = node
        .call(
            "GET",
            &format!("/connections/{}/proxy/me", made[0]["id"].as_str().unwrap()),
            &customer_token("alice"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");

    // A replay of the callback (a new code, even) finds no state.
    let (status, page) = answer(callback(&node, "code-2", &state)).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("newConnectionFailure"), "{page}");
    assert_eq!(connections(&node).await.len(), 1);
    assert_eq!(s.p.token_calls.load(Ordering::SeqCst), 1);
    node.stop();
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_the_code_exchange_the_state_is_spent_and_nothing_is_made() {
    let s = Setup::new().await;
    let node = s.serve().await;
    s.install(&node).await;
    let state = begin(&node, "req-1").await;
    s.p.slow.store(true, Ordering::SeqCst);
    let pending = tokio::spawn(callback(&node, "code-1", &state).send());
    // Kill once the exchange has reached the provider.
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.p.token_calls.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the exchange never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(node.kill().code().is_none(), "killed by the signal");
    assert!(
        pending.await.unwrap().is_err(),
        "the browser got no answer from the killed node"
    );
    s.p.slow.store(false, Ordering::SeqCst);

    let node = s.serve().await;
    assert!(connections(&node).await.is_empty(), "nothing half-made");
    // The code came back from the provider once more (the browser retried): the
    // state was taken before the exchange, so it is refused and nothing is made.
    let (status, page) = answer(callback(&node, "code-1", &state)).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("newConnectionFailure"), "{page}");
    assert!(connections(&node).await.is_empty());
    assert_eq!(
        s.p.token_calls.load(Ordering::SeqCst),
        1,
        "a refused state never reaches the provider"
    );

    // The customer connects again.
    let again = begin(&node, "req-2").await;
    assert_ne!(again, state);
    let (status, page) = answer(callback(&node, "code-2", &again)).await;
    assert_eq!(status, 200, "{page}");
    let made = connections(&node).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0]["connected"], true, "{made:?}");
    node.stop();
    s.finish().await;
}
