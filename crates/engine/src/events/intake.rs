//! Webhook intake (ARCHITECTURE "Intake before processing"): a delivery to one of
//! Osmosis's webhook URLs is stored — with the job that will process it, in one
//! transaction — before it is answered, so a delivery answered 2xx survives a crash
//! the instant after. Deliveries share group commits: under a burst one commit
//! stores many, and the bounded queue of the group commit holds back senders
//! instead of growing memory. The job of a target (an app event type or
//! subscription) processes its deliveries in arrival order, a batch per claim.
//!
//! A delivery to an app event webhook on a database this node owns is settled
//! in that same commit, with its events ([`settle_arrivals`]); the job is left
//! only the events a trigger may fire. One transaction per group of deliveries,
//! where the job took four more (claim, settle, dispatch, done) — the single
//! SQLite writer's commits are what bounded the intake.
//!
//! What a URL names is found by its webhook key, unguessable and unique to the
//! element (or external event subscription, or connector global webhook:
//! `/webhooks/global/<workspace>/<key>`, `external::global`); a key
//! nobody holds answers 404, an archived target 410 — logged, and never processed.
//! A connector webhook's delivery also keeps what its connector's `handle` may need
//! to verify it — the headers and query unmasked and the raw body — sealed with
//! the credentials key, until it is processed (then dropped). Secrets in a stored request are masked: the values of headers
//! and query parameters whose names look secret (`Authorization`, `X-Api-Key`,
//! signatures, cookies, tokens).

use std::sync::Arc;

use osmosis_connectors::redact::looks_secret;
use osmosis_model::error::keys;
use osmosis_model::{ids, ApiError, Element, ElementType};
use osmosis_store::{AppEventRow, ElementQuery, EventStore, IncomingWebhook, Job};
use serde_json::{json, Map, Value};

use super::app_events::Repeats;
use super::recent_events::RecentEvents;
use crate::errors::store_error;
use crate::group_commit::GroupCommit;
use crate::jobs::{JobKind, RetryPolicy};
use crate::{Caller, Engine};

/// Deliveries stored in group commits; each answered whether its commit queued
/// a processing job (only then is the worker woken).
pub(crate) type IntakeWriter = GroupCommit<Intake, bool>;

/// A delivery for the group commit, with its events when they were worked out as
/// it arrived.
pub(crate) struct Intake {
    delivery: IncomingWebhook,
    arrival: Option<super::app_events::Arrival>,
}

/// Deliveries per commit: bounds one transaction.
const INTAKE_BATCH: usize = 512;

/// Deliveries (and app events) one claim of a target's job processes; more wait
/// for the next claim, which follows at once. Keeps a claim well inside its lease.
pub(crate) const PROCESS_BATCH: i64 = 500;

pub(crate) fn writer(
    store: Arc<dyn EventStore>,
    recent: Option<Arc<RecentEvents>>,
) -> IntakeWriter {
    GroupCommit::new(
        INTAKE_BATCH,
        Arc::new(move |batch: Vec<Intake>| {
            let store = Arc::clone(&store);
            let recent = recent.clone();
            Box::pin(async move {
                let count = batch.len();
                let started = std::time::Instant::now();
                let mut held = super::recent_events::hold(recent.as_deref(), &*store)
                    .await
                    .map_err(|e| e.to_string())?;
                let (deliveries, events) =
                    settle_arrivals(Repeats::of(held.as_ref(), &*store), batch)
                        .await
                        .map_err(|e| e.to_string())?;
                let settled = started.elapsed();
                let now = crate::clock::now_ms();
                let jobs = processing_jobs(&deliveries, &events, now).map_err(|e| e.to_string())?;
                store
                    .store_deliveries(&deliveries, &events, &jobs, now)
                    .await
                    .map_err(|e| e.to_string())?;
                if let Some(held) = &mut held {
                    held.remember(&events);
                }
                // Where a commit's time goes, for `RUST_LOG=osmosis_engine::events::intake=debug`
                // (the writer's cycle bounds the intake, `bench/events/README.md`).
                tracing::debug!(
                    count,
                    settle_us = settled.as_micros() as u64,
                    total_us = started.elapsed().as_micros() as u64,
                    "intake commit"
                );
                Ok(vec![!jobs.is_empty(); count])
            })
        }),
    )
}

/// What a webhook URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookTarget {
    /// `globalWebhookUri` of an app event type: events of any customer.
    AppEventType,
    /// `webhookUri` of an app event subscription: one customer's events.
    AppEventSubscription,
    /// `webhookUri` of an external event subscription: what the connector's
    /// webhook registered at the external app posts (`external::webhooks`).
    ExternalEventSubscription,
    /// The app-wide URL of a connector's global webhook in a workspace: events
    /// of every customer, routed by the connector's `handle`
    /// (`external::global`).
    GlobalWebhook,
}

