//! A flow instance's triggers while it is enabled (semantics §4.3–4.4): enabling
//! (or making, or setting up) an instance sets them up, disabling (or archiving)
//! tears them down. [`setup_triggers`] and [`teardown_triggers`] are the two
//! places to extend for triggers that subscribe to events (webhooks, polling,
//! app events); today they serve **schedule triggers**.
//!
//! A schedule trigger is one job per (instance, node): `flow-schedule` with the
//! dedupe key `<instance id>/<node key>`, due at the next tick. The jobs table
//! hands each due job to exactly one node, so each tick starts at most one run,
//! whatever the number of nodes. The job first reads the instance as stored now:
//! while it is live, enabled, on a live connection, and its flow (as the instance
//! runs it) still has that schedule trigger with a valid schedule, the job moves
//! itself to the next tick — computed from now, so after downtime it fires once
//! and keeps its cadence from there, never a burst — and then starts a run
//! through [`super::super::Flows::start`], as the workspace admin, launched by
//! `schedule-trigger` with the instance's id, from that node, with
//! `{triggeredAt}` as input. Otherwise it stops: nothing is rescheduled and no
//! run starts. A run that cannot start (the connection's queue is full, the
//! connection needs reconnecting) is logged and the schedule goes on.
//!
//! An archived connection ends its instances' schedules at their next tick;
//! restoring it sets its live instances' triggers up again.
//!
//! Tearing down does not delete the job: it makes it due at once as a check
//! (`checkOnly`), which stops it — or, if the instance turns out to still want
//! it, moves it to the next tick without a run. So a stale teardown or setup
//! never starts a run that should not happen, and never loses one that should.

use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, Job, RefFilter};
use serde_json::{json, Map, Value};

use futures::TryStreamExt;

use crate::flows::Launch;
use crate::jobs::{JobKind, RetryPolicy};
use crate::types::flow::schedule::Schedule;
use crate::Engine;

/// The job that fires one schedule trigger of one instance.
pub(crate) struct FlowScheduleJob;

/// What a `flow-schedule` job is about.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduleTick {
    pub instance_id: String,
    pub node_key: String,
    /// Only check whether the schedule is still wanted (a teardown): never start
    /// a run.
    #[serde(default)]
    pub check_only: bool,
}

impl JobKind for FlowScheduleJob {
    const KIND: &'static str = "flow-schedule";
    /// A tick fails only when the database does; it is retried until it answers
    /// (a dropped job would end the schedule).
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: i32::MAX,
        backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 300_000, attempts as i64),
    };
    type Payload = ScheduleTick;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        tick: ScheduleTick,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(run_tick(engine, job, tick))
    }
}

/// The dedupe key of an instance's schedule trigger.
pub(crate) fn dedupe_key(instance_id: &str, node_key: &str) -> String {
    format!("{instance_id}/{node_key}")
}

/// One schedule trigger of a definition.
struct Trigger {
    key: String,
    /// The node's config as written, to tell a changed schedule.
    config: Value,
    schedule: Schedule,
}

/// The schedule triggers of `nodes` with a valid schedule; none when the graph
/// has errors (the flow cannot run at all then).
fn schedule_triggers(nodes: &Map<String, Value>) -> Vec<Trigger> {
    if !crate::types::flow::flow_graph_errors(nodes, true).is_empty() {
        return Vec::new();
    }
    nodes
        .iter()
        .filter(|(_, n)| n.get("type").and_then(Value::as_str) == Some("schedule-trigger"))
        .filter_map(|(k, n)| {
            let config = n.get("config").cloned().unwrap_or(Value::Null);
            let schedule = Schedule::of(Some(&config)).ok()?;
            Some(Trigger {
                key: k.clone(),
                config,
                schedule,
            })
        })
        .collect()
}

/// The schedule triggers of the definition `el` runs (its own, or the flow's it
/// follows).
async fn defined(engine: &Engine, el: &Element) -> Result<Vec<Trigger>, ApiError> {
    let effective = engine.elements().effective(el).await?;
    Ok(schedule_triggers(
        effective
            .doc
            .get("nodes")
            .and_then(Value::as_object)
            .unwrap_or(&Map::new()),
    ))
}

