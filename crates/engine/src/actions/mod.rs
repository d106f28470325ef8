//! Actions run on a customer's connection (docs/spec/semantics.md §3): one path,
//! [`Actions::run`], for every way the API starts one — `POST /act` with `id`, `key`,
//! `api` or `code`, `/actions/{sel}/run`, `/action/run`, the connection-level and
//! legacy instance routes, `/connections/{c}/execute-request`.
//!
//! A run:
//! 1. takes the action's *effective definition* ([`definition`]): its own type fields,
//!    or — while it is not customised — those of the element it was made from, so a
//!    connection-level copy follows its integration-level parent;
//! 2. fits the input to `inputSchema` ([`input`]: unknown properties dropped, defaults
//!    added, a wrong type a `bad_request` naming the field). **A refused input is not
//!    a run**: nothing is recorded, as a refused write changes nothing;
//! 3. evaluates the config's formulas with the run variables (`input`, `user`,
//!    `connection`, `integration`, `actionInstance`) through the runtime crate and
//!    executes the type ([`kinds`]) — every external call through
//!    `Calls::call_connection`, so tenancy, archived elements, refresh and external API
//!    logs behave as for every other call;
//! 4. reshapes the output with `outputMapping` (variables `input`, `output`, `user`);
//! 5. records the run ([`run_logs`]), success or failure, **before answering**: an
//!    `actionRunId` a client received always names a stored record.

mod act;
mod definition;
pub(crate) mod http;
pub(crate) mod input;
mod kinds;
mod records;
mod resolve;
pub(crate) mod run_log_writer;
pub(crate) mod run_logs;

use std::time::Instant;

use osmosis_model::{ApiError, Element};
use osmosis_store::{ActionRunLog, ActionRunLogStore};
use serde_json::{json, Map, Value};

pub use act::ActRequest;
pub use definition::ActionDefinition;
pub use resolve::{ActionTarget, ConnectionHints, RunSelector};
pub use run_logs::ActionRunLogFilter;

use crate::connections::call_trace::Trace;
use crate::connections::Calls;
use crate::{Caller, Engine};

/// The actions service: running actions and their run logs. A borrowed view of the
/// engine's parts ([`Engine::actions`]).
#[derive(Clone, Copy)]
pub struct Actions<'e> {
    pub(crate) calls: Calls<'e>,
    pub(crate) run_logs: &'e dyn ActionRunLogStore,
    /// Stores run logs in group commits (see `run_log_writer`).
    pub(crate) run_log_writer: &'e run_log_writer::RunLogWriter,
    /// Answers the data-link formulas (`$findAppRecordId`, …) in configs.
    pub(crate) data_links: crate::data_links::DataLinks<'e>,
    /// The API itself, for `run-javascript`'s `membrane` object.
    pub(crate) self_api: &'e crate::self_api::SelfApiSlot,
}

impl<'e> Actions<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        Actions {
            calls: engine.calls(),
            run_logs: engine.stores.action_runs.as_ref(),
            run_log_writer: &engine.action_run_writer,
            self_api: &engine.self_api,
            data_links: engine.data_links(),
        }
    }
}

/// What a run was asked to do beyond its action: the input and the caller's `meta`.
#[derive(Debug, Clone, Default)]
pub struct RunArguments {
    pub input: Value,
    pub meta: Option<Value>,
}

/// A finished run: `{output, actionRunId}` on the wire.
#[derive(Debug, Clone)]
pub struct ActionRun {
    pub output: Value,
    pub action_run_id: String,
}

impl ActionRun {
    pub fn to_json(&self) -> Value {
        json!({"output": self.output, "actionRunId": self.action_run_id})
    }
}

/// Why a run failed; `action_run_id` names its record when it got as far as one.
#[derive(Debug)]
pub struct ActionRunError {
    pub error: ApiError,
    pub action_run_id: Option<String>,
}

impl From<ApiError> for ActionRunError {
    fn from(error: ApiError) -> Self {
        ActionRunError {
            error,
            action_run_id: None,
        }
    }
}

impl ActionRunError {
    /// The `ErrorData` body, with `actionRunId` beside `type`, `key` and `message`.
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::to_value(&self.error).unwrap_or_else(|_| json!({}));
        if let (Value::Object(m), Some(id)) = (&mut body, &self.action_run_id) {
            m.insert("actionRunId".into(), Value::String(id.clone()));
        }
        body
    }
}

