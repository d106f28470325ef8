//! The trace of one run (an action run): every request its connection's API
//! client sent, masked as the external API logs are — the action run log keeps it
//! as its `details`.
//!
//! The API client reports each request to the connection's observer
//! (`connections::api_logs`), which is shared by every run on the connection (the
//! runner is cached). So the run is found from the task instead: a task-local
//! [`Trace`] set around the run, and carried into the JavaScript sandbox's host calls
//! (which run as tasks of their own) by [`Trace::host_scope`].

use std::future::Future;
use std::sync::{Arc, Mutex};

use osmosis_sandbox::HostScope;
use serde_json::{json, Value};

/// Entries kept per run; a run that pages through a large collection keeps the
/// first ones and counts the rest.
pub const MAX_ENTRIES: usize = 100;

tokio::task_local! {
    static CURRENT: Trace;
}

#[derive(Clone, Default)]
pub(crate) struct Trace(Arc<Mutex<Entries>>);

#[derive(Default)]
struct Entries {
    kept: Vec<Value>,
    dropped: usize,
}

impl Trace {
    /// Runs `f` with this trace as the current one.
    pub(crate) async fn scope<F: Future>(&self, f: F) -> F::Output {
        CURRENT.scope(self.clone(), f).await
    }

    /// Makes host calls of a sandboxed run record into this trace.
    pub(crate) fn host_scope(&self) -> HostScope {
        let trace = self.clone();
        Arc::new(move |future| Box::pin(CURRENT.scope(trace.clone(), future)))
    }

    /// Adds an entry to the current run's trace, if the caller runs inside one;
    /// `entry` is only built then.
    pub(crate) fn record(entry: impl FnOnce() -> Value) {
        let _ = CURRENT.try_with(|t| {
            if let Ok(mut e) = t.0.lock() {
                if e.kept.len() < MAX_ENTRIES {
                    e.kept.push(entry());
                } else {
                    e.dropped += 1;
                }
            }
        });
    }

    /// The entries so far (and a note of how many were not kept).
    pub(crate) fn take(&self) -> Vec<Value> {
        let Ok(mut e) = self.0.lock() else {
            return Vec::new();
        };
        let mut kept = std::mem::take(&mut e.kept);
        if e.dropped > 0 {
            kept.push(json!({"omitted": e.dropped}));
        }
        kept
    }
}
