//! The OpenAPI 3 document of the API, built from the same element-type registry
//! that builds the router, so every generated route and every type's fields appear
//! in it. Two tests keep the two in step: every documented operation is routed
//! (seeds.rs), and every routed one is documented (openapi_routes.rs).

use osmosis_engine::actions::ActRequest;
use osmosis_engine::connect::oauth_session::ConnectRequest;
use osmosis_engine::notify::outbound::SettingsPatch;
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

/// The Q-layer query; `layer=connection` only where it is accepted (see
/// [`has_connection_layer`]).
fn layer_params(connection_layer: bool) -> Vec<Value> {
    let layers: &[&str] = if connection_layer {
        &["universal", "integration", "connection"]
    } else {
        &["universal", "integration"]
    };
    LAYER_PARAMS
        .iter()
        .map(|p| {
            if *p == "layer" {
                query_param(p, json!({"type": "string", "enum": layers}))
            } else {
                query_param(p, json!({"type": "string"}))
            }
        })
        .collect()
}

/// Whether a selector of `t` takes `layer=connection`: a type with connection-level
/// instances selects the instance, and an instance is selected by its id whatever
/// the layer; any other type answers 400 (it has no connection layer). Lists take
/// it everywhere: they ignore it where there are no instances.
fn has_connection_layer(t: ElementType) -> bool {
    t.instance_type().is_some() || matches!(t.spec().layering, Layering::Instance(_))
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
    v.extend(layer_params(true));
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

/// Makes the request body schema of an operation.
type BodySchema = fn() -> Value;

/// Path, method, summary, parameters and body of an operation beside the registry.
type Entry = (
    &'static str,
    &'static str,
    &'static str,
    Vec<Value>,
    Option<BodySchema>,
);

/// Routes beside the element registry: calls through a connection (routes/calls.rs:
/// operations, data collections, `/act`, external API logs), the JSON half of the
/// connect flow and connection health (routes/connect.rs, routes/connections.rs),
/// and workspace settings. (The HTML pages, form posts and SSE of the connect flow
/// are for browsers and are not listed: crates/osmosis/tests/it/openapi_routes.rs keeps
/// that list and checks every other route is here.)
fn connection_paths(paths: &mut Map<String, Value>) {
    let object = json!({"type": "object"});
    let sel = |extra: &[&str]| {
        let mut v = vec![path_param("selector")];
        v.extend(extra.iter().map(|p| path_param(p)));
        v
    };
    // The body of each: a handler's typed body has its schema derived from that
    // type; the others take an object the handler reads as given.
    let any: Option<BodySchema> = Some(|| json!({"type": "object"}));
    let run: Option<BodySchema> = Some(body_schema::<crate::routes::RunOperation>);
    let settings: Option<BodySchema> = Some(body_schema::<SettingsPatch>);
    let connect: Option<BodySchema> = Some(body_schema::<ConnectRequest>);
    let entries: [Entry; 19] = [
        ("/connections/{selector}/operations", "get", "The connection's operations", sel(&[]), None),
        ("/connections/{selector}/operations/{key}", "get", "An operation's spec", sel(&["key"]), None),
        ("/connections/{selector}/operations/{key}/run", "post", "Run an operation: `{input}` → `{output}`", sel(&["key"]), run),
        ("/connections/{selector}/data", "get", "The connection's data collections", sel(&[]), None),
        ("/connections/{selector}/data/{key}", "get", "A data collection's spec", sel(&["key"]), None),
        ("/connections/{selector}/data/{key}/{method}", "post",
         "Run a data collection method (list, find-by-id, search, match, create, update, delete, find); collection parameters in the query string",
         sel(&["key", "method"]), any),
        ("/external-api-logs", "get", "Requests made to external APIs through connections", vec![], None),
        ("/external-api-logs/{selector}", "get", "One external API log with its masked request and response", vec![path_param("selector")], None),
        ("/connection-options", "post", "The auth options of an integration's connector (GeneratedConnectorOption[])", vec![], connect),
        ("/connection-requests", "post", "Start an asynchronous connect finished at the answer's `url`", vec![], any),
        ("/connection-requests/{selector}", "get", "A connection request's status and result", vec![path_param("selector")], None),
        ("/connections/{selector}/refresh-credentials", "post", "Refresh the connection's credentials now", sel(&[]), None),
        ("/connections/{selector}/test", "post", "Run the connector's test through the connection: `{success, error?}`", sel(&[]), None),
        ("/settings", "get", "The workspace's settings (webhookUri, enabledWebhookEvents); admin", vec![], None),
        ("/settings", "patch", "Change the workspace's settings; admin", vec![], settings),
        ("/export", "get", "Start exporting the workspace (admin; `includeSecrets`): the background job to poll", vec![query_param("includeSecrets", json!({"type": "boolean"}))], None),
        ("/import", "post", "Start importing a zip in the export's layout (admin): the background job to poll; its result lists the changes. `dryRun`/`diff` write nothing, `partial` archives nothing, `force` archives elements customers use",
         ["dryRun", "diff", "partial", "force"].iter().map(|p| query_param(p, json!({"type": "boolean"}))).collect(), None),
        ("/background-jobs/{id}", "get", "A background job: `{id, type, status: running|completed|failed, result?: {downloadUrl}, error?}`; admin", vec![path_param("id")], None),
        ("/background-jobs/{id}/download", "get", "The zip a completed export produced (application/zip); admin", vec![path_param("id")], None),
    ];
    for (path, method, summary, params, body) in entries {
        // The operation and data collection lists and the connection options are
        // arrays; everything else an object.
        let ok = if path.ends_with("/operations") || path.ends_with("/data") {
            spec_list()
        } else if path == "/connection-options" {
            json!({"type": "array", "items": {"type": "object"}})
        } else {
            object.clone()
        };
        let mut operation = op(summary.into(), params, body.map(|schema| schema()), ok);
        if path.ends_with("/{method}") {
            operation["responses"]["204"] = json!({"description": "`delete` answers nothing"});
        }
        if path == "/import" {
            operation["requestBody"] = json!({"required": true, "content": {
                "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}}}},
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
            }});
        }
        if path.ends_with("/download") {
            operation["responses"]["200"]["content"] =
                json!({"application/zip": {"schema": {"type": "string", "format": "binary"}}});
        }
        add(paths, path, method, operation);
    }
}

/// Connector sources and versions (routes/connector_sources.rs), admin only: the
/// source zip's upload and download, published versions, and one file of the
/// development source.
fn connector_source_paths(paths: &mut Map<String, Value>) {
    let connector = reference(&type_schema_name(ElementType::Connector));
    let binary = || json!({"type": "string", "format": "binary"});
    let version = json!({"type": "object", "required": ["id", "connectorId", "version", "createdAt"],
        "properties": {"id": {"type": "string"}, "connectorId": {"type": "string"},
            "version": {"type": "string"}, "changelog": {"type": "string"},
            "createdAt": {"type": "string", "format": "date-time"}}});
    let sel = || vec![path_param("selector")];
    let zip_form = |required: &[&str], with_version: bool| {
        let mut properties = json!({"file": binary()});
        if with_version {
            properties["version"] = json!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._+-]*$", "maxLength": 100});
            properties["changelog"] = json!({"type": "string"});
        }
        json!({"type": "object", "required": required, "properties": properties})
    };
    // The JSON form of a publish names a version, and takes no file.
    let without_file = |mut schema: Value| {
        if let Some(properties) = schema["properties"].as_object_mut() {
            properties.remove("file");
        }
        schema
    };
    let mut upload = op(
        "Upload the connector's source folder as a zip (admin): it becomes the development source and the connector's definition; answers the connector".into(),
        sel(), None, connector.clone());
    upload["requestBody"] = json!({"required": true, "content": {
        "multipart/form-data": {"schema": zip_form(&["file"], false)},
        "application/zip": {"schema": binary()},
    }});
    add(paths, "/connectors/{selector}/upload", "post", upload);
    let mut download = op(
        "The source zip of a version (admin); `development` (the default) is built from the definition when none was uploaded".into(),
        vec![path_param("selector"), query_param("version", json!({"type": "string"}))], None, json!({}));
    download["responses"]["200"]["content"] = json!({"application/zip": {"schema": binary()}});
    add(paths, "/connectors/{selector}/download", "get", download);
    add(
        paths,
        "/connectors/{selector}/versions",
        "get",
        op(
            "The connector's published versions, newest first, as an array (admin)".into(),
            sel(),
            None,
            json!({"type": "array", "items": version.clone()}),
        ),
    );
    let mut publish = op(
        "Publish a version (admin): the zip given, else the development source; versions cannot change (409 when it exists)".into(),
        sel(), None, version);
    publish["requestBody"] = json!({"required": true, "content": {
        "multipart/form-data": {"schema": zip_form(&["version"], true)},
        "application/json": {"schema": without_file(zip_form(&["version"], true))},
    }});
    add(
        paths,
        "/connectors/{selector}/publish-version",
        "post",
        publish,
    );
    let file_params = || vec![path_param("selector"), path_param("path")];
    let mut put_file = op(
        "Write one file of the development source (the body is its contents); the connector's definition follows; answers the connector (admin)".into(),
        file_params(), None, connector.clone());
    put_file["requestBody"] = json!({"required": true, "content": {
        "text/plain": {"schema": {"type": "string"}},
    }});
    add(
        paths,
        "/connectors/{selector}/files/{path}",
        "put",
        put_file,
    );
    add(paths, "/connectors/{selector}/files/{path}", "delete", op(
        "Delete one file of the development source; the connector's definition follows; answers the connector (admin)".into(),
        file_params(), None, connector));
}

