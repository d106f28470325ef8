//! Required fields of a schema as dotted paths, and which of them a value is missing.

use crate::error::{Result, RuntimeError};
use crate::js;
use crate::locator;
use crate::schema::predicates::prop;
use serde_json::Value;
use std::collections::HashMap;

/// `getRequiredFieldsFromSchema`: `required` of the object, then each property's
/// required fields prefixed with `key.`.
pub fn get_required_fields_from_schema(schema: Option<&Value>) -> Result<Vec<Value>> {
    let schema = schema.and_then(js::slot);
    if !js::truthy(schema) {
        return Ok(Vec::new());
    }
    if prop(schema, "type").as_deref() != Some(&Value::String("object".into())) {
        return Ok(Vec::new());
    }
    let mut out: Vec<Value> = match prop(schema, "required").as_deref() {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| js::slot(v).cloned().unwrap_or(Value::Null))
            .collect(),
        Some(Value::String(s)) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Some(_) => return Err(RuntimeError::Type("schema.required is not iterable".into())),
    };
    if let Some(props) = prop(schema, "properties").as_deref() {
        for (key, prop_schema) in super::merge::entries(props) {
            for field in get_required_fields_from_schema(Some(&prop_schema))? {
                out.push(Value::String(format!(
                    "{key}.{}",
                    js::to_js_string(Some(&field))
                )));
            }
        }
    }
    Ok(out)
}

/// `getMissingRequiredFields(schema, value)`: required paths whose value is
/// `undefined`, except below an optional parent that is itself `undefined`.
pub fn get_missing_required_fields(
    schema: Option<&Value>,
    value: Option<&Value>,
) -> Result<Vec<Value>> {
    if !js::truthy(schema.and_then(js::slot)) {
        return Ok(Vec::new());
    }
    let required = get_required_fields_from_schema(schema)?;
    let required_set: Vec<&Value> = required.iter().collect();
    let mut cache: HashMap<String, bool> = HashMap::new();
    let mut missing = Vec::new();
    for field in &required {
        if locator::get_value_by_locator(value, Some(field)).is_some() {
            continue;
        }
        let Value::String(path) = field else {
            return Err(RuntimeError::Type("path.includes is not a function".into()));
        };
        if is_path_excused(path, value, &required_set, &mut cache) {
            continue;
        }
        missing.push(field.clone());
    }
    Ok(missing)
}

fn is_path_excused(
    path: &str,
    value: Option<&Value>,
    required: &[&Value],
    cache: &mut HashMap<String, bool>,
) -> bool {
    if let Some(hit) = cache.get(path) {
        return *hit;
    }
    let Some(dot) = path.rfind('.') else {
        cache.insert(path.to_string(), false);
        return false;
    };
    let parent = &path[..dot];
    let parent_optional = !required.iter().any(|r| r.as_str() == Some(parent));
    let parent_undefined =
        locator::get_value_by_locator(value, Some(&Value::String(parent.to_string()))).is_none();
    let result =
        (parent_optional && parent_undefined) || is_path_excused(parent, value, required, cache);
    cache.insert(path.to_string(), result);
    result
}
