//! Packages list elements by reference; the references are checked and stored as
//! ids, and the elements are embedded when a package is read whole. A universal
//! package says whether it is public; one installed from another workspace's
//! public package says which version (`crate::public_packages`).

use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use crate::elements::Depth;
use crate::errors::store_error;
use crate::refs::Ref;
use crate::{Caller, Engine};

pub(super) async fn prepare(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
) -> Result<(), ApiError> {
    let Some(Value::Array(items)) = el.doc.get("elements").cloned() else {
        return Ok(());
    };
    let mut resolved = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("elements[{i}]");
        let type_name = item
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid_field(&format!("{field}.type"), "is required"))?;
        let t = ElementType::from_name(type_name)
            .filter(|t| t.can_be_in_package())
            .ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("{field}.type"),
                    format!("`{type_name}` elements cannot be put in a package"),
                )
            })?;
        let r = if let Some(id) = item.get("id").and_then(Value::as_str) {
            Ref::Id(id.to_string())
        } else if let Some(uuid) = item.get("uuid").and_then(Value::as_str) {
            Ref::Uuid(uuid.to_string())
        } else if let Some(key) = item.get("key").and_then(Value::as_str) {
            Ref::Key(key.to_string())
        } else {
            return Err(ApiError::invalid_field(
                &field,
                "needs `id`, `uuid` or `key`",
            ));
        };
        let target = engine.elements().resolve_ref(caller, t, &r, &field).await?;
        resolved.push(json!({ "id": target.id, "type": type_name }));
    }
    el.doc.insert("elements".into(), Value::Array(resolved));
    Ok(())
}

pub(super) async fn render(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    m: &mut Map<String, Value>,
    depth: Depth,
) -> Result<(), ApiError> {
    if el.integration_id.is_none() {
        m.insert(
            "isPublic".into(),
            json!(engine.package_is_public(el).await?),
        );
    }
    if let Some(version) = crate::public_packages::installed_version(el) {
        m.insert("version".into(), json!(version));
    }
    if depth != Depth::Full {
        return Ok(());
    }
    let Some(Value::Array(items)) = el.doc.get("elements") else {
        return Ok(());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut entry = item.clone();
        if let Some(id) = item.get("id").and_then(Value::as_str) {
            if let Some(target) = engine
                .stores
                .elements
                .element_by_id(&el.workspace_id, id)
                .await
                .map_err(store_error)?
            {
                entry["element"] =
                    Box::pin(engine.elements().render(caller, &target, Depth::Flat)).await?;
            }
        }
        out.push(entry);
    }
    m.insert("elements".into(), Value::Array(out));
    Ok(())
}

/// Packages: references checked and stored as ids, elements embedded on read.
pub(crate) struct PackageHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for PackageHooks {
    async fn prepare(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        prepare(engine, caller, el).await
    }

    async fn render(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        depth: Depth,
    ) -> Result<(), ApiError> {
        render(engine, caller, el, m, depth).await
    }
}
