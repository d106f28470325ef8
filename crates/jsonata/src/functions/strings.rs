//! String functions: `$string`, `$substring*`, case, `$length`, `$trim`, `$pad`,
//! `$contains`, `$split`, `$join`, `$match`, `$replace`.

use std::sync::Arc;

use super::{call, groups_value, number_string, Function};
use crate::error::JsonataError;
use crate::eval::{is_numeric, Env, Evaluator, Result};
use crate::regex::{utf16_index, RegexDef};
use crate::value::{Object, Value};

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

fn str_arg(args: &[Value], i: usize) -> Result<Option<&str>> {
    match arg(args, i) {
        Value::Undefined => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(JsonataError::eval("TypeError", "expected a string")),
    }
}

fn num_arg(args: &[Value], i: usize) -> Option<f64> {
    arg(args, i).as_number()
}

fn escape_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `JSON.stringify(v, replacer, indent)` with jsonata's replacer: numbers to 15
/// significant digits, functions as `""`. Returns `None` for an omitted value.
fn stringify(v: &Value, indent: usize, level: usize, out: &mut String) -> Result<bool> {
    match v {
        Value::Undefined => return Ok(false),
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if is_numeric(v)? {
                out.push_str(&number_string(*n));
            } else {
                out.push_str("null");
            }
        }
        Value::String(s) => escape_json_string(s, out),
        Value::Function(_) => out.push_str("\"\""),
        Value::Array(a) => {
            if a.items.is_empty() {
                out.push_str("[]");
                return Ok(true);
            }
            out.push('[');
            for (i, item) in a.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(indent, level + 1, out);
                let mut s = String::new();
                if stringify(item, indent, level + 1, &mut s)? {
                    out.push_str(&s);
                } else {
                    out.push_str("null");
                }
            }
            newline(indent, level, out);
            out.push(']');
        }
        Value::Object(o) => {
            let mut first = true;
            let mut body = String::new();
            for (k, val) in o.iter() {
                let mut s = String::new();
                if !stringify(val, indent, level + 1, &mut s)? {
                    continue;
                }
                if !first {
                    body.push(',');
                }
                first = false;
                newline(indent, level + 1, &mut body);
                escape_json_string(k, &mut body);
                body.push(':');
                if indent > 0 {
                    body.push(' ');
                }
                body.push_str(&s);
            }
            if first {
                out.push_str("{}");
            } else {
                out.push('{');
                out.push_str(&body);
                newline(indent, level, out);
                out.push('}');
            }
        }
    }
    Ok(true)
}

fn newline(indent: usize, level: usize, out: &mut String) {
    if indent > 0 {
        out.push('\n');
        for _ in 0..indent * level {
            out.push(' ');
        }
    }
}

/// `fn.string` for a defined value.
pub(crate) fn string(v: &Value, prettify: bool) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.to_string()),
        Value::Function(_) => Ok(String::new()),
        Value::Number(n) if !n.is_finite() => Err(JsonataError::code("D3001")),
        _ => {
            let v = match v {
                Value::Array(a) if a.outer_wrapper => {
                    a.items.first().cloned().unwrap_or(Value::Undefined)
                }
                v => v.clone(),
            };
            let mut out = String::new();
            stringify(&v, if prettify { 2 } else { 0 }, 0, &mut out)?;
            Ok(out)
        }
    }
}

pub(super) fn fn_string(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let v = arg(args, 0);
    if v.is_undefined() {
        return Ok(Value::Undefined);
    }
    let pretty = matches!(arg(args, 1), Value::Bool(true));
    Ok(Value::string(string(v, pretty)?))
}

/// Unicode code points of a string (`stringToArray`).
fn code_points(s: &str) -> Vec<char> {
    s.chars().collect()
}

