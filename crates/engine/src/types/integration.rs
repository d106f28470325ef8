//! Integrations bind a connector to workspace parameters; most of their response
//! is computed from that connector (seed pages: create/get/update integration).

use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ElementQuery, RefFilter};
use serde_json::{json, Map, Value};

use crate::elements::{read_ref, Depth};
use crate::errors::store_error;
use crate::refs::Ref;
use crate::{Caller, Engine};

pub(super) async fn prepare(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    if let Some(r) = read_ref(body, &["connectorId"], "connectorUuid", "connectorKey")? {
        let field = match r {
            Ref::Id(_) => "connectorId",
            Ref::Uuid(_) => "connectorUuid",
            Ref::Key(_) => "connectorKey",
        };
        let connector = engine
            .elements()
            .resolve_ref(caller, ElementType::Connector, &r, field)
            .await?;
        el.doc.insert("connectorId".into(), json!(connector.id));
    } else if el.doc_str("connectorId").is_none() {
        // Only an external app: use that app's connector, when the workspace has one.
        if let Some(app) = el.doc_str("externalAppId").map(str::to_string) {
            let mut q = ElementQuery::new(caller.workspace_id(), ElementType::Connector);
            q.doc_equals = vec![("externalAppId".into(), json!(app))];
            if let Some(c) = engine
                .stores
                .elements
                .first_element(q)
                .await
                .map_err(store_error)?
            {
                el.doc.insert("connectorId".into(), json!(c.id));
            }
        }
    }
    if let Some(b64) = el.doc.remove("logoBase64") {
        let b64 = b64.as_str().unwrap_or_default().trim().to_string();
        if !b64.is_empty() {
            let mime = logo_mime(&b64).ok_or_else(|| {
                ApiError::invalid_field(
                    "logoBase64",
                    "expected a base64-encoded PNG, JPEG, GIF, WebP or SVG image",
                )
            })?;
            el.doc
                .insert("logoUri".into(), json!(format!("data:{mime};base64,{b64}")));
        }
    }
    Ok(())
}

/// The image type of a base64 logo, from its first bytes (the base64 of each
/// format's magic number).
fn logo_mime(b64: &str) -> Option<&'static str> {
    if b64
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return None;
    }
    [
        ("iVBORw0KGgo", "image/png"),
        ("/9j/", "image/jpeg"),
        ("R0lGOD", "image/gif"),
        ("UklGR", "image/webp"),
        ("PHN2Zy", "image/svg+xml"),
        ("PD94bW", "image/svg+xml"),
    ]
    .iter()
    .find(|(magic, _)| b64.starts_with(magic))
    .map(|(_, mime)| *mime)
}

/// `dataSourceKey`/`dataSourceUuid` on a field mapping name its data source; keep
/// the id alongside.
pub(super) async fn resolve_data_source(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(r) = read_ref(body, &["dataSourceId"], "dataSourceUuid", "dataSourceKey")? else {
        return Ok(());
    };
    let scope = if matches!(r, Ref::Key(_)) {
        Some(el.integration_id.as_deref())
    } else {
        None
    };
    let ds = match engine
        .elements()
        .resolve_ref_scoped(caller, ElementType::DataSource, &r, "dataSourceKey", scope)
        .await
    {
        Ok(ds) => ds,
        Err(_) if scope.is_some() => {
            engine
                .elements()
                .resolve_ref_scoped(
                    caller,
                    ElementType::DataSource,
                    &r,
                    "dataSourceKey",
                    Some(None),
                )
                .await?
        }
        Err(e) => return Err(e),
    };
    el.doc.insert("dataSourceId".into(), json!(ds.id));
    Ok(())
}

