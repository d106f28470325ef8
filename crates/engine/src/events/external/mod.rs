//! External event subscriptions (semantics §2.4, §4.3, §5.6; api-surface §2.18,
//! §3.3.13): one per (connection, config), made while an enabled flow instance
//! needs it, polled, and the flow runs its events start.
//!
//! **Which subscriptions.** Each `data-record-created|updated|deleted-trigger`
//! (and `connector-event-trigger`) node of an enabled, live instance on a live
//! connection needs the subscription of its `config`: for a data record trigger
//! `{type, dataSource: {key?, collectionKey, collectionParameters, udm?,
//! pullUpdatesIntervalSeconds, fullSyncIntervalSeconds}}` — its `dataSource`
//! resolved on the instance's connection as the data actions resolve it (the
//! connection's data source instance first), so two triggers pointing at the same
//! collection share one. The config's fingerprint is unique per connection in the
//! store, so nodes making the same subscription at once make one row. Setting an
//! instance's triggers up or down (`flows::instances::triggers`) calls
//! [`Engine::sync_external_event_subscriptions`], which makes the subscriptions of
//! the instance's connection match what its instances need now: new ones are made
//! and subscribed, ones nobody needs are unsubscribed and archived (what their
//! pulls kept is dropped: needed again, they start from a new baseline). Two syncs
//! of one connection at once could each act on what the other has not written
//! yet, so each sync also queues an `external-event-sync` job for the connection a
//! few seconds later: the job runs on one node at a time and reads the state as it
//! is then, so the subscriptions always end up as the instances want them. A
//! subscription unsubscribed through the API stays so until it is subscribed
//! again or archived.
//!
//! **Polling** ([`pull`]). A subscribed subscription has an `external-event-pull`
//! job (dedupe key: its id) due at its `nextPullEventsTimestamp`. The collection's
//! own `pull-latest-records` event function serves created and updated records
//! every `pullUpdatesIntervalSeconds` (default 300); otherwise the collection is
//! scanned whole through its `list` every `fullSyncIntervalSeconds` (default
//! 10 800: a full scan *is* a full sync, so `requiresFullSync` is true and the
//! incremental interval does not apply); both at least 60 s. A collection's
//! custom-pull events are not served yet: such a subscription is in `status:
//! error` saying so; so is a connector event not served by a global webhook
//! (see below). The first pull after subscribing takes the baseline
//! and reports nothing. One incremental pull and one full scan at a time per
//! connection and at most ten pulls per workspace, across nodes; a pull that finds
//! its connection or workspace busy is tried again 15 s later. Each pull leaves an
//! `external-event-pull` record (`running`, then `success` or `error`); a failed
//! pull leaves the subscription `subscribed` (the next pull tries again) — its
//! error is on the pull record.
//!
//! **Webhooks** ([`webhooks`]). A collection event of type `webhook` (with its
//! `subscribe` and `handle`) is preferred to polling: the subscription is
//! `isRealTime`, pulls nothing, and its webhook is registered at the external app
//! by a job of its own, one at a time per subscription, so any number of changes
//! on any number of nodes leave exactly one registration (or none). Every
//! subscription has a `webhookUri` (`/webhooks/external-events/<workspaceId>/<key>`,
//! 128 random bits); the app's deliveries to it are stored and answered `200
//! {incomingWebhookId}` before the connector's `handle` runs — so a `response`
//! it gives is kept on the delivery, not sent — and its events start the same
//! runs as polled events. Repeats (the same event id, else the same record within
//! five minutes) start none.
//!
//! **Global webhooks** ([`global`]). A `connector-event` subscription whose
//! connector event has `getEventSelector` is served by the connector's global
//! webhook (`global-webhooks/<key>`): one app-wide URL per workspace, connector
//! and key (`/webhooks/global/<workspaceId>/<key>`), whose deliveries the
//! connector's `handle` turns into `{selector, payload}` events, each routed to
//! every subscription with that key and selector.
//!
//! **Runs** (decisions where the docs are silent). The events of one pull of one
//! subscription are stored as `external-event-log-records` (`created`) with the
//! pull, then start, for every enabled instance of the connection with a trigger
//! needing the subscription, one run per group of at most 100 events, from that
//! trigger, `launchedBy: {type: external-event, ids: <the log record ids>}`. The
//! run's `input` is the array of the group's events, `{type, record,
//! externalEventId}` each; the trigger node outputs one output per event, its
//! `record` mapped through the trigger's `config.fieldMapping` (import) as the
//! data actions map records (`fields` become the mapped values, the API object
//! stays in `rawFields`), so `$.input.<trigger>.record.id` and
//! `$.input.<trigger>.record.fields.<field>` work downstream. A deleted record's
//! event carries `record: {id}` (a full scan keeps fingerprints, not records). The
//! log records then say `success` with the runs launched (`launchedFlowRunIds`),
//! or `error` when no run could start. A disabled instance receives nothing.
//! Each run's id is derived from its instance and its group's events, and a run
//! whose id exists is found, not started again (`Flows::start_once`): events a
//! node stored and died before recording (still `created`) are launched by the
//! subscription's next pull or delivery claim before its new ones
//! ([`pull::launch_stranded`]) — and, for a webhook or global-webhook
//! subscription the app may send nothing more to, by the claim the worker's
//! sweep queues once they are a minute old ([`sweep_stranded`]) — and end with the runs started before the crash
//! plus those it never got to — one run per group and instance, never two. Those
//! of a subscription archived meanwhile are settled `error` and never run
//! ([`pull::abandon_stranded`]).
//!
//! **API.** A customer token sees its own subscriptions, logs and pulls; an admin
//! token its workspace's; anything else is `not_found`. `setup` works out again
//! how the subscription is served (after a connector change, say) and subscribes
//! it when it is not; `subscribe` subscribes it (its first pull is due at once);
//! `unsubscribe` stops its pulls and keeps what they kept; `resubscribe` starts
//! over from a new baseline; `refresh-webhook` answers success and changes nothing
//! for a polling subscription — nothing of it expires; `pull-events` pulls now and
//! answers once the pull has ended (a connection already being pulled answers
//! `rate_limit_exceeded`). On a webhook subscription they answer at once and its
//! job does the rest: `subscribe` and `unsubscribe` register and remove the
//! webhook, `resubscribe` replaces it, `refresh-webhook` calls the connector's
//! `refresh`, `pull-events` has nothing to pull and changes nothing; `status`
//! says what is wanted (`error` once registering failed, with the reason) and
//! `stateData` holds the registration's state once it exists. `nextPullEventsTimestamp` is epoch milliseconds; a
//! running pull's `endDatetime` is empty (it has not ended), as the SDK's schema
//! requires the field.

