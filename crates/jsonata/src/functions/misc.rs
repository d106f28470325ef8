//! `$error`, `$assert`, `$eval`, `$clone`, base64 and URL coding, and the entry
//! points of the date and integer picture functions (`$now`, `$millis`,
//! `$toMillis`, `$fromMillis`, `$formatInteger`, `$parseInteger`), whose
//! picture handling lives in `datetime`.

use std::cell::Cell;

use super::strings::string;
use crate::calendar::{days_from_civil, DAY_MS};
use crate::error::JsonataError;
use crate::eval::{Env, Evaluator, Result};
use crate::value::{from_json, Array, Value};

fn arg(args: &[Value], i: usize) -> &Value {
    args.get(i).unwrap_or(&Value::Undefined)
}

thread_local! {
    static SEED: Cell<u64> = const { Cell::new(0) };
}

/// A uniform number in [0, 1) from a per-thread xorshift generator; `$random`
/// and `$shuffle` need no cryptographic quality.
pub(super) fn random_unit() -> f64 {
    SEED.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0x9E37_79B9_7F4A_7C15)
                | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

pub(super) fn error(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let msg = match arg(args, 0) {
        Value::String(s) if !s.is_empty() => s.to_string(),
        _ => "$error() function evaluated".to_string(),
    };
    Err(JsonataError::eval("D3137", msg))
}

pub(super) fn assert(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    if !matches!(arg(args, 0), Value::Bool(true)) {
        let msg = match arg(args, 1) {
            Value::String(s) if !s.is_empty() => s.to_string(),
            _ => "$assert() statement failed".to_string(),
        };
        return Err(JsonataError::eval("D3141", msg));
    }
    Ok(Value::Undefined)
}

pub(super) fn format_integer(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    let Some(n) = arg(args, 0).as_number() else {
        return Ok(Value::Undefined);
    };
    let picture = arg(args, 1).as_str().unwrap_or("undefined");
    Ok(Value::string(super::datetime::format_integer(n, picture)?))
}

pub(super) fn parse_integer(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    let Some(s) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    let picture = arg(args, 1).as_str().unwrap_or("undefined");
    Ok(Value::Number(super::datetime::parse_integer(s, picture)?))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(super) fn base64encode(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    // Buffer.from(str, 'binary'): each UTF-16 unit keeps its low byte.
    let bytes: Vec<u8> = s.encode_utf16().map(|u| (u & 0xff) as u8).collect();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
    Ok(Value::string(out))
}

pub(super) fn base64decode(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    // Node's decoder skips characters outside the alphabet and stops at '='.
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = String::new();
    for c in s.chars() {
        let v = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            'a'..='z' => c as u32 - 'a' as u32 + 26,
            '0'..='9' => c as u32 - '0' as u32 + 52,
            '+' | '-' => 62,
            '/' | '_' => 63,
            '=' => break,
            _ => continue,
        };
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push(char::from(((bits >> nbits) & 0xff) as u8));
        }
    }
    Ok(Value::string(out))
}

