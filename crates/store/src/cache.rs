//! A read cache in front of an element store: one node owns alone (SQLite), or
//! shared by several nodes (PostgreSQL), which then tell each other what they
//! wrote ([`crate::cache_listener`]).
//! Only elements are cached: they are what every request reads, while the other
//! concerns are written as often as read (jobs, connect records, logs) or read
//! once at start (workspaces).
//!
//! Reads of elements are answered from memory; every write bumps a generation
//! counter of the (workspace, element type) it touched, and a cached read is only
//! used while the generation it was taken under is current. A read tags its entry
//! with the generation seen *before* it queried, so a write racing the read always
//! invalidates it. Alone, that is every write there is. On a shared database the
//! other nodes' writes bump the same generations when their notices arrive (a
//! moment after they commit), and while this node may miss notices (its
//! listening connection is down) nothing is cached or answered from memory.
//!
//! The cache is bounded by bytes, not entries: each entry weighs an estimate of
//! the heap bytes it holds (its key, and the elements with their documents, see
//! [`crate::weight`]), and the least useful entries are evicted to keep the total
//! under the budget. Counting entries was not enough: every distinct query string
//! kept its own clone of the result, so one large element listed under many
//! queries multiplied in memory without limit. An entry heavier than
//! 1/[`LARGEST_SHARE`] of the budget is not cached at all, so one huge list cannot
//! flush everything else; it is read from the database each time.
//!
//! The cache is `quick_cache` rather than `moka`: lookups here are synchronous and
//! short (no loader futures, no expiry, no listeners), and quick_cache is a sharded
//! hash table with a weigher and a scan-resistant eviction policy, no background
//! threads, and only itself and `hashbrown` added to the build, where moka brings
//! its own scheduler and concurrency stack for features this cache does not use.
//! Stale entries (an older generation) are not hunted down: they stop being
//! answered at once and are evicted like any other cold entry.

use std::hash::{Hash, Hasher};
use std::mem::size_of;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use osmosis_model::{Element, ElementType};
use quick_cache::sync::Cache;
use quick_cache::{OptionsBuilder, Weighter};

use crate::weight::element_bytes;
use crate::{ElementQuery, ElementStore, RefFilter, StoreError};

/// The byte budget when none is configured (`--cache-mb` of `serve`): enough for
/// tens of thousands of typical elements, small next to a server's other memory.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// An entry heavier than `budget / LARGEST_SHARE` is not cached. It is also the
/// number of shards, so each shard (which evicts on its own) can hold the largest
/// admitted entry; fixed rather than per core, so what is cached does not depend
/// on the machine.
pub const LARGEST_SHARE: u64 = 8;

/// What was looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// A `find_elements` query (every field narrows the result). Kept as the query
    /// itself rather than its debug text: formatting one cost a few per cent of an
    /// action run's CPU (bench/actions profile).
    Query(Box<ElementQuery>),
    /// An `element_by_id` lookup: (workspace, id).
    ById(String, String),
}

impl Key {
    fn bytes(&self) -> usize {
        size_of::<Key>()
            + match self {
                Key::Query(q) => query_bytes(q),
                Key::ById(w, id) => w.capacity() + id.capacity(),
            }
    }
}

impl Hash for Key {
    /// Every field but `doc_equals`' values, which `serde_json::Value` cannot hash;
    /// equal queries still hash equal, and `Eq` compares the values.
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            Key::ById(w, id) => (0u8, w, id).hash(h),
            Key::Query(q) => {
                1u8.hash(h);
                (&q.workspace_id, q.element_type, &q.id, &q.key, &q.uuid).hash(h);
                (&q.integration, &q.parent, &q.connection).hash(h);
                (&q.instance_key, &q.customer, q.include_archived, &q.search).hash(h);
                for (field, _) in &q.doc_equals {
                    field.hash(h);
                }
                (q.after_seq, q.limit).hash(h);
            }
        }
    }
}

/// Heap bytes a cached query key holds, roughly.
fn query_bytes(q: &ElementQuery) -> usize {
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    let filter = |f: &RefFilter| match f {
        RefFilter::Is(s) => s.capacity(),
        _ => 0,
    };
    size_of::<ElementQuery>()
        + q.workspace_id.capacity()
        + text(&q.id)
        + text(&q.key)
        + text(&q.uuid)
        + text(&q.search)
        + [
            &q.integration,
            &q.parent,
            &q.connection,
            &q.instance_key,
            &q.customer,
        ]
        .into_iter()
        .map(filter)
        .sum::<usize>()
        + q.doc_equals
            .iter()
            .map(|(k, v)| k.capacity() + v.to_string().len())
            .sum::<usize>()
}

