//! `/console/events`: what came in and what it became — incoming webhooks, app
//! events, external event records and pulls, and the external event
//! subscriptions that produce them. One tab per list, each read through the
//! engine call its API route makes (`GET /incoming-webhooks`, `/app-events`,
//! `/external-event-log-records`, `/external-event-pulls`,
//! `/external-event-subscriptions`), so a page shows exactly what the API would
//! show this admin.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::events::external::{EventLogFilter, SubscriptionFilter};
use osmosis_engine::events::logs::{AppEventFilter, IncomingWebhookFilter};
use osmosis_engine::log_pages::LogPageParams;
use serde_json::Value;

use crate::console::layout::{
    badge, empty, json_block, link, page, pager, segment, time, Page, Section,
};
use crate::console::session::ConsoleAdmin;
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router
        .route("/console/events", get(list))
        .route("/console/events/webhooks/{id}", get(webhook))
        .route("/console/events/app-events/{id}", get(app_event))
        .route("/console/events/subscriptions/{id}", get(subscription))
}

/// The tabs: query value, label, what the list is.
const TABS: [(&str, &str, &str); 5] = [
    (
        "webhooks",
        "Incoming webhooks",
        "Every request posted to the workspace's webhook URLs, stored before it was answered.",
    ),
    (
        "app-events",
        "App events",
        "Events your app sent, and the flow runs they started.",
    ),
    (
        "external-events",
        "External events",
        "Events read from connected apps by external event subscriptions.",
    ),
    (
        "pulls",
        "Pulls",
        "Each time a polled subscription asked its app for changes.",
    ),
    (
        "subscriptions",
        "Subscriptions",
        "External event subscriptions: what each listens to and whether it works.",
    ),
];

/// Rows per page: a screenful, well under the engine's limit.
const PAGE_SIZE: &str = "50";

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    tab: Option<String>,
    cursor: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Query(q): Query<ListQuery>,
) -> Page {
    let tab = TABS
        .iter()
        .find(|(key, _, _)| Some(*key) == q.tab.as_deref())
        .unwrap_or(&TABS[0]);
    let cursor = q.cursor.filter(|c| !c.is_empty());
    let log_page = LogPageParams {
        limit: Some(PAGE_SIZE.into()),
        cursor: cursor.clone(),
        ..Default::default()
    };
    let engine = &state.engine;
    let caller = &admin.caller;
    let (answer, rows) = match tab.0 {
        "webhooks" => {
            let filter = IncomingWebhookFilter {
                page: log_page,
                ..Default::default()
            };
            let answer = engine.list_incoming_webhooks(caller, &filter).await?;
            let rows = webhooks_table(&answer);
            (answer, rows)
        }
        "app-events" => {
            let filter = AppEventFilter {
                page: log_page,
                ..Default::default()
            };
            let answer = engine.list_app_events(caller, &filter).await?;
            let rows = app_events_table(&answer);
            (answer, rows)
        }
        "external-events" => {
            let filter = EventLogFilter {
                page: log_page,
                ..Default::default()
            };
            let answer = engine
                .external_events()
                .log_records(caller, &filter)
                .await?;
            let rows = external_events_table(&answer);
            (answer, rows)
        }
        "pulls" => {
            let filter = EventLogFilter {
                page: log_page,
                ..Default::default()
            };
            let answer = engine.external_events().pulls(caller, &filter).await?;
            let rows = pulls_table(&answer);
            (answer, rows)
        }
        _ => {
            let filter = SubscriptionFilter {
                limit: Some(PAGE_SIZE.into()),
                cursor,
                include_archived: Some("true".into()),
                ..Default::default()
            };
            let answer = engine.external_events().list(caller, &filter).await?;
            let rows = subscriptions_table(&answer);
            (answer, rows)
        }
    };
    let content = html! {
        nav.actions aria-label="Event lists" {
            @for (key, label, _) in TABS {
                @if key == tab.0 {
                    a href=(link("/console/events", &[("tab", key)])) aria-current="page" { strong { (label) } }
                } @else {
                    a href=(link("/console/events", &[("tab", key)])) { (label) }
                }
            }
        }
        h2 { (tab.1) }
        p.muted {
            (tab.2) " "
            @if tab.0 == "subscriptions" {
                "Oldest first, archived ones included."
            } @else {
                "Newest first."
            }
        }
        (rows)
        (pager("/console/events", &[("tab", tab.0)], answer["cursor"].as_str()))
    };
    Ok(page(&admin, Section::Events, "Events", content))
}

