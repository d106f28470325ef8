//! Host object decorators ([`crate::HostObject::decorator`]) compiled once per
//! process.
//!
//! A decorator is host code, and may be large: the `membrane` client is ~20 KB, and
//! parsing it in every run took ~1.3 ms (release build), ten times the rest of a cold
//! run. So each `(object name, source)` is compiled once, in a runtime of its own, to
//! QuickJS bytecode (a module whose default export is the decorator), and each run
//! loads that bytecode instead: ~0.1 ms for the same client. Only the compile is
//! shared: every run still gets its own decorator function, evaluated and called in
//! its own context under its own limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rquickjs::{Context, Module, Runtime, WriteOptions};

use crate::run::Intrinsics;
use crate::values::describe_thrown;

/// How many compiled decorators are kept. Decorators are meant to be constants of
/// the host; past this many distinct ones (a caller building sources on the fly),
/// the extra ones are compiled on every run instead of filling memory.
const MAX_CACHED: usize = 64;

type Key = (String, String);

fn cache() -> &'static Mutex<HashMap<Key, Arc<[u8]>>> {
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<[u8]>>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The module name a decorator's stack frames show.
pub(crate) fn module_name(object: &str) -> String {
    format!("host/{object}.js")
}

/// The bytecode of the module `export default (<source>);` for host object
/// `object`, or the compile error (`"SyntaxError: …"`, with the stack).
pub(crate) fn bytecode(object: &str, source: &str) -> Result<Arc<[u8]>, (String, Option<String>)> {
    let key = (object.to_owned(), source.to_owned());
    if let Some(bytes) = cache().lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(Arc::clone(bytes));
    }
    let bytes: Arc<[u8]> = compile(object, source)?.into();
    let mut cache = cache().lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() < MAX_CACHED {
        cache.insert(key, Arc::clone(&bytes));
    }
    Ok(bytes)
}

fn compile(object: &str, source: &str) -> Result<Vec<u8>, (String, Option<String>)> {
    let engine = |e: rquickjs::Error| (format!("the JavaScript engine failed: {e}"), None);
    let runtime = Runtime::new().map_err(engine)?;
    let context = Context::custom::<Intrinsics>(&runtime).map_err(engine)?;
    context.with(|ctx| {
        // The newlines keep a trailing line comment in the source from eating the
        // closing parenthesis.
        let module_source = format!("export default (\n{source}\n);\n");
        let module = Module::declare(ctx.clone(), module_name(object), module_source);
        let module = match module {
            Ok(module) => module,
            Err(rquickjs::Error::Exception) => {
                let thrown = describe_thrown(&ctx, ctx.catch());
                let message = match thrown.name {
                    Some(name) => format!("{name}: {}", thrown.message),
                    None => thrown.message,
                };
                return Err((message, thrown.stack));
            }
            Err(other) => return Err(engine(other)),
        };
        module
            .write(WriteOptions {
                strip_source: true,
                ..WriteOptions::default()
            })
            .map_err(engine)
    })
}
