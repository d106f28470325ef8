//! Which element's type fields apply to a copy (semantics §8.1).
//!
//! Copies made from a parent (an integration-level copy of a universal element, a
//! connection-level instance) start with the parent's type fields. **While a copy is
//! not customised it follows its parent**: whatever runs it (an action run, a data
//! source instance's collection) takes the parent's current fields, so changing the
//! universal element changes every copy nobody edited. Once customised (or made with
//! a definition of its own), the copy's own fields apply.

use osmosis_model::{ApiError, Element};

use super::Elements;
use crate::errors::store_error;

/// How far a copy follows non-customised parents (connection → integration →
/// universal is two steps).
const MAX_PARENT_STEPS: usize = 3;

impl Elements<'_> {
    /// The element whose type fields apply to `el`: itself, or the nearest
    /// customised (or root) ancestor along non-customised copies. A parent that is
    /// gone or archived leaves the copy with what it has.
    pub(crate) async fn effective(&self, el: &Element) -> Result<Element, ApiError> {
        let mut source = el.clone();
        for _ in 0..MAX_PARENT_STEPS {
            if source.doc_bool("isCustomized") {
                break;
            }
            let Some(parent_id) = source.parent_id.clone() else {
                break;
            };
            match self
                .store
                .element_by_id(&el.workspace_id, &parent_id)
                .await
                .map_err(store_error)?
            {
                Some(p) if !p.is_archived() => source = p,
                _ => break,
            }
        }
        Ok(source)
    }
}
