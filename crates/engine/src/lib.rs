//! The engine: what Osmosis does, independent of HTTP.
//!
//! It owns the generic element core (create, change, archive, restore, select and
//! list any element type, with layers, references, revisions and permissions), the
//! tenancy model (workspaces, customers, admin and customer callers) and each
//! element type's own behaviour (integration capability fields, flow validation,
//! package contents). It reaches the database only through the narrow stores of
//! `osmosis_store::Stores`, which no caller outside the engine can reach.

pub mod actions;
pub mod app_data_schemas;
pub mod caller;
pub mod clock;
pub mod config_as_code;
pub mod connect;
pub mod connections;
pub mod connector_sources;
pub mod console_reads;
pub mod console_runs;
pub mod console_sessions;
pub mod data_links;
pub mod data_sources;
pub mod elements;
pub mod errors;
pub mod events;
pub mod field_mappings;
pub mod flows;
mod group_commit;
pub mod jobs;
mod locks;
pub mod log_pages;
pub mod metrics;
mod node_cache;
pub mod notify;
pub mod overview;
pub mod package_versions;
pub mod public_packages;
pub(crate) mod refs;
pub mod retention;
pub mod self_api;
pub mod types;
pub mod workspaces;
pub mod zip_files;

#[cfg(test)]
mod module_graph;

use std::sync::Arc;

use osmosis_connectors::http::{AllowList, OutboundClient};
use osmosis_connectors::sealing::CredentialsCipher;
use osmosis_store::Stores;

pub use caller::Caller;
pub use elements::{ListPage, ListQuery, PathSelector};

/// Every kind of background job this build runs.
const JOB_HANDLERS: [jobs::Handler; 9] = [
    jobs::handler::<connections::health::RefreshCredentialsJob>(),
    jobs::handler::<notify::outbound::DeliverNotificationJob>(),
    jobs::handler::<flows::instances::FlowScheduleJob>(),
    jobs::handler::<events::intake::ProcessDeliveriesJob>(),
    jobs::handler::<events::external::ExternalEventPullJob>(),
    jobs::handler::<events::external::ExternalEventSyncJob>(),
    jobs::handler::<events::external::ExternalEventWebhookJob>(),
    jobs::handler::<config_as_code::jobs::ExportJob>(),
    jobs::handler::<config_as_code::jobs::ImportJob>(),
];

/// Settings the engine needs from the server configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Base URL clients reach this server at; used for callback and webhook URLs.
    pub public_url: String,
}

/// How long a caller waits for an answer that needs an external app, in total:
/// every request, retry and backoff of the operation falls within it
/// (`osmosis_connectors::http::Deadline`). A deadline that passes answers
/// `connection` / `deadline_exceeded` (HTTP 504).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// Interactive steps a person waits on: connection tests (on connect,
    /// reconnect and `POST /connections/{id}/test`) and the connect flow's calls
    /// to the provider (OAuth config, token exchange, credentials). Default 15 s.
    pub connect: std::time::Duration,
    /// Every other call through a connection: connector functions (operations,
    /// data collection methods, actions, revoke) and proxied calls (a streamed
    /// body included). Default 60 s.
    pub calls: std::time::Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Deadlines {
            connect: std::time::Duration::from_secs(15),
            calls: std::time::Duration::from_secs(60),
        }
    }
}

