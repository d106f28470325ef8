//! Data source instances as a connection sees them (semantics §2.5, §5.1): which
//! collection of the connection's connector an instance points at, its setup, and
//! its collection methods with UDM translation (`/data-source-instance/collection/…`,
//! `/data-source-instances/{id}/collection/…`, `unified-fields-to-native`).
//!
//! **Which collection.** From the instance's effective fields (a customer's own
//! choice on a customised instance, else the data source's, see `elements::follow`):
//! `collectionKey` (with `collectionParameters`), else the deprecated `path`
//! (`data/<key>?<parameters>`), else `defaultCollectionKey`, else — with `udm` — the
//! connector's collection that declares a mapping for that unified model. A write
//! that names `path` without `collectionKey` points the instance by that path (the
//! `collectionKey` it had goes); one that names `collectionKey` without `path`
//! drops the old `path`; one that names `udm` and neither of them lets the model
//! choose the collection again.
//!
//! **Setup** (decisions where the docs are silent). Every write of an instance
//! (auto-create included), `reset` and `setup` (`POST …/setup`, by selector, by id
//! or under the connection) resolve that collection again and store:
//! * `collectionSpec`: the collection's `DataCollectionSpec` resolved for the
//!   connection — what `GET …/collection` answers at that moment, the customer's
//!   custom fields included (so setup calls the connector's `customFieldsSchema`);
//! * `collectionKey`, `collectionParameters` and `path` as resolved;
//! * on an instance nobody customised, the data source's current fields (it
//!   follows its data source; setup is when the stored copy catches up).
//!
//! A customer who may not see the instance, or a connection, customer,
//! integration or connector archived on its path, fail the setup with their
//! `not_found` (nothing is stored). A collection that cannot be resolved (none
//! named, a key the connector lacks, no collection for the model, an integration
//! without a connector) is recorded instead, as `state: CONFIGURATION_ERROR` with
//! the error in `errors` and no `collectionSpec`; a failure while reading the
//! customer's fields through the connection as `state: SETUP_FAILED`. Success is
//! `state: READY` with no `errors`. The spec stays as setup stored it: a connector
//! or data source changed later shows after the next setup.
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
use osmosis_model::{ApiError, Element, ElementState, ElementType, ErrorType};
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
        Self::on(engine.calls())
    }

    /// The service over the calls service it is built on (for services that hold
    /// one already).
    pub(crate) fn on(calls: Calls<'e>) -> Self {
        DataSources { calls }
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

/// What a data source's fields point at on one connector: the collection's key,
/// its parameters, and `(model, {extract, parse})` when the fields name a `udm`
/// the collection maps.
pub(crate) struct Pointer {
    pub key: String,
    pub parameters: Map<String, Value>,
    pub udm: Option<(String, Value)>,
}

/// Resolves data source fields (`collectionKey`, `path`, `defaultCollectionKey`,
/// `udm`; see the module doc) against `connector`'s collections.
pub(crate) fn point(fields: &Map<String, Value>, connector: &Element) -> Result<Pointer, ApiError> {
    let field = |k: &str| fields.get(k).filter(|v| !v.is_null());
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
                    format!("The connector has no data collection for the unified model `{model}`"),
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
    let udm = udm_model.and_then(|m| udm_mapping(spec, &m).map(|mapping| (m, mapping)));
    Ok(Pointer {
        key,
        parameters,
        udm,
    })
}

/// `udm.<model>` of a collection's spec, when it maps that model.
pub(crate) fn udm_mapping(collection: &Value, model: &str) -> Option<Value> {
    collection
        .get("udm")
        .and_then(|u| u.get(model))
        .filter(|m| !m.is_null())
        .cloned()
}

impl DataSources<'_> {
    /// The connection `instance` (a data source instance the caller selected) is
    /// on, checked callable, and the connector it was made with. An archived
    /// instance, or anything archived on its connection's path, is `not_found`.
    async fn reach(
        &self,
        caller: &Caller,
        instance: &Element,
    ) -> Result<(Element, Element), ApiError> {
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
        Ok((connection, connector))
    }

    /// Resolves what `instance` (a data source instance the caller selected) points
    /// at. An archived instance, or anything archived on its connection's path, is
    /// `not_found`.
    pub async fn collection(
        &self,
        caller: &Caller,
        instance: &Element,
    ) -> Result<ResolvedCollection, ApiError> {
        let (connection, connector) = self.reach(caller, instance).await?;
        let source = self.calls.elements.effective(instance).await?;
        let Pointer {
            key,
            parameters,
            udm,
        } = point(&source.doc, &connector)?;
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

    /// The collection's spec as `GET …/collection` answers it: the connector's
    /// `DataCollectionSpec` with the customer's own fields in `fieldsSchema`.
    pub async fn spec(&self, caller: &Caller, instance: &Element) -> Result<Value, ApiError> {
        let c = self.collection(caller, instance).await?;
        let mut spec = collection_spec(&c.connector, &c.key)?;
        spec["fieldsSchema"] = self
            .fields_schema(caller, &c.connection, &c.connector, &c.key, &c.parameters)
            .await?;
        Ok(spec)
    }
}

impl DataSources<'_> {
    /// `setup` of a data source instance (see the module doc): resolves its
    /// collection again and stores what it found, or why it found nothing.
    pub async fn setup(&self, caller: &Caller, current: &Element) -> Result<Element, ApiError> {
        crate::elements::ensure_editable(current)?;
        let mut el = current.clone();
        self.set_up(caller, &mut el, &Map::new()).await?;
        if el.doc == current.doc && el.state == current.state {
            return Ok(current.clone());
        }
        self.calls
            .elements
            .store_refreshed(current.clone(), el)
            .await
    }

    /// Setup computed into `el` (an instance about to be stored by the write that
    /// carries `body`, or by [`DataSources::setup`]). Errors only for what the
    /// caller may not reach; a collection that cannot be resolved is recorded on
    /// the instance.
    pub(crate) async fn set_up(
        &self,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        repoint(el, body);
        let source = self.calls.elements.effective(el).await?;
        if source.id != el.id {
            follow(el, &source);
        }
        let (connection, connector) = match self.reach(caller, el).await {
            Ok(reached) => reached,
            Err(e) if recorded(&e) => {
                fail(el, ElementState::ConfigurationError, e);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Pointer {
            key, parameters, ..
        } = match point(&source.doc, &connector) {
            Ok(p) => p,
            Err(e) => {
                fail(el, ElementState::ConfigurationError, e);
                return Ok(());
            }
        };
        el.doc.insert("collectionKey".into(), json!(key));
        if parameters.is_empty() {
            el.doc.remove("collectionParameters");
        } else {
            el.doc.insert(
                "collectionParameters".into(),
                Value::Object(parameters.clone()),
            );
        }
        el.doc
            .insert("path".into(), json!(collection_path(&key, &parameters)));
        let mut spec = collection_spec(&connector, &key)?;
        match self
            .fields_schema(caller, &connection, &connector, &key, &parameters)
            .await
        {
            Ok(schema) => spec["fieldsSchema"] = schema,
            Err(e) if e.error_type == ErrorType::Concurrency || is_transient(&e) => return Err(e),
            Err(e) => {
                fail(el, ElementState::SetupFailed, e);
                return Ok(());
            }
        }
        el.doc.insert("collectionSpec".into(), spec);
        el.doc.remove("errors");
        el.state = ElementState::Ready;
        Ok(())
    }

    /// Collection `key`'s `fieldsSchema` on `connection`, with the customer's own
    /// fields added when the collection has a `customFieldsSchema` function (run
    /// through the connection, so it sees this customer's account).
    async fn fields_schema(
        &self,
        caller: &Caller,
        connection: &Element,
        connector: &Element,
        key: &str,
        parameters: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let spec = connector
            .doc
            .get("data")
            .and_then(|d| d.get(key))
            .cloned()
            .unwrap_or(Value::Null);
        let mut schema = spec
            .get("fieldsSchema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        let key = key.to_owned();
        let parameters = Value::Object(parameters.clone());
        let custom = self
            .calls
            .call_connection(caller, connection, |runner| {
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

/// The unified model an instance's last setup found its collection mapping
/// (`udm`, when its `collectionSpec` maps it).
pub(crate) fn instance_udm(instance: &Element) -> Option<String> {
    let model = instance.doc_str("udm")?;
    udm_mapping(instance.doc.get("collectionSpec")?, model).map(|_| model.to_owned())
}

/// The pointer a write names wins over the ones it leaves out (module doc).
fn repoint(el: &mut Element, body: &Map<String, Value>) {
    let named = |k: &str| body.get(k).is_some_and(|v| !v.is_null());
    let present = |k: &str| body.contains_key(k);
    if named("path") && !present("collectionKey") {
        el.doc.remove("collectionKey");
        el.doc.remove("collectionParameters");
    }
    if named("collectionKey") && !present("path") {
        el.doc.remove("path");
    }
    if named("udm") && !present("collectionKey") && !present("path") {
        el.doc.remove("collectionKey");
        el.doc.remove("collectionParameters");
        el.doc.remove("path");
    }
}

/// An instance nobody customised takes its data source's current fields.
fn follow(el: &mut Element, source: &Element) {
    for table in source.element_type.spec().fields {
        for f in table.iter() {
            match source.doc.get(f.name) {
                Some(v) => el.doc.insert(f.name.to_owned(), v.clone()),
                None => el.doc.remove(f.name),
            };
        }
    }
}

/// Records why setup found no collection.
fn fail(el: &mut Element, state: ElementState, error: ApiError) {
    el.doc.remove("collectionSpec");
    el.doc.insert(
        "errors".into(),
        json!([serde_json::to_value(error).unwrap_or(Value::Null)]),
    );
    el.state = state;
}

/// Whether an error reaching the connection is the instance's configuration (to
/// record) rather than something the caller may not reach (to answer).
fn recorded(e: &ApiError) -> bool {
    match e.error_type {
        ErrorType::Configuration => true,
        ErrorType::BadRequest => matches!(
            e.key.as_deref(),
            Some(keys::INVALID_FIELD) | Some(keys::NOT_SUPPORTED)
        ),
        _ => false,
    }
}

/// The database or a node being briefly unavailable: answered, never recorded.
fn is_transient(e: &ApiError) -> bool {
    matches!(
        e.key.as_deref(),
        Some(keys::DATABASE_UNAVAILABLE) | Some(keys::STORAGE_FULL)
    )
}

/// `data/<key>?<parameters>` (the deprecated `path`); values that are not strings
/// are written as JSON.
fn collection_path(key: &str, parameters: &Map<String, Value>) -> String {
    if parameters.is_empty() {
        return format!("data/{key}");
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in parameters {
        match v {
            Value::String(s) => query.append_pair(k, s),
            other => query.append_pair(k, &other.to_string()),
        };
    }
    format!("data/{key}?{}", query.finish())
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
pub(crate) fn translate(mapping: &Value, which: &str, value: &Value) -> Result<Value, ApiError> {
    let Some(formula) = mapping.get(which).filter(|f| !f.is_null()) else {
        return Ok(value.clone());
    };
    build_value(Some(formula), Some(value))
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(format!("udm.{which}: {e}")))
}

/// Adds `udm` (the model) and `unifiedFields` to a record.
pub(crate) fn add_unified(
    model: &str,
    mapping: &Value,
    record: &mut Value,
) -> Result<(), ApiError> {
    let fields = record.get("fields").cloned().unwrap_or_else(|| json!({}));
    let unified = translate(mapping, "extract", &fields)?;
    if let Value::Object(m) = record {
        m.insert("udm".into(), Value::String(model.to_owned()));
        m.insert("unifiedFields".into(), unified);
    }
    Ok(())
}

/// One data collection's spec (`DataCollectionSpec`), or `not_found` naming it:
/// the connector's definition without how each method is implemented.
pub fn collection_spec(connector: &Element, key: &str) -> Result<Value, ApiError> {
    let mut spec = connector
        .doc
        .get("data")
        .and_then(|d| d.get(key))
        .cloned()
        .ok_or_else(|| {
            ApiError::not_found(format!("The connector has no data collection `{key}`"))
        })?;
    if let Some(m) = spec.as_object_mut() {
        // The spec, not the implementation: helper functions go, and each method
        // keeps its settings (`filterFields`, `fields`, …) without its code.
        m.retain(|k, _| SPEC_FIELDS.contains(&k.as_str()));
        for method in METHOD_FIELDS {
            if let Some(Value::Object(settings)) = m.get_mut(method) {
                settings.retain(|k, _| !IMPLEMENTATION_FIELDS.contains(&k.as_str()));
            }
        }
        m.insert("type".into(), json!("collection"));
        m.entry("key").or_insert(json!(key));
        m.entry("name").or_insert(json!(key));
    }
    Ok(spec)
}

/// The fields of the SDK's `DataCollectionSpec`.
const SPEC_FIELDS: [&str; 16] = [
    "type",
    "key",
    "name",
    "parametersSchema",
    "fieldsSchema",
    "list",
    "search",
    "match",
    "findById",
    "create",
    "update",
    "delete",
    "events",
    "customFields",
    "udm",
    "find",
];

const METHOD_FIELDS: [&str; 8] = [
    "list", "search", "match", "findById", "create", "update", "delete", "find",
];

/// How a method is implemented, which its spec does not show.
const IMPLEMENTATION_FIELDS: [&str; 8] = [
    "type",
    "mapping",
    "code",
    "implementation",
    "requestMapping",
    "responseMapping",
    "inputMapping",
    "outputMapping",
];
