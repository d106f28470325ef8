//! App event types get a webhook key at creation; their global webhook URL and
//! their subscriptions' webhook URLs are derived from the server's public URL.

use osmosis_model::{ids, ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use crate::Engine;

/// Gives an app event type or subscription its webhook key once: the secret part
/// of its webhook URL (128 random bits), kept for the element's life.
pub(crate) fn prepare_webhook_key(el: &mut Element) -> Result<(), ApiError> {
    if el.doc_str("webhookKey").is_none() {
        let key = format!("{}{}", ids::revision(), ids::revision());
        el.doc.insert("webhookKey".into(), json!(key));
    }
    Ok(())
}

/// The path segment of app event types' webhook URLs.
pub(crate) const APP_EVENT_TYPE_WEBHOOKS: &str = "app-events";
/// The path segment of app event subscriptions' webhook URLs.
pub(crate) const APP_EVENT_SUBSCRIPTION_WEBHOOKS: &str = "app-event-subscriptions";

/// The URL an element with a `webhookKey` receives deliveries at:
/// `<public url>/webhooks/<segment>/<workspace id>/<webhook key>`.
pub(crate) fn webhook_uri(engine: &Engine, segment: &str, el: &Element) -> Option<String> {
    let key = el.doc_str("webhookKey")?;
    let base = engine.config.public_url.trim_end_matches('/');
    Some(format!(
        "{base}/webhooks/{segment}/{}/{key}",
        el.workspace_id
    ))
}

pub(super) fn render(engine: &Engine, el: &Element, m: &mut Map<String, Value>) {
    match el.element_type {
        ElementType::AppEventType => {
            let key = el.doc_str("webhookKey").unwrap_or_default();
            m.insert("webhookKey".into(), json!(key));
            let uri = webhook_uri(engine, APP_EVENT_TYPE_WEBHOOKS, el);
            m.insert("globalWebhookUri".into(), json!(uri.unwrap_or_default()));
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
            let uri = webhook_uri(engine, APP_EVENT_SUBSCRIPTION_WEBHOOKS, el);
            m.insert("webhookUri".into(), json!(uri.unwrap_or_default()));
            // The SDK's `HttpRequestSpec` needs a `uri`: `""` until a request was sent.
            let mut request = el
                .doc
                .get("subscriptionRequest")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            if !request.get("uri").is_some_and(Value::is_string) {
                request["uri"] = json!("");
            }
            m.insert("subscriptionRequest".into(), request);
            if let Some(r) = el.doc.get("subscriptionResponse") {
                m.insert("subscriptionResponse".into(), r.clone());
            }
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
        prepare_webhook_key(el)
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
    async fn prepare(
        &self,
        _engine: &Engine,
        _caller: &crate::Caller,
        el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        prepare_webhook_key(el)
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
