//! One connector function as written: its implementation type and what that type
//! needs (a formula tree, a REST or GraphQL mapping, an operation reference, code).

use serde_json::{Map, Value};

use super::error::DefinitionError;

/// `ConnectorMethodImplementationType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImplementationType {
    Mapping,
    OperationMapping,
    RestApiMapping,
    GraphqlApiMapping,
    Javascript,
    NotSupported,
}

impl ImplementationType {
    pub const ALL: [ImplementationType; 6] = [
        ImplementationType::Mapping,
        ImplementationType::OperationMapping,
        ImplementationType::RestApiMapping,
        ImplementationType::GraphqlApiMapping,
        ImplementationType::Javascript,
        ImplementationType::NotSupported,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ImplementationType::Mapping => "mapping",
            ImplementationType::OperationMapping => "operation-mapping",
            ImplementationType::RestApiMapping => "rest-api-mapping",
            ImplementationType::GraphqlApiMapping => "graphql-api-mapping",
            ImplementationType::Javascript => "javascript",
            ImplementationType::NotSupported => "not-supported",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The implementation type a function file's name selects, with the name stripped
    /// of its suffix (`CONNECTOR_METHOD_IMPLEMENTATION_SUFFIXES`; longer suffixes are
    /// tried first so `x.map.yml` is not read as plain `.yml`).
    pub fn from_file_name(file_name: &str) -> Option<(&str, FileKind)> {
        const SUFFIXES: [(&str, FileKind); 9] = [
            (".map.yml", FileKind::Yaml(ImplementationType::Mapping)),
            (
                ".rest.yml",
                FileKind::Yaml(ImplementationType::RestApiMapping),
            ),
            (
                ".api.yml",
                FileKind::Yaml(ImplementationType::RestApiMapping),
            ),
            (
                ".graphql.yml",
                FileKind::Yaml(ImplementationType::GraphqlApiMapping),
            ),
            (
                ".op.yml",
                FileKind::Yaml(ImplementationType::OperationMapping),
            ),
            (".js", FileKind::Javascript),
            (".ts", FileKind::TypeScript),
            (".yml", FileKind::Yaml(ImplementationType::Mapping)),
            (".yaml", FileKind::Yaml(ImplementationType::Mapping)),
        ];
        SUFFIXES.iter().find_map(|(suffix, kind)| {
            file_name
                .strip_suffix(suffix)
                .filter(|stem| !stem.is_empty())
                .map(|stem| (stem, *kind))
        })
    }
}

/// What a function file holds, by its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// YAML whose content is the implementation's `mapping`.
    Yaml(ImplementationType),
    Javascript,
    TypeScript,
}

/// A function: its implementation, and where it was defined (a file path or a field
/// path), so errors at run time can name it.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDef {
    pub implementation: Implementation,
    pub origin: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Implementation {
    /// A formula tree; its value is the function's output.
    Mapping(Value),
    /// Boxed, as is `Graphql`: mappings are much larger than the other variants.
    RestApi(Box<RestApiMapping>),
    Graphql(Box<GraphqlApiMapping>),
    Operation(OperationMapping),
    /// An ES module whose default export is the function.
    Javascript(String),
    /// The connector says this function does not exist.
    NotSupported,
}

impl Implementation {
    pub fn implementation_type(&self) -> ImplementationType {
        match self {
            Implementation::Mapping(_) => ImplementationType::Mapping,
            Implementation::RestApi(_) => ImplementationType::RestApiMapping,
            Implementation::Graphql(_) => ImplementationType::GraphqlApiMapping,
            Implementation::Operation(_) => ImplementationType::OperationMapping,
            Implementation::Javascript(_) => ImplementationType::Javascript,
            Implementation::NotSupported => ImplementationType::NotSupported,
        }
    }
}

/// `rest-api-mapping`: `{path, method, requestMapping, responseMapping}`.
#[derive(Debug, Clone, PartialEq)]
pub struct RestApiMapping {
    /// May contain `{name}` placeholders filled from `requestMapping.pathParameters`,
    /// and may itself be a formula.
    pub path: Value,
    pub method: String,
    pub path_parameters: Option<Value>,
    pub query: Option<Value>,
    pub headers: Option<Value>,
    pub data: Option<Value>,
    pub response_mapping: Option<Value>,
}

