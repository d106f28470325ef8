//! The data builder: recognising formulas (`{"$var": …}` and the other 24 types) and
//! evaluating a value that contains them, synchronously (`buildValue` / `buildData`)
//! or with the outside world (`resolveFormulas`, through a [`FormulaHost`]).
//!
//! One evaluator serves both entry points; [`Mode`] selects the few places where the
//! SDK's `getValue` and `resolveValue` differ (`$case` filters, `$tpl` with a non-string
//! template, `String()` before date and name parsing, the host callbacks).

mod eval;
pub mod locators;
mod plan;
pub mod schema_of;
mod text;
mod vars;

use crate::error::{Result, RuntimeError};
use crate::js::{self, JsValue};
use async_trait::async_trait;
use serde_json::Value;

pub use locators::{get_formula_locators, get_variable_locators, process_copy};
pub use plan::BuildPlan;
pub use schema_of::get_schema_from_value;
pub use vars::Vars;

/// `DataBuilderFormulaType`, in the SDK's declaration order.
pub const FORMULA_TYPES: [&str; 25] = [
    "var",
    "copy",
    "tpl",
    "record",
    "lookup",
    "plain",
    "map",
    "concat",
    "firstName",
    "lastName",
    "iterate",
    "case",
    "extractDate",
    "extractTime",
    "findExternalRecordId",
    "findAppRecordId",
    "eval",
    "and",
    "or",
    "mergeObjects",
    "firstNotEmpty",
    "domainFromEmail",
    "formula",
    "jsonata",
    "dataSchemaRef",
];

/// A recognised formula: its type (without `$`), its arguments and the whole object
/// (`$eval` reads its operator from the object's second key).
#[derive(Debug, Clone, Copy)]
pub struct Formula<'a> {
    pub kind: &'a str,
    pub args: Option<&'a Value>,
    pub object: &'a serde_json::Map<String, Value>,
}

/// `getFormula`: an object whose first key is `$<known type>`.
pub fn get_formula(value: Option<&Value>) -> Option<Formula<'_>> {
    let Some(Value::Object(map)) = value else {
        return None;
    };
    let (first, args) = map.iter().next()?;
    let kind = first.strip_prefix('$')?;
    if !FORMULA_TYPES.contains(&kind) {
        return None;
    }
    Some(Formula {
        kind,
        args: js::slot(args),
        object: map,
    })
}

/// `isFormula`.
pub fn is_formula(value: Option<&Value>) -> bool {
    get_formula(value).is_some()
}

/// `hasFormulas`: a formula anywhere inside the value.
pub fn has_formulas(value: Option<&Value>) -> bool {
    if is_formula(value) {
        return true;
    }
    match value {
        Some(Value::Array(items)) => items.iter().any(|v| has_formulas(Some(v))),
        Some(Value::Object(map)) => map.values().any(|v| has_formulas(Some(v))),
        _ => false,
    }
}

/// Which of the SDK's two evaluation paths to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `getValue` (`buildValue`, `buildData`).
    Build,
    /// `resolveValue` (`resolveFormulas`).
    Resolve,
}

/// The outside-world callbacks of `resolveFormulas`. Each is optional in the SDK, and
/// a missing one changes the result (the formula is returned unresolved), so a host
/// says which it provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCallback {
    ResolveLookup,
    ResolveImportDataLink,
    ResolveExportDataLink,
    GetDataCollection,
    GetInternalDataSchema,
}

/// The engine's side of `resolveFormulas`: record lookups, data links and schema
/// references. Methods are only called for callbacks `provides` reports, so a host
/// implements those and leaves the rest to the defaults, which refuse.
#[async_trait]
pub trait FormulaHost: Send + Sync {
    fn provides(&self, callback: HostCallback) -> bool;

    /// `resolveLookup({lookup, schema, fullValue})`: an external record id.
    async fn resolve_lookup(
        &self,
        _lookup: JsValue,
        _schema: JsValue,
        _full_value: JsValue,
    ) -> Result<JsValue> {
        Err(RuntimeError::Unsupported("resolveLookup"))
    }

