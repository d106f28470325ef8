//! `/console/connections`: the customers' connections, filtered by integration,
//! customer or state; one connection's health with the buttons that act on it;
//! and the external API calls made through it.
//!
//! What the buttons answer:
//!
//! * **Test** renders the connection's page with the test's result directly
//!   (200): the result is the point of pressing it, a test changes nothing a
//!   repeated post would harm, and a result carried in a redirect's query string
//!   would let any link put an error message on the page.
//! * **Refresh credentials** redirects (303) to the connection's page with
//!   `?done=refreshed`.
//! * **Disconnect** archives the connection as `DELETE /connections/{id}` does
//!   (the connector's `disconnect` revokes it first), then redirects (303) to the
//!   list with `?done=disconnected`: the archived connection has no page.
//!
//! API logs are shown as `GET /external-api-logs/{id}` renders them: the request
//! and response were masked when the call was recorded (known secrets of the
//! connection, secret-looking headers and query values), and only that masked
//! record is read.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::connections::ApiLogFilter;
use osmosis_engine::elements::Depth;
use osmosis_engine::log_pages::LogPageParams;
use osmosis_engine::{Caller, ListQuery};
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::integrations::{done_message, text};
use crate::console::layout::{
    badge, csrf_field, empty, json_block, link, page, pager, post_button, segment, time,
    ConsoleError, Page, Section,
};
use crate::console::params::{live_element, Params, PAGE_SIZE};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

/// API logs per page: each row reads its log's details for the method, so
/// fewer than a list's rows.
const LOGS_PAGE_SIZE: &str = "25";

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/connections", get(list))
        .route("/console/connections/{id}", get(detail))
        .route("/console/connections/{id}/test", post(test))
        .route("/console/connections/{id}/refresh", post(refresh))
        .route("/console/connections/{id}/disconnect", post(disconnect))
        .route("/console/connections/{id}/logs/{log}", get(log_detail))
}

/// A connection's state as the console names it: `healthy` while its
/// credentials work, `disconnected` once its customer must connect again.
fn state_of(shown: &Value) -> &'static str {
    if shown["connected"] == Value::Bool(true) {
        "healthy"
    } else {
        "disconnected"
    }
}

/// Connections as a table: each rendered as `GET /connections/{id}` renders it,
/// which embeds its integration and customer (one engine call per row).
pub(super) async fn connection_table(
    state: &AppState,
    caller: &Caller,
    items: &[Element],
) -> Result<Markup, ApiError> {
    let mut rows = Vec::with_capacity(items.len());
    for el in items {
        rows.push(
            state
                .engine
                .elements()
                .render(caller, el, Depth::Full)
                .await?,
        );
    }
    Ok(html! {
        @if rows.is_empty() {
            (empty("No connections."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Connection" } th scope="col" { "State" } th scope="col" { "Integration" }
                    th scope="col" { "Customer" } th scope="col" { "Created" }
                } }
                tbody {
                    @for c in &rows {
                        tr {
                            td { a href={ "/console/connections/" (segment(text(c, "id"))) } { (text(c, "name")) } }
                            td { (badge(state_of(c))) }
                            td { (integration_link(c)) }
                            td { (customer_link(c)) }
                            td { @if let Some(t) = c.get("createdAt").and_then(Value::as_str) { (time(t)) } }
                        }
                    }
                }
            }
        }
    })
}

fn integration_link(c: &Value) -> Markup {
    let id = text(c, "integrationId");
    let name = c["integration"]
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or(id);
    html! { @if !id.is_empty() { a href={ "/console/integrations/" (segment(id)) } { (name) } } }
}