pub(crate) mod global;
pub(crate) mod pull;
pub(crate) mod subscriptions;
pub(crate) mod webhooks;

use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element};
use osmosis_store::{
    ExternalEventLogQuery, ExternalEventLogRow, ExternalEventPullRow,
    ExternalEventSubscriptionQuery, ExternalEventSubscriptionRow, Job,
};
use serde_json::{json, Map, Value};

pub(crate) use pull::ExternalEventPullJob;
pub(crate) use webhooks::ExternalEventWebhookJob;

use crate::elements::key_problem;
use crate::errors::store_error;
use crate::jobs::{JobKind, RetryPolicy};
use crate::log_pages::LogPageParams;
use crate::{Caller, Engine};
use subscriptions::Reset;

/// How long after a sync its convergence job runs (see the module doc).
const RESYNC_AFTER_MS: i64 = 5_000;

/// Subscriptions with stranded events one sweep ([`sweep_stranded`]) looks at, at
/// most; the next sweep goes on after the last.
const STRANDED_SWEEP: i64 = 100;

/// How old a `created` log record must be before the sweep takes it for
/// stranded: a claim stores its events and launches them at once, so one older
/// than a minute was left by a node that died (or whose database failed). The
/// grace only spares queuing a job for nothing while a claim is launching: the
/// launch goes through the job that claims the subscription's deliveries, one at
/// a time, and runs are started once (`Flows::start_once`), so a sweep racing a
/// claim (a slow launch, two nodes sweeping) starts no run twice.
const STRANDED_GRACE_MS: i64 = 60_000;

/// The answer for a subscription that does not exist or the caller may not see.
pub(crate) fn missing(id: &str) -> ApiError {
    ApiError::not_found(format!("No external event subscription matches `{id}`"))
}

