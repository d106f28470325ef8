//! `buildData` compiled once and run against many variable sets: the template is
//! walked once into a tree of nodes with locators parsed, filters compiled, and the
//! formulas that only depend on the template evaluated ahead of time. Running a node
//! needs no async machinery and no template inspection.
//!
//! The common formulas run natively here with the evaluator's exact semantics (Build
//! mode); the rest (`$iterate`, `$copy`, `$lookup`, `$formula`, `$jsonata`, names, …)
//! run through the evaluator on their template subtree, which gives the same result
//! because they see the same variables and no build state crosses formula boundaries.

use super::eval::run_sync;
use super::text::{literal_needle, replace_literal, replace_placeholder};
use super::{get_formula, process_copy, Vars};
use crate::dates;
use crate::error::{Result, RuntimeError};
use crate::filter::{apply_eval_operator, CompiledFilter};
use crate::js::{self, JsValue};
use crate::locator::{self, Step};
use crate::property_key::PropertyKey;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// A compiled `buildData` template; `'t` is the template it borrows from.
#[derive(Debug, Clone)]
pub struct BuildPlan<'t> {
    root: Node<'t>,
}

impl<'t> BuildPlan<'t> {
    pub fn compile(template: Option<&'t Value>) -> Self {
        BuildPlan {
            root: Node::compile(template),
        }
    }

    /// `buildData(template, variables)`.
    pub fn build(&self, variables: Option<&Value>) -> Result<JsValue> {
        process_copy(self.root.build(variables)?)
    }
}

#[derive(Debug, Clone)]
enum Node<'t> {
    /// A value that builds to itself (scalars, empty containers).
    Copy(&'t Value),
    /// A result fixed by the template alone.
    Fixed(JsValue),
    Array(Vec<Node<'t>>),
    Object(Vec<(&'t String, Node<'t>)>),
    /// `$var` with a valid locator.
    Var(Vec<VarStep>),
    Concat {
        values: Box<Node<'t>>,
        delimiter: Box<Node<'t>>,
    },
    Tpl {
        template: &'t String,
        values: Vec<TplValue<'t>>,
    },
    Case {
        arms: Vec<CaseArm<'t>>,
        default: Box<Node<'t>>,
    },
    Map {
        value: Box<Node<'t>>,
        arms: Vec<MapArm<'t>>,
        default: Box<Node<'t>>,
    },
    /// Formulas that transform their one built argument.
    Unary(Unary, Box<Node<'t>>),
    Eval {
        value: Box<Node<'t>>,
        /// The operator (the object's second key) and its operand, when known.
        op: Option<(&'t str, Box<Node<'t>>)>,
    },
    /// Any other formula, run by the evaluator.
    Evaluator(&'t Value),
}

#[derive(Debug, Clone)]
enum VarStep {
    Property(PropertyKey),
    Index(f64),
    Unknown,
}

/// `getValueByLocator(variables, steps)` (`locator::get_value_by_steps`), with keys
/// looked up through their hints.
fn lookup_var(vars: Option<&Value>, steps: &[VarStep]) -> JsValue {
    let mut current = js::slot(vars?)?;
    for (idx, step) in steps.iter().enumerate() {
        current = match (step, current) {
            (VarStep::Property(key), Value::Object(map)) => key.find(map).and_then(js::slot)?,
            (VarStep::Property(key), Value::Array(_)) => {
                match js::get_property(current, key.name())? {
                    Cow::Borrowed(v) => v,
                    // `length`: a number, which no further step reads into.
                    Cow::Owned(v) => return (idx + 1 == steps.len()).then_some(v),
                }
            }
            (VarStep::Index(i), Value::Array(_)) => match js::get_index(current, *i)? {
                Cow::Borrowed(v) if js::truthy(Some(v)) => v,
                _ => return None,
            },
            _ => return None,
        };
    }
    Some(current.clone())
}

/// One `$tpl` placeholder: its key, the literal text it matches when it needs no regex,
/// and its value.
#[derive(Debug, Clone)]
struct TplValue<'t> {
    key: String,
    needle: Option<String>,
    node: Node<'t>,
}

#[derive(Debug, Clone, Copy)]
enum Unary {
    FirstNotEmpty,
    ExtractDate,
    ExtractTime,
    DomainFromEmail,
    And,
    Or,
}

#[derive(Debug, Clone)]
enum CaseArm<'t> {
    /// An array case: it matches and has no value.
    Undefined,
    Arm {
        condition: CaseCondition<'t>,
        value: Node<'t>,
    },
}

#[derive(Debug, Clone)]
enum CaseCondition<'t> {
    Always,
    Filter(CompiledFilter<'t>),
    Formula(Node<'t>),
}

#[derive(Debug, Clone)]
enum MapArm<'t> {
    /// A `null` mapping item: the SDK throws reading its `from`.
    Throw,
    Arm {
        from: Node<'t>,
        to: Node<'t>,
    },
}

/// `value[key]` on a template value, when it borrows from the template.
fn field<'t>(value: Option<&'t Value>, key: &str) -> std::result::Result<Option<&'t Value>, ()> {
    match value
        .and_then(js::slot)
        .and_then(|v| js::get_property(v, key))
    {
        None => Ok(None),
        Some(Cow::Borrowed(v)) => Ok(Some(v)),
        Some(Cow::Owned(_)) => Err(()),
    }
}

