//! OAuth 2 (RFC 6749) as the connector's `getOAuthConfig` describes it: the authorize
//! URL (state, scopes, `extra`, PKCE S256 unless `skipPkce`), the code exchange and
//! refresh-token grant with client auth in the Basic header or the body per
//! `clientAuthLocation`, the client-credentials grant, and RFC 7009 revocation.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::form::post_token_request;
pub use super::form::TokenRequestFormat;
use super::AuthError;
use crate::http::OutboundClient;
use crate::redact::{Redactor, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthLocation {
    #[default]
    Headers,
    Body,
}

/// `OAUTH_CONFIG_SCHEMA`.
#[derive(Clone, PartialEq, Default)]
pub struct OAuth2Config {
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub authorize_uri: Option<String>,
    pub token_uri: String,
    pub scopes: Vec<String>,
    pub client_auth_location: ClientAuthLocation,
    pub token_request_format: TokenRequestFormat,
    pub no_refresh_token: bool,
    pub skip_pkce: bool,
    pub extra: Map<String, Value>,
    /// Deprecated switches, still honoured: they narrow where client auth goes.
    pub skip_client_auth_in_body: bool,
    pub skip_client_auth_in_header: bool,
}

impl fmt::Debug for OAuth2Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2Config")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("authorize_uri", &self.authorize_uri)
            .field("token_uri", &self.token_uri)
            .field("scopes", &self.scopes)
            .field("client_auth_location", &self.client_auth_location)
            .finish_non_exhaustive()
    }
}

fn string(value: &Value, field: &'static str, required: bool) -> Result<Option<String>, AuthError> {
    match value.get(field) {
        None | Some(Value::Null) if required => Err(AuthError::InvalidConfig {
            field,
            problem: "is missing".into(),
        }),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::InvalidConfig {
            field,
            problem: "must be a string".into(),
        }),
    }
}

pub(crate) fn scopes(value: &Value) -> Result<Vec<String>, AuthError> {
    match value.get("scopes") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or(AuthError::InvalidConfig {
                        field: "scopes",
                        problem: "must be an array of strings".into(),
                    })
            })
            .collect(),
        // Some connectors give one space-separated string.
        Some(Value::String(s)) => Ok(s.split_whitespace().map(str::to_owned).collect()),
        Some(_) => Err(AuthError::InvalidConfig {
            field: "scopes",
            problem: "must be an array of strings".into(),
        }),
    }
}

impl OAuth2Config {
    /// Reads the output of `getOAuthConfig`.
    pub fn from_value(value: &Value) -> Result<Self, AuthError> {
        let client_auth_location = match string(value, "clientAuthLocation", false)?.as_deref() {
            None | Some("headers") => ClientAuthLocation::Headers,
            Some("body") => ClientAuthLocation::Body,
            Some(other) => {
                return Err(AuthError::InvalidConfig {
                    field: "clientAuthLocation",
                    problem: format!("must be `headers` or `body`, not `{other}`"),
                })
            }
        };
        let token_request_format = match string(value, "tokenRequestFormat", false)?.as_deref() {
            None | Some("form") => TokenRequestFormat::Form,
            Some("json") => TokenRequestFormat::Json,
            Some(other) => {
                return Err(AuthError::InvalidConfig {
                    field: "tokenRequestFormat",
                    problem: format!("must be `form` or `json`, not `{other}`"),
                })
            }
        };
        let flag = |name: &str| value.get(name).and_then(Value::as_bool).unwrap_or(false);
        Ok(Self {
            client_id: string(value, "clientId", true)?.unwrap_or_default(),
            client_secret: string(value, "clientSecret", false)?.map(Secret::new),
            authorize_uri: string(value, "authorizeUri", false)?,
            token_uri: string(value, "tokenUri", true)?.unwrap_or_default(),
            scopes: scopes(value)?,
            client_auth_location,
            token_request_format,
            no_refresh_token: flag("noRefreshToken"),
            skip_pkce: flag("skipPkce"),
            extra: value
                .get("extra")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            skip_client_auth_in_body: flag("skipClientAuthInBody"),
            skip_client_auth_in_header: flag("skipClientAuthInHeader"),
        })
    }

    fn redactor(&self) -> Redactor {
        match &self.client_secret {
            Some(s) => Redactor::new().with_secret(s.expose().to_owned()),
            None => Redactor::new(),
        }
    }

