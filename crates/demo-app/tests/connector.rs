//! The shipped `demo-app` connector against the demo app itself, run as the engine
//! runs connectors (a `FunctionRunner` on the guarded outbound client,
//! `collections::run_method`): `test`, and every method of both collections, with the
//! records the app stores checked. This is the connector's conformance test: its API
//! is this crate's, so it runs against the app rather than a mock of it
//! (`crates/connectors/tests/it/conformance.rs` leaves it out for that reason).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use osmosis_connectors::catalog;
use osmosis_connectors::collections::run_method;
use osmosis_connectors::definition::{CollectionMethod, Connector};
use osmosis_connectors::function::FunctionRunner;
use osmosis_connectors::http::{AllowList, OutboundClient};
use serde_json::{json, Value};

struct App {
    origin: String,
    addr: SocketAddr,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> App {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = osmosis_demo_app::app(
        dir.path(),
        OutboundClient::new(AllowList::default().with_socket(addr)),
    )
    .await
    .unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    App {
        origin: format!("http://{addr}"),
        addr,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl App {
    async fn new_key(&self) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/demo-app/api/keys", self.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["apiKey"].as_str().unwrap().to_owned()
    }

    /// A runner of the shipped connector for `key`, on a client that may reach the
    /// app's address and port only, with `parameters`.
    fn runner(&self, key: &str, parameters: Value) -> FunctionRunner {
        let value = catalog::shipped()
            .unwrap()
            .into_iter()
            .find(|c| c["key"] == "demo-app")
            .expect("the demo-app connector is shipped");
        let connector = Arc::new(Connector::from_value(&value).unwrap());
        FunctionRunner::new(
            connector,
            OutboundClient::new(AllowList::default().with_socket(self.addr)),
        )
        .with_credentials(json!({ "apiKey": key }))
        .with_connector_parameters(parameters)
    }

    fn connected(&self, key: &str) -> FunctionRunner {
        self.runner(key, json!({ "apiBaseUri": self.origin }))
    }
}

async fn call(
    runner: &FunctionRunner,
    collection: &str,
    method: CollectionMethod,
    request: Value,
) -> Value {
    run_method(runner, collection, method, request, json!({}))
        .await
        .unwrap_or_else(|e| panic!("{collection} {}: {e}", method.name()))
}

#[tokio::test]
async fn test_passes_with_a_key_of_the_app_only() {
    let app = start().await;
    let key = app.new_key().await;
    assert!(app.connected(&key).test().await.unwrap());
    for wrong in ["demo_not-a-key", ""] {
        match app.connected(wrong).test().await {
            Ok(passed) => assert!(!passed, "{wrong:?} passed"),
            Err(error) => assert!(error.to_string().contains("401"), "{error}"),
        }
    }
}

#[tokio::test]
async fn without_the_server_address_every_call_says_to_start_with_demo() {
    let app = start().await;
    let key = app.new_key().await;
    let error = app
        .runner(&key, json!({}))
        .test()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("--demo"), "{error}");
}

#[tokio::test]
async fn every_method_of_both_collections_runs_against_the_app() {
    let app = start().await;
    let key = app.new_key().await;
    let runner = app.connected(&key);
    let mut ran = BTreeSet::new();
    let mut run = |collection: &'static str, method: CollectionMethod| {
        ran.insert((collection.to_owned(), method.file_stem()));
    };

