//! A read cache in front of a store that one node owns alone (SQLite).
//!
//! Reads of elements are answered from memory; every write bumps a generation
//! counter of the (workspace, element type) it touched, and a cached read is only
//! used while the generation it was taken under is current. A read tags its entry
//! with the generation seen *before* it queried, so a write racing the read always
//! invalidates it. Only valid when no other process writes the database — `open`
//! never wraps a shared (PostgreSQL) store.

use std::sync::Arc;

use async_trait::async_trait;
use dashmap::DashMap;
use osmosis_model::{Element, ElementType};

use crate::{
    ConnectRecord, ElementQuery, ExternalApiLog, ExternalApiLogQuery, Job, Lease, Store,
    StoreError, Workspace,
};

/// Entries kept before the cache starts over; bounds memory on huge workspaces.
const MAX_ENTRIES: usize = 100_000;

/// A cached value with the generation it was read under.
type Tagged<T> = (u64, T);

pub struct CachedStore {
    inner: Arc<dyn Store>,
    generations: DashMap<(String, ElementType), u64>,
    queries: DashMap<String, Tagged<Arc<Vec<Element>>>>,
    by_id: DashMap<(String, String), Tagged<Option<Arc<Element>>>>,
}

impl CachedStore {
    pub fn new(inner: Arc<dyn Store>) -> Self {
        CachedStore {
            inner,
            generations: DashMap::new(),
            queries: DashMap::new(),
            by_id: DashMap::new(),
        }
    }

    fn generation(&self, workspace_id: &str, t: ElementType) -> u64 {
        self.generations
            .get(&(workspace_id.to_string(), t))
            .map(|g| *g)
            .unwrap_or(0)
    }

    fn bump(&self, workspace_id: &str, t: ElementType) {
        *self
            .generations
            .entry((workspace_id.to_string(), t))
            .or_insert(0) += 1;
    }

    fn trim(&self) {
        if self.queries.len() + self.by_id.len() > MAX_ENTRIES {
            self.queries.clear();
            self.by_id.clear();
        }
    }
}

/// The element type an id names by its prefix.
fn type_of_id(id: &str) -> Option<ElementType> {
    ElementType::ALL.into_iter().find(|t| t.is_id(id))
}

#[async_trait]
impl Store for CachedStore {
    async fn insert_workspace(&self, workspace: &Workspace) -> Result<(), StoreError> {
        self.inner.insert_workspace(workspace).await
    }

    async fn workspace_by_key(&self, key: &str) -> Result<Option<Workspace>, StoreError> {
        self.inner.workspace_by_key(key).await
    }

    async fn list_workspaces(&self) -> Result<Vec<Workspace>, StoreError> {
        self.inner.list_workspaces().await
    }

    async fn insert_element(&self, element: &Element, key_scope: &str) -> Result<i64, StoreError> {
        let result = self.inner.insert_element(element, key_scope).await;
        self.bump(&element.workspace_id, element.element_type);
        result
    }

    async fn update_element(
        &self,
        element: &Element,
        key_scope: &str,
        expected: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .inner
            .update_element(element, key_scope, expected)
            .await;
        self.bump(&element.workspace_id, element.element_type);
        result
    }

    async fn element_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, StoreError> {
        let Some(t) = type_of_id(id) else {
            return self.inner.element_by_id(workspace_id, id).await;
        };
        let generation = self.generation(workspace_id, t);
        let key = (workspace_id.to_string(), id.to_string());
        if let Some(hit) = self.by_id.get(&key) {
            if hit.0 == generation {
                return Ok(hit.1.as_deref().cloned());
            }
        }
        let found = self.inner.element_by_id(workspace_id, id).await?;
        self.trim();
        self.by_id
            .insert(key, (generation, found.clone().map(Arc::new)));
        Ok(found)
    }

    async fn find_elements(&self, query: &ElementQuery) -> Result<Vec<Element>, StoreError> {
        let generation = self.generation(&query.workspace_id, query.element_type);
        let key = format!("{query:?}");
        if let Some(hit) = self.queries.get(&key) {
            if hit.0 == generation {
                return Ok(hit.1.as_ref().clone());
            }
        }
        let found = self.inner.find_elements(query).await?;
        self.trim();
        self.queries
            .insert(key, (generation, Arc::new(found.clone())));
        Ok(found)
    }

    async fn schedule_job(&self, job: &Job, now_ms: i64) -> Result<(), StoreError> {
        self.inner.schedule_job(job, now_ms).await
    }

    async fn claim_jobs(
        &self,
        node: &str,
        lease: Lease,
        limit: i64,
    ) -> Result<Vec<Job>, StoreError> {
        self.inner.claim_jobs(node, lease, limit).await
    }

    async fn finish_job(&self, job: &Job, node: &str) -> Result<(), StoreError> {
        self.inner.finish_job(job, node).await
    }

    async fn retry_job(
        &self,
        job: &Job,
        node: &str,
        run_at: i64,
        error: &str,
    ) -> Result<(), StoreError> {
        self.inner.retry_job(job, node, run_at, error).await
    }

    async fn put_connect_record(&self, record: &ConnectRecord) -> Result<(), StoreError> {
        self.inner.put_connect_record(record).await
    }

    async fn connect_record(
        &self,
        workspace_id: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<ConnectRecord>, StoreError> {
        self.inner
            .connect_record(workspace_id, kind, id, now_ms)
            .await
    }

    async fn take_connect_record(
        &self,
        workspace_id: &str,
        kind: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<Option<ConnectRecord>, StoreError> {
        self.inner
            .take_connect_record(workspace_id, kind, id, now_ms)
            .await
    }

    async fn take_lease(&self, record: &ConnectRecord, now_ms: i64) -> Result<bool, StoreError> {
        self.inner.take_lease(record, now_ms).await
    }

    async fn purge_connect_records(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.inner.purge_connect_records(before_ms).await
    }

    async fn workspace_settings(
        &self,
        workspace_id: &str,
    ) -> Result<serde_json::Value, StoreError> {
        self.inner.workspace_settings(workspace_id).await
    }

    async fn set_workspace_settings(
        &self,
        workspace_id: &str,
        settings: &serde_json::Value,
    ) -> Result<(), StoreError> {
        self.inner
            .set_workspace_settings(workspace_id, settings)
            .await
    }

    async fn purge_api_logs(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.inner.purge_api_logs(before_ms).await
    }

    async fn insert_api_logs(&self, logs: &[ExternalApiLog]) -> Result<(), StoreError> {
        self.inner.insert_api_logs(logs).await
    }

    async fn find_api_logs(
        &self,
        query: &ExternalApiLogQuery,
    ) -> Result<Vec<ExternalApiLog>, StoreError> {
        self.inner.find_api_logs(query).await
    }

    async fn api_log_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<ExternalApiLog>, StoreError> {
        self.inner.api_log_by_id(workspace_id, id).await
    }

    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn schema_version(&self) -> Result<i64, StoreError> {
        self.inner.schema_version().await
    }
}
