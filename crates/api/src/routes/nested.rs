//! Style C routes: elements addressed under their integration or connection
//! (`/integrations/{i}/flows/{f}`, `/connections/{c}/flows/{f}`), and the
//! integration's connector views (`connector-spec`, `operations`, `data`, `parameters`).

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::elements::{InstanceSelector, NewElement};
use osmosis_engine::{Caller, PathSelector};
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType, Layer};
use serde_json::{json, Map, Value};

use super::elements::{apply_op, grant_secrets, list_page, respond, write, Op};
use super::Routes;
use crate::auth::Auth;
use crate::body::JsonObject;
use crate::error::ApiResult;
use crate::extract::{Params, SecretsParams};
use crate::query::Query;
use crate::AppState;

/// The element kinds that live under integrations and connections (the OpenAPI
/// document lists their routes from here too).
pub(crate) const KINDS: [(&str, ElementType); 4] = [
    ("actions", ElementType::Action),
    ("flows", ElementType::Flow),
    ("data-sources", ElementType::DataSource),
    ("field-mappings", ElementType::FieldMapping),
];

pub fn router() -> Routes {
    let mut r = Routes::new()
        .route(
            "/integrations/{integration}/connector-spec",
            get(connector_spec),
        )
        .route("/integrations/{integration}/operations", get(operations))
        .route(
            "/integrations/{integration}/operations/{key}",
            get(operation),
        )
        .route("/integrations/{integration}/data", get(data_collections))
        .route(
            "/integrations/{integration}/data/{key}",
            get(data_collection),
        )
        .route(
            "/integrations/{integration}/parameters",
            get(get_parameters)
                .patch(patch_parameters)
                .put(put_parameters),
        );
    for (kind, t) in KINDS {
        r = r
            .route(
                &format!("/integrations/{{integration}}/{kind}"),
                get(move |s, a, p, q| int_list(s, a, t, p, q))
                    .post(move |s, a, p, b| int_create(s, a, t, p, b)),
            )
            .route(
                &format!("/integrations/{{integration}}/{kind}/{{selector}}"),
                get(move |s, a, p, q| int_op(s, a, t, p, q, Op::Get))
                    .delete(move |s, a, p, q| int_op(s, a, t, p, q, Op::Archive))
                    .patch(move |s, a, p, b| int_write(s, a, t, p, b, false))
                    .put(move |s, a, p, b| int_write(s, a, t, p, b, true)),
            )
            .route(
                &format!("/integrations/{{integration}}/{kind}/{{selector}}/reset"),
                post(move |s, a, p, b| int_reset(s, a, t, p, b)),
            )
            .route(
                &format!("/integrations/{{integration}}/{kind}/{{selector}}/restore"),
                post(move |s, a, p, q| int_op(s, a, t, p, q, Op::Restore)),
            );
        let it = t
            .instance_type()
            .expect("connection-level kinds have instance types");
        r = r
            .route(
                &format!("/connections/{{connection}}/{kind}"),
                get(move |s, a, p, q| conn_list(s, a, it, p, q)),
            )
            .route(
                &format!("/connections/{{connection}}/{kind}/{{selector}}"),
                get(move |s, a, p, q| conn_op(s, a, it, p, q, ConnOp::Get))
                    .put(move |s, a, p, q, b| conn_put(s, a, it, p, q, b))
                    .patch(move |s, a, p, q, b| conn_write(s, a, it, p, q, b))
                    .delete(move |s, a, p, q| conn_op(s, a, it, p, q, ConnOp::Archive)),
            )
            .route(
                &format!("/connections/{{connection}}/{kind}/{{selector}}/reset"),
                post(move |s, a, p, q| conn_op(s, a, it, p, q, ConnOp::Reset)),
            )
            .route(
                &format!("/connections/{{connection}}/{kind}/{{selector}}/setup"),
                post(move |s, a, p, q| conn_op(s, a, it, p, q, ConnOp::Setup)),
            );
    }
    r
}

async fn integration(state: &AppState, caller: &Caller, sel: &str) -> Result<Element, ApiError> {
    state
        .engine
        .elements()
        .resolve(caller, ElementType::Integration, &PathSelector::new(sel))
        .await
}

fn integration_layer(integration: &Element) -> LayerQuery {
    LayerQuery {
        layer: Some(Layer::Integration),
        integration_id: Some(integration.id.clone()),
        ..Default::default()
    }
}

async fn int_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(i): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let integration = integration(&state, &caller, &i).await?;
    let mut lq = q.list(t.spec().parent_field)?;
    lq.layer = integration_layer(&integration);
    list_page(&state, &caller, t, &lq).await
}

