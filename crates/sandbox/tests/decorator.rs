//! Host objects with a JavaScript decorator (`HostObject::decorator`): what the
//! decorator sees, the shapes it can build over the host methods, how its failures
//! end the run, and that it runs under the run's limits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use osmosis_sandbox::{
    Failure, HostApi, HostError, HostObject, Limits, RunOutput, Sandbox, SandboxError,
};
use serde_json::{json, Value};

fn sandbox() -> Sandbox {
    Sandbox::new(Limits {
        wall_clock: Duration::from_millis(500),
        memory_bytes: 32 * 1024 * 1024,
        ..Limits::default()
    })
}

/// An API client whose methods echo what they were called with, and whose `fail`
/// method refuses with data.
fn echo_client() -> HostObject {
    let mut object = HostObject::new();
    for verb in ["get", "post"] {
        object = object.method(verb, move |args: Vec<Value>| async move {
            Ok(json!({ "method": verb, "args": args }))
        });
    }
    object.method("fail", |args: Vec<Value>| async move {
        Err(HostError::with_data("refused", json!({ "args": args })))
    })
}

async fn run_decorated(decorator: &'static str, source: &str) -> Result<RunOutput, SandboxError> {
    let host = HostApi::new().object("apiClient", echo_client().decorator(decorator));
    sandbox().run_module(source, json!({}), host).await
}

async fn decorator_failure(decorator: &'static str) -> SandboxError {
    match run_decorated(
        decorator,
        "console.log('module ran');\nexport default () => 'user code ran'",
    )
    .await
    {
        Ok(output) => panic!("run succeeded with {}", output.result),
        Err(error) => error,
    }
}

