//! The evaluator behind `buildValue` and `resolveFormulas`: walks a value, evaluates
//! each formula, drops `undefined` results from arrays and objects.
//!
//! It is written once as async code; the synchronous entry point runs it without a
//! host, so it never waits and completes on the first poll.

use super::text::replace_placeholder;
use super::vars::Vars;
use super::{evaluate_jsonata, get_formula, Formula, FormulaHost, HostCallback, Mode};
use crate::error::{Result, RuntimeError};
use crate::filter;
use crate::js::{self, JsValue};
use crate::locator;
use crate::{dates, names};
use futures::future::{BoxFuture, Either, FutureExt, Ready};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::sync::Mutex;

type Fut<'b> = Either<Ready<Result<JsValue>>, BoxFuture<'b, Result<JsValue>>>;

pub(super) struct Ctx<'b> {
    mode: Mode,
    host: Option<&'b dyn FormulaHost>,
    full_value: Option<&'b Value>,
    /// `$formula` rewrites its own arguments in place, so a `$formula` evaluated again in
    /// the same build (inside `$iterate`) sees its earlier rewrite. Keyed by the address
    /// of the arguments in the template, checked against their original content.
    formula_rewrites: Mutex<Vec<(usize, Value, Value)>>,
}

pub(super) fn run_sync(value: Option<&Value>, vars: &Vars<'_>) -> Result<JsValue> {
    let ctx = Ctx {
        mode: Mode::Build,
        host: None,
        full_value: value,
        formula_rewrites: Mutex::new(Vec::new()),
    };
    eval(&ctx, value, vars, None)
        .now_or_never()
        .unwrap_or_else(|| {
            Err(RuntimeError::Generic(
                "synchronous build waited on a host".into(),
            ))
        })
}

pub(super) async fn run_async(
    value: Option<&Value>,
    vars: &Vars<'_>,
    schema: Option<&Value>,
    host: Option<&dyn FormulaHost>,
) -> Result<JsValue> {
    let ctx = Ctx {
        mode: Mode::Resolve,
        host,
        full_value: value,
        formula_rewrites: Mutex::new(Vec::new()),
    };
    eval(&ctx, value, vars, schema).await
}

fn eval<'b>(
    ctx: &'b Ctx<'b>,
    value: Option<&'b Value>,
    vars: &'b Vars<'b>,
    schema: Option<&'b Value>,
) -> Fut<'b> {
    match value.and_then(js::slot) {
        None => Either::Left(futures::future::ready(Ok(None))),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            Either::Right(eval_container(ctx, v, vars, schema).boxed())
        }
        Some(v) => Either::Left(futures::future::ready(Ok(Some(v.clone())))),
    }
}

fn child_schema<'s>(ctx: &Ctx<'_>, schema: Option<&'s Value>, key: &str) -> Option<Cow<'s, Value>> {
    if ctx.mode == Mode::Build {
        return None;
    }
    schema
        .and_then(js::slot)
        .and_then(|s| js::get_property(s, key))
}

async fn eval_container<'b>(
    ctx: &'b Ctx<'b>,
    value: &'b Value,
    vars: &'b Vars<'b>,
    schema: Option<&'b Value>,
) -> Result<JsValue> {
    if let Some(f) = get_formula(Some(value)) {
        return eval_formula(ctx, f, value, vars, schema).await;
    }
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Ok(Some(value.clone()));
            }
            let item_schema = child_schema(ctx, schema, "items");
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(v) = eval(ctx, Some(item), vars, item_schema.as_deref()).await? {
                    out.push(v);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            })
        }
        Value::Object(map) => {
            if map.is_empty() {
                return Ok(Some(value.clone()));
            }
            let props = child_schema(ctx, schema, "properties");
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                let prop_schema = props.as_deref().and_then(|p| js::get_property(p, key));
                if let Some(v) = eval(ctx, Some(item), vars, prop_schema.as_deref()).await? {
                    out.insert(key.clone(), v);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        _ => Ok(Some(value.clone())),
    }
}

