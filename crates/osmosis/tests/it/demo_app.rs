//! The demo app (`serve --demo`, crates/demo-app): its API used directly (keys,
//! CRUD, pages, accounts kept apart, errors, webhooks delivered through the outbound
//! guard), then end to end through Osmosis with the shipped `demo-app` connector on
//! a server that may reach no other address of this machine; and without `--demo`:
//! nothing served, the connector installed and failing with a message saying so.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use osmosis_connectors::http::AllowList;
use serde_json::{json, Value};

use crate::common::process::{free_port, Running};
use crate::common::{Server, WS_KEY, WS_SECRET};

const API: &str = "/demo-app/api";

/// A demo-app request with `key` (as a Bearer token, when given).
async fn demo(
    s: &Server,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    s.call(method, &format!("{API}{path}"), key, body).await
}

/// A new account's key.
async fn new_key(s: &Server) -> String {
    let (status, answer) = demo(s, "POST", "/keys", None, None).await;
    assert_eq!(status, 201, "{answer}");
    answer["apiKey"].as_str().expect("a key").to_owned()
}

/// Asserts a demo-app error: status, code, and the field or parameter it names.
#[track_caller]
fn assert_refused(answer: &(u16, Value), status: u16, code: &str, field: Option<&str>) {
    assert_eq!(answer.0, status, "{}", answer.1);
    let error = &answer.1["error"];
    assert_eq!(error["code"], code, "{}", answer.1);
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        answer.1
    );
    match field {
        Some(field) => assert_eq!(error["field"], field, "{}", answer.1),
        None => assert!(error.get("field").is_none(), "{}", answer.1),
    }
}

