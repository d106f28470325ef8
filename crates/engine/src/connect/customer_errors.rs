//! What the end customer is told when connecting fails.
//!
//! The person on a connect screen is the developer's customer: they cannot fix an
//! OAuth app's missing client id and should not read `OAuth config: clientId is
//! missing`. Every failure they can meet gets a short sentence saying what they can
//! do (try again, check what they typed, or contact the workspace — the
//! developer's product); the technical message stays with the developer: in the
//! server log, and in the error's `data.detail` where an SDK or API client gets it.
//!
//! * [`customer_message`] — the sentence for an error.
//! * [`for_customer`] — the error as a customer's API response carries it: same
//!   `type` and `key`, the sentence as `message`, the technical message in
//!   `data.detail` (with the original `data` fields beside it).
//! * [`not_set_up`] — the `configuration` error of an integration whose required
//!   connector parameters are not set ([`MISSING_PARAMETERS`]).
//!
//! Messages never carry a secret: they are fixed sentences filled with the
//! integration's and the workspace's names.

use osmosis_connectors::http::{DEADLINE_EXCEEDED, OUTBOUND_ADDRESS_REFUSED};
use osmosis_model::error::keys;
use osmosis_model::{ApiError, Element, ErrorType};
use serde_json::{json, Map, Value};

/// `configuration` key: the integration's required connector parameters (an
/// OAuth app's `clientId`, …) are not set, so nobody can connect through it yet.
pub const MISSING_PARAMETERS: &str = "missing_connector_parameters";

/// `configuration` key: the connector's `getOAuthConfig` produced a config that
/// cannot start an OAuth flow (no `clientId`, no `authorizeUri`, …).
pub const INVALID_OAUTH_CONFIG: &str = "invalid_oauth_config";

/// Who the customer can turn to, and what they were connecting.
#[derive(Debug, Clone, Copy, Default)]
pub struct Audience<'a> {
    /// The workspace's name: the developer's product, which the customer knows.
    pub workspace: Option<&'a str>,
    /// The integration's name (`HubSpot`).
    pub app: Option<&'a str>,
}

impl Audience<'_> {
    fn contact(&self) -> String {
        match self.workspace.filter(|w| !w.trim().is_empty()) {
            Some(w) => w.to_owned(),
            None => "the app that sent you here".to_owned(),
        }
    }

    fn app(&self) -> String {
        self.app
            .filter(|a| !a.trim().is_empty())
            .unwrap_or("The app")
            .to_owned()
    }
}

/// The sentence shown to the customer for `e`.
pub fn customer_message(e: &ApiError, to: &Audience) -> String {
    let contact = to.contact();
    let app = to.app();
    let key = e.key.as_deref();
    match e.error_type {
        ErrorType::Configuration
            if matches!(key, Some(MISSING_PARAMETERS | INVALID_OAUTH_CONFIG)) =>
        {
            format!("This integration is not set up yet — contact {contact}.")
        }
        ErrorType::Configuration | ErrorType::CustomCode | ErrorType::DependencyError => {
            format!("This integration is not set up correctly — contact {contact}.")
        }
        ErrorType::Connection => match key {
            Some(DEADLINE_EXCEEDED) => {
                format!("{app} did not answer in time. Try again in a moment.")
            }
            Some(keys::RATE_LIMIT_EXCEEDED) => {
                format!("{app} is busy right now. Try again in a moment.")
            }
            Some("oauth_denied") => format!(
                "Access was not granted in {app}, so nothing was connected. You can try again."
            ),
            Some(OUTBOUND_ADDRESS_REFUSED) => format!(
                "{app} cannot be reached at that address. Check what you entered, or contact {contact}."
            ),
            Some(keys::REFRESH_UNAVAILABLE) => {
                format!("{app} could not be reached. Try again in a moment.")
            }
            Some("access_token_expired" | "connection_is_defunct") => {
                format!("{app} did not accept these credentials. Check them and try again.")
            }
            _ => match upstream_status(e) {
                Some(400..=499) => {
                    format!("{app} did not accept these credentials. Check them and try again.")
                }
                Some(500..) => format!("{app} had a problem answering. Try again in a moment."),
                _ if e.message.contains("test did not pass") => {
                    format!("{app} did not accept these credentials. Check them and try again.")
                }
                _ => format!(
                    "Could not reach {app}. Try again in a moment, or contact {contact} if it keeps happening."
                ),
            },
        },
        ErrorType::BadRequest => match key {
            Some("invalid_state") => {
                "This connect link is invalid, expired or already used. Start connecting again."
                    .to_owned()
            }
            Some("request_finished") => "This connection request was already completed.".to_owned(),
            Some(keys::NOT_AUTHENTICATED) => {
                "This connect link has expired. Go back and start connecting again.".to_owned()
            }
            Some(keys::NOT_FOUND) => format!(
                "This connect link is not valid. Go back and start connecting again, or contact {contact}."
            ),
            Some(keys::ACCESS_DENIED) => {
                format!("This link cannot be used to connect — contact {contact}.")
            }
            Some(keys::RATE_LIMIT_EXCEEDED) => {
                "Too many attempts. Wait a moment and try again.".to_owned()
            }
            Some(keys::INVALID_FIELD) if customer_field(e) => {
                "Check what you entered and try again.".to_owned()
            }
            Some(keys::INVALID_FIELD | keys::INVALID_QUERY | keys::INVALID_BODY) => {
                format!("This connect link is not set up correctly — contact {contact}.")
            }
            _ => format!("Could not connect. Start connecting again, or contact {contact}."),
        },
        ErrorType::Internal => {
            "Something went wrong on our side. Try again in a moment.".to_owned()
        }
        _ => format!("Could not connect. Try again, or contact {contact}."),
    }
}

