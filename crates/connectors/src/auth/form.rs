//! Shared bits of talking to token endpoints: posting the request's parameters (a form,
//! or JSON where the provider asks for it) and reading a response that may be JSON or
//! form encoded (GitHub and OAuth 1 providers answer with forms).

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde_json::{Map, Value};

use super::AuthError;
use crate::http::OutboundClient;
use crate::redact::Redactor;

/// How a token request's parameters are sent. RFC 6749 says form; a few providers
/// document JSON instead (Notion) and the getOAuthConfig field `tokenRequestFormat`
/// (an Osmosis extension, absent from Membrane's schema) picks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenRequestFormat {
    #[default]
    Form,
    Json,
}

pub(crate) async fn post_token_request(
    http: &OutboundClient,
    url: &str,
    params: &[(String, String)],
    format: TokenRequestFormat,
    authorization: Option<String>,
    redactor: &Redactor,
) -> Result<Value, AuthError> {
    let request = http.post(url).header(ACCEPT, "application/json");
    let mut request = match format {
        TokenRequestFormat::Form => request.form(params),
        TokenRequestFormat::Json => request.json(
            &params
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<String, Value>>(),
        ),
    };
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    let response = request
        .send()
        .await
        .map_err(|e| AuthError::outbound(e, redactor))?;
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
