//! External API logs: every request made to an external API through a connection,
//! recorded by the connection's API client ([`CallObserver`]) and listed at
//! `GET /external-api-logs`.
//!
//! Storage: a table of its own (`external_api_logs`, migration 0005) rather than
//! elements — logs are append-only, written at the rate of outbound calls and never
//! revised, layered or looked up by key. The list reads the summary columns; the
//! masked request and response are a JSON `details` column read by `GET /{id}`.
//!
//! Capture is off the request path: the observer only builds the row and `try_send`s
//! it to a bounded queue ([`QUEUE_CAPACITY`]); one background task per engine drains
//! it in batches of up to [`BATCH`] rows, one INSERT per batch. **When the queue is
//! full the log is dropped** (counted, with a warning at each power of two): an
//! external call is never slowed down or failed for its log. Logs still queued when
//! the process exits are lost.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

use osmosis_connectors::api_client::{CallObserver, CallRecord};
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::{ApiLogStore, ExternalApiLog, ExternalApiLogQuery};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use super::Calls;
use crate::errors::store_error;
use crate::log_pages::{bool_param, LogPageParams};
use crate::refs::Ref;
use crate::Caller;

/// Logs waiting to be written before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 10_000;
/// Rows per INSERT (13 parameters each: within SQLite's and PostgreSQL's limits).
pub const BATCH: usize = 1_000;
/// How long the writer waits for more logs before writing a partial batch.
pub const GATHER: std::time::Duration = std::time::Duration::from_millis(50);
/// Largest request or response body kept in a log's details (serialized JSON); a
/// larger one is cut and marked.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The queue and its writer task (started on first use, inside the runtime).
pub(crate) struct ApiLogWriter {
    store: Arc<dyn ApiLogStore>,
    tx: OnceLock<Option<mpsc::Sender<ExternalApiLog>>>,
    dropped: AtomicU64,
}

impl ApiLogWriter {
    pub(crate) fn new(store: Arc<dyn ApiLogStore>) -> Self {
        Self {
            store,
            tx: OnceLock::new(),
            dropped: AtomicU64::new(0),
        }
    }

    fn sender(&self) -> Option<&mpsc::Sender<ExternalApiLog>> {
        self.tx
            .get_or_init(|| {
                let runtime = tokio::runtime::Handle::try_current().ok()?;
                let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
                runtime.spawn(write_loop(Arc::clone(&self.store), rx));
                Some(tx)
            })
            .as_ref()
    }

    /// Queues a log; never waits (see the module doc for what happens when full).
    pub(crate) fn send(&self, log: ExternalApiLog) {
        let Some(tx) = self.sender() else {
            return;
        };
        if tx.try_send(log).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n,
                    "external API log queue full: logs are being dropped"
                );
            }
        }
    }

    /// Logs dropped because the queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_loop(store: Arc<dyn ApiLogStore>, mut rx: mpsc::Receiver<ExternalApiLog>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Group commit: a moment for more logs to arrive, so a busy proxy writes
        // hundreds per transaction (one fsync) instead of a few.
        if batch.len() < BATCH {
            tokio::time::sleep(GATHER).await;
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(log) => batch.push(log),
                    Err(_) => break,
                }
            }
        }
        if let Err(e) = store.insert_api_logs(&batch).await {
            tracing::warn!(error = %e, count = batch.len(), "cannot write external API logs");
        }
        batch.clear();
    }
}

/// The observer one connection's API client reports to.
pub(crate) struct ConnectionObserver {
    writer: Arc<ApiLogWriter>,
    /// The connector's key, for the outbound call metrics.
    connector: String,
    workspace_id: String,
    customer_id: String,
    integration_id: String,
    connection_id: String,
}

impl ConnectionObserver {
    pub(crate) fn new(writer: &Arc<ApiLogWriter>, conn: &Element, connector: &str) -> Self {
        Self {
            writer: Arc::clone(writer),
            connector: connector.to_owned(),
            workspace_id: conn.workspace_id.clone(),
            customer_id: conn.customer_id.clone().unwrap_or_default(),
            integration_id: conn.integration_id.clone().unwrap_or_default(),
            connection_id: conn.id.clone(),
        }
    }
}

