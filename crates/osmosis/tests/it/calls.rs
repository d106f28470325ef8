//! Calls through a connection over HTTP against a mock API: operations, every data
//! collection method (with pagination and collection parameters), `POST /act` with
//! `api`, the streaming proxy (large bodies, header stripping), and the external API
//! logs every call leaves — masked, and each customer seeing only its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::common::*;

const API_KEY: &str = "sk-live-7c1e9a55d0b34f2e8a61";
/// The size of the large proxied body.
const BIG: usize = 20 * 1024 * 1024;

#[derive(Default)]
struct Mock {
    contacts: Mutex<BTreeMap<String, Value>>,
    /// Released by the test once it has the first chunk of `/slow` through the proxy.
    release: Notify,
    seen_headers: Mutex<Vec<(String, String)>>,
}

type S = State<Arc<Mock>>;

fn authorised(headers: &HeaderMap) -> bool {
    headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(API_KEY)
}

macro_rules! guard {
    ($h:expr) => {
        if !authorised(&$h) {
            return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad key"}))).into_response();
        }
    };
}

async fn me(headers: HeaderMap) -> axum::response::Response {
    guard!(headers);
    Json(json!({"id": "u-1", "name": "Ada", "echo": API_KEY})).into_response()
}

/// Pages of two: `{items, next}`; `q` searches names, `email` matches exactly.
async fn list_contacts(
    State(m): S,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> axum::response::Response {
    guard!(headers);
    let all: Vec<Value> = m
        .contacts
        .lock()
        .unwrap()
        .values()
        .filter(|c| {
            q.get("q").is_none_or(|s| {
                c["full_name"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .contains(&s.to_lowercase())
            }) && q.get("email").is_none_or(|e| c["email"] == e.as_str())
        })
        .cloned()
        .collect();
    let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(start).take(2).cloned().collect();
    let next = (start + 2 < all.len()).then(|| (start + 2).to_string());
    Json(json!({"items": page, "next": next})).into_response()
}

async fn create_contact(
    State(m): S,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    guard!(headers);
    let mut contacts = m.contacts.lock().unwrap();
    let id = (contacts.len() + 100).to_string();
    let mut c = body.clone();
    c["id"] = json!(id);
    contacts.insert(id.clone(), c);
    (StatusCode::CREATED, Json(json!({"id": id}))).into_response()
}

async fn one_contact(
    State(m): S,
    method: axum::http::Method,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: String,
) -> axum::response::Response {
    guard!(headers);
    let mut contacts = m.contacts.lock().unwrap();
    if !contacts.contains_key(&id) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "no such contact"})),
        )
            .into_response();
    }
    match method.as_str() {
        "GET" => Json(contacts[&id].clone()).into_response(),
        "PATCH" => {
            let patch: Value = serde_json::from_str(&body).unwrap();
            let c = contacts.get_mut(&id).unwrap();
            for (k, v) in patch.as_object().unwrap() {
                c[k] = v.clone();
            }
            Json(json!({"ok": true})).into_response()
        }
        "DELETE" => {
            contacts.remove(&id);
            StatusCode::NO_CONTENT.into_response()
        }
        _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
    }
}

async fn deals(
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> axum::response::Response {
    guard!(headers);
    let pipeline = q.get("pipeline").cloned().unwrap_or_default();
    Json(json!([{"id": 1, "title": format!("deal in {pipeline}")}])).into_response()
}

async fn echo(
    State(m): S,
    method: axum::http::Method,
    headers: HeaderMap,
    Path(rest): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    body: String,
) -> axum::response::Response {
    guard!(headers);
    *m.seen_headers.lock().unwrap() = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (
        StatusCode::CREATED,
        [
            ("x-upstream", "yes"),
            ("set-cookie", "session=upstream-secret"),
        ],
        Json(json!({"method": method.as_str(), "path": rest, "query": query, "body": body})),
    )
        .into_response()
}

async fn status(Path(code): Path<u16>) -> impl IntoResponse {
    (
        StatusCode::from_u16(code).unwrap(),
        Json(json!({"message": "as asked", "code": code})),
    )
}

/// 20 MB of a repeating pattern, in 64 KB chunks.
async fn big(headers: HeaderMap) -> axum::response::Response {
    guard!(headers);
    let chunks = (0..BIG / 65536).map(|i| {
        let chunk: Vec<u8> = (0..65536).map(|j| ((i * 65536 + j) % 251) as u8).collect();
        Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk))
    });
    (
        [("content-type", "application/octet-stream")],
        Body::from_stream(futures::stream::iter(chunks)),
    )
        .into_response()
}

