//! `membrane-token` / `integration-app-token` auth: the engine mints a JWT for the
//! customer, signed with the workspace secret, and sends it to the customer's own API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuthError;
use crate::definition::AuthType;

pub const MEMBRANE_TOKEN_HEADER: &str = "X-Membrane-Token";
pub const INTEGRATION_APP_TOKEN_HEADER: &str = "X-Integration-App-Token";

/// Claims of a minted token: `iss` the workspace key, `sub` the customer id, plus the
/// customer's `fields`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaims {
    pub iss: String,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Value>,
    pub iat: u64,
    pub exp: u64,
}

/// Mints an HS256 token valid for `ttl`.
pub fn mint_token(
    workspace_key: &str,
    workspace_secret: &str,
    customer_id: &str,
    fields: Option<Value>,
    ttl: Duration,
) -> Result<String, AuthError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = TokenClaims {
        iss: workspace_key.to_owned(),
        sub: customer_id.to_owned(),
        fields,
        iat: now,
        exp: now + ttl.as_secs().max(1),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(workspace_secret.as_bytes()),
    )
    .map_err(|e| AuthError::TokenSigning(e.to_string()))
}

/// The headers carrying the token: both for `membrane-token`, only the legacy one for
/// `integration-app-token`; none for other auth types.
pub fn token_headers(auth_type: AuthType, token: &str) -> Vec<(String, String)> {
    match auth_type {
        AuthType::MembraneToken => vec![
            (MEMBRANE_TOKEN_HEADER.to_owned(), token.to_owned()),
            (INTEGRATION_APP_TOKEN_HEADER.to_owned(), token.to_owned()),
        ],
        AuthType::IntegrationAppToken => {
            vec![(INTEGRATION_APP_TOKEN_HEADER.to_owned(), token.to_owned())]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    use serde_json::json;

    #[test]
    fn minted_token_verifies_with_the_workspace_secret() {
        let token = mint_token(
            "ws-key",
            "ws-secret",
            "cust-1",
            Some(json!({"plan": "pro"})),
            Duration::from_secs(300),
        )
        .unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&["ws-key"]);
        let data =
            decode::<TokenClaims>(&token, &DecodingKey::from_secret(b"ws-secret"), &validation)
                .unwrap();
        assert_eq!(data.claims.sub, "cust-1");
        assert_eq!(data.claims.fields, Some(json!({"plan": "pro"})));
        assert!(
            decode::<TokenClaims>(&token, &DecodingKey::from_secret(b"other"), &validation)
                .is_err()
        );

        let both = token_headers(AuthType::MembraneToken, &token);
        assert_eq!(both.len(), 2);
        let legacy = token_headers(AuthType::IntegrationAppToken, &token);
        assert_eq!(
            legacy,
            vec![(INTEGRATION_APP_TOKEN_HEADER.to_owned(), token.clone())]
        );
    }
}
