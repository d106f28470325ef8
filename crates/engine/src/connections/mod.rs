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
pub(crate) mod call_trace;
pub(crate) mod calls;
mod error;
pub(crate) mod health;
pub use health::REFRESHED_AT;
pub(crate) mod lifecycle;
mod proxy;
mod rotation;
pub(crate) mod runners;
mod secrets;

use std::sync::Arc;

use osmosis_connectors::definition::Connector;
use osmosis_connectors::function::FunctionRunner;
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{Map, Value};

pub use api_logs::ApiLogFilter;
pub(crate) use calls::api_failure;
pub use calls::{collection_method, CallError, CallFailure};
pub use error::ConnectionError;
pub use osmosis_connectors::definition::CollectionMethod;
pub use proxy::{
    forwarded_request_header, returned_response_header, ProxyBody, ProxyRequest, ProxyResponse,
};
pub use rotation::{KeyRotation, Unopenable};

use crate::caller::visible_to;
use crate::elements::Elements;
use crate::errors::{not_found, store_error};
use crate::jobs::JobQueue;
use crate::notify::outbound::Notifier;
use crate::refs::Ref;
use crate::{Caller, Engine};
use osmosis_connectors::http::OutboundClient;
use osmosis_connectors::sealing::CredentialsCipher;
use osmosis_store::{ApiLogStore, ConnectRecordStore, Database, WorkspaceStore};

/// Connector parameters the server supplies, by connector key
/// ([`Engine::with_connector_defaults`]).
pub(crate) type ConnectorDefaults = std::collections::BTreeMap<String, Map<String, Value>>;

/// Fields of a create request that are never stored as given.
pub(crate) const SECRET_FIELDS: [&str; 2] = ["credentials", "input"];

/// A connection's connector, integration parameters and unsealed secrets: what a
/// runner needs.
pub(crate) struct Bound {
    pub(crate) connector: Element,
    pub(crate) definition: Connector,
    pub(crate) connector_parameters: Value,
}

/// The calls service: every request to an external app made for a stored
/// connection (the proxy, operations, data collection methods, `/act`, connector
/// functions such as `disconnect`) and what keeps those calls working: built
/// runners, credential refreshes, sealed secrets, external API logs. Like
/// [`Elements`], a borrowed view of the engine's parts ([`Engine::calls`]) whose
/// fields are all it reaches.
#[derive(Clone, Copy)]
pub struct Calls<'e> {
    pub(crate) elements: Elements<'e>,
    /// Seals and opens connection secrets; without one nothing connects.
    pub(crate) cipher: Option<&'e CredentialsCipher>,
    /// The guarded outbound client every call goes through.
    pub(crate) http: &'e OutboundClient,
    /// Total time budgets of calls ([`crate::Deadlines`]).
    pub(crate) deadlines: crate::Deadlines,
    /// Connector parameters the server supplies (under the integration's own).
    pub(crate) connector_defaults: &'e ConnectorDefaults,
    pub(crate) runners: &'e runners::RunnerCache,
    pub(crate) api_logs: &'e Arc<api_logs::ApiLogWriter>,
    pub(crate) api_log_store: &'e dyn ApiLogStore,
    /// Refresh leases between nodes.
    pub(crate) connect_records: &'e dyn ConnectRecordStore,
    pub(crate) database: &'e dyn Database,
    pub(crate) workspaces: &'e dyn WorkspaceStore,
    /// Schedules proactive credential refreshes.
    pub(crate) jobs: &'e JobQueue,
    /// Tells the workspace a connection went defunct.
    pub(crate) notifications: &'e Notifier,
    /// Where clients reach this server (reconnect links, log URIs).
    pub(crate) public_url: &'e str,
}

impl<'e> Calls<'e> {
    pub(crate) fn of(engine: &'e Engine) -> Self {
        Calls {
            elements: engine.elements(),
            cipher: engine.cipher.as_deref(),
            http: &engine.http,
            deadlines: engine.deadlines,
            connector_defaults: &engine.connector_defaults,
            runners: &engine.runners,
            api_logs: &engine.api_logs,
            api_log_store: engine.stores.api_logs.as_ref(),
            connect_records: engine.stores.connect_records.as_ref(),
            database: engine.stores.database.as_ref(),
            workspaces: engine.stores.workspaces.as_ref(),
            jobs: &engine.jobs,
            notifications: &engine.notifications,
            public_url: &engine.config.public_url,
        }
    }
}

