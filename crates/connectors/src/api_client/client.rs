//! The REST client a connection's `makeApiClient` describes: URL joining, headers,
//! query, basic auth, response classification (handlers, then status), retries.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use osmosis_runtime::formula::build_data;
use osmosis_runtime::js::{strip_undefined, truthy};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::config::{string_pairs, ApiClientConfig};
use super::error::{keys, ApiClientError, ResponseSummary};
use super::retry::{parse_retry_after, RetryPolicy};
use crate::redact::Redactor;

/// One request, with a path relative to the base URI (or an absolute URL).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub data: Option<Value>,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            data: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds query parameters and headers given as JSON objects (what mappings and
    /// JavaScript produce).
    pub fn with_json_parts(
        mut self,
        query: Option<&Value>,
        headers: Option<&Value>,
    ) -> Result<Self, ApiClientError> {
        self.query.extend(string_pairs(query, "query")?);
        self.headers.extend(string_pairs(headers, "headers")?);
        Ok(self)
    }

    /// Parses a method name (any case).
    pub fn method_from_str(name: &str) -> Result<Method, ApiClientError> {
        Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| ApiClientError::InvalidRequest(format!("unknown HTTP method `{name}`")))
    }
}

/// A successful response: status, lower-cased headers, and the body (JSON when it
/// parses, else text; `null` when empty). For a handler with `data`, `data` is what
/// the handler built.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Map<String, Value>,
    pub data: Value,
}

impl ApiResponse {
    /// `{data, headers, statusCode}`, the `response` variable of response mappings.
    pub fn to_mapping_value(&self) -> Value {
        json!({"data": self.data, "headers": self.headers, "statusCode": self.status})
    }

    /// `{status, headers, data}`, what JavaScript's `returnFullResponse` gets.
    pub fn to_full_response(&self) -> Value {
        json!({"status": self.status, "headers": self.headers, "data": self.data})
    }
}

/// The API client of one connection.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    config: ApiClientConfig,
    policy: RetryPolicy,
    redactor: Redactor,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish()
    }
}

/// What one attempt produced before retry decisions.
type Attempt = Result<ApiResponse, ApiClientError>;

impl ApiClient {
    /// `http` is shared across connections (connection pool); `redactor` should hold
    /// the connection's credentials, which are masked together with the secrets the
    /// config itself sends.
    pub fn new(
        http: reqwest::Client,
        config: ApiClientConfig,
        policy: RetryPolicy,
        redactor: Redactor,
    ) -> Self {
        let redactor = config.redactor().merge(&redactor);
        Self {
            http,
            config,
            policy,
            redactor,
        }
    }

