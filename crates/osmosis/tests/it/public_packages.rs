//! Public packages (crates/engine/src/public_packages.rs): a workspace makes a
//! package public, another installs one of its versions (read-only), applies it
//! to its integrations, customises a copy, and upgrades to a newer version —
//! which keeps the customised copy and moves everything else. Admin tokens of
//! the right workspace only; an archived package is neither listed nor
//! installed; hostile input changes nothing.

use serde_json::{json, Value};

use crate::common::*;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

async fn ok(resp: (u16, Value), what: &str) -> Value {
    assert_eq!(resp.0, 200, "{what}: {}", resp.1);
    resp.1
}

/// Workspace 1's package `sync-pack` {action `sync`, flow `pull`}, version
/// `1.0.0` published and the package made public; answers the package id.
async fn published(s: &Server) -> String {
    let admin = s.admin();
    s.create(
        "actions",
        json!({"key": "sync", "name": "Sync", "type": "run-javascript",
               "config": {"code": "module.exports = async () => 1"}}),
    )
    .await;
    s.create("flows", json!({"key": "pull", "name": "Pull"}))
        .await;
    let p = s
        .create(
            "packages",
            json!({"key": "sync-pack", "name": "Sync pack", "description": "CRM sync",
                   "elements": [{"type": "action", "key": "sync"}, {"type": "flow", "key": "pull"}]}),
        )
        .await;
    let pid = id(&p);
    let refused = s
        .post(&format!("/packages/{pid}/publish"), &admin, json!({}))
        .await;
    assert_error(&refused, 400, "bad_request", "not_supported");
    ok(
        s.post(
            &format!("/packages/{pid}/versions"),
            &admin,
            json!({"version": "1.0.0", "changelog": "First"}),
        )
        .await,
        "version 1.0.0",
    )
    .await;
    let public = ok(
        s.post(&format!("/packages/{pid}/publish"), &admin, json!({}))
            .await,
        "publish",
    )
    .await;
    assert_eq!(public["isPublic"], true, "{public}");
    pid
}

/// An integration `crm` in the workspace of `token`.
async fn integration(s: &Server, token: &str) -> Value {
    let mut connector = oauth2_connector("http://127.0.0.1:9");
    connector.as_object_mut().unwrap().remove("test");
    let connector = ok(s.post("/connectors", token, connector).await, "connector").await;
    ok(
        s.post(
            "/integrations",
            token,
            json!({"key": "crm", "name": "CRM", "connectorId": connector["id"]}),
        )
        .await,
        "integration",
    )
    .await
}

