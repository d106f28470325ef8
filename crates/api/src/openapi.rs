//! The OpenAPI 3 document of the API, built from the same element-type registry
//! that builds the router, so every generated route and every type's fields appear
//! in it. A test requests every documented path to keep the two in step.

use osmosis_model::element_type::{Layering, Writers};
use osmosis_model::fields::{FieldKind, FieldSpec};
use osmosis_model::response_keys::response_keys;
use osmosis_model::ElementType;
use serde_json::{json, Map, Value};

/// Query parameters of the flat selector (Q-layer).
const LAYER_PARAMS: [&str; 6] = [
    "layer",
    "integrationKey",
    "integrationId",
    "connectionId",
    "connectionKey",
    "instanceKey",
];

fn schema_of(kind: FieldKind) -> Value {
    match kind {
        FieldKind::String => json!({"type": "string"}),
        FieldKind::NullableString => json!({"type": "string", "nullable": true}),
        FieldKind::UrlOrEmpty => json!({"type": "string"}),
        FieldKind::Bool => json!({"type": "boolean"}),
        FieldKind::Number => json!({"type": "number"}),
        FieldKind::NullableNumber => json!({"type": "number", "nullable": true}),
        FieldKind::NumberAtLeast(min) => json!({"type": "number", "minimum": min}),
        FieldKind::Object | FieldKind::Schema => json!({"type": "object"}),
        FieldKind::StringArray => json!({"type": "array", "items": {"type": "string"}}),
        FieldKind::ObjectArray => json!({"type": "array", "items": {"type": "object"}}),
        FieldKind::Enum(options) => json!({"type": "string", "enum": options}),
        FieldKind::Any => json!({}),
    }
}

fn type_fields(t: ElementType) -> impl Iterator<Item = &'static FieldSpec> {
    t.spec().fields.iter().flat_map(|table| table.iter())
}

/// The JSON type of a response key, where the API fixes one; `{}` otherwise.
fn response_property(t: ElementType, key: &str) -> Value {
    if let Some(f) = type_fields(t).find(|f| f.name == key) {
        return schema_of(f.kind);
    }
    match key {
        "id"
        | "name"
        | "key"
        | "uuid"
        | "description"
        | "revision"
        | "createdAt"
        | "updatedAt"
        | "archivedAt"
        | "integrationId"
        | "parentId"
        | "connectionId"
        | "instanceKey"
        | "userId"
        | "tenantId"
        | "internalId"
        | "logoUri"
        | "connectorId"
        | "oAuthCallbackUri"
        | "appUri"
        | "webhookKey"
        | "globalWebhookUri"
        | "webhookUri"
        | "workspaceKey"
        | "baseUri"
        | "version"
        | "flowId"
        | "universalFlowId"
        | "dataSourceId"
        | "fieldMappingId"
        | "universalFieldMappingId"
        | "universalDataSourceId"
        | "universalParentId"
        | "appEventTypeId"
        | "dataLinkTableId"
        | "appDataSchemaId" => {
            json!({"type": "string"})
        }
        "meta" | "spec" | "integration" | "user" | "connection" | "flow" | "parent"
        | "dataSource" | "fieldMapping" => {
            json!({"type": "object"})
        }
        "state" => {
            json!({"type": "string", "enum": ["BUILDING", "CLIENT_ACTION_REQUIRED", "CONFIGURATION_ERROR", "SETUP_FAILED", "READY", "DISCONNECTING"]})
        }
        "errors" | "dependencies" | "appliedToIntegrations" => json!({"type": "array"}),
        k if k.starts_with("is") || k.starts_with("has") => json!({"type": "boolean"}),
        k if k.ends_with("Count") => json!({"type": "number"}),
        _ => json!({}),
    }
}

fn element_schema(t: ElementType) -> Value {
    let mut props = Map::new();
    for key in response_keys(t) {
        props.insert(key.to_string(), response_property(t, key));
    }
    json!({"type": "object", "required": ["id", "name"], "properties": props})
}

