//! Flow nodes end to end (api-surface §6.1, semantics §4.2): every node type runs
//! against the mock CRM — triggers started by key, the control nodes, code and
//! HTTP nodes (deprecated aliases included), the data nodes through a data source
//! and a field mapping applied both ways, the data-link nodes — and the runtime
//! data model: inputs keyed by upstream node, run variables, link filters, fan-out
//! with consistent `upstreamRuns`/`downstreamRuns`, joins, `onError` and per-node
//! `concurrency`.
//!
//! The helpers here (a [`Probe`] listener the flows call, starting runs and
//! reading their node runs) are shared with `flow_runs_api` and `flow_limits`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{any, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;

pub(crate) fn var(p: &str) -> Value {
    json!({ "$var": p })
}

// ---------------------------------------------------------------------------
// The probe: a tiny HTTP listener on loopback the flows' HTTP nodes call.
// ---------------------------------------------------------------------------

/// What the probe saw and holds.
struct ProbeState {
    /// Every request to `/rec/…`, `/slow` and `/gate`: `{method, path, query, headers, body}`.
    requests: Mutex<Vec<Value>>,
    /// Bodies POSTed to `/hook` (workspace webhooks).
    hooks: Mutex<Vec<Value>>,
    /// Requests in progress per tag (`*`: all of them).
    inflight: Mutex<BTreeMap<String, usize>>,
    /// The most requests in progress at once per tag.
    max: Mutex<BTreeMap<String, usize>>,
    /// Tags whose `n` requests met at `/slow`: their requests pass from then on.
    met: Mutex<std::collections::BTreeSet<String>>,
    /// `true` once the gate is open.
    gate: tokio::sync::watch::Sender<bool>,
    /// How many requests reached the gate.
    at_gate: AtomicUsize,
}

/// A listener on loopback that flows call:
/// - `ANY /rec/{*rest}` records the request and answers it as JSON
///   `{method, path, query, headers, body}`;
/// - `ANY /slow?tag=&ms=` counts requests in progress per `tag`, sleeps `ms`
///   (default 50), answers `{tag}`; with `n=` it instead holds each request until
///   `n` requests of its tag were in progress at once (at most 5 s; from then on
///   the tag's requests pass), so requests that must overlap meet there whatever
///   the timing;
/// - `ANY /gate?tag=` holds requests until [`Probe::open_gate`] (at most 20 s);
/// - `POST /hook` records a workspace webhook;
/// - `ANY /fail` answers 500.
#[derive(Clone)]
pub(crate) struct Probe {
    pub url: String,
    st: Arc<ProbeState>,
}

/// Counts one request in progress under its tag until dropped.
struct InFlight {
    st: Arc<ProbeState>,
    tag: String,
}

impl InFlight {
    fn enter(st: &Arc<ProbeState>, tag: &str) -> InFlight {
        let mut inflight = st.inflight.lock().unwrap();
        let mut max = st.max.lock().unwrap();
        for t in [tag, "*"] {
            let n = inflight.entry(t.to_owned()).or_default();
            *n += 1;
            let m = max.entry(t.to_owned()).or_default();
            *m = (*m).max(*n);
        }
        InFlight {
            st: Arc::clone(st),
            tag: tag.to_owned(),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut inflight = self.st.inflight.lock().unwrap();
        for t in [self.tag.as_str(), "*"] {
            if let Some(n) = inflight.get_mut(t) {
                *n -= 1;
            }
        }
    }
}

type Q = Query<BTreeMap<String, String>>;

fn seen(
    method: &Method,
    uri: &Uri,
    q: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &str,
) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
    };
    json!({"method": method.as_str(), "path": uri.path(), "query": q, "headers": headers, "body": body})
}

async fn rec(
    State(st): State<Arc<ProbeState>>,
    method: Method,
    uri: Uri,
    Query(q): Q,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    let request = seen(&method, &uri, &q, &headers, &body);
    st.requests.lock().unwrap().push(request.clone());
    Json(request)
}

async fn slow(
    State(st): State<Arc<ProbeState>>,
    method: Method,
    uri: Uri,
    Query(q): Q,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    st.requests
        .lock()
        .unwrap()
        .push(seen(&method, &uri, &q, &headers, &body));
    let tag = q.get("tag").cloned().unwrap_or_default();
    let _in = InFlight::enter(&st, &tag);
    match q.get("n").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => {
            let until = tokio::time::Instant::now() + Duration::from_secs(5);
            while tokio::time::Instant::now() < until {
                let here = st.inflight.lock().unwrap().get(&tag).copied().unwrap_or(0);
                let passed = {
                    let mut met = st.met.lock().unwrap();
                    if here >= n {
                        met.insert(tag.clone());
                    }
                    met.contains(&tag)
                };
                if passed {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        None => {
            let ms = q.get("ms").and_then(|m| m.parse().ok()).unwrap_or(50);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    Json(json!({ "tag": tag }))
}

async fn gate(
    State(st): State<Arc<ProbeState>>,
    method: Method,
    uri: Uri,
    Query(q): Q,
    headers: HeaderMap,
    body: String,
) -> Json<Value> {
    st.requests
        .lock()
        .unwrap()
        .push(seen(&method, &uri, &q, &headers, &body));
    let tag = q.get("tag").cloned().unwrap_or_default();
    let _in = InFlight::enter(&st, &tag);
    let mut open = st.gate.subscribe();
    st.at_gate.fetch_add(1, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(20), open.wait_for(|o| *o)).await;
    Json(json!({ "tag": tag, "passed": true }))
}

async fn hook(State(st): State<Arc<ProbeState>>, Json(body): Json<Value>) -> Json<Value> {
    st.hooks.lock().unwrap().push(body);
    Json(json!({}))
}

async fn fail() -> (axum::http::StatusCode, Json<Value>) {
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"message": "the probe fails as asked"})),
    )
}

