//! `GET /metrics` (crates/api/src/metrics.rs): Prometheus text whose request
//! counters and latency histograms move with the traffic sent, labelled by
//! route template (never a path); on its own listener with `--metrics-listen`.

use std::collections::HashMap;

use crate::common::process::{free_port, Running};
use crate::common::*;

/// One sample of the exposition: its metric name and labels, and its value.
#[derive(Debug)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) value: f64,
}

/// Parses the Prometheus / OpenMetrics text format strictly enough that a
/// malformed line fails the test: `# TYPE|HELP|UNIT|EOF` comments, then samples
/// `name{label="value",…} value`, with metric names and label names as the
/// format allows, escaped label values, and a number (or `+Inf`/`NaN`).
fn parse(text: &str) -> Vec<Sample> {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut samples = Vec::new();
    let mut typed = std::collections::HashSet::new();
    let mut saw_eof = false;
    for line in text.lines() {
        assert!(!saw_eof, "a line after # EOF: {line}");
        if let Some(comment) = line.strip_prefix("# ") {
            let mut parts = comment.splitn(3, ' ');
            match parts.next() {
                Some("EOF") => saw_eof = true,
                Some("TYPE") => {
                    let name = parts.next().expect("a TYPE names its metric");
                    assert!(name_ok(name), "{line}");
                    let kind = parts.next().expect("a TYPE has a type");
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "stateset",
                            "unknown"
                        ]
                        .contains(&kind),
                        "{line}"
                    );
                    typed.insert(name.to_owned());
                }
                Some("HELP" | "UNIT") => {}
                other => panic!("an unknown comment {other:?}: {line}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.strip_suffix('}').expect("labels close")),
            None => (series, ""),
        };
        assert!(name_ok(name), "{line}");
        assert!(
            typed.iter().any(|t| name.starts_with(t.as_str())),
            "a sample before its TYPE: {line}"
        );
        let mut map = HashMap::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (label, after) = rest.split_once("=\"").expect("label=\"value\"");
            assert!(name_ok(label), "{line}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().expect("a label value closes") {
                    (_, '\\') => match chars.next().expect("an escape").1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        c => panic!("a bad escape \\{c}: {line}"),
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            map.insert(label.to_owned(), value);
            rest = after[end + 1..]
                .strip_prefix(',')
                .unwrap_or(&after[end + 1..]);
        }
        samples.push(Sample {
            name: name.to_owned(),
            labels: map,
            value,
        });
    }
    assert!(saw_eof, "OpenMetrics text ends with # EOF");
    samples
}

/// The value of the sample `name` whose labels include `labels`; 0 when none.
pub(crate) fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .find(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map_or(0.0, |s| s.value)
}

pub(crate) async fn scrape(url: &str) -> Vec<Sample> {
    let resp = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("scraped");
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    parse(&resp.text().await.unwrap())
}

