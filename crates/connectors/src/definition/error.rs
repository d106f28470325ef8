//! Why a connector definition was refused. Every variant names where the problem is:
//! a file path (folder layout) or a dotted field path (stored JSON).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    #[error("{location}: expected an object")]
    NotAnObject { location: String },
    #[error("{location}: missing required field `{field}`")]
    MissingField {
        location: String,
        field: &'static str,
    },
    #[error("{location}: field `{field}` must be {expected}")]
    WrongType {
        location: String,
        field: String,
        expected: &'static str,
    },
    #[error("{location}: unknown auth type `{found}`; expected one of: {expected}")]
    UnknownAuthType {
        location: String,
        found: String,
        expected: String,
    },
    #[error("{location}: unknown implementation type `{found}`; expected one of: mapping, operation-mapping, rest-api-mapping, graphql-api-mapping, javascript, not-supported")]
    UnknownImplementationType { location: String, found: String },
    #[error("{location}: cannot tell the implementation type (no `type`, and no `code`)")]
    MissingImplementationType { location: String },
    #[error("{location}: `{function}` cannot be implemented as `{found}`; allowed: {allowed}")]
    ImplementationNotAllowed {
        location: String,
        function: String,
        found: &'static str,
        allowed: String,
    },
    #[error("{location}: TypeScript function files are not supported; compile the function to a `.js` file")]
    TypeScriptUnsupported { location: String },
    #[error("{location}: `{name}` is defined twice (also in {other})")]
    Duplicate {
        location: String,
        name: String,
        other: String,
    },
    #[error("{location}: operation-mapping refers to operation `{operation}`, which the connector does not define")]
    UnknownOperation { location: String, operation: String },
    #[error("{}: no connector file; expected `{expected}`", dir.display())]
    NoConnectorFile { dir: PathBuf, expected: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid YAML: {source}", path.display())]
    Yaml {
        path: PathBuf,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("{}: the YAML cannot be represented as JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
