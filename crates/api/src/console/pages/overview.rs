//! `/console`: the workspace at a glance.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use maud::html;

use crate::console::layout::{badge, empty, link, page, time, Page, Section};
use crate::console::session::ConsoleAdmin;
use crate::AppState;

pub(super) fn routes(router: Router<AppState>) -> Router<AppState> {
    router.route("/console", get(overview))
}

async fn overview(State(state): State<AppState>, admin: ConsoleAdmin) -> Page {
    let o = state.engine.overview(&admin.caller).await?;
    let recent_total: i64 = o.recent_runs.iter().map(|(_, n)| n).sum();
    let recent_failed: i64 = o
        .recent_runs
        .iter()
        .filter(|(s, _)| s == "failed")
        .map(|(_, n)| n)
        .sum();
    let content = html! {
        section.cards aria-label="Counts" {
            a.card href="/console/integrations" { span.number { (o.integrations) } span.label { "Integrations" } }
            a.card href="/console/customers" { span.number { (o.customers) } span.label { "Customers" } }
            a.card href="/console/connections" {
                span.number { (o.connections) }
                span.label { "Connections, " (o.connections - o.disconnected) " healthy" }
            }
            a.card href=(link("/console/connections", &[("state", "disconnected")])) {
                span.number { (o.disconnected) } span.label { "Needing reconnect" }
            }
            a.card href="/console/flow-runs" {
                span.number { (recent_total) } span.label { "Flow runs in the last 24 h" }
            }
            a.card href=(link("/console/flow-runs", &[("state", "failed")])) {
                span.number { (recent_failed) } span.label { "Failed in the last 24 h" }
            }
        }
        h2 { "Runs in the last 24 hours" }
        @if o.recent_runs.is_empty() {
            (empty("No flow runs in the last 24 hours."))
        } @else {
            table {
                thead { tr { th scope="col" { "State" } th scope="col" { "Runs" } } }
                tbody {
                    @for (s, n) in &o.recent_runs {
                        tr {
                            td { a href=(link("/console/flow-runs", &[("state", s)])) { (badge(s)) } }
                            td { (n) }
                        }
                    }
                }
            }
        }
        h2 { "Recent errors" }
        @if o.recent_failures.is_empty() {
            (empty("No failed flow runs."))
        } @else {
            table {
                thead { tr { th scope="col" { "Run" } th scope="col" { "Flow" } th scope="col" { "Error" } th scope="col" { "Started" } } }
                tbody {
                    @for run in &o.recent_failures {
                        @let id = run["id"].as_str().unwrap_or_default();
                        tr {
                            td { a href={ "/console/flow-runs/" (crate::console::layout::segment(id)) } { code { (id) } } }
                            td { (run["name"].as_str().or(run["flowInstanceId"].as_str()).unwrap_or("")) }
                            td { (run["errors"][0]["message"].as_str().or(run["error"]["message"].as_str()).unwrap_or("")) }
                            td { @if let Some(t) = run["startTime"].as_str() { (time(t)) } }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&admin, Section::Overview, "Overview", content))
}
