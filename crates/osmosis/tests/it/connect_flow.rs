//! The connect flow over plain HTTP (the browser suite drives the same pages in
//! Chromium): auth options, `POST /connect` with a redirect back to the app and
//! the result on SSE, one connection per customer and integration unless
//! `allowMultipleConnections`, OAuth 1.0a end to end against a provider that
//! checks every HMAC-SHA1 signature (and the API calls after it), and connection
//! requests finished at their URL.

use std::sync::{Arc, Mutex};

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use osmosis_connectors::auth::oauth1::{hmac_sha1_signature, signature_base_string};
use serde_json::{json, Value};

use crate::common::*;

const API_KEY: &str = "key-4b1d7c9e";

/// An API-key API (`/key/me`) and an OAuth 1.0a provider whose every endpoint
/// checks the request's signature.
#[derive(Default)]
struct Mock {
    base: Mutex<String>,
    callback: Mutex<String>,
    bad_signatures: Mutex<usize>,
}

/// The `Authorization: OAuth …` parameters, decoded.
fn oauth_params(headers: &HeaderMap) -> Vec<(String, String)> {
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(list) = header.strip_prefix("OAuth ") else {
        return Vec::new();
    };
    list.split(", ")
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = v.trim_matches('"');
            let decoded: String = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            (k.to_owned(), decoded)
        })
        .collect()
}

/// Whether the request is signed by consumer `ck`/`cs` and the token whose secret
/// is `token_secret`.
fn signed(
    m: &Mock,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    token_secret: &str,
) -> bool {
    let params = oauth_params(headers);
    let Some(signature) = params
        .iter()
        .find(|(k, _)| k == "oauth_signature")
        .map(|(_, v)| v.clone())
    else {
        return false;
    };
    let rest: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| k != "oauth_signature")
        .collect();
    let url = url::Url::parse(&format!("{}{}", m.base.lock().unwrap(), uri)).unwrap();
    let base = signature_base_string(method.as_str(), &url, &rest);
    let ok = hmac_sha1_signature(&base, "cs", token_secret) == signature
        && rest
            .iter()
            .any(|(k, v)| k == "oauth_consumer_key" && v == "ck");
    if !ok {
        *m.bad_signatures.lock().unwrap() += 1;
    }
    ok
}

fn param(headers: &HeaderMap, name: &str) -> Option<String> {
    oauth_params(headers)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

async fn request_token(
    State(m): State<Arc<Mock>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> axum::response::Response {
    if !signed(&m, &method, &uri, &headers, "") {
        return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
    }
    *m.callback.lock().unwrap() = param(&headers, "oauth_callback").unwrap_or_default();
    (
        [("content-type", "application/x-www-form-urlencoded")],
        "oauth_token=rt&oauth_token_secret=rts&oauth_callback_confirmed=true",
    )
        .into_response()
}

async fn access_token(
    State(m): State<Arc<Mock>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> axum::response::Response {
    if !signed(&m, &method, &uri, &headers, "rts")
        || param(&headers, "oauth_token").as_deref() != Some("rt")
        || param(&headers, "oauth_verifier").as_deref() != Some("ver")
    {
        return (StatusCode::UNAUTHORIZED, "refused").into_response();
    }
    (
        [("content-type", "application/x-www-form-urlencoded")],
        "oauth_token=at&oauth_token_secret=ats&user_id=42",
    )
        .into_response()
}

async fn oauth_me(
    State(m): State<Arc<Mock>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> axum::response::Response {
    if !signed(&m, &method, &uri, &headers, "ats")
        || param(&headers, "oauth_token").as_deref() != Some("at")
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "unsigned"})),
        )
            .into_response();
    }
    Json(json!({"id": "42", "name": "Ada", "query": uri.query()})).into_response()
}

async fn key_me(headers: HeaderMap) -> axum::response::Response {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(API_KEY) {
        Json(json!({"id": "u-1"})).into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "bad key"})),
        )
            .into_response()
    }
}

struct Fixture {
    s: Server,
    m: Arc<Mock>,
    http: reqwest::Client,
}

