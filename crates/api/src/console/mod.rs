//! The console at `/console`: a workspace seen and operated in the browser, by
//! its admins, served by the binary itself.
//!
//! Choices, and why:
//!
//! * **Server-rendered HTML, no script library.** Every page is a plain document
//!   built with `maud` (escaping every value, checked at compile time); lists
//!   page, search and filter with GET forms, changes are POST forms. Pages work
//!   with scripts off, and nothing is vendored that would need updating. One small
//!   script of our own (`assets/console.js`) adds live updates to a running flow
//!   run's page and confirmations to buttons that are hard to undo.
//! * **Same engine calls as the API.** A page is an admin [`Caller`] of its
//!   workspace calling the engine exactly as the API's routes do, so a page can
//!   show or change nothing the API would refuse that admin.
//! * **Sessions on the server** (`session.rs`): a cookie holding a random token,
//!   `HttpOnly`, `SameSite=Strict`, `Secure` over https; a CSRF token in every
//!   form; sign-out ends the session where it is stored.
//! * **Strict headers** on every console response ([`headers`]): a content
//!   security policy that allows only the console's own script and styles, no
//!   framing, no referrer leaving the origin, no caching of pages.
//!
//! [`Caller`]: osmosis_engine::Caller

mod assets;
mod graph;
mod layout;
mod pages;
mod params;
mod session;
mod sign_in;

use axum::http::{header, HeaderValue};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Every console route (HTML, not part of /openapi.json).
pub(crate) fn router() -> Router<AppState> {
    let router = Router::new()
        .route("/", get(|| async { Redirect::to("/console") }))
        .route(assets::CSS_PATH, get(assets::css))
        .route(assets::JS_PATH, get(assets::js))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route(
            "/console/sign-in/link",
            get(sign_in::link_page).post(sign_in::follow_link),
        )
        .route("/console/sign-out", post(sign_in::sign_out));
    pages::routes(router).layer(axum::middleware::map_response(headers))
}

/// What every console response says about itself: see the module doc.
async fn headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "same-origin");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::CACHE_CONTROL, "no-store");
    response
}
