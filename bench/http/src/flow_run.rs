//! The flow-run mode of the load generator (`load --flow-run`): one "request" is a
//! whole flow run. A client starts a run (`POST <start URL>` with the body, which
//! answers the run record with its `id`), then long-polls the run
//! (`GET /flow-runs/{id}?wait=30`, the `--poll` path) on the same keep-alive
//! connection until it answers a final state, and only then starts the next run.
//! Latency is from sending the POST to the last byte of the GET that answered the
//! final state. A run counts as done when that state is `completed`; a run that
//! ended `failed` or `stopped`, or any non-2xx answer on the way, is a failure.
//!
//! With several start URLs (one per connection) run n goes to URL n mod count, so
//! the runs are spread evenly over the connections whatever the client count; the
//! URLs must then all name the same server (each client keeps one connection).
//!
//! As in `load`, runs started during the warm-up are not counted (with
//! `--by-completion`: runs ending during it), nor runs finishing after the end;
//! `--max-requests` caps the runs started after the warm-up (with no warm-up and N
//! connections, `--max-requests 10N` starts exactly ten runs on each).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::http::{header, HeaderValue, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use crate::error::BenchError;
use crate::load::Target;

/// What to start, how hard and for how long.
pub struct FlowPlan {
    authority: String,
    /// The start paths (`/connections/{c}/flows/{f}/run`), one per connection.
    starts: Vec<String>,
    /// The poll path with `{id}` for the run's id.
    poll: String,
    authorization: Option<HeaderValue>,
    body: String,
    clients: usize,
    warmup: Duration,
    duration: Duration,
    max_runs: u64,
    /// Count a run when it ends in the measured time, whenever it started.
    by_completion: bool,
}

impl FlowPlan {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        urls: &[String],
        poll: String,
        token: Option<String>,
        body: Option<String>,
        clients: usize,
        warmup: Duration,
        duration: Duration,
        max_runs: u64,
    ) -> Result<Self, BenchError> {
        let targets = urls
            .iter()
            .map(|u| Target::parse(u))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = targets.first() else {
            return Err(BenchError::NoUrl);
        };
        let authority = first.authority.clone();
        if let Some(other) = targets.iter().find(|t| t.authority != authority) {
            return Err(BenchError::FlowRun(format!(
                "--flow-run start URLs must name one server; got {authority} and {}",
                other.authority
            )));
        }
        if !poll.starts_with('/') || !poll.contains("{id}") {
            return Err(BenchError::FlowRun(format!(
                "--poll must be a path holding {{id}}, not `{poll}`"
            )));
        }
        if clients == 0 {
            return Err(BenchError::NoClients);
        }
        let authorization = crate::load::bearer(token)?;
        Ok(FlowPlan {
            authority,
            starts: targets.into_iter().map(|t| t.path).collect(),
            poll,
            authorization,
            body: body.unwrap_or_else(|| "{}".to_string()),
            clients,
            warmup,
            duration,
            max_runs,
            by_completion: false,
        })
    }

    /// Counts runs by when they ended (`--by-completion`), as `load::Plan::by_completion`.
    pub fn by_completion(mut self, on: bool) -> Self {
        self.by_completion = on;
        self
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Request<Full<Bytes>>, BenchError> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority);
        if let Some(auth) = &self.authorization {
            b = b.header(header::AUTHORIZATION, auth.clone());
        }
        let body = match body {
            Some(body) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(body)
            }
            None => Bytes::new(),
        };
        Ok(b.body(Full::new(body))?)
    }
}

/// One load's figures.
pub struct FlowReport {
    clients: usize,
    connections: usize,
    /// Measured runs that completed.
    completed: u64,
    /// Every run started, warm-up included.
    started: u64,
    /// Measured runs that ended `failed` or `stopped`.
    failed_runs: u64,
    /// Measured runs that got a non-2xx answer (to the POST or a GET) or an answer
    /// without the expected field.
    http_failures: u64,
    /// GETs that answered a run not final yet (the wait ended first), all runs.
    repolls: u64,
    pub failure_sample: Option<String>,
    elapsed: Duration,
    latency_us: Histogram<u64>,
    /// Time from sending the POST to its answer (the start alone), completed runs.
    start_us: Histogram<u64>,
}

