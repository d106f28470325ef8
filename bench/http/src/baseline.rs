//! The baseline server: the real Osmosis router (same layers, same runtime flavor)
//! with one extra route, `/baseline/integration`, that answers integration JSON
//! captured from the real server, from memory, with no auth and no storage. Its
//! figures beside the real endpoint's show what auth, storage and rendering cost.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use osmosis_engine::{Engine, EngineConfig};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::BenchError;

/// The captured bodies the baseline answers with.
#[derive(Clone)]
pub struct Responses {
    get: Bytes,
    post: Bytes,
}

impl Responses {
    pub fn read(get: &Path, post: &Path) -> Result<Self, BenchError> {
        let read = |p: &Path| {
            std::fs::read(p)
                .map(Bytes::from)
                .map_err(|source| BenchError::ReadFile {
                    path: p.to_path_buf(),
                    source,
                })
        };
        Ok(Responses {
            get: read(get)?,
            post: read(post)?,
        })
    }
}

/// Serves until SIGTERM or Ctrl-C, like `osmosis serve`.
pub async fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    responses: Responses,
) -> Result<(), BenchError> {
    std::fs::create_dir_all(data_dir).map_err(|source| BenchError::ReadFile {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let url = format!("sqlite://{}", data_dir.join("baseline.db").display());
    let stores = osmosis_store::open(&url, 16, true).await?;
    let engine = Engine::new(
        stores,
        EngineConfig {
            public_url: format!("http://{listen}"),
        },
    );
    let app =
        osmosis_api::router(osmosis_api::AppState::new(engine)).merge(baseline_routes(responses));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| BenchError::Listen {
            addr: listen,
            source,
        })?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(BenchError::Serve)
}

/// `/baseline/integration`: GET answers the captured GET body; POST reads the
/// request body (through the same body limit) and answers the captured POST body.
fn baseline_routes(responses: Responses) -> Router {
    let (get_body, post_body) = (responses.get, responses.post);
    let route = get(move || {
        let body = get_body.clone();
        async move { json(body) }
    })
    .post(move |_request: Bytes| {
        let body = post_body.clone();
        async move { json(body) }
    });
    // Layers added to the real router apply only to the routes it had then, so the
    // baseline route gets its own copy of the ones `osmosis_api::routes::router`
    // adds (same order: body limit inside, CORS outside).
    Router::new()
        .route("/baseline/integration", route)
        .layer(DefaultBodyLimit::max(osmosis_api::routes::MAX_BODY_BYTES))
        .layer(cors())
}

fn json(body: Bytes) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
}

/// A copy of the API's CORS policy (osmosis_api::routes::router).
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("membrane-api-version"),
        ])
        .max_age(Duration::from_secs(3600))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
