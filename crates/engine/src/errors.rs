//! The errors every part of the engine produces the same way: a store failure, a
//! missing element, user code that failed. A leaf module: it imports nothing of the
//! engine.

use osmosis_model::error::keys;
use osmosis_model::{ApiError, ElementType};
use osmosis_store::StoreError;

/// Turns a store failure into the API's error; unexpected ones are logged and
/// reported without internals. Every place a store error meets the API goes
/// through here, so an outage or a full disk answers the same everywhere.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Unique(field) => {
            let what = match field {
                osmosis_store::UniqueField::Uuid => "uuid",
                osmosis_store::UniqueField::Key => "key",
                osmosis_store::UniqueField::WorkspaceKey => "workspace key",
                osmosis_store::UniqueField::Id => "id",
            };
            ApiError::already_exists(format!("An element with this {what} already exists"))
                .with_data(serde_json::json!({ "field": what }))
        }
        StoreError::RevisionConflict => ApiError::new(
            osmosis_model::ErrorType::Concurrency,
            Some(keys::STALE_REVISION),
            "The element was changed concurrently; retry with its current revision",
        ),
        // The store's gate logs when the database goes and comes back; one line
        // per refused request would flood the log during an outage.
        StoreError::Unavailable(e) => {
            tracing::debug!(error = %e, "database unavailable");
            ApiError::database_unavailable()
        }
        StoreError::DiskFull(e) => {
            tracing::warn!(error = %e, "a write failed: the database's disk is full");
            ApiError::storage_full()
        }
        other => {
            tracing::error!(error = %other, "store failure");
            ApiError::internal("The database could not complete the request")
        }
    }
}

/// The answer for an element that does not exist or that the caller may not see:
/// the same words either way, so a customer cannot probe what exists.
pub(crate) fn not_found(t: ElementType, selector: &str) -> ApiError {
    ApiError::not_found(format!("No {} matches `{selector}`", t.name()))
}

/// User code that failed in the sandbox (a `run-javascript` action, a
/// customer-specific app data schema): `custom_code` with the sandbox's message,
/// stack and logs as data.
pub fn custom_code_error(e: &osmosis_sandbox::SandboxError) -> ApiError {
    let data = e.to_error_data();
    let message = data
        .get("message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("The code failed")
        .to_owned();
    ApiError::new(osmosis_model::ErrorType::CustomCode, None, message).with_data(data)
}