impl Probe {
    pub(crate) async fn start() -> Probe {
        let st = Arc::new(ProbeState {
            requests: Mutex::default(),
            hooks: Mutex::default(),
            inflight: Mutex::default(),
            max: Mutex::default(),
            met: Mutex::default(),
            gate: tokio::sync::watch::channel(false).0,
            at_gate: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/rec/{*rest}", any(rec))
            .route("/slow", any(slow))
            .route("/gate", any(gate))
            .route("/hook", post(hook))
            .route("/fail", any(fail))
            .with_state(Arc::clone(&st));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("the probe runs") });
        Probe { url, st }
    }

    /// The most requests of `tag` that were in progress at once.
    pub(crate) fn max_inflight(&self, tag: &str) -> usize {
        self.st.max.lock().unwrap().get(tag).copied().unwrap_or(0)
    }

    pub(crate) fn hooks(&self) -> Vec<Value> {
        self.st.hooks.lock().unwrap().clone()
    }

    /// Lets every request held at the gate (and every later one) through.
    pub(crate) fn open_gate(&self) {
        self.st.gate.send_replace(true);
    }

    /// Waits until `n` requests in all reached the gate.
    pub(crate) async fn wait_at_gate(&self, n: usize) {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        while self.st.at_gate.load(Ordering::SeqCst) < n {
            assert!(
                std::time::Instant::now() < until,
                "{n} requests never reached the gate"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A `custom-http-request` node config that GETs `path` (with `query`).
    pub(crate) fn request(&self, path: &str, query: Value) -> Value {
        json!({"request": {"method": "GET", "url": format!("{}{path}", self.url), "query": query}})
    }
}

// ---------------------------------------------------------------------------
// Flows and runs.
// ---------------------------------------------------------------------------

/// Creates the integration-level flow `key` with `nodes`.
pub(crate) async fn flow(s: &Server, integration_id: &str, key: &str, nodes: Value) -> Value {
    s.create(
        "flows",
        json!({"key": key, "name": key, "integrationId": integration_id, "nodes": nodes}),
    )
    .await
}

/// The id of `conn`'s instance of flow `key` (made when missing), as `token`.
pub(crate) async fn instance_id(s: &Server, token: &str, conn: &str, key: &str) -> String {
    let (status, instance) = s
        .call(
            "PUT",
            &format!("/connections/{conn}/flows/{key}"),
            Some(token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{instance}");
    instance["id"].as_str().expect("an instance id").to_owned()
}

/// Starts flow `key` on `conn` as `token` with `body`; the queued run.
pub(crate) async fn start(s: &Server, token: &str, conn: &str, key: &str, body: Value) -> Value {
    let (status, run) = s
        .post(&format!("/connections/{conn}/flows/{key}/run"), token, body)
        .await;
    assert_eq!(status, 200, "start {key}: {run}");
    assert!(run["id"].is_string(), "{run}");
    run
}

/// Waits for run `id` to end (failing the test when it does not); the run.
pub(crate) async fn finished(s: &Server, token: &str, id: &str) -> Value {
    let (status, run) = s.get(&format!("/flow-runs/{id}?wait=20"), token).await;
    assert_eq!(status, 200, "{run}");
    assert!(
        ["completed", "failed", "stopped"].contains(&run["state"].as_str().unwrap_or("")),
        "the run did not end: {run}"
    );
    run
}

/// Starts flow `key` on `conn` with `input` and waits for it to end.
pub(crate) async fn run_flow(
    s: &Server,
    token: &str,
    conn: &str,
    key: &str,
    input: Value,
) -> Value {
    let run = start(s, token, conn, key, json!({ "input": input })).await;
    finished(s, token, run["id"].as_str().unwrap()).await
}

/// Every node run of `node` in run `id`, whole (outputs with their data), oldest first.
pub(crate) async fn node_runs(s: &Server, token: &str, id: &str, node: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/flow-runs/{id}/nodes/{node}/runs?limit=1000"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let mut runs = Vec::new();
    for summary in page["items"].as_array().expect("items") {
        let run_id = summary["id"].as_str().expect("a node run id");
        let (status, one) = s
            .get(
                &format!("/flow-runs/{id}/nodes/{node}/runs/{run_id}"),
                token,
            )
            .await;
        assert_eq!(status, 200, "{one}");
        runs.push(one);
    }
    runs
}

/// The outputs of `node` in run `id`, parsed, in order.
pub(crate) async fn outputs(s: &Server, token: &str, id: &str, node: &str) -> Vec<Value> {
    let (status, page) = s
        .get(
            &format!("/flow-runs/{id}/nodes/{node}/outputs?limit=1000"),
            token,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            serde_json::from_str(o["data"].as_str().expect("data as text")).expect("JSON data")
        })
        .collect()
}

/// The one output of `node` in run `id`.
pub(crate) async fn output(s: &Server, token: &str, id: &str, node: &str) -> Value {
    let mut all = outputs(s, token, id, node).await;
    assert_eq!(all.len(), 1, "{node}: {all:?}");
    all.remove(0)
}

/// The run's id.
pub(crate) fn id_of(run: &Value) -> String {
    run["id"].as_str().expect("a run id").to_owned()
}

#[track_caller]
pub(crate) fn assert_completed(run: &Value) {
    assert_eq!(run["state"], "completed", "{run}");
}

/// The counts of `node` on the run record: `(runs, erroredRuns, outputs)`.
fn counts(run: &Value, node: &str) -> (u64, u64, u64) {
    let n = &run["nodes"][node];
    (
        n["runs"].as_u64().unwrap_or(0),
        n["erroredRuns"].as_u64().unwrap_or(0),
        n["outputs"].as_u64().unwrap_or(0),
    )
}

// ---------------------------------------------------------------------------
// Triggers.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn flow_api_trigger_checks_its_input_schema_and_refused_input_makes_no_run() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    flow(
        &s,
        &f.integration_id,
        "typed",
        json!({
            "start": {"type": "api-trigger",
                      "config": {"inputSchema": {"type": "object",
                          "properties": {"count": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}}},
                          "required": ["count"]}},
                      "links": [{"key": "echo"}]},
            "echo": {"type": "transform-data", "config": {"output": {"count": var("$.input.start.count")}}}
        }),
    )
    .await;
    let instance = instance_id(&s, &f.alice, &f.alice_conn, "typed").await;
    let run_path = format!("/connections/{}/flows/typed/run", f.alice_conn);
    for (input, field) in [
        (json!({"tags": ["a"]}), "count"),
        (json!({"count": {"not": "a number"}}), "count"),
        (json!({"count": 1, "tags": {"not": "an array"}}), "tags"),
    ] {
        for (path, body) in [
            (run_path.clone(), json!({ "input": input })),
            (
                "/flow-runs".to_owned(),
                json!({"flowInstanceId": instance, "input": input}),
            ),
            (
                format!("/flow-instances/{instance}/run"),
                json!({ "input": input }),
            ),
        ] {
            let r = s.post(&path, &f.alice, body).await;
            assert_eq!(r.0, 400, "{path} {input}: {}", r.1);
            let named = format!("{}{}", r.1["message"], r.1["data"]);
            assert!(
                named.contains(field),
                "{path} {input}: names `{field}`: {}",
                r.1
            );
        }
    }
    let (_, none) = s.get("/flow-runs", &s.admin()).await;
    assert_eq!(
        none["items"],
        json!([]),
        "refused inputs made no run: {none}"
    );

    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "typed",
        json!({"count": 2, "tags": ["x"]}),
    )
    .await;
    assert_completed(&run);
    assert_eq!(run["startNodeKey"], "start");
    assert_eq!(
        output(&s, &f.alice, &id_of(&run), "start").await["count"],
        2
    );
    assert_eq!(
        output(&s, &f.alice, &id_of(&run), "echo").await,
        json!({"count": 2})
    );
    s.finish().await;
}

