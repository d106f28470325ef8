//! Shipped OAuth 2 connectors whose access tokens expire keep working past the first
//! expiry: against a provider that expires access tokens and rotates refresh tokens
//! (each refresh revokes the refresh token it was given, as Salesforce with rotation
//! on, Notion and Zendesk do), a connection makes its first call, and after each of two
//! expiries refreshes with the refresh token it was last given and calls again. The
//! provider also insists on the token-request encoding and client auth its vendor
//! documents, so a connector that sends a form where JSON is required is refused here.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use osmosis_connectors::api_client::{call_with_refresh, RetryPolicy};
use osmosis_connectors::auth::oauth2;
use osmosis_connectors::auth::{ConnectionCredentials, ConnectorRefresher};
use osmosis_connectors::catalog;
use osmosis_connectors::definition::Connector;
use osmosis_connectors::function::FunctionRunner;
use serde_json::{json, Map, Value};

use crate::mock;

const CLIENT_ID: &str = "client-7";
const CLIENT_SECRET: &str = "client-secret-7";
const REDIRECT_URI: &str = "https://osmosis.example/oauth-callback";

/// How a vendor's token endpoint wants to be spoken to.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Form,
    Json,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum ClientAuth {
    Basic,
    Body,
}

#[derive(Clone, Copy)]
struct Vendor {
    key: &'static str,
    token_path: &'static str,
    encoding: Encoding,
    client_auth: ClientAuth,
    /// The `test` function's request path, and what the API answers it.
    test_path: &'static str,
    test_body: fn() -> Value,
    connection_input: fn() -> Value,
}

/// What the provider holds: the one access token and the one refresh token that are
/// valid now, and every token request it was sent.
#[derive(Default)]
struct Tokens {
    issued: usize,
    access: Option<String>,
    refresh: Option<String>,
    requests: Vec<Map<String, Value>>,
}

#[derive(Clone)]
struct Provider {
    vendor: Vendor,
    base: Arc<Mutex<String>>,
    tokens: Arc<Mutex<Tokens>>,
}

impl Provider {
    fn expire_access_token(&self) {
        self.tokens.lock().unwrap().access = None;
    }

