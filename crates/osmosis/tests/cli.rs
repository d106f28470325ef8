//! The `osmosis` binary as an operator runs it: workspaces from the command line,
//! the dev workspace from the environment, readiness, draining on SIGTERM,
//! migrations and refusing a newer schema.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::*;
use common::*;
use serde_json::Value;

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
    // Requests in flight when SIGTERM arrives still complete.
    let client = reqwest::Client::new();
    let admin = token(
        serde_json::json!({"iss": WS_KEY, "isAdmin": true}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let burst: Vec<_> = (0..40)
        .map(|i| {
            client
                .post(format!("{}/integrations", first.url))
                .bearer_auth(&admin)
                .json(&serde_json::json!({"key": format!("k{i}")}))
                .send()
        })
        .collect();
    let pid = first.child.id();
    let sent = tokio::spawn(futures::future::join_all(burst));
    tokio::time::sleep(Duration::from_millis(20)).await;
    send_signal(pid, "TERM");
    let results = sent.await.unwrap();
    let (status, out, err) = first.wait_output();
    assert!(status.success(), "exit {status}; stderr: {err}");
    assert!(out.contains("createdWorkspace"), "{out}");
    let acknowledged: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.ok())
        .filter(|r| r.status() == 200)
        .map(|r| r.url().to_string())
        .collect();
    // JSON logs on stderr.
    let first_line = err.lines().next().expect("a log line");
    assert!(
        serde_json::from_str::<Value>(first_line).is_ok(),
        "{first_line}"
    );
    // Second start: the workspace exists and is not announced again; acknowledged writes are there.
    let mut second = Running::start(&db, port, &env);
    second.wait_ready().await;
    let (_, list) = (
        200,
        client
            .get(format!("{}/integrations?limit=1000", second.url))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert!(
        list["items"].as_array().unwrap().len() >= acknowledged.len(),
        "{list}"
    );
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
