//! OAuth 2, OAuth 1.0a and client-credentials flows against mock providers.

use std::collections::HashMap;
use std::sync::Arc;

use osmosis_connectors::api_client::CredentialsRefresher;
use osmosis_connectors::auth::oauth1::{self, OAuth1Config};
use osmosis_connectors::auth::oauth2::{self, OAuth2Config};
use osmosis_connectors::auth::{AuthError, ConnectionCredentials, ConnectorRefresher};
use osmosis_connectors::definition::Connector;
use osmosis_connectors::function::FunctionRunner;
use serde_json::json;

use crate::mock;
use crate::mock::oauth2::{CLIENT_ID, CLIENT_SECRET};

fn oauth2_connector(clientauth: &str) -> Connector {
    Connector::from_value(&json!({
        "type": "oauth2",
        "getOAuthConfig": {"type": "mapping", "mapping": {
            "clientId": {"$var": "$.connectorParameters.clientId"},
            "clientSecret": {"$var": "$.connectorParameters.clientSecret"},
            "authorizeUri": {"$tpl": {"template": "{base}/authorize", "values": {"base": {"$var": "$.connectorParameters.base"}}}},
            "tokenUri": {"$tpl": {"template": "{base}/token", "values": {"base": {"$var": "$.connectorParameters.base"}}}},
            "scopes": ["read"],
            "clientAuthLocation": clientauth,
            "extra": {"audience": {"$var": "$.connectionInput.audience"}}
        }},
        "getCredentialsFromAccessTokenResponse": {"type": "mapping", "mapping": {
            "access_token": {"$var": "$.tokenResponse.access_token"},
            "refresh_token": {"$var": "$.refresh_token"},
            "audience": {"$var": "$.connectionInput.audience"}
        }}
    }))
    .unwrap()
}

#[tokio::test]
async fn oauth2_authorization_code_with_pkce_then_refresh() {
    let provider = Arc::new(mock::oauth2::Provider::default());
    let base = mock::serve(mock::oauth2::app(provider.clone())).await;
    // The "browser" stops at redirects; the runner's calls go through the guard.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let http = mock::outbound();
    for location in ["headers", "body"] {
        let runner = FunctionRunner::new(Arc::new(oauth2_connector(location)), http.clone())
            .with_connector_parameters(
                json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "base": base}),
            );
        let steps = ConnectionCredentials::new(&runner, json!({"audience": "api://x"}));
        let redirect_uri = "http://127.0.0.1:1/oauth-callback";
        let config = steps.oauth2_config(redirect_uri, "state-1").await.unwrap();
        let start = oauth2::authorize_url(&config, redirect_uri, "state-1").unwrap();
        assert!(
            start.url.contains("audience=api%3A%2F%2Fx"),
            "{}",
            start.url
        );

        // The "browser": follow the authorize URL to the callback redirect.
        let response = browser.get(&start.url).send().await.unwrap();
        let location_header = response.headers()["location"].to_str().unwrap().to_owned();
        let callback = url::Url::parse(&location_header).unwrap();
        let q: HashMap<_, _> = callback.query_pairs().into_owned().collect();
        assert_eq!(q["state"], start.state);

        // Without the verifier the provider refuses; with it, tokens.
        let refused = oauth2::exchange_code(&http, &config, &q["code"], redirect_uri, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&refused, AuthError::TokenEndpoint { error, .. } if error == "invalid_grant")
        );
        let response = browser.get(&start.url).send().await.unwrap();
        let callback = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        let code: String = callback
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let tokens = oauth2::exchange_code(
            &http,
            &config,
            &code,
            redirect_uri,
            start.code_verifier.as_ref(),
        )
        .await
        .unwrap();
        let credentials = steps.after_access_token(&tokens).await.unwrap();
        assert_eq!(
            credentials,
            json!({"access_token": "at-1", "refresh_token": "rt-1", "audience": "api://x"})
        );
        assert_eq!(
            provider.client_auth_seen.lock().unwrap().last().copied(),
            Some(location)
        );

        // Refresh through the connector refresher: default merge keeps rt-1.
        let runner = runner.with_credentials(credentials.clone());
        let refreshed = ConnectorRefresher::new(&runner, json!({"audience": "api://x"}))
            .refresh(&credentials)
            .await
            .unwrap();
        assert_eq!(refreshed["access_token"], "at-2");
        assert_eq!(refreshed["refresh_token"], "rt-1");
        assert_eq!(refreshed["audience"], "api://x");

        oauth2::revoke_token(
            &http,
            &config,
            &format!("{base}/revoke"),
            "at-2",
            Some("access_token"),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        provider.revoked.lock().unwrap().as_slice(),
        ["at-2", "at-2"]
    );

    // A revoked refresh token is a refusal the caller can show; the secret is masked.
    let config = OAuth2Config::from_value(&json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "tokenUri": format!("{base}/token")})).unwrap();
    let error = oauth2::refresh_token(&http, &config, "rt-old")
        .await
        .unwrap_err();
    assert_eq!(
        error.to_error_data().key.as_deref(),
        Some("connection_is_defunct")
    );
    assert!(!format!("{error:?} {error}").contains(CLIENT_SECRET));
    let no_refresh = OAuth2Config {
        no_refresh_token: true,
        ..config.clone()
    };
    assert!(matches!(
        oauth2::refresh_token(&http, &no_refresh, "rt-1").await,
        Err(AuthError::NoRefreshToken)
    ));
    let bad_client = OAuth2Config {
        client_secret: Some(osmosis_connectors::redact::Secret::new("wrong-secret")),
        ..config
    };
    assert!(oauth2::client_credentials_grant(&http, &bad_client)
        .await
        .is_err());
}

