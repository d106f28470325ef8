//! An OAuth 1.0a provider that checks HMAC-SHA1 signatures: request token, access
//! token (with verifier). It verifies with the crate's signing functions, whose output
//! the RFC 5849 vectors in the unit tests pin down; what this checks is the flow and
//! header handling around them.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use osmosis_connectors::auth::oauth1::{hmac_sha1_signature, signature_base_string};

pub const CONSUMER_KEY: &str = "consumer-1";
pub const CONSUMER_SECRET: &str = "consumer-secret-abc";

fn oauth_params(headers: &HeaderMap) -> HashMap<String, String> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .strip_prefix("OAuth ")
        .unwrap_or("");
    header
        .split(", ")
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| {
            let v = v.trim_matches('"');
            (
                percent_encoding::percent_decode_str(k)
                    .decode_utf8_lossy()
                    .into_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect()
}

fn verify(method: &Method, uri: &Uri, host: &str, headers: &HeaderMap, token_secret: &str) -> bool {
    let params = oauth_params(headers);
    let Some(signature) = params.get("oauth_signature") else {
        return false;
    };
    let signed: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "oauth_signature")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let url = url::Url::parse(&format!("http://{host}{uri}")).unwrap();
    let base = signature_base_string(method.as_str(), &url, &signed);
    params.get("oauth_consumer_key").map(String::as_str) == Some(CONSUMER_KEY)
        && hmac_sha1_signature(&base, CONSUMER_SECRET, token_secret) == *signature
}

pub fn app() -> Router {
    Router::new()
        .route(
            "/request_token",
            post(|method: Method, uri: Uri, headers: HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_owned();
                if !verify(&method, &uri, &host, &headers, "") {
                    return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
                }
                if !oauth_params(&headers).contains_key("oauth_callback") {
                    return (StatusCode::BAD_REQUEST, "no callback").into_response();
                }
                "oauth_token=req-token&oauth_token_secret=req-secret&oauth_callback_confirmed=true"
                    .into_response()
            }),
        )
        .route(
            "/access_token",
            post(|method: Method, uri: Uri, headers: HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_owned();
                let params = oauth_params(&headers);
                if !verify(&method, &uri, &host, &headers, "req-secret")
                    || params.get("oauth_token").map(String::as_str) != Some("req-token")
                {
                    return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
                }
                if params.get("oauth_verifier").map(String::as_str) != Some("verifier-7") {
                    return (StatusCode::UNAUTHORIZED, "bad verifier").into_response();
                }
                Response::builder()
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(axum::body::Body::from(
                        "oauth_token=acc-token&oauth_token_secret=acc-secret&user_id=42",
                    ))
                    .unwrap()
            }),
        )
}
