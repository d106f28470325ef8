//! The client description `makeApiClient` returns: `{baseUri, headers, query,
//! auth: {username, password}, responseHandlers}` (optionally wrapped in `args`, the
//! SDK's `REST_API_CLIENT_SCHEMA` shape).

use std::fmt;

use serde_json::{Map, Value};

use super::error::ApiClientError;
use crate::redact::{Redactor, Secret};

/// One entry of `responseHandlers`: formulas over the response deciding success or a
/// classified error.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHandler {
    /// Formula; the handler applies when it builds to a truthy value.
    pub matcher: Value,
    /// Boolean or formula.
    pub is_success: Value,
    /// Formula for the data returned on success (default: the response body).
    pub data: Option<Value>,
    /// Formula for `{message, key, data}` on failure.
    pub error: Option<Value>,
}

#[derive(Clone, PartialEq)]
pub struct BasicAuth {
    pub username: String,
    pub password: Secret,
}

#[derive(Clone, Default, PartialEq)]
pub struct ApiClientConfig {
    pub base_uri: Option<String>,
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub auth: Option<BasicAuth>,
    pub response_handlers: Vec<ResponseHandler>,
}

use crate::redact::looks_secret;

impl ApiClientConfig {
    /// Reads the output of `makeApiClient`.
    pub fn from_value(value: &Value) -> Result<Self, ApiClientError> {
        let object = match value {
            Value::Object(map) => match (map.get("baseUri"), map.get("args")) {
                (None, Some(Value::Object(args))) => args,
                _ => map,
            },
            Value::Null => return Ok(Self::default()),
            _ => {
                return Err(ApiClientError::InvalidConfig {
                    field: "(result)".into(),
                    problem: "must be an object",
                })
            }
        };
        let base_uri = match object.get("baseUri") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(ApiClientError::InvalidConfig {
                    field: "baseUri".into(),
                    problem: "must be a string",
                })
            }
        };
        let headers = string_pairs(object.get("headers"), "headers")?;
        let query = string_pairs(object.get("query"), "query")?;
        let auth = match object.get("auth") {
            None | Some(Value::Null) => None,
            Some(Value::Object(auth)) => {
                let part = |name: &str| match auth.get(name) {
                    None | Some(Value::Null) => Some(String::new()),
                    Some(v) => scalar_string(v),
                };
                match (part("username"), part("password")) {
                    (Some(username), Some(password)) => Some(BasicAuth {
                        username,
                        password: Secret::new(password),
                    }),
                    _ => {
                        return Err(ApiClientError::InvalidConfig {
                            field: "auth".into(),
                            problem: "must hold string `username` and `password`",
                        })
                    }
                }
            }
            Some(_) => {
                return Err(ApiClientError::InvalidConfig {
                    field: "auth".into(),
                    problem: "must be an object",
                })
            }
        };
        let response_handlers = match object.get("responseHandlers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let Value::Object(h) = item else {
                        return Err(ApiClientError::InvalidConfig {
                            field: format!("responseHandlers[{i}]"),
                            problem: "must be an object",
                        });
                    };
                    Ok(ResponseHandler {
                        matcher: h.get("match").cloned().unwrap_or(Value::Bool(false)),
                        is_success: h.get("isSuccess").cloned().unwrap_or(Value::Bool(false)),
                        data: h.get("data").cloned(),
                        error: h.get("error").cloned(),
                    })
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(ApiClientError::InvalidConfig {
                    field: "responseHandlers".into(),
                    problem: "must be an array",
                })
            }
        };
        Ok(Self {
            base_uri,
            headers,
            query,
            auth,
            response_handlers,
        })
    }

    /// The secrets this config sends: auth-like header and query values and the basic
    /// auth password.
    pub fn redactor(&self) -> Redactor {
        let mut redactor = Redactor::new();
        for (name, value) in self.headers.iter().chain(self.query.iter()) {
            if looks_secret(name) {
                redactor = redactor.with_secret(value.clone());
                // `Bearer xyz`: the token alone may also show up in an echo.
                if let Some((_, token)) = value.split_once(' ') {
                    redactor = redactor.with_secret(token.to_owned());
                }
            }
        }
        if let Some(auth) = &self.auth {
            redactor = redactor.with_secret(auth.password.expose().to_owned());
        }
        redactor
    }
}

/// JSON scalars as strings, the way they are sent in headers and query strings.
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{name: value}` → pairs; `null` values are dropped, arrays repeat the name, objects
/// are sent as JSON text.
pub(crate) fn string_pairs(
    value: Option<&Value>,
    field: &str,
) -> Result<Vec<(String, String)>, ApiClientError> {
    let map: &Map<String, Value> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ApiClientError::InvalidConfig {
                field: field.to_owned(),
                problem: "must be an object",
            })
        }
    };
    let mut pairs = Vec::new();
    for (name, value) in map {
        match value {
            Value::Null => {}
            Value::Array(items) => {
                for item in items {
                    if let Some(s) = scalar_string(item) {
                        pairs.push((name.clone(), s));
                    }
                }
            }
            Value::Object(_) => pairs.push((name.clone(), value.to_string())),
            scalar => pairs.push((name.clone(), scalar_string(scalar).unwrap_or_default())),
        }
    }
    Ok(pairs)
}

impl fmt::Debug for ApiClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let masked = |pairs: &[(String, String)]| {
            pairs
                .iter()
                .map(|(k, v)| {
                    let shown = if looks_secret(k) {
                        crate::redact::MASK.to_owned()
                    } else {
                        v.clone()
                    };
                    format!("{k}: {shown}")
                })
                .collect::<Vec<_>>()
        };
        f.debug_struct("ApiClientConfig")
            .field("base_uri", &self.base_uri)
            .field("headers", &masked(&self.headers))
            .field("query", &masked(&self.query))
            .field("auth", &self.auth)
            .field("response_handlers", &self.response_handlers.len())
            .finish()
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("username", &self.username)
            .field("password", &self.password)
            .finish()
    }
}
