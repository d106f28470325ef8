//! Data links: which external record is which app record, per data link table
//! instance and direction (docs/spec/semantics.md §5.3). A table of their own rather
//! than elements: they are written at the rate records sync, looked up by record id
//! in either column, and carry no document, revision or layer.
//!
//! A link has one direction here, `import` or `export`; a link made both ways is
//! two rows (the engine writes both in one call, so they are made together). Within
//! an instance and a direction each app record and each external record is in at
//! most one link: a new link replaces the older link of either of its records, so a
//! sync always finds one answer to "which of their records is this one of mine".
//! The two unique indexes of the migration hold that across nodes.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// One link in one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct DataLink {
    /// Insertion order; the list cursor. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    /// The data link table instance element.
    pub instance_id: String,
    pub external_record_id: String,
    pub app_record_id: String,
    /// `import` or `export`.
    pub direction: String,
    /// ISO 8601, as the API writes times.
    pub created_at: String,
}

/// Which links of one instance to list, in `seq` order from after the cursor.
/// Every filter is an equality.
#[derive(Debug, Clone, Default)]
pub struct DataLinkQuery {
    pub workspace_id: String,
    pub instance_id: String,
    pub direction: Option<String>,
    pub app_record_id: Option<String>,
    pub external_record_id: Option<String>,
    pub cursor: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait DataLinkStore: Send + Sync + 'static {
    /// Stores `links` in one transaction, each replacing the links its app record
    /// and its external record had in its instance and direction. A link that is
    /// already stored stays as it is (its id and position too), so repeating a
    /// write changes nothing. Answers the links as stored, in the order given.
    async fn put_data_links(&self, links: &[DataLink]) -> Result<Vec<DataLink>, StoreError>;

    /// Links matching `query`.
    async fn find_data_links(&self, query: &DataLinkQuery) -> Result<Vec<DataLink>, StoreError>;

    /// Deletes the link between these two records of an instance in each of
    /// `directions`; answers how many there were.
    async fn delete_data_links(
        &self,
        workspace_id: &str,
        instance_id: &str,
        app_record_id: &str,
        external_record_id: &str,
        directions: &[&str],
    ) -> Result<u64, StoreError>;
}

const COLUMNS: &str =
    "seq, id, workspace_id, instance_id, external_record_id, app_record_id, direction, created_at";

/// How many times a write is tried again after a transient failure before it
/// gives up (see [`LinkLock`]: with the lock, a write does not lose races).
const ATTEMPTS: usize = 5;

/// What a write takes first so that writers of one instance go one at a time.
/// Without it two nodes on PostgreSQL could each delete what is in their way and
/// then insert links that conflict: under a burst of writers on the same records
/// retrying does not settle (the store's test of racing writers saw it). SQLite has
/// one writer already.
trait LinkLock {
    /// A statement taking a lock held to the end of the transaction, bound to the
    /// instance id.
    const LOCK: Option<&'static str>;
}

impl LinkLock for sqlx::Sqlite {
    const LOCK: Option<&'static str> = None;
}

impl LinkLock for sqlx::Postgres {
    const LOCK: Option<&'static str> =
        Some("SELECT pg_advisory_xact_lock(hashtextextended('data_links:' || $1, 0))");
}

/// Errors after which the whole transaction may simply be tried again: PostgreSQL's
/// deadlock (two writers replacing each other's links) and serialization failures.
fn is_transient(err: &StoreError) -> bool {
    match err {
        StoreError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
        }
        _ => false,
    }
}

