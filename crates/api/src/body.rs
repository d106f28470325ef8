//! Request bodies: JSON objects (or YAML with a yaml content type), where an empty body counts as none whatever its
//! content type (axios sends body-less POSTs as `application/x-www-form-urlencoded`
//! with length 0, SDK quirk docs/spec/api-surface.md §13.20).

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use osmosis_model::error::keys;
use osmosis_model::ApiError;
use serde_json::{Map, Value};

use crate::error::ErrorResponse;
use crate::AppState;

/// A JSON object body; empty when the request had none.
pub struct JsonObject(pub Map<String, Value>);

impl FromRequest<AppState> for JsonObject {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        match JsonBody::from_request(req, state).await?.0 {
            None | Some(Value::Null) => Ok(JsonObject(Map::new())),
            Some(Value::Object(m)) => Ok(JsonObject(m)),
            Some(other) => Err(ApiError::bad_request(
                keys::INVALID_BODY,
                format!(
                    "The request body must be a JSON object, not {}",
                    osmosis_model::fields::json_type_name(&other)
                ),
            )
            .into()),
        }
    }
}

/// The body's bytes, up to the router's body limit and within the state's
/// [`AppState::body_timeout`]. A larger body is `413` with a `payload_too_large`
/// `ErrorData`, a late one `408` `request_timeout`; a body that breaks off is
/// `invalid_body`.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.body_timeout;
        let Ok(read) = tokio::time::timeout(limit, Bytes::from_request(req, state)).await else {
            return Err(ErrorResponse(ApiError::bad_request(
                keys::REQUEST_TIMEOUT,
                format!(
                    "The request body did not arrive within {} seconds",
                    limit.as_secs_f64()
                ),
            )));
        };
        read.map(RawBody).map_err(|e| {
            ErrorResponse(if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::bad_request(
                    keys::PAYLOAD_TOO_LARGE,
                    format!(
                        "The request body is larger than the {} MiB this server accepts",
                        crate::routes::MAX_BODY_BYTES / (1024 * 1024)
                    ),
                )
            } else {
                ApiError::bad_request(
                    keys::INVALID_BODY,
                    format!("The request body could not be read: {e}"),
                )
            })
        })
    }
}

/// Any JSON body, or `None` when there is none.
pub struct JsonBody(pub Option<Value>);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let yaml = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("yaml"));
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        if yaml {
            // Connector and element definitions are often written as YAML
            // (docs/spec/semantics.md §1.2).
            return serde_yaml::from_slice::<Value>(&bytes)
                .map(|v| JsonBody(Some(v)))
                .map_err(|e| {
                    ErrorResponse(ApiError::bad_request(
                        keys::INVALID_BODY,
                        format!("The request body is not valid YAML: {e}"),
                    ))
                });
        }
        serde_json::from_slice(&bytes)
            .map(|v| JsonBody(Some(v)))
            .map_err(|e| {
                ErrorResponse(ApiError::bad_request(
                    keys::INVALID_BODY,
                    format!("The request body is not valid JSON: {e}"),
                ))
            })
    }
}
