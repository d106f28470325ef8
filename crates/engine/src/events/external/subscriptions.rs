//! Which subscriptions a connection needs, and making the stored ones match
//! ([`sync_connection`]); how a subscription is subscribed, and with what
//! ([`subscribe`], [`plan`]).

use osmosis_connectors::definition::{CollectionMethod, DataCollection};
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, ExternalEventSubscriptionRow, RefFilter, SubscriptionChange};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use futures::TryStreamExt;

use crate::elements::element_pages;
use crate::errors::store_error;
use crate::{Caller, Engine};

/// Polling defaults and floors (semantics §2.4; the SDK's
/// `DEFAULT_PULL_UPDATES_INTERVAL_SECONDS`, `MIN_…`).
pub(crate) const DEFAULT_PULL_SECONDS: i64 = 300;
pub(crate) const DEFAULT_FULL_SYNC_SECONDS: i64 = 10_800;
pub(crate) const MIN_INTERVAL_SECONDS: i64 = 60;

/// Instances of a connection read per page.
const PAGE: i64 = 500;

/// The trigger node types that need a subscription, with its `config.type`.
const EVENT_TRIGGERS: [(&str, &str); 4] = [
    ("data-record-created-trigger", "data-record-created"),
    ("data-record-updated-trigger", "data-record-updated"),
    ("data-record-deleted-trigger", "data-record-deleted"),
    ("connector-event-trigger", "connector-event"),
];

/// The subscription type a trigger node type needs, if any.
pub(crate) fn subscription_type(node_kind: &str) -> Option<&'static str> {
    EVENT_TRIGGERS
        .iter()
        .find(|(k, _)| *k == node_kind)
        .map(|(_, t)| *t)
}

/// The collection event (`created`, `updated`, `deleted`) of a data record type.
pub(crate) fn event_of(subscription_type: &str) -> Option<&'static str> {
    match subscription_type {
        "data-record-created" => Some("created"),
        "data-record-updated" => Some("updated"),
        "data-record-deleted" => Some("deleted"),
        _ => None,
    }
}

