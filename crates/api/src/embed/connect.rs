//! Connect and reconnect: the SDK's `openNewConnection` and `openReconnectUI`.
//!
//! Both hand over to the connect screens (`/screens/...`) rather than being a
//! second copy of them: the page checks the token and the integration or
//! connection (so a bad link fails here, in this card), then posts itself — the
//! token in the body — to the screen `openNewConnectionV2` or the connection
//! screen's Reconnect would have opened. That screen speaks penpal with the same
//! parent (penpal answers a page's handshake again after a navigation) and its
//! result page calls `onSuccess(connection)`, which resolves the SDK's promise.
//! Without script, the Continue button does the same.

use osmosis_engine::PathSelector;
use osmosis_model::ElementType;

use super::{Answer, Ctx, Failure, CLOSE};
use crate::html::{escape, hidden_fields};

/// Posts `#embed-continue` as soon as the page has loaded.
const AUTO_SUBMIT: &str = "(function(){var f=document.getElementById('embed-continue');\
if(f){var b=document.getElementById('embed-continue-submit');if(b){b.disabled=true;b.textContent='Opening\\u2026';}\
f.setAttribute('aria-busy','true');f.submit();}})();";

/// The hand-over page: a form to `action` with `carry`, posted at once.
fn hand_over(ctx: &Ctx, title: &str, action: &str, carry: Vec<(String, String)>) -> Answer {
    let mut carry = carry;
    carry.insert(0, ("token".into(), ctx.token.clone()));
    if let Some(t) = ctx.theme() {
        carry.push(("theme".into(), t.to_owned()));
    }
    let body = format!(
        "<h1>{}</h1><form id=\"embed-continue\" method=\"post\" action=\"{}\">{}\
         <div class=\"actions\"><button type=\"submit\" id=\"embed-continue-submit\">Continue</button>{CLOSE}</div></form>",
        escape(title),
        escape(action),
        hidden_fields(&carry)
    );
    let mut a = Answer::ok(title, body);
    a.script = AUTO_SUBMIT.to_owned();
    a
}

/// `/embed/integrations/{sel}/connect?allowMultipleConnections=&name=&connectorParameters=`.
pub(super) async fn connect(ctx: &Ctx, sel: &str) -> Result<Answer, Failure> {
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
    let mut carry = Vec::new();
    for name in [
        "allowMultipleConnections",
        "name",
        "connectorParameters",
        "redirectUri",
    ] {
        if let Some(v) = ctx.field(name).filter(|v| !v.is_empty()) {
            carry.push((name.to_owned(), v.to_owned()));
        }
    }
    Ok(hand_over(
        ctx,
        &format!("Connect {}", integration.name),
        &format!("/screens/integrations/{}/connect", integration.id),
        carry,
    ))
}

/// `/embed/connections/{sel}/refresh`: reconnect the same connection.
pub(super) async fn refresh(ctx: &Ctx, sel: &str) -> Result<Answer, Failure> {
    let conn = ctx
        .state
        .engine
        .elements()
        .resolve(
            &ctx.caller,
            ElementType::Connection,
            &PathSelector::new(sel),
        )
        .await
        .map_err(|e| Failure::from_engine(e, ElementType::Connection))?;
    if conn.is_archived() {
        return Err(Failure {
            status: axum::http::StatusCode::GONE,
            message: "This connection was removed; connect again instead.".into(),
        });
    }
    let mut carry = vec![
        ("connectionId".to_owned(), conn.id.clone()),
        (
            "integrationId".to_owned(),
            conn.integration_id.clone().unwrap_or_default(),
        ),
    ];
    if let Some(k) = conn.doc_str("authOptionKey") {
        carry.push(("authOptionKey".into(), k.to_owned()));
    }
    Ok(hand_over(
        ctx,
        &format!("Reconnect {}", conn.name),
        "/screens/connect",
        carry,
    ))
}
