//! The connect flow as a browser sees it (docs/spec/api-surface.md §2.21, §7.3): auth options,
//! `POST /connect` with its `payload`, the hosted screens, the OAuth callback, the
//! SSE channel the SDK listens on, and the penpal script the pages load.
//!
//! Every page here is read by the developer's end customer. A failure shows the
//! customer's sentence (`customer_errors`) with the request id as a reference;
//! the technical message is logged at warn (with the request id) and, for the
//! developer, travels in the result event's `errorData.data.detail` (penpal,
//! `postMessage`, SSE, `redirectUri`). An integration whose required connector
//! parameters are unset shows "not set up yet — contact <workspace>" on every
//! screen instead of a form.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::connect::customer_errors::{self, Audience};
use osmosis_engine::connect::oauth_session::{ConnectRequest, ConnectStep, Delivery, Target};
use osmosis_engine::elements::Depth;
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element, ErrorType};
use serde_json::{json, Map, Value};

use super::Routes;
use crate::auth::{Auth, QueryTokenAuth};
use crate::body::JsonBody;
use crate::error::ApiResult;
use crate::html;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/connection-options", post(options))
        .route("/connect", post(connect))
        .route("/connection-popup", get(connection_popup))
        .route("/oauth-callback", get(callback))
        .route("/sse/connection-events/{request_id}", get(events))
        .route("/screens/connect", post(screen_post).get(screen_get))
        .route(
            "/screens/integrations/{integration}/connect",
            post(integration_screen),
        )
        .route(
            "/screens/connection",
            post(connection_screen_post).get(connection_screen_get),
        )
        .route("/static/penpal.min.js", get(penpal))
        .route("/connection-requests", post(create_request))
        .route("/connection-requests/{request_id}", get(get_request))
        .route("/screens/connections", get(request_screen))
}

async fn penpal() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        html::PENPAL_JS,
    )
        .into_response()
}

