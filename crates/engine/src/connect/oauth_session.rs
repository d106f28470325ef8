//! The interactive connect flow (docs/spec/semantics.md §1.6): auth options, starting a connect
//! from a `/connect` payload or a hosted screen, the OAuth redirect and callback,
//! and the result waiting for the browser's SSE listener.
//!
//! Decisions where the docs are silent:
//! * The OAuth `state` is `{workspaceKey}.{256 random bits}`. It names a
//!   `connect_records` row holding the flow (sealed: it carries the PKCE verifier
//!   and any connector parameters the customer gave), bound to the customer who
//!   started it, expiring after [`STATE_TTL_MS`], and *taken* atomically by the
//!   callback: a replayed or forged state finds nothing and changes nothing.
//! * The callback lives at `{public-url}/oauth-callback` (the integration's
//!   default `oAuthCallbackUri`). An integration that overrides `oAuthCallbackUri`
//!   must route that URL here.
//! * OAuth 1 providers do not echo a state, so it rides in the callback URL's query.
//! * Without `allowMultipleConnections`, a successful connect *replaces* the
//!   customer's existing connection for the integration by re-authenticating it in
//!   place: same id, its flow and field-mapping instances kept, no revoke of the old
//!   grant (providers such as Google revoke the whole grant, new token included).

use std::sync::Arc;

use osmosis_connectors::auth::oauth2::{self, random_token};
use osmosis_connectors::auth::{oauth1, AuthError, ConnectionCredentials};
use osmosis_connectors::definition::{AuthConfig, AuthType, Connector};
use osmosis_connectors::http::Deadline;
use osmosis_connectors::redact::Secret;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::ConnectRecord;
use serde_json::{json, Map, Value};

use super::{customer_errors, Connect};
use crate::connections::ConnectionError;
use crate::elements::NewElement;
use crate::errors::store_error;
use crate::refs::Ref;
use crate::Caller;

/// How long a started OAuth flow may take before its state is refused.
pub const STATE_TTL_MS: i64 = 10 * 60 * 1000;
/// How long a connect result waits for the browser's SSE listener.
pub const RESULT_TTL_MS: i64 = 10 * 60 * 1000;

const OAUTH_STATE: &str = "oauth-state";
const CONNECT_RESULT: &str = "connect-result";

/// Where the browser that started the flow learns the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// A popup or hidden iframe opened by the SDK's `connect()`: `postMessage` to
    /// the opener or parent, and SSE.
    Message,
    /// A hosted screen in an iframe talking penpal to its parent.
    Screen,
}

/// A connect request: the `/connect` payload or a hosted screen's form. Read by
/// [`ConnectRequest::from_payload`], which also takes the forms' spellings (objects
/// as JSON text, booleans as `"true"`); its derived schema is the JSON form.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectRequest {
    pub integration_id: Option<String>,
    pub integration_key: Option<String>,
    pub connector_id: Option<String>,
    pub connection_id: Option<String>,
    #[schemars(length(min = 1, max = 100))]
    pub connection_key: Option<String>,
    pub name: Option<String>,
    pub auth_option_key: Option<String>,
    #[serde(default)]
    pub allow_multiple_connections: bool,
    pub connector_parameters: Option<Value>,
    pub input: Option<Value>,
    pub request_id: Option<String>,
    /// An absolute http(s) URL.
    #[schemars(url)]
    pub redirect_uri: Option<String>,
    pub connection_request_id: Option<String>,
}

