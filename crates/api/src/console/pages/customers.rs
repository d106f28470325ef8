//! `/console/customers`: the customers of the workspace (made on first sight of
//! a token naming them), and one customer with its connections.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::html;
use osmosis_engine::ListQuery;
use osmosis_model::ElementType;
use serde_json::Value;

use super::connections::connection_table;
use super::integrations::text;
use crate::console::layout::{empty, link, page, pager, search_form, segment, time, Page, Section};
use crate::console::params::{live_element, Params, PAGE_SIZE};
use crate::console::session::ConsoleAdmin;
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/customers", get(list))
        .route("/console/customers/{id}", get(detail))
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let params = Params::parse(raw.as_deref());
    let lq = params.list_query()?;
    let elements = state.engine.elements();
    let found = elements
        .list(&admin.caller, ElementType::Customer, &lq)
        .await?;
    let rows = elements.render_all(&admin.caller, &found.items).await?;
    let search = params.get("search");
    let content = html! {
        (search_form("/console/customers", search, &[]))
        @if rows.is_empty() {
            (empty(if search.is_empty() { "No customers yet." } else { "No customer matches this search." }))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Internal id" }
                    th scope="col" { "Last active" } th scope="col" { "Created" }
                } }
                tbody {
                    @for c in &rows {
                        tr {
                            td { a href={ "/console/customers/" (segment(text(c, "id"))) } { (text(c, "name")) } }
                            td { code { (text(c, "internalId")) } }
                            td { @if let Some(t) = c.get("lastActiveAt").and_then(Value::as_str) { (time(t)) } }
                            td { @if let Some(t) = c.get("createdAt").and_then(Value::as_str) { (time(t)) } }
                        }
                    }
                }
            }
        }
        (pager("/console/customers", &[("search", search)], found.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Customers, "Customers", content))
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let params = Params::parse(raw.as_deref());
    let caller = &admin.caller;
    let el = live_element(&state, caller, ElementType::Customer, &id).await?;
    let lq = ListQuery {
        customer_id: Some(el.id.clone()),
        cursor: params.cursor()?,
        limit: Some(PAGE_SIZE),
        ..Default::default()
    };
    let found = state
        .engine
        .elements()
        .list(caller, ElementType::Connection, &lq)
        .await?;
    let connections = connection_table(&state, caller, &found.items).await?;
    let path = format!("/console/customers/{}", segment(&el.id));
    let content = html! {
        dl.facts {
            dt { "Name" } dd { (el.name) }
            dt { "Internal id" } dd { code { (el.key.as_deref().unwrap_or("")) } }
            dt { "Id" } dd { code { (el.id) } }
            dt { "Test customer" } dd { (if el.doc_bool("isTest") { "yes" } else { "no" }) }
            @if let Some(t) = el.doc_str("lastActiveAt") {
                dt { "Last active" } dd { (time(t)) }
            }
            dt { "Created" } dd { (time(&el.created_at)) }
        }
        h2 { "Connections" }
        p { a href=(link("/console/connections", &[("customer", &el.id)])) { "Filter the connections list by this customer" } }
        (connections)
        (pager(&path, &[], found.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Customers, &el.name, content))
}
