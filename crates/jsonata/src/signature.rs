//! Function signatures (`<s-nn?:s>`), a port of jsonata 1.8.9's `signature.js`.
//!
//! A signature validates a call's arguments, substitutes the context value for a
//! missing `-` argument, and wraps non-array values for `a` parameters. jsonata.js
//! builds a regular expression over one symbol per argument; this port keeps that
//! approach with a small backtracking matcher over the same symbols.

use crate::error::JsonataError;
use crate::value::Value;

#[derive(Clone, Debug)]
struct Param {
    /// Accepted argument symbols (`s n b l o a f m`).
    accepts: Vec<char>,
    /// `?` optional / `-` context-substitutable / `+` one or more.
    optional: bool,
    repeat: bool,
    context: bool,
    /// Accepted symbols for the context value (the regex before `?` was added).
    context_accepts: Vec<char>,
    ty: String,
    subtype: Option<String>,
}

impl Param {
    /// How many of the leading argument symbols this parameter may consume,
    /// as its regex fragment (`[sm]`, `[sm]?`, `[sm]+`) would.
    fn span(&self, syms: &[char]) -> (usize, usize) {
        let max = if self.repeat {
            syms.iter().take_while(|s| self.accepts.contains(s)).count()
        } else {
            usize::from(syms.first().is_some_and(|s| self.accepts.contains(s)))
        };
        (usize::from(!self.optional), max)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Signature {
    params: Vec<Param>,
}

fn symbol(v: &Value) -> char {
    match v {
        Value::Function(_) => 'f',
        Value::String(_) => 's',
        Value::Number(_) => 'n',
        Value::Bool(_) => 'b',
        Value::Null => 'l',
        Value::Array(_) => 'a',
        Value::Object(_) => 'o',
        Value::Undefined => 'm',
    }
}

fn array_name(sub: &str) -> &'static str {
    match sub {
        "a" => "arrays",
        "b" => "booleans",
        "f" => "functions",
        "n" => "numbers",
        "o" => "objects",
        "s" => "strings",
        _ => "values",
    }
}

fn find_closing(s: &[char], start: usize, open: char, close: char) -> usize {
    let mut depth = 1;
    let mut pos = start;
    while pos < s.len() {
        pos += 1;
        match s.get(pos) {
            Some(c) if *c == close => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Some(c) if *c == open => depth += 1,
            _ => {}
        }
    }
    pos
}

impl Signature {
    pub fn parse(sig: &str) -> Result<Signature, JsonataError> {
        let chars: Vec<char> = sig.chars().collect();
        let mut params: Vec<Param> = Vec::new();
        let mut position = 1;
        let new_param = |accepts: &str, ty: &str| Param {
            accepts: accepts.chars().collect(),
            optional: false,
            repeat: false,
            context: false,
            context_accepts: Vec::new(),
            ty: ty.to_string(),
            subtype: None,
        };
        while position < chars.len() {
            let c = chars[position];
            if c == ':' {
                break;
            }
            match c {
                's' | 'n' | 'b' | 'l' | 'o' => {
                    params.push(new_param(&format!("{c}m"), &c.to_string()));
                }
                'a' => params.push(new_param("asnblfom", "a")),
                'f' => params.push(new_param("f", "f")),
                'j' => params.push(new_param("asnblom", "j")),
                'x' => params.push(new_param("asnblfom", "x")),
                '-' => {
                    if let Some(p) = params.last_mut() {
                        p.context = true;
                        p.context_accepts = p.accepts.clone();
                        p.optional = true;
                    }
                }
                '?' => {
                    if let Some(p) = params.last_mut() {
                        p.optional = true;
                    }
                }
                '+' => {
                    if let Some(p) = params.last_mut() {
                        p.repeat = true;
                    }
                }
                '(' => {
                    let end = find_closing(&chars, position, '(', ')');
                    let choice: String = chars[position + 1..end.min(chars.len())].iter().collect();
                    if choice.contains('<') {
                        return Err(JsonataError::compile("S0402", position, Some(choice)));
                    }
                    params.push(new_param(&format!("{choice}m"), &format!("({choice})")));
                    position = end;
                }
                '<' => {
                    let prev_ty = params.last().map(|p| p.ty.clone()).unwrap_or_default();
                    if prev_ty == "a" || prev_ty == "f" {
                        let end = find_closing(&chars, position, '<', '>');
                        let sub: String =
                            chars[position + 1..end.min(chars.len())].iter().collect();
                        if let Some(p) = params.last_mut() {
                            p.subtype = Some(sub);
                        }
                        position = end;
                    } else {
                        return Err(JsonataError::compile("S0401", position, Some(prev_ty)));
                    }
                }
                _ => {}
            }
            position += 1;
        }
        Ok(Signature { params })
    }