/// Shared state of one Osmosis node.
#[derive(Clone)]
pub struct Engine {
    /// The database, one store per concern. Not public: callers go through the
    /// engine's methods, so none can bypass its checks.
    pub(crate) stores: Stores,
    pub config: Arc<EngineConfig>,
    pub(crate) customers: Arc<types::customer::CustomerCache>,
    pub(crate) locks: Arc<locks::ElementLocks>,
    /// Seals connection credentials; without one, connections cannot be made.
    pub(crate) cipher: Option<Arc<CredentialsCipher>>,
    /// Shared by every outbound call (one connection pool, one address guard).
    pub(crate) http: OutboundClient,
    /// Total time budgets of calls to external apps (see [`Deadlines`]).
    pub(crate) deadlines: Deadlines,
    /// Connector parameters the server supplies by connector key, under each
    /// integration's own (see [`Engine::with_connector_defaults`]).
    pub(crate) connector_defaults: Arc<connections::ConnectorDefaults>,
    /// Connectors installed into every workspace, and the workspaces this node
    /// has installed them into (see `workspaces`).
    pub(crate) catalog: Arc<workspaces::Catalog>,
    /// Built runners of stored connections (see `connections::runners`).
    pub(crate) runners: Arc<connections::runners::RunnerCache>,
    /// Connector-derived fields of integrations (see `types::connector`).
    pub(crate) connector_summaries: Arc<types::connector::ConnectorSummaries>,
    /// How long external API logs are kept before the worker deletes them.
    pub(crate) api_log_retention: std::time::Duration,
    /// The external API log queue and its writer.
    pub(crate) api_logs: Arc<connections::api_logs::ApiLogWriter>,
    /// Each element type's behaviour (see `elements::hooks`).
    pub(crate) element_hooks: elements::hooks::HooksRegistry,
    /// The jobs service: typed jobs queued, claimed and settled (see `jobs`).
    pub(crate) jobs: jobs::JobQueue,
    /// The notifications service (see `notify`).
    pub(crate) notifications: notify::outbound::Notifier,
    /// The action run log writer (group commits; see `actions::run_log_writer`).
    pub(crate) action_run_writer: Arc<actions::run_log_writer::RunLogWriter>,
    /// The API itself, for code that calls it as a customer (see `self_api`).
    pub self_api: self_api::SelfApiSlot,
    /// Flow run writes in group commits (see `flows`).
    pub(crate) flow_writer: Arc<flows::FlowWriter>,
    /// This node's flow run scheduler (see `flows::scheduler`).
    pub(crate) flow_scheduler: Arc<flows::scheduler::Scheduler>,
    pub(crate) flow_limits: flows::FlowLimits,
    /// Incoming webhook deliveries in group commits (see `events::intake`).
    pub(crate) intake: Arc<events::intake::IntakeWriter>,
    /// The app events of the dedupe window, on a database this node owns (see
    /// `events::recent_events`); `None` on a shared one.
    pub(crate) recent_events: Option<Arc<events::recent_events::RecentEvents>>,
    /// Whether customers' flows have a trigger of an app event type (see
    /// `events::app_events`).
    pub(crate) triggers: Arc<events::app_events::Triggers>,
    /// Live customers' ids by `internalId` (see `types::customer`).
    pub(crate) customer_ids: Arc<crate::node_cache::NodeCache<Option<String>>>,
    /// Set on the engine an import stages its writes through
    /// (`config_as_code::staged`): its element writes go to memory, so the
    /// element core runs none of the hooks that act on a stored write (caches,
    /// triggers, instances) — the import runs them once it committed.
    pub(crate) staging: bool,
}

impl Engine {
    pub fn new(stores: Stores, config: EngineConfig) -> Self {
        let jobs = jobs::JobQueue::new(Arc::clone(&stores.jobs), &JOB_HANDLERS);
        let http = OutboundClient::default();
        let owned = !stores.database.is_shared();
        let recent_events = owned.then(Arc::default);
        Engine {
            config: Arc::new(config),
            customers: Arc::new(types::customer::CustomerCache::default()),
            locks: Arc::new(locks::ElementLocks::default()),
            cipher: None,
            deadlines: Deadlines::default(),
            connector_defaults: Arc::default(),
            catalog: Arc::default(),
            runners: Arc::new(Default::default()),
            connector_summaries: Arc::new(Default::default()),
            api_log_retention: std::time::Duration::from_secs(30 * 24 * 3600),
            api_logs: Arc::new(connections::api_logs::ApiLogWriter::new(Arc::clone(
                &stores.api_logs,
            ))),
            action_run_writer: Arc::new(actions::run_log_writer::RunLogWriter::new(
                Arc::clone(&stores.action_runs),
                owned,
            )),
            element_hooks: types::hooks_of,
            jobs: jobs.clone(),
            notifications: notify::outbound::Notifier::new(
                Arc::clone(&stores.workspaces),
                Arc::clone(&stores.elements),
                jobs,
                http.clone(),
            ),
            http,
            flow_writer: Arc::new(
                flows::writer(Arc::clone(&stores.flow_runs)).on_own_thread(owned),
            ),
            flow_scheduler: Arc::default(),
            flow_limits: flows::FlowLimits::default(),
            intake: Arc::new(
                events::intake::writer(Arc::clone(&stores.events), recent_events.clone())
                    .on_own_thread(owned),
            ),
            recent_events,
            triggers: Arc::default(),
            customer_ids: Arc::default(),
            stores,
            self_api: Default::default(),
            staging: false,
        }
    }