/// A value as canonical JSON text: object keys sorted at every level, so two
/// equal values always give the same text whatever order they were written in.
pub(crate) fn canonical_json(value: &Value) -> String {
    fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// A stable hash of a value (hex SHA-256 of its canonical JSON).
pub(crate) fn fingerprint(value: &Value) -> String {
    Sha256::digest(canonical_json(value).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A subscription a trigger needs: its config, the config's fingerprint, and why
/// it cannot be resolved or served, if it cannot.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    pub config: Value,
    pub key: String,
    pub problem: Option<ApiError>,
}

/// The interval `name` of a data source (or an inline `dataSource`), else
/// `default`; never below [`MIN_INTERVAL_SECONDS`] (a smaller value is raised to
/// it rather than refused: it was accepted when the data source was written).
fn interval(fields: &[Option<&Map<String, Value>>], name: &str, default: i64) -> i64 {
    fields
        .iter()
        .flatten()
        .find_map(|f| f.get(name).and_then(Value::as_f64))
        .map(|s| s.ceil() as i64)
        .unwrap_or(default)
        .max(MIN_INTERVAL_SECONDS)
}

/// The subscription `node` (an event trigger of type `kind`) needs on
/// `connection`: for a data record trigger, its `config.dataSource` resolved on
/// the connection the way the data actions resolve it (`actions::records`) — the
/// key named, the collection, its parameters, the model and the intervals.
pub(crate) async fn wanted_by(
    engine: &Engine,
    admin: &Caller,
    connection: &Element,
    sub_type: &str,
    node_config: &Value,
) -> Wanted {
    let make = |config: Value, problem: Option<ApiError>| Wanted {
        key: fingerprint(&config),
        config,
        problem,
    };
    if sub_type == "connector-event" {
        let mut config = json!({"type": sub_type});
        for f in ["eventKey", "eventParameters"] {
            if let Some(v) = node_config.get(f).filter(|v| !v.is_null()) {
                config[f] = v.clone();
            }
        }
        // Served by a global webhook, worked out when subscribing
        // (`super::global`).
        return make(config, None);
    }
    let written = node_config
        .get("dataSource")
        .cloned()
        .unwrap_or(Value::Null);
    match engine
        .actions()
        .data_point(admin, connection, node_config)
        .await
    {
        Ok(point) => {
            let inline = written.as_object();
            let mut ds = Map::new();
            if let Some(key) = written.get("key").filter(|k| k.is_string()) {
                ds.insert("key".into(), key.clone());
            }
            ds.insert("collectionKey".into(), json!(point.collection.key));
            ds.insert(
                "collectionParameters".into(),
                Value::Object(point.collection.parameters.clone()),
            );
            if let Some((model, _)) = &point.collection.udm {
                ds.insert("udm".into(), json!(model));
            }
            let fields = [point.source.as_ref(), inline];
            ds.insert(
                "pullUpdatesIntervalSeconds".into(),
                json!(interval(
                    &fields,
                    "pullUpdatesIntervalSeconds",
                    DEFAULT_PULL_SECONDS
                )),
            );
            ds.insert(
                "fullSyncIntervalSeconds".into(),
                json!(interval(
                    &fields,
                    "fullSyncIntervalSeconds",
                    DEFAULT_FULL_SYNC_SECONDS
                )),
            );
            make(
                json!({"type": sub_type, "dataSource": Value::Object(ds)}),
                None,
            )
        }
        Err(e) => make(json!({"type": sub_type, "dataSource": written}), Some(e)),
    }
}

/// Whether `instance` fires its triggers now (the connection checked apart).
fn active(instance: &Element) -> bool {
    !instance.is_archived() && instance.doc.get("enabled") != Some(&Value::Bool(false))
}

/// The event trigger nodes of the definition `instance` runs: `(key, subscription
/// type, config)`; none while its graph has errors (it cannot run at all then).
pub(crate) async fn event_triggers(
    engine: &Engine,
    instance: &Element,
) -> Result<Vec<(String, &'static str, Value)>, ApiError> {
    let effective = engine.elements().effective(instance).await?;
    let Some(nodes) = effective.doc.get("nodes").and_then(Value::as_object) else {
        return Ok(Vec::new());
    };
    if !crate::types::flow::flow_graph_errors(nodes, true).is_empty() {
        return Ok(Vec::new());
    }
    Ok(nodes
        .iter()
        .filter_map(|(k, n)| {
            let t = subscription_type(n.get("type")?.as_str()?)?;
            Some((
                k.clone(),
                t,
                n.get("config").cloned().unwrap_or(Value::Null),
            ))
        })
        .collect())
}

/// The live flow instances of a connection that fire their triggers now.
pub(crate) async fn active_instances(
    engine: &Engine,
    workspace_id: &str,
    connection_id: &str,
) -> Result<Vec<Element>, ApiError> {
    let mut q = ElementQuery::new(workspace_id, ElementType::FlowInstance);
    q.connection = RefFilter::Is(connection_id.to_owned());
    q.limit = PAGE;
    let mut found = Vec::new();
    let mut pages = std::pin::pin!(element_pages(&*engine.stores.elements, q));
    while let Some(page) = pages.try_next().await? {
        found.extend(page.into_iter().filter(active));
    }
    Ok(found)
}

/// The live connection `id`, when it is live.
pub(crate) async fn live_connection(
    engine: &Engine,
    workspace_id: &str,
    id: &str,
) -> Result<Option<Element>, ApiError> {
    Ok(engine
        .stores
        .elements
        .element_by_id(workspace_id, id)
        .await
        .map_err(store_error)?
        .filter(|c| c.element_type == ElementType::Connection && !c.is_archived()))
}

/// Makes the subscriptions of a connection match what its enabled instances need
/// (see the module doc of `external`): each needed one made (or subscribed again
/// when it was archived), each no longer needed unsubscribed and archived.
pub(crate) async fn sync_connection(
    engine: &Engine,
    workspace_id: &str,
    connection_id: &str,
) -> Result<(), ApiError> {
    let admin = Caller::admin(engine.workspace_by_id(workspace_id).await?);
    let mut wanted: Vec<Wanted> = Vec::new();
    let connection = live_connection(engine, workspace_id, connection_id).await?;
    if let Some(conn) = &connection {
        for instance in active_instances(engine, workspace_id, connection_id).await? {
            for (_, sub_type, config) in event_triggers(engine, &instance).await? {
                let w = wanted_by(engine, &admin, conn, sub_type, &config).await;
                if !wanted.iter().any(|o| o.key == w.key) {
                    wanted.push(w);
                }
            }
        }
    }
    let existing = engine
        .stores
        .external_events
        .find_external_event_subscriptions(&osmosis_store::ExternalEventSubscriptionQuery {
            workspace_id: workspace_id.to_owned(),
            connection_id: Some(connection_id.to_owned()),
            include_archived: true,
            limit: i64::MAX,
            ..Default::default()
        })
        .await
        .map_err(store_error)?;
    for row in existing
        .iter()
        .filter(|r| r.archived_ms.is_none() && !wanted.iter().any(|w| w.key == r.config_key))
    {
        let change = SubscriptionChange {
            workspace_id: row.workspace_id.clone(),
            id: row.id.clone(),
            status: "unsubscribed".into(),
            error: None,
            details: row.details.clone(),
            next_pull_ms: None,
            archived_ms: Some(crate::clock::now_ms()),
            reset_state: true,
        };
        change_row(engine, &change).await?;
        super::pull::abandon_stranded(engine, workspace_id, &row.id).await?;
    }
    let Some(conn) = connection else {
        return Ok(());
    };
    for w in wanted {
        let row = match existing.iter().find(|r| r.config_key == w.key) {
            Some(r) => r.clone(),
            None => engine
                .stores
                .external_events
                .ensure_external_event_subscription(&new_row(&conn, &w))
                .await
                .map_err(store_error)?,
        };
        let fresh = row.archived_ms.is_some() || row.details.get("implementation").is_none();
        if fresh {
            subscribe(engine, &row, Reset::Baseline).await?;
        }
    }
    Ok(())
}

/// A new subscription of `conn` for `w`, not yet subscribed.
fn new_row(conn: &Element, w: &Wanted) -> ExternalEventSubscriptionRow {
    ExternalEventSubscriptionRow {
        seq: 0,
        id: osmosis_model::ids::object_id(),
        workspace_id: conn.workspace_id.clone(),
        customer_id: conn.customer_id.clone().unwrap_or_default(),
        integration_id: conn.integration_id.clone().unwrap_or_default(),
        connection_id: conn.id.clone(),
        config_key: w.key.clone(),
        config: w.config.clone(),
        details: match &w.problem {
            Some(e) => json!({"problem": e}),
            None => json!({}),
        },
        status: "unsubscribed".into(),
        error: None,
        state_data: None,
        next_pull_ms: None,
        created_ms: crate::clock::now_ms(),
        archived_ms: None,
        webhook_key: super::webhooks::new_webhook_key(),
        webhook_state: None,
        next_refresh_ms: None,
    }
}

/// How a subscription is served: `webhook`, `pull-latest-records` or
/// `full-scan`, and the interval of its pulls in seconds (none for a webhook).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub implementation: &'static str,
    pub interval_seconds: i64,
}

/// How `row` is served by the collection its config points at, read from the
/// connection's connector (semantics §2.4, in preference order): a collection
/// event of type `pull-latest-records` with its function serves created and
/// updated records; without an `events` entry for the type (or with `full-scan`)
/// the collection's `list` is scanned whole; a `webhook` event with its
/// `subscribe` and `handle` functions is served by a webhook registered at the
/// external app ([`super::webhooks`]), for any event type. Custom-pull events
/// are refused with a clear error: they are not served yet, and quietly scanning instead would turn a real-time subscription into one three
/// hours late. Polled deletions are always found by a full scan: a change feed of
/// records cannot show a record that is gone. (Connector events are not
/// collection events: [`subscribe`] serves them by a global webhook,
/// [`super::global`].)
pub(crate) async fn plan(
    engine: &Engine,
    connection: &Element,
    row: &ExternalEventSubscriptionRow,
) -> Result<Plan, ApiError> {
    if let Some(problem) = row.details.get("problem") {
        return Err(serde_json::from_value(problem.clone())
            .unwrap_or_else(|_| ApiError::configuration("The subscription cannot be served")));
    }
    let sub_type = row.config["type"].as_str().unwrap_or_default();
    let event = event_of(sub_type).ok_or_else(|| {
        ApiError::bad_request(
            osmosis_model::error::keys::NOT_SUPPORTED,
            format!("`{sub_type}` subscriptions are not served yet"),
        )
    })?;
    let ds = &row.config["dataSource"];
    let key = ds["collectionKey"].as_str().unwrap_or_default();
    let collection = collection_of(engine, connection, key).await?;
    let seconds = |name: &str, default: i64| {
        ds.get(name)
            .and_then(Value::as_i64)
            .unwrap_or(default)
            .max(MIN_INTERVAL_SECONDS)
    };
    let full_scan = || {
        if collection.method(CollectionMethod::List).is_none() {
            return Err(ApiError::bad_request(
                osmosis_model::error::keys::NOT_SUPPORTED,
                format!("Data collection `{key}` has no `list` method and no events of its own, so its changes cannot be found"),
            ));
        }
        Ok(Plan {
            implementation: "full-scan",
            interval_seconds: seconds("fullSyncIntervalSeconds", DEFAULT_FULL_SYNC_SECONDS),
        })
    };
    let Some(declared) = collection.event(event) else {
        return full_scan();
    };
    match declared.implementation.as_str() {
        "pull-latest-records"
            if event != "deleted"
                && declared
                    .function(osmosis_connectors::definition::PULL_LATEST_RECORDS)
                    .is_some() =>
        {
            Ok(Plan {
                implementation: "pull-latest-records",
                interval_seconds: seconds("pullUpdatesIntervalSeconds", DEFAULT_PULL_SECONDS),
            })
        }
        "pull-latest-records" | "full-scan" => full_scan(),
        "webhook" => match ["subscribe", "handle"]
            .into_iter()
            .find(|f| declared.function(f).is_none())
        {
            None => Ok(Plan {
                implementation: "webhook",
                interval_seconds: 0,
            }),
            Some(missing) => Err(ApiError::configuration(format!(
                "Data collection `{key}` reports `{event}` events by webhook but has no `{missing}` function (events-{event}-webhook-{missing})"
            ))),
        },
        other => Err(ApiError::bad_request(
            osmosis_model::error::keys::NOT_SUPPORTED,
            format!("Data collection `{key}` reports `{event}` events by `{other}`, which is not served yet"),
        )),
    }
}

/// What subscribing again forgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reset {
    /// Nothing: go on from where the subscription was.
    No,
    /// What the pulls kept: the next pull takes a new baseline.
    Baseline,
    /// That, and a registered webhook: it is unsubscribed and subscribed anew
    /// (`resubscribe`).
    All,
}

