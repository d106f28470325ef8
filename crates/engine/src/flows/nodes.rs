//! What each node type does (api-surface §6.1). Nodes that match an action type
//! run that type's code (`Actions::run_step`): the data nodes, the HTTP nodes,
//! `run-javascript` and `integration-specific-operation`; their config is a
//! formula tree evaluated with the node run's variables first. See `runner` for
//! the decisions on outputs where the documentation is silent.
//!
//! Every node's config may hold `input`: the data-record nodes read `id`,
//! `fields`, `query` and `cursor` from their config (usually formulas over
//! `$.input.<upstream node>`), else from `config.input`.

use std::sync::Arc;

use osmosis_model::{ApiError, ElementType};
use osmosis_runtime::formula::resolve_formulas;
use osmosis_runtime::js::{strip_undefined, truthy};
use serde_json::{json, Map, Value};

use super::graph::Node;
use super::runner::{NodeFailure, RunContext};
use crate::actions::{ConnectionHints, RunArguments, RunSelector};
use crate::connections::call_trace::Trace;
use crate::data_links::{FindLinksParams, LinkRequest};
use crate::elements::InstanceSelector;

/// Pages a list node reads at most (one output per record). A list with more
/// pages fails the node run rather than go on with the records read so far: a
/// flow over "every record" that quietly saw only the first pages would skip the
/// rest without anyone knowing (and a connector whose cursor never ends would
/// otherwise pass for a short list).
const MAX_LIST_PAGES: usize = 100;

/// The action type a node type runs, for the nodes that run one.
fn action_kind(node_kind: &str) -> Option<&'static str> {
    Some(match node_kind {
        "list-data-records" | "find-data-records" => "list-data-records",
        "search-data-records" => "search-data-record",
        "lookup-data-record" => "match-data-record",
        "find-data-record-by-id" => "find-data-record-by-id",
        "find-or-create-data-record" => "find-or-create-data-record",
        "create-data-record" => "create-data-record",
        "update-data-record" => "update-data-record",
        "delete-data-record" => "delete-data-record",
        "run-javascript" => "run-javascript",
        "integration-specific-operation" => "connector-operation",
        "api-request-to-your-app" | "http-request" => "api-request-to-your-app",
        "api-request-to-external-app" | "custom-api-request" => "api-request-to-external-app",
        "custom-http-request" | "api-request" => "http-request",
        _ => return None,
    })
}

/// Runs `node` with `input`; answers its outputs.
pub(crate) async fn execute(
    ctx: &Arc<RunContext>,
    node: &Node,
    run_id: &str,
    input: &Map<String, Value>,
) -> Result<Vec<Value>, NodeFailure> {
    let vars = ctx.variables(input);
    match node.kind.as_str() {
        k if super::graph::TRIGGERS.contains(&k) => {
            let input = ctx
                .row
                .record
                .get("input")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if k.starts_with("data-record-") {
                return record_events(ctx, node, input).await;
            }
            Ok(vec![input])
        }
        "transform-data" => {
            let output = resolve(ctx, node.config.get("output"), &vars).await?;
            Ok(vec![output])
        }
        "filter" => {
            let matched = osmosis_runtime::formula::backward_compatible_filter_match(
                node.config.get("filter"),
                Some(&vars),
            )
            .map_err(|e| ApiError::configuration(format!("config.filter: {e}")))?;
            Ok(if truthy(matched.as_ref()) {
                vec![Value::Object(input.clone())]
            } else {
                Vec::new()
            })
        }
        "for-each-v2" | "for-each" => {
            let items = match resolve(ctx, node.config.get("items"), &vars).await? {
                Value::Array(items) => items,
                Value::Null => Vec::new(),
                _ => {
                    return Err(
                        ApiError::configuration("config.items must give an array of items").into(),
                    )
                }
            };
            let root = node
                .config
                .get("rootNodeKey")
                .and_then(Value::as_str)
                .filter(|_| node.kind == "for-each-v2");
            let Some(root) = root else {
                return Ok(items);
            };
            let mut results = Vec::with_capacity(items.len());
            for (index, item) in items.into_iter().enumerate() {
                let outputs = ctx.iterate(node, run_id, input, root, index, item).await?;
                if let Some(last) = outputs.into_iter().last() {
                    results.push(last);
                }
            }
            Ok(vec![Value::Array(results)])
        }
        "run-action" => Ok(vec![run_action(ctx, node, &vars).await?]),
        "create-data-link" | "find-data-link" | "delete-data-link" => {
            Ok(vec![data_link(ctx, node, &vars).await?])
        }
        kind => {
            let Some(action_kind) = action_kind(kind) else {
                return Err(ApiError::configuration(format!("Unknown node type `{kind}`")).into());
            };
            let mut config = node.config.clone();
            if let Value::Object(m) = &mut config {
                // The node's own input object is the code's `input`.
                m.remove("input");
            }
            let step_input = match action_kind {
                "run-javascript" => Value::Object(input.clone()),
                _ => resolve(ctx, node.config.get("input"), &vars)
                    .await?
                    .as_object()
                    .map_or_else(|| json!({}), |m| Value::Object(m.clone())),
            };
            let list = matches!(action_kind, "list-data-records" | "search-data-record");
            if !list {
                let output = step(ctx, action_kind, config, &step_input, &vars).await?;
                return Ok(vec![output]);
            }
            let mut records = Vec::new();
            let mut page_input = step_input;
            for _ in 0..MAX_LIST_PAGES {
                let page = step(ctx, action_kind, config.clone(), &page_input, &vars).await?;
                if let Some(Value::Array(rs)) = page.get("records") {
                    records.extend(rs.iter().cloned());
                }
                match page.get("cursor").filter(|c| !c.is_null()) {
                    Some(c) => page_input["cursor"] = c.clone(),
                    None => return Ok(records),
                }
            }
            // Pages left after the most this node reads (see `MAX_LIST_PAGES`).
            Err(ApiError::new(
                osmosis_model::error::ErrorType::FlowRun,
                Some("too_many_pages"),
                format!(
                    "The list has more than {MAX_LIST_PAGES} pages ({} records read); narrow it with a filter or a search",
                    records.len()
                ),
            )
            .into())
        }
    }
}