const TARGETS: [WebhookTarget; 4] = [
    WebhookTarget::AppEventType,
    WebhookTarget::AppEventSubscription,
    WebhookTarget::ExternalEventSubscription,
    WebhookTarget::GlobalWebhook,
];

impl WebhookTarget {
    pub(crate) fn kind(self) -> &'static str {
        match self {
            WebhookTarget::AppEventType => ElementType::AppEventType.spec().name,
            WebhookTarget::AppEventSubscription => ElementType::AppEventSubscription.spec().name,
            WebhookTarget::ExternalEventSubscription => "external-event-subscription",
            WebhookTarget::GlobalWebhook => "connector-global-webhook",
        }
    }

    fn of_kind(kind: &str) -> Option<Self> {
        TARGETS.into_iter().find(|t| t.kind() == kind)
    }

    /// Whether deliveries go to a connector's `handle` (and keep what it needs
    /// sealed until then).
    fn is_connector_webhook(self) -> bool {
        matches!(
            self,
            WebhookTarget::ExternalEventSubscription | WebhookTarget::GlobalWebhook
        )
    }

    /// The path segment of its URLs (`/webhooks/<segment>/<workspace>/<key>`).
    pub fn path_segment(self) -> &'static str {
        match self {
            WebhookTarget::AppEventType => crate::types::app_events::APP_EVENT_TYPE_WEBHOOKS,
            WebhookTarget::AppEventSubscription => {
                crate::types::app_events::APP_EVENT_SUBSCRIPTION_WEBHOOKS
            }
            WebhookTarget::ExternalEventSubscription => "external-events",
            WebhookTarget::GlobalWebhook => "global",
        }
    }

    /// The URL `el` (of this target's type) receives deliveries at.
    pub(crate) fn uri_of(self, engine: &Engine, el: &Element) -> Option<String> {
        crate::types::app_events::webhook_uri(engine, self.path_segment(), el)
    }

    /// The URL of this target with webhook key `key` in `workspace_id`.
    pub(crate) fn uri(self, engine: &Engine, workspace_id: &str, key: &str) -> String {
        let base = engine.config.public_url.trim_end_matches('/');
        format!(
            "{base}/webhooks/{}/{workspace_id}/{key}",
            self.path_segment()
        )
    }
}

/// What a webhook URL names, as intake needs it.
pub(crate) struct Target {
    /// The element or subscription deliveries are stored for.
    pub id: String,
    pub customer_id: Option<String>,
    pub archived: bool,
    /// What it is, for messages (`app event type`, …).
    pub name: &'static str,
    /// The element, when the target is one (app event types and subscriptions).
    pub element: Option<Element>,
}

/// A delivery as the HTTP layer received it.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    /// What a connector's `handle` is given of it beyond the stored record:
    /// headers and query unmasked, and the body as received (`rawBody`, as text:
    /// a signature is computed over it).
    fn unmasked(&self) -> Value {
        let pairs = |pairs: &[(String, String)]| -> Value {
            Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        };
        json!({
            "headers": pairs(&self.headers),
            "query": pairs(&self.query),
            "rawBody": String::from_utf8_lossy(&self.body),
        })
    }

    /// The delivery as stored and shown: secrets masked, a JSON body parsed.
    fn record(&self) -> Value {
        let masked = |pairs: &[(String, String)]| -> Value {
            let mut m = Map::new();
            for (k, v) in pairs {
                let v = if looks_secret(k) { "***" } else { v.as_str() };
                m.insert(k.clone(), json!(v));
            }
            Value::Object(m)
        };
        let body = if self.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&self.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&self.body).into()))
        };
        json!({
            "method": self.method,
            "path": self.path,
            "query": masked(&self.query),
            "headers": masked(&self.headers),
            "body": body,
        })
    }
}

/// The job that processes a target's deliveries.
pub(crate) struct ProcessDeliveriesJob;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TargetRef {
    pub target_kind: String,
    pub target_id: String,
}

impl JobKind for ProcessDeliveriesJob {
    const KIND: &'static str = "process-webhooks";
    /// Processing fails only when the database does (a delivery that cannot be
    /// processed is settled as `error`); retried until it answers, as dropping
    /// the job would strand the target's deliveries.
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: i32::MAX,
        backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 60_000, attempts as i64),
    };
    type Payload = TargetRef;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        target: TargetRef,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(process(engine, job, target))
    }
}

