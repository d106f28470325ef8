//! Workspace webhook notifications (docs/spec/semantics.md §5.8): the workspace's `webhookUri`
//! hears `connection.created/disconnected/reconnected/deleted`.
//!
//! Each notification is a job in the jobs table, so it survives a restart, is sent
//! by exactly one node, and a non-2xx answer or an unreachable endpoint is retried
//! with exponential backoff ([`DELIVERY_RETRY`]).
//! Decisions where the docs are silent: without `enabledWebhookEvents` every event
//! is sent; the body is `{event, data: {id, integrationId, integrationKey, name,
//! disconnected, customerId}}`; each request has a 10 s timeout.

use std::sync::Arc;

use osmosis_connectors::http::{OutboundClient, OutboundError};
use osmosis_model::patch::Patch;
use osmosis_model::{ApiError, Element};
use osmosis_store::{ElementStore, Job, WorkspaceStore};
use serde_json::{json, Value};

use crate::errors::store_error;
use crate::jobs::{JobKind, JobQueue, RetryPolicy};
use crate::{Caller, Engine};

pub const CREATED: &str = "connection.created";
pub const DISCONNECTED: &str = "connection.disconnected";
pub const RECONNECTED: &str = "connection.reconnected";
pub const DELETED: &str = "connection.deleted";

/// Every event a workspace may enable.
pub const EVENTS: [&str; 10] = [
    CREATED,
    DELETED,
    DISCONNECTED,
    RECONNECTED,
    "flowRun.queued",
    "flowRun.started",
    "flowRun.completed",
    "flowRun.failed",
    "flowRun.stopped",
    "alert.created",
];

/// Up to 8 attempts, 1 s apart doubling to at most 10 minutes.
pub(crate) const DELIVERY_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 8,
    backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 600_000, i64::from(attempts)),
};

/// The delivery of one notification to the workspace's webhook.
pub(crate) struct DeliverNotificationJob;

#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct NotificationPayload {
    uri: String,
    body: Value,
}

impl JobKind for DeliverNotificationJob {
    /// Stored as `webhook` since before the registry; queued jobs keep running.
    const KIND: &'static str = "webhook";
    const RETRY: RetryPolicy = DELIVERY_RETRY;
    type Payload = NotificationPayload;

    fn run<'a>(
        engine: &'a Engine,
        _job: &'a Job,
        payload: NotificationPayload,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { engine.notifications.deliver(&payload).await })
    }
}

/// The body of `PATCH /settings`: each field left out is kept, `null` removes it.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    /// Where connection events are POSTed (an http(s) URL).
    #[serde(default)]
    pub webhook_uri: Patch<String>,
    /// Which events are sent; all when not set.
    #[serde(default)]
    pub enabled_webhook_events: Patch<Vec<String>>,
}

/// The notifications service: the workspace's webhook settings, and queueing and
/// delivering its connection events. Its dependencies are only the stores it reads
/// (workspace settings; integrations, for their key), the jobs service it queues
/// deliveries with and the outbound client it sends them through.
#[derive(Clone)]
pub struct Notifier {
    workspaces: Arc<dyn WorkspaceStore>,
    elements: Arc<dyn ElementStore>,
    jobs: JobQueue,
    http: OutboundClient,
    /// Workspace settings as last read, by workspace id: every flow run asks
    /// whether to notify three times, and settings change rarely. A change made
    /// on this node applies at once, one made on another within [`SETTINGS_TTL`].
    settings: Arc<dashmap::DashMap<String, (std::time::Instant, Value)>>,
}

