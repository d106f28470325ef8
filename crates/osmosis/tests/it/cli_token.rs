//! `osmosis token` and `osmosis workspace rotate-secret`, run as an operator runs
//! them, against a real `osmosis serve` on the same data dir (SQLite).

use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::process::*;
use crate::common::*;

/// `osmosis <args>` with no workspace variables but the given ones; stdin empty.
pub(crate) fn osmosis(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args, &[]);
    cmd.env_remove("OSMOSIS_WORKSPACE_KEY")
        .env_remove("OSMOSIS_WORKSPACE_SECRET")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("osmosis runs")
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs and expects success; answers stdout.
#[track_caller]
pub(crate) fn ok(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = osmosis(args, env);
    assert!(
        out.status.success(),
        "osmosis {args:?}: {}\nstderr: {}",
        out.status,
        stderr(&out)
    );
    stdout(&out)
}

/// The one line a `token` command prints, checked to be alone.
#[track_caller]
fn token_of(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = ok(args, env);
    assert!(out.ends_with('\n') && out.lines().count() == 1, "{out:?}");
    out.trim_end().to_string()
}

fn claims(token: &str, secret: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .expect("a token signed with the secret")
    .claims
}

pub(crate) async fn status_of(server: &Running, token: &str) -> u16 {
    server.call("GET", "/integrations", token, None).await.0
}

/// Polls until `GET /integrations` with `token` answers `want` (the server re-reads
/// a workspace within 5 seconds), failing after 15.
pub(crate) async fn until_status(server: &Running, token: &str, want: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got = status_of(server, token).await;
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "still {got}, not {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn token_mints_admin_and_customer_tokens_a_running_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut server = Running::start_in(std::path::Path::new(data), free_port());
    server.wait_ready().await;
    let db = ["--data-dir", data];

    let admin = token_of(
        &[&["token", "--workspace", WS_KEY, "--admin"], &db[..]].concat(),
        &[],
    );
    assert_eq!(status_of(&server, &admin).await, 200);
    let c = claims(&admin, WS_SECRET);
    assert_eq!(c["iss"], WS_KEY);
    assert_eq!(c["isAdmin"], true);
    assert!(c.get("id").is_none(), "{c}");
    // The default lifetime is an hour.
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        3600
    );

    let customer = token_of(
        &[
            &[
                "token",
                "--workspace",
                WS_KEY,
                "--customer",
                "cust-1",
                "--name",
                "Ann",
                "--fields",
                r#"{"plan":"pro"}"#,
                "--ttl",
                "30m",
            ],
            &db[..],
        ]
        .concat(),
        &[],
    );
    assert_eq!(status_of(&server, &customer).await, 200);
    let c = claims(&customer, WS_SECRET);
    assert_eq!(
        (c["id"].as_str(), c["name"].as_str()),
        (Some("cust-1"), Some("Ann"))
    );
    assert_eq!(c["fields"]["plan"], "pro");
    assert!(c.get("isAdmin").is_none(), "{c}");
    assert_eq!(
        c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
        1800
    );

    for (ttl, secs) in [("90", 90), ("45s", 45), ("7d", 7 * 86_400)] {
        let t = token_of(
            &[
                &["token", "--workspace", WS_KEY, "--admin", "--ttl", ttl],
                &db[..],
            ]
            .concat(),
            &[],
        );
        let c = claims(&t, WS_SECRET);
        assert_eq!(
            c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(),
            secs,
            "{ttl}"
        );
    }
    // The workspace key may come from the environment instead of --workspace.
    let t = token_of(
        &[&["token", "--admin"], &db[..]].concat(),
        &[("OSMOSIS_WORKSPACE_KEY", WS_KEY)],
    );
    assert_eq!(status_of(&server, &t).await, 200);
    server.stop();
}

