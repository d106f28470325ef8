//! An OAuth 2 provider: authorize (redirects with a code, remembering the PKCE
//! challenge), token (authorization_code with PKCE check, refresh_token,
//! client_credentials; client auth by Basic header or body), revoke.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::json;
use sha2::Digest;

pub const CLIENT_ID: &str = "client-1";
pub const CLIENT_SECRET: &str = "client-secret-xyz";

#[derive(Default)]
pub struct Provider {
    /// code → (redirect_uri, code_challenge)
    pub codes: Mutex<HashMap<String, (String, Option<String>)>>,
    /// How the client authenticated at the token endpoint, per request.
    pub client_auth_seen: Mutex<Vec<&'static str>>,
    pub revoked: Mutex<Vec<String>>,
}

pub type Shared = Arc<Provider>;

pub fn app(provider: Shared) -> Router {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .route("/revoke", post(revoke))
        .with_state(provider)
}

async fn authorize(State(p): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let code = format!("code-{}", p.codes.lock().unwrap().len() + 1);
    let redirect = q["redirect_uri"].clone();
    p.codes.lock().unwrap().insert(
        code.clone(),
        (redirect.clone(), q.get("code_challenge").cloned()),
    );
    Redirect::to(&format!("{redirect}?code={code}&state={}", q["state"])).into_response()
}

fn error(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant", "error_description": description})),
    )
        .into_response()
}

fn client_ok(p: &Provider, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    if let Some(basic) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .unwrap_or_default();
        p.client_auth_seen.lock().unwrap().push("headers");
        return decoded == format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes();
    }
    p.client_auth_seen.lock().unwrap().push("body");
    form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
}

async fn token(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&p, &headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some((redirect, challenge)) = p.codes.lock().unwrap().remove(&form["code"]) else {
                return error("unknown code");
            };
            if form.get("redirect_uri") != Some(&redirect) {
                return error("redirect_uri mismatch");
            }
            if let Some(challenge) = challenge {
                let Some(verifier) = form.get("code_verifier") else {
                    return error("code_verifier missing");
                };
                let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(sha2::Sha256::digest(verifier.as_bytes()));
                if computed != challenge {
                    return error("PKCE verification failed");
                }
            }
            Json(json!({"access_token": "at-1", "refresh_token": "rt-1", "expires_in": 3600, "token_type": "bearer"}))
                .into_response()
        }
        Some("refresh_token") if form.get("refresh_token").map(String::as_str) == Some("rt-1") => {
            // No new refresh token: the client must keep the old one.
            Json(json!({"access_token": "at-2", "expires_in": 3600, "token_type": "bearer"}))
                .into_response()
        }
        Some("refresh_token") => error("refresh token revoked"),
        Some("client_credentials") => {
            Json(json!({"access_token": "cc-token", "expires_in": 60, "scope": form.get("scope")}))
                .into_response()
        }
        _ => error("unsupported grant"),
    }
}

async fn revoke(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if !client_ok(&p, &headers, &form) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    p.revoked.lock().unwrap().push(form["token"].clone());
    StatusCode::OK.into_response()
}
