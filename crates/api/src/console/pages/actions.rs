//! `/console/actions`: the workspace's actions, each with its definition, its
//! copies, a form that runs it on a connection (as `POST /actions/{id}/run`
//! does) and its run logs.

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::actions::{ActionRunLogFilter, ConnectionHints, RunArguments, RunSelector};
use osmosis_engine::elements::Depth;
use osmosis_engine::log_pages::LogPageParams;
use osmosis_engine::ListQuery;
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use crate::console::layout::{
    badge, csrf_field, empty, json_block, link, page, pager, segment, time, Page, Section,
};
use crate::console::params::{integration_layer, live_element, Params, PAGE_SIZE};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

/// Run logs shown per page of an action.
const LOG_PAGE: &str = "20";
/// Connections offered to run an action on, and copies listed: enough to pick
/// from, bounded so a workspace with thousands stays fast.
const CHOICES: i64 = 100;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/actions", get(list))
        .route("/console/actions/{id}", get(detail))
        .route("/console/actions/{id}/run", post(run))
        .route("/console/action-run-logs/{id}", get(run_log))
}

/// The first integrations of the workspace (for filters and names).
pub(super) async fn integrations(
    state: &AppState,
    admin: &ConsoleAdmin,
) -> Result<Vec<Element>, ApiError> {
    let lq = ListQuery {
        limit: Some(CHOICES),
        ..Default::default()
    };
    Ok(state
        .engine
        .elements()
        .list(&admin.caller, ElementType::Integration, &lq)
        .await?
        .items)
}

/// An integration's name among `known`, else its id; "Universal" for none.
pub(super) fn integration_label(known: &[Element], id: Option<&str>) -> String {
    match id {
        None => "Universal".into(),
        Some(id) => known
            .iter()
            .find(|i| i.id == id)
            .map(|i| i.name.clone())
            .unwrap_or_else(|| id.to_owned()),
    }
}

/// A JSON test input from a form field: empty is `{}`; anything else must parse.
pub(super) fn json_input(field: &str, text: &str) -> Result<Value, ApiError> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(text)
        .map_err(|e| ApiError::invalid_field(field, format!("is not valid JSON: {e}")))
}

