//! Osmosis's own API, called in process: what code running for a customer (a
//! `run-javascript` action's `membrane` / `engineApiClient`) uses to reach the
//! workspace's elements, connections and actions.
//!
//! The engine cannot name the API crate (it depends on the engine), so the API
//! hands its router in at start-up ([`SelfApiSlot::set`]). A call goes through that
//! router exactly as a request from outside would — the customer's token checked,
//! the same handlers, the same errors — without a network hop or the public URL
//! (which may not be reachable from the server itself).

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde_json::Value;

/// One request to the API: `(status, JSON body)` or why it could not be made.
#[async_trait]
pub trait SelfApi: Send + Sync {
    async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String>;
}

/// Where the API's router is kept once it exists; shared by the engine's clones.
#[derive(Clone, Default)]
pub struct SelfApiSlot(Arc<OnceLock<Arc<dyn SelfApi>>>);

impl SelfApiSlot {
    /// Sets the API (the first call wins; a second router is a second server).
    pub fn set(&self, api: Arc<dyn SelfApi>) {
        let _ = self.0.set(api);
    }

    pub(crate) fn get(&self) -> Option<Arc<dyn SelfApi>> {
        self.0.get().cloned()
    }
}