/// One chunk, then the rest only once the test has seen the first through the proxy.
async fn slow(State(m): S) -> axum::response::Response {
    let first = futures::stream::once(async {
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"first;"))
    });
    let rest = futures::stream::once(async move {
        m.release.notified().await;
        Ok::<_, std::io::Error>(axum::body::Bytes::from_static(b"rest"))
    });
    Body::from_stream(futures::StreamExt::chain(first, rest)).into_response()
}

async fn mock_api() -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock::default());
    {
        let mut contacts = mock.contacts.lock().unwrap();
        for i in 1..=5 {
            contacts.insert(
                i.to_string(),
                json!({"id": i.to_string(), "full_name": format!("Person {i}"), "email": format!("p{i}@x.io")}),
            );
        }
    }
    let app = Router::new()
        .route("/me", get(me))
        .route("/contacts", get(list_contacts).post(create_contact))
        .route("/contacts/{id}", any(one_contact))
        .route("/deals", get(deals))
        .route("/echo/{*rest}", any(echo))
        .route("/status/{code}", any(status))
        .route("/big", get(big))
        .route("/slow", get(slow))
        .with_state(Arc::clone(&mock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, mock)
}

fn rest(path: &str, method: &str, request: Value, response: Value) -> Value {
    let mut mapping = json!({"path": path, "method": method});
    if !request.is_null() {
        mapping["requestMapping"] = request;
    }
    if !response.is_null() {
        mapping["responseMapping"] = response;
    }
    json!({"type": "rest-api-mapping", "mapping": mapping})
}

/// A client-credentials connector with two operations and two collections.
fn connector(base: &str) -> Value {
    let v = |p: &str| json!({"$var": p});
    json!({
        "key": "crm",
        "name": "CRM",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": base,
            "headers": {"x-api-key": v("$.credentials.apiKey")}
        }},
        "test": rest("/me", "GET", Value::Null, Value::Null),
        "operations": [
            {"key": "whoami", "name": "Who am I", "inputSchema": {"type": "object"},
             "run": rest("/me", "GET", Value::Null, json!({"name": v("$.response.data.name")}))},
            {"key": "greet", "name": "Greet",
             "run": {"type": "mapping", "mapping": {"$tpl": {"template": "hi {n}", "values": {"n": v("$.input.name")}}}}}
        ],
        "data": {
            "contacts": {
                "name": "Contacts",
                "parametersSchema": {"type": "object", "properties": {"listId": {"type": "string"}}},
                "list": rest("/contacts", "GET",
                    json!({"query": {"cursor": v("$.cursor")}}),
                    json!({"records": v("$.response.data.items"), "cursor": v("$.response.data.next")})),
                "search": rest("/contacts", "GET",
                    json!({"query": {"q": v("$.query")}}),
                    json!({"records": v("$.response.data.items")})),
                "match": {"type": "javascript", "code":
                    "export default async ({apiClient, input}) => { const r = await apiClient.get('/contacts', {email: input.query.email}); return {record: r.items[0]} }"},
                "findById": rest("/contacts/{id}", "GET", json!({"pathParameters": {"id": v("$.id")}}), Value::Null),
                "create": rest("/contacts", "POST", json!({"data": v("$.fields")}), json!({"id": v("$.response.data.id")})),
                "update": rest("/contacts/{id}", "PATCH",
                    json!({"pathParameters": {"id": v("$.id")}, "data": v("$.fields")}), Value::Null),
                "delete": rest("/contacts/{id}", "DELETE", json!({"pathParameters": {"id": v("$.id")}}), Value::Null),
                "recordFromApi": {"type": "mapping", "mapping": {
                    "id": v("$.id"), "name": v("$.full_name"),
                    "fields": {"email": v("$.email"), "name": v("$.full_name"), "list": v("$.parameters.listId")}}},
                "fieldsToApi": {"type": "mapping", "mapping": {"full_name": v("$.fields.name"), "email": v("$.fields.email")}}
            },
            "deals": {
                "name": "Deals",
                "list": rest("/deals", "GET", json!({"query": {"pipeline": v("$.parameters.pipeline")}}), Value::Null)
            }
        }
    })
}

