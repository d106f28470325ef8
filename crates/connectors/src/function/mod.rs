//! Running connector functions for one connection: every implementation type, with
//! the documented variables, through one API client built from `makeApiClient`.
//!
//! Mapping variables are `credentials`, `connectorParameters` (also `parameters`),
//! `input`, and the input's own fields at the top level (so `getOAuthConfig`'s
//! `$.connectionInput…` and a collection method's `$.parameters…` resolve as written
//! in existing connectors; `credentials`, `connectorParameters` and `input` are never
//! shadowed).

mod error;
mod graphql;
mod javascript;
mod rest;

use std::sync::Arc;

use osmosis_runtime::formula::build_data;
use osmosis_runtime::js::{strip_undefined, truthy};
use osmosis_sandbox::{HostApi, LogEntry, Sandbox};
use serde_json::{json, Map, Value};
use tokio::sync::OnceCell;

pub use error::FunctionError;
pub use rest::fill_path;

use crate::api_client::{ApiClient, ApiClientConfig, CallObserver, RetryPolicy};
use crate::definition::{AuthConfig, AuthFunction, Connector, FunctionDef, Implementation};
use crate::http::OutboundClient;
use crate::redact::Redactor;

/// How deep operation mappings may call operations.
const MAX_DEPTH: usize = 8;

/// A function's result and what it logged.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionOutput {
    pub output: Value,
    pub logs: Vec<LogEntry>,
}

/// Runs a connector's functions for one connection (credentials, connector
/// parameters, auth option). Builds the API client on first need and keeps it.
pub struct FunctionRunner {
    connector: Arc<Connector>,
    auth: AuthConfig,
    credentials: Value,
    connector_parameters: Value,
    http: OutboundClient,
    sandbox: Sandbox,
    policy: RetryPolicy,
    redactor: Redactor,
    observer: Option<Arc<dyn CallObserver>>,
    client: OnceCell<ApiClient>,
}

impl std::fmt::Debug for FunctionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionRunner")
            .field("connector", &self.connector.key)
            .field("auth_type", &self.auth.auth_type)
            .field("credentials", &crate::redact::MASK)
            .finish()
    }
}

impl FunctionRunner {
    /// A runner for the connector's own auth (option `""`).
    pub fn new(connector: Arc<Connector>, http: OutboundClient) -> Self {
        let auth = connector.auth.clone();
        Self {
            connector,
            auth,
            credentials: json!({}),
            connector_parameters: json!({}),
            http,
            sandbox: Sandbox::default(),
            policy: RetryPolicy::default(),
            redactor: Redactor::new(),
            observer: None,
            client: OnceCell::new(),
        }
    }