impl Calls<'_> {
    /// The connector and the effective connector parameters (the integration's,
    /// overridden by the connection's own) of a connection-to-be or a connection.
    pub(crate) async fn connector_binding(&self, el: &Element) -> Result<Bound, ApiError> {
        let (integration, connector) = self.live_integration_and_connector(el).await?;
        let mut definition = Connector::from_value(&Value::Object(connector.doc.clone()))
            .map_err(ConnectionError::from)?;
        // The stored document leaves the key to the envelope; the runner finds the
        // server's defaults for the connector by it (`option_runner`).
        if definition.key.is_none() {
            definition.key = connector.key.clone();
        }
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
    pub(crate) async fn live_integration_and_connector(
        &self,
        el: &Element,
    ) -> Result<(Element, Element), ApiError> {
        let integration_id = el
            .integration_id
            .as_deref()
            .ok_or_else(|| ApiError::invalid_field("integrationId", "is required"))?;
        let integration = self
            .elements
            .store
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
            .elements
            .store
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
    /// [`Calls::ensure_live`]. A connection that is not the caller's answers
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
    /// rows as stored now — never through a cached runner, and on a shared
    /// database never through the element cache alone — so archiving any of them
    /// stops outbound calls at once, on every node.
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
                    .elements
                    .store
                    .element_by_id(&conn.workspace_id, id)
                    .await
                    .map_err(store_error),
                None => Ok(None),
            }
        };
        let (customer, parents) =
            futures::join!(customer, self.live_integration_and_connector(conn));
        let customer = customer?;
        if let Some(customer) = customer.as_ref().filter(|c| c.is_archived()) {
            return Err(out_of_service(customer));
        }
        let (integration, connector) = parents?;
        if !self.database.is_shared() {
            return Ok(());
        }
        // The reads above may come from this node's element cache, which hears of
        // another node's archive a moment after it committed: one uncached read of
        // the whole path closes that window.
        let mut path = vec![
            conn.id.as_str(),
            integration.id.as_str(),
            connector.id.as_str(),
        ];
        path.extend(customer.as_ref().map(|c| c.id.as_str()));
        let archived = self
            .elements
            .store
            .archived_among(&conn.workspace_id, &path)
            .await
            .map_err(store_error)?;
        match archived.first() {
            Some(archived) => Err(out_of_service(archived)),
            None => Ok(()),
        }
    }

    /// A runner for a stored connection, with its credentials unsealed.
    pub(crate) async fn connection_runner(
        &self,
        conn: &Element,
    ) -> Result<FunctionRunner, ApiError> {
        let bound = self.connector_binding(conn).await?;
        let sealed = secrets::open(self.cipher, conn)?;
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
    /// The server's defaults for the connector fill parameters left unset.
    pub(crate) fn option_runner(
        &self,
        connector: Arc<Connector>,
        option: &str,
        mut parameters: Value,
    ) -> Result<FunctionRunner, ApiError> {
        let defaults = connector
            .key
            .as_deref()
            .and_then(|key| self.connector_defaults.get(key));
        if let (Some(defaults), Value::Object(given)) = (defaults, &mut parameters) {
            for (name, value) in defaults {
                if given.get(name).is_none_or(Value::is_null) {
                    given.insert(name.clone(), value.clone());
                }
            }
        }
        Ok(FunctionRunner::new(connector, self.http.clone())
            .with_auth_option(option)
            .map_err(|_| ConnectionError::UnknownAuthOption(option.to_owned()))?
            .with_connector_parameters(parameters))
    }

    /// The customer an admin names in a create request (`userId` or `tenantId`, the
    /// customer's id or key).
    pub(crate) async fn named_customer(
        &self,
        caller: &Caller,
        body: &Map<String, Value>,
    ) -> Result<String, ApiError> {
        let named = ["userId", "tenantId"]
            .iter()
            .find_map(|f| body.get(*f).and_then(Value::as_str))
            .ok_or(ConnectionError::NoCustomer)?;
        let by_id = self
            .elements
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
                self.elements
                    .resolve_ref(
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
