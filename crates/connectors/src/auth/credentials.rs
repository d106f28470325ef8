//! From auth results to stored credentials: the connector's functions when it defines
//! them, the documented defaults when it does not.

use serde_json::{json, Map, Value};

use super::oauth1::OAuth1Config;
use super::oauth2::OAuth2Config;
use super::AuthError;
use crate::definition::AuthFunction;
use crate::function::FunctionRunner;

fn merge(base: &Value, overlay: &Value) -> Value {
    let mut merged: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(overlay) = overlay {
        for (k, v) in overlay {
            merged.insert(k.clone(), v.clone());
        }
    }
    Value::Object(merged)
}

/// Default of `getCredentialsFromAccessTokenResponse`: the whole token response.
pub fn credentials_from_access_token_response(response: &Value) -> Value {
    response.clone()
}

/// Default of `getCredentialsFromRefreshTokenResponse`: the response merged into the
/// old credentials, keeping the old `refresh_token` when the response has none.
pub fn credentials_from_refresh_token_response(old: &Value, response: &Value) -> Value {
    let mut merged = merge(old, response);
    let has_new = response.get("refresh_token").is_some_and(|t| !t.is_null());
    if let (false, Some(previous)) = (has_new, old.get("refresh_token")) {
        merged["refresh_token"] = previous.clone();
    }
    merged
}

/// A refresh token the provider rotated is kept even when the connector's
/// `getCredentialsFromRefreshTokenResponse` leaves it out: with rotation on (Salesforce,
/// Notion, Zendesk, Airtable) the old one is revoked by the refresh, so dropping the new
/// one would fail the next refresh and force the customer to reconnect. A mapping that
/// names `refresh_token` itself still decides.
fn keep_rotated_refresh_token(mut credentials: Value, mapped: &Value, response: &Value) -> Value {
    let mapped_has_one = mapped.get("refresh_token").is_some_and(|t| !t.is_null());
    match response.get("refresh_token") {
        Some(rotated @ Value::String(_)) if !mapped_has_one => {
            credentials["refresh_token"] = rotated.clone();
            credentials
        }
        _ => credentials,
    }
}

/// Default for client-credentials connectors: the connection input becomes the
/// credentials, merged over any existing ones.
pub fn credentials_from_connection_parameters(existing: &Value, connection_input: &Value) -> Value {
    merge(existing, connection_input)
}

/// The auth steps that run connector functions, for one connection.
pub struct ConnectionCredentials<'a> {
    runner: &'a FunctionRunner,
    connection_input: Value,
}

impl<'a> ConnectionCredentials<'a> {
    pub fn new(runner: &'a FunctionRunner, connection_input: Value) -> Self {
        Self {
            runner,
            connection_input,
        }
    }

    async fn oauth_config_value(
        &self,
        redirect_uri: &str,
        state: &str,
    ) -> Result<Value, AuthError> {
        let input = json!({
            "connectorParameters": self.runner.connector_parameters(),
            "connectionInput": self.connection_input,
            "redirectUri": redirect_uri,
            "state": state,
        });
        let output = self
            .runner
            .run_auth_function(AuthFunction::GetOAuthConfig, input)
            .await?
            .ok_or(AuthError::InvalidConfig {
                field: "getOAuthConfig",
                problem: "is not defined by the connector".into(),
            })?;
        Ok(output.output)
    }

    /// `getOAuthConfig` for an OAuth 2 connector.
    pub async fn oauth2_config(
        &self,
        redirect_uri: &str,
        state: &str,
    ) -> Result<OAuth2Config, AuthError> {
        OAuth2Config::from_value(&self.oauth_config_value(redirect_uri, state).await?)
    }

    /// `getOAuthConfig` for an OAuth 1 connector.
    pub async fn oauth1_config(
        &self,
        redirect_uri: &str,
        state: &str,
    ) -> Result<OAuth1Config, AuthError> {
        OAuth1Config::from_value(&self.oauth_config_value(redirect_uri, state).await?)
    }