impl Engine {
    /// After an instance's triggers were set up or torn down: the subscriptions
    /// of its connection made to match what its instances need (module doc).
    /// Failures are logged; the convergence job tries again.
    pub(crate) async fn sync_external_event_subscriptions(&self, instance: &Element) {
        let Some(connection_id) = &instance.connection_id else {
            return;
        };
        if let Err(e) =
            subscriptions::sync_connection(self, &instance.workspace_id, connection_id).await
        {
            tracing::warn!(workspace_id = %instance.workspace_id, connection = %connection_id, error = %e.message, "could not update the external event subscriptions of a connection");
        }
        let payload = SyncTick {
            connection_id: connection_id.clone(),
        };
        if let Err(e) = self
            .jobs
            .schedule::<ExternalEventSyncJob>(
                &instance.workspace_id,
                connection_id.clone(),
                &payload,
                crate::clock::now_ms() + RESYNC_AFTER_MS,
            )
            .await
        {
            tracing::warn!(workspace_id = %instance.workspace_id, connection = %connection_id, error = %e, "could not queue the external event sync of a connection");
        }
    }

    /// Launches the events of webhook and global-webhook subscriptions left
    /// `created` (stored, their runs never started or never recorded: a node
    /// died in between) without waiting for the external app's next delivery
    /// ([`sweep_stranded`]). As at `now_ms`; `cursor` is where the previous sweep
    /// stopped (`0`: from the start) and becomes where this one did. The worker
    /// runs it at start-up and every minute. Answers how many subscriptions it
    /// queued or settled.
    pub async fn sweep_stranded_external_events(&self, now_ms: i64, cursor: &mut i64) -> usize {
        match sweep_stranded(self, now_ms, cursor).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e.message, "could not look for stranded external events");
                0
            }
        }
    }

    /// External event subscriptions, their logs and pulls (the API's side).
    pub fn external_events(&self) -> ExternalEvents<'_> {
        ExternalEvents { engine: self }
    }
}

/// One sweep for stranded events (module doc, **Runs**): up to
/// [`STRANDED_SWEEP`] subscriptions after `cursor` with a `created` log record
/// older than [`STRANDED_GRACE_MS`] that no pull will launch. A webhook
/// subscription has the processing job of its deliveries queued, a
/// global-webhook one that of its global webhook: a claim of that job launches
/// the subscription's stranded events first, deliveries waiting or not
/// ([`pull::launch_stranded`]), so the sweep launches nothing itself and never
/// alongside a claim. An archived subscription's are abandoned
/// ([`pull::abandon_stranded`]). A polled subscription's wait for its next pull
/// (which launches them first); an unsubscribed one keeps them until subscribed
/// again. `cursor` moves past the subscriptions seen, back to `0` once the last
/// was, so subscriptions that stay stranded (a database failing) do not keep the
/// others out.
async fn sweep_stranded(engine: &Engine, now_ms: i64, cursor: &mut i64) -> Result<usize, ApiError> {
    let store = &engine.stores.external_events;
    let page = store
        .stranded_external_event_subscriptions(
            None,
            now_ms - STRANDED_GRACE_MS,
            *cursor,
            STRANDED_SWEEP,
        )
        .await
        .map_err(store_error)?;
    *cursor = match page.last() {
        Some(last) if page.len() as i64 == STRANDED_SWEEP => last.seq,
        _ => 0,
    };
    let mut done = 0;
    for s in &page {
        let Some(row) = store
            .external_event_subscription(&s.workspace_id, &s.subscription_id)
            .await
            .map_err(store_error)?
        else {
            continue;
        };
        let queued = if row.archived_ms.is_some() {
            pull::abandon_stranded(engine, &row.workspace_id, &row.id)
                .await
                .map_err(|e| e.message)
        } else {
            use crate::events::intake::{schedule_processing, WebhookTarget};
            // The job whose claims launch the subscription's events.
            let claimed_by = if webhooks::is_webhook(&row) {
                Some((WebhookTarget::ExternalEventSubscription, row.id.as_str()))
            } else {
                row.details["globalWebhookId"]
                    .as_str()
                    .filter(|_| global::is_global(&row))
                    .map(|gw| (WebhookTarget::GlobalWebhook, gw))
            };
            let Some((target, target_id)) = claimed_by else {
                continue;
            };
            schedule_processing(engine, &row.workspace_id, target, target_id)
                .await
                .map_err(|e| e.to_string())
        };
        match queued {
            Ok(()) => {
                done += 1;
                tracing::info!(workspace_id = %row.workspace_id, subscription = %row.id, "external events left created are launched without waiting for a delivery");
            }
            Err(e) => {
                tracing::warn!(workspace_id = %row.workspace_id, subscription = %row.id, error = %e, "could not queue the launch of stranded external events")
            }
        }
    }
    Ok(done)
}

