//! Connector-level global webhooks (semantics §2.4 `connector-event`, §5.6
//! "Global webhooks"): apps that post *all* their events, of every customer, to
//! one URL.
//!
//! **Subscribing.** A `connector-event` subscription (config `{type:
//! connector-event, eventKey, eventParameters?}`, from a `connector-event-trigger`)
//! is served by the connector event `eventKey`'s `getEventSelector({parameters})`
//! (`parameters`: the config's `eventParameters`), run on the subscription's
//! connection — so it sees the connection's credentials and API client, as every
//! connector function does: that is where a per-customer selector (an account id)
//! comes from. It answers `{globalWebhookKey, globalWebhookEventSelector}`; the
//! connector must declare that global webhook with its `handle`. The subscription
//! is then `subscribed`, `isRealTime`, pulls nothing and registers nothing (the
//! app-wide URL is configured at the external app once, by the workspace admin),
//! and shows `globalWebhookKey`, `globalWebhookEventSelector` and, as its
//! `webhookUri`, the global URL (decision: the docs do not say where the admin
//! finds it; every subscription of that connector and key shows the same URL).
//! A connector event without `getEventSelector` (`getEventConfig` +
//! `extractEvents` alone, or a subscribe/handle pair of its own) is not served:
//! the subscription is in `status: error` saying so.
//!
//! **The URL.** One per (workspace, connector, global webhook key):
//! `/webhooks/global/<workspaceId>/<key>`, the key 128 random bits, made the
//! first time a subscription needs it and never changed (table
//! `connector_global_webhooks`).
//!
//! **Deliveries** go through the one intake (stored, answered `200
//! {incomingWebhookId}`, then processed by their job, in order). Processing runs
//! the global webhook's `handle({query, data, headers, parameters, rawBody})` —
//! with the connector alone: no connection, `parameters` empty (decision: the URL
//! is the connector's, not one integration's) — and routes each event `{selector,
//! payload}` to every subscribed, live subscription of the workspace whose
//! `globalWebhookKey` is this webhook's and whose `globalWebhookEventSelector`
//! equals `selector` (as JSON, key order ignored). Each match becomes an
//! `external-event-log-record` of that subscription, payload `{type:
//! connector-event, eventKey, payload}`, and the flow runs start as for any
//! external event (`super::pull::launch`): the `connector-event-trigger` outputs
//! the run's input (the array of events); the events a subscription was given
//! by an earlier claim and never launched (the node died in between) are
//! launched first (`super::pull::launch_stranded`). A delivery whose events match no
//! subscription is settled `success` with no events; its request keeps
//! `unmatchedSelectors`. An event of a subscription whose connection was archived
//! meanwhile is logged `error`. A `handle` that throws settles the delivery
//! `error`. A
//! `response` `handle` gives is kept, not sent (as for connector webhooks).
//! Routing reads the workspace's subscribed subscriptions once per claim.

use std::sync::Arc;

use osmosis_connectors::definition::Connector;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element};
use osmosis_store::{
    ExternalEventLogRow, ExternalEventSubscriptionQuery, ExternalEventSubscriptionRow,
    GlobalWebhookRow, IncomingWebhook,
};
use serde_json::{json, Value};

use super::subscriptions::canonical_json;
use crate::connections::{CallError, CallFailure};
use crate::errors::store_error;
use crate::events::intake::{WebhookTarget, PROCESS_BATCH};
use crate::{Caller, Engine};

/// How a `connector-event` subscription is served.
pub(crate) const IMPLEMENTATION: &str = "global-webhook";

/// Whether `row` is served by a global webhook.
pub(crate) fn is_global(row: &ExternalEventSubscriptionRow) -> bool {
    row.details["implementation"] == IMPLEMENTATION
}

/// The URL of global webhook `gw`.
fn uri(engine: &Engine, gw: &GlobalWebhookRow) -> String {
    WebhookTarget::GlobalWebhook.uri(engine, &gw.workspace_id, &gw.url_key)
}

