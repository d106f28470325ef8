//! Query strings: parsed once into pairs, then read with typed accessors that turn
//! bad values into `bad_request` errors naming the parameter.
//!
//! Booleans accept `true`/`false`/`1`/`0` in any case (the SDK's
//! `zodBooleanCoercion`); `limit` is an integer from 1 to 1000; unknown parameters
//! are ignored, as the SDK's query schemas strip them.

use osmosis_engine::ListQuery;
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Layer};

/// A boolean parameter's value; the error says what was expected.
pub(crate) fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(format!("expected true, false, 1 or 0, got `{v}`")),
    }
}

/// The `layer` parameter's value; the error says which layers there are.
pub(crate) fn parse_layer(v: &str) -> Result<Layer, String> {
    Layer::parse(v).ok_or_else(|| {
        format!("unknown layer `{v}`; expected universal, integration or connection")
    })
}

#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Each parameter's last value, as [`Query::get`] reads it: the shape
    /// [`crate::extract::Params`] deserializes a typed query from.
    pub(crate) fn last_values(&self) -> serde_json::Map<String, serde_json::Value> {
        self.pairs
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect()
    }

    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Query { pairs }
    }

    /// The last value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A non-empty string parameter.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => parse_bool(v)
                .map(Some)
                .map_err(|message| ApiError::invalid_query(name, message)),
        }
    }

    pub fn layer(&self) -> Result<LayerQuery, ApiError> {
        let layer = match self.get("layer") {
            None | Some("") => None,
            Some(v) => {
                Some(parse_layer(v).map_err(|message| ApiError::invalid_query("layer", message))?)
            }
        };
        Ok(LayerQuery {
            layer,
            integration_key: self.string("integrationKey"),
            integration_id: self.string("integrationId"),
            connection_id: self.string("connectionId"),
            connection_key: self.string("connectionKey"),
            instance_key: self.get("instanceKey").map(str::to_string),
        })
    }

    pub fn limit(&self) -> Result<Option<i64>, ApiError> {
        match self.get("limit") {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::invalid_query(
                    "limit",
                    format!("expected an integer from 1 to 1000, got `{v}`"),
                )),
            },
        }
    }

    /// The list cursor: the decimal position Osmosis returned, `0` or nothing for the start.
    pub fn cursor(&self) -> Result<Option<i64>, ApiError> {
        match self.get("cursor") {
            None | Some("") => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n >= 0 => Ok(Some(n)),
                _ => Err(ApiError::invalid_query(
                    "cursor",
                    format!("`{v}` is not a cursor this server returned"),
                )),
            },
        }
    }

    /// The common list query (Q-find-el): paging, search, archive and scope filters.
    pub fn list(&self, parent_param: Option<&str>) -> Result<ListQuery, ApiError> {
        let mut doc_equals = Vec::new();
        for flag in ["isTest", "enabled"] {
            if let Some(b) = self.bool(flag)? {
                doc_equals.push((flag.to_string(), serde_json::Value::Bool(b)));
            }
        }
        let parent = parent_param
            .and_then(|p| self.string(p))
            .or_else(|| self.string("parentId"));
        Ok(ListQuery {
            layer: self.layer()?,
            search: self.string("search"),
            include_archived: self.bool("includeArchived")?.unwrap_or(false),
            limit: self.limit()?,
            cursor: self.cursor()?,
            parent,
            customer_id: self.string("tenantId").or_else(|| self.string("userId")),
            is_universal: self.bool("isUniversal")?,
            doc_equals,
        })
    }
}
