//! `javascript` functions: the module runs in the sandbox with `credentials`,
//! `connectorParameters`, `input` and an `externalApiClient` host object (also exposed
//! as `apiClient`, the name older connectors use) whose methods go through the
//! connection's API client.

use std::sync::{Arc, Mutex};

use osmosis_sandbox::{HostApi, HostError, HostObject, LogEntry};
use serde_json::{json, Value};

use super::{FunctionError, FunctionRunner};
use crate::api_client::{ApiClient, ApiClientError, ApiRequest, Method};
use crate::http::deadline::{self, Deadline};

/// The last API failure inside a run, so an expired token the code did not handle
/// surfaces as [`FunctionError::Api`] and can trigger a refresh.
type LastApiError = Arc<Mutex<Option<ApiClientError>>>;

pub(super) async fn run(
    runner: &FunctionRunner,
    client: Option<&ApiClient>,
    code: &str,
    origin: &str,
    input: Value,
    extra: HostApi,
) -> Result<(Value, Vec<LogEntry>), FunctionError> {
    let argument = json!({
        "credentials": runner.credentials(),
        "connectorParameters": runner.connector_parameters(),
        "input": input,
    });
    let last_error: LastApiError = Arc::new(Mutex::new(None));
    let mut host = HostApi::new();
    if let Some(client) = client {
        let object = client_object(
            Arc::new(client.clone()),
            Arc::clone(&last_error),
            Deadline::current(),
        );
        host = host
            .object("externalApiClient", object.clone())
            .object("apiClient", object);
    }
    let host = host.merge(extra);
    let redactor = runner.redactor();
    match runner.sandbox().run_module(code, argument, host).await {
        Ok(output) => {
            let logs = output
                .logs
                .into_iter()
                .map(|l| LogEntry {
                    message: redactor.text(&l.message),
                    ..l
                })
                .collect();
            Ok((output.result, logs))
        }
        Err(error) => {
            let recorded = last_error.lock().ok().and_then(|mut e| e.take());
            if let Some(api_error) = recorded.filter(|e| e.key().is_some()) {
                return Err(FunctionError::Api {
                    origin: origin.to_owned(),
                    source: Box::new(api_error),
                });
            }
            Err(FunctionError::Javascript {
                origin: origin.to_owned(),
                message: redactor.text(&error.failure.to_string()),
                stack: error.failure.stack().map(|s| redactor.text(s)),
                logs: error
                    .logs
                    .into_iter()
                    .map(|l| LogEntry {
                        message: redactor.text(&l.message),
                        ..l
                    })
                    .collect(),
            })
        }
    }
}

/// Host calls run as tasks of their own, outside the caller's task-local context:
/// each re-enters the operation's `deadline`, so the code's requests stay within it.
fn client_object(
    client: Arc<ApiClient>,
    last_error: LastApiError,
    deadline: Option<Deadline>,
) -> HostObject {
    let mut object = HostObject::new();
    for (name, method, second_is_query) in [
        ("get", Method::GET, true),
        ("delete", Method::DELETE, true),
        ("post", Method::POST, false),
        ("put", Method::PUT, false),
        ("patch", Method::PATCH, false),
    ] {
        let client = Arc::clone(&client);
        let last_error = Arc::clone(&last_error);
        object = object.method(name, move |args: Vec<Value>| {
            let client = Arc::clone(&client);
            let last_error = Arc::clone(&last_error);
            let method = method.clone();
            async move {
                let request = js_request(method, &args, second_is_query)?;
                let full = args
                    .get(2)
                    .and_then(|o| o.get("returnFullResponse"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                match deadline::within(deadline, client.request(request)).await {
                    Ok(response) if full => Ok(response.to_full_response()),
                    Ok(response) => Ok(response.data),
                    Err(error) => {
                        let data =
                            serde_json::to_value(error.to_error_data()).unwrap_or(Value::Null);
                        let message = error.to_string();
                        if let Ok(mut slot) = last_error.lock() {
                            *slot = Some(error);
                        }
                        Err(HostError::with_data(message, data))
                    }
                }
            }
        });
    }
    object
}

/// `get(path, query?, options?)` / `delete(path, query?, options?)` and
/// `post|put|patch(path, data?, options?)`, options being `{query, headers,
/// returnFullResponse}` — the argument order of Membrane's REST client.
fn js_request(
    method: Method,
    args: &[Value],
    second_is_query: bool,
) -> Result<ApiRequest, HostError> {
    let path = match args.first() {
        Some(Value::String(path)) => path.clone(),
        _ => {
            return Err(HostError::new(
                "the first argument must be the request path",
            ))
        }
    };
    let second = args.get(1).filter(|v| !v.is_null());
    let options = args.get(2).filter(|v| !v.is_null());
    let mut request = ApiRequest::new(method, path);
    if second_is_query {
        request = request
            .with_json_parts(second, None)
            .map_err(|e| HostError::new(e.to_string()))?;
    } else if let Some(data) = second {
        request.data = Some(data.clone());
    }
    if let Some(options) = options {
        request = request
            .with_json_parts(options.get("query"), options.get("headers"))
            .map_err(|e| HostError::new(e.to_string()))?;
    }
    Ok(request)
}