impl Actions<'_> {
    /// Runs `target` with `args` (see the module doc for the steps).
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, action = %target.label()))]
    pub async fn run(
        &self,
        caller: &Caller,
        target: ActionTarget,
        args: RunArguments,
    ) -> Result<ActionRun, ActionRunError> {
        let definition = self.definition_of(&target).await?;
        let input = input::fit(definition.input_schema.as_ref(), args.input)?;
        let user = self
            .user_variable(caller, target.connection.as_ref())
            .await?;
        let variables = target.variables(&input, &user);

        let started = Instant::now();
        let created_ms = crate::clock::now_ms();
        let trace = Trace::default();
        let result = trace
            .scope(kinds::execute(
                self,
                caller,
                &target,
                &definition,
                &input,
                &variables,
                &trace,
            ))
            .await
            .and_then(|raw| definition.map_output(&input, raw, &user));
        let duration_ms = started.elapsed().as_millis() as i64;

        let id = osmosis_model::ids::object_id();
        let log = target.log_row(LogParts {
            id: &id,
            caller,
            input: &input,
            result: &result,
            meta: args.meta,
            created_ms,
            duration_ms,
            details: trace.take(),
        });
        if let Err(e) = self.run_log_writer.write(log).await {
            // The run happened (and may have changed the external app): its answer
            // stands, and the missing record is loud in the server log.
            tracing::error!(error = %e, action_run_id = %id, "could not record an action run");
        }
        match result {
            Ok(output) => Ok(ActionRun {
                output,
                action_run_id: id,
            }),
            Err(error) => Err(ActionRunError {
                error,
                action_run_id: Some(id),
            }),
        }
    }

    /// Runs one step of action type `kind` — a flow node of the matching type — with
    /// `config` (its formulas evaluated with `variables`) on `connection`, which the
    /// caller checked is callable. The same code as an action of that type runs, but
    /// no action run log is written: the flow's node run records the step.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_step(
        &self,
        caller: &Caller,
        connection: Option<Element>,
        kind: &str,
        config: Value,
        input: &Value,
        variables: &Value,
        trace: &Trace,
    ) -> Result<Value, ApiError> {
        let mut definition = ActionDefinition::inline(kind, config);
        definition.formulas = true;
        let target = ActionTarget {
            action: None,
            inline: Some(definition.clone()),
            connection,
        };
        kinds::execute(self, caller, &target, &definition, input, variables, trace).await
    }

    /// The `user` variable: the connection's customer, else the calling one.
    pub(crate) async fn user_variable(
        &self,
        caller: &Caller,
        connection: Option<&Element>,
    ) -> Result<Value, ApiError> {
        let customer_id = connection
            .and_then(|c| c.customer_id.clone())
            .or_else(|| caller.customer_id.clone());
        crate::types::customer::user_variable(
            self.calls.elements.store,
            caller.workspace_id(),
            customer_id.as_deref(),
        )
        .await
    }
}

/// What a run log row is made of, besides the target.
pub(crate) struct LogParts<'a> {
    pub id: &'a str,
    pub caller: &'a Caller,
    pub input: &'a Value,
    pub result: &'a Result<Value, ApiError>,
    pub meta: Option<Value>,
    pub created_ms: i64,
    pub duration_ms: i64,
    pub details: Vec<Value>,
}

impl ActionTarget {
    fn log_row(&self, p: LogParts<'_>) -> ActionRunLog {
        let ids = self.layer_ids();
        let connection = self.connection.as_ref();
        let customer_id = connection
            .and_then(|c| c.customer_id.clone())
            .or_else(|| p.caller.customer_id.clone())
            .unwrap_or_default();
        let integration_id = connection
            .and_then(|c| c.integration_id.clone())
            .unwrap_or_default();
        let connection_id = connection.map(|c| c.id.clone()).unwrap_or_default();
        let completed_ms = p.created_ms + p.duration_ms;
        let mut record = Map::new();
        let mut put = |k: &str, v: Value| {
            record.insert(k.to_owned(), v);
        };
        put("id", json!(p.id));
        put("name", json!(self.name()));
        put("integrationActionId", json!(ids.integration_or_universal()));
        put("actionId", json!(ids.integration_or_universal()));
        if let Some(u) = &ids.universal {
            put("universalActionId", json!(u));
        }
        if let Some(c) = &ids.connection {
            put("connectionActionId", json!(c));
            put("actionInstanceId", json!(c));
        }
        put("integrationId", json!(integration_id));
        put("connectionId", json!(connection_id));
        // `userId` is required by the SDK's record: empty for an admin's run on no
        // connection.
        put("userId", json!(customer_id));
        if !customer_id.is_empty() {
            put("tenantId", json!(customer_id));
        }
        put("input", p.input.clone());
        match p.result {
            Ok(output) => {
                put("status", json!("success"));
                put("output", output.clone());
            }
            Err(e) => {
                put("status", json!("error"));
                put("error", serde_json::to_value(e).unwrap_or(Value::Null));
            }
        }
        put("createdAt", json!(crate::clock::iso_of_ms(p.created_ms)));
        put("completedAt", json!(crate::clock::iso_of_ms(completed_ms)));
        put("duration", json!(p.duration_ms));
        if let Some(Value::Object(meta)) = p.meta {
            put("meta", Value::Object(meta));
        }
        ActionRunLog {
            seq: 0,
            id: p.id.to_owned(),
            workspace_id: p.caller.workspace_id().to_owned(),
            customer_id,
            integration_id,
            connection_id,
            action_id: ids.ran.clone().unwrap_or_default(),
            universal_action_id: ids.universal.clone(),
            integration_action_id: ids.integration.clone(),
            connection_action_id: ids.connection.clone(),
            is_success: p.result.is_ok(),
            created_ms: p.created_ms,
            record: Value::Object(record),
            details: Value::Array(p.details),
        }
    }
}