#[tokio::test]
async fn oauth2_client_credentials_grant_and_client_credentials_connectors() {
    let provider = Arc::new(mock::oauth2::Provider::default());
    let base = mock::serve(mock::oauth2::app(provider)).await;
    let http = mock::outbound();
    let config = OAuth2Config::from_value(&json!({
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "tokenUri": format!("{base}/token"),
        "scopes": ["a", "b"], "clientAuthLocation": "body"
    }))
    .unwrap();
    let tokens = oauth2::client_credentials_grant(&http, &config)
        .await
        .unwrap();
    assert_eq!(tokens["access_token"], "cc-token");
    assert_eq!(tokens["scope"], "a b");

    // API-key connector without functions: input becomes credentials.
    let plain = Connector::from_value(&json!({"type": "client-credentials"})).unwrap();
    let runner = FunctionRunner::new(Arc::new(plain), http.clone());
    let credentials = ConnectionCredentials::new(&runner, json!({"apiKey": "k-123"}))
        .from_connection_parameters()
        .await
        .unwrap();
    assert_eq!(credentials, json!({"apiKey": "k-123"}));

    // With a function: its output is merged into the input.
    let derived = Connector::from_value(&json!({"type": "client-credentials",
        "getCredentialsFromConnectionParameters": {"type": "mapping", "mapping": {
            "authHeader": {"$tpl": {"template": "Key {k}", "values": {"k": {"$var": "$.connectionInput.apiKey"}}}}}}}))
    .unwrap();
    let runner = FunctionRunner::new(Arc::new(derived), http);
    let credentials = ConnectionCredentials::new(&runner, json!({"apiKey": "k-123"}))
        .from_connection_parameters()
        .await
        .unwrap();
    assert_eq!(
        credentials,
        json!({"apiKey": "k-123", "authHeader": "Key k-123"})
    );
    let refreshed = ConnectorRefresher::new(&runner, json!({"apiKey": "k-456"}))
        .refresh(&credentials)
        .await
        .unwrap();
    assert_eq!(refreshed["authHeader"], "Key k-456");
}

#[tokio::test]
async fn oauth1_three_legged_flow_with_signed_requests() {
    let base = mock::serve(mock::oauth1::app()).await;
    let http = mock::outbound();
    let config = OAuth1Config::from_value(&json!({
        "consumerKey": mock::oauth1::CONSUMER_KEY, "consumerSecret": mock::oauth1::CONSUMER_SECRET,
        "requestTokenUri": format!("{base}/request_token"), "authorizeUri": format!("{base}/authorize"),
        "tokenUri": format!("{base}/access_token"), "extra": {"name": "Osmosis"}
    }))
    .unwrap();
    let request_token = oauth1::request_token(&http, &config, "http://127.0.0.1:1/oauth-callback")
        .await
        .unwrap();
    assert_eq!(request_token.token, "req-token");
    assert!(!format!("{request_token:?} {config:?}").contains("req-secret"));
    assert!(!format!("{config:?}").contains(mock::oauth1::CONSUMER_SECRET));
    let url = oauth1::authorize_url(&config, &request_token).unwrap();
    assert_eq!(
        url,
        format!("{base}/authorize?oauth_token=req-token&name=Osmosis")
    );
    let credentials = oauth1::access_token(&http, &config, &request_token, "verifier-7")
        .await
        .unwrap();
    assert_eq!(
        credentials,
        json!({"oauth_token": "acc-token", "oauth_token_secret": "acc-secret", "user_id": "42"})
    );
    let error = oauth1::access_token(&http, &config, &request_token, "wrong")
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        AuthError::TokenEndpoint { status: 401, .. }
    ));

    let wrong_secret = OAuth1Config {
        consumer_secret: osmosis_connectors::redact::Secret::new("nope"),
        ..config
    };
    assert!(
        oauth1::request_token(&http, &wrong_secret, "http://127.0.0.1:1/cb")
            .await
            .is_err()
    );
}
