//! Workspaces: created from the command line, or ensured at start from the
//! environment (the development path).

use osmosis_model::{ids, ApiError};
use osmosis_store::{StoreError, UniqueField, Workspace, WorkspaceStore};

use crate::clock::now_iso;
use crate::errors::store_error;
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
        match self.stores.workspaces.insert_workspace(&workspace).await {
            Ok(()) => {
                self.install_catalog_into(workspace.clone()).await?;
                Ok(workspace)
            }
            Err(StoreError::Unique(UniqueField::WorkspaceKey))
            | Err(StoreError::Unique(UniqueField::Id)) => Err(ApiError::already_exists(format!(
                "A workspace with key `{}` already exists",
                workspace.key
            ))),
            Err(e) => Err(store_error(e)),
        }
    }

    /// The workspace whose tokens name `key`, if there is one (token verification).
    pub async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, ApiError> {
        self.stores
            .workspaces
            .workspace_by_key(key)
            .await
            .map_err(store_error)
    }

    /// The workspace with this id.
    pub async fn workspace_by_id(&self, id: &str) -> Result<std::sync::Arc<Workspace>, ApiError> {
        workspace_by_id(self.stores.workspaces.as_ref(), id).await
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
            .stores
            .workspaces
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
                    .stores
                    .workspaces
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

impl Engine {
    /// Connectors every workspace gets: the ones shipped in the binary and any
    /// loaded from `--connectors-dir`, as stored connector documents.
    pub fn with_catalog(mut self, connectors: Vec<serde_json::Value>) -> Self {
        self.catalog = std::sync::Arc::new(connectors);
        self
    }

    /// Installs the catalog's connectors into every workspace that lacks them (by
    /// key, archived ones included: a connector the workspace archived or changed
    /// is its own and is left alone). Runs at start and for each new workspace.
    pub async fn install_catalog(&self) -> Result<usize, ApiError> {
        let mut installed = 0;
        for ws in self
            .stores
            .workspaces
            .list_workspaces()
            .await
            .map_err(store_error)?
        {
            installed += self.install_catalog_into(ws).await?;
        }
        Ok(installed)
    }

    async fn install_catalog_into(&self, ws: Workspace) -> Result<usize, ApiError> {
        let caller = crate::Caller::admin(std::sync::Arc::new(ws));
        let mut installed = 0;
        for doc in self.catalog.iter() {
            let Some(key) = doc.get("key").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let mut q = osmosis_store::ElementQuery::new(
                caller.workspace_id(),
                osmosis_model::ElementType::Connector,
            );
            q.key = Some(key.to_owned());
            q.include_archived = true;
            q.limit = 1;
            if !self
                .stores
                .elements
                .find_elements(&q)
                .await
                .map_err(store_error)?
                .is_empty()
            {
                continue;
            }
            let Some(body) = doc.as_object().cloned() else {
                continue;
            };
            match self
                .elements()
                .create(
                    &caller,
                    osmosis_model::ElementType::Connector,
                    crate::elements::NewElement::from_body(body),
                )
                .await
            {
                Ok(_) => installed += 1,
                Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::ALREADY_EXISTS) => {}
                Err(e) => {
                    tracing::warn!(connector = key, error = %e.message, "could not install a catalog connector")
                }
            }
        }
        Ok(installed)
    }
}

/// The workspace with this id, from the workspace store.
pub(crate) async fn workspace_by_id(
    store: &dyn WorkspaceStore,
    id: &str,
) -> Result<std::sync::Arc<Workspace>, ApiError> {
    store
        .list_workspaces()
        .await
        .map_err(store_error)?
        .into_iter()
        .find(|w| w.id == id)
        .map(std::sync::Arc::new)
        .ok_or_else(|| ApiError::not_found(format!("No workspace `{id}`")))
}
