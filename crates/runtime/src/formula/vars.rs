//! Formula variables. `$iterate` evaluates its item template with fresh variables
//! `{item, parent, index}` for every element; `Vars::Iter` represents them without
//! copying the outer variables for each element.

use crate::js::{self, JsValue};
use crate::locator::{self, Step};
use serde_json::{Map, Value};
use std::borrow::Cow;

#[derive(Debug, Clone, Copy)]
pub enum Vars<'a> {
    Value(Option<&'a Value>),
    Iter {
        item: Option<&'a Value>,
        parent: &'a Vars<'a>,
        index: usize,
    },
}

impl<'a> Vars<'a> {
    /// `getValueByLocator(variables, steps)`.
    pub fn lookup(&self, steps: &[Step]) -> Option<Cow<'a, Value>> {
        match *self {
            Vars::Value(v) => locator::get_value_by_steps(v, steps),
            Vars::Iter {
                item,
                parent,
                index,
            } => {
                let Some((first, rest)) = steps.split_first() else {
                    return self.materialize().map(Cow::Owned);
                };
                match first {
                    Step::Property(name) if name == "item" => {
                        locator::get_value_by_steps(item, rest)
                    }
                    Step::Property(name) if name == "parent" => parent.lookup(rest),
                    Step::Property(name) if name == "index" => {
                        let index = Value::from(index);
                        locator::get_value_by_steps(Some(&index), rest)
                            .map(|c| Cow::Owned(c.into_owned()))
                    }
                    _ => None,
                }
            }
        }
    }

    /// The variables as one JSON value (for filters and JSONata, which read them whole).
    pub fn materialize(&self) -> JsValue {
        match *self {
            Vars::Value(v) => v.cloned(),
            Vars::Iter {
                item,
                parent,
                index,
            } => {
                let mut map = Map::new();
                map.insert("item".into(), js::into_slot(item.cloned()));
                map.insert("parent".into(), js::into_slot(parent.materialize()));
                map.insert("index".into(), Value::from(index));
                Some(Value::Object(map))
            }
        }
    }
}
