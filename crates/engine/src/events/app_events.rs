//! App events (semantics §5.5, §4.3): events from the workspace's own app, posted
//! to an app event type's `globalWebhookUri` or to a customer's subscription
//! `webhookUri`, logged (`GET /app-events`) and fired into the `app-event-trigger`
//! nodes of that customer's enabled flow instances.
//!
//! **Processing**: each delivery becomes its events — on a database this node
//! owns, in the group commit that stores it ([`super::intake`]); on a shared one,
//! in the job of the URL's target. A JSON array body is a batch, one event per item;
//! any other JSON body is one event; a delivery without a body (a `GET`) is one
//! event of its query parameters. Whose event it is: the subscription's customer;
//! on a global webhook, the customer of the Bearer token the delivery carried, else
//! the customer whose `internalId` the type's `tenantIdFormula` (then its legacy
//! `userIdFormula`) gives when evaluated over the event. An event no rule attributes
//! to an existing customer is not stored (a payload never creates a customer); the
//! delivery is settled `error` saying why, and its other events still count.
//!
//! **Duplicates**: an event with the same type, customer and payload as one stored
//! in the last [`DEDUPE_WINDOW_MS`] (a retried delivery) is not stored again; the
//! delivery lists the event it repeats. Decided here where the docs are silent: an
//! app that sends the very same payload twice within the window on purpose gets
//! one event. Where the stored events are looked up ([`Repeats`]): on a database
//! this node owns, in its window of recent events held in memory
//! ([`super::recent_events`], at most a million events); on a shared one, in the
//! database.
//!
//! **Dispatch** (the job of the URL's target): an event whose customer has no flow
//! instance with a trigger of its type is stored handled at once
//! ([`TriggerMemo::may_trigger`]). Any other starts one run per matching trigger — an `app-event-trigger`
//! whose `config.appEventKey` (or `appEventTypeId`) names the event's type, in a
//! flow instance of the event's customer that is enabled, live and on a live
//! connection at dispatch time, whose `config.filter` (over `{payload}`) holds. The
//! trigger's output is `{payload: <event>}`, as documented. The run's id is derived
//! from the event, instance and node, and looked up before starting, so a dispatch
//! retried after a crash never starts a run twice. The event records the runs it
//! launched (`launchedFlowRunIds`).