#[tokio::test]
async fn flow_other_triggers_start_by_key_with_the_input_as_their_output() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let triggers = [
        "app-event-trigger",
        "data-record-created-trigger",
        "data-record-updated-trigger",
        "data-record-deleted-trigger",
        "connector-event-trigger",
    ];
    let mut nodes = serde_json::Map::new();
    nodes.insert(
        "api".into(),
        json!({"type": "api-trigger", "links": [{"key": "after-api"}]}),
    );
    nodes.insert(
        "after-api".into(),
        json!({"type": "transform-data", "config": {"output": {"from": "api"}}}),
    );
    for t in triggers {
        nodes.insert(
            t.into(),
            json!({"type": t, "config": {"dataSource": {"collectionKey": "contacts"}}, "links": [{"key": format!("after-{t}")}]}),
        );
        nodes.insert(
            format!("after-{t}"),
            json!({"type": "transform-data",
                   "config": {"output": {"from": t, "id": var(&format!("$.input.{t}.record.id"))}}}),
        );
    }
    flow(&s, &f.integration_id, "many", Value::Object(nodes)).await;
    for (i, t) in triggers.iter().enumerate() {
        // `startNodeKey`, and its deprecated name `nodeKey`.
        let field = if i % 2 == 0 {
            "startNodeKey"
        } else {
            "nodeKey"
        };
        let mut body = json!({"input": {"record": {"id": format!("r{i}")}}});
        body[field] = json!(t);
        let run = start(&s, &f.alice, &f.alice_conn, "many", body).await;
        let run = finished(&s, &f.alice, &id_of(&run)).await;
        assert_completed(&run);
        assert_eq!(run["startNodeKey"], *t, "{run}");
        assert_eq!(
            run["input"],
            json!({"record": {"id": format!("r{i}")}}),
            "{run}"
        );
        let keys: Vec<&String> = run["nodes"].as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 2, "only that trigger's branch ran: {run}");
        assert_eq!(
            output(&s, &f.alice, &id_of(&run), &format!("after-{t}")).await,
            json!({"from": t, "id": format!("r{i}")})
        );
    }
    // No key: the only api-trigger.
    let run = run_flow(&s, &f.alice, &f.alice_conn, "many", json!({})).await;
    assert_completed(&run);
    assert_eq!(run["startNodeKey"], "api");
    // A node that is not a trigger, or no node at all, is refused by name.
    for key in ["after-api", "nowhere"] {
        let r = s
            .post(
                &format!("/connections/{}/flows/many/run", f.alice_conn),
                &f.alice,
                json!({"startNodeKey": key}),
            )
            .await;
        assert_eq!(r.0, 400, "{key}: {}", r.1);
        assert_eq!(r.1["data"]["field"], "startNodeKey", "{}", r.1);
    }
    s.finish().await;
}

