//! The flow instance routes beyond the generic element ones (api-surface §2.9):
//! `POST /flow-instances/{id}/update-to-latest-flow` (`updateToLatestFlow()`),
//! which takes the flow's current definition for every part the instance has
//! not customised and answers the instance. `/setup`, `/reset` and the rest are
//! the generic `/{plural}/{selector}/…` routes; `/run` is with the flow runs.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::Json;
use serde_json::Value;

use super::elements::respond;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route(
        "/flow-instances/{id}/update-to-latest-flow",
        post(update_to_latest_flow),
    )
}

/// `POST /flow-instances/{id}/update-to-latest-flow`: no body; the instance.
async fn update_to_latest_flow(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let el = state
        .engine
        .flows()
        .update_to_latest_flow(&caller, &id)
        .await?;
    respond(&state, &caller, &el).await
}