pub(super) fn substring(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let chars = code_points(s);
    let len = chars.len() as f64;
    let mut start = num_arg(args, 1).unwrap_or(f64::NAN);
    if len + start < 0.0 {
        start = 0.0;
    }
    // Array.prototype.slice semantics on (possibly fractional) indexes.
    let slice = |from: f64, to: f64| -> String {
        let norm = |x: f64| -> usize {
            let x = if x.is_nan() { 0.0 } else { x.trunc() };
            if x < 0.0 {
                (len + x).max(0.0) as usize
            } else {
                x.min(len) as usize
            }
        };
        let (a, b) = (norm(from), norm(to));
        if a >= b {
            String::new()
        } else {
            chars[a..b].iter().collect()
        }
    };
    match arg(args, 2) {
        Value::Undefined => Ok(Value::string(slice(start, len))),
        v => {
            let length = v.as_number().unwrap_or(f64::NAN);
            if length <= 0.0 {
                return Ok(Value::str(""));
            }
            let end = if start >= 0.0 {
                start + length
            } else {
                len + start + length
            };
            Ok(Value::string(slice(start, end)))
        }
    }
}

pub(super) fn substring_before(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let chars = str_arg(args, 1)?.unwrap_or("undefined");
    Ok(match s.find(chars) {
        Some(p) => Value::str(&s[..p]),
        None => Value::str(s),
    })
}

pub(super) fn substring_after(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let chars = str_arg(args, 1)?.unwrap_or("undefined");
    Ok(match s.find(chars) {
        Some(p) => Value::str(&s[p + chars.len()..]),
        None => Value::str(s),
    })
}

pub(super) fn lowercase(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(match str_arg(args, 0)? {
        Some(s) => Value::string(s.to_lowercase()),
        None => Value::Undefined,
    })
}

pub(super) fn uppercase(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(match str_arg(args, 0)? {
        Some(s) => Value::string(s.to_uppercase()),
        None => Value::Undefined,
    })
}

pub(super) fn length(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(match str_arg(args, 0)? {
        Some(s) => Value::Number(s.chars().count() as f64),
        None => Value::Undefined,
    })
}

pub(super) fn trim(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let mut out = String::with_capacity(s.len());
    let mut in_ws = false;
    for c in s.chars() {
        if matches!(c, ' ' | '\t' | '\n' | '\r') {
            if !in_ws {
                out.push(' ');
            }
            in_ws = true;
        } else {
            out.push(c);
            in_ws = false;
        }
    }
    let out = out.strip_prefix(' ').unwrap_or(&out);
    let out = out.strip_suffix(' ').unwrap_or(out);
    Ok(Value::str(out))
}

pub(super) fn pad(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let width = num_arg(args, 1).unwrap_or(f64::NAN);
    let pad_char = match str_arg(args, 2)? {
        Some(c) if !c.is_empty() => c.to_string(),
        _ => " ".to_string(),
    };
    let pad_len = width.abs() - s.chars().count() as f64;
    if pad_len > 0.0 {
        let n = pad_len as usize;
        let mut padding: String = pad_char.repeat(n);
        if pad_char.chars().count() > 1 {
            padding = padding.chars().take(n).collect();
        }
        Ok(Value::string(if width > 0.0 {
            format!("{s}{padding}")
        } else {
            format!("{padding}{s}")
        }))
    } else {
        Ok(Value::str(s))
    }
}

/// The regex behind a matcher argument; other matcher functions are not ported.
fn matcher(v: &Value) -> Result<Arc<RegexDef>> {
    match v {
        Value::Function(f) => match &**f {
            Function::Regex(r) => Ok(r.clone()),
            _ => Err(JsonataError::unsupported(
                "a function other than a regex as a matcher",
            )),
        },
        _ => Err(JsonataError::code("T0410")),
    }
}