fn request_schema(t: ElementType) -> Value {
    let spec = t.spec();
    let mut props = Map::new();
    let mut envelope = vec!["uuid", "name", "description"];
    if spec.has_key {
        envelope.push("key");
    }
    if spec.has_integration {
        envelope.extend(["integrationId", "integrationUuid", "integrationKey"]);
    }
    if spec.parent_field.is_some() {
        envelope.extend(["parentId", "parentUuid", "parentKey"]);
        envelope.extend(spec.parent_field);
    }
    if matches!(spec.layering, Layering::Instance(_)) {
        envelope.extend(["connectionId", "instanceKey"]);
    }
    for f in envelope {
        props.insert(f.to_string(), json!({"type": "string"}));
    }
    props.insert("meta".into(), json!({"type": "object"}));
    if spec.layering == Layering::IntegrationLevel {
        props.insert("isUniversal".into(), json!({"type": "boolean"}));
    }
    for f in type_fields(t) {
        props.insert(f.name.to_string(), schema_of(f.kind));
    }
    if t == ElementType::Integration {
        for f in ["connectorId", "connectorUuid", "connectorKey"] {
            props.insert(f.into(), json!({"type": "string"}));
        }
    }
    json!({"type": "object", "required": spec.required_on_create, "properties": props})
}

