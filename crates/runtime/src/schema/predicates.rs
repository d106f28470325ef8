//! Yes/no questions about schemas that the filter UI and the engine ask. They return
//! what the SDK returns, which is not always a boolean (`schemaIsNumber(null)` is
//! `null`), so the oracle can compare them exactly.

use crate::js::{self, JsValue};
use serde_json::Value;

/// `schema.key` for any value, as JavaScript reads it.
pub(crate) fn prop<'a>(
    schema: Option<&'a Value>,
    key: &str,
) -> Option<std::borrow::Cow<'a, Value>> {
    schema
        .and_then(js::slot)
        .and_then(|s| js::get_property(s, key))
}

fn type_is(schema: Option<&Value>, ty: &str) -> bool {
    prop(schema, "type").as_deref() == Some(&Value::String(ty.into()))
}

/// `schemaIsScalar`: an object schema whose `type` is not (loosely) array, object or
/// null; an untyped schema counts as scalar.
pub fn schema_is_scalar(schema: Option<&Value>) -> bool {
    if !js::truthy(schema) || !matches!(schema, Some(Value::Object(_) | Value::Array(_))) {
        return false;
    }
    let ty = prop(schema, "type");
    ["array", "object", "null"]
        .iter()
        .all(|t| !js::loose_eq(ty.as_deref(), Some(&Value::String((*t).into()))))
}

/// `schemaHasFixedValues`: choices come from `enum`, reference records or a collection,
/// or the schema is boolean.
pub fn schema_has_fixed_values(schema: Option<&Value>) -> bool {
    if !js::truthy(schema) {
        return false;
    }
    js::truthy(prop(schema, "enum").as_deref())
        || js::truthy(prop(schema, "referenceRecords").as_deref())
        || js::truthy(prop(schema, "referenceCollection").as_deref())
        || type_is(schema, "boolean")
}

/// `schemaAllowsCustomValue`: `true`, or the schema's own `allowCustom` value.
pub fn schema_allows_custom_value(schema: Option<&Value>) -> JsValue {
    if !schema_has_fixed_values(schema) {
        return Some(Value::Bool(true));
    }
    prop(schema, "allowCustom").map(|v| v.into_owned())
}

/// `schemaIsNumber`: a falsy schema is returned as is, as the SDK does.
pub fn schema_is_number_value(schema: Option<&Value>) -> JsValue {
    if !js::truthy(schema) {
        return schema.cloned();
    }
    Some(Value::Bool(
        type_is(schema, "number") || type_is(schema, "integer"),
    ))
}

pub fn schema_is_number(schema: Option<&Value>) -> bool {
    js::truthy(schema_is_number_value(schema).as_ref())
}

/// `schemaHasProperties`: an object schema with at least one property.
pub fn schema_has_properties(schema: Option<&Value>) -> bool {
    js::truthy(schema)
        && type_is(schema, "object")
        && !js::object_keys(prop(schema, "properties").as_deref()).is_empty()
}

/// `isSchemaEmpty`: no type, or an object type without properties.
pub fn is_schema_empty(schema: Option<&Value>) -> bool {
    if !js::truthy(schema) || !matches!(schema, Some(Value::Object(_) | Value::Array(_))) {
        return true;
    }
    if !js::truthy(prop(schema, "type").as_deref()) {
        return true;
    }
    if !type_is(schema, "object") {
        return false;
    }
    let props = prop(schema, "properties");
    !js::truthy(props.as_deref()) || js::object_keys(props.as_deref()).is_empty()
}

/// `schemaTypeFromValue`: the JSON-schema type name of a value (`number` for every
/// number), `None` for `null` and `undefined`.
pub fn schema_type_from_value(value: Option<&Value>) -> Option<&'static str> {
    match value.and_then(js::slot)? {
        Value::Null => None,
        Value::Array(_) => Some("array"),
        Value::Object(_) => Some("object"),
        Value::Bool(_) => Some("boolean"),
        Value::Number(_) => Some("number"),
        Value::String(_) => Some("string"),
    }
}
