//! Several customers connected to the same integration. Every way `POST /act` and
//! the connection-scoped routes find a connection — by integration key or id, by
//! connection key or id, an admin token naming a customer — reaches the caller's
//! own connection, which the test checks by whose credentials the external API
//! received; naming another customer's connection is `not_found`. A connection's
//! sealed credentials moved onto another connection's row, in the same workspace
//! or another, do not open: calls fail with `credentials_unreadable` before
//! anything is sent, and so does `includeSecrets`.

use serde_json::{json, Value};

use crate::common;
use crate::common::mock_api::{connector, start_mock, MockApi, API_KEY};
use crate::common::*;

/// Four customers, not two: a connection key shared by more customers than a
/// by-key lookup reads rows must still find each caller's own.
const CUSTOMERS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// The key every customer gives its connection (keys are unique per customer).
const CONN_KEY: &str = "main";

/// The mock connector, also sending the credentials' `who` as `x-who`: the mock
/// then records whose credentials each outbound request carried.
fn tagged_connector(base: &str) -> Value {
    let mut definition = connector(base, "mock");
    definition["makeApiClient"]["mapping"]["headers"]["x-who"] =
        json!({"$var": "$.credentials.who"});
    definition
}

struct Tenants {
    s: Server,
    mock: MockApi,
    integration: Value,
    /// Each customer's connection, in [`CUSTOMERS`] order.
    conns: Vec<Value>,
}

impl Tenants {
    fn conn_id(&self, customer: &str) -> &str {
        let i = CUSTOMERS
            .iter()
            .position(|c| *c == customer)
            .expect("a test customer");
        self.conns[i]["id"].as_str().expect("connection id")
    }
}

/// Connects `who` to `integration` as `token` (with `who` in its credentials).
async fn connect_as(s: &Server, token: &str, integration: &Value, who: &str) -> Value {
    let (status, conn) = s
        .post(
            "/connections",
            token,
            json!({"integrationId": integration["id"], "key": CONN_KEY, "name": "Main",
                   "input": {"apiKey": API_KEY, "who": who}}),
        )
        .await;
    assert_eq!(status, 200, "{who} connects: {conn}");
    conn
}

async fn tenants() -> Tenants {
    let s = Server::start().await;
    let mock = start_mock().await;
    let (_, integration) = common::mock_api::install(&s, tagged_connector(&mock.url)).await;
    let mut conns = Vec::new();
    for who in CUSTOMERS {
        conns.push(connect_as(&s, &s.customer(who), &integration, who).await);
    }
    Tenants {
        s,
        mock,
        integration,
        conns,
    }
}

/// What one request came to: its status and body, and whose credentials (`x-who`)
/// each request the mock received meanwhile carried.
struct Outbound {
    status: u16,
    body: Value,
    seen: Vec<String>,
}

impl Outbound {
    /// Answered `status`, having called the API once or more, always with `who`'s
    /// credentials.
    #[track_caller]
    fn reached(&self, status: u16, who: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: {}", self.body);
        assert!(!self.seen.is_empty(), "{what}: nothing was sent");
        assert!(
            self.seen.iter().all(|w| w == who),
            "{what}: sent with the credentials of {:?}, not {who}",
            self.seen
        );
    }

    /// Refused with this error before anything was sent.
    #[track_caller]
    fn refused(&self, status: u16, error_type: &str, key: &str, what: &str) {
        assert_error(&(self.status, self.body.clone()), status, error_type, key);
        assert!(self.seen.is_empty(), "{what}: sent {:?}", self.seen);
    }

    /// Refused with `credentials_unreadable` naming `conn`, before anything was
    /// sent and without a trace of `secrets` in the answer.
    #[track_caller]
    fn unreadable(&self, conn: &str, secrets: &[&str], what: &str) {
        self.refused(500, "internal", "credentials_unreadable", what);
        let text = self.body.to_string();
        assert!(text.contains(conn), "{what}: names the connection: {text}");
        for secret in secrets {
            assert!(!text.contains(secret), "{what}: leaks {secret}: {text}");
        }
    }
}

