//! What `serve` says once it is ready: one summary line of what it runs on (no
//! secret in it), and how to make a first workspace when there is none.

use std::net::SocketAddr;
use std::path::Path;

use crate::DatabaseArgs;

/// Where the credentials key came from: the variable, or the key file's path.
pub fn key_source(data_dir: &Path) -> String {
    let from_env = std::env::var(crate::KEY_VAR).is_ok_and(|v| !v.trim().is_empty());
    if from_env {
        format!("env {}", crate::KEY_VAR)
    } else {
        absolute(data_dir)
            .join(osmosis_connectors::sealing::KEY_FILE_NAME)
            .display()
            .to_string()
    }
}

fn absolute(path: &Path) -> std::path::PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// What the server is ready with.
pub struct Summary<'a> {
    pub addr: SocketAddr,
    pub database: &'a DatabaseArgs,
    pub workspaces: usize,
    pub connectors: usize,
    pub key_source: String,
    pub max_connections: usize,
}

/// Logs the summary line and, with no workspace yet, the hint for making one.
pub fn log(summary: Summary<'_>) {
    let database = match summary.database.location() {
        crate::cli::database::Location::Sqlite(path) => {
            format!("SQLite {}", absolute(&path).display())
        }
        other => other.to_string(),
    };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        addr = %summary.addr,
        database = %database,
        data_dir = %absolute(&summary.database.data_dir).display(),
        workspaces = summary.workspaces,
        connectors = summary.connectors,
        encryption_key = %summary.key_source,
        max_connections = summary.max_connections,
        "osmosis is listening"
    );
    if summary.workspaces == 0 {
        tracing::info!(
            "no workspace yet: run \"osmosis workspace create --name NAME\" \
             (or set OSMOSIS_WORKSPACE_KEY/OSMOSIS_WORKSPACE_SECRET)"
        );
    }
}
