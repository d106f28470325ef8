//! Loading a connector from a folder in the Membrane layout:
//!
//! ```text
//! <key>/<key>.yaml                     the connector (auth type, schemas, options, inline functions)
//! <key>/[src/][auth/]<function>.<suffix>   auth functions, e.g. make-api-client.map.yml, test.rest.yml
//! <key>/[src/]data/<collection>/spec.yml   + list.rest.yml, find-by-id.js, record-from-api.map.yml, …
//! <key>/[src/]operations/<op>/spec.yml     + run.rest.yml | run.js | …
//! ```
//!
//! The suffix picks the implementation type (`.map.yml` mapping, `.rest.yml`/`.api.yml`
//! rest-api-mapping, `.graphql.yml`, `.op.yml` operation-mapping, `.js` javascript).
//! The folder is assembled into the stored JSON shape, each function carrying its
//! `filePath`, and then parsed by [`Connector::from_value`], so both inputs are
//! validated by one parser and errors name the file.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::auth_function::AuthFunction;
use super::collection::{CollectionHelper, CollectionMethod};
use super::error::DefinitionError;
use super::function_def::{FileKind, ImplementationType};
use super::Connector;

impl Connector {
    /// Loads and validates the connector in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, DefinitionError> {
        Self::from_value(&assemble_dir(dir)?)
    }
}

/// The stored JSON shape of the connector in `dir`.
pub fn assemble_dir(dir: &Path) -> Result<Value, DefinitionError> {
    let connector_file = find_connector_file(dir)?;
    let mut root = match read_yaml(&connector_file)? {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(DefinitionError::NotAnObject {
                location: connector_file.display().to_string(),
            })
        }
    };
    let mut content_roots = vec![dir.to_path_buf()];
    if dir.join("src").is_dir() {
        content_roots.push(dir.join("src"));
    }
    for content in &content_roots {
        for function_dir in [content.clone(), content.join("auth")] {
            for (path, stem, kind) in function_files(&function_dir)? {
                let Some(function) = AuthFunction::from_file_stem(&stem) else {
                    continue;
                };
                let def = function_value(dir, &path, kind)?;
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
        load_collections(dir, &content.join("data"), &mut root)?;
        load_operations(dir, &content.join("operations"), &mut root)?;
    }
    Ok(Value::Object(root))
}

fn find_connector_file(dir: &Path) -> Result<PathBuf, DefinitionError> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for candidate in [format!("{name}.yaml"), format!("{name}.yml")] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    // A folder not named after its key: accept its single `.yaml` file.
    let yamls: Vec<PathBuf> = read_dir(dir)?
        .into_iter()
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    match yamls.as_slice() {
        [only] => Ok(only.clone()),
        _ => Err(DefinitionError::NoConnectorFile {
            dir: dir.to_path_buf(),
            expected: format!("{name}.yaml"),
        }),
    }
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, DefinitionError> {
    let entries = fs::read_dir(dir).map_err(|source| DefinitionError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DefinitionError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    Ok(paths)
}

/// Function-like files directly in `dir`: (path, stem, kind). Absent dir → none.
fn function_files(dir: &Path) -> Result<Vec<(PathBuf, String, FileKind)>, DefinitionError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for path in read_dir(dir)? {
        if !path.is_file() {
            continue;
        }
        let file_name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some((stem, kind)) = ImplementationType::from_file_name(&file_name) {
            files.push((path.clone(), stem.to_owned(), kind));
        }
    }
    Ok(files)
}

fn read_yaml(path: &Path) -> Result<Value, DefinitionError> {
    let text = fs::read_to_string(path).map_err(|source| DefinitionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
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
fn function_value(dir: &Path, path: &Path, kind: FileKind) -> Result<Value, DefinitionError> {
    let file_path = relative(dir, path);
    match kind {
        FileKind::TypeScript => Err(DefinitionError::TypeScriptUnsupported {
            location: file_path,
        }),
        FileKind::Javascript => {
            let code = fs::read_to_string(path).map_err(|source| DefinitionError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(json!({"type": "javascript", "code": code, "filePath": file_path}))
        }
        FileKind::Yaml(implementation) => {
            let content = read_yaml(path)?;
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
    dir: &Path,
    data_dir: &Path,
    root: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
    if !data_dir.is_dir() {
        return Ok(());
    }
    for entry in read_dir(data_dir)? {
        let (key, spec_path, method_dir) = if entry.is_dir() {
            let key = entry
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let spec = ["spec.yml", "spec.yaml"]
                .iter()
                .map(|n| entry.join(n))
                .find(|p| p.is_file());
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
            Some(p) => match read_yaml(p)? {
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
            for (path, stem, kind) in function_files(&method_dir)? {
                if stem == "spec" {
                    continue;
                }
                if let Some(method) = CollectionMethod::parse(&stem) {
                    methods.insert(method.name().into(), function_value(dir, &path, kind)?);
                } else if let Some(helper) = CollectionHelper::parse(&stem) {
                    collection.insert(helper.name().into(), function_value(dir, &path, kind)?);
                }
                // Other files (event handlers, docs) belong to other capabilities.
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
    dir: &Path,
    operations_dir: &Path,
    root: &mut Map<String, Value>,
) -> Result<(), DefinitionError> {
    if !operations_dir.is_dir() {
        return Ok(());
    }
    let mut loaded = Map::new();
    for entry in read_dir(operations_dir)? {
        if !entry.is_dir() {
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
            .find(|p| p.is_file())
        {
            Some(p) => match read_yaml(&p)? {
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
        for (path, stem, kind) in function_files(&entry)? {
            if stem == "run" {
                operation.insert("run".into(), function_value(dir, &path, kind)?);
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
