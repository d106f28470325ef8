//! Signing in and out: the key-and-secret form, the one-time link, sign-out.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{bare_page, ConsoleError};
use super::session::{
    cookie, csrf_refused, over_https, read_form, safe_next, same_token, set_cookie, signed_in,
    ConsoleForm, CSRF_FIELD, SESSION_COOKIE, SIGN_IN_COOKIE,
};
use crate::AppState;
use osmosis_engine::console_sessions::random_token;

#[derive(Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// Where to go once signed in: the page that sent the browser here, if it is a
/// console page, else the overview.
fn next_page(next: Option<&str>) -> &str {
    next.filter(|n| safe_next(n)).unwrap_or("/console")
}

/// How long a sign-in form may wait to be posted.
const SIGN_IN_FORM_TTL_S: i64 = 30 * 60;

/// The sign-in form, with a fresh double-submit token in a cookie beside it.
pub(crate) async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    sign_in_page(
        &state,
        &headers,
        next_page(q.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let token = cookie(headers, SIGN_IN_COOKIE).unwrap_or_else(random_token);
    let body = html! {
        @if let Some(error) = error {
            p.error #sign-in-error role="alert" { (error) }
        }
        form method="post" action="/console/sign-in" {
            input type="hidden" name=(CSRF_FIELD) value=(token);
            input type="hidden" name="next" value=(next);
            label for="key" { "Workspace key" }
            input #key name="key" required autocomplete="username" autofocus;
            label for="secret" { "Workspace secret" }
            input #secret name="secret" type="password" required autocomplete="current-password";
            div.actions { button type="submit" { "Sign in" } }
        }
        p.muted { "Or run " code { "osmosis console-link --workspace <key>" } " on the server for a one-time link." }
    };
    let mut response = (status, bare_page("Sign in to the console", body)).into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SIGN_IN_COOKIE,
            &token,
            SIGN_IN_FORM_TTL_S,
            over_https(state, headers),
        ),
    );
    response
}

/// Checks the key and secret; a wrong pair shows the form again, saying so.
pub(crate) async fn submit(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers().clone();
    let fields = match read_form(request.into_body()).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let get = |name: &str| fields.get(name).map(String::as_str).unwrap_or("");
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same_token(fields.get(CSRF_FIELD).map(String::as_str), &expected) {
        return csrf_refused();
    }
    let next = next_page(Some(get("next")));
    match state
        .engine
        .console_sign_in(get("key").trim(), get("secret"))
        .await
    {
        Ok(opened) => signed_in(&opened.token, next, over_https(&state, &headers)),
        Err(e) if e.http_status() == 401 => sign_in_page(
            &state,
            &headers,
            next,
            Some(&e.message),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => ConsoleError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct LinkQuery {
    token: Option<String>,
}

/// A printed link opens a page with one button: following the link does not sign
/// in by itself, so a chat app or mail scanner fetching it does not use it up.
pub(crate) async fn link_page(Query(q): Query<LinkQuery>) -> Markup {
    let token = q.token.unwrap_or_default();
    bare_page(
        "Sign in with a link",
        html! {
            form method="post" action="/console/sign-in/link" {
                input type="hidden" name="token" value=(token);
                p { "This link signs you in once, then stops working." }
                div.actions { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// Uses the link up and opens a session. SameSite cookies and the link's own
/// secrecy stand in for a CSRF token here: whoever can post it holds the link.
pub(crate) async fn follow_link(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers().clone();
    let fields = match read_form(request.into_body()).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    let token = fields.get("token").map(String::as_str).unwrap_or("");
    match state.engine.console_follow_link(token).await {
        Ok(opened) => signed_in(&opened.token, "/console", over_https(&state, &headers)),
        Err(e) => ConsoleError::from(e).into_response(),
    }
}

/// Ends the session and clears its cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: ConsoleForm,
) -> Response {
    if let Err(e) = state.engine.console_sign_out(&form.admin.token).await {
        return ConsoleError::from(e).into_response();
    }
    let mut response = Redirect::to("/console/sign-in").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, over_https(&state, &headers)),
    );
    response
}
