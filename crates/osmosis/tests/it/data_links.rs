//! Data links through `/data-link-table-instance/links` (docs/spec/semantics.md
//! §5.3): links are created, found and deleted on the instance a selector names
//! (made on demand with `autoCreate`); `both` stores one link each way; creating a
//! link again changes nothing, and a new link replaces the older link of either
//! record in its direction; pages end without a cursor; a bad body or parameter is
//! refused naming it and changes nothing (not even an instance through autoCreate);
//! another customer finds nothing of Alice's, and an archived connection, instance,
//! table or integration puts the links out of reach until restored. The formula
//! host answers `$findAppRecordId` / `$findExternalRecordId` from the same links.

use std::sync::Arc;

use osmosis_engine::caller::CustomerClaims;
use osmosis_runtime::formula::resolve_formulas;
use serde_json::{json, Value};

use crate::common::*;

const TABLE: &str = "contact-links";
const LINKS: &str = "/data-link-table-instance/links";

struct Fixture {
    s: Server,
    crm: CrmFixture,
}

/// The mock CRM with Alice and Bob connected, and the table [`TABLE`].
async fn fixture() -> Fixture {
    let s = Server::start().await;
    let crm = crm_fixture(&s, 0).await;
    s.create(
        "data-link-tables",
        json!({"key": TABLE, "name": "Contact links"}),
    )
    .await;
    Fixture { s, crm }
}

/// The selector of `table`'s instance on `conn`, made on demand.
fn on(table: &str, conn: &str) -> String {
    format!("dataLinkTableKey={table}&connectionId={conn}&autoCreate=true")
}

fn link_body(app: &str, external: &str, direction: Option<&str>) -> Value {
    let mut body = json!({"appRecordId": app, "externalRecordId": external});
    if let Some(d) = direction {
        body["direction"] = json!(d);
    }
    body
}

impl Fixture {
    fn alice_links(&self) -> String {
        format!("{LINKS}?{}", on(TABLE, &self.crm.alice_conn))
    }

    /// The id of Alice's instance of [`TABLE`] (made on demand).
    async fn alice_instance(&self) -> String {
        let (status, instance) = self
            .s
            .get(
                &format!(
                    "/data-link-table-instance?{}",
                    on(TABLE, &self.crm.alice_conn)
                ),
                &self.crm.alice,
            )
            .await;
        assert_eq!(status, 200, "{instance}");
        instance["id"].as_str().expect("an instance id").to_owned()
    }

    async fn link(&self, path: &str, token: &str, body: Value) {
        let (status, answer) = self.s.post(path, token, body.clone()).await;
        assert_eq!(status, 200, "link {body}: {answer}");
        assert_eq!(answer, json!({}));
    }

