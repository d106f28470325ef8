//! The flow run scheduler every node runs: claims runs from the database (the
//! heads of their connections' queues, in batches; see `osmosis_store::flow_runs`),
//! executes each as a task of its own, keeps its claims alive with a heartbeat,
//! and takes over the runs of a node that stopped once their leases expire.
//!
//! A run is claimed only after the transaction that created it committed (it is
//! not in the table before), and a claimed run is this node's until its lease
//! lapses: a heartbeat every third of the lease renews every claim this node
//! holds and picks up stop requests made on other nodes. On a store only this
//! node uses (SQLite), the leases of the process that ran before are released at
//! start, so its runs resume at once instead of after the lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use osmosis_model::error::ErrorType;
use osmosis_model::{ApiError, ElementType};
use osmosis_store::{FlowRunRow, StoreError};
use serde_json::{json, Map, Value};
use tokio::sync::Notify;

use super::graph::Graph;
use super::records::{render_record, render_run};
use super::runner::{Abort, Progress, RunContext, RunSignals};
use crate::{Caller, Engine};

/// Runs one node executes at once.
const MAX_ACTIVE: usize = 512;
/// Runs claimed per query.
const CLAIM_BATCH: i64 = 64;
/// How often the scheduler looks for runs when nobody wakes it (runs created on
/// other nodes, expired leases).
const POLL: Duration = Duration::from_millis(500);

/// This node's scheduler state: the runs it executes and who waits for which.
#[derive(Default)]
pub(crate) struct Scheduler {
    wake: Notify,
    active: DashMap<String, Arc<RunSignals>>,
    /// Signalled when a run ends on this node.
    endings: DashMap<String, Arc<Notify>>,
    /// Runs that ended on this node in the last seconds, as stored: a client
    /// waiting for one (`GET /flow-runs/{id}?wait=`) is answered from here.
    recent: std::sync::Mutex<RecentRuns>,
    workspaces: DashMap<String, (Instant, Arc<osmosis_store::Workspace>)>,
    /// This node's name in claims, once its scheduler runs.
    node: std::sync::OnceLock<String>,
}

/// How long an ended run is kept for waiters, and how many are kept before the
/// older ones are dropped: a waiter asks within milliseconds of the start it
/// waits for, and 1,024 runs are more than half a second at the rates measured
/// (BENCHMARKS.md, "Flow runs"); an older run is read from the database.
const RECENT: Duration = Duration::from_secs(10);
const RECENT_MAX: usize = 1024;

/// How long a workspace read for runs is used before it is read again.
const WORKSPACE_RECHECK: Duration = Duration::from_secs(5);

impl Scheduler {
    /// Wakes the claim loop (a run was created or one ended).
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// What a waiter for run `id` listens to; an ending on this node signals it.
    pub(crate) fn ended(&self, id: &str) -> Arc<Notify> {
        Arc::clone(self.endings.entry(id.to_owned()).or_default().value())
    }

    /// Forgets `notify` (from [`Scheduler::ended`]) once no other waiter holds it,
    /// so waits on runs that end elsewhere leave nothing behind.
    pub(crate) fn release(&self, id: &str, notify: Arc<Notify>) {
        drop(notify);
        self.endings.remove_if(id, |_, n| Arc::strong_count(n) == 1);
    }

    pub(crate) fn ended_now(&self, id: &str) {
        if let Some((_, n)) = self.endings.remove(id) {
            n.notify_waiters();
        }
    }

    /// The workspace `id`, re-read at most every few seconds (an archived
    /// workspace stops running flows within that time).
    async fn workspace(
        &self,
        engine: &Engine,
        id: &str,
    ) -> Result<Arc<osmosis_store::Workspace>, ApiError> {
        if let Some(w) = self.workspaces.get(id) {
            if w.0.elapsed() < WORKSPACE_RECHECK {
                return Ok(Arc::clone(&w.1));
            }
        }
        let ws = engine.workspace_by_id(id).await?;
        self.workspaces
            .insert(id.to_owned(), (Instant::now(), Arc::clone(&ws)));
        Ok(ws)
    }

