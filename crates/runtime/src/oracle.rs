//! The differential-test runner: reads the SDK oracle's JSONL input
//! (`{"id","fn","args"}`, `fn` = SDK export name) and writes exactly the oracle's
//! output shape (`{"id","fn","out"}` or `{"id","fn","error":{"name","type","message"}}`,
//! with `undefined` written as `{"$undefined":true}`), so both outputs can be diffed.

use crate::error::{Result, RuntimeError};
use crate::filter;
use crate::flow_graph;
use crate::formula;
use crate::js::{self, JsValue};
use crate::locator;
use crate::schema::{self, predicates};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io::{BufRead, Write};

/// Runs every input line and writes one output line per input line, in order.
pub fn run_jsonl(input: impl BufRead, mut output: impl Write) -> std::io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let out = run_line(&line);
        output.write_all(out.as_bytes())?;
        output.write_all(b"\n")?;
    }
    output.flush()
}

/// One input line to one output line (without the newline).
pub fn run_line(line: &str) -> String {
    let parsed: Value = match serde_json::from_str(line) {
        Ok(v) => js::js_key_order(v),
        Err(e) => {
            let mut m = Map::new();
            m.insert(
                "error".into(),
                error_json("SyntaxError", None, &e.to_string()),
            );
            return to_js_json(&Value::Object(m));
        }
    };
    let id = parsed.get("id").cloned();
    let name = parsed
        .get("fn")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let empty = Vec::new();
    let args = parsed
        .get("args")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let mut m = Map::new();
    m.insert("id".into(), js::into_slot(id));
    m.insert("fn".into(), Value::String(name.clone()));
    match call(&name, args) {
        Ok(out) => {
            m.insert("out".into(), js::into_slot(out));
        }
        Err(e) => {
            m.insert(
                "error".into(),
                error_json(e.js_name(), e.sdk_type(), &e.to_string()),
            );
        }
    }
    to_js_json(&Value::Object(m))
}

fn error_json(name: &str, ty: Option<&str>, message: &str) -> Value {
    let mut e = Map::new();
    e.insert("name".into(), Value::String(name.into()));
    e.insert(
        "type".into(),
        js::into_slot(ty.map(|t| Value::String(t.into()))),
    );
    e.insert("message".into(), Value::String(message.into()));
    Value::Object(e)
}

/// Serialises like `JSON.stringify` (numbers in JavaScript's format).
pub fn to_js_json(value: &Value) -> String {
    let mut out = String::new();
    write_js_json(value, &mut out);
    out
}

fn write_js_json(value: &Value, out: &mut String) {
    match value {
        Value::Number(n) => {
            let f = js::num(n);
            if f.is_finite() {
                out.push_str(&js::number_to_string(f));
            } else {
                out.push_str("null");
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_js_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap_or_default());
                out.push(':');
                write_js_json(v, out);
            }
            out.push('}');
        }
        other => out.push_str(&serde_json::to_string(other).unwrap_or_default()),
    }
}

fn arg(args: &[Value], i: usize) -> Option<&Value> {
    args.get(i).and_then(js::slot)
}

fn boolean(b: bool) -> JsValue {
    Some(Value::Bool(b))
}

fn strings(items: Vec<String>) -> JsValue {
    Some(Value::Array(items.into_iter().map(Value::String).collect()))
}

fn owned(v: Option<Cow<'_, Value>>) -> JsValue {
    v.map(Cow::into_owned)
}

