//! Locators: the SDK's paths into data (`$.a.b[0]`, with `\` escaping `.`, `[`, `]`
//! and `\` in property names), and the four ways the SDK reads and writes through them.
//!
//! Each reader keeps its SDK quirk, because formulas and filters depend on them:
//! `get_value_by_locator` (used by `$var`) treats falsy array items as missing,
//! `get_value_at_locator` does not, and `get_filter_field_values_by_locator` fans out
//! over arrays.

use crate::error::{Result, RuntimeError};
use crate::js::{self, JsValue};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// One step of a locator.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Property(String),
    /// A JavaScript number: `[1.5]` and `[Infinity]` parse (they select nothing).
    Index(f64),
    /// A step object (from a steps array) whose `type` the SDK does not know.
    Unknown(String),
}

impl Step {
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        match self {
            Step::Property(name) => {
                map.insert("propertyName".into(), Value::String(name.clone()));
                map.insert("type".into(), Value::String("object_property".into()));
            }
            Step::Index(i) => {
                map.insert("index".into(), js::number_value(*i));
                map.insert("type".into(), Value::String("array_item".into()));
            }
            Step::Unknown(t) => {
                map.insert("type".into(), Value::String(t.clone()));
            }
        }
        Value::Object(map)
    }
}

/// `locatorToSteps`: a locator string (or an array of step objects) into steps.
pub fn locator_to_steps(locator: Option<&Value>) -> Result<Vec<Step>> {
    match locator {
        Some(Value::String(s)) => parse_locator(s),
        Some(Value::Array(items)) => Ok(items.iter().map(step_from_json).collect()),
        other => Err(RuntimeError::BadRequest(format!(
            "Unexpected locator value: {}",
            other
                .map(|v| v.to_string())
                .unwrap_or_else(|| "undefined".into())
        ))),
    }
}

fn step_from_json(item: &Value) -> Step {
    let field = |name: &str| {
        item.as_object()
            .and_then(|m| m.get(name))
            .and_then(js::slot)
    };
    match field("type").and_then(Value::as_str) {
        Some("object_property") => Step::Property(js::to_js_string(field("propertyName"))),
        Some("array_item") => Step::Index(js::to_number(field("index"))),
        other => Step::Unknown(other.unwrap_or("undefined").to_string()),
    }
}

/// Parses a locator string, with the SDK's rules: no leading `$` means `$.`.
pub fn parse_locator(source: &str) -> Result<Vec<Step>> {
    if source == "$" {
        return Ok(Vec::new());
    }
    let owned;
    let s = if source.starts_with('$') {
        source
    } else {
        owned = format!("$.{source}");
        owned.as_str()
    };
    let bytes = s.as_bytes();
    let mut steps = Vec::new();
    let mut pos = 1;
    while pos < bytes.len() {
        match bytes[pos] {
            b'.' => {
                let end = find_unescaped(bytes, pos + 1).unwrap_or(bytes.len());
                steps.push(Step::Property(unescape(&s[pos + 1..end])));
                pos = end;
            }
            b'[' => {
                let Some(close) = s[pos..].find(']').map(|i| i + pos) else {
                    return Err(RuntimeError::BadRequest(format!(
                        "Could not find a closing bracket for the bracket at position {pos}. Locator: {s}"
                    )));
                };
                let inner = &s[pos + 1..close];
                let index = js::string_to_number(inner);
                if index.is_nan() || index < 0.0 {
                    return Err(RuntimeError::BadRequest(format!(
                        "Invalid index [{inner}]. Index should be a positive number"
                    )));
                }
                steps.push(Step::Index(index));
                pos = close + 1;
            }
            _ => {
                return Err(RuntimeError::BadRequest(format!(
                    "Unexpected symbol at position {pos}. Locator: {s}"
                )))
            }
        }
    }
    Ok(steps)
}

