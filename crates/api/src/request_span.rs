//! The span of one HTTP request, so every log line a request causes (the engine's
//! `#[tracing::instrument]` spans nest inside it) says which request it belongs to.
//!
//! A request is named by its `x-request-id`: the client's, when it sent one (a
//! proxy in front of Osmosis may have), or a fresh UUID; either way the response
//! echoes it, so a client reporting a problem can quote the id its log lines carry.

use axum::http::{HeaderName, Request};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `request{method, path, request_id}`: the path without its query string, which
/// may carry tokens.
fn request_span<B>(request: &Request<B>) -> Span {
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// Wraps the whole router: an id set first (so the span can name it), the span
/// around everything after, the id copied onto the response last.
pub fn layer(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(TraceLayer::new_for_http().make_span_with(request_span))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    fn app() -> Router {
        layer(Router::new().route("/", get(|| async { "ok" })))
    }

    #[tokio::test]
    async fn a_request_without_an_id_gets_one_in_the_response() {
        let response = app()
            .oneshot(Request::get("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        let id = response.headers().get(REQUEST_ID).expect("an id");
        assert_eq!(id.to_str().unwrap().len(), 36, "a UUID");
    }

    #[tokio::test]
    async fn the_clients_id_is_echoed() {
        let request = Request::get("/")
            .header(REQUEST_ID, "abc-123")
            .body(Body::empty())
            .unwrap();
        let response = app().oneshot(request).await.unwrap();
        assert_eq!(response.headers()[REQUEST_ID], "abc-123");
    }
}