/// How long a settings read answers whether to notify.
const SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Notifier {
    pub(crate) fn new(
        workspaces: Arc<dyn WorkspaceStore>,
        elements: Arc<dyn ElementStore>,
        jobs: JobQueue,
        http: OutboundClient,
    ) -> Self {
        Notifier {
            workspaces,
            elements,
            jobs,
            http,
            settings: Arc::default(),
        }
    }

    /// The same service sending through `http` (the engine's guarded client,
    /// once its allow list is set).
    pub(crate) fn with_http(self, http: OutboundClient) -> Self {
        Notifier { http, ..self }
    }

    /// Queues the notification of `event` about a connection, when the workspace
    /// wants it. Failing to queue is logged: the change it reports already happened.
    pub(crate) async fn connection_event(&self, conn: &Element, event: &str) {
        if let Err(e) = self.queue_notification(conn, event).await {
            tracing::warn!(connection = %conn.id, event, error = %e.message, "could not queue a webhook notification");
        }
    }

    /// Queues the notification of a flow run's `event` (`flowRun.queued`, …) with
    /// the run as `data`. Failing to queue is logged.
    ///
    /// `run` renders the run only when the workspace wants the event: most do
    /// not, and rendering a run for nobody cost a few per cent of running it.
    pub(crate) async fn flow_run_event(
        &self,
        workspace_id: &str,
        event: &str,
        run: impl FnOnce() -> Value,
    ) {
        let result = match self.webhook_uri(workspace_id, event).await {
            Ok(Some(uri)) => {
                let run = run();
                let id = run["id"].clone();
                self.queue(workspace_id, uri, json!({"event": event, "data": run}))
                    .await
                    .map_err(|e| (e, id))
            }
            Ok(None) => Ok(()),
            // Rare: the log line still names the run.
            Err(e) => Err((e, run()["id"].clone())),
        };
        if let Err((e, id)) = result {
            tracing::warn!(flow_run = %id, event, error = %e.message, "could not queue a webhook notification");
        }
    }

    /// Where the workspace wants `event` sent, if it wants it.
    async fn webhook_uri(
        &self,
        workspace_id: &str,
        event: &str,
    ) -> Result<Option<String>, ApiError> {
        let cached = self
            .settings
            .get(workspace_id)
            .filter(|e| e.0.elapsed() < SETTINGS_TTL)
            .map(|e| e.1.clone());
        let settings = match cached {
            Some(s) => s,
            None => {
                let s = self
                    .workspaces
                    .workspace_settings(workspace_id)
                    .await
                    .map_err(store_error)?;
                self.settings.insert(
                    workspace_id.to_owned(),
                    (std::time::Instant::now(), s.clone()),
                );
                s
            }
        };
        let Some(uri) = settings.get("webhookUri").and_then(Value::as_str) else {
            return Ok(None);
        };
        if let Some(Value::Array(enabled)) = settings.get("enabledWebhookEvents") {
            if !enabled.iter().any(|e| e.as_str() == Some(event)) {
                return Ok(None);
            }
        }
        Ok(Some(uri.to_owned()))
    }

    async fn queue_notification(&self, conn: &Element, event: &str) -> Result<(), ApiError> {
        let Some(uri) = self.webhook_uri(&conn.workspace_id, event).await? else {
            return Ok(());
        };
        let integration_key = match &conn.integration_id {
            Some(id) => self
                .elements
                .element_by_id(&conn.workspace_id, id)
                .await
                .map_err(store_error)?
                .and_then(|i| i.key),
            None => None,
        };
        let body = json!({
            "event": event,
            "data": {
                "id": conn.id,
                "integrationId": conn.integration_id,
                "integrationKey": integration_key,
                "name": conn.name,
                "disconnected": !conn.doc_bool("connected") || conn.is_archived(),
                "customerId": conn.customer_id,
            }
        });
        self.queue(&conn.workspace_id, uri, body).await
    }

    /// Queues one delivery. Every notification is its own job: none replaces
    /// another.
    async fn queue(&self, workspace_id: &str, uri: String, body: Value) -> Result<(), ApiError> {
        let payload = NotificationPayload { uri, body };
        self.jobs
            .schedule::<DeliverNotificationJob>(
                workspace_id,
                osmosis_model::ids::object_id(),
                &payload,
                crate::clock::now_ms(),
            )
            .await
            .map_err(store_error)
    }

    /// Sends one queued notification; an error is the reason to retry.
    async fn deliver(&self, payload: &NotificationPayload) -> Result<(), String> {
        let delivered = self.send_notification(payload).await;
        crate::metrics::record_webhook_delivery(delivered.is_ok());
        delivered
    }

    async fn send_notification(&self, payload: &NotificationPayload) -> Result<(), String> {
        let response = self
            .http
            .post(&payload.uri)
            .timeout(std::time::Duration::from_secs(10))
            .json(&payload.body)
            .send()
            .await
            .map_err(|e| match e {
                OutboundError::Refused(refused) => refused.to_string(),
                OutboundError::Request(e) => {
                    format!("cannot reach the webhook: {}", e.without_url())
                }
                OutboundError::DeadlineExceeded(e) => e.to_string(),
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {}", response.status()))
        }
    }

    /// The workspace's settings (`webhookUri`, `enabledWebhookEvents`), admin only.
    pub async fn settings(&self, caller: &Caller) -> Result<Value, ApiError> {
        caller.require_admin("workspace settings need an admin token")?;
        self.workspaces
            .workspace_settings(&caller.workspace.id)
            .await
            .map_err(store_error)
    }

    /// Changes the workspace's settings; `null` removes a setting. Checked whole
    /// before anything is written.
    pub async fn patch_settings(
        &self,
        caller: &Caller,
        patch: SettingsPatch,
    ) -> Result<Value, ApiError> {
        let mut settings = self.settings(caller).await?;
        if let Patch::Value(uri) = &patch.webhook_uri {
            let url = url::Url::parse(uri)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .ok_or_else(|| ApiError::invalid_field("webhookUri", "must be an http(s) URL"))?;
            // What the URL alone shows (an IP literal, a metadata name) is
            // refused now rather than on every delivery; names are checked
            // by address when they are called.
            self.http
                .check_url(&url)
                .map_err(|refused| ApiError::invalid_field("webhookUri", refused))?;
        }
        if let Patch::Value(events) = &patch.enabled_webhook_events {
            if let Some(bad) = events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
                return Err(ApiError::invalid_field(
                    "enabledWebhookEvents",
                    format!("`{bad}` is not an event; known: {}", EVENTS.join(", ")),
                ));
            }
        }
        let map = settings.as_object_mut().expect("settings are an object");
        for (field, change) in [
            ("webhookUri", patch.webhook_uri.map(Value::String)),
            (
                "enabledWebhookEvents",
                patch.enabled_webhook_events.map(Value::from),
            ),
        ] {
            match change {
                Patch::Absent => {}
                Patch::Null => {
                    map.remove(field);
                }
                Patch::Value(v) => {
                    map.insert(field.to_owned(), v);
                }
            }
        }
        self.workspaces
            .set_workspace_settings(&caller.workspace.id, &settings)
            .await
            .map_err(store_error)?;
        self.settings.remove(&caller.workspace.id);
        Ok(settings)
    }
}
