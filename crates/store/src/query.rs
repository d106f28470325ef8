use osmosis_model::{Element, ElementType};

/// A condition on an optional reference column (integration, parent, connection, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum RefFilter {
    #[default]
    Any,
    /// The reference is unset.
    None,
    /// The reference is set, to anything.
    Some,
    Is(String),
}

/// What to look up in the element table. Every field narrows the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementQuery {
    pub workspace_id: String,
    pub element_type: ElementType,
    pub id: Option<String>,
    pub key: Option<String>,
    pub uuid: Option<String>,
    pub integration: RefFilter,
    pub parent: RefFilter,
    pub connection: RefFilter,
    pub instance_key: RefFilter,
    pub customer: RefFilter,
    pub include_archived: bool,
    /// Case-insensitive substring of name or key.
    pub search: Option<String>,
    /// Equality on scalar fields of the type's document, e.g. `("isTest", true)`.
    pub doc_equals: Vec<(String, serde_json::Value)>,
    /// Only elements after this position (the list cursor).
    pub after_seq: i64,
    pub limit: i64,
}

impl ElementQuery {
    pub fn new(workspace_id: &str, element_type: ElementType) -> Self {
        ElementQuery {
            workspace_id: workspace_id.to_string(),
            element_type,
            id: None,
            key: None,
            uuid: None,
            integration: RefFilter::Any,
            parent: RefFilter::Any,
            connection: RefFilter::Any,
            instance_key: RefFilter::Any,
            customer: RefFilter::Any,
            include_archived: false,
            search: None,
            doc_equals: Vec::new(),
            after_seq: 0,
            limit: 1000,
        }
    }
}

impl RefFilter {
    /// Whether an optional reference column holding `value` passes.
    fn admits(&self, value: &Option<String>) -> bool {
        match self {
            RefFilter::Any => true,
            RefFilter::None => value.is_none(),
            RefFilter::Some => value.is_some(),
            RefFilter::Is(v) => value.as_deref() == Some(v.as_str()),
        }
    }
}

impl ElementQuery {
    /// Whether `e` is among what the query finds, `limit` aside: the conditions
    /// the SQL stores apply, for elements held in memory (an import's staged
    /// writes). A document field the element lacks reads as `false` when
    /// compared with `false`, as in SQL.
    pub fn matches(&self, e: &Element) -> bool {
        let identity = self.id.is_some() || self.key.is_some() || self.uuid.is_some();
        let lower = |s: &str| s.to_lowercase();
        e.workspace_id == self.workspace_id
            && e.element_type == self.element_type
            && self.id.as_ref().is_none_or(|v| *v == e.id)
            && self.key.as_ref().is_none_or(|v| Some(v) == e.key.as_ref())
            && self.uuid.as_ref().is_none_or(|v| *v == e.uuid)
            && self.integration.admits(&e.integration_id)
            && self.parent.admits(&e.parent_id)
            && self.connection.admits(&e.connection_id)
            && self.instance_key.admits(&e.instance_key)
            && self.customer.admits(&e.customer_id)
            && (self.include_archived || e.archived_at.is_none())
            && self.search.as_ref().is_none_or(|s| {
                let s = lower(s);
                lower(&e.name).contains(&s)
                    || e.key.as_deref().is_some_and(|k| lower(k).contains(&s))
            })
            && self.doc_equals.iter().all(|(field, value)| {
                let missing = if *value == serde_json::Value::Bool(false) {
                    serde_json::Value::Bool(false)
                } else {
                    serde_json::Value::Null
                };
                e.doc.get(field).unwrap_or(&missing) == value
            })
            && (identity || e.seq > self.after_seq)
    }
}

/// How a log list pages (external API logs, action run logs, flow runs, events):
/// rows created in `[from_ms, to_ms]`, after (ascending) or before (descending)
/// the cursor's `seq`, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogPage {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub descending: bool,
    pub cursor: Option<i64>,
    pub limit: i64,
}

