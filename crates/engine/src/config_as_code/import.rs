//! Files in Membrane's layout (see [`super::export`]) made the workspace's
//! elements: the way back of an export, from another workspace or another
//! server.
//!
//! How an import goes:
//! 1. Every file is read: its path says the element's type (and, under
//!    `integrations/<key>/`, its integration); paths outside the layout are
//!    listed as ignored, files that do not parse are refused.
//! 2. Each element is matched with the workspace's: by `uuid` (archived ones
//!    included: an import brings them back), else by `key` in its scope (the
//!    universal elements, or its integration's).
//! 3. Without `partial`, the workspace's live elements no file matched are
//!    archived — unless customers use them (an integration with connections, an
//!    element with instances): those are refused unless `force` is given.
//! 4. Every change runs through the element core on a staged engine
//!    ([`super::staged`]), in dependency order (connectors, integrations,
//!    schemas, event types, tables, data sources, field mappings, actions, flows,
//!    packages; universal elements before integration-level ones), so an import
//!    is checked exactly as the same writes through the API would be. A refused
//!    element names its file and field; then nothing is written and every
//!    refusal is answered.
//! 5. What changed is committed in one transaction, or nothing is (a concurrent
//!    write to one of the elements fails the whole import, to be retried). Then
//!    the connectors' sources (`connectors/<folder>/<version>/src.zip`) are
//!    stored, each checked before anything was written as an upload or a
//!    publish would be; a published version never changes, so one that exists
//!    with other contents is refused. The import's job completes only once they
//!    are stored: a crash between retries the job, which then finds the
//!    elements unchanged. Then the hooks a stored write runs (caches, triggers,
//!    a flow's instances) run.
//!
//! Decisions where Membrane's docs are silent:
//! * Files are the whole truth of an element: a field a file leaves out is
//!   removed (as a PUT), except an integration's secret parameters, which an
//!   export without secrets leaves out — those keep their values.
//! * `isCustomized` is taken from the file, so a copy that follows its parent
//!   stays one.
//! * A file's `uuid` is adopted by the element its key matched: the next import
//!   matches it by uuid.
//! * Connection-level elements (customers' connections, instances and their
//!   customised copies) are never touched.
//! * `dryRun` answers the changes without writing; `diff` also gives each
//!   changed field's values before and after, and writes nothing either.
//! * Elements whose content would not change are not written (and counted as
//!   `unchanged`), so importing the same files twice changes nothing the second
//!   time.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use futures::TryStreamExt;
use osmosis_connectors::redact::looks_secret;
use osmosis_model::element_type::Layering;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{
    ConnectorVersion, ElementQuery, ElementStore, RefFilter, StoreError, UniqueField,
};
use serde_json::{json, Map, Value};

use super::export::{export_properties, ExportOptions, Refs, WorkspaceFiles, EXPORTED_TYPES, ROOT};
use super::staged::{StagedElements, StagedRow};
use crate::connector_sources::{check_version, version_row, DEVELOPMENT};
use crate::elements::{element_pages, NewElement, WriteMode};
use crate::errors::store_error;
use crate::zip_files::{read_zip, ZipLimits};
use crate::{Caller, Engine};

/// What an import may do beyond creating and updating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportOptions {
    /// Answer the changes, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// As `dry_run`, with each changed field's values before and after.
    #[serde(default)]
    pub diff: bool,
    /// Leave the workspace's elements the files do not hold as they are, instead
    /// of archiving them.
    #[serde(default)]
    pub partial: bool,
    /// Archive elements customers still use (an integration with connections,
    /// an element with instances).
    #[serde(default)]
    pub force: bool,
}

/// What else an import does: the defaults are a workspace import's; a
/// package install (`crate::public_packages`) runs the same import with its
/// own, so both are checked, staged and committed by one mechanism.
#[derive(Debug, Clone)]
pub(crate) struct ImportMode {
    /// Match the files' elements with the workspace's by key when no uuid
    /// matches. An install does not: the workspace's own element that happens
    /// to have a key the package uses is not the package's, and the install is
    /// refused on the key instead of taking that element over.
    pub match_by_key: bool,
    /// The elements written are read-only, and read-only ones the files match
    /// may be rewritten (the install of a newer version).
    pub read_only: bool,
    /// Elements to archive besides (what a newer version of a package dropped).
    pub archive: Vec<Element>,
    /// Document fields set on the element of a uuid as it is written (where
    /// an installed package came from): one of [`MARKS`].
    pub marks: HashMap<String, Map<String, Value>>,
}

