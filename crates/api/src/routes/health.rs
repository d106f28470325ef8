use axum::routing::get;
use axum::Json;
use serde_json::json;

use super::Routes;

/// `GET /health`: the server is up and its database answered at start.
pub fn router() -> Routes {
    Routes::new().route("/health", get(|| async { Json(json!({ "status": "ok" })) }))
}
