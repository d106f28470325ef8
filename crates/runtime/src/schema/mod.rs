//! Data schemas (the SDK's JSON-Schema subset): merging and inference, conforming
//! values, required fields, navigation by locator, and predicates.

pub mod conform;
pub mod merge;
pub mod predicates;
pub mod required;

use crate::js::{self, JsValue};
use crate::locator::{self, Step};
use predicates::prop;
use serde_json::Value;

pub use conform::{value_to_schema, ConformOptions};
pub use merge::{create_compound_schema, create_schema, merge_schema_values, merge_schemas};
pub use required::{get_missing_required_fields, get_required_fields_from_schema};

/// `getSchemaByLocator(schema, locator)`: the schema of the data at a locator, `null`
/// when the path leaves the schema, `undefined` for an invalid locator.
pub fn get_schema_by_locator(schema: Option<&Value>, locator: Option<&Value>) -> JsValue {
    if !locator::is_valid_locator(locator) {
        return None;
    }
    let schema = schema.and_then(js::slot);
    if !js::truthy(schema) {
        return Some(Value::Null);
    }
    let steps = locator::locator_to_steps(locator).ok()?;
    Some(schema_at_steps(schema, &steps).unwrap_or(Value::Null))
}

/// Walks `steps` through `properties` and `items`; the SDK compares `type` loosely.
pub(crate) fn schema_at_steps(schema: Option<&Value>, steps: &[Step]) -> Option<Value> {
    let mut current = schema.and_then(js::slot).cloned();
    for step in steps {
        let cur = current.as_ref().filter(|c| js::truthy(Some(c)))?;
        let ty = prop(Some(cur), "type");
        let next = match step {
            Step::Property(name) => {
                if !js::loose_eq(ty.as_deref(), Some(&Value::String("object".into()))) {
                    return None;
                }
                prop(Some(cur), "properties")
                    .and_then(|p| js::get_property(&p, name).map(|c| c.into_owned()))
            }
            Step::Index(_) => {
                if !js::loose_eq(ty.as_deref(), Some(&Value::String("array".into()))) {
                    return None;
                }
                prop(Some(cur), "items").map(|c| c.into_owned())
            }
            Step::Unknown(_) => return None,
        };
        current = Some(next.filter(|n| js::truthy(Some(n)))?);
    }
    current
}
