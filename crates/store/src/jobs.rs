//! Jobs: background work claimed through the database, so exactly one node runs
//! each (semantics of `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one
//! writer at a time and needs no row locks).

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, Backend, SqlStore};

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

/// What the queue holds of one kind of job at a moment (the metrics' queue
/// depth and age).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQueueKind {
    pub kind: String,
    /// Due and not claimed: waiting for a worker.
    pub waiting: i64,
    /// When the longest-waiting one came due (ms since the epoch).
    pub oldest_due_ms: Option<i64>,
    /// Claimed under a lease that has not run out: being worked on.
    pub running: i64,
}

#[async_trait]
pub trait JobStore: Send + Sync + 'static {
    /// What the queue holds at `now_ms`, by kind (kinds with no due or claimed
    /// job are left out).
    async fn job_queue(&self, now_ms: i64) -> Result<Vec<JobQueueKind>, StoreError>;

    /// Adds a job, or moves the pending job of the same (workspace, kind, key) to
    /// this payload and time.
    async fn schedule_job(&self, job: &Job, now_ms: i64) -> Result<(), StoreError>;

    /// Claims up to `limit` due jobs for `node` under `lease`; each due job goes to
    /// exactly one claimer, and a job whose lease ran out may be claimed again.
    async fn claim_jobs(
        &self,
        node: &str,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError>;

    /// Marks a claimed job done (a reschedule made while it ran survives).
    async fn finish_job(&self, job: &Job, node: &str) -> Result<(), StoreError>;

    /// Releases every job's claim (on a store only one node uses, at start: the
    /// jobs the process that died held are due again at once, not after their
    /// leases run out). Answers how many.
    async fn release_job_leases(&self) -> Result<u64, StoreError>;

    /// Returns a claimed job for another attempt at `run_at`, recording why.
    async fn retry_job(
        &self,
        job: &Job,
        node: &str,
        run_at: i64,
        error: &str,
    ) -> Result<(), StoreError>;
}

const COLUMNS: &str = "id, workspace_id, kind, dedupe_key, payload, run_at, attempts, last_error";

/// The columns a new job is inserted with, in the order of [`schedule_job`]'s values.
pub(crate) const JOB_COLUMNS: &str =
    "id, workspace_id, kind, dedupe_key, payload, run_at, attempts, created_at";

/// Ends a job insert: the pending job of the same (workspace, kind, key) moves to
/// the new payload and time instead (see [`JobStore::schedule_job`]).
pub(crate) const JOB_UPSERT: &str =
    " ON CONFLICT (workspace_id, kind, dedupe_key) DO UPDATE SET payload = excluded.payload, \
     run_at = excluded.run_at, attempts = 0, last_error = NULL";

for_each_backend! {
    #[async_trait]
    impl JobStore for SqlStore<DB> {
        async fn job_queue(&self, now_ms: i64) -> Result<Vec<JobQueueKind>, StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "SELECT kind, \
                 SUM(CASE WHEN locked_until IS NULL OR locked_until < ",
            );
            q.push_bind(now_ms);
            q.push(" THEN 1 ELSE 0 END) AS waiting, MIN(CASE WHEN locked_until IS NULL OR locked_until < ");
            q.push_bind(now_ms);
            q.push(" THEN run_at END) AS oldest, SUM(CASE WHEN locked_until >= ");
            q.push_bind(now_ms);
            q.push(" THEN 1 ELSE 0 END) AS running FROM jobs WHERE run_at <= ");
            q.push_bind(now_ms);
            q.push(" OR locked_until >= ").push_bind(now_ms);
            q.push(" GROUP BY kind ORDER BY kind");
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|r| {
                    Ok(JobQueueKind {
                        kind: r.try_get("kind")?,
                        waiting: r.try_get::<Option<i64>, _>("waiting")?.unwrap_or(0),
                        oldest_due_ms: r.try_get("oldest")?,
                        running: r.try_get::<Option<i64>, _>("running")?.unwrap_or(0),
                    })
                })
                .collect()
        }

        async fn schedule_job(&self, job: &Job, now_ms: i64) -> Result<(), StoreError> {
            let mut q = QueryBuilder::<DB>::new(format!("INSERT INTO jobs ({JOB_COLUMNS}) VALUES ("));
            let mut values = q.separated(", ");
            values.push_bind(&job.id);
            values.push_bind(&job.workspace_id);
            values.push_bind(&job.kind);
            values.push_bind(&job.dedupe_key);
            values.push_bind(job.payload.to_string());
            values.push_bind(job.run_at);
            values.push("0");
            values.push_bind(now_ms);
            q.push(")").push(JOB_UPSERT);
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn claim_jobs(
            &self,
            node: &str,
            lease: Lease,
            limit: i64,
        ) -> Result<Vec<Job>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE jobs SET locked_by = ");
            q.push_bind(node);
            q.push(", locked_until = ")
                .push_bind(lease.now_ms + lease.duration_ms);
            q.push(", attempts = attempts + 1 WHERE id IN (SELECT id FROM jobs WHERE run_at <= ");
            q.push_bind(lease.now_ms);
            q.push(" AND (locked_until IS NULL OR locked_until < ")
                .push_bind(lease.now_ms);
            q.push(") ORDER BY run_at LIMIT ").push_bind(limit);
            q.push(<DB as Backend>::CLAIM_LOCK);
            q.push(format!(") RETURNING {COLUMNS}"));
            let rows = q.build().fetch_all(&mut *self.writer().await?).await?;
            rows.iter().map(decode).collect()
        }

        /// Deletes a finished job — unless it was rescheduled while it ran, in which
        /// case only the claim is released so the new run happens.
        async fn finish_job(&self, job: &Job, node: &str) -> Result<(), StoreError> {
            let mut conn = self.writer().await?;
            let mut delete = QueryBuilder::<DB>::new("DELETE FROM jobs WHERE id = ");
            delete.push_bind(&job.id);
            delete.push(" AND locked_by = ").push_bind(node);
            delete.push(" AND run_at = ").push_bind(job.run_at);
            if delete.build().execute(&mut *conn).await?.rows_affected() == 0 {
                let mut release = QueryBuilder::<DB>::new(
                    "UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE id = ",
                );
                release.push_bind(&job.id);
                release.push(" AND locked_by = ").push_bind(node);
                release.build().execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn release_job_leases(&self) -> Result<u64, StoreError> {
            let done = sqlx::query(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE locked_by IS NOT NULL",
            )
            .execute(&mut *self.writer().await?)
            .await?;
            Ok(done.rows_affected())
        }

        async fn retry_job(
            &self,
            job: &Job,
            node: &str,
            run_at: i64,
            error: &str,
        ) -> Result<(), StoreError> {
            let mut q = QueryBuilder::<DB>::new(
                "UPDATE jobs SET locked_by = NULL, locked_until = NULL, run_at = ",
            );
            q.push_bind(run_at);
            q.push(", last_error = ").push_bind(error);
            q.push(" WHERE id = ").push_bind(&job.id);
            q.push(" AND locked_by = ").push_bind(node);
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<Job, StoreError> {
        Ok(Job {
            id: row.try_get("id")?,
            workspace_id: row.try_get("workspace_id")?,
            kind: row.try_get("kind")?,
            dedupe_key: row.try_get("dedupe_key")?,
            payload: serde_json::from_str(row.try_get("payload")?)
                .map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
            run_at: row.try_get("run_at")?,
            attempts: row.try_get("attempts")?,
            last_error: row.try_get("last_error")?,
        })
    }
}
