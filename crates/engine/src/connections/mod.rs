//! Connections as live links to an external app: connecting headless (credentials
//! derived and tested through the connector), credentials sealed at rest,
//! disconnecting on archive, and the API proxy through a connection's client.
//!
//! The generic element core stores the connection row; this module owns what it
//! holds beyond the envelope:
//! * `sealedCredentials` — base64 AES-256-GCM of `{credentials, input}`, bound to the
//!   connection's workspace and id ([`secrets`]). The connection input is sealed too:
//!   for API-key connectors it *is* the secret.
//! * `connected` — the connector's `test` passed when the connection was made.
//! * `connectorId` — the connector it was made with.
//!
//! * health — `isDefunct`, `clientAction`, `retryAttempts`, `nextRetryTimestamp`,
//!   `nextCredentialsRefreshAt` ([`health`]).
//!
//! `client-credentials` and token connectors connect headless; OAuth connectors go
//! through the browser flow ([`flow`]) unless the caller hands over credentials.

pub(crate) mod api_logs;
pub(crate) mod calls;
mod error;
pub mod flow;
pub(crate) mod health;
mod proxy;
pub mod requests;
mod rotation;
pub(crate) mod runners;
mod secrets;
pub(crate) mod webhooks;

use std::sync::Arc;

use osmosis_connectors::auth::ConnectionCredentials;
use osmosis_connectors::definition::{AuthFunction, AuthType, Connector};
use osmosis_connectors::function::FunctionRunner;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

pub use api_logs::ApiLogFilter;
pub use calls::{collection_method, ActRequest, CallError, CallFailure};
pub use error::ConnectionError;
pub use osmosis_connectors::definition::CollectionMethod;
pub use proxy::{
    forwarded_request_header, returned_response_header, ProxyBody, ProxyRequest, ProxyResponse,
};
pub use rotation::{KeyRotation, Unopenable};

use crate::elements::{not_found, store_error, visible_to, Ref};
use crate::{Caller, Engine};

/// Fields of a create request that are never stored as given.
const SECRET_FIELDS: [&str; 2] = ["credentials", "input"];

/// A connection's connector, integration parameters and unsealed secrets: what a
/// runner needs.
struct Bound {
    connector: Element,
    definition: Connector,
    connector_parameters: Value,
}

impl Engine {
    /// The connector and the effective connector parameters (the integration's,
    /// overridden by the connection's own) of a connection-to-be or a connection.
    async fn bind(&self, el: &Element) -> Result<Bound, ApiError> {
        let (integration, connector) = self.live_integration_and_connector(el).await?;
        let definition = Connector::from_value(&Value::Object(connector.doc.clone()))
            .map_err(ConnectionError::from)?;
        Ok(Bound {
            connector,
            definition,
            connector_parameters: merged_parameters(
                &integration,
                el.doc.get("connectorParameters"),
            ),
        })
    }

    /// The integration a connection (or one being made) works through and the
    /// connector that integration names. An archived integration or connector is
    /// out of service: nothing connects or calls through it until it is restored.
    async fn live_integration_and_connector(
        &self,
        el: &Element,
    ) -> Result<(Element, Element), ApiError> {
        let integration_id = el
            .integration_id
            .as_deref()
            .ok_or_else(|| ApiError::invalid_field("integrationId", "is required"))?;
        let integration = self
            .stores
            .elements
            .element_by_id(&el.workspace_id, integration_id)
            .await
            .map_err(store_error)?
            .ok_or(ConnectionError::ConnectorMissing)?;
        if integration.is_archived() {
            return Err(out_of_service(&integration));
        }
        let connector_id = integration
            .doc_str("connectorId")
            .ok_or(ConnectionError::NoConnector)?
            .to_owned();
        let connector = self
            .stores
            .elements
            .element_by_id(&el.workspace_id, &connector_id)
            .await
            .map_err(store_error)?
            .filter(|c| c.element_type == ElementType::Connector)
            .ok_or(ConnectionError::ConnectorMissing)?;
        if connector.is_archived() {
            return Err(out_of_service(&connector));
        }
        Ok((integration, connector))
    }

