//! Making connections interactively: the OAuth (and form) connect session a customer
//! goes through in a browser, and connection requests an admin hands to a customer
//! as a link. Headless connecting and the connection's lifecycle live with the
//! connection type (`connections`).

pub mod connection_requests;
pub mod customer_errors;
pub mod oauth_session;

use osmosis_connectors::http::OutboundClient;
use osmosis_connectors::sealing::CredentialsCipher;
use osmosis_store::{ConnectRecordStore, WorkspaceStore};

use crate::connections::Calls;
use crate::elements::Elements;
use crate::Engine;

/// The connect service: OAuth sessions and connection requests. A borrowed view of
/// the engine's parts ([`Engine::connect`]) whose fields are all it reaches; it
/// makes connections through the element core (whose connection hooks test and
/// seal them) and derives credentials through the calls service's runners.
#[derive(Clone, Copy)]
pub struct Connect<'e> {
    pub(crate) elements: Elements<'e>,
    pub(crate) calls: Calls<'e>,
    /// Sessions, connection requests and published results, until they expire.
    pub(crate) connect_records: &'e dyn ConnectRecordStore,
    pub(crate) workspaces: &'e dyn WorkspaceStore,
    /// Seals the session state carried through the provider.
    pub(crate) cipher: Option<&'e CredentialsCipher>,
    /// Token exchanges with the provider.
    pub(crate) http: &'e OutboundClient,
    /// Where clients reach this server (the OAuth callback).
    pub(crate) public_url: &'e str,
}

impl<'e> Connect<'e> {
    /// Its parts are the calls service's, named for what connecting does with them.
    pub(crate) fn of(engine: &'e Engine) -> Self {
        let calls = Calls::of(engine);
        Connect {
            elements: calls.elements,
            connect_records: calls.connect_records,
            workspaces: calls.workspaces,
            cipher: calls.cipher,
            http: calls.http,
            public_url: calls.public_url,
            calls,
        }
    }
}
