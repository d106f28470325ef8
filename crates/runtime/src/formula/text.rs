//! String building for `$tpl` and `$concat`: JavaScript's `String.prototype.replace`
//! with a global regular expression (the `$tpl` key is a regex source, unescaped) and
//! its `$&`-style replacement patterns.

use crate::error::{Result, RuntimeError};
use regex::Regex;

/// `template.replace(new RegExp('\\{' + key + '\\}', 'g'), replacement)`.
pub(super) fn replace_placeholder(template: &str, key: &str, replacement: &str) -> Result<String> {
    let pattern = format!(r"\{{{key}\}}");
    let re = Regex::new(&pattern).map_err(|e| {
        RuntimeError::Syntax(format!("Invalid regular expression: /{pattern}/: {e}"))
    })?;
    let groups = re.captures_len() - 1;
    let mut out = String::with_capacity(template.len());
    let mut last = 0;
    for caps in re.captures_iter(template) {
        let m = caps.get(0).expect("group 0 always matches");
        out.push_str(&template[last..m.start()]);
        expand(&mut out, replacement, template, &caps, groups);
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
    caps: &regex::Captures<'_>,
    groups: usize,
) {
    let m = caps.get(0).expect("group 0 always matches");
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
                    out.push_str(m.as_str());
                    i += 2;
                    continue;
                }
                b'`' => {
                    out.push_str(&subject[..m.start()]);
                    i += 2;
                    continue;
                }
                b'\'' => {
                    out.push_str(&subject[m.end()..]);
                    i += 2;
                    continue;
                }
                d if d.is_ascii_digit() => {
                    let one = usize::from(d - b'0');
                    let two = bytes
                        .get(i + 2)
                        .filter(|c| c.is_ascii_digit())
                        .map(|c| one * 10 + usize::from(c - b'0'));
                    if let Some(n) = two.filter(|n| *n >= 1 && *n <= groups) {
                        out.push_str(caps.get(n).map(|g| g.as_str()).unwrap_or(""));
                        i += 3;
                        continue;
                    }
                    if one >= 1 && one <= groups {
                        out.push_str(caps.get(one).map(|g| g.as_str()).unwrap_or(""));
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
