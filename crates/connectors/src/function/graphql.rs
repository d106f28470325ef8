//! `graphql-api-mapping`: a query (written as text, or as the SDK's field tree whose
//! arguments are formulas) POSTed through the connection's API client.

use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Value};

use super::{FunctionError, FunctionRunner};
use crate::api_client::{ApiClient, ApiRequest, Method};
use crate::definition::{GraphqlApiMapping, GraphqlField, GraphqlRequest};

pub(super) async fn run(
    runner: &FunctionRunner,
    client: &ApiClient,
    mapping: &GraphqlApiMapping,
    origin: &str,
    vars: &Value,
) -> Result<Value, FunctionError> {
    let (query, variables) = match &mapping.request {
        GraphqlRequest::Text { query, variables } => {
            let query = match runner.build(Some(query), vars, origin)? {
                Some(Value::String(q)) => q,
                _ => {
                    return Err(FunctionError::InvalidRequest {
                        origin: origin.to_owned(),
                        message: "`query` must build to a string".into(),
                    })
                }
            };
            let variables = runner
                .build(variables.as_ref(), vars, origin)?
                .map(strip_undefined);
            (query, variables)
        }
        GraphqlRequest::Fields {
            operation_type,
            fields,
        } => {
            let mut text = format!("{operation_type} ");
            write_selection(runner, fields, vars, origin, &mut text)?;
            (text, None)
        }
    };
    let mut body = json!({"query": query});
    if let Some(variables) = variables {
        body["variables"] = variables;
    }
    let request = ApiRequest::new(Method::POST, mapping.path.clone()).with_data(body);
    let response = client
        .request(request)
        .await
        .map_err(|source| FunctionError::Api {
            origin: origin.to_owned(),
            source: Box::new(source),
        })?;
    let data = response.data.get("data").cloned().unwrap_or(Value::Null);
    let errors = response.data.get("errors").cloned();
    let has_errors = errors
        .as_ref()
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty());
    if has_errors && data.is_null() {
        return Err(FunctionError::Graphql {
            origin: origin.to_owned(),
            errors: client
                .redactor()
                .value(errors.as_ref().unwrap_or(&Value::Null)),
        });
    }
    match &mapping.response_mapping {
        None => Ok(data),
        Some(response_mapping) => {
            let mut response_vars = vars.clone();
            if let Value::Object(map) = &mut response_vars {
                map.insert(
                    "response".into(),
                    json!({
                        "data": data,
                        "errors": errors,
                        "extensions": response.data.get("extensions"),
                        "headers": response.headers,
                        "statusCode": response.status,
                    }),
                );
            }
            Ok(runner
                .build(Some(response_mapping), &response_vars, origin)?
                .map(strip_undefined)
                .unwrap_or(Value::Null))
        }
    }
}

fn write_selection(
    runner: &FunctionRunner,
    fields: &[GraphqlField],
    vars: &Value,
    origin: &str,
    out: &mut String,
) -> Result<(), FunctionError> {
    out.push_str("{ ");
    for field in fields {
        out.push_str(&field.field);
        if let Some(args) = &field.args {
            if let Some(Value::Object(args)) = runner.build(Some(args), vars, origin)? {
                let rendered: Vec<String> = args
                    .iter()
                    .map(|(name, value)| format!("{name}: {}", graphql_literal(value)))
                    .collect();
                if !rendered.is_empty() {
                    out.push('(');
                    out.push_str(&rendered.join(", "));
                    out.push(')');
                }
            }
        }
        if !field.sub_fields.is_empty() {
            out.push(' ');
            write_selection(runner, &field.sub_fields, vars, origin, out)?;
        }
        out.push(' ');
    }
    out.push('}');
    Ok(())
}

/// A JSON value as a GraphQL input literal: strings quoted (JSON escaping is valid
/// GraphQL), object keys bare.
pub(crate) fn graphql_literal(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}: {}", graphql_literal(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(graphql_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::graphql_literal;
    use serde_json::json;

    #[test]
    fn literals_have_bare_keys_and_json_strings() {
        assert_eq!(
            graphql_literal(&json!({"first": 2, "filter": {"name": "a\"b"}, "ids": [1, 2]})),
            r#"{first: 2, filter: {name: "a\"b"}, ids: [1, 2]}"#
        );
    }
}
