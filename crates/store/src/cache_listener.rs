//! How the element caches of nodes sharing a PostgreSQL database stay true to it.
//!
//! Every element write sends a notice on [`CHANNEL`] inside its own transaction
//! (`pg_notify`, delivered when it commits, never for a write rolled back), naming
//! the workspace and the element type it touched. Each node listens on a
//! connection of its own and, for each notice, moves the generation of that
//! (workspace, type) in its cache, so what it cached of them is read again. A
//! node's own writes move it at once (as on SQLite); another node's, a moment
//! after they commit — the notice's trip, well under a millisecond on a LAN, is
//! how long a read on this node may still see the element as it was.
//!
//! Notices sent while the listening connection is down are lost, so the cache
//! serves nothing until the node listens again, and then forgets everything it
//! held (see [`CachedElementStore::set_live`]). Reads meanwhile go to the
//! database, as they did before any cache.

use std::sync::{Arc, Weak};
use std::time::Duration;

use osmosis_model::ElementType;
use sqlx::postgres::PgListener;

use crate::cache::CachedElementStore;

/// The channel element writes are announced on.
pub(crate) const CHANNEL: &str = "osmosis_elements";

/// How long to wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// A notice's text: the workspace id and the element type's name.
pub(crate) fn payload(workspace_id: &str, t: ElementType) -> String {
    format!("{workspace_id} {}", t.name())
}

fn parse(payload: &str) -> Option<(&str, ElementType)> {
    let (workspace_id, t) = payload.split_once(' ')?;
    Some((workspace_id, ElementType::from_name(t)?))
}

/// Listens for other nodes' element writes on `url`'s database until `cache` is
/// dropped. The cache serves nothing until the first listen succeeds.
pub(crate) fn listen(cache: &Arc<CachedElementStore>, url: String) {
    cache.set_live(false);
    let gone = cache.on_drop();
    let cache = Arc::downgrade(cache);
    tokio::spawn(async move {
        tokio::select! {
            _ = gone => {}
            _ = keep_listening(cache, url) => {}
        }
    });
}

async fn keep_listening(cache: Weak<CachedElementStore>, url: String) {
    {
        let mut failures = 0u32;
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        failures = 0;
                        if !hear(&cache, &mut listener).await {
                            return;
                        }
                    }
                    Err(e) => note_failure(&mut failures, &e),
                },
                Err(e) => note_failure(&mut failures, &e),
            }
            let Some(live) = cache.upgrade() else { return };
            live.set_live(false);
            drop(live);
            tokio::time::sleep(RETRY).await;
        }
    }
}

fn note_failure(failures: &mut u32, e: &sqlx::Error) {
    *failures += 1;
    if failures.count_ones() == 1 {
        tracing::warn!(error = %e, failures = *failures, "cannot listen for other nodes' element writes; elements are read from the database meanwhile");
    }
}

/// Applies notices until the connection drops (answers `true`: listen again) or
/// the cache is gone (`false`).
async fn hear(cache: &Weak<CachedElementStore>, listener: &mut PgListener) -> bool {
    match cache.upgrade() {
        Some(live) => live.set_live(true),
        None => return false,
    }
    loop {
        let next = listener.try_recv().await;
        let Some(live) = cache.upgrade() else {
            return false;
        };
        match next {
            Ok(Some(notice)) => match parse(notice.payload()) {
                Some((workspace_id, t)) => live.changed(workspace_id, t),
                // Not one this version writes: forget everything rather than guess.
                None => live.forget_all(),
            },
            // The connection closed (`None`) or failed: notices may be lost.
            Ok(None) | Err(_) => {
                live.set_live(false);
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_names_the_workspace_and_the_type() {
        let p = payload("ws_1", ElementType::Connection);
        assert_eq!(parse(&p), Some(("ws_1", ElementType::Connection)));
        assert_eq!(parse("ws_1 no-such-type"), None);
        assert_eq!(parse("nospace"), None);
    }
}
