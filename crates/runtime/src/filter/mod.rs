//! Data filters: the snake_case condition operators of `DataFilter` (`doesMatchFilter`),
//! and the camelCase operator set of the `$eval` formula. The two sets look alike but
//! differ (case sensitivity of `contains`, what a falsy value gives), so each keeps its
//! own table, as in the SDK.

mod compiled;

pub use compiled::CompiledFilter;

use crate::error::Result;
use crate::js;
use crate::schema::predicates::{schema_allows_custom_value, schema_is_number, schema_is_scalar};
use serde_json::{json, Map, Value};

/// The snake_case operators of filter conditions, in the SDK's declaration order
/// (`getOperatorsBySchema` lists them in this order).
pub const FILTER_OPERATORS: [&str; 16] = [
    "is",
    "is_not",
    "is_one_of",
    "is_not_one_of",
    "is_true",
    "is_false",
    "contains",
    "does_not_contain",
    "array_includes",
    "array_does_not_include",
    "less_than",
    "less_than_or_equal",
    "more_than",
    "more_than_or_equal",
    "is_not_empty",
    "is_empty",
];

/// The camelCase operators of `$eval`.
pub const EVAL_OPERATORS: [&str; 12] = [
    "is",
    "isNot",
    "oneOf",
    "noneOf",
    "contains",
    "doesNotContain",
    "lt",
    "lte",
    "gt",
    "gte",
    "isNotEmpty",
    "isEmpty",
];

fn includes(haystack: Option<&Value>, needle: Option<&Value>) -> bool {
    matches!(haystack, Some(Value::Array(items)) if items.iter().any(|item| js::strict_eq(Some(item), needle)))
}

fn compare(value: Option<&Value>, operand: Option<&Value>, cmp: fn(f64, f64) -> bool) -> bool {
    let a = js::parse_float(value);
    let b = js::parse_float(operand);
    !a.is_nan() && !b.is_nan() && cmp(a, b)
}

fn is_empty(value: Option<&Value>) -> bool {
    match value.and_then(js::slot) {
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
        Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        None => true,
        Some(_) => false,
    }
}

fn is_not_empty(value: Option<&Value>) -> bool {
    match value.and_then(js::slot) {
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty(),
        Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        None => false,
        Some(_) => true,
    }
}

/// Applies a filter-condition operator; `None` when the operator is unknown.
pub fn apply_filter_operator(
    op: &str,
    value: Option<&Value>,
    operand: Option<&Value>,
) -> Option<bool> {
    let value = value.and_then(js::slot);
    let operand = operand.and_then(js::slot);
    Some(match op {
        "is" => js::loose_eq(value, operand),
        "is_not" => !js::loose_eq(value, operand),
        "is_one_of" => includes(operand, value),
        "is_not_one_of" => !includes(operand, value),
        "is_true" => js::truthy(value),
        "is_false" => value == Some(&Value::Bool(false)),
        "contains" => {
            js::truthy(value) && js::to_js_string(value).contains(&js::to_js_string(operand))
        }
        "does_not_contain" => {
            js::truthy(value) && !js::to_js_string(value).contains(&js::to_js_string(operand))
        }
        "array_includes" => includes(value, operand),
        "array_does_not_include" => !includes(value, operand),
        "less_than" => compare(value, operand, |a, b| a < b),
        "less_than_or_equal" => compare(value, operand, |a, b| a <= b),
        "more_than" => compare(value, operand, |a, b| a > b),
        "more_than_or_equal" => compare(value, operand, |a, b| a >= b),
        "is_not_empty" => is_not_empty(value),
        "is_empty" => is_empty(value),
        _ => return None,
    })
}

fn lower_contains(value: Option<&Value>, operand: Option<&Value>) -> bool {
    let needle = if js::is_nullish(operand) {
        "undefined".to_string()
    } else {
        js::to_js_string(operand).to_lowercase()
    };
    js::to_js_string(value).to_lowercase().contains(&needle)
}

/// Applies an `$eval` operator; `None` when the operator is unknown (the formula then
/// gives `true`).
pub fn apply_eval_operator(
    op: &str,
    value: Option<&Value>,
    operand: Option<&Value>,
) -> Option<bool> {
    let value = value.and_then(js::slot);
    let operand = operand.and_then(js::slot);
    Some(match op {
        "is" => js::loose_eq(value, operand),
        "isNot" => !js::loose_eq(value, operand),
        "oneOf" => includes(operand, value),
        "noneOf" => !includes(operand, value),
        "contains" => match value {
            v if !js::truthy(v) => false,
            Some(Value::Array(_)) => includes(value, operand),
            _ => lower_contains(value, operand),
        },
        "doesNotContain" => match value {
            v if !js::truthy(v) => true,
            Some(Value::Array(_)) => !includes(value, operand),
            _ => !lower_contains(value, operand),
        },
        "lt" => compare(value, operand, |a, b| a < b),
        "lte" => compare(value, operand, |a, b| a <= b),
        "gt" => compare(value, operand, |a, b| a > b),
        "gte" => compare(value, operand, |a, b| a >= b),
        "isNotEmpty" => is_not_empty(value),
        "isEmpty" => is_empty(value),
        _ => return None,
    })
}