/// The next unescaped `[` or `.` at or after `start`.
fn find_unescaped(bytes: &[u8], start: usize) -> Option<usize> {
    let mut escaped = false;
    for (i, b) in bytes.iter().enumerate().skip(start) {
        if *b == b'\\' {
            escaped = !escaped;
            continue;
        }
        if escaped {
            escaped = false;
            continue;
        }
        if *b == b'[' || *b == b'.' {
            return Some(i);
        }
    }
    None
}

/// `str.replace(/\\(.)/g, '$1')`: `.` does not match line terminators.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some(&n) if !matches!(n, '\n' | '\r' | '\u{2028}' | '\u{2029}') => {
                    out.push(n);
                    chars.next();
                }
                _ => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `makeObjectPropertyLocator`.
pub fn make_object_property_locator(object_locator: &str, property: &str) -> String {
    let mut out = String::with_capacity(object_locator.len() + property.len() + 1);
    out.push_str(object_locator);
    out.push('.');
    for c in property.chars() {
        if matches!(c, '\\' | '[' | ']' | '.') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `stepsToLocator` over parsed steps.
pub fn steps_to_locator(steps: &[Step]) -> Result<String> {
    let mut locator = String::from("$");
    for step in steps {
        match step {
            Step::Property(name) => locator = make_object_property_locator(&locator, name),
            Step::Index(i) => locator.push_str(&format!("[{}]", js::number_to_string(*i))),
            Step::Unknown(t) => {
                return Err(RuntimeError::Generic(format!(
                    "Unknown locator step type: {t}"
                )))
            }
        }
    }
    Ok(locator)
}

/// `stepsToLocator` over step objects as JSON (what the SDK accepts).
pub fn steps_json_to_locator(steps: Option<&Value>) -> Result<String> {
    let items = match steps {
        None | Some(Value::Null) => return Ok("$".into()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(RuntimeError::Type("steps.forEach is not a function".into())),
    };
    let mut locator = String::from("$");
    for item in items {
        let Some(obj) = js::slot(item).and_then(Value::as_object) else {
            if js::is_nullish(js::slot(item)) {
                return Err(RuntimeError::Type(
                    "Cannot read properties of null (reading 'type')".into(),
                ));
            }
            return Err(RuntimeError::Generic(
                "Unknown locator step type: undefined".into(),
            ));
        };
        match obj.get("type").and_then(js::slot) {
            Some(Value::String(t)) if t == "object_property" => match obj
                .get("propertyName")
                .and_then(js::slot)
            {
                Some(Value::String(name)) => locator = make_object_property_locator(&locator, name),
                _ => return Err(RuntimeError::Type("str.replace is not a function".into())),
            },
            Some(Value::String(t)) if t == "array_item" => locator.push_str(&format!(
                "[{}]",
                js::to_js_string(obj.get("index").and_then(js::slot))
            )),
            other => {
                return Err(RuntimeError::Generic(format!(
                    "Unknown locator step type: {}",
                    js::to_js_string(other)
                )))
            }
        }
    }
    Ok(locator)
}

/// `isValidLocator`: truthy and parseable.
pub fn is_valid_locator(locator: Option<&Value>) -> bool {
    js::truthy(locator) && locator_to_steps(locator).is_ok()
}

/// `getValueByLocator` (the `$var` reader). Quirk: an array item that is falsy counts
/// as missing, so `[0, 1]` at `[0]` is `undefined`.
pub fn get_value_by_locator<'a>(
    variables: Option<&'a Value>,
    locator: Option<&Value>,
) -> Option<Cow<'a, Value>> {
    if !is_valid_locator(locator) {
        return None;
    }
    let steps = locator_to_steps(locator).ok()?;
    get_value_by_steps(variables, &steps)
}

/// `getValueByLocator` with already parsed steps.
pub fn get_value_by_steps<'a>(
    variables: Option<&'a Value>,
    steps: &[Step],
) -> Option<Cow<'a, Value>> {
    let mut current: Cow<'a, Value> = Cow::Borrowed(js::slot(variables?)?);
    for step in steps {
        let next = match step {
            Step::Property(name) => match current {
                Cow::Borrowed(v @ (Value::Object(_) | Value::Array(_))) => {
                    js::get_property(v, name)
                }
                Cow::Owned(ref v @ (Value::Object(_) | Value::Array(_))) => {
                    js::get_property(v, name).map(|c| Cow::Owned(c.into_owned()))
                }
                _ => None,
            },
            Step::Index(i) => match current {
                Cow::Borrowed(v @ Value::Array(_)) => js::get_index(v, *i),
                Cow::Owned(ref v @ Value::Array(_)) => {
                    js::get_index(v, *i).map(|c| Cow::Owned(c.into_owned()))
                }
                _ => None,
            }
            .filter(|v| js::truthy(Some(v))),
            Step::Unknown(_) => None,
        };
        current = next?;
    }
    Some(current)
}

