//! App events (api-surface §2.17, semantics §5.5): the webhook URLs the
//! workspace's app posts events to — any method; stored before they are answered
//! (see `osmosis_engine::events::intake`) — the app event log, the raw incoming
//! webhook log, and `POST /app-event-subscription/subscribe`.
//!
//! An external event subscription's connector webhook URL
//! (`/webhooks/external-events/…`) takes deliveries the same way; its connector's
//! `handle` turns them into events after.
//!
//! A delivery is answered `200 {incomingWebhookId}` once it is stored; its events
//! are processed after. An unknown URL answers 404, an archived type or
//! subscription 410. On a global webhook (`/webhooks/app-events/…`) a customer's
//! Bearer token says whose events they are; a token of another workspace is
//! refused (403), an admin's names no customer (the type's formulas do).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::routing::{any, get, post};
use axum::Json;
use osmosis_engine::events::intake::{Delivery, WebhookTarget};
use osmosis_engine::events::logs::{AppEventFilter, IncomingWebhookFilter};
use osmosis_model::{ApiError, ElementType};
use serde_json::Value;

use super::elements::{resolve_query, respond};
use super::Routes;
use crate::auth::{Auth, OptionalAuth};
use crate::body::RawBody;
use crate::error::ApiResult;
use crate::extract::Params;
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route(
            "/webhooks/app-events/{workspace}/{key}",
            any(|s, a, m, u, h, p, b| receive(s, a, m, u, h, p, b, WebhookTarget::AppEventType)),
        )
        .route(
            "/webhooks/app-event-subscriptions/{workspace}/{key}",
            any(|s, a, m, u, h, p, b| {
                receive(s, a, m, u, h, p, b, WebhookTarget::AppEventSubscription)
            }),
        )
        // Connector webhooks (`osmosis_engine::events::external::webhooks`): the
        // same intake, their deliveries handled by the connector.
        .route(
            "/webhooks/external-events/{workspace}/{key}",
            any(|s, a, m, u, h, p, b| {
                receive(
                    s,
                    a,
                    m,
                    u,
                    h,
                    p,
                    b,
                    WebhookTarget::ExternalEventSubscription,
                )
            }),
        )
        // Connector global webhooks (`osmosis_engine::events::external::global`):
        // one app-wide URL per workspace, connector and key.
        .route(
            "/webhooks/global/{workspace}/{key}",
            any(|s, a, m, u, h, p, b| receive(s, a, m, u, h, p, b, WebhookTarget::GlobalWebhook)),
        )
        .route("/app-events", get(list_app_events))
        .route("/app-events/{id}", get(get_app_event))
        .route("/incoming-webhooks", get(list_incoming_webhooks))
        .route("/incoming-webhooks/{id}", get(get_incoming_webhook))
        .route("/app-event-subscription/subscribe", post(subscribe))
}

#[allow(clippy::too_many_arguments)]
async fn receive(
    State(state): State<AppState>,
    OptionalAuth(caller): OptionalAuth,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path((workspace, key)): Path<(String, String)>,
    RawBody(body): RawBody,
    target: WebhookTarget,
) -> ApiResult<Json<Value>> {
    let customer = match (target, caller) {
        (WebhookTarget::AppEventType, Some(c)) => {
            if c.workspace_id() != workspace {
                return Err(ApiError::access_denied(
                    "The token is of another workspace than this webhook's",
                )
                .into());
            }
            Some(c)
        }
        _ => None,
    };
    let delivery = Delivery {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: body.to_vec(),
    };
    Ok(Json(
        state
            .engine
            .receive_webhook(target, &workspace, &key, delivery, customer.as_ref())
            .await?,
    ))
}

async fn list_app_events(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<AppEventFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.list_app_events(&caller, &filter).await?))
}

async fn get_app_event(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.app_event(&caller, &id).await?))
}

async fn list_incoming_webhooks(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<IncomingWebhookFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .list_incoming_webhooks(&caller, &filter)
            .await?,
    ))
}

async fn get_incoming_webhook(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.incoming_webhook(&caller, &id).await?))
}

/// `POST /app-event-subscription/subscribe?{selector}`: the subscription, subscribed.
async fn subscribe(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = resolve_query(&state, &caller, ElementType::AppEventSubscription, &q).await?;
    let el = state.engine.subscribe_app_events(&caller, &el).await?;
    respond(&state, &caller, &el).await
}
