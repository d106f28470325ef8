//! The process's metrics registry, in the Prometheus project's client
//! (`prometheus-client`); `GET /metrics` (the API's `metrics` module) renders
//! it. The engine and the API record into it:
//!
//! * `osmosis_http_requests_total{method, route, status}` and
//!   `osmosis_http_request_duration_seconds{method, route}`: every answered
//!   request, recorded where its log line is written (the API's
//!   `request_span`), so the two always agree. `route` is the route template,
//!   never the path (a path may carry a token).
//! * `osmosis_build_info{version}`: 1, so a dashboard can tell versions apart.
//!
//! No label names a workspace or customer: the metrics say how the server
//! does, not what any tenant does, and their number of series stays bounded.
//! One registry per process: every server of a process (tests start several)
//! counts into the same series, so tests compare before and after.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

type Durations = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Request latencies from 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::default();
    let requests = Family::<RequestLabels, Counter>::default();
    registry.register(
        "osmosis_http_requests",
        "HTTP requests answered, by route template and status",
        requests.clone(),
    );
    let durations: Durations = Family::new_with_constructor(latency_histogram);
    registry.register(
        "osmosis_http_request_duration_seconds",
        "Time until a response's head was ready, by route template",
        durations.clone(),
    );
    let build = Family::<BuildLabels, Gauge>::default();
    build
        .get_or_create(&BuildLabels {
            version: env!("CARGO_PKG_VERSION").to_owned(),
        })
        .set(1);
    registry.register("osmosis_build_info", "The running version", build);
    Metrics {
        registry,
        requests,
        durations,
    }
});

/// Counts one answered request (the API's `request_span`, with its log line).
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    let m = &*METRICS;
    m.requests
        .get_or_create(&RequestLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status: status.to_string(),
        })
        .inc();
    m.durations
        .get_or_create(&RouteLabels {
            method: method.to_owned(),
            route: route.to_owned(),
        })
        .observe(elapsed.as_secs_f64());
}

/// The metrics as OpenMetrics text.
pub fn render() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry);
    out
}