    // companies: create, find, update, match, search, list, delete.
    let acme = call(
        &runner,
        "companies",
        CollectionMethod::Create,
        json!({"fields": {"name": "Acme", "domain": "acme.example", "industry": "Anvils"}}),
    )
    .await;
    run("companies", CollectionMethod::Create);
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let found = call(
        &runner,
        "companies",
        CollectionMethod::FindById,
        json!({"id": acme_id}),
    )
    .await;
    run("companies", CollectionMethod::FindById);
    assert_eq!(found["record"]["name"], "Acme", "{found}");
    assert_eq!(
        found["record"]["fields"]["domain"], "acme.example",
        "{found}"
    );
    assert_eq!(
        found["record"]["rawFields"]["industry"], "Anvils",
        "{found}"
    );
    let updated = call(
        &runner,
        "companies",
        CollectionMethod::Update,
        json!({"id": acme_id, "fields": {"phone": "+1 555 0100"}}),
    )
    .await;
    run("companies", CollectionMethod::Update);
    assert_eq!(updated, json!({"id": acme_id}));
    let matched = call(
        &runner,
        "companies",
        CollectionMethod::Match,
        json!({"query": {"domain": "ACME.example"}}),
    )
    .await;
    run("companies", CollectionMethod::Match);
    assert_eq!(matched["record"]["id"], acme_id.as_str(), "{matched}");
    assert_eq!(
        matched["record"]["fields"]["phone"], "+1 555 0100",
        "{matched}"
    );
    let none = call(
        &runner,
        "companies",
        CollectionMethod::Match,
        json!({"query": {"domain": "nowhere.example"}}),
    )
    .await;
    assert_eq!(none, json!({}), "no match is no record");
    let other = call(
        &runner,
        "companies",
        CollectionMethod::Create,
        json!({"fields": {"name": "Globex"}}),
    )
    .await;
    let searched = call(
        &runner,
        "companies",
        CollectionMethod::Search,
        json!({"query": "glob"}),
    )
    .await;
    run("companies", CollectionMethod::Search);
    let names: Vec<&Value> = searched["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    assert_eq!(names, [&json!("Globex")], "{searched}");
    let listed = call(
        &runner,
        "companies",
        CollectionMethod::List,
        json!({"filter": {"domain": "acme.example"}}),
    )
    .await;
    run("companies", CollectionMethod::List);
    assert_eq!(listed["records"].as_array().unwrap().len(), 1, "{listed}");
    assert!(listed.get("cursor").is_none(), "{listed}");
    let deleted = call(
        &runner,
        "companies",
        CollectionMethod::Delete,
        json!({"id": other["id"]}),
    )
    .await;
    run("companies", CollectionMethod::Delete);
    assert_eq!(deleted, json!({}));
    let gone = run_method(
        &runner,
        "companies",
        CollectionMethod::FindById,
        json!({"id": other["id"]}),
        json!({}),
    )
    .await;
    assert!(
        gone.unwrap_err().to_string().contains("404"),
        "a deleted company is not found"
    );

    // contacts: 105 of them list in two pages of 100 and 5, each once.
    for i in 0..105 {
        let fields = if i == 0 {
            json!({"email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "companyId": acme_id})
        } else {
            json!({"email": format!("person{i}@example.com")})
        };
        call(
            &runner,
            "contacts",
            CollectionMethod::Create,
            json!({ "fields": fields }),
        )
        .await;
    }
    run("contacts", CollectionMethod::Create);
    let first = call(&runner, "contacts", CollectionMethod::List, json!({})).await;
    run("contacts", CollectionMethod::List);
    let cursor = first["cursor"].as_str().expect("a second page").to_owned();
    let second = call(
        &runner,
        "contacts",
        CollectionMethod::List,
        json!({ "cursor": cursor }),
    )
    .await;
    assert!(second.get("cursor").is_none(), "{second}");
    let ids: BTreeSet<String> = [&first, &second]
        .iter()
        .flat_map(|page| page["records"].as_array().unwrap().iter())
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        (first["records"].as_array().unwrap().len(), ids.len()),
        (100, 105)
    );
    let ada = &first["records"][0];
    assert_eq!(ada["name"], "Ada Lovelace", "{ada}");
    assert_eq!(ada["fields"]["companyId"], acme_id.as_str(), "{ada}");
    let ada_id = ada["id"].as_str().unwrap().to_owned();
    let by_company = call(
        &runner,
        "contacts",
        CollectionMethod::List,
        json!({"filter": {"companyId": acme_id}}),
    )
    .await;
    assert_eq!(
        by_company["records"].as_array().unwrap().len(),
        1,
        "{by_company}"
    );
    let matched = call(
        &runner,
        "contacts",
        CollectionMethod::Match,
        json!({"query": {"email": "ADA@example.com"}}),
    )
    .await;
    run("contacts", CollectionMethod::Match);
    assert_eq!(matched["record"]["id"], ada_id.as_str(), "{matched}");
    let searched = call(
        &runner,
        "contacts",
        CollectionMethod::Search,
        json!({"query": "lovelace"}),
    )
    .await;
    run("contacts", CollectionMethod::Search);
    assert_eq!(
        searched["records"].as_array().unwrap().len(),
        1,
        "{searched}"
    );
    call(
        &runner,
        "contacts",
        CollectionMethod::Update,
        json!({"id": ada_id, "fields": {"lastName": "King"}}),
    )
    .await;
    run("contacts", CollectionMethod::Update);
    let found = call(
        &runner,
        "contacts",
        CollectionMethod::FindById,
        json!({"id": ada_id}),
    )
    .await;
    run("contacts", CollectionMethod::FindById);
    assert_eq!(found["record"]["name"], "Ada King", "{found}");
    assert_eq!(
        found["record"]["fields"]["email"], "ada@example.com",
        "{found}"
    );
    call(
        &runner,
        "contacts",
        CollectionMethod::Delete,
        json!({"id": ada_id}),
    )
    .await;
    run("contacts", CollectionMethod::Delete);
    let left = call(
        &runner,
        "contacts",
        CollectionMethod::Match,
        json!({"query": {"email": "ada@example.com"}}),
    )
    .await;
    assert_eq!(left, json!({}));

    // The app refuses what the connector should not send, and says which field.
    let refused = run_method(
        &runner,
        "contacts",
        CollectionMethod::Create,
        json!({"fields": {"firstName": "No email"}}),
        json!({}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("400") && refused.contains("email"),
        "{refused}"
    );

    // Every method the connector defines ran.
    let value = catalog::shipped()
        .unwrap()
        .into_iter()
        .find(|c| c["key"] == "demo-app")
        .unwrap();
    let connector = Connector::from_value(&value).unwrap();
    let mut defined = BTreeSet::new();
    for (key, collection) in &connector.data_collections {
        for method in CollectionMethod::ALL {
            if collection.method(method).is_some() {
                defined.insert((key.clone(), method.file_stem()));
            }
        }
    }
    assert_eq!(ran, defined);
}

#[tokio::test]
async fn another_key_sees_none_of_the_records() {
    let app = start().await;
    let (alice, bob) = (app.new_key().await, app.new_key().await);
    let created = call(
        &app.connected(&alice),
        "contacts",
        CollectionMethod::Create,
        json!({"fields": {"email": "a@example.com"}}),
    )
    .await;
    let bobs = app.connected(&bob);
    let listed = call(&bobs, "contacts", CollectionMethod::List, json!({})).await;
    assert_eq!(listed["records"], json!([]));
    let error = run_method(
        &bobs,
        "contacts",
        CollectionMethod::FindById,
        json!({"id": created["id"]}),
        json!({}),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(error.contains("404"), "{error}");
}
