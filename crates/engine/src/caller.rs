//! Who is calling — a workspace admin, or one customer of the workspace — and what
//! that caller may see. A leaf module: it imports nothing of the engine, so every
//! part of it can ask [`visible_to`] without a cycle. Turning a customer token into
//! a caller is the customer type's business (`types::customer`).

use std::sync::Arc;

use osmosis_model::{ApiError, Element};
use osmosis_store::Workspace;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Caller {
    pub workspace: Arc<Workspace>,
    /// `None` for an admin token.
    pub customer_id: Option<String>,
    /// The request asked for secrets (`includeSecrets=true`) and may see them: only
    /// admin callers ever get this set.
    pub include_secrets: bool,
}

impl Caller {
    pub fn admin(workspace: Arc<Workspace>) -> Self {
        Caller {
            workspace,
            customer_id: None,
            include_secrets: false,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.customer_id.is_none()
    }

    /// `Ok` for an admin token; for a customer's, `access_denied` saying
    /// `message` (what needs the admin token).
    pub fn require_admin(&self, message: &str) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::access_denied(message))
        }
    }

    pub fn workspace_id(&self) -> &str {
        &self.workspace.id
    }
}

/// What a customer token says about its customer.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerClaims {
    /// The customer's id in the application (`internalId`).
    pub internal_id: String,
    pub name: Option<String>,
    pub fields: Option<Value>,
}

/// Customer-owned elements are visible only to their customer and admins. Others'
/// elements answer `not_found`, so a customer cannot probe what exists.
pub(crate) fn visible_to(caller: &Caller, el: &Element) -> bool {
    may_see(caller, el.element_type, el.customer_id.as_deref())
}

/// [`visible_to`] for an element known by its type and owning customer alone.
pub(crate) fn may_see(caller: &Caller, t: osmosis_model::ElementType, owner: Option<&str>) -> bool {
    match (&caller.customer_id, t.spec().readers) {
        (None, _) => true,
        (Some(_), osmosis_model::element_type::Readers::Workspace) => true,
        (Some(me), osmosis_model::element_type::Readers::Owner) => owner == Some(me.as_str()),
    }
}

/// Narrows `q` to the elements `caller` may see ([`visible_to`]) in the query
/// itself. Filtering afterwards is not enough for a query limited to a few rows:
/// several customers' connections share an integration and may share a key, and
/// the caller's own could be the row past the limit.
pub(crate) fn only_visible(caller: &Caller, q: &mut osmosis_store::ElementQuery) {
    if let (Some(me), osmosis_model::element_type::Readers::Owner) =
        (&caller.customer_id, q.element_type.spec().readers)
    {
        q.customer = osmosis_store::RefFilter::Is(me.clone());
    }
}
