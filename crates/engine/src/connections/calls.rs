//! Calls through a connection: the one path ([`Calls::call_connection`]) every
//! request to an external API made for a stored connection takes — the API proxy,
//! operations, data collection methods, `POST /act` with `api`, connector functions
//! such as `disconnect` — and the engine operations built on it.

use std::future::Future;
use std::sync::Arc;

use osmosis_connectors::api_client::{ApiClientError, ApiRequest, TokenExpiry};
use osmosis_connectors::collections;
use osmosis_connectors::definition::CollectionMethod;
use osmosis_connectors::function::{FunctionError, FunctionRunner};
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use super::Calls;
use super::ConnectionError;
use crate::caller::only_visible;
use crate::errors::store_error;
use crate::refs::Ref;
use crate::{Caller, PathSelector};

/// Why a call through a connection failed.
#[derive(Debug)]
pub enum CallError<E> {
    /// Before any call: the connection is not the caller's, its connector or
    /// credentials cannot be loaded.
    Setup(ApiError),
    /// What the operation itself returned last (after a credentials refresh, once
    /// that is wired in).
    Call(E),
}

/// The error of the operations in this module: a connector function failing, or
/// the request being refused before anything was sent.
#[derive(Debug)]
pub enum CallFailure {
    Function(FunctionError),
    Refused(ApiError),
}

impl From<FunctionError> for CallFailure {
    fn from(e: FunctionError) -> Self {
        CallFailure::Function(e)
    }
}

impl TokenExpiry for CallFailure {
    fn is_access_token_expired(&self) -> bool {
        matches!(self, CallFailure::Function(e) if e.is_access_token_expired())
    }
}

impl From<CallFailure> for ApiError {
    fn from(e: CallFailure) -> Self {
        match e {
            CallFailure::Function(f) => ConnectionError::Function(f).into(),
            CallFailure::Refused(a) => a,
        }
    }
}

impl<E: Into<ApiError>> From<CallError<E>> for ApiError {
    fn from(e: CallError<E>) -> Self {
        match e {
            CallError::Setup(a) => a,
            CallError::Call(e) => e.into(),
        }
    }
}

/// Turns an API client error into the failure of the call named `origin`.
pub(crate) fn api_failure(origin: &'static str) -> impl Fn(ApiClientError) -> CallFailure {
    move |e| {
        CallFailure::Function(FunctionError::Api {
            origin: origin.into(),
            source: Box::new(e),
        })
    }
}

/// The body of `POST /act`: what to run and the connection to run it through.
/// This build runs an inline `api` request; `id`, `key` (a stored action) and
/// `code` are read so that asking for them is answered clearly.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActRequest {
    pub id: Option<Value>,
    pub key: Option<Value>,
    /// `{method, path, query, headers, data}`: a request to the external app's API.
    pub api: Option<Value>,
    pub code: Option<Value>,
    pub connection_id: Option<String>,
    pub connection_key: Option<String>,
    pub integration_id: Option<String>,
    pub integration_key: Option<String>,
}

/// A data collection method by its API path segment (`find-by-id`).
pub fn collection_method(segment: &str) -> Result<CollectionMethod, ApiError> {
    CollectionMethod::ALL
        .into_iter()
        .find(|m| m.file_stem() == segment)
        .ok_or_else(|| {
            ApiError::bad_request(
                keys::INVALID_QUERY,
                format!(
                    "`{segment}` is not a data collection method (one of: {})",
                    CollectionMethod::ALL.map(|m| m.file_stem()).join(", ")
                ),
            )
        })
}

