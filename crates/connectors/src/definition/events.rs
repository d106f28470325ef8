//! Connector events and connector-level global webhooks (semantics §1.2, §2.4
//! `connector-event`, §5.6 "Global webhooks").
//!
//! A connector event (`events.<key>`, from `events/<key>/spec.yml` and its
//! function files) is an event of the external app not tied to a data
//! collection; the functions it may hold are [`CONNECTOR_EVENT_FUNCTIONS`]
//! (`getEventSelector` from `get-event-selector.<suffix>`, …). One served by a
//! global webhook has `getEventSelector({parameters}) → {globalWebhookKey,
//! globalWebhookEventSelector}`. A global webhook (`globalWebhooks.<key>`, from
//! `global-webhooks/<key>/spec.yml` and `handle.<suffix>`) is one URL the external
//! app posts all its events to; `handle({query, data, headers, parameters,
//! rawBody}) → {events: [{selector, payload}], response?}`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::DefinitionError;
use super::function_def::FunctionDef;

/// The functions a connector event may hold (field names; their files are the
/// kebab-case names).
pub const CONNECTOR_EVENT_FUNCTIONS: [&str; 7] = [
    "getEventSelector",
    "getEventConfig",
    "extractEvents",
    "subscribe",
    "unsubscribe",
    "handle",
    "refresh",
];

/// The functions a global webhook may hold.
pub const GLOBAL_WEBHOOK_FUNCTIONS: [&str; 1] = ["handle"];

/// The function field a file stem names among `names` (`get-event-selector` →
/// `getEventSelector`), if any.
pub fn function_of_stem(stem: &str, names: &[&'static str]) -> Option<&'static str> {
    let camel: String = {
        let mut out = String::new();
        let mut upper = false;
        for c in stem.chars() {
            if c == '-' {
                upper = true;
            } else if upper {
                out.extend(c.to_uppercase());
                upper = false;
            } else {
                out.push(c);
            }
        }
        out
    };
    names.iter().copied().find(|n| *n == camel)
}

/// A connector event or a global webhook: its spec (functions removed) and its
/// functions by field name.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSpec {
    pub key: String,
    pub spec: Value,
    pub functions: BTreeMap<String, FunctionDef>,
}

impl EventSpec {
    pub fn function(&self, name: &str) -> Option<&FunctionDef> {
        self.functions.get(name)
    }

    fn from_value(
        key: &str,
        value: &Value,
        location: &str,
        names: &[&'static str],
    ) -> Result<Self, DefinitionError> {
        let Value::Object(object) = value else {
            return Err(DefinitionError::NotAnObject {
                location: location.to_owned(),
            });
        };
        let mut spec = Map::new();
        let mut functions = BTreeMap::new();
        for (field, v) in object {
            if names.contains(&field.as_str()) && !v.is_null() {
                let def = FunctionDef::from_value(v, &format!("{location}.{field}"))?;
                functions.insert(field.clone(), def);
            } else {
                spec.insert(field.clone(), v.clone());
            }
        }
        spec.entry("key")
            .or_insert_with(|| Value::String(key.to_owned()));
        Ok(EventSpec {
            key: key.to_owned(),
            spec: Value::Object(spec),
            functions,
        })
    }
}

/// The entries of map field `field` of the connector (`events`, `globalWebhooks`).
pub(crate) fn parse_map(
    root: &Map<String, Value>,
    field: &str,
    names: &[&'static str],
) -> Result<BTreeMap<String, EventSpec>, DefinitionError> {
    let mut found = BTreeMap::new();
    match root.get(field) {
        None | Some(Value::Null) => {}
        Some(Value::Object(entries)) => {
            for (key, value) in entries {
                let location = format!("{field}.{key}");
                found.insert(
                    key.clone(),
                    EventSpec::from_value(key, value, &location, names)?,
                );
            }
        }
        // A list of entries, each naming its `key`.
        Some(Value::Array(items)) => {
            for (i, value) in items.iter().enumerate() {
                let location = format!("{field}[{i}]");
                let key = value.get("key").and_then(Value::as_str).ok_or(
                    DefinitionError::MissingField {
                        location: location.clone(),
                        field: "key",
                    },
                )?;
                found.insert(
                    key.to_owned(),
                    EventSpec::from_value(key, value, &location, names)?,
                );
            }
        }
        Some(_) => {
            return Err(DefinitionError::WrongType {
                location: "connector".into(),
                field: field.into(),
                expected: "an object keyed by key, or a list of entries with a key",
            })
        }
    }
    Ok(found)
}