/// Settles the deliveries of a group commit whose events were worked out as they
/// arrived: the one place they are settled besides their target's job, and like
/// it serialized (one group commit at a time on this node, the only writer of
/// its database), so two copies of an event in flight cannot both be stored.
/// Answers the deliveries (settled or still `received`) and the new events.
async fn settle_arrivals(
    repeats: Repeats<'_, '_>,
    batch: Vec<Intake>,
) -> Result<(Vec<IncomingWebhook>, Vec<AppEventRow>), osmosis_store::StoreError> {
    let (mut deliveries, arrivals): (Vec<IncomingWebhook>, Vec<_>) =
        batch.into_iter().map(|i| (i.delivery, i.arrival)).unzip();
    let arrived = deliveries
        .iter()
        .zip(arrivals)
        .enumerate()
        .filter_map(|(i, (d, a))| Some((i, d, a?)))
        .collect::<Vec<_>>();
    let at: Vec<usize> = arrived.iter().map(|(i, _, _)| *i).collect();
    let settlements =
        super::app_events::settle_all(repeats, arrived.into_iter().map(|(_, d, a)| (d, a))).await?;
    let now = crate::clock::now_ms();
    let mut events = Vec::new();
    for (i, settlement) in at.into_iter().zip(settlements) {
        let d = &mut deliveries[i];
        d.status = settlement.status;
        d.error = settlement.error;
        d.event_ids = settlement.event_ids;
        d.processed_ms = Some(now);
        events.extend(settlement.events);
    }
    Ok((deliveries, events))
}

/// One job per target with deliveries still `received` or events to dispatch,
/// due now.
fn processing_jobs(
    deliveries: &[IncomingWebhook],
    events: &[AppEventRow],
    now: i64,
) -> Result<Vec<Job>, osmosis_store::StoreError> {
    let dispatching: std::collections::HashSet<&str> = events
        .iter()
        .filter(|e| e.status == "created")
        .map(|e| e.target_id.as_str())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    deliveries
        .iter()
        .filter(|d| d.status == "received" || dispatching.contains(d.target_id.as_str()))
        .filter(|d| seen.insert((d.workspace_id.as_str(), d.target_id.as_str())))
        .map(|d| {
            let target = TargetRef {
                target_kind: d.target_kind.clone(),
                target_id: d.target_id.clone(),
            };
            crate::jobs::job_row::<ProcessDeliveriesJob>(
                &d.workspace_id,
                d.target_id.clone(),
                &target,
                now,
            )
        })
        .collect()
}

/// Queues the processing job of `target_id` (a `target`) now, deliveries
/// waiting or not: a connector webhook's claim first launches the events an
/// earlier claim stored and never launched (`external::pull::launch_stranded`),
/// and that job is what serializes them with its deliveries.
pub(crate) async fn schedule_processing(
    engine: &Engine,
    workspace_id: &str,
    target: WebhookTarget,
    target_id: &str,
) -> Result<(), osmosis_store::StoreError> {
    let payload = TargetRef {
        target_kind: target.kind().to_owned(),
        target_id: target_id.to_owned(),
    };
    engine
        .jobs
        .schedule::<ProcessDeliveriesJob>(
            workspace_id,
            target_id.to_owned(),
            &payload,
            crate::clock::now_ms(),
        )
        .await
}