async fn fixture() -> Fixture {
    let s = Server::start().await;
    let m = Arc::new(Mock::default());
    let app = Router::new()
        .route("/request_token", post(request_token))
        .route("/access_token", post(access_token))
        .route("/api/me", get(oauth_me))
        .route("/key/me", get(key_me))
        .with_state(m.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *m.base.lock().unwrap() = base.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = s
        .create(
            "connectors",
            json!({
                "key": "keyapp", "name": "Key App", "type": "client-credentials",
                "inputSchema": {"type": "object", "properties": {"apiKey": {"type": "string"}}, "required": ["apiKey"]},
                "makeApiClient": {"type": "mapping", "mapping": {"baseUri": format!("{base}/key"), "headers": {"x-api-key": {"$var": "$.credentials.apiKey"}}}},
                "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
            }),
        )
        .await;
    s.create(
        "integrations",
        json!({"key": "keyapp", "name": "Key App", "connectorId": key["id"]}),
    )
    .await;
    let oauth1 = s
        .create(
            "connectors",
            json!({
                "key": "oauth1app", "name": "OAuth1 App", "type": "oauth1",
                "getOAuthConfig": {"type": "mapping", "mapping": {
                    "consumerKey": "ck", "consumerSecret": "cs",
                    "requestTokenUri": format!("{base}/request_token"),
                    "authorizeUri": format!("{base}/authorize"),
                    "tokenUri": format!("{base}/access_token")
                }},
                "makeApiClient": {"type": "mapping", "mapping": {"baseUri": format!("{base}/api")}},
                "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
            }),
        )
        .await;
    s.create(
        "integrations",
        json!({"key": "oauth1app", "name": "OAuth1 App", "connectorId": oauth1["id"]}),
    )
    .await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Fixture { s, m, http }
}

impl Fixture {
    /// `POST /connect` with `payload`; answers status, `Location`, body.
    async fn connect(&self, payload: Value) -> (u16, String, String) {
        let resp = self
            .http
            .post(format!("{}/connect", self.s.url))
            .form(&[("payload", payload.to_string())])
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        (status, location, resp.text().await.unwrap())
    }

    async fn connections(&self, customer: &str) -> Vec<Value> {
        let (_, list) = self.s.get("/connections", &self.s.customer(customer)).await;
        list["items"].as_array().cloned().unwrap_or_default()
    }
}

#[tokio::test]
async fn connection_options_list_the_auth_options() {
    let f = fixture().await;
    let alice = f.s.customer("alice");
    let (status, options) =
        f.s.post(
            "/connection-options",
            &alice,
            json!({"integrationKey": "oauth1app"}),
        )
        .await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options[0]["type"], "oauth1", "{options}");
    assert!(
        options[0].get("key").is_none(),
        "no key: matches an absent authOptionKey"
    );
    assert_eq!(
        options[0]["oAuthCallbackUri"],
        format!("{}/oauth-callback", f.s.url)
    );
    let (_, options) =
        f.s.post(
            "/connection-options",
            &alice,
            json!({"integrationKey": "keyapp"}),
        )
        .await;
    assert_eq!(options[0]["type"], "client-credentials");
    assert_eq!(options[0]["inputSchema"]["required"], json!(["apiKey"]));
    let r =
        f.s.post(
            "/connection-options",
            &alice,
            json!({"integrationKey": "nope"}),
        )
        .await;
    assert!(r.0 >= 400, "{:?}", r.1);
    f.s.finish().await;
}

