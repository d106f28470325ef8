//! The shipped connectors: every one loads and validates, and each is run against a
//! recording mock of its API through `collections::run_method` (the engine's path):
//! `test` with good and wrong credentials, `list` on both collections (request path
//! and query checked, records mapped), and every other method each collection defines
//! (`find-by-id`, `create`, and `update`/`delete`/`search`/`match` where present) with
//! the request's method, path, query and body checked and the result's shape
//! (`{record}`, `{id}`) checked. A connector whose table misses a defined method fails.
//! Without `apiBaseUri`, each connector still calls its real API origin.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use osmosis_connectors::api_client::RetryPolicy;
use osmosis_connectors::catalog;
use osmosis_connectors::collections::run_method;
use osmosis_connectors::definition::{
    AuthFunction, CollectionMethod, Connector, FunctionDef, Implementation,
};
use osmosis_connectors::function::FunctionRunner;
use osmosis_runtime::formula::build_data;
use serde_json::{json, Value};

use crate::mock;

const TOKEN: &str = "good-token-1234";
const WRONG: &str = "wrong-token-9876";

// ---------------------------------------------------------------------------
// A recording mock API answering from fixtures.

/// One canned answer: for `method path` (and, when set, a body containing `body_has`).
#[derive(Clone)]
struct Fixture {
    method: &'static str,
    path: &'static str,
    body_has: Option<&'static str>,
    headers: Vec<(&'static str, &'static str)>,
    body: Value,
}

fn get(path: &'static str, body: Value) -> Fixture {
    Fixture {
        method: "GET",
        path,
        body_has: None,
        headers: Vec::new(),
        body,
    }
}

fn post(path: &'static str, body: Value) -> Fixture {
    Fixture {
        method: "POST",
        ..get(path, body)
    }
}

impl Fixture {
    fn body_has(mut self, text: &'static str) -> Self {
        self.body_has = Some(text);
        self
    }

    fn header(mut self, name: &'static str, value: &'static str) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: String,
}

