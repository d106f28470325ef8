//! Exports and imports as background jobs: `GET /export` and `POST /import`
//! record a job (`running`) and queue its work on the durable job queue, so a
//! node that dies midway leaves the job to another claim instead of `running`
//! forever; the client polls `GET /background-jobs/{id}` until `completed` (an
//! export's with `result.downloadUrl`, an import's with its changes) or `failed`
//! (with `error`, an `ErrorData`), and downloads an export's zip with the same
//! admin token.
//!
//! The files — an export's zip, an import's upload — are kept in the database
//! beside the job, so any node serves the download or runs the import. Jobs and
//! their files are kept for [`KEEP_FOR`] after they finish (`purge`, from the
//! engine's retention loop); a download after that is a 404.

use osmosis_model::{ids, ApiError};
use osmosis_store::{BackgroundJob, BackgroundJobStatus, Job};
use serde_json::{json, Value};

use super::export::{ExportOptions, WorkspaceFiles};
use super::import::ImportOptions;
use crate::errors::store_error;
use crate::jobs::{JobKind, RetryPolicy};
use crate::{Caller, Engine};

/// How long a finished job and its file are kept.
pub const KEEP_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// The kind of an export's background job.
pub const EXPORT: &str = "export";

/// The kind of an import's background job.
pub const IMPORT: &str = "import";

/// The queued work of one export.
pub(crate) struct ExportJob;

/// What a queued export or import works on: its background job, and what was
/// asked.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobPayload<O> {
    background_job_id: String,
    options: O,
}

type ExportPayload = JobPayload<ExportOptions>;
type ImportPayload = JobPayload<ImportOptions>;

impl JobKind for ExportJob {
    const KIND: &'static str = "workspace-export";
    /// A failed read of the database is retried; once the attempts are spent the
    /// job is recorded `failed` (see [`run_export`]).
    const RETRY: RetryPolicy = RetryPolicy {
        max_attempts: 5,
        backoff_ms: |attempts| crate::clock::backoff_ms(1_000, 60_000, i64::from(attempts)),
    };
    type Payload = ExportPayload;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        payload: ExportPayload,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(run_export(engine, job, payload))
    }
}