    /// Hands every call the API client makes to `observer` (the engine's external
    /// API logs).
    pub fn with_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self.client = OnceCell::new();
        self
    }

    /// Selects an auth option (`""` is the connector itself).
    pub fn with_auth_option(mut self, option_key: &str) -> Result<Self, FunctionError> {
        self.auth =
            self.connector
                .effective_auth(option_key)
                .ok_or_else(|| FunctionError::NotDefined {
                    function: format!("auth option `{option_key}`"),
                })?;
        self.client = OnceCell::new();
        Ok(self)
    }

    pub fn with_credentials(mut self, credentials: Value) -> Self {
        self.credentials = credentials;
        self.client = OnceCell::new();
        self.refresh_redactor();
        self
    }

    pub fn with_connector_parameters(mut self, parameters: Value) -> Self {
        self.connector_parameters = parameters;
        self.client = OnceCell::new();
        self.refresh_redactor();
        self
    }

    pub fn with_sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self.client = OnceCell::new();
        self
    }

    fn refresh_redactor(&mut self) {
        self.redactor = Redactor::new()
            .with_credentials(&self.credentials)
            .with_secret_fields(&self.connector_parameters);
    }

    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    pub fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    pub fn credentials(&self) -> &Value {
        &self.credentials
    }

    pub fn connector_parameters(&self) -> &Value {
        &self.connector_parameters
    }

    pub fn http(&self) -> &OutboundClient {
        &self.http
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The connection's API client: `makeApiClient({credentials, connectorParameters})`
    /// turned into a client, built once per runner.
    pub async fn api_client(&self) -> Result<&ApiClient, FunctionError> {
        self.client
            .get_or_try_init(|| async {
                let def = self
                    .auth
                    .function(AuthFunction::MakeApiClient)
                    .ok_or_else(|| FunctionError::NotDefined {
                        function: AuthFunction::MakeApiClient.name().into(),
                    })?;
                let input = json!({
                    "credentials": self.credentials,
                    "connectorParameters": self.connector_parameters,
                });
                let output = match &def.implementation {
                    // Response handlers are formulas over each response: they must
                    // reach the client unevaluated, not be built now against the
                    // makeApiClient input.
                    Implementation::Mapping(Value::Object(mapping))
                        if mapping.contains_key("responseHandlers") =>
                    {
                        let mut rest = mapping.clone();
                        let handlers = rest.remove("responseHandlers");
                        let vars = self.variables(&input);
                        let mut built = self
                            .build(Some(&Value::Object(rest)), &vars, &def.origin)?
                            .map(strip_undefined)
                            .unwrap_or(Value::Null);
                        if let (Value::Object(built), Some(handlers)) = (&mut built, handlers) {
                            built.insert("responseHandlers".into(), handlers);
                        }
                        built
                    }
                    _ => self.run_with(def, input, None, 0).await?.output,
                };
                let mut config =
                    ApiClientConfig::from_value(&output).map_err(|source| FunctionError::Api {
                        origin: def.origin.clone(),
                        source: Box::new(source),
                    })?;
                // Token connectors: the engine's minted token goes in the headers
                // the customer's API expects, unless makeApiClient set them.
                if let (Some(auth_type), Some(token)) = (
                    self.auth.auth_type,
                    self.credentials.get("token").and_then(Value::as_str),
                ) {
                    for (name, value) in crate::auth::token::token_headers(auth_type, token) {
                        if !config
                            .headers
                            .iter()
                            .any(|(n, _)| n.eq_ignore_ascii_case(&name))
                        {
                            config.headers.push((name, value));
                        }
                    }
                }
                let client = ApiClient::new(
                    self.http.clone(),
                    config,
                    self.policy.clone(),
                    self.redactor.clone(),
                )
                .with_observer(self.observer.clone());
                let signer = self.oauth1_signer()?;
                Ok(match signer {
                    Some(signer) => client.with_oauth1(signer),
                    None => client,
                })
            })
            .await
    }

    /// For an OAuth 1 connection holding token credentials: what signs its
    /// requests — the consumer from `getOAuthConfig`, the token from the
    /// credentials. The config is built here from its mapping (OAuth 1 connectors
    /// declare it as one); a `getOAuthConfig` written in JavaScript could need this
    /// very client, so such connectors sign in their own `makeApiClient`.
    fn oauth1_signer(&self) -> Result<Option<crate::api_client::OAuth1Signer>, FunctionError> {
        if self.auth.auth_type != Some(crate::definition::AuthType::OAuth1) {
            return Ok(None);
        }
        let field = |n: &str| self.credentials.get(n).and_then(Value::as_str);
        let (Some(token), Some(secret)) = (field("oauth_token"), field("oauth_token_secret"))
        else {
            return Ok(None);
        };
        let Some(def) = self.auth.function(AuthFunction::GetOAuthConfig) else {
            return Ok(None);
        };
        let Implementation::Mapping(mapping) = &def.implementation else {
            return Ok(None);
        };
        let input = json!({
            "connectorParameters": self.connector_parameters,
            "connectionInput": {},
            "redirectUri": "",
            "state": "",
        });
        let built = self
            .build(Some(mapping), &self.variables(&input), &def.origin)?
            .unwrap_or(Value::Null);
        let config = crate::auth::oauth1::OAuth1Config::from_value(&built).map_err(|e| {
            FunctionError::InvalidRequest {
                origin: def.origin.clone(),
                message: e.to_string(),
            }
        })?;
        Ok(Some(crate::api_client::OAuth1Signer {
            consumer_key: config.consumer_key,
            consumer_secret: config.consumer_secret,
            token: crate::auth::oauth1::OAuth1Token {
                token: token.to_owned(),
                secret: crate::redact::Secret::new(secret.to_owned()),
            },
        }))
    }

    /// Runs a function with `input`.
    pub async fn run(
        &self,
        def: &FunctionDef,
        input: Value,
    ) -> Result<FunctionOutput, FunctionError> {
        let needs_client = matches!(
            def.implementation,
            Implementation::RestApi(_) | Implementation::Graphql(_) | Implementation::Javascript(_)
        );
        // JavaScript gets a client when one can be built; REST and GraphQL require one.
        let client = match (&def.implementation, needs_client) {
            (Implementation::Javascript(_), _) => {
                if self.auth.function(AuthFunction::MakeApiClient).is_some() {
                    Some(self.api_client().await?)
                } else {
                    None
                }
            }
            (_, true) => Some(self.api_client().await?),
            _ => None,
        };
        self.run_with(def, input, client, 0).await
    }

    /// Runs an auth function; `Ok(None)` when the connector does not define it (the
    /// caller applies the documented default).
    pub async fn run_auth_function(
        &self,
        function: AuthFunction,
        input: Value,
    ) -> Result<Option<FunctionOutput>, FunctionError> {
        match self.auth.function(function) {
            None => Ok(None),
            Some(def) if function == AuthFunction::MakeApiClient => {
                self.run_with(def, input, None, 0).await.map(Some)
            }
            Some(def) => self.run(def, input).await.map(Some),
        }
    }

    /// Runs operation `key`.
    pub async fn run_operation(
        &self,
        key: &str,
        input: Value,
    ) -> Result<FunctionOutput, FunctionError> {
        let operation =
            self.connector
                .operation(key)
                .ok_or_else(|| FunctionError::UnknownOperation {
                    origin: "operations".into(),
                    key: key.to_owned(),
                })?;
        self.run(&operation.run, input).await
    }

    /// Runs a JavaScript module that is not one of the connector's functions (a
    /// `run-javascript` action) exactly as a `javascript` function runs — with
    /// `input`, `credentials`, `connectorParameters` and the connection's
    /// `externalApiClient` — plus the caller's own host objects.
    pub async fn run_javascript(
        &self,
        code: &str,
        origin: &str,
        input: Value,
        host: HostApi,
    ) -> Result<FunctionOutput, FunctionError> {
        let client = if self.auth.function(AuthFunction::MakeApiClient).is_some() {
            Some(self.api_client().await?)
        } else {
            None
        };
        let (output, logs) = javascript::run(self, client, code, origin, input, host).await?;
        Ok(FunctionOutput { output, logs })
    }

    /// The connector's `test`: whether the connection works (a truthy result).
    pub async fn test(&self) -> Result<bool, FunctionError> {
        let output = self
            .run_auth_function(AuthFunction::Test, json!({}))
            .await?
            .ok_or_else(|| FunctionError::NotDefined {
                function: AuthFunction::Test.name().into(),
            })?;
        Ok(truthy(Some(&output.output)))
    }

    /// The formula variables for a function input.
    pub fn variables(&self, input: &Value) -> Value {
        let mut vars = Map::new();
        vars.insert(
            "connectorParameters".into(),
            self.connector_parameters.clone(),
        );
        vars.insert("parameters".into(), self.connector_parameters.clone());
        if let Value::Object(fields) = input {
            for (k, v) in fields {
                if !["credentials", "connectorParameters", "input"].contains(&k.as_str()) {
                    vars.insert(k.clone(), v.clone());
                }
            }
        }
        vars.insert("credentials".into(), self.credentials.clone());
        vars.insert("input".into(), input.clone());
        Value::Object(vars)
    }

    /// `buildData` with errors attributed to the function.
    pub(crate) fn build(
        &self,
        value: Option<&Value>,
        vars: &Value,
        origin: &str,
    ) -> Result<Option<Value>, FunctionError> {
        match value {
            None => Ok(None),
            Some(value) => {
                build_data(Some(value), Some(vars)).map_err(|e| FunctionError::Formula {
                    origin: origin.to_owned(),
                    message: self.redactor.text(&e.to_string()),
                })
            }
        }
    }

    fn run_with<'a>(
        &'a self,
        def: &'a FunctionDef,
        input: Value,
        client: Option<&'a ApiClient>,
        depth: usize,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<FunctionOutput, FunctionError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let origin = def.origin.as_str();
            let no_client = || FunctionError::NotDefined {
                function: AuthFunction::MakeApiClient.name().into(),
            };
            let plain = |output: Value| FunctionOutput {
                output,
                logs: Vec::new(),
            };
            match &def.implementation {
                Implementation::NotSupported => Err(FunctionError::NotSupported {
                    origin: origin.to_owned(),
                }),
                Implementation::Mapping(mapping) => {
                    let vars = self.variables(&input);
                    let output = self.build(Some(mapping), &vars, origin)?;
                    Ok(plain(output.map(strip_undefined).unwrap_or(Value::Null)))
                }
                Implementation::RestApi(mapping) => {
                    let client = client.ok_or_else(no_client)?;
                    let vars = self.variables(&input);
                    rest::run(self, client, mapping, origin, &vars)
                        .await
                        .map(plain)
                }
                Implementation::Graphql(mapping) => {
                    let client = client.ok_or_else(no_client)?;
                    let vars = self.variables(&input);
                    graphql::run(self, client, mapping, origin, &vars)
                        .await
                        .map(plain)
                }
                Implementation::Javascript(code) => {
                    let (output, logs) =
                        javascript::run(self, client, code, origin, input, HostApi::new()).await?;
                    Ok(FunctionOutput { output, logs })
                }
                Implementation::Operation(mapping) => {
                    if depth >= MAX_DEPTH {
                        return Err(FunctionError::TooDeep {
                            origin: origin.to_owned(),
                            limit: MAX_DEPTH,
                        });
                    }
                    let operation = self
                        .connector
                        .operation(&mapping.operation_key)
                        .ok_or_else(|| FunctionError::UnknownOperation {
                            origin: origin.to_owned(),
                            key: mapping.operation_key.clone(),
                        })?;
                    let vars = self.variables(&input);
                    let operation_input = match &mapping.input_mapping {
                        Some(m) => self
                            .build(Some(m), &vars, origin)?
                            .map(strip_undefined)
                            .unwrap_or(Value::Null),
                        None => input.clone(),
                    };
                    let needs_client = !matches!(
                        operation.run.implementation,
                        Implementation::Mapping(_)
                            | Implementation::Operation(_)
                            | Implementation::NotSupported
                    );
                    let client = match (client, needs_client) {
                        (Some(c), _) => Some(c),
                        (None, true) => Some(self.api_client().await?),
                        (None, false) => None,
                    };
                    let result = self
                        .run_with(&operation.run, operation_input, client, depth + 1)
                        .await?;
                    let output = match &mapping.output_mapping {
                        Some(m) => {
                            let mut out_vars = vars;
                            if let Value::Object(map) = &mut out_vars {
                                map.insert("output".into(), result.output.clone());
                            }
                            self.build(Some(m), &out_vars, origin)?
                                .map(strip_undefined)
                                .unwrap_or(Value::Null)
                        }
                        None => result.output,
                    };
                    Ok(FunctionOutput {
                        output,
                        logs: result.logs,
                    })
                }
            }
        })
    }
}
