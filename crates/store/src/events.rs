//! Incoming webhooks and app events (see the migration `0012_events.sql`). Tables
//! of their own rather than elements, as the other logs: append-mostly, written at
//! the rate deliveries arrive, listed and paged but never layered or selected by key.
//!
//! A delivery is stored with the job that will process it in one transaction, so an
//! answered delivery always has a job to take it; its events are stored with its
//! settlement in one transaction, so a delivery is never half turned into events.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::jobs::{Job, JOB_COLUMNS, JOB_UPSERT};
use crate::query::{bulk_update, keep_earliest, ROWS_PER_UPDATE};
use crate::retention::Retention;
use crate::sql_store::{for_each_backend, write_transaction, SqlStore, Statement};

/// One delivery to an Osmosis webhook URL.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingWebhook {
    /// Insertion order: the processing order and the list cursor. `0` before
    /// insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    /// What the URL names: `app-event-type`, `app-event-subscription`.
    pub target_kind: String,
    pub target_id: String,
    /// The customer the delivery was authenticated as or posted for, if known.
    pub customer_id: Option<String>,
    /// `received`, `success` or `error`.
    pub status: String,
    pub error: Option<String>,
    /// The events it held (`collectedEventIds`).
    pub event_ids: Vec<String>,
    /// `{method, path, query, headers, body}` as received, secrets masked.
    pub request: Value,
    pub created_ms: i64,
    pub processed_ms: Option<i64>,
}

/// One app event.
#[derive(Debug, Clone, PartialEq)]
pub struct AppEventRow {
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    /// The target of the delivery it came in (whose job dispatches it).
    pub target_id: String,
    pub customer_id: String,
    pub app_event_type_id: String,
    pub app_event_subscription_id: Option<String>,
    pub incoming_webhook_id: String,
    pub fingerprint: String,
    /// `created` until dispatched, then `success` or `error`.
    pub status: String,
    pub error: Option<String>,
    pub event: Value,
    pub launched_flow_run_ids: Vec<String>,
    pub created_ms: i64,
}

/// How a delivery ended, with the events it made.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub delivery_id: String,
    /// `success` or `error`.
    pub status: String,
    pub error: Option<String>,
    pub event_ids: Vec<String>,
    pub events: Vec<AppEventRow>,
}

/// How an app event's dispatch ended.
#[derive(Debug, Clone)]
pub struct AppEventOutcome {
    pub id: String,
    /// `success`, `error`, or `created` again (dispatch it anew).
    pub status: String,
    pub error: Option<String>,
    pub launched_flow_run_ids: Vec<String>,
}

