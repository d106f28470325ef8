//! The stores: one narrow interface per concern — [`WorkspaceStore`],
//! [`ElementStore`], [`JobStore`], [`ConnectRecordStore`], [`ConsoleSessionStore`], [`ApiLogStore`],
//! [`ActionRunLogStore`], [`DataLinkStore`], [`FlowRunStore`] (flow runs, their node
//! runs and the queue they form), [`BackgroundJobStore`] (long operations a client
//! polls for, and their files), and the [`Database`] itself — gathered in
//! [`Stores`], with an embedded SQLite implementation (the default) and a PostgreSQL
//! one (for several nodes). Events will be a concern of its own beside these.
//!
//! The stores own persistence only: rows in, rows out, uniqueness and revision
//! checks enforced by the database so they hold across nodes. They know nothing of
//! HTTP, tokens or element semantics; the engine decides what to write.
//!
//! One SQL implementation ([`SqlStore`]) serves every concern, written once for
//! both backends (see `sql_store.rs`). Only elements are cached, and only on SQLite
//! ([`CachedElementStore`]).
//!
//! ## Column types on PostgreSQL: text documents and timestamps
//!
//! Documents (element documents, job payloads, connect records, workspace settings,
//! API log details, action run records and details, flow and node run records,
//! background job parameters and results) are stored as JSON text, not `jsonb`, on
//! both backends. `jsonb` does not keep a document as written: it reorders object
//! keys (shortest first, then bytewise), drops duplicate keys and normalises
//! numbers, and the API returns documents in the order their authors wrote them
//! (`serde_json` keeps that order, and the SDK suite compares responses).
//! The one query that reads inside a document, a list's equality filter on a flag
//! (`ElementQuery::doc_equals`), casts the text per row; an index on workspace and
//! type has narrowed the rows first, so `jsonb` would save little there. A `jsonb`
//! copy beside the text would double every document's size for that.
//!
//! Timestamps stay ISO 8601 text too, not `timestamptz`: the API returns them
//! exactly as stored (millisecond precision, `Z`), which `timestamptz` would
//! reformat; no query compares or ranges over them (lists page by `seq`); and the
//! times queries do range over — job due times, leases, expiries, API log, action
//! run and flow run creation, flow run ends — are already integer milliseconds with
//! their own indexes.

mod action_runs;
mod api_logs;
mod background_jobs;
mod cache;
mod cache_listener;
mod connect_records;
mod connector_versions;
mod console_sessions;
mod constraints;
mod data_links;
mod database;
mod element_events;
mod elements;
mod error;
mod events;
mod external_events;
mod flow_runs;
mod gate;
mod jobs;
mod package_versions;
mod postgres;
mod query;
mod retention;
mod sql_store;
mod sqlite;
mod weight;
mod workspaces;

use std::sync::Arc;

pub use action_runs::{ActionRunLog, ActionRunLogQuery, ActionRunLogStore};
pub use api_logs::{ApiLogStore, ExternalApiLog, ExternalApiLogQuery};
pub use background_jobs::{BackgroundJob, BackgroundJobStatus, BackgroundJobStore};
pub use cache::{CachedElementStore, DEFAULT_CACHE_BYTES};
pub use connect_records::{ConnectRecord, ConnectRecordStore};
pub use connector_versions::{ConnectorVersion, ConnectorVersionStore};
pub use console_sessions::{ConsoleSession, ConsoleSessionKind, ConsoleSessionStore};
pub use data_links::{DataLink, DataLinkQuery, DataLinkStore};
pub use database::{Database, PoolUse};
pub use element_events::{ElementEvent, ElementEvents};
pub use elements::{BatchWriteError, ElementStore, ElementWrite};
pub use error::{StoreError, UniqueField};
pub use events::{
    AppEventOutcome, AppEventRow, EventLogQuery, EventStore, IncomingWebhook, Settlement,
};
pub use external_events::{
    DeliverySettlement, ExternalEventLogQuery, ExternalEventLogRow, ExternalEventPullRow,
    ExternalEventStore, ExternalEventSubscriptionQuery, ExternalEventSubscriptionRow,
    GlobalWebhookRow, PullFinish, PullStart, SnapshotChange, StrandedSubscription,
    SubscriptionChange, WebhookRegistration, PULL_SUBSCRIPTION_GONE,
};
pub use flow_runs::{
    Claim, FlowRunQuery, FlowRunQueue, FlowRunRow, FlowRunStore, FlowWrite, NodeRunRow,
    WriteOutcome,
};
pub use gate::{BUSY_WAIT, PROBE_INTERVAL};
pub use jobs::{Job, JobQueueKind, JobStore, Lease};
pub use package_versions::{PackageVersion, PackageVersionStore};
pub use postgres::PostgresStore;
pub use query::{ElementQuery, RefFilter};
pub use sql_store::{Backend, SqlStore};
pub use sqlite::SqliteStore;
pub use workspaces::{Workspace, WorkspaceStore};

