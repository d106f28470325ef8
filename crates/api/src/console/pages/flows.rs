//! `/console/flows`: the workspace's flows, each drawn as its graph with every
//! node's config, its instances per connection (enabled or not, as
//! `PATCH /flow-instances/{id}` sets it) and a form that starts a run of one (as
//! `POST /flow-instances/{id}/run` does).

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::html;
use osmosis_engine::elements::{Depth, InstanceSelector};
use osmosis_engine::flows::Launch;
use osmosis_engine::ListQuery;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use super::actions::{filter_form, integration_label, integrations, json_input};
use crate::console::graph;
use crate::console::layout::{
    badge, csrf_field, empty, json_block, link, page, pager, segment, time, ConsoleError, Page,
    Section,
};
use crate::console::params::{integration_layer, live_element, Params, PAGE_SIZE};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/flows", get(list))
        .route("/console/flows/{id}", get(detail))
        .route("/console/flow-instances/start", post(start_selected))
        .route("/console/flow-instances/{id}/run", post(start_run))
        .route("/console/flow-instances/{id}/enabled", post(set_enabled))
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let q = Params::parse(raw.as_deref());
    let (search, integration) = (q.get("search"), q.get("integration"));
    let known = integrations(&state, &admin).await?;
    let lq = ListQuery {
        layer: integration_layer(integration),
        search: Some(search.to_owned()).filter(|s| !s.is_empty()),
        limit: Some(PAGE_SIZE),
        cursor: q.cursor()?,
        ..Default::default()
    };
    let page_of = state
        .engine
        .elements()
        .list(&admin.caller, ElementType::Flow, &lq)
        .await?;
    let content = html! {
        (filter_form("/console/flows", search, integration, &known))
        @if page_of.items.is_empty() {
            (empty("No flows match."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Nodes" }
                    th scope="col" { "Integration" } th scope="col" { "Updated" }
                } }
                tbody {
                    @for f in &page_of.items {
                        tr {
                            td { a href={ "/console/flows/" (segment(&f.id)) } { (f.name) } }
                            td { @if let Some(k) = &f.key { code { (k) } } }
                            td { (f.doc.get("nodes").and_then(Value::as_object).map_or(0, Map::len)) }
                            td { (integration_label(&known, f.integration_id.as_deref())) }
                            td { (time(&f.updated_at)) }
                        }
                    }
                }
            }
        }
        (pager("/console/flows", &[("search", search), ("integration", integration)], page_of.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Flows, "Flows", content))
}

