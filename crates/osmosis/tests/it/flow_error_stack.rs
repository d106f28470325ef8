//! A flow run started through the plain API (`POST /connections/{c}/flows/{f}/run`)
//! whose `api-request-to-external-app` node calls the mock API fits in a 2 MB stack,
//! the size of a tokio worker's stack and of a test thread's. Debug builds hold
//! several copies of each future in a poll frame; the node's futures once needed
//! over 2.5 MB there and overflowed (the 422 of the report fails the node, but a
//! 2xx overflowed too). The tests run on a thread of exactly 2 MB, whatever
//! `RUST_MIN_STACK` says.

use std::future::Future;

use serde_json::{json, Value};

use crate::common::mock_api;
use crate::common::Server;
use crate::flow_nodes::{flow, node_runs, run_flow};

/// Runs `test` on a current-thread runtime (as `#[tokio::test]` does) in a thread
/// with a 2 MB stack.
fn on_2mb_stack<F>(test: impl FnOnce() -> F + Send + 'static)
where
    F: Future<Output = ()>,
{
    std::thread::Builder::new()
        .name("2mb".into())
        .stack_size(2 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(test())
        })
        .expect("thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

/// A server, the mock API, Alice's connection to it, and the integration flow
/// `key` whose node `call` sends `request`: (server, mock, Alice's token, connection id).
async fn setup(key: &str, request: Value) -> (Server, mock_api::MockApi, String, String) {
    let s = Server::start().await;
    let mock = mock_api::start_mock().await;
    let (_, integration) = mock_api::install(&s, mock_api::connector(&mock.url, "keyapp")).await;
    let alice = s.customer("alice");
    let conn = mock_api::connect(&s, &alice, &integration).await;
    let conn = conn["id"].as_str().unwrap().to_owned();
    flow(
        &s,
        integration["id"].as_str().unwrap(),
        key,
        json!({
            "start": {"type": "api-trigger", "links": [{"key": "call"}]},
            "call": {"type": "api-request-to-external-app", "config": {"request": request}}
        }),
    )
    .await;
    (s, mock, alice, conn)
}

#[test]
fn a_422_from_the_app_fails_the_run_without_overflowing_the_stack() {
    on_2mb_stack(|| async {
        let (s, mock, alice, conn) = setup(
            "bad",
            json!({"method": "POST", "path": "/status/422", "data": {"a": 1}}),
        )
        .await;
        let run = run_flow(&s, &alice, &conn, "bad", json!({})).await;
        assert_eq!(run["state"], "failed", "{run}");
        let id = run["id"].as_str().unwrap();
        let runs = node_runs(&s, &alice, id, "call").await;
        assert_eq!(runs.len(), 1, "{runs:?}");
        assert_eq!(runs[0]["status"], "failed", "{:?}", runs[0]);
        // The API's status and body, as the node's error.
        let error = &runs[0]["errors"][0];
        assert_eq!(error["data"]["response"]["status"], 422, "{error}");
        assert_eq!(
            error["data"]["response"]["data"]["message"], "as asked",
            "{error}"
        );
        // The connection's test, then the node's request.
        assert_eq!(mock.request_count(), 2);
        assert_eq!(mock.last().uri, "/status/422");
        s.finish().await;
    });
}

#[test]
fn a_2xx_from_the_app_completes_the_run_without_overflowing_the_stack() {
    on_2mb_stack(|| async {
        let (s, mock, alice, conn) = setup(
            "ok",
            json!({"method": "POST", "path": "/echo/notes", "data": {"a": 1}}),
        )
        .await;
        let run = run_flow(&s, &alice, &conn, "ok", json!({})).await;
        assert_eq!(run["state"], "completed", "{run}");
        assert_eq!(mock.last().uri, "/echo/notes");
        s.finish().await;
    });
}
