//! A workspace's elements as files:
//!
//! ```text
//! membrane/
//!   integrations/<integrationKey>/spec.yaml
//!   integrations/<integrationKey>/<type>/<key>/spec.yaml   integration-level elements
//!   <type>/<key>/spec.yaml                                 universal elements
//!   connectors/<uuid>/<uuid>.yml
//!   connectors/<uuid>/<version|development>/src.zip
//! ```
//!
//! `<type>` is the type's API path (`actions`, `flows`, `data-sources`,
//! `field-mappings`, `packages`, `app-data-schemas`, `app-event-types`,
//! `data-link-tables`). Each file holds the element's export properties
//! (api-surface §3.1): its editable fields with references by `uuid`
//! (`integrationUuid`, `parentUuid`, an integration's `connectorUuid`, a field
//! mapping's `dataSourceUuid`, a package's `elements[].uuid`), never by this
//! server's ids, plus `isUniversal` and `isCustomized` — so the files mean the
//! same on any server.
//!
//! Decisions where Membrane's docs are silent:
//! * Left out: archived elements; everything connection-level (customers,
//!   connections, instances, subscriptions), which belongs to the customers of
//!   one server; screens, which the layout has no folder for.
//! * An integration's `parameters` hold its OAuth client; the values of names
//!   that look secret (`clientSecret`, …) are left out unless the export asks for
//!   secrets ([`ExportOptions::include_secrets`]).
//! * A key that is not a safe folder name (empty, `.`, `..`, a `/` or `\`), or
//!   that two elements of one folder share, gives its element a folder named by
//!   its uuid instead.
//! * Every connector is exported as its definition (`<uuid>.yml`), with the
//!   sources stored for it (`connector_sources`): its development source when
//!   one was uploaded, and each published version's. A connector made as JSON
//!   and never given a source has the `.yml` only.
//! * Files are sorted by path and the zip's entries carry no time, so the same
//!   workspace always gives the same bytes.

use std::collections::{BTreeMap, HashMap};

use osmosis_connectors::redact::looks_secret;
use osmosis_model::element_type::Layering;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::ElementQuery;
use serde_json::{json, Map, Value};

use futures::TryStreamExt;

use crate::elements::{copy_type_fields, element_pages};
use crate::errors::store_error;
use crate::{Caller, Engine};

/// The folder every exported path starts with.
pub const ROOT: &str = "membrane";

/// The types exported, in the order an import must create them (what a type
/// refers to comes before it).
pub const EXPORTED_TYPES: [ElementType; 10] = [
    ElementType::Connector,
    ElementType::Integration,
    ElementType::AppDataSchema,
    ElementType::AppEventType,
    ElementType::DataLinkTable,
    ElementType::DataSource,
    ElementType::FieldMapping,
    ElementType::Action,
    ElementType::Flow,
    ElementType::Package,
];

/// Elements read per page while exporting.
const PAGE: i64 = 1000;

/// What an export includes beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportOptions {
    /// Integrations' secret parameters (their OAuth client secrets).
    #[serde(default)]
    pub include_secrets: bool,
}

/// An exported workspace: file contents by path, sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkspaceFiles {
    pub files: BTreeMap<String, Vec<u8>>,
}

impl WorkspaceFiles {
    /// The files as a zip archive, deflated, entries without times.
    pub fn to_zip(&self) -> Result<Vec<u8>, ApiError> {
        crate::zip_files::write_zip(&self.files)
    }
}

impl Engine {
    /// Every exported element of a workspace as files in Membrane's layout.
    pub async fn export_workspace(
        &self,
        workspace_id: &str,
        options: ExportOptions,
    ) -> Result<WorkspaceFiles, ApiError> {
        let mut elements = Vec::new();
        for t in EXPORTED_TYPES {
            elements.extend(self.all_elements(workspace_id, t).await?);
        }
        let refs = Refs::new(self, workspace_id, &elements).await?;
        let mut folders = Folders::default();
        for el in &elements {
            let props = export_properties(el, &refs, options);
            let path = folders.path_of(el, &refs);
            let yaml = serde_yaml::to_string(&Value::Object(props))
                .map_err(|e| ApiError::internal(format!("writing {path}: {e}")))?;
            folders.files.insert(path, yaml.into_bytes());
            if el.element_type == ElementType::Connector {
                for (version, zip) in self.connector_sources(workspace_id, &el.id).await? {
                    folders.files.insert(source_path(&el.uuid, &version), zip);
                }
            }
        }
        Ok(WorkspaceFiles {
            files: folders.files,
        })
    }

