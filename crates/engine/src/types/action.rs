//! Actions (and their connection-level instances) on read: the output schemas the
//! API computes (api-surface §3.3.2) — `defaultOutputSchema` (what the type
//! outputs), `transformedOutputSchema` (what `outputMapping` builds from `input`,
//! `output` and `user`, by the runtime's `getSchemaFromValue`) and `outputSchema`,
//! by the documented precedence: `customOutputSchema`, else the transformed schema,
//! else the type's default, else the parent's `customOutputSchema`.
//!
//! Types whose output depends on the external app (`api-request-to-external-app`,
//! `http-request`, `run-javascript`, …) have no default: their output schema is
//! the custom one, or one derived from the output mapping.

use osmosis_model::{ApiError, Element};
use osmosis_runtime::formula::schema_of::get_schema_from_value;
use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Map, Value};

use crate::elements::Depth;
use crate::{Caller, Engine};

/// What each data action type outputs (see actions/kinds.rs).
fn default_output_schema(kind: &str) -> Option<Value> {
    let record = json!({"type": "object", "properties": {
        "id": {"type": "string"}, "name": {"type": "string"},
        "fields": {"type": "object"}, "rawFields": {"type": "object"}}});
    let page = json!({"type": "object", "properties": {
        "records": {"type": "array", "items": record}, "cursor": {"type": "string"}}});
    let id = json!({"type": "object", "properties": {"id": {"type": "string"}}});
    Some(match kind {
        "list-data-records" | "search-data-record" => page,
        "find-data-record-by-id" | "match-data-record" => record,
        "create-data-record" | "update-data-record" => id,
        "delete-data-record" => json!({"type": "object"}),
        "find-or-create-data-record" => json!({"type": "object", "properties": {
            "id": {"type": "string"}, "created": {"type": "boolean"}}}),
        _ => return None,
    })
}

/// A schema whose unknown parts (`null`: a value read from where the variables'
/// schema says nothing) are `{}`, "any value", so it stays a valid JSON Schema.
fn any_where_unknown(schema: Value) -> Value {
    match schema {
        Value::Null => json!({}),
        Value::Object(mut m) => {
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for v in props.values_mut() {
                    *v = any_where_unknown(std::mem::take(v));
                }
            }
            if let Some(items) = m.get_mut("items") {
                *items = any_where_unknown(std::mem::take(items));
            }
            Value::Object(m)
        }
        other => other,
    }
}

pub(crate) struct ActionHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for ActionHooks {
    async fn render(
        &self,
        engine: &Engine,
        _caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: Depth,
    ) -> Result<(), ApiError> {
        let present = |k: &str| el.doc.get(k).filter(|v| !v.is_null());
        let default = el.doc_str("type").and_then(default_output_schema);
        let transformed = match present("outputMapping") {
            Some(mapping) => {
                let variables = json!({"type": "object", "properties": {
                    "input": present("inputSchema").cloned().unwrap_or_else(|| json!({})),
                    "output": default.clone().unwrap_or_else(|| json!({})),
                    "user": {"type": "object"},
                }});
                get_schema_from_value(Some(mapping), Some(&variables), false)
                    .ok()
                    .flatten()
                    .map(|schema| any_where_unknown(strip_undefined(schema)))
            }
            None => None,
        };
        let parents_custom = match (&el.parent_id, present("customOutputSchema")) {
            (Some(pid), None) => engine
                .stores
                .elements
                .element_by_id(&el.workspace_id, pid)
                .await
                .ok()
                .flatten()
                .and_then(|p| {
                    p.doc
                        .get("customOutputSchema")
                        .filter(|v| !v.is_null())
                        .cloned()
                }),
            _ => None,
        };
        let output = present("customOutputSchema")
            .cloned()
            .or_else(|| transformed.clone())
            .or_else(|| default.clone())
            .or(parents_custom);
        for (k, v) in [
            ("defaultOutputSchema", default),
            ("transformedOutputSchema", transformed),
            ("outputSchema", output),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), v);
            }
        }
        Ok(())
    }
}