    /// Posts `params` to a token endpoint with this client's authentication, in the
    /// encoding the provider takes.
    async fn token_request(
        &self,
        http: &OutboundClient,
        url: &str,
        mut params: Vec<(String, String)>,
        redactor: &Redactor,
    ) -> Result<Value, AuthError> {
        let authorization = self.client_auth(&mut params);
        post_token_request(
            http,
            url,
            &params,
            self.token_request_format,
            authorization,
            redactor,
        )
        .await
    }

    /// Client authentication for a token request: the Basic header (RFC 6749 §2.3.1,
    /// form-encoded id and secret) or `client_id`/`client_secret` form fields.
    fn client_auth(&self, form: &mut Vec<(String, String)>) -> Option<String> {
        let header = self.client_auth_location == ClientAuthLocation::Headers
            && !self.skip_client_auth_in_header
            && self.client_secret.is_some();
        if header {
            let encode =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let secret = self
                .client_secret
                .as_ref()
                .map(Secret::expose)
                .unwrap_or("");
            let pair = format!("{}:{}", encode(&self.client_id), encode(secret));
            // Public identification still goes in the body; only the secret moves.
            form.push(("client_id".into(), self.client_id.clone()));
            return Some(format!("Basic {}", STANDARD.encode(pair)));
        }
        form.push(("client_id".into(), self.client_id.clone()));
        if !self.skip_client_auth_in_body {
            if let Some(secret) = &self.client_secret {
                form.push(("client_secret".into(), secret.expose().to_owned()));
            }
        }
        None
    }
}

/// What starting an authorization produces: the URL to send the browser to, and what
/// must be kept until the callback (`state`, the PKCE verifier).
#[derive(Clone, PartialEq)]
pub struct AuthorizeRequest {
    pub url: String,
    pub state: String,
    pub code_verifier: Option<Secret>,
}

impl fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeRequest")
            .field("url", &self.url)
            .field("state", &self.state)
            .field("code_verifier", &self.code_verifier)
            .finish()
    }
}

/// A random URL-safe string of `bytes` random bytes (state values, PKCE verifiers).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// PKCE S256 challenge of a verifier (RFC 7636 §4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Builds the authorize URL. `state` ties the callback to the pending request; scopes
/// are space separated; `extra` entries are added as query parameters.
pub fn authorize_url(
    config: &OAuth2Config,
    redirect_uri: &str,
    state: &str,
) -> Result<AuthorizeRequest, AuthError> {
    let base = config
        .authorize_uri
        .as_deref()
        .ok_or(AuthError::InvalidConfig {
            field: "authorizeUri",
            problem: "is missing".into(),
        })?;
    let mut url = url::Url::parse(base).map_err(|e| AuthError::InvalidConfig {
        field: "authorizeUri",
        problem: e.to_string(),
    })?;
    let code_verifier = (!config.skip_pkce).then(|| random_token(48));
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("response_type", "code");
        if !config.scopes.is_empty() {
            query.append_pair("scope", &config.scopes.join(" "));
        }
        query.append_pair("state", state);
        if let Some(verifier) = &code_verifier {
            query
                .append_pair("code_challenge", &pkce_challenge(verifier))
                .append_pair("code_challenge_method", "S256");
        }
        for (name, value) in &config.extra {
            match value {
                Value::Null => {}
                Value::String(s) => {
                    query.append_pair(name, s);
                }
                other => {
                    query.append_pair(name, &other.to_string());
                }
            }
        }
    }
    Ok(AuthorizeRequest {
        url: url.into(),
        state: state.to_owned(),
        code_verifier: code_verifier.map(Secret::new),
    })
}

fn require_access_token(response: Value, config: &OAuth2Config) -> Result<Value, AuthError> {
    if response
        .get("access_token")
        .and_then(Value::as_str)
        .is_none()
    {
        return Err(AuthError::InvalidTokenResponse(format!(
            "no `access_token` (fields: {})",
            response
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_default()
        )));
    }
    if !config.no_refresh_token && response.get("refresh_token").is_none() {
        // Not an error: many providers only issue one on first consent. The default
        // credential derivation keeps the previous one.
    }
    Ok(response)
}