#[tokio::test]
async fn token_takes_the_secret_from_the_environment_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("never-made");
    let env = [
        ("OSMOSIS_WORKSPACE_KEY", "env-ws"),
        ("OSMOSIS_WORKSPACE_SECRET", "env-secret-0123456789"),
    ];
    let t = token_of(
        &["token", "--admin", "--data-dir", data.to_str().unwrap()],
        &env,
    );
    let c = claims(&t, "env-secret-0123456789");
    assert_eq!(
        (c["iss"].as_str(), c["isAdmin"].as_bool()),
        (Some("env-ws"), Some(true))
    );
    assert!(!data.exists(), "no database is opened or made");
    // A secret alone is taken for the workspace --workspace names.
    let t = token_of(
        &["token", "--workspace", "other", "--customer", "c"],
        &[("OSMOSIS_WORKSPACE_SECRET", "s")],
    );
    assert_eq!(claims(&t, "s")["iss"], "other");
}

#[tokio::test]
async fn token_refuses_what_it_cannot_sign() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    ok(
        &[
            "workspace",
            "create",
            "--name",
            "A",
            "--key",
            "ws-a",
            "--data-dir",
            data,
        ],
        &[],
    );

    // An unknown workspace is named.
    let out = osmosis(
        &[
            "token",
            "--workspace",
            "nope",
            "--admin",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no workspace `nope`"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).is_empty());
    // A data dir without a database is not made into one.
    let empty = dir.path().join("empty");
    let out = osmosis(
        &[
            "token",
            "--workspace",
            "ws-a",
            "--admin",
            "--data-dir",
            empty.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no database at"), "{}", stderr(&out));
    assert!(!empty.exists());
    // Exactly one of --admin and --customer; a readable --ttl: usage errors (2).
    for args in [
        &["token", "--workspace", "ws-a"][..],
        &["token", "--workspace", "ws-a", "--admin", "--customer", "c"],
        &["token", "--workspace", "ws-a", "--admin", "--ttl", "1w"],
        &["token", "--workspace", "ws-a", "--admin", "--ttl", "0"],
        &["token", "--workspace", "ws-a", "--admin", "--name", "n"],
        &[
            "token",
            "--workspace",
            "ws-a",
            "--customer",
            "c",
            "--fields",
            "[1]",
        ],
        &["token", "--admin"],
    ] {
        let out = osmosis(&[args, &["--data-dir", data][..]].concat(), &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
    }
}

#[tokio::test]
async fn rotate_secret_stops_old_tokens_on_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut server = Running::start_in(std::path::Path::new(data), free_port());
    server.wait_ready().await;
    let mint = || {
        token_of(
            &[
                "token",
                "--workspace",
                WS_KEY,
                "--admin",
                "--data-dir",
                data,
            ],
            &[],
        )
    };
    let old = mint();
    assert_eq!(status_of(&server, &old).await, 200);

    let out = ok(
        &[
            "workspace",
            "rotate-secret",
            "--key",
            WS_KEY,
            "--data-dir",
            data,
        ],
        &[],
    );
    let v: Value = serde_json::from_str(&out).expect(&out);
    assert_eq!(v["key"], WS_KEY);
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32 && secret != WS_SECRET, "{v}");
    assert_eq!(out.lines().count(), 1);

    // The running server refuses the old secret's tokens within its re-read time
    // (verified and cached before, they are not trusted after).
    until_status(&server, &old, 401).await;
    let new = mint();
    assert_eq!(claims(&new, &secret)["iss"], WS_KEY);
    assert_eq!(status_of(&server, &new).await, 200);
    // A token signed with the old secret but never seen before is refused too.
    let fresh_old = token(
        serde_json::json!({"iss": WS_KEY, "isAdmin": true, "exp": 4_000_000_000u64}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(status_of(&server, &fresh_old).await, 401);
    // A chosen secret; the environment's secret then signs accepted tokens.
    ok(
        &[
            "workspace",
            "rotate-secret",
            "--key",
            WS_KEY,
            "--secret",
            "chosen-0123456789",
            "--data-dir",
            data,
        ],
        &[],
    );
    let from_env = token_of(
        &["token", "--admin"],
        &[
            ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
            ("OSMOSIS_WORKSPACE_SECRET", "chosen-0123456789"),
        ],
    );
    until_status(&server, &from_env, 200).await;
    until_status(&server, &new, 401).await;
    // An unknown workspace is named.
    let out = osmosis(
        &[
            "workspace",
            "rotate-secret",
            "--key",
            "nope",
            "--data-dir",
            data,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no workspace `nope`"),
        "{}",
        stderr(&out)
    );
    server.stop();
}