/// What a lookup answered.
#[derive(Clone)]
enum Found {
    List(Arc<Vec<Element>>),
    One(Option<Arc<Element>>),
}

impl Found {
    fn bytes(&self) -> usize {
        match self {
            Found::List(list) => {
                size_of::<Vec<Element>>()
                    + (list.capacity() - list.len()) * size_of::<Element>()
                    + list.iter().map(element_bytes).sum::<usize>()
            }
            Found::One(one) => one.as_deref().map_or(0, element_bytes),
        }
    }
}

/// A cached answer with the generation it was read under, and its weight (computed
/// once: the weigher runs during eviction and must be cheap).
#[derive(Clone)]
struct Tagged {
    generation: Generation,
    weight: u64,
    found: Found,
}

/// Weighs an entry by its key and value bytes.
#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Tagged> for ByBytes {
    fn weight(&self, _key: &Key, entry: &Tagged) -> u64 {
        entry.weight
    }
}

/// What a cached answer is valid for: the cache's epoch (every answer is
/// forgotten when it moves) and the generation of the answer's (workspace,
/// element type).
type Generation = (u64, u64);

pub struct CachedElementStore {
    inner: Arc<dyn ElementStore>,
    generations: DashMap<(String, ElementType), u64>,
    /// Moves when every answer must be forgotten at once: on a shared database,
    /// when the notices of other nodes' writes may have been missed.
    epoch: std::sync::atomic::AtomicU64,
    /// Whether answers may be kept and served. On a shared database only while
    /// this node hears of the other nodes' writes (see [`crate::cache_listener`]).
    live: std::sync::atomic::AtomicBool,
    /// Dropped with the cache: ends its listener (see [`Self::on_drop`]).
    dropped: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    entries: Cache<Key, Tagged, ByBytes>,
    /// Entries heavier than this are not cached.
    largest_entry: u64,
    /// Where this node's element writes are told as they commit, when it owns
    /// the database (on a shared one every node's come from the listener).
    events: Option<Arc<crate::ElementEvents>>,
}

impl CachedElementStore {
    /// A cache of at most `budget_bytes` (estimated heap bytes) in front of `inner`.
    pub fn new(inner: Arc<dyn ElementStore>, budget_bytes: u64) -> Self {
        // Whole shards, so the shards' capacities add up to no more than the budget.
        let budget = budget_bytes - budget_bytes % LARGEST_SHARE;
        let options = OptionsBuilder::new()
            .shards(LARGEST_SHARE as usize)
            // Sizes the table of recently evicted keys quick_cache keeps to judge
            // re-admission; an entry is a few KiB on average.
            .estimated_items_capacity((budget / 4096).max(32 * LARGEST_SHARE) as usize)
            .weight_capacity(budget)
            .build()
            .expect("every cache option is set");
        CachedElementStore {
            inner,
            generations: DashMap::new(),
            epoch: Default::default(),
            live: true.into(),
            dropped: Default::default(),
            entries: Cache::with_options(options, ByBytes, Default::default(), Default::default()),
            largest_entry: budget / LARGEST_SHARE,
            events: None,
        }
    }

    /// Publishes each element this store writes to `events` once it is written.
    pub fn publishing_to(mut self, events: Arc<crate::ElementEvents>) -> Self {
        self.events = Some(events);
        self
    }

    fn written(&self, element: &Element) {
        self.bump(&element.workspace_id, element.element_type);
        if let Some(events) = self.events.as_ref().filter(|e| e.watched()) {
            events.publish(crate::ElementEvent::of(element));
        }
    }

    /// The estimated bytes the cache holds now; never more than [`Self::budget`].
    pub fn weight(&self) -> u64 {
        self.entries.weight()
    }

    /// The most the cache holds, in estimated bytes.
    pub fn budget(&self) -> u64 {
        self.entries.capacity()
    }

    /// How many answers are cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What answers about `(workspace_id, t)` read now are valid for; `None` while
    /// nothing may be kept or served.
    fn current(&self, workspace_id: &str, t: ElementType) -> Option<Generation> {
        // `live` before the epoch: once live again, the epoch read after it is the
        // one `set_live` moved to, which nothing read while down was kept under.
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let epoch = self.epoch.load(Ordering::Acquire);
        let g = self
            .generations
            .get(&(workspace_id.to_string(), t))
            .map(|g| *g)
            .unwrap_or(0);
        Some((epoch, g))
    }

    fn bump(&self, workspace_id: &str, t: ElementType) {
        *self
            .generations
            .entry((workspace_id.to_string(), t))
            .or_insert(0) += 1;
    }

