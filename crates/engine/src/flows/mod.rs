//! Flow runs (semantics §4.3–4.5, api-surface §2.10, §6.4–6.6): started through
//! the API (`POST /flow-runs`, `POST /connections/{c}/flows/{f}/run`,
//! `POST /flow-instances/{id}/run`) or by a schedule, executed durably by the
//! [`scheduler`] of whichever node claims them, node run by node run ([`runner`],
//! [`nodes`]), and read back with their node runs ([`records`]).
//!
//! **Creating a run** checks the instance (visible to the caller, not archived,
//! on a connection the caller may call, a graph without errors, not disabled),
//! picks the start node (the named one, which must be a trigger; else the
//! instance's only `api-trigger`), fits the input to the api-trigger's
//! `config.inputSchema` (a refused input is a `bad_request` naming the field, and
//! no run), and stores the run `queued` in a group commit; only then can any
//! node's scheduler see it. A connection with [`FlowLimits::queue_cap`] queued
//! runs refuses more (`rate_limit_exceeded`, HTTP 429).
//!
//! Decisions where the documentation is silent: a flow instance with
//! `enabled: false` refuses API starts too (`bad_request`); an instance that never
//! set `enabled` runs. `POST /flow-runs/{id}/stop` ends a queued run at once and a
//! running one at its next node boundary, as `stopped` — the one state the SDK's
//! `run()` does not return on (it waits for `completed` or `failed`); every other
//! ending, a time-out and a failed node included, is `completed` or `failed`.
//! `GET /flow-runs/{id}?wait=<seconds>` (at most 60) answers once the run is in a
//! final state or the wait is over, whichever comes first, so a client can wait
//! for a run without polling.

pub(crate) mod graph;
pub mod instances;
mod nodes;
pub mod records;
pub(crate) mod runner;
pub(crate) mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{FlowRunQuery, FlowRunRow, FlowWrite, WriteOutcome};
use serde_json::{json, Map, Value};

use crate::caller::visible_to;
use crate::errors::{not_found, store_error};
use crate::group_commit::GroupCommit;
use crate::{Caller, Engine};

/// The limits of flow runs (semantics §4.5), configurable per server.
#[derive(Debug, Clone, Copy)]
pub struct FlowLimits {
    /// Queued runs one connection may have; more are refused.
    pub queue_cap: i64,
    /// How long a run may execute.
    pub max_run: Duration,
    /// The largest output one node run may produce, in bytes (JSON text).
    pub max_output_bytes: usize,
    /// How long finished runs are kept.
    pub retention: Duration,
    /// How long a node's claim on a run holds without a heartbeat; a run of a node
    /// that died is taken over once it expires.
    pub lease: Duration,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            queue_cap: 10_000,
            max_run: Duration::from_secs(50 * 60),
            max_output_bytes: 20 * 1024 * 1024,
            retention: Duration::from_secs(30 * 24 * 3600),
            lease: Duration::from_secs(30),
        }
    }
}

/// Writes of flow runs per transaction (a write is one caller's group of writes:
/// a new run, or one run's node runs with its record).
const WRITE_BATCH: usize = 128;

/// Group commits of flow run writes. Each caller hands over its writes as one
/// group, which lands in one transaction: a run's node runs are never stored
/// without the record that counts them.
pub(crate) type FlowWriter = GroupCommit<Vec<FlowWrite>, Vec<WriteOutcome>>;

pub(crate) fn writer(store: Arc<dyn osmosis_store::FlowRunStore>) -> FlowWriter {
    GroupCommit::new(
        WRITE_BATCH,
        Arc::new(move |groups: Vec<Vec<FlowWrite>>| {
            let store = Arc::clone(&store);
            Box::pin(async move {
                let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
                let writes: Vec<FlowWrite> = groups.into_iter().flatten().collect();
                let mut outcomes = store
                    .apply_flow_writes(&writes)
                    .await
                    .map_err(|e| e.to_string())?
                    .into_iter();
                Ok(sizes
                    .into_iter()
                    .map(|n| outcomes.by_ref().take(n).collect())
                    .collect())
            })
        }),
    )
}

