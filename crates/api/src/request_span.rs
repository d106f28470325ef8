//! The span and the log line of one HTTP request.
//!
//! Every request runs in a `request{method, route, request_id, workspace,
//! customer}` span, so every log line it causes (the engine's
//! `#[tracing::instrument]` spans nest inside it) says which request it belongs to;
//! and once its response is ready it is logged as one line (target
//! `osmosis_api::request_span`, message `request`) with its own fields, whatever the
//! format:
//!
//! ```text
//! INFO osmosis_api::request_span: request method=GET route=/connections/{connection}/proxy/{*path} status=200 duration_ms=3.41 workspace=acme customer=customer-42 request_id=3f9c2a7b01d4-1a2b
//! ```
//!
//! * `route` is the route template the request matched, never the path: a path and
//!   a query string may carry anything a client put there (an access token pasted
//!   into a proxied path, `?token=` on the SSE endpoint, an OAuth `code`). A request
//!   no route matched logs `route=(none)`. No header is logged.
//! * `workspace` (its key) and `customer` (the token's customer id) are set once
//!   the request's token is verified ([`identify`], called by the auth extractor):
//!   a request without a valid token has neither, an admin token no `customer`.
//! * `duration_ms` runs until the response's head is ready: a streamed body (the
//!   proxy, the SSE stream) may go on after the line.
//! * The level is `info`, `warn` for a 5xx, and `debug` for a `/health` that
//!   answered 200 (a load balancer's probes would drown the rest);
//!   `RUST_LOG=osmosis_api::request_span=warn` leaves only the failures.
//!
//! The same place counts it in the request metrics (`osmosis_engine::metrics`), by the
//! same route template.
//!
//! A request is named by its `x-request-id`: the client's, when it sent one (a
//! proxy in front of Osmosis may have), or a fresh one ([`NodeRequestIds`]); either
//! way the response echoes it, so a client reporting a problem can quote the id its
//! log lines carry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tracing::field::{display, Empty};
use tracing::{Instrument, Span};

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The target of the request lines (and spans): `RUST_LOG=osmosis_api::request_span=warn`
/// keeps only the failures.
pub const TARGET: &str = "osmosis_api::request_span";

/// What a request that matched no route logs as its route.
pub const NO_ROUTE: &str = "(none)";

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

/// Who a request turned out to be for, once its token was verified.
struct Who {
    workspace: String,
    customer: Option<String>,
}

/// The request being served: its span, and who it is for once known.
struct Current {
    span: Span,
    who: OnceLock<Who>,
}

tokio::task_local! {
    /// The request the running task serves (a request made in process, through
    /// the engine's `self_api`, has its own inside its caller's).
    static CURRENT: Arc<Current>;
}

/// Records whose request this is — the workspace's key and the token's customer
/// id (`None` for an admin token) — on the request's span and log line. Called once
/// the token is verified; the first call of a request counts, and outside a
/// request it does nothing.
pub fn identify(workspace_key: &str, customer: Option<&str>) {
    let _ = CURRENT.try_with(|current| {
        let who = Who {
            workspace: workspace_key.to_owned(),
            customer: customer.map(str::to_owned),
        };
        if current.who.set(who).is_ok() {
            current.span.record("workspace", display(workspace_key));
            if let Some(customer) = customer {
                current.span.record("customer", display(customer));
            }
        }
    });
}

/// Runs the request in its span and logs it once its response is ready.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(NO_ROUTE, MatchedPath::as_str);
    let id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        target: TARGET,
        "request",
        method = %method,
        route = %route,
        request_id = %id,
        workspace = Empty,
        customer = Empty,
    );
    let current = Arc::new(Current {
        span: span.clone(),
        who: OnceLock::new(),
    });
    let response = CURRENT
        .scope(Arc::clone(&current), next.run(request).instrument(span))
        .await;
    let elapsed = started.elapsed();
    osmosis_engine::metrics::record_request(
        method.as_str(),
        route,
        response.status().as_u16(),
        elapsed,
    );
    log_line(
        &method,
        route,
        response.status(),
        elapsed,
        current.who.get(),
        &id,
    );
    response
}

/// The request's line: outside its span (`parent: None`), so it carries its
/// fields once, in the same place in every format.
fn log_line(
    method: &Method,
    route: &str,
    status: StatusCode,
    elapsed: Duration,
    who: Option<&Who>,
    request_id: &str,
) {
    // Displayed, not debugged: `route=/x`, not `route="/x"`, in the text format.
    let workspace = who.map(|w| display(w.workspace.as_str()));
    let customer = who.and_then(|w| w.customer.as_deref()).map(display);
    let request_id = display(request_id);
    let route_shown = display(route);
    let duration_ms = (elapsed.as_secs_f64() * 100_000.0).round() / 100.0;
    let status = status.as_u16();
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: TARGET,
                parent: None,
                method = %method,
                route = route_shown,
                status,
                duration_ms,
                workspace,
                customer,
                request_id,
                "request"
            )
        };
    }
    if status >= 500 {
        line!(warn)
    } else if route == "/health" && status == 200 {
        line!(debug)
    } else {
        line!(info)
    }
}

/// Wraps every route: an id set first (so the span can name it), the span and
/// the log line around everything after, the id copied onto the response last.
/// Applied per route (`Router::layer`), so the route template is known.
pub fn layer(router: Router) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, NodeRequestIds))
            .layer(axum::middleware::from_fn(log_request))
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

    #[tokio::test]
    async fn an_unmatched_request_is_answered_with_its_id_too() {
        let response = app()
            .oneshot(Request::get("/nowhere").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert!(response.headers().get(REQUEST_ID).is_some());
    }

    #[tokio::test]
    async fn identify_outside_a_request_does_nothing() {
        identify("ws", Some("c"));
    }
}
