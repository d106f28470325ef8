//! Data source instances over HTTP against the mock CRM: which collection an
//! instance points at (the data source's, the customer's own choice, `udm`), every
//! collection method through the instance with UDM translation both ways, and the
//! instance refused to another customer or once something on its path is archived.

use serde_json::{json, Value};

use crate::common::mock_crm::*;
use crate::common::*;

/// The selector query of `customer`'s instance of data source `key` on `conn`.
fn sel(key: &str, conn: &str) -> String {
    format!("dataSourceKey={key}&connectionId={conn}&autoCreate=true")
}

#[tokio::test]
async fn an_instance_runs_its_collection_with_udm_both_ways() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 30).await;
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "udm": "contacts"}),
    )
    .await;
    let q = sel("people", &f.alice_conn);

    let (status, spec) = s
        .get(&format!("/data-source-instance/collection?{q}"), &f.alice)
        .await;
    assert_eq!(status, 200, "{spec}");
    assert_eq!(
        spec["name"], "Contacts",
        "the udm picked the contacts collection: {spec}"
    );
    assert_eq!(
        spec["fieldsSchema"]["properties"]["tier"]["type"], "string",
        "custom fields included: {spec}"
    );

    let (status, page) = s
        .post(
            &format!("/data-source-instance/collection/list?{q}"),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let first = &page["records"][0];
    let seeded = seed_contact(1);
    assert_eq!(
        first["unifiedFields"]["primaryEmail"], seeded["email"],
        "{first}"
    );
    assert_eq!(
        first["unifiedFields"]["fullName"],
        format!(
            "{} {}",
            seeded["first_name"].as_str().unwrap(),
            seeded["last_name"].as_str().unwrap()
        ),
        "{first}"
    );
    assert_eq!(
        page["records"].as_array().unwrap().len(),
        30,
        "one page of all 30"
    );
    assert!(
        page.get("cursor").is_none(),
        "the last page has no cursor: {page}"
    );

    // Create with unified fields: the API receives native ones.
    let (status, created) = s
        .post(
            &format!("/data-source-instance/collection/create?{q}"),
            &f.alice,
            json!({"fields": {"firstName": "Uni", "lastName": "Fied", "primaryEmail": "u@x.io"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let stored = f.crm.contact(created["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&stored["email"], &stored["first_name"]),
        (&json!("u@x.io"), &json!("Uni")),
        "{stored}"
    );
    let (_, native) = s
        .post(
            &format!("/data-source-instance/unified-fields-to-native?{q}"),
            &f.alice,
            json!({"primaryEmail": "n@x.io", "firstName": "N"}),
        )
        .await;
    assert_eq!(native, json!({"firstName": "N", "email": "n@x.io"}));

    // The same by id, and find-by-id, match, delete through it.
    let (_, instance) = s.get(&format!("/data-source-instance?{q}"), &f.alice).await;
    let by_id = format!(
        "/data-source-instances/{}/collection",
        instance["id"].as_str().unwrap()
    );
    let (status, found) = s
        .post(
            &format!("{by_id}/find-by-id"),
            &f.alice,
            json!({"id": created["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["record"]["unifiedFields"]["primaryEmail"], "u@x.io",
        "{found}"
    );
    let (_, matched) = s
        .post(
            &format!("{by_id}/match"),
            &f.alice,
            json!({"query": {"email": "u@x.io"}}),
        )
        .await;
    assert_eq!(matched["record"]["id"], created["id"], "{matched}");
    let (status, _) = s
        .post(
            &format!("{by_id}/delete"),
            &f.alice,
            json!({"id": created["id"]}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(f.crm.contact(created["id"].as_str().unwrap()).is_none());
    let r = s
        .post(&format!("{by_id}/explode"), &f.alice, json!({}))
        .await;
    assert_error(&r, 400, "bad_request", "invalid_query");
}

/// The collection spec `token`'s instance points at.
async fn spec(s: &Server, token: &str, q: &str) -> Value {
    s.get(&format!("/data-source-instance/collection?{q}"), token)
        .await
        .1
}

#[tokio::test]
async fn an_instance_follows_its_data_source_until_the_customer_points_it_elsewhere() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    s.create(
        "data-sources",
        json!({"key": "things", "name": "Things", "collectionKey": "companies"}),
    )
    .await;
    let q = sel("things", &f.alice_conn);
    let name = |v: &Value| v["name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(name(&spec(&s, &f.alice, &q).await), "Companies");
    // The data source changes: the instance nobody edited follows.
    let (status, _) = s
        .patch(
            "/data-sources/things",
            &s.admin(),
            json!({"collectionKey": "contacts"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(name(&spec(&s, &f.alice, &q).await), "Contacts");
    // Alice points her instance elsewhere; Bob's still follows the data source.
    let (status, mine) = s
        .patch(
            &format!("/data-source-instance?{q}"),
            &f.alice,
            json!({"collectionKey": "companies"}),
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["isCustomized"], true, "{mine}");
    assert_eq!(name(&spec(&s, &f.alice, &q).await), "Companies");
    let bobs = sel("things", &f.bob_conn);
    assert_eq!(name(&spec(&s, &f.bob, &bobs).await), "Contacts");
    // A path (deprecated) names a collection with its parameters.
    let (status, _) = s
        .patch(
            &format!("/data-source-instance?{q}"),
            &f.alice,
            json!({"collectionKey": null, "path": "data/contacts?listId=L9"}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(name(&spec(&s, &f.alice, &q).await), "Contacts");
}

#[tokio::test]
async fn another_customer_or_anything_archived_is_not_found() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "collectionKey": "contacts"}),
    )
    .await;
    let q = sel("people", &f.alice_conn);
    let (_, instance) = s.get(&format!("/data-source-instance?{q}"), &f.alice).await;
    let id = instance["id"].as_str().unwrap().to_owned();
    let before = f.crm.request_count();
    for r in [
        s.post(
            &format!("/data-source-instance/collection/list?{q}"),
            &f.bob,
            json!({}),
        )
        .await,
        s.post(
            &format!("/data-source-instances/{id}/collection/list"),
            &f.bob,
            json!({}),
        )
        .await,
        s.get(&format!("/data-source-instances/{id}/collection"), &f.bob)
            .await,
        s.post(
            &format!("/data-source-instances/{id}/unified-fields-to-native"),
            &f.bob,
            json!({}),
        )
        .await,
    ] {
        assert_error(&r, 404, "bad_request", "not_found");
    }
    assert_eq!(f.crm.request_count(), before, "nothing reached the API");
    let list = format!("/data-source-instances/{id}/collection/list");
    assert_eq!(s.post(&list, &f.alice, json!({})).await.0, 200);
    // Archived instance, then archived connection.
    s.call(
        "DELETE",
        &format!("/data-source-instances/{id}"),
        Some(&f.alice),
        None,
    )
    .await;
    assert_error(
        &s.post(&list, &f.alice, json!({})).await,
        404,
        "bad_request",
        "not_found",
    );
    s.call(
        "POST",
        &format!("/data-source-instances/{id}/restore"),
        Some(&f.alice),
        None,
    )
    .await;
    assert_eq!(s.post(&list, &f.alice, json!({})).await.0, 200);
    s.call(
        "DELETE",
        &format!("/connections/{}", f.alice_conn),
        Some(&f.alice),
        None,
    )
    .await;
    let before = f.crm.request_count();
    assert_error(
        &s.post(&list, &f.alice, json!({})).await,
        404,
        "bad_request",
        "not_found",
    );
    assert_eq!(f.crm.request_count(), before);
}

#[tokio::test]
async fn a_field_mapping_instance_setup_reads_the_customers_own_fields() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "collectionKey": "contacts"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map", "dataSourceKey": "people",
               "appSchema": {"type": "object", "properties": {"mail": {"type": "string"}}}}),
    )
    .await;
    let path = format!("/connections/{}/field-mappings/people-map", f.alice_conn);
    let (status, instance) = s.call("PUT", &path, Some(&f.alice), Some(json!({}))).await;
    assert_eq!(status, 200, "{instance}");
    let (status, set) = s.post(&format!("{path}/setup"), &f.alice, json!({})).await;
    assert_eq!(status, 200, "{set}");
    let props = &set["dataSourceSchema"]["properties"];
    assert_eq!(
        props["email"]["type"], "string",
        "the collection's fields: {set}"
    );
    assert_eq!(
        props["score"]["type"], "number",
        "the customer's custom fields: {set}"
    );
    let dsi = set["dataSourceInstanceId"]
        .as_str()
        .expect("its data source instance");
    let (status, ds_instance) = s
        .get(&format!("/data-source-instances/{dsi}"), &f.alice)
        .await;
    assert_eq!(status, 200, "{ds_instance}");
    assert_eq!(ds_instance["connectionId"], f.alice_conn.as_str());
    // Another customer: not found, and nothing is read from the API for him.
    let id = instance["id"].as_str().unwrap();
    let before = f.crm.request_count();
    let r = s
        .post(
            &format!("/field-mapping-instances/{id}/setup"),
            &f.bob,
            json!({}),
        )
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    assert_eq!(f.crm.request_count(), before);
}
