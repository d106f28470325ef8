use thiserror::Error;

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueField {
    Id,
    Uuid,
    Key,
    WorkspaceKey,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("a record with the same {0:?} already exists")]
    Unique(UniqueField),
    #[error("the record was changed concurrently")]
    RevisionConflict,
    #[error("the record does not exist")]
    Missing,
    #[error("unsupported database URL scheme `{0}` (use sqlite: or postgres://)")]
    UnsupportedUrl(String),
    #[error("the database schema is at version {found}, newer than this binary knows ({known}); upgrade Osmosis")]
    SchemaTooNew { found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// No connection could be had in time, or the one in use broke (the server is
    /// down, shutting down, starting up, or not reachable). Callers answer "retry
    /// shortly" rather than "internal error": nothing is wrong with the request. A
    /// write that failed this way after it was sent may or may not have been made.
    #[error("the database cannot be reached: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// The database's disk is full. The write was not made; reads still work, and
    /// writes work again once space is freed.
    #[error("the database's disk is full: {0}")]
    DiskFull(#[source] sqlx::Error),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the data directory: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// Whether this is [`StoreError::Unavailable`].
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Every driver error becomes a `StoreError` here, so both backends' outages and
/// full disks reach the API as the same two answers whatever statement hit them.
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if is_unreachable(&err) {
            StoreError::Unavailable(err)
        } else if is_disk_full(&err) {
            StoreError::DiskFull(err)
        } else {
            StoreError::Database(err)
        }
    }
}

/// The connection could not be made or broke. Transport errors (`Io`, `Tls`, a
/// pool that could not open a connection in time) and PostgreSQL's
/// connection_exception class (08xxx) and operator intervention shutdowns (57P01
/// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04
/// database_dropped, 57P05 idle_session_timeout) all mean "not now", never "not
/// this request".
fn is_unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
            .is_some_and(|pg| {
                let code = pg.code();
                code.starts_with("08") || code.starts_with("57P0")
            }),
        _ => false,
    }
}

/// SQLite's SQLITE_FULL (13; its extended codes keep 13 in the low byte) and
/// PostgreSQL's 53100 disk_full. Asking each backend's own error type keeps one's
/// numeric codes from being read as the other's SQLSTATEs.
fn is_disk_full(err: &sqlx::Error) -> bool {
    const SQLITE_FULL: i32 = 13;
    let sqlx::Error::Database(db) = err else {
        return false;
    };
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return pg.code() == "53100";
    }
    db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
        && db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .is_some_and(|code| code & 0xff == SQLITE_FULL)
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use super::*;

    #[test]
    fn transport_failures_are_unavailable_and_others_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(StoreError::from(sqlx::Error::Io(refused)).is_unavailable());
        assert!(StoreError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
    }

    /// A real SQLITE_FULL: a database not allowed to grow past a few pages.
    #[tokio::test]
    async fn a_full_sqlite_database_is_disk_full() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("PRAGMA max_page_count = 8")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut failure = None;
        for _ in 0..100 {
            let insert = sqlx::query("INSERT INTO t VALUES (zeroblob(4000))")
                .execute(&mut conn)
                .await;
            if let Err(e) = insert {
                failure = Some(e);
                break;
            }
        }
        let err = StoreError::from(failure.expect("eight pages fill up"));
        assert!(matches!(err, StoreError::DiskFull(_)), "{err:?}");
        // Reads of what was written still work.
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(n > 0);
    }

    #[tokio::test]
    async fn other_sqlite_errors_stay_database_errors() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let e = sqlx::query("SELECT * FROM missing")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(StoreError::from(e), StoreError::Database(_)));
    }
}