impl FlowReport {
    pub fn failures(&self) -> u64 {
        self.failed_runs + self.http_failures
    }

    pub fn to_json(&self) -> Value {
        let h = &self.latency_us;
        let secs = self.elapsed.as_secs_f64();
        json!({
            "mode": "flow-run",
            "clients": self.clients,
            "urls": self.connections,
            "requests": self.completed,
            "sent": self.started,
            "failures": self.failures(),
            "failed_runs": self.failed_runs,
            "http_failures": self.http_failures,
            "repolls": self.repolls,
            "seconds": secs,
            "rps": if secs > 0.0 { self.completed as f64 / secs } else { 0.0 },
            "p50_us": h.value_at_quantile(0.50),
            "p90_us": h.value_at_quantile(0.90),
            "p99_us": h.value_at_quantile(0.99),
            "max_us": h.max(),
            "mean_us": h.mean(),
            "start_p50_us": self.start_us.value_at_quantile(0.50),
            "start_p99_us": self.start_us.value_at_quantile(0.99),
        })
    }
}

struct Shared {
    plan: FlowPlan,
    measure_from: Instant,
    end: Instant,
    /// Runs started, warm-up included: run n goes to start URL n mod count.
    sequence: Cell<u64>,
    /// Runs started after the warm-up (capped by `max_runs`).
    started_measured: Cell<u64>,
    completed: Cell<u64>,
    failed_runs: Cell<u64>,
    http_failures: Cell<u64>,
    repolls: Cell<u64>,
    failure_sample: RefCell<Option<String>>,
    last_done: Cell<Option<Instant>>,
}

impl Shared {
    fn note_failure(&self, sample: impl FnOnce() -> String) {
        self.failure_sample.borrow_mut().get_or_insert_with(sample);
    }
}

/// Runs the plan on the current (single-threaded) runtime.
pub async fn run(plan: FlowPlan) -> Result<FlowReport, BenchError> {
    let start = Instant::now();
    let (clients, warmup, duration) = (plan.clients, plan.warmup, plan.duration);
    let connections = plan.starts.len();
    let shared = Rc::new(Shared {
        plan,
        measure_from: start + warmup,
        end: start + warmup + duration,
        sequence: Cell::new(0),
        started_measured: Cell::new(0),
        completed: Cell::new(0),
        failed_runs: Cell::new(0),
        http_failures: Cell::new(0),
        repolls: Cell::new(0),
        failure_sample: Default::default(),
        last_done: Cell::new(None),
    });
    let local = tokio::task::LocalSet::new();
    let histograms = local
        .run_until(async {
            let tasks: Vec<_> = (0..clients)
                .map(|_| tokio::task::spawn_local(client(shared.clone())))
                .collect();
            let mut out = Vec::with_capacity(clients);
            for t in tasks {
                out.push(t.await.expect("a client task panicked")?);
            }
            Ok::<_, BenchError>(out)
        })
        .await?;
    // With the cap reached, the load ended when its last run finished.
    let capped = shared.started_measured.get() >= shared.plan.max_runs;
    let measured_until = match shared.last_done.get() {
        Some(last) if capped => last,
        _ => Instant::now(),
    }
    .min(shared.end);
    let mut latency_us = new_histogram();
    let mut start_us = new_histogram();
    for (h, s) in &histograms {
        latency_us.add(h).expect("histograms share their bounds");
        start_us.add(s).expect("histograms share their bounds");
    }
    let failure_sample = shared.failure_sample.take();
    Ok(FlowReport {
        clients,
        connections,
        completed: shared.completed.get(),
        started: shared.sequence.get(),
        failed_runs: shared.failed_runs.get(),
        http_failures: shared.http_failures.get(),
        repolls: shared.repolls.get(),
        failure_sample,
        elapsed: measured_until.saturating_duration_since(shared.measure_from),
        latency_us,
        start_us,
    })
}

