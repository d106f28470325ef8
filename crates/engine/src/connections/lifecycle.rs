//! A connection's lifecycle as an element: connected (credentials derived, tested
//! and sealed) before it is first stored, reconnected when its secrets change,
//! disconnected (revoked) before it is archived, and the workspace notified of each.
//! [`ConnectionHooks`] is how the generic element core reaches all of this.

use std::sync::Arc;

use async_trait::async_trait;
use osmosis_connectors::auth::ConnectionCredentials;
use osmosis_connectors::definition::{AuthFunction, AuthType};
use osmosis_model::{ApiError, Element, ElementType};
use serde_json::{json, Map, Value};

use super::{health, secrets, Bound, CallError, ConnectionError, SECRET_FIELDS};
use crate::caller::visible_to;
use crate::elements::{BeforeWrite, Depth, ElementHooks, WriteMode};
use crate::errors::not_found;
use crate::notify::outbound;
use crate::{Caller, Engine};

/// The connection type's hooks.
pub(crate) struct ConnectionHooks;

#[async_trait]
impl ElementHooks for ConnectionHooks {
    async fn before_insert(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &mut Element,
        body: &Map<String, Value>,
    ) -> Result<(), ApiError> {
        let connected = connect(engine, caller, el, body).await;
        if let Err(e) = &connected {
            tracing::info!(
                workspace = %caller.workspace.key,
                customer_id = el.customer_id.as_deref(),
                integration = el.integration_id.as_deref(),
                error_key = e.key.as_deref(),
                error = %e.message,
                "connect failed"
            );
        }
        connected
    }

    async fn after_insert(&self, engine: &Engine, el: &Element) {
        tracing::info!(
            workspace_id = %el.workspace_id,
            connection = %el.id,
            customer_id = el.customer_id.as_deref(),
            integration = el.integration_id.as_deref(),
            connector = el.doc_str("connectorId"),
            "connected"
        );
        engine.calls().after_credentials_stored(el).await;
        engine
            .notifications
            .connection_event(el, outbound::CREATED)
            .await;
        // Flows with `autoCreateInstances` get an instance on it.
        engine.flow_instances_for_connection(el).await;
    }

    /// A change of a connection's `credentials` or `input` is a reconnect: the new
    /// secrets are tested and sealed first (nothing changes when that fails), then
    /// the rest of the body is written as usual.
    async fn before_write(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: Element,
        mut body: Map<String, Value>,
        _mode: WriteMode,
    ) -> Result<BeforeWrite, ApiError> {
        if !SECRET_FIELDS.iter().any(|f| body.contains_key(*f)) {
            return Ok(BeforeWrite::Continue { current, body });
        }
        crate::elements::check_writer(caller, current.element_type)?;
        // The envelope (name, keys, description, …) is checked before the new
        // secrets are tried: a reconnect writes the name itself, and a body that
        // would be refused must not reach the connector first.
        crate::elements::Elements::check_envelope(current.element_type, &body)?;
        if let Some(Value::String(revision)) = body.get("revision") {
            if *revision != current.revision {
                return Err(ApiError::stale_revision(revision));
            }
        }
        let conn = reconnect(engine, caller, current, &body).await?;
        for f in [
            "credentials",
            "input",
            "connectorParameters",
            "authOptionKey",
            "revision",
            "name",
        ] {
            body.remove(f);
        }
        if body.is_empty() {
            return Ok(BeforeWrite::Done(conn));
        }
        Ok(BeforeWrite::Continue {
            current: conn,
            body,
        })
    }

    async fn before_archive(&self, engine: &Engine, caller: &Caller, el: &Element) {
        disconnect(engine, caller, el).await;
    }

    /// A restored connection's flows start again (`Engine::connection_written`).
    fn after_write(&self, engine: &Engine, before: &Element, after: &Element) {
        engine.connection_written(before, after);
    }

    async fn after_archive(&self, engine: &Engine, el: &Element) {
        engine
            .notifications
            .connection_event(el, outbound::DELETED)
            .await;
    }

    /// A connection's refresh is a credentials refresh (`/refresh` is the
    /// documented alias of `/refresh-credentials`).
    async fn refresh(
        &self,
        engine: &Engine,
        caller: &Caller,
        current: &Element,
    ) -> Option<Result<Element, ApiError>> {
        Some(engine.calls().refresh_credentials(caller, current).await)
    }

