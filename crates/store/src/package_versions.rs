//! Package versions: a package as it was when a version was published, kept as
//! one opaque JSON snapshot per version. Versions are published once and never
//! changed: inserting a version that exists changes nothing and says so (the
//! caller answers 409), so no write path can alter history. What a snapshot
//! holds, which version is a version's parent and what `latest` means is the
//! engine's business (`osmosis_engine::package_versions`); this store only keeps
//! rows apart by workspace and package and lists them newest first.
//!
//! The packages made public live here too (`public_packages`): the one list
//! that crosses workspaces, so any workspace can find and install them.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// One published version of a package.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageVersion {
    pub workspace_id: String,
    pub package_id: String,
    /// The version's name (`1.2.3`).
    pub version: String,
    /// Its public id.
    pub id: String,
    pub changelog: Option<String>,
    /// The version published just before it, if any.
    pub parent_version: Option<String>,
    /// Milliseconds since the epoch; orders a package's versions.
    pub created_ms: i64,
    /// The package as it was.
    pub snapshot: Value,
}

#[async_trait]
pub trait PackageVersionStore: Send + Sync + 'static {
    /// Stores `row` unless its version exists; false (and nothing written) when
    /// it does.
    async fn insert_package_version(&self, row: &PackageVersion) -> Result<bool, StoreError>;

    /// The versions of a package, newest first (by creation, then version).
    async fn package_versions(
        &self,
        workspace_id: &str,
        package_id: &str,
    ) -> Result<Vec<PackageVersion>, StoreError>;

    /// The newest version of a package (the first of [`Self::package_versions`]),
    /// read alone.
    async fn newest_package_version(
        &self,
        workspace_id: &str,
        package_id: &str,
    ) -> Result<Option<PackageVersion>, StoreError>;

    /// One version of a package.
    async fn package_version(
        &self,
        workspace_id: &str,
        package_id: &str,
        version: &str,
    ) -> Result<Option<PackageVersion>, StoreError>;

    /// Makes the package public (`published_ms`) or not (`None`); either twice
    /// is a no-op.
    async fn set_package_public(
        &self,
        workspace_id: &str,
        package_id: &str,
        published_ms: Option<i64>,
    ) -> Result<(), StoreError>;

    /// The workspace of a public package; `None` when it is not public.
    async fn public_package_workspace(
        &self,
        package_id: &str,
    ) -> Result<Option<String>, StoreError>;

    /// The public packages of every workspace as `(workspace_id, package_id)`,
    /// by package id, from after `after`, at most `limit`.
    async fn public_packages(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, String)>, StoreError>;
}

const COLUMNS: &str =
    "workspace_id, package_id, version, id, changelog, parent_version, created_ms, snapshot";

for_each_backend! {
    #[async_trait]
    impl PackageVersionStore for SqlStore<DB> {
        async fn insert_package_version(&self, row: &PackageVersion) -> Result<bool, StoreError> {
            let snapshot = row.snapshot.to_string();
            let mut q = QueryBuilder::<DB>::new(format!(
                "INSERT INTO package_versions ({COLUMNS}) VALUES ("
            ));
            let mut values = q.separated(", ");
            values.push_bind(&row.workspace_id);
            values.push_bind(&row.package_id);
            values.push_bind(&row.version);
            values.push_bind(&row.id);
            values.push_bind(&row.changelog);
            values.push_bind(&row.parent_version);
            values.push_bind(row.created_ms);
            values.push_bind(&snapshot);
            q.push(") ON CONFLICT (workspace_id, package_id, version) DO NOTHING");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn package_versions(
            &self,
            workspace_id: &str,
            package_id: &str,
        ) -> Result<Vec<PackageVersion>, StoreError> {
            let mut q = newest_first(workspace_id, package_id);
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter().map(decode).collect()
        }

        async fn newest_package_version(
            &self,
            workspace_id: &str,
            package_id: &str,
        ) -> Result<Option<PackageVersion>, StoreError> {
            let mut q = newest_first(workspace_id, package_id);
            q.push(" LIMIT 1");
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn package_version(
            &self,
            workspace_id: &str,
            package_id: &str,
            version: &str,
        ) -> Result<Option<PackageVersion>, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM package_versions"));
            q.push(" WHERE workspace_id = ").push_bind(workspace_id);
            q.push(" AND package_id = ").push_bind(package_id);
            q.push(" AND version = ").push_bind(version);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn set_package_public(
            &self,
            workspace_id: &str,
            package_id: &str,
            published_ms: Option<i64>,
        ) -> Result<(), StoreError> {
            let mut q = QueryBuilder::<DB>::new("");
            match published_ms {
                Some(ms) => {
                    q.push("INSERT INTO public_packages (package_id, workspace_id, published_ms) VALUES (");
                    q.push_bind(package_id).push(", ").push_bind(workspace_id).push(", ").push_bind(ms);
                    q.push(") ON CONFLICT (package_id) DO NOTHING");
                }
                None => {
                    q.push("DELETE FROM public_packages WHERE package_id = ").push_bind(package_id);
                    q.push(" AND workspace_id = ").push_bind(workspace_id);
                }
            }
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn public_package_workspace(
            &self,
            package_id: &str,
        ) -> Result<Option<String>, StoreError> {
            let mut q = QueryBuilder::<DB>::new("SELECT workspace_id FROM public_packages");
            q.push(" WHERE package_id = ").push_bind(package_id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.map(|r| r.try_get("workspace_id")).transpose().map_err(Into::into)
        }

        async fn public_packages(
            &self,
            after: Option<&str>,
            limit: usize,
        ) -> Result<Vec<(String, String)>, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new("SELECT workspace_id, package_id FROM public_packages");
            if let Some(after) = after {
                q.push(" WHERE package_id > ").push_bind(after);
            }
            q.push(" ORDER BY package_id LIMIT ")
                .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
            let rows = q.build().fetch_all(&mut *self.reader().await?).await?;
            rows.iter()
                .map(|r| Ok((r.try_get("workspace_id")?, r.try_get("package_id")?)))
                .collect()
        }
    }

    /// A package's versions, newest first.
    fn newest_first<'a>(workspace_id: &'a str, package_id: &'a str) -> QueryBuilder<'a, DB> {
        let mut q = QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM package_versions"));
        q.push(" WHERE workspace_id = ").push_bind(workspace_id);
        q.push(" AND package_id = ").push_bind(package_id);
        q.push(" ORDER BY created_ms DESC, version DESC");
        q
    }

    fn decode(row: &<DB as sqlx::Database>::Row) -> Result<PackageVersion, StoreError> {
        let version: String = row.try_get("version")?;
        let snapshot: &str = row.try_get("snapshot")?;
        let snapshot = serde_json::from_str(snapshot).map_err(|e| {
            StoreError::Corrupt(format!("package version {version} snapshot: {e}"))
        })?;
        Ok(PackageVersion {
            workspace_id: row.try_get("workspace_id")?,
            package_id: row.try_get("package_id")?,
            id: row.try_get("id")?,
            changelog: row.try_get("changelog")?,
            parent_version: row.try_get("parent_version")?,
            created_ms: row.try_get("created_ms")?,
            snapshot,
            version,
        })
    }
}
