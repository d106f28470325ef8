//! A three-state field of a PATCH body: left out, set to `null`, or given a value.
//!
//! Membrane's PATCH tells "leave it" (the key is absent) from "clear it" (`null`),
//! and `Option<Option<T>>` says that only by convention. `Patch<T>` names the three
//! states, so a handler or the engine cannot mix up the outer and inner `None`.
//!
//! With serde, a struct field needs `#[serde(default)]` (an absent key is
//! [`Patch::Absent`]); `null` deserializes to [`Patch::Null`] and anything else to
//! [`Patch::Value`]:
//!
//! ```
//! use osmosis_model::patch::Patch;
//! #[derive(serde::Deserialize)]
//! struct Change {
//!     #[serde(default)]
//!     description: Patch<String>,
//! }
//! let absent: Change = serde_json::from_str("{}").unwrap();
//! assert_eq!(absent.description, Patch::Absent);
//! let null: Change = serde_json::from_str(r#"{"description": null}"#).unwrap();
//! assert_eq!(null.description, Patch::Null);
//! ```

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// The key was not in the body: keep what is stored.
    #[default]
    Absent,
    /// The key was `null`: clear what is stored.
    Null,
    /// The key had a value: store it.
    Value(T),
}

impl<T> Patch<T> {
    /// Whether the body named the field at all (`null` included).
    pub fn is_present(&self) -> bool {
        !matches!(self, Patch::Absent)
    }

    /// The value, when there is one.
    pub fn value(&self) -> Option<&T> {
        match self {
            Patch::Value(v) => Some(v),
            Patch::Absent | Patch::Null => None,
        }
    }

    /// `Absent` stays `Absent`, `Null` stays `Null`, a value goes through `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }

    /// A present field as what to store: `Some(None)` clears, `Some(Some(v))` sets,
    /// `None` leaves the stored value alone.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }
}

impl<T> From<Option<T>> for Patch<T> {
    /// A present field: `None` is `null`.
    fn from(value: Option<T>) -> Self {
        value.map_or(Patch::Null, Patch::Value)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    /// Only called for a key that is there, so `null` is [`Patch::Null`]; an absent
    /// key gets the `#[serde(default)]`, [`Patch::Absent`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(Patch::from)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    /// `null` for both `Absent` and `Null`; a struct that must leave an absent field
    /// out says `#[serde(skip_serializing_if = "Patch::is_absent")]`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(v) => serializer.serialize_some(v),
            Patch::Absent | Patch::Null => serializer.serialize_none(),
        }
    }
}

impl<T> Patch<T> {
    /// For `skip_serializing_if`.
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Patch<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Patch_{}", T::schema_name()).into()
    }

    /// `T`'s schema, or `null` (clears the field).
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Option<T>>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Serialize, Debug, PartialEq)]
    struct Change {
        #[serde(default, skip_serializing_if = "Patch::is_absent")]
        meta: Patch<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        name: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_are_three_states() {
        let c: Change = serde_json::from_value(json!({"meta": null, "name": "a"})).unwrap();
        assert_eq!(c.meta, Patch::Null);
        assert_eq!(c.name, Patch::Value("a".to_string()));
        let c: Change = serde_json::from_value(json!({})).unwrap();
        assert_eq!(c.meta, Patch::Absent);
        assert_eq!(c.name.into_change(), None);
    }

    #[test]
    fn a_wrong_type_is_an_error_not_null() {
        assert!(serde_json::from_value::<Change>(json!({"meta": 3})).is_err());
    }

    #[test]
    fn absent_fields_are_left_out_when_serialized() {
        let c = Change {
            meta: Patch::Absent,
            name: Patch::Null,
        };
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"name": null}));
    }
}
