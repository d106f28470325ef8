//! Connector webhooks (semantics §2.4 `webhook`, §5.6, §5.7): the webhook a
//! subscription registers at the external app, and the deliveries it receives.
//!
//! **Registration.** A subscription served by a webhook has a job of its own
//! (`external-event-webhook`, dedupe key: its id), and only that job calls the
//! connector's `subscribe`, `unsubscribe` and `refresh`. Every lifecycle change
//! (an instance enabled or disabled, the subscription archived, the API's
//! `subscribe`, `unsubscribe`, `resubscribe`, `refresh-webhook`) only says what
//! is wanted and queues the job ([`super::subscriptions::change_row`]); the job
//! reads the subscription as it is then and makes the external app match: a
//! wanted subscription (live, `subscribed` or `error`, still served by a webhook,
//! on a live connection) without a registration is subscribed, a registration
//! nobody wants is unsubscribed, a due one refreshed. The jobs table keeps one job
//! per subscription and runs it on one node at a time (a change made while it
//! runs runs it again after), so enabling, disabling and re-enabling many times,
//! on any nodes, leaves exactly one webhook registered — or none.
//!
//! `subscribe({parameters, webhookUri})` gets the subscription's URL
//! (`/webhooks/external-events/<workspaceId>/<webhookKey>`, the key 128 random
//! bits); what it answers is kept as the registration `{state, registeredMs,
//! refreshedMs}` (`stateData` shows its `state`) with its `nextRefreshTimestamp`
//! (epoch ms, or an ISO date), when the job comes back to call `refresh({parameters,
//! state})`. A failing `subscribe` or `refresh` puts the subscription in
//! `status: error` with the reason, and the job is retried with exponential
//! backoff (2 s doubling to an hour, 25 attempts — about a day; after that the
//! subscription stays in error until it is subscribed again). A connector without
//! `unsubscribe` or `refresh` has nothing to call for them. A connection archived
//! under a registration cannot be called any more: the registration is forgotten.
//!
//! **Deliveries.** A delivery is stored first (`super::super::intake`) and answered
//! `200 {incomingWebhookId}` at once; its processing job then calls the
//! connector's `handle({query, data, headers, parameters, state, rawBody})` —
//! `headers` and `query` unmasked and `rawBody` (the body as received, as text)
//! beyond the documented input, so a connector can verify a signature over the
//! exact bytes; they were sealed with the delivery and are dropped once it is
//! processed. Because the answer was sent before `handle` ran, a `response`
//! `handle` gives cannot shape it: it is kept on the delivery
//! (`request.handleResponse`, with a note saying so) and never sent. A `handle`
//! that throws (a bad signature, say) settles the delivery `error` with its
//! message and makes no events. Each event `{type, record, id?}` of the
//! subscription's type (`created` events on a `data-record-created`
//! subscription; others are not its) becomes an `external-event-log-record`, and
//! the flow runs start exactly as for polled events (`super::pull::launch`). A
//! `state` `handle` gives is the registration's state from then on. Each claim
//! first launches the subscription's events an earlier claim stored but never
//! launched (`super::pull::launch_stranded`: the node died in between); a
//! claim that finds the subscription archived or gone settles them `error`
//! instead (`super::pull::abandon_stranded`).
//!
//! **Duplicates**: an event with the `id` of an event this subscription already
//! logged (any time), or — without an id — with the type and record of one logged
//! in the last five minutes (the app events' window), is a repeat: the delivery
//! lists the event it repeats and no run starts. A subscription's deliveries are
//! processed by one job at a time, so the check and the insert do not race.
//!
//! Deliveries to an archived subscription answer 410 and are logged, never
//! handled; to one unsubscribed, or no longer served by a webhook, they are
//! settled `error` saying so.

use osmosis_model::{ApiError, Element};
use osmosis_store::{
    DeliverySettlement, ExternalEventLogRow, ExternalEventSubscriptionRow, IncomingWebhook, Job,
    WebhookRegistration,
};
use serde_json::{json, Value};

