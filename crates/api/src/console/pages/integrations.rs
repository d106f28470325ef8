//! `/console/integrations`: the workspace's integrations, one integration's
//! facts, and the form that sets its OAuth client (the connector parameters
//! `clientId` and `clientSecret`).
//!
//! Also the small pieces the sibling sections (connectors, customers,
//! connections) share: query parameters, list paging, logos, and the sentence a
//! `?done=` flag stands for after a form's post-redirect-get.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::elements::Depth;
use osmosis_model::ElementType;
use serde_json::{Map, Value};

use crate::console::layout::{
    badge, csrf_field, empty, link, page, pager, search_form, segment, ConsoleError, Page, Section,
};
use crate::console::params::{live_element, Params};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/integrations", get(list))
        .route("/console/integrations/{id}", get(detail))
        .route(
            "/console/integrations/{id}/parameters",
            post(set_parameters),
        )
}

/// A logo, only when it is an http(s) address (never a `javascript:` or other
/// scheme a stored value could hold).
pub(super) fn logo(uri: Option<&str>, name: &str) -> Markup {
    html! {
        @if let Some(uri) = uri.filter(|u| u.starts_with("https://") || u.starts_with("http://")) {
            img.logo src=(uri) alt=(name);
        }
    }
}

/// The sentence of a `?done=` flag a form's redirect carries; unknown flags say
/// nothing, so a crafted link cannot put words on the page.
pub(super) fn done_message(params: &Params) -> Markup {
    let text = match params.get("done") {
        "saved" => "Saved.",
        "refreshed" => "Credentials refreshed.",
        "disconnected" => "The connection was disconnected.",
        _ => return html! {},
    };
    html! { p.muted role="status" { (text) } }
}

/// A string field of a rendered element, empty when absent.
pub(super) fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

async fn list(State(state): State<AppState>, admin: ConsoleAdmin, RawQuery(raw): RawQuery) -> Page {
    let params = Params::parse(raw.as_deref());
    let lq = params.list_query()?;
    let elements = state.engine.elements();
    let found = elements
        .list(&admin.caller, ElementType::Integration, &lq)
        .await?;
    let rows = elements.render_all(&admin.caller, &found.items).await?;
    let search = params.get("search");
    let content = html! {
        (search_form("/console/integrations", search, &[]))
        @if rows.is_empty() {
            (empty(if search.is_empty() { "No integrations yet." } else { "No integration matches this search." }))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Name" } th scope="col" { "Key" } th scope="col" { "Connector" }
                    th scope="col" { "Auth" } th scope="col" { "Set up" }
                } }
                tbody {
                    @for i in &rows {
                        @let name = text(i, "name");
                        tr {
                            td {
                                (logo(i.get("logoUri").and_then(Value::as_str), name)) " "
                                a href={ "/console/integrations/" (segment(text(i, "id"))) } { (name) }
                            }
                            td { code { (text(i, "key")) } }
                            td {
                                @if let Some(cid) = i.get("connectorId").and_then(Value::as_str) {
                                    a href={ "/console/connectors/" (segment(cid)) } {
                                        (i["spec"].get("name").and_then(Value::as_str).unwrap_or(cid))
                                    }
                                }
                            }
                            td { (text(i, "authType")) }
                            td { (setup_badge(i)) }
                        }
                    }
                }
            }
        }
        (pager("/console/integrations", &[("search", search)], found.cursor.as_deref()))
    };
    Ok(page(&admin, Section::Integrations, "Integrations", content))
}

/// Whether an integration can be connected to: a connector, and every
/// parameter that connector requires.
fn setup_badge(i: &Value) -> Markup {
    if i.get("connectorId").and_then(Value::as_str).is_none() {
        badge("not set up")
    } else if i["hasMissingParameters"] == Value::Bool(true) {
        badge("parameters missing")
    } else {
        badge("ready")
    }
}