/// Whether `instance` fires its triggers now: live, enabled, on a live connection.
pub(crate) async fn active(engine: &Engine, instance: &Element) -> Result<bool, ApiError> {
    if instance.is_archived() || instance.doc.get("enabled") == Some(&Value::Bool(false)) {
        return Ok(false);
    }
    let Some(cid) = &instance.connection_id else {
        return Ok(false);
    };
    let conn = engine
        .stores
        .elements
        .element_by_id(&instance.workspace_id, cid)
        .await
        .map_err(crate::errors::store_error)?;
    Ok(conn.is_some_and(|c| !c.is_archived()))
}

/// The schedule triggers `instance` should have running now.
async fn wanted(engine: &Engine, instance: &Element) -> Result<Vec<Trigger>, ApiError> {
    if !active(engine, instance).await? {
        return Ok(Vec::new());
    }
    defined(engine, instance).await
}

/// Queues the job of `key` on `instance`, due at `run_at`.
async fn schedule(engine: &Engine, instance: &Element, key: &str, run_at: i64, check_only: bool) {
    let tick = ScheduleTick {
        instance_id: instance.id.clone(),
        node_key: key.to_owned(),
        check_only,
    };
    if let Err(e) = engine
        .jobs
        .schedule::<FlowScheduleJob>(
            &instance.workspace_id,
            dedupe_key(&instance.id, key),
            &tick,
            run_at,
        )
        .await
    {
        tracing::warn!(workspace_id = %instance.workspace_id, instance = %instance.id, node = key, error = %e, "could not schedule a flow schedule trigger");
    }
}

/// Starts `trigger` on `instance`: its first tick from now.
async fn start(engine: &Engine, instance: &Element, trigger: &Trigger) {
    let now = crate::clock::now_ms();
    if let Some(at) = trigger.schedule.next_after(now) {
        schedule(engine, instance, &trigger.key, at, false).await;
    }
}

/// Sets up every trigger of `instance` that it should have now (a new, enabled,
/// restored or set-up instance); schedules start from now. Where event triggers
/// (webhooks, polling, app events) will subscribe too.
pub(crate) async fn setup_triggers(engine: &Engine, instance: &Element) {
    match wanted(engine, instance).await {
        Ok(triggers) => {
            for t in &triggers {
                start(engine, instance, t).await;
            }
            engine.subscribe_app_event_triggers(instance).await;
        }
        Err(e) => {
            tracing::warn!(workspace_id = %instance.workspace_id, instance = %instance.id, error = %e.message, "could not set up a flow instance's triggers")
        }
    }
    engine.sync_external_event_subscriptions(instance).await;
}

/// Tears down every trigger of `instance` (disabled or archived). Where event
/// triggers will unsubscribe too.
pub(crate) async fn teardown_triggers(engine: &Engine, instance: &Element) {
    match defined(engine, instance).await {
        Ok(triggers) => {
            for t in &triggers {
                check_now(engine, instance, &t.key).await;
            }
        }
        Err(e) => {
            tracing::warn!(workspace_id = %instance.workspace_id, instance = %instance.id, error = %e.message, "could not tear down a flow instance's triggers")
        }
    }
    engine.sync_external_event_subscriptions(instance).await;
}

/// Makes the job of `key` check at once whether it is still wanted.
async fn check_now(engine: &Engine, instance: &Element, key: &str) {
    schedule(engine, instance, key, crate::clock::now_ms(), true).await;
}

/// Brings the triggers of an instance in line with a change from `before` to
/// `after`: triggers it now wants that it did not (or with another schedule)
/// start from now; triggers it no longer wants stop. Unchanged ones keep their
/// cadence.
pub(crate) async fn sync_triggers(engine: &Engine, before: &Element, after: &Element) {
    engine.sync_external_event_subscriptions(after).await;
    let (old, new) = match (wanted(engine, before).await, wanted(engine, after).await) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(workspace_id = %after.workspace_id, instance = %after.id, error = %e.message, "could not update a flow instance's triggers");
            return;
        }
    };
    apply_change(engine, after, &old, &new).await;
}

async fn apply_change(engine: &Engine, instance: &Element, old: &[Trigger], new: &[Trigger]) {
    for t in new {
        if !old.iter().any(|o| o.key == t.key && o.config == t.config) {
            start(engine, instance, t).await;
        }
    }
    for o in old {
        if !new.iter().any(|t| t.key == o.key) {
            check_now(engine, instance, &o.key).await;
        }
    }
}

