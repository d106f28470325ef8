//! JSONata regex literals (`/ab+c/i`) on top of `fancy-regex`, which supports the
//! backreferences and look-around that JavaScript regexes allow.
//!
//! JavaScript's `\d` and `\w` are ASCII-only while Rust's are Unicode, so they are
//! rewritten to explicit ASCII classes. Offsets are kept in UTF-8 bytes here and
//! converted to UTF-16 units (JavaScript string indexes) where they are reported.

use fancy_regex::Regex;

#[derive(Debug)]
pub(crate) struct RegexDef {
    pub source: String,
    regex: Regex,
}

/// One match: byte offsets plus the capture groups (`None` for a group that
/// did not participate, which JS reports as `undefined`).
pub(crate) struct Found {
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub groups: Vec<Option<String>>,
}

/// Rewrites JS-only escapes into Rust regex syntax.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match (n, in_class) {
                    ('d', false) => out.push_str("[0-9]"),
                    ('d', true) => out.push_str("0-9"),
                    ('D', false) => out.push_str("[^0-9]"),
                    ('w', false) => out.push_str("[A-Za-z0-9_]"),
                    ('w', true) => out.push_str("A-Za-z0-9_"),
                    ('W', false) => out.push_str("[^A-Za-z0-9_]"),
                    ('/', _) => out.push('/'),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                // A leading `]` is literal in Rust but ends an empty class in JS;
                // leave it as is (rare) rather than guess.
            }
            '[' if in_class => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            _ => out.push(c),
        }
    }
    out
}

impl RegexDef {
    /// Compiles a regex literal. The error names the construct that this
    /// implementation cannot run (it may be valid JavaScript).
    pub fn new(pattern: &str, flags: &str) -> Result<RegexDef, String> {
        let mut prefix = String::new();
        if flags.contains('i') || flags.contains('m') {
            prefix.push_str("(?");
            if flags.contains('i') {
                prefix.push('i');
            }
            if flags.contains('m') {
                prefix.push('m');
            }
            prefix.push(')');
        }
        let translated = format!("{prefix}{}", translate(pattern));
        let regex = Regex::new(&translated)
            .map_err(|e| format!("regular expression /{pattern}/{flags}: {e}"))?;
        Ok(RegexDef {
            source: pattern.to_string(),
            regex,
        })
    }

    /// The first match starting at or after byte offset `from`.
    pub fn find_at(&self, text: &str, from: usize) -> Result<Option<Found>, String> {
        if from > text.len() {
            return Ok(None);
        }
        let caps = self
            .regex
            .captures_from_pos(text, from)
            .map_err(|e| format!("regular expression /{}/ failed: {e}", self.source))?;
        let Some(caps) = caps else {
            return Ok(None);
        };
        let Some(m) = caps.get(0) else {
            return Ok(None);
        };
        let groups = (1..caps.len())
            .map(|i| caps.get(i).map(|g| g.as_str().to_string()))
            .collect();
        Ok(Some(Found {
            start: m.start(),
            end: m.end(),
            text: m.as_str().to_string(),
            groups,
        }))
    }
}

/// UTF-16 length of `s[..byte]`, i.e. the JavaScript index of a byte offset.
pub(crate) fn utf16_index(s: &str, byte: usize) -> usize {
    s[..byte.min(s.len())].encode_utf16().count()
}
