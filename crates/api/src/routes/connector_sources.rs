//! Connector sources and versions (`osmosis_engine::connector_sources`), as
//! Membrane's CLI uses them, all with an admin token of the workspace:
//!
//! * `POST /connectors/{selector}/upload` — the source zip as the multipart
//!   form's `file` (or as the body): the development source, and the
//!   connector's definition from it
//! * `GET /connectors/{selector}/download?version=` — a version's source zip
//!   (`development` by default)
//! * `GET /connectors/{selector}/versions` — the published versions, newest
//!   first, as a bare array
//! * `POST /connectors/{selector}/publish-version` — multipart `file`
//!   (optional), `version`, `changelog`; or JSON `{version, changelog}`
//! * `PUT`/`DELETE /connectors/{selector}/files/{*path}` — one file of the
//!   development source, the body its new contents
//!
//! These static segments sit beside the generic `/connectors/{selector}/…`
//! element routes (`restore`, `export`, …) without clashing.

use axum::extract::{FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Json;
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::elements::respond;
use super::Routes;
use crate::auth::Auth;
use crate::body::{JsonBody, RawBody};
use crate::error::ApiResult;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/connectors/{selector}/upload", post(upload))
        .route("/connectors/{selector}/download", get(download))
        .route("/connectors/{selector}/versions", get(versions))
        .route("/connectors/{selector}/publish-version", post(publish))
        .route(
            "/connectors/{selector}/files/{*path}",
            put(put_file).delete(delete_file),
        )
}

const ADMIN_ONLY: &str = "managing connector sources needs an admin token";

/// The connector a path names in the caller's workspace; admins only, checked
/// before the lookup so a customer learns nothing of which connectors exist.
async fn connector(
    state: &AppState,
    caller: &Caller,
    selector: String,
) -> Result<Element, ApiError> {
    caller.require_admin(ADMIN_ONLY)?;
    state
        .engine
        .elements()
        .resolve(caller, ElementType::Connector, &PathSelector::new(selector))
        .await
}

/// What a form or body carried: the zip and the text fields.
#[derive(Default)]
struct Upload {
    file: Option<Vec<u8>>,
    version: Option<String>,
    changelog: Option<String>,
}

fn is_content_type(request: &Request, prefix: &str) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with(prefix))
}

/// A multipart form's `file`, `version` and `changelog` parts; a JSON body's
/// `version` and `changelog`; or any other body as the file.
async fn read_upload(request: Request, state: &AppState) -> Result<Upload, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| {
        ApiError::bad_request(
            keys::INVALID_BODY,
            format!("The multipart body cannot be read: {e}"),
        )
    };
    if is_content_type(&request, "multipart/form-data") {
        let mut form = Multipart::from_request(request, state)
            .await
            .map_err(|e| invalid(&e))?;
        let mut upload = Upload::default();
        while let Some(field) = form.next_field().await.map_err(|e| invalid(&e))? {
            match field.name() {
                Some("file") => {
                    upload.file = Some(field.bytes().await.map_err(|e| invalid(&e))?.to_vec())
                }
                Some("version") => {
                    upload.version = Some(field.text().await.map_err(|e| invalid(&e))?)
                }
                Some("changelog") => {
                    upload.changelog = Some(field.text().await.map_err(|e| invalid(&e))?)
                }
                _ => {}
            }
        }
        return Ok(upload);
    }
    if is_content_type(&request, "application/json") {
        let JsonBody(body) = JsonBody::from_request(request, state)
            .await
            .map_err(|e| e.0)?;
        let text = |body: &Option<Value>, name: &str| -> Result<Option<String>, ApiError> {
            match body.as_ref().and_then(|b| b.get(name)) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid_field(name, "must be a string")),
            }
        };
        if body
            .as_ref()
            .is_some_and(|b| !b.is_object() && !b.is_null())
        {
            return Err(ApiError::bad_request(
                keys::INVALID_BODY,
                "The request body must be a JSON object",
            ));
        }
        return Ok(Upload {
            file: None,
            version: text(&body, "version")?,
            changelog: text(&body, "changelog")?,
        });
    }
    let RawBody(bytes) = RawBody::from_request(request, state)
        .await
        .map_err(|e| e.0)?;
    Ok(Upload {
        file: (!bytes.is_empty()).then(|| bytes.to_vec()),
        ..Upload::default()
    })
}

/// `POST /connectors/{selector}/upload`: answers the connector.
async fn upload(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let el = connector(&state, &caller, selector).await?;
    let Some(zip) = read_upload(request, &state).await?.file else {
        return Err(ApiError::invalid_field(
            "file",
            "is required: send the source zip as the multipart form's `file`",
        )
        .into());
    };
    let el = state
        .engine
        .upload_connector_source(&caller, el, &zip)
        .await?;
    respond(&state, &caller, &el).await
}

/// `GET /connectors/{selector}/download?version=`: the zip.
async fn download(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = Query::parse(raw.as_deref());
    let el = connector(&state, &caller, selector).await?;
    let version = q.string("version");
    let zip = state
        .engine
        .connector_source_zip(&caller, &el, version.as_deref())
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"src.zip\"",
            ),
        ],
        zip,
    )
        .into_response())
}

/// `GET /connectors/{selector}/versions`: a bare array, as the CLI reads it.
async fn versions(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
) -> ApiResult<Json<Value>> {
    let el = connector(&state, &caller, selector).await?;
    Ok(Json(Value::Array(
        state.engine.connector_versions(&caller, &el).await?,
    )))
}

/// `POST /connectors/{selector}/publish-version`: answers the version.
async fn publish(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(selector): Path<String>,
    request: Request,
) -> ApiResult<Json<Value>> {
    let el = connector(&state, &caller, selector).await?;
    let upload = read_upload(request, &state).await?;
    let version = upload.version.unwrap_or_default();
    Ok(Json(
        state
            .engine
            .publish_connector_version(&caller, &el, upload.file, version.trim(), upload.changelog)
            .await?,
    ))
}

/// `PUT /connectors/{selector}/files/{*path}`: answers the connector.
async fn put_file(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((selector, path)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let el = connector(&state, &caller, selector).await?;
    let el = state
        .engine
        .change_connector_file(&caller, el, &path, Some(body.to_vec()))
        .await?;
    respond(&state, &caller, &el).await
}

/// `DELETE /connectors/{selector}/files/{*path}`: answers the connector.
async fn delete_file(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((selector, path)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let el = connector(&state, &caller, selector).await?;
    let el = state
        .engine
        .change_connector_file(&caller, el, &path, None)
        .await?;
    respond(&state, &caller, &el).await
}