    async fn unlink(&self, path: &str, token: &str, body: Value) {
        let (status, answer) = self.s.call("DELETE", path, Some(token), Some(body)).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer, json!({}));
    }

    /// `direction app→external` of every link the listing at `path` finds (one page).
    async fn pairs(&self, path: &str, token: &str) -> Vec<String> {
        let (status, page) = self.s.get(path, token).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(page.get("cursor").is_none(), "one page: {page}");
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|l| {
                format!(
                    "{} {}→{}",
                    l["direction"].as_str().unwrap_or("?"),
                    l["appRecordId"].as_str().unwrap_or("?"),
                    l["externalRecordId"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn links_are_created_found_and_deleted_on_the_selected_instance() {
    let f = fixture().await;
    let (alice, path) = (f.crm.alice.clone(), f.alice_links());
    assert_eq!(
        f.s.get(&path, &alice).await,
        (200, json!({"items": []})),
        "a new instance has no links"
    );
    let instance = f.alice_instance().await;

    f.link(&path, &alice, link_body("a1", "e1", Some("import")))
        .await;
    let (_, page) = f.s.get(&path, &alice).await;
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    let keys: Vec<&str> = items[0]
        .as_object()
        .expect("a link")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "dataLinkTableInstanceId",
            "externalRecordId",
            "appRecordId",
            "direction"
        ]
    );
    assert_eq!(items[0]["dataLinkTableInstanceId"], json!(instance));
    assert_eq!(items[0]["direction"], "import");
    assert!(items[0]["id"].as_str().is_some_and(|id| !id.is_empty()));

    // No direction: both ways, two links.
    f.link(&path, &alice, link_body("a2", "e2", None)).await;
    // Numeric ids are taken as their text.
    f.link(
        &path,
        &alice,
        json!({"appRecordId": 7, "externalRecordId": 8, "direction": "export"}),
    )
    .await;
    assert_eq!(
        f.pairs(&path, &alice).await,
        ["import a1→e1", "import a2→e2", "export a2→e2", "export 7→8"]
    );
    for (query, expected) in [
        ("direction=export", vec!["export a2→e2", "export 7→8"]),
        ("direction=import", vec!["import a1→e1", "import a2→e2"]),
        (
            "direction=both",
            vec!["import a1→e1", "import a2→e2", "export a2→e2", "export 7→8"],
        ),
        ("appRecordId=a2", vec!["import a2→e2", "export a2→e2"]),
        ("externalRecordId=e1", vec!["import a1→e1"]),
        ("externalRecordId=8&direction=import", vec![]),
        ("appRecordId=a1&externalRecordId=e2", vec![]),
    ] {
        assert_eq!(
            f.pairs(&format!("{path}&{query}"), &alice).await,
            expected,
            "{query}"
        );
    }
    // The instance selected by its id finds the same links.
    assert_eq!(
        f.pairs(&format!("{LINKS}?id={instance}&appRecordId=a1"), &alice)
            .await,
        ["import a1→e1"]
    );

    f.unlink(&path, &alice, link_body("a2", "e2", Some("export")))
        .await;
    assert_eq!(
        f.pairs(&format!("{path}&appRecordId=a2"), &alice).await,
        ["import a2→e2"]
    );
    // No direction: both; a pair not linked (any more) deletes nothing, no error.
    f.unlink(&path, &alice, link_body("a2", "e2", None)).await;
    f.unlink(&path, &alice, link_body("a2", "e2", None)).await;
    f.unlink(&path, &alice, link_body("a1", "e9", None)).await;
    f.unlink(
        &format!("{LINKS}?id={instance}"),
        &alice,
        json!({"appRecordId": "7", "externalRecordId": 8}),
    )
    .await;
    assert_eq!(f.pairs(&path, &alice).await, ["import a1→e1"]);
    // An admin reaches the customer's instance too.
    assert_eq!(
        f.pairs(&format!("{LINKS}?id={instance}"), &f.s.admin())
            .await,
        ["import a1→e1"]
    );
    f.s.finish().await;
}

#[tokio::test]
async fn a_link_made_again_changes_nothing_and_a_new_one_replaces_the_older_link_of_either_record()
{
    let f = fixture().await;
    let (alice, path) = (f.crm.alice.clone(), f.alice_links());
    f.link(&path, &alice, link_body("a1", "e1", None)).await;
    let (_, before) = f.s.get(&path, &alice).await;
    f.link(&path, &alice, link_body("a1", "e1", Some("import")))
        .await;
    f.link(&path, &alice, link_body("a1", "e1", None)).await;
    let (_, after) = f.s.get(&path, &alice).await;
    assert_eq!(after, before, "the same links, ids and order");
    assert_eq!(before["items"].as_array().map(Vec::len), Some(2));

    // a1 is now e2 (on import): its import link to e1 goes, the export one stays.
    f.link(&path, &alice, link_body("a1", "e2", Some("import")))
        .await;
    assert_eq!(
        f.pairs(&path, &alice).await,
        ["export a1→e1", "import a1→e2"]
    );
    // e2 is now a3's: a1 has no import link left.
    f.link(&path, &alice, link_body("a3", "e2", Some("import")))
        .await;
    assert_eq!(
        f.pairs(&format!("{path}&appRecordId=a1"), &alice).await,
        ["export a1→e1"]
    );
    assert_eq!(
        f.pairs(&format!("{path}&externalRecordId=e2"), &alice)
            .await,
        ["import a3→e2"]
    );
    // Both of a new link's records were linked elsewhere: both older links go.
    f.link(&path, &alice, link_body("a3", "e1", None)).await;
    assert_eq!(
        f.pairs(&path, &alice).await,
        ["import a3→e1", "export a3→e1"]
    );
    f.s.finish().await;
}

#[tokio::test]
async fn pages_end_without_a_cursor() {
    let f = fixture().await;
    let alice = f.crm.alice.clone();
    const LIMIT: usize = 3;
    for count in [0, 1, LIMIT, LIMIT + 1, 2 * LIMIT + 1] {
        let table = format!("paged-{count}");
        f.s.create("data-link-tables", json!({"key": table, "name": table}))
            .await;
        let path = format!("{LINKS}?{}", on(&table, &f.crm.alice_conn));
        let written: Vec<String> = (0..count).map(|i| format!("a{i}")).collect();
        for app in &written {
            f.link(
                &path,
                &alice,
                link_body(app, &format!("x-{app}"), Some("export")),
            )
            .await;
        }
        let pages =
            f.s.list_pages(&format!("{path}&limit={LIMIT}"), &alice, 10)
                .await;
        assert_eq!(
            pages.len(),
            count.div_ceil(LIMIT).max(1),
            "{count}: {pages:?}"
        );
        for (i, page) in pages.iter().enumerate() {
            let last = i + 1 == pages.len();
            assert_eq!(page.get("cursor").is_none(), last, "{count}: {page}");
        }
        let found: Vec<String> = items_of(&pages)
            .iter()
            .map(|l| l["appRecordId"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(found, written, "{count}");
    }
    f.s.finish().await;
}

#[tokio::test]
async fn a_bad_body_or_parameter_is_refused_naming_it_and_changes_nothing() {
    let f = fixture().await;
    let (alice, path) = (f.crm.alice.clone(), f.alice_links());
    f.link(&path, &alice, link_body("a1", "e1", None)).await;
    let (_, before) = f.s.get(&path, &alice).await;

    let long = "x".repeat(1001);
    let bad_fields = [
        (json!({}), "appRecordId"),
        (json!({"externalRecordId": "e1"}), "appRecordId"),
        (json!({"appRecordId": "a1"}), "externalRecordId"),
        (
            json!({"appRecordId": null, "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": "", "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": ""}),
            "externalRecordId",
        ),
        (
            json!({"appRecordId": ["a1"], "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": {"id": "a1"}, "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": true, "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": long}),
            "externalRecordId",
        ),
        (
            json!({"appRecordId": "a\u{0}1", "externalRecordId": "e1"}),
            "appRecordId",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": "e1", "direction": "sideways"}),
            "direction",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": "e1", "direction": ""}),
            "direction",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": "e1", "direction": 1}),
            "direction",
        ),
        (
            json!({"appRecordId": "a1", "externalRecordId": "e1", "direction": ["import"]}),
            "direction",
        ),
    ];
    // On a table without an instance yet: a refused request makes none.
    f.s.create(
        "data-link-tables",
        json!({"key": "untouched", "name": "Untouched"}),
    )
    .await;
    let untouched = format!("{LINKS}?{}", on("untouched", &f.crm.alice_conn));
    for method in ["POST", "DELETE"] {
        for (body, field) in &bad_fields {
            for p in [&path, &untouched] {
                let resp = f.s.call(method, p, Some(&alice), Some(body.clone())).await;
                assert_error(&resp, 400, "bad_request", "invalid_field");
                assert_eq!(resp.1["data"]["field"], json!(field), "{method} {body}");
            }
        }
        for body in [json!([1]), json!("a1"), json!(5)] {
            let resp = f.s.call(method, &path, Some(&alice), Some(body)).await;
            assert_error(&resp, 400, "bad_request", "invalid_body");
        }
    }
    for (query, parameter) in [
        ("direction=up", "direction"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("cursor=x", "cursor"),
        ("cursor=-1", "cursor"),
    ] {
        for p in [&path, &untouched] {
            let resp = f.s.get(&format!("{p}&{query}"), &alice).await;
            assert_error(&resp, 400, "bad_request", "invalid_query");
            assert_eq!(resp.1["data"]["parameter"], parameter, "{query}");
        }
    }
    // No selector at all.
    let resp = f.s.get(LINKS, &alice).await;
    assert_error(&resp, 400, "bad_request", "invalid_query");

    assert_eq!(f.s.get(&path, &alice).await.1, before);
    let (_, instances) =
        f.s.get(
            &format!(
                "/data-link-table-instances?connectionId={}",
                f.crm.alice_conn
            ),
            &alice,
        )
        .await;
    assert_eq!(
        instances["items"].as_array().map(Vec::len),
        Some(1),
        "only the table linked above has an instance: {instances}"
    );
    f.s.finish().await;
}

#[tokio::test]
async fn another_customer_finds_nothing_of_alices_links() {
    let f = fixture().await;
    let (alice, bob) = (f.crm.alice.clone(), f.crm.bob.clone());
    let path = f.alice_links();
    f.link(&path, &alice, link_body("a1", "e1", None)).await;
    let instance = f.alice_instance().await;

    let body = link_body("a1", "e2", None);
    for theirs in [
        format!("{LINKS}?id={instance}"),
        path.clone(),
        format!(
            "{LINKS}?dataLinkTableKey={TABLE}&connectionId={}",
            f.crm.alice_conn
        ),
    ] {
        assert_error(
            &f.s.get(&theirs, &bob).await,
            404,
            "bad_request",
            "not_found",
        );
        for method in ["POST", "DELETE"] {
            let resp =
                f.s.call(method, &theirs, Some(&bob), Some(body.clone()))
                    .await;
            assert_error(&resp, 404, "bad_request", "not_found");
        }
    }
    // Bob's own instance of the table: his links only, and his writes are his.
    let bobs = format!("{LINKS}?{}", on(TABLE, &f.crm.bob_conn));
    assert_eq!(f.pairs(&bobs, &bob).await, Vec::<String>::new());
    f.link(&bobs, &bob, link_body("a1", "e7", None)).await;
    f.unlink(&bobs, &bob, link_body("a1", "e1", None)).await;
    assert_eq!(f.pairs(&bobs, &bob).await, ["import a1→e7", "export a1→e7"]);
    assert_eq!(
        f.pairs(&path, &alice).await,
        ["import a1→e1", "export a1→e1"]
    );
    f.s.finish().await;
}

/// Every route answers `not_found` for the instance at `path`.
async fn assert_out_of_reach(f: &Fixture, path: &str, token: &str) {
    assert_error(&f.s.get(path, token).await, 404, "bad_request", "not_found");
    for method in ["POST", "DELETE"] {
        let resp =
            f.s.call(method, path, Some(token), Some(link_body("a9", "e9", None)))
                .await;
        assert_error(&resp, 404, "bad_request", "not_found");
    }
}

#[tokio::test]
async fn an_archived_connection_instance_table_or_integration_puts_the_links_out_of_reach() {
    let f = fixture().await;
    let (alice, admin) = (f.crm.alice.clone(), f.s.admin());
    let path = f.alice_links();
    f.link(&path, &alice, link_body("a1", "e1", Some("import")))
        .await;
    let instance = f.alice_instance().await;
    let by_id = format!("{LINKS}?id={instance}");
    let table_id = {
        let (_, t) = f.s.get(&format!("/data-link-tables/{TABLE}"), &admin).await;
        t["id"].as_str().expect("table id").to_owned()
    };
    // An archived instance is selected by its id only: by table and connection,
    // autoCreate makes a new one, as `/data-link-table-instance` does.
    let archivable = [
        (
            format!("/connections/{}", f.crm.alice_conn),
            alice.clone(),
            true,
        ),
        (
            format!("/data-link-table-instances/{instance}"),
            alice.clone(),
            false,
        ),
        (format!("/data-link-tables/{table_id}"), admin.clone(), true),
        (
            format!("/integrations/{}", f.crm.integration_id),
            admin.clone(),
            true,
        ),
        (
            format!("/connectors/{}", f.crm.connector_id),
            admin.clone(),
            true,
        ),
    ];
    for (element, token, by_selector) in &archivable {
        let (status, archived) = f.s.call("DELETE", element, Some(token), None).await;
        assert_eq!(status, 200, "archive {element}: {archived}");
        let paths = if *by_selector {
            vec![&by_id, &path]
        } else {
            vec![&by_id]
        };
        for p in paths {
            for t in [&alice, &admin] {
                assert_out_of_reach(&f, p, t).await;
            }
        }
        let (status, restored) =
            f.s.post(&format!("{element}/restore"), token, json!({}))
                .await;
        assert_eq!(status, 200, "restore {element}: {restored}");
        assert_eq!(
            f.pairs(&by_id, &alice).await,
            ["import a1→e1"],
            "the links are back with {element}"
        );
    }
    f.s.finish().await;
}

#[tokio::test]
async fn formulas_find_linked_records_through_the_connections_instance() {
    let f = fixture().await;
    let (alice, path) = (f.crm.alice.clone(), f.alice_links());
    f.link(&path, &alice, link_body("app-1", "ext-1", None))
        .await;
    f.link(&path, &alice, link_body("app-2", "ext-2", Some("import")))
        .await;
    f.link(&path, &alice, link_body("app-3", "ext-3", Some("export")))
        .await;
    f.s.create("data-link-tables", json!({"key": "empty", "name": "Empty"}))
        .await;

    let workspace = Arc::new(
        f.s.engine
            .workspace_by_key(WS_KEY)
            .await
            .expect("workspace")
            .expect("the test workspace"),
    );
    let caller_of = |id: &str| {
        let workspace = workspace.clone();
        let claims = CustomerClaims {
            internal_id: id.to_owned(),
            name: None,
            fields: None,
        };
        let engine = f.s.engine.clone();
        async move {
            engine
                .customer_caller(workspace, claims)
                .await
                .expect("caller")
        }
    };
    let conn =
        f.s.stores
            .elements
            .element_by_id(&workspace.id, &f.crm.alice_conn)
            .await
            .expect("read")
            .expect("alice's connection");
    let alice_caller = caller_of("alice").await;
    let links = f.s.engine.data_links();
    let host = links
        .formula_host(&alice_caller, &conn)
        .await
        .expect("a host for alice's connection");

    let find = |formula: &str, table: &str, record: Value| json!({ format!("${formula}"): {"dataLinkTable": {"key": table}, "recordId": record} });
    let value = json!({
        "app1": find("findAppRecordId", TABLE, json!({"$var": "ext"})),
        "app2": find("findAppRecordId", TABLE, json!("ext-2")),
        "ext1": find("findExternalRecordId", TABLE, json!("app-1")),
        "ext3": find("findExternalRecordId", TABLE, json!("app-3")),
        // Import-only and export-only links are not found the other way.
        "noExt2": find("findExternalRecordId", TABLE, json!("app-2")),
        "noApp3": find("findAppRecordId", TABLE, json!("ext-3")),
        "unknown": find("findAppRecordId", TABLE, json!("ext-9")),
        // A table without an instance on the connection has no links yet.
        "empty": find("findAppRecordId", "empty", json!("ext-1")),
    });
    let resolved = resolve_formulas(
        Some(&value),
        Some(&json!({"ext": "ext-1"})),
        None,
        Some(&host),
    )
    .await
    .expect("resolves");
    assert_eq!(
        resolved,
        Some(json!({"app1": "app-1", "app2": "app-2", "ext1": "ext-1", "ext3": "ext-3"}))
    );

    // A table that does not exist is an error, not "no link".
    let missing = json!({"x": find("findAppRecordId", "nope", json!("ext-1"))});
    let err = resolve_formulas(Some(&missing), None, None, Some(&host))
        .await
        .expect_err("no such table");
    assert!(err.to_string().contains("nope"), "{err}");

    // Another customer gets no host for Alice's connection.
    let bob_caller = caller_of("bob").await;
    let refused = links
        .formula_host(&bob_caller, &conn)
        .await
        .err()
        .expect("refused");
    assert_eq!(refused.key.as_deref(), Some("not_found"));
    f.s.finish().await;
}