impl ConnectRequest {
    /// Reads the JSON payload of `POST /connect` (`token` is the caller's business).
    pub fn from_payload(payload: &Value) -> Result<Self, ApiError> {
        let Value::Object(map) = payload else {
            return Err(ApiError::invalid_field("payload", "must be a JSON object"));
        };
        let text = |f: &str| -> Result<Option<String>, ApiError> {
            match map.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::invalid_field(f, "must be a string")),
            }
        };
        let object = |f: &str| -> Result<Option<Value>, ApiError> {
            match map.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(o)) => Ok(Some(Value::Object(o.clone()))),
                // Hosted screens post JSON objects as strings.
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                    Ok(v @ Value::Object(_)) => Ok(Some(v)),
                    _ => Err(ApiError::invalid_field(f, "must be a JSON object")),
                },
                Some(_) => Err(ApiError::invalid_field(f, "must be an object")),
            }
        };
        let allow = match map.get("allowMultipleConnections") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => matches!(s.as_str(), "1" | "true"),
            Some(_) => {
                return Err(ApiError::invalid_field(
                    "allowMultipleConnections",
                    "must be a boolean",
                ))
            }
        };
        let request = ConnectRequest {
            integration_id: text("integrationId")?,
            integration_key: text("integrationKey")?,
            connector_id: text("connectorId")?,
            connection_id: text("connectionId")?,
            connection_key: text("connectionKey")?,
            name: text("name")?,
            auth_option_key: text("authOptionKey")?,
            allow_multiple_connections: allow,
            connector_parameters: object("connectorParameters")?,
            input: object("input")?.or(object("connectionParameters")?),
            request_id: text("requestId")?,
            redirect_uri: text("redirectUri")?,
            connection_request_id: text("connectionRequestId")?,
        };
        if let Some(uri) = &request.redirect_uri {
            let parsed = url::Url::parse(uri)
                .map_err(|_| ApiError::invalid_field("redirectUri", "must be an absolute URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ApiError::invalid_field(
                    "redirectUri",
                    "must be an http(s) URL",
                ));
            }
        }
        if let Some(key) = &request.connection_key {
            if key.is_empty() || key.len() > 100 {
                return Err(ApiError::invalid_field(
                    "connectionKey",
                    "must be 1 to 100 characters",
                ));
            }
        }
        Ok(request)
    }
}

/// An auth option as `/connection-options` lists it (`GeneratedConnectorOption`).
fn option_json(key: Option<&str>, auth: &AuthConfig, callback: &str) -> Value {
    let mut m = Map::new();
    if let Some(k) = key {
        m.insert("key".into(), json!(k));
    }
    m.insert(
        "type".into(),
        json!(auth
            .auth_type
            .map(AuthType::as_str)
            .unwrap_or("client-credentials")),
    );
    if let Some(t) = &auth.title {
        m.insert("title".into(), json!(t));
    }
    if let Some(d) = &auth.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(s) = &auth.input_schema {
        m.insert("inputSchema".into(), s.clone());
    }
    if let Some(s) = &auth.parameters_schema {
        m.insert("connectorParametersSchema".into(), s.clone());
    }
    if matches!(auth.auth_type, Some(AuthType::OAuth2 | AuthType::OAuth1)) {
        m.insert("oAuthCallbackUri".into(), json!(callback));
    }
    Value::Object(m)
}

/// What starting a connect leads to.
#[derive(Debug)]
pub enum ConnectStep {
    /// Send the browser to the provider's authorize page.
    Redirect(String),
    /// The connection is made (or renewed).
    Connected(Box<Element>),
}

/// Where a flow stands, resolved: integration, connector, the chosen option.
pub struct Target {
    pub integration: Element,
    pub connector: Arc<Connector>,
    pub option_key: String,
    pub auth: AuthConfig,
    /// Connector parameters the option requires (`parametersSchema.required`) that
    /// neither the integration, the request nor the server's defaults set: while
    /// there are any, nobody can connect ([`Target::not_set_up`]).
    pub missing_parameters: Vec<String>,
}

impl Target {
    pub fn auth_type(&self) -> Option<AuthType> {
        self.auth.auth_type
    }

    /// The customer authorises on the provider's pages (OAuth 1 or 2).
    pub fn is_oauth(&self) -> bool {
        matches!(
            self.auth.auth_type,
            Some(AuthType::OAuth2 | AuthType::OAuth1)
        )
    }

