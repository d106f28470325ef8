//! Executing one claimed flow run, node run by node run (semantics §4.2).
//!
//! **Node runs.** A run starts with one node run of its start node (a trigger,
//! whose output is the run's input). Each output a node run produces follows the
//! node's `links` — a link with a `filter` only when the filter holds for the
//! output — and starts one node run of each linked node, so the run graph fans out
//! as the documentation describes. A node run's `input` is an object keyed by the
//! upstream node keys on its path, each holding that node's output; its formulas
//! also see `user`, `flowRun`, `flowInstance`, `connection` and `integration`.
//!
//! Decisions where the documentation is silent:
//! * **Fan-in.** A node two or more links reach is a join: it runs once, after
//!   every node run that could still reach it has finished, with the outputs of all
//!   the branches that reached it under their keys (a branch that reached it
//!   several times: the last output). No branch reached it, it does not run.
//! * **`for-each-v2`** runs its body (from `config.rootNodeKey`) once per item of
//!   `config.items`, in order; the body's root sees `$.input.<loop key>` as
//!   `{item, index}`. The loop node's single output is an array: for each item,
//!   the last output of the iteration's node runs that no node run followed
//!   (where a path of the body ended, as for the run's output below). An item
//!   whose iteration has no such output — e.g. a filter stopped it — adds
//!   nothing, not the output of a node before the filter. Its own links
//!   continue after the loop. The deprecated `for-each` has no body: each item is
//!   one output, so what it links to runs once per item.
//! * **`filter`** passes its input (the upstream outputs by key) as its one output
//!   when `config.filter` holds, and produces no output otherwise.
//! * **List nodes** (`list-data-records`, `search-data-records`,
//!   `find-data-records`) produce one output per record (every page is read; a
//!   list longer than the pages a node reads fails the node run, see `nodes`).
//! * **`onError: continue`**: the failed node run is recorded with its error and
//!   produces no output, so nothing downstream of it runs on that path; other
//!   branches go on and the run can complete. `stop` (the default) fails the run.
//! * **`concurrency`**: node runs of one node at once, 1 unless the node says more
//!   (so one node's runs happen in order); runs of different nodes may overlap.
//! * **The run's output** (`GET /flow-runs/{id}/output`) is the output of the last
//!   node run that completed with no node run after it.
//!
//! **Durability.** Node run ids are derived from the path that led to them (the
//! run, the upstream node run and output, the node), so a run another node takes
//! over walks the same ids again: a node run already stored is not executed again
//! — its stored outputs are used — and what the crashed node had not stored yet
//! runs again. Node runs that only compute (triggers, `transform-data`, `filter`,
//! loops) are stored with the next write; once a node run that may have changed
//! something outside (any call) completes, it is stored before the next node run
//! starts — or, when it was the run's last, with how the run ended, in one write —
//! so a takeover never repeats a call whose completion was recorded. A node run
//! that calls out in a taken-over run carries a log line saying its calls may
//! repeat ones made before the crash.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use osmosis_model::error::ErrorType;
use osmosis_model::{ApiError, Element};
use osmosis_store::{FlowRunRow, FlowWrite, NodeRunRow, WriteOutcome};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::graph::{Graph, Node};
use super::records::NodeTally;
use super::FlowLimits;
use crate::connections::call_trace::Trace;
use crate::{Caller, Engine};

/// Why a run ended before its graph was done.
#[derive(Debug)]
pub(crate) enum Abort {
    /// A node run failed with `onError: stop`.
    Failed(ApiError),
    /// `POST /flow-runs/{id}/stop`.
    Stopped,
    /// The run's time limit passed.
    TimedOut,
    /// Another node took the run over (this node's lease ran out).
    LeaseLost,
    /// Its progress could not be stored.
    Store(String),
}

/// Flags the scheduler sets on a run it executes, and whose run it is.
#[derive(Debug, Default)]
pub(crate) struct RunSignals {
    pub stop: AtomicBool,
    pub lease_lost: AtomicBool,
    pub workspace_id: String,
    pub customer_id: String,
}

/// One node run to execute.
#[derive(Debug, Clone)]
struct Plan {
    id: String,
    node_key: String,
    upstream: Vec<Value>,
    input: Map<String, Value>,
}

