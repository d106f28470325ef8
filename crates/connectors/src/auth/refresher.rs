//! The [`CredentialsRefresher`] that follows the connector: its `refreshCredentials`
//! function, else the OAuth 2 refresh-token grant, else re-deriving client
//! credentials from the connection input.

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::credentials::ConnectionCredentials;
use super::error::AuthError;
use super::oauth2;
use crate::api_client::{CredentialsRefresher, RefreshError};
use crate::definition::{AuthFunction, AuthType};
use crate::function::FunctionRunner;

pub struct ConnectorRefresher<'a> {
    runner: &'a FunctionRunner,
    connection_input: Value,
}

impl<'a> ConnectorRefresher<'a> {
    pub fn new(runner: &'a FunctionRunner, connection_input: Value) -> Self {
        Self {
            runner,
            connection_input,
        }
    }
}

fn failed(error: impl std::fmt::Display) -> RefreshError {
    RefreshError::Failed(error.to_string())
}

/// A refused grant is final; an unreachable, refused-by-guard or failing token
/// endpoint is not.
fn from_auth(error: AuthError) -> RefreshError {
    match &error {
        AuthError::Transport(_) => RefreshError::Unavailable(error.to_string()),
        // The operator's allow list, not the grant, is in the way: condemning the
        // connection would outlast a fix of the setting.
        AuthError::AddressRefused(_) => RefreshError::Unavailable(error.to_string()),
        // The call's deadline says nothing about the grant.
        AuthError::DeadlineExceeded(_) => RefreshError::Unavailable(error.to_string()),
        AuthError::TokenEndpoint { status, .. } if *status >= 500 || *status == 429 => {
            RefreshError::Unavailable(error.to_string())
        }
        _ => RefreshError::Failed(error.to_string()),
    }
}

#[async_trait]
impl CredentialsRefresher for ConnectorRefresher<'_> {
    async fn refresh(&self, credentials: &Value) -> Result<Value, RefreshError> {
        let auth = self.runner.auth();
        if auth.function(AuthFunction::RefreshCredentials).is_some() {
            let input = json!({
                "connectorParameters": self.runner.connector_parameters(),
                "connectionParameters": self.connection_input,
                "credentials": credentials,
            });
            let output = self
                .runner
                .run_auth_function(AuthFunction::RefreshCredentials, input)
                .await
                .map_err(|e| match e.api_error() {
                    Some(crate::api_client::ApiClientError::DeadlineExceeded { .. }) => {
                        RefreshError::Unavailable(e.to_string())
                    }
                    _ => failed(e),
                })?
                .map(|o| o.output)
                .unwrap_or(Value::Null);
            let mut merged: Map<String, Value> =
                credentials.as_object().cloned().unwrap_or_default();
            if let Value::Object(new) = output {
                merged.extend(new);
            }
            return Ok(Value::Object(merged));
        }
        let steps = ConnectionCredentials::new(self.runner, self.connection_input.clone());
        match auth.auth_type {
            Some(AuthType::OAuth2) => {
                let Some(refresh_token) = credentials.get("refresh_token").and_then(Value::as_str)
                else {
                    return Err(RefreshError::NotSupported(
                        "the credentials hold no refresh_token".into(),
                    ));
                };
                let config = steps.oauth2_config("", "").await.map_err(failed)?;
                let response = oauth2::refresh_token(self.runner.http(), &config, refresh_token)
                    .await
                    .map_err(from_auth)?;
                steps
                    .after_refresh(credentials, &response)
                    .await
                    .map_err(failed)
            }
            Some(AuthType::ClientCredentials)
                if auth
                    .function(AuthFunction::GetCredentialsFromConnectionParameters)
                    .is_some() =>
            {
                let fresh = steps.from_connection_parameters().await.map_err(failed)?;
                let mut merged: Map<String, Value> =
                    credentials.as_object().cloned().unwrap_or_default();
                if let Value::Object(new) = fresh {
                    merged.extend(new);
                }
                Ok(Value::Object(merged))
            }
            other => Err(RefreshError::NotSupported(format!(
                "auth type {} has no refresh",
                other.map(|t| t.as_str()).unwrap_or("(none)")
            ))),
        }
    }
}
