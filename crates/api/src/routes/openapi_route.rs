use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;

/// `GET /openapi.json`, public like `/health`.
pub fn router() -> Router<AppState> {
    let doc = crate::openapi::document();
    Router::new().route("/openapi.json", get(move || async move { Json(doc) }))
}