fn get<'a>(value: Option<&'a Value>, key: &str) -> Option<Cow<'a, Value>> {
    value
        .and_then(js::slot)
        .and_then(|v| js::get_property(v, key))
}

fn single(key: &str, value: JsValue) -> Value {
    let mut m = Map::new();
    m.insert(key.to_string(), js::into_slot(value));
    Value::Object(m)
}

fn host_for<'b>(ctx: &Ctx<'b>, callback: HostCallback) -> Option<&'b dyn FormulaHost> {
    ctx.host
        .filter(|h| ctx.mode == Mode::Resolve && h.provides(callback))
}

async fn eval_formula<'b>(
    ctx: &'b Ctx<'b>,
    f: Formula<'b>,
    whole: &'b Value,
    vars: &'b Vars<'b>,
    schema: Option<&'b Value>,
) -> Result<JsValue> {
    let args = f.args;
    let resolve = ctx.mode == Mode::Resolve;
    match f.kind {
        "var" => {
            if !locator::is_valid_locator(args) {
                return Ok(Some(Value::Null));
            }
            let steps = locator::locator_to_steps(args)?;
            Ok(vars.lookup(&steps).map(Cow::into_owned))
        }
        "copy" => Ok(Some(single("$copy", eval(ctx, args, vars, schema).await?))),
        "plain" => Ok(args.cloned()),
        "record" => Ok(get(args, "id").map(Cow::into_owned)),
        "lookup" => {
            let built = eval(ctx, args, vars, schema).await?;
            match host_for(ctx, HostCallback::ResolveLookup) {
                Some(host) => {
                    host.resolve_lookup(built, schema.cloned(), ctx.full_value.cloned())
                        .await
                }
                None => Ok(Some(single("$lookup", built))),
            }
        }
        "findAppRecordId" | "findExternalRecordId" => {
            let callback = if f.kind == "findAppRecordId" {
                HostCallback::ResolveImportDataLink
            } else {
                HostCallback::ResolveExportDataLink
            };
            let built = eval(ctx, args, vars, schema).await?;
            let Some(host) = host_for(ctx, callback) else {
                return Ok(Some(single(&format!("${}", f.kind), built)));
            };
            let Some(obj @ (Value::Object(_) | Value::Array(_))) = built.as_ref() else {
                return Ok(None);
            };
            let key = get(Some(obj), "dataLinkTable")
                .and_then(|t| js::get_property(&t, "key").map(Cow::into_owned));
            let record_id = get(Some(obj), "recordId").map(Cow::into_owned);
            if !js::truthy(key.as_ref()) || !js::truthy(record_id.as_ref()) {
                return Ok(None);
            }
            let (key, record_id) = (key.unwrap_or_default(), record_id.unwrap_or_default());
            if callback == HostCallback::ResolveImportDataLink {
                host.resolve_import_data_link(key, record_id).await
            } else {
                host.resolve_export_data_link(key, record_id).await
            }
        }
        "tpl" => {
            let template = get(args, "template");
            let Some(Value::String(template)) = template.as_deref() else {
                return Ok(if resolve {
                    None
                } else {
                    template.map(Cow::into_owned)
                });
            };
            let values = get(args, "values").map(Cow::into_owned);
            let mut result = template.clone();
            for key in js::object_keys(values.as_ref()) {
                let item = values
                    .as_ref()
                    .and_then(|v| js::get_property(v, &key))
                    .map(Cow::into_owned);
                let built = eval(ctx, item.as_ref(), vars, schema).await?;
                let replacement = if js::is_nullish(built.as_ref()) {
                    String::new()
                } else {
                    js::to_js_string(built.as_ref())
                };
                result = replace_placeholder(&result, &key, &replacement)?;
            }
            Ok(Some(Value::String(result)))
        }
        "concat" => {
            let (values, delimiter): (Option<Cow<'b, Value>>, Option<Cow<'b, Value>>) = match args {
                a if !js::truthy(a) => (None, None),
                Some(v @ Value::Array(_)) => (Some(Cow::Borrowed(v)), None),
                other => (get(other, "values"), get(other, "delimiter")),
            };
            let empty = Value::Array(Vec::new());
            let values = values
                .filter(|v| !v.is_null())
                .unwrap_or(Cow::Borrowed(&empty));
            let built = eval(ctx, Some(&values), vars, schema).await?;
            let Some(Value::Array(items)) =
                built.filter(|b| matches!(b, Value::Array(a) if !a.is_empty()))
            else {
                return Ok(None);
            };
            let empty_str = Value::String(String::new());
            let delimiter = delimiter
                .filter(|d| !d.is_null())
                .unwrap_or(Cow::Borrowed(&empty_str));
            let sep = js::to_js_string(eval(ctx, Some(&delimiter), vars, schema).await?.as_ref());
            let kept: Vec<Value> = items
                .into_iter()
                .filter(|v| !js::is_nullish(Some(v)) && !js::to_js_string(Some(v)).is_empty())
                .collect();
            Ok(Some(Value::String(js::join_array(&kept, &sep))))
        }
        "firstName" | "lastName" => {
            let built = eval(ctx, args, vars, schema).await?;
            let text = if js::is_nullish(built.as_ref()) {
                String::new()
            } else {
                js::to_js_string(built.as_ref())
            };
            let parsed = names::parse_name(&text);
            Ok(if f.kind == "firstName" {
                parsed
                    .last_name
                    .filter(|l| !l.is_empty())
                    .and(parsed.first_name)
                    .map(Value::String)
            } else {
                parsed
                    .last_name
                    .filter(|l| !l.is_empty())
                    .or(parsed.first_name.filter(|f| !f.is_empty()))
                    .map(Value::String)
            })
        }
        "extractDate" | "extractTime" => {
            let built = eval(ctx, args, vars, schema).await?;
            let Some(ms) = dates::parse(&js::to_js_string(built.as_ref())) else {
                return Ok(None);
            };
            let iso = dates::to_iso_string(ms);
            Ok(Some(Value::String(if f.kind == "extractDate" {
                iso[..10].to_string()
            } else {
                iso[11..19].to_string()
            })))
        }
        "map" => {
            if !matches!(args, Some(Value::Object(_) | Value::Array(_))) {
                return Ok(None);
            }
            let value = eval(ctx, get(args, "value").as_deref(), vars, schema).await?;
            if let Some(Value::Array(mapping)) = get(args, "mapping").as_deref() {
                for item in mapping {
                    if js::is_nullish(js::slot(item)) {
                        return Err(RuntimeError::Type(
                            "Cannot read properties of null (reading 'from')".into(),
                        ));
                    }
                    let from =
                        eval(ctx, js::get_property(item, "from").as_deref(), vars, schema).await?;
                    if js::deep_equal(value.as_ref(), from.as_ref())
                        || js::loose_eq(value.as_ref(), from.as_ref())
                    {
                        return eval(ctx, js::get_property(item, "to").as_deref(), vars, schema)
                            .await;
                    }
                }
            }
            eval(ctx, get(args, "default").as_deref(), vars, schema).await
        }
        "iterate" => {
            let source = eval(ctx, get(args, "source").as_deref(), vars, schema).await?;
            let Some(Value::Array(items)) = source else {
                return Ok(None);
            };
            let template = get(args, "item");
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let item_vars = Vars::Iter {
                    item: js::slot(item),
                    parent: vars,
                    index,
                };
                let built = eval(ctx, template.as_deref(), &item_vars, schema).await?;
                if js::truthy(built.as_ref()) {
                    out.extend(built);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Array(out))
            })
        }
        "case" => eval_case(ctx, args, vars, schema).await,
        "eval" => {
            let value = eval(ctx, args, vars, schema).await?;
            let Some((op, operand)) = f.object.iter().nth(1) else {
                return Ok(Some(Value::Bool(true)));
            };
            if filter::apply_eval_operator(op, None, None).is_none() {
                return Ok(Some(Value::Bool(true)));
            }
            let operand = eval(ctx, js::slot(operand), vars, schema).await?;
            Ok(filter::apply_eval_operator(op, value.as_ref(), operand.as_ref()).map(Value::Bool))
        }
        "and" | "or" => {
            let built = eval(ctx, args, vars, schema).await?;
            let Some(Value::Array(items)) = built else {
                return Ok(None);
            };
            let present: Vec<&Value> = items.iter().filter(|v| !js::is_nullish(Some(v))).collect();
            if present.is_empty() {
                return Ok(None);
            }
            let result = if f.kind == "and" {
                present.iter().all(|v| js::truthy(Some(v)))
            } else {
                present.iter().any(|v| js::truthy(Some(v)))
            };
            Ok(Some(Value::Bool(result)))
        }
        "mergeObjects" => {
            let built = eval(ctx, args, vars, schema).await?;
            let Some(Value::Array(items)) = built else {
                return Ok(None);
            };
            let mut out = Map::new();
            for item in &items {
                if matches!(item, Value::Object(_) | Value::Array(_)) {
                    crate::schema::merge::spread_into(&mut out, item);
                }
            }
            Ok(if out.is_empty() {
                None
            } else {
                Some(Value::Object(out))
            })
        }
        "firstNotEmpty" => {
            let built = eval(ctx, args, vars, schema).await?;
            let Some(Value::Array(items)) = built else {
                return Ok(None);
            };
            Ok(items.into_iter().find(|v| !js::is_nullish(Some(v))))
        }
        "domainFromEmail" => {
            let built = eval(ctx, args, vars, schema).await?;
            let Some(Value::String(s)) = built else {
                return Ok(None);
            };
            let parts: Vec<&str> = s.split('@').collect();
            Ok(if parts.len() == 2 {
                Some(Value::String(parts[1].to_string()))
            } else {
                None
            })
        }
        "formula" => eval_formula_formula(ctx, args, whole, vars, schema).await,
        "jsonata" => {
            if !js::truthy(args) {
                return Ok(None);
            }
            // The SDK builds the expression inside its try block: a failure there is
            // `undefined` too.
            let expression = match eval(ctx, args, vars, schema).await {
                Ok(e) => e,
                Err(RuntimeError::JsonataUnsupported(f)) => {
                    return Err(RuntimeError::JsonataUnsupported(f))
                }
                Err(_) => return Ok(None),
            };
            evaluate_jsonata(expression, vars.materialize())
        }
        "dataSchemaRef" => {
            if !resolve {
                return Ok(None);
            }
            let built = eval(ctx, args, vars, schema).await?;
            let ty = get(built.as_ref(), "type");
            if ty.as_deref() == Some(&Value::String("data-collection".into())) {
                let Some(host) = host_for(ctx, HostCallback::GetDataCollection) else {
                    return Ok(None);
                };
                let key = get(built.as_ref(), "key").map(Cow::into_owned);
                let params = get(built.as_ref(), "parameters").map(Cow::into_owned);
                let spec = host.get_data_collection(key, params).await?;
                if js::is_nullish(spec.as_ref()) {
                    return Err(RuntimeError::Type(
                        "Cannot read properties of undefined (reading 'fieldsSchema')".into(),
                    ));
                }
                return Ok(get(spec.as_ref(), "fieldsSchema").map(Cow::into_owned));
            }
            if get(args, "type").as_deref() == Some(&Value::String("internal-data-schema".into())) {
                let Some(host) = host_for(ctx, HostCallback::GetInternalDataSchema) else {
                    return Ok(None);
                };
                if js::is_nullish(built.as_ref()) {
                    return Err(RuntimeError::Type(
                        "Cannot read properties of undefined (reading 'key')".into(),
                    ));
                }
                return host
                    .get_internal_data_schema(get(built.as_ref(), "key").map(Cow::into_owned))
                    .await;
            }
            Ok(None)
        }
        other => Err(RuntimeError::Generic(format!(
            "unknown formula type {other}"
        ))),
    }
}