fn type_schema_name(t: ElementType) -> String {
    let mut out = String::new();
    for part in t.name().split('-') {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    out
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn responses(ok: Value) -> Value {
    json!({
        "200": {"description": "OK", "content": {"application/json": {"schema": ok}}},
        "default": {"description": "An error", "content": {"application/json": {"schema": reference("ErrorData")}}}
    })
}

fn query_param(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn layer_params() -> Vec<Value> {
    LAYER_PARAMS
        .iter()
        .map(|p| {
            if *p == "layer" {
                query_param(
                    p,
                    json!({"type": "string", "enum": ["universal", "integration", "connection"]}),
                )
            } else {
                query_param(p, json!({"type": "string"}))
            }
        })
        .collect()
}

fn list_params() -> Vec<Value> {
    let mut v = vec![
        query_param(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        query_param("cursor", json!({"type": "string"})),
        query_param("search", json!({"type": "string"})),
        query_param("includeArchived", json!({"type": "boolean"})),
    ];
    v.extend(layer_params());
    v
}

fn op(summary: String, params: Vec<Value>, body: Option<Value>, ok: Value) -> Value {
    let mut o = json!({"summary": summary, "parameters": params, "responses": responses(ok)});
    if let Some(b) = body {
        o["requestBody"] =
            json!({"required": false, "content": {"application/json": {"schema": b}}});
    }
    o
}

/// Routes beside the element registry: calls through a connection (routes/calls.rs:
/// operations, data collections, `/act`, external API logs), the JSON half of the
/// connect flow and connection health (routes/connect.rs, routes/connections.rs),
/// and workspace settings. The proxy passes any method through, and the HTML pages,
/// form posts and SSE of the connect flow are for browsers; they are not listed.
fn connection_paths(paths: &mut Map<String, Value>) {
    let object = json!({"type": "object"});
    let sel = |extra: &[&str]| {
        let mut v = vec![path_param("selector")];
        v.extend(extra.iter().map(|p| path_param(p)));
        v
    };
    let entries: [(&str, &str, &str, Vec<Value>, bool); 16] = [
        ("/connections/{selector}/operations", "get", "The connection's operations", sel(&[]), false),
        ("/connections/{selector}/operations/{key}", "get", "An operation's spec", sel(&["key"]), false),
        ("/connections/{selector}/operations/{key}/run", "post", "Run an operation: `{input}` → `{output}`", sel(&["key"]), true),
        ("/connections/{selector}/data", "get", "The connection's data collections", sel(&[]), false),
        ("/connections/{selector}/data/{key}", "get", "A data collection's spec", sel(&["key"]), false),
        ("/connections/{selector}/data/{key}/{method}", "post",
         "Run a data collection method (list, find-by-id, search, match, create, update, delete, find); collection parameters in the query string",
         sel(&["key", "method"]), true),
        ("/act", "post", "Send an inline `api` request through a connection", vec![], true),
        ("/external-api-logs", "get", "Requests made to external APIs through connections", vec![], false),
        ("/external-api-logs/{selector}", "get", "One external API log with its masked request and response", vec![path_param("selector")], false),
        ("/connection-options", "post", "The auth options of an integration's connector (GeneratedConnectorOption[])", vec![], true),
        ("/connection-requests", "post", "Start an asynchronous connect finished at the answer's `url`", vec![], true),
        ("/connection-requests/{selector}", "get", "A connection request's status and result", vec![path_param("selector")], false),
        ("/connections/{selector}/refresh-credentials", "post", "Refresh the connection's credentials now", sel(&[]), false),
        ("/connections/{selector}/test", "post", "Run the connector's test through the connection: `{success, error?}`", sel(&[]), false),
        ("/settings", "get", "The workspace's settings (webhookUri, enabledWebhookEvents); admin", vec![], false),
        ("/settings", "patch", "Change the workspace's settings; admin", vec![], true),
    ];
    for (path, method, summary, params, body) in entries {
        let operation = op(
            summary.into(),
            params,
            body.then(|| object.clone()),
            object.clone(),
        );
        let mut item = Map::new();
        item.insert(method.into(), operation);
        paths.insert(path.into(), Value::Object(item));
    }
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert(
        "ErrorData".into(),
        json!({"type": "object", "required": ["message"], "properties": {
            "type": {"type": "string"}, "key": {"type": "string"}, "message": {"type": "string"}, "data": {}
        }}),
    );
    for t in ElementType::ALL {
        let spec = t.spec();
        let name = type_schema_name(t);
        schemas.insert(name.clone(), element_schema(t));
        schemas.insert(format!("{name}Request"), request_schema(t));
        let el = reference(&name);
        let req = reference(&format!("{name}Request"));
        let page = json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": el}, "cursor": {"type": "string"}}});
        let n = t.name();
        let mut collection =
            json!({"get": op(format!("List {n} elements"), list_params(), None, page)});
        if matches!(spec.writers, Writers::Admin | Writers::Owner) {
            collection["post"] = op(
                format!("Create a {n}"),
                vec![],
                Some(req.clone()),
                el.clone(),
            );
        }
        paths.insert(format!("/{}", spec.api_path), collection);
        let mut sel_params = vec![path_param("selector")];
        sel_params.extend(layer_params());
        let mut one = json!({
            "get": op(format!("Get a {n} by id, key or uuid"), sel_params.clone(), None, el.clone()),
        });
        if matches!(spec.writers, Writers::Admin | Writers::Owner) {
            one["patch"] = op(
                format!("Update a {n} partially"),
                sel_params.clone(),
                Some(req.clone()),
                el.clone(),
            );
            one["put"] = op(
                format!("Replace a {n}'s editable fields"),
                sel_params.clone(),
                Some(req.clone()),
                el.clone(),
            );
            one["delete"] = op(
                format!("Archive a {n}"),
                sel_params.clone(),
                None,
                el.clone(),
            );
        }
        paths.insert(format!("/{}/{{selector}}", spec.api_path), one);
        for (action, what) in [
            ("restore", "Restore an archived"),
            ("refresh", "Re-validate"),
            ("setup", "Re-run setup of"),
            ("reset", "Reset to its parent"),
        ] {
            paths.insert(
                format!("/{}/{{selector}}/{action}", spec.api_path),
                json!({"post": op(format!("{what} {n}"), sel_params.clone(), None, el.clone())}),
            );
        }
    }
    for (path, summary, ok) in [
        ("/health", "Readiness", json!({"type": "object"})),
        ("/self", "The calling customer", reference("Customer")),
        ("/openapi.json", "This document", json!({"type": "object"})),
    ] {
        paths.insert(
            path.into(),
            json!({"get": op(summary.into(), vec![], None, ok)}),
        );
    }
    connection_paths(&mut paths);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Osmosis — Membrane API", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
        },
        "security": [{"bearer": []}],
        "paths": paths
    })
}