    /// One element's export properties (`GET /{elements}/{id}/export`): for an
    /// admin, as `GET /export` (an export shows fields a customer's read leaves
    /// out), secrets when the caller asked for them. An archived element answers
    /// 410, as a workspace export leaves it out.
    pub async fn export_element(
        &self,
        caller: &Caller,
        el: &Element,
    ) -> Result<Map<String, Value>, ApiError> {
        caller.require_admin("exporting an element needs an admin token")?;
        if el.is_archived() {
            return Err(ApiError::bad_request(
                keys::GONE,
                format!(
                    "{} {} is archived: archived elements are not exported",
                    el.element_type.name(),
                    el.id
                ),
            ));
        }
        let options = ExportOptions {
            include_secrets: caller.include_secrets,
        };
        let refs = Refs::new(self, &el.workspace_id, std::slice::from_ref(el)).await?;
        Ok(export_properties(el, &refs, options))
    }

    /// The live elements of one type in a workspace, every page.
    async fn all_elements(
        &self,
        workspace_id: &str,
        t: ElementType,
    ) -> Result<Vec<Element>, ApiError> {
        let mut q = ElementQuery::new(workspace_id, t);
        q.limit = PAGE;
        element_pages(&*self.stores.elements, q).try_concat().await
    }
}

/// The uuid and key of every element the exported ones refer to, by id.
pub(crate) struct Refs {
    by_id: HashMap<String, (String, Option<String>)>,
}

impl Refs {
    /// Indexes `elements`, then reads what they refer to outside them (an
    /// archived parent, an element of a type not exported) by id.
    pub(crate) async fn new(
        engine: &Engine,
        workspace_id: &str,
        elements: &[Element],
    ) -> Result<Self, ApiError> {
        let mut by_id: HashMap<String, (String, Option<String>)> = elements
            .iter()
            .map(|e| (e.id.clone(), (e.uuid.clone(), e.key.clone())))
            .collect();
        let mut missing: Vec<String> = elements
            .iter()
            .flat_map(referenced_ids)
            .filter(|id| !by_id.contains_key(id))
            .collect();
        missing.sort();
        missing.dedup();
        for id in missing {
            let found = engine
                .stores
                .elements
                .element_by_id(workspace_id, &id)
                .await
                .map_err(store_error)?;
            if let Some(e) = found {
                by_id.insert(id, (e.uuid, e.key));
            }
        }
        Ok(Refs { by_id })
    }

    fn uuid(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).map(|(uuid, _)| uuid.as_str())
    }

    fn key(&self, id: &str) -> Option<&str> {
        self.by_id.get(id).and_then(|(_, key)| key.as_deref())
    }
}

/// The ids an element's export replaces with uuids.
fn referenced_ids(el: &Element) -> Vec<String> {
    let mut ids: Vec<String> = [&el.integration_id, &el.parent_id]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    for field in ["connectorId", "dataSourceId"] {
        if let Some(id) = el.doc_str(field) {
            ids.push(id.to_owned());
        }
    }
    if let Some(items) = el.doc.get("elements").and_then(Value::as_array) {
        ids.extend(
            items
                .iter()
                .filter_map(|i| i.get("id")?.as_str().map(str::to_owned)),
        );
    }
    ids
}

