//! Workspaces: the tenants of a server, each with the secret its tokens are signed
//! with and a settings document.

use async_trait::async_trait;
use serde_json::Value;
use sqlx::{QueryBuilder, Row};

use crate::constraints::classify_unique;
use crate::error::StoreError;
use crate::sql_store::{for_each_backend, SqlStore};

/// A workspace: a tenant of the server with the secret its tokens are signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub key: String,
    pub secret: String,
    pub name: String,
    pub created_at: String,
}

#[async_trait]
pub trait WorkspaceStore: Send + Sync + 'static {
    /// Adds a workspace. Fails with [`StoreError::Unique`] when its key
    /// ([`crate::UniqueField::WorkspaceKey`]) or id is taken.
    async fn insert_workspace(&self, workspace: &Workspace) -> Result<(), StoreError>;

    /// The live workspace with this key (an archived one is not found).
    async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError>;

    /// Every live workspace, oldest first (start-up work such as installing the
    /// shipped connectors; background jobs that know only a workspace id).
    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError>;

    /// A workspace's settings document (`{}` when none were set).
    async fn workspace_settings(&self, workspace_id: &str) -> Result<Value, StoreError>;

    /// Replaces a workspace's settings document.
    async fn set_workspace_settings(
        &self,
        workspace_id: &str,
        settings: &Value,
    ) -> Result<(), StoreError>;

    /// Replaces the secret of the live workspace `key`; false when there is none.
    async fn set_workspace_secret(&self, key: &str, secret: &str) -> Result<bool, StoreError>;

    /// Archives the live workspace `key`: it is no longer found by key nor listed
    /// (its tokens are refused), its key stays taken and its data stays. False when
    /// there is no such live workspace.
    async fn archive_workspace(&self, key: &str, archived_at: &str) -> Result<bool, StoreError>;
}

const COLUMNS: &str = "id, key, secret, name, created_at";

for_each_backend! {
    #[async_trait]
    impl WorkspaceStore for SqlStore<DB> {
        async fn insert_workspace(&self, w: &Workspace) -> Result<(), StoreError> {
            let mut q =
                QueryBuilder::<DB>::new(format!("INSERT INTO workspaces ({COLUMNS}) VALUES ("));
            let mut values = q.separated(", ");
            for v in [&w.id, &w.key, &w.secret, &w.name, &w.created_at] {
                values.push_bind(v.as_str());
            }
            q.push(")");
            q.build()
                .execute(&mut *self.writer().await?)
                .await
                .map_err(classify_unique)?;
            Ok(())
        }

        async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError> {
            let mut q =
                QueryBuilder::<DB>::new(format!("SELECT {COLUMNS} FROM workspaces WHERE key = "));
            q.push_bind(key);
            q.push(" AND archived_at IS NULL");
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            row.as_ref().map(decode).transpose()
        }

        async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
            let rows = sqlx::query::<DB>(&format!(
                "SELECT {COLUMNS} FROM workspaces WHERE archived_at IS NULL ORDER BY created_at, id"
            ))
            .fetch_all(&mut *self.reader().await?)
            .await?;
            rows.iter().map(decode).collect()
        }

        async fn workspace_settings(&self, workspace_id: &str) -> Result<Value, StoreError> {
            let mut q = QueryBuilder::<DB>::new("SELECT settings FROM workspaces WHERE id = ");
            q.push_bind(workspace_id);
            let row = q.build().fetch_optional(&mut *self.reader().await?).await?;
            match row {
                None => Ok(serde_json::json!({})),
                Some(r) => serde_json::from_str(r.try_get("settings")?)
                    .map_err(|e| StoreError::Corrupt(format!("workspace settings: {e}"))),
            }
        }

        async fn set_workspace_settings(
            &self,
            workspace_id: &str,
            settings: &Value,
        ) -> Result<(), StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE workspaces SET settings = ");
            q.push_bind(settings.to_string());
            q.push(" WHERE id = ").push_bind(workspace_id);
            q.build().execute(&mut *self.writer().await?).await?;
            Ok(())
        }

        async fn set_workspace_secret(&self, key: &str, secret: &str) -> Result<bool, StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE workspaces SET secret = ");
            q.push_bind(secret);
            q.push(" WHERE key = ").push_bind(key);
            q.push(" AND archived_at IS NULL");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }

        async fn archive_workspace(&self, key: &str, archived_at: &str) -> Result<bool, StoreError> {
            let mut q = QueryBuilder::<DB>::new("UPDATE workspaces SET archived_at = ");
            q.push_bind(archived_at);
            q.push(" WHERE key = ").push_bind(key);
            q.push(" AND archived_at IS NULL");
            let done = q.build().execute(&mut *self.writer().await?).await?;
            Ok(done.rows_affected() > 0)
        }
    }

    fn decode(r: &<DB as sqlx::Database>::Row) -> Result<Workspace, StoreError> {
        Ok(Workspace {
            id: r.try_get("id")?,
            key: r.try_get("key")?,
            secret: r.try_get("secret")?,
            name: r.try_get("name")?,
            created_at: r.try_get("created_at")?,
        })
    }
}
