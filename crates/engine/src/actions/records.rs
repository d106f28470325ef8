//! The data actions (`list-data-records`, `find-data-record-by-id`,
//! `match-data-record`, `search-data-record`, `create-data-record`,
//! `update-data-record`, `delete-data-record`, `find-or-create-data-record`): a
//! collection of the connection's connector, and optionally a field mapping applied
//! to every record (see `kinds` for the decisions on their inputs and outputs).
//!
//! **Which collection.** `config.dataSource` names it inline (`collectionKey`,
//! `collectionParameters`, optionally `udm`), or names a data source by `key`:
//! then the connection's instance of it decides (the customer's own choice of
//! collection), else the integration's copy of the data source, else the universal
//! one, resolved as a data source instance is (`data_sources`, module doc) — a
//! data source with only a `udm` runs on whichever collection of the connector
//! maps that model.
//!
//! **Unified records.** When the data source has a `udm` the collection maps,
//! records come back with `udm` and `unifiedFields` (the connector's
//! `udm.<model>.extract` of their fields), and the fields a create or update sends
//! are unified: the connector's `udm.<model>.parse` turns them into native ones.
//!
//! **Field mappings.** `config.fieldMapping` holds its values inline, or names a
//! field mapping by `key`: the connection's instance of it (the customer's edits)
//! when one exists, else the integration's copy, else the universal one. Which of
//! its values apply, and in which terms, is `field_mappings::values` (module doc
//! there): an import value in unified terms maps a record's `unifiedFields`, one
//! in the collection's terms its `fields`; an export value in unified terms makes
//! unified fields (then parsed as above), one in the collection's terms the native
//! fields sent. Either way each record's `fields` become the mapped values (the API
//! object stays in `rawFields`).

use osmosis_connectors::definition::CollectionMethod;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::build_value;
use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Map, Value};

use super::kinds::Run;
use super::ActionTarget;
use crate::data_sources::{add_unified, point, translate, udm_mapping, DataSources, Pointer};
use crate::elements::InstanceSelector;
use crate::field_mappings::{self, MappingValues};
use crate::Caller;
use crate::PathSelector;

/// What a data action works on: the collection on the run's connection, its UDM
/// mapping, and the field mapping values that apply.
struct DataTarget {
    /// The collection; its `udm` is `(model, {extract, parse})` when the data
    /// source has a `udm` the collection maps.
    collection: Pointer,
    mapping: MappingValues,
    /// The data source element `config.dataSource.key` named (the connection's
    /// instance or the data source itself), when it named one.
    source: Option<Element>,
}

/// What a data config points at on a connection (see
/// [`super::Actions::data_point`]).
pub(crate) struct DataPoint {
    pub collection: Pointer,
    /// The fields of the data source that applies (its effective fields), when the
    /// config names one by key: its intervals, among others.
    pub source: Option<Map<String, Value>>,
}

impl<'e> super::Actions<'e> {
    /// A data action or trigger `config` (`{dataSource, fieldMapping}`) as one
    /// step on `connection`, with no input.
    fn data_step<'a>(
        &'a self,
        caller: &'a Caller,
        target: &'a ActionTarget,
        config: &'a Value,
    ) -> Run<'a, 'e> {
        Run {
            actions: self,
            caller,
            target,
            config,
            raw_config: config,
            input: &Value::Null,
            variables: &Value::Null,
        }
    }

    /// The collection `config.dataSource` points at on `connection` (resolved as
    /// the data actions resolve it, module doc), and the data source's fields.
    pub(crate) async fn data_point(
        &self,
        caller: &Caller,
        connection: &Element,
        config: &Value,
    ) -> Result<DataPoint, ApiError> {
        let target = ActionTarget {
            action: None,
            inline: None,
            connection: Some(connection.clone()),
        };
        let t = self
            .data_step(caller, &target, config)
            .data_target()
            .await?;
        let source = match &t.source {
            Some(el) => Some(self.calls.elements.effective(el).await?.doc),
            None => None,
        };
        Ok(DataPoint {
            collection: t.collection,
            source,
        })
    }

    /// `records` of the collection `config.dataSource` points at, as a data action
    /// with `config` reads them: unified fields added, the import mapping of
    /// `config.fieldMapping` applied.
    pub(crate) async fn incoming_records(
        &self,
        caller: &Caller,
        connection: &Element,
        config: &Value,
        records: Vec<Value>,
    ) -> Result<Vec<Value>, ApiError> {
        let target = ActionTarget {
            action: None,
            inline: None,
            connection: Some(connection.clone()),
        };
        let run = self.data_step(caller, &target, config);
        let t = run.data_target().await?;
        run.incoming(&t, records)
    }
}

