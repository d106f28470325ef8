//! Values derived from stored elements, kept on this node between requests — the
//! one mechanism behind every such cache (built runners of connections,
//! connector-derived fields of integrations, whether a customer's flows have a
//! trigger of an app event type).
//!
//! An entry is valid for the revision it was built from and for this node's
//! generation of writes that may change what it was derived from ([`NodeCache::
//! invalidate`], called by the hooks of those types). On a shared database another
//! node may write without this node hearing of it, so there entries also expire
//! after [`SHARED_TTL`].

use std::fmt::Write;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use osmosis_model::ElementType;
use osmosis_store::ElementStore;

/// How long an entry is trusted when other nodes may write what it came from.
pub(crate) const SHARED_TTL: Duration = Duration::from_secs(10);
/// More entries than this and the cache starts over (a crude bound on memory).
const MAX_ENTRIES: usize = 50_000;

pub(crate) struct NodeCache<V> {
    entries: DashMap<String, Entry<V>>,
    generation: AtomicU64,
}

struct Entry<V> {
    revision: String,
    generation: u64,
    built: Instant,
    value: Arc<V>,
}

impl<V> Default for NodeCache<V> {
    fn default() -> Self {
        NodeCache {
            entries: DashMap::new(),
            generation: AtomicU64::new(0),
        }
    }
}

/// Where a build began: hand it back to [`NodeCache::insert`], so a value built
/// while a write invalidated the cache is not kept as current.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

/// A revision for a value derived from the elements of `types` in a workspace
/// (and from what `also` names, e.g. another element's revision): the element
/// cache's generations of those types ([`ElementStore::generation`]), which move
/// with every write of one of them. `None` while the cache keeps nothing: derive
/// afresh and keep nothing.
pub(crate) fn elements_revision(
    store: &dyn ElementStore,
    workspace_id: &str,
    types: &[ElementType],
    also: &str,
) -> Option<String> {
    let mut revision = String::new();
    for t in types {
        let (epoch, generation) = store.generation(workspace_id, *t)?;
        let _ = write!(revision, "{epoch}.{generation}/");
    }
    revision.push_str(also);
    Some(revision)
}

impl<V> NodeCache<V> {
    /// Something entries may be derived from changed: every entry may be stale.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The value for `key` built from `revision`, if it is still current; `shared`
    /// says whether other nodes write the same database.
    pub(crate) fn get(&self, key: &str, revision: &str, shared: bool) -> Result<Arc<V>, Ticket> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(entry) = self.entries.get(key) {
            if entry.revision == revision
                && entry.generation == generation
                && (!shared || entry.built.elapsed() < SHARED_TTL)
            {
                return Ok(Arc::clone(&entry.value));
            }
        }
        Err(Ticket(generation))
    }

    /// The value for `key` current at `revision`, else the one `derive` builds,
    /// kept for the next caller. With no `revision` (nothing may be kept), derived
    /// each time.
    pub(crate) async fn get_or_derive<E>(
        &self,
        key: &str,
        revision: Option<&str>,
        shared: bool,
        derive: impl Future<Output = Result<V, E>>,
    ) -> Result<Arc<V>, E> {
        let Some(revision) = revision else {
            return derive.await.map(Arc::new);
        };
        // Taken before deriving, so a write racing it leaves nothing kept.
        let ticket = match self.get(key, revision, shared) {
            Ok(kept) => return Ok(kept),
            Err(ticket) => ticket,
        };
        let value = Arc::new(derive.await?);
        self.insert(
            key.to_owned(),
            revision.to_owned(),
            ticket,
            Arc::clone(&value),
        );
        Ok(value)
    }

    /// Keeps `value`, built from `revision` after [`NodeCache::get`] gave `ticket`.
    pub(crate) fn insert(&self, key: String, revision: String, ticket: Ticket, value: Arc<V>) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(
            key,
            Entry {
                revision,
                generation: ticket.0,
                built: Instant::now(),
                value,
            },
        );
    }
}
