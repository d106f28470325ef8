//! One run on its own thread: a fresh QuickJS runtime and context, the user module
//! evaluated, its default export called, and the event loop that settles the promise by
//! running jobs and delivering host-call replies until the result is in, a limit is hit
//! or nothing is left that could settle it.
//!
//! Everything JavaScript lives and dies on the thread that calls [`run`]; host futures
//! run on the caller's tokio runtime and report back through a channel.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Instant;

use rquickjs::context::intrinsic;
use rquickjs::function::Rest;
use rquickjs::loader::{ImportAttributes, Loader, Resolver};
use rquickjs::module::Declared;
use rquickjs::promise::PromiseState;
use rquickjs::{
    Context, Ctx, Exception, Function, Module, Object, Persistent, Promise, Runtime, Value,
};
use tokio::task::JoinHandle;

use crate::console::{self, LogSink};
use crate::decorator;
use crate::error::{Failure, SandboxError};
use crate::heap_budget::BudgetAllocator;
use crate::host::{HostApi, HostError, HostMethod, HostObject};
use crate::values::{args_to_json, describe_thrown, json_to_js, result_to_json, NotJson};
use crate::{Limits, RunOutput};

/// The name user code sees in its stack frames.
const MODULE_NAME: &str = "user.js";

/// The ECMAScript built-ins, and nothing the host adds beyond them (no `performance`,
/// no `atob`, no `DOMException`). `Eval` is also what lets the engine compile the
/// module at all.
pub(crate) type Intrinsics = (
    intrinsic::Date,
    intrinsic::Eval,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Json,
    intrinsic::Proxy,
    intrinsic::MapSet,
    intrinsic::TypedArrays,
    intrinsic::Promise,
    intrinsic::WeakRef,
);

/// How often (in jobs) the job loop looks at the clock itself, for code that stays in
/// tiny microtasks the interrupt counter may not reach between deadlines.
const JOBS_PER_CLOCK_CHECK: usize = 256;

/// What reaches the JavaScript thread from outside while it waits.
pub(crate) enum Signal {
    Reply {
        id: u64,
        result: Result<serde_json::Value, HostError>,
    },
    Cancelled,
}

/// Everything one run needs, handed to the blocking thread.
pub(crate) struct Job {
    pub source: String,
    pub argument: serde_json::Value,
    pub host: HostApi,
    pub limits: Limits,
    pub tokio: tokio::runtime::Handle,
    pub signals: Sender<Signal>,
    pub inbox: Receiver<Signal>,
    pub cancelled: Arc<AtomicBool>,
}

/// Runs a job to completion on the current thread. Blocks: call it from a blocking
/// thread.
pub(crate) fn run(job: Job) -> Result<RunOutput, SandboxError> {
    let deadline = Instant::now() + job.limits.wall_clock;
    let logs = Rc::new(RefCell::new(LogSink::new(job.limits.log_bytes)));
    let outcome = run_in_fresh_runtime(&job, deadline, &logs);
    let logs = logs.borrow_mut().take();
    match outcome {
        Ok(result) => Ok(RunOutput { result, logs }),
        Err(failure) => Err(SandboxError::new(failure, logs)),
    }
}

fn run_in_fresh_runtime(
    job: &Job,
    deadline: Instant,
    logs: &Rc<RefCell<LogSink>>,
) -> Result<serde_json::Value, Failure> {
    let heap_refused = Rc::new(Cell::new(false));
    let runtime = Runtime::new_with_alloc(BudgetAllocator::new(
        job.limits.memory_bytes,
        Rc::clone(&heap_refused),
    ))
    .map_err(Failure::Engine)?;
    runtime.set_max_stack_size(job.limits.stack_bytes);
    runtime.set_loader(NoImports, NoImports);

    let interrupted = Rc::new(Cell::new(false));
    {
        let interrupted = Rc::clone(&interrupted);
        let cancelled = Arc::clone(&job.cancelled);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if cancelled.load(Ordering::Relaxed) || Instant::now() >= deadline {
                interrupted.set(true);
            }
            interrupted.get()
        })));
    }

    let rejections: Rc<RefCell<Vec<Rejection>>> = Rc::default();
    {
        let rejections = Rc::clone(&rejections);
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            move |ctx: Ctx<'_>, promise: Value<'_>, reason: Value<'_>, is_handled: bool| {
                let mut rejections = rejections.borrow_mut();
                if is_handled {
                    rejections.retain(|r| !r.is(&ctx, &promise));
                } else {
                    rejections.push(Rejection {
                        promise: Persistent::save(&ctx, promise),
                        reason: Persistent::save(&ctx, reason),
                    });
                }
            },
        )));
    }

    let context = Context::custom::<Intrinsics>(&runtime).map_err(Failure::Engine)?;
    let outcome = context.with(|ctx| {
        let pending = Rc::new(RefCell::new(PendingCalls::default()));
        // Resolvers are JavaScript values and must not outlive this scope: QuickJS
        // refuses to free a runtime that still has references held from outside.
        let _release = ReleaseOnDrop {
            pending: Rc::clone(&pending),
            rejections: Rc::clone(&rejections),
        };
        let execution = Execution {
            ctx: ctx.clone(),
            job,
            deadline,
            interrupted: &interrupted,
            heap_refused: &heap_refused,
            rejections: &rejections,
            pending,
            settled_by_us: Vec::new(),
        };
        execution.run(logs)
    });
    drop(context);
    drop(runtime);
    outcome
}