fn customer_link(c: &Value) -> Markup {
    let id = c
        .get("userId")
        .or(c.get("tenantId"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = c["user"].get("name").and_then(Value::as_str).unwrap_or(id);
    html! { @if !id.is_empty() { a href={ "/console/customers/" (segment(id)) } { (name) } } }
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let params = Params::parse(raw.as_deref());
    let (integration, customer, wanted) = (
        params.get("integration"),
        params.get("customer"),
        params.get("state"),
    );
    // By id or key, as the integration's own page is found.
    let integration_id = match integration {
        "" => None,
        i => Some(
            live_element(&state, &admin.caller, ElementType::Integration, i)
                .await?
                .id,
        ),
    };
    let mut lq = ListQuery {
        cursor: params.cursor()?,
        limit: Some(PAGE_SIZE),
        customer_id: Some(customer.to_owned()).filter(|c| !c.is_empty()),
        layer: LayerQuery {
            integration_id,
            ..Default::default()
        },
        ..Default::default()
    };
    // `connected` is the stored flag `GET /connections` renders both
    // `connected` and `disconnected` from; a refused refresh clears it.
    match wanted {
        "" => {}
        "healthy" => lq.doc_equals = vec![("connected".into(), Value::Bool(true))],
        "disconnected" => lq.doc_equals = vec![("connected".into(), Value::Bool(false))],
        _ => {
            return Err(ApiError::invalid_query("state", "must be healthy or disconnected").into())
        }
    }
    let found = state
        .engine
        .elements()
        .list(&admin.caller, ElementType::Connection, &lq)
        .await?;
    let table = connection_table(&state, &admin.caller, &found.items).await?;
    let query = [
        ("integration", integration),
        ("customer", customer),
        ("state", wanted),
    ];
    let content = html! {
        (done_message(&params))
        form.filters method="get" action="/console/connections" {
            div {
                label for="integration" { "Integration id" }
                input #integration type="text" name="integration" value=(integration);
            }
            div {
                label for="customer" { "Customer id" }
                input #customer type="text" name="customer" value=(customer);
            }
            div {
                label for="state" { "State" }
                select #state name="state" {
                    @for (value, label) in [("", "Any"), ("healthy", "Healthy"), ("disconnected", "Disconnected")] {
                        option value=(value) selected[wanted == value] { (label) }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        (table)
        (pager("/console/connections", &query, found.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Connections, "Connections", content))
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let params = Params::parse(raw.as_deref());
    let el = live_element(&state, &admin.caller, ElementType::Connection, &id).await?;
    detail_page(&state, &admin, &el, &params, None).await
}

/// The connection's page, with a test's result when one was just run.
async fn detail_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    el: &Element,
    params: &Params,
    tested: Option<Value>,
) -> Page {
    let caller = &admin.caller;
    let shown = state
        .engine
        .elements()
        .render(caller, el, Depth::Full)
        .await?;
    let logs = state
        .engine
        .calls()
        .list_api_logs(
            caller,
            &ApiLogFilter {
                connection_id: Some(el.id.clone()),
                page: LogPageParams {
                    limit: Some(LOGS_PAGE_SIZE.to_owned()),
                    cursor: Some(params.get("cursor").to_owned()).filter(|c| !c.is_empty()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
    let items = logs["items"].as_array().cloned().unwrap_or_default();
    let mut methods = Vec::with_capacity(items.len());
    for log in &items {
        // The list holds no method; a log that cannot be read shows none.
        let method = match state.engine.calls().api_log(caller, text(log, "id")).await {
            Ok(full) => full["request"]["method"].as_str().unwrap_or("").to_owned(),
            Err(_) => String::new(),
        };
        methods.push(method);
    }
    let base = format!("/console/connections/{}", segment(&el.id));
    let error = shown.get("error").filter(|e| !e.is_null());
    let content = html! {
        (done_message(params))
        @if let Some(result) = &tested {
            section aria-label="Test result" {
                h2 { "Test result" }
                @if result["success"] == Value::Bool(true) {
                    p role="status" { (badge("success")) " The connection works." }
                } @else {
                    p.error role="alert" {
                        "The test failed: "
                        (result["error"].get("message").and_then(Value::as_str).unwrap_or("no reason given"))
                    }
                }
            }
        }
        dl.facts {
            dt { "State" } dd { (badge(state_of(&shown))) }
            dt { "Id" } dd { code { (el.id) } }
            dt { "Integration" } dd { (integration_link(&shown)) }
            dt { "Customer" } dd { (customer_link(&shown)) }
            dt { "Created" } dd { (time(&el.created_at)) }
            dt { "Updated" } dd { (time(&el.updated_at)) }
            dt { "Last credentials refresh" } dd {
                @match el.doc_str(osmosis_engine::connections::REFRESHED_AT) {
                    Some(t) => (time(t)),
                    None => span.muted { "not refreshed since it was connected" },
                }
            }
            dt { "Next credentials refresh" } dd {
                @match shown.get("nextCredentialsRefreshAt").and_then(Value::as_str) {
                    Some(t) => (time(t)),
                    None => span.muted { "none planned" },
                }
            }
            dt { "Last error" } dd {
                @match error {
                    Some(e) => (e.get("message").and_then(Value::as_str).unwrap_or("an error without a message")),
                    None => span.muted { "none" },
                }
            }
            @if let Some(t) = shown.get("nextRetryTimestamp").and_then(Value::as_str) {
                dt { "Next retry" } dd {
                    (time(t))
                    @if let Some(n) = shown.get("retryAttempts").and_then(Value::as_u64) {
                        " (" (n) " attempts so far)"
                    }
                }
            }
            @if let Some(action) = shown.get("clientAction").and_then(|a| a.get("description")).and_then(Value::as_str) {
                dt { "Customer action" } dd { (action) }
            }
        }
        div.actions {
            (post_button(admin, &format!("{base}/test"), "Test", &[]))
            (post_button(admin, &format!("{base}/refresh"), "Refresh credentials", &[]))
            form.inline method="post" action={ (base) "/disconnect" }
                data-confirm="Disconnect this connection? Its customer will have to connect again." {
                (csrf_field(admin))
                button.danger type="submit" { "Disconnect" }
            }
        }
        h2 { "External API calls" }
        @if items.is_empty() {
            (empty("No calls made through this connection yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "Method" } th scope="col" { "URL" }
                    th scope="col" { "Status" } th scope="col" { "Duration" }
                } }
                tbody {
                    @for (log, method) in items.iter().zip(&methods) {
                        tr {
                            td { a href={ (base) "/logs/" (segment(text(log, "id"))) } { (time(text(log, "createdAt"))) } }
                            td { (method) }
                            td { code { (text(log, "requestUrl")) } }
                            td { (status_badge(log)) }
                            td { (log["duration"].as_i64().unwrap_or(0)) " ms" }
                        }
                    }
                }
            }
        }
        (pager(&base, &[], logs.get("cursor").and_then(Value::as_str)))
    };
    Ok(page(admin, Section::Connections, &el.name, content))
}

fn status_badge(log: &Value) -> Markup {
    let code = log["statusCode"].as_i64().unwrap_or(0);
    let label = if code == 0 {
        "no answer".to_owned()
    } else {
        code.to_string()
    };
    let tone = if log["isSuccess"] == Value::Bool(true) {
        "good"
    } else {
        "bad"
    };
    html! { span class={ "badge " (tone) } { (label) } }
}

/// `POST /connections/{id}/test`, answered with the page (see the module doc).
async fn test(State(state): State<AppState>, Path(id): Path<String>, form: ConsoleForm) -> Page {
    let caller = &form.admin.caller;
    let el = live_element(&state, caller, ElementType::Connection, &id).await?;
    let result = state.engine.calls().test_connection(caller, &el).await?;
    // Read again: a test may have refreshed the credentials or marked the
    // connection defunct.
    let el = live_element(&state, caller, ElementType::Connection, &el.id).await?;
    detail_page(&state, &form.admin, &el, &Params::parse(None), Some(result)).await
}

/// `POST /connections/{id}/refresh-credentials`, then back to the page.
async fn refresh(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let caller = &form.admin.caller;
    let el = live_element(&state, caller, ElementType::Connection, &id).await?;
    let el = state
        .engine
        .calls()
        .refresh_credentials(caller, &el)
        .await?;
    Ok(Redirect::to(&link(
        &format!("/console/connections/{}", segment(&el.id)),
        &[("done", "refreshed")],
    ))
    .into_response())
}

/// `DELETE /connections/{id}`: revoked, then archived; back to the list.
async fn disconnect(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let caller = &form.admin.caller;
    let el = live_element(&state, caller, ElementType::Connection, &id).await?;
    state
        .engine
        .elements()
        .set_archived(caller, el, true)
        .await?;
    Ok(Redirect::to(&link("/console/connections", &[("done", "disconnected")])).into_response())
}

/// One call's request and response, as `GET /external-api-logs/{id}` renders
/// them; a log of another connection is not found here.
async fn log_detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path((id, log_id)): Path<(String, String)>,
) -> Page {
    let caller = &admin.caller;
    let el = live_element(&state, caller, ElementType::Connection, &id).await?;
    let log = state.engine.calls().api_log(caller, &log_id).await?;
    if text(&log, "connectionId") != el.id {
        return Err(ApiError::not_found(format!("No external API log matches `{log_id}`")).into());
    }
    let back = format!("/console/connections/{}", segment(&el.id));
    let title = format!(
        "{} {}",
        log["request"]["method"].as_str().unwrap_or(""),
        text(&log, "requestUrl")
    );
    let content = html! {
        p { a href=(back) { "← " (el.name) } }
        dl.facts {
            dt { "Time" } dd { (time(text(&log, "createdAt"))) }
            dt { "Status" } dd { (status_badge(&log)) }
            dt { "Duration" } dd { (log["duration"].as_i64().unwrap_or(0)) " ms" }
            dt { "Log id" } dd { code { (text(&log, "id")) } }
        }
        @if let Some(e) = log.get("error").filter(|e| !e.is_null()) {
            h2 { "Error" }
            (json_block(e))
        }
        h2 { "Request" }
        (json_block(&log["request"]))
        h2 { "Response" }
        (json_block(&log["response"]))
    };
    Ok(page(&admin, Section::Connections, &title, content))
}
