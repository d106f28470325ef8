//! The HTTP side every API mock shares: a request as the mock sees it, a reply, and a
//! server that logs each exchange so a failing case can show what the API was sent
//! and what it answered.
//!
//! Mocks are plain synchronous functions of a request (`Api::answer`): the rules are
//! easier to read as one `match` per API than as a router, and a mock can be checked
//! against a hand-made request without a server (`Req::new`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// One request, as received.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Req {
    /// A hand-made request (for checking a mock's rules directly); `target` is a path
    /// with an optional query string.
    pub fn new(method: &str, target: &str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            method: method.to_owned(),
            path: path.to_owned(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: HeaderMap::new(),
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }

    pub fn with_body(mut self, content_type: &str, body: &str) -> Self {
        self.body = body.to_owned();
        self.with_header("content-type", content_type)
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of an `Authorization: Bearer …` header. The scheme is matched
    /// case-insensitively, as RFC 6750 §2.1 (through RFC 7235) has it.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    }

    fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// The body as JSON, when it is sent as JSON (`application/json`, any parameters).
    pub fn json(&self) -> Option<Value> {
        self.content_type()
            .starts_with("application/json")
            .then(|| serde_json::from_str(&self.body).ok())
            .flatten()
    }

    /// The body's pairs, when it is sent form-encoded.
    pub fn form(&self) -> Option<Vec<(String, String)>> {
        self.content_type()
            .starts_with("application/x-www-form-urlencoded")
            .then(|| {
                url::form_urlencoded::parse(self.body.as_bytes())
                    .into_owned()
                    .collect()
            })
    }

    /// Whether this is `method` on a path matching `pattern`, where a `*` segment
    /// matches any one segment.
    pub fn is(&self, method: &str, pattern: &str) -> bool {
        self.method == method && self.matches(pattern)
    }

    pub fn matches(&self, pattern: &str) -> bool {
        let path: Vec<&str> = self.path.split('/').collect();
        let pattern: Vec<&str> = pattern.split('/').collect();
        path.len() == pattern.len()
            && path
                .iter()
                .zip(&pattern)
                .all(|(segment, want)| *want == "*" || segment == want)
    }

    /// The path's `index`th segment (0 is the empty one before the first `/`),
    /// percent-decoded.
    pub fn segment(&self, index: usize) -> String {
        let raw = self.path.split('/').nth(index).unwrap_or("");
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    }
}

/// What a mock answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

pub fn ok(body: Value) -> Reply {
    status(200, body)
}

pub fn status(status: u16, body: Value) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        body,
    }
}

impl Reply {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A mock of one third-party API.
pub trait Api: Send + Sync {
    fn answer(&self, req: &Req) -> Reply;
}

/// A request and what the mock answered.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub req: Req,
    pub status: u16,
    pub body: Value,
}

impl std::fmt::Display for Exchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let req = &self.req;
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&req.query)
            .finish();
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        let body = if req.body.is_empty() {
            String::new()
        } else {
            format!(" {}", req.body)
        };
        write!(
            f,
            "{} {}{query}{body} → {} {}",
            req.method, req.path, self.status, self.body
        )
    }
}

pub type Log = Arc<Mutex<Vec<Exchange>>>;

#[derive(Clone)]
struct Served {
    api: Arc<dyn Api>,
    log: Log,
}

/// Serves `api` on a free loopback port; returns its base URL and the exchange log.
pub async fn serve(api: Arc<dyn Api>) -> (String, Log) {
    let log = Log::default();
    let app = Router::new().fallback(handle).with_state(Served {
        api,
        log: log.clone(),
    });
    (crate::mock::serve(app).await, log)
}

async fn handle(
    State(served): State<Served>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> Response {
    let req = Req {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers,
        body,
    };
    let reply = served.api.answer(&req);
    served.log.lock().unwrap().push(Exchange {
        req,
        status: reply.status,
        body: reply.body.clone(),
    });
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", "application/json")
        .body(Body::from(reply.body.to_string()))
        .unwrap();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    response.into_response()
}