/// Applies `writes` together in the next group commit; answers their outcomes.
pub(crate) async fn write_all(
    engine: &Engine,
    writes: Vec<FlowWrite>,
) -> Result<Vec<WriteOutcome>, String> {
    engine.flow_writer.write(writes).await
}

/// Applies one write in the next group commit.
async fn write_one(engine: &Engine, write: FlowWrite) -> Result<WriteOutcome, String> {
    write_all(engine, vec![write])
        .await?
        .pop()
        .ok_or_else(|| "no outcome".to_owned())
}

/// How a run was started (`launchedBy`).
#[derive(Debug, Clone)]
pub struct Launch {
    pub start_node_key: Option<String>,
    pub input: Option<Value>,
    pub meta: Option<Value>,
    /// `api-trigger`, `schedule-trigger`, …
    pub launched_by: &'static str,
    pub launched_by_ids: Vec<String>,
    /// The run's id, chosen by a starter that may start the same run again after
    /// a crash (an event's dispatch), through [`Flows::start_once`]: a retried
    /// start finds the run it made instead of making a second. `None`: a new id.
    pub run_id: Option<String>,
}

impl Launch {
    /// A start through the API.
    pub fn api(start_node_key: Option<String>, input: Option<Value>, meta: Option<Value>) -> Self {
        Launch {
            start_node_key,
            input,
            meta,
            launched_by: "api-trigger",
            launched_by_ids: Vec::new(),
            run_id: None,
        }
    }
}

/// What a create did.
enum Created {
    /// The run, queued (or running here).
    New(Value),
    /// A run with its id exists; nothing was stored.
    Exists,
}

/// Which runs to list (`GET /flow-runs`), as given; every filter is an equality.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowRunFilter {
    /// The integration-level flow (deprecated name of `integrationFlowId`).
    pub flow_id: Option<String>,
    pub universal_flow_id: Option<String>,
    pub integration_flow_id: Option<String>,
    /// The flow instance.
    pub connection_flow_id: Option<String>,
    /// The older name of `connectionFlowId` (used when that is not given).
    pub flow_instance_id: Option<String>,
    /// The customer, by id or key; `userId` and `customerId` are other names for
    /// it (the SDK's query has both `tenantId` and `userId`): the first given of
    /// the three applies.
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub customer_id: Option<String>,
    pub state: Option<String>,
    /// By id or key.
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    #[serde(flatten)]
    pub page: crate::log_pages::LogPageParams,
}

/// The flow runs service ([`Engine::flows`]).
#[derive(Clone, Copy)]
pub struct Flows<'e> {
    engine: &'e Engine,
}

