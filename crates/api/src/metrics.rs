//! `GET /metrics`: the process's metrics (`osmosis_engine::metrics`) in the
//! Prometheus exposition format (OpenMetrics text, which Prometheus scrapes
//! natively).
//!
//! Where it is served: on the API's own listener, unless `serve
//! --metrics-listen ADDR` moves it to a listener of its own (then the API's
//! answers 404), which keeps it off a public address. It needs no token, as
//! Prometheus scrapers expect; nothing in it is a tenant's.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use osmosis_engine::Engine;

/// The content type of the OpenMetrics text format.
const CONTENT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(State(engine): State<Arc<Engine>>) -> impl IntoResponse {
    ([(CONTENT_TYPE, CONTENT)], engine.metrics_text().await)
}

/// `GET /metrics` alone: what `serve --metrics-listen` serves, and what the
/// API's router adds when it is not given.
pub fn router(engine: Arc<Engine>) -> Router {
    crate::request_span::layer(
        Router::new()
            .route("/metrics", get(metrics))
            .with_state(engine),
    )
}