/// Sends a request as `token` and sees what reached the API.
async fn outbound(
    t: &Tenants,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Outbound {
    let before = t.mock.request_count();
    let (status, body) = t.s.call(method, path, Some(token), body).await;
    let seen = t.mock.requests.lock().unwrap()[before..]
        .iter()
        .map(|r| {
            r.headers
                .iter()
                .find(|(n, _)| n == "x-who")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    Outbound { status, body, seen }
}

/// `POST /act` of `GET /echo/act` through the connection `naming` selects.
async fn act(t: &Tenants, token: &str, naming: Value) -> Outbound {
    let mut body = naming;
    body["api"] = json!({"path": "/echo/act"});
    outbound(t, token, "POST", "/act", Some(body)).await
}

/// An admin token of the test workspace that names a customer: it acts as that
/// customer.
fn admin_naming(customer: &str) -> String {
    token(
        json!({"iss": WS_KEY, "isAdmin": true, "id": customer, "exp": now() + 3600}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    )
}

#[tokio::test]
async fn each_customer_reaches_only_its_own_connection_to_a_shared_integration() {
    let t = tenants().await;
    let integration_id = t.integration["id"].as_str().unwrap();
    for me in CUSTOMERS {
        let own = t.conn_id(me);
        for (bearer, who) in [
            (t.s.customer(me), "customer"),
            (admin_naming(me), "admin naming"),
        ] {
            for naming in [
                json!({"integrationKey": "mock"}),
                json!({"integrationId": integration_id}),
                json!({"connectionKey": CONN_KEY}),
                json!({"connectionKey": CONN_KEY, "integrationKey": "mock"}),
                json!({"connectionId": own}),
            ] {
                act(&t, &bearer, naming.clone()).await.reached(
                    200,
                    me,
                    &format!("{who} {me}, /act {naming}"),
                );
            }
            for sel in [own, CONN_KEY] {
                let (status, got) = t.s.get(&format!("/connections/{sel}"), &bearer).await;
                assert_eq!(status, 200, "{who} {me}, GET /connections/{sel}: {got}");
                assert_eq!(got["id"], own, "{who} {me}, GET /connections/{sel}");
                let path = format!("/connections/{sel}/proxy/echo/proxied");
                outbound(&t, &bearer, "GET", &path, None).await.reached(
                    201,
                    me,
                    &format!("{who} {me}, {path}"),
                );
                let path = format!("/connections/{sel}/test");
                let tested = outbound(&t, &bearer, "POST", &path, Some(json!({}))).await;
                tested.reached(200, me, &format!("{who} {me}, {path}"));
                assert_eq!(tested.body, json!({"success": true}), "{who} {me}, {path}");
            }
        }
    }
    t.s.finish().await;
}

#[tokio::test]
async fn naming_another_customers_connection_is_not_found() {
    let t = tenants().await;
    let alice = t.s.customer("alice");
    let bobs = t.conn_id("bob");
    let not_found = |r: Outbound, what: &str| r.refused(404, "bad_request", "not_found", what);
    for naming in [
        json!({"connectionId": bobs}),
        json!({"connectionId": bobs, "integrationKey": "mock"}),
    ] {
        not_found(
            act(&t, &alice, naming.clone()).await,
            &format!("/act {naming}"),
        );
    }
    for (method, path, body) in [
        ("GET", format!("/connections/{bobs}"), None),
        ("GET", format!("/connections/{bobs}/proxy/echo/x"), None),
        ("POST", format!("/connections/{bobs}/test"), Some(json!({}))),
    ] {
        not_found(
            outbound(&t, &alice, method, &path, body).await,
            &format!("{method} {path}"),
        );
    }

    // A customer without a connection finds none, however it names one.
    let erin = t.s.customer("erin");
    for naming in [
        json!({"integrationKey": "mock"}),
        json!({"integrationId": t.integration["id"]}),
        json!({"connectionKey": CONN_KEY}),
        json!({"connectionKey": CONN_KEY, "integrationKey": "mock"}),
    ] {
        not_found(
            act(&t, &erin, naming.clone()).await,
            &format!("erin, /act {naming}"),
        );
    }
    let path = format!("/connections/{CONN_KEY}/proxy/echo/x");
    not_found(
        outbound(&t, &erin, "GET", &path, None).await,
        "erin, proxy by key",
    );

    // The admin sees every customer's connection: by integration or shared key it
    // must name one, and by id it reaches exactly that one.
    let admin = t.s.admin();
    act(&t, &admin, json!({"integrationKey": "mock"}))
        .await
        .refused(
            400,
            "bad_request",
            "invalid_body",
            "admin, /act by integration",
        );
    outbound(&t, &admin, "GET", &format!("/connections/{CONN_KEY}"), None)
        .await
        .refused(400, "bad_request", "invalid_query", "admin, by shared key");
    act(&t, &admin, json!({"connectionId": bobs}))
        .await
        .reached(200, "bob", "admin, /act by bob's connection id");
    t.s.finish().await;
}

/// Another workspace on the same server.
const OTHER_WS: &str = "other-ws";
const OTHER_SECRET: &str = "other-secret-0123456789";

async fn workspace_id(s: &Server, key: &str) -> String {
    s.stores
        .workspaces
        .workspace_by_key(key)
        .await
        .unwrap()
        .expect("workspace")
        .id
}

async fn stored(s: &Server, workspace: &str, id: &str) -> osmosis_model::Element {
    s.stores
        .elements
        .element_by_id(workspace, id)
        .await
        .unwrap()
        .expect("stored connection")
}

async fn sealed_of(s: &Server, workspace: &str, id: &str) -> String {
    stored(s, workspace, id).await.doc["sealedCredentials"]
        .as_str()
        .expect("sealed credentials")
        .to_owned()
}

/// Writes `sealed` as connection `id`'s sealed credentials straight into the
/// store, as someone with database access could, under a new revision so nothing
/// built from the old row is reused.
async fn put_sealed(s: &Server, workspace: &str, id: &str, sealed: &str) {
    let mut el = stored(s, workspace, id).await;
    el.doc.insert("sealedCredentials".into(), json!(sealed));
    let expected = std::mem::replace(&mut el.revision, osmosis_model::ids::object_id());
    let scope = format!(
        "{}|{}",
        el.integration_id.as_deref().unwrap_or_default(),
        el.customer_id.as_deref().unwrap_or_default()
    );
    s.stores
        .elements
        .update_element(&el, &scope, &expected)
        .await
        .expect("the row is rewritten");
}

/// Alice's and Bob's sealed credentials as they were, after Alice's were written
/// onto Bob's row.
struct Moved {
    workspace: String,
    alices: String,
    bobs: String,
}

impl Moved {
    /// What no answer may show.
    fn secrets(&self) -> [&str; 3] {
        [&self.alices, &self.bobs, API_KEY]
    }
}

async fn alices_onto_bobs(t: &Tenants) -> Moved {
    let workspace = workspace_id(&t.s, WS_KEY).await;
    let alices = sealed_of(&t.s, &workspace, t.conn_id("alice")).await;
    let bobs = sealed_of(&t.s, &workspace, t.conn_id("bob")).await;
    put_sealed(&t.s, &workspace, t.conn_id("bob"), &alices).await;
    Moved {
        workspace,
        alices,
        bobs,
    }
}

#[tokio::test]
async fn sealed_credentials_moved_onto_another_connection_do_not_open() {
    let t = tenants().await;
    let s = &t.s;
    let bobs = t.conn_id("bob");
    // Alice's sealed credentials on Bob's row, same workspace.
    let moved = alices_onto_bobs(&t).await;
    let secrets = moved.secrets();
    let by_integration = || json!({"integrationKey": "mock"});
    let bob = s.customer("bob");
    for naming in [by_integration(), json!({"connectionId": bobs})] {
        act(&t, &bob, naming.clone())
            .await
            .unreadable(bobs, &secrets, &format!("/act {naming}"));
    }
    let path = format!("/connections/{bobs}/proxy/echo/x");
    outbound(&t, &bob, "GET", &path, None)
        .await
        .unreadable(bobs, &secrets, &path);
    let path = format!("/connections/{bobs}/test");
    let tested = outbound(&t, &bob, "POST", &path, Some(json!({}))).await;
    assert_eq!(
        (tested.status, &tested.body["success"]),
        (200, &json!(false)),
        "{}",
        tested.body
    );
    assert_eq!(
        tested.body["error"]["key"], "credentials_unreadable",
        "{}",
        tested.body
    );
    assert!(tested.seen.is_empty(), "{path}: sent {:?}", tested.seen);
    // Alice's own connection is untouched, and the server still answers.
    act(&t, &s.customer("alice"), by_integration())
        .await
        .reached(200, "alice", "alice after the move");

    // Bob's own sealed credentials back on his row open again: the move, nothing
    // else, was what failed.
    put_sealed(s, &moved.workspace, bobs, &moved.bobs).await;
    act(&t, &bob, by_integration())
        .await
        .reached(200, "bob", "bob with his own credentials back");
    t.s.finish().await;
}

#[tokio::test]
async fn sealed_credentials_moved_into_another_workspace_do_not_open() {
    let t = tenants().await;
    let s = &t.s;
    let alices_sealed = sealed_of(s, &workspace_id(s, WS_KEY).await, t.conn_id("alice")).await;
    s.engine
        .create_workspace("Other", Some(OTHER_WS.into()), Some(OTHER_SECRET.into()))
        .await
        .expect("workspace");
    let other = |mut claims: Value| {
        claims["iss"] = json!(OTHER_WS);
        claims["exp"] = json!(now() + 3600);
        token(claims, OTHER_SECRET, jsonwebtoken::Algorithm::HS256)
    };
    let other_admin = other(json!({"isAdmin": true}));
    let (status, c) = s
        .post("/connectors", &other_admin, tagged_connector(&t.mock.url))
        .await;
    assert_eq!(status, 200, "{c}");
    let (status, integration) = s
        .post(
            "/integrations",
            &other_admin,
            json!({"key": "mock", "name": "Mock API", "connectorId": c["id"]}),
        )
        .await;
    assert_eq!(status, 200, "{integration}");
    let erin = other(json!({"id": "erin"}));
    let erins = connect_as(s, &erin, &integration, "erin").await;
    let erins = erins["id"].as_str().unwrap();
    let other_ws = workspace_id(s, OTHER_WS).await;
    let erins_sealed = sealed_of(s, &other_ws, erins).await;

    // Alice's sealed credentials in another workspace's connection.
    put_sealed(s, &other_ws, erins, &alices_sealed).await;
    let secrets = [alices_sealed.as_str(), erins_sealed.as_str(), API_KEY];
    act(&t, &erin, json!({"integrationKey": "mock"}))
        .await
        .unreadable(erins, &secrets, "another workspace");
    outbound(
        &t,
        &other_admin,
        "GET",
        &format!("/connections/{erins}?includeSecrets=true"),
        None,
    )
    .await
    .unreadable(erins, &secrets, "another workspace, includeSecrets");
    // Alice still reaches the API with them on her own row.
    act(&t, &s.customer("alice"), json!({"integrationKey": "mock"}))
        .await
        .reached(200, "alice", "alice after the copy");
    t.s.finish().await;
}

#[tokio::test]
async fn include_secrets_fails_visibly_on_credentials_that_do_not_open() {
    let t = tenants().await;
    let s = &t.s;
    let admin = s.admin();
    let (alices, bobs) = (t.conn_id("alice"), t.conn_id("bob"));
    let moved = alices_onto_bobs(&t).await;
    let secrets = moved.secrets();

    // The one connection, and any list holding it, fail rather than answer
    // without the credentials.
    for path in [
        format!("/connections/{bobs}?includeSecrets=true"),
        "/connections?includeSecrets=true".to_owned(),
    ] {
        outbound(&t, &admin, "GET", &path, None)
            .await
            .unreadable(bobs, &secrets, &path);
    }

    // Without includeSecrets nothing is opened, and both answer.
    let (status, got) = s.get(&format!("/connections/{bobs}"), &admin).await;
    assert_eq!(status, 200, "{got}");
    assert!(got.get("credentials").is_none(), "{got}");
    let (status, listed) = s.get("/connections", &admin).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(CUSTOMERS.len())
    );
    let (status, got) = s
        .get(&format!("/connections/{bobs}"), &s.customer("bob"))
        .await;
    assert_eq!(status, 200, "{got}");
    // Credentials that open still show.
    let (status, got) = s
        .get(
            &format!("/connections/{alices}?includeSecrets=true"),
            &admin,
        )
        .await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["credentials"]["who"], "alice", "{got}");
    t.s.finish().await;
}
