//! What can stop a benchmark tool.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the store: {0}")]
    Store(#[from] osmosis_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("`{0}` is not a loopback http:// URL with host and port")]
    BadUrl(String),
    #[error("unsupported method `{0}` (GET or POST)")]
    BadMethod(String),
    #[error("`{0}` is not a duration in seconds")]
    BadDuration(f64),
    #[error("--url is required at least once")]
    NoUrl,
    #[error("--clients must be at least 1")]
    NoClients,
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("HTTP failure: {0}")]
    Http(#[from] hyper::Error),
    #[error("cannot build the request: {0}")]
    Request(#[from] hyper::http::Error),
    #[error("{failures} requests got a non-2xx answer, e.g. {sample}")]
    FailedRequests { failures: u64, sample: String },
    #[error("{0}")]
    FlowRun(String),
    #[error("{failures} flow runs failed, e.g. {sample}")]
    FailedRuns { failures: u64, sample: String },
    #[error("cannot sign the token: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
}