/// After a flow changed from `before` to `after`: the instances that run its
/// definition (not customised) get their schedules in line with its schedule
/// triggers.
pub(crate) async fn sync_followers(engine: &Engine, before: &Element, after: &Element) {
    if let Err(e) = try_sync_followers(engine, before, after).await {
        tracing::warn!(workspace_id = %after.workspace_id, flow = %after.id, error = %e.message, "could not update the schedules of a flow's instances");
    }
}

async fn try_sync_followers(
    engine: &Engine,
    before: &Element,
    after: &Element,
) -> Result<(), ApiError> {
    let old = if before.is_archived() {
        Vec::new()
    } else {
        defined(engine, before).await?
    };
    let new = if after.is_archived() {
        Vec::new()
    } else {
        defined(engine, after).await?
    };
    let same = old.len() == new.len()
        && new
            .iter()
            .all(|t| old.iter().any(|o| o.key == t.key && o.config == t.config));
    if same {
        return Ok(());
    }
    let source = engine.elements().effective(after).await?.id;
    let mut seen = std::collections::BTreeSet::new();
    let by_universal = vec![("universalFlowId".to_owned(), json!(after.id))];
    for (parent, doc_equals) in [
        (RefFilter::Is(after.id.clone()), Vec::new()),
        (RefFilter::Any, by_universal),
    ] {
        let mut q = ElementQuery::new(&after.workspace_id, ElementType::FlowInstance);
        q.parent = parent;
        q.doc_equals = doc_equals;
        q.limit = 500;
        let mut pages = std::pin::pin!(crate::elements::element_pages(&*engine.stores.elements, q));
        while let Some(instances) = pages.try_next().await? {
            for instance in &instances {
                if !seen.insert(instance.id.clone()) {
                    continue;
                }
                // Customised (or following another copy): its own definition.
                if engine.elements().effective(instance).await?.id != source {
                    continue;
                }
                if active(engine, instance).await? {
                    apply_change(engine, instance, &old, &new).await;
                }
            }
        }
    }
    Ok(())
}

/// One tick of a schedule trigger (see the module doc).
async fn run_tick(engine: &Engine, job: &Job, tick: ScheduleTick) -> Result<(), String> {
    let stop = |why: &str| {
        tracing::info!(workspace_id = %job.workspace_id, instance = %tick.instance_id, node = %tick.node_key, why, "flow schedule stopped");
        Ok(())
    };
    let instance = engine
        .stores
        .elements
        .element_by_id(&job.workspace_id, &tick.instance_id)
        .await
        .map_err(|e| e.to_string())?
        .filter(|i| i.element_type == ElementType::FlowInstance);
    let Some(instance) = instance else {
        return stop("the flow instance is gone");
    };
    let triggers = wanted(engine, &instance).await.map_err(|e| e.message)?;
    let Some(trigger) = triggers.into_iter().find(|t| t.key == tick.node_key) else {
        return stop("the instance is disabled or archived, its connection is archived, or its flow has no such valid schedule trigger");
    };
    let now = crate::clock::now_ms();
    let Some(next) = trigger.schedule.next_after(now) else {
        return stop("the schedule has no next tick");
    };
    let admin = match engine.workspace_by_id(&job.workspace_id).await {
        Ok(ws) => crate::Caller::admin(ws),
        Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::NOT_FOUND) => {
            return stop("the workspace is gone");
        }
        Err(e) => return Err(e.message),
    };
    // The next tick first: a run is started at most once per tick, even if this
    // node dies right after starting it.
    let next_tick = ScheduleTick {
        check_only: false,
        ..tick.clone()
    };
    engine
        .jobs
        .schedule::<FlowScheduleJob>(&job.workspace_id, job.dedupe_key.clone(), &next_tick, next)
        .await
        .map_err(|e| e.to_string())?;
    if tick.check_only {
        return Ok(());
    }
    let launch = Launch {
        start_node_key: Some(trigger.key.clone()),
        input: Some(json!({"triggeredAt": crate::clock::iso_of_ms(now)})),
        meta: None,
        launched_by: "schedule-trigger",
        launched_by_ids: vec![instance.id.clone()],
        run_id: None,
    };
    let id = instance.id.clone();
    match engine.flows().start(&admin, instance, launch).await {
        Ok(run) => {
            tracing::debug!(workspace_id = %job.workspace_id, instance = %id, node = %trigger.key, run = %run["id"], "schedule trigger started a flow run")
        }
        Err(e) => {
            tracing::warn!(workspace_id = %job.workspace_id, instance = %id, node = %trigger.key, error = %e.message, "a schedule trigger could not start its flow run")
        }
    }
    Ok(())
}
