//! The background worker every node runs: claims due jobs from the jobs table
//! (exactly one node gets each) and runs them — proactive credential refreshes and
//! webhook deliveries — retrying failures with backoff. It also forgets expired
//! connect-flow records (every minute) and external API logs past their retention
//! (every hour; on several nodes each deletes, which is idempotent), and at
//! start-up and every minute has the external events left `created` by a node
//! that died launched (`Engine::sweep_stranded_external_events`).
//!
//! When the database cannot be reached the worker keeps running: it logs, polls
//! less often (doubling up to [`MAX_PAUSE`]), and resumes on its own — at once
//! when a request queues a job, since that request just reached the database.

use std::future::Future;
use std::time::Duration;

use osmosis_store::{Job, Lease, StoreError};

use crate::Engine;

/// How long a claimed job is this node's before another may take it over.
const LEASE_MS: i64 = 60_000;
/// How often the worker looks for due jobs when nobody wakes it.
const POLL: Duration = Duration::from_secs(1);
const BATCH: i64 = 32;
/// The longest pause between polls while the database fails: long enough not to
/// flood the log during an outage, short enough that jobs resume soon after.
const MAX_PAUSE: Duration = Duration::from_secs(30);

impl Engine {
    /// Wakes this node's worker now (a job was queued that is due at once).
    pub fn wake_worker(&self) {
        self.jobs.wake();
    }

    /// Runs the worker until `shutdown` completes.
    pub async fn run_worker(&self, node: String, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        if !self.stores.database.is_shared() {
            match self.stores.jobs.release_job_leases().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "resuming jobs the previous process held"),
                Err(e) => tracing::warn!(error = %e, "could not release old job leases"),
            }
        }
        let mut last_purge = 0i64;
        let mut last_log_purge = 0i64;
        let mut last_stranded_sweep = 0i64;
        let mut stranded_cursor = 0i64;
        let mut failures = 0i64;
        loop {
            match self.claim_and_run(&node).await {
                Ok(_) if failures > 0 => {
                    tracing::info!(failures, "the worker reaches the database again");
                    failures = 0;
                }
                Ok(_) => {}
                Err(e) => {
                    failures += 1;
                    // The first failure and then each doubling of the pause.
                    if failures.count_ones() == 1 {
                        tracing::warn!(error = %e, failures, "could not claim jobs; polling less often until the database answers");
                    }
                }
            }
            let pause = match failures {
                0 => POLL,
                n => Duration::from_millis(crate::clock::backoff_ms(
                    POLL.as_millis() as i64,
                    MAX_PAUSE.as_millis() as i64,
                    n,
                ) as u64),
            };
            let now = crate::clock::now_ms();
            if now - last_purge > 60_000 {
                last_purge = now;
                if let Err(e) = self
                    .stores
                    .connect_records
                    .purge_connect_records(now - 3_600_000)
                    .await
                {
                    tracing::warn!(error = %e, "could not purge expired connect records");
                }
                if let Err(e) = self
                    .stores
                    .console_sessions
                    .purge_console_sessions(now)
                    .await
                {
                    tracing::warn!(error = %e, "could not purge expired console sessions");
                }
                if let Err(e) = self.purge_background_jobs().await {
                    tracing::warn!(error = %e.message, "could not purge finished background jobs");
                }
            }
            // At start-up, then every minute: events a node stored and died
            // before launching, of subscriptions no new delivery may come to.
            if now - last_stranded_sweep > 60_000 {
                last_stranded_sweep = now;
                self.sweep_stranded_external_events(now, &mut stranded_cursor)
                    .await;
            }
            if now - last_log_purge > 3_600_000 {
                last_log_purge = now;
                let before = now - self.api_log_retention.as_millis() as i64;
                self.purge_logs(before).await;
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.jobs.woken() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Deletes every log kept for the log retention that is older than `before_ms`:
    /// external API logs, action run logs, incoming webhooks and app events,
    /// external event log records and pulls. One failing does not stop the others.
    async fn purge_logs(&self, before_ms: i64) {
        let stores = &self.stores;
        let purges: [(
            &str,
            futures::future::BoxFuture<'_, Result<u64, StoreError>>,
        ); 4] = [
            (
                "external API logs",
                stores.api_logs.purge_api_logs(before_ms),
            ),
            (
                "action run logs",
                stores.action_runs.purge_action_runs(before_ms),
            ),
            (
                "incoming webhooks and app events",
                stores.events.purge_events(before_ms),
            ),
            (
                "external event log records and pulls",
                stores.external_events.purge_external_events(before_ms),
            ),
        ];
        for (logs, purge) in purges {
            match purge.await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, logs, "deleted logs past their retention"),
                Err(e) => tracing::warn!(error = %e, logs, "could not delete old logs"),
            }
        }
    }

    /// Claims and runs the jobs due now; returns how many ran.
    pub async fn run_due_jobs(&self, node: &str) -> usize {
        self.claim_and_run(node).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not claim jobs");
            0
        })
    }

    /// [`Engine::run_due_jobs`], telling a failure to claim (the database) apart
    /// from having nothing to do.
    async fn claim_and_run(&self, node: &str) -> Result<usize, StoreError> {
        let lease = Lease {
            now_ms: crate::clock::now_ms(),
            duration_ms: LEASE_MS,
        };
        let jobs = self.jobs.claim(node, lease, BATCH).await?;
        let count = jobs.len();
        let runs = jobs.into_iter().map(|job| async move {
            let outcome = self.run_job(&job).await;
            self.jobs.settle(node, &job, outcome).await;
        });
        futures::future::join_all(runs).await;
        Ok(count)
    }

    #[tracing::instrument(skip_all, fields(kind = %job.kind, key = %job.dedupe_key, attempt = job.attempts))]
    async fn run_job(&self, job: &Job) -> Result<(), String> {
        match self.jobs.handler(&job.kind) {
            Some(handler) => (handler.run)(self, job).await,
            None => {
                tracing::warn!(kind = %job.kind, "unknown job kind; dropped");
                Ok(())
            }
        }
    }
}
