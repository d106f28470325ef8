//! Idle and slowloris clients against one server while a prober measures `/health`.
//!
//! Shared by the `osmosis-bench-faults` binary (bench/faults/run.sh, the figures in
//! BENCHMARKS.md) and, through `#[path]`, by the CI test
//! crates/osmosis/tests/it/faults_slow_clients.rs, so the benchmark and the test measure
//! the same thing the same way.
//!
//! A wave opens `idle` connections that send nothing and `slowloris` connections that
//! send the start of a request and then one header byte a second, never finishing.
//! Each socket then waits, for at most the server's header timeout plus `slack`, for
//! the server to close it (a read returns 0 or an error, a write fails); one still
//! open after that is counted as such and closed by us. Waves repeat until the attack
//! has lasted `attack_for`, because a single wave is over once the server's timeout
//! closes it, and the prober needs a long enough attack to collect samples.
//!
//! The prober runs on its own thread and runtime, so the thousands of attack tasks
//! never delay its clock. It opens a new connection for each `GET /health` every
//! `probe_every` (a new connection each time: an attacker who filled the accept path
//! or the connection limit would show here) and starts each probe on schedule
//! whatever the previous ones are doing, so a stalled server cannot hide its stall
//! by slowing the prober down. Latency is from the start of `connect` to the end of
//! the answer; a probe without a `200` within `PROBE_TIMEOUT` counts as failed.
//!
//! The server's resident memory (`VmRSS` of /proc/<pid>/status) is read just before
//! the attack, every 100 ms during it (the peak), and `settle` after the last wave.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// A probe not answered `200` within this counts as failed, with this latency.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connects in flight at once: the listener's backlog is finite, and a connect
/// dropped from a full SYN queue is retried only after a second, which would
/// measure the kernel rather than the server.
const CONNECTS_IN_FLIGHT: usize = 128;
/// What a slowloris client says first: a request line and one header, no end.
const SLOW_START: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n";
/// Then one byte a second of this, over and over: whole header lines, never the
/// empty line that would end the headers.
const SLOW_DRIP: &[u8] = b"X-Slow: y\r\n";
const PROBE_REQUEST: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub addr: SocketAddr,
    /// The server's process, for its RSS; `None`: memory is not measured.
    pub pid: Option<u32>,
    pub idle: usize,
    pub slowloris: usize,
    /// The server's header timeout: how long a socket is given to be closed, with `slack`.
    pub header_timeout: Duration,
    pub slack: Duration,
    /// Waves repeat until the attack has lasted this long (at least one wave).
    pub attack_for: Duration,
    pub probe_every: Duration,
    /// Probes before the attack, for the baseline latency.
    pub quiet: Duration,
    /// How long after the last wave the final RSS is read.
    pub settle: Duration,
    /// Stop opening connections once the server's RSS passes this (kB): the server
    /// before the timeouts holds every connection, and its memory grows without bound.
    pub rss_ceiling_kb: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Idle,
    Slowloris,
}

#[derive(Debug)]
enum Outcome {
    /// Not opened: the RSS ceiling was reached first.
    Skipped,
    ConnectFailed,
    /// The server closed it, this long after our connect finished; with the status
    /// of what it answered first, if it answered anything (`503` over the cap).
    Closed {
        after: Duration,
        answer: Option<String>,
    },
    /// Still open after the header timeout plus slack.
    StillOpen,
}

