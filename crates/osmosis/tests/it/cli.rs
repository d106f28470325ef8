//! The `osmosis` binary as an operator runs it: workspaces from the command line,
//! the dev workspace from the environment, readiness, draining on SIGTERM,
//! migrations and refusing a newer schema.

use std::process::Command;

use serde_json::Value;

use crate::common::process::*;
use crate::common::*;

#[tokio::test]
async fn workspace_create_prints_key_and_secret_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let out = Command::new(BIN)
        .args(["workspace", "create", "--name", "Acme", "--database", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = v["key"].as_str().unwrap();
    assert!(
        !key.is_empty() && v["secret"].as_str().unwrap().len() >= 32,
        "{v}"
    );
    let again = Command::new(BIN)
        .args([
            "workspace",
            "create",
            "--name",
            "Acme",
            "--key",
            key,
            "--database",
            &db,
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    drop_database(pg).await;
}

#[tokio::test]
async fn serve_ensures_the_dev_workspace_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let port = free_port();
    let env = [
        ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
        ("OSMOSIS_WORKSPACE_SECRET", WS_SECRET),
        // Local state (the credentials key) goes to the temp dir, not the cwd.
        ("OSMOSIS_DATA_DIR", dir.path().to_str().unwrap()),
    ];
    let mut first = Running::start(&db, port, &env);
    first.wait_ready().await;
    // Without OSMOSIS_ENCRYPTION_KEY the credentials key is generated, owner-only.
    {
        use std::os::unix::fs::PermissionsExt;
        let key = std::fs::metadata(dir.path().join("credentials.key")).expect("key file");
        assert_eq!(key.permissions().mode() & 0o777, 0o600);
    }
    // Requests in flight when SIGTERM arrives still complete. One is held open
    // until the server reads its body, so it is surely in flight at the signal; a
    // burst of others is answered, refused or cut off as the timing falls.
    let admin = token(
        serde_json::json!({"iss": WS_KEY, "isAdmin": true}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let client = reqwest::Client::new();
    let burst: Vec<_> = (0..40)
        .map(|i| {
            let key = format!("k{i}");
            let sent = client
                .post(format!("{}/integrations", first.url))
                .bearer_auth(&admin)
                .json(&serde_json::json!({ "key": key }))
                .send();
            async move { (key, sent.await.map(|r| r.status().as_u16())) }
        })
        .collect();
    let sent = tokio::spawn(futures::future::join_all(burst));
    let held = HeldCreate::start(&first.url, &admin, "held").await;
    send_signal(first.child.id(), "TERM");
    assert_eq!(held.finish().await, 200, "the request in flight at SIGTERM");
    let mut acknowledged = vec!["held".to_string()];
    for (key, answer) in sent.await.unwrap() {
        match answer {
            Ok(200) => acknowledged.push(key),
            // Answered while draining: every create must still succeed.
            Ok(status) => panic!("{key} answered {status} while draining"),
            // Connected after the listener closed, or cut off: not acknowledged.
            Err(_) => {}
        }
    }
    let (status, out, err) = first.wait_output();
    assert!(status.success(), "exit {status}; stderr: {err}");
    assert!(out.contains("createdWorkspace"), "{out}");
    // JSON logs on stderr.
    let first_line = err.lines().next().expect("a log line");
    assert!(
        serde_json::from_str::<Value>(first_line).is_ok(),
        "{first_line}"
    );
    // Second start: the workspace exists and is not announced again; every
    // acknowledged write is there.
    let mut second = Running::start(&db, port, &env);
    second.wait_ready().await;
    for key in &acknowledged {
        let (status, v) = second
            .call("GET", &format!("/integrations/{key}"), &admin, None)
            .await;
        assert_eq!(status, 200, "acknowledged {key}: {v}");
    }
    let (status, out, _) = second.terminate();
    assert!(status.success());
    assert!(!out.contains("createdWorkspace"), "{out}");
    // A different secret for an existing workspace is refused at start.
    let bad = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--database",
            &db,
        ])
        .env("OSMOSIS_WORKSPACE_KEY", WS_KEY)
        .env("OSMOSIS_WORKSPACE_SECRET", "another")
        .env("OSMOSIS_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("different secret"));
    drop_database(pg).await;
}

#[tokio::test]
async fn migrate_reports_the_schema_and_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let out = Command::new(BIN)
        .args(["migrate", "--database", &db])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["schemaVersion"].as_i64().unwrap() >= 1);
    // Pretend a newer Osmosis migrated this database.
    let future = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'from the future', true, '\\x00', 0)";
    if db.starts_with("postgres") {
        sqlx_pg_pool(&db)
            .await
            .execute_sql(&future.replace("'\\x00'", "'\\x00'::bytea"))
            .await;
    } else {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .connect(&db)
            .await
            .unwrap();
        sqlx::query(&future.replace("'\\x00'", "x'00'"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let refused = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--database",
            &db,
        ])
        .env("OSMOSIS_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("newer than this binary"), "{msg}");
    drop_database(pg).await;
}

#[tokio::test]
async fn serve_refuses_a_malformed_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let refused = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--database",
            &db,
        ])
        .env("OSMOSIS_DATA_DIR", dir.path())
        .env("OSMOSIS_ENCRYPTION_KEY", "c2hvcnQ=")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("OSMOSIS_ENCRYPTION_KEY"), "{msg}");
    assert!(msg.contains("32 bytes"), "{msg}");
    assert!(!dir.path().join("credentials.key").exists());
    drop_database(pg).await;
}

/// A create whose body is held back until the server asks for it (`Expect:
/// 100-continue`): once the `100 Continue` has arrived the request is being
/// handled, so a signal sent then finds it in flight.
struct HeldCreate {
    stream: tokio::net::TcpStream,
    body: String,
}

impl HeldCreate {
    async fn start(url: &str, token: &str, key: &str) -> HeldCreate {
        use tokio::io::AsyncWriteExt;
        let host = url.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let body = serde_json::json!({ "key": key }).to_string();
        let head = format!(
            "POST /integrations HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\
             expect: 100-continue\r\nconnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = read_head(&mut stream).await;
        assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
        HeldCreate { stream, body }
    }

    /// Sends the body; the status of the answer.
    async fn finish(mut self) -> u16 {
        use tokio::io::AsyncWriteExt;
        self.stream
            .write_all(self.body.as_bytes())
            .await
            .expect("the connection of a request in flight stays open");
        let head = read_head(&mut self.stream).await;
        head.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {head:?}"))
    }
}

/// Reads up to the end of a response head (the blank line).
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream
            .read(&mut byte)
            .await
            .expect("the connection of a request in flight stays open")
        {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}
