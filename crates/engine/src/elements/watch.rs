//! `GET /sse/workspace`: the element writes of a workspace as they happen, for
//! tools that reload what changed (the React package, watch modes). Each is
//! `{type: "element-update", elementType, elementId}`, only for what the caller
//! may read: an admin hears of every element, a customer of the workspace's
//! elements and of their own connections and instances — never another
//! customer's. A watcher that falls behind by more than the store's backlog
//! misses the oldest writes (`osmosis_store::element_events`); the stream says
//! what to reload, the lists stay the record.

use futures::Stream;
use osmosis_store::ElementEvent;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::caller::may_see;
use crate::{Caller, Engine};

impl Engine {
    /// The element updates `caller` may hear of, from now on, until the server
    /// stops.
    pub fn element_updates(&self, caller: &Caller) -> impl Stream<Item = Value> + Send + 'static {
        let events = self.stores.element_events.subscribe();
        futures::stream::unfold(
            (events, caller.clone()),
            |(mut events, caller)| async move {
                loop {
                    match events.recv().await {
                        Ok(e) if heard_by(&caller, &e) => {
                            return Some((update(&e), (events, caller)))
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}

fn heard_by(caller: &Caller, e: &ElementEvent) -> bool {
    e.workspace_id == caller.workspace_id()
        && may_see(caller, e.element_type, e.customer_id.as_deref())
}

fn update(e: &ElementEvent) -> Value {
    json!({
        "type": "element-update",
        "elementType": e.element_type.name(),
        "elementId": e.element_id,
    })
}
