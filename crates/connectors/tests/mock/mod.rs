//! Mock third parties the tests talk to on 127.0.0.1:0: a REST API, an OAuth 2
//! provider and an OAuth 1 provider, each an axum app.

#![allow(dead_code)]

pub mod oauth1;
pub mod oauth2;
pub mod rest_api;

use axum::Router;

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}