impl<'t> Node<'t> {
    fn compile(value: Option<&'t Value>) -> Self {
        match value.and_then(js::slot) {
            None => Node::Fixed(None),
            Some(v @ Value::Array(items)) => {
                if items.is_empty() {
                    return Node::Copy(v);
                }
                Node::Array(items.iter().map(|i| Node::compile(Some(i))).collect())
            }
            Some(v @ Value::Object(map)) => {
                if map.is_empty() {
                    return Node::Copy(v);
                }
                if get_formula(Some(v)).is_some() {
                    return Node::compile_formula(v);
                }
                Node::Object(
                    map.iter()
                        .map(|(k, i)| (k, Node::compile(Some(i))))
                        .collect(),
                )
            }
            Some(v) => Node::Copy(v),
        }
    }

    fn compile_formula(whole: &'t Value) -> Self {
        Node::compile_native(whole).unwrap_or(Node::Evaluator(whole))
    }

    /// The native node for a formula, or `None` to leave it to the evaluator.
    fn compile_native(whole: &'t Value) -> Option<Self> {
        let f = get_formula(Some(whole))?;
        let args = f.args;
        let boxed = |v: Option<&'t Value>| Box::new(Node::compile(v));
        Some(match f.kind {
            "var" => {
                if !locator::is_valid_locator(args) {
                    return Some(Node::Fixed(Some(Value::Null)));
                }
                let steps = locator::locator_to_steps(args).ok()?;
                Node::Var(
                    steps
                        .into_iter()
                        .map(|step| match step {
                            Step::Property(name) => VarStep::Property(PropertyKey::new(name)),
                            Step::Index(i) => VarStep::Index(i),
                            Step::Unknown(_) => VarStep::Unknown,
                        })
                        .collect(),
                )
            }
            "plain" => Node::Fixed(args.cloned()),
            "record" => Node::Fixed(field(args, "id").ok()?.cloned()),
            "concat" => {
                let (values, delimiter) = match args {
                    a if !js::truthy(a) => (None, None),
                    Some(v @ Value::Array(_)) => (Some(v), None),
                    other => (
                        field(other, "values").ok()?,
                        field(other, "delimiter").ok()?,
                    ),
                };
                let values = match values.filter(|v| !v.is_null()) {
                    Some(v) => Node::compile(Some(v)),
                    None => Node::Fixed(Some(Value::Array(Vec::new()))),
                };
                let delimiter = match delimiter.filter(|d| !d.is_null()) {
                    Some(d) => Node::compile(Some(d)),
                    None => Node::Fixed(Some(Value::String(String::new()))),
                };
                Node::Concat {
                    values: Box::new(values),
                    delimiter: Box::new(delimiter),
                }
            }
            "tpl" => {
                let template = field(args, "template").ok()?;
                let Some(Value::String(template)) = template else {
                    return Some(Node::Fixed(template.cloned()));
                };
                let values = field(args, "values").ok()?;
                let value = |key: String, v: &'t Value| TplValue {
                    needle: literal_needle(&key),
                    key,
                    node: Node::compile(js::slot(v)),
                };
                let values = match values {
                    Some(Value::Object(map)) if js::is_object(values) => {
                        map.iter().map(|(k, v)| value(k.clone(), v)).collect()
                    }
                    Some(Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| value(i.to_string(), v))
                        .collect(),
                    Some(Value::String(_)) => return None,
                    _ => Vec::new(),
                };
                Node::Tpl { template, values }
            }
            "case" => Node::compile_case(args),
            "map" => {
                if !matches!(args, Some(Value::Object(_) | Value::Array(_))) {
                    return Some(Node::Fixed(None));
                }
                let mut arms = Vec::new();
                if let Some(Value::Array(mapping)) = field(args, "mapping").ok()? {
                    for item in mapping {
                        if js::is_nullish(js::slot(item)) {
                            arms.push(MapArm::Throw);
                            break;
                        }
                        arms.push(MapArm::Arm {
                            from: Node::compile(field(Some(item), "from").ok()?),
                            to: Node::compile(field(Some(item), "to").ok()?),
                        });
                    }
                }
                Node::Map {
                    value: boxed(field(args, "value").ok()?),
                    arms,
                    default: boxed(field(args, "default").ok()?),
                }
            }
            "firstNotEmpty" => Node::Unary(Unary::FirstNotEmpty, boxed(args)),
            "extractDate" => Node::Unary(Unary::ExtractDate, boxed(args)),
            "extractTime" => Node::Unary(Unary::ExtractTime, boxed(args)),
            "domainFromEmail" => Node::Unary(Unary::DomainFromEmail, boxed(args)),
            "and" => Node::Unary(Unary::And, boxed(args)),
            "or" => Node::Unary(Unary::Or, boxed(args)),
            "eval" => {
                let op = f
                    .object
                    .iter()
                    .nth(1)
                    .filter(|(op, _)| apply_eval_operator(op, None, None).is_some())
                    .map(|(op, operand)| (op.as_str(), boxed(js::slot(operand))));
                Node::Eval {
                    value: boxed(args),
                    op,
                }
            }
            _ => return None,
        })
    }

    fn compile_case(args: Option<&'t Value>) -> Self {
        let (cases, default): (&'t [Value], Option<&'t Value>) = match args {
            a if !js::truthy(a) => (&[], None),
            Some(Value::Array(items)) => (items.as_slice(), None),
            Some(Value::Object(map)) => match map.get("cases").and_then(js::slot) {
                Some(Value::Array(items)) => {
                    (items.as_slice(), map.get("default").and_then(js::slot))
                }
                _ => return Node::Fixed(None),
            },
            _ => return Node::Fixed(None),
        };
        let mut arms = Vec::new();
        for item in cases {
            let item = match js::slot(item) {
                Some(Value::Object(m)) => m,
                Some(Value::Array(_)) => {
                    arms.push(CaseArm::Undefined);
                    break;
                }
                _ => continue,
            };
            let filter = item.get("filter").and_then(js::slot);
            let condition = if !js::truthy(filter) {
                CaseCondition::Always
            } else if let Some(Value::Array(_)) = filter {
                CaseCondition::Filter(CompiledFilter::compile(filter))
            } else {
                CaseCondition::Formula(Node::compile(filter))
            };
            arms.push(CaseArm::Arm {
                condition,
                value: Node::compile(item.get("value").and_then(js::slot)),
            });
        }
        Node::Case {
            arms,
            default: Box::new(Node::compile(default)),
        }
    }

    fn build(&self, vars: Option<&Value>) -> Result<JsValue> {
        Ok(match self {
            Node::Copy(v) => Some((*v).clone()),
            Node::Fixed(v) => v.clone(),
            Node::Array(nodes) => {
                let mut out = Vec::with_capacity(nodes.len());
                for node in nodes {
                    out.extend(node.build(vars)?);
                }
                (!out.is_empty()).then_some(Value::Array(out))
            }
            Node::Object(entries) => {
                let mut out = Map::with_capacity(entries.len());
                for (key, node) in entries {
                    if let Some(v) = node.build(vars)? {
                        out.insert((*key).clone(), v);
                    }
                }
                (!out.is_empty()).then_some(Value::Object(out))
            }
            Node::Var(steps) => lookup_var(vars, steps),
            Node::Concat { values, delimiter } => {
                let Some(Value::Array(items)) = values.build(vars)? else {
                    return Ok(None);
                };
                if items.is_empty() {
                    return Ok(None);
                }
                let sep = js::to_js_string(delimiter.build(vars)?.as_ref());
                let mut out = String::new();
                let mut first = true;
                for item in &items {
                    if js::is_nullish(Some(item)) {
                        continue;
                    }
                    let text = js::to_js_str(Some(item));
                    if text.is_empty() {
                        continue;
                    }
                    if !first {
                        out.push_str(&sep);
                    }
                    first = false;
                    out.push_str(&text);
                }
                Some(Value::String(out))
            }
            Node::Tpl { template, values } => {
                let mut result = (*template).clone();
                for TplValue { key, needle, node } in values {
                    let built = node.build(vars)?;
                    let replacement = if js::is_nullish(built.as_ref()) {
                        Cow::Borrowed("")
                    } else {
                        js::to_js_str(built.as_ref())
                    };
                    result = match needle {
                        Some(needle) => replace_literal(&result, needle, &replacement),
                        None => replace_placeholder(&result, key, &replacement)?,
                    };
                }
                Some(Value::String(result))
            }
            Node::Case { arms, default } => {
                for arm in arms {
                    let CaseArm::Arm { condition, value } = arm else {
                        return Ok(None);
                    };
                    let matched = match condition {
                        CaseCondition::Always => true,
                        CaseCondition::Filter(filter) => filter.matches(vars)?,
                        CaseCondition::Formula(node) => {
                            let built = process_copy(node.build(vars)?)?;
                            js::is_nullish(built.as_ref()) || js::truthy(built.as_ref())
                        }
                    };
                    if matched {
                        return value.build(vars);
                    }
                }
                default.build(vars)?.filter(|v| !v.is_null())
            }
            Node::Map {
                value,
                arms,
                default,
            } => {
                let value = value.build(vars)?;
                for arm in arms {
                    let MapArm::Arm { from, to } = arm else {
                        return Err(RuntimeError::Type(
                            "Cannot read properties of null (reading 'from')".into(),
                        ));
                    };
                    let from = from.build(vars)?;
                    if js::deep_equal(value.as_ref(), from.as_ref())
                        || js::loose_eq(value.as_ref(), from.as_ref())
                    {
                        return to.build(vars);
                    }
                }
                default.build(vars)?
            }
            Node::Unary(kind, arg) => unary(*kind, arg.build(vars)?),
            Node::Eval { value, op } => {
                let value = value.build(vars)?;
                let Some((op, operand)) = op else {
                    return Ok(Some(Value::Bool(true)));
                };
                let operand = operand.build(vars)?;
                apply_eval_operator(op, value.as_ref(), operand.as_ref()).map(Value::Bool)
            }
            Node::Evaluator(formula) => run_sync(Some(formula), &Vars::Value(vars))?,
        })
    }
}

