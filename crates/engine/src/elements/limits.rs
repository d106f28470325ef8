//! How large the parts of an element may be, and the checks that hold every write
//! to it.
//!
//! An element is read far more often than it is written: every list, every
//! response and every read-cache entry carries its name and document again. Without
//! caps one request could store a name of megabytes that then multiplies in
//! memory on each read, so fields are capped where they enter (the body, the
//! token) with an error naming the field, and the whole element once more where it
//! is stored ([`check_write`]).

use osmosis_model::{ApiError, Element};
use serde_json::{Map, Value};

/// Keys and other identifiers (`key`, `internalId`, `instanceKey`, `uuid`,
/// references): they appear in URLs, selectors and unique indexes. 200 holds any
/// generated id, uuid or slug with room to spare.
pub(crate) const MAX_KEY_LEN: usize = 200;

/// Names are labels shown in lists and UIs; 1,000 characters is several lines of
/// text, beyond any real name, and a page of 1,000 list items then carries at most
/// about 4 MB of names.
pub(crate) const MAX_NAME_CHARS: usize = 1000;

/// Descriptions are free text (notes, markdown); 64 KiB is a long document.
pub(crate) const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// A whole stored element, envelope and document as JSON. The largest real
/// elements (flows of hundreds of nodes, connectors with embedded code and
/// schemas) stay well under 1 MiB; 4 MiB leaves room for those, is below the HTTP
/// body limit (10 MiB) so an oversized element gets this clear error rather than
/// 413, and is well within what the default read cache keeps per answer (8 MiB).
pub(crate) const MAX_ELEMENT_BYTES: usize = 4 * 1024 * 1024;

/// Why `key` cannot be a key or other identifier, if it cannot.
pub(crate) fn key_problem(key: &str) -> Option<String> {
    if key.trim().is_empty() {
        return Some("must not be empty".into());
    }
    if key.len() > MAX_KEY_LEN {
        return Some(format!("must be at most {MAX_KEY_LEN} characters"));
    }
    if key.chars().any(|c| c.is_control() || c == '/') {
        return Some("must not contain `/` or control characters".into());
    }
    None
}

/// A key-like field a body sets (`key`, `internalId`, `instanceKey`, `uuid`, …).
pub(crate) fn validate_key(field: &str, key: &str) -> Result<(), ApiError> {
    match key_problem(key) {
        Some(problem) => Err(ApiError::invalid_field(field, problem)),
        None => Ok(()),
    }
}

/// A uuid or instance key: non-empty, at most [`MAX_KEY_LEN`], no control
/// characters. Unlike keys these never stand in a URL path, so `/` is allowed,
/// as it was before limits were checked (an instance key is often an external
/// path or id of the customer's own).
pub(crate) fn check_identifier(field: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::invalid_field(field, "must not be empty"));
    }
    check_reference(field, value)
}

