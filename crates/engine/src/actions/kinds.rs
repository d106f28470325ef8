//! What each action type does (semantics §3.1). Every call to the external app goes
//! through the connection (`Calls::call_connection` and the operations built on
//! it); the config's formulas are evaluated by the runtime crate with the run
//! variables before the type reads them — except `fieldMapping`, whose import and
//! export values are applied per record.
//!
//! Decisions where the documentation is silent:
//! * `api-request-to-external-app` (and the legacy `api-request`) outputs the
//!   response body. With `allowNon2xx` a refused request's body is the output too;
//!   without it, a non-2xx response fails the run with the API's status and body.
//! * Data actions read their record fields from `config.fields` when set (usually
//!   formulas over `input`), else from `input.fields`, else the input itself.
//!   With an import mapping, each record's `fields` are the mapped values (the API
//!   object stays in `rawFields`); an export mapping maps fields before they are sent.
//! * `find-or-create-data-record` outputs `{id, created}`: the matched record's id
//!   (`created: false`) or the new one's.
//! * `delete-data-record` outputs `{}`.

use osmosis_connectors::api_client::{ApiClientError, ApiRequest, Method};
use osmosis_connectors::auth::token::mint_token;
use osmosis_connectors::definition::CollectionMethod;
use osmosis_connectors::function::fill_path;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_runtime::formula::{build_value, resolve_formulas, FormulaHost};
use osmosis_runtime::js::strip_undefined;
use osmosis_sandbox::{HostApi, HostError, HostObject, Limits, Sandbox};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

use super::{ActionDefinition, ActionTarget, Actions};
use crate::connections::call_trace::Trace;
use crate::connections::{api_failure, CallFailure};
use crate::elements::InstanceSelector;
use crate::self_api::SelfApi;
use crate::{Caller, PathSelector};

/// Runs `def` for `target` and answers the raw output (before `outputMapping`).
pub(super) async fn execute(
    actions: &Actions<'_>,
    caller: &Caller,
    target: &ActionTarget,
    def: &ActionDefinition,
    input: &Value,
    variables: &Value,
    trace: &Trace,
) -> Result<Value, ApiError> {
    // A stored action's config may hold formulas; a request given inline (`/act`
    // with `api`) is sent as written.
    let config = match (&target.action, &target.connection) {
        (Some(_), Some(conn)) => {
            let host = actions.data_links.formula_host(caller, conn).await?;
            resolve_config(&def.config, variables, Some(&host)).await?
        }
        (Some(_), None) => resolve_config(&def.config, variables, None).await?,
        (None, _) => def.config.clone(),
    };
    let run = Run {
        actions,
        caller,
        target,
        config: &config,
        raw_config: &def.config,
        input,
        variables,
    };
    match def.kind.as_str() {
        "api-request-to-external-app" | "api-request" => run.external_request().await,
        "connector-operation" => run.connector_operation().await,
        "run-javascript" => run.javascript(trace).await,
        "http-request" => run.http_request().await,
        "list-data-records" => run.list_records().await,
        "find-data-record-by-id" => run.find_record_by_id().await,
        "match-data-record" => run.match_record().await,
        "search-data-record" => run.search_records().await,
        "create-data-record" => run.create_record().await,
        "update-data-record" => run.update_record().await,
        "delete-data-record" => run.delete_record().await,
        "find-or-create-data-record" => run.find_or_create_record().await,
        "api-request-to-your-app" => run.your_app_request().await,
        other => Err(ApiError::configuration(format!(
            "Unknown action type `{other}`"
        ))),
    }
}