// ---------------------------------------------------------------------------
// Control nodes.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn flow_control_nodes_transform_filter_and_loop() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    flow(
        &s,
        &f.integration_id,
        "control",
        json!({
            "start": {"type": "api-trigger",
                      "links": [{"key": "pass"}, {"key": "block"}, {"key": "loop"}, {"key": "old-loop"}]},
            "pass": {"type": "filter", "config": {"filter": {"$eval": var("$.input.start.go"), "is": true}},
                     "links": [{"key": "after-pass"}]},
            "after-pass": {"type": "transform-data", "config": {"output": {"go": var("$.input.pass.start.go")}}},
            "block": {"type": "filter", "config": {"filter": {"$eval": var("$.input.start.go"), "is": false}},
                      "links": [{"key": "after-block"}]},
            "after-block": {"type": "transform-data", "config": {"output": {"never": true}}},
            // The loop: its body runs per item; its output is one array.
            "loop": {"type": "for-each-v2", "config": {"items": var("$.input.start.items"), "rootNodeKey": "body"},
                     "links": [{"key": "after-loop"}]},
            "body": {"type": "transform-data",
                     "config": {"output": {"item": var("$.input.loop.item"), "index": var("$.input.loop.index"),
                                           "go": var("$.input.start.go")}},
                     "links": [{"key": "keep"}]},
            "keep": {"type": "filter", "config": {"filter": {"$eval": var("$.input.body.item"), "isNot": "skip"}},
                     "links": [{"key": "label"}]},
            "label": {"type": "transform-data",
                      "config": {"output": {"label": var("$.input.body.item"), "index": var("$.input.loop.index")}}},
            "after-loop": {"type": "transform-data", "config": {"output": {"all": var("$.input.loop")}}},
            // The deprecated loop: one output per item.
            "old-loop": {"type": "for-each", "config": {"items": var("$.input.start.items")},
                         "links": [{"key": "each"}]},
            "each": {"type": "transform-data", "config": {"output": {"item": var("$.input.old-loop")}}}
        }),
    )
    .await;
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "control",
        json!({"go": true, "items": ["a", "skip", "c"]}),
    )
    .await;
    assert_completed(&run);
    let id = id_of(&run);
    // filter: the input passes whole when the condition holds, else nothing.
    assert_eq!(
        output(&s, &f.alice, &id, "after-pass").await,
        json!({"go": true})
    );
    assert_eq!(counts(&run, "block"), (1, 0, 0), "{run}");
    assert!(run["nodes"].get("after-block").is_none(), "{run}");
    // for-each-v2: one body run per item, in order; the items a filter stopped add
    // nothing to the loop's one output.
    assert_eq!(counts(&run, "body"), (3, 0, 3), "{run}");
    assert_eq!(counts(&run, "label"), (2, 0, 2), "{run}");
    let looped = json!([{"label": "a", "index": 0}, {"label": "c", "index": 2}]);
    assert_eq!(output(&s, &f.alice, &id, "loop").await, looped);
    assert_eq!(
        output(&s, &f.alice, &id, "after-loop").await,
        json!({ "all": looped })
    );
    let bodies = outputs(&s, &f.alice, &id, "body").await;
    assert_eq!(
        bodies,
        vec![
            json!({"item": "a", "index": 0, "go": true}),
            json!({"item": "skip", "index": 1, "go": true}),
            json!({"item": "c", "index": 2, "go": true}),
        ]
    );
    // for-each: each item is an output of its own.
    assert_eq!(counts(&run, "old-loop"), (1, 0, 3), "{run}");
    let mut each = outputs(&s, &f.alice, &id, "each").await;
    each.sort_by_key(|o| o["item"].to_string());
    assert_eq!(
        each,
        vec![
            json!({"item": "a"}),
            json!({"item": "c"}),
            json!({"item": "skip"})
        ]
    );

    // The filter the other way round.
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "control",
        json!({"go": false, "items": []}),
    )
    .await;
    assert_completed(&run);
    assert!(run["nodes"].get("after-pass").is_none(), "{run}");
    assert_eq!(counts(&run, "after-block"), (1, 0, 1), "{run}");
    assert_eq!(output(&s, &f.alice, &id_of(&run), "loop").await, json!([]));
    s.finish().await;
}

// ---------------------------------------------------------------------------
// Code and HTTP nodes.
// ---------------------------------------------------------------------------

/// The claims of a token the workspace signed.
fn claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(WS_SECRET.as_bytes()),
        &validation,
    )
    .expect("a token the workspace signed")
    .claims
}

#[tokio::test]
async fn flow_code_and_http_nodes_call_out_through_the_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let probe = Probe::start().await;
    s.create(
        "actions",
        json!({"key": "double", "name": "Double", "integrationId": f.integration_id, "type": "run-javascript",
               "config": {"code": "export default async ({input}) => ({n: input.n * 2})"}}),
    )
    .await;
    let p = &probe.url;
    let nodes = json!({
        "start": {"type": "api-trigger", "links": [
            {"key": "js"}, {"key": "act"}, {"key": "note"}, {"key": "mine"}, {"key": "ext"}, {"key": "http"},
            {"key": "old-api"}, {"key": "old-custom"}, {"key": "old-http"}]},
        "js": {"type": "run-javascript", "config": {"code":
            "export default async ({input, externalApiClient}) => { const me = await externalApiClient.get('/me'); return {sum: input.start.a + input.start.b, me: me.name} }"}},
        "act": {"type": "run-action", "config": {"action": {"key": "double"}, "input": {"n": var("$.input.start.a")}}},
        "note": {"type": "integration-specific-operation",
                 "config": {"operationKey": "create-note", "input": {"text": var("$.input.start.text")}}},
        "mine": {"type": "api-request-to-your-app",
                 "config": {"request": {"method": "POST", "uri": format!("{p}/rec/mine"), "data": {"a": var("$.input.start.a")}}}},
        "ext": {"type": "api-request-to-external-app",
                "config": {"request": {"method": "POST", "path": "/echo/ext", "data": {"b": var("$.input.start.b")}}}},
        "http": {"type": "custom-http-request",
                 "config": {"request": {"method": "PUT", "url": format!("{p}/rec/http"), "headers": {"x-test": "1"},
                                        "query": {"q": var("$.input.start.text")}, "data": {"c": 3}}}},
        // Deprecated names: api-request is custom-http-request, custom-api-request
        // is api-request-to-external-app, http-request is api-request-to-your-app.
        "old-api": {"type": "api-request", "config": {"request": {"url": format!("{p}/rec/old-api")}}},
        "old-custom": {"type": "custom-api-request", "config": {"request": {"path": "/echo/old-custom"}}},
        "old-http": {"type": "http-request", "config": {"request": {"uri": format!("{p}/rec/old-http")}}}
    });
    flow(&s, &f.integration_id, "calls", nodes).await;
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "calls",
        json!({"a": 20, "b": 22, "text": "hi"}),
    )
    .await;
    assert_completed(&run);
    let id = id_of(&run);
    let out = |node: &'static str| {
        let (s, alice, id) = (&s, &f.alice, &id);
        async move { output(s, alice, id, node).await }
    };
    assert_eq!(out("js").await, json!({"sum": 42, "me": "Ada Admin"}));
    assert_eq!(out("act").await, json!({"n": 40}));
    let note = out("note").await;
    assert_eq!(
        (&note["path"], &note["body"]),
        (&json!("/echo/notes"), &json!({"text": "hi"})),
        "{note}"
    );
    let ext = out("ext").await;
    assert_eq!(
        (&ext["path"], &ext["body"]),
        (&json!("/echo/ext"), &json!({"b": 22})),
        "{ext}"
    );
    assert_eq!(
        ext["headers"]["x-api-key"], CRM_KEY,
        "through the connection: {ext}"
    );
    assert_eq!(out("old-custom").await["path"], "/echo/old-custom");

    // To your app: as the connection's customer, with a token the workspace signed.
    for (node, path) in [("mine", "/rec/mine"), ("old-http", "/rec/old-http")] {
        let seen = out(node).await;
        assert_eq!(seen["path"], path, "{seen}");
        let token = seen["headers"]["x-membrane-token"]
            .as_str()
            .expect("a token");
        assert_eq!(
            seen["headers"]["authorization"],
            format!("Bearer {token}"),
            "{seen}"
        );
        let c = claims(token);
        assert_eq!(
            (&c["iss"], &c["sub"]),
            (&json!(WS_KEY), &json!("alice")),
            "{c}"
        );
    }
    assert_eq!(out("mine").await["body"], json!({"a": 20}));
    // Any URL: as configured, with no token of anyone's.
    let http = out("http").await;
    assert_eq!(
        (
            &http["method"],
            &http["query"],
            &http["body"],
            &http["headers"]["x-test"]
        ),
        (
            &json!("PUT"),
            &json!({"q": "hi"}),
            &json!({"c": 3}),
            &json!("1")
        ),
        "{http}"
    );
    for seen in [&http, &out("old-api").await] {
        assert!(seen["headers"].get("authorization").is_none(), "{seen}");
        assert!(seen["headers"].get("x-membrane-token").is_none(), "{seen}");
    }
    // A node run that called out logs its calls.
    let note_run = &node_runs(&s, &f.alice, &id, "ext").await[0];
    assert_eq!(note_run["logs"][0]["type"], "api-request", "{note_run}");
    // run-action runs are logged as every action run is.
    let (status, logs) = s.get("/action-run-logs", &f.alice).await;
    assert_eq!(status, 200, "{logs}");
    let items = logs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{logs}");
    assert_eq!(
        (&items[0]["status"], &items[0]["connectionId"]),
        (&json!("success"), &json!(f.alice_conn)),
        "{logs}"
    );
    s.finish().await;
}