/// `doesMatchFilter(data, filter)`: every condition with a known operator must match
/// at least one value its field reaches (or `undefined` when it reaches none).
pub fn does_match_filter(data: Option<&Value>, filter: Option<&Value>) -> Result<bool> {
    CompiledFilter::compile(filter).matches(data)
}

/// `getOperatorsBySchema(schema)`: the filter operators offered for a field schema.
pub fn get_operators_by_schema(schema: Option<&Value>) -> Vec<Value> {
    let Some(Value::Object(s)) = schema.and_then(js::slot) else {
        return Vec::new();
    };
    let schema = schema.and_then(js::slot);
    let ty = s.get("type").and_then(js::slot);
    let is_bool = ty == Some(&Value::String("boolean".into()));
    let is_string = ty == Some(&Value::String("string".into()));
    let is_array = ty == Some(&Value::String("array".into()));
    let items = s.get("items").and_then(js::slot);
    let scalar_not_bool = schema_is_scalar(schema) && !is_bool;
    let mut out = Vec::new();
    let mut push = |key: &str, name: &str, operand: Option<Value>| {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(key.into()));
        m.insert("name".into(), Value::String(name.into()));
        m.insert("operandSchema".into(), js::into_slot(operand));
        out.push(Value::Object(m));
    };
    let array_of = |items: Option<&Value>| {
        let mut m = Map::new();
        m.insert("type".into(), json!("array"));
        m.insert("items".into(), js::into_slot(items.cloned()));
        Value::Object(m)
    };
    if scalar_not_bool {
        push("is", "is", schema.cloned());
        push("is_not", "is not", schema.cloned());
        push("is_one_of", "is one of", Some(array_of(schema)));
        push("is_not_one_of", "is not one of", Some(array_of(schema)));
    }
    if is_bool {
        push("is_true", "is true", Some(Value::Null));
        push("is_false", "is false", Some(Value::Null));
    }
    if is_string && js::truthy(schema_allows_custom_value(schema).as_ref()) {
        push("contains", "contains", Some(json!({"type": "string"})));
        push(
            "does_not_contain",
            "does not contain",
            Some(json!({"type": "string"})),
        );
    }
    if is_array && js::truthy(items) {
        push("array_includes", "includes", items.cloned());
        push("array_does_not_include", "does not include", items.cloned());
    }
    if schema_is_number(schema) {
        push("less_than", "less than", Some(json!({"type": "number"})));
        push(
            "less_than_or_equal",
            "less than or equal",
            Some(json!({"type": "number"})),
        );
        push("more_than", "more than", Some(json!({"type": "number"})));
        push(
            "more_than_or_equal",
            "more than or equal",
            Some(json!({"type": "number"})),
        );
    }
    push("is_not_empty", "is not empty", Some(Value::Null));
    push("is_empty", "is empty", Some(Value::Null));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_value_is_not_false() {
        let filter = json!([{"field": "x", "operator": "is_false"}]);
        assert!(!does_match_filter(Some(&json!({})), Some(&filter)).unwrap());
        assert!(does_match_filter(Some(&json!({"x": false})), Some(&filter)).unwrap());
    }

    #[test]
    fn contains_differs_between_sets() {
        assert_eq!(
            apply_filter_operator("contains", Some(&json!("Hello")), Some(&json!("hell"))),
            Some(false)
        );
        assert_eq!(
            apply_eval_operator("contains", Some(&json!("Hello")), Some(&json!("hell"))),
            Some(true)
        );
        assert_eq!(
            apply_eval_operator("doesNotContain", None, Some(&json!("x"))),
            Some(true)
        );
        assert_eq!(
            apply_filter_operator("does_not_contain", None, Some(&json!("x"))),
            Some(false)
        );
    }

    #[test]
    fn compiled_filter_fans_out_and_reuses_hints() {
        let filter = json!([{"field": "a.b", "operator": "more_than", "value": "4"}]);
        let compiled = CompiledFilter::compile(Some(&filter));
        for (data, expected) in [
            (json!({"a": {"b": 5}}), true),
            (json!({"a": [{"b": 1}, {"b": "9"}]}), true),
            (json!({"a": [{"x": 0, "b": 1}, {"b": "3"}]}), false),
            (json!({"x": 1, "a": {"c": 0, "b": 7}}), true),
            (json!({}), false),
        ] {
            assert_eq!(compiled.matches(Some(&data)).unwrap(), expected, "{data}");
        }
    }

    #[test]
    fn errors_surface_only_when_reached() {
        let filter = json!([{"field": "x", "operator": "is", "value": 1}, null]);
        let compiled = CompiledFilter::compile(Some(&filter));
        assert!(!compiled.matches(Some(&json!({"x": 2}))).unwrap());
        assert!(compiled.matches(Some(&json!({"x": 1}))).is_err());
        let bad = json!([{"field": "x", "operator": "is", "value": 1}, {"field": "a[", "operator": "is"}]);
        let compiled = CompiledFilter::compile(Some(&bad));
        assert!(!compiled.matches(Some(&json!({"x": 2}))).unwrap());
        assert!(compiled.matches(Some(&json!({"x": 1}))).is_err());
    }
}
