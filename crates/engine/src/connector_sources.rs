//! Connector sources and versions, as Membrane's CLI uses them: a connector's
//! source is its folder in the Membrane layout (`<key>.yaml`, `data/<collection>/
//! spec.yml`, `*.map.yml`, …; see `osmosis_connectors::definition`), carried as a
//! zip. The `development` version is the working source: uploading a zip, or
//! changing one of its files, stores it and makes the connector element's
//! definition the one it assembles to. Publishing a version snapshots a source
//! and its definition, once: versions are immutable.
//!
//! Decisions where Membrane's docs are silent:
//! * A zip holds the folder's files at its root or inside one top folder; both
//!   read the same. Folders, and macOS's `__MACOSX/` metadata, are skipped;
//!   an entry with an absolute path or `..` refuses the whole zip, as do more
//!   than [`MAX_ENTRIES`] entries or more than [`MAX_INFLATED_BYTES`] inflated.
//! * The development source is stored before the definition is written, and put
//!   back as it was when that write fails, so an upload either changes both or
//!   neither (on this node: its writes of one connector's source are serialised;
//!   two nodes racing may leave the later source beside the other's definition).
//! * A connector that has no stored source (made through the API as JSON) has
//!   one built from its definition: the definition as `<key>.yaml`, alone. Every
//!   function and collection can sit inline in that file, so this is the
//!   smallest faithful layout; it is checked to assemble back to the same
//!   definition (for every shipped connector by a test, and each time one is built).
//! * The uploaded definition's `key` is ignored: the connector keeps its id, uuid
//!   and key, as a PUT does.
//! * This module reaches the element core only through its public writes; the
//!   core never calls it.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use osmosis_connectors::definition::{assemble_from, Connector, FileList};
use osmosis_model::error::keys;
use osmosis_model::{ids, ApiError, Element};
use osmosis_store::ConnectorVersion;
use serde_json::{json, Map, Value};

use crate::clock::{iso_of_ms, now_ms};
use crate::elements::copy_type_fields;
use crate::errors::store_error;
use crate::zip_files::{read_zip, write_zip, ZipLimits};
use crate::{Caller, Engine};

/// The working version of a connector's source.
pub const DEVELOPMENT: &str = "development";
/// The most entries a source zip may hold.
pub const MAX_ENTRIES: usize = 5_000;
/// The most bytes a source zip's files may hold once inflated.
pub const MAX_INFLATED_BYTES: u64 = 20 * 1024 * 1024;
/// The longest file path of a source.
pub const MAX_PATH_CHARS: usize = 500;
/// The longest version name.
pub const MAX_VERSION_CHARS: usize = 100;

/// What a route needs to say about a caller that is not an admin.
const ADMIN_ONLY: &str = "managing connector sources needs an admin token";

/// A source folder's files, by `/`-separated path relative to the folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceFiles {
    pub files: BTreeMap<String, Vec<u8>>,
}

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::invalid_field("file", message.into())
}

impl SourceFiles {
    /// The files of a source zip, from its root or its one top folder. Refuses
    /// what is not a zip, unsafe paths and zips past the limits.
    pub fn from_zip(bytes: &[u8]) -> Result<Self, ApiError> {
        let limits = ZipLimits {
            what: "a connector source",
            entries: MAX_ENTRIES,
            inflated_bytes: MAX_INFLATED_BYTES,
            path_chars: MAX_PATH_CHARS,
        };
        let mut files = read_zip(bytes, limits)?;
        files.retain(|name, _| !name.starts_with("__MACOSX/"));
        if files.is_empty() {
            return Err(bad_file("holds no files"));
        }
        Ok(SourceFiles {
            files: strip_top_folder(files),
        })
    }

    /// The files as a zip archive at its root (the same files always give the
    /// same bytes).
    pub fn to_zip(&self) -> Result<Vec<u8>, ApiError> {
        write_zip(&self.files)
    }

