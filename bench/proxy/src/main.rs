//! `osmosis-bench-proxy upstream`: the external API of the proxy benchmark
//! (bench/proxy/run.sh). `GET /item` answers a fixed ~1 KB JSON body when the request
//! carries `Authorization: Bearer <key>` (the load generator's `--token` when called
//! directly; the connection's `makeApiClient` header when called through Osmosis),
//! else 401. Same multi-threaded tokio/axum stack as the server, no work per request.

use std::net::SocketAddr;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "osmosis-bench-proxy")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the mock external API.
    Upstream {
        #[arg(long)]
        listen: SocketAddr,
        /// The API key callers must send as a bearer token.
        #[arg(long)]
        key: String,
    },
}

fn item_body() -> String {
    let fields: Vec<String> = (0..24)
        .map(|i| format!("\"field{i:02}\":\"value {i:02} of the benchmark item\""))
        .collect();
    format!("{{\"id\":\"item-1\",{}}}", fields.join(","))
}

#[tokio::main]
async fn main() {
    let Command::Upstream { listen, key } = Cli::parse().command;
    let expected = format!("Bearer {key}");
    let body: &'static str = Box::leak(item_body().into_boxed_str());
    let app = Router::new()
        .route(
            "/item",
            get(move |headers: HeaderMap| async move {
                let ok = headers
                    .get(header::AUTHORIZATION)
                    .is_some_and(|v| v.as_bytes() == expected.as_bytes());
                if ok {
                    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
                } else {
                    (StatusCode::UNAUTHORIZED, "bad key").into_response()
                }
            }),
        )
        .route("/health", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .expect("cannot listen");
    axum::serve(listener, app).await.expect("serve");
}
