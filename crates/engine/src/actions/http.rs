//! The HTTP action types: `http-request` (any public address) and
//! `api-request-to-your-app` (the workspace's own API, as the customer), and the
//! `membrane` / `engineApiClient` object `run-javascript` code reaches Osmosis's
//! own API with.

use std::sync::Arc;
use std::time::Duration;

use osmosis_connectors::api_client::{ApiRequest, Method};
use osmosis_connectors::auth::token::mint_token;
use osmosis_model::error::keys;
use osmosis_model::ApiError;
use osmosis_sandbox::{HostError, HostObject};
use serde_json::{json, Value};

use super::kinds::{scalar, Run};
use crate::self_api::SelfApi;

impl Run<'_, '_> {
    /// `http-request`: `config.request {url|uri, method, query, headers, data|body}`
    /// to any public address (the outbound guard applies, as to every call).
    pub(super) async fn http_request(&self) -> Result<Value, ApiError> {
        self.send_http(Vec::new()).await
    }

    /// `api-request-to-your-app`: an HTTP request (as `http-request`) to the
    /// workspace's own API, as the connection's customer: a token for the customer
    /// signed with the workspace secret (an hour) in `Authorization: Bearer`,
    /// `X-Membrane-Token` and `X-Integration-App-Token`, the headers token
    /// connectors send.
    pub(super) async fn your_app_request(&self) -> Result<Value, ApiError> {
        let token = self.customer_token()?.ok_or_else(|| {
            ApiError::bad_request(
                keys::INVALID_QUERY,
                "A request to your app runs as a customer: name a connection or use a customer token",
            )
        })?;
        self.send_http(token_headers(&token)).await
    }

    /// A token for the run's customer (the connection's, else the caller's), signed
    /// with the workspace secret and valid for an hour; `None` for an admin's run on
    /// no connection. It names the customer by the app's own id (`user.internalId`),
    /// as the tokens a workspace mints for its customers do.
    pub(super) fn customer_token(&self) -> Result<Option<String>, ApiError> {
        let Some(customer) = self.variables["user"]["internalId"].as_str() else {
            return Ok(None);
        };
        customer_token(&self.caller.workspace, customer).map(Some)
    }