    /// The definition the files assemble to, validated. `key` is the
    /// connector's: its `<key>.yaml` is the connector file when there is one
    /// (else the folder's one `.yaml`).
    pub fn assemble(&self, key: Option<&str>) -> Result<Map<String, Value>, ApiError> {
        if !self.files.keys().any(|p| is_root_yaml(p)) {
            return Err(bad_file(format!(
                "holds no connector file: expected `{}.yaml` at the root of the zip or of its one top folder",
                key.unwrap_or("<key>")
            )));
        }
        let folder = key
            .filter(|k| is_safe_segment(k))
            .filter(|k| {
                self.files.contains_key(&format!("{k}.yaml"))
                    || self.files.contains_key(&format!("{k}.yml"))
            })
            .unwrap_or("connector");
        // The assembly reads text; other files (images) are no part of it.
        let text: Vec<(String, &str)> = self
            .files
            .iter()
            .filter_map(|(path, bytes)| {
                let text = std::str::from_utf8(bytes).ok()?;
                Some((format!("{folder}/{path}"), text))
            })
            .collect();
        let pairs: Vec<(&str, &str)> = text.iter().map(|(p, t)| (p.as_str(), *t)).collect();
        let wrong = |e: &dyn std::fmt::Display| {
            bad_file(format!("does not hold a valid connector source: {e}"))
        };
        let value = assemble_from(&FileList(&pairs), Path::new(folder)).map_err(|e| wrong(&e))?;
        Connector::from_value(&value).map_err(|e| wrong(&e))?;
        match value {
            Value::Object(map) => Ok(map),
            _ => Err(wrong(&"the connector file is not an object")),
        }
    }

    /// The smallest source of `definition`: the definition as `<key>.yaml`
    /// alone, checked to assemble back to itself (as YAML, else as JSON, which
    /// YAML reads too; as `connector.yaml` when the key is no file name, or names
    /// a function file like `test`).
    pub fn of_definition(
        definition: &Map<String, Value>,
        key: Option<&str>,
    ) -> Result<Self, ApiError> {
        let value = Value::Object(definition.clone());
        let yaml = serde_yaml::to_string(&value)
            .map_err(|e| ApiError::internal(format!("writing a connector as YAML: {e}")))?;
        let json = serde_json::to_string_pretty(&value)
            .map_err(|e| ApiError::internal(format!("writing a connector as JSON: {e}")))?;
        let mut stems: Vec<&str> = key.filter(|k| is_safe_segment(k)).into_iter().collect();
        stems.push("connector");
        for stem in stems {
            for text in [&yaml, &json] {
                let source = SourceFiles {
                    files: BTreeMap::from([(format!("{stem}.yaml"), text.clone().into_bytes())]),
                };
                let assembled = source.assemble(Some(stem)).ok();
                if assembled.as_ref() == Some(definition) {
                    return Ok(source);
                }
            }
        }
        Err(ApiError::internal(
            "the connector's definition does not survive a round trip through a source file",
        ))
    }
}

/// Whether `path` is a YAML file directly in the folder (a connector file).
fn is_root_yaml(path: &str) -> bool {
    !path.contains('/') && (path.ends_with(".yaml") || path.ends_with(".yml"))
}

/// The paths without their common top folder, when every file sits in the same
/// one and it holds the connector file (`linear/linear.yaml`, `linear/data/…` →
/// `linear.yaml`, `data/…`). A folder of a source's own (`data/…` alone) stays.
fn strip_top_folder(files: BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    let top = |path: &str| path.split_once('/').map(|(top, _)| top.to_owned());
    let first = files.keys().next().and_then(|p| top(p));
    let Some(first) = first else {
        return files;
    };
    let prefix = format!("{first}/");
    let nested = files.keys().all(|p| p.starts_with(&prefix))
        && files.keys().any(|p| is_root_yaml(&p[prefix.len()..]));
    if !nested {
        return files;
    }
    files
        .into_iter()
        .map(|(path, bytes)| (path[prefix.len()..].to_owned(), bytes))
        .collect()
}

/// A name that is one path segment: not empty, no separators, not `.`/`..`.
fn is_safe_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\', '\0'])
        && name.chars().count() <= 200
}

