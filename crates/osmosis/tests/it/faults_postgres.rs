//! PostgreSQL stopped and started again under a running `osmosis serve`: during the
//! outage every request — read or write, admin or customer token — answers the 503
//! `database_unavailable` `ErrorData` within a second; once the server is back,
//! requests succeed again without restarting Osmosis, and every write that was
//! acknowledged is there exactly once.
//!
//! The test brings its own PostgreSQL (see `faults::PrivatePostgres`), so it runs in
//! both passes of the suite whatever `OSMOSIS_TEST_DATABASE` says.
//! `OSMOSIS_FAULTS_LONG=1`: three 12 s outages in a row under four times the load.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common;
use crate::faults::*;

/// The bound on an error answer the issue sets: a client learns of an outage
/// within a second, not after a pool's connect timeout.
const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// How soon after PostgreSQL accepts connections again requests must succeed.
const RECOVER_WITHIN: Duration = Duration::from_secs(5);
/// After this long back, every request must succeed (stale connections gone).
const SETTLED_AFTER: Duration = Duration::from_secs(1);

/// What the load acknowledged: flow key → id (admin), instance ids (customer).
#[derive(Default)]
struct Acked {
    flows: BTreeMap<String, String>,
    instances: Vec<String>,
}

struct Load {
    samples: Arc<Mutex<Vec<Sample>>>,
    acked: Arc<Mutex<Acked>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Clients that loop until stopped, each doing one kind of request: admin creates
/// (flows), customer creates (app-data-schema instances), admin and customer reads.
fn start_load(url: &str, schema_id: &str, clients_per_kind: usize) -> Load {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let load = Load {
        samples: Arc::default(),
        acked: Arc::default(),
        stop: Arc::default(),
        tasks: Vec::new(),
    };
    let mut tasks = Vec::new();
    for c in 0..clients_per_kind {
        for kind in 0..4 {
            let (http, url, schema_id) = (http.clone(), url.to_string(), schema_id.to_string());
            let (samples, acked, stop) =
                (load.samples.clone(), load.acked.clone(), load.stop.clone());
            tasks.push(tokio::spawn(async move {
                let admin = common::admin_token();
                let customer = common::customer_token("faults-customer");
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let s = match kind {
                        0 => {
                            let key = format!("c{c}-{i}");
                            let s = timed(&http, "admin write", "POST", format!("{url}/flows"), &admin,
                                Some(json!({"key": key, "name": format!("Flow {c}-{i}")}))).await;
                            if s.status == 200 {
                                let id = s.body["id"].as_str().expect("an id").to_string();
                                acked.lock().unwrap().flows.insert(key, id);
                            }
                            s
                        }
                        1 => {
                            let s = timed(&http, "customer write", "POST",
                                format!("{url}/app-data-schema-instances"), &customer,
                                Some(json!({"appDataSchemaId": schema_id, "key": format!("c{c}-{i}")}))).await;
                            if s.status == 200 {
                                let id = s.body["id"].as_str().expect("an id").to_string();
                                acked.lock().unwrap().instances.push(id);
                            }
                            s
                        }
                        2 => timed(&http, "admin read", "GET", format!("{url}/flows?limit=5"), &admin, None).await,
                        _ => timed(&http, "customer read", "GET",
                            format!("{url}/app-data-schema-instances?limit=5"), &customer, None).await,
                    };
                    samples.lock().unwrap().push(s);
                }
            }));
        }
    }
    Load { tasks, ..load }
}

impl Load {
    async fn finish(self) -> (Vec<Sample>, Acked) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.expect("a load client panicked");
        }
        let samples = std::mem::take(&mut *self.samples.lock().unwrap());
        let acked = std::mem::take(&mut *self.acked.lock().unwrap());
        (samples, acked)
    }
}