struct Fixture {
    s: Server,
    mock: Arc<Mock>,
    alice: String,
    bob: String,
    conn: String,
}

async fn fixture() -> Fixture {
    let s = Server::start().await;
    let (base, mock) = mock_api().await;
    let c = s.create("connectors", connector(&base)).await;
    let integration = s
        .create(
            "integrations",
            json!({"key": "crm", "name": "CRM", "connectorId": c["id"]}),
        )
        .await;
    let (alice, bob) = (s.customer("alice"), s.customer("bob"));
    let (status, conn) = s
        .post(
            "/connections",
            &alice,
            json!({"integrationId": integration["id"], "name": "Alice CRM", "input": {"apiKey": API_KEY}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let conn = conn["id"].as_str().unwrap().to_owned();
    Fixture {
        s,
        mock,
        alice,
        bob,
        conn,
    }
}

/// The logs `token` sees, once at least `n` are written (writes are asynchronous).
async fn logs_at_least(s: &Server, token: &str, query: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let (status, page) = s.get(&format!("/external-api-logs{query}"), token).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {n} logs for {query}");
}

#[tokio::test]
async fn operations_run_through_the_connection() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let (status, ops) = s.get(&format!("/connections/{c}/operations"), a).await;
    assert_eq!(status, 200, "{ops}");
    let keys: Vec<&str> = ops
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["whoami", "greet"]);
    let (status, op) = s
        .get(&format!("/connections/{c}/operations/whoami"), a)
        .await;
    assert_eq!(status, 200, "{op}");
    assert_eq!(op["name"], "Who am I");
    assert_eq!(op["inputSchema"], json!({"type": "object"}));

    let (status, run) = s
        .post(
            &format!("/connections/{c}/operations/whoami/run"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["output"], json!({"name": "Ada"}));
    let (_, run) = s
        .post(
            &format!("/connections/{c}/operations/greet/run"),
            a,
            json!({"input": {"name": "Bo"}}),
        )
        .await;
    assert_eq!(run["output"], "hi Bo");

    let missing = s.get(&format!("/connections/{c}/operations/nope"), a).await;
    assert_error(&missing, 404, "bad_request", "not_found");
    assert!(missing.1["message"].as_str().unwrap().contains("nope"));
    let missing = s
        .post(
            &format!("/connections/{c}/operations/nope/run"),
            a,
            json!({}),
        )
        .await;
    assert_error(&missing, 404, "bad_request", "not_found");
    assert!(missing.1["message"].as_str().unwrap().contains("nope"));
    f.s.finish().await;
}

#[tokio::test]
async fn every_data_collection_method_over_http() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let (status, spec) = s
        .get(&format!("/connections/{c}/data/contacts?listId=L1"), a)
        .await;
    assert_eq!(status, 200, "{spec}");
    assert_eq!(spec["type"], "collection");
    assert_eq!(spec["name"], "Contacts");
    assert!(spec.get("recordFromApi").is_none(), "{spec}");
    assert!(spec["list"].get("mapping").is_none(), "{spec}");
    let (_, all) = s.get(&format!("/connections/{c}/data"), a).await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");

    // list, page by page, with the collection parameter from the query string.
    let mut ids = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    // A cursor that never ends stops at ten pages and fails the count below.
    while pages < 10 {
        let (status, page) = s
            .post(
                &format!("/connections/{c}/data/contacts/list?listId=L1"),
                a,
                json!({"cursor": cursor}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for r in page["records"].as_array().unwrap() {
            assert_eq!(r["fields"]["list"], "L1", "{r}");
            ids.push(r["id"].as_str().unwrap().to_owned());
        }
        match page.get("cursor") {
            Some(next) => {
                assert!(next.is_string(), "{page}");
                cursor = next.clone()
            }
            None => break,
        }
    }
    assert_eq!(ids, ["1", "2", "3", "4", "5"]);
    assert_eq!(pages, 3);
    // Body parameters override query ones.
    let (_, page) = s
        .post(
            &format!("/connections/{c}/data/contacts/list?listId=L1"),
            a,
            json!({"parameters": {"listId": "L2"}}),
        )
        .await;
    assert_eq!(page["records"][0]["fields"]["list"], "L2", "{page}");

    let (status, found) = s
        .post(
            &format!("/connections/{c}/data/contacts/find-by-id"),
            a,
            json!({"id": "3"}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["record"]["name"], "Person 3");
    assert_eq!(found["record"]["rawFields"]["email"], "p3@x.io");

    let (_, searched) = s
        .post(
            &format!("/connections/{c}/data/contacts/search"),
            a,
            json!({"query": "person 4"}),
        )
        .await;
    assert_eq!(searched["records"][0]["id"], "4", "{searched}");

    let (status, matched) = s
        .post(
            &format!("/connections/{c}/data/contacts/match"),
            a,
            json!({"query": {"email": "p2@x.io"}}),
        )
        .await;
    assert_eq!(status, 200, "{matched}");
    assert_eq!(matched["record"]["id"], "2", "{matched}");
    // Nothing matches: the function returns `{record: undefined}`, which is no record.
    let (status, unmatched) = s
        .post(
            &format!("/connections/{c}/data/contacts/match"),
            a,
            json!({"query": {"email": "nobody@x.io"}}),
        )
        .await;
    assert_eq!(status, 200, "{unmatched}");
    assert_eq!(unmatched, json!({}), "{unmatched}");
    // Without a query the connector's own code throws: its error, not a server error.
    let thrown = s
        .post(
            &format!("/connections/{c}/data/contacts/match"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(thrown.0, 400, "{}", thrown.1);
    assert_eq!(thrown.1["type"], "custom_code", "{}", thrown.1);

    let (status, created) = s
        .post(
            &format!("/connections/{c}/data/contacts/create"),
            a,
            json!({"fields": {"name": "Grace", "email": "g@x.io"}}),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    let new_id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created, json!({"id": new_id}));
    assert_eq!(
        f.mock.contacts.lock().unwrap()[&new_id]["full_name"],
        "Grace"
    );

    let (status, updated) = s
        .post(
            &format!("/connections/{c}/data/contacts/update"),
            a,
            json!({"id": new_id, "fields": {"name": "Grace H", "email": "g@x.io"}}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated, json!({"id": new_id}));
    assert_eq!(
        f.mock.contacts.lock().unwrap()[&new_id]["full_name"],
        "Grace H"
    );
    // Without the `id` its path needs, the request cannot be built: the caller's
    // mistake, not the server's.
    let no_id = s
        .post(
            &format!("/connections/{c}/data/contacts/update"),
            a,
            json!({"fields": {"name": "Nobody"}}),
        )
        .await;
    assert_error(&no_id, 400, "bad_request", "invalid_body");

    let (status, deleted) = s
        .post(
            &format!("/connections/{c}/data/contacts/delete"),
            a,
            json!({"id": new_id}),
        )
        .await;
    assert_eq!(status, 204, "{deleted}");
    assert_eq!(deleted, Value::Null, "delete answers nothing");
    assert!(!f.mock.contacts.lock().unwrap().contains_key(&new_id));

    // The second collection, parameters from the query string only.
    let (status, deals) = s
        .post(
            &format!("/connections/{c}/data/deals/list?pipeline=sales"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{deals}");
    assert_eq!(deals["records"][0]["title"], "deal in sales");
    assert_eq!(deals["records"][0]["id"], "1");

    // Undefined method, unknown method, unknown collection.
    let find = s
        .post(
            &format!("/connections/{c}/data/deals/create"),
            a,
            json!({"fields": {}}),
        )
        .await;
    assert_error(&find, 400, "bad_request", "not_supported");
    assert!(
        find.1["message"].as_str().unwrap().contains("create"),
        "{}",
        find.1
    );
    let bad = s
        .post(
            &format!("/connections/{c}/data/contacts/explode"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(bad.0, 400, "{}", bad.1);
    assert!(bad.1["message"].as_str().unwrap().contains("explode"));
    let missing = s
        .post(&format!("/connections/{c}/data/tickets/list"), a, json!({}))
        .await;
    assert_error(&missing, 404, "bad_request", "not_found");
    assert!(missing.1["message"].as_str().unwrap().contains("tickets"));
    let missing = s.get(&format!("/connections/{c}/data/tickets"), a).await;
    assert_error(&missing, 404, "bad_request", "not_found");
    f.s.finish().await;
}

#[tokio::test]
async fn proxy_streams_and_strips_headers() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);

    // Headers: the caller's credentials and hop-by-hop ones stay behind; the
    // connection's key goes on; the API's cookies do not come back.
    let resp = s
        .http
        .post(format!("{}/connections/{c}/proxy/echo/items?x=1", s.url))
        .bearer_auth(a)
        .header("cookie", "osmosis=session")
        .header("x-custom", "kept")
        .header("te", "trailers")
        .header("content-type", "application/json")
        .body(r#"{"n":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-upstream"], "yes");
    assert!(resp.headers().get("set-cookie").is_none());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["body"], json!({"n": 1}));
    assert_eq!(body["query"], json!([["x", "1"]]));
    let seen = f.mock.seen_headers.lock().unwrap().clone();
    let seen = |n: &str| seen.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(seen("x-custom").as_deref(), Some("kept"));
    assert_eq!(seen("x-api-key").as_deref(), Some(API_KEY));
    assert_eq!(seen("cookie"), None);
    assert_eq!(seen("authorization"), None);
    assert_eq!(seen("te"), None);

    // A large body arrives whole.
    let resp = s
        .http
        .get(format!("{}/connections/{c}/proxy/big", s.url))
        .bearer_auth(a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.len(), BIG);
    assert!(bytes.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));

    // Streamed: the first chunk arrives before the API has sent the rest.
    let mut resp = s
        .http
        .get(format!("{}/connections/{c}/proxy/slow", s.url))
        .bearer_auth(a)
        .send()
        .await
        .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
        .await
        .expect("the first chunk is not held back")
        .unwrap()
        .unwrap();
    assert_eq!(&first[..], b"first;");
    f.mock.release.notify_one();
    let rest = resp.chunk().await.unwrap().unwrap();
    assert_eq!(&rest[..], b"rest");

    // Upstream errors come back as the API said them, 401 included.
    let (status, failed) = s
        .get(&format!("/connections/{c}/proxy/status/404"), a)
        .await;
    assert_eq!(status, 404, "{failed}");
    assert_eq!(failed["message"], "as asked");
    let (status, failed) = s
        .get(&format!("/connections/{c}/proxy/status/401"), a)
        .await;
    assert_eq!(status, 401, "{failed}");
    f.s.finish().await;
}

#[tokio::test]
async fn act_sends_api_requests_through_the_resolved_connection() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let (status, out) = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "api": {"method": "POST", "path": "/echo/a", "body": {"k": 1}, "query": {"n": 2}, "headers": {"x-h": "v"}}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["output"]["method"], "POST");
    assert_eq!(out["output"]["body"], json!({"k": 1}));
    assert_eq!(out["output"]["query"], json!([["n", "2"]]));
    assert_eq!(
        f.mock
            .seen_headers
            .lock()
            .unwrap()
            .iter()
            .find(|(k, _)| k == "x-h")
            .unwrap()
            .1,
        "v"
    );

    // `url`/`data` are `path`/`body`; the integration's only connection is found.
    let (status, out) = s
        .post(
            "/act",
            a,
            json!({"integrationKey": "crm", "api": {"method": "put", "url": "/echo/b", "data": "text"}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["output"]["method"], "PUT");
    assert_eq!(out["output"]["path"], "b");
    let (_, integration) = s.get("/integrations/crm", a).await;
    let (status, out) = s
        .post(
            "/act",
            a,
            json!({"integrationId": integration["id"], "api": {"path": "/me"}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["output"]["name"], "Ada");

    // The body is typed: a connection named by anything but a string is refused,
    // naming the field, before anything is sent.
    let wrong = s
        .post(
            "/act",
            a,
            json!({"connectionId": 7, "api": {"path": "/echo/refused", "headers": {"x-refused": "1"}}}),
        )
        .await;
    assert_error(&wrong, 400, "bad_request", "invalid_field");
    assert!(
        wrong.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("connectionId")),
        "{}",
        wrong.1
    );
    assert!(
        !f.mock
            .seen_headers
            .lock()
            .unwrap()
            .iter()
            .any(|(k, _)| k == "x-refused"),
        "nothing was sent"
    );

    // Exactly one of id, key, api, code; only api is in this build.
    let none = s.post("/act", a, json!({"connectionId": c})).await;
    assert_eq!(none.0, 400, "{}", none.1);
    let two = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "key": "x", "api": {"path": "/me"}}),
        )
        .await;
    assert_eq!(two.0, 400, "{}", two.1);
    // A stored action that does not exist is not found; inline code runs.
    for (field, v) in [("id", json!("act_0000")), ("key", json!("do-it"))] {
        let refused = s
            .post("/act", a, json!({"connectionId": c, field: v}))
            .await;
        assert_error(&refused, 404, "bad_request", "not_found");
    }
    let code = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "code": "export default () => 1"}),
        )
        .await;
    assert_eq!((code.0, &code.1["output"]), (200, &json!(1)), "{}", code.1);
    // Upstream failures are connection errors.
    let failed = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "api": {"path": "/status/404"}}),
        )
        .await;
    assert_eq!(failed.1["type"], "connection", "{}", failed.1);
    // Bob has no connection to the integration.
    let bob = s
        .post(
            "/act",
            &f.bob,
            json!({"integrationKey": "crm", "api": {"path": "/me"}}),
        )
        .await;
    assert_error(&bob, 404, "bad_request", "not_found");
    f.s.finish().await;
}

