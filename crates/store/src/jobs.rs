//! Jobs: background work claimed through the database, so exactly one node runs
//! each (semantics of `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
//! writer at a time and needs no row locks).

/// A unit of background work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub workspace_id: String,
    /// What to do, e.g. `refresh-credentials`.
    pub kind: String,
    /// What it is about, e.g. a connection id; one pending job per (kind, key).
    pub dedupe_key: String,
    pub payload: serde_json::Value,
    /// When it is due, in milliseconds since the epoch.
    pub run_at: i64,
    /// How many times it has been claimed.
    pub attempts: i32,
    pub last_error: Option<String>,
}

/// How long a claim holds before another node may take the job over.
#[derive(Debug, Clone, Copy)]
pub struct Lease {
    pub now_ms: i64,
    pub duration_ms: i64,
}