/// Package versions (routes/package_versions.rs), admin only: publish and list,
/// and `version` on the package GETs (`dev`, the default, is the working copy;
/// `latest` the newest version). `alias_paths` copies them under `/scenarios`.
fn package_version_paths(paths: &mut Map<String, Value>) {
    let item = json!({"type": "object", "required": ["id", "version"],
        "properties": {"id": {"type": "string"}, "version": {"type": "string"},
            "changelog": {"type": "string"}, "parentPackageVersion": {"type": "string"}}});
    add(
        paths,
        "/packages/{selector}/versions",
        "get",
        op(
            "The package's published versions, newest first (admin)".into(),
            vec![path_param("selector")],
            None,
            json!({"type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": item.clone()}}}),
        ),
    );
    let mut publish = op(
        "Publish the package as it is now as a version (admin); versions cannot change (409 when it exists, 410 for an archived package); `parentPackageVersion` is the version published before".into(),
        vec![path_param("selector")],
        Some(body_schema::<crate::routes::PublishPackageVersion>()),
        item,
    );
    publish["requestBody"]["required"] = json!(true);
    add(paths, "/packages/{selector}/versions", "post", publish);
    let package = reference(&type_schema_name(ElementType::Package));
    for (action, summary, body) in [
        ("publish", "Make the package public: every workspace of this server can list it and install its published versions (admin; it needs a published version and universal elements)", None),
        ("unpublish", "Make the package private again; installs made keep what they have (admin)", None),
        ("upgrade", "Move a package installed from a public package to a newer published version (`version`, newest by default); customised integration copies are kept (admin)", Some(body_schema::<crate::routes::PackageVersionChoice>())),
    ] {
        add(
            paths,
            &format!("/packages/{{selector}}/{action}"),
            "post",
            op(summary.into(), vec![path_param("selector")], body, package.clone()),
        );
    }
    let public_list = json!({"type": "object", "required": ["items"],
        "properties": {"items": {"type": "array", "items": package.clone()}, "cursor": {"type": "string"}}});
    add(
        paths,
        "/public-packages",
        "get",
        op(
            "The public packages of every workspace, each as its newest version names it; `search` matches name or key (admin)".into(),
            vec![
                query_param("search", json!({"type": "string"})),
                query_param("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000})),
                query_param("cursor", json!({"type": "string"})),
            ],
            None,
            public_list,
        ),
    );
    add(
        paths,
        "/public-packages/{id}/install",
        "post",
        op(
            "Install a public package's version (`version`, newest by default) into this workspace: its elements read-only (admin); answers the installed package".into(),
            vec![path_param("id")],
            Some(body_schema::<crate::routes::PackageVersionChoice>()),
            package,
        ),
    );
    let version = query_param("version", json!({"type": "string", "maxLength": 100}));
    for path in ["/packages/{selector}", "/package"] {
        if let Some(Value::Array(params)) = paths
            .get_mut(path)
            .and_then(|item| item.get_mut("get"))
            .and_then(|get| get.get_mut("parameters"))
        {
            params.push(version.clone());
        }
    }
}

/// `(path, method, summary, parameters, body, 200 response)`.
type Operation = (
    &'static str,
    &'static str,
    &'static str,
    Vec<Value>,
    Option<Value>,
    Value,
);

