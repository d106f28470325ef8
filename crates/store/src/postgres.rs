//! PostgreSQL, for several stateless nodes sharing one database.
//!
//! The pool goes through a [`Gate`](crate::gate) so that while the database is down
//! requests fail within a second instead of waiting for a connection, and pick up
//! again by themselves once it is back.

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Postgres, QueryBuilder};

use crate::error::StoreError;
use crate::gate::Gate;
use crate::sql_store::{Backend, SqlStore};
use crate::OpenOptions;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A connection unused this long is pinged before it is handed out, so one that
/// outlived a database restart is replaced instead of failing a request after the
/// database is back. A busy pool's connections return within milliseconds and skip
/// the round trip (the reason not to ping before every acquire).
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// How long a starting node waits for its database: started beside it (compose,
/// systemd), PostgreSQL may come up a little later, and a node should not exit
/// for that.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

pub type PostgresStore = SqlStore<Postgres>;

impl Backend for Postgres {
    const SHARED: bool = true;
    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    const BEGIN_WRITE: &'static str = "BEGIN";
    const ELEMENT_CHANNEL: Option<&'static str> = Some(crate::cache_listener::CHANNEL);

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn is_missing_table(err: &sqlx::Error) -> bool {
        // undefined_table
        matches!(err, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P01"))
    }

    /// The document is text (see the crate docs on why not `jsonb`), cast per row;
    /// the rows are already narrowed to one workspace and type by an index.
    fn push_doc_equals(
        q: &mut QueryBuilder<'_, Self>,
        field: &str,
        value: &serde_json::Value,
        missing: &'static str,
    ) {
        q.push(" AND coalesce(doc::jsonb -> ")
            .push_bind(field.to_owned());
        q.push(format!(", '{missing}'::jsonb) = "))
            .push_bind(value.to_string())
            .push("::jsonb");
    }
}

impl SqlStore<Postgres> {
    /// Connects a pool to a `postgres://` URL, waiting up to [`STARTUP_WAIT`] for
    /// the database to answer.
    pub async fn connect(url: &str, options: &OpenOptions) -> Result<Self, StoreError> {
        let size = options.max_connections.max(1);
        let pool = PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy(url)?;
        let deadline = Instant::now() + STARTUP_WAIT;
        loop {
            match pool.acquire().await.map_err(StoreError::from) {
                Ok(_) => break,
                Err(e) if e.is_unavailable() && Instant::now() < deadline => {
                    tracing::info!(error = %e, "waiting for the database");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
        Self::from_pools(pool.clone(), pool, Some(Gate::new(size)), options.migrate).await
    }
}