async fn eval_case<'b>(
    ctx: &'b Ctx<'b>,
    args: Option<&'b Value>,
    vars: &'b Vars<'b>,
    schema: Option<&'b Value>,
) -> Result<JsValue> {
    let (cases, default): (&[Value], Option<Cow<'b, Value>>) = match args {
        a if !js::truthy(a) => (&[], None),
        Some(Value::Array(items)) => (items.as_slice(), None),
        Some(Value::Object(map)) => match map.get("cases").and_then(js::slot) {
            Some(Value::Array(items)) => (
                items.as_slice(),
                map.get("default").and_then(js::slot).map(Cow::Borrowed),
            ),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    for item in cases {
        let item = match js::slot(item) {
            Some(Value::Object(m)) => m,
            // An array case reads `Array.prototype.filter` as its filter, which matches,
            // and has no `value`.
            Some(Value::Array(_)) => return Ok(None),
            _ => continue,
        };
        let filter_value = item.get("filter").and_then(js::slot);
        let matched = if js::truthy(filter_value) {
            match ctx.mode {
                Mode::Build => match filter_value {
                    Some(Value::Array(_)) => match vars {
                        Vars::Value(data) => filter::does_match_filter(*data, filter_value)?,
                        Vars::Iter { .. } => {
                            filter::does_match_filter(vars.materialize().as_ref(), filter_value)?
                        }
                    },
                    _ => {
                        let built = eval(ctx, filter_value, vars, None).await?;
                        let built = super::process_copy(built)?;
                        js::is_nullish(built.as_ref()) || js::truthy(built.as_ref())
                    }
                },
                Mode::Resolve => {
                    let built = eval(ctx, filter_value, vars, schema).await?;
                    js::is_nullish(built.as_ref()) || js::truthy(built.as_ref())
                }
            }
        } else {
            true
        };
        if matched {
            return eval(ctx, item.get("value").and_then(js::slot), vars, schema).await;
        }
    }
    let result = eval(ctx, default.as_deref(), vars, schema).await?;
    Ok(result.filter(|v| !v.is_null()))
}

/// `$formula`: evaluates each `$var` inside its arguments in place and returns them.
async fn eval_formula_formula<'b>(
    ctx: &'b Ctx<'b>,
    args: Option<&'b Value>,
    _whole: &'b Value,
    vars: &'b Vars<'b>,
    schema: Option<&'b Value>,
) -> Result<JsValue> {
    let address = args.map(|a| a as *const Value as usize).unwrap_or(0);
    let mut result: JsValue = {
        let rewrites = ctx
            .formula_rewrites
            .lock()
            .expect("formula rewrite table poisoned");
        rewrites
            .iter()
            .find(|(addr, original, _)| *addr == address && Some(original) == args)
            .map(|(_, _, rewritten)| Some(rewritten.clone()))
            .unwrap_or_else(|| args.cloned())
    };
    let locators = super::locators::get_variable_locators(result.as_ref())?;
    for loc in locators {
        let loc = Value::String(loc);
        let current = match result.as_ref() {
            Some(r) => locator::get_value_at_locator(Some(r), Some(&loc))?.map(Cow::into_owned),
            None => None,
        };
        let built = eval(ctx, current.as_ref(), vars, schema).await?;
        // A root locator ("$") rewrites nothing: the SDK drops `setValueAtLocator`'s
        // return value.
        if loc.as_str() != Some("$") {
            result = locator::set_value_at_locator(result, Some(&loc), built)?;
        }
    }
    if let (Some(original), Some(rewritten)) = (args, result.as_ref()) {
        let mut rewrites = ctx
            .formula_rewrites
            .lock()
            .expect("formula rewrite table poisoned");
        match rewrites
            .iter_mut()
            .find(|(addr, o, _)| *addr == address && o == original)
        {
            Some(entry) => entry.2 = rewritten.clone(),
            None => rewrites.push((address, original.clone(), rewritten.clone())),
        }
    }
    Ok(result)
}
