//! A REST API with a bearer token, pagination, rate limits, flaky 5xx, a soft error
//! in a 200 body, and a GraphQL endpoint.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const GOOD_TOKEN: &str = "good-token-1234";

#[derive(Default)]
pub struct Counters {
    pub limited: AtomicUsize,
    pub always_limited: AtomicUsize,
    pub flaky: AtomicUsize,
    pub me: AtomicUsize,
}

pub type Shared = Arc<Counters>;

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::to_owned)
}

fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    match bearer(headers) {
        Some(t) if t == GOOD_TOKEN => None,
        // Echo the token back, as careless APIs do, so the tests can check masking.
        other => Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"message": format!("token expired: {}", other.unwrap_or_default())})),
            )
                .into_response(),
        ),
    }
}

fn contacts() -> Vec<Value> {
    (1..=5)
        .map(|i| json!({"id": i, "full_name": format!("Person {i}"), "email": format!("p{i}@example.com")}))
        .collect()
}

pub fn app(counters: Shared) -> Router {
    Router::new()
        .route("/me", get(me))
        .route("/echo", get(echo).post(echo_post))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route("/contacts/{id}", get(get_contact))
        .route("/limited", get(limited))
        .route("/always-limited", get(always_limited))
        .route("/flaky", get(flaky))
        .route("/soft-error", get(soft_error))
        .route("/graphql", post(graphql))
        .with_state(counters)
}

async fn me(State(c): State<Shared>, headers: HeaderMap) -> Response {
    c.me.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    Json(json!({"id": "u1", "name": "Ada"})).into_response()
}

async fn echo(headers: HeaderMap, Query(q): Query<Vec<(String, String)>>) -> Json<Value> {
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    Json(json!({"headers": headers, "query": q}))
}

async fn echo_post(headers: HeaderMap, body: String) -> Json<Value> {
    Json(json!({
        "contentType": headers.get("content-type").and_then(|v| v.to_str().ok()),
        "body": body,
    }))
}

async fn list_contacts(headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let all = contacts();
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let next = (start + 2 < all.len()).then(|| (start + 2).to_string());
    Json(json!({"items": page, "next": next})).into_response()
}

async fn get_contact(headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    match contacts()
        .into_iter()
        .find(|c| c["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id.as_str()))
    {
        Some(c) => Json(c).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such contact"})),
        )
            .into_response(),
    }
}

async fn create_contact(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    Json(json!({"id": 99, "received": body})).into_response()
}

async fn limited(State(c): State<Shared>) -> Response {
    let n = c.limited.fetch_add(1, Ordering::SeqCst);
    if n < 2 {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "slow down",
        )
            .into_response();
    }
    Json(json!({"ok": true, "attempt": n + 1})).into_response()
}

async fn always_limited(State(c): State<Shared>) -> Response {
    c.always_limited.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({"message": "quota used up"})),
    )
        .into_response()
}

async fn flaky(State(c): State<Shared>) -> Response {
    if c.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    Json(json!({"ok": true})).into_response()
}

async fn soft_error(Query(q): Query<HashMap<String, String>>) -> Json<Value> {
    match q.get("kind").map(String::as_str) {
        Some("expired") => Json(json!({"ok": false, "error": "token_expired"})),
        Some("revoked") => Json(json!({"ok": false, "error": "account_inactive"})),
        _ => Json(json!({"ok": true, "value": 42})),
    }
}

async fn graphql(headers: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = unauthorized(&headers) {
        return r;
    }
    let query = body["query"].as_str().unwrap_or("").to_owned();
    if query.contains("broken") {
        return Json(json!({"data": null, "errors": [{"message": "Cannot query field broken"}]}))
            .into_response();
    }
    Json(json!({"data": {"viewer": {"login": "octo"}, "echo": {"query": query, "variables": body.get("variables")}}}))
        .into_response()
}
