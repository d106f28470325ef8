//! Bounded waits over HTTP: a connection test, a connect and a proxied call to an
//! API that never answers end at their deadline with `deadline_exceeded`, and an
//! API that cannot be reached is tried twice, not eight times.
//!
//! The external API is a raw TCP listener told how to treat each connection:
//! answer, close at once, or accept and stay silent (a black hole).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use osmosis_engine::Deadlines;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

const ANSWER: u8 = 0;
const CLOSE: u8 = 1;
const SILENT: u8 = 2;

struct Api {
    base: String,
    mode: Arc<AtomicU8>,
    accepted: Arc<AtomicUsize>,
}

impl Api {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn api() -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mode = Arc::new(AtomicU8::new(ANSWER));
    let accepted = Arc::new(AtomicUsize::new(0));
    let (m, a) = (Arc::clone(&mode), Arc::clone(&accepted));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            let mode = m.load(Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                match mode {
                    ANSWER => {
                        let body = r#"{"id":"u-1"}"#;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                    }
                    CLOSE => drop(socket),
                    _ => {
                        // Hold the connection open, answering nothing.
                        tokio::time::sleep(Duration::from_secs(120)).await;
                        drop(socket);
                    }
                }
            });
        }
    });
    Api {
        base,
        mode,
        accepted,
    }
}

/// A client-credentials connector on `base` whose test GETs `/me`.
fn connector(key: &str, base: &str) -> Value {
    json!({
        "key": key,
        "name": "Slow API",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base}},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
    })
}

async fn install(s: &Server, key: &str, base: &str) -> Value {
    let c = s.create("connectors", connector(key, base)).await;
    s.create(
        "integrations",
        json!({"key": key, "name": "Slow API", "connectorId": c["id"]}),
    )
    .await
}

fn small_deadlines() -> Deadlines {
    Deadlines {
        connect: Duration::from_secs(2),
        calls: Duration::from_secs(3),
    }
}

/// Well below the 42 s an unreachable API used to take, with margin for a slow
/// machine; the deadlines themselves are 2 s and 3 s.
const PROMPT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn deadlines_a_silent_api_answers_the_deadline_error_within_the_deadline() {
    let s = Server::start_with_deadlines(small_deadlines()).await;
    let api = api().await;
    let integration = install(&s, "slow", &api.base).await;
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"], "input": {}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let id = conn["id"].as_str().unwrap().to_owned();
    api.set(SILENT);

    // The connection test: the connect deadline (2 s).
    let started = Instant::now();
    let (status, tested) = s
        .post(&format!("/connections/{id}/test"), &alice, json!({}))
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{tested}");
    assert!(took < PROMPT, "the test answered after {took:?}: {tested}");
    assert_eq!(tested["success"], false, "{tested}");
    assert_eq!(tested["error"]["type"], "connection", "{tested}");
    assert_eq!(tested["error"]["key"], "deadline_exceeded", "{tested}");
    assert_eq!(tested["error"]["data"]["deadlineMs"], 2000, "{tested}");
    let message = tested["error"]["message"].as_str().unwrap();
    assert!(message.contains("2 s connect deadline"), "{message}");

    // A proxied call: the call deadline (3 s), answered 504.
    let started = Instant::now();
    let proxied = s.get(&format!("/connections/{id}/proxy/me"), &alice).await;
    let took = started.elapsed();
    assert!(took < PROMPT, "the proxy answered after {took:?}");
    assert_error(&proxied, 504, "connection", "deadline_exceeded");
    assert!(
        proxied.1["message"]
            .as_str()
            .unwrap()
            .contains("3 s call deadline"),
        "{}",
        proxied.1
    );

    // Connecting runs the test too: refused at the connect deadline, nothing made.
    let bob = s.customer("bob");
    let started = Instant::now();
    let connect = s
        .post(
            "/connections",
            &bob,
            json!({"integrationId": integration["id"], "input": {}}),
        )
        .await;
    let took = started.elapsed();
    assert!(took < PROMPT, "connecting answered after {took:?}");
    assert_error(&connect, 504, "connection", "deadline_exceeded");
    let (_, list) = s.get("/connections", &bob).await;
    assert_eq!(list["items"], json!([]), "{list}");
    s.finish().await;
}

#[tokio::test]
async fn deadlines_an_api_that_cannot_be_reached_is_tried_twice_not_eight_times() {
    let s = Server::start_with_deadlines(Deadlines::default()).await;
    let api = api().await;
    let integration = install(&s, "flaky", &api.base).await;
    let alice = s.customer("alice");
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"], "input": {}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let id = conn["id"].as_str().unwrap().to_owned();

    // The API accepts and hangs up without a word: one retry, then the error.
    api.set(CLOSE);
    let before = api.accepted();
    let started = Instant::now();
    let (status, tested) = s
        .post(&format!("/connections/{id}/test"), &alice, json!({}))
        .await;
    assert_eq!(status, 200, "{tested}");
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(tested["success"], false, "{tested}");
    assert_eq!(api.accepted() - before, 2, "attempts: {tested}");
    assert!(
        tested["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after 2 attempt(s)"),
        "{tested}"
    );

    // Nothing listens: connecting is refused twice, quickly.
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    };
    let gone = install(&s, "gone", &refused).await;
    let started = Instant::now();
    let (status, e) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": gone["id"], "input": {}}),
        )
        .await;
    assert!(started.elapsed() < PROMPT, "{:?}", started.elapsed());
    assert_eq!(status, 400, "{e}");
    assert_eq!(e["type"], "connection", "{e}");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("after 2 attempt(s)"), "{message}");
    s.finish().await;
}