    /// Refuses any call through a stored connection unless it is the caller's and
    /// [`Engine::ensure_live`]. A connection that is not the caller's answers
    /// `not_found` exactly as a missing one does.
    pub(crate) async fn ensure_callable(
        &self,
        caller: &Caller,
        conn: &Element,
    ) -> Result<(), ApiError> {
        if conn.element_type != ElementType::Connection || !visible_to(caller, conn) {
            return Err(not_found(ElementType::Connection, &conn.id));
        }
        self.ensure_live(conn).await
    }

    /// Whether the connection, its customer, its integration and the
    /// integration's connector are all live. Checked on every call against the
    /// rows as stored now — never through a cached runner — so archiving any of
    /// them stops outbound calls at once, on every node.
    pub(crate) async fn ensure_live(&self, conn: &Element) -> Result<(), ApiError> {
        if conn.is_archived() {
            return Err(ApiError::not_found(format!(
                "The connection `{}` is archived; restore it to call through it",
                conn.id
            )));
        }
        let customer = async {
            match conn.customer_id.as_deref() {
                Some(id) => self
                    .stores
                    .elements
                    .element_by_id(&conn.workspace_id, id)
                    .await
                    .map_err(store_error),
                None => Ok(None),
            }
        };
        let (customer, parents) =
            futures::join!(customer, self.live_integration_and_connector(conn));
        if let Some(customer) = customer?.filter(Element::is_archived) {
            return Err(out_of_service(&customer));
        }
        parents.map(|_| ())
    }

    /// A runner for a stored connection, with its credentials unsealed.
    pub(crate) async fn connection_runner(
        &self,
        conn: &Element,
    ) -> Result<FunctionRunner, ApiError> {
        let bound = self.bind(conn).await?;
        let sealed = secrets::open(self, conn)?;
        Ok(self
            .option_runner(
                Arc::new(bound.definition),
                conn.doc_str("authOptionKey").unwrap_or(""),
                bound.connector_parameters,
            )?
            .with_credentials(sealed.credentials))
    }

    /// A runner for one auth option of a connector with the effective connector
    /// parameters: where every connect step and every stored connection starts.
    pub(crate) fn option_runner(
        &self,
        connector: Arc<Connector>,
        option: &str,
        parameters: Value,
    ) -> Result<FunctionRunner, ApiError> {
        Ok(FunctionRunner::new(connector, self.http.clone())
            .with_auth_option(option)
            .map_err(|_| ConnectionError::UnknownAuthOption(option.to_owned()))?
            .with_connector_parameters(parameters))
    }

    /// The customer an admin names in a create request (`userId` or `tenantId`, the
    /// customer's id or key).
    async fn named_customer(
        &self,
        caller: &Caller,
        body: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        let named = ["userId", "tenantId"]
            .iter()
            .find_map(|f| body.get(*f).and_then(Value::as_str))
            .ok_or(ConnectionError::NoCustomer)?;
        let by_id = self
            .resolve_ref(
                caller,
                ElementType::Customer,
                &Ref::Id(named.to_owned()),
                "userId",
            )
            .await;
        let customer = match by_id {
            Ok(c) => c,
            Err(_) => {
                self.resolve_ref(
                    caller,
                    ElementType::Customer,
                    &Ref::Key(named.to_owned()),
                    "userId",
                )
                .await?
            }
        };
        Ok(customer.id)
    }
}

/// `not_found` for a connection whose path runs through an archived element.
fn out_of_service(archived: &Element) -> ApiError {
    ApiError::not_found(format!(
        "The {} `{}` is archived; nothing connects or calls through it until it is restored",
        archived.element_type.name(),
        archived.key.as_deref().unwrap_or(&archived.id)
    ))
}

/// The connector parameters in effect: the integration's, overridden field by
/// field by a connection's (or a connect request's) own.
pub(crate) fn merged_parameters(integration: &Element, own: Option<&Value>) -> Value {
    let mut parameters: Map<String, Value> = integration
        .doc
        .get("parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(Value::Object(own)) = own {
        parameters.extend(own.clone());
    }
    Value::Object(parameters)
}