/// A data record trigger's outputs: one per event of the run's input (an array of
/// events, or one event), each with its `record` mapped through the trigger's
/// `config.fieldMapping` as the data actions map records (see `events::external`).
async fn record_events(
    ctx: &Arc<RunContext>,
    node: &Node,
    input: Value,
) -> Result<Vec<Value>, NodeFailure> {
    let mut events = match input {
        Value::Array(events) => events,
        one => vec![one],
    };
    let records: Vec<Value> = events
        .iter()
        .filter_map(|e| e.get("record").filter(|r| r.is_object()).cloned())
        .collect();
    let mut mapped = ctx
        .engine
        .actions()
        .incoming_records(&ctx.caller, &ctx.connection, &node.config, records)
        .await?
        .into_iter();
    for event in &mut events {
        if event.get("record").is_some_and(Value::is_object) {
            if let Some(record) = mapped.next() {
                event["record"] = record;
            }
        }
    }
    Ok(events)
}

async fn step(
    ctx: &Arc<RunContext>,
    kind: &str,
    config: Value,
    input: &Value,
    vars: &Value,
) -> Result<Value, ApiError> {
    ctx.engine
        .actions()
        .run_step(
            &ctx.caller,
            Some(ctx.connection.clone()),
            kind,
            config,
            input,
            vars,
            &Trace::current_or_default(),
        )
        .await
}

/// A config value with its formulas evaluated (data-link formulas answered on the
/// run's connection).
async fn resolve(ctx: &RunContext, value: Option<&Value>, vars: &Value) -> Result<Value, ApiError> {
    let host = ctx
        .engine
        .data_links()
        .formula_host_on_checked(&ctx.caller, &ctx.connection);
    resolve_formulas(value, Some(vars), None, Some(&host))
        .await
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(e.to_string()))
}

/// `run-action`: the action `config.action.key` on the run's connection, with
/// `config.input` as its input. Its run is logged as every action run is.
async fn run_action(ctx: &Arc<RunContext>, node: &Node, vars: &Value) -> Result<Value, ApiError> {
    let key = node
        .config
        .get("action")
        .and_then(|a| a.get("key").or_else(|| a.get("id")))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::configuration("The node has no `config.action.key`"))?;
    let input = resolve(ctx, node.config.get("input"), vars).await?;
    let actions = ctx.engine.actions();
    let target = actions
        .target(
            &ctx.caller,
            RunSelector::Action {
                selector: key.to_owned(),
                integration: None,
            },
            &ConnectionHints {
                connection_id: Some(ctx.connection.id.clone()),
                ..Default::default()
            },
        )
        .await?;
    actions
        .run(
            &ctx.caller,
            target,
            RunArguments {
                input: if input.is_null() { json!({}) } else { input },
                meta: None,
            },
        )
        .await
        .map(|r| r.output)
        .map_err(|e| e.error)
}

/// The data-link nodes: the connection's instance of `config.dataLinkTable.key`
/// (created when missing), and `appRecordId`/`externalRecordId`/`direction` from
/// the config. `create-data-link` outputs the links made, `find-data-link` the
/// first link found (or `null`), `delete-data-link` `{deleted}`.
async fn data_link(ctx: &Arc<RunContext>, node: &Node, vars: &Value) -> Result<Value, ApiError> {
    let config = resolve(ctx, Some(&node.config), vars).await?;
    let table = config
        .get("dataLinkTable")
        .and_then(|t| t.get("key").or_else(|| t.get("id")))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::configuration("The node has no `config.dataLinkTable.key`"))?;
    let instance = ctx
        .engine
        .elements()
        .resolve_instance(
            &ctx.caller,
            ElementType::DataLinkTableInstance,
            &InstanceSelector {
                parent: Some(table.to_owned()),
                connection_id: Some(ctx.connection.id.clone()),
                auto_create: true,
                ..Default::default()
            },
        )
        .await?;
    let links = ctx.engine.data_links();
    match node.kind.as_str() {
        "find-data-link" => {
            let text = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
            let find = FindLinksParams {
                direction: text("direction"),
                app_record_id: text("appRecordId"),
                external_record_id: text("externalRecordId"),
                limit: Some("1".into()),
                cursor: None,
            }
            .check()?;
            let page = links.find(&ctx.caller, &instance, &find).await?;
            Ok(page.items.first().map_or(Value::Null, |l| l.to_json()))
        }
        kind => {
            let request = LinkRequest::from_fields(
                config.get("appRecordId"),
                config.get("externalRecordId"),
                config.get("direction"),
            )?;
            if kind == "create-data-link" {
                let made = links.create(&ctx.caller, &instance, &request).await?;
                Ok(json!({"links": made.iter().map(|l| l.to_json()).collect::<Vec<_>>()}))
            } else {
                let deleted = links.delete(&ctx.caller, &instance, &request).await?;
                Ok(json!({"deleted": deleted}))
            }
        }
    }
}
