//! Numeric and aggregation functions.

use crate::error::JsonataError;
use crate::eval::{Env, Evaluator, Result};
use crate::number::{js_to_string, to_radix};
use crate::value::Value;

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

fn numbers(v: &Value) -> Result<Vec<f64>> {
    v.items()
        .iter()
        .map(|i| i.as_number().ok_or_else(|| JsonataError::code("T0412")))
        .collect()
}

pub(super) fn sum(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    Ok(Value::Number(numbers(a)?.iter().fold(0.0, |t, n| t + n)))
}

pub(super) fn count(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Number(0.0));
    }
    Ok(Value::Number(a.items().len() as f64))
}

fn js_max(ns: &[f64], is_max: bool) -> f64 {
    let mut r = if is_max {
        f64::NEG_INFINITY
    } else {
        f64::INFINITY
    };
    for &n in ns {
        if n.is_nan() {
            return f64::NAN;
        }
        if (is_max && n > r) || (!is_max && n < r) {
            r = n;
        }
    }
    r
}

/// The numbers of an aggregation's argument; `None` (undefined result) when
/// it is undefined or empty.
fn non_empty_numbers(args: &[Value]) -> Result<Option<Vec<f64>>> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(None);
    }
    let ns = numbers(a)?;
    Ok(if ns.is_empty() { None } else { Some(ns) })
}

pub(super) fn max(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(ns) = non_empty_numbers(args)? else {
        return Ok(Value::Undefined);
    };
    Ok(Value::Number(js_max(&ns, true)))
}

pub(super) fn min(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(ns) = non_empty_numbers(args)? else {
        return Ok(Value::Undefined);
    };
    Ok(Value::Number(js_max(&ns, false)))
}

pub(super) fn average(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(ns) = non_empty_numbers(args)? else {
        return Ok(Value::Undefined);
    };
    let total = ns.iter().fold(0.0, |t, n| t + n);
    Ok(Value::Number(total / ns.len() as f64))
}

/// JavaScript `Math.round`: halves round towards +∞.
fn math_round(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let f = x.floor();
    let r = if x - f >= 0.5 { f + 1.0 } else { f };
    if r == 0.0 && x < 0.0 {
        -0.0
    } else {
        r
    }
}

/// Shifts the decimal point by rewriting the exponent of the JS string form,
/// exactly as jsonata does to avoid binary scaling errors.
fn shift(n: f64, by: f64) -> f64 {
    let s = js_to_string(n);
    let (mant, exp) = match s.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<f64>().unwrap_or(0.0)),
        None => (s, 0.0),
    };
    let e = exp + by;
    if e.fract() != 0.0 || !e.is_finite() {
        return f64::NAN;
    }
    format!("{mant}e{}", e as i64).parse().unwrap_or(f64::NAN)
}

/// jsonata's `round` (round half to even, with an optional precision).
pub(super) fn round(value: f64, precision: Option<f64>) -> f64 {
    let precision = precision.filter(|p| *p != 0.0 && !p.is_nan());
    let mut a = value;
    if let Some(p) = precision {
        a = shift(a, p);
    }
    let mut result = math_round(a);
    let diff = result - a;
    if diff.abs() == 0.5 && (result % 2.0).abs() == 1.0 {
        result -= 1.0;
    }
    if let Some(p) = precision {
        result = shift(result, -p);
    }
    if result == 0.0 {
        result = 0.0;
    }
    result
}

pub(super) fn fn_round(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(n) = arg(args, 0).as_number() else {
        return Ok(Value::Undefined);
    };
    Ok(Value::Number(round(n, arg(args, 1).as_number())))
}

fn unary(args: &[Value], f: fn(f64) -> f64) -> Result<Value> {
    match arg(args, 0) {
        Value::Undefined => Ok(Value::Undefined),
        Value::Number(n) => Ok(Value::Number(f(*n))),
        _ => Err(JsonataError::code("T0410")),
    }
}

pub(super) fn abs(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    unary(args, f64::abs)
}

pub(super) fn floor(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    unary(args, f64::floor)
}

pub(super) fn ceil(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    unary(args, f64::ceil)
}

pub(super) fn sqrt(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    match arg(args, 0) {
        Value::Number(n) if *n < 0.0 => Err(JsonataError::code("D3060")),
        _ => unary(args, f64::sqrt),
    }
}

/// JavaScript `Math.pow`, which differs from IEEE `pow` for a NaN exponent
/// and for a base of ±1 with an infinite exponent (both NaN in JS).
fn js_pow(b: f64, e: f64) -> f64 {
    if e.is_nan() || (b.abs() == 1.0 && e.is_infinite()) {
        return f64::NAN;
    }
    b.powf(e)
}

pub(super) fn power(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(b) = arg(args, 0).as_number() else {
        return Ok(Value::Undefined);
    };
    let e = arg(args, 1).as_number().unwrap_or(f64::NAN);
    let r = js_pow(b, e);
    if !r.is_finite() {
        return Err(JsonataError::code("D3061"));
    }
    Ok(Value::Number(r))
}

pub(super) fn random(_: &mut Evaluator, _: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(Value::Number(super::misc::random_unit()))
}

pub(super) fn number(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    match arg(args, 0) {
        Value::Undefined => Ok(Value::Undefined),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::Bool(b) => Ok(Value::Number(if *b { 1.0 } else { 0.0 })),
        Value::String(s) if is_number_literal(s) => match s.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Value::Number(n)),
            _ => Err(JsonataError::code("D3030")),
        },
        _ => Err(JsonataError::code("D3030")),
    }
}

/// `/^-?[0-9]+(\.[0-9]+)?([Ee][-+]?[0-9]+)?$/`
fn is_number_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let fs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == fs {
            return false;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let es = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == es {
            return false;
        }
    }
    i == b.len()
}

pub(super) fn format_base(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(v) = arg(args, 0).as_number() else {
        return Ok(Value::Undefined);
    };
    let v = round(v, None);
    let radix = match arg(args, 1).as_number() {
        None => 10.0,
        Some(r) => round(r, None),
    };
    if !(2.0..=36.0).contains(&radix) {
        return Err(JsonataError::code("D3100"));
    }
    Ok(Value::string(to_radix(v, radix as u32)))
}
