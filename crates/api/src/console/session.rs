//! Who is using the console: the session cookie, and the forms it may post.
//!
//! * The cookie (`osmosis_console`) holds a random token; the server keeps its
//!   hash (`osmosis_engine::console_sessions`). It is `HttpOnly` (no script reads
//!   it), `SameSite=Strict` (no other site's page sends it), scoped to `/console`,
//!   and `Secure` when the server is reached over https (its public URL says so, or
//!   the proxy in front of it sends `X-Forwarded-Proto: https`).
//! * Every form posts the session's CSRF token ([`ConsoleForm`]); a post without
//!   it, or with another session's, is refused and changes nothing. The sign-in
//!   form, posted before there is a session, carries a token that must match a
//!   short-lived cookie set with the form (double submit), so another site cannot
//!   sign a browser in to a workspace of its choosing either.
//! * Only the cookie is read: an `Authorization` header, an admin token of the
//!   API or a customer token, opens no console page.

use std::collections::HashMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use osmosis_engine::console_sessions::{opened_with, SESSION_TTL_MS};
use osmosis_engine::Caller;
use osmosis_model::ApiError;

use super::layout::ConsoleError;
use crate::AppState;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "osmosis_console";
/// The sign-in form's double-submit cookie.
pub(crate) const SIGN_IN_COOKIE: &str = "osmosis_console_signin";
/// The form field every console form carries its CSRF token in.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// A signed-in admin of one workspace, from the session cookie. A request without
/// a live session is sent to the sign-in page (and back here afterwards).
pub(crate) struct ConsoleAdmin {
    pub caller: Caller,
    /// The session's CSRF token, for the forms a page renders.
    pub csrf: String,
    /// The browser's session token (signing out ends it).
    pub(crate) token: String,
}

impl ConsoleAdmin {
    pub fn workspace_name(&self) -> &str {
        &self.caller.workspace.name
    }
}

impl FromRequestParts<AppState> for ConsoleAdmin {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || sign_in_redirect(parts);
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let session = match state.engine.console_session(&token).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err(ConsoleError::from(e).into_response()),
        };
        let Ok(workspace) = state.workspace(&session.workspace_key).await else {
            return Err(to_sign_in());
        };
        if !opened_with(&session, &workspace) {
            return Err(to_sign_in());
        }
        crate::request_span::identify(&workspace.key, None);
        Ok(ConsoleAdmin {
            caller: Caller::admin(workspace),
            csrf: session.csrf_token,
            token,
        })
    }
}

/// To the sign-in page, coming back to this page (only a GET is worth coming
/// back to; a form posted without a session is not replayed).
fn sign_in_redirect(parts: &Parts) -> Response {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/console");
    if parts.method == axum::http::Method::GET && safe_next(path) {
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        Redirect::to(&format!("/console/sign-in?next={next}")).into_response()
    } else {
        Redirect::to("/console/sign-in").into_response()
    }
}

/// Whether `next` is a console page of this server (never another origin: `//x`,
/// `/\x` and absolute URLs are refused, so the sign-in page is no open redirect).
pub(crate) fn safe_next(next: &str) -> bool {
    (next == "/console" || next.starts_with("/console/") || next.starts_with("/console?"))
        && !next.contains('\\')
        && !next.contains("//")
}

/// A form posted by a signed-in admin, with its CSRF token checked.
pub(crate) struct ConsoleForm {
    pub admin: ConsoleAdmin,
    pub fields: HashMap<String, String>,
}

impl ConsoleForm {
    /// A field's value, empty when the form had none.
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }
}

/// Largest console form: a test input or a mapping fits well within.
const MAX_FORM_BYTES: usize = 1024 * 1024;

impl FromRequest<AppState> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let admin = ConsoleAdmin::from_request_parts(&mut parts, state).await?;
        let fields = read_form(body).await?;
        if !same_token(fields.get(CSRF_FIELD).map(String::as_str), &admin.csrf) {
            return Err(csrf_refused());
        }
        Ok(ConsoleForm { admin, fields })
    }
}

/// A urlencoded form body as its fields (the last of a repeated name wins).
pub(crate) async fn read_form(body: axum::body::Body) -> Result<HashMap<String, String>, Response> {
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            ConsoleError::from(ApiError::bad_request(
                osmosis_model::error::keys::PAYLOAD_TOO_LARGE,
                "The form is larger than 1 MiB",
            ))
            .into_response()
        })?;
    Ok(form_urlencoded::parse(&bytes).into_owned().collect())
}

pub(crate) fn same_token(sent: Option<&str>, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    // Compared as digests, so the time taken says nothing of a near miss.
    sent.is_some_and(|s| Sha256::digest(s) == Sha256::digest(expected))
}

pub(crate) fn csrf_refused() -> Response {
    ConsoleError::from(ApiError::access_denied(
        "This form is missing its security token or it has expired: go back, reload the page and send it again",
    ))
    .into_response()
}

/// A cookie of the request, by name.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// Whether cookies must be `Secure`: the browser reaches us over https.
pub(crate) fn over_https(state: &AppState, headers: &HeaderMap) -> bool {
    state.engine.config.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value scoped to the console; `max_age_s` 0 deletes it.
pub(crate) fn set_cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}"
    ))
    .expect("tokens are URL-safe base64")
}

/// The response that signs a browser in: the session cookie, then `next`.
pub(crate) fn signed_in(token: &str, next: &str, secure: bool) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, SESSION_TTL_MS / 1000, secure),
    );
    headers.append(
        header::SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", 0, secure),
    );
    response
}
