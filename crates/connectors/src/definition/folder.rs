//! Loading a connector from a folder in the Membrane layout:
//!
//! ```text
//! <key>/<key>.yaml                     the connector (auth type, schemas, options, inline functions)
//! <key>/[src/][auth/]<function>.<suffix>   auth functions, e.g. make-api-client.map.yml, test.rest.yml
//! <key>/[src/]data/<collection>/spec.yml   + list.rest.yml, find-by-id.js, record-from-api.map.yml, …
//! <key>/[src/]operations/<op>/spec.yml     + run.rest.yml | run.js | …
//! <key>/[src/]events/<event>/spec.yml      + get-event-selector.js | …
//! <key>/[src/]global-webhooks/<key>/spec.yml + handle.js | …
//! ```
//!
//! The suffix picks the implementation type (`.map.yml` mapping, `.rest.yml`/`.api.yml`
//! rest-api-mapping, `.graphql.yml`, `.op.yml` operation-mapping, `.js` javascript).
//! The folder is assembled into the stored JSON shape, each function carrying its
//! `filePath`, and then parsed by [`Connector::from_value`], so both inputs are
//! validated by one parser and errors name the file.
//!
//! The files are read through a [`FolderSource`]: the disk ([`Disk`]) or a list of
//! `(path, contents)` pairs ([`FileList`], e.g. files embedded in the binary), so one
//! assembly serves both.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::auth_function::AuthFunction;
use super::collection::{event_function_file, CollectionHelper, CollectionMethod};
use super::error::DefinitionError;
use super::function_def::{FileKind, ImplementationType};
use super::Connector;

impl Connector {
    /// Loads and validates the connector in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, DefinitionError> {
        Self::from_value(&assemble_dir(dir)?)
    }

    /// Loads and validates the connector in folder `dir` of `files`.
    pub fn load_from(files: &dyn FolderSource, dir: &Path) -> Result<Self, DefinitionError> {
        Self::from_value(&assemble_from(files, dir)?)
    }
}

/// Where a connector folder's files are read from.
pub trait FolderSource {
    fn is_file(&self, path: &Path) -> bool;
    fn is_dir(&self, path: &Path) -> bool;
    /// The entries directly in folder `dir` (full paths), in any order.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// The file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct Disk;

impl FolderSource for Disk {
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        fs::read_dir(dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect()
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        fs::read_to_string(path)
    }
}

/// Files given as `(path, contents)` pairs, paths `/`-separated and relative (e.g.
/// `github/github.yaml`); folders are the paths' prefixes.
#[derive(Debug, Clone, Copy)]
pub struct FileList<'a>(pub &'a [(&'a str, &'a str)]);

fn slash_path(path: &Path) -> String {
    path.to_string_lossy()
        .replace('\\', "/")
        .trim_end_matches('/')
        .to_owned()
}

impl FolderSource for FileList<'_> {
    fn is_file(&self, path: &Path) -> bool {
        let path = slash_path(path);
        self.0.iter().any(|(p, _)| *p == path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        let prefix = format!("{}/", slash_path(path));
        self.0.iter().any(|(p, _)| p.starts_with(&prefix))
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let prefix = format!("{}/", slash_path(dir));
        let mut entries: Vec<PathBuf> = Vec::new();
        for (path, _) in self.0 {
            if let Some(rest) = path.strip_prefix(&prefix) {
                let child = dir.join(rest.split('/').next().unwrap_or(rest));
                if !entries.contains(&child) {
                    entries.push(child);
                }
            }
        }
        if entries.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such folder"));
        }
        Ok(entries)
    }

    fn read(&self, path: &Path) -> io::Result<String> {
        let wanted = slash_path(path);
        self.0
            .iter()
            .find(|(p, _)| *p == wanted)
            .map(|(_, contents)| (*contents).to_owned())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }
}

/// The stored JSON shape of the connector in `dir`.
pub fn assemble_dir(dir: &Path) -> Result<Value, DefinitionError> {
    assemble_from(&Disk, dir)
}

/// The stored JSON shape of the connector in folder `dir` of `source`.
pub fn assemble_from(files: &dyn FolderSource, dir: &Path) -> Result<Value, DefinitionError> {
    let connector_file = find_connector_file(files, dir)?;
    let mut root = match read_yaml(files, &connector_file)? {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(DefinitionError::NotAnObject {
                location: connector_file.display().to_string(),
            })
        }
    };
    let mut content_roots = vec![dir.to_path_buf()];
    if files.is_dir(&dir.join("src")) {
        content_roots.push(dir.join("src"));
    }
    for content in &content_roots {
        for function_dir in [content.clone(), content.join("auth")] {
            for (path, stem, kind) in function_files(files, &function_dir)? {
                let Some(function) = AuthFunction::from_file_stem(&stem) else {
                    continue;
                };
                let def = function_value(files, dir, &path, kind)?;
                let name = function.name();
                let inline =
                    root.contains_key(name) || root.get("auth").and_then(|a| a.get(name)).is_some();
                if inline {
                    return Err(DefinitionError::Duplicate {
                        location: relative(dir, &path),
                        name: name.into(),
                        other: relative(dir, &connector_file),
                    });
                }
                root.insert(name.into(), def);
            }
        }
        load_collections(files, dir, &content.join("data"), &mut root)?;
        load_operations(files, dir, &content.join("operations"), &mut root)?;
        load_keyed(
            files,
            dir,
            &content.join("events"),
            "events",
            &super::CONNECTOR_EVENT_FUNCTIONS,
            &mut root,
        )?;
        load_keyed(
            files,
            dir,
            &content.join("global-webhooks"),
            "globalWebhooks",
            &super::GLOBAL_WEBHOOK_FUNCTIONS,
            &mut root,
        )?;
    }
    Ok(Value::Object(root))
}

