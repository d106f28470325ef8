//! How long this server keeps what it logs: set at start-up (`osmosis serve
//! --api-log-retention-days`, `--flow-run-retention-days`), read by the console's
//! settings page so an admin knows how far back the logs it shows can reach.

use std::time::Duration;

use osmosis_model::ApiError;

use crate::{Caller, Engine};

/// The retention periods this node was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// External API logs, action run logs, incoming webhooks, app events,
    /// external event log records and pulls.
    pub logs: Duration,
    /// Finished flow runs.
    pub flow_runs: Duration,
}

impl Engine {
    /// The retention periods; admin only, like the other workspace settings.
    pub fn retention(&self, caller: &Caller) -> Result<Retention, ApiError> {
        caller.require_admin("retention settings need an admin token")?;
        Ok(Retention {
            logs: self.api_log_retention,
            flow_runs: self.flow_limits.retention,
        })
    }
}