/// The doc field of a package installed from a public package that names
/// where it came from (`crate::public_packages`); never rendered or exported.
pub(crate) const INSTALLED_FROM: &str = "installedFrom";

/// The document fields besides the export properties an import writes and
/// compares: an element differing only in one of them is a change.
const MARKS: [&str; 2] = ["isReadOnly", INSTALLED_FROM];

impl Default for ImportMode {
    fn default() -> Self {
        ImportMode {
            match_by_key: true,
            read_only: false,
            archive: Vec::new(),
            marks: HashMap::new(),
        }
    }
}

/// The most files a zip may hold.
const MAX_FILES: usize = 100_000;
/// The most bytes a zip's files may hold once inflated.
const MAX_INFLATED_BYTES: u64 = 512 * 1024 * 1024;

impl WorkspaceFiles {
    /// The files of a zip as an export writes it (`zip_files::read_zip`: not a
    /// zip, unsafe paths, more than [`MAX_FILES`] files or past
    /// [`MAX_INFLATED_BYTES`] are refused); entries outside `membrane/` are
    /// skipped.
    pub fn from_zip(bytes: &[u8]) -> Result<Self, ApiError> {
        let limits = ZipLimits {
            what: "a workspace import",
            entries: MAX_FILES,
            inflated_bytes: MAX_INFLATED_BYTES,
            path_chars: 1_000,
        };
        let mut files = read_zip(bytes, limits)?;
        files.retain(|name, _| name.starts_with(&format!("{ROOT}/")));
        Ok(WorkspaceFiles { files })
    }
}

/// One element file, read.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    element_type: ElementType,
    /// `integrations/<folder>/…`: the folder of the integration it belongs to.
    integration_folder: Option<String>,
    props: Map<String, Value>,
}

impl Entry {
    fn uuid(&self) -> Option<&str> {
        self.props.get("uuid").and_then(Value::as_str)
    }

    fn key(&self) -> Option<&str> {
        self.props.get("key").and_then(Value::as_str)
    }

    fn ref_uuid(&self, field: &str) -> Option<&str> {
        self.props.get(field).and_then(Value::as_str)
    }

    /// Where it goes in dependency order: by type, universal before
    /// integration-level (a copy refers to its universal parent).
    fn order(&self) -> (usize, bool) {
        let t = EXPORTED_TYPES
            .iter()
            .position(|t| *t == self.element_type)
            .unwrap_or(EXPORTED_TYPES.len());
        (
            t,
            self.integration_folder.is_some() || self.props.contains_key("integrationUuid"),
        )
    }
}

/// An element the import could not take, and why.
#[derive(Debug, Clone)]
struct Refusal {
    path: Option<String>,
    element_type: ElementType,
    key: Option<String>,
    uuid: Option<String>,
    error: ApiError,
}

impl Refusal {
    fn of(entry: &Entry, error: ApiError) -> Self {
        Refusal {
            path: Some(entry.path.clone()),
            element_type: entry.element_type,
            key: entry.key().map(str::to_owned),
            uuid: entry.uuid().map(str::to_owned),
            error,
        }
    }

    /// A refusal of a stored element no file names (one to archive).
    fn of_element(el: &Element, error: ApiError) -> Self {
        Refusal {
            path: None,
            element_type: el.element_type,
            key: el.key.clone(),
            uuid: Some(el.uuid.clone()),
            error,
        }
    }

    fn render(&self) -> Value {
        let mut out = json!({
            "type": self.element_type.name(),
            "error": serde_json::to_value(&self.error).unwrap_or(Value::Null),
        });
        for (field, value) in [
            ("path", &self.path),
            ("key", &self.key),
            ("uuid", &self.uuid),
        ] {
            if let Some(v) = value {
                out[field] = json!(v);
            }
        }
        out
    }

    fn describe(&self) -> String {
        let what = self
            .path
            .clone()
            .or_else(|| {
                self.key
                    .as_ref()
                    .map(|k| format!("{} `{k}`", self.element_type.name()))
            })
            .unwrap_or_else(|| self.element_type.name().to_owned());
        format!("{what}: {}", self.error.message)
    }
}

/// A connector's source in the files: `connectors/<folder>/<version>/src.zip`.
#[derive(Debug, Clone)]
struct SourceEntry {
    path: String,
    /// The connector's folder (its `.yml` is `connectors/<folder>/<folder>.yml`).
    folder: String,
    version: String,
    bytes: Vec<u8>,
}

/// The files, read.
struct ReadFiles {
    /// The element files, in dependency order.
    entries: Vec<Entry>,
    sources: Vec<SourceEntry>,
    /// Paths outside the layout.
    ignored: Vec<String>,
    /// Files that do not parse.
    refused: Vec<Refusal>,
}