/// What a job about one subscription (its pulls, its webhook) carries.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscriptionTick {
    pub subscription_id: String,
}

/// Queues job `K` of `row` at `at`: one pending per kind and subscription.
async fn schedule_job<K: JobKind<Payload = SubscriptionTick>>(
    engine: &Engine,
    row: &ExternalEventSubscriptionRow,
    at: i64,
) {
    let tick = SubscriptionTick {
        subscription_id: row.id.clone(),
    };
    if let Err(e) = engine
        .jobs
        .schedule::<K>(&row.workspace_id, row.id.clone(), &tick, at)
        .await
    {
        tracing::warn!(workspace_id = %row.workspace_id, subscription = %row.id, kind = K::KIND, error = %e, "could not queue a job of an external event subscription");
    }
}

/// The job that makes a connection's subscriptions match its instances again.
pub(crate) struct ExternalEventSyncJob;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SyncTick {
    pub connection_id: String,
}

impl JobKind for ExternalEventSyncJob {
    const KIND: &'static str = "external-event-sync";
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 10,
        backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 300_000, attempts as i64),
    };
    type Payload = SyncTick;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        tick: SyncTick,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            subscriptions::sync_connection(engine, &job.workspace_id, &tick.connection_id)
                .await
                .map_err(|e| e.message)
        })
    }
}

/// `GET /external-event-subscriptions` as given: every value a string.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionFilter {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    /// The customer, by id or key; `userId` is the SDK's other name for it.
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub connection_id: Option<String>,
    /// By id or key.
    pub integration_id: Option<String>,
    /// Accepted and ignored: subscriptions are not tied to an external app here
    /// beyond their connection's integration.
    pub external_app_id: Option<String>,
    pub status: Option<String>,
    pub include_archived: Option<String>,
}

/// `GET /external-event-log-records` and `GET /external-event-pulls` as given.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventLogFilter {
    pub external_event_subscription_id: Option<String>,
    pub tenant_id: Option<String>,
    pub user_id: Option<String>,
    pub connection_id: Option<String>,
    pub integration_id: Option<String>,
    /// Accepted and ignored, as on subscriptions.
    pub external_app_id: Option<String>,
    pub status: Option<String>,
    #[serde(flatten)]
    pub page: LogPageParams,
}

/// A filter value naming an element: at most an id's length, no control
/// characters (the answer to anything else would be "nothing", so it is refused
/// clearly instead).
fn id_param(name: &str, value: &Option<String>) -> Result<Option<String>, ApiError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => match key_problem(v) {
            Some(problem) => Err(ApiError::invalid_query(name, problem)),
            None => Ok(Some(v.to_owned())),
        },
    }
}

