//! The generic element core over HTTP: envelope, keys, uuids, revisions, archive,
//! lists, selectors and bad input — exercised on several element types.

use serde_json::{json, Value};

use crate::common::*;

#[tokio::test]
async fn created_elements_carry_the_whole_envelope() {
    let s = Server::start().await;
    let v = s
        .create(
            "integrations",
            json!({"name": "HubSpot CRM", "description": "d", "meta": {"a": 1}}),
        )
        .await;
    assert!(v["id"].as_str().unwrap().starts_with("int_"), "{v}");
    assert_eq!(v["key"], "hubspot-crm");
    assert_eq!(v["name"], "HubSpot CRM");
    assert_eq!(v["description"], "d");
    assert_eq!(v["meta"], json!({"a": 1}));
    assert_eq!(v["state"], "READY");
    assert_eq!(v["logoUri"], "");
    assert_eq!(v["isDeactivated"], false);
    assert!(v["uuid"].as_str().unwrap().len() == 36);
    assert!(v["revision"].as_str().is_some_and(|r| !r.is_empty()));
    let created = v["createdAt"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    // Neither name nor key: both still present.
    let anon = s.create("flows", json!({})).await;
    assert!(!anon["name"].as_str().unwrap().is_empty());
    assert_eq!(anon["name"], anon["key"]);
    s.finish().await;
}

#[tokio::test]
async fn keys_and_uuids_are_unique_in_their_scope() {
    let s = Server::start().await;
    let a = s
        .create(
            "actions",
            json!({"key": "a1", "uuid": "11111111-1111-4111-8111-111111111111"}),
        )
        .await;
    let dup_key = s.post("/actions", &s.admin(), json!({"key": "a1"})).await;
    assert_error(&dup_key, 409, "bad_request", "already_exists");
    assert_eq!(dup_key.1["data"]["field"], "key");
    let dup_uuid = s
        .post(
            "/actions",
            &s.admin(),
            json!({"key": "a2", "uuid": "11111111-1111-4111-8111-111111111111"}),
        )
        .await;
    assert_error(&dup_uuid, 409, "bad_request", "already_exists");
    assert_eq!(dup_uuid.1["data"]["field"], "uuid");
    // The same key in another integration is another scope.
    s.create("integrations", json!({"key": "hub"})).await;
    let scoped = s
        .create("actions", json!({"key": "a1", "integrationKey": "hub"}))
        .await;
    assert_ne!(scoped["id"], a["id"]);
    // Derived keys step aside instead of failing.
    let n1 = s.create("flows", json!({"name": "Sync Contacts"})).await;
    let n2 = s.create("flows", json!({"name": "Sync Contacts"})).await;
    assert_eq!(n1["key"], "sync-contacts");
    assert_eq!(n2["key"], "sync-contacts-2");
    // Failed creates left nothing behind.
    let (_, list) = s.get("/actions?includeArchived=true", &s.admin()).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    s.finish().await;
}

#[tokio::test]
async fn selectors_find_by_id_key_and_uuid() {
    let s = Server::start().await;
    let v = s
        .create(
            "packages",
            json!({"key": "pk", "uuid": "22222222-2222-4222-8222-222222222222"}),
        )
        .await;
    let admin = s.admin();
    for sel in [
        v["id"].as_str().unwrap(),
        "pk",
        "22222222-2222-4222-8222-222222222222",
    ] {
        let (status, got) = s.get(&format!("/packages/{sel}"), &admin).await;
        assert_eq!(status, 200, "{sel}: {got}");
        assert_eq!(got["id"], v["id"]);
    }
    assert_error(
        &s.get("/packages/nope", &admin).await,
        404,
        "bad_request",
        "not_found",
    );
    assert_error(
        &s.get("/package?key=nope", &admin).await,
        404,
        "bad_request",
        "not_found",
    );
    let (status, got) = s.get("/package?key=pk", &admin).await;
    assert_eq!((status, &got["id"]), (200, &v["id"]));
    s.finish().await;
}

#[tokio::test]
async fn revisions_guard_concurrent_writes() {
    let s = Server::start().await;
    let admin = s.admin();
    let v = s.create("integrations", json!({"key": "rev"})).await;
    let r1 = v["revision"].as_str().unwrap().to_string();
    let (status, p1) = s
        .patch(
            "/integrations/rev",
            &admin,
            json!({"name": "One", "revision": r1}),
        )
        .await;
    assert_eq!(status, 200, "{p1}");
    assert_ne!(p1["revision"], v["revision"]);
    assert!(p1["updatedAt"].as_str() >= v["updatedAt"].as_str());
    // The old revision is now stale: refused, nothing changes.
    let stale = s
        .patch(
            "/integrations/rev",
            &admin,
            json!({"name": "Two", "revision": r1}),
        )
        .await;
    assert_error(&stale, 409, "concurrency", "stale_revision");
    let (_, now) = s.get("/integrations/rev", &admin).await;
    assert_eq!(now["name"], "One");
    assert_eq!(now["revision"], p1["revision"]);
    // PUT is held to the same rule.
    let put = s
        .call(
            "PUT",
            "/integrations/rev",
            Some(&admin),
            Some(json!({"name": "Three", "revision": r1})),
        )
        .await;
    assert_error(&put, 409, "concurrency", "stale_revision");
    s.finish().await;
}

/// One patch per field of an action, each setting its field to a value of
/// `round`'s: the field and the value it must read back as.
fn one_patch_per_field(round: usize) -> Vec<(&'static str, Value)> {
    vec![
        ("name", json!(format!("Name {round}"))),
        ("description", json!(format!("Description {round}"))),
        ("meta", json!({"round": round})),
        ("config", json!({"round": round})),
        ("outputMapping", json!({"round": round})),
        (
            "inputSchema",
            json!({"type": "object", "title": format!("In {round}")}),
        ),
        (
            "customOutputSchema",
            json!({"type": "object", "title": format!("Out {round}")}),
        ),
    ]
}

/// Asserts that `element` holds every one of `patches`.
#[track_caller]
fn assert_holds(element: &Value, patches: &[(&str, Value)]) {
    for (field, value) in patches {
        assert_eq!(&element[field], value, "{field} of {element}");
    }
}

/// Without a revision a lost race is retried on the fresh row: concurrent patches of
/// different fields all land, none undoing another.
#[tokio::test]
async fn concurrent_patches_without_revisions_all_land() {
    let s = Server::start().await;
    let admin = s.admin();
    s.create("actions", json!({"key": "many"})).await;
    let patches = one_patch_per_field(1);
    let calls: Vec<_> = patches
        .iter()
        .map(|(field, value)| s.patch("/actions/many", &admin, json!({ *field: value })))
        .collect();
    for (status, v) in futures::future::join_all(calls).await {
        assert_eq!(status, 200, "{v}");
    }
    let (_, now) = s.get("/actions/many", &admin).await;
    assert_holds(&now, &patches);
    s.finish().await;
}

/// Rounds of writes racing from two nodes on one PostgreSQL database, where each
/// node's own lock and revision check cannot see the other's writers: only the
/// database's compare-and-swap keeps them apart.
const RACE_ROUNDS: usize = 25;

/// Two nodes on one fresh database; none on SQLite, which one node owns (these
/// tests run in the PostgreSQL pass).
async fn two_nodes() -> Option<(Server, Server)> {
    if backend() != "postgres" {
        eprintln!("runs in the PostgreSQL pass: SQLite has one node");
        return None;
    }
    let a = Server::start().await;
    let b = a.another_node().await;
    Some((a, b))
}

/// Writers on two nodes that all name the revision they read: exactly one wins
/// each round, the others are told their revision is stale, and both nodes then
/// read the winner's write.
#[tokio::test]
async fn two_nodes_writing_one_revision_let_exactly_one_win() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let admin = a.admin();
    let mut revision = a.create("actions", json!({"key": "race"})).await["revision"].clone();
    for round in 0..RACE_ROUNDS {
        let calls: Vec<_> = (0..8)
            .map(|w| {
                let node = if w % 2 == 0 { &a } else { &b };
                let name = format!("round {round} writer {w}");
                let body = json!({"name": name, "revision": revision});
                let admin = &admin;
                async move { (name, node.patch("/actions/race", admin, body).await) }
            })
            .collect();
        let mut winners = Vec::new();
        for (name, answer) in futures::future::join_all(calls).await {
            if answer.0 == 200 {
                winners.push((name, answer.1));
            } else {
                assert_error(&answer, 409, "concurrency", "stale_revision");
            }
        }
        let names: Vec<_> = winners.iter().map(|(n, _)| n).collect();
        assert_eq!(winners.len(), 1, "round {round}: {names:?} all won");
        let (name, won) = &winners[0];
        for node in [&a, &b] {
            let (_, now) = node.get("/actions/race", &admin).await;
            assert_eq!(
                (&now["name"], &now["revision"]),
                (&json!(name), &won["revision"])
            );
        }
        revision = won["revision"].clone();
    }
    b.finish().await;
    a.finish().await;
}

