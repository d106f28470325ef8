//! Package versions: a version is inserted once and reads back as stored within
//! its workspace and package only; versions list newest first.

use osmosis_store::PackageVersion;
use serde_json::json;

use crate::common::*;

fn version(ws: &str, package: &str, version: &str, created_ms: i64) -> PackageVersion {
    PackageVersion {
        workspace_id: ws.into(),
        package_id: package.into(),
        version: version.into(),
        id: format!("pv_{version}_{created_ms}"),
        changelog: Some(format!("changes of {version}")),
        parent_version: None,
        created_ms,
        snapshot: json!({
            "package": {"name": "Sync", "elements": [{"uuid": "u-1", "type": "action"}]},
            "elements": [{"uuid": "u-1", "type": "action", "properties": {"name": "Ünï", "z": 1, "a": [2]}}],
        }),
    }
}

#[tokio::test]
async fn a_package_version_is_inserted_once_and_reads_back_in_its_package_only() {
    let db = TestDb::new().await;
    let store = db.node().await.package_versions;
    let v1 = version(WS, "pkg_1", "1.0.0", 1_000);
    assert!(store.insert_package_version(&v1).await.unwrap());
    // The same version again changes nothing, whatever it holds.
    let again = PackageVersion {
        changelog: None,
        snapshot: json!({}),
        ..version(WS, "pkg_1", "1.0.0", 2_000)
    };
    assert!(!store.insert_package_version(&again).await.unwrap());
    assert_eq!(
        store.package_versions(WS, "pkg_1").await.unwrap(),
        vec![v1.clone()]
    );
    assert_eq!(
        store.package_version(WS, "pkg_1", "1.0.0").await.unwrap(),
        Some(v1.clone())
    );
    // Another package, another workspace, another version: nothing.
    assert_eq!(store.package_versions(WS, "pkg_2").await.unwrap(), vec![]);
    assert_eq!(
        store.package_versions("ws_2", "pkg_1").await.unwrap(),
        vec![]
    );
    assert_eq!(
        store
            .package_version("ws_2", "pkg_1", "1.0.0")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.package_version(WS, "pkg_1", "1.0.1").await.unwrap(),
        None
    );
    // The same version of another package is its own.
    let other = version(WS, "pkg_2", "1.0.0", 1_500);
    assert!(store.insert_package_version(&other).await.unwrap());
    assert_eq!(
        store.package_versions(WS, "pkg_2").await.unwrap(),
        vec![other]
    );
    db.finish().await;
}

#[tokio::test]
async fn package_versions_list_newest_first_with_their_parents() {
    let db = TestDb::new().await;
    let store = db.node().await.package_versions;
    let v1 = version(WS, "pkg_1", "1.0.0", 1_000);
    let v2 = PackageVersion {
        parent_version: Some("1.0.0".into()),
        changelog: None,
        ..version(WS, "pkg_1", "1.10.0", 2_000)
    };
    let v3 = PackageVersion {
        parent_version: Some("1.10.0".into()),
        ..version(WS, "pkg_1", "1.9.0", 3_000)
    };
    assert_eq!(
        store.newest_package_version(WS, "pkg_1").await.unwrap(),
        None
    );
    for v in [&v1, &v3, &v2] {
        assert!(store.insert_package_version(v).await.unwrap());
    }
    // By when they were published, not by their names.
    assert_eq!(
        store.newest_package_version(WS, "pkg_1").await.unwrap(),
        Some(v3.clone())
    );
    assert_eq!(
        store.package_versions(WS, "pkg_1").await.unwrap(),
        vec![v3, v2.clone(), v1]
    );
    assert_eq!(
        store.package_version(WS, "pkg_1", "1.10.0").await.unwrap(),
        Some(v2)
    );
    db.finish().await;
}
