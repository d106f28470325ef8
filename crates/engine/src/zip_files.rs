//! Files carried as zip archives — workspace exports and imports
//! (`config_as_code`), connector sources (`connector_sources`): read within
//! limits, refusing what could reach outside the archive's tree, and written so
//! the same files always give the same bytes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use osmosis_model::ApiError;

/// How much a zip may hold, and what it is called in errors.
#[derive(Debug, Clone, Copy)]
pub struct ZipLimits {
    /// What the archive is, for messages ("a connector source").
    pub what: &'static str,
    pub entries: usize,
    pub inflated_bytes: u64,
    pub path_chars: usize,
}

fn bad_file(message: impl Into<String>) -> ApiError {
    ApiError::invalid_field("file", message.into())
}

/// The files of a zip by `/`-separated path, folders skipped. Refuses (as the
/// field `file`) what is not a zip, an entry with an absolute path or a `..`,
/// a name held twice, and archives past `limits` — read as inflated, so a zip
/// bomb stops at the budget.
pub fn read_zip(bytes: &[u8], limits: ZipLimits) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
    let what = limits.what;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| bad_file(format!("is not a zip archive: {e}")))?;
    if archive.len() > limits.entries {
        return Err(bad_file(format!(
            "holds {} entries; {what} may hold at most {}",
            archive.len(),
            limits.entries
        )));
    }
    let mut files = BTreeMap::new();
    let mut budget = limits.inflated_bytes;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| bad_file(format!("entry {i} cannot be read: {e}")))?;
        let raw_name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        // `enclosed_name` reads `/etc/x` as `etc/x`; an absolute path is
        // refused here instead, as is `..` anywhere.
        let absolute = raw_name.starts_with(['/', '\\']) || raw_name.get(1..2) == Some(":");
        let Some(name) = entry
            .enclosed_name()
            .and_then(|p| p.to_str().map(|s| s.replace('\\', "/")))
            .filter(|s| {
                !s.is_empty() && !absolute && !raw_name.split(['/', '\\']).any(|seg| seg == "..")
            })
        else {
            return Err(bad_file(format!(
                "entry `{raw_name}` has an unsafe path (absolute, or with `..`)"
            )));
        };
        if entry.is_dir() {
            continue;
        }
        if name.chars().count() > limits.path_chars {
            return Err(bad_file(format!(
                "entry `{name}` has a path longer than {} characters",
                limits.path_chars
            )));
        }
        let mut body = Vec::new();
        let read = entry
            .take(budget + 1)
            .read_to_end(&mut body)
            .map_err(|e| bad_file(format!("`{name}` cannot be inflated: {e}")))?;
        if read as u64 > budget {
            return Err(bad_file(format!(
                "inflates past {} bytes, more than {what} may hold",
                limits.inflated_bytes
            )));
        }
        budget -= read as u64;
        if files.insert(name.clone(), body).is_some() {
            return Err(bad_file(format!("holds `{name}` twice")));
        }
    }
    Ok(files)
}

/// `files` as a zip archive: deflated, in path order, entries without times,
/// so the same files always give the same bytes.
pub fn write_zip(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, ApiError> {
    let broken = |e: &dyn std::fmt::Display| ApiError::internal(format!("writing a zip: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)
            .map_err(|e| broken(&e))?;
        zip.write_all(bytes).map_err(|e| broken(&e))?;
    }
    let cursor = zip.finish().map_err(|e| broken(&e))?;
    Ok(cursor.into_inner())
}
