//! The demo app: a small CRM that Osmosis serves itself under `/demo-app/` when it
//! runs with `--demo` (`OSMOSIS_DEMO=1`; off by default), so that a newcomer can
//! connect a customer and run something on a machine with no account anywhere else
//! and no Internet. The shipped connector `demo-app`
//! (`crates/connectors/shipped/demo-app`) connects to it.
//!
//! It is a real HTTP app beside the Membrane API, not a mock inside the engine: its
//! own routes, API keys and database, reached by the connector over HTTP through the
//! engine's guarded outbound client exactly as any other app is.
//!
//! # The API (`/demo-app/api`)
//!
//! * `POST /keys` (no key needed; optional `{"name"}`) → 201 `{apiKey, account}`: a new
//!   account and its key. Each key is its own account (tenant): its contacts,
//!   companies and webhooks are seen by no other key.
//! * Every other route wants the key, as `Authorization: Bearer <key>` or
//!   `X-Api-Key: <key>` (else 401):
//!   * `GET /me` → the account `{id, name, createdAt}` (the connector's test).
//!   * `GET /contacts?cursor=&limit=&q=&email=&companyId=` → `{items, nextCursor}`:
//!     pages of `limit` (1–100, default 20) in creation order, `nextCursor` null on
//!     the last page; `q` finds a text in the names and email, `email` (any case)
//!     and `companyId` match exactly. `POST /contacts` → 201 the contact;
//!     `GET|PATCH|DELETE /contacts/{id}` → the contact, the changed contact, 204.
//!     Fields: `firstName`, `lastName`, `email` (required), `phone`, `companyId`
//!     (a company of the account).
//!   * `/companies` the same, with `q` over name and domain and the filter `domain`.
//!     Fields: `name` (required), `domain`, `industry`, `phone`.
//!   * `POST /webhooks {url, events}` → 201 the subscription; `GET /webhooks`,
//!     `GET|DELETE /webhooks/{id}`. Events: `contact.created`, `contact.updated`,
//!     `contact.deleted` and the same for `company`. Each change is POSTed to every
//!     subscription of its account that lists it, as JSON
//!     `{id, event, occurredAt, data}` (`data`: the record; for a delete, the record
//!     as it was), in the background, once, with a 5-second timeout
//!     ([`webhooks`]).
//! * Bad input is 400 `{"error": {code, message, field}}` naming the field or query
//!   parameter; an id the account does not have is 404; a missing or unknown key 401.
//!
//! `GET /demo-app/` is a page saying how to get a key and connect.
//!
//! # Its data
//!
//! Kept in its own SQLite database, `<data-dir>/demo-app.db`, whatever `--database`
//! says: the demo's accounts and records are the demo app's, not Osmosis's, and
//! survive restarts. Keys are stored as SHA-256 hashes. With several nodes on one
//! PostgreSQL database each node has its own demo app (the connector calls the
//! node it runs on): it is for trying Osmosis on one machine.
//!
//! # How the connector reaches it
//!
//! A shipped connector cannot know where the server listens, so with `--demo` the
//! server hands it the address as a connector parameter: [`Demo::start`] registers
//! `apiBaseUri = http://<listen address>` for the connector `demo-app`
//! ([`osmosis_engine::Engine::with_connector_defaults`]), read at call time and
//! used where neither the integration nor the connection sets `apiBaseUri`. An
//! unspecified listen address (`0.0.0.0`, `::`) is called on loopback. The public
//! URL is not used: the server calls itself on the machine, which works offline
//! and behind any proxy.
//!
//! The outbound guard refuses loopback and private addresses unless
//! `--outbound-allow` covers them. [`Demo::allow`] opens exactly that address and
//! port ([`osmosis_connectors::http::AllowList::with_socket`]), not the rest of
//! loopback: other services on the machine stay out of reach of customer-steered
//! URLs. Webhook deliveries go through the same client, so a webhook URL reaches
//! this server but no other internal address unless the allow list says so.
//!
//! Without `--demo` nothing is served under `/demo-app/` (404) and the connector,
//! still installed with the others, fails every call with a message saying to start
//! the server with `--demo`.

mod db;
mod page;
mod resources;
mod routes;
pub mod webhooks;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;

use axum::Router;
use osmosis_connectors::http::{AllowList, OutboundClient};
use osmosis_engine::Engine;
use serde_json::{Map, Value};

/// The key of the shipped connector that connects to the demo app.
pub const CONNECTOR_KEY: &str = "demo-app";

/// Where the app is served: its page at `/demo-app/`, its API under `/demo-app/api`.
pub const PATH: &str = "/demo-app";

/// The database file in the data dir.
pub const DB_FILE: &str = "demo-app.db";

