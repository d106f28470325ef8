//! The process's metrics registry, in the Prometheus project's client
//! (`prometheus-client`); `GET /metrics` (the API's `metrics` module) renders
//! it. The engine and the API record into it:
//!
//! * `osmosis_http_requests_total{method, route, status}` and
//!   `osmosis_http_request_duration_seconds{method, route}`: every answered
//!   request, recorded where its log line is written (the API's
//!   `request_span`), so the two always agree. `route` is the route template,
//!   never the path (a path may carry a token).
//! * `osmosis_jobs_waiting{kind}`, `osmosis_jobs_running{kind}` and
//!   `osmosis_jobs_oldest_wait_seconds{kind}`: the background job queue
//!   (credential refreshes, webhook retries, schedules…) as the database holds
//!   it, read at each scrape — on a shared database, the whole cluster's.
//! * `osmosis_db_pool_connections{state="in_use"|"idle"}` and
//!   `osmosis_db_pool_max_connections`: this node's read pool, at each scrape.
//! * `osmosis_build_info{version}`: 1, so a dashboard can tell versions apart.
//!
//! No label names a workspace or customer: the metrics say how the server
//! does, not what any tenant does, and their number of series stays bounded.
//! One registry per process: every server of a process (tests start several)
//! counts into the same series, so tests compare before and after.

use std::sync::atomic::AtomicU64;
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
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
    jobs_waiting: Family<KindLabels, Gauge>,
    jobs_running: Family<KindLabels, Gauge>,
    jobs_oldest_wait: Family<KindLabels, Gauge<f64, AtomicU64>>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    /// One scrape at a time: a scrape clears the job families before setting
    /// them, and another must not encode in between.
    scrape: tokio::sync::Mutex<()>,
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
    let jobs_waiting = Family::<KindLabels, Gauge>::default();
    registry.register(
        "osmosis_jobs_waiting",
        "Background jobs due and not claimed by a worker, by kind",
        jobs_waiting.clone(),
    );
    let jobs_running = Family::<KindLabels, Gauge>::default();
    registry.register(
        "osmosis_jobs_running",
        "Background jobs claimed by a worker, by kind",
        jobs_running.clone(),
    );
    let jobs_oldest_wait = Family::<KindLabels, Gauge<f64, AtomicU64>>::default();
    registry.register(
        "osmosis_jobs_oldest_wait_seconds",
        "How long the longest-waiting due job of a kind has waited",
        jobs_oldest_wait.clone(),
    );
    let pool_connections = Family::<PoolLabels, Gauge>::default();
    registry.register(
        "osmosis_db_pool_connections",
        "This node's database read pool: connections in use and idle",
        pool_connections.clone(),
    );
    let pool_max = Gauge::default();
    registry.register(
        "osmosis_db_pool_max_connections",
        "The most connections this node's read pool opens",
        pool_max.clone(),
    );
    Metrics {
        registry,
        requests,
        durations,
        jobs_waiting,
        jobs_running,
        jobs_oldest_wait,
        pool_connections,
        pool_max,
        scrape: tokio::sync::Mutex::new(()),
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

impl crate::Engine {
    /// The metrics as OpenMetrics text, with what is read at each scrape (the
    /// job queue, the pool) read now. A job queue that cannot be read leaves
    /// its gauges as the last scrape set them, and says so in the log.
    pub async fn metrics_text(&self) -> String {
        let m = &*METRICS;
        let _one = m.scrape.lock().await;
        let now = crate::clock::now_ms();
        match self.stores.jobs.job_queue(now).await {
            Ok(kinds) => {
                m.jobs_waiting.clear();
                m.jobs_running.clear();
                m.jobs_oldest_wait.clear();
                for k in kinds {
                    let labels = KindLabels { kind: k.kind };
                    m.jobs_waiting.get_or_create(&labels).set(k.waiting);
                    m.jobs_running.get_or_create(&labels).set(k.running);
                    let waited = k.oldest_due_ms.map_or(0, |due| (now - due).max(0));
                    m.jobs_oldest_wait
                        .get_or_create(&labels)
                        .set(waited as f64 / 1000.0);
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the job queue"),
        }
        let pool = self.stores.database.pool_use();
        let in_use = pool.open.saturating_sub(pool.idle);
        m.pool_connections
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(in_use));
        m.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(pool.idle));
        m.pool_max.set(i64::from(pool.max));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &m.registry);
        out
    }
}
