//! The embedded pages the SDK opens on its `uiUri` (`/embed/...`,
//! `/isolated-embed/...`): each renders for the customer whose token opened it,
//! refuses a missing, forged or expired token and an admin token, shows another
//! customer's instance as not found, and saves a configuration as the
//! connection-level element, naming the field a bad value is in.

use serde_json::{json, Value};

use crate::common::mock_crm::{crm_fixture, CrmFixture};
use crate::common::{now, token, Server, WS_KEY, WS_SECRET};

/// Alice's instances on the CRM fixture.
struct Setup {
    f: CrmFixture,
    mapping: String,
    flow: String,
    data_source: String,
    action: String,
}

async fn setup(s: &Server) -> Setup {
    let f = crm_fixture(s, 2).await;
    s.create(
        "data-sources",
        json!({"key": "people", "name": "People", "integrationId": f.integration_id, "collectionKey": "contacts"}),
    )
    .await;
    s.create(
        "field-mappings",
        json!({"key": "people-map", "name": "People map", "integrationId": f.integration_id,
               "dataSourceKey": "people",
               "appSchema": {"type": "object", "properties": {
                   "name": {"type": "string", "title": "Full name"}, "mail": {"type": "string"}}},
               "importValue": {"name": {"$var": "$.name"}}}),
    )
    .await;
    let path = format!("/connections/{}/field-mappings/people-map", f.alice_conn);
    let (status, made) = s.call("PUT", &path, Some(&f.alice), Some(json!({}))).await;
    assert_eq!(status, 200, "{made}");
    let (status, mapping) = s.post(&format!("{path}/setup"), &f.alice, json!({})).await;
    assert_eq!(status, 200, "{mapping}");
    s.create(
        "flows",
        json!({"key": "param", "name": "Param flow", "integrationId": f.integration_id,
               "parametersSchema": {"type": "object", "properties": {"limit": {"type": "number"}, "label": {"type": "string"}}},
               "parameters": {"limit": 10},
               "nodes": {
                   "t": {"type": "api-trigger", "name": "Start", "links": [{"key": "out"}]},
                   "out": {"type": "transform-data", "config": {"output": {"limit": {"$var": "$.flowInstance.parameters.limit"}}}}
               }}),
    )
    .await;
    let (status, flow) = s
        .get(
            &format!("/connections/{}/flows/param?autoCreate=true", f.alice_conn),
            &f.alice,
        )
        .await;
    assert_eq!(status, 200, "{flow}");
    s.create(
        "actions",
        json!({"key": "where", "name": "Where", "integrationId": f.integration_id,
               "type": "api-request-to-external-app", "config": {"path": "/echo/x", "method": "GET"}}),
    )
    .await;
    let (status, action) = s
        .call(
            "PUT",
            &format!("/connections/{}/actions/where", f.alice_conn),
            Some(&f.alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{action}");
    let id = |v: &Value, field: &str| v[field].as_str().expect(field).to_owned();
    Setup {
        mapping: id(&mapping, "id"),
        data_source: id(&mapping, "dataSourceInstanceId"),
        flow: id(&flow, "id"),
        action: id(&action, "id"),
        f,
    }
}

/// `GET path` (query included); status, CSP and body.
async fn get(s: &Server, path: &str) -> (u16, String, String) {
    let resp = s
        .http
        .get(format!("{}{path}", s.url))
        .send()
        .await
        .expect("answered");
    let status = resp.status().as_u16();
    let csp = resp
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, csp, resp.text().await.expect("body"))
}

/// Posts the form fields to `path` (no query: the token is in the body).
async fn post(s: &Server, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = s
        .http
        .post(format!("{}{path}", s.url))
        .form(fields)
        .send()
        .await
        .expect("answered");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn every_page_renders_for_its_customer_and_speaks_penpal() {
    let s = Server::start().await;
    let x = setup(&s).await;
    let t = enc(&x.f.alice);
    let pages = [
        "main".to_owned(),
        format!("integrations/{}", x.f.integration_id),
        "integrations/crm/connect".to_owned(),
        format!("connections/{}/refresh", x.f.alice_conn),
        format!("flow-instances/{}/configuration", x.flow),
        format!("flow-instances/{}/configuration?nodeKey=t", x.flow),
        format!("flow-instances/{}/editor", x.flow),
        format!("data-source-instances/{}/configuration", x.data_source),
        format!("field-mapping-instances/{}/configuration", x.mapping),
        format!("action-instances/{}/configuration", x.action),
    ];
    for prefix in ["embed", "isolated-embed"] {
        for page in &pages {
            let sep = if page.contains('?') { '&' } else { '?' };
            let (status, csp, html) = get(&s, &format!("/{prefix}/{page}{sep}token={t}")).await;
            assert_eq!(status, 200, "{prefix}/{page}: {html}");
            assert!(html.contains("/static/penpal.min.js"), "{page}");
            assert!(html.contains("p.handshake()"), "{page}");
            assert!(html.contains("id=\"connect-cancel\""), "{page}");
            assert!(csp.contains("frame-ancestors *"), "{page}: {csp}");
            assert!(csp.contains("script-src 'self' 'sha256-"), "{page}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{page}: {csp}");
        }
    }
    // The token never goes into a URL the page names: only into form bodies.
    let (_, _, html) = get(
        &s,
        &format!(
            "/embed/field-mapping-instances/{}/configuration?token={t}",
            x.mapping
        ),
    )
    .await;
    assert!(!html.contains(&format!("token={t}")), "{html}");
    assert!(
        html.contains(&format!(
            "action=\"/embed/field-mapping-instances/{}/configuration\"",
            x.mapping
        )),
        "{html}"
    );
    assert!(html.contains("name=\"token\""), "{html}");
    // Their fields beside the app's, the app's field titled.
    assert!(html.contains("Full name"), "{html}");
    assert!(html.contains("name=\"importValue.name\""), "{html}");
    assert!(html.contains("name=\"exportValue."), "{html}");
    // The connect page hands over to the connect screen, token in the body.
    let (_, _, html) = get(
        &s,
        &format!(
            "/embed/integrations/crm/connect?token={t}&allowMultipleConnections=1&name=Second"
        ),
    )
    .await;
    assert!(
        html.contains(&format!(
            "action=\"/screens/integrations/{}/connect\"",
            x.f.integration_id
        )),
        "{html}"
    );
    assert!(
        html.contains("name=\"allowMultipleConnections\" value=\"1\""),
        "{html}"
    );
    assert!(html.contains("name=\"name\" value=\"Second\""), "{html}");
    // Reconnect names the same connection.
    let (_, _, html) = get(
        &s,
        &format!("/embed/connections/{}/refresh?token={t}", x.f.alice_conn),
    )
    .await;
    assert!(html.contains("action=\"/screens/connect\""), "{html}");
    assert!(
        html.contains(&format!(
            "name=\"connectionId\" value=\"{}\"",
            x.f.alice_conn
        )),
        "{html}"
    );
    // A flow parameter the instance does not set shows the flow's value, not as its own.
    let (_, _, html) = get(
        &s,
        &format!("/embed/flow-instances/{}/configuration?token={t}", x.flow),
    )
    .await;
    assert!(
        html.contains("name=\"parameters.limit\" type=\"text\" value=\"\""),
        "{html}"
    );
    assert!(html.contains("placeholder=\"10\""), "{html}");
    assert!(html.contains("name=\"nodes.t.userConfig\""), "{html}");
    // Dark theme as on the connect screens.
    let (_, _, html) = get(
        &s,
        &format!(
            "/embed/action-instances/{}/configuration?token={t}&theme=dark",
            x.action
        ),
    )
    .await;
    assert!(html.contains("<body class=\"dark\">"), "{html}");
    s.finish().await;
}

#[tokio::test]
async fn bad_tokens_admin_tokens_and_other_customers_are_refused() {
    let s = Server::start().await;
    let x = setup(&s).await;
    let page = format!("/embed/field-mapping-instances/{}/configuration", x.mapping);
    let expired = token(
        json!({"iss": WS_KEY, "id": "alice", "exp": now() - 60}),
        WS_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let forged = token(
        json!({"iss": WS_KEY, "id": "alice", "exp": now() + 600}),
        "not-the-secret-0123456789",
        jsonwebtoken::Algorithm::HS256,
    );
    for query in [
        String::new(),
        "?token=".to_owned(),
        format!("?token={}", enc(&expired)),
        format!("?token={}", enc(&forged)),
    ] {
        let (status, _, html) = get(&s, &format!("{page}{query}")).await;
        assert_eq!(status, 401, "{query}: {html}");
        assert!(
            html.contains("This link has expired or is not valid"),
            "{html}"
        );
        assert!(html.contains("id=\"connect-cancel\""), "{html}");
        assert!(!html.contains("name=\"importValue"), "{html}");
    }
    // An admin token has no customer to act for (module doc of `embed`).
    let (status, _, html) = get(&s, &format!("{page}?token={}", enc(&s.admin()))).await;
    assert_eq!(status, 403, "{html}");
    // Bob sees Alice's instances as not found, on every page…
    let bob = enc(&x.f.bob);
    for other in [
        page.clone(),
        format!("/embed/flow-instances/{}/configuration", x.flow),
        format!("/embed/flow-instances/{}/editor", x.flow),
        format!(
            "/embed/data-source-instances/{}/configuration",
            x.data_source
        ),
        format!("/embed/action-instances/{}/configuration", x.action),
        format!("/embed/connections/{}/refresh", x.f.alice_conn),
    ] {
        let (status, _, html) = get(&s, &format!("{other}?token={bob}")).await;
        assert_eq!(status, 404, "{other}: {html}");
        assert!(html.contains("could not be found"), "{html}");
    }
    // A run of Alice's flow is hers alone too.
    let (status, run) = s
        .post(
            &format!("/flow-instances/{}/run", x.flow),
            &x.f.alice,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{run}");
    let run_page = format!("/embed/flow-runs/{}/editor", run["id"].as_str().unwrap());
    let (status, _, html) = get(&s, &format!("{run_page}?token={bob}")).await;
    assert_eq!(status, 404, "{html}");
    let (status, _, html) = get(&s, &format!("{run_page}?token={}", enc(&x.f.alice))).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-field=\"state\""), "{html}");
    // …and cannot save on them.
    let (status, html) = post(
        &s,
        &page,
        &[("token", &x.f.bob), ("importValue.name", "\"bob\"")],
    )
    .await;
    assert_eq!(status, 404, "{html}");
    let (_, mapping) = s
        .get(
            &format!("/field-mapping-instances/{}", x.mapping),
            &x.f.alice,
        )
        .await;
    assert_eq!(
        mapping["importValue"]["name"],
        json!({"$var": "$.name"}),
        "{mapping}"
    );
    // An unknown step of the flow is named.
    let (status, _, html) = get(
        &s,
        &format!(
            "/embed/flow-instances/{}/configuration?token={}&nodeKey=nope",
            x.flow,
            enc(&x.f.alice)
        ),
    )
    .await;
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("nodeKey"), "{html}");
    s.finish().await;
}

#[tokio::test]
async fn archived_instances_and_hostile_values_are_handled() {
    let s = Server::start().await;
    let x = setup(&s).await;
    let t = enc(&x.f.alice);
    // Hostile query values come back escaped (or not at all).
    let hostile = enc("\"><script>alert(1)</script>");
    let (status, _, html) = get(
        &s,
        &format!(
            "/embed/integrations/crm/connect?token={t}&name={hostile}&theme={hostile}&connectorParameters={hostile}"
        ),
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    let (status, _, html) = get(
        &s,
        &format!(
            "/embed/flow-instances/{}/configuration?token={t}&nodeKey={hostile}",
            x.flow
        ),
    )
    .await;
    assert_eq!(status, 404);
    assert!(!html.contains("<script>alert(1)"), "{html}");
    // Archived: an error, not a form.
    let (status, _) = s
        .call(
            "DELETE",
            &format!("/action-instances/{}", x.action),
            Some(&x.f.alice),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let page = format!("/embed/action-instances/{}/configuration", x.action);
    let (status, _, html) = get(&s, &format!("{page}?token={t}")).await;
    assert_eq!(status, 410, "{html}");
    assert!(html.contains("was removed"), "{html}");
    let (status, _) = post(&s, &page, &[("token", &x.f.alice), ("config", "{}")]).await;
    assert_eq!(status, 410);
    s.finish().await;
}

#[tokio::test]
async fn saves_are_connection_level_customisations_and_bad_json_changes_nothing() {
    let s = Server::start().await;
    let x = setup(&s).await;
    let alice = x.f.alice.clone();
    let page = format!("/embed/field-mapping-instances/{}/configuration", x.mapping);
    let mapping_of = |id: String| {
        let s = &s;
        let alice = alice.clone();
        async move {
            s.get(&format!("/field-mapping-instances/{id}"), &alice)
                .await
                .1
        }
    };
    let before = mapping_of(x.mapping.clone()).await;
    assert_ne!(before["isCustomized"], true, "{before}");
    // Invalid JSON: the field is named, the typed text kept, nothing stored.
    let (status, html) = post(
        &s,
        &page,
        &[
            ("token", &alice),
            ("importValue.name", "{\"$var\": \"$.name\"}"),
            ("importValue.mail", "{not json"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("importValue.mail: is not valid JSON"),
        "{html}"
    );
    assert!(html.contains("value=\"{not json\""), "{html}");
    let after = mapping_of(x.mapping.clone()).await;
    assert_eq!(after["importValue"], before["importValue"], "{after}");
    assert_eq!(after["revision"], before["revision"], "{after}");
    // Saving unchanged values writes nothing.
    let (status, html) = post(
        &s,
        &page,
        &[
            ("token", &alice),
            ("importValue.name", "{\"$var\": \"$.name\"}"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Nothing changed"), "{html}");
    // A good save: the connection-level instance, customised.
    let (status, html) = post(
        &s,
        &page,
        &[
            ("token", &alice),
            ("importValue.name", "{\"$var\": \"$.name\"}"),
            ("importValue.mail", "{\"$var\": \"$.email\"}"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"embed-saved\""), "{html}");
    let after = mapping_of(x.mapping.clone()).await;
    assert_eq!(
        after["importValue"]["mail"],
        json!({"$var": "$.email"}),
        "{after}"
    );
    assert_eq!(after["isCustomized"], true, "{after}");
    assert_eq!(after["connectionId"], x.f.alice_conn.as_str(), "{after}");
    // The integration-level mapping is untouched.
    let (_, parent) = s
        .get("/integrations/crm/field-mappings/people-map", &s.admin())
        .await;
    assert!(parent["importValue"].get("mail").is_none(), "{parent}");

    // Flow parameters and a step's settings.
    let flow_page = format!("/embed/flow-instances/{}/configuration", x.flow);
    let (status, html) = post(
        &s,
        &flow_page,
        &[
            ("token", &alice),
            ("parameters.limit", "many"),
            ("parameters.label", "x"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(
        html.contains("parameters.limit: is not valid JSON"),
        "{html}"
    );
    let (_, flow) = s.get(&format!("/flow-instances/{}", x.flow), &alice).await;
    assert!(
        flow.get("parameters").is_none() || flow["parameters"] == json!({"limit": 10}),
        "{flow}"
    );
    // The engine's schema check names the field too.
    let (status, html) = post(
        &s,
        &flow_page,
        &[("token", &alice), ("parameters.limit", "\"many\"")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("parameters.limit"), "{html}");
    let (status, html) = post(
        &s,
        &flow_page,
        &[
            ("token", &alice),
            ("parameters.limit", "25"),
            ("parameters.label", "Weekly"),
            ("nodes.t.userConfig", "{\"note\": \"mine\"}"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, flow) = s.get(&format!("/flow-instances/{}", x.flow), &alice).await;
    assert_eq!(
        flow["parameters"],
        json!({"limit": 25, "label": "Weekly"}),
        "{flow}"
    );
    assert_eq!(
        flow["nodes"]["t"]["userConfig"],
        json!({"note": "mine"}),
        "{flow}"
    );
    // Bob cannot save on Alice's flow.
    let (status, _) = post(
        &s,
        &flow_page,
        &[("token", &x.f.bob), ("parameters.limit", "1")],
    )
    .await;
    assert_eq!(status, 404);
    let (_, flow) = s.get(&format!("/flow-instances/{}", x.flow), &alice).await;
    assert_eq!(flow["parameters"]["limit"], 25, "{flow}");

    // The data source's collection: an unknown one is named, a known one saved.
    let ds_page = format!(
        "/embed/data-source-instances/{}/configuration",
        x.data_source
    );
    let (status, html) = post(
        &s,
        &ds_page,
        &[("token", &alice), ("collectionKey", "nope")],
    )
    .await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("collectionKey"), "{html}");
    let (status, html) = post(
        &s,
        &ds_page,
        &[
            ("token", &alice),
            ("collectionKey", "companies"),
            ("collectionParameters", ""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, ds) = s
        .get(&format!("/data-source-instances/{}", x.data_source), &alice)
        .await;
    assert_eq!(ds["collectionKey"], "companies", "{ds}");

    // The action's config.
    let action_page = format!("/embed/action-instances/{}/configuration", x.action);
    let (status, html) = post(&s, &action_page, &[("token", &alice), ("config", "[1]")]).await;
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("config: must be a JSON object"), "{html}");
    let (status, html) = post(
        &s,
        &action_page,
        &[
            ("token", &alice),
            ("config", "{\"path\": \"/echo/mine\", \"method\": \"GET\"}"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    let (_, action) = s
        .get(&format!("/action-instances/{}", x.action), &alice)
        .await;
    assert_eq!(action["config"]["path"], "/echo/mine", "{action}");
    s.finish().await;
}