#[derive(Clone)]
struct MockApi {
    /// The header that must carry the credential, and its expected value.
    auth: (&'static str, String),
    /// What a request with a wrong credential gets.
    rejection: (u16, Value),
    /// What answers now: set before each call, so a call is answered by its own case.
    fixtures: Arc<Mutex<Vec<Fixture>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl MockApi {
    fn answer_with(&self, fixtures: Vec<Fixture>) {
        *self.fixtures.lock().unwrap() = fixtures;
    }
}

async fn answer(
    State(api): State<MockApi>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    api.requests.lock().unwrap().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query,
        headers: headers.clone(),
        body: body.clone(),
    });
    let (name, expected) = &api.auth;
    if headers.get(*name).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        let (status, body) = &api.rejection;
        return (StatusCode::from_u16(*status).unwrap(), Json(body.clone())).into_response();
    }
    let fixture = api
        .fixtures
        .lock()
        .unwrap()
        .iter()
        .find(|f| {
            f.method == method.as_str()
                && f.path == uri.path()
                && f.body_has.is_none_or(|text| body.contains(text))
        })
        .cloned();
    match fixture {
        Some(f) => {
            let mut response = Json(f.body).into_response();
            for (name, value) in f.headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": format!("no fixture for {method} {}", uri.path())})),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------
// The table: one case a connector.

/// `list` on one collection: the request, the fixture answering it, and what to expect.
struct ListCase {
    collection: &'static str,
    parameters: Value,
    request: Value,
    fixture: Fixture,
    /// Query pairs the request must carry.
    query: Vec<(&'static str, &'static str)>,
    /// `(id, name)` of the records, in order.
    records: Vec<(&'static str, &'static str)>,
    cursor: Option<&'static str>,
}

struct Case {
    key: &'static str,
    /// Credentials with `{token}` standing for the token; `{base}` anywhere below stands
    /// for the mock's URL.
    credentials: Value,
    /// The header carrying the credential, with `{token}`.
    auth: (&'static str, &'static str),
    rejection: (u16, Value),
    test: Fixture,
    lists: [ListCase; 2],
    /// Every other method of every collection.
    methods: Vec<MethodCase>,
}

/// What the mock must have received as the request body.
enum Sent {
    /// No body (a GET).
    Nothing,
    /// A JSON body, exactly.
    Json(Value),
    /// A form-encoded body, exactly these pairs in this order.
    Form(Vec<(&'static str, &'static str)>),
    /// A GraphQL request: the query contains the text, the variables are exactly these.
    Graphql(&'static str, Value),
}

/// What the method must return.
enum Expect {
    /// `{record}` with this id and name.
    Record(&'static str, &'static str),
    /// `{id}`, exactly.
    Id(&'static str),
    /// The method fails: the API had no such record.
    NotFound,
}

/// One method (other than `list`) on one collection.
struct MethodCase {
    collection: &'static str,
    method: CollectionMethod,
    parameters: Value,
    request: Value,
    fixture: Fixture,
    /// The query pairs the request must carry, exactly (in any order).
    query: Vec<(&'static str, &'static str)>,
    sent: Sent,
    expect: Expect,
}

/// `find-by-id` of `id`, answered by `fixture` with a GET without a body.
fn find_by_id(
    collection: &'static str,
    parameters: Value,
    id: &'static str,
    fixture: Fixture,
    name: &'static str,
) -> MethodCase {
    MethodCase {
        collection,
        method: CollectionMethod::FindById,
        parameters,
        request: json!({ "id": id }),
        fixture,
        query: vec![],
        sent: Sent::Nothing,
        expect: Expect::Record(id, name),
    }
}

/// `create` with `fields`, expecting `sent` and `{id}`.
fn create(
    collection: &'static str,
    parameters: Value,
    fields: Value,
    fixture: Fixture,
    sent: Sent,
    id: &'static str,
) -> MethodCase {
    MethodCase {
        collection,
        method: CollectionMethod::Create,
        parameters,
        request: json!({ "fields": fields }),
        fixture,
        query: vec![],
        sent,
        expect: Expect::Id(id),
    }
}

impl MethodCase {
    fn request(mut self, request: Value) -> Self {
        self.request = request;
        self
    }

    fn query(mut self, pairs: Vec<(&'static str, &'static str)>) -> Self {
        self.query = pairs;
        self
    }

    fn sent(mut self, sent: Sent) -> Self {
        self.sent = sent;
        self
    }

    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
}

fn fill(value: &Value, base: &str, token: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{base}", base).replace("{token}", token)),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, base, token)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, base, token)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Membrane's record times are ISO 8601 strings; several APIs give Unix seconds, which a
/// mapping must convert.
fn is_iso_date_time(value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let bytes = text.as_bytes();
    bytes.len() >= 11
        && bytes[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && bytes[10] == b'T'
}

/// Where a connection with `credentials` sends a request for `path`.
async fn api_url(key: &str, credentials: Value, path: &str) -> String {
    FunctionRunner::new(connector(key), crate::mock::outbound())
        .with_credentials(credentials)
        .api_client()
        .await
        .unwrap()
        .url_for(path)
        .unwrap()
        .to_string()
}

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        overall_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_attempts: 2,
    }
}

use crate::mock::shipped_connector as connector;

async fn run_case(case: Case) {
    let key = case.key;
    let api = MockApi {
        auth: (case.auth.0, case.auth.1.replace("{token}", TOKEN)),
        rejection: case.rejection.clone(),
        fixtures: Arc::new(Mutex::new(vec![case.test.clone()])),
        requests: Arc::default(),
    };
    let requests = api.requests.clone();
    let base = mock::serve(Router::new().fallback(answer).with_state(api.clone())).await;
    // The API and OAuth origins point at the mock.
    let parameters = json!({"apiBaseUri": base, "authBaseUri": base});
    let runner = |token: &str| {
        FunctionRunner::new(connector(key), crate::mock::outbound())
            .with_credentials(fill(&case.credentials, &base, token))
            .with_connector_parameters(parameters.clone())
            .with_retry_policy(fast_retries())
    };

    let good = runner(TOKEN);
    assert!(
        good.test().await.unwrap(),
        "{key}: test with good credentials"
    );
    let last = requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.method, case.test.method, "{key}: test method");
    assert_eq!(last.path, case.test.path, "{key}: test path");

    let wrong = runner(WRONG);
    match wrong.test().await {
        Ok(passed) => assert!(!passed, "{key}: test with wrong credentials passed"),
        Err(error) => assert!(
            !error.to_string().contains(WRONG),
            "{key}: the error shows the credential: {error}"
        ),
    }
    let last = requests.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        last.headers.get(case.auth.0).and_then(|v| v.to_str().ok()),
        Some(case.auth.1.replace("{token}", WRONG).as_str()),
        "{key}: the wrong credential is sent where the right one goes"
    );

    for list in &case.lists {
        let collection = list.collection;
        api.answer_with(vec![list.fixture.clone()]);
        let page = run_method(
            &good,
            collection,
            CollectionMethod::List,
            fill(&list.request, &base, TOKEN),
            fill(&list.parameters, &base, TOKEN),
        )
        .await
        .unwrap_or_else(|e| panic!("{key}/{collection}: list: {e}"));
        let sent = requests.lock().unwrap().last().cloned().unwrap();
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            (list.fixture.method, list.fixture.path),
            "{key}/{collection}: request"
        );
        for (name, value) in &list.query {
            assert!(
                sent.query.iter().any(|(n, v)| n == name && v == value),
                "{key}/{collection}: query {name}={value} missing from {:?}",
                sent.query
            );
        }
        if let Some(text) = list.fixture.body_has {
            assert!(sent.body.contains(text), "{key}/{collection}: body");
        }
        let got: Vec<(String, String)> = page["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or_default().to_owned(),
                    r["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = list
            .records
            .iter()
            .map(|(id, name)| ((*id).to_owned(), (*name).to_owned()))
            .collect();
        assert_eq!(got, want, "{key}/{collection}: records");
        for record in page["records"].as_array().unwrap() {
            for field in ["createdTime", "updatedTime"] {
                if let Some(time) = record.get(field).filter(|t| !t.is_null()) {
                    assert!(
                        is_iso_date_time(time),
                        "{key}/{collection}: {field} {time} is not an ISO 8601 date-time"
                    );
                }
            }
        }
        assert_eq!(
            page.get("cursor").and_then(Value::as_str),
            list.cursor,
            "{key}/{collection}: cursor"
        );
    }

    for case in &case.methods {
        let (collection, method) = (case.collection, case.method.file_stem());
        let what = format!("{key}/{collection}: {method}");
        api.answer_with(vec![case.fixture.clone()]);
        let before = requests.lock().unwrap().len();
        let result = run_method(
            &good,
            collection,
            case.method,
            fill(&case.request, &base, TOKEN),
            fill(&case.parameters, &base, TOKEN),
        )
        .await;
        let sent = requests.lock().unwrap()[before..].to_vec();
        assert_eq!(sent.len(), 1, "{what}: one request, got {sent:#?}");
        let sent = &sent[0];
        assert_eq!(
            (sent.method.as_str(), sent.path.as_str()),
            (case.fixture.method, case.fixture.path),
            "{what}: request"
        );
        let mut query = sent.query.clone();
        query.sort();
        let mut want: Vec<(String, String)> = case
            .query
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        assert_eq!(query, want, "{what}: query");
        let content_type = sent
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        match &case.sent {
            Sent::Nothing => assert_eq!(sent.body, "", "{what}: body"),
            Sent::Json(body) => {
                assert!(
                    content_type.starts_with("application/json"),
                    "{what}: content type {content_type}"
                );
                let got: Value = serde_json::from_str(&sent.body)
                    .unwrap_or_else(|e| panic!("{what}: body {}: {e}", sent.body));
                assert_eq!(got, fill(body, &base, TOKEN), "{what}: body");
            }
            Sent::Form(pairs) => {
                assert!(
                    content_type.starts_with("application/x-www-form-urlencoded"),
                    "{what}: content type {content_type}"
                );
                let got: Vec<(String, String)> = url::form_urlencoded::parse(sent.body.as_bytes())
                    .into_owned()
                    .collect();
                let want: Vec<(String, String)> = pairs
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect();
                assert_eq!(got, want, "{what}: form body {}", sent.body);
            }
            Sent::Graphql(text, variables) => {
                assert!(
                    content_type.starts_with("application/json"),
                    "{what}: content type {content_type}"
                );
                let got: Value = serde_json::from_str(&sent.body).unwrap();
                let query = got["query"].as_str().unwrap_or_default();
                assert!(query.contains(text), "{what}: query {query}");
                assert_eq!(&got["variables"], variables, "{what}: variables");
            }
        }
        match case.expect {
            Expect::Record(id, name) => {
                let result = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                let record = &result["record"];
                assert_eq!(record["id"], id, "{what}: record id in {result}");
                assert_eq!(record["name"], name, "{what}: record name in {result}");
                assert!(
                    record["rawFields"].is_object(),
                    "{what}: rawFields in {result}"
                );
            }
            Expect::Id(id) => {
                let result = result.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(result, json!({ "id": id }), "{what}");
            }
            Expect::NotFound => {
                let error = result.expect_err(&what).to_string();
                assert!(error.contains("no record found"), "{what}: {error}");
            }
        }
    }

    // The table covers every method every collection defines.
    let connector = connector(key);
    let mut defined = BTreeSet::new();
    for (collection, definition) in &connector.data_collections {
        for method in CollectionMethod::ALL {
            if definition.method(method).is_some() {
                defined.insert((collection.clone(), method.file_stem()));
            }
        }
    }
    let tested: BTreeSet<(String, &str)> = case
        .lists
        .iter()
        .map(|l| (l.collection.to_owned(), CollectionMethod::List.file_stem()))
        .chain(
            case.methods
                .iter()
                .map(|m| (m.collection.to_owned(), m.method.file_stem())),
        )
        .collect();
    assert_eq!(tested, defined, "{key}: methods tested");
}

// ---------------------------------------------------------------------------
// Loading.

#[test]
fn all_thirteen_load_and_validate() {
    let shipped = catalog::shipped().unwrap();
    let keys: Vec<&str> = shipped.iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "airtable",
            "demo-app",
            "github",
            "google-sheets",
            "hubspot",
            "intercom",
            "jira",
            "linear",
            "notion",
            "salesforce",
            "slack",
            "stripe",
            "zendesk"
        ]
    );
    assert_eq!(keys, catalog::keys());
    for value in &shipped {
        let key = value["key"].as_str().unwrap();
        assert!(value["name"].is_string(), "{key}: name");
        assert!(value["logoUri"].is_string(), "{key}: logoUri");
        let connector = Connector::from_value(value).unwrap();
        assert!(connector.auth.auth_type.is_some(), "{key}: auth type");
        for function in [AuthFunction::MakeApiClient, AuthFunction::Test] {
            assert!(
                connector.auth.function(function).is_some(),
                "{key}: {}",
                function.name()
            );
        }
        assert!(
            connector.data_collections.len() >= 2,
            "{key}: fewer than two collections"
        );
        for (collection_key, collection) in &connector.data_collections {
            for method in [CollectionMethod::List, CollectionMethod::FindById] {
                assert!(
                    collection.method(method).is_some(),
                    "{key}/{collection_key}: no {}",
                    method.name()
                );
            }
        }
        // Every function file is named in the stored shape.
        assert!(
            value.to_string().contains("\"filePath\""),
            "{key}: filePath"
        );
    }
}

#[test]
fn embedded_files_assemble_like_the_folder_on_disk() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shipped");
    let shipped = catalog::shipped().unwrap();
    for value in shipped {
        let key = value["key"].as_str().unwrap();
        let from_disk = osmosis_connectors::definition::assemble_dir(&root.join(key)).unwrap();
        assert_eq!(value, from_disk, "{key}");
    }
    // Every file on disk is embedded.
    let embedded: BTreeSet<&str> = catalog::files().0.iter().map(|(p, _)| *p).collect();
    for key in catalog::keys() {
        let mut stack = vec![root.join(key)];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let relative = path.strip_prefix(&root).unwrap().to_string_lossy();
                    assert!(embedded.contains(relative.as_ref()), "{relative}");
                }
            }
        }
    }
}