fn unary(kind: Unary, built: JsValue) -> JsValue {
    match kind {
        Unary::FirstNotEmpty => match built {
            Some(Value::Array(items)) => items.into_iter().find(|v| !js::is_nullish(Some(v))),
            _ => None,
        },
        Unary::ExtractDate | Unary::ExtractTime => {
            let ms = dates::parse(&js::to_js_str(built.as_ref()))?;
            let iso = dates::to_iso_string(ms);
            Some(Value::String(if matches!(kind, Unary::ExtractDate) {
                iso[..10].to_string()
            } else {
                iso[11..19].to_string()
            }))
        }
        Unary::DomainFromEmail => match built {
            Some(Value::String(s)) => {
                let mut parts = s.split('@');
                match (parts.next(), parts.next(), parts.next()) {
                    (Some(_), Some(domain), None) => Some(Value::String(domain.to_string())),
                    _ => None,
                }
            }
            _ => None,
        },
        Unary::And | Unary::Or => {
            let Some(Value::Array(items)) = built else {
                return None;
            };
            let mut present = items.iter().filter(|v| !js::is_nullish(Some(v))).peekable();
            present.peek()?;
            Some(Value::Bool(if matches!(kind, Unary::And) {
                present.all(|v| js::truthy(Some(v)))
            } else {
                present.any(|v| js::truthy(Some(v)))
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formula::{build_value, process_copy};
    use serde_json::json;

    #[test]
    fn one_plan_agrees_with_the_evaluator_across_variables() {
        let template = json!({
            "name": {"$var": "$.r.name"},
            "where": {"$concat": {"values": [{"$var": "r.city"}, {"$var": "r.zip"}], "delimiter": ", "}},
            "hi": {"$tpl": {"template": "Hi {n}!", "values": {"n": {"$var": "r.name"}}}},
            "tier": {"$case": {"cases": [{"filter": [{"field": "r.age", "operator": "more_than", "value": 40}], "value": "senior"}], "default": "junior"}},
            "code": {"$map": {"value": {"$var": "r.status"}, "mapping": [{"from": "new", "to": 1}], "default": 0}},
            "items": {"$iterate": {"source": {"$var": "r.tags"}, "item": {"$var": "item"}}},
            "copy": {"$copy": "$.name"},
            "gone": {"$var": "r.missing"},
        });
        let plan = BuildPlan::compile(Some(&template));
        for vars in [
            json!({"r": {"name": "Ada", "city": "Oslo", "zip": 1, "age": 41, "status": "new", "tags": ["a", 0, "b"]}}),
            json!({"r": {"name": null, "age": "7", "status": "won"}}),
            json!({}),
        ] {
            let planned = plan.build(Some(&vars)).unwrap();
            assert_eq!(
                planned,
                process_copy(build_value(Some(&template), Some(&vars)).unwrap()).unwrap(),
                "{vars}"
            );
        }
    }
}