impl<'e> Flows<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        Flows { engine }
    }

    /// Starts a run of the flow instance `id` (see the module doc).
    pub async fn start_by_instance_id(
        &self,
        caller: &Caller,
        id: &str,
        launch: Launch,
    ) -> Result<Value, ApiError> {
        let instance = self
            .engine
            .stores
            .elements
            .element_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .filter(|e| e.element_type == ElementType::FlowInstance && visible_to(caller, e))
            .ok_or_else(|| not_found(ElementType::FlowInstance, id))?;
        self.start(caller, instance, launch).await
    }

    /// Starts a run of `instance` (see the module doc); answers the run, queued.
    /// A `launch.run_id` that names a stored run is refused (`bad_request`);
    /// [`Flows::start_once`] answers that run instead.
    pub async fn start(
        &self,
        caller: &Caller,
        instance: Element,
        launch: Launch,
    ) -> Result<Value, ApiError> {
        let id = launch.run_id.clone();
        match self.create(caller, instance, launch).await? {
            Created::New(run) => Ok(run),
            Created::Exists => Err(ApiError::bad_request(
                keys::INVALID_FIELD,
                format!("A flow run `{}` exists already", id.unwrap_or_default()),
            )),
        }
    }

    /// Starts the run `launch.run_id` names unless a run with that id exists —
    /// for a starter that derives the id from what it starts (an event and the
    /// trigger it fires), so starting again after a crash, or twice at once on
    /// two nodes, leaves one run. The id is looked up first: a run found is
    /// answered as it is, whatever its instance is now (it was started; that is
    /// what the starter records). Two starts that race past the look-up make one
    /// run too: the store skips a create whose id exists without failing the rest
    /// of its group commit, and the loser answers the winner's run. Without a
    /// `run_id` it is [`Flows::start`].
    ///
    /// Answers the run's id. `Err`: whether the run exists could not be told (the
    /// database failed) — nothing was started, and the starter should try again
    /// later rather than record an outcome; `Ok(Err)`: the run could not start
    /// (the instance disabled, the queue full, …), as `start` says.
    pub async fn start_once(
        &self,
        caller: &Caller,
        instance: Element,
        launch: Launch,
    ) -> Result<Result<String, ApiError>, ApiError> {
        let Some(id) = launch.run_id.clone() else {
            let run = self.start(caller, instance, launch).await;
            return Ok(run.map(|r| r["id"].as_str().unwrap_or_default().to_owned()));
        };
        let existing = self
            .engine
            .stores
            .flow_runs
            .flow_run_by_id(&instance.workspace_id, &id)
            .await
            .map_err(store_error)?;
        if existing.is_some() {
            return Ok(Ok(id));
        }
        Ok(self.create(caller, instance, launch).await.map(|_| id))
    }

    /// [`Flows::start`], telling a run made from a create skipped because its id
    /// exists.
    async fn create(
        &self,
        caller: &Caller,
        instance: Element,
        launch: Launch,
    ) -> Result<Created, ApiError> {
        let t = ElementType::FlowInstance;
        if instance.element_type != t || !visible_to(caller, &instance) {
            return Err(not_found(t, &instance.id));
        }
        if instance.is_archived() {
            return Err(ApiError::not_found(format!(
                "The flow instance `{}` is archived; restore it to run it",
                instance.id
            )));
        }
        if instance.doc.get("enabled") == Some(&Value::Bool(false)) {
            return Err(ApiError::bad_request(
                keys::INVALID_FIELD,
                format!(
                    "The flow instance `{}` is disabled; enable it to run it",
                    instance.id
                ),
            ));
        }
        let conn_id = instance
            .connection_id
            .clone()
            .ok_or_else(|| ApiError::configuration("The flow instance has no connection"))?;
        let conn = self
            .engine
            .stores
            .elements
            .element_by_id(caller.workspace_id(), &conn_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(ElementType::Connection, &conn_id))?;
        self.engine.calls().ensure_callable(caller, &conn).await?;
        let effective = self.engine.elements().effective(&instance).await?;
        let no_nodes = Map::new();
        let nodes = effective
            .doc
            .get("nodes")
            .and_then(Value::as_object)
            .unwrap_or(&no_nodes);
        let problems = crate::types::flow::flow_graph_errors(nodes, true);
        if let Some(first) = problems.first() {
            return Err(ApiError::configuration(format!(
                "The flow cannot run: {}",
                first["message"].as_str().unwrap_or("its graph has errors")
            ))
            .with_data(json!({"errors": problems})));
        }
        let graph = graph::Graph::of(nodes);
        let start = start_node(&graph, launch.start_node_key.as_deref())?;
        let mut input = launch.input.clone().unwrap_or_else(|| json!({}));
        if start.kind == "api-trigger" {
            if let Some(schema) = start.config.get("inputSchema").filter(|s| !s.is_null()) {
                input = crate::actions::input::fit(Some(schema), input)?;
            }
        }
        let layers = self.flow_layers(&instance).await?;
        let mut row = new_row(&instance, &conn, &start.key, input, &launch, layers);
        let scheduler = &self.engine.flow_scheduler;
        let claim = scheduler.claim_for_new_run(self.engine.flow_limits.lease);
        let outcome = write_one(
            self.engine,
            FlowWrite::Create {
                run: row.clone(),
                queue_cap: self.engine.flow_limits.queue_cap,
                claim: claim.clone(),
            },
        )
        .await
        .map_err(|e| ApiError::internal(format!("could not store the flow run: {e}")))?;
        if let (WriteOutcome::Claimed, Some(claim)) = (outcome, claim) {
            self.engine
                .notifications
                .flow_run_event(&row.workspace_id, "flowRun.queued", || {
                    records::render_run(&row)
                })
                .await;
            // Its connection had nothing else to run: this node runs it now.
            row.state = "running".into();
            row.attempts = 1;
            // It runs with what was just read and checked here.
            let parts = scheduler::RunParts {
                caller: Caller {
                    workspace: Arc::clone(&caller.workspace),
                    customer_id: conn.customer_id.clone(),
                    include_secrets: false,
                },
                connection: conn,
                instance,
                effective,
                graph,
            };
            let answer = records::render_run(&row);
            self.engine.spawn_run(claim.node, row, Some(parts));
            return Ok(Created::New(answer));
        }
        if outcome == WriteOutcome::Exists {
            return Ok(Created::Exists);
        }
        if outcome == WriteOutcome::Refused {
            return Err(ApiError::bad_request(
                keys::RATE_LIMIT_EXCEEDED,
                format!(
                    "The connection `{}` already has {} queued flow runs; wait for some to finish",
                    conn.id, self.engine.flow_limits.queue_cap
                ),
            ));
        }
        self.engine.flow_scheduler.wake();
        self.engine
            .notifications
            .flow_run_event(&row.workspace_id, "flowRun.queued", || {
                records::render_run(&row)
            })
            .await;
        Ok(Created::New(records::render_run(&row)))
    }

    /// The integration-level and universal flows `instance` was made from: its
    /// parent is one or the other (an integration-level flow has an integration),
    /// and an integration-level flow's own parent is the universal one.
    async fn flow_layers(&self, instance: &Element) -> Result<FlowLayers, ApiError> {
        let Some(parent_id) = &instance.parent_id else {
            return Ok(FlowLayers::default());
        };
        let parent = self
            .engine
            .stores
            .elements
            .element_by_id(&instance.workspace_id, parent_id)
            .await
            .map_err(store_error)?;
        Ok(match parent {
            Some(p) if p.integration_id.is_some() => FlowLayers {
                integration: Some(p.id),
                universal: p.parent_id,
            },
            Some(p) => FlowLayers {
                integration: None,
                universal: Some(p.id),
            },
            None => FlowLayers {
                integration: Some(parent_id.clone()),
                universal: None,
            },
        })
    }

    /// A run the caller may see.
    async fn row(&self, caller: &Caller, id: &str) -> Result<FlowRunRow, ApiError> {
        let row = self
            .engine
            .stores
            .flow_runs
            .flow_run_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?;
        match row {
            Some(r)
                if caller
                    .customer_id
                    .as_ref()
                    .is_none_or(|me| *me == r.customer_id) =>
            {
                Ok(r)
            }
            _ => Err(ApiError::not_found(format!("No flow run `{id}`"))),
        }
    }

    /// `GET /flow-runs/{id}`; with `wait`, once the run has ended or the wait is
    /// over.
    pub async fn get(
        &self,
        caller: &Caller,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Value, ApiError> {
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return Ok(records::render_run(&self.row(caller, id).await?));
        };
        let until = tokio::time::Instant::now() + wait.min(Duration::from_secs(60));
        let scheduler = &self.engine.flow_scheduler;
        let ended = scheduler.ended(id);
        let answer = loop {
            // Listen before reading, so an ending between the two is not missed.
            let notified = ended.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mine = |ws: &str, customer: &str| {
                ws == caller.workspace_id()
                    && caller.customer_id.as_ref().is_none_or(|me| me == customer)
            };
            // A run that ended or runs on this node is answered without the
            // database.
            if let Some(row) = scheduler.ended_row(id) {
                if mine(&row.workspace_id, &row.customer_id) {
                    break Ok(records::render_run(&row));
                }
            }
            let here = scheduler.running_here(id);
            let row = match here {
                Some((ws, customer)) if mine(&ws, &customer) => None,
                _ => match self.row(caller, id).await {
                    Ok(row) => Some(row),
                    Err(e) => break Err(e),
                },
            };
            let Some(row) =
                row.filter(|r| records::is_final(&r.state) || tokio::time::Instant::now() >= until)
            else {
                if tokio::time::Instant::now() >= until {
                    // The wait is over while it runs here: as stored now.
                    break self.row(caller, id).await.map(|r| records::render_run(&r));
                }
                let step = (tokio::time::Instant::now() + Duration::from_secs(1)).min(until);
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep_until(step) => {}
                }
                continue;
            };
            break Ok(records::render_run(&row));
        };
        scheduler.release(id, ended);
        answer
    }

    /// `GET /flow-runs`: newest first unless `sortOrder=asc`; a customer sees
    /// only its own runs.
    pub async fn list(&self, caller: &Caller, f: &FlowRunFilter) -> Result<Value, ApiError> {
        let page = f.page.check()?;
        if let Some(s) = f.state.as_deref().filter(|s| !s.is_empty()) {
            if !["queued", "running"].contains(&s) && !records::is_final(s) {
                return Err(ApiError::invalid_query(
                    "state",
                    "must be queued, running, completed, failed or stopped",
                ));
            }
        }
        let calls = self.engine.calls();
        let given = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let customer = given(&f.tenant_id)
            .or(given(&f.user_id))
            .or(given(&f.customer_id));
        let Some(customer_id) = calls.log_customer(caller, customer.as_deref()).await? else {
            return Ok(json!({"items": []}));
        };
        let query = FlowRunQuery {
            workspace_id: caller.workspace_id().to_owned(),
            customer_id,
            integration_id: match given(&f.integration_id) {
                Some(i) => Some(calls.integration_id_of(caller, &i).await),
                None => None,
            },
            connection_id: given(&f.connection_id),
            connection_flow_id: given(&f.connection_flow_id).or(given(&f.flow_instance_id)),
            integration_flow_id: given(&f.integration_flow_id).or(given(&f.flow_id)),
            universal_flow_id: given(&f.universal_flow_id),
            state: given(&f.state),
            from_ms: page.from_ms,
            to_ms: page.to_ms,
            descending: page.descending,
            cursor: page.cursor,
            limit: page.limit,
        };
        let rows = self
            .engine
            .stores
            .flow_runs
            .find_flow_runs(&query)
            .await
            .map_err(store_error)?;
        let items = rows.iter().map(records::render_run).collect();
        Ok(page.answer(items, rows.last().map(|r| r.seq)))
    }

    /// `POST /flow-runs/{id}/stop`: a queued run stops at once, a running one at
    /// its next node boundary; a finished run is left as it is.
    pub async fn stop(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let row = self.row(caller, id).await?;
        if records::is_final(&row.state) {
            return Ok(records::render_run(&row));
        }
        let flows = &self.engine.stores.flow_runs;
        let row = flows
            .request_flow_run_stop(&row.workspace_id, id)
            .await
            .map_err(store_error)?
            .unwrap_or(row);
        if row.state == "queued" {
            let now = crate::clock::now_ms();
            let mut record = row.record.clone();
            record["state"] = json!("stopped");
            record["endTime"] = json!(crate::clock::iso_of_ms(now));
            let outcome = write_one(
                self.engine,
                FlowWrite::Update {
                    workspace_id: row.workspace_id.clone(),
                    id: id.to_owned(),
                    owner: None,
                    only_if_queued: true,
                    state: "stopped".into(),
                    ended_ms: Some(now),
                    record,
                },
            )
            .await
            .map_err(|e| ApiError::internal(format!("could not stop the flow run: {e}")))?;
            if outcome == WriteOutcome::Applied {
                let stopped = self.row(caller, id).await?;
                self.engine.flow_scheduler.ended_now(id);
                self.engine
                    .notifications
                    .flow_run_event(&row.workspace_id, "flowRun.stopped", || {
                        records::render_run(&stopped)
                    })
                    .await;
                self.engine.flow_scheduler.wake();
                return Ok(records::render_run(&stopped));
            }
        }
        // Running here or on another node: its scheduler sees the request at the
        // next heartbeat; this node's at once.
        self.engine.flow_scheduler.stop_local(id);
        Ok(records::render_run(&self.row(caller, id).await?))
    }

    /// `GET /flow-runs/{id}/output`.
    pub async fn output(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        Ok(records::run_output(&self.row(caller, id).await?))
    }

    /// `GET /flow-runs/{id}/nodes/{key}/runs`: node runs of one node, oldest
    /// first, without their outputs' data.
    pub async fn node_runs(
        &self,
        caller: &Caller,
        id: &str,
        node_key: &str,
        cursor: Option<i64>,
        limit: i64,
    ) -> Result<Value, ApiError> {
        let (rows, cursor) = self.node_rows(caller, id, node_key, cursor, limit).await?;
        let mut page =
            json!({"items": rows.iter().map(records::render_node_run_summary).collect::<Vec<_>>()});
        if let Some(c) = cursor {
            page["cursor"] = json!(c);
        }
        Ok(page)
    }

    async fn node_rows(
        &self,
        caller: &Caller,
        id: &str,
        node_key: &str,
        cursor: Option<i64>,
        limit: i64,
    ) -> Result<(Vec<osmosis_store::NodeRunRow>, Option<String>), ApiError> {
        let run = self.row(caller, id).await?;
        let mut rows = self
            .engine
            .stores
            .flow_runs
            .find_node_runs(&run.workspace_id, id, Some(node_key), cursor, limit + 1)
            .await
            .map_err(store_error)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let cursor = more
            .then(|| rows.last().map(|r| r.seq.to_string()))
            .flatten();
        Ok((rows, cursor))
    }

    /// `GET /flow-runs/{id}/nodes/{key}/runs/{runId}`.
    pub async fn node_run(
        &self,
        caller: &Caller,
        id: &str,
        node_key: &str,
        node_run_id: &str,
    ) -> Result<Value, ApiError> {
        let run = self.row(caller, id).await?;
        self.engine
            .stores
            .flow_runs
            .node_run_by_id(&run.workspace_id, id, node_run_id)
            .await
            .map_err(store_error)?
            .filter(|r| r.node_key == node_key)
            .map(|r| records::render_node_run(&r))
            .ok_or_else(|| {
                ApiError::not_found(format!("No run `{node_run_id}` of node `{node_key}`"))
            })
    }

    /// `GET /flow-runs/{id}/nodes/{key}/outputs`: outputs of the node's runs.
    pub async fn node_outputs(
        &self,
        caller: &Caller,
        id: &str,
        node_key: &str,
        cursor: Option<i64>,
        limit: i64,
    ) -> Result<Value, ApiError> {
        let (rows, cursor) = self.node_rows(caller, id, node_key, cursor, limit).await?;
        let items: Vec<Value> = rows.iter().flat_map(records::node_run_outputs).collect();
        let mut page = json!({"items": items});
        if let Some(c) = cursor {
            page["cursor"] = json!(c);
        }
        Ok(page)
    }

    /// `GET /flow-runs/{id}/nodes/{key}/output/{outputId}`: `{id, data}`.
    pub async fn node_output(
        &self,
        caller: &Caller,
        id: &str,
        node_key: &str,
        output_id: &str,
    ) -> Result<Value, ApiError> {
        let missing =
            || ApiError::not_found(format!("No output `{output_id}` of node `{node_key}`"));
        let node_run_id = output_id
            .rsplit_once('-')
            .map(|(r, _)| r)
            .ok_or_else(missing)?;
        let run = self.node_run(caller, id, node_key, node_run_id).await?;
        run.get("outputs")
            .and_then(Value::as_array)
            .and_then(|os| os.iter().find(|o| o["id"] == output_id))
            .map(|o| json!({"id": o["id"], "data": o["data"]}))
            .ok_or_else(missing)
    }
}