#[tokio::test]
async fn connect_redirects_back_publishes_sse_and_keeps_one_connection_per_integration() {
    let f = fixture().await;
    let token = f.s.customer("alice");
    let payload = |request_id: &str, multiple: bool| {
        json!({"token": token, "integrationKey": "keyapp", "input": {"apiKey": API_KEY},
               "requestId": request_id, "redirectUri": "https://app.example/done?x=1",
               "allowMultipleConnections": multiple})
    };
    let (status, location, _) = f.connect(payload("req-1", false)).await;
    assert_eq!(status, 303);
    let url = url::Url::parse(&location).unwrap();
    assert_eq!(url.host_str(), Some("app.example"));
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let id = pairs
        .iter()
        .find(|(k, _)| k == "connectionId")
        .expect("connectionId")
        .1
        .clone();
    assert!(
        pairs.contains(&("x".into(), "1".into())),
        "the app's own query is kept"
    );

    // The result waits on SSE for this customer (and only for them).
    let sse = f
        .http
        .get(format!(
            "{}/sse/connection-events/req-1?token={}",
            f.s.url, token
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    let mut body = String::new();
    let mut sse = sse;
    while let Some(chunk) = sse.chunk().await.unwrap() {
        body.push_str(&String::from_utf8_lossy(&chunk));
        if body.contains("\n\n") && body.contains("data:") {
            break;
        }
    }
    let data = body
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .expect("a data line");
    let event: Value = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(event["type"], "newConnectionCreated");
    assert_eq!(event["requestId"], "req-1");
    assert_eq!(event["connection"]["id"], id.as_str());
    assert!(!data.contains(API_KEY));

    // Connecting again re-authenticates the same connection…
    let (_, location, _) = f.connect(payload("req-2", false)).await;
    assert!(
        location.contains(&format!("connectionId={id}")),
        "{location}"
    );
    assert_eq!(f.connections("alice").await.len(), 1);
    // …unless several are allowed.
    let (_, location, _) = f.connect(payload("req-3", true)).await;
    assert!(!location.contains(&id), "{location}");
    assert_eq!(f.connections("alice").await.len(), 2);

    // A failure comes back as error + errorData, and nothing is created.
    let mut bad = payload("req-4", true);
    bad["input"]["apiKey"] = json!("wrong");
    let (status, location, _) = f.connect(bad).await;
    assert_eq!(status, 303);
    assert!(
        location.contains("error=") && location.contains("errorData="),
        "{location}"
    );
    assert_eq!(f.connections("alice").await.len(), 2);
    f.s.finish().await;
}

#[tokio::test]
async fn oauth1_connects_end_to_end_and_its_calls_are_signed() {
    let f = fixture().await;
    let token = f.s.customer("alice");
    let (status, location, body) = f
        .connect(json!({"token": token, "integrationKey": "oauth1app", "requestId": "r1"}))
        .await;
    assert_eq!(status, 303, "{body}");
    let base = f.m.base.lock().unwrap().clone();
    assert!(
        location.starts_with(&format!("{base}/authorize?oauth_token=rt")),
        "{location}"
    );
    // The provider sends the browser back to the callback it was given.
    let callback = f.m.callback.lock().unwrap().clone();
    assert!(
        callback.starts_with(&format!("{}/oauth-callback?state=", f.s.url)),
        "{callback}"
    );
    let back = format!("{callback}&oauth_token=rt&oauth_verifier=ver");
    let resp = f.http.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.text().await.unwrap();
    assert!(page.contains("connect-result"), "{page}");
    let conns = f.connections("alice").await;
    assert_eq!(conns.len(), 1);
    let id = conns[0]["id"].as_str().unwrap();
    // Calls through the connection carry a valid signature, query included.
    let (status, me) =
        f.s.get(&format!("/connections/{id}/proxy/me"), &token)
            .await;
    assert_eq!(status, 200, "without a query: {me}");
    let (status, me) =
        f.s.get(&format!("/connections/{id}/proxy/me?fields=a%20b"), &token)
            .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "Ada");
    assert_eq!(*f.m.bad_signatures.lock().unwrap(), 0);
    // Replaying the callback is refused and creates nothing.
    let resp = f.http.get(&back).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(f.connections("alice").await.len(), 1);
    // The secrets stay out of responses and logs of the customer.
    let (_, conn) = f.s.get(&format!("/connections/{id}"), &token).await;
    assert!(!conn.to_string().contains("ats"), "{conn}");
    f.s.finish().await;
}

#[tokio::test]
async fn connection_requests_are_finished_at_their_url() {
    let f = fixture().await;
    let alice = f.s.customer("alice");
    let (status, request) =
        f.s.post(
            "/connection-requests",
            &alice,
            json!({"integrationKey": "keyapp", "name": "From agent", "prompt": "connect your key"}),
        )
        .await;
    assert_eq!(status, 200, "{request}");
    assert_eq!(request["status"], "pending");
    assert_eq!(request["integrationKey"], "keyapp");
    let id = request["requestId"].as_str().unwrap().to_owned();
    let url = request["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!(
        "{}/screens/connections?connectionRequestId=",
        f.s.url
    )));
    // Another customer cannot see it; a bad integration is refused up front.
    let (status, _) =
        f.s.get(&format!("/connection-requests/{id}"), &f.s.customer("bob"))
            .await;
    assert_eq!(status, 404);
    let (status, _) =
        f.s.post(
            "/connection-requests",
            &alice,
            json!({"integrationKey": "missing"}),
        )
        .await;
    assert!(status >= 400);

    // The page is the connect screen for alice; submitting it connects.
    let page = f.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("name=\"input.apiKey\""), "{page}");
    let hidden: Vec<(String, String)> = page
        .split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|s| {
            let name = s.split("name=\"").nth(1)?.split('"').next()?;
            let value = s.split("value=\"").nth(1)?.split('"').next()?;
            Some((
                name.to_owned(),
                value.replace("&quot;", "\"").replace("&amp;", "&"),
            ))
        })
        .collect();
    let mut form = hidden.clone();
    form.push(("input.apiKey".into(), "wrong".into()));
    let resp = f
        .http
        .post(format!("{}/screens/connect", f.s.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("connect-error"));
    let (_, status) = f.s.get(&format!("/connection-requests/{id}"), &alice).await;
    assert_eq!(status["status"], "error", "{status}");
    let mut form = hidden;
    form.push(("input.apiKey".into(), API_KEY.into()));
    let resp = f
        .http
        .post(format!("{}/screens/connect", f.s.url))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (_, done) = f.s.get(&format!("/connection-requests/{id}"), &alice).await;
    assert_eq!(done["status"], "success", "{done}");
    let conns = f.connections("alice").await;
    assert_eq!(conns.len(), 1);
    assert_eq!(done["resultConnectionId"], conns[0]["id"]);
    // The URL is spent.
    let resp = f.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 400);
    f.s.finish().await;
}