    /// The element core: create, change, archive, select, list and render elements.
    pub fn elements(&self) -> elements::Elements<'_> {
        elements::Elements::of(self)
    }

    /// Calls through stored connections: proxy, operations, `/act`, refreshes, logs.
    pub fn calls(&self) -> connections::Calls<'_> {
        connections::Calls::of(self)
    }

    /// Running actions, and their run logs.
    pub fn actions(&self) -> actions::Actions<'_> {
        actions::Actions::of(self)
    }

    /// App data schemas, static and customer-specific.
    pub fn app_data_schemas(&self) -> app_data_schemas::AppDataSchemas<'_> {
        app_data_schemas::AppDataSchemas::of(self)
    }

    /// Data source instances' collections, with UDM translation.
    pub fn data_sources(&self) -> data_sources::DataSources<'_> {
        data_sources::DataSources::of(self)
    }

    /// Data links: which external record is which app record, per table instance.
    pub fn data_links(&self) -> data_links::DataLinks<'_> {
        data_links::DataLinks::of(self)
    }

    /// Making connections interactively: OAuth sessions and connection requests.
    pub fn connect(&self) -> connect::Connect<'_> {
        connect::Connect::of(self)
    }

    /// The workspace webhook settings and notifications.
    pub fn notifications(&self) -> &notify::outbound::Notifier {
        &self.notifications
    }

    /// Sets the limits of flow runs (see [`flows::FlowLimits`]).
    pub fn with_flow_limits(mut self, limits: flows::FlowLimits) -> Self {
        self.flow_limits = limits;
        self
    }

    /// Keeps external API logs and action run logs for `retention` (default 30 days).
    pub fn with_api_log_retention(mut self, retention: std::time::Duration) -> Self {
        self.api_log_retention = retention;
        self
    }

    /// Lets outbound calls reach the private networks and hosts `allow` covers
    /// (by default only public addresses are called).
    pub fn with_outbound(mut self, allow: AllowList) -> Self {
        self.http = OutboundClient::new(allow);
        self.notifications = self.notifications.with_http(self.http.clone());
        self
    }

    /// The guarded client every outbound call goes through, for a part of the server
    /// beside the engine that calls out too (the demo app's webhooks).
    pub fn outbound(&self) -> &OutboundClient {
        &self.http
    }

    /// Connector parameters the server supplies to every connection of the connector
    /// `key`, where neither its integration nor the connection sets them. `--demo`
    /// gives the `demo-app` connector the server's own address as `apiBaseUri` this
    /// way: a shipped connector cannot know where the server listens, and the value
    /// is read at call time, so it follows the server to another port.
    pub fn with_connector_defaults(
        mut self,
        key: &str,
        parameters: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        Arc::make_mut(&mut self.connector_defaults).insert(key.to_owned(), parameters);
        self
    }

    /// Sets the total time budgets of calls to external apps (default: 15 s for
    /// connection tests and connecting, 60 s for other calls).
    pub fn with_deadlines(mut self, deadlines: Deadlines) -> Self {
        self.deadlines = deadlines;
        self
    }

    /// The key connection credentials are sealed with. Set it before serving: an
    /// engine without one refuses to make connections rather than store secrets in
    /// the clear.
    pub fn with_credentials_cipher(mut self, cipher: CredentialsCipher) -> Self {
        self.cipher = Some(Arc::new(cipher));
        self
    }
}