/// One claim of a target's job: its pending deliveries and events, a batch of
/// each; the job comes back at once while more are waiting.
async fn process(engine: &Engine, job: &Job, target: TargetRef) -> Result<(), String> {
    let Some(kind) = WebhookTarget::of_kind(&target.target_kind) else {
        return Err(format!("unknown webhook target `{}`", target.target_kind));
    };
    let more = if kind == WebhookTarget::GlobalWebhook {
        super::external::global::process(engine, &job.workspace_id, &target.target_id).await?
    } else if kind.is_connector_webhook() {
        super::external::webhooks::process(engine, &job.workspace_id, &target.target_id).await?
    } else {
        let el = engine
            .stores
            .elements
            .element_by_id(&job.workspace_id, &target.target_id)
            .await
            .map_err(|e| e.to_string())?;
        super::app_events::process(engine, &job.workspace_id, kind, &target.target_id, el).await?
    };
    if more {
        schedule_processing(engine, &job.workspace_id, kind, &target.target_id)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The context a delivery's sealed part is bound to.
pub(crate) fn sealing_context(workspace_id: &str, delivery_id: &str) -> Vec<u8> {
    format!("incoming-webhook:{workspace_id}:{delivery_id}").into_bytes()
}

impl Engine {
    /// Receives a delivery to `/webhooks/<target>/<workspace_id>/<key>`: stores it
    /// and answers once it is committed. `customer` is the customer a Bearer token
    /// named (global app event webhooks take one), checked by the caller to be of
    /// this workspace.
    pub async fn receive_webhook(
        &self,
        target: WebhookTarget,
        workspace_id: &str,
        key: &str,
        delivery: Delivery,
        customer: Option<&Caller>,
    ) -> Result<Value, ApiError> {
        let el = self.webhook_target(target, workspace_id, key).await?;
        let now = crate::clock::now_ms();
        let mut row = IncomingWebhook {
            seq: 0,
            id: ids::object_id(),
            workspace_id: workspace_id.to_owned(),
            target_kind: target.kind().into(),
            target_id: el.id.clone(),
            customer_id: match target {
                WebhookTarget::AppEventType => customer.and_then(|c| c.customer_id.clone()),
                _ => el.customer_id.clone(),
            },
            status: "received".into(),
            error: None,
            event_ids: Vec::new(),
            request: delivery.record(),
            created_ms: now,
            processed_ms: None,
        };
        let archived = el.archived;
        let mut arrival = None;
        if archived {
            row.status = "error".into();
            row.error = Some(format!("The {} is archived", el.name));
            row.processed_ms = Some(now);
        } else if target.is_connector_webhook() {
            if let Some(cipher) = &self.cipher {
                row.request["sealed"] = json!(cipher.seal_json(
                    &delivery.unmasked(),
                    &sealing_context(workspace_id, &row.id)
                ));
            }
        } else if let (Some(element), false) = (el.element, self.stores.database.is_shared()) {
            // Settled in the group commit that stores it, with its events: no job
            // unless an event has a trigger to fire. On a shared database two nodes
            // could store copies of one event at once, so there the target's job,
            // which runs on one node at a time, settles deliveries.
            arrival = Some(
                super::app_events::arrival(self, target, element, &row)
                    .await
                    .map_err(ApiError::internal)?,
            );
        }
        let id = row.id.clone();
        let queued = self
            .intake
            .write(Intake {
                delivery: row,
                arrival,
            })
            .await
            .map_err(|e| {
                ApiError::internal(format!("could not store the webhook delivery: {e}"))
            })?;
        if archived {
            tracing::info!(workspace_id, target = %el.id, delivery = %id, "a webhook delivery to an archived target was logged and refused");
            return Err(ApiError::bad_request(
                keys::GONE,
                format!(
                    "The {} `{}` this webhook belongs to is archived; the delivery is logged and not processed",
                    el.name, el.id
                ),
            )
            .with_data(json!({"incomingWebhookId": id})));
        }
        if queued {
            self.jobs.wake();
        }
        Ok(json!({"incomingWebhookId": id}))
    }

    /// What a webhook URL names, archived or not.
    async fn webhook_target(
        &self,
        target: WebhookTarget,
        workspace_id: &str,
        key: &str,
    ) -> Result<Target, ApiError> {
        let name = match target {
            WebhookTarget::AppEventType => ElementType::AppEventType.spec().name,
            WebhookTarget::AppEventSubscription => ElementType::AppEventSubscription.spec().name,
            WebhookTarget::ExternalEventSubscription => "external event subscription",
            WebhookTarget::GlobalWebhook => "global webhook",
        };
        let unknown = || {
            tracing::info!(
                workspace_id,
                target = target.kind(),
                "a webhook delivery to an unknown URL was refused"
            );
            ApiError::not_found(format!("No {name} has this webhook URL"))
        };
        let plausible = |s: &str| {
            !s.is_empty()
                && s.len() <= 64
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !plausible(key) || !plausible(workspace_id) {
            return Err(unknown());
        }
        let external = &self.stores.external_events;
        let found = match target {
            WebhookTarget::ExternalEventSubscription => external
                .external_event_subscription_by_webhook_key(workspace_id, key)
                .await
                .map_err(store_error)?
                .map(|row| Target {
                    id: row.id,
                    customer_id: Some(row.customer_id),
                    archived: row.archived_ms.is_some(),
                    name,
                    element: None,
                }),
            WebhookTarget::GlobalWebhook => external
                .global_webhook_by_url_key(workspace_id, key)
                .await
                .map_err(store_error)?
                .map(|row| Target {
                    id: row.id,
                    customer_id: None,
                    archived: false,
                    name,
                    element: None,
                }),
            WebhookTarget::AppEventType | WebhookTarget::AppEventSubscription => {
                let element_type = if target == WebhookTarget::AppEventType {
                    ElementType::AppEventType
                } else {
                    ElementType::AppEventSubscription
                };
                let mut q = ElementQuery::new(workspace_id, element_type);
                q.doc_equals = vec![("webhookKey".into(), json!(key))];
                q.include_archived = true;
                let found = self
                    .stores
                    .elements
                    .first_element(q)
                    .await
                    .map_err(store_error)?;
                found.map(|el| Target {
                    archived: el.is_archived(),
                    id: el.id.clone(),
                    customer_id: el.customer_id.clone(),
                    name,
                    element: Some(el),
                })
            }
        };
        found.ok_or_else(unknown)
    }
}