/// The element's export properties: editable fields, references by uuid.
pub(crate) fn export_properties(
    el: &Element,
    refs: &Refs,
    options: ExportOptions,
) -> Map<String, Value> {
    let spec = el.element_type.spec();
    let mut m = Map::new();
    m.insert("uuid".into(), json!(el.uuid));
    if let Some(key) = &el.key {
        m.insert("key".into(), json!(key));
    }
    m.insert("name".into(), json!(el.name));
    for f in ["description", "meta"] {
        if let Some(v) = el.doc.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    if spec.layering == Layering::IntegrationLevel {
        m.insert("isUniversal".into(), json!(el.integration_id.is_none()));
    }
    if let Some(uuid) = el.integration_id.as_deref().and_then(|id| refs.uuid(id)) {
        m.insert("integrationUuid".into(), json!(uuid));
    }
    if let Some(pid) = &el.parent_id {
        if let Some(uuid) = refs.uuid(pid) {
            m.insert("parentUuid".into(), json!(uuid));
        }
        m.insert("isCustomized".into(), json!(el.doc_bool("isCustomized")));
    }
    copy_type_fields(el, &mut m);
    if let Some(uuid) = el.doc_str("connectorId").and_then(|id| refs.uuid(id)) {
        m.insert("connectorUuid".into(), json!(uuid));
    }
    if let Some(id) = m.remove("dataSourceId") {
        if let Some(uuid) = id.as_str().and_then(|id| refs.uuid(id)) {
            m.insert("dataSourceUuid".into(), json!(uuid));
        }
    }
    if el.element_type == ElementType::Integration && !options.include_secrets {
        if let Some(Value::Object(params)) = m.get_mut("parameters") {
            params.retain(|name, _| !looks_secret(name));
        }
    }
    if el.element_type == ElementType::Package {
        if let Some(Value::Array(items)) = m.get_mut("elements") {
            for item in items.iter_mut() {
                *item = package_item(item, refs);
            }
        }
    }
    m
}

/// A package's element reference as exported: `{uuid, type}`.
fn package_item(item: &Value, refs: &Refs) -> Value {
    let mut out = Map::new();
    if let Some(uuid) = item
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| refs.uuid(id))
    {
        out.insert("uuid".into(), json!(uuid));
    } else if let Some(uuid) = item.get("uuid") {
        out.insert("uuid".into(), uuid.clone());
    }
    if let Some(t) = item.get("type") {
        out.insert("type".into(), t.clone());
    }
    Value::Object(out)
}

/// Where a connector's stored source of `version` (`development` or a
/// published one) goes: `connectors/<uuid>/<version>/src.zip`.
pub(super) fn source_path(connector_uuid: &str, version: &str) -> String {
    format!("{ROOT}/connectors/{connector_uuid}/{version}/src.zip")
}

/// Paths handed out so far, so no two elements share a folder.
#[derive(Default)]
struct Folders {
    files: BTreeMap<String, Vec<u8>>,
}

impl Folders {
    fn path_of(&self, el: &Element, refs: &Refs) -> String {
        let by_uuid = |dir: &str| format!("{dir}/{}/spec.yaml", el.uuid);
        if el.element_type == ElementType::Connector {
            return format!("{ROOT}/connectors/{0}/{0}.yml", el.uuid);
        }
        let dir = match (el.element_type, &el.integration_id) {
            (ElementType::Integration, _) => format!("{ROOT}/integrations"),
            (t, Some(iid)) => {
                let integration = refs
                    .key(iid)
                    .filter(|k| is_safe_segment(k))
                    .map(str::to_owned)
                    .or_else(|| refs.uuid(iid).map(str::to_owned))
                    .unwrap_or_else(|| iid.clone());
                format!("{ROOT}/integrations/{integration}/{}", t.spec().api_path)
            }
            (t, None) => format!("{ROOT}/{}", t.spec().api_path),
        };
        match el.key.as_deref().filter(|k| is_safe_segment(k)) {
            Some(key) => {
                let path = format!("{dir}/{key}/spec.yaml");
                if self.files.contains_key(&path) {
                    by_uuid(&dir)
                } else {
                    path
                }
            }
            None => by_uuid(&dir),
        }
    }
}

/// A key usable as one folder name on every platform git runs on.
fn is_safe_segment(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && key != ".."
        && !key.contains(['/', '\\', '\0'])
        && key.len() <= 200
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_keys_are_not_folder_names() {
        for key in ["", ".", "..", "a/b", "a\\b", "../x"] {
            assert!(!is_safe_segment(key), "{key:?}");
        }
        for key in ["get-contacts", "a.b", "..x", "Ünïcode"] {
            assert!(is_safe_segment(key), "{key:?}");
        }
    }

    #[test]
    fn the_zip_holds_the_files_and_is_the_same_every_time() {
        let mut files = WorkspaceFiles::default();
        files
            .files
            .insert("membrane/actions/a/spec.yaml".into(), b"key: a\n".to_vec());
        files
            .files
            .insert("membrane/flows/f/spec.yaml".into(), b"key: f\n".to_vec());
        let zip = files.to_zip().unwrap();
        assert_eq!(
            zip,
            files.to_zip().unwrap(),
            "the same files give the same bytes"
        );
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
        let mut names: Vec<String> = archive
            .file_names()
            .map(|n| n.expect("a UTF-8 name").into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["membrane/actions/a/spec.yaml", "membrane/flows/f/spec.yaml"]
        );
        let mut body = String::new();
        std::io::Read::read_to_string(
            &mut archive.by_name("membrane/flows/f/spec.yaml").unwrap(),
            &mut body,
        )
        .unwrap();
        assert_eq!(body, "key: f\n");
    }
}
