//! `GET /sse/workspace?token=`: the workspace's element writes as server-sent
//! events, `data: {"type":"element-update","elementType":…,"elementId":…}`, each
//! only to callers who may read the element (`Engine::element_updates`). The
//! React package and the CLI's watch modes open it with an `EventSource`, which
//! cannot send headers: hence `?token=` (the header works too).

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::StreamExt;

use super::Routes;
use crate::auth::QueryTokenAuth;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new().route("/sse/workspace", get(workspace_events))
}

async fn workspace_events(
    axum::extract::State(state): axum::extract::State<AppState>,
    QueryTokenAuth(caller): QueryTokenAuth,
) -> Sse<impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>> {
    let updates = state
        .engine
        .element_updates(&caller)
        .map(|update| Ok(Event::default().data(update.to_string())));
    Sse::new(updates).keep_alive(KeepAlive::default())
}
