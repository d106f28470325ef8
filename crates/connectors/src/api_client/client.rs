//! The REST client a connection's `makeApiClient` describes: URL joining, headers,
//! query, basic auth, response classification (handlers, then status), retries.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use osmosis_runtime::formula::build_data;
use osmosis_runtime::js::{strip_undefined, truthy};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::config::{string_pairs, ApiClientConfig};
use super::error::{keys, ApiClientError, ResponseSummary, TransportKind};
use super::observe::{mask_body, mask_header, mask_header_map, mask_url, CallObserver, CallRecord};
use super::retry::{parse_retry_after, RetryPolicy};
use crate::http::{Deadline, OutboundClient, OutboundError, OutboundRequest};
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
    http: OutboundClient,
    config: ApiClientConfig,
    policy: RetryPolicy,
    redactor: Redactor,
    observer: Option<Arc<dyn CallObserver>>,
    oauth1: Option<OAuth1Signer>,
}

/// What signs each request of an OAuth 1.0a connection (RFC 5849 §3, HMAC-SHA1):
/// the app's consumer key and secret and the connection's token credentials.
#[derive(Clone)]
pub struct OAuth1Signer {
    pub consumer_key: String,
    pub consumer_secret: crate::redact::Secret,
    pub token: crate::auth::oauth1::OAuth1Token,
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

/// Retries of a request that got no answer at all (see [`ApiClient::request`]).
const UNANSWERED_RETRIES: u32 = 1;

impl ApiClient {
    /// `http` is shared across connections (connection pool); `redactor` should hold
    /// the connection's credentials, which are masked together with the secrets the
    /// config itself sends.
    pub fn new(
        http: OutboundClient,
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
            observer: None,
            oauth1: None,
        }
    }

    /// Signs every request with OAuth 1.0a (the connection's token credentials).
    pub fn with_oauth1(mut self, signer: OAuth1Signer) -> Self {
        self.redactor = self
            .redactor
            .clone()
            .with_secret(signer.consumer_secret.expose().to_owned())
            .with_secret(signer.token.secret.expose().to_owned());
        self.oauth1 = Some(signer);
        self
    }

