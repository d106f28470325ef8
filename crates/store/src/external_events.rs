//! External event subscriptions, the snapshots their full scans compare with, their
//! event log records and their pulls (see the migration
//! `0013_external_event_subscriptions.sql`). Tables of their own rather than
//! elements: a subscription is made and archived by the engine (never written
//! through the element API, never layered or selected by key), and its state moves
//! at the rate it is polled.
//!
//! What must hold across nodes is enforced here, each in one transaction: one
//! subscription per (connection, config) (a unique index: [`ExternalEventStore::ensure_external_event_subscription`]
//! answers the row already there); at most one running pull per connection and kind
//! and a cap per workspace ([`ExternalEventStore::start_external_event_pull`],
//! serialised per workspace); and a pull's events, its snapshot and its
//! subscription's new state stored together or not at all
//! ([`ExternalEventStore::finish_external_event_pull`]), so a node dying halfway
//! neither loses nor repeats an event.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::query::{bulk_update, keep_earliest, ROWS_PER_UPDATE};
use crate::retention::Retention;
use crate::sql_store::{for_each_backend, write_transaction, SqlStore};

/// One external event subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEventSubscriptionRow {
    /// Insertion order; the list cursor. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    pub connection_id: String,
    /// The fingerprint of `config`, unique per connection.
    pub config_key: String,
    /// `{type, dataSource?, eventKey?, eventParameters?}`.
    pub config: Value,
    /// What the engine derived from the connector (a JSON object).
    pub details: Value,
    /// `subscribed`, `unsubscribed` or `error`.
    pub status: String,
    pub error: Option<Value>,
    pub state_data: Option<Value>,
    pub next_pull_ms: Option<i64>,
    pub created_ms: i64,
    pub archived_ms: Option<i64>,
    /// The random key of its webhook URL.
    pub webhook_key: String,
    /// `{state, registeredMs}` while a webhook is registered at the external app
    /// (written only by [`ExternalEventStore::set_external_event_webhook`] and
    /// [`ExternalEventStore::settle_external_deliveries`]).
    pub webhook_state: Option<Value>,
    pub next_refresh_ms: Option<i64>,
}

/// A subscription with log records left `created` (see
/// [`ExternalEventStore::stranded_external_event_subscriptions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct StrandedSubscription {
    pub seq: i64,
    pub workspace_id: String,
    pub subscription_id: String,
}

/// The app-wide URL of one global webhook of one connector in one workspace
/// (migration `0015_connector_global_webhooks.sql`).
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalWebhookRow {
    pub id: String,
    pub workspace_id: String,
    pub connector_id: String,
    /// The connector's key of the global webhook (`global-webhooks/<key>`).
    pub webhook_key: String,
    /// The random key of its URL.
    pub url_key: String,
    pub created_ms: i64,
}

/// Which subscriptions to list, in `seq` order from after the cursor; `None`
/// filters nothing.
#[derive(Debug, Clone, Default)]
pub struct ExternalEventSubscriptionQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub status: Option<String>,
    pub include_archived: bool,
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// A change of a subscription's lifecycle (not of what its pulls keep).
#[derive(Debug, Clone)]
pub struct SubscriptionChange {
    pub workspace_id: String,
    pub id: String,
    pub status: String,
    pub error: Option<Value>,
    pub details: Value,
    pub next_pull_ms: Option<i64>,
    pub archived_ms: Option<i64>,
    /// Forget what the pulls kept (`stateData` and the snapshot), so the next pull
    /// takes a new baseline. A registered webhook (`webhook_state`) is kept: only
    /// its job may forget it, once it is unsubscribed.
    pub reset_state: bool,
}

/// What a subscription's webhook job found at the external app: the registration
/// (`None`: no webhook registered) and, when it tried to register or renew it,
/// how that went (`Ok`: `subscribed`, `Err(error)`: `error`) — applied only while
/// the subscription is wanted (live, and `subscribed` or `error`), so an
/// unsubscribe made meanwhile is not overwritten.
#[derive(Debug, Clone)]
pub struct WebhookRegistration {
    pub workspace_id: String,
    pub id: String,
    pub webhook_state: Option<Value>,
    pub next_refresh_ms: Option<i64>,
    pub outcome: Option<Result<(), Value>>,
}

/// How a delivery to a connector webhook ended.
#[derive(Debug, Clone)]
pub struct DeliverySettlement {
    pub delivery_id: String,
    /// `success` or `error`.
    pub status: String,
    pub error: Option<String>,
    /// The log records it made or repeated.
    pub event_ids: Vec<String>,
    /// The request as it is kept from now on (what was sealed for processing
    /// dropped, what processing adds to read).
    pub request: Value,
}

/// One detected event.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEventLogRow {
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    pub connection_id: String,
    pub subscription_id: String,
    /// `created` until its runs are started, then `success` or `error`.
    pub status: String,
    pub error: Option<Value>,
    pub payload: Value,
    pub launched_flow_run_ids: Vec<String>,
    pub created_ms: i64,
    /// What makes a webhook event a repeat (`id:<id>` or `fp:<fingerprint>`);
    /// `None` for polled events.
    pub dedupe_key: Option<String>,
}