/// Whether an instance runs: one that never set `enabled` does.
fn is_enabled(instance: &Element) -> bool {
    instance.doc.get("enabled") != Some(&Value::Bool(false))
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let q = Params::parse(raw.as_deref());
    let f = live_element(&state, &admin.caller, ElementType::Flow, &id).await?;
    let elements = state.engine.elements();
    let shown = elements.render(&admin.caller, &f, Depth::Flat).await?;
    let instances = elements
        .list(
            &admin.caller,
            ElementType::FlowInstance,
            &ListQuery {
                parent: Some(f.id.clone()),
                limit: Some(PAGE_SIZE),
                cursor: q.cursor_named("instances_cursor")?,
                ..Default::default()
            },
        )
        .await?;
    let no_nodes = Map::new();
    let nodes = shown["nodes"].as_object().unwrap_or(&no_nodes);
    let path = format!("/console/flows/{}", segment(&f.id));
    let content = html! {
        dl.facts {
            dt { "Id" } dd { code { (f.id) } }
            dt { "Key" } dd { @if let Some(k) = &f.key { code { (k) } } }
            dt { "Integration" } dd {
                @if let Some(i) = &f.integration_id {
                    a href={ "/console/integrations/" (segment(i)) } { code { (i) } }
                } @else { "Universal" }
            }
            dt { "Updated" } dd { (time(&f.updated_at)) }
            dt { "Runs" } dd { a href=(link("/console/flow-runs", &[("flow", &f.id)])) { "This flow's runs" } }
        }
        h2 { "Nodes" }
        (graph::render(nodes, &HashMap::new()))
        @for (key, node) in nodes {
            section id={ "node-" (key) } {
                h3 { (node["name"].as_str().unwrap_or(key)) " " code { (key) } }
                p.muted { "Type: " (node["type"].as_str().unwrap_or("")) }
                @if let Some(links) = node["links"].as_array().filter(|l| !l.is_empty()) {
                    p.muted { "Links to: "
                        @for l in links { @let k = l["key"].as_str().unwrap_or(""); a href={ "#node-" (k) } { code { (k) } } " " }
                    }
                }
                @if node["config"].is_null() { (empty("No config.")) } @else { (json_block(&node["config"])) }
            }
        }
        h2 #instances { "Instances" }
        @if instances.items.is_empty() {
            (empty("No connection has an instance of this flow yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Instance" } th scope="col" { "Connection" } th scope="col" { "Customer" }
                    th scope="col" { "State" } th scope="col" { "Change" }
                } }
                tbody { @for i in &instances.items {
                    @let on = is_enabled(i);
                    @let action = format!("/console/flow-instances/{}/enabled", segment(&i.id));
                    tr {
                        td { a href=(link("/console/flow-runs", &[("instance", &i.id)])) { code { (i.id) } } }
                        td { @if let Some(c) = &i.connection_id { a href={ "/console/connections/" (segment(c)) } { code { (c) } } } }
                        td { (i.customer_id.as_deref().unwrap_or("")) }
                        td { (badge(if on { "enabled" } else { "disabled" })) }
                        td {
                            @if on { (crate::console::layout::post_button(&admin, &action, "Disable", &[("enabled", "false")])) }
                            @else { (crate::console::layout::post_button(&admin, &action, "Enable", &[("enabled", "true")])) }
                        }
                    }
                } }
            }
            @if let Some(c) = &instances.cursor {
                nav.pager aria-label="Instance pages" {
                    a rel="next" href={ (link(&path, &[("instances_cursor", c)])) "#instances" } { "More instances →" }
                }
            }
            h2 #start { "Start a run" }
            form method="post" action="/console/flow-instances/start" {
                (csrf_field(&admin))
                p {
                    label for="instance" { "Instance" } br;
                    select #instance name="instance" {
                        @for i in &instances.items {
                            option value=(i.id) { (i.id) " — " (i.customer_id.as_deref().unwrap_or("")) }
                        }
                    }
                }
                p {
                    label for="startNodeKey" { "Start node (empty: the flow's only api-trigger)" } br;
                    input #startNodeKey name="startNodeKey" type="text";
                }
                p {
                    label for="input" { "Test input (JSON)" }
                    textarea #input name="input" { "{}" }
                }
                div.actions { button type="submit" { "Start the run" } }
            }
        }
    };
    Ok(page(&admin, Section::Flows, &f.name, content))
}

/// A flow instance `id` names, of a flow that is not archived: nothing is run or
/// changed on an archived flow.
async fn instance(state: &AppState, admin: &ConsoleAdmin, id: &str) -> Result<Element, ApiError> {
    let instance = state
        .engine
        .elements()
        .resolve_instance(
            &admin.caller,
            ElementType::FlowInstance,
            &InstanceSelector {
                id: Some(id.to_owned()),
                ..Default::default()
            },
        )
        .await?;
    if let Some(flow) = &instance.parent_id {
        live_element(state, &admin.caller, ElementType::Flow, flow).await?;
    }
    Ok(instance)
}

/// The flow page an instance is shown on.
fn back_to(instance: &Element) -> String {
    match &instance.parent_id {
        Some(f) => format!("/console/flows/{}#instances", segment(f)),
        None => "/console/flows".into(),
    }
}

async fn start_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    start(&state, &id, &form).await
}

/// The flow page's form, naming the instance in a field.
async fn start_selected(
    State(state): State<AppState>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let id = form.get("instance").to_owned();
    start(&state, &id, &form).await
}

/// Starts a run of instance `id` with the form's input; to the run's page.
async fn start(state: &AppState, id: &str, form: &ConsoleForm) -> Result<Response, ConsoleError> {
    let admin = &form.admin;
    let instance = instance(state, admin, id).await?;
    let input = json_input("input", form.get("input"))?;
    let start = Some(form.get("startNodeKey").trim().to_owned()).filter(|k| !k.is_empty());
    let run = state
        .engine
        .flows()
        .start(
            &admin.caller,
            instance,
            Launch::api(start, Some(input), None),
        )
        .await?;
    let run_id = run["id"].as_str().unwrap_or_default();
    Ok(Redirect::to(&format!("/console/flow-runs/{}", segment(run_id))).into_response())
}

async fn set_enabled(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let admin = &form.admin;
    let enabled = match form.get("enabled") {
        "true" => true,
        "false" => false,
        _ => {
            return Err(ApiError::invalid_field("enabled", "must be true or false").into());
        }
    };
    let instance = instance(&state, admin, &id).await?;
    let back = back_to(&instance);
    let body = match json!({ "enabled": enabled }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    state
        .engine
        .elements()
        .patch_element(&admin.caller, instance, body)
        .await?;
    Ok(Redirect::to(&back).into_response())
}
