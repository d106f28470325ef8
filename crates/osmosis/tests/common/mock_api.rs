//! A mock external API with key auth, and a client-credentials connector for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const API_KEY: &str = "sk-live-0d9f8a7b6c5e4d3c2b1a";

/// The external API: `/me` answers only with the right key; `/echo/...` reflects
/// the request; `/status/{code}` answers that status; `/revoke` counts revocations
/// made with the right key.
pub async fn mock_api() -> (String, Arc<AtomicUsize>) {
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
    let app = Router::new()
        .route("/me", get(me))
        .route("/revoke", axum::routing::post(revoke))
        .route("/echo/{*rest}", any(echo))
        .route("/status/{code}", any(status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, revoked)
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
