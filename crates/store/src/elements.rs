//! Elements: every workspace element of every type in one table, envelope columns
//! beside the type's document. The store checks what the database must enforce
//! across nodes (uniqueness, the revision compare-and-swap); what to write is the
//! engine's business.

use async_trait::async_trait;
use osmosis_model::{Element, ElementState, ElementType};
use sqlx::{QueryBuilder, Row};

use crate::constraints::classify_unique;
use crate::error::StoreError;
use crate::query::{ElementQuery, RefFilter};
use crate::sql_store::{for_each_backend, write_transaction, Backend, SqlStore};

#[async_trait]
pub trait ElementStore: Send + Sync + 'static {
    /// Inserts a new element and returns its `seq`. Fails with
    /// [`StoreError::Unique`] when its id, uuid or (scope, key) is taken.
    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError>;

    /// Replaces an element's row if its stored revision is still `expected_revision`;
    /// otherwise [`StoreError::RevisionConflict`] and nothing changes.
    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected_revision: &str,
    ) -> Result<(), StoreError>;

    /// Writes every one of `writes`, in order, in one transaction: all of them,
    /// or — at the first that fails as [`ElementStore::insert_element`] or
    /// [`ElementStore::update_element`] would — none. Answers each write's `seq`
    /// (an update's is the element's own). For changes that must land together,
    /// such as a workspace import.
    async fn write_elements(&self, writes: &[ElementWrite]) -> Result<Vec<i64>, BatchWriteError>;

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError>;

    /// Elements matching `query`, in `seq` order, at most `query.limit`.
    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError>;

    /// How many elements match `query` (its limit and cursor ignored): the
    /// console's counts. The default pages through [`Self::find_elements`]; the
    /// SQL store counts in the database.
    async fn count_elements(&self, query: &ElementQuery) -> Result<i64, StoreError> {
        let mut page = query.clone();
        page.limit = 1000;
        page.after_seq = 0;
        let mut count = 0;
        loop {
            let found = self.find_elements(&page).await?;
            count += found.len() as i64;
            match found.last() {
                Some(last) if found.len() as i64 == page.limit => page.after_seq = last.seq,
                _ => return Ok(count),
            }
        }
    }

    /// The first element matching `query` (in `seq` order), if any: the query
    /// with a limit of one.
    async fn first_element(&self, mut query: ElementQuery) -> Result<Option<Element>, StoreError> {
        query.limit = 1;
        Ok(self.find_elements(&query).await?.into_iter().next())
    }

    /// Those of `ids` in the workspace that are archived, as the database holds
    /// them now: never answered from a cache, since it is the check that must see
    /// another node's archive the moment it committed (a cache hears of it a
    /// moment later).
    async fn archived_among(
        &self,
        workspace_id: &str,
        ids: &[&str],
    ) -> Result<Vec<Element>, StoreError>;

    /// Where this store answers from memory ([`crate::cache`]): what its answers
    /// about elements of type `t` in the workspace are valid for now. A value
    /// derived from those answers stays current while this is unchanged; on a
    /// shared database, as long as the cache's own answers do. `None` where
    /// nothing is kept in memory, or nothing may be now: derive afresh.
    fn generation(&self, _workspace_id: &str, _t: ElementType) -> Option<(u64, u64)> {
        None
    }
}

/// One write of [`ElementStore::write_elements`]: a new element (no expected
/// revision) or a change of a stored one, made from the revision it expects.
#[derive(Debug, Clone)]
pub struct ElementWrite {
    pub element: Element,
    pub key_scope: String,
    pub expected_revision: Option<String>,
}

/// Why a batch of element writes was not written (none of it was).
#[derive(Debug)]
pub struct BatchWriteError {
    /// The write that failed; `None` when the transaction itself did.
    pub index: Option<usize>,
    pub error: StoreError,
}

const COLUMNS: &str = "seq, id, workspace_id, element_type, key, uuid, name, integration_id, \
     parent_id, connection_id, instance_key, customer_id, revision, state, archived_at, \
     created_at, updated_at, doc";