    /// Another node wrote an element of type `t` in the workspace: what is cached
    /// of that type there is no longer answered.
    pub fn changed(&self, workspace_id: &str, t: ElementType) {
        self.bump(workspace_id, t);
    }

    /// Completes when this cache is dropped.
    pub(crate) fn on_drop(&self) -> tokio::sync::oneshot::Receiver<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(mut dropped) = self.dropped.lock() {
            *dropped = Some(tx);
        }
        rx
    }

    /// Nothing cached so far is answered any more.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether answers may be kept and served: off while this node may miss
    /// other nodes' writes; everything kept before is forgotten when it goes off.
    pub fn set_live(&self, live: bool) {
        if !live {
            self.live.store(false, Ordering::Release);
            self.forget_all();
        } else {
            self.forget_all();
            self.live.store(true, Ordering::Release);
        }
    }

    /// The cached answer to `key` if it was read under `generation`.
    fn hit(&self, key: &Key, generation: Generation) -> Option<Found> {
        self.entries
            .get(key)
            .filter(|hit| hit.generation == generation)
            .map(|hit| hit.found)
    }

    /// Caches `found` under `key` if the generation it was read under is still
    /// current, unless it alone would take too much of the budget.
    fn keep(&self, key: Key, generation: Generation, found: Found) {
        if !self.live.load(Ordering::Acquire) || self.epoch.load(Ordering::Acquire) != generation.0
        {
            return;
        }
        let weight = (key.bytes() + found.bytes()) as u64;
        if weight > self.largest_entry {
            // Whatever is cached under this key was read under an older generation
            // (the same one would weigh as much): stale now, so free it.
            self.entries.remove(&key);
            return;
        }
        self.entries.insert(
            key,
            Tagged {
                generation,
                weight,
                found,
            },
        );
    }
}

/// The element type an id names by its prefix.
fn type_of_id(id: &str) -> Option<ElementType> {
    ElementType::ALL.into_iter().find(|t| t.is_id(id))
}

#[async_trait]
impl ElementStore for CachedElementStore {
    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError> {
        let result = self.inner.insert_element(element, key_scope).await;
        match &result {
            Ok(_) => self.written(element),
            Err(_) => self.bump(&element.workspace_id, element.element_type),
        }
        result
    }

    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .update_element(element, key_scope, expected)
            .await;
        match &result {
            Ok(()) => self.written(element),
            Err(_) => self.bump(&element.workspace_id, element.element_type),
        }
        result
    }

    async fn write_elements(
        &self,
        writes: &[crate::ElementWrite],
    ) -> Result<Vec<i64>, crate::BatchWriteError> {
        let result = self.inner.write_elements(writes).await;
        for w in writes {
            match &result {
                Ok(_) => self.written(&w.element),
                Err(_) => self.bump(&w.element.workspace_id, w.element.element_type),
            }
        }
        result
    }

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError> {
        let Some(t) = type_of_id(id) else {
            return self.inner.element_by_id(workspace_id, id).await;
        };
        let Some(generation) = self.current(workspace_id, t) else {
            return self.inner.element_by_id(workspace_id, id).await;
        };
        let key = Key::ById(workspace_id.to_string(), id.to_string());
        if let Some(Found::One(hit)) = self.hit(&key, generation) {
            return Ok(hit.as_deref().cloned());
        }
        let found = self.inner.element_by_id(workspace_id, id).await?;
        self.keep(key, generation, Found::One(found.clone().map(Arc::new)));
        Ok(found)
    }

    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
        let Some(generation) = self.current(&query.workspace_id, query.element_type) else {
            return self.inner.find_elements(query).await;
        };
        let key = Key::Query(Box::new(query.clone()));
        if let Some(Found::List(hit)) = self.hit(&key, generation) {
            return Ok(hit.as_ref().clone());
        }
        let found = self.inner.find_elements(query).await?;
        self.keep(key, generation, Found::List(Arc::new(found.clone())));
        Ok(found)
    }

    /// Counted by the database: a count is one cheap query, not worth caching.
    async fn count_elements(&self, query: &ElementQuery) -> Result<i64, StoreError> {
        self.inner.count_elements(query).await
    }

    async fn archived_among(
        &self,
        workspace_id: &str,
        ids: &[&str],
    ) -> Result<Vec<Element>, StoreError> {
        self.inner.archived_among(workspace_id, ids).await
    }

    fn generation(&self, workspace_id: &str, t: ElementType) -> Option<(u64, u64)> {
        self.current(workspace_id, t)
    }
}
