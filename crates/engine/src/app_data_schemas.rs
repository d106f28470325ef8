//! App data schemas (semantics §5.4): the schema of *your* app's records, which field
//! mappings use as their `appSchema` (directly, or as
//! `{"$dataSchemaRef": {"type": "internal-data-schema", "key": …}}`).
//!
//! Decisions where the docs are thin:
//! * A schema with `schema` and no `code` is **static**: every customer gets it.
//! * A schema with `code` is **customer-specific**: `code` is a JavaScript module
//!   whose default export gets `{user, internalApiClient}` and returns the JSON
//!   Schema. `internalApiClient` calls your app's API (absolute URLs) as that
//!   customer — the token the workspace signs for it in `Authorization: Bearer`,
//!   `X-Membrane-Token` and `X-Integration-App-Token`, as `api-request-to-your-app`
//!   sends — through the outbound guard. The result is kept on the customer's
//!   instance (`app-data-schema-instance`, created on first need) and fetched again
//!   by its `setup`; a failure is kept as the instance's `error`.

use std::time::Duration;

use async_trait::async_trait;
use osmosis_connectors::auth::token::mint_token;
use osmosis_connectors::http::OutboundClient;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::{resolve_formulas, FormulaHost, HostCallback};
use osmosis_runtime::js::strip_undefined;
use osmosis_runtime::{JsValue, RuntimeError};
use osmosis_sandbox::{HostApi, HostError, HostObject, Limits, Sandbox};
use serde_json::{json, Value};

use crate::elements::{Elements, InstanceSelector};
use crate::errors::not_found;
use crate::{Caller, Engine, PathSelector};

/// The app data schemas service: a borrowed view of the engine
/// ([`Engine::app_data_schemas`]).
#[derive(Clone, Copy)]
pub struct AppDataSchemas<'e> {
    elements: Elements<'e>,
    http: &'e OutboundClient,
}

impl<'e> AppDataSchemas<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        AppDataSchemas {
            elements: engine.elements(),
            http: &engine.http,
        }
    }
}

impl AppDataSchemas<'_> {
    /// The schema app data schema `key` has for `caller` (its customer's, for a
    /// customer-specific one; an admin gets the static `schema`).
    pub async fn schema_for(&self, caller: &Caller, key: &str) -> Result<Value, ApiError> {
        let el = self
            .elements
            .resolve(caller, ElementType::AppDataSchema, &PathSelector::new(key))
            .await?;
        if el.is_archived() {
            return Err(not_found(el.element_type, key));
        }
        if el.doc_str("code").is_none() || caller.customer_id.is_none() {
            return Ok(el.doc.get("schema").cloned().unwrap_or_else(|| json!({})));
        }
        let selector = InstanceSelector {
            parent: Some(el.id.clone()),
            auto_create: true,
            ..Default::default()
        };
        let instance = self
            .elements
            .resolve_instance(caller, ElementType::AppDataSchemaInstance, &selector)
            .await?;
        let instance = match instance.doc.get("schema") {
            Some(_) => instance,
            None => self.setup_instance(caller, &instance).await?,
        };
        match (instance.doc.get("schema"), instance.doc.get("error")) {
            (Some(schema), _) => Ok(schema.clone()),
            (None, Some(error)) => Err(ApiError::configuration(format!(
                "App data schema `{key}` could not be computed for this customer: {}",
                error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("failed")
            ))),
            (None, None) => Ok(json!({})),
        }
    }

    /// An instance's `setup`: its schema computed again (customer-specific) or
    /// taken from its app data schema (static), stored on the instance.
    pub async fn setup_instance(
        &self,
        caller: &Caller,
        current: &Element,
    ) -> Result<Element, ApiError> {
        crate::elements::ensure_editable(current)?;
        let source = self.elements.effective(current).await?;
        let mut el = current.clone();
        match source.doc_str("code") {
            Some(code) => match self.run_code(caller, current, code).await {
                Ok(schema) => {
                    el.doc.insert("schema".into(), schema);
                    el.doc.remove("error");
                }
                Err(error) => {
                    el.doc.remove("schema");
                    el.doc.insert(
                        "error".into(),
                        serde_json::to_value(error).unwrap_or(Value::Null),
                    );
                }
            },
            None => {
                let schema = source.doc.get("schema").cloned().unwrap_or(json!({}));
                el.doc.insert("schema".into(), schema);
            }
        }
        if el.doc == current.doc {
            return Ok(current.clone());
        }
        self.elements.store_refreshed(current.clone(), el).await
    }

    /// Runs a customer-specific schema's code for the instance's customer.
    async fn run_code(
        &self,
        caller: &Caller,
        instance: &Element,
        code: &str,
    ) -> Result<Value, ApiError> {
        let user = crate::types::customer::user_variable(
            self.elements.store,
            &instance.workspace_id,
            instance.customer_id.as_deref(),
        )
        .await?;
        let workspace = &caller.workspace;
        let internal = user["internalId"].as_str().unwrap_or_default();
        let token = mint_token(
            &workspace.key,
            &workspace.secret,
            internal,
            None,
            Duration::from_secs(3600),
        )
        .map_err(|e| e.to_error_data())?;
        let host = HostApi::new().object(
            "internalApiClient",
            internal_api_client(self.http.clone(), token),
        );
        let sandbox = Sandbox::new(Limits::default());
        match sandbox.run_module(code, json!({"user": user}), host).await {
            Ok(out) if out.result.is_object() => Ok(out.result),
            Ok(out) => Err(ApiError::configuration(format!(
                "The schema code returned {}, not a JSON Schema object",
                out.result
            ))),
            Err(e) => Err(crate::errors::custom_code_error(&e)),
        }
    }

    /// A field mapping's `appSchema` with its schema references resolved for
    /// `caller` (`GET /field-mappings/{sel}/app-schema`).
    pub async fn app_schema_of(
        &self,
        caller: &Caller,
        mapping: &Element,
    ) -> Result<Value, ApiError> {
        let source = self.elements.effective(mapping).await?;
        let schema = source.doc.get("appSchema").cloned().ok_or_else(|| {
            ApiError::configuration(format!(
                "Field mapping `{}` has no appSchema",
                mapping.key.as_deref().unwrap_or(&mapping.id)
            ))
        })?;
        let host = AppSchemaHost {
            schemas: *self,
            caller: caller.clone(),
        };
        resolve_formulas(Some(&schema), None, None, Some(&host))
            .await
            .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
            .map_err(|e| ApiError::configuration(format!("appSchema: {e}")))
    }
}