// ---------------------------------------------------------------------------
// Data nodes.
// ---------------------------------------------------------------------------

/// A data source `people` on the CRM's contacts and a field mapping `people-map`:
/// import `{mail, tier}`, export `{email, firstName, lastName}` from `{mail, given, family}`.
async fn people(s: &Server) {
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "collectionKey": "contacts"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map", "dataSourceKey": "people", "direction": "both",
               "importValue": {"mail": var("$.email"), "tier": var("$.tier")},
               "exportValue": {"email": var("$.mail"), "firstName": var("$.given"), "lastName": var("$.family")}}),
    )
    .await;
}

/// A data node's config on `people` through `people-map`, with `extra`.
fn on_people(extra: Value) -> Value {
    let mut config =
        json!({"dataSource": {"key": "people"}, "fieldMapping": {"key": "people-map"}});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Contact `i` as `people-map` imports it.
fn imported(i: usize) -> Value {
    let c = seed_contact(i);
    json!({"mail": c["email"], "tier": c["custom"]["tier"]})
}

#[tokio::test]
async fn flow_data_nodes_read_contacts_through_the_import_mapping() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    people(&s).await;
    flow(
        &s,
        &f.integration_id,
        "read",
        json!({
            "start": {"type": "api-trigger",
                      "links": [{"key": "list"}, {"key": "by-id"}, {"key": "lookup"}, {"key": "search"}, {"key": "old-list"}]},
            "list": {"type": "list-data-records", "config": on_people(json!({}))},
            "old-list": {"type": "find-data-records", "config": on_people(json!({}))},
            "by-id": {"type": "find-data-record-by-id", "config": on_people(json!({"id": var("$.input.start.id")}))},
            "lookup": {"type": "lookup-data-record",
                       "config": on_people(json!({"query": {"email": var("$.input.start.email")}}))},
            "search": {"type": "search-data-records", "config": on_people(json!({"query": var("$.input.start.q")}))}
        }),
    )
    .await;
    let third = seed_contact(3);
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "read",
        json!({"id": "2", "email": third["email"], "q": seed_contact(1)["last_name"]}),
    )
    .await;
    assert_completed(&run);
    let id = id_of(&run);
    // A list: one output per record, each mapped.
    for node in ["list", "old-list"] {
        let records = outputs(&s, &f.alice, &id, node).await;
        assert_eq!(records.len(), 3, "{node}: {records:?}");
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r["id"], (i + 1).to_string(), "{r}");
            assert_eq!(r["fields"], imported(i + 1), "{node}: {r}");
        }
        assert_eq!(counts(&run, node), (1, 0, 3), "{run}");
    }
    let by_id = output(&s, &f.alice, &id, "by-id").await;
    assert_eq!(
        (&by_id["id"], &by_id["fields"]),
        (&json!("2"), &imported(2)),
        "{by_id}"
    );
    let lookup = output(&s, &f.alice, &id, "lookup").await;
    assert_eq!(
        (&lookup["id"], &lookup["fields"]),
        (&json!("3"), &imported(3)),
        "{lookup}"
    );
    let found = outputs(&s, &f.alice, &id, "search").await;
    let first = found
        .iter()
        .find(|r| r["id"] == "1")
        .expect("contact 1 found");
    assert_eq!(first["fields"], imported(1), "{found:?}");
    s.finish().await;
}