/// A promise that was rejected while nothing handled it.
struct Rejection {
    promise: Persistent<Value<'static>>,
    reason: Persistent<Value<'static>>,
}

impl Rejection {
    fn is<'js>(&self, ctx: &Ctx<'js>, promise: &Value<'js>) -> bool {
        self.promise
            .clone()
            .restore(ctx)
            .is_ok_and(|mine| &mine == promise)
    }
}

/// Sends a host call's reply exactly once: with the result, or, if the future panicked
/// or was dropped before finishing, with an error, so the run does not wait for a reply
/// that cannot come.
struct ReplyOnce {
    id: u64,
    /// Taken by the first reply.
    signals: Option<Sender<Signal>>,
    method: String,
}

impl ReplyOnce {
    fn send(&mut self, result: Result<serde_json::Value, HostError>) {
        if let Some(signals) = self.signals.take() {
            // The run may have ended already; its reply is then moot.
            let _ = signals.send(Signal::Reply {
                id: self.id,
                result,
            });
        }
    }
}

impl Drop for ReplyOnce {
    fn drop(&mut self) {
        let message = format!("host method {} failed without answering", self.method);
        self.send(Err(HostError::new(message)));
    }
}

struct PendingCall<'js> {
    resolve: Function<'js>,
    reject: Function<'js>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct PendingCalls<'js> {
    next_id: u64,
    calls: HashMap<u64, PendingCall<'js>>,
}

/// Drops every JavaScript value held from Rust and aborts host calls still running once
/// the run is over, however it ended.
struct ReleaseOnDrop<'js> {
    pending: Rc<RefCell<PendingCalls<'js>>>,
    rejections: Rc<RefCell<Vec<Rejection>>>,
}

impl Drop for ReleaseOnDrop<'_> {
    fn drop(&mut self) {
        for (_, call) in self.pending.borrow_mut().calls.drain() {
            call.task.abort();
        }
        self.rejections.borrow_mut().clear();
    }
}

struct Execution<'a, 'js> {
    ctx: Ctx<'js>,
    job: &'a Job,
    deadline: Instant,
    interrupted: &'a Cell<bool>,
    /// Whether the heap budget ever refused an allocation.
    heap_refused: &'a Cell<bool>,
    rejections: &'a RefCell<Vec<Rejection>>,
    pending: Rc<RefCell<PendingCalls<'js>>>,
    /// Promises whose rejection this runner observes itself (the module's evaluation,
    /// the default export's result), so they are never "unhandled".
    settled_by_us: Vec<Value<'js>>,
}