/// A value a body names another element by (its id, uuid or key). No stored
/// element has a longer one or one with control characters, so refusing it only
/// turns a certain "not found" into a clearer error, and keeps NUL away from
/// PostgreSQL, which cannot hold it in text.
pub(crate) fn check_reference(field: &str, value: &str) -> Result<(), ApiError> {
    if value.len() > MAX_KEY_LEN {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_KEY_LEN} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An element's name: at most [`MAX_NAME_CHARS`], no control characters.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    // Bytes bound characters from above: only long texts need counting.
    if name.len() > MAX_NAME_CHARS && name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::invalid_field(
            field,
            format!(
                "must be at most {MAX_NAME_CHARS} characters (got {})",
                name.chars().count()
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// An element's description: at most [`MAX_DESCRIPTION_BYTES`].
pub(crate) fn check_description(description: &str) -> Result<(), ApiError> {
    if description.len() > MAX_DESCRIPTION_BYTES {
        return Err(ApiError::invalid_field(
            "description",
            format!(
                "must be at most {} KiB (got {} bytes)",
                MAX_DESCRIPTION_BYTES / 1024,
                description.len()
            ),
        ));
    }
    Ok(())
}

/// The check every element write passes on its way to the store (create, change,
/// archive, refresh), whatever set the fields: the name when it changed, and the
/// size of the whole element. An element stored before these limits may keep what
/// it has, so the engine's own updates of it (health, refreshed credentials) go on,
/// but no write may make it larger while it is over the limit.
pub(crate) fn check_write(el: &Element, before: Option<&Element>) -> Result<(), ApiError> {
    if before.is_none_or(|b| b.name != el.name) {
        check_name("name", &el.name)?;
    }
    if let Some(path) = nul_at(&el.doc) {
        return Err(ApiError::invalid_field(
            &path,
            "must not contain a NUL character (\\u0000)",
        ));
    }
    let size = stored_bytes(el);
    if size > MAX_ELEMENT_BYTES && before.is_none_or(|b| size > stored_bytes(b)) {
        return Err(ApiError::bad_request(
            osmosis_model::error::keys::INVALID_BODY,
            format!(
                "The {} would be {size} bytes as stored (envelope and document as JSON); \
                 an element may be at most {MAX_ELEMENT_BYTES} bytes ({} MiB)",
                el.element_type.name(),
                MAX_ELEMENT_BYTES / (1024 * 1024)
            ),
        )
        .with_data(serde_json::json!({ "size": size, "limit": MAX_ELEMENT_BYTES })));
    }
    Ok(())
}

/// Where a document holds a NUL (in a string or a member name), as a dotted
/// path. PostgreSQL's `jsonb` cannot hold one, and lists that filter on document
/// fields cast every row of the workspace to `jsonb`: a single stored NUL would
/// make those lists fail for everyone, so none is stored on either backend.
fn nul_at(doc: &Map<String, Value>) -> Option<String> {
    fn walk(v: &Value, path: &mut String) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                if !found {
                    path.truncate(len);
                }
                found
            }),
            Value::Object(members) => in_members(members, path),
            _ => false,
        }
    }
    fn in_members(members: &Map<String, Value>, path: &mut String) -> bool {
        members.iter().any(|(k, v)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&k.replace('\0', "\\u0000"));
            let found = k.contains('\0') || walk(v, path);
            if !found {
                path.truncate(len);
            }
            found
        })
    }
    let mut path = String::new();
    in_members(doc, &mut path).then_some(path)
}

/// The bytes an element takes as stored: its envelope strings and its document as
/// JSON (counted while serialising, nothing is built).
fn stored_bytes(el: &Element) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    let envelope = el.id.len()
        + el.workspace_id.len()
        + opt(&el.key)
        + el.uuid.len()
        + el.name.len()
        + opt(&el.integration_id)
        + opt(&el.parent_id)
        + opt(&el.connection_id)
        + opt(&el.instance_key)
        + opt(&el.customer_id)
        + el.revision.len()
        + opt(&el.archived_at)
        + el.created_at.len()
        + el.updated_at.len();
    envelope + json_bytes(&el.doc)
}

fn json_bytes(doc: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, doc).expect("a JSON map serialises");
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_anywhere_in_a_document_is_found_with_its_path() {
        let doc = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(
            nul_at(&doc(serde_json::json!({"a": {"b": ["x", "y\u{0}"]}}))).as_deref(),
            Some("a.b[1]")
        );
        assert_eq!(
            nul_at(&doc(serde_json::json!({"meta": {"k\u{0}": 1}}))).as_deref(),
            Some("meta.k\\u0000")
        );
        assert_eq!(
            nul_at(&doc(
                serde_json::json!({"a": "\\u0000 is text", "b": [1, {"c": "d"}]})
            )),
            None
        );
    }

    #[test]
    fn identifiers_may_hold_slashes_but_not_control_characters() {
        assert!(check_identifier("instanceKey", "repos/acme/api").is_ok());
        assert!(check_identifier("instanceKey", "a\u{0}b").is_err());
        assert!(check_identifier("uuid", " ").is_err());
        assert!(check_identifier("uuid", &"u".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(validate_key("key", "a/b").is_err());
    }

    #[test]
    fn stored_size_counts_the_document_as_json() {
        let mut doc = Map::new();
        doc.insert("a".into(), Value::String("x".repeat(10)));
        assert_eq!(json_bytes(&doc), r#"{"a":"xxxxxxxxxx"}"#.len());
    }

    #[test]
    fn names_are_counted_in_characters() {
        assert!(check_name("name", &"é".repeat(MAX_NAME_CHARS)).is_ok());
        assert!(check_name("name", &"é".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert!(check_name("name", "a\u{0}b").is_err());
    }
}
