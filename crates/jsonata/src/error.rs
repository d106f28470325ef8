//! Errors of compiling and evaluating an expression.
//!
//! Codes are jsonata's own (`S0201`, `T2001`, `D3030`, …) so a failure can be
//! matched against what jsonata 1.8.9 throws for the same expression. The SDK
//! turns every one of them into `undefined`; callers that mirror it can do the
//! same, while [`JsonataError::Unsupported`] tells them this port, not the
//! expression, is at fault.

/// Why an expression could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JsonataError {
    /// The expression is not valid JSONata 1.8 (jsonata throws an `S0xxx` error).
    #[error("JSONata syntax error {code} at {position}: {message}")]
    Compile {
        code: &'static str,
        position: usize,
        message: String,
    },
    /// Evaluation failed the way jsonata 1.8.9 fails: a `T` or `D` error code,
    /// or the name of the plain JavaScript exception jsonata lets escape
    /// (`TypeError`, `RangeError` for a stack overflow, `SyntaxError`).
    #[error("JSONata evaluation error {code}: {message}")]
    Evaluate { code: &'static str, message: String },
    /// The expression uses syntax or a function this implementation lacks;
    /// jsonata 1.8.9 might have produced a value.
    #[error("JSONata feature not supported by Osmosis: {feature}")]
    Unsupported { feature: String },
}

impl JsonataError {
    pub(crate) fn compile(code: &'static str, position: usize, token: Option<String>) -> Self {
        let message = match token {
            Some(t) => format!("{} ({t})", message_for(code)),
            None => message_for(code).to_string(),
        };
        JsonataError::Compile {
            code,
            position,
            message,
        }
    }

    pub(crate) fn eval(code: &'static str, message: impl Into<String>) -> Self {
        JsonataError::Evaluate {
            code,
            message: message.into(),
        }
    }

    /// An evaluation error with the catalogue message for `code`.
    pub(crate) fn code(code: &'static str) -> Self {
        JsonataError::Evaluate {
            code,
            message: message_for(code).to_string(),
        }
    }

    pub(crate) fn unsupported(feature: impl Into<String>) -> Self {
        JsonataError::Unsupported {
            feature: feature.into(),
        }
    }

    /// Moves a signature-parse error to the position of the signature.
    pub(crate) fn at(self, base: usize) -> Self {
        match self {
            JsonataError::Compile {
                code,
                position,
                message,
            } => JsonataError::Compile {
                code,
                position: base + position,
                message,
            },
            e => e,
        }
    }

    /// The jsonata error code, when there is one.
    pub fn jsonata_code(&self) -> Option<&'static str> {
        match self {
            JsonataError::Compile { code, .. } | JsonataError::Evaluate { code, .. } => Some(code),
            JsonataError::Unsupported { .. } => None,
        }
    }
}