    /// Sends `config.request` with the outbound client, `extra` headers after the
    /// configured ones; the response body is the output, a non-2xx answer an error
    /// carrying its status and body.
    async fn send_http(&self, extra: Vec<(&'static str, String)>) -> Result<Value, ApiError> {
        let Some(Value::Object(r)) = self.config_field("request").or(Some(self.config)) else {
            return Err(ApiError::configuration(
                "The action has no `config.request`",
            ));
        };
        send_request(self.actions.calls.http, r, "config.request", extra).await
    }
}

/// A token for the customer `internal_id` of `workspace`, signed with the
/// workspace secret and valid for an hour: what requests to the workspace's own
/// API carry (see [`token_headers`]).
pub(crate) fn customer_token(
    workspace: &osmosis_store::Workspace,
    internal_id: &str,
) -> Result<String, ApiError> {
    mint_token(
        &workspace.key,
        &workspace.secret,
        internal_id,
        None,
        Duration::from_secs(3600),
    )
    .map_err(|e| e.to_error_data())
}

/// The headers a request to the workspace's own API carries a customer token in:
/// `Authorization: Bearer`, `X-Membrane-Token` and `X-Integration-App-Token`, the
/// headers token connectors send.
pub(crate) fn token_headers(token: &str) -> Vec<(&'static str, String)> {
    vec![
        ("Authorization", format!("Bearer {token}")),
        ("X-Membrane-Token", token.to_owned()),
        ("X-Integration-App-Token", token.to_owned()),
    ]
}

/// Sends the request `r` describes (`{url|uri, method, query, headers, data|body}`,
/// named `field` in errors) with the outbound client, `extra` headers after the
/// configured ones; the response body is the answer, a non-2xx answer an error
/// carrying its status and body.
pub(crate) async fn send_request(
    http: &osmosis_connectors::http::OutboundClient,
    r: &serde_json::Map<String, Value>,
    field: &str,
    extra: Vec<(&'static str, String)>,
) -> Result<Value, ApiError> {
    let url = r
        .get("url")
        .or_else(|| r.get("uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::configuration(format!("`{field}.url` is required")))?;
    let mut url =
        url::Url::parse(url).map_err(|e| ApiError::configuration(format!("`{field}.url`: {e}")))?;
    if let Some(Value::Object(q)) = r.get("query") {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in q {
            pairs.append_pair(k, &scalar(v));
        }
    }
    let method = match r.get("method").and_then(Value::as_str) {
        Some(m) => ApiRequest::method_from_str(m)
            .map_err(|e| ApiError::configuration(format!("`{field}.method`: {e}")))?,
        None => Method::GET,
    };
    let mut request = http.request(method, url.as_str());
    if let Some(Value::Object(h)) = r.get("headers") {
        for (k, v) in h {
            request = request.header(k.as_str(), scalar(v));
        }
    }
    for (name, value) in extra {
        request = request.header(name, value);
    }
    if let Some(body) = r
        .get("data")
        .or_else(|| r.get("body"))
        .filter(|b| !b.is_null())
    {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| {
        ApiError::new(
            osmosis_model::error::ErrorType::ActionRun,
            Some("http_request_failed"),
            format!("The HTTP request failed: {e}"),
        )
    })?;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let data = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if !(200..300).contains(&status) {
        return Err(ApiError::new(
            osmosis_model::error::ErrorType::ActionRun,
            Some("http_request_failed"),
            format!("The HTTP request answered {status}"),
        )
        .with_data(json!({"status": status, "data": data})));
    }
    Ok(data)
}

/// The decorator that gives `membrane` its SDK shape (see [`membrane_object`]).
const MEMBRANE_CLIENT: &str = include_str!("membrane_client.js");

/// `membrane` / `engineApiClient` of a `run-javascript` action: Osmosis's own API as
/// the run's customer, shaped like the `MembraneClient` of `@membranehq/sdk` 0.28
/// (the client the hosted platform hands the same code).
///
/// The host methods are flat: `get(path, query?)`, `delete(path, query?)`,
/// `post|put|patch(path, data?)` — kept on the object as they are — and
/// `request(method, path, body?)`. The JavaScript decorator `membrane_client.js`
/// builds the SDK's accessors over `request` with the SDK's names and routes, so
/// `membrane.connection(c).action(a).run(input)`, `membrane.action(a).run(input,
/// {connectionId})`, `membrane.actionInstance(i).run(input)`,
/// `membrane.connections.find(query)`, `membrane.connectionRequest(c, uri, data)`,
/// `membrane.connection(c).get() / request(path, data) / proxy.get(path) /
/// operation(k).run(…) / dataCollection(k).list(…)`, the element accessors
/// `integration(s)`, `action(s)`, `actionInstance(s)`, `flow(s)`, `flowInstance(s)`,
/// `dataSource(s)`, `dataSourceInstance(s)`, `fieldMapping(s)`,
/// `fieldMappingInstance(s)`, `dataLinkTable(s)`, `dataLinkTableInstance(s)`,
/// `customer(s)` and the rest (`get/put/patch/archive`, lists `find/findAll/create`),
/// `self` and `setCredentials` all do what the SDK's do, and answer what the server
/// answers (a run: `{output, actionRunId}`). Screens and popups (`open*`, `embed*`,
/// `connect`, `ui`) are not offered; flow runs are, and fail with the server's
/// not-found error, as Osmosis does not serve `/flow-runs`.
///
/// Every call answers the response body or rejects with an `Error` whose `message`
/// is the server's and whose `data` is its `ErrorData`. Nothing in the decorator is a
/// check: every call is an API request with the customer's token, so it reaches
/// exactly what the customer's own requests would.
pub(super) fn membrane_object(api: Arc<dyn SelfApi>, token: String) -> HostObject {
    let mut object = HostObject::new().decorator(MEMBRANE_CLIENT);
    for (name, method, second_is_query) in [
        ("get", "GET", true),
        ("delete", "DELETE", true),
        ("post", "POST", false),
        ("put", "PUT", false),
        ("patch", "PATCH", false),
    ] {
        let (api, token) = (Arc::clone(&api), token.clone());
        object = object.method(name, move |args: Vec<Value>| {
            let (api, token) = (Arc::clone(&api), token.clone());
            async move {
                let Some(Value::String(path)) = args.first() else {
                    return Err(HostError::new("the first argument must be the API path"));
                };
                let mut target = format!("/{}", path.trim_start_matches('/'));
                let second = args.get(1).filter(|v| !v.is_null()).cloned();
                let body = if second_is_query {
                    if let Some(Value::Object(q)) = &second {
                        let mut query = url::form_urlencoded::Serializer::new(String::new());
                        for (k, v) in q {
                            query.append_pair(k, &scalar(v));
                        }
                        let separator = if target.contains('?') { '&' } else { '?' };
                        target = format!("{target}{separator}{}", query.finish());
                    }
                    None
                } else {
                    second
                };
                self_call(api.as_ref(), method, &target, &token, body).await
            }
        });
    }
    object.method("request", move |args: Vec<Value>| {
        let (api, token) = (Arc::clone(&api), token.clone());
        async move {
            let method = match args.first().and_then(Value::as_str) {
                Some(m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE")) => m,
                _ => {
                    return Err(HostError::new(
                        "the first argument must be GET, POST, PUT, PATCH or DELETE",
                    ))
                }
            };
            let Some(Value::String(path)) = args.get(1) else {
                return Err(HostError::new("the second argument must be the API path"));
            };
            let target = format!("/{}", path.trim_start_matches('/'));
            let body = args.get(2).filter(|v| !v.is_null()).cloned();
            self_call(api.as_ref(), method, &target, &token, body).await
        }
    })
}

/// One call to Osmosis's own API: the body of a 2xx answer, else an error with the
/// server's message and its whole answer as `data`.
async fn self_call(
    api: &dyn SelfApi,
    method: &str,
    target: &str,
    token: &str,
    body: Option<Value>,
) -> Result<Value, HostError> {
    let (status, answer) = api
        .call(method, target, token, body)
        .await
        .map_err(HostError::new)?;
    if (200..300).contains(&status) {
        Ok(answer)
    } else {
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("The API refused the request")
            .to_owned();
        Err(HostError::with_data(message, answer))
    }
}
