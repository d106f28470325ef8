//! The one SQL store behind every concern's trait: a pool for reads, one for
//! writes, the gate in front of a shared database, and the migration check made on
//! opening. Each concern's module implements its trait for it once, through
//! [`for_each_backend!`]; a [`Backend`] supplies only what truly differs between
//! SQLite and PostgreSQL.
//!
//! Statements are built with sqlx's `QueryBuilder`, which writes each backend's
//! placeholders itself. They are written once and compiled per backend by the macro
//! rather than as impls generic over `sqlx::Database`: a generic impl must repeat a
//! dozen `Encode`/`Decode`/`ColumnIndex` bounds on every block, and sqlx's `Any`
//! driver would lose the typed pools the gate and the migrators work on.
//!
//! Writes that return rows (`INSERT … RETURNING`, `UPDATE … RETURNING`) are read
//! with `fetch_all`, never `fetch_one`/`fetch_optional`: SQLite commits such a
//! statement only when it is stepped to its end, and sqlx stops a limited fetch
//! after the first row and resets the statement, dropping the commit's error. On a
//! full disk that acknowledged writes that were then rolled back.

use sqlx::migrate::Migrator;
use sqlx::{Pool, QueryBuilder, Row};

use crate::error::StoreError;
use crate::gate::{Conn, Gate};

/// What differs between the SQL backends beyond the placeholders `QueryBuilder`
/// already writes.
pub trait Backend: sqlx::Database {
    /// Several nodes may share this database.
    const SHARED: bool;
    /// Ends the subquery that picks the jobs to claim: on PostgreSQL concurrent
    /// claimers skip each other's rows instead of waiting or doubling up; SQLite has
    /// one writer at a time and needs no row locks.
    const CLAIM_LOCK: &'static str;
    /// Begins a transaction that reads before it writes. On SQLite it takes the
    /// write lock at once: a transaction that read first and then writes fails
    /// with `SQLITE_BUSY` (its snapshot may be stale) instead of waiting.
    const BEGIN_WRITE: &'static str;
    /// Where a write of an element is announced to the other nodes (a PostgreSQL
    /// `NOTIFY` channel, sent with the write's transaction), so their element
    /// caches forget what it changed; `None` where one node owns the database.
    const ELEMENT_CHANNEL: Option<&'static str>;
    fn migrator() -> &'static Migrator;
    /// The error a query on a table that does not exist yet gives.
    fn is_missing_table(err: &sqlx::Error) -> bool;
    /// Pushes ` AND <document field> = <value>`, a field the document lacks reading
    /// as `missing` (JSON text).
    fn push_doc_equals(
        q: &mut QueryBuilder<'_, Self>,
        field: &str,
        value: &serde_json::Value,
        missing: &'static str,
    );
}

/// Writes the items once for every SQL backend: each copy sees `DB` as that
/// backend's sqlx database type. The copies sit in anonymous blocks, so helper
/// functions of one backend do not clash with the other's.
macro_rules! for_each_backend {
    ($($item:item)*) => {
        const _: () = {
            #[allow(unused_imports)]
            use sqlx::Sqlite as DB;
            $($item)*
        };
        const _: () = {
            #[allow(unused_imports)]
            use sqlx::Postgres as DB;
            $($item)*
        };
    };
}
pub(crate) use for_each_backend;

/// Runs `$body` in one write transaction on `$store`'s writer (`BEGIN_WRITE`),
/// committing when it succeeds; its value is the result. The body names the
/// transaction `$tx` and may use `?`. A failed transaction's connection is not
/// reused (see `Conn::discard`): sqlx may not have rolled it back (a ROLLBACK
/// that fails after SQLite rolled back by itself leaves its depth counter up).
macro_rules! write_transaction {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut conn = $store.writer().await?;
        let done: Result<_, crate::error::StoreError> = async {
            #[allow(unused_mut)]
            let mut $tx = sqlx::Connection::begin_with(
                &mut *conn,
                <DB as crate::sql_store::Backend>::BEGIN_WRITE,
            )
            .await?;
            let value = $body;
            $tx.commit().await?;
            Ok(value)
        }
        .await;
        if done.is_err() {
            conn.discard();
        }
        done
    }};
}
pub(crate) use write_transaction;