/// `getValueAtLocator`: like `get_value_by_locator` but any defined item counts.
pub fn get_value_at_locator<'a>(
    data: Option<&'a Value>,
    locator: Option<&Value>,
) -> Result<Option<Cow<'a, Value>>> {
    let Some(data) = data.and_then(js::slot) else {
        return Ok(None);
    };
    if data.is_null() || !is_valid_locator(locator) {
        return Ok(None);
    }
    let steps = locator_to_steps(locator)?;
    get_value_at_steps(data, &steps)
}

pub fn get_value_at_steps<'a>(data: &'a Value, steps: &[Step]) -> Result<Option<Cow<'a, Value>>> {
    let mut current: Cow<'a, Value> = Cow::Borrowed(data);
    for step in steps {
        let next = match step {
            Step::Property(name) => match current {
                Cow::Borrowed(v @ (Value::Object(_) | Value::Array(_))) => {
                    js::get_property(v, name)
                }
                Cow::Owned(ref v @ (Value::Object(_) | Value::Array(_))) => {
                    js::get_property(v, name).map(|c| Cow::Owned(c.into_owned()))
                }
                _ => None,
            },
            Step::Index(i) => match current {
                Cow::Borrowed(v @ Value::Array(_)) => js::get_index(v, *i),
                Cow::Owned(ref v @ Value::Array(_)) => {
                    js::get_index(v, *i).map(|c| Cow::Owned(c.into_owned()))
                }
                _ => None,
            },
            Step::Unknown(t) => {
                return Err(RuntimeError::Generic(format!(
                    "Unknown locator step type: {t}"
                )))
            }
        };
        match next {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// `getFilterFieldValuesByLocator`: every non-null value the locator reaches, fanning
/// out over arrays met by property steps.
pub fn get_filter_field_values_by_locator(
    data: Option<&Value>,
    locator: Option<&Value>,
) -> Result<Vec<Value>> {
    let steps = locator_to_steps(locator)?;
    Ok(filter_values_by_steps(data, &steps)
        .into_iter()
        .map(Cow::into_owned)
        .collect())
}

/// The filter reader over parsed steps, for callers that parse once. Values are
/// borrowed from `data` where possible.
pub fn filter_values_by_steps<'a>(data: Option<&'a Value>, steps: &[Step]) -> Vec<Cow<'a, Value>> {
    let mut out = Vec::new();
    collect_filter_values(data.and_then(js::slot).map(Cow::Borrowed), steps, &mut out);
    out
}

/// One step of a reader that borrows through containers; only values derived from
/// strings (`length`, characters) are owned.
fn step_into<'a>(current: Cow<'a, Value>, step: &Step) -> Option<Cow<'a, Value>> {
    fn read<'v>(v: &'v Value, step: &Step) -> Option<Cow<'v, Value>> {
        match step {
            Step::Index(i) => js::get_index(v, *i),
            Step::Property(name) => js::get_property(v, name),
            Step::Unknown(_) => None,
        }
    }
    match current {
        Cow::Borrowed(v) => read(v, step),
        Cow::Owned(v) => read(&v, step).map(|c| Cow::Owned(c.into_owned())),
    }
}

