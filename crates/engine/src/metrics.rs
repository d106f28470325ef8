//! The process's metrics registry, in the Prometheus project's client
//! (`prometheus-client`); `GET /metrics` (the API's `metrics` module) renders
//! it. The engine and the API record into it:
//!
//! * `osmosis_http_requests_total{method, route, status}` and
//!   `osmosis_http_request_duration_seconds{method, route}`: every answered
//!   request, recorded where its log line is written (the API's
//!   `request_span`), so the two always agree. `route` is the route template,
//!   never the path (a path may carry a token).
//! * `osmosis_outbound_requests_total{connector, status}`: every call made
//!   through a connection (what its external API logs record), by connector
//!   key and HTTP status (`none` when no response came).
//! * `osmosis_credential_refreshes_total{connector, result="ok"|"failed"}`:
//!   asks to a provider for new credentials, by connector key (`unknown` when
//!   the connection's connector could not be read).
//! * `osmosis_flow_run_duration_seconds{state}`: finished flow runs, from
//!   being queued to their end, by how they ended.
//! * `osmosis_webhook_deliveries_total{result="ok"|"failed"}`: the
//!   workspace's webhook notifications, each attempt (a failed one is retried).
//! * `osmosis_jobs_waiting{kind}`, `osmosis_jobs_running{kind}` and
//!   `osmosis_jobs_oldest_wait_seconds{kind}`: the background job queue
//!   (credential refreshes, webhook retries, schedules…) as the database holds
//!   it, read at each scrape — on a shared database, the whole cluster's.
//! * `osmosis_flow_runs_queued`, `osmosis_flow_runs_running` and
//!   `osmosis_flow_runs_oldest_queued_seconds`: the flow run queue, read at
//!   each scrape (the whole cluster's on a shared database).
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
struct OutboundLabels {
    connector: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    connector: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
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
type RunDurations = Family<StateLabels, Histogram, fn() -> Histogram>;

/// Request latencies from 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Flow run durations from 10 ms to about 45 minutes, doubling.
fn run_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 19))
}

fn result(ok: bool) -> ResultLabels {
    ResultLabels {
        result: if ok { "ok" } else { "failed" },
    }
}

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Durations,
    outbound: Family<OutboundLabels, Counter>,
    refreshes: Family<RefreshLabels, Counter>,
    runs: RunDurations,
    webhooks: Family<ResultLabels, Counter>,
    jobs_waiting: Family<KindLabels, Gauge>,
    jobs_running: Family<KindLabels, Gauge>,
    jobs_oldest_wait: Family<KindLabels, Gauge<f64, AtomicU64>>,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Gauge,
    runs_queued: Gauge,
    runs_running: Gauge,
    runs_oldest_queued: Gauge<f64, AtomicU64>,
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
    let outbound = Family::<OutboundLabels, Counter>::default();
    registry.register(
        "osmosis_outbound_requests",
        "Calls made through connections, by connector and HTTP status",
        outbound.clone(),
    );
    let refreshes = Family::<RefreshLabels, Counter>::default();
    registry.register(
        "osmosis_credential_refreshes",
        "Credential refreshes asked of providers, by connector and result",
        refreshes.clone(),
    );
    let runs: RunDurations = Family::new_with_constructor(run_histogram);
    registry.register(
        "osmosis_flow_run_duration_seconds",
        "Finished flow runs, from being queued to their end, by final state",
        runs.clone(),
    );
    let webhooks = Family::<ResultLabels, Counter>::default();
    registry.register(
        "osmosis_webhook_deliveries",
        "Attempts to deliver the workspace's webhook notifications, by result",
        webhooks.clone(),
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
    let runs_queued = Gauge::default();
    registry.register(
        "osmosis_flow_runs_queued",
        "Flow runs waiting to start",
        runs_queued.clone(),
    );
    let runs_running = Gauge::default();
    registry.register(
        "osmosis_flow_runs_running",
        "Flow runs being executed",
        runs_running.clone(),
    );
    let runs_oldest_queued = Gauge::<f64, AtomicU64>::default();
    registry.register(
        "osmosis_flow_runs_oldest_queued_seconds",
        "How long the oldest queued flow run has waited",
        runs_oldest_queued.clone(),
    );
    Metrics {
        registry,
        requests,
        durations,
        outbound,
        refreshes,
        runs,
        webhooks,
        jobs_waiting,
        jobs_running,
        jobs_oldest_wait,
        pool_connections,
        pool_max,
        runs_queued,
        runs_running,
        runs_oldest_queued,
        scrape: tokio::sync::Mutex::new(()),
    }
});

