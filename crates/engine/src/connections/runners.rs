//! Runners of stored connections kept between calls. Building one means reading
//! the integration and connector, parsing the connector, opening the sealed
//! credentials and evaluating `makeApiClient`; the proxy is the hottest path of
//! the engine, so a connection's runner (with its API client and its external API
//! log observer) is built once and reused while nothing it was built from changed.
//!
//! An entry is valid for the connection revision it was built from (credentials
//! change the revision) and for this node's generation of integration and
//! connector writes. On a shared database another node may change a connector
//! without this node hearing of it, so there entries also expire after
//! [`SHARED_TTL`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use osmosis_connectors::function::FunctionRunner;
use osmosis_model::{ApiError, Element};

use super::api_logs::ConnectionObserver;
use crate::Engine;

/// How long a runner is trusted when other nodes may write connectors.
pub(crate) const SHARED_TTL: Duration = Duration::from_secs(10);
/// More entries than this and the cache starts over (a crude bound on memory).
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub(crate) struct RunnerCache {
    entries: DashMap<String, Entry>,
    generation: AtomicU64,
}

struct Entry {
    revision: String,
    generation: u64,
    built: Instant,
    runner: Arc<FunctionRunner>,
}

impl RunnerCache {
    /// Integrations or connectors changed: every built runner may be stale.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

impl Engine {
    /// The runner of a stored connection, with its external API log observer.
    pub(crate) async fn live_runner(
        &self,
        conn: &Element,
    ) -> Result<Arc<FunctionRunner>, ApiError> {
        let generation = self.runners.generation.load(Ordering::SeqCst);
        if let Some(entry) = self.runners.entries.get(&conn.id) {
            if entry.revision == conn.revision
                && entry.generation == generation
                && (!self.stores.database.is_shared() || entry.built.elapsed() < SHARED_TTL)
            {
                return Ok(Arc::clone(&entry.runner));
            }
        }
        let runner = Arc::new(
            self.connection_runner(conn)
                .await?
                .with_observer(Arc::new(ConnectionObserver::new(self, conn))),
        );
        if self.runners.entries.len() >= MAX_ENTRIES {
            self.runners.entries.clear();
        }
        self.runners.entries.insert(
            conn.id.clone(),
            Entry {
                revision: conn.revision.clone(),
                generation,
                built: Instant::now(),
                runner: Arc::clone(&runner),
            },
        );
        Ok(runner)
    }
}
