//! Flow runs under SIGKILL, with the real binary (`crates/engine/src/flows`,
//! "Durability" in `runner.rs`, leases in `scheduler.rs`).
//!
//! A mock API started by the test has a slow endpoint (`POST /slow`, 60 ms a
//! request) that records every request — the run and the connection it is for,
//! sent by the flow from `$.flowRun.id` and `$.connection.id` — and the most
//! requests of one connection it ever had in flight at once. The flow is linear:
//! `start` (api-trigger) → `shape` (transform-data) → `call`
//! (api-request-to-external-app, POST /slow) → `done` (transform-data). Runs are
//! started over four connections, and the server is killed with SIGKILL while
//! one of the mock's requests is held in flight (so at least one run is cut off
//! mid-call), after some runs completed and with most still queued.
//!
//! * [`sigkill_mid_load_every_run_completes_and_no_node_run_is_doubled`] (SQLite,
//!   and PostgreSQL in its pass): the server is started again on the same data
//!   dir or database. On SQLite it releases the old leases at start, so the
//!   default 30 s lease never delays the resume (the wait is shorter than the
//!   lease); on PostgreSQL the lease is 3 s.
//! * [`three_nodes_one_killed_the_survivors_take_its_runs_over`] (PostgreSQL
//!   only): three nodes on one database, lease 3 s, runs started through all of
//!   them; the node that made the held request (told by its socket, from
//!   `/proc`) is killed and not restarted.
//! * [`frozen_past_its_lease_a_node_runs_none_of_its_runs_twice`] (both): not a
//!   kill but SIGSTOP for longer than the 3 s lease, then SIGCONT, the held call
//!   still in flight; nobody else is there to take the runs over.
//!
//! Afterwards: every run `completed` with its output; the database holds exactly
//! one node run per node of each run; each run's call reached the mock at least
//! once, and exactly once for every run claimed only once (`attempts = 1`: it
//! completed before the kill, or had not started); a call that reached the mock
//! twice was made by a run that was taken over, and its stored node run carries
//! the "may repeat" log line (which no node run of a run claimed once carries);
//! a kill strands at most the head of each connection's queue; each
//! connection's calls came in the order its runs were created; no connection
//! ever had two calls in flight at once; the nodes that lived to the end logged
//! no lost lease, failed renewal, deadlock or error. `OSMOSIS_FAULTS_LONG=1`
//! runs more runs and more kills.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use osmosis_connectors::sealing::EncryptionKey;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::common::process::*;
use crate::common::*;

const CONNECTIONS: usize = 4;
const FLOW: &str = "slow-call";
/// The nodes of the flow, in order.
const NODES: [&str; 4] = ["start", "shape", "call", "done"];
/// How long the slow endpoint takes per request.
const DELAY: Duration = Duration::from_millis(60);
/// What the log line of a node run that may repeat calls says.
const MAY_REPEAT: &str = "may repeat";

fn long() -> bool {
    std::env::var("OSMOSIS_FAULTS_LONG").is_ok_and(|v| v == "1")
}

/// How many runs, and how many kills.
fn scale() -> (usize, usize) {
    if long() {
        (400, 4)
    } else {
        (200, 1)
    }
}

/// A small xorshift generator: each run kills at another moment; the seed is
/// printed to replay one.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = RandomState::new().hash_one(std::process::id());
        eprintln!("flow_kill seed {seed}");
        Rng(seed | 1)
    }

    fn between(&mut self, low: usize, high: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + (self.0 % (high - low) as u64) as usize
    }
}

/// One request the slow endpoint received.
#[derive(Debug, Clone)]
struct Seen {
    run: String,
    conn: String,
}

/// The mock's record of what it saw.
#[derive(Default)]
struct Slow {
    seen: Mutex<Vec<Seen>>,
    /// Requests in flight per connection, and the most ever at once.
    in_flight: Mutex<HashMap<String, (usize, usize)>>,
    /// The number (1-based) of the request that is held until the test lets it
    /// answer (after killing or freezing its sender); 0: none.
    trip_at: AtomicUsize,
    /// The held request: who sent it (its client address) and for which run.
    tripped: Mutex<Option<(SocketAddr, Seen)>>,
    trip: Notify,
    /// Lets the held request answer (to nobody when its sender was killed).
    release: Notify,
}

