//! Merging schemas (`mergeSchemas` / `combineSchemas`) and inferring them from values
//! (`createSchema`, `createCompoundSchema`). Merging groups schemas by type, folds
//! `integer` into `number`, merges same-typed schemas key by key and wraps several
//! remaining types into `type: [...]` or `anyOf`.

use crate::error::{Result, RuntimeError};
use crate::js::{self, JsValue};
use serde_json::{json, Map, Value};

const BUCKETS: [&str; 8] = [
    "undefined",
    "null",
    "boolean",
    "integer",
    "number",
    "string",
    "array",
    "object",
];

/// Names `in` finds on a plain object through its prototype; using one as a schema type
/// makes the SDK call a function's `push` and fail.
const PROTOTYPE_NAMES: [&str; 12] = [
    "constructor",
    "toString",
    "toLocaleString",
    "valueOf",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

fn type_error(what: &str) -> RuntimeError {
    RuntimeError::Type(format!("{what} is not a function"))
}

/// `unwrapSchema`: expands `anyOf` and array `type`s into single schemas.
pub fn unwrap_schema(schema: Option<&Value>) -> Result<Vec<Value>> {
    let Some(s) = schema.and_then(js::slot).filter(|s| js::truthy(Some(s))) else {
        return Ok(Vec::new());
    };
    let any_of = js::get_property(s, "anyOf");
    if js::truthy(any_of.as_deref()) {
        return unwrap_schemas(any_of.as_deref());
    }
    if let Some(Value::Array(types)) = js::get_property(s, "type").as_deref() {
        return Ok(types
            .iter()
            .map(|t| {
                let mut m = Map::new();
                m.insert("type".into(), t.clone());
                Value::Object(m)
            })
            .collect());
    }
    Ok(vec![s.clone()])
}

/// `unwrapSchemas`.
pub fn unwrap_schemas(schemas: Option<&Value>) -> Result<Vec<Value>> {
    let schemas = schemas.and_then(js::slot);
    if !js::truthy(schemas) {
        return Ok(Vec::new());
    }
    match schemas {
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(unwrap_schema(Some(item))?);
            }
            Ok(out)
        }
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        _ => Err(type_error("schemas.flatMap")),
    }
}

/// `{...a, ...b}` for any JavaScript value `b` (strings and arrays spread their indices).
pub(crate) fn spread_into(target: &mut Map<String, Value>, source: &Value) {
    match source {
        Value::Object(map) => {
            for (k, v) in map {
                js::js_insert(target, k.clone(), v.clone());
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                js::js_insert(target, i.to_string(), v.clone());
            }
        }
        Value::String(s) => {
            for (i, unit) in s.encode_utf16().enumerate() {
                js::js_insert(
                    target,
                    i.to_string(),
                    Value::String(String::from_utf16_lossy(&[unit])),
                );
            }
        }
        _ => {}
    }
}

fn combine_scalars(schemas: &[Value]) -> Option<Map<String, Value>> {
    if schemas.is_empty() {
        return None;
    }
    let mut out = Map::new();
    for s in schemas {
        spread_into(&mut out, s);
    }
    Some(out)
}

fn combine_arrays(schemas: &[Value]) -> Result<Option<Map<String, Value>>> {
    if schemas.is_empty() {
        return Ok(None);
    }
    let mut item_schemas = Vec::new();
    for s in schemas {
        let items = js::get_property(s, "items");
        if !js::truthy(items.as_deref()) {
            continue;
        }
        item_schemas.extend(unwrap_schema(items.as_deref())?);
    }
    let mut out = combine_scalars(schemas).unwrap_or_default();
    if !item_schemas.is_empty() {
        let items = combine_schema_list(item_schemas)?;
        js::js_insert(&mut out, "items".into(), js::into_slot(items));
    }
    Ok(Some(out))
}

