//! Why an auth step failed. Token endpoint bodies are masked before they get here.

use osmosis_model::{ApiError, ErrorType};
use serde_json::json;

use crate::api_client::keys;
use crate::function::FunctionError;
use crate::http::{AddressRefused, DeadlineExceeded, OutboundError};
use crate::redact::Redactor;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The OAuth config (from `getOAuthConfig`) lacks a field or has a wrong one.
    #[error("OAuth config: `{field}` {problem}")]
    InvalidConfig {
        field: &'static str,
        problem: String,
    },
    /// The provider's token endpoint refused the request (`{error,
    /// error_description}` per RFC 6749 §5.2 when it said why).
    #[error("the token endpoint answered {status}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    TokenEndpoint {
        status: u16,
        error: String,
        description: Option<String>,
    },
    /// The token response is not what the grant returns (no access token, not JSON
    /// nor form encoded).
    #[error("unexpected token response: {0}")]
    InvalidTokenResponse(String),
    #[error("request to the provider failed: {0}")]
    Transport(String),
    /// The token endpoint's address is one the outbound guard refuses.
    #[error(transparent)]
    AddressRefused(AddressRefused),
    /// The operation's deadline passed before the provider answered.
    #[error(transparent)]
    DeadlineExceeded(DeadlineExceeded),
    /// A refresh was needed but there is no refresh token (or the connector says it
    /// issues none).
    #[error("no refresh token to refresh the access token with")]
    NoRefreshToken,
    #[error("OAuth 1.0a: {0}")]
    OAuth1(String),
    #[error("signing the token failed: {0}")]
    TokenSigning(String),
    /// Boxed: a function failure is large and rare next to the other variants.
    #[error(transparent)]
    Function(Box<FunctionError>),
}

impl From<FunctionError> for AuthError {
    fn from(error: FunctionError) -> Self {
        AuthError::Function(Box::new(error))
    }
}

impl AuthError {
    /// A failed token request: refused by the outbound guard, or a transport
    /// failure with the URL dropped and secrets masked.
    pub(crate) fn outbound(error: OutboundError, redactor: &Redactor) -> Self {
        match error {
            OutboundError::Refused(refused) => AuthError::AddressRefused(refused),
            OutboundError::Request(e) => {
                AuthError::Transport(redactor.text(&e.without_url().to_string()))
            }
            OutboundError::DeadlineExceeded(e) => AuthError::DeadlineExceeded(e),
        }
    }

    /// A refused grant means the stored credentials cannot be repaired.
    pub fn to_error_data(&self) -> ApiError {
        match self {
            AuthError::Function(e) => e.to_error_data(),
            AuthError::TokenEndpoint { status, error, .. } => ApiError {
                error_type: ErrorType::Connection,
                key: (error == "invalid_grant" || *status == 401)
                    .then_some(std::borrow::Cow::Borrowed(keys::CONNECTION_IS_DEFUNCT)),
                message: self.to_string(),
                data: Some(Box::new(json!({"status": status, "error": error}))),
            },
            AuthError::NoRefreshToken => ApiError {
                error_type: ErrorType::Connection,
                key: Some(std::borrow::Cow::Borrowed(keys::CONNECTION_IS_DEFUNCT)),
                message: self.to_string(),
                data: None,
            },
            AuthError::InvalidConfig { .. } => ApiError::configuration(self.to_string()),
            AuthError::AddressRefused(refused) => refused.to_error_data(),
            AuthError::DeadlineExceeded(e) => e.to_error_data(),
            _ => ApiError::new(ErrorType::Connection, None, self.to_string()),
        }
    }
}