#[tokio::test]
async fn flow_data_nodes_write_contacts_through_the_export_mapping() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    people(&s).await;
    flow(
        &s,
        &f.integration_id,
        "write",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "create"}]},
            "create": {"type": "create-data-record",
                       "config": on_people(json!({"fields": {"mail": var("$.input.start.mail"), "given": "Ann", "family": "Lee"}})),
                       "links": [{"key": "update"}]},
            "update": {"type": "update-data-record",
                       "config": on_people(json!({"id": var("$.input.create.id"), "fields": {"given": "Anna"}})),
                       "links": [{"key": "find"}]},
            "find": {"type": "find-data-record-by-id", "config": on_people(json!({"id": var("$.input.create.id")})),
                     "links": [{"key": "delete"}]},
            "delete": {"type": "delete-data-record", "config": on_people(json!({"id": var("$.input.create.id")})),
                       "links": [{"key": "find-or-create"}]},
            "find-or-create": {"type": "find-or-create-data-record",
                               "config": on_people(json!({"query": {"email": var("$.input.start.existing")},
                                                          "fields": {"mail": var("$.input.start.existing")}}))}
        }),
    )
    .await;
    let existing = seed_contact(1)["email"].clone();
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "write",
        json!({"mail": "ann@x.io", "existing": existing}),
    )
    .await;
    assert_completed(&run);
    let id = id_of(&run);
    let made = output(&s, &f.alice, &id, "create").await["id"]
        .as_str()
        .expect("the new contact's id")
        .to_owned();
    // Export: the app's fields mapped to the collection's, then to the API's.
    let posted = &f
        .crm
        .requests_to("/contacts")
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body;
    assert_eq!(
        (
            &posted["email"],
            &posted["first_name"],
            &posted["last_name"]
        ),
        (&json!("ann@x.io"), &json!("Ann"), &json!("Lee")),
        "{posted}"
    );
    let patched = &f
        .crm
        .requests_to("/contacts/")
        .into_iter()
        .find(|r| r.method == "PATCH")
        .unwrap()
        .body;
    assert_eq!(patched["first_name"], "Anna", "{patched}");
    assert!(
        patched.get("email").is_none(),
        "only the mapped fields given: {patched}"
    );
    assert_eq!(output(&s, &f.alice, &id, "update").await["id"], made);
    // Import on the way back.
    let found = output(&s, &f.alice, &id, "find").await;
    assert_eq!(
        (&found["id"], &found["fields"]),
        (&json!(made), &json!({"mail": "ann@x.io"})),
        "{found}"
    );
    assert_eq!(output(&s, &f.alice, &id, "delete").await, json!({}));
    assert!(f.crm.contact(&made).is_none(), "deleted");
    assert_eq!(
        output(&s, &f.alice, &id, "find-or-create").await,
        json!({"id": "1", "created": false})
    );
    let run = run_flow(
        &s,
        &f.alice,
        &f.alice_conn,
        "write",
        json!({"mail": "bo@x.io", "existing": "fresh@x.io"}),
    )
    .await;
    assert_completed(&run);
    let fresh = output(&s, &f.alice, &id_of(&run), "find-or-create").await;
    assert_eq!(fresh["created"], true, "{fresh}");
    let stored = f
        .crm
        .contact(fresh["id"].as_str().unwrap())
        .expect("created");
    assert_eq!(stored["email"], "fresh@x.io", "{stored}");
    s.finish().await;
}

#[tokio::test]
async fn flow_data_link_nodes_create_find_and_delete_links() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    s.create(
        "data-link-tables",
        json!({"key": "contact-links", "name": "Contact links"}),
    )
    .await;
    let table = json!({"key": "contact-links"});
    let ids = json!({"appRecordId": var("$.input.start.app"), "externalRecordId": var("$.input.start.ext")});
    let with = |extra: Value| {
        let mut c = ids.clone();
        c["dataLinkTable"] = table.clone();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    flow(
        &s,
        &f.integration_id,
        "link",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "make"}]},
            "make": {"type": "create-data-link", "config": with(json!({"direction": "export"})), "links": [{"key": "found"}]},
            "found": {"type": "find-data-link",
                      "config": {"dataLinkTable": table, "direction": "export", "appRecordId": var("$.input.start.app")}}
        }),
    )
    .await;
    flow(
        &s,
        &f.integration_id,
        "unlink",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "drop"}]},
            "drop": {"type": "delete-data-link", "config": with(json!({"direction": "export"})), "links": [{"key": "gone"}]},
            "gone": {"type": "find-data-link",
                     "config": {"dataLinkTable": table, "direction": "export", "appRecordId": var("$.input.start.app")}}
        }),
    )
    .await;
    let input = json!({"app": "app-1", "ext": "ext-1"});
    let run = run_flow(&s, &f.alice, &f.alice_conn, "link", input.clone()).await;
    assert_completed(&run);
    let made = output(&s, &f.alice, &id_of(&run), "make").await;
    assert_eq!(made["links"].as_array().map(Vec::len), Some(1), "{made}");
    let found = output(&s, &f.alice, &id_of(&run), "found").await;
    assert_eq!(
        (&found["appRecordId"], &found["externalRecordId"]),
        (&json!("app-1"), &json!("ext-1")),
        "{found}"
    );
    // The link is in the connection's instance of the table, for her only.
    let links = |conn: &str| {
        format!("/data-link-table-instance/links?dataLinkTableKey=contact-links&connectionId={conn}&autoCreate=true")
    };
    let (status, page) = s.get(&links(&f.alice_conn), &f.alice).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
    let (_, his) = s.get(&links(&f.bob_conn), &f.bob).await;
    assert_eq!(his["items"], json!([]), "{his}");

    let run = run_flow(&s, &f.alice, &f.alice_conn, "unlink", input).await;
    assert_completed(&run);
    assert_eq!(
        output(&s, &f.alice, &id_of(&run), "drop").await["deleted"],
        1
    );
    assert_eq!(
        output(&s, &f.alice, &id_of(&run), "gone").await,
        Value::Null
    );
    let (_, page) = s.get(&links(&f.alice_conn), &f.alice).await;
    assert_eq!(page["items"], json!([]), "{page}");
    s.finish().await;
}

// ---------------------------------------------------------------------------
// The runtime data model.
// ---------------------------------------------------------------------------