    async fn render(
        &self,
        engine: &Engine,
        caller: &Caller,
        el: &Element,
        m: &mut Map<String, Value>,
        _depth: Depth,
    ) -> Result<(), ApiError> {
        render(engine, caller, el, m)
    }

    /// One connection per customer and integration may hold a key.
    fn key_scope(&self, el: &Element) -> String {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        format!("{}|{}", o(&el.integration_id), o(&el.customer_id))
    }
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
        el.customer_id = Some(engine.calls().named_customer(caller, body).await?);
    }
    let bound = engine.calls().connector_binding(el).await?;
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
            Value::String(secrets::seal(
                engine.cipher.as_deref(),
                el,
                &self.credentials,
                &self.input,
            )?),
        );
        el.doc.insert("connected".into(), Value::Bool(true));
        el.doc
            .insert("connectorId".into(), json!(self.connector_id));
        health::mark_healthy(el, &self.credentials);
        el.state = osmosis_model::element::ElementState::Ready;
        Ok(())
    }
}

/// Derives or takes the credentials of a connection-to-be and tests them, within
/// the connect deadline ([`crate::Deadlines::connect`]): someone waits on it.
async fn establish(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    bound: Bound,
    option: &str,
    body: &Map<String, Value>,
) -> Result<Established, ApiError> {
    osmosis_connectors::http::Deadline::after(engine.deadlines.connect, "connect")
        .scope(derive_and_test(engine, caller, el, bound, option, body))
        .await
}

async fn derive_and_test(
    engine: &Engine,
    caller: &Caller,
    el: &Element,
    bound: Bound,
    option: &str,
    body: &Map<String, Value>,
) -> Result<Established, ApiError> {
    let runner = engine.calls().option_runner(
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

/// Re-authenticates an existing connection in place (`connectionId` in the
/// connect flow, or the customer's one connection for the integration): new
/// credentials tested and sealed, health cleared; id and instances kept.
pub(crate) async fn reconnect(
    engine: &Engine,
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
    let established = match engine.calls().connector_binding(&probe).await {
        Ok(bound) => establish(engine, caller, &conn, bound, &option, body).await,
        Err(e) => Err(e),
    };
    let established = match established {
        Ok(established) => established,
        Err(e) => {
            tracing::info!(
                workspace = %caller.workspace.key,
                connection = %conn.id,
                customer_id = conn.customer_id.as_deref(),
                error_key = e.key.as_deref(),
                error = %e.message,
                "reconnect failed"
            );
            return Err(e);
        }
    };
    let updated = engine
        .elements()
        .update_with(&conn, |el| {
            established.apply(engine, el)?;
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
    tracing::info!(
        workspace = %caller.workspace.key,
        connection = %updated.id,
        customer_id = updated.customer_id.as_deref(),
        integration = updated.integration_id.as_deref(),
        "reconnected"
    );
    engine.calls().after_credentials_stored(&updated).await;
    engine
        .notifications
        .connection_event(&updated, outbound::RECONNECTED)
        .await;
    Ok(updated)
}

/// Runs the connector's `disconnect` (revoke) before a connection is archived. A
/// failing revoke is logged, not fatal: the customer must always be able to remove
/// a connection, and the credentials stay sealed in the archived row.
pub(crate) async fn disconnect(engine: &Engine, caller: &Caller, conn: &Element) {
    if conn.element_type != ElementType::Connection || !conn.doc.contains_key("sealedCredentials") {
        return;
    }
    let ran = engine
        .calls()
        .call_connection(caller, conn, |runner| async move {
            runner
                .run_auth_function(AuthFunction::Disconnect, json!({}))
                .await
        })
        .await;
    let revoked = match ran {
        Ok(_) => true,
        Err(CallError::Setup(e)) => {
            tracing::warn!(connection = %conn.id, error = %e, "cannot run disconnect");
            false
        }
        Err(CallError::Call(e)) => {
            tracing::warn!(connection = %conn.id, error = %e, "the connector's disconnect failed");
            false
        }
    };
    tracing::info!(
        workspace = %caller.workspace.key,
        connection = %conn.id,
        customer_id = conn.customer_id.as_deref(),
        integration = conn.integration_id.as_deref(),
        revoked,
        "disconnected"
    );
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
        let opened = secrets::open(engine.cipher.as_deref(), el)?;
        m.insert("credentials".into(), opened.credentials);
        m.insert("input".into(), opened.input);
    }
    Ok(())
}
