//! External API logs: one row per request made to an external API through a
//! connection. A table of their own rather than elements: they are append-only,
//! written at the rate of outbound calls, never revised, layered or selected by key,
//! and their details (masked request and response) are read one at a time.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::retention::Retention;
use crate::sql_store::{for_each_backend, SqlStore};

/// One outbound call.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalApiLog {
    /// Insertion order; the list cursor. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    pub connection_id: String,
    /// `0` when no response came.
    pub status_code: i64,
    pub is_success: bool,
    pub request_url: String,
    pub duration_ms: i64,
    /// Milliseconds since the epoch (filters), and the same as ISO 8601.
    pub created_ms: i64,
    pub created_at: String,
    /// The masked request and response; `Null` in list results.
    pub details: serde_json::Value,
}

/// Which logs to list, in `seq` order from after the cursor.
#[derive(Debug, Clone, Default)]
pub struct ExternalApiLogQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
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
pub trait ApiLogStore: Send + Sync + 'static {
    /// Appends external API logs (one statement for the batch).
    async fn insert_api_logs(&self, logs: &[ExternalApiLog]) -> Result<(), StoreError>;

    /// External API logs matching `query`, without their details.
    async fn find_api_logs(
        &self,
        query: &ExternalApiLogQuery,
    ) -> Result<Vec<ExternalApiLog>, StoreError>;

    /// One external API log with its details.
    async fn api_log_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ExternalApiLog>, StoreError>;

    /// Deletes external API logs created before `before_ms` (retention); answers
    /// how many.
    async fn purge_api_logs(&self, before_ms: i64) -> Result<u64, StoreError>;
}

/// Every column but `details`, which only a lookup by id reads.
const COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     status_code, is_success, request_url, duration_ms, created_ms, created_at";

for_each_backend! {
    #[async_trait]
    impl ApiLogStore for SqlStore<DB> {
        async fn insert_api_logs(&self, logs: &[ExternalApiLog]) -> Result<(), StoreError> {
            if logs.is_empty() {
                return Ok(());
            }
            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO external_api_logs (id, workspace_id, customer_id, integration_id, \
                 connection_id, status_code, is_success, request_url, duration_ms, created_ms, \
                 created_at, details) ",
            );
            q.push_values(logs, |mut row, log| {
                row.push_bind(&log.id)
                    .push_bind(&log.workspace_id)
                    .push_bind(&log.customer_id)
                    .push_bind(&log.integration_id)
                    .push_bind(&log.connection_id)
                    .push_bind(log.status_code)
                    .push_bind(i64::from(log.is_success))
                    .push_bind(&log.request_url)
                    .push_bind(log.duration_ms)
                    .push_bind(log.created_ms)
                    .push_bind(&log.created_at)
                    .push_bind(log.details.to_string());
            });
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn find_api_logs(
            &self,
            query: &ExternalApiLogQuery,
        ) -> Result<Vec<ExternalApiLog>, StoreError> {
            let rows = find(query)
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(|r| decode(r, false)).collect()
        }

        async fn api_log_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<ExternalApiLog>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {COLUMNS}, details FROM external_api_logs WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(|r| decode(r, true)).transpose()
        }

        async fn purge_api_logs(&self, before_ms: i64) -> Result<u64, StoreError> {
            let table = Retention {
                table: "external_api_logs",
                time: "created_ms",
                in_work: None,
            };
            self.purge_older(&[table], before_ms).await
        }
    }

    fn find(q: &ExternalApiLogQuery) -> QueryBuilder<'_, DB> {
        let mut s = QueryBuilder::<DB>::new(format!(
            "SELECT {COLUMNS} FROM external_api_logs WHERE workspace_id = "
        ));
        s.push_bind(&q.workspace_id);
        let equalities = [
            ("customer_id", &q.customer_id),
            ("integration_id", &q.integration_id),
            ("connection_id", &q.connection_id),
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
    ) -> Result<ExternalApiLog, StoreError> {
        let details = if with_details {
            serde_json::from_str(row.try_get("details")?)
                .map_err(|e| StoreError::Corrupt(format!("external API log details: {e}")))?
        } else {
            serde_json::Value::Null
        };
        Ok(ExternalApiLog {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            customer_id: row.try_get("customer_id")?,
            integration_id: row.try_get("integration_id")?,
            connection_id: row.try_get("connection_id")?,
            status_code: row.try_get("status_code")?,
            is_success: row.try_get::<i64, _>("is_success")? != 0,
            request_url: row.try_get("request_url")?,
            duration_ms: row.try_get("duration_ms")?,
            created_ms: row.try_get("created_ms")?,
            created_at: row.try_get("created_at")?,
            details,
        })
    }
}
