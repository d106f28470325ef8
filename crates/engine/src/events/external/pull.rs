//! Polling: the `external-event-pull` job of each subscribed subscription, one
//! pull ([`pull`]) and the flow runs its events start ([`launch`]).

use std::collections::HashMap;

use osmosis_connectors::definition::CollectionMethod;
use osmosis_model::{ApiError, Element};
use osmosis_store::{
    ExternalEventLogRow, ExternalEventPullRow, ExternalEventSubscriptionRow, Job, PullFinish,
    PullStart, SnapshotChange,
};
use serde_json::{json, Value};

use super::subscriptions::{self, fingerprint};
use super::SubscriptionTick;
use crate::connections::{CallError, CallFailure};
use crate::errors::store_error;
use crate::flows::Launch;
use crate::jobs::{JobKind, RetryPolicy};
use crate::{Caller, Engine};

/// Pulls one workspace may run at once, across nodes (semantics §5.6).
const WORKSPACE_PULLS: i64 = 10;

/// How long a running pull holds its connection's lock. No heartbeat renews it: a
/// pull is bounded by its pages ([`MAX_PAGES`], each call within the call
/// deadline), so one still running after this is on a node that died.
const PULL_LEASE_MS: i64 = 30 * 60 * 1000;

/// Pages one pull reads at most: a change feed that never ends its cursor, or a
/// collection too large to scan whole, fails the pull rather than hold the lock.
const MAX_PAGES: usize = 1000;

/// When a pull that found its connection or workspace busy is tried again.
const BUSY_RETRY_MS: i64 = 15_000;

/// Events per flow run (semantics §4.3: too many events are split into groups,
/// each its own run).
const EVENTS_PER_RUN: usize = 100;

/// Stranded events (see [`launch_stranded`]) launched each time a subscription's
/// work runs: a whole number of groups, so the groups are those the first launch
/// made, and their runs the runs it may have started.
const STRANDED_BATCH: i64 = 10 * EVENTS_PER_RUN as i64;

/// Why the events of an archived subscription that never started their runs
/// never will.
const ABANDONED: &str = "The external event subscription was archived before this event started its flow runs: none will start";

/// The job that pulls one subscription, due at its `nextPullEventsTimestamp`.
pub(crate) struct ExternalEventPullJob;

impl JobKind for ExternalEventPullJob {
    const KIND: &'static str = "external-event-pull";
    /// A job fails only when the database does (a failed pull is recorded and
    /// the job goes on); retried until it answers, or the polling would end.
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: i32::MAX,
        backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 300_000, attempts as i64),
    };
    type Payload = SubscriptionTick;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        tick: SubscriptionTick,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(run_job(engine, job, tick))
    }
}

/// Queues the pull of `row` at `at` (one pending job per subscription).
pub(crate) async fn schedule(engine: &Engine, row: &ExternalEventSubscriptionRow, at: i64) {
    super::schedule_job::<ExternalEventPullJob>(engine, row, at).await
}

