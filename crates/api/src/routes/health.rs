use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;

/// `GET /health`: the server is up and its database answered at start.
pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
}
