//! Filters compiled once and matched against many records: operators resolved to an
//! enum, locators parsed, operands converted (`parseFloat`, `String()`) ahead of time,
//! and field values visited in place instead of collected. `does_match_filter` is this
//! plan compiled for one call, so the differential tests against the SDK exercise it.
//! Property steps look their key up through [`PropertyKey`], which remembers where the
//! previous record had it.

use super::{includes, is_empty, is_not_empty};
use crate::error::{Result, RuntimeError};
use crate::js;
use crate::locator::{self, Step};
use crate::property_key::PropertyKey;
use serde_json::Value;
use std::borrow::Cow;

/// The snake_case filter operators, resolved once per condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Is,
    IsNot,
    IsOneOf,
    IsNotOneOf,
    IsTrue,
    IsFalse,
    Contains,
    DoesNotContain,
    ArrayIncludes,
    ArrayDoesNotInclude,
    LessThan,
    LessThanOrEqual,
    MoreThan,
    MoreThanOrEqual,
    IsNotEmpty,
    IsEmpty,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        use Operator::*;
        Some(match name {
            "is" => Is,
            "is_not" => IsNot,
            "is_one_of" => IsOneOf,
            "is_not_one_of" => IsNotOneOf,
            "is_true" => IsTrue,
            "is_false" => IsFalse,
            "contains" => Contains,
            "does_not_contain" => DoesNotContain,
            "array_includes" => ArrayIncludes,
            "array_does_not_include" => ArrayDoesNotInclude,
            "less_than" => LessThan,
            "less_than_or_equal" => LessThanOrEqual,
            "more_than" => MoreThan,
            "more_than_or_equal" => MoreThanOrEqual,
            "is_not_empty" => IsNotEmpty,
            "is_empty" => IsEmpty,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
enum PathStep {
    Property(PropertyKey),
    Index(f64),
    /// A step object of a type the SDK skips while reading filter values.
    Unknown,
}

impl From<Step> for PathStep {
    fn from(step: Step) -> Self {
        match step {
            Step::Property(name) => PathStep::Property(PropertyKey::new(name)),
            Step::Index(i) => PathStep::Index(i),
            Step::Unknown(_) => PathStep::Unknown,
        }
    }
}

/// Visits each value `getFilterFieldValuesByLocator` would return, in its order, until
/// `test` passes; `found` records whether any value was reached.
fn visit<F: FnMut(&Value) -> bool>(
    data: Option<&Value>,
    steps: &[PathStep],
    found: &mut bool,
    test: &mut F,
) -> bool {
    let Some(mut current) = data else {
        return false;
    };
    for (idx, step) in steps.iter().enumerate() {
        if current.is_null() {
            return false;
        }
        let next = match step {
            PathStep::Index(i) => {
                if !current.is_array() {
                    return false;
                }
                js::get_index(current, *i)
            }
            PathStep::Property(key) => {
                if let Value::Array(items) = current {
                    return items
                        .iter()
                        .any(|item| visit(js::slot(item), &steps[idx..], found, test));
                }
                key.get(current)
            }
            PathStep::Unknown => continue,
        };
        match next {
            None => return false,
            Some(Cow::Borrowed(v)) => current = v,
            Some(Cow::Owned(v)) => return visit(Some(&v), &steps[idx + 1..], found, test),
        }
    }
    if current.is_null() {
        return false;
    }
    *found = true;
    test(current)
}

#[derive(Debug, Clone)]
struct Condition<'f> {
    op: Operator,
    /// A malformed locator fails when its condition is reached, as in the SDK.
    path: std::result::Result<Vec<PathStep>, RuntimeError>,
    operand: Option<Cow<'f, Value>>,
    /// `parseFloat(operand)`, for the comparisons.
    number: f64,
    /// `String(operand)`, for `contains`.
    text: String,
}

impl Condition<'_> {
    #[inline]
    fn test(&self, value: Option<&Value>) -> bool {
        use Operator::*;
        let operand = self.operand.as_deref();
        match self.op {
            Is => js::loose_eq(value, operand),
            IsNot => !js::loose_eq(value, operand),
            IsOneOf => includes(operand, value),
            IsNotOneOf => !includes(operand, value),
            IsTrue => js::truthy(value),
            IsFalse => value == Some(&Value::Bool(false)),
            Contains => js::truthy(value) && js::to_js_str(value).contains(self.text.as_str()),
            DoesNotContain => {
                js::truthy(value) && !js::to_js_str(value).contains(self.text.as_str())
            }
            ArrayIncludes => includes(value, operand),
            ArrayDoesNotInclude => !includes(value, operand),
            LessThan => self.compare(value, |a, b| a < b),
            LessThanOrEqual => self.compare(value, |a, b| a <= b),
            MoreThan => self.compare(value, |a, b| a > b),
            MoreThanOrEqual => self.compare(value, |a, b| a >= b),
            IsNotEmpty => is_not_empty(value),
            IsEmpty => is_empty(value),
        }
    }

    #[inline]
    fn compare(&self, value: Option<&Value>, cmp: fn(f64, f64) -> bool) -> bool {
        let a = js::parse_float(value);
        !a.is_nan() && !self.number.is_nan() && cmp(a, self.number)
    }

    /// Whether the condition holds for `data`: some value its field reaches passes, or
    /// it reaches none and `undefined` passes.
    #[inline]
    fn holds(&self, data: Option<&Value>) -> Result<bool> {
        let path = self.path.as_ref().map_err(Clone::clone)?;
        let mut found = false;
        if visit(data, path, &mut found, &mut |v| self.test(Some(v))) {
            return Ok(true);
        }
        Ok(!found && self.test(None))
    }
}