/// A body as kept in the details: as is, or cut to [`BODY_LIMIT`] and marked.
fn kept_body(body: Option<Value>) -> Value {
    let Some(body) = body else {
        return Value::Null;
    };
    let text = body.to_string();
    if text.len() <= BODY_LIMIT {
        return body;
    }
    json!({"truncated": true, "size": text.len(), "start": head(&text, BODY_LIMIT)})
}

/// The longest start of `text` within `limit` bytes that ends on a character
/// boundary (what a truncated body keeps, here and in a run's trace).
pub(crate) fn head(text: &str, limit: usize) -> &str {
    let mut cut = limit.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

impl CallObserver for ConnectionObserver {
    fn record(&self, r: CallRecord) {
        // The URL as the log stores it: secret-looking query values and the
        // connection's known secrets masked by the API client.
        tracing::debug!(
            method = %r.method,
            url = %r.url,
            status = r.status,
            duration_ms = r.duration.as_millis() as u64,
            success = r.is_success,
            connection = %self.connection_id,
            "outbound call"
        );
        crate::metrics::record_outbound(&self.connector, r.status);
        let created_ms = r
            .started_at
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let created_at = chrono::DateTime::<chrono::Utc>::from(r.started_at)
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let headers: Map<String, Value> = r
            .request_headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), Value::String(v)))
            .collect();
        let streamed = r.status.is_some() && r.response_body.is_none();
        let mut response = json!({
            "status": r.status,
            "headers": r.response_headers,
            "body": kept_body(r.response_body),
        });
        if streamed {
            response["streamed"] = json!(true);
        }
        let details = json!({
            "request": {
                "method": r.method,
                "url": r.url,
                "headers": headers,
                "body": kept_body(r.request_body),
            },
            "response": response,
            "error": r.error,
        });
        let id = osmosis_model::ids::object_id();
        super::call_trace::Trace::record(|| {
            let mut entry = super::call_trace::capped(&details);
            entry["externalApiLogId"] = json!(id);
            entry["duration"] = json!(r.duration.as_millis() as i64);
            entry
        });
        self.writer.send(ExternalApiLog {
            seq: 0,
            id,
            workspace_id: self.workspace_id.clone(),
            customer_id: self.customer_id.clone(),
            integration_id: self.integration_id.clone(),
            connection_id: self.connection_id.clone(),
            status_code: r.status.map(i64::from).unwrap_or(0),
            is_success: r.is_success,
            request_url: r.url,
            duration_ms: r.duration.as_millis() as i64,
            created_ms,
            created_at,
            details,
        });
    }
}

/// `ListExternalApiLogsQuery` as given (strings), validated by
/// [`Calls::list_api_logs`]. Unknown parameters are ignored, as list queries do.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiLogFilter {
    /// The customer, by id or key (`userId` and `customerId` are older names).
    #[serde(alias = "userId", alias = "customerId")]
    pub tenant_id: Option<String>,
    pub integration_id: Option<String>,
    pub connection_id: Option<String>,
    pub is_success: Option<String>,
    #[serde(flatten)]
    pub page: LogPageParams,
}