impl Slow {
    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Holds the request `gap` requests from now until [`Slow::release`].
    fn arm(&self, gap: usize) {
        self.trip_at.store(self.count() + gap, Ordering::SeqCst);
    }

    fn max_in_flight(&self) -> BTreeMap<String, usize> {
        self.in_flight
            .lock()
            .unwrap()
            .iter()
            .map(|(c, (_, max))| (c.clone(), *max))
            .collect()
    }

    /// How many times the mock saw each run's call.
    fn calls(&self) -> HashMap<String, usize> {
        let mut calls = HashMap::new();
        for s in self.seen.lock().unwrap().iter() {
            *calls.entry(s.run.clone()).or_default() += 1;
        }
        calls
    }
}

/// Counts one request of a connection in flight while it lives (a handler the
/// server drops when its client goes away counts out too).
struct InFlight(Arc<Slow>, String);

impl InFlight {
    fn enter(slow: &Arc<Slow>, conn: &str) -> InFlight {
        let mut all = slow.in_flight.lock().unwrap();
        let (now, max) = all.entry(conn.to_owned()).or_default();
        *now += 1;
        *max = (*max).max(*now);
        InFlight(Arc::clone(slow), conn.to_owned())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some((now, _)) = self.0.in_flight.lock().unwrap().get_mut(&self.1) {
            *now -= 1;
        }
    }
}

async fn slow(
    State(m): State<Arc<Slow>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<Value>,
) -> Json<Value> {
    let seen = Seen {
        run: body["run"].as_str().unwrap_or_default().to_owned(),
        conn: body["conn"].as_str().unwrap_or_default().to_owned(),
    };
    let _counted = InFlight::enter(&m, &seen.conn);
    let n = {
        let mut all = m.seen.lock().unwrap();
        all.push(seen.clone());
        all.len()
    };
    if n == m.trip_at.load(Ordering::SeqCst) {
        let released = m.release.notified();
        *m.tripped.lock().unwrap() = Some((peer, seen.clone()));
        m.trip.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(20), released).await;
    } else {
        tokio::time::sleep(DELAY).await;
    }
    Json(json!({"ok": true, "run": seen.run}))
}

async fn start_slow() -> (String, Arc<Slow>) {
    let m = Arc::new(Slow::default());
    let app = Router::new()
        .route("/me", get(|| async { Json(json!({"id": "u-1"})) }))
        .route("/slow", post(slow))
        .with_state(Arc::clone(&m));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap()
    });
    (url, m)
}

/// A database, a credentials key every process shares, and the mock.
struct Setup {
    dir: tempfile::TempDir,
    db: String,
    pg: Option<String>,
    key: String,
    mock_url: String,
    mock: Arc<Slow>,
}

/// One customer's connection.
struct Conn {
    id: String,
    token: String,
}