/// Connects headless (`POST /connections`), and is where the interactive flow's
/// results become connections too: takes the given `credentials` (any auth type), or
/// derives them the connector's way (client-credentials: from the input; token
/// connectors: a minted token), runs the connector's `test` against the API, and on
/// success leaves `el` ready to insert with the credentials sealed. Nothing is
/// stored when any step fails.
pub(crate) async fn connect(
    engine: &Engine,
    caller: &Caller,
    el: &mut Element,
    body: &Map<String, Value>,
) -> Result<(), ApiError> {
    if engine.cipher.is_none() {
        return Err(ConnectionError::NoCipher.into());
    }
    if el.customer_id.is_none() {
        el.customer_id = Some(engine.named_customer(caller, body).await?);
    }
    let bound = engine.bind(el).await?;
    let option = el.doc_str("authOptionKey").unwrap_or("").to_owned();
    let established = establish(engine, caller, el, bound, &option, body).await?;
    for f in SECRET_FIELDS {
        el.doc.remove(f);
    }
    established.apply(engine, el)
}

/// What a successful authentication leaves on a connection.
pub(crate) struct Established {
    connector_id: String,
    credentials: Value,
    input: Value,
}

impl Established {
    /// Seals the secrets into `el` and marks it connected and healthy, with the
    /// time its credentials should be refreshed.
    pub(crate) fn apply(&self, engine: &Engine, el: &mut Element) -> Result<(), ApiError> {
        el.doc.insert(
            "sealedCredentials".into(),
            Value::String(secrets::seal(engine, el, &self.credentials, &self.input)?),
        );
        el.doc.insert("connected".into(), Value::Bool(true));
        el.doc
            .insert("connectorId".into(), json!(self.connector_id));
        health::mark_healthy(el, &self.credentials);
        el.state = osmosis_model::element::ElementState::Ready;
        Ok(())
    }
}

/// Derives or takes the credentials of a connection-to-be and tests them.
async fn establish(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    bound: Bound,
    option: &str,
    body: &Map<String, Value>,
) -> Result<Established, ApiError> {
    let runner = engine.option_runner(
        Arc::new(bound.definition),
        option,
        bound.connector_parameters,
    )?;
    let input = body.get("input").cloned().unwrap_or_else(|| json!({}));
    let auth_type = runner.auth().auth_type;
    let credentials = match body.get("credentials") {
        Some(Value::Object(given)) => Value::Object(given.clone()),
        Some(Value::Null) | None => match auth_type {
            Some(AuthType::ClientCredentials) | None => {
                ConnectionCredentials::new(&runner, input.clone())
                    .from_connection_parameters()
                    .await
                    .map_err(ConnectionError::Credentials)?
            }
            Some(AuthType::MembraneToken | AuthType::IntegrationAppToken) => {
                health::minted_credentials(caller, el)?
            }
            Some(other) => {
                return Err(ConnectionError::InteractiveOnly {
                    auth_type: other.as_str().to_owned(),
                }
                .into())
            }
        },
        Some(_) => return Err(ConnectionError::CredentialsNotObject.into()),
    };
    let runner = runner.with_credentials(credentials.clone());
    // A connector without a `test` cannot be checked; the connection is taken as
    // working, as the connect flow does.
    if runner.auth().function(AuthFunction::Test).is_some() {
        match runner.test().await {
            Ok(true) => {}
            Ok(false) => return Err(ConnectionError::TestRejected.into()),
            Err(e) => return Err(ConnectionError::TestFailed(e).into()),
        }
    }
    Ok(Established {
        connector_id: bound.connector.id,
        credentials,
        input,
    })
}

