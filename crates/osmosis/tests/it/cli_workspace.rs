//! `osmosis workspace list` and `osmosis workspace delete`, against a data dir a
//! real `osmosis serve` runs on (SQLite).

use std::process::Command;

use serde_json::Value;

use crate::cli_token::{ok, osmosis, status_of, stderr, stdout, until_status};
use crate::common::process::*;
use crate::common::*;

fn list(data: &str) -> Vec<Value> {
    ok(&["workspace", "list", "--data-dir", data], &[])
        .lines()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect()
}

fn keys(data: &str) -> Vec<String> {
    list(data)
        .iter()
        .map(|w| w["key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn workspace_list_prints_one_json_object_a_line_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let a = ok(
        &[
            "workspace",
            "create",
            "--name",
            "First",
            "--key",
            "ws-1",
            "--data-dir",
            data,
        ],
        &[],
    );
    let secret = serde_json::from_str::<Value>(&a).unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &[
            "workspace",
            "create",
            "--name",
            "Second \"B\"",
            "--key",
            "ws-2",
            "--data-dir",
            data,
        ],
        &[],
    );
    let out = ok(&["workspace", "list", "--data-dir", data], &[]);
    assert!(!out.contains(&secret), "{out}");
    let rows = list(data);
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0]["key"], "ws-1");
    assert_eq!(rows[0]["name"], "First");
    assert_eq!(rows[1]["name"], "Second \"B\"");
    for row in &rows {
        let mut fields: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort();
        assert_eq!(fields, ["createdAt", "key", "name"], "{row}");
        assert!(row["createdAt"].as_str().unwrap().ends_with('Z'), "{row}");
    }
    // No database there: an error, and none is made.
    let empty = dir.path().join("empty");
    let out = osmosis(
        &["workspace", "list", "--data-dir", empty.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!empty.exists());
}

#[tokio::test]
async fn workspace_delete_archives_after_confirmation_and_a_running_server_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut server = Running::start_in(std::path::Path::new(data), free_port());
    server.wait_ready().await;
    ok(
        &[
            "workspace",
            "create",
            "--name",
            "Doomed",
            "--key",
            "doomed",
            "--data-dir",
            data,
        ],
        &[],
    );
    let token = ok(
        &[
            "token",
            "--workspace",
            "doomed",
            "--admin",
            "--data-dir",
            data,
        ],
        &[],
    );
    let token = token.trim();
    assert_eq!(status_of(&server, token).await, 200);
    assert_eq!(keys(data), [WS_KEY, "doomed"]);

    // Without --yes and with no terminal to ask on: refused, nothing changes.
    let out = osmosis(
        &["workspace", "delete", "--key", "doomed", "--data-dir", data],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert_eq!(keys(data), [WS_KEY, "doomed"]);

    let out = ok(
        &[
            "workspace",
            "delete",
            "--key",
            "doomed",
            "--yes",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        serde_json::json!({"archived": "doomed"})
    );
    assert_eq!(keys(data), [WS_KEY]);
    // The server stops accepting its tokens within its re-read time.
    until_status(&server, token, 401).await;
    assert_eq!(status_of(&server, &admin_token()).await, 200);
    // Gone for every command: token, rotate-secret, delete again.
    for args in [
        &["token", "--workspace", "doomed", "--admin"][..],
        &["workspace", "rotate-secret", "--key", "doomed"],
        &["workspace", "delete", "--key", "doomed", "--yes"],
    ] {
        let out = osmosis(&[args, &["--data-dir", data][..]].concat(), &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains("no workspace `doomed`"),
            "{}",
            stderr(&out)
        );
    }
    // Its key stays taken.
    let out = osmosis(
        &[
            "workspace",
            "create",
            "--name",
            "Again",
            "--key",
            "doomed",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert!(!out.status.success());
    server.stop();
}

/// On a terminal (`script` gives the command one) the key must be typed again.
#[tokio::test]
async fn workspace_delete_asks_for_the_key_on_a_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to run the command on a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(
        &[
            "workspace",
            "create",
            "--name",
            "T",
            "--key",
            "tty-ws",
            "--data-dir",
            data,
        ],
        &[],
    );
    let on_terminal = |answer: &str| {
        let cmd = format!("{BIN} workspace delete --key tty-ws --data-dir {data}");
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .env_remove("OSMOSIS_DATA_DIR")
            .env_remove("OSMOSIS_DATABASE_URL")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (success, shown) = on_terminal("wrong");
    assert!(!success, "{shown}");
    assert!(
        shown.contains("Type the workspace key to confirm:"),
        "{shown}"
    );
    assert!(shown.contains("not confirmed"), "{shown}");
    assert_eq!(keys(data), ["tty-ws"]);
    let (success, shown) = on_terminal("tty-ws");
    assert!(success, "{shown}");
    assert!(shown.contains(r#"{"archived":"tty-ws"}"#), "{shown}");
    assert!(keys(data).is_empty());
}