    /// The option's input schema, if it asks the customer for anything.
    pub fn input_schema(&self) -> Option<&Value> {
        self.auth.input_schema.as_ref()
    }

    /// The developer's `configuration` error when the integration cannot be
    /// connected yet (required connector parameters unset), naming them.
    pub fn not_set_up(&self) -> Option<ApiError> {
        (!self.missing_parameters.is_empty())
            .then(|| customer_errors::not_set_up(&self.integration, &self.missing_parameters))
    }
}

impl Connect<'_> {
    /// The integration a request names by id or key, as the caller sees it.
    async fn connect_integration(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
    ) -> Result<Element, ApiError> {
        if let Some(id) = &request.integration_id {
            return self
                .elements
                .resolve_ref(
                    caller,
                    ElementType::Integration,
                    &Ref::Id(id.clone()),
                    "integrationId",
                )
                .await;
        }
        if let Some(key) = &request.integration_key {
            return self
                .elements
                .resolve_ref(
                    caller,
                    ElementType::Integration,
                    &Ref::Key(key.clone()),
                    "integrationKey",
                )
                .await;
        }
        if let Some(connection_id) = &request.connection_id {
            let conn = self.connection_of(caller, connection_id).await?;
            if let Some(i) = conn.integration_id {
                return self
                    .elements
                    .resolve_ref(
                        caller,
                        ElementType::Integration,
                        &Ref::Id(i),
                        "connectionId",
                    )
                    .await;
            }
        }
        if let Some(connector_id) = &request.connector_id {
            let query =
                osmosis_store::ElementQuery::new(&caller.workspace.id, ElementType::Integration);
            let found = self
                .elements
                .store
                .find_elements(&query)
                .await
                .map_err(store_error)?;
            if let Some(i) = found
                .into_iter()
                .find(|i| i.doc_str("connectorId") == Some(connector_id.as_str()))
            {
                return Ok(i);
            }
            return Err(ApiError::invalid_field(
                "connectorId",
                "no integration uses this connector; connect through an integration",
            ));
        }
        Err(ApiError::invalid_field(
            "integrationKey",
            "name the integration to connect (integrationKey or integrationId)",
        ))
    }

    /// A connection the caller may reconnect.
    async fn connection_of(&self, caller: &Caller, id: &str) -> Result<Element, ApiError> {
        self.elements
            .resolve_ref(
                caller,
                ElementType::Connection,
                &Ref::Id(id.to_owned()),
                "connectionId",
            )
            .await
    }

    /// Resolves the integration, connector and auth option of a request. Without an
    /// `authOptionKey`, a connector with options takes its first one; one without,
    /// its own auth.
    pub async fn connect_target(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
    ) -> Result<Target, ApiError> {
        let integration = self.connect_integration(caller, request).await?;
        let probe = Element {
            integration_id: Some(integration.id.clone()),
            ..integration.clone()
        };
        let bound = self.calls.connector_binding(&probe).await?;
        let connector = Arc::new(bound.definition);
        let option_key = match &request.auth_option_key {
            Some(k) => k.clone(),
            None => connector.options.keys().next().cloned().unwrap_or_default(),
        };
        let auth = connector
            .effective_auth(&option_key)
            .ok_or_else(|| ConnectionError::UnknownAuthOption(option_key.clone()))?;
        let missing_parameters = self.missing_parameters(&connector, &auth, &integration, request);
        Ok(Target {
            integration,
            connector,
            option_key,
            auth,
            missing_parameters,
        })
    }

    /// The auth options of a target's connector a customer can connect with now:
    /// `(key, title)` of those whose required connector parameters are set.
    pub fn ready_options(
        &self,
        target: &Target,
        request: &ConnectRequest,
    ) -> Vec<(String, String)> {
        let connector = &target.connector;
        connector
            .options
            .iter()
            .filter(|(key, _)| {
                connector.effective_auth(key).is_some_and(|auth| {
                    self.missing_parameters(connector, &auth, &target.integration, request)
                        .is_empty()
                })
            })
            .map(|(k, a)| (k.clone(), a.title.clone().unwrap_or_else(|| k.clone())))
            .collect()
    }

    /// Required connector parameters of `auth` left unset by the integration, the
    /// request's own `connectorParameters` and the server's defaults.
    fn missing_parameters(
        &self,
        connector: &Connector,
        auth: &AuthConfig,
        integration: &Element,
        request: &ConnectRequest,
    ) -> Vec<String> {
        let Some(required) = auth
            .parameters_schema
            .as_ref()
            .and_then(|s| s.get("required"))
            .and_then(Value::as_array)
        else {
            return Vec::new();
        };
        let given = self.effective_parameters(integration, request);
        let defaults = connector
            .key
            .as_deref()
            .and_then(|k| self.calls.connector_defaults.get(k));
        let unset = |v: Option<&Value>| match v {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        required
            .iter()
            .filter_map(Value::as_str)
            .filter(|name| unset(given.get(*name)) && unset(defaults.and_then(|d| d.get(*name))))
            .map(str::to_owned)
            .collect()
    }

    /// `POST /connection-options`: the auth options of the integration's connector.
    pub async fn connection_options(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
    ) -> Result<Vec<Value>, ApiError> {
        let target = self
            .connect_target(
                caller,
                &ConnectRequest {
                    auth_option_key: Some(String::new()),
                    ..request.clone()
                },
            )
            .await?;
        let callback = self.oauth_callback_uri(&target.integration);
        let connector = &target.connector;
        if connector.options.is_empty() {
            return Ok(vec![option_json(None, &connector.auth, &callback)]);
        }
        Ok(connector
            .options
            .keys()
            .filter_map(|k| connector.effective_auth(k).map(|a| (k, a)))
            .map(|(k, a)| option_json(Some(k), &a, &callback))
            .collect())
    }

    /// The integration's OAuth callback URL (its override, else ours).
    pub fn oauth_callback_uri(&self, integration: &Element) -> String {
        integration
            .doc_str("oAuthCallbackUri")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| self.default_callback_uri())
    }

    pub fn default_callback_uri(&self) -> String {
        format!("{}/oauth-callback", self.public_url.trim_end_matches('/'))
    }

    /// Starts (or, for credentials that need no browser, completes) a connect.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key))]
    pub async fn start_connect(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
        delivery: Delivery,
    ) -> Result<ConnectStep, ApiError> {
        let customer_id = caller
            .customer_id
            .clone()
            .ok_or_else(|| ApiError::access_denied("connecting needs a customer token"))?;
        if self.cipher.is_none() {
            return Err(ConnectionError::NoCipher.into());
        }
        let target = self.connect_target(caller, request).await?;
        if let Some(e) = target.not_set_up() {
            return Err(e);
        }
        let parameters = self.effective_parameters(&target.integration, request);
        let runner =
            self.calls
                .option_runner(target.connector.clone(), &target.option_key, parameters)?;
        let input = request.input.clone().unwrap_or_else(|| json!({}));
        let steps = ConnectionCredentials::new(&runner, input.clone());
        let state = format!("{}.{}", caller.workspace.key, random_token(32));
        let callback = self.oauth_callback_uri(&target.integration);
        let mut flow = json!({
            "request": request,
            "optionKey": target.option_key,
            "integrationId": target.integration.id,
            "delivery": delivery,
            "redirectUri": callback,
        });
        // The customer waits on the provider's answers: the connect deadline.
        let started = Deadline::after(self.calls.deadlines.connect, "connect")
            .scope(self.oauth_start(&target, &steps, &state, &callback, &mut flow))
            .await;
        let url = match started {
            Ok(Some(url)) => url,
            Ok(None) => {
                let conn = self
                    .complete_connect(caller, request, &target, None)
                    .await?;
                return Ok(ConnectStep::Connected(Box::new(conn)));
            }
            Err(e) => {
                log_connect_failed(caller, "start", &e);
                return Err(e);
            }
        };
        let sealed = self.seal_flow(&caller.workspace.id, &state, &flow)?;
        let now = crate::clock::now_ms();
        self.connect_records
            .put_connect_record(&ConnectRecord {
                workspace_id: caller.workspace.id.clone(),
                kind: OAUTH_STATE.into(),
                id: state,
                customer_id,
                doc: json!({"sealed": sealed}),
                expires_at: now + STATE_TTL_MS,
                used_at: None,
                created_at: now,
            })
            .await
            .map_err(store_error)?;
        tracing::debug!(workspace = %caller.workspace.key, integration = %target.integration.id, "connect started: the customer is sent to the app");
        Ok(ConnectStep::Redirect(url))
    }

    /// The URL an OAuth connect sends the customer to, with what the callback will
    /// need kept in `flow`; `None` for credentials that need no browser.
    async fn oauth_start(
        &self,
        target: &Target,
        steps: &ConnectionCredentials<'_>,
        state: &str,
        callback: &str,
        flow: &mut Value,
    ) -> Result<Option<String>, ApiError> {
        let url = match target.auth_type() {
            Some(AuthType::OAuth2) => {
                let config = steps
                    .oauth2_config(callback, state)
                    .await
                    .map_err(oauth_config_error)?;
                let start =
                    oauth2::authorize_url(&config, callback, state).map_err(oauth_config_error)?;
                if let Some(v) = &start.code_verifier {
                    flow["codeVerifier"] = json!(v.expose());
                }
                start.url
            }
            Some(AuthType::OAuth1) => {
                let mut oauth1_callback = url::Url::parse(callback)
                    .map_err(|_| ApiError::configuration("oAuthCallbackUri is not a URL"))?;
                oauth1_callback
                    .query_pairs_mut()
                    .append_pair("state", state);
                let config = steps
                    .oauth1_config(oauth1_callback.as_str(), state)
                    .await
                    .map_err(oauth_config_error)?;
                let token = oauth1::request_token(self.http, &config, oauth1_callback.as_str())
                    .await
                    .map_err(ConnectionError::Credentials)?;
                flow["requestToken"] = json!(token.token);
                flow["requestTokenSecret"] = json!(token.secret.expose());
                oauth1::authorize_url(&config, &token).map_err(oauth_config_error)?
            }
            _ => return Ok(None),
        };
        Ok(Some(url))
    }

    /// The integration's parameters overridden by the request's.
    fn effective_parameters(&self, integration: &Element, request: &ConnectRequest) -> Value {
        crate::connections::merged_parameters(integration, request.connector_parameters.as_ref())
    }

    fn seal_flow(&self, workspace_id: &str, state: &str, flow: &Value) -> Result<String, ApiError> {
        let cipher = self.cipher.ok_or(ConnectionError::NoCipher)?;
        Ok(cipher.seal_json(
            flow,
            format!("oauth-state:{workspace_id}:{state}").as_bytes(),
        ))
    }

    /// Finishes an OAuth flow at the callback. `params` is the callback's query.
    /// Returns the caller the flow belongs to (for rendering), its delivery and
    /// request, and the outcome. A state that is unknown, expired or already used
    /// answers an error and changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn finish_oauth(&self, params: &Map<String, Value>) -> CallbackOutcome {
        let state = params
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let refusal = || CallbackOutcome {
            caller: None,
            delivery: Delivery::Message,
            request: ConnectRequest::default(),
            result: Err(ApiError::bad_request(
                "invalid_state",
                "This connect link is invalid, expired or already used; start connecting again",
            )),
        };
        let refused = || {
            tracing::info!(
                stage = "oauth_callback",
                error_key = "invalid_state",
                "connect failed: the callback's state is unknown, expired or already used"
            );
            refusal()
        };
        let Some((workspace_key, _)) = state.split_once('.') else {
            return refused();
        };
        let workspace = match self.workspaces.workspace_by_key(workspace_key).await {
            Ok(Some(workspace)) => workspace,
            Ok(None) => return refused(),
            // The state may be good: say the database failed, so the customer
            // retries rather than starts over.
            Err(e) => {
                let e = store_error(e);
                tracing::warn!(stage = "oauth_callback", error_key = e.key.as_deref(), error = %e.message, "connect failed: the database did not answer");
                return CallbackOutcome {
                    result: Err(e),
                    ..refusal()
                };
            }
        };
        let record = match self
            .connect_records
            .take_connect_record(&workspace.id, OAUTH_STATE, &state, crate::clock::now_ms())
            .await
        {
            Ok(Some(r)) => r,
            _ => return refused(),
        };
        let flow = match record
            .doc
            .get("sealed")
            .and_then(Value::as_str)
            .zip(self.cipher)
            .map(|(text, cipher)| {
                cipher.open_json(
                    text,
                    format!("oauth-state:{}:{state}", workspace.id).as_bytes(),
                )
            }) {
            Some(Ok(flow)) => flow,
            _ => return refused(),
        };
        let caller = Caller {
            workspace: Arc::new(workspace),
            customer_id: Some(record.customer_id.clone()),
            include_secrets: false,
        };
        let request: ConnectRequest =
            serde_json::from_value(flow["request"].clone()).unwrap_or_default();
        let delivery: Delivery =
            serde_json::from_value(flow["delivery"].clone()).unwrap_or(Delivery::Message);
        let result = self
            .finish_oauth_flow(&caller, &request, &flow, params)
            .await;
        CallbackOutcome {
            caller: Some(caller),
            delivery,
            request,
            result,
        }
    }

    async fn finish_oauth_flow(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
        flow: &Value,
        params: &Map<String, Value>,
    ) -> Result<Element, ApiError> {
        // Failures from here on are the connection type's to log (`connected`,
        // `connect failed`); the ones before, the OAuth exchange's.
        let obtained = Deadline::after(self.calls.deadlines.connect, "connect")
            .scope(self.oauth_credentials(caller, request, flow, params))
            .await;
        let (request, target, credentials) = match obtained {
            Ok(obtained) => obtained,
            Err(e) => {
                log_connect_failed(caller, "oauth_callback", &e);
                return Err(e);
            }
        };
        self.complete_connect(caller, &request, &target, Some(credentials))
            .await
    }

    /// The credentials an OAuth callback brings: the provider's grant exchanged
    /// for tokens (and whatever the connector derives from them).
    async fn oauth_credentials(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
        flow: &Value,
        params: &Map<String, Value>,
    ) -> Result<(ConnectRequest, Target, Value), ApiError> {
        if let Some(error) = params.get("error").and_then(Value::as_str) {
            let description = params
                .get("error_description")
                .and_then(Value::as_str)
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            return Err(ApiError::new(
                osmosis_model::ErrorType::Connection,
                Some("oauth_denied"),
                format!("The app did not grant access ({error}{description})"),
            ));
        }
        let request = ConnectRequest {
            auth_option_key: flow["optionKey"].as_str().map(str::to_owned),
            integration_id: flow["integrationId"].as_str().map(str::to_owned),
            ..request.clone()
        };
        let target = self.connect_target(caller, &request).await?;
        let runner = self.calls.option_runner(
            target.connector.clone(),
            &target.option_key,
            self.effective_parameters(&target.integration, &request),
        )?;
        let input = request.input.clone().unwrap_or_else(|| json!({}));
        let steps = ConnectionCredentials::new(&runner, input);
        let redirect_uri = flow["redirectUri"].as_str().unwrap_or_default();
        let state = params.get("state").and_then(Value::as_str).unwrap_or("");
        let credentials = match target.auth_type() {
            Some(AuthType::OAuth2) => {
                let code = params.get("code").and_then(Value::as_str).ok_or_else(|| {
                    ApiError::invalid_query("code", "the callback carries no code")
                })?;
                let config = steps
                    .oauth2_config(redirect_uri, state)
                    .await
                    .map_err(oauth_config_error)?;
                let verifier = flow["codeVerifier"]
                    .as_str()
                    .map(|v| Secret::new(v.to_owned()));
                let response = oauth2::exchange_code(
                    self.http,
                    &config,
                    code,
                    redirect_uri,
                    verifier.as_ref(),
                )
                .await
                .map_err(ConnectionError::Credentials)?;
                steps
                    .after_access_token(&response)
                    .await
                    .map_err(ConnectionError::Credentials)?
            }
            Some(AuthType::OAuth1) => {
                let verifier = params
                    .get("oauth_verifier")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        ApiError::invalid_query(
                            "oauth_verifier",
                            "the callback carries no verifier",
                        )
                    })?;
                let token = oauth1::OAuth1Token {
                    token: flow["requestToken"].as_str().unwrap_or_default().to_owned(),
                    secret: Secret::new(
                        flow["requestTokenSecret"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                };
                if params.get("oauth_token").and_then(Value::as_str) != Some(token.token.as_str()) {
                    return Err(ApiError::invalid_query(
                        "oauth_token",
                        "does not match the request token of this flow",
                    ));
                }
                let config = steps
                    .oauth1_config(redirect_uri, state)
                    .await
                    .map_err(oauth_config_error)?;
                let response = oauth1::access_token(self.http, &config, &token, verifier)
                    .await
                    .map_err(ConnectionError::Credentials)?;
                steps
                    .after_access_token(&response)
                    .await
                    .map_err(ConnectionError::Credentials)?
            }
            other => {
                return Err(ApiError::bad_request(
                    "invalid_state",
                    format!(
                        "auth type {} has no OAuth callback",
                        other.map(AuthType::as_str).unwrap_or("(none)")
                    ),
                ))
            }
        };
        Ok((request, target, credentials))
    }

    /// Makes the connection from what the customer proved: reconnects
    /// `connectionId` in place, else re-authenticates the customer's existing
    /// connection for the integration (unless `allowMultipleConnections`), else
    /// creates one. `credentials: None` derives them from the input (API keys).
    pub(crate) async fn complete_connect(
        &self,
        caller: &Caller,
        request: &ConnectRequest,
        target: &Target,
        credentials: Option<Value>,
    ) -> Result<Element, ApiError> {
        let existing = match &request.connection_id {
            Some(id) => Some(self.connection_of(caller, id).await?),
            None if !request.allow_multiple_connections => {
                self.customer_connection(caller, &target.integration.id)
                    .await?
            }
            None => None,
        };
        let mut body = Map::new();
        body.insert("integrationId".into(), json!(target.integration.id));
        if !target.option_key.is_empty() {
            body.insert("authOptionKey".into(), json!(target.option_key));
        }
        if let Some(n) = &request.name {
            body.insert("name".into(), json!(n));
        }
        if let Some(k) = &request.connection_key {
            body.insert("key".into(), json!(k));
        }
        if let Some(p) = &request.connector_parameters {
            body.insert("connectorParameters".into(), p.clone());
        }
        body.insert(
            "input".into(),
            request.input.clone().unwrap_or_else(|| json!({})),
        );
        if let Some(c) = credentials {
            body.insert("credentials".into(), c);
        }
        // Both are the connection type's own operations, run as its hooks run
        // them: creating goes through the element core (whose connection hooks
        // test and seal), reconnecting is the type's operation beside them.
        match existing {
            Some(conn) => {
                crate::connections::lifecycle::reconnect(
                    self.elements.hook_context,
                    caller,
                    conn,
                    &body,
                )
                .await
            }
            None => {
                self.elements
                    .create(caller, ElementType::Connection, NewElement::from_body(body))
                    .await
            }
        }
    }

    /// The customer's live connection for an integration, if any.
    async fn customer_connection(
        &self,
        caller: &Caller,
        integration_id: &str,
    ) -> Result<Option<Element>, ApiError> {
        let mut query =
            osmosis_store::ElementQuery::new(&caller.workspace.id, ElementType::Connection);
        query.integration = osmosis_store::RefFilter::Is(integration_id.to_owned());
        query.customer = caller
            .customer_id
            .clone()
            .map(osmosis_store::RefFilter::Is)
            .unwrap_or_default();
        self.elements
            .store
            .first_element(query)
            .await
            .map_err(store_error)
    }

    /// Publishes a connect result for the browser's SSE listener.
    pub async fn publish_connect_result(
        &self,
        caller: &Caller,
        request_id: &str,
        event: &Value,
    ) -> Result<(), ApiError> {
        let now = crate::clock::now_ms();
        self.connect_records
            .put_connect_record(&ConnectRecord {
                workspace_id: caller.workspace.id.clone(),
                kind: CONNECT_RESULT.into(),
                id: request_id.to_owned(),
                customer_id: caller.customer_id.clone().unwrap_or_default(),
                doc: event.clone(),
                expires_at: now + RESULT_TTL_MS,
                used_at: None,
                created_at: now,
            })
            .await
            .map_err(store_error)
    }

    /// The published result of a connect request of this customer, if there is one.
    pub async fn connect_result(
        &self,
        caller: &Caller,
        request_id: &str,
    ) -> Result<Option<Value>, ApiError> {
        let record = self
            .connect_records
            .connect_record(
                &caller.workspace.id,
                CONNECT_RESULT,
                request_id,
                crate::clock::now_ms(),
            )
            .await
            .map_err(store_error)?;
        Ok(record
            .filter(|r| caller.is_admin() || caller.customer_id.as_deref() == Some(&r.customer_id))
            .map(|r| r.doc))
    }
}

