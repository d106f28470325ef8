//! The runtime's error type. Each variant corresponds to an error the SDK throws for
//! the same input, so callers (and the oracle runner) can report it the same way.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum RuntimeError {
    /// The SDK's `BadRequestError` (`type: "bad_request"`): a malformed locator.
    #[error("{0}")]
    BadRequest(String),
    /// The SDK's `ConfigurationError` (`type: "configuration"`): a `$copy` that copies
    /// another `$copy`.
    #[error("{0}")]
    Configuration(String),
    /// Where the SDK fails with a JavaScript `TypeError` (for example reading a property
    /// of `null` in a filter condition), the runtime fails too rather than guess.
    #[error("TypeError: {0}")]
    Type(String),
    /// Where the SDK fails with a JavaScript `SyntaxError` (a `$tpl` key that is not a
    /// valid regular expression).
    #[error("SyntaxError: {0}")]
    Syntax(String),
    /// Where the SDK overflows the stack (`RangeError`), e.g. upstream keys of a cyclic
    /// flow graph.
    #[error("RangeError: {0}")]
    Range(String),
    /// The SDK itself throws a plain `Error` (an unknown locator step type).
    #[error("{0}")]
    Generic(String),
    /// A feature this runtime does not provide yet.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A `$jsonata` expression uses JSONata syntax or a function the JSONata port does
    /// not implement; the SDK might have produced a value, so none is invented.
    #[error("unsupported JSONata feature: {0}")]
    JsonataUnsupported(String),
    /// An outside-world callback used by `resolve_formulas` failed.
    #[error("callback failed: {0}")]
    Callback(String),
}

impl RuntimeError {
    /// The JavaScript error class name the SDK reports for the same failure.
    pub fn js_name(&self) -> &'static str {
        match self {
            RuntimeError::BadRequest(_) => "BadRequestError",
            RuntimeError::Configuration(_) => "ConfigurationError",
            RuntimeError::Type(_) => "TypeError",
            RuntimeError::Syntax(_) => "SyntaxError",
            RuntimeError::Range(_) => "RangeError",
            RuntimeError::Generic(_) => "Error",
            RuntimeError::Unsupported(_) | RuntimeError::JsonataUnsupported(_) => {
                "UnsupportedError"
            }
            RuntimeError::Callback(_) => "CallbackError",
        }
    }

    /// The SDK's `ErrorType` (`error.data.type`), present only for Membrane errors.
    pub fn sdk_type(&self) -> Option<&'static str> {
        match self {
            RuntimeError::BadRequest(_) => Some("bad_request"),
            RuntimeError::Configuration(_) => Some("configuration"),
            RuntimeError::Unsupported(_) | RuntimeError::JsonataUnsupported(_) => {
                Some("unsupported")
            }
            _ => None,
        }
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