use super::subscriptions::{self, fingerprint};
use super::SubscriptionTick;
use crate::connections::{CallError, CallFailure};
use crate::events::intake::{sealing_context, WebhookTarget, PROCESS_BATCH};
use crate::jobs::{JobKind, RetryPolicy};
use crate::{Caller, Engine};

/// What Osmosis did with a `response` from `handle` (see the module doc).
const RESPONSE_NOT_SENT: &str = "Osmosis answered `200 {incomingWebhookId}` when the delivery was stored, before `handle` ran: this response was not sent";

/// A new webhook key: 128 random bits, hex.
pub(crate) fn new_webhook_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `row` is served by a webhook.
pub(crate) fn is_webhook(row: &ExternalEventSubscriptionRow) -> bool {
    row.details["implementation"] == "webhook"
}

/// The URL the external app posts `row`'s events to.
pub(crate) fn webhook_uri(engine: &Engine, row: &ExternalEventSubscriptionRow) -> String {
    WebhookTarget::ExternalEventSubscription.uri(engine, &row.workspace_id, &row.webhook_key)
}

/// The details of `row` served by a webhook; with `renew`, its registration is
/// to be replaced (`resubscribe`).
pub(crate) fn details(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
    renew: bool,
    now: i64,
) -> Value {
    let mut d = json!({
        "implementation": "webhook",
        "isRealTime": true,
        "requiresPull": false,
        "requiresFullSync": false,
        "webhookUri": webhook_uri(engine, row),
    });
    for asked in [RESUBSCRIBE_ASKED, REFRESH_ASKED] {
        if let Some(at) = row.details.get(asked) {
            d[asked] = at.clone();
        }
    }
    if renew {
        d[RESUBSCRIBE_ASKED] = json!(now);
    }
    d
}

/// When a `resubscribe` or `refresh-webhook` was asked for (in `details`, which
/// the lifecycle writes), compared with when the job last registered or
/// refreshed (in the registration, which only the job writes): neither writer
/// overwrites the other's.
const RESUBSCRIBE_ASKED: &str = "resubscribeAskedMs";
const REFRESH_ASKED: &str = "refreshAskedMs";

/// `row` with a refresh of its webhook asked for now (`refresh-webhook`); its job
/// is queued by the change.
pub(crate) async fn ask_refresh(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
) -> Result<ExternalEventSubscriptionRow, ApiError> {
    let mut details = row.details.clone();
    details[REFRESH_ASKED] = json!(crate::clock::now_ms());
    let change = osmosis_store::SubscriptionChange {
        workspace_id: row.workspace_id.clone(),
        id: row.id.clone(),
        status: row.status.clone(),
        error: row.error.clone(),
        details,
        next_pull_ms: row.next_pull_ms,
        archived_ms: row.archived_ms,
        reset_state: false,
    };
    subscriptions::change_row(engine, &change).await
}

/// Queues `row`'s webhook job at `at`.
pub(crate) async fn schedule(engine: &Engine, row: &ExternalEventSubscriptionRow, at: i64) {
    super::schedule_job::<ExternalEventWebhookJob>(engine, row, at).await
}

/// The job that makes a subscription's webhook at the external app what is
/// wanted (module doc).
pub(crate) struct ExternalEventWebhookJob;

impl JobKind for ExternalEventWebhookJob {
    const KIND: &'static str = "external-event-webhook";
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 25,
        backoff_ms: |attempts| crate::clock::backoff_ms(2_000, 3_600_000, attempts as i64),
    };
    type Payload = SubscriptionTick;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        tick: SubscriptionTick,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            reconcile(engine, &job.workspace_id, &tick.subscription_id)
                .await
                .map_err(|e| e.message)
        })
    }
}

/// The collection event's `parameters`.
fn parameters(row: &ExternalEventSubscriptionRow) -> Value {
    super::pull::target(row).1
}

