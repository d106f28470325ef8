//! Applying a universal element to integrations: the integration-level copies
//! Membrane's CLI asks for (`POST /{singular}/apply?key=K {integrationKeys}`,
//! and a `PUT /{singular}?key=K&integrationKey=I` of a copy that does not exist
//! yet). The SDK has no such call (api-surface §3.4: "apply" only shows in
//! `appliedToIntegrations`), so where Membrane's docs are silent:
//! * a copy made here follows its parent: the parent's key, name and type
//!   fields, not customised;
//! * a copy that exists is left as it is, customised or not;
//! * only universal elements of integration-level types apply;
//! * a package applies with its elements: each universal element of an
//!   integration-level type it lists is applied too, and the package's copy
//!   lists those copies (elements of workspace-level types, which have no
//!   copies, as they are). Applying again brings a copy that is not customised
//!   in step with its package's list — what a package upgrade relies on to give
//!   the integrations the elements a newer version added.

use osmosis_model::element_type::Layering;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType, Layer};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{json, Map};

use super::{check_writer, Elements, NewElement, PathSelector};
use crate::errors::store_error;
use crate::refs::Ref;
use crate::Caller;

impl Elements<'_> {
    /// The copy of `universal` for each of `integrations` (ids or keys), made
    /// when missing; in the order given.
    pub async fn apply_to_integrations(
        &self,
        caller: &Caller,
        universal: &Element,
        integrations: &[String],
    ) -> Result<Vec<Element>, ApiError> {
        let t = universal.element_type;
        check_writer(caller, t)?;
        if t.spec().layering != Layering::IntegrationLevel || universal.integration_id.is_some() {
            return Err(ApiError::bad_request(
                keys::NOT_SUPPORTED,
                format!(
                    "only universal elements of integration-level types apply to integrations; {} `{}` is not one",
                    t.name(),
                    universal.id
                ),
            ));
        }
        let mut copies = Vec::with_capacity(integrations.len());
        for named in integrations {
            let r = if ElementType::Integration.is_id(named) {
                Ref::Id(named.clone())
            } else {
                Ref::Key(named.clone())
            };
            let integration = self
                .resolve_ref(caller, ElementType::Integration, &r, "integrationKeys")
                .await?;
            let mut copy = self.copy_for(caller, universal, &integration).await?;
            if t == ElementType::Package {
                copy = self
                    .apply_members(caller, universal, copy, &integration)
                    .await?;
            }
            copies.push(copy);
        }
        Ok(copies)
    }

    /// The copy of `universal` for `integration`, made when missing.
    async fn copy_for(
        &self,
        caller: &Caller,
        universal: &Element,
        integration: &Element,
    ) -> Result<Element, ApiError> {
        let t = universal.element_type;
        let mut q = ElementQuery::new(caller.workspace_id(), t);
        q.parent = RefFilter::Is(universal.id.clone());
        q.integration = RefFilter::Is(integration.id.clone());
        match self.store.first_element(q).await.map_err(store_error)? {
            Some(copy) => Ok(copy),
            None => {
                let mut body = Map::new();
                body.insert("integrationId".into(), json!(integration.id));
                body.insert("parentId".into(), json!(universal.id));
                self.create(caller, t, NewElement::from_body(body)).await
            }
        }
    }

    /// The elements a package lists that exist (archived ones too), in its
    /// order: what it applies, snapshots and upgrades.
    pub(crate) async fn package_members(
        &self,
        package: &Element,
    ) -> Result<Vec<Element>, ApiError> {
        let mut members = Vec::new();
        for item in package
            .doc
            .get("elements")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            let Some(id) = item.get("id").and_then(|v| v.as_str()) else {
                continue;
            };
            if let Some(el) = self
                .store
                .element_by_id(&package.workspace_id, id)
                .await
                .map_err(store_error)?
            {
                members.push(el);
            }
        }
        Ok(members)
    }

    /// Applies the elements `package` lists to `integration`, and makes its
    /// copy (unless customised) list their copies.
    async fn apply_members(
        &self,
        caller: &Caller,
        package: &Element,
        copy: Element,
        integration: &Element,
    ) -> Result<Element, ApiError> {
        let members = self.package_members(package).await?;
        let mut listed = Vec::with_capacity(members.len());
        for member in members {
            let applies = member.element_type.spec().layering == Layering::IntegrationLevel
                && member.integration_id.is_none()
                && !member.is_archived();
            let id = if applies {
                self.copy_for(caller, &member, integration).await?.id
            } else {
                member.id.clone()
            };
            listed.push(json!({"id": id, "type": member.element_type.name()}));
        }
        let listed = serde_json::Value::Array(listed);
        if copy.doc_bool("isCustomized") || copy.doc.get("elements") == Some(&listed) {
            return Ok(copy);
        }
        self.update_with(&copy, |c| {
            c.doc.insert("elements".into(), listed.clone());
            Ok(true)
        })
        .await
    }

    /// What a PUT naming an integration writes: that integration's element,
    /// applied from the universal one of the same key when it has none yet.
    pub async fn resolve_for_integration_put(
        &self,
        caller: &Caller,
        t: ElementType,
        sel: &PathSelector,
    ) -> Result<Element, ApiError> {
        let integration = sel
            .layer
            .integration_id
            .clone()
            .or(sel.layer.integration_key.clone());
        let (Some(integration), None, Layering::IntegrationLevel) =
            (integration, sel.layer.layer, t.spec().layering)
        else {
            return self.resolve(caller, t, sel).await;
        };
        let mut own = sel.clone();
        own.layer.layer = Some(Layer::Integration);
        match self.resolve(caller, t, &own).await {
            Err(e) if e.key.as_deref() == Some(keys::NOT_FOUND) => {
                let mut universal = sel.clone();
                universal.layer = Default::default();
                universal.layer.layer = Some(Layer::Universal);
                let Ok(parent) = self.resolve(caller, t, &universal).await else {
                    return Err(e);
                };
                let copies = self
                    .apply_to_integrations(caller, &parent, &[integration])
                    .await?;
                Ok(copies.into_iter().next().expect("one copy per integration"))
            }
            found => found,
        }
    }
}