/// One pull job: while the subscription is subscribed and its connection live,
/// the next pull is queued first (so the polling survives this node dying), then
/// this one runs. A connection archived meanwhile has its subscriptions archived.
async fn run_job(engine: &Engine, job: &Job, tick: SubscriptionTick) -> Result<(), String> {
    let store = &engine.stores.external_events;
    let Some(row) = store
        .external_event_subscription(&job.workspace_id, &tick.subscription_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    if row.archived_ms.is_some() {
        return abandon_stranded(engine, &row.workspace_id, &row.id)
            .await
            .map_err(|e| e.message);
    }
    // A subscription served by a webhook now has nothing to pull.
    if row.status != "subscribed" || super::webhooks::is_webhook(&row) {
        return Ok(());
    }
    let Some(conn) = subscriptions::live_connection(engine, &row.workspace_id, &row.connection_id)
        .await
        .map_err(|e| e.message)?
    else {
        return subscriptions::sync_connection(engine, &row.workspace_id, &row.connection_id)
            .await
            .map_err(|e| e.message);
    };
    let now = crate::clock::now_ms();
    schedule(engine, &row, now + interval_ms(&row)).await;
    match pull(engine, &row, &conn).await {
        Ok(Pulled::Busy) => schedule(engine, &row, now + BUSY_RETRY_MS).await,
        Ok(Pulled::Done) => {}
        Err(e) => {
            tracing::info!(workspace_id = %row.workspace_id, subscription = %row.id, error = %e.message, "an external event pull failed")
        }
    }
    Ok(())
}

fn interval_ms(row: &ExternalEventSubscriptionRow) -> i64 {
    row.details
        .get("intervalSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(subscriptions::DEFAULT_PULL_SECONDS)
        .max(subscriptions::MIN_INTERVAL_SECONDS)
        * 1000
}

/// How a pull went.
#[derive(Debug)]
pub(crate) enum Pulled {
    /// It ran (its record says how).
    Done,
    /// The connection runs a pull of its kind, or the workspace as many as it
    /// may: nothing was done.
    Busy,
}

/// What one pull found.
struct Found {
    /// `{type, record}` of each event.
    events: Vec<Value>,
    state: Value,
    snapshot: SnapshotChange,
}

/// Pulls `row` now (see the module doc of `external`): records an
/// `external-event-pull` (running, then success or error), stores what it found
/// with it, then starts the flow runs of its events. Before it pulls, while it
/// holds the pull's lock, the events earlier pulls stored and never launched are
/// ([`launch_stranded`]). An error is the pull's.
pub(crate) async fn pull(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
    conn: &Element,
) -> Result<Pulled, ApiError> {
    let implementation = row.details["implementation"]
        .as_str()
        .unwrap_or("full-scan");
    let now = crate::clock::now_ms();
    let pull_row = ExternalEventPullRow {
        seq: 0,
        id: osmosis_model::ids::object_id(),
        workspace_id: row.workspace_id.clone(),
        customer_id: row.customer_id.clone(),
        integration_id: row.integration_id.clone(),
        connection_id: row.connection_id.clone(),
        subscription_id: row.id.clone(),
        is_full_scan: implementation == "full-scan",
        status: "running".into(),
        error: None,
        event_ids: Vec::new(),
        started_ms: now,
        ended_ms: None,
        lease_until_ms: now + PULL_LEASE_MS,
    };
    let store = &engine.stores.external_events;
    match store
        .start_external_event_pull(&pull_row, WORKSPACE_PULLS, now)
        .await
        .map_err(store_error)?
    {
        PullStart::Started => {}
        PullStart::ConnectionBusy | PullStart::WorkspaceBusy => return Ok(Pulled::Busy),
    }
    // What the previous pull left, read under the lock: a pull that ended while
    // this one waited for it has moved the state on (a stale state would take the
    // baseline again and swallow the changes since).
    let fresh = store
        .external_event_subscription(&row.workspace_id, &row.id)
        .await
        .map_err(store_error)?;
    let row = fresh.as_ref().unwrap_or(row);
    let admin = Caller::admin(engine.workspace_by_id(&row.workspace_id).await?);
    if let Err(e) = launch_stranded(engine, &admin, row, conn).await {
        tracing::warn!(workspace_id = %row.workspace_id, subscription = %row.id, error = %e.message, "could not launch the stranded events of a subscription");
    }
    let found = match implementation {
        "pull-latest-records" => latest_records(engine, &admin, conn, row).await,
        _ => full_scan(engine, &admin, conn, row).await,
    };
    let ended = crate::clock::now_ms();
    let mut finish = PullFinish {
        workspace_id: row.workspace_id.clone(),
        pull_id: pull_row.id.clone(),
        subscription_id: row.id.clone(),
        ended_ms: ended,
        error: None,
        state_data: None,
        next_pull_ms: Some(ended + interval_ms(row)),
        snapshot: SnapshotChange::default(),
        events: Vec::new(),
    };
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            finish.error = Some(serde_json::to_value(&e).unwrap_or(Value::Null));
            store
                .finish_external_event_pull(&finish)
                .await
                .map_err(store_error)?;
            return Err(e);
        }
    };
    finish.state_data = Some(found.state);
    finish.snapshot = found.snapshot;
    finish.events = found
        .events
        .into_iter()
        .map(|payload| ExternalEventLogRow {
            seq: 0,
            id: osmosis_model::ids::object_id(),
            workspace_id: row.workspace_id.clone(),
            customer_id: row.customer_id.clone(),
            integration_id: row.integration_id.clone(),
            connection_id: row.connection_id.clone(),
            subscription_id: row.id.clone(),
            status: "created".into(),
            error: None,
            payload,
            launched_flow_run_ids: Vec::new(),
            created_ms: ended,
            dedupe_key: None,
        })
        .collect();
    if !store
        .finish_external_event_pull(&finish)
        .await
        .map_err(store_error)?
    {
        return Err(ApiError::bad_request(
            osmosis_model::error::keys::INVALID_FIELD,
            osmosis_store::PULL_SUBSCRIPTION_GONE,
        ));
    }
    launch(engine, &admin, row, conn, &finish.events).await;
    Ok(Pulled::Done)
}

