//! The evaluator's value model: JSON values plus JSONata's `undefined`, sequence
//! flags on arrays, and function values (lambdas, built-ins, regexes).
//!
//! jsonata.js keeps extra properties on JS arrays (`sequence`, `keepSingleton`,
//! `outerWrapper`, `tupleStream`, `cons`) that change how later steps treat them;
//! [`Array`] carries the same flags. Objects keep JavaScript's property order:
//! array-index keys ascending first, then other keys in insertion order.

use std::rc::Rc;

use indexmap::IndexMap;

use crate::functions::Function;

pub(crate) type Object = IndexMap<String, Value>;

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(Rc<str>),
    Array(Rc<Array>),
    Object(Rc<Object>),
    Function(Rc<Function>),
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Array {
    pub items: Vec<Value>,
    pub sequence: bool,
    pub keep_singleton: bool,
    pub outer_wrapper: bool,
    pub tuple_stream: bool,
    pub cons: bool,
}

impl Array {
    pub fn plain(items: Vec<Value>) -> Self {
        Array {
            items,
            ..Default::default()
        }
    }

    pub fn sequence(items: Vec<Value>) -> Self {
        Array {
            items,
            sequence: true,
            ..Default::default()
        }
    }
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::String(Rc::from(s))
    }

    pub fn string(s: String) -> Value {
        Value::String(Rc::from(s))
    }

    pub fn array(a: Array) -> Value {
        Value::Array(Rc::new(a))
    }

    /// An empty JSONata sequence (`createSequence()`).
    pub fn empty_seq() -> Value {
        Value::array(Array::sequence(Vec::new()))
    }

    pub fn seq(items: Vec<Value>) -> Value {
        Value::array(Array::sequence(items))
    }

    pub fn plain_array(items: Vec<Value>) -> Value {
        Value::array(Array::plain(items))
    }

    pub fn object(o: Object) -> Value {
        Value::Object(Rc::new(o))
    }

    pub fn is_undefined(&self) -> bool {
        matches!(self, Value::Undefined)
    }

    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }

    pub fn is_function(&self) -> bool {
        matches!(self, Value::Function(_))
    }

    pub fn is_sequence(&self) -> bool {
        matches!(self, Value::Array(a) if a.sequence)
    }

    pub fn is_tuple_stream(&self) -> bool {
        matches!(self, Value::Array(a) if a.tuple_stream)
    }

    /// `typeof v === 'number'` (NaN included, unlike [`Value::is_numeric`]).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Items of an array, or the value itself as a one-item slice view.
    pub fn items(&self) -> Vec<Value> {
        match self {
            Value::Array(a) => a.items.clone(),
            Value::Undefined => Vec::new(),
            v => vec![v.clone()],
        }
    }

    /// Mutable access to the array, cloning it first if it is shared.
    pub fn array_mut(&mut self) -> Option<&mut Array> {
        match self {
            Value::Array(a) => Some(Rc::make_mut(a)),
            _ => None,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Value::Array(a) => a.items.len(),
            _ => 0,
        }
    }
}

/// Whether `key` is a canonical array index, which JS objects order first.
fn is_index_key(key: &str) -> bool {
    if key.is_empty() || key.len() > 10 {
        return false;
    }
    if key != "0" && key.starts_with('0') {
        return false;
    }
    match key.parse::<u64>() {
        Ok(n) => n < 4_294_967_295 && key.bytes().all(|b| b.is_ascii_digit()),
        Err(_) => false,
    }
}

/// Sets `obj[key] = value` with JavaScript's property order.
pub(crate) fn obj_set(obj: &mut Object, key: &str, value: Value) {
    if let Some(slot) = obj.get_mut(key) {
        *slot = value;
        return;
    }
    if is_index_key(key) {
        let n: u64 = key.parse().unwrap_or(0);
        let pos = obj
            .keys()
            .position(|k| !is_index_key(k) || k.parse::<u64>().unwrap_or(0) > n)
            .unwrap_or(obj.len());
        obj.shift_insert(pos, key.to_string(), value);
    } else {
        obj.insert(key.to_string(), value);
    }
}

/// Builds a value from JSON input, applying JS property order to objects.
pub(crate) fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(a) => Value::plain_array(a.iter().map(from_json).collect()),
        serde_json::Value::Object(o) => {
            let mut obj = Object::with_capacity(o.len());
            for (k, v) in o {
                obj_set(&mut obj, k, from_json(v));
            }
            Value::object(obj)
        }
    }
}

/// Converts a result to JSON the way `JSON.stringify` would serialise it:
/// `undefined` and functions are dropped from objects and become `null` in arrays,
/// non-finite numbers become `null`, and whole numbers print without a fraction.
pub(crate) fn to_json(v: &Value) -> Option<serde_json::Value> {
    match v {
        Value::Undefined | Value::Function(_) => None,
        Value::Null => Some(serde_json::Value::Null),
        Value::Bool(b) => Some(serde_json::Value::Bool(*b)),
        Value::Number(n) => Some(number_to_json(*n)),
        Value::String(s) => Some(serde_json::Value::String(s.to_string())),
        Value::Array(a) => Some(serde_json::Value::Array(
            a.items
                .iter()
                .map(|i| to_json(i).unwrap_or(serde_json::Value::Null))
                .collect(),
        )),
        Value::Object(o) => {
            let mut map = serde_json::Map::with_capacity(o.len());
            for (k, v) in o.iter() {
                if let Some(j) = to_json(v) {
                    map.insert(k.clone(), j);
                }
            }
            Some(serde_json::Value::Object(map))
        }
    }
}

/// JS doubles as JSON numbers: integral values within ±2^63 become integers so
/// they print as `3`, not `3.0`; `-0` becomes `0`; NaN and ±Infinity become `null`.
pub(crate) fn number_to_json(n: f64) -> serde_json::Value {
    if !n.is_finite() {
        return serde_json::Value::Null;
    }
    if n == n.trunc() && n.abs() < 9.2e18 {
        return serde_json::Value::Number(serde_json::Number::from(n as i64));
    }
    serde_json::Number::from_f64(n)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}
