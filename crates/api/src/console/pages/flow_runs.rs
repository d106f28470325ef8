//! `/console/flow-runs`: flow runs, filtered as `GET /flow-runs` filters them,
//! and a run's page — its graph coloured by node state, every node run's input,
//! outputs, logs and errors, Stop and Repeat. While the run is not finished its
//! page follows it: `console.js` listens to `/events` (a message whenever the
//! run changed) and replaces the live part with `/fragment`.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::elements::InstanceSelector;
use osmosis_engine::flows::{FlowRunFilter, Launch};
use osmosis_engine::log_pages::LogPageParams;
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::{ApiError, ElementType};
use serde_json::{Map, Value};

use crate::console::graph;
use crate::console::layout::{
    badge, csrf_field, empty, json_block, page, pager, segment, time, ConsoleError, Page, Section,
};
use crate::console::params::{Params, PAGE_SIZE};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

/// Node runs shown on a run's page; a run with more links to the API for the rest.
const NODE_RUNS: i64 = 100;
/// How often the event stream looks at the run.
const POLL: Duration = Duration::from_millis(500);
/// How long one event stream follows a run (the browser opens another after).
const FOLLOW_FOR: Duration = Duration::from_secs(600);

const STATES: [&str; 5] = ["queued", "running", "completed", "failed", "stopped"];

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/flow-runs", get(list))
        .route("/console/flow-runs/{id}", get(detail))
        .route("/console/flow-runs/{id}/fragment", get(fragment))
        .route("/console/flow-runs/{id}/events", get(events))
        .route("/console/flow-runs/{id}/stop", post(stop))
        .route("/console/flow-runs/{id}/repeat", post(repeat))
}

fn is_final(state: &str) -> bool {
    matches!(state, "completed" | "failed" | "stopped")
}