/// Runs `function` of `row`'s collection event on `conn` with `input`; `None`
/// when the connector does not define it.
async fn call(
    engine: &Engine,
    admin: &Caller,
    conn: &Element,
    row: &ExternalEventSubscriptionRow,
    function: &'static str,
    input: Value,
) -> Result<Option<Value>, ApiError> {
    let (key, _, event) = super::pull::target(row);
    let collection = subscriptions::collection_of(engine, conn, &key).await?;
    if collection
        .event(event)
        .and_then(|e| e.function(function))
        .is_none()
    {
        return Ok(None);
    }
    engine
        .calls()
        .call_connection(admin, conn, |runner| {
            let (key, input) = (key.clone(), input.clone());
            async move {
                let output = if function == "handle" {
                    osmosis_connectors::collections::handle_webhook(&runner, &key, event, input)
                        .await?
                } else {
                    osmosis_connectors::collections::run_event_function(
                        &runner, &key, event, function, input,
                    )
                    .await?
                    .1
                };
                Ok::<_, CallFailure>(Some(output))
            }
        })
        .await
        .map_err(|e: CallError<CallFailure>| ApiError::from(e))
}

/// `nextRefreshTimestamp` of a `subscribe` or `refresh` output: epoch ms, or an
/// ISO date.
fn refresh_at(output: &Value) -> Option<i64> {
    match output.get("nextRefreshTimestamp")? {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| d.timestamp_millis()),
        _ => None,
    }
}

fn ms(v: &Value, field: &str) -> i64 {
    v.get(field).and_then(Value::as_i64).unwrap_or(0)
}

/// Records what the job found or did (see [`WebhookRegistration`]).
async fn record(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
    webhook_state: Option<Value>,
    next_refresh_ms: Option<i64>,
    outcome: Option<Result<(), &ApiError>>,
) -> Result<(), ApiError> {
    let registration = WebhookRegistration {
        workspace_id: row.workspace_id.clone(),
        id: row.id.clone(),
        webhook_state,
        next_refresh_ms,
        outcome: outcome.map(|o| o.map_err(|e| serde_json::to_value(e).unwrap_or(Value::Null))),
    };
    engine
        .stores
        .external_events
        .set_external_event_webhook(&registration)
        .await
        .map_err(crate::errors::store_error)?;
    Ok(())
}

/// One run of a subscription's webhook job (module doc). An error is retried.
async fn reconcile(engine: &Engine, workspace_id: &str, id: &str) -> Result<(), ApiError> {
    let store = &engine.stores.external_events;
    let Some(row) = store
        .external_event_subscription(workspace_id, id)
        .await
        .map_err(crate::errors::store_error)?
    else {
        return Ok(());
    };
    let registered = row.webhook_state.clone();
    let Some(conn) =
        subscriptions::live_connection(engine, workspace_id, &row.connection_id).await?
    else {
        if registered.is_some() {
            tracing::info!(workspace_id, subscription = %row.id, "the connection of a webhook subscription is archived: its registration is forgotten without unsubscribing");
            record(engine, &row, None, None, None).await?;
        }
        return Ok(());
    };
    let wanted = row.archived_ms.is_none()
        && is_webhook(&row)
        && matches!(row.status.as_str(), "subscribed" | "error");
    let admin = Caller::admin(engine.workspace_by_id(workspace_id).await?);
    let now = crate::clock::now_ms();
    let renew = registered
        .as_ref()
        .is_some_and(|r| ms(&row.details, RESUBSCRIBE_ASKED) > ms(r, "registeredMs"));
    if let Some(r) = &registered {
        if !wanted || renew {
            let input = json!({"parameters": parameters(&row), "state": r["state"]});
            call(engine, &admin, &conn, &row, "unsubscribe", input)
                .await
                .map_err(|mut e| {
                    e.message = format!("unsubscribe failed: {}", e.message);
                    e
                })?;
            record(engine, &row, None, None, None).await?;
        }
    }
    if !wanted {
        return Ok(());
    }
    let registered = registered.filter(|_| !renew);
    let (state, next) = match registered {
        None => {
            let input =
                json!({"parameters": parameters(&row), "webhookUri": webhook_uri(engine, &row)});
            match call(engine, &admin, &conn, &row, "subscribe", input).await {
                Ok(out) => {
                    let out = out.unwrap_or(Value::Null);
                    let state = json!({
                        "state": out.get("state").cloned().unwrap_or_else(|| json!({})),
                        "registeredMs": now,
                        "refreshedMs": now,
                    });
                    (state, refresh_at(&out))
                }
                Err(e) => {
                    record(engine, &row, None, None, Some(Err(&e))).await?;
                    return Err(e);
                }
            }
        }
        Some(r) => {
            let due = row.next_refresh_ms.is_some_and(|t| t <= now)
                || ms(&row.details, REFRESH_ASKED) > ms(&r, "refreshedMs");
            if !due {
                if let Some(at) = row.next_refresh_ms {
                    schedule(engine, &row, at).await;
                }
                return Ok(());
            }
            let input = json!({"parameters": parameters(&row), "state": r["state"]});
            match call(engine, &admin, &conn, &row, "refresh", input).await {
                Ok(out) => {
                    let out = out.unwrap_or(Value::Null);
                    let mut state = r.clone();
                    if let Some(s) = out.get("state").filter(|s| !s.is_null()) {
                        state["state"] = s.clone();
                    }
                    state["refreshedMs"] = json!(now);
                    (state, refresh_at(&out))
                }
                Err(e) => {
                    record(engine, &row, Some(r), row.next_refresh_ms, Some(Err(&e))).await?;
                    return Err(e);
                }
            }
        }
    };
    record(engine, &row, Some(state), next, Some(Ok(()))).await?;
    if let Some(at) = next {
        schedule(engine, &row, at).await;
    }
    Ok(())
}

