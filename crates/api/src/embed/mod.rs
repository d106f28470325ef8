//! The pages the SDK opens in an iframe on its `uiUri` (`/embed/...`, and the
//! same under `/isolated-embed/...`, which the SDK mounts into a DOM target of
//! the developer's choosing): connect, reconnect, the configuration of a
//! connection's instances, and read-only views of a flow and a run.
//!
//! **Who is asking.** Every page is authenticated by the `token` query parameter
//! the SDK adds (`getEmbedUri`), verified like the API's bearer token, and acts
//! as that caller through the engine's usual caller checks, so a customer sees and
//! changes only their own instances; someone else's id is the same 404 as one
//! that does not exist. Forms post back to the page's own path with the token in
//! the form body, never in a URL; the token is not logged (the request log names
//! the route template) and the responses say `Referrer-Policy: no-referrer` so
//! the page's URL, token included, goes nowhere else.
//!
//! **Admin tokens are refused** (403). These pages are shown to a developer's end
//! customer and change connection-level (customer) elements; an admin token has
//! no customer to act for, and a workspace-wide token in a browser URL is
//! exactly what should not happen. The developer opens them the way the SDK
//! does: with a customer's token.
//!
//! **Penpal.** The SDK's parent side (`openIframe`) exposes `handshake`,
//! `close`, the caller's `onClose` and, for connect and reconnect, `onSuccess`;
//! it shows "Unable to connect" when no `handshake` arrives within three seconds
//! of the iframe's load. Every page calls `handshake` once connected and its Close
//! button calls `close` (which runs `onClose` and resolves the SDK's promise).
//! Connect and reconnect hand over to the connect screens (`/screens/...`), whose
//! result page calls `onSuccess(connection)`; the configuration pages save in
//! place and stay open — the SDK's `openConfiguration` passes only `onClose`, so
//! nothing else is called.
//!
//! **What a save is.** A configuration page writes the connection-level instance
//! exactly as `PATCH /{instances}/{id}` does (`Elements::patch_element`), so the
//! layer rules are the API's: a field mapping or data source instance edited
//! this way is customised; flow parameters and a node's `userConfig` are the
//! instance's own settings. Only what the customer changed is written. Every
//! value is checked before anything is written; a bad one is named
//! (`importValue.email: is not valid JSON`) and nothing is stored.
//!
//! **Theme.** `theme=dark` as on the connect screens; the SDK's `getEmbedUri`
//! adds none, so the default is light.
//!
//! **CSP.** The connect screens set none; these pages are framed on purpose, so
//! they say `frame-ancestors *` and otherwise allow only their own inline script
//! and style (by hash), `/static/penpal.min.js`, logos over https or `data:`,
//! and forms to this origin.

mod config;
mod connect;
mod views;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use osmosis_engine::elements::{Depth, InstanceSelector};
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use crate::html;
use crate::AppState;

/// The pages, by what they show.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Main,
    Integration,
    Connect,
    Refresh,
    FlowConfiguration,
    FlowEditor,
    RunEditor,
    DataSourceConfiguration,
    FieldMappingConfiguration,
    ActionConfiguration,
}

pub(crate) fn router() -> Router<AppState> {
    let mut r = Router::new();
    for prefix in ["/embed", "/isolated-embed"] {
        r = r.route(
            &format!("{prefix}/main"),
            get(|s, u, h, q| handle(s, Kind::Main, None, u, h, q, None)),
        );
        let with_id = [
            ("integrations/{sel}", Kind::Integration),
            ("integrations/{sel}/connect", Kind::Connect),
            ("connections/{sel}/refresh", Kind::Refresh),
            (
                "flow-instances/{sel}/configuration",
                Kind::FlowConfiguration,
            ),
            ("flow-instances/{sel}/editor", Kind::FlowEditor),
            ("flow-runs/{sel}/editor", Kind::RunEditor),
            (
                "data-source-instances/{sel}/configuration",
                Kind::DataSourceConfiguration,
            ),
            (
                "field-mapping-instances/{sel}/configuration",
                Kind::FieldMappingConfiguration,
            ),
            (
                "action-instances/{sel}/configuration",
                Kind::ActionConfiguration,
            ),
        ];
        for (path, kind) in with_id {
            r = r.route(
                &format!("{prefix}/{path}"),
                get(move |s, Path(sel): Path<String>, u, h, q| {
                    handle(s, kind, Some(sel), u, h, q, None)
                })
                .post(move |s, Path(sel): Path<String>, u, h, q, body: Bytes| {
                    handle(s, kind, Some(sel), u, h, q, Some(body))
                }),
            );
        }
    }
    r
}

