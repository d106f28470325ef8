//! Background jobs as a typed registry: each kind of job is a [`JobKind`] with its
//! payload type and its retry policy, and [`JobQueue::handler`] is the one place
//! that maps a stored job's kind to the code that runs it. Adding a kind (flow
//! runs, pulls, schedules) means one type implementing [`JobKind`] in the module
//! it belongs to and one line in the registry the engine is built with
//! (`JOB_HANDLERS` in the crate root), so this module imports none of them. The
//! worker that claims and runs jobs is in [`worker`].

pub(crate) mod worker;

use std::sync::Arc;

use futures::future::BoxFuture;
use osmosis_store::{Job, JobStore, Lease, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Notify;

use crate::Engine;

/// How a failed job is retried.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    /// Claims after which a failing job is dropped (logged).
    pub max_attempts: i32,
    /// Delay before the next attempt, from the attempts made so far.
    pub backoff_ms: fn(i32) -> i64,
}

/// One kind of background job.
pub(crate) trait JobKind: Send + Sync + 'static {
    /// The kind as stored in the jobs table; never change it for a kind that has
    /// shipped, or queued jobs are dropped as unknown.
    const KIND: &'static str;
    const RETRY: RetryPolicy;
    type Payload: Serialize + DeserializeOwned + Send;

    /// Runs one job; an error is the reason to retry.
    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        payload: Self::Payload,
    ) -> BoxFuture<'a, Result<(), String>>;
}

/// A registered kind with its payload type erased, as the worker dispatches it.
#[derive(Clone, Copy)]
pub(crate) struct Handler {
    pub kind: &'static str,
    pub retry: RetryPolicy,
    pub run: for<'a> fn(&'a Engine, &'a Job) -> BoxFuture<'a, Result<(), String>>,
}

pub(crate) const fn handler<K: JobKind>() -> Handler {
    Handler {
        kind: K::KIND,
        retry: K::RETRY,
        run: |engine, job| match serde_json::from_value::<K::Payload>(job.payload.clone()) {
            Ok(payload) => K::run(engine, job, payload),
            // A payload this build cannot read never will be: drop the job (the
            // worker logs it) rather than retry it.
            Err(e) => {
                tracing::warn!(kind = K::KIND, error = %e, "unreadable job payload; dropped");
                Box::pin(async { Ok(()) })
            }
        },
    }
}

/// The jobs service: queues typed jobs, wakes this node's worker and records how
/// each run ended, with only what that needs — the job store, the wake signal and
/// the handler registry. The worker ([`worker`]) drives it; element code reaches
/// it as `engine.jobs`.
#[derive(Clone)]
pub(crate) struct JobQueue {
    store: Arc<dyn JobStore>,
    wake: Arc<Notify>,
    handlers: &'static [Handler],
}

/// The row of a new job of kind `K`: what [`JobQueue::schedule`] stores, and what
/// a writer storing a job in a transaction of its own (the webhook intake) gives
/// its store.
pub(crate) fn job_row<K: JobKind>(
    workspace_id: &str,
    dedupe_key: String,
    payload: &K::Payload,
    run_at: i64,
) -> Result<Job, StoreError> {
    Ok(Job {
        id: osmosis_model::ids::object_id(),
        workspace_id: workspace_id.to_owned(),
        kind: K::KIND.into(),
        dedupe_key,
        payload: serde_json::to_value(payload).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        run_at,
        attempts: 0,
        last_error: None,
    })
}

impl JobQueue {
    pub(crate) fn new(store: Arc<dyn JobStore>, handlers: &'static [Handler]) -> Self {
        JobQueue {
            store,
            wake: Arc::new(Notify::new()),
            handlers,
        }
    }

    /// The handler of a stored job's kind.
    pub(crate) fn handler(&self, kind: &str) -> Option<&'static Handler> {
        self.handlers.iter().find(|h| h.kind == kind)
    }

    /// Queues a job of kind `K` (one pending job per kind and `dedupe_key`: a
    /// second replaces the first's due time and payload) and wakes this node's
    /// worker when it is due at once.
    pub(crate) async fn schedule<K: JobKind>(
        &self,
        workspace_id: &str,
        dedupe_key: String,
        payload: &K::Payload,
        run_at: i64,
    ) -> Result<(), StoreError> {
        let job = job_row::<K>(workspace_id, dedupe_key, payload, run_at)?;
        let now = crate::clock::now_ms();
        self.store.schedule_job(&job, now).await?;
        if run_at <= now {
            self.wake();
        }
        Ok(())
    }

    /// Wakes this node's worker now.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Completes when [`JobQueue::wake`] is called.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Claims up to `batch` due jobs for `node`.
    pub(crate) async fn claim(
        &self,
        node: &str,
        lease: Lease,
        batch: i64,
    ) -> Result<Vec<Job>, StoreError> {
        self.store.claim_jobs(node, lease, batch).await
    }

    /// Records how a run ended: done, retried after its kind's backoff, or dropped
    /// once its kind's attempts are spent (or when no handler knows its kind).
    pub(crate) async fn settle(&self, node: &str, job: &Job, outcome: Result<(), String>) {
        let retry = self.handler(&job.kind).map(|h| h.retry);
        let result = match (outcome, retry) {
            (Ok(()), _) => {
                tracing::debug!(kind = %job.kind, key = %job.dedupe_key, attempts = job.attempts, "job done");
                self.store.finish_job(job, node).await
            }
            (Err(_), None) => self.store.finish_job(job, node).await,
            (Err(reason), Some(retry)) if job.attempts >= retry.max_attempts => {
                tracing::warn!(kind = %job.kind, key = %job.dedupe_key, workspace_id = %job.workspace_id, attempts = job.attempts, reason, "job failed too often; dropped");
                self.store.finish_job(job, node).await
            }
            (Err(reason), Some(retry)) => {
                let delay_ms = (retry.backoff_ms)(job.attempts);
                tracing::warn!(kind = %job.kind, key = %job.dedupe_key, workspace_id = %job.workspace_id, attempts = job.attempts, max_attempts = retry.max_attempts, retry_in_ms = delay_ms, reason, "job failed; will retry");
                let at = crate::clock::now_ms() + delay_ms;
                self.store.retry_job(job, node, at, &reason).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a job's outcome");
        }
    }
}