fn not_served(message: String) -> ApiError {
    ApiError::bad_request(keys::NOT_SUPPORTED, message)
}

/// The details of `row` (a `connector-event` subscription) served by its
/// connector's global webhook (module doc), its URL made when it is the first.
pub(crate) async fn details(
    engine: &Engine,
    conn: &Element,
    row: &ExternalEventSubscriptionRow,
) -> Result<Value, ApiError> {
    let event_key = row.config["eventKey"]
        .as_str()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::configuration("The connector event trigger names no `eventKey`"))?
        .to_owned();
    let (_, connector) = engine.calls().live_integration_and_connector(conn).await?;
    let definition = Connector::from_value(&Value::Object(connector.doc.clone()))
        .map_err(|e| ApiError::configuration(format!("connector: {e}")))?;
    let event = definition.event(&event_key).ok_or_else(|| {
        ApiError::configuration(format!("The connector has no event `{event_key}`"))
    })?;
    if event.function("getEventSelector").is_none() {
        return Err(not_served(format!(
            "Connector event `{event_key}` has no `getEventSelector`: only events served by a global webhook are served"
        )));
    }
    let admin = Caller::admin(engine.workspace_by_id(&conn.workspace_id).await?);
    let input = json!({"parameters": row.config.get("eventParameters").cloned().unwrap_or_else(|| json!({}))});
    let output = engine
        .calls()
        .call_connection(&admin, conn, |runner| {
            let (key, input) = (event_key.clone(), input.clone());
            async move {
                let def = runner
                    .connector()
                    .event(&key)
                    .and_then(|e| e.function("getEventSelector"))
                    .cloned()
                    .ok_or_else(|| {
                        CallFailure::from(osmosis_connectors::function::FunctionError::NotDefined {
                            function: format!("events/{key}/get-event-selector"),
                        })
                    })?;
                let out = runner.run(&def, input).await?;
                Ok::<_, CallFailure>(out.output)
            }
        })
        .await
        .map_err(|e: CallError<CallFailure>| ApiError::from(e))?;
    let key = output["globalWebhookKey"]
        .as_str()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::configuration(format!(
                "`getEventSelector` of connector event `{event_key}` gave no `globalWebhookKey`"
            ))
        })?
        .to_owned();
    let selector = output
        .get("globalWebhookEventSelector")
        .cloned()
        .unwrap_or(Value::Null);
    if definition
        .global_webhook(&key)
        .and_then(|g| g.function("handle"))
        .is_none()
    {
        return Err(ApiError::configuration(format!(
            "The connector has no global webhook `{key}` with a `handle` function"
        )));
    }
    let gw = engine
        .stores
        .external_events
        .ensure_global_webhook(&GlobalWebhookRow {
            id: osmosis_model::ids::object_id(),
            workspace_id: conn.workspace_id.clone(),
            connector_id: connector.id.clone(),
            webhook_key: key.clone(),
            url_key: super::webhooks::new_webhook_key(),
            created_ms: crate::clock::now_ms(),
        })
        .await
        .map_err(store_error)?;
    Ok(json!({
        "implementation": IMPLEMENTATION,
        "isRealTime": true,
        "requiresPull": false,
        "requiresFullSync": false,
        "globalWebhookId": gw.id,
        "globalWebhookKey": key,
        "globalWebhookEventSelector": selector,
        "webhookUri": uri(engine, &gw),
    }))
}

/// One claim of a global webhook's processing job (module doc); answers whether
/// more deliveries are waiting.
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
    process_batch(engine, workspace_id, target_id, &deliveries)
        .await
        .map_err(|e| e.message)?;
    Ok(deliveries.len() as i64 == PROCESS_BATCH)
}

