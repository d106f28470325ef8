//! Function values and the built-in function library of jsonata 1.8.9.
//!
//! Each built-in carries its signature (validated before the call, as in
//! jsonata.js) and its JavaScript parameter count, which is what higher-order
//! functions use to decide how many arguments to pass (`hofFuncArgs`).

mod collections;
mod datetime;
mod format;
mod misc;
mod numbers;
mod strings;

use std::rc::Rc;
use std::sync::Arc;
use std::sync::OnceLock;

use crate::ast::Node;
use crate::error::JsonataError;
use crate::eval::{Env, Evaluator, Result};
use crate::number::{js_to_string, to_precision_15};
use crate::regex::{utf16_index, RegexDef};
use crate::signature::Signature;
use crate::value::{Object, Value};

pub(crate) use strings::string;

pub(crate) type Imp = fn(&mut Evaluator, &[Value], &Value, &Env) -> Result<Value>;

pub(crate) struct Builtin {
    pub name: &'static str,
    sig: &'static str,
    parsed: OnceLock<Signature>,
    /// JavaScript `implementation.length`.
    pub arity: usize,
    pub imp: Imp,
}

impl std::fmt::Debug for Builtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "${}", self.name)
    }
}

impl Builtin {
    const fn new(name: &'static str, sig: &'static str, arity: usize, imp: Imp) -> Builtin {
        Builtin {
            name,
            sig,
            parsed: OnceLock::new(),
            arity,
            imp,
        }
    }

    pub fn signature(&self) -> &Signature {
        self.parsed
            .get_or_init(|| Signature::parse(self.sig).expect("built-in signatures are valid"))
    }
}

#[derive(Clone, Debug)]
pub(crate) enum LambdaBody {
    Ast(Arc<Node>),
    /// A partially applied built-in; its arguments are bound as `a0`, `a1`, ….
    Native(&'static Builtin),
}

#[derive(Clone, Debug)]
pub(crate) struct Lambda {
    pub input: Value,
    pub env: Option<Env>,
    pub params: Vec<String>,
    pub signature: Option<Arc<Signature>>,
    pub body: LambdaBody,
    pub thunk: bool,
}

pub(crate) enum Function {
    Builtin(&'static Builtin),
    Lambda(Lambda),
    Regex(Arc<RegexDef>),
    /// The `next` of a regex match object: continues from byte offset `last`.
    RegexNext {
        re: Arc<RegexDef>,
        text: Rc<str>,
        last: usize,
    },
    Transform {
        pattern: Arc<Node>,
        update: Arc<Node>,
        delete: Option<Arc<Node>>,
        env: Env,
    },
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Function::Builtin(b) => write!(f, "{b:?}"),
            Function::Lambda(_) => write!(f, "lambda"),
            Function::Regex(r) => write!(f, "/{}/", r.source),
            Function::RegexNext { .. } => write!(f, "regex next"),
            Function::Transform { .. } => write!(f, "transform"),
        }
    }
}

/// `getFunctionArity`.
pub(crate) fn arity(f: &Value) -> usize {
    match f {
        Value::Function(func) => match &**func {
            Function::Builtin(b) => b.arity,
            Function::Lambda(l) => l.params.len(),
            Function::Regex(_) => 2,
            Function::RegexNext { .. } => 0,
            Function::Transform { .. } => 1,
        },
        _ => 0,
    }
}

/// Invokes a function argument of a higher-order built-in the way jsonata's
/// argument closure does: `apply(func, args, null, environment)`.
pub(crate) fn call(ev: &mut Evaluator, f: &Value, args: Vec<Value>, env: &Env) -> Result<Value> {
    ev.apply(f, args, &Value::Null, env)
}

/// `hofFuncArgs`: pass as many of (value, index/key, collection) as the function takes.
pub(crate) fn hof_args(f: &Value, a1: Value, a2: Value, a3: Value) -> Vec<Value> {
    let n = arity(f);
    let mut v = vec![a1];
    if n >= 2 {
        v.push(a2);
    }
    if n >= 3 {
        v.push(a3);
    }
    v
}

