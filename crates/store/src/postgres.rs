//! PostgreSQL, for several stateless nodes sharing one database.

use std::time::Duration;

use async_trait::async_trait;
use osmosis_model::Element;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

use crate::error::{classify_unique, StoreError};
use crate::query::ElementQuery;
use crate::sql::{self, bind_all, decode_element, Dialect};
use crate::{Store, Workspace};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects a pool of `max_connections` to a `postgres://` URL.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let store = PostgresStore { pool };
        // A newer schema than this binary knows is refused before migrating, so an
        // old node never runs against (or half-migrates) a database it cannot read.
        store.check_schema().await?;
        if migrate {
            MIGRATOR.run(&store.pool).await?;
        }
        Ok(store)
    }

    async fn check_schema(&self) -> Result<(), StoreError> {
        let found = self.schema_version().await?;
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if found > known {
            return Err(StoreError::SchemaTooNew { found, known });
        }
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn insert_workspace(&self, w: &Workspace) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO workspaces (id, key, secret, name, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&w.id)
            .bind(&w.key)
            .bind(&w.secret)
            .bind(&w.name)
            .bind(&w.created_at)
            .execute(&self.pool)
            .await
            .map_err(classify_unique)?;
        Ok(())
    }

    async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError> {
        let row =
            sqlx::query("SELECT id, key, secret, name, created_at FROM workspaces WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| Workspace {
            id: r.get("id"),
            key: r.get("key"),
            secret: r.get("secret"),
            name: r.get("name"),
            created_at: r.get("created_at"),
        }))
    }

    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError> {
        let stmt = sql::insert(Dialect::Postgres, element, key_scope);
        let row = bind_all::<sqlx::Postgres>(&stmt)
            .fetch_one(&self.pool)
            .await
            .map_err(classify_unique)?;
        Ok(row.try_get("seq")?)
    }

    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected: &str,
    ) -> Result<(), StoreError> {
        let stmt = sql::update(Dialect::Postgres, element, key_scope, expected);
        let done = bind_all::<sqlx::Postgres>(&stmt)
            .execute(&self.pool)
            .await
            .map_err(classify_unique)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::RevisionConflict);
        }
        Ok(())
    }

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM elements WHERE workspace_id = $1 AND id = $2",
            sql::COLUMNS
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(decode_element).transpose()
    }

    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
        let stmt = sql::find(Dialect::Postgres, query);
        let rows = bind_all::<sqlx::Postgres>(&stmt)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(decode_element).collect()
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await
                .or_else(|e| match e {
                    // No migrations table yet: a fresh database at version 0.
                    sqlx::Error::Database(ref d) if d.code().as_deref() == Some("42P01") => {
                        Ok(None)
                    }
                    other => Err(other),
                })?;
        Ok(v.unwrap_or(0))
    }
}
