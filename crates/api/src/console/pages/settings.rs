//! `/console/settings`: the workspace's webhook settings (changed through the
//! same engine call as `PATCH /settings`), how long logs are kept, and the
//! workspace's key and name. Never the secret: it cannot be read back, only
//! replaced, so the page says how.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use osmosis_engine::notify::outbound::{SettingsPatch, EVENTS};
use osmosis_model::patch::Patch;
use osmosis_model::ApiError;
use serde_json::Value;

use crate::console::layout::{csrf_field, page, time, ConsoleError, Page, Section};
use crate::console::session::{ConsoleAdmin, ConsoleForm};
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router.route("/console/settings", get(show).post(save))
}

#[derive(serde::Deserialize)]
struct Shown {
    /// Set after a change was saved (post, redirect, get: a reload posts nothing).
    saved: Option<String>,
}

async fn show(
    State(state): State<AppState>,
    admin: ConsoleAdmin,
    axum::extract::Query(q): axum::extract::Query<Shown>,
) -> Page {
    let settings = state.engine.notifications().settings(&admin.caller).await?;
    let uri = settings["webhookUri"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let enabled = enabled_events(&settings);
    settings_page(
        &state,
        &admin,
        &uri,
        enabled.as_deref(),
        q.saved.is_some(),
        None,
    )
}

/// The events a workspace enabled; `None` when it never chose (every event is sent).
fn enabled_events(settings: &Value) -> Option<Vec<String>> {
    settings["enabledWebhookEvents"].as_array().map(|events| {
        events
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    })
}

/// The form posts `webhookUri` (empty removes it), `events` checkboxes (one field
/// per event, `event:<name>`) and `allEvents` (send every event, now and those added
/// later: the setting is removed rather than listing today's events).
async fn save(State(state): State<AppState>, form: ConsoleForm) -> Response {
    let uri = form.get("webhookUri").trim().to_owned();
    let all = form.get("allEvents") == "on";
    let chosen: Vec<String> = form
        .fields
        .keys()
        .filter_map(|k| k.strip_prefix("event:"))
        .map(str::to_owned)
        .collect();
    // In the order the engine lists them, whatever order the browser sent.
    let mut chosen_sorted: Vec<String> = EVENTS
        .iter()
        .filter(|e| chosen.iter().any(|c| c == *e))
        .map(|e| (*e).to_owned())
        .collect();
    // A name the engine does not know is passed on for it to refuse, not dropped.
    chosen_sorted.extend(
        chosen
            .iter()
            .filter(|c| !EVENTS.contains(&c.as_str()))
            .cloned(),
    );
    let patch = SettingsPatch {
        webhook_uri: if uri.is_empty() {
            Patch::Null
        } else {
            Patch::Value(uri.clone())
        },
        enabled_webhook_events: if all {
            Patch::Null
        } else {
            Patch::Value(chosen_sorted.clone())
        },
    };
    match state
        .engine
        .notifications()
        .patch_settings(&form.admin.caller, patch)
        .await
    {
        Ok(_) => Redirect::to("/console/settings?saved=1").into_response(),
        Err(e) if e.http_status() == 400 => {
            // The form again, as sent, with the engine's reason: nothing was saved.
            let enabled = (!all).then_some(chosen_sorted);
            match settings_page(
                &state,
                &form.admin,
                &uri,
                enabled.as_deref(),
                false,
                Some(&e),
            ) {
                Ok(markup) => (StatusCode::BAD_REQUEST, markup).into_response(),
                Err(e) => e.into_response(),
            }
        }
        Err(e) => ConsoleError::from(e).into_response(),
    }
}

fn settings_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    uri: &str,
    enabled: Option<&[String]>,
    saved: bool,
    error: Option<&ApiError>,
) -> Page {
    let retention = state.engine.retention(&admin.caller)?;
    let workspace = &admin.caller.workspace;
    let content = html! {
        @if saved {
            p.muted role="status" { "Saved." }
        }
        @if let Some(e) = error {
            p.error #settings-error role="alert" {
                "Nothing was saved: " (e.message)
            }
        }
        h2 { "Webhook notifications" }
        p.muted {
            "Connection and flow run events are POSTed to this URL as they happen, "
            "retried with backoff when it does not answer 2xx."
        }
        form method="post" action="/console/settings" {
            (csrf_field(admin))
            p {
                label for="webhookUri" { "Webhook URL" }
                br;
                input #webhookUri type="url" name="webhookUri" value=(uri) size="60"
                    aria-describedby="webhookUri-help";
                br;
                span.muted #webhookUri-help { "Leave empty to send no notifications." }
            }
            fieldset {
                legend { "Events sent" }
                p {
                    input #allEvents type="checkbox" name="allEvents" checked[enabled.is_none()];
                    " "
                    label for="allEvents" { "Every event, including those added in later versions" }
                }
                p.muted { "Or only these (when the box above is not ticked):" }
                @for event in EVENTS {
                    @let id = format!("event-{}", event.replace('.', "-"));
                    p {
                        input id=(id) type="checkbox" name={ "event:" (event) }
                            checked[enabled.is_some_and(|e| e.iter().any(|x| x == event))];
                        " "
                        label for=(id) { code { (event) } }
                    }
                }
            }
            div.actions { button type="submit" { "Save" } }
        }
        h2 { "Retention" }
        p.muted {
            "Set when the server starts (" code { "osmosis serve" } " flags or environment); "
            "they cannot be changed here."
        }
        dl.facts {
            dt { "Logs" }
            dd {
                (days(retention.logs))
                " — external API logs, action run logs, incoming webhooks, app events, "
                "external event records and pulls ("
                code { "--api-log-retention-days" } ", " code { "OSMOSIS_API_LOG_RETENTION_DAYS" } ")"
            }
            dt { "Finished flow runs" }
            dd {
                (days(retention.flow_runs))
                " (" code { "--flow-run-retention-days" } ", " code { "OSMOSIS_FLOW_RUN_RETENTION_DAYS" } ")"
            }
        }
        h2 { "Workspace" }
        dl.facts {
            dt { "Name" } dd { (workspace.name) }
            dt { "Key" } dd { code #workspace-key { (workspace.key) } }
            dt { "Id" } dd { code { (workspace.id) } }
            @if !workspace.created_at.is_empty() {
                dt { "Created" } dd { (time(&workspace.created_at)) }
            }
            dt { "Secret" }
            dd {
                "Never shown here: it is shown once, when the workspace is created. "
                "To replace it, run "
                code { "osmosis workspace rotate-secret --key " (workspace.key) }
                " on the server; tokens signed with the old secret and console sessions "
                "opened with it stop working."
            }
        }
    };
    Ok(page(admin, Section::Settings, "Settings", content))
}

fn days(d: std::time::Duration) -> Markup {
    let days = d.as_secs() / 86_400;
    html! {
        @if days == 1 { "1 day" } @else { (days) " days" }
    }
}
