//! Retention of the log tables: rows older than a cutoff are deleted, except
//! those still being worked on, whatever their age. One statement shape for every
//! log's purge (incoming webhooks, app events, external event records and pulls,
//! action runs, external API logs); flow runs keep their own, as their node runs
//! go with them in one transaction.

use sqlx::QueryBuilder;

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// What a log table keeps.
pub(crate) struct Retention {
    pub table: &'static str,
    /// The column holding a row's time, in milliseconds.
    pub time: &'static str,
    /// A condition on rows still being worked on (kept whatever their age).
    pub in_work: Option<&'static str>,
}

for_each_backend! {
    impl SqlStore<DB> {
        /// Deletes the rows of each table in `tables` older than `before_ms` and
        /// not in work; answers how many went.
        pub(crate) async fn purge_older(
            &self,
            tables: &[Retention],
            before_ms: i64,
        ) -> Result<u64, StoreError> {
            let mut conn = self.writer().await?;
            let mut deleted = 0;
            for t in tables {
                let mut q = QueryBuilder::<DB>::new(format!(
                    "DELETE FROM {} WHERE {} < ",
                    t.table, t.time
                ));
                q.push_bind(before_ms);
                if let Some(in_work) = t.in_work {
                    q.push(format!(" AND NOT ({in_work})"));
                }
                deleted += q.build().execute(&mut *conn).await?.rows_affected();
            }
            Ok(deleted)
        }
    }
}