/// Running actions (routes/actions.rs) and their run logs.
fn action_paths(paths: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let conn_query = || {
        [
            "integrationId",
            "integrationKey",
            "connectionId",
            "connectionKey",
            "instanceKey",
        ]
        .map(|n| query_param(n, s()))
        .to_vec()
    };
    let with = |mut base: Vec<Value>, extra: Vec<Value>| {
        base.extend(extra);
        base
    };
    let run_ok =
        json!({"type": "object", "properties": {"output": {}, "actionRunId": {"type": "string"}}});
    let object = json!({"type": "object"});
    let raw = Some(json!({"type": "object"}));
    let run_body = Some(body_schema::<crate::routes::RunActionRequest>());
    let page = json!({"type": "object", "required": ["items"], "properties": {
        "items": {"type": "array", "items": {"type": "object"}}, "cursor": {"type": "string"}}});
    let log_query: Vec<Value> = [
        "actionId",
        "universalActionId",
        "integrationActionId",
        "connectionActionId",
        "integrationId",
        "connectionId",
        "tenantId",
        "status",
        "from",
        "to",
        "sortOrder",
        "limit",
        "cursor",
    ]
    .map(|n| query_param(n, s()))
    .to_vec();
    let entries: Vec<Operation> = vec![
        ("/act", "post", "Run an action: exactly one of `id`, `key`, `api`, `code`", vec![],
         Some(body_schema::<ActRequest>()), run_ok.clone()),
        ("/actions/{selector}/run", "post", "Run an action on a connection: `{input}` → `{output, actionRunId}`",
         with(vec![path_param("selector")], conn_query()), run_body.clone(), run_ok.clone()),
        ("/action/run", "post", "Run the action the query selects",
         with(vec![query_param("id", s()), query_param("key", s())], conn_query()), run_body, run_ok.clone()),
        ("/connections/{connection}/actions/{selector}/run", "post", "Run an action on this connection; the body is the input",
         vec![path_param("connection"), path_param("selector"), query_param("instanceKey", s())], raw.clone(), run_ok.clone()),
        ("/action-instance/run", "post", "Run the action instance the query selects; the body is the input",
         with(vec![query_param("id", s()), query_param("actionId", s()), query_param("actionKey", s()), query_param("parentId", s()), query_param("parentKey", s())], conn_query()),
         raw.clone(), run_ok.clone()),
        ("/action-instances/{selector}/run", "post", "Run an action instance (legacy); the body is the input",
         vec![path_param("selector")], raw, run_ok),
        ("/connections/{connection}/execute-request", "post", "Send `{key: \"[METHOD ]path\", payload}` through the connection (legacy); answers the response body",
         vec![path_param("connection")], Some(body_schema::<crate::routes::ExecuteRequest>()), json!({})),
        ("/action-run-logs", "get", "Action runs, newest first", log_query, None, page),
        ("/action-run-logs/{selector}", "get", "One action run; `details=true` adds its external calls",
         vec![path_param("selector"), query_param("details", json!({"type": "boolean"}))], None, object.clone()),
        ("/action-run-logs/{selector}/details", "get", "One action run with its external calls",
         vec![path_param("selector")], None, object),
    ];
    for (path, method, summary, params, body, ok) in entries {
        add(paths, path, method, op(summary.into(), params, body, ok));
    }
}

/// A flow run as the API answers it (`FlowRunApiResponse`, api-surface §6.4).
/// Written out rather than a component: a `$ref`'d page item is how seed.py tells
/// an element collection, and runs are not elements.
fn flow_run_schema() -> Value {
    let s = || json!({"type": "string"});
    let states = ["queued", "running", "completed", "failed", "stopped"];
    let node_states = ["running", "completed", "stopped", "failed"];
    let launchers = [
        "api-trigger",
        "schedule-trigger",
        "app-event-trigger",
        "data-source-trigger",
        "external-event",
    ];
    json!({
        "type": "object",
        "required": ["id", "userId", "connectionFlowId", "startNodeKey", "state", "startTime"],
        "properties": {
            "id": s(), "name": s(), "userId": s(), "tenantId": s(),
            "integrationId": s(), "connectionId": s(), "externalAppId": s(),
            "connectionFlowId": s(), "integrationFlowId": s(), "universalFlowId": s(),
            "flowInstanceId": s(), "flowId": s(),
            "startNodeKey": s(),
            "input": {},
            "state": {"type": "string", "enum": states},
            "startTime": s(), "endTime": s(),
            "errors": {"type": "array", "items": reference("ErrorData")},
            "nodes": {"type": "object", "additionalProperties": {
                "type": "object", "required": ["state"], "properties": {
                    "state": {"type": "string", "enum": node_states},
                    "runs": {"type": "number"}, "erroredRuns": {"type": "number"},
                    "outputs": {"type": "number"}}}},
            "launchedBy": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string", "enum": launchers},
                "ids": {"type": "array", "items": s()}}},
            "meta": {"type": "object"}
        }
    })
}

/// A node run (`FlowNodeRunRecord`, api-surface §6.5): outputs with their data
/// (a string: serialised JSON), or in a list without it.
fn node_run_schema(with_data: bool) -> Value {
    let s = || json!({"type": "string"});
    let mut output = json!({"type": "object", "required": ["id", "downstreamRuns"], "properties": {
        "id": s(),
        "downstreamRuns": {"type": "array", "items": {"type": "object", "required": ["runId", "nodeKey"],
            "properties": {"runId": s(), "nodeKey": s()}}}}});
    if with_data {
        output["required"] = json!(["id", "data", "downstreamRuns"]);
        output["properties"]["data"] = s();
    }
    json!({
        "type": "object",
        "required": ["id", "upstreamRuns", "status", "logs", "outputs", "errors"],
        "properties": {
            "id": s(),
            "upstreamRuns": {"type": "array", "items": {"type": "object", "required": ["nodeKey", "runId"],
                "properties": {"nodeKey": s(), "runId": s(), "outputId": s()}}},
            "input": {},
            "status": {"type": "string", "enum": ["completed", "failed", "skipped"]},
            "logs": {"type": "array"},
            "outputs": {"type": "array", "items": output},
            "errors": {"type": "array", "items": reference("ErrorData")},
            "nodeKey": s(), "nodeName": s(), "startTime": s(), "endTime": s()
        }
    })
}

