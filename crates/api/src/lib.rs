//! The Membrane HTTP API served by Osmosis.
//!
//! This crate owns the wire: routes, authentication, query and body parsing, error
//! mapping, CORS and the OpenAPI document. It holds no business rules — handlers
//! parse, call the engine, and render — and never speaks SQL.

pub mod auth;
pub mod body;
pub mod error;
mod html;
pub mod openapi;
pub mod query;
pub mod routes;

use std::sync::Arc;

use axum::Router;
use osmosis_engine::Engine;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub(crate) workspaces: Arc<auth::WorkspaceCache>,
}

impl AppState {
    pub fn new(engine: Engine) -> Self {
        AppState {
            engine,
            workspaces: Arc::new(auth::WorkspaceCache::default()),
        }
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}
