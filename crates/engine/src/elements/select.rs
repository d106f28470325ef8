//! Turning selectors into elements (docs/spec/api-surface.md §1.7, §3.4).
//!
//! A path selector (`/flows/{sel}`) is an id, a key or a uuid, narrowed by the
//! Q-layer query. Without a layer, the most specific layer the query allows wins:
//! a connection's instance, then the integration's element, then the universal one.
//! An instance selector (`/flow-instance?flowKey=…&connectionId=…`) finds the
//! connection and the element the instance is made of, then the instance, creating
//! it when `autoCreate` asks for that.

use osmosis_model::element_type::Layering;
use osmosis_model::selector::LayerQuery;
use osmosis_model::{ApiError, Element, ElementType, Layer};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{Map, Value};

use super::Elements;
use super::NewElement;
use crate::caller::only_visible;
use crate::errors::{not_found, store_error};
use crate::refs::Ref;
use crate::Caller;

/// `/{plural}/{selector}` with its Q-layer query.
#[derive(Debug, Clone, Default)]
pub struct PathSelector {
    pub value: String,
    pub layer: LayerQuery,
    /// Create a missing connection-level instance (`autoCreate=true`).
    pub auto_create: bool,
}

impl PathSelector {
    pub fn new(value: impl Into<String>) -> Self {
        PathSelector {
            value: value.into(),
            ..Default::default()
        }
    }
}

/// An instance selector (style B / C).
#[derive(Debug, Clone, Default)]
pub struct InstanceSelector {
    pub id: Option<String>,
    /// The element the instance is made of, by id or key.
    pub parent: Option<String>,
    pub connection_id: Option<String>,
    pub connection_key: Option<String>,
    pub integration: Option<String>,
    pub instance_key: Option<String>,
    pub auto_create: bool,
}