pub(super) async fn render(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    m: &mut Map<String, Value>,
    depth: Depth,
) -> Result<(), ApiError> {
    let connector = match el.doc_str("connectorId") {
        Some(id) => engine.connector_summary(&el.workspace_id, id).await?,
        None => None,
    };
    let logo = el
        .doc_str("logoUri")
        .map(str::to_string)
        .or_else(|| connector.as_ref().and_then(|c| c.logo_uri.clone()));
    m.insert("logoUri".into(), json!(logo.unwrap_or_default()));
    if let Some(id) = el.doc.get("connectorId") {
        m.insert("connectorId".into(), id.clone());
    }
    let base = engine.config.public_url.trim_end_matches('/');
    m.insert(
        "oAuthCallbackUri".into(),
        json!(el
            .doc_str("oAuthCallbackUri")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| format!("{base}/oauth-callback"))),
    );
    m.insert("isTest".into(), json!(false));
    // Parameters hold OAuth client secrets: only admins asking for secrets see them.
    if !caller.include_secrets {
        m.remove("parameters");
    }
    m.remove("logoBase64");
    let parameters = el.doc.get("parameters").and_then(Value::as_object);
    match &connector {
        Some(c) => {
            let caps = &c.caps;
            m.insert("hasOperations".into(), json!(caps.operations > 0));
            m.insert("operationsCount".into(), json!(caps.operations));
            m.insert("hasData".into(), json!(caps.data_collections > 0));
            m.insert("dataCollectionsCount".into(), json!(caps.data_collections));
            m.insert("hasEvents".into(), json!(caps.events > 0));
            m.insert("eventsCount".into(), json!(caps.events));
            m.insert("hasGlobalWebhooks".into(), json!(caps.global_webhooks));
            m.insert("hasUdm".into(), json!(caps.udm));
            m.insert("hasDocumentation".into(), json!(caps.documentation));
            if let Some(t) = &c.auth_type {
                m.insert("authType".into(), json!(t));
            }
            m.insert(
                "hasMissingParameters".into(),
                json!(!missing_parameters(&c.required_parameters, parameters).is_empty()),
            );
            m.insert("spec".into(), c.spec.clone());
            if let Some(app_uri) = &c.app_uri {
                m.insert("appUri".into(), json!(app_uri));
            }
            if !m.contains_key("externalAppId") {
                if let Some(app) = &c.external_app_id {
                    m.insert("externalAppId".into(), app.clone());
                }
            }
        }
        None => {
            for (flag, count) in [
                ("hasOperations", "operationsCount"),
                ("hasData", "dataCollectionsCount"),
                ("hasEvents", "eventsCount"),
            ] {
                m.insert(flag.into(), json!(false));
                m.insert(count.into(), json!(0));
            }
            for flag in [
                "hasGlobalWebhooks",
                "hasUdm",
                "hasDocumentation",
                "hasMissingParameters",
            ] {
                m.insert(flag.into(), json!(false));
            }
        }
    }
    let connection = match (&caller.customer_id, depth) {
        (Some(me), Depth::Full) => {
            let mut q = ElementQuery::new(&el.workspace_id, ElementType::Connection);
            q.integration = RefFilter::Is(el.id.clone());
            q.customer = RefFilter::Is(me.clone());
            engine
                .stores
                .elements
                .first_element(q)
                .await
                .map_err(store_error)?
        }
        _ => None,
    };
    let connected = connection
        .as_ref()
        .is_some_and(|c| c.doc.get("disconnected") != Some(&Value::Bool(true)));
    m.insert("isConnected".into(), json!(connected));
    if let Some(c) = connection {
        m.insert(
            "connection".into(),
            Box::pin(engine.elements().render(caller, &c, Depth::Embedded)).await?,
        );
    }
    Ok(())
}

/// Required connector parameters the integration leaves unset.
pub(crate) fn missing_parameters(
    required: &[String],
    parameters: Option<&Map<String, Value>>,
) -> Vec<String> {
    required
        .iter()
        .map(String::as_str)
        .filter(|name| match parameters.and_then(|p| p.get(*name)) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        })
        .map(str::to_string)
        .collect()
}

/// Integrations: the connector reference resolved, capability fields rendered; a
/// change makes every built runner stale.
pub(crate) struct IntegrationHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for IntegrationHooks {
    async fn prepare(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        prepare(engine, caller, el, body).await
    }

    fn after_write(&self, engine: &Engine, _before: &Element, _after: &Element) {
        engine.runners.invalidate();
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

/// Field mappings and their instances: the data source named by key or uuid is
/// kept as an id too.
pub(crate) struct FieldMappingHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for FieldMappingHooks {
    async fn prepare(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        resolve_data_source(engine, caller, el, body).await?;
        crate::field_mappings::recompute_unified(engine, el).await
    }

    /// A field mapping instance's `setup` (`field_mappings::setup_instance`): its
    /// data source instance set up, the schema of the records it maps, and its
    /// unified values.
    async fn refresh(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        if current.element_type != ElementType::FieldMappingInstance {
            return None;
        }
        Some(crate::field_mappings::setup_instance(engine, caller, current).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_types_are_recognised_by_magic() {
        assert_eq!(logo_mime("iVBORw0KGgoAAAANSUhEUg=="), Some("image/png"));
        assert_eq!(logo_mime("/9j/4AAQSkZJRg"), Some("image/jpeg"));
        assert_eq!(logo_mime("hello world"), None);
        assert_eq!(logo_mime("AAAA"), None);
    }
}
