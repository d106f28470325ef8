//! JavaScript value semantics the SDK relies on implicitly: truthiness, `String()`,
//! `Number()`, `parseFloat`, `==` and `===`, property access on primitives, the
//! engine's number formatting and its object key order.
//!
//! The SDK is plain JavaScript, so its observable behaviour is these coercions applied
//! to JSON values. Keeping them in one place means every formula and operator coerces
//! the same way the SDK does. This module owns no Membrane concept.

use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// A JavaScript value as it appears in the SDK's data: `None` is `undefined`.
pub type JsValue = Option<Value>;

/// Key of the object that stands for `undefined` where JSON cannot hold it (inside
/// arrays and objects). It is the same marker the SDK oracle writes, so the runtime's
/// output and the oracle's output can be compared as plain JSON.
pub const UNDEFINED_KEY: &str = "$undefined";

/// The stand-in for an `undefined` slot nested inside an array or object.
pub fn undefined_marker() -> Value {
    let mut map = Map::new();
    map.insert(UNDEFINED_KEY.to_string(), Value::Bool(true));
    Value::Object(map)
}

/// Whether `value` is the nested-`undefined` stand-in.
#[inline]
pub fn is_undefined_marker(value: &Value) -> bool {
    // The only key of a one-key map is its first: no need to hash it.
    matches!(value, Value::Object(map) if map.len() == 1
        && map.iter().next().is_some_and(|(k, v)| k == UNDEFINED_KEY && *v == Value::Bool(true)))
}

/// Turns a nested slot back into a `JsValue`, reading the marker as `undefined`.
pub fn slot(value: &Value) -> Option<&Value> {
    if is_undefined_marker(value) {
        None
    } else {
        Some(value)
    }
}

/// Puts a `JsValue` into a nested slot, writing `undefined` as the marker.
pub fn into_slot(value: JsValue) -> Value {
    value.unwrap_or_else(undefined_marker)
}

/// Removes nested `undefined` markers the way `JSON.stringify` drops `undefined`
/// properties (array slots become `null`); use before sending a value over the wire.
pub fn strip_undefined(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| {
                    if is_undefined_marker(&item) {
                        Value::Null
                    } else {
                        strip_undefined(item)
                    }
                })
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !is_undefined_marker(v))
                .map(|(k, v)| (k, strip_undefined(v)))
                .collect(),
        ),
        other => other,
    }
}

/// `!!value`.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => {
            let f = num(n);
            f != 0.0 && !f.is_nan()
        }
        Some(Value::String(s)) => !s.is_empty(),
        Some(v) => !is_undefined_marker(v),
    }
}

/// `value === null || value === undefined`.
pub fn is_nullish(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null)) || value.is_some_and(is_undefined_marker)
}

pub fn num(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// A JS number as JSON: whole numbers in the safe range become integers so the output
/// prints like `JSON.stringify`; NaN and infinities become `null`, as JSON has no such
/// numbers.
pub fn number_value(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// `Number.prototype.toString()` for radix 10.
pub fn number_to_string(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f == 0.0 {
        return "0".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let sign = if f < 0.0 { "-" } else { "" };
    let exp_form = format!("{:e}", f.abs());
    let (mantissa, exp) = exp_form.split_once('e').unwrap_or((&exp_form, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let esign = if e < 0 { "-" } else { "+" };
        if k == 1 {
            format!("{digits}e{esign}{}", e.abs())
        } else {
            format!("{}.{}e{esign}{}", &digits[..1], &digits[1..], e.abs())
        }
    };
    format!("{sign}{body}")
}

/// `String(value)`.
pub fn to_js_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(v) => value_to_string(v),
    }
}

/// `String(value)`, borrowing when the value is already a string.
pub fn to_js_str(value: Option<&Value>) -> Cow<'_, str> {
    match value {
        Some(Value::String(s)) => Cow::Borrowed(s),
        other => Cow::Owned(to_js_string(other)),
    }
}

fn value_to_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_to_string(num(n)),
        Value::String(s) => s.clone(),
        Value::Array(items) => join_array(items, ","),
        Value::Object(_) if is_undefined_marker(v) => "undefined".into(),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// `Array.prototype.join`: `null` and `undefined` items become empty strings.
pub fn join_array(items: &[Value], sep: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        if !is_nullish(Some(item)) {
            out.push_str(&value_to_string(item));
        }
    }
    out
}

/// JavaScript's `WhiteSpace` and `LineTerminator` characters, as `String.prototype.trim`
/// and number parsing skip them.
pub fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{9}' | '\u{A}' | '\u{B}' | '\u{C}' | '\u{D}' | ' ' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202F}'
                | '\u{205F}'
                | '\u{3000}'
                | '\u{FEFF}'
    )
}

pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_whitespace)
}

/// `Number(value)`.
pub fn to_number(value: Option<&Value>) -> f64 {
    match value {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => num(n),
        Some(Value::String(s)) => string_to_number(s),
        Some(v) if is_undefined_marker(v) => f64::NAN,
        Some(v) => string_to_number(&value_to_string(v)),
    }
}

