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
        let headers = [
            "Authorization",
            "X-Membrane-Token",
            "X-Integration-App-Token",
        ]
        .into_iter()
        .map(|h| {
            let value = if h == "Authorization" {
                format!("Bearer {token}")
            } else {
                token.clone()
            };
            (h, value)
        })
        .collect();
        self.send_http(headers).await
    }

    /// A token for the run's customer (the connection's, else the caller's), signed
    /// with the workspace secret and valid for an hour; `None` for an admin's run on
    /// no connection. It names the customer by the app's own id (`user.internalId`),
    /// as the tokens a workspace mints for its customers do.
    pub(super) fn customer_token(&self) -> Result<Option<String>, ApiError> {
        let Some(customer) = self.variables["user"]["internalId"].as_str() else {
            return Ok(None);
        };
        let ws = &self.caller.workspace;
        mint_token(
            &ws.key,
            &ws.secret,
            customer,
            None,
            Duration::from_secs(3600),
        )
        .map(Some)
        .map_err(|e| e.to_error_data())
    }

    /// Sends `config.request` with the outbound client, `extra` headers after the
    /// configured ones; the response body is the output, a non-2xx answer an error
    /// carrying its status and body.
    async fn send_http(&self, extra: Vec<(&str, String)>) -> Result<Value, ApiError> {
        let Some(Value::Object(r)) = self.config_field("request").or(Some(self.config)) else {
            return Err(ApiError::configuration(
                "The action has no `config.request`",
            ));
        };
        let url = r
            .get("url")
            .or_else(|| r.get("uri"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("`config.request.url` is required"))?;
        let mut url = url::Url::parse(url)
            .map_err(|e| ApiError::configuration(format!("`config.request.url`: {e}")))?;
        if let Some(Value::Object(q)) = r.get("query") {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in q {
                pairs.append_pair(k, &scalar(v));
            }
        }
        let method = match r.get("method").and_then(Value::as_str) {
            Some(m) => ApiRequest::method_from_str(m)
                .map_err(|e| ApiError::configuration(format!("`config.request.method`: {e}")))?,
            None => Method::GET,
        };
        let mut request = self.actions.calls.http.request(method, url.as_str());
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
}

/// `membrane` / `engineApiClient` of a `run-javascript` action: Osmosis's own API as
/// the run's customer, with the methods of the external API client —
/// `get(path, query?)`, `delete(path, query?)`, `post|put|patch(path, data?)` —
/// answering the response body and rejecting with the `ErrorData` of a refused
/// call. (The SDK's chained accessors, `membrane.connection(x).action(y).run()`, are
/// not offered: the sandbox's host objects are flat; call the routes they call.)
pub(super) fn membrane_object(api: Arc<dyn SelfApi>, token: String) -> HostObject {
    let mut object = HostObject::new();
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
                        target = format!("{target}?{}", query.finish());
                    }
                    None
                } else {
                    second
                };
                let (status, answer) = api
                    .call(method, &target, &token, body)
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
        });
    }
    object
}
