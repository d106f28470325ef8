//! How PostgreSQL statements get a connection, so that a database outage is
//! answered within a second while a busy but healthy pool is not mistaken for one.
//!
//! sqlx's `acquire_timeout` bounds two different waits with one number: waiting for
//! a free slot (the pool is busy) and opening a connection (sqlx retries a refused
//! connect until the deadline). A long timeout made every request of an outage hang
//! for it; a short one alone would fail requests that merely queue behind others.
//! So the waits are split:
//!
//! - **Slots** — a semaphore of the pool's size in front of it. Waiting here is
//!   waiting for a busy pool, and may take as long as [`BUSY_WAIT`].
//! - **`acquire_timeout`** (short, configurable) — holding a slot, sqlx has only to
//!   hand over an idle connection, check it, or open one; so this bounds how long a
//!   request takes to learn the server does not answer.
//! - **Breaker** — once a connection could not be had, requests fail at once
//!   instead of each spending that timeout (which, behind the slots, would add up
//!   under load). Every [`PROBE_INTERVAL`] one request is let through to try; its
//!   success closes the breaker. The probe is an ordinary request, so no background
//!   task or second connection exists, and recovery needs no restart; the price is
//!   that requests arriving while the probe runs are still refused, so service
//!   resumes up to one interval and one probe after the database does.
//!
//! Only acquiring trips the breaker: a statement failing on a connection that broke
//! under it answers the same 503 (see `StoreError::Unavailable`), and the pool drops
//! that connection when it is returned. Connections idle for a while are pinged
//! before use (see `postgres.rs`), so ones that outlived a restart are replaced
//! rather than failing a request once the database is back.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use tokio::sync::{MutexGuard, Semaphore, SemaphorePermit};

use crate::error::StoreError;

/// How long a request may queue for a busy pool; the acquire timeout sqlx had for
/// everything before the waits were split.
pub const BUSY_WAIT: Duration = Duration::from_secs(10);

/// While the database is unreachable, one request tries it this often. Short, so
/// service resumes within a fraction of a second of the database; each try costs
/// one refused connect.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

pub(crate) struct Gate {
    slots: Semaphore,
    breaker: Breaker,
}

/// A pooled connection with the slot it was taken under.
pub(crate) struct Conn<'a, DB: Database> {
    // Dropped first: the connection goes back to the pool before the slot frees.
    conn: Taken<'a, DB>,
    _slot: Option<SemaphorePermit<'a>>,
}

/// How a connection was taken: from its pool, or the one kept out of it
/// (SQLite's writer, see `SqlStore::writer`).
enum Taken<'a, DB: Database> {
    Pooled(PoolConnection<DB>),
    Kept(MutexGuard<'a, Option<PoolConnection<DB>>>),
}

impl<'a, DB: Database> Conn<'a, DB> {
    /// A connection taken straight from the pool (SQLite: one local file, nothing to
    /// be unreachable).
    pub(crate) fn ungated(conn: PoolConnection<DB>) -> Self {
        Conn {
            conn: Taken::Pooled(conn),
            _slot: None,
        }
    }

    /// The connection kept in `kept` (taken from `pool` when there is none yet),
    /// held until this is dropped.
    pub(crate) async fn kept(
        kept: &'a tokio::sync::Mutex<Option<PoolConnection<DB>>>,
        pool: &Pool<DB>,
    ) -> Result<Self, StoreError> {
        let mut kept = kept.lock().await;
        if kept.is_none() {
            *kept = Some(pool.acquire().await?);
        }
        Ok(Conn {
            conn: Taken::Kept(kept),
            _slot: None,
        })
    }

    /// Closes the connection when dropped instead of returning it to the pool
    /// (or keeping it). After a transaction failed, the driver's idea of the
    /// connection may no longer be the database's: when SQLite rolls a
    /// transaction back by itself (a full disk), sqlx-sqlite's `ROLLBACK` fails
    /// and its transaction depth stays up, so every later `BEGIN IMMEDIATE` on
    /// that connection is refused. A fresh connection starts clean; closing one
    /// rolls back whatever it left.
    pub(crate) fn discard(&mut self) {
        match &mut self.conn {
            Taken::Pooled(conn) => conn.close_on_drop(),
            Taken::Kept(kept) => {
                if let Some(mut conn) = kept.take() {
                    conn.close_on_drop();
                }
            }
        }
    }
}

impl<DB: Database> Deref for Conn<'_, DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        match &self.conn {
            Taken::Pooled(conn) => conn,
            Taken::Kept(kept) => kept.as_ref().expect("discarded connections are not used"),
        }
    }
}

impl<DB: Database> DerefMut for Conn<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match &mut self.conn {
            Taken::Pooled(conn) => conn,
            Taken::Kept(kept) => kept.as_mut().expect("discarded connections are not used"),
        }
    }
}

