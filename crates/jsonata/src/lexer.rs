//! Tokenizer for JSONata expressions, a port of jsonata 1.8.9's `tokenizer`.
//!
//! Positions are character offsets, as in the JS version (which counts UTF-16
//! units; they only appear in error messages).

use crate::error::JsonataError;
use crate::regex::RegexDef;

#[derive(Clone, Debug)]
pub(crate) enum Tok {
    Name(String),
    Variable(String),
    Operator(&'static str),
    Str(String),
    Number(f64),
    /// `true`, `false` or `null`; `None` is null.
    Value(Option<bool>),
    Regex(std::sync::Arc<RegexDef>),
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub position: usize,
}

/// Single-character operators, also the stop characters of a name token.
const SINGLE_OPS: &[(char, &str)] = &[
    ('.', "."),
    ('[', "["),
    (']', "]"),
    ('{', "{"),
    ('}', "}"),
    ('(', "("),
    (')', ")"),
    (',', ","),
    ('@', "@"),
    ('#', "#"),
    (';', ";"),
    (':', ":"),
    ('?', "?"),
    ('+', "+"),
    ('-', "-"),
    ('*', "*"),
    ('/', "/"),
    ('%', "%"),
    ('|', "|"),
    ('=', "="),
    ('<', "<"),
    ('>', ">"),
    ('^', "^"),
    ('&', "&"),
    ('!', "!"),
    ('~', "~"),
];

fn single_op(c: char) -> Option<&'static str> {
    SINGLE_OPS.iter().find(|(ch, _)| *ch == c).map(|(_, s)| *s)
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}')
}

pub(crate) struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

fn syntax(code: &'static str, position: usize, token: Option<String>) -> JsonataError {
    JsonataError::compile(code, position, token)
}