/// A status filter: one of `allowed`.
fn status_param(value: &Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match value.as_deref().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v) => Ok(Some(v.to_owned())),
        Some(_) => Err(ApiError::invalid_query(
            "status",
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

/// The external events service ([`Engine::external_events`]).
#[derive(Clone, Copy)]
pub struct ExternalEvents<'e> {
    engine: &'e Engine,
}

/// What a list of one customer's rows is narrowed to: `None` when the caller may
/// see none of them (another customer's named).
struct Scope {
    customer_id: Option<String>,
    integration_id: Option<String>,
    connection_id: Option<String>,
}

impl ExternalEvents<'_> {
    async fn scope(
        &self,
        caller: &Caller,
        tenant: &Option<String>,
        user: &Option<String>,
        connection: &Option<String>,
        integration: &Option<String>,
    ) -> Result<Option<Scope>, ApiError> {
        let customer = match id_param("tenantId", tenant)? {
            Some(t) => Some(t),
            None => id_param("userId", user)?,
        };
        let connection_id = id_param("connectionId", connection)?;
        let integration = id_param("integrationId", integration)?;
        let calls = self.engine.calls();
        let Some(customer_id) = calls.log_customer(caller, customer.as_deref()).await? else {
            return Ok(None);
        };
        let integration_id = match integration {
            Some(i) => Some(calls.integration_id_of(caller, &i).await),
            None => None,
        };
        Ok(Some(Scope {
            customer_id,
            integration_id,
            connection_id,
        }))
    }

    /// `GET /external-event-subscriptions`: oldest first.
    pub async fn list(&self, caller: &Caller, f: &SubscriptionFilter) -> Result<Value, ApiError> {
        // Q-page: `limit` and `cursor` as the logs check them; oldest first.
        let page = LogPageParams {
            limit: f.limit.clone(),
            cursor: f.cursor.clone(),
            sort_order: Some("asc".into()),
            ..Default::default()
        }
        .check()?;
        let status = status_param(&f.status, &["subscribed", "unsubscribed", "error"])?;
        let include_archived =
            crate::log_pages::bool_param("includeArchived", f.include_archived.as_deref())?
                .unwrap_or(false);
        let Some(scope) = self
            .scope(
                caller,
                &f.tenant_id,
                &f.user_id,
                &f.connection_id,
                &f.integration_id,
            )
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        let rows = self
            .engine
            .stores
            .external_events
            .find_external_event_subscriptions(&ExternalEventSubscriptionQuery {
                workspace_id: caller.workspace_id().to_owned(),
                customer_id: scope.customer_id,
                integration_id: scope.integration_id,
                connection_id: scope.connection_id,
                status,
                include_archived,
                cursor: page.cursor,
                limit: page.limit,
            })
            .await
            .map_err(store_error)?;
        Ok(page.answer(
            rows.iter().map(|r| self.render(r)).collect(),
            rows.last().map(|r| r.seq),
        ))
    }

    /// A subscription the caller may see.
    async fn row(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ExternalEventSubscriptionRow, ApiError> {
        if let Some(problem) = key_problem(id) {
            return Err(ApiError::invalid_field("id", problem));
        }
        let row = self
            .engine
            .stores
            .external_events
            .external_event_subscription(caller.workspace_id(), id)
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
            _ => Err(missing(id)),
        }
    }

    /// A subscription the caller may see, on a live connection it may call (to
    /// change it or pull it).
    async fn live_row(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(ExternalEventSubscriptionRow, Element), ApiError> {
        let row = self.row(caller, id).await?;
        if row.archived_ms.is_some() {
            return Err(ApiError::not_found(format!(
                "The external event subscription `{id}` is archived: no enabled flow instance needs it"
            )));
        }
        let conn =
            subscriptions::live_connection(self.engine, &row.workspace_id, &row.connection_id)
                .await?
                .ok_or_else(|| {
                    crate::errors::not_found(
                        osmosis_model::ElementType::Connection,
                        &row.connection_id,
                    )
                })?;
        self.engine.calls().ensure_callable(caller, &conn).await?;
        Ok((row, conn))
    }

    /// `GET /external-event-subscriptions/{id}`.
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        Ok(self.render(&self.row(caller, id).await?))
    }

    fn render(&self, row: &ExternalEventSubscriptionRow) -> Value {
        render_subscription(self.engine, row)
    }

    /// `POST …/{id}/setup` (module doc): how it is served worked out again, and
    /// subscribed.
    pub async fn setup(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, _) = self.live_row(caller, id).await?;
        Ok(self.render(&subscriptions::subscribe(self.engine, &row, Reset::No).await?))
    }

    /// `POST …/{id}/subscribe`.
    pub async fn subscribe(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, _) = self.live_row(caller, id).await?;
        if row.status == "subscribed" {
            return Ok(self.render(&row));
        }
        Ok(self.render(&subscriptions::subscribe(self.engine, &row, Reset::No).await?))
    }

    /// `POST …/{id}/unsubscribe`.
    pub async fn unsubscribe(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, _) = self.live_row(caller, id).await?;
        Ok(self.render(&subscriptions::unsubscribe(self.engine, &row).await?))
    }

    /// `POST …/{id}/resubscribe`: subscribed again from a new baseline (a
    /// webhook: unsubscribed at the external app and subscribed anew).
    pub async fn resubscribe(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, _) = self.live_row(caller, id).await?;
        Ok(self.render(&subscriptions::subscribe(self.engine, &row, Reset::All).await?))
    }

    /// `POST …/{id}/refresh-webhook`: the webhook's `refresh` asked of its job;
    /// nothing to renew on a polling subscription (module doc).
    pub async fn refresh_webhook(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, _) = self.live_row(caller, id).await?;
        if !webhooks::is_webhook(&row) {
            return Ok(self.render(&row));
        }
        Ok(self.render(&webhooks::ask_refresh(self.engine, &row).await?))
    }

    /// `POST …/{id}/pull-events`: pulls now; answers the subscription after it.
    pub async fn pull_events(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let (row, conn) = self.live_row(caller, id).await?;
        if webhooks::is_webhook(&row) || global::is_global(&row) {
            // Its events come when the external app posts them: nothing to pull.
            return Ok(self.render(&row));
        }
        if row.status != "subscribed" {
            return Err(ApiError::bad_request(
                keys::INVALID_FIELD,
                format!(
                    "The external event subscription `{id}` is {}; subscribe it to pull its events",
                    row.status
                ),
            ));
        }
        match pull::pull(self.engine, &row, &conn).await? {
            pull::Pulled::Done => Ok(self.render(&self.row(caller, id).await?)),
            pull::Pulled::Busy => Err(ApiError::bad_request(
                keys::RATE_LIMIT_EXCEEDED,
                "A pull of this connection is running, or the workspace runs as many pulls as it may; try again when it ends",
            )),
        }
    }

    async fn log_query(
        &self,
        caller: &Caller,
        f: &EventLogFilter,
        statuses: &[&str],
    ) -> Result<Option<(ExternalEventLogQuery, crate::log_pages::LogPage)>, ApiError> {
        let page = f.page.check()?;
        let status = status_param(&f.status, statuses)?;
        let subscription_id = id_param(
            "externalEventSubscriptionId",
            &f.external_event_subscription_id,
        )?;
        let Some(scope) = self
            .scope(
                caller,
                &f.tenant_id,
                &f.user_id,
                &f.connection_id,
                &f.integration_id,
            )
            .await?
        else {
            return Ok(None);
        };
        Ok(Some((
            ExternalEventLogQuery {
                workspace_id: caller.workspace_id().to_owned(),
                customer_id: scope.customer_id,
                integration_id: scope.integration_id,
                connection_id: scope.connection_id,
                subscription_id,
                status,
                from_ms: page.from_ms,
                to_ms: page.to_ms,
                descending: page.descending,
                cursor: page.cursor,
                limit: page.limit,
            },
            page,
        )))
    }

    /// `GET /external-event-log-records`: newest first unless `sortOrder=asc`.
    pub async fn log_records(
        &self,
        caller: &Caller,
        f: &EventLogFilter,
    ) -> Result<Value, ApiError> {
        let Some((query, page)) = self
            .log_query(caller, f, &["created", "success", "error"])
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        let rows = self
            .engine
            .stores
            .external_events
            .find_external_event_log_records(&query)
            .await
            .map_err(store_error)?;
        Ok(page.answer(
            rows.iter().map(render_event).collect(),
            rows.last().map(|r| r.seq),
        ))
    }

    /// `GET /external-event-pulls`: newest first unless `sortOrder=asc`.
    pub async fn pulls(&self, caller: &Caller, f: &EventLogFilter) -> Result<Value, ApiError> {
        let Some((query, page)) = self
            .log_query(caller, f, &["queued", "running", "success", "error"])
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        let rows = self
            .engine
            .stores
            .external_events
            .find_external_event_pulls(&query)
            .await
            .map_err(store_error)?;
        Ok(page.answer(
            rows.iter().map(render_pull).collect(),
            rows.last().map(|r| r.seq),
        ))
    }
}

