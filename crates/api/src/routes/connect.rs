//! The connect flow as a browser sees it (docs/spec/api-surface.md §2.21, §7.3): auth options,
//! `POST /connect` with its `payload`, the hosted screens, the OAuth callback, the
//! SSE channel the SDK listens on, and the penpal script the pages load.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::connect::oauth_session::{ConnectRequest, ConnectStep, Delivery, Target};
use osmosis_engine::elements::Depth;
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element};
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

/// `POST /connect` with the `payload` field: connects at once when nothing is
/// missing, asks for the input the option needs, or sends the browser to OAuth.
async fn connect(State(state): State<AppState>, body: Bytes) -> Response {
    let fields = form_fields(&body);
    let payload = field(&fields, "payload")
        .map(serde_json::from_str::<Value>)
        .unwrap_or(Ok(Value::Null));
    match payload {
        Ok(Value::Object(p)) => connect_payload(state, p).await,
        _ => {
            let e = ApiError::invalid_field("payload", "must be a JSON object");
            finish(&state, None, &ConnectRequest::default(), Err(e), None).await
        }
    }
}

/// `GET /connection-popup?…`: the old name of `/connect`, with the payload's fields
/// in the query string (objects such as `input` as JSON).
async fn connection_popup(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let payload = form_fields(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    connect_payload(state, payload).await
}

/// The connect of a `/connect` payload.
async fn connect_payload(state: AppState, payload: Map<String, Value>) -> Response {
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
        Err(e) => return finish(&state, None, &request, Err(e.0), None).await,
    };
    let request = match ConnectRequest::from_payload(&Value::Object(payload)) {
        Ok(r) => r,
        Err(e) => return finish(&state, Some(&caller), &request, Err(e), None).await,
    };
    let target = match state
        .engine
        .connect()
        .connect_target(&caller, &request)
        .await
    {
        Ok(t) => t,
        Err(e) => return finish(&state, Some(&caller), &request, Err(e), None).await,
    };
    if needs_input(&target, &request) {
        let carry = carry_fields(&token, &request, &target, Delivery::Message, None);
        let input = request
            .input
            .as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        return form_page(&state, &target, &carry, &input, None, None);
    }
    run_connect(&state, &caller, &request, Delivery::Message, None).await
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
    theme: Option<&str>,
) -> Response {
    match state
        .engine
        .connect()
        .start_connect(caller, request, delivery)
        .await
    {
        Ok(ConnectStep::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(ConnectStep::Connected(conn)) => {
            finish(state, Some(caller), request, Ok(*conn), theme).await
        }
        Err(e) => finish(state, Some(caller), request, Err(e), theme).await,
    }
}

/// Ends a connect: publishes the result for SSE, then redirects to `redirectUri`
/// or renders the page that messages the SDK.
async fn finish(
    state: &AppState,
    caller: Option<&Caller>,
    request: &ConnectRequest,
    result: Result<Element, ApiError>,
    theme: Option<&str>,
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
            event["type"] = json!("newConnectionFailure");
            event["error"] = json!(e.message);
            event["errorData"] = serde_json::to_value(&e).unwrap_or(Value::Null);
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
    (status, Html(html::connect_result(&event, theme))).into_response()
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
async fn callback(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let params: Map<String, Value> = form_fields(raw.unwrap_or_default().as_bytes())
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let outcome = state.engine.connect().finish_oauth(&params).await;
    finish(
        &state,
        outcome.caller.as_ref(),
        &outcome.request,
        outcome.result,
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

fn form_page(
    state: &AppState,
    target: &Target,
    carry: &[(String, String)],
    input: &Map<String, Value>,
    error: Option<&str>,
    theme: Option<&str>,
) -> Response {
    let _ = state;
    let title = format!("Connect {}", target.integration.name);
    let label = if target.is_oauth() {
        format!("Continue to {}", target.integration.name)
    } else {
        "Connect".to_owned()
    };
    let page = html::connect_screen(&html::ConnectScreen {
        title: &title,
        theme,
        carry,
        options: None,
        input_schema: target.input_schema(),
        input,
        submit_label: &label,
        error,
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, Html(page)).into_response()
}

/// The connect screen, from a form post or a query string.
async fn screen(state: AppState, fields: Vec<(String, String)>) -> Response {
    let theme = field(&fields, "theme").map(str::to_owned);
    let theme = theme.as_deref();
    let token = field(&fields, "token").unwrap_or("").to_owned();
    let caller = match state.authenticate(&token).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.0, theme),
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
        Err(e) => return error_page(&e, theme),
    };
    let chosen = request.auth_option_key.is_some();
    let target = match state
        .engine
        .connect()
        .connect_target(&caller, &request)
        .await
    {
        Ok(t) => t,
        Err(e) => return error_page(&e, theme),
    };
    let carry = carry_fields(&token, &request, &target, delivery, theme);
    if !chosen && target.connector.options.len() > 1 {
        let options = target
            .connector
            .options
            .iter()
            .map(|(k, a)| (k.clone(), a.title.clone().unwrap_or_else(|| k.clone())))
            .collect();
        let carry: Vec<_> = carry
            .into_iter()
            .filter(|(k, _)| k != "authOptionKey")
            .collect();
        let title = format!("Connect {}", target.integration.name);
        return Html(html::connect_screen(&html::ConnectScreen {
            title: &title,
            theme,
            carry: &carry,
            options: Some(options),
            input_schema: None,
            input: &Map::new(),
            submit_label: "",
            error: None,
        }))
        .into_response();
    }
    if field(&fields, "step") != Some("submit") {
        return form_page(&state, &target, &carry, &input, None, theme);
    }
    let input = typed_input(target.input_schema(), input);
    let request = ConnectRequest {
        input: Some(Value::Object(input.clone())),
        ..request
    };
    match state
        .engine
        .connect()
        .start_connect(&caller, &request, delivery)
        .await
    {
        Ok(ConnectStep::Redirect(url)) => Redirect::to(&url).into_response(),
        Ok(ConnectStep::Connected(conn)) => {
            finish(&state, Some(&caller), &request, Ok(*conn), theme).await
        }
        Err(e) => {
            settle_request(&state, &caller, &request, Err(&e)).await;
            form_page(&state, &target, &carry, &input, Some(&e.message), theme)
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

fn error_page(e: &ApiError, theme: Option<&str>) -> Response {
    (
        StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST),
        Html(html::message_page(
            "Cannot connect",
            theme,
            &format!(
                "<h1>Cannot connect</h1><p id=\"connect-error\" role=\"alert\">{}</p><button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>",
                html::escape(&e.message)
            ),
        )),
    )
        .into_response()
}

async fn screen_post(State(state): State<AppState>, body: Bytes) -> Response {
    screen(state, form_fields(&body)).await
}

async fn screen_get(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    screen(state, form_fields(raw.unwrap_or_default().as_bytes())).await
}

/// `POST /screens/integrations/{sel}/connect` (`openNewConnectionV2`).
async fn integration_screen(
    State(state): State<AppState>,
    Path(integration): Path<String>,
    body: Bytes,
) -> Response {
    let mut fields = form_fields(&body);
    let name = if osmosis_model::ElementType::Integration.is_id(&integration) {
        "integrationId"
    } else {
        "integrationKey"
    };
    fields.push((name.to_owned(), integration));
    screen(state, fields).await
}

/// `/screens/connection`: a connection's status, with reconnect (the connect
/// screen with `connectionId`) and disconnect.
async fn connection_screen(state: AppState, fields: Vec<(String, String)>) -> Response {
    let theme = field(&fields, "theme").map(str::to_owned);
    let theme = theme.as_deref();
    let token = field(&fields, "token").unwrap_or("");
    let caller = match state.authenticate(token).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.0, theme),
    };
    let Some(id) = field(&fields, "connectionId") else {
        return error_page(
            &ApiError::invalid_field("connectionId", "is required"),
            theme,
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
        Err(e) => return error_page(&e, theme),
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
    if let Some(t) = theme {
        carry.push(("theme".into(), t.to_owned()));
    }
    let hidden = html::hidden_fields(&carry);
    let body = format!(
        "<h1>{}</h1><p id=\"connection-status\" data-connected=\"{connected}\">{status}</p>\
         <form method=\"post\" action=\"/screens/connect\">{hidden}\
         <button type=\"submit\" id=\"connection-reconnect\">Reconnect</button></form>\
         <button type=\"button\" class=\"secondary\" id=\"connect-cancel\">Close</button>",
        html::escape(&conn.name)
    );
    Html(html::message_page(&conn.name, theme, &body)).into_response()
}

async fn connection_screen_post(State(state): State<AppState>, body: Bytes) -> Response {
    connection_screen(state, form_fields(&body)).await
}

async fn connection_screen_get(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    connection_screen(state, form_fields(raw.unwrap_or_default().as_bytes())).await
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
async fn request_screen(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let query = form_fields(raw.unwrap_or_default().as_bytes());
    let theme = field(&query, "theme").map(str::to_owned);
    let Some(id) = field(&query, "connectionRequestId") else {
        return error_page(
            &ApiError::invalid_query("connectionRequestId", "is required"),
            theme.as_deref(),
        );
    };
    let (request, token) = match state.engine.connect().open_connection_request(id).await {
        Ok(r) => r,
        Err(e) => return error_page(&e, theme.as_deref()),
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
    if let Some(t) = theme {
        fields.push(("theme".into(), t));
    }
    screen(state, fields).await
}
