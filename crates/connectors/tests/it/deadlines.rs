//! Bounded waits: an operation's deadline bounds every attempt and every retry of
//! the API client, a request that gets no answer is retried once, and a
//! `Retry-After` past the deadline ends the retries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use osmosis_connectors::api_client::{
    ApiClient, ApiClientConfig, ApiClientError, ApiRequest, Method, RetryPolicy, TransportKind,
};
use osmosis_connectors::http::{Deadline, OutboundError, DEADLINE_EXCEEDED};
use osmosis_connectors::redact::Redactor;
use serde_json::json;
use tokio::io::AsyncReadExt;

/// The default policy, with a short backoff so retries the tests expect are quick.
fn policy() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

fn client(base: &str) -> ApiClient {
    ApiClient::new(
        crate::mock::outbound(),
        ApiClientConfig::from_value(&json!({ "baseUri": base })).unwrap(),
        policy(),
        Redactor::new(),
    )
}

/// How the raw TCP mock treats each connection it accepts.
#[derive(Clone, Copy)]
enum Behaviour {
    /// Reads the request and closes without a word.
    Close,
    /// Reads the request and never answers (a black hole that accepts).
    Silent,
}

/// A TCP listener that counts the connections it accepts and treats them as told.
async fn tcp_mock(behaviour: Behaviour) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            match behaviour {
                Behaviour::Close => drop(socket),
                Behaviour::Silent => held.push(socket),
            }
        }
    });
    (base, accepted)
}

/// A loopback port nothing listens on: connecting is refused.
async fn refused_base() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[tokio::test]
async fn a_refused_connection_is_retried_once_for_any_method() {
    let base = refused_base().await;
    for method in [Method::GET, Method::POST] {
        let started = Instant::now();
        let error = client(&base)
            .request(ApiRequest::new(method.clone(), "/me"))
            .await
            .unwrap_err();
        let ApiClientError::Transport { attempts, kind, .. } = &error else {
            panic!("{method}: expected a transport error, got {error:?}");
        };
        assert_eq!(*kind, TransportKind::Connect, "{error}");
        assert_eq!(*attempts, 2, "{method}: one retry, not eight: {error}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_connection_closed_without_an_answer_is_retried_once_when_idempotent() {
    let (base, accepted) = tcp_mock(Behaviour::Close).await;
    let error = client(&base)
        .request(ApiRequest::get("/me"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiClientError::Transport { attempts: 2, .. }),
        "{error:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    // A POST reached the server: sending it again could do it twice.
    let error = client(&base)
        .request(ApiRequest::new(Method::POST, "/things").with_data(json!({"a": 1})))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ApiClientError::Transport { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_silent_api_answers_the_deadline_error_at_the_deadline() {
    let (base, accepted) = tcp_mock(Behaviour::Silent).await;
    let started = Instant::now();
    let error = Deadline::after(Duration::from_millis(600), "connect")
        .scope(client(&base).request(ApiRequest::get("/me?api_key=sk-123")))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(550) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );
    assert!(
        matches!(error, ApiClientError::DeadlineExceeded { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let data = error.to_error_data();
    assert_eq!(data.key.as_deref(), Some(DEADLINE_EXCEEDED));
    assert!(
        data.message.contains("600 ms connect deadline"),
        "{}",
        data.message
    );
    assert!(
        data.message.contains("GET 127.0.0.1/me"),
        "{}",
        data.message
    );
    assert!(!data.message.contains("sk-123"), "{}", data.message);
    assert_eq!(data.data.as_deref().unwrap()["deadlineMs"], 600);
}

async fn status_api(status: u16, retry_after: Option<&'static str>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&hits);
    let app = Router::new().route(
        "/x",
        get(move || {
            let count = Arc::clone(&count);
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                let mut response = (
                    StatusCode::from_u16(status).unwrap(),
                    "{\"message\":\"busy\"}",
                )
                    .into_response();
                if let Some(after) = retry_after {
                    response
                        .headers_mut()
                        .insert("retry-after", after.parse().unwrap());
                }
                response
            }
        }),
    );
    (crate::mock::serve(app).await, hits)
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_ends_the_retries() {
    let (base, hits) = status_api(429, Some("30")).await;
    let started = Instant::now();
    let error = Deadline::after(Duration::from_secs(5), "call")
        .scope(client(&base).request(ApiRequest::get("/x")))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        matches!(error, ApiClientError::RateLimitExceeded { attempts: 1, .. }),
        "the 429 itself, at once: {error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_retry_starts_after_the_deadline() {
    let (base, hits) = status_api(503, Some("1")).await;
    let started = Instant::now();
    let error = Deadline::after(Duration::from_millis(2500), "call")
        .scope(client(&base).request(ApiRequest::get("/x")))
        .await
        .unwrap_err();
    // Attempts at 0 s, 1 s and 2 s; the next would start at 3 s, past the deadline.
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(2500), "{elapsed:?}");
    assert!(
        matches!(
            error,
            ApiClientError::HttpStatus {
                attempts: 3,
                status: 503,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn nothing_is_sent_once_the_deadline_has_passed() {
    let (base, hits) = status_api(200, None).await;
    let deadline = Deadline::after(Duration::from_millis(1), "call");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let sent = deadline
        .scope(crate::mock::outbound().get(format!("{base}/x")).send())
        .await;
    assert!(
        matches!(sent, Err(OutboundError::DeadlineExceeded(_))),
        "{sent:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}