/// All successive matches the way jsonata walks `match.next()`, including the
/// D1004 error for a zero-length match after the first.
fn all_matches(re: &RegexDef, s: &str, limit: Option<f64>) -> Result<Vec<crate::regex::Found>> {
    let mut out = Vec::new();
    let mut found = re.find_at(s, 0).map_err(JsonataError::unsupported)?;
    while let Some(f) = found {
        if limit.is_some_and(|l| out.len() as f64 >= l) {
            break;
        }
        let last = f.end;
        out.push(f);
        // `match.next()` runs after every match, even the last one wanted.
        found = if last >= s.len() {
            None
        } else {
            let n = re.find_at(s, last).map_err(JsonataError::unsupported)?;
            if n.as_ref().is_some_and(|n| n.text.is_empty()) {
                return Err(JsonataError::code("D1004"));
            }
            n
        };
    }
    Ok(out)
}

pub(super) fn contains(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    match arg(args, 1) {
        Value::String(t) => Ok(Value::Bool(s.contains(&**t))),
        v => {
            let re = matcher(v)?;
            let found = re.find_at(s, 0).map_err(JsonataError::unsupported)?;
            Ok(Value::Bool(found.is_some()))
        }
    }
}

pub(super) fn fn_match(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let limit = num_arg(args, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(JsonataError::code("D3040"));
    }
    let re = matcher(arg(args, 1))?;
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Value::empty_seq());
    }
    let mut out = Vec::new();
    for f in all_matches(&re, s, limit)? {
        let mut o = Object::new();
        o.insert("match".into(), Value::str(&f.text));
        o.insert(
            "index".into(),
            Value::Number(utf16_index(s, f.start) as f64),
        );
        o.insert("groups".into(), groups_value(&f.groups));
        out.push(Value::object(o));
    }
    Ok(Value::seq(out))
}

/// Expands `$0`, `$n`, `$$` in a replacement string (jsonata's own rules).
fn expand_replacement(replacement: &str, whole: &str, groups: &[Option<String>]) -> String {
    let chars: Vec<char> = replacement.chars().collect();
    let mut out = String::new();
    let mut position = 0usize;
    let find_dollar = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .position(|c| *c == '$')
            .map(|p| p + from)
    };
    let mut index = find_dollar(0);
    while let Some(ix) = index {
        if position >= chars.len() {
            break;
        }
        out.extend(&chars[position..ix]);
        position = ix + 1;
        let dollar_val = chars.get(position).copied();
        if dollar_val == Some('$') {
            out.push('$');
            position += 1;
        } else if dollar_val == Some('0') {
            out.push_str(whole);
            position += 1;
        } else {
            let max_digits = if groups.is_empty() {
                1
            } else {
                (groups.len() as f64).log10().floor() as usize + 1
            };
            let parse = |n: usize| -> Option<usize> {
                let s: String = chars[position.min(chars.len())..(position + n).min(chars.len())]
                    .iter()
                    .collect();
                // parseInt: leading digits only.
                let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
                digits.parse().ok()
            };
            let mut idx = parse(max_digits);
            if max_digits > 1 && idx.is_some_and(|i| i > groups.len()) {
                idx = parse(max_digits - 1);
            }
            match idx {
                Some(i) => {
                    if !groups.is_empty() {
                        if let Some(Some(g)) = groups.get(i.wrapping_sub(1)) {
                            out.push_str(g);
                        }
                    }
                    position += i.to_string().len();
                }
                None => out.push('$'),
            }
        }
        index = find_dollar(position);
    }
    if position < chars.len() {
        out.extend(&chars[position..]);
    }
    out
}

