//! Connector sources and versions: a connector's source folder as a zip, with the
//! definition it assembles to, per version. One version per connector is the
//! working copy the engine replaces at will (it calls it `development`); the
//! others are published once and never changed: inserting a version that exists
//! changes nothing and says so. Which version is which, and what a source holds,
//! is the engine's business; rows here are opaque bytes and JSON.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// One version of a connector's source, without the source's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorVersion {
    pub workspace_id: String,
    pub connector_id: String,
    /// `development` or a published version (`1.2.3`).
    pub version: String,
    /// Its public id.
    pub id: String,
    pub changelog: Option<String>,
    /// Milliseconds since the epoch.
    pub created_ms: i64,
    /// The definition the source assembles to.
    pub definition: Value,
}

#[async_trait]
pub trait ConnectorVersionStore: Send + Sync + 'static {
    /// Stores `row` with its source, replacing the row of the same version if
    /// there is one (keeping that row's id).
    async fn upsert_connector_version(
        &self,
        row: &ConnectorVersion,
        source: &[u8],
    ) -> Result<(), StoreError>;

    /// Stores `row` with its source unless its version exists; false (and
    /// nothing written) when it does.
    async fn insert_connector_version(
        &self,
        row: &ConnectorVersion,
        source: &[u8],
    ) -> Result<bool, StoreError>;

    /// The versions of a connector, newest first (by creation, then version).
    async fn connector_versions(
        &self,
        workspace_id: &str,
        connector_id: &str,
    ) -> Result<Vec<ConnectorVersion>, StoreError>;

    /// The source of one version.
    async fn connector_version_source(
        &self,
        workspace_id: &str,
        connector_id: &str,
        version: &str,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes one version; false when there was none.
    async fn delete_connector_version(
        &self,
        workspace_id: &str,
        connector_id: &str,
        version: &str,
    ) -> Result<bool, StoreError>;
}

const COLUMNS: &str = "workspace_id, connector_id, version, id, changelog, created_ms, definition";

for_each_backend! {
    /// `INSERT` of the row, its values bound, without an end.
    fn insert<'a>(row: &'a ConnectorVersion, definition: &'a str, source: &'a [u8]) -> QueryBuilder<'a, DB> {
        let mut q = QueryBuilder::<DB>::new(format!(
            "INSERT INTO connector_versions ({COLUMNS}, source) VALUES ("
        ));
        let mut values = q.separated(", ");
        values.push_bind(&row.workspace_id);
        values.push_bind(&row.connector_id);
        values.push_bind(&row.version);
        values.push_bind(&row.id);
        values.push_bind(&row.changelog);
        values.push_bind(row.created_ms);
        values.push_bind(definition);
        values.push_bind(source);
        q.push(")");
        q
    }

    #[async_trait]
    impl ConnectorVersionStore for SqlStore<DB> {
        async fn upsert_connector_version(
            &self,
            row: &ConnectorVersion,
            source: &[u8],
        ) -> Result<(), StoreError> {
            let definition = row.definition.to_string();
            let mut q = insert(row, &definition, source);
            q.push(
                " ON CONFLICT (workspace_id, connector_id, version) DO UPDATE SET \
                 changelog = excluded.changelog, created_ms = excluded.created_ms, \
                 definition = excluded.definition, source = excluded.source",
            );
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn insert_connector_version(
            &self,
            row: &ConnectorVersion,
            source: &[u8],
        ) -> Result<bool, StoreError> {
            let definition = row.definition.to_string();
            let mut q = insert(row, &definition, source);
            q.push(" ON CONFLICT (workspace_id, connector_id, version) DO NOTHING");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn connector_versions(
            &self,
            workspace_id: &str,
            connector_id: &str,
        ) -> Result<Vec<ConnectorVersion>, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM connector_versions"));
            q.push(" WHERE workspace_id = ").push_bind(workspace_id);
            q.push(" AND connector_id = ").push_bind(connector_id);
            q.push(" ORDER BY created_ms DESC, version DESC");
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode).collect()
        }

        async fn connector_version_source(
            &self,
            workspace_id: &str,
            connector_id: &str,
            version: &str,
        ) -> Result<Option<Vec<u8>>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("SELECT source FROM connector_versions");
            push_address(&mut q, workspace_id, connector_id, version);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            Ok(row.map(|r| r.try_get("source")).transpose()?)
        }

        async fn delete_connector_version(
            &self,
            workspace_id: &str,
            connector_id: &str,
            version: &str,
        ) -> Result<bool, StoreError> {
            let mut q = QueryBuilder::<DB>::new("DELETE FROM connector_versions");
            push_address(&mut q, workspace_id, connector_id, version);
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }
    }

    fn push_address<'a>(
        q: &mut QueryBuilder<'a, DB>,
        workspace_id: &'a str,
        connector_id: &'a str,
        version: &'a str,
    ) {
        q.push(" WHERE workspace_id = ").push_bind(workspace_id);
        q.push(" AND connector_id = ").push_bind(connector_id);
        q.push(" AND version = ").push_bind(version);
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<ConnectorVersion, StoreError> {
        let version: String = row.try_get("version")?;
        let definition: &str = row.try_get("definition")?;
        let definition = serde_json::from_str(definition).map_err(|e| {
            StoreError::Corrupt(format!("connector version {version} definition: {e}"))
        })?;
        Ok(ConnectorVersion {
            workspace_id: row.try_get("workspace_id")?,
            connector_id: row.try_get("connector_id")?,
            id: row.try_get("id")?,
            changelog: row.try_get("changelog")?,
            created_ms: row.try_get("created_ms")?,
            definition,
            version,
        })
    }
}