fn find_connector_file(files: &dyn FolderSource, dir: &Path) -> Result<PathBuf, DefinitionError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for candidate in [format!("{name}.yaml"), format!("{name}.yml")] {
        let path = dir.join(&candidate);
        if files.is_file(&path) {
            return Ok(path);
        }
    }
    // A folder not named after its key: accept its single `.yaml` file.
    let yamls: Vec<PathBuf> = read_dir(files, dir)?
        .into_iter()
        .filter(|p| files.is_file(p) && p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    match yamls.as_slice() {
        [only] => Ok(only.clone()),
        _ => Err(DefinitionError::NoConnectorFile {
            dir: dir.to_path_buf(),
            expected: format!("{name}.yaml"),
        }),
    }
}

/// The entries of `dir`, sorted.
fn read_dir(files: &dyn FolderSource, dir: &Path) -> Result<Vec<PathBuf>, DefinitionError> {
    let mut paths = files.list(dir).map_err(|source| DefinitionError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    paths.sort();
    Ok(paths)
}

fn read_text(files: &dyn FolderSource, path: &Path) -> Result<String, DefinitionError> {
    files.read(path).map_err(|source| DefinitionError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Function-like files directly in `dir`: (path, stem, kind). Absent dir → none.
fn function_files(
    files: &dyn FolderSource,
    dir: &Path,
) -> Result<Vec<(PathBuf, String, FileKind)>, DefinitionError> {
    if !files.is_dir(dir) {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for path in read_dir(files, dir)? {
        if !files.is_file(&path) {
            continue;
        }
        let file_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some((stem, kind)) = ImplementationType::from_file_name(&file_name) {
            found.push((path.clone(), stem.to_owned(), kind));
        }
    }
    Ok(found)
}

fn read_yaml(files: &dyn FolderSource, path: &Path) -> Result<Value, DefinitionError> {
    let text = read_text(files, path)?;
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|source| DefinitionError::Yaml {
            path: path.to_path_buf(),
            source,
        })?;
    serde_json::to_value(yaml).map_err(|source| DefinitionError::NotJson {
        path: path.to_path_buf(),
        source,
    })
}

fn relative(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// The stored form of one function file: `{type, mapping | code, filePath}`.
fn function_value(
    files: &dyn FolderSource,
    dir: &Path,
    path: &Path,
    kind: FileKind,
) -> Result<Value, DefinitionError> {
    let file_path = relative(dir, path);
    match kind {
        FileKind::TypeScript => Err(DefinitionError::TypeScriptUnsupported {
            location: file_path,
        }),
        FileKind::Javascript => {
            let code = read_text(files, path)?;
            Ok(json!({"type": "javascript", "code": code, "filePath": file_path}))
        }
        FileKind::Yaml(implementation) => {
            let content = read_yaml(files, path)?;
            let plain_yaml = !file_path.ends_with(".map.yml")
                && (file_path.ends_with(".yml") || file_path.ends_with(".yaml"))
                && ImplementationType::from_file_name(
                    path.file_name().unwrap_or_default().to_str().unwrap_or(""),
                )
                .is_some_and(|(stem, _)| !stem.contains('.'));
            // A plain `.yml` may hold a whole function (`{type: operation-mapping, …}`).
            if plain_yaml {
                if let Some(Value::String(t)) = content.get("type") {
                    if ImplementationType::parse(t).is_some() {
                        let mut object = content.as_object().cloned().unwrap_or_default();
                        object.insert("filePath".into(), Value::String(file_path));
                        return Ok(Value::Object(object));
                    }
                }
            }
            Ok(json!({
                "type": implementation.as_str(),
                "mapping": content,
                "filePath": file_path,
            }))
        }
    }
}

fn load_collections(
    files: &dyn FolderSource,
    dir: &Path,
    data_dir: &Path,
    root: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
    if !files.is_dir(data_dir) {
        return Ok(());
    }
    for entry in read_dir(files, data_dir)? {
        let (key, spec_path, method_dir) = if files.is_dir(&entry) {
            let key = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let spec = ["spec.yml", "spec.yaml"]
                .iter()
                .map(|n| entry.join(n))
                .find(|p| files.is_file(p));
            (key, spec, Some(entry.clone()))
        } else if let Some(key) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".yml"))
        {
            // Older layout: `data/<key>.yml`.
            (key.to_owned(), Some(entry.clone()), None)
        } else {
            continue;
        };
        let mut collection = match &spec_path {
            Some(p) => match read_yaml(files, p)? {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => {
                    return Err(DefinitionError::NotAnObject {
                        location: relative(dir, p),
                    })
                }
            },
            None => Map::new(),
        };
        let mut methods = Map::new();
        if let Some(method_dir) = method_dir {
            for (path, stem, kind) in function_files(files, &method_dir)? {
                if stem == "spec" {
                    continue;
                }
                if let Some(method) = CollectionMethod::parse(&stem) {
                    methods.insert(
                        method.name().into(),
                        function_value(files, dir, &path, kind)?,
                    );
                } else if let Some(helper) = CollectionHelper::parse(&stem) {
                    collection.insert(
                        helper.name().into(),
                        function_value(files, dir, &path, kind)?,
                    );
                } else if let Some((event_type, function, implementation)) =
                    event_function_file(&stem)
                {
                    // `events-<type>-<function>.<suffix>`: that event's function,
                    // its type the one the function implies unless the spec says.
                    let events = collection
                        .entry("events")
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(events) = events {
                        let entry = events
                            .entry(event_type.to_owned())
                            .or_insert_with(|| json!({"type": implementation}));
                        if let Value::Object(entry) = entry {
                            entry.insert(function.into(), function_value(files, dir, &path, kind)?);
                        }
                    }
                }
                // Other files (docs) belong to other capabilities.
            }
        }
        if !methods.is_empty() {
            collection.insert("methods".into(), Value::Object(methods));
        }
        let data = root
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(data) = data {
            if data.contains_key(&key) {
                return Err(DefinitionError::Duplicate {
                    location: relative(dir, &data_dir.join(&key)),
                    name: key,
                    other: "the connector file's `data`".into(),
                });
            }
            data.insert(key, Value::Object(collection));
        }
    }
    Ok(())
}

fn load_operations(
    files: &dyn FolderSource,
    dir: &Path,
    operations_dir: &Path,
    root: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
    if !files.is_dir(operations_dir) {
        return Ok(());
    }
    let mut loaded = Map::new();
    for entry in read_dir(files, operations_dir)? {
        if !files.is_dir(&entry) {
            continue;
        }
        let key = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut operation = match ["spec.yml", "spec.yaml"]
            .iter()
            .map(|n| entry.join(n))
            .find(|p| files.is_file(p))
        {
            Some(p) => match read_yaml(files, &p)? {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => {
                    return Err(DefinitionError::NotAnObject {
                        location: relative(dir, &p),
                    })
                }
            },
            None => Map::new(),
        };
        operation
            .entry("key")
            .or_insert_with(|| Value::String(key.clone()));
        for (path, stem, kind) in function_files(files, &entry)? {
            if stem == "run" {
                operation.insert("run".into(), function_value(files, dir, &path, kind)?);
            }
        }
        loaded.insert(key, Value::Object(operation));
    }
    if loaded.is_empty() {
        return Ok(());
    }
    match root.get_mut("operations") {
        None => {
            root.insert("operations".into(), Value::Object(loaded));
        }
        Some(Value::Array(items)) => items.extend(loaded.into_iter().map(|(_, v)| v)),
        Some(Value::Object(existing)) => existing.extend(loaded),
        Some(_) => {
            return Err(DefinitionError::WrongType {
                location: "connector".into(),
                field: "operations".into(),
                expected: "an array or an object of operations",
            })
        }
    }
    Ok(())
}

/// `events/<key>/` or `global-webhooks/<key>/` folders: each one's `spec.yml`
/// with its function files (of `names`, kebab-case) into map `field` of the root.
fn load_keyed(
    files: &dyn FolderSource,
    dir: &Path,
    folder: &Path,
    field: &str,
    names: &[&'static str],
    root: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
    if !files.is_dir(folder) {
        return Ok(());
    }
    for entry in read_dir(files, folder)? {
        if !files.is_dir(&entry) {
            continue;
        }
        let key = entry
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let mut spec = match ["spec.yml", "spec.yaml"]
            .iter()
            .map(|n| entry.join(n))
            .find(|p| files.is_file(p))
        {
            Some(p) => match read_yaml(files, &p)? {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => {
                    return Err(DefinitionError::NotAnObject {
                        location: relative(dir, &p),
                    })
                }
            },
            None => Map::new(),
        };
        for (path, stem, kind) in function_files(files, &entry)? {
            if let Some(function) = super::events::function_of_stem(&stem, names) {
                spec.insert(function.into(), function_value(files, dir, &path, kind)?);
            }
        }
        let map = root
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(map) = map else {
            return Err(DefinitionError::WrongType {
                location: "connector".into(),
                field: field.into(),
                expected: "an object keyed by key",
            });
        };
        if map.contains_key(&key) {
            return Err(DefinitionError::Duplicate {
                location: relative(dir, &entry),
                name: key,
                other: format!("the connector file's `{field}`"),
            });
        }
        map.insert(key, Value::Object(spec));
    }
    Ok(())
}
