//! The mock CRM and its connector (`common::mock_crm`) work through the engine:
//! cursor paging reaches every record once, CRUD round-trips, failures on demand.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::*;

/// Every record of a collection's `list`, page by page; more than `max_pages` pages
/// fail the test, so a cursor that never ends cannot hang it.
async fn list_all(s: &Server, token: &str, path: &str, max_pages: usize) -> (Vec<Value>, usize) {
    let mut records = Vec::new();
    let mut cursor = Value::Null;
    for page_no in 1..=max_pages {
        let (status, page) = s.post(path, token, json!({"cursor": cursor})).await;
        assert_eq!(status, 200, "{path} page {page_no}: {page}");
        records.extend(page["records"].as_array().expect("records").iter().cloned());
        match page.get("cursor") {
            Some(next) => cursor = next.clone(),
            None => return (records, page_no),
        }
    }
    panic!("{path}: a cursor still after {max_pages} pages");
}

#[tokio::test]
async fn list_pages_reach_every_contact_once() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 250).await;
    let (records, pages) = list_all(&s, &f.alice, &f.alice_data("contacts", "list"), 10).await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 250);
    let ids: BTreeSet<String> = records
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect();
    let expected: BTreeSet<String> = (1..=250).map(|i| i.to_string()).collect();
    assert_eq!(ids, expected, "each contact exactly once");
    let cursors: Vec<String> = f
        .crm
        .requests_to("/contacts")
        .iter()
        .map(|r| r.uri.clone())
        .collect();
    assert_eq!(cursors.len(), 3, "{cursors:?}");
    assert!(cursors[1].contains("cursor=100"), "{cursors:?}");
    assert!(cursors[2].contains("cursor=200"), "{cursors:?}");

    // A record: name from first and last name, 20 fields, the API object kept.
    let r = &records[0];
    let raw = mock_crm::seed_contact(1);
    assert_eq!(
        r["name"],
        format!(
            "{} {}",
            raw["first_name"].as_str().unwrap(),
            raw["last_name"].as_str().unwrap()
        )
    );
    let fields = r["fields"].as_object().expect("fields");
    assert_eq!(fields.len(), 20, "{r}");
    assert_eq!(fields["email"], raw["email"]);
    assert_eq!(fields["companyName"], raw["company"]);
    assert_eq!(fields["tier"], raw["custom"]["tier"]);
    assert_eq!(fields["score"], raw["custom"]["score"]);
    assert_eq!(r["rawFields"], raw);
    assert_eq!(raw.as_object().unwrap().len(), 20);
    // Every request carried the connection's key.
    assert!(f
        .crm
        .requests
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.header("x-api-key") == Some(CRM_KEY)));

    // Search, match, the other customer's connection, companies, operations.
    let (status, found) = s
        .post(
            &f.alice_data("contacts", "search"),
            &f.alice,
            json!({"query": "LOVELACE"}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let found = found["records"].as_array().unwrap();
    assert!(!found.is_empty());
    assert!(found.iter().all(|r| r["fields"]["lastName"] == "Lovelace"));
    let email = mock_crm::seed_contact(42)["email"].clone();
    let (status, matched) = s
        .post(
            &f.bob_data("contacts", "match"),
            &f.bob,
            json!({"query": {"email": email}}),
        )
        .await;
    assert_eq!(status, 200, "{matched}");
    assert_eq!(matched["record"]["id"], "42");
    let (companies, _) = list_all(&s, &f.bob, &f.bob_data("companies", "list"), 3).await;
    assert_eq!(companies.len(), mock_crm::CRM_COMPANIES);
    assert_eq!(companies[0]["name"], "Acme");
    assert_eq!(companies[0]["fields"]["employees"], 1200);
    let (status, me) = s
        .post(
            &format!("/connections/{}/operations/whoami/run", f.alice_conn),
            &f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["output"]["id"], "u-1");
    let (status, note) = s
        .post(
            &format!("/connections/{}/operations/create-note/run", f.alice_conn),
            &f.alice,
            json!({"input": {"text": "hello"}}),
        )
        .await;
    assert_eq!(status, 200, "{note}");
    assert_eq!(note["output"]["path"], "/echo/notes");
    assert_eq!(note["output"]["body"], json!({"text": "hello"}));
    let (status, spec) = s
        .get(
            &format!("/connections/{}/data/contacts", f.alice_conn),
            &f.alice,
        )
        .await;
    assert_eq!(status, 200, "{spec}");
    assert_eq!(
        spec["fieldsSchema"]["properties"]
            .as_object()
            .unwrap()
            .len(),
        20
    );
    s.finish().await;
}

#[tokio::test]
async fn create_find_update_delete() {
    let s = Server::start().await;
    let f = crm_fixture(&s, 3).await;
    let (a, token) = (&f, &f.alice);
    let (status, created) = s
        .post(
            &a.alice_data("contacts", "create"),
            token,
            json!({"fields": {"firstName": "Grace", "lastName": "Hopper", "email": "grace@navy.test", "tier": "gold", "score": 99}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["id"].as_str().expect("an id").to_owned();
    assert_eq!(id, "4");
    let stored = f.crm.contact(&id).expect("created in the mock");
    assert_eq!(stored["first_name"], "Grace");
    assert_eq!(stored["custom"], json!({"tier": "gold", "score": 99}));

    let (status, found) = s
        .post(
            &a.alice_data("contacts", "find-by-id"),
            token,
            json!({"id": id}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["record"]["name"], "Grace Hopper");
    assert_eq!(found["record"]["fields"]["email"], "grace@navy.test");
    assert_eq!(found["record"]["fields"]["score"], 99);

    // Only the fields sent change.
    let (status, updated) = s
        .post(
            &a.alice_data("contacts", "update"),
            token,
            json!({"id": id, "fields": {"lastName": "Murray Hopper", "score": 100}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated, json!({"id": id}));
    let stored = f.crm.contact(&id).unwrap();
    assert_eq!(stored["last_name"], "Murray Hopper");
    assert_eq!(stored["first_name"], "Grace", "{stored}");
    assert_eq!(stored["email"], "grace@navy.test", "{stored}");
    assert_eq!(stored["custom"], json!({"tier": "gold", "score": 100}));

    let (status, _) = s
        .post(
            &a.alice_data("contacts", "delete"),
            token,
            json!({"id": id}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(f.crm.contact(&id).is_none());
    assert_eq!(f.crm.contact_count(), 3);
    let (status, missing) = s
        .post(
            &a.alice_data("contacts", "find-by-id"),
            token,
            json!({"id": id}),
        )
        .await;
    assert_ne!(status, 200, "{missing}");

    // Companies the same way.
    let (status, created) = s
        .post(
            &a.alice_data("companies", "create"),
            token,
            json!({"fields": {"name": "Cyberdyne", "domain": "cyberdyne.test", "employees": 50}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let cid = created["id"].as_str().unwrap().to_owned();
    let (status, matched) = s
        .post(
            &a.alice_data("companies", "match"),
            token,
            json!({"query": {"domain": "cyberdyne.test"}}),
        )
        .await;
    assert_eq!(status, 200, "{matched}");
    assert_eq!(matched["record"]["id"], cid.as_str());
    let (status, _) = s
        .post(
            &a.alice_data("companies", "update"),
            token,
            json!({"id": cid, "fields": {"industry": "Defence"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.crm.company(&cid).unwrap()["industry"], "Defence");
    assert_eq!(f.crm.company(&cid).unwrap()["name"], "Cyberdyne");
    let (status, _) = s
        .post(
            &a.alice_data("companies", "delete"),
            token,
            json!({"id": cid}),
        )
        .await;
    assert_eq!(status, 204);
    assert!(f.crm.company(&cid).is_none());
    s.finish().await;
}

#[tokio::test]
async fn failures_on_demand() {
    // Straight at the mock: one failure, then success; /me never fails.
    let crm = start_crm(2).await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", crm.url))
            .header("x-api-key", CRM_KEY)
            .send()
    };
    crm.fail_next(500, 1);
    let me = get("/me").await.unwrap();
    assert_eq!(me.status(), 200);
    let failed = get("/contacts").await.unwrap();
    assert_eq!(failed.status(), 500);
    let body: Value = failed.json().await.unwrap();
    assert!(body["message"].is_string(), "{body}");
    assert_eq!(get("/contacts").await.unwrap().status(), 200);
    crm.fail_next(429, 1);
    let limited = get("/contacts/1").await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "0");
    assert_eq!(get("/contacts/1").await.unwrap().status(), 200);
    let unauthorised = http.get(format!("{}/me", crm.url)).send().await.unwrap();
    assert_eq!(unauthorised.status(), 401);
    assert_eq!(crm.request_count(), 6);
    let status = get("/status/418").await.unwrap();
    assert_eq!(status.status(), 418);
    assert_eq!(status.json::<Value>().await.unwrap()["code"], 418);

    // Through the engine: its API client retries one 500 (and one 429 at once),
    // so the call succeeds after two requests.
    let s = Server::start().await;
    let f = crm_fixture(&s, 2).await;
    let path = f.alice_data("contacts", "find-by-id");
    f.crm.clear_requests();
    f.crm.fail_next(500, 1);
    let (status, found) = s.post(&path, &f.alice, json!({"id": "1"})).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(f.crm.requests_to("/contacts/1").len(), 2);
    assert_eq!(f.crm.failures_pending(), 0);
    f.crm.fail_next(429, 1);
    let (status, found) = s.post(&path, &f.alice, json!({"id": "1"})).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(f.crm.requests_to("/contacts/1").len(), 4);
    // A failure it does not retry fails the call; the next call succeeds.
    f.crm.fail_next(400, 1);
    let (status, failed) = s.post(&path, &f.alice, json!({"id": "1"})).await;
    assert!(status >= 400, "{status}: {failed}");
    let (status, found) = s.post(&path, &f.alice, json!({"id": "1"})).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["record"]["id"], "1");
    s.finish().await;
}