impl Lexer {
    pub fn new(src: &str) -> Self {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn scan_regex(&mut self) -> Result<RegexDef, JsonataError> {
        let start = self.pos;
        let mut depth: i32 = 0;
        while self.pos < self.chars.len() {
            let c = self.chars[self.pos];
            let prev = if self.pos > 0 {
                self.at(self.pos - 1)
            } else {
                None
            };
            if c == '/' && prev != Some('\\') && depth == 0 {
                let pattern: String = self.chars[start..self.pos].iter().collect();
                if pattern.is_empty() {
                    return Err(syntax("S0301", self.pos, None));
                }
                self.pos += 1;
                let fstart = self.pos;
                while matches!(self.at(self.pos), Some('i') | Some('m')) {
                    self.pos += 1;
                }
                let flags: String = self.chars[fstart..self.pos].iter().collect();
                return RegexDef::new(&pattern, &flags)
                    .map_err(|feature| JsonataError::Unsupported { feature });
            }
            if matches!(c, '(' | '[' | '{') && prev != Some('\\') {
                depth += 1;
            }
            if matches!(c, ')' | ']' | '}') && prev != Some('\\') {
                depth -= 1;
            }
            self.pos += 1;
        }
        Err(syntax("S0302", self.pos, None))
    }

    /// The next token, or `None` at the end. `prefix` is true where a `/` is
    /// the division operator rather than the start of a regex.
    pub fn next(&mut self, prefix: bool) -> Result<Option<Token>, JsonataError> {
        loop {
            if self.pos >= self.chars.len() {
                return Ok(None);
            }
            while self.pos < self.chars.len() && is_ws(self.chars[self.pos]) {
                self.pos += 1;
            }
            if self.at(self.pos) == Some('/') && self.at(self.pos + 1) == Some('*') {
                let comment_start = self.pos;
                self.pos += 2;
                loop {
                    if self.at(self.pos) == Some('*') && self.at(self.pos + 1) == Some('/') {
                        break;
                    }
                    self.pos += 1;
                    if self.pos >= self.chars.len() {
                        return Err(syntax("S0106", comment_start, None));
                    }
                }
                self.pos += 2;
                continue;
            }
            break;
        }
        let position = self.pos;
        let Some(c) = self.at(self.pos) else {
            // Only whitespace remained.
            return Ok(None);
        };
        let tok = |t: Tok| Ok(Some(Token { tok: t, position }));
        if !prefix && c == '/' {
            self.pos += 1;
            let re = self.scan_regex()?;
            return tok(Tok::Regex(std::sync::Arc::new(re)));
        }
        let next = self.at(self.pos + 1);
        let double = match (c, next) {
            ('.', Some('.')) => Some(".."),
            (':', Some('=')) => Some(":="),
            ('!', Some('=')) => Some("!="),
            ('>', Some('=')) => Some(">="),
            ('<', Some('=')) => Some("<="),
            ('*', Some('*')) => Some("**"),
            ('~', Some('>')) => Some("~>"),
            _ => None,
        };
        if let Some(op) = double {
            self.pos += 2;
            return tok(Tok::Operator(op));
        }
        if let Some(op) = single_op(c) {
            self.pos += 1;
            return tok(Tok::Operator(op));
        }
        if c == '"' || c == '\'' {
            let quote = c;
            self.pos += 1;
            let mut s = String::new();
            // JS strings are UTF-16: \uXXXX escapes may form surrogate pairs.
            let mut units: Vec<u16> = Vec::new();
            let flush = |units: &mut Vec<u16>, s: &mut String| {
                if !units.is_empty() {
                    s.push_str(&String::from_utf16_lossy(units));
                    units.clear();
                }
            };
            while self.pos < self.chars.len() {
                let ch = self.chars[self.pos];
                if ch == '\\' {
                    self.pos += 1;
                    let e = self.at(self.pos).unwrap_or('\0');
                    let simple = match e {
                        '"' => Some('"'),
                        '\\' => Some('\\'),
                        '/' => Some('/'),
                        'b' => Some('\u{8}'),
                        'f' => Some('\u{c}'),
                        'n' => Some('\n'),
                        'r' => Some('\r'),
                        't' => Some('\t'),
                        _ => None,
                    };
                    if let Some(ch) = simple {
                        flush(&mut units, &mut s);
                        s.push(ch);
                    } else if e == 'u' {
                        let hex: String = self.chars[(self.pos + 1).min(self.chars.len())
                            ..(self.pos + 5).min(self.chars.len())]
                            .iter()
                            .collect();
                        // /^[0-9a-fA-F]+$/ on up to 4 characters, as in JS.
                        if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            let cp = u16::from_str_radix(&hex, 16).unwrap_or(0);
                            units.push(cp);
                            self.pos += 4;
                        } else {
                            return Err(syntax("S0104", self.pos, None));
                        }
                    } else {
                        return Err(syntax("S0103", self.pos, Some(e.to_string())));
                    }
                } else if ch == quote {
                    flush(&mut units, &mut s);
                    self.pos += 1;
                    return tok(Tok::Str(s));
                } else {
                    flush(&mut units, &mut s);
                    s.push(ch);
                }
                self.pos += 1;
            }
            return Err(syntax("S0101", self.pos, None));
        }
        if let Some(len) = self.number_len() {
            let text: String = self.chars[self.pos..self.pos + len].iter().collect();
            let num: f64 = text.parse().unwrap_or(f64::NAN);
            if num.is_finite() {
                self.pos += len;
                return tok(Tok::Number(num));
            }
            return Err(syntax("S0102", self.pos, Some(text)));
        }
        if c == '`' {
            self.pos += 1;
            let rest = &self.chars[self.pos..];
            if let Some(end) = rest.iter().position(|c| *c == '`') {
                let name: String = rest[..end].iter().collect();
                self.pos += end + 1;
                return tok(Tok::Name(name));
            }
            self.pos = self.chars.len();
            return Err(syntax("S0105", self.pos, None));
        }
        let mut i = self.pos;
        loop {
            let ch = self.at(i);
            let stop = match ch {
                None => true,
                Some(ch) => is_ws(ch) || single_op(ch).is_some(),
            };
            if stop {
                if c == '$' {
                    let name: String = self.chars[self.pos + 1..i].iter().collect();
                    self.pos = i;
                    return tok(Tok::Variable(name));
                }
                let name: String = self.chars[self.pos..i].iter().collect();
                self.pos = i;
                return match name.as_str() {
                    "or" => tok(Tok::Operator("or")),
                    "in" => tok(Tok::Operator("in")),
                    "and" => tok(Tok::Operator("and")),
                    "true" => tok(Tok::Value(Some(true))),
                    "false" => tok(Tok::Value(Some(false))),
                    "null" => tok(Tok::Value(None)),
                    _ => {
                        if self.pos == self.chars.len() && name.is_empty() {
                            return Ok(None);
                        }
                        tok(Tok::Name(name))
                    }
                };
            }
            i += 1;
        }
    }

    /// Length of `/^-?(0|([1-9][0-9]*))(\.[0-9]+)?([Ee][-+]?[0-9]+)?/` at the cursor.
    fn number_len(&self) -> Option<usize> {
        let c = &self.chars[self.pos..];
        let mut i = 0;
        if c.first() == Some(&'-') {
            i += 1;
        }
        match c.get(i) {
            Some('0') => i += 1,
            Some(d) if d.is_ascii_digit() => {
                while c.get(i).is_some_and(|d| d.is_ascii_digit()) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if c.get(i) == Some(&'.') && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
            i += 1;
            while c.get(i).is_some_and(|d| d.is_ascii_digit()) {
                i += 1;
            }
        }
        if matches!(c.get(i), Some('e') | Some('E')) {
            let mut j = i + 1;
            if matches!(c.get(j), Some('+') | Some('-')) {
                j += 1;
            }
            if c.get(j).is_some_and(|d| d.is_ascii_digit()) {
                while c.get(j).is_some_and(|d| d.is_ascii_digit()) {
                    j += 1;
                }
                i = j;
            }
        }
        Some(i)
    }
}
