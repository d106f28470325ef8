//! Boolean, array, object and higher-order functions.

use super::{arity, call, hof_args};
use crate::error::JsonataError;
use crate::eval::{
    append, boolean, deep_equal, is_array_of_numbers, is_array_of_strings, js_str_cmp, lookup,
    merge_sort, truthy, Env, Evaluator, Result,
};
use crate::value::{obj_set, Array, Object, Value};

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

pub(super) fn fn_boolean(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(match boolean(arg(args, 0))? {
        Some(b) => Value::Bool(b),
        None => Value::Undefined,
    })
}

pub(super) fn not(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    Ok(Value::Bool(!truthy(a)?))
}

pub(super) fn map(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let arr = arg(args, 0);
    if arr.is_undefined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1).clone();
    let items = arr.items();
    let mut out = Vec::new();
    for (i, v) in items.iter().enumerate() {
        let a = hof_args(&f, v.clone(), Value::Number(i as f64), arr.clone());
        let res = call(ev, &f, a, env)?;
        if !res.is_undefined() {
            out.push(res);
        }
    }
    Ok(Value::seq(out))
}

pub(super) fn filter(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let arr = arg(args, 0);
    if arr.is_undefined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1).clone();
    let mut out = Vec::new();
    for (i, v) in arr.items().iter().enumerate() {
        let a = hof_args(&f, v.clone(), Value::Number(i as f64), arr.clone());
        if truthy(&call(ev, &f, a, env)?)? {
            out.push(v.clone());
        }
    }
    Ok(Value::seq(out))
}

pub(super) fn single(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let arr = arg(args, 0);
    if arr.is_undefined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1).clone();
    let mut found: Option<Value> = None;
    for (i, v) in arr.items().iter().enumerate() {
        let positive = if f.is_undefined() {
            true
        } else {
            let a = hof_args(&f, v.clone(), Value::Number(i as f64), arr.clone());
            truthy(&call(ev, &f, a, env)?)?
        };
        if positive {
            if found.is_some() {
                return Err(JsonataError::code("D3138"));
            }
            found = Some(v.clone());
        }
    }
    found.ok_or_else(|| JsonataError::code("D3139"))
}

pub(super) fn zip(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let len = args
        .iter()
        .map(|a| if a.is_array() { a.len() } else { 0 })
        .min()
        .unwrap_or(0);
    let mut out = Vec::new();
    for i in 0..len {
        out.push(Value::plain_array(
            args.iter()
                .map(|a| a.items().get(i).cloned().unwrap_or(Value::Undefined))
                .collect(),
        ));
    }
    Ok(Value::plain_array(out))
}

pub(super) fn reduce(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let seq = arg(args, 0);
    if seq.is_undefined() {
        return Ok(Value::Undefined);
    }
    let f = arg(args, 1).clone();
    let n = arity(&f);
    if n < 2 {
        return Err(JsonataError::code("D3050"));
    }
    let items = seq.items();
    let init = arg(args, 2);
    let (mut result, mut index) = if init.is_undefined() && !items.is_empty() {
        (items[0].clone(), 1)
    } else {
        (init.clone(), 0)
    };
    while index < items.len() {
        let mut a = vec![result, items[index].clone()];
        if n >= 3 {
            a.push(Value::Number(index as f64));
        }
        if n >= 4 {
            a.push(seq.clone());
        }
        result = call(ev, &f, a, env)?;
        index += 1;
    }
    Ok(result)
}

fn object_entries(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        // Object.keys of an array lists its indexes.
        Value::Array(a) => a
            .items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        Value::String(s) => s
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::string(c.to_string())))
            .collect(),
        _ => Vec::new(),
    }
}

pub(super) fn sift(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let obj = arg(args, 0);
    let f = arg(args, 1).clone();
    let mut result = Object::new();
    for (k, v) in object_entries(obj) {
        let a = hof_args(&f, v.clone(), Value::str(&k), obj.clone());
        if truthy(&call(ev, &f, a, env)?)? {
            obj_set(&mut result, &k, v);
        }
    }
    if result.is_empty() {
        return Ok(Value::Undefined);
    }
    Ok(Value::object(result))
}

