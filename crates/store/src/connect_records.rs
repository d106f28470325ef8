//! Records of the interactive connect flow that are not workspace elements: OAuth
//! states, results waiting for a browser's SSE listener, connection requests. Each
//! is addressed by (workspace, kind, id), expires, and can be *taken* exactly once —
//! the one atomic step an OAuth callback needs so that a replayed `state` finds
//! nothing, on one node or several.

use serde_json::Value;
use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::StoreError;
use crate::sql::{Arg, Dialect, Statement};

/// One record of the connect flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectRecord {
    pub workspace_id: String,
    /// What it is, e.g. `oauth-state`, `connect-result`, `connection-request`.
    pub kind: String,
    pub id: String,
    /// The customer whose flow it belongs to.
    pub customer_id: String,
    pub doc: Value,
    /// Milliseconds since the epoch after which it is gone.
    pub expires_at: i64,
    /// When it was taken, if it was.
    pub used_at: Option<i64>,
    pub created_at: i64,
}

const COLUMNS: &str = "workspace_id, kind, id, customer_id, doc, expires_at, used_at, created_at";

fn bind_address(s: &mut Statement, workspace_id: &str, kind: &str, id: &str) {
    s.push(" WHERE workspace_id = ")
        .bind(Arg::Text(workspace_id.to_owned()));
    s.push(" AND kind = ").bind(Arg::Text(kind.to_owned()));
    s.push(" AND id = ").bind(Arg::Text(id.to_owned()));
}

/// Inserts a record, or replaces the one at its address (and makes it untaken).
pub(crate) fn put(dialect: Dialect, r: &ConnectRecord) -> Statement {
    let mut s = Statement::new(
        dialect,
        &format!("INSERT INTO connect_records ({COLUMNS}) VALUES ("),
    );
    s.bind(Arg::Text(r.workspace_id.clone())).push(", ");
    s.bind(Arg::Text(r.kind.clone())).push(", ");
    s.bind(Arg::Text(r.id.clone())).push(", ");
    s.bind(Arg::Text(r.customer_id.clone())).push(", ");
    s.bind(Arg::Text(r.doc.to_string())).push(", ");
    s.bind(Arg::Int(r.expires_at)).push(", NULL, ");
    s.bind(Arg::Int(r.created_at));
    s.push(
        ") ON CONFLICT (workspace_id, kind, id) DO UPDATE SET customer_id = excluded.customer_id, \
         doc = excluded.doc, expires_at = excluded.expires_at, used_at = NULL",
    );
    s
}

/// A live (unexpired) record, taken or not.
pub(crate) fn get(
    dialect: Dialect,
    workspace_id: &str,
    kind: &str,
    id: &str,
    now_ms: i64,
) -> Statement {
    let mut s = Statement::new(dialect, &format!("SELECT {COLUMNS} FROM connect_records"));
    bind_address(&mut s, workspace_id, kind, id);
    s.push(" AND expires_at > ").bind(Arg::Int(now_ms));
    s
}

/// Marks a live, untaken record taken and returns it; finds nothing the second time.
pub(crate) fn take(
    dialect: Dialect,
    workspace_id: &str,
    kind: &str,
    id: &str,
    now_ms: i64,
) -> Statement {
    let mut s = Statement::new(dialect, "UPDATE connect_records SET used_at = ");
    s.bind(Arg::Int(now_ms));
    bind_address(&mut s, workspace_id, kind, id);
    s.push(" AND used_at IS NULL AND expires_at > ")
        .bind(Arg::Int(now_ms));
    s.push(&format!(" RETURNING {COLUMNS}"));
    s
}

/// Takes a lease (a record that is only ever live for one holder): inserts it, or
/// takes over one that expired; a live lease of someone else leaves it unchanged.
pub(crate) fn lease(dialect: Dialect, r: &ConnectRecord, now_ms: i64) -> Statement {
    let mut s = put(dialect, r);
    s.push(" WHERE connect_records.expires_at <= ")
        .bind(Arg::Int(now_ms));
    s
}

/// Forgets records that expired before `before_ms`.
pub(crate) fn purge(dialect: Dialect, before_ms: i64) -> Statement {
    let mut s = Statement::new(dialect, "DELETE FROM connect_records WHERE expires_at < ");
    s.bind(Arg::Int(before_ms));
    s
}

pub(crate) fn decode<'r, R>(row: &'r R) -> Result<ConnectRecord, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
{
    let doc: String = row.try_get("doc")?;
    Ok(ConnectRecord {
        workspace_id: row.try_get("workspace_id")?,
        kind: row.try_get("kind")?,
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        doc: serde_json::from_str(&doc)
            .map_err(|e| StoreError::Corrupt(format!("connect record: {e}")))?,
        expires_at: row.try_get("expires_at")?,
        used_at: row.try_get("used_at")?,
        created_at: row.try_get("created_at")?,
    })
}

/// Reads a workspace's settings document.
pub(crate) fn settings(dialect: Dialect, workspace_id: &str) -> Statement {
    let mut s = Statement::new(dialect, "SELECT settings FROM workspaces WHERE id = ");
    s.bind(Arg::Text(workspace_id.to_owned()));
    s
}

/// Replaces a workspace's settings document.
pub(crate) fn set_settings(dialect: Dialect, workspace_id: &str, settings: &Value) -> Statement {
    let mut s = Statement::new(dialect, "UPDATE workspaces SET settings = ");
    s.bind(Arg::Text(settings.to_string()));
    s.push(" WHERE id = ")
        .bind(Arg::Text(workspace_id.to_owned()));
    s
}
