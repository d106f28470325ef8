//! Routes that act through a connection rather than on it: the API proxy
//! (`ANY /connections/{c}/proxy/{path…}`), its answer streamed back as it arrives.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Json;
use osmosis_engine::connections::{forwarded_request_header, ProxyBody, ProxyRequest};
use osmosis_engine::elements::Depth;
use osmosis_engine::notify::outbound::SettingsPatch;
use osmosis_model::ElementType;
use serde_json::Value;

use super::elements::resolve_path;
use super::Routes;
use crate::auth::{without_access_tokens, Auth};
use crate::body::RawBody;
use crate::error::ApiResult;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/connections/{connection}/refresh-credentials",
            post(refresh_credentials),
        )
        .route("/connections/{connection}/test", post(test))
        .route("/settings", get(settings).patch(patch_settings))
        .route(
            "/connections/{connection}/proxy",
            any(|s, a, m, Path(c): Path<String>, q, h, b| {
                proxy(s, a, m, c, String::new(), q, h, b)
            }),
        )
        .route(
            "/connections/{connection}/proxy/{*path}",
            any(|s, a, m, Path((c, p)): Path<(String, String)>, q, h, b| {
                proxy(s, a, m, c, p, q, h, b)
            }),
        )
        // The legacy pass-through of `connection(c).request(path, data)`: a POST of
        // the data to the path, answered like the proxy.
        .route(
            "/connections/{connection}/api/{*path}",
            post(|s, a, m, Path((c, p)): Path<(String, String)>, q, h, b| {
                proxy(s, a, m, c, p, q, h, b)
            }),
        )
}

/// The query string as pairs, kept in order and repeated names kept.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
async fn proxy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    method: Method,
    connection: String,
    path: String,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let conn = resolve_path(
        &state,
        &caller,
        ElementType::Connection,
        connection,
        &Query::parse(None),
    )
    .await?;
    let request = ProxyRequest {
        method: method.to_string(),
        path: format!("/{path}"),
        query: without_access_tokens(&caller, query_pairs(raw.as_deref())),
        // Only headers that would be forwarded are checked for tokens: the
        // caller's own `Authorization` is dropped anyway, and verifying it again
        // would cost an HMAC on every proxied request.
        headers: without_access_tokens(
            &caller,
            headers
                .iter()
                .filter(|(n, _)| forwarded_request_header(n.as_str()))
                .filter_map(|(n, v)| Some((n.as_str().to_owned(), v.to_str().ok()?.to_owned())))
                .collect(),
        ),
        body,
    };
    let answer = state.engine.calls().proxy(&caller, &conn, request).await?;
    let mut response = match answer.body {
        ProxyBody::Full(bytes) => Body::from(bytes),
        ProxyBody::Stream(upstream) => Body::from_stream(upstream.bytes_stream()),
    }
    .into_response();
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let out = response.headers_mut();
    for (name, value) in answer.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(&value),
        ) {
            out.append(n, v);
        }
    }
    Ok(response)
}

async fn connection(
    state: &AppState,
    caller: &osmosis_engine::Caller,
    sel: String,
) -> ApiResult<osmosis_model::Element> {
    Ok(resolve_path(
        state,
        caller,
        ElementType::Connection,
        sel,
        &Query::parse(None),
    )
    .await?)
}

/// `POST /connections/{c}/refresh-credentials`: refreshes now; answers the
/// connection.
async fn refresh_credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = connection(&state, &caller, c).await?;
    let conn = state
        .engine
        .calls()
        .refresh_credentials(&caller, &conn)
        .await?;
    Ok(Json(
        state
            .engine
            .elements()
            .render(&caller, &conn, Depth::Full)
            .await?,
    ))
}

/// `POST /connections/{c}/test`: `{success, error?}`.
async fn test(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(c): Path<String>,
) -> ApiResult<Json<Value>> {
    let conn = connection(&state, &caller, c).await?;
    Ok(Json(
        state.engine.calls().test_connection(&caller, &conn).await?,
    ))
}

/// `GET /settings`: the workspace's settings (admin).
async fn settings(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.notifications().settings(&caller).await?))
}

/// `PATCH /settings`: `webhookUri`, `enabledWebhookEvents` (admin).
async fn patch_settings(
    State(state): State<AppState>,
    Auth(caller): Auth,
    crate::extract::Body(patch): crate::extract::Body<SettingsPatch>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .notifications()
            .patch_settings(&caller, patch)
            .await?,
    ))
}