#[tokio::test]
async fn every_call_is_logged_with_secrets_masked() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    // The connect test made one call already; then one of each kind.
    s.get(
        &format!("/connections/{c}/proxy/echo/x?api_key={API_KEY}&page=2"),
        a,
    )
    .await;
    s.get(&format!("/connections/{c}/proxy/status/404"), a)
        .await;
    s.post(
        &format!("/connections/{c}/operations/whoami/run"),
        a,
        json!({}),
    )
    .await;
    s.post(
        &format!("/connections/{c}/data/contacts/list"),
        a,
        json!({}),
    )
    .await;
    s.post(
        "/act",
        a,
        json!({"connectionId": c, "api": {"path": "/me"}}),
    )
    .await;
    let items = logs_at_least(s, a, "", 5).await;
    for item in &items {
        for field in [
            "id",
            "workspaceId",
            "customerId",
            "integrationId",
            "s3Uri",
            "createdAt",
            "requestUrl",
        ] {
            assert!(item[field].is_string(), "{field} of {item}");
        }
        assert_eq!(item["connectionId"], c.as_str());
        assert!(
            item["statusCode"].is_number() && item["duration"].is_number(),
            "{item}"
        );
        assert!(item["isSuccess"].is_boolean());
    }
    // Newest first by default; `sortOrder=asc` reverses.
    assert!(
        items[0]["requestUrl"].as_str().unwrap().ends_with("/me"),
        "{}",
        items[0]
    );
    let asc = logs_at_least(s, a, "?sortOrder=asc", 5).await;
    assert_eq!(asc.first().unwrap()["id"], items.last().unwrap()["id"]);

    let failed = logs_at_least(s, a, "?isSuccess=false", 1).await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["statusCode"], 404);
    assert_eq!(
        logs_at_least(s, a, &format!("?connectionId={c}&isSuccess=true"), 4)
            .await
            .len(),
        4
    );

    // Pages through limit and cursor.
    let (_, p1) = s.get("/external-api-logs?limit=2", a).await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let (_, p2) = s
        .get(
            &format!(
                "/external-api-logs?limit=2&cursor={}",
                p1["cursor"].as_str().unwrap()
            ),
            a,
        )
        .await;
    assert_ne!(p2["items"][0]["id"], p1["items"][0]["id"]);
    let bad = s.get("/external-api-logs?sortOrder=up", a).await;
    assert_error(&bad, 400, "bad_request", "invalid_query");

    // Details: the request and response, the key nowhere.
    let echo = items
        .iter()
        .find(|i| i["requestUrl"].as_str().unwrap().contains("/echo/x"))
        .expect("proxy call logged");
    assert!(
        !echo["requestUrl"].as_str().unwrap().contains(API_KEY),
        "{echo}"
    );
    let (status, detail) = s
        .get(
            &format!("/external-api-logs/{}", echo["id"].as_str().unwrap()),
            a,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["request"]["method"], "GET");
    assert_eq!(detail["request"]["headers"]["x-api-key"], "***");
    assert_eq!(detail["response"]["status"], 201);
    let me = items
        .iter()
        .find(|i| i["requestUrl"].as_str().unwrap().ends_with("/me"))
        .unwrap();
    let (_, detail_me) = s
        .get(
            &format!("/external-api-logs/{}", me["id"].as_str().unwrap()),
            a,
        )
        .await;
    assert_eq!(detail_me["response"]["body"]["name"], "Ada", "{detail_me}");
    for id in items.iter().map(|i| i["id"].as_str().unwrap()) {
        let (_, d) = s.get(&format!("/external-api-logs/{id}"), &s.admin()).await;
        assert!(!d.to_string().contains(API_KEY), "key in {d}");
    }
    assert_eq!(s.engine.calls().dropped_api_logs(), 0);
    f.s.finish().await;
}