use osmosis_model::{ApiError, Element, ElementType};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use osmosis_store::{
    AppEventOutcome, AppEventRow, ElementQuery, EventStore, IncomingWebhook, RefFilter, Settlement,
    StoreError,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::intake::{WebhookTarget, PROCESS_BATCH};
use super::recent_events::Held;
use crate::errors::store_error;
use crate::flows::Launch;
use crate::node_cache::{elements_revision, NodeCache};
use crate::{Caller, Engine};

/// How long a stored event makes a repeat of it a duplicate.
pub(crate) const DEDUPE_WINDOW_MS: i64 = 5 * 60_000;

/// One claim's work for a target: settle its pending deliveries, then dispatch its
/// pending events. Answers whether more are waiting.
pub(crate) async fn process(
    engine: &Engine,
    workspace_id: &str,
    kind: WebhookTarget,
    target_id: &str,
    target: Option<Element>,
) -> Result<bool, String> {
    let store = &engine.stores.events;
    let deliveries = store
        .pending_deliveries(workspace_id, target_id, PROCESS_BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if !deliveries.is_empty() {
        let source = Arc::new(Source::of(engine, kind, target).await?);
        let mut triggers = TriggerMemo::default();
        let mut arrivals = Vec::with_capacity(deliveries.len());
        for d in &deliveries {
            arrivals.push(Arrival {
                parsed: parse(engine, &source, d, &mut triggers).await?,
                source: Arc::clone(&source),
            });
        }
        let mut held = super::recent_events::hold(engine.recent_events.as_deref(), &**store)
            .await
            .map_err(|e| e.to_string())?;
        let repeats = Repeats::of(held.as_ref(), &**store);
        let settlements = settle_all(repeats, deliveries.iter().zip(arrivals))
            .await
            .map_err(|e| e.to_string())?;
        store
            .settle_deliveries(&settlements, crate::clock::now_ms())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(held) = &mut held {
            held.remember(settlements.iter().flat_map(|s| &s.events));
        }
    }
    let events = store
        .pending_app_events(workspace_id, target_id, PROCESS_BATCH)
        .await
        .map_err(|e| e.to_string())?;
    if !events.is_empty() {
        let mut dispatcher = Dispatcher::new(engine, workspace_id).await?;
        for event in &events {
            dispatcher.dispatch(event).await?;
        }
        store
            .finish_app_events(workspace_id, &dispatcher.outcomes)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(deliveries.len() as i64 == PROCESS_BATCH || events.len() as i64 == PROCESS_BATCH)
}

/// A delivery's events worked out (whose each is, whether it may trigger
/// anything) but not yet settled: settling needs the events stored so far, to
/// tell repeats, so it happens where writes are serialized — the intake's group
/// commit ([`super::intake`]) or the target's job.
pub(crate) struct Arrival {
    source: Arc<Source>,
    parsed: Parsed,
}

/// Works out a delivery to an app event webhook as it arrives (see [`Arrival`]).
pub(crate) async fn arrival(
    engine: &Engine,
    kind: WebhookTarget,
    target: Element,
    d: &IncomingWebhook,
) -> Result<Arrival, String> {
    let source = Source::of(engine, kind, Some(target)).await?;
    let parsed = parse(engine, &source, d, &mut TriggerMemo::default()).await?;
    Ok(Arrival {
        source: Arc::new(source),
        parsed,
    })
}

/// Where repeats of stored events are looked up.
pub(crate) enum Repeats<'a, 'w> {
    /// The database: on a shared one, other nodes store events too.
    Stored(&'a dyn EventStore),
    /// This node's window ([`super::recent_events`]), locked until the
    /// settlement's events are committed and remembered.
    Window(&'a Held<'w>),
}

impl<'a, 'w> Repeats<'a, 'w> {
    /// The window when this node holds one, else the database.
    pub(crate) fn of(held: Option<&'a Held<'w>>, store: &'a dyn EventStore) -> Self {
        held.map_or(Repeats::Stored(store), Repeats::Window)
    }
}

/// Settles deliveries with their arrivals: each event stored within the
/// [`DEDUPE_WINDOW_MS`] (or earlier in the batch) with the same fingerprint makes
/// a repeat; the others are new events.
pub(crate) async fn settle_all<'a>(
    repeats: Repeats<'_, '_>,
    batch: impl Iterator<Item = (&'a IncomingWebhook, Arrival)>,
) -> Result<Vec<Settlement>, StoreError> {
    let batch: Vec<(&IncomingWebhook, Arrival)> = batch.collect();
    let candidates = || {
        batch
            .iter()
            .flat_map(|(d, a)| a.parsed.candidates.iter().map(move |c| (*d, c)))
    };
    let since = crate::clock::now_ms() - DEDUPE_WINDOW_MS;
    let mut known = HashMap::new();
    match repeats {
        Repeats::Window(held) => {
            for (_, c) in candidates() {
                if let Some(id) = held.find(&c.fingerprint, since) {
                    known.insert(c.fingerprint.clone(), id);
                }
            }
        }
        Repeats::Stored(store) => {
            // Looked up at once per workspace.
            let mut fingerprints: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (d, c) in candidates() {
                fingerprints
                    .entry(d.workspace_id.as_str())
                    .or_default()
                    .push(c.fingerprint.clone());
            }
            for (workspace_id, fingerprints) in fingerprints {
                known.extend(
                    store
                        .app_events_with_fingerprints(workspace_id, &fingerprints, since)
                        .await?,
                );
            }
        }
    }
    Ok(batch
        .into_iter()
        .map(|(d, a)| settle(&a.source, d, a.parsed, &mut known))
        .collect())
}

/// Where a target's deliveries come from: the event type, and the subscription
/// when the URL was one's.
struct Source {
    /// `None` when the target is gone or archived: its deliveries fail.
    event_type: Option<Element>,
    subscription: Option<Element>,
    problem: Option<String>,
}

impl Source {
    async fn of(
        engine: &Engine,
        kind: WebhookTarget,
        target: Option<Element>,
    ) -> Result<Source, String> {
        let gone = |why: &str| Source {
            event_type: None,
            subscription: None,
            problem: Some(why.to_owned()),
        };
        let Some(target) = target else {
            return Ok(gone("The webhook's target no longer exists"));
        };
        if target.is_archived() {
            return Ok(gone("The webhook's target is archived"));
        }
        match kind {
            WebhookTarget::AppEventType => Ok(Source {
                event_type: Some(target),
                subscription: None,
                problem: None,
            }),
            WebhookTarget::AppEventSubscription => {
                let parent = match &target.parent_id {
                    Some(p) => engine
                        .stores
                        .elements
                        .element_by_id(&target.workspace_id, p)
                        .await
                        .map_err(|e| e.to_string())?,
                    None => None,
                };
                match parent.filter(|t| !t.is_archived()) {
                    Some(t) => Ok(Source {
                        event_type: Some(t),
                        subscription: Some(target),
                        problem: None,
                    }),
                    None => Ok(gone(
                        "The subscription's app event type is archived or gone",
                    )),
                }
            }
            // Connector webhooks are processed by `external::webhooks` and
            // `external::global`.
            WebhookTarget::ExternalEventSubscription | WebhookTarget::GlobalWebhook => {
                Ok(gone("The webhook is not an app event webhook"))
            }
        }
    }
}

/// One event of a delivery, attributed to its customer.
struct Candidate {
    index: usize,
    customer_id: String,
    fingerprint: String,
    event: Value,
    /// Whether a flow instance of the customer has a trigger of the type
    /// ([`may_trigger`]); an event no trigger can fire is stored as handled.
    dispatch: bool,
}

/// A delivery's events, and why some could not be attributed.
struct Parsed {
    candidates: Vec<Candidate>,
    problems: Vec<String>,
}

/// The events of a delivery (see the module doc), whose each is, and whether
/// each may trigger a run (`triggers` remembers it per customer).
async fn parse(
    engine: &Engine,
    source: &Source,
    d: &IncomingWebhook,
    triggers: &mut TriggerMemo,
) -> Result<Parsed, String> {
    let mut parsed = Parsed {
        candidates: Vec::new(),
        problems: Vec::new(),
    };
    let Some(event_type) = &source.event_type else {
        return Ok(parsed);
    };
    let payloads = match &d.request["body"] {
        Value::Array(items) => items.clone(),
        Value::Null => vec![d.request["query"].clone()],
        other => vec![other.clone()],
    };
    for (index, event) in payloads.into_iter().enumerate() {
        match customer_of(engine, source, event_type, d, &event).await? {
            Ok(customer_id) => parsed.candidates.push(Candidate {
                index,
                fingerprint: fingerprint(&event_type.id, &customer_id, &event),
                dispatch: triggers
                    .may_trigger(engine, event_type, &customer_id)
                    .await?,
                customer_id,
                event,
            }),
            Err(why) => parsed.problems.push(format!("event {index}: {why}")),
        }
    }
    Ok(parsed)
}

/// How a delivery settles: its new events, and for a repeat the event it repeats
/// (`known`: fingerprint → event id, stored or made earlier in this batch).
fn settle(
    source: &Source,
    d: &IncomingWebhook,
    parsed: Parsed,
    known: &mut HashMap<String, String>,
) -> Settlement {
    let mut settlement = Settlement {
        delivery_id: d.id.clone(),
        status: "success".into(),
        error: None,
        event_ids: Vec::new(),
        events: Vec::new(),
    };
    let Some(event_type) = &source.event_type else {
        settlement.status = "error".into();
        settlement.error = source.problem.clone();
        return settlement;
    };
    for c in parsed.candidates {
        if let Some(id) = known.get(&c.fingerprint) {
            // A repeat: the delivery points at the event it repeats.
            settlement.event_ids.push(id.clone());
            continue;
        }
        let id = derived_id_at(&d.id, &[&d.id, &c.index.to_string()]);
        known.insert(c.fingerprint.clone(), id.clone());
        settlement.event_ids.push(id.clone());
        settlement.events.push(AppEventRow {
            seq: 0,
            id,
            workspace_id: d.workspace_id.clone(),
            target_id: d.target_id.clone(),
            customer_id: c.customer_id,
            app_event_type_id: event_type.id.clone(),
            app_event_subscription_id: source.subscription.as_ref().map(|s| s.id.clone()),
            incoming_webhook_id: d.id.clone(),
            fingerprint: c.fingerprint,
            status: if c.dispatch { "created" } else { "success" }.into(),
            error: None,
            event: c.event,
            launched_flow_run_ids: Vec::new(),
            created_ms: crate::clock::now_ms(),
        });
    }
    if !parsed.problems.is_empty() {
        settlement.status = "error".into();
        settlement.error = Some(parsed.problems.join("; "));
    }
    settlement
}

/// Whose `event` is (see the module doc): `Err` saying why nobody's.
async fn customer_of(
    engine: &Engine,
    source: &Source,
    event_type: &Element,
    d: &IncomingWebhook,
    event: &Value,
) -> Result<Result<String, String>, String> {
    if let Some(s) = &source.subscription {
        return Ok(s
            .customer_id
            .clone()
            .ok_or_else(|| "the subscription has no customer".into()));
    }
    if let Some(id) = &d.customer_id {
        return Ok(Ok(id.clone()));
    }
    for field in ["tenantIdFormula", "userIdFormula"] {
        let Some(formula) = event_type.doc.get(field).filter(|f| !f.is_null()) else {
            continue;
        };
        let internal_id = match osmosis_runtime::formula::build_value(Some(formula), Some(event)) {
            Ok(Some(Value::String(s))) if !s.is_empty() => s,
            Ok(Some(Value::Number(n))) => n.to_string(),
            Ok(_) => {
                return Ok(Err(format!(
                    "`{field}` gives no customer id for this event"
                )))
            }
            Err(e) => return Ok(Err(format!("`{field}` failed: {e}"))),
        };
        let found = engine
            .live_customer_id(&d.workspace_id, &internal_id)
            .await
            .map_err(|e| e.message)?;
        return Ok(match found {
            Some(id) => Ok(id),
            None => Err(format!(
                "`{field}` names the customer `{internal_id}`, who does not exist or is archived"
            )),
        });
    }
    Ok(Err(
        "no customer: send a customer's token as `Authorization: Bearer`, or give the app event type a `tenantIdFormula`"
            .into(),
    ))
}

/// A stable hash of the event's type, customer and payload: the payload as
/// compact JSON with every object's keys sorted, hashed as it is written rather
/// than built as a sorted copy first (half of working out an arrival's events,
/// `bench/events/README.md`). The bytes hashed are the same as that copy's
/// serialization, so events stored before still match (tested).
fn fingerprint(type_id: &str, customer_id: &str, event: &Value) -> String {
    let mut hash = hash_of(&[type_id, customer_id]);
    write_canonical(event, &mut Hashing(&mut hash));
    hash.update([0u8]);
    hex_id(hash)
}

/// Feeds what is written to a hash.
struct Hashing<'a>(&'a mut Sha256);

impl std::io::Write for Hashing<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `v` as compact JSON with every object's keys in byte order.
fn write_canonical(v: &Value, out: &mut Hashing) {
    // Writing into a hash cannot fail, nor can serializing a string or a scalar.
    match v {
        Value::Object(m) => {
            let mut fields: Vec<(&String, &Value)> = m.iter().collect();
            fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.0.update(b"{");
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.0.update(b",");
                }
                let _ = serde_json::to_writer(&mut *out, k);
                out.0.update(b":");
                write_canonical(v, out);
            }
            out.0.update(b"}");
        }
        Value::Array(items) => {
            out.0.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.0.update(b",");
                }
                write_canonical(item, out);
            }
            out.0.update(b"]");
        }
        scalar => {
            let _ = serde_json::to_writer(out, scalar);
        }
    }
}

