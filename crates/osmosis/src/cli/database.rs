//! The database the `--data-dir`/`--database` flags point at, as the commands
//! other than `serve` use it: opened only when it exists, and named in messages
//! with any password masked.

use crate::{data_dir, DatabaseArgs};

/// Which database, for messages and the start-up summary.
pub enum Location {
    /// A SQLite file: the data dir's `osmosis.db`, or the file of a `sqlite:` URL.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL URL, its password masked.
    Postgres(String),
    /// Anything else (refused when opened).
    Other(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Location::Postgres(url) => write!(f, "PostgreSQL {url}"),
            Location::Other(url) => write!(f, "{url}"),
        }
    }
}

impl DatabaseArgs {
    /// The database these flags name.
    pub(crate) fn location(&self) -> Location {
        match &self.database {
            None => Location::Sqlite(self.data_dir.join("osmosis.db")),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres(mask_password(url))
            }
            Some(url) => match data_dir::sqlite_path(url) {
                Some(path) => Location::Sqlite(path),
                None => Location::Other(mask_password(url)),
            },
        }
    }

    /// The database in words, for messages.
    pub(crate) fn describe(&self) -> String {
        self.location().to_string()
    }

    /// Refuses what cannot work before anything is created: a data dir that is a
    /// file, a database URL of no supported kind.
    pub(crate) fn validate(&self) -> anyhow::Result<()> {
        data_dir::check(&self.data_dir)?;
        if let Location::Other(url) = self.location() {
            if !url.starts_with("sqlite:") {
                anyhow::bail!(
                    "--database {url}: not a database URL Osmosis opens \
                     (sqlite:PATH or postgres://…)"
                );
            }
        }
        Ok(())
    }

    /// Opens an existing database (migrated), never creating one: a command that
    /// reads workspaces has nothing to read in a database it would have to create.
    pub(crate) async fn open_existing(&self) -> anyhow::Result<osmosis_store::Stores> {
        self.validate()?;
        if let Location::Sqlite(path) = self.location() {
            if !path.is_file() {
                anyhow::bail!(
                    "no database at {}: pass the --data-dir (or --database) `osmosis serve` uses",
                    path.display()
                );
            }
        }
        self.open(true).await
    }

    /// An engine over the existing database and the id of its workspace `key`,
    /// for the commands that work on one workspace's elements without a server
    /// (`export`, `import`).
    pub(crate) async fn workspace_engine(
        &self,
        key: &str,
    ) -> anyhow::Result<(osmosis_engine::Engine, String)> {
        use anyhow::Context;
        let stores = self.open_existing().await?;
        let workspace = stores
            .workspaces
            .workspace_by_key(key)
            .await
            .context("reading the workspace")?
            .with_context(|| {
                format!(
                    "no workspace `{key}` in {} (see `osmosis workspace list`)",
                    self.describe()
                )
            })?;
        let engine = osmosis_engine::Engine::new(
            stores,
            osmosis_engine::EngineConfig {
                public_url: String::new(),
            },
        );
        Ok((engine, workspace.id))
    }
}

/// A database URL with its password (in the user info or a `password=` query
/// parameter) replaced by `***`, masked as the external API logs mask URLs. A URL
/// that does not parse keeps only its scheme: where its user info ends is then
/// unknown, so nothing after `://` is safe to print.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, _)) = url.split_once("://") else {
        return url.to_string();
    };
    match url::Url::parse(url) {
        Ok(parsed) => osmosis_connectors::api_client::mask_url(
            &osmosis_connectors::redact::Redactor::new(),
            &parsed,
        ),
        Err(_) => format!("{scheme}://***"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://osmosis:s3cr@t@db.internal:5432/osmosis?sslmode=require"),
            "postgres://osmosis:***@db.internal:5432/osmosis?sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://osmosis@db/o?password=x&sslmode=disable"),
            "postgres://osmosis@db/o?password=***&sslmode=disable"
        );
        assert_eq!(
            mask_password("postgres://127.0.0.1:5432/test"),
            "postgres://127.0.0.1:5432/test"
        );
        assert_eq!(mask_password("sqlite::memory:"), "sqlite::memory:");
        // A password holding a `/` ends the authority early for a naive split.
        assert!(!mask_password("postgres://u:p/ss@h/db").contains("ss"));
    }
}
