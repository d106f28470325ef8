//! The span of one HTTP request, so every log line a request causes (the engine's
//! `#[tracing::instrument]` spans nest inside it) says which request it belongs to.
//!
//! A request is named by its `x-request-id`: the client's, when it sent one (a
//! proxy in front of Osmosis may have), or a fresh one ([`NodeRequestIds`]); either
//! way the response echoes it, so a client reporting a problem can quote the id its
//! log lines carry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use axum::http::{HeaderName, HeaderValue, Request};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Ids for requests that came without one: this process's random prefix and a
/// counter (`3f9c2a7b01d4-1a2b`). Unique across nodes and restarts like a UUID, but
/// made without asking the kernel for randomness on every request: a UUID per
/// request cost about 7 % of a cached read's throughput (BENCHMARKS.md, "Before
/// and after").
#[derive(Clone, Copy)]
struct NodeRequestIds;

/// Random for each process, so two nodes (or two runs) never share ids.
static PREFIX: LazyLock<String> =
    LazyLock::new(|| osmosis_model::ids::uuid_v4().replace('-', "")[..12].to_owned());
static NEXT: AtomicU64 = AtomicU64::new(0);

impl MakeRequestId for NodeRequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:x}", *PREFIX))
            .ok()
            .map(RequestId::new)
    }
}

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
            .layer(SetRequestIdLayer::new(REQUEST_ID, NodeRequestIds))
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
    async fn a_request_without_an_id_gets_its_own_in_the_response() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let response = app()
                .oneshot(Request::get("/").body(Body::empty()).unwrap())
                .await
                .unwrap();
            let id = response.headers().get(REQUEST_ID).expect("an id");
            let id = id.to_str().unwrap().to_owned();
            let (prefix, n) = id.split_once('-').expect("prefix-counter");
            assert_eq!(prefix.len(), 12, "{id}");
            assert!(u64::from_str_radix(n, 16).is_ok(), "{id}");
            assert!(seen.insert(id), "ids differ between requests");
        }
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
