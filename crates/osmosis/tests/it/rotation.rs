//! Rotating the credentials key with the real binary: connections made under key A
//! (one archived) are resealed with key B by `osmosis rotate-credentials-key` with A
//! given as previous; afterwards a node with only B uses them and shows their
//! original credentials; a value no key opens is reported and left as it is; the
//! secret never appears in plaintext, in the database or the command's output.
//! In process: rotation pages through more connections than one page holds.

use osmosis_connectors::sealing::EncryptionKey;
use serde_json::{json, Value};

use crate::common::mock_api::{connector, mock_api, API_KEY};
use crate::common::process::*;
use crate::common::*;

/// `osmosis rotate-credentials-key`: exit success, stdout as JSON, stderr.
fn rotate(db: &str, dir: &std::path::Path, keys: &[(&str, &str)]) -> (bool, Value, String) {
    let out = command(
        &[
            "rotate-credentials-key",
            "--database",
            db,
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        keys,
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stdout.contains(API_KEY) && !stderr.contains(API_KEY));
    let report = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("stdout {stdout:?}; stderr {stderr}"));
    (out.status.success(), report, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_credentials_key_reseals_every_connection_with_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (db, pg) = fresh_database(dir.path()).await;
    let key_a = EncryptionKey::generate().to_base64();
    let key_b = EncryptionKey::generate().to_base64();
    let only_a = [("OSMOSIS_ENCRYPTION_KEY", key_a.as_str())];
    let b_after_a = [
        ("OSMOSIS_ENCRYPTION_KEY", key_b.as_str()),
        ("OSMOSIS_ENCRYPTION_KEY_PREVIOUS", key_a.as_str()),
    ];
    let only_b = [("OSMOSIS_ENCRYPTION_KEY", key_b.as_str())];
    let (base, revoked) = mock_api().await;

    // Under key A: alice's connection, and bob's, archived.
    let node = Running::serve_workspace(&db, free_port(), &data, &only_a).await;
    let c = node.create("connectors", connector(&base, "mock")).await;
    let i = node
        .create(
            "integrations",
            json!({"key": "mock", "name": "Mock", "connectorId": c["id"]}),
        )
        .await;
    let mut ids = Vec::new();
    for who in ["alice", "bob"] {
        let (status, conn) = node
            .call(
                "POST",
                "/connections",
                &customer_token(who),
                Some(json!({"integrationId": i["id"], "input": {"apiKey": API_KEY}})),
            )
            .await;
        assert_eq!(status, 200, "{conn}");
        ids.push(conn["id"].as_str().unwrap().to_owned());
    }
    let (status, gone) = node
        .call(
            "DELETE",
            &format!("/connections/{}", ids[1]),
            &admin_token(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(revoked.load(std::sync::atomic::Ordering::SeqCst), 1);
    node.stop();

    // With only B, nothing opens: both are reported by id, left as they are.
    let (ok, report, stderr) = rotate(&db, &data, &only_b);
    assert!(!ok, "{report}");
    assert_eq!(report["resealed"], 0, "{report}");
    assert_eq!(report["alreadyCurrent"], 0, "{report}");
    assert_eq!(report["unopenable"], 2, "{report}");
    let mut reported: Vec<&str> = report["unopenableConnections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["connectionId"].as_str().unwrap())
        .collect();
    reported.sort();
    let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(reported, expected, "{report}");
    assert!(
        stderr.contains("OSMOSIS_ENCRYPTION_KEY_PREVIOUS"),
        "{stderr}"
    );

    // B current, A previous: both resealed, archived one included; again: none.
    let (ok, report, stderr) = rotate(&db, &data, &b_after_a);
    assert!(ok, "{report} {stderr}");
    assert_eq!(report, json!({"resealed": 2, "alreadyCurrent": 0}));
    let (ok, report, _) = rotate(&db, &data, &b_after_a);
    assert!(ok, "{report}");
    assert_eq!(report, json!({"resealed": 0, "alreadyCurrent": 2}));
    // A key list with garbage is refused before anything is touched.
    let bad = command(
        &["rotate-credentials-key", "--database", &db],
        &[
            ("OSMOSIS_ENCRYPTION_KEY", key_b.as_str()),
            (
                "OSMOSIS_ENCRYPTION_KEY_PREVIOUS",
                &format!("{key_a},c2hvcnQ="),
            ),
        ],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(
        msg.contains("key 2 of the list") && msg.contains("32 bytes"),
        "{msg}"
    );
    assert!(!msg.contains(&key_a), "{msg}");

    // Only B now: the connection works and shows its original credentials.
    let node = Running::serve_workspace(&db, free_port(), &data, &only_b).await;
    let alice = customer_token("alice");
    let (status, me) = node
        .call(
            "GET",
            &format!("/connections/{}/proxy/me", ids[0]),
            &alice,
            None,
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "Ada");
    let (_, test) = node
        .call(
            "POST",
            &format!("/connections/{}/test", ids[0]),
            &alice,
            Some(json!({})),
        )
        .await;
    assert_eq!(test, json!({"success": true}));
    let (status, conn) = node
        .call(
            "GET",
            &format!("/connections/{}?includeSecrets=true", ids[0]),
            &admin_token(),
            None,
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["credentials"]["apiKey"], API_KEY, "{conn}");
    assert_eq!(conn["input"]["apiKey"], API_KEY, "{conn}");
    node.stop();

    // The key is nowhere in plaintext in the SQLite files.
    if backend() == "sqlite" {
        let path = db.trim_start_matches("sqlite://");
        let mut bytes = std::fs::read(path).unwrap();
        for suffix in ["-wal", "-shm"] {
            if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(more);
            }
        }
        assert!(bytes.len() > 4096);
        assert!(
            !bytes
                .windows(API_KEY.len())
                .any(|w| w == API_KEY.as_bytes()),
            "plaintext key in the database files"
        );
    }
    drop_database(pg).await;
}

#[tokio::test]
async fn rotation_pages_through_every_connection() {
    let s = Server::start().await;
    let c = s
        .create(
            "connectors",
            json!({"key": "plain", "name": "Plain", "type": "client-credentials",
                   "makeApiClient": {"type": "mapping", "mapping": {"baseUri": "http://127.0.0.1:9"}}}),
        )
        .await;
    s.create(
        "integrations",
        json!({"key": "plain", "name": "Plain", "connectorId": c["id"]}),
    )
    .await;
    // More than one page (200), given credentials: nothing to call.
    let total = 205;
    s.get("/self", &s.customer("alice")).await;
    for n in 0..total {
        let (status, conn) = s
            .post(
                "/connections",
                &s.admin(),
                json!({"integrationKey": "plain", "userId": "alice", "credentials": {"token": format!("t-{n}")}}),
            )
            .await;
        assert_eq!(status, 200, "{conn}");
    }
    // The server's key is current: every connection is visited once.
    let report = s.engine.calls().rotate_credentials_key().await.unwrap();
    assert_eq!((report.resealed, report.already_current), (0, total));
    // An engine whose only key is another one opens none, and says which.
    let other = osmosis_engine::Engine::new(
        s.stores.clone(),
        osmosis_engine::EngineConfig {
            public_url: s.url.clone(),
        },
    )
    .with_credentials_cipher(osmosis_connectors::sealing::CredentialsCipher::new(
        EncryptionKey::generate(),
    ));
    let report = other.calls().rotate_credentials_key().await.unwrap();
    assert_eq!((report.resealed, report.already_current), (0, 0));
    assert_eq!(report.unopenable.len(), total);
    let ids: std::collections::BTreeSet<_> =
        report.unopenable.iter().map(|u| &u.connection_id).collect();
    assert_eq!(ids.len(), total);
    assert!(report.unopenable.iter().all(|u| u.workspace_key == WS_KEY));
    s.finish().await;
}
