//! Where formulas sit inside a value: `getFormulaLocators`, `getVariableLocators`, and
//! `processCopy`, which uses them to replace `$copy` placeholders in built output.

use super::get_formula;
use crate::error::{Result, RuntimeError};
use crate::js::{self, JsValue};
use crate::locator::{self, make_object_property_locator};
use serde_json::Value;
use std::borrow::Cow;

/// `getFormulaLocators(type, data)`: locators of objects whose only key is `$<type>`.
pub fn get_formula_locators(kind: &str, data: Option<&Value>) -> Vec<String> {
    let key = format!("${kind}");
    let mut out = Vec::new();
    collect_formula_locators(&key, data, "$".to_string(), &mut out);
    out
}

/// Whether `get_formula_locators("copy", data)` finds anything, without building the
/// locators (most built data has no `$copy`).
fn contains_copy(data: Option<&Value>) -> bool {
    match data.and_then(js::slot) {
        Some(Value::Object(map)) => {
            (map.len() == 1 && map.contains_key("$copy"))
                || map.values().any(|v| contains_copy(Some(v)))
        }
        Some(Value::Array(items)) => items.iter().any(|v| contains_copy(Some(v))),
        _ => false,
    }
}

fn collect_formula_locators(key: &str, data: Option<&Value>, at: String, out: &mut Vec<String>) {
    match data.and_then(js::slot) {
        Some(Value::Object(map)) => {
            if map.len() == 1 && map.contains_key(key) {
                out.push(at);
                return;
            }
            for (k, v) in map {
                collect_formula_locators(key, Some(v), make_object_property_locator(&at, k), out);
            }
        }
        Some(Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                collect_formula_locators(key, Some(v), format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// `getVariableLocators(data)`: locators of the `$var` formulas a `$formula` would
/// evaluate. `$iterate` only exposes its `source`; other formulas expose their
/// arguments.
pub fn get_variable_locators(data: Option<&Value>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    collect_variable_locators(data, "$", &mut out)?;
    Ok(out)
}

fn collect_variable_locators(data: Option<&Value>, at: &str, out: &mut Vec<String>) -> Result<()> {
    let Some(value @ (Value::Object(_) | Value::Array(_))) = data.and_then(js::slot) else {
        return Ok(());
    };
    if let Some(f) = get_formula(Some(value)) {
        let inner = match f.kind {
            "var" => vec!["$".to_string()],
            "iterate" => {
                let source = f.args.and_then(|a| js::get_property(a, "source"));
                prefixed(
                    get_variable_locators(source.as_deref())?,
                    "$.$iterate.source",
                )
            }
            kind => prefixed(get_variable_locators(f.args)?, &format!("$.${kind}")),
        };
        out.extend(inner.into_iter().map(|loc| format!("{at}{}", &loc[1..])));
        return Ok(());
    }
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_variable_locators(Some(item), &format!("{at}[{i}]"), out)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_variable_locators(Some(v), &make_object_property_locator(at, k), out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn prefixed(locators: Vec<String>, prefix: &str) -> Vec<String> {
    locators
        .into_iter()
        .map(|loc| format!("{prefix}{}", &loc[1..]))
        .collect()
}

/// `processCopy(data)`: replaces each `{"$copy": locator}` in built output with the
/// value at that locator in the same output. Copying a value that itself contains a
/// `$copy` is a configuration error.
pub fn process_copy(data: JsValue) -> Result<JsValue> {
    if !contains_copy(data.as_ref()) {
        return Ok(data);
    }
    let locators = get_formula_locators("copy", data.as_ref());
    let mut data = data;
    for loc in locators {
        let loc_value = Value::String(loc.clone());
        let current =
            locator::get_value_at_locator(data.as_ref(), Some(&loc_value))?.map(Cow::into_owned);
        let Some(f) = get_formula(current.as_ref()) else {
            return Err(RuntimeError::Type(
                "Cannot read properties of undefined (reading 'locator')".into(),
            ));
        };
        let source = match f.kind {
            "copy" | "var" => f.args.cloned(),
            _ => None,
        };
        let to_copy =
            locator::get_value_at_locator(data.as_ref(), source.as_ref())?.map(Cow::into_owned);
        if !get_formula_locators("copy", to_copy.as_ref()).is_empty() {
            return Err(RuntimeError::Configuration(format!(
                "{loc} is copying {}, which contains a copy formula",
                js::to_js_string(source.as_ref())
            )));
        }
        // Copying at the root rewrites nothing: the SDK discards the returned root.
        if loc != "$" {
            data = locator::set_value_at_locator(data, Some(&loc_value), to_copy)?;
        }
    }
    Ok(data)
}