    /// `resolveImportDataLink({dataLinkTableKey, recordId})`: the app record id.
    async fn resolve_import_data_link(
        &self,
        _data_link_table_key: Value,
        _record_id: Value,
    ) -> Result<JsValue> {
        Err(RuntimeError::Unsupported("resolveImportDataLink"))
    }

    /// `resolveExportDataLink({dataLinkTableKey, recordId})`: the external record id.
    async fn resolve_export_data_link(
        &self,
        _data_link_table_key: Value,
        _record_id: Value,
    ) -> Result<JsValue> {
        Err(RuntimeError::Unsupported("resolveExportDataLink"))
    }

    /// `getDataCollection(key, parameters)`: the collection spec (its `fieldsSchema` is
    /// the formula's value).
    async fn get_data_collection(&self, _key: JsValue, _parameters: JsValue) -> Result<JsValue> {
        Err(RuntimeError::Unsupported("getDataCollection"))
    }

    /// `getInternalDataSchema(key)`.
    async fn get_internal_data_schema(&self, _key: JsValue) -> Result<JsValue> {
        Err(RuntimeError::Unsupported("getInternalDataSchema"))
    }
}

/// `buildValue(value, variables)`.
pub fn build_value(value: Option<&Value>, variables: Option<&Value>) -> Result<JsValue> {
    let vars = Vars::Value(variables);
    eval::run_sync(value, &vars)
}

/// `buildValue` with iteration-scoped variables (used by callers that keep a `Vars`).
pub fn build_value_with(value: Option<&Value>, variables: &Vars<'_>) -> Result<JsValue> {
    eval::run_sync(value, variables)
}

/// `buildData(value, variables)`: `buildValue`, then `$copy` resolution. Runs through a
/// [`BuildPlan`] compiled for the one call, which costs less than the general evaluator
/// even once; callers that build one template many times keep the plan instead.
pub fn build_data(value: Option<&Value>, variables: Option<&Value>) -> Result<JsValue> {
    BuildPlan::compile(value).build(variables)
}

/// `resolveFormulas(value, {variables, schema, …callbacks})`. Does not resolve `$copy`.
pub async fn resolve_formulas(
    value: Option<&Value>,
    variables: Option<&Value>,
    schema: Option<&Value>,
    host: Option<&dyn FormulaHost>,
) -> Result<JsValue> {
    let vars = Vars::Value(variables);
    eval::run_async(value, &vars, schema, host).await
}

/// `backwardCompatibleFilterMatch(filter, variables)`: a condition array is matched
/// against the variables; anything else is built as a formula, `undefined`/`null`
/// counting as a match. Returns the JavaScript value the SDK returns.
pub fn backward_compatible_filter_match(
    filter: Option<&Value>,
    variables: Option<&Value>,
) -> Result<JsValue> {
    if let Some(Value::Array(_)) = filter {
        return Ok(Some(Value::Bool(crate::filter::does_match_filter(
            variables, filter,
        )?)));
    }
    let built = build_data(filter, variables)?;
    Ok(Some(match built {
        None | Some(Value::Null) => Value::Bool(true),
        Some(v) => v,
    }))
}

/// `$jsonata`: compiles the built expression and evaluates it against the variables
/// with JSONata 1.8 semantics. As in the SDK, a non-string expression or any compile or
/// evaluation error gives `undefined`; only a feature the JSONata port lacks is an
/// error, because the SDK might have produced a value there.
pub(crate) fn evaluate_jsonata(expression: JsValue, variables: JsValue) -> Result<JsValue> {
    let Some(Value::String(expression)) = expression else {
        return Ok(None);
    };
    let input = variables.map(js::strip_undefined).unwrap_or(Value::Null);
    match osmosis_jsonata::evaluate(&expression, &input) {
        Ok(value) => Ok(value),
        Err(osmosis_jsonata::JsonataError::Unsupported { feature }) => {
            Err(RuntimeError::JsonataUnsupported(feature))
        }
        Err(_) => Ok(None),
    }
}
