//! Running actions and reading their run logs: `POST /act`, every route the SDK
//! runs an action by (`/actions/{sel}/run`, `/action/run`,
//! `/connections/{c}/actions/{a}/run`, `/action-instance/run`,
//! `/action-instances/{id}/run`), `POST /connections/{c}/execute-request`, and
//! `/action-run-logs`. A failed run answers `ErrorData` with the run's
//! `actionRunId` beside `type`, `key` and `message`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::actions::{
    ActRequest, ActionRun, ActionRunError, ActionRunLogFilter, ConnectionHints, RunArguments,
    RunSelector,
};
use osmosis_engine::elements::InstanceSelector;
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::connections::query_pairs;
use super::elements::{resolve_path, resolve_query};
use super::Routes;
use crate::auth::{is_access_token, without_access_tokens, Auth};
use crate::body::JsonObject;
use crate::error::ErrorResponse;
use crate::extract::{Body, Params};
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/act", post(act))
        .route("/actions/{selector}/run", post(run_by_path))
        .route("/action/run", post(run_by_query))
        .route(
            "/connections/{connection}/actions/{selector}/run",
            post(run_on_connection),
        )
        .route("/action-instance/run", post(run_instance_by_query))
        .route(
            "/action-instances/{selector}/run",
            post(run_instance_by_path),
        )
        .route(
            "/connections/{connection}/execute-request",
            post(execute_request),
        )
        .route("/action-run-logs", get(list_run_logs))
        .route("/action-run-logs/{id}", get(run_log))
        .route("/action-run-logs/{id}/details", get(run_log_details))
}

/// `{output, actionRunId}`, or the error with its `actionRunId`.
fn answer(result: Result<ActionRun, ActionRunError>) -> Response {
    match result {
        Ok(run) => Json(run.to_json()).into_response(),
        Err(e) => {
            let status = StatusCode::from_u16(e.error.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (status, Json(e.to_json())).into_response()
        }
    }
}

/// The body of `/actions/{sel}/run` and `/action/run`: `{input, meta}`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct RunActionRequest {
    /// The run's input, checked against the action's `inputSchema`.
    #[serde(default)]
    input: Value,
    /// Kept with the run log.
    #[serde(default)]
    meta: Option<Value>,
}

fn hints(q: &Query) -> ConnectionHints {
    ConnectionHints {
        connection_id: q.string("connectionId"),
        connection_key: q.string("connectionKey"),
        integration_id: q.string("integrationId"),
        integration_key: q.string("integrationKey"),
    }
}

/// The action `sel` names, or — with a non-empty `instanceKey` — its keyed
/// connection-level instance on the connection the hints name (a keyed instance
/// is only ever reached by its key).
async fn selector(
    state: &AppState,
    caller: &Caller,
    sel: String,
    integration: Option<String>,
    hints: &ConnectionHints,
    instance_key: Option<&str>,
) -> Result<RunSelector, ApiError> {
    let Some(key) = instance_key.filter(|k| !k.is_empty()) else {
        return Ok(RunSelector::Action {
            selector: sel,
            integration,
        });
    };
    let sel = InstanceSelector {
        parent: Some(sel),
        connection_id: hints.connection_id.clone(),
        connection_key: hints.connection_key.clone(),
        integration: integration
            .or(hints.integration_id.clone())
            .or(hints.integration_key.clone()),
        instance_key: Some(key.to_owned()),
        ..Default::default()
    };
    state
        .engine
        .elements()
        .resolve_instance(caller, ElementType::ActionInstance, &sel)
        .await
        .map(RunSelector::Element)
}

async fn run(
    state: &AppState,
    caller: &Caller,
    selector: RunSelector,
    hints: &ConnectionHints,
    args: RunArguments,
) -> Result<ActionRun, ActionRunError> {
    let actions = state.engine.actions();
    let target = actions.target(caller, selector, hints).await?;
    actions.run(caller, target, args).await
}

async fn act(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(mut act): Body<ActRequest>,
) -> Response {
    // The inline request's query, headers and path go to the external app.
    if let Some(Value::Object(api)) = act.api.as_mut() {
        for part in ["query", "headers"] {
            if let Some(Value::Object(pairs)) = api.get_mut(part) {
                pairs.retain(|_, v| !v.as_str().is_some_and(|v| is_access_token(&caller, v)));
            }
        }
        for part in ["path", "url"] {
            if let Some(Value::String(path)) = api.get_mut(part) {
                *path = path_without_access_tokens(&caller, path);
            }
        }
    }
    answer(state.engine.actions().act(&caller, act).await)
}

/// A request path as given, less any query pair holding one of the caller's access
/// tokens (pasted by mistake, it must not reach the external app); a path with
/// none is kept byte for byte.
fn path_without_access_tokens(caller: &Caller, path: &str) -> String {
    let Some((base, query)) = path.split_once('?') else {
        return path.to_owned();
    };
    let pairs = query_pairs(Some(query));
    let count = pairs.len();
    let kept = without_access_tokens(caller, pairs);
    if kept.len() == count {
        return path.to_owned();
    }
    if kept.is_empty() {
        return base.to_owned();
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        query.append_pair(k, v);
    }
    format!("{base}?{}", query.finish())
}