/// The filter form of a list: search plus an integration choice.
pub(super) fn filter_form(
    action: &str,
    search: &str,
    integration: &str,
    known: &[Element],
) -> Markup {
    html! {
        form.filters role="search" method="get" action=(action) {
            div {
                label for="search" { "Search" }
                input #search type="search" name="search" value=(search);
            }
            div {
                label for="integration" { "Integration" }
                select #integration name="integration" {
                    option value="" { "Any" }
                    @for i in known {
                        option value=(i.id) selected[integration == i.id || i.key.as_deref() == Some(integration)] { (i.name) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
    }
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
        .list(&admin.caller, ElementType::Action, &lq)
        .await?;
    let content = html! {
        (filter_form("/console/actions", search, integration, &known))
        @if page_of.items.is_empty() {
            (empty("No actions match."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Type" }
                    th scope="col" { "Integration" } th scope="col" { "Updated" }
                } }
                tbody {
                    @for a in &page_of.items {
                        tr {
                            td { a href={ "/console/actions/" (segment(&a.id)) } { (a.name) } }
                            td { @if let Some(k) = &a.key { code { (k) } } }
                            td { (a.doc_str("type").unwrap_or("")) }
                            td { (integration_label(&known, a.integration_id.as_deref())) }
                            td { (time(&a.updated_at)) }
                        }
                    }
                }
            }
        }
        (pager("/console/actions", &[("search", search), ("integration", integration)], page_of.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Actions, "Actions", content))
}

/// The run log filter of the action `a`, by the layer it sits at.
fn logs_of(a: &Element, cursor: &str) -> ActionRunLogFilter {
    let mut f = ActionRunLogFilter {
        page: LogPageParams {
            limit: Some(LOG_PAGE.into()),
            cursor: Some(cursor.to_owned()).filter(|c| !c.is_empty()),
            ..Default::default()
        },
        ..Default::default()
    };
    if a.integration_id.is_some() {
        f.integration_action_id = Some(a.id.clone());
    } else {
        f.universal_action_id = Some(a.id.clone());
    }
    f
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let q = Params::parse(raw.as_deref());
    let logs_cursor = q.get("logs_cursor");
    let a = live_element(&state, &admin.caller, ElementType::Action, &id).await?;
    let elements = state.engine.elements();
    let shown = elements.render(&admin.caller, &a, Depth::Flat).await?;
    let known = integrations(&state, &admin).await?;
    let connections = elements
        .list(
            &admin.caller,
            ElementType::Connection,
            &ListQuery {
                layer: LayerQuery {
                    integration_id: a.integration_id.clone(),
                    ..Default::default()
                },
                limit: Some(CHOICES),
                ..Default::default()
            },
        )
        .await?
        .items;
    let copies = if a.integration_id.is_none() {
        elements
            .list(
                &admin.caller,
                ElementType::Action,
                &ListQuery {
                    parent: Some(a.id.clone()),
                    limit: Some(CHOICES),
                    ..Default::default()
                },
            )
            .await?
            .items
            .into_iter()
            .filter(|c| c.id != a.id)
            .collect()
    } else {
        Vec::new()
    };
    let instances = elements
        .list(
            &admin.caller,
            ElementType::ActionInstance,
            &ListQuery {
                parent: Some(a.id.clone()),
                limit: Some(CHOICES),
                ..Default::default()
            },
        )
        .await?
        .items;
    let logs = state
        .engine
        .actions()
        .list_run_logs(&admin.caller, &logs_of(&a, logs_cursor))
        .await?;
    let no_items = Vec::new();
    let log_items = logs["items"].as_array().unwrap_or(&no_items);
    let path = format!("/console/actions/{}", segment(&a.id));
    let content = html! {
        dl.facts {
            dt { "Id" } dd { code { (a.id) } }
            dt { "Key" } dd { @if let Some(k) = &a.key { code { (k) } } }
            dt { "Type" } dd { (shown["type"].as_str().unwrap_or("")) }
            dt { "Integration" } dd {
                @if let Some(i) = &a.integration_id {
                    a href={ "/console/integrations/" (segment(i)) } { (integration_label(&known, Some(i))) }
                } @else { "Universal" }
            }
            dt { "Updated" } dd { (time(&a.updated_at)) }
        }
        h2 { "Config" }
        (json_block(&shown["config"]))
        h2 { "Input schema" }
        @if shown["inputSchema"].is_null() { (empty("No input schema: any input is taken.")) }
        @else { (json_block(&shown["inputSchema"])) }
        @if !shown["outputMapping"].is_null() {
            h2 { "Output mapping" }
            (json_block(&shown["outputMapping"]))
        }
        @if !copies.is_empty() {
            h2 { "Integration-level copies" }
            table {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Integration" } } }
                tbody { @for c in &copies { tr {
                    td { a href={ "/console/actions/" (segment(&c.id)) } { (c.name) } }
                    td { (integration_label(&known, c.integration_id.as_deref())) }
                } } }
            }
        }
        @if !instances.is_empty() {
            h2 { "Connection-level instances" }
            table {
                thead { tr { th scope="col" { "Instance" } th scope="col" { "Connection" } th scope="col" { "Instance key" } } }
                tbody { @for i in &instances { tr {
                    td { code { (i.id) } }
                    td { @if let Some(c) = &i.connection_id { a href={ "/console/connections/" (segment(c)) } { code { (c) } } } }
                    td { (i.instance_key.as_deref().unwrap_or("")) }
                } } }
            }
        }
        h2 #run { "Run it" }
        form method="post" action={ (path) "/run" } {
            (csrf_field(&admin))
            p {
                label for="connectionId" { "Connection" } br;
                select #connectionId name="connectionId" {
                    option value="" { "None (only for actions that call no app)" }
                    @for c in &connections {
                        option value=(c.id) { (c.name) " — " (c.customer_id.as_deref().unwrap_or("")) " (" (c.id) ")" }
                    }
                }
            }
            p {
                label for="input" { "Test input (JSON)" }
                textarea #input name="input" { "{}" }
            }
            div.actions { button type="submit" { "Run" } }
        }
        h2 { "Run logs" }
        @if log_items.is_empty() {
            (empty("This action has not run yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Run" } th scope="col" { "Status" } th scope="col" { "Connection" }
                    th scope="col" { "Customer" } th scope="col" { "Duration" } th scope="col" { "Started" }
                } }
                tbody { @for l in log_items {
                    @let lid = l["id"].as_str().unwrap_or("");
                    tr {
                        td { a href={ "/console/action-run-logs/" (segment(lid)) } { code { (lid) } } }
                        td { (badge(l["status"].as_str().unwrap_or(""))) }
                        td { (l["connectionId"].as_str().unwrap_or("")) }
                        td { (l["userId"].as_str().unwrap_or("")) }
                        td { (l["duration"].as_i64().unwrap_or(0)) " ms" }
                        td { @if let Some(t) = l["createdAt"].as_str() { (time(t)) } }
                    }
                } }
            }
        }
        @if let Some(c) = logs["cursor"].as_str() {
            nav.pager aria-label="Run log pages" {
                a rel="next" href=(link(&path, &[("logs_cursor", c)])) { "Older runs →" }
            }
        }
    };
    Ok(page(&admin, Section::Actions, &a.name, content))
}

async fn run(State(state): State<AppState>, Path(id): Path<String>, form: ConsoleForm) -> Page {
    let admin = &form.admin;
    let a = live_element(&state, &admin.caller, ElementType::Action, &id).await?;
    let input = json_input("input", form.get("input"))?;
    let connection = form.get("connectionId").trim();
    let hints = ConnectionHints {
        connection_id: Some(connection.to_owned()).filter(|c| !c.is_empty()),
        ..Default::default()
    };
    let actions = state.engine.actions();
    let selector = RunSelector::Action {
        selector: a.id.clone(),
        integration: None,
    };
    let result = match actions.target(&admin.caller, selector, &hints).await {
        Ok(target) => {
            actions
                .run(&admin.caller, target, RunArguments { input, meta: None })
                .await
        }
        Err(e) => Err(e.into()),
    };
    let (output, error, run_id) = match result {
        Ok(r) => (Some(r.output), None, Some(r.action_run_id)),
        // Refused before it ran (a connection not found, an input the schema
        // refuses): the error page, with the API's status.
        Err(e) if e.action_run_id.is_none() => return Err(e.error.into()),
        Err(e) => (None, Some(e.error), e.action_run_id),
    };
    let content = html! {
        @if let Some(e) = &error {
            p.error role="alert" { "The run failed: " (e.message) }
            @if let Some(k) = &e.key { p.muted { "Error key: " code { (k) } } }
            @if let Some(d) = &e.data { (json_block(d)) }
        }
        @if let Some(o) = &output {
            h2 { "Output" }
            (json_block(o))
        }
        div.actions {
            @if let Some(r) = &run_id {
                a href={ "/console/action-run-logs/" (segment(r)) } { "Run log" }
            }
            a href={ "/console/actions/" (segment(&a.id)) "#run" } { "Back to the action" }
        }
    };
    Ok(page(
        admin,
        Section::Actions,
        &format!("Run of {}", a.name),
        content,
    ))
}

async fn run_log(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let log = state
        .engine
        .actions()
        .run_log(&admin.caller, &id, true)
        .await?;
    let s = |k: &str| log[k].as_str().unwrap_or("").to_owned();
    let action = log["action"]["id"]
        .as_str()
        .or(log["actionId"].as_str())
        .unwrap_or("");
    let content = html! {
        dl.facts {
            dt { "Id" } dd { code { (s("id")) } }
            dt { "Action" } dd { @if !action.is_empty() { a href={ "/console/actions/" (segment(action)) } { (s("name")) } } @else { (s("name")) } }
            dt { "Status" } dd { (badge(&s("status"))) }
            dt { "Connection" } dd { @if !s("connectionId").is_empty() { a href={ "/console/connections/" (segment(&s("connectionId"))) } { code { (s("connectionId")) } } } }
            dt { "Customer" } dd { (s("userId")) }
            dt { "Started" } dd { @if let Some(t) = log["createdAt"].as_str() { (time(t)) } }
            dt { "Duration" } dd { (log["duration"].as_i64().unwrap_or(0)) " ms" }
        }
        h2 { "Input" }
        (json_block(&log["input"]))
        @if !log["error"].is_null() {
            h2 { "Error" }
            p.error { (log["error"]["message"].as_str().unwrap_or("")) }
            (json_block(&log["error"]))
        } @else {
            h2 { "Output" }
            (json_block(&log["output"]))
        }
        h2 { "Calls to the external app" }
        @let calls = &log["details"]["externalApiCalls"];
        @if calls.as_array().is_none_or(|c| c.is_empty()) { (empty("No calls were recorded.")) }
        @else { (json_block(calls)) }
    };
    Ok(page(
        &admin,
        Section::Actions,
        &format!("Run of {}", s("name")),
        content,
    ))
}
