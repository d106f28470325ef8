//! Workspaces: created from the command line, or ensured at start from the
//! environment (the development path); and the catalog every workspace gets.
//!
//! ## The catalog in every workspace, on every node
//!
//! The catalog is the connectors shipped in the binary plus those of this node's
//! `--connectors-dir`. They are installed as ordinary connector elements of each
//! workspace (so a workspace may change or archive its copy, and every connector
//! lookup, list and reference works on them as on any other), and a workspace gets
//! them **the first time this node sees it**: [`Engine::workspace_by_key`], which
//! token verification calls when a key is not in its own cache, installs what is
//! missing before it answers. That covers every way a workspace comes to be — the
//! API, `osmosis workspace create` in another process on the same SQLite file,
//! `OSMOSIS_WORKSPACE_KEY` on another node of the same PostgreSQL database — without
//! this node having to hear of it: whoever created it, the first request in it on
//! this node resolves its key here, and nothing reads a workspace's connectors
//! before a request in it (a job or an OAuth callback follows a request that some
//! node served, and that node installed). `serve` also installs into every
//! workspace at start ([`Engine::install_catalog`]), and creating a workspace
//! installs at once ([`Engine::create_workspace`]).
//!
//! * Hot path: a workspace this node has installed into is remembered in a
//!   per-node set ([`Catalog`]), so a lookup costs one map probe — and token
//!   verification caches workspaces by key, so it is rarely asked at all.
//! * Concurrency: on one node, requests that see a new workspace at the same
//!   moment wait for a single install (a `OnceCell` per workspace). Across nodes
//!   (or processes) each installs only connectors whose key the workspace lacks,
//!   archived ones included, and the database's unique index on live keys makes a
//!   race insert each connector once: the loser's insert fails as
//!   `already_exists` and is skipped. When an install fails (the database is
//!   down) the request fails too and the next one tries again; nothing is
//!   remembered.
//! * Caches: workspaces are not in the SQLite read cache (`osmosis_store::cache`
//!   caches elements only), so a workspace another process created is found by
//!   the first lookup of its key; its connectors are written by this node, through
//!   its cache, so no other process's write has to be noticed.
//! * Why not a read-only layer the connector lookups fall back to: connectors are
//!   referenced by id from integrations and connections, listed with paging and
//!   search, changed and archived per workspace; a virtual layer would have to
//!   merge into every one of those paths, where installed elements need none.

use std::sync::Arc;

