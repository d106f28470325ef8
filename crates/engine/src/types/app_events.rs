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
