//! Reacting to an expired access token: refresh the credentials once through a
//! caller-supplied [`CredentialsRefresher`], then retry the call with the new ones.

use std::future::Future;

use async_trait::async_trait;
use serde_json::Value;

/// Produces fresh credentials for a connection (runs the connector's
/// `refreshCredentials`, or the OAuth 2 refresh-token grant). Implementations return
/// the full new credentials, already merged with the old ones.
#[async_trait]
pub trait CredentialsRefresher: Send + Sync {
    async fn refresh(&self, credentials: &Value) -> Result<Value, RefreshError>;
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// The connector has no way to refresh (no `refreshCredentials`, no refresh token).
    #[error("the connector cannot refresh credentials: {0}")]
    NotSupported(String),
    /// The refresh was attempted and refused; the connection needs the customer to
    /// reconnect.
    #[error("refreshing credentials failed: {0}")]
    Failed(String),
    /// The provider could not be asked (network failure, 5xx, 429): nothing is known
    /// to be wrong with the credentials, so a later attempt may succeed.
    #[error("the provider is unavailable for a refresh: {0}")]
    Unavailable(String),
}

/// Errors that can report the `access_token_expired` condition.
pub trait TokenExpiry {
    fn is_access_token_expired(&self) -> bool;
}

impl TokenExpiry for super::ApiClientError {
    fn is_access_token_expired(&self) -> bool {
        super::ApiClientError::is_access_token_expired(self)
    }
}

/// The result of a call, with the credentials it ended up using when they were
/// refreshed on the way (the caller stores them).
#[derive(Debug, Clone, PartialEq)]
pub struct Refreshed<T> {
    pub value: T,
    pub new_credentials: Option<Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum WithRefreshError<E: std::error::Error + 'static> {
    /// The call failed (after a refresh, if its first failure was an expired token).
    #[error(transparent)]
    Call(E),
    /// The token had expired and refreshing it failed.
    #[error(transparent)]
    Refresh(RefreshError),
}

/// Calls `call(credentials)`; on `access_token_expired`, refreshes once and calls again
/// with the new credentials. A second expiry is returned as the call's error: a
/// connection whose fresh token is refused needs attention, not a loop.
pub async fn call_with_refresh<T, E, F, Fut>(
    credentials: Value,
    refresher: &dyn CredentialsRefresher,
    mut call: F,
) -> Result<Refreshed<T>, WithRefreshError<E>>
where
    E: TokenExpiry + std::error::Error + 'static,
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    match call(credentials.clone()).await {
        Ok(value) => Ok(Refreshed {
            value,
            new_credentials: None,
        }),
        Err(error) if error.is_access_token_expired() => {
            let fresh = refresher
                .refresh(&credentials)
                .await
                .map_err(WithRefreshError::Refresh)?;
            let value = call(fresh.clone()).await.map_err(WithRefreshError::Call)?;
            Ok(Refreshed {
                value,
                new_credentials: Some(fresh),
            })
        }
        Err(error) => Err(WithRefreshError::Call(error)),
    }
}
