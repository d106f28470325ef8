//! The frame every console page shares — navigation, the workspace's name, the
//! sign-out form — and the small pieces pages are built from: the CSRF field,
//! post buttons, search forms, pagers, state badges, times. Pages build their
//! content with `maud::html!`, which escapes every value it interpolates.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use osmosis_model::ApiError;

use super::session::{ConsoleAdmin, CSRF_FIELD};

/// A page, or the error page saying why not.
pub(crate) type Page = Result<Markup, ConsoleError>;

/// The sections of the navigation, in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Overview,
    Integrations,
    Connectors,
    Customers,
    Connections,
    Actions,
    Flows,
    FlowRuns,
    Events,
    Settings,
}

const SECTIONS: [(Section, &str, &str); 10] = [
    (Section::Overview, "Overview", "/console"),
    (
        Section::Integrations,
        "Integrations",
        "/console/integrations",
    ),
    (Section::Connectors, "Connectors", "/console/connectors"),
    (Section::Customers, "Customers", "/console/customers"),
    (Section::Connections, "Connections", "/console/connections"),
    (Section::Actions, "Actions", "/console/actions"),
    (Section::Flows, "Flows", "/console/flows"),
    (Section::FlowRuns, "Flow runs", "/console/flow-runs"),
    (Section::Events, "Events", "/console/events"),
    (Section::Settings, "Settings", "/console/settings"),
];

/// A whole console page: `title` is its heading and the document's title.
pub(crate) fn page(admin: &ConsoleAdmin, section: Section, title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (admin.workspace_name()) " · Osmosis" }
                link rel="stylesheet" href=(super::assets::CSS_PATH);
                script src=(super::assets::JS_PATH) defer {}
            }
            body {
                a.skip href="#content" { "Skip to content" }
                header.top {
                    a.brand href="/console" { "Osmosis" }
                    span.workspace { (admin.workspace_name()) }
                    form.sign-out method="post" action="/console/sign-out" {
                        (csrf_field(admin))
                        button.link type="submit" { "Sign out" }
                    }
                }
                div.frame {
                    nav aria-label="Console" {
                        ul {
                            @for (s, label, href) in SECTIONS {
                                li {
                                    @if s == section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main #content {
                        h1 { (title) }
                        (content)
                    }
                }
            }
        }
    }
}

/// The page of a sign-in form or an error, outside the frame (no session).
pub(crate) fn bare_page(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Osmosis" }
                link rel="stylesheet" href=(super::assets::CSS_PATH);
            }
            body.bare {
                main #content.card {
                    p.brand { "Osmosis" }
                    h1 { (title) }
                    (content)
                }
            }
        }
    }
}

/// The hidden field carrying the session's CSRF token: in every form that posts.
pub(crate) fn csrf_field(admin: &ConsoleAdmin) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(admin.csrf); }
}

/// A button that posts to `action` (with the CSRF token and `fields` as hidden
/// fields): what changes state is never a link.
pub(crate) fn post_button(
    admin: &ConsoleAdmin,
    action: &str,
    label: &str,
    fields: &[(&str, &str)],
) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(admin))
            @for (name, value) in fields {
                input type="hidden" name=(name) value=(value);
            }
            button type="submit" { (label) }
        }
    }
}

/// A search box over a list, keeping the list's other filters.
pub(crate) fn search_form(action: &str, search: &str, keep: &[(&str, &str)]) -> Markup {
    html! {
        form.search role="search" method="get" action=(action) {
            @for (name, value) in keep {
                @if !value.is_empty() {
                    input type="hidden" name=(name) value=(value);
                }
            }
            label for="search" { "Search" }
            input #search type="search" name="search" value=(search);
            button type="submit" { "Search" }
        }
    }
}

/// The link to a list's next page, when there is one: `query` is the list's own
/// query (filters, search) without the cursor.
pub(crate) fn pager(path: &str, query: &[(&str, &str)], next_cursor: Option<&str>) -> Markup {
    html! {
        @if let Some(cursor) = next_cursor {
            nav.pager aria-label="Pages" {
                a rel="next" href=(link(path, &[query, &[("cursor", cursor)]].concat())) { "Next page →" }
            }
        }
    }
}

/// `path` with a query string of the non-empty `params`.
pub(crate) fn link(path: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

/// A percent-encoded path segment (ids and keys go into links through this).
pub(crate) fn segment(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A state as a coloured badge: `good`, `bad`, `busy` or plain by its meaning.
pub(crate) fn badge(state: &str) -> Markup {
    let tone = match state {
        "completed" | "success" | "healthy" | "enabled" | "active" | "delivered" => "good",
        "failed" | "error" | "disconnected" | "stopped" | "cancelled" | "needs reconnect" => "bad",
        "running" | "queued" | "pending" | "retrying" | "stopping" => "busy",
        _ => "plain",
    };
    html! { span class={ "badge " (tone) } { (state) } }
}

/// An ISO time as a `<time>` the reader can read (UTC, to the second).
pub(crate) fn time(iso: &str) -> Markup {
    let shown = iso.get(..19).unwrap_or(iso).replace('T', " ");
    html! { time datetime=(iso) { (shown) " UTC" } }
}

/// A JSON value, pretty-printed, in a scrollable block.
pub(crate) fn json_block(value: &serde_json::Value) -> Markup {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    // Focusable, so a keyboard can scroll a block taller than its box.
    html! { pre.json tabindex="0" { code { (text) } } }
}

/// An empty list's sentence.
pub(crate) fn empty(text: &str) -> Markup {
    html! { p.empty { (text) } }
}

/// An error as a page: the API's error (type, key, message) with its status.
#[derive(Debug)]
pub(crate) struct ConsoleError(pub ApiError);

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError(e)
    }
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let title = match status.as_u16() {
            400 | 413 => "That did not work",
            401 => "Sign in again",
            403 => "Not allowed",
            404 => "Not found",
            409 => "Conflict",
            410 => "Archived",
            _ => "Something went wrong",
        };
        let body = html! {
            p.error role="alert" { (self.0.message) }
            @if let Some(key) = &self.0.key { p.muted { "Error key: " code { (key) } } }
            p { a href="/console" { "Back to the console" } }
        };
        (status, bare_page(title, body)).into_response()
    }
}
