//! What each action type does (semantics §3.1). Every call to the external app goes
//! through the connection (`Calls::call_connection` and the operations built on
//! it); the config's formulas are evaluated by the runtime crate with the run
//! variables before the type reads them — except `fieldMapping`, whose import and
//! export values are applied per record.
//!
//! Decisions where the documentation is silent:
//! * `api-request-to-external-app` (and the legacy `api-request`) outputs the
//!   response body. With `allowNon2xx` a refused request's body is the output too;
//!   without it, a non-2xx response fails the run with the API's status and body.
//! * Data actions read their record fields from `config.fields` when set (usually
//!   formulas over `input`), else from `input.fields`, else the input itself.
//!   With an import mapping, each record's `fields` are the mapped values (the API
//!   object stays in `rawFields`); an export mapping maps fields before they are sent.
//! * `find-or-create-data-record` outputs `{id, created}`: the matched record's id
//!   (`created: false`) or the new one's.
//! * `delete-data-record` outputs `{}`.

use osmosis_connectors::api_client::{ApiClientError, ApiRequest, Method};
use osmosis_connectors::function::fill_path;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element};
use osmosis_runtime::formula::{resolve_formulas, FormulaHost};
use osmosis_runtime::js::strip_undefined;
use osmosis_sandbox::{HostApi, Limits, Sandbox};
use serde_json::{json, Map, Value};

use super::{ActionDefinition, ActionTarget, Actions};
use crate::connections::call_trace::Trace;
use crate::connections::{api_failure, CallFailure};
use crate::Caller;

/// Runs `def` for `target` and answers the raw output (before `outputMapping`).
pub(super) async fn execute(
    actions: &Actions<'_>,
    caller: &Caller,
    target: &ActionTarget,
    def: &ActionDefinition,
    input: &Value,
    variables: &Value,
    trace: &Trace,
) -> Result<Value, ApiError> {
    // A stored action's config may hold formulas; a request given inline (`/act`
    // with `api`) is sent as written.
    let config = match (def.formulas, &target.connection) {
        (true, Some(conn)) => {
            // `Actions::target` (or the flow run) checked the connection is callable.
            let host = actions.data_links.formula_host_on_checked(caller, conn);
            resolve_config(&def.config, variables, Some(&host)).await?
        }
        (true, None) => resolve_config(&def.config, variables, None).await?,
        (false, _) => def.config.clone(),
    };
    let run = Run {
        actions,
        caller,
        target,
        config: &config,
        raw_config: &def.config,
        input,
        variables,
    };
    match def.kind.as_str() {
        "api-request-to-external-app" | "api-request" => run.external_request().await,
        "connector-operation" => run.connector_operation().await,
        "run-javascript" => run.javascript(trace).await,
        "http-request" => run.http_request().await,
        "list-data-records" => run.list_records().await,
        "find-data-record-by-id" => run.find_record_by_id().await,
        "match-data-record" => run.match_record().await,
        "search-data-record" => run.search_records().await,
        "create-data-record" => run.create_record().await,
        "update-data-record" => run.update_record().await,
        "delete-data-record" => run.delete_record().await,
        "find-or-create-data-record" => run.find_or_create_record().await,
        "api-request-to-your-app" => run.your_app_request().await,
        other => Err(ApiError::configuration(format!(
            "Unknown action type `{other}`"
        ))),
    }
}