/// The data actions: a collection of the connection's connector, and optionally a
/// field mapping.
impl Run<'_, '_> {
    /// An element the config names by key: the connection's own instance of it
    /// when one exists, else the connection's integration's copy, else the
    /// universal one. Not yet what applies — see `Elements::effective`.
    async fn referenced(&self, t: ElementType, key: &str) -> Result<Element, ApiError> {
        let elements = &self.actions.calls.elements;
        let mut sel = PathSelector::new(key);
        if let Some(conn) = &self.target.connection {
            sel.layer.integration_id = conn.integration_id.clone();
            if let Some(it) = t.instance_type() {
                let instance = InstanceSelector {
                    parent: Some(key.to_owned()),
                    connection_id: Some(conn.id.clone()),
                    ..Default::default()
                };
                if let Ok(found) = elements.resolve_instance(self.caller, it, &instance).await {
                    if !found.is_archived() {
                        return Ok(found);
                    }
                }
            }
        }
        let found = elements.resolve(self.caller, t, &sel).await?;
        if found.is_archived() {
            return Err(crate::errors::not_found(t, key));
        }
        Ok(found)
    }

    /// The connector of the run's connection.
    async fn connector(&self) -> Result<Element, ApiError> {
        let conn = self.connection()?;
        Ok(self
            .actions
            .calls
            .live_integration_and_connector(conn)
            .await?
            .1)
    }

    /// The collection, its UDM mapping and the field mapping (see the module doc).
    async fn data_target(&self) -> Result<DataTarget, ApiError> {
        self.connection()?;
        let Some(Value::Object(ds)) = self.config_field("dataSource") else {
            return Err(ApiError::configuration(
                "The action has no `config.dataSource`",
            ));
        };
        let named = |k: &str| ds.get(k).filter(|v| !v.is_null());
        let mut source = None;
        let pointer = if let Some(key) = named("collectionKey").and_then(Value::as_str) {
            // Inline: no lookup unless a model asks for the collection's mapping.
            let parameters = match named("collectionParameters") {
                Some(Value::Object(p)) => p.clone(),
                _ => Map::new(),
            };
            let udm = match named("udm").and_then(Value::as_str) {
                Some(model) => {
                    let connector = self.connector().await?;
                    connector
                        .doc
                        .get("data")
                        .and_then(|d| d.get(key))
                        .and_then(|spec| udm_mapping(spec, model))
                        .map(|m| (model.to_owned(), m))
                }
                None => None,
            };
            Pointer {
                key: key.to_owned(),
                parameters,
                udm,
            }
        } else if let Some(key) = named("key").and_then(Value::as_str) {
            let el = self.referenced(ElementType::DataSource, key).await?;
            let mut pointer = if el.element_type == ElementType::DataSourceInstance {
                let c = DataSources::on(self.actions.calls)
                    .collection(self.caller, &el)
                    .await?;
                Pointer {
                    key: c.key,
                    parameters: c.parameters,
                    udm: c.udm,
                }
            } else {
                let source = self.actions.calls.elements.effective(&el).await?;
                point(&source.doc, &self.connector().await?)?
            };
            // Parameters given inline fill those the data source leaves unset.
            if let Some(Value::Object(inline)) = named("collectionParameters") {
                for (k, v) in inline {
                    pointer
                        .parameters
                        .entry(k.clone())
                        .or_insert_with(|| v.clone());
                }
            }
            source = Some(el);
            pointer
        } else {
            point(ds, &self.connector().await?)?
        };
        let mapping = self.mapping(pointer.udm.is_some()).await?;
        Ok(DataTarget {
            collection: pointer,
            mapping,
            source,
        })
    }