/// Which rows to list, in `seq` order from after the cursor; `None` filters nothing.
#[derive(Debug, Clone, Default)]
pub struct EventLogQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    /// Incoming webhooks: the target; app events: the app event type.
    pub target_id: Option<String>,
    /// App events: the subscription they came through.
    pub subscription_id: Option<String>,
    pub status: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub descending: bool,
    pub cursor: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Stores deliveries, the app events of those settled as they arrived, and
    /// (re)schedules the jobs that process what is left, in one transaction.
    async fn store_deliveries(
        &self,
        deliveries: &[IncomingWebhook],
        events: &[AppEventRow],
        jobs: &[Job],
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The `received` deliveries to `target_id`, oldest first.
    async fn pending_deliveries(
        &self,
        workspace_id: &str,
        target_id: &str,
        limit: i64,
    ) -> Result<Vec<IncomingWebhook>, StoreError>;

    /// Settles deliveries and stores their events, in one transaction. An event
    /// already stored (a retried settlement) is kept as it is.
    async fn settle_deliveries(
        &self,
        settlements: &[Settlement],
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// The `created` app events of deliveries to `target_id`, oldest first.
    async fn pending_app_events(
        &self,
        workspace_id: &str,
        target_id: &str,
        limit: i64,
    ) -> Result<Vec<AppEventRow>, StoreError>;

    /// `(fingerprint, id, created_ms)` of the app events of every workspace
    /// created at or after `since_ms`, the newest `limit`, newest first: what a
    /// node that owns its database holds of them in memory to tell repeats.
    async fn recent_app_event_fingerprints(
        &self,
        since_ms: i64,
        limit: i64,
    ) -> Result<Vec<(String, String, i64)>, StoreError>;

    /// `(fingerprint, id)` of the earliest app event of each of `fingerprints`
    /// created at or after `since_ms`, for those there is one. For a shared
    /// database: on SQLite no index serves it (the node holds the window in
    /// memory, `0017_app_event_fingerprints_in_memory.sql`).
    async fn app_events_with_fingerprints(
        &self,
        workspace_id: &str,
        fingerprints: &[String],
        since_ms: i64,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Ends app events' dispatches, in one transaction.
    async fn finish_app_events(
        &self,
        workspace_id: &str,
        outcomes: &[AppEventOutcome],
    ) -> Result<(), StoreError>;

    async fn find_incoming_webhooks(
        &self,
        query: &EventLogQuery,
    ) -> Result<Vec<IncomingWebhook>, StoreError>;

    async fn incoming_webhook_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<IncomingWebhook>, StoreError>;

    async fn find_app_events(&self, query: &EventLogQuery) -> Result<Vec<AppEventRow>, StoreError>;

    async fn app_event_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<AppEventRow>, StoreError>;

    /// Deletes settled deliveries and dispatched app events created before
    /// `before_ms` (retention); answers how many rows.
    async fn purge_events(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const WEBHOOK_COLUMNS: &str = "seq, id, workspace_id, target_kind, target_id, customer_id, \
     status, error, event_ids, request, created_ms, processed_ms";
const EVENT_COLUMNS: &str = "seq, id, workspace_id, target_id, customer_id, app_event_type_id, \
     app_event_subscription_id, incoming_webhook_id, fingerprint, status, error, event, \
     launched_flow_run_ids, created_ms";

fn ids_text(ids: &[String]) -> String {
    Value::from(ids.to_vec()).to_string()
}

fn json_of(text: &str, what: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn ids_of(text: &str, what: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

for_each_backend! {
    /// Pushes the insert of `events` (at most 500: binds per statement are
    /// bounded); one already stored (a retried settlement) is kept as it is.
    fn push_app_events<'a>(q: &mut QueryBuilder<'a, DB>, events: &[&'a AppEventRow]) {
        q.push(
            "INSERT INTO app_events (id, workspace_id, target_id, customer_id, \
             app_event_type_id, app_event_subscription_id, incoming_webhook_id, \
             fingerprint, status, error, event, launched_flow_run_ids, created_ms) ",
        );
        q.push_values(events, |mut row, e| {
            row.push_bind(&e.id)
                .push_bind(&e.workspace_id)
                .push_bind(&e.target_id)
                .push_bind(&e.customer_id)
                .push_bind(&e.app_event_type_id)
                .push_bind(&e.app_event_subscription_id)
                .push_bind(&e.incoming_webhook_id)
                .push_bind(&e.fingerprint)
                .push_bind(&e.status)
                .push_bind(&e.error)
                .push_bind(e.event.to_string())
                .push_bind(ids_text(&e.launched_flow_run_ids))
                .push_bind(e.created_ms);
        });
        q.push(" ON CONFLICT (id) DO NOTHING");
    }

    /// Inserts app events (see [`push_app_events`]) in `tx`.
    async fn insert_app_events<'a>(
        tx: &mut <DB as sqlx::Database>::Connection,
        events: impl Iterator<Item = &'a AppEventRow>,
    ) -> Result<(), StoreError> {
        let events: Vec<&AppEventRow> = events.collect();
        for chunk in events.chunks(500) {
            let mut q = QueryBuilder::<DB>::new("");
            push_app_events(&mut q, chunk);
            q.build().execute(&mut *tx).await?;
        }
        Ok(())
    }

    #[async_trait]
    impl EventStore for SqlStore<DB> {
        async fn store_deliveries(
            &self,
            deliveries: &[IncomingWebhook],
            events: &[AppEventRow],
            jobs: &[Job],
            now_ms: i64,
        ) -> Result<(), StoreError> {
            if deliveries.is_empty() {
                return Ok(());
            }
            let events: Vec<&AppEventRow> = events.iter().collect();
            let mut statements: Vec<Statement<'_, DB>> = Vec::new();
            for chunk in events.chunks(500) {
                statements.push(Box::new(move |q| push_app_events(q, chunk)));
            }
            for chunk in deliveries.chunks(500) {
                statements.push(Box::new(move |q| {
                    q.push(
                        "INSERT INTO incoming_webhooks (id, workspace_id, target_kind, target_id, \
                         customer_id, status, error, event_ids, request, created_ms) ",
                    );
                    q.push_values(chunk, |mut row, d| {
                        row.push_bind(&d.id)
                            .push_bind(&d.workspace_id)
                            .push_bind(&d.target_kind)
                            .push_bind(&d.target_id)
                            .push_bind(&d.customer_id)
                            .push_bind(&d.status)
                            .push_bind(&d.error)
                            .push_bind(ids_text(&d.event_ids))
                            .push_bind(d.request.to_string())
                            .push_bind(d.created_ms);
                    });
                }));
            }
            // One statement may not upsert a row twice: one job per key each.
            for job in jobs {
                statements.push(Box::new(move |q| {
                    q.push(format!("INSERT INTO jobs ({JOB_COLUMNS}) "));
                    q.push_values([job], |mut row, job| {
                        row.push_bind(&job.id)
                            .push_bind(&job.workspace_id)
                            .push_bind(&job.kind)
                            .push_bind(&job.dedupe_key)
                            .push_bind(job.payload.to_string())
                            .push_bind(job.run_at)
                            .push_bind(0i32)
                            .push_bind(now_ms);
                    });
                    q.push(JOB_UPSERT);
                }));
            }
            self.write_all(statements).await
        }

        async fn pending_deliveries(
            &self,
            workspace_id: &str,
            target_id: &str,
            limit: i64,
        ) -> Result<Vec<IncomingWebhook>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks WHERE status = 'received' AND target_id = "
            ));
            // Exactly the partial index's predicate and order: with the workspace
            // in the condition too, SQLite (without statistics) walked
            // `incoming_webhooks_ws` through every settled row instead. A target id
            // names one workspace's element; the workspace is checked on the rows.
            q.push_bind(target_id);
            q.push(" ORDER BY seq LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            let rows: Result<Vec<IncomingWebhook>, StoreError> = rows.iter().map(decode_webhook).collect();
            Ok(rows?.into_iter().filter(|d| d.workspace_id == workspace_id).collect())
        }

        async fn settle_deliveries(
            &self,
            settlements: &[Settlement],
            now_ms: i64,
        ) -> Result<(), StoreError> {
            if settlements.is_empty() {
                return Ok(());
            }
            write_transaction!(self, |tx| {
                insert_app_events(&mut tx, settlements.iter().flat_map(|s| s.events.iter())).await?;
                for chunk in settlements.chunks(ROWS_PER_UPDATE) {
                    let columns = ["status", "error", "event_ids", "processed_ms"];
                    bulk_update::<DB, _>("incoming_webhooks", &["id"], &columns, chunk, |mut row, s| {
                        row.push_bind(&s.delivery_id)
                            .push_bind(&s.status)
                            .push_bind(&s.error)
                            .push_bind(ids_text(&s.event_ids))
                            .push_bind(now_ms);
                    })
                    .build()
                    .execute(&mut *tx)
                    .await?;
                }
            })
        }

        async fn pending_app_events(
            &self,
            workspace_id: &str,
            target_id: &str,
            limit: i64,
        ) -> Result<Vec<AppEventRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM app_events WHERE status = 'created' AND target_id = "
            ));
            // The partial index's predicate alone (see `pending_deliveries`).
            q.push_bind(target_id);
            q.push(" ORDER BY seq LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            let rows: Result<Vec<AppEventRow>, StoreError> = rows.iter().map(decode_event).collect();
            Ok(rows?.into_iter().filter(|e| e.workspace_id == workspace_id).collect())
        }

        async fn recent_app_event_fingerprints(
            &self,
            since_ms: i64,
            limit: i64,
        ) -> Result<Vec<(String, String, i64)>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT fingerprint, id, created_ms FROM app_events WHERE created_ms >= ",
            );
            q.push_bind(since_ms);
            q.push(" ORDER BY created_ms DESC LIMIT ").push_bind(limit);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("fingerprint")?, r.try_get("id")?, r.try_get("created_ms")?)))
                .collect()
        }

        async fn app_events_with_fingerprints(
            &self,
            workspace_id: &str,
            fingerprints: &[String],
            since_ms: i64,
        ) -> Result<Vec<(String, String)>, StoreError> {
            let mut found = std::collections::HashMap::new();
            let mut conn = self.reader().await?;
            for chunk in fingerprints.chunks(500) {
                let mut q = QueryBuilder::<DB>::new(
                    "SELECT fingerprint, seq, id FROM app_events WHERE workspace_id = ",
                );
                q.push_bind(workspace_id);
                q.push(" AND created_ms >= ").push_bind(since_ms);
                q.push(" AND fingerprint IN (");
                let mut list = q.separated(", ");
                for f in chunk {
                    list.push_bind(f);
                }
                q.push(")");
                for row in q.build().fetch_all(&mut *conn).await? {
                    keep_earliest(
                        &mut found,
                        row.try_get("fingerprint")?,
                        row.try_get("seq")?,
                        row.try_get("id")?,
                    );
                }
            }
            Ok(found.into_iter().map(|(k, (_, id))| (k, id)).collect())
        }

        async fn finish_app_events(
            &self,
            workspace_id: &str,
            outcomes: &[AppEventOutcome],
        ) -> Result<(), StoreError> {
            if outcomes.is_empty() {
                return Ok(());
            }
            write_transaction!(self, |tx| {
                for chunk in outcomes.chunks(ROWS_PER_UPDATE) {
                    let columns = ["status", "error", "launched_flow_run_ids"];
                    bulk_update::<DB, _>("app_events", &["workspace_id", "id"], &columns, chunk, |mut row, o| {
                        row.push_bind(workspace_id)
                            .push_bind(&o.id)
                            .push_bind(&o.status)
                            .push_bind(&o.error)
                            .push_bind(ids_text(&o.launched_flow_run_ids));
                    })
                    .build()
                    .execute(&mut *tx)
                    .await?;
                }
            })
        }

        async fn find_incoming_webhooks(
            &self,
            query: &EventLogQuery,
        ) -> Result<Vec<IncomingWebhook>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks WHERE workspace_id = "
            ));
            q.push_bind(&query.workspace_id);
            push_filters(&mut q, query, "target_id", None);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode_webhook).collect()
        }

        async fn incoming_webhook_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<IncomingWebhook>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {WEBHOOK_COLUMNS} FROM incoming_webhooks WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.first().map(decode_webhook).transpose()
        }

        async fn find_app_events(
            &self,
            query: &EventLogQuery,
        ) -> Result<Vec<AppEventRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM app_events WHERE workspace_id = "
            ));
            q.push_bind(&query.workspace_id);
            push_filters(
                &mut q,
                query,
                "app_event_type_id",
                Some("app_event_subscription_id"),
            );
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode_event).collect()
        }

        async fn app_event_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<AppEventRow>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM app_events WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.first().map(decode_event).transpose()
        }

        async fn purge_events(&self, before_ms: i64) -> Result<u64, StoreError> {
            let tables = [
                Retention {
                    table: "incoming_webhooks",
                    time: "created_ms",
                    in_work: Some("status = 'received'"),
                },
                Retention {
                    table: "app_events",
                    time: "created_ms",
                    in_work: Some("status = 'created'"),
                },
            ];
            self.purge_older(&tables, before_ms).await
        }
    }

    /// The filters, order and limit of a list; `target` names the column
    /// `query.target_id` filters, `subscription` the one `query.subscription_id` does.
    fn push_filters<'a>(
        s: &mut QueryBuilder<'a, DB>,
        q: &'a EventLogQuery,
        target: &str,
        subscription: Option<&str>,
    ) {
        let mut equalities = vec![
            ("customer_id", &q.customer_id),
            (target, &q.target_id),
            ("status", &q.status),
        ];
        if let Some(column) = subscription {
            equalities.push((column, &q.subscription_id));
        }
        crate::query::push_log_filters(
            s,
            &equalities,
            "created_ms",
            crate::query::log_page!(q),
        );
    }

    fn decode_webhook(row: &<DB as sqlx::Database>::Row) -> Result<IncomingWebhook, StoreError> {
        Ok(IncomingWebhook {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            target_kind: row.try_get("target_kind")?,
            target_id: row.try_get("target_id")?,
            customer_id: row.try_get("customer_id")?,
            status: row.try_get("status")?,
            error: row.try_get("error")?,
            event_ids: ids_of(row.try_get("event_ids")?, "incoming webhook event ids")?,
            request: json_of(row.try_get("request")?, "incoming webhook request")?,
            created_ms: row.try_get("created_ms")?,
            processed_ms: row.try_get("processed_ms")?,
        })
    }

    fn decode_event(row: &<DB as sqlx::Database>::Row) -> Result<AppEventRow, StoreError> {
        Ok(AppEventRow {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            target_id: row.try_get("target_id")?,
            customer_id: row.try_get("customer_id")?,
            app_event_type_id: row.try_get("app_event_type_id")?,
            app_event_subscription_id: row.try_get("app_event_subscription_id")?,
            incoming_webhook_id: row.try_get("incoming_webhook_id")?,
            fingerprint: row.try_get("fingerprint")?,
            status: row.try_get("status")?,
            error: row.try_get("error")?,
            event: json_of(row.try_get("event")?, "app event")?,
            launched_flow_run_ids: ids_of(
                row.try_get("launched_flow_run_ids")?,
                "app event flow run ids",
            )?,
            created_ms: row.try_get("created_ms")?,
        })
    }
}
