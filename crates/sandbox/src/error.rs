//! How a run fails, and the Membrane error body (`type: custom_code`) it turns into.

use std::time::Duration;

use serde_json::{json, Value};

use crate::console::LogEntry;

/// A failed run: what went wrong, plus whatever the code logged before it did.
#[derive(Debug, thiserror::Error)]
#[error("{failure}")]
pub struct SandboxError {
    pub failure: Failure,
    pub logs: Vec<LogEntry>,
}

/// The ways a run can fail. Each ends the run; none takes the host process down.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The module did not compile.
    #[error("{message}")]
    Syntax {
        message: String,
        stack: Option<String>,
    },
    /// User code threw, or the promise of its default export rejected.
    #[error("{message}")]
    Thrown {
        name: Option<String>,
        message: String,
        stack: Option<String>,
    },
    /// A promise was rejected and nothing handled it by the time the job queue ran dry.
    /// Node would end the process for this; here it ends the run.
    #[error("unhandled promise rejection: {message}")]
    UnhandledRejection {
        message: String,
        stack: Option<String>,
    },
    #[error("the code ran past the wall-clock limit of {}", humanize(*limit))]
    TimedOut { limit: Duration },
    #[error("the code exceeded the memory limit of {limit} bytes")]
    OutOfMemory { limit: usize },
    /// The default export's promise is pending, no job is queued and no host call is in
    /// flight: nothing left can ever settle it, so the run ends now rather than at the
    /// wall-clock limit.
    #[error("the promise returned by the default export never settles: it is pending with no work left that could settle it")]
    NeverSettled,
    #[error("the default export is not a function (it is {found})")]
    NoDefaultExport { found: &'static str },
    #[error("the result is not JSON: it is {reason}")]
    NonJsonResult { reason: String },
    /// The decorator of a host object (`crate::HostObject::decorator`) did not
    /// compile, threw, or returned something other than an object. User code never
    /// ran.
    #[error("the host object `{object}` could not be set up: {message}")]
    HostObjectSetup {
        object: String,
        message: String,
        stack: Option<String>,
    },
    #[error("the argument is not a JSON object, so host objects cannot be placed on it")]
    ArgumentNotObject,
    /// The run was abandoned because the caller stopped waiting for it.
    #[error("the run was cancelled")]
    Cancelled,
    /// QuickJS itself failed outside user code (allocation of the runtime, a conversion).
    #[error("the JavaScript engine failed: {0}")]
    Engine(#[source] rquickjs::Error),
    /// The thread running the code panicked; the panic was contained.
    #[error("the sandbox thread failed: {0}")]
    Crashed(String),
}

impl Failure {
    pub fn stack(&self) -> Option<&str> {
        match self {
            Failure::Syntax { stack, .. }
            | Failure::Thrown { stack, .. }
            | Failure::UnhandledRejection { stack, .. }
            | Failure::HostObjectSetup { stack, .. } => stack.as_deref(),
            _ => None,
        }
    }
}

impl SandboxError {
    pub(crate) fn new(failure: Failure, logs: Vec<LogEntry>) -> Self {
        Self { failure, logs }
    }

    /// The Membrane error body for this failure:
    /// `{"type":"custom_code","message":…,"data":{"stack":…,"logs":[…]}}`.
    /// `stack` is `null` for failures that are not a JavaScript error (limits, results).
    pub fn to_error_data(&self) -> Value {
        json!({
            "type": "custom_code",
            "message": self.failure.to_string(),
            "data": {
                "stack": self.failure.stack(),
                "logs": self.logs,
            },
        })
    }
}

fn humanize(limit: Duration) -> String {
    if limit.subsec_nanos() == 0 {
        format!("{} s", limit.as_secs())
    } else {
        format!("{} ms", limit.as_millis())
    }
}