fn items(answer: &Value) -> &[Value] {
    answer["items"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}

/// An id as text (`—` when there is none, as for a delivery without a customer).
fn id_or_dash(id: &str) -> Markup {
    html! {
        @if id.is_empty() { span.muted { "—" } } @else { code { (id) } }
    }
}

fn count(v: &Value, field: &str) -> usize {
    v[field].as_array().map_or(0, Vec::len)
}

fn when(v: &Value, field: &str) -> Markup {
    html! { @if let Some(t) = v[field].as_str().filter(|t| !t.is_empty()) { (time(t)) } }
}

/// One row's full record, folded away under its table.
fn folded(v: &Value) -> Markup {
    html! {
        details {
            summary { "Details" }
            (json_block(v))
        }
    }
}

fn webhooks_table(answer: &Value) -> Markup {
    let rows = items(answer);
    html! {
        @if rows.is_empty() {
            (empty("No incoming webhooks yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Received" } th scope="col" { "Status" }
                    th scope="col" { "Posted to" } th scope="col" { "Customer" }
                    th scope="col" { "Events" }
                } }
                tbody {
                    @for w in rows {
                        tr {
                            td { a href={ "/console/events/webhooks/" (segment(s(w, "id"))) } { (when(w, "createdAt")) } }
                            td { (badge(s(w, "status"))) }
                            td { (id_or_dash(s(w, "subscriptionId"))) }
                            td { (id_or_dash(s(w, "customerId"))) }
                            td { (count(w, "collectedEventIds")) }
                        }
                    }
                }
            }
        }
    }
}

fn app_events_table(answer: &Value) -> Markup {
    let rows = items(answer);
    html! {
        @if rows.is_empty() {
            (empty("No app events yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "Event type" }
                    th scope="col" { "Customer" } th scope="col" { "Flow runs started" }
                } }
                tbody {
                    @for e in rows {
                        tr {
                            td { a href={ "/console/events/app-events/" (segment(s(e, "id"))) } { (when(e, "datetime")) } }
                            td { (id_or_dash(s(e, "appEventTypeId"))) }
                            td { (id_or_dash(s(e, "userId"))) }
                            td { (count(e, "launchedFlowRunIds")) }
                        }
                    }
                }
            }
        }
    }
}

fn external_events_table(answer: &Value) -> Markup {
    let rows = items(answer);
    html! {
        @if rows.is_empty() {
            (empty("No external events yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Time" } th scope="col" { "Event" } th scope="col" { "Status" }
                    th scope="col" { "Subscription" } th scope="col" { "Customer" } th scope="col" { "Record" }
                } }
                tbody {
                    @for e in rows {
                        tr {
                            td { (when(e, "createdAt")) }
                            td { (s(e, "name")) }
                            td { (badge(s(e, "status"))) }
                            td { (subscription_link(s(e, "externalEventSubscriptionId"))) }
                            td { (id_or_dash(s(e, "userId"))) }
                            td { (folded(e)) }
                        }
                    }
                }
            }
        }
    }
}

fn pulls_table(answer: &Value) -> Markup {
    let rows = items(answer);
    html! {
        @if rows.is_empty() {
            (empty("No pulls yet."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Started" } th scope="col" { "Ended" } th scope="col" { "Status" }
                    th scope="col" { "Subscription" } th scope="col" { "Events" } th scope="col" { "Record" }
                } }
                tbody {
                    @for p in rows {
                        tr {
                            td { (when(p, "startDatetime")) }
                            td { (when(p, "endDatetime")) }
                            td {
                                (badge(s(p, "status")))
                                @if p["isFullScan"].as_bool() == Some(true) { " " span.muted { "full scan" } }
                            }
                            td { (subscription_link(s(p, "externalEventSubscriptionId"))) }
                            td { (count(p, "collectedEventIds")) }
                            td { (folded(p)) }
                        }
                    }
                }
            }
        }
    }
}

fn subscriptions_table(answer: &Value) -> Markup {
    let rows = items(answer);
    html! {
        @if rows.is_empty() {
            (empty("No external event subscriptions: they are made when an enabled flow instance starts with an external event trigger."))
        } @else {
            table {
                thead { tr {
                    th scope="col" { "Subscription" } th scope="col" { "Status" }
                    th scope="col" { "Customer" } th scope="col" { "Connection" } th scope="col" { "Created" }
                } }
                tbody {
                    @for sub in rows {
                        tr {
                            td { a href={ "/console/events/subscriptions/" (segment(s(sub, "id"))) } { (s(sub, "name")) } }
                            td {
                                (badge(s(sub, "status")))
                                @if sub.get("archivedAt").is_some() { " " (badge("archived")) }
                            }
                            td { (id_or_dash(s(sub, "userId"))) }
                            td { (id_or_dash(s(sub, "connectionId"))) }
                            td { (when(sub, "createdAt")) }
                        }
                    }
                }
            }
        }
    }
}

