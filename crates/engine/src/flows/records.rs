//! Flow run and node run records as the API answers them (api-surface §6.4–6.5).
//!
//! A run row keeps the record as the API renders it, plus two fields of its own
//! that are never shown: `output` (the run's final output, answered by
//! `GET /flow-runs/{id}/output`) and `runningSince` (when execution began, which
//! the run's time limit counts from; `startTime` is when the run was created, as a
//! queued run is already "started" for the SDK's required field).

use osmosis_store::{FlowRunRow, NodeRunRow};
use serde_json::{json, Map, Value};

/// Record fields kept for the engine only.
const INTERNAL: [&str; 2] = ["output", "runningSince"];

/// States a run does not leave.
pub(crate) const FINAL_STATES: [&str; 3] = ["completed", "failed", "stopped"];

pub(crate) fn is_final(state: &str) -> bool {
    FINAL_STATES.contains(&state)
}

/// The run as the API answers it: its stored record with the row's state (the
/// truth: a claim turns a queued run running without rewriting its record).
pub fn render_run(row: &FlowRunRow) -> Value {
    render_record(&row.record, &row.state)
}

/// A stored run record as the API shows it, in `state`.
pub(crate) fn render_record(record: &Value, state: &str) -> Value {
    let mut record = match record {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    for k in INTERNAL {
        record.remove(k);
    }
    record.insert("state".into(), Value::String(state.to_owned()));
    Value::Object(record)
}

/// The run's final output (`null` until it completed).
pub fn run_output(row: &FlowRunRow) -> Value {
    row.record.get("output").cloned().unwrap_or(Value::Null)
}

/// A node run as `GET …/nodes/{k}/runs/{id}` answers it (outputs with their data).
pub fn render_node_run(row: &NodeRunRow) -> Value {
    row.record.clone()
}

/// A node run in a list: outputs without their data
/// (`FlowNodeRunRecordWithoutOutputsData`).
pub fn render_node_run_summary(row: &NodeRunRow) -> Value {
    let mut record = row.record.clone();
    if let Some(Value::Array(outputs)) = record.get_mut("outputs") {
        for o in outputs {
            if let Value::Object(m) = o {
                m.remove("data");
            }
        }
    }
    record
}

/// The outputs of a node run as `{id, data}` (data as serialised JSON).
pub fn node_run_outputs(row: &NodeRunRow) -> Vec<Value> {
    row.record
        .get("outputs")
        .and_then(Value::as_array)
        .map(|os| {
            os.iter()
                .map(|o| json!({"id": o.get("id"), "data": o.get("data")}))
                .collect()
        })
        .unwrap_or_default()
}

/// Per-node counts on the run record (`nodes: {key: {state, runs, erroredRuns,
/// outputs}}`).
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeTally {
    pub runs: u64,
    pub errored: u64,
    pub outputs: u64,
    pub running: u64,
}

impl NodeTally {
    pub(crate) fn to_json(&self, run_state: &str) -> Value {
        let state = if self.running > 0 && !is_final(run_state) {
            "running"
        } else if self.errored > 0 {
            "failed"
        } else if run_state == "stopped" {
            "stopped"
        } else {
            "completed"
        };
        json!({"state": state, "runs": self.runs, "erroredRuns": self.errored, "outputs": self.outputs})
    }
}
