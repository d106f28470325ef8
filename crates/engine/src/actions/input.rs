//! Fitting a run's input to the action's `inputSchema` (semantics §3.1): properties
//! the schema does not name are dropped and defaults added (the SDK's own
//! `valueToSchema`, from the runtime crate), then the result is checked against the
//! schema — a wrong type, a missing required property or a value outside an `enum`
//! is a `bad_request` (`invalid_field`) naming the field as `input.<path>`.
//!
//! Values are not coerced: `"5"` for a number is refused rather than guessed at.

use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
use osmosis_model::ApiError;
use osmosis_runtime::js::strip_undefined;
use osmosis_runtime::schema::conform::{value_to_schema, ConformOptions};
use serde_json::{Map, Value};

/// Compiled schemas by their JSON text: an action's schema is compiled once, not on
/// every run. Bounded: cleared when it reaches [`MAX_COMPILED`] entries.
static COMPILED: LazyLock<DashMap<String, Arc<jsonschema::Validator>>> =
    LazyLock::new(DashMap::new);
const MAX_COMPILED: usize = 1024;

/// The input fitted to `schema` (unchanged without one), or why it does not fit.
pub(crate) fn fit(schema: Option<&Value>, input: Value) -> Result<Value, ApiError> {
    let Some(schema) = schema.filter(|s| s.as_object().is_some_and(|m| !m.is_empty())) else {
        return Ok(input);
    };
    let input = match input {
        // No input for an object schema is an empty object, so defaults and
        // `required` apply.
        Value::Null if schema.get("type") == Some(&Value::String("object".into())) => {
            Value::Object(Map::new())
        }
        other => other,
    };
    let options = ConformOptions {
        add_defaults: true,
        skip_unknown_fields: true,
        ..Default::default()
    };
    let fitted = value_to_schema(Some(input), Some(schema), &options)
        .map(strip_undefined)
        .unwrap_or(Value::Null);
    let validator = compiled(schema)?;
    if let Some(error) = validator.iter_errors(&fitted).next() {
        let path: Vec<&str> = error
            .instance_path()
            .as_str()
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let field = if path.is_empty() {
            "input".to_owned()
        } else {
            format!("input.{}", path.join("."))
        };
        return Err(ApiError::invalid_field(&field, error));
    }
    Ok(fitted)
}

fn compiled(schema: &Value) -> Result<Arc<jsonschema::Validator>, ApiError> {
    let text = schema.to_string();
    if let Some(v) = COMPILED.get(&text) {
        return Ok(Arc::clone(&v));
    }
    let validator = Arc::new(jsonschema::validator_for(schema).map_err(|e| {
        ApiError::configuration(format!(
            "The action's inputSchema is not a valid JSON Schema: {e}"
        ))
    })?);
    if COMPILED.len() >= MAX_COMPILED {
        COMPILED.clear();
    }
    COMPILED.insert(text, Arc::clone(&validator));
    Ok(validator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "name": {"type": "string"},
            "age": {"type": "number", "default": 30},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"type": "object", "properties": {"zip": {"type": "string"}}}
        }, "required": ["name"]})
    }

    #[test]
    fn drops_unknown_properties_and_adds_defaults() {
        let got = fit(Some(&schema()), json!({"name": "Ada", "extra": 1})).unwrap();
        assert_eq!(got, json!({"name": "Ada", "age": 30}));
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let e = fit(
            Some(&schema()),
            json!({"name": "Ada", "address": {"zip": 5}}),
        )
        .unwrap_err();
        assert_eq!(e.key.as_deref(), Some("invalid_field"));
        assert!(e.message.contains("input.address.zip"), "{}", e.message);
        let e = fit(Some(&schema()), json!({"name": "Ada", "tags": ["a", 2]})).unwrap_err();
        assert!(e.message.contains("input.tags.1"), "{}", e.message);
    }

    #[test]
    fn a_missing_required_property_is_refused() {
        let e = fit(Some(&schema()), Value::Null).unwrap_err();
        assert!(e.message.contains("name"), "{}", e.message);
    }

    #[test]
    fn no_schema_keeps_the_input() {
        assert_eq!(fit(None, json!({"x": 1})).unwrap(), json!({"x": 1}));
        assert_eq!(fit(Some(&json!({})), json!([1])).unwrap(), json!([1]));
    }
}
