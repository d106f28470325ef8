//! Routes, one module per resource; `router()` merges them and adds what every
//! route shares (CORS, body limit, JSON 404/405).

mod actions;
mod app_events;
pub(crate) use actions::{ExecuteRequest, RunActionRequest};
mod calls;
mod config_as_code;
pub(crate) use calls::RunOperation;
pub(crate) use self_::SelfPatch;
mod connect;
mod connections;
mod connector_sources;
mod data_links;
pub(crate) use data_links::LinkBody;
mod data_sources;
mod elements;
pub(crate) use elements::{ApplyRequest, ALIASES as ELEMENT_ALIASES, OWN_ROUTES};
mod external_events;
mod field_mappings;
mod flow_instances;
mod flow_runs;
pub(crate) use flow_runs::{CreateFlowRun, RunFlow};
mod health;
pub(crate) mod nested;
mod openapi_route;
mod package_versions;
pub(crate) use package_versions::{PackageVersionChoice, PublishPackageVersion};
mod self_;
mod watch;

use axum::http::{HeaderName, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use osmosis_model::ApiError;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ErrorResponse;
use crate::AppState;

/// A router that remembers the paths given to it. The route modules build theirs
/// with it, so [`paths`] lists every route however it was registered (a literal or
/// generated from the element registry), from the very calls that register it; the
/// test that compares the routes with /openapi.json walks that list.
pub(crate) struct Routes {
    router: Router<AppState>,
    paths: Vec<String>,
}

impl Routes {
    pub(crate) fn new() -> Routes {
        Routes {
            router: Router::new(),
            paths: Vec::new(),
        }
    }

    pub(crate) fn route(mut self, path: &str, method_router: MethodRouter<AppState>) -> Routes {
        self.router = self.router.route(path, method_router);
        self.paths.push(path.to_string());
        self
    }
}

/// Every module's routes.
fn parts() -> Vec<Routes> {
    vec![
        health::router(),
        openapi_route::router(),
        self_::router(),
        config_as_code::router(),
        watch::router(),
        nested::router(),
        connect::router(),
        connections::router(),
        calls::router(),
        actions::router(),
        app_events::router(),
        data_links::router(),
        data_sources::router(),
        field_mappings::router(),
        flow_instances::router(),
        flow_runs::router(),
        external_events::router(),
        connector_sources::router(),
        package_versions::router(),
        elements::router(),
    ]
}

/// Every path the API routes, in axum's syntax (`{param}`, `{*rest}`); which
/// methods each takes, the router answers itself (the `Allow` header of a 405).
pub fn paths() -> Vec<String> {
    parts().into_iter().flat_map(|part| part.paths).collect()
}

/// Largest accepted request body: the hosted API's documented 10 MB.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("membrane-api-version"),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    let routes = parts()
        .into_iter()
        .fold(Router::new(), |router, part| router.merge(part.router))
        // The console's HTML pages: not API routes, so not in `paths()`.
        .merge(crate::console::router())
        // The pages the SDK opens on its `uiUri`: HTML too.
        .merge(crate::embed::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(state);
    crate::request_span::layer(routes)
}

/// Refuses a NUL anywhere in the path or query string, percent-encoded or not.
/// Nothing Osmosis names or looks up can contain one, and PostgreSQL refuses it
/// in text: better one clear `invalid_query` for every route than a database
/// error from whichever lookup meets it first.
async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request.uri();
    let encoded = uri.path_and_query().map(|p| p.as_str()).unwrap_or_default();
    let has_nul = encoded.contains('\0')
        || encoded
            .as_bytes()
            .windows(3)
            .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0');
    if has_nul {
        return ErrorResponse(ApiError::bad_request(
            osmosis_model::error::keys::INVALID_QUERY,
            "The URL contains a NUL character (%00), which no path or query parameter may hold",
        ))
        .into_response();
    }
    next.run(request).await
}

async fn not_found(uri: axum::http::Uri) -> ErrorResponse {
    ErrorResponse(ApiError::not_found(format!(
        "No route for `{}`",
        uri.path()
    )))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> Response {
    let mut r = ErrorResponse(ApiError::bad_request(
        osmosis_model::error::keys::INVALID_QUERY,
        format!("`{method}` is not supported on `{}`", uri.path()),
    ))
    .into_response();
    *r.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    r
}