impl<'js> Execution<'_, 'js> {
    fn run(mut self, logs: &Rc<RefCell<LogSink>>) -> Result<serde_json::Value, Failure> {
        let ctx = self.ctx.clone();
        console::install(&ctx, logs).map_err(|e| self.classify(e))?;
        let argument = self.argument()?;

        let module =
            Module::declare(ctx.clone(), MODULE_NAME, self.job.source.as_str()).map_err(|e| {
                match self.classify(e) {
                    Failure::Thrown {
                        name: Some(name),
                        message,
                        stack,
                    } if name == "SyntaxError" => Failure::Syntax { message, stack },
                    other => other,
                }
            })?;
        let (module, evaluation) = module.eval().map_err(|e| self.classify(e))?;
        self.settle(evaluation)?;

        let export: Value<'js> = module.get("default").map_err(|e| self.classify(e))?;
        let Some(function) = export.as_function().cloned() else {
            return Err(Failure::NoDefaultExport {
                found: export.type_name(),
            });
        };
        let returned: Value<'js> = function.call((argument,)).map_err(|e| self.classify(e))?;
        let value = match returned.as_promise().cloned() {
            Some(promise) => self.settle(promise)?,
            None => {
                self.drain_jobs()?;
                self.check_unhandled()?;
                returned
            }
        };
        match result_to_json(&ctx, value) {
            Ok(json) => Ok(json),
            Err(NotJson::Kind(kind)) => Err(Failure::NonJsonResult {
                reason: kind.to_owned(),
            }),
            Err(NotJson::Threw(thrown)) => Err(Failure::NonJsonResult {
                reason: format!("not serialisable ({})", thrown.message),
            }),
            Err(NotJson::Unreadable(message)) => Err(Failure::NonJsonResult {
                reason: format!("not readable back as JSON ({message})"),
            }),
            Err(NotJson::Engine(error)) => Err(self.classify(error)),
        }
    }

    /// The argument object with the host objects placed on it.
    fn argument(&mut self) -> Result<Value<'js>, Failure> {
        if !self.job.host.is_empty() && !self.job.argument.is_object() {
            return Err(Failure::ArgumentNotObject);
        }
        let argument = json_to_js(&self.ctx, &self.job.argument).map_err(|e| self.classify(e))?;
        let Some(target) = argument.as_object().filter(|_| !self.job.host.is_empty()) else {
            return Ok(argument);
        };
        let job = self.job;
        let mut built: Vec<(&HostObject, Value<'js>)> = Vec::new();
        for (name, object) in &job.host.objects {
            if let Some((_, value)) = built.iter().find(|(done, _)| done.same_as(object)) {
                target
                    .set(name.as_str(), value.clone())
                    .map_err(Failure::Engine)?;
                continue;
            }
            let js_object = Object::new(self.ctx.clone()).map_err(Failure::Engine)?;
            for (method_name, method) in &object.methods {
                let function = self
                    .host_function(method_name, Arc::clone(method))
                    .map_err(Failure::Engine)?;
                js_object
                    .set(method_name.as_str(), function)
                    .map_err(Failure::Engine)?;
            }
            let value = match &object.decorator {
                Some(source) => self.decorate(name, source, js_object)?,
                None => js_object.into_value(),
            };
            target
                .set(name.as_str(), value.clone())
                .map_err(Failure::Engine)?;
            built.push((object, value));
        }
        Ok(argument)
    }

    /// Evaluates a host object's decorator and calls it with the object (see
    /// `HostObject::decorator`); what it returns. The source is compiled once per
    /// process (`decorator`); evaluating and calling it happen here, in the run's
    /// context like any user code, so a limit it hits fails the run as that limit.
    /// Anything else that goes wrong is a [`Failure::HostObjectSetup`] naming the
    /// object.
    fn decorate(
        &mut self,
        name: &str,
        source: &str,
        object: Object<'js>,
    ) -> Result<Value<'js>, Failure> {
        let setup = |message: String, stack: Option<String>| Failure::HostObjectSetup {
            object: name.to_owned(),
            message,
            stack,
        };
        let as_setup = |failure: Failure| match failure {
            Failure::Thrown {
                name: Some(kind),
                message,
                stack,
            } => setup(format!("{kind}: {message}"), stack),
            Failure::Thrown { message, stack, .. } => setup(message, stack),
            other => other,
        };
        let bytecode =
            decorator::bytecode(name, source).map_err(|(message, stack)| setup(message, stack))?;
        // SAFETY: the bytes are what `Module::write` made of the source in this
        // process, with the same QuickJS.
        let module = unsafe { Module::load(self.ctx.clone(), &bytecode) }
            .map_err(|e| as_setup(self.classify(e)))?;
        let (module, evaluation) = module.eval().map_err(|e| as_setup(self.classify(e)))?;
        self.settle(evaluation).map_err(as_setup)?;
        let decorator: Value<'js> = module
            .get("default")
            .map_err(|e| as_setup(self.classify(e)))?;
        let Some(function) = decorator.as_function() else {
            return Err(setup(
                format!(
                    "the decorator is not a function (it is {})",
                    decorator.type_name()
                ),
                None,
            ));
        };
        let decorated: Value<'js> = function
            .call((object,))
            .map_err(|e| as_setup(self.classify(e)))?;
        if decorated.is_promise() || !decorated.is_object() {
            return Err(setup(
                format!(
                    "the decorator must return an object (it returned {})",
                    decorated.type_name()
                ),
                None,
            ));
        }
        Ok(decorated)
    }

    /// A JavaScript function that starts the host method on tokio and returns a promise
    /// the event loop settles when the reply arrives.
    fn host_function(&self, name: &str, method: HostMethod) -> rquickjs::Result<Function<'js>> {
        let function_name = name.to_owned();
        let name = name.to_owned();
        let pending = Rc::clone(&self.pending);
        let tokio = self.job.tokio.clone();
        let signals = self.job.signals.clone();
        let in_flight_limit = self.job.limits.host_calls_in_flight;
        let scope = self.job.host.scope.clone();
        Function::new(
            self.ctx.clone(),
            move |ctx: Ctx<'js>, args: Rest<Value<'js>>| -> rquickjs::Result<Promise<'js>> {
                let (promise, resolve, reject) = ctx.promise()?;
                let args = match args_to_json(&ctx, args.0) {
                    Ok(args) => args,
                    Err(message) => {
                        let _ = Exception::throw_type(&ctx, &message);
                        reject.call::<_, ()>((ctx.catch(),))?;
                        return Ok(promise);
                    }
                };
                let mut pending = pending.borrow_mut();
                if pending.calls.len() >= in_flight_limit {
                    let error = Exception::from_message(
                        ctx.clone(),
                        &format!(
                            "too many host calls in flight: at most {in_flight_limit} may run at once"
                        ),
                    )?;
                    drop(pending);
                    reject.call::<_, ()>((error,))?;
                    return Ok(promise);
                }
                // A host method that panics must fail its call, not the run's thread.
                let Ok(future) = panic::catch_unwind(AssertUnwindSafe(|| method(args))) else {
                    drop(pending);
                    let error = Exception::from_message(
                        ctx.clone(),
                        &format!("host method {name} panicked"),
                    )?;
                    reject.call::<_, ()>((error,))?;
                    return Ok(promise);
                };
                let future = match &scope {
                    Some(scope) => scope(future),
                    None => future,
                };
                let id = pending.next_id;
                pending.next_id += 1;
                let mut reply = ReplyOnce {
                    id,
                    signals: Some(signals.clone()),
                    method: name.clone(),
                };
                let task = tokio.spawn(async move {
                    let result = future.await;
                    reply.send(result);
                });
                pending.calls.insert(
                    id,
                    PendingCall {
                        resolve,
                        reject,
                        task,
                    },
                );
                Ok(promise)
            },
        )?
        .with_name(function_name)
    }

    /// Drives the event loop until `promise` settles, and returns its value.
    fn settle(&mut self, promise: Promise<'js>) -> Result<Value<'js>, Failure> {
        self.settled_by_us.push(promise.clone().into_value());
        loop {
            self.drain_jobs()?;
            self.check_unhandled()?;
            match promise.state() {
                PromiseState::Resolved => {
                    return promise
                        .result::<Value<'js>>()
                        .unwrap_or(Ok(Value::new_undefined(self.ctx.clone())))
                        .map_err(|e| self.classify(e));
                }
                PromiseState::Rejected => {
                    let error = promise
                        .result::<Value<'js>>()
                        .and_then(Result::err)
                        .unwrap_or(rquickjs::Error::Exception);
                    return Err(self.classify(error));
                }
                PromiseState::Pending => {}
            }
            if self.pending.borrow().calls.is_empty() {
                return Err(Failure::NeverSettled);
            }
            self.wait_for_signal()?;
        }
    }

    fn drain_jobs(&self) -> Result<(), Failure> {
        let mut ran = 0usize;
        while self.ctx.execute_pending_job() {
            ran += 1;
            if self.interrupted.get()
                || (ran.is_multiple_of(JOBS_PER_CLOCK_CHECK) && Instant::now() >= self.deadline)
            {
                return Err(self.limit_failure());
            }
        }
        if self.interrupted.get() {
            return Err(self.limit_failure());
        }
        Ok(())
    }

    fn wait_for_signal(&self) -> Result<(), Failure> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        match self.job.inbox.recv_timeout(remaining) {
            Ok(Signal::Reply { id, result }) => self.deliver(id, result),
            Ok(Signal::Cancelled) => Err(Failure::Cancelled),
            Err(RecvTimeoutError::Timeout) => Err(Failure::TimedOut {
                limit: self.job.limits.wall_clock,
            }),
            // The run holds a sender itself, so the channel cannot close under it.
            Err(RecvTimeoutError::Disconnected) => Err(Failure::Cancelled),
        }
    }

    fn deliver(
        &self,
        id: u64,
        result: Result<serde_json::Value, HostError>,
    ) -> Result<(), Failure> {
        let Some(call) = self.pending.borrow_mut().calls.remove(&id) else {
            return Ok(());
        };
        let delivered = match result {
            Ok(json) => {
                json_to_js(&self.ctx, &json).and_then(|value| call.resolve.call::<_, ()>((value,)))
            }
            Err(host_error) => self
                .host_error(&host_error)
                .and_then(|error| call.reject.call::<_, ()>((error,))),
        };
        delivered.map_err(|e| self.classify(e))
    }

    fn host_error(&self, host_error: &HostError) -> rquickjs::Result<Exception<'js>> {
        let error = Exception::from_message(self.ctx.clone(), &host_error.message)?;
        if let Some(data) = &host_error.data {
            error.set("data", json_to_js(&self.ctx, data)?)?;
        }
        Ok(error)
    }

    /// Fails the run if a promise other than the ones this runner awaits was rejected
    /// and is still unhandled once the job queue is empty — the point where Node would
    /// raise `unhandledRejection`.
    fn check_unhandled(&self) -> Result<(), Failure> {
        let unhandled = {
            let rejections = self.rejections.borrow();
            rejections
                .iter()
                .find(|r| !self.settled_by_us.iter().any(|ours| r.is(&self.ctx, ours)))
                .map(|r| r.reason.clone())
        };
        let Some(reason) = unhandled else {
            return Ok(());
        };
        let reason = reason.restore(&self.ctx).map_err(Failure::Engine)?;
        let thrown = describe_thrown(&self.ctx, reason);
        Err(Failure::UnhandledRejection {
            message: thrown.message,
            stack: thrown.stack,
        })
    }

    fn limit_failure(&self) -> Failure {
        if self.job.cancelled.load(Ordering::Relaxed) {
            Failure::Cancelled
        } else {
            Failure::TimedOut {
                limit: self.job.limits.wall_clock,
            }
        }
    }

    /// Turns an engine error into the failure it stands for: a limit, or what user code
    /// threw.
    fn classify(&self, error: rquickjs::Error) -> Failure {
        if self.interrupted.get() {
            // Clear the uncatchable "interrupted" exception.
            let _ = self.ctx.catch();
            return self.limit_failure();
        }
        match error {
            rquickjs::Error::Exception => {
                let value = self.ctx.catch();
                // When even the "out of memory" error could not be allocated, what is
                // left to catch is a bare null.
                let bare = value.is_null() || value.is_undefined();
                let thrown = describe_thrown(&self.ctx, value);
                if is_out_of_memory(&thrown) || (bare && self.heap_refused.get()) {
                    Failure::OutOfMemory {
                        limit: self.job.limits.memory_bytes,
                    }
                } else {
                    Failure::Thrown {
                        name: thrown.name,
                        message: thrown.message,
                        stack: thrown.stack,
                    }
                }
            }
            rquickjs::Error::Allocation => Failure::OutOfMemory {
                limit: self.job.limits.memory_bytes,
            },
            other => Failure::Engine(other),
        }
    }
}

fn is_out_of_memory(thrown: &crate::values::Thrown) -> bool {
    thrown.name.as_deref() == Some("InternalError") && thrown.message == "out of memory"
}

/// Refuses every import: the user module is the only code a run may load.
struct NoImports;

const NO_IMPORTS: &str =
    "imports are not available in the sandbox; the module must be self-contained";

impl Resolver for NoImports {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        base: &str,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        Err(rquickjs::Error::new_resolving_message(
            base, name, NO_IMPORTS,
        ))
    }
}

impl Loader for NoImports {
    fn load<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js, Declared>> {
        Err(rquickjs::Error::new_loading_message(name, NO_IMPORTS))
    }
}