/// Columns an update never changes: identity and creation time.
const IMMUTABLE: [&str; 4] = ["id", "workspace_id", "element_type", "created_at"];

/// Every written column of an element with its value, for insert and update alike.
/// Optional references are stored as `''` rather than `NULL` (see the migrations);
/// `doc` is the document as JSON text.
fn row<'a>(
    e: &'a Element,
    key_scope: &'a str,
    doc: &'a str,
) -> [(&'static str, Option<&'a str>); 18] {
    let reference = |v: &'a Option<String>| Some(v.as_deref().unwrap_or_default());
    [
        ("id", Some(&e.id)),
        ("workspace_id", Some(&e.workspace_id)),
        ("element_type", Some(e.element_type.name())),
        ("key", e.key.as_deref()),
        ("key_scope", Some(key_scope)),
        ("uuid", Some(&e.uuid)),
        ("name", Some(&e.name)),
        ("integration_id", reference(&e.integration_id)),
        ("parent_id", reference(&e.parent_id)),
        ("connection_id", reference(&e.connection_id)),
        ("instance_key", reference(&e.instance_key)),
        ("customer_id", reference(&e.customer_id)),
        ("revision", Some(&e.revision)),
        ("state", Some(e.state.as_str())),
        ("archived_at", e.archived_at.as_deref()),
        ("created_at", Some(&e.created_at)),
        ("updated_at", Some(&e.updated_at)),
        ("doc", Some(doc)),
    ]
}

fn doc_text(e: &Element) -> String {
    serde_json::to_string(&e.doc).expect("a JSON map serialises")
}

/// `s` with LIKE's wildcards and escape character escaped by `\`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn none_if_empty(s: String) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