/// Every store of one SQL database, over a pool of `DB` connections.
pub struct SqlStore<DB: sqlx::Database> {
    pub(crate) pool: Pool<DB>,
    /// Where writes go. SQLite has one writer at a time: a pool of one connection
    /// queues writers in order, instead of each spinning in SQLite's sleeping busy
    /// handler (which turns contention into 100 ms latency spikes). PostgreSQL
    /// writes through the shared pool.
    pub(crate) writer: Pool<DB>,
    /// The writer's one connection, kept out of its pool on a database this node
    /// owns (see [`SqlStore::writer`]).
    pub(crate) kept_writer: tokio::sync::Mutex<Option<sqlx::pool::PoolConnection<DB>>>,
    /// Answers at once while a shared database is unreachable (see `gate.rs`);
    /// `None` for SQLite, a local file that is never unreachable.
    pub(crate) gate: Option<Gate>,
    /// Dropped with the store: ends the tasks it started (SQLite's checkpoints,
    /// `sqlite.rs`).
    pub(crate) stop_tasks: Option<tokio::sync::oneshot::Sender<()>>,
}

impl<DB: Backend> SqlStore<DB> {
    /// A connection for reading, through the gate when there is one.
    pub(crate) async fn reader(&self) -> Result<Conn<'_, DB>, StoreError> {
        self.conn(&self.pool).await
    }

    /// A connection for writing, through the gate when there is one.
    ///
    /// Where the writer pool has one connection for this node alone (SQLite), it
    /// is kept out of the pool and handed from writer to writer under a lock: sqlx
    /// returns a connection to its pool from a spawned task that pings it first,
    /// one more round trip to the connection's thread after every write, which
    /// the next writer waited for (~0.3 ms of each intake group commit,
    /// `bench/events/README.md`).
    pub(crate) async fn writer(&self) -> Result<Conn<'_, DB>, StoreError> {
        if !DB::SHARED {
            return Conn::kept(&self.kept_writer, &self.writer).await;
        }
        self.conn(&self.writer).await
    }

    /// Gives the kept writer connection back to its pool (before closing it).
    pub(crate) async fn release_kept_writer(&self) {
        self.kept_writer.lock().await.take();
    }

    async fn conn<'a>(&'a self, pool: &Pool<DB>) -> Result<Conn<'a, DB>, StoreError> {
        match &self.gate {
            Some(gate) => gate.acquire(pool).await,
            None => Ok(Conn::ungated(pool.acquire().await?)),
        }
    }
}

/// One statement of a [`SqlStore::write_all`] transaction: pushes its SQL and
/// binds into the builder it is given.
pub(crate) type Statement<'q, DB> = Box<dyn FnOnce(&mut QueryBuilder<'q, DB>) + Send + 'q>;

for_each_backend! {
    impl SqlStore<DB> {
        /// Writes `statements` in one transaction, in order, committing when every
        /// one succeeded.
        ///
        /// Where this node owns the database (SQLite), the whole transaction goes
        /// to the writer connection's thread as one script, `BEGIN IMMEDIATE; …;
        /// COMMIT`: one round trip to that thread where the begin, each statement
        /// and the commit took one each — and a round trip, two thread wake-ups on
        /// a busy machine, cost more than SQLite's own work for a small insert
        /// (intake group commits, `bench/events/README.md`). A statement that
        /// fails stops the script inside its transaction; the connection is
        /// discarded, which rolls it back. PostgreSQL prepares one statement per
        /// query, so there each is sent on its own in a [`write_transaction!`].
        pub(crate) async fn write_all<'q>(
            &self,
            statements: Vec<Statement<'q, DB>>,
        ) -> Result<(), StoreError> {
            if statements.is_empty() {
                return Ok(());
            }
            if !<DB as Backend>::SHARED {
                let mut q = QueryBuilder::<DB>::new(<DB as Backend>::BEGIN_WRITE);
                for statement in statements {
                    q.push("; ");
                    statement(&mut q);
                }
                q.push("; COMMIT");
                let mut conn = self.writer().await?;
                let done = q.build().execute(&mut *conn).await;
                if done.is_err() {
                    conn.discard();
                }
                done?;
                return Ok(());
            }
            write_transaction!(self, |tx| {
                for statement in statements {
                    let mut q = QueryBuilder::<DB>::new("");
                    statement(&mut q);
                    q.build().execute(&mut *tx).await?;
                }
            })
        }

        /// Wraps a connected pool: refuses a schema newer than this binary knows,
        /// then migrates when asked. Checking first means an old node never runs
        /// against (or half-migrates) a database it cannot read.
        pub(crate) async fn from_pools(
            pool: Pool<DB>,
            writer: Pool<DB>,
            gate: Option<Gate>,
            migrate: bool,
        ) -> Result<Self, StoreError> {
            let store = SqlStore {
                pool,
                writer,
                kept_writer: Default::default(),
                gate,
                stop_tasks: None,
            };
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

        pub(crate) async fn applied_version(&self) -> Result<i64, StoreError> {
            let q = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
            match sqlx::query(q).fetch_one(&mut *self.reader().await?).await {
                Ok(row) => Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0)),
                // No migrations table yet: a fresh database at version 0.
                Err(e) if DB::is_missing_table(&e) => Ok(0),
                Err(e) => Err(e.into()),
            }
        }
    }
}