/// Data collection `key` of `connection`'s connector, parsed.
pub(crate) async fn collection_of(
    engine: &Engine,
    connection: &Element,
    key: &str,
) -> Result<DataCollection, ApiError> {
    let (_, connector) = engine
        .calls()
        .live_integration_and_connector(connection)
        .await?;
    let spec = connector
        .doc
        .get("data")
        .and_then(|d| d.get(key))
        .ok_or_else(|| {
            ApiError::not_found(format!("The connector has no data collection `{key}`"))
        })?;
    DataCollection::from_value(key, spec)
        .map_err(|e| ApiError::configuration(format!("data collection `{key}`: {e}")))
}

/// Subscribes `row`: works out how it is served ([`plan`]) and, when it can be,
/// makes it `subscribed` — a polled one with its first pull due now (that pull
/// only takes the baseline), a webhook one with its webhook job due now, which
/// registers the webhook at the external app ([`super::webhooks`]); else records
/// why in `status: error`. Answers the row as stored.
pub(crate) async fn subscribe(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
    reset: Reset,
) -> Result<ExternalEventSubscriptionRow, ApiError> {
    let connection = live_connection(engine, &row.workspace_id, &row.connection_id)
        .await?
        .ok_or_else(|| crate::errors::not_found(ElementType::Connection, &row.connection_id))?;
    let now = crate::clock::now_ms();
    let mut details = row.details.clone();
    let mut change = SubscriptionChange {
        workspace_id: row.workspace_id.clone(),
        id: row.id.clone(),
        status: "subscribed".into(),
        error: None,
        details: Value::Null,
        next_pull_ms: None,
        archived_ms: None,
        reset_state: reset != Reset::No,
    };
    let planned = if row.config["type"] == "connector-event" && row.details.get("problem").is_none()
    {
        super::global::details(engine, &connection, row)
            .await
            .map(|d| {
                details = d;
                Plan {
                    implementation: super::global::IMPLEMENTATION,
                    interval_seconds: 0,
                }
            })
    } else {
        plan(engine, &connection, row).await
    };
    match planned {
        Ok(p) if p.implementation == super::global::IMPLEMENTATION => {}
        Ok(p) if p.implementation == "webhook" => {
            details = super::webhooks::details(engine, row, reset == Reset::All, now);
        }
        Ok(p) => {
            let interval = json!(p.interval_seconds);
            let ds = &row.config["dataSource"];
            details = json!({
                "implementation": p.implementation,
                "isRealTime": false,
                "requiresPull": true,
                "requiresFullSync": p.implementation == "full-scan",
                "intervalSeconds": interval,
                "pullUpdatesIntervalSeconds": ds.get("pullUpdatesIntervalSeconds").cloned().unwrap_or(json!(DEFAULT_PULL_SECONDS)),
                "fullSyncIntervalSeconds": ds.get("fullSyncIntervalSeconds").cloned().unwrap_or(json!(DEFAULT_FULL_SYNC_SECONDS)),
            });
            change.next_pull_ms = Some(now);
        }
        Err(e) => {
            if let Value::Object(m) = &mut details {
                m.remove("implementation");
            }
            change.status = "error".into();
            change.error = Some(serde_json::to_value(&e).unwrap_or(Value::Null));
        }
    };
    change.details = details;
    let stored = change_row(engine, &change).await?;
    if stored.status == "subscribed" && stored.next_pull_ms.is_some() {
        super::pull::schedule(engine, &stored, now).await;
    }
    Ok(stored)
}