/// Like [`derived_id`], but sorting with the object id `at` (its 12 timestamp
/// digits, then 12 of the hash): ids that follow time insert at the end of their
/// index, where a random one dirtied a page anywhere in it, one more page for
/// every commit to write.
fn derived_id_at(at: &str, parts: &[&str]) -> String {
    let hash = derived_id(parts);
    match at.get(..12) {
        Some(time) => format!("{time}{}", &hash[..12]),
        None => hash,
    }
}

/// An id (24 hex digits, as the other ids) derived from `parts`: the same parts
/// always give the same id.
fn derived_id(parts: &[&str]) -> String {
    hex_id(hash_of(parts))
}

/// A hash fed with each of `parts` and a zero byte after each.
fn hash_of(parts: &[&str]) -> Sha256 {
    let mut hash = Sha256::new();
    for p in parts {
        hash.update(p.as_bytes());
        hash.update([0u8]);
    }
    hash
}

/// The first 12 bytes of the hash as 24 lowercase hex digits.
fn hex_id(hash: Sha256) -> String {
    let digest = hash.finalize();
    let mut first = [0u8; 16];
    first[4..].copy_from_slice(&digest[..12]);
    format!("{:024x}", u128::from_be_bytes(first))
}

/// Dispatches one claim's events: what they share (the admin caller, event
/// types, each customer's flow instances) is read once, and how each went is
/// written together at the end.
struct Dispatcher<'e> {
    engine: &'e Engine,
    admin: Caller,
    types: HashMap<String, Option<Element>>,
    instances: HashMap<String, Vec<Element>>,
    outcomes: Vec<AppEventOutcome>,
}