fn new_histogram() -> Histogram<u64> {
    // 1 µs to 60 s.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// How one run ended.
enum Outcome {
    Completed,
    /// `failed` or `stopped`.
    Failed(String),
    /// A non-2xx answer or one without `id` / `state`.
    Http(String),
}

/// A closed loop on its own connection: start a run, poll it to its end, repeat.
async fn client(shared: Rc<Shared>) -> Result<(Histogram<u64>, Histogram<u64>), BenchError> {
    let plan = &shared.plan;
    let stream = tokio::net::TcpStream::connect(&plan.authority)
        .await
        .map_err(|source| BenchError::Connect {
            addr: plan.authority.clone(),
            source,
        })?;
    stream
        .set_nodelay(true)
        .map_err(|source| BenchError::Connect {
            addr: plan.authority.clone(),
            source,
        })?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::task::spawn_local(conn);
    let mut hist = new_histogram();
    let mut start_hist = new_histogram();
    loop {
        let sent = Instant::now();
        if sent >= shared.end {
            break;
        }
        let measured = sent >= shared.measure_from;
        if measured {
            if shared.started_measured.get() >= plan.max_runs {
                break;
            }
            shared
                .started_measured
                .set(shared.started_measured.get() + 1);
        }
        let n = shared.sequence.get();
        shared.sequence.set(n + 1);
        let start_path = &plan.starts[(n % plan.starts.len() as u64) as usize];

        let (outcome, started_at) = one_run(&shared, &mut sender, start_path).await?;
        let done = Instant::now();
        let counted = if plan.by_completion {
            done >= shared.measure_from
        } else {
            measured
        };
        if !counted || done > shared.end {
            continue;
        }
        shared
            .last_done
            .set(Some(shared.last_done.get().map_or(done, |d| d.max(done))));
        match outcome {
            Outcome::Completed => {
                shared.completed.set(shared.completed.get() + 1);
                hist.saturating_record(done.duration_since(sent).as_micros().max(1) as u64);
                start_hist
                    .saturating_record(started_at.duration_since(sent).as_micros().max(1) as u64);
            }
            Outcome::Failed(sample) => {
                shared.failed_runs.set(shared.failed_runs.get() + 1);
                shared.note_failure(|| sample);
            }
            Outcome::Http(sample) => {
                shared.http_failures.set(shared.http_failures.get() + 1);
                shared.note_failure(|| sample);
            }
        }
    }
    drop(sender);
    let _ = conn.await;
    Ok((hist, start_hist))
}

/// Sends one request and reads the whole answer.
async fn exchange(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), BenchError> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Starts one run and polls it until it ends; answers how it ended and when the
/// start was answered.
async fn one_run(
    shared: &Shared,
    sender: &mut http1::SendRequest<Full<Bytes>>,
    start_path: &str,
) -> Result<(Outcome, Instant), BenchError> {
    let plan = &shared.plan;
    let post = plan.request(Method::POST, start_path, Some(plan.body.clone()))?;
    let (status, body) = exchange(sender, post).await?;
    let started_at = Instant::now();
    let text = || String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        return Ok((
            Outcome::Http(format!("POST {start_path}: {status}: {}", text())),
            started_at,
        ));
    }
    let record: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(id) = field(&record, "id") else {
        return Ok((
            Outcome::Http(format!("POST {start_path} answered no `id`: {}", text())),
            started_at,
        ));
    };
    let poll = plan.poll.replace("{id}", id);
    loop {
        let (status, body) = exchange(sender, plan.request(Method::GET, &poll, None)?).await?;
        let text = || String::from_utf8_lossy(&body).into_owned();
        if !status.is_success() {
            return Ok((
                Outcome::Http(format!("GET {poll}: {status}: {}", text())),
                started_at,
            ));
        }
        let record: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match field(&record, "state") {
            Some("completed") => return Ok((Outcome::Completed, started_at)),
            Some("failed" | "stopped") => {
                return Ok((
                    Outcome::Failed(format!("GET {poll}: {}", text())),
                    started_at,
                ))
            }
            Some(_) => shared.repolls.set(shared.repolls.get() + 1),
            None => {
                return Ok((
                    Outcome::Http(format!("GET {poll} answered no `state`: {}", text())),
                    started_at,
                ))
            }
        }
    }
}
