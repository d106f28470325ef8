//! Field mappings as they apply to a connection (semantics §5.2): the import and
//! export values a run uses, in the terms they were written in, and a field
//! mapping instance's setup.
//!
//! **Unified values** (the docs name `unifiedImportValue`/`unifiedExportValue` on
//! field mappings and their instances, "computed at setup", and say nothing more;
//! the SDK types them `any`). What the docs do say: a universal field mapping maps
//! the fields of the unified data model (`udm`) its data source names, an
//! integration-level one the fields of the collection the data source points at,
//! and a customer's the fields of that collection on their connection, custom
//! fields included. Hence, where the data source (instance) has a `udm` the
//! collection maps:
//! * `unifiedImportValue` is the import mapping that applies to a record's
//!   `unifiedFields` (what the connector's `udm.<model>.extract` makes of its
//!   fields), and `unifiedExportValue` the export mapping that produces unified
//!   fields, which the connector's `udm.<model>.parse` turns into native ones
//!   before they are sent;
//! * a value is in unified terms when it comes from the universal mapping: the
//!   universal mapping's own (its `unified…Value` when set, else its
//!   `…Value`, else its `default…Value`), followed by every copy nobody
//!   customised, or kept unchanged by a copy customised in other respects (a
//!   customer who edited only the export mapping still imports in unified terms);
//! * an integration-level mapping may also name its `unified…Value` explicitly;
//! * anything else — an integration-level mapping's own values, a customer's
//!   edited ones — is in the collection's own terms: it applies to `fields`, and
//!   the instance's `unified…Value` is absent.
//!
//! Where the data source has no `udm` (or the collection does not map it), both
//! unified values are absent and `importValue`/`exportValue` apply as they are.
//! On an instance, the unified values are computed — by setup, and again on every
//! write that can change them — and a value written to them is replaced; a run
//! computes the same values at run time from the mapping as it is then, so an
//! instance that follows its parent never runs with a stale copy. So one
//! universal mapping written against the unified model runs on every connector
//! whose collection maps that model.
//!
//! A value is `…Value` when set, else `default…Value` (the parent's default a copy
//! started from).

use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

use crate::elements::{Elements, InstanceSelector};
use crate::errors::store_error;
use crate::{Caller, Engine};

/// How far a mapping's chain of parents goes (instance → integration → universal).
const MAX_PARENT_STEPS: usize = 3;

/// The direction of a mapping value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Import,
    Export,
}

impl Direction {
    fn value_field(self) -> &'static str {
        match self {
            Direction::Import => "importValue",
            Direction::Export => "exportValue",
        }
    }

    fn default_field(self) -> &'static str {
        match self {
            Direction::Import => "defaultImportValue",
            Direction::Export => "defaultExportValue",
        }
    }

    pub(crate) fn unified_field(self) -> &'static str {
        match self {
            Direction::Import => "unifiedImportValue",
            Direction::Export => "unifiedExportValue",
        }
    }
}

/// The mapping values a run applies: for each direction at most one of the
/// native and the unified value.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MappingValues {
    /// Applies to a record's `fields`.
    pub import: Option<Value>,
    /// Produces the native fields sent.
    pub export: Option<Value>,
    /// Applies to a record's `unifiedFields`.
    pub unified_import: Option<Value>,
    /// Produces unified fields, parsed into native ones before they are sent.
    pub unified_export: Option<Value>,
}

impl MappingValues {
    fn set(&mut self, d: Direction, native: Option<Value>, unified: Option<Value>) {
        match d {
            Direction::Import => (self.import, self.unified_import) = (native, unified),
            Direction::Export => (self.export, self.unified_export) = (native, unified),
        }
    }

    pub(crate) fn unified(&self, d: Direction) -> Option<&Value> {
        match d {
            Direction::Import => self.unified_import.as_ref(),
            Direction::Export => self.unified_export.as_ref(),
        }
    }

    /// An inline `config.fieldMapping` (`importValue`, `exportValue`, and with
    /// `udm` its `unifiedImportValue`/`unifiedExportValue`, which win).
    pub(crate) fn inline(fm: &Map<String, Value>, udm: bool) -> Self {
        let mut v = MappingValues::default();
        for d in [Direction::Import, Direction::Export] {
            let unified = field(fm, d.unified_field()).filter(|_| udm);
            let native = match unified {
                Some(_) => None,
                None => field(fm, d.value_field()),
            };
            v.set(d, native, unified);
        }
        v
    }