use dashmap::DashMap;
use osmosis_model::{ids, ApiError};
use osmosis_store::{StoreError, UniqueField, Workspace, WorkspaceStore};
use tokio::sync::OnceCell;

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
            secret: secret.unwrap_or_else(generated_secret),
            name: name.to_string(),
            created_at: now_iso(),
        };
        match self.stores.workspaces.insert_workspace(&workspace).await {
            Ok(()) => {
                self.ensure_catalog(&workspace).await?;
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

    /// The workspace whose tokens name `key`, if there is one (token verification),
    /// with the catalog installed into it when this node sees it for the first
    /// time (see the module doc).
    pub async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, ApiError> {
        let Some(ws) = self
            .stores
            .workspaces
            .workspace_by_key(key)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let installed = self.ensure_catalog(&ws).await?;
        if installed > 0 {
            tracing::info!(workspace = %ws.key, installed, "installed catalog connectors into a workspace this node had not seen");
        }
        Ok(Some(ws))
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

/// The connectors every workspace gets, and the workspaces this node has made sure
/// have them (see the module doc).
#[derive(Default)]
pub(crate) struct Catalog {
    connectors: Vec<serde_json::Value>,
    /// Workspace id → its install on this node: initialized once it succeeded;
    /// concurrent first sights wait on the one running.
    installed: DashMap<String, Arc<OnceCell<()>>>,
}

impl Engine {
    /// Connectors every workspace gets: the ones shipped in the binary and any
    /// loaded from `--connectors-dir`, as stored connector documents.
    pub fn with_catalog(mut self, connectors: Vec<serde_json::Value>) -> Self {
        self.catalog = Arc::new(Catalog {
            connectors,
            installed: DashMap::new(),
        });
        self
    }

    /// Whether `key` is the key of one of the catalog's connectors.
    pub(crate) fn is_catalog_connector(&self, key: &str) -> bool {
        self.catalog
            .connectors
            .iter()
            .any(|c| c.get("key").and_then(serde_json::Value::as_str) == Some(key))
    }

    /// Installs the catalog's connectors into every workspace that lacks them (by
    /// key, archived ones included: a connector the workspace archived or changed
    /// is its own and is left alone). Runs at start; workspaces that appear later
    /// get them when this node first sees them ([`Engine::workspace_by_key`]).
    pub async fn install_catalog(&self) -> Result<usize, ApiError> {
        let mut installed = 0;
        for ws in self
            .stores
            .workspaces
            .list_workspaces()
            .await
            .map_err(store_error)?
        {
            installed += self.ensure_catalog(&ws).await?;
        }
        Ok(installed)
    }

    /// Makes sure `ws` holds the catalog, once per workspace on this node; answers
    /// how many connectors this call installed (0 when this node had already made
    /// sure, or another node or process had installed them).
    pub(crate) async fn ensure_catalog(&self, ws: &Workspace) -> Result<usize, ApiError> {
        if self.catalog.connectors.is_empty() {
            return Ok(0);
        }
        let seen = self.catalog.installed.get(&ws.id).map(|c| Arc::clone(&c));
        let cell = match seen {
            Some(cell) if cell.initialized() => return Ok(0),
            Some(cell) => cell,
            None => Arc::clone(&self.catalog.installed.entry(ws.id.clone()).or_default()),
        };
        let mut installed = 0;
        let count = &mut installed;
        cell.get_or_try_init(|| async move {
            *count = self.install_catalog_into(ws.clone()).await?;
            Ok::<(), ApiError>(())
        })
        .await?;
        Ok(installed)
    }

    async fn install_catalog_into(&self, ws: Workspace) -> Result<usize, ApiError> {
        let caller = crate::Caller::admin(Arc::new(ws));
        let mut installed = 0;
        for doc in self.catalog.connectors.iter() {
            let Some(key) = doc.get("key").and_then(serde_json::Value::as_str) else {
                continue;
            };
            let mut q = osmosis_store::ElementQuery::new(
                caller.workspace_id(),
                osmosis_model::ElementType::Connector,
            );
            q.key = Some(key.to_owned());
            q.include_archived = true;
            if self
                .stores
                .elements
                .first_element(q)
                .await
                .map_err(store_error)?
                .is_some()
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

/// Workspaces managed from the command line: listed, their secret rotated,
/// archived.
impl Engine {
    /// Every live workspace, oldest first (archived ones are left out).
    pub async fn list_workspaces(&self) -> Result<Vec<Workspace>, ApiError> {
        self.stores
            .workspaces
            .list_workspaces()
            .await
            .map_err(store_error)
    }

    /// Gives the workspace `key` a new secret (`secret`, or a generated one) and
    /// answers the workspace with it. Tokens signed with the old secret stop
    /// verifying once servers re-read the workspace (the API's workspace cache
    /// re-reads it within seconds).
    pub async fn rotate_workspace_secret(
        &self,
        key: &str,
        secret: Option<String>,
    ) -> Result<Workspace, ApiError> {
        let secret = secret.unwrap_or_else(generated_secret);
        if !self
            .stores
            .workspaces
            .set_workspace_secret(key, &secret)
            .await
            .map_err(store_error)?
        {
            return Err(ApiError::not_found(format!("No workspace `{key}`")));
        }
        self.workspace_by_key(key)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("No workspace `{key}`")))
    }

    /// Archives the workspace `key`: it is no longer found by key or listed, so
    /// its tokens are refused; its data and its key stay.
    pub async fn archive_workspace(&self, key: &str) -> Result<(), ApiError> {
        if self
            .stores
            .workspaces
            .archive_workspace(key, &now_iso())
            .await
            .map_err(store_error)?
        {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("No workspace `{key}`")))
        }
    }
}

/// A new workspace secret (creation and rotation).
fn generated_secret() -> String {
    format!("{}{}", ids::revision(), ids::uuid_v4().replace('-', ""))
}
