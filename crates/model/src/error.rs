//! `ErrorData`: the one error body of the API.
//!
//! The SDK decides which error class to throw from `type` alone and never reads the
//! HTTP status (docs/spec/api-surface.md §1.5), so `type` and `key` are the contract;
//! the status is derived from them for other clients.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Every `type` the SDK maps to an error class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    BadRequest,
    Connection,
    Configuration,
    DependencyError,
    FlowRun,
    FlowInstanceSetup,
    Concurrency,
    Internal,
    ActionRun,
    ActionInstanceSetup,
    UnitRun,
    CustomCode,
    InsufficientCredit,
    OpenrouterNotConfigured,
}

/// Keys of `bad_request` errors that the SDK names (`BadRequestErrorKey`), plus the
/// keys Osmosis adds for input validation.
pub mod keys {
    pub const NOT_FOUND: &str = "not_found";
    pub const NOT_AUTHENTICATED: &str = "not_authenticated";
    pub const ACCESS_DENIED: &str = "access_denied";
    pub const ALREADY_EXISTS: &str = "already_exists";
    pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";
    /// A request field has the wrong type, an unknown value or is missing.
    pub const INVALID_FIELD: &str = "invalid_field";
    /// The body is not JSON (or not an object where one is required).
    pub const INVALID_BODY: &str = "invalid_body";
    /// A query parameter is out of range or of the wrong type.
    pub const INVALID_QUERY: &str = "invalid_query";
    /// The element is archived or read-only and cannot be changed.
    pub const NOT_EDITABLE: &str = "not_editable";
    /// What the URL names was archived: it existed and will not come back by
    /// retrying (HTTP 410), as a webhook delivery to an archived subscription.
    pub const GONE: &str = "gone";
    /// What the request asks for is not there yet (a background job still
    /// running has nothing to download).
    pub const NOT_READY: &str = "not_ready";
    /// An import was refused as a whole (its `data.refused` names each element
    /// and why); nothing was written.
    pub const IMPORT_REFUSED: &str = "import_refused";
    /// The element is used by customers (connections, instances), so it is not
    /// archived without being told to.
    pub const IN_USE: &str = "in_use";
    /// The request needs a capability this build does not have.
    pub const NOT_SUPPORTED: &str = "not_supported";
    /// `concurrency` key for a stale `revision`.
    pub const STALE_REVISION: &str = "stale_revision";
    /// The request body is larger than the server accepts (HTTP 413).
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The request body did not arrive in time (HTTP 408).
    pub const REQUEST_TIMEOUT: &str = "request_timeout";
    /// `connection` key: the credentials need refreshing and the app could not be
    /// reached to refresh them (HTTP 503: retrying later may work).
    pub const REFRESH_UNAVAILABLE: &str = "refresh_unavailable";
    /// `connection` key (HTTP 504): the call's total deadline passed before the
    /// external app answered (retries included).
    pub const DEADLINE_EXCEEDED: &str = "deadline_exceeded";
    /// `internal` key (503): the database cannot be reached right now; the request
    /// was fine and may be retried shortly.
    pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
    /// `internal` key (507): the database's disk is full, so the write was not made.
    pub const STORAGE_FULL: &str = "storage_full";
    /// `internal` key (500): a connection's sealed credentials do not open with
    /// the server's keys — the row was tampered with or copied from another
    /// connection, or the key that sealed them is no longer configured. Nothing
    /// about the request is wrong, so it is a server-side fault, not a
    /// `bad_request`; and not retryable, as a 503 would suggest: reconnecting
    /// (new credentials sealed in place) or restoring the key fixes it.
    pub const CREDENTIALS_UNREADABLE: &str = "credentials_unreadable";
}

/// The API's error body, `ErrorData {type, key, message, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Cow<'static, str>>,
    pub message: String,
    /// Boxed: errors travel in every `Result`, and most carry no data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<Value>>,
}