/// A file path of a source a request names: relative, no `..` or empty
/// segments, at most [`MAX_PATH_CHARS`].
pub fn check_file_path(path: &str) -> Result<(), ApiError> {
    let bad = |why: &str| ApiError::invalid_field("path", format!("`{path}` {why}"));
    if path.is_empty() {
        return Err(ApiError::invalid_field("path", "is empty"));
    }
    if path.chars().count() > MAX_PATH_CHARS {
        return Err(bad(&format!("is longer than {MAX_PATH_CHARS} characters")));
    }
    if path.starts_with('/') || path.contains('\\') || path.contains(':') {
        return Err(bad("must be a relative path with `/` separators"));
    }
    if path.contains('\0') || path.chars().any(char::is_control) {
        return Err(bad("holds control characters"));
    }
    if path
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(bad("must not hold `..`, `.` or empty segments"));
    }
    Ok(())
}

/// A version name to publish: `1.2.3` and the like (letters, digits, `.`, `-`,
/// `+`, `_`), not `development`.
pub fn check_version(version: &str) -> Result<(), ApiError> {
    let bad = |why: String| ApiError::invalid_field("version", why);
    if version.is_empty() {
        return Err(bad("is required".into()));
    }
    if version == DEVELOPMENT {
        return Err(bad(
            "`development` is the working source; publish a version such as `1.0.0`".into(),
        ));
    }
    if version.chars().count() > MAX_VERSION_CHARS {
        return Err(bad(format!(
            "is longer than {MAX_VERSION_CHARS} characters"
        )));
    }
    if !version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
        || !version.starts_with(|c: char| c.is_ascii_alphanumeric())
        || version.contains("..")
    {
        return Err(bad(format!(
            "`{version}` is not a version name: use letters, digits, `.`, `-`, `+`, as in `1.2.3`"
        )));
    }
    Ok(())
}

/// Versions in release order: numeric parts as numbers, others as text
/// (`1.2.10` after `1.2.9`).
pub fn version_order(a: &str, b: &str) -> Ordering {
    let parts =
        |v: &str| -> Vec<String> { v.split(['.', '-', '+', '_']).map(str::to_owned).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let order = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            (Ok(_), Err(_)) => Ordering::Greater,
            (Err(_), Ok(_)) => Ordering::Less,
            (Err(_), Err(_)) => x.cmp(y),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// A connector element's definition: key, name, description, meta and its
/// type fields.
pub fn definition_of(el: &Element) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(key) = &el.key {
        m.insert("key".into(), json!(key));
    }
    m.insert("name".into(), json!(el.name));
    for f in ["description", "meta"] {
        if let Some(v) = el.doc.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    copy_type_fields(el, &mut m);
    m
}

/// A published version as the API renders it.
fn render_version(row: &ConnectorVersion) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(row.id));
    m.insert("connectorId".into(), json!(row.connector_id));
    m.insert("version".into(), json!(row.version));
    if let Some(changelog) = &row.changelog {
        m.insert("changelog".into(), json!(changelog));
    }
    m.insert("createdAt".into(), json!(iso_of_ms(row.created_ms)));
    Value::Object(m)
}

/// The row of `version` of `connector` with the source `zip`, which must
/// assemble to a valid definition (kept in the row, with the connector's key).
pub(crate) fn version_row(
    connector: &Element,
    version: &str,
    zip: &[u8],
    changelog: Option<String>,
) -> Result<ConnectorVersion, ApiError> {
    let mut definition = SourceFiles::from_zip(zip)?.assemble(connector.key.as_deref())?;
    keep_identity(connector, &mut definition);
    Ok(ConnectorVersion {
        workspace_id: connector.workspace_id.clone(),
        connector_id: connector.id.clone(),
        version: version.to_owned(),
        id: ids::object_id(),
        changelog: changelog.filter(|c| !c.is_empty()),
        created_ms: now_ms(),
        definition: Value::Object(definition),
    })
}

/// Refuses a write to an archived connector.
fn ensure_live(el: &Element) -> Result<(), ApiError> {
    if el.is_archived() {
        return Err(ApiError::bad_request(
            keys::GONE,
            format!(
                "The connector `{}` is archived; restore it before changing its source",
                el.id
            ),
        ));
    }
    Ok(())
}

