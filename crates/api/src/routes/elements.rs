//! The routes every element type shares, generated from the type registry:
//!
//! * `/{plural}` — list, create
//! * `/{plural}/{selector}` — get, patch, put, archive (DELETE), with the flat Q-layer query;
//!   a package's GET takes `version` too (`osmosis_engine::package_versions`)
//! * `/{plural}/{selector}/{restore|refresh|setup|reset}`
//! * `/{plural}/{selector}/export` — the element's export properties, for the
//!   types a workspace export holds (`config_as_code::export`)
//! * `/{singular}?{selector fields}` (+ `/restore` …) — the object-selector form the SDK uses
//! * the same under a type's [`ALIASES`] (`/scenarios` for packages)
//!
//! One set of handlers serves every type; the type arrives as route state.

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post, MethodRouter};
use axum::Json;
use osmosis_engine::config_as_code::export::EXPORTED_TYPES;
use osmosis_engine::elements::{Depth, InstanceSelector, NewElement};
use osmosis_engine::{Caller, ListQuery, PathSelector};
use osmosis_model::element_type::Layering;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use super::Routes;
use crate::auth::Auth;
use crate::body::JsonObject;
use crate::error::ApiResult;
use crate::extract::Body;
use crate::query::Query;
use crate::AppState;

/// Types whose routes are their own module's rather than the generic element
/// routes: external event subscriptions are rows the engine keeps, listed and
/// acted on through `routes/external_events.rs`, never written as elements.
pub(crate) const OWN_ROUTES: [ElementType; 1] = [ElementType::ExternalEventSubscription];

/// Other names a type's routes answer under, `(type, plural, singular)`: the
/// older `@integration-app/sdk` 1.x calls packages scenarios (`/scenarios`,
/// `/scenarios/{selector}`, `/scenario?{selector}`), and gets the same routes.
pub const ALIASES: [(ElementType, &str, &str); 1] =
    [(ElementType::Package, "scenarios", "scenario")];

/// The `(plural, singular)` path stems a type is routed under: its own, then
/// its [`ALIASES`].
pub fn stems(t: ElementType) -> Vec<(&'static str, Option<&'static str>)> {
    let spec = t.spec();
    let mut out = vec![(spec.api_path, spec.singular_path)];
    out.extend(
        ALIASES
            .iter()
            .filter(|(aliased, _, _)| *aliased == t)
            .map(|(_, plural, singular)| (*plural, Some(*singular))),
    );
    out
}

pub fn router() -> Routes {
    let mut r = Routes::new();
    for t in ElementType::ALL {
        if OWN_ROUTES.contains(&t) {
            continue;
        }
        for (plural, singular) in stems(t) {
            r = type_routes(r, t, plural, singular);
        }
    }
    r
}

/// Every route of type `t` under the stems `/{plural}` and `/{singular}`.
fn type_routes(mut r: Routes, t: ElementType, plural: &str, singular: Option<&str>) -> Routes {
    let base = format!("/{plural}");
    r = r
        .route(
            &base,
            get(move |s, a, q| list(s, a, t, q)).post(move |s, a, b| create(s, a, t, b)),
        )
        .route(&format!("{base}/{{selector}}"), by_path(t))
        .route(
            &format!("{base}/{{selector}}/restore"),
            post(move |s, a, p, q| path_op(s, a, t, p, q, Op::Restore)),
        )
        .route(
            &format!("{base}/{{selector}}/refresh"),
            post(move |s, a, p, q| path_op(s, a, t, p, q, Op::Refresh)),
        )
        .route(
            &format!("{base}/{{selector}}/setup"),
            post(move |s, a, p, q| path_op(s, a, t, p, q, Op::Refresh)),
        )
        .route(
            &format!("{base}/{{selector}}/reset"),
            post(move |s, a, p, q, b| path_reset(s, a, t, p, q, b)),
        );
    if t.spec().layering == Layering::IntegrationLevel {
        r = r.route(
            &format!("{base}/{{selector}}/apply"),
            post(move |s, a, p, b| path_apply(s, a, t, p, b)),
        );
    }
    if EXPORTED_TYPES.contains(&t) {
        r = r.route(
            &format!("{base}/{{selector}}/export"),
            get(move |s, a, p, q| path_export(s, a, t, p, q)),
        );
    }
    if let Some(singular) = singular {
        let one = format!("/{singular}");
        r = r
            .route(&one, by_query(t))
            .route(
                &format!("{one}/restore"),
                post(move |s, a, q| query_op(s, a, t, q, Op::Restore)),
            )
            .route(
                &format!("{one}/setup"),
                post(move |s, a, q| query_op(s, a, t, q, Op::Refresh)),
            )
            .route(
                &format!("{one}/reset"),
                post(move |s, a, q, b| query_reset(s, a, t, q, b)),
            );
        if t.spec().layering == Layering::IntegrationLevel {
            r = r.route(
                &format!("{one}/apply"),
                post(move |s, a, q, b| query_apply(s, a, t, q, b)),
            );
        }
    }
    r
}