/// One claim of a connector webhook's processing job: a batch of its pending
/// deliveries handled and settled, and the runs of their events started.
/// Answers whether more are waiting.
pub(crate) async fn process(
    engine: &Engine,
    workspace_id: &str,
    target_id: &str,
) -> Result<bool, String> {
    let deliveries = engine
        .stores
        .events
        .pending_deliveries(workspace_id, target_id, PROCESS_BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if deliveries.is_empty() {
        relaunch_stranded(engine, workspace_id, target_id)
            .await
            .map_err(|e| e.message)?;
        return Ok(false);
    }
    process_subscription(engine, workspace_id, target_id, &deliveries)
        .await
        .map_err(|e| e.message)?;
    Ok(deliveries.len() as i64 == PROCESS_BATCH)
}

/// A claim without deliveries (queued by the sweep, [`super::sweep_stranded`],
/// or left after a full batch): the events earlier claims stored and never
/// launched are launched as a claim's would be, under this job, which runs one
/// at a time per subscription; those of a subscription archived or gone are
/// abandoned.
async fn relaunch_stranded(engine: &Engine, workspace_id: &str, id: &str) -> Result<(), ApiError> {
    let created = engine
        .stores
        .external_events
        .created_external_events(workspace_id, id, 1)
        .await
        .map_err(crate::errors::store_error)?;
    if created.is_empty() {
        return Ok(());
    }
    process_subscription(engine, workspace_id, id, &[]).await
}

/// How `d` ended: its request kept without what was sealed for processing, with
/// the `response` `handle` gave (not sent: see the module doc).
pub(super) fn settled(
    d: &IncomingWebhook,
    outcome: Result<(), String>,
    event_ids: Vec<String>,
    response: Option<Value>,
) -> DeliverySettlement {
    let mut request = d.request.clone();
    if let Some(m) = request.as_object_mut() {
        m.remove("sealed");
        if let Some(response) = response {
            m.insert(
                "handleResponse".into(),
                json!({"response": response, "note": RESPONSE_NOT_SENT}),
            );
        }
    }
    let (status, error) = match outcome {
        Ok(()) => ("success", None),
        Err(e) => ("error", Some(e)),
    };
    DeliverySettlement {
        delivery_id: d.id.clone(),
        status: status.into(),
        error,
        event_ids,
        request,
    }
}

pub(super) async fn settle(
    engine: &Engine,
    workspace_id: &str,
    settlements: &[DeliverySettlement],
    events: &[ExternalEventLogRow],
    states: &[(String, Value)],
) -> Result<(), String> {
    engine
        .stores
        .external_events
        .settle_external_deliveries(
            workspace_id,
            settlements,
            events,
            states,
            crate::clock::now_ms(),
        )
        .await
        .map_err(|e| e.to_string())
}

/// What `handle` is given of delivery `d` (module doc): the sealed part opened
/// when it can be, else what was stored (secrets masked).
pub(super) fn handle_input(engine: &Engine, d: &IncomingWebhook) -> Value {
    let request = &d.request;
    let unsealed = request["sealed"].as_str().and_then(|text| {
        let cipher = engine.cipher.as_ref()?;
        cipher
            .open_json(text, &sealing_context(&d.workspace_id, &d.id))
            .ok()
    });
    let unsealed = unsealed.unwrap_or_else(|| {
        json!({"headers": request["headers"], "query": request["query"],
               "rawBody": request["body"].as_str().map(str::to_owned).unwrap_or_else(|| request["body"].to_string())})
    });
    json!({
        "query": unsealed["query"],
        "headers": unsealed["headers"],
        "rawBody": unsealed["rawBody"],
        "data": request["body"],
    })
}

/// The deliveries of one subscription's URL (module doc).
async fn process_subscription(
    engine: &Engine,
    workspace_id: &str,
    id: &str,
    deliveries: &[IncomingWebhook],
) -> Result<(), ApiError> {
    let row = engine
        .stores
        .external_events
        .external_event_subscription(workspace_id, id)
        .await
        .map_err(crate::errors::store_error)?;
    let conn = match &row {
        Some(r) => subscriptions::live_connection(engine, workspace_id, &r.connection_id).await?,
        None => None,
    };
    let problem = match (&row, &conn) {
        (None, _) => Some("The external event subscription no longer exists"),
        (Some(r), _) if r.archived_ms.is_some() => {
            Some("The external event subscription is archived")
        }
        (_, None) => Some("The subscription's connection is archived"),
        (Some(r), _) if !is_webhook(r) => {
            Some("The external event subscription is not served by a webhook")
        }
        (Some(r), _) if r.status == "unsubscribed" => {
            Some("The external event subscription is unsubscribed")
        }
        _ => None,
    };
    let abandoned = row.as_ref().is_none_or(|r| r.archived_ms.is_some());
    let (Some(row), Some(conn), None) = (row, conn, problem) else {
        if abandoned {
            super::pull::abandon_stranded(engine, workspace_id, id).await?;
        }
        if deliveries.is_empty() {
            return Ok(());
        }
        let problem = problem.unwrap_or_default().to_owned();
        let settlements: Vec<_> = deliveries
            .iter()
            .map(|d| settled(d, Err(problem.clone()), Vec::new(), None))
            .collect();
        return settle(engine, workspace_id, &settlements, &[], &[])
            .await
            .map_err(ApiError::internal);
    };
    let admin = Caller::admin(engine.workspace_by_id(workspace_id).await?);
    // Events of earlier claims stored and never launched (a node died between
    // the two) go first: one job at a time handles this subscription's
    // deliveries, so none of them is another claim's launch in progress.
    super::pull::launch_stranded(engine, &admin, &row, &conn).await?;
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut registration = row.webhook_state.clone();
    let mut new_state = false;
    let mut collected = Collected::new(&row);
    let mut settlements = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let mut input = handle_input(engine, d);
        input["parameters"] = parameters(&row);
        input["state"] = registration
            .as_ref()
            .map(|r| r["state"].clone())
            .unwrap_or(Value::Null);
        let output = match call(engine, &admin, &conn, &row, "handle", input).await {
            Ok(out) => out.unwrap_or(Value::Null),
            Err(e) => {
                tracing::info!(workspace_id, subscription = %row.id, delivery = %d.id, error = %e.message, "a connector webhook delivery was refused by its handle");
                settlements.push(settled(d, Err(e.message), Vec::new(), None));
                continue;
            }
        };
        if let (Some(r), Some(state)) = (
            registration.as_mut(),
            output.get("state").filter(|s| !s.is_null()),
        ) {
            r["state"] = state.clone();
            new_state = true;
        }
        let events = output["events"].as_array().cloned().unwrap_or_default();
        let ids = collected.add(engine, events).await?;
        let response = output.get("response").filter(|r| !r.is_null()).cloned();
        settlements.push(settled(d, Ok(()), ids, response));
    }
    let states: Vec<(String, Value)> = registration
        .filter(|_| new_state)
        .map(|r| (row.id.clone(), r))
        .into_iter()
        .collect();
    settle(
        engine,
        workspace_id,
        &settlements,
        &collected.events,
        &states,
    )
    .await
    .map_err(ApiError::internal)?;
    super::pull::launch(engine, &admin, &row, &conn, &collected.events).await;
    Ok(())
}