/// The collection, its parameters and the collection event of `row`.
pub(crate) fn target(row: &ExternalEventSubscriptionRow) -> (String, Value, &'static str) {
    let ds = &row.config["dataSource"];
    (
        ds["collectionKey"].as_str().unwrap_or_default().to_owned(),
        ds.get("collectionParameters")
            .filter(|p| p.is_object())
            .cloned()
            .unwrap_or_else(|| json!({})),
        subscriptions::event_of(row.config["type"].as_str().unwrap_or_default())
            .unwrap_or("created"),
    )
}

/// The snapshot of `row` by record id.
async fn snapshot(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
) -> Result<HashMap<String, String>, ApiError> {
    Ok(engine
        .stores
        .external_events
        .external_event_snapshot(&row.id)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect())
}

fn record_id(record: &Value) -> Option<String> {
    match record.get("id")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `pull-latest-records`: the records changed since the cursor in `stateData`,
/// page after page while the cursor moves. A record whose id the snapshot lacks is
/// created, one whose fingerprint changed updated, one unchanged (a change feed
/// may repeat a record) no event. The first pull pages through the whole feed
/// from its start to take the baseline — the cursor to go on from, and the
/// snapshot of every record seen — and reports nothing.
async fn latest_records(
    engine: &Engine,
    admin: &Caller,
    conn: &Element,
    row: &ExternalEventSubscriptionRow,
) -> Result<Found, ApiError> {
    let (key, parameters, event) = target(row);
    let baseline = row.state_data.is_none();
    let mut cursor = row
        .state_data
        .as_ref()
        .and_then(|s| s.get("cursor"))
        .filter(|c| !c.is_null())
        .cloned();
    let mut records: Vec<Value> = Vec::new();
    for page_number in 0.. {
        if page_number == MAX_PAGES {
            return Err(too_many_pages(records.len()));
        }
        let page = engine
            .calls()
            .call_connection(admin, conn, |runner| {
                let (key, parameters, cursor) = (key.clone(), parameters.clone(), cursor.clone());
                async move {
                    Ok::<_, CallFailure>(
                        osmosis_connectors::collections::pull_latest_records(
                            &runner, &key, event, cursor, parameters,
                        )
                        .await?,
                    )
                }
            })
            .await
            .map_err(|e: CallError<CallFailure>| ApiError::from(e))?;
        let got = page
            .get("records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let empty = got.is_empty();
        records.extend(got);
        match page.get("cursor").filter(|c| !c.is_null()) {
            Some(next) if Some(next) != cursor.as_ref() => {
                cursor = Some(next.clone());
                if empty {
                    break;
                }
            }
            _ => break,
        }
    }
    let known = snapshot(engine, row).await?;
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut events = Vec::new();
    for record in records {
        let Some(id) = record_id(&record) else {
            continue;
        };
        let print = fingerprint(&record);
        if seen.get(&id) == Some(&print) {
            continue;
        }
        let before = seen.get(&id).or_else(|| known.get(&id)).cloned();
        seen.insert(id, print.clone());
        let change = match before {
            None => "created",
            Some(p) if p != print => "updated",
            Some(_) => continue,
        };
        if !baseline && change == event {
            events.push(json!({"type": change, "record": record}));
        }
    }
    Ok(Found {
        events,
        state: json!({"cursor": cursor}),
        snapshot: SnapshotChange {
            replace: false,
            put: seen.into_iter().collect(),
            delete: Vec::new(),
        },
    })
}

/// `full-scan` (semantics §2.4, decisions where the docs are silent): the whole
/// collection through its `list`, each record's fingerprint (a hash of its
/// canonical JSON, as the collection returns it) compared with the snapshot — a new
/// id is created, a changed fingerprint updated, an id gone deleted (the payload's
/// record is then `{id}`: the snapshot keeps fingerprints, not records). The
/// snapshot becomes what was listed, in the transaction that stores the events.
/// The first scan only takes the baseline. Records without an id cannot be told
/// apart and are skipped.
async fn full_scan(
    engine: &Engine,
    admin: &Caller,
    conn: &Element,
    row: &ExternalEventSubscriptionRow,
) -> Result<Found, ApiError> {
    let (key, parameters, event) = target(row);
    let parameters = parameters.as_object().cloned().unwrap_or_default();
    let mut listed: Vec<(String, String, Value)> = Vec::new();
    let mut cursor: Option<Value> = None;
    for page_number in 0.. {
        if page_number == MAX_PAGES {
            return Err(too_many_pages(listed.len()));
        }
        let mut request = json!({});
        if let Some(c) = &cursor {
            request["cursor"] = c.clone();
        }
        let page = engine
            .calls()
            .run_collection_method(
                admin,
                conn,
                &key,
                CollectionMethod::List,
                request,
                parameters.clone(),
            )
            .await?;
        for record in page
            .get("records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if let Some(id) = record_id(&record) {
                listed.push((id, fingerprint(&record), record));
            }
        }
        match page.get("cursor").filter(|c| !c.is_null()) {
            Some(next) if Some(next) != cursor.as_ref() => cursor = Some(next.clone()),
            _ => break,
        }
    }
    let baseline = row.state_data.is_none();
    let mut known = snapshot(engine, row).await?;
    let mut events = Vec::new();
    let mut put = Vec::new();
    let count = listed.len();
    for (id, print, record) in listed {
        let change = match known.remove(&id) {
            None => "created",
            Some(p) if p != print => "updated",
            Some(_) => continue,
        };
        if !baseline && change == event {
            events.push(json!({"type": change, "record": record}));
        }
        put.push((id, print));
    }
    let delete: Vec<String> = known.into_keys().collect();
    if !baseline && event == "deleted" {
        events.extend(
            delete
                .iter()
                .map(|id| json!({"type": "deleted", "record": {"id": id}})),
        );
    }
    Ok(Found {
        events,
        state: json!({"records": count, "scannedAt": crate::clock::iso_of_ms(crate::clock::now_ms())}),
        snapshot: SnapshotChange {
            replace: false,
            put,
            delete,
        },
    })
}

fn too_many_pages(read: usize) -> ApiError {
    ApiError::new(
        osmosis_model::error::ErrorType::Internal,
        Some("too_many_pages"),
        format!("The collection has more than {MAX_PAGES} pages ({read} records read); it is too large to pull"),
    )
}

/// Starts the runs of `events` (stored, `created`): for each enabled instance of
/// the connection with a trigger that needs this subscription, one run per group
/// of at most [`EVENTS_PER_RUN`] events, from that trigger, launched by
/// `external-event` with the events' log record ids and the events as its input
/// (an array: the trigger outputs one per event). Each event is then `success`
/// with the runs it launched, or `error` when none of its runs could start.
///
/// A run's id is derived from its instance and its group's events, and started
/// through [`crate::flows::Flows::start_once`]: launching a group again (its
/// events stranded by a node that died before it recorded them, or launched
/// twice at once) finds the runs made before instead of starting them twice. A
/// group whose runs could not be looked up (the database failed) is left
/// `created`, for [`launch_stranded`] to launch the next time.
pub(crate) async fn launch(
    engine: &Engine,
    admin: &Caller,
    row: &ExternalEventSubscriptionRow,
    conn: &Element,
    events: &[ExternalEventLogRow],
) {
    if events.is_empty() {
        return;
    }
    let targets = match targets(engine, admin, row, conn).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(workspace_id = %row.workspace_id, subscription = %row.id, error = %e.message, "could not find the flow instances of external events");
            Vec::new()
        }
    };
    'groups: for group in events.chunks(EVENTS_PER_RUN) {
        let ids: Vec<String> = group.iter().map(|e| e.id.clone()).collect();
        let input = Value::Array(
            group
                .iter()
                .map(|e| {
                    let mut p = e.payload.clone();
                    p["externalEventId"] = json!(e.id);
                    p
                })
                .collect(),
        );
        let mut runs = Vec::new();
        let mut error = None;
        for (instance, node) in &targets {
            let launch = Launch {
                start_node_key: Some(node.clone()),
                input: Some(input.clone()),
                meta: None,
                launched_by: "external-event",
                launched_by_ids: ids.clone(),
                run_id: Some(fingerprint(&json!([instance.id, ids]))[..24].to_owned()),
            };
            match engine
                .flows()
                .start_once(admin, instance.clone(), launch)
                .await
            {
                Ok(Ok(run_id)) => runs.push(run_id),
                Ok(Err(e)) => {
                    tracing::warn!(workspace_id = %row.workspace_id, instance = %instance.id, error = %e.message, "an external event could not start its flow run");
                    error = Some(serde_json::to_value(&e).unwrap_or(Value::Null));
                }
                Err(e) => {
                    tracing::warn!(workspace_id = %row.workspace_id, instance = %instance.id, error = %e.message, "could not tell whether external events started their flow run; they are launched again later");
                    continue 'groups;
                }
            }
        }
        let status = if error.is_some() && runs.is_empty() {
            "error"
        } else {
            "success"
        };
        if let Err(e) = engine
            .stores
            .external_events
            .settle_external_events(&row.workspace_id, &ids, status, error.as_ref(), &runs)
            .await
        {
            tracing::warn!(workspace_id = %row.workspace_id, subscription = %row.id, error = %e, "could not record the runs of external events");
        }
    }
}

