//! Test harness: a real Osmosis API on a free loopback port, over a fresh database.
//!
//! The backend comes from `OSMOSIS_TEST_DATABASE`: `sqlite` (default) uses a new
//! file in a temp dir; `postgres` creates a new database on
//! `OSMOSIS_TEST_PG_URL` (default `postgres://127.0.0.1:5432/test`) for each test and
//! drops it at the end, so runs never see each other's data.

#![allow(dead_code)]

pub mod console;
pub mod mock_api;
pub mod mock_crm;
pub mod process;

// For the tests that use them; not every test does.
#[allow(unused_imports)]
pub use mock_crm::{crm_connector, crm_fixture, start_crm, Crm, CrmFixture, CRM_KEY};

use jsonwebtoken::{EncodingKey, Header};
use osmosis_connectors::http::AllowList;
use osmosis_engine::{Engine, EngineConfig};
use serde_json::{json, Value};

pub const WS_KEY: &str = "test-ws";
pub const WS_SECRET: &str = "test-secret-0123456789";

/// What a test server runs beside the API, as `osmosis serve` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras {
    /// The shipped connectors, installed into every workspace.
    pub shipped: bool,
    /// The demo app under /demo-app/ (`--demo`).
    pub demo: bool,
    /// Total time budgets of outbound calls, when not the default (15 s / 60 s).
    pub deadlines: Option<osmosis_engine::Deadlines>,
    /// The limits of flow runs, when not the default.
    pub flow_limits: Option<osmosis_engine::flows::FlowLimits>,
}

pub struct Server {
    pub url: String,
    pub engine: Engine,
    /// The stores the engine was given, for tests that read or change the database
    /// past the engine (as someone with database access could).
    pub stores: osmosis_store::Stores,
    pub http: reqwest::Client,
    pub database_url: String,
    /// The credentials key, which every node on the database must share.
    key: osmosis_connectors::sealing::EncryptionKey,
    pg_database: Option<String>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
    /// This node's flow run scheduler (`osmosis serve` runs one beside the API).
    scheduler: tokio::task::JoinHandle<()>,
}

