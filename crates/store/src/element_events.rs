//! Element writes as they happen, for whoever watches a workspace
//! (`GET /sse/workspace`): the React package and the CLI's watch modes reload
//! what changed. A node hears of its own writes from its element cache when it
//! owns the database (SQLite), and of every node's writes — its own included —
//! from the notices of a shared PostgreSQL ([`crate::cache_listener`]), so each
//! write reaches every node's watchers once.
//!
//! Watchers that fall more than [`BACKLOG`] events behind miss the oldest: the
//! stream is a hint to reload, not a log (the lists are).

use osmosis_model::{Element, ElementType};
use tokio::sync::broadcast;

/// Events a slow watcher may fall behind before it misses some.
pub const BACKLOG: usize = 1024;

/// One element written (created, changed, archived or restored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementEvent {
    pub workspace_id: String,
    pub element_type: ElementType,
    pub element_id: String,
    /// The customer owning the element (connections, instances), who alone of
    /// the customers may hear of it.
    pub customer_id: Option<String>,
}

impl ElementEvent {
    pub fn of(e: &Element) -> Self {
        ElementEvent {
            workspace_id: e.workspace_id.clone(),
            element_type: e.element_type,
            element_id: e.id.clone(),
            customer_id: e.customer_id.clone(),
        }
    }
}

/// Where a node's element events are published and watched.
pub struct ElementEvents {
    tx: broadcast::Sender<ElementEvent>,
}

impl Default for ElementEvents {
    fn default() -> Self {
        ElementEvents {
            tx: broadcast::channel(BACKLOG).0,
        }
    }
}

impl ElementEvents {
    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ElementEvent> {
        self.tx.subscribe()
    }

    /// Tells the watchers; nobody watching is fine.
    pub(crate) fn publish(&self, event: ElementEvent) {
        let _ = self.tx.send(event);
    }

    /// Whether anyone watches: the element cache builds no event for nobody on
    /// every element write.
    pub(crate) fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }
}