/// Latency figures of a set of probes.
#[derive(Clone, Debug, Default)]
pub struct Latencies {
    pub count: usize,
    pub failed: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Latencies {
    fn of(probes: &[(Duration, bool)]) -> Latencies {
        let mut all: Vec<Duration> = probes.iter().map(|(d, _)| *d).collect();
        all.sort();
        Latencies {
            count: probes.len(),
            failed: probes.iter().filter(|(_, ok)| !ok).count(),
            p50: percentile(&all, 50.0),
            p99: percentile(&all, 99.0),
            max: all.last().copied().unwrap_or_default(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "failed": self.failed,
            "p50_ms": ms(self.p50),
            "p99_ms": ms(self.p99),
            "max_ms": ms(self.max),
        })
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Per kind of client: what became of its sockets.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub opened: usize,
    pub connect_failed: usize,
    pub skipped: usize,
    /// Closed by the server within the header timeout plus slack.
    pub closed: usize,
    pub still_open: usize,
    /// The first status the server answered before closing (`503`, `408`, ...).
    pub answers: BTreeMap<String, usize>,
    /// Connect to close, of the closed ones.
    pub close_after_min: Option<Duration>,
    pub close_after_max: Option<Duration>,
}

impl Tally {
    fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Skipped => self.skipped += 1,
            Outcome::ConnectFailed => self.connect_failed += 1,
            Outcome::StillOpen => {
                self.opened += 1;
                self.still_open += 1;
            }
            Outcome::Closed { after, answer } => {
                self.opened += 1;
                self.closed += 1;
                if let Some(a) = answer {
                    *self.answers.entry(a.clone()).or_default() += 1;
                }
                self.close_after_min = Some(self.close_after_min.map_or(*after, |m| m.min(*after)));
                self.close_after_max = Some(self.close_after_max.map_or(*after, |m| m.max(*after)));
            }
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "opened": self.opened,
            "connect_failed": self.connect_failed,
            "skipped": self.skipped,
            "closed_by_server": self.closed,
            "still_open": self.still_open,
            "answers": self.answers,
            "close_after_min_ms": self.close_after_min.map(ms),
            "close_after_max_ms": self.close_after_max.map(ms),
        })
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub waves: usize,
    /// When each wave began, since the attack began.
    pub wave_starts: Vec<Duration>,
    pub attack: Duration,
    pub idle: Tally,
    pub slowloris: Tally,
    /// Most attack sockets open at once.
    pub peak_open: usize,
    pub quiet_probes: Latencies,
    pub attack_probes: Latencies,
    pub rss_start_kb: Option<u64>,
    pub rss_peak_kb: Option<u64>,
    pub rss_end_kb: Option<u64>,
    pub rss_ceiling_hit: bool,
    /// The slowest probes under attack: when they started (since the attack began)
    /// and how long they took, to tell a connect storm from a steady state.
    pub slowest_probes: Vec<(Duration, Duration)>,
}

/// How many of the slowest probes a report keeps.
const SLOWEST: usize = 12;

impl Report {
    pub fn to_json(&self, plan: &Plan) -> Value {
        json!({
            "plan": {
                "idle": plan.idle,
                "slowloris": plan.slowloris,
                "header_timeout_s": plan.header_timeout.as_secs_f64(),
                "slack_s": plan.slack.as_secs_f64(),
                "attack_for_s": plan.attack_for.as_secs_f64(),
                "probe_every_ms": ms(plan.probe_every),
                "settle_s": plan.settle.as_secs_f64(),
            },
            "waves": self.waves,
            "wave_starts_s": self.wave_starts.iter().map(|d| ms(*d) / 1e3).collect::<Vec<_>>(),
            "attack_s": self.attack.as_secs_f64(),
            "idle": self.idle.to_json(),
            "slowloris": self.slowloris.to_json(),
            "peak_open": self.peak_open,
            "probes_quiet": self.quiet_probes.to_json(),
            "probes_attack": self.attack_probes.to_json(),
            "rss_kb": {"start": self.rss_start_kb, "peak": self.rss_peak_kb, "end": self.rss_end_kb},
            "rss_ceiling_hit": self.rss_ceiling_hit,
            "slowest_probes": self
                .slowest_probes
                .iter()
                .map(|(at, d)| json!({"at_s": ms(*at) / 1e3, "ms": ms(*d)}))
                .collect::<Vec<_>>(),
        })
    }
}

/// The server's resident set in kB, from /proc/<pid>/status.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Phases of the run, as the prober tags its samples.
const QUIET: u8 = 0;
const ATTACK: u8 = 1;
const AFTER: u8 = 2;

/// The prober's and the memory sampler's shared state.
struct Watch {
    phase: AtomicU8,
    stop: AtomicBool,
    /// (phase, start, latency, answered 200)
    probes: Mutex<Vec<(u8, Instant, Duration, bool)>>,
    rss_now_kb: AtomicU64,
    rss_peak_kb: AtomicU64,
}

