//! `/self`: the calling customer, with the workspace key.

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use osmosis_engine::elements::Depth;
use osmosis_engine::Caller;
use osmosis_model::{ApiError, Element};
use serde_json::{json, Value};

use super::Routes;
use crate::auth::Auth;
use crate::body::JsonObject;
use crate::error::ApiResult;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/self", get(get_self).patch(patch_self))
}

async fn customer(state: &AppState, caller: &Caller) -> Result<Element, ApiError> {
    // An admin token is a valid token without a customer: refused, not malformed.
    let id = caller.customer_id.as_deref().ok_or_else(|| {
        ApiError::access_denied("/self needs a customer token; this is an admin token")
    })?;
    state
        .engine
        .customer_by_id(caller.workspace_id(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("The token's customer no longer exists"))
}

async fn render_self(state: &AppState, caller: &Caller, c: &Element) -> ApiResult<Json<Value>> {
    let mut v = state
        .engine
        .elements()
        .render(caller, c, Depth::Flat)
        .await?;
    v["workspaceKey"] = json!(caller.workspace.key);
    Ok(Json(v))
}

async fn get_self(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Value>> {
    let c = customer(&state, &caller).await?;
    render_self(&state, &caller, &c).await
}

/// A customer may change its own `name`, `fields` and `credentials` (the SDK sends
/// `{credentials}` at start-up); the admin-only writers rule is applied as the
/// workspace admin on the customer's behalf, limited to those fields.
async fn patch_self(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let c = customer(&state, &caller).await?;
    let allowed = ["name", "fields", "credentials", "revision"];
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid_field(
            k,
            "a customer can change only its name, fields and credentials",
        )
        .into());
    }
    let admin = Caller::admin(caller.workspace.clone());
    let updated = state
        .engine
        .elements()
        .patch_element(&admin, c, body)
        .await?;
    render_self(&state, &caller, &updated).await
}