impl<'e> Dispatcher<'e> {
    async fn new(engine: &'e Engine, workspace_id: &str) -> Result<Dispatcher<'e>, String> {
        let admin = Caller::admin(
            engine
                .workspace_by_id(workspace_id)
                .await
                .map_err(|e| e.message)?,
        );
        Ok(Dispatcher {
            engine,
            admin,
            types: HashMap::new(),
            instances: HashMap::new(),
            outcomes: Vec::new(),
        })
    }

    /// Starts the runs `event` triggers (see the module doc); its outcome joins
    /// [`Dispatcher::outcomes`].
    async fn dispatch(&mut self, event: &AppEventRow) -> Result<(), String> {
        let engine = self.engine;
        let ws = &event.workspace_id;
        if !self.types.contains_key(&event.app_event_type_id) {
            let found = engine
                .stores
                .elements
                .element_by_id(ws, &event.app_event_type_id)
                .await
                .map_err(|e| e.to_string())?
                .filter(|t| !t.is_archived());
            self.types.insert(event.app_event_type_id.clone(), found);
        }
        if !self.instances.contains_key(&event.customer_id) {
            let found = customer_instances(engine, ws, &event.customer_id)
                .await
                .map_err(|e| e.message)?;
            self.instances.insert(event.customer_id.clone(), found);
        }
        let mut launched = Vec::new();
        let mut problems = Vec::new();
        match &self.types[&event.app_event_type_id] {
            Some(event_type) => {
                let payload = json!({"payload": event.event});
                for instance in &self.instances[&event.customer_id] {
                    let triggers = match triggers_of(engine, instance, event_type, &payload).await {
                        Ok(t) => t,
                        Err(e) => {
                            problems.push(format!("flow instance {}: {}", instance.id, e.message));
                            continue;
                        }
                    };
                    for node in triggers {
                        let run_id = derived_id(&[&event.id, &instance.id, &node]);
                        let launch = Launch {
                            start_node_key: Some(node.clone()),
                            input: Some(payload.clone()),
                            meta: None,
                            launched_by: "app-event-trigger",
                            launched_by_ids: vec![event.id.clone()],
                            run_id: Some(run_id),
                        };
                        match engine
                            .flows()
                            .start_once(&self.admin, instance.clone(), launch)
                            .await
                            .map_err(|e| e.message)?
                        {
                            Ok(run_id) => launched.push(run_id),
                            Err(e) => problems.push(format!(
                                "flow instance {} node {node}: {}",
                                instance.id, e.message
                            )),
                        }
                    }
                }
            }
            None => problems.push("the app event type is archived or gone".into()),
        }
        let error = (!problems.is_empty()).then(|| problems.join("; "));
        if let Some(error) = &error {
            tracing::warn!(workspace_id = %ws, app_event = %event.id, error = %error, "an app event could not start every flow run it triggers");
        }
        self.outcomes.push(AppEventOutcome {
            id: event.id.clone(),
            status: if error.is_some() { "error" } else { "success" }.into(),
            error,
            launched_flow_run_ids: launched,
        });
        Ok(())
    }
}

/// Whether a customer's flow instances have a trigger of an event type, kept on
/// this node ([`NodeCache`]) while no flow or flow instance of the workspace was
/// written and the type is unchanged: worked out afresh for each delivery, it
/// read and layered every flow instance of the customer — about a tenth of the
/// intake's CPU at 64 clients (`bench/events/README.md`).
pub(crate) type Triggers = NodeCache<bool>;

/// [`Triggers`] per customer for one batch, for when the node keeps nothing
/// (its element cache is not live).
#[derive(Default)]
struct TriggerMemo(HashMap<String, bool>);

impl TriggerMemo {
    /// Whether any live flow instance of `customer_id`, enabled or not, has an
    /// `app-event-trigger` of `event_type` among its nodes. Only then is the
    /// event dispatched (by its target's job, which checks each instance is
    /// enabled and each trigger's filter); otherwise it is stored handled,
    /// launching nothing, with no job. Decided here where the docs are silent: a
    /// trigger added after the event was stored does not receive it, as one
    /// added after its dispatch would not.
    async fn may_trigger(
        &mut self,
        engine: &Engine,
        event_type: &Element,
        customer_id: &str,
    ) -> Result<bool, String> {
        if let Some(known) = self.0.get(customer_id) {
            return Ok(*known);
        }
        let ws = &event_type.workspace_id;
        let revision = elements_revision(
            &*engine.stores.elements,
            ws,
            &[ElementType::FlowInstance, ElementType::Flow],
            &event_type.revision,
        );
        let derive = async {
            for instance in customer_instances(engine, ws, customer_id)
                .await
                .map_err(|e| e.message)?
            {
                let effective = engine
                    .elements()
                    .effective(&instance)
                    .await
                    .map_err(|e| e.message)?;
                let nodes = effective.doc.get("nodes").and_then(Value::as_object);
                if nodes.is_some_and(|n| n.values().any(|node| is_trigger_for(node, event_type))) {
                    return Ok(true);
                }
            }
            Ok::<_, String>(false)
        };
        let found = *engine
            .triggers
            .get_or_derive(
                &format!("{ws}/{}/{customer_id}", event_type.id),
                revision.as_deref(),
                engine.stores.database.is_shared(),
                derive,
            )
            .await?;
        self.0.insert(customer_id.to_owned(), found);
        Ok(found)
    }
}

/// The live flow instances of a customer.
async fn customer_instances(
    engine: &Engine,
    workspace_id: &str,
    customer_id: &str,
) -> Result<Vec<Element>, ApiError> {
    let mut all = Vec::new();
    let mut q = ElementQuery::new(workspace_id, ElementType::FlowInstance);
    q.customer = RefFilter::Is(customer_id.to_owned());
    q.limit = 500;
    loop {
        let page = engine
            .stores
            .elements
            .find_elements(&q)
            .await
            .map_err(store_error)?;
        let full = page.len() as i64 == q.limit;
        if let Some(last) = page.last() {
            q.after_seq = last.seq;
        }
        all.extend(page);
        if !full {
            return Ok(all);
        }
    }
}

/// The keys of `instance`'s `app-event-trigger` nodes that fire on `payload` of
/// `event_type` now; none while the instance is disabled, archived, on an
/// archived connection, or its flow has graph errors.
async fn triggers_of(
    engine: &Engine,
    instance: &Element,
    event_type: &Element,
    payload: &Value,
) -> Result<Vec<String>, ApiError> {
    if !crate::flows::instances::active(engine, instance).await? {
        return Ok(Vec::new());
    }
    let effective = engine.elements().effective(instance).await?;
    let empty = Map::new();
    let nodes = effective
        .doc
        .get("nodes")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !crate::types::flow::flow_graph_errors(nodes, true).is_empty() {
        return Ok(Vec::new());
    }
    let mut keys = Vec::new();
    for (key, node) in nodes {
        if !is_trigger_for(node, event_type) {
            continue;
        }
        let filter = node.get("config").and_then(|c| c.get("filter"));
        let fires = osmosis_runtime::formula::backward_compatible_filter_match(
            filter.filter(|f| !f.is_null()),
            Some(payload),
        )
        .map_err(|e| ApiError::configuration(format!("the trigger's filter failed: {e}")))?;
        if osmosis_runtime::js::truthy(fires.as_ref()) {
            keys.push(key.clone());
        }
    }
    Ok(keys)
}

/// Whether `node` is an `app-event-trigger` of `event_type`.
pub(crate) fn is_trigger_for(node: &Value, event_type: &Element) -> bool {
    if node.get("type").and_then(Value::as_str) != Some("app-event-trigger") {
        return false;
    }
    let config = node.get("config");
    let text = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_str);
    let by_key = text("appEventKey").or_else(|| text("eventKey"));
    by_key.is_some_and(|k| event_type.key.as_deref() == Some(k))
        || text("appEventTypeId") == Some(event_type.id.as_str())
}