    /// Whether an inline `config.fieldMapping` holds any value itself (else it
    /// names a field mapping by `key`).
    pub(crate) fn is_inline(fm: &Map<String, Value>) -> bool {
        [Direction::Import, Direction::Export]
            .iter()
            .any(|d| fm.get(d.value_field()).is_some() || fm.get(d.unified_field()).is_some())
    }
}

fn field(doc: &Map<String, Value>, name: &str) -> Option<Value> {
    doc.get(name).filter(|v| !v.is_null()).cloned()
}

/// A mapping's value in direction `d` (module doc: `…Value`, else `default…Value`).
fn value_of(doc: &Map<String, Value>, d: Direction) -> Option<Value> {
    field(doc, d.value_field()).or_else(|| field(doc, d.default_field()))
}

/// The values that apply to `el` (a field mapping or an instance of one), with
/// `udm` telling whether the records it maps carry unified fields.
pub(crate) async fn values(
    elements: &Elements<'_>,
    el: &Element,
    udm: bool,
) -> Result<MappingValues, ApiError> {
    let source = with_frozen_fields(elements, elements.effective(el).await?).await?;
    let mut v = MappingValues::default();
    let universal = if udm {
        universal_of(elements, el).await?
    } else {
        None
    };
    for d in [Direction::Import, Direction::Export] {
        let native = value_of(&source.doc, d);
        if !udm {
            v.set(d, native, None);
            continue;
        }
        // An integration-level mapping (or the universal one) may say it outright.
        let explicit = (source.element_type == ElementType::FieldMapping)
            .then(|| field(&source.doc, d.unified_field()))
            .flatten();
        let unified = match (explicit, &universal) {
            (Some(x), _) => Some(x),
            (None, Some(u))
                if native.is_some() && (source.id == u.id || native == value_of(&u.doc, d)) =>
            {
                field(&u.doc, d.unified_field()).or_else(|| value_of(&u.doc, d))
            }
            _ => None,
        };
        match unified {
            Some(x) => v.set(d, None, Some(x)),
            None => v.set(d, native, None),
        }
    }
    Ok(v)
}

