//! App event types get a webhook key at creation; their global webhook URL and
//! their subscriptions' webhook URLs are derived from the server's public URL.

use osmosis_model::{ids, ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use crate::Engine;

pub(super) fn prepare_type(el: &mut Element) -> Result<(), ApiError> {
    if el.doc_str("webhookKey").is_none() {
        el.doc.insert("webhookKey".into(), json!(ids::revision()));
    }
    Ok(())
}

pub(super) fn render(engine: &Engine, el: &Element, m: &mut Map<String, Value>) {
    let base = engine.config.public_url.trim_end_matches('/');
    match el.element_type {
        ElementType::AppEventType => {
            let key = el.doc_str("webhookKey").unwrap_or_default();
            m.insert("webhookKey".into(), json!(key));
            m.insert(
                "globalWebhookUri".into(),
                json!(format!("{base}/webhooks/app-events/{key}")),
            );
        }
        ElementType::AppEventSubscription => {
            if let Some(p) = &el.parent_id {
                m.insert("appEventTypeId".into(), json!(p));
            }
            m.insert(
                "userId".into(),
                json!(el.customer_id.clone().unwrap_or_default()),
            );
            m.insert("isSubscribed".into(), json!(el.doc_bool("isSubscribed")));
            m.insert(
                "webhookUri".into(),
                json!(format!("{base}/webhooks/app-event-subscriptions/{}", el.id)),
            );
            m.insert(
                "subscriptionRequest".into(),
                el.doc
                    .get("subscriptionRequest")
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            );
        }
        _ => {}
    }
}

/// App event types: a webhook key at creation, webhook URLs on read.
pub(crate) struct AppEventTypeHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for AppEventTypeHooks {
    async fn prepare(
        &self,
        _engine: &Engine,
        _caller: &crate::Caller,
        el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        prepare_type(el)
    }

    async fn render(
        &self,
        engine: &Engine,
        _caller: &crate::Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: crate::elements::Depth,
    ) -> Result<(), ApiError> {
        render(engine, el, m);
        Ok(())
    }
}

/// Subscriptions to app events: their webhook URL on read; made for a customer,
/// with or without a connection.
pub(crate) struct AppEventSubscriptionHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for AppEventSubscriptionHooks {
    async fn render(
        &self,
        engine: &Engine,
        _caller: &crate::Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: crate::elements::Depth,
    ) -> Result<(), ApiError> {
        render(engine, el, m);
        Ok(())
    }

    fn instance_needs_connection(&self) -> bool {
        false
    }
}

/// App data schema instances belong to a customer, not necessarily to a connection.
pub(crate) struct AppDataSchemaInstanceHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for AppDataSchemaInstanceHooks {
    fn instance_needs_connection(&self) -> bool {
        false
    }

    /// `setup`: the customer's schema computed again (see `app_data_schemas`).
    async fn refresh(
        &self,
        engine: &Engine,
        caller: &crate::Caller,
        current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        Some(
            engine
                .app_data_schemas()
                .setup_instance(caller, current)
                .await,
        )
    }
}