/// Dispatches one SDK export by name.
pub fn call(name: &str, args: &[Value]) -> Result<JsValue> {
    let a = |i| arg(args, i);
    Ok(match name {
        // Locators
        "locatorToSteps" => {
            let locator = a(0);
            if let Some(Value::Array(items)) = locator {
                return Ok(Some(Value::Array(items.clone())));
            }
            let steps = locator::locator_to_steps(locator)?;
            Some(Value::Array(
                steps.iter().map(locator::Step::to_json).collect(),
            ))
        }
        "stepsToLocator" => Some(Value::String(locator::steps_json_to_locator(a(0))?)),
        "isValidLocator" => boolean(locator::is_valid_locator(a(0))),
        "getValueByLocator" => owned(locator::get_value_by_locator(a(0), a(1))),
        "getValueAtLocator" => owned(locator::get_value_at_locator(a(0), a(1))?),
        "setValueAtLocator" => locator::set_value_at_locator(a(0).cloned(), a(1), a(2).cloned())?,
        "getFilterFieldValuesByLocator" => Some(Value::Array(
            locator::get_filter_field_values_by_locator(a(0), a(1))?,
        )),
        "makeObjectPropertyLocator" => {
            let Some(Value::String(prop)) = a(1) else {
                return Err(RuntimeError::Type("str.replace is not a function".into()));
            };
            let base = if js::is_nullish(a(0)) {
                "$".to_string()
            } else {
                js::to_js_string(a(0))
            };
            Some(Value::String(locator::make_object_property_locator(
                &base, prop,
            )))
        }
        // Filters
        "doesMatchFilter" => {
            // As `does_match_filter`, after a first run that leaves the key hints
            // pointing elsewhere.
            let compiled = filter::CompiledFilter::compile(a(1));
            let _ = compiled.matches(a(0).cloned().map(reverse_keys).as_ref());
            boolean(compiled.matches(a(0))?)
        }
        "backwardCompatibleFilterMatch" => formula::backward_compatible_filter_match(a(0), a(1))?,
        "getOperatorsBySchema" => Some(Value::Array(filter::get_operators_by_schema(a(0)))),
        // Formulas
        "buildValue" => formula::build_value(a(0), a(1))?,
        "buildData" => {
            // The compiled plan (what `build_data` runs) and the general evaluator must
            // agree; a disagreement shows up as a mismatch against the SDK.
            // The plan first runs on the variables with every object's keys reversed, so
            // the run that counts starts from key hints that point elsewhere.
            let plan = formula::BuildPlan::compile(a(0));
            let _ = plan.build(a(1).cloned().map(reverse_keys).as_ref());
            let planned = plan.build(a(1));
            let evaluated = formula::build_value(a(0), a(1)).and_then(formula::process_copy);
            if planned != evaluated {
                return Err(RuntimeError::Generic(
                    "BuildPlan and the evaluator disagree".into(),
                ));
            }
            planned?
        }
        "resolveFormulas" => {
            let params = a(1);
            let variables = params.and_then(|p| js::get_property(p, "variables"));
            let schema = params.and_then(|p| js::get_property(p, "schema"));
            futures::executor::block_on(formula::resolve_formulas(
                a(0),
                variables.as_deref(),
                schema.as_deref(),
                None,
            ))?
        }
        "processCopy" => {
            formula::process_copy(a(0).cloned())?;
            None
        }
        "getFormulaLocators" => {
            strings(formula::get_formula_locators(&js::to_js_string(a(0)), a(1)))
        }
        "getVariableLocators" => strings(formula::get_variable_locators(a(0))?),
        "isFormula" => boolean(formula::is_formula(a(0))),
        "hasFormulas" => boolean(formula::has_formulas(a(0))),
        "getSchemaFromValue" => formula::get_schema_from_value(a(0), a(1), js::truthy(a(2)))?,
        "buildDataSchema" => formula::get_schema_from_value(a(0), a(1), false)?,
        // Schemas
        "createSchema" => Some(schema::create_schema(a(0))?),
        "mergeSchemas" => schema::merge_schemas(a(0))?,
        "createCompoundSchema" => schema::create_compound_schema(a(0))?,
        "unwrapSchema" => Some(Value::Array(schema::merge::unwrap_schema(a(0))?)),
        "unwrapSchemas" => Some(Value::Array(schema::merge::unwrap_schemas(a(0))?)),
        "wrapAnyOfSchema" => {
            let Some(Value::Array(items)) = a(0)
                .and_then(|s| js::get_property(s, "anyOf"))
                .as_deref()
                .cloned()
            else {
                return Err(RuntimeError::Type("schema.anyOf is not iterable".into()));
            };
            if items
                .iter()
                .any(|i| js::is_nullish(js::slot(i)) || !i.is_object())
            {
                return Err(RuntimeError::Type(
                    "Cannot read properties of null (reading 'type')".into(),
                ));
            }
            Some(schema::merge::wrap_any_of(items))
        }
        "valueToSchema" => {
            let options = schema::ConformOptions::from_json(a(2));
            schema::value_to_schema(a(0).cloned(), a(1), &options)
        }
        "getRequiredFieldsFromSchema" => {
            Some(Value::Array(schema::get_required_fields_from_schema(a(0))?))
        }
        "getMissingRequiredFields" => Some(Value::Array(schema::get_missing_required_fields(
            a(0),
            a(1),
        )?)),
        "getSchemaByLocator" => schema::get_schema_by_locator(a(0), a(1)),
        "schemaIsScalar" => boolean(predicates::schema_is_scalar(a(0))),
        "schemaIsNumber" => predicates::schema_is_number_value(a(0)),
        "schemaHasFixedValues" => boolean(predicates::schema_has_fixed_values(a(0))),
        "schemaAllowsCustomValue" => predicates::schema_allows_custom_value(a(0)),
        "schemaHasProperties" => boolean(predicates::schema_has_properties(a(0))),
        "schemaTypeFromValue" => {
            predicates::schema_type_from_value(a(0)).map(|t| Value::String(t.into()))
        }
        "isSchemaEmpty" => boolean(predicates::is_schema_empty(a(0))),
        // Flow graph
        "hasCycles" => boolean(flow_graph::has_cycles(a(0))?),
        "getRootNodeKeys" => {
            let nodes = a(0).and_then(|f| js::get_property(f, "nodes"));
            if js::is_nullish(a(0)) {
                return Err(RuntimeError::Type("Cannot destructure 'nodes'".into()));
            }
            strings(flow_graph::get_root_node_keys(nodes.as_deref())?)
        }
        "getChildNodeKeys" => Some(Value::Array(flow_graph::get_child_node_keys(
            a(0),
            a(1).unwrap_or(&Value::Null),
        )?)),
        "getDownstreamNodeKeys" => Some(Value::Array(flow_graph::get_downstream_node_keys(
            a(0),
            a(1).unwrap_or(&Value::Null),
        )?)),
        "getParentNodeKeys" => strings(flow_graph::get_parent_node_keys(
            a(0),
            a(1).unwrap_or(&Value::Null),
        )?),
        "getUpstreamNodeKeys" => strings(flow_graph::get_upstream_node_keys(
            a(0),
            a(1).unwrap_or(&Value::Null),
        )?),
        _ => {
            return Err(RuntimeError::Unsupported(
                "this SDK export is not part of the runtime",
            ))
        }
    })
}

/// The value with the keys of every object in reverse order.
fn reverse_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.reverse();
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, reverse_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(reverse_keys).collect()),
        other => other,
    }
}