/// `internalApiClient`: `get(url, query?)`, `delete(url, query?)`,
/// `post|put|patch(url, data?)` to absolute URLs, as the customer.
fn internal_api_client(http: OutboundClient, token: String) -> HostObject {
    let mut object = HostObject::new();
    for name in ["get", "delete", "post", "put", "patch"] {
        let (http, token) = (http.clone(), token.clone());
        object = object.method(name, move |args: Vec<Value>| {
            let (http, token) = (http.clone(), token.clone());
            async move {
                let Some(Value::String(url)) = args.first() else {
                    return Err(HostError::new("the first argument must be a URL"));
                };
                let mut url = url::Url::parse(url).map_err(|e| HostError::new(e.to_string()))?;
                let second = args.get(1).filter(|v| !v.is_null());
                let query_first = matches!(name, "get" | "delete");
                if let (true, Some(Value::Object(q))) = (query_first, second) {
                    let mut pairs = url.query_pairs_mut();
                    for (k, v) in q {
                        pairs.append_pair(
                            k,
                            &v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                        );
                    }
                }
                let method = name
                    .to_uppercase()
                    .parse()
                    .map_err(|_| HostError::new("method"))?;
                let mut request = http
                    .request(method, url.as_str())
                    .header("Authorization", format!("Bearer {token}"))
                    .header("X-Membrane-Token", token.clone())
                    .header("X-Integration-App-Token", token.clone());
                if let (false, Some(body)) = (query_first, second) {
                    request = request.json(body);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| HostError::new(e.to_string()))?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                let data = serde_json::from_str(&text).unwrap_or(Value::String(text));
                if (200..300).contains(&status) {
                    Ok(data)
                } else {
                    Err(HostError::with_data(
                        format!("Your API answered {status}"),
                        json!({"status": status, "data": data}),
                    ))
                }
            }
        });
    }
    object
}

/// Answers `$dataSchemaRef` to an internal data schema for one caller.
struct AppSchemaHost<'e> {
    schemas: AppDataSchemas<'e>,
    caller: Caller,
}

#[async_trait]
impl FormulaHost for AppSchemaHost<'_> {
    fn provides(&self, callback: HostCallback) -> bool {
        callback == HostCallback::GetInternalDataSchema
    }

    async fn get_internal_data_schema(&self, key: JsValue) -> osmosis_runtime::Result<JsValue> {
        let Some(Value::String(key)) = key else {
            return Ok(None);
        };
        self.schemas
            .schema_for(&self.caller, &key)
            .await
            .map(Some)
            .map_err(|e| RuntimeError::Generic(e.message))
    }
}
