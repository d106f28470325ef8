//! Per-element write locks within one node.
//!
//! Writes are compare-and-swap on `revision`, which alone keeps data right across
//! nodes; serialising this node's writers of one element first means a burst of
//! concurrent patches lands one after another instead of retrying against each other.

use std::sync::Arc;

use dashmap::DashMap;
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Default)]
pub(crate) struct ElementLocks {
    locks: DashMap<String, Arc<Mutex<()>>>,
}

/// Held while an element is written; the entry is dropped when nobody waits on it.
pub(crate) struct WriteGuard<'a> {
    owner: &'a ElementLocks,
    id: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ElementLocks {
    pub(crate) async fn lock(&self, id: &str) -> WriteGuard<'_> {
        let mutex = self.locks.entry(id.to_string()).or_default().clone();
        let guard = mutex.lock_owned().await;
        WriteGuard {
            owner: self,
            id: id.to_string(),
            guard: Some(guard),
        }
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        // Two references left (the map's and ours, dropped with `guard`'s mutex):
        // no other writer is waiting, so forget the entry.
        self.owner
            .locks
            .remove_if(&self.id, |_, m| Arc::strong_count(m) == 1);
    }
}
