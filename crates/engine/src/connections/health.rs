//! Keeping a connection's credentials valid: refreshing them when the API says they
//! expired (once, however many requests noticed at the same time), ahead of expiry
//! through the jobs table, and recording what a failure means.
//!
//! * A refresh the provider *refuses* (revoked grant, `invalid_grant`, no refresh
//!   token) makes the connection defunct: `connected: false`, `isDefunct: true`,
//!   state `CLIENT_ACTION_REQUIRED` with a `clientAction` telling the customer to
//!   reconnect, and a `connection.disconnected` notification. Its credentials stay
//!   sealed: nothing is lost, reconnecting in place restores it.
//! * A provider that cannot be reached (network, 5xx, 429) changes nothing about
//!   the credentials: the attempt is counted (`retryAttempts`,
//!   `nextRetryTimestamp`), the request fails with a `connection` error, and the next
//!   request or the scheduled job tries again — the connection recovers by itself.
//! * Single flight: refreshes of one connection queue on this node's write lock for
//!   it, and a refresher that finds the sealed credentials changed since it read them
//!   takes the new ones instead of refreshing again. Across nodes the row's revision
//!   check keeps the data right; two nodes may each ask the provider once.

use std::time::Duration;

use osmosis_connectors::api_client::{CredentialsRefresher, RefreshError};
use osmosis_connectors::auth::token::mint_token;
use osmosis_connectors::auth::ConnectorRefresher;
use osmosis_model::element::ElementState;
use osmosis_model::{ApiError, Element, ErrorType};
use osmosis_store::Job;
use serde_json::{json, Value};

use super::secrets;
use super::Calls;
use crate::errors::store_error;
use crate::{Caller, Engine};

/// Error key of a refresh the connector has no way to do.
pub(crate) const REFRESH_NOT_SUPPORTED: &str = "refresh_not_supported";

/// How long a node may hold a connection's refresh before others stop waiting.
pub(crate) const REFRESH_LEASE_MS: i64 = 30_000;

/// The database lease of a connection's refresh, expiring at `expires_at`.
fn refresh_lease(conn: &Element, expires_at: i64, now: i64) -> osmosis_store::ConnectRecord {
    osmosis_store::ConnectRecord {
        workspace_id: conn.workspace_id.clone(),
        kind: "refresh-lease".into(),
        id: conn.id.clone(),
        customer_id: String::new(),
        doc: json!({}),
        expires_at,
        used_at: None,
        created_at: now,
    }
}

/// Job kind of a proactive refresh.
/// The proactive refresh of a connection's credentials before they expire.
pub(crate) struct RefreshCredentialsJob;

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefreshPayload {
    connection_id: String,
}

impl crate::jobs::JobKind for RefreshCredentialsJob {
    const KIND: &'static str = "refresh-credentials";
    /// Only an unreachable token endpoint fails the job (a refused refresh marks
    /// the connection defunct instead), so it is retried like a delivery.
    const RETRY: crate::jobs::RetryPolicy = crate::notify::outbound::DELIVERY_RETRY;
    type Payload = RefreshPayload;

    fn run<'a>(
        engine: &'a Engine,
        job: &'a Job,
        payload: RefreshPayload,
    ) -> futures::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            engine
                .calls()
                .run_refresh_job(job, &payload.connection_id)
                .await
        })
    }
}

/// How long before expiry credentials are refreshed ahead of use: a fifth of
/// their lifetime, at most five minutes.
fn refresh_margin_ms(lifetime_ms: i64) -> i64 {
    (lifetime_ms / 5).min(5 * 60 * 1000)
}

/// When credentials expire, from the token response's `expires_in` (seconds, number
/// or numeric string) counted from now.
fn lifetime_ms(credentials: &Value) -> Option<i64> {
    let v = credentials.get("expires_in")?;
    let secs = v
        .as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))?;
    (secs > 0.0).then_some((secs * 1000.0) as i64)
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn parse_iso_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Clears the health record of a connection whose credentials were just proven,
/// and notes when they should next be refreshed.
/// The connection document's field holding when its credentials were last
/// refreshed (ISO 8601); never rendered by the API.
pub const REFRESHED_AT: &str = "credentialsRefreshedAt";

pub(crate) fn mark_healthy(el: &mut Element, credentials: &Value) {
    for f in [
        "isDefunct",
        "clientAction",
        "error",
        "errors",
        "requestError",
        "retryAttempts",
        "nextRetryTimestamp",
        "disconnected",
    ] {
        el.doc.remove(f);
    }
    match lifetime_ms(credentials) {
        Some(life) => {
            let at = crate::clock::now_ms() + life - refresh_margin_ms(life);
            el.doc
                .insert("nextCredentialsRefreshAt".into(), json!(iso(at)));
        }
        None => {
            el.doc.remove("nextCredentialsRefreshAt");
        }
    }
}

