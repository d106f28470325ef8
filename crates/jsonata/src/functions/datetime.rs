//! XPath/XSLT picture strings for integers (`$formatInteger`, `$parseInteger`)
//! and date-times (`$fromMillis`, `$now`, `$toMillis` with a picture), ported
//! from jsonata 1.8.9's `datetime.js`. Everything is computed in UTC shifted by
//! the optional `±hhmm` timezone, as jsonata does.

use crate::calendar::{civil_from_days, days_from_civil, make_day, DAY_MS};
use crate::error::JsonataError;
use crate::eval::Result;
use crate::number::js_to_string;

const FEW: [&str; 20] = [
    "Zero",
    "One",
    "Two",
    "Three",
    "Four",
    "Five",
    "Six",
    "Seven",
    "Eight",
    "Nine",
    "Ten",
    "Eleven",
    "Twelve",
    "Thirteen",
    "Fourteen",
    "Fifteen",
    "Sixteen",
    "Seventeen",
    "Eighteen",
    "Nineteen",
];
const ORDINALS: [&str; 20] = [
    "Zeroth",
    "First",
    "Second",
    "Third",
    "Fourth",
    "Fifth",
    "Sixth",
    "Seventh",
    "Eighth",
    "Ninth",
    "Tenth",
    "Eleventh",
    "Twelfth",
    "Thirteenth",
    "Fourteenth",
    "Fifteenth",
    "Sixteenth",
    "Seventeenth",
    "Eighteenth",
    "Nineteenth",
];
const DECADES: [&str; 9] = [
    "Twenty", "Thirty", "Forty", "Fifty", "Sixty", "Seventy", "Eighty", "Ninety", "Hundred",
];
const MAGNITUDES: [&str; 4] = ["Thousand", "Million", "Billion", "Trillion"];

fn number_to_words(value: f64, ordinal: bool) -> String {
    fn lookup(num: f64, prev: bool, ord: bool) -> String {
        let mut words;
        if num <= 19.0 {
            let i = num.max(0.0) as usize;
            words = format!(
                "{}{}",
                if prev { " and " } else { "" },
                if ord { ORDINALS[i] } else { FEW[i] }
            );
        } else if num < 100.0 {
            let tens = (num / 10.0).floor() as usize;
            let remainder = num % 10.0;
            words = format!("{}{}", if prev { " and " } else { "" }, DECADES[tens - 2]);
            if remainder > 0.0 {
                words = format!("{words}-{}", lookup(remainder, false, ord));
            } else if ord {
                words.pop();
                words.push_str("ieth");
            }
        } else if num < 1000.0 {
            let hundreds = (num / 100.0).floor() as usize;
            let remainder = num % 100.0;
            words = format!("{}{} Hundred", if prev { ", " } else { "" }, FEW[hundreds]);
            if remainder > 0.0 {
                words.push_str(&lookup(remainder, true, ord));
            } else if ord {
                words.push_str("th");
            }
        } else {
            let mut mag = (num.log10() / 3.0).floor() as usize;
            if mag > MAGNITUDES.len() {
                mag = MAGNITUDES.len();
            }
            let factor = 10f64.powi(mag as i32 * 3);
            let mant = (num / factor).floor();
            let remainder = num - mant * factor;
            words = format!(
                "{}{} {}",
                if prev { ", " } else { "" },
                lookup(mant, false, false),
                MAGNITUDES[mag - 1]
            );
            if remainder > 0.0 {
                words.push_str(&lookup(remainder, true, ord));
            } else if ord {
                words.push_str("th");
            }
        }
        words
    }
    lookup(value, false, ordinal)
}

const ROMAN: [(f64, &str); 13] = [
    (1000.0, "m"),
    (900.0, "cm"),
    (500.0, "d"),
    (400.0, "cd"),
    (100.0, "c"),
    (90.0, "xc"),
    (50.0, "l"),
    (40.0, "xl"),
    (10.0, "x"),
    (9.0, "ix"),
    (5.0, "v"),
    (4.0, "iv"),
    (1.0, "i"),
];

fn decimal_to_roman(mut value: f64) -> String {
    let mut out = String::new();
    'outer: loop {
        for (n, s) in ROMAN {
            if value >= n {
                out.push_str(s);
                value -= n;
                continue 'outer;
            }
        }
        return out;
    }
}