/// One run as started.
#[derive(Debug, Clone)]
struct Started {
    id: String,
    n: usize,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let (db, pg) = fresh_database(dir.path()).await;
        let (mock_url, mock) = start_slow().await;
        Setup {
            dir,
            db,
            pg,
            key: EncryptionKey::generate().to_base64(),
            mock_url,
            mock,
        }
    }

    /// `osmosis serve` on `port` with the data dir `name`, the database, the key,
    /// and the lease `lease_secs` (the default when `None`).
    async fn serve(&self, name: &str, port: u16, lease_secs: Option<&str>) -> Running {
        let data = self.dir.path().join(name);
        let mut env = vec![("OSMOSIS_ENCRYPTION_KEY", self.key.as_str())];
        if let Some(secs) = lease_secs {
            env.push(("OSMOSIS_FLOW_LEASE_SECS", secs));
        }
        Running::serve_workspace(&self.db, port, &data, &env).await
    }

    /// The connector, its integration, the flow, and one connection per customer.
    async fn install(&self, nodes: &[&Running]) -> Vec<Conn> {
        let node = nodes[0];
        let connector = node
            .create(
                "connectors",
                json!({
                    "key": "slowapi",
                    "name": "Slow API",
                    "type": "client-credentials",
                    "makeApiClient": {"type": "mapping", "mapping": {
                        "baseUri": self.mock_url,
                        "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}
                    }},
                    "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
                }),
            )
            .await;
        let integration = node
            .create(
                "integrations",
                json!({"key": "slowapi", "name": "Slow API", "connectorId": connector["id"]}),
            )
            .await;
        let var = |path: &str| json!({"$var": path});
        node.create(
            "flows",
            json!({
                "key": FLOW,
                "name": "Slow call",
                "integrationId": integration["id"],
                "nodes": {
                    "start": {"type": "api-trigger", "links": [{"key": "shape"}]},
                    "shape": {"type": "transform-data",
                              "config": {"output": {"n": var("$.input.start.n")}},
                              "links": [{"key": "call"}]},
                    "call": {"type": "api-request-to-external-app",
                             "config": {"request": {"method": "POST", "path": "/slow", "data": {
                                 "run": var("$.flowRun.id"),
                                 "conn": var("$.connection.id"),
                                 "n": var("$.input.shape.n"),
                             }}},
                             "links": [{"key": "done"}]},
                    "done": {"type": "transform-data",
                             "config": {"output": {"run": var("$.input.call.run"), "n": var("$.input.shape.n")}}}
                }
            }),
        )
        .await;
        let mut conns = Vec::new();
        for k in 0..CONNECTIONS {
            let token = customer_token(&format!("flow-kill-{k}"));
            let (status, c) = nodes[k % nodes.len()]
                .call(
                    "POST",
                    "/connections",
                    &token,
                    Some(json!({
                        "integrationId": integration["id"],
                        "name": format!("Slow {k}"),
                        "input": {"apiKey": format!("key-{k}")}
                    })),
                )
                .await;
            assert_eq!(status, 200, "connect {k}: {c}");
            conns.push(Conn {
                id: c["id"].as_str().unwrap().to_owned(),
                token,
            });
        }
        conns
    }

    async fn finish(self) {
        drop_database(self.pg).await;
    }
}

/// Starts run `n` on connection `n % CONNECTIONS` through `node`.
async fn start_run(node: &Running, conns: &[Conn], n: usize) -> Started {
    let conn = &conns[n % conns.len()];
    let (status, run) = node
        .call(
            "POST",
            &format!("/connections/{}/flows/{FLOW}/run", conn.id),
            &conn.token,
            Some(json!({"input": {"n": n}})),
        )
        .await;
    assert_eq!(status, 200, "start run {n}: {run}");
    assert!(
        matches!(run["state"].as_str(), Some("queued" | "running")),
        "{run}"
    );
    Started {
        id: run["id"].as_str().unwrap().to_owned(),
        n,
    }
}

/// Starts `count` runs spread over the connections and `nodes`: the first of each
/// connection one at a time (it makes the connection's flow instance), the rest
/// sixteen at once.
async fn start_runs(nodes: &[&Running], conns: &[Conn], count: usize) -> Vec<Started> {
    let mut runs = Vec::with_capacity(count);
    for n in 0..conns.len() {
        runs.push(start_run(nodes[n % nodes.len()], conns, n).await);
    }
    let rest: Vec<Started> = futures::stream::iter(conns.len()..count)
        .map(|n| start_run(nodes[n % nodes.len()], conns, n))
        .buffer_unordered(16)
        .collect()
        .await;
    runs.extend(rest);
    runs.sort_by_key(|r| r.n);
    runs
}

/// Waits for the mock to hold its tripping request; its sender's address and run.
async fn tripped(mock: &Slow) -> (SocketAddr, Seen) {
    let waited = tokio::time::timeout(Duration::from_secs(30), mock.trip.notified()).await;
    assert!(
        waited.is_ok(),
        "the mock never saw request {} (it saw {})",
        mock.trip_at.load(Ordering::SeqCst),
        mock.count()
    );
    mock.tripped
        .lock()
        .unwrap()
        .take()
        .expect("the held request")
}

