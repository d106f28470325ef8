//! The outbound address guard, end to end through reqwest: IP-literal hosts,
//! names resolved to private addresses, redirect hops, and a connector call whose
//! base URI a connection input points at a refused address.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use osmosis_connectors::definition::Connector;
use osmosis_connectors::function::FunctionRunner;
use osmosis_connectors::http::address::AddressClass;
use osmosis_connectors::http::{
    AddressRefused, AllowList, OutboundClient, OutboundError, OUTBOUND_ADDRESS_REFUSED,
};
use serde_json::json;

use crate::mock;

/// A mock answering `/ok`, and redirecting `/to?url=…` there; it counts requests.
async fn mock_api() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = |hits: &Arc<AtomicUsize>| {
        let hits = Arc::clone(hits);
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (ok_hit, to_hit) = (counted(&hits), counted(&hits));
    let app = Router::new()
        .route(
            "/ok",
            get(move || async move {
                ok_hit();
                "fine"
            }),
        )
        .route(
            "/to",
            get(
                move |axum::extract::Query(q): axum::extract::Query<Vec<(String, String)>>| async move {
                    to_hit();
                    Redirect::temporary(&q[0].1)
                },
            ),
        );
    (mock::serve(app).await, hits)
}

fn refusal(result: Result<reqwest::Response, OutboundError>) -> AddressRefused {
    match result {
        Err(OutboundError::Refused(refused)) => refused,
        Err(e) => panic!("expected a refusal, got {e:?}"),
        Ok(r) => panic!("expected a refusal, got HTTP {}", r.status()),
    }
}

#[tokio::test]
async fn metadata_address_is_refused_even_with_everything_private_allowed() {
    let open = OutboundClient::new("0.0.0.0/0,::/0".parse().unwrap());
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ] {
        let refused = refusal(open.get(url).send().await);
        assert_eq!(refused.class, AddressClass::CloudMetadata, "{url}");
        let error = refused.to_error_data();
        assert_eq!(error.key.as_deref(), Some(OUTBOUND_ADDRESS_REFUSED));
        assert_eq!(error.http_status(), 400);
        assert!(
            !error.message.contains("security-credentials"),
            "{}",
            error.message
        );
    }
}

#[tokio::test]
async fn private_address_is_refused_by_default_and_reached_when_allowed() {
    let (base, hits) = mock_api().await;
    let url = format!("{base}/ok?api_key=sk-secret");

    let refused = refusal(OutboundClient::default().get(&url).send().await);
    assert_eq!(refused.class, AddressClass::Loopback);
    assert_eq!(refused.host, "127.0.0.1");
    assert!(refused.to_string().contains("OSMOSIS_OUTBOUND_ALLOW"));
    assert!(!refused.to_string().contains("sk-secret"), "{refused}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was sent");

    let allowed = OutboundClient::new("127.0.0.1/32".parse().unwrap());
    let response = allowed.get(&url).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "fine");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_at_resolution() {
    let (base, hits) = mock_api().await;
    let port = base.rsplit(':').next().unwrap();
    let by_name = format!("http://localhost:{port}/ok");

    let refused = refusal(OutboundClient::default().get(&by_name).send().await);
    assert_eq!(refused.host, "localhost");
    assert_eq!(refused.class, AddressClass::Loopback);
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    // A host-name entry opens that name's addresses.
    let allowed = OutboundClient::new("localhost".parse().unwrap());
    assert_eq!(allowed.get(&by_name).send().await.unwrap().status(), 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let (base, hits) = mock_api().await;
    let client = OutboundClient::new(AllowList::loopback());
    let to = |target: &str| format!("{base}/to?url={}", urlencode(target));

    // A hop to a public API's own path is followed.
    let followed = client.get(to(&format!("{base}/ok"))).send().await.unwrap();
    assert_eq!(followed.text().await.unwrap(), "fine");
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Hops to metadata and to a private network the allow list does not cover are
    // refused at the hop, before anything is sent there.
    for (target, class) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            AddressClass::CloudMetadata,
        ),
        ("http://10.255.255.1/internal", AddressClass::Private),
        (
            "http://metadata.google.internal/",
            AddressClass::CloudMetadata,
        ),
    ] {
        let refused = refusal(client.get(to(target)).send().await);
        assert_eq!(refused.class, class, "{target}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        5,
        "only the redirecting requests"
    );
}

#[tokio::test]
async fn a_connector_call_to_a_refused_base_uri_is_a_clear_connection_error() {
    let connector = Connector::from_value(&json!({
        "key": "internal",
        "type": "client-credentials",
        "makeApiClient": {"type": "mapping", "mapping": {
            "baseUri": {"$var": "$.credentials.baseUri"}
        }},
        "test": {"type": "rest-api-mapping", "mapping": {"path": "/me", "method": "GET"}}
    }))
    .unwrap();
    let runner = FunctionRunner::new(Arc::new(connector), OutboundClient::default())
        .with_credentials(json!({"baseUri": "http://169.254.169.254/latest"}));
    let started = std::time::Instant::now();
    let error = runner.test().await.unwrap_err();
    let data = error.to_error_data();
    assert_eq!(data.error_type, osmosis_model::ErrorType::Connection);
    assert_eq!(data.key.as_deref(), Some(OUTBOUND_ADDRESS_REFUSED));
    assert_eq!(data.data.as_ref().unwrap()["reason"], "cloud_metadata");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "a refusal is not retried"
    );
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