/// A readable name: the event and the collection.
fn subscription_name(config: &Value) -> String {
    let what = match config["type"].as_str() {
        Some("data-record-created") => "Data record created",
        Some("data-record-updated") => "Data record updated",
        Some("data-record-deleted") => "Data record deleted",
        Some("connector-event") => "Connector event",
        _ => "External event",
    };
    match config["dataSource"]["collectionKey"]
        .as_str()
        .or(config["eventKey"].as_str())
    {
        Some(of) => format!("{what}: {of}"),
        None => what.to_owned(),
    }
}

/// A subscription as the API answers it (`ExternalEventSubscriptionApiResponse`):
/// `stateData` is what its pulls keep, or its registered webhook's connector
/// state, with the values of secret-looking fields masked (`"***"`,
/// `osmosis_connectors::redact::redact_json_keys`); `webhookUri` is its own URL
/// (served or not by a webhook: a delivery to a polled subscription is logged as
/// an error), or for a connector event served
/// by a global webhook the global URL, with `globalWebhookKey` and
/// `globalWebhookEventSelector` ([`global`]).
fn render_subscription(engine: &Engine, row: &ExternalEventSubscriptionRow) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    };
    let d = &row.details;
    put("id", json!(row.id));
    put("name", json!(subscription_name(&row.config)));
    put("userId", json!(row.customer_id));
    put("tenantId", json!(row.customer_id));
    put("connectionId", json!(row.connection_id));
    put("integrationId", json!(row.integration_id));
    put("config", row.config.clone());
    put("status", json!(row.status));
    put("error", row.error.clone().unwrap_or(Value::Null));
    for f in ["isRealTime", "requiresPull", "requiresFullSync"] {
        put(f, d.get(f).cloned().unwrap_or(Value::Null));
    }
    let webhook_state = row.webhook_state.as_ref().map(|r| r["state"].clone());
    let mut state = row
        .state_data
        .clone()
        .or(webhook_state)
        .unwrap_or(Value::Null);
    // Shown to the admin and the customer: a webhook's signing secret
    // (`webhookSecret`) and the like masked; the connector is given the stored state.
    osmosis_connectors::redact::redact_json_keys(&mut state);
    put("stateData", state);
    put("nextPullEventsTimestamp", json!(row.next_pull_ms));
    put("nextRefreshTimestamp", json!(row.next_refresh_ms));
    if global::is_global(row) {
        for f in [
            "globalWebhookKey",
            "globalWebhookEventSelector",
            "webhookUri",
        ] {
            put(f, d.get(f).cloned().unwrap_or(Value::Null));
        }
    } else {
        put("webhookUri", json!(webhooks::webhook_uri(engine, row)));
    }
    for f in ["pullUpdatesIntervalSeconds", "fullSyncIntervalSeconds"] {
        put(
            f,
            d.get(f)
                .or_else(|| row.config["dataSource"].get(f))
                .cloned()
                .unwrap_or(Value::Null),
        );
    }
    put("createdAt", json!(crate::clock::iso_of_ms(row.created_ms)));
    if let Some(at) = row.archived_ms {
        put("archivedAt", json!(crate::clock::iso_of_ms(at)));
        put("isDeactivated", json!(true));
    }
    Value::Object(m)
}

