//! Shared bits of talking to token endpoints: posting a form and reading a response
//! that may be JSON or form encoded (GitHub and OAuth 1 providers answer with forms).

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};

use super::AuthError;
use crate::redact::Redactor;

pub(crate) async fn post_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(String, String)],
    authorization: Option<String>,
    redactor: &Redactor,
) -> Result<Value, AuthError> {
    let mut request = http.post(url).header(ACCEPT, "application/json").form(form);
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AuthError::Transport(redactor.text(&e.without_url().to_string())))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| AuthError::Transport(redactor.text(&e.without_url().to_string())))?;
    let body = parse_token_body(&text);
    if !(200..300).contains(&status) || body.get("error").is_some_and(|e| !e.is_null()) {
        let error = body
            .get("error")
            .and_then(Value::as_str)
            .map(|e| redactor.text(e))
            .unwrap_or_else(|| format!("HTTP {status}"));
        let description = body
            .get("error_description")
            .and_then(Value::as_str)
            .map(|d| redactor.text(d));
        return Err(AuthError::TokenEndpoint {
            status,
            error,
            description,
        });
    }
    Ok(body)
}

/// JSON when it parses as an object, else `application/x-www-form-urlencoded`.
pub(crate) fn parse_token_body(text: &str) -> Value {
    if let Ok(value @ Value::Object(_)) = serde_json::from_str::<Value>(text) {
        return value;
    }
    let map: Map<String, Value> = url::form_urlencoded::parse(text.trim().as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Value::Object(map)
}
