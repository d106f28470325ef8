//! Workspaces: created from the command line, or ensured at start from the
//! environment (the development path).

use osmosis_model::{ids, ApiError};
use osmosis_store::{StoreError, UniqueField, Workspace};

use crate::clock::now_iso;
use crate::elements::store_error;
use crate::Engine;

/// Whether `ensure_workspace` found the workspace or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Existing,
    Created,
}

impl Engine {
    /// Creates a workspace; key and secret are generated when not given.
    pub async fn create_workspace(
        &self,
        name: &str,
        key: Option<String>,
        secret: Option<String>,
    ) -> Result<Workspace, ApiError> {
        let workspace = Workspace {
            id: format!("wsp_{}", ids::object_id()),
            key: key.unwrap_or_else(ids::uuid_v4),
            secret: secret.unwrap_or_else(|| {
                format!("{}{}", ids::revision(), ids::uuid_v4().replace('-', ""))
            }),
            name: name.to_string(),
            created_at: now_iso(),
        };
        match self.store.insert_workspace(&workspace).await {
            Ok(()) => Ok(workspace),
            Err(StoreError::Unique(UniqueField::WorkspaceKey))
            | Err(StoreError::Unique(UniqueField::Id)) => Err(ApiError::already_exists(format!(
                "A workspace with key `{}` already exists",
                workspace.key
            ))),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The workspace with this id.
    pub async fn workspace_by_id(&self, id: &str) -> Result<std::sync::Arc<Workspace>, ApiError> {
        self.store
            .list_workspaces()
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|w| w.id == id)
            .map(std::sync::Arc::new)
            .ok_or_else(|| ApiError::not_found(format!("No workspace `{id}`")))
    }

    /// Makes sure the workspace `key` exists with `secret`. An existing workspace
    /// with another secret is an error: silently keeping the old secret would make
    /// every token signed with the new one fail.
    pub async fn ensure_workspace(
        &self,
        key: &str,
        secret: &str,
    ) -> Result<(Workspace, Ensured), ApiError> {
        if let Some(ws) = self
            .store
            .workspace_by_key(key)
            .await
            .map_err(store_error)?
        {
            if ws.secret != secret {
                return Err(ApiError::configuration(format!(
                    "Workspace `{key}` already exists with a different secret"
                )));
            }
            return Ok((ws, Ensured::Existing));
        }
        match self
            .create_workspace(key, Some(key.to_string()), Some(secret.to_string()))
            .await
        {
            Ok(ws) => Ok((ws, Ensured::Created)),
            // Another node created it at the same moment.
            Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::ALREADY_EXISTS) => {
                let ws = self
                    .store
                    .workspace_by_key(key)
                    .await
                    .map_err(store_error)?
                    .ok_or(e)?;
                Ok((ws, Ensured::Existing))
            }
            Err(e) => Err(e),
        }
    }
}
