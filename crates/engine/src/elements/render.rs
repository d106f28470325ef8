//! Elements as the API shows them: the envelope, the type's own fields, what the
//! type computes, and related elements embedded. Keys the SDK's response schema for
//! the type does not know are dropped (`osmosis_model::response_keys`).

use osmosis_model::element_type::{Layering, Readers};
use osmosis_model::response_keys::{response_keys, top_level_only_keys};
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{json, Map, Value};

use super::Elements;
use crate::errors::store_error;
use crate::Caller;

/// How much to embed. Lists render items flat so a page costs one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// The element with related elements embedded.
    Full,
    /// The element alone.
    Flat,
    /// The element alone, inside another element's response: in the base shape the
    /// SDK's schemas embed (`top_level_only_keys`).
    Embedded,
}

impl Elements<'_> {
    pub async fn render(
        &self,
        caller: &Caller,
        el: &Element,
        depth: Depth,
    ) -> Result<Value, ApiError> {
        let mut m = envelope(el);
        self.hooks(el.element_type)
            .render(self.hook_context, caller, el, &mut m, depth)
            .await?;
        if depth == Depth::Full {
            self.embed_related(caller, el, &mut m).await?;
        }
        let allowed = response_keys(el.element_type);
        let top_level_only = match depth {
            Depth::Embedded => top_level_only_keys(el.element_type),
            Depth::Full | Depth::Flat => &[],
        };
        m.retain(|k, _| allowed.contains(&k.as_str()) && !top_level_only.contains(&k.as_str()));
        Ok(Value::Object(m))
    }

    pub async fn render_all(
        &self,
        caller: &Caller,
        items: &[Element],
    ) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::with_capacity(items.len());
        for el in items {
            out.push(self.render(caller, el, Depth::Flat).await?);
        }
        Ok(out)
    }

    async fn embed_related(
        &self,
        caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
    ) -> Result<(), ApiError> {
        let t = el.element_type;
        if let (Some(iid), true) = (&el.integration_id, t != ElementType::Integration) {
            if let Some(integration) = self
                .store
                .element_by_id(&el.workspace_id, iid)
                .await
                .map_err(store_error)?
            {
                m.insert(
                    "integration".into(),
                    Box::pin(self.render(caller, &integration, Depth::Embedded)).await?,
                );
            }
        }
        if let Some(cid) = &el.customer_id {
            if t != ElementType::Customer {
                if let Some(customer) = self
                    .store
                    .element_by_id(&el.workspace_id, cid)
                    .await
                    .map_err(store_error)?
                {
                    m.insert(
                        "user".into(),
                        Box::pin(self.render(caller, &customer, Depth::Embedded)).await?,
                    );
                }
            }
        }
        if t.spec().layering == Layering::IntegrationLevel && el.integration_id.is_none() {
            let mut q = ElementQuery::new(&el.workspace_id, t);
            q.parent = RefFilter::Is(el.id.clone());
            q.integration = RefFilter::Some;
            let children = self.store.find_elements(&q).await.map_err(store_error)?;
            let mut applied = Vec::with_capacity(children.len());
            for child in &children {
                let Some(iid) = &child.integration_id else {
                    continue;
                };
                let Some(integration) = self
                    .store
                    .element_by_id(&el.workspace_id, iid)
                    .await
                    .map_err(store_error)?
                else {
                    continue;
                };
                applied.push(json!({
                    "element": Box::pin(self.render(caller, child, Depth::Embedded)).await?,
                    "integration": Box::pin(self.render(caller, &integration, Depth::Embedded)).await?,
                }));
            }
            m.insert("appliedToIntegrations".into(), Value::Array(applied));
        }
        if let (Layering::Instance(_), Some(pid)) = (t.spec().layering, &el.parent_id) {
            if let Some(parent) = self
                .store
                .element_by_id(&el.workspace_id, pid)
                .await
                .map_err(store_error)?
            {
                let field = match t {
                    ElementType::ActionInstance => "parent".to_string(),
                    other => super::camel_stem(other.spec().layering_parent_type()),
                };
                m.insert(
                    field,
                    Box::pin(self.render(caller, &parent, Depth::Embedded)).await?,
                );
            }
        }
        if let Some(conn) = &el.connection_id {
            if let Some(connection) = self
                .store
                .element_by_id(&el.workspace_id, conn)
                .await
                .map_err(store_error)?
            {
                if crate::caller::visible_to(caller, &connection) {
                    m.insert(
                        "connection".into(),
                        Box::pin(self.render(caller, &connection, Depth::Embedded)).await?,
                    );
                }
            }
        }
        Ok(())
    }
}

