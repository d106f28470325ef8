//! Data source instances: every write, reset and setup resolves the collection
//! the instance points at and stores its spec (`data_sources`, module doc).

use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

use crate::{Caller, Engine};

pub(crate) struct DataSourceInstanceHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for DataSourceInstanceHooks {
    async fn prepare(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        engine.data_sources().set_up(caller, el, body).await
    }

    /// `setup` (and `refresh`): the collection resolved again.
    async fn refresh(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        if current.element_type != ElementType::DataSourceInstance {
            return None;
        }
        Some(engine.data_sources().setup(caller, current).await)
    }
}