/// Reads every file.
fn read_entries(files: &WorkspaceFiles) -> ReadFiles {
    let mut read = ReadFiles {
        entries: Vec::new(),
        sources: Vec::new(),
        ignored: Vec::new(),
        refused: Vec::new(),
    };
    for (path, bytes) in &files.files {
        if let Some((folder, version)) = source_of(path) {
            read.sources.push(SourceEntry {
                path: path.clone(),
                folder,
                version,
                bytes: bytes.clone(),
            });
            continue;
        }
        let Some((element_type, integration_folder)) = place_of(path) else {
            read.ignored.push(path.clone());
            continue;
        };
        let parsed = std::str::from_utf8(bytes)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_yaml::from_str::<Value>(text).map_err(|e| e.to_string()));
        let fail = |message: String| Refusal {
            path: Some(path.clone()),
            element_type,
            key: None,
            uuid: None,
            error: ApiError::bad_request(keys::INVALID_BODY, message),
        };
        match parsed {
            Ok(Value::Object(props)) => read.entries.push(Entry {
                path: path.clone(),
                element_type,
                integration_folder,
                props,
            }),
            Ok(other) => read.refused.push(fail(format!(
                "expected a mapping of the element's properties, got {}",
                osmosis_model::fields::json_type_name(&other)
            ))),
            Err(e) => read.refused.push(fail(format!("is not YAML: {e}"))),
        }
    }
    read.entries.sort_by_key(Entry::order);
    read
}

/// The connector folder and version of a source's path.
fn source_of(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix(ROOT)?.strip_prefix('/')?;
    match rest.split('/').collect::<Vec<_>>().as_slice() {
        ["connectors", folder, version, "src.zip"] => {
            Some(((*folder).to_owned(), (*version).to_owned()))
        }
        _ => None,
    }
}

/// A connector source the import writes.
struct PlannedSource {
    row: ConnectorVersion,
    bytes: Vec<u8>,
    path: String,
    change: &'static str,
}

impl PlannedSource {
    fn render(&self) -> Value {
        json!({
            "change": self.change,
            "type": "connector-version",
            "connectorId": self.row.connector_id,
            "version": self.row.version,
            "path": self.path,
        })
    }
}

/// The element type a path holds, and the integration folder it is under.
fn place_of(path: &str) -> Option<(ElementType, Option<String>)> {
    let rest = path.strip_prefix(ROOT)?.strip_prefix('/')?;
    let parts: Vec<&str> = rest.split('/').collect();
    let of_path = |api_path: &str| {
        EXPORTED_TYPES
            .into_iter()
            .find(|t| t.spec().api_path == api_path && *t != ElementType::Connector)
    };
    let spec = |name: &str| name == "spec.yaml" || name == "spec.yml";
    match parts.as_slice() {
        ["connectors", folder, file]
            if *file == format!("{folder}.yml") || *file == format!("{folder}.yaml") =>
        {
            Some((ElementType::Connector, None))
        }
        ["integrations", _, file] if spec(file) => Some((ElementType::Integration, None)),
        ["integrations", integration, api_path, _, file] if spec(file) => of_path(api_path)
            .filter(|t| t.spec().layering == Layering::IntegrationLevel)
            .map(|t| (t, Some((*integration).to_owned()))),
        [api_path, _, file] if spec(file) && *api_path != "integrations" => {
            of_path(api_path).map(|t| (t, None))
        }
        _ => None,
    }
}

/// One change an import makes (or would).
struct Change<'a> {
    row: &'a StagedRow,
    kind: &'static str,
    /// The export properties that differ.
    fields: Vec<String>,
    /// The element's export properties before and after.
    before: Map<String, Value>,
    after: Map<String, Value>,
}

/// How a staged row changes its stored element; `None` when it does not: its
/// export properties (what its file holds) and its state are the same.
fn change_of<'a>(row: &'a StagedRow, refs: &Refs) -> Option<Change<'a>> {
    let props = |e: &Element| {
        let mut m = export_properties(
            e,
            refs,
            ExportOptions {
                include_secrets: true,
            },
        );
        m.insert("state".into(), json!(e.state.as_str()));
        for mark in MARKS {
            if let Some(v) = e.doc.get(mark) {
                m.insert(mark.into(), v.clone());
            }
        }
        m
    };
    let after = props(&row.element);
    let Some(stored) = &row.before else {
        return Some(Change {
            row,
            kind: "create",
            fields: Vec::new(),
            before: Map::new(),
            after,
        });
    };
    let kind = match (stored.is_archived(), row.element.is_archived()) {
        (false, true) => "archive",
        (true, false) => "restore",
        _ => "update",
    };
    let before = props(stored);
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let fields: Vec<String> = names
        .into_iter()
        .filter(|n| before.get(*n) != after.get(*n))
        .cloned()
        .collect();
    if fields.is_empty() && kind == "update" {
        return None;
    }
    Some(Change {
        row,
        kind,
        fields,
        before,
        after,
    })
}

