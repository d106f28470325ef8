//! Layers and the query fields that narrow a selector (Q-layer, docs/spec/api-surface.md §2.0).

use serde::{Deserialize, Serialize};

/// `MembraneElementLayer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Universal,
    Integration,
    Connection,
}

impl Layer {
    pub fn parse(s: &str) -> Option<Layer> {
        match s {
            "universal" => Some(Layer::Universal),
            "integration" => Some(Layer::Integration),
            "connection" => Some(Layer::Connection),
            _ => None,
        }
    }
}

/// The flat selector query of the seed pages (style E): which layer, and which
/// integration / connection / instance the selector is meant within.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerQuery {
    pub layer: Option<Layer>,
    pub integration_key: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub connection_key: Option<String>,
    pub instance_key: Option<String>,
}

impl LayerQuery {
    pub fn is_empty(&self) -> bool {
        *self == LayerQuery::default()
    }
}
