//! `$formatNumber`: XPath `format-number` picture strings, ported from jsonata 1.8.9
//! (including its validation errors D3080–D3093).

use super::numbers::round;
use crate::error::JsonataError;
use crate::eval::{Env, Evaluator, Result};
use crate::number::to_fixed;
use crate::value::Value;

type S = Vec<char>;

fn s(x: &str) -> S {
    x.chars().collect()
}

fn index_of(hay: &[char], needle: &[char], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from.min(hay.len()));
    }
    if needle.len() > hay.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()] == *needle)
}

fn last_index_of(hay: &[char], needle: &[char]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return if needle.is_empty() {
            Some(hay.len())
        } else {
            None
        };
    }
    (0..=hay.len() - needle.len())
        .rev()
        .find(|&i| hay[i..i + needle.len()] == *needle)
}

fn first(c: &[char]) -> char {
    c.first().copied().unwrap_or('\u{0}')
}

struct Props {
    decimal: S,
    grouping: S,
    exponent: S,
    minus: S,
    percent: S,
    per_mille: S,
    zero: char,
    digit: S,
    pattern_sep: S,
}

#[derive(Clone)]
struct Parts {
    prefix: S,
    suffix: S,
    active: S,
    mantissa: S,
    exponent: Option<S>,
    integer: S,
    fractional: S,
    subpicture: S,
}

#[derive(Clone)]
struct Pic {
    integer_grouping: Vec<usize>,
    regular_grouping: usize,
    min_integer: usize,
    scaling: usize,
    prefix: S,
    fractional_grouping: Vec<usize>,
    min_fraction: usize,
    max_fraction: usize,
    min_exponent: usize,
    suffix: S,
    picture: S,
}

