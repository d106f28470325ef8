//! Background jobs: long operations a request starts and a client polls for (a
//! workspace export), then downloads the file of. A job is `running` until it
//! settles, once, `completed` (with a result and maybe a file) or `failed` (with an
//! error); settling a job that is not running changes nothing, so a late or repeated
//! settlement cannot overwrite the first. Files sit in a table of their own, so
//! reading a job never reads its file. Finished jobs are purged with their files
//! after a retention period.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, write_transaction, SqlStore};

/// Where a background job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackgroundJobStatus {
    Running,
    Completed,
    Failed,
}

impl BackgroundJobStatus {
    /// As stored (and as the API names it).
    pub fn as_str(self) -> &'static str {
        match self {
            BackgroundJobStatus::Running => "running",
            BackgroundJobStatus::Completed => "completed",
            BackgroundJobStatus::Failed => "failed",
        }
    }

    /// The status [`as_str`](Self::as_str) names; `None` for any other text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "running" => Some(BackgroundJobStatus::Running),
            "completed" => Some(BackgroundJobStatus::Completed),
            "failed" => Some(BackgroundJobStatus::Failed),
            _ => None,
        }
    }
}

/// One background job.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundJob {
    pub id: String,
    pub workspace_id: String,
    /// What it does, e.g. `export`.
    pub kind: String,
    pub status: BackgroundJobStatus,
    /// What was asked.
    pub params: Value,
    /// What a completed job answers.
    pub result: Option<Value>,
    /// Why a failed job failed.
    pub error: Option<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// When it completed or failed, in milliseconds since the epoch.
    pub finished_ms: Option<i64>,
}