impl Calls<'_> {
    /// Runs `op` with the connection's function runner: **the one path every call to
    /// an external API through a stored connection takes.** It checks the caller
    /// may use the connection and that nothing on its path is archived
    /// ([`Calls::ensure_callable`], `not_found` otherwise), builds the runner (connector,
    /// parameters, unsealed credentials) with the connection's external API log
    /// observer attached, so every request its API client sends is logged.
    ///
    /// `op` may be called twice: on `access_token_expired` the credentials are
    /// refreshed (single flight per connection, see [`super::health`]) and `op` runs
    /// once more with a runner holding the new credentials.
    ///
    /// Its span is the one every call through a connection gets: the operations
    /// built on it (proxy, operation runs, collection methods, test) add none of
    /// their own, since a span costs a few percent of the proxy's throughput.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, connection = %conn.id))]
    pub async fn call_connection<T, E, F, Fut>(
        &self,
        caller: &Caller,
        conn: &Element,
        op: F,
    ) -> Result<T, CallError<E>>
    where
        E: TokenExpiry,
        F: Fn(Arc<FunctionRunner>) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.ensure_callable(caller, conn)
            .await
            .map_err(CallError::Setup)?;
        let runner = self.live_runner(conn).await.map_err(CallError::Setup)?;
        match op(runner).await {
            // The token expired: refresh once (single flight, see `health`), then
            // call again with the new credentials.
            Err(e) if e.is_access_token_expired() => {
                let fresh = match self
                    .refresh_connection(conn, conn.doc_str("sealedCredentials"))
                    .await
                {
                    Ok((fresh, _)) => fresh,
                    Err(r) if r.key.as_deref() == Some(super::health::REFRESH_NOT_SUPPORTED) => {
                        return Err(CallError::Call(e))
                    }
                    Err(r) => return Err(CallError::Setup(r)),
                };
                let runner = self.live_runner(&fresh).await.map_err(CallError::Setup)?;
                op(runner).await.map_err(CallError::Call)
            }
            other => other.map_err(CallError::Call),
        }
    }

    /// `POST /connections/{c}/operations/{key}/run`: `{output}`.
    pub async fn run_operation(
        &self,
        caller: &Caller,
        conn: &Element,
        key: &str,
        input: Value,
    ) -> Result<Value, ApiError> {
        let output = self
            .call_connection(caller, conn, |runner| {
                let input = input.clone();
                async move {
                    if runner.connector().operation(key).is_none() {
                        return Err(CallFailure::Refused(ApiError::not_found(format!(
                            "The connector has no operation `{key}`"
                        ))));
                    }
                    Ok(runner.run_operation(key, input).await?)
                }
            })
            .await?;
        let mut answer = json!({ "output": output.output });
        if !output.logs.is_empty() {
            answer["executionLogs"] = json!(output.logs);
        }
        Ok(answer)
    }

    /// `POST /connections/{c}/data/{key}/{method}`: the method's response.
    /// `parameters` (from the query string) are the collection parameters; the
    /// request's own `parameters` override them field by field.
    pub async fn run_collection_method(
        &self,
        caller: &Caller,
        conn: &Element,
        key: &str,
        method: CollectionMethod,
        mut request: Value,
        parameters: Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let mut merged = parameters;
        if let Some(Value::Object(own)) =
            request.as_object_mut().and_then(|r| r.remove("parameters"))
        {
            merged.extend(own);
        }
        let parameters = Value::Object(merged);
        self.call_connection(caller, conn, |runner| {
            let (request, parameters) = (request.clone(), parameters.clone());
            async move {
                let Some(collection) = runner.connector().data_collection(key) else {
                    return Err(CallFailure::Refused(ApiError::not_found(format!(
                        "The connector has no data collection `{key}`"
                    ))));
                };
                if collection.method(method).is_none() {
                    return Err(CallFailure::Refused(ApiError::bad_request(
                        keys::NOT_SUPPORTED,
                        format!(
                            "Data collection `{key}` does not define `{}`",
                            method.name()
                        ),
                    )));
                }
                Ok(collections::run_method(&runner, key, method, request, parameters).await?)
            }
        })
        .await
        .map_err(ApiError::from)
    }

    /// `POST /act`: only the inline `api` request is in this build; `{output}` is the
    /// API's response data.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key))]
    pub async fn act(&self, caller: &Caller, req: &ActRequest) -> Result<Value, ApiError> {
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
            ));
        }
        let Some(api) = &req.api else {
            return Err(ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!(
                    "Running an action by `{}` is not in this build; only `api` requests are",
                    given[0]
                ),
            ));
        };
        let request = api_request(api)?;
        let conn = self.act_connection(caller, req).await?;
        let data = self
            .call_connection(caller, &conn, |runner| {
                let request = request.clone();
                async move {
                    let client = runner.api_client().await?;
                    client.request(request).await.map_err(api_failure("act"))
                }
            })
            .await?
            .data;
        Ok(json!({ "output": data }))
    }

    /// The connection `/act` runs against: `connectionId`, else `connectionKey`,
    /// else the caller's only connection to the named integration.
    async fn act_connection(&self, caller: &Caller, req: &ActRequest) -> Result<Element, ApiError> {
        if let Some(id) = &req.connection_id {
            return self
                .elements
                .resolve(
                    caller,
                    ElementType::Connection,
                    &PathSelector::new(id.clone()),
                )
                .await;
        }
        let integration = match (&req.integration_id, &req.integration_key) {
            (Some(v), _) | (None, Some(v)) => Some(
                self.elements
                    .resolve(
                        caller,
                        ElementType::Integration,
                        &PathSelector::new(v.clone()),
                    )
                    .await?,
            ),
            (None, None) => None,
        };
        if let Some(key) = &req.connection_key {
            return self
                .elements
                .resolve_ref_scoped(
                    caller,
                    ElementType::Connection,
                    &Ref::Key(key.clone()),
                    "connectionKey",
                    integration.as_ref().map(|i| Some(i.id.as_str())),
                )
                .await;
        }
        let Some(integration) = integration else {
            return Err(ApiError::bad_request(
                keys::INVALID_BODY,
                "Name the connection: `connectionId`, `connectionKey`, `integrationId` or `integrationKey`",
            ));
        };
        let mut q =
            osmosis_store::ElementQuery::new(caller.workspace_id(), ElementType::Connection);
        q.integration = osmosis_store::RefFilter::Is(integration.id.clone());
        only_visible(caller, &mut q);
        q.limit = 2;
        let mut found = self
            .elements
            .store
            .find_elements(&q)
            .await
            .map_err(store_error)?;
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(ApiError::not_found(format!(
                "No connection to integration `{}`",
                integration.key.as_deref().unwrap_or(&integration.id)
            ))),
            _ => Err(ApiError::bad_request(
                keys::INVALID_BODY,
                format!(
                    "Several connections to integration `{}`: pass `connectionId` or `connectionKey`",
                    integration.key.as_deref().unwrap_or(&integration.id)
                ),
            )),
        }
    }
}