    fn grant_types(&self) -> Vec<String> {
        self.tokens
            .lock()
            .unwrap()
            .requests
            .iter()
            .map(|r| r["grant_type"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

fn refused(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

/// Reads the parameters in the vendor's encoding; the other one is refused the way
/// Notion refuses a form (400, `invalid_request`).
fn parameters(vendor: &Vendor, headers: &HeaderMap, body: &str) -> Option<Map<String, Value>> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match vendor.encoding {
        Encoding::Json if content_type.starts_with("application/json") => {
            serde_json::from_str(body).ok()
        }
        Encoding::Form if content_type.starts_with("application/x-www-form-urlencoded") => Some(
            url::form_urlencoded::parse(body.as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        ),
        _ => None,
    }
}

fn client_authenticated(vendor: &Vendor, headers: &HeaderMap, params: &Map<String, Value>) -> bool {
    match vendor.client_auth {
        ClientAuth::Basic => {
            let expected = base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            headers.get("authorization").and_then(|v| v.to_str().ok())
                == Some(format!("Basic {expected}").as_str())
        }
        ClientAuth::Body => {
            params.get("client_id").and_then(Value::as_str) == Some(CLIENT_ID)
                && params.get("client_secret").and_then(Value::as_str) == Some(CLIENT_SECRET)
        }
    }
}

async fn answer(State(p): State<Provider>, uri: Uri, headers: HeaderMap, body: String) -> Response {
    let vendor = p.vendor;
    if uri.path() == vendor.token_path {
        let Some(params) = parameters(&vendor, &headers, &body) else {
            return refused(StatusCode::BAD_REQUEST, "invalid_request");
        };
        if !client_authenticated(&vendor, &headers, &params) {
            return refused(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let mut tokens = p.tokens.lock().unwrap();
        tokens.requests.push(params.clone());
        let granted = match params.get("grant_type").and_then(Value::as_str) {
            Some("authorization_code") => {
                params.get("code").and_then(Value::as_str) == Some("code-1")
            }
            Some("refresh_token") => {
                tokens.refresh.is_some()
                    && params.get("refresh_token").and_then(Value::as_str)
                        == tokens.refresh.as_deref()
            }
            _ => false,
        };
        if !granted {
            return refused(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        tokens.issued += 1;
        let n = tokens.issued;
        tokens.access = Some(format!("at-{n}"));
        // Rotation: the refresh token just used stops working.
        tokens.refresh = Some(format!("rt-{n}"));
        let base = p.base.lock().unwrap().clone();
        return Json(json!({
            "access_token": format!("at-{n}"),
            "refresh_token": format!("rt-{n}"),
            "token_type": "Bearer",
            "expires_in": 3600,
            "instance_url": base,
        }))
        .into_response();
    }
    let valid = p.tokens.lock().unwrap().access.clone();
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if valid.is_none() || bearer != valid.as_deref() {
        return refused(StatusCode::UNAUTHORIZED, "expired access token");
    }
    if uri.path() == vendor.test_path {
        return Json((vendor.test_body)()).into_response();
    }
    refused(StatusCode::NOT_FOUND, "no such path")
}

use crate::mock::shipped_connector as connector;

/// Connects, then calls `test` three times with an expiry before the second and third:
/// each call after an expiry must refresh with the newest refresh token.
async fn survives_two_expiries(vendor: Vendor) {
    let key = vendor.key;
    let provider = Provider {
        vendor,
        base: Arc::default(),
        tokens: Arc::default(),
    };
    let base = mock::serve(Router::new().fallback(answer).with_state(provider.clone())).await;
    *provider.base.lock().unwrap() = base.clone();
    let http = crate::mock::outbound();
    let connector = connector(key);
    let runner_with = |credentials: Value| {
        FunctionRunner::new(connector.clone(), http.clone())
            .with_connector_parameters(json!({
                "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authBaseUri": base, "apiBaseUri": base,
            }))
            .with_retry_policy(RetryPolicy {
                max_attempts: 1,
                ..RetryPolicy::default()
            })
            .with_credentials(credentials)
    };
    let runner = runner_with(json!({}));
    let input = (vendor.connection_input)();
    let steps = ConnectionCredentials::new(&runner, input.clone());
    let config = steps.oauth2_config(REDIRECT_URI, "state-1").await.unwrap();
    let start = oauth2::authorize_url(&config, REDIRECT_URI, "state-1").unwrap();
    let response = oauth2::exchange_code(
        &http,
        &config,
        "code-1",
        REDIRECT_URI,
        start.code_verifier.as_ref(),
    )
    .await
    .unwrap_or_else(|e| panic!("{key}: code exchange: {e}"));
    let mut credentials = steps.after_access_token(&response).await.unwrap();
    assert_eq!(credentials["refresh_token"], "rt-1", "{key}");

    for round in 0..3 {
        if round > 0 {
            provider.expire_access_token();
        }
        let current = runner_with(credentials.clone());
        let refresher = ConnectorRefresher::new(&current, input.clone());
        let called = call_with_refresh(credentials.clone(), &refresher, |c| {
            let runner = runner_with(c);
            async move { runner.test().await }
        })
        .await
        .unwrap_or_else(|e| panic!("{key}: call {round}: {e}"));
        assert!(called.value, "{key}: call {round}");
        match called.new_credentials {
            None => assert_eq!(round, 0, "{key}: call {round} did not refresh"),
            Some(fresh) => {
                let n = round + 1;
                assert_eq!(fresh["access_token"], format!("at-{n}"), "{key}");
                assert_eq!(fresh["refresh_token"], format!("rt-{n}"), "{key}");
                // What the connection keeps from its input stays (Zendesk's subdomain).
                for (name, value) in credentials.as_object().unwrap() {
                    if !["access_token", "refresh_token"].contains(&name.as_str()) {
                        assert_eq!(&fresh[name], value, "{key}: {name} lost in a refresh");
                    }
                }
                credentials = fresh;
            }
        }
    }
    assert_eq!(
        provider.grant_types(),
        ["authorization_code", "refresh_token", "refresh_token"],
        "{key}"
    );
}

#[tokio::test]
async fn zendesk_refreshes_its_expiring_tokens() {
    // https://developer.zendesk.com/documentation/ticketing/working-with-oauth/creating-and-using-oauth-tokens-with-the-api/
    survives_two_expiries(Vendor {
        key: "zendesk",
        token_path: "/oauth/tokens",
        encoding: Encoding::Form,
        client_auth: ClientAuth::Body,
        test_path: "/api/v2/users/me",
        test_body: || json!({"user": {"id": 35436, "name": "Johnny Agent"}}),
        connection_input: || json!({"subdomain": "acme"}),
    })
    .await;
}

#[tokio::test]
async fn notion_refreshes_with_json_token_requests() {
    // https://developers.notion.com/reference/create-a-token,
    // https://developers.notion.com/reference/refresh-a-token
    survives_two_expiries(Vendor {
        key: "notion",
        token_path: "/v1/oauth/token",
        encoding: Encoding::Json,
        client_auth: ClientAuth::Basic,
        test_path: "/v1/users/me",
        test_body: || json!({"object": "user", "id": "9188c6a5-7381-452f-b3dc-d4865aa89bdf", "type": "bot"}),
        connection_input: || json!({}),
    })
    .await;
}

#[tokio::test]
async fn salesforce_keeps_a_rotated_refresh_token() {
    // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_refresh_token_flow.htm
    // (with refresh-token rotation on, the response carries a new refresh_token).
    survives_two_expiries(Vendor {
        key: "salesforce",
        token_path: "/services/oauth2/token",
        encoding: Encoding::Form,
        client_auth: ClientAuth::Body,
        test_path: "/services/data/v60.0/",
        test_body: || json!({"sobjects": "/services/data/v60.0/sobjects", "query": "/services/data/v60.0/query"}),
        connection_input: || json!({}),
    })
    .await;
}

/// Every shipped OAuth 2 connector that refreshes at all keeps a rotated refresh token:
/// the engine's default, not each connector's mapping.
#[tokio::test]
async fn every_refreshing_connector_keeps_a_rotated_refresh_token() {
    let mut checked = Vec::new();
    for value in catalog::shipped().unwrap() {
        let key = value["key"].as_str().unwrap().to_owned();
        let connector = Arc::new(Connector::from_value(&value).unwrap());
        let runner = FunctionRunner::new(connector, crate::mock::outbound())
            .with_connector_parameters(json!({"clientId": "c", "clientSecret": "s"}));
        let input = json!({"subdomain": "acme"});
        let steps = ConnectionCredentials::new(&runner, input);
        let Ok(config) = steps.oauth2_config(REDIRECT_URI, "s").await else {
            continue;
        };
        if config.no_refresh_token {
            continue;
        }
        let old = json!({"access_token": "at-1", "refresh_token": "rt-1", "instance_url": "https://x.example", "cloudId": "c1"});
        let response = json!({"access_token": "at-2", "refresh_token": "rt-2", "instance_url": "https://x.example"});
        let fresh = steps.after_refresh(&old, &response).await.unwrap();
        assert_eq!(fresh["refresh_token"], "rt-2", "{key}");
        assert_eq!(fresh["access_token"], "at-2", "{key}");
        checked.push(key);
    }
    for key in [
        "salesforce",
        "zendesk",
        "notion",
        "hubspot",
        "google-sheets",
    ] {
        assert!(checked.iter().any(|k| k == key), "{key} does not refresh");
    }
}
