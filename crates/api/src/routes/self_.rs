//! `/self`: the calling customer, with the workspace key; `/org-workspace-id`:
//! the token's workspace.

use axum::extract::State;
use axum::routing::get;
use axum::Json;
use osmosis_engine::elements::Depth;
use osmosis_engine::Caller;
use osmosis_model::patch::Patch;
use osmosis_model::{ApiError, Element};
use serde_json::{json, Map, Value};

use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::Body;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/self", get(get_self).patch(patch_self))
        .route("/org-workspace-id", get(workspace_id))
}

/// `GET /org-workspace-id`: the id of the token's workspace, `{id}` (Membrane's
/// CLI 1.x reads it before a push).
async fn workspace_id(Auth(caller): Auth) -> Json<Value> {
    Json(json!({"id": caller.workspace_id()}))
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

/// The body of `PATCH /self`: what a customer may change about itself (the SDK
/// sends `{credentials}` at start-up). Any other field is refused, naming it.
#[derive(Debug, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SelfPatch {
    /// Cannot be cleared, so `null` is not taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    name: Option<String>,
    /// The customer's own fields.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    fields: Patch<Map<String, Value>>,
    /// Credentials the customer's connections may use.
    #[serde(default, skip_serializing_if = "Patch::is_absent")]
    credentials: Patch<Map<String, Value>>,
    /// The revision the change was made from; refused when it is not current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    revision: Option<String>,
}

/// Applied as the workspace admin on the customer's behalf (customers are
/// admin-written elements), limited to [`SelfPatch`]'s fields.
async fn patch_self(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(patch): Body<SelfPatch>,
) -> ApiResult<Json<Value>> {
    let c = customer(&state, &caller).await?;
    let Ok(Value::Object(body)) = serde_json::to_value(&patch) else {
        unreachable!("a struct serializes to an object");
    };
    let admin = Caller::admin(caller.workspace.clone());
    let updated = state
        .engine
        .elements()
        .patch_element(&admin, c, body)
        .await?;
    render_self(&state, &caller, &updated).await
}