/// A log record as the API answers it (`ExternalEventLogRecordApiResponse`).
fn render_event(row: &ExternalEventLogRow) -> Value {
    let mut v = json!({
        "id": row.id,
        "name": format!("{} {}", row.payload["type"].as_str().unwrap_or("event"), row.payload["record"]["id"].as_str().unwrap_or_default()).trim().to_owned(),
        "userId": row.customer_id,
        "tenantId": row.customer_id,
        "integrationId": row.integration_id,
        "connectionId": row.connection_id,
        "externalEventSubscriptionId": row.subscription_id,
        "payload": row.payload,
        "launchedFlowRunIds": row.launched_flow_run_ids,
        "status": row.status,
        "createdAt": crate::clock::iso_of_ms(row.created_ms),
    });
    if let Some(e) = &row.error {
        v["error"] = e.clone();
    }
    v
}

/// A pull as the API answers it (`ExternalEventPullApiResponse`).
fn render_pull(row: &ExternalEventPullRow) -> Value {
    let mut v = json!({
        "id": row.id,
        "userId": row.customer_id,
        "tenantId": row.customer_id,
        "integrationId": row.integration_id,
        "connectionId": row.connection_id,
        "externalEventSubscriptionId": row.subscription_id,
        "startDatetime": crate::clock::iso_of_ms(row.started_ms),
        "endDatetime": row.ended_ms.map(crate::clock::iso_of_ms).unwrap_or_default(),
        "isFullScan": row.is_full_scan,
        "status": row.status,
        "collectedEventIds": row.event_ids,
    });
    if let Some(e) = &row.error {
        v["error"] = e.clone();
    }
    v
}
