//! The embedded default: one SQLite file in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite};

use crate::error::StoreError;
use crate::sql_store::{Backend, SqlStore};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub type SqliteStore = SqlStore<Sqlite>;

impl Backend for Sqlite {
    const SHARED: bool = false;
    const CLAIM_LOCK: &'static str = "";
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    const ELEMENT_CHANNEL: Option<&'static str> = None;

    fn migrator() -> &'static Migrator {
        &MIGRATOR
    }

    fn is_missing_table(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(d) if d.message().contains("no such table"))
    }

    /// SQLite's `->` answers the field as JSON text, compared with the value's.
    fn push_doc_equals(
        q: &mut QueryBuilder<'_, Self>,
        field: &str,
        value: &serde_json::Value,
        missing: &'static str,
    ) {
        q.push(" AND coalesce(doc -> ")
            .push_bind(format!("$.\"{field}\""));
        q.push(format!(", '{missing}') = "))
            .push_bind(value.to_string());
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database file of a `sqlite:` URL.
    ///
    /// `synchronous=FULL`: a write is acknowledged only once it is on disk, so neither
    /// a killed process nor a lost machine loses acknowledged data.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        migrate: bool,
    ) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .connect_with(options)
            .await?;
        Self::from_pools(pool, writer, None, migrate).await
    }
}
