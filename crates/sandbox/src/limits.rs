//! The resource limits one run is held to.

use std::time::Duration;

/// Bounds on a single run. Every bound ends the run with a [`crate::SandboxError`]
/// instead of hurting the host process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time from the start of the run until its result must be settled, counting both
    /// JavaScript execution and time spent waiting on host calls.
    pub wall_clock: Duration,
    /// Bytes QuickJS may allocate for the run's heap (objects, strings, bytecode),
    /// counted by the allocator the runtime is built on.
    pub memory_bytes: usize,
    /// Bytes of native stack the interpreter may use before it throws
    /// `RangeError: Maximum call stack size exceeded`. Runs execute on tokio's blocking threads, whose stacks are
    /// 2 MiB by default: keep this well below the stack of the threads that run the
    /// sandbox.
    pub stack_bytes: usize,
    /// Bytes of captured console output kept per run. Log lines live in host memory,
    /// outside the JavaScript heap limit, so they need their own bound.
    pub log_bytes: usize,
    /// Host calls one run may have in flight at once. Each is a tokio task on the host,
    /// so a loop firing calls without awaiting them must not be able to spawn without
    /// bound.
    pub host_calls_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            wall_clock: Duration::from_secs(10),
            memory_bytes: 128 * 1024 * 1024,
            stack_bytes: 1024 * 1024,
            log_bytes: 1024 * 1024,
            host_calls_in_flight: 256,
        }
    }
}