async fn int_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(i): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let integration = integration(&state, &caller, &i).await?;
    let el = state
        .engine
        .elements()
        .create(
            &caller,
            t,
            NewElement {
                body,
                integration_id: Some(integration.id),
            },
        )
        .await?;
    respond(&state, &caller, &el).await
}

async fn int_element(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    i: &str,
    sel: String,
) -> Result<Element, ApiError> {
    let integration = integration(state, caller, i).await?;
    state
        .engine
        .elements()
        .resolve(
            caller,
            t,
            &PathSelector {
                value: sel,
                layer: integration_layer(&integration),
                auto_create: false,
            },
        )
        .await
}

async fn int_op(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((i, sel)): Path<(String, String)>,
    Params(secrets): Params<SecretsParams>,
    op: Op,
) -> ApiResult<Json<Value>> {
    let caller = grant_secrets(caller, secrets.include_secrets)?;
    let el = int_element(&state, &caller, t, &i, sel).await?;
    apply_op(&state, &caller, el, op).await
}

async fn int_write(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((i, sel)): Path<(String, String)>,
    JsonObject(body): JsonObject,
    put: bool,
) -> ApiResult<Json<Value>> {
    let el = int_element(&state, &caller, t, &i, sel).await?;
    write(&state, &caller, el, body, put).await
}

async fn int_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((i, sel)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let el = int_element(&state, &caller, t, &i, sel).await?;
    let el = state.engine.elements().reset(&caller, el, &body).await?;
    respond(&state, &caller, &el).await
}

#[derive(Debug, Clone, Copy)]
enum ConnOp {
    Get,
    Archive,
    Reset,
    Setup,
}

fn conn_selector(
    connection: String,
    sel: String,
    q: &Query,
    auto_create: bool,
) -> Result<InstanceSelector, ApiError> {
    Ok(InstanceSelector {
        parent: Some(sel),
        connection_id: Some(connection),
        instance_key: q.get("instanceKey").map(str::to_string),
        auto_create: auto_create || q.bool("autoCreate")?.unwrap_or(false),
        ..Default::default()
    })
}

async fn conn_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(c): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let mut lq = q.list(t.spec().parent_field)?;
    lq.layer.connection_id = Some(c);
    list_page(&state, &caller, t, &lq).await
}