/// Capture groups as a JSONata array; a group that did not take part is
/// `undefined`, as in JavaScript.
pub(crate) fn groups_value(groups: &[Option<String>]) -> Value {
    Value::plain_array(
        groups
            .iter()
            .map(|g| g.as_deref().map(Value::str).unwrap_or(Value::Undefined))
            .collect(),
    )
}

fn match_object(re: &Arc<RegexDef>, text: &Rc<str>, found: crate::regex::Found) -> Value {
    let mut o = Object::new();
    o.insert("match".into(), Value::str(&found.text));
    o.insert(
        "start".into(),
        Value::Number(utf16_index(text, found.start) as f64),
    );
    o.insert(
        "end".into(),
        Value::Number(utf16_index(text, found.end) as f64),
    );
    o.insert("groups".into(), groups_value(&found.groups));
    o.insert(
        "next".into(),
        Value::Function(Rc::new(Function::RegexNext {
            re: re.clone(),
            text: text.clone(),
            last: found.end,
        })),
    );
    Value::object(o)
}

/// JS `String(v)` for the primitive values a regex closure may be handed.
fn coerce_to_string(v: &Value) -> Result<Rc<str>> {
    Ok(match v {
        Value::String(s) => s.clone(),
        Value::Undefined => Rc::from("undefined"),
        Value::Null => Rc::from("null"),
        Value::Bool(b) => Rc::from(b.to_string()),
        Value::Number(n) => Rc::from(js_to_string(*n)),
        _ => {
            return Err(JsonataError::unsupported(
                "applying a regex to a non-string value",
            ))
        }
    })
}

/// Invoking a regex value: `/re/(str)` gives the first match object or undefined.
pub(crate) fn regex_call(re: &Arc<RegexDef>, args: &[Value]) -> Result<Value> {
    let text = coerce_to_string(args.first().unwrap_or(&Value::Undefined))?;
    let from = match args.get(1) {
        Some(Value::Number(n)) if *n > 0.0 => byte_offset(&text, *n as usize),
        _ => 0,
    };
    match re.find_at(&text, from).map_err(JsonataError::unsupported)? {
        Some(f) => Ok(match_object(re, &text, f)),
        None => Ok(Value::Undefined),
    }
}

/// The match object's `next()`; a zero-length next match is error D1004.
pub(crate) fn regex_next(re: &Arc<RegexDef>, text: &Rc<str>, last: usize) -> Result<Value> {
    if last >= text.len() {
        return Ok(Value::Undefined);
    }
    match re.find_at(text, last).map_err(JsonataError::unsupported)? {
        Some(f) => {
            if f.text.is_empty() {
                return Err(JsonataError::code("D1004"));
            }
            Ok(match_object(re, text, f))
        }
        None => Ok(Value::Undefined),
    }
}

/// Byte offset of a UTF-16 index.
pub(crate) fn byte_offset(s: &str, utf16: usize) -> usize {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        if units >= utf16 {
            return i;
        }
        units += c.len_utf16();
    }
    s.len()
}

/// Numbers in `$string` and `&` output: 15 significant digits, JS layout.
pub(crate) fn number_string(n: f64) -> String {
    js_to_string(to_precision_15(n))
}

fn b(name: &'static str, sig: &'static str, arity: usize, imp: Imp) -> Builtin {
    Builtin::new(name, sig, arity, imp)
}

static LIBRARY: OnceLock<Vec<Builtin>> = OnceLock::new();

