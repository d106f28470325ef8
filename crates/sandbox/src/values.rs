//! Crossing the boundary between JSON and JavaScript values: arguments in, results and
//! host-call arguments out, thrown values described, console arguments formatted.
//!
//! JSON goes through the engine's own `JSON.parse`/`JSON.stringify`, so what user code
//! returns is serialised exactly as `JSON.stringify` would (`toJSON` honoured, nested
//! functions and `undefined` properties dropped, `NaN` as `null`).

use rquickjs::{Coerced, Ctx, Exception, Function, Type, Value};

use crate::console::error_text;

/// What was thrown, as plain strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Thrown {
    pub name: Option<String>,
    pub message: String,
    /// Node-style: `Name: message` then the frames. `None` for thrown non-errors.
    pub stack: Option<String>,
}

pub(crate) fn json_to_js<'js>(
    ctx: &Ctx<'js>,
    json: &serde_json::Value,
) -> rquickjs::Result<Value<'js>> {
    // serde_json's output is always valid JSON, so a failure here is the engine's own
    // (allocation), reported as such by the caller.
    let text = serde_json::to_string(json).map_err(|_| rquickjs::Error::Unknown)?;
    ctx.json_parse(text)
}

/// Why a value could not become JSON.
#[derive(Debug)]
pub(crate) enum NotJson {
    /// The value is of a kind JSON has no form for (function, symbol).
    Kind(&'static str),
    /// The JSON text could not be read back (nested deeper than serde_json's 128
    /// levels): the parser's message.
    Unreadable(String),
    /// `JSON.stringify` threw (BigInt, cycle, a throwing `toJSON`): its message.
    Threw(Thrown),
    /// The engine failed (interrupt, out of memory) while serialising.
    Engine(rquickjs::Error),
}

/// Serialises a run's result. `undefined` becomes `null` so that functions that return
/// nothing (a `disconnect`, a side-effect-only action) still yield a JSON document.
pub(crate) fn result_to_json<'js>(
    ctx: &Ctx<'js>,
    value: Value<'js>,
) -> Result<serde_json::Value, NotJson> {
    match value.type_of() {
        Type::Undefined | Type::Uninitialized => return Ok(serde_json::Value::Null),
        Type::Function | Type::Constructor => return Err(NotJson::Kind("a function")),
        Type::Symbol => return Err(NotJson::Kind("a symbol")),
        _ => {}
    }
    match ctx.json_stringify(value) {
        Ok(Some(text)) => {
            let text = text.to_string().map_err(NotJson::Engine)?;
            serde_json::from_str(&text).map_err(|error| NotJson::Unreadable(error.to_string()))
        }
        Ok(None) => Err(NotJson::Kind("a value JSON.stringify drops")),
        Err(rquickjs::Error::Exception) => Err(NotJson::Threw(describe_thrown(ctx, ctx.catch()))),
        Err(other) => Err(NotJson::Engine(other)),
    }
}

/// Converts the arguments of a host call. `undefined` (an omitted optional argument)
/// becomes `null`; values JSON cannot hold are an error message for a `TypeError`.
pub(crate) fn args_to_json<'js>(
    ctx: &Ctx<'js>,
    args: Vec<Value<'js>>,
) -> Result<Vec<serde_json::Value>, String> {
    args.into_iter()
        .enumerate()
        .map(|(index, arg)| {
            if arg.is_undefined() {
                return Ok(serde_json::Value::Null);
            }
            match result_to_json(ctx, arg) {
                Ok(json) => Ok(json),
                Err(NotJson::Kind(kind)) => Err(format!(
                    "argument {} of a host call is {kind}, which JSON cannot carry",
                    index + 1
                )),
                Err(NotJson::Threw(thrown)) => Err(format!(
                    "argument {} of a host call is not JSON: {}",
                    index + 1,
                    thrown.message
                )),
                Err(NotJson::Unreadable(message)) => Err(format!(
                    "argument {} of a host call is not usable JSON: {message}",
                    index + 1
                )),
                Err(NotJson::Engine(error)) => Err(format!(
                    "argument {} of a host call could not be serialised: {error}",
                    index + 1
                )),
            }
        })
        .collect()
}

/// Describes a thrown value (or a rejection reason).
pub(crate) fn describe_thrown<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Thrown {
    if let Some(error) = value.as_object().cloned().and_then(Exception::from_object) {
        let name: Option<String> = error.get("name").ok();
        return Thrown {
            name,
            message: error.message().unwrap_or_default(),
            stack: Some(error_text(&error)),
        };
    }
    let message = display_value(ctx, value).unwrap_or_else(|_| "a thrown value".to_owned());
    Thrown {
        name: None,
        message,
        stack: None,
    }
}

/// Formats one console argument like Node: strings as they are, errors with their
/// stack, other values as JSON where JSON can hold them.
pub(crate) fn display_value<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> rquickjs::Result<String> {
    match value.type_of() {
        Type::String => value.get::<String>(),
        Type::Undefined | Type::Uninitialized => Ok("undefined".to_owned()),
        Type::Null => Ok("null".to_owned()),
        Type::Bool | Type::Int | Type::Float => Ok(value.get::<Coerced<String>>()?.0),
        Type::BigInt => Ok(format!("{}n", value.get::<Coerced<String>>()?.0)),
        Type::Symbol => Ok(value
            .as_symbol()
            .and_then(|symbol| symbol.description().ok())
            .and_then(|description| description.as_string()?.to_string().ok())
            .map_or_else(|| "Symbol()".to_owned(), |d| format!("Symbol({d})"))),
        Type::Function | Type::Constructor => {
            let name = value
                .as_function()
                .and_then(|f: &Function<'js>| f.get::<_, String>("name").ok())
                .filter(|name| !name.is_empty());
            Ok(match name {
                Some(name) => format!("[Function: {name}]"),
                None => "[Function (anonymous)]".to_owned(),
            })
        }
        Type::Exception => {
            let error = value
                .as_object()
                .cloned()
                .and_then(Exception::from_object)
                .ok_or(rquickjs::Error::Unknown)?;
            Ok(error_text(&error))
        }
        _ => match ctx.json_stringify(value.clone()) {
            Ok(Some(text)) => text.to_string(),
            Ok(None) => Ok(value.get::<Coerced<String>>()?.0),
            Err(rquickjs::Error::Exception) => {
                // A cycle or a BigInt inside: fall back to String(value), as the line
                // is for reading, not parsing.
                let _ = ctx.catch();
                Ok(value.get::<Coerced<String>>()?.0)
            }
            Err(other) => Err(other),
        },
    }
}