/// `e` as a customer's response carries it: its `type` and `key`, the customer's
/// sentence as `message`, and the technical message in `data.detail` beside the
/// original `data` fields, for the developer.
pub fn for_customer(e: &ApiError, to: &Audience) -> ApiError {
    let mut data = match e.data.as_deref() {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            let mut m = Map::new();
            m.insert("data".into(), other.clone());
            m
        }
        None => Map::new(),
    };
    data.insert("detail".into(), json!(e.message));
    ApiError {
        error_type: e.error_type,
        key: e.key.clone(),
        message: customer_message(e, to),
        data: Some(Box::new(Value::Object(data))),
    }
}

/// The developer's `configuration` error for an integration nobody can connect
/// through yet: it names the parameters to set and where.
pub fn not_set_up(integration: &Element, missing: &[String]) -> ApiError {
    let names = missing
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    ApiError::new(
        ErrorType::Configuration,
        Some(MISSING_PARAMETERS),
        format!(
            "The integration `{}` cannot be connected yet: its connector parameters {names} are not set \
             (PATCH /integrations/{}/parameters)",
            integration.key.as_deref().unwrap_or(&integration.name),
            integration.id
        ),
    )
    .with_data(json!({
        "integrationId": integration.id,
        "integrationKey": integration.key,
        "missingParameters": missing,
    }))
}

/// The status of the external API's answer behind a `connection` error.
fn upstream_status(e: &ApiError) -> Option<u64> {
    e.data.as_deref()?.get("response")?.get("status")?.as_u64()
}

/// Whether an `invalid_field` error is about what the customer typed.
fn customer_field(e: &ApiError) -> bool {
    e.data
        .as_deref()
        .and_then(|d| d.get("field"))
        .and_then(Value::as_str)
        .is_some_and(|f| f == "input" || f.starts_with("input."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hubspot() -> Element {
        let mut el = Element::new("ws", osmosis_model::ElementType::Integration, "now");
        el.id = "int-1".into();
        el.key = Some("hubspot".into());
        el.name = "HubSpot".into();
        el
    }

    const TO: Audience = Audience {
        workspace: Some("Acme CRM"),
        app: Some("HubSpot"),
    };

    #[test]
    fn a_missing_parameter_tells_the_developer_what_and_the_customer_whom_to_contact() {
        let e = not_set_up(&hubspot(), &["clientId".into(), "clientSecret".into()]);
        assert_eq!(e.error_type, ErrorType::Configuration);
        assert_eq!(e.key.as_deref(), Some(MISSING_PARAMETERS));
        assert!(
            e.message.contains("`clientId`, `clientSecret`"),
            "{}",
            e.message
        );
        let shown = for_customer(&e, &TO);
        assert_eq!(
            shown.message,
            "This integration is not set up yet — contact Acme CRM."
        );
        let data = shown.data.as_deref().unwrap();
        assert_eq!(data["detail"], json!(e.message));
        assert_eq!(
            data["missingParameters"],
            json!(["clientId", "clientSecret"])
        );
        assert_eq!(shown.key, e.key);
    }

    #[test]
    fn connection_failures_say_what_the_customer_can_do() {
        let test_failed = ApiError::new(
            ErrorType::Connection,
            None,
            "the connection test failed: 401",
        )
        .with_data(json!({"response": {"status": 401, "data": {}}}));
        assert_eq!(
            customer_message(&test_failed, &TO),
            "HubSpot did not accept these credentials. Check them and try again."
        );
        let slow = ApiError::new(
            ErrorType::Connection,
            Some(DEADLINE_EXCEEDED),
            "No answer …",
        );
        assert!(customer_message(&slow, &TO).contains("did not answer in time"));
        let denied = ApiError::new(ErrorType::Connection, Some("oauth_denied"), "access_denied");
        assert!(customer_message(&denied, &TO).starts_with("Access was not granted in HubSpot"));
        let unknown = ApiError::internal("database said no");
        assert!(!customer_message(&unknown, &Audience::default()).contains("database"));
        assert!(customer_message(
            &ApiError::configuration("OAuth config: `clientId` is missing"),
            &Audience::default()
        )
        .contains("contact the app that sent you here"));
    }
}