#[tokio::test]
async fn request_metrics_move_with_the_traffic_by_route_template() {
    let s = Server::start().await;
    let admin = s.admin();
    let before = scrape(&s.url).await;
    let ok = [("method", "GET"), ("route", "/actions"), ("status", "200")];
    let missing = [
        ("method", "GET"),
        ("route", "/actions/{selector}"),
        ("status", "404"),
    ];
    for _ in 0..3 {
        let (status, _) = s.get("/actions", &admin).await;
        assert_eq!(status, 200);
    }
    let (status, _) = s.get("/actions/secret-looking-path-value", &admin).await;
    assert_eq!(status, 404);

    let after = scrape(&s.url).await;
    let total = "osmosis_http_requests_total";
    assert_eq!(value(&after, total, &ok) - value(&before, total, &ok), 3.0);
    assert_eq!(
        value(&after, total, &missing) - value(&before, total, &missing),
        1.0
    );
    let count = "osmosis_http_request_duration_seconds_count";
    let route = [("method", "GET"), ("route", "/actions")];
    assert_eq!(
        value(&after, count, &route) - value(&before, count, &route),
        3.0
    );
    let inf = [("method", "GET"), ("route", "/actions"), ("le", "+Inf")];
    assert_eq!(
        value(&after, "osmosis_http_request_duration_seconds_bucket", &inf),
        value(&after, count, &route),
        "the +Inf bucket holds every observation"
    );
    assert_eq!(
        value(
            &after,
            "osmosis_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    // Labels name route templates, never a path a client sent.
    assert!(after
        .iter()
        .all(|s| s.labels.values().all(|v| !v.contains("secret-looking"))));
    s.finish().await;
}

#[tokio::test]
async fn the_job_queue_and_the_pool_are_read_at_each_scrape() {
    // The in-process server runs no job worker: a due job stays waiting.
    let s = Server::start().await;
    let now = now() * 1000;
    let job = osmosis_store::Job {
        id: format!("job_{}", osmosis_model::ids::object_id()),
        workspace_id: s.workspace_id().await,
        kind: "metrics-test".into(),
        dedupe_key: "one".into(),
        payload: serde_json::json!({}),
        run_at: now - 60_000,
        attempts: 0,
        last_error: None,
    };
    let kind = [("kind", "metrics-test")];
    let before = scrape(&s.url).await;
    assert_eq!(value(&before, "osmosis_jobs_waiting", &kind), 0.0);
    s.stores.jobs.schedule_job(&job, now).await.unwrap();
    let after = scrape(&s.url).await;
    assert_eq!(value(&after, "osmosis_jobs_waiting", &kind), 1.0);
    assert_eq!(value(&after, "osmosis_jobs_running", &kind), 0.0);
    let waited = value(&after, "osmosis_jobs_oldest_wait_seconds", &kind);
    assert!((59.0..3600.0).contains(&waited), "{waited}");
    assert!(value(&after, "osmosis_db_pool_max_connections", &[]) >= 1.0);
    let in_use = value(
        &after,
        "osmosis_db_pool_connections",
        &[("state", "in_use")],
    );
    let idle = value(&after, "osmosis_db_pool_connections", &[("state", "idle")]);
    assert!(in_use + idle >= 1.0, "the pool has a connection open");
    // The flow run queue is read too (store tests check its counts).
    for name in [
        "osmosis_flow_runs_queued",
        "osmosis_flow_runs_running",
        "osmosis_flow_runs_oldest_queued_seconds",
    ] {
        assert!(after.iter().any(|x| x.name == name), "{name} is exposed");
    }
    // Done, the job leaves the gauges.
    let claimed = s
        .stores
        .jobs
        .claim_jobs(
            "test-node",
            osmosis_store::Lease {
                now_ms: now,
                duration_ms: 60_000,
            },
            10,
        )
        .await
        .unwrap();
    let running = scrape(&s.url).await;
    assert_eq!(value(&running, "osmosis_jobs_running", &kind), 1.0);
    assert_eq!(value(&running, "osmosis_jobs_waiting", &kind), 0.0);
    for job in &claimed {
        s.stores.jobs.finish_job(job, "test-node").await.unwrap();
    }
    let done = scrape(&s.url).await;
    assert!(done
        .iter()
        .all(|x| x.labels.get("kind").map(String::as_str) != Some("metrics-test")));
    s.finish().await;
}

#[tokio::test]
async fn metrics_listen_moves_metrics_off_the_api_listener() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/osmosis.db", dir.path().display());
    let (port, metrics_port) = (free_port(), free_port());
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let mut server = Running::start(
        &db,
        port,
        &[
            (
                "OSMOSIS_DATA_DIR",
                dir.path().join("data").to_str().unwrap(),
            ),
            ("OSMOSIS_METRICS_LISTEN", metrics_addr.as_str()),
        ],
    );
    server.wait_ready().await;
    let api = reqwest::get(format!("{}/metrics", server.url))
        .await
        .unwrap();
    assert_eq!(api.status(), 404, "the API's listener serves no metrics");
    let samples = scrape(&format!("http://{metrics_addr}")).await;
    // The API's traffic is counted there: the readiness probes above.
    let health = [("route", "/health"), ("status", "200")];
    assert!(value(&samples, "osmosis_http_requests_total", &health) >= 1.0);
    let (status, _, err) = server.terminate();
    assert!(status.success(), "{err}");
}
