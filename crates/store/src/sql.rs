//! SQL shared by both backends. Statements are built once here with a dialect for
//! the few spots where SQLite and PostgreSQL differ (placeholders, JSON access), so
//! the two implementations cannot drift apart in what they select.

use osmosis_model::{Element, ElementState, ElementType};
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::StoreError;
use crate::query::{ElementQuery, RefFilter};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Where the SQL of the two backends differs.
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    /// Text that may be SQL `NULL`.
    NullableText(Option<String>),
    Int(i64),
}

pub(crate) const COLUMNS: &str = "seq, id, workspace_id, element_type, key, uuid, name, integration_id, parent_id, \
     connection_id, instance_key, customer_id, revision, state, archived_at, created_at, updated_at, doc";

/// A statement under construction: SQL text plus its arguments in order.
pub(crate) struct Statement {
    dialect: Dialect,
    pub sql: String,
    pub args: Vec<Arg>,
}

impl Statement {
    pub fn new(dialect: Dialect, sql: &str) -> Self {
        Statement {
            dialect,
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends a placeholder for `arg`.
    pub fn bind(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        match self.dialect {
            Dialect::Sqlite => self.sql.push('?'),
            Dialect::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.args.len().to_string());
            }
        }
        self
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    fn ref_filter(&mut self, column: &str, filter: &RefFilter) {
        match filter {
            RefFilter::Any => {}
            RefFilter::None => {
                self.push(&format!(" AND {column} = ''"));
            }
            RefFilter::Some => {
                self.push(&format!(" AND {column} <> ''"));
            }
            RefFilter::Is(v) => {
                self.push(&format!(" AND {column} = "))
                    .bind(Arg::Text(v.clone()));
            }
        }
    }
}

pub(crate) fn find(dialect: Dialect, q: &ElementQuery) -> Statement {
    let mut s = Statement::new(
        dialect,
        &format!("SELECT {COLUMNS} FROM elements WHERE workspace_id = "),
    );
    s.bind(Arg::Text(q.workspace_id.clone()));
    s.push(" AND element_type = ")
        .bind(Arg::Text(q.element_type.name().to_string()));
    if let Some(id) = &q.id {
        s.push(" AND id = ").bind(Arg::Text(id.clone()));
    }
    if let Some(key) = &q.key {
        s.push(" AND key = ").bind(Arg::Text(key.clone()));
    }
    if let Some(uuid) = &q.uuid {
        s.push(" AND uuid = ").bind(Arg::Text(uuid.clone()));
    }
    s.ref_filter("integration_id", &q.integration);
    s.ref_filter("parent_id", &q.parent);
    s.ref_filter("connection_id", &q.connection);
    s.ref_filter("instance_key", &q.instance_key);
    s.ref_filter("customer_id", &q.customer);
    if !q.include_archived {
        s.push(" AND archived_at IS NULL");
    }
    if let Some(search) = &q.search {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        s.push(" AND (lower(name) LIKE ")
            .bind(Arg::Text(pattern.clone()));
        s.push(" ESCAPE '\\' OR lower(coalesce(key, '')) LIKE ")
            .bind(Arg::Text(pattern));
        s.push(" ESCAPE '\\')");
    }
    for (field, value) in &q.doc_equals {
        // A missing boolean flag reads as false, as the API renders it.
        let missing = if value == &serde_json::Value::Bool(false) {
            "false"
        } else {
            "null"
        };
        match dialect {
            Dialect::Sqlite => {
                s.push(" AND coalesce(doc -> ")
                    .bind(Arg::Text(format!("$.\"{field}\"")));
                s.push(&format!(", '{missing}') = "))
                    .bind(Arg::Text(value.to_string()));
            }
            Dialect::Postgres => {
                s.push(" AND coalesce(doc::jsonb -> ")
                    .bind(Arg::Text(field.clone()));
                s.push(&format!(", '{missing}'::jsonb) = "))
                    .bind(Arg::Text(value.to_string()))
                    .push("::jsonb");
            }
        }
    }
    if q.id.is_some() || q.key.is_some() || q.uuid.is_some() {
        // A lookup by identity matches a handful of rows at most: let the planner use
        // the identity indexes instead of walking `seq` order to find them.
        s.push(" LIMIT ").bind(Arg::Int(q.limit));
    } else {
        s.push(" AND seq > ").bind(Arg::Int(q.after_seq));
        s.push(" ORDER BY seq LIMIT ").bind(Arg::Int(q.limit));
    }
    s
}

pub(crate) fn insert(dialect: Dialect, e: &Element, key_scope: &str) -> Statement {
    let columns = row_columns(e, key_scope);
    let names: Vec<&str> = columns.iter().map(|(n, _)| *n).collect();
    let mut s = Statement::new(
        dialect,
        &format!("INSERT INTO elements ({}) VALUES (", names.join(", ")),
    );
    for (i, (_, arg)) in columns.into_iter().enumerate() {
        if i > 0 {
            s.push(", ");
        }
        s.bind(arg);
    }
    s.push(") RETURNING seq");
    s
}

/// Columns an update never changes: identity and creation time.
const IMMUTABLE: [&str; 4] = ["id", "workspace_id", "element_type", "created_at"];

pub(crate) fn update(
    dialect: Dialect,
    e: &Element,
    key_scope: &str,
    expected_revision: &str,
) -> Statement {
    let mut s = Statement::new(dialect, "UPDATE elements SET ");
    let columns = row_columns(e, key_scope)
        .into_iter()
        .filter(|(n, _)| !IMMUTABLE.contains(n));
    for (i, (name, arg)) in columns.enumerate() {
        if i > 0 {
            s.push(", ");
        }
        s.push(name).push(" = ").bind(arg);
    }
    s.push(" WHERE workspace_id = ")
        .bind(Arg::Text(e.workspace_id.clone()));
    s.push(" AND id = ").bind(Arg::Text(e.id.clone()));
    s.push(" AND revision = ")
        .bind(Arg::Text(expected_revision.to_string()));
    s
}

/// Every stored column of an element with its value.
fn row_columns(e: &Element, key_scope: &str) -> Vec<(&'static str, Arg)> {
    let text = |v: &str| Arg::Text(v.to_string());
    let opt = |v: &Option<String>| Arg::Text(v.clone().unwrap_or_default());
    vec![
        ("id", text(&e.id)),
        ("workspace_id", text(&e.workspace_id)),
        ("element_type", text(e.element_type.name())),
        ("key", Arg::NullableText(e.key.clone())),
        ("key_scope", text(key_scope)),
        ("uuid", text(&e.uuid)),
        ("name", text(&e.name)),
        ("integration_id", opt(&e.integration_id)),
        ("parent_id", opt(&e.parent_id)),
        ("connection_id", opt(&e.connection_id)),
        ("instance_key", opt(&e.instance_key)),
        ("customer_id", opt(&e.customer_id)),
        ("revision", text(&e.revision)),
        ("state", text(e.state.as_str())),
        ("archived_at", Arg::NullableText(e.archived_at.clone())),
        ("created_at", text(&e.created_at)),
        ("updated_at", text(&e.updated_at)),
        (
            "doc",
            Arg::Text(serde_json::Value::Object(e.doc.clone()).to_string()),
        ),
    ]
}

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

/// Decodes a row selected with [`COLUMNS`], for either backend.
pub(crate) fn decode_element<'r, R>(row: &'r R) -> Result<Element, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let text =
        |name: &'r str| -> Result<String, StoreError> { Ok(row.try_get::<String, _>(name)?) };
    let type_name = text("element_type")?;
    let element_type = ElementType::from_name(&type_name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown element type `{type_name}`")))?;
    let state_name = text("state")?;
    let state = ElementState::parse(&state_name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown state `{state_name}`")))?;
    let doc: serde_json::Value = serde_json::from_str(&text("doc")?)
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

/// Attaches a statement's arguments to a query of any backend.
pub(crate) fn bind_all<'q, DB>(
    s: &'q Statement,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    &'q str: sqlx::Encode<'q, DB> + Type<DB>,
    Option<&'q str>: sqlx::Encode<'q, DB> + Type<DB>,
    i64: sqlx::Encode<'q, DB> + Type<DB>,
{
    let mut q = sqlx::query::<DB>(&s.sql);
    for arg in &s.args {
        q = match arg {
            Arg::Text(t) => q.bind(t.as_str()),
            Arg::NullableText(t) => q.bind(t.as_deref()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    q
}

pub(crate) const JOB_COLUMNS: &str =
    "id, workspace_id, kind, dedupe_key, payload, run_at, attempts, last_error";

/// Adds or moves the one pending job of its (kind, key).
pub(crate) fn schedule_job(dialect: Dialect, job: &crate::jobs::Job, now_ms: i64) -> Statement {
    let mut s = Statement::new(
        dialect,
        "INSERT INTO jobs (id, workspace_id, kind, dedupe_key, payload, run_at, attempts, created_at) VALUES (",
    );
    s.bind(Arg::Text(job.id.clone())).push(", ");
    s.bind(Arg::Text(job.workspace_id.clone())).push(", ");
    s.bind(Arg::Text(job.kind.clone())).push(", ");
    s.bind(Arg::Text(job.dedupe_key.clone())).push(", ");
    s.bind(Arg::Text(job.payload.to_string())).push(", ");
    s.bind(Arg::Int(job.run_at)).push(", 0, ");
    s.bind(Arg::Int(now_ms));
    s.push(
        ") ON CONFLICT (workspace_id, kind, dedupe_key) DO UPDATE SET payload = excluded.payload, \
         run_at = excluded.run_at, attempts = 0, last_error = NULL",
    );
    s
}

/// Claims up to `limit` due jobs that no live lease holds.
pub(crate) fn claim_jobs(
    dialect: Dialect,
    node: &str,
    lease: crate::jobs::Lease,
    limit: i64,
) -> Statement {
    let mut s = Statement::new(dialect, "UPDATE jobs SET locked_by = ");
    s.bind(Arg::Text(node.to_string()));
    s.push(", locked_until = ")
        .bind(Arg::Int(lease.now_ms + lease.duration_ms));
    s.push(", attempts = attempts + 1 WHERE id IN (SELECT id FROM jobs WHERE run_at <= ");
    s.bind(Arg::Int(lease.now_ms));
    s.push(" AND (locked_until IS NULL OR locked_until < ")
        .bind(Arg::Int(lease.now_ms));
    s.push(") ORDER BY run_at LIMIT ").bind(Arg::Int(limit));
    if dialect == Dialect::Postgres {
        // Concurrent claimers skip each other's rows instead of waiting or doubling up.
        s.push(" FOR UPDATE SKIP LOCKED");
    }
    s.push(&format!(") RETURNING {JOB_COLUMNS}"));
    s
}

/// Deletes a finished job — unless it was rescheduled while it ran, in which case
/// only the claim is released so the new run happens.
pub(crate) fn finish_job(dialect: Dialect, job: &crate::jobs::Job, node: &str) -> [Statement; 2] {
    let mut del = Statement::new(dialect, "DELETE FROM jobs WHERE id = ");
    del.bind(Arg::Text(job.id.clone()));
    del.push(" AND locked_by = ")
        .bind(Arg::Text(node.to_string()));
    del.push(" AND run_at = ").bind(Arg::Int(job.run_at));
    let mut release = Statement::new(
        dialect,
        "UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = ",
    );
    release.bind(Arg::Text(job.id.clone()));
    release
        .push(" AND locked_by = ")
        .bind(Arg::Text(node.to_string()));
    [del, release]
}

/// Puts a failed job back for a later attempt.
pub(crate) fn retry_job(
    dialect: Dialect,
    job: &crate::jobs::Job,
    node: &str,
    run_at: i64,
    error: &str,
) -> Statement {
    let mut s = Statement::new(
        dialect,
        "UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ",
    );
    s.bind(Arg::Int(run_at));
    s.push(", last_error = ").bind(Arg::Text(error.to_string()));
    s.push(" WHERE id = ").bind(Arg::Text(job.id.clone()));
    s.push(" AND locked_by = ")
        .bind(Arg::Text(node.to_string()));
    s
}

pub(crate) fn decode_job<'r, R>(row: &'r R) -> Result<crate::jobs::Job, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let payload: String = row.try_get("payload")?;
    Ok(crate::jobs::Job {
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        kind: row.try_get("kind")?,
        dedupe_key: row.try_get("dedupe_key")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
        run_at: row.try_get("run_at")?,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
    })
}
