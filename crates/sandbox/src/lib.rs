//! Sandboxed JavaScript for Membrane `javascript` connector functions, `run-javascript`
//! actions and flow nodes.
//!
//! This crate owns running untrusted user code: a module whose default export is an
//! (async) function of one argument, called with JSON plus host objects, returning
//! JSON. It owns no I/O: whatever user code may reach (an API client, the engine's API)
//! comes in as [`HostApi`] closures supplied by the caller.
//!
//! # What user code gets
//!
//! The ECMAScript built-ins, `console` (captured, see [`LogEntry`]) and the host objects
//! placed on its argument: each as its methods, or as whatever the object's JavaScript
//! decorator built over them ([`HostObject::decorator`]; how chained clients such as
//! `membrane.connection(c).action(a).run(input)` are offered over flat host methods,
//! under the run's own limits). No `require`, no imports (any `import` or `import()`
//! fails), no file system, process, network or timers.
//!
//! # Results
//!
//! The default export's return value (awaited if a promise) is serialised exactly as
//! `JSON.stringify` does it, with one addition: `undefined` becomes `null`. A function
//! or symbol result, a BigInt anywhere, or a cycle is [`Failure::NonJsonResult`].
//!
//! # Failures
//!
//! Every failure is a [`SandboxError`] carrying the logs so far;
//! [`SandboxError::to_error_data`] gives Membrane's `custom_code` error body. Limits
//! ([`Limits`]): wall clock (QuickJS interrupt handler, and a deadline on waits for host
//! calls), heap bytes, native stack, log bytes and host calls in flight. A promise that
//! is pending with nothing left to settle it fails at once ([`Failure::NeverSettled`]);
//! one waiting on a host call that never answers fails at the wall-clock limit. A
//! rejected promise nobody handles fails the run, as Node would end its process.
//!
//! # Engine choice
//!
//! QuickJS (via `rquickjs` 0.14, which compiles QuickJS-ng's C sources with `cc`; no
//! prebuilt download). V8 bindings cannot build on these machines; Boa 0.22 (pure Rust)
//! was measured beside it with the same trivial async default export, release build,
//! one thread (`bench/sandbox/engine-probe`):
//!
//! | engine | cold start: runtime + context + module + call | warm call (same context) |
//! |---|---|---|
//! | QuickJS (rquickjs 0.14) | 64 µs | 0.9 µs |
//! | Boa 0.22 | 339 µs | 4.8 µs |
//!
//! QuickJS is 5x faster on both, and has what the limits need: an interrupt handler,
//! a pluggable allocator, a native-stack limit and a promise-rejection tracker. The
//! runner's own figures (with the thread hop and JSON conversion) are in
//! `BENCHMARKS.md`, section "JavaScript sandbox": a full cold `run_module` took
//! 84–104 µs, 0.2–0.4 times a fresh Node `vm` context doing the same work in the same
//! run (target: under 5 ms); a warm call 1.7 µs, 2.2–2.4 times Node's.
//!
//! Each run gets a fresh runtime and context: the cold start is small enough that
//! isolation between runs costs little, so no context is reused.
//!
//! # Threads
//!
//! [`Sandbox::run_module`] runs the code on a tokio blocking thread, so a busy script
//! never stalls the async executor; host futures run on the caller's runtime and their
//! replies come back through a channel to the JavaScript thread's event loop.
//! rquickjs's async runtime was the alternative: it saves the thread hop (about 23 µs of
//! the ~100 µs cold start, measured in the bench) but executes JavaScript inside `poll`, so a
//! script spinning until its 10 s limit would hold an executor worker for all of it.

mod console;
mod decorator;
mod error;
mod heap_budget;
mod host;
mod limits;
mod run;
mod sandbox;
mod values;

pub use console::{LogEntry, LogLevel};
pub use error::{Failure, SandboxError};
pub use host::{HostApi, HostError, HostFuture, HostMethod, HostObject, HostScope};
pub use limits::Limits;
pub use sandbox::{RunOutput, Sandbox};
