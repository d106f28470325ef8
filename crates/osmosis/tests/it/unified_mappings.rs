//! What setup computes, over HTTP against the mock CRM: a data source instance's
//! `collectionSpec` (with the resolved `collectionKey`/`path`), refreshed by setup
//! and reset, recorded errors when nothing resolves; a field mapping instance's
//! `unifiedImportValue`/`unifiedExportValue` on data sources with a `udm`; and a
//! field mapping written once in unified terms running through data actions on
//! every connector whose collection maps the model.

use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;

fn var(p: &str) -> Value {
    json!({ "$var": p })
}

/// The selector query of the instance of data source `key` on `conn`.
fn sel(key: &str, conn: &str) -> String {
    format!("dataSourceKey={key}&connectionId={conn}&autoCreate=true")
}

/// The instance `token` selects with `q`, made when missing.
async fn instance(s: &Server, token: &str, q: &str) -> Value {
    let (status, v) = s.get(&format!("/data-source-instance?{q}"), token).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// What `GET …/collection` answers for the instance.
async fn live_spec(s: &Server, token: &str, q: &str) -> Value {
    let (status, v) = s
        .get(&format!("/data-source-instance/collection?{q}"), token)
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn data_source_instance_setup_stores_the_collection_spec() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    s.create(
        "data-sources",
        json!({"key": "things", "name": "Things", "collectionKey": "companies"}),
    )
    .await;
    let q = sel("things", &f.alice_conn);

    // Made on demand: set up as it is made.
    let made = instance(&s, &f.alice, &q).await;
    assert_eq!(made["state"], "READY", "{made}");
    assert_eq!(made["errors"], json!([]), "{made}");
    assert_eq!(made["collectionSpec"]["type"], "collection", "{made}");
    assert_eq!(made["collectionSpec"]["name"], "Companies", "{made}");
    assert_eq!(
        made["collectionSpec"]["fieldsSchema"]["properties"]["domain"]["type"], "string",
        "{made}"
    );
    assert!(
        made["collectionSpec"]["list"].get("mapping").is_none(),
        "the spec, not the implementation: {made}"
    );
    assert_eq!(made["collectionKey"], "companies");
    assert_eq!(made["path"], "data/companies");
    assert_eq!(made["collectionSpec"], live_spec(&s, &f.alice, &q).await);
    let id = made["id"].as_str().unwrap().to_owned();

    // The data source changes: the stored spec catches up at setup.
    let (status, _) = s
        .patch(
            "/data-sources/things",
            &s.admin(),
            json!({"collectionKey": "contacts"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        instance(&s, &f.alice, &q).await["collectionSpec"]["name"],
        "Companies",
        "stored until setup"
    );
    let (status, set) = s
        .post(
            &format!("/data-source-instance/setup?{q}"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["collectionSpec"]["name"], "Contacts", "{set}");
    assert_eq!(set["collectionKey"], "contacts", "{set}");
    assert_eq!(set["isCustomized"], false, "{set}");
    assert_eq!(
        set["collectionSpec"]["fieldsSchema"]["properties"]["tier"]["type"], "string",
        "the customer's custom fields: {set}"
    );
    assert_eq!(
        set["collectionSpec"]["udm"]["contacts"]["parse"]["email"],
        var("$.primaryEmail"),
        "{set}"
    );
    assert_eq!(set["collectionSpec"], live_spec(&s, &f.alice, &q).await);

    // The customer points it elsewhere: the write itself sets it up again.
    let (status, mine) = s
        .patch(
            &format!("/data-source-instances/{id}"),
            &f.alice,
            json!({"path": "data/companies?region=eu"}),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["isCustomized"], true, "{mine}");
    assert_eq!(mine["collectionSpec"]["name"], "Companies", "{mine}");
    assert_eq!(
        (&mine["collectionKey"], &mine["collectionParameters"]),
        (&json!("companies"), &json!({"region": "eu"})),
        "the path named the collection: {mine}"
    );
    // Reset: back to the data source's collection.
    let (status, reset) = s
        .post(
            &format!("/data-source-instances/{id}/reset"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(reset["isCustomized"], false, "{reset}");
    assert_eq!(reset["collectionSpec"]["name"], "Contacts", "{reset}");
    assert!(reset.get("collectionParameters").is_none(), "{reset}");
    assert_eq!(reset["path"], "data/contacts", "{reset}");

    // The connector changes: a new setup shows it, by id and under the connection.
    let mut connector = crm_connector(&f.crm.url);
    connector["data"]["contacts"]["name"] = json!("People");
    let (status, _) = s
        .patch(
            &format!("/connectors/{}", f.connector_id),
            &s.admin(),
            json!({"data": connector["data"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, set) = s
        .post(
            &format!("/data-source-instances/{id}/setup"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["collectionSpec"]["name"], "People", "{set}");
    let (status, set) = s
        .post(
            &format!("/connections/{}/data-sources/things/setup", f.alice_conn),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["id"], id.as_str());
    assert_eq!(set["collectionSpec"]["name"], "People", "{set}");
}

#[tokio::test]
async fn a_udm_data_source_resolves_its_collection_and_failures_are_recorded() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    // Only a model: the collection that maps it.
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "udm": "contacts"}),
    )
    .await;
    let people = instance(&s, &f.alice, &sel("people", &f.alice_conn)).await;
    assert_eq!(people["state"], "READY", "{people}");
    assert_eq!(people["collectionKey"], "contacts", "{people}");
    assert_eq!(people["udm"], "contacts", "{people}");
    assert_eq!(people["collectionSpec"]["name"], "Contacts", "{people}");

    // A collection the connector lacks: recorded, not thrown.
    s.create(
        "data-sources",
        json!({"key": "broken", "name": "Broken", "collectionKey": "invoices"}),
    )
    .await;
    let q = sel("broken", &f.alice_conn);
    let broken = instance(&s, &f.alice, &q).await;
    assert_eq!(broken["state"], "CONFIGURATION_ERROR", "{broken}");
    assert!(broken.get("collectionSpec").is_none(), "{broken}");
    assert!(
        broken["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invoices")),
        "{broken}"
    );
    // So is a model no collection maps.
    s.create(
        "data-sources",
        json!({"key": "deals", "name": "Deals", "udm": "deals"}),
    )
    .await;
    let deals = instance(&s, &f.alice, &sel("deals", &f.alice_conn)).await;
    assert_eq!(deals["state"], "CONFIGURATION_ERROR", "{deals}");
    assert_eq!(deals["errors"][0]["key"], "not_supported", "{deals}");

    // Fixed, and set up again: ready, the error gone.
    let (status, _) = s
        .patch(
            "/data-sources/broken",
            &s.admin(),
            json!({"collectionKey": "companies"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, set) = s
        .post(
            &format!("/data-source-instance/setup?{q}"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["state"], "READY", "{set}");
    assert_eq!(set["errors"], json!([]), "{set}");
    assert_eq!(set["collectionSpec"]["name"], "Companies", "{set}");

    // The customer's fields cannot be read: setup failed, recorded.
    f.crm.fail_next(400, 1);
    let (status, set) = s
        .post(
            &format!(
                "/data-source-instance/setup?{}",
                sel("people", &f.alice_conn)
            ),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["state"], "SETUP_FAILED", "{set}");
    assert!(set.get("collectionSpec").is_none(), "{set}");
    assert_eq!(set["errors"].as_array().map(Vec::len), Some(1), "{set}");
}

#[tokio::test]
async fn setup_is_not_found_for_another_customer_or_under_an_archived_connection() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "collectionKey": "contacts"}),
    )
    .await;
    let q = sel("people", &f.alice_conn);
    let id = instance(&s, &f.alice, &q).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = f.crm.request_count();
    for r in [
        s.post(
            &format!("/data-source-instances/{id}/setup"),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/data-source-instance/setup?{q}"),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/connections/{}/data-sources/people/setup", f.alice_conn),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/data-source-instances/{id}/reset"),
            &f.bob,
            json!({}),
        )
        .await,
    ] {
        assert_error(&r, 404, "bad_request", "not_found");
    }
    assert_eq!(f.crm.request_count(), before, "nothing reached the API");

    // Alice's connection archived: her setup is not_found too, and stores nothing.
    let (_, kept) = s
        .get(&format!("/data-source-instances/{id}"), &f.alice)
        .await;
    s.call(
        "DELETE",
        &format!("/connections/{}", f.alice_conn),
        Some(&f.alice),
        None,
    )
    .await;
    let before = f.crm.request_count();
    assert_error(
        &s.post(
            &format!("/data-source-instances/{id}/setup"),
            &f.alice,
            json!({}),
        )
        .await,
        404,
        "bad_request",
        "not_found",
    );
    assert_eq!(f.crm.request_count(), before);
    let (_, after) = s
        .get(&format!("/data-source-instances/{id}"), &f.alice)
        .await;
    assert_eq!(after["revision"], kept["revision"], "{after}");
}

/// A universal field mapping of data source `people` written in the unified
/// `contacts` model.
async fn unified_people_map(s: &Server) {
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "udm": "contacts"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map", "dataSourceKey": "people",
               "appSchema": {"type": "object", "properties": {
                   "name": {"type": "string"}, "mail": {"type": "string"}, "given": {"type": "string"}}},
               "importValue": {"name": var("$.fullName"), "mail": var("$.primaryEmail")},
               "exportValue": {"primaryEmail": var("$.mail"), "firstName": var("$.given")}}),
    )
    .await;
}