for_each_backend! {
    #[async_trait]
    impl DataLinkStore for SqlStore<DB> {
        /// Each attempt takes the instance's [`LinkLock`], then per link deletes the
        /// links in the way, inserts (nothing when the link is there already) and
        /// reads the link back. Should the read find no such link all the same, the
        /// attempt is rolled back and made again rather than answer a link that is
        /// not stored.
        async fn put_data_links(&self, links: &[DataLink]) -> Result<Vec<DataLink>, StoreError> {
            if links.is_empty() {
                return Ok(Vec::new());
            }
            let mut conn = self.writer().await?;
            let put = async {
                for _ in 0..ATTEMPTS {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    match put_all(&mut tx, links).await {
                        Ok(Some(stored)) => {
                            tx.commit().await?;
                            return Ok(stored);
                        }
                        Ok(None) => tx.rollback().await?,
                        Err(e) if is_transient(&e) => tx.rollback().await?,
                        Err(e) => return Err(e),
                    }
                }
                Err(StoreError::RevisionConflict)
            }
            .await;
            // A failed transaction's connection is not reused (see `Conn::discard`).
            if put.as_ref().is_err_and(|e| !matches!(e, StoreError::RevisionConflict)) {
                conn.discard();
            }
            put
        }

        async fn find_data_links(
            &self,
            query: &DataLinkQuery,
        ) -> Result<Vec<DataLink>, StoreError> {
            let rows = find(query)
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(decode).collect()
        }

        async fn delete_data_links(
            &self,
            workspace_id: &str,
            instance_id: &str,
            app_record_id: &str,
            external_record_id: &str,
            directions: &[&str],
        ) -> Result<u64, StoreError> {
            if directions.is_empty() {
                return Ok(0);
            }
            let mut q = QueryBuilder::<DB>::new("DELETE FROM data_links WHERE workspace_id = ");
            q.push_bind(workspace_id);
            q.push(" AND instance_id = ").push_bind(instance_id);
            q.push(" AND app_record_id = ").push_bind(app_record_id);
            q.push(" AND external_record_id = ").push_bind(external_record_id);
            q.push(" AND direction IN (");
            let mut list = q.separated(", ");
            for d in directions {
                list.push_bind(*d);
            }
            q.push(")");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected())
        }
    }

    /// One attempt of [`DataLinkStore::put_data_links`] inside its transaction:
    /// `None` when another writer took one of the records meanwhile.
    async fn put_all(
        tx: &mut <DB as sqlx::Database>::Connection,
        links: &[DataLink],
    ) -> Result<Option<Vec<DataLink>>, StoreError> {
        if let Some(lock) = <DB as LinkLock>::LOCK {
            let mut instances: Vec<&str> = links.iter().map(|l| l.instance_id.as_str()).collect();
            // One order for every writer, so two never wait for each other's lock.
            instances.sort_unstable();
            instances.dedup();
            for instance in instances {
                sqlx::query(lock).bind(instance).execute(&mut *tx).await?;
            }
        }
        let mut stored = Vec::with_capacity(links.len());
        for link in links {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM data_links WHERE ");
            push_place(&mut q, link);
            q.push(" AND (app_record_id = ").push_bind(&link.app_record_id);
            q.push(" OR external_record_id = ").push_bind(&link.external_record_id);
            q.push(") AND NOT (app_record_id = ").push_bind(&link.app_record_id);
            q.push(" AND external_record_id = ").push_bind(&link.external_record_id);
            q.push(")");
            q.build().execute(&mut *tx).await?;

            let mut q = QueryBuilder::<DB>::new(
                "INSERT INTO data_links (id, workspace_id, instance_id, external_record_id, \
                 app_record_id, direction, created_at) VALUES (",
            );
            let mut values = q.separated(", ");
            values
                .push_bind(&link.id)
                .push_bind(&link.workspace_id)
                .push_bind(&link.instance_id)
                .push_bind(&link.external_record_id)
                .push_bind(&link.app_record_id)
                .push_bind(&link.direction)
                .push_bind(&link.created_at);
            q.push(") ON CONFLICT DO NOTHING");
            q.build().execute(&mut *tx).await?;

            let mut q = QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM data_links WHERE "));
            push_place(&mut q, link);
            q.push(" AND app_record_id = ").push_bind(&link.app_record_id);
            q.push(" AND external_record_id = ").push_bind(&link.external_record_id);
            let rows = q.build().fetch_all(&mut *tx).await?;
            match rows.first() {
                Some(row) => stored.push(decode(row)?),
                None => return Ok(None),
            }
        }
        Ok(Some(stored))
    }

    /// `workspace_id = … AND instance_id = … AND direction = …` of a link.
    fn push_place<'a>(q: &mut QueryBuilder<'a, DB>, link: &'a DataLink) {
        q.push("workspace_id = ").push_bind(&link.workspace_id);
        q.push(" AND instance_id = ").push_bind(&link.instance_id);
        q.push(" AND direction = ").push_bind(&link.direction);
    }

    fn find(q: &DataLinkQuery) -> QueryBuilder<'_, DB> {
        let mut s = QueryBuilder::<DB>::new(format!(
            "SELECT {COLUMNS} FROM data_links WHERE workspace_id = "
        ));
        s.push_bind(&q.workspace_id);
        s.push(" AND instance_id = ").push_bind(&q.instance_id);
        for (column, value) in [
            ("direction", &q.direction),
            ("app_record_id", &q.app_record_id),
            ("external_record_id", &q.external_record_id),
        ] {
            if let Some(v) = value {
                s.push(format!(" AND {column} = ")).push_bind(v);
            }
        }
        if let Some(cursor) = q.cursor {
            s.push(" AND seq > ").push_bind(cursor);
        }
        s.push(" ORDER BY seq LIMIT ").push_bind(q.limit);
        s
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<DataLink, StoreError> {
        Ok(DataLink {
            seq: row.try_get("seq")?,
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            instance_id: row.try_get("instance_id")?,
            external_record_id: row.try_get("external_record_id")?,
            app_record_id: row.try_get("app_record_id")?,
            direction: row.try_get("direction")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