/// `graphql-api-mapping`, in either of its two written forms.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlApiMapping {
    /// Endpoint path relative to the client's base URI; empty means the base URI.
    pub path: String,
    pub request: GraphqlRequest,
    pub response_mapping: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GraphqlRequest {
    /// The documented form: a query text and a `variables` formula.
    Text {
        query: Value,
        variables: Option<Value>,
    },
    /// The SDK's `GraphQLApiMapping` form: an operation type and a field tree whose
    /// `args` are formulas.
    Fields {
        operation_type: String,
        fields: Vec<GraphqlField>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlField {
    pub field: String,
    pub args: Option<Value>,
    pub sub_fields: Vec<GraphqlField>,
}

/// `operation-mapping`: `{operationKey, inputMapping, outputMapping}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OperationMapping {
    pub operation_key: String,
    pub input_mapping: Option<Value>,
    pub output_mapping: Option<Value>,
}

/// Keys of a function object that belong to its implementation rather than to a
/// method spec written beside it (e.g. `list: {filterFields, type, mapping}`).
pub(crate) const IMPLEMENTATION_KEYS: [&str; 7] = [
    "type",
    "implementationType",
    "mapping",
    "code",
    "filePath",
    "operationKey",
    "isIncomplete",
];

/// Whether an object carries an implementation (as opposed to being only a spec).
pub(crate) fn has_implementation(object: &Map<String, Value>) -> bool {
    object.contains_key("type")
        || object.contains_key("implementationType")
        || object.contains_key("code")
}

impl FunctionDef {
    /// Parses `{type | implementationType, mapping | code | operationKey…}`. `location`
    /// names the field; a `filePath` in the object names the file instead.
    pub fn from_value(value: &Value, location: &str) -> Result<Self, DefinitionError> {
        let Value::Object(object) = value else {
            return Err(DefinitionError::NotAnObject {
                location: location.to_owned(),
            });
        };
        let origin = object
            .get("filePath")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| location.to_owned());
        let type_name = match object
            .get("type")
            .or_else(|| object.get("implementationType"))
        {
            Some(Value::String(name)) => name.clone(),
            Some(_) => {
                return Err(DefinitionError::WrongType {
                    location: origin,
                    field: "type".into(),
                    expected: "a string",
                })
            }
            None if object.get("code").is_some_and(Value::is_string) => "javascript".into(),
            None => return Err(DefinitionError::MissingImplementationType { location: origin }),
        };
        let Some(kind) = ImplementationType::parse(&type_name) else {
            return Err(DefinitionError::UnknownImplementationType {
                location: origin,
                found: type_name,
            });
        };
        let implementation = parse_implementation(kind, object, &origin)?;
        Ok(FunctionDef {
            implementation,
            origin,
        })
    }
}

fn parse_implementation(
    kind: ImplementationType,
    object: &Map<String, Value>,
    origin: &str,
) -> Result<Implementation, DefinitionError> {
    let mapping = || {
        object
            .get("mapping")
            .ok_or_else(|| DefinitionError::MissingField {
                location: origin.to_owned(),
                field: "mapping",
            })
    };
    Ok(match kind {
        ImplementationType::Mapping => Implementation::Mapping(mapping()?.clone()),
        ImplementationType::RestApiMapping => Implementation::RestApi(Box::new(parse_rest(
            as_object(mapping()?, origin, "mapping")?,
            origin,
        )?)),
        ImplementationType::GraphqlApiMapping => Implementation::Graphql(Box::new(parse_graphql(
            as_object(mapping()?, origin, "mapping")?,
            origin,
        )?)),
        ImplementationType::OperationMapping => {
            // The SDK nests the fields under `mapping`; the docs put them beside `type`.
            let fields = match object.get("mapping") {
                Some(m) => as_object(m, origin, "mapping")?,
                None => object,
            };
            Implementation::Operation(parse_operation_mapping(fields, origin)?)
        }
        ImplementationType::Javascript => match object.get("code") {
            Some(Value::String(code)) => Implementation::Javascript(code.clone()),
            Some(_) => {
                return Err(DefinitionError::WrongType {
                    location: origin.to_owned(),
                    field: "code".into(),
                    expected: "a string",
                })
            }
            None => {
                return Err(DefinitionError::MissingField {
                    location: origin.to_owned(),
                    field: "code",
                })
            }
        },
        ImplementationType::NotSupported => Implementation::NotSupported,
    })
}

fn as_object<'a>(
    value: &'a Value,
    origin: &str,
    field: &str,
) -> Result<&'a Map<String, Value>, DefinitionError> {
    value.as_object().ok_or_else(|| DefinitionError::WrongType {
        location: origin.to_owned(),
        field: field.to_owned(),
        expected: "an object",
    })
}