/// Waits until every run has completed (through `nodes` in turn), failing on a
/// run that ended otherwise or on the deadline; answers the final records.
async fn wait_completed(nodes: &[&Running], runs: &[Started], within: Duration) -> Vec<Value> {
    let deadline = Instant::now() + within;
    let admin = admin_token();
    let mut done = Vec::with_capacity(runs.len());
    for (i, r) in runs.iter().enumerate() {
        loop {
            let node = nodes[i % nodes.len()];
            let (status, run) = node
                .call("GET", &format!("/flow-runs/{}?wait=5", r.id), &admin, None)
                .await;
            assert_eq!(status, 200, "{run}");
            match run["state"].as_str() {
                Some("completed") => {
                    done.push(run);
                    break;
                }
                Some("queued" | "running") if Instant::now() < deadline => {}
                _ => {
                    let mut states = BTreeMap::new();
                    for s in ["queued", "running", "completed", "failed", "stopped"] {
                        let (_, page) = node
                            .call(
                                "GET",
                                &format!("/flow-runs?state={s}&limit=1000"),
                                &admin,
                                None,
                            )
                            .await;
                        states.insert(s, page["items"].as_array().map_or(0, Vec::len));
                    }
                    panic!(
                        "run {} (n {}) did not complete within {within:?}: {run}; runs by state: {states:?}",
                        r.id, r.n
                    );
                }
            }
        }
    }
    done
}

/// Whether a node run record has the log line saying its calls may repeat.
fn says_may_repeat(record: &Value) -> bool {
    record["logs"].as_array().is_some_and(|logs| {
        logs.iter().any(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains(MAY_REPEAT))
        })
    })
}

/// What the database holds about the runs, read directly.
struct Stored {
    /// id → (connection, seq, attempts, state).
    runs: HashMap<String, (String, i64, i32, String)>,
    /// (run, node key) → rows.
    node_runs: HashMap<(String, String), i64>,
    /// run → the record of its `call` node run.
    call_records: HashMap<String, Value>,
    /// run → whether any of its node runs carries the "may repeat" line.
    may_repeat: HashMap<String, bool>,
}

const RUNS_SQL: &str = "SELECT id, connection_id, seq, attempts, state FROM flow_runs";
const COUNTS_SQL: &str =
    "SELECT run_id, node_key, COUNT(*) FROM flow_node_runs GROUP BY run_id, node_key";
const RECORDS_SQL: &str = "SELECT run_id, node_key, record FROM flow_node_runs";

macro_rules! read_stored {
    ($pool:expr) => {{
        let pool = $pool;
        let runs: Vec<(String, String, i64, i32, String)> =
            sqlx::query_as(RUNS_SQL).fetch_all(&pool).await.unwrap();
        let counts: Vec<(String, String, i64)> =
            sqlx::query_as(COUNTS_SQL).fetch_all(&pool).await.unwrap();
        let records: Vec<(String, String, String)> =
            sqlx::query_as(RECORDS_SQL).fetch_all(&pool).await.unwrap();
        pool.close().await;
        (runs, counts, records)
    }};
}

async fn read_stored(db: &str) -> Stored {
    let (runs, counts, records) = if db.starts_with("postgres") {
        read_stored!(sqlx::PgPool::connect(db).await.unwrap())
    } else {
        read_stored!(sqlx::SqlitePool::connect(db).await.unwrap())
    };
    let mut stored = Stored {
        runs: runs
            .into_iter()
            .map(|(id, conn, seq, attempts, state)| (id, (conn, seq, attempts, state)))
            .collect(),
        node_runs: counts
            .into_iter()
            .map(|(run, key, n)| ((run, key), n))
            .collect(),
        call_records: HashMap::new(),
        may_repeat: HashMap::new(),
    };
    for (run, key, record) in records {
        let record: Value = serde_json::from_str(&record).unwrap();
        *stored.may_repeat.entry(run.clone()).or_default() |= says_may_repeat(&record);
        if key == "call" {
            stored.call_records.insert(run, record);
        }
    }
    stored
}