/// `StringToNumber`: the whole trimmed string must be a numeric literal.
pub fn string_to_number(s: &str) -> f64 {
    let t = js_trim(s);
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            return rest.chars().fold(0.0, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
            });
        }
    }
    match decimal_prefix_len(t) {
        Some(len) if len == t.len() => parse_decimal(t),
        _ => f64::NAN,
    }
}

/// `parseFloat(String(value))`.
pub fn parse_float(value: Option<&Value>) -> f64 {
    if let Some(Value::Number(n)) = value {
        return num(n);
    }
    let s = to_js_str(value);
    let t = s.trim_start_matches(is_js_whitespace);
    match decimal_prefix_len(t) {
        Some(len) => parse_decimal(&t[..len]),
        None => f64::NAN,
    }
}

fn parse_decimal(s: &str) -> f64 {
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    if body == "Infinity" {
        return sign * f64::INFINITY;
    }
    sign * body.parse::<f64>().unwrap_or(f64::NAN)
}

/// Length of the longest prefix of `s` that is a `StrDecimalLiteral`, if any.
fn decimal_prefix_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if s[i..].starts_with("Infinity") {
        return Some(i + "Infinity".len());
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - int_start;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        frac_digits = j - i - 1;
        if int_digits > 0 || frac_digits > 0 {
            i = j;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    Some(i)
}

/// `a == b` (Abstract Equality). Distinct objects are never equal: values reaching the
/// SDK's comparisons are separate objects, compared by reference in JavaScript.
pub fn loose_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.and_then(slot);
    let b = b.and_then(slot);
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => true,
        (None | Some(Value::Null), _) | (_, None | Some(Value::Null)) => false,
        (Some(x), Some(y)) => loose_eq_present(x, y),
    }
}

fn loose_eq_present(x: &Value, y: &Value) -> bool {
    use Value::*;
    match (x, y) {
        (Number(p), Number(q)) => num(p) == num(q),
        (String(p), String(q)) => p == q,
        (Bool(p), Bool(q)) => p == q,
        (Array(_) | Object(_), Array(_) | Object(_)) => false,
        (Bool(p), _) => loose_eq_present(&Value::from(u8::from(*p)), y),
        (_, Bool(q)) => loose_eq_present(x, &Value::from(u8::from(*q))),
        (Number(p), String(q)) | (String(q), Number(p)) => num(p) == string_to_number(q),
        (Array(_) | Object(_), _) => loose_eq_present(&Value::String(value_to_string(x)), y),
        (_, Array(_) | Object(_)) => loose_eq_present(x, &Value::String(value_to_string(y))),
        _ => false,
    }
}

/// `a === b` (and `includes`' SameValueZero, which differs only for NaN, which JSON
/// cannot carry). Objects are never identical for the same reason as in `loose_eq`.
pub fn strict_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.and_then(slot);
    let b = b.and_then(slot);
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::Bool(p)), Some(Value::Bool(q))) => p == q,
        (Some(Value::Number(p)), Some(Value::Number(q))) => num(p) == num(q),
        (Some(Value::String(p)), Some(Value::String(q))) => p == q,
        _ => false,
    }
}

/// `fast-deep-equal`, as used by `$map`.
pub fn deep_equal(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.and_then(slot);
    let b = b.and_then(slot);
    match (a, b) {
        (Some(Value::Array(p)), Some(Value::Array(q))) => {
            p.len() == q.len() && p.iter().zip(q).all(|(x, y)| deep_equal(Some(x), Some(y)))
        }
        (Some(Value::Object(p)), Some(Value::Object(q))) => {
            p.len() == q.len()
                && p.iter()
                    .all(|(k, v)| q.get(k).is_some_and(|w| deep_equal(Some(v), Some(w))))
        }
        _ => strict_eq(a, b),
    }
}

/// Whether `key` is an array index in JavaScript's sense ("0", "17", never "01").
pub fn array_index(key: &str) -> Option<usize> {
    if key.is_empty()
        || (key.len() > 1 && key.starts_with('0'))
        || !key.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    key.parse::<u64>()
        .ok()
        .filter(|n| *n < u64::from(u32::MAX))
        .map(|n| n as usize)
}

/// `value[name]` for JSON values. Own properties of objects, `length` and indices of
/// arrays and strings. Inherited members (`constructor`, `toString`, array methods)
/// are functions in JavaScript and have no JSON form, so they read as absent here.
pub fn get_property<'a>(value: &'a Value, name: &str) -> Option<Cow<'a, Value>> {
    match value {
        Value::Object(map) => object_get(map, name).and_then(slot).map(Cow::Borrowed),
        Value::Array(items) => {
            if name == "length" {
                Some(Cow::Owned(Value::from(items.len())))
            } else {
                array_index(name)
                    .and_then(|i| items.get(i))
                    .and_then(slot)
                    .map(Cow::Borrowed)
            }
        }
        Value::String(s) => {
            if name == "length" {
                Some(Cow::Owned(Value::from(s.encode_utf16().count())))
            } else {
                array_index(name)
                    .and_then(|i| utf16_char_at(s, i))
                    .map(|c| Cow::Owned(Value::String(c)))
            }
        }
        _ => None,
    }
}