/// Unsubscribes `row`: no more pulls (its scheduled pull stops when it comes); what
/// its pulls kept stays, so subscribing again goes on from there.
pub(crate) async fn unsubscribe(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
) -> Result<ExternalEventSubscriptionRow, ApiError> {
    let change = SubscriptionChange {
        workspace_id: row.workspace_id.clone(),
        id: row.id.clone(),
        status: "unsubscribed".into(),
        error: None,
        details: row.details.clone(),
        next_pull_ms: None,
        archived_ms: row.archived_ms,
        reset_state: false,
    };
    change_row(engine, &change).await
}

/// Applies `change`; answers the row as stored. A subscription served by a
/// webhook, or with one still registered, has its webhook job queued: that job
/// alone calls the connector's `subscribe`, `unsubscribe` and `refresh`, one at a
/// time per subscription whichever node made the change ([`super::webhooks`]).
pub(crate) async fn change_row(
    engine: &Engine,
    change: &SubscriptionChange,
) -> Result<ExternalEventSubscriptionRow, ApiError> {
    let stored = engine
        .stores
        .external_events
        .change_external_event_subscription(change)
        .await
        .map_err(store_error)?
        .ok_or_else(|| super::missing(&change.id))?;
    if super::webhooks::is_webhook(&stored) || stored.webhook_state.is_some() {
        super::webhooks::schedule(engine, &stored, crate::clock::now_ms()).await;
    }
    Ok(stored)
}
