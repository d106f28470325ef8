//! Action run logs: `GET /action-run-logs` and `GET /action-run-logs/{id}` (with
//! `details=true`, or `/details`, the trace of external calls).
//!
//! Storage: a table of its own (`action_run_logs`, migration 0008), like the
//! external API logs — append-only rows, the record as the API renders it in one
//! JSON column beside the columns the filters use. A customer sees only its own
//! runs; another's run is `not_found`. Runs older than the workspace's log
//! retention (the one setting shared with external API logs) are deleted by the
//! worker.

use osmosis_model::ApiError;
use osmosis_store::{ActionRunLog, ActionRunLogQuery};
use serde_json::{json, Value};

use super::Actions;
use crate::elements::Depth;
use crate::errors::store_error;
use crate::log_pages::LogPageParams;
use crate::Caller;

/// `FindActionRunLogsQuery` as given (strings). Unknown parameters are ignored, as
/// list queries do.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRunLogFilter {
    /// The action that ran, at any layer (its id).
    pub action_id: Option<String>,
    pub universal_action_id: Option<String>,
    pub integration_action_id: Option<String>,
    pub connection_action_id: Option<String>,
    /// By id or key.
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    /// The customer, by id or key.
    #[serde(alias = "userId", alias = "customerId")]
    pub tenant_id: Option<String>,
    /// `success` or `error`.
    pub status: Option<String>,
    #[serde(flatten)]
    pub page: LogPageParams,
}

impl Actions<'_> {
    /// `GET /action-run-logs`: `{items, cursor}`, newest first unless `sortOrder=asc`.
    pub async fn list_run_logs(
        &self,
        caller: &Caller,
        filter: &ActionRunLogFilter,
    ) -> Result<Value, ApiError> {
        let page = filter.page.check()?;
        let is_success = match filter.status.as_deref() {
            None | Some("") => None,
            Some("success") => Some(true),
            Some("error") => Some(false),
            Some(_) => {
                return Err(ApiError::invalid_query(
                    "status",
                    "must be success or error",
                ))
            }
        };
        let Some(customer_id) = self
            .calls
            .log_customer(caller, filter.tenant_id.as_deref())
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        let q = ActionRunLogQuery {
            workspace_id: caller.workspace_id().to_owned(),
            customer_id,
            integration_id: match &filter.integration_id {
                Some(i) => Some(self.calls.integration_id_of(caller, i).await),
                None => None,
            },
            connection_id: filter.connection_id.clone(),
            action_id: filter.action_id.clone(),
            universal_action_id: filter.universal_action_id.clone(),
            integration_action_id: filter.integration_action_id.clone(),
            connection_action_id: filter.connection_action_id.clone(),
            is_success,
            from_ms: page.from_ms,
            to_ms: page.to_ms,
            descending: page.descending,
            cursor: page.cursor,
            limit: page.limit,
        };
        let runs = self
            .run_logs
            .find_action_runs(&q)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = runs.iter().map(|r| r.record.clone()).collect();
        Ok(page.answer(items, runs.last().map(|r| r.seq)))
    }

    /// `GET /action-run-logs/{id}`: the record with what it refers to embedded
    /// (`action`, `actionInstance`, `integration`, `connection`, `user`), and with
    /// `details` the trace of its external calls.
    pub async fn run_log(
        &self,
        caller: &Caller,
        id: &str,
        details: bool,
    ) -> Result<Value, ApiError> {
        let run = self
            .run_logs
            .action_run_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .filter(|r| {
                caller
                    .customer_id
                    .as_ref()
                    .is_none_or(|me| *me == r.customer_id)
            })
            .ok_or_else(|| ApiError::not_found(format!("No action run log matches `{id}`")))?;
        let mut record = run.record.clone();
        self.embed(caller, &run, &mut record).await?;
        if details {
            record["details"] = json!({"externalApiCalls": run.details});
        }
        Ok(record)
    }

    async fn embed(
        &self,
        caller: &Caller,
        run: &ActionRunLog,
        record: &mut Value,
    ) -> Result<(), ApiError> {
        let store = self.calls.elements.store;
        // The caller may read the record, so it may read what the record names.
        let admin = Caller::admin(caller.workspace.clone());
        let action = run
            .integration_action_id
            .as_ref()
            .or(run.universal_action_id.as_ref());
        let wanted = [
            ("action", action),
            ("actionInstance", run.connection_action_id.as_ref()),
            (
                "integration",
                Some(&run.integration_id).filter(|s| !s.is_empty()),
            ),
            (
                "connection",
                Some(&run.connection_id).filter(|s| !s.is_empty()),
            ),
            ("user", Some(&run.customer_id).filter(|s| !s.is_empty())),
        ];
        for (field, id) in wanted {
            let Some(id) = id else { continue };
            let Some(el) = store
                .element_by_id(caller.workspace_id(), id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            record[field] = self
                .calls
                .elements
                .render(&admin, &el, Depth::Embedded)
                .await?;
        }
        Ok(())
    }
}