/// Credentials of a `membrane-token` connection: a token for the customer, signed
/// with the workspace secret, valid for an hour and refreshed before it ends.
pub(crate) fn minted_credentials(caller: &Caller, el: &Element) -> Result<Value, ApiError> {
    let customer = el.customer_id.clone().unwrap_or_default();
    let ttl = Duration::from_secs(3600);
    let token = mint_token(
        &caller.workspace.key,
        &caller.workspace.secret,
        &customer,
        None,
        ttl,
    )
    .map_err(|e| e.to_error_data())?;
    Ok(json!({"token": token, "expires_in": ttl.as_secs()}))
}

impl Calls<'_> {
    /// After credentials were stored: schedules the proactive refresh when they
    /// expire.
    pub(crate) async fn after_credentials_stored(&self, conn: &Element) {
        let Some(at) = conn
            .doc_str("nextCredentialsRefreshAt")
            .and_then(parse_iso_ms)
        else {
            return;
        };
        let payload = RefreshPayload {
            connection_id: conn.id.clone(),
        };
        if let Err(e) = self
            .jobs
            .schedule::<RefreshCredentialsJob>(&conn.workspace_id, conn.id.clone(), &payload, at)
            .await
        {
            tracing::warn!(connection = %conn.id, error = %e, "could not schedule a credentials refresh");
        }
    }

    /// Refreshes a connection's credentials, unless someone already did since
    /// `seen_sealed` was read (then their result is used). Returns the connection as
    /// stored afterwards with its credentials; a refusal or an unreachable provider
    /// is recorded on the connection and returned as a `connection` error.
    pub(crate) async fn refresh_connection(
        &self,
        conn: &Element,
        seen_sealed: Option<&str>,
    ) -> Result<(Element, Value), ApiError> {
        let _lock = self.elements.locks.lock(&conn.id).await;
        let current = self
            .elements
            .store
            .element_by_id(&conn.workspace_id, &conn.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| crate::errors::not_found(conn.element_type, &conn.id))?;
        self.ensure_live(&current).await?;
        let opened = secrets::open(self.cipher, &current)?;
        if seen_sealed.is_some() && current.doc_str("sealedCredentials") != seen_sealed {
            return Ok((current, opened.credentials));
        }
        if current.doc_bool("isDefunct") {
            return Err(defunct_error(&current));
        }
        if self.database.is_shared() {
            if let Some(done) = self.await_refresh_lease(&current).await? {
                return Ok(done);
            }
        }
        let outcome = self.refresh_now(current, opened).await;
        if self.database.is_shared() {
            self.release_refresh_lease(conn).await;
        }
        outcome
    }

    /// On a shared database one node at a time refreshes a connection: it first
    /// takes a lease in the database ([`REFRESH_LEASE_MS`]). A node that finds the
    /// lease held waits for the holder's result — the sealed credentials change —
    /// and uses it instead of asking the provider too (providers that rotate
    /// refresh tokens would refuse the second ask). A holder that died lets its
    /// lease expire, and then this node refreshes.
    async fn await_refresh_lease(
        &self,
        current: &Element,
    ) -> Result<Option<(Element, Value)>, ApiError> {
        let started = crate::clock::now_ms();
        loop {
            let now = crate::clock::now_ms();
            let lease = refresh_lease(current, now + REFRESH_LEASE_MS, now);
            if self
                .connect_records
                .take_lease(&lease, now)
                .await
                .map_err(store_error)?
                || now - started > REFRESH_LEASE_MS
            {
                return Ok(None);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let fresh = self
                .elements
                .store
                .element_by_id(&current.workspace_id, &current.id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| crate::errors::not_found(current.element_type, &current.id))?;
            if fresh.doc_bool("isDefunct") {
                return Err(defunct_error(&fresh));
            }
            if fresh.doc_str("sealedCredentials") != current.doc_str("sealedCredentials") {
                let opened = secrets::open(self.cipher, &fresh)?;
                return Ok(Some((fresh, opened.credentials)));
            }
        }
    }

    async fn release_refresh_lease(&self, conn: &Element) {
        let now = crate::clock::now_ms();
        if let Err(e) = self
            .connect_records
            .put_connect_record(&refresh_lease(conn, now, now))
            .await
        {
            tracing::warn!(connection = %conn.id, error = %e, "could not release a refresh lease; it expires by itself");
        }
    }

    /// Asks the provider for new credentials and records the outcome.
    /// Refreshes and counts the refresh by connector (the metrics).
    async fn refresh_now(
        &self,
        current: Element,
        opened: secrets::Secrets,
    ) -> Result<(Element, Value), ApiError> {
        let runner = match self.connection_runner(&current).await {
            Ok(runner) => runner,
            Err(e) => {
                crate::metrics::record_refresh("unknown", false);
                return Err(e);
            }
        };
        let connector = runner.connector().key.clone().unwrap_or_default();
        let outcome = self.refresh_with(current, opened, runner).await;
        crate::metrics::record_refresh(&connector, outcome.is_ok());
        outcome
    }

    async fn refresh_with(
        &self,
        current: Element,
        opened: secrets::Secrets,
        runner: osmosis_connectors::function::FunctionRunner,
    ) -> Result<(Element, Value), ApiError> {
        let auth_type = runner.auth().auth_type;
        let refreshed = match auth_type {
            Some(
                osmosis_connectors::definition::AuthType::MembraneToken
                | osmosis_connectors::definition::AuthType::IntegrationAppToken,
            ) => minted_credentials(&Caller::admin(self.workspace_of(&current).await?), &current)
                .map_err(|e| RefreshError::Failed(e.message)),
            _ => {
                ConnectorRefresher::new(&runner, opened.input.clone())
                    .refresh(&opened.credentials)
                    .await
            }
        };
        match refreshed {
            Ok(credentials) => {
                let input = opened.input.clone();
                let stored = self
                    .elements
                    .update_locked(current, |el| {
                        el.doc.insert(
                            "sealedCredentials".into(),
                            Value::String(secrets::seal(self.cipher, el, &credentials, &input)?),
                        );
                        el.doc.insert("connected".into(), Value::Bool(true));
                        mark_healthy(el, &credentials);
                        // When the credentials were last renewed, for the console
                        // (the SDK's connection has no such field, so the API's
                        // rendering drops it).
                        el.doc
                            .insert(REFRESHED_AT.into(), Value::String(crate::clock::now_iso()));
                        el.state = ElementState::Ready;
                        Ok(true)
                    })
                    .await?;
                tracing::info!(
                    workspace_id = %stored.workspace_id,
                    connection = %stored.id,
                    next_refresh_at = stored.doc_str("nextCredentialsRefreshAt"),
                    "credentials refreshed"
                );
                self.after_credentials_stored(&stored).await;
                Ok((stored, credentials))
            }
            Err(RefreshError::Unavailable(reason)) => {
                let attempts = current
                    .doc
                    .get("retryAttempts")
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
                    + 1;
                let retry_at =
                    crate::clock::now_ms() + crate::clock::backoff_ms(30_000, 3_600_000, attempts);
                tracing::warn!(
                    workspace_id = %current.workspace_id,
                    connection = %current.id,
                    attempts,
                    retry_at = %iso(retry_at),
                    reason = %reason,
                    "credentials refresh failed: the app could not be reached"
                );
                self.elements
                    .update_locked(current, |el| {
                        el.doc.insert("retryAttempts".into(), json!(attempts));
                        el.doc
                            .insert("nextRetryTimestamp".into(), json!(iso(retry_at)));
                        Ok(true)
                    })
                    .await?;
                Err(ApiError::new(
                    ErrorType::Connection,
                    Some(osmosis_model::error::keys::REFRESH_UNAVAILABLE),
                    format!("The credentials need refreshing and the app could not be reached; try again later ({reason})"),
                ))
            }
            // Nothing to refresh with: the caller keeps the API's own answer, and
            // one refused request does not condemn the connection.
            Err(RefreshError::NotSupported(reason)) => {
                tracing::debug!(
                    workspace_id = %current.workspace_id,
                    connection = %current.id,
                    reason = %reason,
                    "credentials cannot be refreshed"
                );
                Err(ApiError::new(
                    ErrorType::Connection,
                    Some(REFRESH_NOT_SUPPORTED),
                    format!("The credentials cannot be refreshed: {reason}"),
                ))
            }
            Err(RefreshError::Failed(reason)) => {
                tracing::warn!(
                    workspace_id = %current.workspace_id,
                    connection = %current.id,
                    reason = %reason,
                    "credentials refresh refused: the connection is defunct until the customer reconnects"
                );
                let ui_url = format!(
                    "{}/screens/connection?connectionId={}",
                    self.public_url.trim_end_matches('/'),
                    current.id
                );
                let error = json!({
                    "type": "connection",
                    "key": "connection_is_defunct",
                    "message": format!("The app refused to refresh the credentials: {reason}"),
                });
                let stored = self
                    .elements.update_locked(current, |el| {
                        el.doc.insert("connected".into(), Value::Bool(false));
                        el.doc.insert("isDefunct".into(), Value::Bool(true));
                        el.doc.insert("error".into(), error.clone());
                        el.doc.insert("errors".into(), json!([error.clone()]));
                        el.doc.insert(
                            "clientAction".into(),
                            json!({
                                "type": "connect",
                                "description": "The connection's access was revoked or expired; reconnect to restore it.",
                                "uiUrl": ui_url,
                            }),
                        );
                        el.doc.remove("nextCredentialsRefreshAt");
                        el.state = ElementState::ClientActionRequired;
                        Ok(true)
                    })
                    .await?;
                self.notifications
                    .connection_event(&stored, crate::notify::outbound::DISCONNECTED)
                    .await;
                Err(defunct_error(&stored))
            }
        }
    }

    /// `POST /connections/{c}/refresh-credentials`: refreshes now and answers the
    /// connection.
    #[tracing::instrument(skip_all, fields(workspace = %caller.workspace.key, connection = %conn.id))]
    pub async fn refresh_credentials(
        &self,
        caller: &Caller,
        conn: &Element,
    ) -> Result<Element, ApiError> {
        self.ensure_callable(caller, conn).await?;
        match self.refresh_connection(conn, None).await {
            Ok((conn, _)) => Ok(conn),
            // Credentials with nothing to refresh (an API key without
            // `getCredentialsFromConnectionParameters`) stay as they are: asking for
            // a refresh is not an error, there is just nothing to do.
            Err(e) if e.key.as_deref() == Some(REFRESH_NOT_SUPPORTED) => Ok(conn.clone()),
            Err(e) => Err(e),
        }
    }

    /// `POST /connections/{c}/test`: runs the connector's `test` through the
    /// connection's client (refreshing an expired token once) and answers
    /// `{success}`, with the error when it failed. A connection whose connector
    /// has no `test` answers `{success: true}` when it is connected. The test has
    /// the connect deadline ([`crate::Deadlines::connect`]): someone waits on it.
    pub async fn test_connection(
        &self,
        caller: &Caller,
        conn: &Element,
    ) -> Result<Value, ApiError> {
        self.ensure_callable(caller, conn).await?;
        if conn.doc_bool("isDefunct") {
            return Ok(json!({"success": false, "error": defunct_error(conn)}));
        }
        let outcome = osmosis_connectors::http::Deadline::after(self.deadlines.connect, "connect")
            .scope(self.call_connection(caller, conn, |runner| async move { runner.test().await }))
            .await;
        Ok(match outcome {
            Ok(true) => json!({"success": true}),
            Ok(false) => json!({"success": false, "error": ApiError::new(
                ErrorType::Connection,
                None,
                "the connector's test returned a falsy result",
            )}),
            Err(super::calls::CallError::Call(e)) => {
                json!({"success": false, "error": e.to_error_data()})
            }
            Err(super::calls::CallError::Setup(e)) => json!({"success": false, "error": e}),
        })
    }

    async fn workspace_of(
        &self,
        el: &Element,
    ) -> Result<std::sync::Arc<osmosis_store::Workspace>, ApiError> {
        crate::workspaces::workspace_by_id(self.workspaces, &el.workspace_id).await
    }

    /// The proactive refresh job: refreshes unless the connection is gone, defunct,
    /// or was refreshed later than this job was planned.
    async fn run_refresh_job(&self, job: &Job, id: &str) -> Result<(), String> {
        // A database error is the job's failure (retried later); a connection
        // that is gone needs no refresh.
        let Some(conn) = self
            .elements
            .store
            .element_by_id(&job.workspace_id, id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        if conn.is_archived() || conn.doc_bool("isDefunct") {
            return Ok(());
        }
        let due = conn
            .doc_str("nextCredentialsRefreshAt")
            .and_then(parse_iso_ms)
            .unwrap_or(i64::MAX);
        if due > crate::clock::now_ms() + 1000 {
            return Ok(());
        }
        match self
            .refresh_connection(&conn, conn.doc_str("sealedCredentials"))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.key.as_deref() == Some(osmosis_model::error::keys::REFRESH_UNAVAILABLE) => {
                Err(e.message)
            }
            Err(_) => Ok(()),
        }
    }
}

fn defunct_error(conn: &Element) -> ApiError {
    let mut e = ApiError::new(
        ErrorType::Connection,
        Some("connection_is_defunct"),
        "The connection's credentials were refused; the customer must reconnect",
    );
    e.data = Some(Box::new(json!({"connectionId": conn.id})));
    e
}