/// The config with its formulas evaluated (data-link formulas answered on the run's
/// connection); `fieldMapping` is kept as written.
async fn resolve_config(
    config: &Value,
    variables: &Value,
    host: Option<&dyn FormulaHost>,
) -> Result<Value, ApiError> {
    let Value::Object(map) = config else {
        return Ok(config.clone());
    };
    let mut out = Map::new();
    for (k, v) in map {
        if k == "fieldMapping" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let built = resolve_formulas(Some(v), Some(variables), None, host)
            .await
            .map_err(|e| ApiError::configuration(format!("config.{k}: {e}")))?;
        if let Some(v) = built.map(strip_undefined) {
            out.insert(k.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

pub(super) struct Run<'a, 'e> {
    pub(super) actions: &'a Actions<'e>,
    pub(super) caller: &'a Caller,
    pub(super) target: &'a ActionTarget,
    pub(super) config: &'a Value,
    pub(super) raw_config: &'a Value,
    pub(super) input: &'a Value,
    pub(super) variables: &'a Value,
}

impl Run<'_, '_> {
    pub(super) fn connection(&self) -> Result<&Element, ApiError> {
        self.target.connection.as_ref().ok_or_else(|| {
            ApiError::bad_request(
                keys::INVALID_QUERY,
                "This action runs through a connection: pass `connectionId`, `connectionKey`, `integrationId` or `integrationKey`",
            )
        })
    }

    pub(super) fn config_field(&self, name: &str) -> Option<&Value> {
        self.config.get(name).filter(|v| !v.is_null())
    }

    async fn external_request(&self) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let request = match self.config_field("request") {
            Some(Value::Object(r)) => external_request(r, "config.request")?,
            _ => {
                return Err(ApiError::configuration(
                    "The action has no `config.request`",
                ))
            }
        };
        let allow_non_2xx = self
            .config_field("allowNon2xx")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.actions
            .calls
            .call_connection(self.caller, conn, |runner| {
                let request = request.clone();
                async move {
                    let client = runner.api_client().await?;
                    match client.request(request).await {
                        Ok(response) => Ok(response.data),
                        Err(ApiClientError::HttpStatus { response, .. }) if allow_non_2xx => {
                            Ok(response.data)
                        }
                        Err(e) => Err(api_failure("action")(e)),
                    }
                }
            })
            .await
            .map_err(ApiError::from)
    }

    async fn connector_operation(&self) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let key = self
            .config_field("operationKey")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("The action has no `config.operationKey`"))?;
        let input = self
            .config_field("input")
            .cloned()
            .unwrap_or_else(|| self.input.clone());
        let answer = self
            .actions
            .calls
            .run_operation(self.caller, conn, key, input)
            .await?;
        Ok(answer.get("output").cloned().unwrap_or(Value::Null))
    }

    /// `run-javascript`: the code gets `input` and, with a connection,
    /// `credentials`, `connectorParameters` and `externalApiClient` (as connector
    /// functions do). Without a connection it runs in a plain sandbox.
    async fn javascript(&self, trace: &Trace) -> Result<Value, ApiError> {
        let code = self
            .config_field("code")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("The action has no `config.code`"))?
            .to_owned();
        let mut host = HostApi::new().with_scope(trace.host_scope());
        if let (Some(api), Some(token)) = (self.actions.self_api.get(), self.customer_token()?) {
            let membrane = super::http::membrane_object(api, token);
            host = host
                .object("membrane", membrane.clone())
                .object("engineApiClient", membrane);
        }
        let Some(conn) = &self.target.connection else {
            let sandbox = Sandbox::new(Limits::default());
            return match sandbox
                .run_module(&code, json!({"input": self.input}), host)
                .await
            {
                Ok(out) => Ok(out.result),
                Err(e) => Err(crate::errors::custom_code_error(&e)),
            };
        };
        self.actions
            .calls
            .call_connection(self.caller, conn, |runner| {
                let (code, input, host) = (code.clone(), self.input.clone(), host.clone());
                async move {
                    runner
                        .run_javascript(&code, "action", input, host)
                        .await
                        .map(|o| o.output)
                        .map_err(CallFailure::from)
                }
            })
            .await
            .map_err(ApiError::from)
    }
}

/// A query or header value as text.
pub(super) fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A request to the external app from `{method, path|url, pathParameters, query,
/// headers, data|body}` (`field` names the object in errors).
pub(crate) fn external_request(
    r: &Map<String, Value>,
    field: &str,
) -> Result<ApiRequest, ApiError> {
    let invalid = |m: &str| ApiError::invalid_field(field, m);
    let path = r
        .get("path")
        .or_else(|| r.get("url"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("needs `path` (or `url`)"))?;
    let path =
        fill_path(path, r.get("pathParameters"), field).map_err(|e| invalid(&e.to_string()))?;
    let method = match r.get("method").and_then(Value::as_str) {
        Some(m) => ApiRequest::method_from_str(m).map_err(|e| invalid(&e.to_string()))?,
        None => Method::GET,
    };
    let as_strings = |v: Option<&Value>| -> Option<Value> {
        match v {
            Some(Value::Object(m)) => Some(Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::String(scalar(v))))
                    .collect(),
            )),
            _ => None,
        }
    };
    let mut request = ApiRequest::new(method, path)
        .with_json_parts(
            as_strings(r.get("query")).as_ref(),
            as_strings(r.get("headers")).as_ref(),
        )
        .map_err(|e: ApiClientError| invalid(&e.to_string()))?;
    if let Some(body) = r.get("data").or_else(|| r.get("body")) {
        if !body.is_null() {
            request.data = Some(body.clone());
        }
    }
    Ok(request)
}