fn collect_filter_values<'a>(
    data: Option<Cow<'a, Value>>,
    steps: &[Step],
    out: &mut Vec<Cow<'a, Value>>,
) {
    let mut current = data;
    for (idx, step) in steps.iter().enumerate() {
        let Some(value) = current.take().filter(|v| !v.is_null()) else {
            return;
        };
        match step {
            Step::Index(_) => {
                if !value.is_array() {
                    return;
                }
                current = step_into(value, step);
            }
            Step::Property(_) => {
                if let Cow::Borrowed(Value::Array(items)) = value {
                    for item in items {
                        collect_filter_values(
                            js::slot(item).map(Cow::Borrowed),
                            &steps[idx..],
                            out,
                        );
                    }
                    return;
                }
                if let Cow::Owned(Value::Array(items)) = &value {
                    for item in items {
                        let mut owned = Vec::new();
                        collect_filter_values(
                            js::slot(item).map(Cow::Borrowed),
                            &steps[idx..],
                            &mut owned,
                        );
                        out.extend(owned.into_iter().map(|c| Cow::Owned(c.into_owned())));
                    }
                    return;
                }
                current = step_into(value, step);
            }
            Step::Unknown(_) => current = Some(value),
        }
    }
    if let Some(v) = current {
        if !v.is_null() {
            out.push(v);
        }
    }
}

/// `setValueAtLocator`: writes `value` at the locator, creating objects and arrays on
/// the way; `undefined` deletes the property or splices the array item out. Returns the
/// new root (the SDK also mutates its argument in place).
pub fn set_value_at_locator(
    obj: JsValue,
    locator: Option<&Value>,
    value: JsValue,
) -> Result<JsValue> {
    let steps = locator_to_steps(locator)?;
    if matches!(locator, Some(Value::Array(_))) && !steps.is_empty() {
        return Err(RuntimeError::Generic(
            "Unexpected locator step type in \"setValueAtLocator\"".into(),
        ));
    }
    set_value_at_steps(obj, &steps, value)
}

/// Dense arrays stand in for JavaScript's sparse ones; refuse absurd indices rather
/// than allocate them.
const MAX_DENSE_INDEX: f64 = 10_000_000.0;

