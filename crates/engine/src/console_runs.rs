//! What the console's flow run page reads beyond the API's calls: a run with its
//! node runs in one read. The API answers node runs one node at a time
//! (`GET /flow-runs/{id}/nodes/{key}/runs`), which would cost a page one query
//! per node; the console shows every node of a run on one page, so it reads them
//! together, in the order they were recorded, up to a bound.

use osmosis_model::ApiError;
use serde_json::Value;

use crate::errors::store_error;
use crate::flows::records;
use crate::{Caller, Engine};

/// A run as `GET /flow-runs/{id}` answers it, with its first node runs.
#[derive(Debug, Clone)]
pub struct RunWithNodeRuns {
    pub run: Value,
    /// Whole node run records (outputs with their data), oldest first.
    pub node_runs: Vec<Value>,
    /// More node runs were recorded than `limit`.
    pub more: bool,
}

impl Engine {
    /// The run `id` the caller may see (as `Flows::get` decides, so another
    /// workspace's or customer's run is `not_found`) and its first `limit` node
    /// runs.
    pub async fn run_with_node_runs(
        &self,
        caller: &Caller,
        id: &str,
        limit: i64,
    ) -> Result<RunWithNodeRuns, ApiError> {
        let run = self.flows().get(caller, id, None).await?;
        let limit = limit.clamp(1, 1000);
        let mut rows = self
            .stores
            .flow_runs
            .find_node_runs(caller.workspace_id(), id, None, None, limit + 1)
            .await
            .map_err(store_error)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Ok(RunWithNodeRuns {
            run,
            node_runs: rows.iter().map(records::render_node_run).collect(),
            more,
        })
    }
}