/// A claim without deliveries (queued by the sweep, [`super::sweep_stranded`],
/// or left after a full batch): the events earlier claims of this global
/// webhook stored for its subscriptions (subscribed, live, routed here) and
/// never launched are launched, under this job as a claim's are. Any `created`
/// record of those subscriptions is stranded (only this job stores and launches
/// them), so none is too recent.
async fn relaunch_stranded(engine: &Engine, workspace_id: &str, id: &str) -> Result<(), ApiError> {
    let store = &engine.stores.external_events;
    let mut admin = None;
    let mut after = 0;
    loop {
        let page = store
            .stranded_external_event_subscriptions(
                Some(workspace_id),
                i64::MAX,
                after,
                super::STRANDED_SWEEP,
            )
            .await
            .map_err(store_error)?;
        for s in &page {
            let Some(row) = store
                .external_event_subscription(workspace_id, &s.subscription_id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            if row.archived_ms.is_some()
                || row.status != "subscribed"
                || !is_global(&row)
                || row.details["globalWebhookId"] != id
            {
                continue;
            }
            let Some(conn) =
                super::subscriptions::live_connection(engine, workspace_id, &row.connection_id)
                    .await?
            else {
                continue;
            };
            let admin = match &admin {
                Some(a) => a,
                None => admin.insert(Caller::admin(engine.workspace_by_id(workspace_id).await?)),
            };
            super::pull::launch_stranded(engine, admin, &row, &conn).await?;
        }
        match page.last() {
            Some(last) if page.len() as i64 == super::STRANDED_SWEEP => after = last.seq,
            _ => return Ok(()),
        }
    }
}

async fn process_batch(
    engine: &Engine,
    workspace_id: &str,
    id: &str,
    deliveries: &[IncomingWebhook],
) -> Result<(), ApiError> {
    let store = &engine.stores.external_events;
    let gw = store
        .global_webhook(workspace_id, id)
        .await
        .map_err(store_error)?;
    let connector = match &gw {
        Some(g) => engine
            .stores
            .elements
            .element_by_id(workspace_id, &g.connector_id)
            .await
            .map_err(store_error)?
            .filter(|c| !c.is_archived()),
        None => None,
    };
    let definition = connector.as_ref().map(|c| {
        Connector::from_value(&Value::Object(c.doc.clone())).map(|mut d| {
            if d.key.is_none() {
                d.key = c.key.clone();
            }
            d
        })
    });
    let handle = match (&gw, &definition) {
        (Some(g), Some(Ok(d))) => d
            .global_webhook(&g.webhook_key)
            .and_then(|w| w.function("handle"))
            .cloned()
            .ok_or_else(|| {
                format!(
                    "The connector has no global webhook `{}` with a `handle` function",
                    g.webhook_key
                )
            }),
        (None, _) => Err("The global webhook no longer exists".to_owned()),
        (_, None) => Err("The connector of the global webhook is archived".to_owned()),
        (_, Some(Err(e))) => Err(format!("connector: {e}")),
    };
    let (Some(gw), Some(Ok(definition)), Ok(handle)) = (gw, definition, handle.clone()) else {
        let problem = handle.err().unwrap_or_default();
        let settlements: Vec<_> = deliveries
            .iter()
            .map(|d| super::webhooks::settled(d, Err(problem.clone()), Vec::new(), None))
            .collect();
        return super::webhooks::settle(engine, workspace_id, &settlements, &[], &[])
            .await
            .map_err(ApiError::internal);
    };
    let runner = engine
        .calls()
        .option_runner(Arc::new(definition), "", json!({}))?;
    let subscribed = store
        .find_external_event_subscriptions(&ExternalEventSubscriptionQuery {
            workspace_id: workspace_id.to_owned(),
            status: Some("subscribed".into()),
            limit: i64::MAX,
            ..Default::default()
        })
        .await
        .map_err(store_error)?;
    let routes: Vec<(&ExternalEventSubscriptionRow, String)> = subscribed
        .iter()
        .filter(|r| {
            r.archived_ms.is_none() && is_global(r) && r.details["globalWebhookId"] == gw.id
        })
        .map(|r| (r, canonical_json(&r.details["globalWebhookEventSelector"])))
        .collect();
    let mut events: Vec<ExternalEventLogRow> = Vec::new();
    // One instant for the claim's events: it tells them apart from other
    // claims' should they be launched again (`super::pull::launch_stranded`).
    let created_ms = crate::clock::now_ms();
    let mut settlements = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let mut input = super::webhooks::handle_input(engine, d);
        input["parameters"] = json!({});
        let output = match runner.run(&handle, input).await {
            Ok(out) => out.output,
            Err(e) => {
                tracing::info!(workspace_id, global_webhook = %gw.id, delivery = %d.id, error = %e, "a global webhook delivery was refused by its handle");
                settlements.push(super::webhooks::settled(
                    d,
                    Err(e.to_string()),
                    Vec::new(),
                    None,
                ));
                continue;
            }
        };
        let mut ids = Vec::new();
        let mut unmatched = Vec::new();
        for event in output["events"].as_array().cloned().unwrap_or_default() {
            let selector = event.get("selector").cloned().unwrap_or(Value::Null);
            let wanted = canonical_json(&selector);
            let mut matched = false;
            for (row, _) in routes.iter().filter(|(_, s)| *s == wanted) {
                matched = true;
                let id = osmosis_model::ids::object_id();
                ids.push(id.clone());
                events.push(ExternalEventLogRow {
                    seq: 0,
                    id,
                    workspace_id: row.workspace_id.clone(),
                    customer_id: row.customer_id.clone(),
                    integration_id: row.integration_id.clone(),
                    connection_id: row.connection_id.clone(),
                    subscription_id: row.id.clone(),
                    status: "created".into(),
                    error: None,
                    payload: json!({
                        "type": "connector-event",
                        "eventKey": row.config["eventKey"],
                        "payload": event.get("payload").cloned().unwrap_or(Value::Null),
                    }),
                    launched_flow_run_ids: Vec::new(),
                    created_ms,
                    dedupe_key: None,
                });
            }
            if !matched {
                unmatched.push(selector);
            }
        }
        let response = output.get("response").filter(|r| !r.is_null()).cloned();
        let mut s = super::webhooks::settled(d, Ok(()), ids, response);
        if !unmatched.is_empty() {
            s.request["unmatchedSelectors"] = Value::Array(unmatched);
        }
        settlements.push(s);
    }
    let admin = Caller::admin(engine.workspace_by_id(workspace_id).await?);
    // The subscriptions this claim has events for, with their live connections:
    // the events earlier claims stored for them and never launched (a node died
    // in between) go first, before this claim's are stored.
    let mut targets = Vec::new();
    for (row, _) in &routes {
        if !events.iter().any(|e| e.subscription_id == row.id) {
            continue;
        }
        let conn =
            super::subscriptions::live_connection(engine, workspace_id, &row.connection_id).await?;
        if let Some(conn) = &conn {
            super::pull::launch_stranded(engine, &admin, row, conn).await?;
        }
        targets.push((*row, conn));
    }
    super::webhooks::settle(engine, workspace_id, &settlements, &events, &[])
        .await
        .map_err(ApiError::internal)?;
    for (row, conn) in targets {
        let mine: Vec<ExternalEventLogRow> = events
            .iter()
            .filter(|e| e.subscription_id == row.id)
            .cloned()
            .collect();
        match conn {
            Some(conn) => super::pull::launch(engine, &admin, row, &conn, &mine).await,
            None => {
                tracing::info!(workspace_id, subscription = %row.id, "the connection of a global webhook subscription is archived: its events start no run");
                let ids: Vec<String> = mine.iter().map(|e| e.id.clone()).collect();
                let error =
                    json!({"message": "The subscription's connection is archived: no run started"});
                if let Err(e) = store
                    .settle_external_events(workspace_id, &ids, "error", Some(&error), &[])
                    .await
                {
                    tracing::warn!(workspace_id, subscription = %row.id, error = %e, "could not record the outcome of external events");
                }
            }
        }
    }
    Ok(())
}
