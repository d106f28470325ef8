//! Connection requests (docs/spec/semantics.md §1.6): an asynchronous connect an agent or a
//! backend starts for a customer, finished later by a human at the request's `url`.
//!
//! Decisions where the docs are silent:
//! * `requestId` is `{workspaceKey}.{256 random bits}` and the `url`
//!   (`{public-url}/screens/connections?connectionRequestId=…`) is a bearer
//!   capability: whoever opens it connects *for that customer*, so it is
//!   unguessable, expires after [`REQUEST_TTL_MS`], and stops working once the
//!   request succeeded.
//! * The page runs the ordinary connect screen with a customer token the server
//!   mints for it (one hour), so every step is the same code as `ui.connect()`.
//! * The request records the outcome: `success` with `resultConnectionId`, or
//!   `error` with `resultError` (a failed attempt can be retried from the page).
//! * An integration nobody can connect through yet (required connector parameters
//!   unset) is refused at creation: `configuration` / `missing_connector_parameters`
//!   naming the parameters to an admin; to a customer token, the customer's
//!   sentence with the parameters and the technical message in `data`.

use osmosis_connectors::auth::token::mint_token;
use osmosis_model::{ApiError, Element, ElementType};
use osmosis_store::ConnectRecord;
use serde_json::{json, Map, Value};

use super::oauth_session::ConnectRequest;
use super::{customer_errors, Connect};
use crate::clock::now_iso;
use crate::clock::now_ms;
use crate::errors::store_error;
use crate::Caller;

pub const REQUEST_TTL_MS: i64 = 24 * 60 * 60 * 1000;
const CONNECTION_REQUEST: &str = "connection-request";

/// Fields of a create request that are copied onto the request as given.
const COPIED: [&str; 13] = [
    "integrationId",
    "integrationKey",
    "connectorId",
    "connectorKey",
    "connectorVersion",
    "connectionId",
    "connectionKey",
    "name",
    "allowMultipleConnections",
    "connectorParameters",
    "redirectUri",
    "prompt",
    "authOptionKey",
];

