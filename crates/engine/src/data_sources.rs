//! Data source instances as a connection sees them (semantics §2.5, §5.1): which
//! collection of the connection's connector an instance points at, and its
//! collection methods with UDM translation (`/data-source-instance/collection/…`,
//! `/data-source-instances/{id}/collection/…`, `unified-fields-to-native`).
//!
//! **Which collection.** From the instance's effective fields (a customer's own
//! choice on a customised instance, else the data source's, see `elements::follow`):
//! `collectionKey` (with `collectionParameters`), else the deprecated `path`
//! (`data/<key>?<parameters>`), else `defaultCollectionKey`, else — with `udm` — the
//! connector's collection that declares a mapping for that unified model.
//!
//! **UDM** (decisions where the docs are silent): a collection's
//! `udm.<model>.extract` is a formula over a record's `fields` giving its unified
//! fields, `udm.<model>.parse` one over unified fields giving native ones. On an
//! instance with `udm`, records come back with `udm` and `unifiedFields` beside
//! `fields`, and `create`/`update` take unified `fields`, translated with `parse`
//! before they are sent. Without a mapping for the model, records pass through
//! unchanged.

use osmosis_connectors::definition::{CollectionHelper, CollectionMethod};
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::build_value;
use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Map, Value};

use crate::caller::visible_to;
use crate::connections::{CallError, CallFailure, Calls};
use crate::errors::not_found;
use crate::{Caller, Engine, PathSelector};

/// The data sources service: a borrowed view of the engine ([`Engine::data_sources`]).
#[derive(Clone, Copy)]
pub struct DataSources<'e> {
    calls: Calls<'e>,
}

impl<'e> DataSources<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        DataSources {
            calls: engine.calls(),
        }
    }
}

/// The collection an instance points at, on its connection.
pub struct ResolvedCollection {
    pub connection: Element,
    /// The connector the connection was made with (for the collection's spec).
    pub connector: Element,
    pub key: String,
    pub parameters: Map<String, Value>,
    /// `(model, {extract, parse})` when the instance has `udm` and the collection
    /// maps it.
    pub udm: Option<(String, Value)>,
}

impl DataSources<'_> {
    /// Resolves what `instance` (a data source instance the caller selected) points
    /// at. An archived instance, or anything archived on its connection's path, is
    /// `not_found`.
    pub async fn collection(
        &self,
        caller: &Caller,
        instance: &Element,
    ) -> Result<ResolvedCollection, ApiError> {
        if instance.element_type != ElementType::DataSourceInstance
            || instance.is_archived()
            || !visible_to(caller, instance)
        {
            return Err(not_found(instance.element_type, &instance.id));
        }
        let conn_id = instance
            .connection_id
            .clone()
            .ok_or_else(|| ApiError::configuration("The data source instance has no connection"))?;
        let connection = self
            .calls
            .elements
            .resolve(caller, ElementType::Connection, &PathSelector::new(conn_id))
            .await?;
        self.calls.ensure_callable(caller, &connection).await?;
        let (_, connector) = self
            .calls
            .live_integration_and_connector(&connection)
            .await?;
        let source = self.calls.elements.effective(instance).await?;
        let field = |k: &str| source.doc.get(k).filter(|v| !v.is_null());
        let object = |k: &str| match field(k) {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        let udm_model = field("udm").and_then(Value::as_str).map(str::to_owned);
        let collections = connector.doc.get("data").and_then(Value::as_object);
        let (key, parameters) = if let Some(k) = field("collectionKey").and_then(Value::as_str) {
            (k.to_owned(), object("collectionParameters"))
        } else if let Some(p) = field("path").and_then(Value::as_str) {
            path_collection(p)?
        } else if let Some(k) = field("defaultCollectionKey").and_then(Value::as_str) {
            (k.to_owned(), object("defaultCollectionParameters"))
        } else if let Some(model) = &udm_model {
            let key = collections
                .and_then(|c| {
                    c.iter()
                        .find(|(_, spec)| spec.get("udm").and_then(|u| u.get(model)).is_some())
                })
                .map(|(k, _)| k.clone())
                .ok_or_else(|| {
                    ApiError::bad_request(
                        keys::NOT_SUPPORTED,
                        format!(
                            "The connector has no data collection for the unified model `{model}`"
                        ),
                    )
                })?;
            (key, Map::new())
        } else {
            return Err(ApiError::configuration(
                "The data source names no collection: set `collectionKey` or `udm`",
            ));
        };
        let spec = collections.and_then(|c| c.get(&key)).ok_or_else(|| {
            ApiError::not_found(format!("The connector has no data collection `{key}`"))
        })?;
        let udm = udm_model.and_then(|m| {
            spec.get("udm")
                .and_then(|u| u.get(&m))
                .cloned()
                .map(|mapping| (m, mapping))
        });
        Ok(ResolvedCollection {
            connection,
            connector,
            key,
            parameters,
            udm,
        })
    }

    /// Runs collection `method` of `instance` with `request` (the method's request
    /// body; its `parameters` override the instance's field by field).
    pub async fn run_method(
        &self,
        caller: &Caller,
        instance: &Element,
        method: CollectionMethod,
        mut request: Value,
    ) -> Result<Value, ApiError> {
        let c = self.collection(caller, instance).await?;
        if let (Some((_, mapping)), CollectionMethod::Create | CollectionMethod::Update) =
            (&c.udm, method)
        {
            if let Some(fields) = request.get("fields").cloned() {
                request["fields"] = translate(mapping, "parse", &fields)?;
            }
        }
        let answer = self
            .calls
            .run_collection_method(caller, &c.connection, &c.key, method, request, c.parameters)
            .await?;
        let Some((model, mapping)) = &c.udm else {
            return Ok(answer);
        };
        let mut answer = answer;
        if let Some(Value::Array(records)) = answer.get_mut("records") {
            for r in records {
                add_unified(model, mapping, r)?;
            }
        }
        if let Some(r) = answer.get_mut("record").filter(|r| r.is_object()) {
            add_unified(model, mapping, r)?;
        }
        Ok(answer)
    }

    /// `unified-fields-to-native`: unified fields as the connector's native ones (as
    /// given when the instance has no UDM mapping).
    pub async fn unified_to_native(
        &self,
        caller: &Caller,
        instance: &Element,
        fields: Value,
    ) -> Result<Value, ApiError> {
        let c = self.collection(caller, instance).await?;
        match &c.udm {
            Some((_, mapping)) => translate(mapping, "parse", &fields),
            None => Ok(fields),
        }
    }
}

