//! `/data-link-table-instance/links`: the links of the data link table instance the
//! query selects (the selector fields of `/data-link-table-instance`, autoCreate
//! included). GET finds them (`direction`, `appRecordId`, `externalRecordId`,
//! `limit`, `cursor` beside the selector), POST creates one, DELETE deletes one
//! (the SDK sends a JSON body with DELETE). What links mean is the engine's
//! (`osmosis_engine::data_links`).
//!
//! Bodies and parameters are checked before the instance is resolved, so a request
//! that is refused creates no instance through `autoCreate` either.

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::Json;
use osmosis_engine::data_links::{FindLinksParams, LinkRequest};
use osmosis_engine::Caller;
use osmosis_model::ElementType;
use serde_json::{json, Value};

use super::elements::resolve_query;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Body, Params};
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route(
        "/data-link-table-instance/links",
        get(find).post(create).delete(delete),
    )
}

/// The two records to link or unlink, and which way. Each field is read as any
/// JSON and checked by the engine, so that a missing, empty or mistyped one is
/// `invalid_field` naming it (not a body-wide error) and a numeric id is taken as
/// its text. Other fields are ignored, as the SDK's request schemas strip them.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LinkBody {
    /// The record in the application (a string; a number is taken as its text).
    #[schemars(with = "String", length(min = 1, max = 1000))]
    app_record_id: Option<Value>,
    /// The record in the external app (a string; a number is taken as its text).
    #[schemars(with = "String", length(min = 1, max = 1000))]
    external_record_id: Option<Value>,
    /// Which way the link goes; `both` (the default) stores one link each way.
    #[schemars(with = "Option<LinkDirection>")]
    direction: Option<Value>,
}

/// The directions a request names (for the document only).
#[derive(schemars::JsonSchema)]
#[schemars(rename_all = "lowercase")]
#[allow(dead_code)]
enum LinkDirection {
    Import,
    Export,
    Both,
}

impl LinkBody {
    fn request(&self) -> Result<LinkRequest, osmosis_model::ApiError> {
        LinkRequest::from_fields(
            self.app_record_id.as_ref(),
            self.external_record_id.as_ref(),
            self.direction.as_ref(),
        )
    }
}

async fn find(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(params): Params<FindLinksParams>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let find = params.check()?;
    let q = Query::parse(raw.as_deref());
    let instance = resolve_query(&state, &caller, ElementType::DataLinkTableInstance, &q).await?;
    let page = state
        .engine
        .data_links()
        .find(&caller, &instance, &find)
        .await?;
    Ok(Json(page.to_json()))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
    Body(body): Body<LinkBody>,
) -> ApiResult<Json<Value>> {
    change(&state, &caller, raw, &body, Change::Create).await
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
    Body(body): Body<LinkBody>,
) -> ApiResult<Json<Value>> {
    change(&state, &caller, raw, &body, Change::Delete).await
}

#[derive(Clone, Copy)]
enum Change {
    Create,
    Delete,
}

/// POST and DELETE: the body checked first, then the instance resolved (so a
/// refused request auto-creates nothing), then the link stored or removed.
async fn change(
    state: &AppState,
    caller: &Caller,
    raw: Option<String>,
    body: &LinkBody,
    change: Change,
) -> ApiResult<Json<Value>> {
    let request = body.request()?;
    let q = Query::parse(raw.as_deref());
    let instance = resolve_query(state, caller, ElementType::DataLinkTableInstance, &q).await?;
    let links = state.engine.data_links();
    match change {
        Change::Create => drop(links.create(caller, &instance, &request).await?),
        Change::Delete => drop(links.delete(caller, &instance, &request).await?),
    }
    Ok(Json(json!({})))
}
