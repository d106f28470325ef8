//! The post-parse stage of jsonata 1.8.9 (`processAST`): flattens `.` chains into
//! path steps, attaches predicates, group-by, order-by and focus/index bindings
//! to steps, resolves parent-operator (`%`) ancestry, and marks tail calls.

use std::sync::{Arc, Mutex};

use crate::ast::{slot as lock, Group, Node, Slot, SlotRef, SortTerm, Stage, StageKind, Ty, Val};
use crate::error::JsonataError;

pub(crate) struct Processor {
    ancestor_label: usize,
    ancestor_index: usize,
    ancestry: Vec<SlotRef>,
}

fn err(code: &'static str, position: usize) -> JsonataError {
    JsonataError::compile(code, position, None)
}

impl Processor {
    pub fn new() -> Self {
        Processor {
            ancestor_label: 0,
            ancestor_index: 0,
            ancestry: Vec::new(),
        }
    }

    /// Processes a whole expression and rejects a top-level parent reference.
    pub fn run(mut self, expr: Node) -> Result<Node, JsonataError> {
        let expr = self.process(expr)?;
        if expr.ty == Ty::Parent || expr.seeking_parent.is_some() {
            return Err(err("S0217", expr.position));
        }
        Ok(expr)
    }

    fn seek_parent(&mut self, node: &mut Node, slot: SlotRef) -> Result<SlotRef, JsonataError> {
        let mut slot = slot;
        match node.ty {
            Ty::Name | Ty::Wildcard => {
                let level = {
                    let mut s = lock(&slot);
                    s.level -= 1;
                    s.level
                };
                if level == 0 {
                    if let Some(existing) = &node.ancestor {
                        // Reuse the existing label.
                        let label = lock(existing).label.clone();
                        let index = lock(&slot).index;
                        if let Some(anc) = self.ancestry.get(index) {
                            lock(anc).label = label;
                        }
                    }
                    node.ancestor = Some(slot.clone());
                    node.tuple = true;
                }
            }
            Ty::Parent => {
                lock(&slot).level += 1;
            }
            Ty::Block => {
                if !node.expressions.is_empty() {
                    node.tuple = true;
                    let last = node.expressions.len() - 1;
                    slot = self.seek_parent(&mut node.expressions[last], slot)?;
                }
            }
            Ty::Path => {
                node.tuple = true;
                let mut index = node.steps.len() as isize - 1;
                slot = self.seek_parent(&mut node.steps[index as usize], slot)?;
                index -= 1;
                while lock(&slot).level > 0 && index >= 0 {
                    slot = self.seek_parent(&mut node.steps[index as usize], slot)?;
                    index -= 1;
                }
            }
            _ => return Err(err("S0217", node.position)),
        }
        Ok(slot)
    }

    fn push_ancestry(result: &mut Node, value: &Node) {
        if value.seeking_parent.is_some() || value.ty == Ty::Parent {
            let mut slots = value.seeking_parent.clone().unwrap_or_default();
            if value.ty == Ty::Parent {
                if let Some(s) = &value.slot {
                    slots.push(s.clone());
                }
            }
            match &mut result.seeking_parent {
                None => result.seeking_parent = Some(slots),
                Some(existing) => existing.extend(slots),
            }
        }
    }

    fn resolve_ancestry(&mut self, path: &mut Node) -> Result<(), JsonataError> {
        let last = path.steps.len() - 1;
        let mut slots = path.steps[last].seeking_parent.clone().unwrap_or_default();
        if path.steps[last].ty == Ty::Parent {
            if let Some(s) = &path.steps[last].slot {
                slots.push(s.clone());
            }
        }
        for slot in slots {
            let mut slot = slot;
            let mut index = path.steps.len() as isize - 2;
            while lock(&slot).level > 0 {
                if index < 0 {
                    path.seeking_parent
                        .get_or_insert_with(Vec::new)
                        .push(slot.clone());
                    break;
                }
                let mut step_idx = index as usize;
                index -= 1;
                // Multiple contiguous steps that bind the focus are skipped.
                while index >= 0
                    && path.steps[step_idx].focus.is_some()
                    && path.steps[index as usize].focus.is_some()
                {
                    step_idx = index as usize;
                    index -= 1;
                }
                slot = self.seek_parent(&mut path.steps[step_idx], slot)?;
            }
        }
        Ok(())
    }

