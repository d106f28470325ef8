//! Type-specific fields: one table per element type says which fields it stores
//! beside the envelope and what shape each must have.
//!
//! The same tables validate request bodies, strip what a type does not know (the
//! SDK's zod schemas strip unknown keys too, so clients may send extra keys), and
//! describe the request bodies in the OpenAPI document — so the three cannot drift.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// The JSON shape a field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    String,
    /// A string, or `null` to clear it.
    NullableString,
    /// An absolute http(s) URL or the empty string.
    UrlOrEmpty,
    Bool,
    Number,
    /// A number, or `null` to clear it.
    NullableNumber,
    /// A number no smaller than the bound (interval settings).
    NumberAtLeast(i64),
    /// A JSON object with any values.
    Object,
    /// A JSON-Schema-like object (`DataSchema`); its contents pass through.
    Schema,
    /// An array of strings.
    StringArray,
    /// An array of objects.
    ObjectArray,
    /// One of the listed strings.
    Enum(&'static [&'static str]),
    /// Any JSON value, including formulas.
    Any,
}

impl FieldKind {
    /// Checks `value`; the message names what was expected.
    pub fn check(&self, value: &Value) -> Result<(), String> {
        let ok = match self {
            FieldKind::String => value.is_string(),
            FieldKind::NullableString => value.is_string() || value.is_null(),
            FieldKind::UrlOrEmpty => match value.as_str() {
                Some("") => true,
                Some(s) => {
                    return if is_http_url(s) {
                        Ok(())
                    } else {
                        Err("expected an http(s) URL or an empty string".into())
                    }
                }
                None => false,
            },
            FieldKind::Bool => value.is_boolean(),
            FieldKind::Number => value.is_number(),
            FieldKind::NullableNumber => value.is_number() || value.is_null(),
            FieldKind::NumberAtLeast(min) => match value.as_f64() {
                Some(n) if n >= *min as f64 => true,
                Some(_) => return Err(format!("expected a number of at least {min}")),
                None => false,
            },
            FieldKind::Object | FieldKind::Schema => value.is_object(),
            FieldKind::StringArray => value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
            FieldKind::ObjectArray => value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_object)),
            FieldKind::Enum(options) => match value.as_str() {
                Some(s) if options.contains(&s) => true,
                Some(s) => {
                    return Err(format!(
                        "unknown value `{s}`; expected one of: {}",
                        options.join(", ")
                    ))
                }
                None => false,
            },
            FieldKind::Any => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got {}",
                self.describe(),
                json_type_name(value)
            ))
        }
    }

    pub fn describe(&self) -> &'static str {
        match self {
            FieldKind::String => "a string",
            FieldKind::NullableString => "a string or null",
            FieldKind::UrlOrEmpty => "a URL or an empty string",
            FieldKind::Bool => "a boolean",
            FieldKind::Number | FieldKind::NumberAtLeast(_) => "a number",
            FieldKind::NullableNumber => "a number or null",
            FieldKind::Object => "an object",
            FieldKind::Schema => "a data schema object",
            FieldKind::StringArray => "an array of strings",
            FieldKind::ObjectArray => "an array of objects",
            FieldKind::Enum(_) => "a string",
            FieldKind::Any => "any value",
        }
    }
}

/// One type-specific field.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
}

pub const fn field(name: &'static str, kind: FieldKind) -> FieldSpec {
    FieldSpec { name, kind }
}

pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    matches!(rest, Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

/// Picks the fields of `tables` out of `body`, checking each; fields the tables do
/// not name are left out. `null` for a non-nullable field means "unset it" and is
/// kept as `Value::Null` so a PATCH can remove the field.
pub fn take_fields(
    body: &Map<String, Value>,
    tables: &[&[FieldSpec]],
) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for spec in tables.iter().flat_map(|t| t.iter()) {
        let Some(value) = body.get(spec.name) else {
            continue;
        };
        if value.is_null()
            && !matches!(
                spec.kind,
                FieldKind::NullableString | FieldKind::NullableNumber
            )
        {
            out.insert(spec.name.to_string(), Value::Null);
            continue;
        }
        spec.kind
            .check(value)
            .map_err(|msg| ApiError::invalid_field(spec.name, msg))?;
        out.insert(spec.name.to_string(), value.clone());
    }
    Ok(out)
}