impl DataSources<'_> {
    /// The schema of the records `instance` points at: the collection's
    /// `fieldsSchema`, with the customer's own fields added when the collection has
    /// a `customFieldsSchema` function (run through the connection, so it sees
    /// this customer's account).
    pub async fn records_schema(
        &self,
        caller: &Caller,
        instance: &Element,
    ) -> Result<Value, ApiError> {
        let c = self.collection(caller, instance).await?;
        let spec = c
            .connector
            .doc
            .get("data")
            .and_then(|d| d.get(&c.key))
            .cloned()
            .unwrap_or(Value::Null);
        let mut schema = spec
            .get("fieldsSchema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        let key = c.key.clone();
        let parameters = Value::Object(c.parameters.clone());
        let custom = self
            .calls
            .call_connection(caller, &c.connection, |runner| {
                let (key, parameters) = (key.clone(), parameters.clone());
                async move {
                    let helper = runner
                        .connector()
                        .data_collection(&key)
                        .and_then(|d| d.helper(CollectionHelper::CustomFieldsSchema).cloned());
                    match helper {
                        Some(h) => Ok(runner
                            .run(&h, json!({"parameters": parameters}))
                            .await?
                            .output),
                        None => Ok(Value::Null),
                    }
                }
            })
            .await
            .map_err(|e: CallError<CallFailure>| ApiError::from(e))?;
        if let (Some(Value::Object(extra)), Some(Value::Object(props))) = (
            custom.get("properties"),
            schema
                .as_object_mut()
                .map(|m| m.entry("properties").or_insert_with(|| json!({}))),
        ) {
            for (k, v) in extra {
                props.insert(k.clone(), v.clone());
            }
        }
        Ok(schema)
    }
}

/// `data/<key>?<parameters>` (the deprecated `path`).
fn path_collection(path: &str) -> Result<(String, Map<String, Value>), ApiError> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let key = path
        .trim_start_matches('/')
        .strip_prefix("data/")
        .filter(|k| !k.is_empty() && !k.contains('/'))
        .ok_or_else(|| {
            ApiError::configuration(format!("`path` `{path}` is not data/<collection>"))
        })?;
    let parameters = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    Ok((key.to_owned(), parameters))
}

/// `mapping.<which>` applied to `value` (its formulas' root variables); `value`
/// unchanged when the mapping has no such formula.
fn translate(mapping: &Value, which: &str, value: &Value) -> Result<Value, ApiError> {
    let Some(formula) = mapping.get(which).filter(|f| !f.is_null()) else {
        return Ok(value.clone());
    };
    build_value(Some(formula), Some(value))
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(format!("udm.{which}: {e}")))
}

/// Adds `udm` (the model) and `unifiedFields` to a record.
fn add_unified(model: &str, mapping: &Value, record: &mut Value) -> Result<(), ApiError> {
    let fields = record.get("fields").cloned().unwrap_or_else(|| json!({}));
    let unified = translate(mapping, "extract", &fields)?;
    if let Value::Object(m) = record {
        m.insert("udm".into(), Value::String(model.to_owned()));
        m.insert("unifiedFields".into(), unified);
    }
    Ok(())
}
