//! PostgreSQL, for several stateless nodes sharing one database.

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPoolOptions, PgQueryResult};
use sqlx::Postgres;

use crate::error::StoreError;
use crate::sql::Dialect;
use crate::sql_store::{Backend, SqlStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

pub type PostgresStore = SqlStore<Postgres>;

impl Backend for Postgres {
    const DIALECT: Dialect = Dialect::Postgres;
    const SHARED: bool = true;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn is_missing_table(err: &sqlx::Error) -> bool {
        // undefined_table
        matches!(err, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P01"))
    }

    fn rows_affected(result: &PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

impl SqlStore<Postgres> {
    /// Connects a pool of `max_connections` to a `postgres://` URL.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            // A failed connection surfaces as a query error and is replaced; pinging
            // before every acquire would add a round trip to each statement.
            .test_before_acquire(false)
            .connect(url)
            .await?;
        SqlStore::from_pools(pool.clone(), pool, migrate).await
    }
}
