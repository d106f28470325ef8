//! Making connections interactively: the OAuth (and form) connect session a customer
//! goes through in a browser, and connection requests an admin hands to a customer
//! as a link. Headless connecting and the connection's lifecycle live with the
//! connection type (`connections`).

pub mod connection_requests;
pub mod oauth_session;
