//! Auth flows as plain functions plus the HTTP calls they need, no storage: OAuth 2
//! (authorization code with PKCE, refresh, client credentials, revoke), OAuth 1.0a
//! (request token, authorize URL, access token, HMAC-SHA1 signing), token minting for
//! `membrane-token` / `integration-app-token`, and the default credential derivations.

mod credentials;
mod error;
mod form;
pub mod oauth1;
pub mod oauth2;
mod refresher;
pub mod token;

pub use credentials::{
    credentials_from_access_token_response, credentials_from_connection_parameters,
    credentials_from_refresh_token_response, ConnectionCredentials,
};
pub use error::AuthError;
pub use refresher::ConnectorRefresher;
