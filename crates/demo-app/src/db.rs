//! The demo app's own SQLite database: a table per resource (accounts, contacts,
//! companies, webhooks), each record a JSON document beside the columns it is found
//! by. Writes go through one connection (SQLite has one writer; a second would wait
//! or fail on a busy lock), reads through a small pool.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

use crate::resources::Kind;
use crate::DemoError;

/// The schema, created when missing. `PRAGMA user_version` records it for a later
/// version to migrate from.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS contacts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        doc TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS contacts_by_account ON contacts (account_id, seq)",
    "CREATE TABLE IF NOT EXISTS companies (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        doc TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS companies_by_account ON companies (account_id, seq)",
    "CREATE TABLE IF NOT EXISTS webhooks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        account_id TEXT NOT NULL,
        doc TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS webhooks_by_account ON webhooks (account_id, seq)",
    "PRAGMA user_version = 1",
];

/// An account: what a key opens.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl Account {
    pub(crate) fn to_json(&self) -> Value {
        serde_json::json!({"id": self.id, "name": self.name, "createdAt": self.created_at})
    }
}

/// What a list asks for, already checked.
pub(crate) struct ListQuery {
    /// `(field, value, any case)`.
    pub filters: Vec<(&'static str, String, bool)>,
    /// Lower case.
    pub search: Option<String>,
    /// The `seq` of the last record of the previous page.
    pub after: i64,
    pub limit: i64,
}

#[derive(Clone)]
pub(crate) struct Db {
    writer: SqlitePool,
    reader: SqlitePool,
}

pub(crate) type DbResult<T> = Result<T, sqlx::Error>;

impl Db {
    /// Opens (creating when missing) the database at `path`; its folder is made
    /// private (0700) when it has to be created, the file 0600.
    pub(crate) async fn open(path: &Path) -> Result<Db, DemoError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|source| DemoError::DataDir {
                path: dir.display().to_string(),
                source,
            })?;
        }
        create_private_file(path).map_err(|source| DemoError::DataDir {
            path: path.display().to_string(),
            source,
        })?;
        let failed = |source| DemoError::Database {
            path: path.display().to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(failed)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(failed)?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&writer)
                .await
                .map_err(failed)?;
        }
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(failed)?;
        Ok(Db { writer, reader })
    }

    pub(crate) async fn create_account(&self, account: &Account, key: &str) -> DbResult<()> {
        sqlx::query("INSERT INTO accounts (id, key_hash, name, created_at) VALUES (?, ?, ?, ?)")
            .bind(&account.id)
            .bind(key_hash(key))
            .bind(&account.name)
            .bind(&account.created_at)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    pub(crate) async fn account_by_key(&self, key: &str) -> DbResult<Option<Account>> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE key_hash = ?")
            .bind(key_hash(key))
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|row| Account {
            id: row.get("id"),
            name: row.get("name"),
            created_at: row.get("created_at"),
        }))
    }

    pub(crate) async fn insert(
        &self,
        table: &'static str,
        account: &str,
        record: &Map<String, Value>,
    ) -> DbResult<()> {
        let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
        sqlx::query(&format!(
            "INSERT INTO {table} (id, account_id, doc) VALUES (?, ?, ?)"
        ))
        .bind(id)
        .bind(account)
        .bind(Value::Object(record.clone()).to_string())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// The account's record `id` of `table`.
    pub(crate) async fn get(
        &self,
        table: &'static str,
        account: &str,
        id: &str,
    ) -> DbResult<Option<Map<String, Value>>> {
        let doc: Option<String> = sqlx::query_scalar(&format!(
            "SELECT doc FROM {table} WHERE account_id = ? AND id = ?"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(doc.and_then(|d| parse(&d)))
    }

    /// Applies `change` to the account's record `id` and stores the result, in one
    /// transaction; `None` when there is no such record.
    pub(crate) async fn update(
        &self,
        table: &'static str,
        account: &str,
        id: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> DbResult<Option<Map<String, Value>>> {
        let mut tx = self.writer.begin().await?;
        let doc: Option<String> = sqlx::query_scalar(&format!(
            "SELECT doc FROM {table} WHERE account_id = ? AND id = ?"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(mut record) = doc.and_then(|d| parse(&d)) else {
            return Ok(None);
        };
        change(&mut record);
        sqlx::query(&format!(
            "UPDATE {table} SET doc = ? WHERE account_id = ? AND id = ?"
        ))
        .bind(Value::Object(record.clone()).to_string())
        .bind(account)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(record))
    }

    /// Deletes the account's record `id`; the record as it was, if there was one.
    pub(crate) async fn delete(
        &self,
        table: &'static str,
        account: &str,
        id: &str,
    ) -> DbResult<Option<Map<String, Value>>> {
        let doc: Option<String> = sqlx::query_scalar(&format!(
            "DELETE FROM {table} WHERE account_id = ? AND id = ? RETURNING doc"
        ))
        .bind(account)
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(doc.and_then(|d| parse(&d)))
    }

    /// One page of the account's records of `kind`, in creation order, and the
    /// `seq` to continue after when there are more.
    pub(crate) async fn list(
        &self,
        kind: &Kind,
        account: &str,
        query: &ListQuery,
    ) -> DbResult<(Vec<Map<String, Value>>, Option<i64>)> {
        // Field names come from the static kinds, never from the request.
        let mut sql = format!(
            "SELECT seq, doc FROM {} WHERE account_id = ? AND seq > ?",
            kind.table
        );
        for (field, _, any_case) in &query.filters {
            if *any_case {
                sql.push_str(&format!(
                    " AND lower(json_extract(doc, '$.{field}')) = lower(?)"
                ));
            } else {
                sql.push_str(&format!(" AND json_extract(doc, '$.{field}') = ?"));
            }
        }
        if query.search.is_some() {
            let any: Vec<String> = kind
                .searched
                .iter()
                .map(|f| format!("instr(lower(coalesce(json_extract(doc, '$.{f}'), '')), ?) > 0"))
                .collect();
            sql.push_str(&format!(" AND ({})", any.join(" OR ")));
        }
        sql.push_str(" ORDER BY seq LIMIT ?");
        let mut q = sqlx::query(&sql).bind(account).bind(query.after);
        for (_, value, _) in &query.filters {
            q = q.bind(value);
        }
        if let Some(search) = &query.search {
            for _ in kind.searched {
                q = q.bind(search);
            }
        }
        q = q.bind(query.limit + 1);
        let rows = q.fetch_all(&self.reader).await?;
        let more = rows.len() as i64 > query.limit;
        let mut records = Vec::new();
        let mut last = None;
        for row in rows.into_iter().take(query.limit as usize) {
            last = Some(row.get::<i64, _>("seq"));
            if let Some(record) = parse(&row.get::<String, _>("doc")) {
                records.push(record);
            }
        }
        Ok((records, last.filter(|_| more)))
    }

    /// Every record of the account in `table` (the webhook subscriptions).
    pub(crate) async fn all(
        &self,
        table: &'static str,
        account: &str,
    ) -> DbResult<Vec<Map<String, Value>>> {
        let docs: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT doc FROM {table} WHERE account_id = ? ORDER BY seq"
        ))
        .bind(account)
        .fetch_all(&self.reader)
        .await?;
        Ok(docs.iter().filter_map(|d| parse(d)).collect())
    }
}

fn parse(doc: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(doc) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn key_hash(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}