/// `api: {method, path, body, headers, query}` (`url` for `path`, `data` for `body`).
fn api_request(api: &Value) -> Result<ApiRequest, ApiError> {
    let invalid = |m: &str| ApiError::invalid_field("api", m);
    let Value::Object(api) = api else {
        return Err(invalid("must be an object"));
    };
    let path = api
        .get("path")
        .or_else(|| api.get("url"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("needs `path` (or `url`)"))?;
    let method = match api.get("method").and_then(Value::as_str) {
        Some(m) => ApiRequest::method_from_str(m).map_err(|e| invalid(&e.to_string()))?,
        None => osmosis_connectors::api_client::Method::GET,
    };
    let scalar_strings = |v: Option<&Value>| -> Option<Value> {
        match v {
            Some(Value::Object(m)) => Some(Value::Object(
                m.iter()
                    .map(|(k, v)| {
                        let s = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), Value::String(s))
                    })
                    .collect(),
            )),
            _ => None,
        }
    };
    let mut request = ApiRequest::new(method, path)
        .with_json_parts(
            scalar_strings(api.get("query")).as_ref(),
            scalar_strings(api.get("headers")).as_ref(),
        )
        .map_err(|e: ApiClientError| invalid(&e.to_string()))?;
    if let Some(body) = api.get("body").or_else(|| api.get("data")) {
        if !body.is_null() {
            request.data = Some(body.clone());
        }
    }
    Ok(request)
}