/// `token`'s field mapping instance of `key` on `conn`, made and set up.
async fn set_up_mapping(s: &Server, token: &str, conn: &str, key: &str) -> Value {
    let path = format!("/connections/{conn}/field-mappings/{key}");
    let (status, made) = s.call("PUT", &path, Some(token), Some(json!({}))).await;
    assert_eq!(status, 200, "{made}");
    let (status, set) = s.post(&format!("{path}/setup"), token, json!({})).await;
    assert_eq!(status, 200, "{set}");
    set
}

#[tokio::test]
async fn unified_field_mapping_values_on_udm_instances_only() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    unified_people_map(&s).await;
    s.create(
        "data-sources",
        json!({"key": "firms", "name": "Firms", "collectionKey": "companies"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "firm-map", "name": "Firm map", "dataSourceKey": "firms",
               "importValue": {"title": var("$.name")}}),
    )
    .await;

    let set = set_up_mapping(&s, &f.alice, &f.alice_conn, "people-map").await;
    assert_eq!(
        set["unifiedImportValue"],
        json!({"name": var("$.fullName"), "mail": var("$.primaryEmail")}),
        "{set}"
    );
    assert_eq!(
        set["unifiedExportValue"],
        json!({"primaryEmail": var("$.mail"), "firstName": var("$.given")}),
        "{set}"
    );
    assert_eq!(
        set["dataSourceSchema"]["properties"]["email"]["type"], "string",
        "{set}"
    );
    let (_, dsi) = s
        .get(
            &format!(
                "/data-source-instances/{}",
                set["dataSourceInstanceId"].as_str().unwrap()
            ),
            &f.alice,
        )
        .await;
    assert_eq!(dsi["collectionSpec"]["name"], "Contacts", "{dsi}");

    // No udm: no unified values.
    let firm = set_up_mapping(&s, &f.alice, &f.alice_conn, "firm-map").await;
    assert!(firm.get("unifiedImportValue").is_none(), "{firm}");
    assert!(firm.get("unifiedExportValue").is_none(), "{firm}");
    assert_eq!(
        firm["dataSourceSchema"]["properties"]["domain"]["type"], "string",
        "{firm}"
    );

    // Alice edits the import in her collection's terms: it is no longer unified;
    // the export she left alone still is.
    let path = format!("/connections/{}/field-mappings/people-map", f.alice_conn);
    let (status, mine) = s
        .patch(
            &path,
            &f.alice,
            json!({"importValue": {"mail": var("$.email")}}),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["isCustomized"], true, "{mine}");
    assert!(mine.get("unifiedImportValue").is_none(), "{mine}");
    assert_eq!(
        mine["unifiedExportValue"], set["unifiedExportValue"],
        "{mine}"
    );

    // Bob's instance follows the mapping: setup refreshes it from the parent.
    let his = set_up_mapping(&s, &f.bob, &f.bob_conn, "people-map").await;
    assert_eq!(his["unifiedImportValue"], set["unifiedImportValue"]);
    let (status, _) = s
        .patch(
            "/field-mappings/people-map",
            &s.admin(),
            json!({"importValue": {"name": var("$.lastName")}}),
        )
        .await;
    assert_eq!(status, 200);
    let path = format!("/connections/{}/field-mappings/people-map", f.bob_conn);
    let (status, his) = s.post(&format!("{path}/setup"), &f.bob, json!({})).await;
    assert_eq!(status, 200, "{his}");
    assert_eq!(
        his["unifiedImportValue"],
        json!({"name": var("$.lastName")}),
        "{his}"
    );
    assert_eq!(his["importValue"], json!({"name": var("$.lastName")}));
    assert_eq!(his["isCustomized"], false, "{his}");
}

