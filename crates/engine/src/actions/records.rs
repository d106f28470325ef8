//! The data actions (`list-data-records`, `find-data-record-by-id`,
//! `match-data-record`, `search-data-record`, `create-data-record`,
//! `update-data-record`, `delete-data-record`, `find-or-create-data-record`): a
//! collection of the connection's connector, and optionally a field mapping applied
//! to every record (see `kinds` for the decisions on their inputs and outputs).

use osmosis_connectors::definition::CollectionMethod;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::build_value;
use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Map, Value};

use super::kinds::Run;
use crate::elements::InstanceSelector;
use crate::PathSelector;

/// The data actions: a collection of the connection's connector, and optionally a
/// field mapping.
impl Run<'_, '_> {
    /// An element the config names by key, with the fields that apply to this run:
    /// the connection's own instance of it when one exists (the customer's edits),
    /// else the connection's integration's copy, else the universal one — each
    /// following its parent while not customised (`Elements::effective`).
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
                        return elements.effective(&found).await;
                    }
                }
            }
        }
        let found = elements.resolve(self.caller, t, &sel).await?;
        if found.is_archived() {
            return Err(crate::errors::not_found(t, key));
        }
        elements.effective(&found).await
    }

    /// `(collectionKey, collectionParameters)` from `config.dataSource`: inline, or
    /// a data source element by `key` (the connection's integration's copy first).
    async fn collection(&self) -> Result<(String, Map<String, Value>), ApiError> {
        let Some(Value::Object(ds)) = self.config_field("dataSource") else {
            return Err(ApiError::configuration(
                "The action has no `config.dataSource`",
            ));
        };
        let mut ds = ds.clone();
        if ds.get("collectionKey").is_none() {
            if let Some(key) = ds.get("key").and_then(Value::as_str) {
                let el = self.referenced(ElementType::DataSource, key).await?;
                for f in ["collectionKey", "collectionParameters"] {
                    if let Some(v) = el.doc.get(f) {
                        ds.insert(f.into(), v.clone());
                    }
                }
            }
        }
        let key = ds
            .get("collectionKey")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::configuration("`config.dataSource.collectionKey` is required")
            })?
            .to_owned();
        let parameters = match ds.get("collectionParameters") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        Ok((key, parameters))
    }

    /// `(importValue, exportValue)` of `config.fieldMapping`: inline, or a field
    /// mapping element by `key`.
    async fn mapping(&self) -> Result<(Option<Value>, Option<Value>), ApiError> {
        let Some(Value::Object(fm)) = self.raw_config.get("fieldMapping") else {
            return Ok((None, None));
        };
        let mut fm = fm.clone();
        if fm.get("importValue").is_none() && fm.get("exportValue").is_none() {
            if let Some(key) = fm.get("key").and_then(Value::as_str) {
                let el = self.referenced(ElementType::FieldMapping, key).await?;
                fm = self.with_frozen_fields(el).await?.doc;
            }
        }
        let pick = |k: &str| fm.get(k).filter(|v| !v.is_null()).cloned();
        Ok((pick("importValue"), pick("exportValue")))
    }

    /// A customer's field mapping instance with the fields its mapping froze
    /// (`frozenImportFields`, `frozenExportFields`) taken from the mapping: the
    /// customer may change the rest of the mapping, never those.
    async fn with_frozen_fields(&self, mut el: Element) -> Result<Element, ApiError> {
        let Some(parent_id) = el
            .parent_id
            .clone()
            .filter(|_| el.element_type == ElementType::FieldMappingInstance)
        else {
            return Ok(el);
        };
        let elements = &self.actions.calls.elements;
        let Some(parent) = elements
            .store
            .element_by_id(&el.workspace_id, &parent_id)
            .await
            .map_err(crate::errors::store_error)?
        else {
            return Ok(el);
        };
        let parent = elements.effective(&parent).await?;
        for (frozen, value) in [
            ("frozenImportFields", "importValue"),
            ("frozenExportFields", "exportValue"),
        ] {
            let Some(Value::Array(fields)) = parent.doc.get(frozen) else {
                continue;
            };
            let theirs = parent.doc.get(value).and_then(Value::as_object);
            let mine = el
                .doc
                .entry(value)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(mine) = mine else { continue };
            for field in fields.iter().filter_map(Value::as_str) {
                match theirs.and_then(|t| t.get(field)) {
                    Some(v) => mine.insert(field.to_owned(), v.clone()),
                    None => mine.remove(field),
                };
            }
        }
        Ok(el)
    }

    async fn method(&self, method: CollectionMethod, request: Value) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let (key, parameters) = self.collection().await?;
        self.actions
            .calls
            .run_collection_method(self.caller, conn, &key, method, request, parameters)
            .await
    }

    fn input_field(&self, name: &str) -> Option<Value> {
        self.input.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The fields a create or update sends (see the module doc).
    async fn outgoing_fields(&self) -> Result<Value, ApiError> {
        let fields = self
            .config_field("fields")
            .cloned()
            .or_else(|| self.input_field("fields"))
            .unwrap_or_else(|| self.input.clone());
        match self.mapping().await?.1 {
            Some(export) => apply_mapping(&export, &fields, "exportValue"),
            None => Ok(fields),
        }
    }

    /// Records with the import mapping applied to their fields.
    async fn incoming(&self, records: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let Some(import) = self.mapping().await?.0 else {
            return Ok(records);
        };
        records
            .into_iter()
            .map(|mut r| {
                let fields = r.get("fields").cloned().unwrap_or(Value::Null);
                let mapped = apply_mapping(&import, &fields, "importValue")?;
                if let Value::Object(m) = &mut r {
                    m.insert("fields".into(), mapped);
                }
                Ok(r)
            })
            .collect()
    }

    async fn one_incoming(&self, record: Option<Value>) -> Result<Value, ApiError> {
        match record.filter(|r| !r.is_null()) {
            Some(r) => Ok(self.incoming(vec![r]).await?.remove(0)),
            None => Ok(Value::Null),
        }
    }

    pub(super) async fn list_records(&self) -> Result<Value, ApiError> {
        let mut request = json!({});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        for f in ["filter", "unifiedFilter"] {
            if let Some(v) = self.config_field(f) {
                request[f] = v.clone();
            }
        }
        let answer = self.method(CollectionMethod::List, request).await?;
        self.records_page(answer).await
    }

    async fn records_page(&self, answer: Value) -> Result<Value, ApiError> {
        let records = answer
            .get("records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = json!({"records": self.incoming(records).await?});
        if let Some(c) = answer.get("cursor").filter(|c| !c.is_null()) {
            out["cursor"] = c.clone();
        }
        Ok(out)
    }

    pub(super) async fn find_record_by_id(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let answer = self
            .method(CollectionMethod::FindById, json!({"id": id}))
            .await?;
        self.one_incoming(answer.get("record").cloned()).await
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
        let answer = self
            .method(
                CollectionMethod::Match,
                json!({"query": self.match_query()}),
            )
            .await?;
        self.one_incoming(answer.get("record").cloned()).await
    }

    pub(super) async fn search_records(&self) -> Result<Value, ApiError> {
        let mut request = json!({"query": self.config_field("query").cloned().or_else(|| self.input_field("query"))});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        let answer = self.method(CollectionMethod::Search, request).await?;
        self.records_page(answer).await
    }

    pub(super) async fn create_record(&self) -> Result<Value, ApiError> {
        let fields = self.outgoing_fields().await?;
        let answer = self
            .method(CollectionMethod::Create, json!({"fields": fields}))
            .await?;
        Ok(json!({"id": answer.get("id")}))
    }

    pub(super) async fn update_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let fields = self.outgoing_fields().await?;
        let answer = self
            .method(
                CollectionMethod::Update,
                json!({"id": id, "fields": fields}),
            )
            .await?;
        Ok(json!({"id": answer.get("id").filter(|v| !v.is_null()).cloned().unwrap_or(id)}))
    }

    pub(super) async fn delete_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        self.method(CollectionMethod::Delete, json!({"id": id}))
            .await?;
        Ok(json!({}))
    }

    pub(super) async fn find_or_create_record(&self) -> Result<Value, ApiError> {
        let found = self
            .method(
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
        let created = self.create_record().await?;
        Ok(json!({"id": created["id"], "created": true}))
    }
}

/// A field mapping value applied to `fields` (the formulas' root variables).
fn apply_mapping(mapping: &Value, fields: &Value, what: &str) -> Result<Value, ApiError> {
    build_value(Some(mapping), Some(fields))
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(format!("fieldMapping.{what}: {e}")))
}