/// Runs the plan: quiet probes, attack waves, settle. The caller's runtime carries
/// the attack; the prober and the memory sampler get a thread of their own.
pub async fn run(plan: &Plan) -> Report {
    let watch = Arc::new(Watch {
        phase: AtomicU8::new(QUIET),
        stop: AtomicBool::new(false),
        probes: Mutex::new(Vec::new()),
        rss_now_kb: AtomicU64::new(0),
        rss_peak_kb: AtomicU64::new(0),
    });
    let prober = {
        let (watch, addr, every, pid) = (watch.clone(), plan.addr, plan.probe_every, plan.pid);
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the prober's runtime")
                .block_on(probe_and_sample(watch, addr, every, pid))
        })
    };
    tokio::time::sleep(plan.quiet).await;

    let mut report = Report {
        rss_start_kb: plan.pid.and_then(rss_kb),
        ..Report::default()
    };
    if let Some(start) = report.rss_start_kb {
        watch.rss_peak_kb.store(start, Ordering::SeqCst);
    }
    watch.phase.store(ATTACK, Ordering::SeqCst);
    let began = Instant::now();
    let open = Arc::new(AtomicUsize::new(0));
    let peak_open = Arc::new(AtomicUsize::new(0));
    let ceiling_hit = Arc::new(AtomicBool::new(false));
    loop {
        report.waves += 1;
        report.wave_starts.push(began.elapsed());
        let outcomes = wave(plan, &watch, &open, &peak_open, &ceiling_hit).await;
        for (kind, outcome) in outcomes {
            match kind {
                Kind::Idle => report.idle.add(&outcome),
                Kind::Slowloris => report.slowloris.add(&outcome),
            }
        }
        if began.elapsed() >= plan.attack_for || ceiling_hit.load(Ordering::SeqCst) {
            break;
        }
    }
    report.attack = began.elapsed();
    watch.phase.store(AFTER, Ordering::SeqCst);
    report.peak_open = peak_open.load(Ordering::SeqCst);
    report.rss_ceiling_hit = ceiling_hit.load(Ordering::SeqCst);
    report.rss_peak_kb = plan.pid.map(|_| watch.rss_peak_kb.load(Ordering::SeqCst));

    tokio::time::sleep(plan.settle).await;
    report.rss_end_kb = plan.pid.and_then(rss_kb);
    watch.stop.store(true, Ordering::SeqCst);
    prober.join().expect("the prober ends");
    let probes = std::mem::take(&mut *watch.probes.lock().unwrap());
    let of_phase = |phase: u8| -> Vec<(Duration, bool)> {
        probes
            .iter()
            .filter(|(p, _, _, _)| *p == phase)
            .map(|(_, _, d, ok)| (*d, *ok))
            .collect()
    };
    report.quiet_probes = Latencies::of(&of_phase(QUIET));
    report.attack_probes = Latencies::of(&of_phase(ATTACK));
    let mut slowest: Vec<(Duration, Duration)> = probes
        .iter()
        .filter(|(p, _, _, _)| *p == ATTACK)
        .map(|(_, start, d, _)| (start.saturating_duration_since(began), *d))
        .collect();
    slowest.sort_by_key(|(_, d)| std::cmp::Reverse(*d));
    slowest.truncate(SLOWEST);
    report.slowest_probes = slowest;
    report
}

