//! A mock external API with key auth, and a client-credentials connector for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const API_KEY: &str = "sk-live-0d9f8a7b6c5e4d3c2b1a";

/// The running mock: its base URL, the revocations it counted, and every request
/// it received (method, path and query, headers), in order.
pub struct MockApi {
    pub url: String,
    pub revoked: Arc<AtomicUsize>,
    pub requests: Arc<Mutex<Vec<Seen>>>,
}

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query as sent.
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl MockApi {
    pub fn request_count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.requests
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }
}

/// [`start_mock`] as its URL and revocation counter.
pub async fn mock_api() -> (String, Arc<AtomicUsize>) {
    let mock = start_mock().await;
    (mock.url, mock.revoked)
}

/// The external API: `/me` answers only with the right key; `/echo/...` reflects
/// the request; `/status/{code}` answers that status; `/revoke` counts revocations
/// made with the right key.
pub async fn start_mock() -> MockApi {
    fn authorised(headers: &HeaderMap) -> bool {
        headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(API_KEY)
    }
    async fn me(headers: HeaderMap) -> impl IntoResponse {
        if authorised(&headers) {
            (StatusCode::OK, Json(json!({"id": "u-1", "name": "Ada"})))
        } else {
            (StatusCode::FORBIDDEN, Json(json!({"message": "bad key"})))
        }
    }
    async fn echo(
        method: axum::http::Method,
        headers: HeaderMap,
        Path(rest): Path<String>,
        Query(query): Query<Vec<(String, String)>>,
        body: String,
    ) -> impl IntoResponse {
        if !authorised(&headers) {
            return (StatusCode::FORBIDDEN, Json(json!({"message": "bad key"})));
        }
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        (
            StatusCode::CREATED,
            Json(json!({"method": method.as_str(), "path": rest, "query": query, "body": body})),
        )
    }
    async fn status(Path(code): Path<u16>) -> impl IntoResponse {
        (
            StatusCode::from_u16(code).expect("status"),
            Json(json!({"message": "as asked", "code": code})),
        )
    }
    let revoked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&revoked);
    let revoke = move |headers: HeaderMap| async move {
        if authorised(&headers) {
            counter.fetch_add(1, Ordering::SeqCst);
        }
        StatusCode::NO_CONTENT
    };
    let requests: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let log = Arc::clone(&requests);
    let record = move |req: axum::extract::Request, next: axum::middleware::Next| {
        let log = Arc::clone(&log);
        async move {
            log.lock().unwrap().push(Seen {
                method: req.method().to_string(),
                uri: req.uri().to_string(),
                headers: req
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                    .collect(),
            });
            next.run(req).await
        }
    };
    let app = Router::new()
        .route("/me", get(me))
        .route("/revoke", axum::routing::post(revoke))
        .route("/echo/{*rest}", any(echo))
        .route("/status/{code}", any(status))
        .layer(axum::middleware::from_fn(record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    MockApi {
        url,
        revoked,
        requests,
    }
}

/// A client-credentials connector whose API client sends the key from the
/// credentials, whose test GETs `/me`, and whose disconnect POSTs `/revoke`.
pub fn connector(base: &str, key: &str) -> Value {
    json!({
        "key": key,
        "name": "Mock API",
        "type": "client-credentials",
        "makeApiClient": {
            "type": "mapping",
            "mapping": {
                "baseUri": base,
                "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}
            }
        },
        "test": {
            "type": "rest-api-mapping",
            "mapping": {"path": "/me", "method": "GET"}
        },
        "disconnect": {
            "type": "javascript",
            "code": "export default async ({apiClient}) => { await apiClient.post('/revoke', {}); }"
        }
    })
}

/// Creates `definition` as a connector and an integration of the same key and
/// name on it, as admin: the usual start of a test that connects.
pub async fn install(s: &super::Server, definition: Value) -> (Value, Value) {
    let connector = s.create("connectors", definition).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": connector["key"], "name": connector["name"], "connectorId": connector["id"]}),
        )
        .await;
    (connector, integration)
}

/// Connects `token`'s customer to `integration` with the mock's key, as a headless
/// client would; returns the connection.
pub async fn connect(s: &super::Server, token: &str, integration: &Value) -> Value {
    let (status, connection) = s
        .post(
            "/connections",
            token,
            json!({"integrationId": integration["id"], "input": {"apiKey": API_KEY}}),
        )
        .await;
    assert_eq!(status, 200, "{connection}");
    connection
}