fn by_path(t: ElementType) -> MethodRouter<AppState> {
    get(move |s, a, p, q| path_op(s, a, t, p, q, Op::Get))
        .delete(move |s, a, p, q| path_op(s, a, t, p, q, Op::Archive))
        .patch(move |s, a, p, q, b| path_write(s, a, t, p, q, b, false))
        .put(move |s, a, p, q, b| path_write(s, a, t, p, q, b, true))
}

fn by_query(t: ElementType) -> MethodRouter<AppState> {
    get(move |s, a, q| query_op(s, a, t, q, Op::Get))
        .delete(move |s, a, q| query_op(s, a, t, q, Op::Archive))
        .patch(move |s, a, q, b| query_write(s, a, t, q, b, false))
        .put(move |s, a, q, b| query_write(s, a, t, q, b, true))
        .post(move |s, a, q, b| query_create(s, a, t, q, b))
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Get,
    Archive,
    Restore,
    Refresh,
}

/// Applies `includeSecrets`: only admins may ask for secrets.
pub(crate) fn with_secrets(caller: Caller, q: &Query) -> Result<Caller, ApiError> {
    grant_secrets(caller, q.bool("includeSecrets")?)
}

/// [`with_secrets`] for a handler that took its query typed.
pub(crate) fn grant_secrets(mut caller: Caller, include: Option<bool>) -> Result<Caller, ApiError> {
    if include == Some(true) {
        caller.require_admin("includeSecrets needs an admin token")?;
        caller.include_secrets = true;
    }
    Ok(caller)
}

/// Lists and renders one page as `{items, cursor}`; no `cursor` on the last page.
pub(crate) async fn list_page(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    lq: &ListQuery,
) -> ApiResult<Json<Value>> {
    let page = state.engine.elements().list(caller, t, lq).await?;
    let items = state
        .engine
        .elements()
        .render_all(caller, &page.items)
        .await?;
    let mut body = Map::new();
    body.insert("items".into(), Value::Array(items));
    if let Some(c) = page.cursor {
        body.insert("cursor".into(), json!(c));
    }
    Ok(Json(Value::Object(body)))
}

pub(crate) async fn respond(
    state: &AppState,
    caller: &Caller,
    el: &Element,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .elements()
            .render(caller, el, Depth::Full)
            .await?,
    ))
}

/// Runs a selector-less operation on an already resolved element.
pub(crate) async fn apply_op(
    state: &AppState,
    caller: &Caller,
    el: Element,
    op: Op,
) -> ApiResult<Json<Value>> {
    let el = match op {
        Op::Get => el,
        Op::Archive => {
            state
                .engine
                .elements()
                .set_archived(caller, el, true)
                .await?
        }
        Op::Restore => {
            state
                .engine
                .elements()
                .set_archived(caller, el, false)
                .await?
        }
        Op::Refresh => state.engine.elements().refresh(caller, el).await?,
    };
    respond(state, caller, &el).await
}

/// The query parameter naming an element's parent in list filters (`flowId`, …).
fn parent_param(t: ElementType) -> Option<&'static str> {
    t.spec().parent_field
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let caller = with_secrets(caller, &q)?;
    if t == ElementType::Connector {
        if let Some(workspace_id) = q.string("workspaceId") {
            return workspace_connectors(&state, &caller, &workspace_id).await;
        }
    }
    let mut lq = q.list(parent_param(t))?;
    if let Layering::Instance(parent_type) = t.spec().layering {
        let stem = osmosis_engine::elements::camel_stem_of(parent_type);
        lq.parent = lq
            .parent
            .or(q.string(&format!("{stem}Id")))
            .or(q.string(&format!("{stem}Key")));
    }
    list_page(&state, &caller, t, &lq).await
}

/// `GET /connectors?workspaceId=W`, as Membrane's CLI 1.x reads it: every live
/// connector of the workspace as a bare array (the SDK's lists are `{items}`;
/// none of its calls sends `workspaceId` here). Another workspace's id answers
/// an empty array: a token sees its own workspace only.
async fn workspace_connectors(
    state: &AppState,
    caller: &Caller,
    workspace_id: &str,
) -> ApiResult<Json<Value>> {
    if workspace_id != caller.workspace_id() {
        return Ok(Json(json!([])));
    }
    let mut items = Vec::new();
    let mut lq = ListQuery {
        limit: Some(1000),
        ..Default::default()
    };
    loop {
        let page = state
            .engine
            .elements()
            .list(caller, ElementType::Connector, &lq)
            .await?;
        items.extend(
            state
                .engine
                .elements()
                .render_all(caller, &page.items)
                .await?,
        );
        match page.cursor {
            Some(c) => {
                lq.cursor = Some(c.parse().map_err(|_| {
                    ApiError::internal(format!("a list cursor that is not a number: {c}"))
                })?)
            }
            None => break,
        }
    }
    Ok(Json(Value::Array(items)))
}

