//! Connectors as stored definitions: validated on write, summarised on read.
//! Running them (auth, API client, functions) belongs to the connections capability.

use osmosis_model::element_type::AUTH_TYPES;
use osmosis_model::{ApiError, Element};
use serde_json::{json, Map, Value};

pub(super) fn prepare(el: &mut Element) -> Result<(), ApiError> {
    // The YAML layout nests the auth block; its type is the connector's auth type.
    if el.doc_str("type").is_none() {
        if let Some(t) = el
            .doc
            .get("auth")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
        {
            if !AUTH_TYPES.contains(&t) {
                return Err(ApiError::invalid_field(
                    "auth.type",
                    format!(
                        "unknown auth type `{t}`; expected one of: {}",
                        AUTH_TYPES.join(", ")
                    ),
                ));
            }
            el.doc.insert("type".into(), json!(t));
        }
    }
    if let Some(data) = el.doc.get("data").and_then(Value::as_object) {
        for (key, spec) in data {
            if !spec.is_object() {
                return Err(ApiError::invalid_field(
                    &format!("data.{key}"),
                    "a data collection must be an object",
                ));
            }
        }
    }
    match el.doc.get("operations") {
        None | Some(Value::Array(_)) | Some(Value::Object(_)) => {}
        Some(_) => {
            return Err(ApiError::invalid_field(
                "operations",
                "expected an array or an object of operations",
            ))
        }
    }
    if let Some(options) = el.doc.get("options").and_then(Value::as_object) {
        for (key, option) in options {
            let Some(option) = option.as_object() else {
                return Err(ApiError::invalid_field(
                    &format!("options.{key}"),
                    "an auth option must be an object",
                ));
            };
            if let Some(t) = option.get("type").and_then(Value::as_str) {
                if !AUTH_TYPES.contains(&t) {
                    return Err(ApiError::invalid_field(
                        &format!("options.{key}.type"),
                        format!("unknown auth type `{t}`"),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn count(v: Option<&Value>) -> usize {
    match v {
        Some(Value::Array(a)) => a.len(),
        Some(Value::Object(o)) => o.len(),
        _ => 0,
    }
}

/// Capability counts of a connector definition, shared by connector and
/// integration responses.
pub(crate) struct Capabilities {
    pub operations: usize,
    pub data_collections: usize,
    pub events: usize,
    pub global_webhooks: bool,
    pub udm: bool,
    pub documentation: bool,
    pub has_test: bool,
}

pub(crate) fn capabilities(connector: &Element) -> Capabilities {
    let d = &connector.doc;
    Capabilities {
        operations: count(d.get("operations")),
        data_collections: count(d.get("data")),
        events: count(d.get("events")),
        global_webhooks: count(d.get("globalWebhooks")) > 0,
        udm: count(d.get("udm")) > 0 || count(d.get("udms")) > 0,
        documentation: d.get("docs").is_some_and(|v| !v.is_null()),
        has_test: d.get("test").is_some_and(Value::is_object),
    }
}

/// The `ConnectorSpec` of a connector (docs/spec/api-surface.md §7.6).
pub(crate) fn spec(connector: &Element) -> Value {
    let mut s = Map::new();
    if let Some(k) = &connector.key {
        s.insert("key".into(), json!(k));
    }
    s.insert("name".into(), json!(connector.name));
    for f in [
        "logoUri",
        "api",
        "ui",
        "inputSchema",
        "auth",
        "parametersSchema",
        "udms",
        "udm",
        "operations",
        "test",
        "externalAppId",
        "data",
    ] {
        if let Some(v) = connector.doc.get(f) {
            s.insert(f.into(), v.clone());
        }
    }
    s.insert(
        "hasReadme".into(),
        json!(connector.doc.get("docs").is_some_and(|v| !v.is_null())),
    );
    Value::Object(s)
}

/// `public`: the connector is one of the server's catalog (shipped with the
/// binary, installed into every workspace), as Membrane's public connectors
/// are; only a workspace's own connectors name their `workspaceId`, which is
/// how Membrane's CLI tells the connectors it pulls from the public ones.
pub(super) fn render(el: &Element, m: &mut Map<String, Value>, public: bool) {
    let caps = capabilities(el);
    m.entry("logoUri").or_insert_with(|| json!(""));
    m.entry("baseUri").or_insert_with(|| json!(""));
    m.entry("version").or_insert_with(|| json!("dev"));
    m.insert("operationsCount".into(), json!(caps.operations));
    m.insert("hasOperations".into(), json!(caps.operations > 0));
    m.insert("dataCollectionsCount".into(), json!(caps.data_collections));
    m.insert("hasData".into(), json!(caps.data_collections > 0));
    m.insert("eventsCount".into(), json!(caps.events));
    m.insert("hasEvents".into(), json!(caps.events > 0));
    m.insert("hasGlobalWebhooks".into(), json!(caps.global_webhooks));
    m.insert("hasUdm".into(), json!(caps.udm));
    m.insert("hasTest".into(), json!(caps.has_test));
    m.insert("hasReadme".into(), json!(caps.documentation));
    m.insert("isPublic".into(), json!(public));
    if !public {
        m.insert("workspaceId".into(), json!(el.workspace_id));
    }
}

/// Connectors: validated on write, summarised on read; a change makes every built
/// runner stale.
pub(crate) struct ConnectorHooks;

#[async_trait::async_trait]
impl crate::elements::ElementHooks for ConnectorHooks {
    async fn prepare(
        &self,
        _engine: &crate::Engine,
        _caller: &crate::Caller,
        el: &mut Element,
        _body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        prepare(el)
    }

    fn after_write(&self, engine: &crate::Engine, _before: &Element, _after: &Element) {
        engine.runners.invalidate();
        engine.connector_summaries.invalidate();
    }

    async fn render(
        &self,
        engine: &crate::Engine,
        _caller: &crate::Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: crate::elements::Depth,
    ) -> Result<(), ApiError> {
        let public = el
            .key
            .as_deref()
            .is_some_and(|k| engine.is_catalog_connector(k));
        render(el, m, public);
        Ok(())
    }
}

/// What an integration's response takes from its connector. Building it walks and
/// copies the connector's whole definition (a shipped connector's `spec` alone is
/// several KB), so it is built once per connector revision and kept
/// ([`crate::node_cache`]).
pub(crate) struct ConnectorSummary {
    pub caps: Capabilities,
    pub auth_type: Option<String>,
    pub spec: Value,
    pub app_uri: Option<String>,
    pub external_app_id: Option<Value>,
    pub logo_uri: Option<String>,
    /// Connector parameters the connector requires (`parametersSchema.required`).
    pub required_parameters: Vec<String>,
}

impl ConnectorSummary {
    fn of(c: &Element) -> Self {
        ConnectorSummary {
            caps: capabilities(c),
            auth_type: c.doc_str("type").map(str::to_owned),
            spec: spec(c),
            app_uri: c.doc_str("appUri").map(str::to_owned),
            external_app_id: c.doc.get("externalAppId").cloned(),
            logo_uri: c.doc_str("logoUri").map(str::to_owned),
            required_parameters: c
                .doc
                .get("parametersSchema")
                .and_then(|s| s.get("required"))
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Summaries by connector id.
pub(crate) type ConnectorSummaries = crate::node_cache::NodeCache<ConnectorSummary>;

impl crate::Engine {
    /// The summary of connector `id`, or `None` when there is no such connector.
    ///
    /// Alone on its database, this node hears of every connector write (the
    /// connector's hook invalidates the cache), so a kept summary stands for the
    /// current revision without reading the row: it is kept under no revision
    /// (`""`). Nodes sharing a database read the row and keep summaries under its
    /// revision, which `""` never matches.
    pub(crate) async fn connector_summary(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<Option<std::sync::Arc<ConnectorSummary>>, ApiError> {
        let shared = self.stores.database.is_shared();
        // Taken before the read, so a write racing it leaves nothing kept.
        let ticket = match self.connector_summaries.get(id, "", shared) {
            Ok(kept) => return Ok(Some(kept)),
            Err(ticket) => ticket,
        };
        let Some(connector) = self
            .stores
            .elements
            .element_by_id(workspace_id, id)
            .await
            .map_err(crate::errors::store_error)?
            .filter(|c| c.element_type == osmosis_model::ElementType::Connector)
        else {
            return Ok(None);
        };
        let revision = if shared {
            if let Ok(kept) = self.connector_summaries.get(id, &connector.revision, true) {
                return Ok(Some(kept));
            }
            connector.revision.clone()
        } else {
            String::new()
        };
        let summary = std::sync::Arc::new(ConnectorSummary::of(&connector));
        self.connector_summaries.insert(
            id.to_owned(),
            revision,
            ticket,
            std::sync::Arc::clone(&summary),
        );
        Ok(Some(summary))
    }
}
