//! Serving the router over TCP with limits a public server needs.
//!
//! `axum::serve` sets no timer, so a client that connects and sends nothing, or
//! sends its headers a byte a second, holds its connection (and its memory)
//! forever; and it turns the router into a service anew for every connection
//! (`Router::with_state` over every route), which cost ~430 KB per connection.
//! This loop instead:
//! * converts the router into its routes once and hands every connection a clone
//!   of that one service (an `Arc` clone);
//! * gives HTTP/1 a timer with a header-read deadline ([`Limits::header_timeout`]):
//!   a client must send a request's complete headers within it, counted from the
//!   connection's start or from the end of its previous response — so idle
//!   keep-alive connections and slowloris clients are closed after it too;
//! * caps live connections ([`Limits::max_connections`]); a connection over the
//!   cap is answered `503` with an `ErrorData` body and closed at once, rather than
//!   left waiting in the kernel's backlog;
//! * on shutdown stops accepting, lets in-flight requests finish (idle connections
//!   close at once) and gives up on streams still open after
//!   [`Limits::drain_timeout`] (an SSE stream may last ten minutes).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// What the server allows each client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers, from connecting or from
    /// the end of the previous response on a kept-alive connection.
    pub header_timeout: Duration,
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// How long shutdown waits for open requests and streams.
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(30),
            max_connections: 16_384,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// The body of the answer to a connection over the cap.
const OVER_CAPACITY: &str = r#"{"type":"internal","key":"too_many_connections","message":"The server is at its connection limit; retry shortly"}"#;

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Every route becomes a ready service here, once, instead of per connection.
    let app = app.with_state(());
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or memory: let open connections
                    // finish before accepting more.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timed out headers); nothing
            // to answer and nothing the operator can act on.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "connections still open after {:?}; closing them",
            limits.drain_timeout
        );
    }
    Ok(())
}

/// Answers a connection over the cap and closes it: written raw, before any
/// request is read, so it costs none of the HTTP machinery.
async fn refuse(mut stream: TcpStream) {
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         connection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{OVER_CAPACITY}",
        OVER_CAPACITY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