/// A `datetime-local` value (`2026-01-02T10:30`, no zone) read as UTC; ISO 8601
/// values pass as they are.
fn iso_time(value: &str) -> Option<String> {
    let v = value.trim();
    let local = |len: usize| v.len() == len && v.as_bytes().get(10) == Some(&b'T');
    match v {
        "" => None,
        _ if local(16) => Some(format!("{v}:00Z")),
        _ if local(19) => Some(format!("{v}Z")),
        _ => Some(v.to_owned()),
    }
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let q = Params::parse(raw.as_deref());
    let f = |n: &str| q.get(n).to_owned();
    let (flow, instance, customer, connection, run_state, from, to, cursor) = (
        f("flow"),
        f("instance"),
        f("customer"),
        f("connection"),
        f("state"),
        f("from"),
        f("to"),
        f("cursor"),
    );
    let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let mut filter = FlowRunFilter {
        connection_flow_id: some(&instance),
        customer_id: some(&customer),
        connection_id: some(&connection),
        state: some(&run_state),
        page: LogPageParams {
            from: iso_time(&from),
            to: iso_time(&to),
            limit: Some(PAGE_SIZE.to_string()),
            cursor: some(&cursor),
            ..Default::default()
        },
        ..Default::default()
    };
    if !flow.is_empty() {
        // A universal flow's runs are filtered by its own id field.
        let found = state
            .engine
            .elements()
            .resolve(&admin.caller, ElementType::Flow, &PathSelector::new(&flow))
            .await?;
        if found.integration_id.is_some() {
            filter.integration_flow_id = Some(found.id);
        } else {
            filter.universal_flow_id = Some(found.id);
        }
    }
    let runs = state.engine.flows().list(&admin.caller, &filter).await?;
    let no_items = Vec::new();
    let items = runs["items"].as_array().unwrap_or(&no_items);
    let keep = [
        ("flow", flow.as_str()),
        ("instance", instance.as_str()),
        ("customer", customer.as_str()),
        ("connection", connection.as_str()),
        ("state", run_state.as_str()),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ];
    let content = html! {
        form.filters method="get" action="/console/flow-runs" {
            div { label for="flow" { "Flow (id or key)" } input #flow name="flow" value=(flow); }
            div { label for="customer" { "Customer (id or key)" } input #customer name="customer" value=(customer); }
            div { label for="connection" { "Connection id" } input #connection name="connection" value=(connection); }
            div {
                label for="state" { "State" }
                select #state name="state" {
                    option value="" { "Any" }
                    @for s in STATES { option value=(s) selected[run_state == s] { (s) } }
                }
            }
            div { label for="from" { "From (UTC)" } input #from name="from" type="datetime-local" step="1" value=(from); }
            div { label for="to" { "To (UTC)" } input #to name="to" type="datetime-local" step="1" value=(to); }
            @if !instance.is_empty() { input type="hidden" name="instance" value=(instance); }
            button type="submit" { "Filter" }
        }
        @if items.is_empty() {
            (empty("No flow runs match."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Run" } th scope="col" { "Flow" } th scope="col" { "State" }
                    th scope="col" { "Customer" } th scope="col" { "Connection" } th scope="col" { "Started" }
                } }
                tbody { @for r in items {
                    @let id = r["id"].as_str().unwrap_or("");
                    tr {
                        td { a href={ "/console/flow-runs/" (segment(id)) } { code { (id) } } }
                        td { (r["name"].as_str().unwrap_or("")) }
                        td { (badge(r["state"].as_str().unwrap_or(""))) }
                        td { (r["userId"].as_str().unwrap_or("")) }
                        td { (r["connectionId"].as_str().unwrap_or("")) }
                        td { @if let Some(t) = r["startTime"].as_str() { (time(t)) } }
                    }
                } }
            }
        }
        (pager("/console/flow-runs", &keep, runs["cursor"].as_str()))
    };
    Ok(page(&admin, Section::FlowRuns, "Flow runs", content))
}

/// The nodes of the run's flow instance as it is now; a run whose instance is
/// gone is drawn from the nodes it ran, without links.
async fn nodes_of(state: &AppState, caller: &Caller, run: &Value) -> Map<String, Value> {
    let instance = match run["connectionFlowId"].as_str() {
        Some(id) => state
            .engine
            .elements()
            .resolve_instance(
                caller,
                ElementType::FlowInstance,
                &InstanceSelector {
                    id: Some(id.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .ok(),
        None => None,
    };
    if let Some(Value::Object(nodes)) = instance.as_ref().and_then(|i| i.doc.get("nodes")) {
        if !nodes.is_empty() {
            return nodes.clone();
        }
    }
    run["nodes"]
        .as_object()
        .map(|m| {
            m.keys()
                .map(|k| (k.clone(), serde_json::json!({})))
                .collect()
        })
        .unwrap_or_default()
}

/// The live part of a run's page: facts, buttons, graph and node runs.
async fn live_part(
    state: &AppState,
    admin: &ConsoleAdmin,
    id: &str,
) -> Result<(Markup, String, String), ApiError> {
    let found = state
        .engine
        .run_with_node_runs(&admin.caller, id, NODE_RUNS)
        .await?;
    let run = &found.run;
    let nodes = nodes_of(state, &admin.caller, run).await;
    let run_state = run["state"].as_str().unwrap_or("").to_owned();
    let states: HashMap<String, String> = run["nodes"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, n)| Some((k.clone(), n["state"].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let mut by_node: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for nr in &found.node_runs {
        by_node
            .entry(nr["nodeKey"].as_str().unwrap_or(""))
            .or_default()
            .push(nr);
    }
    // A node the record does not count yet is coloured by its stored node runs.
    let mut states = states;
    for (key, runs) in &by_node {
        if !states.contains_key(*key) {
            let failed = runs.iter().any(|r| r["status"] == "failed");
            let state = if failed { "failed" } else { "completed" };
            states.insert((*key).to_owned(), state.to_owned());
        }
    }
    // Nodes of the graph first, in its order, then any the run had that the
    // flow no longer has.
    let mut keys: Vec<&str> = nodes.keys().map(String::as_str).collect();
    keys.extend(by_node.keys().filter(|k| !nodes.contains_key(**k)));
    let path = format!("/console/flow-runs/{}", segment(id));
    let name = run["name"].as_str().unwrap_or("").to_owned();
    let no_errors = Vec::new();
    let errors = run["errors"].as_array().unwrap_or(&no_errors);
    let s = |k: &str| run[k].as_str().unwrap_or("").to_owned();
    let markup = html! {
        dl.facts {
            dt { "Id" } dd { code { (id) } }
            dt { "State" } dd { (badge(&run_state)) }
            dt { "Flow instance" } dd { code { (s("connectionFlowId")) } }
            @if let Some(f) = run["integrationFlowId"].as_str().or(run["universalFlowId"].as_str()) {
                dt { "Flow" } dd { a href={ "/console/flows/" (segment(f)) } { code { (f) } } }
            }
            dt { "Connection" } dd { a href={ "/console/connections/" (segment(&s("connectionId"))) } { code { (s("connectionId")) } } }
            dt { "Customer" } dd { (s("userId")) }
            dt { "Start node" } dd { code { (s("startNodeKey")) } }
            dt { "Launched by" } dd { (run["launchedBy"]["type"].as_str().unwrap_or("")) }
            dt { "Started" } dd { @if let Some(t) = run["startTime"].as_str() { (time(t)) } }
            dt { "Ended" } dd { @if let Some(t) = run["endTime"].as_str() { (time(t)) } @else { "—" } }
        }
        div.actions {
            @if !is_final(&run_state) {
                (confirmed(admin, &format!("{path}/stop"), "Stop", "danger", "Stop this run? It ends at its next node."))
            }
            (confirmed(admin, &format!("{path}/repeat"), "Repeat", "secondary", "Start a new run of this flow instance with the same input? Its calls to external apps run again."))
        }
        @if is_final(&run_state) {
            p.muted data-final { "This run has finished." }
        }
        @for e in errors {
            p.error { (e["message"].as_str().unwrap_or("")) }
        }
        h2 { "Input" }
        (json_block(&run["input"]))
        h2 { "Nodes" }
        (graph::render(&nodes, &states))
        @for key in &keys {
            @let node = nodes.get(*key);
            @let runs = by_node.get(key).map(Vec::as_slice).unwrap_or(&[]);
            section id={ "node-" (key) } {
                h3 {
                    (node.and_then(|n| n["name"].as_str()).unwrap_or(key)) " " code { (key) } " "
                    @if let Some(st) = states.get(*key) { (badge(st)) }
                }
                @if runs.is_empty() {
                    (empty("This node has not run."))
                }
                @for nr in runs {
                    (node_run(nr))
                }
            }
        }
        @if found.more {
            p.muted { "This run has more node runs than shown here; the API lists them all." }
        }
    };
    Ok((markup, run_state, name))
}

/// A button that posts to `action` once the admin confirms (`console.js` asks;
/// without scripts the form posts at once).
fn confirmed(
    admin: &ConsoleAdmin,
    action: &str,
    label: &str,
    class: &str,
    question: &str,
) -> Markup {
    html! {
        form.inline method="post" action=(action) data-confirm=(question) {
            (csrf_field(admin))
            button class=(class) type="submit" { (label) }
        }
    }
}

/// One node run: its state, input, outputs, logs and errors.
fn node_run(nr: &Value) -> Markup {
    let no_items = Vec::new();
    let outputs = nr["outputs"].as_array().unwrap_or(&no_items);
    let errors = nr["errors"].as_array().unwrap_or(&no_items);
    let logs = nr["logs"].as_array().unwrap_or(&no_items);
    html! {
        h4 {
            "Run " code { (nr["id"].as_str().unwrap_or("")) } " "
            (badge(nr["status"].as_str().unwrap_or("")))
            @if let Some(t) = nr["startTime"].as_str() { " " (time(t)) }
        }
        @for e in errors { p.error { (e["message"].as_str().unwrap_or("")) } }
        p.muted { "Input" }
        (json_block(&nr["input"]))
        p.muted { "Outputs (" (outputs.len()) ")" }
        @for o in outputs {
            // Output data is stored as JSON text.
            @let data = match &o["data"] {
                Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| o["data"].clone()),
                other => other.clone(),
            };
            (json_block(&data))
        }
        @if !logs.is_empty() {
            p.muted { "Logs" }
            (json_block(&nr["logs"]))
        }
    }
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let (live, run_state, name) = live_part(&state, &admin, &id).await?;
    let path = format!("/console/flow-runs/{}", segment(&id));
    let content = html! {
        @if is_final(&run_state) {
            div { (live) }
        } @else {
            div data-live={ (path) "/events" } data-fragment={ (path) "/fragment" } { (live) }
        }
    };
    let title = if name.is_empty() {
        "Flow run".to_owned()
    } else {
        format!("Run of {name}")
    };
    Ok(page(&admin, Section::FlowRuns, &title, content))
}

async fn fragment(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    Ok(live_part(&state, &admin, &id).await?.0)
}

/// What tells one look at a run from the next: its record as the API renders it
/// (state, node tallies, errors, end time).
fn fingerprint(run: &Value) -> String {
    run.to_string()
}

async fn events(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Result<Response, ConsoleError> {
    let caller = admin.caller.clone();
    // A run the admin may not see is refused before any stream opens.
    let first = state.engine.flows().get(&caller, &id, None).await?;
    let until = tokio::time::Instant::now() + FOLLOW_FOR;
    // (last fingerprint, whether to stop); the first message is sent at once, so
    // a change between the page and this stream is not missed.
    let start: Option<(Option<String>, bool)> = Some((None, false));
    let stream = futures_util::stream::unfold(start, move |st| {
        let state = state.clone();
        let caller = caller.clone();
        let id = id.clone();
        let first = first.clone();
        async move {
            let (last, done) = st?;
            if done {
                return None;
            }
            let mut run = match &last {
                None => Some(first),
                Some(_) => None,
            };
            loop {
                let current = match run.take() {
                    Some(r) => r,
                    None => {
                        if tokio::time::Instant::now() >= until {
                            return None;
                        }
                        tokio::time::sleep(POLL).await;
                        state.engine.flows().get(&caller, &id, None).await.ok()?
                    }
                };
                let print = fingerprint(&current);
                if last.as_ref() != Some(&print) {
                    let ended = is_final(current["state"].as_str().unwrap_or(""));
                    let event = Event::default()
                        .event("message")
                        .data(current["state"].as_str().unwrap_or(""));
                    return Some((Ok::<_, Infallible>(event), Some((Some(print), ended))));
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

async fn stop(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    state.engine.flows().stop(&form.admin.caller, &id).await?;
    Ok(Redirect::to(&format!("/console/flow-runs/{}", segment(&id))).into_response())
}

/// A new run of the same instance from the same node with the same input, as
/// the SDK's `repeat()` asks `POST /flow-runs` for one.
async fn repeat(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let caller = &form.admin.caller;
    let flows = state.engine.flows();
    let run = flows.get(caller, &id, None).await?;
    let instance = run["connectionFlowId"].as_str().unwrap_or_default();
    let start = run["startNodeKey"].as_str().map(str::to_owned);
    let again = flows
        .start_by_instance_id(
            caller,
            instance,
            Launch::api(start, Some(run["input"].clone()), None),
        )
        .await?;
    let new_id = again["id"].as_str().unwrap_or_default();
    Ok(Redirect::to(&format!("/console/flow-runs/{}", segment(new_id))).into_response())
}
