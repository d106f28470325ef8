//! Each element type's own behaviour, as [`ElementHooks`] the generic core calls,
//! and the registry that hands the core a type's hooks. Adding an element type
//! means its spec in the model crate, its module here, and one line in
//! [`hooks_of`].

mod action;
pub(crate) mod app_events;
pub(crate) mod connector;
pub(crate) mod customer;
mod data_source;
pub(crate) mod flow;
mod integration;
mod package;

use osmosis_model::{Element, ElementType};
use serde_json::Value;

use crate::connections::lifecycle::ConnectionHooks;
use crate::elements::{ElementHooks, NoHooks};

pub use flow::{flow_graph_errors, FLOW_NODE_TYPES};

/// The `ConnectorSpec` of a connector element (docs/spec/api-surface.md §7.6).
pub fn connector_spec(connector: &Element) -> Value {
    connector::spec(connector)
}

/// The hooks of each element type: the registry the engine is built with.
pub fn hooks_of(t: ElementType) -> &'static dyn ElementHooks {
    use ElementType as T;
    match t {
        T::Action | T::ActionInstance => &action::ActionHooks,
        T::Integration => &integration::IntegrationHooks,
        T::Connector => &connector::ConnectorHooks,
        T::Customer => &customer::CustomerHooks,
        T::Connection => &ConnectionHooks,
        T::Flow | T::FlowInstance => &flow::FlowHooks,
        T::Package => &package::PackageHooks,
        T::AppEventType => &app_events::AppEventTypeHooks,
        T::AppEventSubscription => &app_events::AppEventSubscriptionHooks,
        T::AppDataSchemaInstance => &app_events::AppDataSchemaInstanceHooks,
        T::FieldMapping | T::FieldMappingInstance => &integration::FieldMappingHooks,
        T::DataSourceInstance => &data_source::DataSourceInstanceHooks,
        _ => &NoHooks,
    }
}