/// jsonata's message catalogue, without the value inserts.
fn message_for(code: &str) -> &'static str {
    match code {
        "S0101" => "String literal must be terminated by a matching quote",
        "S0102" => "Number out of range",
        "S0103" => "Unsupported escape sequence",
        "S0104" => "The escape sequence \\u must be followed by 4 hex digits",
        "S0105" => "Quoted property name must be terminated with a backquote (`)",
        "S0106" => "Comment has no closing tag",
        "S0201" => "Syntax error",
        "S0202" => "Unexpected token",
        "S0203" => "Expected token before end of expression",
        "S0204" => "Unknown operator",
        "S0206" => "Unknown expression type",
        "S0207" => "Unexpected end of expression",
        "S0208" => "Parameter of function definition must be a variable name (start with $)",
        "S0209" => "A predicate cannot follow a grouping expression in a step",
        "S0210" => "Each step can only have one grouping expression",
        "S0211" => "The symbol cannot be used as a unary operator",
        "S0212" => "The left side of := must be a variable name (start with $)",
        "S0213" => "The literal value cannot be used as a step within a path expression",
        "S0214" => "The right side of the operator must be a variable name (start with $)",
        "S0215" => "A context variable binding must precede any predicates on a step",
        "S0216" => "A context variable binding must precede the 'order-by' clause on a step",
        "S0217" => "The object representing the 'parent' cannot be derived from this expression",
        "S0301" => "Empty regular expressions are not allowed",
        "S0302" => "No terminating / in regular expression",
        "S0401" => "Type parameters can only be applied to functions and arrays",
        "S0402" => "Choice groups containing parameterized types are not supported",
        "D1001" => "Number out of range",
        "D1002" => "Cannot negate a non-numeric value",
        "T1003" => "Key in object structure must evaluate to a string",
        "D1004" => "Regular expression matches zero length string",
        "T1005" => "Attempted to invoke a non-function. Did you forget the leading $?",
        "T1006" => "Attempted to invoke a non-function",
        "T1007" => "Attempted to partially apply a non-function. Did you forget the leading $?",
        "T1008" => "Attempted to partially apply a non-function",
        "D1009" => "Multiple key definitions evaluate to same key",
        "T1010" => "The matcher function argument passed to a function does not return the correct object structure",
        "T2001" => "The left side of the operator must evaluate to a number",
        "T2002" => "The right side of the operator must evaluate to a number",
        "T2003" => "The left side of the range operator (..) must evaluate to an integer",
        "T2004" => "The right side of the range operator (..) must evaluate to an integer",
        "T2006" => "The right side of the function application operator ~> must be a function",
        "T2007" => "Type mismatch when comparing values in order-by clause",
        "T2008" => "The expressions within an order-by clause must evaluate to numeric or string values",
        "T2009" => "The values either side of the operator must be of the same data type",
        "T2010" => "The expressions either side of the operator must evaluate to numeric or string values",
        "T2011" => "The insert/update clause of the transform expression must evaluate to an object",
        "T2012" => "The delete clause of the transform expression must evaluate to a string or array of strings",
        "T2013" => "The transform expression clones the input object using the $clone() function, which has been overridden by a non-function",
        "D2014" => "The size of the sequence allocated by the range operator (..) must not exceed 1e7",
        "D3001" => "Attempting to invoke string function on Infinity or NaN",
        "D3010" => "Second argument of replace function cannot be an empty string",
        "D3011" => "Fourth argument of replace function must evaluate to a positive number",
        "D3012" => "Attempted to replace a matched string with a non-string value",
        "D3020" => "Third argument of split function must evaluate to a positive number",
        "D3030" => "Unable to cast value to a number",
        "D3040" => "Third argument of match function must evaluate to a positive number",
        "D3050" => "The second argument of reduce function must be a function with at least two arguments",
        "D3060" => "The sqrt function cannot be applied to a negative number",
        "D3061" => "The power function has resulted in a value that cannot be represented as a JSON number",
        "D3070" => "The single argument form of the sort function can only be applied to an array of strings or an array of numbers",
        "D3080" => "The picture string must only contain a maximum of two sub-pictures",
        "D3081" => "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
        "D3082" => "The sub-picture must not contain more than one instance of the 'percent' character",
        "D3083" => "The sub-picture must not contain more than one instance of the 'per-mille' character",
        "D3084" => "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
        "D3085" => "The mantissa part of a sub-picture must contain at least one optional digit or decimal digit",
        "D3086" => "The sub-picture must not contain a passive character between two active characters",
        "D3087" => "The sub-picture must not contain a grouping-separator adjacent to a decimal-separator",
        "D3088" => "The sub-picture must not contain a grouping-separator at the end of the integer part",
        "D3089" => "The sub-picture must not contain two adjacent grouping-separators",
        "D3090" => "The integer part of the sub-picture must not contain a decimal digit followed by an optional digit",
        "D3091" => "The fractional part of the sub-picture must not contain an optional digit followed by a decimal digit",
        "D3092" => "A sub-picture with a percent or per-mille character must not contain an exponent-separator",
        "D3093" => "The exponent part of the sub-picture must comprise only decimal digits",
        "D3100" => "The radix of the formatBase function must be between 2 and 36",
        "D3110" => "The argument of the toMillis function must be an ISO 8601 formatted timestamp",
        "D3120" => "Syntax error in expression passed to function eval",
        "D3121" => "Dynamic error evaluating the expression passed to function eval",
        "D3137" => "$error() function evaluated",
        "D3138" => "The $single() function expected exactly 1 matching result. Instead it matched more.",
        "D3139" => "The $single() function expected exactly 1 matching result. Instead it matched 0.",
        "D3140" => "Malformed URL passed to a URL function",
        "D3141" => "$assert() statement failed",
        _ => "JSONata error",
    }
}
