//! The stored form of every workspace element: the envelope columns every type
//! shares, and the type's own document beside them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::element_type::ElementType;

/// `WorkspaceElementState` (docs/spec/api-surface.md §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElementState {
    Building,
    ClientActionRequired,
    ConfigurationError,
    SetupFailed,
    Ready,
    Disconnecting,
}

impl ElementState {
    pub fn as_str(self) -> &'static str {
        match self {
            ElementState::Building => "BUILDING",
            ElementState::ClientActionRequired => "CLIENT_ACTION_REQUIRED",
            ElementState::ConfigurationError => "CONFIGURATION_ERROR",
            ElementState::SetupFailed => "SETUP_FAILED",
            ElementState::Ready => "READY",
            ElementState::Disconnecting => "DISCONNECTING",
        }
    }

    pub fn parse(s: &str) -> Option<ElementState> {
        serde_json::from_value(Value::String(s.to_string())).ok()
    }
}

/// One workspace element as the store keeps it.
///
/// Envelope fields that selectors, uniqueness and tenancy need are columns; all the
/// rest (description, meta, errors, flags and the type's own fields) lives in `doc`
/// under its API name.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Store-assigned, strictly increasing position; list cursors are built on it.
    pub seq: i64,
    pub id: String,
    pub workspace_id: String,
    pub element_type: ElementType,
    pub key: Option<String>,
    pub uuid: String,
    pub name: String,
    pub integration_id: Option<String>,
    pub parent_id: Option<String>,
    pub connection_id: Option<String>,
    pub instance_key: Option<String>,
    /// Owning customer of customer-scoped elements (connections, instances); a
    /// customer row owns itself.
    pub customer_id: Option<String>,
    pub revision: String,
    pub state: ElementState,
    pub archived_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub doc: Map<String, Value>,
}

impl Element {
    /// A new, unsaved element of type `t` in a workspace: a fresh id with the type's
    /// prefix, a first revision, ready, created and updated at `now`. Its key, uuid,
    /// name, references and document are the caller's to set.
    pub fn new(workspace_id: impl Into<String>, t: ElementType, now: impl Into<String>) -> Self {
        let now = now.into();
        Element {
            seq: 0,
            id: format!("{}_{}", t.spec().id_prefix, crate::ids::object_id()),
            workspace_id: workspace_id.into(),
            element_type: t,
            key: None,
            uuid: String::new(),
            name: String::new(),
            integration_id: None,
            parent_id: None,
            connection_id: None,
            instance_key: None,
            customer_id: None,
            revision: crate::ids::revision(),
            state: ElementState::Ready,
            archived_at: None,
            created_at: now.clone(),
            updated_at: now,
            doc: Map::new(),
        }
    }

    pub fn doc_str(&self, field: &str) -> Option<&str> {
        self.doc.get(field).and_then(Value::as_str)
    }

    pub fn doc_bool(&self, field: &str) -> bool {
        self.doc
            .get(field)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    pub fn is_archived(&self) -> bool {
        self.archived_at.is_some()
    }
}
