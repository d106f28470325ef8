//! The console's pages, one module per section; each adds its routes here.

mod overview;

use axum::Router;

use crate::AppState;

pub(crate) fn routes(router: Router<AppState>) -> Router<AppState> {
    overview::routes(router)
}
