//! The async entry point: hands a run to a blocking thread and awaits it without
//! holding up the tokio executor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::console::LogEntry;
use crate::error::{Failure, SandboxError};
use crate::host::HostApi;
use crate::run::{self, Job, Signal};
use crate::Limits;

/// What a successful run returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOutput {
    /// The default export's result as `JSON.stringify` would serialise it; `undefined`
    /// is `null`.
    pub result: serde_json::Value,
    pub logs: Vec<LogEntry>,
}

/// Runs user modules, each in a fresh QuickJS runtime, under [`Limits`].
///
/// Cheap to clone; holds no engine state between runs, so one run can never see
/// another's globals.
#[derive(Debug, Clone, Default)]
pub struct Sandbox {
    limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Evaluates `source` as an ES module, calls its default export with `argument`
    /// (host objects from `host` added as its properties) and returns the settled
    /// result with the captured console output.
    ///
    /// Must be awaited inside a tokio runtime: the code runs on a blocking thread, and
    /// host futures are spawned on the calling runtime. Dropping the returned future
    /// interrupts the run.
    pub async fn run_module(
        &self,
        source: &str,
        argument: serde_json::Value,
        host: HostApi,
    ) -> Result<RunOutput, SandboxError> {
        let tokio = tokio::runtime::Handle::current();
        let (signals, inbox) = mpsc::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut cancel_on_drop = CancelOnDrop {
            cancelled: Arc::clone(&cancelled),
            signals: Some(signals.clone()),
        };
        let job = Job {
            source: source.to_owned(),
            argument,
            host,
            limits: self.limits.clone(),
            tokio,
            signals,
            inbox,
            cancelled,
        };
        let joined = tokio::task::spawn_blocking(move || run::run(job)).await;
        cancel_on_drop.signals = None;
        match joined {
            Ok(outcome) => outcome,
            Err(join_error) => Err(SandboxError::new(
                Failure::Crashed(join_error.to_string()),
                Vec::new(),
            )),
        }
    }
}

/// Stops the run when the caller stops waiting for it, so an abandoned run does not
/// keep a thread busy until its wall-clock limit.
struct CancelOnDrop {
    cancelled: Arc<AtomicBool>,
    signals: Option<Sender<Signal>>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(signals) = self.signals.take() {
            self.cancelled.store(true, Ordering::Relaxed);
            let _ = signals.send(Signal::Cancelled);
        }
    }
}