fn library() -> &'static [Builtin] {
    LIBRARY.get_or_init(|| {
        vec![
            b("sum", "<a<n>:n>", 1, numbers::sum),
            b("count", "<a:n>", 1, numbers::count),
            b("max", "<a<n>:n>", 1, numbers::max),
            b("min", "<a<n>:n>", 1, numbers::min),
            b("average", "<a<n>:n>", 1, numbers::average),
            b("string", "<x-b?:s>", 1, strings::fn_string),
            b("substring", "<s-nn?:s>", 3, strings::substring),
            b("substringBefore", "<s-s:s>", 2, strings::substring_before),
            b("substringAfter", "<s-s:s>", 2, strings::substring_after),
            b("lowercase", "<s-:s>", 1, strings::lowercase),
            b("uppercase", "<s-:s>", 1, strings::uppercase),
            b("length", "<s-:n>", 1, strings::length),
            b("trim", "<s-:s>", 1, strings::trim),
            b("pad", "<s-ns?:s>", 3, strings::pad),
            b("match", "<s-f<s:o>n?:a<o>>", 3, strings::fn_match),
            b("contains", "<s-(sf):b>", 2, strings::contains),
            b("replace", "<s-(sf)(sf)n?:s>", 4, strings::replace),
            b("split", "<s-(sf)n?:a<s>>", 3, strings::split),
            b("join", "<a<s>s?:s>", 2, strings::join),
            b("formatNumber", "<n-so?:s>", 3, format::format_number),
            b("formatBase", "<n-n?:s>", 2, numbers::format_base),
            b("formatInteger", "<n-s:s>", 2, misc::format_integer),
            b("parseInteger", "<s-s:n>", 2, misc::parse_integer),
            b("number", "<(nsb)-:n>", 1, numbers::number),
            b("floor", "<n-:n>", 1, numbers::floor),
            b("ceil", "<n-:n>", 1, numbers::ceil),
            b("round", "<n-n?:n>", 2, numbers::fn_round),
            b("abs", "<n-:n>", 1, numbers::abs),
            b("sqrt", "<n-:n>", 1, numbers::sqrt),
            b("power", "<n-n:n>", 2, numbers::power),
            b("random", "<:n>", 0, numbers::random),
            b("boolean", "<x-:b>", 1, collections::fn_boolean),
            b("not", "<x-:b>", 1, collections::not),
            b("map", "<af>", 2, collections::map),
            b("zip", "<a+>", 0, collections::zip),
            b("filter", "<af>", 2, collections::filter),
            b("single", "<af?>", 2, collections::single),
            b("reduce", "<afj?:j>", 3, collections::reduce),
            b("sift", "<o-f?:o>", 2, collections::sift),
            b("keys", "<x-:a<s>>", 1, collections::keys),
            b("lookup", "<x-s:x>", 2, collections::fn_lookup),
            b("append", "<xx:a>", 2, collections::fn_append),
            b("exists", "<x:b>", 1, collections::exists),
            b("spread", "<x-:a<o>>", 1, collections::spread),
            b("merge", "<a<o>:o>", 1, collections::merge),
            b("reverse", "<a:a>", 1, collections::reverse),
            b("each", "<o-f:a>", 2, collections::each),
            b("error", "<s?:x>", 1, misc::error),
            b("assert", "<bs?:x>", 2, misc::assert),
            b("type", "<x:s>", 1, collections::fn_type),
            b("sort", "<af?:a>", 2, collections::sort),
            b("shuffle", "<a:a>", 1, collections::shuffle),
            b("distinct", "<x:x>", 1, collections::distinct),
            b("base64encode", "<s-:s>", 1, misc::base64encode),
            b("base64decode", "<s-:s>", 1, misc::base64decode),
            b(
                "encodeUrlComponent",
                "<s-:s>",
                1,
                misc::encode_url_component,
            ),
            b("encodeUrl", "<s-:s>", 1, misc::encode_url),
            b(
                "decodeUrlComponent",
                "<s-:s>",
                1,
                misc::decode_url_component,
            ),
            b("decodeUrl", "<s-:s>", 1, misc::decode_url),
            b("eval", "<sx?:x>", 2, misc::eval),
            b("toMillis", "<s-s?:n>", 2, misc::to_millis),
            b("fromMillis", "<n-s?s?:s>", 3, misc::from_millis),
            b("clone", "<(oa)-:o>", 1, misc::clone),
            b("now", "<s?s?:s>", 2, misc::now),
            b("millis", "<:n>", 0, misc::millis),
        ]
    })
}

/// Binds the whole library into a (root) frame.
pub(crate) fn bind_library(env: &Env) {
    for f in library() {
        Evaluator::bind(env, f.name, crate::eval::builtin_value(f));
    }
}
