//! What the real `osmosis serve` allows a client: headers within the header
//! timeout (idle, keep-alive and slowloris connections are closed after it), a
//! body within the body timeout, bodies up to 10 MiB, and a capped number of
//! connections — the one over the cap answered `503` at once. Also the data dir
//! it makes: private to its user.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::process::{free_port, Running};
use crate::common::*;

/// A server with `header_secs` and a one-second body timeout, and room for four
/// connections.
async fn tight_server(dir: &std::path::Path, header_secs: &str) -> Running {
    let db = format!("sqlite://{}", dir.join("osmosis.db").display());
    Running::serve_workspace(
        &db,
        free_port(),
        dir,
        &[
            ("OSMOSIS_HEADER_TIMEOUT_SECS", header_secs),
            ("OSMOSIS_BODY_TIMEOUT_SECS", "1"),
            ("OSMOSIS_MAX_CONNECTIONS", "4"),
        ],
    )
    .await
}

fn addr(server: &Running) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (or resets it); answers what
/// it sent and how long that took. Fails the test after `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + limit).into(), stream.read(&mut buf)).await {
            Err(_) => panic!(
                "still open after {limit:?}; got {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// One whole response (headers and a `content-length` body).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answered")
            .unwrap();
        assert!(
            n > 0,
            "closed mid-response: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn idle_slow_and_kept_alive_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = tight_server(dir.path(), "1").await;
    // Connected, nothing sent.
    let mut idle = TcpStream::connect(addr(&server)).await.unwrap();
    // Headers a byte at a time, never finished.
    let mut slow = TcpStream::connect(addr(&server)).await.unwrap();
    let trickle = tokio::spawn(async move {
        for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if slow.write_all(&[*b]).await.is_err() {
                return slow;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        slow
    });
    // Two requests on a kept-alive connection, then idle.
    let mut kept = TcpStream::connect(addr(&server)).await.unwrap();
    for _ in 0..2 {
        kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert!(read_response(&mut kept).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let (sent, took) = read_until_closed(&mut kept, Duration::from_secs(5)).await;
    assert!(sent.is_empty(), "{sent:?}");
    assert!(took >= Duration::from_millis(500), "closed after {took:?}");

    let (sent, _) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(!String::from_utf8_lossy(&sent).contains("200 OK"));
    let mut slow = trickle.await.unwrap();
    let (sent, _) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(!String::from_utf8_lossy(&sent).contains("200 OK"));
    // The server serves on.
    assert_eq!(
        reqwest::get(format!("{}/health", server.url))
            .await
            .unwrap()
            .status(),
        200
    );
    server.stop();
}

#[tokio::test]
async fn a_connection_over_the_cap_is_answered_503_and_the_cap_frees_up() {
    let dir = tempfile::tempdir().unwrap();
    // Held connections must outlive the whole check, even on a loaded machine.
    let server = tight_server(dir.path(), "4").await;
    // Four connections the server holds open. The readiness probe's connection
    // may still hold a slot for a moment, so one of these may be refused at
    // first (answered at once): that one is opened again.
    let mut held = Vec::new();
    for _ in 0..20 {
        if held.len() == 4 {
            break;
        }
        let c = TcpStream::connect(addr(&server)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut probe = [0u8; 1];
        if matches!(c.try_read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            held.push(c);
        }
    }
    assert_eq!(held.len(), 4, "the server would not hold four connections");
    let mut over = TcpStream::connect(addr(&server)).await.unwrap();
    let (sent, _) = read_until_closed(&mut over, Duration::from_secs(2)).await;
    let sent = String::from_utf8_lossy(&sent).into_owned();
    assert!(sent.starts_with("HTTP/1.1 503"), "{sent}");
    let body: Value = serde_json::from_str(sent.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["type"], "internal");
    assert_eq!(body["key"], "too_many_connections");
    // The held connections time out and free their slots.
    for mut c in held {
        read_until_closed(&mut c, Duration::from_secs(8)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = reqwest::get(format!("{}/health", server.url))
            .await
            .unwrap()
            .status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop();
}

#[tokio::test]
async fn bodies_too_large_or_too_slow_are_refused_with_error_data() {
    let dir = tempfile::tempdir().unwrap();
    let server = tight_server(dir.path(), "1").await;
    // Over 10 MiB: 413, for JSON routes and the proxy alike.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(11 * 1024 * 1024));
    for path in ["/integrations", "/connections/x/proxy/anything"] {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", server.url))
            .bearer_auth(admin_token())
            .header("content-type", "application/json")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["key"], "payload_too_large", "{path}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("10 MiB"),
            "{body}"
        );
    }
    // Headers in time, the body never finished: 408 after the body timeout.
    let mut slow = TcpStream::connect(addr(&server)).await.unwrap();
    let head = format!(
        "POST /integrations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"name\":",
        admin_token()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let (sent, took) = read_until_closed(&mut slow, Duration::from_secs(5)).await;
    let sent = String::from_utf8_lossy(&sent);
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent}");
    assert!(sent.contains("request_timeout"), "{sent}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    // Nothing was created by either.
    let (_, list) = server
        .call("GET", "/integrations", &admin_token(), None)
        .await;
    assert_eq!(list["items"], json!([]));
    server.stop();
}

#[tokio::test]
async fn the_data_dir_and_database_are_private() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    let mut server = Running::start_in(&dir, free_port());
    server.wait_ready().await;
    // A write, so the WAL exists.
    let (status, _) = server
        .call(
            "POST",
            "/integrations",
            &admin_token(),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(status, 200);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    for name in [
        "osmosis.db",
        "osmosis.db-wal",
        "osmosis.db-shm",
        "credentials.key",
    ] {
        assert!(
            files.contains(&dir.join(name)),
            "{name} missing in {files:?}"
        );
    }
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    let (_, _, log) = server.terminate();
    assert!(!log.contains("readable by other users"), "{log}");

    // Opened wider by someone, it is reported at the next start.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("osmosis.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut again = Running::start_in(&dir, free_port());
    again.wait_ready().await;
    let (_, _, log) = again.terminate();
    assert!(
        log.contains("readable by other users") && log.contains("osmosis.db"),
        "{log}"
    );
}
