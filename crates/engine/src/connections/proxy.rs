//! The API proxy: a request passed through a connection's API client (its base URL
//! and auth from `makeApiClient`), answered with the external API's status and body.

use osmosis_connectors::api_client::{ApiClientError, ApiRequest, RetryPolicy, TokenExpiry};
use osmosis_connectors::function::FunctionError;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::Value;

use super::ConnectionError;
use crate::elements::{not_found, visible_to};
use crate::{Caller, Engine};

/// A request to pass through, path relative to the API's base URL.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The external API's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl ProxyResponse {
    /// Bodies the client parsed as JSON go back as JSON; text goes back as it came.
    fn from_data(status: u16, content_type: Option<&str>, data: &Value) -> Self {
        match (data, content_type) {
            (Value::String(text), ct) if ct.is_none_or(|c| !c.contains("json")) => ProxyResponse {
                status,
                content_type: ct.unwrap_or("text/plain").to_owned(),
                body: text.clone().into_bytes(),
            },
            (Value::Null, ct) => ProxyResponse {
                status,
                content_type: ct.unwrap_or("application/json").to_owned(),
                body: Vec::new(),
            },
            _ => ProxyResponse {
                status,
                content_type: "application/json".into(),
                body: data.to_string().into_bytes(),
            },
        }
    }
}

impl Engine {
    /// Sends `request` through the connection's API client. Upstream failures with
    /// a response come back as that response (status and masked body), not retried:
    /// the caller sees what the API said.
    pub async fn proxy(
        &self,
        caller: &Caller,
        conn: &Element,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, ApiError> {
        if conn.element_type != ElementType::Connection || !visible_to(caller, conn) {
            return Err(not_found(ElementType::Connection, &conn.id));
        }
        let method = ApiRequest::method_from_str(&request.method).map_err(|e| {
            ApiError::from(ConnectionError::Function(FunctionError::InvalidRequest {
                origin: "proxy".into(),
                message: e.to_string(),
            }))
        })?;
        let mut api_request = ApiRequest::new(method, request.path);
        api_request.query = request.query;
        if !request.body.is_empty() {
            let is_json = request
                .content_type
                .as_deref()
                .is_none_or(|ct| ct.contains("json"));
            let parsed = is_json
                .then(|| serde_json::from_slice::<Value>(&request.body).ok())
                .flatten();
            let data = match parsed {
                Some(v) => v,
                None => {
                    let ct = request
                        .content_type
                        .clone()
                        .unwrap_or_else(|| "text/plain".into());
                    api_request.headers.push(("content-type".into(), ct));
                    Value::String(String::from_utf8_lossy(&request.body).into_owned())
                }
            };
            api_request.data = Some(data);
        }
        let answer = self
            .call_with_fresh_credentials(conn, |runner| {
                let api_request = api_request.clone();
                async move {
                    let runner = runner.with_retry_policy(RetryPolicy::none());
                    let client = runner
                        .api_client()
                        .await
                        .map_err(ProxyCallError::Function)?;
                    client
                        .request(api_request)
                        .await
                        .map_err(ProxyCallError::Api)
                }
            })
            .await?;
        let answer = match answer {
            Ok(r) => Ok(r),
            Err(ProxyCallError::Function(e)) => return Err(ConnectionError::Function(e).into()),
            Err(ProxyCallError::Api(e)) => Err(e),
        };
        match answer {
            Ok(response) => {
                let ct = response.headers.get("content-type").and_then(Value::as_str);
                Ok(ProxyResponse::from_data(
                    response.status,
                    ct,
                    &response.data,
                ))
            }
            Err(error) => match upstream_response(&error) {
                Some((status, data)) => Ok(ProxyResponse::from_data(status, None, data)),
                None => Err(ConnectionError::Function(FunctionError::Api {
                    origin: "proxy".into(),
                    source: Box::new(error),
                })
                .into()),
            },
        }
    }
}

/// Why a proxied call failed: building the client, or the call itself.
#[derive(Debug)]
enum ProxyCallError {
    Function(FunctionError),
    Api(ApiClientError),
}

impl TokenExpiry for ProxyCallError {
    fn is_access_token_expired(&self) -> bool {
        matches!(self, ProxyCallError::Api(e) if e.is_access_token_expired())
    }
}

/// The response behind a failed call, when there was one.
fn upstream_response(error: &ApiClientError) -> Option<(u16, &Value)> {
    match error {
        ApiClientError::HttpStatus { response, .. }
        | ApiClientError::AccessTokenExpired {
            response: Some(response),
            ..
        }
        | ApiClientError::RateLimitExceeded {
            response: Some(response),
            ..
        } => Some((response.status, &response.data)),
        _ => None,
    }
}
