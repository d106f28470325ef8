//! The evaluator, a port of jsonata 1.8.9's `evaluate*` functions: path steps and
//! sequences, predicates, tuple streams for `@`/`#`/`%`, operators, group-by,
//! order-by, blocks and bindings, lambdas with tail-call trampolining, partial
//! application, function chaining and the transform operator.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use crate::ast::{Group, Node, StageKind, Ty, Val};
use crate::error::JsonataError;
use crate::functions::{self, Builtin, Function, Lambda, LambdaBody};
use crate::value::{obj_set, Array, Object, Value};

pub(crate) type Result<T> = std::result::Result<T, JsonataError>;

/// A scope of variable bindings (`createFrame`).
pub(crate) struct Frame {
    bindings: RefCell<HashMap<String, Value>>,
    parent: Option<Env>,
}

pub(crate) type Env = Rc<Frame>;

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame({} bindings)", self.bindings.borrow().len())
    }
}

/// How deep evaluation may nest before it fails the way JavaScript's stack
/// overflow (a `RangeError`) makes jsonata fail. Node's limit depends on the
/// expression's shape; this value puts the cut-off near Node 20's for common
/// recursive lambdas (`1 + $f($n - 1)`: Node 390 levels, here 431;
/// `$append($f($n - 1), $n)`: Node 1,390, here 1,294).
const MAX_DEPTH: usize = 1_300;

pub(crate) struct Evaluator {
    /// Every frame made during this evaluation; cleared at the end so closures
    /// that captured their own frame do not leak through `Rc` cycles.
    frames: Vec<Env>,
    depth: usize,
    pub timestamp_ms: f64,
    chain: Option<Arc<Node>>,
}

impl Drop for Evaluator {
    fn drop(&mut self) {
        for f in &self.frames {
            f.bindings.borrow_mut().clear();
        }
    }
}

fn type_error(what: &str) -> JsonataError {
    JsonataError::eval("TypeError", what.to_string())
}

/// `isNumeric`: a number that is not NaN; infinite numbers are an error (D1001).
pub(crate) fn is_numeric(v: &Value) -> Result<bool> {
    match v {
        Value::Number(n) => {
            if n.is_nan() {
                Ok(false)
            } else if n.is_infinite() {
                Err(JsonataError::code("D1001"))
            } else {
                Ok(true)
            }
        }
        _ => Ok(false),
    }
}