/// What a node run produced.
struct Produced {
    outputs: Vec<Value>,
    error: Option<ApiError>,
    children: Vec<Plan>,
}

/// A node run's id: a digest of the path that led to it.
fn node_run_id(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// How many times a failed write of a run's progress is tried again (0.1 s
/// apart, doubling: about 6 s in all) before the run is left to its lease.
const FLUSH_RETRIES: u32 = 6;

/// Node types whose runs may change something outside the engine.
fn calls_out(kind: &str) -> bool {
    !matches!(
        kind,
        "transform-data" | "filter" | "for-each-v2" | "for-each"
    ) && !super::graph::TRIGGERS.contains(&kind)
}

pub(crate) struct RunContext {
    pub engine: Engine,
    pub node_id: String,
    pub caller: Caller,
    pub connection: Element,
    pub graph: Graph,
    pub row: FlowRunRow,
    /// Variables every node run sees besides `input`.
    pub base_vars: Map<String, Value>,
    /// Node runs stored before a takeover, by id.
    pub stored: HashMap<String, NodeRunRow>,
    pub signals: Arc<RunSignals>,
    pub limits: FlowLimits,
    pub deadline: Instant,
    pub(crate) state: Mutex<Progress>,
}

/// What the run has done so far, as its record shows it.
#[derive(Default)]
pub(crate) struct Progress {
    pub tally: BTreeMap<String, NodeTally>,
    /// Node runs not stored yet.
    pub pending: Vec<NodeRunRow>,
    /// One of `pending` may have changed something outside: store before going on.
    pub pending_calls: bool,
    pub last_output: Option<Value>,
    /// The run's `errors`, set when it fails.
    pub errors: Vec<Value>,
    /// When the run ended, once it has.
    pub end_time: Option<i64>,
}

impl RunContext {
    /// Runs the graph from the start node; the run's final state follows.
    pub(crate) async fn execute(self: &Arc<Self>) -> Result<(), Abort> {
        let start = self
            .row
            .record
            .get("startNodeKey")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if self.graph.node(&start).is_none() {
            return Err(Abort::Failed(ApiError::new(
                ErrorType::FlowRun,
                None,
                format!("The flow has no node `{start}` to start from"),
            )));
        }
        let plan = Plan {
            id: node_run_id(&[&self.row.id, &start]),
            node_key: start,
            upstream: Vec::new(),
            input: Map::new(),
        };
        self.walk(self.row.id.clone(), vec![plan]).await.map(|_| ())
    }

    /// Checks at a node boundary whether the run must end.
    fn boundary(&self) -> Result<(), Abort> {
        if self.signals.lease_lost.load(Ordering::Relaxed) {
            return Err(Abort::LeaseLost);
        }
        if self.signals.stop.load(Ordering::Relaxed) {
            return Err(Abort::Stopped);
        }
        if Instant::now() >= self.deadline {
            return Err(Abort::TimedOut);
        }
        Ok(())
    }

    /// Runs node runs from `start` until none is left in this scope (the run, or
    /// one iteration of a loop); answers the outputs of the node runs that
    /// completed with no node run after them (the ends of the paths), in order.
    fn walk(
        self: &Arc<Self>,
        scope: String,
        start: Vec<Plan>,
    ) -> BoxFuture<'static, Result<Vec<Value>, Abort>> {
        let this = Arc::clone(self);
        Box::pin(async move {
            let mut ready: VecDeque<Plan> = start.into();
            let mut joins: BTreeMap<String, Plan> = BTreeMap::new();
            let mut inflight = FuturesUnordered::new();
            let mut busy: HashMap<String, usize> = HashMap::new();
            let mut completed = Vec::new();
            let mut failure: Option<Abort> = None;
            loop {
                if failure.is_none() {
                    if let Err(a) = this.boundary() {
                        failure = Some(a);
                    }
                }
                // Only before another node run starts: a run whose last node
                // called out stores it with how the run ended, in one write.
                if failure.is_none() && !ready.is_empty() && this.calls_pending() {
                    if let Err(a) = this.flush(None).await.map(drop) {
                        failure = Some(a);
                    }
                }
                if failure.is_none() {
                    let mut waiting = VecDeque::new();
                    while let Some(p) = ready.pop_front() {
                        let limit = this.graph.node(&p.node_key).map_or(1, |n| n.concurrency);
                        let n = busy.entry(p.node_key.clone()).or_default();
                        if *n < limit {
                            *n += 1;
                            inflight.push(this.node_run(scope.clone(), p));
                        } else {
                            waiting.push_back(p);
                        }
                    }
                    ready = waiting;
                }
                if inflight.is_empty() {
                    if failure.is_some() {
                        break;
                    }
                    match next_join(&this.graph, &mut joins) {
                        Some(p) => {
                            ready.push_back(p);
                            continue;
                        }
                        None => break,
                    }
                }
                let Some((key, result)) = inflight.next().await else {
                    break;
                };
                if let Some(n) = busy.get_mut(&key) {
                    *n -= 1;
                }
                match result {
                    Ok(produced) => {
                        // Only where a path ended: a node run whose outputs went on
                        // (or that a filter downstream then stopped) is not the
                        // scope's result.
                        if produced.children.is_empty() {
                            completed.extend(produced.outputs.iter().cloned());
                        }
                        for child in produced.children {
                            if this.graph.is_join(&child.node_key) {
                                join_into(&mut joins, child);
                            } else {
                                ready.push_back(child);
                            }
                        }
                        let stop_on_error =
                            this.graph.node(&key).is_none_or(|n| !n.continue_on_error);
                        if let (Some(e), true) = (produced.error, stop_on_error) {
                            failure.get_or_insert(Abort::Failed(e));
                        }
                    }
                    Err(abort) => {
                        failure.get_or_insert(abort);
                    }
                }
            }
            match failure {
                Some(a) => Err(a),
                None => Ok(completed),
            }
        })
    }

    fn calls_pending(&self) -> bool {
        self.state.lock().map(|s| s.pending_calls).unwrap_or(false)
    }

    /// Stores the node runs not stored yet, with the run's record as it is now
    /// (and, with `finish`, its final state); answers that record. Answers
    /// `LeaseLost` when the run is no longer this node's.
    pub(crate) async fn flush(&self, finish: Option<(&str, i64)>) -> Result<Value, Abort> {
        let (rows, record) = {
            let mut s = self
                .state
                .lock()
                .map_err(|_| Abort::Store("poisoned".into()))?;
            s.pending_calls = false;
            let rows = std::mem::take(&mut s.pending);
            let state = finish.map_or("running", |(state, _)| state);
            (rows, self.record_of(&s, state))
        };
        let mut writes = Vec::with_capacity(2);
        if !rows.is_empty() {
            writes.push(FlowWrite::NodeRuns(rows));
        }
        writes.push(FlowWrite::Update {
            workspace_id: self.row.workspace_id.clone(),
            id: self.row.id.clone(),
            owner: Some(self.node_id.clone()),
            only_if_queued: false,
            state: finish.map_or("running", |(s, _)| s).to_owned(),
            ended_ms: finish.map(|(_, at)| at),
            record,
        });
        // A database that refuses for a moment (a busy pool, a restart) must not
        // leave the run to wait out its lease: the writes are idempotent (node
        // runs by id, the record by owner), so they are tried again for a few
        // seconds first.
        let mut attempt = 0;
        let outcomes = loop {
            match super::write_all(&self.engine, writes.clone()).await {
                Ok(outcomes) => break outcomes,
                Err(e) if attempt >= FLUSH_RETRIES => return Err(Abort::Store(e)),
                Err(e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "could not store a flow run's progress; trying again");
                    let pause = crate::clock::backoff_ms(100, 2_000, i64::from(attempt));
                    tokio::time::sleep(Duration::from_millis(pause as u64)).await;
                }
            }
        };
        if outcomes.last() == Some(&WriteOutcome::Refused) {
            self.signals.lease_lost.store(true, Ordering::Relaxed);
            return Err(Abort::LeaseLost);
        }
        match writes.pop() {
            Some(FlowWrite::Update { record, .. }) => Ok(record),
            _ => Ok(Value::Null),
        }
    }

    /// The run record with the progress so far.
    pub(crate) fn record_of(&self, progress: &Progress, state: &str) -> Value {
        let mut record = match &self.row.record {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        record.insert("state".into(), json!(state));
        let nodes: Map<String, Value> = progress
            .tally
            .iter()
            .map(|(k, t)| (k.clone(), t.to_json(state)))
            .collect();
        record.insert("nodes".into(), Value::Object(nodes));
        if let Some(o) = &progress.last_output {
            record.insert("output".into(), o.clone());
        }
        if !progress.errors.is_empty() {
            record.insert("errors".into(), Value::Array(progress.errors.clone()));
        }
        if let Some(at) = progress.end_time {
            record.insert("endTime".into(), json!(crate::clock::iso_of_ms(at)));
        }
        Value::Object(record)
    }

    /// The variables of one node run.
    pub(crate) fn variables(&self, input: &Map<String, Value>) -> Value {
        let mut vars = self.base_vars.clone();
        vars.insert("input".into(), Value::Object(input.clone()));
        Value::Object(vars)
    }

    fn node_run(
        self: &Arc<Self>,
        scope: String,
        plan: Plan,
    ) -> BoxFuture<'static, (String, Result<Produced, Abort>)> {
        let this = Arc::clone(self);
        Box::pin(async move {
            let key = plan.node_key.clone();
            let result = this.node_run_inner(scope, plan).await;
            (key, result)
        })
    }

    async fn node_run_inner(
        self: &Arc<Self>,
        scope: String,
        plan: Plan,
    ) -> Result<Produced, Abort> {
        let Some(node) = self.graph.node(&plan.node_key).cloned() else {
            return Ok(Produced {
                outputs: Vec::new(),
                error: None,
                children: Vec::new(),
            });
        };
        if let Some(row) = self.stored.get(&plan.id) {
            return self.replay(&scope, &node, &plan, row);
        }
        self.tally(&node.key, |t| t.running += 1);
        let started = crate::clock::now_ms();
        let trace = Trace::default();
        let mut logs = Vec::new();
        if self.row.attempts > 1 && calls_out(&node.kind) {
            logs.push(json!({"type": "message", "message": "This node run started again after the run was taken over from a node that stopped: its calls to external apps may repeat calls made before."}));
        }
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let executed = tokio::time::timeout(
            remaining.max(Duration::from_millis(1)),
            trace.scope(super::nodes::execute(self, &node, &plan.id, &plan.input)),
        )
        .await;
        let result = match executed {
            Err(_) => {
                self.tally(&node.key, |t| t.running -= 1);
                return Err(Abort::TimedOut);
            }
            Ok(Err(NodeFailure::Abort(a))) => {
                self.tally(&node.key, |t| t.running -= 1);
                return Err(a);
            }
            Ok(Err(NodeFailure::Error(e))) => Err(e),
            Ok(Ok(outputs)) => self.check_outputs(outputs),
        };
        for entry in trace.take() {
            logs.push(json!({"type": "api-request", "data": entry}));
        }
        let (outputs, error) = match result {
            Ok(o) => (o, None),
            Err(e) => {
                logs.push(json!({"type": "error", "message": e.message}));
                (Vec::new(), Some(e))
            }
        };
        let (children, downstream) = match self.children(&scope, &node, &plan, &outputs) {
            Ok(c) => c,
            Err(e) => {
                // A link filter that cannot be evaluated fails the node run.
                logs.push(json!({"type": "error", "message": e.message}));
                let row = self.row_of(&node, &plan, &[], &[], Some(&e), logs, started);
                self.record_run(&node, row, 0, true, None);
                return Ok(Produced {
                    outputs: Vec::new(),
                    error: Some(e),
                    children: Vec::new(),
                });
            }
        };
        let leaf_output = if children.is_empty() {
            outputs.last().cloned()
        } else {
            None
        };
        let row = self.row_of(
            &node,
            &plan,
            &outputs,
            &downstream,
            error.as_ref(),
            logs,
            started,
        );
        self.record_run(
            &node,
            row,
            outputs.len() as u64,
            error.is_some(),
            leaf_output,
        );
        Ok(Produced {
            outputs,
            error,
            children,
        })
    }

    /// A node run stored before a takeover: its outputs, not a second execution.
    fn replay(
        &self,
        scope: &str,
        node: &Node,
        plan: &Plan,
        row: &NodeRunRow,
    ) -> Result<Produced, Abort> {
        let outputs: Vec<Value> = row
            .record
            .get("outputs")
            .and_then(Value::as_array)
            .map(|os| {
                os.iter()
                    .map(|o| {
                        o.get("data")
                            .and_then(Value::as_str)
                            .and_then(|d| serde_json::from_str(d).ok())
                            .unwrap_or(Value::Null)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let error = (row.status == "failed").then(|| {
            let e = row.record.get("errors").and_then(|e| e.get(0)).cloned();
            e.and_then(|e| serde_json::from_value::<ApiError>(e).ok())
                .unwrap_or_else(|| ApiError::new(ErrorType::FlowRun, None, "The node run failed"))
        });
        let (children, _) = self
            .children(scope, node, plan, &outputs)
            .map_err(Abort::Failed)?;
        self.tally(&node.key, |t| {
            t.runs += 1;
            t.outputs += outputs.len() as u64;
            t.errored += u64::from(error.is_some());
        });
        if children.is_empty() {
            if let (Some(o), Ok(mut s)) = (outputs.last(), self.state.lock()) {
                s.last_output = Some(o.clone());
            }
        }
        Ok(Produced {
            outputs,
            error,
            children,
        })
    }

    fn tally(&self, key: &str, f: impl FnOnce(&mut NodeTally)) {
        if let Ok(mut s) = self.state.lock() {
            f(s.tally.entry(key.to_owned()).or_default());
        }
    }

    fn record_run(
        &self,
        node: &Node,
        row: NodeRunRow,
        outputs: u64,
        errored: bool,
        leaf_output: Option<Value>,
    ) {
        if let Ok(mut s) = self.state.lock() {
            let t = s.tally.entry(node.key.clone()).or_default();
            t.running = t.running.saturating_sub(1);
            t.runs += 1;
            t.outputs += outputs;
            t.errored += u64::from(errored);
            if calls_out(&node.kind) {
                s.pending_calls = true;
            }
            s.pending.push(row);
            if let Some(o) = leaf_output {
                s.last_output = Some(o);
            }
        }
    }

    /// Outputs larger than the limit fail the node run.
    fn check_outputs(&self, outputs: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        for o in &outputs {
            let size = serde_json::to_vec(o).map(|v| v.len()).unwrap_or(0);
            if size > self.limits.max_output_bytes {
                return Err(ApiError::new(
                    ErrorType::FlowRun,
                    Some("node_output_too_large"),
                    format!(
                        "The node's output is {size} bytes, more than the limit of {} bytes",
                        self.limits.max_output_bytes
                    ),
                ));
            }
        }
        Ok(outputs)
    }

    /// The node runs each output starts through the node's links (filters
    /// evaluated), and each output's `downstreamRuns`.
    fn children(
        &self,
        scope: &str,
        node: &Node,
        plan: &Plan,
        outputs: &[Value],
    ) -> Result<(Vec<Plan>, Vec<Vec<Value>>), ApiError> {
        let mut children = Vec::new();
        let mut downstream = Vec::with_capacity(outputs.len());
        for (i, output) in outputs.iter().enumerate() {
            let mut input = plan.input.clone();
            input.insert(node.key.clone(), output.clone());
            let mut runs = Vec::new();
            for link in &node.links {
                if let Some(filter) = &link.filter {
                    let vars = self.variables(&input);
                    let matched = osmosis_runtime::formula::backward_compatible_filter_match(
                        Some(filter),
                        Some(&vars),
                    )
                    .map_err(|e| {
                        ApiError::configuration(format!(
                            "The filter of the link from `{}` to `{}`: {e}",
                            node.key, link.key
                        ))
                    })?;
                    if !osmosis_runtime::js::truthy(matched.as_ref()) {
                        continue;
                    }
                }
                let output_id = format!("{}-{i}", plan.id);
                // A join runs once per scope, whichever branch reaches it.
                let id = if self.graph.is_join(&link.key) {
                    node_run_id(&[scope, "join", &link.key])
                } else {
                    node_run_id(&[&plan.id, &i.to_string(), &link.key])
                };
                runs.push(json!({"runId": id, "nodeKey": link.key}));
                children.push(Plan {
                    id,
                    node_key: link.key.clone(),
                    upstream: vec![
                        json!({"nodeKey": node.key, "runId": plan.id, "outputId": output_id}),
                    ],
                    input: input.clone(),
                });
            }
            downstream.push(runs);
        }
        Ok((children, downstream))
    }

    #[allow(clippy::too_many_arguments)]
    fn row_of(
        &self,
        node: &Node,
        plan: &Plan,
        outputs: &[Value],
        downstream: &[Vec<Value>],
        error: Option<&ApiError>,
        logs: Vec<Value>,
        started_ms: i64,
    ) -> NodeRunRow {
        let now = crate::clock::now_ms();
        let status = if error.is_some() {
            "failed"
        } else {
            "completed"
        };
        let outputs: Vec<Value> = outputs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                json!({
                    "id": format!("{}-{i}", plan.id),
                    "data": o.to_string(),
                    "downstreamRuns": downstream.get(i).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let errors: Vec<Value> = error
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect();
        let mut record = json!({
            "id": plan.id,
            "nodeKey": node.key,
            "upstreamRuns": plan.upstream,
            "input": plan.input,
            "status": status,
            "logs": logs,
            "outputs": outputs,
            "errors": errors,
            "startTime": crate::clock::iso_of_ms(started_ms),
            "endTime": crate::clock::iso_of_ms(now),
        });
        if let Some(name) = &node.name {
            record["nodeName"] = json!(name);
        }
        NodeRunRow {
            seq: 0,
            workspace_id: self.row.workspace_id.clone(),
            run_id: self.row.id.clone(),
            id: plan.id.clone(),
            node_key: node.key.clone(),
            status: status.into(),
            created_ms: now,
            record,
        }
    }

    /// Runs one loop body iteration (`for-each-v2`); answers the outputs of its
    /// node runs that no node run followed, in order.
    pub(crate) async fn iterate(
        self: &Arc<Self>,
        loop_node: &Node,
        loop_run_id: &str,
        input: &Map<String, Value>,
        root: &str,
        index: usize,
        item: Value,
    ) -> Result<Vec<Value>, NodeFailure> {
        let scope = node_run_id(&[loop_run_id, &format!("#{index}")]);
        let mut body_input = input.clone();
        body_input.insert(loop_node.key.clone(), json!({"item": item, "index": index}));
        let plan = Plan {
            id: node_run_id(&[&scope, root]),
            node_key: root.to_owned(),
            upstream: vec![json!({"nodeKey": loop_node.key, "runId": loop_run_id})],
            input: body_input,
        };
        self.walk(scope, vec![plan])
            .await
            .map_err(NodeFailure::Abort)
    }
}

/// How a node's execution failed: its own error (recorded on the node run, the
/// run goes on as `onError` says), or the run must end.
pub(crate) enum NodeFailure {
    Error(ApiError),
    Abort(Abort),
}

impl From<ApiError> for NodeFailure {
    fn from(e: ApiError) -> Self {
        NodeFailure::Error(e)
    }
}

/// Adds a branch's arrival to the join it reaches.
fn join_into(joins: &mut BTreeMap<String, Plan>, child: Plan) {
    let entry = joins.entry(child.node_key.clone()).or_insert_with(|| Plan {
        id: child.id.clone(),
        node_key: child.node_key.clone(),
        upstream: Vec::new(),
        input: Map::new(),
    });
    entry.upstream.extend(child.upstream);
    for (k, v) in child.input {
        entry.input.insert(k, v);
    }
}

/// The next join to run: one no other waiting join leads to.
fn next_join(graph: &Graph, joins: &mut BTreeMap<String, Plan>) -> Option<Plan> {
    let key = joins
        .keys()
        .find(|k| {
            !joins
                .keys()
                .any(|other| other != *k && graph.downstream(other).contains(*k))
        })?
        .clone();
    joins.remove(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_run_ids_are_stable_and_distinct() {
        assert_eq!(node_run_id(&["r", "a"]), node_run_id(&["r", "a"]));
        assert_ne!(node_run_id(&["r", "a"]), node_run_id(&["ra", ""]));
        assert_eq!(node_run_id(&["r", "a"]).len(), 24);
    }
}
