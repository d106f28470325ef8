//! How an outbound call fails: refused by the address guard, or the request itself
//! failing. A refusal names the host and the address, never the URL: its path and
//! query may carry credentials.

use std::net::IpAddr;

use osmosis_model::{ApiError, ErrorType};
use serde_json::json;

use super::address::AddressClass;

/// `connection` error key of a call the address guard refused.
pub const OUTBOUND_ADDRESS_REFUSED: &str = "outbound_address_refused";

/// The setting that opens private networks, named in refusals so the operator
/// knows what to change.
pub const ALLOW_SETTING: &str = "OSMOSIS_OUTBOUND_ALLOW";

/// The address guard refused to call `host`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct AddressRefused {
    /// The host as the URL gave it (a name or an IP literal).
    pub host: String,
    /// The address refused; `None` when the name itself is refused.
    pub address: Option<IpAddr>,
    pub class: AddressClass,
}

impl AddressRefused {
    fn message(&self) -> String {
        let what = match self.address {
            Some(ip) if ip.to_string() != self.host.trim_matches(['[', ']']) => {
                format!("{ip} is {}", self.class)
            }
            Some(_) => format!("it is {}", self.class),
            None => format!("it names {}", self.class),
        };
        let hint = if self.class.allowable() {
            format!("; add it to {ALLOW_SETTING} if this server should reach it")
        } else {
            String::new()
        };
        format!("Outbound request to `{}` refused: {what}{hint}", self.host)
    }

    /// `type: connection`, key [`OUTBOUND_ADDRESS_REFUSED`] (HTTP 400): the URL
    /// comes from a connection's input, its connector or a setting, all of which
    /// the caller can change.
    pub fn to_error_data(&self) -> ApiError {
        ApiError {
            error_type: ErrorType::Connection,
            key: Some(std::borrow::Cow::Borrowed(OUTBOUND_ADDRESS_REFUSED)),
            message: self.to_string(),
            data: Some(Box::new(json!({
                "host": self.host,
                "address": self.address.map(|a| a.to_string()),
                "reason": self.class.code(),
            }))),
        }
    }
}

/// Why an outbound request did not get a response.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Refused(#[from] AddressRefused),
    /// Connecting, sending or a redirect failed for another reason.
    #[error(transparent)]
    Request(reqwest::Error),
    /// The operation's [`super::Deadline`] passed before the response came (or
    /// before the request could start).
    #[error(transparent)]
    DeadlineExceeded(#[from] super::DeadlineExceeded),
}

impl OutboundError {
    /// A refusal found anywhere in the error's causes (the resolver's and the
    /// redirect policy's refusals reach the caller wrapped by reqwest and hyper).
    pub(crate) fn from_reqwest(error: reqwest::Error) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(c) = cause {
            if let Some(refused) = c.downcast_ref::<AddressRefused>() {
                return OutboundError::Refused(refused.clone());
            }
            cause = c.source();
        }
        OutboundError::Request(error)
    }

    /// The same error without the request URL, whose query may hold an API key.
    pub fn without_url(self) -> Self {
        match self {
            OutboundError::Request(e) => OutboundError::Request(e.without_url()),
            other => other,
        }
    }

    /// A request that timed out because the operation's deadline came: the
    /// deadline's error, naming it, rather than a bare timeout.
    pub(crate) fn or_deadline(self) -> Self {
        match self {
            OutboundError::Request(e) if e.is_timeout() => {
                match super::Deadline::current().filter(super::Deadline::passed) {
                    // No URL in it: its path or query may carry a secret.
                    Some(deadline) => OutboundError::DeadlineExceeded(deadline.exceeded(None)),
                    None => OutboundError::Request(e),
                }
            }
            other => other,
        }
    }
}
