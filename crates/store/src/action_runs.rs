//! Action run logs: one row per run of an action, successful or not. A table of
//! their own rather than elements, for the reasons external API logs have one
//! (`api_logs.rs`): they are append-only, written at the rate actions run, never
//! revised, layered or selected by key, and their details (the trace of external
//! calls, which can be large) are read one at a time.
//!
//! The record is kept as the API renders it, so a list is answered from this table
//! alone; the columns beside it exist to filter and page on.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::retention::Retention;
use crate::sql_store::{for_each_backend, SqlStore};

/// One action run (success or failure).
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRunLog {
    /// Insertion order; the list cursor. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    /// `""` when the run had no integration (a universal action run directly).
    pub integration_id: String,
    /// `""` when the run had no connection.
    pub connection_id: String,
    /// The action element that ran, whichever layer it belongs to; the layer ids
    /// below let a list select every run of a universal or integration action
    /// through its customised copies.
    pub action_id: String,
    pub universal_action_id: Option<String>,
    pub integration_action_id: Option<String>,
    pub connection_action_id: Option<String>,
    pub is_success: bool,
    /// Milliseconds since the epoch: what the range filters and retention compare.
    pub created_ms: i64,
    /// The record as the API renders it (a JSON object).
    pub record: serde_json::Value,
    /// The trace of external calls; `Null` in list results, which would otherwise
    /// carry every run's trace for a page only the record of which is shown.
    pub details: serde_json::Value,
}

/// Which runs to list, in `seq` order from after the cursor. Every id filter is an
/// equality; an absent layer id (`None`) never matches a filter on it.
#[derive(Debug, Clone, Default)]
pub struct ActionRunLogQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub action_id: Option<String>,
    pub universal_action_id: Option<String>,
    pub integration_action_id: Option<String>,
    pub connection_action_id: Option<String>,
    pub is_success: Option<bool>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Continue after (ascending) or before (descending) this `seq`.
    pub cursor: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait ActionRunLogStore: Send + Sync + 'static {
    /// Appends action runs (one statement for the batch).
    async fn insert_action_runs(&self, runs: &[ActionRunLog]) -> Result<(), StoreError>;

    /// Action runs matching `query`, without their details.
    async fn find_action_runs(
        &self,
        query: &ActionRunLogQuery,
    ) -> Result<Vec<ActionRunLog>, StoreError>;

    /// One action run with its details.
    async fn action_run_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ActionRunLog>, StoreError>;

    /// Deletes action runs created before `before_ms` (retention); answers how many.
    async fn purge_action_runs(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// Every column but `details`, which only a lookup by id reads.
const COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     action_id, universal_action_id, integration_action_id, connection_action_id, \
     is_success, created_ms, record";

for_each_backend! {
    #[async_trait]
    impl ActionRunLogStore for SqlStore<DB> {
        async fn insert_action_runs(&self, runs: &[ActionRunLog]) -> Result<(), StoreError> {
            if runs.is_empty() {
                return Ok(());
            }
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO action_run_logs (id, workspace_id, customer_id, integration_id, \
                 connection_id, action_id, universal_action_id, integration_action_id, \
                 connection_action_id, is_success, created_ms, record, details) ",
            );
            q.push_values(runs, |mut row, run| {
                row.push_bind(&run.id)
                    .push_bind(&run.workspace_id)
                    .push_bind(&run.customer_id)
                    .push_bind(&run.integration_id)
                    .push_bind(&run.connection_id)
                    .push_bind(&run.action_id)
                    .push_bind(&run.universal_action_id)
                    .push_bind(&run.integration_action_id)
                    .push_bind(&run.connection_action_id)
                    .push_bind(i64::from(run.is_success))
                    .push_bind(run.created_ms)
                    .push_bind(run.record.to_string())
                    .push_bind(run.details.to_string());
            });
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn find_action_runs(
            &self,
            query: &ActionRunLogQuery,
        ) -> Result<Vec<ActionRunLog>, StoreError> {
            let rows = find(query)
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(|r| decode(r, false)).collect()
        }

        async fn action_run_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<ActionRunLog>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {COLUMNS}, details FROM action_run_logs WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(|r| decode(r, true)).transpose()
        }

        async fn purge_action_runs(&self, before_ms: i64) -> Result<u64, StoreError> {
            let table = Retention {
                table: "action_run_logs",
                time: "created_ms",
                in_work: None,
            };
            self.purge_older(&[table], before_ms).await
        }
    }

    fn find(q: &ActionRunLogQuery) -> QueryBuilder<'_, DB> {
        let mut s = QueryBuilder::<DB>::new(format!(
            "SELECT {COLUMNS} FROM action_run_logs WHERE workspace_id = "
        ));
        s.push_bind(&q.workspace_id);
        let equalities = [
            ("customer_id", &q.customer_id),
            ("integration_id", &q.integration_id),
            ("connection_id", &q.connection_id),
            ("action_id", &q.action_id),
            ("universal_action_id", &q.universal_action_id),
            ("integration_action_id", &q.integration_action_id),
            ("connection_action_id", &q.connection_action_id),
        ];
        if let Some(ok) = q.is_success {
            s.push(" AND is_success = ").push_bind(i64::from(ok));
        }
        crate::query::push_log_filters(
            &mut s,
            &equalities,
            "created_ms",
            crate::query::log_page!(q),
        );
        s
    }

    fn decode(
        row: &<DB as sqlx::Database>::Row,
        with_details: bool,
    ) -> Result<ActionRunLog, StoreError> {
        let details = if with_details {
            serde_json::from_str(row.try_get("details")?)
                .map_err(|e| StoreError::Corrupt(format!("action run details: {e}")))?
        } else {
            serde_json::Value::Null
        };
        let record = serde_json::from_str(row.try_get("record")?)
            .map_err(|e| StoreError::Corrupt(format!("action run record: {e}")))?;
        Ok(ActionRunLog {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            action_id: row.try_get("action_id")?,
            universal_action_id: row.try_get("universal_action_id")?,
            integration_action_id: row.try_get("integration_action_id")?,
            connection_action_id: row.try_get("connection_action_id")?,
            is_success: row.try_get::<i64, _>("is_success")? != 0,
            created_ms: row.try_get("created_ms")?,
            record,
            details,
        })
    }
}
