//! Reads the console's pages need and the API has no route for: counts the
//! database makes, so a page stays one query however large the workspace is.

use osmosis_model::{ApiError, ElementType};
use osmosis_store::{ElementQuery, RefFilter};

use crate::errors::store_error;
use crate::{Caller, Engine};

impl Engine {
    /// How many live connections an integration or a customer has (both given:
    /// those of that customer to that integration). Counted by the database rather
    /// than by paging through the list, since an integration may have thousands;
    /// ids are taken as resolved in the caller's workspace, so another workspace's
    /// id counts nothing.
    pub async fn count_connections(
        &self,
        caller: &Caller,
        integration_id: Option<&str>,
        customer_id: Option<&str>,
    ) -> Result<i64, ApiError> {
        caller.require_admin("Counting connections needs an admin token")?;
        let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Connection);
        if let Some(id) = integration_id {
            q.integration = RefFilter::Is(id.to_owned());
        }
        if let Some(id) = customer_id {
            q.customer = RefFilter::Is(id.to_owned());
        }
        self.stores
            .elements
            .count_elements(&q)
            .await
            .map_err(store_error)
    }
}