for_each_backend! {
    /// Tells the other nodes, with the write's transaction, that `e` changed
    /// (see [`Backend::ELEMENT_CHANNEL`]): the notice goes out when it commits,
    /// and never for a write that rolled back.
    async fn announce(
        tx: &mut <DB as sqlx::Database>::Connection,
        e: &Element,
    ) -> Result<(), StoreError> {
        if let Some(channel) = <DB as Backend>::ELEMENT_CHANNEL {
            sqlx::query("SELECT count(*) FROM (SELECT pg_notify($1, $2)) AS sent")
                .bind(channel)
                .bind(crate::cache_listener::payload(e))
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// `INSERT` of a new element's row, answering its `seq`.
    fn insert_query<'a>(e: &'a Element, key_scope: &'a str, doc: &'a str) -> QueryBuilder<'a, DB> {
        let row = row(e, key_scope, doc);
        let names: Vec<&str> = row.iter().map(|(name, _)| *name).collect();
        let mut q = QueryBuilder::<DB>::new(format!(
            "INSERT INTO elements ({}) VALUES (",
            names.join(", ")
        ));
        let mut values = q.separated(", ");
        for (_, value) in row {
            values.push_bind(value);
        }
        q.push(") RETURNING seq");
        q
    }

    /// `UPDATE` of a stored element's row, if its revision is still `expected`.
    fn update_query<'a>(
        e: &'a Element,
        key_scope: &'a str,
        doc: &'a str,
        expected: &'a str,
    ) -> QueryBuilder<'a, DB> {
        let mut q = QueryBuilder::<DB>::new("UPDATE elements SET ");
        let mut set = q.separated(", ");
        for (name, value) in row(e, key_scope, doc) {
            if !IMMUTABLE.contains(&name) {
                set.push(format!("{name} = ")).push_bind_unseparated(value);
            }
        }
        q.push(" WHERE workspace_id = ").push_bind(&e.workspace_id);
        q.push(" AND id = ").push_bind(&e.id);
        q.push(" AND revision = ").push_bind(expected);
        q
    }

    /// The `seq` an insert answered.
    fn seq_of(rows: Vec<<DB as sqlx::Database>::Row>) -> Result<i64, StoreError> {
        let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
        Ok(row.try_get("seq")?)
    }

    /// An update that changed no row lost its compare-and-swap.
    fn updated(done: <DB as sqlx::Database>::QueryResult) -> Result<(), StoreError> {
        if done.rows_affected() == 0 {
            Err(StoreError::RevisionConflict)
        } else {
            Ok(())
        }
    }

    #[async_trait]
    impl ElementStore for SqlStore<DB> {
        async fn insert_element(&self, e: &Element, key_scope: &str) -> Result<i64, StoreError> {
            let doc = doc_text(e);
            let mut q = insert_query(e, key_scope, &doc);
            let mut conn = self.writer().await?;
            if <DB as Backend>::ELEMENT_CHANNEL.is_none() {
                // Nothing to announce: one statement, no transaction around it (on
                // SQLite a failed statement inside one, a full disk's, may roll it
                // back behind the driver's back).
                return seq_of(q.build().fetch_all(&mut *conn).await.map_err(classify_unique)?);
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            let seq = seq_of(q.build().fetch_all(&mut *tx).await.map_err(classify_unique)?)?;
            announce(&mut tx, e).await?;
            tx.commit().await?;
            Ok(seq)
        }

        async fn update_element(
            &self,
            e: &Element,
            key_scope: &str,
            expected: &str,
        ) -> Result<(), StoreError> {
            let doc = doc_text(e);
            let mut q = update_query(e, key_scope, &doc, expected);
            let mut conn = self.writer().await?;
            if <DB as Backend>::ELEMENT_CHANNEL.is_none() {
                return updated(q.build().execute(&mut *conn).await.map_err(classify_unique)?);
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            updated(q.build().execute(&mut *tx).await.map_err(classify_unique)?)?;
            announce(&mut tx, e).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn write_elements(
            &self,
            writes: &[ElementWrite],
        ) -> Result<Vec<i64>, BatchWriteError> {
            let docs: Vec<String> = writes.iter().map(|w| doc_text(&w.element)).collect();
            let mut at = None;
            let done = async { write_transaction!(self, |tx| {
                let mut seqs = Vec::with_capacity(writes.len());
                for (i, (w, doc)) in writes.iter().zip(&docs).enumerate() {
                    at = Some(i);
                    let e = &w.element;
                    match &w.expected_revision {
                        None => {
                            let rows = insert_query(e, &w.key_scope, doc)
                                .build()
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(classify_unique)?;
                            seqs.push(seq_of(rows)?);
                        }
                        Some(expected) => {
                            let done = update_query(e, &w.key_scope, doc, expected)
                                .build()
                                .execute(&mut *tx)
                                .await
                                .map_err(classify_unique)?;
                            updated(done)?;
                            seqs.push(e.seq);
                        }
                    }
                    announce(&mut tx, e).await?;
                }
                at = None;
                seqs
            }) }
            .await;
            done.map_err(|error| BatchWriteError { index: at, error })
        }

        async fn element_by_id(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<Element>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {COLUMNS} FROM elements WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND id = ").push_bind(id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
            let rows = find(query)
                .build()
                .fetch_all(&mut *self.reader().await?)
                .await?;
            rows.iter().map(decode).collect()
        }

        async fn count_elements(&self, query: &ElementQuery) -> Result<i64, StoreError> {
            let row = filtered(query, "COUNT(*)")
                .build()
                .fetch_one(&mut *self.reader().await?)
                .await?;
            Ok(row.try_get(0)?)
        }

        async fn archived_among(
            &self,
            workspace_id: &str,
            ids: &[&str],
        ) -> Result<Vec<Element>, StoreError> {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut q = QueryBuilder::<DB>::new(format!(
                "SELECT {COLUMNS} FROM elements WHERE workspace_id = "
            ));
            q.push_bind(workspace_id);
            q.push(" AND archived_at IS NOT NULL AND id IN (");
            let mut listed = q.separated(", ");
            for id in ids {
                listed.push_bind(*id);
            }
            q.push(")");
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode).collect()
        }
    }

    fn find(q: &ElementQuery) -> QueryBuilder<'_, DB> {
        let mut s = filtered(q, COLUMNS);
        if q.id.is_some() || q.key.is_some() || q.uuid.is_some() {
            // A lookup by identity matches a handful of rows at most: let the planner
            // use the identity indexes instead of walking `seq` order to find them.
            s.push(" LIMIT ").push_bind(q.limit);
        } else {
            s.push(" AND seq > ").push_bind(q.after_seq);
            s.push(" ORDER BY seq LIMIT ").push_bind(q.limit);
        }
        s
    }

    /// `SELECT {select} FROM elements WHERE` every filter of `q` (not its page).
    fn filtered<'a>(q: &'a ElementQuery, select: &str) -> QueryBuilder<'a, DB> {
        let mut s = QueryBuilder::<DB>::new(format!(
            "SELECT {select} FROM elements WHERE workspace_id = "
        ));
        s.push_bind(&q.workspace_id);
        s.push(" AND element_type = ")
            .push_bind(q.element_type.name());
        for (column, value) in [("id", &q.id), ("key", &q.key), ("uuid", &q.uuid)] {
            if let Some(v) = value {
                s.push(format!(" AND {column} = ")).push_bind(v);
            }
        }
        for (column, filter) in [
            ("integration_id", &q.integration),
            ("parent_id", &q.parent),
            ("connection_id", &q.connection),
            ("instance_key", &q.instance_key),
            ("customer_id", &q.customer),
        ] {
            match filter {
                RefFilter::Any => {}
                RefFilter::None => {
                    s.push(format!(" AND {column} = ''"));
                }
                RefFilter::Some => {
                    s.push(format!(" AND {column} <> ''"));
                }
                RefFilter::Is(v) => {
                    s.push(format!(" AND {column} = ")).push_bind(v);
                }
            }
        }
        if !q.include_archived {
            s.push(" AND archived_at IS NULL");
        }
        if let Some(search) = &q.search {
            let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
            s.push(" AND (lower(name) LIKE ").push_bind(pattern.clone());
            s.push(" ESCAPE '\\' OR lower(coalesce(key, '')) LIKE ")
                .push_bind(pattern);
            s.push(" ESCAPE '\\')");
        }
        for (field, value) in &q.doc_equals {
            // A missing boolean flag reads as false, as the API renders it.
            let missing = if value == &serde_json::Value::Bool(false) {
                "false"
            } else {
                "null"
            };
            DB::push_doc_equals(&mut s, field, value, missing);
        }
        s
    }

    /// Decodes a row selected with [`COLUMNS`].
    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<Element, StoreError> {
        let text =
            |name: &str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(name)?) };
        let type_name = text("element_type")?;
        let element_type = ElementType::from_name(&type_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown element type `{type_name}`")))?;
        let state_name = text("state")?;
        let state = ElementState::parse(&state_name)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown state `{state_name}`")))?;
        let doc: serde_json::Value = serde_json::from_str(row.try_get("doc")?)
            .map_err(|e| StoreError::Corrupt(format!("element document: {e}")))?;
        let serde_json::Value::Object(doc) = doc else {
            return Err(StoreError::Corrupt(
                "element document is not an object".into(),
            ));
        };
        Ok(Element {
            seq: row.try_get("seq")?,
            id: text("id")?,
            workspace_id: text("workspace_id")?,
            element_type,
            key: row.try_get("key")?,
            uuid: text("uuid")?,
            name: text("name")?,
            integration_id: none_if_empty(text("integration_id")?),
            parent_id: none_if_empty(text("parent_id")?),
            connection_id: none_if_empty(text("connection_id")?),
            instance_key: none_if_empty(text("instance_key")?),
            customer_id: none_if_empty(text("customer_id")?),
            revision: text("revision")?,
            state,
            archived_at: row.try_get("archived_at")?,
            created_at: text("created_at")?,
            updated_at: text("updated_at")?,
            doc,
        })
    }
}