/// Writers on two nodes without a revision, each patching its own field: every
/// write lands each round, none undone by another node's write of the row it read.
#[tokio::test]
async fn two_nodes_patching_without_revisions_keep_every_write() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let admin = a.admin();
    a.create("actions", json!({"key": "race"})).await;
    for round in 0..RACE_ROUNDS {
        let patches = one_patch_per_field(round);
        let calls: Vec<_> = patches
            .iter()
            .enumerate()
            .map(|(w, (field, value))| {
                let node = if w % 2 == 0 { &a } else { &b };
                node.patch("/actions/race", &admin, json!({ *field: value }))
            })
            .collect();
        for (status, v) in futures::future::join_all(calls).await {
            assert_eq!(status, 200, "round {round}: {v}");
        }
        for node in [&a, &b] {
            let (_, now) = node.get("/actions/race", &admin).await;
            assert_holds(&now, &patches);
        }
    }
    b.finish().await;
    a.finish().await;
}

#[tokio::test]
async fn archive_hides_restore_brings_back_and_archived_elements_are_frozen() {
    let s = Server::start().await;
    let admin = s.admin();
    s.create("flows", json!({"key": "f"})).await;
    let (status, archived) = s.call("DELETE", "/flows/f", Some(&admin), None).await;
    assert_eq!(status, 200, "{archived}");
    assert!(archived["archivedAt"].is_string());
    assert_eq!(archived["isDeactivated"], true);
    let (_, list) = s.get("/flows", &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    let (_, list) = s.get("/flows?includeArchived=true", &admin).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_error(
        &s.patch("/flows/f", &admin, json!({"name": "x"})).await,
        400,
        "bad_request",
        "not_editable",
    );
    // Archiving frees the key; restoring over a new holder of it is refused.
    s.create("flows", json!({"key": "f"})).await;
    let clash = s
        .call(
            "POST",
            "/flows/f/restore?includeArchived=true",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        clash.0, 200,
        "the live element is selected first: {}",
        clash.1
    );
    let archived_id = archived["id"].as_str().unwrap();
    assert_error(
        &s.call(
            "POST",
            &format!("/flows/{archived_id}/restore"),
            Some(&admin),
            None,
        )
        .await,
        409,
        "bad_request",
        "already_exists",
    );
    s.call("DELETE", "/flows/f", Some(&admin), None).await;
    let (status, restored) = s
        .call(
            "POST",
            &format!("/flows/{archived_id}/restore"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{restored}");
    assert!(restored.get("archivedAt").is_none());
    s.finish().await;
}

#[tokio::test]
async fn body_less_posts_with_a_form_content_type_work() {
    let s = Server::start().await;
    s.create("packages", json!({"key": "p"})).await;
    s.call("DELETE", "/packages/p", Some(&s.admin()), None)
        .await;
    let resp = s
        .http
        .post(format!("{}/packages/p/restore", s.url))
        .bearer_auth(s.admin())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("membrane-api-version", "2025-10-21")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.finish().await;
}

#[tokio::test]
async fn lists_page_with_cursors_and_validate_their_query() {
    let s = Server::start().await;
    let admin = s.admin();
    for i in 0..25 {
        s.create("data-link-tables", json!({"name": format!("Table {i:02}")}))
            .await;
    }
    let pages = s.list_pages("/data-link-tables?limit=10", &admin, 3).await;
    let seen: Vec<String> = items_of(&pages)
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(seen.len(), 25);
    assert_eq!(unique.len(), 25);
    let (_, found) = s.get("/data-link-tables?search=TABLE%200", &admin).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 10);
    let (_, by_key) = s.get("/data-link-tables?search=table-17", &admin).await;
    assert_eq!(by_key["items"].as_array().unwrap().len(), 1);
    for bad in [
        "limit=0",
        "limit=1001",
        "limit=ten",
        "cursor=-5",
        "includeArchived=maybe",
        "layer=galaxy",
    ] {
        assert_error(
            &s.get(&format!("/data-link-tables?{bad}"), &admin).await,
            400,
            "bad_request",
            "invalid_query",
        );
    }
    s.finish().await;
}

/// A listing ends on its last item: no page after it, whether the count is a
/// multiple of the page size or not, and every item comes exactly once, in order.
#[tokio::test]
async fn lists_end_on_the_last_page_whatever_the_count() {
    const LIMIT: usize = 3;
    let s = Server::start().await;
    let admin = s.admin();
    for count in [0, 1, LIMIT, LIMIT + 1, 2 * LIMIT] {
        // Each count is a listing of its own: a search for its names.
        let mut created = Vec::new();
        for i in 0..count {
            let v = s
                .create(
                    "data-link-tables",
                    json!({"name": format!("of{count}-{i}")}),
                )
                .await;
            created.push(v["id"].as_str().unwrap().to_string());
        }
        let expected_pages = count.div_ceil(LIMIT).max(1);
        let pages = s
            .list_pages(
                &format!("/data-link-tables?limit={LIMIT}&search=of{count}-"),
                &admin,
                expected_pages,
            )
            .await;
        let sizes: Vec<usize> = pages
            .iter()
            .map(|p| p["items"].as_array().unwrap().len())
            .collect();
        let mut expected_sizes = vec![LIMIT; count / LIMIT];
        if count % LIMIT > 0 || count == 0 {
            expected_sizes.push(count % LIMIT);
        }
        assert_eq!(sizes, expected_sizes, "{count} items: {pages:?}");
        let seen: Vec<String> = items_of(&pages)
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(seen, created, "{count} items");
    }
    s.finish().await;
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_writes_nothing() {
    let s = Server::start().await;
    let admin = s.admin();
    let cases = vec![
        (json!({"name": 5}), "name"),
        (json!({"meta": "x"}), "meta"),
        (json!({"key": ""}), "key"),
        (json!({"key": "a/b"}), "key"),
        (json!({"parameters": []}), "parameters"),
        (json!({"oAuthCallbackUri": "not a url"}), "oAuthCallbackUri"),
        (json!({"connectorKey": "missing"}), "connectorKey"),
        (json!({"logoBase64": "not base64 at all!"}), "logoBase64"),
    ];
    for (body, field) in cases {
        let r = s.post("/integrations", &admin, body.clone()).await;
        assert!(r.0 == 400 || r.0 == 404, "{body}: {}", r.1);
        assert_eq!(r.1["type"], "bad_request", "{body}: {}", r.1);
        assert_eq!(r.1["data"]["field"], field, "{body}: {}", r.1);
        assert!(
            r.1["message"].as_str().unwrap().contains(field) || r.0 == 404,
            "{}",
            r.1
        );
    }
    let enum_err = s
        .post("/actions", &admin, json!({"type": "teleport"}))
        .await;
    assert_error(&enum_err, 400, "bad_request", "invalid_field");
    assert!(enum_err.1["message"].as_str().unwrap().contains("teleport"));
    assert_error(
        &s.post("/screens", &admin, json!({"name": "no type"})).await,
        400,
        "bad_request",
        "invalid_field",
    );
    assert_error(
        &s.post(
            "/data-sources",
            &admin,
            json!({"pullUpdatesIntervalSeconds": 5}),
        )
        .await,
        400,
        "bad_request",
        "invalid_field",
    );
    for raw in ["{bad", "[1,2]", "\"text\""] {
        let resp = s
            .http
            .post(format!("{}/integrations", s.url))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["key"], "invalid_body");
    }
    let (_, list) = s.get("/integrations?includeArchived=1", &admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "refused writes left nothing"
    );
    s.finish().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_error_data() {
    let s = Server::start().await;
    let r = s.get("/no-such-thing", &s.admin()).await;
    assert_error(&r, 404, "bad_request", "not_found");
    let r = s.call("POST", "/health", None, None).await;
    assert_eq!(r.0, 405);
    assert_eq!(r.1["type"], "bad_request");
    s.finish().await;
}

#[tokio::test]
async fn cors_preflight_allows_the_sdk_headers() {
    let s = Server::start().await;
    let resp = s
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/integrations", s.url))
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,membrane-api-version",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://app.example");
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["authorization", "content-type", "membrane-api-version"] {
        assert!(allowed.contains(header), "{allowed}");
    }
    s.finish().await;
}

#[tokio::test]
async fn read_only_elements_refuse_writes() {
    let s = Server::start().await;
    let v = s.create("actions", json!({"key": "locked"})).await;
    // Published package elements are read-only; mark one the way publishing will.
    let mut el = s
        .stores
        .elements
        .element_by_id(&s.workspace_id().await, v["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    el.doc.insert("isReadOnly".into(), json!(true));
    let rev = el.revision.clone();
    el.revision = "ro".into();
    s.stores
        .elements
        .update_element(&el, "", &rev)
        .await
        .unwrap();
    let admin = s.admin();
    let (_, got) = s.get("/actions/locked", &admin).await;
    assert_eq!(got["isReadOnly"], true);
    assert_error(
        &s.patch("/actions/locked", &admin, json!({"name": "x"}))
            .await,
        400,
        "bad_request",
        "not_editable",
    );
    assert_error(
        &s.call("DELETE", "/actions/locked", Some(&admin), None)
            .await,
        400,
        "bad_request",
        "not_editable",
    );
    s.finish().await;
}

#[tokio::test]
async fn layers_select_universal_integration_and_parent_elements() {
    let s = Server::start().await;
    let admin = s.admin();
    s.create("integrations", json!({"key": "hub"})).await;
    let uni = s
        .create(
            "flows",
            json!({"key": "sync", "name": "Sync", "nodes": {"t": {"type": "api-trigger"}}}),
        )
        .await;
    assert_eq!(uni["isUniversal"], true);
    let child = s
        .create(
            "flows",
            json!({"key": "sync", "integrationKey": "hub", "parentKey": "sync"}),
        )
        .await;
    assert_eq!(child["universalFlowId"], uni["id"]);
    assert_eq!(
        child["nodes"], uni["nodes"],
        "a child starts as a copy of its parent"
    );
    assert_eq!(child["isCustomized"], false);
    assert_eq!(child["integration"]["key"], "hub");
    // Without a layer the universal one wins; the query narrows it.
    assert_eq!(s.get("/flows/sync", &admin).await.1["id"], uni["id"]);
    assert_eq!(
        s.get("/flows/sync?integrationKey=hub", &admin).await.1["id"],
        child["id"]
    );
    assert_eq!(
        s.get("/flows/sync?layer=integration&integrationKey=hub", &admin)
            .await
            .1["id"],
        child["id"]
    );
    assert_eq!(
        s.get("/flows/sync?layer=universal&integrationKey=hub", &admin)
            .await
            .1["id"],
        uni["id"]
    );
    assert_eq!(
        s.get("/flow?key=sync&integrationKey=hub", &admin).await.1["id"],
        child["id"]
    );
    assert_eq!(
        s.get("/integrations/hub/flows/sync", &admin).await.1["id"],
        child["id"]
    );
    assert_error(
        &s.get("/flows/sync?layer=integration", &admin).await,
        400,
        "bad_request",
        "invalid_query",
    );
    // The universal flow lists where it is applied.
    let (_, full) = s.get("/flows/sync?layer=universal", &admin).await;
    assert_eq!(
        full["appliedToIntegrations"][0]["element"]["id"],
        child["id"]
    );
    assert_eq!(
        full["appliedToIntegrations"][0]["integration"]["key"],
        "hub"
    );
    // Editing the child customises it; reset takes the parent's values again.
    let (_, edited) = s
        .patch(
            "/integrations/hub/flows/sync",
            &admin,
            json!({"nodes": {"t": {"type": "schedule-trigger"}}}),
        )
        .await;
    assert_eq!(edited["isCustomized"], true);
    let (status, reset) = s
        .call(
            "POST",
            "/integrations/hub/flows/sync/reset",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["isCustomized"], false);
    assert_eq!(reset["nodes"], uni["nodes"]);
    // Lists by layer.
    assert_eq!(
        s.get("/flows?layer=universal", &admin).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get("/flows?integrationKey=hub", &admin).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get("/integrations/hub/flows", &admin).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.get("/flows", &admin).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A universal element cannot have a parent; a parent must exist.
    assert_error(
        &s.post("/flows", &admin, json!({"key": "x", "parentKey": "sync"}))
            .await,
        400,
        "bad_request",
        "invalid_field",
    );
    assert_error(
        &s.post(
            "/flows",
            &admin,
            json!({"key": "y", "integrationKey": "hub", "parentKey": "ghost"}),
        )
        .await,
        404,
        "bad_request",
        "not_found",
    );
    s.finish().await;
}