/// Stops a node that ran to the end with SIGTERM; its log must not show a flow
/// run's lease lost while it lived, a renewal or a write that failed, or a
/// database deadlock (what made live nodes' runs be taken over once).
fn stop_quietly(node: Running) {
    let (status, out, err) = node.terminate();
    assert!(status.success(), "exit {status}; stderr: {err}");
    let bad: Vec<&str> = out
        .lines()
        .chain(err.lines())
        .filter(|l| {
            l.contains("\"ERROR\"")
                || l.contains("deadlock")
                || l.contains("could not renew")
                || l.contains("took the flow run over")
                || l.contains("already runs")
        })
        .collect();
    assert!(bad.is_empty(), "the node's log: {bad:#?}");
}

/// Everything the module doc promises, checked against the runs as started,
/// their final records, the database and the mock; `held` are the runs whose
/// call was in flight when their node was killed. Answers (runs taken over,
/// calls repeated).
async fn verify(
    s: &Setup,
    node: &Running,
    runs: &[Started],
    finals: &[Value],
    held: &[Seen],
) -> (usize, usize) {
    let admin = admin_token();
    // Every run completed with the output of its last node, each node counted once.
    for (r, run) in runs.iter().zip(finals) {
        for key in NODES {
            assert_eq!(run["nodes"][key]["runs"], 1, "run {}: {run}", r.id);
        }
        let (status, output) = node
            .call("GET", &format!("/flow-runs/{}/output", r.id), &admin, None)
            .await;
        assert_eq!(status, 200, "{output}");
        assert_eq!(output, json!({"run": r.id, "n": r.n}), "run {}", r.id);
    }

    let stored = read_stored(&s.db).await;
    assert_eq!(stored.runs.len(), runs.len(), "no run nobody started");
    let connections: std::collections::BTreeSet<&String> =
        stored.runs.values().map(|(c, ..)| c).collect();
    assert_eq!(connections.len(), CONNECTIONS);
    for c in connections {
        for state in ["queued", "running", "completed"] {
            let path = format!("/flow-runs?connectionId={c}&state={state}&limit=1000");
            let (status, page) = node.call("GET", &path, &admin, None).await;
            assert_eq!(status, 200, "{page}");
            let n = page["items"].as_array().map_or(0, Vec::len);
            let all = runs.len() / CONNECTIONS;
            assert_eq!(n, if state == "completed" { all } else { 0 }, "{path}");
        }
    }
    // One node run per node of each run, none twice.
    for r in runs {
        for key in NODES {
            let n = stored.node_runs.get(&(r.id.clone(), key.to_owned()));
            assert_eq!(n, Some(&1), "node runs of `{key}` in run {}", r.id);
        }
    }
    assert_eq!(
        stored.node_runs.len(),
        runs.len() * NODES.len(),
        "no node run of another node"
    );

    let calls = s.mock.calls();
    let (mut taken_over, mut repeated) = (0, 0);
    for r in runs {
        let (_, _, attempts, state) = &stored.runs[&r.id];
        assert_eq!(state, "completed", "run {}", r.id);
        let n = calls.get(&r.id).copied().unwrap_or(0);
        assert!(n >= 1, "run {}: its call never reached the mock", r.id);
        assert!(
            n <= *attempts as usize,
            "run {}: {n} calls in {attempts} attempts",
            r.id
        );
        if *attempts == 1 {
            // Completed before a kill, or started after it: exactly once.
            assert_eq!(n, 1, "run {} was claimed once", r.id);
            assert!(
                !stored.may_repeat[&r.id],
                "run {} was claimed once, yet a node run says calls may repeat",
                r.id
            );
        } else {
            taken_over += 1;
        }
        if n > 1 {
            repeated += 1;
            let record = &stored.call_records[&r.id];
            assert!(
                says_may_repeat(record),
                "run {} repeated its call; its node run says so: {record}",
                r.id
            );
        }
    }
    // The runs cut off mid-call called again, and say so through the API too.
    for h in held {
        assert!(
            calls.get(&h.run).copied().unwrap_or(0) >= 2,
            "run {} was killed mid-call: it calls again",
            h.run
        );
        let record = &stored.call_records[&h.run];
        let path = format!(
            "/flow-runs/{}/nodes/call/runs/{}",
            h.run,
            record["id"].as_str().unwrap()
        );
        let (status, one) = node.call("GET", &path, &admin, None).await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(one["status"], "completed", "{one}");
        assert!(says_may_repeat(&one), "{one}");
        let logs = one["logs"].as_array().unwrap();
        assert!(logs.iter().any(|l| l["type"] == "api-request"), "{one}");
    }

    // Each connection's calls came in the order of its runs (repeats aside), and
    // never two at once.
    let mut order: HashMap<String, Vec<i64>> = HashMap::new();
    let mut first = std::collections::HashSet::new();
    for seen in s.mock.seen.lock().unwrap().iter() {
        if first.insert(seen.run.clone()) {
            let (conn, seq, _, _) = &stored.runs[&seen.run];
            assert_eq!(
                conn, &seen.conn,
                "run {} called for its connection",
                seen.run
            );
            order.entry(seen.conn.clone()).or_default().push(*seq);
        }
    }
    assert_eq!(order.len(), CONNECTIONS);
    for (conn, seqs) in &order {
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "connection {conn} ran its runs out of order: {seqs:?}"
        );
    }
    let max = s.mock.max_in_flight();
    assert!(
        max.values().all(|m| *m == 1),
        "a connection had calls in flight at once: {max:?}"
    );
    (taken_over, repeated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_load_every_run_completes_and_no_node_run_is_doubled() {
    let (count, kills) = scale();
    let mut rng = Rng::new();
    let s = Setup::new().await;
    // SQLite: the default lease, which the restart must not wait for.
    let lease = (backend() == "postgres").then_some("3");
    let port = free_port();
    let mut node = s.serve("data", port, lease).await;
    let conns = s.install(&[&node]).await;
    let runs = start_runs(&[&node], &conns, count).await;
    let mut held = Vec::new();
    for round in 0..kills {
        // Some runs completed, most are queued, one call is held in flight.
        s.mock
            .arm(rng.between(count / (5 * kills), count / (2 * kills)));
        let (_, seen) = tripped(&s.mock).await;
        assert!(node.kill().code().is_none(), "killed by the signal");
        s.mock.release.notify_waiters();
        eprintln!(
            "round {round}: killed after {} calls, mid-call of run {}",
            s.mock.count(),
            seen.run
        );
        held.push(seen);
        node = s.serve("data", port, lease).await;
    }
    let restarted = Instant::now();
    // Shorter than the 30 s lease on SQLite: the restart released the old leases.
    let finals = wait_completed(&[&node], &runs, Duration::from_secs(25)).await;
    eprintln!(
        "every run completed {:?} after the last restart",
        restarted.elapsed()
    );
    let (taken_over, repeated) = verify(&s, &node, &runs, &finals, &held).await;
    eprintln!(
        "{count} runs, {kills} kills: {taken_over} taken over, {repeated} calls repeated, {} calls in all",
        s.mock.count()
    );
    assert!(taken_over >= held.len());
    assert!(
        taken_over <= kills * CONNECTIONS,
        "a kill strands at most the head of each connection's queue: {taken_over} runs taken over"
    );
    stop_quietly(node);
    s.finish().await;
}

/// A node frozen past its lease (SIGSTOP: a VM pause, a swap storm) and then
/// resumed, alone on its database: nobody took its runs, so it goes on with them
/// and runs none twice — its first claim after waking must not take its own
/// running runs (their leases lapsed while it slept) as new ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_past_its_lease_a_node_runs_none_of_its_runs_twice() {
    let s = Setup::new().await;
    let port = free_port();
    let node = s.serve("data", port, Some("3")).await;
    let conns = s.install(&[&node]).await;
    let runs = start_runs(&[&node], &conns, 40).await;
    s.mock.arm(8);
    let (_, seen) = tripped(&s.mock).await;
    send_signal(node.child.id(), "STOP");
    // Longer than the lease and a heartbeat's lateness.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    send_signal(node.child.id(), "CONT");
    // Awake, its scheduler looks for runs while the call is still in flight.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.mock.release.notify_waiters();
    eprintln!("frozen for 4.5 s mid-call of run {}", seen.run);
    let finals = wait_completed(&[&node], &runs, Duration::from_secs(20)).await;
    let (taken_over, repeated) = verify(&s, &node, &runs, &finals, &[]).await;
    assert_eq!((taken_over, repeated), (0, 0), "nobody took a run over");
    stop_quietly(node);
    s.finish().await;
}