impl Change<'_> {
    fn render(&self, path: Option<&String>, with_values: bool) -> Value {
        let el = &self.row.element;
        let mut out = json!({
            "change": self.kind,
            "type": el.element_type.name(),
            "id": el.id,
            "uuid": el.uuid,
            "name": el.name,
        });
        if let Some(key) = &el.key {
            out["key"] = json!(key);
        }
        if let Some(path) = path {
            out["path"] = json!(path);
        }
        if !self.fields.is_empty() {
            out["fields"] = json!(self.fields);
        }
        if with_values && self.kind == "update" {
            let value = |m: &Map<String, Value>, f: &str| m.get(f).cloned().unwrap_or(Value::Null);
            let diff: Map<String, Value> = self
                .fields
                .iter()
                .map(|f| {
                    let change =
                        json!({"before": value(&self.before, f), "after": value(&self.after, f)});
                    (f.clone(), change)
                })
                .collect();
            out["diff"] = Value::Object(diff);
        }
        out
    }
}

impl Engine {
    /// Imports `files` into the workspace (see the module doc); answers the
    /// changes made (or, with `dry_run`/`diff`, that would be).
    pub async fn import_workspace(
        &self,
        workspace_id: &str,
        files: &WorkspaceFiles,
        options: ImportOptions,
    ) -> Result<Value, ApiError> {
        self.import_files(workspace_id, files, options, &ImportMode::default())
            .await
    }