/// The node a run starts from: the named one, which must be a trigger, else the
/// only `api-trigger`.
fn start_node<'g>(
    graph: &'g graph::Graph,
    named: Option<&str>,
) -> Result<&'g graph::Node, ApiError> {
    if let Some(key) = named.filter(|k| !k.is_empty()) {
        return graph.triggers().find(|n| n.key == key).ok_or_else(|| {
            ApiError::invalid_field(
                "startNodeKey",
                format!("the flow has no trigger node `{key}` to start from"),
            )
        });
    }
    let mut api: Vec<&graph::Node> = graph
        .triggers()
        .filter(|n| n.kind == "api-trigger")
        .collect();
    match api.len() {
        1 => Ok(api.remove(0)),
        0 => Err(ApiError::configuration(
            "The flow has no api-trigger node, so it cannot be started through the API",
        )),
        _ => Err(ApiError::invalid_field(
            "startNodeKey",
            "the flow has several api-trigger nodes; name the one to start from",
        )),
    }
}

/// The flows one and two layers above a flow instance.
#[derive(Debug, Default)]
struct FlowLayers {
    integration: Option<String>,
    universal: Option<String>,
}

/// A new queued run of `instance`.
fn new_row(
    instance: &Element,
    conn: &Element,
    start: &str,
    input: Value,
    launch: &Launch,
    layers: FlowLayers,
) -> FlowRunRow {
    let id = launch
        .run_id
        .clone()
        .unwrap_or_else(osmosis_model::ids::object_id);
    let now = crate::clock::now_ms();
    let customer_id = conn.customer_id.clone().unwrap_or_default();
    let FlowLayers {
        integration: integration_flow,
        universal,
    } = layers;
    let mut record = Map::new();
    let mut put = |k: &str, v: Value| {
        record.insert(k.to_owned(), v);
    };
    put("id", json!(id));
    put("name", json!(instance.name));
    put("userId", json!(customer_id));
    put("tenantId", json!(customer_id));
    put("integrationId", json!(conn.integration_id));
    put("connectionId", json!(conn.id));
    put("connectionFlowId", json!(instance.id));
    put("flowInstanceId", json!(instance.id));
    if let Some(f) = &integration_flow {
        put("integrationFlowId", json!(f));
        put("flowId", json!(f));
    }
    if let Some(u) = &universal {
        put("universalFlowId", json!(u));
    }
    put("startNodeKey", json!(start));
    put("input", input);
    put("state", json!("queued"));
    put("startTime", json!(crate::clock::iso_of_ms(now)));
    put("errors", json!([]));
    put("nodes", json!({}));
    let mut launched = json!({"type": launch.launched_by});
    if !launch.launched_by_ids.is_empty() {
        launched["ids"] = json!(launch.launched_by_ids);
    }
    put("launchedBy", launched);
    if let Some(meta) = launch.meta.clone().filter(|m| !m.is_null()) {
        put("meta", meta);
    }
    FlowRunRow {
        seq: 0,
        id,
        workspace_id: instance.workspace_id.clone(),
        customer_id,
        integration_id: conn.integration_id.clone().unwrap_or_default(),
        connection_id: conn.id.clone(),
        connection_flow_id: instance.id.clone(),
        integration_flow_id: integration_flow,
        universal_flow_id: universal,
        state: "queued".into(),
        created_ms: now,
        ended_ms: None,
        stop_requested: false,
        attempts: 0,
        record: Value::Object(record),
    }
}
