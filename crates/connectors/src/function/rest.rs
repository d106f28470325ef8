//! `rest-api-mapping`: formulas build the request, the connection's API client sends
//! it, and `responseMapping` shapes the output.

use osmosis_runtime::js::strip_undefined;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{Map, Value};

use super::{FunctionError, FunctionRunner};
use crate::api_client::{ApiClient, ApiRequest};
use crate::definition::RestApiMapping;

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(super) async fn run(
    runner: &FunctionRunner,
    client: &ApiClient,
    mapping: &RestApiMapping,
    origin: &str,
    vars: &Value,
) -> Result<Value, FunctionError> {
    let build = |value: &Option<Value>| runner.build(value.as_ref(), vars, origin);
    let path = match runner.build(Some(&mapping.path), vars, origin)? {
        Some(Value::String(p)) => p,
        other => {
            return Err(FunctionError::InvalidRequest {
                origin: origin.to_owned(),
                message: format!("`path` must build to a string, got {}", show(&other)),
            })
        }
    };
    let path_parameters = build(&mapping.path_parameters)?;
    let path = fill_path(&path, path_parameters.as_ref(), origin)?;
    let query = build(&mapping.query)?;
    let headers = build(&mapping.headers)?;
    let data = build(&mapping.data)?;
    let method = ApiRequest::method_from_str(&mapping.method).map_err(|e| FunctionError::Api {
        origin: origin.to_owned(),
        source: Box::new(e),
    })?;
    let mut request = ApiRequest::new(method, path)
        .with_json_parts(query.as_ref(), headers.as_ref())
        .map_err(|e| FunctionError::InvalidRequest {
            origin: origin.to_owned(),
            message: e.to_string(),
        })?;
    request.data = data;
    let response = client
        .request(request)
        .await
        .map_err(|source| FunctionError::Api {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
    match &mapping.response_mapping {
        None => Ok(response.data),
        Some(response_mapping) => {
            let mut response_vars = vars.clone();
            if let Value::Object(map) = &mut response_vars {
                map.insert("response".into(), response.to_mapping_value());
            }
            Ok(runner
                .build(Some(response_mapping), &response_vars, origin)?
                .map(strip_undefined)
                .unwrap_or(Value::Null))
        }
    }
}

/// Replaces `{name}` placeholders with percent-encoded parameter values (a
/// placeholder without a value fails, naming it).
pub fn fill_path(
    path: &str,
    parameters: Option<&Value>,
    origin: &str,
) -> Result<String, FunctionError> {
    let empty = Map::new();
    let parameters = parameters.and_then(Value::as_object).unwrap_or(&empty);
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        out.push_str(&rest[..open]);
        let value = match parameters.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Bool(b)) => b.to_string(),
            _ => {
                return Err(FunctionError::InvalidRequest {
                    origin: origin.to_owned(),
                    message: format!("path parameter `{name}` has no value"),
                })
            }
        };
        out.push_str(&utf8_percent_encode(&value, PATH_SEGMENT).to_string());
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn show(value: &Option<Value>) -> String {
    match value {
        None => "undefined".into(),
        Some(v) => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_and_encodes_path_parameters() {
        assert_eq!(
            fill_path(
                "/users/{id}/items/{item}",
                Some(&json!({"id": "a b/c", "item": 7})),
                "t"
            )
            .unwrap(),
            "/users/a%20b%2Fc/items/7"
        );
        assert!(matches!(
            fill_path("/users/{id}", None, "t"),
            Err(FunctionError::InvalidRequest { .. })
        ));
    }
}