/// `POST /connection-options`: the auth options the SDK picks a window type from.
async fn options(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Vec<Value>>> {
    let request = ConnectRequest::from_payload(&body.unwrap_or_else(|| json!({})))?;
    Ok(Json(
        state
            .engine
            .connect()
            .connection_options(&caller, &request)
            .await?,
    ))
}

/// Form fields in order (urlencoded body or query string).
fn form_fields(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// How a connect page is shown: its theme, and the request's id, shown beside an
/// error for the customer to quote.
#[derive(Clone, Copy, Default)]
struct Page<'a> {
    theme: Option<&'a str>,
    reference: Option<&'a str>,
    /// The caller's workspace name, shown on the connect screen once known.
    workspace: Option<&'a str>,
}

/// The request's `x-request-id` (set by `request_span` when the client sent none).
fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(crate::request_span::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `e` as the customer is shown it: their sentence, the technical message kept in
/// `data.detail` for the developer. The technical error is logged at warn with the
/// request id, so whoever the customer tells can find it.
fn for_customer(
    e: &ApiError,
    caller: Option<&Caller>,
    app: Option<&str>,
    page: Page,
    stage: &'static str,
) -> ApiError {
    tracing::warn!(
        request_id = page.reference.unwrap_or_default(),
        workspace = caller.map(|c| c.workspace.key.as_str()),
        customer_id = caller.and_then(|c| c.customer_id.as_deref()),
        stage,
        error_type = ?e.error_type,
        error_key = e.key.as_deref(),
        detail = %e.message,
        "connect screen: the customer was shown a failure"
    );
    customer_errors::for_customer(
        e,
        &Audience {
            workspace: caller.map(|c| c.workspace.name.as_str()),
            app,
        },
    )
}

/// `POST /connect` with the `payload` field: connects at once when nothing is
/// missing, asks for the input the option needs, or sends the browser to OAuth.
async fn connect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let page = Page {
        theme: None,
        reference: rid.as_deref(),
        workspace: None,
    };
    let fields = form_fields(&body);
    let payload = field(&fields, "payload")
        .map(serde_json::from_str::<Value>)
        .unwrap_or(Ok(Value::Null));
    match payload {
        Ok(Value::Object(p)) => connect_payload(state, p, page).await,
        _ => {
            let e = ApiError::invalid_field("payload", "must be a JSON object");
            finish(&state, None, &ConnectRequest::default(), Err(e), page, None).await
        }
    }
}

/// `GET /connection-popup?…`: the old name of `/connect`, with the payload's fields
/// in the query string (objects such as `input` as JSON).
async fn connection_popup(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rid = request_id(&headers);
    let payload = form_fields(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let page = Page {
        theme: None,
        reference: rid.as_deref(),
        workspace: None,
    };
    connect_payload(state, payload, page).await
}

/// The connect of a `/connect` payload. An integration that is not set up ends
/// it at once (the SDK hears `newConnectionFailure` with the `configuration`
/// error), before any form.
async fn connect_payload(state: AppState, payload: Map<String, Value>, page: Page<'_>) -> Response {
    let request =
        ConnectRequest::from_payload(&Value::Object(payload.clone())).unwrap_or_else(|_| {
            ConnectRequest {
                request_id: payload
                    .get("requestId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ..Default::default()
            }
        });
    let token = payload
        .get("token")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let caller = match state.authenticate(&token).await {
        Ok(c) => c,
        Err(e) => return finish(&state, None, &request, Err(e.0), page, None).await,
    };
    let request = match ConnectRequest::from_payload(&Value::Object(payload)) {
        Ok(r) => r,
        Err(e) => return finish(&state, Some(&caller), &request, Err(e), page, None).await,
    };
    let target = match state
        .engine
        .connect()
        .connect_target(&caller, &request)
        .await
    {
        Ok(t) => t,
        Err(e) => return finish(&state, Some(&caller), &request, Err(e), page, None).await,
    };
    let app = Some(target.integration.name.as_str());
    if let Some(e) = target.not_set_up() {
        return finish(&state, Some(&caller), &request, Err(e), page, app).await;
    }
    if needs_input(&target, &request) {
        let carry = carry_fields(&token, &request, &target, Delivery::Message, None);
        let input = request
            .input
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        return form_page(&target, &carry, &input, None, page);
    }
    run_connect(&state, &caller, &request, Delivery::Message, page, app).await
}

/// Whether the option asks for input the request lacks (OAuth options take theirs
/// on the provider's pages).
fn needs_input(target: &Target, request: &ConnectRequest) -> bool {
    let Some(schema) = target.input_schema() else {
        return false;
    };
    let given = request.input.as_ref().and_then(Value::as_object);
    schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|req| {
            req.iter().filter_map(Value::as_str).any(|f| {
                given
                    .and_then(|g| g.get(f))
                    .is_none_or(|v| v.is_null() || v.as_str() == Some(""))
            })
        })
}

/// Starts the connect and answers what comes of it: a redirect to the provider,
/// or the result page.
async fn run_connect(
    state: &AppState,
    caller: &Caller,
    request: &ConnectRequest,
    delivery: Delivery,
    page: Page<'_>,
    app: Option<&str>,
) -> Response {
    match state
        .engine
        .connect()
        .start_connect(caller, request, delivery)
        .await
    {
        Ok(ConnectStep::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(ConnectStep::Connected(conn)) => {
            finish(state, Some(caller), request, Ok(*conn), page, app).await
        }
        Err(e) => finish(state, Some(caller), request, Err(e), page, app).await,
    }
}

/// Ends a connect: publishes the result for SSE, then redirects to `redirectUri`
/// or renders the page that messages the SDK. A failure's `error` is the
/// customer's sentence and its `errorData` the error with the technical message
/// in `data.detail` (a connection request records the technical error itself).
/// `app` names the integration when the caller knows it.
async fn finish(
    state: &AppState,
    caller: Option<&Caller>,
    request: &ConnectRequest,
    result: Result<Element, ApiError>,
    page: Page<'_>,
    app: Option<&str>,
) -> Response {
    if let Some(c) = caller {
        settle_request(state, c, request, result.as_ref()).await;
    }
    let mut event = json!({"source": "integration.app"});
    if let Some(rid) = &request.request_id {
        event["requestId"] = json!(rid);
    }
    match result {
        Ok(conn) => {
            let rendered = match caller {
                Some(c) => state
                    .engine
                    .elements()
                    .render(c, &conn, Depth::Full)
                    .await
                    .ok(),
                None => None,
            };
            event["type"] = json!("newConnectionCreated");
            event["connection"] = rendered.unwrap_or_else(|| json!({"id": conn.id}));
            event["connectionId"] = json!(conn.id);
        }
        Err(e) => {
            let app = match (app, caller) {
                (Some(app), _) => Some(app.to_owned()),
                (None, Some(c)) => state
                    .engine
                    .connect()
                    .connect_target(c, request)
                    .await
                    .ok()
                    .map(|t| t.integration.name),
                (None, None) => None,
            };
            let shown = for_customer(&e, caller, app.as_deref(), page, "finish");
            event["type"] = json!("newConnectionFailure");
            event["error"] = json!(shown.message);
            event["errorData"] = serde_json::to_value(&shown).unwrap_or(Value::Null);
            if let Some(id) = &request.connection_id {
                event["connectionId"] = json!(id);
            }
        }
    }
    if let (Some(c), Some(rid)) = (caller, &request.request_id) {
        if let Err(e) = state
            .engine
            .connect()
            .publish_connect_result(c, rid, &event)
            .await
        {
            tracing::warn!(error = %e.message, "could not publish a connect result");
        }
    }
    if let Some(uri) = &request.redirect_uri {
        if let Ok(mut url) = url::Url::parse(uri) {
            {
                let mut q = url.query_pairs_mut();
                match event["connectionId"].as_str() {
                    Some(id) if event["type"] == "newConnectionCreated" => {
                        q.append_pair("connectionId", id);
                    }
                    _ => {
                        q.append_pair("error", event["error"].as_str().unwrap_or(""));
                        q.append_pair("errorData", &event["errorData"].to_string());
                    }
                }
            }
            return Redirect::to(url.as_str()).into_response();
        }
    }
    let status = if event["type"] == "newConnectionCreated" {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    (
        status,
        Html(html::connect_result(&event, page.theme, page.reference)),
    )
        .into_response()
}

/// Records how a connect made for a connection request ended, when it was one. The
/// connect itself already happened or failed; a failure to record is logged.
async fn settle_request(
    state: &AppState,
    caller: &Caller,
    request: &ConnectRequest,
    result: Result<&Element, &ApiError>,
) {
    if let Some(id) = &request.connection_request_id {
        if let Err(e) = state
            .engine
            .connect()
            .settle_connection_request(caller, id, result)
            .await
        {
            tracing::warn!(error = %e.message, "could not record a connection request's outcome");
        }
    }
}

/// `GET /oauth-callback`: the provider sends the browser back here.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rid = request_id(&headers);
    let params: Map<String, Value> = form_fields(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let outcome = state.engine.connect().finish_oauth(&params).await;
    let page = Page {
        theme: None,
        reference: rid.as_deref(),
        workspace: None,
    };
    finish(
        &state,
        outcome.caller.as_ref(),
        &outcome.request,
        outcome.result,
        page,
        None,
    )
    .await
}

/// `GET /sse/connection-events/{requestId}?token=`: one `data:` event with the
/// result once it exists. Results are in the database, so the flow may finish on
/// any node; this checks for it every quarter second for up to ten minutes. An
/// `EventSource` cannot send headers, so this one route takes `?token=`.
async fn events(
    State(state): State<AppState>,
    QueryTokenAuth(caller): QueryTokenAuth,
    Path(request_id): Path<String>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let stream = futures_util::stream::unfold(Some(0u32), move |round| {
        let state = state.clone();
        let caller = caller.clone();
        let request_id = request_id.clone();
        async move {
            let mut round = round?;
            loop {
                if round >= 2400 {
                    return None;
                }
                if let Ok(Some(event)) = state
                    .engine
                    .connect()
                    .connect_result(&caller, &request_id)
                    .await
                {
                    return Some((Ok(Event::default().data(event.to_string())), None));
                }
                round += 1;
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The hidden fields a screen carries from step to step.
fn carry_fields(
    token: &str,
    request: &ConnectRequest,
    target: &Target,
    delivery: Delivery,
    theme: Option<&str>,
) -> Vec<(String, String)> {
    let mut carry = vec![
        ("token".to_owned(), token.to_owned()),
        ("integrationId".to_owned(), target.integration.id.clone()),
        (
            "delivery".to_owned(),
            match delivery {
                Delivery::Message => "message",
                Delivery::Screen => "screen",
            }
            .to_owned(),
        ),
        (
            "allowMultipleConnections".to_owned(),
            if request.allow_multiple_connections {
                "1"
            } else {
                ""
            }
            .to_owned(),
        ),
    ];
    if !target.option_key.is_empty() {
        carry.push(("authOptionKey".into(), target.option_key.clone()));
    }
    let optional = [
        ("connectionId", &request.connection_id),
        ("connectionKey", &request.connection_key),
        ("name", &request.name),
        ("requestId", &request.request_id),
        ("redirectUri", &request.redirect_uri),
        ("connectionRequestId", &request.connection_request_id),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            carry.push((k.to_owned(), v.clone()));
        }
    }
    if let Some(p) = &request.connector_parameters {
        carry.push(("connectorParameters".into(), p.to_string()));
    }
    if let Some(t) = theme {
        carry.push(("theme".into(), t.to_owned()));
    }
    carry
}

/// The logo the connect screen shows: the integration's `logoUri`, else its
/// connector's.
fn logo_uri(target: &Target) -> Option<&str> {
    target
        .integration
        .doc_str("logoUri")
        .filter(|u| !u.trim().is_empty())
        .or_else(|| target.connector.raw.get("logoUri").and_then(Value::as_str))
        .filter(|u| !u.trim().is_empty())
}

/// The connect form; `error` is the customer's sentence for a failed attempt.
fn form_page(
    target: &Target,
    carry: &[(String, String)],
    input: &Map<String, Value>,
    error: Option<&str>,
    page: Page,
) -> Response {
    let title = format!("Connect {}", target.integration.name);
    let label = if target.is_oauth() {
        format!("Continue to {}", target.integration.name)
    } else {
        "Connect".to_owned()
    };
    let html = html::connect_screen(&html::ConnectScreen {
        title: &title,
        theme: page.theme,
        app_name: &target.integration.name,
        logo_uri: logo_uri(target),
        workspace_name: page.workspace,
        carry,
        options: None,
        input_schema: target.input_schema(),
        input,
        submit_label: &label,
        error,
        reference: page.reference,
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Html(html)).into_response()
}

/// The screen of an integration nobody can connect through yet: the customer is
/// told whom to contact, the developer's error (`e`, naming the parameters) goes
/// to the log.
fn not_set_up_page(target: &Target, caller: &Caller, e: &ApiError, page: Page) -> Response {
    let shown = for_customer(
        e,
        Some(caller),
        Some(&target.integration.name),
        page,
        "screen",
    );
    let title = format!("Connect {}", target.integration.name);
    (
        StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        Html(html::not_set_up(
            &title,
            &shown.message,
            page.theme,
            page.reference,
        )),
    )
        .into_response()
}

/// The connect screen, from a form post or a query string. `rid` is the request's
/// id.
async fn screen(state: AppState, fields: Vec<(String, String)>, rid: Option<String>) -> Response {
    let theme = field(&fields, "theme").map(str::to_owned);
    let page = Page {
        theme: theme.as_deref(),
        reference: rid.as_deref(),
        workspace: None,
    };
    let token = field(&fields, "token").unwrap_or("").to_owned();
    let caller = match state.authenticate(&token).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.0, None, page),
    };
    let page = Page {
        workspace: Some(caller.workspace.name.as_str()),
        ..page
    };
    let delivery = match field(&fields, "delivery") {
        Some("message") => Delivery::Message,
        _ => Delivery::Screen,
    };
    let mut map = Map::new();
    let mut input = Map::new();
    for (k, v) in &fields {
        if let Some(name) = k.strip_prefix("input.") {
            input.insert(name.to_owned(), Value::String(v.clone()));
        } else if !matches!(
            k.as_str(),
            "token" | "theme" | "step" | "delivery" | "intent"
        ) {
            map.insert(k.clone(), Value::String(v.clone()));
        }
    }
    let request = match ConnectRequest::from_payload(&Value::Object(map)) {
        Ok(r) => r,
        Err(e) => return error_page(&e, Some(&caller), page),
    };
    let chosen = request.auth_option_key.is_some();
    let connect = state.engine.connect();
    let target = match connect.connect_target(&caller, &request).await {
        Ok(t) => t,
        Err(e) => return error_page(&e, Some(&caller), page),
    };
    let carry = carry_fields(&token, &request, &target, delivery, page.theme);
    if !chosen && target.connector.options.len() > 1 {
        // Only the options the customer can connect with now are offered.
        let options = connect.ready_options(&target, &request);
        if options.is_empty() {
            let e = target
                .not_set_up()
                .unwrap_or_else(|| ApiError::configuration("no auth option can be connected"));
            settle_request(&state, &caller, &request, Err(&e)).await;
            return not_set_up_page(&target, &caller, &e, page);
        }
        let carry: Vec<_> = carry
            .into_iter()
            .filter(|(k, _)| k != "authOptionKey")
            .collect();
        let title = format!("Connect {}", target.integration.name);
        let options = options
            .into_iter()
            .map(|(key, title)| {
                let description = target
                    .connector
                    .options
                    .get(&key)
                    .and_then(|o| o.description.clone());
                (key, title, description)
            })
            .collect();
        return Html(html::connect_screen(&html::ConnectScreen {
            title: &title,
            theme: page.theme,
            app_name: &target.integration.name,
            logo_uri: logo_uri(&target),
            workspace_name: page.workspace,
            carry: &carry,
            options: Some(options),
            input_schema: None,
            input: &Map::new(),
            submit_label: "",
            error: None,
            reference: None,
        }))
        .into_response();
    }
    if let Some(e) = target.not_set_up() {
        settle_request(&state, &caller, &request, Err(&e)).await;
        return not_set_up_page(&target, &caller, &e, page);
    }
    if field(&fields, "step") != Some("submit") {
        return form_page(&target, &carry, &input, None, page);
    }
    let input = typed_input(target.input_schema(), input);
    let request = ConnectRequest {
        input: Some(Value::Object(input.clone())),
        ..request
    };
    let app = Some(target.integration.name.as_str());
    match connect.start_connect(&caller, &request, delivery).await {
        Ok(ConnectStep::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(ConnectStep::Connected(conn)) => {
            finish(&state, Some(&caller), &request, Ok(*conn), page, app).await
        }
        Err(e) => {
            settle_request(&state, &caller, &request, Err(&e)).await;
            // The integration's setup cannot be fixed by trying again: no form.
            if e.error_type == ErrorType::Configuration {
                return not_set_up_page(&target, &caller, &e, page);
            }
            let shown = for_customer(&e, Some(&caller), app, page, "submit");
            form_page(&target, &carry, &input, Some(&shown.message), page)
        }
    }
}

/// Form values are strings; the option's schema says which are numbers or flags.
fn typed_input(schema: Option<&Value>, input: Map<String, Value>) -> Map<String, Value> {
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    input
        .into_iter()
        .filter(|(_, v)| v.as_str() != Some(""))
        .map(|(k, v)| {
            let kind = props
                .and_then(|p| p.get(&k))
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str);
            let text = v.as_str().unwrap_or_default();
            let typed = match kind {
                Some("number" | "integer") => text
                    .parse::<f64>()
                    .ok()
                    .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number))
                    .unwrap_or(v),
                Some("boolean") => Value::Bool(matches!(text, "true" | "on" | "1")),
                _ => v,
            };
            (k, typed)
        })
        .collect()
}

/// A connect that cannot go on (a bad link, an expired token, an unknown
/// integration): the customer's sentence and a Close button.
fn error_page(e: &ApiError, caller: Option<&Caller>, page: Page) -> Response {
    let shown = for_customer(e, caller, None, page, "screen");
    (
        StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        Html(html::cannot_connect(
            &shown.message,
            page.theme,
            page.reference,
        )),
    )
        .into_response()
}

async fn screen_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    screen(state, form_fields(&body), request_id(&headers)).await
}

async fn screen_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    screen(
        state,
        form_fields(raw.unwrap_or_default().as_bytes()),
        request_id(&headers),
    )
    .await
}

/// `POST /screens/integrations/{sel}/connect` (`openNewConnectionV2`).
async fn integration_screen(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fields = form_fields(&body);
    let name = if osmosis_model::ElementType::Integration.is_id(&integration) {
        "integrationId"
    } else {
        "integrationKey"
    };
    fields.push((name.to_owned(), integration));
    screen(state, fields, request_id(&headers)).await
}

/// `/screens/connection`: a connection's status, with reconnect (the connect
/// screen with `connectionId`) and disconnect. While the integration is not set
/// up, the not-set-up message takes the reconnect button's place.
async fn connection_screen(
    state: AppState,
    fields: Vec<(String, String)>,
    rid: Option<String>,
) -> Response {
    let theme = field(&fields, "theme").map(str::to_owned);
    let page = Page {
        theme: theme.as_deref(),
        reference: rid.as_deref(),
        workspace: None,
    };
    let token = field(&fields, "token").unwrap_or("");
    let caller = match state.authenticate(token).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.0, None, page),
    };
    let Some(id) = field(&fields, "connectionId") else {
        return error_page(
            &ApiError::invalid_field("connectionId", "is required"),
            Some(&caller),
            page,
        );
    };
    let conn = match crate::routes::elements::resolve_path(
        &state,
        &caller,
        osmosis_model::ElementType::Connection,
        id.to_owned(),
        &crate::query::Query::parse(None),
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return error_page(&e, Some(&caller), page),
    };
    let connected = conn.doc_bool("connected") && !conn.doc_bool("isDefunct");
    let status = if connected {
        "Connected"
    } else {
        "Disconnected: reconnect to restore access"
    };
    let mut carry = vec![
        ("token".to_owned(), token.to_owned()),
        ("connectionId".to_owned(), conn.id.clone()),
        (
            "integrationId".to_owned(),
            conn.integration_id.clone().unwrap_or_default(),
        ),
    ];
    if let Some(t) = page.theme {
        carry.push(("theme".into(), t.to_owned()));
    }
    let probe = ConnectRequest {
        connection_id: Some(conn.id.clone()),
        integration_id: conn.integration_id.clone(),
        auth_option_key: conn.doc_str("authOptionKey").map(str::to_owned),
        ..Default::default()
    };
    let not_set_up = match state.engine.connect().connect_target(&caller, &probe).await {
        Ok(target) => target.not_set_up().map(|e| (target.integration.name, e)),
        Err(_) => None,
    };
    // Reconnect and Close side by side, as the connect screens' buttons are.
    const CLOSE: &str =
        "<button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>";
    let action = match not_set_up {
        Some((app, e)) => {
            let shown = for_customer(&e, Some(&caller), Some(&app), page, "connection screen");
            format!(
                "{}<div class=\"actions\">{CLOSE}</div>",
                html::not_set_up_block(&shown.message, page.reference)
            )
        }
        None => format!(
            "<form method=\"post\" action=\"/screens/connect\">{}<div class=\"actions\">\
             <button type=\"submit\" id=\"connection-reconnect\">Reconnect</button>{CLOSE}</div></form>",
            html::hidden_fields(&carry)
        ),
    };
    let body = format!(
        "<h1>{}</h1><p id=\"connection-status\" data-connected=\"{connected}\">{status}</p>{action}",
        html::escape(&conn.name)
    );
    Html(html::message_page(&conn.name, page.theme, &body)).into_response()
}

async fn connection_screen_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    connection_screen(state, form_fields(&body), request_id(&headers)).await
}