    /// The claim a node makes on a run it creates, when its scheduler runs and
    /// has room for one more run (see `FlowWrite::Create`).
    pub(crate) fn claim_for_new_run(&self, lease: Duration) -> Option<osmosis_store::Claim> {
        let node = self.node.get()?;
        (self.active.len() < MAX_ACTIVE).then(|| osmosis_store::Claim {
            node: node.clone(),
            lease_until_ms: crate::clock::now_ms() + lease.as_millis() as i64,
        })
    }

    /// Run `id` as it ended on this node, if it did in the last seconds.
    pub(crate) fn ended_row(&self, id: &str) -> Option<FlowRunRow> {
        self.recent.lock().ok()?.rows.get(id).cloned()
    }

    /// Whose run `id` is — `(workspace, customer)` — while this node executes it.
    pub(crate) fn running_here(&self, id: &str) -> Option<(String, String)> {
        self.active
            .get(id)
            .map(|s| (s.workspace_id.clone(), s.customer_id.clone()))
    }

    /// Keeps how run `id` ended for waiters (and forgets what is older than
    /// [`RECENT`] once many are kept).
    fn remember_ended(&self, row: FlowRunRow) {
        if let Ok(mut recent) = self.recent.lock() {
            recent.insert(row, Instant::now());
        }
    }

