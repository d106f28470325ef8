//! The one HTTP client every outbound call goes through: connector functions, token
//! endpoints, webhooks. One client means one connection pool and one set of defaults.

use std::time::Duration;

/// Sent on every outbound request unless the connector's `makeApiClient` headers set
/// their own `User-Agent`. Some APIs refuse requests without one (GitHub answers 403),
/// and a product name with its version lets an API owner tell who calls them.
pub const USER_AGENT: &str = concat!("Osmosis/", env!("CARGO_PKG_VERSION"));

/// Builds the outbound client. Connecting is bounded so an unreachable host fails in
/// seconds; a whole call is bounded by the caller's retry policy, not here, because
/// some reads (exports, long lists) legitimately take minutes.
pub fn outbound_client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("the outbound HTTP client's settings are static and valid")
}