fn combine_objects(schemas: &[Value]) -> Result<Option<Map<String, Value>>> {
    if schemas.is_empty() {
        return Ok(None);
    }
    let mut by_prop: Map<String, Value> = Map::new();
    let mut lists: Vec<Vec<Value>> = Vec::new();
    let mut required: Vec<Value> = Vec::new();
    for s in schemas {
        let props = js::get_property(s, "properties");
        if js::truthy(props.as_deref()) {
            if let Some(props) = props.as_deref() {
                for (key, prop) in entries(props) {
                    let idx = match by_prop.get(&key) {
                        Some(Value::Number(n)) => n.as_u64().unwrap_or(0) as usize,
                        _ => {
                            lists.push(Vec::new());
                            js::js_insert(&mut by_prop, key.clone(), json!(lists.len() - 1));
                            lists.len() - 1
                        }
                    };
                    lists[idx].extend(unwrap_schema(Some(&prop))?);
                }
            }
        }
        if let Some(Value::Array(req)) = js::get_property(s, "required").as_deref() {
            for r in req {
                if !required.iter().any(|x| js::strict_eq(Some(x), Some(r))) {
                    required.push(r.clone());
                }
            }
        }
    }
    let mut properties = Map::new();
    for (key, idx) in by_prop {
        let list = std::mem::take(&mut lists[idx.as_u64().unwrap_or(0) as usize]);
        let merged = if list.len() == 1 {
            list.into_iter().next()
        } else {
            combine_schema_list(list)?
        };
        js::js_insert(&mut properties, key, js::into_slot(merged));
    }
    let mut out = combine_scalars(schemas).unwrap_or_default();
    if !properties.is_empty() {
        js::js_insert(&mut out, "properties".into(), Value::Object(properties));
    }
    if !required.is_empty() {
        js::js_insert(&mut out, "required".into(), Value::Array(required));
    }
    Ok(Some(out))
}

/// `Object.entries` of any value (an `undefined` property is listed, as its marker).
pub(crate) fn entries(value: &Value) -> Vec<(String, Value)> {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        Value::String(s) => s
            .encode_utf16()
            .enumerate()
            .map(|(i, u)| (i.to_string(), Value::String(String::from_utf16_lossy(&[u]))))
            .collect(),
        _ => Vec::new(),
    }
}

fn bucket_of(schema: &Value) -> Result<Option<usize>> {
    let ty = js::get_property(schema, "type");
    let key = js::to_js_string(ty.as_deref());
    if PROTOTYPE_NAMES.contains(&key.as_str()) {
        return Err(type_error("schemasByType[type].push"));
    }
    Ok(BUCKETS.iter().position(|b| *b == key))
}

/// `combineSchemas` over already unwrapped schemas.
fn combine_schema_list(unwrapped: Vec<Value>) -> Result<JsValue> {
    let mut buckets: [Vec<Value>; 8] = Default::default();
    for s in unwrapped {
        if let Some(i) = bucket_of(&s)? {
            buckets[i].push(s);
        }
    }
    let [undef, null, boolean, mut integer, mut number, string, array, object] = buckets;
    if !number.is_empty() {
        for s in integer.drain(..) {
            let mut m = Map::new();
            spread_into(&mut m, &s);
            js::js_insert(&mut m, "type".into(), json!("number"));
            number.push(Value::Object(m));
        }
    }
    let found: Vec<Map<String, Value>> = [
        combine_scalars(&undef),
        combine_scalars(&null),
        combine_scalars(&boolean),
        combine_scalars(&number),
        combine_scalars(&integer),
        combine_scalars(&string),
        combine_arrays(&array)?,
        combine_objects(&object)?,
    ]
    .into_iter()
    .flatten()
    .collect();
    let type_of = |m: &Map<String, Value>| m.get("type").and_then(js::slot).cloned();
    let mut types: Vec<Option<Value>> = Vec::new();
    for m in &found {
        let t = type_of(m);
        if !types.iter().any(|x| js::strict_eq(x.as_ref(), t.as_ref())) {
            types.push(t);
        }
    }
    let mut found = found;
    if types.len() > 1 && types.iter().any(|t| t.is_none()) {
        found.retain(|m| js::truthy(type_of(m).as_ref()));
    }
    if found.len() > 1 {
        return Ok(Some(wrap_any_of(
            found.into_iter().map(Value::Object).collect(),
        )));
    }
    Ok(found.into_iter().next().map(Value::Object))
}