    /// Stops run `id` at its next node boundary if this node executes it.
    pub(crate) fn stop_local(&self, id: &str) {
        if let Some(s) = self.active.get(id) {
            s.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The elements a run executes with, read once: at its start when the node that
/// started it runs it, else when the scheduler claims it.
pub(crate) struct RunParts {
    /// The run's own caller: its connection's customer, without secrets.
    pub caller: Caller,
    pub connection: osmosis_model::Element,
    pub instance: osmosis_model::Element,
    /// What the instance runs (its layers followed).
    pub effective: osmosis_model::Element,
    pub graph: Graph,
}

/// Runs that ended on this node lately, oldest first: forgetting is done from
/// the front, a few at a time, so keeping one costs the same however many are
/// kept (a sweep over all of them on each insert cost more than running the run
/// once thousands ended within [`RECENT`]).
#[derive(Default)]
pub(crate) struct RecentRuns {
    rows: std::collections::HashMap<String, FlowRunRow>,
    order: std::collections::VecDeque<(Instant, String)>,
}

impl RecentRuns {
    fn insert(&mut self, row: FlowRunRow, now: Instant) {
        while let Some((at, id)) = self.order.front() {
            if self.order.len() < RECENT_MAX && now.duration_since(*at) < RECENT {
                break;
            }
            self.rows.remove(id);
            self.order.pop_front();
        }
        self.order.push_back((now, row.id.clone()));
        self.rows.insert(row.id.clone(), row);
    }
}

impl Engine {
    /// The flow runs service.
    pub fn flows(&self) -> super::Flows<'_> {
        super::Flows::of(self)
    }

    /// Runs the flow scheduler until `shutdown` completes.
    pub async fn run_flow_scheduler(
        &self,
        node: String,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let _ = self.flow_scheduler.node.set(node.clone());
        if !self.stores.database.is_shared() {
            match self.stores.flow_runs.release_flow_run_leases().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    runs = n,
                    "resuming flow runs the previous process left running"
                ),
                Err(e) => tracing::warn!(error = %e, "could not release old flow run leases"),
            }
        }
        let lease = self.flow_limits.lease;
        let mut last_beat = Instant::now();
        let mut last_purge = Instant::now() - Duration::from_secs(3600);
        let (mut failures, mut beat_failures) = (0u32, 0u32);
        loop {
            // Renew before claiming: after a stall longer than the lease (a frozen
            // process, a slow database) this node's own leases have lapsed, and the
            // claim must not see its running runs as free. A failed renewal is
            // tried again at the next turn, not a third of the lease later.
            if last_beat.elapsed() >= lease / 3 {
                match self.heartbeat(&node).await {
                    Ok(()) => {
                        beat_failures = 0;
                        last_beat = Instant::now();
                    }
                    Err(e) => {
                        beat_failures += 1;
                        if beat_failures.count_ones() == 1 {
                            tracing::warn!(error = %e, failures = beat_failures, "could not renew flow run leases");
                        }
                    }
                }
            }
            let mut full = false;
            match self.claim_flow_runs(&node).await {
                Ok(n) => {
                    failures = 0;
                    full = n as i64 == CLAIM_BATCH;
                }
                Err(e) => {
                    failures += 1;
                    if failures.count_ones() == 1 {
                        tracing::warn!(error = %e, failures, "could not claim flow runs");
                    }
                }
            }
            if last_purge.elapsed() >= Duration::from_secs(3600) {
                last_purge = Instant::now();
                let before = crate::clock::now_ms() - self.flow_limits.retention.as_millis() as i64;
                // Beside the loop: a long delete must not hold back the heartbeat.
                let flow_runs = Arc::clone(&self.stores.flow_runs);
                tokio::spawn(async move {
                    match flow_runs.purge_flow_runs(before).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(deleted = n, "deleted flow runs past their retention")
                        }
                        Err(e) => tracing::warn!(error = %e, "could not delete old flow runs"),
                    }
                });
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.flow_scheduler.wake.notified() => {}
                _ = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Claims what this node has room for and starts executing it.
    async fn claim_flow_runs(&self, node: &str) -> Result<usize, StoreError> {
        let room = MAX_ACTIVE.saturating_sub(self.flow_scheduler.active.len());
        if room == 0 {
            return Ok(0);
        }
        let now = crate::clock::now_ms();
        let until = now + self.flow_limits.lease.as_millis() as i64;
        let rows = self
            .stores
            .flow_runs
            .claim_flow_runs(node, now, until, CLAIM_BATCH.min(room as i64))
            .await?;
        let count = rows.len();
        for row in rows {
            // A run this node still executes, whose lease lapsed before the
            // heartbeat renewed it: the claim renewed it; a second execution
            // would repeat its calls.
            if self.flow_scheduler.active.contains_key(&row.id) {
                tracing::warn!(flow_run = %row.id, "claimed a flow run this node already runs; it goes on once");
                continue;
            }
            self.spawn_run(node.to_owned(), row, None);
        }
        Ok(count)
    }

    /// Executes a run this node claimed, as a task of its own; `parts` when the
    /// start that created it read them a moment ago.
    pub(crate) fn spawn_run(&self, node: String, row: FlowRunRow, parts: Option<RunParts>) {
        let signals = Arc::new(RunSignals {
            stop: row.stop_requested.into(),
            workspace_id: row.workspace_id.clone(),
            customer_id: row.customer_id.clone(),
            ..Default::default()
        });
        self.flow_scheduler
            .active
            .insert(row.id.clone(), Arc::clone(&signals));
        let engine = self.clone();
        tokio::spawn(async move {
            use futures::FutureExt;
            let (id, workspace_id) = (row.id.clone(), row.workspace_id.clone());
            let run =
                std::panic::AssertUnwindSafe(engine.execute_claimed(node, row, signals, parts));
            if run.catch_unwind().await.is_err() {
                // A bug, not the run's doing: the run must still end, or its lease
                // would be renewed by this node's heartbeat forever. It ends from
                // its row as stored (no copy of it is kept for this rare case).
                tracing::error!(flow_run = %id, "executing a flow run panicked; it fails");
                let error = ApiError::internal("the flow run stopped on an internal error");
                match engine
                    .stores
                    .flow_runs
                    .flow_run_by_id(&workspace_id, &id)
                    .await
                {
                    Ok(Some(row)) => engine.fail_unstarted(&row, error).await,
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the flow run that panicked")
                    }
                }
            }
            engine.flow_scheduler.active.remove(&id);
            engine.flow_scheduler.ended_now(&id);
            engine.flow_scheduler.wake();
        });
    }