/// A failure to derive the OAuth config: a config that cannot start a flow (no
/// `clientId`, no `authorizeUri`) is the integration's setup, a `configuration`
/// error ([`customer_errors::INVALID_OAUTH_CONFIG`]); anything else (the function
/// failing, the provider) stays the credentials' failure.
fn oauth_config_error(e: AuthError) -> ApiError {
    match e {
        AuthError::InvalidConfig { field, problem } => ApiError::new(
            osmosis_model::ErrorType::Configuration,
            Some(customer_errors::INVALID_OAUTH_CONFIG),
            format!(
                "The connector's OAuth config (getOAuthConfig) cannot start a connect: `{field}` {problem}; \
                 it usually comes from the integration's connector parameters (the OAuth app's client id and secret)"
            ),
        )
        .with_data(json!({ "field": field })),
        other => ConnectionError::Credentials(other).into(),
    }
}

/// What an OAuth callback came to.
pub struct CallbackOutcome {
    /// The customer the flow belongs to; `None` when the state was refused.
    pub caller: Option<Caller>,
    pub delivery: Delivery,
    pub request: ConnectRequest,
    pub result: Result<Element, ApiError>,
}

/// A connect that failed before the connection type took over (which logs its own
/// outcomes): starting the OAuth flow, or the provider's answer at the callback.
fn log_connect_failed(caller: &Caller, stage: &'static str, e: &ApiError) {
    tracing::info!(
        workspace = %caller.workspace.key,
        customer_id = caller.customer_id.as_deref(),
        stage,
        error_key = e.key.as_deref(),
        error = %e.message,
        "connect failed"
    );
}