    /// Input of the token-response functions: the response's own fields (so
    /// `$.access_token` works) plus `tokenResponse`, parameters and connection input.
    fn token_input(&self, response: &Value) -> Value {
        let mut input = response.as_object().cloned().unwrap_or_default();
        input.insert("tokenResponse".into(), response.clone());
        input.insert(
            "connectorParameters".into(),
            self.runner.connector_parameters().clone(),
        );
        input.insert("connectionInput".into(), self.connection_input.clone());
        Value::Object(input)
    }

    /// Credentials after the code exchange: `getCredentialsFromAccessTokenResponse`
    /// (default: the response), with `getTokenData`'s output merged in when defined.
    pub async fn after_access_token(&self, response: &Value) -> Result<Value, AuthError> {
        let input = self.token_input(response);
        let credentials = match self
            .runner
            .run_auth_function(
                AuthFunction::GetCredentialsFromAccessTokenResponse,
                input.clone(),
            )
            .await?
        {
            Some(output) => output.output,
            None => credentials_from_access_token_response(response),
        };
        match self
            .runner
            .run_auth_function(AuthFunction::GetTokenData, input)
            .await?
        {
            Some(token_data) => Ok(merge(&credentials, &token_data.output)),
            None => Ok(credentials),
        }
    }

    /// Credentials after a refresh grant: `getCredentialsFromRefreshTokenResponse`
    /// merged into the old credentials (default: the response merged, old
    /// `refresh_token` kept).
    pub async fn after_refresh(&self, old: &Value, response: &Value) -> Result<Value, AuthError> {
        match self
            .runner
            .run_auth_function(
                AuthFunction::GetCredentialsFromRefreshTokenResponse,
                self.token_input(response),
            )
            .await?
        {
            Some(output) => Ok(keep_rotated_refresh_token(
                credentials_from_refresh_token_response(old, &output.output),
                &output.output,
                response,
            )),
            None => Ok(credentials_from_refresh_token_response(old, response)),
        }
    }

    /// Client-credentials / API-key connectors: `getCredentialsFromConnectionParameters`
    /// merged into the input, or the input itself.
    pub async fn from_connection_parameters(&self) -> Result<Value, AuthError> {
        let input = json!({
            "connectorParameters": self.runner.connector_parameters(),
            "connectionInput": self.connection_input,
        });
        match self
            .runner
            .run_auth_function(AuthFunction::GetCredentialsFromConnectionParameters, input)
            .await?
        {
            Some(output) => Ok(merge(&self.connection_input, &output.output)),
            None => Ok(credentials_from_connection_parameters(
                &json!({}),
                &self.connection_input,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotated_refresh_token_survives_a_mapping_that_omits_it() {
        let old = json!({"access_token": "a1", "refresh_token": "r1", "instance_url": "u1"});
        let response = json!({"access_token": "a2", "refresh_token": "r2", "instance_url": "u2"});
        let mapped = json!({"access_token": "a2", "instance_url": "u2"});
        let merged = credentials_from_refresh_token_response(&old, &mapped);
        assert_eq!(
            keep_rotated_refresh_token(merged.clone(), &mapped, &response),
            json!({"access_token": "a2", "refresh_token": "r2", "instance_url": "u2"})
        );
        // No rotation: the old one stays.
        let unrotated = json!({"access_token": "a2"});
        assert_eq!(
            keep_rotated_refresh_token(merged, &mapped, &unrotated)["refresh_token"],
            "r1"
        );
        // A mapping that sets its own refresh token decides.
        let chosen = json!({"access_token": "a2", "refresh_token": "mine"});
        let merged = credentials_from_refresh_token_response(&old, &chosen);
        assert_eq!(
            keep_rotated_refresh_token(merged, &chosen, &response)["refresh_token"],
            "mine"
        );
    }

    #[test]
    fn refresh_keeps_old_refresh_token_unless_replaced() {
        let old = json!({"access_token": "a1", "refresh_token": "r1", "extra": 1});
        assert_eq!(
            credentials_from_refresh_token_response(&old, &json!({"access_token": "a2"})),
            json!({"access_token": "a2", "refresh_token": "r1", "extra": 1})
        );
        assert_eq!(
            credentials_from_refresh_token_response(
                &old,
                &json!({"access_token": "a3", "refresh_token": "r2"})
            )["refresh_token"],
            "r2"
        );
    }
}
