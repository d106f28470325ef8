//! Data collection methods through rest-api-mapping, JavaScript and mapping helpers.

use std::sync::Arc;

use osmosis_connectors::collections::run_method;
use osmosis_connectors::definition::{CollectionMethod, Connector};
use osmosis_connectors::function::{FunctionError, FunctionRunner};
use serde_json::json;

use crate::mock;
use crate::mock::rest_api::{self, Counters, GOOD_TOKEN};

async fn runner() -> FunctionRunner {
    let base = mock::serve(rest_api::app(Arc::new(Counters::default()))).await;
    let connector = Connector::from_value(&json!({
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {"baseUri": base,
            "headers": {"Authorization": {"$tpl": {"template": "Bearer {t}", "values": {"t": {"$var": "$.credentials.token"}}}}}}},
        "data": {"contacts": {
            "name": "Contacts",
            "list": {"filterFields": ["email"], "type": "rest-api-mapping", "mapping": {
                "path": "/contacts", "method": "GET",
                "requestMapping": {"query": {"cursor": {"$var": "$.cursor"}}},
                "responseMapping": {"records": {"$var": "$.response.data.items"}, "cursor": {"$var": "$.response.data.next"}}}},
            "findById": {"type": "rest-api-mapping", "mapping": {
                "path": "/contacts/{id}", "method": "GET",
                "requestMapping": {"pathParameters": {"id": {"$var": "$.id"}}}}},
            "create": {"type": "javascript", "code":
                "export default async ({externalApiClient, input}) => { const r = await externalApiClient.post('/contacts', input.fields); return {id: r.id} }"},
            "search": {"type": "javascript", "code": "export default async () => [{name: 'no id'}]"},
            "delete": {"type": "not-supported"},
            "recordFromApi": {"type": "mapping", "mapping": {
                "id": {"$var": "$.id"}, "name": {"$var": "$.full_name"},
                "fields": {"email": {"$var": "$.email"}, "list": {"$var": "$.parameters.listId"}}}},
            "fieldsToApi": {"type": "mapping", "mapping": {"full_name": {"$var": "$.fields.name"}}}
        }}
    }))
    .unwrap();
    FunctionRunner::new(Arc::new(connector), crate::mock::outbound())
        .with_credentials(json!({"token": GOOD_TOKEN}))
}

#[tokio::test]
async fn list_pages_through_cursor_with_record_from_api() {
    let r = runner().await;
    let mut ids = Vec::new();
    let mut cursor = json!(null);
    let mut pages = 0;
    // A cursor that never ends stops at ten pages and fails the count below.
    while pages < 10 {
        let page = run_method(
            &r,
            "contacts",
            CollectionMethod::List,
            json!({"cursor": cursor}),
            json!({"listId": "L1"}),
        )
        .await
        .unwrap();
        pages += 1;
        for record in page["records"].as_array().unwrap() {
            ids.push(record["id"].as_str().unwrap().to_owned());
            assert_eq!(record["fields"]["list"], "L1");
            assert!(record["rawFields"]["full_name"].is_string());
        }
        match page.get("cursor") {
            Some(c) => cursor = c.clone(),
            None => break,
        }
    }
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(pages, 3);

    let error = run_method(
        &r,
        "contacts",
        CollectionMethod::List,
        json!({"filter": {"phone": "1"}}),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("list.filterFields"));
}

#[tokio::test]
async fn find_by_id_create_and_unsupported_methods() {
    let r = runner().await;
    let found = run_method(
        &r,
        "contacts",
        CollectionMethod::FindById,
        json!({"id": "2"}),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(found["record"]["id"], "2");
    assert_eq!(found["record"]["name"], "Person 2");

    let created = run_method(
        &r,
        "contacts",
        CollectionMethod::Create,
        json!({"fields": {"name": "Grace"}}),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(created, json!({"id": "99"}));

    assert!(matches!(
        run_method(
            &r,
            "contacts",
            CollectionMethod::Delete,
            json!({"id": "1"}),
            json!({})
        )
        .await,
        Err(FunctionError::NotSupported { .. })
    ));
    assert!(matches!(
        run_method(
            &r,
            "contacts",
            CollectionMethod::Update,
            json!({"id": "1"}),
            json!({})
        )
        .await,
        Err(FunctionError::NotDefined { .. })
    ));
    assert!(matches!(
        run_method(
            &r,
            "contacts",
            CollectionMethod::Search,
            json!({"query": "x"}),
            json!({})
        )
        .await,
        Err(FunctionError::InvalidOutput { .. })
    ));
    assert!(matches!(
        run_method(&r, "deals", CollectionMethod::List, json!({}), json!({})).await,
        Err(FunctionError::NotDefined { .. })
    ));
}