impl Gate {
    /// A gate for a pool of `size` connections.
    pub(crate) fn new(size: u32) -> Self {
        Gate {
            slots: Semaphore::new(size.max(1) as usize),
            breaker: Breaker::default(),
        }
    }

    pub(crate) async fn acquire<'a, DB: Database>(
        &'a self,
        pool: &Pool<DB>,
    ) -> Result<Conn<'a, DB>, StoreError> {
        let admitted = self.breaker.admit()?;
        let slot = tokio::time::timeout(BUSY_WAIT, self.slots.acquire())
            .await
            .map_err(|_| StoreError::Unavailable(sqlx::Error::PoolTimedOut))?
            .expect("the slots semaphore is never closed");
        // The breaker may have opened while this request queued; the probe goes on.
        if admitted == Admitted::Closed && self.breaker.is_open() {
            return Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut));
        }
        match pool.acquire().await {
            Ok(conn) => {
                self.breaker.close();
                Ok(Conn {
                    conn: Taken::Pooled(conn),
                    _slot: Some(slot),
                })
            }
            Err(e) => {
                let e = StoreError::from(e);
                if e.is_unavailable() {
                    self.breaker.open(&e);
                }
                Err(e)
            }
        }
    }
}

/// How a request got past the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admitted {
    /// The database answers.
    Closed,
    /// The breaker is open and this request is the one that tries the database.
    Probe,
}

/// Open while the database is believed unreachable.
#[derive(Default)]
struct Breaker {
    /// Read on every acquire; the lock below is taken only while open.
    open: AtomicBool,
    /// While open: when the next request may try the database.
    retry_at: Mutex<Option<Instant>>,
}

impl Breaker {
    /// Lets a request through when closed, or as the one probe of this interval.
    fn admit(&self) -> Result<Admitted, StoreError> {
        if !self.is_open() {
            return Ok(Admitted::Closed);
        }
        let mut retry_at = self.retry_at.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match *retry_at {
            Some(at) if now < at => Err(StoreError::Unavailable(sqlx::Error::PoolTimedOut)),
            _ => {
                *retry_at = Some(now + PROBE_INTERVAL);
                Ok(Admitted::Probe)
            }
        }
    }

    fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    fn open(&self, cause: &StoreError) {
        *self.retry_at.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Instant::now() + PROBE_INTERVAL);
        if !self.open.swap(true, Ordering::AcqRel) {
            tracing::warn!(error = %cause, "the database cannot be reached; requests fail at once until it answers again");
        }
    }

    fn close(&self) {
        if self.is_open() && self.open.swap(false, Ordering::AcqRel) {
            tracing::info!("the database answers again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> StoreError {
        StoreError::Unavailable(sqlx::Error::PoolTimedOut)
    }

    #[test]
    fn an_open_breaker_refuses_at_once_then_lets_one_probe_through() {
        let b = Breaker::default();
        assert_eq!(
            b.admit().unwrap(),
            Admitted::Closed,
            "closed: everyone passes"
        );
        b.open(&unreachable());
        assert!(b.admit().unwrap_err().is_unavailable());
        *b.retry_at.lock().unwrap() = Some(Instant::now());
        assert_eq!(b.admit().unwrap(), Admitted::Probe, "the interval passed");
        assert!(b.admit().is_err(), "only one probe per interval");
        b.close();
        assert_eq!(b.admit().unwrap(), Admitted::Closed, "closed again");
    }

    #[tokio::test]
    async fn a_pool_that_cannot_connect_opens_the_breaker() {
        // Nothing listens on a port just bound and released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(200))
            .connect_lazy(&format!("postgres://nobody@127.0.0.1:{port}/none"))
            .unwrap();
        let gate = Gate::new(2);
        let started = Instant::now();
        let first = gate.acquire(&pool).await.err().expect("nothing listens");
        assert!(first.is_unavailable(), "{first}");
        assert!(started.elapsed() < Duration::from_secs(1));
        let again = Instant::now();
        let second = gate.acquire(&pool).await.err().expect("still nothing");
        assert!(second.is_unavailable(), "{second}");
        assert!(
            again.elapsed() < Duration::from_millis(50),
            "the open breaker answers without trying: {:?}",
            again.elapsed()
        );
        // The interval passed: the next request really tries the database.
        *gate.breaker.retry_at.lock().unwrap() = Some(Instant::now());
        let probe = Instant::now();
        let third = gate.acquire(&pool).await.err().expect("still nothing");
        assert!(third.is_unavailable(), "{third}");
        assert!(
            probe.elapsed() >= Duration::from_millis(150),
            "the probe tried to connect: {:?}",
            probe.elapsed()
        );
    }
}
