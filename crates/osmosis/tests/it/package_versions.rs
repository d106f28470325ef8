//! Package versions: a publish snapshots the package as it is then, once; each
//! version reads back as what it held (`?version=`, `latest`), linked to the
//! version published before it. Admins of the workspace only; an archived
//! package publishes nothing; hostile version names change nothing.

use serde_json::{json, Value};

use crate::common::*;

async fn publish(s: &Server, token: &str, package: &str, body: Value) -> (u16, Value) {
    s.post(&format!("/packages/{package}/versions"), token, body)
        .await
}

/// The `(type, id, name now)` of a version's elements.
fn held(package: &Value) -> Vec<(String, String, String)> {
    package["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
                e["element"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn package_versions_hold_what_the_package_held_when_published() {
    let s = Server::start().await;
    let admin = s.admin();
    let a1 = s
        .create("actions", json!({"key": "a1", "name": "First"}))
        .await;
    let a1_id = a1["id"].as_str().unwrap().to_owned();
    let p = s
        .create(
            "packages",
            json!({"key": "sync", "name": "Sync", "description": "One action",
                "elements": [{"type": "action", "key": "a1"}]}),
        )
        .await;
    let pid = p["id"].as_str().unwrap().to_owned();

    let (status, v1) = publish(
        &s,
        &admin,
        &pid,
        json!({"version": "1.0.0", "changelog": "First release"}),
    )
    .await;
    assert_eq!(status, 200, "{v1}");
    assert_eq!(v1["version"], "1.0.0");
    assert_eq!(v1["changelog"], "First release");
    assert!(v1["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(v1.get("parentPackageVersion").is_none(), "{v1}");

    // Change the package: rename its action, add a flow, rename the package.
    let (status, _) = s
        .patch(
            &format!("/actions/{a1_id}"),
            &admin,
            json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(status, 200);
    let f1 = s
        .create("flows", json!({"key": "f1", "name": "Flow"}))
        .await;
    let f1_id = f1["id"].as_str().unwrap().to_owned();
    let (status, changed) = s
        .patch(
            &format!("/packages/{pid}"),
            &admin,
            json!({"name": "Sync 2", "description": "Two elements", "elements": [
                {"type": "action", "id": a1_id}, {"type": "flow", "id": f1_id}]}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let (status, v2) = publish(&s, &admin, &pid, json!({"version": "1.1.0"})).await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["parentPackageVersion"], "1.0.0");
    assert!(v2.get("changelog").is_none(), "{v2}");

    // Newest first, each linked to the one before.
    let (status, list) = s.get(&format!("/packages/{pid}/versions"), &admin).await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["version"], "1.1.0");
    assert_eq!(items[0]["parentPackageVersion"], "1.0.0");
    assert_eq!(items[0]["id"], v2["id"]);
    assert_eq!(items[1]["version"], "1.0.0");
    assert!(items[1].get("parentPackageVersion").is_none());

    // 1.0.0 held one action (rendered as it is today) and the package's name then.
    let (status, at1) = s
        .get(&format!("/packages/{pid}?version=1.0.0"), &admin)
        .await;
    assert_eq!(status, 200, "{at1}");
    assert_eq!(at1["id"], pid.as_str());
    assert_eq!(at1["version"], "1.0.0");
    assert_eq!(at1["changelog"], "First release");
    assert_eq!(at1["name"], "Sync");
    assert_eq!(at1["description"], "One action");
    assert!(at1.get("parentPackageVersion").is_none());
    assert_eq!(
        held(&at1),
        vec![("action".into(), a1_id.clone(), "Renamed".into())]
    );

    // 1.1.0 and `latest` hold both, and the package's name then.
    for version in ["1.1.0", "latest"] {
        let (status, at2) = s
            .get(&format!("/packages/{pid}?version={version}"), &admin)
            .await;
        assert_eq!(status, 200, "{at2}");
        assert_eq!(at2["version"], "1.1.0");
        assert_eq!(at2["parentPackageVersion"], "1.0.0");
        assert_eq!(at2["name"], "Sync 2");
        assert_eq!(
            held(&at2),
            vec![
                ("action".into(), a1_id.clone(), "Renamed".into()),
                ("flow".into(), f1_id.clone(), "Flow".into()),
            ]
        );
    }
    // The object selector and the `scenarios` alias read versions the same way.
    for path in [
        "/package?key=sync&version=1.0.0".to_owned(),
        format!("/scenarios/{pid}?version=1.0.0"),
        "/scenario?key=sync&version=1.0.0".to_owned(),
    ] {
        let (status, at) = s.get(&path, &admin).await;
        assert_eq!(status, 200, "{path}: {at}");
        assert_eq!(at["version"], "1.0.0", "{path}");
        assert_eq!(held(&at).len(), 1, "{path}");
    }
    let (status, aliased) = s.get(&format!("/scenarios/{pid}/versions"), &admin).await;
    assert_eq!(status, 200);
    assert_eq!(aliased, list);

    // `dev`, or no version, is the working copy, without version fields.
    for path in [
        format!("/packages/{pid}"),
        format!("/packages/{pid}?version=dev"),
    ] {
        let (status, dev) = s.get(&path, &admin).await;
        assert_eq!(status, 200, "{dev}");
        assert!(dev.get("version").is_none(), "{dev}");
        assert_eq!(dev["name"], "Sync 2");
        assert_eq!(dev["elements"].as_array().unwrap().len(), 2);
    }

    // An element archived since is still found; versions are immutable.
    let (status, _) = s
        .call("DELETE", &format!("/flows/{f1_id}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    let (_, at2) = s
        .get(&format!("/packages/{pid}?version=1.1.0"), &admin)
        .await;
    assert_eq!(at2["elements"][1]["id"], f1_id.as_str());
    assert!(
        at2["elements"][1]["element"]["archivedAt"].is_string(),
        "{at2}"
    );
    let again = publish(
        &s,
        &admin,
        &pid,
        json!({"version": "1.0.0", "changelog": "x"}),
    )
    .await;
    assert_error(&again, 409, "bad_request", "already_exists");
    let (_, list_after) = s.get(&format!("/packages/{pid}/versions"), &admin).await;
    assert_eq!(list_after, list);

    // Unknown versions, and a package with none: 404.
    let missing = s
        .get(&format!("/packages/{pid}?version=9.9.9"), &admin)
        .await;
    assert_error(&missing, 404, "bad_request", "not_found");
    let empty = s
        .create("packages", json!({"key": "empty", "name": "Empty"}))
        .await;
    let eid = empty["id"].as_str().unwrap();
    let none = s
        .get(&format!("/packages/{eid}?version=latest"), &admin)
        .await;
    assert_error(&none, 404, "bad_request", "not_found");
    let (status, list) = s.get(&format!("/packages/{eid}/versions"), &admin).await;
    assert_eq!((status, list), (200, json!({"items": []})));
    s.finish().await;
}

#[tokio::test]
async fn package_versions_are_for_the_workspace_admin_of_a_live_package() {
    let s = Server::start().await;
    let admin = s.admin();
    let p = s
        .create("packages", json!({"key": "sync", "name": "Sync"}))
        .await;
    let pid = p["id"].as_str().unwrap().to_owned();
    let (status, _) = publish(&s, &admin, &pid, json!({"version": "1.0.0"})).await;
    assert_eq!(status, 200);

    let customer = s.customer("alice");
    let other = s.other_workspace_admin().await;
    for (token, status, key) in [
        (&customer, 403, "access_denied"),
        (&other, 404, "not_found"),
    ] {
        let r = publish(&s, token, &pid, json!({"version": "2.0.0"})).await;
        assert_error(&r, status, "bad_request", key);
        let r = s.get(&format!("/packages/{pid}/versions"), token).await;
        assert_error(&r, status, "bad_request", key);
        let r = s
            .get(&format!("/packages/{pid}?version=1.0.0"), token)
            .await;
        assert_eq!(r.0, status, "{}", r.1);
    }
    let (_, list) = s.get(&format!("/packages/{pid}/versions"), &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // Hostile or reserved names: 400, nothing stored.
    let long = "1".repeat(101);
    for bad in [
        json!({"version": ""}),
        json!({}),
        json!({"version": 1}),
        json!({"version": "../1"}),
        json!({"version": "1.0.0/../x"}),
        json!({"version": "1.0.0\u{0}"}),
        json!({"version": "<script>"}),
        json!({"version": "dev"}),
        json!({"version": "latest"}),
        json!({"version": "LATEST"}),
        json!({"version": long}),
        json!({"version": "2.0.0", "extra": true}),
    ] {
        let r = publish(&s, &admin, &pid, bad.clone()).await;
        assert_eq!(r.0, 400, "{bad}: {}", r.1);
    }
    let r = s
        .get(&format!("/packages/{pid}?version=..%2F1"), &admin)
        .await;
    assert_error(&r, 400, "bad_request", "invalid_field");
    let (_, after) = s.get(&format!("/packages/{pid}/versions"), &admin).await;
    assert_eq!(after, list);

    // An archived package publishes nothing (410); its versions stay readable.
    let (status, _) = s
        .call("DELETE", &format!("/packages/{pid}"), Some(&admin), None)
        .await;
    assert_eq!(status, 200);
    let gone = publish(&s, &admin, &pid, json!({"version": "2.0.0"})).await;
    assert_error(&gone, 410, "bad_request", "gone");
    let (status, at) = s
        .get(&format!("/packages/{pid}?version=1.0.0"), &admin)
        .await;
    assert_eq!(status, 200, "{at}");
    let (_, after) = s.get(&format!("/packages/{pid}/versions"), &admin).await;
    assert_eq!(after, list);
    s.finish().await;
}