/// The config with its formulas evaluated (data-link formulas answered on the run's
/// connection); `fieldMapping` is kept as written.
async fn resolve_config(
    config: &Value,
    variables: &Value,
    host: Option<&dyn FormulaHost>,
) -> Result<Value, ApiError> {
    let Value::Object(map) = config else {
        return Ok(config.clone());
    };
    let mut out = Map::new();
    for (k, v) in map {
        if k == "fieldMapping" {
            out.insert(k.clone(), v.clone());
            continue;
        }
        let built = resolve_formulas(Some(v), Some(variables), None, host)
            .await
            .map_err(|e| ApiError::configuration(format!("config.{k}: {e}")))?;
        if let Some(v) = built.map(strip_undefined) {
            out.insert(k.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

struct Run<'a, 'e> {
    actions: &'a Actions<'e>,
    caller: &'a Caller,
    target: &'a ActionTarget,
    config: &'a Value,
    raw_config: &'a Value,
    input: &'a Value,
    variables: &'a Value,
}

impl Run<'_, '_> {
    fn connection(&self) -> Result<&Element, ApiError> {
        self.target.connection.as_ref().ok_or_else(|| {
            ApiError::bad_request(
                keys::INVALID_QUERY,
                "This action runs through a connection: pass `connectionId`, `connectionKey`, `integrationId` or `integrationKey`",
            )
        })
    }

    fn config_field(&self, name: &str) -> Option<&Value> {
        self.config.get(name).filter(|v| !v.is_null())
    }

    async fn external_request(&self) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let request = match self.config_field("request") {
            Some(Value::Object(r)) => external_request(r, "config.request")?,
            _ => {
                return Err(ApiError::configuration(
                    "The action has no `config.request`",
                ))
            }
        };
        let allow_non_2xx = self
            .config_field("allowNon2xx")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        self.actions
            .calls
            .call_connection(self.caller, conn, |runner| {
                let request = request.clone();
                async move {
                    let client = runner.api_client().await?;
                    match client.request(request).await {
                        Ok(response) => Ok(response.data),
                        Err(ApiClientError::HttpStatus { response, .. }) if allow_non_2xx => {
                            Ok(response.data)
                        }
                        Err(e) => Err(api_failure("action")(e)),
                    }
                }
            })
            .await
            .map_err(ApiError::from)
    }

    async fn connector_operation(&self) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let key = self
            .config_field("operationKey")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("The action has no `config.operationKey`"))?;
        let input = self
            .config_field("input")
            .cloned()
            .unwrap_or_else(|| self.input.clone());
        let answer = self
            .actions
            .calls
            .run_operation(self.caller, conn, key, input)
            .await?;
        Ok(answer.get("output").cloned().unwrap_or(Value::Null))
    }

    /// `run-javascript`: the code gets `input` and, with a connection,
    /// `credentials`, `connectorParameters` and `externalApiClient` (as connector
    /// functions do). Without a connection it runs in a plain sandbox.
    async fn javascript(&self, trace: &Trace) -> Result<Value, ApiError> {
        let code = self
            .config_field("code")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("The action has no `config.code`"))?
            .to_owned();
        let mut host = HostApi::new().with_scope(trace.host_scope());
        if let (Some(api), Some(token)) = (self.actions.self_api.get(), self.customer_token()?) {
            let membrane = membrane_object(api, token);
            host = host
                .object("membrane", membrane.clone())
                .object("engineApiClient", membrane);
        }
        let Some(conn) = &self.target.connection else {
            let sandbox = Sandbox::new(Limits::default());
            return match sandbox
                .run_module(&code, json!({"input": self.input}), host)
                .await
            {
                Ok(out) => Ok(out.result),
                Err(e) => Err(custom_code_error(&e)),
            };
        };
        self.actions
            .calls
            .call_connection(self.caller, conn, |runner| {
                let (code, input, host) = (code.clone(), self.input.clone(), host.clone());
                async move {
                    runner
                        .run_javascript(&code, "action", input, host)
                        .await
                        .map(|o| o.output)
                        .map_err(CallFailure::from)
                }
            })
            .await
            .map_err(ApiError::from)
    }

    /// `http-request`: `config.request {url|uri, method, query, headers, data|body}`
    /// to any public address (the outbound guard applies, as to every call).
    async fn http_request(&self) -> Result<Value, ApiError> {
        self.send_http(Vec::new()).await
    }

    /// `api-request-to-your-app`: an HTTP request (as `http-request`) to the
    /// workspace's own API, as the connection's customer: a token for the customer
    /// signed with the workspace secret (an hour) in `Authorization: Bearer`,
    /// `X-Membrane-Token` and `X-Integration-App-Token`, the headers token
    /// connectors send.
    async fn your_app_request(&self) -> Result<Value, ApiError> {
        let token = self.customer_token()?.ok_or_else(|| {
            ApiError::bad_request(
                keys::INVALID_QUERY,
                "A request to your app runs as a customer: name a connection or use a customer token",
            )
        })?;
        let headers = [
            "Authorization",
            "X-Membrane-Token",
            "X-Integration-App-Token",
        ]
        .into_iter()
        .map(|h| {
            let value = if h == "Authorization" {
                format!("Bearer {token}")
            } else {
                token.clone()
            };
            (h, value)
        })
        .collect();
        self.send_http(headers).await
    }

    /// A token for the run's customer (the connection's, else the caller's), signed
    /// with the workspace secret and valid for an hour; `None` for an admin's run on
    /// no connection. It names the customer by the app's own id (`user.internalId`),
    /// as the tokens a workspace mints for its customers do.
    fn customer_token(&self) -> Result<Option<String>, ApiError> {
        let Some(customer) = self.variables["user"]["internalId"].as_str() else {
            return Ok(None);
        };
        let ws = &self.caller.workspace;
        mint_token(
            &ws.key,
            &ws.secret,
            customer,
            None,
            Duration::from_secs(3600),
        )
        .map(Some)
        .map_err(|e| e.to_error_data())
    }

    /// Sends `config.request` with the outbound client, `extra` headers after the
    /// configured ones; the response body is the output, a non-2xx answer an error
    /// carrying its status and body.
    async fn send_http(&self, extra: Vec<(&str, String)>) -> Result<Value, ApiError> {
        let Some(Value::Object(r)) = self.config_field("request").or(Some(self.config)) else {
            return Err(ApiError::configuration(
                "The action has no `config.request`",
            ));
        };
        let url = r
            .get("url")
            .or_else(|| r.get("uri"))
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::configuration("`config.request.url` is required"))?;
        let mut url = url::Url::parse(url)
            .map_err(|e| ApiError::configuration(format!("`config.request.url`: {e}")))?;
        if let Some(Value::Object(q)) = r.get("query") {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in q {
                pairs.append_pair(k, &scalar(v));
            }
        }
        let method = match r.get("method").and_then(Value::as_str) {
            Some(m) => ApiRequest::method_from_str(m)
                .map_err(|e| ApiError::configuration(format!("`config.request.method`: {e}")))?,
            None => Method::GET,
        };
        let mut request = self.actions.calls.http.request(method, url.as_str());
        if let Some(Value::Object(h)) = r.get("headers") {
            for (k, v) in h {
                request = request.header(k.as_str(), scalar(v));
            }
        }
        for (name, value) in extra {
            request = request.header(name, value);
        }
        if let Some(body) = r
            .get("data")
            .or_else(|| r.get("body"))
            .filter(|b| !b.is_null())
        {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            ApiError::new(
                osmosis_model::error::ErrorType::ActionRun,
                Some("http_request_failed"),
                format!("The HTTP request failed: {e}"),
            )
        })?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        let data = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if !(200..300).contains(&status) {
            return Err(ApiError::new(
                osmosis_model::error::ErrorType::ActionRun,
                Some("http_request_failed"),
                format!("The HTTP request answered {status}"),
            )
            .with_data(json!({"status": status, "data": data})));
        }
        Ok(data)
    }
}

