use osmosis_model::Element;
use serde_json::{json, Map, Value};

pub(super) fn render(el: &Element, m: &mut Map<String, Value>) {
    m.insert(
        "internalId".into(),
        json!(el.key.clone().unwrap_or_default()),
    );
    m.insert("isTest".into(), json!(el.doc_bool("isTest")));
    if let Some(v) = el.doc.get("lastActiveAt") {
        m.insert("lastActiveAt".into(), v.clone());
    }
}