/// One request to a page: who asks, what they sent, how to answer.
pub(super) struct Ctx {
    state: AppState,
    caller: Caller,
    token: String,
    theme: Option<String>,
    /// The query's fields, then the form's (a form's value wins, see [`Ctx::field`]).
    fields: Vec<(String, String)>,
    /// The page's own path, without its query: where its forms post.
    path: String,
    reference: Option<String>,
    /// A form was posted (a save), not a page opened.
    posted: bool,
}

impl Ctx {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn theme(&self) -> Option<&str> {
        self.theme.as_deref()
    }

    /// The hidden fields every form of a page carries: the token (in the body,
    /// never the action URL), the theme, and the page's own options.
    fn carry(&self, extra: &[&str]) -> String {
        let mut carry = vec![("token".to_owned(), self.token.clone())];
        if let Some(t) = &self.theme {
            carry.push(("theme".into(), t.clone()));
        }
        for name in extra {
            if let Some(v) = self.field(name).filter(|v| !v.is_empty()) {
                carry.push(((*name).to_owned(), v.to_owned()));
            }
        }
        html::hidden_fields(&carry)
    }

    /// `el` as the API renders it (inherited fields resolved).
    async fn render(&self, el: &Element) -> Result<Value, ApiError> {
        self.state
            .engine
            .elements()
            .render(&self.caller, el, Depth::Full)
            .await
    }

