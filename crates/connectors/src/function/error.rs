//! Why running a connector function failed.

use osmosis_model::{ApiError, ErrorType};
use osmosis_sandbox::LogEntry;
use serde_json::{json, Value};

use crate::api_client::{ApiClientError, TokenExpiry};

#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The connector marks this function `not-supported`.
    #[error("{origin}: not supported by this connector")]
    NotSupported { origin: String },
    /// The connector does not define a function the call needs.
    #[error("the connector does not define `{function}`")]
    NotDefined { function: String },
    #[error("{origin}: formula failed: {message}")]
    Formula { origin: String, message: String },
    /// The external API call failed; keeps the connection condition (expired token,
    /// defunct, rate limit) visible to the caller.
    #[error("{origin}: {source}")]
    Api {
        origin: String,
        /// Boxed: API errors carry the failing response and are rare.
        #[source]
        source: Box<ApiClientError>,
    },
    /// The JavaScript function failed (message and logs masked).
    #[error("{origin}: {message}")]
    Javascript {
        origin: String,
        message: String,
        stack: Option<String>,
        logs: Vec<LogEntry>,
    },
    #[error("{origin}: the GraphQL API returned errors: {errors}")]
    Graphql { origin: String, errors: Value },
    #[error("{origin}: operation `{key}` is not defined by the connector")]
    UnknownOperation { origin: String, key: String },
    /// Operation mappings calling operations calling … past a sane depth.
    #[error("{origin}: operation mappings nest deeper than {limit}")]
    TooDeep { origin: String, limit: usize },
    /// The function's output does not have the shape its caller needs.
    #[error("{origin}: {message}")]
    InvalidOutput { origin: String, message: String },
    /// The request the mapping produced cannot be sent.
    #[error("{origin}: {message}")]
    InvalidRequest { origin: String, message: String },
}

impl TokenExpiry for FunctionError {
    fn is_access_token_expired(&self) -> bool {
        matches!(self, FunctionError::Api { source, .. } if source.is_access_token_expired())
    }
}

impl FunctionError {
    pub fn api_error(&self) -> Option<&ApiClientError> {
        match self {
            FunctionError::Api { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }

    /// The Membrane error body: the API client's `connection` error, the sandbox's
    /// `custom_code` error, or a `configuration` error for a connector that does not
    /// define or support what was asked.
    pub fn to_error_data(&self) -> ApiError {
        match self {
            FunctionError::Api { source, .. } => source.to_error_data(),
            FunctionError::Javascript { stack, logs, .. } => ApiError {
                error_type: ErrorType::CustomCode,
                key: None,
                message: self.to_string(),
                data: Some(Box::new(json!({"stack": stack, "logs": logs}))),
            },
            FunctionError::NotSupported { .. }
            | FunctionError::NotDefined { .. }
            | FunctionError::UnknownOperation { .. }
            | FunctionError::TooDeep { .. } => ApiError::configuration(self.to_string()),
            // Built from what the caller gave (a path parameter without a value, a
            // method request that is not an object, a filter field the collection
            // does not allow): the caller's to fix, not a server error.
            FunctionError::InvalidRequest { .. } => {
                ApiError::bad_request(osmosis_model::error::keys::INVALID_BODY, self.to_string())
            }
            FunctionError::Graphql { errors, .. } => ApiError {
                error_type: ErrorType::Connection,
                key: None,
                message: self.to_string(),
                data: Some(Box::new(json!({"errors": errors}))),
            },
            _ => ApiError::internal(self.to_string()),
        }
    }
}