fn encode(s: &str, keep: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || "-_.!~*'()".contains(c) || keep.contains(c) {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// `decodeURIComponent` / `decodeURI`; `None` where JS throws a URIError.
fn decode(s: &str, reserved: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let hex = |j: usize| -> Option<u8> {
            let h = std::str::from_utf8(bytes.get(j..j + 2)?).ok()?;
            u8::from_str_radix(h, 16).ok()
        };
        let b0 = hex(i + 1)?;
        if b0 < 0x80 {
            if reserved.contains(b0 as char) {
                out.extend_from_slice(&bytes[i..i + 3]);
            } else {
                out.push(b0);
            }
            i += 3;
            continue;
        }
        let n = if b0 & 0xE0 == 0xC0 {
            2
        } else if b0 & 0xF0 == 0xE0 {
            3
        } else if b0 & 0xF8 == 0xF0 {
            4
        } else {
            return None;
        };
        let mut seq = vec![b0];
        for k in 1..n {
            let j = i + 3 * k;
            if bytes.get(j) != Some(&b'%') {
                return None;
            }
            let b = hex(j + 1)?;
            if b & 0xC0 != 0x80 {
                return None;
            }
            seq.push(b);
        }
        std::str::from_utf8(&seq).ok()?;
        out.extend_from_slice(&seq);
        i += 3 * n;
    }
    String::from_utf8(out).ok()
}

fn url_fn(args: &[Value], f: impl Fn(&str) -> Option<String>) -> Result<Value> {
    let Some(s) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    match f(s) {
        Some(r) => Ok(Value::string(r)),
        None => Err(JsonataError::code("D3140")),
    }
}

pub(super) fn encode_url_component(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    url_fn(args, |s| Some(encode(s, "")))
}

pub(super) fn encode_url(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    url_fn(args, |s| Some(encode(s, ";,/?:@&=+$#")))
}

pub(super) fn decode_url_component(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    url_fn(args, |s| decode(s, ""))
}

pub(super) fn decode_url(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    url_fn(args, |s| decode(s, ";/?:@&=+$,#"))
}

pub(super) fn eval(ev: &mut Evaluator, args: &[Value], input: &Value, env: &Env) -> Result<Value> {
    let Some(expr) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    let mut focus = input.clone();
    let f = arg(args, 1);
    if !f.is_undefined() {
        focus = f.clone();
        if f.is_array() && !f.is_sequence() {
            focus = Value::array(Array {
                items: vec![f.clone()],
                sequence: true,
                outer_wrapper: true,
                ..Default::default()
            });
        }
    }
    let ast = match crate::compile_ast(expr) {
        Ok(a) => a,
        Err(e @ JsonataError::Unsupported { .. }) => return Err(e),
        Err(e) => return Err(JsonataError::eval("D3120", e.to_string())),
    };
    match ev.evaluate(&ast, &focus, env) {
        Ok(v) => Ok(v),
        Err(e @ JsonataError::Unsupported { .. }) => Err(e),
        Err(e) => Err(JsonataError::eval("D3121", e.to_string())),
    }
}

pub(super) fn clone(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let a = arg(args, 0);
    if a.is_undefined() {
        return Ok(Value::Undefined);
    }
    let text = string(a, false)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| JsonataError::eval("SyntaxError", e.to_string()))?;
    Ok(from_json(&json))
}

/// `Date.parse` of a string that passed jsonata's ISO 8601 check, with the
/// SDK's TZ=UTC for local times. `Ok(NaN)` where V8 gives NaN.
fn parse_iso(s: &str) -> Result<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> i64 {
        std::str::from_utf8(&b[from..from + len])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0)
    };
    let year = num(0, 4);
    let mut i = 4;
    let (mut month, mut day) = (1, 1);
    if b.get(i) == Some(&b'-') {
        month = num(i + 1, 2);
        i += 3;
    }
    if b.get(i) == Some(&b'-') {
        day = num(i + 1, 2);
        i += 3;
    }
    let has_day_part = i == 10;
    let (mut h, mut mi, mut sec, mut ms) = (0, 0, 0, 0i64);
    let mut has_time = false;
    if b.get(i) == Some(&b'T') {
        if !has_day_part {
            return Err(JsonataError::unsupported(
                "$toMillis of a time without a full date",
            ));
        }
        has_time = true;
        h = num(i + 1, 2);
        mi = num(i + 4, 2);
        sec = num(i + 7, 2);
        i += 9;
    }
    if b.get(i) == Some(&b'.') {
        if !has_time {
            return Err(JsonataError::unsupported(
                "$toMillis of fractional seconds without a time",
            ));
        }
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let frac = &s[start..j];
        let mut digits: String = frac.chars().take(3).collect();
        while digits.len() < 3 {
            digits.push('0');
        }
        ms = digits.parse().unwrap_or(0);
        i = j;
    }
    let mut offset_min = 0i64;
    if i < b.len() {
        if !has_time {
            return Err(JsonataError::unsupported(
                "$toMillis of a zone without a time",
            ));
        }
        if b[i] == b'Z' {
            i += 1;
        } else {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            // V8 reads both `+hh:mm` and `+hhmm`.
            let rest = &s[i + 1..];
            let minutes_at = if rest.len() == 5 { i + 4 } else { i + 3 };
            offset_min = sign * (num(i + 1, 2) * 60 + num(minutes_at, 2));
            i = b.len();
        }
    }
    let _ = i;
    // V8 accepts days 1-31 in any month and rolls over (2024-02-30 is March 1).
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Ok(f64::NAN);
    }
    if h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi > 0 || sec > 0 || ms > 0)) {
        return Ok(f64::NAN);
    }
    let days = days_from_civil(year, month, day);
    let t = days * DAY_MS + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms - offset_min * 60_000;
    Ok(t as f64)
}