#[tokio::test]
async fn another_customer_reaches_none_of_it() {
    let f = fixture().await;
    let (s, a, b, c) = (&f.s, &f.alice, &f.bob, &f.conn);
    s.post(
        &format!("/connections/{c}/operations/whoami/run"),
        a,
        json!({}),
    )
    .await;
    let mine = logs_at_least(s, a, "", 1).await;
    let log_id = mine[0]["id"].as_str().unwrap().to_owned();

    for (method, path, body) in [
        ("GET", format!("/connections/{c}/operations"), None),
        ("GET", format!("/connections/{c}/operations/whoami"), None),
        (
            "POST",
            format!("/connections/{c}/operations/whoami/run"),
            Some(json!({})),
        ),
        ("GET", format!("/connections/{c}/data"), None),
        ("GET", format!("/connections/{c}/data/contacts"), None),
        (
            "POST",
            format!("/connections/{c}/data/contacts/list"),
            Some(json!({})),
        ),
        (
            "POST",
            format!("/connections/{c}/data/contacts/delete"),
            Some(json!({"id": "1"})),
        ),
        ("GET", format!("/connections/{c}/proxy/me"), None),
        (
            "POST",
            format!("/connections/{c}/proxy/contacts"),
            Some(json!({})),
        ),
        ("GET", format!("/external-api-logs/{log_id}"), None),
        // The connection itself and its lifecycle.
        ("GET", format!("/connections/{c}"), None),
        (
            "PATCH",
            format!("/connections/{c}"),
            Some(json!({"name": "x"})),
        ),
        (
            "PUT",
            format!("/connections/{c}"),
            Some(json!({"name": "x"})),
        ),
        (
            "PATCH",
            format!("/connections/{c}"),
            Some(json!({"input": {"apiKey": "x"}})),
        ),
        ("DELETE", format!("/connections/{c}"), None),
        ("POST", format!("/connections/{c}/restore"), Some(json!({}))),
        ("POST", format!("/connections/{c}/refresh"), Some(json!({}))),
        (
            "POST",
            format!("/connections/{c}/refresh-credentials"),
            Some(json!({})),
        ),
        ("POST", format!("/connections/{c}/test"), Some(json!({}))),
    ] {
        let r = s.call(method, &path, Some(b), body).await;
        assert_error(&r, 404, "bad_request", "not_found");
    }
    let r = s
        .post(
            "/act",
            b,
            json!({"connectionId": c, "api": {"path": "/me"}}),
        )
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    assert!(f.mock.contacts.lock().unwrap().contains_key("1"));
    // Nor reconnect it through the connect flow, nor see it in lists.
    let r = s
        .post("/connection-options", b, json!({"connectionId": c}))
        .await;
    assert_error(&r, 404, "bad_request", "not_found");
    let (_, listed) = s.get("/connections", b).await;
    assert_eq!(listed["items"], json!([]));
    let (_, still) = s.get(&format!("/connections/{c}"), a).await;
    assert_eq!(still["connected"], true, "{still}");
    assert!(still.get("archivedAt").is_none(), "{still}");
    let (_, theirs) = s.get("/external-api-logs", b).await;
    assert_eq!(theirs["items"], json!([]));
    let (_, theirs) = s
        .get(&format!("/external-api-logs?connectionId={c}"), b)
        .await;
    assert_eq!(theirs["items"], json!([]));
    // The admin sees them, and filters by customer.
    let all = logs_at_least(s, &s.admin(), "", mine.len()).await;
    assert!(all.iter().any(|l| l["id"] == log_id.as_str()));
    let (_, by_alice) = s.get("/external-api-logs?tenantId=alice", &s.admin()).await;
    assert!(!by_alice["items"].as_array().unwrap().is_empty());
    let (_, by_bob) = s.get("/external-api-logs?tenantId=bob", &s.admin()).await;
    assert_eq!(by_bob["items"], json!([]));
    f.s.finish().await;
}

