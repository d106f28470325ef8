//! `Date.parse` as V8 (Node) implements it, for `$extractDate` and `$extractTime`:
//! the ES5 ISO format first, then V8's legacy parser for whatever is left. The SDK runs
//! with `TZ=UTC`, so local time is UTC here.
//!
//! This follows V8's `dateparser-inl.h` (tokenizer, ES5 parser, day/time/zone
//! composers), because formulas see whatever strings apps send, and V8 accepts far more
//! than ISO 8601 ("1/2/24", "Jan 2 2024", "0"). The calendar arithmetic (day numbers,
//! `MakeDay`) is osmosis-jsonata's `calendar`, shared with jsonata's date functions.

use osmosis_jsonata::calendar::{civil_from_days, make_day, DAY_MS};

use crate::js::is_js_whitespace;

const NONE: i64 = i64::MAX;
const MAX_SIGNIFICANT_DIGITS: usize = 9;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Keyword {
    Invalid,
    MonthName(i64),
    TimeZoneName(i64),
    TimeSeparator,
    AmPm(i64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Token {
    Invalid,
    Unknown,
    Number { value: i64, length: usize },
    Symbol(char),
    WhiteSpace,
    Keyword { kind: Keyword, length: usize },
    EndOfInput,
}

impl Token {
    fn is_number(&self) -> bool {
        matches!(self, Token::Number { .. })
    }
    fn is_fixed_number(&self, len: usize) -> bool {
        matches!(self, Token::Number { length, .. } if *length == len)
    }
    fn number(&self) -> i64 {
        match self {
            Token::Number { value, .. } => *value,
            _ => 0,
        }
    }
    fn is_symbol(&self, c: char) -> bool {
        *self == Token::Symbol(c)
    }
    fn is_sign(&self) -> bool {
        self.is_symbol('+') || self.is_symbol('-')
    }
    fn sign(&self) -> i64 {
        if self.is_symbol('-') {
            -1
        } else {
            1
        }
    }
    fn is_keyword_z(&self) -> bool {
        matches!(
            self,
            Token::Keyword {
                kind: Keyword::TimeZoneName(0),
                length: 1
            }
        )
    }
    fn is_time_separator(&self) -> bool {
        matches!(
            self,
            Token::Keyword {
                kind: Keyword::TimeSeparator,
                ..
            }
        )
    }
}

struct Scanner {
    chars: Vec<char>,
    pos: usize,
    next: Token,
}

impl Scanner {
    fn new(s: &str) -> Self {
        let mut sc = Scanner {
            chars: s.chars().collect(),
            pos: 0,
            next: Token::EndOfInput,
        };
        sc.next = sc.scan();
        sc
    }
    fn ch(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Token {
        let t = self.next;
        self.next = self.scan();
        t
    }
    fn peek(&self) -> Token {
        self.next
    }
    fn skip_symbol(&mut self, c: char) -> bool {
        if self.next.is_symbol(c) {
            self.next();
            true
        } else {
            false
        }
    }
    fn scan(&mut self) -> Token {
        let Some(c) = self.ch() else {
            return Token::EndOfInput;
        };
        if c.is_ascii_digit() {
            let start = self.pos;
            let mut n: i64 = 0;
            while let Some(d) = self.ch().filter(char::is_ascii_digit) {
                if self.pos - start < MAX_SIGNIFICANT_DIGITS {
                    n = n * 10 + i64::from(d as u8 - b'0');
                }
                self.pos += 1;
            }
            return Token::Number {
                value: n,
                length: self.pos - start,
            };
        }
        if matches!(c, ':' | '-' | '+' | '.' | ')') {
            self.pos += 1;
            return Token::Symbol(c);
        }
        if c >= 'A' && !is_js_whitespace(c) {
            let mut prefix = ['\0'; 3];
            let mut len = 0;
            while let Some(w) = self.ch().filter(|w| *w >= 'A' && !is_js_whitespace(*w)) {
                if len < 3 {
                    prefix[len] = if w.is_ascii_uppercase() {
                        w.to_ascii_lowercase()
                    } else {
                        w
                    };
                }
                len += 1;
                self.pos += 1;
            }
            return Token::Keyword {
                kind: lookup_keyword(prefix, len),
                length: len,
            };
        }
        if is_js_whitespace(c) {
            while self.ch().is_some_and(is_js_whitespace) {
                self.pos += 1;
            }
            return Token::WhiteSpace;
        }
        if c == '(' {
            let mut balance = 0;
            loop {
                match self.ch() {
                    Some(')') => balance -= 1,
                    Some('(') => balance += 1,
                    _ => {}
                }
                self.pos += 1;
                if !(balance > 0 && self.ch().is_some_and(|c| c != '\0')) {
                    break;
                }
            }
            return Token::Unknown;
        }
        self.pos += 1;
        Token::Unknown
    }
}

fn lookup_keyword(prefix: [char; 3], len: usize) -> Keyword {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let p: String = prefix.iter().filter(|c| **c != '\0').collect();
    if p.chars().count() == 3 {
        if let Some(i) = MONTHS.iter().position(|m| *m == p) {
            return Keyword::MonthName(i as i64 + 1);
        }
    }
    if len > 3 {
        return Keyword::Invalid;
    }
    match p.as_str() {
        "am" if len == 2 => Keyword::AmPm(0),
        "pm" if len == 2 => Keyword::AmPm(12),
        "ut" if len == 2 => Keyword::TimeZoneName(0),
        "utc" | "gmt" => Keyword::TimeZoneName(0),
        "z" if len == 1 => Keyword::TimeZoneName(0),
        "cdt" => Keyword::TimeZoneName(-5),
        "cst" => Keyword::TimeZoneName(-6),
        "edt" => Keyword::TimeZoneName(-4),
        "est" => Keyword::TimeZoneName(-5),
        "mdt" => Keyword::TimeZoneName(-6),
        "mst" => Keyword::TimeZoneName(-7),
        "pdt" => Keyword::TimeZoneName(-7),
        "pst" => Keyword::TimeZoneName(-8),
        "t" if len == 1 => Keyword::TimeSeparator,
        _ => Keyword::Invalid,
    }
}

fn between(x: i64, lo: i64, hi: i64) -> bool {
    x >= lo && x <= hi
}
fn is_month(x: i64) -> bool {
    between(x, 1, 12)
}
fn is_day(x: i64) -> bool {
    between(x, 1, 31)
}
fn is_minute(x: i64) -> bool {
    between(x, 0, 59)
}

#[derive(Default)]
struct Day {
    comp: Vec<i64>,
    named_month: Option<i64>,
    iso: bool,
}

impl Day {
    fn add(&mut self, n: i64) -> bool {
        if self.comp.len() < 3 {
            self.comp.push(n);
            true
        } else {
            false
        }
    }
    fn write(&mut self) -> Option<(i64, i64, i64)> {
        if self.comp.is_empty() {
            return None;
        }
        while self.comp.len() < 3 {
            self.comp.push(1);
        }
        let c = &self.comp;
        let (mut year, month, day);
        match self.named_month {
            None => {
                if self.iso || !is_day(c[0]) {
                    (year, month, day) = (c[0], c[1], c[2]);
                } else {
                    (month, day, year) = (c[0], c[1], c[2]);
                }
            }
            Some(m) => {
                month = m;
                if !is_day(c[0]) {
                    (year, day) = (c[0], c[1]);
                } else {
                    (day, year) = (c[0], c[1]);
                }
            }
        }
        if !self.iso {
            if between(year, 0, 49) {
                year += 2000;
            } else if between(year, 50, 99) {
                year += 1900;
            }
        }
        if !between(year, -(1 << 30), (1 << 30) - 1) || !is_month(month) || !is_day(day) {
            return None;
        }
        Some((year, month - 1, day))
    }
}

#[derive(Default)]
struct Time {
    comp: Vec<i64>,
    hour_offset: Option<i64>,
}

impl Time {
    fn add(&mut self, n: i64) -> bool {
        if self.comp.len() < 4 {
            self.comp.push(n);
            true
        } else {
            false
        }
    }
    fn add_final(&mut self, n: i64) -> bool {
        if !self.add(n) {
            return false;
        }
        while self.comp.len() < 4 {
            self.comp.push(0);
        }
        true
    }
    fn is_expecting(&self, n: i64) -> bool {
        let i = self.comp.len();
        (i == 1 && is_minute(n)) || (i == 2 && is_minute(n)) || (i == 3 && between(n, 0, 999))
    }
    fn is_empty(&self) -> bool {
        self.comp.is_empty()
    }
    fn write(&mut self) -> Option<(i64, i64, i64, i64)> {
        while self.comp.len() < 4 {
            self.comp.push(0);
        }
        let (mut h, m, s, ms) = (self.comp[0], self.comp[1], self.comp[2], self.comp[3]);
        if let Some(off) = self.hour_offset {
            if !between(h, 0, 12) {
                return None;
            }
            h = h % 12 + off;
        }
        if !(between(h, 0, 23) && is_minute(m) && is_minute(s) && between(ms, 0, 999))
            && (h != 24 || m != 0 || s != 0 || ms != 0)
        {
            return None;
        }
        Some((h, m, s, ms))
    }
}

struct Zone {
    sign: i64,
    hour: i64,
    minute: i64,
}

impl Default for Zone {
    fn default() -> Self {
        Zone {
            sign: NONE,
            hour: NONE,
            minute: NONE,
        }
    }
}

impl Zone {
    fn set(&mut self, offset_hours: i64) {
        self.sign = if offset_hours < 0 { -1 } else { 1 };
        self.hour = offset_hours * self.sign;
        self.minute = 0;
    }
    fn is_expecting(&self, n: i64) -> bool {
        self.hour != NONE && self.minute == NONE && is_minute(n)
    }
    fn is_utc(&self) -> bool {
        self.hour == 0 && self.minute == 0
    }
    fn is_empty(&self) -> bool {
        self.hour == NONE
    }
    /// The UTC offset in seconds; `None` means local time.
    fn write(&mut self) -> Option<Option<i64>> {
        if self.sign == NONE {
            return Some(None);
        }
        if self.hour == NONE {
            self.hour = 0;
        }
        if self.minute == NONE {
            self.minute = 0;
        }
        let total = (self.hour as u64)
            .wrapping_mul(3600)
            .wrapping_add((self.minute as u64).wrapping_mul(60));
        if total > (1 << 30) - 1 {
            return None;
        }
        let total = total as i64;
        Some(Some(if self.sign < 0 { -total } else { total }))
    }
}

fn read_milliseconds(token: Token) -> i64 {
    let Token::Number { value, length } = token else {
        return 0;
    };
    match length {
        1 => value * 100,
        2 => value * 10,
        3 => value,
        _ => {
            let mut len = length.min(MAX_SIGNIFICANT_DIGITS);
            let mut factor = 1;
            while len > 3 {
                factor *= 10;
                len -= 1;
            }
            value / factor
        }
    }
}

/// The ES5 date-time format; returns the first token it did not handle.
fn parse_es5(sc: &mut Scanner, day: &mut Day, time: &mut Time, tz: &mut Zone) -> Token {
    if sc.peek().is_sign() {
        let sign_token = sc.next();
        if !sc.peek().is_fixed_number(6) {
            return sign_token;
        }
        let year = sc.next().number();
        if sign_token.sign() < 0 && year == 0 {
            return sign_token;
        }
        day.add(sign_token.sign() * year);
    } else if sc.peek().is_fixed_number(4) {
        let y = sc.next().number();
        day.add(y);
    } else {
        return sc.next();
    }
    if sc.skip_symbol('-') {
        if !sc.peek().is_fixed_number(2) || !is_month(sc.peek().number()) {
            return sc.next();
        }
        let m = sc.next().number();
        day.add(m);
        if sc.skip_symbol('-') {
            if !sc.peek().is_fixed_number(2) || !is_day(sc.peek().number()) {
                return sc.next();
            }
            let d = sc.next().number();
            day.add(d);
        }
    }
    if !sc.peek().is_time_separator() {
        if sc.peek() != Token::EndOfInput {
            return sc.next();
        }
    } else {
        sc.next();
        if !sc.peek().is_fixed_number(2) || !between(sc.peek().number(), 0, 24) {
            return Token::Invalid;
        }
        let hour_is_24 = sc.peek().number() == 24;
        let h = sc.next().number();
        time.add(h);
        if !sc.skip_symbol(':') {
            return Token::Invalid;
        }
        if !sc.peek().is_fixed_number(2)
            || !is_minute(sc.peek().number())
            || (hour_is_24 && sc.peek().number() > 0)
        {
            return Token::Invalid;
        }
        let m = sc.next().number();
        time.add(m);
        if sc.skip_symbol(':') {
            if !sc.peek().is_fixed_number(2)
                || !is_minute(sc.peek().number())
                || (hour_is_24 && sc.peek().number() > 0)
            {
                return Token::Invalid;
            }
            let s = sc.next().number();
            time.add(s);
            if sc.skip_symbol('.') {
                if !sc.peek().is_number() || (hour_is_24 && sc.peek().number() > 0) {
                    return Token::Invalid;
                }
                let ms = read_milliseconds(sc.next());
                time.add(ms);
            }
        }
        if sc.peek().is_keyword_z() {
            sc.next();
            tz.set(0);
        } else if sc.peek().is_sign() {
            tz.sign = sc.next().sign();
            let (hour, min);
            if sc.peek().is_fixed_number(4) {
                let hm = sc.next().number();
                (hour, min) = (hm / 100, hm % 100);
                if !between(hour, 0, 23) || !is_minute(min) {
                    return Token::Invalid;
                }
            } else {
                if !sc.peek().is_fixed_number(2) || !between(sc.peek().number(), 0, 23) {
                    return Token::Invalid;
                }
                hour = sc.next().number();
                if !sc.skip_symbol(':') {
                    return Token::Invalid;
                }
                if !sc.peek().is_fixed_number(2) || !is_minute(sc.peek().number()) {
                    return Token::Invalid;
                }
                min = sc.next().number();
            }
            tz.hour = hour;
            tz.minute = min;
        }
        if sc.peek() != Token::EndOfInput {
            return Token::Invalid;
        }
    }
    if tz.is_empty() && time.is_empty() {
        tz.set(0);
    }
    day.iso = true;
    Token::EndOfInput
}

/// `Date.parse(s)` in milliseconds since the epoch (UTC), `None` for NaN.
pub fn parse(s: &str) -> Option<f64> {
    let mut sc = Scanner::new(s);
    let mut day = Day::default();
    let mut time = Time::default();
    let mut tz = Zone::default();
    let mut token = parse_es5(&mut sc, &mut day, &mut time, &mut tz);
    if token == Token::Invalid {
        return None;
    }
    let mut has_read_number = !day.comp.is_empty();
    while token != Token::EndOfInput {
        match token {
            Token::Number {
                value: n,
                length: _,
            } => {
                has_read_number = true;
                if sc.skip_symbol(':') {
                    if sc.skip_symbol(':') {
                        if !time.is_empty() {
                            return None;
                        }
                        time.add(n);
                        time.add(0);
                    } else {
                        if !time.add(n) {
                            return None;
                        }
                        if sc.peek().is_symbol('.') {
                            sc.next();
                        }
                    }
                } else if sc.skip_symbol('.') && time.is_expecting(n) {
                    time.add(n);
                    if !sc.peek().is_number() {
                        return None;
                    }
                    let ms = read_milliseconds(sc.next());
                    if ms < 0 {
                        return None;
                    }
                    time.add_final(ms);
                } else if tz.is_expecting(n) {
                    tz.minute = n;
                } else if time.is_expecting(n) {
                    time.add_final(n);
                    let p = sc.peek();
                    if p != Token::EndOfInput
                        && p != Token::WhiteSpace
                        && !p.is_keyword_z()
                        && !p.is_sign()
                    {
                        return None;
                    }
                } else {
                    if !day.add(n) {
                        return None;
                    }
                    sc.skip_symbol('-');
                }
            }
            Token::Keyword { kind, .. } => match kind {
                Keyword::AmPm(v) if !time.is_empty() => time.hour_offset = Some(v),
                Keyword::MonthName(m) => {
                    day.named_month = Some(m);
                    sc.skip_symbol('-');
                }
                Keyword::TimeZoneName(v) if has_read_number => tz.set(v),
                _ => {
                    if has_read_number || sc.peek().is_number() {
                        return None;
                    }
                }
            },
            t if t.is_sign() && (tz.is_utc() || !time.is_empty()) => {
                tz.sign = t.sign();
                let (mut n, mut length) = (0, 0);
                if sc.peek().is_number() {
                    if let Token::Number { value, length: l } = sc.next() {
                        (n, length) = (value, l);
                    }
                }
                has_read_number = true;
                if sc.peek().is_symbol(':') {
                    tz.hour = n;
                    tz.minute = NONE;
                } else if length == 1 || length == 2 {
                    tz.hour = n;
                    tz.minute = 0;
                } else if length == 3 || length == 4 {
                    tz.hour = n / 100;
                    tz.minute = n % 100;
                } else {
                    return None;
                }
            }
            t if (t.is_sign() || t.is_symbol(')')) && has_read_number => return None,
            _ => {}
        }
        token = sc.next();
    }
    let (year, month, date) = day.write()?;
    let (h, m, s, ms) = time.write()?;
    let offset = tz.write()?;
    let days = make_day(year as f64, month as f64, date as f64);
    let mut t = days * DAY_MS as f64 + (h * 3_600_000 + m * 60_000 + s * 1000 + ms) as f64;
    if let Some(off) = offset {
        t -= off as f64 * 1000.0;
    }
    if !t.is_finite() || t.abs() > 8.64e15 {
        return None;
    }
    Some(t)
}

/// `Date.prototype.toISOString()`.
pub fn to_iso_string(ms: f64) -> String {
    let ms = ms as i64;
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y < 0 {
        format!("-{:06}", -y)
    } else {
        format!("+{y:06}")
    };
    format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> Option<String> {
        parse(s).map(to_iso_string)
    }

    #[test]
    fn matches_v8_samples() {
        for (input, expected) in [
            ("2024-01-02", Some("2024-01-02T00:00:00.000Z")),
            (
                "2024-01-02T10:11:12+02:00",
                Some("2024-01-02T08:11:12.000Z"),
            ),
            ("2024-01-02 10:11:12", Some("2024-01-02T10:11:12.000Z")),
            ("0", Some("2000-01-01T00:00:00.000Z")),
            ("5", Some("2001-05-01T00:00:00.000Z")),
            ("13", None),
            ("100", Some("0100-01-01T00:00:00.000Z")),
            ("January 2, 2024 10:00", Some("2024-01-02T10:00:00.000Z")),
            (
                "Tue, 02 Jan 2024 10:11:12 GMT",
                Some("2024-01-02T10:11:12.000Z"),
            ),
            ("1/2/24", Some("2024-01-02T00:00:00.000Z")),
            ("2024-1-2", Some("2024-01-02T00:00:00.000Z")),
            ("2024-02-30", Some("2024-03-01T00:00:00.000Z")),
            ("1,2", Some("2001-01-02T00:00:00.000Z")),
            ("10:11", None),
            ("2024-01-02T25:00:00Z", None),
            (
                "Mon Jan 02 2024 10:00:00 GMT+0100",
                Some("2024-01-02T09:00:00.000Z"),
            ),
            ("1.5", Some("2001-01-05T00:00:00.000Z")),
            ("20240102", None),
            ("abc", None),
            ("", None),
        ] {
            assert_eq!(iso(input).as_deref(), expected, "{input}");
        }
    }
}
