//! Connector conformance: each shipped connector against a mock of its API that
//! enforces what the real API enforces — where the credential goes, the headers it
//! requires, how bodies are encoded, which parameter carries the page cursor, the
//! scopes each call needs, the validation a create goes through — so a connector the
//! real app would refuse is refused here, in CI, rather than by a customer's app.
//!
//! `tests/catalog.rs` pins the exact requests each connector sends; this test pins
//! the rules those requests must satisfy, which is what still holds when a connector
//! is rewritten. Each rule in the mocks cites the vendor's reference.

mod mock;

mod conformance {
    pub mod airtable;
    pub mod github;
    pub mod google_sheets;
    pub mod graphql;
    pub mod hubspot;
    pub mod intercom;
    pub mod jira;
    pub mod linear;
    pub mod notion;
    pub mod runner;
    pub mod salesforce;
    pub mod slack;
    pub mod stripe;
    pub mod wire;
    pub mod zendesk;
}

use conformance::runner::check_shipped;
use conformance::*;

#[tokio::test]
async fn airtable() {
    check_shipped(&airtable::spec()).await.assert_clean();
}

#[tokio::test]
async fn github() {
    check_shipped(&github::spec()).await.assert_clean();
}

#[tokio::test]
async fn google_sheets() {
    check_shipped(&google_sheets::spec()).await.assert_clean();
}

#[tokio::test]
async fn hubspot() {
    check_shipped(&hubspot::spec()).await.assert_clean();
}

#[tokio::test]
async fn intercom() {
    check_shipped(&intercom::spec()).await.assert_clean();
}

#[tokio::test]
async fn jira() {
    check_shipped(&jira::spec()).await.assert_clean();
}

#[tokio::test]
async fn linear() {
    check_shipped(&linear::spec()).await.assert_clean();
}

#[tokio::test]
async fn notion() {
    check_shipped(&notion::spec()).await.assert_clean();
}

#[tokio::test]
async fn salesforce() {
    check_shipped(&salesforce::spec()).await.assert_clean();
}

#[tokio::test]
async fn slack() {
    check_shipped(&slack::spec()).await.assert_clean();
}

#[tokio::test]
async fn stripe() {
    check_shipped(&stripe::spec()).await.assert_clean();
}

#[tokio::test]
async fn zendesk() {
    check_shipped(&zendesk::spec()).await.assert_clean();
}
