//! `valueToSchema`: making a value fit a schema (defaults, string-to-number/boolean
//! normalisation, dropping unknown fields), with the SDK's exact rules for what an
//! emptied object or array becomes.

use crate::formula;
use crate::js::{self, JsValue};
use crate::schema::predicates::prop;
use serde_json::{Map, Value};

/// The `valueToSchema` options; each is off unless set.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConformOptions {
    pub add_defaults: bool,
    pub normalize_values: bool,
    pub skip_unknown_fields: bool,
    pub skip_read_only_fields: bool,
    pub value_has_formulas: bool,
}

impl ConformOptions {
    /// Reads the options object the SDK takes (truthiness decides, as in JavaScript).
    pub fn from_json(options: Option<&Value>) -> Self {
        let flag = |k: &str| js::truthy(prop(options, k).as_deref());
        ConformOptions {
            add_defaults: flag("addDefaults"),
            normalize_values: flag("normalizeValues"),
            skip_unknown_fields: flag("skipUnknownFields"),
            skip_read_only_fields: flag("skipReadOnlyFields"),
            value_has_formulas: flag("valueHasFormulas"),
        }
    }
}

fn type_is(schema: Option<&Value>, ty: &str) -> bool {
    prop(schema, "type").as_deref() == Some(&Value::String(ty.into()))
}

/// `valueToSchema(value, schema, options)`.
pub fn value_to_schema(
    value: JsValue,
    schema: Option<&Value>,
    options: &ConformOptions,
) -> JsValue {
    let schema = schema.and_then(js::slot);
    if !js::truthy(schema) {
        return value;
    }
    let mut value = value.filter(|v| !js::is_undefined_marker(v));
    if js::is_nullish(value.as_ref()) && options.add_defaults {
        if let Some(default) = prop(schema, "default") {
            value = Some(default.into_owned());
        }
    }
    if type_is(schema, "object") {
        return value_to_object(value, schema, options);
    }
    if type_is(schema, "array") {
        let Some(Value::Array(items)) = value else {
            return value;
        };
        let had_items = !items.is_empty();
        let item_schema = prop(schema, "items");
        let mut out = Vec::new();
        for item in items {
            let was_undefined = js::is_undefined_marker(&item);
            let new_item = value_to_schema(Some(item), item_schema.as_deref(), options);
            if was_undefined || new_item.is_some() {
                out.push(js::into_slot(new_item));
            }
        }
        if had_items && out.is_empty() {
            return None;
        }
        return Some(Value::Array(out));
    }
    if !options.normalize_values {
        return value;
    }
    if type_is(schema, "string") {
        if js::is_nullish(value.as_ref()) {
            return value;
        }
        return Some(Value::String(js::to_js_string(value.as_ref())));
    }
    if type_is(schema, "integer") || type_is(schema, "number") {
        return match &value {
            None | Some(Value::Null | Value::Object(_) | Value::Array(_)) => value,
            Some(v) => {
                let n = js::to_number(Some(v));
                if n.is_nan()
                    || (type_is(schema, "integer") && !(n.is_finite() && n.fract() == 0.0))
                {
                    value
                } else {
                    Some(js::number_value(n))
                }
            }
        };
    }
    if type_is(schema, "boolean") {
        return match &value {
            Some(Value::String(s)) if s == "true" => Some(Value::Bool(true)),
            Some(Value::String(s)) if s == "false" => Some(Value::Bool(false)),
            _ => value,
        };
    }
    value
}

fn value_to_object(value: JsValue, schema: Option<&Value>, options: &ConformOptions) -> JsValue {
    if options.value_has_formulas && formula::is_formula(value.as_ref()) {
        return value;
    }
    let mut result = Map::new();
    let properties = prop(schema, "properties").filter(|p| js::truthy(Some(p)));
    if let Some(props) = properties.as_deref() {
        for (key, prop_schema) in super::merge::entries(props) {
            if options.skip_read_only_fields
                && js::truthy(prop(Some(&prop_schema), "readOnly").as_deref())
            {
                continue;
            }
            let field_value = value
                .as_ref()
                .and_then(|v| js::get_property(v, &key))
                .map(|c| c.into_owned());
            if let Some(v) = value_to_schema(field_value, Some(&prop_schema), options) {
                js::js_insert(&mut result, key, v);
            }
        }
    }
    if result.is_empty() && !matches!(value, Some(Value::Object(_))) {
        return value;
    }
    if let Some(v) = &value {
        for (key, field_value) in super::merge::entries(v) {
            if js::truthy(
                properties
                    .as_deref()
                    .and_then(|p| js::get_property(p, &key))
                    .as_deref(),
            ) {
                continue;
            }
            if options.skip_unknown_fields
                && !js::truthy(prop(schema, "additionalProperties").as_deref())
            {
                continue;
            }
            js::js_insert(&mut result, key, field_value);
        }
    }
    let value_has_keys = matches!(&value, Some(Value::Object(m)) if !m.is_empty())
        || matches!(&value, Some(Value::Array(a)) if !a.is_empty());
    if value_has_keys && result.is_empty() {
        return None;
    }
    Some(Value::Object(result))
}