async fn detail(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Page {
    let params = Params::parse(raw.as_deref());
    let caller = &admin.caller;
    let el = live_element(&state, caller, ElementType::Integration, &id).await?;
    let shown = state
        .engine
        .elements()
        .render(caller, &el, Depth::Full)
        .await?;
    let connector = match el.doc_str("connectorId") {
        Some(cid) => live_element(&state, caller, ElementType::Connector, cid)
            .await
            .ok(),
        None => None,
    };
    let connections = state
        .engine
        .count_connections(caller, Some(&el.id), None)
        .await?;
    // Read from the stored element, never rendered: the secret is only said
    // to be set or not.
    let parameters = el
        .doc
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let client_id = parameters
        .get("clientId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let secret_set = parameters
        .get("clientSecret")
        .is_some_and(|v| !v.is_null() && v.as_str() != Some(""));
    let others: Vec<&String> = parameters
        .keys()
        .filter(|k| *k != "clientId" && *k != "clientSecret")
        .collect();
    let action = format!("/console/integrations/{}/parameters", segment(&el.id));
    let content = html! {
        (done_message(&params))
        p { (logo(shown.get("logoUri").and_then(Value::as_str), &el.name)) }
        dl.facts {
            dt { "Id" } dd { code { (el.id) } }
            dt { "Key" } dd { code { (el.key.as_deref().unwrap_or("")) } }
            dt { "State" } dd { (setup_badge(&shown)) }
            dt { "Connector" } dd {
                @match &connector {
                    Some(c) => a href={ "/console/connectors/" (segment(&c.id)) } { (c.name) },
                    None => span.muted { "None: this integration is not set up" },
                }
            }
            dt { "Auth type" } dd { (text(&shown, "authType")) }
            dt { "Connections" } dd {
                a href=(link("/console/connections", &[("integration", &el.id)])) { (connections) }
            }
            dt { "OAuth callback" } dd { code { (text(&shown, "oAuthCallbackUri")) } }
            dt { "Created" } dd { (crate::console::layout::time(&el.created_at)) }
            dt { "Updated" } dd { (crate::console::layout::time(&el.updated_at)) }
        }
        @if let Some(c) = &connector {
            h2 { "Auth options" }
            (super::connectors::auth_options(c))
        }
        h2 { "OAuth client" }
        form method="post" action=(action) {
            (csrf_field(&admin))
            p {
                label for="clientId" { "Client id" } br;
                input #clientId type="text" name="clientId" value=(client_id) autocomplete="off";
            }
            p {
                label for="clientSecret" { "Client secret" } br;
                input #clientSecret type="password" name="clientSecret" value="" autocomplete="new-password";
                " "
                span.muted {
                    @if secret_set { "A secret is set; leave this empty to keep it." }
                    @else { "No secret is set." }
                }
            }
            div.actions { button type="submit" { "Save" } }
        }
        @if !others.is_empty() {
            p.muted {
                "Other parameters set (through the API): "
                @for (n, k) in others.iter().enumerate() {
                    @if n > 0 { ", " }
                    code { (k) }
                }
            }
        }
    };
    Ok(page(&admin, Section::Integrations, &el.name, content))
}

/// Merges the client id and secret into the integration's parameters as
/// `PATCH /integrations/{i}/parameters` does: other parameters stay, an empty
/// client id removes it, an empty secret keeps the one set (the form never holds
/// it).
async fn set_parameters(
    State(state): State<AppState>,
    Path(id): Path<String>,
    form: ConsoleForm,
) -> Result<Response, ConsoleError> {
    let caller = &form.admin.caller;
    caller.require_admin("Integration parameters need an admin token")?;
    let el = live_element(&state, caller, ElementType::Integration, &id).await?;
    let mut params = el
        .doc
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    match form.get("clientId").trim() {
        "" => {
            params.remove("clientId");
        }
        v => {
            params.insert("clientId".into(), Value::String(v.to_owned()));
        }
    }
    let secret = form.get("clientSecret");
    if !secret.is_empty() {
        params.insert("clientSecret".into(), Value::String(secret.to_owned()));
    }
    let mut patch = Map::new();
    patch.insert("parameters".into(), Value::Object(params));
    let el = state
        .engine
        .elements()
        .patch_element(caller, el, patch)
        .await?;
    Ok(Redirect::to(&link(
        &format!("/console/integrations/{}", segment(&el.id)),
        &[("done", "saved")],
    ))
    .into_response())
}