/// Every store of one database, each behind its own interface. Cloning shares them
/// (and the element cache).
#[derive(Clone)]
pub struct Stores {
    pub workspaces: Arc<dyn WorkspaceStore>,
    pub elements: Arc<dyn ElementStore>,
    pub jobs: Arc<dyn JobStore>,
    pub connect_records: Arc<dyn ConnectRecordStore>,
    /// Console sessions and one-time sign-in links.
    pub console_sessions: Arc<dyn ConsoleSessionStore>,
    pub api_logs: Arc<dyn ApiLogStore>,
    pub action_runs: Arc<dyn ActionRunLogStore>,
    pub data_links: Arc<dyn DataLinkStore>,
    pub flow_runs: Arc<dyn FlowRunStore>,
    pub external_events: Arc<dyn ExternalEventStore>,
    pub events: Arc<dyn EventStore>,
    pub background_jobs: Arc<dyn BackgroundJobStore>,
    /// Connector sources and their published versions.
    pub connector_versions: Arc<dyn ConnectorVersionStore>,
    /// Packages' published versions.
    pub package_versions: Arc<dyn PackageVersionStore>,
    pub database: Arc<dyn Database>,
    /// Element writes as they happen (`element_events`): published by the element
    /// cache of a store [`open`] made.
    pub element_events: Arc<ElementEvents>,
}

impl Stores {
    /// Every concern served by one store.
    pub fn of<S>(store: Arc<S>) -> Self
    where
        S: WorkspaceStore
            + ElementStore
            + JobStore
            + ConnectRecordStore
            + ConsoleSessionStore
            + ApiLogStore
            + ActionRunLogStore
            + DataLinkStore
            + FlowRunStore
            + ExternalEventStore
            + EventStore
            + BackgroundJobStore
            + ConnectorVersionStore
            + PackageVersionStore
            + Database,
    {
        Stores {
            workspaces: store.clone(),
            elements: store.clone(),
            jobs: store.clone(),
            connect_records: store.clone(),
            console_sessions: store.clone(),
            api_logs: store.clone(),
            action_runs: store.clone(),
            data_links: store.clone(),
            flow_runs: store.clone(),
            external_events: store.clone(),
            events: store.clone(),
            background_jobs: store.clone(),
            connector_versions: store.clone(),
            package_versions: store.clone(),
            database: store,
            element_events: Arc::default(),
        }
    }
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
    /// Byte budget of the element read cache (estimated heap bytes of cached
    /// results), on SQLite and PostgreSQL alike.
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
pub async fn open(url: &str, max_connections: u32, migrate: bool) -> Result<Stores, StoreError> {
    open_with(url, &OpenOptions::new(max_connections, migrate)).await
}

/// [`open`] with every option.
pub async fn open_with(url: &str, options: &OpenOptions) -> Result<Stores, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut stores = Stores::of(Arc::new(PostgresStore::connect(url, options).await?));
        // Served from memory too, while this node hears of the other nodes'
        // element writes (see `cache_listener`).
        let cache = Arc::new(CachedElementStore::new(
            stores.elements,
            options.cache_bytes,
        ));
        cache_listener::listen(&cache, url.to_owned(), Arc::clone(&stores.element_events));
        stores.elements = cache;
        Ok(stores)
    } else if url.starts_with("sqlite:") {
        let sqlite = SqliteStore::connect(url, options.max_connections, options.migrate).await?;
        let mut stores = Stores::of(Arc::new(sqlite));
        // One node owns a SQLite file, so its reads can be served from memory.
        stores.elements = Arc::new(
            CachedElementStore::new(stores.elements, options.cache_bytes)
                .publishing_to(Arc::clone(&stores.element_events)),
        );
        Ok(stores)
    } else {
        Err(StoreError::UnsupportedUrl(
            url.split(':').next().unwrap_or_default().to_string(),
        ))
    }
}
