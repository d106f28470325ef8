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

use osmosis_model::{Element, ElementType};
use sqlx::postgres::PgListener;

use crate::cache::CachedElementStore;
use crate::{ElementEvent, ElementEvents};

/// The channel element writes are announced on.
pub(crate) const CHANNEL: &str = "osmosis_elements";

/// How long to wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// A notice's text: the workspace id, the element type's name, the element's id
/// and its customer's (empty for none), space-separated. Ids never hold spaces.
/// A node of the version before (which sent the first two alone and reads only
/// those) takes the longer notice for one it does not know and forgets its whole
/// cache: correct, only slower, during a rolling upgrade.
pub(crate) fn payload(e: &Element) -> String {
    format!(
        "{} {} {} {}",
        e.workspace_id,
        e.element_type.name(),
        e.id,
        e.customer_id.as_deref().unwrap_or_default()
    )
}

/// What a notice says: always the workspace and type, and the element (an
/// [`ElementEvent`]) when a node of this version sent it.
fn parse(payload: &str) -> Option<(&str, ElementType, Option<ElementEvent>)> {
    let mut parts = payload.split(' ');
    let workspace_id = parts.next().filter(|w| !w.is_empty())?;
    let t = ElementType::from_name(parts.next()?)?;
    let event = match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => None,
        (Some(id), Some(customer), None) if !id.is_empty() => Some(ElementEvent {
            workspace_id: workspace_id.to_owned(),
            element_type: t,
            element_id: id.to_owned(),
            customer_id: (!customer.is_empty()).then(|| customer.to_owned()),
        }),
        _ => return None,
    };
    Some((workspace_id, t, event))
}

/// Listens for element writes on `url`'s database until `cache` is dropped, and
/// tells `events` of each (this node's own too). The cache serves nothing until
/// the first listen succeeds.
pub(crate) fn listen(cache: &Arc<CachedElementStore>, url: String, events: Arc<ElementEvents>) {
    cache.set_live(false);
    let gone = cache.on_drop();
    let cache = Arc::downgrade(cache);
    tokio::spawn(async move {
        tokio::select! {
            _ = gone => {}
            _ = keep_listening(cache, url, events) => {}
        }
    });
}

async fn keep_listening(cache: Weak<CachedElementStore>, url: String, events: Arc<ElementEvents>) {
    {
        let mut failures = 0u32;
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        failures = 0;
                        if !hear(&cache, &mut listener, &events).await {
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
async fn hear(
    cache: &Weak<CachedElementStore>,
    listener: &mut PgListener,
    events: &ElementEvents,
) -> bool {
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
                Some((workspace_id, t, event)) => {
                    live.changed(workspace_id, t);
                    if let Some(event) = event {
                        events.publish(event);
                    }
                }
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
    fn a_payload_names_the_workspace_the_type_and_the_element() {
        let mut e = Element::new("ws_1", ElementType::Connection, "2026-01-01T00:00:00Z");
        e.customer_id = Some("cus_1".into());
        let event = ElementEvent::of(&e);
        assert_eq!(
            parse(&payload(&e)),
            Some(("ws_1", ElementType::Connection, Some(event)))
        );
        let flow = Element::new("ws_1", ElementType::Flow, "2026-01-01T00:00:00Z");
        let (_, _, event) = parse(&payload(&flow)).unwrap();
        assert_eq!(event.unwrap().customer_id, None);
        // What the version before sent: the cache still moves, no event.
        assert_eq!(
            parse("ws_1 connection"),
            Some(("ws_1", ElementType::Connection, None))
        );
        assert_eq!(parse("ws_1 no-such-type"), None);
        assert_eq!(parse("nospace"), None);
        assert_eq!(parse("ws_1 flow id cus extra"), None);
    }
}