/// Launches ([`launch`]) the log records of `row` still `created` — stored, but
/// their runs never started or never recorded, because the node that stored them
/// died (or its database failed) before it settled them — oldest first, at most
/// [`STRANDED_BATCH`] of them (the rest the next time). Called whenever the
/// subscription's work runs, before it stores new events: by each pull, and by
/// each claim of its webhook's or global webhook's deliveries (also a claim with
/// none, which the worker's sweep queues: `super::sweep_stranded`).
///
/// Runs a launch made before the crash are found, not started again, when the
/// groups are that launch's: the records one launch was given share their
/// `created_ms` (a pull's end, a claim's time), so each such batch is launched on
/// its own, and a launch settles its groups in order, so what is left of one
/// starts at a group's first event. A batch the limit cuts short is left for the
/// next time unless it is the first (which then starts where it did before, and
/// is cut at a whole number of groups).
pub(crate) async fn launch_stranded(
    engine: &Engine,
    admin: &Caller,
    row: &ExternalEventSubscriptionRow,
    conn: &Element,
) -> Result<(), ApiError> {
    let stranded = engine
        .stores
        .external_events
        .created_external_events(&row.workspace_id, &row.id, STRANDED_BATCH)
        .await
        .map_err(store_error)?;
    if stranded.is_empty() {
        return Ok(());
    }
    tracing::info!(workspace_id = %row.workspace_id, subscription = %row.id, events = stranded.len(), "launching external events stored before their runs were started");
    let full = stranded.len() as i64 == STRANDED_BATCH;
    let batches: Vec<&[ExternalEventLogRow]> = stranded
        .chunk_by(|a, b| a.created_ms == b.created_ms)
        .collect();
    let keep = if full && batches.len() > 1 {
        batches.len() - 1
    } else {
        batches.len()
    };
    for batch in &batches[..keep] {
        launch(engine, admin, row, conn, batch).await;
    }
    Ok(())
}

