//! The event logs a user debugs with: `GET /app-events` (app event log records)
//! and `GET /incoming-webhooks` (raw deliveries, secrets masked), each paged and
//! filtered like the other logs ([`LogPageParams`]). An admin sees every record of
//! the workspace; a customer only its own — a delivery to a global webhook is the
//! customer's only when it carried that customer's token, as its events may
//! belong to anyone.

use osmosis_model::ApiError;
use osmosis_store::{AppEventRow, EventLogQuery, IncomingWebhook};
use serde_json::{json, Value};

use super::intake::WebhookTarget;
use crate::errors::store_error;
use crate::log_pages::LogPageParams;
use crate::{Caller, Engine};

/// `GET /app-events` filters as given.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppEventFilter {
    /// The customer, by id or key (`userId` is the older name).
    #[serde(alias = "userId")]
    pub tenant_id: Option<String>,
    pub app_event_type_id: Option<String>,
    pub app_event_subscription_id: Option<String>,
    pub status: Option<String>,
    #[serde(flatten)]
    pub page: LogPageParams,
}

/// `GET /incoming-webhooks` filters as given.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncomingWebhookFilter {
    #[serde(alias = "userId")]
    pub tenant_id: Option<String>,
    /// The app event type or subscription the delivery was posted to.
    #[serde(alias = "appEventTypeId", alias = "appEventSubscriptionId")]
    pub subscription_id: Option<String>,
    pub status: Option<String>,
    #[serde(flatten)]
    pub page: LogPageParams,
}

fn status_filter(value: &Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) if allowed.contains(&s) => Ok(Some(s.to_owned())),
        Some(_) => Err(ApiError::invalid_query(
            "status",
            format!("must be one of {}", allowed.join(", ")),
        )),
    }
}

impl Engine {
    /// The base query of a log list for `caller`; `None` when the caller named a
    /// customer it may not see (an empty list).
    async fn log_query(
        &self,
        caller: &Caller,
        tenant: Option<&str>,
        page: &LogPageParams,
    ) -> Result<Option<(EventLogQuery, crate::log_pages::LogPage)>, ApiError> {
        let page = page.check()?;
        let Some(customer_id) = self.calls().log_customer(caller, tenant).await? else {
            return Ok(None);
        };
        Ok(Some((
            EventLogQuery {
                workspace_id: caller.workspace_id().to_owned(),
                customer_id,
                from_ms: page.from_ms,
                to_ms: page.to_ms,
                descending: page.descending,
                cursor: page.cursor,
                limit: page.limit,
                ..Default::default()
            },
            page,
        )))
    }

    /// `GET /app-events`.
    pub async fn list_app_events(
        &self,
        caller: &Caller,
        filter: &AppEventFilter,
    ) -> Result<Value, ApiError> {
        let status = status_filter(&filter.status, &["created", "success", "error"])?;
        let Some((mut q, page)) = self
            .log_query(caller, filter.tenant_id.as_deref(), &filter.page)
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        q.target_id = filter.app_event_type_id.clone();
        q.subscription_id = filter.app_event_subscription_id.clone();
        q.status = status;
        let rows = self
            .stores
            .events
            .find_app_events(&q)
            .await
            .map_err(store_error)?;
        let items = rows.iter().map(render_app_event).collect();
        Ok(page.answer(items, rows.last().map(|r| r.seq)))
    }

    /// `GET /app-events/{id}`.
    pub async fn app_event(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let row = self
            .stores
            .events
            .app_event_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .filter(|r| {
                caller
                    .customer_id
                    .as_ref()
                    .is_none_or(|me| *me == r.customer_id)
            })
            .ok_or_else(|| ApiError::not_found(format!("No app event matches `{id}`")))?;
        Ok(render_app_event(&row))
    }