/// `POST /act`; the output of a run that must succeed.
async fn output(s: &Server, token: &str, body: Value) -> Value {
    let (status, answer) = s.post("/act", token, body.clone()).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer["output"].clone()
}

#[tokio::test]
async fn a_mapping_in_unified_terms_runs_on_every_connector_that_maps_the_model() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 5).await;
    unified_people_map(&s).await;
    s.create(
        "actions",
        json!({"key": "list-people", "name": "List people", "type": "list-data-records",
               "config": {"dataSource": {"key": "people"}, "fieldMapping": {"key": "people-map"}}}),
    )
    .await;
    s.create(
        "actions",
        json!({"key": "add-person", "name": "Add person", "type": "create-data-record",
               "inputSchema": {"type": "object", "properties": {
                   "mail": {"type": "string"}, "given": {"type": "string"}}},
               "config": {"dataSource": {"key": "people"}, "fieldMapping": {"key": "people-map"},
                          "fields": {"mail": var("$.input.mail"), "given": var("$.input.given")}}}),
    )
    .await;
    let expected = |i: usize| {
        let c = seed_contact(i);
        json!({
            "name": format!("{} {}", c["first_name"].as_str().unwrap(), c["last_name"].as_str().unwrap()),
            "mail": c["email"],
        })
    };

    // No instance of the mapping yet: the universal mapping, in unified terms.
    let out = output(
        &s,
        &f.alice,
        json!({"key": "list-people", "connectionId": f.alice_conn}),
    )
    .await;
    let records = out["records"].as_array().expect("records");
    assert_eq!(records.len(), 5, "{out}");
    assert_eq!(records[0]["fields"], expected(1), "{out}");
    assert_eq!(records[0]["udm"], "contacts", "{out}");
    assert_eq!(
        records[0]["unifiedFields"]["primaryEmail"],
        seed_contact(1)["email"]
    );

    // Create: the app's fields through the export mapping to unified fields, then
    // to the API's.
    let out = output(
        &s,
        &f.alice,
        json!({"key": "add-person", "connectionId": f.alice_conn,
               "input": {"mail": "uni@x.io", "given": "Uma"}}),
    )
    .await;
    let stored = f.crm.contact(out["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&stored["email"], &stored["first_name"]),
        (&json!("uni@x.io"), &json!("Uma")),
        "{stored}"
    );

    // Set up for Alice and customised in her collection's terms: her run maps
    // native fields; Bob's, set up and left alone, still maps unified ones.
    set_up_mapping(&s, &f.alice, &f.alice_conn, "people-map").await;
    let (status, _) = s
        .patch(
            &format!("/connections/{}/field-mappings/people-map", f.alice_conn),
            &f.alice,
            json!({"importValue": {"mail": var("$.email"), "city": var("$.city")}}),
        )
        .await;
    assert_eq!(status, 200);
    set_up_mapping(&s, &f.bob, &f.bob_conn, "people-map").await;
    let hers = output(
        &s,
        &f.alice,
        json!({"key": "list-people", "connectionId": f.alice_conn}),
    )
    .await;
    assert_eq!(
        hers["records"][1]["fields"],
        json!({"mail": seed_contact(2)["email"], "city": seed_contact(2)["city"]}),
        "{hers}"
    );
    let his = output(
        &s,
        &f.bob,
        json!({"key": "list-people", "connectionId": f.bob_conn}),
    )
    .await;
    assert_eq!(his["records"][1]["fields"], expected(2), "{his}");

    // Another connector whose collection has another key but maps the same model:
    // the same action and mapping, unchanged.
    let mut other = crm_connector(&f.crm.url);
    other["key"] = json!("crm-two");
    other["name"] = json!("CRM two");
    let contacts = other["data"]["contacts"].take();
    other["data"] = json!({"persons": contacts});
    let connector = s.create("connectors", other).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm-two", "name": "CRM two", "connectorId": connector["id"]}),
        )
        .await;
    let conn = crm_connect(
        &s,
        &f.bob,
        integration["id"].as_str().unwrap(),
        "Bob CRM two",
    )
    .await;
    let out = output(
        &s,
        &f.bob,
        json!({"key": "list-people", "connectionId": conn}),
    )
    .await;
    assert_eq!(out["records"][2]["fields"], expected(3), "{out}");
    let set = set_up_mapping(&s, &f.bob, &conn, "people-map").await;
    let (_, dsi) = s
        .get(
            &format!(
                "/data-source-instances/{}",
                set["dataSourceInstanceId"].as_str().unwrap()
            ),
            &f.bob,
        )
        .await;
    assert_eq!(dsi["collectionKey"], "persons", "{dsi}");
    assert!(set["unifiedImportValue"].is_object(), "{set}");
}
