//! A workspace at a glance, for the console's first page: counts read by the
//! database (never by loading the rows), and the few newest failures.

use osmosis_model::{ApiError, ElementType};
use osmosis_store::{ElementQuery, FlowRunQuery};
use serde_json::Value;

use crate::clock::now_ms;
use crate::errors::store_error;
use crate::{Caller, Engine};

/// How far back "recent" runs go.
pub const RECENT_MS: i64 = 24 * 3_600_000;

#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub integrations: i64,
    pub customers: i64,
    pub connections: i64,
    /// Connections that need their customer to reconnect (not `connected`).
    pub disconnected: i64,
    /// Runs made in the last [`RECENT_MS`], by state.
    pub recent_runs: Vec<(String, i64)>,
    /// The newest failed runs, as the API renders them.
    pub recent_failures: Vec<Value>,
}

impl Engine {
    pub async fn overview(&self, caller: &Caller) -> Result<Overview, ApiError> {
        caller.require_admin("The overview needs an admin token")?;
        let ws = caller.workspace_id();
        let count = |t: ElementType, disconnected: bool| {
            let mut q = ElementQuery::new(ws, t);
            // What the connection list's `state=disconnected` filter reads too:
            // a refused refresh or a revoked grant clears `connected`.
            if disconnected {
                q.doc_equals = vec![("connected".into(), Value::Bool(false))];
            }
            async move { self.stores.elements.count_elements(&q).await }
        };
        let runs = &self.stores.flow_runs;
        let failed = runs
            .find_flow_runs(&FlowRunQuery {
                workspace_id: ws.to_string(),
                state: Some("failed".into()),
                descending: true,
                limit: 5,
                ..Default::default()
            })
            .await
            .map_err(store_error)?;
        Ok(Overview {
            integrations: count(ElementType::Integration, false)
                .await
                .map_err(store_error)?,
            customers: count(ElementType::Customer, false)
                .await
                .map_err(store_error)?,
            connections: count(ElementType::Connection, false)
                .await
                .map_err(store_error)?,
            disconnected: count(ElementType::Connection, true)
                .await
                .map_err(store_error)?,
            recent_runs: runs
                .count_flow_runs_by_state(ws, now_ms() - RECENT_MS)
                .await
                .map_err(store_error)?,
            recent_failures: failed
                .iter()
                .map(crate::flows::records::render_run)
                .collect(),
        })
    }
}
