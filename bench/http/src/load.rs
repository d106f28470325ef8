//! The load generator: N closed-loop clients, each on its own keep-alive HTTP/1.1
//! connection, send one request, wait for the whole answer, and send the next.
//! With several URLs (several nodes of one cluster) client i talks to URL i mod n,
//! so the load is spread evenly and each node sees the same number of connections.
//! Latency is send-to-last-byte per request, kept in an HDR histogram (µs, three
//! significant digits). Requests finishing during the warm-up are not counted.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::http::{header, HeaderValue, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::json;

use crate::error::BenchError;

/// One server the clients talk to: its `host:port` and the request path.
pub(crate) struct Target {
    pub(crate) authority: String,
    pub(crate) path: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, BenchError> {
        let bad_url = || BenchError::BadUrl(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad_url)?;
        let (authority, path) = rest
            .split_once('/')
            .map(|(a, p)| (a, format!("/{p}")))
            .unwrap_or((rest, "/".to_string()));
        let host = authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .ok_or_else(bad_url)?;
        // Loopback only: the benchmark must never load another machine.
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(bad_url());
        }
        Ok(Target {
            authority: authority.to_string(),
            path,
        })
    }
}

/// What to send, how hard and for how long.
pub struct Plan {
    targets: Vec<Target>,
    method: Method,
    authorization: Option<HeaderValue>,
    body: Option<String>,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    max_requests: u64,
    /// Count a request when its answer arrives in the measured time, whenever it
    /// was sent (off: only requests sent after the warm-up count).
    by_completion: bool,
}

impl Plan {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        urls: &[String],
        method: &str,
        token: Option<String>,
        body: Option<String>,
        clients: usize,
        warmup: Duration,
        duration: Duration,
        max_requests: u64,
    ) -> Result<Self, BenchError> {
        let targets = urls
            .iter()
            .map(|u| Target::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        if targets.is_empty() {
            return Err(BenchError::NoUrl);
        }
        let method = match method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            other => return Err(BenchError::BadMethod(other.to_string())),
        };
        if clients == 0 {
            return Err(BenchError::NoClients);
        }
        let authorization = crate::load::bearer(token)?;
        Ok(Plan {
            targets,
            method,
            authorization,
            body,
            clients,
            warmup,
            duration,
            max_requests,
            by_completion: false,
        })
    }

    /// Counts requests by when they completed (`--by-completion`): with latencies
    /// near the measured time, requests sent during the warm-up and answered
    /// after it count, so the throughput is not biased against a slow server.
    pub fn by_completion(mut self, on: bool) -> Self {
        self.by_completion = on;
        self
    }

    fn request(&self, target: &Target, uniq: &str) -> Result<Request<Full<Bytes>>, BenchError> {
        let mut b = Request::builder()
            .method(self.method.clone())
            .uri(&target.path)
            .header(header::HOST, &target.authority);
        if let Some(auth) = &self.authorization {
            b = b.header(header::AUTHORIZATION, auth.clone());
        }
        let body = match &self.body {
            Some(template) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(template.replace("{uniq}", uniq))
            }
            None => Bytes::new(),
        };
        Ok(b.body(Full::new(body))?)
    }
}

/// One run's figures.
pub struct Report {
    clients: usize,
    /// How many URLs (nodes) the clients were spread over.
    urls: usize,
    requests: u64,
    /// Every request sent, warm-up included: what the server did work for.
    sent: u64,
    pub failures: u64,
    pub failure_sample: Option<String>,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        let h = &self.latency_us;
        let secs = self.elapsed.as_secs_f64();
        json!({
            "clients": self.clients,
            "urls": self.urls,
            "requests": self.requests,
            "sent": self.sent,
            "failures": self.failures,
            "seconds": secs,
            "rps": if secs > 0.0 { self.requests as f64 / secs } else { 0.0 },
            "p50_us": h.value_at_quantile(0.50),
            "p90_us": h.value_at_quantile(0.90),
            "p99_us": h.value_at_quantile(0.99),
            "max_us": h.max(),
            "mean_us": h.mean(),
        })
    }
}

/// What the clients share; the generator runs on one thread, so plain cells do.
struct Shared {
    plan: Plan,
    measure_from: Instant,
    end: Instant,
    measured: Cell<u64>,
    sequence: Cell<u64>,
    failures: Cell<u64>,
    failure_sample: std::cell::RefCell<Option<String>>,
}

/// Runs the plan on the current (single-threaded) runtime.
pub async fn run(plan: Plan) -> Result<Report, BenchError> {
    let start = Instant::now();
    let (clients, warmup, duration) = (plan.clients, plan.warmup, plan.duration);
    let urls = plan.targets.len();
    let shared = Rc::new(Shared {
        plan,
        measure_from: start + warmup,
        end: start + warmup + duration,
        measured: Cell::new(0),
        sequence: Cell::new(0),
        failures: Cell::new(0),
        failure_sample: Default::default(),
    });
    let local = tokio::task::LocalSet::new();
    let histograms = local
        .run_until(async {
            let tasks: Vec<_> = (0..clients)
                .map(|i| tokio::task::spawn_local(client(shared.clone(), i)))
                .collect();
            let mut out = Vec::with_capacity(clients);
            for t in tasks {
                out.push(t.await.expect("a client task panicked")?);
            }
            Ok::<_, BenchError>(out)
        })
        .await?;
    let measured_until = Instant::now().min(shared.end);
    let mut latency_us = new_histogram();
    for h in &histograms {
        latency_us.add(h).expect("histograms share their bounds");
    }
    let failure_sample = shared.failure_sample.take();
    Ok(Report {
        clients,
        urls,
        requests: shared.measured.get(),
        sent: shared.sequence.get(),
        failures: shared.failures.get(),
        failure_sample,
        elapsed: measured_until.saturating_duration_since(shared.measure_from),
        latency_us,
    })
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Client `index` of the plan: a closed loop on its own connection to target
/// `index mod targets`.
async fn client(shared: Rc<Shared>, index: usize) -> Result<Histogram<u64>, BenchError> {
    let plan = &shared.plan;
    let target = &plan.targets[index % plan.targets.len()];
    let connect_error = |source| BenchError::Connect {
        addr: target.authority.clone(),
        source,
    };
    let stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(connect_error)?;
    stream.set_nodelay(true).map_err(connect_error)?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::task::spawn_local(conn);
    let mut hist = new_histogram();
    let pid = std::process::id();
    loop {
        let sent = Instant::now();
        if sent >= shared.end || shared.measured.get() >= plan.max_requests {
            break;
        }
        let n = shared.sequence.get();
        shared.sequence.set(n + 1);
        let request = plan.request(target, &format!("{pid}-{n}"))?;
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        let done = Instant::now();
        let before = if plan.by_completion { done } else { sent };
        if before < shared.measure_from || done > shared.end {
            continue;
        }
        shared.measured.set(shared.measured.get() + 1);
        hist.saturating_record(done.duration_since(sent).as_micros().max(1) as u64);
        if !status.is_success() {
            shared.failures.set(shared.failures.get() + 1);
            shared
                .failure_sample
                .borrow_mut()
                .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
    }
    drop(sender);
    let _ = conn.await;
    Ok(hist)
}

/// The `Authorization` header of `token`, if one is given.
pub(crate) fn bearer(token: Option<String>) -> Result<Option<HeaderValue>, BenchError> {
    token
        .map(|t| {
            HeaderValue::from_str(&format!("Bearer {t}")).map_err(|e| BenchError::Request(e.into()))
        })
        .transpose()
}