    /// [`Engine::import_workspace`], in `mode`.
    pub(crate) async fn import_files(
        &self,
        workspace_id: &str,
        files: &WorkspaceFiles,
        options: ImportOptions,
        mode: &ImportMode,
    ) -> Result<Value, ApiError> {
        let workspace =
            crate::workspaces::workspace_by_id(&*self.stores.workspaces, workspace_id).await?;
        let caller = Caller::admin(workspace);
        let ReadFiles {
            entries,
            sources,
            ignored,
            mut refused,
        } = read_entries(files);
        let existing = self.importable_elements(workspace_id).await?;
        let matched = match_entries(&entries, &existing, mode.match_by_key);

        let staged = Arc::new(StagedElements::with_snapshot(
            Arc::clone(&self.stores.elements),
            self.element_hooks,
            &EXPORTED_TYPES,
            &existing,
        ));
        let mut stage = self.clone();
        stage.stores.elements = Arc::clone(&staged) as Arc<dyn osmosis_store::ElementStore>;
        stage.staging = true;
        let elements = stage.elements();

        if !options.partial {
            let kept: HashSet<&str> = matched.iter().flatten().map(|e| e.id.as_str()).collect();
            for el in existing
                .iter()
                .filter(|e| !e.is_archived() && !kept.contains(e.id.as_str()))
            {
                let archived = async {
                    if !options.force {
                        self.refuse_if_in_use(el).await?;
                    }
                    elements.set_archived(&caller, el.clone(), true).await
                }
                .await;
                if let Err(error) = archived {
                    refused.push(Refusal::of_element(el, error));
                }
            }
        }

        for el in &mode.archive {
            let archived = async {
                let el = writable(&elements, el).await?;
                let el = elements.set_archived(&caller, el, true).await?;
                seal(&elements, el, true, None).await
            }
            .await;
            if let Err(error) = archived {
                refused.push(Refusal::of_element(el, error));
            }
        }

        let folders = integration_folders(&entries);
        let mut paths: HashMap<String, String> = HashMap::new();
        for (entry, target) in entries.iter().zip(&matched) {
            let body = body_of(entry, target.as_ref(), &folders);
            let written = async {
                let mut was_read_only = false;
                let el = match target {
                    None => {
                        elements
                            .create(&caller, entry.element_type, NewElement::from_body(body))
                            .await?
                    }
                    Some(current) => {
                        was_read_only = current.doc_bool("isReadOnly");
                        let mut current = writable(&elements, current).await?;
                        if current.is_archived() {
                            current = elements.set_archived(&caller, current, false).await?;
                        }
                        elements
                            .write_existing(&caller, current, body, WriteMode::Put)
                            .await?
                    }
                };
                let el = match entry.props.get("isCustomized").and_then(Value::as_bool) {
                    Some(customized)
                        if el.parent_id.is_some() && el.doc_bool("isCustomized") != customized =>
                    {
                        elements
                            .update_with(&el, |e| {
                                e.doc.insert("isCustomized".into(), json!(customized));
                                Ok(true)
                            })
                            .await?
                    }
                    _ => el,
                };
                let marks = mode.marks.get(&el.uuid);
                seal(&elements, el, mode.read_only || was_read_only, marks).await
            }
            .await;
            match written {
                Ok(el) => {
                    paths.insert(el.id.clone(), entry.path.clone());
                }
                Err(error) => refused.push(Refusal::of(entry, error)),
            }
        }
        let (planned_sources, unchanged_sources) = self
            .plan_sources(
                workspace_id,
                &staged,
                &entries,
                &paths,
                &sources,
                &mut refused,
            )
            .await?;

        if !refused.is_empty() {
            return Err(refused_error(&refused));
        }

        let rows = staged.rows();
        let touched: Vec<Element> = rows
            .iter()
            .flat_map(|r| r.before.iter().chain(std::iter::once(&r.element)))
            .cloned()
            .collect();
        let refs = Refs::new(&stage, workspace_id, &touched).await?;
        let changes: Vec<Change> = rows.iter().filter_map(|r| change_of(r, &refs)).collect();
        if !mode.read_only {
            let refused = refuse_read_only(&changes, &paths);
            if !refused.is_empty() {
                return Err(refused_error(&refused));
            }
        }
        let unchanged = entries.len()
            - changes
                .iter()
                .filter(|c| paths.contains_key(&c.row.element.id))
                .count();
        let report = json!({
            "dryRun": options.dry_run || options.diff,
            "changes": changes
                .iter()
                .map(|c| c.render(paths.get(&c.row.element.id), options.diff))
                .chain(planned_sources.iter().map(PlannedSource::render))
                .collect::<Vec<_>>(),
            "unchanged": unchanged + unchanged_sources,
            "ignored": ignored,
        });
        if options.dry_run || options.diff || (changes.is_empty() && planned_sources.is_empty()) {
            return Ok(report);
        }
        let writes: Vec<osmosis_store::ElementWrite> = changes
            .iter()
            .map(|c| osmosis_store::ElementWrite {
                element: c.row.element.clone(),
                key_scope: c.row.key_scope.clone(),
                expected_revision: c.row.stored_revision.clone(),
            })
            .collect();
        self.stores
            .elements
            .write_elements(&writes)
            .await
            .map_err(|failed| {
                let named = failed
                    .index
                    .and_then(|i| writes.get(i))
                    .map(|w| {
                        let el = &w.element;
                        paths.get(&el.id).cloned().unwrap_or_else(|| {
                            format!("{} `{}`", el.element_type.name(), el.key.clone().unwrap_or_else(|| el.id.clone()))
                        })
                    })
                    .unwrap_or_else(|| "the import".to_owned());
                match failed.error {
                    StoreError::RevisionConflict | StoreError::Unique(UniqueField::Key | UniqueField::Uuid | UniqueField::Id) => {
                        ApiError::new(
                            osmosis_model::ErrorType::Concurrency,
                            Some(keys::STALE_REVISION),
                            format!("{named} was changed while the import ran; nothing was imported, retry"),
                        )
                    }
                    other => store_error(other),
                }
            })?;
        // The sources after the elements they belong to: should this fail, the
        // job is retried, and the elements are then unchanged.
        let store = &self.stores.connector_versions;
        for source in &planned_sources {
            if source.row.version == DEVELOPMENT {
                store
                    .upsert_connector_version(&source.row, &source.bytes)
                    .await
            } else {
                store
                    .insert_connector_version(&source.row, &source.bytes)
                    .await
                    .map(|_| ())
            }
            .map_err(store_error)?;
        }
        self.after_import(&changes).await;
        Ok(report)
    }