trait LayeringParent {
    fn layering_parent_type(&self) -> ElementType;
}

impl LayeringParent for osmosis_model::TypeSpec {
    fn layering_parent_type(&self) -> ElementType {
        match self.layering {
            Layering::Instance(p) => p,
            _ => self.element_type,
        }
    }
}

/// Copies the type's own fields (its `TypeSpec::fields`) the document holds into
/// `m`: what a response and an export both carry of the element's type.
pub(crate) fn copy_type_fields(el: &Element, m: &mut Map<String, Value>) {
    for table in el.element_type.spec().fields {
        for f in table.iter() {
            if let Some(v) = el.doc.get(f.name) {
                m.insert(f.name.into(), v.clone());
            }
        }
    }
}

/// The fields every type shares, from the envelope columns and the document.
fn envelope(el: &Element) -> Map<String, Value> {
    let spec = el.element_type.spec();
    let mut m = Map::new();
    m.insert("id".into(), json!(el.id));
    m.insert("name".into(), json!(el.name));
    if let Some(key) = &el.key {
        m.insert("key".into(), json!(key));
    }
    m.insert("uuid".into(), json!(el.uuid));
    for f in ["description", "meta"] {
        if let Some(v) = el.doc.get(f) {
            m.insert(f.into(), v.clone());
        }
    }
    m.insert("state".into(), json!(el.state.as_str()));
    m.insert(
        "errors".into(),
        el.doc.get("errors").cloned().unwrap_or_else(|| json!([])),
    );
    m.insert("revision".into(), json!(el.revision));
    m.insert("createdAt".into(), json!(el.created_at));
    m.insert("updatedAt".into(), json!(el.updated_at));
    if let Some(a) = &el.archived_at {
        m.insert("archivedAt".into(), json!(a));
    }
    m.insert(
        "isDeactivated".into(),
        json!(el.is_archived() || el.doc_bool("isDeactivated")),
    );
    m.insert("isReadOnly".into(), json!(el.doc_bool("isReadOnly")));
    if let Some(iid) = &el.integration_id {
        m.insert("integrationId".into(), json!(iid));
    }
    if let (Some(pid), Some(field)) = (&el.parent_id, spec.parent_field) {
        m.insert(field.into(), json!(pid));
        if field != "parentId" && spec.layering == Layering::IntegrationLevel {
            // Packages and actions call it parentId; others expose both names.
            m.insert("parentId".into(), json!(pid));
        }
    }
    if let Some(c) = &el.connection_id {
        m.insert("connectionId".into(), json!(c));
    }
    if let Some(k) = &el.instance_key {
        m.insert("instanceKey".into(), json!(k));
    }
    if spec.layering == Layering::IntegrationLevel {
        m.insert("isUniversal".into(), json!(el.integration_id.is_none()));
    }
    if spec.readers == Readers::Owner && el.element_type != ElementType::Customer {
        if let Some(c) = &el.customer_id {
            m.insert("userId".into(), json!(c));
            m.insert("tenantId".into(), json!(c));
        }
    }
    if el.parent_id.is_some() {
        m.insert("isCustomized".into(), json!(el.doc_bool("isCustomized")));
    }
    copy_type_fields(el, &mut m);
    for f in [
        "externalAppId",
        "universalFlowId",
        "universalFieldMappingId",
        "universalDataSourceId",
        "universalParentId",
        "dependencies",
        // Computed at a field mapping instance's setup.
        "dataSourceInstanceId",
        "dataSourceSchema",
        // Computed at a data source instance's setup.
        "collectionSpec",
        // Why an app data schema instance's setup failed.
        "error",
    ] {
        if let Some(v) = el.doc.get(f) {
            m.entry(f.to_string()).or_insert_with(|| v.clone());
        }
    }
    m
}
