//! Webhook deliveries: each change to a contact or company is POSTed to every
//! subscription of its account that lists the event.
//!
//! Delivery is best-effort: in the background (the change's answer does not wait),
//! once, with a [`DELIVERY_TIMEOUT`], in no guaranteed order between changes; a
//! failure is logged and dropped. It goes through the engine's guarded outbound
//! client, so a webhook URL reaches what a connector's call could: public addresses,
//! those `--outbound-allow` covers, and with `--demo` this server's own address. A
//! URL naming a refused address is refused when subscribing (400 on `url`); a host
//! name resolving to one fails at delivery.

use std::time::Duration;

use osmosis_connectors::http::OutboundClient;
use osmosis_engine::clock::now_iso;
use osmosis_model::ids;
use serde_json::{json, Map, Value};

use crate::db::Db;
use crate::routes::AppError;

/// Every event a subscription may list.
pub const EVENTS: [&str; 6] = [
    "contact.created",
    "contact.updated",
    "contact.deleted",
    "company.created",
    "company.updated",
    "company.deleted",
];

/// How long one delivery may take, connecting included.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The header naming the event of a delivery.
pub const EVENT_HEADER: &str = "x-demo-app-event";

#[derive(Clone)]
pub(crate) struct Hooks {
    db: Db,
    http: OutboundClient,
}

impl Hooks {
    pub(crate) fn new(db: Db, http: OutboundClient) -> Self {
        Hooks { db, http }
    }

    /// A subscription's URL, checked: http(s), and not an address the outbound
    /// guard refuses.
    pub(crate) fn check_url(&self, text: &str) -> Result<String, AppError> {
        let url = url::Url::parse(text.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                AppError::invalid_field("url", "`url` must be an absolute http(s) URL")
            })?;
        self.http
            .check_url(&url)
            .map_err(|refused| AppError::invalid_field("url", format!("`url`: {refused}")))?;
        Ok(url.to_string())
    }

    /// Delivers `event` about `record` to the account's subscriptions, in the
    /// background.
    pub(crate) fn emit(&self, account: &str, event: String, record: &Map<String, Value>) {
        let hooks = self.clone();
        let account = account.to_owned();
        let payload = json!({
            "id": format!("evt_{}", ids::object_id()),
            "event": event,
            "occurredAt": now_iso(),
            "data": record,
        });
        tokio::spawn(async move {
            let subscriptions = match hooks.db.all("webhooks", &account).await {
                Ok(s) => s,
                Err(error) => {
                    tracing::warn!(%error, "demo app: cannot read webhook subscriptions");
                    return;
                }
            };
            for subscription in subscriptions {
                let listed = subscription
                    .get("events")
                    .and_then(Value::as_array)
                    .is_some_and(|events| events.iter().any(|e| e == event.as_str()));
                let Some(url) = subscription.get("url").and_then(Value::as_str) else {
                    continue;
                };
                if listed {
                    tokio::spawn(deliver(
                        hooks.http.clone(),
                        url.to_owned(),
                        event.clone(),
                        payload.clone(),
                    ));
                }
            }
        });
    }
}

async fn deliver(http: OutboundClient, url: String, event: String, payload: Value) {
    let sent = http
        .post(url.as_str())
        .header(EVENT_HEADER, event.as_str())
        .json(&payload)
        .timeout(DELIVERY_TIMEOUT)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => {
            tracing::debug!(%event, %url, "demo app: webhook delivered");
        }
        Ok(response) => {
            tracing::warn!(%event, %url, status = response.status().as_u16(), "demo app: webhook refused");
        }
        Err(error) => {
            tracing::warn!(%event, %url, %error, "demo app: webhook not delivered");
        }
    }
}
