//! External event subscriptions (api-surface §2.18, §3.3.13) and their logs:
//! `/external-event-subscriptions` (list, one, and `setup`, `subscribe`,
//! `unsubscribe`, `resubscribe`, `refresh-webhook`, `pull-events` of one),
//! `/external-event-log-records` and `/external-event-pulls`. What they mean is
//! the engine's (`osmosis_engine::events::external`).

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::events::external::{EventLogFilter, SubscriptionFilter};
use serde_json::Value;

use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::Params;
use crate::AppState;

pub fn router() -> Routes {
    let mut r = Routes::new()
        .route("/external-event-subscriptions", get(list))
        .route("/external-event-subscriptions/{id}", get(one))
        .route("/external-event-log-records", get(log_records))
        .route("/external-event-pulls", get(pulls));
    for (segment, action) in [
        ("setup", Action::Setup),
        ("subscribe", Action::Subscribe),
        ("unsubscribe", Action::Unsubscribe),
        ("resubscribe", Action::Resubscribe),
        ("refresh-webhook", Action::RefreshWebhook),
        ("pull-events", Action::PullEvents),
    ] {
        r = r.route(
            &format!("/external-event-subscriptions/{{id}}/{segment}"),
            post(move |s, a, p| act(s, a, p, action)),
        );
    }
    r
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<SubscriptionFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .external_events()
            .list(&caller, &filter)
            .await?,
    ))
}

async fn one(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state.engine.external_events().get(&caller, &id).await?,
    ))
}

/// The actions on one subscription; each answers the subscription after it.
#[derive(Clone, Copy)]
enum Action {
    Setup,
    Subscribe,
    Unsubscribe,
    Resubscribe,
    RefreshWebhook,
    PullEvents,
}

async fn act(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    action: Action,
) -> ApiResult<Json<Value>> {
    let events = state.engine.external_events();
    Ok(Json(match action {
        Action::Setup => events.setup(&caller, &id).await?,
        Action::Subscribe => events.subscribe(&caller, &id).await?,
        Action::Unsubscribe => events.unsubscribe(&caller, &id).await?,
        Action::Resubscribe => events.resubscribe(&caller, &id).await?,
        Action::RefreshWebhook => events.refresh_webhook(&caller, &id).await?,
        Action::PullEvents => events.pull_events(&caller, &id).await?,
    }))
}

async fn log_records(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<EventLogFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .external_events()
            .log_records(&caller, &filter)
            .await?,
    ))
}

async fn pulls(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<EventLogFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .external_events()
            .pulls(&caller, &filter)
            .await?,
    ))
}
