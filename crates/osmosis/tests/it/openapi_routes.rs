//! Every route the API serves is in /openapi.json, so schemathesis, which fuzzes
//! what the document lists (tests/schemathesis/run.sh), fuzzes every JSON route.
//! (The other direction, every documented operation is routed, is
//! `the_openapi_document_describes_every_route_that_exists` in seeds.rs.)
//!
//! The paths come from `osmosis_api::routes::paths()`, recorded by the very calls that
//! register them, generated ones included; the methods of each from the router itself:
//! a `TRACE`, which no method-routed route takes, is answered 405 with an `Allow`
//! header listing the methods the path does take (a route that answers it takes any
//! method, and must document all of the API's). Parsing the route sources instead would
//! miss the routes generated from the element registry, and a hand-kept list would go
//! stale the way the document can.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;

/// Routes deliberately left out of the document, and so out of the JSON fuzz.
const NOT_DOCUMENTED: [&str; 10] = [
    // The connect flow's browser side: HTML pages and form posts (the SDK opens
    // them in a popup or iframe), answered with HTML, redirects or postMessage scripts.
    "/connect",
    "/connection-popup",
    "/oauth-callback",
    "/screens/connect",
    "/screens/connection",
    "/screens/connections",
    "/screens/integrations/{}/connect",
    // Server-sent events: a stream that stays open, not a JSON answer.
    "/sse/connection-events/{}",
    "/sse/workspace",
    // The Penpal script those pages load: JavaScript.
    "/static/penpal.min.js",
];

/// The methods a route taking any method must document: those of the API.
const ANY_METHOD: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A path with every parameter written `{}`: the router and the document name them
/// differently (`{connection}`, `{selector}`).
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn every_routed_operation_is_in_the_openapi_document() {
    let s = Server::start().await;
    let (status, doc) = s.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let mut documented: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        documented
            .entry(shape(path))
            .or_default()
            .extend(item.as_object().expect("a path item").keys().cloned());
    }

    let routed = osmosis_api::routes::paths();
    assert!(
        routed.len() > 100,
        "the element registry's routes are listed"
    );
    // An exclusion for a route that no longer exists would hide a new route
    // registered under its old path later.
    let shapes: BTreeSet<String> = routed.iter().map(|p| shape(p)).collect();
    let stale: Vec<&str> = NOT_DOCUMENTED
        .into_iter()
        .filter(|p| !shapes.contains(*p))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_DOCUMENTED lists paths the router does not serve: {stale:?}"
    );
    let mut missing = Vec::new();
    for path in &routed {
        let shape = shape(path);
        if NOT_DOCUMENTED.contains(&shape.as_str()) {
            continue;
        }
        let concrete = shape.replace("{}", "x");
        let resp = s
            .http
            .request(reqwest::Method::TRACE, format!("{}{concrete}", s.url))
            .send()
            .await
            .expect("answered");
        let methods: Vec<String> = if resp.status() == 405 {
            let allow = resp
                .headers()
                .get("allow")
                .expect("a 405 says what is allowed");
            allow
                .to_str()
                .expect("ASCII")
                .split(',')
                .map(|m| m.trim().to_ascii_lowercase())
                .collect()
        } else {
            // Answered, so not method-routed: the route takes any method (the proxy).
            ANY_METHOD.iter().map(|m| m.to_string()).collect()
        };
        for method in methods {
            if method == "head" || method == "options" {
                continue; // axum's HEAD for every GET; CORS preflights
            }
            if !documented.get(&shape).is_some_and(|m| m.contains(&method)) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routed but not in /openapi.json (document them in crates/api/src/openapi.rs, or list them in NOT_DOCUMENTED with the reason): {missing:#?}"
    );
    s.finish().await;
}
