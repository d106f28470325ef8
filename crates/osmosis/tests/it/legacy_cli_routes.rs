//! What Membrane's published CLI 1.x (`@integration-app/membrane-cli` 1.2.3)
//! calls beyond the SDK: `POST /{singular}/apply`, a `PUT /{singular}?key&
//! integrationKey` of a copy that does not exist yet, writes that name a parent
//! by another workspace's id, `GET /org-workspace-id`, and connectors that say
//! whether they are the workspace's own (`workspaceId`) or public, listed as a
//! bare array for `?workspaceId=`. With the tenancy, archived-element and
//! hostile-input checks of each.

use serde_json::{json, Value};

use crate::common::*;
use crate::config_export::workspace;

/// The parent an integration-level copy names: `parentId`, or its type's own
/// field (`universalFlowId`, …).
fn parent_of(el: &Value) -> &Value {
    [
        "parentId",
        "universalFlowId",
        "universalDataSourceId",
        "universalActionId",
    ]
    .iter()
    .map(|f| &el[*f])
    .find(|v| !v.is_null())
    .unwrap_or(&Value::Null)
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a list page")
}

#[tokio::test]
async fn apply_makes_copies_for_integrations_once_and_a_put_makes_a_missing_copy() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let admin = s.admin();
    let flow = s
        .create(
            "flows",
            json!({"key": "f", "name": "The flow", "nodes": {"start": {"type": "api-trigger", "name": "Start"}}}),
        )
        .await;

    let (status, universal) = s
        .post(
            "/flow/apply?key=f",
            &admin,
            json!({"integrationKeys": ["crm"]}),
        )
        .await;
    assert_eq!(status, 200, "{universal}");
    assert_eq!(universal["id"], flow["id"]);
    let applied = universal["appliedToIntegrations"].as_array().unwrap();
    assert_eq!(applied.len(), 1, "{universal}");
    let (status, copy) = s
        .get("/flow?key=f&integrationKey=crm&layer=integration", &admin)
        .await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(parent_of(&copy), &flow["id"], "{copy}");
    assert_eq!(copy["name"], "The flow");
    assert_eq!(copy["isCustomized"], false);
    assert_eq!(copy["nodes"], flow["nodes"]);
    // Again: the copy that exists is left as it is.
    let (status, _) = s
        .post(
            "/flow/apply?key=f",
            &admin,
            json!({"integrationKeys": [w.integration["id"]]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, page) = s
        .get(
            &format!(
                "/flows?integrationId={}",
                w.integration["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    assert_eq!(items(&page).len(), 1, "{page}");

    // A PUT naming an integration with no copy yet makes it, then writes it;
    // the universal element is not touched.
    let (status, put) = s
        .call(
            "PUT",
            "/data-source?key=people&integrationKey=crm",
            Some(&admin),
            Some(
                json!({"key": "people", "name": "People in the CRM", "udm": "contacts",
                        "universalDataSourceId": "dsr_from_another_workspace"}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["integrationId"], w.integration["id"]);
    assert_eq!(parent_of(&put), &w.data_source["id"], "{put}");
    assert_eq!(put["name"], "People in the CRM");
    let (_, universal) = s.get("/data-sources/people?layer=universal", &admin).await;
    assert_eq!(universal["name"], "People");
    assert_eq!(universal["integrationId"], Value::Null);

    // Writing a copy with its parent named by an id from elsewhere keeps the
    // parent; creating with one is still refused.
    let (status, renamed) = s
        .call(
            "PUT",
            "/flow?key=f&integrationKey=crm",
            Some(&admin),
            Some(json!({"key": "f", "name": "Renamed copy", "universalFlowId": "flw_from_another_workspace",
                        "nodes": flow["nodes"]})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["id"], copy["id"]);
    assert_eq!(parent_of(&renamed), &flow["id"], "{renamed}");
    assert_eq!(renamed["isCustomized"], true);
    let refused = s
        .post(
            "/flows",
            &admin,
            json!({"key": "g", "integrationKey": "crm", "universalFlowId": "flw_from_another_workspace"}),
        )
        .await;
    assert_error(&refused, 404, "bad_request", "not_found");
    s.finish().await;
}

#[tokio::test]
async fn an_elements_integration_is_fixed_and_apply_is_checked() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let admin = s.admin();
    // Moving the universal action into an integration (what a PUT of the CLI
    // did before) is refused, and changes nothing.
    let universal = w.universal_action["id"].as_str().unwrap();
    for method in ["PATCH", "PUT"] {
        let refused = s
            .call(
                method,
                &format!("/actions/{universal}"),
                Some(&admin),
                Some(json!({"name": "Moved", "integrationKey": "crm"})),
            )
            .await;
        assert_error(&refused, 400, "bad_request", "invalid_field");
        assert_eq!(refused.1["data"]["field"], "integrationId", "{}", refused.1);
    }
    let (_, still) = s.get(&format!("/actions/{universal}"), &admin).await;
    assert_eq!(still["name"], "Sync");
    assert_eq!(still["integrationId"], Value::Null);
    // The copy's own integration may be named again.
    let custom = w.custom_action["id"].as_str().unwrap();
    let (status, same) = s
        .patch(
            &format!("/actions/{custom}"),
            &admin,
            json!({"integrationKey": "crm", "name": "Still in the CRM"}),
        )
        .await;
    assert_eq!(status, 200, "{same}");

    // The CLI's query form and the path form the SDK's selectors name share
    // one handler; both are held to the same refusals.
    let forms: [fn(&str) -> String; 2] = [
        |key| format!("/action/apply?key={key}"),
        |key| format!("/actions/{key}/apply"),
    ];
    let crm = json!({"integrationKeys": ["crm"]});
    let other = s.other_workspace_admin().await;
    for form in forms {
        let sync = form("sync");
        let apply = |token: String, path: String, body: Value| {
            let s = &s;
            async move { s.post(&path, &token, body).await }
        };
        assert_error(
            &apply(s.customer("alice"), sync.clone(), crm.clone()).await,
            403,
            "bad_request",
            "access_denied",
        );
        assert_error(
            &apply(other.clone(), sync.clone(), crm.clone()).await,
            404,
            "bad_request",
            "not_found",
        );
        let unknown = apply(
            admin.clone(),
            sync.clone(),
            json!({"integrationKeys": ["nope"]}),
        )
        .await;
        assert_error(&unknown, 404, "bad_request", "not_found");
        assert_eq!(unknown.1["data"]["field"], "integrationKeys");
        // `gone` was archived by the fixture: not applied.
        assert_error(
            &apply(admin.clone(), form("gone"), crm.clone()).await,
            404,
            "bad_request",
            "not_found",
        );
        for body in [
            json!({}),
            json!({"integrationKeys": "crm"}),
            json!({"integrationKeys": ["crm"], "x": 1}),
        ] {
            let (status, refused) = apply(admin.clone(), sync.clone(), body).await;
            assert_eq!(status, 400, "{sync}: {refused}");
            assert_eq!(refused["type"], "bad_request", "{refused}");
        }
        let oversized = json!({"integrationKeys": ["x".repeat(11 * 1024 * 1024)]});
        let (status, refused) = apply(admin.clone(), sync.clone(), oversized).await;
        assert_eq!(status, 413, "{sync}: {refused}");
        let joined = if sync.contains('?') { '&' } else { '?' };
        assert_error(
            &s.call(
                "POST",
                &format!("{sync}{joined}token={admin}"),
                None,
                Some(crm.clone()),
            )
            .await,
            401,
            "bad_request",
            "not_authenticated",
        );
    }
    let (status, body) = s.post("/action/apply", &admin, crm.clone()).await;
    assert_eq!(status, 400, "{body}");
    s.finish().await;
}

#[tokio::test]
async fn connectors_say_whose_they_are_and_the_workspace_is_named() {
    let s = Server::start_shipped(false, osmosis_connectors::http::AllowList::loopback()).await;
    let admin = s.admin();
    let custom = s
        .create("connectors", {
            let mut c = oauth2_connector("http://127.0.0.1:9");
            c["key"] = json!("own-connector");
            c
        })
        .await;
    let ws = s.workspace_id().await;
    assert_eq!(custom["workspaceId"], ws.as_str(), "{custom}");
    assert_eq!(custom["isPublic"], false);
    let (status, page) = s.get("/connectors?limit=1000", &admin).await;
    assert_eq!(status, 200);
    let shipped: Vec<&Value> = items(&page)
        .iter()
        .filter(|c| c["key"] != "own-connector")
        .collect();
    assert!(!shipped.is_empty());
    for c in &shipped {
        assert_eq!(c["isPublic"], true, "{c}");
        assert!(c.get("workspaceId").is_none(), "{c}");
    }

    let (status, all) = s
        .get(&format!("/connectors?workspaceId={ws}"), &admin)
        .await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().expect("a bare array, as the CLI reads it");
    assert_eq!(all.len(), items(&page).len());
    let (status, none) = s
        .get("/connectors?workspaceId=ws_someone_else", &admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(none, json!([]));

    let (status, id) = s.get("/org-workspace-id", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(id, json!({"id": ws}));
    let other = s.other_workspace_admin().await;
    let (_, theirs) = s.get("/org-workspace-id", &other).await;
    assert_ne!(theirs["id"], ws.as_str());
    let (status, _) = s.call("GET", "/org-workspace-id", None, None).await;
    assert_eq!(status, 401);
    s.finish().await;
}

#[tokio::test]
async fn a_put_that_makes_a_copy_refuses_customers_other_workspaces_and_archived_parents() {
    let s = Server::start().await;
    let w = workspace(&s).await;
    let admin = s.admin();
    let put = |token: String, path: &'static str| {
        let s = &s;
        async move {
            s.call(
                "PUT",
                path,
                Some(&token),
                Some(json!({"key": "people", "name": "Copy", "udm": "contacts"})),
            )
            .await
        }
    };
    let path = "/data-source?key=people&integrationKey=crm";
    // A customer writes no workspace element; another workspace's admin finds
    // neither the integration nor the element: no copy is made by either.
    assert_error(
        &put(s.customer("alice"), path).await,
        403,
        "bad_request",
        "access_denied",
    );
    let other = s.other_workspace_admin().await;
    assert_error(
        &put(other.clone(), path).await,
        404,
        "bad_request",
        "not_found",
    );
    assert_eq!(copies(&s, &admin).await, 0);
    // An archived universal element is not copied; nor is an element into an
    // archived integration; restored, the same PUT makes the copy (so the
    // counts here can see one).
    let universal = w.data_source["id"].as_str().unwrap();
    let integration = w.integration["id"].as_str().unwrap();
    for (archive, restore, what) in [
        (
            format!("/data-sources/{universal}"),
            format!("/data-sources/{universal}/restore"),
            "parent",
        ),
        (
            format!("/integrations/{integration}"),
            format!("/integrations/{integration}/restore"),
            "integration",
        ),
    ] {
        let (status, _) = s.call("DELETE", &archive, Some(&admin), None).await;
        assert_eq!(status, 200);
        let refused = put(admin.clone(), path).await;
        assert!(
            matches!(refused.0, 404 | 410),
            "an archived {what} makes no copy: {refused:?}"
        );
        assert_eq!(copies(&s, &admin).await, 0);
        let (status, _) = s.call("POST", &restore, Some(&admin), None).await;
        assert_eq!(status, 200);
    }
    let made = put(admin.clone(), path).await;
    assert_eq!(made.0, 200, "{:?}", made.1);
    assert_eq!(copies(&s, &admin).await, 1);

    // `/org-workspace-id` names the token's own workspace, a customer's too
    // (it is the id its connectors' `workspaceId` carry); a hostile or
    // foreign-signed token is refused.
    let ws = s.workspace_id().await;
    let (status, id) = s.get("/org-workspace-id", &s.customer("alice")).await;
    assert_eq!(status, 200, "{id}");
    assert_eq!(id, json!({"id": ws}));
    let forged = token(
        json!({"iss": "other-ws", "isAdmin": true, "exp": now() + 3600}),
        "not-the-secret",
        jsonwebtoken::Algorithm::HS256,
    );
    let (status, _) = s.get("/org-workspace-id", &forged).await;
    assert_eq!(status, 401);
    let (status, _) = s
        .call(
            "GET",
            &format!("/org-workspace-id?token={admin}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    s.finish().await;
}

/// How many integration-level data sources the workspace has.
async fn copies(s: &Server, admin: &str) -> usize {
    let (_, page) = s
        .get(
            "/data-sources?layer=integration&includeArchived=true",
            admin,
        )
        .await;
    items(&page).len()
}