/// Flow runs (routes/flow_runs.rs, api-surface §2.10): starting, listing, reading
/// and stopping them, and their node runs and outputs; and bringing a flow instance
/// up to date with its flow (routes/flow_instances.rs).
fn flow_run_paths(paths: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let run = flow_run_schema();
    let create = Some(body_schema::<crate::routes::CreateFlowRun>());
    let start = Some(body_schema::<crate::routes::RunFlow>());
    let mut find: Vec<Value> = [
        "flowId",
        "universalFlowId",
        "integrationFlowId",
        "connectionFlowId",
        "flowInstanceId",
        "tenantId",
        "userId",
        "integrationId",
        "connectionId",
        "cursor",
    ]
    .map(|n| query_param(n, s()))
    .to_vec();
    find.extend([
        query_param(
            "state",
            json!({"type": "string", "enum": ["queued", "running", "completed", "failed", "stopped"]}),
        ),
        query_param("from", json!({"type": "string", "format": "date-time"})),
        query_param("to", json!({"type": "string", "format": "date-time"})),
        query_param("sortOrder", json!({"type": "string", "enum": ["asc", "desc"]})),
        query_param(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
    ]);
    let id = || path_param("id");
    let node = || vec![id(), path_param("node")];
    let node_page = || {
        let mut v = node();
        v.extend([
            query_param("cursor", s()),
            query_param(
                "limit",
                json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            ),
        ]);
        v
    };
    let summaries = page_of(node_run_schema(false));
    let output = json!({"type": "object", "required": ["id", "data"],
        "properties": {"id": s(), "data": s()}});
    let entries: Vec<Operation> = vec![
        ("/flow-runs", "get", "Flow runs, newest first unless `sortOrder=asc`; a customer sees its own",
         find, None, page_of(run.clone())),
        ("/flow-runs", "post", "Start a run of a flow instance from a trigger (by default its only api-trigger); answers the run, queued",
         vec![], create, run.clone()),
        ("/flow-runs/{id}", "get", "One flow run; `wait=<seconds>` (at most 60) answers once it has ended or the wait is over",
         vec![id(), query_param("wait", json!({"type": "number", "minimum": 0, "maximum": 60}))], None, run.clone()),
        ("/flow-runs/{id}/stop", "post", "Stop a run: a queued one at once, a running one at its next node boundary",
         vec![id()], None, run.clone()),
        ("/flow-runs/{id}/output", "get", "The run's final output (null until it completed)",
         vec![id()], None, json!({})),
        ("/flow-runs/{id}/nodes/{node}/runs", "get", "Runs of one node, oldest first, without their outputs' data",
         node_page(), None, summaries.clone()),
        ("/flow-runs/{id}/nodes/{node}/runs/", "get", "Runs of one node (the SDK's `getNodeRuns` path)",
         node_page(), None, summaries.clone()),
        ("/flow-runs/{id}/nodes/{node}/runs/{run}", "get",
         "One node run with its outputs' data; a last segment with `=` (the SDK's `runs/cursor=2`) is read as the query of the node run list",
         {
             let mut v = node();
             v.push(path_param("run"));
             v
         },
         None, json!({"anyOf": [node_run_schema(true), summaries]})),
        ("/flow-runs/{id}/nodes/{node}/outputs", "get", "Outputs of one node's runs, `{id, data}` each",
         node_page(), None, page_of(output.clone())),
        ("/flow-runs/{id}/nodes/{node}/output/{output}", "get", "One output of a node run: `{id, data}`",
         {
             let mut v = node();
             v.push(path_param("output"));
             v
         },
         None, output),
        ("/connections/{connection}/flows/{selector}/run", "post",
         "Start a run of the connection's instance of a flow (made if missing); answers the run, queued",
         vec![path_param("connection"), path_param("selector"), query_param("instanceKey", s())],
         start.clone(), run.clone()),
        ("/flow-instances/{id}/run", "post", "Start a run of a flow instance (legacy); answers the run, queued",
         vec![id()], start, run),
        ("/flow-instances/{id}/update-to-latest-flow", "post",
         "Take the flow's current definition for every part the instance has not customised; answers the instance",
         vec![id()], None, reference(&type_schema_name(ElementType::FlowInstance))),
    ];
    for (path, method, summary, params, body, ok) in entries {
        add(paths, path, method, op(summary.into(), params, body, ok));
    }
}

/// A data source instance's collection (routes/data_sources.rs), by object selector
/// and by id.
fn data_source_paths(paths: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let selector: Vec<Value> = [
        "id",
        "dataSourceId",
        "dataSourceKey",
        "parentId",
        "parentKey",
        "connectionId",
        "connectionKey",
        "integrationId",
        "integrationKey",
        "instanceKey",
    ]
    .map(|n| query_param(n, s()))
    .into_iter()
    .chain([query_param("autoCreate", json!({"type": "boolean"}))])
    .collect();
    let method = path_param("method");
    let object = json!({"type": "object"});
    let body = Some(json!({"type": "object"}));
    for (prefix, params) in [
        ("/data-source-instance", selector),
        (
            "/data-source-instances/{selector}",
            vec![path_param("selector")],
        ),
    ] {
        let with_method = {
            let mut p = params.clone();
            p.push(method.clone());
            p
        };
        let mut run = op(
            "Run a method of the instance's collection (list, find-by-id, search, match, create, update, delete, find)".into(),
            with_method,
            body.clone(),
            object.clone(),
        );
        run["responses"]["204"] = json!({"description": "`delete` answers nothing"});
        add(
            paths,
            &format!("{prefix}/collection/{{method}}"),
            "post",
            run,
        );
        add(
            paths,
            &format!("{prefix}/collection"),
            "get",
            op(
                "The collection the instance points at (DataCollectionSpec)".into(),
                params.clone(),
                None,
                object.clone(),
            ),
        );
        add(
            paths,
            &format!("{prefix}/unified-fields-to-native"),
            "post",
            op(
                "Unified fields as the connector's native fields".into(),
                params,
                body.clone(),
                object.clone(),
            ),
        );
    }
}

/// The links of a data link table instance (routes/data_links.rs): the selector
/// of `/data-link-table-instance` in the query, with the find parameters on GET.
fn data_link_paths(paths: &mut Map<String, Value>) {
    let t = ElementType::DataLinkTableInstance;
    let selector = object_selector_params(t);
    let mut find_params = selector.clone();
    find_params.extend([
        query_param(
            "direction",
            json!({"type": "string", "enum": ["import", "export", "both"]}),
        ),
        query_param("appRecordId", json!({"type": "string"})),
        query_param("externalRecordId", json!({"type": "string"})),
        query_param(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        query_param("cursor", json!({"type": "string"})),
    ]);
    let link = json!({"type": "object", "required": ["id", "dataLinkTableInstanceId", "externalRecordId", "appRecordId", "direction"], "properties": {
        "id": {"type": "string"}, "dataLinkTableInstanceId": {"type": "string"},
        "externalRecordId": {"type": "string"}, "appRecordId": {"type": "string"},
        "direction": {"type": "string", "enum": ["import", "export"]}}});
    let body = || Some(body_schema::<crate::routes::LinkBody>());
    let path = "/data-link-table-instance/links";
    add(
        paths,
        path,
        "get",
        op(
            "Links of the data link table instance the query selects, oldest first".into(),
            find_params,
            None,
            page_of(link),
        ),
    );
    add(
        paths,
        path,
        "post",
        op(
            "Link an app record and an external record (`both` directions unless one is named); replaces the older link of either record in that direction".into(),
            selector.clone(),
            body(),
            json!({"type": "object"}),
        ),
    );
    add(
        paths,
        path,
        "delete",
        op(
            "Unlink an app record and an external record (both directions unless one is named)"
                .into(),
            selector,
            body(),
            json!({"type": "object"}),
        ),
    );
}

/// The OpenAPI 3.0 schema of a handler's typed body, derived from the type the
/// handler deserializes (`Body<T>`), so the document says what the handler takes.
fn body_schema<T: schemars::JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::openapi3();
    settings.inline_subschemas = true;
    let mut schema = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    schema
}

/// Adds one operation to a path item, beside the methods already there (`/settings`
/// has GET and PATCH: inserting the path item twice would keep only the last).
fn add(paths: &mut Map<String, Value>, path: &str, method: &str, operation: Value) {
    let item = paths.entry(path.to_string()).or_insert_with(|| json!({}));
    item[method] = operation;
}

/// `[{key, name, ...}]`: a connector's operations or data collections.
fn spec_list() -> Value {
    json!({"type": "array", "items": {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}})
}

/// Query parameters of one page of a list whose layer the path fixes.
fn page_params() -> Vec<Value> {
    list_params()
        .into_iter()
        .filter(|p| !LAYER_PARAMS.contains(&p["name"].as_str().unwrap_or_default()))
        .collect()
}

/// The object selector (`/{singular}?…`, the SDK's style B) of `t` in the query:
/// an instance by id, or by its parent and connection (and instance key); any other
/// element by id or key, in a layer.
fn object_selector_params(t: ElementType) -> Vec<Value> {
    let string = || json!({"type": "string"});
    let mut names: Vec<String> = vec!["id".into()];
    let mut v = Vec::new();
    if let Layering::Instance(parent) = t.spec().layering {
        let stem = osmosis_engine::elements::camel_stem_of(parent);
        names.extend([format!("{stem}Id"), format!("{stem}Key")]);
        names.extend(
            [
                "parentId",
                "parentKey",
                "connectionId",
                "connectionKey",
                "integrationId",
                "integrationKey",
                "instanceKey",
            ]
            .map(String::from),
        );
    } else {
        names.push("key".into());
        v.extend(layer_params(has_connection_layer(t)));
    }
    v.extend(names.iter().map(|n| query_param(n, string())));
    v.push(query_param("autoCreate", json!({"type": "boolean"})));
    v
}

/// `/{singular}?{selector}`: get, change, archive, create (the selector's fields
/// name the parent, connection and instance key; the body the rest), and its
/// restore, setup and reset.
fn singular_paths(paths: &mut Map<String, Value>, t: ElementType) {
    let Some(singular) = t.spec().singular_path else {
        return;
    };
    let name = type_schema_name(t);
    let (el, req) = (reference(&name), reference(&format!("{name}Request")));
    let n = t.name();
    let params = object_selector_params(t);
    let one = format!("/{singular}");
    let mut secret_params = params.clone();
    secret_params.push(query_param("includeSecrets", json!({"type": "boolean"})));
    add(
        paths,
        &one,
        "get",
        op(
            format!("Get a {n} by an object selector"),
            secret_params.clone(),
            None,
            el.clone(),
        ),
    );
    add(
        paths,
        &one,
        "delete",
        op(
            format!("Archive the {n} an object selector names"),
            secret_params,
            None,
            el.clone(),
        ),
    );
    add(
        paths,
        &one,
        "patch",
        op(
            format!("Update the {n} an object selector names"),
            params.clone(),
            Some(req.clone()),
            el.clone(),
        ),
    );
    add(
        paths,
        &one,
        "put",
        op(
            format!("Replace the {n} an object selector names"),
            params.clone(),
            Some(req.clone()),
            el.clone(),
        ),
    );
    add(
        paths,
        &one,
        "post",
        op(
            format!("Create a {n} with the selector's parent, connection and instance key"),
            params.clone(),
            Some(req),
            el.clone(),
        ),
    );
    for (action, what, body) in [
        ("restore", "Restore an archived", false),
        ("setup", "Re-run setup of", false),
        ("reset", "Reset to its parent", true),
    ] {
        let body = body.then(|| json!({"type": "object"}));
        add(
            paths,
            &format!("{one}/{action}"),
            "post",
            op(
                format!("{what} {n} (object selector)"),
                params.clone(),
                body,
                el.clone(),
            ),
        );
    }
    if t.spec().layering == osmosis_model::element_type::Layering::IntegrationLevel {
        add(
            paths,
            &format!("{one}/apply"),
            "post",
            op(
                format!("Make the universal {n}'s copies for the integrations `integrationKeys` names (Membrane's CLI 1.x); answers the universal {n}"),
                params.clone(),
                Some(body_schema::<crate::routes::ApplyRequest>()),
                el,
            ),
        );
    }
}

/// The routes of the element types' aliases (`/scenarios` for packages): each of
/// the type's own top-level paths again under the alias, as the router serves them.
fn alias_paths(paths: &mut Map<String, Value>) {
    for (t, plural, singular) in crate::routes::ELEMENT_ALIASES {
        let spec = t.spec();
        let own_plural = format!("/{}", spec.api_path);
        let own_singular = spec.singular_path.map(|s| format!("/{s}"));
        let under = |path: &str, stem: &str| {
            path.strip_prefix(stem)
                .filter(|rest| rest.is_empty() || rest.starts_with('/'))
                .map(str::to_owned)
        };
        let copies: Vec<(String, Value)> = paths
            .iter()
            .filter_map(|(path, item)| {
                let aliased = match under(path, &own_plural) {
                    Some(rest) => format!("/{plural}{rest}"),
                    None => format!("/{singular}{}", under(path, own_singular.as_deref()?)?),
                };
                Some((aliased, item.clone()))
            })
            .collect();
        paths.extend(copies);
    }
}

/// Elements under their integration (`/integrations/{integration}/flows/{selector}`)
/// and instances under their connection (`/connections/{connection}/flows/{selector}`).
fn nested_paths(paths: &mut Map<String, Value>) {
    let int = || path_param("integration");
    let conn = || path_param("connection");
    let object = json!({"type": "object"});
    for (kind, t) in crate::routes::nested::KINDS {
        let name = type_schema_name(t);
        let (el, req) = (reference(&name), reference(&format!("{name}Request")));
        let n = t.name();
        let base = format!("/integrations/{{integration}}/{kind}");
        let mut list = vec![int()];
        list.extend(page_params());
        add(
            paths,
            &base,
            "get",
            op(
                format!("List the integration's {n} elements"),
                list,
                None,
                page_of(el.clone()),
            ),
        );
        add(
            paths,
            &base,
            "post",
            op(
                format!("Create a {n} of the integration"),
                vec![int()],
                Some(req.clone()),
                el.clone(),
            ),
        );
        let one = format!("{base}/{{selector}}");
        let sel = vec![int(), path_param("selector")];
        let mut secret = sel.clone();
        secret.push(query_param("includeSecrets", json!({"type": "boolean"})));
        add(
            paths,
            &one,
            "get",
            op(
                format!("Get the integration's {n}"),
                secret.clone(),
                None,
                el.clone(),
            ),
        );
        add(
            paths,
            &one,
            "delete",
            op(
                format!("Archive the integration's {n}"),
                secret,
                None,
                el.clone(),
            ),
        );
        add(
            paths,
            &one,
            "patch",
            op(
                format!("Update the integration's {n}"),
                sel.clone(),
                Some(req.clone()),
                el.clone(),
            ),
        );
        add(
            paths,
            &one,
            "put",
            op(
                format!("Replace the integration's {n}"),
                sel.clone(),
                Some(req.clone()),
                el.clone(),
            ),
        );
        add(
            paths,
            &format!("{one}/reset"),
            "post",
            op(
                format!("Reset the integration's {n} to its universal parent"),
                sel.clone(),
                Some(object.clone()),
                el.clone(),
            ),
        );
        add(
            paths,
            &format!("{one}/restore"),
            "post",
            op(
                format!("Restore the integration's archived {n}"),
                sel,
                None,
                el.clone(),
            ),
        );

        let it = t
            .instance_type()
            .expect("connection-level kinds have instance types");
        let iname = type_schema_name(it);
        let (inst, ireq) = (reference(&iname), reference(&format!("{iname}Request")));
        let base = format!("/connections/{{connection}}/{kind}");
        let mut list = vec![conn()];
        list.extend(page_params());
        add(
            paths,
            &base,
            "get",
            op(
                format!("List the connection's {n} instances"),
                list,
                None,
                page_of(inst.clone()),
            ),
        );
        let one = format!("{base}/{{selector}}");
        let mut sel = vec![conn(), path_param("selector")];
        sel.extend([
            query_param("instanceKey", json!({"type": "string"})),
            query_param("autoCreate", json!({"type": "boolean"})),
        ]);
        add(
            paths,
            &one,
            "get",
            op(
                format!("Get the connection's instance of a {n}"),
                sel.clone(),
                None,
                inst.clone(),
            ),
        );
        add(
            paths,
            &one,
            "delete",
            op(
                format!("Archive the connection's instance of a {n}"),
                sel.clone(),
                None,
                inst.clone(),
            ),
        );
        add(
            paths,
            &one,
            "patch",
            op(
                format!("Customise the connection's instance of a {n}"),
                sel.clone(),
                Some(ireq.clone()),
                inst.clone(),
            ),
        );
        add(paths, &one, "put", op(format!("Create the connection's instance of a {n} if missing (no body), or replace its fields"), sel.clone(), Some(ireq), inst.clone()));
        add(
            paths,
            &format!("{one}/reset"),
            "post",
            op(
                format!("Reset the connection's {n} instance to its parent"),
                sel.clone(),
                None,
                inst.clone(),
            ),
        );
        add(
            paths,
            &format!("{one}/setup"),
            "post",
            op(
                format!("Re-run setup of the connection's {n} instance"),
                sel,
                None,
                inst.clone(),
            ),
        );
    }
}

/// An integration's connector views and its parameters.
fn integration_paths(paths: &mut Map<String, Value>) {
    let object = json!({"type": "object"});
    let int = vec![path_param("integration")];
    let int_key = vec![path_param("integration"), path_param("key")];
    for (path, summary, params, ok) in [
        (
            "/integrations/{integration}/connector-spec",
            "The integration's connector spec",
            int.clone(),
            object.clone(),
        ),
        (
            "/integrations/{integration}/operations",
            "The connector's operations",
            int.clone(),
            spec_list(),
        ),
        (
            "/integrations/{integration}/operations/{key}",
            "One operation's spec",
            int_key.clone(),
            object.clone(),
        ),
        (
            "/integrations/{integration}/data",
            "The connector's data collections",
            int.clone(),
            spec_list(),
        ),
        (
            "/integrations/{integration}/data/{key}",
            "One data collection's spec",
            int_key,
            object.clone(),
        ),
        (
            "/integrations/{integration}/parameters",
            "The integration's parameters; admin",
            int.clone(),
            object.clone(),
        ),
    ] {
        add(paths, path, "get", op(summary.into(), params, None, ok));
    }
    let parameters = "/integrations/{integration}/parameters";
    add(
        paths,
        parameters,
        "patch",
        op(
            "Merge into the integration's parameters; admin".into(),
            int.clone(),
            Some(object.clone()),
            object.clone(),
        ),
    );
    add(
        paths,
        parameters,
        "put",
        op(
            "Replace the integration's parameters; admin".into(),
            int,
            Some(object.clone()),
            object,
        ),
    );
    // A field mapping's stored app schema: any JSON schema.
    let mut by_path = vec![path_param("selector")];
    by_path.extend(layer_params(has_connection_layer(
        ElementType::FieldMapping,
    )));
    add(
        paths,
        "/field-mappings/{selector}/app-schema",
        "get",
        op(
            "A field mapping's app schema".into(),
            by_path,
            None,
            json!({}),
        ),
    );
    add(
        paths,
        "/field-mapping/app-schema",
        "get",
        op(
            "A field mapping's app schema (object selector)".into(),
            object_selector_params(ElementType::FieldMapping),
            None,
            json!({}),
        ),
    );
}

/// App events (routes/app_events.rs): the webhook URLs the workspace's app posts
/// to (any method, any body; stored, then answered), the app event and incoming
/// webhook logs, and subscribing a customer's subscription.
fn app_event_paths(paths: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let stored = json!({"type": "object", "required": ["incomingWebhookId"],
        "properties": {"incomingWebhookId": s()}});
    for (path, summary) in [
        ("/webhooks/app-events/{workspace}/{key}",
         "An app event type's global webhook: events of any customer (a customer's Bearer token, else the type's tenantIdFormula, says whose); an array body is a batch"),
        ("/webhooks/app-event-subscriptions/{workspace}/{key}",
         "A customer's app event subscription webhook: that customer's events; an array body is a batch"),
        ("/webhooks/external-events/{workspace}/{key}",
         "An external event subscription's webhook (its webhookUri): what the connector registered at the external app posts, turned into events by the connector's handle after it is stored"),
        ("/webhooks/global/{workspace}/{key}",
         "A connector's global webhook (the webhookUri of its connector-event subscriptions): the app posts the events of every customer here; the connector's global handle turns each delivery into {selector, payload} events, routed to the subscriptions whose globalWebhookKey and globalWebhookEventSelector match"),
    ] {
        for method in ["get", "post", "put", "patch", "delete"] {
            let body = (method != "get" && method != "delete").then(|| json!({}));
            add(paths, path, method, op(summary.into(),
                vec![path_param("workspace"), path_param("key")], body, stored.clone()));
        }
    }
    let mut page: Vec<Value> = vec![
        query_param("from", json!({"type": "string", "format": "date-time"})),
        query_param("to", json!({"type": "string", "format": "date-time"})),
        query_param(
            "sortOrder",
            json!({"type": "string", "enum": ["asc", "desc"]}),
        ),
        query_param(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        ),
        query_param("cursor", s()),
        query_param("tenantId", s()),
        query_param("userId", s()),
    ];
    let event = json!({"type": "object", "required": ["id", "appEventTypeId", "userId", "event", "datetime", "launchedFlowRunIds"],
        "properties": {"id": s(), "appEventTypeId": s(), "userId": s(), "event": {},
            "datetime": s(), "launchedFlowRunIds": {"type": "array", "items": s()}}});
    let webhook = json!({"type": "object", "required": ["id", "subscriptionId", "status", "collectedEventIds"],
        "properties": {"id": s(), "subscriptionId": s(), "status": s(),
            "collectedEventIds": {"type": "array", "items": s()}}});
    let mut events_find = page.clone();
    events_find.extend([
        query_param("appEventTypeId", s()),
        query_param("appEventSubscriptionId", s()),
        query_param(
            "status",
            json!({"type": "string", "enum": ["created", "success", "error"]}),
        ),
    ]);
    page.extend([
        query_param("subscriptionId", s()),
        query_param(
            "status",
            json!({"type": "string", "enum": ["received", "success", "error"]}),
        ),
    ]);
    let entries: Vec<(&str, &str, &str, Vec<Value>, Value)> = vec![
        ("/app-events", "get", "The app event log, newest first unless `sortOrder=asc`; a customer sees its own",
         events_find, page_of(event.clone())),
        ("/app-events/{id}", "get", "One app event", vec![path_param("id")], event),
        ("/incoming-webhooks", "get", "Deliveries to Osmosis's webhook URLs as received (secrets masked), newest first unless `sortOrder=asc`",
         page, page_of(webhook.clone())),
        ("/incoming-webhooks/{id}", "get", "One delivery", vec![path_param("id")], webhook),
        ("/app-event-subscription/subscribe", "post",
         "Send the app event type's subscribeRequest for the subscription's customer; answers the subscription",
         object_selector_params(ElementType::AppEventSubscription),
         reference(&type_schema_name(ElementType::AppEventSubscription))),
    ];
    for (path, method, summary, params, ok) in entries {
        add(paths, path, method, op(summary.into(), params, None, ok));
    }
}

/// External event subscriptions, their log records and pulls
/// (routes/external_events.rs).
fn external_event_paths(paths: &mut Map<String, Value>) {
    let s = || json!({"type": "string"});
    let strings =
        |names: &[&str]| -> Vec<Value> { names.iter().map(|n| query_param(n, s())).collect() };
    let limit = || {
        query_param(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
        )
    };
    let subscription = json!({"type": "object", "required": ["id", "userId", "connectionId", "integrationId"],
        "properties": {"id": s(), "name": s(), "userId": s(), "tenantId": s(), "connectionId": s(),
            "integrationId": s(), "config": {"type": "object"},
            "status": {"type": "string", "enum": ["subscribed", "unsubscribed", "error"]},
            "error": reference("ErrorData"), "isRealTime": {"type": "boolean"},
            "requiresPull": {"type": "boolean"}, "requiresFullSync": {"type": "boolean"},
            "stateData": {}, "nextPullEventsTimestamp": {"type": "number"},
            "pullUpdatesIntervalSeconds": {"type": "number"}, "fullSyncIntervalSeconds": {"type": "number"},
            "createdAt": s(), "archivedAt": s(), "isDeactivated": {"type": "boolean"}}});
    let event = json!({"type": "object", "required": ["id", "userId", "externalEventSubscriptionId", "status"],
        "properties": {"id": s(), "userId": s(), "tenantId": s(), "integrationId": s(), "connectionId": s(),
            "externalEventSubscriptionId": s(), "payload": {},
            "launchedFlowRunIds": {"type": "array", "items": s()},
            "status": {"type": "string", "enum": ["created", "success", "error"]},
            "error": reference("ErrorData"), "createdAt": s()}});
    let pull = json!({"type": "object", "required": ["id", "userId", "externalEventSubscriptionId", "startDatetime", "endDatetime", "status", "collectedEventIds"],
        "properties": {"id": s(), "userId": s(), "tenantId": s(), "integrationId": s(), "connectionId": s(),
            "externalEventSubscriptionId": s(), "startDatetime": s(), "endDatetime": s(),
            "isFullScan": {"type": "boolean"},
            "status": {"type": "string", "enum": ["running", "success", "error"]},
            "collectedEventIds": {"type": "array", "items": s()}, "error": reference("ErrorData")}});
    let mut find = strings(&[
        "cursor",
        "userId",
        "tenantId",
        "connectionId",
        "integrationId",
        "externalAppId",
    ]);
    find.extend([
        limit(),
        query_param(
            "status",
            json!({"type": "string", "enum": ["subscribed", "unsubscribed", "error"]}),
        ),
        query_param("includeArchived", json!({"type": "boolean"})),
    ]);
    let logs = |statuses: &[&str]| {
        let mut v = strings(&[
            "cursor",
            "externalEventSubscriptionId",
            "userId",
            "tenantId",
            "connectionId",
            "integrationId",
            "externalAppId",
        ]);
        v.extend([
            limit(),
            query_param("from", json!({"type": "string", "format": "date-time"})),
            query_param("to", json!({"type": "string", "format": "date-time"})),
            query_param(
                "sortOrder",
                json!({"type": "string", "enum": ["asc", "desc"]}),
            ),
            query_param("status", json!({"type": "string", "enum": statuses})),
        ]);
        v
    };
    let mut entries: Vec<(String, &str, String, Vec<Value>, Value)> = vec![
        (
            "/external-event-subscriptions".into(),
            "get",
            "External event subscriptions, oldest first; a customer sees its own".into(),
            find,
            page_of(subscription.clone()),
        ),
        (
            "/external-event-subscriptions/{id}".into(),
            "get",
            "One external event subscription".into(),
            vec![path_param("id")],
            subscription.clone(),
        ),
        (
            "/external-event-log-records".into(),
            "get",
            "Events found by the subscriptions, newest first unless `sortOrder=asc`".into(),
            logs(&["created", "success", "error"]),
            page_of(event),
        ),
        (
            "/external-event-pulls".into(),
            "get",
            "Polling cycles of the subscriptions, newest first unless `sortOrder=asc`".into(),
            logs(&["queued", "running", "success", "error"]),
            page_of(pull),
        ),
    ];
    for (action, summary) in [
        (
            "setup",
            "Work out again how the subscription is served, and subscribe it",
        ),
        (
            "subscribe",
            "Subscribe: its first pull is due at once and takes the baseline",
        ),
        ("unsubscribe", "Stop its pulls, keeping what they kept"),
        ("resubscribe", "Subscribe again from a new baseline"),
        (
            "refresh-webhook",
            "Renew its webhook (nothing to renew on a polling subscription)",
        ),
        ("pull-events", "Pull now; answers once the pull has ended"),
    ] {
        entries.push((
            format!("/external-event-subscriptions/{{id}}/{action}"),
            "post",
            format!("{summary}; answers the subscription"),
            vec![path_param("id")],
            subscription.clone(),
        ));
    }
    for (path, method, summary, params, ok) in entries {
        add(paths, &path, method, op(summary, params, None, ok));
    }
}

/// The proxy to a connection's external API: any method, any body, and the API's
/// answer as it came (any status and content type), or an ErrorData when Osmosis
/// could not make the call. The legacy `connection(c).request(path, data)` POSTs to
/// `/connections/{c}/api/{path}`, answered the same way.
fn proxy_paths(paths: &mut Map<String, Value>) {
    let answer = json!({
        "default": {
            "description": "The external API's answer as it came, or an ErrorData from Osmosis",
            "content": {"*/*": {"schema": {}}}
        }
    });
    let operation = |summary: &str, params: Vec<Value>, body: bool| {
        let mut o = json!({"summary": summary, "parameters": params, "responses": answer.clone()});
        if body {
            o["requestBody"] =
                json!({"required": false, "content": {"application/json": {"schema": {}}}});
        }
        o
    };
    let with_path = || vec![path_param("connection"), path_param("path")];
    for method in ["get", "post", "put", "patch", "delete"] {
        let body = method != "get" && method != "delete";
        add(
            paths,
            "/connections/{connection}/proxy",
            method,
            operation(
                "Call the external API's base URI through the connection",
                vec![path_param("connection")],
                body,
            ),
        );
        add(
            paths,
            "/connections/{connection}/proxy/{path}",
            method,
            operation(
                "Call a path of the external API through the connection",
                with_path(),
                body,
            ),
        );
    }
    add(
        paths,
        "/connections/{connection}/api/{path}",
        "post",
        operation(
            "POST data to a path of the external API through the connection (legacy)",
            with_path(),
            true,
        ),
    );
}

fn page_of(el: Value) -> Value {
    json!({"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": el}, "cursor": {"type": "string"}}})
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
        if crate::routes::OWN_ROUTES.contains(&t) {
            continue;
        }
        let el = reference(&name);
        let req = reference(&format!("{name}Request"));
        let page = page_of(el.clone());
        let n = t.name();
        // Every type routes every write; the summary says who may make it.
        let writers: &str = match spec.writers {
            Writers::Admin => "admin",
            Writers::Owner => "admin or the owning customer",
            Writers::Engine => "refused: only the engine writes these",
            Writers::Unavailable(_) => "refused: not writable in this build",
        };
        let mut collection =
            json!({"get": op(format!("List {n} elements"), list_params(), None, page)});
        collection["post"] = op(
            format!("Create a {n} ({writers})"),
            vec![],
            Some(req.clone()),
            el.clone(),
        );
        paths.insert(format!("/{}", spec.api_path), collection);
        let mut sel_params = vec![path_param("selector")];
        sel_params.extend(layer_params(has_connection_layer(t)));
        let mut one = json!({
            "get": op(format!("Get a {n} by id, key or uuid"), sel_params.clone(), None, el.clone()),
        });
        {
            one["patch"] = op(
                format!("Update a {n} partially ({writers})"),
                sel_params.clone(),
                Some(req.clone()),
                el.clone(),
            );
            one["put"] = op(
                format!("Replace a {n}'s editable fields ({writers})"),
                sel_params.clone(),
                Some(req.clone()),
                el.clone(),
            );
            one["delete"] = op(
                format!("Archive a {n} ({writers})"),
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
        if spec.layering == osmosis_model::element_type::Layering::IntegrationLevel {
            paths.insert(
                format!("/{}/{{selector}}/apply", spec.api_path),
                json!({"post": op(
                    format!("Make the universal {n}'s copies for the integrations `integrationKeys` names (a package with its elements); answers the universal {n}"),
                    sel_params.clone(),
                    Some(body_schema::<crate::routes::ApplyRequest>()),
                    el.clone(),
                )}),
            );
        }
        if osmosis_engine::config_as_code::export::EXPORTED_TYPES.contains(&t) {
            let mut params = sel_params.clone();
            params.push(query_param("includeSecrets", json!({"type": "boolean"})));
            paths.insert(
                format!("/{}/{{selector}}/export", spec.api_path),
                json!({"get": op(
                    format!("The {n}'s export properties (its spec.yaml in a workspace export)"),
                    params,
                    None,
                    json!({"type": "object"}),
                )}),
            );
        }
    }
    for (path, summary, ok) in [
        ("/health", "Readiness", json!({"type": "object"})),
        ("/self", "The calling customer", reference("Customer")),
        (
            "/org-workspace-id",
            "The token's workspace: `{id}`",
            json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}),
        ),
        ("/openapi.json", "This document", json!({"type": "object"})),
    ] {
        paths.insert(
            path.into(),
            json!({"get": op(summary.into(), vec![], None, ok)}),
        );
    }
    connection_paths(&mut paths);
    action_paths(&mut paths);
    flow_run_paths(&mut paths);
    external_event_paths(&mut paths);
    app_event_paths(&mut paths);
    data_link_paths(&mut paths);
    data_source_paths(&mut paths);
    connector_source_paths(&mut paths);
    for t in ElementType::ALL {
        singular_paths(&mut paths, t);
    }
    nested_paths(&mut paths);
    integration_paths(&mut paths);
    proxy_paths(&mut paths);
    package_version_paths(&mut paths);
    alias_paths(&mut paths);
    add(
        &mut paths,
        "/self",
        "patch",
        op(
            "Change the calling customer's name, fields or credentials".into(),
            vec![],
            Some(body_schema::<crate::routes::SelfPatch>()),
            reference("Customer"),
        ),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A typed body's schema is the handler's type: its fields, their types, and
    /// whether others are refused.
    #[test]
    fn typed_bodies_are_described_by_their_types() {
        let doc = document();
        let body = |path: &str, method: &str| {
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
                .clone()
        };
        let settings = body("/settings", "patch");
        assert_eq!(settings["type"], "object");
        assert_eq!(settings["additionalProperties"], false, "{settings}");
        assert_eq!(settings["properties"]["webhookUri"]["type"], "string");
        assert_eq!(settings["properties"]["webhookUri"]["nullable"], true);
        assert_eq!(
            settings["properties"]["enabledWebhookEvents"]["items"]["type"],
            "string"
        );
        let act = body("/act", "post");
        assert_eq!(act["properties"]["connectionId"]["type"], "string", "{act}");
        assert!(act["properties"]["api"].is_object());
        let me = body("/self", "patch");
        assert_eq!(me["additionalProperties"], false, "{me}");
        assert_eq!(me["properties"]["name"]["type"], "string");
        assert_eq!(me["properties"]["credentials"]["type"], "object");
        let run = body("/connections/{selector}/operations/{key}/run", "post");
        assert!(run["properties"]["input"].is_object(), "{run}");
    }
}