/// Settles the log records of subscription `id` still `created` as `error`
/// ([`ABANDONED`]), never to start a run: the subscription is archived (no flow
/// instance needs it any more, or its connection is archived), so whatever would
/// have run them is gone. Called when it is archived, and by its jobs and
/// deliveries that find it archived or gone. An unsubscribed (not archived)
/// subscription keeps them for when it is subscribed again.
pub(crate) async fn abandon_stranded(
    engine: &Engine,
    workspace_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    let n = engine
        .stores
        .external_events
        .abandon_created_external_events(workspace_id, id, &json!({"message": ABANDONED}))
        .await
        .map_err(store_error)?;
    if n > 0 {
        tracing::info!(workspace_id, subscription = %id, events = n, "the events of an archived subscription will start no run");
    }
    Ok(())
}

/// The enabled instances of the connection with a trigger that needs `row`, and
/// that trigger's key.
async fn targets(
    engine: &Engine,
    admin: &Caller,
    row: &ExternalEventSubscriptionRow,
    conn: &Element,
) -> Result<Vec<(Element, String)>, ApiError> {
    let mut found = Vec::new();
    for instance in
        subscriptions::active_instances(engine, &row.workspace_id, &row.connection_id).await?
    {
        for (key, sub_type, config) in subscriptions::event_triggers(engine, &instance).await? {
            if subscriptions::wanted_by(engine, admin, conn, sub_type, &config)
                .await
                .key
                == row.config_key
            {
                found.push((instance.clone(), key));
            }
        }
    }
    Ok(found)
}
