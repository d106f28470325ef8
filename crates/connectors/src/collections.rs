//! Data collection methods run through the connector function mechanism, with the
//! SDK's request/response contracts (`{records, cursor?}`, `{record}`, `{id}`…) enforced
//! on the way out.
//!
//! A method function receives the method request plus the collection `parameters`.
//! When the collection defines `fieldsToApi`, `create`/`update` fields go through it
//! first; when it defines `recordFromApi`, every record a method returns goes through
//! it (input: the API object), and the API object is kept as `rawFields`.

use serde_json::{json, Map, Value};

use crate::definition::{CollectionHelper, CollectionMethod, DataCollection, PULL_LATEST_RECORDS};
use crate::function::{FunctionError, FunctionRunner};

/// Runs `method` of collection `collection_key` with `request` (the method's request
/// body) and collection `parameters`.
pub async fn run_method(
    runner: &FunctionRunner,
    collection_key: &str,
    method: CollectionMethod,
    request: Value,
    parameters: Value,
) -> Result<Value, FunctionError> {
    let collection = collection(runner, collection_key)?;
    let origin = format!("data/{collection_key}/{}", method.file_stem());
    let def = collection
        .method(method)
        .ok_or_else(|| FunctionError::NotDefined {
            function: origin.clone(),
        })?;
    let mut input: Map<String, Value> = match request {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(FunctionError::InvalidRequest {
                origin,
                message: "the method request must be an object".into(),
            })
        }
    };
    if method == CollectionMethod::List {
        check_filter(collection, input.get("filter"), &origin)?;
    }
    if matches!(method, CollectionMethod::Create | CollectionMethod::Update) {
        if let (Some(helper), Some(fields)) = (
            collection.helper(CollectionHelper::FieldsToApi),
            input.get("fields").cloned(),
        ) {
            let mapped = runner
                .run(helper, json!({"fields": fields, "parameters": parameters}))
                .await?
                .output;
            input.insert("fields".into(), mapped);
        }
    }
    input.insert("parameters".into(), parameters.clone());
    let request_id = input.get("id").cloned();
    let output = runner.run(def, Value::Object(input)).await?.output;
    shape_output(
        runner,
        collection,
        method,
        output,
        request_id,
        &parameters,
        &origin,
    )
    .await
}

/// Runs the `pull-latest-records` function of collection `collection_key`'s
/// `event_type` events (semantics §2.4): `{parameters, cursor}` in, the records
/// changed since `cursor` and the next cursor out, shaped as a `list` page is.
pub async fn pull_latest_records(
    runner: &FunctionRunner,
    collection_key: &str,
    event_type: &str,
    cursor: Option<Value>,
    parameters: Value,
) -> Result<Value, FunctionError> {
    let mut input = json!({"parameters": parameters});
    if let Some(c) = cursor.filter(|c| !c.is_null()) {
        input["cursor"] = c;
    }
    let (collection, output, origin) = run_event_function(
        runner,
        collection_key,
        event_type,
        PULL_LATEST_RECORDS,
        input,
    )
    .await?;
    shape_output(
        runner,
        collection,
        CollectionMethod::List,
        output,
        None,
        &parameters,
        &origin,
    )
    .await
}

/// Runs `function` (`subscribe`, `handle`, `unsubscribe`, `refresh`, …) of
/// collection `collection_key`'s `event_type` events with `input` (which carries
/// the collection `parameters`); answers the collection, the output as the
/// function gave it, and where the function is (for errors).
pub async fn run_event_function<'r>(
    runner: &'r FunctionRunner,
    collection_key: &str,
    event_type: &str,
    function: &str,
    input: Value,
) -> Result<(&'r DataCollection, Value, String), FunctionError> {
    let origin = format!("data/{collection_key}/events-{event_type}-{function}");
    let collection = collection(runner, collection_key)?;
    let def = collection
        .event(event_type)
        .and_then(|e| e.function(function))
        .ok_or_else(|| FunctionError::NotDefined {
            function: origin.clone(),
        })?;
    let output = runner.run(def, input).await?.output;
    Ok((collection, output, origin))
}

/// Runs the webhook `handle` function of collection `collection_key`'s
/// `event_type` events with `input` (`{query, data, headers, parameters, state,
/// rawBody}`): answers its output with each event's `record` made a data record
/// as a `list` makes them (`recordFromApi`, `id` a string). An event that is not
/// an object, or whose record has no id, makes the output invalid.
pub async fn handle_webhook(
    runner: &FunctionRunner,
    collection_key: &str,
    event_type: &str,
    input: Value,
) -> Result<Value, FunctionError> {
    let parameters = input.get("parameters").cloned().unwrap_or(Value::Null);
    let (collection, mut output, origin) =
        run_event_function(runner, collection_key, event_type, "handle", input).await?;
    let invalid = |message: String| FunctionError::InvalidOutput {
        origin: origin.clone(),
        message,
    };
    let events = match output.get_mut("events") {
        None | Some(Value::Null) => return Ok(output),
        Some(Value::Array(events)) => events,
        Some(other) => return Err(invalid(format!("`events` must be an array, got {other}"))),
    };
    for event in events.iter_mut() {
        let Value::Object(event) = event else {
            return Err(invalid(format!("an event must be an object, got {event}")));
        };
        let raw = event.remove("record").unwrap_or(Value::Null);
        let record = to_record(runner, collection, raw, &parameters, &origin).await?;
        event.insert("record".into(), record);
    }
    Ok(output)
}

