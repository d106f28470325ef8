//! Who may call: token verification, customers on first sight, admin vs customer.

use base64::Engine as _;
use serde_json::json;

use crate::common::*;

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn every_bad_token_is_not_authenticated() {
    let s = Server::start().await;
    let claims = json!({"iss": WS_KEY, "isAdmin": true, "exp": now() + 3600});
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims)
    );
    let cases = vec![
        ("no header", None),
        ("not a jwt", Some("hello".to_string())),
        ("alg none", Some(unsigned)),
        (
            "HS384",
            Some(token(
                claims.clone(),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS384,
            )),
        ),
        (
            "wrong secret",
            Some(token(
                claims.clone(),
                "other-secret",
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "expired",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "exp": now() - 600}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "negative exp",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "exp": -1}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "fractional negative exp",
            Some(token(
                json!({"iss": WS_KEY, "id": "c", "exp": -0.5}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "exp as a string",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "exp": (now() + 3600).to_string()}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "exp as an object",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "exp": {"at": now() + 3600}}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "nbf ahead",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "exp": now() + 3600, "nbf": now() + 600}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "nbf as a string",
            Some(token(
                json!({"iss": WS_KEY, "isAdmin": true, "nbf": "0"}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "unknown workspace",
            Some(token(
                json!({"iss": "nope", "isAdmin": true}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "no issuer",
            Some(token(
                json!({"isAdmin": true}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
        (
            "neither customer nor admin",
            Some(token(
                json!({"iss": WS_KEY}),
                WS_SECRET,
                jsonwebtoken::Algorithm::HS256,
            )),
        ),
    ];
    for (what, tok) in cases {
        // Twice: the second request may be answered from the verified-token memory.
        for _ in 0..2 {
            let r = s.call("GET", "/integrations", tok.as_deref(), None).await;
            assert_eq!(r.0, 401, "{what}: {}", r.1);
            assert_error(&r, 401, "bad_request", "not_authenticated");
        }
    }
    // A past `nbf` is fine.
    let t = token(
        json!({"iss": WS_KEY, "isAdmin": true, "exp": now() + 60, "nbf": now() - 60}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    assert_eq!(s.get("/integrations", &t).await.0, 200);
    // A tampered payload keeps the old signature: refused too.
    let good = s.admin();
    let parts: Vec<&str> = good.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(&json!({"iss": WS_KEY, "id": "someone"})),
        parts[2]
    );
    assert_error(
        &s.call("GET", "/self", Some(&forged), None).await,
        401,
        "bad_request",
        "not_authenticated",
    );
    s.finish().await;
}

/// Membrane's CLI signs `{name, isAdmin: true, iss}` with HS512, its export
/// scripts `{workspaceKey, isAdmin: "true"}`: both are admin tokens. Any other
/// `isAdmin` is refused, and `"false"` is no admin.
#[tokio::test]
async fn admin_tokens_of_membranes_tools_are_accepted() {
    let s = Server::start().await;
    for (claims, alg) in [
        (
            json!({"name": "membrane-cli", "isAdmin": true, "iss": WS_KEY}),
            jsonwebtoken::Algorithm::HS512,
        ),
        (
            json!({"workspaceKey": WS_KEY, "isAdmin": "true"}),
            jsonwebtoken::Algorithm::HS256,
        ),
    ] {
        let t = token(claims.clone(), WS_SECRET, alg);
        let (status, body) = s.get("/settings", &t).await;
        assert_eq!(status, 200, "{claims}: {body}");
    }
    // Not readable, or (`"false"`) no admin and no customer either.
    for is_admin in [
        json!("yes"),
        json!(1),
        json!("TRUE"),
        json!(null),
        json!("false"),
    ] {
        let t = token(
            json!({"workspaceKey": WS_KEY, "isAdmin": is_admin}),
            WS_SECRET,
            jsonwebtoken::Algorithm::HS256,
        );
        assert_error(
            &s.get("/settings", &t).await,
            401,
            "bad_request",
            "not_authenticated",
        );
    }
    s.finish().await;
}

/// HS512 and `workspaceKey`/`tenantKey` claims are accepted. A token in the query
/// string is not, except by the SSE endpoint a browser's `EventSource` opens.
#[tokio::test]
async fn hs512_and_new_style_claims_are_accepted_and_query_tokens_only_on_sse() {
    let s = Server::start().await;
    let t = token(
        json!({"workspaceKey": WS_KEY, "tenantKey": "c-512", "name": "Five Twelve"}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS512,
    );
    let (status, me) = s.get("/self", &t).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["internalId"], "c-512");
    assert_eq!(me["name"], "Five Twelve");
    assert_eq!(me["workspaceKey"], WS_KEY);
    for path in [
        format!("/self?token={t}"),
        format!("/integrations?token={t}"),
        format!("/connections/x/proxy/me?token={t}"),
        format!("/connection-requests/x?token={t}"),
    ] {
        let r = s.call("GET", &path, None, None).await;
        assert_error(&r, 401, "bad_request", "not_authenticated");
        assert!(
            r.1["message"].as_str().unwrap().contains("Authorization"),
            "{}",
            r.1
        );
    }
    let sse = s
        .http
        .get(format!("{}/sse/connection-events/req-1?token={t}", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(sse.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    drop(sse);
    let refused = s
        .http
        .get(format!(
            "{}/sse/connection-events/req-1?token=forged",
            s.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    s.finish().await;
}

#[tokio::test]
async fn customers_are_created_on_first_sight_once_and_follow_their_claims() {
    let s = Server::start().await;
    let t1 = token(
        json!({"iss": WS_KEY, "id": "acme", "name": "Acme", "fields": {"plan": "pro"}}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    // Many first requests at once still make one customer.
    let mut calls = Vec::new();
    for _ in 0..20 {
        calls.push(s.get("/self", &t1));
    }
    let ids: std::collections::BTreeSet<String> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(st, v)| {
            assert_eq!(st, 200, "{v}");
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    let (_, list) = s.get("/customers", &s.admin()).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["internalId"], "acme");
    assert_eq!(items[0]["fields"], json!({"plan": "pro"}));
    // A new name in the token updates the customer.
    let t2 = token(
        json!({"iss": WS_KEY, "id": "acme", "name": "Acme Inc"}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let (_, me) = s.get("/self", &t2).await;
    assert_eq!(me["name"], "Acme Inc");
    s.finish().await;
}

#[tokio::test]
async fn customer_tokens_read_definitions_but_cannot_change_them() {
    let s = Server::start().await;
    let c = s.customer("cust-a");
    let created = s
        .create("integrations", json!({"key": "hub", "name": "Hub"}))
        .await;
    assert_eq!(s.get("/integrations/hub", &c).await.0, 200);
    assert_error(
        &s.post("/integrations", &c, json!({"name": "x"})).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_error(
        &s.patch("/integrations/hub", &c, json!({"name": "y"})).await,
        403,
        "bad_request",
        "access_denied",
    );
    assert_error(
        &s.call("DELETE", "/integrations/hub", Some(&c), None).await,
        403,
        "bad_request",
        "access_denied",
    );
    for plural in [
        "flows",
        "actions",
        "packages",
        "connectors",
        "data-sources",
        "field-mappings",
        "app-event-types",
        "customers",
    ] {
        assert_error(
            &s.post(&format!("/{plural}"), &c, json!({"name": "x"}))
                .await,
            403,
            "bad_request",
            "access_denied",
        );
    }
    // Nothing was written by the refused calls.
    let (_, after) = s.get("/integrations/hub", &s.admin()).await;
    assert_eq!(after["revision"], created["revision"]);
    assert_eq!(after["name"], "Hub");
    s.finish().await;
}

#[tokio::test]
async fn customers_see_only_themselves() {
    let s = Server::start().await;
    let (a, b) = (s.customer("a"), s.customer("b"));
    let (_, me_a) = s.get("/self", &a).await;
    let (_, me_b) = s.get("/self", &b).await;
    let (_, list) = s.get("/customers", &a).await;
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![me_a["id"].as_str().unwrap()]);
    let other = format!("/customers/{}", me_b["id"].as_str().unwrap());
    assert_error(&s.get(&other, &a).await, 404, "bad_request", "not_found");
    assert_eq!(s.get(&other, &s.admin()).await.0, 200);
    // Admins list everyone.
    let (_, all) = s.get("/customers", &s.admin()).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    s.finish().await;
}

#[tokio::test]
async fn self_patch_changes_only_the_customers_own_fields() {
    let s = Server::start().await;
    let c = s.customer("self-patch");
    let (status, me) = s
        .patch(
            "/self",
            &c,
            json!({"credentials": {"apiKey": "k"}, "name": "Me"}),
        )
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["credentials"], json!({"apiKey": "k"}));
    assert_eq!(me["name"], "Me");
    let refused = s
        .patch("/self", &c, json!({"internalId": "someone-else"}))
        .await;
    assert_error(&refused, 400, "bad_request", "invalid_field");
    assert!(
        refused.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("internalId")),
        "the error names the field: {:?}",
        refused.1
    );
    assert_error(
        &s.patch("/self", &c, json!({"fields": "not an object"}))
            .await,
        400,
        "bad_request",
        "invalid_field",
    );
    let (_, after) = s.get("/self", &c).await;
    assert_eq!(after["name"], "Me", "refused patches changed nothing");
    assert_error(
        &s.get("/self", &s.admin()).await,
        403,
        "bad_request",
        "access_denied",
    );
    s.finish().await;
}

#[tokio::test]
async fn an_archived_customer_can_no_longer_call() {
    let s = Server::start().await;
    let c = s.customer("leaver");
    let (_, me) = s.get("/self", &c).await;
    let path = format!("/customers/{}", me["id"].as_str().unwrap());
    assert_eq!(s.call("DELETE", &path, Some(&s.admin()), None).await.0, 200);
    assert_error(
        &s.get("/self", &c).await,
        401,
        "bad_request",
        "not_authenticated",
    );
    s.finish().await;
}

/// A token verified once is remembered, but only until it expires: the same token
/// is refused after its `exp` (plus the 5 s leeway).
#[tokio::test]
async fn a_remembered_token_still_expires() {
    let s = Server::start().await;
    let t = token(
        json!({"iss": WS_KEY, "id": "short-lived", "exp": now() + 1}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let (status, _) = s.get("/self", &t).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
    let r = s.get("/self", &t).await;
    assert_error(&r, 401, "bad_request", "not_authenticated");
    s.finish().await;
}
