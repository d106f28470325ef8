//! Connector sources and versions: a version reads back as stored within its
//! workspace and connector only; the working version is replaced in place
//! (keeping its id), a published one is inserted once; versions list newest first.

use osmosis_store::ConnectorVersion;
use serde_json::json;

use crate::common::*;

fn version(ws: &str, connector: &str, version: &str, created_ms: i64) -> ConnectorVersion {
    ConnectorVersion {
        workspace_id: ws.into(),
        connector_id: connector.into(),
        version: version.into(),
        id: format!("cv_{version}_{created_ms}"),
        changelog: Some(format!("changes of {version}")),
        created_ms,
        definition: json!({"key": "crm", "name": "CRM", "auth": {"type": "api-key"}, "z": 1, "a": 2}),
    }
}

#[tokio::test]
async fn a_published_version_is_inserted_once_and_reads_back_in_its_connector_only() {
    let db = TestDb::new().await;
    let store = db.node().await.connector_versions;
    let v1 = version(WS, "con_1", "1.0.0", 1_000);
    assert!(store.insert_connector_version(&v1, b"zip 1").await.unwrap());
    // The same version again changes nothing, whatever it holds.
    let again = ConnectorVersion {
        changelog: None,
        ..version(WS, "con_1", "1.0.0", 2_000)
    };
    assert!(!store
        .insert_connector_version(&again, b"zip 2")
        .await
        .unwrap());
    assert_eq!(
        store.connector_versions(WS, "con_1").await.unwrap(),
        vec![v1.clone()]
    );
    assert_eq!(
        store
            .connector_version_source(WS, "con_1", "1.0.0")
            .await
            .unwrap(),
        Some(b"zip 1".to_vec())
    );
    // Another connector, another workspace, another version: nothing.
    assert_eq!(store.connector_versions(WS, "con_2").await.unwrap(), vec![]);
    assert_eq!(
        store.connector_versions("ws_2", "con_1").await.unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .connector_version_source("ws_2", "con_1", "1.0.0")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .connector_version_source(WS, "con_1", "1.0.1")
            .await
            .unwrap(),
        None
    );
    // The same version of another connector is its own.
    let other = version(WS, "con_2", "1.0.0", 1_500);
    assert!(store
        .insert_connector_version(&other, b"zip 3")
        .await
        .unwrap());
    assert_eq!(
        store.connector_versions(WS, "con_2").await.unwrap(),
        vec![other]
    );
    db.finish().await;
}

#[tokio::test]
async fn the_working_version_is_replaced_in_place_and_versions_list_newest_first() {
    let db = TestDb::new().await;
    let store = db.node().await.connector_versions;
    let dev = version(WS, "con_1", "development", 1_000);
    store
        .upsert_connector_version(&dev, b"first")
        .await
        .unwrap();
    let published = version(WS, "con_1", "1.0.0", 2_000);
    assert!(store
        .insert_connector_version(&published, b"published")
        .await
        .unwrap());
    let replaced = ConnectorVersion {
        id: "cv_other".into(),
        changelog: None,
        definition: json!({"key": "crm", "name": "CRM 2"}),
        ..version(WS, "con_1", "development", 3_000)
    };
    store
        .upsert_connector_version(&replaced, b"second")
        .await
        .unwrap();
    let listed = store.connector_versions(WS, "con_1").await.unwrap();
    // The replaced row keeps its id and takes the rest.
    let expected_dev = ConnectorVersion {
        id: dev.id.clone(),
        ..replaced
    };
    assert_eq!(listed, vec![expected_dev, published]);
    assert_eq!(
        store
            .connector_version_source(WS, "con_1", "development")
            .await
            .unwrap(),
        Some(b"second".to_vec())
    );
    // Deleting removes one version only.
    assert!(store
        .delete_connector_version(WS, "con_1", "development")
        .await
        .unwrap());
    assert!(!store
        .delete_connector_version(WS, "con_1", "development")
        .await
        .unwrap());
    let listed = store.connector_versions(WS, "con_1").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, "1.0.0");
    db.finish().await;
}

#[tokio::test]
async fn a_large_binary_source_reads_back_byte_for_byte() {
    let db = TestDb::new().await;
    let store = db.node().await.connector_versions;
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let v = version(WS, "con_1", "2.0.0-beta.1", 1_000);
    assert!(store.insert_connector_version(&v, &bytes).await.unwrap());
    assert_eq!(
        store
            .connector_version_source(WS, "con_1", "2.0.0-beta.1")
            .await
            .unwrap(),
        Some(bytes)
    );
    db.finish().await;
}
