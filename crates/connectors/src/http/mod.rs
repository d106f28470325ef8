//! Outbound HTTP: the one guarded client every call out of the engine goes through
//! (connector functions, the API proxy, token endpoints, webhooks).
//!
//! The guard refuses cloud metadata, link-local, unspecified, multicast, broadcast
//! and reserved addresses always, and loopback and private ranges unless the
//! operator's allow list (`OSMOSIS_OUTBOUND_ALLOW`) covers them: every URL the
//! engine calls can be steered by a customer (connection inputs, base URIs built
//! from them, webhook URIs), and without the guard a customer could make the server
//! read its cloud credentials or probe the network it runs in. A refusal is an
//! [`AddressRefused`], which becomes the `connection` error
//! [`OUTBOUND_ADDRESS_REFUSED`] (HTTP 400).
//!
//! * [`address`] — what kind of address an IP is.
//! * [`allow_list`] — the operator's allow list and its syntax.
//! * [`guard`] — the decision, from an URL, a name or a resolved address.
//! * `resolver` and [`client`] — where reqwest lets the guard decide.
//! * [`error`] — refusals and request failures.
//! * [`deadline`] — the total time budget of an operation, which bounds every
//!   request made under it.

pub mod address;
pub mod allow_list;
pub mod client;
pub mod deadline;
pub mod error;
pub mod guard;
mod resolver;

pub use allow_list::{AllowList, AllowListError};
pub use client::{OutboundClient, OutboundRequest};
pub use deadline::{Deadline, DeadlineExceeded, DEADLINE_EXCEEDED};
pub use error::{AddressRefused, OutboundError, OUTBOUND_ADDRESS_REFUSED};

/// Sent on every outbound request unless the connector's `makeApiClient` headers set
/// their own `User-Agent`. Some APIs refuse requests without one (GitHub answers 403),
/// and a product name with its version lets an API owner tell who calls them.
pub const USER_AGENT: &str = concat!("Osmosis/", env!("CARGO_PKG_VERSION"));