/// The universal field mapping at the root of `el`'s chain of parents, if it has
/// one that is live.
async fn universal_of(elements: &Elements<'_>, el: &Element) -> Result<Option<Element>, ApiError> {
    let mut current = el.clone();
    for _ in 0..MAX_PARENT_STEPS {
        if current.element_type == ElementType::FieldMapping && current.integration_id.is_none() {
            return Ok(Some(current));
        }
        let Some(parent_id) = current.parent_id.clone() else {
            return Ok(None);
        };
        match elements
            .store
            .element_by_id(&el.workspace_id, &parent_id)
            .await
            .map_err(store_error)?
        {
            Some(p) if !p.is_archived() => current = p,
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// A customer's field mapping instance with the fields its mapping froze
/// (`frozenImportFields`, `frozenExportFields`) taken from the mapping: the
/// customer may change the rest of the mapping, never those. `el` is what
/// applies to the run (`Elements::effective`); anything but a customised
/// instance is returned as it is.
async fn with_frozen_fields(elements: &Elements<'_>, mut el: Element) -> Result<Element, ApiError> {
    let Some(parent_id) = el
        .parent_id
        .clone()
        .filter(|_| el.element_type == ElementType::FieldMappingInstance)
    else {
        return Ok(el);
    };
    let Some(parent) = elements
        .store
        .element_by_id(&el.workspace_id, &parent_id)
        .await
        .map_err(store_error)?
    else {
        return Ok(el);
    };
    let parent = elements.effective(&parent).await?;
    for (frozen, d) in [
        ("frozenImportFields", Direction::Import),
        ("frozenExportFields", Direction::Export),
    ] {
        let Some(Value::Array(fields)) = parent.doc.get(frozen) else {
            continue;
        };
        let theirs = value_of(&parent.doc, d);
        let theirs = theirs.as_ref().and_then(Value::as_object);
        let mine = value_of(&el.doc, d).unwrap_or_else(|| Value::Object(Map::new()));
        let Value::Object(mut mine) = mine else {
            continue;
        };
        for field in fields.iter().filter_map(Value::as_str) {
            match theirs.and_then(|t| t.get(field)) {
                Some(v) => mine.insert(field.to_owned(), v.clone()),
                None => mine.remove(field),
            };
        }
        el.doc.insert(d.value_field().into(), Value::Object(mine));
    }
    Ok(el)
}

/// Stores the unified values `values` computes into an instance's document.
fn store_unified(el: &mut Element, v: &MappingValues) {
    for d in [Direction::Import, Direction::Export] {
        match v.unified(d) {
            Some(x) => el.doc.insert(d.unified_field().into(), x.clone()),
            None => el.doc.remove(d.unified_field()),
        };
    }
}

/// On every write of a field mapping instance that has been set up: its unified
/// values again, against the data source instance setup linked (no call to the
/// external app).
pub(crate) async fn recompute_unified(engine: &Engine, el: &mut Element) -> Result<(), ApiError> {
    if el.element_type != ElementType::FieldMappingInstance {
        return Ok(());
    }
    let Some(dsi) = el.doc_str("dataSourceInstanceId").map(str::to_owned) else {
        return Ok(());
    };
    let elements = engine.elements();
    let udm = elements
        .store
        .element_by_id(&el.workspace_id, &dsi)
        .await
        .map_err(store_error)?
        .is_some_and(|d| crate::data_sources::instance_udm(&d).is_some());
    let v = values(&elements, el, udm).await?;
    store_unified(el, &v);
    Ok(())
}

/// A field mapping instance's `setup`: its data source's instance on the same
/// connection (created when missing, with the same instance key) set up too; the
/// schema of the external records it maps — the collection's fields plus the
/// customer's custom fields, from that instance's `collectionSpec` — as
/// `dataSourceInstanceId` and `dataSourceSchema`; a mapping nobody customised
/// takes its parent's current fields; and the unified values (module doc).
pub(crate) async fn setup_instance(
    engine: &Engine,
    caller: &Caller,
    current: &Element,
) -> Result<Element, ApiError> {
    crate::elements::ensure_editable(current)?;
    let elements = engine.elements();
    let connection = current
        .connection_id
        .clone()
        .ok_or_else(|| ApiError::configuration("The field mapping instance has no connection"))?;
    let source = elements.effective(current).await?;
    let data_source = current
        .doc_str("dataSourceId")
        .or_else(|| source.doc_str("dataSourceId"))
        .map(str::to_owned)
        .ok_or_else(|| ApiError::configuration("The field mapping names no data source"))?;
    let mut selector = InstanceSelector {
        parent: Some(data_source),
        connection_id: Some(connection),
        instance_key: current.instance_key.clone(),
        auto_create: false,
        ..Default::default()
    };
    // An instance made now was set up as it was made; one that exists is set up
    // again.
    let dsi = match elements
        .resolve_instance(caller, ElementType::DataSourceInstance, &selector)
        .await
    {
        Ok(found) => engine.data_sources().setup(caller, &found).await?,
        Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::NOT_FOUND) => {
            selector.auto_create = true;
            elements
                .resolve_instance(caller, ElementType::DataSourceInstance, &selector)
                .await?
        }
        Err(e) => return Err(e),
    };
    let schema = match dsi.doc.get("collectionSpec") {
        Some(spec) => spec
            .get("fieldsSchema")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        None => return Err(setup_error(&dsi)),
    };
    let mut el = current.clone();
    if source.id != el.id {
        for table in source.element_type.spec().fields {
            for f in table.iter() {
                match source.doc.get(f.name) {
                    Some(v) => el.doc.insert(f.name.to_owned(), v.clone()),
                    None => el.doc.remove(f.name),
                };
            }
        }
    }
    el.doc
        .insert("dataSourceInstanceId".into(), Value::String(dsi.id.clone()));
    el.doc.insert("dataSourceSchema".into(), schema);
    let udm = crate::data_sources::instance_udm(&dsi).is_some();
    let v = values(&elements, &el, udm).await?;
    store_unified(&mut el, &v);
    if el.doc == current.doc {
        return Ok(current.clone());
    }
    elements.store_refreshed(current.clone(), el).await
}

/// Why a data source instance's setup found no collection: the error it recorded.
fn setup_error(dsi: &Element) -> ApiError {
    dsi.doc
        .get("errors")
        .and_then(|e| e.get(0))
        .and_then(|e| serde_json::from_value::<ApiError>(e.clone()).ok())
        .unwrap_or_else(|| {
            ApiError::configuration(format!(
                "The data source instance `{}` points at no collection",
                dsi.id
            ))
        })
}
