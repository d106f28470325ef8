//! The connector runtime: the engine-side half of Membrane's "Connections".
//!
//! This crate owns running a connector for one connection: reading connector
//! definitions (stored JSON or the Membrane folder layout), executing connector
//! functions of every implementation type, the REST client a connector's
//! `makeApiClient` describes (response classification, retries, token-expiry
//! detection), the OAuth 1.0a / OAuth 2 / token auth flows as plain functions plus
//! HTTP calls, data collection methods, and sealing credentials at rest.
//!
//! It owns no storage and no HTTP routes: callers pass credentials and parameters in
//! and persist what comes out (new credentials after a refresh, sealed bytes).
//!
//! Entry points:
//! * [`definition::Connector`] — parse ([`definition::Connector::from_value`]) or load
//!   ([`definition::Connector::load_dir`]) a connector.
//! * [`function::FunctionRunner`] — run a connector function for one connection.
//! * [`api_client::ApiClient`] and [`api_client::call_with_refresh`].
//! * [`auth`] — OAuth 2, OAuth 1.0a, token minting, default credential derivation.
//! * [`collections`] — data collection methods.
//! * [`sealing::CredentialsCipher`] — AES-256-GCM credentials encryption.
//! * [`catalog::shipped`] — the connectors embedded in the binary.
//! * [`http::OutboundClient`] — the guarded HTTP client every outbound call shares.

pub mod api_client;
pub mod auth;
pub mod catalog;
pub mod collections;
pub mod definition;
pub mod function;
pub mod http;
pub mod redact;
pub mod sealing;