    fn tail_call_optimize(expr: Node) -> Node {
        match expr.ty {
            Ty::Function if expr.predicate.is_none() => {
                let mut thunk = Node::new(Ty::Lambda, Val::None, expr.position);
                thunk.thunk = true;
                thunk.body = Some(Arc::new(expr));
                thunk
            }
            Ty::Condition => {
                let mut expr = expr;
                if let Some(t) = expr.then.take() {
                    expr.then = Some(Box::new(Self::tail_call_optimize(*t)));
                }
                if let Some(e) = expr.otherwise.take() {
                    expr.otherwise = Some(Box::new(Self::tail_call_optimize(*e)));
                }
                expr
            }
            Ty::Block => {
                let mut expr = expr;
                if let Some(last) = expr.expressions.pop() {
                    expr.expressions.push(Self::tail_call_optimize(last));
                }
                expr
            }
            _ => expr,
        }
    }

    fn boxed(&mut self, n: Option<Box<Node>>) -> Result<Node, JsonataError> {
        match n {
            Some(n) => self.process(*n),
            None => Err(err("S0207", 0)),
        }
    }

    pub fn process(&mut self, expr: Node) -> Result<Node, JsonataError> {
        stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, || self.process_inner(expr))
    }

    fn process_inner(&mut self, expr: Node) -> Result<Node, JsonataError> {
        let keep_array = expr.keep_array;
        let mut expr = expr;
        let mut result = match expr.ty {
            Ty::Binary => match expr.op() {
                "." => {
                    let lstep = self.boxed(expr.lhs.take())?;
                    let lstep_is_parent = lstep.ty == Ty::Parent;
                    let lslot = lstep.slot.clone();
                    let mut result = if lstep.ty == Ty::Path {
                        lstep
                    } else {
                        let mut p = Node::new(Ty::Path, Val::None, lstep.position);
                        p.steps.push(lstep);
                        p
                    };
                    if lstep_is_parent {
                        result.seeking_parent = Some(lslot.into_iter().collect());
                    }
                    let mut rest = self.boxed(expr.rhs.take())?;
                    if rest.ty == Ty::Path {
                        result.steps.append(&mut rest.steps);
                    } else {
                        if let Some(p) = rest.predicate.take() {
                            rest.stages = Some(p);
                        }
                        result.steps.push(rest);
                    }
                    for step in result.steps.iter_mut() {
                        if step.ty == Ty::Number || step.ty == Ty::Value {
                            return Err(err("S0213", step.position));
                        }
                        if step.ty == Ty::String {
                            step.ty = Ty::Name;
                        }
                    }
                    if result.steps.iter().any(|s| s.keep_array) {
                        result.keep_singleton_array = true;
                    }
                    if let Some(first) = result.steps.first_mut() {
                        if first.ty == Ty::Unary && first.op() == "[" {
                            first.consarray = true;
                        }
                    }
                    if let Some(last) = result.steps.last_mut() {
                        if last.ty == Ty::Unary && last.op() == "[" {
                            last.consarray = true;
                        }
                    }
                    self.resolve_ancestry(&mut result)?;
                    result
                }
                "[" => {
                    let mut result = self.boxed(expr.lhs.take())?;
                    let is_path = result.ty == Ty::Path;
                    if is_path {
                        let last = result.steps.last().expect("path has steps");
                        if last.group.is_some() {
                            return Err(err("S0209", expr.position));
                        }
                    } else if result.group.is_some() {
                        return Err(err("S0209", expr.position));
                    }
                    let mut predicate = self.boxed(expr.rhs.take())?;
                    let seeking = predicate.seeking_parent.clone();
                    {
                        let step: &mut Node = if is_path {
                            result.steps.last_mut().expect("path has steps")
                        } else {
                            &mut result
                        };
                        if let Some(slots) = seeking {
                            for slot in slots {
                                let level = lock(&slot).level;
                                if level == 1 {
                                    self.seek_parent(step, slot)?;
                                } else {
                                    lock(&slot).level -= 1;
                                }
                            }
                            Self::push_ancestry(step, &predicate);
                        }
                        predicate.seeking_parent = predicate.seeking_parent.take();
                        let stage = Stage {
                            kind: StageKind::Filter,
                            expr: Some(Box::new(predicate)),
                            value: String::new(),
                        };
                        if is_path {
                            step.stages.get_or_insert_with(Vec::new).push(stage);
                        } else {
                            step.predicate.get_or_insert_with(Vec::new).push(stage);
                        }
                    }
                    result
                }
                "{" => {
                    let mut result = self.boxed(expr.lhs.take())?;
                    if result.group.is_some() {
                        return Err(err("S0210", expr.position));
                    }
                    let mut pairs = Vec::new();
                    for (k, v) in std::mem::take(&mut expr.pairs) {
                        pairs.push((self.process(k)?, self.process(v)?));
                    }
                    result.group = Some(Box::new(Group { pairs }));
                    result
                }
                "^" => {
                    let lhs = self.boxed(expr.lhs.take())?;
                    let mut result = if lhs.ty == Ty::Path {
                        lhs
                    } else {
                        let mut p = Node::new(Ty::Path, Val::None, lhs.position);
                        p.steps.push(lhs);
                        p
                    };
                    let mut sort_step = Node::new(Ty::Sort, Val::None, expr.position);
                    for term in std::mem::take(&mut expr.terms) {
                        let expression = self.process(term.expression)?;
                        Self::push_ancestry(&mut sort_step, &expression);
                        sort_step.terms.push(SortTerm {
                            descending: term.descending,
                            expression,
                        });
                    }
                    result.steps.push(sort_step);
                    self.resolve_ancestry(&mut result)?;
                    result
                }
                ":=" => {
                    let mut result = Node::new(Ty::Bind, expr.value.clone(), expr.position);
                    let lhs = self.boxed(expr.lhs.take())?;
                    let rhs = self.boxed(expr.rhs.take())?;
                    Self::push_ancestry(&mut result, &rhs);
                    result.lhs = Some(Box::new(lhs));
                    result.rhs = Some(Box::new(rhs));
                    result
                }
                "@" => {
                    let mut result = self.boxed(expr.lhs.take())?;
                    let var = expr
                        .rhs
                        .as_ref()
                        .map(|r| r.op().to_string())
                        .unwrap_or_default();
                    let step: &mut Node = if result.ty == Ty::Path {
                        result.steps.last_mut().expect("path has steps")
                    } else {
                        &mut result
                    };
                    if step.stages.is_some() || step.predicate.is_some() {
                        return Err(err("S0215", expr.position));
                    }
                    if step.ty == Ty::Sort {
                        return Err(err("S0216", expr.position));
                    }
                    if expr.keep_array {
                        step.keep_array = true;
                    }
                    step.focus = Some(var);
                    step.tuple = true;
                    result
                }
                "#" => {
                    let mut result = self.boxed(expr.lhs.take())?;
                    let var = expr
                        .rhs
                        .as_ref()
                        .map(|r| r.op().to_string())
                        .unwrap_or_default();
                    if result.ty != Ty::Path {
                        let mut step = result;
                        if let Some(p) = step.predicate.take() {
                            step.stages = Some(p);
                        }
                        let mut p = Node::new(Ty::Path, Val::None, step.position);
                        p.steps.push(step);
                        result = p;
                    }
                    let step = result.steps.last_mut().expect("path has steps");
                    match &mut step.stages {
                        None => step.index = Some(var),
                        Some(stages) => stages.push(Stage {
                            kind: StageKind::Index,
                            expr: None,
                            value: var,
                        }),
                    }
                    step.tuple = true;
                    result
                }
                "~>" => {
                    let mut result = Node::new(Ty::Apply, expr.value.clone(), expr.position);
                    result.lhs = Some(Box::new(self.boxed(expr.lhs.take())?));
                    result.rhs = Some(Box::new(self.boxed(expr.rhs.take())?));
                    result
                }
                _ => {
                    let mut result = Node::new(Ty::Binary, expr.value.clone(), expr.position);
                    let lhs = self.boxed(expr.lhs.take())?;
                    let rhs = self.boxed(expr.rhs.take())?;
                    Self::push_ancestry(&mut result, &lhs);
                    Self::push_ancestry(&mut result, &rhs);
                    result.lhs = Some(Box::new(lhs));
                    result.rhs = Some(Box::new(rhs));
                    result
                }
            },
            Ty::Unary => {
                let mut result = Node::new(Ty::Unary, expr.value.clone(), expr.position);
                match expr.op() {
                    "[" => {
                        for item in std::mem::take(&mut expr.expressions) {
                            let value = self.process(item)?;
                            Self::push_ancestry(&mut result, &value);
                            result.expressions.push(value);
                        }
                        result
                    }
                    "{" => {
                        for (k, v) in std::mem::take(&mut expr.pairs) {
                            let key = self.process(k)?;
                            Self::push_ancestry(&mut result, &key);
                            let value = self.process(v)?;
                            Self::push_ancestry(&mut result, &value);
                            result.pairs.push((key, value));
                        }
                        result
                    }
                    _ => {
                        let inner = self.boxed(expr.expression.take())?;
                        if expr.op() == "-" && inner.ty == Ty::Number {
                            let mut n = inner;
                            if let Val::Num(x) = n.value {
                                n.value = Val::Num(-x);
                            }
                            n
                        } else {
                            Self::push_ancestry(&mut result, &inner);
                            result.expression = Some(Box::new(inner));
                            result
                        }
                    }
                }
            }
            Ty::Function | Ty::Partial => {
                let mut result = Node::new(expr.ty, expr.value.clone(), expr.position);
                for arg in std::mem::take(&mut expr.arguments) {
                    let a = self.process(arg)?;
                    Self::push_ancestry(&mut result, &a);
                    result.arguments.push(a);
                }
                result.procedure = Some(Box::new(self.boxed(expr.procedure.take())?));
                result
            }
            Ty::Lambda => {
                let mut result = Node::new(Ty::Lambda, Val::None, expr.position);
                result.arguments = std::mem::take(&mut expr.arguments);
                result.signature = expr.signature.take();
                let body = match expr.body.take() {
                    Some(b) => Arc::try_unwrap(b).unwrap_or_else(|rc| (*rc).clone()),
                    None => return Err(err("S0207", expr.position)),
                };
                let body = self.process(body)?;
                result.body = Some(Arc::new(Self::tail_call_optimize(body)));
                result
            }
            Ty::Condition => {
                let mut result = Node::new(Ty::Condition, Val::None, expr.position);
                let c = self.boxed(expr.condition.take())?;
                Self::push_ancestry(&mut result, &c);
                result.condition = Some(Box::new(c));
                let t = self.boxed(expr.then.take())?;
                Self::push_ancestry(&mut result, &t);
                result.then = Some(Box::new(t));
                if let Some(e) = expr.otherwise.take() {
                    let e = self.process(*e)?;
                    Self::push_ancestry(&mut result, &e);
                    result.otherwise = Some(Box::new(e));
                }
                result
            }
            Ty::Transform => {
                let mut result = Node::new(Ty::Transform, Val::None, expr.position);
                result.pattern = Some(Box::new(self.boxed(expr.pattern.take())?));
                result.update = Some(Box::new(self.boxed(expr.update.take())?));
                if let Some(d) = expr.delete.take() {
                    result.delete = Some(Box::new(self.process(*d)?));
                }
                result
            }
            Ty::Block => {
                let mut result = Node::new(Ty::Block, Val::None, expr.position);
                for item in std::mem::take(&mut expr.expressions) {
                    let part = self.process(item)?;
                    Self::push_ancestry(&mut result, &part);
                    if part.consarray || (part.ty == Ty::Path && part.steps[0].consarray) {
                        result.consarray = true;
                    }
                    result.expressions.push(part);
                }
                result
            }
            Ty::Name => {
                let keep = expr.keep_array;
                let position = expr.position;
                let mut result = Node::new(Ty::Path, Val::None, position);
                result.steps.push(expr);
                if keep {
                    result.keep_singleton_array = true;
                }
                result
            }
            Ty::Parent => {
                let mut result = Node::new(Ty::Parent, Val::None, expr.position);
                let slot = Arc::new(Mutex::new(Slot {
                    label: format!("!{}", self.ancestor_label),
                    level: 1,
                    index: self.ancestor_index,
                }));
                self.ancestor_label += 1;
                self.ancestor_index += 1;
                result.slot = Some(slot.clone());
                self.ancestry.push(slot);
                result
            }
            Ty::String
            | Ty::Number
            | Ty::Value
            | Ty::Wildcard
            | Ty::Descendant
            | Ty::Variable
            | Ty::Regex => expr,
            Ty::Operator => match expr.op() {
                "and" | "or" | "in" => {
                    expr.ty = Ty::Name;
                    self.process(expr)?
                }
                "?" => expr,
                _ => return Err(err("S0201", expr.position)),
            },
            Ty::End => return Err(err("S0207", expr.position)),
            Ty::Path | Ty::Bind | Ty::Apply | Ty::Sort => {
                return Err(err("S0206", expr.position));
            }
        };
        if keep_array {
            result.keep_array = true;
        }
        Ok(result)
    }
}