/// The new events of one subscription in one claim, repeats left out.
struct Collected<'r> {
    row: &'r ExternalEventSubscriptionRow,
    /// `(dedupe key, log record id)` of the events of this claim.
    seen: Vec<(String, String)>,
    events: Vec<ExternalEventLogRow>,
    /// When the claim's events were made: one instant for all of them, which
    /// tells them apart from other claims' should they be launched again
    /// (`super::pull::launch_stranded`).
    created_ms: i64,
}

impl<'r> Collected<'r> {
    fn new(row: &'r ExternalEventSubscriptionRow) -> Self {
        Collected {
            row,
            seen: Vec::new(),
            events: Vec::new(),
            created_ms: crate::clock::now_ms(),
        }
    }

    /// Adds the events `handle` gave that are the subscription's (module doc);
    /// answers the log record ids they are, new or repeated.
    async fn add(&mut self, engine: &Engine, events: Vec<Value>) -> Result<Vec<String>, ApiError> {
        let row = self.row;
        let mine = subscriptions::event_of(row.config["type"].as_str().unwrap_or_default());
        let mut candidates = Vec::new();
        for event in events {
            let kind = event["type"]
                .as_str()
                .or(mine)
                .unwrap_or_default()
                .to_owned();
            if Some(kind.as_str()) != mine {
                continue;
            }
            let payload = json!({"type": kind, "record": event["record"]});
            let key = match &event.get("id") {
                Some(Value::String(id)) if !id.is_empty() => format!("id:{id}"),
                Some(Value::Number(n)) => format!("id:{n}"),
                _ => format!("fp:{}", fingerprint(&payload)),
            };
            candidates.push((key, payload));
        }
        let keys: Vec<String> = candidates.iter().map(|(k, _)| k.clone()).collect();
        let since = crate::clock::now_ms() - crate::events::app_events::DEDUPE_WINDOW_MS;
        let earlier = engine
            .stores
            .external_events
            .external_events_with_dedupe_keys(&row.id, &keys, since)
            .await
            .map_err(crate::errors::store_error)?;
        let mut ids = Vec::new();
        for (key, payload) in candidates {
            if let Some((_, id)) = self
                .seen
                .iter()
                .chain(earlier.iter())
                .find(|(k, _)| *k == key)
            {
                ids.push(id.clone());
                continue;
            }
            let id = osmosis_model::ids::object_id();
            self.seen.push((key.clone(), id.clone()));
            ids.push(id.clone());
            self.events.push(ExternalEventLogRow {
                seq: 0,
                id,
                workspace_id: row.workspace_id.clone(),
                customer_id: row.customer_id.clone(),
                integration_id: row.integration_id.clone(),
                connection_id: row.connection_id.clone(),
                subscription_id: row.id.clone(),
                status: "created".into(),
                error: None,
                payload,
                launched_flow_run_ids: Vec::new(),
                created_ms: self.created_ms,
                dedupe_key: Some(key),
            });
        }
        Ok(ids)
    }
}
