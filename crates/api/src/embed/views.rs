//! The pages that show rather than edit: the customer's integrations
//! (`/embed/main`), one integration (`/embed/integrations/{id}`), and the flow
//! and run "editors", which here are read-only views of a flow instance's steps
//! and of a run's progress — editing a flow's graph is a developer's job, done in
//! the console or the API; a customer configures a flow on its configuration page,
//! which the flow view links to.
//!
//! Connecting from these pages posts to the connect screens with the token in
//! the form body, as the SDK's `openNewConnectionV2` does.

use osmosis_engine::{ListQuery, PathSelector};
use osmosis_model::{Element, ElementType};
use serde_json::Value;

use super::{Answer, Ctx, Failure, CLOSE};
use crate::html::{escape, hidden_fields};

/// The customer's live connections, by integration id.
async fn connections(ctx: &Ctx) -> Result<Vec<Element>, Failure> {
    let page = ctx
        .state
        .engine
        .elements()
        .list(&ctx.caller, ElementType::Connection, &ListQuery::default())
        .await
        .map_err(|e| Failure::from_engine(e, ElementType::Connection))?;
    Ok(page
        .items
        .into_iter()
        .filter(|c| !c.is_archived())
        .collect())
}

/// One integration's line: its name, whether the customer is connected, and a
/// Connect (or Reconnect) button posting to the connect screens.
fn integration_item(ctx: &Ctx, integration: &Element, connection: Option<&Element>) -> String {
    let mut carry = vec![("token".to_owned(), ctx.token.clone())];
    if let Some(t) = ctx.theme() {
        carry.push(("theme".into(), t.to_owned()));
    }
    let (status, action, label) = match connection {
        Some(c) if c.doc_bool("connected") && !c.doc_bool("isDefunct") => {
            carry.push(("connectionId".into(), c.id.clone()));
            carry.push(("integrationId".into(), integration.id.clone()));
            ("Connected", "/screens/connect".to_owned(), "Reconnect")
        }
        Some(c) => {
            carry.push(("connectionId".into(), c.id.clone()));
            carry.push(("integrationId".into(), integration.id.clone()));
            ("Disconnected", "/screens/connect".to_owned(), "Reconnect")
        }
        None => (
            "Not connected",
            format!("/screens/integrations/{}/connect", integration.id),
            "Connect",
        ),
    };
    format!(
        "<li data-integration=\"{}\"><strong>{}</strong> — <span class=\"embed-status\">{status}</span>\
         <form method=\"post\" action=\"{}\">{}<button type=\"submit\" class=\"secondary\" aria-label=\"{label} {}\">{label}</button></form></li>",
        escape(&integration.id),
        escape(&integration.name),
        escape(&action),
        hidden_fields(&carry),
        escape(&integration.name),
    )
}

/// `/embed/main`: every integration the customer can connect to.
pub(super) async fn main(ctx: &Ctx) -> Result<Answer, Failure> {
    let integrations = ctx
        .state
        .engine
        .elements()
        .list(&ctx.caller, ElementType::Integration, &ListQuery::default())
        .await
        .map_err(|e| Failure::from_engine(e, ElementType::Integration))?;
    let connections = connections(ctx).await?;
    let items: String = integrations
        .items
        .iter()
        .filter(|i| !i.is_archived())
        .map(|i| {
            let c = connections
                .iter()
                .find(|c| c.integration_id.as_deref() == Some(i.id.as_str()));
            integration_item(ctx, i, c)
        })
        .collect();
    let list = if items.is_empty() {
        "<p class=\"help\">There are no integrations yet.</p>".to_owned()
    } else {
        format!("<ul class=\"list\" id=\"embed-integrations\">{items}</ul>")
    };
    Ok(Answer::ok(
        "Integrations",
        format!("<h1>Integrations</h1>{list}<div class=\"actions\">{CLOSE}</div>"),
    ))
}