pub fn backend() -> String {
    std::env::var("OSMOSIS_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

pub fn pg_admin_url() -> String {
    std::env::var("OSMOSIS_TEST_PG_URL").unwrap_or_else(|_| "postgres://127.0.0.1:5432/test".into())
}

/// A fresh, empty database URL of the configured backend.
pub async fn fresh_database(dir: &std::path::Path) -> (String, Option<String>) {
    fresh_database_on(&backend(), dir).await
}

/// The backend that is not the configured one when PostgreSQL is configured
/// for the tests (`OSMOSIS_TEST_PG_URL`); else the configured one.
pub fn other_backend() -> String {
    match backend().as_str() {
        "postgres" => "sqlite".into(),
        _ if std::env::var_os("OSMOSIS_TEST_PG_URL").is_some() => "postgres".into(),
        configured => configured.into(),
    }
}

/// A fresh, empty database URL of `backend` (`sqlite` or `postgres`).
pub async fn fresh_database_on(backend: &str, dir: &std::path::Path) -> (String, Option<String>) {
    if backend == "postgres" {
        let name = format!("osmosis_t_{}", osmosis_model::ids::object_id());
        let admin = pg_admin_url();
        let pool = sqlx_pg_pool(&admin).await;
        pool.execute_sql(&format!("CREATE DATABASE {name}")).await;
        let base = admin
            .rsplit_once('/')
            .map(|(b, _)| b.to_string())
            .expect("database URL has a path");
        (format!("{base}/{name}"), Some(name))
    } else {
        (
            format!("sqlite://{}", dir.join("osmosis.db").display()),
            None,
        )
    }
}

/// Drops a PostgreSQL test database made by [`fresh_database`] (`None`: SQLite, nothing to do).
pub async fn drop_database(pg_database: Option<String>) {
    if let Some(name) = pg_database {
        sqlx_pg_pool(&pg_admin_url())
            .await
            .execute_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

/// A tiny admin connection for CREATE/DROP DATABASE, via the store crate's driver.
pub struct PgAdmin(sqlx_pg::PgPool);

pub async fn sqlx_pg_pool(url: &str) -> PgAdmin {
    PgAdmin(
        sqlx_pg::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .expect("PostgreSQL is reachable"),
    )
}

impl PgAdmin {
    pub async fn execute_sql(&self, sql: &str) {
        sqlx_pg::query(sql)
            .execute(&self.0)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

pub mod sqlx_pg {
    pub use sqlx::postgres::{PgPool, PgPoolOptions};
    pub use sqlx::query;
}

impl Server {
    /// The id of the test workspace (`WS_KEY`), for tests that read or change its
    /// rows in the stores directly.
    pub async fn workspace_id(&self) -> String {
        self.stores
            .workspaces
            .workspace_by_key(WS_KEY)
            .await
            .unwrap()
            .expect("the test workspace")
            .id
    }

    /// A server whose outbound calls may reach this machine, where the mock APIs
    /// listen.
    pub async fn start() -> Server {
        Server::start_with_outbound(AllowList::loopback()).await
    }

    /// A server whose outbound calls may reach the private networks `allow` covers.
    pub async fn start_with_outbound(allow: AllowList) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = fresh_database(dir.path()).await;
        let key = osmosis_connectors::sealing::EncryptionKey::generate();
        let server = Server::serve(
            database_url,
            pg_database,
            key,
            allow,
            dir,
            Extras::default(),
        )
        .await;
        server
            .engine
            .create_workspace("Test", Some(WS_KEY.into()), Some(WS_SECRET.into()))
            .await
            .expect("workspace");
        server
    }

    /// A server with the shipped connectors installed and, when `demo`, the demo
    /// app served (`osmosis serve --demo`). Outbound calls reach public addresses,
    /// those `allow` covers and, with the demo, the server's own address and port.
    pub async fn start_shipped(demo: bool, allow: AllowList) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = fresh_database(dir.path()).await;
        let key = osmosis_connectors::sealing::EncryptionKey::generate();
        let extras = Extras {
            shipped: true,
            demo,
            ..Extras::default()
        };
        let server = Server::serve(database_url, pg_database, key, allow, dir, extras).await;
        server
            .engine
            .create_workspace("Test", Some(WS_KEY.into()), Some(WS_SECRET.into()))
            .await
            .expect("workspace");
        server
    }

    /// A server (outbound calls may reach this machine) whose calls to external
    /// apps have these deadlines.
    pub async fn start_with_deadlines(deadlines: osmosis_engine::Deadlines) -> Server {
        Server::start_with(Extras {
            deadlines: Some(deadlines),
            ..Extras::default()
        })
        .await
    }

    /// A server (outbound calls may reach this machine) whose flow runs have
    /// these limits.
    pub async fn start_with_flow_limits(limits: osmosis_engine::flows::FlowLimits) -> Server {
        Server::start_with(Extras {
            flow_limits: Some(limits),
            ..Extras::default()
        })
        .await
    }

    /// A server (outbound calls may reach this machine) with `extras`, and the
    /// test workspace.
    pub async fn start_with(extras: Extras) -> Server {
        Server::start_on_with(&backend(), extras).await
    }

    /// A server on a fresh database of `backend` with `extras`, and the test
    /// workspace.
    pub async fn start_on_with(backend: &str, extras: Extras) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg_database) = fresh_database_on(backend, dir.path()).await;
        let key = osmosis_connectors::sealing::EncryptionKey::generate();
        let server = Server::serve(
            database_url,
            pg_database,
            key,
            AllowList::loopback(),
            dir,
            extras,
        )
        .await;
        server
            .engine
            .create_workspace("Test", Some(WS_KEY.into()), Some(WS_SECRET.into()))
            .await
            .expect("workspace");
        server
    }

    /// Another node on the same database (PostgreSQL), with its own caches.
    /// Finishing it leaves the database to the first node.
    pub async fn another_node(&self) -> Server {
        assert_eq!(backend(), "postgres", "only a shared database has nodes");
        let dir = tempfile::tempdir().expect("temp dir");
        Server::serve(
            self.database_url.clone(),
            None,
            self.key.clone(),
            AllowList::loopback(),
            dir,
            Extras::default(),
        )
        .await
    }

    /// An API on a free loopback port over `database_url`, served by the same
    /// loop and limits as `osmosis serve`.
    async fn serve(
        database_url: String,
        pg_database: Option<String>,
        key: osmosis_connectors::sealing::EncryptionKey,
        allow: AllowList,
        dir: tempfile::TempDir,
        extras: Extras,
    ) -> Server {
        let stores = osmosis_store::open(&database_url, 8, true)
            .await
            .expect("store opens");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let url = format!("http://{addr}");
        let engine = Engine::new(
            stores.clone(),
            EngineConfig {
                public_url: url.clone(),
            },
        )
        .with_credentials_cipher(osmosis_connectors::sealing::CredentialsCipher::new(
            key.clone(),
        ))
        .with_outbound(allow.clone());
        let engine = match extras.deadlines {
            Some(deadlines) => engine.with_deadlines(deadlines),
            None => engine,
        };
        let engine = match extras.flow_limits {
            Some(limits) => engine.with_flow_limits(limits),
            None => engine,
        };
        let engine = if extras.shipped {
            engine.with_catalog(osmosis_connectors::catalog::shipped().expect("shipped connectors"))
        } else {
            engine
        };
        let (engine, demo) = osmosis_demo_app::Demo::new(extras.demo, addr)
            .expect("a port")
            .start(engine, allow, dir.path())
            .await
            .expect("the demo app starts");
        let app = demo.mount(osmosis_api::router(osmosis_api::AppState::new(
            engine.clone(),
        )));
        let task = tokio::spawn(async move {
            osmosis_api::server::serve(
                listener,
                app,
                osmosis_api::server::Limits::default(),
                std::future::pending(),
            )
            .await
            .expect("server runs");
        });
        let scheduler = {
            let engine = engine.clone();
            let node = format!("test-node-{}", osmosis_model::ids::object_id());
            tokio::spawn(async move {
                engine
                    .run_flow_scheduler(node, std::future::pending())
                    .await
            })
        };
        Server {
            scheduler,
            url,
            engine,
            stores,
            http: reqwest::Client::new(),
            database_url,
            key,
            pg_database,
            _dir: dir,
            task,
        }
    }

    /// Stops the server and drops a PostgreSQL test database.
    pub async fn finish(self) {
        self.task.abort();
        let _ = self.task.await;
        self.scheduler.abort();
        let _ = self.scheduler.await;
        if self.pg_database.is_some() {
            self.stores.database.close().await;
        }
        drop_database(self.pg_database).await;
    }

    pub fn admin(&self) -> String {
        admin_token()
    }

    pub fn customer(&self, id: &str) -> String {
        customer_token(id)
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(
            method.parse().expect("method"),
            format!("{}{}", self.url, path),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", path, Some(token), Some(body)).await
    }

    /// [`list_pages`] of `path` on this server.
    pub async fn list_pages(&self, path: &str, token: &str, max_pages: usize) -> Vec<Value> {
        list_pages(&self.http, &format!("{}{path}", self.url), token, max_pages).await
    }

    /// A second workspace on this server (`other-ws`) and an admin token of it,
    /// for the wrong-tenant checks.
    pub async fn other_workspace_admin(&self) -> String {
        self.engine
            .create_workspace(
                "Other",
                Some("other-ws".into()),
                Some("other-secret".into()),
            )
            .await
            .expect("the other workspace");
        token(
            json!({"iss": "other-ws", "isAdmin": true, "exp": now() + 3600}),
            "other-secret",
            jsonwebtoken::Algorithm::HS256,
        )
    }

    /// Creates as admin and returns the element, failing the test on an error.
    pub async fn create(&self, plural: &str, body: Value) -> Value {
        let (status, v) = self.post(&format!("/{plural}"), &self.admin(), body).await;
        assert_eq!(status, 200, "create {plural}: {v}");
        v
    }
}

/// Every page of the listing at `url` (with a query string, no cursor) from the
/// start until a page has no cursor. More than `max_pages` pages fail the test, so
/// a cursor that never ends cannot hang it.
pub async fn list_pages(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    max_pages: usize,
) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = "0".to_string();
    while pages.len() < max_pages {
        let resp = http
            .get(format!("{url}&cursor={cursor}"))
            .bearer_auth(token)
            .send()
            .await
            .expect("a list page is answered");
        let status = resp.status().as_u16();
        let page: Value = resp.json().await.expect("a JSON list page");
        assert_eq!(status, 200, "{url}: {page}");
        let next = page.get("cursor").and_then(Value::as_str).map(String::from);
        pages.push(page);
        match next {
            Some(c) => cursor = c,
            None => return pages,
        }
    }
    panic!("{url}: a cursor still after {max_pages} pages: {pages:?}");
}

/// The items of every page of a listing, in order.
pub fn items_of(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page["items"].as_array().expect("items").clone())
        .collect()
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// An OAuth 2 connector (key `oauthapi`) against a provider at `base`: `/authorize`,
/// `/token`, and its API under `/api` with the access token as bearer; its test
/// GETs `/api/me`.
pub fn oauth2_connector(base: &str) -> Value {
    json!({
        "key": "oauthapi",
        "name": "OAuth API",
        "type": "oauth2",
        "getOAuthConfig": {"type": "mapping", "mapping": {
            "clientId": "cid", "clientSecret": "csecret",
            "authorizeUri": format!("{base}/authorize"),
            "tokenUri": format!("{base}/token"),
        }},
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": format!("{base}/api"),
            "headers": {"Authorization": {"$tpl": {"template": "Bearer {t}", "values": {"t": {"$var": "$.credentials.access_token"}}}}}
        }},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
    })
}