#[tokio::test]
async fn flow_nodes_see_every_upstream_output_and_the_run_variables() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let made = s
        .create(
            "flows",
            json!({"key": "vars", "name": "Vars", "integrationId": f.integration_id, "parameters": {"greeting": "hi"},
                   "nodes": {
                "start": {"type": "api-trigger", "links": [{"key": "a"}]},
                "a": {"type": "transform-data", "config": {"output": {"x": var("$.input.start.x"), "tag": "from-a"}},
                      "links": [{"key": "b"}]},
                "b": {"type": "transform-data", "config": {"output": {
                    "fromStart": var("$.input.start.x"), "fromA": var("$.input.a.tag"),
                    "user": var("$.user"), "flowRun": var("$.flowRun"), "flowInstance": var("$.flowInstance"),
                    "connection": var("$.connection"), "integration": var("$.integration")}}}
            }}),
        )
        .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "vars", json!({"x": 7})).await;
    assert_completed(&run);
    let id = id_of(&run);
    let b = output(&s, &f.alice, &id, "b").await;
    assert_eq!(
        (&b["fromStart"], &b["fromA"]),
        (&json!(7), &json!("from-a")),
        "{b}"
    );
    assert_eq!(b["user"]["internalId"], "alice", "{b}");
    assert_eq!(b["user"]["id"], run["userId"], "{b}");
    assert_eq!(b["flowRun"], json!({"id": id}), "{b}");
    assert_eq!(b["flowInstance"]["id"], run["connectionFlowId"], "{b}");
    assert_eq!(b["flowInstance"]["flowId"], made["id"], "{b}");
    assert_eq!(
        b["flowInstance"]["parameters"],
        json!({"greeting": "hi"}),
        "{b}"
    );
    assert_eq!(
        b["connection"],
        json!({"id": f.alice_conn, "name": "Alice CRM"}),
        "{b}"
    );
    assert_eq!(
        b["integration"],
        json!({"id": f.integration_id, "key": "crm", "name": "CRM"}),
        "{b}"
    );
    // The node run's input: every upstream node on its path, by key.
    let b_run = &node_runs(&s, &f.alice, &id, "b").await[0];
    assert_eq!(
        b_run["input"],
        json!({"start": {"x": 7}, "a": {"x": 7, "tag": "from-a"}}),
        "{b_run}"
    );
    assert_eq!(run["integrationFlowId"], made["id"], "{run}");
    s.finish().await;
}

#[tokio::test]
async fn flow_outputs_fan_out_and_link_filters_pick_the_runs() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 6).await;
    flow(
        &s,
        &f.integration_id,
        "fan",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "list"}]},
            "list": {"type": "list-data-records", "config": {"dataSource": {"collectionKey": "contacts"}},
                     "links": [{"key": "every"},
                               {"key": "gold", "filter": {"$eval": var("$.input.list.fields.tier"), "is": "gold"}}]},
            "every": {"type": "transform-data", "config": {"output": {"id": var("$.input.list.id")}}},
            "gold": {"type": "transform-data", "config": {"output": {"id": var("$.input.list.id")}}}
        }),
    )
    .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "fan", json!({})).await;
    assert_completed(&run);
    let id = id_of(&run);
    assert_eq!(counts(&run, "list"), (1, 0, 6), "{run}");
    assert_eq!(counts(&run, "every"), (6, 0, 6), "{run}");
    // Seeded contacts 3 and 6 are gold.
    let mut gold: Vec<Value> = outputs(&s, &f.alice, &id, "gold").await;
    gold.sort_by_key(|g| g["id"].as_str().unwrap().to_owned());
    assert_eq!(gold, vec![json!({"id": "3"}), json!({"id": "6"})]);

    // Each output started its own node runs, and both ends of every edge agree.
    let list = &node_runs(&s, &f.alice, &id, "list").await[0];
    let list_id = list["id"].as_str().unwrap();
    assert!(list["upstreamRuns"][0]["nodeKey"] == "start", "{list}");
    let mut downstream = BTreeMap::new();
    for o in list["outputs"].as_array().unwrap() {
        let record: Value = serde_json::from_str(o["data"].as_str().unwrap()).unwrap();
        let expected: Vec<&str> = if record["fields"]["tier"] == "gold" {
            vec!["every", "gold"]
        } else {
            vec!["every"]
        };
        let runs = o["downstreamRuns"].as_array().unwrap();
        let keys: Vec<&str> = runs
            .iter()
            .map(|r| r["nodeKey"].as_str().unwrap())
            .collect();
        assert_eq!(keys, expected, "{o}");
        for r in runs {
            downstream.insert(
                r["runId"].as_str().unwrap().to_owned(),
                (o["id"].clone(), r["nodeKey"].clone(), record["id"].clone()),
            );
        }
    }
    assert_eq!(downstream.len(), 8, "{list}");
    for node in ["every", "gold"] {
        for r in node_runs(&s, &f.alice, &id, node).await {
            let (output_id, key, record_id) = &downstream[r["id"].as_str().unwrap()];
            assert_eq!(key, node);
            assert_eq!(
                r["upstreamRuns"],
                json!([{"nodeKey": "list", "runId": list_id, "outputId": output_id}]),
                "{r}"
            );
            assert_eq!(r["input"]["list"]["id"], *record_id, "{r}");
            assert_eq!(r["status"], "completed");
        }
    }
    s.finish().await;
}

#[tokio::test]
async fn flow_a_join_runs_once_with_the_outputs_of_every_branch() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    flow(
        &s,
        &f.integration_id,
        "join",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "left"}, {"key": "right"}, {"key": "blocked"}]},
            "left": {"type": "transform-data", "config": {"output": {"side": "L"}}, "links": [{"key": "both"}, {"key": "one"}]},
            "right": {"type": "transform-data", "config": {"output": {"side": "R"}}, "links": [{"key": "both"}]},
            "blocked": {"type": "filter", "config": {"filter": {"$eval": var("$.input.start.x"), "is": "never"}},
                        "links": [{"key": "one"}]},
            "both": {"type": "transform-data", "config": {"output": {
                "l": var("$.input.left.side"), "r": var("$.input.right.side"), "x": var("$.input.start.x")}}},
            "one": {"type": "transform-data", "config": {"output": {
                "l": var("$.input.left.side"), "blocked": var("$.input.blocked")}}}
        }),
    )
    .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "join", json!({"x": 1})).await;
    assert_completed(&run);
    let id = id_of(&run);
    assert_eq!(counts(&run, "both"), (1, 0, 1), "{run}");
    assert_eq!(
        output(&s, &f.alice, &id, "both").await,
        json!({"l": "L", "r": "R", "x": 1})
    );
    let both = &node_runs(&s, &f.alice, &id, "both").await[0];
    let mut from: Vec<&str> = both["upstreamRuns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nodeKey"].as_str().unwrap())
        .collect();
    from.sort();
    assert_eq!(from, ["left", "right"], "{both}");
    // One branch stopped by a filter: the join still runs once, with what reached it.
    assert_eq!(counts(&run, "one"), (1, 0, 1), "{run}");
    assert_eq!(output(&s, &f.alice, &id, "one").await, json!({"l": "L"}));
    s.finish().await;
}

