//! The database itself, apart from what it stores: whether it is shared, its schema
//! version, closing it.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, Backend, SqlStore};

#[async_trait]
pub trait Database: Send + Sync + 'static {
    /// Whether other nodes may write the same database (PostgreSQL). Node-local
    /// caches of mutable rows are only safe when this is false.
    fn is_shared(&self) -> bool;

    /// Closes the connections (at shutdown; tests dropping their database).
    async fn close(&self);

    /// The highest migration version this database has applied, and whether this
    /// binary knows it (a node must not run against a newer schema).
    async fn schema_version(&self) -> Result<i64, StoreError>;

    /// The read pool's connections now (the metrics' pool use).
    fn pool_use(&self) -> PoolUse;
}

/// A connection pool's use at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, in use or idle.
    pub open: u32,
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

for_each_backend! {
    #[async_trait]
    impl Database for SqlStore<DB> {
        fn is_shared(&self) -> bool {
            <DB as Backend>::SHARED
        }

        async fn close(&self) {
            self.pool.close().await;
            self.release_kept_writer().await;
            self.writer.close().await;
        }

        async fn schema_version(&self) -> Result<i64, StoreError> {
            self.applied_version().await
        }

        fn pool_use(&self) -> PoolUse {
            PoolUse {
                open: self.pool.size(),
                idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                max: self.pool.options().get_max_connections(),
            }
        }
    }
}
