//! `POST /act` (semantics §3.2): exactly one of `id`, `key`, `api`, `code` says what
//! runs; `connectionId`, `connectionKey`, `integrationId`, `integrationKey` say
//! where; `input` and `meta` go to the run. `api` is an inline
//! `api-request-to-external-app` (`url` for `path`, `body` for `data`), `code` an
//! inline `run-javascript`. Both leave a run log like a stored action.
//!
//! `POST /connections/{c}/execute-request {key, payload}` (the SDK's
//! `connectionRequest`) is the legacy form of `api`: `key` is the path, optionally
//! after a method (`"POST /contacts"`); without one the method is `GET`, or `POST`
//! when a payload is given, which becomes the request body.

use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Value};

use super::resolve::ConnectionHints;
use super::{ActionDefinition, ActionRun, ActionRunError, Actions, RunArguments, RunSelector};
use crate::{Caller, PathSelector};

/// The body of `POST /act`.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActRequest {
    /// A stored action (or connection-level action instance) by id.
    pub id: Option<Value>,
    /// A stored action by key.
    pub key: Option<Value>,
    /// `{method, path, query, headers, body}`: a request to the external app's API.
    pub api: Option<Value>,
    /// A JavaScript module whose default export gets `{input, externalApiClient, …}`.
    pub code: Option<Value>,
    pub connection_id: Option<String>,
    pub connection_key: Option<String>,
    pub integration_id: Option<String>,
    pub integration_key: Option<String>,
    /// The run's input, checked against the action's `inputSchema`.
    pub input: Option<Value>,
    /// Kept with the run log.
    pub meta: Option<Value>,
}

impl ActRequest {
    fn hints(&self) -> ConnectionHints {
        ConnectionHints {
            connection_id: self.connection_id.clone(),
            connection_key: self.connection_key.clone(),
            integration_id: self.integration_id.clone(),
            integration_key: self.integration_key.clone(),
        }
    }
}

fn text<'a>(field: &str, v: &'a Value) -> Result<&'a str, ApiError> {
    v.as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_field(field, "must be a non-empty string"))
}

impl Actions<'_> {
    /// `POST /act`.
    pub async fn act(&self, caller: &Caller, req: ActRequest) -> Result<ActionRun, ActionRunError> {
        let given: Vec<&str> = [
            ("id", req.id.is_some()),
            ("key", req.key.is_some()),
            ("api", req.api.is_some()),
            ("code", req.code.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect();
        if given.len() != 1 {
            return Err(ApiError::bad_request(
                keys::INVALID_BODY,
                format!(
                    "The request must contain exactly one of `id`, `key`, `api`, `code` (got {})",
                    if given.is_empty() {
                        "none".to_owned()
                    } else {
                        given.join(", ")
                    }
                ),
            )
            .into());
        }
        let integration = req.integration_id.clone().or(req.integration_key.clone());
        let selector = if let Some(id) = &req.id {
            let id = text("id", id)?;
            if ElementType::ActionInstance.is_id(id) {
                RunSelector::Element(self.instance(caller, id).await?)
            } else {
                RunSelector::Action {
                    selector: id.to_owned(),
                    integration,
                }
            }
        } else if let Some(key) = &req.key {
            RunSelector::Action {
                selector: text("key", key)?.to_owned(),
                integration,
            }
        } else if let Some(api) = &req.api {
            let Value::Object(_) = api else {
                return Err(ApiError::invalid_field("api", "must be an object").into());
            };
            // Checked now, so a malformed request is refused before anything runs.
            let request = api.as_object().expect("an object");
            super::kinds::external_request(request, "api")?;
            RunSelector::Inline(ActionDefinition::inline(
                "api-request-to-external-app",
                json!({"request": api}),
            ))
        } else {
            let code = text("code", req.code.as_ref().expect("one is given"))?;
            RunSelector::Inline(ActionDefinition::inline(
                "run-javascript",
                json!({"code": code}),
            ))
        };
        let hints = req.hints();
        let target = self.target(caller, selector, &hints).await?;
        if target.action.is_none() && req.api.is_some() && target.connection.is_none() {
            return Err(ApiError::bad_request(
                keys::INVALID_BODY,
                "Name the connection: `connectionId`, `connectionKey`, `integrationId` or `integrationKey`",
            )
            .into());
        }
        self.run(
            caller,
            target,
            RunArguments {
                input: req.input.unwrap_or(Value::Null),
                meta: req.meta,
            },
        )
        .await
    }

    /// `POST /connections/{c}/execute-request` (see the module doc).
    pub async fn execute_request(
        &self,
        caller: &Caller,
        connection: &Element,
        key: &str,
        payload: Option<Value>,
    ) -> Result<ActionRun, ActionRunError> {
        let (method, path) = match key.split_once(' ') {
            Some((m, p)) if !m.is_empty() && !m.starts_with('/') => (m.to_owned(), p.trim()),
            _ => (
                if payload.is_some() { "POST" } else { "GET" }.to_owned(),
                key,
            ),
        };
        let mut api = json!({"method": method, "path": path});
        if let Some(p) = payload {
            api["data"] = p;
        }
        let request = api.as_object().expect("an object");
        super::kinds::external_request(request, "key")?;
        let hints = ConnectionHints {
            connection_id: Some(connection.id.clone()),
            ..Default::default()
        };
        let selector = RunSelector::Inline(ActionDefinition::inline(
            "api-request-to-external-app",
            json!({"request": api}),
        ));
        let target = self.target(caller, selector, &hints).await?;
        self.run(caller, target, RunArguments::default()).await
    }

    async fn instance(&self, caller: &Caller, id: &str) -> Result<Element, ApiError> {
        self.calls
            .elements
            .resolve(caller, ElementType::ActionInstance, &PathSelector::new(id))
            .await
    }
}
