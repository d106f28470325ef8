//! String building for `$tpl` and `$concat`: JavaScript's `String.prototype.replace`
//! with a global regular expression (the `$tpl` key is a regex source, unescaped) and
//! its `$&`-style replacement patterns.

use crate::error::{Result, RuntimeError};
use regex::Regex;
use std::cell::RefCell;
use std::collections::HashMap;

const REGEX_META: &[char] = &[
    '\\', '^', '$', '.', '|', '?', '*', '+', '(', ')', '[', ']', '{', '}',
];
const CACHE_LIMIT: usize = 256;

thread_local! {
    /// Compiling a regex costs far more than using it, and mappings reuse few keys.
    static COMPILED: RefCell<HashMap<String, Regex>> = RefCell::new(HashMap::new());
}

/// The text `{key}` matches when the key has no regex metacharacters (it then matches
/// itself literally and needs no regex).
pub(super) fn literal_needle(key: &str) -> Option<String> {
    (!key.contains(REGEX_META)).then(|| format!("{{{key}}}"))
}

/// `replace_placeholder` for a key [`literal_needle`] accepted.
pub(super) fn replace_literal(template: &str, needle: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for (start, m) in template.match_indices(needle) {
        out.push_str(&template[last..start]);
        expand(&mut out, replacement, template, start, start + m.len(), &[]);
        last = start + m.len();
    }
    out.push_str(&template[last..]);
    out
}

/// `template.replace(new RegExp('\\{' + key + '\\}', 'g'), replacement)`.
pub(super) fn replace_placeholder(template: &str, key: &str, replacement: &str) -> Result<String> {
    if let Some(needle) = literal_needle(key) {
        return Ok(replace_literal(template, &needle, replacement));
    }
    let pattern = format!(r"\{{{key}\}}");
    let re = COMPILED.with(|cache| -> Result<Regex> {
        if let Some(re) = cache.borrow().get(&pattern) {
            return Ok(re.clone());
        }
        let re = Regex::new(&pattern).map_err(|e| {
            RuntimeError::Syntax(format!("Invalid regular expression: /{pattern}/: {e}"))
        })?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(pattern.clone(), re.clone());
        Ok(re)
    })?;
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for caps in re.captures_iter(template) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&template[last..m.start()]);
        let groups: Vec<Option<&str>> =
            caps.iter().skip(1).map(|g| g.map(|g| g.as_str())).collect();
        expand(&mut out, replacement, template, m.start(), m.end(), &groups);
        last = m.end();
    }
    out.push_str(&template[last..]);
    Ok(out)
}

/// `GetSubstitution`: `$$`, `$&`, `` $` ``, `$'` and `$n`/`$nn` for existing groups.
fn expand(
    out: &mut String,
    replacement: &str,
    subject: &str,
    start: usize,
    end: usize,
    groups: &[Option<&str>],
) {
    if !replacement.contains('$') {
        out.push_str(replacement);
        return;
    }
    let count = groups.len();
    let bytes = replacement.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            match bytes[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                    continue;
                }
                b'&' => {
                    out.push_str(&subject[start..end]);
                    i += 2;
                    continue;
                }
                b'`' => {
                    out.push_str(&subject[..start]);
                    i += 2;
                    continue;
                }
                b'\'' => {
                    out.push_str(&subject[end..]);
                    i += 2;
                    continue;
                }
                d if d.is_ascii_digit() => {
                    let one = usize::from(d - b'0');
                    let two = bytes
                        .get(i + 2)
                        .filter(|c| c.is_ascii_digit())
                        .map(|c| one * 10 + usize::from(c - b'0'));
                    if let Some(n) = two.filter(|n| *n >= 1 && *n <= count) {
                        out.push_str(groups[n - 1].unwrap_or(""));
                        i += 3;
                        continue;
                    }
                    if one >= 1 && one <= count {
                        out.push_str(groups[one - 1].unwrap_or(""));
                        i += 2;
                        continue;
                    }
                }
                _ => {}
            }
        }
        let ch = replacement[i..]
            .chars()
            .next()
            .expect("index is on a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_a_regex_and_dollar_patterns_expand() {
        assert_eq!(
            replace_placeholder("{a.b} {axb}", "a.b", "X").unwrap(),
            "X X"
        );
        assert_eq!(
            replace_placeholder("<{n}>", "n", "[$&]").unwrap(),
            "<[{n}]>"
        );
        assert_eq!(replace_placeholder("{n}", "n", "$$1").unwrap(), "$1");
        assert!(replace_placeholder("{n}", "(", "x").is_err());
    }
}