#[async_trait]
pub trait BackgroundJobStore: Send + Sync + 'static {
    /// Stores a new job as given (normally `running`, not finished), with the
    /// file it works on when it has one (an import's upload), in one
    /// transaction. That file is the job's file until a completion gives
    /// another.
    async fn create_background_job(
        &self,
        job: &BackgroundJob,
        file: Option<&[u8]>,
    ) -> Result<(), StoreError>;

    /// The job of that workspace (None for another workspace's id).
    async fn background_job(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<BackgroundJob>, StoreError>;

    /// running -> completed with `result` and, when given, the file it produced,
    /// in one transaction; false (and nothing written) when the job is not running
    /// (already finished, or absent).
    async fn complete_background_job(
        &self,
        workspace_id: &str,
        id: &str,
        result: &Value,
        file: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// running -> failed with `error`; false when not running.
    async fn fail_background_job(
        &self,
        workspace_id: &str,
        id: &str,
        error: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;

    /// The file a completed job produced.
    async fn background_job_file(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes jobs (and their files) that finished before `before_ms`; running
    /// ones are kept whatever their age. Answers how many jobs went.
    async fn purge_background_jobs(&self, before_ms: i64) -> Result<u64, StoreError>;
}

const COLUMNS: &str =
    "workspace_id, id, kind, status, params, result, error, created_ms, finished_ms";

/// The jobs a purge before a cutoff deletes, with the cutoff bound after it.
const PURGED: &str = "status <> 'running' AND finished_ms < ";

for_each_backend! {
    /// Keeps `bytes` as the job's file.
    async fn insert_file(
        tx: &mut <DB as sqlx::Database>::Connection,
        workspace_id: &str,
        id: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let mut q = QueryBuilder::<DB>::new(
            "INSERT INTO background_job_files (workspace_id, id, bytes) VALUES (",
        );
        let mut values = q.separated(", ");
        values.push_bind(workspace_id);
        values.push_bind(id);
        values.push_bind(bytes);
        q.push(")");
        q.build().execute(&mut *tx).await?;
        Ok(())
    }

    #[async_trait]
    impl BackgroundJobStore for SqlStore<DB> {
        async fn create_background_job(
            &self,
            job: &BackgroundJob,
            file: Option<&[u8]>,
        ) -> Result<(), StoreError> {
            let params = job.params.to_string();
            let result = job.result.as_ref().map(Value::to_string);
            write_transaction!(self, |tx| {
                let mut q = QueryBuilder::<DB>::new(format!(
                    "INSERT INTO background_jobs ({COLUMNS}) VALUES ("
                ));
                let mut values = q.separated(", ");
                values.push_bind(&job.workspace_id);
                values.push_bind(&job.id);
                values.push_bind(&job.kind);
                values.push_bind(job.status.as_str());
                values.push_bind(&params);
                values.push_bind(&result);
                values.push_bind(&job.error);
                values.push_bind(job.created_ms);
                values.push_bind(job.finished_ms);
                q.push(")");
                q.build().execute(&mut *tx).await?;
                if let Some(bytes) = file {
                    insert_file(&mut tx, &job.workspace_id, &job.id, bytes).await?;
                }
            })
        }

        async fn background_job(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<BackgroundJob>, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM background_jobs"));
            push_address(&mut q, workspace_id, id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        /// The update only matches a running job; the file is written only when it
        /// did, in the same transaction.
        async fn complete_background_job(
            &self,
            workspace_id: &str,
            id: &str,
            result: &Value,
            file: Option<&[u8]>,
            now_ms: i64,
        ) -> Result<bool, StoreError> {
            let result = result.to_string();
            write_transaction!(self, |tx| {
                let mut q = QueryBuilder::<DB>::new(
                    "UPDATE background_jobs SET status = 'completed', result = ",
                );
                q.push_bind(&result);
                q.push(", finished_ms = ").push_bind(now_ms);
                push_address(&mut q, workspace_id, id);
                q.push(" AND status = 'running'");
                let completed = q.build().execute(&mut *tx).await?.rows_affected() > 0;
                if let (true, Some(bytes)) = (completed, file) {
                    let mut q = QueryBuilder::<DB>::new("DELETE FROM background_job_files");
                    push_address(&mut q, workspace_id, id);
                    q.build().execute(&mut *tx).await?;
                    insert_file(&mut tx, workspace_id, id, bytes).await?;
                }
                completed
            })
        }

        async fn fail_background_job(
            &self,
            workspace_id: &str,
            id: &str,
            error: &str,
            now_ms: i64,
        ) -> Result<bool, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new("UPDATE background_jobs SET status = 'failed', error = ");
            q.push_bind(error);
            q.push(", finished_ms = ").push_bind(now_ms);
            push_address(&mut q, workspace_id, id);
            q.push(" AND status = 'running'");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn background_job_file(
            &self,
            workspace_id: &str,
            id: &str,
        ) -> Result<Option<Vec<u8>>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("SELECT bytes FROM background_job_files");
            push_address(&mut q, workspace_id, id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            Ok(row.map(|r| r.try_get("bytes")).transpose()?)
        }

        /// The files first, picked by their jobs (through the index on
        /// `finished_ms`), then the jobs, in one transaction: no file outlives its
        /// job. Not `retention::purge_older`, which would count the files too and
        /// delete the two tables apart (as flow runs keep their own purge for their
        /// node runs).
        async fn purge_background_jobs(&self, before_ms: i64) -> Result<u64, StoreError> {
            write_transaction!(self, |tx| {
                let mut files = QueryBuilder::<DB>::new(format!(
                    "DELETE FROM background_job_files WHERE (workspace_id, id) IN \
                     (SELECT workspace_id, id FROM background_jobs WHERE {PURGED}"
                ));
                files.push_bind(before_ms);
                files.push(")");
                files.build().execute(&mut *tx).await?;
                let mut jobs =
                    QueryBuilder::<DB>::new(format!("DELETE FROM background_jobs WHERE {PURGED}"));
                jobs.push_bind(before_ms);
                jobs.build().execute(&mut *tx).await?.rows_affected()
            })
        }
    }

    fn push_address<'a>(q: &mut QueryBuilder<'a, DB>, workspace_id: &'a str, id: &'a str) {
        q.push(" WHERE workspace_id = ").push_bind(workspace_id);
        q.push(" AND id = ").push_bind(id);
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<BackgroundJob, StoreError> {
        let id: String = row.try_get("id")?;
        let status: &str = row.try_get("status")?;
        let status = BackgroundJobStatus::parse(status).ok_or_else(|| {
            StoreError::Corrupt(format!("background job {id}: status `{status}`"))
        })?;
        let json = |column: &str, text: &str| -> Result<Value, StoreError> {
            serde_json::from_str(text)
                .map_err(|e| StoreError::Corrupt(format!("background job {id} {column}: {e}")))
        };
        let params = json("params", row.try_get("params")?)?;
        let result = match row.try_get::<Option<&str>, _>("result")? {
            Some(text) => Some(json("result", text)?),
            None => None,
        };
        Ok(BackgroundJob {
            workspace_id: row.try_get("workspace_id")?,
            kind: row.try_get("kind")?,
            status,
            params,
            result,
            error: row.try_get("error")?,
            created_ms: row.try_get("created_ms")?,
            finished_ms: row.try_get("finished_ms")?,
            id,
        })
    }
}