/// Exchanges the callback's `code` for tokens (RFC 6749 §4.1.3). Returns the raw token
/// response (JSON or form-encoded, as an object).
pub async fn exchange_code(
    http: &OutboundClient,
    config: &OAuth2Config,
    code: &str,
    redirect_uri: &str,
    code_verifier: Option<&Secret>,
) -> Result<Value, AuthError> {
    let mut form = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("code".to_owned(), code.to_owned()),
        ("redirect_uri".to_owned(), redirect_uri.to_owned()),
    ];
    if let Some(verifier) = code_verifier {
        form.push(("code_verifier".into(), verifier.expose().to_owned()));
    }
    let redactor = config.redactor().with_secret(code.to_owned());
    let response = config
        .token_request(http, &config.token_uri, form, &redactor)
        .await?;
    require_access_token(response, config)
}

/// The refresh-token grant (RFC 6749 §6).
pub async fn refresh_token(
    http: &OutboundClient,
    config: &OAuth2Config,
    refresh_token: &str,
) -> Result<Value, AuthError> {
    if config.no_refresh_token {
        return Err(AuthError::NoRefreshToken);
    }
    let form = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), refresh_token.to_owned()),
    ];
    let redactor = config.redactor().with_secret(refresh_token.to_owned());
    let response = config
        .token_request(http, &config.token_uri, form, &redactor)
        .await?;
    require_access_token(response, config)
}

/// The client-credentials grant (RFC 6749 §4.4).
pub async fn client_credentials_grant(
    http: &OutboundClient,
    config: &OAuth2Config,
) -> Result<Value, AuthError> {
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    if !config.scopes.is_empty() {
        form.push(("scope".into(), config.scopes.join(" ")));
    }
    let response = config
        .token_request(http, &config.token_uri, form, &config.redactor())
        .await?;
    require_access_token(response, config)
}

/// Token revocation (RFC 7009) at `revoke_uri`, for providers that have one.
pub async fn revoke_token(
    http: &OutboundClient,
    config: &OAuth2Config,
    revoke_uri: &str,
    token: &str,
    token_type_hint: Option<&str>,
) -> Result<(), AuthError> {
    let mut form = vec![("token".to_owned(), token.to_owned())];
    if let Some(hint) = token_type_hint {
        form.push(("token_type_hint".into(), hint.to_owned()));
    }
    let redactor = config.redactor().with_secret(token.to_owned());
    config
        .token_request(http, revoke_uri, form, &redactor)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pkce_challenge_is_base64url_sha256() {
        // Expected value computed independently with Python's hashlib + base64.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CQP-jbVLBeRgdPmmNDdxgP_sysLXh8vvzM"),
            "dAzZAXux1jZijZxG8qmQ_cI5IQoj1-eS03ngpGQNDqw"
        );
    }

    #[test]
    fn authorize_url_has_state_scopes_extra_and_pkce() {
        let config = OAuth2Config::from_value(&json!({
            "clientId": "cid", "clientSecret": "shh-secret", "authorizeUri": "https://p.example/auth?x=1",
            "tokenUri": "https://p.example/token", "scopes": ["read", "write"],
            "extra": {"access_type": "offline", "prompt": "consent"}
        }))
        .unwrap();
        let request = authorize_url(&config, "https://me.example/cb", "st-1").unwrap();
        let url = url::Url::parse(&request.url).unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["x"], "1");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["redirect_uri"], "https://me.example/cb");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "read write");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["code_challenge_method"], "S256");
        let verifier = request.code_verifier.as_ref().unwrap();
        assert_eq!(q["code_challenge"], pkce_challenge(verifier.expose()));
        assert!(!format!("{config:?} {request:?}").contains("shh-secret"));
        assert!(!format!("{request:?}").contains(verifier.expose()));

        let no_pkce = OAuth2Config {
            skip_pkce: true,
            ..config
        };
        let request = authorize_url(&no_pkce, "https://me.example/cb", "st-2").unwrap();
        assert!(request.code_verifier.is_none());
        assert!(!request.url.contains("code_challenge"));
    }

    #[test]
    fn config_rejects_bad_client_auth_location() {
        let err = OAuth2Config::from_value(
            &json!({"clientId": "a", "tokenUri": "t", "clientAuthLocation": "query"}),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            AuthError::InvalidConfig {
                field: "clientAuthLocation",
                ..
            }
        ));
        let err = OAuth2Config::from_value(&json!({"clientId": "a"})).unwrap_err();
        assert!(matches!(
            err,
            AuthError::InvalidConfig {
                field: "tokenUri",
                ..
            }
        ));
    }
}