/// `GET /{plural}/{selector}/export`: what the element's `spec.yaml` in a
/// workspace export holds, as JSON (`Engine::export_element`).
async fn path_export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(selector): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    caller.require_admin("exporting an element needs an admin token")?;
    let q = Query::parse(raw.as_deref());
    let caller = with_secrets(caller, &q)?;
    let el = resolve_path(&state, &caller, t, selector, &q).await?;
    Ok(Json(Value::Object(
        state.engine.export_element(&caller, &el).await?,
    )))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let el = state
        .engine
        .elements()
        .create(&caller, t, NewElement::from_body(body))
        .await?;
    respond(&state, &caller, &el).await
}

fn path_selector(value: String, q: &Query) -> Result<PathSelector, ApiError> {
    Ok(PathSelector {
        value,
        layer: q.layer()?,
        auto_create: q.bool("autoCreate")?.unwrap_or(false),
    })
}

/// A path selector on an instance type is the instance's id.
pub(crate) async fn resolve_path(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    value: String,
    q: &Query,
) -> Result<Element, ApiError> {
    if matches!(t.spec().layering, Layering::Instance(_)) {
        return state
            .engine
            .elements()
            .resolve_instance(
                caller,
                t,
                &InstanceSelector {
                    id: Some(value),
                    ..Default::default()
                },
            )
            .await;
    }
    state
        .engine
        .elements()
        .resolve(caller, t, &path_selector(value, q)?)
        .await
}

async fn path_op(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(sel): Path<String>,
    RawQuery(raw): RawQuery,
    op: Op,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let caller = with_secrets(caller, &q)?;
    let el = resolve_path(&state, &caller, t, sel, &q).await?;
    if let Some(at) = at_version(&state, &caller, &el, &q, op).await? {
        return Ok(at);
    }
    apply_op(&state, &caller, el, op).await
}

async fn path_write(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(sel): Path<String>,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
    put: bool,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = resolve_path(&state, &caller, t, sel, &q).await?;
    write(&state, &caller, el, body, put).await
}

pub(crate) async fn write(
    state: &AppState,
    caller: &Caller,
    el: Element,
    body: Map<String, Value>,
    put: bool,
) -> ApiResult<Json<Value>> {
    let el = if put {
        state
            .engine
            .elements()
            .put_element(caller, el, body)
            .await?
    } else {
        state
            .engine
            .elements()
            .patch_element(caller, el, body)
            .await?
    };
    respond(state, caller, &el).await
}

async fn path_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(sel): Path<String>,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = resolve_path(&state, &caller, t, sel, &q).await?;
    let el = state.engine.elements().reset(&caller, el, &body).await?;
    respond(&state, &caller, &el).await
}

/// Reads an object selector (style B) from the query.
pub(crate) async fn resolve_query(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    q: &Query,
) -> Result<Element, ApiError> {
    match t.spec().layering {
        Layering::Instance(parent_type) => {
            let stem = osmosis_engine::elements::camel_stem_of(parent_type);
            let sel = InstanceSelector {
                id: q.string("id"),
                parent: q
                    .string(&format!("{stem}Id"))
                    .or(q.string(&format!("{stem}Key")))
                    .or(q.string("parentId"))
                    .or(q.string("parentKey")),
                connection_id: q.string("connectionId"),
                connection_key: q.string("connectionKey"),
                integration: q.string("integrationId").or(q.string("integrationKey")),
                instance_key: q.get("instanceKey").map(str::to_string),
                auto_create: q.bool("autoCreate")?.unwrap_or(false),
            };
            state
                .engine
                .elements()
                .resolve_instance(caller, t, &sel)
                .await
        }
        _ => {
            let value = q.string("id").or(q.string("key")).ok_or_else(|| {
                ApiError::invalid_query("id", "give `id` or `key` to select an element")
            })?;
            state
                .engine
                .elements()
                .resolve(caller, t, &path_selector(value, q)?)
                .await
        }
    }
}

async fn query_op(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
    op: Op,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let caller = with_secrets(caller, &q)?;
    let el = resolve_query(&state, &caller, t, &q).await?;
    if let Some(at) = at_version(&state, &caller, &el, &q, op).await? {
        return Ok(at);
    }
    apply_op(&state, &caller, el, op).await
}