/// Collection `key` of the runner's connector.
fn collection<'r>(
    runner: &'r FunctionRunner,
    key: &str,
) -> Result<&'r DataCollection, FunctionError> {
    runner
        .connector()
        .data_collection(key)
        .ok_or_else(|| FunctionError::NotDefined {
            function: format!("data collection `{key}`"),
        })
}

fn check_filter(
    collection: &DataCollection,
    filter: Option<&Value>,
    origin: &str,
) -> Result<(), FunctionError> {
    let (Some(Value::Object(filter)), Some(allowed)) = (filter, collection.filter_fields()) else {
        return Ok(());
    };
    for field in filter.keys() {
        if !allowed.contains(field) {
            return Err(FunctionError::InvalidRequest {
                origin: origin.to_owned(),
                message: format!(
                    "filter field `{field}` is not one of list.filterFields ({})",
                    allowed.join(", ")
                ),
            });
        }
    }
    Ok(())
}

async fn shape_output(
    runner: &FunctionRunner,
    collection: &DataCollection,
    method: CollectionMethod,
    output: Value,
    request_id: Option<Value>,
    parameters: &Value,
    origin: &str,
) -> Result<Value, FunctionError> {
    let invalid = |message: String| FunctionError::InvalidOutput {
        origin: origin.to_owned(),
        message,
    };
    match method {
        CollectionMethod::List | CollectionMethod::Search | CollectionMethod::Find => {
            // A bare array is the records of a last page.
            let mut object = match output {
                Value::Array(records) => {
                    let mut m = Map::new();
                    m.insert("records".into(), Value::Array(records));
                    m
                }
                Value::Object(m) => m,
                other => {
                    return Err(invalid(format!(
                        "expected {{records, cursor?}}, got {other}"
                    )))
                }
            };
            let records = match object.remove("records") {
                Some(Value::Array(records)) => records,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(invalid("`records` must be an array".into())),
            };
            let mut shaped = Vec::with_capacity(records.len());
            for record in records {
                shaped.push(to_record(runner, collection, record, parameters, origin).await?);
            }
            let mut result = Map::new();
            result.insert("records".into(), Value::Array(shaped));
            match object.remove("cursor") {
                None | Some(Value::Null) => {}
                Some(Value::String(c)) if c.is_empty() => {}
                Some(Value::Number(n)) => {
                    result.insert("cursor".into(), Value::String(n.to_string()));
                }
                Some(c) => {
                    result.insert("cursor".into(), c);
                }
            }
            if method == CollectionMethod::List {
                if let Some(drilldowns) = object.remove("drilldowns") {
                    result.insert("drilldowns".into(), drilldowns);
                }
            }
            Ok(Value::Object(result))
        }
        CollectionMethod::FindById | CollectionMethod::Match => {
            let record = match output {
                Value::Object(mut m) if m.contains_key("record") => {
                    m.remove("record").unwrap_or(Value::Null)
                }
                // JavaScript's `{record: undefined}` arrives as `{}`: no record, not
                // a record without an id.
                Value::Object(m) if m.is_empty() => Value::Null,
                Value::Null => Value::Null,
                other => other,
            };
            if record.is_null() {
                if method == CollectionMethod::Match {
                    return Ok(json!({}));
                }
                return Err(invalid("no record found".into()));
            }
            let record = to_record(runner, collection, record, parameters, origin).await?;
            Ok(json!({ "record": record }))
        }
        CollectionMethod::Create | CollectionMethod::Update => {
            let id = match &output {
                Value::Object(m) => m.get("id").cloned(),
                Value::String(_) | Value::Number(_) => Some(output.clone()),
                _ => None,
            }
            .filter(|id| !id.is_null())
            .or(if method == CollectionMethod::Update {
                request_id
            } else {
                None
            });
            match id.as_ref().and_then(id_string) {
                Some(id) => Ok(json!({ "id": id })),
                None => Err(invalid(format!("expected {{id}}, got {output}"))),
            }
        }
        CollectionMethod::Delete => Ok(json!({})),
    }
}

fn id_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A `DataRecord` from what a method returned: through `recordFromApi` when defined,
/// else as returned; `id` must be present and becomes a string.
async fn to_record(
    runner: &FunctionRunner,
    collection: &DataCollection,
    raw: Value,
    parameters: &Value,
    origin: &str,
) -> Result<Value, FunctionError> {
    let mut record = match collection.helper(CollectionHelper::RecordFromApi) {
        Some(helper) => {
            let mut input = raw.as_object().cloned().unwrap_or_default();
            input.insert("record".into(), raw.clone());
            input.insert("parameters".into(), parameters.clone());
            let mut record = runner.run(helper, Value::Object(input)).await?.output;
            // A mapping's `$` also holds the connection's credentials: one written
            // carelessly (`fields: {$var: $}`) must not hand them out with the record.
            if !runner.redactor().is_empty() {
                record = runner.redactor().value(&record);
            }
            if let (Value::Object(map), Value::Object(_)) = (&mut record, &raw) {
                map.entry("rawFields").or_insert(raw.clone());
            }
            record
        }
        None => raw,
    };
    let Value::Object(map) = &mut record else {
        return Err(FunctionError::InvalidOutput {
            origin: origin.to_owned(),
            message: format!("a record must be an object, got {record}"),
        });
    };
    let id = map
        .get("id")
        .and_then(id_string)
        .ok_or_else(|| FunctionError::InvalidOutput {
            origin: origin.to_owned(),
            message: "a record has no `id`".into(),
        })?;
    map.insert("id".into(), Value::String(id));
    Ok(record)
}
