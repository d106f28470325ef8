//! Typed request extractors: [`Body<T>`] for a JSON object body and [`Params<T>`]
//! for a query string, each deserialized into a handler's own struct.
//!
//! A serde error becomes the `ErrorData` the API already answers for a bad field or
//! parameter, naming it by its path (`invalid_field` with `data.field`,
//! `invalid_query` with `data.parameter`), so a typed handler fails the way the
//! hand-parsed ones did. The body keeps [`JsonObject`]'s rules (an empty body is
//! `{}`, YAML with a yaml content type, anything but an object is `invalid_body`);
//! the query keeps [`Query`]'s (the last value of a repeated parameter wins, unknown
//! parameters are ignored, booleans through [`de::flag`]).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use osmosis_model::error::keys;
use osmosis_model::ApiError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::body::JsonObject;
use crate::error::ErrorResponse;
use crate::query::Query;
use crate::AppState;

/// A JSON object body deserialized into `T`.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ErrorResponse;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let JsonObject(object) = JsonObject::from_request(req, state).await?;
        from_object(Value::Object(object))
            .map(Body)
            .map_err(ErrorResponse)
    }
}

/// `T` from a body object; a wrong field is `invalid_field` naming its path, a
/// wrong body as a whole (a missing required field) `invalid_body`.
pub(crate) fn from_object<T: DeserializeOwned>(object: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        if let Some(field) = unknown_field(&message) {
            // serde names a field the type does not take in the message only.
            let field = if path == "." {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
            ApiError::invalid_field(&field, message)
        } else if path == "." {
            ApiError::bad_request(keys::INVALID_BODY, format!("Invalid body: {message}"))
        } else {
            ApiError::invalid_field(&path, message)
        }
    })
}

/// The field of serde's "unknown field `x`, expected …" message.
fn unknown_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split_once('`')
        .map(|(field, _)| field)
}

/// A query string deserialized into `T`. Every value arrives as a string: fields
/// that are not strings read them with the helpers of [`de`].
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ErrorResponse;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        from_query(&Query::parse(parts.uri.query()))
            .map(Params)
            .map_err(ErrorResponse)
    }
}

/// `T` from a parsed query; a wrong parameter is `invalid_query` naming it.
pub(crate) fn from_query<T: DeserializeOwned>(query: &Query) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(Value::Object(query.last_values())).map_err(|e| {
        let path = e.path().to_string();
        ApiError::invalid_query(&path, e.inner())
    })
}

/// Field deserializers for query parameters, which are always strings. Each keeps
/// the rule of the matching [`Query`] accessor, and its error message.
pub mod de {
    use osmosis_model::Layer;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    use crate::query::{parse_bool, parse_layer};

    /// `true`/`false`/`1`/`0` in any case; empty or absent is `None`
    /// (`#[serde(default, deserialize_with = "de::flag")]`).
    pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => parse_bool(v).map(Some).map_err(D::Error::custom),
        }
    }

    /// A string where empty means not given.
    pub fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|v| !v.is_empty()))
    }

    /// `universal`, `integration` or `connection`; empty or absent is `None`.
    pub fn layer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Layer>, D::Error> {
        match Option::<String>::deserialize(d)?.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => parse_layer(v).map(Some).map_err(D::Error::custom),
        }
    }
}

/// The Q-layer query (`layer`, `integrationKey`, …): which layer of an element a
/// path selector means.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayerParams {
    #[serde(default, deserialize_with = "de::layer")]
    pub layer: Option<osmosis_model::Layer>,
    #[serde(default, deserialize_with = "de::non_empty")]
    pub integration_key: Option<String>,
    #[serde(default, deserialize_with = "de::non_empty")]
    pub integration_id: Option<String>,
    #[serde(default, deserialize_with = "de::non_empty")]
    pub connection_id: Option<String>,
    #[serde(default, deserialize_with = "de::non_empty")]
    pub connection_key: Option<String>,
    /// Empty is a value here: the instance without a key.
    #[serde(default)]
    pub instance_key: Option<String>,
}

impl From<LayerParams> for osmosis_model::selector::LayerQuery {
    fn from(p: LayerParams) -> Self {
        osmosis_model::selector::LayerQuery {
            layer: p.layer,
            integration_key: p.integration_key,
            integration_id: p.integration_id,
            connection_id: p.connection_id,
            connection_key: p.connection_key,
            instance_key: p.instance_key,
        }
    }
}

/// `includeSecrets`: an admin asks for credentials in the answer.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretsParams {
    #[serde(default, deserialize_with = "de::flag")]
    pub include_secrets: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use osmosis_model::Layer;
    use serde_json::json;

    #[test]
    fn a_typed_query_reads_the_last_value_and_ignores_unknown_parameters() {
        let q = Query::parse(Some(
            "layer=universal&layer=integration&other=1&instanceKey=",
        ));
        let p: LayerParams = from_query(&q).unwrap();
        assert_eq!(p.layer, Some(Layer::Integration));
        assert_eq!(p.instance_key.as_deref(), Some(""));
        assert_eq!(p.integration_id, None);
    }

    #[test]
    fn a_bad_parameter_is_invalid_query_with_the_accessors_message() {
        let q = Query::parse(Some("includeSecrets=maybe"));
        let typed = from_query::<SecretsParams>(&q).unwrap_err();
        let by_hand = q.bool("includeSecrets").unwrap_err();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::to_value(&by_hand).unwrap()
        );
        let q = Query::parse(Some("layer=nope"));
        let typed = from_query::<LayerParams>(&q).unwrap_err();
        let by_hand = q.layer().unwrap_err();
        assert_eq!(
            serde_json::to_value(&typed).unwrap(),
            serde_json::to_value(&by_hand).unwrap()
        );
    }

    #[derive(Debug, serde::Deserialize)]
    struct Run {
        #[serde(default)]
        input: Value,
        #[allow(dead_code)]
        count: Option<u32>,
    }

    #[test]
    fn a_bad_body_field_is_invalid_field_naming_it() {
        let e = from_object::<Run>(json!({"count": "x"})).unwrap_err();
        assert_eq!(e.key.as_deref(), Some(keys::INVALID_FIELD));
        assert_eq!(e.data.as_deref(), Some(&json!({"field": "count"})));
        let ok = from_object::<Run>(json!({"input": {"a": 1}})).unwrap();
        assert_eq!(ok.input, json!({"a": 1}));
    }
}