pub fn set_value_at_steps(obj: JsValue, steps: &[Step], value: JsValue) -> Result<JsValue> {
    let Some((step, rest)) = steps.split_first() else {
        return Ok(value);
    };
    Ok(match step {
        Step::Index(i) => {
            let mut items = match obj {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            set_array_item(&mut items, *i, rest, value)?;
            Some(Value::Array(items))
        }
        Step::Property(name) => match obj {
            Some(Value::Array(mut items)) => {
                if let Some(i) = js::array_index(name) {
                    // A property step writes `items[i] = v` but deletes with
                    // `delete items[i]`, which leaves a hole where an index step splices.
                    let child = items.get(i).and_then(js::slot).cloned();
                    match set_value_at_steps(child, rest, value)? {
                        Some(v) => set_array_item(&mut items, i as f64, &[], Some(v))?,
                        None => {
                            if let Some(slot) = items.get_mut(i) {
                                *slot = js::undefined_marker();
                            }
                        }
                    }
                } else if name == "length" {
                    set_array_length(&mut items, rest, value)?;
                }
                // Any other property of an array is invisible in JSON.
                Some(Value::Array(items))
            }
            Some(Value::Object(mut map)) => {
                set_object_property(&mut map, name, rest, value)?;
                Some(Value::Object(map))
            }
            _ => {
                let mut map = Map::new();
                set_object_property(&mut map, name, rest, value)?;
                Some(Value::Object(map))
            }
        },
        Step::Unknown(_) => obj,
    })
}

fn set_object_property(
    map: &mut Map<String, Value>,
    name: &str,
    rest: &[Step],
    value: JsValue,
) -> Result<()> {
    let child = map.get(name).and_then(js::slot).cloned();
    match set_value_at_steps(child, rest, value)? {
        Some(v) => js::js_insert(map, name.to_string(), v),
        None => {
            map.shift_remove(name);
        }
    }
    Ok(())
}

/// `array.length = value`: truncates or extends; anything but a valid length throws, and
/// deleting `length` throws in strict mode, as in the SDK.
fn set_array_length(items: &mut Vec<Value>, rest: &[Step], value: JsValue) -> Result<()> {
    if !rest.is_empty() {
        return Err(RuntimeError::Range("Invalid array length".into()));
    }
    let Some(v) = value else {
        return Err(RuntimeError::Type(
            "Cannot delete property 'length' of [object Array]".into(),
        ));
    };
    let n = js::to_number(Some(&v));
    if !(n >= 0.0 && n.fract() == 0.0 && n < f64::from(u32::MAX)) {
        return Err(RuntimeError::Range("Invalid array length".into()));
    }
    if n > MAX_DENSE_INDEX {
        return Err(RuntimeError::Unsupported(
            "arrays longer than ten million items",
        ));
    }
    items.resize_with(n as usize, js::undefined_marker);
    Ok(())
}

fn set_array_item(items: &mut Vec<Value>, index: f64, rest: &[Step], value: JsValue) -> Result<()> {
    let whole = index.fract() == 0.0 && index.is_finite();
    let child = if whole {
        items.get(index as usize).and_then(js::slot).cloned()
    } else {
        None
    };
    match set_value_at_steps(child, rest, value)? {
        Some(v) => {
            if whole {
                if index > MAX_DENSE_INDEX {
                    return Err(RuntimeError::Unsupported("array indices above ten million"));
                }
                let i = index as usize;
                if i >= items.len() {
                    items.resize_with(i + 1, js::undefined_marker);
                }
                items[i] = v;
            }
        }
        None => {
            // `splice(index, 1)` truncates the index toward zero.
            let i = index.trunc();
            if i.is_finite() && (i as usize) < items.len() {
                items.remove(i as usize);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaped_names_round_trip() {
        let steps = parse_locator(r"$.a\.b[2].c\[x\]").unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Property("a.b".into()),
                Step::Index(2.0),
                Step::Property("c[x]".into())
            ]
        );
        assert_eq!(steps_to_locator(&steps).unwrap(), r"$.a\.b[2].c\[x\]");
    }

    #[test]
    fn falsy_array_items_are_missing_for_var() {
        let data = json!({"a": [0, 1]});
        assert!(get_value_by_locator(Some(&data), Some(&json!("a[0]"))).is_none());
        assert_eq!(
            get_value_at_locator(Some(&data), Some(&json!("a[0]")))
                .unwrap()
                .as_deref(),
            Some(&json!(0))
        );
    }

    #[test]
    fn filter_values_fan_out() {
        let data = json!({"a": [{"b": [{"c": 1}, {"c": 2}]}, {"b": {"c": 3}}]});
        assert_eq!(
            get_filter_field_values_by_locator(Some(&data), Some(&json!("a.b.c"))).unwrap(),
            vec![json!(1), json!(2), json!(3)]
        );
    }

    #[test]
    fn set_creates_and_deletes() {
        let out = set_value_at_locator(None, Some(&json!("a[1].b")), Some(json!(5))).unwrap();
        assert_eq!(out, Some(json!({"a": [{"$undefined": true}, {"b": 5}]})));
        let out = set_value_at_locator(out, Some(&json!("a[0]")), None).unwrap();
        assert_eq!(out, Some(json!({"a": [{"b": 5}]})));
        // `delete` through a property step leaves a hole instead.
        let out = set_value_at_locator(Some(json!([1, 2])), Some(&json!("0")), None).unwrap();
        assert_eq!(out, Some(json!([{"$undefined": true}, 2])));
    }
}
