//! The catalog (the shipped connectors and those of `--connectors-dir`) is in every
//! workspace at once, however the workspace was made and whichever node is asked:
//! `osmosis workspace create` in another process while `serve` runs on the same
//! database, `OSMOSIS_WORKSPACE_KEY` on another node. Each connector is there once,
//! even when many first requests (or several nodes) see the workspace together.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use crate::common::process::*;
use crate::common::*;

/// A connectors folder with one connector (`own-crm`) in the Membrane layout.
fn connectors_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("connectors");
    let own = dir.join("own-crm");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(
        own.join("own-crm.yaml"),
        "key: own-crm\nname: Own CRM\ntype: client-credentials\n",
    )
    .unwrap();
    dir
}

fn shipped_keys() -> Vec<String> {
    osmosis_connectors::catalog::shipped()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap().to_owned())
        .collect()
}

/// `osmosis workspace create` as a process of its own: the new key and secret.
fn create_workspace_with_cli(database_url: &str, name: &str) -> (String, String) {
    let out = command(
        &[
            "workspace",
            "create",
            "--name",
            name,
            "--database",
            database_url,
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        v["key"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    )
}

fn admin_of(key: &str, secret: &str) -> String {
    token(
        json!({"iss": key, "isAdmin": true, "exp": now() + 3600}),
        secret,
        jsonwebtoken::Algorithm::HS256,
    )
}

/// How many connectors of each key `GET /connectors` lists (every page).
async fn connector_counts(url: &str, token: &str) -> BTreeMap<String, usize> {
    let pages = list_pages(
        &reqwest::Client::new(),
        &format!("{url}/connectors?limit=100"),
        token,
        10,
    )
    .await;
    let mut counts = BTreeMap::new();
    for item in items_of(&pages) {
        *counts
            .entry(item["key"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    counts
}

#[track_caller]
fn assert_catalog(counts: &BTreeMap<String, usize>, wanted: &[String]) {
    for key in wanted {
        assert_eq!(counts.get(key), Some(&1), "{key} once in {counts:?}");
    }
    assert!(
        counts.values().all(|n| *n == 1),
        "no connector twice: {counts:?}"
    );
}

#[tokio::test]
async fn a_workspace_another_process_creates_has_the_catalog_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let own = connectors_dir(dir.path());
    let data = dir.path().join("data");
    let mut node = Running::start(
        &db,
        free_port(),
        &[
            ("OSMOSIS_WORKSPACE_KEY", WS_KEY),
            ("OSMOSIS_WORKSPACE_SECRET", WS_SECRET),
            ("OSMOSIS_DATA_DIR", data.to_str().unwrap()),
            ("OSMOSIS_CONNECTORS_DIR", own.to_str().unwrap()),
        ],
    );
    node.wait_ready().await;
    let mut wanted = shipped_keys();
    wanted.push("own-crm".into());
    // The workspace that existed at start.
    assert_catalog(&connector_counts(&node.url, &admin_token()).await, &wanted);

    // A workspace made while the server runs, by another process writing the same
    // database: its very first request lists the catalog.
    let (key, secret) = create_workspace_with_cli(&db, "Made by the CLI");
    let admin = admin_of(&key, &secret);
    assert_catalog(&connector_counts(&node.url, &admin).await, &wanted);
    // A customer of it sees them too.
    let customer = token(
        json!({"iss": key, "id": "c-1", "exp": now() + 3600}),
        &secret,
        jsonwebtoken::Algorithm::HS256,
    );
    let (status, one) = node
        .call("GET", "/connectors/hubspot", &customer, None)
        .await;
    assert_eq!(status, 200, "{one}");

    // Many first requests at once, on a workspace nobody has asked about yet: one
    // install, every connector once, and none of them answers an empty list.
    let (key, secret) = create_workspace_with_cli(&db, "Raced");
    let admin = admin_of(&key, &secret);
    let first: Vec<_> = (0..16)
        .map(|_| {
            let url = node.url.clone();
            let admin = admin.clone();
            tokio::spawn(async move { connector_counts(&url, &admin).await })
        })
        .collect();
    for counts in futures::future::join_all(first).await {
        assert_catalog(&counts.unwrap(), &wanted);
    }
    assert_catalog(&connector_counts(&node.url, &admin).await, &wanted);

    // A connector the workspace archived is its own: it stays archived, and a
    // restart does not bring the catalog's copy back.
    let (status, v) = node
        .call("DELETE", "/connectors/github", &admin, None)
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, _, err) = node.terminate();
    assert!(!err.contains("\"level\":\"ERROR\""), "{err}");
    let mut node = Running::start(
        &db,
        free_port(),
        &[
            ("OSMOSIS_DATA_DIR", data.to_str().unwrap()),
            ("OSMOSIS_CONNECTORS_DIR", own.to_str().unwrap()),
        ],
    );
    node.wait_ready().await;
    let counts = connector_counts(&node.url, &admin).await;
    assert!(!counts.contains_key("github"), "{counts:?}");
    node.stop();
    drop_database(pg).await;
}

/// Several nodes on one PostgreSQL database: a workspace made by the CLI, or by a
/// node starting with `OSMOSIS_WORKSPACE_KEY`, has each node's catalog on every
/// node at its first request, every connector once though the nodes race.
#[tokio::test]
async fn every_node_serves_the_catalog_of_a_workspace_made_elsewhere() {
    if backend() != "postgres" {
        eprintln!("multi-node test runs in the PostgreSQL pass (OSMOSIS_TEST_DATABASE=postgres)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, pg) = fresh_database(dir.path()).await;
    let own = connectors_dir(dir.path());
    let key = osmosis_connectors::sealing::EncryptionKey::generate().to_base64();
    let data = dir.path().join("data");
    let env = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("OSMOSIS_ENCRYPTION_KEY", key.clone()),
            ("OSMOSIS_DATA_DIR", data.to_str().unwrap().to_owned()),
        ];
        env.extend_from_slice(extra);
        env
    };
    let start = |env: Vec<(&'static str, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Running::start(&db, free_port(), &env)
    };
    // Node A has its own connectors folder; node B only the shipped ones.
    let mut a = start(env(&[(
        "OSMOSIS_CONNECTORS_DIR",
        own.to_str().unwrap().to_owned(),
    )]));
    a.wait_ready().await;
    let mut b = start(env(&[]));
    b.wait_ready().await;
    let shipped = shipped_keys();
    let mut with_own = shipped.clone();
    with_own.push("own-crm".into());

    // Made by the CLI while both run; both nodes asked at the same moment.
    let (ws, secret) = create_workspace_with_cli(&db, "Shared");
    let admin = admin_of(&ws, &secret);
    let (on_a, on_b) = tokio::join!(
        connector_counts(&a.url, &admin),
        connector_counts(&b.url, &admin)
    );
    assert_catalog(&on_a, &with_own);
    assert_catalog(&on_b, &shipped);
    // Once A installed its own, B lists it too (it is in the database).
    assert_catalog(&connector_counts(&b.url, &admin).await, &with_own);

    // Made by a third node starting with OSMOSIS_WORKSPACE_KEY: A and B list it.
    let mut c = start(env(&[
        ("OSMOSIS_WORKSPACE_KEY", "from-node-c".to_owned()),
        (
            "OSMOSIS_WORKSPACE_SECRET",
            "secret-of-node-c-0123456789".to_owned(),
        ),
    ]));
    c.wait_ready().await;
    let admin = admin_of("from-node-c", "secret-of-node-c-0123456789");
    let (on_a, on_b) = tokio::join!(
        connector_counts(&a.url, &admin),
        connector_counts(&b.url, &admin)
    );
    assert_catalog(&on_a, &with_own);
    assert_catalog(&on_b, &shipped);
    assert_catalog(&connector_counts(&b.url, &admin).await, &with_own);
    for node in [a, b, c] {
        node.stop();
    }
    drop_database(pg).await;
}
