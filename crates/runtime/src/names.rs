//! Person-name splitting for `$firstName` / `$lastName`: a port of `humanparser`
//! 2.7 `parseName`, which the SDK calls. Salutations, suffixes, compound last names
//! ("van der Berg") and the "Last, First" form follow its rules exactly.

use crate::js::{is_js_whitespace, js_trim};

const SALUTATIONS: [&str; 20] = [
    "mr",
    "master",
    "mister",
    "mrs",
    "miss",
    "ms",
    "dr",
    "prof",
    "rev",
    "fr",
    "judge",
    "honorable",
    "hon",
    "tuan",
    "sr",
    "srta",
    "br",
    "pr",
    "mx",
    "sra",
];
const SUFFIXES: [&str; 19] = [
    "i", "ii", "iii", "iv", "v", "senior", "junior", "jr", "sr", "phd", "apr", "rph", "pe", "md",
    "ma", "dmd", "cme", "qc", "kc",
];
const COMPOUND: [&str; 25] = [
    "vere", "von", "van", "de", "del", "della", "der", "den", "di", "da", "pietro", "vanden", "du",
    "st.", "st", "la", "lo", "ter", "bin", "ibn", "te", "ten", "op", "ben", "al",
];

#[derive(Debug, Default, Clone, PartialEq)]
pub struct ParsedName {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub middle_name: Option<String>,
    pub salutation: Option<String>,
    pub suffix: Option<String>,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn word_boundary(chars: &[char], i: usize) -> bool {
    let before = i > 0 && is_word(chars[i - 1]);
    let after = i < chars.len() && is_word(chars[i]);
    before != after
}

/// `.replace(/\b\s+(,\s+)\b/, '$1')`: drops the whitespace before the first ", ".
fn fix_space_before_comma(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    for start in 0..chars.len() {
        if !word_boundary(&chars, start) || !is_js_whitespace(chars[start]) {
            continue;
        }
        let mut i = start;
        while i < chars.len() && is_js_whitespace(chars[i]) {
            i += 1;
        }
        // Backtrack over the greedy whitespace run to find `,\s+\b`.
        let mut ws_end = i;
        while ws_end > start {
            if ws_end < chars.len() && chars[ws_end] == ',' {
                let mut j = ws_end + 1;
                let ws2 = j;
                while j < chars.len() && is_js_whitespace(chars[j]) {
                    j += 1;
                }
                // `\s+` is greedy but may give back characters to satisfy `\b`.
                let mut end = j;
                while end > ws2 {
                    if word_boundary(&chars, end) {
                        let mut out: String = chars[..start].iter().collect();
                        out.extend(&chars[ws_end..end]);
                        out.extend(&chars[end..]);
                        return out;
                    }
                    end -= 1;
                }
            }
            ws_end -= 1;
        }
    }
    s.to_string()
}

/// `.replace(/\b,\b/, ', ')`.
fn fix_comma_without_space(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    for i in 0..chars.len() {
        if chars[i] == ',' && word_boundary(&chars, i) && word_boundary(&chars, i + 1) {
            let mut out: String = chars[..i].iter().collect();
            out.push_str(", ");
            out.extend(&chars[i + 1..]);
            return out;
        }
    }
    s.to_string()
}

/// `parts.match(/[^\s"]+|"[^"]+"/g) || parts.split(/\s+/)`, then unquoting.
fn tokenize(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !is_js_whitespace(c) && c != '"' {
            let start = i;
            while i < chars.len() && !is_js_whitespace(chars[i]) && chars[i] != '"' {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect::<String>());
            continue;
        }
        if c == '"' {
            if let Some(close) = chars[i + 1..]
                .iter()
                .position(|x| *x == '"')
                .filter(|p| *p > 0)
            {
                tokens.push(chars[i..i + close + 2].iter().collect::<String>());
                i += close + 2;
                continue;
            }
        }
        i += 1;
    }
    if tokens.is_empty() {
        tokens = split_whitespace_js(s);
    }
    tokens
        .into_iter()
        .map(|t| {
            let quoted = t.len() >= 2
                && t.starts_with('"')
                && t.ends_with('"')
                && !t[1..t.len() - 1].contains(['\n', '\r', '\u{2028}', '\u{2029}']);
            if quoted {
                t[1..t.len() - 1].to_string()
            } else {
                t
            }
        })
        .collect()
}

fn split_whitespace_js(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_ws = false;
    for c in s.chars() {
        if is_js_whitespace(c) {
            if !in_ws {
                out.push(String::new());
                in_ws = true;
            }
        } else {
            in_ws = false;
            out.last_mut().expect("never empty").push(c);
        }
    }
    out
}

