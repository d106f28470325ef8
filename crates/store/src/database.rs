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
    }
}
