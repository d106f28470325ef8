//! JavaScript number formatting: `Number.prototype.toString()`, `toPrecision(15)`
//! and `toFixed(n)`, which JSONata results depend on (`$string`, `&`, `$formatNumber`).

/// Shortest round-trip decimal digits and decimal exponent of a finite, non-zero
/// `|n|`: `n = 0.d1d2d3... × 10^exp`.
fn shortest_digits(n: f64) -> (String, i32) {
    // `{:e}` prints the shortest representation that round-trips, like JS.
    let s = format!("{:e}", n.abs());
    split_sci(&s)
}

/// Splits Rust scientific notation (`d.ddde±x`) into digits and the exponent of
/// the form `0.digits × 10^exp`.
fn split_sci(s: &str) -> (String, i32) {
    let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    (digits.to_string(), exp + 1)
}

/// Lays out digits like ECMAScript's Number::toString.
fn layout(negative: bool, digits: &str, exp: i32) -> String {
    let k = digits.len() as i32;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if k <= exp && exp <= 21 {
        out.push_str(digits);
        for _ in 0..(exp - k) {
            out.push('0');
        }
    } else if 0 < exp && exp <= 21 {
        out.push_str(&digits[..exp as usize]);
        out.push('.');
        out.push_str(&digits[exp as usize..]);
    } else if -6 < exp && exp <= 0 {
        out.push_str("0.");
        for _ in 0..(-exp) {
            out.push('0');
        }
        out.push_str(digits);
    } else {
        let e = exp - 1;
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&e.abs().to_string());
    }
    out
}

/// `String(n)` in JavaScript.
pub(crate) fn js_to_string(n: f64) -> String {
    if n.is_nan() {
        return "NaN".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if n == 0.0 {
        return "0".into();
    }
    let (digits, exp) = shortest_digits(n);
    layout(n < 0.0, &digits, exp)
}

/// Adds one to a decimal digit string in place; true when it carried into a
/// new leading digit.
fn increment(digits: &mut Vec<u8>) -> bool {
    for d in digits.iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return false;
        }
    }
    digits.insert(0, b'1');
    true
}

/// `Number(n.toPrecision(15))`: JSONata's `$string` rounds numbers to 15
/// significant digits to hide binary floating-point noise (0.1 + 0.2 → "0.3").
pub(crate) fn to_precision_15(n: f64) -> f64 {
    if !n.is_finite() || n == 0.0 {
        return n;
    }
    // Extra digits show whether the exact binary value sits on a tie; JS rounds
    // ties away from zero where Rust's formatter rounds them to even.
    let wide = format!("{:.40e}", n.abs());
    let (mant, exp) = wide.split_once('e').unwrap_or((&wide, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(|c| c.is_ascii_digit()).collect();
    let mut head: Vec<u8> = digits[..15].to_vec();
    let rest = &digits[15..];
    let round_up = rest[0] >= b'5';
    let mut exp = exp;
    if round_up && increment(&mut head) {
        head.pop();
        exp += 1;
    }
    let s = format!(
        "{}{}.{}e{}",
        if n < 0.0 { "-" } else { "" },
        head[0] as char,
        String::from_utf8_lossy(&head[1..]),
        exp
    );
    s.parse().unwrap_or(n)
}

/// `n.toFixed(dp)` for the magnitudes `$formatNumber` handles (below 1e21).
pub(crate) fn to_fixed(n: f64, dp: usize) -> String {
    if n.abs() >= 1e21 || !n.is_finite() {
        return js_to_string(n);
    }
    // JS toFixed picks the exact decimal expansion and rounds half up; Rust's
    // formatter rounds the exact expansion half to even, so check for ties.
    let wide = format!("{:.*}", dp + 30, n.abs());
    let (int_part, frac) = wide.split_once('.').unwrap_or((&wide, ""));
    let kept = &frac[..dp];
    let rest = &frac[dp..];
    let mut digits: Vec<u8> = int_part.bytes().chain(kept.bytes()).collect();
    if rest.as_bytes()[0] >= b'5' {
        increment(&mut digits);
    }
    let int_len = digits.len() - dp;
    let mut out = String::new();
    if n < 0.0 && digits.iter().any(|d| *d != b'0') {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&digits[..int_len]).unwrap_or("0"));
    if dp > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&digits[int_len..]).unwrap_or(""));
    }
    out
}

/// `n.toString(radix)` for integral `n`, as `$formatBase` uses it.
pub(crate) fn to_radix(n: f64, radix: u32) -> String {
    if radix == 10 {
        return js_to_string(n);
    }
    if !n.is_finite() {
        return js_to_string(n);
    }
    let neg = n < 0.0;
    let mut v = n.abs().trunc();
    let mut digits = Vec::new();
    if v == 0.0 {
        digits.push('0');
    }
    while v >= 1.0 {
        let d = (v % radix as f64) as u32;
        digits.push(std::char::from_digit(d, radix).unwrap_or('0'));
        v = (v / radix as f64).trunc();
    }
    let mut s: String = digits.into_iter().rev().collect();
    if neg {
        s.insert(0, '-');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_string_matches_js() {
        assert_eq!(js_to_string(1.0), "1");
        assert_eq!(js_to_string(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(js_to_string(1e21), "1e+21");
        assert_eq!(js_to_string(1e-7), "1e-7");
        assert_eq!(js_to_string(123e-7), "0.0000123");
        assert_eq!(js_to_string(-1.5), "-1.5");
        assert_eq!(
            js_to_string(123456789012345680000.0),
            "123456789012345680000"
        );
    }

    #[test]
    fn precision_15() {
        assert_eq!(to_precision_15(0.1 + 0.2), 0.3);
        assert_eq!(
            js_to_string(to_precision_15(1.0 / 3.0)),
            "0.333333333333333"
        );
        assert_eq!(
            js_to_string(to_precision_15(123456789012345680000.0)),
            "123456789012346000000"
        );
    }

    #[test]
    fn fixed() {
        assert_eq!(to_fixed(1234.5678, 2), "1234.57");
        assert_eq!(to_fixed(0.5, 0), "1");
        assert_eq!(to_fixed(2.5, 0), "3");
        assert_eq!(to_fixed(3.0, 0), "3");
    }
}
