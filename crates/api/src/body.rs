//! Request bodies: JSON objects (or YAML with a yaml content type), where an empty body counts as none whatever its
//! content type (axios sends body-less POSTs as `application/x-www-form-urlencoded`
//! with length 0, SDK quirk §13.20).

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use osmosis_model::error::keys;
use osmosis_model::ApiError;
use serde_json::{Map, Value};

use crate::error::ErrorResponse;

/// A JSON object body; empty when the request had none.
pub struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
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

/// Any JSON body, or `None` when there is none.
pub struct JsonBody(pub Option<Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let yaml = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.contains("yaml"));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ErrorResponse(ApiError::bad_request(
                keys::INVALID_BODY,
                format!("The request body could not be read: {e}"),
            ))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(None));
        }
        if yaml {
            // Connector and element definitions are often written as YAML (semantics §1.2).
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