    /// The values of `config.fieldMapping`: inline, or a field mapping element by
    /// `key`; `udm` tells whether records carry unified fields.
    async fn mapping(&self, udm: bool) -> Result<MappingValues, ApiError> {
        let Some(Value::Object(fm)) = self.raw_config.get("fieldMapping") else {
            return Ok(MappingValues::default());
        };
        if MappingValues::is_inline(fm) {
            return Ok(MappingValues::inline(fm, udm));
        }
        match fm.get("key").and_then(Value::as_str) {
            Some(key) => {
                let el = self.referenced(ElementType::FieldMapping, key).await?;
                field_mappings::values(&self.actions.calls.elements, &el, udm).await
            }
            None => Ok(MappingValues::default()),
        }
    }

    async fn method(
        &self,
        t: &DataTarget,
        method: CollectionMethod,
        request: Value,
    ) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        self.actions
            .calls
            .run_collection_method(
                self.caller,
                conn,
                &t.collection.key,
                method,
                request,
                t.collection.parameters.clone(),
            )
            .await
    }

    fn input_field(&self, name: &str) -> Option<Value> {
        self.input.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The fields a create or update sends (see the module doc).
    fn outgoing_fields(&self, t: &DataTarget) -> Result<Value, ApiError> {
        let fields = self
            .config_field("fields")
            .cloned()
            .or_else(|| self.input_field("fields"))
            .unwrap_or_else(|| self.input.clone());
        let m = &t.mapping;
        let unified = match (&m.unified_export, &m.export) {
            (Some(export), _) => apply_mapping(export, &fields, "unifiedExportValue")?,
            (None, Some(export)) => return apply_mapping(export, &fields, "exportValue"),
            (None, None) => fields,
        };
        match &t.collection.udm {
            Some((_, udm)) => translate(udm, "parse", &unified),
            None => Ok(unified),
        }
    }

    /// Records with their unified fields and the import mapping applied.
    fn incoming(&self, t: &DataTarget, records: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let m = &t.mapping;
        records
            .into_iter()
            .map(|mut r| {
                if let Some((model, udm)) = &t.collection.udm {
                    add_unified(model, udm, &mut r)?;
                }
                let mapped = match (&m.unified_import, &m.import) {
                    (Some(import), _) => {
                        let unified = r.get("unifiedFields").cloned().unwrap_or(Value::Null);
                        Some(apply_mapping(import, &unified, "unifiedImportValue")?)
                    }
                    (None, Some(import)) => {
                        let fields = r.get("fields").cloned().unwrap_or(Value::Null);
                        Some(apply_mapping(import, &fields, "importValue")?)
                    }
                    (None, None) => None,
                };
                if let (Some(mapped), Value::Object(m)) = (mapped, &mut r) {
                    m.insert("fields".into(), mapped);
                }
                Ok(r)
            })
            .collect()
    }

    fn one_incoming(&self, t: &DataTarget, record: Option<Value>) -> Result<Value, ApiError> {
        match record.filter(|r| !r.is_null()) {
            Some(r) => Ok(self.incoming(t, vec![r])?.remove(0)),
            None => Ok(Value::Null),
        }
    }

    pub(super) async fn list_records(&self) -> Result<Value, ApiError> {
        let t = self.data_target().await?;
        let mut request = json!({});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        for f in ["filter", "unifiedFilter"] {
            if let Some(v) = self.config_field(f) {
                request[f] = v.clone();
            }
        }
        let answer = self.method(&t, CollectionMethod::List, request).await?;
        self.records_page(&t, answer)
    }

    fn records_page(&self, t: &DataTarget, answer: Value) -> Result<Value, ApiError> {
        let records = answer
            .get("records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = json!({"records": self.incoming(t, records)?});
        if let Some(c) = answer.get("cursor").filter(|c| !c.is_null()) {
            out["cursor"] = c.clone();
        }
        Ok(out)
    }

    pub(super) async fn find_record_by_id(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let t = self.data_target().await?;
        let answer = self
            .method(&t, CollectionMethod::FindById, json!({"id": id}))
            .await?;
        self.one_incoming(&t, answer.get("record").cloned())
    }

    fn required_id(&self) -> Result<Value, ApiError> {
        self.config_field("id")
            .cloned()
            .or_else(|| self.input_field("id"))
            .ok_or_else(|| ApiError::invalid_field("input.id", "is required"))
    }

    fn match_query(&self) -> Value {
        self.config_field("query")
            .cloned()
            .or_else(|| self.input_field("query"))
            .or_else(|| self.input_field("fields"))
            .unwrap_or_else(|| self.input.clone())
    }

    pub(super) async fn match_record(&self) -> Result<Value, ApiError> {
        let t = self.data_target().await?;
        let answer = self
            .method(
                &t,
                CollectionMethod::Match,
                json!({"query": self.match_query()}),
            )
            .await?;
        self.one_incoming(&t, answer.get("record").cloned())
    }

    pub(super) async fn search_records(&self) -> Result<Value, ApiError> {
        let t = self.data_target().await?;
        let mut request = json!({"query": self.config_field("query").cloned().or_else(|| self.input_field("query"))});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        let answer = self.method(&t, CollectionMethod::Search, request).await?;
        self.records_page(&t, answer)
    }

    pub(super) async fn create_record(&self) -> Result<Value, ApiError> {
        let t = self.data_target().await?;
        self.create_in(&t).await
    }

    async fn create_in(&self, t: &DataTarget) -> Result<Value, ApiError> {
        let fields = self.outgoing_fields(t)?;
        let answer = self
            .method(t, CollectionMethod::Create, json!({"fields": fields}))
            .await?;
        Ok(json!({"id": answer.get("id")}))
    }

    pub(super) async fn update_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let t = self.data_target().await?;
        let fields = self.outgoing_fields(&t)?;
        let answer = self
            .method(
                &t,
                CollectionMethod::Update,
                json!({"id": id, "fields": fields}),
            )
            .await?;
        Ok(json!({"id": answer.get("id").filter(|v| !v.is_null()).cloned().unwrap_or(id)}))
    }

    pub(super) async fn delete_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let t = self.data_target().await?;
        self.method(&t, CollectionMethod::Delete, json!({"id": id}))
            .await?;
        Ok(json!({}))
    }

    pub(super) async fn find_or_create_record(&self) -> Result<Value, ApiError> {
        let t = self.data_target().await?;
        let found = self
            .method(
                &t,
                CollectionMethod::Match,
                json!({"query": self.match_query()}),
            )
            .await?;
        if let Some(id) = found
            .get("record")
            .and_then(|r| r.get("id"))
            .filter(|v| !v.is_null())
        {
            return Ok(json!({"id": id, "created": false}));
        }
        let created = self.create_in(&t).await?;
        Ok(json!({"id": created["id"], "created": true}))
    }
}

/// A field mapping value applied to `fields` (the formulas' root variables).
fn apply_mapping(mapping: &Value, fields: &Value, what: &str) -> Result<Value, ApiError> {
    build_value(Some(mapping), Some(fields))
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(format!("fieldMapping.{what}: {e}")))
}