impl Engine {
    /// Re-authenticates an existing connection in place (`connectionId` in the
    /// connect flow, or the customer's one connection for the integration): new
    /// credentials tested and sealed, health cleared; id and instances kept.
    pub(crate) async fn reconnect(
        &self,
        caller: &Caller,
        conn: Element,
        body: &Map<String, Value>,
    ) -> Result<Element, ApiError> {
        if !visible_to(caller, &conn) || conn.is_archived() {
            return Err(not_found(ElementType::Connection, &conn.id));
        }
        let mut probe = conn.clone();
        if let Some(Value::Object(p)) = body.get("connectorParameters") {
            probe
                .doc
                .insert("connectorParameters".into(), Value::Object(p.clone()));
        }
        if let Some(i) = body.get("integrationId").and_then(Value::as_str) {
            if conn.integration_id.as_deref() != Some(i) {
                return Err(ApiError::invalid_field(
                    "connectionId",
                    "belongs to another integration",
                ));
            }
        }
        let option = body
            .get("authOptionKey")
            .and_then(Value::as_str)
            .unwrap_or_else(|| conn.doc_str("authOptionKey").unwrap_or(""))
            .to_owned();
        let bound = self.bind(&probe).await?;
        let established = establish(self, caller, &conn, bound, &option, body).await?;
        let updated = self
            .update_with(&conn, |el| {
                established.apply(self, el)?;
                if let Some(p) = probe.doc.get("connectorParameters") {
                    el.doc.insert("connectorParameters".into(), p.clone());
                }
                if option.is_empty() {
                    el.doc.remove("authOptionKey");
                } else {
                    el.doc.insert("authOptionKey".into(), json!(option));
                }
                if let Some(n) = body.get("name").and_then(Value::as_str) {
                    el.name = n.to_owned();
                }
                Ok(true)
            })
            .await?;
        self.after_credentials_stored(&updated).await;
        self.notify_connection(&updated, webhooks::RECONNECTED)
            .await;
        Ok(updated)
    }
}

/// Runs the connector's `disconnect` (revoke) before a connection is archived. A
/// failing revoke is logged, not fatal: the customer must always be able to remove
/// a connection, and the credentials stay sealed in the archived row.
pub(crate) async fn disconnect(engine: &Engine, caller: &Caller, conn: &Element) {
    if conn.element_type != ElementType::Connection || !conn.doc.contains_key("sealedCredentials") {
        return;
    }
    let ran = engine
        .call_connection(caller, conn, |runner| async move {
            runner
                .run_auth_function(AuthFunction::Disconnect, json!({}))
                .await
        })
        .await;
    match ran {
        Ok(_) => {}
        Err(CallError::Setup(e)) => {
            tracing::warn!(connection = %conn.id, error = %e, "cannot run disconnect")
        }
        Err(CallError::Call(e)) => {
            tracing::warn!(connection = %conn.id, error = %e, "the connector's disconnect failed")
        }
    }
}

/// What a connection shows: never its sealed secrets; to an admin who asked for
/// secrets, the credentials and input unsealed.
///
/// Credentials that do not open fail the response (`internal`,
/// `credentials_unreadable`, 500, naming the connection) rather than leaving them
/// out of a 200: the admin asked for them, and an answer without them reads as
/// "this connection has none". A list with `includeSecrets` fails as a whole for
/// the same reason — marking the item instead would be invisible to SDK clients,
/// whose schemas drop fields they do not know; the error names the connection to
/// reconnect, and the list without `includeSecrets` still answers. The same holds
/// wherever the connection is rendered with secrets: embedded in another element,
/// or in the answer to an archive or restore asked with `includeSecrets` (the
/// change itself is made by then; only its answer fails).
pub(crate) fn render(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    m: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    m.remove("sealedCredentials");
    m.remove("credentials");
    m.remove("input");
    for field in [
        "connectorId",
        "isDefunct",
        "clientAction",
        "retryAttempts",
        "nextRetryTimestamp",
        "nextCredentialsRefreshAt",
        "error",
    ] {
        if let Some(v) = el.doc.get(field) {
            m.insert(field.into(), v.clone());
        }
    }
    let connected = el.doc_bool("connected") && !el.doc_bool("disconnected") && !el.is_archived();
    m.insert("connected".into(), json!(connected));
    m.insert("disconnected".into(), json!(!connected));
    if caller.is_admin() && caller.include_secrets && el.doc.contains_key("sealedCredentials") {
        let opened = secrets::open(engine, el)?;
        m.insert("credentials".into(), opened.credentials);
        m.insert("input".into(), opened.input);
    }
    Ok(())
}
