//! What each element type adds to the generic core: validation and derived fields
//! at write time (`prepare`), computed fields at read time (`render_extra`).

mod app_events;
mod connector;
mod customer;
mod flow;
mod integration;
mod package;

use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

pub use flow::{flow_graph_errors, FLOW_NODE_TYPES};

/// The `ConnectorSpec` of a connector element (api-surface §7.6).
pub fn connector_spec(connector: &Element) -> Value {
    connector::spec(connector)
}

use crate::elements::Depth;
use crate::{Caller, Engine};

/// Validates a type's own fields and derives what it stores from them, before every
/// write. `body` is the request body, for references only a type knows.
pub(crate) async fn prepare(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    match el.element_type {
        ElementType::Integration => integration::prepare(engine, caller, el, body).await,
        ElementType::Connector => connector::prepare(el),
        ElementType::Flow | ElementType::FlowInstance => flow::prepare(engine, caller, el).await,
        ElementType::Package => package::prepare(engine, caller, el).await,
        ElementType::AppEventType => app_events::prepare_type(el),
        ElementType::FieldMapping | ElementType::FieldMappingInstance => {
            integration::resolve_data_source(engine, caller, el, body).await
        }
        _ => Ok(()),
    }
}

/// Adds the fields a type computes when it is read.
pub(crate) async fn render_extra(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    m: &mut Map<String, Value>,
    depth: Depth,
) -> Result<(), ApiError> {
    match el.element_type {
        ElementType::Integration => integration::render(engine, caller, el, m, depth).await,
        ElementType::Connector => {
            connector::render(el, m);
            Ok(())
        }
        ElementType::Customer => {
            customer::render(el, m);
            Ok(())
        }
        ElementType::Package => package::render(engine, caller, el, m, depth).await,
        ElementType::AppEventType | ElementType::AppEventSubscription => {
            app_events::render(engine, el, m);
            Ok(())
        }
        ElementType::Connection => crate::connections::render(engine, caller, el, m),
        _ => Ok(()),
    }
}

impl Engine {
    /// Re-validates an element against its current dependencies and stores the
    /// resulting `state`/`errors` (the seed's `POST /flows/{selector}/refresh`).
    pub async fn refresh(&self, caller: &Caller, current: Element) -> Result<Element, ApiError> {
        // A connection's refresh is a credentials refresh (`/refresh` is the
        // documented alias of `/refresh-credentials`).
        if current.element_type == ElementType::Connection {
            return self.refresh_credentials(caller, &current).await;
        }
        crate::elements::check_writer(caller, current.element_type).or_else(|e| {
            if current.element_type.spec().writers == osmosis_model::element_type::Writers::Admin {
                Err(e)
            } else {
                Ok(())
            }
        })?;
        let mut el = current.clone();
        prepare(self, caller, &mut el, &Map::new()).await?;
        if el.state == current.state
            && el.doc.get("errors") == current.doc.get("errors")
            && el.doc.get("dependencies") == current.doc.get("dependencies")
        {
            return Ok(current);
        }
        self.store_refreshed(current, el).await
    }
}