/// The [`LogPage`] of a list query with the fields of one (`from_ms`, `to_ms`,
/// `descending`, `cursor`, `limit`).
macro_rules! log_page {
    ($q:expr) => {
        crate::query::LogPage {
            from_ms: $q.from_ms,
            to_ms: $q.to_ms,
            descending: $q.descending,
            cursor: $q.cursor,
            limit: $q.limit,
        }
    };
}
pub(crate) use log_page;

/// Ends a log list's `SELECT … WHERE workspace_id = ?`: ` AND column = value` for
/// each given equality, then `page`'s range (over `time_column`), cursor, order
/// and limit. One place, so every list reads its filters and pages the same way.
pub(crate) fn push_log_filters<'a, DB>(
    s: &mut sqlx::QueryBuilder<'a, DB>,
    equalities: &[(&str, &'a Option<String>)],
    time_column: &str,
    page: LogPage,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    for (column, value) in equalities {
        if let Some(v) = value {
            s.push(format!(" AND {column} = ")).push_bind(v);
        }
    }
    if let Some(from) = page.from_ms {
        s.push(format!(" AND {time_column} >= ")).push_bind(from);
    }
    if let Some(to) = page.to_ms {
        s.push(format!(" AND {time_column} <= ")).push_bind(to);
    }
    if let Some(cursor) = page.cursor {
        s.push(if page.descending {
            " AND seq < "
        } else {
            " AND seq > "
        })
        .push_bind(cursor);
    }
    s.push(if page.descending {
        " ORDER BY seq DESC LIMIT "
    } else {
        " ORDER BY seq LIMIT "
    })
    .push_bind(page.limit);
}

/// Rows of one bulk update per statement: bounds its bind parameters.
pub(crate) const ROWS_PER_UPDATE: usize = 500;

/// `WITH v (keys…, columns…) AS (VALUES …) UPDATE table SET column = v.column, …
/// FROM v WHERE table.key = v.key AND …`: many rows, each with its own values,
/// updated by key in one statement (both SQLite ≥ 3.33 and PostgreSQL take it).
/// One `UPDATE` per row made a transaction that settles a batch as many round
/// trips to the database — on SQLite each through its connection's worker thread —
/// all while holding the single writer every webhook's group commit waits for.
/// `bind` pushes one row's values: its keys, then its columns, in order.
pub(crate) fn bulk_update<'a, DB, T>(
    table: &str,
    keys: &[&str],
    columns: &[&str],
    rows: &'a [T],
    bind: impl FnMut(sqlx::query_builder::Separated<'_, 'a, DB, &'static str>, &'a T),
) -> sqlx::QueryBuilder<'a, DB>
where
    DB: sqlx::Database,
{
    let names: Vec<&str> = keys.iter().chain(columns).copied().collect();
    let mut q = sqlx::QueryBuilder::new(format!("WITH v ({}) AS (", names.join(", ")));
    q.push_values(rows, bind);
    let set: Vec<String> = columns.iter().map(|c| format!("{c} = v.{c}")).collect();
    let on: Vec<String> = keys
        .iter()
        .map(|k| format!("{table}.{k} = v.{k}"))
        .collect();
    q.push(format!(
        ") UPDATE {table} SET {} FROM v WHERE {}",
        set.join(", "),
        on.join(" AND ")
    ));
    q
}

/// Keeps, for each key, the id of its earliest row (lowest `seq`) among `(key,
/// seq, id)` rows. The queries that look up repeats by key (fingerprints, dedupe
/// keys) select `seq` and leave the order to this instead of `ORDER BY seq`: with
/// that order SQLite walked the whole table in `seq` order, reading every row,
/// rather than seek the key's index — about 30 ms per claim at 56k stored events.
pub(crate) fn keep_earliest(
    found: &mut std::collections::HashMap<String, (i64, String)>,
    key: String,
    seq: i64,
    id: String,
) {
    match found.get(&key) {
        Some((earlier, _)) if *earlier <= seq => {}
        _ => {
            found.insert(key, (seq, id));
        }
    }
}