#[derive(Debug, Clone)]
enum Entry<'f> {
    Condition(Condition<'f>),
    /// A `null` condition: the SDK throws when it reaches it.
    Throw(RuntimeError),
}

/// A filter compiled once for matching many records; `'f` is the filter value it
/// borrows operands from ([`CompiledFilter::into_owned`] detaches it). Matching gives
/// the answers, and the errors, of `does_match_filter`.
#[derive(Debug, Clone)]
pub struct CompiledFilter<'f> {
    entries: Vec<Entry<'f>>,
}

impl<'f> CompiledFilter<'f> {
    /// Compiles a `DataFilter`; anything but an array matches everything. Errors the
    /// SDK would throw are kept for the record that reaches them.
    pub fn compile(filter: Option<&'f Value>) -> Self {
        let mut entries = Vec::new();
        let Some(Value::Array(items)) = filter else {
            return CompiledFilter { entries };
        };
        for condition in items {
            let condition = js::slot(condition);
            if js::is_nullish(condition) {
                entries.push(Entry::Throw(RuntimeError::Type(
                    "Cannot read properties of null (reading 'operator')".into(),
                )));
                break;
            }
            let Some(Value::Object(condition)) = condition else {
                continue;
            };
            let op = js::to_js_string(condition.get("operator").and_then(js::slot));
            let Some(op) = Operator::parse(&op) else {
                continue;
            };
            let path = locator::locator_to_steps(condition.get("field").and_then(js::slot))
                .map(|steps| steps.into_iter().map(PathStep::from).collect());
            let operand = condition.get("value").and_then(js::slot);
            let number = match op {
                Operator::LessThan
                | Operator::LessThanOrEqual
                | Operator::MoreThan
                | Operator::MoreThanOrEqual => js::parse_float(operand),
                _ => f64::NAN,
            };
            let text = match op {
                Operator::Contains | Operator::DoesNotContain => js::to_js_string(operand),
                _ => String::new(),
            };
            entries.push(Entry::Condition(Condition {
                op,
                path,
                operand: operand.map(Cow::Borrowed),
                number,
                text,
            }));
        }
        CompiledFilter { entries }
    }

    /// `doesMatchFilter(data, filter)`.
    pub fn matches(&self, data: Option<&Value>) -> Result<bool> {
        let data = data.and_then(js::slot);
        for entry in &self.entries {
            match entry {
                Entry::Condition(c) => {
                    if !c.holds(data)? {
                        return Ok(false);
                    }
                }
                Entry::Throw(e) => return Err(e.clone()),
            }
        }
        Ok(true)
    }

    /// The same filter, owning its operands.
    pub fn into_owned(self) -> CompiledFilter<'static> {
        CompiledFilter {
            entries: self
                .entries
                .into_iter()
                .map(|entry| match entry {
                    Entry::Condition(c) => Entry::Condition(Condition {
                        op: c.op,
                        path: c.path,
                        operand: c.operand.map(|o| Cow::Owned(o.into_owned())),
                        number: c.number,
                        text: c.text,
                    }),
                    Entry::Throw(e) => Entry::Throw(e),
                })
                .collect(),
        }
    }
}