impl Calls<'_> {
    /// `GET /external-api-logs`: an admin sees every log of the workspace, a
    /// customer only its own connections' logs.
    pub async fn list_api_logs(
        &self,
        caller: &Caller,
        filter: &ApiLogFilter,
    ) -> Result<Value, ApiError> {
        let page = filter.page.check()?;
        let Some(customer_id) = self
            .log_customer(caller, filter.tenant_id.as_deref())
            .await?
        else {
            return Ok(json!({"items": []}));
        };
        let q = ExternalApiLogQuery {
            workspace_id: caller.workspace_id().to_owned(),
            customer_id,
            integration_id: match &filter.integration_id {
                Some(i) => Some(self.integration_id_of(caller, i).await),
                None => None,
            },
            connection_id: filter.connection_id.clone(),
            is_success: bool_param("isSuccess", filter.is_success.as_deref())?,
            from_ms: page.from_ms,
            to_ms: page.to_ms,
            descending: page.descending,
            cursor: page.cursor,
            limit: page.limit,
        };
        let logs = self
            .api_log_store
            .find_api_logs(&q)
            .await
            .map_err(store_error)?;
        let items: Vec<Value> = logs.iter().map(|l| self.render_api_log(l)).collect();
        Ok(page.answer(items, logs.last().map(|l| l.seq)))
    }

    /// `GET /external-api-logs/{id}`: the log with its masked request and response.
    pub async fn api_log(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let log = self
            .api_log_store
            .api_log_by_id(caller.workspace_id(), id)
            .await
            .map_err(store_error)?
            .filter(|l| {
                caller
                    .customer_id
                    .as_ref()
                    .is_none_or(|me| *me == l.customer_id)
            })
            .ok_or_else(|| ApiError::not_found(format!("No external API log matches `{id}`")))?;
        let mut v = self.render_api_log(&log);
        if let (Value::Object(m), Value::Object(details)) = (&mut v, &log.details) {
            for (k, d) in details {
                m.insert(k.clone(), d.clone());
            }
        }
        Ok(v)
    }

    /// Logs dropped because the write queue was full (for metrics and tests).
    pub fn dropped_api_logs(&self) -> u64 {
        self.api_logs.dropped()
    }

    fn render_api_log(&self, l: &ExternalApiLog) -> Value {
        json!({
            "id": l.id,
            "workspaceId": l.workspace_id,
            "customerId": l.customer_id,
            "integrationId": l.integration_id,
            "connectionId": l.connection_id,
            "statusCode": l.status_code,
            "isSuccess": l.is_success,
            "s3Uri": format!("{}/external-api-logs/{}", self.public_url.trim_end_matches('/'), l.id),
            "createdAt": l.created_at,
            "requestUrl": l.request_url,
            "duration": l.duration_ms,
        })
    }

    /// The customer filter of a log list: the calling customer (a customer naming
    /// another gets `None`: an empty list, revealing nothing), or the one an admin
    /// names in `tenantId` (by id or key), or every customer (`Some(None)`).
    pub(crate) async fn log_customer(
        &self,
        caller: &Caller,
        named: Option<&str>,
    ) -> Result<Option<Option<String>>, ApiError> {
        let named = match named {
            None => None,
            Some(t) => Some(self.customer_id_of(caller, t).await?),
        };
        Ok(match (&caller.customer_id, named) {
            (Some(me), Some(named)) if *me != named => None,
            (Some(me), _) => Some(Some(me.clone())),
            (None, named) => Some(named),
        })
    }

    /// An integration's id from its id or key (as given when neither matches, so
    /// the filter simply matches nothing).
    pub(crate) async fn integration_id_of(&self, caller: &Caller, named: &str) -> String {
        for r in [Ref::Id(named.to_owned()), Ref::Key(named.to_owned())] {
            if let Ok(i) = self
                .elements
                .resolve_ref(caller, ElementType::Integration, &r, "integrationId")
                .await
            {
                return i.id;
            }
        }
        named.to_owned()
    }

    /// A customer's id from its id or key, as an admin names it in `tenantId`.
    async fn customer_id_of(&self, caller: &Caller, named: &str) -> Result<String, ApiError> {
        if caller.customer_id.as_deref() == Some(named) {
            return Ok(named.to_owned());
        }
        let admin = Caller::admin(caller.workspace.clone());
        match self
            .elements
            .resolve_ref(
                &admin,
                ElementType::Customer,
                &Ref::Id(named.to_owned()),
                "tenantId",
            )
            .await
        {
            Ok(c) => Ok(c.id),
            Err(_) => Ok(self
                .elements
                .resolve_ref(
                    &admin,
                    ElementType::Customer,
                    &Ref::Key(named.to_owned()),
                    "tenantId",
                )
                .await
                .map(|c| c.id)
                .unwrap_or_else(|_| named.to_owned())),
        }
    }
}