    pub fn config(&self) -> &ApiClientConfig {
        &self.config
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Sends the request, retrying rate limits and server errors within the policy.
    pub async fn request(&self, request: ApiRequest) -> Result<ApiResponse, ApiClientError> {
        let started = Instant::now();
        let deadline = started + self.policy.overall_timeout;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = self.attempt(&request, remaining).await;
            let mut error = match outcome {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            error.set_attempts(attempt);
            let idempotent = matches!(
                request.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            );
            let hint = match &error {
                ApiClientError::Transport { .. } if idempotent => Some(None),
                other => other.retry_hint(),
            };
            let Some(retry_after) = hint else {
                return Err(error);
            };
            if attempt >= self.policy.max_attempts {
                return Err(error);
            }
            let wait = retry_after.unwrap_or_else(|| self.policy.backoff(attempt));
            if Instant::now() + wait >= deadline {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
        }
    }

    pub fn url_for(&self, path: &str) -> Result<url::Url, ApiClientError> {
        let joined = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            match &self.config.base_uri {
                Some(base) if !base.is_empty() => {
                    let base = base.trim_end_matches('/');
                    if path.is_empty() {
                        base.to_owned()
                    } else if path.starts_with('/') || path.starts_with('?') {
                        format!("{base}{path}")
                    } else {
                        format!("{base}/{path}")
                    }
                }
                _ => path.to_owned(),
            }
        };
        url::Url::parse(&joined).map_err(|e| ApiClientError::InvalidUrl {
            url: self.redactor.text(&joined),
            reason: e.to_string(),
        })
    }

    async fn attempt(&self, request: &ApiRequest, remaining: Duration) -> Attempt {
        let mut url = self.url_for(&request.path)?;
        if !self.config.query.is_empty() || !request.query.is_empty() {
            // Request query wins over the client's for the same name.
            let existing: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in existing.iter().chain(
                self.config
                    .query
                    .iter()
                    .filter(|(k, _)| !request.query.iter().any(|(rk, _)| rk == k)),
            ) {
                pairs.append_pair(k, v);
            }
            for (k, v) in &request.query {
                pairs.append_pair(k, v);
            }
        }
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .timeout(remaining.max(Duration::from_millis(1)));
        if let Some(auth) = &self.config.auth {
            builder = builder.basic_auth(&auth.username, Some(auth.password.expose()));
        }
        let mut content_type: Option<String> = None;
        for (name, value) in self.config.headers.iter().filter(|(n, _)| {
            !request
                .headers
                .iter()
                .any(|(rn, _)| rn.eq_ignore_ascii_case(n))
        }) {
            builder = builder.header(name.as_str(), value.as_str());
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.clone());
            }
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.clone());
            }
        }
        if let Some(data) = &request.data {
            let data = strip_undefined(data.clone());
            let form = content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            builder = match (form, &data) {
                (true, Value::Object(_)) => {
                    builder.form(&string_pairs(Some(&data), "data").unwrap_or_default())
                }
                (_, Value::String(text)) if content_type.is_some() => builder.body(text.clone()),
                _ => builder.json(&data),
            };
        }
        let response = builder.send().await.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let headers = header_map(response.headers());
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("json"));
        let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
        let data = parse_body(&bytes, is_json);
        self.classify(
            ApiResponse {
                status,
                headers,
                data,
            },
            retry_after,
        )
    }

    fn transport(&self, error: reqwest::Error) -> ApiClientError {
        // The URL may carry an API key in its query: drop it, then mask what is left.
        let error = error.without_url();
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        ApiClientError::Transport {
            message: self.redactor.text(&message),
            attempts: 1,
        }
    }

    /// Response handlers first (in order, the first whose `match` is truthy decides),
    /// then the status: 2xx success, 401 expired token, 429 rate limit, else an error.
    fn classify(&self, response: ApiResponse, retry_after: Option<Duration>) -> Attempt {
        let vars = handler_variables(&response);
        for (index, handler) in self.config.response_handlers.iter().enumerate() {
            let formula_error = |e: osmosis_runtime::RuntimeError| ApiClientError::HandlerFormula {
                index,
                message: self.redactor.text(&e.to_string()),
            };
            let matched = build_data(Some(&handler.matcher), Some(&vars)).map_err(formula_error)?;
            if !truthy(matched.as_ref()) {
                continue;
            }
            let success =
                build_data(Some(&handler.is_success), Some(&vars)).map_err(formula_error)?;
            if truthy(success.as_ref()) {
                let data = match &handler.data {
                    Some(formula) => build_data(Some(formula), Some(&vars))
                        .map_err(formula_error)?
                        .map(strip_undefined)
                        .unwrap_or(Value::Null),
                    None => response.data.clone(),
                };
                return Ok(ApiResponse { data, ..response });
            }
            let error = match &handler.error {
                Some(formula) => build_data(Some(formula), Some(&vars))
                    .map_err(formula_error)?
                    .map(strip_undefined)
                    .unwrap_or(Value::Null),
                None => Value::Null,
            };
            return Err(self.handler_error(&response, &error, retry_after));
        }
        let summary = || ResponseSummary {
            status: response.status,
            data: self.redactor.value(&response.data),
        };
        match response.status {
            200..=299 => Ok(response),
            401 => Err(ApiClientError::AccessTokenExpired {
                message: self.status_message(&response),
                response: Some(summary()),
            }),
            429 => Err(ApiClientError::RateLimitExceeded {
                message: self.status_message(&response),
                attempts: 1,
                retry_after,
                response: Some(summary()),
            }),
            status => Err(ApiClientError::HttpStatus {
                status,
                message: self.status_message(&response),
                attempts: 1,
                retry_after,
                response: summary(),
            }),
        }
    }

    fn handler_error(
        &self,
        response: &ApiResponse,
        error: &Value,
        retry_after: Option<Duration>,
    ) -> ApiClientError {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .map(|m| self.redactor.text(m))
            .unwrap_or_else(|| self.status_message(response));
        let data = error.get("data").map(|d| self.redactor.value(d));
        let summary = ResponseSummary {
            status: response.status,
            data: self.redactor.value(&response.data),
        };
        match error.get("key").and_then(Value::as_str) {
            Some(keys::ACCESS_TOKEN_EXPIRED) => ApiClientError::AccessTokenExpired {
                message,
                response: Some(summary),
            },
            Some(keys::CONNECTION_IS_DEFUNCT) => {
                ApiClientError::ConnectionIsDefunct { message, data }
            }
            Some(keys::RATE_LIMIT_EXCEEDED) => ApiClientError::RateLimitExceeded {
                message,
                attempts: 1,
                retry_after,
                response: Some(summary),
            },
            other => ApiClientError::Handler {
                key: other.map(str::to_owned),
                message,
                data: Some(data.unwrap_or_else(
                    || json!({"response": {"status": summary.status, "data": summary.data}}),
                )),
            },
        }
    }

    /// A short human message for a failed response: the API's own `message` /
    /// `error_description` / `error` when it has one, else the status.
    fn status_message(&self, response: &ApiResponse) -> String {
        let from_body = ["message", "error_description", "error", "detail"]
            .iter()
            .find_map(|k| match response.data.get(k) {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => {
                    o.get("message").and_then(Value::as_str).map(str::to_owned)
                }
                _ => None,
            });
        let text = match from_body {
            Some(m) => format!("{} ({})", m, response.status),
            None => format!("HTTP {}", response.status),
        };
        self.redactor.text(&text)
    }
}

/// Variables response handler formulas see: the response under `response` (as
/// mappings see it), and its parts at the top level as well, since handlers are
/// written both ways.
fn handler_variables(response: &ApiResponse) -> Value {
    json!({
        "response": {
            "data": response.data,
            "headers": response.headers,
            "statusCode": response.status,
            "status": response.status,
        },
        "data": response.data,
        "headers": response.headers,
        "statusCode": response.status,
        "status": response.status,
    })
}

fn header_map(headers: &HeaderMap) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    map
}

fn parse_body(bytes: &[u8], is_json: bool) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => v,
        Err(_) if is_json => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        Err(_) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}