/// One wave: every client opened (at most `CONNECTS_IN_FLIGHT` connects at once,
/// slowloris clients spread evenly among the idle ones), then watched until the
/// server closes it or its window ends.
async fn wave(
    plan: &Plan,
    watch: &Arc<Watch>,
    open: &Arc<AtomicUsize>,
    peak_open: &Arc<AtomicUsize>,
    ceiling_hit: &Arc<AtomicBool>,
) -> Vec<(Kind, Outcome)> {
    let total = plan.idle + plan.slowloris;
    let permits = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let window = plan.header_timeout + plan.slack;
    let mut clients = tokio::task::JoinSet::new();
    for i in 0..total {
        // Spreads the slowloris clients among the idle ones (Bresenham).
        let kind = if (i + 1) * plan.slowloris / total != i * plan.slowloris / total {
            Kind::Slowloris
        } else {
            Kind::Idle
        };
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("open semaphore");
        if let (Some(ceiling), true) = (plan.rss_ceiling_kb, plan.pid.is_some()) {
            if watch.rss_now_kb.load(Ordering::SeqCst) > ceiling {
                ceiling_hit.store(true, Ordering::SeqCst);
            }
        }
        if ceiling_hit.load(Ordering::SeqCst) {
            clients.spawn(async move { (kind, Outcome::Skipped) });
            continue;
        }
        let (addr, open, peak_open) = (plan.addr, open.clone(), peak_open.clone());
        clients.spawn(async move {
            let connected =
                tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await;
            drop(permit);
            let Ok(Ok(stream)) = connected else {
                return (kind, Outcome::ConnectFailed);
            };
            let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
            peak_open.fetch_max(now_open, Ordering::SeqCst);
            let outcome = hold(stream, kind, window).await;
            open.fetch_sub(1, Ordering::SeqCst);
            (kind, outcome)
        });
    }
    let mut outcomes = Vec::with_capacity(total);
    while let Some(done) = clients.join_next().await {
        outcomes.push(done.expect("a client task does not panic"));
    }
    outcomes
}

/// Keeps one attack socket until the server closes it or `window` ends.
async fn hold(mut stream: TcpStream, kind: Kind, window: Duration) -> Outcome {
    let opened = Instant::now();
    let mut answer: Option<String> = None;
    let held = async {
        let mut buf = [0u8; 256];
        let mut drip = SLOW_DRIP.iter().cycle();
        if kind == Kind::Slowloris && stream.write_all(SLOW_START).await.is_err() {
            return;
        }
        let second = Duration::from_secs(1);
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if answer.is_none() {
                            answer = Some(status_of(&buf[..n]));
                        }
                    }
                },
                _ = ticks.tick(), if kind == Kind::Slowloris => {
                    let byte = *drip.next().expect("an endless cycle");
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    match tokio::time::timeout(window, held).await {
        Ok(()) => Outcome::Closed {
            after: opened.elapsed(),
            answer,
        },
        Err(_) => Outcome::StillOpen,
    }
}

/// The status code of an HTTP/1.x answer's first bytes, or `other`.
fn status_of(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .filter(|code| code.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("other")
        .to_string()
}

/// The prober and the memory sampler, until `watch.stop`.
async fn probe_and_sample(watch: Arc<Watch>, addr: SocketAddr, every: Duration, pid: Option<u32>) {
    if let Some(pid) = pid {
        let watch = watch.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            loop {
                ticks.tick().await;
                if let Some(kb) = rss_kb(pid) {
                    watch.rss_now_kb.store(kb, Ordering::SeqCst);
                    if watch.phase.load(Ordering::SeqCst) == ATTACK {
                        watch.rss_peak_kb.fetch_max(kb, Ordering::SeqCst);
                    }
                }
            }
        });
    }
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut probes = tokio::task::JoinSet::new();
    while !watch.stop.load(Ordering::SeqCst) {
        ticks.tick().await;
        let watch = watch.clone();
        probes.spawn(async move {
            let phase = watch.phase.load(Ordering::SeqCst);
            let started = Instant::now();
            let ok = matches!(
                tokio::time::timeout(PROBE_TIMEOUT, probe(addr)).await,
                Ok(Ok(true))
            );
            let latency = started.elapsed().min(PROBE_TIMEOUT);
            watch
                .probes
                .lock()
                .unwrap()
                .push((phase, started, latency, ok));
        });
        // Reaps finished probes so the set does not grow with the run.
        while probes.try_join_next().is_some() {}
    }
    while probes.join_next().await.is_some() {}
}

/// One `GET /health` on a new connection: whether it was answered `200`.
async fn probe(addr: SocketAddr) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(PROBE_REQUEST).await?;
    let mut answer = Vec::with_capacity(256);
    stream.read_to_end(&mut answer).await?;
    Ok(status_of(&answer) == "200")
}
