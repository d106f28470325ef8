//! One `Store` implementation for every SQL backend: the statements come from
//! `sql.rs`, and a [`Backend`] supplies only what truly differs (dialect, migrations,
//! how a missing table is reported, whether other nodes share the database).
//!
//! Writes that return rows (`INSERT … RETURNING`, `UPDATE … RETURNING`) are read
//! with `fetch_all`, never `fetch_one`/`fetch_optional`: SQLite commits such a
//! statement only when it is stepped to its end, and sqlx stops a limited fetch
//! after the first row and resets the statement, dropping the commit's error. On a
//! full disk that acknowledged writes that were then rolled back.

use async_trait::async_trait;
use osmosis_model::Element;
use sqlx::migrate::Migrator;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

use crate::api_logs;
use crate::connect_records;
use crate::error::{classify_unique, StoreError};
use crate::gate::{Conn, Gate};
use crate::query::ElementQuery;
use crate::sql::{self, bind_all, decode_element, decode_job, Arg, Dialect, Statement};
use crate::{ConnectRecord, ExternalApiLog, ExternalApiLogQuery, Job, Lease, Store, Workspace};

pub trait Backend: Database {
    const DIALECT: Dialect;
    /// Several nodes may share this database.
    const SHARED: bool;
    fn migrator() -> &'static Migrator;
    /// The error a query on a table that does not exist yet gives.
    fn is_missing_table(err: &sqlx::Error) -> bool;
    fn rows_affected(result: &Self::QueryResult) -> u64;
}

/// The element store over a pool of `DB` connections.
pub struct SqlStore<DB: Database> {
    pub(crate) pool: Pool<DB>,
    /// Where writes go. SQLite has one writer at a time: a pool of one connection
    /// queues writers in order, instead of each spinning in SQLite's sleeping busy
    /// handler (which turns contention into 100 ms latency spikes). PostgreSQL
    /// writes through the shared pool.
    pub(crate) writer: Pool<DB>,
    /// Answers at once while a shared database is unreachable (see `gate.rs`);
    /// `None` for SQLite, a local file that is never unreachable.
    pub(crate) gate: Option<Gate>,
}

impl<DB: Database> SqlStore<DB> {
    /// A connection of `pool`, through the gate when there is one.
    async fn conn<'a>(&'a self, pool: &Pool<DB>) -> Result<Conn<'a, DB>, StoreError> {
        match &self.gate {
            Some(gate) => gate.acquire(pool).await,
            None => Ok(Conn::ungated(pool.acquire().await?)),
        }
    }
}