    /// Matches the argument symbols against the parameters like the anchored
    /// JS regex would: greedy, with backtracking. Returns how many symbols each
    /// parameter consumed.
    fn matches(&self, syms: &[char]) -> Option<Vec<usize>> {
        fn go(params: &[Param], syms: &[char], out: &mut Vec<usize>) -> bool {
            let Some(p) = params.first() else {
                return syms.is_empty();
            };
            let (min, max) = p.span(syms);
            let mut n = max;
            loop {
                if n < min {
                    return false;
                }
                out.push(n);
                if go(&params[1..], &syms[n..], out) {
                    return true;
                }
                out.pop();
                if n == 0 {
                    return false;
                }
                n -= 1;
            }
        }
        let mut out = Vec::new();
        if go(&self.params, syms, &mut out) {
            Some(out)
        } else {
            None
        }
    }

    /// Longest prefix of `syms` matched by the first `k` parameters (for errors).
    fn prefix_match(&self, k: usize, syms: &[char]) -> Option<usize> {
        fn go(params: &[Param], syms: &[char], used: usize) -> Option<usize> {
            let Some(p) = params.first() else {
                return Some(used);
            };
            let (min, max) = p.span(syms);
            let mut n = max;
            loop {
                if n < min {
                    return None;
                }
                if let Some(r) = go(&params[1..], &syms[n..], used + n) {
                    return Some(r);
                }
                if n == 0 {
                    return None;
                }
                n -= 1;
            }
        }
        go(&self.params[..k], syms, 0)
    }

    pub fn validate(&self, args: &[Value], context: &Value) -> Result<Vec<Value>, JsonataError> {
        let syms: Vec<char> = args.iter().map(symbol).collect();
        let Some(counts) = self.matches(&syms) else {
            // Find where the match fails, as throwValidationError does.
            let mut good_to = 0;
            for k in 1..=self.params.len() {
                match self.prefix_match(k, &syms) {
                    None => break,
                    Some(n) => good_to = n,
                }
            }
            return Err(JsonataError::eval(
                "T0410",
                format!(
                    "Argument {} of function does not match function signature",
                    good_to + 1
                ),
            ));
        };
        let mut validated = Vec::new();
        let mut arg_index = 0;
        for (param, count) in self.params.iter().zip(counts) {
            if count == 0 {
                if param.context {
                    if param.context_accepts.contains(&symbol(context)) {
                        validated.push(context.clone());
                    } else {
                        return Err(JsonataError::eval(
                            "T0411",
                            format!(
                                "Context value is not a compatible type with argument {} of function",
                                arg_index + 1
                            ),
                        ));
                    }
                } else {
                    validated.push(args.get(arg_index).cloned().unwrap_or(Value::Undefined));
                    arg_index += 1;
                }
                continue;
            }
            let matched: String = syms[arg_index..arg_index + count].iter().collect();
            for single in matched.chars() {
                let arg = args[arg_index].clone();
                if param.ty == "a" {
                    if single == 'm' {
                        validated.push(Value::Undefined);
                    } else {
                        let mut ok = true;
                        if let Some(sub) = &param.subtype {
                            if single != 'a' && matched != *sub {
                                ok = false;
                            } else if single == 'a' {
                                let items = arg.items();
                                if let Some(first) = items.first() {
                                    let item_type = symbol(first);
                                    if !sub.starts_with(item_type) {
                                        ok = false;
                                    } else {
                                        ok = items.iter().all(|v| symbol(v) == item_type);
                                    }
                                }
                            }
                        }
                        if !ok {
                            let sub = param.subtype.clone().unwrap_or_default();
                            return Err(JsonataError::eval(
                                "T0412",
                                format!(
                                    "Argument {} of function must be an array of {}",
                                    arg_index + 1,
                                    array_name(&sub)
                                ),
                            ));
                        }
                        if single != 'a' {
                            validated.push(Value::plain_array(vec![arg]));
                        } else {
                            validated.push(arg);
                        }
                    }
                } else {
                    validated.push(arg);
                }
                arg_index += 1;
            }
        }
        Ok(validated)
    }
}