pub(super) fn format_number(
    _: &mut Evaluator,
    args: &[Value],
    _: &Value,
    _: &Env,
) -> Result<Value> {
    let Some(value) = args.first().and_then(|v| v.as_number()) else {
        return Ok(Value::Undefined);
    };
    let picture = match args.get(1) {
        Some(Value::String(p)) => s(p),
        _ => return Err(JsonataError::code("T0410")),
    };
    let mut props = Props {
        decimal: s("."),
        grouping: s(","),
        exponent: s("e"),
        minus: s("-"),
        percent: s("%"),
        per_mille: s("\u{2030}"),
        zero: '0',
        digit: s("#"),
        pattern_sep: s(";"),
    };
    if let Some(Value::Object(o)) = args.get(2) {
        for (k, v) in o.iter() {
            let Some(text) = v.as_str() else {
                return Err(JsonataError::unsupported(
                    "$formatNumber options with non-string values",
                ));
            };
            let t = s(text);
            match k.as_str() {
                "decimal-separator" => props.decimal = t,
                "grouping-separator" => props.grouping = t,
                "exponent-separator" => props.exponent = t,
                "minus-sign" => props.minus = t,
                "percent" => props.percent = t,
                "per-mille" => props.per_mille = t,
                "zero-digit" => props.zero = first(&t),
                "digit" => props.digit = t,
                "pattern-separator" => props.pattern_sep = t,
                "infinity" | "NaN" => {}
                _ => {}
            }
        }
    }
    let family: Vec<char> = (0..10)
        .map(|i| char::from_u32(props.zero as u32 + i).unwrap_or('0'))
        .collect();
    // activeChars holds single characters; multi-character properties only
    // match by their whole string, which indexOf on a char never does.
    let mut active: Vec<S> = family.iter().map(|c| vec![*c]).collect();
    active.push(props.decimal.clone());
    active.push(props.exponent.clone());
    active.push(props.grouping.clone());
    active.push(props.digit.clone());
    active.push(props.pattern_sep.clone());
    let is_active = |c: char| active.iter().any(|a| a.len() == 1 && a[0] == c);
    let is_family = |c: char| family.contains(&c);
    let single_eq = |c: char, p: &S| p.len() == 1 && p[0] == c;

    // picture.split(pattern-separator)
    let sub_pictures: Vec<S> = split_chars(&picture, &props.pattern_sep);
    if sub_pictures.len() > 2 {
        return Err(JsonataError::code("D3080"));
    }

    let split_parts = |sub: &S| -> Parts {
        let prefix_end =
            (0..sub.len()).find(|&i| is_active(sub[i]) && !single_eq(sub[i], &props.exponent));
        let prefix: S = match prefix_end {
            Some(i) => sub[..i].to_vec(),
            None => Vec::new(),
        };
        let suffix_start = (0..sub.len())
            .rev()
            .find(|&i| is_active(sub[i]) && !single_eq(sub[i], &props.exponent));
        let suffix: S = match suffix_start {
            Some(i) => sub[i + 1..].to_vec(),
            None => Vec::new(),
        };
        let active_part: S = if prefix.len() <= sub.len() - suffix.len() {
            sub[prefix.len()..sub.len() - suffix.len()].to_vec()
        } else {
            Vec::new()
        };
        let exp_pos = index_of(sub, &props.exponent, prefix.len());
        let (mantissa, exponent) = match exp_pos {
            Some(p) if p <= sub.len() - suffix.len() => {
                let m: S = active_part[..p.min(active_part.len())].to_vec();
                let e: S = active_part[(p + 1).min(active_part.len())..].to_vec();
                (m, Some(e))
            }
            _ => (active_part.clone(), None),
        };
        let (integer, fractional) = match index_of(&mantissa, &props.decimal, 0) {
            None => (mantissa.clone(), suffix.clone()),
            Some(d) => (
                mantissa[..d].to_vec(),
                mantissa[(d + 1).min(mantissa.len())..].to_vec(),
            ),
        };
        Parts {
            prefix,
            suffix,
            active: active_part,
            mantissa,
            exponent,
            integer,
            fractional,
            subpicture: sub.clone(),
        }
    };

    let validate = |parts: &Parts| -> Result<()> {
        let mut error: Option<&'static str> = None;
        let sub = &parts.subpicture;
        let decimal_pos = index_of(sub, &props.decimal, 0);
        if decimal_pos != last_index_of(sub, &props.decimal) {
            error = Some("D3081");
        }
        if index_of(sub, &props.percent, 0) != last_index_of(sub, &props.percent) {
            error = Some("D3082");
        }
        if index_of(sub, &props.per_mille, 0) != last_index_of(sub, &props.per_mille) {
            error = Some("D3083");
        }
        if index_of(sub, &props.percent, 0).is_some()
            && index_of(sub, &props.per_mille, 0).is_some()
        {
            error = Some("D3084");
        }
        let valid = parts
            .mantissa
            .iter()
            .any(|c| is_family(*c) || single_eq(*c, &props.digit));
        if !valid {
            error = Some("D3085");
        }
        if parts.active.iter().any(|c| !is_active(*c)) {
            error = Some("D3086");
        }
        match decimal_pos {
            Some(d) => {
                let before = if d > 0 { sub.get(d - 1).copied() } else { None };
                let after = sub.get(d + 1).copied();
                if before.is_some_and(|c| single_eq(c, &props.grouping))
                    || after.is_some_and(|c| single_eq(c, &props.grouping))
                {
                    error = Some("D3087");
                }
            }
            None => {
                if parts
                    .integer
                    .last()
                    .is_some_and(|c| single_eq(*c, &props.grouping))
                {
                    error = Some("D3088");
                }
            }
        }
        let mut double_group = props.grouping.clone();
        double_group.extend(props.grouping.iter());
        if index_of(sub, &double_group, 0).is_some() {
            error = Some("D3089");
        }
        if let Some(p) = index_of(&parts.integer, &props.digit, 0) {
            if parts.integer[..p].iter().any(|c| is_family(*c)) {
                error = Some("D3090");
            }
        }
        if let Some(p) = last_index_of(&parts.fractional, &props.digit) {
            if parts.fractional[p..].iter().any(|c| is_family(*c)) {
                error = Some("D3091");
            }
        }
        if let Some(e) = &parts.exponent {
            if !e.is_empty()
                && (index_of(sub, &props.percent, 0).is_some()
                    || index_of(sub, &props.per_mille, 0).is_some())
            {
                error = Some("D3092");
            }
            if e.is_empty() || e.iter().any(|c| !is_family(*c)) {
                error = Some("D3093");
            }
        }
        match error {
            Some(code) => Err(JsonataError::code(code)),
            None => Ok(()),
        }
    };

    let analyse = |parts: &Parts| -> Pic {
        let grouping_positions = |part: &S, to_left: bool| -> Vec<usize> {
            let mut positions = Vec::new();
            let mut gp = index_of(part, &props.grouping, 0);
            while let Some(g) = gp {
                let slice: &[char] = if to_left { &part[..g] } else { &part[g..] };
                let n = slice
                    .iter()
                    .filter(|c| is_family(**c) || single_eq(**c, &props.digit))
                    .count();
                positions.push(n);
                // jsonata searches the integer part here, whichever part it scans.
                gp = index_of(&parts.integer, &props.grouping, g + 1);
            }
            positions
        };
        let integer_grouping = grouping_positions(&parts.integer, false);
        let regular = |indexes: &[usize]| -> usize {
            if indexes.is_empty() {
                return 0;
            }
            fn gcd(a: usize, b: usize) -> usize {
                if b == 0 {
                    a
                } else {
                    gcd(b, a % b)
                }
            }
            let factor = indexes.iter().copied().reduce(gcd).unwrap_or(0);
            for index in 1..=indexes.len() {
                if !indexes.contains(&(index * factor)) {
                    return 0;
                }
            }
            factor
        };
        let regular_grouping = regular(&integer_grouping);
        let fractional_grouping = grouping_positions(&parts.fractional, true);
        let mut min_integer = parts.integer.iter().filter(|c| is_family(**c)).count();
        let scaling = min_integer;
        let mut min_fraction = parts.fractional.iter().filter(|c| is_family(**c)).count();
        let mut max_fraction = parts
            .fractional
            .iter()
            .filter(|c| is_family(**c) || single_eq(**c, &props.digit))
            .count();
        let exponent_present = parts.exponent.is_some();
        if min_integer == 0 && max_fraction == 0 {
            if exponent_present {
                min_fraction = 1;
                max_fraction = 1;
            } else {
                min_integer = 1;
            }
        }
        if exponent_present
            && min_integer == 0
            && index_of(&parts.integer, &props.digit, 0).is_some()
        {
            min_integer = 1;
        }
        if min_integer == 0 && min_fraction == 0 {
            min_fraction = 1;
        }
        let min_exponent = parts
            .exponent
            .as_ref()
            .map(|e| e.iter().filter(|c| is_family(**c)).count())
            .unwrap_or(0);
        Pic {
            integer_grouping,
            regular_grouping,
            min_integer,
            scaling,
            prefix: parts.prefix.clone(),
            fractional_grouping,
            min_fraction,
            max_fraction,
            min_exponent,
            suffix: parts.suffix.clone(),
            picture: parts.subpicture.clone(),
        }
    };

    let parts: Vec<Parts> = sub_pictures.iter().map(split_parts).collect();
    for p in &parts {
        validate(p)?;
    }
    let mut variables: Vec<Pic> = parts.iter().map(analyse).collect();
    if variables.len() == 1 {
        let mut neg = variables[0].clone();
        let mut prefix = props.minus.clone();
        prefix.extend(neg.prefix.iter());
        neg.prefix = prefix;
        variables.push(neg);
    }
    let pic = if value >= 0.0 {
        &variables[0]
    } else {
        &variables[1]
    };
    let adjusted = if index_of(&pic.picture, &props.percent, 0).is_some() {
        value * 100.0
    } else if index_of(&pic.picture, &props.per_mille, 0).is_some() {
        value * 1000.0
    } else {
        value
    };
    let (mantissa, exponent) = if pic.min_exponent == 0 {
        (adjusted, None)
    } else {
        let max_m = 10f64.powi(pic.scaling as i32);
        let min_m = 10f64.powi(pic.scaling as i32 - 1);
        let mut m = adjusted;
        let mut e = 0i64;
        while m < min_m {
            m *= 10.0;
            e -= 1;
            if e < -400 {
                break;
            }
        }
        while m > max_m {
            m /= 10.0;
            e += 1;
        }
        (m, Some(e))
    };
    let rounded = round(mantissa, Some(pic.max_fraction as f64));
    let zero = props.zero;
    let make_string = |v: f64, dp: usize| -> S {
        let st = to_fixed(v.abs(), dp);
        st.chars()
            .map(|c| {
                if zero != '0' && c.is_ascii_digit() {
                    family[(c as u8 - b'0') as usize]
                } else {
                    c
                }
            })
            .collect()
    };
    let mut sv = make_string(rounded, pic.max_fraction);
    match sv.iter().position(|c| *c == '.') {
        None => sv.extend(props.decimal.iter()),
        Some(p) => {
            sv.splice(p..p + 1, props.decimal.iter().copied());
        }
    }
    while sv.first() == Some(&zero) {
        sv.remove(0);
    }
    while sv.last() == Some(&zero) {
        sv.pop();
    }
    let mut decimal_pos = index_of(&sv, &props.decimal, 0)
        .map(|p| p as i64)
        .unwrap_or(-1);
    let pad_left = pic.min_integer as i64 - decimal_pos;
    let pad_right = pic.min_fraction as i64 - (sv.len() as i64 - decimal_pos - 1);
    if pad_left > 0 {
        let mut p: S = vec![zero; pad_left as usize];
        p.extend(sv);
        sv = p;
    }
    if pad_right > 0 {
        sv.extend(std::iter::repeat_n(zero, pad_right as usize));
    }
    decimal_pos = index_of(&sv, &props.decimal, 0)
        .map(|p| p as i64)
        .unwrap_or(-1);
    let insert_at = |sv: &mut S, at: i64, what: &S| {
        let at = if at < 0 {
            (sv.len() as i64 + at).max(0) as usize
        } else {
            (at as usize).min(sv.len())
        };
        sv.splice(at..at, what.iter().copied());
    };
    if pic.regular_grouping > 0 {
        let rg = pic.regular_grouping as i64;
        let group_count = ((decimal_pos - 1) as f64 / rg as f64).floor() as i64;
        for group in 1..=group_count {
            insert_at(&mut sv, decimal_pos - group * rg, &props.grouping);
        }
    } else {
        for pos in &pic.integer_grouping {
            insert_at(&mut sv, decimal_pos - *pos as i64, &props.grouping);
            decimal_pos += 1;
        }
    }
    decimal_pos = index_of(&sv, &props.decimal, 0)
        .map(|p| p as i64)
        .unwrap_or(-1);
    for pos in &pic.fractional_grouping {
        insert_at(&mut sv, *pos as i64 + decimal_pos + 1, &props.grouping);
    }
    decimal_pos = index_of(&sv, &props.decimal, 0)
        .map(|p| p as i64)
        .unwrap_or(-1);
    if index_of(&pic.picture, &props.decimal, 0).is_none() || decimal_pos == sv.len() as i64 - 1 {
        sv.pop();
    }
    if let Some(e) = exponent {
        let mut se = make_string(e as f64, 0);
        let pad = pic.min_exponent as i64 - se.len() as i64;
        if pad > 0 {
            let mut p: S = vec![zero; pad as usize];
            p.extend(se);
            se = p;
        }
        sv.extend(props.exponent.iter());
        if e < 0 {
            sv.extend(props.minus.iter());
        }
        sv.extend(se);
    }
    let mut out: S = pic.prefix.clone();
    out.extend(sv);
    out.extend(pic.suffix.iter());
    Ok(Value::string(out.into_iter().collect()))
}

fn split_chars(hay: &S, sep: &S) -> Vec<S> {
    if sep.is_empty() {
        return hay.iter().map(|c| vec![*c]).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= hay.len() {
        if hay[i..i + sep.len()] == *sep {
            out.push(hay[start..i].to_vec());
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(hay[start..].to_vec());
    out
}