fn string_field(
    object: &Map<String, Value>,
    origin: &str,
    field: &'static str,
) -> Result<Option<String>, DefinitionError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(DefinitionError::WrongType {
            location: origin.to_owned(),
            field: field.to_owned(),
            expected: "a string",
        }),
    }
}

fn parse_rest(
    object: &Map<String, Value>,
    origin: &str,
) -> Result<RestApiMapping, DefinitionError> {
    let path = object
        .get("path")
        .cloned()
        .ok_or_else(|| DefinitionError::MissingField {
            location: origin.to_owned(),
            field: "path",
        })?;
    let method = string_field(object, origin, "method")?
        .ok_or_else(|| DefinitionError::MissingField {
            location: origin.to_owned(),
            field: "method",
        })?
        .to_ascii_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&method.as_str()) {
        return Err(DefinitionError::WrongType {
            location: origin.to_owned(),
            field: "method".into(),
            expected: "one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
        });
    }
    let request = match object.get("requestMapping") {
        None | Some(Value::Null) => None,
        Some(v) => Some(as_object(v, origin, "requestMapping")?),
    };
    let part = |name: &str| request.and_then(|r| r.get(name)).cloned();
    Ok(RestApiMapping {
        path,
        method,
        path_parameters: part("pathParameters"),
        query: part("query"),
        headers: part("headers"),
        data: part("data"),
        response_mapping: object.get("responseMapping").cloned(),
    })
}

fn parse_graphql(
    object: &Map<String, Value>,
    origin: &str,
) -> Result<GraphqlApiMapping, DefinitionError> {
    let path = string_field(object, origin, "path")?.unwrap_or_default();
    let request = if let Some(query) = object.get("query") {
        GraphqlRequest::Text {
            query: query.clone(),
            variables: object.get("variables").cloned(),
        }
    } else if let Some(fields) = object.get("requestMapping") {
        let operation_type =
            string_field(object, origin, "operationType")?.unwrap_or_else(|| "query".into());
        if operation_type != "query" && operation_type != "mutation" {
            return Err(DefinitionError::WrongType {
                location: origin.to_owned(),
                field: "operationType".into(),
                expected: "`query` or `mutation`",
            });
        }
        GraphqlRequest::Fields {
            operation_type,
            fields: parse_graphql_fields(fields, origin, "requestMapping")?,
        }
    } else {
        return Err(DefinitionError::MissingField {
            location: origin.to_owned(),
            field: "query",
        });
    };
    Ok(GraphqlApiMapping {
        path,
        request,
        response_mapping: object.get("responseMapping").cloned(),
    })
}

fn parse_graphql_fields(
    value: &Value,
    origin: &str,
    field: &str,
) -> Result<Vec<GraphqlField>, DefinitionError> {
    let Value::Array(items) = value else {
        return Err(DefinitionError::WrongType {
            location: origin.to_owned(),
            field: field.to_owned(),
            expected: "an array of fields",
        });
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let here = format!("{field}[{i}]");
            let object = as_object(item, origin, &here)?;
            let name = match object.get("field") {
                Some(Value::String(s)) if is_graphql_name(s) => s.clone(),
                _ => {
                    return Err(DefinitionError::WrongType {
                        location: origin.to_owned(),
                        field: format!("{here}.field"),
                        expected: "a GraphQL field name",
                    })
                }
            };
            let sub_fields = match object.get("subFields") {
                None | Some(Value::Null) => Vec::new(),
                Some(v) => parse_graphql_fields(v, origin, &format!("{here}.subFields"))?,
            };
            Ok(GraphqlField {
                field: name,
                args: object.get("args").cloned(),
                sub_fields,
            })
        })
        .collect()
}

/// GraphQL `Name` (optionally with an alias `alias: name`, which the SDK permits by
/// writing it into `field`).
fn is_graphql_name(s: &str) -> bool {
    let valid = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match s.split_once(':') {
        Some((alias, name)) => valid(alias.trim()) && valid(name.trim()),
        None => valid(s),
    }
}

fn parse_operation_mapping(
    object: &Map<String, Value>,
    origin: &str,
) -> Result<OperationMapping, DefinitionError> {
    let operation_key = string_field(object, origin, "operationKey")?.ok_or_else(|| {
        DefinitionError::MissingField {
            location: origin.to_owned(),
            field: "operationKey",
        }
    })?;
    Ok(OperationMapping {
        operation_key,
        input_mapping: object.get("inputMapping").cloned(),
        output_mapping: object.get("outputMapping").cloned(),
    })
}
