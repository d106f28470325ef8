//! The customer element type: created on first sight of a token that names it
//! (docs/spec/semantics.md §7.1), so resolving a caller may write. A single node
//! (SQLite) caches the token-claims → customer mapping, invalidated by its own
//! writes; the cached entry remembers the claims it was made from, and a token
//! carrying a different `name` or `fields` updates the row. Nodes sharing a database
//! (PostgreSQL) read the customer on every request instead, so archiving a customer
//! on one node is seen by the next request on any other.

use std::sync::Arc;

use dashmap::DashMap;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, Workspace};
use serde_json::{json, Map, Value};

use crate::caller::{Caller, CustomerClaims};
use crate::elements::NewElement;
use crate::Engine;

/// The `user` variable of formulas and code run for a customer: the customer as
/// the API shows it — `id` (Osmosis's), `internalId` (the app's own id, which
/// tokens name), `name`, `fields`. `Null` when no customer is involved (an admin's
/// run on no connection).
pub(crate) async fn user_variable(
    store: &dyn osmosis_store::ElementStore,
    workspace_id: &str,
    customer_id: Option<&str>,
) -> Result<Value, ApiError> {
    let Some(id) = customer_id else {
        return Ok(Value::Null);
    };
    let customer = store
        .element_by_id(workspace_id, id)
        .await
        .map_err(crate::errors::store_error)?
        .filter(|c| c.element_type == ElementType::Customer);
    Ok(match customer {
        Some(c) => json!({
            "id": c.id,
            "internalId": c.key.clone().unwrap_or_default(),
            "name": c.name,
            "fields": c.doc.get("fields").cloned().unwrap_or_else(|| json!({})),
        }),
        None => json!({"id": id}),
    })
}

pub(super) fn render(el: &Element, m: &mut Map<String, Value>) {
    m.insert(
        "internalId".into(),
        json!(el.key.clone().unwrap_or_default()),
    );
    m.insert("isTest".into(), json!(el.doc_bool("isTest")));
    if let Some(v) = el.doc.get("lastActiveAt") {
        m.insert("lastActiveAt".into(), v.clone());
    }
}

#[derive(Default)]
pub(crate) struct CustomerCache {
    entries: DashMap<(String, String), CachedCustomer>,
}

#[derive(Clone)]
struct CachedCustomer {
    id: String,
    claims: CustomerClaims,
}

impl CustomerCache {
    /// Forgets a customer after it changed through the API, so the next token
    /// re-reads it.
    pub(crate) fn forget(&self, workspace_id: &str, internal_id: &str) {
        self.entries
            .remove(&(workspace_id.to_string(), internal_id.to_string()));
    }
}

impl Engine {
    /// The caller for a verified customer token: finds the customer by `internalId`,
    /// creating it on first sight, and keeps its `name`/`fields` in step with the token.
    pub async fn customer_caller(
        &self,
        workspace: Arc<Workspace>,
        claims: CustomerClaims,
    ) -> Result<Caller, ApiError> {
        // Before any lookup: the id becomes the customer's `internalId` (a key), and
        // an unusable one must neither be searched for nor fill the caches.
        if let Some(problem) = crate::elements::key_problem(&claims.internal_id) {
            return Err(ApiError::invalid_field(
                "id",
                format!("the access token's customer id {problem}"),
            ));
        }
        let cache_key = (workspace.id.clone(), claims.internal_id.clone());
        let cacheable = !self.stores.database.is_shared();
        if let Some(hit) = self.customers.entries.get(&cache_key).filter(|_| cacheable) {
            if hit.claims == claims {
                return Ok(Caller {
                    workspace,
                    customer_id: Some(hit.id.clone()),
                    include_secrets: false,
                });
            }
        }
        let admin = Caller::admin(workspace.clone());
        let customer = match self
            .find_customer(&workspace.id, &claims.internal_id)
            .await?
        {
            Some(existing) => self.sync_customer_claims(&admin, existing, &claims).await?,
            None => self.create_customer_on_first_sight(&admin, &claims).await?,
        };
        if customer.is_archived() {
            return Err(ApiError::not_authenticated(format!(
                "Customer `{}` is archived",
                claims.internal_id
            )));
        }
        self.customers.entries.insert(
            cache_key,
            CachedCustomer {
                id: customer.id.clone(),
                claims,
            },
        );
        Ok(Caller {
            workspace,
            customer_id: Some(customer.id),
            include_secrets: false,
        })
    }