    /// What the files' connector sources change: each checked as an upload or
    /// a publish would be (the zip assembles to a valid definition), a
    /// published version that exists with other contents refused (published
    /// versions never change), one with the same contents unchanged. Versions
    /// the files do not hold are kept: an import never deletes a source.
    async fn plan_sources(
        &self,
        workspace_id: &str,
        staged: &StagedElements,
        entries: &[Entry],
        paths: &HashMap<String, String>,
        sources: &[SourceEntry],
        refused: &mut Vec<Refusal>,
    ) -> Result<(Vec<PlannedSource>, usize), ApiError> {
        let connector_ids: HashMap<&str, &str> = paths
            .iter()
            .map(|(id, path)| (path.as_str(), id.as_str()))
            .collect();
        let mut planned = Vec::new();
        let mut unchanged = 0;
        for source in sources {
            let refuse = |error: ApiError| Refusal {
                path: Some(source.path.clone()),
                element_type: ElementType::Connector,
                key: None,
                uuid: None,
                error,
            };
            let Some(file) = entries.iter().find(|e| {
                e.element_type == ElementType::Connector
                    && e.path.split('/').nth(2) == Some(source.folder.as_str())
            }) else {
                refused.push(refuse(ApiError::invalid_field(
                    "file",
                    format!(
                        "a connector source needs its connector beside it: no `{ROOT}/connectors/{0}/{0}.yml`",
                        source.folder
                    ),
                )));
                continue;
            };
            // A connector file refused already says why.
            let Some(id) = connector_ids.get(file.path.as_str()) else {
                continue;
            };
            if source.version != DEVELOPMENT {
                if let Err(e) = check_version(&source.version) {
                    refused.push(refuse(e));
                    continue;
                }
            }
            let connector = staged
                .element_by_id(workspace_id, id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| ApiError::internal(format!("the staged connector {id} is gone")))?;
            let row = match version_row(
                &connector,
                &source.version,
                &source.bytes,
                Some("Imported".into()),
            ) {
                Ok(row) => row,
                Err(e) => {
                    refused.push(refuse(e));
                    continue;
                }
            };
            let stored = self
                .stores
                .connector_versions
                .connector_version_source(workspace_id, &connector.id, &source.version)
                .await
                .map_err(store_error)?;
            let change = match stored {
                Some(bytes) if bytes == source.bytes => {
                    unchanged += 1;
                    continue;
                }
                Some(_) if source.version != DEVELOPMENT => {
                    refused.push(refuse(ApiError::already_exists(format!(
                        "the connector already has version `{}` with other contents; published versions cannot change, publish another",
                        source.version
                    ))));
                    continue;
                }
                Some(_) => "update",
                None => "create",
            };
            planned.push(PlannedSource {
                row,
                bytes: source.bytes.clone(),
                path: source.path.clone(),
                change,
            });
        }
        Ok((planned, unchanged))
    }