/// The ids of a list page's items.
fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn demo_app_keys_records_pages_and_errors() {
    let s = Server::start_shipped(true, AllowList::default()).await;

    // A key opens its account, as a Bearer token or X-Api-Key; nothing else does.
    let (status, made) = demo(&s, "POST", "/keys", None, Some(json!({"name": "Acme Ltd"}))).await;
    assert_eq!(status, 201, "{made}");
    let key = made["apiKey"].as_str().unwrap().to_owned();
    assert!(key.starts_with("demo_"), "{made}");
    assert_eq!(made["account"]["name"], "Acme Ltd");
    let (status, me) = demo(&s, "GET", "/me", Some(&key), None).await;
    assert_eq!((status, &me), (200, &made["account"]));
    let by_header = s
        .http
        .get(format!("{}{API}/me", s.url))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 200);
    assert_refused(
        &demo(&s, "GET", "/me", None, None).await,
        401,
        "unauthorized",
        None,
    );
    assert_refused(
        &demo(&s, "GET", "/contacts", Some("demo_unknown"), None).await,
        401,
        "unauthorized",
        None,
    );
    assert_refused(
        &demo(&s, "POST", "/keys", None, Some(json!({"name": 7}))).await,
        400,
        "invalid_field",
        Some("name"),
    );

    // Records: create, read, change, delete.
    let (status, acme) = demo(
        &s,
        "POST",
        "/companies",
        Some(&key),
        Some(json!({"name": "Acme", "domain": "acme.example"})),
    )
    .await;
    assert_eq!(status, 201, "{acme}");
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let (status, ada) = demo(
        &s,
        "POST",
        "/contacts",
        Some(&key),
        Some(json!({"email": "Ada@Example.com", "firstName": "Ada", "companyId": acme_id})),
    )
    .await;
    assert_eq!(status, 201, "{ada}");
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            &ada["lastName"],
            &ada["companyId"],
            ada["createdAt"].is_string()
        ),
        (&Value::Null, &json!(acme_id), true),
        "{ada}"
    );
    let (status, read) = demo(&s, "GET", &format!("/contacts/{ada_id}"), Some(&key), None).await;
    assert_eq!((status, &read), (200, &ada));
    let (status, changed) = demo(
        &s,
        "PATCH",
        &format!("/contacts/{ada_id}"),
        Some(&key),
        Some(json!({"lastName": "Lovelace", "companyId": null})),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        (
            &changed["lastName"],
            &changed["companyId"],
            &changed["email"]
        ),
        (&json!("Lovelace"), &Value::Null, &json!("Ada@Example.com"))
    );

    // Bad input names the field; unknown ids are 404.
    for (body, field) in [
        (json!({"firstName": "No email"}), "email"),
        (json!({"email": "not an email"}), "email"),
        (json!({"email": "a@b.example", "nickname": "x"}), "nickname"),
        (json!({"email": "a@b.example", "phone": 42}), "phone"),
        (json!({"email": "a@b.example", "id": "con_mine"}), "id"),
        (
            json!({"email": "a@b.example", "companyId": "com_nope"}),
            "companyId",
        ),
    ] {
        assert_refused(
            &demo(&s, "POST", "/contacts", Some(&key), Some(body)).await,
            400,
            "invalid_field",
            Some(field),
        );
    }
    assert_refused(
        &demo(
            &s,
            "PATCH",
            &format!("/contacts/{ada_id}"),
            Some(&key),
            Some(json!({"email": null})),
        )
        .await,
        400,
        "invalid_field",
        Some("email"),
    );
    assert_refused(
        &demo(
            &s,
            "POST",
            "/companies",
            Some(&key),
            Some(json!({"name": "X", "domain": "https://x.example/"})),
        )
        .await,
        400,
        "invalid_field",
        Some("domain"),
    );
    let not_json = s
        .http
        .post(format!("{}{API}/contacts", s.url))
        .bearer_auth(&key)
        .body("email=a@b.example")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(
        not_json.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_body"
    );
    for (method, path) in [
        ("GET", "/contacts/con_nope"),
        ("PATCH", "/contacts/con_nope"),
        ("DELETE", "/contacts/con_nope"),
        ("GET", "/companies/com_nope"),
        ("GET", "/webhooks/whk_nope"),
        ("GET", "/nothing-here"),
    ] {
        let body = (method == "PATCH").then(|| json!({"firstName": "X"}));
        assert_refused(
            &demo(&s, method, path, Some(&key), body).await,
            404,
            "not_found",
            None,
        );
    }

    // Pages: 25 more contacts in pages of 10, each once, in creation order.
    let mut made = vec![ada_id.clone()];
    for i in 0..25 {
        let (_, c) = demo(
            &s,
            "POST",
            "/contacts",
            Some(&key),
            Some(json!({"email": format!("p{i}@example.com"), "lastName": format!("Person {i}")})),
        )
        .await;
        made.push(c["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = demo(
            &s,
            "GET",
            &format!("/contacts?cursor={cursor}&limit=10"),
            Some(&key),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert_eq!((pages, &seen), (3, &made));
    let (_, default_page) = demo(&s, "GET", "/contacts", Some(&key), None).await;
    assert_eq!(ids(&default_page).len(), 20, "20 by default");
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("sort=name", "sort"),
        ("domain=acme.example", "domain"),
    ] {
        assert_refused(
            &demo(&s, "GET", &format!("/contacts?{query}"), Some(&key), None).await,
            400,
            "invalid_query",
            Some(parameter),
        );
    }

    // Filters: email in any case, q in the names and email.
    let (_, by_email) = demo(
        &s,
        "GET",
        "/contacts?email=ada%40example.COM",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(ids(&by_email), [ada_id.as_str()]);
    let (_, found) = demo(&s, "GET", "/contacts?q=PERSON%201", Some(&key), None).await;
    assert_eq!(ids(&found).len(), 11, "Person 1 and Person 10–19: {found}");
    let (_, by_domain) = demo(
        &s,
        "GET",
        "/companies?domain=ACME.example",
        Some(&key),
        None,
    )
    .await;
    assert_eq!(ids(&by_domain), [acme_id.as_str()]);

    // A delete is a delete.
    let (status, _) = demo(
        &s,
        "DELETE",
        &format!("/contacts/{ada_id}"),
        Some(&key),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_refused(
        &demo(&s, "GET", &format!("/contacts/{ada_id}"), Some(&key), None).await,
        404,
        "not_found",
        None,
    );

    // The page says how to get a key.
    let page = s
        .http
        .get(format!("{}/demo-app/", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/demo-app/api/keys"), "{html}");
    s.finish().await;
}

#[tokio::test]
async fn demo_app_accounts_never_see_each_other() {
    let s = Server::start_shipped(true, AllowList::default()).await;
    let (alice, bob) = (new_key(&s).await, new_key(&s).await);
    let (_, company) = demo(
        &s,
        "POST",
        "/companies",
        Some(&alice),
        Some(json!({"name": "Alice Inc"})),
    )
    .await;
    let (_, contact) = demo(
        &s,
        "POST",
        "/contacts",
        Some(&alice),
        Some(json!({"email": "a@alice.example"})),
    )
    .await;
    let (_, hook) = demo(
        &s,
        "POST",
        "/webhooks",
        Some(&alice),
        Some(json!({"url": "https://hooks.example/a", "events": ["contact.created"]})),
    )
    .await;
    let (contact_id, company_id, hook_id) = (
        contact["id"].as_str().unwrap(),
        company["id"].as_str().unwrap(),
        hook["id"].as_str().unwrap(),
    );

    for path in ["/contacts", "/companies", "/webhooks"] {
        let (status, page) = demo(&s, "GET", path, Some(&bob), None).await;
        assert_eq!((status, &page["items"]), (200, &json!([])), "{path}");
    }
    for path in [
        format!("/contacts/{contact_id}"),
        format!("/companies/{company_id}"),
        format!("/webhooks/{hook_id}"),
    ] {
        assert_refused(
            &demo(&s, "GET", &path, Some(&bob), None).await,
            404,
            "not_found",
            None,
        );
        assert_refused(
            &demo(&s, "DELETE", &path, Some(&bob), None).await,
            404,
            "not_found",
            None,
        );
    }
    assert_refused(
        &demo(
            &s,
            "PATCH",
            &format!("/contacts/{contact_id}"),
            Some(&bob),
            Some(json!({"firstName": "Mallory"})),
        )
        .await,
        404,
        "not_found",
        None,
    );
    // Nor may Bob point his contact at Alice's company.
    assert_refused(
        &demo(
            &s,
            "POST",
            "/contacts",
            Some(&bob),
            Some(json!({"email": "b@bob.example", "companyId": company_id})),
        )
        .await,
        400,
        "invalid_field",
        Some("companyId"),
    );
    // Alice's records are as she left them.
    let (_, mine) = demo(
        &s,
        "GET",
        &format!("/contacts/{contact_id}"),
        Some(&alice),
        None,
    )
    .await;
    assert_eq!(mine, contact);
    s.finish().await;
}

/// A local receiver of webhook deliveries: `(event header, body)` of each.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<(String, Value)>>>);

impl Receiver {
    async fn start(&self) -> String {
        async fn take(
            State(got): State<Receiver>,
            headers: HeaderMap,
            Json(body): Json<Value>,
        ) -> &'static str {
            let event = headers
                .get(osmosis_demo_app::webhooks::EVENT_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            got.0.lock().unwrap().push((event, body));
            "ok"
        }
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    /// The deliveries once there are `n` (waiting up to 10 s).
    async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.0.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} deliveries: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn demo_app_webhooks_reach_a_local_receiver() {
    // This machine is allowed (as an operator would for a local receiver).
    let s = Server::start_shipped(true, AllowList::loopback()).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let (key, other) = (new_key(&s).await, new_key(&s).await);

    // Subscriptions: checked, listed, read, deleted.
    let subscribe = |events: Value| json!({"url": url, "events": events});
    for (body, field) in [
        (subscribe(json!(["contact.exploded"])), "events"),
        (subscribe(json!([])), "events"),
        (json!({"url": url}), "events"),
        (
            json!({"url": "ftp://example.com/x", "events": ["contact.created"]}),
            "url",
        ),
        (json!({"events": ["contact.created"]}), "url"),
        (
            json!({"url": url, "events": ["contact.created"], "secret": "s"}),
            "secret",
        ),
    ] {
        assert_refused(
            &demo(&s, "POST", "/webhooks", Some(&key), Some(body)).await,
            400,
            "invalid_field",
            Some(field),
        );
    }
    let (status, hook) = demo(
        &s,
        "POST",
        "/webhooks",
        Some(&key),
        Some(subscribe(json!([
            "contact.created",
            "contact.deleted",
            "company.updated",
            "contact.created"
        ]))),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    assert_eq!(
        hook["events"],
        json!(["contact.created", "contact.deleted", "company.updated"])
    );
    let (_, spare) = demo(
        &s,
        "POST",
        "/webhooks",
        Some(&key),
        Some(subscribe(json!(["company.created"]))),
    )
    .await;
    let (_, listed) = demo(&s, "GET", "/webhooks", Some(&key), None).await;
    assert_eq!(listed["items"], json!([hook, spare]));
    let spare_path = format!("/webhooks/{}", spare["id"].as_str().unwrap());
    assert_eq!(
        demo(&s, "DELETE", &spare_path, Some(&key), None).await.0,
        204
    );
    assert_refused(
        &demo(&s, "GET", &spare_path, Some(&key), None).await,
        404,
        "not_found",
        None,
    );

    // Changes to the account's records arrive for the events subscribed to only.
    let (_, ada) = demo(
        &s,
        "POST",
        "/contacts",
        Some(&key),
        Some(json!({"email": "ada@example.com"})),
    )
    .await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].0, "contact.created");
    assert_eq!(got[0].1["event"], "contact.created");
    assert_eq!(got[0].1["data"], ada);
    assert!(
        got[0].1["id"].is_string() && got[0].1["occurredAt"].is_string(),
        "{}",
        got[0].1
    );
    let ada_path = format!("/contacts/{}", ada["id"].as_str().unwrap());
    demo(
        &s,
        "PATCH",
        &ada_path,
        Some(&key),
        Some(json!({"firstName": "Ada"})),
    )
    .await; // not subscribed
    demo(
        &s,
        "POST",
        "/companies",
        Some(&key),
        Some(json!({"name": "Spare"})),
    )
    .await; // unsubscribed
    demo(
        &s,
        "POST",
        "/contacts",
        Some(&other),
        Some(json!({"email": "x@other.example"})),
    )
    .await; // another account
    assert_eq!(demo(&s, "DELETE", &ada_path, Some(&key), None).await.0, 204);
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].1["event"], "contact.deleted");
    assert_eq!(got[1].1["data"]["firstName"], "Ada", "the record as it was");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events: Vec<String> = receiver
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(e, _)| e.clone())
        .collect();
    assert_eq!(events, ["contact.created", "contact.deleted"]);
    s.finish().await;
}

#[tokio::test]
async fn demo_app_webhooks_reach_no_internal_address_but_the_server() {
    // Nothing of this machine is allowed but, with --demo, the server's own port.
    let s = Server::start_shipped(true, AllowList::default()).await;
    let key = new_key(&s).await;
    let receiver = Receiver::default();
    let url = receiver.start().await;
    let refused = demo(
        &s,
        "POST",
        "/webhooks",
        Some(&key),
        Some(json!({"url": url, "events": ["contact.created"]})),
    )
    .await;
    assert_refused(&refused, 400, "invalid_field", Some("url"));
    assert!(
        refused.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OSMOSIS_OUTBOUND_ALLOW"),
        "{}",
        refused.1
    );
    for internal in [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
    ] {
        let answer = demo(
            &s,
            "POST",
            "/webhooks",
            Some(&key),
            Some(json!({"url": internal, "events": ["contact.created"]})),
        )
        .await;
        assert_refused(&answer, 400, "invalid_field", Some("url"));
    }
    // The server's own address is the one opened.
    let own = demo(
        &s,
        "POST",
        "/webhooks",
        Some(&key),
        Some(json!({"url": format!("{}/demo-app/hook", s.url), "events": ["contact.created"]})),
    )
    .await;
    assert_eq!(own.0, 201, "{}", own.1);
    demo(
        &s,
        "POST",
        "/contacts",
        Some(&key),
        Some(json!({"email": "a@example.com"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.0.lock().unwrap().is_empty());
    s.finish().await;
}

/// The `demo-app` integration on `s`, and a connection of `customer` to the account
/// of `key`: the connection's id.
async fn connect(s: &Server, customer: &str, key: &str) -> String {
    let (status, integrations) = s.get("/integrations", &s.admin()).await;
    assert_eq!(status, 200, "{integrations}");
    if integrations["items"].as_array().unwrap().is_empty() {
        s.create(
            "integrations",
            json!({"key": "demo-app", "name": "Demo app", "connectorKey": "demo-app"}),
        )
        .await;
    }
    let (status, connection) = s
        .post(
            "/connections",
            &s.customer(customer),
            json!({"integrationKey": "demo-app", "name": "Demo", "input": {"apiKey": key}}),
        )
        .await;
    assert_eq!(status, 200, "{connection}");
    connection["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn demo_app_end_to_end_through_osmosis() {
    // No address of this machine is allowed: the connector reaches the demo app
    // through the allowance --demo makes for the server's own port.
    let s = Server::start_shipped(true, AllowList::default()).await;
    let (alice_key, bob_key) = (new_key(&s).await, new_key(&s).await);
    let alice = connect(&s, "alice", &alice_key).await;
    let bob = connect(&s, "bob", &bob_key).await;
    let (alice_token, bob_token) = (s.customer("alice"), s.customer("bob"));

    for (key, kind) in [
        ("create-contact", "create-data-record"),
        ("list-contacts", "list-data-records"),
    ] {
        s.create(
            "actions",
            json!({"key": key, "name": key, "type": kind,
            "config": {"dataSource": {"collectionKey": "contacts"}}}),
        )
        .await;
    }
    let (status, created) = s
        .post("/act", &alice_token, json!({"key": "create-contact", "connectionId": alice,
            "input": {"fields": {"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}}}))
        .await;
    assert_eq!(status, 200, "{created}");
    let id = created["output"]["id"]
        .as_str()
        .expect("the new contact's id")
        .to_owned();

    // The demo app has it, in Alice's account.
    let (status, stored) = demo(
        &s,
        "GET",
        &format!("/contacts/{id}"),
        Some(&alice_key),
        None,
    )
    .await;
    assert_eq!((status, &stored["email"]), (200, &json!("ada@example.com")));

    let (status, listed) = s
        .post(
            "/act",
            &alice_token,
            json!({"key": "list-contacts", "connectionId": alice}),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let records = listed["output"]["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{listed}");
    assert_eq!(
        (
            &records[0]["id"],
            &records[0]["name"],
            &records[0]["fields"]["email"]
        ),
        (
            &json!(id),
            &json!("Ada Lovelace"),
            &json!("ada@example.com")
        )
    );

    // Bob's connection is Bob's account: empty.
    let (status, his) = s
        .post(
            "/act",
            &bob_token,
            json!({"key": "list-contacts", "connectionId": bob}),
        )
        .await;
    assert_eq!(
        (status, &his["output"]["records"]),
        (200, &json!([])),
        "{his}"
    );

    // The proxy reaches the app's API with the connection's key.
    let (status, me) = s
        .get(&format!("/connections/{alice}/proxy/me"), &alice_token)
        .await;
    let (_, account) = demo(&s, "GET", "/me", Some(&alice_key), None).await;
    assert_eq!((status, &me), (200, &account));

    // A wrong key does not connect.
    let (status, refused) = s
        .post(
            "/connections",
            &alice_token,
            json!({"integrationKey": "demo-app", "input": {"apiKey": "demo_wrong"}}),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {refused}");
    s.finish().await;
}

#[tokio::test]
async fn demo_app_is_not_served_without_demo_and_its_connector_says_so() {
    let s = Server::start_shipped(false, AllowList::default()).await;
    for path in ["/demo-app/", "/demo-app/api/me", "/demo-app/api/keys"] {
        let (status, _) = s.call("POST", path, None, None).await;
        assert_eq!(status, 404, "POST {path}");
        let (status, _) = s.call("GET", path, None, None).await;
        assert_eq!(status, 404, "GET {path}");
    }
    // The connector is installed like every shipped one …
    let (status, connector) = s.get("/connectors/demo-app", &s.admin()).await;
    assert_eq!(
        (status, &connector["key"]),
        (200, &json!("demo-app")),
        "{connector}"
    );
    s.create(
        "integrations",
        json!({"key": "demo-app", "name": "Demo app", "connectorKey": "demo-app"}),
    )
    .await;
    // … and a connection attempt says to start the server with --demo.
    let (status, refused) = s
        .post(
            "/connections",
            &s.customer("alice"),
            json!({"integrationKey": "demo-app", "input": {"apiKey": "demo_any"}}),
        )
        .await;
    assert!((400..500).contains(&status), "{status} {refused}");
    assert!(refused.to_string().contains("--demo"), "{refused}");
    s.finish().await;
}

/// The binary: `OSMOSIS_DEMO=1` turns the demo on, and with no address of this
/// machine allowed a customer connects and lists through the demo-app connector.
#[tokio::test]
async fn demo_app_from_the_environment_in_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let database = format!("sqlite://{}", dir.path().join("osmosis.db").display());
    let node = Running::serve_workspace(
        &database,
        port,
        dir.path(),
        &[("OSMOSIS_DEMO", "1"), ("OSMOSIS_OUTBOUND_ALLOW", "")],
    )
    .await;
    let http = reqwest::Client::new();
    let made: Value = http
        .post(format!("{}{API}/keys", node.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = made["apiKey"].as_str().expect("a key");
    node.create(
        "integrations",
        json!({"key": "demo-app", "name": "Demo app", "connectorKey": "demo-app"}),
    )
    .await;
    let alice = crate::common::token(
        json!({"iss": WS_KEY, "id": "alice", "exp": crate::common::now() + 3600}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let (status, connection) = node
        .call(
            "POST",
            "/connections",
            &alice,
            Some(json!({"integrationKey": "demo-app", "input": {"apiKey": key}})),
        )
        .await;
    assert_eq!(status, 200, "{connection}");
    let id = connection["id"].as_str().unwrap();
    let (status, created) = node
        .call(
            "POST",
            &format!("/connections/{id}/data/companies/create"),
            &alice,
            Some(json!({"fields": {"name": "Acme"}})),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let (status, listed) = node
        .call(
            "POST",
            &format!("/connections/{id}/data/companies/list"),
            &alice,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["records"][0]["name"], "Acme", "{listed}");
    assert!(dir.path().join(osmosis_demo_app::DB_FILE).exists());
    node.stop();
}
