//! Mock third parties the tests talk to on 127.0.0.1:0: a REST API, an OAuth 2
//! provider and an OAuth 1 provider, each an axum app.

#![allow(dead_code)]

pub mod oauth1;
pub mod oauth2;
pub mod rest_api;

use std::sync::Arc;

use axum::Router;
use osmosis_connectors::catalog;
use osmosis_connectors::definition::Connector;
use osmosis_connectors::http::{AllowList, OutboundClient};

/// The outbound client the engine would use, allowed to reach the mocks on this
/// machine.
pub fn outbound() -> OutboundClient {
    OutboundClient::new(AllowList::loopback())
}

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

/// A shipped connector by key, as the engine builds it from the embedded catalog.
pub fn shipped_connector(key: &str) -> Arc<Connector> {
    let value = catalog::shipped()
        .unwrap()
        .into_iter()
        .find(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no shipped connector `{key}`"));
    Arc::new(Connector::from_value(&value).unwrap())
}