/// Counts one answered request (the API's `request_span`, with its log line).
///
/// Every request passes here, so it must cost next to nothing: looking the
/// label set up in the families would build three label strings and take each
/// family's lock on every request (measured: 15 % of a cached GET's throughput at
/// 64 clients, BENCHMARKS.md). Instead each thread keeps the counter and
/// histogram of the (method, route, status) it has seen — handles sharing the
/// families' values — found by the route's address: `route` is the matched
/// path, one string per route for the router's life. The entry keeps the route
/// and method it was made for and is used only when they still match, so a
/// string freed and another allocated at its address cannot count under the
/// wrong labels.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    thread_local! {
        static HANDLES: std::cell::RefCell<std::collections::HashMap<(usize, u16), Vec<RequestHandles>>> =
            Default::default();
    }
    let key = (route.as_ptr() as usize, status);
    let seconds = elapsed.as_secs_f64();
    HANDLES.with(|handles| {
        let mut handles = handles.borrow_mut();
        let same_address = handles.entry(key).or_default();
        if let Some(h) = same_address
            .iter()
            .find(|h| *h.route == *route && *h.method == *method)
        {
            h.count.inc();
            h.durations.observe(seconds);
            return;
        }
        if same_address.len() >= MAX_HANDLES_PER_ADDRESS {
            same_address.clear();
        }
        let h = RequestHandles::new(method, route, status);
        h.count.inc();
        h.durations.observe(seconds);
        same_address.push(h);
    });
}

/// Entries kept per address: one per method, usually.
const MAX_HANDLES_PER_ADDRESS: usize = 8;

/// A thread's handles for one (method, route, status) of [`record_request`].
struct RequestHandles {
    route: Box<str>,
    method: Box<str>,
    count: Counter,
    durations: Histogram,
}

impl RequestHandles {
    fn new(method: &str, route: &str, status: u16) -> Self {
        let m = &*METRICS;
        let count = m
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .clone();
        let durations = m
            .durations
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .clone();
        RequestHandles {
            route: route.into(),
            method: method.into(),
            count,
            durations,
        }
    }
}

/// Counts one call made through a connection; `status` `None` when no
/// response came.
pub(crate) fn record_outbound(connector: &str, status: Option<u16>) {
    METRICS
        .outbound
        .get_or_create(&OutboundLabels {
            connector: connector.to_owned(),
            status: status.map_or_else(|| "none".to_owned(), |s| s.to_string()),
        })
        .inc();
}

/// Counts one credential refresh of a connection of `connector`.
pub(crate) fn record_refresh(connector: &str, ok: bool) {
    METRICS
        .refreshes
        .get_or_create(&RefreshLabels {
            connector: connector.to_owned(),
            result: result(ok).result,
        })
        .inc();
}

/// Records a finished flow run's `state` and time from queued to ended.
pub(crate) fn record_flow_run(state: &str, elapsed_ms: i64) {
    METRICS
        .runs
        .get_or_create(&StateLabels {
            state: state.to_owned(),
        })
        .observe(elapsed_ms.max(0) as f64 / 1000.0);
}

/// Counts one attempt to deliver a webhook notification.
pub(crate) fn record_webhook_delivery(ok: bool) {
    METRICS.webhooks.get_or_create(&result(ok)).inc();
}

impl crate::Engine {
    /// The metrics as OpenMetrics text, with what is read at each scrape (the
    /// job and flow run queues, the pool) read now. A queue that cannot be read
    /// leaves its gauges as the last scrape set them, and says so in the log.
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
        match self.stores.flow_runs.flow_run_queue().await {
            Ok(queue) => {
                m.runs_queued.set(queue.queued);
                m.runs_running.set(queue.running);
                let waited = queue.oldest_queued_ms.map_or(0, |at| (now - at).max(0));
                m.runs_oldest_queued.set(waited as f64 / 1000.0);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the flow run queue"),
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
