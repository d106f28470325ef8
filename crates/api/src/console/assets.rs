//! The console's stylesheet and script, compiled into the binary and served with
//! a version in their path, so a browser may keep them until the binary changes.

use axum::http::header;
use axum::response::IntoResponse;

pub(crate) const CSS: &str = include_str!("../../assets/console.css");
pub(crate) const JS: &str = include_str!("../../assets/console.js");

/// Paths carry the package version: a new release is a new URL.
pub(crate) const CSS_PATH: &str = concat!(
    "/console/assets/console-",
    env!("CARGO_PKG_VERSION"),
    ".css"
);
pub(crate) const JS_PATH: &str =
    concat!("/console/assets/console-", env!("CARGO_PKG_VERSION"), ".js");

const CACHE: &str = "public, max-age=86400, immutable";

pub(crate) async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        CSS,
    )
}

pub(crate) async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE),
        ],
        JS,
    )
}