    /// What a stored write runs, for each element the import committed.
    async fn after_import(&self, changes: &[Change<'_>]) {
        let elements = self.elements();
        for c in changes {
            let el = &c.row.element;
            let hooks = elements.hooks(el.element_type);
            match &c.row.before {
                None => hooks.after_insert(self, el).await,
                Some(before) => {
                    hooks.after_write(self, before, el);
                    if c.kind == "archive" {
                        hooks.after_archive(self, el).await;
                    }
                }
            }
            if el.element_type == ElementType::Flow && c.kind != "archive" && c.row.before.is_some()
            {
                // A flow that now makes its instances itself: made for every
                // connection, as the API's write of the flow does.
                self.flow_inserted(el).await;
            }
        }
    }

    /// The workspace's elements an import may match, change or archive: every
    /// element of the exported types, archived ones included.
    async fn importable_elements(&self, workspace_id: &str) -> Result<Vec<Element>, ApiError> {
        let mut out = Vec::new();
        for t in EXPORTED_TYPES {
            let mut q = ElementQuery::new(workspace_id, t);
            q.include_archived = true;
            q.limit = 1000;
            out.extend(
                element_pages(&*self.stores.elements, q)
                    .try_concat()
                    .await?,
            );
        }
        Ok(out)
    }

    /// Refuses to archive what customers use: an integration with a live
    /// connection, an element with a live instance.
    async fn refuse_if_in_use(&self, el: &Element) -> Result<(), ApiError> {
        let dependents: Vec<(ElementType, bool)> = if el.element_type == ElementType::Integration {
            vec![(ElementType::Connection, true)]
        } else {
            ElementType::ALL
                .into_iter()
                .filter(|t| t.spec().layering == Layering::Instance(el.element_type))
                .map(|t| (t, false))
                .collect()
        };
        for (t, by_integration) in dependents {
            let mut q = ElementQuery::new(&el.workspace_id, t);
            if by_integration {
                q.integration = RefFilter::Is(el.id.clone());
            } else {
                q.parent = RefFilter::Is(el.id.clone());
            }
            if self
                .stores
                .elements
                .first_element(q)
                .await
                .map_err(store_error)?
                .is_some()
            {
                return Err(ApiError::bad_request(
                    keys::IN_USE,
                    format!(
                        "{} `{}` is not in the files, but customers use it (it has a live {}); import with force=true to archive it anyway, or partial=true to keep it",
                        el.element_type.name(),
                        el.key.clone().unwrap_or_else(|| el.id.clone()),
                        t.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// For each entry, the workspace element it updates: the one with its uuid,
/// else the one with its key in its scope.
/// A matched element as the staged engine may write it: a read-only one made
/// writable ([`seal`] makes it read-only again before anything is committed,
/// and a workspace import refuses to change it: see `refuse_read_only`).
async fn writable(
    elements: &crate::elements::Elements<'_>,
    el: &Element,
) -> Result<Element, ApiError> {
    if !el.doc_bool("isReadOnly") {
        return Ok(el.clone());
    }
    elements
        .update_with(el, |e| Ok(e.doc.remove("isReadOnly").is_some()))
        .await
}

/// A written element, read-only again (or for the first time) when
/// `read_only`, with `marks` set.
async fn seal(
    elements: &crate::elements::Elements<'_>,
    el: Element,
    read_only: bool,
    marks: Option<&Map<String, Value>>,
) -> Result<Element, ApiError> {
    let needed = (read_only && !el.doc_bool("isReadOnly"))
        || marks.is_some_and(|m| m.iter().any(|(k, v)| el.doc.get(k) != Some(v)));
    if !needed {
        return Ok(el);
    }
    elements
        .update_with(&el, |e| {
            if read_only {
                e.doc.insert("isReadOnly".into(), json!(true));
            }
            for (k, v) in marks.into_iter().flatten() {
                e.doc.insert(k.clone(), v.clone());
            }
            Ok(true)
        })
        .await
}

/// The refusal of the whole import, naming the first few refused elements.
fn refused_error(refused: &[Refusal]) -> ApiError {
    let list: Vec<String> = refused.iter().take(5).map(Refusal::describe).collect();
    let more = refused.len().saturating_sub(5);
    let message = format!(
        "The import was refused, nothing changed: {}{}",
        list.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    let data: Vec<Value> = refused.iter().map(Refusal::render).collect();
    ApiError::bad_request(keys::IMPORT_REFUSED, message).with_data(json!({ "refused": data }))
}

/// Changes a workspace import would make to read-only elements (those a
/// package install made): refused, as the same write through the API is —
/// the package's upgrade changes them. Unchanged ones pass, so a workspace
/// that installed packages imports its own export.
fn refuse_read_only(changes: &[Change<'_>], paths: &HashMap<String, String>) -> Vec<Refusal> {
    changes
        .iter()
        .filter_map(|c| {
            let before = c.row.before.as_ref()?;
            if !before.doc_bool("isReadOnly") {
                return None;
            }
            let el = &c.row.element;
            Some(Refusal {
                path: paths.get(&el.id).cloned(),
                element_type: el.element_type,
                key: el.key.clone(),
                uuid: Some(el.uuid.clone()),
                error: crate::elements::read_only(before),
            })
        })
        .collect()
}

fn match_entries(
    entries: &[Entry],
    existing: &[Element],
    match_by_key: bool,
) -> Vec<Option<Element>> {
    let by_uuid: HashMap<(ElementType, &str), &Element> = existing
        .iter()
        .map(|e| ((e.element_type, e.uuid.as_str()), e))
        .collect();
    // Live elements first: of an archived and a live one with one key, the live
    // one is what the key names.
    let mut by_key: HashMap<(ElementType, Option<&str>, &str), &Element> = HashMap::new();
    for e in existing
        .iter()
        .filter(|e| e.is_archived())
        .chain(existing.iter().filter(|e| !e.is_archived()))
    {
        if let Some(key) = &e.key {
            by_key.insert(
                (e.element_type, e.integration_id.as_deref(), key.as_str()),
                e,
            );
        }
    }
    // The integration each entry's integration uuid (or folder) names here.
    let mut integration_ids: HashMap<&str, Option<String>> = HashMap::new();
    let mut matched: Vec<Option<Element>> = Vec::with_capacity(entries.len());
    let mut taken: HashSet<String> = HashSet::new();
    for entry in entries {
        let integration = if entry.element_type == ElementType::Integration {
            None
        } else {
            entry
                .ref_uuid("integrationUuid")
                .and_then(|u| {
                    integration_ids.get(u).cloned().flatten().or_else(|| {
                        by_uuid
                            .get(&(ElementType::Integration, u))
                            .map(|e| e.id.clone())
                    })
                })
                .or_else(|| {
                    let folder = entry.integration_folder.as_deref()?;
                    by_key
                        .get(&(ElementType::Integration, None, folder))
                        .map(|e| e.id.clone())
                })
        };
        if (entry.ref_uuid("integrationUuid").is_some() || entry.integration_folder.is_some())
            && integration.is_none()
            && entry.element_type != ElementType::Integration
        {
            // Its integration is new here: so is it.
            matched.push(None);
            continue;
        }
        let found = entry
            .uuid()
            .and_then(|u| by_uuid.get(&(entry.element_type, u)))
            .or_else(|| {
                let key = entry.key().filter(|_| match_by_key)?;
                by_key.get(&(entry.element_type, integration.as_deref(), key))
            })
            .filter(|e| !taken.contains(&e.id))
            .map(|e| (*e).clone());
        if let Some(e) = &found {
            taken.insert(e.id.clone());
            if entry.element_type == ElementType::Integration {
                if let Some(u) = entry.uuid() {
                    integration_ids.insert(u, Some(e.id.clone()));
                }
            }
        }
        matched.push(found);
    }
    matched
}

/// Integration uuids by the folder their file is in.
fn integration_folders(entries: &[Entry]) -> HashMap<String, String> {
    entries
        .iter()
        .filter(|e| e.element_type == ElementType::Integration)
        .filter_map(|e| {
            let folder = e.path.split('/').nth(2)?;
            Some((folder.to_owned(), e.uuid()?.to_owned()))
        })
        .collect()
}

/// The write an entry makes: its properties, with its integration named by the
/// folder when the file does not name it, and the secret parameters a file
/// without secrets left out kept from the element it updates.
fn body_of(
    entry: &Entry,
    target: Option<&Element>,
    folders: &HashMap<String, String>,
) -> Map<String, Value> {
    let mut body = entry.props.clone();
    body.remove("isCustomized");
    if let Some(folder) = &entry.integration_folder {
        if !body.contains_key("integrationUuid") {
            match folders.get(folder) {
                Some(uuid) => body.insert("integrationUuid".into(), json!(uuid)),
                None => body.insert("integrationKey".into(), json!(folder)),
            };
        }
    }
    if entry.element_type == ElementType::Integration {
        if let Some(Value::Object(stored)) = target.and_then(|t| t.doc.get("parameters")) {
            let secrets: Vec<(String, Value)> = stored
                .iter()
                .filter(|(name, _)| looks_secret(name))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            if !secrets.is_empty() {
                let params = body
                    .entry("parameters")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(params) = params {
                    for (name, value) in secrets {
                        params.entry(name).or_insert(value);
                    }
                }
            }
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_say_the_type_and_integration() {
        assert_eq!(
            place_of("membrane/actions/sync/spec.yaml"),
            Some((ElementType::Action, None))
        );
        assert_eq!(
            place_of("membrane/integrations/crm/spec.yaml"),
            Some((ElementType::Integration, None))
        );
        assert_eq!(
            place_of("membrane/integrations/crm/flows/f/spec.yaml"),
            Some((ElementType::Flow, Some("crm".into())))
        );
        assert_eq!(
            place_of("membrane/connectors/u1/u1.yml"),
            Some((ElementType::Connector, None))
        );
        assert_eq!(
            source_of("membrane/connectors/u1/development/src.zip"),
            Some(("u1".into(), "development".into()))
        );
        assert_eq!(
            source_of("membrane/connectors/u1/1.0.0/src.zip"),
            Some(("u1".into(), "1.0.0".into()))
        );
        assert_eq!(source_of("membrane/connectors/u1/u1.yml"), None);
        for ignored in [
            "membrane/connectors/u1/development/src.zip",
            "membrane/customers/c/spec.yaml",
            "membrane/integrations/crm/app-data-schemas/s/spec.yaml",
            "membrane/actions/sync/other.yaml",
            "other/actions/a/spec.yaml",
            "membrane/integrations/spec.yaml",
        ] {
            assert_eq!(place_of(ignored), None, "{ignored}");
        }
    }

    #[test]
    fn zips_are_read_within_limits() {
        let mut files = WorkspaceFiles::default();
        files
            .files
            .insert("membrane/actions/a/spec.yaml".into(), b"key: a\n".to_vec());
        let zip = files.to_zip().unwrap();
        assert_eq!(WorkspaceFiles::from_zip(&zip).unwrap(), files);
        let err = WorkspaceFiles::from_zip(b"not a zip").unwrap_err();
        assert_eq!(err.key.as_deref(), Some(keys::INVALID_FIELD));
    }
}