fn keys_of(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => {
            let mut merged = Object::new();
            for item in &a.items {
                for k in keys_of(item) {
                    obj_set(&mut merged, &k, Value::Bool(true));
                }
            }
            merged.keys().cloned().collect()
        }
        Value::Object(o) => o.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

pub(super) fn keys(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(Value::seq(
        keys_of(arg(args, 0))
            .iter()
            .map(|k| Value::str(k))
            .collect(),
    ))
}

pub(super) fn fn_lookup(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(lookup(
        arg(args, 0),
        arg(args, 1).as_str().unwrap_or("undefined"),
    ))
}

pub(super) fn fn_append(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(append(arg(args, 0).clone(), arg(args, 1).clone()))
}

pub(super) fn exists(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(Value::Bool(!arg(args, 0).is_undefined()))
}

fn spread_value(v: &Value) -> Value {
    match v {
        Value::Array(a) => {
            let mut result = Value::empty_seq();
            for item in &a.items {
                result = append(result, spread_value(item));
            }
            result
        }
        Value::Object(o) => Value::seq(
            o.iter()
                .map(|(k, v)| {
                    let mut one = Object::new();
                    obj_set(&mut one, k, v.clone());
                    Value::object(one)
                })
                .collect(),
        ),
        v => v.clone(),
    }
}

pub(super) fn spread(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(spread_value(arg(args, 0)))
}

pub(super) fn merge(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    let mut result = Object::new();
    for item in a.items() {
        for (k, v) in object_entries(&item) {
            obj_set(&mut result, &k, v);
        }
    }
    Ok(Value::object(result))
}

pub(super) fn reverse(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    if a.len() <= 1 {
        return Ok(a.clone());
    }
    let mut items = a.items();
    items.reverse();
    Ok(Value::plain_array(items))
}

pub(super) fn each(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let obj = arg(args, 0);
    let f = arg(args, 1).clone();
    let mut out = Vec::new();
    for (k, v) in object_entries(obj) {
        let a = hof_args(&f, v, Value::str(&k), obj.clone());
        let r = call(ev, &f, a, env)?;
        if !r.is_undefined() {
            out.push(r);
        }
    }
    Ok(Value::seq(out))
}

pub(super) fn fn_type(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(match arg(args, 0) {
        Value::Undefined => Value::Undefined,
        Value::Null => Value::str("null"),
        Value::Number(n) if !n.is_nan() => {
            if n.is_infinite() {
                return Err(JsonataError::code("D1001"));
            }
            Value::str("number")
        }
        Value::String(_) => Value::str("string"),
        Value::Bool(_) => Value::str("boolean"),
        Value::Array(_) => Value::str("array"),
        Value::Function(_) => Value::str("function"),
        _ => Value::str("object"),
    })
}

pub(super) fn sort(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let arr = arg(args, 0);
    if arr.is_undefined() {
        return Ok(Value::Undefined);
    }
    if arr.len() <= 1 {
        return Ok(arr.clone());
    }
    let f = arg(args, 1).clone();
    let items = arr.items();
    let sorted = if f.is_undefined() {
        if !is_array_of_numbers(arr)? && !is_array_of_strings(arr) {
            return Err(JsonataError::code("D3070"));
        }
        merge_sort(ev, items, &mut |_, a: &Value, b: &Value| {
            Ok(match (a, b) {
                (Value::Number(x), Value::Number(y)) => x > y,
                (Value::String(x), Value::String(y)) => {
                    js_str_cmp(x, y) == std::cmp::Ordering::Greater
                }
                _ => false,
            })
        })?
    } else {
        merge_sort(
            ev,
            items,
            &mut |ev: &mut Evaluator, a: &Value, b: &Value| {
                let r = call(ev, &f, vec![a.clone(), b.clone()], env)?;
                // `if (yield* comp(...))` uses JS truthiness.
                Ok(js_truthy(&r))
            },
        )?
    };
    Ok(Value::array(Array::plain(sorted)))
}

/// JavaScript truthiness (not JSONata's): arrays and objects are always true.
fn js_truthy(v: &Value) -> bool {
    match v {
        Value::Undefined | Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => *n != 0.0 && !n.is_nan(),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

pub(super) fn shuffle(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    if a.len() <= 1 {
        return Ok(a.clone());
    }
    let mut items = a.items();
    for i in (1..items.len()).rev() {
        let j = (super::misc::random_unit() * (i + 1) as f64) as usize;
        items.swap(i, j.min(i));
    }
    Ok(Value::plain_array(items))
}

pub(super) fn distinct(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    if !a.is_array() || a.len() <= 1 {
        return Ok(a.clone());
    }
    let mut out: Vec<Value> = Vec::new();
    for v in a.items() {
        if !out.iter().any(|r| deep_equal(&v, r)) {
            out.push(v);
        }
    }
    Ok(if a.is_sequence() {
        Value::seq(out)
    } else {
        Value::plain_array(out)
    })
}
