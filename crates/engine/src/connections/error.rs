//! Why connecting, disconnecting or proxying through a connection failed, and the
//! Membrane error each failure becomes.

use osmosis_connectors::auth::AuthError;
use osmosis_connectors::definition::DefinitionError;
use osmosis_connectors::function::FunctionError;
use osmosis_connectors::sealing::SealingError;
use osmosis_model::error::keys;
use osmosis_model::{ApiError, ErrorType};

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The server was started without a credentials key, so nothing can be sealed.
    #[error("credentials encryption is not configured on this server")]
    NoCipher,
    #[error("the integration has no connector to connect with")]
    NoConnector,
    #[error("the integration's connector no longer exists")]
    ConnectorMissing,
    /// An admin creating a connection must say whose it is.
    #[error("an admin token must name the connection's customer in `userId` or `tenantId`")]
    NoCustomer,
    #[error("the connector's definition is invalid: {0}")]
    Definition(#[from] DefinitionError),
    #[error("the connector has no auth option `{0}`")]
    UnknownAuthOption(String),
    /// OAuth and token auth need a browser or a token exchange: the connect flow.
    #[error(
        "connecting with auth type `{auth_type}` needs the interactive connect flow \
         (`POST /connect`, the SDK's `connect()`) or the credentials themselves in `credentials`; \
         only client-credentials and token connectors connect without them"
    )]
    InteractiveOnly { auth_type: String },
    #[error("`credentials` must be an object")]
    CredentialsNotObject,
    /// Deriving the credentials from the connection input failed.
    #[error("could not derive the credentials: {0}")]
    Credentials(#[source] AuthError),
    /// The connector's `test` ran and failed.
    #[error("the connection test failed: {0}")]
    TestFailed(#[source] FunctionError),
    /// The connector's `test` ran and returned a falsy result.
    #[error("the connection test did not pass: the connector's test returned a falsy result")]
    TestRejected,
    /// Building the API client or calling through it failed before any response.
    #[error("{0}")]
    Function(#[source] FunctionError),
    /// The connection's sealed credentials do not open under its own workspace
    /// and id with any configured key. The message names the connection (a list
    /// fails on one of many) and the reason, never the sealed text.
    #[error(
        "the stored credentials of connection `{connection}` cannot be opened ({source}); \
         reconnect it, or configure the key that sealed them"
    )]
    Unreadable {
        connection: String,
        #[source]
        source: SealingError,
    },
}

impl From<ConnectionError> for ApiError {
    fn from(e: ConnectionError) -> Self {
        let connection = |message: String, base: Option<ApiError>| {
            let mut error = ApiError::new(ErrorType::Connection, None, message);
            if let Some(base) = base {
                if base.error_type == ErrorType::Connection {
                    error.key = base.key;
                }
                error.data = base.data;
            }
            error
        };
        match &e {
            ConnectionError::NoCipher => ApiError::configuration(e.to_string()),
            ConnectionError::NoConnector | ConnectionError::ConnectorMissing => {
                ApiError::invalid_field("integrationId", &e)
            }
            ConnectionError::NoCustomer => ApiError::invalid_field("userId", &e),
            ConnectionError::UnknownAuthOption(_) => ApiError::invalid_field("authOptionKey", &e),
            ConnectionError::CredentialsNotObject => ApiError::invalid_field("credentials", &e),
            ConnectionError::Definition(_) => ApiError::configuration(e.to_string()),
            ConnectionError::InteractiveOnly { .. } => {
                ApiError::bad_request(keys::NOT_SUPPORTED, e.to_string())
            }
            ConnectionError::Credentials(inner) => {
                connection(e.to_string(), Some(inner.to_error_data()))
            }
            ConnectionError::TestFailed(inner) => {
                connection(e.to_string(), Some(inner.to_error_data()))
            }
            ConnectionError::TestRejected => connection(e.to_string(), None),
            ConnectionError::Function(inner) => inner.to_error_data(),
            ConnectionError::Unreadable { .. } => {
                tracing::error!(error = %e, "connection credentials");
                ApiError::new(
                    ErrorType::Internal,
                    Some(keys::CREDENTIALS_UNREADABLE),
                    e.to_string(),
                )
            }
        }
    }
}
