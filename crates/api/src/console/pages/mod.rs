//! The console's pages, one module per section; each adds its routes here.

mod actions;
mod connections;
mod connectors;
mod customers;
mod events;
mod flow_runs;
mod flows;
mod integrations;
mod overview;
mod settings;

use axum::Router;

use crate::AppState;

pub(crate) fn routes(router: Router<AppState>) -> Router<AppState> {
    [
        overview::routes,
        integrations::routes,
        connectors::routes,
        customers::routes,
        connections::routes,
        actions::routes,
        flows::routes,
        flow_runs::routes,
        events::routes,
        settings::routes,
    ]
    .into_iter()
    .fold(router, |router, add| add(router))
}