/// Puts the values of `vars` into every `{{path}}` of the strings in `value` (a
/// dotted path into `vars`: `{{webhookUri}}`, `{{user.fields.apiKey}}`): strings
/// as they are, other values as JSON; a path naming nothing gives "".
fn fill_placeholders(value: &Value, vars: &Value) -> Value {
    match value {
        Value::String(s) if s.contains("{{") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                let Some(len) = rest[start..].find("}}") else {
                    break;
                };
                out.push_str(&rest[..start]);
                let path = rest[start + 2..start + len].trim();
                let found = path
                    .split('.')
                    .try_fold(vars, |v, k| v.get(k))
                    .unwrap_or(&Value::Null);
                match found {
                    Value::String(text) => out.push_str(text),
                    Value::Null => {}
                    other => out.push_str(&other.to_string()),
                }
                rest = &rest[start + len + 2..];
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| fill_placeholders(v, vars)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), fill_placeholders(v, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

impl Engine {
    /// `POST /app-event-subscription/subscribe` (and the subscribing a flow's
    /// enabling does): sends the app event type's `subscribeRequest` to the
    /// workspace's app as the subscription's customer — its formulas and
    /// `{{…}}` placeholders given `webhookUri` (the subscription's) and `user` (the
    /// customer: `id`, `internalId`, `name`, `fields`) — with the customer's token
    /// in the headers requests to the workspace's API carry. The subscription
    /// keeps the request (secret headers masked) and the response, and is
    /// `isSubscribed` once the app answered 2xx. A type without a
    /// `subscribeRequest` takes its events on the global webhook: subscribing only
    /// marks the subscription subscribed. A failed request leaves it unsubscribed,
    /// with the error as its `subscriptionResponse`, and answers the error.
    pub async fn subscribe_app_events(
        &self,
        caller: &Caller,
        current: &Element,
    ) -> Result<Element, ApiError> {
        crate::elements::ensure_editable(current)?;
        let ws = &current.workspace_id;
        let event_type = match &current.parent_id {
            Some(p) => self
                .stores
                .elements
                .element_by_id(ws, p)
                .await
                .map_err(store_error)?,
            None => None,
        }
        .filter(|t| !t.is_archived())
        .ok_or_else(|| {
            ApiError::configuration("The subscription's app event type is archived or gone")
        })?;
        let mut el = current.clone();
        if el.doc_str("webhookKey").is_none() {
            crate::types::app_events::prepare_webhook_key(&mut el)?;
        }
        let spec = event_type
            .doc
            .get("subscribeRequest")
            .filter(|r| r.is_object());
        let outcome = match spec {
            None => {
                el.doc.insert("subscriptionRequest".into(), json!({}));
                Ok(())
            }
            Some(spec) => {
                let (request, answer) = self.send_subscribe_request(caller, &el, spec).await;
                el.doc.insert("subscriptionRequest".into(), request);
                match answer {
                    Ok(response) => {
                        el.doc.insert("subscriptionResponse".into(), response);
                        Ok(())
                    }
                    Err(e) => {
                        el.doc.insert(
                            "subscriptionResponse".into(),
                            json!({"error": serde_json::to_value(&e).unwrap_or(Value::Null)}),
                        );
                        Err(e)
                    }
                }
            }
        };
        el.doc.insert("isSubscribed".into(), json!(outcome.is_ok()));
        let stored = self.elements().store_refreshed(current.clone(), el).await?;
        outcome.map(|()| stored)
    }

    /// Builds and sends a subscription's request; answers it as kept (secret
    /// headers masked) and the app's answer.
    async fn send_subscribe_request(
        &self,
        _caller: &Caller,
        subscription: &Element,
        spec: &Value,
    ) -> (Value, Result<Value, ApiError>) {
        let ws = &subscription.workspace_id;
        let user = match crate::types::customer::user_variable(
            self.stores.elements.as_ref(),
            ws,
            subscription.customer_id.as_deref(),
        )
        .await
        {
            Ok(u) => u,
            Err(e) => return (json!({}), Err(e)),
        };
        let webhook_uri = WebhookTarget::AppEventSubscription.uri_of(self, subscription);
        let vars = json!({"webhookUri": webhook_uri, "user": user, "customer": user});
        let built = match osmosis_runtime::formula::build_data(Some(spec), Some(&vars)) {
            Ok(v) => fill_placeholders(&v.unwrap_or(Value::Null), &vars),
            Err(e) => {
                return (
                    json!({}),
                    Err(ApiError::configuration(format!(
                        "The app event type's `subscribeRequest` failed: {e}"
                    ))),
                )
            }
        };
        let mut kept = built.clone();
        if let Some(Value::Object(h)) = kept.get_mut("headers") {
            for (k, v) in h.iter_mut() {
                if osmosis_connectors::redact::looks_secret(k) {
                    *v = json!("***");
                }
            }
        }
        let Value::Object(request) = &built else {
            return (
                kept,
                Err(ApiError::configuration(
                    "The app event type's `subscribeRequest` must give an object",
                )),
            );
        };
        let workspace = match self.workspace_by_id(ws).await {
            Ok(w) => w,
            Err(e) => return (kept, Err(e)),
        };
        let headers = match user["internalId"].as_str() {
            Some(internal) => match crate::actions::http::customer_token(&workspace, internal) {
                Ok(token) => crate::actions::http::token_headers(&token),
                Err(e) => return (kept, Err(e)),
            },
            None => Vec::new(),
        };
        let answer =
            crate::actions::http::send_request(&self.http, request, "subscribeRequest", headers)
                .await;
        (kept, answer)
    }
}

/// After a flow instance's triggers were set up: for each `app-event-trigger` of
/// an enabled instance, its customer's subscription to the trigger's app event type
/// exists and — when the type has a `subscribeRequest` — is subscribed. A failure
/// is logged on the subscription (its `subscriptionResponse`) and in the server log;
/// `POST /app-event-subscription/subscribe` tries again. Subscriptions are not
/// unsubscribed when no flow needs them any more: the model has no unsubscribe
/// request, and events that arrive without a flow to fire are logged and harmless.
impl Engine {
    /// See [`try_setup_instance`]: called where a flow instance's triggers are set
    /// up.
    pub(crate) async fn subscribe_app_event_triggers(&self, instance: &Element) {
        if let Err(e) = try_setup_instance(self, instance).await {
            tracing::warn!(workspace_id = %instance.workspace_id, instance = %instance.id, error = %e.message, "could not subscribe a flow instance's app event triggers");
        }
    }
}

async fn try_setup_instance(engine: &Engine, instance: &Element) -> Result<(), ApiError> {
    let Some(customer_id) = instance.customer_id.clone() else {
        return Ok(());
    };
    if !crate::flows::instances::active(engine, instance).await? {
        return Ok(());
    }
    let effective = engine.elements().effective(instance).await?;
    let Some(nodes) = effective.doc.get("nodes").and_then(Value::as_object) else {
        return Ok(());
    };
    let workspace = engine.workspace_by_id(&instance.workspace_id).await?;
    let customer = Caller {
        workspace,
        customer_id: Some(customer_id),
        include_secrets: false,
    };
    for node in nodes.values() {
        if node.get("type").and_then(Value::as_str) != Some("app-event-trigger") {
            continue;
        }
        let config = node.get("config");
        let text = |k: &str| config.and_then(|c| c.get(k)).and_then(Value::as_str);
        let Some(type_ref) = text("appEventKey")
            .or_else(|| text("eventKey"))
            .or_else(|| text("appEventTypeId"))
        else {
            continue;
        };
        let subscription = engine
            .elements()
            .resolve_instance(
                &customer,
                ElementType::AppEventSubscription,
                &crate::elements::InstanceSelector {
                    parent: Some(type_ref.to_owned()),
                    auto_create: true,
                    ..Default::default()
                },
            )
            .await?;
        if !subscription.doc_bool("isSubscribed") {
            engine
                .subscribe_app_events(&customer, &subscription)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How fingerprints were made before they were hashed as written: the
    /// payload copied with sorted keys, then serialized.
    fn fingerprint_as_before(type_id: &str, customer_id: &str, event: &Value) -> String {
        fn sorted(v: &Value) -> Value {
            match v {
                Value::Object(m) => {
                    let ordered: BTreeMap<&String, Value> =
                        m.iter().map(|(k, v)| (k, sorted(v))).collect();
                    json!(ordered)
                }
                Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
                other => other.clone(),
            }
        }
        let canonical = serde_json::to_string(&sorted(event)).unwrap_or_default();
        let mut hash = Sha256::new();
        for p in [type_id, customer_id, &canonical] {
            hash.update(p.as_bytes());
            hash.update([0u8]);
        }
        hash.finalize()[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn fingerprints_are_those_of_events_stored_before() {
        let events = [
            json!(null),
            json!(42),
            json!(-1.5e300),
            json!("plain"),
            json!({}),
            json!([]),
            json!({"b": 1, "a": [3, {"z": null, "y": "\"quoted\"\n"}], "é": "ü", "A": true}),
            json!([{"k": {"c": 1, "b": 2, "a": [[], {}]}}, "x", 0.1]),
            json!({"emoji": "😀", "ctl": "\u{1}", "big": 18446744073709551615u64}),
        ];
        for event in &events {
            assert_eq!(
                fingerprint("aet_1", "cus_1", event),
                fingerprint_as_before("aet_1", "cus_1", event),
                "{event}"
            );
        }
        assert_ne!(
            fingerprint("aet_1", "cus_1", &json!({"a": 1})),
            fingerprint("aet_1", "cus_2", &json!({"a": 1}))
        );
    }

    #[test]
    fn derived_ids_are_24_lowercase_hex_digits() {
        let id = derived_id(&["a", "b"]);
        assert_eq!(id.len(), 24);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        let mut hash = Sha256::new();
        hash.update(b"a\0b\0");
        let digest = hash.finalize();
        let expected: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(id, expected);
    }
}