#[tokio::test]
async fn oauth_configs_use_connector_parameters_and_the_auth_base_uri() {
    for value in catalog::shipped().unwrap() {
        let key = value["key"].as_str().unwrap().to_owned();
        let connector = Arc::new(Connector::from_value(&value).unwrap());
        if connector
            .auth
            .function(AuthFunction::GetOAuthConfig)
            .is_none()
        {
            continue;
        }
        let input = json!({"connectionInput": {"subdomain": "acme"}, "redirectUri": "https://engine/cb", "state": "s"});
        let config = |parameters: Value| {
            let runner = FunctionRunner::new(connector.clone(), crate::mock::outbound())
                .with_connector_parameters(parameters);
            let input = input.clone();
            async move {
                runner
                    .run_auth_function(AuthFunction::GetOAuthConfig, input)
                    .await
                    .unwrap()
                    .unwrap()
                    .output
            }
        };
        let real = config(json!({"clientId": "cid", "clientSecret": "csecret"})).await;
        assert_eq!(real["clientId"], "cid", "{key}");
        assert_eq!(real["clientSecret"], "csecret", "{key}");
        for field in ["authorizeUri", "tokenUri"] {
            let uri = real[field].as_str().unwrap_or_default();
            assert!(uri.starts_with("https://"), "{key}: {field} = {uri}");
        }
        let mocked = config(
            json!({"clientId": "cid", "clientSecret": "csecret", "authBaseUri": "http://127.0.0.1:9"}),
        )
        .await;
        for field in ["authorizeUri", "tokenUri"] {
            let uri = mocked[field].as_str().unwrap_or_default();
            assert!(
                uri.starts_with("http://127.0.0.1:9/"),
                "{key}: {field} = {uri}"
            );
        }
    }
}

