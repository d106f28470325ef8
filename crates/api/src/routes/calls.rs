//! Calls through a connection besides the proxy: the connector's operations and
//! data collections as the connection sees them (`/connections/{c}/operations…`,
//! `/connections/{c}/data…`), and the external API logs those calls leave
//! (`/external-api-logs`).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::connections::{collection_method, ApiLogFilter};
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

use super::connections::query_pairs;
use super::elements::resolve_path;
use super::nested::{collection_list, collection_spec, operation_list, operation_spec};
use super::Routes;
use crate::auth::{without_access_tokens, Auth};
use crate::body::JsonObject;
use crate::error::ApiResult;
use crate::extract::{Body, Params};
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/connections/{connection}/operations", get(operations))
        .route("/connections/{connection}/operations/{key}", get(operation))
        .route(
            "/connections/{connection}/operations/{key}/run",
            post(run_operation),
        )
        .route("/connections/{connection}/data", get(collections))
        .route("/connections/{connection}/data/{key}", get(collection))
        .route(
            "/connections/{connection}/data/{key}/{method}",
            post(collection_method_run),
        )
        .route("/external-api-logs", get(list_logs))
        .route("/external-api-logs/{id}", get(get_log))
}

async fn connection(state: &AppState, caller: &Caller, sel: String) -> Result<Element, ApiError> {
    resolve_path(
        state,
        caller,
        ElementType::Connection,
        sel,
        &Query::parse(None),
    )
    .await
}

/// The connector a connection was made with.
async fn connector(state: &AppState, caller: &Caller, sel: String) -> Result<Element, ApiError> {
    let conn = connection(state, caller, sel).await?;
    let id = conn
        .doc_str("connectorId")
        .ok_or_else(|| ApiError::configuration("The connection has no connector"))?
        .to_owned();
    let admin = Caller::admin(caller.workspace.clone());
    state
        .engine
        .elements()
        .resolve(&admin, ElementType::Connector, &PathSelector::new(id))
        .await
}

async fn operations(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(operation_list(&connector(&state, &caller, c).await?)))
}

async fn operation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((c, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let connector = connector(&state, &caller, c).await?;
    Ok(Json(operation_spec(&connector, &key)?))
}

/// `POST …/operations/{key}/run`: `{input}`, any JSON the operation's input schema
/// takes (the engine checks it against that schema); absent is `null`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct RunOperation {
    /// What the operation takes; checked against its input schema.
    #[serde(default)]
    input: Value,
}

async fn run_operation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((c, key)): Path<(String, String)>,
    Body(run): Body<RunOperation>,
) -> ApiResult<Json<Value>> {
    let conn = connection(&state, &caller, c).await?;
    Ok(Json(
        state
            .engine
            .calls()
            .run_operation(&caller, &conn, &key, run.input)
            .await?,
    ))
}

async fn collections(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(collection_list(&connector(&state, &caller, c).await?)))
}

async fn collection(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((c, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let connector = connector(&state, &caller, c).await?;
    Ok(Json(collection_spec(&connector, &key)?))
}

/// Collection parameters from the query string: plain key/value pairs, never an
/// access token (parameters reach the external app).
fn parameters(caller: &Caller, raw: Option<&str>) -> Map<String, Value> {
    without_access_tokens(caller, query_pairs(raw))
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

async fn collection_method_run(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((c, key, method)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let method = collection_method(&method)?;
    let conn = connection(&state, &caller, c).await?;
    let answer = state
        .engine
        .calls()
        .run_collection_method(
            &caller,
            &conn,
            &key,
            method,
            Value::Object(body),
            parameters(&caller, raw.as_deref()),
        )
        .await?;
    // `delete` answers nothing (the SDK's `DataCollectionDeleteResponse` is undefined):
    // 204, so the document can say so; a 200 could only promise a JSON body.
    if method == osmosis_engine::connections::CollectionMethod::Delete {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(answer).into_response())
}

async fn list_logs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<ApiLogFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state.engine.calls().list_api_logs(&caller, &filter).await?,
    ))
}

async fn get_log(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.calls().api_log(&caller, &id).await?))
}