/// `wrapAnyOfSchema({anyOf})`: simple `{type}` schemas collapse into one `type` list.
pub fn wrap_any_of(any_of: Vec<Value>) -> Value {
    let mut simple = Vec::new();
    let mut complex = Vec::new();
    for sub in any_of {
        let ty = js::get_property(&sub, "type").map(|c| c.into_owned());
        if let Some(Value::Array(types)) = ty {
            simple.extend(types);
        } else if matches!(&sub, Value::Object(m) if m.len() == 1 && m.contains_key("type")) {
            simple.push(js::into_slot(ty));
        } else {
            complex.push(sub);
        }
    }
    if complex.is_empty() {
        return json!({ "type": simple });
    }
    let mut any = Vec::new();
    if !simple.is_empty() {
        let t = if simple.len() > 1 {
            Value::Array(simple)
        } else {
            simple.remove(0)
        };
        any.push(json!({ "type": t }));
    }
    any.extend(complex);
    json!({ "anyOf": any })
}

/// `mergeSchemas(schemas)`.
pub fn merge_schemas(schemas: Option<&Value>) -> Result<JsValue> {
    combine_schema_list(unwrap_schemas(schemas)?)
}

/// `mergeSchemas` over a list built in Rust.
pub fn merge_schema_values(schemas: Vec<JsValue>) -> Result<JsValue> {
    let mut unwrapped = Vec::new();
    for s in &schemas {
        unwrapped.extend(unwrap_schema(s.as_ref())?);
    }
    combine_schema_list(unwrapped)
}

/// `createSchema(value)`: whole numbers are `integer`, `null` gives `{}`.
pub fn create_schema(value: Option<&Value>) -> Result<Value> {
    create_schema_for(value.and_then(js::slot).unwrap_or(&Value::Null))
}

fn create_schema_for(value: &Value) -> Result<Value> {
    Ok(match value {
        Value::Number(n) => {
            let f = js::num(n);
            if f.is_finite() && f.fract() == 0.0 {
                json!({"type": "integer"})
            } else {
                json!({"type": "number"})
            }
        }
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::String(_) => json!({"type": "string"}),
        Value::Null => json!({}),
        Value::Array(items) if items.is_empty() => json!({"type": "array"}),
        Value::Array(items) => {
            let schemas = items
                .iter()
                .map(|v| create_schema_for(v).map(Some))
                .collect::<Result<Vec<_>>>()?;
            let merged = merge_schema_values(schemas)?;
            let mut m = Map::new();
            m.insert("type".into(), json!("array"));
            m.insert("items".into(), js::into_slot(merged));
            Value::Object(m)
        }
        Value::Object(map) if map.is_empty() => json!({"type": "object"}),
        Value::Object(map) => {
            let mut props = Map::new();
            for (k, v) in map {
                props.insert(k.clone(), create_schema_for(v)?);
            }
            json!({"type": "object", "properties": props})
        }
    })
}

/// `createCompoundSchema(values)`: the merged schema of several sample values.
pub fn create_compound_schema(values: Option<&Value>) -> Result<JsValue> {
    let Some(Value::Array(items)) = values.and_then(js::slot) else {
        return Err(type_error("values.map"));
    };
    let schemas = items
        .iter()
        .map(|v| create_schema(Some(v)).map(Some))
        .collect::<Result<Vec<_>>>()?;
    merge_schema_values(schemas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_folds_into_number() {
        let out = merge_schemas(Some(
            &json!([{"type": "integer"}, {"type": "number"}, {"type": "string"}]),
        ))
        .unwrap();
        assert_eq!(out, Some(json!({"type": ["number", "string"]})));
    }

    #[test]
    fn create_schema_infers_items() {
        let out = create_schema(Some(&json!({"a": [1, 2.5], "b": null}))).unwrap();
        assert_eq!(
            out,
            json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "number"}}, "b": {}}})
        );
    }
}