    /// Renews this node's claims; marks the runs whose stop was requested.
    /// Stops at the first renewal that fails.
    ///
    /// On a shared database (PostgreSQL) each run's lease is renewed by a statement
    /// of its own: one statement over many rows locks them one by one, in an order
    /// of its choosing, while a group commit of this node's run progress holds
    /// some of them and waits for others — a deadlock PostgreSQL breaks after a
    /// second by failing one side (the renewal, so leases lapse and other nodes
    /// take running runs over, repeating their calls; or the group commit, so runs
    /// are left unfinished). A single-row statement holds nothing while it waits.
    async fn heartbeat(&self, node: &str) -> Result<(), StoreError> {
        let ids: Vec<String> = self
            .flow_scheduler
            .active
            .iter()
            .map(|e| e.key().clone())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let until = crate::clock::now_ms() + self.flow_limits.lease.as_millis() as i64;
        let per_statement = if self.stores.database.is_shared() {
            1
        } else {
            ids.len()
        };
        for group in ids.chunks(per_statement) {
            let stopping = self
                .stores
                .flow_runs
                .extend_flow_run_leases(node, group, until)
                .await?;
            for id in stopping {
                self.flow_scheduler.stop_local(&id);
            }
        }
        Ok(())
    }

    /// Executes one claimed run to its end and records how it ended.
    #[tracing::instrument(skip_all, fields(flow_run = %row.id, attempt = row.attempts))]
    async fn execute_claimed(
        &self,
        node: String,
        row: FlowRunRow,
        signals: Arc<RunSignals>,
        parts: Option<RunParts>,
    ) {
        let parts = match parts {
            Some(parts) => parts,
            None => match self.run_parts(&row).await {
                Ok(parts) => parts,
                Err(e) => return self.fail_unstarted(&row, e).await,
            },
        };
        let ctx = match self.run_context(node, row, signals, parts).await {
            Ok(ctx) => Arc::new(ctx),
            Err((e, row)) => return self.fail_unstarted(&row, e).await,
        };
        let row = &ctx.row;
        if ctx.row.attempts == 1 {
            self.notifications
                .flow_run_event(&row.workspace_id, "flowRun.started", || {
                    strip(ctx.record_of(&Progress::default(), "running"))
                })
                .await;
        }
        let outcome = ctx.execute().await;
        let (state, error) = match outcome {
            Ok(()) => ("completed", None),
            Err(Abort::Failed(e)) => ("failed", Some(e)),
            Err(Abort::Stopped) => ("stopped", None),
            Err(Abort::TimedOut) => (
                "failed",
                Some(ApiError::new(
                    ErrorType::FlowRun,
                    Some("flow_run_timeout"),
                    format!(
                        "The flow run took longer than its limit of {} seconds",
                        self.flow_limits.max_run.as_secs()
                    ),
                )),
            ),
            Err(Abort::LeaseLost) => {
                tracing::warn!("another node took the flow run over; this node leaves it");
                return;
            }
            Err(Abort::Store(e)) => {
                // Its lease lapses and a node takes it over from what was stored.
                tracing::error!(error = %e, "could not store a flow run's progress");
                return;
            }
        };
        let now = crate::clock::now_ms();
        if let Ok(mut s) = ctx.state.lock() {
            s.pending_calls = false;
            if let Some(e) = &error {
                s.errors
                    .push(serde_json::to_value(e).unwrap_or(Value::Null));
            }
            s.end_time = Some(now);
        }
        match ctx.flush(Some((state, now))).await {
            Ok(record) => {
                crate::metrics::record_flow_run(state, now - ctx.row.created_ms);
                let ended = FlowRunRow {
                    state: state.to_owned(),
                    ended_ms: Some(now),
                    record,
                    ..ctx.row.without_record()
                };
                self.notifications
                    .flow_run_event(&row.workspace_id, &format!("flowRun.{state}"), || {
                        strip(ended.record.clone())
                    })
                    .await;
                self.flow_scheduler.remember_ended(ended);
            }
            Err(Abort::LeaseLost) => {
                tracing::warn!("another node took the flow run over before it ended here")
            }
            Err(_) => tracing::error!("could not store how a flow run ended"),
        }
    }