/// `membrane` / `engineApiClient` of a `run-javascript` action: Osmosis's own API as
/// the run's customer, with the methods of the external API client —
/// `get(path, query?)`, `delete(path, query?)`, `post|put|patch(path, data?)` —
/// answering the response body and rejecting with the `ErrorData` of a refused
/// call. (The SDK's chained accessors, `membrane.connection(x).action(y).run()`, are
/// not offered: the sandbox's host objects are flat; call the routes they call.)
fn membrane_object(api: Arc<dyn SelfApi>, token: String) -> HostObject {
    let mut object = HostObject::new();
    for (name, method, second_is_query) in [
        ("get", "GET", true),
        ("delete", "DELETE", true),
        ("post", "POST", false),
        ("put", "PUT", false),
        ("patch", "PATCH", false),
    ] {
        let (api, token) = (Arc::clone(&api), token.clone());
        object = object.method(name, move |args: Vec<Value>| {
            let (api, token) = (Arc::clone(&api), token.clone());
            async move {
                let Some(Value::String(path)) = args.first() else {
                    return Err(HostError::new("the first argument must be the API path"));
                };
                let mut target = format!("/{}", path.trim_start_matches('/'));
                let second = args.get(1).filter(|v| !v.is_null()).cloned();
                let body = if second_is_query {
                    if let Some(Value::Object(q)) = &second {
                        let mut query = url::form_urlencoded::Serializer::new(String::new());
                        for (k, v) in q {
                            query.append_pair(k, &scalar(v));
                        }
                        target = format!("{target}?{}", query.finish());
                    }
                    None
                } else {
                    second
                };
                let (status, answer) = api
                    .call(method, &target, &token, body)
                    .await
                    .map_err(HostError::new)?;
                if (200..300).contains(&status) {
                    Ok(answer)
                } else {
                    let message = answer
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("The API refused the request")
                        .to_owned();
                    Err(HostError::with_data(message, answer))
                }
            }
        });
    }
    object
}

