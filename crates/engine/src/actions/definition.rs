//! An action's effective definition: what runs when it runs — a copy that is not
//! customised runs its parent's current definition (see `elements::follow`).

use osmosis_model::ApiError;
use osmosis_runtime::formula::build_value;
use osmosis_runtime::js::strip_undefined;
use serde_json::{json, Map, Value};

use super::{ActionTarget, Actions};

/// The fields of an action that say what a run does.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionDefinition {
    /// `type`, e.g. `api-request-to-external-app`.
    pub kind: String,
    pub config: Value,
    pub input_schema: Option<Value>,
    pub output_mapping: Option<Value>,
    /// `config` holds formulas to evaluate with the run's variables before the
    /// type reads it (a stored action, a flow node); a request given inline with
    /// `/act` is sent as written.
    pub formulas: bool,
}

impl ActionDefinition {
    /// A definition given inline (`/act` with `api` or `code`).
    pub fn inline(kind: &str, config: Value) -> Self {
        ActionDefinition {
            kind: kind.to_owned(),
            config,
            input_schema: None,
            output_mapping: None,
            formulas: false,
        }
    }

    fn of_doc(doc: &Map<String, Value>) -> Result<Self, ApiError> {
        let present = |k: &str| doc.get(k).filter(|v| !v.is_null()).cloned();
        let kind = match doc.get("type") {
            Some(Value::String(t)) if !t.is_empty() => t.clone(),
            _ => {
                return Err(ApiError::configuration(
                    "The action has no `type`: set one before running it",
                ))
            }
        };
        Ok(ActionDefinition {
            kind,
            config: present("config").unwrap_or_else(|| json!({})),
            input_schema: present("inputSchema"),
            output_mapping: present("outputMapping"),
            formulas: true,
        })
    }

    /// The raw output reshaped by `outputMapping` (variables `input`, `output`,
    /// `user`); without one, the raw output.
    pub(crate) fn map_output(
        &self,
        input: &Value,
        output: Value,
        user: &Value,
    ) -> Result<Value, ApiError> {
        let Some(mapping) = &self.output_mapping else {
            return Ok(output);
        };
        let variables = json!({"input": input, "output": output, "user": user});
        build_value(Some(mapping), Some(&variables))
            .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
            .map_err(|e| ApiError::configuration(format!("outputMapping: {e}")))
    }
}

impl Actions<'_> {
    /// The definition `target` runs with: its action's effective type fields
    /// (`Elements::effective`), or the inline definition.
    pub(crate) async fn definition_of(
        &self,
        target: &ActionTarget,
    ) -> Result<ActionDefinition, ApiError> {
        let Some(action) = &target.action else {
            return target
                .inline
                .clone()
                .ok_or_else(|| ApiError::internal("an action target without an action"));
        };
        let source = self.calls.elements.effective(action).await?;
        ActionDefinition::of_doc(&source.doc)
    }
}