/// An admin token of the test workspace, valid for an hour.
pub fn admin_token() -> String {
    token(
        json!({"iss": WS_KEY, "isAdmin": true, "exp": now() + 3600}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    )
}

/// A customer token of the test workspace, valid for an hour.
pub fn customer_token(id: &str) -> String {
    token(
        json!({"iss": WS_KEY, "id": id, "exp": now() + 3600}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    )
}

pub fn token(claims: Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}

/// Asserts an `ErrorData` body with this status, type and key.
#[track_caller]
pub fn assert_error(resp: &(u16, Value), status: u16, error_type: &str, key: &str) {
    assert_eq!(resp.0, status, "status of {}", resp.1);
    assert_eq!(resp.1["type"], error_type, "type of {}", resp.1);
    assert_eq!(resp.1["key"], key, "key of {}", resp.1);
    assert!(
        resp.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {}",
        resp.1
    );
}

/// A multipart form: `(name, Some(filename) for a file, contents)`.
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "osmosis-test-boundary-c0ffee";
    let mut out = Vec::new();
    for (name, filename, body) in parts {
        let head = match filename {
            Some(f) => format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/zip\r\n\r\n"
            ),
            None => format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        out.extend_from_slice(head.as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), out)
}

/// A request with a raw body: the status and the JSON answer (or the text).
pub async fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let resp = s
        .http
        .request(method.parse().unwrap(), format!("{}{path}", s.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
