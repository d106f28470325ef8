//! A data source instance's collection (api-surface §2.12): its spec, its methods
//! (with UDM translation) and `unified-fields-to-native`, by object selector
//! (`/data-source-instance/…?{selector}`, what the SDK calls) or by id
//! (`/data-source-instances/{id}/…`).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::connections::{collection_method, CollectionMethod};
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::elements::{resolve_path, resolve_query};
use super::Routes;
use crate::auth::Auth;
use crate::body::JsonObject;
use crate::error::ApiResult;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/data-source-instance/collection",
            get(|s, a, RawQuery(q)| async move { spec(s, a, By::Query(q)).await }),
        )
        .route(
            "/data-source-instance/collection/{method}",
            post(|s, a, Path(m), RawQuery(q), b| async move { method(s, a, By::Query(q), m, b).await }),
        )
        .route(
            "/data-source-instance/unified-fields-to-native",
            post(|s, a, RawQuery(q), b| async move { to_native(s, a, By::Query(q), b).await }),
        )
        .route(
            "/data-source-instances/{selector}/collection",
            get(|s, a, Path(id)| async move { spec(s, a, By::Id(id)).await }),
        )
        .route(
            "/data-source-instances/{selector}/collection/{method}",
            post(|s, a, Path((id, m)), b| async move { method(s, a, By::Id(id), m, b).await }),
        )
        .route(
            "/data-source-instances/{selector}/unified-fields-to-native",
            post(|s, a, Path(id), b| async move { to_native(s, a, By::Id(id), b).await }),
        )
}

/// How the request names the instance.
enum By {
    Query(Option<String>),
    Id(String),
}

async fn instance(state: &AppState, caller: &Caller, by: By) -> Result<Element, ApiError> {
    let t = ElementType::DataSourceInstance;
    match by {
        By::Query(raw) => resolve_query(state, caller, t, &Query::parse(raw.as_deref())).await,
        By::Id(id) => resolve_path(state, caller, t, id, &Query::parse(None)).await,
    }
}

async fn spec(State(state): State<AppState>, Auth(caller): Auth, by: By) -> ApiResult<Json<Value>> {
    let instance = instance(&state, &caller, by).await?;
    // Resolved for this connection: the customer's custom fields included.
    Ok(Json(
        state.engine.data_sources().spec(&caller, &instance).await?,
    ))
}

async fn method(
    State(state): State<AppState>,
    Auth(caller): Auth,
    by: By,
    segment: String,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let method = collection_method(&segment)?;
    let instance = instance(&state, &caller, by).await?;
    let answer = state
        .engine
        .data_sources()
        .run_method(&caller, &instance, method, Value::Object(body))
        .await?;
    // `delete` answers nothing, as on the connection's own collection route.
    if method == CollectionMethod::Delete {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(answer).into_response())
}

async fn to_native(
    State(state): State<AppState>,
    Auth(caller): Auth,
    by: By,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let instance = instance(&state, &caller, by).await?;
    Ok(Json(
        state
            .engine
            .data_sources()
            .unified_to_native(&caller, &instance, Value::Object(body))
            .await?,
    ))
}