/// Looks a key up in a JSON object. Records are small, and for small maps comparing
/// keys in order beats hashing them (the filter benchmark spends most of its time here).
#[inline]
pub fn object_get<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if map.len() <= 16 {
        map.iter()
            .find(|(k, _)| k.len() == name.len() && k.as_str() == name)
            .map(|(_, v)| v)
    } else {
        map.get(name)
    }
}

/// `value[index]` with a numeric index as produced by locator parsing (`[1.5]` and
/// `[Infinity]` parse but select nothing).
pub fn get_index(value: &Value, index: f64) -> Option<Cow<'_, Value>> {
    if !(index >= 0.0 && index.fract() == 0.0 && index < f64::from(u32::MAX)) {
        return None;
    }
    let i = index as usize;
    match value {
        Value::Array(items) => items.get(i).and_then(slot).map(Cow::Borrowed),
        Value::Object(map) => map.get(&i.to_string()).and_then(slot).map(Cow::Borrowed),
        Value::String(s) => utf16_char_at(s, i).map(|c| Cow::Owned(Value::String(c))),
        _ => None,
    }
}

fn utf16_char_at(s: &str, i: usize) -> Option<String> {
    let unit = s.encode_utf16().nth(i)?;
    Some(String::from_utf16_lossy(&[unit]))
}

/// Reorders object keys the way a JavaScript engine enumerates them: array-index keys
/// first in ascending order, then the rest in insertion order. Applied to input so that
/// "first key" and key-order-dependent results agree with the SDK.
pub fn js_key_order(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(js_key_order).collect()),
        Value::Object(map) => {
            let needs_sort = map.keys().any(|k| array_index(k).is_some());
            let mut entries: Vec<(String, Value)> =
                map.into_iter().map(|(k, v)| (k, js_key_order(v))).collect();
            if needs_sort {
                let (mut idx, rest): (Vec<_>, Vec<_>) = entries
                    .into_iter()
                    .partition(|(k, _)| array_index(k).is_some());
                idx.sort_by_key(|(k, _)| array_index(k));
                idx.extend(rest);
                entries = idx;
            }
            Value::Object(entries.into_iter().collect())
        }
        Value::Number(n) => number_value(num(&n)),
        other => other,
    }
}

/// Inserts `key` into `map` at the position a JavaScript engine would enumerate it.
pub fn js_insert(map: &mut Map<String, Value>, key: String, value: Value) {
    if let Some(slot) = map.get_mut(&key) {
        *slot = value;
        return;
    }
    match array_index(&key) {
        Some(i) if map.keys().any(|k| array_index(k).is_none_or(|j| j > i)) => {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            let mut inserted = false;
            for (k, v) in entries {
                if !inserted && array_index(&k).is_none_or(|j| j > i) {
                    map.insert(key.clone(), value.clone());
                    inserted = true;
                }
                map.insert(k, v);
            }
        }
        _ => {
            map.insert(key, value);
        }
    }
}

/// `Object.keys(value)` for any value (strings enumerate their indices).
pub fn object_keys(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Object(map)) if !is_undefined_marker(value.unwrap_or(&Value::Null)) => {
            map.keys().cloned().collect()
        }
        Some(Value::Array(items)) => (0..items.len()).map(|i| i.to_string()).collect(),
        Some(Value::String(s)) => (0..s.encode_utf16().count())
            .map(|i| i.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

pub fn is_object(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Object(_))) && !value.is_some_and(is_undefined_marker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_like_javascript() {
        for (f, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (-2.5e-10, "-2.5e-10"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(number_to_string(f), s);
        }
    }

    #[test]
    fn coercions_follow_javascript() {
        assert!(loose_eq(Some(&json!("5")), Some(&json!(5))));
        assert!(loose_eq(Some(&json!([1, 2])), Some(&json!("1,2"))));
        assert!(loose_eq(Some(&json!(false)), Some(&json!("0"))));
        assert!(!loose_eq(Some(&json!(null)), Some(&json!(0))));
        assert!(loose_eq(None, Some(&json!(null))));
        assert_eq!(parse_float(Some(&json!(" 12.5abc"))), 12.5);
        assert!(parse_float(Some(&json!("abc"))).is_nan());
        assert_eq!(string_to_number("0x1F"), 31.0);
        assert!(string_to_number("1e").is_nan());
        assert_eq!(string_to_number(" \n"), 0.0);
    }

    #[test]
    fn key_order_puts_indices_first() {
        let v = js_key_order(json!({"b": 1, "2": 2, "a": 3, "1": 4}));
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["1", "2", "b", "a"]);
    }
}
