//! Flow runs (api-surface §2.10, §6.4–6.6): starting them (`POST /flow-runs`,
//! `POST /connections/{c}/flows/{f}/run`, `POST /flow-instances/{id}/run`),
//! listing and reading them, stopping them, and their node runs and outputs.
//!
//! `GET /flow-runs/{id}?wait=<seconds>` (up to 60) long-polls: it answers once the
//! run has ended or the wait is over. The SDK's `getNodeRuns` puts its query in
//! the path (`…/runs/cursor=2`); such a last segment is read as the query.

use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::routing::{get, post};
use axum::Json;
use osmosis_engine::flows::{FlowRunFilter, Launch};
use osmosis_model::{ApiError, ElementType};
use serde_json::{Map, Value};

use super::nested::conn_instance;
use super::Routes;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::extract::{Body, Params};
use crate::query::Query;
use crate::AppState;

pub fn router() -> Routes {
    Routes::new()
        .route("/flow-runs", get(list).post(create))
        .route("/flow-runs/{id}", get(one))
        .route("/flow-runs/{id}/stop", post(stop))
        .route("/flow-runs/{id}/output", get(output))
        .route("/flow-runs/{id}/nodes/{node}/runs", get(node_runs))
        .route("/flow-runs/{id}/nodes/{node}/runs/", get(node_runs))
        .route("/flow-runs/{id}/nodes/{node}/runs/{run}", get(node_run))
        .route("/flow-runs/{id}/nodes/{node}/outputs", get(node_outputs))
        .route(
            "/flow-runs/{id}/nodes/{node}/output/{output}",
            get(node_output),
        )
        .route(
            "/connections/{connection}/flows/{selector}/run",
            post(run_on_connection),
        )
        .route("/flow-instances/{id}/run", post(run_instance))
}

/// `POST /flow-runs`: which instance, from which node, with what.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateFlowRun {
    /// The flow instance (connection layer) to run.
    flow_instance_id: String,
    /// The trigger node to start from; by default the flow's only api-trigger.
    #[serde(default)]
    start_node_key: Option<String>,
    /// Deprecated name of `startNodeKey` (the SDK's `startRun` sends it).
    #[serde(default)]
    node_key: Option<String>,
    /// The trigger's output; checked against an api-trigger's `inputSchema`.
    #[serde(default)]
    input: Option<Value>,
    /// Kept on the run as given (`FlowRunApiResponse.meta`: an object).
    #[serde(default)]
    meta: Option<Map<String, Value>>,
}

/// The body of the run routes of an instance: `{nodeKey?, input?, meta?}`.
#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunFlow {
    #[serde(default)]
    node_key: Option<String>,
    #[serde(default)]
    start_node_key: Option<String>,
    #[serde(default)]
    input: Option<Value>,
    /// Kept on the run as given (`FlowRunApiResponse.meta`: an object).
    #[serde(default)]
    meta: Option<Map<String, Value>>,
}

impl RunFlow {
    fn launch(self) -> Launch {
        Launch::api(
            self.start_node_key.or(self.node_key),
            self.input,
            self.meta.map(Value::Object),
        )
    }
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Body(body): Body<CreateFlowRun>,
) -> ApiResult<Json<Value>> {
    if body.flow_instance_id.is_empty() {
        return Err(ApiError::invalid_field("flowInstanceId", "is required").into());
    }
    let launch = Launch::api(
        body.start_node_key.or(body.node_key),
        body.input,
        body.meta.map(Value::Object),
    );
    Ok(Json(
        state
            .engine
            .flows()
            .start_by_instance_id(&caller, &body.flow_instance_id, launch)
            .await?,
    ))
}

/// `POST /connections/{c}/flows/{f}/run`: the connection's instance of the flow
/// (made when it has none yet, as `autoCreate` would).
async fn run_on_connection(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((connection, selector)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    Body(body): Body<RunFlow>,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let instance = conn_instance(
        &state,
        &caller,
        ElementType::FlowInstance,
        connection,
        selector,
        &q,
        true,
    )
    .await?;
    let launch = body.launch();
    Ok(Json(
        state
            .engine
            .flows()
            .start(&caller, instance, launch)
            .await?,
    ))
}

/// `POST /flow-instances/{id}/run` (legacy).
async fn run_instance(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Body(body): Body<RunFlow>,
) -> ApiResult<Json<Value>> {
    let launch = body.launch();
    Ok(Json(
        state
            .engine
            .flows()
            .start_by_instance_id(&caller, &id, launch)
            .await?,
    ))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Params(filter): Params<FlowRunFilter>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.flows().list(&caller, &filter).await?))
}

async fn one(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = Query::parse(raw.as_deref());
    let wait = match q.get("wait").filter(|w| !w.is_empty()) {
        None => None,
        Some(w) => Some(
            w.parse::<f64>()
                .ok()
                .filter(|s| (0.0..=60.0).contains(s))
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    ApiError::invalid_query("wait", "must be a number of seconds from 0 to 60")
                })?,
        ),
    };
    Ok(Json(state.engine.flows().get(&caller, &id, wait).await?))
}

async fn stop(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.flows().stop(&caller, &id).await?))
}

async fn output(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.engine.flows().output(&caller, &id).await?))
}

/// `cursor` and `limit` (1–1000, default 100) of a node run list.
fn node_page(q: &Query) -> Result<(Option<i64>, i64), ApiError> {
    Ok((q.cursor()?, q.limit()?.unwrap_or(100)))
}

async fn node_runs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, node)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (cursor, limit) = node_page(&Query::parse(raw.as_deref()))?;
    Ok(Json(
        state
            .engine
            .flows()
            .node_runs(&caller, &id, &node, cursor, limit)
            .await?,
    ))
}

async fn node_run(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, node, run)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let flows = state.engine.flows();
    if run.contains('=') {
        // The SDK's `getNodeRuns(key, {cursor})` sends `runs/cursor=2`.
        let (cursor, limit) = node_page(&Query::parse(Some(&run)))?;
        return Ok(Json(
            flows.node_runs(&caller, &id, &node, cursor, limit).await?,
        ));
    }
    Ok(Json(flows.node_run(&caller, &id, &node, &run).await?))
}

async fn node_outputs(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, node)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let (cursor, limit) = node_page(&Query::parse(raw.as_deref()))?;
    Ok(Json(
        state
            .engine
            .flows()
            .node_outputs(&caller, &id, &node, cursor, limit)
            .await?,
    ))
}

async fn node_output(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, node, output)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        state
            .engine
            .flows()
            .node_output(&caller, &id, &node, &output)
            .await?,
    ))
}