/// One polling cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalEventPullRow {
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    pub connection_id: String,
    pub subscription_id: String,
    pub is_full_scan: bool,
    /// `running`, `success` or `error`.
    pub status: String,
    pub error: Option<Value>,
    /// The log records it made.
    pub event_ids: Vec<String>,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// A `running` pull holds its connection's lock for its kind until then.
    pub lease_until_ms: i64,
}

/// Which log records or pulls to list, in `seq` order from after the cursor;
/// `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub struct ExternalEventLogQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub subscription_id: Option<String>,
    pub status: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub descending: bool,
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// Whether a pull could start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullStart {
    Started,
    /// A pull of the same kind is running on the connection.
    ConnectionBusy,
    /// The workspace runs as many pulls as it may.
    WorkspaceBusy,
}

/// How the snapshot of a subscription changes with a pull.
#[derive(Debug, Clone, Default)]
pub struct SnapshotChange {
    /// Drop every record first (a full scan writes the whole snapshot).
    pub replace: bool,
    /// `(record id, fingerprint)` to store.
    pub put: Vec<(String, String)>,
    /// Record ids to forget.
    pub delete: Vec<String>,
}

/// How a pull ended, with what it found.
#[derive(Debug, Clone)]
pub struct PullFinish {
    pub workspace_id: String,
    pub pull_id: String,
    pub subscription_id: String,
    pub ended_ms: i64,
    /// `None` for success.
    pub error: Option<Value>,
    /// The subscription's state after the pull (on success).
    pub state_data: Option<Value>,
    pub next_pull_ms: Option<i64>,
    pub snapshot: SnapshotChange,
    pub events: Vec<ExternalEventLogRow>,
}

/// Why a pull's findings were not kept.
pub const PULL_SUBSCRIPTION_GONE: &str =
    "The subscription was unsubscribed or archived while it was pulled; its findings were dropped";

