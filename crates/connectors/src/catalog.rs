//! The connectors shipped with the binary: the folders under `crates/connectors/shipped/`
//! (Membrane layout), embedded at build time and assembled by the same code that reads
//! a folder from disk ([`crate::definition::assemble_from`]).

use std::path::Path;

use serde_json::Value;

use crate::definition::{assemble_from, Connector, DefinitionError, FileList};

include!(concat!(env!("OUT_DIR"), "/shipped.rs"));

/// The embedded files: `(path relative to shipped/, contents)`, sorted by path.
pub fn files() -> FileList<'static> {
    FileList(FILES)
}

/// The keys of the shipped connectors (their folder names), sorted.
pub fn keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = FILES
        .iter()
        .filter_map(|(path, _)| path.split_once('/').map(|(key, _)| key))
        .collect();
    keys.dedup();
    keys
}

/// Each shipped connector's stored JSON shape (`key`, `name`, `logoUri`, auth, functions,
/// `data` collections), validated, in key order.
pub fn shipped() -> Result<Vec<Value>, DefinitionError> {
    keys()
        .into_iter()
        .map(|key| {
            let value = assemble_from(&files(), Path::new(key))?;
            Connector::from_value(&value)?;
            Ok(value)
        })
        .collect()
}