    /// Hands every attempt this client makes to `observer`, masked.
    pub fn with_observer(mut self, observer: Option<Arc<dyn CallObserver>>) -> Self {
        self.observer = observer;
        self
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

    /// Sends the request, retrying within the policy and the operation's deadline:
    ///
    /// * a 429 or 5xx answer is retried with backoff, or after its `Retry-After`,
    ///   while attempts are left;
    /// * a request that got no answer at all is retried once, after the first
    ///   backoff: when no connection was made (the name did not resolve, the
    ///   connection was refused or timed out — nothing was sent, so any method), or,
    ///   for an idempotent method, when the connection broke. A host that cannot be
    ///   reached twice in a row is not reached by the eighth try either, and every
    ///   try makes the caller wait longer;
    /// * no attempt starts after the deadline — the policy's `overall_timeout` from
    ///   now or the operation's [`Deadline`], whichever comes first — each attempt
    ///   is bounded by the time left, and a `Retry-After` pointing past the deadline
    ///   ends the retries at once with the answer that asked for it.
    pub async fn request(&self, request: ApiRequest) -> Result<ApiResponse, ApiClientError> {
        let started = Instant::now();
        let own = started + self.policy.overall_timeout;
        let deadline = Deadline::current().map_or(own, |d| d.at().min(own));
        let idempotent = matches!(
            request.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        let mut attempt: u32 = 0;
        let mut unanswered: u32 = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome = self.attempt(&request, remaining).await;
            let mut error = match outcome {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            error.set_attempts(attempt);
            let hint = match &error {
                ApiClientError::Transport { kind, .. } => {
                    unanswered += 1;
                    (unanswered <= UNANSWERED_RETRIES
                        && (idempotent || *kind == TransportKind::Connect))
                        .then_some(None)
                }
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

    /// The request URL: base URI joined, the client's query merged under the
    /// request's (the request wins for the same name).
    fn full_url(&self, path: &str, query: &[(String, String)]) -> Result<url::Url, ApiClientError> {
        let mut url = self.url_for(path)?;
        if !self.config.query.is_empty() || !query.is_empty() {
            let existing: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let mut pairs = url.query_pairs_mut();
            pairs.clear();
            for (k, v) in existing.iter().chain(
                self.config
                    .query
                    .iter()
                    .filter(|(k, _)| !query.iter().any(|(rk, _)| rk == k)),
            ) {
                pairs.append_pair(k, v);
            }
            for (k, v) in query {
                pairs.append_pair(k, v);
            }
        }
        Ok(url)
    }

    /// A request builder with the client's auth and headers (those the request does
    /// not set itself) and the request's own headers; also the content type in effect.
    fn builder(
        &self,
        method: Method,
        url: url::Url,
        headers: &[(String, String)],
        timeout: Duration,
        form: &[(String, String)],
    ) -> (OutboundRequest, Option<String>) {
        let mut builder = self
            .http
            .request(method.clone(), url.clone())
            .timeout(timeout.max(Duration::from_millis(1)));
        if let Some(auth) = &self.config.auth {
            builder = builder.basic_auth(&auth.username, Some(auth.password.expose()));
        }
        if let Some(signer) = &self.oauth1 {
            let signed = crate::auth::oauth1::SignedRequest {
                method: method.as_str(),
                url: &url,
                form,
                consumer_key: &signer.consumer_key,
                consumer_secret: signer.consumer_secret.expose(),
                token: Some(&signer.token),
                protocol_extra: &[],
                nonce: crate::auth::oauth2::random_token(16),
                timestamp: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0),
            };
            builder = builder.header("authorization", signed.authorization_header());
        }
        let mut content_type: Option<String> = None;
        for (name, value) in self.effective_headers(headers) {
            builder = builder.header(name, value);
            if name.eq_ignore_ascii_case("content-type") {
                content_type = Some(value.to_owned());
            }
        }
        (builder, content_type)
    }

    /// A form-encoded body's parameters, which an OAuth 1 signature covers.
    fn signed_form_params(&self, request: &ApiRequest) -> Vec<(String, String)> {
        if self.oauth1.is_none() {
            return Vec::new();
        }
        let is_form = self.effective_headers(&request.headers).any(|(n, v)| {
            n.eq_ignore_ascii_case("content-type")
                && v.starts_with("application/x-www-form-urlencoded")
        });
        match (&request.data, is_form) {
            (Some(data @ Value::Object(_)), true) => {
                string_pairs(Some(&strip_undefined(data.clone())), "data").unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// The client's headers the request does not override, then the request's.
    fn effective_headers<'a>(
        &'a self,
        headers: &'a [(String, String)],
    ) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.config
            .headers
            .iter()
            .filter(|(n, _)| !headers.iter().any(|(rn, _)| rn.eq_ignore_ascii_case(n)))
            .chain(headers.iter())
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The headers sent, masked, for a call record.
    fn logged_headers(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .effective_headers(headers)
            .map(|(n, v)| (n.to_owned(), mask_header(&self.redactor, n, v)))
            .collect();
        if self.config.auth.is_some() || self.oauth1.is_some() {
            out.push(("authorization".into(), crate::redact::MASK.into()));
        }
        out
    }

    /// Hands one attempt to the observer, when there is one.
    #[allow(clippy::too_many_arguments)]
    fn observe(
        &self,
        method: &Method,
        url: &url::Url,
        headers: &[(String, String)],
        request_body: Option<Value>,
        started: (SystemTime, Instant),
        response: Option<(u16, &Map<String, Value>, Option<&Value>)>,
        error: Option<&ApiClientError>,
    ) {
        let Some(observer) = &self.observer else {
            return;
        };
        let request_type = self
            .effective_headers(headers)
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.to_owned());
        let response_type = response.and_then(|r| r.1.get("content-type")?.as_str());
        observer.record(CallRecord {
            started_at: started.0,
            duration: started.1.elapsed(),
            method: method.as_str().to_owned(),
            url: mask_url(&self.redactor, url),
            request_headers: self.logged_headers(headers),
            request_body: request_body
                .map(|b| mask_body(&self.redactor, &b, request_type.as_deref())),
            status: response.map(|r| r.0),
            response_headers: response
                .map(|r| mask_header_map(&self.redactor, r.1))
                .unwrap_or_default(),
            response_body: response
                .and_then(|r| r.2)
                .map(|b| mask_body(&self.redactor, b, response_type)),
            is_success: error.is_none(),
            error: error.map(|e| e.to_string()),
        });
    }

    async fn attempt(&self, request: &ApiRequest, remaining: Duration) -> Attempt {
        let url = self.full_url(&request.path, &request.query)?;
        let started = (SystemTime::now(), Instant::now());
        let form_params = self.signed_form_params(request);
        let (mut builder, content_type) = self.builder(
            request.method.clone(),
            url.clone(),
            &request.headers,
            remaining,
            &form_params,
        );
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
        let observed_body = || self.observer.as_ref().and(request.data.clone());
        let received = async {
            let response = builder.send().await.map_err(|e| self.outbound(e))?;
            let status = response.status().as_u16();
            let headers = header_map(response.headers());
            let retry_after = retry_after(response.headers());
            let is_json = is_json(response.headers());
            let bytes = response.bytes().await.map_err(|e| self.transport(e))?;
            Ok((status, headers, parse_body(&bytes, is_json), retry_after))
        };
        let (status, headers, data, retry_after) = match received.await {
            Ok(parts) => parts,
            Err(error) => {
                let error = self.with_request_detail(error, &request.method, &url);
                let body = observed_body();
                self.observe(
                    &request.method,
                    &url,
                    &request.headers,
                    body,
                    started,
                    None,
                    Some(&error),
                );
                return Err(error);
            }
        };
        let response = ApiResponse {
            status,
            headers,
            data,
        };
        if self.observer.is_none() {
            return self.classify(response, retry_after);
        }
        let (status, headers, data) = (
            response.status,
            response.headers.clone(),
            response.data.clone(),
        );
        let outcome = self.classify(response, retry_after);
        self.observe(
            &request.method,
            &url,
            &request.headers,
            observed_body(),
            started,
            Some((status, &headers, Some(&data))),
            outcome.as_ref().err(),
        );
        outcome
    }

    /// Sends a raw request (the API proxy) and returns the response before reading
    /// its body, so the caller can stream it. Not retried. The policy's
    /// `overall_timeout`, or the time left before the operation's [`Deadline`] when
    /// that is sooner, bounds the whole exchange, streamed body included.
    ///
    /// The status is classified before anything is streamed: a 401, or a response
    /// the client's handlers call `access_token_expired` or `connection_is_defunct`,
    /// is read (it is small) and returned as that error, so a credentials refresh
    /// can react before the caller has sent a byte. Any other answer, success or
    /// not, is passed on as the API gave it.
    /// Handlers need the body: with handlers, bodies up to [`CLASSIFY_LIMIT`] bytes
    /// (by `Content-Length`) are read and classified; larger or unsized bodies are
    /// streamed on their status alone.
    pub async fn send_raw(&self, request: RawRequest) -> Result<RawResponse, ApiClientError> {
        let url = self.full_url(&request.path, &request.query)?;
        let started = (SystemTime::now(), Instant::now());
        let (builder, _) = self.builder(
            request.method.clone(),
            url.clone(),
            &request.headers,
            self.policy.overall_timeout,
            &[],
        );
        let note = |response: Option<(u16, &Map<String, Value>, Option<&Value>)>,
                    error: Option<&ApiClientError>| {
            if self.observer.is_none() {
                return;
            }
            let body = (!request.body.is_empty()).then(|| {
                if request.body.len() > LOGGED_BODY_LIMIT {
                    Value::String(format!("({} bytes, not recorded)", request.body.len()))
                } else {
                    parse_body(&request.body, false)
                }
            });
            self.observe(
                &request.method,
                &url,
                &request.headers,
                body,
                started,
                response,
                error,
            );
        };
        let builder = if request.body.is_empty() {
            builder
        } else {
            builder.body(request.body.clone())
        };
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => {
                let error = self.with_request_detail(self.outbound(e), &request.method, &url);
                note(None, Some(&error));
                return Err(error);
            }
        };
        let status = response.status().as_u16();
        let headers = header_map(response.headers());
        let small = response
            .content_length()
            .is_some_and(|n| n as usize <= CLASSIFY_LIMIT);
        let classify = status == 401 || (!self.config.response_handlers.is_empty() && small);
        if !classify {
            let error = (!(200..300).contains(&status)).then(|| ApiClientError::HttpStatus {
                status,
                message: format!("HTTP {status}"),
                attempts: 1,
                retry_after: None,
                response: ResponseSummary {
                    status,
                    data: Value::Null,
                },
            });
            note(Some((status, &headers, None)), error.as_ref());
            return Ok(RawResponse::Streaming(response));
        }
        let retry_after = retry_after(response.headers());
        let is_json = is_json(response.headers());
        let raw_headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let error = self.transport(e);
                note(Some((status, &headers, None)), Some(&error));
                return Err(error);
            }
        };
        let data = parse_body(&bytes, is_json);
        let outcome = self.classify(
            ApiResponse {
                status,
                headers: headers.clone(),
                data: data.clone(),
            },
            retry_after,
        );
        note(
            Some((status, &headers, Some(&data))),
            outcome.as_ref().err(),
        );
        match outcome {
            Err(e)
                if e.is_access_token_expired()
                    || matches!(e, ApiClientError::ConnectionIsDefunct { .. }) =>
            {
                Err(e)
            }
            // Otherwise a handler decides the classification only; the proxy answers
            // with the API's own bytes.
            _ => Ok(RawResponse::Buffered {
                status,
                headers: raw_headers,
                body: bytes,
            }),
        }
    }

    /// A request that got no response: refused by the outbound guard (not retried:
    /// the address will not change between attempts), or a transport failure.
    fn outbound(&self, error: OutboundError) -> ApiClientError {
        match error {
            OutboundError::Refused(refused) => ApiClientError::AddressRefused(refused),
            OutboundError::Request(e) => self.transport(e),
            OutboundError::DeadlineExceeded(deadline) => ApiClientError::DeadlineExceeded {
                deadline,
                attempts: 1,
            },
        }
    }

    /// Names the request a deadline cut short (`GET api.example.com/v1/me`: no
    /// query, which may hold a key, and known secrets masked).
    fn with_request_detail(
        &self,
        error: ApiClientError,
        method: &Method,
        url: &url::Url,
    ) -> ApiClientError {
        match error {
            ApiClientError::DeadlineExceeded {
                mut deadline,
                attempts,
            } if deadline.detail.is_none() => {
                let target = format!("{}{}", url.host_str().unwrap_or_default(), url.path());
                deadline.detail = Some(format!("{method} {}", self.redactor.text(&target)));
                ApiClientError::DeadlineExceeded { deadline, attempts }
            }
            other => other,
        }
    }

    fn transport(&self, error: reqwest::Error) -> ApiClientError {
        // A timeout when the operation's deadline came is the deadline's doing.
        if error.is_timeout() {
            if let Some(deadline) = Deadline::current().filter(Deadline::passed) {
                return ApiClientError::DeadlineExceeded {
                    deadline: deadline.exceeded(None),
                    attempts: 1,
                };
            }
        }
        let kind = if error.is_connect() {
            TransportKind::Connect
        } else if error.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
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
            kind,
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

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"))
}

/// Largest response body [`ApiClient::send_raw`] reads to run response handlers on.
pub const CLASSIFY_LIMIT: usize = 1024 * 1024;

/// Largest raw request body a call record keeps.
const LOGGED_BODY_LIMIT: usize = 64 * 1024;

/// A request passed through as bytes (the API proxy): path relative to the base URI,
/// headers already filtered by the caller.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

/// The external API's answer to a [`RawRequest`].
#[derive(Debug)]
pub enum RawResponse {
    /// Status and headers arrived; the body is still to be read (streamed).
    Streaming(reqwest::Response),
    /// The body was read to classify the response.
    Buffered {
        status: u16,
        headers: HeaderMap,
        body: bytes::Bytes,
    },
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