    /// A claimed run that cannot start (its connection or instance is gone), or
    /// whose execution panicked, fails with why.
    async fn fail_unstarted(&self, row: &FlowRunRow, error: ApiError) {
        let now = crate::clock::now_ms();
        let mut record = row.record.clone();
        record["state"] = json!("failed");
        record["errors"] = json!([error]);
        record["endTime"] = json!(crate::clock::iso_of_ms(now));
        let write = osmosis_store::FlowWrite::Update {
            workspace_id: row.workspace_id.clone(),
            id: row.id.clone(),
            owner: None,
            only_if_queued: false,
            state: "failed".into(),
            ended_ms: Some(now),
            record: record.clone(),
        };
        match super::write_all(self, vec![write]).await {
            Ok(_) => {
                crate::metrics::record_flow_run("failed", now - row.created_ms);
                let done = FlowRunRow {
                    state: "failed".into(),
                    record,
                    ..row.without_record()
                };
                self.notifications
                    .flow_run_event(&row.workspace_id, "flowRun.failed", || render_run(&done))
                    .await;
            }
            Err(e) => tracing::error!(error = %e, "could not record that a flow run failed"),
        }
    }

    /// What a run claimed by the scheduler loop needs from the elements, read
    /// when it is claimed: its connection (callable), its instance and what that
    /// instance runs.
    async fn run_parts(&self, row: &FlowRunRow) -> Result<RunParts, ApiError> {
        let workspace = self
            .flow_scheduler
            .workspace(self, &row.workspace_id)
            .await?;
        let elements = &self.stores.elements;
        let gone = |t: ElementType, id: &str| {
            ApiError::new(
                ErrorType::FlowRun,
                Some("not_found"),
                format!("The {} `{id}` the run needs is gone or archived", t.name()),
            )
        };
        let connection = elements
            .element_by_id(&row.workspace_id, &row.connection_id)
            .await
            .map_err(crate::errors::store_error)?
            .filter(|c| !c.is_archived())
            .ok_or_else(|| gone(ElementType::Connection, &row.connection_id))?;
        let caller = Caller {
            workspace,
            customer_id: connection.customer_id.clone(),
            include_secrets: false,
        };
        self.calls().ensure_callable(&caller, &connection).await?;
        let instance = elements
            .element_by_id(&row.workspace_id, &row.connection_flow_id)
            .await
            .map_err(crate::errors::store_error)?
            .filter(|i| !i.is_archived())
            .ok_or_else(|| gone(ElementType::FlowInstance, &row.connection_flow_id))?;
        let effective = self.elements().effective(&instance).await?;
        let graph = Graph::of(
            effective
                .doc
                .get("nodes")
                .and_then(Value::as_object)
                .unwrap_or(&Map::new()),
        );
        Ok(RunParts {
            caller,
            connection,
            instance,
            effective,
            graph,
        })
    }

    /// Everything a run needs, from its parts (read when it was claimed, or
    /// handed over by the start that claimed it).
    async fn run_context(
        &self,
        node: String,
        mut row: FlowRunRow,
        signals: Arc<RunSignals>,
        parts: RunParts,
    ) -> Result<RunContext, (ApiError, FlowRunRow)> {
        let (base, stored) = match self.run_variables(&row, &parts).await {
            Ok(read) => read,
            Err(e) => return Err((e, row)),
        };
        // The time limit counts from when execution first began.
        let now = crate::clock::now_ms();
        let since = row
            .record
            .get("runningSince")
            .and_then(Value::as_i64)
            .unwrap_or(now);
        if let Value::Object(m) = &mut row.record {
            m.insert("runningSince".into(), json!(since));
        }
        let left = (since + self.flow_limits.max_run.as_millis() as i64 - now).max(0);
        Ok(RunContext {
            engine: self.clone(),
            node_id: node,
            caller: parts.caller,
            connection: parts.connection,
            graph: parts.graph,
            row,
            base_vars: base,
            stored,
            signals,
            limits: self.flow_limits,
            deadline: Instant::now() + Duration::from_millis(left as u64),
            state: Default::default(),
        })
    }

