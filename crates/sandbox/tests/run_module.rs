//! Behaviour of `Sandbox::run_module`: results, console capture, host calls, every
//! limit and failure, and runs side by side.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use osmosis_sandbox::{
    Failure, HostApi, HostError, HostObject, Limits, LogEntry, LogLevel, RunOutput, Sandbox,
    SandboxError,
};
use serde_json::{json, Value};

fn sandbox() -> Sandbox {
    Sandbox::new(Limits {
        wall_clock: Duration::from_millis(500),
        memory_bytes: 32 * 1024 * 1024,
        ..Limits::default()
    })
}

async fn run(source: &str, argument: Value) -> Result<RunOutput, SandboxError> {
    sandbox().run_module(source, argument, HostApi::new()).await
}

async fn result_of(source: &str, argument: Value) -> Value {
    match run(source, argument).await {
        Ok(output) => output.result,
        Err(error) => panic!("run failed: {error} ({:?})", error.failure),
    }
}

async fn failure_of(source: &str) -> SandboxError {
    match run(source, json!({})).await {
        Ok(output) => panic!("run succeeded with {}", output.result),
        Err(error) => error,
    }
}

/// An API client whose methods echo what they were called with.
fn echo_client() -> HostObject {
    let mut object = HostObject::new();
    for verb in ["get", "post", "put", "patch", "delete"] {
        object = object.method(verb, move |args: Vec<Value>| async move {
            Ok(json!({ "method": verb, "args": args }))
        });
    }
    object
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_default_export_gets_the_argument_and_returns_json() {
    let result = result_of(
        "export default async function({ input }) { return { doubled: input.n * 2, list: [1, 'a', null] }; }",
        json!({ "input": { "n": 21 } }),
    )
    .await;
    assert_eq!(result, json!({ "doubled": 42, "list": [1, "a", null] }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_default_export_and_top_level_await_work() {
    let result = result_of(
        "const base = await Promise.resolve(40);\nexport default ({ input }) => base + input;",
        json!({ "input": 2 }),
    )
    .await;
    assert_eq!(result, json!(42));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undefined_result_is_null_and_json_stringify_rules_apply_inside() {
    assert_eq!(
        result_of("export default async () => {}", json!({})).await,
        Value::Null
    );
    let result = result_of(
        "export default () => ({ f() {}, u: undefined, n: NaN, d: new Date(0), arr: [undefined, () => 1] })",
        json!({}),
    )
    .await;
    assert_eq!(
        result,
        json!({ "n": null, "d": "1970-01-01T00:00:00.000Z", "arr": [null, null] })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_output_is_captured_with_levels_and_node_formatting() {
    let output = run(
        r#"export default async () => {
            console.log("plain", { a: [1, "x"] }, 42, true, undefined, null);
            console.info("info");
            console.warn("warn", 1.5);
            console.error(new TypeError("bad"));
            console.debug(() => 1, function named() {}, 10n, Symbol("s"));
            return 1;
        }"#,
        json!({}),
    )
    .await
    .expect("run succeeds");
    assert_eq!(output.result, json!(1));
    let levels: Vec<LogLevel> = output.logs.iter().map(|l| l.level).collect();
    assert_eq!(
        levels,
        [
            LogLevel::Log,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Debug
        ]
    );
    assert_eq!(
        output.logs[0].message,
        r#"plain {"a":[1,"x"]} 42 true undefined null"#
    );
    assert_eq!(output.logs[1].message, "info");
    assert_eq!(output.logs[2].message, "warn 1.5");
    assert!(
        output.logs[3].message.starts_with("TypeError: bad\n"),
        "{}",
        output.logs[3].message
    );
    assert!(output.logs[3].message.contains("user.js"));
    assert_eq!(
        output.logs[4].message,
        "[Function (anonymous)] [Function: named] 10n Symbol(s)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_output_past_the_budget_is_cut() {
    let sandbox = Sandbox::new(Limits {
        log_bytes: 100,
        ..Limits::default()
    });
    let output = sandbox
        .run_module(
            "export default () => { for (let i = 0; i < 1000; i++) console.log('0123456789'); return 'done'; }",
            json!({}),
            HostApi::new(),
        )
        .await
        .expect("run succeeds");
    assert_eq!(output.result, json!("done"));
    assert_eq!(output.logs.len(), 11);
    assert!(output.logs[10].message.contains("exceeded 100 bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_error_carries_message_stack_and_logs_up_to_the_throw() {
    let error = failure_of(
        "function inner() { throw new Error('boom'); }\nexport default async () => { console.log('before'); inner(); }",
    )
    .await;
    let Failure::Thrown {
        name,
        message,
        stack,
    } = &error.failure
    else {
        panic!("expected a thrown error, got {:?}", error.failure);
    };
    assert_eq!(name.as_deref(), Some("Error"));
    assert_eq!(message, "boom");
    let stack = stack.as_deref().expect("an Error has a stack");
    assert!(stack.starts_with("Error: boom\n"), "{stack}");
    assert!(
        stack.contains("inner") && stack.contains("user.js:1"),
        "{stack}"
    );
    assert_eq!(
        error.logs,
        [LogEntry {
            level: LogLevel::Log,
            message: "before".into()
        }]
    );

    let body = error.to_error_data();
    assert_eq!(body["type"], "custom_code");
    assert_eq!(body["message"], "boom");
    assert_eq!(body["data"]["stack"], json!(stack));
    assert_eq!(
        body["data"]["logs"],
        json!([{ "level": "log", "message": "before" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thrown_non_error_values_become_the_message() {
    let error = failure_of("export default () => { throw { code: 7 }; }").await;
    assert!(
        matches!(&error.failure, Failure::Thrown { message, stack: None, .. } if message == r#"{"code":7}"#),
        "{:?}",
        error.failure
    );
    let error = failure_of("export default async () => { throw 'plain'; }").await;
    assert_eq!(error.to_string(), "plain");
    assert_eq!(error.to_error_data()["data"]["stack"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_error_is_reported_as_such() {
    let error = failure_of("export default async () => { return (1 + ; }").await;
    let Failure::Syntax { message, stack } = &error.failure else {
        panic!("expected a syntax error, got {:?}", error.failure);
    };
    assert!(!message.is_empty());
    assert!(
        stack.as_deref().unwrap_or("").contains("user.js"),
        "{stack:?}"
    );
    assert_eq!(error.to_error_data()["type"], "custom_code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_fail_static_and_dynamic() {
    let error = failure_of("import fs from 'fs';\nexport default () => fs;").await;
    assert!(
        error.to_string().contains("imports are not available"),
        "{error}"
    );

    let error = failure_of(
        "export default async () => { const m = await import('./other.js'); return 1; }",
    )
    .await;
    assert!(
        error.to_string().contains("imports are not available"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_ecmascript_built_ins_console_and_host_objects_exist() {
    let result = result_of(
        r#"export default () => ["require", "process", "fetch", "setTimeout", "performance",
            "atob", "std", "os", "module", "exports", "Deno", "Bun"].filter(n => typeof globalThis[n] !== "undefined")"#,
        json!({}),
    )
    .await;
    assert_eq!(result, json!([]));
    let error = failure_of("export default () => require('fs')").await;
    assert!(
        matches!(&error.failure, Failure::Thrown { name: Some(n), .. } if n == "ReferenceError"),
        "{:?}",
        error.failure
    );
    let result = result_of(
        "export default () => [typeof Map, typeof Proxy, typeof JSON.parse, typeof Uint8Array, typeof WeakRef, /a+/.test('caa'), typeof console.log]",
        json!({}),
    )
    .await;
    assert_eq!(
        result,
        json!(["function", "function", "function", "function", "function", true, "function"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_hits_the_wall_clock_limit_with_logs() {
    let error =
        failure_of("export default () => { console.log('spinning'); while (true) {} }").await;
    assert!(
        matches!(error.failure, Failure::TimedOut { limit } if limit == Duration::from_millis(500)),
        "{:?}",
        error.failure
    );
    assert_eq!(error.logs.len(), 1);
    assert_eq!(
        error.to_error_data()["message"],
        "the code ran past the wall-clock limit of 500 ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_microtasks_and_catching_the_interrupt_still_time_out() {
    let error = failure_of("export default async () => { while (true) { await null; } }").await;
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );

    let error = failure_of(
        "export default () => { for (;;) { try { while (true) {} } catch (e) { console.log('caught'); } } }",
    )
    .await;
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );
    assert!(
        error.logs.is_empty(),
        "the interrupt is not catchable: {:?}",
        error.logs
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catastrophic_regex_backtracking_times_out() {
    let error = failure_of("export default () => /(a+)+$/.test('a'.repeat(64) + 'b')").await;
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_loop_in_module_body_times_out() {
    let error = failure_of("while (true) {}\nexport default () => 1;").await;
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runaway_allocation_hits_the_memory_limit() {
    let error = failure_of(
        "export default () => { const keep = []; while (true) { keep.push('x'.repeat(1 << 16) + keep.length); } }",
    )
    .await;
    assert!(
        matches!(error.failure, Failure::OutOfMemory { limit } if limit == 32 * 1024 * 1024),
        "{:?}",
        error.failure
    );

    let error = failure_of(
        "export default () => { const keep = []; while (true) keep.push(new Float64Array(1 << 17)); }",
    )
    .await;
    assert!(
        matches!(error.failure, Failure::OutOfMemory { .. }),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_is_a_stack_overflow_error_not_a_crash() {
    let error =
        failure_of("function f(n) { return f(n + 1) + 1; }\nexport default () => f(0);").await;
    assert!(
        matches!(&error.failure, Failure::Thrown { name: Some(name), message, .. }
            if name == "RangeError" && message == "Maximum call stack size exceeded"),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promise_that_nothing_can_settle_fails_at_once() {
    let error = failure_of("export default () => new Promise(() => {})").await;
    assert!(
        matches!(error.failure, Failure::NeverSettled),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_call_that_never_answers_hits_the_wall_clock_limit() {
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new().method("get", |_args: Vec<Value>| std::future::pending()),
    );
    let error = sandbox()
        .run_module(
            "export default async ({ apiClient }) => { console.log('calling'); return await apiClient.get('/slow'); }",
            json!({}),
            host,
        )
        .await
        .expect_err("the call never answers");
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );
    assert_eq!(error.logs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_json_results_are_refused() {
    for (source, reason) in [
        ("export default () => function f() {}", "a function"),
        ("export default async () => Symbol('s')", "a symbol"),
        ("export default () => ({ big: 10n })", "BigInt"),
        (
            "export default () => { const a = {}; a.self = a; return a; }",
            "circular",
        ),
    ] {
        let error = failure_of(source).await;
        let Failure::NonJsonResult { reason: got } = &error.failure else {
            panic!(
                "{source}: expected a non-JSON failure, got {:?}",
                error.failure
            );
        };
        assert!(
            got.to_lowercase().contains(&reason.to_lowercase()),
            "{source}: {got}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_promise_and_unhandled_rejection_fail_the_run() {
    let error =
        failure_of("export default async () => { await Promise.reject(new RangeError('nope')); }")
            .await;
    assert!(
        matches!(&error.failure, Failure::Thrown { name: Some(n), message, .. } if n == "RangeError" && message == "nope"),
        "{:?}",
        error.failure
    );

    let error = failure_of(
        "export default async () => { Promise.reject(new Error('forgotten')); await null; await null; return 1; }",
    )
    .await;
    assert!(
        matches!(&error.failure, Failure::UnhandledRejection { message, stack: Some(_) } if message == "forgotten"),
        "{:?}",
        error.failure
    );
    assert!(error.to_string().starts_with("unhandled promise rejection"));

    // A rejection handled before the job queue runs dry is not unhandled.
    let result = result_of(
        "export default async () => { const p = Promise.reject(new Error('late')); await null; return await p.catch(e => e.message); }",
        json!({}),
    )
    .await;
    assert_eq!(result, json!("late"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_methods_are_called_with_json_and_resolve_with_json() {
    let host = HostApi::new().object("apiClient", echo_client());
    let output = sandbox()
        .run_module(
            r#"export default async ({ input, apiClient }) => {
                const one = await apiClient.get("/users", undefined, { query: { limit: input.limit } });
                const [two, three] = await Promise.all([
                    apiClient.post("/users", { name: "Ada" }),
                    apiClient.delete("/users/1"),
                ]);
                return { one, two, three, names: Object.keys(apiClient).sort() };
            }"#,
            json!({ "input": { "limit": 5 } }),
            host,
        )
        .await
        .expect("run succeeds");
    assert_eq!(
        output.result,
        json!({
            "one": { "method": "get", "args": ["/users", null, { "query": { "limit": 5 } }] },
            "two": { "method": "post", "args": ["/users", { "name": "Ada" }] },
            "three": { "method": "delete", "args": ["/users/1"] },
            "names": ["delete", "get", "patch", "post", "put"],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_errors_reject_with_a_js_error_carrying_message_and_data() {
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new().method("get", |args: Vec<Value>| async move {
            Err(HostError::with_data(
                format!("GET {} failed with 404", args[0].as_str().unwrap_or("?")),
                json!({ "status": 404 }),
            ))
        }),
    );
    let output = sandbox()
        .run_module(
            r#"export default async ({ apiClient }) => {
                try { await apiClient.get("/missing"); return "no error"; }
                catch (e) { return { isError: e instanceof Error, message: e.message, data: e.data }; }
            }"#,
            json!({}),
            host.clone(),
        )
        .await
        .expect("run succeeds");
    assert_eq!(
        output.result,
        json!({ "isError": true, "message": "GET /missing failed with 404", "data": { "status": 404 } })
    );

    let error = sandbox()
        .run_module(
            "export default async ({ apiClient }) => apiClient.get('/gone')",
            json!({}),
            host,
        )
        .await
        .expect_err("the rejection is not caught");
    assert!(
        matches!(&error.failure, Failure::Thrown { message, .. } if message == "GET /gone failed with 404"),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_call_arguments_that_are_not_json_reject_with_a_type_error() {
    let called = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&called);
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new().method("post", move |_args: Vec<Value>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(Value::Null) }
        }),
    );
    let output = sandbox()
        .run_module(
            r#"export default async ({ apiClient }) => {
                const a = {}; a.a = a;
                const out = [];
                for (const arg of [a, 1n]) {
                    try { await apiClient.post("/x", arg); out.push("sent"); }
                    catch (e) { out.push(e.name); }
                }
                return out;
            }"#,
            json!({}),
            host,
        )
        .await
        .expect("run succeeds");
    assert_eq!(output.result, json!(["TypeError", "TypeError"]));
    assert_eq!(called.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_host_method_rejects_its_call_only() {
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new()
            .method(
                "now",
                |_args: Vec<Value>| -> std::future::Ready<Result<Value, HostError>> {
                    panic!("host bug before the future")
                },
            )
            .method("later", |_args: Vec<Value>| async move {
                if true {
                    panic!("host bug inside the future");
                }
                Ok(Value::Null)
            }),
    );
    let output = sandbox()
        .run_module(
            r#"export default async ({ apiClient }) => {
                const out = [];
                for (const call of [() => apiClient.now(), () => apiClient.later()]) {
                    try { await call(); out.push("answered"); } catch (e) { out.push(e.message); }
                }
                return out;
            }"#,
            json!({}),
            host,
        )
        .await
        .expect("run succeeds");
    assert_eq!(
        output.result,
        json!([
            "host method now panicked",
            "host method later failed without answering"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_calls_in_flight_are_bounded() {
    let sandbox = Sandbox::new(Limits {
        host_calls_in_flight: 3,
        ..Limits::default()
    });
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new().method("get", |args: Vec<Value>| async move { Ok(args[0].clone()) }),
    );
    let output = sandbox
        .run_module(
            r#"export default async ({ apiClient }) => {
                const settled = await Promise.allSettled([1, 2, 3, 4, 5].map(n => apiClient.get(n)));
                return settled.map(s => s.status === "fulfilled" ? s.value : s.reason.message);
            }"#,
            json!({}),
            host,
        )
        .await
        .expect("run succeeds");
    let result = output.result.as_array().expect("an array").clone();
    assert_eq!(&result[..3], &[json!(1), json!(2), json!(3)]);
    for refused in &result[3..] {
        assert!(
            refused
                .as_str()
                .unwrap_or("")
                .contains("too many host calls"),
            "{refused}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_objects_need_an_object_argument_and_default_export_must_be_a_function() {
    let error = sandbox()
        .run_module(
            "export default () => 1",
            json!([1]),
            HostApi::new().object("apiClient", echo_client()),
        )
        .await
        .expect_err("an array cannot carry host objects");
    assert!(matches!(error.failure, Failure::ArgumentNotObject));

    let error = failure_of("export default 42;").await;
    assert!(
        matches!(error.failure, Failure::NoDefaultExport { .. }),
        "{:?}",
        error.failure
    );
    let error = failure_of("export const x = 1;").await;
    assert!(
        matches!(error.failure, Failure::NoDefaultExport { .. }),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_runs_each_get_their_own_result() {
    let host = HostApi::new().object("apiClient", echo_client());
    let mut tasks = Vec::new();
    for n in 0..50 {
        let host = host.clone();
        tasks.push(tokio::spawn(async move {
            sandbox()
                .run_module(
                    r#"globalThis.seen = (globalThis.seen ?? 0) + 1;
                    export default async ({ input, apiClient }) => {
                        const echoed = await apiClient.get("/n", input.n);
                        console.log("run", input.n);
                        return { n: echoed.args[1] * 10, seen: globalThis.seen };
                    }"#,
                    json!({ "input": { "n": n } }),
                    host,
                )
                .await
        }));
    }
    for (n, task) in tasks.into_iter().enumerate() {
        let output = task.await.expect("task joins").expect("run succeeds");
        assert_eq!(output.result, json!({ "n": n * 10, "seen": 1 }));
        assert_eq!(output.logs[0].message, format!("run {n}"));
    }
}

/// A runaway script must neither starve the async executor nor disturb a healthy run
/// next to it: on a single-threaded tokio runtime, the healthy run's host call can only
/// complete if the runaway is off the executor thread.
#[tokio::test(flavor = "current_thread")]
async fn runaway_run_does_not_disturb_a_concurrent_healthy_one() {
    let runaway = tokio::spawn(async {
        Sandbox::new(Limits {
            wall_clock: Duration::from_secs(2),
            ..Limits::default()
        })
        .run_module(
            "export default () => { while (true) {} }",
            json!({}),
            HostApi::new(),
        )
        .await
    });
    let hog = tokio::spawn(async {
        Sandbox::new(Limits {
            wall_clock: Duration::from_secs(2),
            memory_bytes: 16 * 1024 * 1024,
            ..Limits::default()
        })
        .run_module(
            "export default () => { const a = []; while (true) a.push({ n: a.length }); }",
            json!({}),
            HostApi::new(),
        )
        .await
    });
    let (tx, rx) = tokio::sync::oneshot::channel::<Value>();
    let answer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = tx.send(json!({ "ok": true }));
    });
    let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let host = HostApi::new().object(
        "apiClient",
        HostObject::new().method("get", move |_args: Vec<Value>| {
            let rx = Arc::clone(&rx);
            async move {
                let rx = rx.lock().await.take().expect("called once");
                rx.await.map_err(|_| HostError::new("sender dropped"))
            }
        }),
    );
    let healthy = Sandbox::new(Limits {
        wall_clock: Duration::from_secs(30),
        ..Limits::default()
    })
    .run_module(
        "export default async ({ apiClient }) => (await apiClient.get('/health')).ok",
        json!({}),
        host,
    )
    .await
    .expect("healthy run succeeds");
    assert_eq!(healthy.result, json!(true));
    answer.await.expect("answer task joins");

    let runaway = runaway
        .await
        .expect("task joins")
        .expect_err("runaway fails");
    assert!(
        matches!(runaway.failure, Failure::TimedOut { .. }),
        "{:?}",
        runaway.failure
    );
    let hog = hog.await.expect("task joins").expect_err("hog fails");
    assert!(
        matches!(hog.failure, Failure::OutOfMemory { .. }),
        "{:?}",
        hog.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_do_not_share_globals() {
    let first = result_of(
        "globalThis.leak = 'secret'; Object.prototype.polluted = 1; export default () => 1",
        json!({}),
    )
    .await;
    assert_eq!(first, json!(1));
    let second = result_of(
        "export default () => [typeof globalThis.leak, ({}).polluted ?? null]",
        json!({}),
    )
    .await;
    assert_eq!(second, json!(["undefined", null]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_run_future_cancels_the_run() {
    let started = Arc::new(tokio::sync::Notify::new());
    let notify = Arc::clone(&started);
    let host = HostApi::new().object(
        "signal",
        HostObject::new().method("started", move |_args: Vec<Value>| {
            notify.notify_one();
            async { Ok(Value::Null) }
        }),
    );
    let sandbox = Sandbox::new(Limits {
        wall_clock: Duration::from_secs(600),
        ..Limits::default()
    });
    let run = tokio::spawn(async move {
        sandbox
            .run_module(
                "export default async ({ signal }) => { await signal.started(); while (true) {} }",
                json!({}),
                host,
            )
            .await
    });
    started.notified().await;
    run.abort();
    assert!(run.await.expect_err("aborted").is_cancelled());
    // If cancellation did not reach the interpreter, the blocking thread would spin for
    // ten minutes and this test's runtime shutdown would wait on it.
}