/// A query or header value as text.
fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn custom_code_error(e: &osmosis_sandbox::SandboxError) -> ApiError {
    let data = e.to_error_data();
    ApiError::new(
        osmosis_model::error::ErrorType::CustomCode,
        None,
        data.get("message")
            .and_then(Value::as_str)
            .unwrap_or("The code failed")
            .to_owned(),
    )
    .with_data(data)
}

/// A request to the external app from `{method, path|url, pathParameters, query,
/// headers, data|body}` (`field` names the object in errors).
pub(crate) fn external_request(
    r: &Map<String, Value>,
    field: &str,
) -> Result<ApiRequest, ApiError> {
    let invalid = |m: &str| ApiError::invalid_field(field, m);
    let path = r
        .get("path")
        .or_else(|| r.get("url"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("needs `path` (or `url`)"))?;
    let path =
        fill_path(path, r.get("pathParameters"), field).map_err(|e| invalid(&e.to_string()))?;
    let method = match r.get("method").and_then(Value::as_str) {
        Some(m) => ApiRequest::method_from_str(m).map_err(|e| invalid(&e.to_string()))?,
        None => Method::GET,
    };
    let as_strings = |v: Option<&Value>| -> Option<Value> {
        match v {
            Some(Value::Object(m)) => Some(Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::String(scalar(v))))
                    .collect(),
            )),
            _ => None,
        }
    };
    let mut request = ApiRequest::new(method, path)
        .with_json_parts(
            as_strings(r.get("query")).as_ref(),
            as_strings(r.get("headers")).as_ref(),
        )
        .map_err(|e: ApiClientError| invalid(&e.to_string()))?;
    if let Some(body) = r.get("data").or_else(|| r.get("body")) {
        if !body.is_null() {
            request.data = Some(body.clone());
        }
    }
    Ok(request)
}

/// The data actions: a collection of the connection's connector, and optionally a
/// field mapping.
impl Run<'_, '_> {
    /// An element the config names by key, with the fields that apply to this run:
    /// the connection's own instance of it when one exists (the customer's edits),
    /// else the connection's integration's copy, else the universal one — each
    /// following its parent while not customised (`Elements::effective`).
    async fn referenced(&self, t: ElementType, key: &str) -> Result<Element, ApiError> {
        let elements = &self.actions.calls.elements;
        let mut sel = PathSelector::new(key);
        if let Some(conn) = &self.target.connection {
            sel.layer.integration_id = conn.integration_id.clone();
            if let Some(it) = t.instance_type() {
                let instance = InstanceSelector {
                    parent: Some(key.to_owned()),
                    connection_id: Some(conn.id.clone()),
                    ..Default::default()
                };
                if let Ok(found) = elements.resolve_instance(self.caller, it, &instance).await {
                    if !found.is_archived() {
                        return elements.effective(&found).await;
                    }
                }
            }
        }
        let found = elements.resolve(self.caller, t, &sel).await?;
        if found.is_archived() {
            return Err(crate::errors::not_found(t, key));
        }
        elements.effective(&found).await
    }