/// A client in the style of an SDK: chained accessors over the flat methods, the
/// flat methods kept.
const CHAINED: &str = r#"(client) => ({
    get: client.get,
    post: client.post,
    seen: Object.keys(client).sort(),
    thing: (id) => ({
        get: () => client.get(`/things/${id}`),
        part: (key) => ({ run: (input) => client.post(`/things/${id}/parts/${key}/run`, input) }),
        fail: () => client.fail(id),
    }),
    things: { find: (query) => client.get('/things', query) },
}) // a trailing comment is fine"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decorator_sees_the_methods_and_its_accessors_call_them() {
    let output = run_decorated(
        CHAINED,
        r#"export default async ({ apiClient }) => {
            const one = await apiClient.thing('7').get();
            const two = await apiClient.thing('7').part('p').run({ n: 1 });
            const list = await apiClient.things.find({ limit: 2 });
            const flat = await apiClient.get('/flat');
            let failed;
            try { await apiClient.thing('8').fail(); } catch (e) { failed = { message: e.message, data: e.data }; }
            return { seen: apiClient.seen, one, two, list, flat, failed, keys: Object.keys(apiClient).sort() };
        }"#,
    )
    .await
    .expect("run succeeds");
    assert_eq!(
        output.result,
        json!({
            "seen": ["fail", "get", "post"],
            "one": { "method": "get", "args": ["/things/7"] },
            "two": { "method": "post", "args": ["/things/7/parts/p/run", { "n": 1 }] },
            "list": { "method": "get", "args": ["/things", { "limit": 2 }] },
            "flat": { "method": "get", "args": ["/flat"] },
            "failed": { "message": "refused", "data": { "args": ["8"] } },
            "keys": ["get", "post", "seen", "thing", "things"],
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecorated_objects_beside_a_decorated_one_are_left_as_they_are() {
    let host = HostApi::new()
        .object("plain", echo_client())
        .object("chained", echo_client().decorator(CHAINED));
    let output = sandbox()
        .run_module(
            r#"export default async ({ plain, chained }) => ({
                plain: Object.keys(plain).sort(),
                chained: typeof chained.thing,
                same: chained.get === plain.get,
            })"#,
            json!({}),
            host,
        )
        .await
        .expect("run succeeds");
    assert_eq!(
        output.result,
        json!({ "plain": ["fail", "get", "post"], "chained": "function", "same": false })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorator_that_throws_fails_the_run_before_user_code_runs() {
    let error = decorator_failure("(client) => { throw new TypeError('broken client') }").await;
    assert!(
        matches!(&error.failure, Failure::HostObjectSetup { object, message, stack }
            if object == "apiClient"
                && message == "TypeError: broken client"
                && stack.as_deref().is_some_and(|s| s.contains("host/apiClient.js"))),
        "{:?}",
        error.failure
    );
    assert!(error.logs.is_empty(), "user code ran: {:?}", error.logs);
    let data = error.to_error_data();
    assert_eq!(data["type"], "custom_code");
    assert_eq!(
        data["message"],
        "the host object `apiClient` could not be set up: TypeError: broken client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorator_that_is_not_a_function_or_returns_no_object_fails_the_run() {
    for (decorator, expected) in [
        ("(client) => {", "SyntaxError: "),
        ("42", "the decorator is not a function (it is int)"),
        (
            "(client) => { client.extra = 1 }",
            "the decorator must return an object (it returned undefined)",
        ),
        (
            "async (client) => client",
            "the decorator must return an object (it returned promise)",
        ),
    ] {
        let error = decorator_failure(decorator).await;
        assert!(
            matches!(&error.failure, Failure::HostObjectSetup { object, message, .. }
                if object == "apiClient" && message.starts_with(expected)),
            "{decorator}: {:?}",
            error.failure
        );
        assert!(error.logs.is_empty(), "user code ran: {:?}", error.logs);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorator_runs_under_the_runs_limits() {
    // Spinning, even catching the interrupt, is the wall-clock limit.
    for decorator in [
        "(client) => { while (true) {} }",
        "(client) => { for (;;) { try { while (true) {} } catch (e) {} } }",
    ] {
        let error = decorator_failure(decorator).await;
        assert!(
            matches!(error.failure, Failure::TimedOut { limit } if limit == Duration::from_millis(500)),
            "{decorator}: {:?}",
            error.failure
        );
    }
    // Allocating without end is the memory limit.
    let error = decorator_failure(
        "(client) => { const keep = []; while (true) keep.push(new Float64Array(1 << 17)); }",
    )
    .await;
    assert!(
        matches!(error.failure, Failure::OutOfMemory { limit } if limit == 32 * 1024 * 1024),
        "{:?}",
        error.failure
    );
    // Unbounded recursion stops at the stack limit, as in user code.
    let error =
        decorator_failure("(client) => { const f = (n) => f(n + 1) + 1; return f(0); }").await;
    assert!(
        matches!(&error.failure, Failure::HostObjectSetup { message, .. }
            if message == "RangeError: Maximum call stack size exceeded"),
        "{:?}",
        error.failure
    );
    // What the decorator builds runs under them too when user code calls it.
    let error = run_decorated(
        "(client) => ({ spin() { while (true) {} } })",
        "export default ({ apiClient }) => apiClient.spin()",
    )
    .await
    .expect_err("the accessor spins");
    assert!(
        matches!(error.failure, Failure::TimedOut { .. }),
        "{:?}",
        error.failure
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_object_under_two_names_is_built_and_decorated_once() {
    let decorations = Arc::new(AtomicUsize::new(0));
    let counted = {
        let decorations = Arc::clone(&decorations);
        echo_client()
            .method("decorated", move |_args: Vec<Value>| {
                decorations.fetch_add(1, Ordering::SeqCst);
                async { Ok(Value::Null) }
            })
            .decorator(
                "(client) => { client.decorated(); return { ...client, tag: 'decorated' }; }",
            )
    };
    let host = HostApi::new()
        .object("membrane", counted.clone())
        .object("engineApiClient", counted)
        .object("apiClient", echo_client())
        .object("otherClient", echo_client());
    let output = sandbox()
        .run_module(
            r#"export default async ({ membrane, engineApiClient, apiClient, otherClient }) => ({
                same: membrane === engineApiClient,
                tag: engineApiClient.tag,
                distinct: apiClient !== otherClient,
            })"#,
            json!({}),
            host,
        )
        .await
        .expect("run succeeds");
    assert_eq!(
        output.result,
        json!({ "same": true, "tag": "decorated", "distinct": true })
    );
    assert_eq!(decorations.load(Ordering::SeqCst), 1);
}