    /// `GET /incoming-webhooks`.
    pub async fn list_incoming_webhooks(
        &self,
        caller: &Caller,
        filter: &IncomingWebhookFilter,
    ) -> Result<Value, ApiError> {
        let status = status_filter(&filter.status, &["received", "success", "error"])?;
        let Some((mut q, page)) = self
            .log_query(caller, filter.tenant_id.as_deref(), &filter.page)
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        q.target_id = filter.subscription_id.clone();
        q.status = status;
        let rows = self
            .stores
            .events
            .find_incoming_webhooks(&q)
            .await
            .map_err(store_error)?;
        let mut owners = std::collections::HashMap::new();
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            if !owners.contains_key(&r.target_id) {
                let owner = self.webhook_owner(r).await?;
                owners.insert(r.target_id.clone(), owner);
            }
            items.push(render_incoming_webhook(r, &owners[&r.target_id], false));
        }
        Ok(page.answer(items, rows.last().map(|r| r.seq)))
    }

    /// `GET /incoming-webhooks/{id}`.
    pub async fn incoming_webhook(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let row = self
            .stores
            .events
            .incoming_webhook_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .filter(|r| {
                caller
                    .customer_id
                    .as_ref()
                    .is_none_or(|me| r.customer_id.as_ref() == Some(me))
            })
            .ok_or_else(|| ApiError::not_found(format!("No incoming webhook matches `{id}`")))?;
        let owner = self.webhook_owner(&row).await?;
        Ok(render_incoming_webhook(&row, &owner, true))
    }

    /// The integration and connection of a delivery's target when it has them: an
    /// external event subscription's (the subscription still stored, archived or
    /// not). App event URLs and connectors' global webhooks have none.
    async fn webhook_owner(
        &self,
        r: &IncomingWebhook,
    ) -> Result<Option<(String, String)>, ApiError> {
        if r.target_kind != WebhookTarget::ExternalEventSubscription.kind() {
            return Ok(None);
        }
        Ok(self
            .stores
            .external_events
            .external_event_subscription(&r.workspace_id, &r.target_id)
            .await
            .map_err(store_error)?
            .map(|sub| (sub.integration_id, sub.connection_id)))
    }
}

/// An app event as the SDK's `AppEventLogRecordApiResponse` has it: an event of
/// a global webhook has no subscription (`""`). How its dispatch went is in the
/// server log; its delivery's status is in `GET /incoming-webhooks`.
fn render_app_event(r: &AppEventRow) -> Value {
    json!({
        "id": r.id,
        "userId": r.customer_id,
        "appEventTypeId": r.app_event_type_id,
        "appEventSubscriptionId": r.app_event_subscription_id.clone().unwrap_or_default(),
        "event": r.event,
        "datetime": crate::clock::iso_of_ms(r.created_ms),
        "launchedFlowRunIds": r.launched_flow_run_ids,
    })
}

/// A delivery as the SDK's `IncomingWebhookApiResponse` has it (`integrationId`
/// and `connectionId` are those of the external event subscription it was posted
/// to, `owner`; a delivery to an app event URL or a connector's global webhook has
/// no integration or connection: `""`; `subscriptionId` is the
/// app event type or subscription posted to — for a connector's global webhook,
/// which belongs to no customer, the global webhook's id and the events it made
/// are in `collectedEventIds`; `received` until processed); one
/// read by id adds what a user debugs with: `error`, `processedAt` and the
/// `request` as received, secrets masked.
fn render_incoming_webhook(
    r: &IncomingWebhook,
    owner: &Option<(String, String)>,
    detailed: bool,
) -> Value {
    let customer = r.customer_id.clone().unwrap_or_default();
    let (integration, connection) = owner.clone().unwrap_or_default();
    let mut v = json!({
        "id": r.id,
        "uuid": r.id,
        "workspaceId": r.workspace_id,
        "customerId": customer,
        "userId": customer,
        "integrationId": integration,
        "connectionId": connection,
        "subscriptionId": r.target_id,
        "status": r.status,
        "collectedEventIds": r.event_ids,
        "createdAt": crate::clock::iso_of_ms(r.created_ms),
    });
    if detailed {
        v["subscriptionType"] = json!(r.target_kind);
        v["error"] = json!(r.error);
        let mut request = r.request.clone();
        // What a connector's `handle` is given unmasked, sealed until then: never
        // shown.
        if let Some(m) = request.as_object_mut() {
            m.remove("sealed");
        }
        v["request"] = request;
        if let Some(ms) = r.processed_ms {
            v["processedAt"] = json!(crate::clock::iso_of_ms(ms));
        }
    }
    v
}