    /// The customer element with this id, if it still exists (`/self`).
    pub async fn customer_by_id(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<Element>, ApiError> {
        let found = self
            .stores
            .elements
            .element_by_id(workspace_id, id)
            .await
            .map_err(crate::errors::store_error)?;
        Ok(found.filter(|c| c.element_type == ElementType::Customer))
    }

    /// The id of the live customer with this `internalId`, if there is one (whose
    /// an app event is). Kept on this node while no customer of the workspace was
    /// written ([`crate::node_cache::elements_revision`]): looked up for every
    /// delivery to an app event type, the lookup cloned the customer out of the
    /// element cache each time.
    pub(crate) async fn live_customer_id(
        &self,
        workspace_id: &str,
        internal_id: &str,
    ) -> Result<Option<String>, ApiError> {
        let revision = crate::node_cache::elements_revision(
            &*self.stores.elements,
            workspace_id,
            &[ElementType::Customer],
            "",
        );
        let derive = async {
            let found = self.find_customer(workspace_id, internal_id).await?;
            Ok::<_, ApiError>(found.filter(|c| !c.is_archived()).map(|c| c.id))
        };
        let found = self
            .customer_ids
            .get_or_derive(
                &format!("{workspace_id}/{internal_id}"),
                revision.as_deref(),
                self.stores.database.is_shared(),
                derive,
            )
            .await?;
        Ok((*found).clone())
    }

    pub(crate) async fn find_customer(
        &self,
        workspace_id: &str,
        internal_id: &str,
    ) -> Result<Option<Element>, ApiError> {
        let mut q = ElementQuery::new(workspace_id, ElementType::Customer);
        q.key = Some(internal_id.to_string());
        q.include_archived = true;
        q.limit = 2;
        let mut found = self
            .stores
            .elements
            .find_elements(&q)
            .await
            .map_err(crate::errors::store_error)?;
        // A live customer wins over archived ones with the same internal id.
        found.sort_by_key(|c| c.is_archived());
        Ok(found.into_iter().next())
    }

    async fn create_customer_on_first_sight(
        &self,
        admin: &Caller,
        claims: &CustomerClaims,
    ) -> Result<Element, ApiError> {
        let mut body = Map::new();
        body.insert("internalId".into(), json!(claims.internal_id));
        body.insert(
            "name".into(),
            json!(claims
                .name
                .clone()
                .unwrap_or_else(|| claims.internal_id.clone())),
        );
        if let Some(fields) = &claims.fields {
            body.insert("fields".into(), fields.clone());
        }
        match self
            .elements()
            .create(admin, ElementType::Customer, NewElement::from_body(body))
            .await
        {
            Ok(c) => Ok(c),
            // Another request (or node) created it first: use theirs.
            Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::ALREADY_EXISTS) => self
                .find_customer(&admin.workspace.id, &claims.internal_id)
                .await?
                .ok_or_else(|| ApiError::internal("customer vanished while being created")),
            Err(e) => Err(e),
        }
    }

    async fn sync_customer_claims(
        &self,
        admin: &Caller,
        existing: Element,
        claims: &CustomerClaims,
    ) -> Result<Element, ApiError> {
        let mut patch = Map::new();
        if let Some(name) = &claims.name {
            if *name != existing.name {
                patch.insert("name".into(), json!(name));
            }
        }
        if let Some(fields) = &claims.fields {
            if existing.doc.get("fields") != Some(fields) {
                patch.insert("fields".into(), fields.clone());
            }
        }
        if patch.is_empty() || existing.is_archived() {
            return Ok(existing);
        }
        self.elements().patch_element(admin, existing, patch).await
    }
}

/// Customers: their own customer, keyed by `internalId`; a change forgets the
/// cached token → customer mapping.
pub(crate) struct CustomerHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for CustomerHooks {
    /// The key is the customer's `internalId`, kept in both places.
    async fn prepare(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        if let Some(key) = &el.key {
            el.doc
                .insert("internalId".into(), Value::String(key.clone()));
        }
        Ok(())
    }

    async fn before_insert(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        el.customer_id = Some(el.id.clone());
        self.prepare(engine, caller, el, body).await
    }

    fn after_write(&self, engine: &Engine, before: &Element, after: &Element) {
        for el in [before, after] {
            if let Some(k) = &el.key {
                engine.customers.forget(&el.workspace_id, k);
            }
        }
    }

    async fn render(
        &self,
        _engine: &Engine,
        _caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: crate::elements::Depth,
    ) -> Result<(), ApiError> {
        render(el, m);
        Ok(())
    }

    /// A customer created without an `internalId` is known by its id.
    fn derived_key(&self, el: &Element) -> Option<String> {
        Some(el.id.clone())
    }

    fn tracks_customization(&self) -> bool {
        false
    }
}