/// One outage's times: PostgreSQL told to stop, stopped, told to start, started.
struct Outage {
    stop_sent: Instant,
    stopped: Instant,
    start_sent: Instant,
    started: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage() {
    // The long variant's outages outlast the 10 s connect timeout sqlx had.
    let (outages, clients, outage_len) = if long() {
        (3, 4, Duration::from_secs(12))
    } else {
        (1, 1, Duration::from_secs(2))
    };
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&pg.url(), dir.path(), &dir.path().join("osmosis.log")).await;
    let http = reqwest::Client::new();
    let admin = common::admin_token();
    let schema = timed(
        &http,
        "setup",
        "POST",
        format!("{}/app-data-schemas", node.url),
        &admin,
        Some(json!({"key": "faults"})),
    )
    .await;
    assert_eq!(schema.status, 200, "{}", schema.body);
    let schema_id = schema.body["id"].as_str().unwrap().to_string();

    let load = start_load(&node.url, &schema_id, clients);
    let mut times = Vec::new();
    for _ in 0..outages {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let stop_sent = Instant::now();
        tokio::task::block_in_place(|| pg.stop_server());
        let stopped = Instant::now();
        tokio::time::sleep(outage_len).await;
        let start_sent = Instant::now();
        tokio::task::block_in_place(|| pg.start_server());
        let started = Instant::now();
        times.push(Outage {
            stop_sent,
            stopped,
            start_sent,
            started,
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (samples, acked) = load.finish().await;
    // Served throughout by the process started above: it never exited.
    node.assert_alive();

    // Judge every answer; collect every broken property before failing, so one run
    // shows all of them (and a baseline run still prints its figures).
    let mut broken: Vec<String> = Vec::new();
    let mut errors = Vec::new();
    let mut first_error_after = Vec::new();
    let mut recovered_after = Vec::new();
    let mut slowest_down = Vec::new();
    let mut slowest_overlapping = Vec::new();
    for s in &samples {
        if s.status != 200 {
            errors.push(s.elapsed);
            if !is_error(s, 503, "database_unavailable") {
                broken.push(format!(
                    "{}: not the 503 ErrorData: {} {}",
                    s.what, s.status, s.body
                ));
            }
            let text = s.body.to_string();
            if text.contains("postgres://") || text.contains(&format!(":{}", pg.port)) {
                broken.push(format!("{}: the answer names the database: {text}", s.what));
            }
            if s.elapsed >= ANSWER_WITHIN {
                broken.push(format!(
                    "{}: error answered after {}",
                    s.what,
                    ms(s.elapsed)
                ));
            }
        }
    }
    for (n, o) in times.iter().enumerate() {
        // Requests made while PostgreSQL was down, early enough that their answer
        // was due before it was started again.
        let down: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.started >= o.stopped && s.started + ANSWER_WITHIN <= o.start_sent)
            .collect();
        for kind in [
            "admin write",
            "customer write",
            "admin read",
            "customer read",
        ] {
            if !down.iter().any(|s| s.what == kind) {
                broken.push(format!(
                    "outage {n}: no {kind} was made while PostgreSQL was down"
                ));
            }
        }
        for s in &down {
            if s.elapsed >= ANSWER_WITHIN || !is_error(s, 503, "database_unavailable") {
                broken.push(format!(
                    "outage {n}: {} made while PostgreSQL was down answered {} after {}",
                    s.what,
                    s.status,
                    ms(s.elapsed)
                ));
            }
        }
        slowest_down.push(down.iter().map(|s| s.elapsed).max().unwrap_or_default());
        // Any request in flight while it was down, made before or during the stop:
        // how long a client could be kept waiting.
        slowest_overlapping.push(
            samples
                .iter()
                .filter(|s| s.started <= o.start_sent && s.finished() >= o.stopped)
                .map(|s| s.elapsed)
                .max()
                .unwrap_or_default(),
        );
        match samples
            .iter()
            .filter(|s| s.finished() >= o.stop_sent && s.status != 200)
            .map(|s| s.finished())
            .min()
        {
            Some(t) => first_error_after.push(t - o.stop_sent),
            None => broken.push(format!("outage {n}: no request failed")),
        }
        let next_stop = times.get(n + 1).map(|n| n.stop_sent);
        let after: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.finished() >= o.started && next_stop.is_none_or(|t| s.finished() < t))
            .collect();
        match after
            .iter()
            .filter(|s| s.status == 200)
            .map(|s| s.finished())
            .min()
        {
            Some(t) if t - o.started <= RECOVER_WITHIN => recovered_after.push(t - o.started),
            Some(t) => broken.push(format!(
                "outage {n}: first success {} after the restart",
                ms(t - o.started)
            )),
            None => broken.push(format!("outage {n}: nothing succeeded after the restart")),
        }
        for s in after
            .iter()
            .filter(|s| s.started >= o.started + SETTLED_AFTER)
        {
            if s.status != 200 {
                broken.push(format!(
                    "outage {n}: {} failed {} after the restart: {} {}",
                    s.what,
                    ms(s.started - o.started),
                    s.status,
                    s.body
                ));
            }
        }
    }

    // Every acknowledged write is there, once.
    let flows = list_all(&http, &format!("{}/flows", node.url), &admin)
        .await
        .unwrap_or_else(|e| {
            broken.push(e);
            Vec::new()
        });
    let mut by_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in &flows {
        by_key
            .entry(f["key"].as_str().unwrap_or_default())
            .or_default()
            .push(f["id"].as_str().unwrap_or_default());
    }
    let mut lost = 0;
    for (key, id) in &acked.flows {
        if by_key.get(key.as_str()).map(Vec::as_slice) != Some(&[id.as_str()][..]) {
            lost += 1;
            broken.push(format!(
                "acknowledged flow {key} ({id}) is stored as {:?}",
                by_key.get(key.as_str())
            ));
        }
    }
    let customer = common::customer_token("faults-customer");
    let instances = list_all(
        &http,
        &format!("{}/app-data-schema-instances", node.url),
        &customer,
    )
    .await
    .unwrap_or_else(|e| {
        broken.push(e);
        Vec::new()
    });
    for id in &acked.instances {
        let n = instances.iter().filter(|i| i["id"] == id.as_str()).count();
        if n != 1 {
            lost += 1;
            broken.push(format!("acknowledged instance {id} is stored {n} times"));
        }
    }

    let figures = json!({
        "binary": binary(),
        "outages": times.len(),
        "requests": samples.len(),
        "errorAnswers": errors.len(),
        "acknowledgedWrites": acked.flows.len() + acked.instances.len(),
        "acknowledgedButNotStoredOnce": lost,
        "firstErrorAfterStopMs": first_error_after.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "errorAnswerP50Ms": quantile(&errors, 0.5).as_secs_f64() * 1000.0,
        "errorAnswerP99Ms": quantile(&errors, 0.99).as_secs_f64() * 1000.0,
        "errorAnswerMaxMs": quantile(&errors, 1.0).as_secs_f64() * 1000.0,
        "slowestAnswerWhileDownMs": slowest_down.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "slowestAnswerOverlappingMs": slowest_overlapping.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "firstSuccessAfterStartMs": recovered_after.iter().map(|d| d.as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "stopTookMs": times.iter().map(|o| (o.stopped - o.stop_sent).as_secs_f64() * 1000.0).collect::<Vec<_>>(),
        "startTookMs": times.iter().map(|o| (o.started - o.start_sent).as_secs_f64() * 1000.0).collect::<Vec<_>>(),
    });
    eprintln!("faults figures postgres_outage: {figures}");
    let total = broken.len();
    broken.truncate(30);
    assert!(
        broken.is_empty(),
        "{total} broken (the first 30 shown):\n{}\nosmosis log:\n{}",
        broken.join("\n"),
        node.log_tail()
    );
    assert!(node.stop(), "osmosis drains and exits cleanly");
    drop(pg);
}

/// PostgreSQL restarted while no request was made: the pool's connections all died
/// idle, and the first requests afterwards must not be the ones to find out — each
/// idle connection is checked before use and replaced. (The background worker may
/// still have met the outage and opened the store's breaker; the test waits out
/// one probe interval so that it asks a closed or probing breaker.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_while_idle() {
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&pg.url(), dir.path(), &dir.path().join("osmosis.log")).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let admin = common::admin_token();
    let customer = common::customer_token("faults-customer");
    let burst = |round: usize| {
        let requests = (0..8).map(|i| {
            let url = node.url.clone();
            let (http, admin, customer) = (http.clone(), admin.clone(), customer.clone());
            async move {
                match i % 3 {
                    0 => {
                        timed(
                            &http,
                            "admin write",
                            "POST",
                            format!("{url}/flows"),
                            &admin,
                            Some(json!({"key": format!("r{round}-{i}")})),
                        )
                        .await
                    }
                    1 => {
                        timed(
                            &http,
                            "admin read",
                            "GET",
                            format!("{url}/flows"),
                            &admin,
                            None,
                        )
                        .await
                    }
                    _ => {
                        timed(
                            &http,
                            "customer read",
                            "GET",
                            format!("{url}/flows"),
                            &customer,
                            None,
                        )
                        .await
                    }
                }
            }
        });
        futures::future::join_all(requests)
    };
    // Several requests at once, so the pool holds several connections.
    for s in burst(0).await {
        assert_eq!(s.status, 200, "{}: {}", s.what, s.body);
    }
    tokio::task::block_in_place(|| {
        pg.stop_server();
        std::thread::sleep(Duration::from_millis(1500));
        pg.start_server();
        std::thread::sleep(2 * osmosis_store::PROBE_INTERVAL);
    });
    let first = timed(
        &http,
        "first read",
        "GET",
        format!("{}/flows", node.url),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        first.status,
        200,
        "the first request after the restart: {}\n{}",
        first.body,
        node.log_tail()
    );
    for s in burst(1).await {
        assert_eq!(
            s.status,
            200,
            "{} right after the restart: {}\n{}",
            s.what,
            s.body,
            node.log_tail()
        );
    }
    node.assert_alive();
}