    /// `(collectionKey, collectionParameters)` from `config.dataSource`: inline, or
    /// a data source element by `key` (the connection's integration's copy first).
    async fn collection(&self) -> Result<(String, Map<String, Value>), ApiError> {
        let Some(Value::Object(ds)) = self.config_field("dataSource") else {
            return Err(ApiError::configuration(
                "The action has no `config.dataSource`",
            ));
        };
        let mut ds = ds.clone();
        if ds.get("collectionKey").is_none() {
            if let Some(key) = ds.get("key").and_then(Value::as_str) {
                let el = self.referenced(ElementType::DataSource, key).await?;
                for f in ["collectionKey", "collectionParameters"] {
                    if let Some(v) = el.doc.get(f) {
                        ds.insert(f.into(), v.clone());
                    }
                }
            }
        }
        let key = ds
            .get("collectionKey")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ApiError::configuration("`config.dataSource.collectionKey` is required")
            })?
            .to_owned();
        let parameters = match ds.get("collectionParameters") {
            Some(Value::Object(p)) => p.clone(),
            _ => Map::new(),
        };
        Ok((key, parameters))
    }

    /// `(importValue, exportValue)` of `config.fieldMapping`: inline, or a field
    /// mapping element by `key`.
    async fn mapping(&self) -> Result<(Option<Value>, Option<Value>), ApiError> {
        let Some(Value::Object(fm)) = self.raw_config.get("fieldMapping") else {
            return Ok((None, None));
        };
        let mut fm = fm.clone();
        if fm.get("importValue").is_none() && fm.get("exportValue").is_none() {
            if let Some(key) = fm.get("key").and_then(Value::as_str) {
                let el = self.referenced(ElementType::FieldMapping, key).await?;
                fm = self.with_frozen_fields(el).await?.doc;
            }
        }
        let pick = |k: &str| fm.get(k).filter(|v| !v.is_null()).cloned();
        Ok((pick("importValue"), pick("exportValue")))
    }

    /// A customer's field mapping instance with the fields its mapping froze
    /// (`frozenImportFields`, `frozenExportFields`) taken from the mapping: the
    /// customer may change the rest of the mapping, never those.
    async fn with_frozen_fields(&self, mut el: Element) -> Result<Element, ApiError> {
        let Some(parent_id) = el
            .parent_id
            .clone()
            .filter(|_| el.element_type == ElementType::FieldMappingInstance)
        else {
            return Ok(el);
        };
        let elements = &self.actions.calls.elements;
        let Some(parent) = elements
            .store
            .element_by_id(&el.workspace_id, &parent_id)
            .await
            .map_err(crate::errors::store_error)?
        else {
            return Ok(el);
        };
        let parent = elements.effective(&parent).await?;
        for (frozen, value) in [
            ("frozenImportFields", "importValue"),
            ("frozenExportFields", "exportValue"),
        ] {
            let Some(Value::Array(fields)) = parent.doc.get(frozen) else {
                continue;
            };
            let theirs = parent.doc.get(value).and_then(Value::as_object);
            let mine = el
                .doc
                .entry(value)
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(mine) = mine else { continue };
            for field in fields.iter().filter_map(Value::as_str) {
                match theirs.and_then(|t| t.get(field)) {
                    Some(v) => mine.insert(field.to_owned(), v.clone()),
                    None => mine.remove(field),
                };
            }
        }
        Ok(el)
    }

    async fn method(&self, method: CollectionMethod, request: Value) -> Result<Value, ApiError> {
        let conn = self.connection()?;
        let (key, parameters) = self.collection().await?;
        self.actions
            .calls
            .run_collection_method(self.caller, conn, &key, method, request, parameters)
            .await
    }

    fn input_field(&self, name: &str) -> Option<Value> {
        self.input.get(name).filter(|v| !v.is_null()).cloned()
    }

    /// The fields a create or update sends (see the module doc).
    async fn outgoing_fields(&self) -> Result<Value, ApiError> {
        let fields = self
            .config_field("fields")
            .cloned()
            .or_else(|| self.input_field("fields"))
            .unwrap_or_else(|| self.input.clone());
        match self.mapping().await?.1 {
            Some(export) => apply_mapping(&export, &fields, "exportValue"),
            None => Ok(fields),
        }
    }

    /// Records with the import mapping applied to their fields.
    async fn incoming(&self, records: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let Some(import) = self.mapping().await?.0 else {
            return Ok(records);
        };
        records
            .into_iter()
            .map(|mut r| {
                let fields = r.get("fields").cloned().unwrap_or(Value::Null);
                let mapped = apply_mapping(&import, &fields, "importValue")?;
                if let Value::Object(m) = &mut r {
                    m.insert("fields".into(), mapped);
                }
                Ok(r)
            })
            .collect()
    }

    async fn one_incoming(&self, record: Option<Value>) -> Result<Value, ApiError> {
        match record.filter(|r| !r.is_null()) {
            Some(r) => Ok(self.incoming(vec![r]).await?.remove(0)),
            None => Ok(Value::Null),
        }
    }

    async fn list_records(&self) -> Result<Value, ApiError> {
        let mut request = json!({});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        for f in ["filter", "unifiedFilter"] {
            if let Some(v) = self.config_field(f) {
                request[f] = v.clone();
            }
        }
        let answer = self.method(CollectionMethod::List, request).await?;
        self.records_page(answer).await
    }

    async fn records_page(&self, answer: Value) -> Result<Value, ApiError> {
        let records = answer
            .get("records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut out = json!({"records": self.incoming(records).await?});
        if let Some(c) = answer.get("cursor").filter(|c| !c.is_null()) {
            out["cursor"] = c.clone();
        }
        Ok(out)
    }

    async fn find_record_by_id(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let answer = self
            .method(CollectionMethod::FindById, json!({"id": id}))
            .await?;
        self.one_incoming(answer.get("record").cloned()).await
    }

    fn required_id(&self) -> Result<Value, ApiError> {
        self.config_field("id")
            .cloned()
            .or_else(|| self.input_field("id"))
            .ok_or_else(|| ApiError::invalid_field("input.id", "is required"))
    }

    fn match_query(&self) -> Value {
        self.config_field("query")
            .cloned()
            .or_else(|| self.input_field("query"))
            .or_else(|| self.input_field("fields"))
            .unwrap_or_else(|| self.input.clone())
    }

    async fn match_record(&self) -> Result<Value, ApiError> {
        let answer = self
            .method(
                CollectionMethod::Match,
                json!({"query": self.match_query()}),
            )
            .await?;
        self.one_incoming(answer.get("record").cloned()).await
    }

    async fn search_records(&self) -> Result<Value, ApiError> {
        let mut request = json!({"query": self.config_field("query").cloned().or_else(|| self.input_field("query"))});
        if let Some(c) = self.input_field("cursor") {
            request["cursor"] = c;
        }
        let answer = self.method(CollectionMethod::Search, request).await?;
        self.records_page(answer).await
    }

    async fn create_record(&self) -> Result<Value, ApiError> {
        let fields = self.outgoing_fields().await?;
        let answer = self
            .method(CollectionMethod::Create, json!({"fields": fields}))
            .await?;
        Ok(json!({"id": answer.get("id")}))
    }

    async fn update_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        let fields = self.outgoing_fields().await?;
        let answer = self
            .method(
                CollectionMethod::Update,
                json!({"id": id, "fields": fields}),
            )
            .await?;
        Ok(json!({"id": answer.get("id").filter(|v| !v.is_null()).cloned().unwrap_or(id)}))
    }

    async fn delete_record(&self) -> Result<Value, ApiError> {
        let id = self.required_id()?;
        self.method(CollectionMethod::Delete, json!({"id": id}))
            .await?;
        Ok(json!({}))
    }

    async fn find_or_create_record(&self) -> Result<Value, ApiError> {
        let found = self
            .method(
                CollectionMethod::Match,
                json!({"query": self.match_query()}),
            )
            .await?;
        if let Some(id) = found
            .get("record")
            .and_then(|r| r.get("id"))
            .filter(|v| !v.is_null())
        {
            return Ok(json!({"id": id, "created": false}));
        }
        let created = self.create_record().await?;
        Ok(json!({"id": created["id"], "created": true}))
    }
}

/// A field mapping value applied to `fields` (the formulas' root variables).
fn apply_mapping(mapping: &Value, fields: &Value, what: &str) -> Result<Value, ApiError> {
    build_value(Some(mapping), Some(fields))
        .map(|v| v.map(strip_undefined).unwrap_or(Value::Null))
        .map_err(|e| ApiError::configuration(format!("fieldMapping.{what}: {e}")))
}
