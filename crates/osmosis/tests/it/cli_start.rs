//! How `osmosis serve` starts: a clear word for a data dir that is a file, nothing
//! left on disk by a start that fails, and a start-up summary without secrets.

use serde_json::Value;

use crate::cli_token::{osmosis, stderr};
use crate::common::process::*;
use crate::common::*;

#[test]
fn a_data_dir_that_is_a_file_is_called_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let file = file.to_str().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let under = format!("{file}/sub");
    for args in [
        vec!["serve", "--listen", &listen, "--data-dir", file],
        vec!["workspace", "create", "--name", "x", "--data-dir", file],
        vec!["workspace", "list", "--data-dir", file],
        vec!["migrate", "--data-dir", file],
    ] {
        let out = osmosis(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("--data-dir {file} is a file, not a folder")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("File exists"), "{err}");
    }
    let out = osmosis(&["serve", "--listen", &listen, "--data-dir", &under], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("{file} is a file, not a folder")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_start_on_a_busy_port_creates_nothing() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let out = osmosis(
        &[
            "serve",
            "--listen",
            &addr,
            "--data-dir",
            data.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(err.contains("in use"), "{err}");
    assert!(!dir.path().join("new").exists(), "nothing is created");
    drop(busy);
}

#[test]
fn a_start_with_a_bad_database_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let data = data.to_str().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    // No database of a kind Osmosis opens: refused before anything is made.
    let out = osmosis(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data,
            "--database",
            "mysql://u:p@h/d",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a database URL"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(":p@"), "the password is masked");
    assert!(!dir.path().join("new").exists());
    // A PostgreSQL that does not answer (a closed port): what the start made goes.
    let closed = free_port();
    let out = osmosis(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data,
            "--database",
            &format!("postgres://u:p@127.0.0.1:{closed}/d"),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "opening PostgreSQL postgres://u:***@127.0.0.1:{closed}/d"
        )),
        "{err}"
    );
    assert!(!err.contains("u:p@"), "the password is masked: {err}");
    assert!(!dir.path().join("new").exists(), "{err}");
    // A start that fails after making the data dir (for the credentials key): the
    // database is elsewhere and holds the environment's workspace with another
    // secret. The data dir goes again; the database stays as it was.
    let db = format!("sqlite://{}/o.db", dir.path().display());
    let made = osmosis(
        &[
            "workspace",
            "create",
            "--name",
            "W",
            "--key",
            WS_KEY,
            "--database",
            &db,
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(!dir.path().join("new").exists());
    let out = osmosis(
        &[
            "serve",
            "--listen",
            &listen,
            "--data-dir",
            data,
            "--database",
            &db,
        ],
        &[
            ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
            ("OSMOSIS_WORKSPACE_SECRET", "not-the-secret"),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("different secret"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("new").exists(), "{}", stderr(&out));
    assert!(dir.path().join("o.db").exists());
}

/// The JSON log line with this message, from a server's stderr.
fn log_line(err: &str, message: &str) -> Option<Value> {
    err.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["fields"]["message"].as_str() == Some(message))
}

#[tokio::test]
async fn the_start_summary_says_what_the_server_runs_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    // No workspace: the summary, and the hint for making one.
    let db = format!("sqlite://{}/osmosis.db", dir.path().display());
    let mut server = Running::start(&db, port, &[("OSMOSIS_DATA_DIR", data.to_str().unwrap())]);
    server.wait_ready().await;
    let (status, _, err) = server.terminate();
    assert!(status.success(), "{err}");
    let summary = log_line(&err, "osmosis is listening").expect(&err);
    let f = &summary["fields"];
    assert_eq!(summary["level"], "INFO");
    assert_eq!(f["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(f["addr"], format!("127.0.0.1:{port}"));
    let canonical = dir.path().canonicalize().unwrap();
    assert_eq!(
        f["database"],
        format!("SQLite {}", canonical.join("osmosis.db").display())
    );
    assert_eq!(f["data_dir"], canonical.join("data").display().to_string());
    assert_eq!(f["workspaces"], 0);
    assert!(f["connectors"].as_u64().unwrap() >= 12, "{f}");
    assert_eq!(
        f["encryption_key"],
        canonical.join("data/credentials.key").display().to_string()
    );
    let hint = r#"no workspace yet: run "osmosis workspace create --name NAME" (or set OSMOSIS_WORKSPACE_KEY/OSMOSIS_WORKSPACE_SECRET)"#;
    assert!(log_line(&err, hint).is_some(), "{err}");

    // A workspace from the environment and the key from it: counted, named, no
    // secret in the output and no hint.
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let key = key.as_str();
    let mut server = Running::start(
        &db,
        port,
        &[
            ("OSMOSIS_DATA_DIR", data.to_str().unwrap()),
            ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
            ("OSMOSIS_WORKSPACE_SECRET", WS_SECRET),
            ("OSMOSIS_ENCRYPTION_KEY", key),
        ],
    );
    server.wait_ready().await;
    let (status, out, err) = server.terminate();
    assert!(status.success(), "{err}");
    let f = log_line(&err, "osmosis is listening").expect(&err)["fields"].clone();
    assert_eq!(f["workspaces"], 1);
    assert_eq!(f["encryption_key"], "env OSMOSIS_ENCRYPTION_KEY");
    assert!(log_line(&err, hint).is_none(), "{err}");
    for secret in [WS_SECRET, key] {
        assert!(!err.contains(secret) && !out.contains(secret));
    }
}
