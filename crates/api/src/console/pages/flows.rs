//! Not built yet: the section's link in the navigation leads to a 404 until it is.

use axum::Router;

use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
}
