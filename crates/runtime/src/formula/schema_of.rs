//! `getSchemaFromValue` / `buildDataSchema`: the schema of the data a value will build
//! to, given the schema of the variables. Each formula type declares its output schema.

use super::get_formula;
use crate::error::{Result, RuntimeError};
use crate::js::{self, JsValue};
use crate::schema::{
    get_schema_by_locator, merge_schema_values, predicates::schema_type_from_value,
};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// `getSchemaFromValue(value, variablesSchema, ignoreFormulas)`.
pub fn get_schema_from_value(
    value: Option<&Value>,
    variables_schema: Option<&Value>,
    ignore_formulas: bool,
) -> Result<JsValue> {
    let value = value.and_then(js::slot);
    if !ignore_formulas {
        if let Some(f) = get_formula(value) {
            return formula_schema(f.kind, f.args, variables_schema);
        }
    }
    Ok(match (schema_type_from_value(value), value) {
        (Some("object"), Some(Value::Object(map))) => {
            let mut props = Map::new();
            for (k, v) in map {
                props.insert(
                    k.clone(),
                    js::into_slot(get_schema_from_value(
                        Some(v),
                        variables_schema,
                        ignore_formulas,
                    )?),
                );
            }
            Some(json!({"type": "object", "properties": props}))
        }
        (Some("array"), Some(Value::Array(items))) => {
            let schemas = items
                .iter()
                .map(|v| get_schema_from_value(Some(v), variables_schema, ignore_formulas))
                .collect::<Result<Vec<_>>>()?;
            let mut m = Map::new();
            m.insert("type".into(), json!("array"));
            m.insert("items".into(), js::into_slot(merge_schema_values(schemas)?));
            Some(Value::Object(m))
        }
        (Some(t), _) => Some(json!({ "type": t })),
        (None, _) => None,
    })
}

fn get<'a>(value: Option<&'a Value>, key: &str) -> Option<Cow<'a, Value>> {
    value
        .and_then(js::slot)
        .and_then(|v| js::get_property(v, key))
}

fn formula_schema(kind: &str, args: Option<&Value>, vs: Option<&Value>) -> Result<JsValue> {
    Ok(match kind {
        "var" => get_schema_by_locator(vs, args),
        "record"
        | "tpl"
        | "lookup"
        | "concat"
        | "firstName"
        | "lastName"
        | "domainFromEmail"
        | "findAppRecordId"
        | "findExternalRecordId" => Some(json!({"type": "string"})),
        "extractDate" => Some(json!({"type": "string", "format": "date"})),
        "extractTime" => Some(json!({"type": "string", "format": "time"})),
        "eval" | "and" | "or" => Some(json!({"type": "boolean"})),
        "copy" => Some(Value::Null),
        "dataSchemaRef" => Some(json!({"type": "object"})),
        "formula" => None,
        "plain" => get_schema_from_value(args, None, true)?,
        "map" => get_schema_from_value(get(args, "value").as_deref(), vs, false)?,
        "firstNotEmpty" => match args {
            Some(Value::Array(items)) => get_schema_from_value(items.first(), vs, false)?,
            _ => None,
        },
        "mergeObjects" => {
            let Some(Value::Array(items)) = args else {
                return Ok(Some(json!({"type": "object"})));
            };
            let mut props = Map::new();
            for item in items {
                let schema = get_schema_from_value(Some(item), vs, false)?;
                if get(schema.as_ref(), "type").as_deref() == Some(&json!("object")) {
                    if let Some(p) = get(schema.as_ref(), "properties") {
                        crate::schema::merge::spread_into(&mut props, &p);
                    }
                }
            }
            Some(json!({"type": "object", "properties": props}))
        }
        "iterate" => {
            let source_schema = get_schema_from_value(get(args, "source").as_deref(), vs, false)?;
            let item_schema = get(source_schema.as_ref(), "items").map(Cow::into_owned);
            let mut props = Map::new();
            props.insert("parent".into(), js::into_slot(vs.cloned()));
            props.insert("item".into(), js::into_slot(item_schema));
            props.insert("index".into(), json!({"type": "number"}));
            let item_vars = json!({"type": "object", "properties": props});
            let items =
                get_schema_from_value(get(args, "item").as_deref(), Some(&item_vars), false)?;
            let mut m = Map::new();
            m.insert("type".into(), json!("array"));
            m.insert("items".into(), js::into_slot(items));
            Some(Value::Object(m))
        }
        "case" => {
            let (cases, default): (&[Value], Option<Cow<'_, Value>>) = match args {
                a if !js::truthy(a) => (&[], None),
                Some(Value::Array(items)) => (items.as_slice(), None),
                Some(Value::Object(map)) => match map.get("cases").and_then(js::slot) {
                    Some(Value::Array(items)) => (items.as_slice(), get(args, "default")),
                    _ => return Ok(None),
                },
                _ => return Ok(None),
            };
            let mut schemas = Vec::new();
            for item in cases {
                if js::is_nullish(js::slot(item)) {
                    return Err(RuntimeError::Type(
                        "Cannot read properties of null (reading 'value')".into(),
                    ));
                }
                if let Some(v) = js::get_property(item, "value") {
                    schemas.push(get_schema_from_value(Some(&v), vs, false)?);
                }
            }
            if js::truthy(default.as_deref()) {
                schemas.push(get_schema_from_value(default.as_deref(), vs, false)?);
            }
            merge_schema_values(schemas)?
        }
        "jsonata" => {
            // `getSchema` evaluates the expression with `null` variables.
            let value = if js::truthy(args) {
                let built = match super::build_value(args, Some(&Value::Null)) {
                    Ok(e) => e,
                    Err(RuntimeError::JsonataUnsupported(f)) => {
                        return Err(RuntimeError::JsonataUnsupported(f))
                    }
                    Err(_) => None,
                };
                super::evaluate_jsonata(built, Some(Value::Null))?
            } else {
                None
            };
            get_schema_from_value(value.as_ref(), None, true)?
        }
        _ => None,
    })
}