#[tokio::test]
async fn patching_secrets_reconnects_and_a_failing_test_changes_nothing() {
    let f = fixture().await;
    let alice = f.s.customer("alice");
    let (status, conn) =
        f.s.post(
            "/connections",
            &alice,
            json!({"integrationKey": "keyapp", "name": "Mine", "input": {"apiKey": API_KEY}}),
        )
        .await;
    assert_eq!(status, 200, "{conn}");
    let id = conn["id"].as_str().unwrap();
    let (status, e) =
        f.s.patch(
            &format!("/connections/{id}"),
            &alice,
            json!({"input": {"apiKey": "wrong"}, "name": "Renamed"}),
        )
        .await;
    assert!(status >= 400, "{e}");
    let (_, same) = f.s.get(&format!("/connections/{id}"), &alice).await;
    assert_eq!(same["name"], "Mine");
    assert_eq!(same["revision"], conn["revision"], "nothing changed");
    let (status, changed) =
        f.s.patch(
            &format!("/connections/{id}"),
            &alice,
            json!({"input": {"apiKey": API_KEY}, "name": "Renamed", "meta": {"a": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Renamed");
    assert_eq!(changed["meta"], json!({"a": 1}));
    assert_eq!(changed["connected"], true);
    assert!(!changed.to_string().contains(API_KEY));
    f.s.finish().await;
}

/// The old `/connection-popup` takes the payload's fields in the query string.
#[tokio::test]
async fn connection_popup_is_connect_with_a_query_string() {
    let f = fixture().await;
    let token = f.s.customer("alice");
    let mut url = url::Url::parse(&format!("{}/connection-popup", f.s.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("token", &token)
        .append_pair("integrationKey", "keyapp")
        .append_pair("input", &json!({"apiKey": API_KEY}).to_string())
        .append_pair("redirectUri", "https://app.example/back");
    let resp = f.http.get(url.as_str()).send().await.unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let conns = f.connections("alice").await;
    assert_eq!(conns.len(), 1);
    assert_eq!(
        location,
        format!(
            "https://app.example/back?connectionId={}",
            conns[0]["id"].as_str().unwrap()
        )
    );
    // Without the input it shows the form, like /connect.
    let mut url = url::Url::parse(&format!("{}/connection-popup", f.s.url)).unwrap();
    url.query_pairs_mut()
        .append_pair("token", &token)
        .append_pair("integrationKey", "keyapp");
    let page = f
        .http
        .get(url.as_str())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("name=\"input.apiKey\""), "{page}");
    f.s.finish().await;
}
