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

/// The writer connection's page cache.
const WRITER_CACHE_KIB: u32 = 16 * 1024;

/// How often the WAL is checkpointed off the writer's path (see
/// [`SqlStore::connect`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// WAL pages past which the writer checkpoints itself, inside a commit (SQLite's
/// default is 1000): only when the checkpoints off its path fall behind.
const CHECKPOINT_PAGES: u32 = 16_000;

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
    ///
    /// Every write goes through the one writer connection, so what its
    /// transactions cost bounds every write path (the webhook intake's group
    /// commits measured it, `bench/events/README.md`):
    /// * `temp_store=MEMORY`: a multi-row statement inside a transaction keeps a
    ///   statement journal, which past 64 KiB spilled to a temporary file —
    ///   about a quarter of the writer's time under a burst. It holds pages of
    ///   one statement only; nothing durable lives there.
    /// * the writer keeps [`WRITER_CACHE_KIB`] of pages, where the default 2 MiB
    ///   made inserts into larger indexes read their pages back from the file.
    /// * the WAL is checkpointed every [`CHECKPOINT_EVERY`] by a task of its own
    ///   (`PRAGMA wal_checkpoint(PASSIVE)` on a reading connection), not by the
    ///   writer: an automatic checkpoint runs inside the commit that crossed the
    ///   threshold, which held every writer queued behind it for milliseconds
    ///   (the p99 of intake commits) and took about a tenth of the writer's time.
    ///   A passive checkpoint takes no write lock; the writer restarts the WAL
    ///   once it is copied. Should the task fall behind, the writer still
    ///   checkpoints past [`CHECKPOINT_PAGES`].
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
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory");
        let writer_options = options
            .clone()
            .pragma("cache_size", format!("-{WRITER_CACHE_KIB}"))
            .pragma("wal_autocheckpoint", CHECKPOINT_PAGES.to_string());
        // No ping before each use: a connection to a local file does not go
        // stale, and the ping is one more round trip to the connection's thread
        // on every read and every write transaction.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(writer_options)
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        let mut store = Self::from_pools(pool, writer, None, migrate).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        tokio::spawn(checkpoints(store.pool.clone(), stopped));
        store.stop_tasks = Some(stop);
        Ok(store)
    }
}

/// Checkpoints the WAL every [`CHECKPOINT_EVERY`] until `stopped` (the store is
/// dropped) or the pool closes.
async fn checkpoints(pool: sqlx::SqlitePool, mut stopped: tokio::sync::oneshot::Receiver<()>) {
    let mut every = tokio::time::interval(CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = every.tick() => {}
        }
        if pool.is_closed() {
            return;
        }
        // A failure (a busy checkpoint lock, a full disk) is retried at the next
        // tick; the writer's own threshold still bounds the WAL meanwhile.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::debug!(error = %e, "WAL checkpoint failed; retried at the next");
        }
    }
}
