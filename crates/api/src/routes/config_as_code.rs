//! Config as code (`osmosis_engine::config_as_code`): `GET /export` starts a
//! workspace export as a background job, `GET /background-jobs/{id}` reports it,
//! and `GET /background-jobs/{id}/download` serves the zip it produced — all
//! with an admin token of the workspace.

use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use osmosis_engine::config_as_code::ExportOptions;
use serde_json::Value;

use super::elements::with_secrets;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/export", get(export))
        .route("/background-jobs/{id}", get(background_job))
        .route("/background-jobs/{id}/download", get(download))
}

/// `GET /export?includeSecrets=`: the background job that builds the zip.
async fn export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let caller = with_secrets(caller, &q)?;
    let options = ExportOptions {
        include_secrets: caller.include_secrets,
    };
    Ok(Json(state.engine.start_export(&caller, options).await?))
}

async fn background_job(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.background_job(&caller, &id).await?))
}

/// The zip, as an attachment named after the workspace.
async fn download(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let zip = state.engine.background_job_file(&caller, &id).await?;
    // The key is the workspace's, but a header is no place to find out what a
    // quote in it does.
    let stem: String = caller
        .workspace
        .key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let name = format!("attachment; filename=\"{stem}.zip\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        zip,
    )
        .into_response())
}