/// The SQLSTATEs of an outage and of a full disk become the two store errors the
/// API answers 503 and 507 for (raised on a live server, which is the only way to
/// get the driver's own error values).
#[tokio::test]
async fn postgres_error_classes() {
    use osmosis_store::StoreError;
    let pg = PrivatePostgres::start();
    let pool = common::sqlx_pg::PgPoolOptions::new()
        .max_connections(1)
        .connect(&pg.url())
        .await
        .expect("the private server answers");
    let raise = |code: &str| {
        format!("DO $$ BEGIN RAISE EXCEPTION 'faults' USING ERRCODE = '{code}'; END $$")
    };
    for (code, unavailable, full) in [
        ("57P01", true, false),  // admin_shutdown
        ("57P03", true, false),  // cannot_connect_now
        ("08006", true, false),  // connection_failure
        ("53100", false, true),  // disk_full
        ("23505", false, false), // unique_violation
        ("22012", false, false), // division_by_zero
    ] {
        let err = common::sqlx_pg::query(&raise(code))
            .execute(&pool)
            .await
            .expect_err("raised");
        let err = StoreError::from(err);
        assert_eq!(err.is_unavailable(), unavailable, "{code}: {err:?}");
        assert_eq!(
            matches!(err, StoreError::DiskFull(_)),
            full,
            "{code}: {err:?}"
        );
    }
    pool.close().await;
    // And a server that is gone entirely.
    pg.stop_server();
    let err = common::sqlx_pg::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect(&pg.url())
        .await
        .expect_err("the server is stopped");
    assert!(StoreError::from(err).is_unavailable());
}