/// A GET with `version=V` (not `dev`) of a package: the package as of that
/// published version (`Engine::package_at_version`); `None` for the rest,
/// which read as they are.
async fn at_version(
    state: &AppState,
    caller: &Caller,
    el: &Element,
    q: &Query,
    op: Op,
) -> Result<Option<Json<Value>>, ApiError> {
    let (Op::Get, Some(version)) = (op, q.string("version")) else {
        return Ok(None);
    };
    Ok(state
        .engine
        .package_at_version(caller, el, &version)
        .await?
        .map(Json))
}

async fn query_write(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
    put: bool,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = match (put, t.spec().layering) {
        // A PUT naming an integration writes that integration's copy, made from
        // the universal element when there is none yet (Membrane's CLI pushes
        // customised copies so).
        (true, Layering::IntegrationLevel) => {
            let value = q.string("id").or(q.string("key")).ok_or_else(|| {
                ApiError::invalid_query("id", "give `id` or `key` to select an element")
            })?;
            state
                .engine
                .elements()
                .resolve_for_integration_put(&caller, t, &path_selector(value, &q)?)
                .await?
        }
        _ => resolve_query(&state, &caller, t, &q).await?,
    };
    write(&state, &caller, el, body, put).await
}

/// The body of `POST /{singular}/apply?key=K`: the integrations (keys or ids) to
/// make the universal element's copies for.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ApplyRequest {
    pub integration_keys: Vec<String>,
}

/// `POST /{singular}/apply?key=K {integrationKeys}` (Membrane's CLI 1.x): the
/// universal element's copies for those integrations, made when missing
/// (`Elements::apply_to_integrations`); answers the universal element with
/// `appliedToIntegrations`.
async fn query_apply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
    Body(body): Body<ApplyRequest>,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let value = q.string("id").or(q.string("key")).ok_or_else(|| {
        ApiError::invalid_query(
            "key",
            "give `key` or `id` of the universal element to apply",
        )
    })?;
    apply(&state, &caller, t, path_selector(value, &q)?, &body).await
}

/// Applies the universal element `sel` names to the body's integrations;
/// answers it with `appliedToIntegrations`.
async fn apply(
    state: &AppState,
    caller: &Caller,
    t: ElementType,
    mut sel: PathSelector,
    body: &ApplyRequest,
) -> ApiResult<Json<Value>> {
    sel.layer.layer = Some(osmosis_model::Layer::Universal);
    let universal = state.engine.elements().resolve(caller, t, &sel).await?;
    state
        .engine
        .elements()
        .apply_to_integrations(caller, &universal, &body.integration_keys)
        .await?;
    respond(state, caller, &universal).await
}

/// `POST /{plural}/{selector}/apply {integrationKeys}`: [`query_apply`] with
/// the universal element named in the path, as the SDK's accessors name
/// elements (a package applies with its elements).
async fn path_apply(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    Path(sel): Path<String>,
    Body(body): Body<ApplyRequest>,
) -> ApiResult<Json<Value>> {
    apply(
        &state,
        &caller,
        t,
        path_selector(sel, &Query::parse(None))?,
        &body,
    )
    .await
}

async fn query_reset(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let el = resolve_query(&state, &caller, t, &q).await?;
    let el = state.engine.elements().reset(&caller, el, &body).await?;
    respond(&state, &caller, &el).await
}

/// `POST /{singular}?{selector}` with a body creates: the selector's fields name the
/// parent, connection and instance key, the body the rest.
async fn query_create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    t: ElementType,
    RawQuery(raw): RawQuery,
    JsonObject(mut body): JsonObject,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let spec = t.spec();
    let mut mapping: Vec<(String, String)> = [
        "connectionId",
        "instanceKey",
        "integrationId",
        "integrationKey",
        "parentId",
        "parentKey",
        "key",
    ]
    .iter()
    .map(|f| (f.to_string(), f.to_string()))
    .collect();
    if let Layering::Instance(parent_type) = spec.layering {
        let stem = osmosis_engine::elements::camel_stem_of(parent_type);
        mapping.push((
            format!("{stem}Id"),
            spec.parent_field.unwrap_or("parentId").to_string(),
        ));
        mapping.push((format!("{stem}Key"), "parentKey".to_string()));
    }
    for (from, to) in mapping {
        if let Some(v) = q.string(&from) {
            body.entry(to).or_insert(json!(v));
        }
    }
    let el = state
        .engine
        .elements()
        .create(&caller, t, NewElement::from_body(body))
        .await?;
    respond(&state, &caller, &el).await
}
