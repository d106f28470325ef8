//! Watching the calls an API client makes: each attempt (retries included) is handed
//! to a [`CallObserver`] as a [`CallRecord`], already masked, so whoever stores it
//! (the engine's external API logs) never sees a secret.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::redact::{looks_secret, redact_form_text, redact_json_keys, Redactor, MASK};

/// One request to the external API and what came back, secrets masked.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// When the request was sent.
    pub started_at: SystemTime,
    /// Until the whole body was read, or until the headers for a streamed response.
    pub duration: Duration,
    pub method: String,
    /// The full URL, secret-looking query values masked.
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<Value>,
    /// `None` when no response came (transport error).
    pub status: Option<u16>,
    pub response_headers: Map<String, Value>,
    /// `None` when the body was streamed to the caller without being read here.
    pub response_body: Option<Value>,
    /// How the call was classified (response handlers, then status).
    pub is_success: bool,
    /// Why it failed, when it did (masked).
    pub error: Option<String>,
}

/// Receives every call an [`super::ApiClient`] makes. Called inline on the request
/// path: implementations must not block (hand the record to a queue).
pub trait CallObserver: Send + Sync {
    fn record(&self, record: CallRecord);
}

/// Header names whose values are always masked, whatever the redactor knows.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

fn secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) || looks_secret(name)
}

/// A header value as it may be logged.
pub fn mask_header(redactor: &Redactor, name: &str, value: &str) -> String {
    if secret_header(name) {
        MASK.to_owned()
    } else {
        redactor.text(value)
    }
}

/// Response headers as they may be logged.
pub fn mask_header_map(redactor: &Redactor, headers: &Map<String, Value>) -> Map<String, Value> {
    headers
        .iter()
        .map(|(name, value)| {
            let masked = match value {
                Value::String(v) => Value::String(mask_header(redactor, name, v)),
                other => redactor.value(other),
            };
            (name.clone(), masked)
        })
        .collect()
}

/// A URL as it may be logged: secret-looking query values and known secrets masked.
pub fn mask_url(redactor: &Redactor, url: &url::Url) -> String {
    let mut url = url.clone();
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let mut out = url.query_pairs_mut();
        out.clear();
        for (k, v) in pairs {
            if looks_secret(&k) {
                out.append_pair(&k, MASK);
            } else {
                out.append_pair(&k, &v);
            }
        }
    }
    if !url.password().unwrap_or("").is_empty() {
        let _ = url.set_password(Some(MASK));
    }
    redactor.text(url.as_str())
}

/// A request or response body as it may be logged: the connection's known secrets
/// masked, and the values of secret-looking fields (`secret`, `client_secret`,
/// `password`, …: [`redact_json_keys`]) whatever they are — a webhook's signing
/// secret sent or received is no credential of the connection. A form-encoded body
/// kept as text (`content_type` says so) has its secret-looking fields masked too.
pub fn mask_body(redactor: &Redactor, body: &Value, content_type: Option<&str>) -> Value {
    let mut body = redactor.value(body);
    redact_json_keys(&mut body);
    let form = content_type.is_some_and(|c| {
        c.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if let (true, Value::String(text)) = (form, &body) {
        body = Value::String(redact_form_text(text));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_headers_query_values_and_known_secrets() {
        let r = Redactor::new().with_secret("sk-abcdef");
        assert_eq!(mask_header(&r, "Authorization", "Bearer x"), MASK);
        assert_eq!(mask_header(&r, "x-api-key", "anything"), MASK);
        assert_eq!(
            mask_header(&r, "x-note", "has sk-abcdef in it"),
            "has *** in it"
        );
        let url = url::Url::parse("https://h/p?api_key=zzz&page=2&q=sk-abcdef").unwrap();
        let masked = mask_url(&r, &url);
        assert!(
            !masked.contains("zzz") && !masked.contains("sk-abcdef"),
            "{masked}"
        );
        assert!(masked.contains("page=2"), "{masked}");
    }

    #[test]
    fn masks_secret_fields_of_bodies() {
        let r = Redactor::new().with_secret("sk-abcdef");
        let body = serde_json::json!({"id": "we_1", "secret": "whsec_1", "note": "sk-abcdef",
                                      "config": {"url": "https://h", "secret": "gh"}});
        assert_eq!(
            mask_body(&r, &body, Some("application/json")),
            serde_json::json!({"id": "we_1", "secret": MASK, "note": MASK,
                               "config": {"url": "https://h", "secret": MASK}})
        );
        let form = Value::String("code=c&client_secret=cs&redirect_uri=u".into());
        let ct = Some("application/x-www-form-urlencoded; charset=utf-8");
        assert_eq!(
            mask_body(&r, &form, ct),
            Value::String("code=c&client_secret=***&redirect_uri=u".into())
        );
        assert_eq!(mask_body(&r, &form, Some("text/plain")), form);
    }
}