impl Connect<'_> {
    /// `POST /connection-requests`: checks the integration (and connection) the
    /// request names exist for the customer, then stores it `pending`.
    pub async fn create_connection_request(
        &self,
        caller: &Caller,
        body: &Map<String, Value>,
    ) -> Result<Value, ApiError> {
        let customer_id = match &caller.customer_id {
            Some(c) => c.clone(),
            None => self.calls.named_customer(caller, body).await?,
        };
        let as_customer = Caller {
            workspace: caller.workspace.clone(),
            customer_id: Some(customer_id.clone()),
            include_secrets: false,
        };
        if let Some(prompt) = body.get("prompt") {
            if !prompt.is_string() && !prompt.is_null() {
                return Err(ApiError::invalid_field("prompt", "must be a string"));
            }
        }
        let request = ConnectRequest::from_payload(&Value::Object(body.clone()))?;
        // Resolve now so a request for a missing integration fails at once, and
        // one nobody could finish (required connector parameters unset) too: the
        // developer's `configuration` error, told to a customer in their words.
        let target = self.connect_target(&as_customer, &request).await?;
        if let Some(e) = target.not_set_up() {
            if caller.is_admin() {
                return Err(e);
            }
            return Err(customer_errors::for_customer(
                &e,
                &customer_errors::Audience {
                    workspace: Some(&caller.workspace.name),
                    app: Some(&target.integration.name),
                },
            ));
        }
        let id = format!(
            "{}.{}",
            caller.workspace.key,
            osmosis_connectors::auth::oauth2::random_token(32)
        );
        let mut doc = Map::new();
        for f in COPIED {
            if let Some(v) = body.get(f).filter(|v| !v.is_null()) {
                doc.insert(f.into(), v.clone());
            }
        }
        doc.insert("integrationId".into(), json!(target.integration.id));
        if let Some(k) = &target.integration.key {
            doc.insert("integrationKey".into(), json!(k));
        }
        doc.insert("requestId".into(), json!(id));
        doc.insert("tenantId".into(), json!(customer_id));
        doc.insert("status".into(), json!("pending"));
        doc.insert("createdAt".into(), json!(now_iso()));
        doc.insert(
            "url".into(),
            json!(format!(
                "{}/screens/connections?connectionRequestId={}",
                self.public_url.trim_end_matches('/'),
                id
            )),
        );
        let now = now_ms();
        self.connect_records
            .put_connect_record(&ConnectRecord {
                workspace_id: caller.workspace.id.clone(),
                kind: CONNECTION_REQUEST.into(),
                id: id.clone(),
                customer_id,
                doc: Value::Object(doc.clone()),
                expires_at: now + REQUEST_TTL_MS,
                used_at: None,
                created_at: now,
            })
            .await
            .map_err(store_error)?;
        Ok(Value::Object(doc))
    }

    /// `GET /connection-requests/{id}`: the request as it stands, for its customer
    /// or an admin.
    pub async fn connection_request(&self, caller: &Caller, id: &str) -> Result<Value, ApiError> {
        let record = self.request_record(&caller.workspace.id, id).await?;
        if !caller.is_admin() && caller.customer_id.as_deref() != Some(&record.customer_id) {
            return Err(not_found(id));
        }
        Ok(record.doc)
    }

    async fn request_record(
        &self,
        workspace_id: &str,
        id: &str,
    ) -> Result<ConnectRecord, ApiError> {
        self.connect_records
            .connect_record(workspace_id, CONNECTION_REQUEST, id, now_ms())
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(id))
    }

    /// Opens a request's page: the request (still pending or failed) and a token
    /// for its customer to run the connect screen with.
    pub async fn open_connection_request(&self, id: &str) -> Result<(Value, String), ApiError> {
        let workspace_key = id.split_once('.').map(|(k, _)| k).unwrap_or_default();
        let workspace = self
            .workspaces
            .workspace_by_key(workspace_key)
            .await
            .map_err(store_error)?
            .ok_or_else(|| not_found(id))?;
        let record = self.request_record(&workspace.id, id).await?;
        if record.doc["status"] == "success" {
            return Err(ApiError::bad_request(
                "request_finished",
                "This connection request was already completed",
            ));
        }
        let customer: Element = self
            .elements
            .store
            .element_by_id(&workspace.id, &record.customer_id)
            .await
            .map_err(store_error)?
            .filter(|c| c.element_type == ElementType::Customer && !c.is_archived())
            .ok_or_else(|| not_found(id))?;
        let token = mint_token(
            &workspace.key,
            &workspace.secret,
            customer.key.as_deref().unwrap_or(&customer.id),
            None,
            std::time::Duration::from_secs(3600),
        )
        .map_err(|e| e.to_error_data())?;
        Ok((record.doc, token))
    }

    /// Records how a connect made for a request ended.
    pub async fn settle_connection_request(
        &self,
        caller: &Caller,
        id: &str,
        result: Result<&Element, &ApiError>,
    ) -> Result<(), ApiError> {
        let mut record = self.request_record(&caller.workspace.id, id).await?;
        if caller.customer_id.as_deref() != Some(&record.customer_id) {
            return Err(not_found(id));
        }
        let doc = record.doc.as_object_mut().expect("requests are objects");
        match result {
            Ok(conn) => {
                doc.insert("status".into(), json!("success"));
                doc.insert("resultConnectionId".into(), json!(conn.id));
                doc.remove("resultError");
            }
            Err(e) => {
                doc.insert("status".into(), json!("error"));
                doc.insert(
                    "resultError".into(),
                    serde_json::to_value(e).unwrap_or_default(),
                );
            }
        }
        self.connect_records
            .put_connect_record(&record)
            .await
            .map_err(store_error)
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("No connection request `{id}`"))
}