impl Engine {
    /// `POST /connectors/{selector}/upload`: `zip` becomes the connector's
    /// development source and its definition the connector's.
    pub async fn upload_connector_source(
        &self,
        caller: &Caller,
        connector: Element,
        zip: &[u8],
    ) -> Result<Element, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        ensure_live(&connector)?;
        let source = SourceFiles::from_zip(zip)?;
        let definition = source.assemble(connector.key.as_deref())?;
        self.store_development(caller, connector, zip, definition)
            .await
    }

    /// `GET /connectors/{selector}/download?version=`: the source zip of a
    /// version; `development` (the default) is built from the definition when
    /// none was stored.
    pub async fn connector_source_zip(
        &self,
        caller: &Caller,
        connector: &Element,
        version: Option<&str>,
    ) -> Result<Vec<u8>, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let version = version.filter(|v| !v.is_empty()).unwrap_or(DEVELOPMENT);
        if let Some(zip) = self.stored_source(connector, version).await? {
            return Ok(zip);
        }
        if version == DEVELOPMENT {
            return SourceFiles::of_definition(
                &definition_of(connector),
                connector.key.as_deref(),
            )?
            .to_zip();
        }
        Err(ApiError::not_found(format!(
            "The connector `{}` has no version `{version}`",
            connector.id
        )))
    }

    /// `GET /connectors/{selector}/versions`: the published versions, newest
    /// first.
    pub async fn connector_versions(
        &self,
        caller: &Caller,
        connector: &Element,
    ) -> Result<Vec<Value>, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        let rows = self
            .stores
            .connector_versions
            .connector_versions(&connector.workspace_id, &connector.id)
            .await
            .map_err(store_error)?;
        Ok(rows
            .iter()
            .filter(|r| r.version != DEVELOPMENT)
            .map(render_version)
            .collect())
    }

    /// `POST /connectors/{selector}/publish-version`: snapshots `zip` (else the
    /// development source) as `version`, once.
    pub async fn publish_connector_version(
        &self,
        caller: &Caller,
        connector: &Element,
        zip: Option<Vec<u8>>,
        version: &str,
        changelog: Option<String>,
    ) -> Result<Value, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        ensure_live(connector)?;
        check_version(version)?;
        let zip = match zip {
            Some(zip) => zip,
            None => self.connector_source_zip(caller, connector, None).await?,
        };
        let row = version_row(connector, version, &zip, changelog)?;
        let inserted = self
            .stores
            .connector_versions
            .insert_connector_version(&row, &zip)
            .await
            .map_err(store_error)?;
        if !inserted {
            return Err(ApiError::already_exists(format!(
                "The connector `{}` already has version `{version}`; published versions cannot change, publish another",
                connector.id
            )));
        }
        Ok(render_version(&row))
    }

    /// `PUT` (`contents`) or `DELETE` (`None`) `/connectors/{selector}/files/{path}`:
    /// one file of the development source changed, the rest as it was.
    pub async fn change_connector_file(
        &self,
        caller: &Caller,
        connector: Element,
        path: &str,
        contents: Option<Vec<u8>>,
    ) -> Result<Element, ApiError> {
        caller.require_admin(ADMIN_ONLY)?;
        ensure_live(&connector)?;
        check_file_path(path)?;
        let mut source = match self.stored_source(&connector, DEVELOPMENT).await? {
            Some(zip) => SourceFiles::from_zip(&zip)?,
            None => {
                SourceFiles::of_definition(&definition_of(&connector), connector.key.as_deref())?
            }
        };
        match contents {
            Some(bytes) => {
                if !source.files.contains_key(path) && source.files.len() >= MAX_ENTRIES {
                    return Err(ApiError::invalid_field(
                        "path",
                        format!("a connector source may hold at most {MAX_ENTRIES} files"),
                    ));
                }
                source.files.insert(path.to_owned(), bytes);
                let total: usize = source.files.values().map(Vec::len).sum();
                if total as u64 > MAX_INFLATED_BYTES {
                    return Err(ApiError::invalid_field(
                        "path",
                        format!("the source would hold more than {MAX_INFLATED_BYTES} bytes"),
                    ));
                }
            }
            None => {
                if source.files.remove(path).is_none() {
                    return Err(ApiError::not_found(format!(
                        "The source of connector `{}` has no file `{path}`",
                        connector.id
                    )));
                }
                if source.files.is_empty() {
                    return Err(ApiError::invalid_field(
                        "path",
                        format!("`{path}` is the source's last file"),
                    ));
                }
            }
        }
        let definition = source.assemble(connector.key.as_deref())?;
        let zip = source.to_zip()?;
        self.store_development(caller, connector, &zip, definition)
            .await
    }

    /// The stored sources of a connector, for a workspace export: `development`
    /// first when one is stored, then the published versions in release order.
    pub async fn connector_sources(
        &self,
        workspace_id: &str,
        connector_id: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ApiError> {
        let store = &self.stores.connector_versions;
        let mut versions: Vec<String> = store
            .connector_versions(workspace_id, connector_id)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|r| r.version)
            .collect();
        versions.sort_by(|a, b| match (a == DEVELOPMENT, b == DEVELOPMENT) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => version_order(a, b),
        });
        let mut out = Vec::with_capacity(versions.len());
        for version in versions {
            // A version deleted meanwhile is left out.
            if let Some(zip) = store
                .connector_version_source(workspace_id, connector_id, &version)
                .await
                .map_err(store_error)?
            {
                out.push((version, zip));
            }
        }
        Ok(out)
    }

    async fn stored_source(
        &self,
        connector: &Element,
        version: &str,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        self.stores
            .connector_versions
            .connector_version_source(&connector.workspace_id, &connector.id, version)
            .await
            .map_err(store_error)
    }

    /// Stores `zip` as the development source, then writes `definition` as the
    /// connector's (a PUT through the element core); when that write fails, the
    /// development source is put back as it was.
    async fn store_development(
        &self,
        caller: &Caller,
        connector: Element,
        zip: &[u8],
        mut definition: Map<String, Value>,
    ) -> Result<Element, ApiError> {
        keep_identity(&connector, &mut definition);
        let store = &self.stores.connector_versions;
        let (ws, id) = (connector.workspace_id.clone(), connector.id.clone());
        // Not the element's own lock, which the write below takes.
        let _lock = self.locks.lock(&format!("{id}#source")).await;
        let previous = match store
            .connector_versions(&ws, &id)
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|r| r.version == DEVELOPMENT)
        {
            Some(row) => store
                .connector_version_source(&ws, &id, DEVELOPMENT)
                .await
                .map_err(store_error)?
                .map(|zip| (row, zip)),
            None => None,
        };
        let row = ConnectorVersion {
            workspace_id: ws.clone(),
            connector_id: id.clone(),
            version: DEVELOPMENT.into(),
            id: ids::object_id(),
            changelog: None,
            created_ms: now_ms(),
            definition: Value::Object(definition.clone()),
        };
        store
            .upsert_connector_version(&row, zip)
            .await
            .map_err(store_error)?;
        match self
            .elements()
            .put_element(caller, connector, definition)
            .await
        {
            Ok(el) => Ok(el),
            Err(e) => {
                let restored = match &previous {
                    Some((row, zip)) => store.upsert_connector_version(row, zip).await,
                    None => store
                        .delete_connector_version(&ws, &id, DEVELOPMENT)
                        .await
                        .map(|_| ()),
                };
                if let Err(restore) = restored {
                    tracing::warn!(connector = %id, error = %restore, "could not put back the development source after a failed write");
                }
                Err(e)
            }
        }
    }
}

