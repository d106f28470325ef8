//! The Membrane HTTP API served by Osmosis.
//!
//! This crate owns the wire: routes, authentication, query and body parsing, error
//! mapping, CORS and the OpenAPI document. It holds no business rules — handlers
//! parse, call the engine, and render — and never speaks SQL.

pub mod auth;
pub mod body;
mod console;
mod embed;
pub mod error;
pub mod extract;
mod html;
pub mod log_writer;
pub mod metrics;
pub mod openapi;
pub mod query;
pub mod request_span;
pub mod routes;
mod self_api;
pub mod server;

use std::sync::Arc;

use axum::Router;
use osmosis_engine::Engine;

/// What every handler shares. Cloned for every request (axum's `State`), so what
/// it holds is behind one `Arc` each: the engine is a few dozen `Arc`s, and cloning
/// and dropping it per request cost a tenth of a cached read's CPU (atomic counts
/// bouncing between cores; BENCHMARKS.md, "Before and after").
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub(crate) workspaces: Arc<auth::WorkspaceCache>,
    /// Time a client has to send a whole request body once its headers are in
    /// ([`body::RawBody`]). The header deadline of [`server`] does not cover the
    /// body, and a client trickling a 10 MiB body a byte at a time would otherwise
    /// hold its connection for weeks.
    pub body_timeout: std::time::Duration,
    /// Whether the API's own listener serves `GET /metrics` ([`metrics`]):
    /// not when `serve --metrics-listen` gives it a listener of its own.
    pub metrics_on_api: bool,
}

impl AppState {
    /// Default [`AppState::body_timeout`]: a full 10 MiB body needs ~170 KiB/s.
    pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn new(engine: Engine) -> Self {
        AppState {
            engine: Arc::new(engine),
            workspaces: Arc::new(auth::WorkspaceCache::default()),
            body_timeout: Self::BODY_TIMEOUT,
            metrics_on_api: true,
        }
    }

    /// `GET /metrics` served elsewhere ([`metrics::router`] on its own
    /// listener), not by the API.
    pub fn with_metrics_elsewhere(mut self) -> Self {
        self.metrics_on_api = false;
        self
    }

    pub fn with_body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }
}

/// The whole API. The engine gets it too, for code that calls the API as a
/// customer (`osmosis_engine::self_api`).
pub fn router(state: AppState) -> Router {
    let engine = Arc::clone(&state.engine);
    let metrics_on_api = state.metrics_on_api;
    let mut router = routes::router(state);
    if metrics_on_api {
        router = router.merge(metrics::router(Arc::clone(&engine)));
    }
    engine
        .self_api
        .set(Arc::new(self_api::RouterApi(router.clone())));
    router
}
