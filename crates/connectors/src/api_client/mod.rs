//! The REST API client built from a connector's `makeApiClient` result, and the
//! refresh-and-retry wrapper for expired tokens.

mod client;
mod config;
mod error;
mod observe;
mod refresh;
mod retry;

pub use client::{
    ApiClient, ApiRequest, ApiResponse, OAuth1Signer, RawRequest, RawResponse, CLASSIFY_LIMIT,
};
pub use config::{ApiClientConfig, BasicAuth, ResponseHandler};
pub use error::{keys, ApiClientError, ResponseSummary, TransportKind};
pub use observe::{mask_header, mask_url, CallObserver, CallRecord};
pub use refresh::{
    call_with_refresh, CredentialsRefresher, RefreshError, Refreshed, TokenExpiry, WithRefreshError,
};
pub use reqwest::Method;
pub use retry::{parse_retry_after, RetryPolicy};