/// Why the demo app cannot start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "--demo needs a fixed port to listen on (the demo-app connector calls it), not port 0"
    )]
    NoPort,
    #[error("the demo app's database {path}: {source}")]
    Database { path: String, source: sqlx::Error },
    #[error("the demo app's data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

/// Whether the demo app is served, and at which address of this machine the
/// server calls it.
#[derive(Debug, Clone)]
pub struct Demo {
    own: Option<SocketAddr>,
}

impl Demo {
    /// `enabled`: `--demo`. `listen`: the address the server listens on.
    pub fn new(enabled: bool, listen: SocketAddr) -> Result<Demo, DemoError> {
        if !enabled {
            return Ok(Demo { own: None });
        }
        if listen.port() == 0 {
            return Err(DemoError::NoPort);
        }
        Ok(Demo {
            own: Some(own_address(listen)),
        })
    }

    pub fn is_enabled(&self) -> bool {
        self.own.is_some()
    }

    /// The origin the connector calls (`http://127.0.0.1:8080`), when enabled.
    pub fn origin(&self) -> Option<String> {
        self.own.map(|addr| format!("http://{addr}"))
    }

    /// `allow`, plus exactly the server's own address and port when enabled.
    pub fn allow(&self, allow: AllowList) -> AllowList {
        match self.own {
            Some(addr) => allow.with_socket(addr),
            None => allow,
        }
    }

    /// When enabled: lets the engine's outbound calls reach what `allow` covers
    /// plus the server's own address ([`Demo::allow`]; `allow` is the operator's
    /// list, the one the engine was given), gives the connector its base URI
    /// through `engine`, opens the app's database in `data_dir` and returns the
    /// app's routes, which send webhooks through the engine's outbound client.
    /// Disabled, it returns `engine` as it is and no routes.
    pub async fn start(
        self,
        engine: Engine,
        allow: AllowList,
        data_dir: &Path,
    ) -> Result<(Engine, DemoRoutes), DemoError> {
        let (Some(own), Some(origin)) = (self.own, self.origin()) else {
            return Ok((engine, DemoRoutes(None)));
        };
        let engine = engine.with_outbound(self.allow(allow));
        let router = app(data_dir, engine.outbound().clone()).await?;
        let mut parameters = Map::new();
        parameters.insert("apiBaseUri".into(), Value::String(origin.clone()));
        let engine = engine.with_connector_defaults(CONNECTOR_KEY, parameters);
        tracing::info!(
            url = %format!("{origin}{PATH}/"),
            database = %data_dir.join(DB_FILE).display(),
            allowed = %own,
            "the demo app is served; the demo-app connector calls it at this address, which outbound calls may reach"
        );
        Ok((engine, DemoRoutes(Some(router))))
    }
}

/// The app's routes alone, over its database in `data_dir`, sending webhooks through
/// `http`: what [`Demo::start`] mounts, for serving the app by itself (tests).
pub async fn app(data_dir: &Path, http: OutboundClient) -> Result<Router, DemoError> {
    let db = db::Db::open(&data_dir.join(DB_FILE)).await?;
    Ok(routes::router(routes::AppState::new(db, http)))
}

/// The app's routes, when it is served.
pub struct DemoRoutes(Option<Router>);

impl DemoRoutes {
    /// `app` with the demo app's routes added under [`PATH`] (as it is without).
    pub fn mount(self, app: Router) -> Router {
        match self.0 {
            Some(demo) => app.merge(demo),
            None => app,
        }
    }
}

/// The address the server reaches itself at: the listen address, or loopback of
/// its family when it listens on every address.
fn own_address(listen: SocketAddr) -> SocketAddr {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_address_is_the_listen_address_or_loopback() {
        let demo = |listen: &str| Demo::new(true, listen.parse().unwrap()).unwrap();
        assert_eq!(
            demo("127.0.0.1:8080").origin().unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            demo("0.0.0.0:9000").origin().unwrap(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(demo("[::]:9000").origin().unwrap(), "http://[::1]:9000");
        assert_eq!(
            demo("10.1.2.3:8080").origin().unwrap(),
            "http://10.1.2.3:8080"
        );
        assert!(matches!(
            Demo::new(true, "127.0.0.1:0".parse().unwrap()),
            Err(DemoError::NoPort)
        ));
        let off = Demo::new(false, "127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(!off.is_enabled());
        assert!(off.origin().is_none());
        assert!(off.allow(AllowList::default()).is_empty());
    }

    #[test]
    fn only_the_own_port_is_allowed() {
        let allow = Demo::new(true, "0.0.0.0:8080".parse().unwrap())
            .unwrap()
            .allow(AllowList::default());
        assert!(allow.covers_socket("127.0.0.1".parse().unwrap(), 8080));
        assert!(!allow.covers_socket("127.0.0.1".parse().unwrap(), 8081));
        assert!(!allow.covers_address("127.0.0.1".parse().unwrap()));
    }
}
