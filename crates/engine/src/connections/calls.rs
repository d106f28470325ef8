//! Calls through a connection: the one path ([`Calls::call_connection`]) every
//! request to an external API made for a stored connection takes — the API proxy,
//! operations, data collection methods, action runs, connector functions
//! such as `disconnect` — and the engine operations built on it.

use std::future::Future;
use std::sync::Arc;

use osmosis_connectors::api_client::{ApiClientError, TokenExpiry};
use osmosis_connectors::collections;
use osmosis_connectors::definition::CollectionMethod;
use osmosis_connectors::function::{FunctionError, FunctionRunner};
use osmosis_connectors::http::Deadline;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element};
use serde_json::{json, Map, Value};

use super::Calls;
use super::ConnectionError;
use crate::Caller;

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
    /// Everything after the checks — building the runner, `op`, the refresh, the
    /// second `op` — runs under one [`Deadline`] ([`crate::Deadlines::calls`], or a
    /// sooner one the caller set): no request or retry outlives it.
    ///
    /// The refresh's future is boxed. Inline, its 9 KB sat in every call's future,
    /// twice (`Deadline::scope` keeps its argument besides the scoped future), for a
    /// branch rarely taken; every action type's future embeds this one, so a flow
    /// node's poll frames — several copies of each future in a debug build — needed
    /// over 2.5 MB and overflowed the 2 MB stack of a test thread or tokio worker
    /// (`flow_error_stack` in the `osmosis` tests). Boxed, a node needs under 1.25 MB.
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
        // One budget for the whole call, the refresh and the second try included.
        Deadline::after(self.deadlines.calls, "call")
            .scope(async {
                let runner = self.live_runner(conn).await.map_err(CallError::Setup)?;
                match op(runner).await {
                    // The token expired: refresh once (single flight, see `health`),
                    // then call again with the new credentials.
                    Err(e) if e.is_access_token_expired() => {
                        // Boxed: kept out of every call's future (see above).
                        let refresh = Box::pin(
                            self.refresh_connection(conn, conn.doc_str("sealedCredentials")),
                        );
                        let fresh = match refresh.await {
                            Ok((fresh, _)) => fresh,
                            Err(r)
                                if r.key.as_deref()
                                    == Some(super::health::REFRESH_NOT_SUPPORTED) =>
                            {
                                return Err(CallError::Call(e))
                            }
                            Err(r) => return Err(CallError::Setup(r)),
                        };
                        let runner = self.live_runner(&fresh).await.map_err(CallError::Setup)?;
                        op(runner).await.map_err(CallError::Call)
                    }
                    other => other.map_err(CallError::Call),
                }
            })
            .await
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
}
