//! Config as code (`osmosis_engine::config_as_code`): `GET /export` starts a
//! workspace export as a background job and `POST /import` an import of such a
//! zip, `GET /background-jobs/{id}` reports either, and
//! `GET /background-jobs/{id}/download` serves the zip an export produced — all
//! with an admin token of the workspace.

use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::config_as_code::{ExportOptions, ImportOptions};
use osmosis_model::error::keys;
use osmosis_model::ApiError;
use serde_json::Value;

use crate::body::RawBody;

use super::elements::with_secrets;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/export", get(export))
        .route("/import", post(import))
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

/// `POST /import?dryRun=&diff=&partial=&force=`: the zip as the multipart
/// form's `file` (as Membrane's CLI sends it) or as the whole body
/// (`application/zip`), within the API's body limit.
async fn import(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
    request: Request,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let flag = |name: &str| q.bool(name).map(Option::unwrap_or_default);
    let options = ImportOptions {
        dry_run: flag("dryRun")?,
        diff: flag("diff")?,
        partial: flag("partial")?,
        force: flag("force")?,
    };
    caller.require_admin("importing into a workspace needs an admin token")?;
    let zip = upload(request, &state).await?;
    Ok(Json(
        state.engine.start_import(&caller, &zip, options).await?,
    ))
}

/// The uploaded file: a multipart form's `file` part, or the raw body.
async fn upload(request: Request, state: &AppState) -> Result<Vec<u8>, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(
            keys::INVALID_BODY,
            format!("The multipart body cannot be read: {e}"),
        )
    };
    if !multipart {
        let RawBody(bytes) = RawBody::from_request(request, state)
            .await
            .map_err(|e| e.0)?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_field(
                "file",
                "is required: send the zip as the multipart form's `file`, or as the body",
            ));
        }
        return Ok(bytes.to_vec());
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| invalid(&e))?;
    while let Some(field) = form.next_field().await.map_err(|e| invalid(&e))? {
        if field.name() == Some("file") {
            return Ok(field.bytes().await.map_err(|e| invalid(&e))?.to_vec());
        }
    }
    Err(ApiError::invalid_field(
        "file",
        "is required: the multipart form has no `file` part",
    ))
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