/// Without `apiBaseUri`, every function that calls the API (the `test` and every
/// collection method) goes to the app's real origin: the client's base URI, or, for
/// Google's Drive calls, the absolute URL the function builds. The demo app has no
/// origin of its own: the server supplies it with `--demo`, and without it every
/// call fails saying so (`crates/demo-app/tests/connector.rs` runs the connector
/// against the app).
#[tokio::test]
async fn real_base_urls_apply_without_an_api_base_uri() {
    let demo = FunctionRunner::new(connector("demo-app"), crate::mock::outbound())
        .with_credentials(json!({"apiKey": TOKEN}));
    let error = demo.api_client().await.unwrap_err().to_string();
    assert!(error.contains("--demo"), "demo-app: {error}");
    let cases: [(&str, Value, &[&str]); 12] = [
        ("airtable", json!({}), &["https://api.airtable.com/v0/"]),
        ("github", json!({}), &["https://api.github.com/"]),
        (
            "google-sheets",
            json!({}),
            &[
                "https://sheets.googleapis.com/v4/",
                "https://www.googleapis.com/drive/v3/",
            ],
        ),
        ("hubspot", json!({}), &["https://api.hubapi.com/"]),
        ("intercom", json!({}), &["https://api.intercom.io/"]),
        (
            "jira",
            json!({"cloudId": "cloud-1"}),
            &["https://api.atlassian.com/ex/jira/cloud-1/rest/api/3/"],
        ),
        ("linear", json!({}), &["https://api.linear.app/graphql"]),
        ("notion", json!({}), &["https://api.notion.com/v1/"]),
        (
            "salesforce",
            json!({"instance_url": "https://na1.my.salesforce.com"}),
            &["https://na1.my.salesforce.com/services/data/v60.0/"],
        ),
        ("slack", json!({}), &["https://slack.com/api/"]),
        (
            "stripe",
            json!({"apiKey": TOKEN}),
            &["https://api.stripe.com/v1/"],
        ),
        (
            "zendesk",
            json!({"subdomain": "acme"}),
            &["https://acme.zendesk.com/api/v2/"],
        ),
    ];
    let mut keys = catalog::keys();
    keys.retain(|k| *k != "demo-app");
    assert_eq!(cases.iter().map(|c| c.0).collect::<Vec<_>>(), keys);
    for (key, extra, origins) in cases {
        let connector = connector(key);
        let mut credentials = json!({"access_token": TOKEN});
        credentials
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let runner = FunctionRunner::new(connector.clone(), crate::mock::outbound())
            .with_credentials(credentials)
            .with_connector_parameters(json!({"clientId": "cid", "clientSecret": "cs"}));
        let client = runner.api_client().await.unwrap();
        let mut functions: Vec<&FunctionDef> = vec![connector
            .auth
            .function(AuthFunction::Test)
            .expect("a test function")];
        for collection in connector.data_collections.values() {
            functions.extend(
                CollectionMethod::ALL
                    .into_iter()
                    .filter_map(|m| collection.method(m)),
            );
        }
        let vars = runner.variables(&json!({"parameters": {}, "id": "x"}));
        for function in functions {
            let path = match &function.implementation {
                Implementation::RestApi(mapping) => {
                    match build_data(Some(&mapping.path), Some(&vars)).unwrap() {
                        Some(Value::String(path)) => path,
                        other => panic!("{}: path {other:?}", function.origin),
                    }
                }
                Implementation::Graphql(mapping) => mapping.path.clone(),
                _ => continue,
            };
            let url = client.url_for(&path).unwrap().to_string();
            assert!(
                origins.iter().any(|o| url.starts_with(o)),
                "{key}: {} calls {url}",
                function.origin
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Each connector against its mock.

fn unauthorized() -> (u16, Value) {
    (401, json!({"message": "Bad credentials"}))
}

fn bearer_token() -> Value {
    json!({"access_token": "{token}", "token_type": "bearer"})
}

#[tokio::test]
async fn github() {
    run_case(Case {
        key: "github",
        credentials: bearer_token(),
        auth: ("authorization", "Bearer {token}"),
        rejection: unauthorized(),
        test: get("/user", json!({"login": "octocat", "id": 1})),
        lists: [
            ListCase {
                collection: "repositories",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/user/repos",
                    json!([
                        {"id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World"},
                        {"id": 1300192, "name": "Spoon-Knife", "full_name": "octocat/Spoon-Knife"}
                    ]),
                )
                .header(
                    "link",
                    "<https://api.github.com/user/repos?per_page=100&page=2>; rel=\"next\", <https://api.github.com/user/repos?per_page=100&page=4>; rel=\"last\"",
                ),
                query: vec![("per_page", "100")],
                records: vec![
                    ("1296269", "octocat/Hello-World"),
                    ("1300192", "octocat/Spoon-Knife"),
                ],
                cursor: Some("2"),
            },
            ListCase {
                collection: "issues",
                parameters: json!({"owner": "octocat", "repo": "Hello-World"}),
                request: json!({"cursor": "3"}),
                // The endpoint lists pull requests too; the collection drops them.
                fixture: get(
                    "/repos/octocat/Hello-World/issues",
                    json!([
                        {"id": 1, "number": 1347, "title": "Found a bug", "labels": [{"name": "bug"}]},
                        {"id": 2, "number": 1348, "title": "Fix the bug", "pull_request": {"url": "https://api.github.com/repos/octocat/Hello-World/pulls/1348"}}
                    ]),
                ),
                query: vec![("page", "3"), ("state", "all")],
                records: vec![("1347", "Found a bug")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "repositories",
                json!({}),
                "1296269",
                get(
                    "/repositories/1296269",
                    json!({"id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World",
                        "html_url": "https://github.com/octocat/Hello-World", "private": false}),
                ),
                "octocat/Hello-World",
            ),
            create(
                "repositories",
                json!({}),
                json!({"name": "Hello-World", "description": "My first repository"}),
                post(
                    "/user/repos",
                    json!({"id": 1296269, "name": "Hello-World", "full_name": "octocat/Hello-World"}),
                ),
                Sent::Json(json!({"name": "Hello-World", "description": "My first repository"})),
                "1296269",
            ),
            find_by_id(
                "issues",
                json!({"owner": "octocat", "repo": "Hello-World"}),
                "1347",
                get(
                    "/repos/octocat/Hello-World/issues/1347",
                    json!({"id": 1, "number": 1347, "title": "Found a bug", "state": "open", "labels": []}),
                ),
                "Found a bug",
            ),
            find_by_id(
                "issues",
                json!({"owner": "octocat", "repo": "Hello-World"}),
                "1348",
                get(
                    "/repos/octocat/Hello-World/issues/1348",
                    json!({"id": 2, "number": 1348, "title": "Fix the bug", "state": "open",
                        "pull_request": {"url": "https://api.github.com/repos/octocat/Hello-World/pulls/1348"}}),
                ),
                "Fix the bug",
            )
            .expect(Expect::NotFound),
            create(
                "issues",
                json!({"owner": "octocat", "repo": "Hello-World"}),
                json!({"title": "Found a bug", "body": "It crashes.", "labels": ["bug"]}),
                post(
                    "/repos/octocat/Hello-World/issues",
                    json!({"id": 1, "number": 1347, "title": "Found a bug"}),
                ),
                Sent::Json(json!({"title": "Found a bug", "body": "It crashes.", "labels": ["bug"]})),
                "1347",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn slack() {
    run_case(Case {
        key: "slack",
        credentials: json!({"ok": true, "access_token": "{token}", "token_type": "bot"}),
        auth: ("authorization", "Bearer {token}"),
        // Slack answers 200 with `ok: false`; the response handlers classify it.
        rejection: (200, json!({"ok": false, "error": "invalid_auth"})),
        test: get(
            "/api/auth.test",
            json!({"ok": true, "user_id": "U123", "team_id": "T1"}),
        ),
        lists: [
            ListCase {
                collection: "channels",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/api/conversations.list",
                    json!({"ok": true, "channels": [
                        {"id": "C012AB3CD", "name": "general", "is_private": false, "created": 1449252889},
                        {"id": "C061EG9T2", "name": "random", "is_private": false}
                    ], "response_metadata": {"next_cursor": "dGVhbTpDMDYxRkE1UEI="}}),
                ),
                query: vec![
                    ("limit", "200"),
                    ("types", "public_channel,private_channel"),
                ],
                records: vec![("C012AB3CD", "general"), ("C061EG9T2", "random")],
                cursor: Some("dGVhbTpDMDYxRkE1UEI="),
            },
            ListCase {
                collection: "users",
                parameters: json!({}),
                request: json!({"cursor": "dXNlcjpVMEc5V0ZYTlo="}),
                fixture: get(
                    "/api/users.list",
                    json!({"ok": true, "members": [
                        {"id": "W012A3CDE", "name": "spengler", "real_name": "Egon Spengler"},
                        {"id": "W07QCRPA4", "name": "glinda"}
                    ], "response_metadata": {"next_cursor": ""}}),
                ),
                query: vec![("cursor", "dXNlcjpVMEc5V0ZYTlo=")],
                records: vec![("W012A3CDE", "Egon Spengler"), ("W07QCRPA4", "glinda")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "channels",
                json!({}),
                "C012AB3CD",
                get(
                    "/api/conversations.info",
                    json!({"ok": true, "channel": {"id": "C012AB3CD", "name": "general", "is_private": false}}),
                ),
                "general",
            )
            .query(vec![("channel", "C012AB3CD")]),
            create(
                "channels",
                json!({}),
                json!({"name": "endeavor", "isPrivate": true}),
                post(
                    "/api/conversations.create",
                    json!({"ok": true, "channel": {"id": "C0EAQDV4Z", "name": "endeavor"}}),
                ),
                Sent::Json(json!({"name": "endeavor", "is_private": true})),
                "C0EAQDV4Z",
            ),
            find_by_id(
                "users",
                json!({}),
                "W012A3CDE",
                get(
                    "/api/users.info",
                    json!({"ok": true, "user": {"id": "W012A3CDE", "name": "spengler", "real_name": "Egon Spengler"}}),
                ),
                "Egon Spengler",
            )
            .query(vec![("user", "W012A3CDE")]),
        ],
    })
    .await;
}

#[tokio::test]
async fn hubspot() {
    run_case(Case {
        key: "hubspot",
        credentials: bearer_token(),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"status": "error", "category": "INVALID_AUTHENTICATION"})),
        test: get("/account-info/v3/details", json!({"portalId": 62515})),
        lists: [
            ListCase {
                collection: "contacts",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/crm/v3/objects/contacts",
                    json!({"results": [
                        {"id": "51", "properties": {"firstname": "Brian", "lastname": "Halligan", "email": "bh@hubspot.com"}},
                        {"id": "52", "properties": {"email": "only@mail.com"}}
                    ], "paging": {"next": {"after": "53", "link": "?after=53"}}}),
                ),
                query: vec![("limit", "100")],
                records: vec![("51", "Brian Halligan"), ("52", "only@mail.com")],
                cursor: Some("53"),
            },
            ListCase {
                collection: "companies",
                parameters: json!({}),
                request: json!({"cursor": "53"}),
                fixture: get(
                    "/crm/v3/objects/companies",
                    json!({"results": [{"id": "9", "properties": {"name": "HubSpot", "domain": "hubspot.com"}}]}),
                ),
                query: vec![("after", "53")],
                records: vec![("9", "HubSpot")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "contacts",
                json!({}),
                "51",
                get(
                    "/crm/v3/objects/contacts/51",
                    json!({"id": "51", "properties": {"firstname": "Brian", "lastname": "Halligan", "email": "bh@hubspot.com"}}),
                ),
                "Brian Halligan",
            )
            .query(vec![("properties", "email,firstname,lastname,phone,company")]),
            create(
                "contacts",
                json!({}),
                json!({"email": "bh@hubspot.com", "firstname": "Brian"}),
                post("/crm/v3/objects/contacts", json!({"id": "51", "properties": {}})),
                Sent::Json(json!({"properties": {"email": "bh@hubspot.com", "firstname": "Brian"}})),
                "51",
            ),
            find_by_id(
                "companies",
                json!({}),
                "9",
                get(
                    "/crm/v3/objects/companies/9",
                    json!({"id": "9", "properties": {"domain": "hubspot.com"}}),
                ),
                "hubspot.com",
            )
            .query(vec![("properties", "name,domain,industry,phone,city")]),
            create(
                "companies",
                json!({}),
                json!({"name": "HubSpot", "domain": "hubspot.com"}),
                post("/crm/v3/objects/companies", json!({"id": "9", "properties": {}})),
                Sent::Json(json!({"properties": {"name": "HubSpot", "domain": "hubspot.com"}})),
                "9",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn stripe() {
    run_case(Case {
        key: "stripe",
        credentials: json!({"apiKey": "{token}"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (
            401,
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
        ),
        test: get("/v1/customers", json!({"object": "list", "has_more": false, "data": []})),
        lists: [
            ListCase {
                collection: "customers",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/v1/customers",
                    json!({"object": "list", "has_more": true, "data": [
                        {"id": "cus_1", "object": "customer", "name": "Jenny Rosen", "created": 1680000000},
                        {"id": "cus_2", "object": "customer", "email": "j@example.com"}
                    ]}),
                ),
                query: vec![("limit", "100")],
                records: vec![("cus_1", "Jenny Rosen"), ("cus_2", "j@example.com")],
                cursor: Some("cus_2"),
            },
            ListCase {
                collection: "invoices",
                parameters: json!({}),
                request: json!({"cursor": "in_0"}),
                fixture: get(
                    "/v1/invoices",
                    json!({"object": "list", "has_more": false, "data": [
                        {"id": "in_1", "object": "invoice", "number": "ABC-0001"}
                    ]}),
                ),
                query: vec![("starting_after", "in_0")],
                records: vec![("in_1", "ABC-0001")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "customers",
                json!({}),
                "cus_1",
                get(
                    "/v1/customers/cus_1",
                    json!({"id": "cus_1", "object": "customer", "name": "Jenny Rosen"}),
                ),
                "Jenny Rosen",
            ),
            // Stripe takes form-encoded bodies; fields left out are not sent.
            create(
                "customers",
                json!({}),
                json!({"name": "Jenny Rosen", "email": "jenny.rosen@example.com"}),
                post("/v1/customers", json!({"id": "cus_NffrFeUfNV2Hib", "object": "customer"})),
                Sent::Form(vec![("name", "Jenny Rosen"), ("email", "jenny.rosen@example.com")]),
                "cus_NffrFeUfNV2Hib",
            ),
            find_by_id(
                "invoices",
                json!({}),
                "in_1",
                get(
                    "/v1/invoices/in_1",
                    json!({"id": "in_1", "object": "invoice", "number": "ABC-0001"}),
                ),
                "ABC-0001",
            ),
            create(
                "invoices",
                json!({}),
                json!({"customer": "cus_1", "collectionMethod": "send_invoice", "daysUntilDue": 30}),
                post("/v1/invoices", json!({"id": "in_2", "object": "invoice", "status": "draft"})),
                Sent::Form(vec![
                    ("customer", "cus_1"),
                    ("collection_method", "send_invoice"),
                    ("days_until_due", "30"),
                ]),
                "in_2",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn notion() {
    let page = json!({"object": "page", "id": "p-1", "properties": {
        "Name": {"id": "title", "type": "title", "title": [{"plain_text": "Tuscan "}, {"plain_text": "kale"}]},
        "Done": {"id": "x", "type": "checkbox", "checkbox": false}
    }});
    run_case(Case {
        key: "notion",
        credentials: json!({"access_token": "{token}", "bot_id": "b1", "workspace_id": "w1"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"object": "error", "status": 401, "code": "unauthorized"})),
        test: get("/v1/users/me", json!({"object": "user", "id": "bot-1", "type": "bot"})),
        lists: [
            ListCase {
                collection: "pages",
                parameters: json!({}),
                request: json!({}),
                fixture: post(
                    "/v1/search",
                    json!({"object": "list", "results": [page], "has_more": true, "next_cursor": "c-2"}),
                )
                .body_has("\"value\":\"page\""),
                query: vec![],
                records: vec![("p-1", "Tuscan kale")],
                cursor: Some("c-2"),
            },
            ListCase {
                collection: "databases",
                parameters: json!({}),
                request: json!({"cursor": "c-9"}),
                fixture: post(
                    "/v1/search",
                    json!({"object": "list", "results": [
                        {"object": "database", "id": "d-1", "title": [{"plain_text": "Grocery list"}]}
                    ], "has_more": false, "next_cursor": null}),
                )
                .body_has("\"start_cursor\":\"c-9\""),
                query: vec![],
                records: vec![("d-1", "Grocery list")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id("pages", json!({}), "p-1", get("/v1/pages/p-1", page.clone()), "Tuscan kale"),
            // The parent comes from the collection parameter…
            create(
                "pages",
                json!({"parentPageId": "pp-1"}),
                json!({"title": "Tuscan kale"}),
                post("/v1/pages", json!({"object": "page", "id": "p-2"})),
                Sent::Json(json!({
                    "parent": {"page_id": "pp-1"},
                    "properties": {"title": {"title": [{"text": {"content": "Tuscan kale"}}]}}
                })),
                "p-2",
            ),
            // …or from the record's own `parentId`, which wins.
            create(
                "pages",
                json!({"parentPageId": "pp-1"}),
                json!({"title": "Kale", "parentId": "pp-2"}),
                post("/v1/pages", json!({"object": "page", "id": "p-3"})),
                Sent::Json(json!({
                    "parent": {"page_id": "pp-2"},
                    "properties": {"title": {"title": [{"text": {"content": "Kale"}}]}}
                })),
                "p-3",
            ),
            find_by_id(
                "databases",
                json!({}),
                "d-1",
                get(
                    "/v1/databases/d-1",
                    json!({"object": "database", "id": "d-1", "title": [{"plain_text": "Grocery "}, {"plain_text": "list"}]}),
                ),
                "Grocery list",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn salesforce() {
    run_case(Case {
        key: "salesforce",
        // The instance URL comes from the token response; apiBaseUri replaces it here.
        credentials: json!({"access_token": "{token}", "instance_url": "https://na1.salesforce.com"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])),
        test: get("/services/data/v60.0/", json!({"sobjects": "/services/data/v60.0/sobjects", "query": "/services/data/v60.0/query"})),
        lists: [
            ListCase {
                collection: "accounts",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/services/data/v60.0/query",
                    json!({"totalSize": 3, "done": false,
                        "nextRecordsUrl": "/services/data/v60.0/query/01gD0000002HU6KIAW-2000",
                        "records": [
                            {"attributes": {"type": "Account"}, "Id": "001D000000IqhSLIAZ", "Name": "Edge Communications"},
                            {"attributes": {"type": "Account"}, "Id": "001D000000IqhSMIAZ", "Name": "Burlington Textiles"}
                        ]}),
                ),
                query: vec![("q", "SELECT Id, Name, Website, Industry, Phone, CreatedDate, LastModifiedDate FROM Account ORDER BY CreatedDate DESC")],
                records: vec![
                    ("001D000000IqhSLIAZ", "Edge Communications"),
                    ("001D000000IqhSMIAZ", "Burlington Textiles"),
                ],
                cursor: Some("01gD0000002HU6KIAW-2000"),
            },
            ListCase {
                collection: "contacts",
                parameters: json!({}),
                request: json!({"cursor": "01gD0000002HU6KIAW-2000"}),
                fixture: get(
                    "/services/data/v60.0/query/01gD0000002HU6KIAW-2000",
                    json!({"totalSize": 3, "done": true, "records": [
                        {"attributes": {"type": "Contact"}, "Id": "003D000000QV9n2IAD", "Name": "Rose Gonzalez"}
                    ]}),
                ),
                query: vec![],
                records: vec![("003D000000QV9n2IAD", "Rose Gonzalez")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "accounts",
                json!({}),
                "001D000000IqhSLIAZ",
                get(
                    "/services/data/v60.0/sobjects/Account/001D000000IqhSLIAZ",
                    json!({"attributes": {"type": "Account"}, "Id": "001D000000IqhSLIAZ", "Name": "Edge Communications"}),
                ),
                "Edge Communications",
            ),
            create(
                "accounts",
                json!({}),
                json!({"Name": "Edge Communications", "Industry": "Electronics"}),
                post(
                    "/services/data/v60.0/sobjects/Account",
                    json!({"id": "001D000000IqhSLIAZ", "success": true, "errors": []}),
                ),
                Sent::Json(json!({"Name": "Edge Communications", "Industry": "Electronics"})),
                "001D000000IqhSLIAZ",
            ),
            find_by_id(
                "contacts",
                json!({}),
                "003D000000QV9n2IAD",
                get(
                    "/services/data/v60.0/sobjects/Contact/003D000000QV9n2IAD",
                    json!({"attributes": {"type": "Contact"}, "Id": "003D000000QV9n2IAD", "Name": "Rose Gonzalez",
                        "FirstName": "Rose", "LastName": "Gonzalez"}),
                ),
                "Rose Gonzalez",
            ),
            create(
                "contacts",
                json!({}),
                json!({"FirstName": "Rose", "LastName": "Gonzalez"}),
                post(
                    "/services/data/v60.0/sobjects/Contact",
                    json!({"id": "003D000000QV9n2IAD", "success": true, "errors": []}),
                ),
                Sent::Json(json!({"FirstName": "Rose", "LastName": "Gonzalez"})),
                "003D000000QV9n2IAD",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn google_sheets() {
    let sheet_tabs = get(
        "/v4/spreadsheets/sheet-1",
        json!({"sheets": [
            {"properties": {"sheetId": 0, "title": "Sheet1", "index": 0}},
            {"properties": {"sheetId": 1875, "title": "Totals", "index": 1}}
        ]}),
    );
    let tab = |id, name| {
        find_by_id(
            "sheets",
            json!({"spreadsheetId": "sheet-1"}),
            id,
            sheet_tabs.clone(),
            name,
        )
        .query(vec![("fields", "sheets.properties")])
    };
    run_case(Case {
        key: "google-sheets",
        credentials: json!({"access_token": "{token}", "refresh_token": "r", "expires_in": 3599}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (
            401,
            json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}}),
        ),
        test: get(
            "/drive/v3/about",
            json!({"user": {"emailAddress": "ada@example.com"}}),
        ),
        lists: [
            ListCase {
                collection: "spreadsheets",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/drive/v3/files",
                    json!({"nextPageToken": "tok-2", "files": [
                        {"id": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "name": "Class Data"}
                    ]}),
                ),
                query: vec![(
                    "q",
                    "mimeType='application/vnd.google-apps.spreadsheet' and trashed=false",
                )],
                records: vec![("1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms", "Class Data")],
                cursor: Some("tok-2"),
            },
            ListCase {
                collection: "sheets",
                parameters: json!({"spreadsheetId": "sheet-1"}),
                request: json!({}),
                fixture: sheet_tabs.clone(),
                query: vec![("fields", "sheets.properties")],
                records: vec![("0", "Sheet1"), ("1875", "Totals")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "spreadsheets",
                json!({}),
                "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
                get(
                    "/v4/spreadsheets/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
                    json!({"spreadsheetId": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
                        "properties": {"title": "Class Data"},
                        "sheets": [{"properties": {"sheetId": 0, "title": "Sheet1"}}]}),
                ),
                "Class Data",
            )
            .query(vec![("includeGridData", "false")]),
            create(
                "spreadsheets",
                json!({}),
                json!({"title": "Budget"}),
                post(
                    "/v4/spreadsheets",
                    json!({"spreadsheetId": "new-1", "properties": {"title": "Budget"}}),
                ),
                Sent::Json(json!({"properties": {"title": "Budget"}})),
                "new-1",
            ),
            // A sheet is found among the spreadsheet's tabs by a JSONata filter on
            // its numeric sheetId…
            tab("1875", "Totals"),
            tab("0", "Sheet1"),
            // (an id given as a number works too)
            tab("1875", "Totals").request(json!({"id": 1875})),
            // …and is not found when no tab has that id.
            tab("42", "").expect(Expect::NotFound),
            create(
                "sheets",
                json!({"spreadsheetId": "sheet-1"}),
                json!({"title": "Q3"}),
                post(
                    "/v4/spreadsheets/sheet-1:batchUpdate",
                    json!({"spreadsheetId": "sheet-1", "replies": [
                        {"addSheet": {"properties": {"sheetId": 2024, "title": "Q3", "index": 2}}}
                    ]}),
                ),
                Sent::Json(json!({"requests": [{"addSheet": {"properties": {"title": "Q3"}}}]})),
                "2024",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn linear() {
    run_case(Case {
        key: "linear",
        credentials: bearer_token(),
        auth: ("authorization", "Bearer {token}"),
        rejection: (
            400,
            json!({"errors": [{"message": "Authentication required, not authenticated", "extensions": {"code": "AUTHENTICATION_ERROR"}}]}),
        ),
        test: post("/graphql", json!({"data": {"viewer": {"id": "u-1", "name": "Ada"}}})).body_has("viewer"),
        lists: [
            ListCase {
                collection: "issues",
                parameters: json!({}),
                request: json!({}),
                fixture: post(
                    "/graphql",
                    json!({"data": {"issues": {
                        "nodes": [{"id": "i-1", "identifier": "ENG-1", "title": "Fix login"}],
                        "pageInfo": {"hasNextPage": true, "endCursor": "e-1"}
                    }}}),
                )
                .body_has("issues(first: 50"),
                query: vec![],
                records: vec![("i-1", "Fix login")],
                cursor: Some("e-1"),
            },
            ListCase {
                collection: "teams",
                parameters: json!({}),
                request: json!({"cursor": "t-0"}),
                fixture: post(
                    "/graphql",
                    json!({"data": {"teams": {
                        "nodes": [{"id": "t-1", "name": "Engineering", "key": "ENG"}],
                        "pageInfo": {"hasNextPage": false, "endCursor": "t-1"}
                    }}}),
                )
                .body_has("\"after\":\"t-0\""),
                query: vec![],
                records: vec![("t-1", "Engineering")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "issues",
                json!({}),
                "i-1",
                post(
                    "/graphql",
                    json!({"data": {"issue": {"id": "i-1", "identifier": "ENG-1", "title": "Fix login", "team": {"id": "t-1"}}}}),
                ),
                "Fix login",
            )
            .sent(Sent::Graphql("issue(id: $id)", json!({"id": "i-1"}))),
            create(
                "issues",
                json!({}),
                json!({"title": "Fix login", "teamId": "t-1", "priority": 2}),
                post(
                    "/graphql",
                    json!({"data": {"issueCreate": {"success": true, "issue": {"id": "i-2"}}}}),
                ),
                Sent::Graphql(
                    "mutation IssueCreate($input: IssueCreateInput!)",
                    json!({"input": {"title": "Fix login", "teamId": "t-1", "priority": 2}}),
                ),
                "i-2",
            ),
            find_by_id(
                "teams",
                json!({}),
                "t-1",
                post(
                    "/graphql",
                    json!({"data": {"team": {"id": "t-1", "name": "Engineering", "key": "ENG"}}}),
                ),
                "Engineering",
            )
            .sent(Sent::Graphql("team(id: $id)", json!({"id": "t-1"}))),
        ],
    })
    .await;
}

#[tokio::test]
async fn jira() {
    run_case(Case {
        key: "jira",
        credentials: json!({"access_token": "{token}", "cloudId": "cloud-1"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"code": 401, "message": "Unauthorized"})),
        test: get(
            "/ex/jira/cloud-1/rest/api/3/myself",
            json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"}),
        ),
        lists: [
            ListCase {
                collection: "issues",
                parameters: json!({"jql": "project = ENG"}),
                request: json!({}),
                fixture: get(
                    "/ex/jira/cloud-1/rest/api/3/search/jql",
                    json!({"issues": [
                        {"id": "10002", "key": "ENG-3", "fields": {"summary": "Crash on start"}}
                    ], "nextPageToken": "npt-2", "isLast": false}),
                ),
                query: vec![("jql", "project = ENG"), ("maxResults", "100")],
                records: vec![("10002", "ENG-3 Crash on start")],
                cursor: Some("npt-2"),
            },
            ListCase {
                collection: "projects",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/ex/jira/cloud-1/rest/api/3/project/search",
                    json!({"startAt": 0, "maxResults": 50, "total": 51, "isLast": false, "values": [
                        {"id": "10000", "key": "ENG", "name": "Engineering"}
                    ]}),
                ),
                query: vec![("startAt", "0"), ("maxResults", "50")],
                records: vec![("10000", "Engineering")],
                cursor: Some("50"),
            },
        ],
        methods: vec![
            find_by_id(
                "issues",
                json!({}),
                "10002",
                get(
                    "/ex/jira/cloud-1/rest/api/3/issue/10002",
                    json!({"id": "10002", "key": "ENG-3", "fields": {"summary": "Crash on start"}}),
                ),
                "ENG-3 Crash on start",
            )
            .query(vec![("fields", "summary,status,issuetype,project,created,updated")]),
            create(
                "issues",
                json!({}),
                json!({"summary": "Crash on start", "projectKey": "ENG", "description": "It crashes."}),
                post(
                    "/ex/jira/cloud-1/rest/api/3/issue",
                    json!({"id": "10002", "key": "ENG-3", "self": "https://api.atlassian.com/ex/jira/cloud-1/rest/api/3/issue/10002"}),
                ),
                Sent::Json(json!({"fields": {
                    "project": {"key": "ENG"},
                    "summary": "Crash on start",
                    "issuetype": {"name": "Task"},
                    "description": {"type": "doc", "version": 1, "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "It crashes."}]}
                    ]}
                }})),
                "10002",
            ),
            // Without a description none is sent (a create screen may lack the field).
            create(
                "issues",
                json!({}),
                json!({"summary": "Crash on exit", "projectKey": "ENG", "issueType": "Bug"}),
                post("/ex/jira/cloud-1/rest/api/3/issue", json!({"id": "10003", "key": "ENG-4"})),
                Sent::Json(json!({"fields": {
                    "project": {"key": "ENG"},
                    "summary": "Crash on exit",
                    "issuetype": {"name": "Bug"}
                }})),
                "10003",
            ),
            find_by_id(
                "projects",
                json!({}),
                "10000",
                get(
                    "/ex/jira/cloud-1/rest/api/3/project/10000",
                    json!({"id": "10000", "key": "ENG", "name": "Engineering"}),
                ),
                "Engineering",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn jira_keeps_the_cloud_id_of_the_first_accessible_site() {
    let api = MockApi {
        auth: ("authorization", format!("Bearer {TOKEN}")),
        rejection: unauthorized(),
        fixtures: Arc::new(Mutex::new(vec![get(
            "/oauth/token/accessible-resources",
            json!([{"id": "cloud-7", "url": "https://acme.atlassian.net", "name": "acme", "scopes": []}]),
        )])),
        requests: Arc::default(),
    };
    let base = mock::serve(Router::new().fallback(answer).with_state(api)).await;
    let runner = FunctionRunner::new(connector("jira"), crate::mock::outbound())
        .with_connector_parameters(json!({"apiBaseUri": base}));
    let response = json!({"access_token": TOKEN, "refresh_token": "r", "expires_in": 3600});
    let mut input = response.clone();
    input["tokenResponse"] = response;
    input["connectorParameters"] = json!({"apiBaseUri": base});
    let credentials = runner
        .run_auth_function(AuthFunction::GetCredentialsFromAccessTokenResponse, input)
        .await
        .unwrap()
        .unwrap()
        .output;
    assert_eq!(credentials["cloudId"], "cloud-7");
    assert_eq!(credentials["siteUrl"], "https://acme.atlassian.net");
    assert_eq!(credentials["access_token"], TOKEN);
    assert_eq!(credentials["refresh_token"], "r");
}

#[tokio::test]
async fn zendesk() {
    run_case(Case {
        key: "zendesk",
        credentials: json!({"access_token": "{token}", "subdomain": "acme"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"error": "invalid_token", "error_description": "The access token provided is expired, revoked, malformed or invalid"})),
        test: get("/api/v2/users/me", json!({"user": {"id": 35436, "name": "Agent"}})),
        lists: [
            ListCase {
                collection: "tickets",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/api/v2/tickets",
                    json!({"tickets": [{"id": 35436, "subject": "Help, my printer is on fire!"}],
                        "meta": {"has_more": true, "after_cursor": "xxx", "before_cursor": "yyy"}}),
                ),
                query: vec![("page[size]", "100")],
                records: vec![("35436", "Help, my printer is on fire!")],
                cursor: Some("xxx"),
            },
            ListCase {
                collection: "users",
                parameters: json!({}),
                request: json!({"cursor": "xxx"}),
                fixture: get(
                    "/api/v2/users",
                    json!({"users": [{"id": 223443, "name": "Johnny Agent"}],
                        "meta": {"has_more": false, "after_cursor": "zzz"}}),
                ),
                query: vec![("page[after]", "xxx")],
                records: vec![("223443", "Johnny Agent")],
                cursor: None,
            },
        ],
        methods: vec![
            find_by_id(
                "tickets",
                json!({}),
                "35436",
                get(
                    "/api/v2/tickets/35436",
                    json!({"ticket": {"id": 35436, "subject": "Help, my printer is on fire!"}}),
                ),
                "Help, my printer is on fire!",
            ),
            create(
                "tickets",
                json!({}),
                json!({"subject": "Printer", "description": "It is on fire.", "priority": "urgent"}),
                post("/api/v2/tickets", json!({"ticket": {"id": 35437, "subject": "Printer"}})),
                Sent::Json(json!({"ticket": {
                    "subject": "Printer", "comment": {"body": "It is on fire."}, "priority": "urgent"
                }})),
                "35437",
            ),
            find_by_id(
                "users",
                json!({}),
                "223443",
                get(
                    "/api/v2/users/223443",
                    json!({"user": {"id": 223443, "name": "Johnny Agent"}}),
                ),
                "Johnny Agent",
            ),
            create(
                "users",
                json!({}),
                json!({"name": "Roger Wilco", "email": "roge@example.org"}),
                post("/api/v2/users", json!({"user": {"id": 9873843, "name": "Roger Wilco"}})),
                Sent::Json(json!({"user": {"name": "Roger Wilco", "email": "roge@example.org"}})),
                "9873843",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn zendesk_credentials_keep_the_subdomain() {
    let runner = FunctionRunner::new(connector("zendesk"), crate::mock::outbound());
    let response = json!({"access_token": TOKEN, "token_type": "bearer", "scope": "read write"});
    let input = json!({"access_token": TOKEN, "tokenResponse": response, "connectionInput": {"subdomain": "acme"}});
    let credentials = runner
        .run_auth_function(AuthFunction::GetCredentialsFromAccessTokenResponse, input)
        .await
        .unwrap()
        .unwrap()
        .output;
    assert_eq!(
        credentials,
        json!({"access_token": TOKEN, "token_type": "bearer", "scope": "read write", "subdomain": "acme"})
    );
    // Without an apiBaseUri the client goes to the customer's own subdomain.
    assert_eq!(
        api_url("zendesk", credentials, "/tickets").await,
        "https://acme.zendesk.com/api/v2/tickets"
    );
}

#[tokio::test]
async fn intercom() {
    run_case(Case {
        key: "intercom",
        credentials: json!({"access_token": "{token}", "token_type": "Bearer"}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"type": "error.list", "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]})),
        test: get("/me", json!({"type": "admin", "id": "991267460", "email": "admin@example.com"})),
        lists: [
            ListCase {
                collection: "contacts",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/contacts",
                    json!({"type": "list", "data": [
                        {"type": "contact", "id": "6657add46abd0167d9419cd2", "name": "Joe Example", "email": "joe@example.com", "created_at": 1716970964, "updated_at": 1716970965}
                    ], "pages": {"type": "pages", "next": {"per_page": 150, "starting_after": "WzE3MTk0OTM3NTcuMCw"}}}),
                ),
                query: vec![("per_page", "150")],
                records: vec![("6657add46abd0167d9419cd2", "Joe Example")],
                cursor: Some("WzE3MTk0OTM3NTcuMCw"),
            },
            ListCase {
                collection: "companies",
                parameters: json!({}),
                request: json!({}),
                fixture: get(
                    "/companies/scroll",
                    json!({"type": "list", "data": [
                        {"type": "company", "id": "6657add66abd0167d9419cd5", "name": "Acme", "company_id": "acme-1", "created_at": 1716970966}
                    ], "pages": null, "total_count": null, "scroll_param": "25b649f7-4d33-4ef6-88f5-60e5b8244309"}),
                ),
                query: vec![],
                records: vec![("6657add66abd0167d9419cd5", "Acme")],
                cursor: Some("25b649f7-4d33-4ef6-88f5-60e5b8244309"),
            },
        ],
        methods: vec![
            find_by_id(
                "contacts",
                json!({}),
                "6657add46abd0167d9419cd2",
                get(
                    "/contacts/6657add46abd0167d9419cd2",
                    json!({"type": "contact", "id": "6657add46abd0167d9419cd2", "email": "joe@example.com"}),
                ),
                "joe@example.com",
            ),
            create(
                "contacts",
                json!({}),
                json!({"email": "joe@example.com", "name": "Joe Example"}),
                post("/contacts", json!({"type": "contact", "id": "6657add46abd0167d9419cd2"})),
                Sent::Json(json!({"role": "user", "email": "joe@example.com", "name": "Joe Example"})),
                "6657add46abd0167d9419cd2",
            ),
            find_by_id(
                "companies",
                json!({}),
                "6657add66abd0167d9419cd5",
                get(
                    "/companies/6657add66abd0167d9419cd5",
                    json!({"type": "company", "id": "6657add66abd0167d9419cd5", "name": "Acme", "company_id": "acme-1"}),
                ),
                "Acme",
            ),
            create(
                "companies",
                json!({}),
                json!({"name": "Acme", "companyId": "acme-1", "size": 50}),
                post("/companies", json!({"type": "company", "id": "6657add66abd0167d9419cd5"})),
                Sent::Json(json!({"name": "Acme", "company_id": "acme-1", "size": 50})),
                "6657add66abd0167d9419cd5",
            ),
        ],
    })
    .await;
}

#[tokio::test]
async fn airtable() {
    let base_tables = get(
        "/v0/meta/bases/appLkNDICXNqxSDhG/tables",
        json!({"tables": [
            {"id": "tbltp8DGLhqbUmjK1", "name": "Apartments", "primaryFieldId": "fld1"},
            {"id": "tblK6MZHez0ZvBChZ", "name": "Districts", "primaryFieldId": "fld2"}
        ]}),
    );
    run_case(Case {
        key: "airtable",
        credentials: json!({"access_token": "{token}", "refresh_token": "r", "expires_in": 3600}),
        auth: ("authorization", "Bearer {token}"),
        rejection: (401, json!({"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}})),
        test: get("/v0/meta/whoami", json!({"id": "usrL2PNC5o3H4lBEi", "scopes": []})),
        lists: [
            ListCase {
                collection: "records",
                parameters: json!({"baseId": "appLkNDICXNqxSDhG", "tableIdOrName": "Tasks"}),
                request: json!({}),
                fixture: get(
                    "/v0/appLkNDICXNqxSDhG/Tasks",
                    json!({"records": [
                        {"id": "rec560UJdUtocSouk", "createdTime": "2022-09-12T21:03:48.000Z", "fields": {"Name": "Write docs"}}
                    ], "offset": "itrHv4Vj8CSz1Ux5m/rec560UJdUtocSouk"}),
                ),
                query: vec![("pageSize", "100")],
                records: vec![("rec560UJdUtocSouk", "Write docs")],
                cursor: Some("itrHv4Vj8CSz1Ux5m/rec560UJdUtocSouk"),
            },
            ListCase {
                collection: "tables",
                parameters: json!({"baseId": "appLkNDICXNqxSDhG"}),
                request: json!({}),
                fixture: base_tables.clone(),
                query: vec![],
                records: vec![("tbltp8DGLhqbUmjK1", "Apartments"), ("tblK6MZHez0ZvBChZ", "Districts")],
                cursor: None,
            },
        ],
        methods: vec![
            // The record's name is the field `nameField` names.
            find_by_id(
                "records",
                json!({"baseId": "appLkNDICXNqxSDhG", "tableIdOrName": "Tasks", "nameField": "Title"}),
                "rec560UJdUtocSouk",
                get(
                    "/v0/appLkNDICXNqxSDhG/Tasks/rec560UJdUtocSouk",
                    json!({"id": "rec560UJdUtocSouk", "createdTime": "2022-09-12T21:03:48.000Z",
                        "fields": {"Title": "Write docs", "Name": "not this"}}),
                ),
                "Write docs",
            ),
            create(
                "records",
                json!({"baseId": "appLkNDICXNqxSDhG", "tableIdOrName": "Tasks"}),
                json!({"Name": "Write docs", "Status": "Todo"}),
                post(
                    "/v0/appLkNDICXNqxSDhG/Tasks",
                    json!({"id": "recNew1", "createdTime": "2022-09-12T21:03:48.000Z", "fields": {"Name": "Write docs"}}),
                ),
                Sent::Json(json!({"fields": {"Name": "Write docs", "Status": "Todo"}, "typecast": true})),
                "recNew1",
            ),
            // A table is found in the base schema by a JSONata filter on its id…
            find_by_id("tables", json!({"baseId": "appLkNDICXNqxSDhG"}), "tblK6MZHez0ZvBChZ", base_tables.clone(), "Districts"),
            // …and is not found when the base has no such table.
            find_by_id("tables", json!({"baseId": "appLkNDICXNqxSDhG"}), "tblNope", base_tables, "")
                .expect(Expect::NotFound),
            create(
                "tables",
                json!({"baseId": "appLkNDICXNqxSDhG"}),
                json!({"name": "Apartments", "description": "Units to rent"}),
                post(
                    "/v0/meta/bases/appLkNDICXNqxSDhG/tables",
                    json!({"id": "tblNew1", "name": "Apartments", "primaryFieldId": "fld1"}),
                ),
                Sent::Json(json!({
                    "name": "Apartments",
                    "description": "Units to rent",
                    "fields": [{"name": "Name", "type": "singleLineText"}]
                })),
                "tblNew1",
            ),
        ],
    })
    .await;
}

/// Intercom hosts EU and Australian workspaces on their own app and API hosts; the
/// connection's `region` picks the consent page, the token endpoint and the API, and
/// stays with the credentials so later calls go to the same region.
#[tokio::test]
async fn intercom_region_picks_every_host() {
    let hosts = [
        (None, "https://app.intercom.com", "https://api.intercom.io"),
        (
            Some("us"),
            "https://app.intercom.com",
            "https://api.intercom.io",
        ),
        (
            Some("eu"),
            "https://app.eu.intercom.com",
            "https://api.eu.intercom.io",
        ),
        (
            Some("au"),
            "https://app.au.intercom.com",
            "https://api.au.intercom.io",
        ),
    ];
    for (region, app, api) in hosts {
        let input = match region {
            Some(region) => json!({ "region": region }),
            None => json!({}),
        };
        let runner = FunctionRunner::new(connector("intercom"), crate::mock::outbound())
            .with_connector_parameters(json!({"clientId": "cid", "clientSecret": "cs"}));
        let config = runner
            .run_auth_function(
                AuthFunction::GetOAuthConfig,
                json!({"connectionInput": input, "redirectUri": "https://engine/cb", "state": "s"}),
            )
            .await
            .unwrap()
            .unwrap()
            .output;
        assert_eq!(config["authorizeUri"], format!("{app}/oauth"), "{region:?}");
        assert_eq!(
            config["tokenUri"],
            format!("{api}/auth/eagle/token"),
            "{region:?}"
        );
        let response = json!({"access_token": TOKEN, "token_type": "Bearer"});
        let credentials = runner
            .run_auth_function(
                AuthFunction::GetCredentialsFromAccessTokenResponse,
                json!({"access_token": TOKEN, "tokenResponse": response, "connectionInput": input}),
            )
            .await
            .unwrap()
            .unwrap()
            .output;
        assert_eq!(credentials["region"], region.unwrap_or("us"), "{region:?}");
        assert_eq!(
            api_url("intercom", credentials, "/contacts").await,
            format!("{api}/contacts"),
            "{region:?}"
        );
    }
}

/// Slack's default bot scopes cover what the collections do: `conversations.create`
/// with `is_private` needs `groups:write`, and users.list returns emails only with
/// `users:read.email`.
#[tokio::test]
async fn slack_default_scopes_cover_private_channels_and_emails() {
    let runner = FunctionRunner::new(connector("slack"), crate::mock::outbound())
        .with_connector_parameters(json!({"clientId": "cid", "clientSecret": "cs"}));
    let config = runner
        .run_auth_function(
            AuthFunction::GetOAuthConfig,
            json!({"connectionInput": {}, "redirectUri": "https://engine/cb", "state": "s"}),
        )
        .await
        .unwrap()
        .unwrap()
        .output;
    let scopes: Vec<&str> = config["extra"]["scope"]
        .as_str()
        .unwrap()
        .split(',')
        .collect();
    for needed in [
        "channels:read",
        "groups:read",
        "channels:manage",
        "groups:write",
        "users:read",
        "users:read.email",
    ] {
        assert!(scopes.contains(&needed), "{needed} missing from {scopes:?}");
    }
}
