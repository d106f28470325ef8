//! The element store: one interface ([`Store`]) over the database, with an embedded
//! SQLite implementation (the default) and a PostgreSQL one (for several nodes).
//!
//! The store owns persistence only: rows in, rows out, uniqueness and revision
//! checks enforced by the database so they hold across nodes. It knows nothing of
//! HTTP, tokens or element semantics; the engine decides what to write.

mod api_logs;
mod cache;
mod connect_records;
mod error;
mod gate;
mod jobs;
mod postgres;
mod query;
mod sql;
mod sql_store;
mod sqlite;
mod weight;

use async_trait::async_trait;
use osmosis_model::Element;

pub use api_logs::{ExternalApiLog, ExternalApiLogQuery};
pub use cache::{CachedStore, DEFAULT_CACHE_BYTES};
pub use connect_records::ConnectRecord;
pub use error::{StoreError, UniqueField};
pub use gate::{BUSY_WAIT, PROBE_INTERVAL};
pub use jobs::{Job, Lease};
pub use postgres::PostgresStore;
pub use query::{ElementQuery, RefFilter};
pub use sql_store::{Backend, SqlStore};
pub use sqlite::SqliteStore;

/// A workspace: a tenant of the server with the secret its tokens are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub key: String,
    pub secret: String,
    pub name: String,
    pub created_at: String,
}

/// Everything Osmosis persists, behind one interface so backends are interchangeable.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn insert_workspace(&self, workspace: &Workspace) -> Result<(), StoreError>;
    async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError>;
    /// Every workspace, oldest first (start-up work such as installing the shipped
    /// connectors; background jobs that know only a workspace id).
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;

    /// Inserts a new element and returns its `seq`. Fails with
    /// [`StoreError::Unique`] when its id, uuid or (scope, key) is taken.
    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError>;

    /// Replaces an element's row if its stored revision is still `expected_revision`;
    /// otherwise [`StoreError::RevisionConflict`] and nothing changes.
    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected_revision: &str,
    ) -> Result<(), StoreError>;

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError>;

    /// Elements matching `query`, in `seq` order, at most `query.limit`.
    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError>;

    /// Adds a job, or moves the pending job of the same (workspace, kind, key) to
    /// this payload and time.
    async fn schedule_job(&self, job: &Job, now_ms: i64) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs for `node` under `lease`; each due job goes to
    /// exactly one claimer, and a job whose lease ran out may be claimed again.
    async fn claim_jobs(
        &self,
        node: &str,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError>;

    /// Marks a claimed job done (a reschedule made while it ran survives).
    async fn finish_job(&self, job: &Job, node: &str) -> Result<(), StoreError>;

    /// Returns a claimed job for another attempt at `run_at`, recording why.
    async fn retry_job(
        &self,
        job: &Job,
        node: &str,
        run_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;

    /// Adds a connect-flow record, or replaces the one at its address.
    async fn put_connect_record(&self, record: &ConnectRecord) -> Result<(), StoreError>;

    /// The unexpired record at an address, taken or not.
    async fn connect_record(
        &self,
        workspace_id: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<ConnectRecord>, StoreError>;

    /// Takes an unexpired, untaken record: exactly one caller ever gets it.
    async fn take_connect_record(
        &self,
        workspace_id: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<ConnectRecord>, StoreError>;

    /// Takes `record` as a lease: true when this caller holds it now (no live
    /// record was at its address), false while someone else's is live.
    async fn take_lease(&self, record: &ConnectRecord, now_ms: i64) -> Result<bool, StoreError>;

    /// Forgets records that expired before `before_ms`.
    async fn purge_connect_records(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// A workspace's settings document (`{}` when none were set).
    async fn workspace_settings(&self, workspace_id: &str)
        -> Result<serde_json::Value, StoreError>;

    async fn set_workspace_settings(
        &self,
        workspace_id: &str,
        settings: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Appends external API logs (one statement for the batch).
    async fn insert_api_logs(&self, logs: &[ExternalApiLog]) -> Result<(), StoreError>;

    /// External API logs matching `query`, without their details.
    async fn find_api_logs(
        &self,
        query: &ExternalApiLogQuery,
    ) -> Result<Vec<ExternalApiLog>, StoreError>;

    /// Deletes external API logs created before `before_ms`; answers how many.
    async fn purge_api_logs(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// One external API log with its details.
    async fn api_log_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ExternalApiLog>, StoreError>;

    /// Whether other nodes may write the same database (PostgreSQL). Node-local
    /// caches of mutable rows are only safe when this is false.
    fn is_shared(&self) -> bool;

    /// Closes the connections (at shutdown; tests dropping their database).
    async fn close(&self);

    /// The highest migration version this database has applied, and whether this
    /// binary knows it (a node must not run against a newer schema).
    async fn schema_version(&self) -> Result<i64, StoreError>;
}

/// The acquire timeout of [`OpenOptions`] unless configured. Long enough for a
/// healthy connect — TCP, startup and SCRAM authentication, TLS too: a few
/// milliseconds on a LAN, some 4–6 round trips (about 300 ms at 50 ms) across
/// regions — and for pinging an idle connection; short enough that a request
/// learns of an outage with half of the one second it may take still left.
pub const DEFAULT_ACQUIRE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// How to open a store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Size of the connection pool.
    pub max_connections: u32,
    /// PostgreSQL: how long a request may take to get a live connection once the
    /// pool has room for it (check an idle one or open one). When it runs out the
    /// database counts as unreachable: the request answers 503 and the next ones do
    /// at once until it answers again. Waiting for a busy pool is separate
    /// ([`BUSY_WAIT`]).
    pub acquire_timeout: std::time::Duration,
    /// Apply migrations.
    pub migrate: bool,
    /// Byte budget of the read cache in front of SQLite (estimated heap bytes of
    /// cached results); unused for PostgreSQL, which is never cached.
    pub cache_bytes: u64,
}

impl OpenOptions {
    pub fn new(max_connections: u32, migrate: bool) -> Self {
        OpenOptions {
            max_connections,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
            migrate,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

/// Opens the store a database URL names: `sqlite:` paths (created when missing) or
/// `postgres://` URLs. Migrations run when `migrate` is set.
pub async fn open(
    url: &str,
    max_connections: u32,
    migrate: bool,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    open_with(url, &OpenOptions::new(max_connections, migrate)).await
}

/// [`open`] with every option.
pub async fn open_with(
    url: &str,
    options: &OpenOptions,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            PostgresStore::connect(url, options).await?,
        ))
    } else if url.starts_with("sqlite:") {
        // One node owns a SQLite file, so its reads can be served from memory.
        let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(
            SqliteStore::connect(url, options.max_connections, options.migrate).await?,
        );
        Ok(std::sync::Arc::new(CachedStore::new(
            store,
            options.cache_bytes,
        )))
    } else {
        Err(StoreError::UnsupportedUrl(
            url.split(':').next().unwrap_or_default().to_string(),
        ))
    }
}
