//! Records of the interactive connect flow that are not workspace elements: OAuth
//! states, results waiting for a browser's SSE listener, connection requests, and
//! leases. Each is addressed by (workspace, kind, id), expires, and can be *taken*
//! exactly once — the one atomic step an OAuth callback needs so that a replayed
//! `state` finds nothing, on one node or several.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// One record of the connect flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub workspace_id: String,
    /// What it is, e.g. `oauth-state`, `connect-result`, `connection-request`.
    pub kind: String,
    pub id: String,
    /// The customer whose flow it belongs to.
    pub customer_id: String,
    pub doc: Value,
    /// Milliseconds since the epoch after which it is gone.
    pub expires_at: i64,
    /// When it was taken, if it was.
    pub used_at: Option<i64>,
    pub created_at: i64,
}

#[async_trait]
pub trait ConnectRecordStore: Send + Sync + 'static {
    /// Adds a connect-flow record, or replaces the one at its address (and makes it
    /// untaken).
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
}

const COLUMNS: &str = "workspace_id, kind, id, customer_id, doc, expires_at, used_at, created_at";

for_each_backend! {
    #[async_trait]
    impl ConnectRecordStore for SqlStore<DB> {
        async fn put_connect_record(&self, record: &ConnectRecord) -> Result<(), StoreError> {
            let doc = record.doc.to_string();
            put(record, &doc)
                .build()
                .execute(&mut *self.writer().await?)
                .await?;
            Ok(())
        }

        async fn connect_record(
            &self,
            workspace_id: &str,
            kind: &str,
            id: &str,
            now_ms: i64,
        ) -> Result<Option<ConnectRecord>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM connect_records"));
            push_address(&mut q, workspace_id, kind, id);
            q.push(" AND expires_at > ").push_bind(now_ms);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        /// Marks a live, untaken record taken and returns it; finds nothing the
        /// second time.
        async fn take_connect_record(
            &self,
            workspace_id: &str,
            kind: &str,
            id: &str,
            now_ms: i64,
        ) -> Result<Option<ConnectRecord>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE connect_records SET used_at = ");
            q.push_bind(now_ms);
            push_address(&mut q, workspace_id, kind, id);
            q.push(" AND used_at IS NULL AND expires_at > ")
                .push_bind(now_ms);
            q.push(format!(" RETURNING {COLUMNS}"));
            let rows = q.build().fetch_all(&mut *self.writer().await?).await?;
            rows.first().map(decode).transpose()
        }

        /// Inserts the lease, or takes over one that expired; a live lease of
        /// someone else leaves it unchanged.
        async fn take_lease(
            &self,
            record: &ConnectRecord,
            now_ms: i64,
        ) -> Result<bool, StoreError> {
            let doc = record.doc.to_string();
            let mut q = put(record, &doc);
            q.push(" WHERE connect_records.expires_at <= ")
                .push_bind(now_ms);
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn purge_connect_records(&self, before_ms: i64) -> Result<u64, StoreError> {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM connect_records WHERE expires_at < ");
            q.push_bind(before_ms);
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected())
        }
    }

    /// Inserts a record, or replaces the one at its address (and makes it untaken).
    fn put<'a>(r: &'a ConnectRecord, doc: &'a str) -> QueryBuilder<'a, DB> {
        let mut q =
            QueryBuilder::<DB>::new(format!("INSERT INTO connect_records ({COLUMNS}) VALUES ("));
        let mut values = q.separated(", ");
        values.push_bind(&r.workspace_id);
        values.push_bind(&r.kind);
        values.push_bind(&r.id);
        values.push_bind(&r.customer_id);
        values.push_bind(doc);
        values.push_bind(r.expires_at);
        values.push("NULL");
        values.push_bind(r.created_at);
        q.push(
            ") ON CONFLICT (workspace_id, kind, id) DO UPDATE SET customer_id = excluded.customer_id, \
             doc = excluded.doc, expires_at = excluded.expires_at, used_at = NULL",
        );
        q
    }

    fn push_address<'a>(
        q: &mut QueryBuilder<'a, DB>,
        workspace_id: &'a str,
        kind: &'a str,
        id: &'a str,
    ) {
        q.push(" WHERE workspace_id = ").push_bind(workspace_id);
        q.push(" AND kind = ").push_bind(kind);
        q.push(" AND id = ").push_bind(id);
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<ConnectRecord, StoreError> {
        Ok(ConnectRecord {
            workspace_id: row.try_get("workspace_id")?,
            kind: row.try_get("kind")?,
            id: row.try_get("id")?,
            customer_id: row.try_get("customer_id")?,
            doc: serde_json::from_str(row.try_get("doc")?)
                .map_err(|e| StoreError::Corrupt(format!("connect record: {e}")))?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