pub(super) fn replace(ev: &mut Evaluator, args: &[Value], _: &Value, env: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let pattern = arg(args, 1);
    if matches!(pattern, Value::String(p) if p.is_empty()) {
        return Err(JsonataError::code("D3010"));
    }
    let limit = num_arg(args, 3);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(JsonataError::code("D3011"));
    }
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Value::str(s));
    }
    let replacement = arg(args, 2);
    if let Value::String(p) = pattern {
        // String pattern: the replacement is inserted literally. jsonata
        // concatenates a function replacement as JavaScript source text, which
        // cannot be reproduced; that only matters once something matches.
        let mut out = String::new();
        let mut position = 0;
        let mut count = 0f64;
        while let Some(i) = s[position..].find(&**p) {
            if limit.is_some_and(|l| count >= l) {
                break;
            }
            let Value::String(rep) = replacement else {
                return Err(JsonataError::unsupported(
                    "a function replacement with a string pattern",
                ));
            };
            out.push_str(&s[position..position + i]);
            out.push_str(rep);
            position += i + p.len();
            count += 1.0;
        }
        out.push_str(&s[position..]);
        return Ok(Value::string(out));
    }
    let re = matcher(pattern)?;
    let found = all_matches(&re, s, limit)?;
    if found.is_empty() {
        return Ok(Value::str(s));
    }
    let mut out = String::new();
    let mut position = 0;
    for f in found {
        out.push_str(&s[position..f.start]);
        let with = match replacement {
            Value::String(r) => expand_replacement(r, &f.text, &f.groups),
            func @ Value::Function(_) => {
                let mut o = Object::new();
                o.insert("match".into(), Value::str(&f.text));
                o.insert(
                    "start".into(),
                    Value::Number(utf16_index(s, f.start) as f64),
                );
                o.insert("end".into(), Value::Number(utf16_index(s, f.end) as f64));
                o.insert("groups".into(), groups_value(&f.groups));
                match call(ev, func, vec![Value::object(o)], env)? {
                    Value::String(r) => r.to_string(),
                    _ => return Err(JsonataError::code("D3012")),
                }
            }
            _ => return Err(JsonataError::code("T0410")),
        };
        out.push_str(&with);
        position = f.end;
    }
    out.push_str(&s[position..]);
    Ok(Value::string(out))
}

pub(super) fn split(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = str_arg(args, 0)? else {
        return Ok(Value::Undefined);
    };
    let limit = num_arg(args, 2);
    if limit.is_some_and(|l| l < 0.0) {
        return Err(JsonataError::code("D3020"));
    }
    if limit.is_some_and(|l| l <= 0.0) {
        return Ok(Value::plain_array(Vec::new()));
    }
    // JS `split(sep, limit)` converts the limit with ToUint32.
    let max = limit.map(|l| l as u32 as usize).unwrap_or(usize::MAX);
    let mut out: Vec<Value> = Vec::new();
    match arg(args, 1) {
        Value::String(sep) => {
            if sep.is_empty() {
                // JS splits into UTF-16 code units; lone surrogates cannot be
                // represented here, so astral characters stay whole.
                for c in s.chars() {
                    if out.len() >= max {
                        break;
                    }
                    out.push(Value::string(c.to_string()));
                }
            } else {
                for part in s.split(&**sep) {
                    if out.len() >= max {
                        break;
                    }
                    out.push(Value::str(part));
                }
            }
        }
        v => {
            let re = matcher(v)?;
            let found = all_matches(&re, s, limit)?;
            if found.is_empty() {
                out.push(Value::str(s));
            } else {
                let mut start = 0;
                let n = found.len();
                for f in found {
                    out.push(Value::str(&s[start..f.start.max(start)]));
                    start = f.end;
                }
                if limit.is_none_or(|l| (n as f64) < l) {
                    out.push(Value::str(&s[start.min(s.len())..]));
                }
            }
        }
    }
    Ok(Value::plain_array(out))
}

pub(super) fn join(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let strs = arg(args, 0);
    if strs.is_undefined() {
        return Ok(Value::Undefined);
    }
    let sep = str_arg(args, 1)?.unwrap_or("");
    let parts: Vec<String> = strs
        .items()
        .iter()
        .map(|v| match v {
            Value::String(s) => s.to_string(),
            Value::Undefined | Value::Null => String::new(),
            v => string(v, false).unwrap_or_default(),
        })
        .collect();
    Ok(Value::string(parts.join(sep)))
}