/// `/embed/integrations/{id}`: one integration and the customer's connection.
pub(super) async fn integration(ctx: &Ctx, sel: &str) -> Result<Answer, Failure> {
    let integration = ctx
        .state
        .engine
        .elements()
        .resolve(
            &ctx.caller,
            ElementType::Integration,
            &PathSelector::new(sel),
        )
        .await
        .map_err(|e| Failure::from_engine(e, ElementType::Integration))?;
    let connections = connections(ctx).await?;
    let c = connections
        .iter()
        .find(|c| c.integration_id.as_deref() == Some(integration.id.as_str()));
    Ok(Answer::ok(
        integration.name.clone(),
        format!(
            "<h1>{}</h1><ul class=\"list\">{}</ul><div class=\"actions\">{CLOSE}</div>",
            escape(&integration.name),
            integration_item(ctx, &integration, c)
        ),
    ))
}

/// `/embed/flow-instances/{id}/editor`: the instance's steps, read-only.
pub(super) async fn flow_editor(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let t = ElementType::FlowInstance;
    let el = ctx.instance(t, id).await?;
    let view = ctx
        .render(&el)
        .await
        .map_err(|e| Failure::from_engine(e, t))?;
    let rows: String = view["nodes"]
        .as_object()
        .map(|nodes| {
            nodes
                .iter()
                .map(|(k, n)| {
                    let next = n["links"]
                        .as_array()
                        .map(|l| {
                            l.iter()
                                .filter_map(|x| x["key"].as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    format!(
                        "<tr data-node=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                        escape(k),
                        escape(n["name"].as_str().unwrap_or(k)),
                        escape(n["type"].as_str().unwrap_or_default()),
                        escape(&next)
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let enabled = view["enabled"] != Value::Bool(false);
    let configure = format!(
        "<form method=\"post\" action=\"{}\">{}<button type=\"submit\" class=\"secondary\">Configure</button></form>",
        escape(&ctx.path.replace("/editor", "/configuration")),
        ctx.carry(&[])
    );
    let body = format!(
        "<h1>{}</h1><p id=\"embed-flow-enabled\" data-enabled=\"{enabled}\">{}</p>\
         <table><caption class=\"sr-only\">Steps</caption><thead><tr><th scope=\"col\">Step</th><th scope=\"col\">Type</th><th scope=\"col\">Then</th></tr></thead>\
         <tbody>{rows}</tbody></table><p class=\"help\">This view is read-only.</p>\
         <div class=\"actions\">{configure}{CLOSE}</div>",
        escape(&el.name),
        if enabled { "Enabled" } else { "Disabled" }
    );
    Ok(Answer::ok(el.name.clone(), body).wide())
}

/// `/embed/flow-runs/{id}/editor`: a run's state and its steps, read-only.
pub(super) async fn run_editor(ctx: &Ctx, id: &str) -> Result<Answer, Failure> {
    let run = ctx
        .state
        .engine
        .flows()
        .get(&ctx.caller, id, None)
        .await
        .map_err(|e| Failure::from_engine(e, ElementType::FlowInstance))?;
    let mut facts = String::new();
    for (label, field) in [
        ("State", "state"),
        ("Started", "startTime"),
        ("Ended", "endTime"),
        ("Flow", "name"),
    ] {
        if let Some(v) = run[field].as_str() {
            facts.push_str(&format!(
                "<tr><th scope=\"row\">{label}</th><td data-field=\"{field}\">{}</td></tr>",
                escape(v)
            ));
        }
    }
    let nodes: String = run["nodes"]
        .as_object()
        .map(|nodes| {
            nodes
                .iter()
                .map(|(k, n)| {
                    format!(
                        "<tr data-node=\"{}\"><td>{}</td><td>{}</td></tr>",
                        escape(k),
                        escape(k),
                        escape(n["state"].as_str().unwrap_or_default())
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let steps = if nodes.is_empty() {
        String::new()
    } else {
        format!(
            "<table><caption class=\"sr-only\">Steps</caption><thead><tr><th scope=\"col\">Step</th><th scope=\"col\">State</th></tr></thead><tbody>{nodes}</tbody></table>"
        )
    };
    let body = format!(
        "<h1>Flow run</h1><table><caption class=\"sr-only\">Run</caption><tbody>{facts}</tbody></table>{steps}\
         <p class=\"help\">This view is read-only.</p><div class=\"actions\">{CLOSE}</div>"
    );
    Ok(Answer::ok("Flow run", body).wide())
}