fn decimal_to_letters(mut value: f64, a: char) -> String {
    let mut letters = Vec::new();
    while value > 0.0 {
        let code = ((value - 1.0) % 26.0) as u32 + a as u32;
        letters.insert(0, char::from_u32(code).unwrap_or(a));
        value = ((value - 1.0) / 26.0).floor();
    }
    letters.into_iter().collect()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Primary {
    Decimal,
    Letters,
    Roman,
    Words,
    Sequence,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Case {
    Upper,
    Lower,
    Title,
}

#[derive(Clone, Debug)]
struct Separator {
    position: usize,
    character: char,
}

#[derive(Clone, Debug)]
pub(super) struct IntegerFormat {
    primary: Primary,
    case: Case,
    ordinal: bool,
    zero_code: u32,
    mandatory_digits: usize,
    optional_digits: usize,
    regular: bool,
    /// With `regular`, one entry holding the interval and character.
    separators: Vec<Separator>,
}

const DECIMAL_GROUPS: [u32; 37] = [
    0x30, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
    0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80,
    0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0,
    0xFF10,
];

pub(super) fn analyse_integer_picture(picture: &str) -> Result<IntegerFormat> {
    let mut format = IntegerFormat {
        primary: Primary::Decimal,
        case: Case::Lower,
        ordinal: false,
        zero_code: 0x30,
        mandatory_digits: 0,
        optional_digits: 0,
        regular: false,
        separators: Vec::new(),
    };
    let primary_format = match picture.rfind(';') {
        None => picture,
        Some(i) => {
            if picture[i + 1..].starts_with('o') {
                format.ordinal = true;
            }
            &picture[..i]
        }
    };
    match primary_format {
        "A" => {
            format.case = Case::Upper;
            format.primary = Primary::Letters;
        }
        "a" => format.primary = Primary::Letters,
        "I" => {
            format.case = Case::Upper;
            format.primary = Primary::Roman;
        }
        "i" => format.primary = Primary::Roman,
        "W" => {
            format.case = Case::Upper;
            format.primary = Primary::Words;
        }
        "Ww" => {
            format.case = Case::Title;
            format.primary = Primary::Words;
        }
        "w" => format.primary = Primary::Words,
        _ => {
            let mut zero: Option<u32> = None;
            let mut separator_position = 0;
            let mut separators = Vec::new();
            for c in primary_format.chars().rev() {
                let cp = c as u32;
                match DECIMAL_GROUPS.iter().find(|g| cp >= **g && cp <= **g + 9) {
                    Some(g) => {
                        format.mandatory_digits += 1;
                        separator_position += 1;
                        match zero {
                            None => zero = Some(*g),
                            Some(z) if z != *g => return Err(JsonataError::code("D3131")),
                            _ => {}
                        }
                    }
                    None => {
                        if c == '#' {
                            separator_position += 1;
                            format.optional_digits += 1;
                        } else {
                            separators.push(Separator {
                                position: separator_position,
                                character: c,
                            });
                        }
                    }
                }
            }
            if format.mandatory_digits > 0 {
                format.primary = Primary::Decimal;
                format.zero_code = zero.unwrap_or(0x30);
                let regular = regular_repeat(&separators);
                if regular > 0 {
                    format.regular = true;
                    format.separators = vec![Separator {
                        position: regular,
                        character: separators[0].character,
                    }];
                } else {
                    format.separators = separators;
                }
            } else {
                format.primary = Primary::Sequence;
            }
        }
    }
    Ok(format)
}

fn regular_repeat(separators: &[Separator]) -> usize {
    let Some(first) = separators.first() else {
        return 0;
    };
    if separators.iter().any(|s| s.character != first.character) {
        return 0;
    }
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let indexes: Vec<usize> = separators.iter().map(|s| s.position).collect();
    let factor = indexes.iter().copied().reduce(gcd).unwrap_or(0);
    for index in 1..=indexes.len() {
        if !indexes.contains(&(index * factor)) {
            return 0;
        }
    }
    factor
}

fn insert_at(s: &mut Vec<char>, pos: isize, c: char) {
    let pos = if pos < 0 {
        (s.len() as isize + pos).max(0) as usize
    } else {
        (pos as usize).min(s.len())
    };
    s.insert(pos, c);
}

/// `_formatInteger`.
pub(super) fn format_integer_with(value: f64, format: &IntegerFormat) -> Result<String> {
    let negative = value < 0.0;
    let value = value.abs();
    let mut out = match format.primary {
        Primary::Letters => {
            decimal_to_letters(value, if format.case == Case::Upper { 'A' } else { 'a' })
        }
        Primary::Roman => {
            let r = decimal_to_roman(value);
            if format.case == Case::Upper {
                r.to_uppercase()
            } else {
                r
            }
        }
        Primary::Words => {
            let w = number_to_words(value, format.ordinal);
            match format.case {
                Case::Upper => w.to_uppercase(),
                Case::Lower => w.to_lowercase(),
                Case::Title => w,
            }
        }
        Primary::Decimal => {
            let mut s: Vec<char> = js_to_string(value).chars().collect();
            if format.mandatory_digits > s.len() {
                let mut p = vec!['0'; format.mandatory_digits - s.len()];
                p.extend(s);
                s = p;
            }
            if format.zero_code != 0x30 {
                s = s
                    .into_iter()
                    .map(|c| char::from_u32(c as u32 + format.zero_code - 0x30).unwrap_or(c))
                    .collect();
            }
            if format.regular {
                let sep = &format.separators[0];
                let n = (s.len().saturating_sub(1)) / sep.position;
                for ii in (1..=n).rev() {
                    let pos = s.len() as isize - (ii * sep.position) as isize;
                    insert_at(&mut s, pos, sep.character);
                }
            } else {
                for sep in format.separators.iter().rev() {
                    let pos = s.len() as isize - sep.position as isize;
                    insert_at(&mut s, pos, sep.character);
                }
            }
            if format.ordinal {
                let last = s.last().copied();
                let mut suffix = match last {
                    Some('1') => "st",
                    Some('2') => "nd",
                    Some('3') => "rd",
                    _ => "th",
                };
                if s.len() > 1 && s[s.len() - 2] == '1' {
                    suffix = "th";
                }
                s.extend(suffix.chars());
            }
            s.into_iter().collect()
        }
        Primary::Sequence => return Err(JsonataError::code("D3130")),
    };
    if negative {
        out.insert(0, '-');
    }
    Ok(out)
}

/// `$formatInteger(value, picture)`.
pub(super) fn format_integer(value: f64, picture: &str) -> Result<String> {
    let format = analyse_integer_picture(picture)?;
    format_integer_with(value.floor(), &format)
}

#[derive(Clone, Debug)]
struct Marker {
    component: char,
    width_min: Option<f64>,
    width_max: Option<f64>,
    presentation1: String,
    presentation2: Option<char>,
    names: Option<Case>,
    integer_format: Option<IntegerFormat>,
    n: i64,
}

#[derive(Clone, Debug)]
enum Part {
    Literal(String),
    Marker(Marker),
}

fn default_presentation(c: char) -> Option<&'static str> {
    Some(match c {
        'Y' | 'M' | 'D' | 'd' | 'W' | 'w' | 'X' | 'x' | 'H' | 'h' | 'f' => "1",
        'F' | 'P' | 'C' | 'E' => "n",
        'm' | 's' => "01",
        'Z' | 'z' => "01:01",
        _ => return None,
    })
}

/// `parseInt` of a width modifier: leading digits, else NaN.
fn parse_width(w: Option<&str>) -> Option<f64> {
    let w = w?;
    if w == "*" {
        return None;
    }
    let t = w.trim_start();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    Some(digits.parse::<f64>().unwrap_or(f64::NAN))
}

fn analyse_date_time_picture(picture: &str) -> Result<Vec<Part>> {
    let chars: Vec<char> = picture.chars().collect();
    let mut spec = Vec::new();
    let add_literal = |spec: &mut Vec<Part>, start: usize, end: usize| {
        if end > start {
            let lit: String = chars[start..end].iter().collect();
            spec.push(Part::Literal(lit.replace("]]", "]")));
        }
    };
    let (mut start, mut pos) = (0usize, 0usize);
    while pos < chars.len() {
        if chars[pos] == '[' {
            if chars.get(pos + 1) == Some(&'[') {
                add_literal(&mut spec, start, pos);
                spec.push(Part::Literal("[".into()));
                pos += 2;
                start = pos;
                continue;
            }
            add_literal(&mut spec, start, pos);
            start = pos;
            let Some(close) = chars[start..].iter().position(|c| *c == ']') else {
                return Err(JsonataError::code("D3135"));
            };
            pos = start + close;
            let marker: String = chars[start + 1..pos]
                .iter()
                .filter(|c| !c.is_whitespace())
                .collect();
            let mchars: Vec<char> = marker.chars().collect();
            let component = mchars.first().copied().unwrap_or('\0');
            let mut def = Marker {
                component,
                width_min: None,
                width_max: None,
                presentation1: String::new(),
                presentation2: None,
                names: None,
                integer_format: None,
                n: 0,
            };
            let mut has_width = false;
            let pres_mod: String = match mchars.iter().rposition(|c| *c == ',') {
                Some(comma) => {
                    let width: String = mchars[comma + 1..].iter().collect();
                    let (min, max) = match width.find('-') {
                        None => (Some(width.as_str()), None),
                        Some(d) => (Some(&width[..d]), Some(&width[d + 1..])),
                    };
                    def.width_min = parse_width(min);
                    def.width_max = parse_width(max);
                    has_width = true;
                    mchars[1..comma].iter().collect()
                }
                None => mchars.iter().skip(1).collect(),
            };
            let pm: Vec<char> = pres_mod.chars().collect();
            if pm.len() == 1 {
                def.presentation1 = pres_mod.clone();
            } else if pm.len() > 1 {
                let last = pm[pm.len() - 1];
                if "atco".contains(last) {
                    def.presentation2 = Some(last);
                    def.presentation1 = pm[..pm.len() - 1].iter().collect();
                } else {
                    def.presentation1 = pres_mod.clone();
                }
            } else {
                match default_presentation(component) {
                    Some(p) => def.presentation1 = p.to_string(),
                    None => return Err(JsonataError::code("D3132")),
                }
            }
            let p1: Vec<char> = def.presentation1.chars().collect();
            if p1.first() == Some(&'n') {
                def.names = Some(Case::Lower);
            } else if p1.first() == Some(&'N') {
                def.names = Some(if p1.get(1) == Some(&'n') {
                    Case::Title
                } else {
                    Case::Upper
                });
            } else if "YMDdFWwXxHhmsf".contains(component) {
                let mut pattern = def.presentation1.clone();
                if let Some(p2) = def.presentation2 {
                    pattern.push(';');
                    pattern.push(p2);
                }
                let mut f = analyse_integer_picture(&pattern)?;
                if has_width {
                    if let Some(min) = def.width_min {
                        if (f.mandatory_digits as f64) < min {
                            f.mandatory_digits = min as usize;
                        }
                    }
                }
                if "YMD".contains(component) {
                    def.n = -1;
                    if let Some(max) = def.width_max {
                        def.n = max as i64;
                        f.mandatory_digits = max as usize;
                    } else {
                        let w = f.mandatory_digits + f.optional_digits;
                        if w >= 2 {
                            def.n = w as i64;
                        }
                    }
                }
                def.integer_format = Some(f);
            }
            if component == 'Z' || component == 'z' {
                def.integer_format = Some(analyse_integer_picture(&def.presentation1)?);
            }
            spec.push(Part::Marker(def));
            start = pos + 1;
        }
        pos += 1;
    }
    add_literal(&mut spec, start, pos.min(chars.len()));
    Ok(spec)
}

const DAYS: [&str; 8] = [
    "",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
/// `Date.UTC(year, month0)` with month overflow normalised.
fn utc(year: i64, month0: i64) -> i64 {
    let y = year + month0.div_euclid(12);
    let m = month0.rem_euclid(12);
    days_from_civil(y, m + 1, 1) * DAY_MS
}

fn start_of_first_week(year: i64, month0: i64) -> i64 {
    let jan1 = utc(year, month0);
    let mut dow = (jan1.div_euclid(DAY_MS) + 4).rem_euclid(7); // 0 = Sunday
    if dow == 0 {
        dow = 7;
    }
    if dow > 4 {
        jan1 + (8 - dow) * DAY_MS
    } else {
        jan1 - (dow - 1) * DAY_MS
    }
}

fn delta_weeks(start: i64, end: i64) -> f64 {
    (end - start) as f64 / (DAY_MS * 7) as f64 + 1.0
}

struct DateParts {
    t: i64,
    year: i64,
    month0: i64,
    day: i64,
    ms_of_day: i64,
}

impl DateParts {
    fn new(t: i64) -> Self {
        let (year, month, day) = civil_from_days(t.div_euclid(DAY_MS));
        DateParts {
            t,
            year,
            month0: month - 1,
            day,
            ms_of_day: t.rem_euclid(DAY_MS),
        }
    }

    fn today(&self) -> i64 {
        days_from_civil(self.year, self.month0 + 1, self.day) * DAY_MS
    }
}

enum Fragment {
    Num(f64),
    Text(&'static str),
    None,
}

fn fragment(d: &DateParts, component: char) -> Fragment {
    let hours = d.ms_of_day / 3_600_000;
    Fragment::Num(match component {
        'Y' => d.year as f64,
        'M' => (d.month0 + 1) as f64,
        'D' => d.day as f64,
        'd' => ((d.today() - utc(d.year, 0)) / DAY_MS + 1) as f64,
        'F' => {
            let dow = (d.t.div_euclid(DAY_MS) + 4).rem_euclid(7);
            if dow == 0 {
                7.0
            } else {
                dow as f64
            }
        }
        'W' => {
            let start = start_of_first_week(d.year, 0);
            let today = d.today();
            let mut week = delta_weeks(start, today);
            if week > 52.0 {
                if today >= start_of_first_week(d.year + 1, 0) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(d.year - 1, 0), today);
            }
            week.floor()
        }
        'w' => {
            let start = start_of_first_week(d.year, d.month0);
            let today = d.today();
            let mut week = delta_weeks(start, today);
            if week > 4.0 {
                if today >= start_of_first_week(d.year, d.month0 + 1) {
                    week = 1.0;
                }
            } else if week < 1.0 {
                week = delta_weeks(start_of_first_week(d.year, d.month0 - 1), today);
            }
            week.floor()
        }
        'X' => {
            let start = start_of_first_week(d.year, 0);
            let end = start_of_first_week(d.year + 1, 0);
            if d.t < start {
                (d.year - 1) as f64
            } else if d.t >= end {
                (d.year + 1) as f64
            } else {
                d.year as f64
            }
        }
        'x' => {
            let start = start_of_first_week(d.year, d.month0);
            let end = start_of_first_week(d.year, d.month0 + 1);
            if d.t < start {
                ((d.month0 - 1).rem_euclid(12) + 1) as f64
            } else if d.t >= end {
                ((d.month0 + 1).rem_euclid(12) + 1) as f64
            } else {
                (d.month0 + 1) as f64
            }
        }
        'H' => hours as f64,
        'h' => {
            let h = hours % 12;
            if h == 0 {
                12.0
            } else {
                h as f64
            }
        }
        'P' => return Fragment::Text(if hours >= 12 { "pm" } else { "am" }),
        'm' => (d.ms_of_day / 60_000 % 60) as f64,
        's' => (d.ms_of_day / 1000 % 60) as f64,
        'f' => (d.ms_of_day % 1000) as f64,
        'C' | 'E' => return Fragment::Text("ISO"),
        _ => return Fragment::None,
    })
}

fn format_component(
    d: &DateParts,
    m: &Marker,
    offset_hours: i64,
    offset_minutes: i64,
) -> Result<Option<String>> {
    let value = fragment(d, m.component);
    if "YMDdFWwXxHhms".contains(m.component) {
        let Fragment::Num(mut v) = value else {
            return Ok(None);
        };
        if m.component == 'Y' && m.n != -1 {
            v %= 10f64.powi(m.n as i32);
        }
        if let Some(case) = m.names {
            let name = match m.component {
                'M' | 'x' => MONTHS[(v as usize).saturating_sub(1).min(11)],
                'F' => DAYS[(v as usize).min(7)],
                _ => return Err(JsonataError::code("D3133")),
            };
            let mut name = match case {
                Case::Upper => name.to_uppercase(),
                Case::Lower => name.to_lowercase(),
                Case::Title => name.to_string(),
            };
            if let Some(max) = m.width_max {
                if (name.chars().count() as f64) > max {
                    name = name.chars().take(max as usize).collect();
                }
            }
            return Ok(Some(name));
        }
        let f = m
            .integer_format
            .as_ref()
            .ok_or_else(|| JsonataError::code("D3132"))?;
        return Ok(Some(format_integer_with(v, f)?));
    }
    if m.component == 'f' {
        let Fragment::Num(v) = value else {
            return Ok(None);
        };
        let f = m
            .integer_format
            .as_ref()
            .ok_or_else(|| JsonataError::code("D3132"))?;
        return Ok(Some(format_integer_with(v, f)?));
    }
    if m.component == 'Z' || m.component == 'z' {
        let offset = offset_hours * 100 + offset_minutes;
        let f = m
            .integer_format
            .as_ref()
            .ok_or_else(|| JsonataError::code("D3132"))?;
        let mut s = if f.regular {
            format_integer_with(offset as f64, f)?
        } else {
            match f.mandatory_digits {
                1 | 2 => {
                    let mut s = format_integer_with(offset_hours as f64, f)?;
                    if offset_minutes != 0 {
                        s.push(':');
                        s.push_str(&format_integer(offset_minutes as f64, "00")?);
                    }
                    s
                }
                3 | 4 => format_integer_with(offset as f64, f)?,
                _ => return Err(JsonataError::code("D3134")),
            }
        };
        if offset >= 0 {
            s.insert(0, '+');
        }
        if m.component == 'z' {
            s.insert_str(0, "GMT");
        }
        if offset == 0 && m.presentation2 == Some('t') {
            s = "Z".into();
        }
        return Ok(Some(s));
    }
    Ok(match value {
        Fragment::Text(t) => Some(t.to_string()),
        Fragment::Num(n) => Some(js_to_string(n)),
        Fragment::None => None,
    })
}

/// `parseInt(timezone)` split into hours and minutes as jsonata does.
fn parse_timezone(tz: Option<&str>) -> Result<(i64, i64)> {
    let Some(tz) = tz else {
        return Ok((0, 0));
    };
    let t = tz.trim_start();
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(n) = digits.parse::<i64>() else {
        return Err(JsonataError::unsupported("a timezone that is not ±hhmm"));
    };
    let offset = sign * n;
    Ok((offset.div_euclid(100), offset % 100))
}

const ISO_PICTURE: &str = "[Y0001]-[M01]-[D01]T[H01]:[m01]:[s01].[f001][Z01:01t]";

/// `formatDateTime(millis, picture, timezone)`.
pub(super) fn format_date_time(
    millis: f64,
    picture: Option<&str>,
    tz: Option<&str>,
) -> Result<String> {
    let (oh, om) = parse_timezone(tz)?;
    let spec = analyse_date_time_picture(picture.unwrap_or(ISO_PICTURE))?;
    let shifted = millis + ((60 * oh + om) * 60_000) as f64;
    // new Date(x) truncates to whole milliseconds; beyond ±8.64e15 it is invalid.
    if !shifted.is_finite() || shifted.abs() > 8.64e15 {
        return Err(JsonataError::unsupported("formatting an invalid date"));
    }
    let d = DateParts::new(shifted.trunc() as i64);
    let mut out = String::new();
    for part in &spec {
        match part {
            Part::Literal(l) => out.push_str(l),
            Part::Marker(m) => match format_component(&d, m, oh, om)? {
                Some(s) => out.push_str(&s),
                None => out.push_str("undefined"),
            },
        }
    }
    Ok(out)
}

/// `wordValues` of datetime.js, in its key (insertion) order, which the
/// words regex alternation depends on.
fn word_values() -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut set = |k: String, v: f64| match out.iter_mut().find(|(kk, _)| *kk == k) {
        Some(e) => e.1 = v,
        None => out.push((k, v)),
    };
    for (i, w) in FEW.iter().enumerate() {
        set(w.to_lowercase(), i as f64);
    }
    for (i, w) in ORDINALS.iter().enumerate() {
        set(w.to_lowercase(), i as f64);
    }
    for (i, w) in DECADES.iter().enumerate() {
        let l = w.to_lowercase();
        let v = ((i + 2) * 10) as f64;
        set(l.clone(), v);
        set(format!("{}ieth", &l[..l.len() - 1]), v);
    }
    set("hundredth".into(), 100.0);
    for (i, w) in MAGNITUDES.iter().enumerate() {
        let l = w.to_lowercase();
        let v = 10f64.powi((i as i32 + 1) * 3);
        set(l.clone(), v);
        set(format!("{l}th"), v);
    }
    out
}

fn words_to_number(text: &str) -> f64 {
    let values = word_values();
    let splitter = fancy_regex::Regex::new(r",\s|\sand\s|[\s\\-]").expect("static regex");
    let mut parts = Vec::new();
    let mut last = 0;
    let mut pos = 0;
    while pos <= text.len() {
        match splitter.find_from_pos(text, pos) {
            Ok(Some(m)) if m.end() > m.start() => {
                parts.push(&text[last..m.start()]);
                last = m.end();
                pos = m.end();
            }
            _ => break,
        }
    }
    parts.push(&text[last..]);
    let mut segs: Vec<f64> = vec![0.0];
    for part in parts {
        let value = values.iter().find(|(k, _)| k == part).map(|(_, v)| *v);
        match value {
            Some(v) if v < 100.0 => {
                let mut top = segs.pop().unwrap_or(0.0);
                if top >= 1000.0 {
                    segs.push(top);
                    top = 0.0;
                }
                segs.push(top + v);
            }
            other => {
                let top = segs.pop().unwrap_or(0.0);
                segs.push(top * other.unwrap_or(f64::NAN));
            }
        }
    }
    segs.iter().sum()
}

fn roman_to_decimal(roman: &str) -> f64 {
    let mut decimal = 0.0;
    let mut max = Some(1.0);
    for c in roman.chars().rev() {
        let value = match c {
            'M' => Some(1000.0),
            'D' => Some(500.0),
            'C' => Some(100.0),
            'L' => Some(50.0),
            'X' => Some(10.0),
            'V' => Some(5.0),
            'I' => Some(1.0),
            _ => None,
        };
        match (value, max) {
            (Some(v), Some(m)) if v < m => decimal -= v,
            (v, _) => {
                max = v;
                decimal += v.unwrap_or(f64::NAN);
            }
        }
    }
    decimal
}

fn letters_to_decimal(letters: &str, a: char) -> f64 {
    let units: Vec<u16> = letters.encode_utf16().collect();
    let mut decimal = 0.0;
    for (i, u) in units.iter().rev().enumerate() {
        decimal += (*u as f64 - a as u32 as f64 + 1.0) * 26f64.powi(i as i32);
    }
    decimal
}

/// JavaScript `parseInt(s)` in base 10.
fn parse_int(s: &str) -> f64 {
    let t = s.trim_start();
    let (sign, rest) = match t.as_bytes().first() {
        Some(b'-') => (-1.0, &t[1..]),
        Some(b'+') => (1.0, &t[1..]),
        _ => (1.0, t),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    match digits.parse::<f64>() {
        Ok(n) => sign * n,
        Err(_) => f64::NAN,
    }
}

/// Reads a matched component's text; `None` is JavaScript's `undefined`.
type ParseFn = Box<dyn Fn(&str) -> Option<f64>>;

/// How to find and read one component of a picture (`generateRegex`).
struct Matcher {
    regex: String,
    component: char,
    parse: Option<ParseFn>,
}

fn integer_matcher(format: &IntegerFormat, n: Option<i64>) -> Result<Matcher> {
    let upper = format.case == Case::Upper;
    let occurrences = match n {
        Some(n) if n > 0 => {
            if format.optional_digits == 0 {
                format!("{{{n}}}")
            } else {
                format!("{{{},{n}}}", n - format.optional_digits as i64)
            }
        }
        _ => "+".to_string(),
    };
    let f = format.clone();
    Ok(match format.primary {
        Primary::Letters => Matcher {
            regex: if upper { "[A-Z]+" } else { "[a-z]+" }.into(),
            component: '\0',
            parse: Some(Box::new(move |v| {
                Some(letters_to_decimal(v, if upper { 'A' } else { 'a' }))
            })),
        },
        Primary::Roman => Matcher {
            regex: if upper { "[MDCLXVI]+" } else { "[mdclxvi]+" }.into(),
            component: '\0',
            parse: Some(Box::new(move |v| {
                Some(roman_to_decimal(&if upper {
                    v.to_string()
                } else {
                    v.to_uppercase()
                }))
            })),
        },
        Primary::Words => {
            let mut alts: Vec<String> = word_values().into_iter().map(|(k, _)| k).collect();
            alts.push("and".into());
            alts.push("[\\-, ]".into());
            Matcher {
                regex: format!("(?:{})+", alts.join("|")),
                component: '\0',
                parse: Some(Box::new(|v| Some(words_to_number(&v.to_lowercase())))),
            }
        }
        Primary::Decimal => {
            let mut regex = format!("[0-9]{occurrences}");
            if format.ordinal {
                regex.push_str("(?:th|st|nd|rd)");
            }
            Matcher {
                regex,
                component: '\0',
                parse: Some(Box::new(move |v| {
                    let mut digits: String = v.to_string();
                    if f.ordinal {
                        let units: Vec<u16> = digits.encode_utf16().collect();
                        digits = String::from_utf16_lossy(&units[..units.len().saturating_sub(2)]);
                    }
                    if f.regular {
                        digits = digits.replace(',', "");
                    } else {
                        for sep in &f.separators {
                            digits = digits.replace(sep.character, "");
                        }
                    }
                    if f.zero_code != 0x30 {
                        digits = digits
                            .chars()
                            .map(|c| char::from_u32(c as u32 - f.zero_code + 0x30).unwrap_or(c))
                            .collect();
                    }
                    Some(parse_int(&digits))
                })),
            }
        }
        Primary::Sequence => return Err(JsonataError::code("D3130")),
    })
}

fn escape_literal(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if ".*+?^${}()|[]\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn date_time_matchers(spec: &[Part]) -> Result<Vec<Matcher>> {
    let mut out = Vec::new();
    for part in spec {
        let m = match part {
            Part::Literal(l) => Matcher {
                regex: escape_literal(l),
                component: '\0',
                parse: None,
            },
            Part::Marker(mk) if mk.component == 'Z' || mk.component == 'z' => {
                let f = mk
                    .integer_format
                    .as_ref()
                    .ok_or_else(|| JsonataError::code("D3132"))?;
                let separator = if f.regular {
                    f.separators.first().map(|s| s.character)
                } else {
                    None
                };
                let mut regex = String::new();
                let z = mk.component == 'z';
                if z {
                    regex.push_str("GMT");
                }
                regex.push_str("[-+][0-9]+");
                if let Some(sep) = separator {
                    regex.push(sep);
                    regex.push_str("[0-9]+");
                }
                Matcher {
                    regex,
                    component: mk.component,
                    parse: Some(Box::new(move |v| {
                        let v: String = if z {
                            v.chars().skip(3).collect()
                        } else {
                            v.to_string()
                        };
                        let (hours, minutes) = match separator {
                            Some(sep) => {
                                let i = v.find(sep).unwrap_or(v.len());
                                (
                                    parse_int(&v[..i]),
                                    parse_int(v.get(i + sep.len_utf8()..).unwrap_or("")),
                                )
                            }
                            None => {
                                let n = v.chars().count().saturating_sub(1);
                                if n <= 2 {
                                    (parse_int(&v), 0.0)
                                } else {
                                    let head: String = v.chars().take(3).collect();
                                    let tail: String = v.chars().skip(3).collect();
                                    (parse_int(&head), parse_int(&tail))
                                }
                            }
                        };
                        Some(hours * 60.0 + minutes)
                    })),
                }
            }
            Part::Marker(mk) if mk.component == 'f' => Matcher {
                regex: "[0-9]+".into(),
                component: 'f',
                parse: Some(Box::new(|v| {
                    let head: String = v.chars().take(3).collect();
                    Some(format!("0.{head}").parse::<f64>().unwrap_or(f64::NAN) * 1000.0)
                })),
            },
            Part::Marker(mk) => {
                if let Some(f) = &mk.integer_format {
                    let n = if "YMD".contains(mk.component) {
                        Some(mk.n)
                    } else {
                        None
                    };
                    let mut m = integer_matcher(f, n)?;
                    m.component = mk.component;
                    m
                } else {
                    let max = mk.width_max.filter(|m| *m > 0.0 && !m.is_nan());
                    let cut = |name: &str| -> String {
                        match max {
                            Some(m) => name.chars().take(m as usize).collect(),
                            None => name.to_string(),
                        }
                    };
                    let lookup: Vec<(String, f64)> = match mk.component {
                        'M' | 'x' => MONTHS
                            .iter()
                            .enumerate()
                            .map(|(i, n)| (cut(n), (i + 1) as f64))
                            .collect(),
                        'F' => DAYS
                            .iter()
                            .enumerate()
                            .skip(1)
                            .map(|(i, n)| (cut(n), i as f64))
                            .collect(),
                        'P' => vec![
                            ("am".into(), 0.0),
                            ("AM".into(), 0.0),
                            ("pm".into(), 1.0),
                            ("PM".into(), 1.0),
                        ],
                        _ => return Err(JsonataError::code("D3133")),
                    };
                    Matcher {
                        regex: "[a-zA-Z]+".into(),
                        component: mk.component,
                        parse: Some(Box::new(move |v| {
                            // Later duplicates win, as in an object literal.
                            lookup.iter().rev().find(|(k, _)| k == v).map(|(_, n)| *n)
                        })),
                    }
                }
            }
        };
        out.push(m);
    }
    Ok(out)
}

/// `$parseInteger(value, picture)`.
pub(super) fn parse_integer(value: &str, picture: &str) -> Result<f64> {
    let format = analyse_integer_picture(picture)?;
    let m = integer_matcher(&format, None)?;
    Ok(m.parse.and_then(|p| p(value)).unwrap_or(f64::NAN))
}

/// `Date.UTC(y, m, d, h, min, s, ms)`.
fn date_utc(c: [f64; 7]) -> f64 {
    if c.iter().any(|v| !v.is_finite()) {
        return f64::NAN;
    }
    let [y, m, d, h, min, s, ms] = c.map(f64::trunc);
    let y = if (0.0..=99.0).contains(&y) {
        1900.0 + y
    } else {
        y
    };
    if y.abs() > 400_000.0 || m.abs() > 1e7 || d.abs() > 1e9 {
        return f64::NAN;
    }
    let days = make_day(y, m, d);
    let t = days * DAY_MS as f64 + h * 3_600_000.0 + min * 60_000.0 + s * 1000.0 + ms;
    if t.abs() > 8.64e15 {
        f64::NAN
    } else {
        t
    }
}

/// `parseDateTime`: `None` when the timestamp does not match the picture.
pub(super) fn parse_date_time(timestamp: &str, picture: &str, now_ms: f64) -> Result<Option<f64>> {
    let spec = analyse_date_time_picture(picture)?;
    let matchers = date_time_matchers(&spec)?;
    let full = format!(
        "(?i)^{}$",
        matchers
            .iter()
            .map(|m| format!("({})", m.regex))
            .collect::<String>()
    );
    let re = fancy_regex::Regex::new(&full)
        .map_err(|e| JsonataError::unsupported(format!("date picture regex: {e}")))?;
    let caps = re
        .captures(timestamp)
        .map_err(|e| JsonataError::unsupported(format!("date picture regex: {e}")))?;
    let Some(caps) = caps else {
        return Ok(None);
    };
    // component -> parsed value (None: the lookup found nothing, JS undefined)
    let mut comps: Vec<(char, Option<f64>)> = Vec::new();
    for (i, m) in matchers.iter().enumerate() {
        if let Some(p) = &m.parse {
            let text = caps.get(i + 1).map(|g| g.as_str()).unwrap_or("");
            let v = p(text);
            match comps.iter_mut().find(|(c, _)| *c == m.component) {
                Some(e) => e.1 = v,
                None => comps.push((m.component, v)),
            }
        }
    }
    if comps.is_empty() {
        return Ok(None);
    }
    let get = |comps: &Vec<(char, Option<f64>)>, c: char| -> Option<f64> {
        comps.iter().find(|(k, _)| *k == c).and_then(|(_, v)| *v)
    };
    // JS truthiness of a parsed component (0 and NaN count as absent).
    let truthy = |v: Option<f64>| v.is_some_and(|n| n != 0.0 && !n.is_nan());
    let mask_of = |comps: &Vec<(char, Option<f64>)>, order: &str| -> u32 {
        order
            .chars()
            .fold(0, |m, c| (m << 1) + u32::from(truthy(get(comps, c))))
    };
    let is_type = |ty: u32, mask: u32| (!ty & mask) == 0 && (ty & mask) != 0;
    let dmask = mask_of(&comps, "YXMxWwdD");
    let date_a = is_type(161, dmask);
    let date_b = !date_a && is_type(130, dmask);
    let date_c = is_type(84, dmask);
    let date_d = !date_c && is_type(72, dmask);
    let tmask = mask_of(&comps, "PHhmsf");
    let time_a = is_type(23, tmask);
    let time_b = !time_a && is_type(47, tmask);
    let date_comps = if date_b {
        "YD"
    } else if date_c {
        "XxwF"
    } else if date_d {
        "XWF"
    } else {
        "YMD"
    };
    let time_comps = if time_b { "Phmsf" } else { "Hmsf" };
    let now = DateParts::new(now_ms.trunc() as i64);
    // Values after defaulting; `present` tracks JS `typeof !== 'undefined'`.
    let mut values: Vec<(char, f64)> = comps
        .iter()
        .filter_map(|(c, v)| v.map(|v| (*c, v)))
        .collect();
    let present = |values: &Vec<(char, f64)>, c: char| values.iter().any(|(k, _)| *k == c);
    let (mut start_specified, mut end_specified) = (false, false);
    for part in format!("{date_comps}{time_comps}").chars() {
        if !present(&values, part) {
            if start_specified {
                values.push((part, if "MDd".contains(part) { 1.0 } else { 0.0 }));
                end_specified = true;
            } else {
                let v = match fragment(&now, part) {
                    Fragment::Num(n) => n,
                    // 'am'/'pm' from the clock: defined, but never equal to 1.
                    _ => f64::NAN,
                };
                values.push((part, v));
            }
        } else {
            start_specified = true;
            if end_specified {
                return Err(JsonataError::code("D3136"));
            }
        }
    }
    let val = |c: char| values.iter().find(|(k, _)| *k == c).map(|(_, v)| *v);
    let mut month = match val('M') {
        Some(m) if m > 0.0 => m - 1.0,
        _ => 0.0,
    };
    let mut day = val('D').unwrap_or(f64::NAN);
    let year = val('Y').unwrap_or(f64::NAN);
    if date_b {
        let first_jan = date_utc([year, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]);
        let derived = first_jan + (val('d').unwrap_or(f64::NAN) - 1.0) * DAY_MS as f64;
        if derived.is_finite() {
            let d = DateParts::new(derived.trunc() as i64);
            month = d.month0 as f64;
            day = d.day as f64;
        } else {
            month = f64::NAN;
            day = f64::NAN;
        }
    }
    if date_c || date_d {
        return Err(JsonataError::code("D3136"));
    }
    let mut hour = val('H').unwrap_or(f64::NAN);
    if time_b {
        let h = val('h').unwrap_or(f64::NAN);
        hour = if h == 12.0 { 0.0 } else { h };
        if val('P') == Some(1.0) {
            hour += 12.0;
        }
    }
    let mut millis = date_utc([
        year,
        month,
        day,
        hour,
        val('m').unwrap_or(f64::NAN),
        val('s').unwrap_or(f64::NAN),
        val('f').unwrap_or(f64::NAN),
    ]);
    let zone = val('Z').filter(|z| *z != 0.0 && !z.is_nan()).or(val('z'));
    if let Some(z) = zone.filter(|z| *z != 0.0 && !z.is_nan()) {
        millis -= z * 60.0 * 1000.0;
    }
    Ok(Some(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(format_integer(42.0, "000").unwrap(), "042");
        assert_eq!(format_integer(1234567.0, "#,##0").unwrap(), "1,234,567");
        assert_eq!(format_integer(1999.0, "I").unwrap(), "MCMXCIX");
        assert_eq!(format_integer(28.0, "a").unwrap(), "ab");
        assert_eq!(format_integer(21.0, "w").unwrap(), "twenty-one");
        assert_eq!(format_integer(3.0, "1;o").unwrap(), "3rd");
    }

    #[test]
    fn iso_default() {
        assert_eq!(
            format_date_time(1_710_498_030_000.0, None, None).unwrap(),
            "2024-03-15T10:20:30.000Z"
        );
        assert_eq!(
            format_date_time(1_710_498_030_000.0, None, Some("+0130")).unwrap(),
            "2024-03-15T11:50:30.000+01:30"
        );
    }
}