#[tokio::test]
async fn an_installed_package_is_read_only_and_its_upgrade_keeps_customised_copies() {
    let s = Server::start().await;
    let admin = s.admin();
    let pid = published(&s).await;
    let other = s.other_workspace_admin().await;

    // The list: every workspace's public packages, searchable.
    let list = ok(s.get("/public-packages", &other).await, "list").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], pid.as_str());
    assert_eq!(items[0]["version"], "1.0.0");
    assert_eq!(items[0]["changelog"], "First");
    assert_eq!(items[0]["isPublic"], true);
    let found = ok(
        s.get("/public-packages?search=PACK", &other).await,
        "search",
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    let none = ok(
        s.get("/public-packages?search=nothing", &other).await,
        "search",
    )
    .await;
    assert_eq!(none["items"], json!([]));

    // Installing it: the package and its elements, read-only, in workspace 2.
    let installed = ok(
        s.post(
            &format!("/public-packages/{pid}/install"),
            &other,
            json!({}),
        )
        .await,
        "install",
    )
    .await;
    assert_eq!(installed["isReadOnly"], true, "{installed}");
    assert_eq!(installed["version"], "1.0.0");
    assert_eq!(installed["key"], "sync-pack");
    assert_ne!(installed["id"], pid.as_str());
    let members = installed["elements"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{installed}");
    for m in members {
        assert_eq!(m["element"]["isReadOnly"], true, "{m}");
    }
    let action = ok(s.get("/actions/sync", &other).await, "installed action").await;
    assert_eq!(action["isReadOnly"], true);
    assert_eq!(action["name"], "Sync");
    // Read-only: the API changes none of it.
    let patched = s
        .patch("/actions/sync", &other, json!({"name": "Edited"}))
        .await;
    assert_error(&patched, 400, "bad_request", "not_editable");
    let archived = s
        .call("DELETE", "/packages/sync-pack", Some(&other), None)
        .await;
    assert_error(&archived, 400, "bad_request", "not_editable");
    // Once per workspace; never into its own publisher.
    let again = s
        .post(
            &format!("/public-packages/{pid}/install"),
            &other,
            json!({}),
        )
        .await;
    assert_error(&again, 409, "bad_request", "already_exists");
    let own = s
        .post(
            &format!("/public-packages/{pid}/install"),
            &admin,
            json!({}),
        )
        .await;
    assert_error(&own, 400, "bad_request", "not_supported");
    // Workspace 1's own package says it is public; the installed one is not.
    let mine = ok(s.get(&format!("/packages/{pid}"), &admin).await, "own").await;
    assert_eq!(mine["isPublic"], true);
    assert_eq!(installed["isPublic"], false);

    // Workspace 2 applies it to its integration and customises one copy.
    let crm = integration(&s, &other).await;
    let applied = ok(
        s.post(
            "/packages/sync-pack/apply",
            &other,
            json!({"integrationKeys": ["crm"]}),
        )
        .await,
        "apply",
    )
    .await;
    let copies = applied["appliedToIntegrations"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "{applied}");
    assert_eq!(copies[0]["integration"]["id"], crm["id"]);
    let package_copy = ok(
        s.get(&format!("/packages/{}", id(&copies[0]["element"])), &other)
            .await,
        "package copy",
    )
    .await;
    let member_copies = package_copy["elements"].as_array().unwrap();
    assert_eq!(member_copies.len(), 2, "{package_copy}");
    for m in member_copies {
        assert_eq!(m["element"]["integrationId"], crm["id"], "{m}");
        assert_eq!(m["element"]["isReadOnly"], false, "{m}");
    }
    let customised = ok(
        s.patch(
            "/action?key=sync&integrationKey=crm",
            &other,
            json!({"name": "Mine"}),
        )
        .await,
        "customise the copy",
    )
    .await;
    assert_eq!(customised["isCustomized"], true);
    let flow_copy = ok(
        s.get("/flow?key=pull&integrationKey=crm", &other).await,
        "flow copy",
    )
    .await;

    // Workspace 1 publishes 1.1.0: the action renamed, the flow dropped, an
    // action added.
    ok(
        s.patch("/actions/sync", &admin, json!({"name": "Sync v2"}))
            .await,
        "rename",
    )
    .await;
    s.create(
        "actions",
        json!({"key": "push", "name": "Push", "type": "run-javascript",
               "config": {"code": "module.exports = async () => 2"}}),
    )
    .await;
    ok(
        s.patch(
            &format!("/packages/{pid}"),
            &admin,
            json!({"elements": [{"type": "action", "key": "sync"}, {"type": "action", "key": "push"}]}),
        )
        .await,
        "repackage",
    )
    .await;
    ok(
        s.post(
            &format!("/packages/{pid}/versions"),
            &admin,
            json!({"version": "1.1.0"}),
        )
        .await,
        "version 1.1.0",
    )
    .await;
    let listed = ok(s.get("/public-packages", &other).await, "list").await;
    assert_eq!(listed["items"][0]["version"], "1.1.0");
    assert_eq!(listed["items"][0]["parentPackageVersion"], "1.0.0");

    let upgraded = ok(
        s.post("/packages/sync-pack/upgrade", &other, json!({}))
            .await,
        "upgrade",
    )
    .await;
    assert_eq!(upgraded["version"], "1.1.0", "{upgraded}");
    assert_eq!(upgraded["isReadOnly"], true);
    let action = ok(s.get("/actions/sync", &other).await, "action").await;
    assert_eq!(action["name"], "Sync v2");
    assert_eq!(action["isReadOnly"], true);
    let push = ok(s.get("/actions/push", &other).await, "added action").await;
    assert_eq!(push["isReadOnly"], true);
    let flow = ok(
        s.get("/flows/pull?includeArchived=true", &other).await,
        "dropped flow",
    )
    .await;
    assert!(flow["archivedAt"].is_string(), "{flow}");
    // The rule: the customised copy is kept as it was; the integration got a
    // copy of the added action.
    let kept = ok(
        s.get("/action?key=sync&integrationKey=crm", &other).await,
        "customised copy",
    )
    .await;
    assert_eq!(kept["name"], "Mine");
    assert_eq!(kept["isCustomized"], true);
    assert_eq!(kept["id"], customised["id"]);
    ok(
        s.get("/action?key=push&integrationKey=crm", &other).await,
        "copy of the added action",
    )
    .await;
    let package_copy = ok(
        s.get(&format!("/packages/{}", id(&package_copy)), &other)
            .await,
        "package copy",
    )
    .await;
    let listed: Vec<&str> = package_copy["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["element"]["key"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["sync", "push"], "{package_copy}");
    assert_ne!(flow_copy["id"], Value::Null);

    // Not backwards; the same version is a no-op.
    let down = s
        .post(
            "/packages/sync-pack/upgrade",
            &other,
            json!({"version": "1.0.0"}),
        )
        .await;
    assert_error(&down, 400, "bad_request", "invalid_field");
    let same = ok(
        s.post(
            "/packages/sync-pack/upgrade",
            &other,
            json!({"version": "1.1.0"}),
        )
        .await,
        "same version",
    )
    .await;
    assert_eq!(same["revision"], upgraded["revision"]);

    // The installing workspace imports its own export unchanged; an import
    // that would change a read-only element is refused, as the API write is.
    let ws2 = s
        .stores
        .workspaces
        .workspace_by_key("other-ws")
        .await
        .unwrap()
        .expect("workspace 2")
        .id;
    let files = s
        .engine
        .export_workspace(&ws2, Default::default())
        .await
        .expect("export");
    let report = s
        .engine
        .import_workspace(&ws2, &files, Default::default())
        .await
        .expect("its own export imports");
    assert_eq!(report["changes"], json!([]), "{report}");
    let mut edited = files.clone();
    let (path, yaml) = edited
        .files
        .iter_mut()
        .find(|(p, _)| p.ends_with("actions/sync/spec.yaml"))
        .expect("the installed action's file");
    let path = path.clone();
    *yaml = String::from_utf8(yaml.clone())
        .unwrap()
        .replace("name: Sync v2", "name: Imported")
        .into_bytes();
    let refused = s
        .engine
        .import_workspace(&ws2, &edited, Default::default())
        .await
        .expect_err("a read-only element is not changed by an import");
    assert_eq!(refused.key.as_deref(), Some("import_refused"));
    assert!(refused.message.contains(&path), "{}", refused.message);
    assert!(refused.message.contains("read-only"), "{}", refused.message);

    // Unpublished: gone from the list, no more upgrades; installs keep theirs.
    let private = ok(
        s.post(&format!("/packages/{pid}/unpublish"), &admin, json!({}))
            .await,
        "unpublish",
    )
    .await;
    assert_eq!(private["isPublic"], false);
    let list = ok(s.get("/public-packages", &other).await, "list").await;
    assert_eq!(list["items"], json!([]));
    let upgrade = s
        .post("/packages/sync-pack/upgrade", &other, json!({}))
        .await;
    assert_error(&upgrade, 404, "bad_request", "not_found");
    ok(s.get("/actions/sync", &other).await, "still installed").await;
    s.finish().await;
}

#[tokio::test]
async fn public_packages_refuse_customers_other_workspaces_archived_packages_and_hostile_input() {
    let s = Server::start().await;
    let admin = s.admin();
    let pid = published(&s).await;
    let other = s.other_workspace_admin().await;
    let customer = s.customer("alice");

    // Customers: refused before anything is looked up.
    for (method, path) in [
        ("GET", "/public-packages".to_owned()),
        ("POST", format!("/public-packages/{pid}/install")),
        ("POST", format!("/packages/{pid}/publish")),
        ("POST", format!("/packages/{pid}/unpublish")),
        ("POST", format!("/packages/{pid}/upgrade")),
    ] {
        let resp = s
            .call(method, &path, Some(&customer), Some(json!({})))
            .await;
        assert_error(&resp, 403, "bad_request", "access_denied");
    }
    // Another workspace cannot publish, unpublish or upgrade workspace 1's
    // package: its selector names nothing there.
    for action in ["publish", "unpublish", "upgrade"] {
        let resp = s
            .post(&format!("/packages/{pid}/{action}"), &other, json!({}))
            .await;
        assert_error(&resp, 404, "bad_request", "not_found");
    }
    // A token in the query string is not a token.
    let resp = s
        .call(
            "GET",
            &format!("/public-packages?token={admin}"),
            None,
            None,
        )
        .await;
    assert_eq!(resp.0, 401, "{}", resp.1);

    // Hostile input: unknown fields, odd versions and cursors change nothing.
    let resp = s
        .post(
            &format!("/public-packages/{pid}/install"),
            &other,
            json!({"version": "1.0.0", "workspaceId": "elsewhere"}),
        )
        .await;
    assert_error(&resp, 400, "bad_request", "invalid_field");
    for version in ["../../1.0.0", "1.0.0' OR '1'='1", "9.9.9"] {
        let resp = s
            .post(
                &format!("/public-packages/{pid}/install"),
                &other,
                json!({"version": version}),
            )
            .await;
        assert_error(&resp, 404, "bad_request", "not_found");
    }
    let resp = s
        .post("/public-packages/pkg-nope/install", &other, json!({}))
        .await;
    assert_error(&resp, 404, "bad_request", "not_found");
    // A cursor is the last id seen, bound as a value: one sorting after every
    // id gives nothing, whatever SQL it spells.
    let page = ok(
        s.get(
            "/public-packages?cursor=~%27%20OR%20%271%27%3D%271&limit=5",
            &other,
        )
        .await,
        "odd cursor",
    )
    .await;
    assert_eq!(page["items"], json!([]), "{page}");
    let resp = s.get("/public-packages?limit=x", &other).await;
    assert_error(&resp, 400, "bad_request", "invalid_query");
    // A package of the workspace's own is not an install to upgrade.
    s.call(
        "POST",
        "/packages",
        Some(&other),
        Some(json!({"key": "own", "name": "Own"})),
    )
    .await;
    let resp = s.post("/packages/own/upgrade", &other, json!({})).await;
    assert_error(&resp, 400, "bad_request", "not_supported");

    // The installing workspace's own element with a key the package uses is
    // not taken over: the install is refused, naming it, and changes nothing.
    ok(
        s.post(
            "/actions",
            &other,
            json!({"key": "sync", "name": "Their own", "type": "run-javascript",
                   "config": {"code": "module.exports = async () => 3"}}),
        )
        .await,
        "own action",
    )
    .await;
    let resp = s
        .post(
            &format!("/public-packages/{pid}/install"),
            &other,
            json!({}),
        )
        .await;
    assert_error(&resp, 400, "bad_request", "import_refused");
    assert!(
        resp.1["message"].as_str().unwrap().contains("sync"),
        "{}",
        resp.1
    );
    let theirs = ok(s.get("/actions/sync", &other).await, "own action").await;
    assert_eq!(theirs["name"], "Their own");
    assert_eq!(theirs["isReadOnly"], false);
    let resp = s.get("/flows/pull", &other).await;
    assert_error(&resp, 404, "bad_request", "not_found");
    let resp = s.get("/packages/sync-pack", &other).await;
    assert_error(&resp, 404, "bad_request", "not_found");

    // An archived package: not listed, not installable, cannot be published.
    let resp = s
        .call("DELETE", &format!("/packages/{pid}"), Some(&admin), None)
        .await;
    assert_eq!(resp.0, 200, "{}", resp.1);
    let list = ok(s.get("/public-packages", &other).await, "list").await;
    assert_eq!(list["items"], json!([]));
    let resp = s
        .post(
            &format!("/public-packages/{pid}/install"),
            &other,
            json!({}),
        )
        .await;
    assert_error(&resp, 404, "bad_request", "not_found");
    let resp = s
        .post(&format!("/packages/{pid}/publish"), &admin, json!({}))
        .await;
    assert_error(&resp, 410, "bad_request", "gone");

    // A package holding an integration's element cannot be made public.
    integration(&s, &admin).await;
    let copy = ok(
        s.post(
            "/actions",
            &admin,
            json!({"key": "crm-only", "name": "CRM only", "integrationKey": "crm",
                   "type": "run-javascript", "config": {"code": "module.exports = async () => 4"}}),
        )
        .await,
        "integration action",
    )
    .await;
    let bound = s
        .create(
            "packages",
            json!({"key": "bound", "name": "Bound", "elements": [{"type": "action", "id": copy["id"]}]}),
        )
        .await;
    ok(
        s.post(
            &format!("/packages/{}/versions", id(&bound)),
            &admin,
            json!({"version": "1.0.0"}),
        )
        .await,
        "bound version",
    )
    .await;
    let resp = s
        .post(
            &format!("/packages/{}/publish", id(&bound)),
            &admin,
            json!({}),
        )
        .await;
    assert_error(&resp, 400, "bad_request", "not_supported");
    s.finish().await;
}