async fn run_export(engine: &Engine, job: &Job, payload: ExportPayload) -> Result<(), String> {
    let ws = &job.workspace_id;
    let id = &payload.background_job_id;
    let built = async {
        let files = engine.export_workspace(ws, payload.options).await?;
        let zip = files.to_zip()?;
        Ok::<_, ApiError>((files.files.len(), zip))
    }
    .await;
    let store = &engine.stores.background_jobs;
    let now = crate::clock::now_ms();
    match built {
        Ok((count, zip)) => {
            let result = json!({"files": count, "bytes": zip.len()});
            store
                .complete_background_job(ws, id, &result, Some(&zip), now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        Err(e) if job.attempts < ExportJob::RETRY.max_attempts => Err(e.message),
        Err(e) => {
            store
                .fail_background_job(ws, id, &e.message, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

/// The queued work of one import.
pub(crate) struct ImportJob;

impl JobKind for ImportJob {
    const KIND: &'static str = "workspace-import";
    /// A database that failed, or an element written while the import ran, is
    /// retried from the start; a refused import is final (see [`run_import`]).
    const RETRY: RetryPolicy = ExportJob::RETRY;
    type Payload = ImportPayload;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        payload: ImportPayload,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(run_import(engine, job, payload))
    }
}

async fn run_import(engine: &Engine, job: &Job, payload: ImportPayload) -> Result<(), String> {
    let ws = &job.workspace_id;
    let id = &payload.background_job_id;
    let store = &engine.stores.background_jobs;
    let imported = async {
        let zip = store
            .background_job_file(ws, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::internal(format!("the upload of import {id} is gone")))?;
        let files = WorkspaceFiles::from_zip(&zip)?;
        engine.import_workspace(ws, &files, payload.options).await
    }
    .await;
    let now = crate::clock::now_ms();
    let retryable = |e: &ApiError| {
        matches!(
            e.error_type,
            osmosis_model::ErrorType::Internal | osmosis_model::ErrorType::Concurrency
        )
    };
    match imported {
        Ok(report) => {
            store
                .complete_background_job(ws, id, &report, None, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        Err(e) if retryable(&e) && job.attempts < ImportJob::RETRY.max_attempts => Err(e.message),
        Err(e) => {
            let error = serde_json::to_string(&e).unwrap_or(e.message);
            store
                .fail_background_job(ws, id, &error, now)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
    }
}

impl Engine {
    /// `GET /export` (admin): starts exporting the caller's workspace; answers the
    /// background job to poll.
    pub async fn start_export(
        &self,
        caller: &Caller,
        options: ExportOptions,
    ) -> Result<Value, ApiError> {
        caller.require_admin("exporting a workspace needs an admin token")?;
        self.start_background_job::<ExportJob, _>(caller, EXPORT, options, None)
            .await
    }

    /// `POST /import` (admin): starts importing `zip` into the caller's
    /// workspace; answers the background job to poll. A zip that cannot be read
    /// is refused here, before any job is made.
    pub async fn start_import(
        &self,
        caller: &Caller,
        zip: &[u8],
        options: ImportOptions,
    ) -> Result<Value, ApiError> {
        caller.require_admin("importing into a workspace needs an admin token")?;
        WorkspaceFiles::from_zip(zip)?;
        self.start_background_job::<ImportJob, _>(caller, IMPORT, options, Some(zip))
            .await
    }

    /// Records a running job of `kind` with the file it works on, and queues
    /// its work `K`; answers the job as the API renders it.
    async fn start_background_job<K, O>(
        &self,
        caller: &Caller,
        kind: &str,
        options: O,
        file: Option<&[u8]>,
    ) -> Result<Value, ApiError>
    where
        K: JobKind<Payload = JobPayload<O>>,
        O: serde::Serialize,
    {
        let job = self
            .record_background_job(caller, kind, &options, file)
            .await?;
        let payload = JobPayload {
            background_job_id: job.id.clone(),
            options,
        };
        self.jobs
            .schedule::<K>(
                &job.workspace_id,
                job.id.clone(),
                &payload,
                crate::clock::now_ms(),
            )
            .await
            .map_err(store_error)?;
        Ok(self.render_background_job(&job))
    }

    /// A new running job of the caller's workspace, with the file it works on.
    async fn record_background_job(
        &self,
        caller: &Caller,
        kind: &str,
        params: &impl serde::Serialize,
        file: Option<&[u8]>,
    ) -> Result<BackgroundJob, ApiError> {
        let job = BackgroundJob {
            id: format!("bgj_{}", ids::object_id()),
            workspace_id: caller.workspace_id().to_owned(),
            kind: kind.into(),
            status: BackgroundJobStatus::Running,
            params: serde_json::to_value(params).map_err(|e| ApiError::internal(e.to_string()))?,
            result: None,
            error: None,
            created_ms: crate::clock::now_ms(),
            finished_ms: None,
        };
        self.stores
            .background_jobs
            .create_background_job(&job, file)
            .await
            .map_err(store_error)?;
        Ok(job)
    }

    /// `GET /background-jobs/{id}` (admin, the job's workspace).
    pub async fn background_job(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        caller.require_admin("background jobs need an admin token")?;
        let job = self.find_background_job(caller, id).await?;
        Ok(self.render_background_job(&job))
    }

    /// The file a completed job produced (`GET /background-jobs/{id}/download`).
    pub async fn background_job_file(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Vec<u8>, ApiError> {
        caller.require_admin("background jobs need an admin token")?;
        let job = self.find_background_job(caller, id).await?;
        if job.kind != EXPORT {
            return Err(ApiError::not_found(format!(
                "background job {id} is an {}: it has no file to download",
                job.kind
            )));
        }
        if job.status != BackgroundJobStatus::Completed {
            return Err(ApiError::bad_request(
                osmosis_model::error::keys::NOT_READY,
                format!(
                    "background job {id} is {}: it has nothing to download yet",
                    job.status.as_str()
                ),
            ));
        }
        self.stores
            .background_jobs
            .background_job_file(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ApiError::not_found(format!("the file of background job {id} is no longer kept"))
            })
    }

    /// Forgets jobs that finished more than [`KEEP_FOR`] ago, with their files.
    pub async fn purge_background_jobs(&self) -> Result<u64, ApiError> {
        let before = crate::clock::now_ms() - KEEP_FOR.as_millis() as i64;
        self.stores
            .background_jobs
            .purge_background_jobs(before)
            .await
            .map_err(store_error)
    }

    async fn find_background_job(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<BackgroundJob, ApiError> {
        self.stores
            .background_jobs
            .background_job(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ApiError::not_found(format!("no background job {id}")))
    }

    fn render_background_job(&self, job: &BackgroundJob) -> Value {
        let mut out = json!({
            "id": job.id,
            "type": job.kind,
            "status": job.status.as_str(),
            "createdAt": crate::clock::iso_of_ms(job.created_ms),
        });
        if let Some(at) = job.finished_ms {
            out["finishedAt"] = json!(crate::clock::iso_of_ms(at));
        }
        if job.status == BackgroundJobStatus::Completed {
            let mut result = job.result.clone().unwrap_or_else(|| json!({}));
            if job.kind == EXPORT {
                let base = self.config.public_url.trim_end_matches('/');
                result["downloadUrl"] =
                    json!(format!("{base}/background-jobs/{}/download", job.id));
            }
            out["result"] = result;
        }
        if let Some(e) = &job.error {
            // An import's refusal is kept as its `ErrorData`; anything else as a
            // message.
            out["error"] = serde_json::from_str::<ApiError>(e)
                .ok()
                .and_then(|e| serde_json::to_value(e).ok())
                .unwrap_or_else(|| json!({"type": "internal", "message": e}));
        }
        out
    }
}