fn is_iso8601(s: &str) -> bool {
    // ^\d{4}(-[01]\d)?(-[0-3]\d)?(T[0-2]\d:[0-5]\d:[0-5]\d)?(\.\d+)?([+-][0-2]\d:?[0-5]\d|Z)?$
    let b = s.as_bytes();
    let d = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    let r = |i: usize, lo: u8, hi: u8| b.get(i).is_some_and(|c| (lo..=hi).contains(c));
    let mut i = 0;
    if !(d(0) && d(1) && d(2) && d(3)) {
        return false;
    }
    i += 4;
    if b.get(i) == Some(&b'-') && r(i + 1, b'0', b'1') && d(i + 2) {
        i += 3;
    }
    if b.get(i) == Some(&b'-') && r(i + 1, b'0', b'3') && d(i + 2) {
        i += 3;
    }
    if b.get(i) == Some(&b'T')
        && r(i + 1, b'0', b'2')
        && d(i + 2)
        && b.get(i + 3) == Some(&b':')
        && r(i + 4, b'0', b'5')
        && d(i + 5)
        && b.get(i + 6) == Some(&b':')
        && r(i + 7, b'0', b'5')
        && d(i + 8)
    {
        i += 9;
    }
    if b.get(i) == Some(&b'.') && d(i + 1) {
        i += 1;
        while d(i) {
            i += 1;
        }
    }
    if b.get(i) == Some(&b'Z') {
        i += 1;
    } else if matches!(b.get(i), Some(b'+') | Some(b'-')) && r(i + 1, b'0', b'2') && d(i + 2) {
        let mut j = i + 3;
        if b.get(j) == Some(&b':') {
            j += 1;
        }
        if r(j, b'0', b'5') && d(j + 1) {
            i = j + 2;
        }
    }
    i == b.len()
}

pub(super) fn to_millis(ev: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(s) = arg(args, 0).as_str() else {
        return Ok(Value::Undefined);
    };
    if let Some(picture) = arg(args, 1).as_str() {
        return Ok(
            match super::datetime::parse_date_time(s, picture, ev.timestamp_ms)? {
                Some(ms) => Value::Number(ms),
                None => Value::Undefined,
            },
        );
    }
    if !is_iso8601(s) {
        return Err(JsonataError::code("D3110"));
    }
    Ok(Value::Number(parse_iso(s)?))
}

fn opt_str(v: &Value) -> Result<Option<&str>> {
    match v {
        Value::Undefined => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(JsonataError::code("T0410")),
    }
}

pub(super) fn from_millis(_: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let Some(ms) = arg(args, 0).as_number() else {
        return Ok(Value::Undefined);
    };
    let picture = opt_str(arg(args, 1))?;
    let tz = opt_str(arg(args, 2))?;
    Ok(Value::string(super::datetime::format_date_time(
        ms, picture, tz,
    )?))
}

pub(super) fn now(ev: &mut Evaluator, args: &[Value], _: &Value, _: &Env) -> Result<Value> {
    let picture = opt_str(arg(args, 0))?;
    let tz = opt_str(arg(args, 1))?;
    Ok(Value::string(super::datetime::format_date_time(
        ev.timestamp_ms,
        picture,
        tz,
    )?))
}

pub(super) fn millis(ev: &mut Evaluator, _: &[Value], _: &Value, _: &Env) -> Result<Value> {
    Ok(Value::Number(ev.timestamp_ms))
}