#[async_trait]
pub trait ExternalEventStore: Send + Sync + 'static {
    /// Stores `row` unless its connection has a subscription with its
    /// `config_key`; answers the one stored.
    async fn ensure_external_event_subscription(
        &self,
        row: &ExternalEventSubscriptionRow,
    ) -> Result<ExternalEventSubscriptionRow, StoreError>;

    async fn external_event_subscription(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError>;

    async fn find_external_event_subscriptions(
        &self,
        query: &ExternalEventSubscriptionQuery,
    ) -> Result<Vec<ExternalEventSubscriptionRow>, StoreError>;

    /// Applies `change` (with the snapshot dropped when it resets the state) in one
    /// transaction; answers the row as stored, `None` when there is none.
    async fn change_external_event_subscription(
        &self,
        change: &SubscriptionChange,
    ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError>;

    /// Stores `pull` as running unless its connection runs a pull of its kind or
    /// its workspace runs `workspace_cap` pulls (running pulls whose lease ended
    /// before `now_ms` are ended as errors first).
    async fn start_external_event_pull(
        &self,
        pull: &ExternalEventPullRow,
        workspace_cap: i64,
        now_ms: i64,
    ) -> Result<PullStart, StoreError>;

    /// The snapshot of a subscription: `(record id, fingerprint)`.
    async fn external_event_snapshot(
        &self,
        subscription_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Ends a pull. On success, while its subscription is still subscribed, its
    /// state, snapshot and events are stored with it in one transaction; answers
    /// whether they were (a pull of a subscription unsubscribed meanwhile ends as
    /// an error, [`PULL_SUBSCRIPTION_GONE`]).
    async fn finish_external_event_pull(&self, finish: &PullFinish) -> Result<bool, StoreError>;

    /// Sets the outcome of log records: their status, error and the runs they
    /// launched.
    async fn settle_external_events(
        &self,
        workspace_id: &str,
        ids: &[String],
        status: &str,
        error: Option<&Value>,
        launched_flow_run_ids: &[String],
    ) -> Result<(), StoreError>;

    async fn find_external_event_log_records(
        &self,
        query: &ExternalEventLogQuery,
    ) -> Result<Vec<ExternalEventLogRow>, StoreError>;

    /// Up to `limit` log records of `subscription_id` still `created` (their runs
    /// not started, or not recorded), oldest first (migration
    /// `0016_external_events_created.sql`).
    async fn created_external_events(
        &self,
        workspace_id: &str,
        subscription_id: &str,
        limit: i64,
    ) -> Result<Vec<ExternalEventLogRow>, StoreError>;

    /// Up to `limit` subscriptions (of `workspace_id`, or of every workspace),
    /// by `seq` after `after_seq`, with a log record still `created` from before
    /// `created_before_ms` that no pull will launch: the subscription is not
    /// polled (no next pull due) and not unsubscribed (which keeps its records
    /// for when it is subscribed again), or it is archived (its records are to be
    /// abandoned). Reads the created records alone (migration
    /// `0016_external_events_created.sql`).
    async fn stranded_external_event_subscriptions(
        &self,
        workspace_id: Option<&str>,
        created_before_ms: i64,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<StrandedSubscription>, StoreError>;

    /// Settles every log record of `subscription_id` still `created` as `error`
    /// with `error` and no runs; answers how many.
    async fn abandon_created_external_events(
        &self,
        workspace_id: &str,
        subscription_id: &str,
        error: &Value,
    ) -> Result<u64, StoreError>;

    async fn find_external_event_pulls(
        &self,
        query: &ExternalEventLogQuery,
    ) -> Result<Vec<ExternalEventPullRow>, StoreError>;

    /// The subscription whose webhook URL has `webhook_key`, archived or not.
    async fn external_event_subscription_by_webhook_key(
        &self,
        workspace_id: &str,
        webhook_key: &str,
    ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError>;

    /// Records a subscription's webhook registration (see [`WebhookRegistration`]);
    /// answers the row as stored.
    async fn set_external_event_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError>;

    /// Settles deliveries to connector webhooks in one transaction: their
    /// events stored (an event already stored is kept as it is), the deliveries
    /// `success` or `error`, and the connector state `handle` gave stored on each
    /// subscription of `states` that still has a webhook registered.
    async fn settle_external_deliveries(
        &self,
        workspace_id: &str,
        settlements: &[DeliverySettlement],
        events: &[ExternalEventLogRow],
        states: &[(String, Value)],
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// `(dedupe key, log record id)` of the earliest event of `subscription_id`
    /// with each of `keys`: any time for an `id:` key, at or after `since_ms` for
    /// the others.
    async fn external_events_with_dedupe_keys(
        &self,
        subscription_id: &str,
        keys: &[String],
        since_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// The global webhook of `row`'s (workspace, connector, key): `row` inserted
    /// when there is none yet, else the one there (its URL never changes).
    async fn ensure_global_webhook(
        &self,
        row: &GlobalWebhookRow,
    ) -> Result<GlobalWebhookRow, StoreError>;

    /// The global webhook whose URL has `url_key`.
    async fn global_webhook_by_url_key(
        &self,
        workspace_id: &str,
        url_key: &str,
    ) -> Result<Option<GlobalWebhookRow>, StoreError>;

    /// Global webhook `id`.
    async fn global_webhook(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<GlobalWebhookRow>, StoreError>;

    /// Deletes dispatched external event log records and ended pulls from before
    /// `before_ms` (retention); answers how many rows.
    async fn purge_external_events(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const GLOBAL_WEBHOOK_COLUMNS: &str =
    "id, workspace_id, connector_id, webhook_key, url_key, created_ms";

const SUBSCRIPTION_COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, \
     connection_id, config_key, config, details, status, error, state_data, next_pull_ms, \
     created_ms, archived_ms, webhook_key, webhook_state, next_refresh_ms";

const LOG_COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     subscription_id, status, error, payload, launched_flow_run_ids, created_ms, dedupe_key";

const PULL_COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     subscription_id, is_full_scan, status, error, event_ids, started_ms, ended_ms, lease_until_ms";

/// Rows per statement of a snapshot or event batch (3–12 binds each), well under
/// either backend's bind limit.
const CHUNK: usize = 500;

/// Serialises the pull starts of one workspace, so the count of its running pulls
/// and the insert stay one decision across nodes. SQLite has one writer already.
trait PullLock {
    const LOCK: Option<&'static str>;
}

impl PullLock for sqlx::Sqlite {
    const LOCK: Option<&'static str> = None;
}

impl PullLock for sqlx::Postgres {
    const LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended('external_event_pulls:' || CAST(");
}

fn json_text(v: &Value) -> String {
    v.to_string()
}

fn opt_json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(json_text)
}

fn parse_json(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn parse_opt_json(text: Option<String>, what: &str) -> Result<Option<Value>, StoreError> {
    text.map(|t| parse_json(&t, what)).transpose()
}

fn parse_ids(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn ids_text(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

for_each_backend! {
    #[async_trait]
    impl ExternalEventStore for SqlStore<DB> {
        async fn ensure_external_event_subscription(
            &self,
            row: &ExternalEventSubscriptionRow,
        ) -> Result<ExternalEventSubscriptionRow, StoreError> {
            let mut conn = self.writer().await?;
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO external_event_subscriptions (id, workspace_id, customer_id, \
                 integration_id, connection_id, config_key, config, details, status, error, \
                 state_data, next_pull_ms, created_ms, archived_ms, webhook_key) VALUES (",
            );
            let mut v = q.separated(", ");
            v.push_bind(&row.id)
                .push_bind(&row.workspace_id)
                .push_bind(&row.customer_id)
                .push_bind(&row.integration_id)
                .push_bind(&row.connection_id)
                .push_bind(&row.config_key)
                .push_bind(json_text(&row.config))
                .push_bind(json_text(&row.details))
                .push_bind(&row.status)
                .push_bind(opt_json_text(&row.error))
                .push_bind(opt_json_text(&row.state_data))
                .push_bind(row.next_pull_ms)
                .push_bind(row.created_ms)
                .push_bind(row.archived_ms)
                .push_bind(&row.webhook_key);
            q.push(") ON CONFLICT (connection_id, config_key) DO NOTHING");
            q.build().execute(&mut *conn).await?;
            let mut s = QueryBuilder::<DB>::new(format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM external_event_subscriptions WHERE connection_id = "
            ));
            s.push_bind(&row.connection_id);
            s.push(" AND config_key = ").push_bind(&row.config_key);
            let found = s.build().fetch_all(&mut *conn).await?;
            found
                .first()
                .map(decode_subscription)
                .transpose()?
                .ok_or_else(|| StoreError::Corrupt("the subscription just stored is missing".into()))
        }

        async fn external_event_subscription(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError> {
            subscription_by(self, workspace_id, "id", id).await
        }

        async fn find_external_event_subscriptions(
            &self,
            query: &ExternalEventSubscriptionQuery,
        ) -> Result<Vec<ExternalEventSubscriptionRow>, StoreError> {
            let mut s = QueryBuilder::<DB>::new(format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM external_event_subscriptions WHERE workspace_id = "
            ));
            s.push_bind(&query.workspace_id);
            for (column, value) in [
                ("customer_id", &query.customer_id),
                ("integration_id", &query.integration_id),
                ("connection_id", &query.connection_id),
                ("status", &query.status),
            ] {
                if let Some(v) = value {
                    s.push(format!(" AND {column} = ")).push_bind(v);
                }
            }
            if !query.include_archived {
                s.push(" AND archived_ms IS NULL");
            }
            if let Some(c) = query.cursor {
                s.push(" AND seq > ").push_bind(c);
            }
            s.push(" ORDER BY seq LIMIT ").push_bind(query.limit);
            let rows = s.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode_subscription).collect()
        }

        async fn change_external_event_subscription(
            &self,
            change: &SubscriptionChange,
        ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError> {
            write_transaction!(self, |tx| {
                let mut q = QueryBuilder::<DB>::new("UPDATE external_event_subscriptions SET status = ");
                q.push_bind(&change.status);
                q.push(", error = ").push_bind(opt_json_text(&change.error));
                q.push(", details = ").push_bind(json_text(&change.details));
                q.push(", next_pull_ms = ").push_bind(change.next_pull_ms);
                q.push(", archived_ms = ").push_bind(change.archived_ms);
                if change.reset_state {
                    q.push(", state_data = NULL");
                }
                q.push(" WHERE workspace_id = ").push_bind(&change.workspace_id);
                q.push(" AND id = ").push_bind(&change.id);
                q.push(format!(" RETURNING {SUBSCRIPTION_COLUMNS}"));
                let rows = q.build().fetch_all(&mut *tx).await?;
                let Some(row) = rows.first() else {
                    return Ok(None);
                };
                if change.reset_state {
                    let mut d = QueryBuilder::<DB>::new(
                        "DELETE FROM external_event_snapshots WHERE subscription_id = ",
                    );
                    d.push_bind(&change.id);
                    d.build().execute(&mut *tx).await?;
                }
                let row = decode_subscription(row)?;
                Some(row)
            })
        }

        async fn start_external_event_pull(
            &self,
            pull: &ExternalEventPullRow,
            workspace_cap: i64,
            now_ms: i64,
        ) -> Result<PullStart, StoreError> {
            write_transaction!(self, |tx| {
                if let Some(lock) = <DB as PullLock>::LOCK {
                    let mut l = QueryBuilder::<DB>::new(lock);
                    l.push_bind(&pull.workspace_id).push(" AS TEXT), 0))");
                    l.build().execute(&mut *tx).await?;
                }
                let mut expire = QueryBuilder::<DB>::new(
                    "UPDATE external_event_pulls SET status = 'error', error = ",
                );
                expire.push_bind(
                    serde_json::json!({"type": "internal", "message": "The node running this pull stopped before it ended"})
                        .to_string(),
                );
                expire.push(", ended_ms = lease_until_ms WHERE workspace_id = ").push_bind(&pull.workspace_id);
                expire.push(" AND status = 'running' AND lease_until_ms < ").push_bind(now_ms);
                expire.build().execute(&mut *tx).await?;
                let mut busy = QueryBuilder::<DB>::new(
                    "SELECT COUNT(*) AS n, SUM(CASE WHEN connection_id = ",
                );
                busy.push_bind(&pull.connection_id);
                busy.push(" AND is_full_scan = ").push_bind(i64::from(pull.is_full_scan));
                busy.push(" THEN 1 ELSE 0 END) AS mine FROM external_event_pulls WHERE workspace_id = ");
                busy.push_bind(&pull.workspace_id);
                busy.push(" AND status = 'running'");
                let counts = busy.build().fetch_all(&mut *tx).await?;
                let (n, mine) = match counts.first() {
                    Some(r) => (
                        r.try_get::<i64, _>("n")?,
                        r.try_get::<Option<i64>, _>("mine")?.unwrap_or(0),
                    ),
                    None => (0, 0),
                };
                if mine > 0 {
                    return Ok(PullStart::ConnectionBusy);
                }
                if n >= workspace_cap {
                    return Ok(PullStart::WorkspaceBusy);
                }
                let mut q = QueryBuilder::<DB>::new(
                    "INSERT INTO external_event_pulls (id, workspace_id, customer_id, integration_id, \
                     connection_id, subscription_id, is_full_scan, status, error, event_ids, \
                     started_ms, ended_ms, lease_until_ms) VALUES (",
                );
                let mut v = q.separated(", ");
                v.push_bind(&pull.id)
                    .push_bind(&pull.workspace_id)
                    .push_bind(&pull.customer_id)
                    .push_bind(&pull.integration_id)
                    .push_bind(&pull.connection_id)
                    .push_bind(&pull.subscription_id)
                    .push_bind(i64::from(pull.is_full_scan))
                    .push_bind(&pull.status)
                    .push_bind(opt_json_text(&pull.error))
                    .push_bind(ids_text(&pull.event_ids))
                    .push_bind(pull.started_ms)
                    .push_bind(pull.ended_ms)
                    .push_bind(pull.lease_until_ms);
                q.push(")");
                q.build().execute(&mut *tx).await?;
                PullStart::Started
            })
        }

        async fn external_event_snapshot(
            &self,
            subscription_id: &str,
        ) -> Result<Vec<(String, String)>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT record_id, fingerprint FROM external_event_snapshots WHERE subscription_id = ",
            );
            q.push_bind(subscription_id);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("record_id")?, r.try_get("fingerprint")?)))
                .collect()
        }

        async fn finish_external_event_pull(&self, finish: &PullFinish) -> Result<bool, StoreError> {
            write_transaction!(self, |tx| {
                let mut error = finish.error.clone();
                let mut kept = false;
                if error.is_none() {
                    let mut q = QueryBuilder::<DB>::new(
                        "UPDATE external_event_subscriptions SET state_data = ",
                    );
                    q.push_bind(opt_json_text(&finish.state_data));
                    q.push(", next_pull_ms = ").push_bind(finish.next_pull_ms);
                    q.push(" WHERE workspace_id = ").push_bind(&finish.workspace_id);
                    q.push(" AND id = ").push_bind(&finish.subscription_id);
                    q.push(" AND status = 'subscribed' AND archived_ms IS NULL");
                    kept = q.build().execute(&mut *tx).await?.rows_affected() == 1;
                    if kept {
                        write_snapshot(&mut tx, &finish.subscription_id, &finish.snapshot).await?;
                        for chunk in finish.events.chunks(CHUNK) {
                            insert_events(&mut tx, chunk).await?;
                        }
                    } else {
                        error = Some(serde_json::json!({"type": "internal", "message": PULL_SUBSCRIPTION_GONE}));
                    }
                }
                let event_ids: Vec<String> = if kept {
                    finish.events.iter().map(|e| e.id.clone()).collect()
                } else {
                    Vec::new()
                };
                let mut q = QueryBuilder::<DB>::new("UPDATE external_event_pulls SET status = ");
                q.push_bind(if error.is_none() { "success" } else { "error" });
                q.push(", error = ").push_bind(opt_json_text(&error));
                q.push(", event_ids = ").push_bind(ids_text(&event_ids));
                q.push(", ended_ms = ").push_bind(finish.ended_ms);
                q.push(" WHERE workspace_id = ").push_bind(&finish.workspace_id);
                q.push(" AND id = ").push_bind(&finish.pull_id);
                q.build().execute(&mut *tx).await?;
                kept
            })
        }

        async fn settle_external_events(
            &self,
            workspace_id: &str,
            ids: &[String],
            status: &str,
            error: Option<&Value>,
            launched_flow_run_ids: &[String],
        ) -> Result<(), StoreError> {
            let mut conn = self.writer().await?;
            for chunk in ids.chunks(CHUNK) {
                let mut q = QueryBuilder::<DB>::new("UPDATE external_event_log_records SET status = ");
                q.push_bind(status);
                q.push(", error = ").push_bind(error.map(json_text));
                q.push(", launched_flow_run_ids = ").push_bind(ids_text(launched_flow_run_ids));
                q.push(" WHERE workspace_id = ").push_bind(workspace_id);
                q.push(" AND id IN (");
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(id);
                }
                q.push(")");
                q.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn find_external_event_log_records(
            &self,
            query: &ExternalEventLogQuery,
        ) -> Result<Vec<ExternalEventLogRow>, StoreError> {
            let rows = find_logs(query, LOG_COLUMNS, "external_event_log_records", "created_ms")
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(decode_event).collect()
        }

        async fn created_external_events(
            &self,
            workspace_id: &str,
            subscription_id: &str,
            limit: i64,
        ) -> Result<Vec<ExternalEventLogRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {LOG_COLUMNS} FROM external_event_log_records WHERE subscription_id = "
            ));
            q.push_bind(subscription_id);
            q.push(" AND status = 'created' AND workspace_id = ").push_bind(workspace_id);
            q.push(" ORDER BY seq LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode_event).collect()
        }

        async fn stranded_external_event_subscriptions(
            &self,
            workspace_id: Option<&str>,
            created_before_ms: i64,
            after_seq: i64,
            limit: i64,
        ) -> Result<Vec<StrandedSubscription>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT s.seq, s.workspace_id, s.id FROM external_event_subscriptions s \
                 WHERE s.seq > ",
            );
            q.push_bind(after_seq);
            if let Some(ws) = workspace_id {
                q.push(" AND s.workspace_id = ").push_bind(ws);
            }
            q.push(
                " AND (s.archived_ms IS NOT NULL OR (s.status <> 'unsubscribed' \
                 AND s.next_pull_ms IS NULL)) AND s.id IN (SELECT r.subscription_id \
                 FROM external_event_log_records r WHERE r.status = 'created' AND r.created_ms < ",
            );
            q.push_bind(created_before_ms);
            q.push(") ORDER BY s.seq LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|row| {
                    Ok(StrandedSubscription {
                        seq: row.try_get("seq")?,
                        workspace_id: row.try_get("workspace_id")?,
                        subscription_id: row.try_get("id")?,
                    })
                })
                .collect()
        }

        async fn abandon_created_external_events(
            &self,
            workspace_id: &str,
            subscription_id: &str,
            error: &Value,
        ) -> Result<u64, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE external_event_log_records SET status = 'error', error = ",
            );
            q.push_bind(json_text(error));
            q.push(", launched_flow_run_ids = '[]' WHERE subscription_id = ");
            q.push_bind(subscription_id);
            q.push(" AND status = 'created' AND workspace_id = ").push_bind(workspace_id);
            Ok(q.build().execute(&mut *self.writer().await?).await?.rows_affected())
        }

        async fn find_external_event_pulls(
            &self,
            query: &ExternalEventLogQuery,
        ) -> Result<Vec<ExternalEventPullRow>, StoreError> {
            let rows = find_logs(query, PULL_COLUMNS, "external_event_pulls", "started_ms")
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(decode_pull).collect()
        }

        async fn ensure_global_webhook(
            &self,
            row: &GlobalWebhookRow,
        ) -> Result<GlobalWebhookRow, StoreError> {
            let mut conn = self.writer().await?;
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO connector_global_webhooks (id, workspace_id, connector_id, \
                 webhook_key, url_key, created_ms) VALUES (",
            );
            let mut v = q.separated(", ");
            v.push_bind(&row.id)
                .push_bind(&row.workspace_id)
                .push_bind(&row.connector_id)
                .push_bind(&row.webhook_key)
                .push_bind(&row.url_key)
                .push_bind(row.created_ms);
            q.push(") ON CONFLICT (workspace_id, connector_id, webhook_key) DO NOTHING");
            q.build().execute(&mut *conn).await?;
            let mut s = QueryBuilder::<DB>::new(format!(
                "SELECT {GLOBAL_WEBHOOK_COLUMNS} FROM connector_global_webhooks WHERE workspace_id = "
            ));
            s.push_bind(&row.workspace_id);
            s.push(" AND connector_id = ").push_bind(&row.connector_id);
            s.push(" AND webhook_key = ").push_bind(&row.webhook_key);
            let found = s.build().fetch_all(&mut *conn).await?;
            found
                .first()
                .map(decode_global_webhook)
                .transpose()?
                .ok_or_else(|| StoreError::Corrupt("the global webhook just stored is missing".into()))
        }

        async fn global_webhook_by_url_key(
            &self,
            workspace_id: &str,
            url_key: &str,
        ) -> Result<Option<GlobalWebhookRow>, StoreError> {
            global_webhook_by(self, workspace_id, "url_key", url_key).await
        }

        async fn global_webhook(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<GlobalWebhookRow>, StoreError> {
            global_webhook_by(self, workspace_id, "id", id).await
        }

        async fn external_event_subscription_by_webhook_key(
            &self,
            workspace_id: &str,
            webhook_key: &str,
        ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError> {
            subscription_by(self, workspace_id, "webhook_key", webhook_key).await
        }

        async fn set_external_event_webhook(
            &self,
            r: &WebhookRegistration,
        ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE external_event_subscriptions SET webhook_state = ");
            q.push_bind(opt_json_text(&r.webhook_state));
            q.push(", next_refresh_ms = ").push_bind(r.next_refresh_ms);
            if let Some(outcome) = &r.outcome {
                // Every SET expression reads the row as it was: the guard holds
                // for both.
                let wanted = " WHEN archived_ms IS NULL AND status IN ('subscribed', 'error') THEN ";
                let (status, error) = match outcome {
                    Ok(()) => ("subscribed", None),
                    Err(e) => ("error", Some(json_text(e))),
                };
                q.push(format!(", status = CASE{wanted}")).push_bind(status);
                q.push(" ELSE status END");
                q.push(format!(", error = CASE{wanted}")).push_bind(error);
                q.push(" ELSE error END");
            }
            q.push(" WHERE workspace_id = ").push_bind(&r.workspace_id);
            q.push(" AND id = ").push_bind(&r.id);
            q.push(format!(" RETURNING {SUBSCRIPTION_COLUMNS}"));
            let rows = q.build().fetch_all(&mut *self.writer().await?).await?;
            rows.first().map(decode_subscription).transpose()
        }

        async fn settle_external_deliveries(
            &self,
            workspace_id: &str,
            settlements: &[DeliverySettlement],
            events: &[ExternalEventLogRow],
            states: &[(String, Value)],
            now_ms: i64,
        ) -> Result<(), StoreError> {
            if settlements.is_empty() {
                return Ok(());
            }
            write_transaction!(self, |tx| {
                for chunk in events.chunks(CHUNK) {
                    insert_events(&mut tx, chunk).await?;
                }
                for chunk in settlements.chunks(ROWS_PER_UPDATE) {
                    let columns = ["status", "error", "event_ids", "processed_ms", "request"];
                    let keys = ["workspace_id", "id"];
                    bulk_update::<DB, _>("incoming_webhooks", &keys, &columns, chunk, |mut row, s| {
                        row.push_bind(workspace_id)
                            .push_bind(&s.delivery_id)
                            .push_bind(&s.status)
                            .push_bind(&s.error)
                            .push_bind(ids_text(&s.event_ids))
                            .push_bind(now_ms)
                            .push_bind(json_text(&s.request));
                    })
                    .build()
                    .execute(&mut *tx)
                    .await?;
                }
                for (id, state) in states {
                    let mut q = QueryBuilder::<DB>::new(
                        "UPDATE external_event_subscriptions SET webhook_state = ",
                    );
                    q.push_bind(json_text(state));
                    q.push(" WHERE workspace_id = ").push_bind(workspace_id);
                    q.push(" AND id = ").push_bind(id);
                    q.push(" AND webhook_state IS NOT NULL");
                    q.build().execute(&mut *tx).await?;
                }
            })
        }

        async fn external_events_with_dedupe_keys(
            &self,
            subscription_id: &str,
            keys: &[String],
            since_ms: i64,
        ) -> Result<Vec<(String, String)>, StoreError> {
            let mut found = std::collections::HashMap::new();
            let mut conn = self.reader().await?;
            for chunk in keys.chunks(CHUNK) {
                let mut q = QueryBuilder::<DB>::new(
                    "SELECT dedupe_key, seq, id FROM external_event_log_records WHERE subscription_id = ",
                );
                q.push_bind(subscription_id);
                q.push(" AND (dedupe_key LIKE 'id:%' OR created_ms >= ").push_bind(since_ms);
                q.push(") AND dedupe_key IN (");
                let mut list = q.separated(", ");
                for k in chunk {
                    list.push_bind(k);
                }
                q.push(")");
                for row in q.build().fetch_all(&mut *conn).await? {
                    keep_earliest(
                        &mut found,
                        row.try_get("dedupe_key")?,
                        row.try_get("seq")?,
                        row.try_get("id")?,
                    );
                }
            }
            Ok(found.into_iter().map(|(k, (_, id))| (k, id)).collect())
        }

        async fn purge_external_events(&self, before_ms: i64) -> Result<u64, StoreError> {
            let tables = [
                Retention {
                    table: "external_event_log_records",
                    time: "created_ms",
                    in_work: Some("status = 'created'"),
                },
                Retention {
                    table: "external_event_pulls",
                    time: "started_ms",
                    in_work: Some("status = 'running'"),
                },
            ];
            self.purge_older(&tables, before_ms).await
        }
    }

    /// The subscription of `workspace_id` whose `column` is `value`.
    async fn global_webhook_by(
        store: &SqlStore<DB>,
        workspace_id: &str,
        column: &str,
        value: &str,
    ) -> Result<Option<GlobalWebhookRow>, StoreError> {
        let mut q = QueryBuilder::<DB>::new(format!(
            "SELECT {GLOBAL_WEBHOOK_COLUMNS} FROM connector_global_webhooks WHERE {column} = "
        ));
        q.push_bind(value);
        q.push(" AND workspace_id = ").push_bind(workspace_id);
        let row = q.build().fetch_optional(&mut *store.reader().await?).await?;
        row.as_ref().map(decode_global_webhook).transpose()
    }

    fn decode_global_webhook(row: &<DB as sqlx::Database>::Row) -> Result<GlobalWebhookRow, StoreError> {
        Ok(GlobalWebhookRow {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            connector_id: row.try_get("connector_id")?,
            webhook_key: row.try_get("webhook_key")?,
            url_key: row.try_get("url_key")?,
            created_ms: row.try_get("created_ms")?,
        })
    }

    async fn subscription_by(
        store: &SqlStore<DB>,
        workspace_id: &str,
        column: &str,
        value: &str,
    ) -> Result<Option<ExternalEventSubscriptionRow>, StoreError> {
        let mut q = QueryBuilder::<DB>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM external_event_subscriptions WHERE {column} = "
        ));
        q.push_bind(value);
        q.push(" AND workspace_id = ").push_bind(workspace_id);
        let row = q.build().fetch_optional(&mut *store.reader().await?).await?;
        row.as_ref().map(decode_subscription).transpose()
    }

    async fn write_snapshot(
        tx: &mut sqlx::Transaction<'_, DB>,
        subscription_id: &str,
        change: &SnapshotChange,
    ) -> Result<(), StoreError> {
        if change.replace {
            let mut d = QueryBuilder::<DB>::new(
                "DELETE FROM external_event_snapshots WHERE subscription_id = ",
            );
            d.push_bind(subscription_id);
            d.build().execute(&mut **tx).await?;
        }
        for chunk in change.delete.chunks(CHUNK) {
            let mut d = QueryBuilder::<DB>::new(
                "DELETE FROM external_event_snapshots WHERE subscription_id = ",
            );
            d.push_bind(subscription_id);
            d.push(" AND record_id IN (");
            let mut list = d.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            d.push(")");
            d.build().execute(&mut **tx).await?;
        }
        for chunk in change.put.chunks(CHUNK) {
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO external_event_snapshots (subscription_id, record_id, fingerprint) ",
            );
            q.push_values(chunk, |mut row, (id, fingerprint)| {
                row.push_bind(subscription_id)
                    .push_bind(id)
                    .push_bind(fingerprint);
            });
            q.push(
                " ON CONFLICT (subscription_id, record_id) DO UPDATE SET fingerprint = excluded.fingerprint",
            );
            q.build().execute(&mut **tx).await?;
        }
        Ok(())
    }

    async fn insert_events(
        tx: &mut sqlx::Transaction<'_, DB>,
        events: &[ExternalEventLogRow],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO external_event_log_records (id, workspace_id, customer_id, integration_id, \
             connection_id, subscription_id, status, error, payload, launched_flow_run_ids, created_ms, \
             dedupe_key) ",
        );
        q.push_values(events, |mut row, e| {
            row.push_bind(&e.id)
                .push_bind(&e.workspace_id)
                .push_bind(&e.customer_id)
                .push_bind(&e.integration_id)
                .push_bind(&e.connection_id)
                .push_bind(&e.subscription_id)
                .push_bind(&e.status)
                .push_bind(opt_json_text(&e.error))
                .push_bind(json_text(&e.payload))
                .push_bind(ids_text(&e.launched_flow_run_ids))
                .push_bind(e.created_ms)
                .push_bind(&e.dedupe_key);
        });
        q.push(" ON CONFLICT (id) DO NOTHING");
        q.build().execute(&mut **tx).await?;
        Ok(())
    }

    fn find_logs<'q>(
        q: &'q ExternalEventLogQuery,
        columns: &str,
        table: &str,
        time: &str,
    ) -> QueryBuilder<'q, DB> {
        let mut s = QueryBuilder::<DB>::new(format!("SELECT {columns} FROM {table} WHERE workspace_id = "));
        s.push_bind(&q.workspace_id);
        let equalities = [
            ("customer_id", &q.customer_id),
            ("integration_id", &q.integration_id),
            ("connection_id", &q.connection_id),
            ("subscription_id", &q.subscription_id),
            ("status", &q.status),
        ];
        crate::query::push_log_filters(&mut s, &equalities, time, crate::query::log_page!(q));
        s
    }

    fn decode_subscription(
        row: &<DB as sqlx::Database>::Row,
    ) -> Result<ExternalEventSubscriptionRow, StoreError> {
        Ok(ExternalEventSubscriptionRow {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            config_key: row.try_get("config_key")?,
            config: parse_json(row.try_get("config")?, "subscription config")?,
            details: parse_json(row.try_get("details")?, "subscription details")?,
            status: row.try_get("status")?,
            error: parse_opt_json(row.try_get("error")?, "subscription error")?,
            state_data: parse_opt_json(row.try_get("state_data")?, "subscription state")?,
            next_pull_ms: row.try_get("next_pull_ms")?,
            created_ms: row.try_get("created_ms")?,
            archived_ms: row.try_get("archived_ms")?,
            webhook_key: row.try_get::<Option<String>, _>("webhook_key")?.unwrap_or_default(),
            webhook_state: parse_opt_json(row.try_get("webhook_state")?, "subscription webhook")?,
            next_refresh_ms: row.try_get("next_refresh_ms")?,
        })
    }

    fn decode_event(row: &<DB as sqlx::Database>::Row) -> Result<ExternalEventLogRow, StoreError> {
        Ok(ExternalEventLogRow {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            subscription_id: row.try_get("subscription_id")?,
            status: row.try_get("status")?,
            error: parse_opt_json(row.try_get("error")?, "event error")?,
            payload: parse_json(row.try_get("payload")?, "event payload")?,
            launched_flow_run_ids: parse_ids(row.try_get("launched_flow_run_ids")?, "event runs")?,
            created_ms: row.try_get("created_ms")?,
            dedupe_key: row.try_get("dedupe_key")?,
        })
    }

    fn decode_pull(row: &<DB as sqlx::Database>::Row) -> Result<ExternalEventPullRow, StoreError> {
        Ok(ExternalEventPullRow {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            subscription_id: row.try_get("subscription_id")?,
            is_full_scan: row.try_get::<i64, _>("is_full_scan")? != 0,
            status: row.try_get("status")?,
            error: parse_opt_json(row.try_get("error")?, "pull error")?,
            event_ids: parse_ids(row.try_get("event_ids")?, "pull events")?,
            started_ms: row.try_get("started_ms")?,
            ended_ms: row.try_get("ended_ms")?,
            lease_until_ms: row.try_get("lease_until_ms")?,
        })
    }
}