impl<DB: Backend> SqlStore<DB>
where
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    Option<i64>: Type<DB> + for<'r> Decode<'r, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    /// Wraps a connected pool: refuses a schema newer than this binary knows, then
    /// migrates when asked. Checking first means an old node never runs against (or
    /// half-migrates) a database it cannot read.
    pub(crate) async fn from_pools(
        pool: Pool<DB>,
        writer: Pool<DB>,
        gate: Option<Gate>,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        let store = SqlStore { pool, writer, gate };
        let found = store.applied_version().await?;
        let known = DB::migrator().iter().map(|m| m.version).max().unwrap_or(0);
        if found > known {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        if migrate {
            DB::migrator().run(&store.writer).await?;
        }
        Ok(store)
    }

    async fn applied_version(&self) -> Result<i64, StoreError> {
        let q = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
        match sqlx::query(q)
            .fetch_one(&mut *self.conn(&self.pool).await?)
            .await
        {
            Ok(row) => Ok(row.try_get::<Option<i64>, _>(0usize)?.unwrap_or(0)),
            // No migrations table yet: a fresh database at version 0.
            Err(e) if DB::is_missing_table(&e) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlStore<DB>
where
    DB::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB>,
    i64: Type<DB> + for<'r> Decode<'r, DB>,
    Option<i64>: Type<DB> + for<'r> Decode<'r, DB>,
    String: Type<DB> + for<'r> Decode<'r, DB>,
    Option<String>: Type<DB> + for<'r> Decode<'r, DB>,
    i32: Type<DB> + for<'r> Decode<'r, DB>,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    usize: ColumnIndex<DB::Row>,
{
    async fn insert_workspace(&self, w: &Workspace) -> Result<(), StoreError> {
        let mut s = Statement::new(
            DB::DIALECT,
            "INSERT INTO workspaces (id, key, secret, name, created_at) VALUES (",
        );
        for (i, v) in [&w.id, &w.key, &w.secret, &w.name, &w.created_at]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                s.push(", ");
            }
            s.bind(Arg::Text(v.clone()));
        }
        s.push(")");
        bind_all::<DB>(&s)
            .execute(&mut *self.conn(&self.writer).await?)
            .await
            .map_err(classify_unique)?;
        Ok(())
    }

    async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError> {
        let mut s = Statement::new(
            DB::DIALECT,
            "SELECT id, key, secret, name, created_at FROM workspaces WHERE key = ",
        );
        s.bind(Arg::Text(key.to_string()));
        let row = bind_all::<DB>(&s)
            .fetch_optional(&mut *self.conn(&self.pool).await?)
            .await?;
        row.as_ref().map(decode_workspace).transpose()
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        let s = Statement::new(
            DB::DIALECT,
            "SELECT id, key, secret, name, created_at FROM workspaces ORDER BY created_at, id",
        );
        let rows = bind_all::<DB>(&s)
            .fetch_all(&mut *self.conn(&self.pool).await?)
            .await?;
        rows.iter().map(decode_workspace).collect()
    }

    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError> {
        let stmt = sql::insert(DB::DIALECT, element, key_scope);
        let rows = bind_all::<DB>(&stmt)
            .fetch_all(&mut *self.conn(&self.writer).await?)
            .await
            .map_err(classify_unique)?;
        let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        Ok(row.try_get("seq")?)
    }

    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected: &str,
    ) -> Result<(), StoreError> {
        let stmt = sql::update(DB::DIALECT, element, key_scope, expected);
        let done = bind_all::<DB>(&stmt)
            .execute(&mut *self.conn(&self.writer).await?)
            .await
            .map_err(classify_unique)?;
        if DB::rows_affected(&done) == 0 {
            return Err(StoreError::RevisionConflict);
        }
        Ok(())
    }

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError> {
        let mut s = Statement::new(
            DB::DIALECT,
            &format!(
                "SELECT {} FROM elements WHERE workspace_id = ",
                sql::COLUMNS
            ),
        );
        s.bind(Arg::Text(workspace_id.to_string()));
        s.push(" AND id = ").bind(Arg::Text(id.to_string()));
        let row = bind_all::<DB>(&s)
            .fetch_optional(&mut *self.conn(&self.pool).await?)
            .await?;
        row.as_ref().map(decode_element).transpose()
    }

    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
        let stmt = sql::find(DB::DIALECT, query);
        let rows = bind_all::<DB>(&stmt)
            .fetch_all(&mut *self.conn(&self.pool).await?)
            .await?;
        rows.iter().map(decode_element).collect()
    }

    async fn schedule_job(&self, job: &Job, now_ms: i64) -> Result<(), StoreError> {
        bind_all::<DB>(&sql::schedule_job(DB::DIALECT, job, now_ms))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(())
    }

    async fn claim_jobs(
        &self,
        node: &str,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        let stmt = sql::claim_jobs(DB::DIALECT, node, lease, limit);
        let rows = bind_all::<DB>(&stmt)
            .fetch_all(&mut *self.conn(&self.writer).await?)
            .await?;
        rows.iter().map(decode_job).collect()
    }

    async fn finish_job(&self, job: &Job, node: &str) -> Result<(), StoreError> {
        let [delete, release] = sql::finish_job(DB::DIALECT, job, node);
        let mut conn = self.conn(&self.writer).await?;
        let done = bind_all::<DB>(&delete).execute(&mut *conn).await?;
        if DB::rows_affected(&done) == 0 {
            bind_all::<DB>(&release).execute(&mut *conn).await?;
        }
        Ok(())
    }

    async fn retry_job(
        &self,
        job: &Job,
        node: &str,
        run_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        bind_all::<DB>(&sql::retry_job(DB::DIALECT, job, node, run_at, error))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(())
    }

    async fn put_connect_record(&self, record: &ConnectRecord) -> Result<(), StoreError> {
        bind_all::<DB>(&connect_records::put(DB::DIALECT, record))
            .execute(&mut *self.conn(&self.writer).await?)
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
        let stmt = connect_records::get(DB::DIALECT, workspace_id, kind, id, now_ms);
        let row = bind_all::<DB>(&stmt)
            .fetch_optional(&mut *self.conn(&self.pool).await?)
            .await?;
        row.as_ref().map(connect_records::decode).transpose()
    }

    async fn take_connect_record(
        &self,
        workspace_id: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<ConnectRecord>, StoreError> {
        let stmt = connect_records::take(DB::DIALECT, workspace_id, kind, id, now_ms);
        let rows = bind_all::<DB>(&stmt)
            .fetch_all(&mut *self.conn(&self.writer).await?)
            .await?;
        rows.first().map(connect_records::decode).transpose()
    }

    async fn take_lease(&self, record: &ConnectRecord, now_ms: i64) -> Result<bool, StoreError> {
        let done = bind_all::<DB>(&connect_records::lease(DB::DIALECT, record, now_ms))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(DB::rows_affected(&done) > 0)
    }

    async fn purge_connect_records(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = bind_all::<DB>(&connect_records::purge(DB::DIALECT, before_ms))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(DB::rows_affected(&done))
    }

    async fn workspace_settings(
        &self,
        workspace_id: &str,
    ) -> Result<serde_json::Value, StoreError> {
        let stmt = connect_records::settings(DB::DIALECT, workspace_id);
        let row = bind_all::<DB>(&stmt)
            .fetch_optional(&mut *self.conn(&self.pool).await?)
            .await?;
        match row {
            None => Ok(serde_json::json!({})),
            Some(r) => {
                let text: String = r.try_get("settings")?;
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("workspace settings: {e}")))
            }
        }
    }

    async fn set_workspace_settings(
        &self,
        workspace_id: &str,
        settings: &serde_json::Value,
    ) -> Result<(), StoreError> {
        bind_all::<DB>(&connect_records::set_settings(
            DB::DIALECT,
            workspace_id,
            settings,
        ))
        .execute(&mut *self.conn(&self.writer).await?)
        .await?;
        Ok(())
    }

    async fn purge_api_logs(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = bind_all::<DB>(&api_logs::purge(DB::DIALECT, before_ms))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(DB::rows_affected(&done))
    }

    async fn insert_api_logs(&self, logs: &[ExternalApiLog]) -> Result<(), StoreError> {
        if logs.is_empty() {
            return Ok(());
        }
        bind_all::<DB>(&api_logs::insert(DB::DIALECT, logs))
            .execute(&mut *self.conn(&self.writer).await?)
            .await?;
        Ok(())
    }

    async fn find_api_logs(
        &self,
        query: &ExternalApiLogQuery,
    ) -> Result<Vec<ExternalApiLog>, StoreError> {
        let rows = bind_all::<DB>(&api_logs::find(DB::DIALECT, query))
            .fetch_all(&mut *self.conn(&self.pool).await?)
            .await?;
        rows.iter().map(|r| api_logs::decode(r, false)).collect()
    }

    async fn api_log_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ExternalApiLog>, StoreError> {
        let row = bind_all::<DB>(&api_logs::by_id(DB::DIALECT, workspace_id, id))
            .fetch_optional(&mut *self.conn(&self.pool).await?)
            .await?;
        row.as_ref().map(|r| api_logs::decode(r, true)).transpose()
    }

    fn is_shared(&self) -> bool {
        DB::SHARED
    }

    async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.applied_version().await
    }
}

fn decode_workspace<'r, R>(r: &'r R) -> Result<Workspace, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Workspace {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        secret: r.try_get("secret")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
    })
}