/// The definition written keeps the connector's key (a source may carry
/// another connector's), and carries no id, uuid or revision of its own.
fn keep_identity(connector: &Element, definition: &mut Map<String, Value>) {
    for field in ["id", "uuid", "revision"] {
        definition.remove(field);
    }
    match &connector.key {
        Some(key) => {
            definition.insert("key".into(), json!(key));
        }
        None => {
            definition.remove("key");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (path, bytes) in files {
            zip.start_file(*path, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    /// Definition → `<key>.yaml` alone → assembled: the same definition, for
    /// every shipped connector.
    #[test]
    fn every_shipped_definition_survives_the_single_file_layout() {
        let shipped = osmosis_connectors::catalog::shipped().expect("shipped connectors");
        assert!(!shipped.is_empty());
        for def in shipped {
            let def = def.as_object().unwrap().clone();
            let key = def["key"].as_str().unwrap().to_owned();
            let source = SourceFiles::of_definition(&def, Some(&key)).expect(&key);
            assert_eq!(source.files.len(), 1, "{key}");
            assert!(source.files.contains_key(&format!("{key}.yaml")), "{key}");
            // The YAML layout itself, not the JSON fallback.
            let text = std::str::from_utf8(&source.files[&format!("{key}.yaml")]).unwrap();
            assert!(
                !text.trim_start().starts_with('{'),
                "{key} fell back to JSON"
            );
            assert_eq!(source.assemble(Some(&key)).unwrap(), def, "{key}");
            // Through a zip too, under another key.
            let zip = source.to_zip().unwrap();
            let read = SourceFiles::from_zip(&zip).unwrap();
            assert_eq!(read.assemble(Some("another")).unwrap(), def, "{key}");
        }
    }

    /// A shipped folder's own files, at the zip's root or in a top folder,
    /// assemble as the catalog assembles them.
    #[test]
    fn a_shipped_folder_assembles_from_its_root_or_a_top_folder() {
        let all = osmosis_connectors::catalog::files();
        let def = osmosis_connectors::catalog::shipped()
            .unwrap()
            .into_iter()
            .find(|d| d["key"] == "linear")
            .unwrap();
        let mine: Vec<(&str, &[u8])> = all
            .0
            .iter()
            .filter(|(p, _)| p.starts_with("linear/"))
            .map(|(p, c)| (*p, c.as_bytes()))
            .collect();
        let nested = SourceFiles::from_zip(&zip_of(&mine)).unwrap();
        assert!(nested.files.contains_key("linear.yaml"));
        assert_eq!(Value::Object(nested.assemble(Some("linear")).unwrap()), def);
        let rooted: Vec<(&str, &[u8])> = mine
            .iter()
            .map(|(p, c)| (p.strip_prefix("linear/").unwrap(), *c))
            .collect();
        let rooted = SourceFiles::from_zip(&zip_of(&rooted)).unwrap();
        assert_eq!(rooted, nested);
        assert_eq!(Value::Object(rooted.assemble(Some("other")).unwrap()), def);
    }

    #[test]
    fn hostile_zips_are_refused() {
        let msg = |r: Result<SourceFiles, ApiError>| r.unwrap_err().message;
        assert!(msg(SourceFiles::from_zip(b"not a zip")).contains("not a zip"));
        assert!(
            msg(SourceFiles::from_zip(&zip_of(&[("../evil.yaml", b"a: 1")]))).contains("unsafe")
        );
        assert!(msg(SourceFiles::from_zip(&zip_of(&[(
            "/etc/evil.yaml",
            b"a: 1"
        )])))
        .contains("unsafe"));
        assert!(
            msg(SourceFiles::from_zip(&zip_of(&[("a/../../b.yaml", b"x")]))).contains("unsafe")
        );
        let big = vec![b'a'; (MAX_INFLATED_BYTES + 1) as usize];
        assert!(msg(SourceFiles::from_zip(&zip_of(&[("big.js", &big)]))).contains("inflates"));
        let names: Vec<String> = (0..=MAX_ENTRIES).map(|i| format!("f{i}.txt")).collect();
        let many: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
        assert!(msg(SourceFiles::from_zip(&zip_of(&many))).contains("entries"));
    }

    #[test]
    fn file_paths_and_versions_are_checked() {
        for ok in ["crm.yaml", "data/contacts/spec.yml", "a/b.c/d.js"] {
            check_file_path(ok).unwrap();
        }
        for bad in ["", "/abs", "../x", "a/../b", "a//b", "a/./b", "a\\b", "c:x"] {
            assert!(check_file_path(bad).is_err(), "{bad}");
        }
        assert!(check_file_path(&"a".repeat(501)).is_err());
        for ok in ["1.2.3", "1.0.0-beta.1", "2024.1", "v2"] {
            check_version(ok).unwrap();
        }
        for bad in ["", "development", "1/2", "..", ".1", "1 2", "a..b"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn versions_sort_in_release_order() {
        let mut v = vec!["1.10.0", "1.2.0", "1.2.0-beta", "0.9", "1.2.10", "1.2.9"];
        v.sort_by(|a, b| version_order(a, b));
        assert_eq!(
            v,
            ["0.9", "1.2.0", "1.2.0-beta", "1.2.9", "1.2.10", "1.10.0"]
        );
    }
}