    /// The caller's instance `id` of type `t`, refusing an archived one.
    async fn instance(&self, t: ElementType, id: &str) -> Result<Element, Failure> {
        let el = self
            .state
            .engine
            .elements()
            .resolve_instance(
                &self.caller,
                t,
                &InstanceSelector {
                    id: Some(id.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Failure::from_engine(e, t))?;
        if el.is_archived() {
            return Err(Failure {
                status: StatusCode::GONE,
                message: format!("This {} was removed and can no longer be changed.", what(t)),
            });
        }
        Ok(el)
    }
}

/// What a page shows.
pub(super) struct Answer {
    status: StatusCode,
    title: String,
    body: String,
    wide: bool,
    script: String,
}

impl Answer {
    fn ok(title: impl Into<String>, body: String) -> Self {
        Answer {
            status: StatusCode::OK,
            title: title.into(),
            body,
            wide: false,
            script: String::new(),
        }
    }

    fn wide(mut self) -> Self {
        self.wide = true;
        self
    }

    fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

/// A page that cannot be shown: its status and the customer's sentence.
pub(super) struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    /// An engine error as the customer reads it: not-found and access errors in
    /// plain words (someone else's element is "not found" too), a validation
    /// error as it is, since it names the field.
    fn from_engine(e: ApiError, t: ElementType) -> Self {
        let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let message = match status {
            StatusCode::NOT_FOUND => format!(
                "This {} could not be found. It may have been removed, or the link is for another account.",
                what(t)
            ),
            StatusCode::UNAUTHORIZED => EXPIRED.to_owned(),
            StatusCode::FORBIDDEN => "You do not have access to this page.".to_owned(),
            _ => e.message,
        };
        Failure { status, message }
    }
}

const EXPIRED: &str =
    "This link has expired or is not valid. Close this window and open it again from the app.";

/// How the customer calls an element type.
fn what(t: ElementType) -> &'static str {
    match t {
        ElementType::FieldMappingInstance => "field mapping",
        ElementType::FlowInstance => "flow",
        ElementType::DataSourceInstance => "data source",
        ElementType::ActionInstance => "action",
        ElementType::Connection => "connection",
        ElementType::Integration => "integration",
        _ => "item",
    }
}

/// The Close button every page ends with (penpal `close`, see `html.rs`).
pub(super) const CLOSE: &str =
    "<button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>";

#[allow(clippy::too_many_arguments)]
async fn handle(
    State(state): State<AppState>,
    kind: Kind,
    sel: Option<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Option<Bytes>,
) -> Response {
    let reference = headers
        .get(crate::request_span::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut fields: Vec<(String, String)> =
        form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let posted = body.is_some();
    if let Some(b) = &body {
        fields.extend(form_urlencoded::parse(b).into_owned());
    }
    let field = |name: &str| {
        fields
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Only the themes the card has; anything else is the default.
    let theme = field("theme").filter(|t| t == "dark" || t == "light");
    let token = field("token").unwrap_or_default();
    let fail = |f: Failure| {
        let body = format!(
            "<h1>Cannot open this page</h1>{}<div class=\"actions\">{CLOSE}</div>",
            html::embed_error(&f.message, reference.as_deref())
        );
        respond(
            theme.as_deref(),
            Answer::ok("Cannot open this page", body).status(f.status),
        )
    };
    let caller = match state.authenticate(&token).await {
        Ok(c) => c,
        Err(e) => {
            return fail(Failure {
                status: StatusCode::from_u16(e.0.http_status()).unwrap_or(StatusCode::UNAUTHORIZED),
                message: EXPIRED.to_owned(),
            })
        }
    };
    if caller.is_admin() {
        return fail(Failure {
            status: StatusCode::FORBIDDEN,
            message: "This page is opened for one of the app's customers, with their token; \
                      a workspace admin token cannot open it."
                .to_owned(),
        });
    }
    let ctx = Ctx {
        state,
        caller,
        token,
        theme: theme.clone(),
        fields,
        path: uri.path().to_owned(),
        reference: reference.clone(),
        posted,
    };
    let sel = sel.unwrap_or_default();
    let answer = match kind {
        Kind::Main => views::main(&ctx).await,
        Kind::Integration => views::integration(&ctx, &sel).await,
        Kind::Connect => connect::connect(&ctx, &sel).await,
        Kind::Refresh => connect::refresh(&ctx, &sel).await,
        Kind::FlowConfiguration => config::flow(&ctx, &sel).await,
        Kind::FlowEditor => views::flow_editor(&ctx, &sel).await,
        Kind::RunEditor => views::run_editor(&ctx, &sel).await,
        Kind::DataSourceConfiguration => config::data_source(&ctx, &sel).await,
        Kind::FieldMappingConfiguration => config::field_mapping(&ctx, &sel).await,
        Kind::ActionConfiguration => config::action(&ctx, &sel).await,
    };
    match answer {
        Ok(a) => respond(ctx.theme(), a),
        Err(f) => fail(f),
    }
}

fn respond(theme: Option<&str>, a: Answer) -> Response {
    let (page, inline) = html::embed_page(&a.title, theme, a.wide, &a.body, &a.script);
    let csp = format!(
        "default-src 'none'; script-src 'self' 'sha256-{}'; style-src 'sha256-{}'; \
         img-src https: data:; form-action 'self'; frame-ancestors *; base-uri 'none'",
        sha256_base64(&inline[0]),
        sha256_base64(&inline[1])
    );
    let mut response = (a.status, page).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The CSP source of an inline block: its SHA-256, base64.
fn sha256_base64(text: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(44);
    for chunk in digest.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A value as the text a customer edits: JSON, or nothing for no value.
pub(super) fn json_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(v) => v.to_string(),
    }
}

/// The text of a JSON input: `None` when empty (no value), else the value or
/// the error naming `name`.
pub(super) fn parse_json(name: &str, text: &str) -> Result<Option<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| format!("{name}: is not valid JSON ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hash_is_base64_sha256() {
        // echo -n "alert(1)" | openssl dgst -sha256 -binary | base64
        assert_eq!(
            sha256_base64("alert(1)"),
            "bhHHL3z2vDgxUt0W3dWQOrprscmda2Y5pLsLg4GF+pI="
        );
    }

    #[test]
    fn json_inputs_name_the_field() {
        assert_eq!(parse_json("x", "  "), Ok(None));
        assert_eq!(
            parse_json("x", "{\"a\":1}"),
            Ok(Some(serde_json::json!({"a": 1})))
        );
        assert!(parse_json("importValue.email", "{nope")
            .unwrap_err()
            .starts_with("importValue.email: is not valid JSON"));
    }
}