fn subscription_link(id: &str) -> Markup {
    html! {
        @if id.is_empty() {
            span.muted { "—" }
        } @else {
            a href={ "/console/events/subscriptions/" (segment(id)) } { code { (id) } }
        }
    }
}

/// The facts of a record above its full JSON.
fn detail(admin: &ConsoleAdmin, title: &str, back: &str, facts: Markup, record: &Value) -> Page {
    let content = html! {
        p { a href=(link("/console/events", &[("tab", back)])) { "← All " (back.replace('-', " ")) } }
        (facts)
        h2 { "Record" }
        (json_block(record))
    };
    Ok(page(admin, Section::Events, title, content))
}

/// A list of ids, each linking to its page under `base`.
fn id_links(ids: &Value, base: &str) -> Markup {
    let ids: Vec<&str> = ids
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    html! {
        @if ids.is_empty() {
            span.muted { "none" }
        } @else {
            ul {
                @for id in ids {
                    li { a href={ (base) "/" (segment(id)) } { code { (id) } } }
                }
            }
        }
    }
}

async fn webhook(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let w = state.engine.incoming_webhook(&admin.caller, &id).await?;
    let facts = html! {
        dl.facts {
            dt { "Status" } dd { (badge(s(&w, "status"))) }
            dt { "Received" } dd { (when(&w, "createdAt")) }
            @if w.get("processedAt").is_some() {
                dt { "Processed" } dd { (when(&w, "processedAt")) }
            }
            dt { "Posted to" } dd { (id_or_dash(s(&w, "subscriptionId"))) " " span.muted { (s(&w, "subscriptionType")) } }
            dt { "Customer" } dd { (id_or_dash(s(&w, "customerId"))) }
            dt { "Connection" } dd { (id_or_dash(s(&w, "connectionId"))) }
            dt { "Events" } dd {
                @if s(&w, "subscriptionType").starts_with("app-event") {
                    (id_links(&w["collectedEventIds"], "/console/events/app-events"))
                } @else {
                    (count(&w, "collectedEventIds"))
                }
            }
            @if !w["error"].is_null() {
                dt { "Error" } dd { p.error { (error_text(&w["error"])) } }
            }
        }
    };
    detail(&admin, "Incoming webhook", "webhooks", facts, &w)
}

async fn app_event(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let e = state.engine.app_event(&admin.caller, &id).await?;
    let facts = html! {
        dl.facts {
            dt { "Time" } dd { (when(&e, "datetime")) }
            dt { "Event type" } dd { (id_or_dash(s(&e, "appEventTypeId"))) }
            dt { "Subscription" } dd { (id_or_dash(s(&e, "appEventSubscriptionId"))) }
            dt { "Customer" } dd { (id_or_dash(s(&e, "userId"))) }
            dt { "Flow runs started" } dd { (id_links(&e["launchedFlowRunIds"], "/console/flow-runs")) }
        }
    };
    detail(&admin, "App event", "app-events", facts, &e)
}

async fn subscription(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> Page {
    let sub = state
        .engine
        .external_events()
        .get(&admin.caller, &id)
        .await?;
    let facts = html! {
        dl.facts {
            dt { "Name" } dd { (s(&sub, "name")) }
            dt { "Status" } dd {
                (badge(s(&sub, "status")))
                @if sub.get("archivedAt").is_some() { " " (badge("archived")) " " (when(&sub, "archivedAt")) }
            }
            dt { "Customer" } dd { (id_or_dash(s(&sub, "userId"))) }
            dt { "Integration" } dd { (id_or_dash(s(&sub, "integrationId"))) }
            dt { "Connection" } dd { (id_or_dash(s(&sub, "connectionId"))) }
            dt { "Webhook URL" } dd { (id_or_dash(s(&sub, "webhookUri"))) }
            dt { "Created" } dd { (when(&sub, "createdAt")) }
            @if !sub["error"].is_null() {
                dt { "Error" } dd { p.error { (error_text(&sub["error"])) } }
            }
        }
        p {
            a href=(link("/console/events", &[("tab", "external-events")])) { "External events" }
            " and "
            a href=(link("/console/events", &[("tab", "pulls")])) { "pulls" }
            " of every subscription are listed under their tabs."
        }
    };
    detail(
        &admin,
        "External event subscription",
        "subscriptions",
        facts,
        &sub,
    )
}

/// An error as stored: a message string, or an object with one.
fn error_text(e: &Value) -> String {
    match e {
        Value::String(m) => m.clone(),
        v => v["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string()),
    }
}
