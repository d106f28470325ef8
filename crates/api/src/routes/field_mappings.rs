//! `GET /field-mappings/{selector}/app-schema` and `GET /field-mapping/app-schema?…`
//! (`fieldMapping(sel).getAppSchema()`): the schema of the app's records that a field
//! mapping maps external records to and from.

use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use axum::Json;
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::elements::resolve_query;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{LayerParams, Params};
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/field-mappings/{selector}/app-schema", get(by_path))
        .route("/field-mapping/app-schema", get(by_query))
}

/// The mapping's `appSchema` with references to app data schemas resolved for the
/// caller (a customer-specific schema is that customer's); a mapping without one
/// has nothing to map to, which is a configuration problem rather than an empty
/// schema.
async fn app_schema(state: &AppState, caller: &Caller, el: &Element) -> Result<Value, ApiError> {
    state
        .engine
        .app_data_schemas()
        .app_schema_of(caller, el)
        .await
}

async fn by_path(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    Params(layer): Params<LayerParams>,
) -> ApiResult<Json<Value>> {
    let sel = PathSelector {
        value: selector,
        layer: layer.into(),
        auto_create: false,
    };
    let el = state
        .engine
        .elements()
        .resolve(&caller, ElementType::FieldMapping, &sel)
        .await?;
    Ok(Json(app_schema(&state, &caller, &el).await?))
}

async fn by_query(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = resolve_query(&state, &caller, ElementType::FieldMapping, &q).await?;
    Ok(Json(app_schema(&state, &caller, &el).await?))
}