#[tokio::test]
async fn flow_on_error_stop_fails_the_run_and_continue_goes_on() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    let nodes = |on_error: &str| {
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "bad"}, {"key": "fine"}]},
            "bad": {"type": "api-request-to-external-app", "onError": on_error,
                    "config": {"request": {"path": "/status/422"}}, "links": [{"key": "after-bad"}]},
            "after-bad": {"type": "transform-data", "config": {"output": {"never": true}}},
            "fine": {"type": "transform-data", "config": {"output": {"ok": true}}}
        })
    };
    flow(&s, &f.integration_id, "stops", nodes("stop")).await;
    flow(&s, &f.integration_id, "goes-on", nodes("continue")).await;

    let run = run_flow(&s, &f.alice, &f.alice_conn, "stops", json!({})).await;
    assert_eq!(run["state"], "failed", "{run}");
    let error = &run["errors"][0];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{run}"
    );
    assert_eq!(counts(&run, "bad"), (1, 1, 0), "{run}");
    assert_eq!(run["nodes"]["bad"]["state"], "failed", "{run}");
    assert!(run["nodes"].get("after-bad").is_none(), "{run}");
    let bad = &node_runs(&s, &f.alice, &id_of(&run), "bad").await[0];
    assert_eq!(bad["status"], "failed", "{bad}");
    assert_eq!(bad["errors"][0]["message"], error["message"], "{bad}");
    assert_eq!(bad["outputs"], json!([]), "{bad}");

    let run = run_flow(&s, &f.alice, &f.alice_conn, "goes-on", json!({})).await;
    assert_completed(&run);
    assert_eq!(run["errors"], json!([]), "{run}");
    assert_eq!(counts(&run, "bad"), (1, 1, 0), "{run}");
    assert_eq!(counts(&run, "fine"), (1, 0, 1), "{run}");
    assert!(run["nodes"].get("after-bad").is_none(), "{run}");
    let bad = &node_runs(&s, &f.alice, &id_of(&run), "bad").await[0];
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(bad["errors"][0]["message"].is_string(), "{bad}");
    s.finish().await;
}

#[tokio::test]
async fn flow_node_concurrency_bounds_the_runs_of_one_node() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 4).await;
    let probe = Probe::start().await;
    flow(
        &s,
        &f.integration_id,
        "parallel",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "list"}]},
            "list": {"type": "list-data-records", "config": {"dataSource": {"collectionKey": "contacts"}},
                     "links": [{"key": "one"}, {"key": "two"}, {"key": "four"}]},
            // The default: one at a time.
            "one": {"type": "custom-http-request", "config": probe.request("/slow", json!({"tag": "one", "ms": "20"}))},
            "two": {"type": "custom-http-request", "concurrency": 2,
                    "config": probe.request("/slow", json!({"tag": "two", "ms": "50"}))},
            // Four at once: the four requests wait for each other at the probe.
            "four": {"type": "custom-http-request", "concurrency": 4,
                     "config": probe.request("/slow", json!({"tag": "four", "n": "4"}))}
        }),
    )
    .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "parallel", json!({})).await;
    assert_completed(&run);
    for node in ["one", "two", "four"] {
        assert_eq!(counts(&run, node), (4, 0, 4), "{run}");
    }
    assert_eq!(probe.max_inflight("one"), 1);
    assert!(
        probe.max_inflight("two") <= 2,
        "{}",
        probe.max_inflight("two")
    );
    assert_eq!(probe.max_inflight("four"), 4);
    // The records agree: each run of `one` starts after the one before ended.
    let mut spans: Vec<(String, String)> = node_runs(&s, &f.alice, &id_of(&run), "one")
        .await
        .iter()
        .map(|r| {
            (
                r["startTime"].as_str().unwrap().to_owned(),
                r["endTime"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "overlapping runs of `one`: {spans:?}"
        );
    }
    s.finish().await;
}

#[tokio::test]
async fn flow_list_node_that_cannot_read_every_page_fails_instead_of_dropping_records() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 0).await;
    // A collection whose pages never end: one record a page, always a next page.
    let mut connector = crm_connector(&f.crm.url);
    connector["data"]["endless"] = json!({"name": "Endless", "list": {"type": "javascript", "code":
        "export default async ({input}) => { const n = Number(input.cursor || 0); return {records: [{id: String(n), name: 'r' + n}], cursor: String(n + 1)} }"}});
    let (status, body) = s
        .patch(
            &format!("/connectors/{}", f.connector_id),
            &s.admin(),
            connector,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    flow(
        &s,
        &f.integration_id,
        "endless",
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "list"}]},
            "list": {"type": "list-data-records", "config": {"dataSource": {"collectionKey": "endless"}},
                     "links": [{"key": "each"}]},
            "each": {"type": "transform-data", "config": {"output": {"id": var("$.input.list.id")}}}
        }),
    )
    .await;
    let run = run_flow(&s, &f.alice, &f.alice_conn, "endless", json!({})).await;
    assert_eq!(
        run["state"], "failed",
        "not a silently shortened list: {}",
        run["nodes"]
    );
    let message = run["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("pages"), "{}", run["errors"]);
    assert!(run["nodes"].get("each").is_none(), "{}", run["nodes"]);
    s.finish().await;
}