async fn connection_screen_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    connection_screen(
        state,
        form_fields(raw.unwrap_or_default().as_bytes()),
        request_id(&headers),
    )
    .await
}

/// `POST /connection-requests`: starts an asynchronous connect; answers the
/// `ConnectionRequest` with the `url` a human opens to finish it.
async fn create_request(
    State(state): State<AppState>,
    Auth(caller): Auth,
    crate::body::JsonObject(body): crate::body::JsonObject,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .connect()
            .create_connection_request(&caller, &body)
            .await?,
    ))
}

/// `GET /connection-requests/{id}`: its status and result.
async fn get_request(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(request_id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .connect()
            .connection_request(&caller, &request_id)
            .await?,
    ))
}

/// `GET /screens/connections?connectionRequestId=`: the connect screen for a
/// connection request, acting for its customer.
async fn request_screen(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let rid = request_id(&headers);
    let query = form_fields(raw.unwrap_or_default().as_bytes());
    let theme = field(&query, "theme").map(str::to_owned);
    let page = Page {
        theme: theme.as_deref(),
        reference: rid.as_deref(),
        workspace: None,
    };
    let Some(id) = field(&query, "connectionRequestId") else {
        return error_page(
            &ApiError::invalid_query("connectionRequestId", "is required"),
            None,
            page,
        );
    };
    let (request, token) = match state.engine.connect().open_connection_request(id).await {
        Ok(r) => r,
        Err(e) => return error_page(&e, None, page),
    };
    let mut fields = vec![
        ("token".to_owned(), token),
        ("connectionRequestId".to_owned(), id.to_owned()),
    ];
    for name in [
        "integrationId",
        "connectionId",
        "connectionKey",
        "name",
        "authOptionKey",
        "redirectUri",
    ] {
        if let Some(v) = request[name].as_str() {
            fields.push((name.to_owned(), v.to_owned()));
        }
    }
    if request["allowMultipleConnections"] == true {
        fields.push(("allowMultipleConnections".into(), "1".into()));
    }
    if let Some(p) = request.get("connectorParameters").filter(|p| p.is_object()) {
        fields.push(("connectorParameters".into(), p.to_string()));
    }
    if let Some(t) = page.theme {
        fields.push(("theme".into(), t.to_owned()));
    }
    screen(state, fields, rid.clone()).await
}
