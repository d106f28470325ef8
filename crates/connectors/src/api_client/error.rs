//! How a call through a connector's API client fails, and the Membrane `ErrorData`
//! (`type: connection`) each failure becomes. Messages and data are masked by the
//! client before an error is built, so rendering one never shows a secret.

use std::borrow::Cow;
use std::time::Duration;

use osmosis_model::{ApiError, ErrorType};
use serde_json::{json, Value};

use crate::http::{AddressRefused, DeadlineExceeded, DEADLINE_EXCEEDED, OUTBOUND_ADDRESS_REFUSED};

/// How a request that got no response failed; decides whether it is retried
/// (see [`super::ApiClient::request`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// No connection was made (the name did not resolve, the connection was
    /// refused or connecting timed out): nothing reached the API.
    Connect,
    /// The attempt ran out of time after connecting.
    Timeout,
    /// The connection broke (reset, closed before a response).
    Other,
}

/// `ConnectionErrorKey` values.
pub mod keys {
    pub const ACCESS_TOKEN_EXPIRED: &str = "access_token_expired";
    pub const CONNECTION_IS_DEFUNCT: &str = "connection_is_defunct";
    pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
}

/// Status and body of the response that caused an error (headers left out: they may
/// echo cookies or tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseSummary {
    pub status: u16,
    pub data: Value,
}

impl ResponseSummary {
    fn to_json(&self) -> Value {
        json!({"status": self.status, "data": self.data})
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiClientError {
    /// 401, or a response handler with key `access_token_expired`: the caller may
    /// refresh credentials once and retry ([`super::call_with_refresh`]).
    #[error("Access token expired: {message}")]
    AccessTokenExpired {
        message: String,
        response: Option<ResponseSummary>,
    },
    /// Credentials can no longer be fixed by a refresh; the customer must reconnect.
    #[error("Connection is defunct: {message}")]
    ConnectionIsDefunct {
        message: String,
        data: Option<Value>,
    },
    /// 429 (or a handler saying so), still failing when retries ran out.
    #[error("Rate limit exceeded after {attempts} attempt(s): {message}")]
    RateLimitExceeded {
        message: String,
        attempts: u32,
        retry_after: Option<Duration>,
        response: Option<ResponseSummary>,
    },
    /// A non-success status no handler claimed (5xx after retries ran out).
    #[error("The API responded with status {status} after {attempts} attempt(s): {message}")]
    HttpStatus {
        status: u16,
        message: String,
        attempts: u32,
        retry_after: Option<Duration>,
        response: ResponseSummary,
    },
    /// A response handler classified the response as an error with another key.
    #[error("{message}")]
    Handler {
        key: Option<String>,
        message: String,
        data: Option<Value>,
    },
    /// The request did not complete (connection refused, reset, timed out).
    #[error("Request to the API failed after {attempts} attempt(s): {message}")]
    Transport {
        message: String,
        attempts: u32,
        kind: TransportKind,
    },
    /// The operation's deadline ([`crate::http::Deadline`]) passed before an
    /// answer came: an attempt was cut short, or none could start.
    #[error("{deadline} after {attempts} attempt(s)")]
    DeadlineExceeded {
        deadline: DeadlineExceeded,
        attempts: u32,
    },
    /// The outbound guard refused the request's host (a metadata, link-local or
    /// private address the allow list does not cover).
    #[error(transparent)]
    AddressRefused(AddressRefused),
    #[error("Invalid request URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// What `makeApiClient` returned cannot configure a client.
    #[error("makeApiClient returned an invalid client config: `{field}` {problem}")]
    InvalidConfig {
        field: String,
        problem: &'static str,
    },
    #[error("Response handler {index} could not be evaluated: {message}")]
    HandlerFormula { index: usize, message: String },
    /// A request option (method, header) is malformed.
    #[error("Invalid request: {0}")]
    InvalidRequest(String),
}

impl ApiClientError {
    pub fn is_access_token_expired(&self) -> bool {
        matches!(self, ApiClientError::AccessTokenExpired { .. })
    }

    pub fn is_connection_defunct(&self) -> bool {
        matches!(self, ApiClientError::ConnectionIsDefunct { .. })
    }

    /// The connection error key, when the error is one of the three connection
    /// conditions.
    pub fn key(&self) -> Option<&str> {
        match self {
            ApiClientError::AccessTokenExpired { .. } => Some(keys::ACCESS_TOKEN_EXPIRED),
            ApiClientError::ConnectionIsDefunct { .. } => Some(keys::CONNECTION_IS_DEFUNCT),
            ApiClientError::RateLimitExceeded { .. } => Some(keys::RATE_LIMIT_EXCEEDED),
            ApiClientError::Handler { key, .. } => key.as_deref(),
            ApiClientError::AddressRefused(_) => Some(OUTBOUND_ADDRESS_REFUSED),
            ApiClientError::DeadlineExceeded { .. } => Some(DEADLINE_EXCEEDED),
            _ => None,
        }
    }

    /// Whether retrying the same request may succeed (429 and 5xx).
    pub(crate) fn retry_hint(&self) -> Option<Option<Duration>> {
        match self {
            ApiClientError::RateLimitExceeded { retry_after, .. } => Some(*retry_after),
            ApiClientError::HttpStatus {
                status,
                retry_after,
                ..
            } if *status >= 500 => Some(*retry_after),
            _ => None,
        }
    }

    pub(crate) fn set_attempts(&mut self, n: u32) {
        match self {
            ApiClientError::RateLimitExceeded { attempts, .. }
            | ApiClientError::HttpStatus { attempts, .. }
            | ApiClientError::Transport { attempts, .. }
            | ApiClientError::DeadlineExceeded { attempts, .. } => *attempts = n,
            _ => {}
        }
    }

    /// The Membrane error body: `type: connection` with the connection key, and the
    /// failing response (status and masked body) under `data.response`.
    pub fn to_error_data(&self) -> ApiError {
        if let ApiClientError::AddressRefused(refused) = self {
            return refused.to_error_data();
        }
        if let ApiClientError::DeadlineExceeded { deadline, attempts } = self {
            let mut error = deadline.to_error_data();
            error.message = self.to_string();
            if let Some(Value::Object(data)) = error.data.as_deref_mut() {
                data.insert("attempts".into(), json!(attempts));
            }
            return error;
        }
        let key: Option<Cow<'static, str>> = match self.key() {
            Some(keys::ACCESS_TOKEN_EXPIRED) => Some(Cow::Borrowed(keys::ACCESS_TOKEN_EXPIRED)),
            Some(keys::CONNECTION_IS_DEFUNCT) => Some(Cow::Borrowed(keys::CONNECTION_IS_DEFUNCT)),
            Some(keys::RATE_LIMIT_EXCEEDED) => Some(Cow::Borrowed(keys::RATE_LIMIT_EXCEEDED)),
            Some(other) => Some(Cow::Owned(other.to_owned())),
            None => None,
        };
        let data = match self {
            ApiClientError::AccessTokenExpired {
                response: Some(r), ..
            }
            | ApiClientError::RateLimitExceeded {
                response: Some(r), ..
            }
            | ApiClientError::HttpStatus { response: r, .. } => {
                Some(json!({"response": r.to_json()}))
            }
            ApiClientError::ConnectionIsDefunct { data: Some(d), .. }
            | ApiClientError::Handler { data: Some(d), .. } => Some(d.clone()),
            _ => None,
        };
        ApiError {
            error_type: ErrorType::Connection,
            key,
            message: self.to_string(),
            data: data.map(Box::new),
        }
    }
}
