//! The pages the SDK opens in an iframe on its `uiUri` (`/embed/...`,
//! `/isolated-embed/...`). Not built yet.

use axum::Router;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
}
