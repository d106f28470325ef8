//! `resolve_formulas` with an in-memory host: the outside-world callbacks are called
//! with the SDK's arguments, and a host that does not provide one leaves the formula
//! unresolved, as the SDK does.

use async_trait::async_trait;
use osmosis_runtime::formula::{resolve_formulas, FormulaHost, HostCallback};
use osmosis_runtime::{JsValue, Result};
use serde_json::{json, Value};
use std::sync::Mutex;

#[derive(Default)]
struct MemoryHost {
    provided: Vec<HostCallback>,
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl FormulaHost for MemoryHost {
    fn provides(&self, callback: HostCallback) -> bool {
        self.provided.contains(&callback)
    }
    async fn resolve_lookup(
        &self,
        lookup: JsValue,
        schema: JsValue,
        full_value: JsValue,
    ) -> Result<JsValue> {
        self.calls.lock().unwrap().push(format!(
            "lookup {lookup:?} {schema:?} {}",
            full_value.is_some()
        ));
        let email = lookup
            .as_ref()
            .and_then(|l| l["query"]["email"].as_str())
            .unwrap_or_default()
            .to_string();
        Ok(Some(Value::String(format!("ext-{email}"))))
    }
    async fn resolve_import_data_link(&self, table: Value, record: Value) -> Result<JsValue> {
        Ok(Some(json!(format!(
            "app-{}-{}",
            table.as_str().unwrap_or(""),
            record
        ))))
    }
    async fn resolve_export_data_link(&self, table: Value, record: Value) -> Result<JsValue> {
        Ok(Some(json!(format!(
            "ext-{}-{}",
            table.as_str().unwrap_or(""),
            record
        ))))
    }
    async fn get_data_collection(&self, key: JsValue, _parameters: JsValue) -> Result<JsValue> {
        Ok(Some(
            json!({"fieldsSchema": {"type": "object", "title": key}}),
        ))
    }
    async fn get_internal_data_schema(&self, key: JsValue) -> Result<JsValue> {
        Ok(Some(json!({"type": "string", "title": key})))
    }
}

fn all_callbacks() -> MemoryHost {
    MemoryHost {
        provided: vec![
            HostCallback::ResolveLookup,
            HostCallback::ResolveImportDataLink,
            HostCallback::ResolveExportDataLink,
            HostCallback::GetDataCollection,
            HostCallback::GetInternalDataSchema,
        ],
        calls: Mutex::new(Vec::new()),
    }
}

#[test]
fn callbacks_resolve_their_formulas() {
    let host = all_callbacks();
    let value = json!({
        "owner": {"$lookup": {"query": {"email": {"$var": "email"}}}},
        "app": {"$findAppRecordId": {"dataLinkTable": {"key": "t"}, "recordId": {"$var": "id"}}},
        "ext": {"$findExternalRecordId": {"dataLinkTable": {"key": "t"}, "recordId": 7}},
        "noId": {"$findAppRecordId": {"dataLinkTable": {"key": "t"}}},
        "dc": {"$dataSchemaRef": {"type": "data-collection", "key": "contacts"}},
        "internal": {"$dataSchemaRef": {"type": "internal-data-schema", "key": "s1"}},
    });
    let variables = json!({"email": "a@b.c", "id": "r1"});
    let schema = json!({"type": "object", "properties": {"owner": {"type": "string"}}});
    let out = futures::executor::block_on(resolve_formulas(
        Some(&value),
        Some(&variables),
        Some(&schema),
        Some(&host),
    ))
    .unwrap();
    assert_eq!(
        out,
        Some(json!({
            "owner": "ext-a@b.c",
            "app": "app-t-\"r1\"",
            "ext": "ext-t-7",
            "dc": {"type": "object", "title": "contacts"},
            "internal": {"type": "string", "title": "s1"},
        }))
    );
    let calls = host.calls.lock().unwrap();
    // The lookup sees the schema of its own position and the whole value.
    assert_eq!(calls.len(), 1);
    assert!(calls[0].contains("String(\"string\")"), "{}", calls[0]);
    assert!(calls[0].ends_with("true"));
}

#[test]
fn missing_callbacks_leave_formulas_unresolved() {
    let host = MemoryHost::default();
    let value = json!({"owner": {"$lookup": {"query": {"email": {"$var": "email"}}}}, "dc": {"$dataSchemaRef": {"type": "data-collection", "key": "c"}}});
    let variables = json!({"email": "a@b.c"});
    let out = futures::executor::block_on(resolve_formulas(
        Some(&value),
        Some(&variables),
        None,
        Some(&host),
    ))
    .unwrap();
    assert_eq!(
        out,
        Some(json!({"owner": {"$lookup": {"query": {"email": "a@b.c"}}}}))
    );
}