fn key(part: &str) -> String {
    part.to_lowercase().replace('.', "")
}

fn replace_first_comma(s: &str) -> String {
    s.replacen(',', "", 1)
}

/// `humanparser.parseName(name)`.
pub fn parse_name(name: &str) -> ParsedName {
    let cleaned = fix_comma_without_space(&fix_space_before_comma(js_trim(name)));
    let mut parts = tokenize(&cleaned);
    let mut attrs = ParsedName::default();
    if parts.is_empty() {
        return attrs;
    }
    if parts.len() == 1 {
        attrs.first_name = Some(parts[0].clone());
    }
    if parts.len() > 1 && SUFFIXES.contains(&key(parts.last().expect("len > 1")).as_str()) {
        attrs.suffix = parts.pop();
        let last = parts.len() - 1;
        parts[last] = replace_first_comma(&parts[last]);
    }
    let first_name_first = parts.iter().all(|p| !p.contains(','));
    if !first_name_first {
        let mut last_name_parts = Vec::new();
        let mut first_name_index = 0;
        for (index, current) in parts.iter().enumerate() {
            if !current.contains(',') {
                last_name_parts.push(current.clone());
                continue;
            }
            let current = replace_first_comma(current);
            if SUFFIXES.contains(&key(&current).as_str()) {
                attrs.suffix = Some(current);
            } else {
                last_name_parts.push(current);
            }
            first_name_index = index + 1;
            break;
        }
        attrs.last_name = Some(last_name_parts.join(" "));
        let mut remaining: Vec<String> = parts[first_name_index.min(parts.len())..].to_vec();
        if remaining.len() > 1 {
            attrs.first_name = Some(remaining.remove(0));
            attrs.middle_name = Some(remaining.join(" "));
        } else if let Some(only) = remaining.pop() {
            attrs.first_name = Some(only);
        }
    } else {
        if parts.len() > 1 && SALUTATIONS.contains(&key(&parts[0]).as_str()) {
            attrs.salutation = Some(parts.remove(0));
            if parts.len() == 1 {
                attrs.last_name = Some(parts.remove(0));
            } else {
                attrs.first_name = Some(parts.remove(0));
            }
        } else {
            attrs.first_name = Some(parts.remove(0));
        }
        if attrs.last_name.as_deref().is_none_or(str::is_empty) {
            attrs.last_name = Some(parts.pop().unwrap_or_default());
        }
        let compound_parts: Vec<String> = parts
            .iter()
            .rev()
            .take_while(|p| COMPOUND.contains(&key(p).as_str()))
            .cloned()
            .collect();
        if !compound_parts.is_empty() {
            let mut reversed = compound_parts.clone();
            reversed.reverse();
            attrs.last_name = Some(format!(
                "{} {}",
                reversed.join(" "),
                attrs.last_name.unwrap_or_default()
            ));
            parts = symmetric_unique(&parts, &compound_parts);
        }
        if !parts.is_empty() {
            attrs.middle_name = Some(parts.join(" "));
        }
        if let Some(l) = attrs.last_name.as_mut().filter(|l| !l.is_empty()) {
            *l = replace_first_comma(l);
        }
    }
    let trim = |v: Option<String>| v.map(|s| js_trim(&s).to_string());
    ParsedName {
        first_name: trim(attrs.first_name),
        last_name: trim(attrs.last_name),
        middle_name: trim(attrs.middle_name),
        salutation: trim(attrs.salutation),
        suffix: trim(attrs.suffix),
    }
}

/// humanparser's `diff`: items of both lists that occur exactly once in their union.
fn symmetric_unique(a: &[String], b: &[String]) -> Vec<String> {
    let all: Vec<&String> = a.iter().chain(b).collect();
    all.iter()
        .filter(|v| all.iter().filter(|w| w == v).count() == 1)
        .map(|v| (*v).clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_from_the_spec() {
        let p = parse_name("Dr. John Q. Public Jr.");
        assert_eq!(p.first_name.as_deref(), Some("John"));
        assert_eq!(p.last_name.as_deref(), Some("Public"));
        let c = parse_name("Cher");
        assert_eq!(c.first_name.as_deref(), Some("Cher"));
        assert_eq!(c.last_name.as_deref(), Some(""));
        let v = parse_name("Ludwig van Beethoven");
        assert_eq!(v.last_name.as_deref(), Some("van Beethoven"));
        let l = parse_name("Smith, John");
        assert_eq!(
            (l.first_name.as_deref(), l.last_name.as_deref()),
            (Some("John"), Some("Smith"))
        );
    }
}