impl ApiError {
    pub fn new(
        error_type: ErrorType,
        key: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            error_type,
            key: key.map(Cow::Borrowed),
            message: message.into(),
            data: None,
        }
    }

    pub fn bad_request(key: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorType::BadRequest, Some(key), message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::bad_request(keys::NOT_FOUND, message)
    }

    pub fn not_authenticated(message: impl Into<String>) -> Self {
        Self::bad_request(keys::NOT_AUTHENTICATED, message)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        Self::bad_request(keys::ACCESS_DENIED, message)
    }

    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::bad_request(keys::ALREADY_EXISTS, message)
    }

    /// A field of the request is wrong; `field` is its dotted path.
    pub fn invalid_field(field: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(
            keys::INVALID_FIELD,
            format!("Invalid field `{field}`: {message}"),
        )
        .with_data(serde_json::json!({ "field": field }))
    }

    pub fn invalid_query(param: &str, message: impl std::fmt::Display) -> Self {
        Self::bad_request(
            keys::INVALID_QUERY,
            format!("Invalid query parameter `{param}`: {message}"),
        )
        .with_data(serde_json::json!({ "parameter": param }))
    }

    pub fn stale_revision(expected: &str) -> Self {
        Self::new(
            ErrorType::Concurrency,
            Some(keys::STALE_REVISION),
            format!("The element was changed by someone else: revision `{expected}` is not the current revision"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, None, message)
    }

    /// The database cannot be reached (503). The message names no server: clients
    /// only learn to retry.
    pub fn database_unavailable() -> Self {
        Self::new(
            ErrorType::Internal,
            Some(keys::DATABASE_UNAVAILABLE),
            "The database cannot be reached; retry shortly",
        )
    }

    /// The database's disk is full (507).
    pub fn storage_full() -> Self {
        Self::new(
            ErrorType::Internal,
            Some(keys::STORAGE_FULL),
            "The database's disk is full; the write was not made",
        )
    }

    pub fn configuration(message: impl Into<String>) -> Self {
        Self::new(ErrorType::Configuration, None, message)
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(Box::new(data));
        self
    }

    /// The HTTP status other clients see (the SDK ignores it).
    ///
    /// `connection` errors are the external app's answer to what the customer
    /// gave (wrong credentials, a refused test, a revoked grant): 400, not a
    /// server error. Only the app itself failing is a gateway error — 502 when it
    /// answered with a 5xx (`data.response.status`), 503 when a refresh could not
    /// reach it, 504 when it did not answer within the call's deadline — and an
    /// exhausted rate limit is 429. A connector's own code
    /// throwing (`custom_code`) is the connector's fault, like its configuration:
    /// 400, as retrying it cannot help.
    pub fn http_status(&self) -> u16 {
        match (self.error_type, self.key.as_deref()) {
            (ErrorType::BadRequest, Some(keys::PAYLOAD_TOO_LARGE)) => 413,
            (ErrorType::BadRequest, Some(keys::REQUEST_TIMEOUT)) => 408,
            (ErrorType::Connection, Some(keys::RATE_LIMIT_EXCEEDED)) => 429,
            (ErrorType::Connection, Some(keys::REFRESH_UNAVAILABLE)) => 503,
            (ErrorType::Connection, Some(keys::DEADLINE_EXCEEDED)) => 504,
            (ErrorType::Connection, _) if self.upstream_status().is_some_and(|s| s >= 500) => 502,
            (ErrorType::Connection, _) => 400,
            (ErrorType::BadRequest, Some(keys::NOT_FOUND)) => 404,
            (ErrorType::BadRequest, Some(keys::NOT_AUTHENTICATED)) => 401,
            (ErrorType::BadRequest, Some(keys::ACCESS_DENIED)) => 403,
            (ErrorType::BadRequest, Some(keys::ALREADY_EXISTS)) => 409,
            (ErrorType::BadRequest, Some(keys::GONE)) => 410,
            (ErrorType::BadRequest, Some(keys::NOT_READY)) => 409,
            (ErrorType::BadRequest, Some(keys::RATE_LIMIT_EXCEEDED)) => 429,
            (ErrorType::BadRequest, _) => 400,
            (ErrorType::Concurrency, _) => 409,
            (ErrorType::Configuration, _)
            | (ErrorType::DependencyError, _)
            | (ErrorType::CustomCode, _) => 400,
            (ErrorType::InsufficientCredit, _) => 402,
            (ErrorType::Internal, Some(keys::DATABASE_UNAVAILABLE)) => 503,
            (ErrorType::Internal, Some(keys::STORAGE_FULL)) => 507,
            _ => 500,
        }
    }

    /// The status of the external API response behind a `connection` error.
    fn upstream_status(&self) -> Option<u64> {
        self.data.as_ref()?.get("response")?.get("status")?.as_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_faults_have_their_own_statuses() {
        assert_eq!(ApiError::database_unavailable().http_status(), 503);
        assert_eq!(ApiError::storage_full().http_status(), 507);
        assert_eq!(ApiError::internal("other").http_status(), 500);
        let body = serde_json::to_value(ApiError::storage_full()).unwrap();
        assert_eq!(body["type"], "internal");
        assert_eq!(body["key"], "storage_full");
    }
}