    /// The run-time variables of a run (`user`, `flowRun`, `flowInstance`,
    /// `connection`, `integration`) and, for a run taken over, the node runs it
    /// stored before.
    async fn run_variables(
        &self,
        row: &FlowRunRow,
        parts: &RunParts,
    ) -> Result<
        (
            Map<String, Value>,
            std::collections::HashMap<String, osmosis_store::NodeRunRow>,
        ),
        ApiError,
    > {
        let RunParts {
            caller,
            connection: conn,
            instance,
            effective,
            ..
        } = parts;
        let elements = &self.stores.elements;
        let user = self.actions().user_variable(caller, Some(conn)).await?;
        let mut base = Map::new();
        base.insert("user".into(), user);
        base.insert("flowRun".into(), json!({"id": row.id}));
        base.insert(
            "flowInstance".into(),
            json!({
                "id": instance.id,
                "instanceKey": instance.instance_key,
                "flowId": instance.parent_id,
                "parameters": effective_parameters(instance, effective),
            }),
        );
        base.insert(
            "connection".into(),
            json!({"id": conn.id, "name": conn.name}),
        );
        if let Some(iid) = &conn.integration_id {
            let integration = elements
                .element_by_id(&row.workspace_id, iid)
                .await
                .map_err(crate::errors::store_error)?;
            base.insert(
                "integration".into(),
                json!({"id": iid, "key": integration.as_ref().and_then(|i| i.key.clone()), "name": integration.map(|i| i.name)}),
            );
        }
        let stored = if row.attempts > 1 {
            self.stores
                .flow_runs
                .find_node_runs(&row.workspace_id, &row.id, None, None, i64::MAX / 2)
                .await
                .map_err(crate::errors::store_error)?
                .into_iter()
                .map(|r| (r.id.clone(), r))
                .collect()
        } else {
            Default::default()
        };
        Ok((base, stored))
    }
}

/// The instance's `parameters` (its own, else its flow's).
fn effective_parameters(
    instance: &osmosis_model::Element,
    effective: &osmosis_model::Element,
) -> Value {
    instance
        .doc
        .get("parameters")
        .or_else(|| effective.doc.get("parameters"))
        .cloned()
        .unwrap_or_else(|| json!({}))
}

/// A run record as the API shows it.
fn strip(record: Value) -> Value {
    let state = record["state"].as_str().unwrap_or_default().to_owned();
    render_record(&record, &state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> FlowRunRow {
        FlowRunRow {
            seq: 0,
            id: id.into(),
            workspace_id: "w".into(),
            customer_id: "c".into(),
            integration_id: "i".into(),
            connection_id: "c1".into(),
            connection_flow_id: "f1".into(),
            integration_flow_id: None,
            universal_flow_id: None,
            state: "completed".into(),
            created_ms: 0,
            ended_ms: Some(1),
            stop_requested: false,
            attempts: 1,
            record: json!({}),
        }
    }

    #[test]
    fn recent_runs_keep_at_most_the_newest_and_forget_the_old() {
        let mut recent = RecentRuns::default();
        let t0 = Instant::now();
        for i in 0..RECENT_MAX + 10 {
            recent.insert(row(&format!("r{i}")), t0);
        }
        assert_eq!(recent.rows.len(), RECENT_MAX);
        assert!(!recent.rows.contains_key("r9"));
        assert!(recent.rows.contains_key("r10"));
        recent.insert(row("late"), t0 + RECENT + Duration::from_millis(1));
        assert_eq!(recent.rows.len(), 1, "everything older than RECENT is gone");
        assert!(recent.rows.contains_key("late"));
        assert_eq!(recent.order.len(), 1);
    }
}