/// `POST /actions/{sel}/run?integrationKey&connectionId&connectionKey` `{input}`.
async fn run_by_path(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(sel): Path<String>,
    RawQuery(raw): RawQuery,
    Body(body): Body<RunActionRequest>,
) -> Response {
    let q = Query::parse(raw.as_deref());
    run_selected(&state, &caller, sel, &q, body).await
}

/// Runs action `sel` with the query's integration, connection and instance key.
async fn run_selected(
    state: &AppState,
    caller: &Caller,
    sel: String,
    q: &Query,
    body: RunActionRequest,
) -> Response {
    let hints = hints(q);
    let integration = q.string("integrationId").or(q.string("integrationKey"));
    let selector = match selector(
        state,
        caller,
        sel,
        integration,
        &hints,
        q.get("instanceKey"),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return ErrorResponse(e).into_response(),
    };
    let args = RunArguments {
        input: body.input,
        meta: body.meta,
    };
    answer(run(state, caller, selector, &hints, args).await)
}

/// `POST /action/run?{id|key, integrationId|integrationKey, connection…}` `{input}`.
async fn run_by_query(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
    Body(body): Body<RunActionRequest>,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let Some(sel) = q.string("id").or(q.string("key")) else {
        return ErrorResponse(ApiError::invalid_query(
            "id",
            "give `id` or `key` to select an action",
        ))
        .into_response();
    };
    run_selected(&state, &caller, sel, &q, body).await
}

/// `POST /connections/{c}/actions/{a}/run?instanceKey` with the raw input as body.
async fn run_on_connection(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((c, sel)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    JsonObject(input): JsonObject,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let conn = match resolve_path(
        &state,
        &caller,
        ElementType::Connection,
        c,
        &Query::parse(None),
    )
    .await
    {
        Ok(conn) => conn,
        Err(e) => return ErrorResponse(e).into_response(),
    };
    let hints = ConnectionHints {
        connection_id: Some(conn.id.clone()),
        ..Default::default()
    };
    let integration = conn.integration_id.clone();
    let selector = match selector(
        &state,
        &caller,
        sel,
        integration,
        &hints,
        q.get("instanceKey"),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return ErrorResponse(e).into_response(),
    };
    let args = RunArguments {
        input: Value::Object(input),
        meta: None,
    };
    answer(run(&state, &caller, selector, &hints, args).await)
}

/// `POST /action-instance/run?{selector}` with the raw input as body.
async fn run_instance_by_query(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
    JsonObject(input): JsonObject,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let instance = resolve_query(&state, &caller, ElementType::ActionInstance, &q).await;
    run_instance(&state, &caller, instance, input).await
}

/// `POST /action-instances/{id}/run` (legacy) with the raw input as body.
async fn run_instance_by_path(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(input): JsonObject,
) -> Response {
    let none = Query::parse(None);
    let instance = resolve_path(&state, &caller, ElementType::ActionInstance, id, &none).await;
    run_instance(&state, &caller, instance, input).await
}

/// Runs a resolved action instance (on its own connection) with `input`.
async fn run_instance(
    state: &AppState,
    caller: &Caller,
    instance: Result<Element, ApiError>,
    input: serde_json::Map<String, Value>,
) -> Response {
    let instance = match instance {
        Ok(i) => i,
        Err(e) => return ErrorResponse(e).into_response(),
    };
    let args = RunArguments {
        input: Value::Object(input),
        meta: None,
    };
    let selector = RunSelector::Element(instance);
    answer(run(state, caller, selector, &ConnectionHints::default(), args).await)
}

/// The body of `POST /connections/{c}/execute-request` (the SDK's
/// `connectionRequest(connectionId, uri, data)`).
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct ExecuteRequest {
    /// The request path, optionally after its method: `"POST /contacts"`.
    key: String,
    /// The request body.
    #[serde(default)]
    payload: Option<Value>,
}

async fn execute_request(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(c): Path<String>,
    Body(body): Body<ExecuteRequest>,
) -> Response {
    let conn = match resolve_path(
        &state,
        &caller,
        ElementType::Connection,
        c,
        &Query::parse(None),
    )
    .await
    {
        Ok(conn) => conn,
        Err(e) => return ErrorResponse(e).into_response(),
    };
    let result = state
        .engine
        .actions()
        .execute_request(
            &caller,
            &conn,
            &path_without_access_tokens(&caller, &body.key),
            body.payload,
        )
        .await;
    match result {
        // The legacy call answers the response data itself.
        Ok(run) => Json(run.output).into_response(),
        Err(e) => answer(Err(e)),
    }
}

async fn list_run_logs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<ActionRunLogFilter>,
) -> Result<Json<Value>, ErrorResponse> {
    Ok(Json(
        state
            .engine
            .actions()
            .list_run_logs(&caller, &filter)
            .await?,
    ))
}

async fn run_log(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ErrorResponse> {
    let details = Query::parse(raw.as_deref())
        .bool("details")?
        .unwrap_or(false);
    Ok(Json(
        state
            .engine
            .actions()
            .run_log(&caller, &id, details)
            .await?,
    ))
}

async fn run_log_details(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> Result<Json<Value>, ErrorResponse> {
    Ok(Json(
        state.engine.actions().run_log(&caller, &id, true).await?,
    ))
}