async fn conn_op(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((c, sel)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    op: ConnOp,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = conn_instance(&state, &caller, t, c, sel, &q, false).await?;
    match op {
        ConnOp::Get => apply_op(&state, &caller, el, Op::Get).await,
        ConnOp::Archive => apply_op(&state, &caller, el, Op::Archive).await,
        ConnOp::Setup => apply_op(&state, &caller, el, Op::Refresh).await,
        ConnOp::Reset => {
            let el = state
                .engine
                .elements()
                .reset(&caller, el, &Map::new())
                .await?;
            respond(&state, &caller, &el).await
        }
    }
}

/// The instance of element `sel` on connection `c` (created when asked to).
pub(crate) async fn conn_instance(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    c: String,
    sel: String,
    q: &Query,
    auto_create: bool,
) -> Result<Element, ApiError> {
    state
        .engine
        .elements()
        .resolve_instance(caller, t, &conn_selector(c, sel, q, auto_create)?)
        .await
}

/// `PUT` with no body creates the instance if missing (SDK quirk
/// docs/spec/api-surface.md §13.6); with a body it replaces the instance's fields.
async fn conn_put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((c, sel)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = conn_instance(&state, &caller, t, c, sel, &q, true).await?;
    if body.is_empty() {
        return respond(&state, &caller, &el).await;
    }
    write(&state, &caller, el, body, true).await
}

async fn conn_write(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path((c, sel)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = conn_instance(&state, &caller, t, c, sel, &q, false).await?;
    write(&state, &caller, el, body, false).await
}

/// The integration's connector, or a clear error when it has none.
async fn connector_of(
    state: &AppState,
    caller: &Caller,
    i: &str,
) -> Result<(Element, Element), ApiError> {
    let integration = integration(state, caller, i).await?;
    let cid = integration
        .doc_str("connectorId")
        .ok_or_else(|| ApiError::configuration(format!("Integration `{i}` has no connector")))?
        .to_string();
    let admin = Caller::admin(caller.workspace.clone());
    let connector = state
        .engine
        .elements()
        .resolve(&admin, ElementType::Connector, &PathSelector::new(cid))
        .await?;
    Ok((integration, connector))
}

async fn connector_spec(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, connector) = connector_of(&state, &caller, &i).await?;
    Ok(Json(osmosis_engine::types::connector_spec(&connector)))
}

/// Operations as `{key, name, description?, tags?, isReadOnly?}` items: the connector
/// may list them as an array or an object keyed by operation key.
fn operation_items(connector: &Element) -> Vec<Value> {
    let item = |key: &str, op: &Value| {
        let mut m = Map::new();
        m.insert("key".into(), json!(key));
        m.insert(
            "name".into(),
            op.get("name").cloned().unwrap_or_else(|| json!(key)),
        );
        for f in [
            "description",
            "tags",
            "isReadOnly",
            "inputSchema",
            "outputSchema",
        ] {
            if let Some(v) = op.get(f) {
                m.insert(f.into(), v.clone());
            }
        }
        Value::Object(m)
    };
    match connector.doc.get("operations") {
        Some(Value::Object(ops)) => ops.iter().map(|(k, op)| item(k, op)).collect(),
        Some(Value::Array(ops)) => ops
            .iter()
            .filter_map(|op| op.get("key").and_then(Value::as_str).map(|k| item(k, op)))
            .collect(),
        _ => Vec::new(),
    }
}

/// The connector's operations, without their schemas.
pub(super) fn operation_list(connector: &Element) -> Value {
    let items: Vec<Value> = operation_items(connector)
        .into_iter()
        .map(|mut v| {
            if let Some(m) = v.as_object_mut() {
                m.remove("inputSchema");
                m.remove("outputSchema");
            }
            v
        })
        .collect();
    Value::Array(items)
}

/// One operation's spec, or `not_found` naming it.
pub(super) fn operation_spec(connector: &Element, key: &str) -> Result<Value, ApiError> {
    operation_items(connector)
        .into_iter()
        .find(|op| op.get("key").and_then(Value::as_str) == Some(key))
        .ok_or_else(|| ApiError::not_found(format!("The connector has no operation `{key}`")))
}

/// The connector's data collections as `{key, name, type, isHidden?}` items.
pub(super) fn collection_list(connector: &Element) -> Value {
    let items: Vec<Value> = connector
        .doc
        .get("data")
        .and_then(Value::as_object)
        .map(|data| {
            data.iter()
                .map(|(k, spec)| {
                    let mut m = Map::new();
                    m.insert("key".into(), json!(k));
                    m.insert(
                        "name".into(),
                        spec.get("name").cloned().unwrap_or_else(|| json!(k)),
                    );
                    m.insert("type".into(), json!("collection"));
                    if let Some(h) = spec.get("isHidden") {
                        m.insert("isHidden".into(), h.clone());
                    }
                    Value::Object(m)
                })
                .collect()
        })
        .unwrap_or_default();
    Value::Array(items)
}

/// One data collection's spec (`DataCollectionSpec`), or `not_found` naming it
/// (the engine's, which data source instance setup stores too).
pub(crate) use osmosis_engine::data_sources::collection_spec;

async fn operations(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, connector) = connector_of(&state, &caller, &i).await?;
    Ok(Json(operation_list(&connector)))
}

async fn operation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((i, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, connector) = connector_of(&state, &caller, &i).await?;
    Ok(Json(operation_spec(&connector, &key)?))
}

async fn data_collections(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
) -> ApiResult<Json<Value>> {
    let (_, connector) = connector_of(&state, &caller, &i).await?;
    Ok(Json(collection_list(&connector)))
}

async fn data_collection(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((i, key)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let (_, connector) = connector_of(&state, &caller, &i).await?;
    Ok(Json(collection_spec(&connector, &key)?))
}

async fn get_parameters(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require_admin("Integration parameters need an admin token")?;
    let integration = integration(&state, &caller, &i).await?;
    Ok(Json(
        integration
            .doc
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({})),
    ))
}

async fn set_parameters(
    state: &AppState,
    caller: &Caller,
    i: &str,
    body: Map<String, Value>,
    merge: bool,
) -> ApiResult<Json<Value>> {
    caller.require_admin("Integration parameters need an admin token")?;
    let integration = integration(state, caller, i).await?;
    let mut params = if merge {
        integration
            .doc
            .get("parameters")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    } else {
        Map::new()
    };
    for (k, v) in body {
        if v.is_null() {
            params.remove(&k);
        } else {
            params.insert(k, v);
        }
    }
    let mut patch = Map::new();
    patch.insert("parameters".into(), Value::Object(params));
    let updated = state
        .engine
        .elements()
        .patch_element(caller, integration, patch)
        .await?;
    Ok(Json(
        updated
            .doc
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({})),
    ))
}

async fn patch_parameters(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    set_parameters(&state, &caller, &i, body, true).await
}

async fn put_parameters(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(i): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    set_parameters(&state, &caller, &i, body, false).await
}
