//! The API proxy: a request passed through a connection's API client (its base URL,
//! headers, query and auth from `makeApiClient`), answered with the external API's
//! status, safe headers and body — streamed, not buffered whole.

use osmosis_connectors::api_client::{ApiClientError, RawRequest, RawResponse};
use osmosis_connectors::function::FunctionError;
use osmosis_model::{ApiError, Element};

use super::calls::{api_failure, CallError, CallFailure};
use super::Calls;
use super::ConnectionError;
use crate::Caller;

/// A request to pass through, path relative to the API's base URL.
#[derive(Debug, Clone)]
pub struct ProxyRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// The caller's headers; only [`forwarded_request_header`] ones are sent.
    pub headers: Vec<(String, String)>,
    pub body: bytes::Bytes,
}

/// The external API's answer.
#[derive(Debug)]
pub struct ProxyResponse {
    pub status: u16,
    /// Response headers safe to pass back ([`returned_response_header`]).
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: ProxyBody,
}

/// A response body: still streaming from the API, or already read.
#[derive(Debug)]
pub enum ProxyBody {
    /// Read it with `bytes_stream()`.
    Stream(reqwest::Response),
    Full(bytes::Bytes),
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and ones that describe one connection.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether a caller's header goes on to the external API: not hop-by-hop, not the
/// caller's credentials for Osmosis (`authorization`, `cookie`), not `host` or
/// `content-length` (the client sets them), not Osmosis' own API headers, not
/// `accept-encoding` (bodies pass through undecoded, and classification reads them).
pub fn forwarded_request_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !(HOP_BY_HOP.contains(&name.as_str())
        || [
            "authorization",
            "cookie",
            "host",
            "content-length",
            "accept-encoding",
            "membrane-api-version",
            "origin",
            "referer",
        ]
        .contains(&name.as_str())
        || name.starts_with("x-forwarded-")
        || name.starts_with("sec-"))
}

/// Whether an API response header goes back to the caller: not hop-by-hop, not
/// `content-length` (the body is re-framed), not `set-cookie` (the API's session
/// must not land on Osmosis' origin).
pub fn returned_response_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    !(HOP_BY_HOP.contains(&name.as_str()) || name == "content-length" || name == "set-cookie")
}

fn safe_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .iter()
        .filter(|(n, _)| returned_response_header(n.as_str()))
        .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
        .collect()
}

impl Calls<'_> {
    /// Sends `request` through the connection's API client. An API answer that is an
    /// error comes back as that answer (status and body), not retried: the caller
    /// sees what the API said. An expired token or defunct connection (401, or a
    /// response handler saying so) is an error of the call — where a credentials
    /// refresh reacts — and, when it stands, is answered with the API's status and
    /// its masked body.
    pub async fn proxy(
        &self,
        caller: &Caller,
        conn: &Element,
        request: ProxyRequest,
    ) -> Result<ProxyResponse, ApiError> {
        let method = osmosis_connectors::api_client::ApiRequest::method_from_str(&request.method)
            .map_err(|e| {
            ApiError::from(ConnectionError::Function(FunctionError::InvalidRequest {
                origin: "proxy".into(),
                message: e.to_string(),
            }))
        })?;
        let raw = RawRequest {
            method,
            path: request.path,
            query: request.query,
            headers: request
                .headers
                .into_iter()
                .filter(|(n, _)| forwarded_request_header(n))
                .collect(),
            body: request.body,
        };
        let sent = self
            .call_connection(caller, conn, |runner| {
                let raw = raw.clone();
                async move {
                    let client = runner.api_client().await?;
                    client.send_raw(raw).await.map_err(api_failure("proxy"))
                }
            })
            .await;
        match sent {
            Ok(RawResponse::Streaming(response)) => Ok(ProxyResponse {
                status: response.status().as_u16(),
                headers: safe_headers(response.headers()),
                body: ProxyBody::Stream(response),
            }),
            Ok(RawResponse::Buffered {
                status,
                headers,
                body,
            }) => Ok(ProxyResponse {
                status,
                headers: safe_headers(&headers),
                body: ProxyBody::Full(body),
            }),
            Err(CallError::Call(CallFailure::Function(f))) => {
                match f.api_error().and_then(upstream_response) {
                    Some((status, data)) => Ok(ProxyResponse {
                        status,
                        headers: vec![("content-type".into(), b"application/json".to_vec())],
                        body: ProxyBody::Full(bytes::Bytes::from(data.to_string())),
                    }),
                    None => Err(ConnectionError::Function(f).into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The (masked) response behind a failed call, when there was one.
fn upstream_response(error: &ApiClientError) -> Option<(u16, &serde_json::Value)> {
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