impl Elements<'_> {
    /// Resolves a path selector of type `t`, enforcing visibility.
    pub async fn resolve(
        &self,
        caller: &Caller,
        t: ElementType,
        sel: &PathSelector,
    ) -> Result<Element, ApiError> {
        let spec = t.spec();
        let wants_connection = sel.layer.layer == Some(Layer::Connection)
            || (sel.layer.layer.is_none()
                && (sel.layer.connection_id.is_some() || sel.layer.connection_key.is_some()));
        if wants_connection {
            if let Some(instance_type) = t.instance_type() {
                let is = InstanceSelector {
                    parent: Some(sel.value.clone()),
                    connection_id: sel.layer.connection_id.clone(),
                    connection_key: sel.layer.connection_key.clone(),
                    integration: sel
                        .layer
                        .integration_id
                        .clone()
                        .or(sel.layer.integration_key.clone()),
                    instance_key: sel.layer.instance_key.clone(),
                    auto_create: sel.auto_create,
                    ..Default::default()
                };
                return Box::pin(self.resolve_instance(caller, instance_type, &is)).await;
            }
            if sel.layer.layer == Some(Layer::Connection) {
                return Err(ApiError::invalid_query(
                    "layer",
                    format!("{} elements have no connection layer", t.name()),
                ));
            }
        }
        let integration_id = self.layer_integration(caller, &sel.layer).await?;
        // Candidate scopes, most specific first.
        let scopes: Vec<RefFilter> = match (spec.layering, sel.layer.layer, &integration_id) {
            (Layering::IntegrationLevel, Some(Layer::Universal), _) => vec![RefFilter::None],
            (Layering::IntegrationLevel, Some(Layer::Integration), Some(iid)) => {
                vec![RefFilter::Is(iid.clone())]
            }
            (Layering::IntegrationLevel, Some(Layer::Integration), None) => {
                return Err(ApiError::invalid_query(
                    "layer",
                    "layer=integration needs integrationId or integrationKey",
                ))
            }
            (Layering::IntegrationLevel, None, Some(iid)) => {
                vec![RefFilter::Is(iid.clone()), RefFilter::None]
            }
            (Layering::IntegrationLevel, None, None) => vec![RefFilter::None, RefFilter::Any],
            _ => vec![RefFilter::Any],
        };
        // An id names exactly one element, whatever the layer. Ids carry their type's
        // prefix, so a key or uuid never costs an id lookup.
        if t.is_id(&sel.value) {
            if let Some(el) = self
                .find_one(
                    caller,
                    t,
                    |q| q.id = Some(sel.value.clone()),
                    RefFilter::Any,
                )
                .await?
            {
                return Ok(el);
            }
        }
        for scope in &scopes {
            if spec.has_key || t == ElementType::Customer {
                if let Some(el) = self
                    .find_one(
                        caller,
                        t,
                        |q| q.key = Some(sel.value.clone()),
                        scope.clone(),
                    )
                    .await?
                {
                    return Ok(el);
                }
            }
            if let Some(el) = self
                .find_one(
                    caller,
                    t,
                    |q| q.uuid = Some(sel.value.clone()),
                    scope.clone(),
                )
                .await?
            {
                return Ok(el);
            }
        }
        Err(not_found(t, &sel.value))
    }

    /// One visible, matching element; several matches are ambiguous.
    async fn find_one(
        &self,
        caller: &Caller,
        t: ElementType,
        set: impl FnOnce(&mut ElementQuery),
        integration: RefFilter,
    ) -> Result<Option<Element>, ApiError> {
        let mut q = ElementQuery::new(caller.workspace_id(), t);
        set(&mut q);
        q.integration = integration;
        q.include_archived = true;
        only_visible(caller, &mut q);
        q.limit = 3;
        let mut found: Vec<Element> = self.store.find_elements(&q).await.map_err(store_error)?;
        if found.len() > 1 {
            // Live elements win over archived ones holding the same key.
            found.retain(|e| !e.is_archived());
        }
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(ApiError::bad_request(
                osmosis_model::error::keys::INVALID_QUERY,
                format!(
                    "Several {} elements match; narrow the selector with integrationKey or layer",
                    t.name()
                ),
            )),
        }
    }

    /// The integration a Q-layer query names, if any.
    pub(crate) async fn layer_integration(
        &self,
        caller: &Caller,
        layer: &LayerQuery,
    ) -> Result<Option<String>, ApiError> {
        let r = match (&layer.integration_id, &layer.integration_key) {
            (Some(id), _) => Ref::Id(id.clone()),
            (None, Some(key)) => Ref::Key(key.clone()),
            (None, None) => return Ok(None),
        };
        Ok(Some(
            self.resolve_ref(caller, ElementType::Integration, &r, "integration")
                .await?
                .id,
        ))
    }

    /// The connection an instance selector names: by id or key, or the caller's
    /// connection to the named integration.
    async fn selector_connection(
        &self,
        caller: &Caller,
        sel: &InstanceSelector,
    ) -> Result<Option<Element>, ApiError> {
        if let Some(id) = &sel.connection_id {
            let found = self
                .find_one(
                    caller,
                    ElementType::Connection,
                    |q| q.id = Some(id.clone()),
                    RefFilter::Any,
                )
                .await?;
            return found
                .map(Some)
                .ok_or_else(|| not_found(ElementType::Connection, id));
        }
        if let Some(key) = &sel.connection_key {
            let found = self
                .find_one(
                    caller,
                    ElementType::Connection,
                    |q| q.key = Some(key.clone()),
                    RefFilter::Any,
                )
                .await?;
            return found
                .map(Some)
                .ok_or_else(|| not_found(ElementType::Connection, key));
        }
        if let (Some(integration), Some(me)) = (&sel.integration, &caller.customer_id) {
            let iid = match self
                .resolve_ref(
                    caller,
                    ElementType::Integration,
                    &Ref::Id(integration.clone()),
                    "integration",
                )
                .await
            {
                Ok(i) => i.id,
                Err(_) => {
                    self.resolve_ref(
                        caller,
                        ElementType::Integration,
                        &Ref::Key(integration.clone()),
                        "integration",
                    )
                    .await?
                    .id
                }
            };
            let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Connection);
            q.integration = RefFilter::Is(iid);
            q.customer = RefFilter::Is(me.clone());
            return self.store.first_element(q).await.map_err(store_error);
        }
        Ok(None)
    }

    /// Resolves an instance selector of instance type `t`.
    pub async fn resolve_instance(
        &self,
        caller: &Caller,
        t: ElementType,
        sel: &InstanceSelector,
    ) -> Result<Element, ApiError> {
        let Layering::Instance(parent_type) = t.spec().layering else {
            return Err(ApiError::internal(format!(
                "{} is not an instance type",
                t.name()
            )));
        };
        if let Some(id) = &sel.id {
            return self
                .find_one(caller, t, |q| q.id = Some(id.clone()), RefFilter::Any)
                .await?
                .ok_or_else(|| not_found(t, id));
        }
        let parent_sel = sel.parent.clone().ok_or_else(|| {
            ApiError::invalid_query(
                &format!("{}Key", super::camel_stem(parent_type)),
                "is required to select an instance without its id",
            )
        })?;
        let connection = self.selector_connection(caller, sel).await?;
        let parent = Box::pin(self.resolve(
            caller,
            parent_type,
            &PathSelector {
                value: parent_sel.clone(),
                layer: LayerQuery {
                    integration_id: connection.as_ref().and_then(|c| c.integration_id.clone()),
                    ..Default::default()
                },
                auto_create: false,
            },
        ))
        .await?;
        let mut q = ElementQuery::new(caller.workspace_id(), t);
        q.parent = RefFilter::Is(parent.id.clone());
        q.connection = match &connection {
            Some(c) => RefFilter::Is(c.id.clone()),
            None => RefFilter::Any,
        };
        q.instance_key = match &sel.instance_key {
            Some(k) if !k.is_empty() => RefFilter::Is(k.clone()),
            _ => RefFilter::None,
        };
        if let Some(me) = &caller.customer_id {
            q.customer = RefFilter::Is(me.clone());
        }
        q.limit = 2;
        let found = self.store.find_elements(&q).await.map_err(store_error)?;
        if found.len() == 1 {
            return Ok(found.into_iter().next().expect("one"));
        }
        if found.len() > 1 {
            return Err(ApiError::invalid_query(
                "connectionId",
                "several instances match; name the connection",
            ));
        }
        if !sel.auto_create {
            return Err(not_found(t, &parent_sel));
        }
        // Customer-scoped instances (app data schemas) need no connection.
        if connection.is_none() && self.hooks(t).instance_needs_connection() {
            return Err(ApiError::invalid_query(
                "connectionId",
                "creating an instance needs a connection",
            ));
        }
        let mut body = Map::new();
        if let Some(connection) = &connection {
            body.insert("connectionId".into(), Value::String(connection.id.clone()));
        }
        body.insert(
            t.spec().parent_field.unwrap_or("parentId").into(),
            Value::String(parent.id.clone()),
        );
        if let Some(k) = sel.instance_key.clone().filter(|k| !k.is_empty()) {
            body.insert("instanceKey".into(), Value::String(k));
        }
        match self.create(caller, t, NewElement::from_body(body)).await {
            Ok(el) => Ok(el),
            // A concurrent request created it first.
            Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::ALREADY_EXISTS) => {
                let found = self.store.find_elements(&q).await.map_err(store_error)?;
                found.into_iter().next().ok_or(e)
            }
            Err(e) => Err(e),
        }
    }
}
