//! External API logs: one row per request made to an external API through a
//! connection. A table of their own rather than elements: they are append-only,
//! written at the rate of outbound calls, never revised, layered or selected by key,
//! and their details (masked request and response) are read one at a time.

use sqlx::{ColumnIndex, Decode, Row, Type};

use crate::error::StoreError;
use crate::sql::{Arg, Dialect, Statement};

/// One outbound call.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalApiLog {
    /// Insertion order; the list cursor. `0` before insertion.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub customer_id: String,
    pub integration_id: String,
    pub connection_id: String,
    /// `0` when no response came.
    pub status_code: i64,
    pub is_success: bool,
    pub request_url: String,
    pub duration_ms: i64,
    /// Milliseconds since the epoch (filters), and the same as ISO 8601.
    pub created_ms: i64,
    pub created_at: String,
    /// The masked request and response; `Null` in list results.
    pub details: serde_json::Value,
}

/// Which logs to list, in `seq` order from after the cursor.
#[derive(Debug, Clone, Default)]
pub struct ExternalApiLogQuery {
    pub workspace_id: String,
    pub customer_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub is_success: Option<bool>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Continue after (ascending) or before (descending) this `seq`.
    pub cursor: Option<i64>,
    pub limit: i64,
}

const COLUMNS: &str = "seq, id, workspace_id, customer_id, integration_id, connection_id, \
     status_code, is_success, request_url, duration_ms, created_ms, created_at";

/// One multi-row insert.
pub(crate) fn insert(dialect: Dialect, logs: &[ExternalApiLog]) -> Statement {
    let mut s = Statement::new(
        dialect,
        "INSERT INTO external_api_logs (id, workspace_id, customer_id, integration_id, \
         connection_id, status_code, is_success, request_url, duration_ms, created_ms, \
         created_at, details) VALUES ",
    );
    for (i, log) in logs.iter().enumerate() {
        s.push(if i == 0 { "(" } else { ", (" });
        for (j, arg) in [
            Arg::Text(log.id.clone()),
            Arg::Text(log.workspace_id.clone()),
            Arg::Text(log.customer_id.clone()),
            Arg::Text(log.integration_id.clone()),
            Arg::Text(log.connection_id.clone()),
            Arg::Int(log.status_code),
            Arg::Int(i64::from(log.is_success)),
            Arg::Text(log.request_url.clone()),
            Arg::Int(log.duration_ms),
            Arg::Int(log.created_ms),
            Arg::Text(log.created_at.clone()),
            Arg::Text(log.details.to_string()),
        ]
        .into_iter()
        .enumerate()
        {
            if j > 0 {
                s.push(", ");
            }
            s.bind(arg);
        }
        s.push(")");
    }
    s
}

pub(crate) fn find(dialect: Dialect, q: &ExternalApiLogQuery) -> Statement {
    let mut s = Statement::new(
        dialect,
        &format!("SELECT {COLUMNS} FROM external_api_logs WHERE workspace_id = "),
    );
    s.bind(Arg::Text(q.workspace_id.clone()));
    for (column, value) in [
        ("customer_id", &q.customer_id),
        ("integration_id", &q.integration_id),
        ("connection_id", &q.connection_id),
    ] {
        if let Some(v) = value {
            s.push(&format!(" AND {column} = "))
                .bind(Arg::Text(v.clone()));
        }
    }
    if let Some(ok) = q.is_success {
        s.push(" AND is_success = ").bind(Arg::Int(i64::from(ok)));
    }
    if let Some(from) = q.from_ms {
        s.push(" AND created_ms >= ").bind(Arg::Int(from));
    }
    if let Some(to) = q.to_ms {
        s.push(" AND created_ms <= ").bind(Arg::Int(to));
    }
    if let Some(cursor) = q.cursor {
        s.push(if q.descending {
            " AND seq < "
        } else {
            " AND seq > "
        })
        .bind(Arg::Int(cursor));
    }
    s.push(if q.descending {
        " ORDER BY seq DESC LIMIT "
    } else {
        " ORDER BY seq LIMIT "
    })
    .bind(Arg::Int(q.limit));
    s
}

pub(crate) fn by_id(dialect: Dialect, workspace_id: &str, id: &str) -> Statement {
    let mut s = Statement::new(
        dialect,
        &format!("SELECT {COLUMNS}, details FROM external_api_logs WHERE workspace_id = "),
    );
    s.bind(Arg::Text(workspace_id.to_owned()));
    s.push(" AND id = ").bind(Arg::Text(id.to_owned()));
    s
}

pub(crate) fn decode<'r, R>(row: &'r R, with_details: bool) -> Result<ExternalApiLog, StoreError>
where
    R: Row,
    &'r str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let details = if with_details {
        let text: String = row.try_get("details")?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("external API log details: {e}")))?
    } else {
        serde_json::Value::Null
    };
    Ok(ExternalApiLog {
        seq: row.try_get("seq")?,
        id: row.try_get("id")?,
        workspace_id: row.try_get("workspace_id")?,
        customer_id: row.try_get("customer_id")?,
        integration_id: row.try_get("integration_id")?,
        connection_id: row.try_get("connection_id")?,
        status_code: row.try_get("status_code")?,
        is_success: row.try_get::<i64, _>("is_success")? != 0,
        request_url: row.try_get("request_url")?,
        duration_ms: row.try_get("duration_ms")?,
        created_ms: row.try_get("created_ms")?,
        created_at: row.try_get("created_at")?,
        details,
    })
}

/// Deletes logs created before `before_ms` (retention).
pub(crate) fn purge(dialect: Dialect, before_ms: i64) -> Statement {
    let mut s = Statement::new(dialect, "DELETE FROM external_api_logs WHERE created_ms < ");
    s.bind(Arg::Int(before_ms));
    s
}
