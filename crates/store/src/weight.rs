//! What a cached value costs in memory: an estimate of the heap bytes an element
//! or a JSON value holds, found by walking it.
//!
//! The read cache is bounded by these numbers, so they must grow with what really
//! grows (strings, arrays, object entries) and be cheap: no serialisation, one pass
//! over the value. Allocator rounding and hash-table slack are not counted; the
//! fixed per-entry overheads below keep a document of many tiny fields from
//! weighing nothing.

use std::mem::size_of;

use osmosis_model::Element;
use serde_json::{Map, Value};

/// An object entry of a `preserve_order` map (an `IndexMap`): the key and value in
/// the entries vector, its hash beside them, and its index in the hash table.
const OBJECT_ENTRY_BYTES: usize = size_of::<String>() + size_of::<Value>() + 2 * size_of::<usize>();

/// The heap bytes of an element: the struct itself, its strings and its document.
pub fn element_bytes(el: &Element) -> usize {
    let opt = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    size_of::<Element>()
        + el.id.capacity()
        + el.workspace_id.capacity()
        + opt(&el.key)
        + el.uuid.capacity()
        + el.name.capacity()
        + opt(&el.integration_id)
        + opt(&el.parent_id)
        + opt(&el.connection_id)
        + opt(&el.instance_key)
        + opt(&el.customer_id)
        + el.revision.capacity()
        + opt(&el.archived_at)
        + el.created_at.capacity()
        + el.updated_at.capacity()
        + map_bytes(&el.doc)
}

/// The heap bytes a JSON value owns beyond its own `size_of::<Value>()` (which its
/// container counts).
pub fn value_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity(),
        Value::Array(items) => {
            items.capacity() * size_of::<Value>() + items.iter().map(value_bytes).sum::<usize>()
        }
        Value::Object(m) => map_bytes(m),
    }
}

fn map_bytes(m: &Map<String, Value>) -> usize {
    m.iter()
        .map(|(k, v)| OBJECT_ENTRY_BYTES + k.capacity() + value_bytes(v))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_weigh_their_bytes() {
        let small = value_bytes(&json!({"a": "x"}));
        let big = value_bytes(&json!({"a": "x".repeat(100_000)}));
        assert!(big - small >= 99_999, "{small} → {big}");
    }

    #[test]
    fn nested_arrays_and_objects_count_every_level() {
        let flat = value_bytes(&json!([1, 2, 3]));
        let nested = value_bytes(&json!([[1, 2, 3], {"k": [1, 2, 3]}]));
        assert!(nested > 2 * flat, "{flat} vs {nested}");
    }

    #[test]
    fn many_empty_fields_are_not_free() {
        let m: Map<String, Value> = (0..1000).map(|i| (i.to_string(), Value::Null)).collect();
        assert!(value_bytes(&Value::Object(m)) >= 1000 * OBJECT_ENTRY_BYTES);
    }
}