pub(crate) fn is_array_of_numbers(v: &Value) -> Result<bool> {
    match v {
        Value::Array(a) => {
            for i in &a.items {
                if !is_numeric(i)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

pub(crate) fn is_array_of_strings(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.items.iter().all(|i| matches!(i, Value::String(_))),
        _ => false,
    }
}

/// `fn.boolean`: JSONata truthiness; `undefined` stays undefined (`None`).
pub(crate) fn boolean(v: &Value) -> Result<Option<bool>> {
    Ok(Some(match v {
        Value::Undefined => return Ok(None),
        Value::Array(a) => {
            if a.items.len() == 1 {
                boolean(&a.items[0])?.unwrap_or(false)
            } else if a.items.len() > 1 {
                let mut any = false;
                for i in &a.items {
                    if boolean(i)?.unwrap_or(false) {
                        any = true;
                    }
                }
                any
            } else {
                false
            }
        }
        Value::String(s) => !s.is_empty(),
        Value::Number(_) => {
            if is_numeric(v)? {
                v.as_number() != Some(0.0)
            } else {
                false
            }
        }
        Value::Object(o) => !o.is_empty(),
        Value::Bool(b) => *b,
        Value::Null | Value::Function(_) => false,
    }))
}

pub(crate) fn truthy(v: &Value) -> Result<bool> {
    Ok(boolean(v)?.unwrap_or(false))
}

/// `isDeepEqual`.
pub(crate) fn deep_equal(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => {
            a.items.len() == b.items.len()
                && a.items.iter().zip(&b.items).all(|(x, y)| deep_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            if Rc::ptr_eq(a, b) {
                return true;
            }
            if a.len() != b.len() {
                return false;
            }
            a.iter()
                .all(|(k, v)| b.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (Value::Function(a), Value::Function(b)) => Rc::ptr_eq(a, b),
        _ => false,
    }
}

/// JavaScript `===`: by value for primitives, by identity for the rest.
pub(crate) fn strict_equal(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a == b,
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => Rc::ptr_eq(a, b),
        (Value::Object(a), Value::Object(b)) => Rc::ptr_eq(a, b),
        (Value::Function(a), Value::Function(b)) => Rc::ptr_eq(a, b),
        _ => false,
    }
}

/// Compares strings by UTF-16 code units, as JavaScript's `<` does.
pub(crate) fn js_str_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `fn.append`.
pub(crate) fn append(a: Value, b: Value) -> Value {
    if a.is_undefined() {
        return b;
    }
    if b.is_undefined() {
        return a;
    }
    let mut arr = match a {
        Value::Array(a) => (*a).clone(),
        v => Array::sequence(vec![v]),
    };
    match b {
        Value::Array(b) => arr.items.extend(b.items.iter().cloned()),
        v => arr.items.push(v),
    }
    // `concat` returns a fresh plain array: no sequence or other flags.
    Value::plain_array(arr.items)
}

/// `fn.lookup`.
pub(crate) fn lookup(input: &Value, key: &str) -> Value {
    match input {
        Value::Array(a) => {
            let mut out = Vec::new();
            for item in &a.items {
                let res = lookup(item, key);
                match res {
                    Value::Undefined => {}
                    Value::Array(r) => out.extend(r.items.iter().cloned()),
                    v => out.push(v),
                }
            }
            Value::seq(out)
        }
        Value::Object(o) => o.get(key).cloned().unwrap_or(Value::Undefined),
        _ => Value::Undefined,
    }
}

fn flatten(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => {
            for i in &a.items {
                flatten(i, out);
            }
        }
        v => out.push(v.clone()),
    }
}

fn recurse_descendants(input: &Value, results: &mut Vec<Value>) {
    if !input.is_array() {
        results.push(input.clone());
    }
    match input {
        Value::Array(a) => {
            for m in &a.items {
                recurse_descendants(m, results);
            }
        }
        Value::Object(o) => {
            for v in o.values() {
                recurse_descendants(v, results);
            }
        }
        _ => {}
    }
}

fn tuple_get(tuple: &Value, key: &str) -> Value {
    match tuple {
        Value::Object(o) => o.get(key).cloned().unwrap_or(Value::Undefined),
        _ => Value::Undefined,
    }
}

impl Evaluator {
    pub fn new(timestamp_ms: f64) -> Self {
        Evaluator {
            frames: Vec::new(),
            depth: 0,
            timestamp_ms,
            chain: None,
        }
    }

    pub fn frame(&mut self, parent: Option<&Env>) -> Env {
        let f = Rc::new(Frame {
            bindings: RefCell::new(HashMap::new()),
            parent: parent.cloned(),
        });
        self.frames.push(f.clone());
        f
    }

    pub fn bind(env: &Env, name: &str, value: Value) {
        env.bindings.borrow_mut().insert(name.to_string(), value);
    }

    pub fn lookup_var(env: &Env, name: &str) -> Value {
        let mut cur = Some(env.clone());
        while let Some(f) = cur {
            if let Some(v) = f.bindings.borrow().get(name) {
                return v.clone();
            }
            cur = f.parent.clone();
        }
        Value::Undefined
    }

    fn frame_from_tuple(&mut self, env: &Env, tuple: &Value) -> Env {
        let f = self.frame(Some(env));
        if let Value::Object(o) = tuple {
            for (k, v) in o.iter() {
                Self::bind(&f, k, v.clone());
            }
        }
        f
    }

    pub fn evaluate(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.depth -= 1;
            return Err(JsonataError::eval(
                "RangeError",
                "Maximum call stack size exceeded",
            ));
        }
        let r = stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, || {
            self.evaluate_inner(expr, input, env)
        });
        self.depth -= 1;
        r
    }

    fn evaluate_inner(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        let mut result = match expr.ty {
            Ty::Path => self.evaluate_path(expr, input, env)?,
            Ty::Binary => self.evaluate_binary(expr, input, env)?,
            Ty::Unary => self.evaluate_unary(expr, input, env)?,
            Ty::Name => lookup(input, expr.value.as_str()),
            Ty::String | Ty::Number | Ty::Value => match &expr.value {
                Val::Str(s) => Value::str(s),
                Val::Num(n) => Value::Number(*n),
                Val::Bool(b) => Value::Bool(*b),
                Val::Null => Value::Null,
                _ => Value::Undefined,
            },
            Ty::Wildcard => self.evaluate_wildcard(input),
            Ty::Descendant => {
                if input.is_undefined() {
                    Value::Undefined
                } else {
                    let mut rs = Vec::new();
                    recurse_descendants(input, &mut rs);
                    if rs.len() == 1 {
                        rs.pop().unwrap_or(Value::Undefined)
                    } else {
                        Value::seq(rs)
                    }
                }
            }
            Ty::Parent => {
                let label = expr
                    .slot
                    .as_ref()
                    .map(|s| crate::ast::slot(s).label.clone())
                    .unwrap_or_default();
                Self::lookup_var(env, &label)
            }
            Ty::Condition => {
                let cond = self.evaluate(expr.condition.as_deref().expect("cond"), input, env)?;
                if truthy(&cond)? {
                    self.evaluate(expr.then.as_deref().expect("then"), input, env)?
                } else if let Some(e) = &expr.otherwise {
                    self.evaluate(e, input, env)?
                } else {
                    Value::Undefined
                }
            }
            Ty::Block => {
                let frame = self.frame(Some(env));
                let mut result = Value::Undefined;
                for e in &expr.expressions {
                    result = self.evaluate(e, input, &frame)?;
                }
                result
            }
            Ty::Bind => {
                let value = self.evaluate(expr.rhs.as_deref().expect("rhs"), input, env)?;
                let name = expr.lhs.as_ref().map(|l| l.value.as_str()).unwrap_or("");
                Self::bind(env, name, value.clone());
                value
            }
            Ty::Regex => match &expr.value {
                Val::Regex(r) => Value::Function(Rc::new(Function::Regex(r.clone()))),
                _ => Value::Undefined,
            },
            Ty::Function => self.evaluate_function(expr, input, env, None)?,
            Ty::Variable => {
                let name = expr.value.as_str();
                if name.is_empty() {
                    match input {
                        Value::Array(a) if a.outer_wrapper => {
                            a.items.first().cloned().unwrap_or(Value::Undefined)
                        }
                        v => v.clone(),
                    }
                } else {
                    Self::lookup_var(env, name)
                }
            }
            Ty::Lambda => Value::Function(Rc::new(Function::Lambda(Lambda {
                input: input.clone(),
                env: Some(env.clone()),
                params: expr
                    .arguments
                    .iter()
                    .map(|a| a.value.as_str().to_string())
                    .collect(),
                signature: expr.signature.clone(),
                body: LambdaBody::Ast(expr.body.clone().expect("lambda body")),
                thunk: expr.thunk,
            }))),
            Ty::Partial => self.evaluate_partial(expr, input, env)?,
            Ty::Apply => self.evaluate_apply_expression(expr, input, env)?,
            Ty::Transform => Value::Function(Rc::new(Function::Transform {
                pattern: Arc::new(expr.pattern.as_deref().expect("pattern").clone()),
                update: Arc::new(expr.update.as_deref().expect("update").clone()),
                delete: expr.delete.as_deref().map(|d| Arc::new(d.clone())),
                env: env.clone(),
            })),
            Ty::Sort | Ty::Operator | Ty::End => {
                return Err(JsonataError::unsupported(format!(
                    "unexpected node {:?} at {}",
                    expr.ty, expr.position
                )))
            }
        };

        if let Some(preds) = &expr.predicate {
            for p in preds {
                if let Some(pe) = &p.expr {
                    result = self.evaluate_filter(pe, result, env)?;
                }
            }
        }
        if expr.ty != Ty::Path {
            if let Some(g) = &expr.group {
                result = self.evaluate_group(g, result, env)?;
            }
        }

        if let Value::Array(a) = &mut result {
            if a.sequence && !a.tuple_stream {
                if expr.keep_array {
                    Rc::make_mut(a).keep_singleton = true;
                }
                if a.items.is_empty() {
                    result = Value::Undefined;
                } else if a.items.len() == 1 && !a.keep_singleton {
                    result = a.items[0].clone();
                }
            }
        }
        Ok(result)
    }

    fn evaluate_path(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        let mut input_seq = match input {
            Value::Array(_) if expr.steps[0].ty != Ty::Variable => input.clone(),
            v => Value::seq(vec![v.clone()]),
        };
        let mut result_seq = Value::Undefined;
        let mut is_tuple_stream = false;
        let mut tuple_bindings: Option<Value> = None;
        let last = expr.steps.len() - 1;
        for (ii, step) in expr.steps.iter().enumerate() {
            if step.tuple {
                is_tuple_stream = true;
            }
            if ii == 0 && step.consarray {
                result_seq = self.evaluate(step, &input_seq, env)?;
            } else if is_tuple_stream {
                tuple_bindings =
                    Some(self.evaluate_tuple_step(step, &input_seq, tuple_bindings.take(), env)?);
            } else {
                result_seq = self.evaluate_step(step, &input_seq, env, ii == last)?;
            }
            if !is_tuple_stream {
                let empty = match &result_seq {
                    Value::Undefined => true,
                    Value::Array(a) => a.items.is_empty(),
                    _ => false,
                };
                if empty {
                    break;
                }
            }
            if step.focus.is_none() {
                input_seq = result_seq.clone();
            }
        }
        if is_tuple_stream {
            let tb = tuple_bindings.clone().unwrap_or(Value::Undefined);
            if expr.tuple {
                result_seq = tb;
            } else {
                let items = tb.items().iter().map(|t| tuple_get(t, "@")).collect();
                result_seq = Value::seq(items);
            }
        }
        if expr.keep_singleton_array {
            if let Value::Array(a) = &result_seq {
                if a.cons && !a.sequence {
                    result_seq = Value::seq(vec![result_seq.clone()]);
                }
            }
            match result_seq.array_mut() {
                Some(a) => a.keep_singleton = true,
                None => {
                    if result_seq.is_undefined() {
                        return Err(type_error("Cannot set properties of undefined"));
                    }
                }
            }
        }
        if let Some(g) = &expr.group {
            let src = if is_tuple_stream {
                tuple_bindings.unwrap_or(Value::Undefined)
            } else {
                result_seq
            };
            result_seq = self.evaluate_group(g, src, env)?;
        }
        Ok(result_seq)
    }

    fn evaluate_step(
        &mut self,
        expr: &Node,
        input: &Value,
        env: &Env,
        last_step: bool,
    ) -> Result<Value> {
        if expr.ty == Ty::Sort {
            let mut result = self.evaluate_sort(expr, input, env)?;
            if let Some(stages) = &expr.stages {
                result = self.evaluate_stages(stages, result, env)?;
            }
            return Ok(result);
        }
        let mut result: Vec<Value> = Vec::new();
        for item in input.items() {
            let mut res = self.evaluate(expr, &item, env)?;
            if let Some(stages) = &expr.stages {
                for s in stages {
                    if let Some(e) = &s.expr {
                        res = self.evaluate_filter(e, res, env)?;
                    }
                }
            }
            if !res.is_undefined() {
                result.push(res);
            }
        }
        if last_step && result.len() == 1 && result[0].is_array() && !result[0].is_sequence() {
            return Ok(result.pop().unwrap_or(Value::Undefined));
        }
        let mut out = Vec::new();
        for res in result {
            match &res {
                Value::Array(a) if !a.cons => out.extend(a.items.iter().cloned()),
                _ => out.push(res),
            }
        }
        Ok(Value::seq(out))
    }

    fn evaluate_stages(
        &mut self,
        stages: &[crate::ast::Stage],
        input: Value,
        env: &Env,
    ) -> Result<Value> {
        let mut result = input;
        for stage in stages {
            match stage.kind {
                StageKind::Filter => {
                    if let Some(e) = &stage.expr {
                        result = self.evaluate_filter(e, result, env)?;
                    }
                }
                StageKind::Index => {
                    if let Some(a) = result.array_mut() {
                        for (ee, t) in a.items.iter_mut().enumerate() {
                            if let Value::Object(o) = t {
                                obj_set(Rc::make_mut(o), &stage.value, Value::Number(ee as f64));
                            }
                        }
                    }
                }
            }
        }
        Ok(result)
    }

    fn evaluate_tuple_step(
        &mut self,
        expr: &Node,
        input: &Value,
        tuple_bindings: Option<Value>,
        env: &Env,
    ) -> Result<Value> {
        if expr.ty == Ty::Sort {
            let mut result = if let Some(tb) = tuple_bindings {
                self.evaluate_sort(expr, &tb, env)?
            } else {
                let sorted = self.evaluate_sort(expr, input, env)?;
                let mut out = Vec::new();
                for (ss, item) in sorted.items().into_iter().enumerate() {
                    let mut t = Object::new();
                    t.insert("@".into(), item);
                    if let Some(ix) = &expr.index {
                        obj_set(&mut t, ix, Value::Number(ss as f64));
                    }
                    out.push(Value::object(t));
                }
                Value::array(Array {
                    items: out,
                    sequence: true,
                    tuple_stream: true,
                    ..Default::default()
                })
            };
            if let Some(stages) = &expr.stages {
                result = self.evaluate_stages(stages, result, env)?;
            }
            return Ok(result);
        }
        let tuple_bindings = match tuple_bindings {
            Some(tb) => tb.items(),
            None => input
                .items()
                .into_iter()
                .map(|item| {
                    let mut t = Object::new();
                    t.insert("@".into(), item);
                    Value::object(t)
                })
                .collect(),
        };
        let mut out = Vec::new();
        for tb in &tuple_bindings {
            let step_env = self.frame_from_tuple(env, tb);
            let at = tuple_get(tb, "@");
            let res = self.evaluate(expr, &at, &step_env)?;
            if res.is_undefined() {
                continue;
            }
            let res_is_tuple = res.is_tuple_stream();
            let res_items = match &res {
                Value::Array(a) => a.items.clone(),
                v => vec![v.clone()],
            };
            for (bb, r) in res_items.into_iter().enumerate() {
                let mut tuple = match tb {
                    Value::Object(o) => (**o).clone(),
                    _ => Object::new(),
                };
                if res_is_tuple {
                    if let Value::Object(ro) = &r {
                        for (k, v) in ro.iter() {
                            obj_set(&mut tuple, k, v.clone());
                        }
                    }
                } else {
                    if let Some(focus) = &expr.focus {
                        obj_set(&mut tuple, focus, r);
                        obj_set(&mut tuple, "@", at.clone());
                    } else {
                        obj_set(&mut tuple, "@", r);
                    }
                    if let Some(ix) = &expr.index {
                        obj_set(&mut tuple, ix, Value::Number(bb as f64));
                    }
                    if let Some(anc) = &expr.ancestor {
                        let label = crate::ast::slot(anc).label.clone();
                        obj_set(&mut tuple, &label, at.clone());
                    }
                }
                out.push(Value::object(tuple));
            }
        }
        let mut result = Value::array(Array {
            items: out,
            sequence: true,
            tuple_stream: true,
            ..Default::default()
        });
        if let Some(stages) = &expr.stages {
            result = self.evaluate_stages(stages, result, env)?;
        }
        Ok(result)
    }

    fn evaluate_filter(&mut self, predicate: &Node, input: Value, env: &Env) -> Result<Value> {
        let tuple_stream = input.is_tuple_stream();
        let items = match &input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        let mut results = Vec::new();
        if predicate.ty == Ty::Number {
            let n = match predicate.value {
                Val::Num(n) => n,
                _ => 0.0,
            };
            let mut index = n.floor();
            if index < 0.0 {
                index += items.len() as f64;
            }
            let item = if index >= 0.0 {
                items.get(index as usize).cloned()
            } else {
                None
            };
            if let Some(item) = item {
                if item.is_undefined() {
                    // nothing
                } else if item.is_array() {
                    return Ok(item);
                } else {
                    results.push(item);
                }
            }
        } else {
            let len = items.len() as f64;
            for (index, item) in items.iter().enumerate() {
                let (context, penv) = if tuple_stream {
                    (tuple_get(item, "@"), self.frame_from_tuple(env, item))
                } else {
                    (item.clone(), env.clone())
                };
                let mut res = self.evaluate(predicate, &context, &penv)?;
                if is_numeric(&res)? {
                    res = Value::plain_array(vec![res]);
                }
                if is_array_of_numbers(&res)? {
                    for ires in res.items() {
                        let mut ii = ires.as_number().unwrap_or(0.0).floor();
                        if ii < 0.0 {
                            ii += len;
                        }
                        if ii == index as f64 {
                            results.push(item.clone());
                        }
                    }
                } else if truthy(&res)? {
                    results.push(item.clone());
                }
            }
        }
        Ok(Value::array(Array {
            items: results,
            sequence: true,
            tuple_stream,
            ..Default::default()
        }))
    }

    fn evaluate_binary(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        let lhs_node = expr.lhs.as_deref().expect("lhs");
        let rhs_node = expr.rhs.as_deref().expect("rhs");
        let lhs = self.evaluate(lhs_node, input, env)?;
        let op = expr.op();
        if op == "and" || op == "or" {
            let l = truthy(&lhs)?;
            let r = if op == "and" {
                l && truthy(&self.evaluate(rhs_node, input, env)?)?
            } else {
                l || truthy(&self.evaluate(rhs_node, input, env)?)?
            };
            return Ok(Value::Bool(r));
        }
        let rhs = self.evaluate(rhs_node, input, env)?;
        match op {
            "+" | "-" | "*" | "/" | "%" => {
                if !lhs.is_undefined() && !is_numeric(&lhs)? {
                    return Err(JsonataError::code("T2001"));
                }
                if !rhs.is_undefined() && !is_numeric(&rhs)? {
                    return Err(JsonataError::code("T2002"));
                }
                let (Value::Number(l), Value::Number(r)) = (&lhs, &rhs) else {
                    return Ok(Value::Undefined);
                };
                let v = match op {
                    "+" => l + r,
                    "-" => l - r,
                    "*" => l * r,
                    "/" => l / r,
                    _ => l % r,
                };
                Ok(Value::Number(v))
            }
            "=" | "!=" => {
                if lhs.is_undefined() || rhs.is_undefined() {
                    return Ok(Value::Bool(false));
                }
                let eq = deep_equal(&lhs, &rhs);
                Ok(Value::Bool(if op == "=" { eq } else { !eq }))
            }
            "<" | "<=" | ">" | ">=" => {
                let comparable =
                    |v: &Value| matches!(v, Value::Undefined | Value::String(_) | Value::Number(_));
                if !comparable(&lhs) || !comparable(&rhs) {
                    return Err(JsonataError::code("T2010"));
                }
                if lhs.is_undefined() || rhs.is_undefined() {
                    return Ok(Value::Undefined);
                }
                let ord = match (&lhs, &rhs) {
                    (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
                    (Value::String(a), Value::String(b)) => Some(js_str_cmp(a, b)),
                    _ => return Err(JsonataError::code("T2009")),
                };
                use std::cmp::Ordering::*;
                let r = match (op, ord) {
                    (_, None) => false,
                    ("<", Some(o)) => o == Less,
                    ("<=", Some(o)) => o != Greater,
                    (">", Some(o)) => o == Greater,
                    (_, Some(o)) => o != Less,
                };
                Ok(Value::Bool(r))
            }
            "&" => {
                let mut s = String::new();
                if !lhs.is_undefined() {
                    s.push_str(&functions::string(&lhs, false)?);
                }
                if !rhs.is_undefined() {
                    s.push_str(&functions::string(&rhs, false)?);
                }
                Ok(Value::string(s))
            }
            ".." => {
                let is_int =
                    |v: &Value| matches!(v, Value::Number(n) if n.is_finite() && n.fract() == 0.0);
                if !lhs.is_undefined() && !is_int(&lhs) {
                    return Err(JsonataError::code("T2003"));
                }
                if !rhs.is_undefined() && !is_int(&rhs) {
                    return Err(JsonataError::code("T2004"));
                }
                let (Value::Number(l), Value::Number(r)) = (&lhs, &rhs) else {
                    return Ok(Value::Undefined);
                };
                if l > r {
                    return Ok(Value::Undefined);
                }
                let size = r - l + 1.0;
                if size > 1e7 {
                    return Err(JsonataError::code("D2014"));
                }
                let items = (0..size as usize)
                    .map(|i| Value::Number(l + i as f64))
                    .collect();
                Ok(Value::seq(items))
            }
            "in" => {
                if lhs.is_undefined() || rhs.is_undefined() {
                    return Ok(Value::Bool(false));
                }
                let items = match &rhs {
                    Value::Array(a) => a.items.clone(),
                    v => vec![v.clone()],
                };
                Ok(Value::Bool(items.iter().any(|i| strict_equal(i, &lhs))))
            }
            _ => Err(JsonataError::unsupported(format!("operator {op}"))),
        }
    }

    fn evaluate_unary(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        match expr.op() {
            "-" => {
                let v = self.evaluate(expr.expression.as_deref().expect("operand"), input, env)?;
                if v.is_undefined() {
                    Ok(Value::Undefined)
                } else if is_numeric(&v)? {
                    Ok(Value::Number(-v.as_number().unwrap_or(0.0)))
                } else {
                    Err(JsonataError::code("D1002"))
                }
            }
            "[" => {
                let mut result = Value::plain_array(Vec::new());
                for item in &expr.expressions {
                    let value = self.evaluate(item, input, env)?;
                    if value.is_undefined() {
                        continue;
                    }
                    if item.ty == Ty::Unary && item.op() == "[" {
                        if let Some(a) = result.array_mut() {
                            a.items.push(value);
                        }
                    } else {
                        result = append(result, value);
                    }
                }
                if expr.consarray {
                    if let Some(a) = result.array_mut() {
                        a.cons = true;
                    }
                }
                Ok(result)
            }
            "{" => {
                let g = Group {
                    pairs: expr.pairs.clone(),
                };
                self.evaluate_group(&g, input.clone(), env)
            }
            op => Err(JsonataError::unsupported(format!("unary operator {op}"))),
        }
    }

    fn evaluate_wildcard(&mut self, input: &Value) -> Value {
        let mut input = input.clone();
        if let Value::Array(a) = &input {
            if a.outer_wrapper && !a.items.is_empty() {
                input = a.items[0].clone();
            }
        }
        let mut results = Value::empty_seq();
        if let Value::Object(o) = &input {
            for v in o.values() {
                if v.is_array() {
                    let mut flat = Vec::new();
                    flatten(v, &mut flat);
                    results = append(results, Value::plain_array(flat));
                } else if let Some(a) = results.array_mut() {
                    a.items.push(v.clone());
                }
            }
        }
        results
    }

    fn evaluate_group(&mut self, expr: &Group, input: Value, env: &Env) -> Result<Value> {
        let reduce = input.is_tuple_stream();
        let mut items = match &input {
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        if items.is_empty() {
            items.push(Value::Undefined);
        }
        // key -> (data, expression index)
        let mut groups: Vec<(String, Value, usize)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for item in &items {
            if reduce && !matches!(item, Value::Object(_)) {
                // jsonata reads `item['@']` of the undefined it pushed for an
                // empty tuple stream: a JavaScript TypeError.
                return Err(type_error(
                    "Cannot read properties of undefined (reading '@')",
                ));
            }
            let ienv = if reduce {
                self.frame_from_tuple(env, item)
            } else {
                env.clone()
            };
            for (pair_index, (kexpr, _)) in expr.pairs.iter().enumerate() {
                let ctx = if reduce {
                    tuple_get(item, "@")
                } else {
                    item.clone()
                };
                let key = self.evaluate(kexpr, &ctx, &ienv)?;
                let key = match key {
                    Value::Undefined => continue,
                    Value::String(s) => s.to_string(),
                    _ => return Err(JsonataError::code("T1003")),
                };
                if let Some(&gi) = index.get(&key) {
                    if groups[gi].2 != pair_index {
                        return Err(JsonataError::code("D1009"));
                    }
                    let data = std::mem::replace(&mut groups[gi].1, Value::Undefined);
                    groups[gi].1 = append(data, item.clone());
                } else {
                    index.insert(key.clone(), groups.len());
                    groups.push((key, item.clone(), pair_index));
                }
            }
        }
        // `for (key in groups)` visits index-like keys first in numeric order.
        let mut order: Vec<usize> = (0..groups.len()).collect();
        let mut probe = Object::new();
        for (k, _, _) in &groups {
            obj_set(&mut probe, k, Value::Null);
        }
        let pos: HashMap<&str, usize> = probe
            .keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect();
        order.sort_by_key(|i| pos.get(groups[*i].0.as_str()).copied().unwrap_or(0));
        let mut result = Object::new();
        for gi in order {
            let (key, data, expr_index) = &groups[gi];
            let (context, genv) = if reduce {
                let tuple = reduce_tuple_stream(data);
                let ctx = tuple_get(&tuple, "@");
                let mut t = match tuple {
                    Value::Object(o) => (*o).clone(),
                    _ => Object::new(),
                };
                t.shift_remove("@");
                let e = self.frame_from_tuple(env, &Value::object(t));
                (ctx, e)
            } else {
                (data.clone(), env.clone())
            };
            let value = self.evaluate(&expr.pairs[*expr_index].1, &context, &genv)?;
            if !value.is_undefined() {
                obj_set(&mut result, key, value);
            }
        }
        Ok(Value::object(result))
    }

    fn evaluate_sort(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        let is_tuple_sort = input.is_tuple_stream();
        let items = match input {
            Value::Undefined => return Ok(Value::Undefined),
            Value::Array(a) => a.items.clone(),
            v => return Ok(v.clone()),
        };
        let mut comparator = |this: &mut Evaluator, a: &Value, b: &Value| -> Result<bool> {
            let mut comp = 0i32;
            for term in &expr.terms {
                if comp != 0 {
                    break;
                }
                let (ctx, e) = if is_tuple_sort {
                    (tuple_get(a, "@"), this.frame_from_tuple(env, a))
                } else {
                    (a.clone(), env.clone())
                };
                let aa = this.evaluate(&term.expression, &ctx, &e)?;
                let (ctx, e) = if is_tuple_sort {
                    (tuple_get(b, "@"), this.frame_from_tuple(env, b))
                } else {
                    (b.clone(), env.clone())
                };
                let bb = this.evaluate(&term.expression, &ctx, &e)?;
                if aa.is_undefined() {
                    comp = if bb.is_undefined() { 0 } else { 1 };
                    continue;
                }
                if bb.is_undefined() {
                    comp = -1;
                    continue;
                }
                let ok = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
                if !ok(&aa) || !ok(&bb) {
                    return Err(JsonataError::code("T2008"));
                }
                let ord = match (&aa, &bb) {
                    (Value::Number(x), Value::Number(y)) => {
                        if x == y {
                            continue;
                        }
                        if x < y {
                            -1
                        } else {
                            1
                        }
                    }
                    (Value::String(x), Value::String(y)) => match js_str_cmp(x, y) {
                        std::cmp::Ordering::Equal => continue,
                        std::cmp::Ordering::Less => -1,
                        std::cmp::Ordering::Greater => 1,
                    },
                    _ => return Err(JsonataError::code("T2007")),
                };
                comp = if term.descending { -ord } else { ord };
            }
            Ok(comp == 1)
        };
        let sorted = merge_sort(self, items, &mut comparator)?;
        // fn.sort returns the input unchanged for 0 or 1 items, else a plain array.
        if input.len() <= 1 {
            return Ok(input.clone());
        }
        let mut out = Array::plain(sorted);
        out.tuple_stream = false;
        if is_tuple_sort {
            out.tuple_stream = true;
            out.sequence = true;
        }
        Ok(Value::array(out))
    }

    fn evaluate_function(
        &mut self,
        expr: &Node,
        input: &Value,
        env: &Env,
        apply_to: Option<Value>,
    ) -> Result<Value> {
        let proc_node = expr.procedure.as_deref().expect("procedure");
        let proc = self.evaluate(proc_node, input, env)?;
        if proc.is_undefined() && proc_node.ty == Ty::Path {
            let name = proc_node.steps[0].value.as_str();
            if !Self::lookup_var(env, name).is_undefined() {
                return Err(JsonataError::code("T1005"));
            }
        }
        let mut args = Vec::with_capacity(expr.arguments.len() + 1);
        if let Some(ctx) = apply_to {
            args.push(ctx);
        }
        for a in &expr.arguments {
            args.push(self.evaluate(a, input, env)?);
        }
        self.apply(&proc, args, input, env)
    }

    pub fn apply(
        &mut self,
        proc: &Value,
        args: Vec<Value>,
        input: &Value,
        env: &Env,
    ) -> Result<Value> {
        let mut result = self.apply_inner(proc, args, input, env)?;
        loop {
            let thunk = match &result {
                Value::Function(f) => match &**f {
                    Function::Lambda(l) if l.thunk => Some(l.clone()),
                    _ => None,
                },
                _ => None,
            };
            let Some(t) = thunk else { break };
            let LambdaBody::Ast(body) = &t.body else {
                break;
            };
            let tenv = t.env.clone().unwrap_or_else(|| self.frame(None));
            let next = self.evaluate(
                body.procedure.as_deref().expect("procedure"),
                &t.input,
                &tenv,
            )?;
            let mut evaluated = Vec::new();
            for a in &body.arguments {
                evaluated.push(self.evaluate(a, &t.input, &tenv)?);
            }
            result = self.apply_inner(&next, evaluated, input, env)?;
        }
        Ok(result)
    }

    fn apply_inner(
        &mut self,
        proc: &Value,
        args: Vec<Value>,
        input: &Value,
        env: &Env,
    ) -> Result<Value> {
        let Value::Function(f) = proc else {
            return Err(JsonataError::code("T1006"));
        };
        match &**f {
            Function::Lambda(l) => {
                let args = match &l.signature {
                    Some(sig) => sig.validate(&args, input)?,
                    None => args,
                };
                self.apply_procedure(l, args)
            }
            Function::Builtin(b) => {
                let args = b.signature().validate(&args, input)?;
                (b.imp)(self, &args, input, env)
            }
            Function::Regex(re) => functions::regex_call(re, &args),
            Function::RegexNext { re, text, last } => functions::regex_next(re, text, *last),
            Function::Transform {
                pattern,
                update,
                delete,
                env: tenv,
            } => {
                let sig = crate::signature::Signature::parse("<(oa):o>")?;
                let args = sig.validate(&args, input)?;
                let tenv = tenv.clone();
                self.transform(
                    pattern,
                    update,
                    delete.as_deref(),
                    &tenv,
                    args.into_iter().next().unwrap_or(Value::Undefined),
                )
            }
        }
    }

    fn apply_procedure(&mut self, l: &Lambda, args: Vec<Value>) -> Result<Value> {
        let env = self.frame(l.env.as_ref());
        for (i, p) in l.params.iter().enumerate() {
            Self::bind(&env, p, args.get(i).cloned().unwrap_or(Value::Undefined));
        }
        match &l.body {
            LambdaBody::Ast(body) => self.evaluate(body, &l.input, &env),
            LambdaBody::Native(b) => {
                let args: Vec<Value> = (0..b.arity)
                    .map(|i| Self::lookup_var(&env, &format!("a{i}")))
                    .collect();
                (b.imp)(self, &args, &Value::Undefined, &env)
            }
        }
    }

    fn evaluate_partial(&mut self, expr: &Node, input: &Value, env: &Env) -> Result<Value> {
        let mut args: Vec<Option<Value>> = Vec::new();
        for a in &expr.arguments {
            if a.ty == Ty::Operator && a.op() == "?" {
                args.push(None);
            } else {
                args.push(Some(self.evaluate(a, input, env)?));
            }
        }
        let proc_node = expr.procedure.as_deref().expect("procedure");
        let proc = self.evaluate(proc_node, input, env)?;
        if proc.is_undefined() && proc_node.ty == Ty::Path {
            let name = proc_node.steps[0].value.as_str();
            if !Self::lookup_var(env, name).is_undefined() {
                return Err(JsonataError::code("T1007"));
            }
        }
        let Value::Function(f) = &proc else {
            return Err(JsonataError::code("T1008"));
        };
        match &**f {
            Function::Lambda(l) => {
                Ok(self.partial_apply(l.env.as_ref(), &l.params, &l.input, l.body.clone(), args))
            }
            Function::Builtin(b) => {
                let params: Vec<String> = (0..b.arity).map(|i| format!("a{i}")).collect();
                Ok(self.partial_apply(
                    None,
                    &params,
                    &Value::Undefined,
                    LambdaBody::Native(b),
                    args,
                ))
            }
            _ => Err(JsonataError::unsupported(
                "partial application of a regex or transform function",
            )),
        }
    }

    fn partial_apply(
        &mut self,
        penv: Option<&Env>,
        params: &[String],
        input: &Value,
        body: LambdaBody,
        args: Vec<Option<Value>>,
    ) -> Value {
        let env = self.frame(penv);
        let mut unbound = Vec::new();
        for (i, p) in params.iter().enumerate() {
            match args.get(i) {
                Some(None) => unbound.push(p.clone()),
                Some(Some(v)) => Self::bind(&env, p, v.clone()),
                None => Self::bind(&env, p, Value::Undefined),
            }
        }
        Value::Function(Rc::new(Function::Lambda(Lambda {
            input: input.clone(),
            env: Some(env),
            params: unbound,
            signature: None,
            body,
            thunk: false,
        })))
    }

    fn evaluate_apply_expression(
        &mut self,
        expr: &Node,
        input: &Value,
        env: &Env,
    ) -> Result<Value> {
        let lhs = self.evaluate(expr.lhs.as_deref().expect("lhs"), input, env)?;
        let rhs_node = expr.rhs.as_deref().expect("rhs");
        if rhs_node.ty == Ty::Function {
            return self.evaluate_function(rhs_node, input, env, Some(lhs));
        }
        let func = self.evaluate(rhs_node, input, env)?;
        if !func.is_function() {
            return Err(JsonataError::code("T2006"));
        }
        if lhs.is_function() {
            let chain = self.chain_ast()?;
            let chain_fn = self.evaluate(&chain, &Value::Null, env)?;
            self.apply(&chain_fn, vec![lhs, func], &Value::Null, env)
        } else {
            self.apply(&func, vec![lhs], &Value::Null, env)
        }
    }

    fn chain_ast(&mut self) -> Result<Arc<Node>> {
        if let Some(c) = &self.chain {
            return Ok(c.clone());
        }
        let node = Arc::new(crate::compile_ast(
            "function($f, $g) { function($x){ $g($f($x)) } }",
        )?);
        self.chain = Some(node.clone());
        Ok(node)
    }

    fn transform(
        &mut self,
        pattern: &Node,
        update: &Node,
        delete: Option<&Node>,
        env: &Env,
        obj: Value,
    ) -> Result<Value> {
        if obj.is_undefined() {
            return Ok(Value::Undefined);
        }
        let clone_fn = Self::lookup_var(env, "clone");
        if !clone_fn.is_function() {
            return Err(JsonataError::code("T2013"));
        }
        let result = self.apply(&clone_fn, vec![obj], &Value::Null, env)?;
        // The clone is a tree of fresh objects; updates mutate matched objects in
        // place. Build a mutable copy, then apply updates by identity.
        let root = Rc::new(RefCell::new(to_mutable(&result)));
        let (frozen, ids) = freeze(&root);
        let matches = self.evaluate(pattern, &frozen, env)?;
        let match_items = match &matches {
            Value::Undefined => Vec::new(),
            Value::Array(a) => a.items.clone(),
            v => vec![v.clone()],
        };
        for m in match_items {
            let upd = self.evaluate(update, &m, env)?;
            if !upd.is_undefined() {
                let Value::Object(uo) = &upd else {
                    return Err(JsonataError::code("T2011"));
                };
                if let Some(target) = ids.get(&value_id(&m)) {
                    let mut t = target.borrow_mut();
                    if let MutVal::Obj(o) = &mut *t {
                        for (k, v) in uo.iter() {
                            let pos = o.iter().position(|(kk, _)| kk == k);
                            let mv = Rc::new(RefCell::new(to_mutable(v)));
                            match pos {
                                Some(p) => o[p].1 = mv,
                                None => o.push((k.clone(), mv)),
                            }
                        }
                    }
                }
            }
            if let Some(d) = delete {
                let dels = self.evaluate(d, &m, env)?;
                if !dels.is_undefined() {
                    let list = match &dels {
                        Value::Array(a) => a.items.clone(),
                        v => vec![v.clone()],
                    };
                    if !list.iter().all(|v| matches!(v, Value::String(_))) {
                        return Err(JsonataError::code("T2012"));
                    }
                    if let Some(target) = ids.get(&value_id(&m)) {
                        if let MutVal::Obj(o) = &mut *target.borrow_mut() {
                            for k in list {
                                let k = k.as_str().unwrap_or("");
                                o.retain(|(kk, _)| kk != k);
                            }
                        }
                    }
                }
            }
        }
        Ok(freeze(&root).0)
    }
}

/// A mutable mirror of a value for the transform operator, whose updates
/// mutate the matched objects of the cloned tree in place.
enum MutVal {
    Leaf(Value),
    Arr(Vec<Rc<RefCell<MutVal>>>),
    Obj(Vec<(String, Rc<RefCell<MutVal>>)>),
}

fn to_mutable(v: &Value) -> MutVal {
    match v {
        Value::Array(a) => MutVal::Arr(
            a.items
                .iter()
                .map(|i| Rc::new(RefCell::new(to_mutable(i))))
                .collect(),
        ),
        Value::Object(o) => MutVal::Obj(
            o.iter()
                .map(|(k, v)| (k.clone(), Rc::new(RefCell::new(to_mutable(v)))))
                .collect(),
        ),
        v => MutVal::Leaf(v.clone()),
    }
}

fn value_id(v: &Value) -> usize {
    match v {
        Value::Object(o) => Rc::as_ptr(o) as usize,
        Value::Array(a) => Rc::as_ptr(a) as *const u8 as usize,
        _ => 0,
    }
}

type Ids = HashMap<usize, Rc<RefCell<MutVal>>>;

/// Freezes the mutable tree into values, recording which value came from which
/// mutable node so pattern matches can be traced back for updating.
fn freeze(root: &Rc<RefCell<MutVal>>) -> (Value, Ids) {
    fn go(m: &Rc<RefCell<MutVal>>, ids: &mut Ids) -> Value {
        let v = match &*m.borrow() {
            MutVal::Leaf(v) => v.clone(),
            MutVal::Arr(items) => Value::plain_array(items.iter().map(|i| go(i, ids)).collect()),
            MutVal::Obj(entries) => {
                let mut o = Object::new();
                for (k, v) in entries {
                    obj_set(&mut o, k, go(v, ids));
                }
                Value::object(o)
            }
        };
        if matches!(v, Value::Object(_)) {
            ids.insert(value_id(&v), m.clone());
        }
        v
    }
    let mut ids = Ids::new();
    let v = go(root, &mut ids);
    (v, ids)
}

fn reduce_tuple_stream(ts: &Value) -> Value {
    let Value::Array(a) = ts else {
        return ts.clone();
    };
    let mut result = match a.items.first() {
        Some(Value::Object(o)) => (**o).clone(),
        _ => Object::new(),
    };
    for t in a.items.iter().skip(1) {
        if let Value::Object(o) = t {
            for (k, v) in o.iter() {
                let cur = result.get(k).cloned().unwrap_or(Value::Undefined);
                obj_set(&mut result, k, append(cur, v.clone()));
            }
        }
    }
    Value::object(result)
}

/// jsonata's merge sort (stable; `comp(a, b)` true means `a` goes after `b`).
pub(crate) fn merge_sort<F>(
    ev: &mut Evaluator,
    items: Vec<Value>,
    comp: &mut F,
) -> Result<Vec<Value>>
where
    F: FnMut(&mut Evaluator, &Value, &Value) -> Result<bool>,
{
    if items.len() <= 1 {
        return Ok(items);
    }
    let mut items = items;
    let middle = items.len() / 2;
    let right = items.split_off(middle);
    let left = merge_sort(ev, items, comp)?;
    let right = merge_sort(ev, right, comp)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if comp(ev, &left[i], &right[j])? {
            out.push(right[j].clone());
            j += 1;
        } else {
            out.push(left[i].clone());
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    Ok(out)
}

pub(crate) fn builtin_value(b: &'static Builtin) -> Value {
    Value::Function(Rc::new(Function::Builtin(b)))
}