/// The process, among `pids`, that owns the TCP socket from `client` to the
/// port `server_port` on this machine (Linux: `/proc/net/tcp` and the
/// processes' descriptors). `None` when it cannot be told.
fn owner_of(client: SocketAddr, server_port: u16, pids: &[u32]) -> Option<u32> {
    let port_of = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .find_map(|table| {
            let text = std::fs::read_to_string(table).ok()?;
            text.lines().skip(1).find_map(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                let ours = port_of(cols.get(1)?)? == client.port()
                    && port_of(cols.get(2)?)? == server_port;
                ours.then(|| cols.get(9).map(|i| i.to_string())).flatten()
            })
        })?;
    let socket = format!("socket:[{inode}]");
    pids.iter().copied().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|t| t.to_str() == Some(socket.as_str()))
            })
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_killed_the_survivors_take_its_runs_over() {
    if backend() != "postgres" {
        eprintln!(
            "the three-node flow test runs in the PostgreSQL pass (OSMOSIS_TEST_DATABASE=postgres)"
        );
        return;
    }
    let (count, kills) = scale();
    let mut rng = Rng::new();
    let s = Setup::new().await;
    let mock_port: u16 = s.mock_url.rsplit(':').next().unwrap().parse().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let lease = Some("3");
    // The first node migrates the database and makes the workspace; then the others.
    let mut nodes: Vec<Option<Running>> = vec![Some(s.serve("node-0", ports[0], lease).await)];
    for (k, port) in ports.iter().enumerate().skip(1) {
        nodes.push(Some(s.serve(&format!("node-{k}"), *port, lease).await));
    }
    let all: Vec<&Running> = nodes.iter().flatten().collect();
    let conns = s.install(&all).await;
    let runs = start_runs(&all, &conns, count).await;
    let mut held = Vec::new();
    for round in 0..kills {
        s.mock
            .arm(rng.between(count / (5 * kills), count / (2 * kills)));
        let (client, seen) = tripped(&s.mock).await;
        let pids: Vec<u32> = nodes
            .iter()
            .map(|n| n.as_ref().map_or(0, |n| n.child.id()))
            .collect();
        // The node that sent the held request; node 0 when that cannot be told.
        let found =
            owner_of(client, mock_port, &pids).and_then(|pid| pids.iter().position(|p| *p == pid));
        let victim = found.unwrap_or(0);
        let killed = nodes[victim].take().expect("a running node");
        assert!(killed.kill().code().is_none(), "killed by the signal");
        s.mock.release.notify_waiters();
        eprintln!(
            "round {round}: node {victim} killed after {} calls, mid-call of run {} ({})",
            s.mock.count(),
            seen.run,
            if found.is_some() {
                "the sender of the held request"
            } else {
                "the sender could not be told"
            }
        );
        if found.is_some() {
            held.push(seen);
        }
        if round + 1 < kills {
            // The long variant brings it back, so that three nodes run the next round.
            let again = s
                .serve(&format!("node-{victim}"), ports[victim], lease)
                .await;
            nodes[victim] = Some(again);
        }
    }
    let survivors: Vec<&Running> = nodes.iter().flatten().collect();
    let killed_at = Instant::now();
    let finals = wait_completed(&survivors, &runs, Duration::from_secs(40)).await;
    eprintln!(
        "every run completed {:?} after the kill, on {} nodes",
        killed_at.elapsed(),
        survivors.len()
    );
    let (taken_over, repeated) = verify(&s, survivors[0], &runs, &finals, &held).await;
    eprintln!(
        "{count} runs, {kills} kills on three nodes: {taken_over} taken over, {repeated} calls repeated, {} calls in all",
        s.mock.count()
    );
    assert!(
        taken_over >= held.len(),
        "the killed nodes' runs were taken over"
    );
    assert!(
        taken_over <= kills * CONNECTIONS,
        "a kill strands at most the head of each connection's queue: {taken_over} runs taken over"
    );
    for n in nodes.into_iter().flatten() {
        stop_quietly(n);
    }
    s.finish().await;
}