/// Logs past their retention are deleted (the worker does this hourly); newer ones
/// stay.
#[tokio::test]
async fn logs_past_their_retention_are_deleted() {
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    s.post(
        &format!("/connections/{c}/operations/whoami/run"),
        a,
        json!({}),
    )
    .await;
    let before = logs_at_least(s, a, "", 1).await;
    let cutoff = now() * 1000 - 3_600_000;
    assert_eq!(s.stores.api_logs.purge_api_logs(cutoff).await.unwrap(), 0);
    assert_eq!(
        logs_at_least(s, a, "", before.len()).await.len(),
        before.len()
    );
    let later = now() * 1000 + 2_000;
    assert_eq!(
        s.stores.api_logs.purge_api_logs(later).await.unwrap() as usize,
        before.len()
    );
    let (_, left) = s.get("/external-api-logs", a).await;
    assert_eq!(left["items"], json!([]));
    f.s.finish().await;
}

#[tokio::test]
async fn calls_through_a_connection_are_counted_by_connector_and_status() {
    use crate::metrics::{scrape, value};
    let f = fixture().await;
    let (s, a, c) = (&f.s, &f.alice, &f.conn);
    let before = scrape(&s.url).await;
    let (status, out) = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "api": {"method": "GET", "path": "/echo/metrics"}}),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    let (status, out) = s
        .post(
            "/act",
            a,
            json!({"connectionId": c, "api": {"method": "GET", "path": "/status/404"}}),
        )
        .await;
    assert_ne!(status, 200, "{out}");
    let after = scrape(&s.url).await;
    let moved = |status: &str| {
        let labels = [("connector", "crm"), ("status", status)];
        value(&after, "osmosis_outbound_requests_total", &labels)
            - value(&before, "osmosis_outbound_requests_total", &labels)
    };
    let seen: Vec<_> = after
        .iter()
        .filter(|x| x.name == "osmosis_outbound_requests_total")
        .map(|x| (&x.labels, x.value))
        .collect();
    // The mock's echo answers 201.
    assert_eq!(moved("201"), 1.0, "{seen:?}");
    assert_eq!(moved("404"), 1.0, "{seen:?}");
    // No label carries a path or the customer.
    assert!(after.iter().all(|x| x
        .labels
        .values()
        .all(|v| !v.contains("/echo") && !v.contains("alice"))));
    f.s.finish().await;
}
