//! `/console/connectors`: the connectors of the workspace, shipped with the
//! binary or its own, and what one connector offers — its auth, parameters,
//! operations, data collections and events — read from its definition.
//!
//! A definition's functions (mappings, code) are not shown: a custom
//! connector may hold a client secret in its `getOAuthConfig`, and the console
//! shows nothing the API's rendering would not make plain.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::elements::Depth;
use osmosis_model::{Element, ElementType};
use serde_json::Value;

use super::integrations::{logo, text};
use crate::console::layout::{badge, empty, page, pager, search_form, segment, Page, Section};
use crate::console::params::{live_element, Params};
use crate::console::session::ConsoleAdmin;
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/connectors", get(list))
        .route("/console/connectors/{id}", get(detail))
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let params = Params::parse(raw.as_deref());
    let lq = params.list_query()?;
    let elements = state.engine.elements();
    let found = elements
        .list(&admin.caller, ElementType::Connector, &lq)
        .await?;
    let rows = elements.render_all(&admin.caller, &found.items).await?;
    let search = params.get("search");
    let content = html! {
        (search_form("/console/connectors", search, &[]))
        @if rows.is_empty() {
            (empty(if search.is_empty() { "No connectors yet." } else { "No connector matches this search." }))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Auth" }
                    th scope="col" { "Operations" } th scope="col" { "Data collections" }
                    th scope="col" { "Events" } th scope="col" { "Source" }
                } }
                tbody {
                    @for c in &rows {
                        @let name = text(c, "name");
                        tr {
                            td {
                                (logo(c.get("logoUri").and_then(Value::as_str), name)) " "
                                a href={ "/console/connectors/" (segment(text(c, "id"))) } { (name) }
                            }
                            td { code { (text(c, "key")) } }
                            td { (text(c, "type")) }
                            td { (c["operationsCount"].as_u64().unwrap_or(0)) }
                            td { (c["dataCollectionsCount"].as_u64().unwrap_or(0)) }
                            td { (c["eventsCount"].as_u64().unwrap_or(0)) }
                            td { (source(c["isPublic"] == Value::Bool(true))) }
                        }
                    }
                }
            }
        }
        (pager("/console/connectors", &[("search", search)], found.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Connectors, "Connectors", content))
}

fn source(shipped: bool) -> Markup {
    badge(if shipped { "shipped" } else { "custom" })
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let el = live_element(&state, &admin.caller, ElementType::Connector, &id).await?;
    let shown = state
        .engine
        .elements()
        .render(&admin.caller, &el, Depth::Flat)
        .await?;
    let shipped = shown["isPublic"] == Value::Bool(true);
    let d = &el.doc;
    let content = html! {
        p { (logo(el.doc_str("logoUri"), &el.name)) }
        dl.facts {
            dt { "Id" } dd { code { (el.id) } }
            dt { "Key" } dd { code { (el.key.as_deref().unwrap_or("")) } }
            dt { "Source" } dd { (source(shipped)) }
            dt { "Auth type" } dd { (el.doc_str("type").unwrap_or("none")) }
            dt { "Test" } dd { (if d.get("test").is_some_and(Value::is_object) { "yes" } else { "no" }) }
            @if let Some(app) = el.doc_str("appUri") {
                dt { "App" } dd { (app) }
            }
        }
        h2 { "Auth options" }
        (auth_options(&el))
        h2 { "Parameters" }
        (parameters(d.get("parametersSchema")))
        h2 { "Operations" }
        (keyed_table(d.get("operations"), "No operations."))
        h2 { "Data collections" }
        (collections(d.get("data")))
        h2 { "Events" }
        (keyed_table(d.get("events"), "No connector events."))
    };
    Ok(page(&admin, Section::Connectors, &el.name, content))
}

/// The ways a customer may connect: the connector's own auth type, then each
/// named option (`options`) with its own type.
pub(super) fn auth_options(connector: &Element) -> Markup {
    let options = connector.doc.get("options").and_then(Value::as_object);
    html! {
        @match options.filter(|o| !o.is_empty()) {
            None => p { "One: " code { (connector.doc_str("type").unwrap_or("none")) } },
            Some(options) => table {
                thead { tr { th scope="col" { "Option" } th scope="col" { "Title" } th scope="col" { "Auth type" } } }
                tbody {
                    @for (key, o) in options {
                        tr {
                            td { code { (key) } }
                            td { (text(o, "title")) }
                            td { (o.get("type").and_then(Value::as_str).or(connector.doc_str("type")).unwrap_or("")) }
                        }
                    }
                }
            },
        }
    }
}

fn parameters(schema: Option<&Value>) -> Markup {
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    let required: Vec<&str> = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        @match props.filter(|p| !p.is_empty()) {
            None => (empty("The connector takes no parameters.")),
            Some(props) => table {
                thead { tr { th scope="col" { "Parameter" } th scope="col" { "Title" } th scope="col" { "Required" } th scope="col" { "Description" } } }
                tbody {
                    @for (key, p) in props {
                        tr {
                            td { code { (key) } }
                            td { (text(p, "title")) }
                            td { (if required.contains(&key.as_str()) { "yes" } else { "no" }) }
                            td { (text(p, "description")) }
                        }
                    }
                }
            },
        }
    }
}

/// Operations and events: an array of `{key, …}` or an object keyed by key, as
/// the API's `/integrations/{i}/operations` reads them; `none` when there are
/// none.
fn keyed_table(list: Option<&Value>, none: &str) -> Markup {
    let items: Vec<(&str, &Value)> = match list {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.as_str(), v)).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.get("key").and_then(Value::as_str).map(|k| (k, v)))
            .collect(),
        _ => Vec::new(),
    };
    html! {
        @if items.is_empty() {
            (empty(none))
        } @else {
            table {
                thead { tr { th scope="col" { "Key" } th scope="col" { "Name" } th scope="col" { "Description" } } }
                tbody {
                    @for (key, item) in &items {
                        tr {
                            td { code { (key) } }
                            td { (item.get("name").and_then(Value::as_str).unwrap_or(key)) }
                            td { (text(item, "description")) }
                        }
                    }
                }
            }
        }
    }
}

/// The methods a data collection may have, in the order the SDK lists them.
const METHODS: [&str; 9] = [
    "list", "search", "match", "findById", "create", "update", "delete", "spec", "events",
];

fn collections(data: Option<&Value>) -> Markup {
    let data = data.and_then(Value::as_object).filter(|d| !d.is_empty());
    html! {
        @match data {
            None => (empty("No data collections.")),
            Some(data) => table {
                thead { tr { th scope="col" { "Key" } th scope="col" { "Name" } th scope="col" { "Methods" } th scope="col" { "Events" } } }
                tbody {
                    @for (key, spec) in data {
                        tr {
                            td { code { (key) } }
                            td { (spec.get("name").and_then(Value::as_str).unwrap_or(key)) }
                            td {
                                @for (n, m) in METHODS.iter().filter(|m| **m != "events" && spec.get(**m).is_some()).enumerate() {
                                    @if n > 0 { ", " }
                                    (m)
                                }
                            }
                            td {
                                @if let Some(events) = spec.get("events").and_then(Value::as_object) {
                                    @for (n, e) in events.keys().enumerate() {
                                        @if n > 0 { ", " }
                                        code { (e) }
                                    }
                                }
                            }
                        }
                    }
                }
            },
        }
    }
}
