//! The registry of host functions a run may call: named objects whose methods are async
//! Rust closures over JSON.
//!
//! The sandbox owns no I/O. Whatever user code may reach outside itself (an API client,
//! the engine's own API) is handed in here by the caller, one [`HostObject`] per name,
//! and appears to JavaScript as a property of the run's argument whose methods return
//! promises.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

/// A host method's future: JSON in, JSON or a [`HostError`] out.
pub type HostFuture = Pin<Box<dyn Future<Output = Result<Value, HostError>> + Send + 'static>>;

/// One host method. Arguments arrive as JSON, one entry per JavaScript argument
/// (`undefined` becomes `null`).
pub type HostMethod = Arc<dyn Fn(Vec<Value>) -> HostFuture + Send + Sync>;

/// A failure reported by a host method. It rejects the JavaScript promise with an
/// `Error` whose `message` is [`HostError::message`] and, when present, whose `data`
/// property holds [`HostError::data`] (for example an HTTP response the user code may
/// want to inspect).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct HostError {
    pub message: String,
    pub data: Option<Value>,
}

impl HostError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(message: impl Into<String>, data: Value) -> Self {
        Self {
            message: message.into(),
            data: Some(data),
        }
    }
}

/// A named set of async methods, exposed to JavaScript as one object, optionally
/// reshaped by a JavaScript decorator (see [`HostObject::decorator`]).
#[derive(Clone, Default)]
pub struct HostObject {
    pub(crate) methods: BTreeMap<String, HostMethod>,
    pub(crate) decorator: Option<Cow<'static, str>>,
}

impl HostObject {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a method. The closure is called on the JavaScript thread and must return
    /// quickly; its future runs on the tokio runtime that called
    /// [`crate::Sandbox::run_module`].
    pub fn method<F, Fut>(mut self, name: impl Into<String>, method: F) -> Self
    where
        F: Fn(Vec<Value>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, HostError>> + Send + 'static,
    {
        let method: HostMethod = Arc::new(move |args| Box::pin(method(args)));
        self.methods.insert(name.into(), method);
        self
    }

    pub fn method_names(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(String::as_str)
    }

    /// Whether `other` is a clone of this object: the very same methods and
    /// decorator.
    pub(crate) fn same_as(&self, other: &HostObject) -> bool {
        self.decorator == other.decorator
            && self.methods.len() == other.methods.len()
            && self
                .methods
                .iter()
                .zip(&other.methods)
                .all(|((a, f), (b, g))| a == b && Arc::ptr_eq(f, g))
    }

    /// Sets the object's decorator: the source of a JavaScript function expression,
    /// `(object) => …`. Each run calls it with a fresh object holding the host
    /// methods and places what it returns (which must be an object, not a promise) on
    /// the argument instead.
    ///
    /// Why: host methods are flat, one Rust closure per name, and some clients user
    /// code expects are not (`membrane.connection(c).action(a).run(input)`). Writing
    /// their shape in JavaScript over a few generic host methods keeps the Rust side
    /// small, and lets the chains be built the way the library the code was written
    /// against builds them.
    ///
    /// The source is host code: it is compiled once per process (to bytecode, in a
    /// runtime of its own, outside any run's limits) and meant to be a constant. Once
    /// running it is no more trusted than the user's code: each run evaluates and
    /// calls it in its own context, under the run's limits (wall clock, heap, stack),
    /// and it reaches nothing but the methods it is given, so every check belongs in
    /// those methods. It runs before the user module is evaluated, so user code cannot
    /// tamper with it while it builds the object. A decorator that does not compile,
    /// throws or returns something else fails the run
    /// ([`crate::Failure::HostObjectSetup`]); one that hits a limit fails it as that
    /// limit.
    pub fn decorator(mut self, source: impl Into<Cow<'static, str>>) -> Self {
        self.decorator = Some(source.into());
        self
    }
}

impl fmt::Debug for HostObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostObject")
            .field("methods", &self.methods.keys().collect::<Vec<_>>())
            .field("decorated", &self.decorator.is_some())
            .finish()
    }
}

/// Wraps every host call's future before it is spawned. Host calls run as tasks of
/// their own, so whatever the caller keeps in task-local context (the trace of the
/// action run the code belongs to) would be lost without it.
pub type HostScope = Arc<dyn Fn(HostFuture) -> HostFuture + Send + Sync>;

/// The host objects of one run, by the property name they take on the argument
/// (e.g. `apiClient`, `externalApiClient`).
#[derive(Clone, Default)]
pub struct HostApi {
    pub(crate) objects: BTreeMap<String, HostObject>,
    pub(crate) scope: Option<HostScope>,
}

impl fmt::Debug for HostApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostApi")
            .field("objects", &self.objects)
            .field("scoped", &self.scope.is_some())
            .finish()
    }
}

impl HostApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an object. A name already present in the argument JSON is replaced by the
    /// host object. One object added under several names (clones of one
    /// [`HostObject`], as `membrane` and its alias `engineApiClient`) is one JavaScript
    /// object under all of them, built (and decorated) once per run.
    pub fn object(mut self, name: impl Into<String>, object: HostObject) -> Self {
        self.objects.insert(name.into(), object);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Runs every host call's future inside `scope` (see [`HostScope`]).
    pub fn with_scope(mut self, scope: HostScope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Adds every object of `other`; its objects (and its scope, if it has one)
    /// replace same-named ones here.
    pub fn merge(mut self, other: HostApi) -> Self {
        self.objects.extend(other.objects);
        if other.scope.is_some() {
            self.scope = other.scope;
        }
        self
    }
}
